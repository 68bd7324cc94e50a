/* time.c - clocks, UUIDs and timestamp formats. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int64_t cr__time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cr__time_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t cr__time_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void to_tm(int64_t epoch_s, struct tm *tm)
{
    time_t t = (time_t)epoch_s;
    gmtime_r(&t, tm);
}

void cr__time_format_amz(int64_t epoch_s, char out[17])
{
    struct tm tm;
    to_tm(epoch_s, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

void cr__time_format_iso8601(int64_t epoch_s, char out[21])
{
    struct tm tm;
    to_tm(epoch_s, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Reads n decimal digits at s into *v; 0 if any of them is not a digit. */
static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        *v = *v * 10 + (s[i] - '0');
    }
    return 1;
}

cr_status cr__time_parse_iso8601(const char *s, int64_t *epoch_s)
{
    /* "YYYY-MM-DDTHH:MM:SS": fixed positions, so no sign, space or short
     * field can slip through as it would with sscanf. */
    int y, mo, d, h, mi, sec;
    if (strlen(s) < 19 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) ||
        s[7] != '-' || !digits(s + 8, 2, &d) || s[10] != 'T' || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
        return CR_ERR_FORMAT;
    const char *rest = s + 19;
    if (*rest == '.') {
        const char *frac = ++rest;
        while (*rest >= '0' && *rest <= '9')
            rest++;
        if (rest == frac)
            return CR_ERR_FORMAT;
    }
    if (strcmp(rest, "Z") != 0 && strcmp(rest, "+00:00") != 0)
        return CR_ERR_FORMAT;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                    .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    time_t t = timegm(&tm);
    /* timegm normalises 02-31 to 03-03; a changed field means no such date. */
    if (tm.tm_year != y - 1900 || tm.tm_mon != mo - 1 || tm.tm_mday != d || tm.tm_hour != h ||
        tm.tm_min != mi || tm.tm_sec != sec)
        return CR_ERR_FORMAT;
    *epoch_s = (int64_t)t;
    return CR_OK;
}

cr_status cr__uuid_v4(char out[CR_UUID_STR_LEN])
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return CR_ERR_IO;
        got += (size_t)n;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    /* Formatted here rather than with cr__hex_encode, so that time.c needs
     * nothing from encode.c (which needs buf.c, which needs UUIDs). */
    static const char digits[] = "0123456789abcdef";
    char *p = out;
    for (size_t i = 0; i < sizeof(b); i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = digits[b[i] >> 4];
        *p++ = digits[b[i] & 15];
    }
    *p = '\0';
    return CR_OK;
}
