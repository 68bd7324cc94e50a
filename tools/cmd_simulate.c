/*
 * cmd_simulate.c - `cloudrec simulate`: flags for cr__sim_run
 * (include/cloudrec/sim.h), the report, the CSV and SVG files, sweeps.
 *
 * Every flag is declared once, in sim_opts[] below (core/opts.h): the
 * parser, --help, --dump-options and the values a sweep applies.
 */
#include "cmd_simulate.h"

#include "cloudrec.h"
#include "sim/sim_internal.h"
#include "core/opts.h"
#include "tool_util.h"
#include "internal.h"
#include "sim/sim.h"

#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SIM_EXIT_FAIL = 1, SIM_EXIT_USAGE = 2, SIM_MAX_SWEEP = 64 };

/* What the command line asked for. Strings point into argv. */
struct sim_args {
    struct cr_sim_options o;
    struct cr__opt_list arrivals;
    int json;
    const char *csv, *svg, *sweep;
};

#define SO(f) offsetof(struct sim_args, o.f)
#define SA(f) offsetof(struct sim_args, f)

/* Every flag, declared once: the parser, --help, --dump-options, and the
 * names a sweep varies. */
static const struct cr__opt sim_opts[] = {
    {.name = "arrivals", .type = CR__OPT_LIST, .offset = SA(arrivals), .metavar = "SPEC",
     .help = "uploads; repeat to merge sources:\n"
             "  burst:N[@T]            N at once at time T\n"
             "  constant:RATE:DUR[@T]  evenly spaced\n"
             "  poisson:RATE:DUR[@T]   random, at that mean rate\n"
             "  trace:FILE             one time per line (seconds\n"
             "                         or ISO-8601 UTC, as logs)\n"
             "RATE per second, or 600/m, 50/h, 1000000/d; DUR\n"
             "and T in seconds, or 1.5m, 2h, 1d"},
    {.name = "service", .type = CR__OPT_STR, .offset = SO(service), .metavar = "DIST",
     .help = "time to serve one upload:\n"
             "  SECS | exp:MEAN | uniform:LO:HI | normal:MEAN:SD\n"
             "  | lognormal:MEAN:SD | pct:P50:P90:P99:MAX\n"
             "  | bench:FILE[:single|parallel] (the latency\n"
             "  percentiles of classify_bench --json output)",
     .def = "1"},
    {.name = "boot", .type = CR__OPT_STR, .offset = SO(boot), .metavar = "DIST",
     .help = "launch to worker ready, same forms (default 40 s, an EC2 instance from an "
             "AMI; 0 with --local)"},
    {.name = "local", .type = CR__OPT_BOOL, .offset = SO(wake),
     .help = "a local fleet (cloudrec up): --boot defaults to 0, and an upload arriving "
             "while the fleet is below its cap makes the scaler tick at once (it waits on its "
             "SQLite queue)"},
    {.name = "max-instances", .type = CR__OPT_INT, .offset = SO(policy.max_instances),
     .metavar = "N", .help = "the cap", .def = "20", .lo = 1, .hi = 100000},
    {.name = "min-instances", .type = CR__OPT_INT, .offset = SO(policy.min_instances),
     .metavar = "N", .help = "kept even when idle", .def = "0", .lo = 0, .hi = 100000},
    {.name = "per-instance", .type = CR__OPT_INT, .offset = SO(policy.per_instance_target),
     .metavar = "N", .help = "backlog one instance absorbs", .def = "1", .lo = 1,
     .hi = 1000000},
    {.name = "scale-in-window-ms", .type = CR__OPT_I64, .offset = SO(policy.scale_in_window_ms),
     .metavar = "MS", .help = "low backlog this long before instances stop", .def = "30000",
     .lo = 1, .hi = 86400000},
    {.name = "interval-ms", .type = CR__OPT_INT, .offset = SO(interval_ms), .metavar = "MS",
     .help = "scaler tick", .def = "1000", .lo = 10, .hi = 3600000},
    {.name = "concurrency", .type = CR__OPT_INT, .offset = SO(concurrency), .metavar = "N",
     .help = "uploads one instance serves at once", .def = "1", .lo = 1, .hi = 1000},
    {.name = "stop-delay-ms", .type = CR__OPT_I64, .offset = SO(stop_delay_ms), .metavar = "MS",
     .help = "told to stop -> gone, still billed", .def = "0", .lo = 0, .hi = 86400000},
    {.name = "deaths-per-hour", .type = CR__OPT_DOUBLE, .offset = SO(deaths_per_hour),
     .metavar = "R", .help = "each instance dies at this rate", .def = "0", .lo = 0},
    {.name = "visibility-s", .type = CR__OPT_INT, .offset = SO(visibility_s), .metavar = "S",
     .help = "SQS visibility timeout", .def = "30", .lo = 1, .hi = 43200},
    {.name = "max-receives", .type = CR__OPT_INT, .offset = SO(max_receives), .metavar = "N",
     .help = "receives before a dead letter; 0 = never", .def = "5", .lo = 0, .hi = 1000,
     .flags = CR__OPT_ZERO_IS_NONE},
    {.name = "price", .type = CR__OPT_DOUBLE, .offset = SO(price_per_hour_usd), .metavar = "USD",
     .help = "per instance-hour (t2.micro)", .def = "0.0116", .lo = 0,
     .flags = CR__OPT_ABOVE_LO},
    {.name = "min-billed-s", .type = CR__OPT_INT, .offset = SO(min_billed_s), .metavar = "S",
     .help = "billed at least this per instance; 0 = no minimum", .def = "60", .lo = 0,
     .hi = 86400, .flags = CR__OPT_ZERO_IS_NONE},
    {.name = "until", .type = CR__OPT_DOUBLE, .offset = SO(until_s), .metavar = "S",
     .help = "end the run at S seconds (default: once drained, at most 10 days after the last "
             "arrival)",
     .lo = 0, .flags = CR__OPT_ABOVE_LO},
    {.name = "seed", .type = CR__OPT_U64, .offset = SO(seed), .metavar = "N",
     .help = "random seed", .def = "0", .lo = 0, .hi = 0x7fffffffffffffffLL},
    {.name = "json", .type = CR__OPT_BOOL, .offset = SA(json),
     .help = "one JSON object instead of the report"},
    {.name = "csv", .type = CR__OPT_STR, .offset = SA(csv), .metavar = "FILE",
     .help = "write one row per scaler tick (with --sweep, one file per value: FILE with "
             "-VALUE before the extension)"},
    {.name = "svg", .type = CR__OPT_STR, .offset = SA(svg), .metavar = "FILE",
     .help = "write a chart of the run (--sweep: as --csv)"},
    {.name = "sweep", .type = CR__OPT_STR, .offset = SA(sweep), .metavar = "FLAG=V1,V2",
     .help = "one run per value of another flag (e.g. "
             "scale-in-window-ms=10000,30000,60000); prints a table, or JSON lines with --json"},
};

static const struct cr__program sim_program = {
    .name = "cloudrec simulate",
    .synopsis = "--arrivals SPEC [options]",
    .about = "Runs the real scaling policy (the one cloudrec-scaler runs) on a simulated\n"
             "queue (SQS semantics) and fleet, and reports latency, instances and cost,\n"
             "beside an ideal fleet (unlimited instances, ready at once). The same flags\n"
             "and seed give the same output. See docs/simulate.md.\n\n",
    .epilog = "`cloudrec -v simulate ...` logs the policy's decisions on stderr, in the\n"
              "scaler's format with sim_s=<simulated time> added.\n"
              "Exit status: 0 success, 1 the run failed (e.g. a trace cannot be read),\n"
              "2 usage error.\n",
    .opts = sim_opts,
    .n_opts = sizeof(sim_opts) / sizeof(sim_opts[0]),
    .size = sizeof(struct sim_args),
};


/* Parses the flags; -1 to go on, else the exit status. */
static int sim_parse(int argc, char **argv, struct sim_args *a)
{
    int rc = cr__opts_parse(&sim_program, argc, argv, a, NULL);
    if (rc >= 0)
        return rc;
    if (!a->arrivals.n) {
        fprintf(stderr, "cloudrec simulate: --arrivals is required\n"
                        "try 'cloudrec simulate --help'\n");
        return SIM_EXIT_USAGE;
    }
    a->o.arrivals = a->arrivals.v;
    if (a->o.wake && !a->o.boot)
        a->o.boot = "0";
    a->o.keep_series = a->csv || a->svg;
    return -1;
}

/* Writes one format of the result to path. */
static int write_file(const struct cr_sim_result *r, enum cr_sim_format fmt, const char *path)
{
    struct cr_buf b;
    struct cr_error err = {0};
    cr_buf_init(&b, 0);
    cr_status st = cr__sim_write(r, fmt, &b);
    if (st == CR_OK)
        st = cr__file_write_atomic(path, b.data, b.len, &err);
    cr_buf_clear(&b);
    if (st != CR_OK)
        tool_fail("cloudrec", NULL, st, &err);
    return st == CR_OK;
}

/* path with "-value" inserted before its extension (or appended), into out. */
static int sweep_path(const char *path, const char *value, char *out, size_t n)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    if (!dot || (slash && dot < slash) || dot == (slash ? slash + 1 : path))
        dot = path + strlen(path);
    int len = snprintf(out, n, "%.*s-%s%s", (int)(dot - path), path, value, dot);
    if (len < 0 || (size_t)len >= n || strchr(value, '/')) {
        fprintf(stderr, "cloudrec: --sweep: cannot name a file for value '%s'\n", value);
        return 0;
    }
    return 1;
}

/* Writes the CSV and SVG files asked for; with a sweep value, one per value. */
static int write_files(const struct sim_args *a, const struct cr_sim_result *r, const char *value)
{
    char path[4096];
    if (a->csv && !(value ? sweep_path(a->csv, value, path, sizeof(path))
                          : (snprintf(path, sizeof(path), "%s", a->csv), 1)))
        return 0;
    if (a->csv && !write_file(r, CR_SIM_CSV, path))
        return 0;
    if (a->svg && !(value ? sweep_path(a->svg, value, path, sizeof(path))
                          : (snprintf(path, sizeof(path), "%s", a->svg), 1)))
        return 0;
    return !a->svg || write_file(r, CR_SIM_SVG, path);
}

/* Runs the simulation a describes into *r: -1 when it ran (the caller
 * frees r), else the exit status after a message. */
static int simulate(const struct sim_args *a, struct cr_sim_result *r)
{
    struct cr_error err = {0};
    cr_status st = cr__sim_run(&a->o, r, &err);
    if (st == CR_OK)
        return -1;
    tool_fail("cloudrec", "simulate", st, &err);
    return st == CR_ERR_INVALID ? SIM_EXIT_USAGE : SIM_EXIT_FAIL;
}

/* One run, printed (report or JSON) and written to the files asked for. */
static int run_once(struct sim_args *a)
{
    struct cr_sim_result r;
    int failed = simulate(a, &r);
    if (failed >= 0)
        return failed;
    struct cr_buf b;
    cr_buf_init(&b, 0);
    enum cr_sim_format fmt = a->json ? CR_SIM_JSON : CR_SIM_TEXT;
    int rc = cr__sim_write(&r, fmt, &b) == CR_OK ? 0 : SIM_EXIT_FAIL;
    if (rc == 0)
        fwrite(b.data, 1, b.len, stdout);
    cr_buf_clear(&b);
    if (rc == 0 && !write_files(a, &r, NULL))
        rc = SIM_EXIT_FAIL;
    cr__sim_result_clear(&r);
    return rc;
}

/* 1 when a sweep may vary the flag name[0..len); else says why, 0. */
static int sweepable(const char *name, size_t len)
{
    static const char *const names[] = {
        "service",       "boot",          "max-instances",   "min-instances", "per-instance",
        "scale-in-window-ms", "interval-ms", "concurrency",  "stop-delay-ms", "deaths-per-hour",
        "visibility-s",  "max-receives",  "price",           "min-billed-s",  "seed"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == len && strncmp(names[i], name, len) == 0)
            return 1;
    fprintf(stderr, "cloudrec simulate: --sweep: '%.*s' is not a flag a sweep can vary\n",
            (int)len, name);
    return 0;
}

/* One row of the sweep table (or a JSON line). */
static int sweep_row(struct sim_args *a, const char *flag, const char *value)
{
    struct cr_sim_result r;
    int failed = simulate(a, &r);
    if (failed >= 0)
        return failed;
    cr_status st = CR_OK;
    const struct cr_sim_figures *f = &r.fleet;
    if (a->json) {
        struct cr_buf b;
        cr_buf_init(&b, 0);
        struct cr__jw *w = cr__jw_new();
        cr__jw_object(w, NULL);
        cr__jw_text(w, "sweep", flag);
        cr__jw_text(w, "value", value);
        cr__sim_json(w, "result", &r);
        cr__jw_end(w);
        st = cr__jw_finish(w, &b);
        if (st == CR_OK)
            printf("%s\n", (const char *)b.data);
        cr_buf_clear(&b);
    } else {
        printf("%-*s %9ld %10.3f %10.3f %10.3f %5d %9.3f %12.1f %10.4f %9ld\n",
               (int)(strlen(flag) > 12 ? strlen(flag) : 12), value, f->completed, f->latency_avg_s,
               f->latency_p95_s, f->latency_max_s, f->peak_instances, f->mean_instances,
               f->instance_seconds, f->cost_usd, r.launched);
    }
    if (st == CR_OK && !write_files(a, &r, value))
        st = CR_ERR_IO;
    cr__sim_result_clear(&r);
    return st == CR_OK ? 0 : SIM_EXIT_FAIL;
}

/* --sweep FLAG=V1,V2,...: one run per value, the other flags unchanged. */
static int run_sweep(struct sim_args *a)
{
    const char *eq = strchr(a->sweep, '=');
    if (!eq)
        fprintf(stderr, "cloudrec simulate: --sweep takes FLAG=V1,V2,..., got '%s'\n",
                a->sweep);
    if (!eq || !sweepable(a->sweep, (size_t)(eq - a->sweep)))
        return SIM_EXIT_USAGE;
    char flag[64];
    snprintf(flag, sizeof(flag), "%.*s", (int)(eq - a->sweep), a->sweep);
    char values[1024];
    if (snprintf(values, sizeof(values), "%s", eq + 1) >= (int)sizeof(values) || !values[0]) {
        fprintf(stderr, "cloudrec: --sweep: no values, or too long a list\n");
        return SIM_EXIT_USAGE;
    }
    if (!a->json)
        printf("%-12s %9s %10s %10s %10s %5s %9s %12s %10s %9s\n", flag, "completed", "avg_s",
               "p95_s", "max_s", "peak", "mean_inst", "instance_s", "cost_usd", "launched");
    int n = 0, rc = 0;
    for (char *v = values, *next; v && rc == 0; v = next, n++) {
        next = strchr(v, ',');
        if (next)
            *next++ = '\0';
        if (n == SIM_MAX_SWEEP || !cr__opts_set(&sim_program, a, flag, v)) {
            if (n == SIM_MAX_SWEEP)
                fprintf(stderr, "cloudrec: --sweep: at most %d values\n", SIM_MAX_SWEEP);
            return SIM_EXIT_USAGE;
        }
        rc = sweep_row(a, flag, v);
        fflush(stdout);
    }
    return rc;
}

int cloudrec_cmd_simulate(int argc, char **argv)
{
    struct sim_args a;
    int rc = sim_parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    return a.sweep ? run_sweep(&a) : run_once(&a);
}
