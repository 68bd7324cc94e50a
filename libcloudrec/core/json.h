/*
 * json.h - the library's strict JSON reader and its JSON writer, over jansson (core/json.c is the
 * only file that includes <jansson.h>); not installed, not exported.
 *
 * cr__json_parse() turns a whole document into a read-only tree owned by a
 * struct cr__json_doc; every node and string belongs to that doc and stays
 * valid until cr__json_free(). Only RFC 8259 text is accepted: no comments,
 * no trailing commas, no BOM, no leading zeros, no NaN/Infinity, no raw
 * control characters in strings, only valid UTF-8, no lone surrogates in \u
 * escapes, no duplicate keys in one object, no trailing garbage, no integer
 * literal outside int64. Nesting and input size are bounded
 * (struct cr__json_limits).
 *
 * Getters accept NULL nodes and then fail or return NULL, so lookups chain:
 * cr__json_get(cr__json_get(root, "a"), "b"). Thread-safe: a doc may be read
 * from several threads; different docs may be parsed at the same time.
 */
#ifndef CLOUDREC_CORE_JSON_H
#define CLOUDREC_CORE_JSON_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>

#define CR__JSON_DEFAULT_MAX_BYTES ((size_t)1 << 20)
#define CR__JSON_DEFAULT_MAX_DEPTH 32
/* The deepest nesting a caller may ask for (jansson itself stops at 2048). */
#define CR__JSON_MAX_DEPTH_LIMIT 512

enum cr__json_type {
    CR__JSON_NONE = 0, /* what cr__json_type(NULL) returns */
    CR__JSON_NULL,
    CR__JSON_BOOL,
    CR__JSON_NUMBER,
    CR__JSON_STRING,
    CR__JSON_ARRAY,
    CR__JSON_OBJECT,
};

/* Zero fields mean the defaults above. max_depth counts containers: 1 allows
 * "[1]" but not "[[1]]"; scalars at the top level have depth 0. */
struct cr__json_limits {
    size_t max_bytes;
    int max_depth;
};

struct cr__json;     /* one value in a tree */
struct cr__json_doc; /* owns a tree */

/* Parses text[0..len) (no NUL needed). On success *out owns the tree (free it
 * with cr__json_free). CR_ERR_FORMAT on any syntax error, with jansson's
 * reason and where in err ("json: <reason> at line L, column C (byte N)",
 * N counted from 1); CR_ERR_TOO_LARGE when len or the nesting passes a
 * limit (len is checked before any parsing); CR_ERR_INVALID for bad
 * arguments; CR_ERR_NOMEM. *out is NULL on failure. */
cr_status cr__json_parse(const char *text, size_t len, const struct cr__json_limits *limits,
                         struct cr__json_doc **out, struct cr_error *err);

/* Releases a doc and every node in it. Accepts NULL. */
void cr__json_free(struct cr__json_doc *doc);

/* cr__json_free for a doc that held secrets: zeroes every string value first.
 * (jansson's scratch buffers while parsing are freed without wiping.) */
void cr__json_free_wiped(struct cr__json_doc *doc);

/* The top-level value of a parsed doc; valid until cr__json_free(doc). */
const struct cr__json *cr__json_root(const struct cr__json_doc *doc);

/* The type of v, CR__JSON_NONE when v is NULL. */
enum cr__json_type cr__json_type(const struct cr__json *v);

/* A static name for a type ("object", "string", ..., "none"), for messages. */
const char *cr__json_type_name(enum cr__json_type type);

/* Number of elements of an array or members of an object; 0 for anything else. */
size_t cr__json_length(const struct cr__json *v);

/* The i-th element of an array; NULL when out of range or v is not an array.
 * (Object members are reached by name with cr__json_get.) */
const struct cr__json *cr__json_at(const struct cr__json *v, size_t i);

/* The member value of obj named key (compared byte-wise, whole key), or NULL
 * when obj is not an object or has no such member. */
const struct cr__json *cr__json_get(const struct cr__json *obj, const char *key);

/* String value (decoded UTF-8, NUL-terminated; len excludes the NUL and
 * counts any embedded NULs). CR_ERR_FORMAT when v is not a string. */
cr_status cr__json_get_string(const struct cr__json *v, const char **s, size_t *len);

/* Number as a double (always finite). CR_ERR_FORMAT when v is not a number. */
cr_status cr__json_get_double(const struct cr__json *v, double *out);

/* Number as an exact int64. Integer literals are read exactly over the whole
 * int64 range (the parser refuses larger ones); a literal with a fraction or exponent ("1.0", "2e3") is
 * accepted when its value is integral and within +-2^53 (where a double is
 * exact). CR_ERR_FORMAT for non-numbers and non-integers, CR_ERR_TOO_LARGE
 * when out of range. */
cr_status cr__json_get_int64(const struct cr__json *v, int64_t *out);

/* true/false as 1/0. CR_ERR_FORMAT when v is not a boolean. */
cr_status cr__json_get_bool(const struct cr__json *v, int *out);

/* 1 if len bytes of s are well-formed UTF-8 (no overlongs, no surrogates, at
 * most U+10FFFF), else 0. */
int cr__utf8_valid(const char *s, size_t len);

/* Replaces, in place, each byte of the NUL-terminated s that is not part of
 * a well-formed UTF-8 sequence with '?', keeping the length. Returns how many
 * bytes were replaced. */
size_t cr__utf8_scrub(char *s);

/* ---- writing -------------------------------------------------------------
 *
 * A writer ("jw") builds one JSON document as a jansson tree and dumps it
 * compact, members in the order they were added. Calls never fail one by
 * one: the first failure sticks (later calls do nothing) and cr__jw_finish
 * reports it, so a writer reads like the document it writes:
 *
 *     struct cr__jw *w = cr__jw_new();
 *     cr__jw_object(w, NULL);
 *     cr__jw_int(w, "v", 1);
 *     cr__jw_string(w, "id", id);
 *     cr__jw_end(w);
 *     st = cr__jw_finish(w, out);
 *
 * key names the member inside an object and must be NULL inside an array
 * and for the top-level value; a wrong key is CR_ERR_INVALID. Every call
 * accepts a NULL writer (what cr__jw_new returns out of memory) and then
 * does nothing; cr__jw_finish(NULL, ...) is CR_ERR_NOMEM.
 *
 * Strings are escaped by jansson: '"', '\\' and control characters are
 * escaped (\n, \t, \u001F, ...); other UTF-8, DEL and '/' are written as
 * they are. Numbers never use a locale. A writer is used by one thread. */

struct cr__jw;

/* A new, empty writer; NULL when out of memory (see above). */
struct cr__jw *cr__jw_new(void);

/* Releases a writer without writing anything. Accepts NULL. */
void cr__jw_free(struct cr__jw *w);

/* Appends the document to out and releases w, always. CR_OK; the first
 * failure of a call on w; CR_ERR_INVALID when no value was written or a
 * container is still open; out's own CR_ERR_TOO_LARGE or CR_ERR_NOMEM.
 * On failure out is left exactly as it was. */
cr_status cr__jw_finish(struct cr__jw *w, struct cr_buf *out);

/* The first failure so far (CR_OK if none; CR_ERR_NOMEM for NULL). */
cr_status cr__jw_status(const struct cr__jw *w);

/* Opens an object or an array; later values go inside it until
 * cr__jw_end. At most CR__JSON_DEFAULT_MAX_DEPTH levels
 * (CR_ERR_TOO_LARGE beyond). */
void cr__jw_object(struct cr__jw *w, const char *key);
void cr__jw_array(struct cr__jw *w, const char *key);

/* Closes the innermost open container (CR_ERR_INVALID when none is). */
void cr__jw_end(struct cr__jw *w);

/* A string, or null when s is NULL. s must be valid UTF-8 (also the key):
 * CR_ERR_INVALID otherwise. */
void cr__jw_string(struct cr__jw *w, const char *key, const char *s);

/* Free text for people (error messages, file names, bodies shown to the
 * user): like cr__jw_string, but each byte that is not part of valid UTF-8
 * is written as '?' instead of failing. */
void cr__jw_text(struct cr__jw *w, const char *key, const char *s);

/* An integer, written exactly. */
void cr__jw_int(struct cr__jw *w, const char *key, int64_t v);

/* A float in the shortest form that reads back as the same float
 * (0.61f is written 0.61, not 0.610000014). */
void cr__jw_float(struct cr__jw *w, const char *key, float v);

/* A double with at most 15 significant digits (DBL_DIG, so every decimal
 * of up to 15 digits comes out as it was written). */
void cr__jw_double(struct cr__jw *w, const char *key, double v);

/* A double rounded to `decimals` places (0..9) first, as "%.*f" would,
 * but written without the trailing zeros (1.5, not 1.500000). */
void cr__jw_fixed(struct cr__jw *w, const char *key, double v, int decimals);

/* For the three above: NaN and infinities are CR_ERR_INVALID (JSON has no
 * such numbers); a value with no fraction within +-2^53 is written as an
 * integer (1, not 1.0); 1e-05 is written 1e-5. */

/* true or false (any non-zero v is true). */
void cr__jw_bool(struct cr__jw *w, const char *key, int v);

/* null. */
void cr__jw_null(struct cr__jw *w, const char *key);

/* Appends s as one JSON string literal, with the escaping of cr__jw_text,
 * to text that is not JSON (a log line's value, say). CR_OK, CR_ERR_NOMEM
 * or out's CR_ERR_TOO_LARGE; out unchanged on failure. */
cr_status cr__json_quote(struct cr_buf *out, const char *s);

/* Tests only: makes jansson allocate through these (NULL, NULL restores
 * malloc and free), to check that every allocation failure is reported.
 * Not thread-safe: call it while no other thread uses JSON. */
void cr__json_set_alloc(void *(*alloc)(size_t), void (*release)(void *));

#endif
