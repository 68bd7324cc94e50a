/*
 * cloudrec/sigv4.h - AWS Signature Version 4 (AWS4-HMAC-SHA256) as pure
 * functions.
 *
 * The signer reads no clock, no environment and no files: the credentials,
 * the time and the request are inputs, and every intermediate string
 * (canonical request, string to sign) comes back so a failed signature can be
 * diagnosed. The rules implemented, and how they are tested against the AWS
 * vectors, are in docs/sigv4.md. All functions are thread-safe (they touch no
 * shared state).
 */
#ifndef CLOUDREC_SIGV4_H
#define CLOUDREC_SIGV4_H

#include "cloudrec/core.h"
#include "cloudrec/http.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CR_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define CR_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define CR_SIGV4_STREAMING_PAYLOAD "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
/* 64 lower-case hex digits and the NUL. */
#define CR_SIGV4_SIGNATURE_LEN (2 * CR_SHA256_LEN + 1)
/* X-Amz-Expires used for query signing when expires_s is 0, and the maximum
 * AWS accepts (seven days). */
#define CR_SIGV4_DEFAULT_EXPIRES_S 3600
#define CR_SIGV4_MAX_EXPIRES_S 604800
/* The most headers a signature asks the caller to set. */
#define CR_SIGV4_MAX_HEADERS 4

/* Where the signature travels. */
enum cr_sigv4_location {
    CR_SIGV4_LOCATION_HEADER = 0, /* Authorization header (plus X-Amz-Date ...) */
    CR_SIGV4_LOCATION_QUERY = 1,  /* presigned URL: X-Amz-* query parameters */
};

/* How the request path becomes the canonical URI. */
enum cr_sigv4_path_rules {
    /* CR_SIGV4_PATH_S3 when the service is "s3", CR_SIGV4_PATH_NORMALIZE
     * otherwise. */
    CR_SIGV4_PATH_AUTO = 0,
    /* Every service but S3: drop empty and "." segments, resolve "..", then
     * percent-encode the path as written, so an existing %XX becomes %25XX
     * ("double encoding"). */
    CR_SIGV4_PATH_NORMALIZE = 1,
    /* Like CR_SIGV4_PATH_NORMALIZE without the normalisation. */
    CR_SIGV4_PATH_AS_WRITTEN = 2,
    /* S3: no normalisation; each segment is decoded and encoded once, so
     * "/a$b" and "/a%24b" both give "/a%24b" and an encoded %2F stays. */
    CR_SIGV4_PATH_S3 = 3,
};

/* Whether the signer adds and signs an x-amz-content-sha256 header. */
enum cr_sigv4_content_sha256 {
    /* Yes for header signing when the service is "s3" (S3 requires it). */
    CR_SIGV4_CONTENT_SHA256_AUTO = 0,
    CR_SIGV4_CONTENT_SHA256_ADD = 1, /* header signing only; ignored for query */
    CR_SIGV4_CONTENT_SHA256_OMIT = 2,
};

/*
 * The request to sign. Everything is borrowed for the duration of the call.
 *
 * `headers` are the headers that will be sent and signed; Host is required.
 * Each is signed except Authorization, X-Amz-Date (always taken from the
 * time), and X-Amz-Security-Token and x-amz-content-sha256 when the signer
 * sets them itself: such input copies are ignored, and the caller sends the
 * result's headers in their place. Header values may hold folded lines.
 */
struct cr_sigv4_request {
    const char *method; /* "GET", "PUT", ... as sent */
    const char *path;   /* as on the wire, may hold %XX escapes; NULL or "" = "/" */
    const char *query;  /* as on the wire, without '?'; NULL or "" = none */
    const struct cr_http_header *headers;
    size_t num_headers;
    const void *body; /* hashed when payload_hash is NULL */
    size_t body_len;
    /* NULL: hex SHA-256 of the body, or UNSIGNED-PAYLOAD for S3 query
     * signing. Otherwise used verbatim (a precomputed hex digest,
     * CR_SIGV4_UNSIGNED_PAYLOAD, CR_SIGV4_STREAMING_PAYLOAD). */
    const char *payload_hash;
};

/* Credentials and settings; zero fields mean the defaults stated. Borrowed. */
struct cr_sigv4_params {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL or "" when the credentials have none */
    const char *region;        /* "us-east-1" */
    const char *service;       /* signing name: "s3", "sqs", "ec2", ... */
    int64_t time_s;            /* signing time, Unix epoch seconds (UTC) */
    enum cr_sigv4_location location;
    int64_t expires_s; /* query signing: X-Amz-Expires, 0 = 3600, max 604800 */
    enum cr_sigv4_path_rules path_rules;
    enum cr_sigv4_content_sha256 content_sha256;
    /* Non-zero: the session token is sent but not signed (it is added after
     * the signature is computed), for services that want it that way. */
    int omit_session_token;
};

/*
 * What signing produced. Every string is owned by the result and released by
 * cr_sigv4_result_free; `headers` point into the result's own strings.
 */
struct cr_sigv4_result {
    char *canonical_request;
    char *string_to_sign;
    char *signed_headers;   /* "host;x-amz-date" */
    char *signature;        /* 64 lower-case hex digits */
    char *credential_scope; /* "20150830/us-east-1/service/aws4_request" */
    char *amz_date;         /* "20150830T123600Z" */
    char *payload_hash;     /* last line of the canonical request */
    /* Header signing: the Authorization value; NULL for query signing. */
    char *authorization;
    /* Query signing: the whole query string to send, without '?': the
     * request's own query followed by the X-Amz-* parameters, signature
     * last. NULL for header signing. */
    char *query;
    /* Header signing: the headers to set on the request, each replacing any
     * header of the same name: X-Amz-Date, X-Amz-Security-Token (when there
     * is a token), x-amz-content-sha256 (when added), Authorization. Empty
     * for query signing. */
    struct cr_http_header headers[CR_SIGV4_MAX_HEADERS];
    size_t num_headers;
    /* Private copy of the session token that headers[] may point to. */
    char *session_token;
};

/*
 * Signs req with p and fills *out, which the caller releases with
 * cr_sigv4_result_free (also after a failure, when it is left empty).
 * CR_ERR_INVALID for a missing credential, region, service, method or Host
 * header, a time outside years 1970-9999 or expires_s out of range;
 * CR_ERR_NOMEM on allocation failure. Detail goes to err when non-NULL.
 */
CR_API cr_status cr_sigv4_sign(const struct cr_sigv4_request *req, const struct cr_sigv4_params *p,
                               struct cr_sigv4_result *out, struct cr_error *err);

/* Releases the strings of a result and empties it. Accepts NULL. */
CR_API void cr_sigv4_result_free(struct cr_sigv4_result *res);

#ifdef __cplusplus
}
#endif
#endif
