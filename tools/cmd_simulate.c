/*
 * cmd_simulate.c - `cloudrec simulate`: flags for cr__sim_run
 * (include/cloudrec/sim.h), the report, the CSV and SVG files, sweeps.
 *
 * Every flag is declared once, in flags[] below: the getopt table, the
 * --help text and the sweep's parameter names are all made from it.
 */
#include "cmd_simulate.h"

#include "cloudrec.h"
#include "sim/sim_internal.h"
#include "tool_util.h"
#include "internal.h"
#include "sim/sim.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SIM_EXIT_FAIL = 1, SIM_EXIT_USAGE = 2, SIM_MAX_ARRIVALS = 64, SIM_MAX_SWEEP = 64 };

/* Option codes (the getopt values). */
enum {
    F_ARRIVALS = 'a',
    F_SERVICE = 's',
    F_BOOT = 'b',
    F_LOCAL = 'L',
    F_MAX = 'x',
    F_MIN = 'n',
    F_TARGET = 't',
    F_WINDOW = 'W',
    F_INTERVAL = 'i',
    F_CONCURRENCY = 'c',
    F_STOP_DELAY = 'D',
    F_DEATHS = 'd',
    F_VISIBILITY = 'V',
    F_RECEIVES = 'R',
    F_PRICE = 'p',
    F_MIN_BILLED = 'B',
    F_UNTIL = 'u',
    F_SEED = 'S',
    F_JSON = 'j',
    F_CSV = 'C',
    F_SVG = 'G',
    F_SWEEP = 'w',
    F_HELP = 'h'
};

/* One flag: its name, argument, code, integer range (lo > hi: not an
 * integer) and help text (lines after the first are indented). */
struct sim_flag {
    const char *name, *arg;
    int code;
    long long lo, hi;
    const char *help;
};

static const struct sim_flag flags[] = {
    {"arrivals", "SPEC", F_ARRIVALS, 1, 0,
     "uploads; repeat to merge sources:\n"
     "  burst:N[@T]            N at once at time T\n"
     "  constant:RATE:DUR[@T]  evenly spaced\n"
     "  poisson:RATE:DUR[@T]   random, at that mean rate\n"
     "  trace:FILE             one time per line (seconds\n"
     "                         or ISO-8601 UTC, as logs)\n"
     "RATE per second, or 600/m, 50/h, 1000000/d; DUR\n"
     "and T in seconds, or 1.5m, 2h, 1d"},
    {"service", "DIST", F_SERVICE, 1, 0,
     "time to serve one upload (default 1 s):\n"
     "  SECS | exp:MEAN | uniform:LO:HI | normal:MEAN:SD\n"
     "  | lognormal:MEAN:SD | pct:P50:P90:P99:MAX\n"
     "  | bench:FILE[:single|parallel] (the latency\n"
     "  percentiles of classify_bench --json output)"},
    {"boot", "DIST", F_BOOT, 1, 0,
     "launch to worker ready, same forms (default 40 s,\nan EC2 instance from an AMI)"},
    {"local", NULL, F_LOCAL, 1, 0,
     "a local fleet (cloudrec up): --boot defaults to 0, and an upload\n"
     "arriving while the fleet is below its cap makes the scaler tick at\n"
     "once (it waits on its SQLite queue)"},
    {"max-instances", "N", F_MAX, 1, 100000, "the cap (default 20)"},
    {"min-instances", "N", F_MIN, 0, 100000, "kept even when idle (default 0)"},
    {"per-instance", "N", F_TARGET, 1, 1000000, "backlog one instance absorbs (default 1)"},
    {"scale-in-window-ms", "MS", F_WINDOW, 1, 86400000,
     "low backlog this long before instances stop\n(default 30000)"},
    {"interval-ms", "MS", F_INTERVAL, 10, 3600000, "scaler tick (default 1000)"},
    {"concurrency", "N", F_CONCURRENCY, 1, 1000, "uploads one instance serves at once (default 1)"},
    {"stop-delay-ms", "MS", F_STOP_DELAY, 0, 86400000,
     "told to stop -> gone, still billed (default 0)"},
    {"deaths-per-hour", "R", F_DEATHS, 1, 0, "each instance dies at this rate (default 0)"},
    {"visibility-s", "S", F_VISIBILITY, 1, 43200, "SQS visibility timeout (default 30)"},
    {"max-receives", "N", F_RECEIVES, 0, 1000,
     "receives before a dead letter (default 5,\n0 = never)"},
    {"price", "USD", F_PRICE, 1, 0, "per instance-hour (default 0.0116, t2.micro)"},
    {"min-billed-s", "S", F_MIN_BILLED, 0, 86400,
     "billed at least this per instance (default 60,\n0 = no minimum)"},
    {"until", "S", F_UNTIL, 1, 0,
     "end the run at S seconds (default: once drained,\nat most 10 days after the last arrival)"},
    {"seed", "N", F_SEED, 0, 0x7fffffffffffffffLL, "random seed (default 0)"},
    {"json", NULL, F_JSON, 1, 0, "one JSON object instead of the report"},
    {"csv", "FILE", F_CSV, 1, 0,
     "write one row per scaler tick (with --sweep, one\nfile per value: FILE with -VALUE before "
     "the\nextension)"},
    {"svg", "FILE", F_SVG, 1, 0, "write a chart of the run (--sweep: as --csv)"},
    {"sweep", "FLAG=V1,V2", F_SWEEP, 1, 0,
     "one run per value of another flag (e.g.\n"
     "scale-in-window-ms=10000,30000,60000); prints a\n"
     "table, or JSON lines with --json"},
    {"help", NULL, F_HELP, 1, 0, "this help"},
};

/* What the command line asked for. Strings point into argv. */
struct sim_args {
    struct cr_sim_options o;
    const char *arrivals[SIM_MAX_ARRIVALS + 1];
    int n_arrivals;
    int local, json;
    const char *csv, *svg, *sweep;
};

void cloudrec_simulate_usage(FILE *f)
{
    fprintf(f, "usage: cloudrec simulate --arrivals SPEC [options]\n\n"
               "Runs the real scaling policy (the one cloudrec-scaler runs) on a simulated\n"
               "queue (SQS semantics) and fleet, and reports latency, instances and cost,\n"
               "beside an ideal fleet (unlimited instances, ready at once). The same flags\n"
               "and seed give the same output. See docs/simulate.md.\n");
    for (size_t i = 0; i < TOOL_LEN(flags); i++) {
        char head[48];
        snprintf(head, sizeof(head), "--%s%s%s", flags[i].name, flags[i].arg ? " " : "",
                 flags[i].arg ? flags[i].arg : "");
        const char *h = flags[i].help;
        for (int first = 1; *h; first = 0) {
            size_t len = strcspn(h, "\n");
            fprintf(f, "  %-24s %.*s\n", first ? head : "", (int)len, h);
            h += len + (h[len] == '\n');
        }
    }
    fprintf(f, "`cloudrec -v simulate ...` logs the policy's decisions on stderr, in the\n"
               "scaler's format with sim_s=<simulated time> added.\n"
               "Exit status: 0 success, 1 the run failed (e.g. a trace cannot be read),\n"
               "2 usage error.\n");
}

static const struct sim_flag *flag_by_code(int code)
{
    for (size_t i = 0; i < TOOL_LEN(flags); i++)
        if (flags[i].code == code)
            return &flags[i];
    return NULL;
}

/* A finite number >= 0. */
static int flag_double(const struct sim_flag *fl, const char *val, double *out)
{
    char *end = NULL;
    double v = strtod(val, &end);
    if (end == val || *end || !isfinite(v) || v < 0) {
        fprintf(stderr, "cloudrec: --%s must be a number >= 0, got '%s'\n", fl->name, val);
        return 0;
    }
    *out = v;
    return 1;
}

/* flag_double for a value that must be above zero. */
static int flag_positive(const struct sim_flag *fl, const char *val, double *out)
{
    if (!flag_double(fl, val, out))
        return 0;
    if (*out > 0)
        return 1;
    fprintf(stderr, "cloudrec: --%s must be > 0\n", fl->name);
    return 0;
}

/* Applies an integer flag. */
static int apply_int(struct sim_args *a, const struct sim_flag *fl, const char *val)
{
    long long v;
    char name[40];
    snprintf(name, sizeof(name), "--%s", fl->name);
    if (!tool_flag_int("cloudrec", name, val, fl->lo, fl->hi, &v))
        return 0;
    struct cr_sim_options *o = &a->o;
    switch (fl->code) {
    case F_MAX:
        o->policy.max_instances = (int)v;
        break;
    case F_MIN:
        o->policy.min_instances = (int)v;
        break;
    case F_TARGET:
        o->policy.per_instance_target = (int)v;
        break;
    case F_WINDOW:
        o->policy.scale_in_window_ms = v;
        break;
    case F_INTERVAL:
        o->interval_ms = (int)v;
        break;
    case F_CONCURRENCY:
        o->concurrency = (int)v;
        break;
    case F_STOP_DELAY:
        o->stop_delay_ms = v;
        break;
    case F_VISIBILITY:
        o->visibility_s = (int)v;
        break;
    case F_RECEIVES:
        o->max_receives = v ? (int)v : -1;
        break;
    case F_MIN_BILLED:
        o->min_billed_s = v ? (int)v : -1;
        break;
    case F_SEED:
        o->seed = (uint64_t)v;
        break;
    }
    return 1;
}

/* Applies one flag (a tool_flag_fn on struct sim_args); 0 after a message. */
static int sim_flag(int c, const char *val, void *ctx)
{
    struct sim_args *a = ctx;
    const struct sim_flag *fl = flag_by_code(c);
    if (!fl)
        return 0;
    if (fl->lo <= fl->hi)
        return apply_int(a, fl, val);
    switch (c) {
    case F_ARRIVALS:
        if (a->n_arrivals == SIM_MAX_ARRIVALS) {
            fprintf(stderr, "cloudrec: at most %d --arrivals\n", SIM_MAX_ARRIVALS);
            return 0;
        }
        a->arrivals[a->n_arrivals++] = val;
        return 1;
    case F_SERVICE:
        a->o.service = val;
        return 1;
    case F_BOOT:
        a->o.boot = val;
        return 1;
    case F_LOCAL:
        a->local = 1;
        a->o.wake = 1;
        return 1;
    case F_JSON:
        a->json = 1;
        return 1;
    case F_CSV:
        a->csv = val;
        return 1;
    case F_SVG:
        a->svg = val;
        return 1;
    case F_SWEEP:
        a->sweep = val;
        return 1;
    case F_DEATHS:
        return flag_double(fl, val, &a->o.deaths_per_hour);
    case F_PRICE:
        return flag_positive(fl, val, &a->o.price_per_hour_usd);
    case F_UNTIL:
        return flag_positive(fl, val, &a->o.until_s);
    }
    return 0;
}

/* Parses the flags; -1 to go on, else the exit status. */
static int sim_parse(int argc, char **argv, struct sim_args *a)
{
    struct option opts[TOOL_LEN(flags) + 1];
    memset(opts, 0, sizeof(opts));
    for (size_t i = 0; i < TOOL_LEN(flags); i++)
        opts[i] = (struct option){flags[i].name, flags[i].arg ? required_argument : no_argument,
                                  NULL, flags[i].code};
    int rc = tool_getopt(argc, argv, "h", opts, sim_flag, a, cloudrec_simulate_usage);
    if (rc >= 0)
        return rc;
    if (optind < argc) {
        fprintf(stderr, "cloudrec: simulate takes no arguments ('%s')\n", argv[optind]);
        return SIM_EXIT_USAGE;
    }
    if (!a->n_arrivals) {
        fprintf(stderr, "cloudrec: simulate needs --arrivals (see simulate --help)\n");
        return SIM_EXIT_USAGE;
    }
    a->o.arrivals = a->arrivals;
    if (a->local && !a->o.boot)
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
    int rc = cr__sim_write(&r, a->json ? CR_SIM_JSON : CR_SIM_TEXT, &b) == CR_OK ? 0 : SIM_EXIT_FAIL;
    if (rc == 0)
        fwrite(b.data, 1, b.len, stdout);
    cr_buf_clear(&b);
    if (rc == 0 && !write_files(a, &r, NULL))
        rc = SIM_EXIT_FAIL;
    cr__sim_result_clear(&r);
    return rc;
}

/* The flag a sweep varies, by its name; 0 after a message. */
static const struct sim_flag *sweep_flag(const char *name, size_t len)
{
    static const int sweepable[] = {F_SERVICE,    F_BOOT,     F_MAX,         F_MIN,        F_TARGET,
                                    F_WINDOW,     F_INTERVAL, F_CONCURRENCY, F_STOP_DELAY, F_DEATHS,
                                    F_VISIBILITY, F_RECEIVES, F_PRICE,       F_MIN_BILLED, F_SEED};
    for (size_t i = 0; i < TOOL_LEN(sweepable); i++) {
        const struct sim_flag *fl = flag_by_code(sweepable[i]);
        if (strlen(fl->name) == len && strncmp(fl->name, name, len) == 0)
            return fl;
    }
    fprintf(stderr, "cloudrec: --sweep: '%.*s' is not a flag a sweep can vary\n", (int)len, name);
    return NULL;
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
    const struct sim_flag *fl = eq ? sweep_flag(a->sweep, (size_t)(eq - a->sweep)) : NULL;
    if (!eq)
        fprintf(stderr, "cloudrec: --sweep takes FLAG=V1,V2,..., got '%s'\n", a->sweep);
    if (!fl)
        return SIM_EXIT_USAGE;
    char values[1024];
    if (snprintf(values, sizeof(values), "%s", eq + 1) >= (int)sizeof(values) || !values[0]) {
        fprintf(stderr, "cloudrec: --sweep: no values, or too long a list\n");
        return SIM_EXIT_USAGE;
    }
    if (!a->json)
        printf("%-12s %9s %10s %10s %10s %5s %9s %12s %10s %9s\n", fl->name, "completed", "avg_s",
               "p95_s", "max_s", "peak", "mean_inst", "instance_s", "cost_usd", "launched");
    int n = 0, rc = 0;
    for (char *v = values, *next; v && rc == 0; v = next, n++) {
        next = strchr(v, ',');
        if (next)
            *next++ = '\0';
        if (n == SIM_MAX_SWEEP || !sim_flag(fl->code, v, a)) {
            if (n == SIM_MAX_SWEEP)
                fprintf(stderr, "cloudrec: --sweep: at most %d values\n", SIM_MAX_SWEEP);
            return SIM_EXIT_USAGE;
        }
        rc = sweep_row(a, fl->name, v);
        fflush(stdout);
    }
    return rc;
}

int cloudrec_cmd_simulate(int argc, char **argv)
{
    struct sim_args a;
    memset(&a, 0, sizeof(a));
    int rc = sim_parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    return a.sweep ? run_sweep(&a) : run_once(&a);
}
