/*
 * json.h - the library's strict JSON reader, over jansson (core/json.c is the
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

/* Appends d in the shortest %g form (at most 17 significant digits) that
 * reads back as the same double, or as the same float when as_float. Uses
 * the C locale whatever the process locale is. CR_ERR_INVALID for NaN and
 * infinities, which JSON cannot represent. */
cr_status cr__json_append_number(struct cr_buf *out, double d, int as_float);

#endif
