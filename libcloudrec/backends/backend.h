/*
 * backend.h - the internal vtables behind cr_store and cr_queue; not installed.
 *
 * store.c and queue.c parse the URL's scheme, check arguments that every
 * implementation shares (key safety, batch sizes, body limits, timeouts) and
 * forward to an implementation through these tables. An implementation only
 * sees calls whose arguments already passed those checks.
 *
 * Adding a backend (this is how the AWS ones plug in):
 *   1. write a source file, e.g. libcloudrec/backends/store_s3.c, that defines
 *      `const struct cr__store_ops cr__store_s3_ops = { ... };`
 *      (or cr__queue_sqs_ops for queues);
 *   2. declare it in the "registered implementations" block below;
 *   3. in the scheme table of store.c (or queue.c), replace the row's NULL
 *      ops by a pointer to it (the row's "missing" message is then unused);
 *   4. add the file to lib_sources in libcloudrec/meson.build.
 * Nothing else changes: dispatch, argument checks and tests of the generic
 * layer stay as they are.
 */
#ifndef CLOUDREC_BACKEND_H
#define CLOUDREC_BACKEND_H

#include "cloudrec/queue.h"
#include "cloudrec/store.h"
#include "internal.h"

/* Longest visibility timeout, as in SQS (12 hours). */
#define CR__QUEUE_MAX_VISIBILITY_S 43200
/* Longest long poll, as in SQS (20 seconds). */
#define CR__QUEUE_MAX_WAIT_MS 20000
/* Largest max_receive_count, as in SQS. */
#define CR__QUEUE_MAX_RECEIVE_COUNT 1000

/* One store implementation. `impl` is whatever open() made; it is passed
 * back to every other call and released by close(). Keys given to put, get
 * and del are already known to be safe (cr_store_key_is_safe). */
struct cr__store_ops {
    const char *scheme; /* "file", "s3" */
    cr_status (*open)(const char *url, void **impl, struct cr_error *err);
    cr_status (*put)(void *impl, const char *key, const void *data, size_t len,
                     struct cr_error *err);
    cr_status (*get)(void *impl, const char *key, size_t max_bytes, struct cr_buf *out,
                     struct cr_error *err);
    cr_status (*del)(void *impl, const char *key, struct cr_error *err);
    void (*close)(void *impl);
    /* Optional (NULL: open() creates what is missing, as file:// does):
     * makes the store's container (an S3 bucket) exist; *created says
     * whether this call made it. Used by cr_setup. */
    cr_status (*setup)(const char *url, int *created, struct cr_error *err);
    /* Optional (NULL: CR_ERR_UNSUPPORTED): calls fn with each object last
     * written before before_wall_ms (ms since the epoch) and that time.
     * Used by the retention sweep; S3 leaves that to a lifecycle rule. */
    cr_status (*list_older)(void *impl, int64_t before_wall_ms, void (*fn)(const char *key, int64_t mtime_ms, void *ctx),
                            void *ctx, struct cr_error *err);
};

/* One queue implementation. open() receives the options already checked and
 * never NULL (zeroes when the caller passed NULL). receive() gets
 * 1 <= max_messages <= CR_QUEUE_MAX_BATCH, 0 <= wait_ms <= CR__QUEUE_MAX_WAIT_MS,
 * visibility_s < 0 meaning "the queue's default", out[] zeroed and *n == 0.
 * On failure receive() must leave no message in out[] (cleared) and *n == 0. */
struct cr__queue_ops {
    const char *scheme; /* "sqlite", "sqs" */
    cr_status (*open)(const char *url, const struct cr_queue_options *opts, void **impl,
                      struct cr_error *err);
    cr_status (*send)(void *impl, const void *body, size_t body_len, char *id_out,
                      size_t id_out_len, struct cr_error *err);
    cr_status (*receive)(void *impl, int max_messages, int wait_ms, int visibility_s,
                         struct cr_queue_message *out, size_t *n, struct cr_error *err);
    cr_status (*del)(void *impl, const char *receipt, struct cr_error *err);
    cr_status (*change_visibility)(void *impl, const char *receipt, int visibility_s,
                                   struct cr_error *err);
    cr_status (*counts)(void *impl, long *visible, long *in_flight, struct cr_error *err);
    cr_status (*purge)(void *impl, struct cr_error *err);
    void (*close)(void *impl);
    /* Optional (NULL: open() with create): makes the queue (and its
     * dead-letter queue) exist with opts' attributes; *created says whether
     * this call made it. An existing queue with other attributes than those
     * asked for is CR_ERR_EXISTS. Used by cr_setup. */
    cr_status (*setup)(const char *url, const struct cr_queue_options *opts, int *created,
                       struct cr_error *err);
    /* Optional (NULL: the caller just sleeps): returns 1 once the queue may
     * have changed (a message sent, received or deleted anywhere), 0 after
     * wait_ms without a change. Consumes nothing. */
    int (*wait_change)(void *impl, int wait_ms);
};

/* The public handles: which implementation, and its state. */
struct cr_store {
    const struct cr__store_ops *ops;
    void *impl;
};

struct cr_queue {
    const struct cr__queue_ops *ops;
    void *impl;
};

/* ---- registered implementations ------------------------------------------*/
extern const struct cr__store_ops cr__store_file_ops;   /* backends/store_file.c */
extern const struct cr__store_ops cr__store_s3_ops;     /* backends/store_s3.c */
extern const struct cr__queue_ops cr__queue_sqlite_ops; /* backends/queue_sqlite.c */
extern const struct cr__queue_ops cr__queue_sqs_ops;    /* backends/queue_sqs.c */

/* The objects of s written before before_wall_ms, one call of fn each (see
 * cr__store_ops.list_older); CR_ERR_UNSUPPORTED for stores that cannot. */
cr_status cr__store_list_older(struct cr_store *s, int64_t before_wall_ms,
                               void (*fn)(const char *key, int64_t mtime_ms, void *ctx), void *ctx,
                               struct cr_error *err);

/* Waits until q may have changed (1) or wait_ms passed (0); see
 * cr__queue_ops.wait_change. Queues that cannot tell (SQS) sleep wait_ms and
 * return 0. Spurious wake-ups are allowed; callers re-read the counts. */
int cr__queue_wait_change(struct cr_queue *q, int wait_ms);

/* ---- set-up (cloudrec setup) ------------------------------------------------*/

/* Makes the store at url exist (an S3 bucket; a file:// directory) and says
 * in *created whether this call made it (-1: the backend cannot tell). */
cr_status cr__store_setup(const char *url, int *created, struct cr_error *err);

/* Makes the queue at url exist with opts' attributes (create is implied),
 * *created as above. */
cr_status cr__queue_setup(const char *url, const struct cr_queue_options *opts, int *created,
                          struct cr_error *err);

/* Copies the queue name of "sqs://name" into name (81 bytes); CR_ERR_INVALID
 * for anything else (SQS names: 1..80 of A-Z a-z 0-9 _ -). */
cr_status cr__sqs_url_name(const char *url, char name[81], struct cr_error *err);

/* ---- helpers shared by the implementations -------------------------------*/

/* For a URL "<scheme>:///abs/path[?query]" (scheme given without "://"),
 * percent-decodes the absolute path into *path (malloc'd, trailing slashes
 * removed except for "/") and, when query is non-NULL, copies the raw text
 * after '?' into *query (malloc'd, NULL when there is none). Without a query
 * pointer a '?' or '#' in the URL is refused. CR_ERR_INVALID with a message
 * naming the URL and the expected form (`example`) on any problem. The
 * caller frees *path and *query. */
cr_status cr__url_local_path(const char *url, const char *scheme, const char *example, char **path,
                             char **query, struct cr_error *err);

/* Reads the next "key=value" pair of a query string ("a=1&b=2") at *cursor
 * into key and val (sizes kn, vn; raw, not percent-decoded) and advances
 * *cursor. Returns 1 for a pair, 0 at the end, -1 when a part does not fit
 * or the pair has no '='. Start with *cursor = the query text. */
int cr__url_query_next(const char **cursor, char *key, size_t kn, char *val, size_t vn);

/* Creates dir and its missing parents with `mode` (like mkdir -p). CR_OK if
 * it exists as a directory afterwards, CR_ERR_IO with a message otherwise. */
cr_status cr__mkdir_p(const char *dir, unsigned mode, struct cr_error *err);

/* Tests only: 1 makes SQLite queues long-poll by sleeping instead of by
 * inotify wake-ups, so both paths can be exercised. Not thread-safe. */
void cr__queue_sqlite_set_poll_only(int on);

/* ---- key rules (store.c) ----------------------------------------------------*/

/* 1 when key is acceptable to every store (see above), else 0. */
int cr_store_key_is_safe(const char *key);

#endif
