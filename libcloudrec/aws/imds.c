/*
 * imds.c - credentials from EC2 instance metadata, IMDSv2 only: a session
 * token is asked for with PUT /latest/api/token and sent with every GET.
 * The role's credentials document is JSON; a small strict reader here takes
 * the few string members it needs. The token and every body that held a
 * secret are wiped when released.
 */
#include "aws/aws_impl.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_PATH "/latest/api/token"
#define ROLE_PATH "/latest/meta-data/iam/security-credentials/"
#define TOKEN_HEADER "X-aws-ec2-metadata-token"
#define TTL_HEADER "X-aws-ec2-metadata-token-ttl-seconds"
#define MAX_BODY_BYTES ((size_t)64 * 1024)
#define JSON_MAX_DEPTH 32

struct cr__imds {
    struct cr__http_client *http;
    char *endpoint;
    int token_ttl_s;
    char *token;             /* NULL until asked for; wiped when dropped */
    int64_t token_renew_ms;  /* monotonic time after which a new one is asked */
};

/* ---- a minimal JSON reader ---------------------------------------------------
 * Enough to take top-level string members out of one object: validates the
 * structure, skips other values (nested ones too, to a depth limit). */

struct json {
    const char *s;
    size_t len, pos;
};

/* Skips JSON whitespace. */
static void json_ws(struct json *j)
{
    while (j->pos < j->len && strchr(" \t\r\n", j->s[j->pos]))
        j->pos++;
}

/* Appends the UTF-8 encoding of code point cp. */
static cr_status put_utf8(struct cr_buf *out, unsigned cp)
{
    unsigned char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp, n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6)), b[1] = (unsigned char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | (cp >> 18));
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F)), n = 4;
    }
    return out ? cr_buf_append(out, b, n) : CR_OK;
}

/* Reads 4 hex digits of a \u escape. */
static int json_hex4(struct json *j, unsigned *cp)
{
    unsigned char raw[2];
    if (j->len - j->pos < 4 || cr_hex_decode(j->s + j->pos, 4, raw, 2) != CR_OK)
        return 0;
    *cp = (unsigned)raw[0] << 8 | raw[1];
    j->pos += 4;
    return 1;
}

/* Decodes one escape after the backslash into out (NULL = skip). */
static cr_status json_escape(struct json *j, struct cr_buf *out)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    if (j->pos >= j->len)
        return CR_ERR_FORMAT;
    char c = j->s[j->pos++];
    const char *k = strchr(from, c);
    if (c && k)
        return out ? cr_buf_append(out, &to[k - from], 1) : CR_OK;
    unsigned cp, lo;
    if (c != 'u' || !json_hex4(j, &cp))
        return CR_ERR_FORMAT;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (j->len - j->pos < 2 || j->s[j->pos] != '\\' || j->s[j->pos + 1] != 'u')
            return CR_ERR_FORMAT;
        j->pos += 2;
        if (!json_hex4(j, &lo) || lo < 0xDC00 || lo > 0xDFFF)
            return CR_ERR_FORMAT;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    return put_utf8(out, cp);
}

/* Reads a string literal (at '"') into out (NULL = skip). */
static cr_status json_string(struct json *j, struct cr_buf *out)
{
    if (j->pos >= j->len || j->s[j->pos] != '"')
        return CR_ERR_FORMAT;
    j->pos++;
    while (j->pos < j->len) {
        unsigned char c = (unsigned char)j->s[j->pos++];
        cr_status st = CR_OK;
        if (c == '"')
            return CR_OK;
        if (c < 0x20)
            return CR_ERR_FORMAT;
        st = c == '\\' ? json_escape(j, out) : (out ? cr_buf_append(out, &c, 1) : CR_OK);
        if (st != CR_OK)
            return st;
    }
    return CR_ERR_FORMAT;
}

static cr_status json_skip_value(struct json *j, int depth);

/* Skips an object or array (at '{' or '['). */
static cr_status json_skip_container(struct json *j, int depth)
{
    char close = j->s[j->pos] == '{' ? '}' : ']';
    j->pos++;
    json_ws(j);
    if (j->pos < j->len && j->s[j->pos] == close) {
        j->pos++;
        return CR_OK;
    }
    for (;;) {
        if (close == '}') {
            json_ws(j);
            if (json_string(j, NULL) != CR_OK)
                return CR_ERR_FORMAT;
            json_ws(j);
            if (j->pos >= j->len || j->s[j->pos++] != ':')
                return CR_ERR_FORMAT;
        }
        if (json_skip_value(j, depth + 1) != CR_OK)
            return CR_ERR_FORMAT;
        json_ws(j);
        if (j->pos >= j->len)
            return CR_ERR_FORMAT;
        char c = j->s[j->pos++];
        if (c == close)
            return CR_OK;
        if (c != ',')
            return CR_ERR_FORMAT;
    }
}

/* Skips any value: literal, number, string, object or array. */
static cr_status json_skip_value(struct json *j, int depth)
{
    json_ws(j);
    if (j->pos >= j->len || depth > JSON_MAX_DEPTH)
        return CR_ERR_FORMAT;
    char c = j->s[j->pos];
    if (c == '"')
        return json_string(j, NULL);
    if (c == '{' || c == '[')
        return json_skip_container(j, depth);
    size_t start = j->pos;
    while (j->pos < j->len && strchr("+-.0123456789eEtruefalsn", j->s[j->pos]))
        j->pos++;
    return j->pos > start ? CR_OK : CR_ERR_FORMAT;
}

/* The members taken from the credentials document. */
struct imds_doc {
    struct cr_buf code, id, secret, token, expiration;
};

/* Where a member's value goes, or NULL to skip it. */
static struct cr_buf *member_slot(struct imds_doc *d, const char *name)
{
    if (strcmp(name, "Code") == 0)
        return &d->code;
    if (strcmp(name, "AccessKeyId") == 0)
        return &d->id;
    if (strcmp(name, "SecretAccessKey") == 0)
        return &d->secret;
    if (strcmp(name, "Token") == 0)
        return &d->token;
    if (strcmp(name, "Expiration") == 0)
        return &d->expiration;
    return NULL;
}

/* Reads one "name": value member of the top-level object. */
static cr_status json_member(struct json *j, struct imds_doc *d)
{
    struct cr_buf name;
    cr_buf_init(&name, 256);
    json_ws(j);
    cr_status st = json_string(j, &name);
    json_ws(j);
    if (st == CR_OK && (j->pos >= j->len || j->s[j->pos++] != ':'))
        st = CR_ERR_FORMAT;
    struct cr_buf *slot = st == CR_OK && name.data ? member_slot(d, (char *)name.data) : NULL;
    cr_buf_free(&name);
    if (st != CR_OK)
        return st;
    json_ws(j);
    if (!slot)
        return json_skip_value(j, 1);
    cr_buf_reset(slot);
    return j->pos < j->len && j->s[j->pos] == '"' ? json_string(j, slot) : CR_ERR_FORMAT;
}

/* Reads the whole document: one object, nothing after it. */
static cr_status json_document(struct json *j, struct imds_doc *d)
{
    json_ws(j);
    if (j->pos >= j->len || j->s[j->pos++] != '{')
        return CR_ERR_FORMAT;
    json_ws(j);
    if (j->pos < j->len && j->s[j->pos] == '}') {
        j->pos++;
    } else {
        for (;;) {
            if (json_member(j, d) != CR_OK)
                return CR_ERR_FORMAT;
            json_ws(j);
            if (j->pos >= j->len)
                return CR_ERR_FORMAT;
            char c = j->s[j->pos++];
            if (c == '}')
                break;
            if (c != ',')
                return CR_ERR_FORMAT;
        }
    }
    json_ws(j);
    return j->pos == j->len ? CR_OK : CR_ERR_FORMAT;
}

/* Wipes and frees the member buffers. */
static void imds_doc_wipe(struct imds_doc *d)
{
    struct cr_buf *all[] = {&d->code, &d->id, &d->secret, &d->token, &d->expiration};
    for (size_t i = 0; i < CR__ARRAY_LEN(all); i++) {
        if (all[i]->data)
            explicit_bzero(all[i]->data, all[i]->cap);
        cr_buf_free(all[i]);
    }
}

/* Text of a member buffer ("" when absent). */
static const char *text(const struct cr_buf *b)
{
    return b->data ? (const char *)b->data : "";
}

/* Checks the members and turns them into credentials. */
static cr_status doc_to_creds(struct imds_doc *d, const char *role, struct cr__aws_creds *out,
                              struct cr_error *err)
{
    if (d->code.len && strcmp(text(&d->code), "Success") != 0)
        return cr__fail(err, CR_ERR_AUTH, "instance metadata: credentials for role '%.100s' "
                                          "not available (Code %.60s)", role, text(&d->code));
    if (!d->id.len || !d->secret.len)
        return cr__fail(err, CR_ERR_FORMAT, "instance metadata: credentials document lacks "
                                            "AccessKeyId or SecretAccessKey");
    int64_t exp = 0;
    if (d->expiration.len && cr_time_parse_iso8601(text(&d->expiration), &exp) != CR_OK)
        return cr__fail(err, CR_ERR_FORMAT, "instance metadata: bad Expiration '%.40s'",
                        text(&d->expiration));
    char source[96];
    snprintf(source, sizeof(source), "imds:%.80s", role);
    if (cr__aws_creds_set(out, text(&d->id), text(&d->secret), text(&d->token), exp, source) !=
        CR_OK)
        return cr__fail(err, CR_ERR_NOMEM, "out of memory for credentials");
    return CR_OK;
}

cr_status cr__imds_parse_credentials(const char *json, size_t len, const char *role,
                                     struct cr__aws_creds *out, struct cr_error *err)
{
    struct imds_doc d;
    struct cr_buf *all[] = {&d.code, &d.id, &d.secret, &d.token, &d.expiration};
    for (size_t i = 0; i < CR__ARRAY_LEN(all); i++)
        cr_buf_init(all[i], MAX_BODY_BYTES);
    struct json j = {.s = json, .len = len};
    cr_status st = json_document(&j, &d);
    if (st != CR_OK)
        st = cr__fail(err, CR_ERR_FORMAT, "instance metadata: credentials are not a JSON object");
    else
        st = doc_to_creds(&d, role ? role : "", out, err);
    imds_doc_wipe(&d);
    return st;
}

/* ---- the IMDSv2 client -------------------------------------------------------- */

cr_status cr__imds_new(const char *endpoint, int token_ttl_s, struct cr__imds **out,
                       struct cr_error *err)
{
    *out = NULL;
    struct cr__imds *m = calloc(1, sizeof(*m));
    if (!m || !(m->endpoint = strdup(endpoint))) {
        free(m);
        return cr__fail(err, CR_ERR_NOMEM, "out of memory for the metadata client");
    }
    m->token_ttl_s = token_ttl_s > 0 ? token_ttl_s : CR__IMDS_DEFAULT_TOKEN_TTL_S;
    struct cr__http_client_options ho = {.connect_timeout_ms = CR__IMDS_CONNECT_TIMEOUT_MS,
                                         .timeout_ms = CR__IMDS_TIMEOUT_MS,
                                         .max_response_bytes = MAX_BODY_BYTES,
                                         .no_proxy = 1};
    cr_status st = cr__http_client_new(&ho, &m->http, err);
    if (st != CR_OK) {
        cr__imds_free(m);
        return st;
    }
    *out = m;
    return CR_OK;
}

/* Forgets the session token (wiping it). */
static void drop_token(struct cr__imds *m)
{
    if (m->token) {
        explicit_bzero(m->token, strlen(m->token));
        free(m->token);
        m->token = NULL;
    }
}

void cr__imds_free(struct cr__imds *m)
{
    if (!m)
        return;
    drop_token(m);
    cr__http_client_free(m->http);
    free(m->endpoint);
    free(m);
}

/* One request to the metadata service; the URL is endpoint + path. */
static cr_status imds_request(struct cr__imds *m, const char *method, const char *path,
                              const struct cr_http_header *h, size_t nh,
                              struct cr__http_response *resp, struct cr_error *err)
{
    struct cr_buf url;
    cr_buf_init(&url, 0);
    cr_status st = cr_buf_appendf(&url, "%s%s", m->endpoint, path);
    if (st != CR_OK) {
        cr_buf_free(&url);
        return cr__fail(err, st, "out of memory for a metadata URL");
    }
    struct cr__http_request req = {.method = method, .url = (const char *)url.data,
                                   .headers = h, .num_headers = nh};
    st = cr__http_send(m->http, &req, resp, err);
    cr_buf_free(&url);
    if (st != CR_OK)
        return cr__fail_prefix(err, st, "instance metadata: ");
    return CR_OK;
}

/* Makes sure a session token is at hand, asking for a new one when the last
 * is near the end of its lifetime (a tenth of it, at most a minute, early). */
static cr_status ensure_token(struct cr__imds *m, struct cr_error *err)
{
    if (m->token && cr_time_mono_ms() < m->token_renew_ms)
        return CR_OK;
    drop_token(m);
    char ttl[16];
    snprintf(ttl, sizeof(ttl), "%d", m->token_ttl_s);
    struct cr_http_header h[] = {{TTL_HEADER, ttl}};
    struct cr__http_response resp = {0};
    int64_t asked_ms = cr_time_mono_ms();
    cr_status st = imds_request(m, "PUT", TOKEN_PATH, h, 1, &resp, err);
    if (st == CR_OK && (resp.status != 200 || resp.body.len == 0))
        st = cr__fail(err, CR_ERR_AUTH, "instance metadata: token request answered HTTP %ld",
                      resp.status);
    if (st == CR_OK && !(m->token = strdup((const char *)resp.body.data)))
        st = cr__fail(err, CR_ERR_NOMEM, "out of memory for the metadata token");
    if (st == CR_OK) {
        int64_t ttl_ms = (int64_t)m->token_ttl_s * 1000;
        int64_t early = ttl_ms / 10 < 60000 ? ttl_ms / 10 : 60000;
        m->token_renew_ms = asked_ms + ttl_ms - early;
    }
    cr__http_response_free(&resp);
    return st;
}

/* GET of a metadata path with the token; a 401 means the token lapsed on
 * the server's side, so it is renewed once and the GET repeated. */
static cr_status imds_get(struct cr__imds *m, const char *path, struct cr__http_response *resp,
                          struct cr_error *err)
{
    for (int round = 0; round < 2; round++) {
        cr_status st = ensure_token(m, err);
        if (st != CR_OK)
            return st;
        struct cr_http_header h[] = {{TOKEN_HEADER, m->token}};
        st = imds_request(m, "GET", path, h, 1, resp, err);
        if (st != CR_OK || resp->status != 401)
            return st;
        drop_token(m);
    }
    return cr__fail(err, CR_ERR_AUTH, "instance metadata: token refused (HTTP 401)");
}

/* The first line of the role listing: the instance profile's role. */
static cr_status role_name(struct cr__imds *m, char *role, size_t n, struct cr_error *err)
{
    struct cr__http_response resp = {0};
    cr_status st = imds_get(m, ROLE_PATH, &resp, err);
    if (st == CR_OK && resp.status == 404)
        st = cr__fail(err, CR_ERR_AUTH, "instance metadata: no IAM role attached");
    else if (st == CR_OK && resp.status != 200)
        st = cr__fail(err, CR_ERR_AUTH, "instance metadata: role listing answered HTTP %ld",
                      resp.status);
    if (st == CR_OK) {
        const char *body = resp.body.data ? (const char *)resp.body.data : "";
        size_t len = strcspn(body, "\r\n");
        if (len == 0 || len >= n || memchr(body, '/', len))
            st = cr__fail(err, CR_ERR_FORMAT, "instance metadata: bad role name");
        else
            memcpy(role, body, len), role[len] = '\0';
    }
    cr__http_response_free(&resp);
    return st;
}

cr_status cr__imds_fetch(struct cr__imds *m, struct cr__aws_creds *out, struct cr_error *err)
{
    char role[256];
    cr_status st = role_name(m, role, sizeof(role), err);
    if (st != CR_OK)
        return st;
    struct cr_buf path;
    cr_buf_init(&path, 0);
    struct cr__http_response resp = {0};
    st = cr_buf_append_str(&path, ROLE_PATH);
    if (st == CR_OK)
        st = cr_uri_encode(role, strlen(role), 0, &path);
    if (st != CR_OK)
        st = cr__fail(err, st, "out of memory for a metadata path");
    if (st == CR_OK)
        st = imds_get(m, (const char *)path.data, &resp, err);
    if (st == CR_OK && resp.status != 200)
        st = cr__fail(err, CR_ERR_AUTH, "instance metadata: credentials for role '%s' "
                                        "answered HTTP %ld", role, resp.status);
    if (st == CR_OK)
        st = cr__imds_parse_credentials((const char *)resp.body.data, resp.body.len, role, out,
                                        err);
    cr__http_response_free(&resp); /* wipes the body, which held the secret */
    cr_buf_free(&path);
    return st;
}
