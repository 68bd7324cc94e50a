/*
 * cmd_aws_common.c - flags, context, errors and output helpers shared by
 * `cloudrec s3`, `cloudrec sqs` and `cloudrec ec2` (cmd_aws_common.h).
 */
#include "cmd_aws_common.h"
#include "aws/aws_internal.h"
#include "internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int aws_cli_command(const struct cr__program *p, int argc, char **argv, const void *table,
                    size_t stride, size_t n, char *prog, size_t prog_size, int *rc)
{
    *rc = AWS_EXIT_OK;
    if (argc < 2) {
        cr__opts_help(p, stderr);
        *rc = AWS_EXIT_USAGE;
        return -1;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        cr__opts_help(p, stdout);
        return -1;
    }
    if (strcmp(argv[1], "--dump-options") == 0) {
        cr__opts_dump(p, stdout);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = *(const char *const *)((const char *)table + i * stride);
        if (strcmp(argv[1], name) == 0) {
            snprintf(prog, prog_size, "%s %s", p->name, name);
            return (int)i;
        }
    }
    fprintf(stderr, "%s: unknown command '%s'\ntry '%s --help'\n", p->name, argv[1], p->name);
    *rc = AWS_EXIT_USAGE;
    return -1;
}

int aws_cli_split_kv(const struct aws_cli *a, const char *flag, const char *arg, size_t n,
                     size_t max, char **copy, const char **name, const char **value)
{
    const char *eq = strchr(arg, '=');
    if (n >= max || !eq || eq == arg)
        return aws_cli_usage_error(a, "%s takes NAME=VALUE (at most %zu), got '%s'", flag, max,
                                   arg);
    if (!(*copy = strdup(arg)))
        return aws_cli_usage_error(a, "out of memory");
    (*copy)[eq - arg] = '\0';
    *name = *copy;
    *value = *copy + (eq - arg) + 1;
    return 0;
}

int aws_cli_parse(const struct cr__program *p, struct aws_cli *a, void *cmd, int argc,
                  char **argv, const char *prog)
{
    int rc = cr__opts_parse(p, argc, argv, cmd, NULL);
    a->prog = prog;
    a->service = strchr(p->name, ' ') ? strchr(p->name, ' ') + 1 : p->name;
    return rc;
}

int aws_cli_open(const struct aws_cli *a, struct cr_aws **out)
{
    struct cr_aws_options o = {
        .region = a->region, .endpoint_url = a->endpoint_url, .profile = a->profile};
    struct cr_error err = {0};
    *out = NULL;
    cr_status st = cr_aws_open(&o, out, &err);
    if (st != CR_OK) {
        fprintf(stderr, "%s: %s [%s]\n", a->prog, err.message[0] ? err.message : cr_strerror(st),
                cr_status_name(st));
        return st == CR_ERR_INVALID ? AWS_EXIT_USAGE : AWS_EXIT_FAIL;
    }
    if (a->verbose) {
        struct cr_buf ep;
        cr_buf_init(&ep, 0);
        cr__aws_endpoint_url(*out, a->service, &ep, NULL);
        fprintf(stderr, "%s: region=%s endpoint=%s credentials=%s\n", a->prog, cr_aws_region(*out),
                ep.data ? (const char *)ep.data : "?", cr_aws_credentials_source(*out));
        cr_buf_clear(&ep);
    }
    return AWS_EXIT_OK;
}

int aws_cli_fail(const struct aws_cli *a, cr_status st, const struct cr_error *err)
{
    const char *msg = err && err->message[0] ? err->message : cr_strerror(st);
    fprintf(stderr, "%s: %s [%s]\n", a->prog, msg, cr_status_name(st));
    /* An argument refused before anything was sent is a usage error. */
    if (st == CR_ERR_INVALID && (!err || err->http_status == 0))
        return AWS_EXIT_USAGE;
    return AWS_EXIT_FAIL;
}

int aws_cli_usage_error(const struct aws_cli *a, const char *fmt, ...)
{
    fprintf(stderr, "%s: ", a->prog);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return AWS_EXIT_USAGE;
}

int aws_cli_want_args(const struct aws_cli *a, int have, int min, int max)
{
    if (have >= min && (max < 0 || have <= max))
        return 1;
    aws_cli_usage_error(a, "wrong number of arguments (see `cloudrec %s --help`)", a->service);
    return 0;
}

int aws_cli_print_json(struct cr__jw *w)
{
    struct cr_buf buf;
    cr_buf_init(&buf, 0);
    cr_status st = cr__jw_finish(w, &buf);
    int rc = AWS_EXIT_OK;
    if (st != CR_OK) {
        fprintf(stderr, "cloudrec: cannot build the JSON answer: %s\n", cr_strerror(st));
        rc = AWS_EXIT_FAIL;
    } else {
        printf("%s\n", (const char *)buf.data);
    }
    cr_buf_clear(&buf);
    return rc;
}

void aws_cli_json_pairs(struct cr__jw *w, char *const *names, char *const *values, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cr__jw_text(w, names[i], values[i]);
}

int aws_cli_print_page_json(struct cr__jw *w, const char *next_token)
{
    cr__jw_end(w);
    cr__jw_text(w, "next_token", next_token);
    cr__jw_end(w);
    return aws_cli_print_json(w);
}

/* Shows pages until the last one (or only one when one_page); *next gets the
 * token after the last page shown (caller frees). */
static cr_status ls_pages(struct cr_aws *aws, const char *token, int one_page,
                          aws_cli_page_fn page, void *ctx, struct cr__jw *json, char **next,
                          struct cr_error *err)
{
    for (;;) {
        char *after = NULL;
        cr_status st = page(aws, ctx, token, json, &after, err);
        free(*next);
        *next = after;
        if (st != CR_OK || !after || one_page)
            return st;
        token = after;
    }
}

int aws_cli_ls(struct aws_cli *a, const char *key, const char *what, const char *token,
               int one_page, aws_cli_page_fn page, void *ctx)
{
    struct cr_error err = {0};
    struct cr_aws *aws = NULL;
    char *next = NULL;
    int rc = aws_cli_open(a, &aws);
    if (rc)
        return rc;
    struct cr__jw *json = a->json ? cr__jw_new() : NULL;
    cr__jw_object(json, NULL);
    cr__jw_array(json, key);
    cr_status st = ls_pages(aws, token, one_page, page, ctx, json, &next, &err);
    if (st != CR_OK) {
        rc = aws_cli_fail(a, st, &err);
    } else if (a->json) {
        rc = aws_cli_print_page_json(json, next);
        json = NULL; /* printing released it */
    } else if (next) {
        fprintf(stderr, "%s: more %s follow: --token %s\n", a->prog, what, next);
    }
    free(next);
    cr__jw_free(json);
    cr_aws_free(aws);
    return rc;
}

void aws_cli_time(int64_t epoch_s, char out[21])
{
    if (epoch_s > 0)
        cr__time_format_iso8601(epoch_s, out);
    else
        strcpy(out, "-");
}
