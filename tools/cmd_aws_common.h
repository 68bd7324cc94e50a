/*
 * cmd_aws_common.h - what the `cloudrec s3|sqs|ec2` subcommands share
 * (cmd_aws_common.c): the AWS flags (--region, --endpoint-url, --profile,
 * --json, -v) as declarations, parsing, opening the context, one-line errors, exit statuses and a
 * few output helpers. Each family lives in its own file (cmd_s3.c,
 * cmd_sqs.c, cmd_ec2.c); cloudrec.c only dispatches to them.
 */
#ifndef CLOUDREC_TOOLS_CMD_AWS_COMMON_H
#define CLOUDREC_TOOLS_CMD_AWS_COMMON_H

#include "cloudrec.h"
#include "core/json.h"

#include "core/opts.h"

#include <stddef.h>
#include <stdio.h>

enum { AWS_EXIT_OK = 0, AWS_EXIT_FAIL = 1, AWS_EXIT_USAGE = 2 };

/* The shared flags, declared over a command struct T whose member `a` is
 * its struct aws_cli: the first entries of every family's option table. */
#define AWS_CLI_OPTS(T)                                                                           \
    {.name = "region", .type = CR__OPT_STR, .offset = offsetof(T, a.region), .metavar = "R",     \
     .help = "AWS region (default: $AWS_REGION, $AWS_DEFAULT_REGION, profile)"},                  \
        {.name = "endpoint-url", .type = CR__OPT_STR, .offset = offsetof(T, a.endpoint_url),     \
         .metavar = "URL",                                                                        \
         .help = "service endpoint (default: $AWS_ENDPOINT_URL_<SERVICE>, $AWS_ENDPOINT_URL, "   \
                 "then AWS)"},                                                                    \
        {.name = "profile", .type = CR__OPT_STR, .offset = offsetof(T, a.profile),               \
         .metavar = "NAME",                                                                       \
         .help = "profile of ~/.aws/credentials (default: $AWS_PROFILE, env keys)"},              \
        {.name = "json", .type = CR__OPT_BOOL, .offset = offsetof(T, a.json),                    \
         .help = "one JSON document on stdout instead of a table"},                               \
        {.name = "verbose", .short_name = 'v', .type = CR__OPT_BOOL,                             \
         .offset = offsetof(T, a.verbose),                                                        \
         .help = "say which region, endpoint and credentials source are used on stderr "         \
                 "(never a secret; `cloudrec -v ...` logs requests)"}

/* The end of every family's --help. */
#define AWS_CLI_EPILOG "Exit status: 0 success, 1 the request failed, 2 usage error.\n"

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

/*
 * Picks the command argv[1] names for the family p ("cloudrec s3"): its
 * index in table (n entries, stride bytes apart, each starting with its
 * const char *name), with prog set to "cloudrec s3 put" (size prog_size).
 * Else -1 with *rc the exit status: the family's help (on stderr, 2, when
 * no command follows; on stdout for -h/--help), its --dump-options, or an
 * unknown command (2).
 */
int aws_cli_command(const struct cr__program *p, int argc, char **argv, const void *table,
                    size_t stride, size_t n, char *prog, size_t prog_size, int *rc);

/* Splits a copy of the NAME=VALUE value of flag (the n-th of at most max)
 * into *name and *value; *copy holds it (the caller frees it). 0, else
 * the usage exit status after saying why. */
int aws_cli_split_kv(const struct aws_cli *a, const char *flag, const char *arg, size_t n,
                     size_t max, char **copy, const char **name, const char **value);

/*
 * Parses a family's command line (argv[0] is the command, "put") into cmd
 * with p, whose table starts with AWS_CLI_OPTS, then names a (the struct
 * aws_cli inside cmd) prog and the service ("s3" of "cloudrec s3").
 * Returns -1 to carry on (operands from optind on), else the exit status
 * (0 after --help).
 */
int aws_cli_parse(const struct cr__program *p, struct aws_cli *a, void *cmd, int argc,
                  char **argv, const char *prog);

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

#endif
