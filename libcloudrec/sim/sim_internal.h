/*
 * sim_internal.h - the pieces of the simulator (cloudrec/sim.h) that the
 * unit tests reach directly: the random number generator, the event heap,
 * distributions and arrival sources, billing, and the per-tick series the
 * writers read. Not installed; every name is cr__sim_.
 */
#ifndef CLOUDREC_SIM_INTERNAL_H
#define CLOUDREC_SIM_INTERNAL_H

#include "core/json.h"
#include "sim/sim.h"
#include "internal.h"

#include <stddef.h>
#include <stdint.h>

/* ---- random numbers ---------------------------------------------------------
 * xoshiro256** seeded through splitmix64: fast, 256 bits of state, and the
 * same sequence on every platform. Each use (arrivals, service times, boot
 * times, deaths) has its own stream, so changing one parameter in a sweep
 * does not reshuffle the others' draws. */
struct cr__sim_rng {
    uint64_t s[4];
};

/* Seeds stream number `stream` of seed. */
void cr__sim_rng_seed(struct cr__sim_rng *r, uint64_t seed, uint64_t stream);

/* The next 64 random bits. */
uint64_t cr__sim_rng_next(struct cr__sim_rng *r);

/* A uniform double in [0, 1), 53 bits. */
double cr__sim_rng_uniform(struct cr__sim_rng *r);

/* An exponential variate of the given mean (> 0). */
double cr__sim_rng_exp(struct cr__sim_rng *r, double mean);

/* ---- event heap ------------------------------------------------------------
 * A binary min-heap ordered by (time, priority, insertion order), so events
 * at the same microsecond run in a fixed, documented order. */
struct cr__sim_event {
    int64_t t_us;
    int prio;     /* lower runs first at equal times */
    int type;     /* the engine's event kind */
    uint64_t seq; /* insertion order, filled by push */
    int64_t a, b; /* the event's arguments */
};

struct cr__sim_heap {
    struct cr__sim_event *ev;
    size_t n, cap;
    uint64_t next_seq;
};

/* Adds an event (e.seq is overwritten). CR_ERR_NOMEM. */
cr_status cr__sim_heap_push(struct cr__sim_heap *h, struct cr__sim_event e);

/* Removes the earliest event into *out; 0 when the heap is empty. */
int cr__sim_heap_pop(struct cr__sim_heap *h, struct cr__sim_event *out);

/* Releases the heap's memory and zeroes it. */
void cr__sim_heap_free(struct cr__sim_heap *h);

/* ---- distributions -----------------------------------------------------------
 * A non-negative random duration in seconds, from a spec string:
 *   "1.5" or "fixed:1.5", "exp:MEAN", "uniform:LO:HI", "normal:MEAN:SD",
 *   "lognormal:MEAN:SD", "pct:P50:P90:P99:MAX", "bench:FILE[:single|parallel]".
 * pct and bench draw from the quantile function through those points (linear
 * between them; below the median it mirrors the p50-p90 slope, floored at 0). */
enum cr__sim_dist_kind {
    CR__SIM_FIXED,
    CR__SIM_EXP,
    CR__SIM_UNIFORM,
    CR__SIM_NORMAL,
    CR__SIM_LOGNORMAL,
    CR__SIM_QUANTILES
};

#define CR__SIM_QPOINTS 5

struct cr__sim_dist {
    enum cr__sim_dist_kind kind;
    double a, b; /* fixed: a; exp: mean a; uniform: [a, b); normal: mean a, sd b;
                    lognormal: mu a, sigma b of the underlying normal */
    double q_p[CR__SIM_QPOINTS], q_v[CR__SIM_QPOINTS]; /* quantiles: p -> value */
    double mean_s;                                     /* the distribution's mean, for reports */
};

/* Parses a spec; what names the option in messages ("--service").
 * CR_ERR_INVALID for a bad spec, the file errors of cr_file_read and
 * CR_ERR_FORMAT for a bench file without the latency figures. */
cr_status cr__sim_dist_parse(const char *spec, const char *what, struct cr__sim_dist *d,
                             struct cr_error *err);

/* One draw, in seconds, >= 0. */
double cr__sim_dist_draw(const struct cr__sim_dist *d, struct cr__sim_rng *r);

/* ---- arrivals ------------------------------------------------------------------
 * One source of uploads; several are merged by time. */
enum cr__sim_src_kind { CR__SIM_BURST, CR__SIM_CONSTANT, CR__SIM_POISSON, CR__SIM_TRACE };

struct cr__sim_source {
    enum cr__sim_src_kind kind;
    double start_s, duration_s, rate_per_s; /* constant, poisson */
    long count;                             /* burst: N; constant: rate * duration */
    int64_t *times_us;                      /* trace: sorted, owned */
    size_t n_times;
    /* iteration state */
    long emitted;
    double next_s;
};

/* Parses "burst:N[@T]", "constant:RATE:DURATION[@T]",
 * "poisson:RATE:DURATION[@T]" or "trace:FILE" (times in seconds; RATE may
 * end in /s, /m, /h or /d, durations and T in s, m, h or d). A trace holds
 * one time per line, seconds or ISO-8601 UTC (as log lines start), made
 * relative to its earliest; blank lines and # comments are skipped.
 * Release with cr__sim_source_free. */
cr_status cr__sim_source_parse(const char *spec, struct cr__sim_source *s, struct cr_error *err);

/* The time of the source's next upload in microseconds, or -1 when it has no
 * more. Poisson sources draw from r. */
int64_t cr__sim_source_next(struct cr__sim_source *s, struct cr__sim_rng *r);

/* The time after which the source sends nothing, in seconds. */
double cr__sim_source_end_s(const struct cr__sim_source *s);

void cr__sim_source_free(struct cr__sim_source *s);

/* Parses a duration ("90", "1.5m", "2h", "1d") into seconds >= 0; 0 on error. */
int cr__sim_parse_duration(const char *s, double *out_s);

/* ---- billing -----------------------------------------------------------------
 * EC2 Linux on-demand: per second (whole seconds, rounded up), at least
 * min_billed_s per instance. */
double cr__sim_bill_usd(int64_t life_us, int min_billed_s, double price_per_hour_usd);

/* ---- per-tick rows -------------------------------------------------------------- */
struct cr__sim_row {
    int64_t t_ms;
    int arrivals;  /* since the previous row */
    int completed; /* answers since the previous row */
    int visible, in_flight;
    int pending, busy, idle, stopping;
    int desired;
};

struct cr__sim_series {
    struct cr__sim_row *rows;
    size_t n, cap;
    int max_instances; /* the cap, drawn on the chart */
};

/* Appends a row. CR_ERR_NOMEM. */
cr_status cr__sim_series_add(struct cr__sim_series *s, const struct cr__sim_row *row);

/* The writers (sim_report.c). */
/* Writes r as the JSON object cr_sim_write's CR_SIM_JSON prints, as
 * member key of the object w has open (NULL: an array element or the
 * top-level value), so a tool can put it inside a larger document. */
void cr__sim_json(struct cr__jw *w, const char *key, const struct cr_sim_result *r);

cr_status cr__sim_write_csv(const struct cr__sim_series *s, struct cr_buf *out);
cr_status cr__sim_write_svg(const struct cr_sim_result *r, struct cr_buf *out);

#endif
