/*
 * core/opts.h - declared command lines (internal).
 *
 * A program's options are declared once, as a table of struct cr__opt over
 * the program's command struct (the fields they set, by offset). The same
 * table is the program's parser (getopt_long underneath), its --help, the
 * argv the library builds to launch it, the TSV of --dump-options from which
 * the man pages and docs/programs.md are made, and what
 * tests/unit/test_opts.c checks. The three service programs' tables are in
 * core/programs.h; see docs/architecture.md, "Options".
 *
 * Every program also takes -h/--help, --version and --dump-options (not
 * declared in its table).
 */
#ifndef CLOUDREC_CORE_OPTS_H
#define CLOUDREC_CORE_OPTS_H

#include "cloudrec/core.h"

#include <stddef.h>
#include <stdio.h>

/* A numeric macro as the default text of an option: CR__STR(CR_X_DEFAULT). */
#define CR__STR_(x) #x
#define CR__STR(x) CR__STR_(x)

/* The C type of the field an option sets. */
enum cr__opt_type {
    CR__OPT_STR,    /* const char *: the argv string itself (borrowed) */
    CR__OPT_BOOL,   /* int set to 1; the option takes no value */
    CR__OPT_INT,    /* int */
    CR__OPT_UINT,   /* unsigned */
    CR__OPT_LONG,   /* long */
    CR__OPT_I64,    /* int64_t */
    CR__OPT_SIZE,   /* size_t */
    CR__OPT_U64,    /* uint64_t */
    CR__OPT_CHOICE, /* an int-sized enum: the value names one of choices */
    CR__OPT_LIST,   /* struct cr__opt_list: each use appends its value */
    CR__OPT_DOUBLE, /* double, finite, >= lo (> lo with CR__OPT_ABOVE_LO), <= hi
                       when hi > lo */
    CR__OPT_FN,     /* apply(cmd, value) does what the option means; offset unused */
};

/* The field of a repeatable option: the values in order, NULL-terminated. */
#define CR__OPT_LIST_MAX 32
struct cr__opt_list {
    const char *v[CR__OPT_LIST_MAX + 1];
    int n;
};

/* One value of a CR__OPT_CHOICE option. */
struct cr__opt_choice {
    const char *name;
    int value;
};

enum {
    CR__OPT_REQUIRED = 1u,     /* parsing fails unless given (or its env is set) */
    CR__OPT_ZERO_IS_NONE = 2u, /* a number: 0 on the command line is stored as -1
                                  (the library's "no limit"), and -1 is written
                                  back as 0 */
    CR__OPT_ABOVE_LO = 4u,     /* CR__OPT_DOUBLE: the value must be above lo */
    CR__OPT_TYPE_RANGE = 8u,   /* an integer: any value of the field's C type (lo
                                  and hi unused; uint64_t's whole range included) */
};

struct cr__opt;

/* What a CR__OPT_FN option o does with its value (NULL for a flag without
 * one): 1 when applied, 0 after printing why it is refused. */
typedef int (*cr__opt_apply_fn)(void *cmd, const struct cr__opt *o, const char *value);

/* One option of a program. Numbers are checked against [lo, hi] as typed,
 * then multiplied by scale (0 = 1) into the field. */
struct cr__opt {
    const char *name;    /* without "--" */
    char short_name;     /* -x as well; 0 = none */
    enum cr__opt_type type;
    size_t offset;       /* of the field in the program's command struct */
    const char *metavar; /* the value's name in --help; NULL for CR__OPT_BOOL */
    const char *help;    /* --help wraps its first line; further lines ("\n")
                            are printed as they are, indented */
    const char *def;     /* the default as it would be typed, applied before
                            the environment and argv; NULL = none (the field
                            stays zero; the help says what that means) */
    const char *env;     /* variable read when the option is not given; NULL = none */
    long long lo, hi;    /* numbers: the accepted range */
    int scale;
    unsigned flags;      /* CR__OPT_REQUIRED | CR__OPT_ZERO_IS_NONE */
    const struct cr__opt_choice *choices; /* CR__OPT_CHOICE: ends with {NULL, 0} */
    cr__opt_apply_fn apply;               /* CR__OPT_FN */
    int takes_value;                      /* CR__OPT_FN: 1 when it takes a value */
    int code;                             /* CR__OPT_FN: for apply to tell options apart */
};

/* Whether a program takes operands. */
enum cr__operands {
    CR__OPERANDS_NONE,       /* any operand is a usage error */
    CR__OPERANDS_AFTER_DASH, /* only after "--"; they are the program's to keep */
    CR__OPERANDS_ANY,        /* anywhere (moved after the options); the program's */
    CR__OPERANDS_REST,       /* the first operand and all after it are the program's
                                (a command and its arguments) */
};

/* A program's declared command line. */
struct cr__program {
    const char *name;     /* "cloudrec-web" */
    const char *synopsis; /* after the name in the usage line */
    const char *about;    /* text between the usage line and the options */
    const char *epilog;   /* text after the options: signals, exit status */
    const struct cr__opt *opts;
    size_t n_opts;
    size_t size; /* sizeof the command struct */
    enum cr__operands operands;
};

/* Sets every field of cmd (p->size bytes) to zero, then to its option's
 * default. */
void cr__opts_defaults(const struct cr__program *p, void *cmd);

/*
 * Fills cmd from its defaults, the environment and argv (getopt_long from
 * argv[1]). Returns -1 when the program should go on (operands, if the
 * program takes them, start at *first_operand; may be NULL), 0 after
 * printing what -h/--help, --version or --dump-options ask on stdout, or 2
 * after printing a one-line reason and "try '<prog> --help'" on stderr (an
 * unknown option, a bad value, a missing required option, an operand).
 * Strings in cmd point into argv or the environment.
 */
int cr__opts_parse(const struct cr__program *p, int argc, char **argv, void *cmd,
                   int *first_operand);

/* Writes p's --help: usage, about, one entry per option with its default,
 * environment variable and range, the common options and the epilog. */
void cr__opts_help(const struct cr__program *p, FILE *f);

/* Writes one line per option, tab-separated: --name, metavar, default, env,
 * accepted values ("1..256", "at least 1", "a, b or c"), "required" or
 * nothing, help. What scripts/mkoptions.py turns into docs/programs.md. */
void cr__opts_dump(const struct cr__program *p, FILE *f);

/* A growable argv: owned copies, NULL-terminated. After a failed
 * allocation it stays short and failed is set; check it once at the end. */
struct cr__argv {
    char **v;
    size_t n, cap;
    int failed;
};

/* Appends a copy of s. */
void cr__argv_add(struct cr__argv *a, const char *s);

/* Appends a formatted string. */
void cr__argv_addf(struct cr__argv *a, const char *fmt, ...) CR_PRINTF(2, 3);

/* Appends each string of a NULL-terminated list (list may be NULL). */
void cr__argv_add_all(struct cr__argv *a, const char *const *list);

/* Releases what a holds and zeroes it. */
void cr__argv_clear(struct cr__argv *a);

/*
 * Appends "--name value" to out for every option whose field in cmd differs
 * from its default (cr__opts_defaults), in declaration order: the command
 * line that makes cr__opts_parse give back cmd. A CR__OPT_ZERO_IS_NONE
 * field left 0 means the library's default and is not passed; CR__OPT_FN
 * options are never passed (only programs the library does not launch
 * have them). CR_ERR_INVALID when a
 * field holds a value its option cannot express (out of range, not a
 * choice), CR_ERR_NOMEM when out failed.
 */
cr_status cr__opts_argv(const struct cr__program *p, const void *cmd, struct cr__argv *out,
                        struct cr_error *err);

/* The option of opts[0..n) named by the first len bytes of name, or NULL. */
const struct cr__opt *cr__opt_find(const struct cr__opt *opts, size_t n, const char *name,
                                   size_t len);

/* Stores value (as typed) in o's field of cmd, as parsing does: 1 when
 * done, 0 when value is not one of o's (nothing printed, except what a
 * CR__OPT_FN prints). Integers are decimal, a sign only '-' and only for
 * signed types. */
int cr__opt_store(const struct cr__opt *o, void *cmd, const char *value);

/* What o accepts, into out (size n): "1..256", "at least 1", "auto,
 * native or darknet", "repeatable"; "" for strings and flags. */
void cr__opt_values(const struct cr__opt *o, char *out, size_t n);

/* Applies one option by name (without "--") to cmd as if it was on the
 * command line: 1 when done, 0 after printing why not (no such option, a
 * bad value). For a command that re-runs with one option changed. */
int cr__opts_set(const struct cr__program *p, void *cmd, const char *name, const char *value);

/* The name (without "--") of the option that sets the field at offset in
 * p's command struct; NULL when none does. */
const char *cr__opts_flag(const struct cr__program *p, size_t offset);

#endif
