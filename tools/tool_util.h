/*
 * tool_util.h - what the command line tools share (tool_util.c): the stop
 * flag SIGTERM/SIGINT set, a bounded integer parse for operands, and
 * "prog: message" lines for a failed library call. Options are declared
 * and parsed with core/opts.h. The file is compiled into each tool that
 * needs it; it is not library API.
 */
#ifndef CLOUDREC_TOOLS_TOOL_UTIL_H
#define CLOUDREC_TOOLS_TOOL_UTIL_H

#include "cloudrec.h"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>

/* The exit status of every tool for a usage error. */
enum { TOOL_EXIT_USAGE = 2 };

/*
 * Makes SIGTERM and SIGINT set the returned flag (without SA_RESTART, so a
 * blocking wait returns early) and ignores SIGPIPE. The flag is static: it
 * stays valid for the life of the process.
 */
const volatile sig_atomic_t *tool_stop_on_signals(void);

/* Parses all of s as a decimal integer in [lo, hi] into *out; returns 0 on
 * any error (no digits, trailing text, out of range) and leaves *out. */
int tool_parse_int(const char *s, long long lo, long long hi, long long *out);

/* Fills *out for a classifier of the model in model_dir (NULL: the usual
 * lookup, cr_model_resolve) with cfg and names replacing the model's when
 * not NULL; out's strings point into *paths. 0 after printing
 * "<prog>: <why>" when the model is not found. */
int tool_classifier_options(const char *prog, const char *model_dir, const char *cfg,
                            const char *names, enum cr_engine engine,
                            struct cr_model_paths *paths, struct cr_classifier_options *out);

/* Prints "<prog>: <what>: <message>" (without "<what>: " when what is
 * NULL) on stderr, the message being err's, else cr_strerror(st). err may
 * be NULL. */
void tool_fail(const char *prog, const char *what, cr_status st, const struct cr_error *err);

#endif
