/*
 * cmd_aws_common.h - what the `cloudrec s3|sqs|ec2` subcommands share
 * (cmd_aws_common.c): the AWS flags (--region, --endpoint-url, --profile,
 * --json, -v), opening the context, one-line errors, exit statuses and a
 * few output helpers. Each family lives in its own file (cmd_s3.c,
 * cmd_sqs.c, cmd_ec2.c); cloudrec.c only dispatches to them.
 */
#ifndef CLOUDREC_TOOLS_CMD_AWS_COMMON_H
#define CLOUDREC_TOOLS_CMD_AWS_COMMON_H

#include "cloudrec.h"
#include "core/json.h"

#include <getopt.h>
#include <stdio.h>

enum { AWS_EXIT_OK = 0, AWS_EXIT_FAIL = 1, AWS_EXIT_USAGE = 2 };

/* Option codes of the shared flags (outside the ASCII range so that they
 * never clash with a command's own short options). */
enum { AWS_OPT_REGION = 0x100, AWS_OPT_ENDPOINT, AWS_OPT_PROFILE, AWS_OPT_JSON };

/* The shared flags' help lines. */
#define AWS_COMMON_HELP                                                                            \
    "Common flags:\n"                                                                              \
    "  --region R          AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, profile)\n"      \
    "  --endpoint-url URL  service endpoint (default: $AWS_ENDPOINT_URL_<SERVICE>,\n"              \
    "                      $AWS_ENDPOINT_URL, then AWS)\n"                                         \
    "  --profile NAME      profile of ~/.aws/credentials (default: $AWS_PROFILE, env keys)\n"      \
    "  --json              one JSON document on stdout instead of a table\n"                       \
    "  -v, --verbose       say which region, endpoint and credentials source are used\n"           \
    "                      on stderr (never a secret; `cloudrec -v ...` logs requests)\n"          \
    "  -h, --help          this help\n"                                                            \
    "Exit status: 0 success, 1 the request failed, 2 usage error.\n"

/* Settings every AWS subcommand takes. */
struct aws_cli {
    const char *prog;    /* "cloudrec s3 put", for messages */
    const char *service; /* "s3", "sqs", "ec2": for the -v endpoint line */
    const char *region;
    const char *endpoint_url;
    const char *profile;
    int json;
    int verbose;
};

/* Handles a shared option code c (with optarg); 1 when it was one. */
int aws_cli_option(struct aws_cli *a, int c, const char *arg);

/* A command's handler for its own options: returns 0 when arg is fine,
 * else prints why and returns AWS_EXIT_USAGE. */
typedef int (*aws_cli_opt_fn)(void *ctx, struct aws_cli *a, int c, const char *arg);

/*
 * Runs getopt_long over argv (argv[0] is the command's name) with the
 * shared flags plus own[] (terminated by a zero entry) and the short
 * options in shortopts; own options go to fn. Returns -1 to carry on
 * (positional arguments start at optind), or the exit status: 0 after
 * --help (usage printed on stdout), 2 for a bad flag (usage on stderr).
 */
int aws_cli_getopt(struct aws_cli *a, int argc, char **argv, const struct option *own,
                   const char *shortopts, aws_cli_opt_fn fn, void *ctx, void (*usage)(FILE *));

/*
 * Opens the AWS context for a (caller frees it with cr_aws_free). On
 * failure prints one line and returns the exit status (2 for a bad setting
 * such as no region, 1 otherwise); 0 on success. With -v, prints the
 * region, endpoint and credentials source on stderr.
 */
int aws_cli_open(const struct aws_cli *a, struct cr_aws **out);

/* Prints "<prog>: <message>" for a failed call on stderr and returns the
 * exit status for it (1; 2 for CR_ERR_INVALID raised before sending). */
int aws_cli_fail(const struct aws_cli *a, cr_status st, const struct cr_error *err);

/* Prints "<prog>: <formatted>" on stderr and returns AWS_EXIT_USAGE. */
int aws_cli_usage_error(const struct aws_cli *a, const char *fmt, ...) CR_PRINTF(2, 3);

/* 1 when have, the number of positional arguments, is in [min, max] (no
 * upper bound when max < 0); else prints "<prog>: wrong number of
 * arguments (see `cloudrec <service> --help`)" and returns 0. */
int aws_cli_want_args(const struct aws_cli *a, int have, int min, int max);

/* Finishes the JSON document w holds and prints it and a newline on
 * stdout; w is released. Returns AWS_EXIT_FAIL with a message on stderr
 * when it could not be built (out of memory), else AWS_EXIT_OK. */
int aws_cli_print_json(struct cr__jw *w);

/* Writes "names[i]":"values[i]" for i in [0, n) as members of the object
 * w has open. */
void aws_cli_json_pairs(struct cr__jw *w, char *const *names, char *const *values, size_t n);

/* Ends a {"<list>":[... document w holds with the listing's next token
 * (null when there is none) and prints it as aws_cli_print_json does. */
int aws_cli_print_page_json(struct cr__jw *w, const char *next_token);

/* Shows one page of a listing that starts at token (NULL: the first page):
 * text lines on stdout, or with --json items written to json (NULL
 * otherwise). *next gets the token of the page after it (malloc'd; NULL
 * after the last page). */
typedef cr_status (*aws_cli_page_fn)(struct cr_aws *aws, void *ctx, const char *token,
                                     struct cr__jw *json, char **next, struct cr_error *err);

/*
 * Runs an `ls` command: opens the AWS context, shows page after page from
 * token on (only one with one_page) through page, as text or, with --json,
 * as one document {"<key>":[...],"next_token":...}. When the text listing
 * stops before the end, says on stderr that more <what> follow and the
 * --token to resume with. Returns the exit status.
 */
int aws_cli_ls(struct aws_cli *a, const char *key, const char *what, const char *token,
               int one_page, aws_cli_page_fn page, void *ctx);

/* Formats Unix seconds as "2026-01-02T03:04:05Z", or "-" for 0. */
void aws_cli_time(int64_t epoch_s, char out[21]);

/* Subcommand entry points: argv[0] is "s3", "sqs" or "ec2"; they return
 * the exit status. */
int cloudrec_cmd_s3(int argc, char **argv);
int cloudrec_cmd_sqs(int argc, char **argv);
int cloudrec_cmd_ec2(int argc, char **argv);

/* One-paragraph usage of each family, for `cloudrec --help`. */
void cloudrec_s3_usage(FILE *f);
void cloudrec_sqs_usage(FILE *f);
void cloudrec_ec2_usage(FILE *f);

#endif
