/*
 * cmd_setup.c - `cloudrec setup`: flags for cr_setup (include/cloudrec/service.h),
 * which makes the buckets and queues of a deployment exist. Part of the
 * cloudrec CLI; kept apart so cloudrec.c stays a dispatcher.
 */
#include "cmd_setup.h"

#include "cloudrec.h"
#include "cloudrec/service.h"
#include "tool_util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SETUP_EXIT_FAIL = 1, SETUP_EXIT_USAGE = 2 };

void cloudrec_setup_usage(FILE *f)
{
    fprintf(f, "usage: cloudrec setup [--input URL] [--output URL] [--requests URL]\n"
               "                      [--replies URL] [--dead-letter URL] [options]\n"
               "\n"
               "Makes the stores and queues of a deployment exist: S3 buckets (s3://bucket),\n"
               "SQS queues (sqs://name), or their local forms (file:///dir,\n"
               "sqlite:///path/queue.db?name=q). Safe to run again: what exists is left as it\n"
               "is and reported as such. One line per resource: created|exists|ready URL (what).\n"
               "  --input URL          store for uploads\n"
               "  --output URL         store for results\n"
               "  --requests URL       the workers' request queue\n"
               "  --replies URL        the web tier's reply queue\n"
               "  --dead-letter URL    queue for requests received --max-receives times\n"
               "  --visibility-s S     the request queue's visibility timeout (default 30)\n"
               "  --max-receives N     receives before a request is dead-lettered (default 5)\n"
               "AWS settings come from the environment: AWS_REGION, AWS_PROFILE or the keys,\n"
               "AWS_ENDPOINT_URL[_S3|_SQS] (docs/aws-mode.md).\n"
               "Exit status: 0 done, 1 a resource could not be made (e.g. a queue exists with\n"
               "other attributes), 2 usage error.\n");
}

/* Parses a decimal integer in [lo, hi] into an int; 0 on any error. */
static int setup_parse_int(const char *s, long lo, long hi, int *out)
{
    long long v;
    if (!tool_parse_int(s, lo, hi, &v))
        return 0;
    *out = (int)v;
    return 1;
}

/* Applies one flag (a tool_flag_fn on struct cr_setup_options); 0 (with a
 * message) on a bad value. */
static int setup_flag(int c, const char *val, void *ctx)
{
    struct cr_setup_options *o = ctx;
    switch (c) {
    case 'i':
        o->input_url = val;
        return 1;
    case 'o':
        o->output_url = val;
        return 1;
    case 'r':
        o->requests_url = val;
        return 1;
    case 'y':
        o->replies_url = val;
        return 1;
    case 'd':
        o->dead_letter_url = val;
        return 1;
    case 'V':
        if (setup_parse_int(val, 1, 43200, &o->visibility_s))
            return 1;
        fprintf(stderr, "cloudrec: --visibility-s must be a number from 1 to 43200\n");
        return 0;
    case 'R':
        if (setup_parse_int(val, 1, 1000, &o->max_receives))
            return 1;
        fprintf(stderr, "cloudrec: --max-receives must be a number from 1 to 1000\n");
        return 0;
    }
    return 0;
}

/* Parses the flags; -1 to go on, else the exit code. */
static int setup_parse(int argc, char **argv, struct cr_setup_options *o)
{
    static const struct option opts[] = {{"input", required_argument, NULL, 'i'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"requests", required_argument, NULL, 'r'},
                                         {"replies", required_argument, NULL, 'y'},
                                         {"dead-letter", required_argument, NULL, 'd'},
                                         {"visibility-s", required_argument, NULL, 'V'},
                                         {"max-receives", required_argument, NULL, 'R'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int rc = tool_getopt(argc, argv, "h", opts, setup_flag, o, cloudrec_setup_usage);
    if (rc >= 0)
        return rc;
    if (optind < argc) {
        fprintf(stderr, "cloudrec: setup takes no arguments ('%s')\n", argv[optind]);
        return SETUP_EXIT_USAGE;
    }
    if (!o->input_url && !o->output_url && !o->requests_url && !o->replies_url) {
        fprintf(stderr, "cloudrec: setup needs at least one of --input, --output, --requests, "
                        "--replies\n");
        return SETUP_EXIT_USAGE;
    }
    return -1;
}

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
    memset(&o, 0, sizeof(o));
    int rc = setup_parse(argc, argv, &o);
    if (rc >= 0)
        return rc;
    struct cr_error err = {0};
    cr_status st = cr_setup(&o, setup_report, NULL, &err);
    if (st == CR_OK)
        return 0;
    tool_fail("cloudrec", "setup", st, &err);
    return st == CR_ERR_INVALID && !err.aws_code[0] && !err.http_status ? SETUP_EXIT_USAGE
                                                                        : SETUP_EXIT_FAIL;
}
