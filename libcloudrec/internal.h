/*
 * internal.h - the core helpers shared by the library's source files, its
 * programs (tools/) and its unit tests; not installed and never exported
 * (no CR_API: the shared library hides them, the static archive has them).
 * Names use the cr__ prefix (docs/api.md says why each one is internal).
 */
#ifndef CLOUDREC_INTERNAL_H
#define CLOUDREC_INTERNAL_H

#include "cloudrec/core.h"

#include <stdarg.h>

/* ---- byte buffers (struct cr_buf is public, core.h; appending is not) ----*/

/* Appends n bytes. CR_ERR_TOO_LARGE if the limit would be passed (the buffer
 * is then unchanged), CR_ERR_NOMEM on allocation failure. */
cr_status cr__buf_append(struct cr_buf *buf, const void *data, size_t n);
cr_status cr__buf_append_str(struct cr_buf *buf, const char *s);
cr_status cr__buf_appendf(struct cr_buf *buf, const char *fmt, ...) CR_PRINTF(2, 3);
cr_status cr__buf_vappendf(struct cr_buf *buf, const char *fmt, va_list ap);

/* Ensures room for `extra` more bytes without changing len. */
cr_status cr__buf_reserve(struct cr_buf *buf, size_t extra);

/* Empties the buffer, keeping its memory and limit. */
void cr__buf_reset(struct cr_buf *buf);

/* Hands the memory to the caller (free() it); the buffer is left empty.
 * Returns "" allocated if the buffer was never written. NULL on NOMEM. */
char *cr__buf_steal(struct cr_buf *buf, size_t *len);

/* ---- files ----------------------------------------------------------------*/

/* Reads a whole file into buf (appending). CR_ERR_NOT_FOUND if it does not
 * exist, CR_ERR_TOO_LARGE if it is over max_bytes (0 = the buffer's limit),
 * CR_ERR_IO otherwise. Detail names the path. */
cr_status cr__file_read(const char *path, size_t max_bytes, struct cr_buf *buf,
                       struct cr_error *err);

/* Writes data to path atomically: a temporary file in the same directory,
 * fsync, rename, fsync of the directory. Either the old or the new contents
 * are visible, never a mix. */
cr_status cr__file_write_atomic(const char *path, const void *data, size_t len,
                               struct cr_error *err);

/* ---- logging (the handler is public, core.h) ------------------------------*/

/* Emits a line through the installed handler (formatting is skipped when the
 * level is filtered out). For tools built on the library. */
void cr__log(enum cr_log_level level, const char *fmt, ...) CR_PRINTF(2, 3);

/* The level named "debug", "info", "warn", "error" or "off" in any case;
 * -1 for other names. */
int cr__log_level_parse(const char *name);

/* ---- encodings --------------------------------------------------------------*/

/* Standard base64 (RFC 4648, with padding), appended to out. */
cr_status cr__base64_encode(const void *data, size_t len, struct cr_buf *out);

/* Decodes standard base64 (padding optional, no whitespace), appended to out.
 * CR_ERR_FORMAT on any invalid character, length or non-zero trailing bits;
 * out is then unchanged. */
cr_status cr__base64_decode(const char *text, size_t len, struct cr_buf *out);

/* Lower-case hex of len bytes into out, which must hold 2*len + 1 bytes. */
void cr__hex_encode(const void *data, size_t len, char *out);

/* Decodes exactly 2*out_len hex digits (either case). CR_ERR_FORMAT otherwise. */
cr_status cr__hex_decode(const char *hex, size_t hex_len, void *out, size_t out_len);

/* RFC 3986 percent-encoding: unreserved characters (A-Z a-z 0-9 - . _ ~)
 * stay, everything else becomes %XX (upper-case). '/' stays when keep_slash. */
cr_status cr__uri_encode(const char *s, size_t len, int keep_slash, struct cr_buf *out);

/* Decodes %XX escapes ('+' is left as is). CR_ERR_FORMAT on a bad escape.
 * On any error out is left as it was. */
cr_status cr__uri_decode(const char *s, size_t len, struct cr_buf *out);

/* ---- hashing ----------------------------------------------------------------*/

void cr__sha256(const void *data, size_t len, unsigned char out[CR_SHA256_LEN]);
void cr__hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                    unsigned char out[CR_SHA256_LEN]);
/* SHA-256 of a whole file as 64 lower-case hex digits + NUL. */
cr_status cr__sha256_file_hex(const char *path, char out[2 * CR_SHA256_LEN + 1],
                             struct cr_error *err);

/* ---- identifiers and time ---------------------------------------------------*/

/* A random (version 4) UUID in canonical lower-case form. Thread-safe. */
cr_status cr__uuid_v4(char out[CR_UUID_STR_LEN]);

/* Milliseconds of a monotonic clock (arbitrary origin). Thread-safe. */
int64_t cr__time_mono_ms(void);

/* Microseconds of a monotonic clock, for measuring short intervals.
 * Thread-safe. */
int64_t cr__time_mono_us(void);

/* Milliseconds since the Unix epoch (wall clock). Thread-safe. */
int64_t cr__time_wall_ms(void);

/* Formats epoch seconds as ISO 8601 basic UTC, "20150830T123600Z" (17 bytes
 * with the NUL). */
void cr__time_format_amz(int64_t epoch_s, char out[17]);

/* Formats epoch seconds as "2015-08-30T12:36:00Z" (21 bytes with the NUL). */
void cr__time_format_iso8601(int64_t epoch_s, char out[21]);

/* Parses exactly "YYYY-MM-DDTHH:MM:SS" plus an optional fraction (ignored)
 * and "Z" or "+00:00". CR_ERR_FORMAT for anything else, including dates that
 * do not exist (2015-02-31). */
cr_status cr__time_parse_iso8601(const char *s, int64_t *epoch_s);

/* ---- programs ---------------------------------------------------------------*/

/*
 * Finds the program `name` (e.g. "cloudrec-worker"): first in dir when dir is
 * non-NULL, else next to the running executable (the directory of
 * /proc/self/exe: the build tree's tools/ or the installed bin/), then on
 * $PATH. Writes an absolute path to out (size n). CR_ERR_NOT_FOUND naming
 * the places tried.
 */
cr_status cr__find_program(const char *name, const char *dir, char *out, size_t n,
                          struct cr_error *err);

/* ---- small helpers ----------------------------------------------------------*/

#define CR__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Fills err (when non-NULL) with status and a formatted one-line message and
 * returns status, so failures read `return cr__fail(err, CR_ERR_IO, ...)`. */
cr_status cr__fail(struct cr_error *err, cr_status status, const char *fmt, ...)
    CR_PRINTF(3, 4);

/* Like cr__fail but keeps the detail a callee already wrote into err and
 * prefixes its message with the formatted context ("dog.jpg: "). */
cr_status cr__fail_prefix(struct cr_error *err, cr_status status, const char *fmt, ...)
    CR_PRINTF(3, 4);

/* True when a handler would accept a line at this level; lets callers skip
 * building expensive log arguments. */
int cr__log_enabled(enum cr_log_level level);

/* cr__file_write_atomic with the temporary file named by the caller (it must
 * be in path's directory, so the rename is atomic, and must not exist). The
 * file store uses it to keep temporary names out of its key space. */
cr_status cr__file_write_atomic_tmp(const char *path, const char *tmp, const void *data,
                                   size_t len, struct cr_error *err);

/* Copies src into dst (size n), always NUL-terminating; truncates. */
void cr__strlcpy(char *dst, const char *src, size_t n);

/* The value of one hex digit (either case), or -1. */
int cr__hex_digit(unsigned char c);

/* The stem of an uploaded file name: the name without its last extension
 * ("test_0.JPEG" -> "test_0", "a.b.png" -> "a.b"); a name without a dot, or
 * whose only dot is its first byte (".jpg"), is kept whole. CR_ERR_INVALID
 * when name is empty or the stem does not fit in out (size n). */
cr_status cr__name_stem(const char *name, char *out, size_t n);

/* Text being appended to a buffer, where the first failed append sticks in
 * st and later ones do nothing, so a long rendering checks once at the end. */
struct cr__text {
    struct cr_buf *out;
    cr_status st;
};

/* Appends formatted text to t->out unless an earlier append failed. */
void cr__text_put(struct cr__text *t, const char *fmt, ...) CR_PRINTF(2, 3);

/* strdup that returns NULL for NULL. */
char *cr__strdup(const char *s);

/* Trims spaces, tabs, CRs and LFs from both ends of s in place; returns the
 * first kept byte (inside s). */
char *cr__trim(char *s);

/* Room for item n of an array that holds *cap items of elem_size bytes:
 * returns items itself when n < *cap, else the array reallocated to twice
 * its capacity (first_cap items the first time) with *cap updated. NULL,
 * with items and *cap untouched, when memory runs out. */
void *cr__array_grow(void *items, size_t *cap, size_t n, size_t elem_size, size_t first_cap);

/* One read(2) of up to room bytes from fd into p, retried on EINTR; *got is
 * 0 at end of file. CR_ERR_IO with "path: reason" in err when it fails. */
cr_status cr__read_chunk(int fd, void *p, size_t room, const char *path, size_t *got,
                         struct cr_error *err);

#endif
