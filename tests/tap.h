/*
 * tap.h - a tiny assertion header with TAP output, for the unit tests.
 * Each CHECK prints "ok N - what" or "not ok N - what (file:line)"; the
 * program's exit status is non-zero if any check failed.
 */
#ifndef CLOUDREC_TAP_H
#define CLOUDREC_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count;
static int tap_failed;

static inline int tap_check(int cond, const char *what, const char *file, int line)
{
    ++tap_count;
    if (cond) {
        printf("ok %d - %s\n", tap_count, what);
    } else {
        ++tap_failed;
        printf("not ok %d - %s (%s:%d)\n", tap_count, what, file, line);
    }
    fflush(stdout);
    return cond;
}

#define CHECK(cond) tap_check(!!(cond), #cond, __FILE__, __LINE__)
#define CHECK_MSG(cond, what) tap_check(!!(cond), what, __FILE__, __LINE__)
#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long tap_a_ = (long long)(a), tap_b_ = (long long)(b);                                \
        if (!tap_check(tap_a_ == tap_b_, #a " == " #b, __FILE__, __LINE__))                        \
            printf("#   got %lld, want %lld\n", tap_a_, tap_b_);                                   \
    } while (0)
#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *tap_a_ = (a), *tap_b_ = (b);                                                   \
        int tap_ok_ = tap_a_ && tap_b_ && strcmp(tap_a_, tap_b_) == 0;                             \
        if (!tap_check(tap_ok_, #a " == " #b, __FILE__, __LINE__))                                 \
            printf("#   got \"%s\"\n#  want \"%s\"\n", tap_a_ ? tap_a_ : "(null)",                  \
                   tap_b_ ? tap_b_ : "(null)");                                                    \
    } while (0)

/* tap_check with a printf-style description. */
static inline int tap_checkf(int cond, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline int tap_checkf(int cond, const char *file, int line, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return tap_check(cond, what, file, line);
}
#define CHECKF(cond, ...) tap_checkf(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* A TAP skip line with a printf-style reason; it counts as a check that
 * neither passes nor fails. */
static inline void tap_skipf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void tap_skipf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("ok %d # SKIP ", ++tap_count);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
}

#define DIAG(...)                                                                                  \
    do {                                                                                           \
        printf("# ");                                                                              \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
    } while (0)

/* Prints the plan and returns the exit status for main(). */
static inline int tap_done(void)
{
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}

#endif
