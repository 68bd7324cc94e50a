/*
 * tool_util.c - signals, the getopt loop, integer and log-level flags and
 * error lines shared by the command line tools (tool_util.h).
 */
#include "tool_util.h"
#include "internal.h"
#include "vision/classify_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t g_stop;

/* Signal handler: only sets the flag the tool's loop polls. */
static void on_stop_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

const volatile sig_atomic_t *tool_stop_on_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return &g_stop;
}

int tool_parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || end == s || *end || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

int tool_flag_int(const char *prog, const char *flag, const char *s, long long lo, long long hi,
                  long long *out)
{
    if (tool_parse_int(s, lo, hi, out))
        return 1;
    fprintf(stderr, "%s: %s must be a number from %lld to %lld, got '%s'\n", prog, flag, lo, hi, s);
    return 0;
}

int tool_flag_engine(const char *prog, const char *s, enum cr_engine *out)
{
    if (cr_engine_parse(s, out) == CR_OK)
        return 1;
    fprintf(stderr, "%s: --engine must be auto, native or darknet, got '%s'\n", prog, s);
    return 0;
}

int tool_int_flags(const char *prog, const struct tool_int_flag *flags, size_t n, int c,
                   const char *val, long long *out)
{
    for (size_t i = 0; i < n; i++)
        if (flags[i].c == c)
            return tool_flag_int(prog, flags[i].name, val, flags[i].lo, flags[i].hi, out);
    return -1;
}

int tool_getopt(int argc, char **argv, const char *shortopts, const struct option *opts,
                tool_flag_fn fn, void *ctx, void (*usage)(FILE *))
{
    int c;
    optind = 0; /* glibc: 0 reinitializes getopt (an earlier parse may have used "+") */
    while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        if (c == '?' || !fn(c, optarg, ctx)) {
            usage(stderr);
            return TOOL_EXIT_USAGE;
        }
    }
    return -1;
}

int tool_log_level(const char *prog, const char *val, int *level)
{
    int l = cr_log_level_parse(val);
    if (l < 0) {
        fprintf(stderr, "%s: unknown --log-level '%s'\n", prog, val);
        return 0;
    }
    *level = l;
    return 1;
}

void tool_fail(const char *prog, const char *what, cr_status st, const struct cr_error *err)
{
    fprintf(stderr, "%s: %s%s%s\n", prog, what ? what : "", what ? ": " : "",
            err && err->message[0] ? err->message : cr_strerror(st));
}
