/* names.c - the web tier's pure helpers: upload names, one-line messages,
 * Accept headers. No libmicrohttpd here. */
#include "web/web_internal.h"

#include "core/json.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

cr_status cr__web_http_fail(struct cr_error *err, long code, const char *fmt, ...)
{
    if (!err)
        return CR_ERR_INVALID;
    /* Format first: the arguments may point into err->message itself. */
    char msg[sizeof(err->message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cr_error_clear(err);
    err->status = CR_ERR_INVALID;
    err->http_status = code;
    memcpy(err->message, msg, sizeof(msg));
    return CR_ERR_INVALID;
}

void cr__web_printable(const char *s, size_t max, char *out, size_t n)
{
    size_t i = 0, j = 0;
    if (n == 0)
        return;
    for (; s && s[i] && i < max && j + 1 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[j++] = c == '"' ? '\'' : (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
    }
    /* Say that something was cut, when there is room to say it. */
    if (s && s[i] && j + 4 < n) {
        memcpy(out + j, "...", 3);
        j += 3;
    }
    out[j] = '\0';
}

/* 1 when s holds a byte below 0x20 or DEL. */
static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* The part of s after its last '/' or '\\' (a client's directory). */
static const char *base_name(const char *s)
{
    const char *base = s;
    for (const char *p = s; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    return base;
}

/* The file name is metadata only (the stored object is keyed by the request
 * id), so any name a user's machine produces is accepted; only what could
 * not be carried or shown safely is refused. */
cr_status cr__web_upload_name(const char *raw, char *out, size_t n, struct cr_error *err)
{
    char shown[80];
    cr__web_printable(raw, 60, shown, sizeof(shown));
    if (!raw || !*raw)
        return cr__web_http_fail(err, 400, "the file part has no file name");
    if (!cr__utf8_valid(raw, strlen(raw)))
        return cr__web_http_fail(err, 400, "file name \"%s\" is not valid UTF-8", shown);
    if (has_control(raw))
        return cr__web_http_fail(err, 400, "unsafe file name \"%s\": control character", shown);
    const char *base = base_name(raw);
    size_t len = strlen(base);
    if (len == 0)
        return cr__web_http_fail(err, 400, "unsafe file name \"%s\": no base name", shown);
    if (len > CR_WEB_MAX_NAME || len + 1 > n)
        return cr__web_http_fail(err, 400, "file name \"%s\" is longer than %d bytes", shown,
                                 CR_WEB_MAX_NAME);
    memcpy(out, base, len + 1);
    return CR_OK;
}

int cr__web_accepts_json(const char *accept)
{
    if (!accept)
        return 0;
    static const char want[] = "application/json";
    for (const char *p = accept; *p; p++)
        if (strncasecmp(p, want, sizeof(want) - 1) == 0)
            return 1;
    return 0;
}
