/*
 * tap.h - a tiny assertion header with TAP output, for the unit tests.
 * Each CHECK prints "ok N - what" or "not ok N - what (file:line)"; the
 * program's exit status is non-zero if any check failed.
 */
#ifndef CLOUDREC_TAP_H
#define CLOUDREC_TAP_H

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
