/*
 * json.c - the library's JSON reader and writer over jansson (the one file
 * that talks to jansson), plus the UTF-8 checks they share.
 *
 * jansson does the parsing and the strictness RFC 8259 asks for; this file adds
 * what callers rely on beyond it: an input size limit checked before parsing,
 * a nesting limit far below jansson's own (2048), and messages that say where.
 */
#include "core/json.h"

#include <jansson.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A struct cr__json is a json_t: the tree is jansson's own, read-only here. */
struct cr__json_doc {
    json_t *root;
};

/* The jansson value behind v. */
static const json_t *J(const struct cr__json *v)
{
    return (const json_t *)v;
}

/* The reader's view of a jansson value. */
static const struct cr__json *V(const json_t *j)
{
    return (const struct cr__json *)j;
}

/* ---- C locale for number conversion --------------------------------------*/

static locale_t g_c_locale;
static pthread_once_t g_c_locale_once = PTHREAD_ONCE_INIT;

/* pthread_once body: creates the shared "C" locale. */
static void c_locale_init(void)
{
    g_c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* The "C" locale, created once and kept for the process; (locale_t)0 if it
 * could not be created, in which case callers use the current locale. */
static locale_t c_locale(void)
{
    pthread_once(&g_c_locale_once, c_locale_init);
    return g_c_locale;
}

/* strtod that reads '.' as the decimal point whatever the process locale. */
static double strtod_c(const char *s)
{
    locale_t loc = c_locale();
    return loc ? strtod_l(s, NULL, loc) : strtod(s, NULL);
}

/* ---- parsing -------------------------------------------------------------*/

/* Maps a jansson error to a status: its own depth limit is a size limit, an
 * allocation failure is NOMEM, anything else is a malformed document. */
static cr_status error_status(const json_error_t *e)
{
    switch (json_error_code(e)) {
    case json_error_out_of_memory:
        return CR_ERR_NOMEM;
    case json_error_stack_overflow:
        return CR_ERR_TOO_LARGE;
    default:
        return CR_ERR_FORMAT;
    }
}

/* Records a jansson error with where it happened. */
static cr_status parse_fail(const json_error_t *e, struct cr_error *err)
{
    cr_status st = error_status(e);
    if (st == CR_ERR_NOMEM)
        return cr__fail(err, st, "json: out of memory");
    /* jansson's position counts the bytes read, so it is the 1-based index
     * of the last byte looked at: the one the message is about. */
    return cr__fail(err, st, "json: %s at line %d, column %d (byte %d)", e->text, e->line,
                    e->column, e->position);
}

/* 1 when no container in j nests deeper than max_depth (j itself is at
 * depth - 1). Recursion stops at the limit, so it is bounded by max_depth. */
static int depth_ok(const json_t *j, int depth, int max_depth)
{
    if (!json_is_array(j) && !json_is_object(j))
        return 1;
    if (depth > max_depth)
        return 0;
    if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++)
            if (!depth_ok(json_array_get(j, i), depth + 1, max_depth))
                return 0;
        return 1;
    }
    const char *key;
    json_t *member;
    json_object_foreach ((json_t *)j, key, member)
        if (!depth_ok(member, depth + 1, max_depth))
            return 0;
    return 1;
}

cr_status cr__json_parse(const char *text, size_t len, const struct cr__json_limits *limits,
                         struct cr__json_doc **out, struct cr_error *err)
{
    if (!out || (!text && len))
        return cr__fail(err, CR_ERR_INVALID, "json: no input");
    *out = NULL;
    size_t max_bytes = limits && limits->max_bytes ? limits->max_bytes : CR__JSON_DEFAULT_MAX_BYTES;
    int max_depth = limits && limits->max_depth ? limits->max_depth : CR__JSON_DEFAULT_MAX_DEPTH;
    if (max_depth < 0 || max_depth > CR__JSON_MAX_DEPTH_LIMIT)
        return cr__fail(err, CR_ERR_INVALID, "json: max_depth %d out of range", max_depth);
    if (len > max_bytes)
        return cr__fail(err, CR_ERR_TOO_LARGE, "json: document is %zu bytes, limit %zu", len,
                        max_bytes);
    /* Scalars at the top level are JSON too; "\u0000" is kept so callers see
     * the true length and refuse it themselves; a repeated key is refused
     * because parsers disagree on which one wins. Trailing bytes, invalid
     * UTF-8, lone surrogates, NaN and integers past int64 are refused. */
    const size_t flags = JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
    json_error_t e;
    json_t *root = json_loadb(text ? text : "", len, flags, &e);
    if (!root)
        return parse_fail(&e, err);
    if (!depth_ok(root, 1, max_depth)) {
        json_decref(root);
        return cr__fail(err, CR_ERR_TOO_LARGE, "json: nesting deeper than %d levels", max_depth);
    }
    struct cr__json_doc *doc = malloc(sizeof(*doc));
    if (!doc) {
        json_decref(root);
        return cr__fail(err, CR_ERR_NOMEM, "json: out of memory");
    }
    doc->root = root;
    *out = doc;
    return CR_OK;
}

void cr__json_free(struct cr__json_doc *doc)
{
    if (!doc)
        return;
    json_decref(doc->root);
    free(doc);
}

/* Zeroes every string value under j (jansson allocated them writable). */
static void wipe_strings(json_t *j)
{
    const char *key;
    json_t *member;
    if (json_is_string(j)) {
        explicit_bzero((char *)json_string_value(j), json_string_length(j));
    } else if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++)
            wipe_strings(json_array_get(j, i));
    } else if (json_is_object(j)) {
        json_object_foreach (j, key, member)
            wipe_strings(member);
    }
}

void cr__json_free_wiped(struct cr__json_doc *doc)
{
    if (doc)
        wipe_strings(doc->root);
    cr__json_free(doc);
}

/* ---- accessors -----------------------------------------------------------*/

const struct cr__json *cr__json_root(const struct cr__json_doc *doc)
{
    return doc ? V(doc->root) : NULL;
}

enum cr__json_type cr__json_type(const struct cr__json *v)
{
    if (!v)
        return CR__JSON_NONE;
    switch (json_typeof(J(v))) {
    case JSON_OBJECT:
        return CR__JSON_OBJECT;
    case JSON_ARRAY:
        return CR__JSON_ARRAY;
    case JSON_STRING:
        return CR__JSON_STRING;
    case JSON_INTEGER:
    case JSON_REAL:
        return CR__JSON_NUMBER;
    case JSON_TRUE:
    case JSON_FALSE:
        return CR__JSON_BOOL;
    default:
        return CR__JSON_NULL;
    }
}

const char *cr__json_type_name(enum cr__json_type type)
{
    static const char *const names[] = {"none",   "null",  "boolean", "number",
                                        "string", "array", "object"};
    return (unsigned)type < CR__ARRAY_LEN(names) ? names[type] : "none";
}

size_t cr__json_length(const struct cr__json *v)
{
    if (json_is_array(J(v)))
        return json_array_size(J(v));
    return json_is_object(J(v)) ? json_object_size(J(v)) : 0;
}

const struct cr__json *cr__json_at(const struct cr__json *v, size_t i)
{
    return json_is_array(J(v)) ? V(json_array_get(J(v), i)) : NULL;
}

const struct cr__json *cr__json_get(const struct cr__json *obj, const char *key)
{
    return json_is_object(J(obj)) && key ? V(json_object_get(J(obj), key)) : NULL;
}

cr_status cr__json_get_string(const struct cr__json *v, const char **s, size_t *len)
{
    if (!json_is_string(J(v)))
        return CR_ERR_FORMAT;
    *s = json_string_value(J(v));
    if (len)
        *len = json_string_length(J(v));
    return CR_OK;
}

cr_status cr__json_get_double(const struct cr__json *v, double *out)
{
    if (!json_is_number(J(v)))
        return CR_ERR_FORMAT;
    *out = json_number_value(J(v));
    return CR_OK;
}

cr_status cr__json_get_int64(const struct cr__json *v, int64_t *out)
{
    /* Beyond 2^53 a double no longer holds every integer, so a non-literal
     * integer there could silently be a neighbour of what was written. */
    const double exact = 9007199254740992.0;
    if (json_is_integer(J(v))) {
        *out = (int64_t)json_integer_value(J(v));
        return CR_OK;
    }
    if (!json_is_real(J(v)))
        return CR_ERR_FORMAT;
    double d = json_real_value(J(v));
    if (d != floor(d))
        return CR_ERR_FORMAT;
    if (d > exact || d < -exact)
        return CR_ERR_TOO_LARGE;
    *out = (int64_t)d;
    return CR_OK;
}

cr_status cr__json_get_bool(const struct cr__json *v, int *out)
{
    if (!json_is_boolean(J(v)))
        return CR_ERR_FORMAT;
    *out = json_is_true(J(v));
    return CR_OK;
}

/* ---- UTF-8 ---------------------------------------------------------------*/

/* Length of the well-formed UTF-8 sequence at p (Unicode table 3-7), or 0. */
static size_t utf8_seq_len(const unsigned char *p, const unsigned char *end)
{
    size_t avail = (size_t)(end - p);
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t n = c >= 0xc2 && c <= 0xdf   ? 2
               : c >= 0xe0 && c <= 0xef ? 3
               : c >= 0xf0 && c <= 0xf4 ? 4
                                        : 0;
    if (n == 0 || avail < n)
        return 0;
    /* The second byte's range is narrower after E0, ED, F0 and F4: that is
     * what rules out overlongs, surrogates and code points past U+10FFFF. */
    unsigned lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
    unsigned hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

int cr__utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        size_t n = utf8_seq_len(p, end);
        if (n == 0)
            return 0;
        p += n;
    }
    return 1;
}

size_t cr__utf8_scrub(char *s)
{
    size_t replaced = 0;
    unsigned char *p = (unsigned char *)s, *end = p + strlen(s);
    while (p < end) {
        size_t n = utf8_seq_len(p, end);
        if (n == 0) {
            *p = '?';
            n = 1;
            replaced++;
        }
        p += n;
    }
    return replaced;
}

/* ---- writing -------------------------------------------------------------*/

/* Significant digits of every real written: DBL_DIG, so any decimal of up
 * to 15 digits (every float's shortest form, every rounded figure) is
 * written back exactly as that decimal. */
#define WRITE_PRECISION 15

/* Integers of a double are exact up to here; beyond, a real stays a real. */
#define EXACT_INT 9007199254740992.0

/* The allocator jansson and the writer use (cr__json_set_alloc). */
static void *(*g_alloc)(size_t) = malloc;
static void (*g_release)(void *) = free;

struct cr__jw {
    cr_status st;
    json_t *root;
    json_t *open[CR__JSON_DEFAULT_MAX_DEPTH]; /* borrowed: the tree owns them */
    int depth;
};

void cr__json_set_alloc(void *(*alloc)(size_t), void (*release)(void *))
{
    g_alloc = alloc ? alloc : malloc;
    g_release = release ? release : free;
    json_set_alloc_funcs(g_alloc, g_release);
}

struct cr__jw *cr__jw_new(void)
{
    struct cr__jw *w = g_alloc(sizeof(*w));
    if (w)
        memset(w, 0, sizeof(*w));
    return w;
}

void cr__jw_free(struct cr__jw *w)
{
    if (!w)
        return;
    json_decref(w->root);
    g_release(w);
}

cr_status cr__jw_status(const struct cr__jw *w)
{
    return w ? w->st : CR_ERR_NOMEM;
}

/* Records the first failure; later ones are consequences of it. */
static void jw_fail(struct cr__jw *w, cr_status st)
{
    if (w && w->st == CR_OK)
        w->st = st;
}

/* Puts v (borrowed) in the tree of a writer with no failure yet: as member
 * key of the open object, next element of the open array, or the top-level
 * value; records why it cannot. */
static void jw_place(struct cr__jw *w, const char *key, json_t *v)
{
    json_t *top = w->depth ? w->open[w->depth - 1] : NULL;
    /* A repeated key is refused: readers disagree on which one wins. */
    int key_ok = json_is_object(top)
                     ? key && cr__utf8_valid(key, strlen(key)) && !json_object_get(top, key)
                     : key == NULL;
    if (!key_ok || (!top && w->root)) /* a bad key, or a second top-level value */
        jw_fail(w, CR_ERR_INVALID);
    else if (!top)
        w->root = json_incref(v);
    else if (json_is_object(top) ? json_object_set_nocheck(top, key, v) : json_array_append(top, v))
        jw_fail(w, CR_ERR_NOMEM);
}

/* Places v (owned; NULL means jansson ran out of memory) with jw_place.
 * Returns 1 when v is in the tree; v's own reference is dropped either way. */
static int jw_add(struct cr__jw *w, const char *key, json_t *v)
{
    if (!v)
        jw_fail(w, CR_ERR_NOMEM);
    else if (w && w->st == CR_OK)
        jw_place(w, key, v);
    int placed = v && w && w->st == CR_OK;
    json_decref(v);
    return placed;
}

/* Opens container c (owned) at key. */
static void jw_open(struct cr__jw *w, const char *key, json_t *c)
{
    if (w && w->st == CR_OK && w->depth == CR__JSON_DEFAULT_MAX_DEPTH) {
        jw_fail(w, CR_ERR_TOO_LARGE);
        json_decref(c);
        return;
    }
    if (jw_add(w, key, c))
        w->open[w->depth++] = c;
}

void cr__jw_object(struct cr__jw *w, const char *key)
{
    jw_open(w, key, json_object());
}

void cr__jw_array(struct cr__jw *w, const char *key)
{
    jw_open(w, key, json_array());
}

void cr__jw_end(struct cr__jw *w)
{
    if (w && w->st == CR_OK && w->depth == 0)
        jw_fail(w, CR_ERR_INVALID);
    else if (w && w->st == CR_OK)
        w->depth--;
}

void cr__jw_string(struct cr__jw *w, const char *key, const char *s)
{
    if (!s)
        jw_add(w, key, json_null());
    else if (!cr__utf8_valid(s, strlen(s)))
        jw_fail(w, CR_ERR_INVALID);
    else
        jw_add(w, key, json_string_nocheck(s));
}

void cr__jw_text(struct cr__jw *w, const char *key, const char *s)
{
    if (!s || cr__utf8_valid(s, strlen(s))) {
        cr__jw_string(w, key, s);
        return;
    }
    size_t n = strlen(s) + 1;
    char *clean = g_alloc(n);
    if (!clean) {
        jw_fail(w, CR_ERR_NOMEM);
        return;
    }
    memcpy(clean, s, n);
    cr__utf8_scrub(clean);
    cr__jw_string(w, key, clean);
    g_release(clean);
}

void cr__jw_int(struct cr__jw *w, const char *key, int64_t v)
{
    jw_add(w, key, json_integer((json_int_t)v));
}

/* Writes a finite d, as an integer when it has no fraction. */
static void jw_number(struct cr__jw *w, const char *key, double d)
{
    if (!isfinite(d))
        jw_fail(w, CR_ERR_INVALID);
    else if (d == floor(d) && fabs(d) <= EXACT_INT)
        jw_add(w, key, json_integer((json_int_t)d));
    else
        jw_add(w, key, json_real(d));
}

/* snprintf of one double in the C locale, whatever the process's locale. */
static void format_c(char *out, size_t size, const char *fmt, int prec, double d)
{
    locale_t loc = c_locale();
    locale_t old = loc ? uselocale(loc) : (locale_t)0;
    snprintf(out, size, fmt, prec, d);
    if (old)
        uselocale(old);
}

void cr__jw_float(struct cr__jw *w, const char *key, float v)
{
    /* The shortest decimal that reads back as v has at most 9 digits, so
     * writing its nearest double with 15 digits gives that decimal back. */
    char text[64];
    double back = v;
    for (int prec = 1; isfinite(v) && prec <= 9; prec++) {
        format_c(text, sizeof(text), "%.*g", prec, (double)v);
        back = strtod_c(text);
        if ((float)back == v)
            break;
    }
    jw_number(w, key, back);
}

void cr__jw_double(struct cr__jw *w, const char *key, double v)
{
    jw_number(w, key, v);
}

void cr__jw_fixed(struct cr__jw *w, const char *key, double v, int decimals)
{
    char text[64];
    if (decimals < 0 || decimals > 9) {
        jw_fail(w, CR_ERR_INVALID);
        return;
    }
    /* From 1e15 up no fraction survives 15 digits, and "%f" would be long. */
    if (isfinite(v) && fabs(v) < 1e15) {
        format_c(text, sizeof(text), "%.*f", decimals, v);
        v = strtod_c(text);
    }
    jw_number(w, key, v);
}

void cr__jw_bool(struct cr__jw *w, const char *key, int v)
{
    jw_add(w, key, json_boolean(v));
}

void cr__jw_null(struct cr__jw *w, const char *key)
{
    jw_add(w, key, json_null());
}

/* Where json_dump_callback writes: a buffer and the first failure. */
struct dump_sink {
    struct cr_buf *out;
    cr_status st;
};

/* json_dump_callback's sink: appends to the buffer, stops on its failure. */
static int dump_append(const char *text, size_t len, void *data)
{
    struct dump_sink *sink = data;
    sink->st = cr_buf_append(sink->out, text, len);
    return sink->st == CR_OK ? 0 : -1;
}

cr_status cr__jw_finish(struct cr__jw *w, struct cr_buf *out)
{
    cr_status st = cr__jw_status(w);
    if (st == CR_OK && (!out || !w->root || w->depth != 0))
        st = CR_ERR_INVALID;
    if (st == CR_OK) {
        size_t start = out->len;
        struct dump_sink sink = {out, CR_OK};
        const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER |
                             JSON_REAL_PRECISION(WRITE_PRECISION);
        if (json_dump_callback(w->root, dump_append, &sink, flags) != 0)
            st = sink.st != CR_OK ? sink.st : CR_ERR_NOMEM;
        if (st == CR_OK)
            st = cr_buf_append(out, "", 0); /* a terminating NUL, even for "" */
        if (st != CR_OK && out->data) {
            out->len = start;
            out->data[start] = '\0';
        }
    }
    cr__jw_free(w);
    return st;
}

cr_status cr__json_quote(struct cr_buf *out, const char *s)
{
    struct cr__jw *w = cr__jw_new();
    cr__jw_text(w, NULL, s ? s : "");
    return cr__jw_finish(w, out);
}
