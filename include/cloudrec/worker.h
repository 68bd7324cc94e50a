/*
 * cloudrec/worker.h - the worker loop: take request messages from a queue,
 * classify the image each one names, store the label, answer on the reply
 * queue, and only then delete the request (DESIGN section 1).
 *
 * Delivery is at-least-once. A request is deleted only after its answer was
 * sent, so a worker that dies mid-image loses nothing: the message becomes
 * visible again when its visibility timeout runs out. Failures are sorted in
 * two kinds:
 *  - permanent (the image cannot be decoded, is too large, is missing from the
 *    store, or the request names an unsafe object): an error answer is sent
 *    and the request deleted, so it is not retried forever;
 *  - transient (a store or queue is unavailable, out of memory): the request
 *    is left alone and comes back after its visibility timeout; the queue's
 *    max receive count (dead-letter queue) catches a message that keeps
 *    failing.
 * A request that is not a valid message at all is logged and deleted; one
 * with a newer message version is left for a newer worker.
 *
 * While it holds messages the worker extends their visibility, so a slow
 * batch is not handed to a second worker. The loop is single-threaded and
 * owns everything it opens.
 */
#ifndef CLOUDREC_WORKER_H
#define CLOUDREC_WORKER_H

#include "cloudrec/classify.h"
#include "cloudrec/core.h"

#include <signal.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CR_WORKER_ID_MAX 64

/* What a zero field of struct cr_worker_options means. */
#define CR_WORKER_DEFAULT_WAIT_MS 1000
#define CR_WORKER_DEFAULT_VISIBILITY_S 30
#define CR_WORKER_DEFAULT_MAX_IMAGE_BYTES ((size_t)32 << 20)

/* What the worker publishes in its state file (see state_path). */
enum cr_worker_state {
    CR_WORKER_IDLE = 0,     /* waiting for messages */
    CR_WORKER_BUSY = 1,     /* holds at least one message */
    CR_WORKER_STOPPING = 2, /* asked to stop; finishing what it holds */
};

/* How the output object's value is written. */
enum cr_output_format {
    CR_OUTPUT_LABEL = 0, /* "bathtub" (DESIGN section 4) */
    CR_OUTPUT_PAIR = 1   /* "(test_0, bathtub)", the older format */
};

/* Zero fields mean the defaults given. Strings are borrowed for the length of
 * cr_worker_run(). */
struct cr_worker_options {
    const char *requests_url; /* required: the queue of request messages */
    const char *output_url;   /* required: the store receiving <id>.json and
                                 <stem> -> label (docs/messages.md, store keys) */
    const struct cr_classifier_options *classifier; /* required */
    const char *worker_id;                          /* put in every answer; NULL = "w-<pid>" */
    const char *state_path; /* NULL = none; else a small file replaced atomically
                               on every state change:
                               "<state> <wall_ms> <pid> <ready_wall_ms>\n" with
                               state idle, busy or stopping, and ready_wall_ms
                               when the worker first became ready */
    int batch;              /* messages per receive, 1..10 (default 1) */
    int wait_ms;            /* long poll per receive, 1..20000 (default 1000);
                               also how fast a stop request is noticed when idle */
    int visibility_s;       /* invisibility of held messages (default 30);
                               renewed while they are held */
    int idle_exit_s;        /* > 0: return after this long without a message */
    int top_k;              /* labels in an answer, 1..5 (default 5) */
    size_t max_image_bytes; /* larger images get an error answer (default 32 MiB) */
    enum cr_output_format output_format;
    /* Non-NULL: polled between steps; once non-zero the worker receives no
     * more, finishes the messages it holds and returns CR_OK. Meant to be set
     * by a signal handler. */
    const volatile sig_atomic_t *stop;
};

/* Why cr_worker_run returned, and what it did. */
struct cr_worker_stats {
    long answered; /* requests answered with a label */
    long rejected; /* requests answered with an error (and deleted) */
    long dropped;  /* malformed requests deleted without an answer */
    long left;     /* requests left for redelivery after a transient failure */
    int idle_exit; /* 1 when it returned because of idle_exit_s */
};

/*
 * Runs the loop until *opts->stop becomes non-zero or the worker has been
 * idle for idle_exit_s, then returns CR_OK. It fails only while starting:
 * CR_ERR_INVALID (an option is out of range), the errors of cr_queue_open,
 * cr_store_open and cr_classifier_open. Once running, failures of single
 * requests are logged (through the log handler) and handled as described at the top of this
 * header; they never end the loop. stats (optional) is filled in either way.
 */
CR_API cr_status cr_worker_run(const struct cr_worker_options *opts, struct cr_worker_stats *stats,
                               struct cr_error *err);

#ifdef __cplusplus
}
#endif
#endif
