/*
 * internal.h - helpers shared by the library's source files; not installed.
 * Names here use the cr__ prefix and are never exported.
 */
#ifndef CLOUDREC_INTERNAL_H
#define CLOUDREC_INTERNAL_H

#include "cloudrec/core.h"

#include <stdarg.h>

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

/* cr_file_write_atomic with the temporary file named by the caller (it must
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
