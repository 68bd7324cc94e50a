/*
 * fuzz_sigv4.c - the SigV4 signer and canonicalizer
 * (include/cloudrec/sigv4.h) on requests built from the input:
 *
 *   byte 0      flags: bit 0 query signing, bits 1-2 path rules, bits 3-4
 *               content-sha256 mode, bit 5 omit_session_token, bit 6 a
 *               session token, bit 7 a precomputed payload hash
 *   byte 1      service: s3, sqs, ec2, execute-api or "" (always invalid)
 *   bytes 2-5   signing time, Unix seconds, little endian
 *   bytes 6-7   expires_s, little endian (0 = default; over the maximum is
 *               refused)
 *   then lines  method, path, query, headers ("name:value", a line without
 *               ':' is a name with an empty value) up to an empty line;
 *               the rest is the body
 *
 * A Host header is added when the input has none, so most inputs sign.
 * Beyond "never crash, never leak": signing is a pure function (the same
 * input signed twice gives the same strings), a signature is 64 lower-case
 * hex digits and is what the Authorization header or the query carries, and a
 * failed signing leaves the result empty.
 */
#include "fuzz.h"

#include "cloudrec/sigv4.h"
#include "aws/sigv4_internal.h"

#include <string.h>
#include <strings.h>

#define MAX_HEADERS 64
#define SETTINGS_BYTES 8

static const char *const services[] = {"s3", "sqs", "ec2", "execute-api", ""};

struct parsed {
    char *text; /* owned copy of the input after the settings, NUL-split */
    struct cr_sigv4_request req;
    struct cr_sigv4_params params;
    struct cr_http_header headers[MAX_HEADERS + 1];
};

/* Cuts the next '\n'-terminated line off *cursor (up to end) and returns it
 * NUL-terminated; the last line may lack its '\n'. */
static char *next_line(char **cursor, char *end)
{
    char *line = *cursor;
    char *nl = line < end ? memchr(line, '\n', (size_t)(end - line)) : NULL;
    if (nl) {
        *nl = '\0';
        *cursor = nl + 1;
    } else {
        *cursor = end;
    }
    return line;
}

static uint32_t le32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Reads the settings bytes into p->params. */
static void read_settings(const uint8_t s[SETTINGS_BYTES], struct parsed *p)
{
    p->params = (struct cr_sigv4_params){
        .access_key_id = "AKIDEXAMPLE",
        .secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        .session_token = (s[0] & 0x40) ? "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22" : NULL,
        .region = "us-east-1",
        .service = services[s[1] % (sizeof(services) / sizeof(services[0]))],
        .time_s = (int64_t)le32(s + 2),
        .location = (s[0] & 1) ? CR_SIGV4_LOCATION_QUERY : CR_SIGV4_LOCATION_HEADER,
        .expires_s = (int64_t)(s[6] | s[7] << 8) * 16,
        .path_rules = (enum cr_sigv4_path_rules)((s[0] >> 1) & 3),
        .content_sha256 = (enum cr_sigv4_content_sha256)(((s[0] >> 3) & 3) % 3),
        .omit_session_token = (s[0] >> 5) & 1,
    };
    if (s[0] & 0x80)
        p->req.payload_hash = CR_SIGV4_UNSIGNED_PAYLOAD;
}

/* Splits text (len bytes, NUL-terminated after) into the request fields. */
static void read_request(char *text, size_t len, struct parsed *p)
{
    char *cur = text, *end = text + len;
    int have_host = 0;
    p->req.method = next_line(&cur, end);
    p->req.path = next_line(&cur, end);
    p->req.query = next_line(&cur, end);
    while (cur < end && *cur != '\n' && p->req.num_headers < MAX_HEADERS) {
        char *line = next_line(&cur, end), *colon = strchr(line, ':');
        if (colon)
            *colon = '\0';
        p->headers[p->req.num_headers++] = (struct cr_http_header){line, colon ? colon + 1 : ""};
        have_host |= strcasecmp(line, "host") == 0;
    }
    if (cur < end && *cur == '\n')
        cur++;
    if (!have_host)
        p->headers[p->req.num_headers++] = (struct cr_http_header){"Host", "example.amazonaws.com"};
    p->req.headers = p->headers;
    p->req.body = cur;
    p->req.body_len = (size_t)(end - cur);
}

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int is_signature(const char *s)
{
    if (!s || strlen(s) != CR_SIGV4_SIGNATURE_LEN - 1)
        return 0;
    return strspn(s, "0123456789abcdef") == CR_SIGV4_SIGNATURE_LEN - 1;
}

/* Checks what one successful signing must hold. */
static void check_result(const struct cr_sigv4_params *params, const struct cr_sigv4_result *r)
{
    FUZZ_REQUIRE(is_signature(r->signature), "a signature is 64 lower-case hex digits");
    FUZZ_REQUIRE(r->canonical_request && r->string_to_sign && r->signed_headers,
                 "every intermediate string is returned");
    if (params->location == CR_SIGV4_LOCATION_HEADER) {
        FUZZ_REQUIRE(r->authorization && strstr(r->authorization, r->signature),
                     "the Authorization header carries the signature");
        FUZZ_REQUIRE(r->num_headers >= 2 && r->num_headers <= CR_SIGV4_MAX_HEADERS,
                     "header signing asks for X-Amz-Date and Authorization");
    } else {
        /* The caller's own query may hold anything, "X-Amz-Signature=" too,
         * so only the end says where the signature is. */
        char tail[CR_SIGV4_SIGNATURE_LEN + 32];
        snprintf(tail, sizeof(tail), "&X-Amz-Signature=%s", r->signature);
        size_t qlen = r->query ? strlen(r->query) : 0, tlen = strlen(tail);
        FUZZ_REQUIRE(qlen > tlen && strcmp(r->query + qlen - tlen, tail) == 0,
                     "a presigned query ends with the signature");
    }
}

static void check_same(const struct cr_sigv4_result *a, const struct cr_sigv4_result *b)
{
    FUZZ_REQUIRE(same(a->canonical_request, b->canonical_request) &&
                     same(a->string_to_sign, b->string_to_sign) &&
                     same(a->signed_headers, b->signed_headers) &&
                     same(a->signature, b->signature) &&
                     same(a->authorization, b->authorization) && same(a->query, b->query),
                 "signing the same request twice gives the same result");
}

/* The helpers beside cr_sigv4_sign: a string and an aws-chunked chunk. */
static void sign_extras(const struct parsed *p, const char *seed)
{
    char sig1[CR_SIGV4_SIGNATURE_LEN], sig2[CR_SIGV4_SIGNATURE_LEN];
    if (cr_sigv4_sign_string(&p->params, p->req.body, p->req.body_len, sig1, NULL) == CR_OK) {
        FUZZ_REQUIRE(is_signature(sig1), "a string signature is 64 hex digits");
    }
    struct cr_buf sts;
    cr_buf_init(&sts, 0);
    if (cr_sigv4_sign_chunk(&p->params, seed, p->req.body, p->req.body_len, sig1, &sts, NULL) ==
        CR_OK) {
        FUZZ_REQUIRE(cr_sigv4_sign_chunk(&p->params, seed, p->req.body, p->req.body_len, sig2,
                                         NULL, NULL) == CR_OK &&
                         strcmp(sig1, sig2) == 0,
                     "a chunk signs the same twice");
    }
    cr_buf_free(&sts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t settings[SETTINGS_BYTES] = {0};
    size_t nset = size < SETTINGS_BYTES ? size : SETTINGS_BYTES;
    memcpy(settings, data, nset);
    struct parsed p;
    memset(&p, 0, sizeof(p));
    size_t len = size - nset;
    if (!(p.text = malloc(len + 1)))
        return 0;
    memcpy(p.text, data + nset, len);
    p.text[len] = '\0';
    read_settings(settings, &p);
    read_request(p.text, len, &p);

    struct cr_sigv4_result a = {0}, b = {0};
    cr_status st1 = cr_sigv4_sign(&p.req, &p.params, &a, NULL);
    cr_status st2 = cr_sigv4_sign(&p.req, &p.params, &b, NULL);
    FUZZ_REQUIRE(st1 == st2, "signing the same request twice gives the same status");
    if (st1 == CR_OK) {
        check_result(&p.params, &a);
        check_same(&a, &b);
        sign_extras(&p, a.signature);
    } else {
        FUZZ_REQUIRE(st1 == CR_ERR_INVALID, "signing fails only on invalid input");
        FUZZ_REQUIRE(!a.canonical_request && !a.signature && !a.authorization && !a.query,
                     "a failed signing leaves the result empty");
    }
    cr_sigv4_result_free(&a);
    cr_sigv4_result_free(&b);
    free(p.text);
    return 0;
}
