/*
 * retention.h - removing old uploads and results from the stores; not
 * installed, not exported. `cloudrec up` runs a sweep every minute.
 */
#ifndef CLOUDREC_PIPELINE_RETENTION_H
#define CLOUDREC_PIPELINE_RETENTION_H

#include "cloudrec/store.h"
#include "internal.h"

#include <stdint.h>

struct cr__retention {
    long keep_inputs_s;  /* an answered upload is removed this long after it was
                            stored; < 0 = kept */
    long keep_outputs_s; /* results (and, past this age, even unanswered
                            uploads) are removed after this long; < 0 = kept */
};

struct cr__retention_stats {
    long inputs_removed;
    long outputs_removed;
};

/*
 * One sweep at wall-clock time now_ms (an input, so tests choose the clock):
 *  - an input object older than keep_inputs_s is removed once its request
 *    was answered (the output store holds "<key>.json", message.h), so an
 *    upload still waiting in a deep backlog is never taken from its worker;
 *    one older than keep_outputs_s is removed whatever happened to it;
 *  - an output object older than keep_outputs_s is removed.
 * Stores that cannot list by age (S3: use a bucket lifecycle rule) give
 * CR_ERR_UNSUPPORTED and are left alone. Other errors stop the sweep; what
 * was removed so far is counted in *stats (optional).
 */
cr_status cr__retention_sweep(struct cr_store *input, struct cr_store *output,
                              const struct cr__retention *r, int64_t now_ms,
                              struct cr__retention_stats *stats, struct cr_error *err);

#endif
