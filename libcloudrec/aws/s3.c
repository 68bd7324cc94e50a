/*
 * s3.c - the S3 calls of cloudrec/s3.h over the AWS transport
 * (cr__aws_send): REST requests on path-style or virtual-host URLs, XML
 * answers read with aws/xml.h.
 */
#include "cloudrec/s3.h"

#include "aws/svc.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S3_XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"
#define DEFAULT_CONTENT_TYPE "application/octet-stream"

/* ---- results --------------------------------------------------------------- */

/* Frees the strings of an object description in place. */
static void object_clear(struct cr_s3_object *o)
{
    free(o->key);
    free(o->etag);
    free(o->content_type);
    free(o->storage_class);
    memset(o, 0, sizeof(*o));
    o->size_bytes = -1;
}

void cr_s3_object_free(struct cr_s3_object *obj)
{
    if (!obj)
        return;
    object_clear(obj);
    free(obj);
}

void cr_s3_list_free(struct cr_s3_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->num_objects; i++)
        object_clear(&list->objects[i]);
    free(list->objects);
    free(list->next_continuation_token);
    free(list);
}

/* A new, empty object description owning a copy of key. */
static struct cr_s3_object *object_new(const char *key)
{
    struct cr_s3_object *o = calloc(1, sizeof(*o));
    if (!o)
        return NULL;
    o->size_bytes = -1;
    if (key && !(o->key = strdup(key))) {
        free(o);
        return NULL;
    }
    return o;
}

/* ---- arguments ----------------------------------------------------------- */

/* Bucket names go into a URL path or a host name unencoded: refuse what
 * could not be a bucket (S3's own rules are checked by S3). */
static cr_status check_bucket(const char *bucket, struct cr_error *err)
{
    if (!bucket || !*bucket || strlen(bucket) > 255 || strpbrk(bucket, "/?#% \t\r\n"))
        return cr__fail(err, CR_ERR_INVALID, "s3: invalid bucket name '%s'",
                        bucket ? bucket : "(null)");
    return CR_OK;
}

/* Checks bucket and key before anything is sent. */
static cr_status check_object(const char *bucket, const char *key, struct cr_error *err)
{
    cr_status st = check_bucket(bucket, err);
    if (st != CR_OK)
        return st;
    if (!key || !*key || strlen(key) > CR_S3_MAX_KEY_BYTES)
        return cr__fail(err, CR_ERR_INVALID, "s3: a key must be 1 to %d bytes",
                        CR_S3_MAX_KEY_BYTES);
    return CR_OK;
}

/* "/" + the key percent-encoded for the path ('/' kept). */
static cr_status key_path(const char *key, struct cr_buf *path)
{
    cr_status st = cr__buf_append_str(path, "/");
    return st == CR_OK ? cr__uri_encode(key, strlen(key), 1, path) : st;
}

/* S3 codes that mean the caller asked for something impossible. */
static cr_status remap_invalid(cr_status st, struct cr_error *err)
{
    static const char *const codes[] = {"InvalidBucketName",
                                        "InvalidArgument",
                                        "IllegalLocationConstraintException",
                                        "InvalidLocationConstraint",
                                        "IncompatibleLocationConstraintException",
                                        "KeyTooLongError",
                                        "MalformedXML",
                                        "InvalidRequest"};
    if (st != CR_ERR_AWS || !err)
        return st;
    for (size_t i = 0; i < CR__ARRAY_LEN(codes); i++)
        if (strcmp(err->aws_code, codes[i]) == 0)
            return cr__svc_remap(err, CR_ERR_INVALID);
    return st;
}

/* Sends one request on an object (or the bucket when key is NULL). */
static cr_status send_object(struct cr_aws *aws, const char *method, const char *bucket,
                             const char *key, struct cr__aws_request *req,
                             struct cr__aws_response *resp, struct cr_error *err)
{
    struct cr_buf path;
    cr_buf_init(&path, 0);
    cr_status st = key ? key_path(key, &path) : CR_OK;
    if (st != CR_OK) {
        cr_buf_clear(&path);
        return cr__fail(err, st, "s3: out of memory for a request");
    }
    req->service = "s3";
    req->method = method;
    req->bucket = bucket;
    req->path = key ? (const char *)path.data : NULL;
    st = remap_invalid(cr__aws_send(aws, req, resp, err), err);
    cr_buf_clear(&path);
    return st;
}

/* ---- headers ---------------------------------------------------------------- */

/* Parses an HTTP date ("Wed, 12 Oct 2009 17:50:00 GMT") into Unix seconds,
 * 0 when it is not one. */
static int64_t parse_http_date(const char *s)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char mon[4] = "";
    int d, y, h, mi, sec;
    if (!s || sscanf(s, "%*3s, %d %3s %d %d:%d:%d", &d, mon, &y, &h, &mi, &sec) != 6)
        return 0;
    const char *m = strstr(months, mon);
    if (strlen(mon) != 3 || !m || (m - months) % 3)
        return 0;
    char iso[32];
    snprintf(iso, sizeof(iso), "%04d-%02d-%02dT%02d:%02d:%02dZ", y, (int)(m - months) / 3 + 1, d, h,
             mi, sec);
    int64_t t = 0;
    return cr__time_parse_iso8601(iso, &t) == CR_OK ? t : 0;
}

/* A copy of an ETag without its quotes. */
static char *etag_copy(const char *etag)
{
    size_t n = strlen(etag);
    if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"')
        return strndup(etag + 1, n - 2);
    return strdup(etag);
}

/* Copies header `name` of resp into *dst (unquoted for ETag). */
static cr_status header_copy(const struct cr__aws_response *resp, const char *name, char **dst)
{
    const char *v = cr__aws_response_header(resp, name);
    if (!v)
        return CR_OK;
    *dst = strcasecmp(name, "ETag") == 0 ? etag_copy(v) : strdup(v);
    return *dst ? CR_OK : CR_ERR_NOMEM;
}

/* Builds the description of key from an answer's headers into *out. */
static cr_status object_from_headers(const struct cr__aws_response *resp, const char *key,
                                     struct cr_s3_object **out, struct cr_error *err)
{
    struct cr_s3_object *o = object_new(key);
    cr_status st = o ? CR_OK : CR_ERR_NOMEM;
    if (st == CR_OK)
        st = header_copy(resp, "ETag", &o->etag);
    if (st == CR_OK)
        st = header_copy(resp, "Content-Type", &o->content_type);
    if (st != CR_OK) {
        cr_s3_object_free(o);
        return cr__fail(err, st, "s3: out of memory for an object description");
    }
    o->size_bytes = cr__svc_parse_int(cr__aws_response_header(resp, "Content-Length"), -1);
    o->last_modified_s = parse_http_date(cr__aws_response_header(resp, "Last-Modified"));
    *out = o;
    return CR_OK;
}

/* ---- buckets ------------------------------------------------------------------ */

/* Regions go into XML unescaped: lower-case letters, digits and '-'. */
static int region_ok(const char *r)
{
    return *r && strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(r) && strlen(r) < 64;
}

cr_status cr_s3_create_bucket(struct cr_aws *aws, const char *bucket,
                              const struct cr_s3_create_bucket_options *opts, struct cr_error *err)
{
    cr_status st = check_bucket(bucket, err);
    if (st != CR_OK)
        return st;
    const char *region = opts && opts->region ? opts->region : cr_aws_region(aws);
    if (!region_ok(region))
        return cr__fail(err, CR_ERR_INVALID, "s3: invalid region '%s'", region);
    char body[256] = "";
    if (strcmp(region, "us-east-1") != 0)
        snprintf(body, sizeof(body),
                 "<CreateBucketConfiguration xmlns=\"" S3_XMLNS "\"><LocationConstraint>%s"
                 "</LocationConstraint></CreateBucketConfiguration>",
                 region);
    struct cr_http_header h[] = {{"Content-Type", "application/xml"}};
    struct cr__aws_request req = {.headers = h,
                                  .num_headers = body[0] ? 1 : 0,
                                  .body = body[0] ? body : NULL,
                                  .body_len = strlen(body)};
    struct cr__aws_response resp = {0};
    st = send_object(aws, "PUT", bucket, NULL, &req, &resp, err);
    cr__aws_response_clear(&resp);
    if (st == CR_ERR_EXISTS && err && strcmp(err->aws_code, "BucketAlreadyOwnedByYou") == 0) {
        cr_error_clear(err);
        st = CR_OK;
    }
    return st;
}

/* ---- objects ------------------------------------------------------------------ */

cr_status cr_s3_put_object(struct cr_aws *aws, const char *bucket, const char *key,
                           const void *data, size_t len, const struct cr_s3_put_options *opts,
                           struct cr_s3_object **info, struct cr_error *err)
{
    if (info)
        *info = NULL;
    cr_status st = check_object(bucket, key, err);
    if (st != CR_OK)
        return st;
    if (!data && len)
        return cr__fail(err, CR_ERR_INVALID, "s3: put of %zu bytes without data", len);
    const char *type = opts && opts->content_type ? opts->content_type : DEFAULT_CONTENT_TYPE;
    struct cr_http_header h[] = {{"Content-Type", type}};
    /* A zero-length PUT still needs a body so that Content-Length: 0 goes out. */
    struct cr__aws_request req = {
        .headers = h, .num_headers = 1, .body = data ? data : "", .body_len = len};
    struct cr__aws_response resp = {0};
    st = send_object(aws, "PUT", bucket, key, &req, &resp, err);
    if (st == CR_OK && info && (st = object_from_headers(&resp, key, info, err)) == CR_OK) {
        (*info)->size_bytes = (int64_t)len;
        free((*info)->content_type);
        if (!((*info)->content_type = strdup(type))) {
            cr_s3_object_free(*info);
            *info = NULL;
            st = cr__fail(err, CR_ERR_NOMEM, "s3: out of memory for an object description");
        }
    }
    cr__aws_response_clear(&resp);
    return st;
}

cr_status cr_s3_get_object(struct cr_aws *aws, const char *bucket, const char *key,
                           const struct cr_s3_get_options *opts, struct cr_buf *out,
                           struct cr_s3_object **info, struct cr_error *err)
{
    if (info)
        *info = NULL;
    cr_status st = check_object(bucket, key, err);
    if (st != CR_OK)
        return st;
    if (!out)
        return cr__fail(err, CR_ERR_INVALID, "s3: get needs a buffer");
    struct cr__aws_request req = {.max_response_bytes = opts ? opts->max_bytes : 0};
    struct cr__aws_response resp = {0};
    st = send_object(aws, "GET", bucket, key, &req, &resp, err);
    if (st == CR_OK && info)
        st = object_from_headers(&resp, key, info, err);
    if (st == CR_OK &&
        (st = cr__buf_append(out, resp.http.body.data, resp.http.body.len)) != CR_OK) {
        cr__fail(err, st, "s3 GET %s/%s: %zu bytes do not fit the buffer", bucket, key,
                 resp.http.body.len);
        if (info) {
            cr_s3_object_free(*info);
            *info = NULL;
        }
    }
    cr__aws_response_clear(&resp);
    return st;
}

cr_status cr_s3_head_object(struct cr_aws *aws, const char *bucket, const char *key,
                            struct cr_s3_object **out, struct cr_error *err)
{
    if (!out)
        return cr__fail(err, CR_ERR_INVALID, "s3: head needs somewhere to put the answer");
    *out = NULL;
    cr_status st = check_object(bucket, key, err);
    if (st != CR_OK)
        return st;
    struct cr__aws_request req = {0};
    struct cr__aws_response resp = {0};
    st = send_object(aws, "HEAD", bucket, key, &req, &resp, err);
    if (st == CR_OK)
        st = object_from_headers(&resp, key, out, err);
    cr__aws_response_clear(&resp);
    return st;
}

cr_status cr_s3_delete_object(struct cr_aws *aws, const char *bucket, const char *key,
                              struct cr_error *err)
{
    cr_status st = check_object(bucket, key, err);
    if (st != CR_OK)
        return st;
    struct cr__aws_request req = {0};
    struct cr__aws_response resp = {0};
    st = send_object(aws, "DELETE", bucket, key, &req, &resp, err);
    cr__aws_response_clear(&resp);
    return st;
}

/* ---- listings ------------------------------------------------------------------ */

/* The query of a ListObjectsV2 page. Keys come back URL-encoded
 * (encoding-type=url) so that any byte survives the XML. */
static cr_status list_query(const struct cr_s3_list_options *o, struct cr_buf *q)
{
    cr_status st = cr__aws_query_add(q, "list-type", "2");
    if (st == CR_OK)
        st = cr__aws_query_add(q, "encoding-type", "url");
    if (st == CR_OK && o->max_keys) {
        char n[12];
        snprintf(n, sizeof(n), "%d", o->max_keys);
        st = cr__aws_query_add(q, "max-keys", n);
    }
    if (st == CR_OK && o->prefix)
        st = cr__aws_query_add(q, "prefix", o->prefix);
    if (st == CR_OK && o->continuation_token)
        st = cr__aws_query_add(q, "continuation-token", o->continuation_token);
    if (st == CR_OK && o->start_after)
        st = cr__aws_query_add(q, "start-after", o->start_after);
    return st;
}

/* Decodes a key listed with encoding-type=url ('+' is a space, as S3
 * writes them) in place of *s. */
static cr_status url_decode_in_place(char **s)
{
    for (char *p = *s; *p; p++)
        if (*p == '+')
            *p = ' ';
    struct cr_buf b;
    cr_buf_init(&b, 0);
    cr_status st = cr__uri_decode(*s, strlen(*s), &b);
    if (st != CR_OK) {
        cr_buf_clear(&b);
        return st;
    }
    char *d = cr__buf_steal(&b, NULL);
    if (!d)
        return CR_ERR_NOMEM;
    free(*s);
    *s = d;
    return CR_OK;
}

/* Fills o from one <Contents> element. */
static cr_status parse_contents(const struct cr__xml_node *c, int url_encoded,
                                struct cr_s3_object *o)
{
    static const struct cr__svc_field fields[] = {
        {"Key", offsetof(struct cr_s3_object, key)},
        {"ETag", offsetof(struct cr_s3_object, etag)},
        {"StorageClass", offsetof(struct cr_s3_object, storage_class)}};
    o->size_bytes = -1;
    cr_status st = cr__svc_fill(c, o, fields, CR__ARRAY_LEN(fields));
    if (st == CR_OK && !o->key)
        return CR_ERR_FORMAT;
    if (st == CR_OK && url_encoded)
        st = url_decode_in_place(&o->key);
    if (st == CR_OK && o->etag) {
        char *e = etag_copy(o->etag);
        free(o->etag);
        o->etag = e;
        st = e ? CR_OK : CR_ERR_NOMEM;
    }
    char *size = NULL, *mod = NULL;
    if (st == CR_OK && (st = cr__svc_text(c, "Size", &size)) == CR_OK)
        st = cr__svc_text(c, "LastModified", &mod);
    o->size_bytes = cr__svc_parse_int(size, -1);
    int64_t t = 0;
    if (mod && cr__time_parse_iso8601(mod, &t) == CR_OK)
        o->last_modified_s = t;
    free(size);
    free(mod);
    return st;
}

/* Turns a ListBucketResult document into a listing. */
cr_status cr__s3_parse_list(const struct cr__xml_node *root, struct cr_s3_list *l)
{
    char *enc = NULL, *trunc = NULL;
    cr_status st = cr__svc_text(root, "EncodingType", &enc);
    if (st == CR_OK)
        st = cr__svc_text(root, "IsTruncated", &trunc);
    int url_encoded = enc && strcmp(enc, "url") == 0;
    l->is_truncated = trunc && strcmp(trunc, "true") == 0;
    free(enc);
    free(trunc);
    if (st == CR_OK)
        st = cr__svc_text(root, "NextContinuationToken", &l->next_continuation_token);
    size_t n = 0;
    for (const struct cr__xml_node *c = cr__xml_child(root, "Contents"); c;
         c = cr__xml_next(c, "Contents"))
        n++;
    if (st == CR_OK && n && !(l->objects = calloc(n, sizeof(*l->objects))))
        st = CR_ERR_NOMEM;
    const struct cr__xml_node *c = cr__xml_child(root, "Contents");
    for (; st == CR_OK && c; c = cr__xml_next(c, "Contents"))
        st = parse_contents(c, url_encoded, &l->objects[l->num_objects++]);
    return st;
}

cr_status cr_s3_list_objects(struct cr_aws *aws, const char *bucket,
                             const struct cr_s3_list_options *opts, struct cr_s3_list **out,
                             struct cr_error *err)
{
    static const struct cr_s3_list_options none;
    const struct cr_s3_list_options *o = opts ? opts : &none;
    if (!out)
        return cr__fail(err, CR_ERR_INVALID, "s3: list needs somewhere to put the answer");
    *out = NULL;
    cr_status st = check_bucket(bucket, err);
    if (st != CR_OK)
        return st;
    if (o->max_keys < 0 || o->max_keys > CR_S3_MAX_LIST_KEYS)
        return cr__fail(err, CR_ERR_INVALID, "s3: max_keys must be 1..%d", CR_S3_MAX_LIST_KEYS);
    struct cr_buf q;
    cr_buf_init(&q, 0);
    struct cr__aws_response resp = {0};
    struct cr__xml_doc *doc = NULL;
    struct cr__aws_request req = {0};
    struct cr_s3_list *l = calloc(1, sizeof(*l));
    st = l ? list_query(o, &q) : CR_ERR_NOMEM;
    if (st != CR_OK) {
        cr__fail(err, st, "s3: out of memory for a listing");
        goto done;
    }
    req.query = (const char *)q.data;
    if ((st = send_object(aws, "GET", bucket, NULL, &req, &resp, err)) != CR_OK)
        goto done;
    st = cr__xml_parse(resp.http.body.data, resp.http.body.len, 0, &doc, err);
    if (st == CR_OK && (st = cr__s3_parse_list(cr__xml_root(doc), l)) != CR_OK)
        cr__fail(err, st, "s3 list %s: %s in the answer", bucket,
                 st == CR_ERR_NOMEM ? "out of memory" : "a <Contents> without <Key>");
done:
    cr__xml_free(doc);
    cr__aws_response_clear(&resp);
    cr_buf_clear(&q);
    if (st == CR_OK)
        *out = l;
    else
        cr_s3_list_free(l);
    return st;
}
