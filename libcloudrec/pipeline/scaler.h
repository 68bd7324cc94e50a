/*
 * pipeline/scaler.h - what cloudrec-scaler needs beyond cr_scaler_run
 * (internal).
 */
#ifndef CLOUDREC_PIPELINE_SCALER_H
#define CLOUDREC_PIPELINE_SCALER_H

#include "core/programs.h"

/*
 * Appends to out the worker command of a scaler run with cmd: the worker
 * program (ec2: fleets: "cloudrec-worker", their AMI's; local: cmd's
 * worker_path made absolute, else cr_find_program's cloudrec-worker), the
 * worker options cmd passes on (--output, --model, as cr__worker_program
 * declares them), then extra (the flags after "--"; may be NULL).
 * cr_scaler_run appends --requests. CR_ERR_INVALID for a worker path with
 * an ec2: fleet, CR_ERR_NOT_FOUND / CR_ERR_IO when the program is not
 * found, CR_ERR_NOMEM.
 */
cr_status cr__scaler_worker_argv(const struct cr__scaler_cmd *cmd, const char *const *extra,
                                 struct cr__argv *out, struct cr_error *err);

#endif
