/*
 * cloudrec/service.h - running the service's processes: the scaler loop
 * (cloudrec-scaler) and the whole local stack (`cloudrec up`).
 *
 * The scaler drives a fleet (cloudrec/fleet.h) with the pure policy of
 * cloudrec/scale.h; `cloudrec up` starts cloudrec-web and cloudrec-scaler as
 * child processes over a data directory with a file store and SQLite queues
 * (docs/local-mode.md). Both are single-threaded and not thread-safe; they
 * fork, so call them from a process that does not ignore SIGCHLD and does
 * not reap children it did not start itself.
 */
#ifndef CLOUDREC_SERVICE_H
#define CLOUDREC_SERVICE_H

#include "cloudrec/core.h"
#include "cloudrec/scale.h"

#include <signal.h>

/* What zero fields of struct cr_scaler_options mean. */
#define CR_SCALER_DEFAULT_INTERVAL_MS 1000
#define CR_SCALER_DEFAULT_LOG_EVERY_MS 30000

#ifdef __cplusplus
extern "C" {
#endif

/* Zero fields mean the defaults given. Borrowed for the length of the call. */
struct cr_scaler_options {
    const char *requests_url; /* required: the queue whose backlog drives scaling */
    const char *fleet_url;    /* required: local:, local:///dir, ec2:... */
    /* The worker command, NULL-terminated, argv[0] an absolute path; the
     * scaler appends `--requests <requests_url>`, the fleet `--id` and
     * `--state-file`. Required for local fleets. */
    const char *const *worker_argv;
    struct cr_scale_config policy; /* see scale.h; max defaults to 20 */
    int interval_ms;               /* one decision this often (default 1000) */
    int log_every_ms;  /* repeat an unchanged decision line this often (default 30000) */
    int kill_after_ms; /* on stop: SIGKILL workers still running after this (default 30000) */
    const volatile sig_atomic_t *stop; /* set non-zero (e.g. by a signal handler) to stop */
    /* Optional: a file rewritten (atomically) every tick with what the tick
     * saw and decided and the last actions, JSON; the web tier's /v1/stats
     * reads it (format: docs/scaling.md). NULL = none. */
    const char *status_path;
};

/*
 * Every interval: reads the requests queue's counts, lists the fleet, asks
 * the scaling policy (docs/scaling.md) what to do, launches or stops
 * (stopping the longest-idle workers first, only idle ones) and logs the
 * decision in one line through the log handler (info): `msg=scale backlog=... pending=... running=... idle=...
 * stopping=... desired=... action=launch:N|stop:N|none reason="..."`, when
 * anything but the reason changed or log_every_ms passed, and rewrites
 * status_path (when set). A failing queue
 * or fleet is logged and the tick skipped. When *stop becomes non-zero:
 * stops every worker gracefully (cr_fleet_shutdown) and returns CR_OK.
 * Fails only while starting (bad options, queue or fleet cannot be opened).
 */
CR_API cr_status cr_scaler_run(const struct cr_scaler_options *opts, struct cr_error *err);

/* What `cloudrec setup` makes; NULL URLs are skipped. Borrowed for the call. */
struct cr_setup_options {
    const char *input_url;       /* store for uploads: s3:// bucket, file:// directory */
    const char *output_url;      /* store for results */
    const char *requests_url;    /* the workers' queue: sqs://, sqlite:// */
    const char *replies_url;     /* the web tier's reply queue */
    const char *dead_letter_url; /* receives requests received max_receives times */
    int visibility_s;            /* the requests queue's visibility timeout (default 30) */
    int max_receives;            /* with dead_letter_url (default 5) */
};

/* Called once per resource cr_setup handled: url, what it is ("input
 * store", "requests queue", ...) and the outcome: "created", "exists", or
 * "ready" (a local backend, which does not say which). */
typedef void (*cr_setup_report_fn)(void *userdata, const char *url, const char *what,
                                   const char *outcome);

/*
 * Makes the buckets (directories) and queues of opts exist, in the order
 * input, output, dead-letter, requests (with VisibilityTimeout and a redrive
 * policy to the dead-letter queue), replies. Idempotent: running it again
 * with the same options creates and changes nothing and reports "exists".
 * Stops at the first failure: the backends' errors, CR_ERR_EXISTS when a
 * queue exists with other attributes than asked for, or a bucket is owned
 * by someone else. report (optional) sees each resource as it is done.
 */
CR_API cr_status cr_setup(const struct cr_setup_options *opts, cr_setup_report_fn report,
                          void *userdata, struct cr_error *err);

/* `cloudrec up`: the whole service on this machine. */
struct cr_up_options {
    const char *data_dir;          /* default "./cloudrec-data"; made absolute */
    const char *bind;              /* web listen address, default "127.0.0.1" */
    int port;                      /* default 8000 */
    const char *model_dir;         /* for the workers; NULL = their own lookup (resolved now,
                                      so children do not depend on the working directory) */
    struct cr_scale_config policy; /* max_instances = --max-workers; with the local
                                      fleet it is at most workers_per_cpu x the
                                      online CPUs (also its default) and the window
                                      defaults to 10 s; else the policy's own
                                      defaults (20, 30 s) */
    int workers_per_cpu;           /* local fleet: workers per online CPU at most
                                      (default 1) */
    int interval_ms;               /* scaler tick (default 1000) */
    int visibility_s;              /* worker visibility timeout (default 30) */
    int max_receives;              /* receives before a request goes to requests-dead (default 5) */
    int ready_timeout_ms;          /* wait this long for the web port to accept (default 60000) */
    int stop_timeout_ms;           /* per child on stop before SIGKILL (default 30000) */
    const char *bin_dir;           /* where cloudrec-web/-scaler/-worker are; NULL = next to
                                      the running program, then $PATH */
    const char *const *web_args;   /* extra flags for cloudrec-web, NULL-terminated */
    const char *const *worker_args; /* extra flags for each worker, NULL-terminated */
    /* URLs used instead of the data directory's own (NULL keeps those), e.g.
     * s3://bucket, sqs://queue, ec2:?ami=...: the same service against AWS.
     * Given queues and stores must exist already (`cloudrec setup`); only
     * the local ones are created. */
    const char *input_url;
    const char *output_url;
    const char *requests_url;
    const char *replies_url;
    const char *fleet_url; /* default local:///DATA/workers */
    /* Retention, swept every minute in stores that list by age (file://;
     * S3 uses a bucket lifecycle rule, docs/aws-mode.md): an answered upload
     * is removed keep_inputs_s after it came (default 3600), results and
     * unanswered uploads keep_outputs_s after they were written (default
     * 86400); < 0 keeps them. */
    long keep_inputs_s;
    long keep_outputs_s;
};

struct cr_up;

/*
 * Creates DIR/{input,output,workers} and DIR/queue.db with the queues
 * requests (dead letters to requests-dead after max_receives receives),
 * requests-dead and replies (those not replaced by a URL in opts); starts
 * cloudrec-scaler and cloudrec-web as
 * children (each in its own process group, killed with us) and returns once
 * the web port accepts connections. *out is owned by the caller: stop it
 * with cr_up_stop, then cr_up_free. Errors: CR_ERR_INVALID, CR_ERR_IO (the
 * data directory), CR_ERR_NOT_FOUND (a program), the queue's errors,
 * CR_ERR_STATE (a child exited while starting), CR_ERR_TIMEOUT (the port
 * never accepted).
 */
CR_API cr_status cr_up_start(const struct cr_up_options *opts, struct cr_up **out,
                             struct cr_error *err);

/* The service's URL, "http://127.0.0.1:8000/". Valid until cr_up_free. */
CR_API const char *cr_up_url(const struct cr_up *up);

/* Supervises the children until *stop becomes non-zero, then returns CR_OK.
 * A child that exits on its own (crash, kill, failure) is logged and started
 * again with the same command line after a delay of 100 ms doubling to 10 s
 * (back to 100 ms once a child has run for 30 s), so a killed web tier or
 * scaler comes back while the other keeps serving. CR_ERR_INVALID when up is
 * NULL. */
CR_API cr_status cr_up_wait(struct cr_up *up, const volatile sig_atomic_t *stop,
                            struct cr_error *err);

/* Stops in order: SIGTERM to the web tier (it stops accepting and finishes
 * what it holds) and wait for it, then SIGTERM to the scaler (it stops its
 * workers gracefully) and wait; SIGKILL after stop_timeout_ms each. CR_OK
 * when both ended cleanly (exit 0), CR_ERR_STATE otherwise. */
CR_API cr_status cr_up_stop(struct cr_up *up, struct cr_error *err);

/* Releases up (children should have been stopped). Accepts NULL. */
CR_API void cr_up_free(struct cr_up *up);

#ifdef __cplusplus
}
#endif
#endif
