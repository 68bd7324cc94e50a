/*
 * aws_probe - drives the AWS transport (cr__aws_send) and the credentials
 * chain for the pytest integration tests, printing one JSON object per line.
 * Configuration comes from the usual AWS environment variables plus flags;
 * secrets are never printed (only a SHA-256 of the secret key, so a test
 * can tell which one was used).
 *
 *   aws_probe [flags] whoami
 *   aws_probe [flags] send SERVICE METHOD PATH
 *
 * flags: -v (debug log on stderr), --attempts N, --base-ms N, --max-ms N,
 * --random max|zero|seed:N, --margin S, --imds-ttl S, --timeout-ms N,
 * --max-response N, --bucket B, --query Q, --body TEXT, --repeat N,
 * --pause-ms N, --path-style
 */
#include "aws/aws_impl.h"
#include "cloudrec.h"
#include "core/json.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_DELAYS 64

struct probe {
    struct cr_aws_options o;
    const char *bucket, *query, *body;
    int repeat, pause_ms;
    uint64_t seed;
    int64_t delays[MAX_DELAYS];
    int num_delays;
};

/* The sleep hook: records each backoff delay, then really sleeps so the
 * server sees the spacing. */
static void record_sleep(void *userdata, int64_t ms)
{
    struct probe *p = userdata;
    if (p->num_delays < MAX_DELAYS)
        p->delays[p->num_delays++] = ms;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Jitter at the top of the range: delays equal the ceilings. */
static uint64_t random_max(void *userdata)
{
    (void)userdata;
    return UINT64_MAX;
}

/* Jitter at the bottom of the range: every delay is 0. */
static uint64_t random_zero(void *userdata)
{
    (void)userdata;
    return 0;
}

/* A seeded LCG: the same seed gives the same jitter in every run. */
static uint64_t random_seeded(void *userdata)
{
    struct probe *p = userdata;
    p->seed = p->seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return p->seed;
}

/* Pause between repeated sends (not a backoff, so not recorded). */
static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A new JSON object for one event line. */
static struct cr__jw *event(const char *name)
{
    struct cr__jw *w = cr__jw_new();
    cr__jw_object(w, NULL);
    cr__jw_string(w, "event", name);
    return w;
}

/* Writes "key":"value" ("" for NULL). */
static void json_str(struct cr__jw *w, const char *key, const char *value)
{
    cr__jw_text(w, key, value ? value : "");
}

/* Closes the event object, prints it on one line and releases w. */
static void emit(struct cr__jw *w)
{
    struct cr_buf b;
    cr_buf_init(&b, 0);
    cr__jw_end(w);
    if (cr__jw_finish(w, &b) == CR_OK)
        printf("%s\n", (const char *)b.data);
    else
        fprintf(stderr, "aws_probe: cannot write the event as JSON\n");
    fflush(stdout);
    cr_buf_free(&b);
}

/* Prints a failure of open or whoami. */
static void emit_error(const char *what, cr_status st, const struct cr_error *err)
{
    struct cr__jw *w = event(what);
    json_str(w, "status", cr_status_name(st));
    cr__jw_int(w, "http_status", err->http_status);
    json_str(w, "aws_code", err->aws_code);
    json_str(w, "message", err->message);
    emit(w);
}

/* Sends one request and prints what happened. */
static void send_one(struct cr_aws *aws, struct probe *p, const char *service, const char *method,
                     const char *path)
{
    struct cr__aws_request req = {.service = service, .method = method, .bucket = p->bucket,
                                  .path = path, .query = p->query, .body = p->body,
                                  .body_len = p->body ? strlen(p->body) : 0};
    struct cr__aws_response resp = {0};
    struct cr_error err = {0};
    p->num_delays = 0;
    cr_status st = cr__aws_send(aws, &req, &resp, &err);
    struct cr__jw *w = event("send");
    json_str(w, "status", cr_status_name(st));
    cr__jw_int(w, "http_status", resp.http.status);
    cr__jw_int(w, "attempts", resp.attempts);
    json_str(w, "aws_code", st == CR_OK ? "" : err.aws_code);
    json_str(w, "error_request_id", st == CR_OK ? "" : err.request_id);
    json_str(w, "request_id", resp.request_id);
    json_str(w, "message", st == CR_OK ? "" : err.message);
    json_str(w, "source", cr_aws_credentials_source(aws));
    json_str(w, "etag", cr__aws_response_header(&resp, "ETag"));
    cr__jw_int(w, "body_len", (int64_t)resp.http.body.len);
    cr__jw_array(w, "delays_ms");
    for (int i = 0; i < p->num_delays; i++)
        cr__jw_int(w, NULL, p->delays[i]);
    cr__jw_end(w);
    emit(w);
    cr__aws_response_free(&resp);
}

/* Resolves credentials and prints where they came from. */
static int whoami(struct cr_aws *aws)
{
    struct cr_error err = {0};
    cr_status st = cr_aws_resolve_credentials(aws, &err);
    if (st != CR_OK) {
        emit_error("whoami", st, &err);
        return 1;
    }
    unsigned char md[CR_SHA256_LEN];
    char hex[2 * CR_SHA256_LEN + 1];
    cr_sha256(aws->creds.secret_access_key, strlen(aws->creds.secret_access_key), md);
    cr_hex_encode(md, sizeof(md), hex);
    struct cr__jw *w = event("whoami");
    json_str(w, "status", "OK");
    json_str(w, "source", cr_aws_credentials_source(aws));
    json_str(w, "access_key_id", aws->creds.access_key_id);
    json_str(w, "secret_sha256", hex);
    json_str(w, "region", cr_aws_region(aws));
    cr__jw_int(w, "expiration_s", aws->creds.expiration_s);
    emit(w);
    return 0;
}

/* Parses one flag and its value; returns how many arguments it used. */
static int parse_flag(struct probe *p, int argc, char **argv, int i)
{
    const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(f, "-v") == 0) {
        cr_log_set_handler(cr_log_stderr, NULL, CR_LOG_DEBUG);
        return 1;
    }
    if (strcmp(f, "--path-style") == 0) {
        p->o.s3_path_style = 1;
        return 1;
    }
    if (!v)
        return 0;
    if (strcmp(f, "--attempts") == 0)
        p->o.max_attempts = atoi(v);
    else if (strcmp(f, "--base-ms") == 0)
        p->o.base_backoff_ms = atol(v);
    else if (strcmp(f, "--max-ms") == 0)
        p->o.max_backoff_ms = atol(v);
    else if (strcmp(f, "--margin") == 0)
        p->o.credentials_refresh_margin_s = atoi(v);
    else if (strcmp(f, "--imds-ttl") == 0)
        p->o.imds_token_ttl_s = atoi(v);
    else if (strcmp(f, "--timeout-ms") == 0)
        p->o.timeout_ms = atol(v);
    else if (strcmp(f, "--max-response") == 0)
        p->o.max_response_bytes = (size_t)atol(v);
    else if (strcmp(f, "--bucket") == 0)
        p->bucket = v;
    else if (strcmp(f, "--query") == 0)
        p->query = v;
    else if (strcmp(f, "--body") == 0)
        p->body = v;
    else if (strcmp(f, "--repeat") == 0)
        p->repeat = atoi(v);
    else if (strcmp(f, "--pause-ms") == 0)
        p->pause_ms = atoi(v);
    else if (strcmp(f, "--random") == 0 && strcmp(v, "max") == 0)
        p->o.random_fn = random_max;
    else if (strcmp(f, "--random") == 0 && strcmp(v, "zero") == 0)
        p->o.random_fn = random_zero;
    else if (strcmp(f, "--random") == 0 && strncmp(v, "seed:", 5) == 0)
        p->o.random_fn = random_seeded, p->seed = strtoull(v + 5, NULL, 10);
    else
        return 0;
    return 2;
}

int main(int argc, char **argv)
{
    static struct probe p = {.repeat = 1};
    p.o.sleep_fn = record_sleep;
    p.o.sleep_userdata = &p;
    p.o.random_userdata = &p;
    /* Flags may come before or after the command's words. */
    char *words[8];
    int nw = 0;
    for (int i = 1; i < argc;) {
        if (argv[i][0] != '-') {
            if (nw < 8)
                words[nw++] = argv[i];
            i++;
            continue;
        }
        int used = parse_flag(&p, argc, argv, i);
        if (!used) {
            fprintf(stderr, "aws_probe: bad flag %s\n", argv[i]);
            return 2;
        }
        i += used;
    }
    if (nw == 0)
        return 2;
    struct cr_aws *aws = NULL;
    struct cr_error err = {0};
    cr_status st = cr_aws_open(&p.o, &aws, &err);
    if (st != CR_OK) {
        emit_error("open", st, &err);
        return 1;
    }
    int rc = 0;
    if (strcmp(words[0], "whoami") == 0) {
        rc = whoami(aws);
    } else if (strcmp(words[0], "send") == 0 && nw == 4) {
        for (int n = 0; n < p.repeat; n++) {
            if (n > 0 && p.pause_ms > 0)
                sleep_ms(p.pause_ms);
            send_one(aws, &p, words[1], words[2], words[3]);
        }
    } else {
        fprintf(stderr, "aws_probe: unknown command\n");
        rc = 2;
    }
    cr_aws_free(aws);
    return rc;
}
