/* names.c - the web tier's pure helpers: upload names, one-line messages,
 * Accept headers and stored results. No libmicrohttpd here. */
#include "web/web_internal.h"

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

/* 1 when a '/'- or '\\'-separated segment of s is exactly "..". */
static int has_dotdot_segment(const char *s)
{
    const char *seg = s;
    for (const char *p = s;; p++) {
        if (*p == '/' || *p == '\\' || *p == '\0') {
            if (p - seg == 2 && seg[0] == '.' && seg[1] == '.')
                return 1;
            if (*p == '\0')
                return 0;
            seg = p + 1;
        }
    }
}

/* The part of s after its last '/' or '\\'. */
static const char *base_name(const char *s)
{
    const char *base = s;
    for (const char *p = s; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    return base;
}

cr_status cr__web_upload_name(const char *raw, char *out, size_t n, struct cr_error *err)
{
    char shown[80];
    cr__web_printable(raw, 60, shown, sizeof(shown));
    if (!raw || !*raw)
        return cr__web_http_fail(err, 400, "the file part has no file name");
    if (has_control(raw))
        return cr__web_http_fail(err, 400, "unsafe file name \"%s\": control character", shown);
    if (has_dotdot_segment(raw))
        return cr__web_http_fail(err, 400, "unsafe file name \"%s\": \"..\" in the path", shown);
    const char *base = base_name(raw);
    size_t len = strlen(base);
    if (len == 0)
        return cr__web_http_fail(err, 400, "unsafe file name \"%s\": no base name", shown);
    if (len > CR_WEB_MAX_NAME || len + 1 > n)
        return cr__web_http_fail(err, 400, "file name \"%s\" is longer than %d bytes", shown,
                                 CR_WEB_MAX_NAME);
    if (!cr_store_key_is_safe(base))
        return cr__web_http_fail(err, 400,
                                 "unsafe file name \"%s\": use letters, digits, '.', '_' and "
                                 "'-', not starting with '.'",
                                 shown);
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

/* Advances *b and pulls back *e over ASCII whitespace. */
static void trim(const char **b, const char **e)
{
    while (*b < *e && strchr(" \t\r\n", **b))
        (*b)++;
    while (*e > *b && strchr(" \t\r\n", (*e)[-1]))
        (*e)--;
}

cr_status cr__web_result_label(const char *value, size_t len, char *label, size_t n)
{
    const char *b = value, *e = value + len;
    trim(&b, &e);
    /* The older format "(test_0, bathtub)": keep what follows the comma. */
    if (e - b >= 2 && *b == '(' && e[-1] == ')') {
        const char *comma = memchr(b, ',', (size_t)(e - b));
        if (comma) {
            b = comma + 1;
            e--;
            trim(&b, &e);
        }
    }
    size_t k = (size_t)(e - b);
    if (k == 0 || k + 1 > n || memchr(b, '\0', k))
        return CR_ERR_FORMAT;
    memcpy(label, b, k);
    label[k] = '\0';
    return CR_OK;
}
