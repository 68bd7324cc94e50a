/*
 * cloudrec/core.h - status codes, error detail, byte buffers, logging,
 * encodings, hashing, UUIDs and time.
 *
 * Conventions for the whole library (see docs/conventions.md):
 *  - Fallible calls return cr_status (CR_OK == 0) and take an optional last
 *    `struct cr_error *err` that receives detail when non-NULL.
 *  - Inputs are borrowed for the duration of the call. Outputs belong to the
 *    caller and are released with the matching cr_*_free(), which accepts NULL.
 *  - Nothing is thread-safe unless its comment says so.
 */
#ifndef CLOUDREC_CORE_H
#define CLOUDREC_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CR_API __attribute__((visibility("default")))
#define CR_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CR_API
#define CR_PRINTF(fmt, args)
#endif

#define CR_VERSION_MAJOR 0
#define CR_VERSION_MINOR 1
#define CR_VERSION_PATCH 0
#define CR_VERSION_STRING "0.1.0"

/* Returns the library's version string, e.g. "0.1.0". Static storage. */
CR_API const char *cr_version(void);

/*
 * Status codes. Values are part of the ABI and are never renumbered; new codes
 * are appended. XX(name, value, message).
 */
#define CR_STATUS_MAP(XX)                                                                          \
    XX(OK, 0, "success")                                                                           \
    XX(ERR_INVALID, 1, "invalid argument")                                                         \
    XX(ERR_NOMEM, 2, "out of memory")                                                              \
    XX(ERR_IO, 3, "input/output error")                                                            \
    XX(ERR_NOT_FOUND, 4, "not found")                                                              \
    XX(ERR_TOO_LARGE, 5, "too large")                                                              \
    XX(ERR_FORMAT, 6, "malformed data")                                                            \
    XX(ERR_UNSUPPORTED, 7, "unsupported")                                                          \
    XX(ERR_MODEL, 8, "model error")                                                                \
    XX(ERR_NETWORK, 9, "network error")                                                            \
    XX(ERR_TIMEOUT, 10, "timed out")                                                               \
    XX(ERR_HTTP, 11, "HTTP error")                                                                 \
    XX(ERR_AWS, 12, "AWS service error")                                                           \
    XX(ERR_AUTH, 13, "authentication or credentials error")                                        \
    XX(ERR_CHECKSUM, 14, "checksum mismatch")                                                      \
    XX(ERR_STATE, 15, "operation not valid in this state")                                         \
    XX(ERR_INTERNAL, 16, "internal error")                                                         \
    XX(ERR_THROTTLED, 17, "throttled")                                                             \
    XX(ERR_EXISTS, 18, "already exists")

typedef enum cr_status {
#define CR__STATUS_ENUM(name, value, msg) CR_##name = value,
    CR_STATUS_MAP(CR__STATUS_ENUM)
#undef CR__STATUS_ENUM
} cr_status;

/* A fixed English message for a status ("malformed data"). Static storage;
 * unknown values give "unknown status". */
CR_API const char *cr_strerror(cr_status status);

/* The enum's name without the CR_ prefix ("ERR_FORMAT"); "UNKNOWN" for
 * values outside the table. Static storage. */
CR_API const char *cr_status_name(cr_status status);

/*
 * Detail about a failure. Caller-allocated, fixed size, so it never needs
 * freeing. Fields that do not apply are 0 or "". `message` is one line meant
 * for people: it names the object and the reason ("dog.jpg: truncated JPEG").
 */
struct cr_error {
    cr_status status;
    long http_status;     /* HTTP status of a service answer, 0 if none */
    char aws_code[64];    /* e.g. "NoSuchKey" */
    char request_id[128]; /* service request id, if the answer carried one */
    char message[512];
};

/* Resets every field of *err. Accepts NULL. */
CR_API void cr_error_clear(struct cr_error *err);

/* ---- byte buffers --------------------------------------------------------
 * A growable byte buffer with a hard size limit. Zero-initialise it (or call
 * cr_buf_init) before use; release with cr_buf_free. The contents are always
 * followed by a NUL byte (not counted in len) so text can be used directly.
 */
struct cr_buf {
    unsigned char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
    size_t max_bytes; /* 0 = no limit beyond SIZE_MAX / 2 */
};

CR_API void cr_buf_init(struct cr_buf *buf, size_t max_bytes);
/* Appends n bytes. CR_ERR_TOO_LARGE if the limit would be passed (the buffer
 * is then unchanged), CR_ERR_NOMEM on allocation failure. */
CR_API cr_status cr_buf_append(struct cr_buf *buf, const void *data, size_t n);
CR_API cr_status cr_buf_append_str(struct cr_buf *buf, const char *s);
CR_API cr_status cr_buf_appendf(struct cr_buf *buf, const char *fmt, ...) CR_PRINTF(2, 3);
CR_API cr_status cr_buf_vappendf(struct cr_buf *buf, const char *fmt, va_list ap);
/* Ensures room for `extra` more bytes without changing len. */
CR_API cr_status cr_buf_reserve(struct cr_buf *buf, size_t extra);
/* Empties the buffer, keeping its memory and limit. */
CR_API void cr_buf_reset(struct cr_buf *buf);
/* Releases the memory; the buffer is left empty and reusable. Accepts NULL. */
CR_API void cr_buf_free(struct cr_buf *buf);
/* Hands the memory to the caller (free() it); the buffer is left empty.
 * Returns "" allocated if the buffer was never written. NULL on NOMEM. */
CR_API char *cr_buf_steal(struct cr_buf *buf, size_t *len);

/* Reads a whole file into buf (appending). CR_ERR_NOT_FOUND if it does not
 * exist, CR_ERR_TOO_LARGE if it is over max_bytes (0 = the buffer's limit),
 * CR_ERR_IO otherwise. Detail names the path. */
CR_API cr_status cr_file_read(const char *path, size_t max_bytes, struct cr_buf *buf,
                              struct cr_error *err);

/* Writes data to path atomically: a temporary file in the same directory,
 * fsync, rename, fsync of the directory. Either the old or the new contents
 * are visible, never a mix. */
CR_API cr_status cr_file_write_atomic(const char *path, const void *data, size_t len,
                                      struct cr_error *err);

/* ---- logging -------------------------------------------------------------
 * The library is silent until a handler is installed. Lines are key=value
 * text without a trailing newline, e.g. `msg="model loaded" layers=22`.
 * The handler may be called from any thread; it must be thread-safe.
 */
enum cr_log_level {
    CR_LOG_DEBUG = 10,
    CR_LOG_INFO = 20,
    CR_LOG_WARN = 30,
    CR_LOG_ERROR = 40,
    CR_LOG_OFF = 100
};

typedef void (*cr_log_fn)(void *userdata, enum cr_log_level level, const char *line);

/* Installs handler (NULL = silent) for messages at min_level or above.
 * Not thread-safe: call it before starting threads that use the library. */
CR_API void cr_log_set_handler(cr_log_fn handler, void *userdata, enum cr_log_level min_level);

/* A ready-made handler that writes `<UTC time> <level> <line>\n` to stderr
 * (userdata ignored). */
CR_API void cr_log_stderr(void *userdata, enum cr_log_level level, const char *line);

/* "debug", "info", "warn", "error", "off" ("unknown" for other values);
 * parse accepts those names in any case and returns -1 for others. */
CR_API const char *cr_log_level_name(enum cr_log_level level);
CR_API int cr_log_level_parse(const char *name);

/* Emits a line through the installed handler (formatting is skipped when the
 * level is filtered out). For tools built on the library. */
CR_API void cr_log(enum cr_log_level level, const char *fmt, ...) CR_PRINTF(2, 3);

/* ---- encodings -----------------------------------------------------------*/

/* Standard base64 (RFC 4648, with padding), appended to out. */
CR_API cr_status cr_base64_encode(const void *data, size_t len, struct cr_buf *out);
/* Decodes standard base64 (padding optional, no whitespace), appended to out.
 * CR_ERR_FORMAT on any invalid character, length or non-zero trailing bits;
 * out is then unchanged. */
CR_API cr_status cr_base64_decode(const char *text, size_t len, struct cr_buf *out);

/* Lower-case hex of len bytes into out, which must hold 2*len + 1 bytes. */
CR_API void cr_hex_encode(const void *data, size_t len, char *out);
/* Decodes exactly 2*out_len hex digits (either case). CR_ERR_FORMAT otherwise. */
CR_API cr_status cr_hex_decode(const char *hex, size_t hex_len, void *out, size_t out_len);

/* RFC 3986 percent-encoding: unreserved characters (A-Z a-z 0-9 - . _ ~)
 * stay, everything else becomes %XX (upper-case). '/' stays when keep_slash. */
CR_API cr_status cr_uri_encode(const char *s, size_t len, int keep_slash, struct cr_buf *out);
/* Decodes %XX escapes ('+' is left as is). CR_ERR_FORMAT on a bad escape.
 * On any error out is left as it was. */
CR_API cr_status cr_uri_decode(const char *s, size_t len, struct cr_buf *out);

/* ---- hashing -------------------------------------------------------------*/
#define CR_SHA256_LEN 32

CR_API void cr_sha256(const void *data, size_t len, unsigned char out[CR_SHA256_LEN]);
CR_API void cr_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                           unsigned char out[CR_SHA256_LEN]);
/* SHA-256 of a whole file as 64 lower-case hex digits + NUL. */
CR_API cr_status cr_sha256_file_hex(const char *path, char out[2 * CR_SHA256_LEN + 1],
                                    struct cr_error *err);

/* ---- identifiers and time --------------------------------------------------*/
#define CR_UUID_STR_LEN 37 /* 36 characters + NUL */

/* A random (version 4) UUID in canonical lower-case form. Thread-safe. */
CR_API cr_status cr_uuid_v4(char out[CR_UUID_STR_LEN]);

/* Milliseconds of a monotonic clock (arbitrary origin). Thread-safe. */
CR_API int64_t cr_time_mono_ms(void);
/* Microseconds of a monotonic clock, for measuring short intervals.
 * Thread-safe. */
CR_API int64_t cr_time_mono_us(void);
/* Milliseconds since the Unix epoch (wall clock). Thread-safe. */
CR_API int64_t cr_time_wall_ms(void);
/* Formats epoch seconds as ISO 8601 basic UTC, "20150830T123600Z" (17 bytes
 * with the NUL). */
CR_API void cr_time_format_amz(int64_t epoch_s, char out[17]);
/* Formats epoch seconds as "2015-08-30T12:36:00Z" (21 bytes with the NUL). */
CR_API void cr_time_format_iso8601(int64_t epoch_s, char out[21]);
/* Parses exactly "YYYY-MM-DDTHH:MM:SS" plus an optional fraction (ignored)
 * and "Z" or "+00:00". CR_ERR_FORMAT for anything else, including dates that
 * do not exist (2015-02-31). */
CR_API cr_status cr_time_parse_iso8601(const char *s, int64_t *epoch_s);

/*
 * Finds the program `name` (e.g. "cloudrec-worker"): first in dir when dir is
 * non-NULL, else next to the running executable (the directory of
 * /proc/self/exe: the build tree's tools/ or the installed bin/), then on
 * $PATH. Writes an absolute path to out (size n). CR_ERR_NOT_FOUND naming
 * the places tried.
 */
CR_API cr_status cr_find_program(const char *name, const char *dir, char *out, size_t n,
                                 struct cr_error *err);

#ifdef __cplusplus
}
#endif
#endif
