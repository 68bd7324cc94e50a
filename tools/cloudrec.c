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
#include "cmd_up.h"
#include "cmd_aws_common.h"
#include "cmd_setup.h"
#include "cmd_simulate.h"
#include "tool_util.h"
#include "internal.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { EXIT_PARTIAL = 1, EXIT_USAGE = 2 };

static const char *prog = "cloudrec";

static void usage_main(FILE *f)
{
    fprintf(f,
            "usage: cloudrec [-v] COMMAND [ARGS]\n"
            "\n"
            "Commands:\n"
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
            "Options:\n"
            "  -v, --verbose   log library messages (debug level) to stderr\n"
            "  -h, --help      this help; `cloudrec COMMAND --help` for a command's flags\n"
            "  --version       print the version (same as `cloudrec version`)\n"
            "\n"
            "Model lookup: --model, $CLOUDREC_MODEL_DIR, ./models/tiny-darknet,\n"
            "../shared/models/tiny-darknet. Exit status: 0 success, 1 some input failed,\n"
            "2 usage or setup error.\n");
}

static void usage_classify(FILE *f)
{
    fprintf(f,
            "usage: cloudrec classify [-m|--model DIR] [--cfg FILE] [--names FILE]\n"
            "                         [-k|--top K] [-e|--engine E] [-j|--json] FILE...\n"
            "\n"
            "Prints the top-K ImageNet labels of each JPEG or PNG file.\n"
            "  --model DIR    model directory holding tiny.weights (see `cloudrec --help`)\n"
            "  --cfg FILE     network cfg (default: DIR/tiny.cfg or Darknet's tiny.cfg)\n"
            "  --names FILE   class names, one per line (default: DIR/names.list or\n"
            "                 Darknet's imagenet.shortnames.list)\n"
            "  --top K        how many labels per file, 1..1000 (default 5; more than the\n"
            "                 model's classes gives all of them)\n"
            TOOL_ENGINE_HELP
            "  --json         one JSON object per file and line instead of text\n"
            "A file that cannot be classified prints one line naming it and the reason\n"
            "on stderr; the others are still classified and the exit status is 1.\n");
}

static void usage_model(FILE *f)
{
    fprintf(f,
            "usage: cloudrec model path [-m|--model DIR]\n"
            "       cloudrec model fetch [-u|--url URL] [-s|--sha256 HEX] [-d|--dest DIR]\n"
            "\n"
            "path   prints the model directory, cfg, weights and names that classify uses.\n"
            "fetch  downloads the weights (default %s),\n"
            "       checks their SHA-256 (default the published Tiny Darknet sum) and only\n"
            "       then writes DIR/%s atomically (default DIR: models/tiny-darknet).\n"
            "Exit status: 0 success, 1 the model is missing or the download failed,\n"
            "2 usage error.\n",
            CR_TINY_WEIGHTS_URL, CR_TINY_WEIGHTS_FILE);
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
    cr_buf_append_str(&out, "{\"file\":");
    cr_json_append_string(&out, file);
    if (st != CR_OK) {
        cr_buf_appendf(&out, ",\"status\":\"%s\",\"error\":", cr_status_name(st));
        cr_json_append_string(&out, err->message[0] ? err->message : cr_strerror(st));
    } else {
        cr_buf_append_str(&out, ",\"predictions\":[");
        for (size_t i = 0; i < n; i++) {
            cr_buf_appendf(&out, "%s{\"label\":", i ? "," : "");
            cr_json_append_string(&out, p[i].label);
            cr_buf_appendf(&out, ",\"probability\":%.9g,\"class\":%d}",
                           (double)p[i].probability, p[i].class_index);
        }
        cr_buf_append_str(&out, "]");
    }
    cr_buf_append_str(&out, "}");
    printf("%s\n", out.data ? (char *)out.data : "");
    cr_buf_free(&out);
}

static int cmd_classify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'}, {"cfg", required_argument, NULL, 'c'},
        {"names", required_argument, NULL, 'n'}, {"top", required_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},        {"help", no_argument, NULL, 'h'},
        {"engine", required_argument, NULL, 'e'}, {NULL, 0, NULL, 0}};
    enum cr_engine engine = CR_ENGINE_AUTO;
    const char *model = NULL, *cfg = NULL, *names = NULL;
    long long top = 5;
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:k:e:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'e':
            if (!tool_flag_engine(prog, optarg, &engine))
                return EXIT_USAGE;
            break;
        case 'm': model = optarg; break;
        case 'c': cfg = optarg; break;
        case 'n': names = optarg; break;
        case 'j': json = 1; break;
        case 'k':
            if (!tool_flag_int(prog, "--top", optarg, 1, 1000, &top))
                return EXIT_USAGE;
            break;
        case 'h': usage_classify(stdout); return 0;
        default: usage_classify(stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "%s: classify needs at least one image file\n", prog);
        usage_classify(stderr);
        return EXIT_USAGE;
    }

    struct cr_error err = {0};
    struct cr_model_paths paths;
    cr_status st = cr_model_resolve(model, &paths, &err);
    if (st != CR_OK) {
        tool_fail(prog, NULL, st, &err);
        return EXIT_USAGE;
    }
    struct cr_classifier_options copts = {
        .cfg_path = cfg ? cfg : paths.cfg,
        .weights_path = paths.weights,
        .names_path = names ? names : paths.names,
        .engine = engine,
    };
    struct cr_classifier *cl = NULL;
    if ((st = cr_classifier_open(&copts, &cl, &err)) != CR_OK) {
        tool_fail(prog, "cannot load the model", st, &err);
        return EXIT_USAGE;
    }
    struct cr_prediction *pred = calloc((size_t)top, sizeof(*pred));
    if (!pred) {
        cr_classifier_free(cl);
        tool_fail(prog, NULL, CR_ERR_NOMEM, NULL);
        return EXIT_USAGE;
    }
    int rc = 0;
    for (int i = optind; i < argc; i++) {
        size_t n = 0;
        cr_error_clear(&err);
        st = cr_classify_file(cl, argv[i], pred, (size_t)top, &n, &err);
        if (json)
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
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *model = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        if (c == 'm') {
            model = optarg;
        } else {
            usage_model(c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : EXIT_USAGE;
        }
    }
    struct cr_error err = {0};
    struct cr_model_paths p;
    cr_status st = cr_model_resolve(model, &p, &err);
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
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'}, {"sha256", required_argument, NULL, 's'},
        {"dest", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *url = CR_TINY_WEIGHTS_URL, *sha = CR_TINY_WEIGHTS_SHA256;
    const char *dest = "models/tiny-darknet";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "u:s:d:h", opts, NULL)) != -1) {
        switch (c) {
        case 'u': url = optarg; break;
        case 's': sha = optarg; break;
        case 'd': dest = optarg; break;
        case 'h': usage_model(stdout); return 0;
        default: usage_model(stderr); return EXIT_USAGE;
        }
    }
    unsigned char digest[CR_SHA256_LEN];
    if (strlen(sha) != 2 * CR_SHA256_LEN ||
        cr_hex_decode(sha, strlen(sha), digest, sizeof(digest)) != CR_OK) {
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
    struct cr_fetch_options fo = {.url = url, .sha256_hex = sha, .dest_path = path};
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
    int argi = 1;
    for (; argi < argc && argv[argi][0] == '-'; argi++) {
        if (strcmp(argv[argi], "-v") == 0 || strcmp(argv[argi], "--verbose") == 0) {
            cr_log_set_handler(cr_log_stderr, NULL, CR_LOG_DEBUG);
        } else if (strcmp(argv[argi], "-h") == 0 || strcmp(argv[argi], "--help") == 0) {
            usage_main(stdout);
            return 0;
        } else if (strcmp(argv[argi], "--version") == 0) {
            printf("cloudrec %s\n", cr_version());
            return 0;
        } else {
            fprintf(stderr, "%s: unknown option '%s'\n", prog, argv[argi]);
            usage_main(stderr);
            return EXIT_USAGE;
        }
    }
    if (argi >= argc) {
        usage_main(stderr);
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
        usage_main(stdout);
        return 0;
    }
    fprintf(stderr, "%s: unknown command '%s'; see `cloudrec --help`\n", prog, cmd);
    return EXIT_USAGE;
}
