/*
 * cloudrec/core.h - version, status codes, error detail, the byte buffer
 * that calls fill, and the log handler.
 *
 * Conventions for the whole library (see docs/conventions.md):
 *  - Fallible calls return cr_status (CR_OK == 0) and take an optional last
 *    `struct cr_error *err` that receives detail when non-NULL.
 *  - Inputs are borrowed for the duration of the call. Outputs belong to the
 *    caller: an object the library allocated is released with its
 *    cr_*_free(), what a caller-owned struct holds with its cr_*_clear();
 *    both accept NULL.
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
#define CR_VERSION_MINOR 2
#define CR_VERSION_PATCH 0
#define CR_VERSION_STRING "0.2.0"

/* Returns the library's version string, e.g. "0.2.0". Static storage. */
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
 * A growable byte buffer with a hard size limit, which calls such as
 * cr_s3_get_object fill. Zero-initialise it (or call cr_buf_init) before
 * use; release what it holds with cr_buf_free. The contents are always
 * followed by a NUL byte (not counted in len) so text can be used directly.
 */
struct cr_buf {
    unsigned char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
    size_t max_bytes; /* 0 = no limit beyond SIZE_MAX / 2 */
};

/* Empties buf and sets its limit (0 = none beyond SIZE_MAX / 2). */
CR_API void cr_buf_init(struct cr_buf *buf, size_t max_bytes);
/* Releases the memory; the buffer is left empty and reusable. Accepts NULL. */
CR_API void cr_buf_free(struct cr_buf *buf);

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

/* "debug", "info", "warn", "error", "off" ("unknown" for other values).
 * Static storage. */
CR_API const char *cr_log_level_name(enum cr_log_level level);

/* ---- sizes ---------------------------------------------------------------*/
#define CR_SHA256_LEN 32   /* bytes of a SHA-256 digest */
#define CR_UUID_STR_LEN 37 /* a canonical UUID (message ids): 36 characters + NUL */

#ifdef __cplusplus
}
#endif
#endif
