/*
 * opts.c - declared command lines: parse, help, dump and argv from one table
 * of struct cr__opt (core/opts.h).
 */
#include "core/opts.h"

#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* getopt_long values: declared option i is OPT_INDEX + i (short options
 * return their character), then the common options. */
enum { OPT_INDEX = 0x1000, OPT_HELP = 0x10000, OPT_VERSION, OPT_DUMP };

#define HELP_WIDTH 79

/* ---- fields ------------------------------------------------------------*/

/* The field of o in cmd. */
static void *field(const struct cr__opt *o, void *cmd)
{
    return (char *)cmd + o->offset;
}

/* Reads the numeric (or choice, or bool) field of o as a long long. */
static long long get_num(const struct cr__opt *o, const void *cmd)
{
    const void *f = (const char *)cmd + o->offset;
    switch (o->type) {
    case CR__OPT_UINT: return *(const unsigned *)f;
    case CR__OPT_LONG: return *(const long *)f;
    case CR__OPT_I64: return *(const int64_t *)f;
    case CR__OPT_SIZE: return (long long)*(const size_t *)f;
    case CR__OPT_U64: return (long long)*(const uint64_t *)f;
    default: return *(const int *)f; /* INT, BOOL, CHOICE */
    }
}

/* Writes v into the numeric (or choice, or bool) field of o. */
static void set_num(const struct cr__opt *o, void *cmd, long long v)
{
    void *f = field(o, cmd);
    switch (o->type) {
    case CR__OPT_UINT: *(unsigned *)f = (unsigned)v; break;
    case CR__OPT_LONG: *(long *)f = (long)v; break;
    case CR__OPT_I64: *(int64_t *)f = v; break;
    case CR__OPT_SIZE: *(size_t *)f = (size_t)v; break;
    case CR__OPT_U64: *(uint64_t *)f = (uint64_t)v; break;
    default: *(int *)f = (int)v; break;
    }
}

/* The multiplier between the value typed and the value stored. */
static long long scale_of(const struct cr__opt *o)
{
    return o->scale > 0 ? o->scale : 1;
}

/* The choice named s, or NULL. */
static const struct cr__opt_choice *choice_named(const struct cr__opt *o, const char *s)
{
    for (const struct cr__opt_choice *c = o->choices; c && c->name; c++)
        if (strcmp(c->name, s) == 0)
            return c;
    return NULL;
}

/* Parses all of s as a decimal integer in [lo, hi] (no space, no '+');
 * 0 on any error. */
static int parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end = NULL;
    errno = 0;
    if (!((s[0] >= '0' && s[0] <= '9') || (s[0] == '-' && s[1] >= '0' && s[1] <= '9')))
        return 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

/* Parses s as any value of o's integer type into its field
 * (CR__OPT_TYPE_RANGE); 0 on any error. */
static int store_type_range(const struct cr__opt *o, void *cmd, const char *s)
{
    if (o->type == CR__OPT_U64 || o->type == CR__OPT_SIZE || o->type == CR__OPT_UINT) {
        char *end = NULL;
        errno = 0;
        if (s[0] < '0' || s[0] > '9')
            return 0;
        unsigned long long v = strtoull(s, &end, 10);
        unsigned long long max = o->type == CR__OPT_U64    ? UINT64_MAX
                                 : o->type == CR__OPT_SIZE ? SIZE_MAX
                                                           : UINT_MAX;
        if (errno || *end || v > max)
            return 0;
        if (o->type == CR__OPT_U64)
            *(uint64_t *)field(o, cmd) = v;
        else if (o->type == CR__OPT_SIZE)
            *(size_t *)field(o, cmd) = (size_t)v;
        else
            *(unsigned *)field(o, cmd) = (unsigned)v;
        return 1;
    }
    int is_int = o->type == CR__OPT_INT, is_long = o->type == CR__OPT_LONG;
    long long lo = is_int ? INT_MIN : is_long ? LONG_MIN : LLONG_MIN;
    long long hi = is_int ? INT_MAX : is_long ? LONG_MAX : LLONG_MAX;
    long long v;
    if (!parse_int(s, lo, hi, &v))
        return 0;
    set_num(o, cmd, v);
    return 1;
}

/* Parses all of s as a finite double within o's bounds; 0 on any error. */
static int parse_double(const struct cr__opt *o, const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < (double)o->lo ||
        ((o->flags & CR__OPT_ABOVE_LO) && v == (double)o->lo) ||
        (o->hi > o->lo && v > (double)o->hi))
        return 0;
    *out = v;
    return 1;
}

/* Stores the typed value s in o's field; 0 when s is not a value of o. */
static int store(const struct cr__opt *o, void *cmd, const char *s)
{
    if (o->type == CR__OPT_FN)
        return o->apply(cmd, o, s);
    if (o->type == CR__OPT_DOUBLE)
        return parse_double(o, s, (double *)field(o, cmd));
    if (o->type == CR__OPT_LIST) {
        struct cr__opt_list *l = field(o, cmd);
        if (l->n >= CR__OPT_LIST_MAX)
            return 0;
        l->v[l->n++] = s;
        l->v[l->n] = NULL;
        return 1;
    }
    if (o->type == CR__OPT_STR) {
        *(const char **)field(o, cmd) = s;
        return 1;
    }
    if (o->type == CR__OPT_BOOL) {
        set_num(o, cmd, 1);
        return 1;
    }
    if (o->type == CR__OPT_CHOICE) {
        const struct cr__opt_choice *c = choice_named(o, s);
        if (c)
            set_num(o, cmd, c->value);
        return c != NULL;
    }
    if (o->flags & CR__OPT_TYPE_RANGE)
        return store_type_range(o, cmd, s);
    long long v;
    if (!parse_int(s, o->lo, o->hi, &v))
        return 0;
    set_num(o, cmd, v == 0 && (o->flags & CR__OPT_ZERO_IS_NONE) ? -1 : v * scale_of(o));
    return 1;
}

int cr__opt_store(const struct cr__opt *o, void *cmd, const char *value)
{
    return store(o, cmd, value);
}

const struct cr__opt *cr__opt_find(const struct cr__opt *opts, size_t n, const char *name,
                                   size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && memcmp(opts[i].name, name, len) == 0)
            return &opts[i];
    return NULL;
}

void cr__opts_defaults(const struct cr__program *p, void *cmd)
{
    memset(cmd, 0, p->size);
    for (size_t i = 0; i < p->n_opts; i++)
        if (p->opts[i].def)
            store(&p->opts[i], cmd, p->opts[i].def);
}

/* ---- parse -------------------------------------------------------------*/

/* "a, b or c": the choices of o, into out (size n). */
static void choice_list(const struct cr__opt *o, char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (const struct cr__opt_choice *c = o->choices; c && c->name; c++) {
        const char *sep = c == o->choices ? "" : c[1].name ? ", " : " or ";
        int w = snprintf(out + len, n - len, "%s%s", sep, c->name);
        if (w < 0 || (size_t)w >= n - len)
            return;
        len += (size_t)w;
    }
}

void cr__opt_values(const struct cr__opt *o, char *out, size_t n)
{
    out[0] = '\0';
    if (o->flags & CR__OPT_TYPE_RANGE)
        snprintf(out, n, "an integer");
    else if (o->type == CR__OPT_CHOICE)
        choice_list(o, out, n);
    else if (o->type == CR__OPT_LIST)
        snprintf(out, n, "repeatable");
    else if (o->type == CR__OPT_DOUBLE && o->hi > o->lo)
        snprintf(out, n, "%lld..%lld", o->lo, o->hi);
    else if (o->type == CR__OPT_DOUBLE)
        snprintf(out, n, "%s %lld", (o->flags & CR__OPT_ABOVE_LO) ? "above" : "at least", o->lo);
    else if (o->type == CR__OPT_FN)
        ;
    else if (o->type != CR__OPT_STR && o->type != CR__OPT_BOOL && o->hi >= INT_MAX)
        snprintf(out, n, "at least %lld", o->lo);
    else if (o->type != CR__OPT_STR && o->type != CR__OPT_BOOL)
        snprintf(out, n, "%lld..%lld", o->lo, o->hi);
}

/* Prints why s is not a value of o (from where: "" or " ($ENV)"). */
static void bad_value(const struct cr__program *p, const struct cr__opt *o, const char *s,
                      const char *from)
{
    char list[256];
    if (o->type == CR__OPT_CHOICE) {
        choice_list(o, list, sizeof(list));
        fprintf(stderr, "%s: --%s%s must be %s, got '%s'\n", p->name, o->name, from, list, s);
    } else if (o->type == CR__OPT_LIST) {
        fprintf(stderr, "%s: --%s can be given %d times at most\n", p->name, o->name,
                CR__OPT_LIST_MAX);
    } else if (o->type == CR__OPT_FN) {
        /* apply printed why */
    } else if (o->type == CR__OPT_DOUBLE) {
        char range[64];
        cr__opt_values(o, range, sizeof(range));
        fprintf(stderr, "%s: --%s%s must be a number, %s, got '%s'\n", p->name, o->name, from,
                range, s);
    } else {
        fprintf(stderr, "%s: --%s%s must be a number from %lld to %lld, got '%s'\n", p->name,
                o->name, from, o->lo, o->hi, s);
    }
}

/* Prints the hint every usage error ends with; returns 2. */
static int usage_error(const struct cr__program *p)
{
    fprintf(stderr, "try '%s --help'\n", p->name);
    return 2;
}

/* Applies the environment variables of options that have one; 0 after the
 * error line when one holds a bad value. */
static int apply_env(const struct cr__program *p, void *cmd)
{
    for (size_t i = 0; i < p->n_opts; i++) {
        const struct cr__opt *o = &p->opts[i];
        const char *v = o->env ? getenv(o->env) : NULL;
        if (!v || !*v)
            continue;
        if (!store(o, cmd, v)) {
            char from[96];
            snprintf(from, sizeof(from), " ($%s)", o->env);
            bad_value(p, o, v, from);
            return 0;
        }
    }
    return 1;
}

/* 1 when o takes a value on the command line. */
static int takes_value(const struct cr__opt *o)
{
    return o->type == CR__OPT_FN ? o->takes_value : o->type != CR__OPT_BOOL;
}

/* The getopt_long table: the declared options (val = index), then the
 * common ones. Owned by the caller (free). */
static struct option *getopt_table(const struct cr__program *p)
{
    struct option *t = calloc(p->n_opts + 4, sizeof(*t));
    if (!t)
        return NULL;
    for (size_t i = 0; i < p->n_opts; i++)
        t[i] = (struct option){p->opts[i].name,
                               takes_value(&p->opts[i]) ? required_argument : no_argument,
                               NULL, OPT_INDEX + (int)i};
    t[p->n_opts] = (struct option){"help", no_argument, NULL, OPT_HELP};
    t[p->n_opts + 1] = (struct option){"version", no_argument, NULL, OPT_VERSION};
    t[p->n_opts + 2] = (struct option){"dump-options", no_argument, NULL, OPT_DUMP};
    return t;
}

/* Handles a common option: prints what it asks for; returns 0. */
static int common_option(const struct cr__program *p, int c)
{
    if (c == OPT_HELP)
        cr__opts_help(p, stdout);
    else if (c == OPT_VERSION)
        printf("%s %s\n", p->name, cr_version());
    else
        cr__opts_dump(p, stdout);
    return 0;
}

/* The getopt_long short options of p into out (size n): "+" to stop at the
 * first operand where only "--" starts them, ":" to report a missing value
 * as ':', "h", then each declared short option. */
static void short_options(const struct cr__program *p, char *out, size_t n)
{
    int stop = p->operands == CR__OPERANDS_AFTER_DASH || p->operands == CR__OPERANDS_REST;
    size_t len = (size_t)snprintf(out, n, "%s:h", stop ? "+" : "");
    for (size_t i = 0; i < p->n_opts && len + 3 < n; i++)
        if (p->opts[i].short_name) {
            out[len++] = p->opts[i].short_name;
            if (takes_value(&p->opts[i]))
                out[len++] = ':';
            out[len] = '\0';
        }
}

/* The index of the option with short name c, or -1. */
static int short_index(const struct cr__program *p, int c)
{
    for (size_t i = 0; i < p->n_opts; i++)
        if (p->opts[i].short_name && p->opts[i].short_name == c)
            return (int)i;
    return -1;
}

/* The getopt loop: -1 when every option was applied, else an exit code. */
static int getopt_loop(const struct cr__program *p, int argc, char **argv, void *cmd,
                       const struct option *table)
{
    char shortopts[128];
    short_options(p, shortopts, sizeof(shortopts));
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, shortopts, table, NULL)) != -1) {
        if (c == 'h')
            c = OPT_HELP;
        if (c >= OPT_HELP)
            return common_option(p, c);
        if (c == '?' || c == ':') {
            fprintf(stderr, c == ':' ? "%s: %s needs a value\n" : "%s: unknown option '%s'\n",
                    p->name, argv[optind - 1]);
            return usage_error(p);
        }
        const struct cr__opt *o = &p->opts[c >= OPT_INDEX ? c - OPT_INDEX : short_index(p, c)];
        if (!store(o, cmd, optarg)) {
            bad_value(p, o, optarg, "");
            return usage_error(p);
        }
    }
    return -1;
}

/* Checks required options and operands after parsing. */
static int check_parsed(const struct cr__program *p, int argc, char **argv, const void *cmd)
{
    for (size_t i = 0; i < p->n_opts; i++) {
        const struct cr__opt *o = &p->opts[i];
        const char *const *value = (const void *)((const char *)cmd + o->offset);
        if ((o->flags & CR__OPT_REQUIRED) && !*value) {
            fprintf(stderr, "%s: --%s is required%s%s%s\n", p->name, o->name,
                    o->env ? " (or $" : "", o->env ? o->env : "", o->env ? ")" : "");
            return usage_error(p);
        }
    }
    int dash = optind > 0 && optind <= argc && strcmp(argv[optind - 1], "--") == 0;
    int allowed = p->operands == CR__OPERANDS_ANY || p->operands == CR__OPERANDS_REST ||
                  (p->operands == CR__OPERANDS_AFTER_DASH && dash);
    if (optind < argc && !allowed) {
        fprintf(stderr, "%s: unexpected operand '%s'\n", p->name, argv[optind]);
        return usage_error(p);
    }
    return -1;
}

int cr__opts_parse(const struct cr__program *p, int argc, char **argv, void *cmd,
                   int *first_operand)
{
    cr__opts_defaults(p, cmd);
    if (!apply_env(p, cmd))
        return usage_error(p);
    struct option *table = getopt_table(p);
    if (!table) {
        fprintf(stderr, "%s: out of memory\n", p->name);
        return 2;
    }
    optind = 0; /* glibc: 0 reinitializes, as parsing another argv needs */
    int rc = getopt_loop(p, argc, argv, cmd, table);
    free(table);
    if (rc < 0)
        rc = check_parsed(p, argc, argv, cmd);
    if (first_operand)
        *first_operand = optind;
    return rc;
}

/* ---- help and dump -----------------------------------------------------*/

/* Writes s[0..n) wrapped at spaces to HELP_WIDTH columns, continuation
 * lines indented by indent; col is where the first line starts. */
static void wrap_words(FILE *f, const char *s, size_t n, int col, int indent)
{
    const char *end = s + n;
    int fresh = 1; /* nothing written on this line yet */
    while (s < end) {
        if (*s == ' ') {
            s++;
            continue;
        }
        size_t word = 0;
        while (s + word < end && s[word] != ' ')
            word++;
        if (!fresh && col + 1 + (int)word > HELP_WIDTH) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
            fresh = 1;
        }
        if (!fresh) {
            fputc(' ', f);
            col++;
        }
        fwrite(s, 1, word, f);
        col += (int)word;
        s += word;
        fresh = 0;
    }
    fputc('\n', f);
}

/* Writes text: its first line wrapped (wrap_words), every further line
 * ("\n"-separated: a preformatted list) as it is, indented by indent. */
static void wrap(FILE *f, const char *s, int col, int indent)
{
    size_t n = strcspn(s, "\n");
    wrap_words(f, s, n, col, indent);
    while (s[n] == '\n') {
        s += n + 1;
        n = strcspn(s, "\n");
        fprintf(f, "%*s%.*s\n", indent, "", (int)n, s);
    }
}

/* "-x, --name METAVAR" of o into out. */
static void flag_text(const struct cr__opt *o, char *out, size_t n)
{
    char s[8] = "";
    if (o->short_name)
        snprintf(s, sizeof(s), "-%c, ", o->short_name);
    snprintf(out, n, "%s--%s%s%s", s, o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
}


/* o's help text with "(RANGE; default D)" and "[$ENV]", where they apply,
 * after its first line. */
static void help_text(const struct cr__opt *o, char *out, size_t n)
{
    char range[256];
    cr__opt_values(o, range, sizeof(range));
    int first = (int)strcspn(o->help, "\n");
    snprintf(out, n, "%.*s%s%s%s%s%s%s%s%s%s%s", first, o->help, *range || o->def ? " (" : "",
             range, *range && o->def ? "; " : "", o->def ? "default " : "",
             o->def ? o->def : "", *range || o->def ? ")" : "", o->env ? " [$" : "",
             o->env ? o->env : "", o->env ? "]" : "", o->help + first);
}

/* One entry of --help: the flag padded to col, then its help wrapped. */
static void help_entry(FILE *f, const char *flag, const char *help, int col)
{
    int w = fprintf(f, "  %s", flag);
    if (w + 1 >= col) {
        fprintf(f, "\n%*s", col, "");
        w = col;
    }
    fprintf(f, "%*s", col - w, "");
    wrap(f, help, col, col);
}

void cr__opts_help(const struct cr__program *p, FILE *f)
{
    int lead = fprintf(f, "usage: %s ", p->name);
    wrap(f, p->synopsis, lead, lead);
    fputc('\n', f);
    if (p->about)
        fputs(p->about, f);
    int col = (int)strlen("--dump-options");
    char flag[128], help[1024];
    for (size_t i = 0; i < p->n_opts; i++) {
        flag_text(&p->opts[i], flag, sizeof(flag));
        col = (int)strlen(flag) > col ? (int)strlen(flag) : col;
    }
    col = col + 4 > 28 ? 28 : col + 4;
    fputs("Options:\n", f);
    for (size_t i = 0; i < p->n_opts; i++) {
        flag_text(&p->opts[i], flag, sizeof(flag));
        help_text(&p->opts[i], help, sizeof(help));
        help_entry(f, flag, help, col);
    }
    help_entry(f, "-h, --help", "this help", col);
    help_entry(f, "--version", "print the version", col);
    help_entry(f, "--dump-options", "print the options as a table (tab-separated), for tools",
               col);
    if (p->epilog)
        fprintf(f, "\n%s", p->epilog);
}

void cr__opts_dump(const struct cr__program *p, FILE *f)
{
    for (size_t i = 0; i < p->n_opts; i++) {
        const struct cr__opt *o = &p->opts[i];
        char range[256];
        cr__opt_values(o, range, sizeof(range));
        fprintf(f, "--%s\t%s\t%s\t%s\t%s\t%s\t", o->name, o->metavar ? o->metavar : "",
                o->def ? o->def : "", o->env ? o->env : "", range,
                (o->flags & CR__OPT_REQUIRED) ? "required" : "");
        /* One line: every run of spaces and newlines (a list's lines and
         * their indent) becomes one space. */
        for (const char *c = o->help; *c; c++) {
            int space = *c == ' ' || *c == '\n';
            fputc(space ? ' ' : *c, f);
            if (space)
                c += strspn(c + 1, " \n");
        }
        fputc('\n', f);
    }
}

/* ---- argv --------------------------------------------------------------*/

void cr__argv_add(struct cr__argv *a, const char *s)
{
    if (a->failed)
        return;
    if (a->n + 2 > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 32;
        char **v = realloc(a->v, cap * sizeof(char *));
        if (!v) {
            a->failed = 1;
            return;
        }
        a->v = v;
        a->cap = cap;
    }
    if (!(a->v[a->n] = strdup(s))) {
        a->failed = 1;
        return;
    }
    a->v[++a->n] = NULL;
}

void cr__argv_addf(struct cr__argv *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        a->failed = 1;
        return;
    }
    cr__argv_add(a, s);
    free(s);
}

void cr__argv_add_all(struct cr__argv *a, const char *const *list)
{
    for (size_t i = 0; list && list[i]; i++)
        cr__argv_add(a, list[i]);
}

void cr__argv_clear(struct cr__argv *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
    memset(a, 0, sizeof(*a));
}

/* 1 when o's field differs between cmd and def (the defaults). */
static int differs(const struct cr__opt *o, const void *cmd, const void *def)
{
    if (o->type == CR__OPT_FN)
        return 0; /* not expressible: never passed */
    if (o->type == CR__OPT_DOUBLE)
        return *(const double *)((const char *)cmd + o->offset) !=
               *(const double *)((const char *)def + o->offset);
    if (o->type == CR__OPT_LIST)
        return ((const struct cr__opt_list *)((const char *)cmd + o->offset))->n > 0;
    if (o->type != CR__OPT_STR)
        return get_num(o, cmd) != get_num(o, def);
    const char *a = *(const char *const *)((const char *)cmd + o->offset);
    const char *b = *(const char *const *)((const char *)def + o->offset);
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* 1 when o's field is 0 and that is the library's default, not a value to
 * pass (CR__OPT_ZERO_IS_NONE: 0 typed would mean "none"). */
static int zero_means_default(const struct cr__opt *o, const void *cmd)
{
    return (o->flags & CR__OPT_ZERO_IS_NONE) && get_num(o, cmd) == 0;
}

/* Appends o's flag and its value as typed; CR_ERR_INVALID when the field
 * holds what the option cannot say. */
static cr_status append_opt(const struct cr__opt *o, const void *cmd, struct cr__argv *out,
                            struct cr_error *err)
{
    if (o->type == CR__OPT_LIST) {
        const struct cr__opt_list *l = (const void *)((const char *)cmd + o->offset);
        for (int i = 0; i < l->n; i++) {
            cr__argv_addf(out, "--%s", o->name);
            cr__argv_add(out, l->v[i]);
        }
        return CR_OK;
    }
    if (o->type == CR__OPT_DOUBLE) {
        cr__argv_addf(out, "--%s", o->name);
        cr__argv_addf(out, "%.17g", *(const double *)((const char *)cmd + o->offset));
        return CR_OK;
    }
    if (o->type == CR__OPT_STR) {
        const char *s = *(const char *const *)((const char *)cmd + o->offset);
        if (!s)
            return cr__fail(err, CR_ERR_INVALID, "--%s: no value to pass", o->name);
        cr__argv_addf(out, "--%s", o->name);
        cr__argv_add(out, s);
        return CR_OK;
    }
    long long v = get_num(o, cmd);
    if (o->type == CR__OPT_BOOL) {
        if (v)
            cr__argv_addf(out, "--%s", o->name);
        return CR_OK;
    }
    if (o->type == CR__OPT_CHOICE) {
        const struct cr__opt_choice *c = o->choices;
        while (c && c->name && c->value != v)
            c++;
        if (!c || !c->name)
            return cr__fail(err, CR_ERR_INVALID, "--%s: %lld is not one of its values", o->name, v);
        cr__argv_addf(out, "--%s", o->name);
        cr__argv_add(out, c->name);
        return CR_OK;
    }
    long long typed = v / scale_of(o);
    if (v == -1 && (o->flags & CR__OPT_ZERO_IS_NONE))
        typed = 0;
    else if (v % scale_of(o) || typed < o->lo || typed > o->hi)
        return cr__fail(err, CR_ERR_INVALID, "--%s: %lld cannot be passed (%lld..%lld)", o->name, v,
                        o->lo, o->hi);
    cr__argv_addf(out, "--%s", o->name);
    cr__argv_addf(out, "%lld", typed);
    return CR_OK;
}

cr_status cr__opts_argv(const struct cr__program *p, const void *cmd, struct cr__argv *out,
                        struct cr_error *err)
{
    void *def = malloc(p->size);
    if (!def)
        return cr__fail(err, CR_ERR_NOMEM, "%s: out of memory", p->name);
    cr__opts_defaults(p, def);
    cr_status st = CR_OK;
    for (size_t i = 0; i < p->n_opts && st == CR_OK; i++)
        if (differs(&p->opts[i], cmd, def) && !zero_means_default(&p->opts[i], cmd))
            st = append_opt(&p->opts[i], cmd, out, err);
    free(def);
    if (st == CR_OK && out->failed)
        st = cr__fail(err, CR_ERR_NOMEM, "%s: out of memory", p->name);
    return st == CR_OK ? st : cr__fail_prefix(err, st, "%s ", p->name);
}

int cr__opts_set(const struct cr__program *p, void *cmd, const char *name, const char *value)
{
    const struct cr__opt *o = cr__opt_find(p->opts, p->n_opts, name, strlen(name));
    if (!o) {
        fprintf(stderr, "%s: no option --%s\n", p->name, name);
        return 0;
    }
    if (store(o, cmd, value))
        return 1;
    bad_value(p, o, value, "");
    return 0;
}

const char *cr__opts_flag(const struct cr__program *p, size_t offset)
{
    for (size_t i = 0; i < p->n_opts; i++)
        if (p->opts[i].offset == offset)
            return p->opts[i].name;
    return NULL;
}
