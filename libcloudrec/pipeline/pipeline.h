/*
 * pipeline/pipeline.h - the internal part of the pipeline layer: the scaling
 * policy's functions (its types are public, cloudrec/scale.h) and helpers of
 * the worker, the scaler and `cloudrec up` that only the library's programs
 * and tests call. Not installed, not exported (docs/api.md).
 */
#ifndef CLOUDREC_PIPELINE_PIPELINE_H
#define CLOUDREC_PIPELINE_PIPELINE_H

#include "cloudrec/scale.h"
#include "cloudrec/service.h"
#include "cloudrec/worker.h"
#include "internal.h"

/* ---- the scaling policy (scale.c) -------------------------------------------
 * cr_scale_decide() reads the queue depth, the fleet by state, the config and
 * a clock the caller supplies, and says how many workers to launch or stop.
 * It does no I/O and reads no clock, so a recorded run can be replayed tick by
 * tick. The only memory between calls is a small struct cr_scale_state the
 * caller keeps (zero-initialised before the first call). All functions are
 * thread-safe as long as each state is used by one thread at a time.
 */

/*
 * One observation. Instances are counted by state, each exactly once:
 * pending (launched, worker not yet polling), running (worker polling or
 * working; `idle` of them are known to hold no message right now), stopping
 * (asked to stop, not yet gone; these count as gone). The caller must count
 * instances it was told to launch as pending, and those it was told to stop as
 * stopping (or forget them), from the next observation on.
 */
struct cr_scale_input {
    long visible;   /* messages waiting (SQS ApproximateNumberOfMessages) */
    long in_flight; /* received, not yet deleted (...NotVisible) */
    int pending;
    int running;
    int idle; /* <= running */
    int stopping;
    int64_t now_ms; /* a monotonic clock, in milliseconds, >= 0 */
};

/* Slots of the recent-desired history (see docs/scaling.md). */
#define CR_SCALE_HISTORY 32

/* What the policy remembers between calls: whether and since when the fleet
 * has been larger than needed, and the largest desired size seen in each
 * slice of the last window. Zero-initialise it before the first call;
 * otherwise treat it as opaque. A zeroed state means "just started": nothing
 * is stopped before a whole window has been observed. */
struct cr_scale_state {
    int started;          /* 0 before the first call */
    int low;              /* 1 while desired has stayed below capacity */
    int64_t low_since_ms; /* when that started, valid while low */
    int64_t last_ms;      /* now_ms of the previous call */
    int64_t slot_ms;      /* length of one history slot */
    struct {
        int64_t slot; /* now_ms / slot_ms of the slice; INT64_MIN when empty */
        int desired;  /* the largest desired seen in it */
    } recent[CR_SCALE_HISTORY];
};

/* The outcome of one call. At most one of launch and stop is non-zero; stop
 * only ever names idle running workers, never pending or busy ones. */
struct cr_scale_decision {
    int desired; /* the fleet size the policy aims at */
    int launch;  /* new instances to start now */
    int stop;    /* idle running workers to stop now */
    char reason[128];
};


/* Copies *cfg (NULL = all defaults) into *out with every default filled in.
 * CR_ERR_INVALID for a negative field or min_instances > max_instances. */
cr_status cr_scale_config_resolve(const struct cr_scale_config *cfg,
                                  struct cr_scale_config *out);

/* Decides one tick: see docs/scaling.md for the rules. cfg may be NULL (all
 * defaults); in and state are required and state is updated. CR_ERR_INVALID
 * for a bad config, a negative count or idle > running; *out is then zeroed
 * and state is left unchanged. */
cr_status cr_scale_decide(const struct cr_scale_config *cfg, const struct cr_scale_input *in,
                          struct cr_scale_state *state, struct cr_scale_decision *out);

/* Appends the one-line key=value record of a decision to out, e.g.
 * `backlog=12 visible=10 in_flight=2 pending=1 running=3 idle=0 stopping=0
 * desired=12 action=launch:8 reason="scale out"` (action is launch:N, stop:N
 * or none). On failure out is left as it was. */
cr_status cr_scale_format(const struct cr_scale_input *in, const struct cr_scale_decision *d,
                          struct cr_buf *out);

/* ---- the scaler and `cloudrec up` (scaler.c, up.c) -------------------------*/

/*
 * Appends to out the boot script (ec2: user data) of an instance that
 * cr_scaler_run with these options would launch: the fleet's settings and
 * the worker command with --requests appended, exactly as the scaler builds
 * it. No network I/O. CR_ERR_UNSUPPORTED for fleets without one (local:),
 * plus the errors of cr_fleet_open and cr_fleet_user_data.
 */
cr_status cr_scaler_user_data(const struct cr_scaler_options *opts, struct cr_buf *out,
                              struct cr_error *err);

/* The absolute data directory. Valid until cr_up_free. */
const char *cr_up_data_dir(const struct cr_up *up);

/* The most workers the fleet will run (after the local fleet's per-CPU cap). */
int cr_up_max_workers(const struct cr_up *up);

/* ---- the worker (worker.c) ---------------------------------------------------*/

/* "idle", "busy", "stopping"; "unknown" for other values. Static storage. */
const char *cr_worker_state_name(enum cr_worker_state state);

#endif
