/*
 * test_sigv4.c - the SigV4 signer, first as a specification of its own
 * rules, then against every vector in ../shared/testdata/sigv4 (see SOURCE.md
 * there): the classic AWS suite, aws-c-auth's v4 suite (header and query
 * signing), the smithy-rs double-encoding cases, and the S3 and Query-API
 * worked examples. A vector that cannot be run is a failing check.
 */
#include "cloudrec.h"
#include "tap.h"
#include "aws/sigv4_internal.h"
#include "internal.h"

#include <jansson.h>

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SUITE_AKID "AKIDEXAMPLE"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const char *g_root; /* the testdata/sigv4 directory */

/* ---- small helpers -------------------------------------------------------*/

/* Prints a TAP skip line; counts as a check that neither passes nor fails. */
static void tap_skip(const char *what, const char *reason)
{
    ++tap_count;
    printf("ok %d - %s # SKIP %s\n", tap_count, what, reason);
}

/* A formatted string in a new allocation (the tests free it). */
static char *fmt(const char *format, ...) CR_PRINTF(1, 2);
static char *fmt(const char *format, ...)
{
    struct cr_buf b = {0};
    va_list ap;
    va_start(ap, format);
    cr_buf_vappendf(&b, format, ap);
    va_end(ap);
    return cr_buf_steal(&b, NULL);
}

/* The whole file as a NUL-terminated string, or NULL. */
static char *slurp(const char *path, size_t *len)
{
    struct cr_buf b = {0};
    if (cr_file_read(path, 0, &b, NULL) != CR_OK) {
        cr_buf_free(&b);
        return NULL;
    }
    return cr_buf_steal(&b, len);
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Prints text with its line breaks visible, for a failed comparison. */
static void diag_text(const char *label, const char *s)
{
    printf("#   %s: \"", label);
    for (; s && *s; s++) {
        if (*s == '\n')
            printf("\\n");
        else
            putchar(*s);
    }
    printf("\"%s\n", s ? "" : " (null)");
}

/* One byte-for-byte comparison as a TAP check named "<case>: <what>". */
static int check_text(const char *name, const char *what, const char *got, const char *want)
{
    char *label = fmt("%s: %s", name, what);
    int ok = got && want && strcmp(got, want) == 0;
    tap_check(ok, label, __FILE__, __LINE__);
    if (!ok) {
        diag_text("got ", got);
        diag_text("want", want);
    }
    free(label);
    return ok;
}

/* Like check_text but against a file's contents. */
static void check_file(const char *name, const char *what, const char *got, const char *path)
{
    char *want = slurp(path, NULL);
    if (!want) {
        char *label = fmt("%s: %s: cannot read %s", name, what, path);
        tap_check(0, label, __FILE__, __LINE__);
        free(label);
        return;
    }
    check_text(name, what, got, want);
    free(want);
}

static void hex_of(const void *data, size_t len, char *out)
{
    cr_hex_encode(data, len, out);
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[CR_SHA256_LEN];
    cr_sha256(data, len, md);
    hex_of(md, sizeof(md), out);
}

/* Accepts "2015-08-30T12:36:00Z", "20150830T123600Z" and "20120215". */
static int parse_time(const char *s, int64_t *out)
{
    int y, mo, d, h = 0, mi = 0, sec = 0;
    if (strchr(s, '-'))
        return cr_time_parse_iso8601(s, out) == CR_OK;
    if (sscanf(s, "%4d%2d%2dT%2d%2d%2dZ", &y, &mo, &d, &h, &mi, &sec) < 3)
        return 0;
    char iso[32];
    snprintf(iso, sizeof(iso), "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo, d, h, mi, sec);
    return cr_time_parse_iso8601(iso, out) == CR_OK;
}

/* ---- suite bookkeeping ---------------------------------------------------*/

struct suite {
    const char *name;
    int expected; /* cases SOURCE.md lists */
    int ran, passed, skipped;
};

static int case_start(void)
{
    return tap_failed;
}

static void case_end(struct suite *su, int mark)
{
    su->ran++;
    if (tap_failed == mark)
        su->passed++;
}

static void suite_report(const struct suite *su)
{
    DIAG("suite %s: %d cases ran, %d passed, %d skipped (SOURCE.md lists %d)", su->name, su->ran,
         su->passed, su->skipped, su->expected);
    char *label = fmt("suite %s: every listed case ran", su->name);
    tap_check(su->ran + su->skipped == su->expected, label, __FILE__, __LINE__);
    free(label);
}

/* ---- the JSON example files, read with jansson ------------------------------ */

/* The whole file at path as a JSON value (the caller json_decref()s it), or
 * NULL with the reason in a diagnostic. */
static json_t *jload(const char *path)
{
    json_error_t e;
    json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
    if (!v)
        DIAG("%s: %s (line %d, column %d)", path, e.text, e.line, e.column);
    return v;
}

/* The string member key of obj, or NULL when absent or not a string. */
static const char *jstr(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* The i-th element of arr as a string, or NULL. */
static const char *jstr_at(const json_t *arr, size_t i)
{
    return json_string_value(json_array_get(arr, i));
}

/* Whether the member key of obj is true. */
static int jbool(const json_t *obj, const char *key)
{
    return json_is_true(json_object_get(obj, key));
}

/* The number member key of obj, or dflt when absent or not a number. */
static double jnum(const json_t *obj, const char *key, double dflt)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

/* ---- HTTP request text ---------------------------------------------------
 * "METHOD SP target [SP HTTP/1.1]", header lines "Name:value" (lines that
 * start with a space or tab continue the previous value, kept with their line
 * breaks for the signer to fold), a blank line, the body. */

struct http_req {
    char *text; /* the file, cut up in place */
    const char *method, *path, *query;
    struct cr_http_header *headers;
    size_t num_headers;
    const char *body;
    size_t body_len;
};

static void http_req_free(struct http_req *r)
{
    free(r->text);
    free(r->headers);
    memset(r, 0, sizeof(*r));
}

static int parse_request_line(struct http_req *r, char *line)
{
    char *sp = strchr(line, ' ');
    if (!sp)
        return 0;
    *sp = '\0';
    r->method = line;
    char *target = sp + 1;
    size_t tlen = strlen(target);
    /* The target may hold a raw space, so only the final " HTTP/1.1" ends it. */
    if (tlen >= 9 && strcmp(target + tlen - 9, " HTTP/1.1") == 0)
        target[tlen - 9] = '\0';
    char *q = strchr(target, '?');
    if (q)
        *q = '\0';
    r->path = target;
    r->query = q ? q + 1 : NULL;
    return 1;
}

static int parse_request(const char *path, struct http_req *r)
{
    size_t len;
    memset(r, 0, sizeof(*r));
    if (!(r->text = slurp(path, &len)))
        return 0;
    char *head = r->text;
    char *split = strstr(head, "\n\n");
    if (split) {
        *split = '\0';
        r->body = split + 2;
        r->body_len = len - (size_t)(r->body - r->text);
    } else {
        r->body = "";
        size_t hl = strlen(head);
        if (hl > 0 && head[hl - 1] == '\n') /* a final newline is not body */
            head[hl - 1] = '\0';
    }
    size_t lines = 1;
    for (const char *c = head; *c; c++)
        lines += *c == '\n';
    r->headers = calloc(lines, sizeof(*r->headers));
    char *line = head, *next;
    char *nl = strchr(line, '\n');
    next = nl ? nl + 1 : NULL;
    if (nl)
        *nl = '\0';
    if (!parse_request_line(r, line))
        return 0;
    for (line = next; line && *line; line = next) {
        char *end = strchr(line, '\n');
        while (end && (end[1] == ' ' || end[1] == '\t'))
            end = strchr(end + 1, '\n');
        next = end ? end + 1 : NULL;
        if (end)
            *end = '\0';
        char *colon = strchr(line, ':');
        if (!colon)
            return 0;
        *colon = '\0';
        r->headers[r->num_headers++] = (struct cr_http_header){line, colon + 1};
    }
    return 1;
}

/* "name:value" with the name lower-cased and the value trimmed and folded,
 * so two header lists can be compared as multisets. */
static char *header_key(const struct cr_http_header *h)
{
    struct cr_buf b = {0};
    for (const char *c = h->name; *c; c++) {
        char l = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        cr_buf_append(&b, &l, 1);
    }
    cr_buf_append(&b, ":", 1);
    int space = 0;
    const char *v = h->value;
    while (*v == ' ' || *v == '\t' || *v == '\n')
        v++;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t' || *v == '\n') {
            space = 1;
            continue;
        }
        if (space)
            cr_buf_append(&b, " ", 1);
        space = 0;
        cr_buf_append(&b, v, 1);
    }
    return cr_buf_steal(&b, NULL);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted and joined by '\n': a canonical text for a multiset of strings. */
static char *join_sorted(char **items, size_t n)
{
    struct cr_buf b = {0};
    qsort(items, n, sizeof(*items), str_cmp);
    cr_buf_append(&b, "", 0);
    for (size_t i = 0; i < n; i++)
        cr_buf_appendf(&b, "%s%s", i ? "\n" : "", items[i]);
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    return cr_buf_steal(&b, NULL);
}

static char *header_set(const struct cr_http_header *hs, size_t n)
{
    char **items = calloc(n + 1, sizeof(*items));
    for (size_t i = 0; i < n; i++)
        items[i] = header_key(&hs[i]);
    char *s = join_sorted(items, n);
    free(items);
    return s;
}

/* The headers a signed request carries: the input's, minus those the result
 * replaces, plus the result's. */
static char *signed_header_set(const struct http_req *in, const struct cr_sigv4_result *res)
{
    struct cr_http_header *all = calloc(in->num_headers + res->num_headers + 1, sizeof(*all));
    size_t n = 0;
    for (size_t i = 0; i < in->num_headers; i++) {
        int replaced = 0;
        for (size_t j = 0; j < res->num_headers; j++)
            replaced |= strcasecmp(in->headers[i].name, res->headers[j].name) == 0;
        if (!replaced)
            all[n++] = in->headers[i];
    }
    for (size_t j = 0; j < res->num_headers; j++)
        all[n++] = res->headers[j];
    char *s = header_set(all, n);
    free(all);
    return s;
}

static char *query_set(const char *q)
{
    size_t n = 0, cap = 8;
    char **items = calloc(cap, sizeof(*items));
    while (q && *q) {
        size_t len = strcspn(q, "&");
        if (n == cap)
            items = realloc(items, (cap *= 2) * sizeof(*items));
        items[n++] = strndup(q, len);
        q += len + (q[len] == '&');
    }
    char *s = join_sorted(items, n);
    free(items);
    return s;
}

/* Compares a signed request file with the input plus the signer's result:
 * method, path, query parameters and headers as multisets, body. */
static void check_signed_request(const char *name, const char *path, const struct http_req *in,
                                 const struct cr_sigv4_result *res)
{
    struct http_req want;
    if (!parse_request(path, &want)) {
        char *label = fmt("%s: signed request %s parses", name, path);
        tap_check(0, label, __FILE__, __LINE__);
        free(label);
        http_req_free(&want);
        return;
    }
    const char *got_query = res->query ? res->query : in->query;
    char *got_h = signed_header_set(in, res), *want_h = header_set(want.headers, want.num_headers);
    char *got_q = query_set(got_query), *want_q = query_set(want.query);
    int same_line = strcmp(in->method, want.method) == 0 && strcmp(in->path, want.path) == 0;
    int same_body = in->body_len == want.body_len && memcmp(in->body, want.body, in->body_len) == 0;
    char *label = fmt("%s: signed request: method, path and body", name);
    tap_check(same_line && same_body, label, __FILE__, __LINE__);
    free(label);
    check_text(name, "signed request: query parameters", got_q, want_q);
    check_text(name, "signed request: headers", got_h, want_h);
    free(got_h);
    free(want_h);
    free(got_q);
    free(want_q);
    http_req_free(&want);
}

/* The value of Signature= in an Authorization value, or NULL. */
static char *authz_signature(const struct http_req *r)
{
    for (size_t i = 0; i < r->num_headers; i++) {
        const char *s = strcasecmp(r->headers[i].name, "authorization") == 0
                            ? strstr(r->headers[i].value, "Signature=")
                            : NULL;
        if (s)
            return strdup(s + 10);
    }
    return NULL;
}

/* An Authorization value with ", " between components reduced to ",": AWS
 * documents both separators. */
static char *authz_components(const char *a)
{
    struct cr_buf b = {0};
    cr_buf_append(&b, "", 0);
    for (; a && *a; a++) {
        cr_buf_append(&b, a, 1);
        if (*a == ',')
            while (a[1] == ' ')
                a++;
    }
    return cr_buf_steal(&b, NULL);
}

/* Signs and reports a failed call as a failing check. */
static int sign_ok(const char *name, const struct cr_sigv4_request *req,
                   const struct cr_sigv4_params *p, struct cr_sigv4_result *res)
{
    struct cr_error err = {0};
    cr_status st = cr_sigv4_sign(req, p, res, &err);
    char *label = fmt("%s: cr_sigv4_sign succeeds", name);
    if (!tap_check(st == CR_OK, label, __FILE__, __LINE__))
        printf("#   %s: %s\n", cr_status_name(st), err.message);
    free(label);
    return st == CR_OK;
}

static struct cr_sigv4_request request_of(const struct http_req *r)
{
    return (struct cr_sigv4_request){.method = r->method,
                                     .path = r->path,
                                     .query = r->query,
                                     .headers = r->headers,
                                     .num_headers = r->num_headers,
                                     .body = r->body,
                                     .body_len = r->body_len};
}

/* ---- the signer's own rules, as a specification --------------------------*/

static const struct cr_http_header host_only[] = {{"Host", "example.amazonaws.com"}};

static struct cr_sigv4_params spec_params(const char *service)
{
    return (struct cr_sigv4_params){.access_key_id = SUITE_AKID,
                                    .secret_access_key = SUITE_SECRET,
                                    .region = "us-east-1",
                                    .service = service,
                                    .time_s = 1440938160 /* 2015-08-30T12:36:00Z */};
}

/* The second line of the canonical request of a GET of path. */
static char *canonical_uri_of(const char *path, const char *service, enum cr_sigv4_path_rules r)
{
    struct cr_sigv4_request req = {
        .method = "GET", .path = path, .headers = host_only, .num_headers = 1};
    struct cr_sigv4_params p = spec_params(service);
    p.path_rules = r;
    struct cr_sigv4_result res;
    if (cr_sigv4_sign(&req, &p, &res, NULL) != CR_OK)
        return NULL;
    const char *start = strchr(res.canonical_request, '\n') + 1;
    char *uri = strndup(start, strcspn(start, "\n"));
    cr_sigv4_result_free(&res);
    return uri;
}

static void check_uri(const char *path, const char *service, enum cr_sigv4_path_rules r,
                      const char *want)
{
    char *got = canonical_uri_of(path, service, r);
    char *name = fmt("path rules %d, service %s, \"%s\"", (int)r, service, path);
    check_text(name, "canonical URI", got, want);
    free(name);
    free(got);
}

static void test_path_rules(void)
{
    check_uri("/a/./b/../c//d/", "sqs", CR_SIGV4_PATH_AUTO, "/a/c/d/");
    check_uri("/a%3Db", "sqs", CR_SIGV4_PATH_AUTO, "/a%253Db");
    check_uri("/x/../..", "sqs", CR_SIGV4_PATH_AUTO, "/");
    check_uri("", "sqs", CR_SIGV4_PATH_AUTO, "/");
    check_uri("/a//./b", "sqs", CR_SIGV4_PATH_AS_WRITTEN, "/a//./b");
    /* S3: no normalisation, one encoding whether the key came raw or encoded,
     * and an encoded slash inside a key stays encoded. */
    check_uri("/my-object//example//photo.user", "s3", CR_SIGV4_PATH_AUTO,
              "/my-object//example//photo.user");
    check_uri("/test$file.text", "s3", CR_SIGV4_PATH_AUTO, "/test%24file.text");
    check_uri("/test%24file.text", "s3", CR_SIGV4_PATH_AUTO, "/test%24file.text");
    check_uri("/a%2Fb c", "s3", CR_SIGV4_PATH_AUTO, "/a%2Fb%20c");
    check_uri("/100%", "s3", CR_SIGV4_PATH_AUTO, "/100%25");
    check_uri("/a$b", "sqs", CR_SIGV4_PATH_S3, "/a%24b");
}

static void test_query_and_headers(void)
{
    const struct cr_http_header hs[] = {{"Host", "h"},
                                        {"X-Amz-Date", "19990101T000000Z"},
                                        {"authorization", "old"},
                                        {"My-H", "  a \t b  "},
                                        {"my-h", "c"}};
    struct cr_sigv4_request req = {.method = "GET",
                                   .path = "/",
                                   .query = "b=2&a=%zz&&c&a=1+1&sp=a%20b",
                                   .headers = hs,
                                   .num_headers = 5};
    struct cr_sigv4_params p = spec_params("sqs");
    struct cr_sigv4_result res;
    CHECK_EQ_INT(cr_sigv4_sign(&req, &p, &res, NULL), CR_OK);
    check_text(
        "spec", "query sorted, decoded and re-encoded; bad escapes kept literally",
        res.canonical_request,
        "GET\n/\na=%25zz&a=1%2B1&b=2&c=&sp=a%20b\n"
        "host:h\nmy-h:a b,c\nx-amz-date:20150830T123600Z\n\nhost;my-h;x-amz-date\n" EMPTY_SHA256);
    CHECK_EQ_INT(res.num_headers, 2);
    CHECK_EQ_STR(res.headers[0].name, "X-Amz-Date");
    CHECK_EQ_STR(res.headers[0].value, "20150830T123600Z");
    CHECK_EQ_STR(res.headers[1].name, "Authorization");
    CHECK_EQ_STR(res.headers[1].value, res.authorization);
    CHECK(res.query == NULL);
    cr_sigv4_result_free(&res);
}

static void test_s3_header_and_query(void)
{
    struct cr_sigv4_request req = {.method = "PUT",
                                   .path = "/k",
                                   .headers = host_only,
                                   .num_headers = 1,
                                   .body = "abc",
                                   .body_len = 3};
    struct cr_sigv4_params p = spec_params("s3");
    p.session_token = "tok/en";
    struct cr_sigv4_result res;
    CHECK_EQ_INT(cr_sigv4_sign(&req, &p, &res, NULL), CR_OK);
    CHECK_EQ_STR(res.signed_headers, "host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
    CHECK_EQ_STR(res.payload_hash,
                 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_EQ_INT(res.num_headers, 4);
    CHECK_EQ_STR(res.headers[1].name, "X-Amz-Security-Token");
    CHECK_EQ_STR(res.headers[1].value, "tok/en");
    CHECK_EQ_STR(res.headers[2].name, "x-amz-content-sha256");
    cr_sigv4_result_free(&res);

    p.location = CR_SIGV4_LOCATION_QUERY;
    p.expires_s = 60;
    req.query = "x-id=PutObject&X-Amz-Signature=stale";
    CHECK_EQ_INT(cr_sigv4_sign(&req, &p, &res, NULL), CR_OK);
    CHECK_EQ_STR(res.payload_hash, CR_SIGV4_UNSIGNED_PAYLOAD);
    CHECK_EQ_INT(res.num_headers, 0);
    CHECK(res.authorization == NULL);
    CHECK_MSG(res.query && strncmp(res.query, "x-id=PutObject&X-Amz-Algorithm=", 31) == 0 &&
                  strstr(res.query, "&X-Amz-Expires=60&") &&
                  strstr(res.query, "&X-Amz-Security-Token=tok%2Fen&") &&
                  !strstr(res.query, "stale"),
              "presigned query: own parameters first, a stale signature dropped, token encoded");
    cr_sigv4_result_free(&res);
}

static void test_errors(void)
{
    struct cr_sigv4_request req = {
        .method = "GET", .path = "/", .headers = host_only, .num_headers = 1};
    struct cr_sigv4_params p = spec_params("sqs");
    struct cr_sigv4_result res;
    struct cr_error err;

    req.num_headers = 0;
    CHECK_EQ_INT(cr_sigv4_sign(&req, &p, &res, &err), CR_ERR_INVALID);
    CHECK_MSG(strstr(err.message, "Host") != NULL, "a request without Host is refused");
    CHECK_MSG(res.canonical_request == NULL && res.num_headers == 0,
              "a failed signature leaves the result empty");
    req.num_headers = 1;
    req.path = "relative";
    CHECK_EQ_INT(cr_sigv4_sign(&req, &p, &res, &err), CR_ERR_INVALID);
    req.path = "/";
    p.secret_access_key = "";
    CHECK_EQ_INT(cr_sigv4_sign(&req, &p, &res, &err), CR_ERR_INVALID);
    p = spec_params("sqs");
    p.location = CR_SIGV4_LOCATION_QUERY;
    p.expires_s = CR_SIGV4_MAX_EXPIRES_S + 1;
    CHECK_EQ_INT(cr_sigv4_sign(&req, &p, &res, &err), CR_ERR_INVALID);
    p.expires_s = -5;
    CHECK_EQ_INT(cr_sigv4_sign(&req, &p, &res, &err), CR_ERR_INVALID);
    p = spec_params("sqs");
    p.path_rules = (enum cr_sigv4_path_rules)42;
    CHECK_EQ_INT(cr_sigv4_sign(&req, &p, &res, &err), CR_ERR_INVALID);
    p = spec_params("sqs");
    p.time_s = -1;
    CHECK_EQ_INT(cr_sigv4_sign(&req, &p, &res, &err), CR_ERR_INVALID);
    CHECK_EQ_INT(cr_sigv4_sign(NULL, &p, &res, NULL), CR_ERR_INVALID);
    CHECK_EQ_INT(cr_sigv4_sign(&req, NULL, &res, NULL), CR_ERR_INVALID);
    CHECK_EQ_INT(cr_sigv4_sign(&req, &p, NULL, NULL), CR_ERR_INVALID);
    cr_sigv4_result_free(NULL);
    cr_sigv4_result_free(&res); /* an empty result may be freed again */
    /* A real result, freed twice: the first free empties it (ASan and
     * valgrind would see a double free otherwise). */
    p = spec_params("sqs");
    CHECK_EQ_INT(cr_sigv4_sign(&req, &p, &res, &err), CR_OK);
    CHECK(res.signature != NULL && res.authorization != NULL);
    cr_sigv4_result_free(&res);
    CHECK_MSG(res.signature == NULL && res.authorization == NULL &&
                  res.canonical_request == NULL && res.num_headers == 0,
              "cr_sigv4_result_free empties the result");
    cr_sigv4_result_free(&res);
}

/* ---- suite 1: the classic aws-sig-v4-test-suite ---------------------------*/

/* Collects every "*.req" below dir, sorted. */
static void find_req_files(const char *dir, char ***out, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *path = fmt("%s/%s", dir, e->d_name);
        struct stat sb;
        size_t len = strlen(e->d_name);
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            find_req_files(path, out, n);
            free(path);
        } else if (len > 4 && strcmp(e->d_name + len - 4, ".req") == 0) {
            *out = realloc(*out, (*n + 1) * sizeof(**out));
            (*out)[(*n)++] = path;
        } else {
            free(path);
        }
    }
    if (d)
        closedir(d);
    if (*n > 1)
        qsort(*out, *n, sizeof(**out), str_cmp);
}

/* The session token of post-sts-token/readme.txt: its last non-empty line. */
static char *readme_token(const char *suite_dir)
{
    char *path = fmt("%s/post-sts-token/readme.txt", suite_dir);
    char *text = slurp(path, NULL);
    free(path);
    if (!text)
        return NULL;
    size_t len = strlen(text);
    while (len > 0 && text[len - 1] == '\n')
        text[--len] = '\0';
    char *last = strrchr(text, '\n');
    char *tok = strdup(last ? last + 1 : text);
    free(text);
    return tok;
}

static void run_classic_case(struct suite *su, const char *req_path, const char *sts_token)
{
    int mark = case_start();
    size_t base_len = strlen(req_path) - 4;
    char *base = strndup(req_path, base_len);
    const char *name = strrchr(base, '/') + 1;
    struct http_req in;
    struct cr_sigv4_result res = {0};
    struct cr_sigv4_params p = spec_params("service");
    /* Tokens: SOURCE.md section 1. The first lives only in the expected
     * files; the post-sts ones are in post-sts-token/readme.txt. */
    if (strcmp(name, "get-vanilla-with-session-token") == 0)
        p.session_token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
    if (strncmp(name, "post-sts-header-", 16) == 0)
        p.session_token = sts_token;
    p.omit_session_token = strcmp(name, "post-sts-header-after") == 0;
    if (!parse_request(req_path, &in)) {
        char *label = fmt("%s: request parses", name);
        tap_check(0, label, __FILE__, __LINE__);
        free(label);
    } else {
        struct cr_sigv4_request req = request_of(&in);
        if (sign_ok(name, &req, &p, &res)) {
            char *f;
            check_file(name, "canonical request", res.canonical_request, f = fmt("%s.creq", base));
            free(f);
            check_file(name, "string to sign", res.string_to_sign, f = fmt("%s.sts", base));
            free(f);
            check_file(name, "authorization", res.authorization, f = fmt("%s.authz", base));
            free(f);
            f = fmt("%s.sreq", base);
            if (strcmp(name, "get-vanilla-with-session-token") == 0)
                tap_skip("get-vanilla-with-session-token: .sreq",
                         "its signature is stale upstream (SOURCE.md section 1); "
                         ".creq, .sts and .authz are checked");
            else
                check_signed_request(name, f, &in, &res);
            free(f);
        }
    }
    cr_sigv4_result_free(&res);
    http_req_free(&in);
    free(base);
    case_end(su, mark);
}

static void suite_classic(void)
{
    struct suite su = {.name = "aws-sig-v4-test-suite", .expected = 34};
    char *dir = fmt("%s/aws-sig-v4-test-suite", g_root);
    char **files = NULL;
    size_t n = 0;
    find_req_files(dir, &files, &n);
    char *token = readme_token(dir);
    CHECK_MSG(token && strlen(token) > 100, "aws-sig-v4-test-suite: STS token read from readme");
    for (size_t i = 0; i < n; i++) {
        run_classic_case(&su, files[i], token);
        free(files[i]);
    }
    free(files);
    free(token);
    free(dir);
    suite_report(&su);
}

/* ---- suite 2: aws-c-auth v4 ----------------------------------------------*/

static void run_crt_variant(const char *dir, const char *name, const json_t *ctx,
                            const struct http_req *in, int query)
{
    const json_t *cred = json_object_get(ctx, "credentials");
    int64_t t = 0;
    const char *ts = jstr(ctx, "timestamp");
    char *label = fmt("%s/%s: context.json has credentials and a timestamp", name,
                      query ? "query" : "header");
    tap_check(cred && jstr(cred, "access_key_id") && ts && parse_time(ts, &t), label, __FILE__,
              __LINE__);
    free(label);
    int sign_body = jbool(ctx, "sign_body");
    struct cr_sigv4_params p = {
        .access_key_id = jstr(cred, "access_key_id"),
        .secret_access_key = jstr(cred, "secret_access_key"),
        .session_token = jstr(cred, "token"),
        .region = jstr(ctx, "region"),
        .service = jstr(ctx, "service"),
        .time_s = t,
        .location = query ? CR_SIGV4_LOCATION_QUERY : CR_SIGV4_LOCATION_HEADER,
        .expires_s = (int64_t)jnum(ctx, "expiration_in_seconds", 0),
        .path_rules = jbool(ctx, "normalize") ? CR_SIGV4_PATH_NORMALIZE : CR_SIGV4_PATH_AS_WRITTEN,
        .content_sha256 = sign_body ? CR_SIGV4_CONTENT_SHA256_ADD : CR_SIGV4_CONTENT_SHA256_OMIT,
        .omit_session_token = jbool(ctx, "omit_session_token"),
    };
    struct cr_sigv4_request req = request_of(in);
    /* sign_body false: aws-c-auth signs the empty payload whatever the body. */
    if (!sign_body)
        req.payload_hash = EMPTY_SHA256;
    struct cr_sigv4_result res;
    char *vname = fmt("%s/%s", name, query ? "query" : "header");
    const char *v = query ? "query" : "header";
    if (sign_ok(vname, &req, &p, &res)) {
        char *f;
        check_file(vname, "canonical request", res.canonical_request,
                   f = fmt("%s/%s-canonical-request.txt", dir, v));
        free(f);
        check_file(vname, "string to sign", res.string_to_sign,
                   f = fmt("%s/%s-string-to-sign.txt", dir, v));
        free(f);
        check_file(vname, "signature", res.signature, f = fmt("%s/%s-signature.txt", dir, v));
        free(f);
        check_signed_request(vname, f = fmt("%s/%s-signed-request.txt", dir, v), in, &res);
        free(f);
    }
    cr_sigv4_result_free(&res);
    free(vname);
}

static void run_crt_case(struct suite *su, const char *dir, const char *name)
{
    int mark = case_start();
    char *ctx_path = fmt("%s/context.json", dir), *req_path = fmt("%s/request.txt", dir);
    json_t *ctx = jload(ctx_path);
    struct http_req in;
    int parsed = parse_request(req_path, &in);
    char *label = fmt("%s: context.json and request.txt parse", name);
    if (tap_check(ctx && parsed, label, __FILE__, __LINE__)) {
        run_crt_variant(dir, name, ctx, &in, 0);
        run_crt_variant(dir, name, ctx, &in, 1);
    }
    free(label);
    http_req_free(&in);
    json_decref(ctx);
    free(ctx_path);
    free(req_path);
    case_end(su, mark);
}

static void suite_crt(void)
{
    struct suite su = {.name = "aws-c-auth-v4 (header and query variants)", .expected = 38};
    char *dir = fmt("%s/aws-c-auth-v4", g_root);
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        char *case_dir = fmt("%s/%s", dir, names[i]->d_name);
        char *ctx = fmt("%s/context.json", case_dir);
        if (names[i]->d_name[0] != '.' && file_exists(ctx))
            run_crt_case(&su, case_dir, names[i]->d_name);
        free(ctx);
        free(case_dir);
        free(names[i]);
    }
    free(names);
    free(dir);
    suite_report(&su);
}

/* ---- suite 3: smithy-rs double-encoding extras ---------------------------*/

/* Parameters from SOURCE.md section 3: canonical requests at 20210511T154045Z,
 * the signed requests as stated per case. */
struct smithy_case {
    const char *name;
    const char *akid, *secret, *region, *service;
    const char *sign_time;        /* the signed-request file's signing */
    int sts_has_trailing_newline; /* -1: there is no string-to-sign file */
};

static void run_smithy_case(struct suite *su, const struct smithy_case *c)
{
    int mark = case_start();
    char *dir = fmt("%s/smithy-rs-v4-extras/%s", g_root, c->name);
    char *req_path = fmt("%s/request.txt", dir), *f = NULL;
    struct http_req in, signed_in;
    struct cr_sigv4_result res = {0};
    int64_t creq_time = 0, sign_time = 0;
    parse_time("20210511T154045Z", &creq_time);
    parse_time(c->sign_time, &sign_time);
    struct cr_sigv4_params p = {.access_key_id = c->akid,
                                .secret_access_key = c->secret,
                                .region = c->region,
                                .service = c->service,
                                .time_s = creq_time};
    int parsed = parse_request(req_path, &in);
    int parsed_signed = parse_request(f = fmt("%s/header-signed-request.txt", dir), &signed_in);
    char *label = fmt("%s: request.txt and header-signed-request.txt parse", c->name);
    if (tap_check(parsed && parsed_signed, label, __FILE__, __LINE__)) {
        struct cr_sigv4_request req = request_of(&in);
        if (sign_ok(c->name, &req, &p, &res)) {
            char *g;
            check_file(c->name, "canonical request", res.canonical_request,
                       g = fmt("%s/header-canonical-request.txt", dir));
            free(g);
            if (c->sts_has_trailing_newline >= 0) {
                char *want = slurp(g = fmt("%s/header-string-to-sign.txt", dir), NULL);
                if (want && c->sts_has_trailing_newline && *want)
                    want[strlen(want) - 1] = '\0';
                check_text(c->name, "string to sign", res.string_to_sign, want);
                free(want);
                free(g);
            }
        }
        cr_sigv4_result_free(&res);
        p.time_s = sign_time;
        if (sign_ok(c->name, &req, &p, &res)) {
            char *want_sig = authz_signature(&signed_in);
            check_text(c->name, "signature of the signed request", res.signature, want_sig);
            free(want_sig);
            check_signed_request(c->name, f, &in, &res);
        }
    }
    free(label);
    cr_sigv4_result_free(&res);
    http_req_free(&in);
    http_req_free(&signed_in);
    free(f);
    free(req_path);
    free(dir);
    case_end(su, mark);
}

static void suite_smithy(void)
{
    static const struct smithy_case cases[] = {
        {"double-encode-path", "ANOTREAL", "notrealrnrELgWzOk3IfjzDKtFBhDby", "us-east-1",
         "service", "20150830T123600Z", -1},
        {"double-url-encode", SUITE_AKID, SUITE_SECRET, "us-east-2", "lambda", "20210511T154045Z",
         1},
    };
    struct suite su = {.name = "smithy-rs-v4-extras", .expected = 2};
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        run_smithy_case(&su, &cases[i]);
    suite_report(&su);
}

/* ---- suites 4 and 5: the JSON worked examples ----------------------------*/

/* The request of a JSON example. Strings point into the JSON or into
 * `owned`, which the caller frees. */
struct json_req {
    struct cr_sigv4_request req;
    struct cr_http_header *headers;
    char *owned[3];
    const char *host;
};

static void json_req_free(struct json_req *j)
{
    free(j->headers);
    for (size_t i = 0; i < ARRAY_LEN(j->owned); i++)
        free(j->owned[i]);
}

static int is_hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return 0;
    return strspn(s, "0123456789abcdef") == 64;
}

/* A ["name", "value"] array. */
static int is_pair(const json_t *v)
{
    return json_array_size(v) == 2 && jstr_at(v, 0) && jstr_at(v, 1);
}

/* Builds the request: path and query from "url", else from "request_target",
 * else "canonical_uri" plus the "query" pairs that are not X-Amz-* (those
 * are the signer's output). */
static int json_request(const json_t *ex, int query_mode, struct json_req *j)
{
    memset(j, 0, sizeof(*j));
    const char *url = jstr(ex, "url"), *target = jstr(ex, "request_target");
    const char *pq = NULL;
    j->host = jstr(ex, "host");
    if (url && strncmp(url, "https://", 8) == 0) {
        const char *slash = strchr(url + 8, '/');
        j->host = j->owned[0] = strndup(url + 8, slash ? (size_t)(slash - url - 8) : 0);
        pq = slash;
    } else if (target) {
        pq = target;
    }
    if (pq) {
        size_t plen = strcspn(pq, "?");
        j->req.path = j->owned[1] = strndup(pq, plen);
        j->req.query = pq[plen] ? pq + plen + 1 : NULL;
    } else {
        j->req.path = jstr(ex, "canonical_uri");
        struct cr_buf q = {0};
        const json_t *pairs = json_object_get(ex, "query");
        for (size_t i = 0; i < json_array_size(pairs); i++) {
            const json_t *kv = json_array_get(pairs, i);
            if (!is_pair(kv))
                return 0;
            if (strncmp(jstr_at(kv, 0), "X-Amz-", 6) == 0)
                continue;
            cr_buf_appendf(&q, "%s", q.len ? "&" : "");
            cr_uri_encode(jstr_at(kv, 0), strlen(jstr_at(kv, 0)), 0, &q);
            cr_buf_append(&q, "=", 1);
            cr_uri_encode(jstr_at(kv, 1), strlen(jstr_at(kv, 1)), 0, &q);
        }
        j->req.query = j->owned[2] = cr_buf_steal(&q, NULL);
    }
    const json_t *hs = json_object_get(ex, "headers");
    j->headers = calloc(json_array_size(hs) + 1, sizeof(*j->headers));
    for (size_t i = 0; i < json_array_size(hs); i++) {
        const json_t *kv = json_array_get(hs, i);
        if (!is_pair(kv))
            return 0;
        j->headers[i] = (struct cr_http_header){jstr_at(kv, 0), jstr_at(kv, 1)};
    }
    j->req.method = jstr(ex, "method");
    j->req.headers = j->headers;
    j->req.num_headers = json_array_size(hs);
    /* A hex payload hash is left for the signer to compute from the body,
     * and so is S3's UNSIGNED-PAYLOAD for presigning; anything else (the
     * streaming marker) is passed as given. */
    const char *ph = jstr(ex, "payload_hash"), *body = jstr(ex, "body");
    int derived = is_hex64(ph) || (query_mode && ph && strcmp(ph, "UNSIGNED-PAYLOAD") == 0);
    if (derived && body) {
        j->req.body = body;
        j->req.body_len = strlen(body);
    } else {
        j->req.payload_hash = ph;
    }
    return j->host && j->req.path && j->req.method && (derived ? body != NULL : ph != NULL);
}

/* X-Amz-Expires from the example's query pairs or "expires_seconds". */
static int64_t json_expires(const json_t *ex)
{
    const json_t *pairs = json_object_get(ex, "query");
    for (size_t i = 0; i < json_array_size(pairs); i++) {
        const json_t *kv = json_array_get(pairs, i);
        if (is_pair(kv) && strcmp(jstr_at(kv, 0), "X-Amz-Expires") == 0)
            return strtoll(jstr_at(kv, 1), NULL, 10);
    }
    return (int64_t)jnum(ex, "expires_seconds", 0);
}

/* Checks every expected field the example gives against a result. */
static void check_expected(const char *name, const json_t *want, const struct json_req *j,
                           const struct cr_sigv4_result *res)
{
    char sha[65];
    sha256_hex(res->canonical_request, strlen(res->canonical_request), sha);
    check_text(name, "canonical request", res->canonical_request, jstr(want, "canonical_request"));
    check_text(name, "canonical request SHA-256", sha, jstr(want, "canonical_request_sha256"));
    check_text(name, "string to sign", res->string_to_sign, jstr(want, "string_to_sign"));
    check_text(name, "signed headers", res->signed_headers, jstr(want, "signed_headers"));
    check_text(name, "signature", res->signature, jstr(want, "signature"));
    if (jstr(want, "authorization")) {
        char *got = authz_components(res->authorization);
        char *exp = authz_components(jstr(want, "authorization"));
        check_text(name, "authorization (components)", got, exp);
        free(got);
        free(exp);
    }
    const char *url =
        jstr(want, "presigned_url") ? jstr(want, "presigned_url") : jstr(want, "signed_url");
    if (url) {
        char *got = fmt("https://%s%s?%s", j->host, j->req.path, res->query ? res->query : "");
        check_text(name, "presigned URL", got, url);
        free(got);
    }
}

/* The aws-chunked body of put-object-chunked: each chunk signature chains
 * on the previous one, starting from the seed. */
static void check_chunks(const char *name, const struct cr_sigv4_params *p, const json_t *want,
                         const char *seed_signature, const struct json_req *j)
{
    const json_t *chunks = json_object_get(want, "chunks");
    char prev[CR_SIGV4_SIGNATURE_LEN];
    long long total = 0;
    snprintf(prev, sizeof(prev), "%s", seed_signature);
    CHECK_MSG(json_array_size(chunks) == 3, "put-object-chunked: three chunks listed");
    for (size_t i = 0; i < json_array_size(chunks); i++) {
        const json_t *c = json_array_get(chunks, i);
        size_t len = (size_t)jnum(c, "data_length", 0);
        const char *byte = jstr(c, "data_byte");
        char *data = malloc(len + 1), *cname = fmt("%s chunk %zu", name, i), sha[65];
        memset(data, byte ? byte[0] : 0, len);
        struct cr_buf sts = {0};
        char sig[CR_SIGV4_SIGNATURE_LEN] = "";
        check_text(cname, "previous signature", prev, jstr(c, "previous_signature"));
        CHECK_EQ_INT(cr_sigv4_sign_chunk(p, prev, data, len, sig, &sts, NULL), CR_OK);
        sha256_hex(data, len, sha);
        check_text(cname, "data SHA-256", sha, jstr(c, "data_sha256"));
        check_text(cname, "string to sign", (const char *)sts.data, jstr(c, "string_to_sign"));
        check_text(cname, "signature", sig, jstr(c, "signature"));
        char *hdr = fmt("%zx;chunk-signature=%s", len, sig);
        check_text(cname, "chunk header", hdr, jstr(c, "chunk_header_without_crlf"));
        long long enc = (long long)(strlen(hdr) + 2 + len + 2);
        CHECK_EQ_INT(enc, (long long)jnum(c, "encoded_length", -1));
        total += enc;
        snprintf(prev, sizeof(prev), "%s", sig);
        free(hdr);
        cr_buf_free(&sts);
        free(cname);
        free(data);
    }
    CHECK_EQ_INT(total, (long long)jnum(want, "encoded_body_length", -1));
    for (size_t i = 0; i < j->req.num_headers; i++)
        if (strcasecmp(j->req.headers[i].name, "Content-Length") == 0)
            CHECK_EQ_INT(strtoll(j->req.headers[i].value, NULL, 10), total);
}

/* S3 browser POST: the string to sign is the base64 policy itself. */
static void check_policy(const char *name, struct cr_sigv4_params p, const json_t *ex)
{
    const json_t *want = json_object_get(ex, "expected");
    const char *policy = jstr(ex, "policy_json");
    struct cr_buf b64 = {0};
    char sig[CR_SIGV4_SIGNATURE_LEN] = "", key_hex[65];
    unsigned char key[CR_SHA256_LEN];
    CHECK_MSG(policy && parse_time(jstr(ex, "timestamp"), &p.time_s),
              "post-object-policy: policy and timestamp given");
    cr_base64_encode(policy ? policy : "", policy ? strlen(policy) : 0, &b64);
    check_text(name, "policy base64", (const char *)b64.data, jstr(ex, "policy_base64"));
    check_text(name, "string to sign", (const char *)b64.data, jstr(want, "string_to_sign"));
    CHECK_EQ_INT(cr_sigv4_sign_string(&p, (const char *)b64.data, b64.len, sig, NULL), CR_OK);
    check_text(name, "signature", sig, jstr(want, "signature"));
    CHECK_EQ_INT(cr_sigv4_signing_key(&p, key, NULL), CR_OK);
    hex_of(key, sizeof(key), key_hex);
    check_text(name, "signing key", key_hex, jstr(want, "signing_key_hex"));
    cr_buf_free(&b64);
}

/* One example of either JSON file, with top-level defaults in `top`. */
static void run_json_example(struct suite *su, const json_t *top, const json_t *ex)
{
    int mark = case_start();
    const char *name = jstr(ex, "name") ? jstr(ex, "name") : "(unnamed)";
    const char *loc = jstr(ex, "signature_location");
    const json_t *cred = json_object_get(top, "credentials");
    const char *ts = jstr(ex, "timestamp") ? jstr(ex, "timestamp") : jstr(top, "timestamp");
    struct cr_sigv4_params p = {
        .access_key_id = jstr(cred, "access_key_id"),
        .secret_access_key = jstr(cred, "secret_access_key"),
        .region = jstr(ex, "region") ? jstr(ex, "region") : jstr(top, "region"),
        .service = jstr(ex, "service") ? jstr(ex, "service") : jstr(top, "service"),
        .location =
            loc && strcmp(loc, "query") == 0 ? CR_SIGV4_LOCATION_QUERY : CR_SIGV4_LOCATION_HEADER,
        .expires_s = json_expires(ex),
    };
    int query_mode = p.location == CR_SIGV4_LOCATION_QUERY;
    char *label = fmt("%s: credentials, region, service and time given", name);
    tap_check(p.access_key_id && p.region && p.service && ts && parse_time(ts, &p.time_s), label,
              __FILE__, __LINE__);
    free(label);
    if (loc && strcmp(loc, "form") == 0) {
        check_policy(name, p, ex);
        case_end(su, mark);
        return;
    }
    struct json_req j;
    struct cr_sigv4_result res = {0};
    const json_t *want = json_object_get(ex, "expected");
    const json_t *seed = json_object_get(want, "seed");
    label = fmt("%s: request described completely", name);
    if (tap_check(json_request(ex, query_mode, &j) && want, label, __FILE__, __LINE__) &&
        sign_ok(name, &j.req, &p, &res)) {
        check_expected(name, seed ? seed : want, &j, &res);
        if (jstr(ex, "credential_scope"))
            check_text(name, "credential scope", res.credential_scope,
                       jstr(ex, "credential_scope"));
        if (seed)
            check_chunks(name, &p, want, res.signature, &j);
    }
    free(label);
    cr_sigv4_result_free(&res);
    json_req_free(&j);
    case_end(su, mark);
}

static void check_key_hex(const char *what, const unsigned char *key, size_t len, const char *want)
{
    char hex[2 * 64 + 1];
    hex_of(key, len, hex);
    check_text("signing_key_derivation", what, hex, want);
}

/* The published kSecret .. kSigning chain; kSigning comes from the library. */
static void run_key_derivation(struct suite *su, const json_t *kd)
{
    int mark = case_start();
    const char *secret = jstr(kd, "secret_access_key");
    struct cr_sigv4_params p = {
        .secret_access_key = secret, .region = jstr(kd, "region"), .service = jstr(kd, "service")};
    CHECK_MSG(secret && jstr(kd, "date") && parse_time(jstr(kd, "date"), &p.time_s),
              "signing_key_derivation: secret and date given");
    char *k_secret = fmt("AWS4%s", secret ? secret : "");
    unsigned char k[CR_SHA256_LEN], key[CR_SHA256_LEN];
    check_key_hex("kSecret", (const unsigned char *)k_secret, strlen(k_secret),
                  jstr(kd, "kSecret_hex"));
    const char *date = jstr(kd, "date") ? jstr(kd, "date") : "";
    cr_hmac_sha256(k_secret, strlen(k_secret), date, strlen(date), k);
    check_key_hex("kDate", k, sizeof(k), jstr(kd, "kDate_hex"));
    cr_hmac_sha256(k, sizeof(k), p.region, p.region ? strlen(p.region) : 0, k);
    check_key_hex("kRegion", k, sizeof(k), jstr(kd, "kRegion_hex"));
    cr_hmac_sha256(k, sizeof(k), p.service, p.service ? strlen(p.service) : 0, k);
    check_key_hex("kService", k, sizeof(k), jstr(kd, "kService_hex"));
    CHECK_EQ_INT(cr_sigv4_signing_key(&p, key, NULL), CR_OK);
    check_key_hex("kSigning (cr_sigv4_signing_key)", key, sizeof(key), jstr(kd, "kSigning_hex"));
    free(k_secret);
    case_end(su, mark);
}

static void suite_json(const char *file, const char *suite_name, int expected)
{
    struct suite su = {.name = suite_name, .expected = expected};
    char *path = fmt("%s/%s", g_root, file);
    json_t *top = jload(path);
    char *label = fmt("%s parses", file);
    tap_check(top != NULL, label, __FILE__, __LINE__);
    free(label);
    const json_t *examples = json_object_get(top, "examples");
    for (size_t i = 0; i < json_array_size(examples); i++)
        run_json_example(&su, top, json_array_get(examples, i));
    if (json_object_get(top, "signing_key_derivation"))
        run_key_derivation(&su, json_object_get(top, "signing_key_derivation"));
    if (jstr(top, "signing_key_hex")) {
        /* The S3 file's scope key, from its top-level parameters. */
        const json_t *cred = json_object_get(top, "credentials");
        struct cr_sigv4_params p = {.secret_access_key = jstr(cred, "secret_access_key"),
                                    .region = jstr(top, "region"),
                                    .service = jstr(top, "service")};
        unsigned char key[CR_SHA256_LEN];
        char hex[65] = "";
        if (parse_time(jstr(top, "timestamp"), &p.time_s) &&
            cr_sigv4_signing_key(&p, key, NULL) == CR_OK)
            hex_of(key, sizeof(key), hex);
        check_text(file, "top-level signing key", hex, jstr(top, "signing_key_hex"));
    }
    json_decref(top);
    free(path);
    suite_report(&su);
}

/* ---- main ----------------------------------------------------------------*/

int main(void)
{
    const char *env = getenv("CLOUDREC_TESTDATA");
    char *root = env && *env ? fmt("%s/sigv4", env) : strdup("../shared/testdata/sigv4");
    /* CLOUDREC_TESTDATA may name testdata/ itself or its sigv4/ directory. */
    if (env && *env && !file_exists(root)) {
        free(root);
        root = strdup(env);
    }
    g_root = root;
    DIAG("SigV4 vectors from %s", g_root);

    test_path_rules();
    test_query_and_headers();
    test_s3_header_and_query();
    test_errors();

    char *source = fmt("%s/SOURCE.md", g_root);
    CHECK_MSG(file_exists(source), "the SigV4 test vectors are present (SOURCE.md)");
    free(source);
    suite_classic();
    suite_crt();
    suite_smithy();
    suite_json("s3-examples.json", "s3-examples.json", 7);
    suite_json("query-api-examples.json", "query-api-examples.json (3 + key derivation)", 4);
    free(root);
    return tap_done();
}
