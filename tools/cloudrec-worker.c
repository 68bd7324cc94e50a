/*
 * cloudrec-worker - take image requests from a queue, classify, answer.
 *
 * Its options are declared in libcloudrec/core/programs.c
 * (cr__worker_program): that table is this parser, its --help, and the
 * command line the scaler and the fleets build. The loop is cr_worker_run
 * (include/cloudrec/worker.h). SIGTERM or SIGINT: receive no more, finish
 * the held messages, exit 0. See docs/local-mode.md.
 */
#include "cloudrec.h"
#include "core/programs.h"
#include "tool_util.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    const char *prog = cr__worker_program.name;
    struct cr__worker_cmd cmd;
    int rc = cr__opts_parse(&cr__worker_program, argc, argv, &cmd, NULL);
    if (rc >= 0)
        return rc;
    cr_log_set_handler(cr_log_stderr, NULL, cmd.log_level);

    struct cr_model_paths paths;
    struct cr_classifier_options copts;
    if (!tool_classifier_options(prog, cmd.model_dir, cmd.cfg_path, cmd.names_path, cmd.engine,
                                 &paths, &copts))
        return TOOL_EXIT_USAGE;
    cmd.worker.classifier = &copts;
    cmd.worker.stop = tool_stop_on_signals();
    struct cr_error err = {0};
    cr_status st = cr_worker_run(&cmd.worker, NULL, &err);
    if (st != CR_OK) {
        tool_fail(prog, NULL, st, &err);
        return TOOL_EXIT_USAGE;
    }
    return 0;
}
