/*
 * tool_util.c - signals, an integer parse and error lines shared by the
 * command line tools (tool_util.h).
 */
#include "tool_util.h"
#include "internal.h"

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

int tool_classifier_options(const char *prog, const char *model_dir, const char *cfg,
                            const char *names, enum cr_engine engine,
                            struct cr_model_paths *paths, struct cr_classifier_options *out)
{
    struct cr_error err = {0};
    cr_status st = cr_model_resolve(model_dir, paths, &err);
    if (st != CR_OK) {
        tool_fail(prog, NULL, st, &err);
        return 0;
    }
    *out = (struct cr_classifier_options){
        .cfg_path = cfg ? cfg : paths->cfg,
        .weights_path = paths->weights,
        .names_path = names ? names : paths->names,
        .engine = engine,
    };
    return 1;
}

void tool_fail(const char *prog, const char *what, cr_status st, const struct cr_error *err)
{
    fprintf(stderr, "%s: %s%s%s\n", prog, what ? what : "", what ? ": " : "",
            err && err->message[0] ? err->message : cr_strerror(st));
}
