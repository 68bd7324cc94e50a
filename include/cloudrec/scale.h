/*
 * cloudrec/scale.h - the scaling policy as a pure function (DESIGN section 5).
 *
 * cr_scale_decide() reads the queue depth, the fleet by state, the config and
 * a clock the caller supplies, and says how many workers to launch or stop.
 * It does no I/O and reads no clock, so a recorded run can be replayed tick by
 * tick. The only memory between calls is a small struct cr_scale_state the
 * caller keeps (zero-initialised before the first call). The rules, the
 * defaults and why they were chosen are in docs/scaling.md. All functions are
 * thread-safe as long as each state is used by one thread at a time.
 */
#ifndef CLOUDREC_SCALE_H
#define CLOUDREC_SCALE_H

#include "cloudrec/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CR_SCALE_DEFAULT_MAX_INSTANCES 20
#define CR_SCALE_DEFAULT_PER_INSTANCE_TARGET 1
#define CR_SCALE_DEFAULT_SCALE_IN_WINDOW_MS 30000

/*
 * Policy parameters. Zero means the default for every field; negative values
 * are CR_ERR_INVALID. The default minimum is 0 anyway, so "0 = default" never
 * hides a meaningful zero there; a maximum of 0 (a fleet that can never run)
 * is not expressible: stop the scaler instead.
 */
struct cr_scale_config {
    int min_instances;          /* kept running even with an empty queue; default 0 */
    int max_instances;          /* the cap; default 20 */
    int per_instance_target;    /* backlog messages one instance is meant to absorb;
                                   default 1 (one image at a time per worker) */
    int64_t scale_in_window_ms; /* how long the backlog must stay below capacity
                                   before anything is stopped; default 30000 */
};

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
CR_API cr_status cr_scale_config_resolve(const struct cr_scale_config *cfg,
                                         struct cr_scale_config *out);

/* Decides one tick: see docs/scaling.md for the rules. cfg may be NULL (all
 * defaults); in and state are required and state is updated. CR_ERR_INVALID
 * for a bad config, a negative count or idle > running; *out is then zeroed
 * and state is left unchanged. */
CR_API cr_status cr_scale_decide(const struct cr_scale_config *cfg, const struct cr_scale_input *in,
                                 struct cr_scale_state *state, struct cr_scale_decision *out);

/* Appends the one-line key=value record of a decision to out, e.g.
 * `backlog=12 visible=10 in_flight=2 pending=1 running=3 idle=0 stopping=0
 * desired=12 action=launch:8 reason="scale out"` (action is launch:N, stop:N
 * or none). On failure out is left as it was. */
CR_API cr_status cr_scale_format(const struct cr_scale_input *in, const struct cr_scale_decision *d,
                                 struct cr_buf *out);

#ifdef __cplusplus
}
#endif
#endif
