/*
 * cmd_up.c - `cloudrec up`: flags and signals for cr_up_start/_wait/_stop
 * (include/cloudrec/service.h). Part of the cloudrec CLI; kept apart so
 * cloudrec.c stays a dispatcher.
 */
#include "cmd_up.h"

#include "cloudrec.h"
#include "cloudrec/service.h"
#include "core/opts.h"
#include "tool_util.h"
#include "pipeline/pipeline.h"

#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { UP_EXIT_FAIL = 1, UP_EXIT_USAGE = 2 };

/* `cloudrec up`'s options and the extra flags for its children. */
struct up_cmd {
    struct cr_up_options o;
    struct cr__opt_list web_args, worker_args;
};

#define UP(f) offsetof(struct up_cmd, o.f)

static const struct cr__opt up_opts[] = {
    {.name = "port", .type = CR__OPT_INT, .offset = UP(port), .metavar = "N",
     .help = "HTTP port", .def = "8000", .lo = 1, .hi = 65535},
    {.name = "bind", .type = CR__OPT_STR, .offset = UP(bind), .metavar = "ADDR",
     .help = "listen address (0.0.0.0 to serve other machines)", .def = "127.0.0.1"},
    {.name = "data", .type = CR__OPT_STR, .offset = UP(data_dir), .metavar = "DIR",
     .help = "the data directory (created)", .def = "./cloudrec-data"},
    {.name = "max-workers", .type = CR__OPT_INT, .offset = UP(policy.max_instances),
     .metavar = "N",
     .help = "the scaler's --max (default: --workers-per-cpu x the online CPUs; 20 with "
             "--fleet ec2:); local workers are never more than --workers-per-cpu per CPU",
     .lo = 1, .hi = 1000},
    {.name = "workers-per-cpu", .type = CR__OPT_INT, .offset = UP(workers_per_cpu),
     .metavar = "N",
     .help = "local workers per online CPU at most: each runs one engine thread, so more "
             "only time-share the cores and slow a burst",
     .def = "1", .lo = 1, .hi = 64},
    {.name = "min-workers", .type = CR__OPT_INT, .offset = UP(policy.min_instances),
     .metavar = "N", .help = "the scaler's --min: workers kept even when idle", .def = "0",
     .lo = 0, .hi = 1000},
    {.name = "per-instance", .type = CR__OPT_INT, .offset = UP(policy.per_instance_target),
     .metavar = "N", .help = "the scaler's --per-instance: backlog one worker absorbs",
     .def = "1", .lo = 1, .hi = 1000000},
    {.name = "scale-in-window-ms", .type = CR__OPT_I64, .offset = UP(policy.scale_in_window_ms),
     .metavar = "MS",
     .help = "the scaler's window: low backlog this long before workers stop (default 10000 "
             "locally, 30000 with --fleet ec2:)",
     .lo = 1, .hi = 86400000},
    {.name = "interval-ms", .type = CR__OPT_INT, .offset = UP(interval_ms), .metavar = "MS",
     .help = "the scaler's decision interval", .def = "1000", .lo = 10, .hi = 3600000},
    {.name = "visibility-s", .type = CR__OPT_INT, .offset = UP(visibility_s), .metavar = "S",
     .help = "the workers' visibility timeout", .def = "30", .lo = 1, .hi = 43200},
    {.name = "max-receives", .type = CR__OPT_INT, .offset = UP(max_receives), .metavar = "N",
     .help = "receives before a request moves to requests-dead", .def = "5", .lo = 1,
     .hi = 1000},
    {.name = "stop-timeout-ms", .type = CR__OPT_INT, .offset = UP(stop_timeout_ms),
     .metavar = "MS",
     .help = "on stop, SIGKILL a process (web, scaler, worker) still running after this",
     .def = "30000", .lo = 1, .hi = 3600000},
    {.name = "keep-inputs-s", .type = CR__OPT_LONG, .offset = UP(keep_inputs_s), .metavar = "S",
     .help = "remove an answered upload S seconds after it came; 0 = keep", .def = "3600",
     .lo = 0, .hi = 315360000, .flags = CR__OPT_ZERO_IS_NONE},
    {.name = "keep-outputs-s", .type = CR__OPT_LONG, .offset = UP(keep_outputs_s),
     .metavar = "S",
     .help = "remove results and unanswered uploads S seconds after they were written; "
             "0 = keep",
     .def = "86400", .lo = 0, .hi = 315360000, .flags = CR__OPT_ZERO_IS_NONE},
    {.name = "model", .type = CR__OPT_STR, .offset = UP(model_dir), .metavar = "DIR",
     .help = "the model directory for the workers (default: the usual lookup)"},
    {.name = "web-arg", .type = CR__OPT_LIST, .offset = offsetof(struct up_cmd, web_args),
     .metavar = "ARG", .help = "one more flag for cloudrec-web (e.g. --web-arg --label-only)"},
    {.name = "worker-arg", .type = CR__OPT_LIST,
     .offset = offsetof(struct up_cmd, worker_args), .metavar = "ARG",
     .help = "one more flag for every worker (e.g. --worker-arg --output-format --worker-arg "
             "pair)"},
    {.name = "input", .type = CR__OPT_STR, .offset = UP(input_url), .metavar = "URL",
     .help = "uploads store instead of the data directory's (s3://bucket[/prefix], "
             "file:///dir)"},
    {.name = "output", .type = CR__OPT_STR, .offset = UP(output_url), .metavar = "URL",
     .help = "results store instead of the data directory's"},
    {.name = "requests", .type = CR__OPT_STR, .offset = UP(requests_url), .metavar = "URL",
     .help = "request queue instead of the data directory's (sqs://name, "
             "sqlite:///db?name=q)"},
    {.name = "replies", .type = CR__OPT_STR, .offset = UP(replies_url), .metavar = "URL",
     .help = "reply queue instead of the data directory's"},
    {.name = "fleet", .type = CR__OPT_STR, .offset = UP(fleet_url), .metavar = "URL",
     .help = "workers (local:///dir, ec2:?ami=...; default the data directory's local fleet)"},
};

static const struct cr__program up_program = {
    .name = "cloudrec up",
    .synopsis = "[--port N] [--bind ADDR] [--data DIR] [--max-workers N] [--model DIR] "
                "[options]",
    .about = "Runs the whole service on this machine: cloudrec-web on ADDR:N, cloudrec-scaler\n"
             "and its local cloudrec-worker processes, over a data directory holding the\n"
             "file stores (input/, output/), the SQLite queues (queue.db: requests, with\n"
             "dead letters in requests-dead, and replies) and the worker state (workers/).\n"
             "--input, --output, --requests, --replies and --fleet use other stores, queues\n"
             "and fleets instead (s3://, sqs://, ec2:; they must exist: `cloudrec setup`).\n\n",
    .epilog = "The programs cloudrec-web, cloudrec-scaler and cloudrec-worker are taken from\n"
              "this program's directory, else from PATH. Ctrl-C or SIGTERM stops the web tier\n"
              "(no new uploads), then the scaler, which lets each worker finish its image.\n"
              "Exit status: 0 stopped cleanly, 1 a process failed, 2 usage or setup error.\n",
    .opts = up_opts,
    .n_opts = sizeof(up_opts) / sizeof(up_opts[0]),
    .size = sizeof(struct up_cmd),
};


int cloudrec_cmd_up(int argc, char **argv)
{
    struct up_cmd a;
    int rc = cr__opts_parse(&up_program, argc, argv, &a, NULL);
    if (rc >= 0)
        return rc;
    a.o.web_args = a.web_args.v;
    a.o.worker_args = a.worker_args.v;
    const volatile sig_atomic_t *stop = tool_stop_on_signals();
    cr_log_set_handler(cr_log_stderr, NULL, CR_LOG_INFO);
    struct cr_error err = {0};
    struct cr_up *up = NULL;
    cr_status st = cr_up_start(&a.o, &up, &err);
    if (st != CR_OK) {
        tool_fail("cloudrec", "up", st, &err);
        return st == CR_ERR_STATE || st == CR_ERR_TIMEOUT ? UP_EXIT_FAIL : UP_EXIT_USAGE;
    }
    printf("cloudrec is up: %s (data in %s, up to %d workers)\n", cr_up_url(up),
           cr__up_data_dir(up), cr__up_max_workers(up));
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
