/*
 * web_internal.h - the pieces of the web tier (cloudrec/web.h); not
 * installed. libmicrohttpd is used only by the files of this directory.
 *
 *   names.c    file names, one-line messages, Accept headers (pure)
 *   pending.c  requests waiting for a reply, by id; recently answered ids
 *   metrics.c  counters and the Prometheus text
 *   pool.c     per-thread store and queue handles for the HTTP threads
 *   upload.c   multipart parsing and upload validation
 *   replies.c  the reply-receiver thread and the deadline sweep
 *   guard.c    deadlines for connections still sending their request
 *   page.c     the dashboard page and its script and style (assets)
 *   stats.c    the sampler thread and its history, served as /v1/stats
 *   server.c   the daemon, routing, responses, start and stop
 *
 * Locking: server->lock guards the pending map, each waiting request's
 * outcome and reply, and server->stopping. It is taken before any
 * libmicrohttpd call made under it (MHD_suspend_connection and
 * MHD_resume_connection), never the other way round.
 */
#ifndef CLOUDREC_WEB_INTERNAL_H
#define CLOUDREC_WEB_INTERNAL_H

#include "pipeline/message.h"
#include "cloudrec/queue.h"
#include "cloudrec/store.h"
#include "cloudrec/web.h"
#include "internal.h"
#include "pipeline/scaler_status.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

/* ---- names.c ---------------------------------------------------------- */

/* Fills err with status CR_ERR_INVALID, http_status `code` and the formatted
 * one-line message, and returns CR_ERR_INVALID. The arguments may point into
 * err->message (to wrap a callee's reason). */
cr_status cr__web_http_fail(struct cr_error *err, long code, const char *fmt, ...) CR_PRINTF(3, 4);

/* Checks an uploaded file name, which is metadata only (keys come from the
 * request id): valid UTF-8 without control characters; a client's directory
 * part ("C:\\pics\\a.jpg", "pics/a.jpg") is dropped and the base name must be
 * 1..CR_WEB_MAX_NAME bytes. Copies the base name into out (at least
 * CR_WEB_MAX_NAME + 1 bytes) or refuses with a 400 in err. */
cr_status cr__web_upload_name(const char *raw, char *out, size_t n, struct cr_error *err);

/* Copies s into out (size n) for use in a one-line message: at most `max`
 * characters, bytes outside printable ASCII as '?', '"' as '\''. */
void cr__web_printable(const char *s, size_t max, char *out, size_t n);

/* 1 when an Accept header (may be NULL) asks for application/json. */
int cr__web_accepts_json(const char *accept);

/* ---- pending.c -------------------------------------------------------- */

#define CR__WEB_PENDING_BUCKETS 1024
#define CR__WEB_RECENT_IDS 4096

/* One waiting request, embedded in the request that waits. */
struct cr__web_pending {
    char id[CR_UUID_STR_LEN];
    int64_t deadline_ms; /* cr_time_mono_ms() value; 0 = none */
    int suspended;       /* its connection is suspended */
    struct cr__web_pending *next;
};

/* The requests waiting for a reply, by id, and a ring of the ids answered
 * last (to tell a duplicate reply from a stray one). Not thread-safe: the
 * server's lock guards it. The map links the entries but does not own them. */
struct cr__web_pending_map {
    struct cr__web_pending *buckets[CR__WEB_PENDING_BUCKETS];
    size_t count;
    char (*recent)[CR_UUID_STR_LEN];
    size_t recent_next;
    size_t recent_len;
};

cr_status cr__web_pending_init(struct cr__web_pending_map *m);
void cr__web_pending_free(struct cr__web_pending_map *m);
void cr__web_pending_add(struct cr__web_pending_map *m, struct cr__web_pending *p);
/* Removes and returns the entry with this id, NULL if none. */
struct cr__web_pending *cr__web_pending_take(struct cr__web_pending_map *m, const char *id);
/* Removes up to max suspended entries whose deadline is at or before now_ms
 * into out[]; returns how many. */
size_t cr__web_pending_take_expired(struct cr__web_pending_map *m, int64_t now_ms,
                                    struct cr__web_pending **out, size_t max);
/* Removes and returns any entry, NULL when empty. */
struct cr__web_pending *cr__web_pending_take_any(struct cr__web_pending_map *m);
/* Remembers id as answered (the ring keeps the last CR__WEB_RECENT_IDS). */
void cr__web_pending_remember(struct cr__web_pending_map *m, const char *id);
/* 1 when id was answered recently. */
int cr__web_pending_seen(const struct cr__web_pending_map *m, const char *id);

/* ---- metrics.c -------------------------------------------------------- */

#define CR__WEB_CODES 14   /* status codes counted one by one, plus "other" */
#define CR__WEB_BUCKETS 13 /* latency histogram buckets, plus +Inf */
#define CR__WEB_RECENT 4096 /* latencies of the last answered uploads (stats.c) */

/* Counters, updated from any thread without a lock. */
struct cr__web_metrics {
    atomic_uint_fast64_t by_code[CR__WEB_CODES + 1];
    atomic_uint_fast64_t uploads, answered, rejected, timeouts;
    atomic_uint_fast64_t replies, duplicates, unknown, malformed;
    atomic_uint_fast64_t body_bytes;
    atomic_uint_fast64_t slow_headers, slow_body; /* connections the guard dropped */
    atomic_uint_fast64_t busy;                    /* 503s at the connection limit */
    /* replies by the batch size their worker reported (index 1..10; 0 = not said) */
    atomic_uint_fast64_t batch_size[CR_MSG_MAX_BATCH + 1];
    atomic_uint_fast64_t latency_bucket[CR__WEB_BUCKETS + 1];
    atomic_uint_fast64_t latency_sum_us;
    /* The latency (ms) of each upload answered 200, in a ring: entry
     * seq % CR__WEB_RECENT holds (seq + 1) << 24 | ms, so a reader can tell a
     * stale or half-written slot from the one it wants. */
    atomic_uint_fast64_t recent_seq;
    atomic_uint_fast64_t recent[CR__WEB_RECENT];
};

/* Gauges read at render time. */
struct cr__web_gauges {
    long pending;
    int queue_ok; /* 0: the request queue's counts are unknown */
    long queue_visible;
    long queue_in_flight;
    double uptime_s;
    long launch_failures; /* worker launches refused or failed; -1 = unknown */
    int starts_known;     /* the worker start histogram below is known */
    long start_counts[CR__SCALER_START_BUCKETS + 1];
    int64_t start_sum_ms;
};

void cr__web_metrics_init(struct cr__web_metrics *m);
/* Counts one HTTP response with this status. */
void cr__web_metrics_response(struct cr__web_metrics *m, unsigned code);
/* Counts one reply by the batch size its worker reported (0 = not said). */
void cr__web_metrics_batch(struct cr__web_metrics *m, int batch);
/* Counts one answered upload: its status and time from arrival to answer. */
void cr__web_metrics_upload(struct cr__web_metrics *m, unsigned code, int64_t latency_us);
/* Appends the Prometheus text exposition of m and g to out. */
cr_status cr__web_metrics_render(struct cr__web_metrics *m, const struct cr__web_gauges *g,
                                 struct cr_buf *out);
/* Total responses counted. */
uint64_t cr__web_metrics_requests(struct cr__web_metrics *m);
/* Copies into out (up to max, the newest kept) the latencies in ms of the
 * uploads answered 200 since *cursor, and advances *cursor (start it at 0).
 * Returns how many were copied. One reader at a time. */
size_t cr__web_metrics_recent(struct cr__web_metrics *m, uint64_t *cursor, uint32_t *out,
                              size_t max);

/* ---- pool.c ----------------------------------------------------------- */

/* One thread's handles to the backends. */
struct cr__web_backends {
    struct cr_store *input;
    struct cr_store *output;
    struct cr_queue *requests;
    struct cr__web_backends *next;
};

/* Handles not in use, opened on demand; at most one per concurrent user.
 * Thread-safe. The URLs are borrowed from the server. */
struct cr__web_pool {
    pthread_mutex_t lock;
    struct cr__web_backends *idle;
    const char *input_url;
    const char *output_url;
    const char *requests_url;
};

void cr__web_pool_init(struct cr__web_pool *p, const char *input_url, const char *output_url,
                       const char *requests_url);
/* Takes an idle set or opens a new one; give it back with release. */
cr_status cr__web_pool_acquire(struct cr__web_pool *p, struct cr__web_backends **out,
                               struct cr_error *err);
/* Returns b to the pool, or closes it when `broken` (a call on it failed, so
 * the next user gets fresh handles). Accepts NULL. */
void cr__web_pool_release(struct cr__web_pool *p, struct cr__web_backends *b, int broken);
void cr__web_pool_free(struct cr__web_pool *p);

/* ---- guard.c ----------------------------------------------------------- */

enum cr__web_conn_phase {
    CR__WEB_CONN_HEADERS = 0, /* sending a request's headers (or idle before one) */
    CR__WEB_CONN_BODY,        /* sending an upload's body */
    CR__WEB_CONN_WAITING      /* request complete: waiting for or reading its answer */
};

/* One open connection, the daemon's socket context. Fields under the
 * guard's lock. */
struct cr__web_conn {
    int fd;
    enum cr__web_conn_phase phase;
    int64_t since_ms;    /* cr_time_mono_ms() when the phase began */
    int64_t limit_ms;    /* how long the headers phase may last */
    uint64_t body_bytes; /* body bytes in the body phase */
    int dropped;         /* shut down already */
    int linked;          /* in the guard's list */
    struct cr__web_conn *prev, *next;
};

/* The open connections and the thread that enforces their deadlines. */
struct cr__web_guard {
    pthread_mutex_t lock;
    struct cr__web_conn *head;
    long count; /* open connections */
    long header_timeout_ms;
    long next_request_ms; /* headers limit of a keep-alive connection's later requests */
    uint64_t min_body_bytes_per_s;
    pthread_t thread;
    int started;
    atomic_int stop;
    struct cr__web_metrics *metrics; /* counts what it drops */
};

/* Sets up g; it tracks connections but enforces nothing until started.
 * Drops are counted in m. */
void cr__web_guard_init(struct cr__web_guard *g, struct cr__web_metrics *m);
/* MHD_NotifyConnectionCallback (cls = the guard): tracks open connections. */
void cr__web_on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                           enum MHD_ConnectionNotificationCode code);
/* The guard's record of c, or NULL when it has none. */
struct cr__web_conn *cr__web_guard_conn(struct MHD_Connection *c);
/* Moves k (may be NULL) to a phase, which starts now. */
void cr__web_guard_phase(struct cr__web_guard *g, struct cr__web_conn *k,
                         enum cr__web_conn_phase phase);
/* Counts body bytes of k (may be NULL). */
void cr__web_guard_body(struct cr__web_guard *g, struct cr__web_conn *k, size_t bytes);
/* Open connections now. */
long cr__web_guard_count(struct cr__web_guard *g);
/* Sets the limits and starts the deadline thread (none when both limits are
 * 0); stop ends it; clear stops it and frees the lock. */
cr_status cr__web_guard_start(struct cr__web_guard *g, long header_timeout_ms,
                              long idle_timeout_ms, uint64_t min_body_bytes_per_s,
                              struct cr_error *err);
void cr__web_guard_stop(struct cr__web_guard *g);
void cr__web_guard_clear(struct cr__web_guard *g);

/* ---- the server and its requests --------------------------------------- */

enum cr__web_outcome {
    CR__WEB_WAITING = 0, /* not sent yet, or sent and waiting */
    CR__WEB_REPLIED,     /* reply holds the worker's answer */
    CR__WEB_EXPIRED,     /* the deadline passed */
    CR__WEB_SHUTDOWN     /* the server stopped first */
};

/* How an upload is being read (upload.c). */
struct cr__web_upload {
    struct MHD_PostProcessor *pp;
    struct cr_buf data; /* bytes of the chosen part */
    int rank;           /* rank of the chosen part; -1 = none yet */
    int reading;        /* the current part is the chosen one */
    int in_part;        /* a part has started */
    size_t part_bytes;  /* bytes of the current part so far */
    char part_key[64];  /* field name of the current part */
    char part_file[2 * CR_WEB_MAX_NAME + 2];
    char file[2 * CR_WEB_MAX_NAME + 2]; /* raw file name of the chosen part */
    int file_missing;                   /* the chosen part has no file name */
    int file_too_long;
    uint64_t body_bytes;  /* request body bytes seen */
    uint64_t drain_limit; /* more than this: drop the connection */
    int too_large;        /* the body passed max_body_bytes; draining */
    int malformed;        /* the post processor gave up */
};

/* One HTTP request (the connection's per-request context). */
struct cr__web_request {
    struct cr__web_pending pending; /* first member: the map links it */
    struct cr_web_server *server;
    struct MHD_Connection *conn;
    int route;
    int want_json;
    char method[16]; /* for log lines */
    char path[96];
    int64_t start_us;
    int finished;   /* the upload was checked and sent, or refused */
    int registered; /* counted in server->inflight */
    struct cr__web_upload up;
    struct cr__web_conn *gconn; /* the guard's record of the connection */
    char name[CR_WEB_MAX_NAME + 1];
    char stem[CR_WEB_MAX_NAME + 1];
    char key[CR_UUID_STR_LEN + 8]; /* the image's input key: "<id>.jpg" or "<id>.png" */
    enum cr__web_outcome outcome; /* under server->lock */
    struct cr_response_msg reply; /* under server->lock; valid when REPLIED */
};

struct cr_web_server {
    struct cr_web_options opts; /* defaults applied; strings point below */
    char *bind_addr;
    char *input_url;
    char *output_url;
    char *requests_url;
    char *replies_url;
    struct MHD_Daemon *daemon;
    MHD_socket quiesced;
    int port;
    int64_t started_ms;

    pthread_mutex_t lock;
    struct cr__web_pending_map pending;
    atomic_int stopping;  /* set under lock, so registering sees it */
    int stopped;          /* cr_web_stop finished (one thread only) */
    atomic_long inflight; /* registered uploads whose request is not complete */

    struct cr_queue *replies; /* the receiver's own handle */
    pthread_t receiver;
    int receiver_started;
    atomic_int receiver_stop;

    struct cr__web_pool pool;
    struct cr__web_metrics metrics;
    struct cr__web_guard guard;

    pthread_mutex_t counts_lock; /* the cached request-queue counts */
    int64_t counts_ms;
    int counts_ok;
    char counts_error[256]; /* why they cannot be read, when !counts_ok */
    char replies_error[256]; /* under counts_lock: why the last receive of
                                replies failed; "" while they are received */
    long counts_visible;
    long counts_in_flight;

    pthread_mutex_t log_lock; /* start_error */
    char start_error[256];

    struct cr__web_stats *stats; /* the sampler (stats.c) */
};

/* upload.c: called on the first call of an upload request. Checks the
 * headers and makes the post processor. CR_OK or an HTTP error in err. */
cr_status cr__web_upload_begin(struct cr__web_request *r, struct cr_error *err);
/* Feeds body bytes. 0 to go on, -1 to drop the connection (a body far over
 * the limit). */
int cr__web_upload_feed(struct cr__web_request *r, const char *data, size_t size);
/* After the whole body: validates the upload and sets r->name and r->stem.
 * CR_OK or an HTTP error in err. */
cr_status cr__web_upload_end(struct cr__web_request *r, struct cr_error *err);
/* Releases what the upload holds. */
void cr__web_upload_clear(struct cr__web_upload *up);

/* replies.c: starts and stops the reply receiver (which also enforces the
 * deadlines). */
cr_status cr__web_receiver_start(struct cr_web_server *s, struct cr_error *err);
void cr__web_receiver_stop(struct cr_web_server *s);
/* Resolves a waiting request (server->lock held): records the outcome and
 * resumes its connection if it is suspended. */
void cr__web_resolve_locked(struct cr_web_server *s, struct cr__web_pending *p,
                            enum cr__web_outcome outcome, const struct cr_response_msg *reply);

/* page.c: the dashboard page. Static storage. */
const char *cr__web_page_html(void);
/* page.c: the static file served at path ("/app.js", ...), its length and
 * content type; NULL when there is none. Static storage. */
const char *cr__web_asset(const char *path, size_t *len, const char **type);

/* stats.c: starts the sampler thread, which records one sample of the
 * service every second (queue, fleet from opts->scaler_status_path,
 * answers per second, latency) and keeps the last CR__WEB_STATS_SAMPLES;
 * s->stats owns it. The path is copied. */
#define CR__WEB_STATS_SAMPLES 300
cr_status cr__web_stats_start(struct cr_web_server *s, const struct cr_web_options *opts,
                              struct cr_error *err);
/* Stops the sampler thread and frees it (NULL-safe; s->stats becomes NULL). */
void cr__web_stats_free(struct cr_web_server *s);
/* Appends the /v1/stats JSON document to out. */
cr_status cr__web_stats_render(struct cr_web_server *s, struct cr_buf *out);
/* The worker launches the scaler reported as failed (-1: unknown, no fresh
 * status file) and why the last one failed ("" while launches work), into
 * error (size n). */
void cr__web_stats_launches(struct cr_web_server *s, long *failures, char *error, size_t n);
/* The worker start histogram from the scaler's status file: counts per
 * bucket (CR__SCALER_START_BUCKETS + 1 entries) and their sum. 0 when the
 * scaler has not reported one. */
int cr__web_stats_starts(struct cr_web_server *s, long *counts, int64_t *sum_ms);

#endif
