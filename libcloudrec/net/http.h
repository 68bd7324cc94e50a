/*
 * http.h - internal HTTP client over libcurl (net/http.c is the library's
 * only libcurl user).
 *
 * Two entry points: cr__http_get, a one-shot download (model fetch), and a
 * client object that keeps one libcurl easy handle, and so its connections,
 * across requests (the AWS transport). The client sends exactly one request
 * per call: retrying is the caller's policy (aws/aws.c). A client is not
 * thread-safe. TLS peer and host verification are always on for https.
 */
#ifndef CLOUDREC_NET_HTTP_H
#define CLOUDREC_NET_HTTP_H

#include "cloudrec/core.h"
#include "cloudrec/http.h"

/* Fetches url into body (appending, bounded by body->max_bytes or
 * max_bytes when non-zero). Any 2xx answer (or a readable file:// URL) is
 * success; other statuses give CR_ERR_HTTP with err->http_status set, 404 gives
 * CR_ERR_NOT_FOUND. TLS verification is always on. */
cr_status cr__http_get(const char *url, size_t max_bytes, long timeout_ms, struct cr_buf *body,
                       struct cr_error *err);

#define CR__HTTP_DEFAULT_CONNECT_TIMEOUT_MS 5000L
#define CR__HTTP_DEFAULT_TIMEOUT_MS 60000L
#define CR__HTTP_DEFAULT_MAX_RESPONSE_BYTES ((size_t)64 * 1024 * 1024)
/* The response header block is bounded too (names and values together). */
#define CR__HTTP_MAX_HEADER_BYTES ((size_t)64 * 1024)

/* Client settings; zero fields take the defaults above. */
struct cr__http_client_options {
    long connect_timeout_ms;
    long timeout_ms;
    size_t max_response_bytes;
    int no_proxy; /* non-zero: ignore proxy environment variables (IMDS) */
};

struct cr__http_client;

/* Creates a client into *out; release it with cr__http_client_free. */
cr_status cr__http_client_new(const struct cr__http_client_options *opts,
                              struct cr__http_client **out, struct cr_error *err);

/* Closes the client's connections and frees it. Accepts NULL. */
void cr__http_client_free(struct cr__http_client *c);

/*
 * One request; everything borrowed for the call. Only http:// and https://
 * URLs are accepted. libcurl adds Content-Length (for a body) and nothing
 * else: no Accept, Expect or default Content-Type. A Host header given here
 * replaces libcurl's, which is what a signed request needs.
 */
struct cr__http_request {
    const char *method; /* "GET", "HEAD", "PUT", "POST", "DELETE", ... */
    const char *url;
    const struct cr_http_header *headers;
    size_t num_headers;
    const void *body; /* sent for any method but GET/HEAD when non-NULL */
    size_t body_len;
    long timeout_ms;           /* 0 = the client's */
    size_t max_response_bytes; /* 0 = the client's */
};

/*
 * What came back. Zero-initialise before the first use; each send empties it
 * first; release with cr__http_response_clear. Headers are those of the final
 * answer (after any 100 Continue), names as received, values trimmed; they
 * point into storage owned by the response.
 */
struct cr__http_response {
    long status; /* 0 if no answer arrived */
    struct cr_buf body;
    struct cr_http_header *headers;
    size_t num_headers;
    struct cr_buf header_block; /* storage for headers[] */
    /* After a transport failure: non-zero when trying again may help
     * (connection refused or reset, timeout, DNS), zero when it cannot
     * (TLS verification, bad URL, answer too large). */
    int retryable;
};

/*
 * Sends req and fills *resp. CR_OK whenever an answer arrived, whatever its
 * status. Otherwise CR_ERR_TIMEOUT, CR_ERR_NETWORK, CR_ERR_TOO_LARGE (body
 * over the bound) or CR_ERR_INVALID (bad URL); detail in err names the host,
 * never the headers.
 */
cr_status cr__http_send(struct cr__http_client *c, const struct cr__http_request *req,
                        struct cr__http_response *resp, struct cr_error *err);

/* The value of the first header named name (any case), or NULL. Valid until
 * the response is reused or freed. */
const char *cr__http_response_header(const struct cr__http_response *resp, const char *name);

/* Releases the response's memory, wiping the body first (it may hold
 * credentials); the response is left empty and reusable. Accepts NULL. */
void cr__http_response_clear(struct cr__http_response *resp);

#endif
