/*
 * cloudrec-worker - take image requests from a queue, classify, answer.
 *
 *   cloudrec-worker --requests URL --output URL [--model DIR] [options]
 *
 * Thin by design: flags, signals and the model lookup here; the loop is
 * cr_worker_run (include/cloudrec/worker.h). SIGTERM or SIGINT: receive no
 * more, finish the held messages, exit 0. See docs/local-mode.md.
 */
#include "cloudrec.h"
#include "cloudrec/worker.h"
#include "tool_util.h"

#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };

static const char *prog = "cloudrec-worker";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cloudrec-worker --requests URL --output URL [options]\n"
            "\n"
            "Takes request messages from the requests queue, classifies the image each\n"
            "names, writes <stem> -> label to the output store, answers on the request's\n"
            "reply queue and then deletes the request.\n"
            "  --requests URL        request queue (sqlite:///path/queue.db?name=requests,\n"
            "                        sqs://name)\n"
            "  --output URL          output store (file:///dir, s3://bucket[/prefix])\n"
            "  --model DIR           model directory (default: $CLOUDREC_MODEL_DIR,\n"
            "                        ./models/tiny-darknet, ../shared/models/tiny-darknet)\n"
            "  --cfg FILE            network cfg (default: DIR/tiny.cfg or Darknet's)\n"
            "  --names FILE          class names (default: DIR/names.list or Darknet's)\n"
            "  --engine E            auto (default: native when the cfg allows it, else\n"
            "                        Darknet), native or darknet\n"
            "  --output-format FMT   label (default: \"bathtub\") or pair (\"(test_0, bathtub)\")\n"
            "  --id ID               worker id put in answers (default w-<pid>)\n"
            "  --state-file PATH     publish idle/busy/stopping in PATH (atomically replaced)\n"
            "  --batch N             messages per receive, 1..10 (default 1)\n"
            "  --wait-ms MS          long poll per receive, 1..20000 (default 1000)\n"
            "  --visibility-s S      invisibility of held messages, renewed while held\n"
            "                        (default 30)\n"
            "  --idle-exit-s S       exit 0 after S seconds without a message (default: never)\n"
            "  --top K               labels per answer, 1..5 (default 5)\n"
            "  --max-image-bytes N   larger images get an error answer (default 33554432)\n"
            "  --log-level LEVEL     debug, info (default), warn, error, off\n"
            "  -h, --help            this help\n"
            "SIGTERM or SIGINT: no more receives; the held messages are finished, exit 0.\n"
            "Exit status: 0 stopped or idle, 2 usage or setup error (queue, store, model).\n");
}

struct args {
    struct cr_worker_options w;
    const char *model, *cfg, *names;
    enum cr_engine engine;
    int log_level;
};

/* Applies one numeric flag; 0 (with a message) when out of range. */
static int numeric_flag(int c, const char *val, struct args *a)
{
    static const struct tool_int_flag ranges[] = {{'b', "--batch", 1, 10},
                                                  {'w', "--wait-ms", 1, 20000},
                                                  {'V', "--visibility-s", 1, 43200},
                                                  {'I', "--idle-exit-s", 0, INT_MAX},
                                                  {'k', "--top", 1, 5},
                                                  {'M', "--max-image-bytes", 1, LONG_MAX}};
    long long v;
    if (tool_int_flags(prog, ranges, TOOL_LEN(ranges), c, val, &v) != 1)
        return 0;
    if (c == 'b')
        a->w.batch = (int)v;
    if (c == 'w')
        a->w.wait_ms = (int)v;
    if (c == 'V')
        a->w.visibility_s = (int)v;
    if (c == 'I')
        a->w.idle_exit_s = (int)v;
    if (c == 'k')
        a->w.top_k = (int)v;
    if (c == 'M')
        a->w.max_image_bytes = (size_t)v;
    return 1;
}

/* Applies one string flag (a tool_flag_fn on struct args); 0 (with a
 * message) on a bad value. */
static int string_flag(int c, const char *val, void *ctx)
{
    struct args *a = ctx;
    switch (c) {
    case 'r':
        a->w.requests_url = val;
        return 1;
    case 'o':
        a->w.output_url = val;
        return 1;
    case 'm':
        a->model = val;
        return 1;
    case 'c':
        a->cfg = val;
        return 1;
    case 'n':
        a->names = val;
        return 1;
    case 'i':
        a->w.worker_id = val;
        return 1;
    case 's':
        a->w.state_path = val;
        return 1;
    case 'f':
        if (strcmp(val, "label") == 0 || strcmp(val, "pair") == 0) {
            a->w.output_format = val[0] == 'p' ? CR_OUTPUT_PAIR : CR_OUTPUT_LABEL;
            return 1;
        }
        fprintf(stderr, "%s: --output-format is label or pair, got '%s'\n", prog, val);
        return 0;
    case 'L':
        return tool_log_level(prog, val, &a->log_level);
    case 'e':
        return tool_flag_engine(prog, val, &a->engine);
    }
    return numeric_flag(c, val, a);
}

/* Parses argv into a; returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {{"requests", required_argument, NULL, 'r'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"model", required_argument, NULL, 'm'},
                                         {"cfg", required_argument, NULL, 'c'},
                                         {"names", required_argument, NULL, 'n'},
                                         {"engine", required_argument, NULL, 'e'},
                                         {"id", required_argument, NULL, 'i'},
                                         {"state-file", required_argument, NULL, 's'},
                                         {"output-format", required_argument, NULL, 'f'},
                                         {"batch", required_argument, NULL, 'b'},
                                         {"wait-ms", required_argument, NULL, 'w'},
                                         {"visibility-s", required_argument, NULL, 'V'},
                                         {"idle-exit-s", required_argument, NULL, 'I'},
                                         {"top", required_argument, NULL, 'k'},
                                         {"max-image-bytes", required_argument, NULL, 'M'},
                                         {"log-level", required_argument, NULL, 'L'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int rc = tool_getopt(argc, argv, "h", opts, string_flag, a, usage);
    if (rc >= 0)
        return rc;
    if (optind < argc || !a->w.requests_url || !a->w.output_url) {
        fprintf(stderr, "%s: --requests and --output are required (and nothing else)\n", prog);
        return EXIT_USAGE;
    }
    return -1;
}

int main(int argc, char **argv)
{
    struct args a = {.log_level = CR_LOG_INFO};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    cr_log_set_handler(cr_log_stderr, NULL, (enum cr_log_level)a.log_level);
    const volatile sig_atomic_t *stop = tool_stop_on_signals();

    struct cr_error err = {0};
    struct cr_model_paths paths;
    cr_status st = cr_model_resolve(a.model, &paths, &err);
    if (st != CR_OK) {
        fprintf(stderr, "%s: %s\n", prog, err.message);
        return EXIT_USAGE;
    }
    struct cr_classifier_options copts = {
        .cfg_path = a.cfg ? a.cfg : paths.cfg,
        .weights_path = paths.weights,
        .names_path = a.names ? a.names : paths.names,
        .engine = a.engine,
    };
    a.w.classifier = &copts;
    a.w.stop = stop;
    st = cr_worker_run(&a.w, NULL, &err);
    if (st != CR_OK) {
        tool_fail(prog, NULL, st, &err);
        return EXIT_USAGE;
    }
    return 0;
}
