/* status.c - status strings and error detail. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

const char *cr_version(void)
{
    return CR_VERSION_STRING;
}

const char *cr_strerror(cr_status status)
{
    switch (status) {
#define CR__STATUS_MSG(name, value, msg)                                                           \
    case CR_##name:                                                                                \
        return msg;
        CR_STATUS_MAP(CR__STATUS_MSG)
#undef CR__STATUS_MSG
    }
    return "unknown status";
}

const char *cr_status_name(cr_status status)
{
    switch (status) {
#define CR__STATUS_NAME(name, value, msg)                                                          \
    case CR_##name:                                                                                \
        return #name;
        CR_STATUS_MAP(CR__STATUS_NAME)
#undef CR__STATUS_NAME
    }
    return "UNKNOWN";
}

void cr_error_clear(struct cr_error *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
}

cr_status cr__fail(struct cr_error *err, cr_status status, const char *fmt, ...)
{
    if (!err)
        return status;
    cr_error_clear(err);
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return status;
}

cr_status cr__fail_prefix(struct cr_error *err, cr_status status, const char *fmt, ...)
{
    if (!err)
        return status;
    char prefix[256];
    char old[sizeof(err->message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof(old));
    if (!old[0])
        cr__strlcpy(old, cr_strerror(status), sizeof(old));
    /* Truncation is fine: the message is one line for people. */
    size_t plen = strlen(prefix);
    if (plen >= sizeof(err->message))
        plen = sizeof(err->message) - 1;
    memcpy(err->message, prefix, plen);
    cr__strlcpy(err->message + plen, old, sizeof(err->message) - plen);
    err->status = status;
    return status;
}

void cr__strlcpy(char *dst, const char *src, size_t n)
{
    if (n == 0)
        return;
    size_t len = strnlen(src, n - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

char *cr__strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

char *cr__trim(char *s)
{
    while (*s && strchr(" \t\r\n", *s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && strchr(" \t\r\n", s[len - 1]))
        s[--len] = '\0';
    return s;
}
