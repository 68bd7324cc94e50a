/*
 * scaler_status.h - the scaler's status file: what the last tick saw and
 * decided, plus its last few actions, for readers in other processes (the
 * web tier's dashboard, /v1/stats). Not installed, not exported.
 *
 * This file and scaler_status.c own the format; the writer (the scaler) and
 * the reader (the web tier) both go through them. The file is one JSON
 * object, version 1:
 *
 *   {"v":1,"time_ms":<wall clock ms>,"interval_ms":1000,
 *    "visible":3,"in_flight":2,"starting":1,"busy":2,"idle":0,"stopping":0,
 *    "desired":5,"min":0,"max":20,
 *    "launch_failures":0,"launch_error":"",
 *    "worker_start":{"counts":[0,3,1,0,0,0,0,0,0,0,0],"sum_ms":812},
 *    "decisions":[{"time_ms":...,"action":"launch","count":2,"desired":5,
 *                  "backlog":5,"reason":"scale out"}, ...]}
 *
 * starting/busy/idle/stopping are the fleet's instances by state (pending,
 * running and not idle, idle, stopping); decisions are the last
 * CR__SCALER_STATUS_DECISIONS ticks that launched or stopped something,
 * oldest first. launch_failures counts the launches the fleet refused or
 * that failed since the scaler started; launch_error is why the last one
 * failed, "" once a launch works again (both optional when reading, for
 * files written before they existed). worker_start is a histogram of the
 * time from a worker's launch to its first ready state, counts per bucket
 * of CR__SCALER_START_BOUNDS_MS (the last one: above them all), also
 * optional. The scaler rewrites the file every tick with a rename, so a
 * reader sees either the previous or the next version, never a mix.
 */
#ifndef CLOUDREC_PIPELINE_SCALER_STATUS_H
#define CLOUDREC_PIPELINE_SCALER_STATUS_H

#include "cloudrec/scale.h"
#include "internal.h"
#include "pipeline/pipeline.h"

#define CR__SCALER_STATUS_DECISIONS 32
#define CR__SCALER_STATUS_MAX_BYTES 16384
#define CR__SCALER_START_BUCKETS 10
/* Upper bounds (ms) of the worker start buckets; one more bucket is above. */
#define CR__SCALER_START_BOUNDS_MS {100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000}

/* One tick that acted: exactly one of launch and stop is non-zero. */
struct cr__scaler_action {
    int64_t time_ms; /* wall clock */
    int launch;
    int stop;
    int desired;
    long backlog; /* visible + in flight */
    char reason[96];
};

struct cr__scaler_status {
    int64_t time_ms; /* wall clock of the last tick; 0 = none yet */
    int interval_ms;
    long visible, in_flight;
    int starting, busy, idle, stopping;
    int desired, min_instances, max_instances;
    long launch_failures; /* launches refused or failed since the start */
    char launch_error[256]; /* why the last launch failed; "" once one works */
    long start_counts[CR__SCALER_START_BUCKETS + 1]; /* worker starts per bucket */
    int64_t start_sum_ms;                              /* their total */
    size_t num_actions; /* valid entries of actions[], oldest first */
    struct cr__scaler_action actions[CR__SCALER_STATUS_DECISIONS];
};

/* Records one tick into s: the observation, the desired size, and (when it
 * launched or stopped something) the action, dropping the oldest action
 * when the list is full. wall_ms is the wall clock of the tick. */
void cr__scaler_status_record(struct cr__scaler_status *s, const struct cr_scale_input *in,
                              const struct cr_scale_decision *d, int64_t wall_ms);

/* Counts one worker start (launch to ready) of ms milliseconds. */
void cr__scaler_status_start(struct cr__scaler_status *s, int64_t ms);

/* Appends the JSON document of s to out. */
cr_status cr__scaler_status_encode(const struct cr__scaler_status *s, struct cr_buf *out);

/* Parses a document made by cr__scaler_status_encode into *out. CR_ERR_FORMAT
 * (with the reason in err) for anything else, including another version. */
cr_status cr__scaler_status_decode(const char *text, size_t len, struct cr__scaler_status *out,
                                   struct cr_error *err);

/* Writes s to path: a temporary file beside it, then a rename. No fsync: the
 * file is a snapshot rewritten every tick, and losing it costs nothing. */
cr_status cr__scaler_status_write(const char *path, const struct cr__scaler_status *s,
                                  struct cr_error *err);

/* Reads and decodes path. CR_ERR_NOT_FOUND when the scaler has not written
 * it (yet), the errors of cr_file_read and cr__scaler_status_decode. */
cr_status cr__scaler_status_read(const char *path, struct cr__scaler_status *out,
                                 struct cr_error *err);

#endif
