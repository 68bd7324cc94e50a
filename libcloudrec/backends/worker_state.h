/*
 * worker_state.h - the worker's state file, the one channel from a local
 * worker process to its fleet; not installed, not exported. This file and
 * worker_state.c own the format; the writer (pipeline/worker.c) and the
 * reader (backends/fleet_local.c) both go through them.
 *
 * One line, replaced atomically (write and rename) on every change:
 *   "<state> <wall_ms> <pid> <ready_wall_ms>\n"
 * state is idle, busy or stopping; wall_ms when it changed; pid the
 * worker's; ready_wall_ms when the worker first became ready. Files of
 * older workers have no ready_wall_ms (read as 0). No file yet means the
 * worker is still loading its model.
 */
#ifndef CLOUDREC_BACKENDS_WORKER_STATE_H
#define CLOUDREC_BACKENDS_WORKER_STATE_H

#include "cloudrec/fleet.h"
#include "internal.h"

#include <stdint.h>

/* What a state file says. */
struct cr__worker_state {
    enum cr_instance_state state; /* IDLE, RUNNING (busy) or STOPPING */
    int64_t since_ms;             /* wall clock of the change */
    long pid;
    int64_t ready_ms; /* wall clock when first ready; 0 = not said */
};

/* Writes st to path atomically. The state must be IDLE, RUNNING or
 * STOPPING; CR_ERR_INVALID otherwise; the errors of cr__file_write_atomic. */
cr_status cr__worker_state_write(const char *path, const struct cr__worker_state *st,
                                 struct cr_error *err);

/* Reads path into *st. CR_ERR_NOT_FOUND when there is no file (yet),
 * CR_ERR_FORMAT when it does not hold a state line. */
cr_status cr__worker_state_read(const char *path, struct cr__worker_state *st);

#endif
