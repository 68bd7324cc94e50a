/*
 * cmd_up.c - `cloudrec up`: flags and signals for cr_up_start/_wait/_stop
 * (include/cloudrec/service.h). Part of the cloudrec CLI; kept apart so
 * cloudrec.c stays a dispatcher.
 */
#include "cmd_up.h"

#include "cloudrec.h"
#include "cloudrec/service.h"
#include "tool_util.h"
#include "pipeline/pipeline.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { UP_EXIT_FAIL = 1, UP_EXIT_USAGE = 2, UP_MAX_EXTRA = 32 };

void cloudrec_up_usage(FILE *f)
{
    fprintf(f,
            "usage: cloudrec up [--port N] [--bind ADDR] [--data DIR] [--max-workers N]\n"
            "                   [--model DIR] [options]\n"
            "\n"
            "Runs the whole service on this machine: cloudrec-web on ADDR:N, cloudrec-scaler\n"
            "and up to N local cloudrec-worker processes, over a data directory holding the\n"
            "file stores (input/, output/), the SQLite queues (queue.db: requests, with\n"
            "dead letters in requests-dead, and replies) and the worker state (workers/).\n"
            "  --port N                  HTTP port (default 8000)\n"
            "  --bind ADDR               listen address (default 127.0.0.1)\n"
            "  --data DIR                data directory (default ./cloudrec-data)\n"
            "  --max-workers N           most workers at once (default 20 with --fleet ec2:;\n"
            "                            local workers: at most --workers-per-cpu per CPU)\n"
            "  --workers-per-cpu N       local workers per online CPU at most (default 1:\n"
            "                            more only time-share the cores and slow a burst)\n"
            "  --min-workers N           workers kept even when idle (default 0)\n"
            "  --per-instance N          backlog one worker absorbs (default 1)\n"
            "  --scale-in-window-ms MS   low backlog this long before workers stop\n"
            "                            (default 10000 locally, 30000 with --fleet ec2:)\n"
            "  --interval-ms MS          scaler decision interval (default 1000)\n"
            "  --visibility-s S          worker visibility timeout (default 30)\n"
            "  --max-receives N          receives before a request is dead-lettered (default 5)\n"
            "  --stop-timeout-ms MS      on stop, SIGKILL a process after this (default 30000)\n"
            "  --keep-inputs-s S         remove an answered upload S s after it came\n"
            "                            (default 3600; 0 = keep)\n"
            "  --keep-outputs-s S        remove results S s after they were written, and\n"
            "                            unanswered uploads too (default 86400; 0 = keep)\n"
            "  --model DIR               model directory (default: the usual lookup)\n"
            "  --web-arg ARG             pass ARG to cloudrec-web (repeatable)\n"
            "  --worker-arg ARG          pass ARG to every worker (repeatable)\n"
            "Using AWS (or other) stores, queues and fleets instead of the data directory's\n"
            "(they must exist: see `cloudrec setup`; AWS_REGION etc. as usual):\n"
            "  --input URL               uploads store (s3://bucket[/prefix], file:///dir)\n"
            "  --output URL              results store\n"
            "  --requests URL            request queue (sqs://name, sqlite:///db?name=q)\n"
            "  --replies URL             reply queue\n"
            "  --fleet URL               workers (local:///dir, ec2:?ami=...; default the\n"
            "                            data directory's local fleet)\n"
            "The programs cloudrec-web, cloudrec-scaler and cloudrec-worker are taken from\n"
            "this program's directory, else from PATH. Ctrl-C or SIGTERM stops the web tier\n"
            "(no new uploads), then the scaler, which lets each worker finish its image.\n"
            "Exit status: 0 stopped cleanly, 1 a process failed, 2 usage or setup error.\n");
}

struct up_args {
    struct cr_up_options o;
    const char *web_args[UP_MAX_EXTRA + 1];
    const char *worker_args[UP_MAX_EXTRA + 1];
    int n_web, n_worker;
};

/* Applies one numeric flag; 0 (with a message) when out of range. */
static int up_numeric(int c, const char *val, struct up_args *a)
{
    static const struct tool_int_flag ranges[] = {{'p', "--port", 1, 65535},
                                                  {'x', "--max-workers", 1, 1000},
                                                  {'n', "--min-workers", 0, 1000},
                                                  {'t', "--per-instance", 1, 1000000},
                                                  {'W', "--scale-in-window-ms", 1, 86400000},
                                                  {'i', "--interval-ms", 10, 3600000},
                                                  {'V', "--visibility-s", 1, 43200},
                                                  {'R', "--max-receives", 1, 1000},
                                                  {'S', "--stop-timeout-ms", 1, 3600000},
                                                  {'K', "--keep-inputs-s", 0, 315360000},
                                                  {'k', "--keep-outputs-s", 0, 315360000},
                                                  {'P', "--workers-per-cpu", 1, 64}};
    long long v;
    if (tool_int_flags("cloudrec", ranges, TOOL_LEN(ranges), c, val, &v) != 1)
        return 0;
    if (c == 'p')
        a->o.port = (int)v;
    if (c == 'x')
        a->o.policy.max_instances = (int)v;
    if (c == 'n')
        a->o.policy.min_instances = (int)v;
    if (c == 't')
        a->o.policy.per_instance_target = (int)v;
    if (c == 'W')
        a->o.policy.scale_in_window_ms = v;
    if (c == 'i')
        a->o.interval_ms = (int)v;
    if (c == 'V')
        a->o.visibility_s = (int)v;
    if (c == 'R')
        a->o.max_receives = (int)v;
    if (c == 'S')
        a->o.stop_timeout_ms = (int)v;
    if (c == 'K')
        a->o.keep_inputs_s = v == 0 ? -1 : (long)v; /* 0 = keep, here */
    if (c == 'k')
        a->o.keep_outputs_s = v == 0 ? -1 : (long)v;
    if (c == 'P')
        a->o.workers_per_cpu = (int)v;
    return 1;
}

/* Applies one flag (a tool_flag_fn on struct up_args); 0 (with a message)
 * on a bad value. */
static int up_flag(int c, const char *val, void *ctx)
{
    struct up_args *a = ctx;
    switch (c) {
    case 'b':
        a->o.bind = val;
        return 1;
    case 'd':
        a->o.data_dir = val;
        return 1;
    case 'm':
        a->o.model_dir = val;
        return 1;
    case 'I':
        a->o.input_url = val;
        return 1;
    case 'O':
        a->o.output_url = val;
        return 1;
    case 'Q':
        a->o.requests_url = val;
        return 1;
    case 'Y':
        a->o.replies_url = val;
        return 1;
    case 'F':
        a->o.fleet_url = val;
        return 1;
    case 'A':
    case 'B': {
        int *n = c == 'A' ? &a->n_web : &a->n_worker;
        const char **list = c == 'A' ? a->web_args : a->worker_args;
        if (*n >= UP_MAX_EXTRA) {
            fprintf(stderr, "cloudrec: at most %d --web-arg/--worker-arg each\n", UP_MAX_EXTRA);
            return 0;
        }
        list[(*n)++] = val;
        return 1;
    }
    }
    return up_numeric(c, val, a);
}

/* Parses the flags; -1 to go on, else the exit code. */
static int up_parse(int argc, char **argv, struct up_args *a)
{
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"bind", required_argument, NULL, 'b'},
                                         {"data", required_argument, NULL, 'd'},
                                         {"model", required_argument, NULL, 'm'},
                                         {"max-workers", required_argument, NULL, 'x'},
                                         {"min-workers", required_argument, NULL, 'n'},
                                         {"per-instance", required_argument, NULL, 't'},
                                         {"scale-in-window-ms", required_argument, NULL, 'W'},
                                         {"interval-ms", required_argument, NULL, 'i'},
                                         {"visibility-s", required_argument, NULL, 'V'},
                                         {"max-receives", required_argument, NULL, 'R'},
                                         {"stop-timeout-ms", required_argument, NULL, 'S'},
                                         {"keep-inputs-s", required_argument, NULL, 'K'},
                                         {"keep-outputs-s", required_argument, NULL, 'k'},
                                         {"workers-per-cpu", required_argument, NULL, 'P'},
                                         {"web-arg", required_argument, NULL, 'A'},
                                         {"worker-arg", required_argument, NULL, 'B'},
                                         {"input", required_argument, NULL, 'I'},
                                         {"output", required_argument, NULL, 'O'},
                                         {"requests", required_argument, NULL, 'Q'},
                                         {"replies", required_argument, NULL, 'Y'},
                                         {"fleet", required_argument, NULL, 'F'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int rc = tool_getopt(argc, argv, "h", opts, up_flag, a, cloudrec_up_usage);
    if (rc >= 0)
        return rc;
    if (optind < argc) {
        fprintf(stderr, "cloudrec: up takes no arguments ('%s')\n", argv[optind]);
        return UP_EXIT_USAGE;
    }
    a->o.web_args = a->web_args;
    a->o.worker_args = a->worker_args;
    return -1;
}

int cloudrec_cmd_up(int argc, char **argv)
{
    struct up_args a;
    memset(&a, 0, sizeof(a));
    int rc = up_parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    const volatile sig_atomic_t *stop = tool_stop_on_signals();
    cr_log_set_handler(cr_log_stderr, NULL, CR_LOG_INFO);
    struct cr_error err = {0};
    struct cr_up *up = NULL;
    cr_status st = cr_up_start(&a.o, &up, &err);
    if (st != CR_OK) {
        tool_fail("cloudrec", "up", st, &err);
        return st == CR_ERR_STATE || st == CR_ERR_TIMEOUT ? UP_EXIT_FAIL : UP_EXIT_USAGE;
    }
    printf("cloudrec is up: %s (data in %s, up to %d workers)\n", cr_up_url(up), cr_up_data_dir(up),
           cr_up_max_workers(up));
    fflush(stdout);
    rc = 0;
    if ((st = cr_up_wait(up, stop, &err)) != CR_OK) {
        fprintf(stderr, "cloudrec: up: %s\n", err.message);
        rc = UP_EXIT_FAIL;
    }
    fprintf(stderr, "cloudrec: stopping\n");
    if (cr_up_stop(up, &err) != CR_OK && rc == 0) {
        fprintf(stderr, "cloudrec: up: %s\n", err.message);
        rc = UP_EXIT_FAIL;
    }
    cr_up_free(up);
    return rc;
}
