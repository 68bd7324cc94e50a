/*
 * tool_util.h - what the command line tools share (tool_util.c): the stop
 * flag SIGTERM/SIGINT set, the getopt loop with its -h/--help and usage
 * handling, bounded integer flags with their one-line error, --log-level,
 * and "prog: message" lines for a failed library call. The file is
 * compiled into each tool that needs it; it is not library API.
 */
#ifndef CLOUDREC_TOOLS_TOOL_UTIL_H
#define CLOUDREC_TOOLS_TOOL_UTIL_H

#include "cloudrec.h"

#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>

/* The exit status of every tool for a usage error. */
enum { TOOL_EXIT_USAGE = 2 };

/* The number of elements of an array. */
#define TOOL_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Makes SIGTERM and SIGINT set the returned flag (without SA_RESTART, so a
 * blocking wait returns early) and ignores SIGPIPE. The flag is static: it
 * stays valid for the life of the process.
 */
const volatile sig_atomic_t *tool_stop_on_signals(void);

/* Parses all of s as a decimal integer in [lo, hi] into *out; returns 0 on
 * any error (no digits, trailing text, out of range) and leaves *out. */
int tool_parse_int(const char *s, long long lo, long long hi, long long *out);

/* tool_parse_int for the value of a flag; on error prints
 * "<prog>: <flag> must be a number from <lo> to <hi>, got '<s>'" on stderr
 * and returns 0. */
int tool_flag_int(const char *prog, const char *flag, const char *s, long long lo, long long hi,
                  long long *out);

/* Parses the value of --engine (auto, native, darknet) into *out; on error
 * prints "<prog>: --engine must be auto, native or darknet, got '<s>'" and
 * returns 0. */
int tool_flag_engine(const char *prog, const char *s, enum cr_engine *out);

/* The --engine line of every tool's --help. */
#define TOOL_ENGINE_HELP                                                                          \
    "  --engine E     auto (default: native when the cfg allows it, else Darknet),\n"          \
    "                 native or darknet\n"

/* One numeric flag of a tool: its option code, its name for messages and
 * its range. */
struct tool_int_flag {
    int c;
    const char *name;
    long long lo, hi;
};

/* Looks up option code c in flags[0..n) and parses val with
 * tool_flag_int: 1 with *out set, 0 after the error line, -1 (nothing
 * printed) when c is not in the table. */
int tool_int_flags(const char *prog, const struct tool_int_flag *flags, size_t n, int c,
                   const char *val, long long *out);

/* Applies one option (its code c, its value val or NULL) to ctx: 1 when
 * done, 0 after printing why it is refused. */
typedef int (*tool_flag_fn)(int c, const char *val, void *ctx);

/*
 * Runs getopt_long over argv from argv[1] with shortopts and opts, handing
 * every option but 'h' to fn. Returns -1 when all were applied (operands
 * start at optind), 0 after printing usage on stdout for 'h' (-h, --help),
 * or TOOL_EXIT_USAGE after printing usage on stderr for an unknown option
 * or one fn refused.
 */
int tool_getopt(int argc, char **argv, const char *shortopts, const struct option *opts,
                tool_flag_fn fn, void *ctx, void (*usage)(FILE *));

/* Parses a --log-level value into *level (an enum cr_log_level); on an
 * unknown name prints "<prog>: unknown --log-level '<val>'" on stderr and
 * returns 0. */
int tool_log_level(const char *prog, const char *val, int *level);

/* Prints "<prog>: <what>: <message>" (without "<what>: " when what is
 * NULL) on stderr, the message being err's, else cr_strerror(st). err may
 * be NULL. */
void tool_fail(const char *prog, const char *what, cr_status st, const struct cr_error *err);

#endif
