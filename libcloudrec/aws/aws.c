/*
 * aws.c - the AWS context (cr_aws_open/free) and the one call every service
 * request goes through, cr__aws_send: endpoint, credentials, signature,
 * transport, retries with capped exponential backoff and full jitter, and
 * error answers turned into statuses.
 */
#include "aws/aws_impl.h"
#include "cloudrec/sigv4.h"
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define DEFAULT_MAX_ATTEMPTS 3
#define MAX_MAX_ATTEMPTS 50
#define DEFAULT_BASE_BACKOFF_MS 100L
#define DEFAULT_MAX_BACKOFF_MS 20000L
#define DEFAULT_REFRESH_MARGIN_S 300
#define FORM_CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"

/* ---- injectable time and randomness ----------------------------------------- */

/* The default sleep: nanosleep, resumed after signals. */
static void default_sleep(void *userdata, int64_t ms)
{
    (void)userdata;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* The default generator: xorshift64* over state seeded from the OS. Jitter
 * needs spread, not secrecy. */
static uint64_t default_random(void *userdata)
{
    uint64_t *s = userdata;
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(2685821657736338717);
}

/* A non-zero seed from getrandom, falling back on the clocks. */
static uint64_t seed(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
        v = (uint64_t)cr__time_mono_us() ^ ((uint64_t)cr__time_wall_ms() << 20);
    return v ? v : UINT64_C(0x9E3779B97F4A7C15);
}

/* ---- opening and closing ---------------------------------------------------- */

/* Rejects option values that are out of range rather than guessing. */
static cr_status check_options(const struct cr_aws_options *o, struct cr_error *err)
{
    if (o->max_attempts < 0 || o->max_attempts > MAX_MAX_ATTEMPTS)
        return cr__fail(err, CR_ERR_INVALID, "max_attempts must be 0..%d", MAX_MAX_ATTEMPTS);
    if (o->connect_timeout_ms < 0 || o->timeout_ms < 0 || o->base_backoff_ms < 0 ||
        o->max_backoff_ms < 0 || o->imds_token_ttl_s < 0 || o->credentials_refresh_margin_s < 0)
        return cr__fail(err, CR_ERR_INVALID, "AWS timeouts and delays cannot be negative");
    if (o->imds_token_ttl_s > CR__IMDS_DEFAULT_TOKEN_TTL_S)
        return cr__fail(err, CR_ERR_INVALID, "imds_token_ttl_s must be at most %d",
                        CR__IMDS_DEFAULT_TOKEN_TTL_S);
    if (o->endpoint_url && o->endpoint_url[0]) {
        struct cr__aws_endpoint ep;
        return cr__aws_endpoint_resolve("s3", "us-east-1", o->endpoint_url, &ep, err);
    }
    return CR_OK;
}

/* Copies the plain settings, applying defaults. */
static cr_status copy_settings(struct cr_aws *aws, const struct cr_aws_options *o)
{
    if (o->endpoint_url && o->endpoint_url[0] && !(aws->endpoint_url = strdup(o->endpoint_url)))
        return CR_ERR_NOMEM;
    aws->s3_path_style = o->s3_path_style != 0;
    aws->max_attempts = o->max_attempts ? o->max_attempts : DEFAULT_MAX_ATTEMPTS;
    aws->base_backoff_ms = o->base_backoff_ms ? o->base_backoff_ms : DEFAULT_BASE_BACKOFF_MS;
    aws->max_backoff_ms = o->max_backoff_ms ? o->max_backoff_ms : DEFAULT_MAX_BACKOFF_MS;
    aws->max_response_bytes =
        o->max_response_bytes ? o->max_response_bytes : CR__HTTP_DEFAULT_MAX_RESPONSE_BYTES;
    aws->refresh_margin_s = o->credentials_refresh_margin_s ? o->credentials_refresh_margin_s
                                                            : DEFAULT_REFRESH_MARGIN_S;
    aws->sleep_fn = o->sleep_fn ? o->sleep_fn : default_sleep;
    aws->sleep_userdata = o->sleep_fn ? o->sleep_userdata : NULL;
    aws->rng_state = seed();
    aws->random_fn = o->random_fn ? o->random_fn : default_random;
    aws->random_userdata = o->random_fn ? o->random_userdata : &aws->rng_state;
    return CR_OK;
}

/* Takes the credentials the static chain found, or sets up instance
 * metadata, or fails: a context without any credential source is useless. */
static cr_status setup_credentials(struct cr_aws *aws, const struct cr_aws_options *o,
                                   struct cr__aws_resolved *r, struct cr_error *err)
{
    if (r->creds.access_key_id) {
        aws->kind = CR__CREDS_STATIC;
        aws->creds = r->creds;
        memset(&r->creds, 0, sizeof(r->creds)); /* moved, not copied */
        return CR_OK;
    }
    if (!r->imds_enabled)
        return cr__fail(err, CR_ERR_AUTH,
                        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                        "or a profile in the shared credentials file (instance metadata is "
                        "disabled)");
    aws->kind = CR__CREDS_IMDS;
    return cr__imds_new(r->imds_endpoint, o->imds_token_ttl_s, &aws->imds, err);
}

cr_status cr_aws_open(const struct cr_aws_options *opts, struct cr_aws **out, struct cr_error *err)
{
    static const struct cr_aws_options defaults;
    const struct cr_aws_options *o = opts ? opts : &defaults;
    if (!out)
        return cr__fail(err, CR_ERR_INVALID, "cr_aws_open needs somewhere to put the context");
    *out = NULL;
    struct cr__aws_resolved r;
    struct cr_aws *aws = NULL;
    cr_status st = check_options(o, err);
    if (st == CR_OK)
        st = cr__aws_resolve(o, &r, err);
    else
        memset(&r, 0, sizeof(r));
    if (st == CR_OK && !(aws = calloc(1, sizeof(*aws))))
        st = cr__fail(err, CR_ERR_NOMEM, "out of memory for an AWS context");
    if (st == CR_OK && copy_settings(aws, o) != CR_OK)
        st = cr__fail(err, CR_ERR_NOMEM, "out of memory for an AWS context");
    if (st == CR_OK) {
        cr__strlcpy(aws->region, r.region, sizeof(aws->region));
        struct cr__http_client_options ho = {.connect_timeout_ms = o->connect_timeout_ms,
                                             .timeout_ms = o->timeout_ms,
                                             .max_response_bytes = aws->max_response_bytes};
        st = cr__http_client_new(&ho, &aws->http, err);
    }
    if (st == CR_OK)
        st = setup_credentials(aws, o, &r, err);
    cr__aws_resolved_wipe(&r);
    if (st != CR_OK) {
        cr_aws_free(aws);
        return st;
    }
    cr__log(CR_LOG_DEBUG, "component=aws msg=\"context opened\" region=%s credentials=%s",
           aws->region, cr_aws_credentials_source(aws));
    *out = aws;
    return CR_OK;
}

void cr_aws_free(struct cr_aws *aws)
{
    if (!aws)
        return;
    cr__aws_creds_wipe(&aws->creds);
    cr__imds_free(aws->imds);
    cr__http_client_free(aws->http);
    free(aws->endpoint_url);
    free(aws);
}

const char *cr_aws_region(const struct cr_aws *aws)
{
    return aws ? aws->region : "";
}

const char *cr__aws_region(const struct cr_aws *aws)
{
    return cr_aws_region(aws);
}

const char *cr_aws_credentials_source(const struct cr_aws *aws)
{
    if (!aws)
        return "none";
    if (aws->creds.access_key_id)
        return aws->creds.source;
    return aws->kind == CR__CREDS_IMDS ? "imds" : "none";
}

cr_status cr__aws_endpoint_url(const struct cr_aws *aws, const char *service, struct cr_buf *out,
                          struct cr_error *err)
{
    if (!aws || !out)
        return cr__fail(err, CR_ERR_INVALID, "cr__aws_endpoint_url needs a context and a buffer");
    struct cr__aws_endpoint ep;
    cr_status st = cr__aws_endpoint_resolve(service, aws->region, aws->endpoint_url, &ep, err);
    if (st == CR_OK && (st = cr__buf_append_str(out, ep.base)) != CR_OK)
        cr__fail(err, st, "out of memory for an endpoint");
    return st;
}

/* ---- credentials at send time ------------------------------------------------- */

/* Whether the held credentials are good for now without a refresh. */
static int creds_fresh(const struct cr_aws *aws, int64_t now_s)
{
    const struct cr__aws_creds *c = &aws->creds;
    return c->access_key_id && (c->expiration_s == 0 || now_s < c->expiration_s -
                                                                 aws->refresh_margin_s);
}

/* Makes aws->creds usable: static ones always are; instance-metadata ones
 * are fetched when missing, inside the refresh margin, or when force is set
 * (the service said they expired). A failed refresh keeps credentials that
 * have not actually expired yet. */
static cr_status current_creds(struct cr_aws *aws, int force, struct cr_error *err)
{
    int64_t now_s = cr__time_wall_ms() / 1000;
    if (aws->kind == CR__CREDS_STATIC || (!force && creds_fresh(aws, now_s)))
        return CR_OK;
    struct cr__aws_creds fresh = {0};
    struct cr_error e;
    cr_status st = cr__imds_fetch(aws->imds, &fresh, &e);
    if (st == CR_OK) {
        cr__aws_creds_wipe(&aws->creds);
        aws->creds = fresh;
        char exp[21] = "never";
        if (fresh.expiration_s)
            cr__time_format_iso8601(fresh.expiration_s, exp);
        cr__log(CR_LOG_INFO, "component=aws msg=\"credentials fetched\" source=%s expires=%s",
               fresh.source, exp);
        return CR_OK;
    }
    int usable = aws->creds.access_key_id && !force && now_s < aws->creds.expiration_s;
    cr__log(usable ? CR_LOG_WARN : CR_LOG_ERROR,
           "component=aws msg=\"credentials refresh failed\" keep=%s reason=\"%s\"",
           usable ? "yes" : "no", e.message);
    if (usable)
        return CR_OK;
    if (err)
        *err = e;
    return cr__fail_prefix(err, CR_ERR_AUTH, "no usable AWS credentials: ");
}

cr_status cr__aws_resolve_credentials(struct cr_aws *aws, struct cr_error *err)
{
    if (!aws)
        return cr__fail(err, CR_ERR_INVALID, "no AWS context");
    return current_creds(aws, 0, err);
}

/* ---- one request ------------------------------------------------------------- */

/* What stays the same across the tries of one request. */
struct prepared {
    struct cr_buf url, host, path;
    struct cr_http_header *headers; /* Host, the caller's, maybe Content-Type */
    size_t num_headers;
};

/* Releases what prepare() built. */
static void prepared_clear(struct prepared *p)
{
    cr_buf_clear(&p->url);
    cr_buf_clear(&p->host);
    cr_buf_clear(&p->path);
    free(p->headers);
}

/* True when the caller's headers include name (any case). */
static int has_header(const struct cr__aws_request *req, const char *name)
{
    for (size_t i = 0; i < req->num_headers; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return 1;
    return 0;
}

/* The headers every try sends and signs. */
static cr_status prepare_headers(const struct cr__aws_request *req, struct prepared *p)
{
    p->headers = calloc(req->num_headers + 2, sizeof(*p->headers));
    if (!p->headers)
        return CR_ERR_NOMEM;
    p->headers[p->num_headers++] = (struct cr_http_header){"Host", (const char *)p->host.data};
    for (size_t i = 0; i < req->num_headers; i++)
        p->headers[p->num_headers++] = req->headers[i];
    if (strcmp(req->service, "s3") != 0 && strcmp(req->method, "POST") == 0 &&
        !has_header(req, "Content-Type"))
        p->headers[p->num_headers++] = (struct cr_http_header){"Content-Type", FORM_CONTENT_TYPE};
    return CR_OK;
}

/* Resolves the endpoint and builds the URL and headers. */
static cr_status prepare(const struct cr_aws *aws, const struct cr__aws_request *req,
                         struct prepared *p, struct cr_error *err)
{
    struct cr__aws_endpoint ep;
    cr_status st = cr__aws_endpoint_resolve(req->service, aws->region, aws->endpoint_url, &ep,
                                            err);
    if (st != CR_OK)
        return st;
    int path_style = aws->s3_path_style || strcmp(req->service, "s3") != 0;
    st = cr__aws_compose_url(&ep, path_style, req->bucket, req->path, req->query, &p->url,
                             &p->host, &p->path);
    if (st == CR_OK)
        st = prepare_headers(req, p);
    if (st != CR_OK)
        return cr__fail(err, st, "%s %s: cannot build the request: %s", req->service,
                        req->method, cr_strerror(st));
    return CR_OK;
}

/* Signs with the current credentials and time, then sends once. */
static cr_status send_once(struct cr_aws *aws, const struct cr__aws_request *req,
                           const struct prepared *p, struct cr__aws_response *resp,
                           struct cr_error *err)
{
    struct cr_sigv4_request sreq = {.method = req->method, .path = (const char *)p->path.data,
                                    .query = req->query, .headers = p->headers,
                                    .num_headers = p->num_headers, .body = req->body,
                                    .body_len = req->body_len};
    struct cr_sigv4_params sp = {.access_key_id = aws->creds.access_key_id,
                                 .secret_access_key = aws->creds.secret_access_key,
                                 .session_token = aws->creds.session_token,
                                 .region = aws->region, .service = req->service,
                                 .time_s = cr__time_wall_ms() / 1000};
    struct cr_sigv4_result sig = {0};
    cr_status st = cr_sigv4_sign(&sreq, &sp, &sig, err);
    struct cr_http_header *all = NULL;
    if (st == CR_OK && !(all = calloc(p->num_headers + sig.num_headers, sizeof(*all))))
        st = cr__fail(err, CR_ERR_NOMEM, "out of memory for request headers");
    if (st == CR_OK) {
        memcpy(all, p->headers, p->num_headers * sizeof(*all));
        memcpy(all + p->num_headers, sig.headers, sig.num_headers * sizeof(*all));
        struct cr__http_request hreq = {
            .method = req->method, .url = (const char *)p->url.data, .headers = all,
            .num_headers = p->num_headers + sig.num_headers, .body = req->body,
            .body_len = req->body_len, .timeout_ms = req->timeout_ms,
            .max_response_bytes = req->max_response_bytes};
        st = cr__http_send(aws->http, &hreq, &resp->http, err);
    }
    free(all);
    cr_sigv4_result_clear(&sig);
    return st;
}

/* The request id of an answer, from whichever header the service uses. */
static void take_request_id(struct cr__aws_response *resp)
{
    const char *id = cr__http_response_header(&resp->http, "x-amz-request-id");
    if (!id)
        id = cr__http_response_header(&resp->http, "x-amzn-RequestId");
    cr__strlcpy(resp->request_id, id ? id : "", sizeof(resp->request_id));
}

/* How one try ended, for the retry decision. */
struct outcome {
    cr_status st;
    int retryable;
    int expired_token;
};

/* Classifies a try: transport failure, success, or an error answer parsed
 * into e. */
static struct outcome judge(cr_status sent, struct cr__aws_response *resp, struct cr_error *e)
{
    struct outcome o = {.st = sent};
    if (sent != CR_OK) {
        o.retryable = resp->http.retryable;
        return o;
    }
    take_request_id(resp);
    long code = resp->http.status;
    if (code >= 200 && code <= 299)
        return o;
    o.st = cr__aws_parse_error(code, resp->http.body.data, resp->http.body.len,
                               resp->request_id[0] ? resp->request_id : NULL, e);
    if (!resp->request_id[0])
        cr__strlcpy(resp->request_id, e->request_id, sizeof(resp->request_id));
    o.retryable = cr__aws_is_retryable(code, e->aws_code);
    o.expired_token = strcmp(e->aws_code, "ExpiredToken") == 0 ||
                      strcmp(e->aws_code, "ExpiredTokenException") == 0 ||
                      strcmp(e->aws_code, "RequestExpired") == 0;
    return o;
}

/* Waits before retry number `retry` (0-based) and says why in the log. */
static void back_off(struct cr_aws *aws, const struct cr__aws_request *req, int retry,
                     const struct cr_error *e)
{
    uint64_t r = aws->random_fn(aws->random_userdata);
    int64_t delay = cr__aws_backoff_ms(retry, aws->base_backoff_ms, aws->max_backoff_ms, r);
    cr__log(CR_LOG_INFO,
           "component=aws msg=retrying service=%s method=%s attempt=%d max_attempts=%d "
           "delay_ms=%lld http_status=%ld code=%s reason=\"%s\"",
           req->service, req->method, retry + 2, aws->max_attempts, (long long)delay,
           e->http_status, e->aws_code[0] ? e->aws_code : "-", cr_status_name(e->status));
    /* Called even for 0 ms, so an installed hook sees the whole schedule. */
    aws->sleep_fn(aws->sleep_userdata, delay);
}

/* The try loop. Instance-metadata credentials that the service calls
 * expired are refreshed once, without counting as a retry. */
static cr_status send_loop(struct cr_aws *aws, const struct cr__aws_request *req,
                           const struct prepared *p, struct cr__aws_response *resp,
                           struct cr_error *e)
{
    int force_refresh = 0, refreshed = 0, retries = 0;
    for (;;) {
        resp->attempts++;
        cr_status st = current_creds(aws, force_refresh, e);
        if (st != CR_OK)
            return st;
        force_refresh = 0;
        int64_t t0 = cr__time_mono_ms();
        cr_error_clear(e);
        struct outcome o = judge(send_once(aws, req, p, resp, e), resp, e);
        cr__log(CR_LOG_DEBUG,
               "component=aws service=%s method=%s path=\"%s\" status=%ld attempt=%d ms=%lld",
               req->service, req->method, (const char *)p->path.data, resp->http.status,
               resp->attempts, (long long)(cr__time_mono_ms() - t0));
        if (o.st == CR_OK)
            return CR_OK;
        if (o.expired_token && aws->kind == CR__CREDS_IMDS && !refreshed) {
            force_refresh = refreshed = 1;
            continue;
        }
        if (!o.retryable || retries + 1 >= aws->max_attempts)
            return o.st;
        back_off(aws, req, retries++, e);
    }
}

cr_status cr__aws_send(struct cr_aws *aws, const struct cr__aws_request *req,
                       struct cr__aws_response *resp, struct cr_error *err)
{
    if (!aws || !req || !resp || !req->service || !req->method)
        return cr__fail(err, CR_ERR_INVALID, "cr__aws_send needs a context, a service and a "
                                             "method");
    resp->attempts = 0;
    resp->request_id[0] = '\0';
    struct prepared p = {0};
    struct cr_error e = {0};
    cr_status st = prepare(aws, req, &p, &e);
    if (st == CR_OK)
        st = send_loop(aws, req, &p, resp, &e);
    if (st != CR_OK && err) {
        *err = e;
        cr__fail_prefix(err, st, "%s %s %s: ", req->service, req->method,
                        p.path.data ? (const char *)p.path.data : "/");
    }
    prepared_clear(&p);
    return st;
}

void cr__aws_response_clear(struct cr__aws_response *resp)
{
    if (!resp)
        return;
    cr__http_response_clear(&resp->http);
    resp->attempts = 0;
    resp->request_id[0] = '\0';
}

const char *cr__aws_response_header(const struct cr__aws_response *resp, const char *name)
{
    return resp ? cr__http_response_header(&resp->http, name) : NULL;
}
