/*
 * cloudrec-scaler - keep a fleet of workers sized to the request backlog.
 *
 * Its options are declared in libcloudrec/core/programs.c
 * (cr__scaler_program): that table is this parser, its --help and the
 * command line `cloudrec up` builds. The loop is cr_scaler_run
 * (include/cloudrec/service.h), the policy cr_scale_decide (scale.h), the
 * worker command cr__scaler_worker_argv. SIGTERM or SIGINT: stop every
 * worker gracefully, exit 0.
 */
#include "cloudrec.h"
#include "core/programs.h"
#include "pipeline/scaler.h"
#include "tool_util.h"
#include "internal.h"
#include "pipeline/pipeline.h"

#include <stdio.h>

/* --print-user-data: the boot script of an instance the scaler would
 * launch, on stdout. */
static cr_status print_user_data(const struct cr_scaler_options *o, struct cr_error *err)
{
    struct cr_buf out;
    cr_buf_init(&out, 0);
    cr_status st = cr_scaler_user_data(o, &out, err);
    if (st == CR_OK)
        fwrite(out.data, 1, out.len, stdout);
    cr_buf_free(&out);
    return st;
}

int main(int argc, char **argv)
{
    struct cr__scaler_cmd cmd;
    int first = 0;
    int rc = cr__opts_parse(&cr__scaler_program, argc, argv, &cmd, &first);
    if (rc >= 0)
        return rc;
    cr_log_set_handler(cr_log_stderr, NULL, cmd.log_level);

    struct cr_error err = {0};
    struct cr__argv worker = {0};
    cr_status st = cr__scaler_worker_argv(&cmd, (const char *const *)argv + first, &worker, &err);
    if (st == CR_OK) {
        cmd.scaler.worker_argv = (const char *const *)worker.v;
        cmd.scaler.stop = tool_stop_on_signals();
        st = cmd.print_user_data ? print_user_data(&cmd.scaler, &err)
                                 : cr_scaler_run(&cmd.scaler, &err);
    }
    cr__argv_clear(&worker);
    if (st != CR_OK) {
        tool_fail(cr__scaler_program.name, NULL, st, &err);
        return TOOL_EXIT_USAGE;
    }
    return 0;
}
