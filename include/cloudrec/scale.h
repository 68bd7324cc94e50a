/*
 * cloudrec/scale.h - the scaling policy's parameters (DESIGN section 5), as
 * the scaler (cloudrec/service.h) takes them.
 *
 * The policy itself is a pure function inside the library: it reads the
 * queue depth, the fleet by state, this config and a clock, and says how
 * many workers to launch or stop. The rules, the defaults and why they were
 * chosen are in docs/scaling.md.
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

#ifdef __cplusplus
}
#endif
#endif
