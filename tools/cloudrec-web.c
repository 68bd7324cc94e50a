/*
 * cloudrec-web - the web tier: take image uploads over HTTP, hand them to the
 * workers, answer "<stem>:<label>".
 *
 * Its options are declared in libcloudrec/core/programs.c (cr__web_program):
 * that table is this parser, its --help and the command line `cloudrec up`
 * builds. The server is cr_web_start (include/cloudrec/web.h). SIGTERM or
 * SIGINT: stop accepting, give waiting requests the grace period, exit 0.
 * See docs/http-api.md.
 */
#include "cloudrec.h"
#include "core/programs.h"
#include "tool_util.h"
#include "internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

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
    struct cr__web_cmd cmd;
    int rc = cr__opts_parse(&cr__web_program, argc, argv, &cmd, NULL);
    if (rc >= 0)
        return rc;
    cr_log_set_handler(cr_log_stderr, NULL, cmd.log_level);
    sigset_t set;
    block_signals(&set);

    struct cr_error err = {0};
    struct cr_web_server *server = NULL;
    cr_status st = cr_web_start(&cmd.web, &server, &err);
    if (st != CR_OK) {
        tool_fail(cr__web_program.name, NULL, st, &err);
        return 1;
    }
    const char *addr = cmd.web.bind_addr;
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
