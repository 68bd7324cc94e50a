/*
 * cloudrec - the umbrella command line tool.
 *
 *   cloudrec [-v] classify [--model DIR] [--cfg F] [--names F] [--top K] [--engine E]
 *                          [--json] FILE...
 *   cloudrec [-v] model path|fetch ...
 *   cloudrec up [--port N] [--bind ADDR] [--data DIR] [--max-workers N] ...  (cmd_up.c)
 *   cloudrec setup [--input URL] [--output URL] [--requests URL] ...  (cmd_setup.c)
 *   cloudrec s3|sqs|ec2 COMMAND ...  (cmd_s3.c, cmd_sqs.c, cmd_ec2.c)
 *   cloudrec simulate --arrivals SPEC ...  (cmd_simulate.c)
 *   cloudrec version | --version | help | --help
 *
 * Thin by design: parse flags, call the library, map cr_status to an exit
 * code and a one-line message.
 */
#include "cloudrec.h"
#include "core/json.h"
#include "cmd_up.h"
#include "cmd_aws_common.h"
#include "cmd_setup.h"
#include "cmd_simulate.h"
#include "core/programs.h"
#include "tool_util.h"
#include "internal.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { EXIT_PARTIAL = 1, EXIT_USAGE = 2 };

static const char *prog = "cloudrec";

/* The options before the command. */
struct main_cmd {
    int verbose;
};

static const struct cr__opt main_opts[] = {
    {.name = "verbose", .short_name = 'v', .type = CR__OPT_BOOL,
     .offset = offsetof(struct main_cmd, verbose),
     .help = "log library messages (debug level) to stderr"},
};

static const struct cr__program main_program = {
    .name = "cloudrec",
    .synopsis = "[-v] COMMAND [ARGS]",
    .about = "Commands:\n"
             "  classify [--model DIR] [--top K] [--json] FILE...   label images (see classify --help)\n"
             "  model path [--model DIR]                            show which model files are used\n"
             "  model fetch [--url URL] [--sha256 HEX] [--dest DIR] download and verify weights\n"
             "  up [--port N] [--data DIR] [--max-workers N]        run the whole service locally\n"
             "                                                      (see up --help)\n"
             "  setup --input URL --output URL --requests URL ...   create buckets and queues\n"
             "                                                      (idempotent; setup --help)\n"
             "  s3 mb|put|get|head|ls|rm ...                        S3 buckets and objects\n"
             "  sqs create|url|send|recv|del|visibility|attrs|purge SQS queues and messages\n"
             "  ec2 run|ls|terminate ...                            EC2 instances\n"
             "                                                      (see s3|sqs|ec2 --help)\n"
             "  simulate --arrivals SPEC [--boot D] [--service D]   the real scaling policy on\n"
             "                                                      a simulated fleet: latency,\n"
             "                                                      cost (see simulate --help)\n"
             "  version                                             print the library version\n"
             "\n"
             "`cloudrec COMMAND --help` shows a command's options.\n\n",
    .epilog = "Model lookup: --model, $CLOUDREC_MODEL_DIR, ./models/tiny-darknet,\n"
              "../shared/models/tiny-darknet. Exit status: 0 success, 1 some input failed,\n"
              "2 usage or setup error.\n",
    .opts = main_opts,
    .n_opts = 1,
    .size = sizeof(struct main_cmd),
    .operands = CR__OPERANDS_REST,
};

/* `cloudrec classify`'s options. */
struct classify_cmd {
    const char *model, *cfg, *names;
    int top;
    enum cr_engine engine;
    int json;
};

#define CL(f) offsetof(struct classify_cmd, f)

static const struct cr__opt classify_opts[] = {
    {.name = "model", .short_name = 'm', .type = CR__OPT_STR, .offset = CL(model),
     .metavar = "DIR", .help = "model directory holding tiny.weights (see `cloudrec --help`)"},
    {.name = "cfg", .type = CR__OPT_STR, .offset = CL(cfg), .metavar = "FILE",
     .help = "network cfg (default: DIR/tiny.cfg or Darknet's tiny.cfg)"},
    {.name = "names", .type = CR__OPT_STR, .offset = CL(names), .metavar = "FILE",
     .help = "class names, one per line (default: DIR/names.list or Darknet's "
             "imagenet.shortnames.list)"},
    {.name = "top", .short_name = 'k', .type = CR__OPT_INT, .offset = CL(top), .metavar = "K",
     .help = "how many labels per file (more than the model's classes gives all of them)",
     .def = "5", .lo = 1, .hi = 1000},
    CR__ENGINE_OPT(struct classify_cmd, engine, 'e'),
    {.name = "json", .short_name = 'j', .type = CR__OPT_BOOL, .offset = CL(json),
     .help = "one JSON object per file and line instead of text"},
};

static const struct cr__program classify_program = {
    .name = "cloudrec classify",
    .synopsis = "[options] FILE...",
    .about = "Prints the top-K ImageNet labels of each JPEG or PNG file.\n\n",
    .epilog = "A file that cannot be classified prints one line naming it and the reason\n"
              "on stderr; the others are still classified and the exit status is 1.\n",
    .opts = classify_opts,
    .n_opts = sizeof(classify_opts) / sizeof(classify_opts[0]),
    .size = sizeof(struct classify_cmd),
    .operands = CR__OPERANDS_ANY,
};

/* `cloudrec model path|fetch`'s options. */
struct model_cmd {
    const char *model;
    const char *url, *sha256, *dest;
};

static const struct cr__opt model_path_opts[] = {
    {.name = "model", .short_name = 'm', .type = CR__OPT_STR,
     .offset = offsetof(struct model_cmd, model), .metavar = "DIR",
     .help = "model directory (default: the lookup of `cloudrec --help`)"},
};

static const struct cr__program model_path_program = {
    .name = "cloudrec model path",
    .synopsis = "[--model DIR]",
    .about = "Prints the model directory, cfg, weights and names that classify uses.\n\n",
    .epilog = "Exit status: 0 success, 1 the model is missing, 2 usage error.\n",
    .opts = model_path_opts,
    .n_opts = 1,
    .size = sizeof(struct model_cmd),
};

static const struct cr__opt model_fetch_opts[] = {
    {.name = "url", .short_name = 'u', .type = CR__OPT_STR,
     .offset = offsetof(struct model_cmd, url), .metavar = "URL",
     .help = "where the weights are downloaded from", .def = CR_TINY_WEIGHTS_URL},
    {.name = "sha256", .short_name = 's', .type = CR__OPT_STR,
     .offset = offsetof(struct model_cmd, sha256), .metavar = "HEX",
     .help = "their SHA-256, 64 hex digits (default: the published Tiny Darknet sum)"},
    {.name = "dest", .short_name = 'd', .type = CR__OPT_STR,
     .offset = offsetof(struct model_cmd, dest), .metavar = "DIR",
     .help = "the directory written (created)", .def = "models/tiny-darknet"},
};

static const struct cr__program model_fetch_program = {
    .name = "cloudrec model fetch",
    .synopsis = "[--url URL] [--sha256 HEX] [--dest DIR]",
    .about = "Downloads the weights, checks their SHA-256 and only then writes\n"
             "DIR/" CR_TINY_WEIGHTS_FILE " atomically.\n\n",
    .epilog = "Exit status: 0 success, 1 the download or the check failed, 2 usage error.\n",
    .opts = model_fetch_opts,
    .n_opts = sizeof(model_fetch_opts) / sizeof(model_fetch_opts[0]),
    .size = sizeof(struct model_cmd),
};

static void usage_model(FILE *f)
{
    fprintf(f, "usage: cloudrec model path [--model DIR]\n"
               "       cloudrec model fetch [--url URL] [--sha256 HEX] [--dest DIR]\n"
               "See `cloudrec model path --help` and `cloudrec model fetch --help`.\n");
}

static void print_text(const char *file, const struct cr_prediction *p, size_t n)
{
    printf("%s:", file);
    for (size_t i = 0; i < n; i++)
        printf("%s %s (%.2f%%)", i ? "," : "", p[i].label, p[i].probability * 100.0);
    printf("\n");
}

static void print_json(const char *file, const struct cr_prediction *p, size_t n, cr_status st,
                       const struct cr_error *err)
{
    struct cr_buf out;
    cr_buf_init(&out, 0);
    struct cr__jw *w = cr__jw_new();
    cr__jw_object(w, NULL);
    cr__jw_text(w, "file", file);
    if (st != CR_OK) {
        cr__jw_string(w, "status", cr_status_name(st));
        cr__jw_text(w, "error", err->message[0] ? err->message : cr_strerror(st));
    } else {
        cr__jw_array(w, "predictions");
        for (size_t i = 0; i < n; i++) {
            cr__jw_object(w, NULL);
            cr__jw_text(w, "label", p[i].label);
            cr__jw_float(w, "probability", p[i].probability);
            cr__jw_int(w, "class", p[i].class_index);
            cr__jw_end(w);
        }
        cr__jw_end(w);
    }
    cr__jw_end(w);
    cr__jw_finish(w, &out);
    printf("%s\n", out.data ? (char *)out.data : "");
    cr_buf_clear(&out);
}

static int cmd_classify(int argc, char **argv)
{
    struct classify_cmd c;
    int first = 0;
    int rc = cr__opts_parse(&classify_program, argc, argv, &c, &first);
    if (rc >= 0)
        return rc;
    if (first >= argc) {
        fprintf(stderr, "%s: classify needs at least one image file\n", prog);
        return EXIT_USAGE;
    }

    struct cr_model_paths paths;
    struct cr_classifier_options copts;
    if (!tool_classifier_options(prog, c.model, c.cfg, c.names, c.engine, &paths, &copts))
        return EXIT_USAGE;
    struct cr_error err = {0};
    struct cr_classifier *cl = NULL;
    cr_status st;
    if ((st = cr_classifier_open(&copts, &cl, &err)) != CR_OK) {
        tool_fail(prog, "cannot load the model", st, &err);
        return EXIT_USAGE;
    }
    struct cr_prediction *pred = calloc((size_t)c.top, sizeof(*pred));
    if (!pred) {
        cr_classifier_free(cl);
        tool_fail(prog, NULL, CR_ERR_NOMEM, NULL);
        return EXIT_USAGE;
    }
    rc = 0;
    for (int i = first; i < argc; i++) {
        size_t n = 0;
        cr_error_clear(&err);
        st = cr_classify_file(cl, argv[i], pred, (size_t)c.top, &n, &err);
        if (c.json)
            print_json(argv[i], pred, n, st, &err);
        else if (st == CR_OK)
            print_text(argv[i], pred, n);
        if (st != CR_OK) {
            tool_fail(prog, NULL, st, &err);
            rc = EXIT_PARTIAL;
        }
        fflush(stdout);
    }
    free(pred);
    cr_classifier_free(cl);
    return rc;
}

static int cmd_model_path(int argc, char **argv)
{
    struct model_cmd m;
    int rc = cr__opts_parse(&model_path_program, argc, argv, &m, NULL);
    if (rc >= 0)
        return rc;
    struct cr_error err = {0};
    struct cr_model_paths p;
    cr_status st = cr_model_resolve(m.model, &p, &err);
    if (st != CR_OK) {
        tool_fail(prog, NULL, st, &err);
        return EXIT_PARTIAL;
    }
    printf("dir      %s\ncfg      %s\nweights  %s\nnames    %s\n", p.dir, p.cfg, p.weights,
           p.names);
    return 0;
}

/* mkdir -p for the destination directory of `model fetch`. */
static int make_dirs(const char *path)
{
    char tmp[CR_PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
        return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int cmd_model_fetch(int argc, char **argv)
{
    struct model_cmd m;
    int rc = cr__opts_parse(&model_fetch_program, argc, argv, &m, NULL);
    if (rc >= 0)
        return rc;
    const char *sha = m.sha256 ? m.sha256 : CR_TINY_WEIGHTS_SHA256, *dest = m.dest;
    unsigned char digest[CR_SHA256_LEN];
    if (strlen(sha) != 2 * CR_SHA256_LEN ||
        cr__hex_decode(sha, strlen(sha), digest, sizeof(digest)) != CR_OK) {
        fprintf(stderr, "%s: --sha256 must be 64 hex digits, got '%s'\n", prog, sha);
        return EXIT_USAGE;
    }
    if (make_dirs(dest) != 0) {
        fprintf(stderr, "%s: cannot create %s: %s\n", prog, dest, strerror(errno));
        return EXIT_PARTIAL;
    }
    char path[CR_PATH_MAX];
    if (snprintf(path, sizeof(path), "%s/%s", dest, CR_TINY_WEIGHTS_FILE) >= (int)sizeof(path)) {
        fprintf(stderr, "%s: destination path too long\n", prog);
        return EXIT_USAGE;
    }
    struct cr_error err = {0};
    struct cr_fetch_options fo = {.url = m.url, .sha256_hex = sha, .dest_path = path};
    cr_status st = cr_model_fetch(&fo, &err);
    if (st != CR_OK) {
        tool_fail(prog, "model fetch", st, &err);
        return EXIT_PARTIAL;
    }
    printf("%s: sha256 %s OK\n", path, sha);
    return 0;
}

static int cmd_model(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage_model(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "path") == 0)
        return cmd_model_path(argc - 1, argv + 1);
    if (strcmp(argv[1], "fetch") == 0)
        return cmd_model_fetch(argc - 1, argv + 1);
    fprintf(stderr, "%s: unknown model command '%s' (path, fetch)\n", prog, argv[1]);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    struct main_cmd m;
    int argi = 0;
    int rc = cr__opts_parse(&main_program, argc, argv, &m, &argi);
    if (rc >= 0)
        return rc;
    if (m.verbose)
        cr_log_set_handler(cr_log_stderr, NULL, CR_LOG_DEBUG);
    if (argi >= argc) {
        fprintf(stderr, "%s: a command is needed\ntry 'cloudrec --help'\n", prog);
        return EXIT_USAGE;
    }
    const char *cmd = argv[argi];
    if (strcmp(cmd, "classify") == 0)
        return cmd_classify(argc - argi, argv + argi);
    if (strcmp(cmd, "model") == 0)
        return cmd_model(argc - argi, argv + argi);
    if (strcmp(cmd, "up") == 0)
        return cloudrec_cmd_up(argc - argi, argv + argi);
    if (strcmp(cmd, "s3") == 0)
        return cloudrec_cmd_s3(argc - argi, argv + argi);
    if (strcmp(cmd, "sqs") == 0)
        return cloudrec_cmd_sqs(argc - argi, argv + argi);
    if (strcmp(cmd, "setup") == 0)
        return cloudrec_cmd_setup(argc - argi, argv + argi);
    if (strcmp(cmd, "ec2") == 0)
        return cloudrec_cmd_ec2(argc - argi, argv + argi);
    if (strcmp(cmd, "simulate") == 0)
        return cloudrec_cmd_simulate(argc - argi, argv + argi);
    if (strcmp(cmd, "version") == 0) {
        printf("cloudrec %s\n", cr_version());
        return 0;
    }
    if (strcmp(cmd, "help") == 0) {
        cr__opts_help(&main_program, stdout);
        return 0;
    }
    fprintf(stderr, "%s: unknown command '%s'; see `cloudrec --help`\n", prog, cmd);
    return EXIT_USAGE;
}
