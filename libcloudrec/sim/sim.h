/*
 * sim/sim.h - the real scaling policy on a simulated queue and fleet.
 *
 * cr_sim_run() is a discrete-event simulation: uploads arrive (bursts,
 * constant or Poisson rates, a trace file), wait in a queue with SQS
 * semantics (visibility timeout, redelivery, dead letters), and are served
 * by instances that boot, work, die and stop. Every scaler tick calls the
 * real cr_scale_decide() (cloudrec/scale.h) with what the real scaler would
 * observe, and the simulated fleet does what it decided. The run reports
 * latency, instances and cost, and the same figures for an ideal fleet
 * (unlimited instances, ready at once, billed only while working).
 *
 * The same options and seed give the same result, bit for bit: the
 * simulation has its own random number generator and reads no clock. Specs
 * (arrivals, service and boot times) are strings, parsed here so that every
 * caller reads the same grammar; docs/simulate.md describes it. Not
 * thread-safe per result; separate runs may go on in separate threads.
 *
 * Internal since 0.2 (docs/api.md): not installed, not exported; the
 * programs and tests that use it link the static archive.
 */
#ifndef CLOUDREC_SIM_SIM_H
#define CLOUDREC_SIM_SIM_H

#include "internal.h"
#include "cloudrec/scale.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * What to simulate. Zero (or NULL) means the default for every field.
 * Durations and rates in specs are in seconds; see docs/simulate.md.
 */
struct cr_sim_options {
    /* NULL-terminated arrival specs, all merged: "burst:N[@T]",
       "constant:RATE:DURATION[@T]", "poisson:RATE:DURATION[@T]",
       "trace:FILE". At least one is required. */
    const char *const *arrivals;
    const char *service;           /* service time per upload; default "1" (second) */
    const char *boot;              /* launch to ready; default "40" (an EC2 instance) */
    struct cr_scale_config policy; /* the real policy's parameters */
    int interval_ms;               /* scaler tick; default 1000, as cloudrec-scaler */
    int concurrency;               /* uploads one instance serves at once; default 1 */
    int64_t stop_delay_ms;         /* told to stop -> gone (billed until then); default 0 */
    double deaths_per_hour;        /* each instance dies at this rate; default 0 */
    int visibility_s;              /* SQS visibility timeout; default 30 */
    int max_receives;              /* receives before a dead letter; default 5, <0 = never */
    double price_per_hour_usd;     /* default 0.0116 (t2.micro, us-east-1) */
    int min_billed_s;              /* billed at least this per instance; default 60 */
    double until_s;                /* hard end of the run; default: last arrival + 10 days */
    uint64_t seed;                 /* any value, 0 included */
    int keep_series;               /* 1: keep one row per tick for CSV and SVG */
    int wake;                      /* 1: an upload arriving while the fleet is below
                                      its cap makes the scaler tick at once (at most
                                      every 20 ms), as cloudrec-scaler does on an
                                      SQLite queue; 0: ticks only (SQS) */
};

/* Figures for one fleet over the whole run. */
struct cr_sim_figures {
    long completed;       /* uploads answered */
    double latency_avg_s; /* arrival to answer */
    double latency_p50_s; /* nearest rank */
    double latency_p95_s;
    double latency_p99_s;
    double latency_max_s;
    int peak_instances;      /* most pending + running at once */
    double mean_instances;   /* instance_seconds / duration */
    double instance_seconds; /* launch to gone, summed */
    double cost_usd;         /* per-second billing with the minimum */
};

struct cr__sim_series; /* the per-tick rows; read through cr_sim_write */

/* The outcome of a run. Release with cr_sim_result_free. */
struct cr_sim_result {
    long requests;                 /* uploads that arrived */
    long dead_letters;             /* received max_receives times without an answer */
    long unfinished;               /* neither answered nor dead when the run ended */
    long redeliveries;             /* receives after the first */
    long launched;                 /* instances launched */
    long deaths;                   /* instances that died */
    long ticks;                    /* calls of cr_scale_decide */
    double duration_s;             /* simulated time: 0 to the end of the run */
    struct cr_sim_figures fleet;   /* the simulated fleet under the real policy */
    struct cr_sim_figures ideal;   /* unlimited instances, ready at once */
    struct cr__sim_series *series; /* NULL unless keep_series */
};

/* What cr_sim_write produces. */
enum cr_sim_format {
    CR_SIM_TEXT = 0, /* a short report for people */
    CR_SIM_JSON = 1, /* one object on one line, newline-terminated */
    CR_SIM_CSV = 2,  /* one row per tick (needs keep_series) */
    CR_SIM_SVG = 3,  /* a self-contained chart of the rows (needs keep_series) */
};

/*
 * Runs one simulation. *out is filled on success (release it with
 * cr_sim_result_free) and zeroed on failure. CR_ERR_INVALID with a message
 * naming the option for a bad option or spec, CR_ERR_NOT_FOUND / CR_ERR_IO /
 * CR_ERR_FORMAT for a trace or classify_bench file that cannot be used,
 * CR_ERR_NOMEM.
 */
cr_status cr_sim_run(const struct cr_sim_options *opts, struct cr_sim_result *out,
                     struct cr_error *err);

/*
 * Appends a result to out in the given format. The same result always gives
 * the same bytes. CR_ERR_INVALID for a NULL argument or an unknown format,
 * CR_ERR_STATE for CSV or SVG of a result run without keep_series. On
 * failure out is left as it was.
 */
cr_status cr_sim_write(const struct cr_sim_result *r, enum cr_sim_format format,
                       struct cr_buf *out);

/* Releases what a result owns and zeroes it. Accepts NULL. */
void cr_sim_result_free(struct cr_sim_result *r);

#ifdef __cplusplus
}
#endif
#endif
