/*
 * sigv4.c - AWS Signature Version 4 as a pure function: no clock, no
 * environment, no I/O. The steps follow the AWS description (canonical
 * request, string to sign, signing key, signature); docs/sigv4.md lists the
 * rules and the vectors they are checked against.
 */
#include "cloudrec/sigv4.h"
#include "internal.h"
#include "aws/sigv4_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SCOPE_TERMINATOR "aws4_request"
#define CHUNK_ALGORITHM "AWS4-HMAC-SHA256-PAYLOAD"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/* 9999-12-31T23:59:59Z: the last second that still formats as yyyymmdd. */
#define MAX_TIME_S INT64_C(253402300799)

/* A query parameter, both halves already in canonical (encoded) form. */
struct param {
    char *name;
    char *value;
};

struct param_list {
    struct param *v;
    size_t n, cap;
};

/* A header to sign: the lower-cased name and the value as given. `order`
 * keeps repeated names in their original order through the sort. */
struct header {
    char *name;
    const char *value;
    size_t order;
};

struct header_list {
    struct header *v;
    size_t n, cap;
};

/* Everything one signature needs, resolved once from the inputs. */
struct signer {
    const struct cr_sigv4_request *req;
    const struct cr_sigv4_params *p;
    int query_mode;
    int has_token;  /* the credentials carry a session token */
    int sign_token; /* ... and it is part of the signature */
    int add_content_sha256;
    enum cr_sigv4_path_rules path_rules;
    int64_t expires_s;
    char amz_date[17];
    char date[9];
    struct cr_buf scope;
    struct cr_buf payload_hash;
    struct cr_buf signed_headers;
    struct cr_buf header_block;
    struct cr_buf query;      /* canonical query */
    struct cr_buf kept_query; /* query mode: the request's own items, as written */
};

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_empty(const char *s)
{
    return !s || !*s;
}

/* Appends s[0..len) with %XX escapes decoded. A '%' that does not start a
 * valid escape is kept literally (and so is encoded as %25 later), the way a
 * lenient server reads it, rather than failing the whole signature. */
static cr_status decode_lenient(const char *s, size_t len, struct cr_buf *out)
{
    cr_status st = cr__buf_reserve(out, len);
    for (size_t i = 0; st == CR_OK && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int hi = c == '%' && i + 2 < len ? cr__hex_digit((unsigned char)s[i + 1]) : -1;
        int lo = hi >= 0 ? cr__hex_digit((unsigned char)s[i + 2]) : -1;
        if (hi >= 0 && lo >= 0) {
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        st = cr__buf_append(out, &c, 1);
    }
    return st;
}

/* ---- canonical URI -------------------------------------------------------*/

/* Appends path with empty and "." segments removed and ".." resolved (never
 * above the root). A trailing '/' survives when the path had one. */
static cr_status normalize_path(const char *path, struct cr_buf *out)
{
    size_t start = out->len;
    size_t len = strlen(path);
    cr_status st = CR_OK;
    for (size_t i = 0; st == CR_OK && i < len;) {
        size_t j = i;
        while (j < len && path[j] != '/')
            j++;
        size_t seg = j - i;
        if (seg == 2 && path[i] == '.' && path[i + 1] == '.') {
            while (out->len > start && out->data[out->len - 1] != '/')
                out->len--;
            if (out->len > start)
                out->len--; /* the '/' before the dropped segment */
        } else if (seg > 0 && !(seg == 1 && path[i] == '.')) {
            if ((st = cr__buf_append(out, "/", 1)) == CR_OK)
                st = cr__buf_append(out, path + i, seg);
        }
        i = j + 1;
    }
    if (st == CR_OK && (out->len == start || path[len - 1] == '/'))
        st = cr__buf_append(out, "/", 1);
    if (st == CR_OK)
        out->data[out->len] = '\0';
    return st;
}

/* S3: every segment is decoded and encoded once, so the result is the same
 * whether the caller wrote the key raw or already encoded. */
static cr_status encode_path_s3(const char *path, struct cr_buf *out)
{
    struct cr_buf seg = {0};
    cr_status st = CR_OK;
    const char *p = path;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        cr__buf_reset(&seg);
        if ((st = decode_lenient(p, n, &seg)) != CR_OK ||
            (st = cr__uri_encode((const char *)seg.data, seg.len, 0, out)) != CR_OK)
            break;
        if (!slash)
            break;
        if ((st = cr__buf_append(out, "/", 1)) != CR_OK)
            break;
        p = slash + 1;
    }
    cr_buf_clear(&seg);
    return st;
}

/* Appends the canonical URI of the request path according to the rules. */
static cr_status canonical_uri(const struct signer *s, struct cr_buf *out)
{
    const char *path = is_empty(s->req->path) ? "/" : s->req->path;
    struct cr_buf tmp = {0};
    cr_status st;
    switch (s->path_rules) {
    case CR_SIGV4_PATH_S3:
        st = encode_path_s3(path, out);
        break;
    case CR_SIGV4_PATH_AS_WRITTEN:
        st = cr__uri_encode(path, strlen(path), 1, out);
        break;
    default: /* CR_SIGV4_PATH_NORMALIZE; signer_init resolved AUTO */
        st = normalize_path(path, &tmp);
        if (st == CR_OK)
            st = cr__uri_encode((const char *)tmp.data, tmp.len, 1, out);
        break;
    }
    cr_buf_clear(&tmp);
    return st;
}

/* ---- canonical query -----------------------------------------------------*/

static void params_clear(struct param_list *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        free(ps->v[i].name);
        free(ps->v[i].value);
    }
    free(ps->v);
    memset(ps, 0, sizeof(*ps));
}

/* Appends the canonical form of s[0..len): decoded first when `decode` (the
 * request's own query is already encoded), then encoded with only the
 * unreserved characters left as they are. The result is a new string. */
static cr_status canonical_component(const char *s, size_t len, int decode, char **out)
{
    struct cr_buf raw = {0}, enc = {0};
    cr_status st = decode ? decode_lenient(s, len, &raw) : cr__buf_append(&raw, s, len);
    if (st == CR_OK)
        st = cr__uri_encode((const char *)raw.data, raw.len, 0, &enc);
    if (st == CR_OK && !(*out = cr__buf_steal(&enc, NULL)))
        st = CR_ERR_NOMEM;
    cr_buf_clear(&raw);
    cr_buf_clear(&enc);
    return st;
}

static cr_status params_add(struct param_list *ps, const char *name, size_t name_len,
                            const char *value, size_t value_len, int decode)
{
    struct param *v = cr__array_grow(ps->v, &ps->cap, ps->n, sizeof(*v), 16);
    if (!v)
        return CR_ERR_NOMEM;
    ps->v = v;
    struct param *pa = &ps->v[ps->n];
    pa->name = pa->value = NULL;
    cr_status st = canonical_component(name, name_len, decode, &pa->name);
    if (st == CR_OK)
        st = canonical_component(value, value_len, decode, &pa->value);
    if (st != CR_OK) {
        free(pa->name);
        free(pa->value);
        return st;
    }
    ps->n++;
    return CR_OK;
}

/* Query parameters the signer itself writes when signing in the query; a
 * caller's copies (say, from re-signing a presigned URL) are dropped. */
static int is_auth_param(const char *canonical_name, int has_token)
{
    static const char *const names[] = {"X-Amz-Algorithm",     "X-Amz-Credential",
                                        "X-Amz-Date",          "X-Amz-Expires",
                                        "X-Amz-SignedHeaders", "X-Amz-Signature"};
    for (size_t i = 0; i < CR__ARRAY_LEN(names); i++)
        if (strcmp(canonical_name, names[i]) == 0)
            return 1;
    return has_token && strcmp(canonical_name, "X-Amz-Security-Token") == 0;
}

/* Splits the request's query into canonical parameters. In query mode the
 * items kept are also copied, as written, to s->kept_query. */
static cr_status parse_query(struct signer *s, struct param_list *ps)
{
    const char *q = s->req->query ? s->req->query : "";
    cr_status st = CR_OK;
    while (st == CR_OK && *q) {
        size_t n = strcspn(q, "&");
        const char *eq = memchr(q, '=', n);
        size_t name_len = eq ? (size_t)(eq - q) : n;
        const char *value = eq ? eq + 1 : q + n;
        size_t value_len = eq ? n - name_len - 1 : 0;
        if (n > 0)
            st = params_add(ps, q, name_len, value, value_len, 1);
        if (st == CR_OK && n > 0 && s->query_mode) {
            if (is_auth_param(ps->v[ps->n - 1].name, s->has_token)) {
                ps->n--;
                free(ps->v[ps->n].name);
                free(ps->v[ps->n].value);
            } else {
                if (s->kept_query.len > 0)
                    st = cr__buf_append(&s->kept_query, "&", 1);
                if (st == CR_OK)
                    st = cr__buf_append(&s->kept_query, q, n);
            }
        }
        q += n + (q[n] == '&');
    }
    return st;
}

static int param_cmp(const void *a, const void *b)
{
    const struct param *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

/* Writes the sorted "name=value&..." canonical query into s->query. */
static cr_status write_query(struct signer *s, struct param_list *ps)
{
    if (ps->n > 1)
        qsort(ps->v, ps->n, sizeof(*ps->v), param_cmp);
    cr_status st = cr__buf_append(&s->query, "", 0);
    for (size_t i = 0; st == CR_OK && i < ps->n; i++)
        st = cr__buf_appendf(&s->query, "%s%s=%s", i ? "&" : "", ps->v[i].name, ps->v[i].value);
    return st;
}

/* ---- canonical headers ---------------------------------------------------*/

static void headers_clear(struct header_list *hs)
{
    for (size_t i = 0; i < hs->n; i++)
        free(hs->v[i].name);
    free(hs->v);
    memset(hs, 0, sizeof(*hs));
}

static cr_status headers_add(struct header_list *hs, const char *name, const char *value)
{
    struct header *v = cr__array_grow(hs->v, &hs->cap, hs->n, sizeof(*v), 16);
    if (!v)
        return CR_ERR_NOMEM;
    hs->v = v;
    char *lower = strdup(name);
    if (!lower)
        return CR_ERR_NOMEM;
    for (char *c = lower; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    hs->v[hs->n] = (struct header){.name = lower, .value = value ? value : "", .order = hs->n};
    hs->n++;
    return CR_OK;
}

/* True for an input header the signer replaces with its own or never signs. */
static int is_signer_header(const struct signer *s, const char *lower_name)
{
    if (strcmp(lower_name, "authorization") == 0 || strcmp(lower_name, "x-amz-date") == 0)
        return 1;
    if (s->has_token && strcmp(lower_name, "x-amz-security-token") == 0)
        return 1;
    return s->add_content_sha256 && strcmp(lower_name, "x-amz-content-sha256") == 0;
}

/* Gathers the headers to sign: the request's own (minus the signer's) and,
 * for header signing, the ones the signer adds. */
static cr_status collect_headers(const struct signer *s, struct header_list *hs)
{
    const struct cr_sigv4_request *req = s->req;
    cr_status st = CR_OK;
    for (size_t i = 0; st == CR_OK && i < req->num_headers; i++) {
        if ((st = headers_add(hs, req->headers[i].name, req->headers[i].value)) != CR_OK)
            break;
        if (is_signer_header(s, hs->v[hs->n - 1].name))
            free(hs->v[--hs->n].name);
    }
    if (st == CR_OK && !s->query_mode) {
        st = headers_add(hs, "x-amz-date", s->amz_date);
        if (st == CR_OK && s->sign_token)
            st = headers_add(hs, "x-amz-security-token", s->p->session_token);
        if (st == CR_OK && s->add_content_sha256)
            st = headers_add(hs, "x-amz-content-sha256", (const char *)s->payload_hash.data);
    }
    return st;
}

static int header_cmp(const void *a, const void *b)
{
    const struct header *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* Appends a header value trimmed, with every run of whitespace (folded line
 * breaks included) reduced to one space. */
static cr_status append_trimmed(struct cr_buf *out, const char *v)
{
    cr_status st = CR_OK;
    int pending_space = 0;
    while (is_space((unsigned char)*v))
        v++;
    for (; st == CR_OK && *v; v++) {
        if (is_space((unsigned char)*v)) {
            pending_space = 1;
            continue;
        }
        if (pending_space)
            st = cr__buf_append(out, " ", 1);
        pending_space = 0;
        if (st == CR_OK)
            st = cr__buf_append(out, v, 1);
    }
    return st;
}

/* Writes "name:v1,v2\n" lines sorted by name into s->header_block and the
 * names joined by ';' into s->signed_headers. */
static cr_status write_headers(struct signer *s, struct header_list *hs)
{
    qsort(hs->v, hs->n, sizeof(*hs->v), header_cmp);
    cr_status st = CR_OK;
    for (size_t i = 0; st == CR_OK && i < hs->n; i++) {
        int repeat = i > 0 && strcmp(hs->v[i].name, hs->v[i - 1].name) == 0;
        if (repeat) {
            st = cr__buf_append(&s->header_block, ",", 1);
        } else {
            if (i > 0 && (st = cr__buf_append(&s->header_block, "\n", 1)) == CR_OK)
                st = cr__buf_append(&s->signed_headers, ";", 1);
            if (st == CR_OK)
                st = cr__buf_appendf(&s->header_block, "%s:", hs->v[i].name);
            if (st == CR_OK)
                st = cr__buf_append_str(&s->signed_headers, hs->v[i].name);
        }
        if (st == CR_OK)
            st = append_trimmed(&s->header_block, hs->v[i].value);
    }
    if (st == CR_OK)
        st = cr__buf_append(&s->header_block, "\n", 1);
    return st;
}

/* Builds the header block and the signed-headers list. */
static cr_status canonical_headers(struct signer *s)
{
    struct header_list hs = {0};
    cr_status st = collect_headers(s, &hs);
    if (st == CR_OK)
        st = write_headers(s, &hs);
    headers_clear(&hs);
    return st;
}

/* ---- keys and signatures -------------------------------------------------*/

/* Checks what every signing step needs and fills the dates. */
static cr_status check_params(const struct cr_sigv4_params *p, char amz_date[17], char date[9],
                              struct cr_error *err)
{
    if (!p)
        return cr__fail(err, CR_ERR_INVALID, "sigv4: no parameters");
    if (is_empty(p->secret_access_key))
        return cr__fail(err, CR_ERR_INVALID, "sigv4: no secret access key");
    if (is_empty(p->region) || is_empty(p->service))
        return cr__fail(err, CR_ERR_INVALID, "sigv4: region and service are required");
    if (p->time_s < 0 || p->time_s > MAX_TIME_S)
        return cr__fail(err, CR_ERR_INVALID, "sigv4: time %lld is out of range",
                        (long long)p->time_s);
    cr__time_format_amz(p->time_s, amz_date);
    memcpy(date, amz_date, 8);
    date[8] = '\0';
    return CR_OK;
}

static cr_status write_scope(const struct cr_sigv4_params *p, const char *date, struct cr_buf *out)
{
    return cr__buf_appendf(out, "%s/%s/%s/" SCOPE_TERMINATOR, date, p->region, p->service);
}

/* The HMAC chain from "AWS4" + secret down to the signing key. The first
 * link holds the secret, so it is wiped before it is freed. */
static cr_status derive_key(const struct cr_sigv4_params *p, const char *date,
                            unsigned char key[CR_SHA256_LEN])
{
    struct cr_buf k_secret = {0};
    cr_status st = cr__buf_appendf(&k_secret, "AWS4%s", p->secret_access_key);
    if (st == CR_OK) {
        /* Two buffers, so no HMAC writes over the key it is reading. */
        unsigned char k_date[CR_SHA256_LEN], k_region[CR_SHA256_LEN];
        cr__hmac_sha256(k_secret.data, k_secret.len, date, strlen(date), k_date);
        cr__hmac_sha256(k_date, sizeof(k_date), p->region, strlen(p->region), k_region);
        cr__hmac_sha256(k_region, sizeof(k_region), p->service, strlen(p->service), k_date);
        cr__hmac_sha256(k_date, sizeof(k_date), SCOPE_TERMINATOR, strlen(SCOPE_TERMINATOR), key);
        explicit_bzero(k_date, sizeof(k_date));
        explicit_bzero(k_region, sizeof(k_region));
    }
    if (k_secret.data)
        explicit_bzero(k_secret.data, k_secret.cap);
    cr_buf_clear(&k_secret);
    return st;
}

/* hex(HMAC(signing key, text)) */
static cr_status sign_text(const struct cr_sigv4_params *p, const char *date, const char *text,
                           size_t len, char signature[CR_SIGV4_SIGNATURE_LEN])
{
    unsigned char key[CR_SHA256_LEN], mac[CR_SHA256_LEN];
    cr_status st = derive_key(p, date, key);
    if (st != CR_OK)
        return st;
    cr__hmac_sha256(key, sizeof(key), text, len, mac);
    explicit_bzero(key, sizeof(key));
    cr__hex_encode(mac, sizeof(mac), signature);
    return CR_OK;
}

cr_status cr__sigv4_signing_key(const struct cr_sigv4_params *p, unsigned char key[CR_SHA256_LEN],
                               struct cr_error *err)
{
    char amz_date[17], date[9];
    cr_status st = check_params(p, amz_date, date, err);
    if (st == CR_OK && (st = derive_key(p, date, key)) != CR_OK)
        cr__fail(err, st, "sigv4: %s", cr_strerror(st));
    return st;
}

cr_status cr__sigv4_sign_string(const struct cr_sigv4_params *p, const char *string_to_sign,
                               size_t len, char signature[CR_SIGV4_SIGNATURE_LEN],
                               struct cr_error *err)
{
    char amz_date[17], date[9];
    cr_status st = check_params(p, amz_date, date, err);
    if (st == CR_OK && !string_to_sign && len > 0)
        st = cr__fail(err, CR_ERR_INVALID, "sigv4: no string to sign");
    if (st == CR_OK &&
        (st = sign_text(p, date, string_to_sign ? string_to_sign : "", len, signature)) != CR_OK)
        cr__fail(err, st, "sigv4: %s", cr_strerror(st));
    return st;
}

cr_status cr__sigv4_sign_chunk(const struct cr_sigv4_params *p, const char *prev_signature,
                              const void *data, size_t len, char signature[CR_SIGV4_SIGNATURE_LEN],
                              struct cr_buf *string_to_sign, struct cr_error *err)
{
    char amz_date[17], date[9], data_hex[2 * CR_SHA256_LEN + 1];
    unsigned char md[CR_SHA256_LEN];
    struct cr_buf sts = {0};
    cr_status st = check_params(p, amz_date, date, err);
    if (st != CR_OK)
        return st;
    if (is_empty(prev_signature) || (!data && len > 0))
        return cr__fail(err, CR_ERR_INVALID, "sigv4: chunk without previous signature or data");
    cr__sha256(data ? data : "", len, md);
    cr__hex_encode(md, sizeof(md), data_hex);
    st = cr__buf_appendf(&sts, CHUNK_ALGORITHM "\n%s\n", amz_date);
    if (st == CR_OK)
        st = write_scope(p, date, &sts);
    if (st == CR_OK)
        st = cr__buf_appendf(&sts, "\n%s\n" EMPTY_SHA256 "\n%s", prev_signature, data_hex);
    if (st == CR_OK)
        st = sign_text(p, date, (const char *)sts.data, sts.len, signature);
    if (st == CR_OK && string_to_sign)
        st = cr__buf_append(string_to_sign, sts.data, sts.len);
    if (st != CR_OK)
        cr__fail(err, st, "sigv4: %s", cr_strerror(st));
    cr_buf_clear(&sts);
    return st;
}

/* ---- the whole signature -------------------------------------------------*/

static int is_s3(const struct cr_sigv4_params *p)
{
    return strcmp(p->service, "s3") == 0;
}

/* Every header needs a name, and Host must be among them: SigV4 always signs
 * the host. */
static cr_status check_headers(const struct cr_sigv4_request *req, struct cr_error *err)
{
    int host = 0;
    if (req->num_headers > 0 && !req->headers)
        return cr__fail(err, CR_ERR_INVALID, "sigv4: num_headers without headers");
    for (size_t i = 0; i < req->num_headers; i++) {
        if (is_empty(req->headers[i].name))
            return cr__fail(err, CR_ERR_INVALID, "sigv4: header %zu has no name", i);
        host |= strcasecmp(req->headers[i].name, "host") == 0;
    }
    return host ? CR_OK : cr__fail(err, CR_ERR_INVALID, "sigv4: the request has no Host header");
}

/* Validates the inputs and resolves every "auto" setting. */
static cr_status signer_init(struct signer *s, const struct cr_sigv4_request *req,
                             const struct cr_sigv4_params *p, struct cr_error *err)
{
    memset(s, 0, sizeof(*s));
    s->req = req;
    s->p = p;
    if (!req)
        return cr__fail(err, CR_ERR_INVALID, "sigv4: no request");
    cr_status st = check_params(p, s->amz_date, s->date, err);
    if (st != CR_OK)
        return st;
    if (is_empty(p->access_key_id))
        return cr__fail(err, CR_ERR_INVALID, "sigv4: no access key id");
    if (is_empty(req->method))
        return cr__fail(err, CR_ERR_INVALID, "sigv4: no method");
    if (!is_empty(req->path) && req->path[0] != '/')
        return cr__fail(err, CR_ERR_INVALID, "sigv4: path \"%.64s\" does not start with '/'",
                        req->path);
    if ((st = check_headers(req, err)) != CR_OK)
        return st;
    if (req->body_len > 0 && !req->body && !req->payload_hash)
        return cr__fail(err, CR_ERR_INVALID, "sigv4: body_len without body");
    if ((unsigned)p->location > CR_SIGV4_LOCATION_QUERY ||
        (unsigned)p->path_rules > CR_SIGV4_PATH_S3 ||
        (unsigned)p->content_sha256 > CR_SIGV4_CONTENT_SHA256_OMIT)
        return cr__fail(err, CR_ERR_INVALID, "sigv4: unknown location, path or payload setting");
    s->query_mode = p->location == CR_SIGV4_LOCATION_QUERY;
    s->expires_s = p->expires_s ? p->expires_s : CR_SIGV4_DEFAULT_EXPIRES_S;
    if (s->query_mode && (s->expires_s < 1 || s->expires_s > CR_SIGV4_MAX_EXPIRES_S))
        return cr__fail(err, CR_ERR_INVALID, "sigv4: expires_s %lld is not in 1..%d",
                        (long long)p->expires_s, CR_SIGV4_MAX_EXPIRES_S);
    s->has_token = !is_empty(p->session_token);
    s->sign_token = s->has_token && !p->omit_session_token;
    s->path_rules = p->path_rules != CR_SIGV4_PATH_AUTO ? p->path_rules
                    : is_s3(p)                          ? CR_SIGV4_PATH_S3
                                                        : CR_SIGV4_PATH_NORMALIZE;
    s->add_content_sha256 =
        !s->query_mode && (p->content_sha256 == CR_SIGV4_CONTENT_SHA256_ADD ||
                           (p->content_sha256 == CR_SIGV4_CONTENT_SHA256_AUTO && is_s3(p)));
    return CR_OK;
}

static void signer_clear(struct signer *s)
{
    cr_buf_clear(&s->scope);
    cr_buf_clear(&s->payload_hash);
    cr_buf_clear(&s->signed_headers);
    cr_buf_clear(&s->header_block);
    cr_buf_clear(&s->query);
    cr_buf_clear(&s->kept_query);
}

/* The payload line: given, UNSIGNED-PAYLOAD for S3 presigning, or hashed. */
static cr_status payload_hash(struct signer *s)
{
    const struct cr_sigv4_request *req = s->req;
    if (req->payload_hash)
        return cr__buf_append_str(&s->payload_hash, req->payload_hash);
    if (s->query_mode && is_s3(s->p))
        return cr__buf_append_str(&s->payload_hash, CR_SIGV4_UNSIGNED_PAYLOAD);
    unsigned char md[CR_SHA256_LEN];
    char hex[2 * CR_SHA256_LEN + 1];
    cr__sha256(req->body ? req->body : "", req->body_len, md);
    cr__hex_encode(md, sizeof(md), hex);
    return cr__buf_append_str(&s->payload_hash, hex);
}

/* One X-Amz-* query parameter of a presigned request. */
struct auth_param {
    const char *name;
    const char *value;
    int signed_; /* part of the canonical query */
};

/* Fills the X-Amz-* parameters for query signing, in the order they are
 * appended to the URL; returns how many. `credential` and `expires` are
 * storage the values point to. */
static size_t auth_params(const struct signer *s, struct cr_buf *credential, char expires[24],
                          struct auth_param out[6])
{
    size_t n = 0;
    snprintf(expires, 24, "%lld", (long long)s->expires_s);
    out[n++] = (struct auth_param){"X-Amz-Algorithm", CR_SIGV4_ALGORITHM, 1};
    out[n++] = (struct auth_param){"X-Amz-Credential", (const char *)credential->data, 1};
    out[n++] = (struct auth_param){"X-Amz-Date", s->amz_date, 1};
    out[n++] = (struct auth_param){"X-Amz-Expires", expires, 1};
    out[n++] = (struct auth_param){"X-Amz-SignedHeaders", (const char *)s->signed_headers.data, 1};
    if (s->has_token)
        out[n++] = (struct auth_param){"X-Amz-Security-Token", s->p->session_token, s->sign_token};
    return n;
}

/* Canonical query; in query mode also the URL query without its signature
 * (appended to url_query). Needs the signed headers already. */
static cr_status build_query(struct signer *s, struct cr_buf *url_query)
{
    struct param_list ps = {0};
    struct cr_buf credential = {0};
    struct auth_param ap[6];
    char expires[24];
    cr_status st = parse_query(s, &ps);
    if (st != CR_OK || !s->query_mode)
        goto out;
    if ((st = cr__buf_appendf(&credential, "%s/%s", s->p->access_key_id,
                             (const char *)s->scope.data)) != CR_OK ||
        (st = cr__buf_append(url_query, s->kept_query.data, s->kept_query.len)) != CR_OK)
        goto out;
    size_t n = auth_params(s, &credential, expires, ap);
    for (size_t i = 0; st == CR_OK && i < n; i++) {
        const char *v = ap[i].value;
        if (ap[i].signed_)
            st = params_add(&ps, ap[i].name, strlen(ap[i].name), v, strlen(v), 0);
        if (st == CR_OK && url_query->len > 0)
            st = cr__buf_append(url_query, "&", 1);
        if (st == CR_OK)
            st = cr__buf_appendf(url_query, "%s=", ap[i].name);
        if (st == CR_OK)
            st = cr__uri_encode(v, strlen(v), 0, url_query);
    }
out:
    if (st == CR_OK)
        st = write_query(s, &ps);
    params_clear(&ps);
    cr_buf_clear(&credential);
    return st;
}

/* METHOD \n URI \n QUERY \n HEADERS \n SIGNED-HEADERS \n PAYLOAD-HASH */
static cr_status build_canonical_request(const struct signer *s, struct cr_buf *out)
{
    cr_status st = cr__buf_appendf(out, "%s\n", s->req->method);
    if (st == CR_OK)
        st = canonical_uri(s, out);
    if (st == CR_OK)
        st =
            cr__buf_appendf(out, "\n%s\n%s\n%s\n%s", (const char *)s->query.data,
                           (const char *)s->header_block.data, (const char *)s->signed_headers.data,
                           (const char *)s->payload_hash.data);
    return st;
}

static cr_status build_string_to_sign(const struct signer *s, const struct cr_buf *creq,
                                      struct cr_buf *out)
{
    unsigned char md[CR_SHA256_LEN];
    char hex[2 * CR_SHA256_LEN + 1];
    cr__sha256(creq->data, creq->len, md);
    cr__hex_encode(md, sizeof(md), hex);
    return cr__buf_appendf(out, CR_SIGV4_ALGORITHM "\n%s\n%s\n%s", s->amz_date,
                          (const char *)s->scope.data, hex);
}

/* Moves a buffer's text into *dst (NULL-safe: an unused buffer gives ""). */
static cr_status take(struct cr_buf *buf, char **dst)
{
    *dst = cr__buf_steal(buf, NULL);
    return *dst ? CR_OK : CR_ERR_NOMEM;
}

/* Turns the signature into the Authorization value and the header list. */
static cr_status finish_header_mode(const struct signer *s, struct cr_sigv4_result *out)
{
    struct cr_buf auth = {0};
    cr_status st = cr__buf_appendf(&auth,
                                  CR_SIGV4_ALGORITHM " Credential=%s/%s, SignedHeaders=%s, "
                                                     "Signature=%s",
                                  s->p->access_key_id, out->credential_scope, out->signed_headers,
                                  out->signature);
    if (st == CR_OK)
        st = take(&auth, &out->authorization);
    cr_buf_clear(&auth);
    if (st != CR_OK)
        return st;
    if (s->has_token && !(out->session_token = strdup(s->p->session_token)))
        return CR_ERR_NOMEM;
    size_t n = 0;
    out->headers[n++] = (struct cr_http_header){"X-Amz-Date", out->amz_date};
    if (s->has_token)
        out->headers[n++] = (struct cr_http_header){"X-Amz-Security-Token", out->session_token};
    if (s->add_content_sha256)
        out->headers[n++] = (struct cr_http_header){"x-amz-content-sha256", out->payload_hash};
    out->headers[n++] = (struct cr_http_header){"Authorization", out->authorization};
    out->num_headers = n;
    return CR_OK;
}

/* Signs the string to sign and moves every piece into the result. */
static cr_status finish(struct signer *s, struct cr_buf *creq, struct cr_buf *sts,
                        struct cr_buf *url_query, struct cr_sigv4_result *out)
{
    char sig[CR_SIGV4_SIGNATURE_LEN];
    cr_status st = sign_text(s->p, s->date, (const char *)sts->data, sts->len, sig);
    if (st == CR_OK && s->query_mode)
        st = cr__buf_appendf(url_query, "%sX-Amz-Signature=%s", url_query->len ? "&" : "", sig);
    if (st != CR_OK || (out->signature = strdup(sig)) == NULL ||
        (out->amz_date = strdup(s->amz_date)) == NULL)
        return st != CR_OK ? st : CR_ERR_NOMEM;
    if ((st = take(creq, &out->canonical_request)) != CR_OK ||
        (st = take(sts, &out->string_to_sign)) != CR_OK ||
        (st = take(&s->signed_headers, &out->signed_headers)) != CR_OK ||
        (st = take(&s->scope, &out->credential_scope)) != CR_OK ||
        (st = take(&s->payload_hash, &out->payload_hash)) != CR_OK)
        return st;
    if (s->query_mode)
        return take(url_query, &out->query);
    return finish_header_mode(s, out);
}

/* The steps after validation; every failure here is a resource one. Headers
 * come before the query because query signing lists the signed headers in
 * the query. */
static cr_status sign_request(struct signer *s, struct cr_sigv4_result *out)
{
    struct cr_buf creq = {0}, sts = {0}, url_query = {0};
    cr_status st;
    if ((st = write_scope(s->p, s->date, &s->scope)) != CR_OK || (st = payload_hash(s)) != CR_OK ||
        (st = canonical_headers(s)) != CR_OK || (st = build_query(s, &url_query)) != CR_OK ||
        (st = build_canonical_request(s, &creq)) != CR_OK ||
        (st = build_string_to_sign(s, &creq, &sts)) != CR_OK)
        goto out;
    st = finish(s, &creq, &sts, &url_query, out);
out:
    cr_buf_clear(&url_query);
    cr_buf_clear(&sts);
    cr_buf_clear(&creq);
    return st;
}

cr_status cr_sigv4_sign(const struct cr_sigv4_request *req, const struct cr_sigv4_params *p,
                        struct cr_sigv4_result *out, struct cr_error *err)
{
    struct signer s;
    if (!out)
        return cr__fail(err, CR_ERR_INVALID, "sigv4: no result");
    memset(out, 0, sizeof(*out));
    cr_status st = signer_init(&s, req, p, err);
    if (st == CR_OK && (st = sign_request(&s, out)) != CR_OK)
        cr__fail(err, st, "sigv4: %s", cr_strerror(st));
    if (st != CR_OK)
        cr_sigv4_result_clear(out);
    signer_clear(&s);
    return st;
}

void cr_sigv4_result_clear(struct cr_sigv4_result *res)
{
    if (!res)
        return;
    free(res->canonical_request);
    free(res->string_to_sign);
    free(res->signed_headers);
    free(res->signature);
    free(res->credential_scope);
    free(res->amz_date);
    free(res->payload_hash);
    free(res->authorization);
    free(res->query);
    if (res->session_token)
        explicit_bzero(res->session_token, strlen(res->session_token));
    free(res->session_token);
    memset(res, 0, sizeof(*res));
}
