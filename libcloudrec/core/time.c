/* time.c - clocks, UUIDs and timestamp formats. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int64_t cr_time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cr_time_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t cr_time_wall_ms(void)
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

void cr_time_format_amz(int64_t epoch_s, char out[17])
{
    struct tm tm;
    to_tm(epoch_s, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

void cr_time_format_iso8601(int64_t epoch_s, char out[21])
{
    struct tm tm;
    to_tm(epoch_s, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

cr_status cr_time_parse_iso8601(const char *s, int64_t *epoch_s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int consumed = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6)
        return CR_ERR_FORMAT;
    const char *rest = s + consumed;
    if (*rest == '.')
        for (rest++; *rest >= '0' && *rest <= '9'; rest++)
            ;
    if (strcmp(rest, "Z") != 0 && strcmp(rest, "+00:00") != 0)
        return CR_ERR_FORMAT;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return CR_ERR_FORMAT;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *epoch_s = (int64_t)timegm(&tm);
    return CR_OK;
}

cr_status cr_uuid_v4(char out[CR_UUID_STR_LEN])
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
    char hex[33];
    cr_hex_encode(b, sizeof(b), hex);
    snprintf(out, CR_UUID_STR_LEN, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
             hex + 16, hex + 20);
    return CR_OK;
}
