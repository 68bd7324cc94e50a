/* load_check.c - the load generator's pure half: judging answers, the
 * expected-labels table and percentiles. No I/O besides reading the CSV. */
#include "internal.h"
#include "net/load_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The labels CSV is a list of names, not data: a generous cap keeps a wrong
 * path (a disk image, /dev/zero) from eating memory. */
#define LABELS_MAX_BYTES ((size_t)64 << 20)

struct label_entry {
    char *stem;
    char *label;
    size_t line; /* orders duplicates so that the last one wins */
};

struct cr_load_labels {
    struct label_entry *entries; /* sorted by stem, one per stem */
    size_t n;
    size_t cap;
};

/* See load_internal.h; shared by judging and the labels table so both agree
 * on what a stem is. */
size_t cr__load_stem_len(const char *name)
{
    const char *dot = strrchr(name, '.');
    /* ".hidden" has no extension: its stem is the whole name. */
    return dot && dot != name ? (size_t)(dot - name) : strlen(name);
}

/* Narrows [*s, *e) to exclude leading and trailing ASCII whitespace. */
static void trim_span(const char **s, const char **e)
{
    while (*s < *e && isspace((unsigned char)**s))
        (*s)++;
    while (*e > *s && isspace((unsigned char)(*e)[-1]))
        (*e)--;
}

/* The judging rule of cloudrec/load.h; borrows its arguments, allocates nothing. */
enum cr_load_verdict cr__load_judge(const char *name, const char *body, const char *expected_label)
{
    if (!name || !body)
        return CR_LOAD_WRONG;
    size_t stem_len = cr__load_stem_len(name);
    if (strncmp(body, name, stem_len) != 0 || body[stem_len] != ':')
        return CR_LOAD_WRONG;
    const char *ls = body + stem_len + 1, *le = ls + strlen(ls);
    trim_span(&ls, &le);
    if (ls == le)
        return CR_LOAD_WRONG;
    if (!expected_label)
        return CR_LOAD_CORRECT;
    const char *es = expected_label, *ee = es + strlen(es);
    trim_span(&es, &ee);
    return (size_t)(le - ls) == (size_t)(ee - es) && memcmp(ls, es, (size_t)(le - ls)) == 0
               ? CR_LOAD_CORRECT
               : CR_LOAD_WRONG;
}

/* Nearest-rank percentile over a caller-sorted array (cloudrec/load.h). */
int64_t cr__load_percentile(const int64_t *sorted, size_t n, double p)
{
    if (!sorted || n == 0)
        return 0;
    if (!(p > 0.0)) /* also catches NaN */
        return sorted[0];
    if (p >= 100.0)
        return sorted[n - 1];
    /* p * n first keeps integer percentiles exact (90 * 10 / 100 == 9). */
    double rank = ceil(p * (double)n / 100.0 - 1e-9);
    size_t r = rank < 1.0 ? 1 : (size_t)rank;
    return sorted[(r > n ? n : r) - 1];
}

/* Reads one CSV field starting at *pp within [*pp, end) into a new string.
 * A quoted field ends at its closing quote; an unquoted one at `stop` (',' or
 * the end of the line). Leaves *pp after the field. NULL with *bad set on a
 * missing closing quote, NULL without it on NOMEM. */
static char *read_field(const char **pp, const char *end, int stop, int *bad)
{
    const char *p = *pp;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p < end && *p == '"') {
        struct cr_buf b;
        cr_buf_init(&b, 0);
        for (p++;; p++) {
            if (p >= end) {
                *bad = 1;
                cr_buf_clear(&b);
                return NULL;
            }
            if (*p == '"' && !(p + 1 < end && p[1] == '"'))
                break;
            if (*p == '"')
                p++; /* "" stands for one quote */
            if (cr__buf_append(&b, p, 1) != CR_OK) {
                cr_buf_clear(&b);
                return NULL;
            }
        }
        *pp = p + 1;
        return cr__buf_steal(&b, NULL);
    }
    const char *s = p, *e = stop ? memchr(p, stop, (size_t)(end - p)) : NULL;
    if (!e)
        e = end;
    *pp = e;
    trim_span(&s, &e);
    return strndup(s, (size_t)(e - s));
}

/* Appends an entry, taking ownership of stem and label (freed on failure). */
static cr_status labels_push(struct cr_load_labels *t, char *stem, char *label, size_t line)
{
    struct label_entry *e = cr__array_grow(t->entries, &t->cap, t->n, sizeof(*e), 64);
    if (!e) {
        free(stem);
        free(label);
        return CR_ERR_NOMEM;
    }
    t->entries = e;
    t->entries[t->n++] = (struct label_entry){.stem = stem, .label = label, .line = line};
    return CR_OK;
}

/* True when [p, end) holds only blanks. */
static int only_blanks(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p == end;
}

/* Parses one non-blank, non-comment line [p, end) into the table. */
static cr_status parse_line(struct cr_load_labels *t, const char *p, const char *end, size_t line,
                            struct cr_error *err)
{
    int bad = 0;
    char *name = read_field(&p, end, ',', &bad), *label = NULL;
    if (!name)
        goto fail;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p >= end || *p != ',' || !name[0]) {
        bad = 1;
        goto fail;
    }
    p++;
    if (!(label = read_field(&p, end, 0, &bad)))
        goto fail;
    if (!label[0] || !only_blanks(p, end)) {
        bad = 1;
        goto fail;
    }
    /* Keys are stems: `test_0` and `test_0.JPEG` both name test_0.JPEG. */
    name[cr__load_stem_len(name)] = '\0';
    return labels_push(t, name, label, line);
fail:
    free(name);
    free(label);
    if (!bad)
        return cr__fail(err, CR_ERR_NOMEM, "out of memory");
    return cr__fail(err, CR_ERR_FORMAT,
                    "line %zu: want `name,label` (quotes balanced, neither empty)", line);
}

/* qsort order for entries: by stem, then by line, so the last line of a name
 * ends each run of equal stems. */
static int entry_cmp(const void *a, const void *b)
{
    const struct label_entry *x = a, *y = b;
    int c = strcmp(x->stem, y->stem);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* Sorts by stem and keeps the last line of each run of equal stems. */
static void labels_finish(struct cr_load_labels *t)
{
    if (t->n > 1) /* qsort's pointer must not be NULL, even for 0 entries */
        qsort(t->entries, t->n, sizeof(*t->entries), entry_cmp);
    size_t w = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (i + 1 < t->n && strcmp(t->entries[i].stem, t->entries[i + 1].stem) == 0) {
            free(t->entries[i].stem);
            free(t->entries[i].label);
            continue;
        }
        t->entries[w++] = t->entries[i];
    }
    t->n = w;
}

/* Builds a table line by line; on any failure nothing is returned and all
 * partial entries are freed. */
cr_status cr__load_labels_parse(const char *text, size_t len, struct cr_load_labels **out,
                               struct cr_error *err)
{
    if (!out || (!text && len))
        return cr__fail(err, CR_ERR_INVALID, "cr__load_labels_parse: NULL argument");
    *out = NULL;
    struct cr_load_labels *t = calloc(1, sizeof(*t));
    if (!t)
        return cr__fail(err, CR_ERR_NOMEM, "out of memory");
    const char *p = text, *end = text + len;
    cr_status st = CR_OK;
    for (size_t line = 1; p < end && st == CR_OK; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end, *s = p;
        p = nl ? nl + 1 : end;
        if (le > s && le[-1] == '\r')
            le--;
        while (s < le && isspace((unsigned char)*s))
            s++;
        if (s == le || *s == '#')
            continue;
        st = parse_line(t, s, le, line, err);
    }
    if (st != CR_OK) {
        cr__load_labels_free(t);
        return st;
    }
    labels_finish(t);
    *out = t;
    return CR_OK;
}

/* Reads the file (bounded) and parses it; parse errors get the path prefixed. */
cr_status cr__load_labels_read(const char *path, struct cr_load_labels **out, struct cr_error *err)
{
    struct cr_buf b;
    cr_buf_init(&b, LABELS_MAX_BYTES);
    cr_status st = cr__file_read(path, 0, &b, err);
    if (st == CR_OK && (st = cr__load_labels_parse((const char *)b.data, b.len, out, err)) != CR_OK)
        cr__fail_prefix(err, st, "%s: ", path);
    cr_buf_clear(&b);
    return st;
}

/* Binary search by stem; the label returned belongs to the table. */
const char *cr__load_labels_find(const struct cr_load_labels *labels, const char *name)
{
    if (!labels || !name || labels->n == 0)
        return NULL;
    size_t stem_len = cr__load_stem_len(name), lo = 0, hi = labels->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *k = labels->entries[mid].stem;
        int c = strncmp(k, name, stem_len);
        if (c == 0)
            c = k[stem_len] != '\0'; /* a longer key sorts after the stem */
        if (c == 0)
            return labels->entries[mid].label;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Distinct names after duplicates were folded; 0 for NULL. */
size_t cr__load_labels_count(const struct cr_load_labels *labels)
{
    return labels ? labels->n : 0;
}

/* Frees every entry and the table; accepts NULL. */
void cr__load_labels_free(struct cr_load_labels *labels)
{
    if (!labels)
        return;
    for (size_t i = 0; i < labels->n; i++) {
        free(labels->entries[i].stem);
        free(labels->entries[i].label);
    }
    free(labels->entries);
    free(labels);
}
