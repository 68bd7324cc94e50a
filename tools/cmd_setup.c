/*
 * cmd_setup.c - `cloudrec setup`: flags for cr_setup (include/cloudrec/service.h),
 * which makes the buckets and queues of a deployment exist. Part of the
 * cloudrec CLI; kept apart so cloudrec.c stays a dispatcher.
 */
#include "cmd_setup.h"

#include "cloudrec.h"
#include "cloudrec/service.h"
#include "core/opts.h"
#include "tool_util.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SETUP_EXIT_FAIL = 1, SETUP_EXIT_USAGE = 2 };

#define SETUP(f) offsetof(struct cr_setup_options, f)

static const struct cr__opt setup_opts[] = {
    {.name = "input", .type = CR__OPT_STR, .offset = SETUP(input_url), .metavar = "URL",
     .help = "store for uploads"},
    {.name = "output", .type = CR__OPT_STR, .offset = SETUP(output_url), .metavar = "URL",
     .help = "store for results"},
    {.name = "requests", .type = CR__OPT_STR, .offset = SETUP(requests_url), .metavar = "URL",
     .help = "the workers' request queue"},
    {.name = "replies", .type = CR__OPT_STR, .offset = SETUP(replies_url), .metavar = "URL",
     .help = "the web tier's reply queue"},
    {.name = "dead-letter", .type = CR__OPT_STR, .offset = SETUP(dead_letter_url),
     .metavar = "URL", .help = "queue for requests received --max-receives times"},
    {.name = "visibility-s", .type = CR__OPT_INT, .offset = SETUP(visibility_s), .metavar = "S",
     .help = "the request queue's visibility timeout", .def = "30", .lo = 1, .hi = 43200},
    {.name = "max-receives", .type = CR__OPT_INT, .offset = SETUP(max_receives), .metavar = "N",
     .help = "with --dead-letter: receives before a request is dead-lettered (default 5)",
     .lo = 1, .hi = 1000},
};

static const struct cr__program setup_program = {
    .name = "cloudrec setup",
    .synopsis = "[--input URL] [--output URL] [--requests URL] [--replies URL] "
                "[--dead-letter URL] [options]",
    .about = "Makes the stores and queues of a deployment exist: S3 buckets (s3://bucket),\n"
             "SQS queues (sqs://name), or their local forms (file:///dir,\n"
             "sqlite:///path/queue.db?name=q). Safe to run again: what exists is left as it\n"
             "is and reported as such. One line per resource: created|exists|ready URL (what).\n"
             "At least one of --input, --output, --requests, --replies is needed.\n\n",
    .epilog = "AWS settings come from the environment: AWS_REGION, AWS_PROFILE or the keys,\n"
              "AWS_ENDPOINT_URL[_S3|_SQS] (docs/aws-mode.md).\n"
              "Exit status: 0 done, 1 a resource could not be made (e.g. a queue exists with\n"
              "other attributes), 2 usage error.\n",
    .opts = setup_opts,
    .n_opts = sizeof(setup_opts) / sizeof(setup_opts[0]),
    .size = sizeof(struct cr_setup_options),
};


/* Prints one resource's outcome as it is done. */
static void setup_report(void *userdata, const char *url, const char *what, const char *outcome)
{
    (void)userdata;
    printf("%-8s %s (%s)\n", outcome, url, what);
    fflush(stdout);
}

int cloudrec_cmd_setup(int argc, char **argv)
{
    struct cr_setup_options o;
    int rc = cr__opts_parse(&setup_program, argc, argv, &o, NULL);
    if (rc >= 0)
        return rc;
    if (!o.input_url && !o.output_url && !o.requests_url && !o.replies_url) {
        fprintf(stderr, "cloudrec setup: at least one of --input, --output, --requests, "
                        "--replies is needed\ntry 'cloudrec setup --help'\n");
        return SETUP_EXIT_USAGE;
    }
    struct cr_error err = {0};
    cr_status st = cr_setup(&o, setup_report, NULL, &err);
    if (st == CR_OK)
        return 0;
    tool_fail("cloudrec", "setup", st, &err);
    return st == CR_ERR_INVALID && !err.aws_code[0] && !err.http_status ? SETUP_EXIT_USAGE
                                                                        : SETUP_EXIT_FAIL;
}
