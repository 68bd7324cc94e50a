/*
 * store_s3.c - s3://bucket[/prefix], cr_store over Amazon S3 (cloudrec/s3.h).
 *
 * Each handle owns its own AWS context, opened from the standard
 * environment (AWS_REGION, AWS_PROFILE, keys, AWS_ENDPOINT_URL[_S3]); opening
 * does no network I/O, so a store is cheap to open per thread. Key k is the
 * object "<prefix>/k" (or "k" without a prefix). Keys reach this file
 * already checked by store.c (no '/', no leading '.'), so no key can leave
 * the prefix. An S3 PUT replaces the object atomically, as cr_store_put
 * promises. Objects get a content type from their key: .jpg/.jpeg
 * image/jpeg, .png image/png, .json application/json, no extension (the
 * output labels) text/plain.
 */
#include "backends/backend.h"
#include "cloudrec/aws.h"
#include "cloudrec/s3.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S3_EXAMPLE "s3://bucket[/prefix]"
#define S3_BUCKET_MIN 3
#define S3_BUCKET_MAX 63
#define S3_PREFIX_MAX 512

struct s3_store {
    struct cr_aws *aws;
    char bucket[S3_BUCKET_MAX + 1];
    char prefix[S3_PREFIX_MAX + 1];    /* "" or "a/b", no leading or trailing '/' */
    char key[S3_PREFIX_MAX + 1 + 256]; /* scratch: the object key of a call */
};

/* S3's bucket naming rules: 3..63 of a-z 0-9 . -, starting and ending with
 * a letter or digit, no "..". */
static int bucket_is_valid(const char *b, size_t len)
{
    if (len < S3_BUCKET_MIN || len > S3_BUCKET_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = b[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '.' && c != '-')
            return 0;
        if (!alnum && (i == 0 || i == len - 1))
            return 0;
        if (c == '.' && b[i + 1] == '.')
            return 0;
    }
    return 1;
}

/* A prefix is '/'-separated segments of safe key characters, none of them
 * empty, "." or "..". */
static int prefix_is_valid(const char *p)
{
    size_t seg = 0;
    for (const char *c = p;; c++) {
        if (*c == '/' || *c == '\0') {
            int dots = (seg == 1 && c[-1] == '.') || (seg == 2 && c[-1] == '.' && c[-2] == '.');
            if (seg == 0 || dots)
                return 0;
            if (*c == '\0')
                return 1;
            seg = 0;
            continue;
        }
        int ok = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
                 *c == '.' || *c == '_' || *c == '-';
        if (!ok)
            return 0;
        seg++;
    }
}

/* Splits "s3://bucket[/prefix]" into s->bucket and s->prefix (trailing
 * slashes dropped). CR_ERR_INVALID with the expected form otherwise. */
static cr_status parse_url(const char *url, struct s3_store *s, struct cr_error *err)
{
    if (strncmp(url, "s3://", 5) != 0)
        return cr__fail(err, CR_ERR_INVALID, "%s: expected a URL like %s", url, S3_EXAMPLE);
    const char *b = url + 5;
    size_t blen = strcspn(b, "/");
    if (!bucket_is_valid(b, blen))
        return cr__fail(err, CR_ERR_INVALID,
                        "%s: bucket names are 3..63 characters of a-z 0-9 . - (e.g. %s)", url,
                        S3_EXAMPLE);
    memcpy(s->bucket, b, blen);
    s->bucket[blen] = '\0';
    const char *p = b[blen] == '/' ? b + blen + 1 : "";
    size_t plen = strlen(p);
    while (plen > 0 && p[plen - 1] == '/')
        plen--;
    if (plen > S3_PREFIX_MAX)
        return cr__fail(err, CR_ERR_INVALID, "%s: prefix longer than %d bytes", url, S3_PREFIX_MAX);
    memcpy(s->prefix, p, plen);
    s->prefix[plen] = '\0';
    if (plen > 0 && !prefix_is_valid(s->prefix))
        return cr__fail(err, CR_ERR_INVALID,
                        "%s: the prefix must be '/'-separated parts of A-Z a-z 0-9 . _ - "
                        "(no ?, #, empty, . or .. parts)",
                        url);
    return CR_OK;
}

/* Frees a handle, half-built or not. */
static void s3_close(void *impl)
{
    struct s3_store *s = impl;
    if (!s)
        return;
    cr_aws_free(s->aws);
    free(s);
}

/* Parses the URL and opens an AWS context; no network I/O. */
static cr_status open_store(const char *url, struct s3_store **out, struct cr_error *err)
{
    struct s3_store *s = calloc(1, sizeof(*s));
    if (!s)
        return cr__fail(err, CR_ERR_NOMEM, "%s: out of memory", url);
    cr_status st = parse_url(url, s, err);
    if (st == CR_OK && (st = cr_aws_open(NULL, &s->aws, err)) != CR_OK)
        cr__fail_prefix(err, st, "%s: ", url);
    if (st != CR_OK) {
        s3_close(s);
        return st;
    }
    *out = s;
    return CR_OK;
}

/* The ops' open. */
static cr_status s3_open(const char *url, void **impl, struct cr_error *err)
{
    struct s3_store *s = NULL;
    cr_status st = open_store(url, &s, err);
    if (st == CR_OK)
        *impl = s;
    return st;
}

/* The object key of store key k, in s->key (valid until the next call). */
static const char *object_key(struct s3_store *s, const char *k)
{
    snprintf(s->key, sizeof(s->key), "%s%s%s", s->prefix, s->prefix[0] ? "/" : "", k);
    return s->key;
}

/* A content type from the key's extension (see the top of this file). */
static const char *content_type_of(const char *key)
{
    const char *dot = strrchr(key, '.');
    if (!dot)
        return "text/plain; charset=utf-8";
    if (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0)
        return "image/jpeg";
    if (strcasecmp(dot, ".png") == 0)
        return "image/png";
    if (strcasecmp(dot, ".json") == 0)
        return "application/json";
    return "application/octet-stream";
}

/* PUT of the whole object (atomic in S3). */
static cr_status s3_put(void *impl, const char *key, const void *data, size_t len,
                        struct cr_error *err)
{
    struct s3_store *s = impl;
    struct cr_s3_put_options po = {.content_type = content_type_of(key)};
    cr_status st =
        cr_s3_put_object(s->aws, s->bucket, object_key(s, key), data, len, &po, NULL, err);
    return st == CR_OK ? st : cr__fail_prefix(err, st, "s3://%s/%s: ", s->bucket, s->key);
}

/* GET, bounded by max_bytes (0 = the buffer's own limit and the context's). */
static cr_status s3_get(void *impl, const char *key, size_t max_bytes, struct cr_buf *out,
                        struct cr_error *err)
{
    struct s3_store *s = impl;
    struct cr_s3_get_options go = {.max_bytes = max_bytes};
    cr_status st = cr_s3_get_object(s->aws, s->bucket, object_key(s, key), &go, out, NULL, err);
    if (st == CR_ERR_NOT_FOUND && err && strcmp(err->aws_code, "NoSuchBucket") == 0)
        return cr__fail_prefix(err, st, "s3://%s: no such bucket: ", s->bucket);
    if (st == CR_ERR_NOT_FOUND)
        return cr__fail(err, st, "%s: no such object in s3://%s%s%s", key, s->bucket,
                        s->prefix[0] ? "/" : "", s->prefix);
    return st == CR_OK ? st : cr__fail_prefix(err, st, "s3://%s/%s: ", s->bucket, s->key);
}

/* DELETE; a missing key is success, as in S3. */
static cr_status s3_del(void *impl, const char *key, struct cr_error *err)
{
    struct s3_store *s = impl;
    cr_status st = cr_s3_delete_object(s->aws, s->bucket, object_key(s, key), err);
    return st == CR_OK ? st : cr__fail_prefix(err, st, "s3://%s/%s: ", s->bucket, s->key);
}

/* The ops' setup: creates the bucket unless it exists (a one-key listing
 * tells), *created saying which. A bucket someone else owns is
 * CR_ERR_EXISTS. */
static cr_status s3_setup(const char *url, int *created, struct cr_error *err)
{
    struct s3_store *s = NULL;
    struct cr_s3_list *page = NULL;
    struct cr_s3_list_options lo = {.max_keys = 1};
    *created = 0;
    cr_status st = open_store(url, &s, err);
    if (st != CR_OK)
        return st;
    st = cr_s3_list_objects(s->aws, s->bucket, &lo, &page, err);
    cr_s3_list_free(page);
    if (st == CR_ERR_NOT_FOUND) {
        if ((st = cr_s3_create_bucket(s->aws, s->bucket, NULL, err)) == CR_OK) {
            *created = 1;
            cr__log(CR_LOG_INFO, "msg=\"bucket created\" bucket=%s region=%s", s->bucket,
                   cr_aws_region(s->aws));
        }
    }
    if (st != CR_OK)
        cr__fail_prefix(err, st, "s3://%s: ", s->bucket);
    s3_close(s);
    return st;
}

const struct cr__store_ops cr__store_s3_ops = {
    .scheme = "s3",
    .open = s3_open,
    .put = s3_put,
    .get = s3_get,
    .del = s3_del,
    .close = s3_close,
    .setup = s3_setup,
};
