/*
 * http.c - the library's only libcurl user: a one-shot GET for downloads and
 * a client that reuses one easy handle (and so its connection cache) for
 * the AWS transport. Retrying is the caller's business; this file sends one
 * request per call and reports whether a transport failure is worth a retry.
 */
#include "net/http.h"
#include "internal.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_init_rc;

/* curl_global_init is not thread-safe on older libcurl; run it exactly once. */
static void curl_init_once(void)
{
    g_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Runs the global initialisation once; CR_ERR_NETWORK if it failed. */
static cr_status curl_ready(struct cr_error *err)
{
    pthread_once(&g_curl_once, curl_init_once);
    if (g_curl_init_rc != CURLE_OK)
        return cr__fail(err, CR_ERR_NETWORK, "libcurl initialisation failed");
    return CR_OK;
}

struct sink {
    struct cr_buf *buf;
    size_t max_bytes;
    size_t start;
    int too_large;
};

/* libcurl write callback: appends to the sink, refusing to pass its bound. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct sink *s = userdata;
    size_t n = size * nmemb;
    if (s->buf->len - s->start + n > s->max_bytes ||
        cr__buf_append(s->buf, data, n) != CR_OK) {
        s->too_large = 1;
        return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
    }
    return n;
}

cr_status cr__http_get(const char *url, size_t max_bytes, long timeout_ms, struct cr_buf *body,
                       struct cr_error *err)
{
    if (curl_ready(err) != CR_OK)
        return CR_ERR_NETWORK;
    CURL *h = curl_easy_init();
    if (!h)
        return cr__fail(err, CR_ERR_NOMEM, "cannot create a libcurl handle");
    struct sink s = {.buf = body,
                     .max_bytes = max_bytes ? max_bytes : (body->max_bytes ? body->max_bytes
                                                                          : SIZE_MAX / 2),
                     .start = body->len};
    char curl_msg[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_msg);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 600000L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);

    cr_status st = CR_OK;
    if (s.too_large) {
        st = cr__fail(err, CR_ERR_TOO_LARGE, "%s: answer larger than %zu bytes", url,
                      s.max_bytes);
    } else if (rc == CURLE_FILE_COULDNT_READ_FILE || rc == CURLE_REMOTE_FILE_NOT_FOUND) {
        st = cr__fail(err, CR_ERR_NOT_FOUND, "%s: %s", url,
                      curl_msg[0] ? curl_msg : curl_easy_strerror(rc));
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        st = cr__fail(err, CR_ERR_TIMEOUT, "%s: %s", url, curl_easy_strerror(rc));
    } else if (rc != CURLE_OK) {
        st = cr__fail(err, CR_ERR_NETWORK, "%s: %s", url,
                      curl_msg[0] ? curl_msg : curl_easy_strerror(rc));
    } else if (code != 0 && (code < 200 || code > 299)) {
        st = cr__fail(err, code == 404 ? CR_ERR_NOT_FOUND : CR_ERR_HTTP, "%s: HTTP status %ld",
                      url, code);
        if (err)
            err->http_status = code;
    }
    if (st != CR_OK) {
        body->len = s.start;
        if (body->data)
            body->data[body->len] = '\0';
    }
    return st;
}

/* ---- the reusable client ------------------------------------------------ */

struct cr__http_client {
    CURL *h;
    struct cr__http_client_options opts;
    char curl_msg[CURL_ERROR_SIZE];
};

cr_status cr__http_client_new(const struct cr__http_client_options *opts,
                              struct cr__http_client **out, struct cr_error *err)
{
    *out = NULL;
    if (curl_ready(err) != CR_OK)
        return CR_ERR_NETWORK;
    struct cr__http_client *c = calloc(1, sizeof(*c));
    if (!c)
        return cr__fail(err, CR_ERR_NOMEM, "out of memory for an HTTP client");
    if (opts)
        c->opts = *opts;
    if (c->opts.connect_timeout_ms <= 0)
        c->opts.connect_timeout_ms = CR__HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
    if (c->opts.timeout_ms <= 0)
        c->opts.timeout_ms = CR__HTTP_DEFAULT_TIMEOUT_MS;
    if (c->opts.max_response_bytes == 0)
        c->opts.max_response_bytes = CR__HTTP_DEFAULT_MAX_RESPONSE_BYTES;
    c->h = curl_easy_init();
    if (!c->h) {
        free(c);
        return cr__fail(err, CR_ERR_NOMEM, "cannot create a libcurl handle");
    }
    *out = c;
    return CR_OK;
}

void cr__http_client_free(struct cr__http_client *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->h);
    free(c);
}

/* Header capture for one transfer: the raw lines of the latest answer. */
struct header_sink {
    struct cr_buf *block;
    int too_large;
};

/* libcurl header callback. A status line starts a new answer (after a
 * 100 Continue), so the lines collected so far are dropped. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct header_sink *hs = userdata;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0)
        cr__buf_reset(hs->block);
    if (hs->block->len + n > CR__HTTP_MAX_HEADER_BYTES ||
        cr__buf_append(hs->block, data, n) != CR_OK) {
        hs->too_large = 1;
        return 0;
    }
    return n;
}

/* Splits the captured block into name/value pairs in place. The status line
 * and the blank line that ends the block are skipped. */
static cr_status split_headers(struct cr__http_response *resp)
{
    struct cr_buf *b = &resp->header_block;
    size_t lines = 0;
    for (size_t i = 0; i < b->len; i++)
        lines += b->data[i] == '\n';
    if (lines == 0)
        return CR_OK;
    resp->headers = calloc(lines, sizeof(*resp->headers));
    if (!resp->headers)
        return CR_ERR_NOMEM;
    char *save = NULL;
    for (char *line = strtok_r((char *)b->data, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *colon = strchr(line, ':');
        if (!colon || strncmp(line, "HTTP/", 5) == 0)
            continue;
        *colon = '\0';
        resp->headers[resp->num_headers].name = cr__trim(line);
        resp->headers[resp->num_headers].value = cr__trim(colon + 1);
        resp->num_headers++;
    }
    return CR_OK;
}

/* Empties a response for reuse, keeping its buffers' memory. */
static void response_reset(struct cr__http_response *resp)
{
    if (resp->body.data)
        explicit_bzero(resp->body.data, resp->body.len);
    cr__buf_reset(&resp->body);
    cr__buf_reset(&resp->header_block);
    free(resp->headers);
    resp->headers = NULL;
    resp->num_headers = 0;
    resp->status = 0;
    resp->retryable = 0;
}

void cr__http_response_clear(struct cr__http_response *resp)
{
    if (!resp)
        return;
    response_reset(resp);
    cr_buf_clear(&resp->body);
    cr_buf_clear(&resp->header_block);
}

const char *cr__http_response_header(const struct cr__http_response *resp, const char *name)
{
    for (size_t i = 0; i < resp->num_headers; i++)
        if (strcasecmp(resp->headers[i].name, name) == 0)
            return resp->headers[i].value;
    return NULL;
}

/* True when the request carries a header with this name (any case). */
static int has_header(const struct cr__http_request *req, const char *name)
{
    for (size_t i = 0; i < req->num_headers; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return 1;
    return 0;
}

/* Appends "name: value" (or "name;" for an empty value, libcurl's way of
 * sending an empty header) to *list. */
static cr_status add_header(struct curl_slist **list, const char *name, const char *value)
{
    struct cr_buf line;
    cr_buf_init(&line, 0);
    cr_status st = value[0] ? cr__buf_appendf(&line, "%s: %s", name, value)
                            : cr__buf_appendf(&line, "%s;", name);
    if (st == CR_OK) {
        struct curl_slist *n = curl_slist_append(*list, (const char *)line.data);
        if (n)
            *list = n;
        else
            st = CR_ERR_NOMEM;
    }
    cr_buf_clear(&line);
    return st;
}

/* The header list for libcurl: the request's own, then blank overrides that
 * stop libcurl from adding headers of its own (a signed request must send
 * what was signed, and nothing asks for 100 Continue). */
static cr_status build_headers(const struct cr__http_request *req, struct curl_slist **list)
{
    static const char *const suppressed[] = {"Accept", "Expect", "Content-Type"};
    for (size_t i = 0; i < req->num_headers; i++)
        if (add_header(list, req->headers[i].name, req->headers[i].value) != CR_OK)
            return CR_ERR_NOMEM;
    for (size_t i = 0; i < CR__ARRAY_LEN(suppressed); i++) {
        if (has_header(req, suppressed[i]))
            continue;
        struct cr_buf line;
        cr_buf_init(&line, 0);
        cr_status st = cr__buf_appendf(&line, "%s:", suppressed[i]);
        struct curl_slist *n = st == CR_OK ? curl_slist_append(*list, (const char *)line.data)
                                           : NULL;
        cr_buf_clear(&line);
        if (!n)
            return CR_ERR_NOMEM;
        *list = n;
    }
    return CR_OK;
}

/* Sets the method and, for methods that carry one, the body. */
static void set_method(CURL *h, const struct cr__http_request *req)
{
    const char *m = req->method ? req->method : "GET";
    if (strcmp(m, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        return;
    }
    if (strcmp(m, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        return;
    }
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
    if (req->body || strcmp(m, "PUT") == 0 || strcmp(m, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
    }
}

/* Applies the per-request options to the (reset) easy handle. */
static void set_options(struct cr__http_client *c, const struct cr__http_request *req,
                        struct curl_slist *headers, struct sink *body, struct header_sink *hs)
{
    CURL *h = c->h;
    c->curl_msg[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, hs);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_msg);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->opts.connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms
                                                                : c->opts.timeout_ms);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "libcloudrec/" CR_VERSION_STRING);
    if (c->opts.no_proxy)
        curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    set_method(h, req);
}

/* Whether a transfer that failed with rc may succeed if tried again. */
static int curl_retryable(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

/* Length of url without its query, so messages never carry query values. */
static int url_shown_len(const char *url)
{
    size_t n = strcspn(url, "?#");
    return n > 400 ? 400 : (int)n;
}

/* Maps the outcome of curl_easy_perform to a status and detail. */
static cr_status transfer_status(struct cr__http_client *c, const struct cr__http_request *req,
                                 CURLcode rc, const struct sink *body,
                                 const struct header_sink *hs, struct cr__http_response *resp,
                                 struct cr_error *err)
{
    int n = url_shown_len(req->url);
    if (body->too_large)
        return cr__fail(err, CR_ERR_TOO_LARGE, "%.*s: answer larger than %zu bytes", n, req->url,
                        body->max_bytes);
    if (hs->too_large)
        return cr__fail(err, CR_ERR_TOO_LARGE, "%.*s: response headers larger than %zu bytes",
                        n, req->url, CR__HTTP_MAX_HEADER_BYTES);
    if (rc == CURLE_OK)
        return CR_OK;
    resp->retryable = curl_retryable(rc);
    const char *why = c->curl_msg[0] ? c->curl_msg : curl_easy_strerror(rc);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return cr__fail(err, CR_ERR_TIMEOUT, "%.*s: %s", n, req->url, why);
    if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL)
        return cr__fail(err, CR_ERR_INVALID, "%.*s: %s", n, req->url, why);
    return cr__fail(err, CR_ERR_NETWORK, "%.*s: %s", n, req->url, why);
}

/* Only http and https; libcurl is told the same, this gives a clearer error. */
static int url_allowed(const char *url)
{
    return url && (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0);
}

cr_status cr__http_send(struct cr__http_client *c, const struct cr__http_request *req,
                        struct cr__http_response *resp, struct cr_error *err)
{
    response_reset(resp);
    if (!url_allowed(req->url))
        return cr__fail(err, CR_ERR_INVALID, "only http:// and https:// URLs can be fetched");
    struct curl_slist *headers = NULL;
    cr_status st = build_headers(req, &headers);
    if (st != CR_OK) {
        curl_slist_free_all(headers);
        return cr__fail(err, st, "out of memory for request headers");
    }
    struct sink body = {.buf = &resp->body,
                        .max_bytes = req->max_response_bytes ? req->max_response_bytes
                                                             : c->opts.max_response_bytes};
    struct header_sink hs = {.block = &resp->header_block};
    /* A reset keeps the connection cache: the next request to the same host
     * reuses the open connection. */
    curl_easy_reset(c->h);
    set_options(c, req, headers, &body, &hs);
    CURLcode rc = curl_easy_perform(c->h);
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    st = transfer_status(c, req, rc, &body, &hs, resp, err);
    if (st == CR_OK && split_headers(resp) != CR_OK)
        st = cr__fail(err, CR_ERR_NOMEM, "out of memory for response headers");
    if (st != CR_OK)
        resp->status = rc == CURLE_OK ? resp->status : 0;
    return st;
}
