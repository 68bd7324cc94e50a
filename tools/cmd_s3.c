/*
 * cmd_s3.c - `cloudrec s3 mb|put|get|head|ls|rm`: S3 buckets and objects
 * through cloudrec/s3.h. Objects are named s3://BUCKET/KEY.
 */
#include "cmd_aws_common.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Flags of the s3 commands (each uses the ones it needs). */
struct s3_args {
    const char *content_type;
    const char *bucket_region;
    const char *token;
    long long max_keys;
    int one_page;
};

/* What an s3 command line holds. */
struct s3_cmd {
    struct aws_cli a;
    struct s3_args s;
};

#define S3(f) offsetof(struct s3_cmd, s.f)

static const struct cr__opt s3_opts[] = {
    AWS_CLI_OPTS(struct s3_cmd),
    {.name = "content-type", .type = CR__OPT_STR, .offset = S3(content_type), .metavar = "TYPE",
     .help = "put: the object's type (default: from the extension: .jpg, .png, ...)"},
    {.name = "bucket-region", .type = CR__OPT_STR, .offset = S3(bucket_region), .metavar = "R",
     .help = "mb: where the bucket is made (default: the region)"},
    {.name = "max-keys", .type = CR__OPT_I64, .offset = S3(max_keys), .metavar = "N",
     .help = "ls: keys per page", .lo = 1, .hi = CR_S3_MAX_LIST_KEYS},
    {.name = "token", .type = CR__OPT_STR, .offset = S3(token), .metavar = "T",
     .help = "ls: start at the page this token names (printed by --one-page)"},
    {.name = "one-page", .type = CR__OPT_BOOL, .offset = S3(one_page),
     .help = "ls: only the first page (or --token's) and the next token"},
};

static const struct cr__program s3_program = {
    .name = "cloudrec s3",
    .synopsis = "COMMAND ARGS [options]",
    .about = "Commands:\n"
             "  cloudrec s3 mb s3://BUCKET [--bucket-region R]\n"
             "  cloudrec s3 put FILE|- s3://BUCKET[/KEY] [--content-type TYPE]\n"
             "  cloudrec s3 get s3://BUCKET/KEY [FILE|-]\n"
             "  cloudrec s3 head s3://BUCKET/KEY\n"
             "  cloudrec s3 ls s3://BUCKET[/PREFIX] [--max-keys N] [--token T] [--one-page]\n"
             "  cloudrec s3 rm s3://BUCKET/KEY\n"
             "\n"
             "mb    creates the bucket in --bucket-region (default: the region); a bucket you\n"
             "      already own is success.\n"
             "put   uploads FILE (- = stdin); a KEY that is missing or ends in '/' gets the\n"
             "      file's name appended. TYPE defaults from the extension (.jpg, .png, ...).\n"
             "get   downloads to FILE (written atomically) or stdout (- or no FILE).\n"
             "head  prints the object's size, ETag, content type and time.\n"
             "ls    lists keys under PREFIX, all pages of --max-keys each; with\n"
             "      --one-page only the first (or the one --token names) and its next token.\n"
             "rm    deletes the object (a missing key is success, a missing bucket is not).\n\n",
    .epilog = AWS_CLI_EPILOG,
    .opts = s3_opts,
    .n_opts = sizeof(s3_opts) / sizeof(s3_opts[0]),
    .size = sizeof(struct s3_cmd),
    .operands = CR__OPERANDS_ANY,
};


/* An s3://BUCKET/KEY argument, split. */
struct s3_url {
    char bucket[256];
    const char *key; /* points into the argument; "" when absent */
};

/* Splits "s3://BUCKET[/KEY]"; 0 (with a message) when it is not one. */
static int parse_url(const struct aws_cli *a, const char *arg, struct s3_url *u)
{
    if (strncmp(arg, "s3://", 5) != 0) {
        aws_cli_usage_error(a, "expected s3://BUCKET[/KEY], got '%s'", arg);
        return 0;
    }
    const char *b = arg + 5, *slash = strchr(b, '/');
    size_t n = slash ? (size_t)(slash - b) : strlen(b);
    if (n == 0 || n >= sizeof(u->bucket)) {
        aws_cli_usage_error(a, "no bucket name in '%s'", arg);
        return 0;
    }
    memcpy(u->bucket, b, n);
    u->bucket[n] = '\0';
    u->key = slash ? slash + 1 : "";
    return 1;
}

/* Writes an object as a JSON object. */
static void json_object(struct cr__jw *w, const char *bucket, const struct cr_s3_object *o)
{
    char t[21];
    aws_cli_time(o->last_modified_s, t);
    cr__jw_object(w, NULL);
    cr__jw_text(w, "bucket", bucket);
    cr__jw_text(w, "key", o->key);
    cr__jw_int(w, "size", o->size_bytes);
    cr__jw_text(w, "etag", o->etag);
    cr__jw_text(w, "content_type", o->content_type);
    cr__jw_text(w, "storage_class", o->storage_class);
    cr__jw_text(w, "last_modified", o->last_modified_s ? t : NULL);
    cr__jw_end(w);
}

/* Prints one object as JSON. */
static int print_object_json(const char *bucket, const struct cr_s3_object *o)
{
    struct cr__jw *w = cr__jw_new();
    json_object(w, bucket, o);
    return aws_cli_print_json(w);
}

/* Prints {"bucket":bucket,"name":value} (and "deleted":true when deleted)
 * as one JSON document. */
static int print_bucket_json(const char *bucket, const char *name, const char *value,
                             int deleted)
{
    struct cr__jw *w = cr__jw_new();
    cr__jw_object(w, NULL);
    cr__jw_text(w, "bucket", bucket);
    cr__jw_text(w, name, value);
    if (deleted)
        cr__jw_bool(w, "deleted", 1);
    cr__jw_end(w);
    return aws_cli_print_json(w);
}

/* ---- mb ------------------------------------------------------------------------- */

/* cloudrec s3 mb s3://BUCKET */
static int s3_mb(struct aws_cli *a, struct s3_args *s, int argc, char **argv)
{
    struct s3_url u;
    if (!aws_cli_want_args(a, argc - optind, 1, 1) || !parse_url(a, argv[optind], &u))
        return AWS_EXIT_USAGE;
    if (u.key[0])
        return aws_cli_usage_error(a, "mb takes s3://BUCKET without a key");
    struct cr_aws *aws = NULL;
    int rc = aws_cli_open(a, &aws);
    if (rc)
        return rc;
    struct cr_error err = {0};
    struct cr_s3_create_bucket_options o = {.region = s->bucket_region};
    cr_status st = cr_s3_create_bucket(aws, u.bucket, &o, &err);
    const char *region = s->bucket_region ? s->bucket_region : cr_aws_region(aws);
    if (st != CR_OK) {
        rc = aws_cli_fail(a, st, &err);
    } else if (a->json) {
        rc = print_bucket_json(u.bucket, "region", region, 0);
    } else {
        printf("make_bucket: s3://%s (%s)\n", u.bucket, region);
    }
    cr_aws_free(aws);
    return rc;
}

/* ---- put ------------------------------------------------------------------------- */

/* Reads all of stdin into buf. */
static cr_status read_stdin(struct cr_buf *buf)
{
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
        cr_status st = cr__buf_append(buf, chunk, n);
        if (st != CR_OK)
            return st;
    }
    return ferror(stdin) ? CR_ERR_IO : CR_OK;
}

/* A Content-Type from a file name's extension. */
static const char *guess_type(const char *name)
{
    static const char *const map[][2] = {{".jpg", "image/jpeg"},        {".jpeg", "image/jpeg"},
                                         {".png", "image/png"},         {".txt", "text/plain"},
                                         {".json", "application/json"}, {".html", "text/html"}};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcasecmp(dot, map[i][0]) == 0)
            return map[i][1];
    return "application/octet-stream";
}

/* The key to upload FILE to: the URL's, with the file's base name added
 * when the URL ends in '/' or has no key. Returns NULL (and prints why)
 * when there is none. Caller frees. */
static char *put_key(const struct aws_cli *a, const char *file, const struct s3_url *u)
{
    size_t klen = strlen(u->key);
    if (klen && u->key[klen - 1] != '/')
        return strdup(u->key);
    if (strcmp(file, "-") == 0) {
        aws_cli_usage_error(a, "uploading stdin needs a key: s3://%s/KEY", u->bucket);
        return NULL;
    }
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    char *key = malloc(klen + strlen(base) + 1);
    if (key)
        sprintf(key, "%s%s", u->key, base);
    return key;
}

/* Prints what put did. */
static int put_report(const struct aws_cli *a, const char *file, const char *bucket,
                      const struct cr_s3_object *info)
{
    if (a->json)
        return print_object_json(bucket, info);
    printf("upload: %s to s3://%s/%s (%lld bytes, etag %s)\n", file, bucket, info->key,
           (long long)info->size_bytes, info->etag ? info->etag : "-");
    return AWS_EXIT_OK;
}

/* cloudrec s3 put FILE|- s3://BUCKET[/KEY] */
static int s3_put(struct aws_cli *a, struct s3_args *s, int argc, char **argv)
{
    struct s3_url u;
    if (!aws_cli_want_args(a, argc - optind, 2, 2) || !parse_url(a, argv[optind + 1], &u))
        return AWS_EXIT_USAGE;
    const char *file = argv[optind];
    char *key = put_key(a, file, &u);
    if (!key)
        return AWS_EXIT_USAGE;
    struct cr_buf data;
    cr_buf_init(&data, 0);
    struct cr_error err = {0};
    struct cr_aws *aws = NULL;
    struct cr_s3_object *info = NULL;
    cr_status st = strcmp(file, "-") == 0 ? read_stdin(&data) : cr__file_read(file, 0, &data, &err);
    int rc = st == CR_OK ? AWS_EXIT_OK : aws_cli_fail(a, st, &err);
    if (rc == AWS_EXIT_OK)
        rc = aws_cli_open(a, &aws);
    if (rc == AWS_EXIT_OK) {
        struct cr_s3_put_options o = {.content_type =
                                          s->content_type ? s->content_type : guess_type(key)};
        st = cr_s3_put_object(aws, u.bucket, key, data.data, data.len, &o, &info, &err);
        rc = st == CR_OK ? put_report(a, file, u.bucket, info) : aws_cli_fail(a, st, &err);
    }
    cr_s3_object_free(info);
    cr_aws_free(aws);
    cr_buf_clear(&data);
    free(key);
    return rc;
}

/* ---- get / head -------------------------------------------------------------------- */

/* Writes what get fetched to dest (NULL or "-" = stdout) and reports. */
static int get_output(const struct aws_cli *a, const char *dest, const struct s3_url *u,
                      const struct cr_buf *data, const struct cr_s3_object *info)
{
    struct cr_error err = {0};
    if (!dest || strcmp(dest, "-") == 0) {
        if (data->len && fwrite(data->data, 1, data->len, stdout) != data->len) {
            fprintf(stderr, "%s: cannot write to stdout\n", a->prog);
            return AWS_EXIT_FAIL;
        }
        return AWS_EXIT_OK;
    }
    cr_status st =
        cr__file_write_atomic(dest, data->data ? (const void *)data->data : "", data->len, &err);
    if (st != CR_OK)
        return aws_cli_fail(a, st, &err);
    if (a->json)
        return print_object_json(u->bucket, info);
    printf("download: s3://%s/%s to %s (%zu bytes)\n", u->bucket, u->key, dest, data->len);
    return AWS_EXIT_OK;
}

/* cloudrec s3 get s3://BUCKET/KEY [FILE|-] */
static int s3_get(struct aws_cli *a, struct s3_args *s, int argc, char **argv)
{
    (void)s;
    struct s3_url u;
    if (!aws_cli_want_args(a, argc - optind, 1, 2) || !parse_url(a, argv[optind], &u))
        return AWS_EXIT_USAGE;
    const char *dest = argc - optind == 2 ? argv[optind + 1] : NULL;
    if (a->json && (!dest || strcmp(dest, "-") == 0))
        return aws_cli_usage_error(a, "--json needs a FILE to write the object to");
    if (!u.key[0])
        return aws_cli_usage_error(a, "get needs s3://BUCKET/KEY");
    struct cr_aws *aws = NULL;
    int rc = aws_cli_open(a, &aws);
    if (rc)
        return rc;
    struct cr_buf data;
    cr_buf_init(&data, 0);
    struct cr_error err = {0};
    struct cr_s3_object *info = NULL;
    cr_status st = cr_s3_get_object(aws, u.bucket, u.key, NULL, &data, &info, &err);
    rc = st == CR_OK ? get_output(a, dest, &u, &data, info) : aws_cli_fail(a, st, &err);
    cr_s3_object_free(info);
    cr_buf_clear(&data);
    cr_aws_free(aws);
    return rc;
}

/* cloudrec s3 head s3://BUCKET/KEY */
static int s3_head(struct aws_cli *a, struct s3_args *s, int argc, char **argv)
{
    (void)s;
    struct s3_url u;
    if (!aws_cli_want_args(a, argc - optind, 1, 1) || !parse_url(a, argv[optind], &u))
        return AWS_EXIT_USAGE;
    if (!u.key[0])
        return aws_cli_usage_error(a, "head needs s3://BUCKET/KEY");
    struct cr_aws *aws = NULL;
    int rc = aws_cli_open(a, &aws);
    if (rc)
        return rc;
    struct cr_error err = {0};
    struct cr_s3_object *o = NULL;
    cr_status st = cr_s3_head_object(aws, u.bucket, u.key, &o, &err);
    if (st != CR_OK) {
        rc = aws_cli_fail(a, st, &err);
    } else if (a->json) {
        rc = print_object_json(u.bucket, o);
    } else {
        char t[21];
        aws_cli_time(o->last_modified_s, t);
        printf("key            %s\nsize           %lld\netag           %s\n"
               "content-type   %s\nlast-modified  %s\n",
               o->key, (long long)o->size_bytes, o->etag ? o->etag : "-",
               o->content_type ? o->content_type : "-", t);
    }
    cr_s3_object_free(o);
    cr_aws_free(aws);
    return rc;
}

/* ---- ls ------------------------------------------------------------------------------ */

/* Prints or writes (--json) one page. */
static void ls_page(const struct aws_cli *a, const char *bucket, const struct cr_s3_list *l,
                    struct cr__jw *json)
{
    for (size_t i = 0; i < l->num_objects; i++) {
        const struct cr_s3_object *o = &l->objects[i];
        if (a->json) {
            json_object(json, bucket, o);
        } else {
            char t[21];
            aws_cli_time(o->last_modified_s, t);
            printf("%-20s %12lld  %s\n", t, (long long)o->size_bytes, o->key);
        }
    }
}

/* What s3 ls lists. */
struct s3_ls {
    const struct aws_cli *a;
    const struct s3_args *s;
    const struct s3_url *u;
};

/* One page of s3 ls (an aws_cli_page_fn; ctx is a struct s3_ls). */
static cr_status ls_one_page(struct cr_aws *aws, void *ctx, const char *token, struct cr__jw *json,
                             char **next, struct cr_error *err)
{
    const struct s3_ls *ls = ctx;
    struct cr_s3_list_options o = {.prefix = ls->u->key[0] ? ls->u->key : NULL,
                                   .continuation_token = token,
                                   .max_keys = (int)ls->s->max_keys};
    struct cr_s3_list *l = NULL;
    cr_status st = cr_s3_list_objects(aws, ls->u->bucket, &o, &l, err);
    if (st == CR_OK)
        ls_page(ls->a, ls->u->bucket, l, json);
    *next = l && l->next_continuation_token ? strdup(l->next_continuation_token) : NULL;
    cr_s3_list_free(l);
    return st;
}

/* cloudrec s3 ls s3://BUCKET[/PREFIX] */
static int s3_ls(struct aws_cli *a, struct s3_args *s, int argc, char **argv)
{
    struct s3_url u;
    if (!aws_cli_want_args(a, argc - optind, 1, 1) || !parse_url(a, argv[optind], &u))
        return AWS_EXIT_USAGE;
    struct s3_ls ls = {a, s, &u};
    return aws_cli_ls(a, "objects", "keys", s->token, s->one_page, ls_one_page, &ls);
}

/* ---- rm ------------------------------------------------------------------------------ */

/* cloudrec s3 rm s3://BUCKET/KEY */
static int s3_rm(struct aws_cli *a, struct s3_args *s, int argc, char **argv)
{
    (void)s;
    struct s3_url u;
    if (!aws_cli_want_args(a, argc - optind, 1, 1) || !parse_url(a, argv[optind], &u))
        return AWS_EXIT_USAGE;
    if (!u.key[0])
        return aws_cli_usage_error(a, "rm needs s3://BUCKET/KEY");
    struct cr_aws *aws = NULL;
    int rc = aws_cli_open(a, &aws);
    if (rc)
        return rc;
    struct cr_error err = {0};
    cr_status st = cr_s3_delete_object(aws, u.bucket, u.key, &err);
    if (st != CR_OK)
        rc = aws_cli_fail(a, st, &err);
    else if (a->json)
        rc = print_bucket_json(u.bucket, "key", u.key, 1);
    else
        printf("delete: s3://%s/%s\n", u.bucket, u.key);
    cr_aws_free(aws);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------------------ */

typedef int (*s3_cmd_fn)(struct aws_cli *, struct s3_args *, int, char **);

int cloudrec_cmd_s3(int argc, char **argv)
{
    static const struct {
        const char *name;
        s3_cmd_fn fn;
    } cmds[] = {{"mb", s3_mb},     {"put", s3_put}, {"get", s3_get},
                {"head", s3_head}, {"ls", s3_ls},   {"rm", s3_rm}};
    char prog[64];
    int rc, i = aws_cli_command(&s3_program, argc, argv, cmds, sizeof(cmds[0]),
                                sizeof(cmds) / sizeof(cmds[0]), prog, sizeof(prog), &rc);
    if (i < 0)
        return rc;
    struct s3_cmd c;
    rc = aws_cli_parse(&s3_program, &c.a, &c, argc - 1, argv + 1, prog);
    return rc >= 0 ? rc : cmds[i].fn(&c.a, &c.s, argc - 1, argv + 1);
}
