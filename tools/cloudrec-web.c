/*
 * cloudrec-web - the web tier: take image uploads over HTTP, hand them to the
 * workers, answer "<stem>:<label>".
 *
 *   cloudrec-web --input URL --output URL --requests URL --replies URL [options]
 *
 * Thin by design: flags, environment defaults and signals here; the server is
 * cr_web_start (include/cloudrec/web.h). SIGTERM or SIGINT: stop accepting,
 * give waiting requests the grace period, exit 0. See docs/http-api.md.
 */
#include "cloudrec.h"
#include "tool_util.h"
#include "internal.h"

#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_FAIL = 1, EXIT_USAGE = 2 };

static const char *prog = "cloudrec-web";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cloudrec-web --input URL --output URL --requests URL --replies URL [options]\n"
            "\n"
            "Serves POST / and POST /upload (multipart, field inputFile, myfile or file):\n"
            "stores the image, sends a request to the workers and answers <stem>:<label>.\n"
            "  --input URL            store for uploads (file:///dir, s3://bucket[/prefix])\n"
            "                         [$CLOUDREC_INPUT]\n"
            "  --output URL           store the workers write results to [$CLOUDREC_OUTPUT]\n"
            "  --requests URL         request queue (sqlite:///path/q.db?name=requests,\n"
            "                         sqs://name) [$CLOUDREC_REQUESTS]\n"
            "  --replies URL          this server's own reply queue [$CLOUDREC_REPLIES]\n"
            "  --bind ADDR            IPv4 or IPv6 address to listen on (default 127.0.0.1;\n"
            "                         0.0.0.0 serves every interface)\n"
            "  --port N               TCP port, 0 = any free one (default 8000)\n"
            "  --label-only           answer <label> instead of <stem>:<label>\n"
            "  --scaler-status PATH   the scaler's --status-file, for the fleet in /v1/stats\n"
            "                         and the dashboard (cloudrec up passes it)\n"
            "  --max-body-bytes N     largest request body (default 16777216)\n"
            "  --max-pixels N         largest width*height of an image (default 40000000)\n"
            "  --deadline-ms N        answer 504 after N ms without a reply; 0 = wait forever\n"
            "                         (default 300000)\n"
            "  --threads N            HTTP threads, 1..256 (default 4)\n"
            "  --max-connections N    open connections at once (default 1024)\n"
            "  --idle-timeout-s N     close connections idle this long (default 60)\n"
            "  --header-timeout-ms N  drop a connection whose request headers take longer\n"
            "                         (default 10000; 0 = no limit)\n"
            "  --min-body-rate N      drop an upload whose body, after the header timeout,\n"
            "                         averages under N bytes/s (default 1024; 0 = no limit)\n"
            "  --shutdown-grace-ms N  on SIGTERM, wait this long for pending answers\n"
            "                         (default 10000)\n"
            "  --log-level LEVEL      debug, info (default), warn, error, off\n"
            "  -h, --help             this help\n"
            "  --version              print the version\n"
            "Prints \"listening on http://ADDR:PORT/\" on stdout once it serves.\n"
            "Exit status: 0 stopped by SIGTERM/SIGINT, 1 could not start, 2 usage error.\n");
}

struct args {
    struct cr_web_options w;
    int log_level;
};

/* Applies one numeric flag; 0 (with a message) when out of range. */
static int numeric_flag(int c, const char *val, struct args *a)
{
    static const struct tool_int_flag ranges[] = {
        {'p', "--port", 0, 65535},           {'B', "--max-body-bytes", 1, LLONG_MAX},
        {'P', "--max-pixels", 1, LLONG_MAX}, {'d', "--deadline-ms", 0, LONG_MAX},
        {'t', "--threads", 1, 256},          {'C', "--max-connections", 1, 1000000},
        {'T', "--idle-timeout-s", 1, 86400}, {'g', "--shutdown-grace-ms", 0, LONG_MAX},
        {'H', "--header-timeout-ms", 0, 86400000L}, {'M', "--min-body-rate", 0, LONG_MAX}};
    long long v;
    if (tool_int_flags(prog, ranges, TOOL_LEN(ranges), c, val, &v) != 1)
        return 0;
    if (c == 'p') a->w.port = (int)v;
    if (c == 'B') a->w.max_body_bytes = (size_t)v;
    if (c == 'P') a->w.max_pixels = (uint64_t)v;
    if (c == 'd') a->w.deadline_ms = v == 0 ? -1 : (long)v; /* 0 = forever here */
    if (c == 't') a->w.threads = (int)v;
    if (c == 'C') a->w.max_connections = (unsigned)v;
    if (c == 'T') a->w.idle_timeout_s = (int)v;
    if (c == 'g') a->w.shutdown_grace_ms = v == 0 ? -1 : (long)v;
    if (c == 'H') a->w.header_timeout_ms = v == 0 ? -1 : (long)v; /* 0 = none here */
    if (c == 'M') a->w.min_body_bytes_per_s = v == 0 ? -1 : (long)v;
    return 1;
}

/* Applies one flag with a string value; 0 (with a message) on a bad value. */
static int string_flag(int c, const char *val, struct args *a)
{
    switch (c) {
    case 'i': a->w.input_url = val; return 1;
    case 'o': a->w.output_url = val; return 1;
    case 'r': a->w.requests_url = val; return 1;
    case 'R': a->w.replies_url = val; return 1;
    case 'b': a->w.bind_addr = val; return 1;
    case 'S': a->w.scaler_status_path = val; return 1;
    case 'L': return tool_log_level(prog, val, &a->log_level);
    }
    return numeric_flag(c, val, a);
}

/* The URL flags default to the environment. */
static void env_defaults(struct cr_web_options *w)
{
    w->input_url = getenv("CLOUDREC_INPUT");
    w->output_url = getenv("CLOUDREC_OUTPUT");
    w->requests_url = getenv("CLOUDREC_REQUESTS");
    w->replies_url = getenv("CLOUDREC_REPLIES");
}

/* Parses argv into a; returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        {"input", required_argument, NULL, 'i'},     {"output", required_argument, NULL, 'o'},
        {"requests", required_argument, NULL, 'r'},  {"replies", required_argument, NULL, 'R'},
        {"bind", required_argument, NULL, 'b'},      {"port", required_argument, NULL, 'p'},
        {"label-only", no_argument, NULL, 'l'},
        {"scaler-status", required_argument, NULL, 'S'},
        {"max-body-bytes", required_argument, NULL, 'B'},
        {"max-pixels", required_argument, NULL, 'P'},
        {"deadline-ms", required_argument, NULL, 'd'},
        {"threads", required_argument, NULL, 't'},
        {"max-connections", required_argument, NULL, 'C'},
        {"idle-timeout-s", required_argument, NULL, 'T'},
        {"shutdown-grace-ms", required_argument, NULL, 'g'},
        {"header-timeout-ms", required_argument, NULL, 'H'},
        {"min-body-rate", required_argument, NULL, 'M'},
        {"log-level", required_argument, NULL, 'L'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'v'},         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h' || c == 'v') {
            if (c == 'h')
                usage(stdout);
            else
                printf("cloudrec-web %s\n", cr_version());
            return 0;
        }
        if (c == 'l') {
            a->w.label_only = 1;
            continue;
        }
        if (c == '?' || !string_flag(c, optarg, a)) {
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc || !a->w.input_url || !a->w.output_url || !a->w.requests_url ||
        !a->w.replies_url) {
        fprintf(stderr, "%s: --input, --output, --requests and --replies are required (or "
                        "CLOUDREC_INPUT, _OUTPUT, _REQUESTS, _REPLIES)\n",
                prog);
        return EXIT_USAGE;
    }
    return -1;
}

/* Blocks SIGINT and SIGTERM in this thread (and so in every thread the
 * server starts), so that main can wait for them with sigwait. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
    struct args a = {.w = {.port = 8000}, .log_level = CR_LOG_INFO};
    env_defaults(&a.w);
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    cr_log_set_handler(cr_log_stderr, NULL, (enum cr_log_level)a.log_level);
    sigset_t set;
    block_signals(&set);

    struct cr_error err = {0};
    struct cr_web_server *server = NULL;
    cr_status st = cr_web_start(&a.w, &server, &err);
    if (st != CR_OK) {
        tool_fail(prog, NULL, st, &err);
        return EXIT_FAIL;
    }
    const char *addr = a.w.bind_addr ? a.w.bind_addr : "127.0.0.1";
    int v6 = strchr(addr, ':') != NULL;
    printf("listening on http://%s%s%s:%d/\n", v6 ? "[" : "", addr, v6 ? "]" : "",
           cr_web_port(server));
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    cr_log(CR_LOG_INFO, "msg=\"stopping\" signal=%d", sig);
    cr_web_free(server); /* stops gracefully first */
    return 0;
}
