/*
 * cloudrec/web.h - the web tier: an HTTP server that takes image uploads,
 * stores each image, sends a request message to the workers and holds the
 * connection open until the worker's answer comes back (DESIGN section 4).
 *
 *   POST / and POST /upload    multipart/form-data, one file part (field
 *                              inputFile, myfile or file, else the first part
 *                              with a file name) -> 200 "<stem>:<label>"
 *   GET /v1/results/<id>       a stored result by request id (X-Request-Id),
 *                              also after a 504
 *   GET /healthz, /metrics     health (503 with the reason when a dependency
 *                              fails), Prometheus text
 *   GET /v1/status             JSON: pending requests and queue depth
 *   GET /v1/stats              JSON: the last 5 minutes, one sample a second
 *                              (backlog, fleet by state, answers/s, latency)
 *   GET /, /app.js, /app.css   the dashboard: live charts and a multi-file upload
 * The full contract (status codes, formats, limits) is in docs/http-api.md.
 *
 * Waiting requests cost no thread: a connection whose request was sent is
 * suspended, and one reply-receiver thread per server reads the reply queue
 * and resumes the connection its answer belongs to. Each server therefore
 * needs a reply queue of its own. Every request id is answered once; replies
 * delivered twice (the queues are at-least-once) are ignored.
 *
 * Thread safety: cr_web_port and cr_web_stats may be called from any thread
 * while the server runs; cr_web_stop and cr_web_free from one thread only.
 */
#ifndef CLOUDREC_WEB_H
#define CLOUDREC_WEB_H

#include "cloudrec/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CR_WEB_DEFAULT_MAX_BODY_BYTES ((size_t)16 * 1024 * 1024)
#define CR_WEB_DEFAULT_DEADLINE_MS 300000L
#define CR_WEB_DEFAULT_THREADS 4
#define CR_WEB_DEFAULT_MAX_CONNECTIONS 1024u
#define CR_WEB_DEFAULT_IDLE_TIMEOUT_S 60
#define CR_WEB_DEFAULT_SHUTDOWN_GRACE_MS 10000L
#define CR_WEB_DEFAULT_HEADER_TIMEOUT_MS 10000L
#define CR_WEB_DEFAULT_MIN_BODY_RATE 1024u /* bytes per second */
/* The longest file name an upload may carry (bytes of UTF-8). */
#define CR_WEB_MAX_NAME 255

/*
 * Server options. A zero field means the default named; strings are copied by
 * cr_web_start, so they need not outlive the call.
 */
struct cr_web_options {
    const char *bind_addr;    /* IPv4 or IPv6 literal; NULL = "127.0.0.1" */
    int port;                 /* 0 = any free port (see cr_web_port) */
    const char *input_url;    /* required: store receiving the uploads */
    const char *output_url;   /* required: store the workers write results to */
    const char *requests_url; /* required: queue of request messages */
    const char *replies_url;  /* required: this server's own reply queue */
    size_t max_body_bytes;    /* largest request body (default 16 MiB) */
    uint64_t max_pixels;      /* largest width * height (default 40 megapixels) */
    long deadline_ms;         /* wait for an answer at most this long, then 504
                                 (default 300000); < 0 = wait forever */
    int label_only;           /* non-zero: answer "<label>" instead of "<stem>:<label>" */
    int threads;              /* HTTP threads (default 4) */
    unsigned max_connections; /* open connections at once (default 1024); past
                                 it a request is answered 503 at once */
    int idle_timeout_s;       /* close a connection idle this long (default 60);
                                 a connection waiting for its answer is not idle */
    long shutdown_grace_ms;   /* cr_web_stop waits this long for pending answers
                                 (default 10000); < 0 = not at all */
    long header_timeout_ms;   /* a request's headers must be complete this long
                                 after the connection opened (a keep-alive
                                 connection's later requests: after the idle
                                 timeout, if longer); else the connection is
                                 dropped (default 10000); < 0 = no limit */
    long min_body_bytes_per_s; /* after header_timeout_ms of body, an upload
                                  slower than this on average is dropped
                                  (default 1024); < 0 = no limit */
    const char *scaler_status_path; /* the scaler's status file (cloudrec-scaler
                                       --status-file), read once a second for the
                                       fleet in /v1/stats; NULL = fleet unknown */
};

/* Counters of a running server, as in /metrics. */
struct cr_web_stats {
    uint64_t requests;          /* HTTP requests answered, any path and status */
    uint64_t uploads;           /* uploads answered, any status */
    uint64_t answered;          /* uploads answered 200 with a label */
    uint64_t rejected;          /* uploads answered 4xx before being sent */
    uint64_t timeouts;          /* uploads answered 504 (deadline) */
    uint64_t replies;           /* replies matched to a waiting request */
    uint64_t duplicate_replies; /* replies for a request already answered */
    uint64_t unknown_replies;   /* replies for an id this server never sent, or malformed */
    long pending;               /* requests sent and waiting for their reply */
};

struct cr_web_server;

/*
 * Opens the stores and queues (creating queues that do not exist), binds the
 * listening socket and starts the HTTP threads and the reply receiver. On
 * success *out owns the running server; stop and release it with
 * cr_web_free. Errors: CR_ERR_INVALID (a required URL is missing, a bad
 * address or option), the errors of cr_store_open and cr_queue_open,
 * CR_ERR_NETWORK (the address cannot be bound; detail says why),
 * CR_ERR_NOMEM, CR_ERR_INTERNAL (a thread cannot be started).
 */
CR_API cr_status cr_web_start(const struct cr_web_options *opts, struct cr_web_server **out,
                              struct cr_error *err);

/* The TCP port the server listens on (useful after port 0). */
CR_API int cr_web_port(const struct cr_web_server *server);

/* Fills *stats with the current counters. Thread-safe. */
CR_API void cr_web_stats(const struct cr_web_server *server, struct cr_web_stats *stats);

/*
 * Stops gracefully: no new connections are accepted and new requests on open
 * ones get 503; requests waiting for a reply get up to shutdown_grace_ms to
 * receive it; those still waiting then get 503 naming /v1/results/<id>
 * (their result will still be stored there). Returns when the HTTP threads
 * and the reply receiver have ended. Calling it twice is harmless.
 */
CR_API void cr_web_stop(struct cr_web_server *server);

/* Stops the server if it runs, then releases it. Accepts NULL. */
CR_API void cr_web_free(struct cr_web_server *server);

#ifdef __cplusplus
}
#endif
#endif
