/* encode.c - base64, hex and percent-encoding. */
#include "internal.h"

#include <string.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

cr_status cr_base64_encode(const void *data, size_t len, struct cr_buf *out)
{
    const unsigned char *p = data;
    if (len > (SIZE_MAX / 4) * 3 - 3)
        return CR_ERR_TOO_LARGE;
    cr_status st = cr_buf_reserve(out, (len + 2) / 3 * 4);
    if (st != CR_OK)
        return st;
    char *o = (char *)out->data + out->len;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = b64_alphabet[v >> 18];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = b64_alphabet[(v >> 6) & 63];
        *o++ = b64_alphabet[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = b64_alphabet[v >> 18];
        *o++ = b64_alphabet[(v >> 12) & 63];
        *o++ = i + 1 < len ? b64_alphabet[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    out->len = (size_t)((unsigned char *)o - out->data);
    out->data[out->len] = '\0';
    return CR_OK;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

cr_status cr_base64_decode(const char *text, size_t len, struct cr_buf *out)
{
    /* Strip up to two '=' of padding; what remains must be a valid length. */
    if (len % 4 == 0 && len >= 1 && text[len - 1] == '=')
        len -= (len >= 2 && text[len - 2] == '=') ? 2 : 1;
    if (len % 4 == 1)
        return CR_ERR_FORMAT;
    /* Canonical input only: the bits left over after the last byte are 0. */
    if (len % 4 && (b64_value((unsigned char)text[len - 1]) < 0 ||
                    (b64_value((unsigned char)text[len - 1]) & (len % 4 == 2 ? 15 : 3))))
        return CR_ERR_FORMAT;
    size_t start = out->len;
    cr_status st = cr_buf_reserve(out, len / 4 * 3 + 3);
    if (st != CR_OK)
        return st;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)text[i]);
        if (v < 0) {
            out->len = start;
            out->data[start] = '\0';
            return CR_ERR_FORMAT;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->data[out->len++] = (unsigned char)(acc >> bits);
        }
    }
    out->data[out->len] = '\0';
    return CR_OK;
}

void cr_hex_encode(const void *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
}

int cr__hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

cr_status cr_hex_decode(const char *hex, size_t hex_len, void *out, size_t out_len)
{
    if (hex_len != 2 * out_len)
        return CR_ERR_FORMAT;
    unsigned char *o = out;
    for (size_t i = 0; i < out_len; i++) {
        int hi = cr__hex_digit((unsigned char)hex[2 * i]);
        int lo = cr__hex_digit((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return CR_ERR_FORMAT;
        o[i] = (unsigned char)(hi << 4 | lo);
    }
    return CR_OK;
}

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

/* Undoes a partial append so a failed call leaves out as it was. */
static cr_status rollback(struct cr_buf *out, size_t start, cr_status st)
{
    if (st != CR_OK && out->data) {
        out->len = start;
        out->data[start] = '\0';
    }
    return st;
}

cr_status cr_uri_encode(const char *s, size_t len, int keep_slash, struct cr_buf *out)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t start = out->len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        cr_status st;
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            st = cr_buf_append(out, &c, 1);
        } else {
            char esc[3] = {'%', digits[c >> 4], digits[c & 15]};
            st = cr_buf_append(out, esc, 3);
        }
        if (st != CR_OK)
            return rollback(out, start, st);
    }
    return cr_buf_append(out, "", 0);
}

cr_status cr_uri_decode(const char *s, size_t len, struct cr_buf *out)
{
    size_t start = out->len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 1 < len ? cr__hex_digit((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < len ? cr__hex_digit((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return rollback(out, start, CR_ERR_FORMAT);
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        cr_status st = cr_buf_append(out, &c, 1);
        if (st != CR_OK)
            return rollback(out, start, st);
    }
    return cr_buf_append(out, "", 0);
}
