/*
 * cloudrec-scaler - keep a fleet of workers sized to the request backlog.
 *
 *   cloudrec-scaler --requests URL [--fleet URL] [policy flags] [--output URL]
 *                   [--model DIR] [-- WORKER-FLAGS...]
 *
 * Thin by design: flags and signals here; the loop is cr_scaler_run
 * (include/cloudrec/service.h), the policy cr_scale_decide (scale.h).
 * SIGTERM or SIGINT: stop every worker gracefully, exit 0.
 */
#include "cloudrec.h"
#include "cloudrec/scale.h"
#include "cloudrec/service.h"
#include "tool_util.h"
#include "internal.h"
#include "pipeline/pipeline.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_USAGE = 2, MAX_WORKER_ARGS = 64 };

static const char *prog = "cloudrec-scaler";

static void usage(FILE *f)
{
    fprintf(f, "usage: cloudrec-scaler --requests URL [options] [-- WORKER-FLAGS...]\n"
               "\n"
               "Every interval: reads the request queue's backlog, lists the fleet, decides\n"
               "(desired = clamp(ceil(backlog / per-instance), min, max); out at once, in after\n"
               "the window, idle workers only) and logs one line per decision.\n"
               "  --requests URL            request queue (also passed to every worker)\n"
               "  --fleet URL               local: (default), local:///state-dir, or\n"
               "                            ec2:?ami=AMI&type=T&fleet=NAME&... (docs/aws-mode.md)\n"
               "  --min N                   fewest workers, even when idle (default 0)\n"
               "  --max N                   most workers (default 20)\n"
               "  --per-instance N          backlog one worker absorbs (default 1)\n"
               "  --scale-in-window-ms MS   backlog must stay low this long before stopping\n"
               "                            workers (default 30000)\n"
               "  --interval-ms MS          one decision this often (default 1000)\n"
               "  --log-every-s S           repeat an unchanged decision line this often\n"
               "                            (default 30)\n"
               "  --kill-after-ms MS        on exit, SIGKILL workers still busy after this\n"
               "                            (default 30000)\n"
               "  --status-file PATH        rewrite PATH every tick with what it saw and decided\n"
               "                            (JSON; cloudrec-web --scaler-status reads it)\n"
               "Worker command (ec2: it goes into the instances' user data):\n"
               "  --worker PATH             local: the worker program (default: cloudrec-worker\n"
               "                            next to this program, else on PATH); ec2: fleets\n"
               "                            take it from their worker= setting\n"
               "  --output URL              passed to workers as --output\n"
               "  --model DIR               passed to workers as --model\n"
               "  -- FLAGS...               passed to every worker as they are\n"
               "  --print-user-data         print the user data ec2: instances would boot with\n"
               "                            and exit (no AWS request is made)\n"
               "  --log-level LEVEL         debug, info (default), warn, error, off\n"
               "  -h, --help                this help\n"
               "SIGTERM or SIGINT: every worker gets SIGTERM (finishes its image), exit 0.\n"
               "Exit status: 0 stopped, 2 usage or setup error.\n");
}

struct args {
    struct cr_scaler_options s;
    const char *worker, *output, *model;
    int log_level;
    int print_user_data;
};

/* Applies one numeric flag; 0 (with a message) when out of range. */
static int numeric_flag(int c, const char *val, struct args *a)
{
    static const struct tool_int_flag ranges[] = {{'n', "--min", 0, 1000},
                                                  {'x', "--max", 1, 1000},
                                                  {'p', "--per-instance", 1, 1000000},
                                                  {'W', "--scale-in-window-ms", 1, 86400000},
                                                  {'i', "--interval-ms", 10, 3600000},
                                                  {'l', "--log-every-s", 1, 86400},
                                                  {'K', "--kill-after-ms", 1, 3600000}};
    long long v;
    int found = tool_int_flags(prog, ranges, TOOL_LEN(ranges), c, val, &v);
    if (found < 0)
        fprintf(stderr, "%s: unknown option\n", prog);
    if (found != 1)
        return 0;
    if (c == 'n')
        a->s.policy.min_instances = (int)v;
    if (c == 'x')
        a->s.policy.max_instances = (int)v;
    if (c == 'p')
        a->s.policy.per_instance_target = (int)v;
    if (c == 'W')
        a->s.policy.scale_in_window_ms = v;
    if (c == 'i')
        a->s.interval_ms = (int)v;
    if (c == 'l')
        a->s.log_every_ms = (int)v * 1000;
    if (c == 'K')
        a->s.kill_after_ms = (int)v;
    return 1;
}

/* Applies one flag (a tool_flag_fn on struct args); 0 (with a message) on
 * a bad value. */
static int apply_flag(int c, const char *val, void *ctx)
{
    struct args *a = ctx;
    switch (c) {
    case 'U':
        a->print_user_data = 1;
        return 1;
    case 'r':
        a->s.requests_url = val;
        return 1;
    case 'f':
        a->s.fleet_url = val;
        return 1;
    case 'S':
        a->s.status_path = val;
        return 1;
    case 'w':
        a->worker = val;
        return 1;
    case 'o':
        a->output = val;
        return 1;
    case 'm':
        a->model = val;
        return 1;
    case 'L':
        return tool_log_level(prog, val, &a->log_level);
    }
    return numeric_flag(c, val, a);
}

/* Parses argv into a; returns -1 to go on, else the exit code. Leaves
 * optind at the first worker flag (after "--"). */
static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {{"requests", required_argument, NULL, 'r'},
                                         {"fleet", required_argument, NULL, 'f'},
                                         {"min", required_argument, NULL, 'n'},
                                         {"max", required_argument, NULL, 'x'},
                                         {"per-instance", required_argument, NULL, 'p'},
                                         {"scale-in-window-ms", required_argument, NULL, 'W'},
                                         {"interval-ms", required_argument, NULL, 'i'},
                                         {"log-every-s", required_argument, NULL, 'l'},
                                         {"kill-after-ms", required_argument, NULL, 'K'},
                                         {"status-file", required_argument, NULL, 'S'},
                                         {"worker", required_argument, NULL, 'w'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"model", required_argument, NULL, 'm'},
                                         {"log-level", required_argument, NULL, 'L'},
                                         {"print-user-data", no_argument, NULL, 'U'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    /* "+": stop at the first non-option, so worker flags after "--" stay. */
    int rc = tool_getopt(argc, argv, "+h", opts, apply_flag, a, usage);
    if (rc >= 0)
        return rc;
    if (!a->s.requests_url) {
        fprintf(stderr, "%s: --requests is required\n", prog);
        return EXIT_USAGE;
    }
    if (a->s.policy.min_instances >
        (a->s.policy.max_instances ? a->s.policy.max_instances : CR_SCALE_DEFAULT_MAX_INSTANCES)) {
        fprintf(stderr, "%s: --min must not be above --max\n", prog);
        return EXIT_USAGE;
    }
    return -1;
}

/* Builds the worker command: program, --output, --model, then the flags
 * after "--". worker_path holds the program's absolute path. */
static int build_worker_argv(const struct args *a, const char *worker_path, int argc, char **argv,
                             const char **out)
{
    int n = 0;
    out[n++] = worker_path;
    if (a->output) {
        out[n++] = "--output";
        out[n++] = a->output;
    }
    if (a->model) {
        out[n++] = "--model";
        out[n++] = a->model;
    }
    for (int i = optind; i < argc; i++) {
        if (n >= MAX_WORKER_ARGS - 1) {
            fprintf(stderr, "%s: too many worker flags (at most %d)\n", prog, MAX_WORKER_ARGS - 8);
            return 0;
        }
        out[n++] = argv[i];
    }
    out[n] = NULL;
    return 1;
}

/* Finds the worker program for a local fleet into worker_path (size n).
 * ec2: fleets take theirs from the URL: argv[0] is only a placeholder. */
static int find_worker(const struct args *a, char *worker_path, size_t n)
{
    struct cr_error err = {0};
    int ec2 = strncmp(a->s.fleet_url, "ec2:", 4) == 0;
    if (ec2 && a->worker) {
        fprintf(stderr,
                "%s: --worker is for local fleets; an ec2: fleet runs the program of its "
                "worker= setting\n",
                prog);
        return 0;
    }
    if (ec2) {
        snprintf(worker_path, n, "%s", "cloudrec-worker");
        return 1;
    }
    if (a->worker && !realpath(a->worker, worker_path)) {
        fprintf(stderr, "%s: --worker %s: %s\n", prog, a->worker, strerror(errno));
        return 0;
    }
    if (!a->worker && cr_find_program("cloudrec-worker", NULL, worker_path, n, &err) != CR_OK) {
        fprintf(stderr, "%s: %s\n", prog, err.message);
        return 0;
    }
    return 1;
}

/* --print-user-data: the boot script of an instance the scaler would
 * launch, on stdout. */
static int print_user_data(const struct cr_scaler_options *o)
{
    struct cr_error err = {0};
    struct cr_buf out;
    cr_buf_init(&out, 0);
    cr_status st = cr_scaler_user_data(o, &out, &err);
    if (st == CR_OK)
        fwrite(out.data, 1, out.len, stdout);
    else
        tool_fail(prog, NULL, st, &err);
    cr_buf_free(&out);
    return st == CR_OK ? 0 : EXIT_USAGE;
}

int main(int argc, char **argv)
{
    struct args a = {.log_level = CR_LOG_INFO};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    if (!a.s.fleet_url)
        a.s.fleet_url = "local:";
    cr_log_set_handler(cr_log_stderr, NULL, (enum cr_log_level)a.log_level);
    const volatile sig_atomic_t *stop = tool_stop_on_signals();

    struct cr_error err = {0};
    char worker_path[4096];
    const char *worker_argv[MAX_WORKER_ARGS];
    if (!find_worker(&a, worker_path, sizeof(worker_path)) ||
        !build_worker_argv(&a, worker_path, argc, argv, worker_argv))
        return EXIT_USAGE;
    a.s.worker_argv = worker_argv;
    a.s.stop = stop;
    if (a.print_user_data)
        return print_user_data(&a.s);
    cr_status st = cr_scaler_run(&a.s, &err);
    if (st != CR_OK) {
        tool_fail(prog, NULL, st, &err);
        return EXIT_USAGE;
    }
    return 0;
}
