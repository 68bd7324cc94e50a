/* json.c - a small strict RFC 8259 parser into an arena-allocated tree. */
#include "core/json.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cr__json {
    enum cr__json_type type;
    int is_int;      /* number: the literal was an integer that fits int64 */
    int64_t i;       /* number when is_int; bool as 0/1 */
    double d;        /* number */
    const char *str; /* string value, NUL-terminated */
    size_t str_len;
    const char *key; /* member key when this value sits in an object */
    size_t key_len;
    const struct cr__json **items; /* container elements / member values */
    size_t count;
};

/* Nodes and strings live in a chain of blocks freed together, so a failed
 * parse or a finished doc is released in one walk and nothing can leak. */
struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
};

struct cr__json_doc {
    struct arena_block *blocks;
    const struct cr__json *root;
};

#define ARENA_BLOCK_BYTES 4096

struct parser {
    const unsigned char *start, *p, *end;
    int max_depth;
    struct cr__json_doc *doc;
    const struct cr__json **stack; /* children of the open containers */
    size_t stack_len, stack_cap;
    struct cr_buf scratch; /* the string being decoded */
    struct cr_error *err;
};

/* ---- arena ---------------------------------------------------------------*/

/* Returns n bytes aligned for any type from the doc's arena, NULL on NOMEM. */
static void *arena_alloc(struct cr__json_doc *doc, size_t n)
{
    const size_t align = alignof(max_align_t);
    n = (n + align - 1) & ~(align - 1);
    struct arena_block *b = doc->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > ARENA_BLOCK_BYTES ? n : ARENA_BLOCK_BYTES;
        b = malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->next = doc->blocks;
        b->used = 0;
        b->cap = cap;
        doc->blocks = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

void cr__json_free(struct cr__json_doc *doc)
{
    if (!doc)
        return;
    for (struct arena_block *b = doc->blocks, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(doc);
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

/* ---- errors --------------------------------------------------------------*/

/* Records a syntax error at the current position and returns status. */
static cr_status parse_fail(struct parser *ps, cr_status status, const char *what)
{
    size_t off = (size_t)(ps->p - ps->start);
    if (ps->p >= ps->end)
        return cr__fail(ps->err, status, "json: %s at end of input (offset %zu)", what, off);
    unsigned c = *ps->p;
    if (c >= 0x21 && c < 0x7f)
        return cr__fail(ps->err, status, "json: %s at offset %zu ('%c')", what, off, (int)c);
    return cr__fail(ps->err, status, "json: %s at offset %zu (byte 0x%02x)", what, off, c);
}

/* Records an allocation failure. */
static cr_status nomem(struct parser *ps)
{
    return cr__fail(ps->err, CR_ERR_NOMEM, "json: out of memory");
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

/* Appends code point cp (already checked to be a scalar value) as UTF-8. */
static cr_status append_utf8(struct cr_buf *b, uint32_t cp)
{
    unsigned char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xc0 | (cp >> 6));
        u[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xe0 | (cp >> 12));
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xf0 | (cp >> 18));
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return cr_buf_append(b, u, n);
}

/* ---- lexing helpers ------------------------------------------------------*/

/* Skips the four whitespace characters RFC 8259 allows, and nothing else. */
static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* Consumes the expected byte c (after whitespace) or fails with what. */
static cr_status expect(struct parser *ps, unsigned char c, const char *what)
{
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != c)
        return parse_fail(ps, CR_ERR_FORMAT, what);
    ps->p++;
    return CR_OK;
}

/* True when p is inside the input and on an ASCII digit. */
static int is_digit(const unsigned char *p, const unsigned char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* A zeroed node of the given type from the arena, NULL on NOMEM. */
static struct cr__json *new_node(struct parser *ps, enum cr__json_type type)
{
    struct cr__json *v = arena_alloc(ps->doc, sizeof(*v));
    if (v) {
        memset(v, 0, sizeof(*v));
        v->type = type;
    }
    return v;
}

/* ---- strings -------------------------------------------------------------*/

/* Reads the 4 hex digits of a \u escape (p is just past "\u"). */
static cr_status read_hex4(struct parser *ps, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++, ps->p++) {
        if (ps->p >= ps->end)
            return parse_fail(ps, CR_ERR_FORMAT, "truncated \\u escape");
        unsigned c = *ps->p;
        unsigned d = c >= '0' && c <= '9'   ? c - '0'
                     : c >= 'a' && c <= 'f' ? c - 'a' + 10
                     : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                            : 16;
        if (d == 16)
            return parse_fail(ps, CR_ERR_FORMAT, "bad hex digit in \\u escape");
        v = v << 4 | d;
    }
    *out = v;
    return CR_OK;
}

/* Decodes a \u escape (p is just past the 'u'), joining a surrogate pair
 * into one code point; a lone or reversed surrogate is an error. */
static cr_status read_unicode_escape(struct parser *ps)
{
    uint32_t cp = 0, lo = 0; /* set by read_hex4; zeroed for GCC -O3's flow analysis */
    cr_status st = read_hex4(ps, &cp);
    if (st != CR_OK)
        return st;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return parse_fail(ps, CR_ERR_FORMAT, "lone low surrogate in \\u escape");
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
            return parse_fail(ps, CR_ERR_FORMAT, "high surrogate not followed by \\u");
        ps->p += 2;
        if ((st = read_hex4(ps, &lo)) != CR_OK)
            return st;
        if (lo < 0xdc00 || lo > 0xdfff)
            return parse_fail(ps, CR_ERR_FORMAT, "high surrogate not followed by a low one");
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    return append_utf8(&ps->scratch, cp) == CR_OK ? CR_OK : nomem(ps);
}

/* Decodes one escape sequence (p is on the backslash) into scratch. */
static cr_status read_escape(struct parser *ps)
{
    static const char from[] = "\"\\/bfnrt";
    static const char to[] = "\"\\/\b\f\n\r\t";
    ps->p++;
    if (ps->p >= ps->end)
        return parse_fail(ps, CR_ERR_FORMAT, "truncated escape");
    if (*ps->p == 'u') {
        ps->p++;
        return read_unicode_escape(ps);
    }
    const char *hit = *ps->p ? strchr(from, *ps->p) : NULL;
    if (!hit)
        return parse_fail(ps, CR_ERR_FORMAT, "invalid escape");
    ps->p++;
    return cr_buf_append(&ps->scratch, &to[hit - from], 1) == CR_OK ? CR_OK : nomem(ps);
}

/* Copies one raw character (ASCII or a whole UTF-8 sequence) into scratch. */
static cr_status read_raw_char(struct parser *ps)
{
    if (*ps->p < 0x20)
        return parse_fail(ps, CR_ERR_FORMAT, "control character in string");
    size_t n = utf8_seq_len(ps->p, ps->end);
    if (n == 0)
        return parse_fail(ps, CR_ERR_FORMAT, "invalid UTF-8 in string");
    if (cr_buf_append(&ps->scratch, ps->p, n) != CR_OK)
        return nomem(ps);
    ps->p += n;
    return CR_OK;
}

/* Parses a string literal (p on the opening quote) into a NUL-terminated
 * arena copy. */
static cr_status parse_string_raw(struct parser *ps, const char **s, size_t *len)
{
    cr_status st = CR_OK;
    cr_buf_reset(&ps->scratch);
    ps->p++;
    for (;;) {
        if (ps->p >= ps->end)
            return parse_fail(ps, CR_ERR_FORMAT, "unterminated string");
        if (*ps->p == '"')
            break;
        st = *ps->p == '\\' ? read_escape(ps) : read_raw_char(ps);
        if (st != CR_OK)
            return st;
    }
    ps->p++;
    char *copy = arena_alloc(ps->doc, ps->scratch.len + 1);
    if (!copy)
        return nomem(ps);
    if (ps->scratch.len)
        memcpy(copy, ps->scratch.data, ps->scratch.len);
    copy[ps->scratch.len] = '\0';
    *s = copy;
    *len = ps->scratch.len;
    return CR_OK;
}

/* Parses a string value (p on the opening quote). */
static cr_status parse_string(struct parser *ps, const struct cr__json **out)
{
    struct cr__json *v = new_node(ps, CR__JSON_STRING);
    if (!v)
        return nomem(ps);
    cr_status st = parse_string_raw(ps, &v->str, &v->str_len);
    *out = v;
    return st;
}

/* ---- numbers -------------------------------------------------------------*/

/* Reads the digits of an integer literal exactly; 0 if it does not fit. */
static int integer_value(const unsigned char *p, const unsigned char *end, int64_t *out)
{
    int neg = *p == '-';
    p += neg;
    /* Accumulate as a negative number: its range is one larger. */
    int64_t v = 0;
    for (; p < end; p++) {
        int d = *p - '0';
        if (v < (INT64_MIN + d) / 10)
            return 0;
        v = v * 10 - d;
    }
    if (!neg && v == INT64_MIN)
        return 0;
    *out = neg ? v : -v;
    return 1;
}

/* Converts the literal [b, e) to a finite double: 1 on success, 0 when it
 * overflows, -1 on NOMEM (a literal too long for the stack buffer). */
static int double_value(const unsigned char *b, const unsigned char *e, double *out)
{
    char small[128];
    size_t n = (size_t)(e - b);
    char *s = n < sizeof(small) ? small : malloc(n + 1);
    if (!s)
        return -1;
    memcpy(s, b, n);
    s[n] = '\0';
    double d = strtod_c(s);
    if (s != small)
        free(s);
    /* Underflow to 0 or a subnormal is fine; overflow to infinity is not. */
    if (!isfinite(d))
        return 0;
    *out = d;
    return 1;
}

/* Consumes one or more digits, or fails with what. */
static cr_status scan_digits(struct parser *ps, const char *what)
{
    if (!is_digit(ps->p, ps->end))
        return parse_fail(ps, CR_ERR_FORMAT, what);
    while (is_digit(ps->p, ps->end))
        ps->p++;
    return CR_OK;
}

/* Scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? and says whether it
 * had a fraction or exponent. */
static cr_status scan_number(struct parser *ps, int *is_integer)
{
    const unsigned char *end = ps->end;
    *is_integer = 1;
    if (*ps->p == '-')
        ps->p++;
    if (is_digit(ps->p, end) && *ps->p == '0' && is_digit(ps->p + 1, end))
        return parse_fail(ps, CR_ERR_FORMAT, "leading zero in number");
    cr_status st = scan_digits(ps, "expected a digit");
    if (st == CR_OK && ps->p < end && *ps->p == '.') {
        *is_integer = 0;
        ps->p++;
        st = scan_digits(ps, "expected a digit after '.'");
    }
    if (st == CR_OK && ps->p < end && (*ps->p == 'e' || *ps->p == 'E')) {
        *is_integer = 0;
        ps->p++;
        if (ps->p < end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        st = scan_digits(ps, "expected a digit in exponent");
    }
    return st;
}

/* Parses a number (p on '-' or a digit), keeping the exact int64 too when
 * the literal is an integer that fits. */
static cr_status parse_number(struct parser *ps, const struct cr__json **out)
{
    const unsigned char *b = ps->p;
    int is_integer;
    cr_status st = scan_number(ps, &is_integer);
    if (st != CR_OK)
        return st;
    struct cr__json *v = new_node(ps, CR__JSON_NUMBER);
    if (!v)
        return nomem(ps);
    int ok = double_value(b, ps->p, &v->d);
    if (ok < 0)
        return nomem(ps);
    if (!ok) {
        ps->p = b;
        return parse_fail(ps, CR_ERR_FORMAT, "number out of range");
    }
    v->is_int = is_integer && integer_value(b, ps->p, &v->i);
    *out = v;
    return CR_OK;
}

/* ---- containers ----------------------------------------------------------*/

/* Pushes a finished child onto the stack of open containers' children. */
static cr_status push_child(struct parser *ps, const struct cr__json *v)
{
    if (ps->stack_len == ps->stack_cap) {
        size_t cap = ps->stack_cap ? ps->stack_cap * 2 : 32;
        const struct cr__json **s = realloc(ps->stack, cap * sizeof(*s));
        if (!s)
            return nomem(ps);
        ps->stack = s;
        ps->stack_cap = cap;
    }
    ps->stack[ps->stack_len++] = v;
    return CR_OK;
}

/* Moves the children pushed since base into the container's own array. */
static cr_status close_container(struct parser *ps, struct cr__json *c, size_t base)
{
    c->count = ps->stack_len - base;
    if (c->count) {
        c->items = arena_alloc(ps->doc, c->count * sizeof(*c->items));
        if (!c->items)
            return nomem(ps);
        memcpy(c->items, ps->stack + base, c->count * sizeof(*c->items));
    }
    ps->stack_len = base;
    return CR_OK;
}

/* qsort order of members by key: bytes, then length. */
static int key_cmp(const void *a, const void *b)
{
    const struct cr__json *x = *(const struct cr__json *const *)a;
    const struct cr__json *y = *(const struct cr__json *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* Rejects an object with two members of the same key: parsers disagree on
 * which one wins, and a message must mean one thing. Sorting keeps a large
 * hostile object at n log n. */
static cr_status check_duplicates(struct parser *ps, const struct cr__json *obj)
{
    if (obj->count < 2)
        return CR_OK;
    const struct cr__json **sorted = malloc(obj->count * sizeof(*sorted));
    if (!sorted)
        return nomem(ps);
    memcpy(sorted, obj->items, obj->count * sizeof(*sorted));
    qsort(sorted, obj->count, sizeof(*sorted), key_cmp);
    cr_status st = CR_OK;
    for (size_t i = 1; i < obj->count && st == CR_OK; i++)
        if (key_cmp(&sorted[i - 1], &sorted[i]) == 0)
            st = cr__fail(ps->err, CR_ERR_FORMAT, "json: duplicate key \"%.64s\"", sorted[i]->key);
    free(sorted);
    return st;
}

static cr_status parse_value(struct parser *ps, int depth, const struct cr__json **out);

/* Parses one "key": value member and pushes the value, key attached. */
static cr_status parse_member(struct parser *ps, int depth)
{
    const char *key;
    size_t key_len;
    const struct cr__json *v = NULL;
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != '"')
        return parse_fail(ps, CR_ERR_FORMAT, "expected a string key");
    cr_status st = parse_string_raw(ps, &key, &key_len);
    if (st == CR_OK)
        st = expect(ps, ':', "expected ':'");
    if (st == CR_OK)
        st = parse_value(ps, depth, &v);
    if (st != CR_OK)
        return st;
    /* Values are built only by this parser, so attaching the key is safe. */
    ((struct cr__json *)v)->key = key;
    ((struct cr__json *)v)->key_len = key_len;
    return push_child(ps, v);
}

/* Parses the comma-separated items of a container up to and including the
 * closing bracket (p just past the opening one), pushing each onto the stack. */
static cr_status parse_items(struct parser *ps, int depth, int is_obj)
{
    unsigned char close = is_obj ? '}' : ']';
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return CR_OK;
    }
    for (;;) {
        const struct cr__json *v = NULL;
        cr_status st = is_obj ? parse_member(ps, depth) : parse_value(ps, depth, &v);
        if (st == CR_OK && !is_obj)
            st = push_child(ps, v);
        if (st != CR_OK)
            return st;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ',')
            return expect(ps, close, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
        ps->p++;
    }
}

/* Parses an array or object (p on '[' or '{'); depth is its own level. */
static cr_status parse_container(struct parser *ps, int depth, const struct cr__json **out)
{
    int is_obj = *ps->p == '{';
    if (depth > ps->max_depth)
        return parse_fail(ps, CR_ERR_TOO_LARGE, "nesting too deep");
    struct cr__json *c = new_node(ps, is_obj ? CR__JSON_OBJECT : CR__JSON_ARRAY);
    if (!c)
        return nomem(ps);
    size_t base = ps->stack_len;
    ps->p++;
    cr_status st = parse_items(ps, depth, is_obj);
    if (st == CR_OK)
        st = close_container(ps, c, base);
    if (st == CR_OK && is_obj)
        st = check_duplicates(ps, c);
    *out = c;
    return st;
}

/* Parses one of true, false, null (p on its first letter). */
static cr_status parse_literal(struct parser *ps, const struct cr__json **out)
{
    static const struct {
        const char *text;
        enum cr__json_type type;
        int value;
    } lits[] = {
        {"true", CR__JSON_BOOL, 1}, {"false", CR__JSON_BOOL, 0}, {"null", CR__JSON_NULL, 0}};
    for (size_t i = 0; i < CR__ARRAY_LEN(lits); i++) {
        size_t n = strlen(lits[i].text);
        if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, lits[i].text, n) == 0) {
            struct cr__json *v = new_node(ps, lits[i].type);
            if (!v)
                return nomem(ps);
            v->i = lits[i].value;
            ps->p += n;
            *out = v;
            return CR_OK;
        }
    }
    return parse_fail(ps, CR_ERR_FORMAT, "unexpected character");
}

/* Parses any value after optional whitespace; depth is the enclosing level. */
static cr_status parse_value(struct parser *ps, int depth, const struct cr__json **out)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return parse_fail(ps, CR_ERR_FORMAT, "expected a value");
    unsigned char c = *ps->p;
    if (c == '{' || c == '[')
        return parse_container(ps, depth + 1, out);
    if (c == '"')
        return parse_string(ps, out);
    if (c == '-' || (c >= '0' && c <= '9'))
        return parse_number(ps, out);
    return parse_literal(ps, out);
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
    const unsigned char *start = (const unsigned char *)(text ? text : "");
    struct parser ps = {
        .start = start, .p = start, .end = start + len, .max_depth = max_depth, .err = err};
    cr_buf_init(&ps.scratch, 0);
    if (!(ps.doc = calloc(1, sizeof(*ps.doc))))
        return cr__fail(err, CR_ERR_NOMEM, "json: out of memory");
    cr_status st = parse_value(&ps, 0, &ps.doc->root);
    skip_ws(&ps);
    if (st == CR_OK && ps.p != ps.end)
        st = parse_fail(&ps, CR_ERR_FORMAT, "trailing characters after the value");
    free(ps.stack);
    cr_buf_free(&ps.scratch);
    if (st != CR_OK) {
        cr__json_free(ps.doc);
        return st;
    }
    *out = ps.doc;
    return CR_OK;
}

/* ---- accessors -----------------------------------------------------------*/

const struct cr__json *cr__json_root(const struct cr__json_doc *doc)
{
    return doc ? doc->root : NULL;
}

enum cr__json_type cr__json_type(const struct cr__json *v)
{
    return v ? v->type : CR__JSON_NONE;
}

const char *cr__json_type_name(enum cr__json_type type)
{
    static const char *const names[] = {"none",   "null",  "boolean", "number",
                                        "string", "array", "object"};
    return (unsigned)type < CR__ARRAY_LEN(names) ? names[type] : "none";
}

/* True for arrays and objects. */
static int is_container(const struct cr__json *v)
{
    return v && (v->type == CR__JSON_ARRAY || v->type == CR__JSON_OBJECT);
}

size_t cr__json_length(const struct cr__json *v)
{
    return is_container(v) ? v->count : 0;
}

const struct cr__json *cr__json_at(const struct cr__json *v, size_t i)
{
    return is_container(v) && i < v->count ? v->items[i] : NULL;
}

const char *cr__json_key_at(const struct cr__json *obj, size_t i, size_t *key_len)
{
    if (!obj || obj->type != CR__JSON_OBJECT || i >= obj->count)
        return NULL;
    if (key_len)
        *key_len = obj->items[i]->key_len;
    return obj->items[i]->key;
}

const struct cr__json *cr__json_get(const struct cr__json *obj, const char *key)
{
    if (!obj || obj->type != CR__JSON_OBJECT || !key)
        return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < obj->count; i++) {
        const struct cr__json *m = obj->items[i];
        if (m->key_len == n && memcmp(m->key, key, n) == 0)
            return m;
    }
    return NULL;
}

cr_status cr__json_get_string(const struct cr__json *v, const char **s, size_t *len)
{
    if (!v || v->type != CR__JSON_STRING)
        return CR_ERR_FORMAT;
    *s = v->str;
    if (len)
        *len = v->str_len;
    return CR_OK;
}

cr_status cr__json_get_double(const struct cr__json *v, double *out)
{
    if (!v || v->type != CR__JSON_NUMBER)
        return CR_ERR_FORMAT;
    *out = v->d;
    return CR_OK;
}

cr_status cr__json_get_int64(const struct cr__json *v, int64_t *out)
{
    /* Beyond 2^53 a double no longer holds every integer, so a non-literal
     * integer there could silently be a neighbour of what was written. */
    const double exact = 9007199254740992.0;
    if (!v || v->type != CR__JSON_NUMBER)
        return CR_ERR_FORMAT;
    if (v->is_int) {
        *out = v->i;
        return CR_OK;
    }
    if (v->d != floor(v->d))
        return CR_ERR_FORMAT;
    if (v->d > exact || v->d < -exact)
        return CR_ERR_TOO_LARGE;
    *out = (int64_t)v->d;
    return CR_OK;
}

cr_status cr__json_get_bool(const struct cr__json *v, int *out)
{
    if (!v || v->type != CR__JSON_BOOL)
        return CR_ERR_FORMAT;
    *out = (int)v->i;
    return CR_OK;
}

/* ---- number output -------------------------------------------------------*/

/* Formats d with prec significant digits in the C locale into out (64 bytes). */
static void format_g(char out[64], double d, int prec)
{
    locale_t loc = c_locale();
    locale_t old = loc ? uselocale(loc) : (locale_t)0;
    snprintf(out, 64, "%.*g", prec, d);
    if (old)
        uselocale(old);
}

cr_status cr__json_append_number(struct cr_buf *out, double d, int as_float)
{
    if (!isfinite(d))
        return CR_ERR_INVALID;
    char text[64];
    int max_prec = as_float ? 9 : 17;
    for (int prec = 1; prec <= max_prec; prec++) {
        format_g(text, d, prec);
        double back = strtod_c(text);
        if (as_float ? (float)back == (float)d : back == d)
            break;
    }
    return cr_buf_append_str(out, text);
}
