/*
 * imds.c - credentials from EC2 instance metadata, IMDSv2 only: a session
 * token is asked for with PUT /latest/api/token and sent with every GET.
 * The role's credentials document is JSON, read with the library's reader
 * (core/json.h). The token, every body and every parsed document that held
 * a secret are wiped when released.
 */
#include "aws/aws_impl.h"
#include "core/json.h"
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

/* ---- the credentials document ------------------------------------------------ */

/* The string member name of the top-level object: its text, "" when absent,
 * NULL when present but not a string without a NUL in it. */
static const char *member(const struct cr__json *root, const char *name)
{
    const struct cr__json *v = cr__json_get(root, name);
    const char *s = "";
    size_t len = 0;
    if (v && (cr__json_get_string(v, &s, &len) != CR_OK || strlen(s) != len))
        return NULL;
    return s;
}

/* Checks the members of the parsed document and turns them into credentials. */
static cr_status doc_to_creds(const struct cr__json *root, const char *role,
                              struct cr__aws_creds *out, struct cr_error *err)
{
    const char *code = member(root, "Code"), *id = member(root, "AccessKeyId");
    const char *secret = member(root, "SecretAccessKey"), *token = member(root, "Token");
    const char *expiration = member(root, "Expiration");
    if (!code || !id || !secret || !token || !expiration)
        return cr__fail(err, CR_ERR_FORMAT, "instance metadata: a credentials member is not a "
                                            "string");
    if (*code && strcmp(code, "Success") != 0)
        return cr__fail(err, CR_ERR_AUTH, "instance metadata: credentials for role '%.100s' "
                                          "not available (Code %.60s)", role, code);
    if (!*id || !*secret)
        return cr__fail(err, CR_ERR_FORMAT, "instance metadata: credentials document lacks "
                                            "AccessKeyId or SecretAccessKey");
    int64_t exp = 0;
    if (*expiration && cr__time_parse_iso8601(expiration, &exp) != CR_OK)
        return cr__fail(err, CR_ERR_FORMAT, "instance metadata: bad Expiration '%.40s'",
                        expiration);
    char source[96];
    snprintf(source, sizeof(source), "imds:%.80s", role);
    if (cr__aws_creds_set(out, id, secret, token, exp, source) != CR_OK)
        return cr__fail(err, CR_ERR_NOMEM, "out of memory for credentials");
    return CR_OK;
}

cr_status cr__imds_parse_credentials(const char *json, size_t len, const char *role,
                                     struct cr__aws_creds *out, struct cr_error *err)
{
    struct cr__json_doc *doc = NULL;
    const struct cr__json_limits limits = {.max_bytes = MAX_BODY_BYTES, .max_depth = JSON_MAX_DEPTH};
    cr_status st = cr__json_parse(json, len, &limits, &doc, err);
    if (st == CR_ERR_NOMEM)
        return st;
    if (st != CR_OK || cr__json_type(cr__json_root(doc)) != CR__JSON_OBJECT)
        st = cr__fail(err, CR_ERR_FORMAT, "instance metadata: credentials are not a JSON object");
    else
        st = doc_to_creds(cr__json_root(doc), role ? role : "", out, err);
    cr__json_free_wiped(doc);
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
    cr_status st = cr__buf_appendf(&url, "%s%s", m->endpoint, path);
    if (st != CR_OK) {
        cr_buf_clear(&url);
        return cr__fail(err, st, "out of memory for a metadata URL");
    }
    struct cr__http_request req = {.method = method, .url = (const char *)url.data,
                                   .headers = h, .num_headers = nh};
    st = cr__http_send(m->http, &req, resp, err);
    cr_buf_clear(&url);
    if (st != CR_OK)
        return cr__fail_prefix(err, st, "instance metadata: ");
    return CR_OK;
}

/* Makes sure a session token is at hand, asking for a new one when the last
 * is near the end of its lifetime (a tenth of it, at most a minute, early). */
static cr_status ensure_token(struct cr__imds *m, struct cr_error *err)
{
    if (m->token && cr__time_mono_ms() < m->token_renew_ms)
        return CR_OK;
    drop_token(m);
    char ttl[16];
    snprintf(ttl, sizeof(ttl), "%d", m->token_ttl_s);
    struct cr_http_header h[] = {{TTL_HEADER, ttl}};
    struct cr__http_response resp = {0};
    int64_t asked_ms = cr__time_mono_ms();
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
    cr__http_response_clear(&resp);
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
    cr__http_response_clear(&resp);
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
    st = cr__buf_append_str(&path, ROLE_PATH);
    if (st == CR_OK)
        st = cr__uri_encode(role, strlen(role), 0, &path);
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
    cr__http_response_clear(&resp); /* wipes the body, which held the secret */
    cr_buf_clear(&path);
    return st;
}
