/* store.c - cr_store: dispatch by URL scheme and the checks every store shares. */
#include "backends/backend.h"

#include <stdlib.h>
#include <string.h>

#define CR__STORE_KEY_MAX 255

/* The known schemes. A row without ops is a scheme we recognise but were
 * built without; opening it fails with `missing` (backend.h says how an
 * implementation takes its place). */
static const struct {
    const char *scheme;
    const struct cr__store_ops *ops;
    const char *missing;
} store_schemes[] = {
    {"file", &cr__store_file_ops, NULL},
    {"s3", &cr__store_s3_ops, NULL},
};

#define CR__STORE_URL_FORMS "file:///abs/dir or s3://bucket[/prefix]"

int cr__store_key_is_safe(const char *key)
{
    if (!key || key[0] == '\0' || key[0] == '.')
        return 0;
    size_t len = 0;
    for (const char *p = key; *p; p++, len++) {
        unsigned char c = (unsigned char)*p;
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (!ok || len >= CR__STORE_KEY_MAX)
            return 0;
    }
    return 1;
}

/* Writes a printable, shortened copy of an untrusted key for an error message. */
static void key_for_message(const char *key, char *out, size_t n)
{
    size_t i = 0;
    for (; key[i] && i + 4 < n && i < 64; i++)
        out[i] = (key[i] >= 0x20 && key[i] < 0x7f) ? key[i] : '?';
    if (key[i] && i + 4 < n) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

/* CR_OK when s and key are usable, CR_ERR_INVALID with a message otherwise. */
static cr_status check_key(const struct cr_store *s, const char *key, struct cr_error *err)
{
    if (!s || !key)
        return cr__fail(err, CR_ERR_INVALID, "store and key must not be NULL");
    if (cr__store_key_is_safe(key))
        return CR_OK;
    char shown[80];
    key_for_message(key, shown, sizeof(shown));
    return cr__fail(err, CR_ERR_INVALID,
                    "unsafe object key \"%s\": keys are 1..%d bytes of A-Z a-z 0-9 . _ - "
                    "and do not start with '.'",
                    shown, CR__STORE_KEY_MAX);
}

/* Copies the scheme of url ("file" of "file:///x") into out. 0 if there is
 * no "<letters>://" prefix that fits. */
static int url_scheme(const char *url, char *out, size_t n)
{
    const char *sep = strstr(url, "://");
    if (!sep || sep == url || (size_t)(sep - url) >= n)
        return 0;
    for (const char *p = url; p < sep; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '+' || *p == '-'))
            return 0;
    memcpy(out, url, (size_t)(sep - url));
    out[sep - url] = '\0';
    return 1;
}

/* Finds the ops for url's scheme, or fails with a message naming the URL. */
static cr_status find_ops(const char *url, const struct cr__store_ops **ops, struct cr_error *err)
{
    char scheme[16];
    if (!url_scheme(url, scheme, sizeof(scheme)))
        return cr__fail(err, CR_ERR_INVALID, "not a store URL: \"%s\" (expected %s)", url,
                        CR__STORE_URL_FORMS);
    for (size_t i = 0; i < CR__ARRAY_LEN(store_schemes); i++) {
        if (strcmp(store_schemes[i].scheme, scheme) != 0)
            continue;
        *ops = store_schemes[i].ops;
        return *ops ? CR_OK : cr__fail(err, CR_ERR_UNSUPPORTED, "%s", store_schemes[i].missing);
    }
    return cr__fail(err, CR_ERR_INVALID, "unknown store URL scheme \"%s\" in \"%s\" (expected %s)",
                    scheme, url, CR__STORE_URL_FORMS);
}

cr_status cr_store_open(const char *url, struct cr_store **out, struct cr_error *err)
{
    if (!out)
        return cr__fail(err, CR_ERR_INVALID, "cr_store_open: out must not be NULL");
    *out = NULL;
    if (!url)
        return cr__fail(err, CR_ERR_INVALID, "cr_store_open: url must not be NULL");
    const struct cr__store_ops *ops = NULL;
    cr_status st = find_ops(url, &ops, err);
    if (st != CR_OK)
        return st;
    struct cr_store *s = calloc(1, sizeof(*s));
    if (!s)
        return cr__fail(err, CR_ERR_NOMEM, "%s: out of memory", url);
    s->ops = ops;
    st = ops->open(url, &s->impl, err);
    if (st != CR_OK) {
        free(s);
        return st;
    }
    *out = s;
    return CR_OK;
}

cr_status cr_store_put(struct cr_store *s, const char *key, const void *data, size_t len,
                       struct cr_error *err)
{
    cr_status st = check_key(s, key, err);
    if (st != CR_OK)
        return st;
    if (!data && len > 0)
        return cr__fail(err, CR_ERR_INVALID, "%s: data is NULL but len is %zu", key, len);
    return s->ops->put(s->impl, key, data ? data : "", len, err);
}

cr_status cr_store_get(struct cr_store *s, const char *key, size_t max_bytes, struct cr_buf *out,
                       struct cr_error *err)
{
    cr_status st = check_key(s, key, err);
    if (st != CR_OK)
        return st;
    if (!out)
        return cr__fail(err, CR_ERR_INVALID, "%s: output buffer is NULL", key);
    return s->ops->get(s->impl, key, max_bytes, out, err);
}

cr_status cr_store_delete(struct cr_store *s, const char *key, struct cr_error *err)
{
    cr_status st = check_key(s, key, err);
    if (st != CR_OK)
        return st;
    return s->ops->del(s->impl, key, err);
}

cr_status cr__store_list_older(struct cr_store *s, int64_t before_wall_ms,
                               void (*fn)(const char *key, int64_t mtime_ms, void *ctx), void *ctx,
                               struct cr_error *err)
{
    if (!s || !fn)
        return cr__fail(err, CR_ERR_INVALID, "list_older: store and callback are required");
    if (!s->ops->list_older)
        return cr__fail(err, CR_ERR_UNSUPPORTED, "%s stores do not list by age",
                        s->ops->scheme);
    return s->ops->list_older(s->impl, before_wall_ms, fn, ctx, err);
}

void cr_store_free(struct cr_store *s)
{
    if (!s)
        return;
    s->ops->close(s->impl);
    free(s);
}

cr_status cr__store_setup(const char *url, int *created, struct cr_error *err)
{
    const struct cr__store_ops *ops = NULL;
    cr_status st =
        url ? find_ops(url, &ops, err) : cr__fail(err, CR_ERR_INVALID, "store setup: url is NULL");
    *created = -1;
    if (st != CR_OK)
        return st;
    if (ops->setup)
        return ops->setup(url, created, err);
    struct cr_store *s = NULL;
    st = cr_store_open(url, &s, err); /* file:// makes its directory */
    cr_store_free(s);
    return st;
}
