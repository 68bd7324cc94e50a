/*
 * aws_internal.h - the AWS transport shared by the S3, SQS and EC2 modules;
 * internal (cr__ names, never exported).
 *
 * One call does everything a service request needs:
 *
 *   cr__aws_send(aws, &req, &resp, err)
 *
 * resolves the endpoint (AWS_ENDPOINT_URL* overrides, S3 virtual-host or
 * path-style), gets credentials (refreshing instance-metadata credentials
 * before they expire), signs with SigV4 (S3 rules and x-amz-content-sha256
 * for "s3"), sends over the context's reused connection, retries throttling,
 * 5xx and connection failures with capped exponential backoff and full
 * jitter, and turns an error answer into a cr_status plus detail in err.
 *
 * Example, an S3 PUT and an SQS query call:
 *
 *   struct cr_http_header h[] = {{"Content-Type", "image/jpeg"}};
 *   struct cr__aws_request req = {
 *       .service = "s3", .method = "PUT", .bucket = "inputs",
 *       .path = "/test_0.JPEG",          // already URI-encoded
 *       .headers = h, .num_headers = 1, .body = data, .body_len = len};
 *   struct cr__aws_response resp = {0};
 *   cr_status st = cr__aws_send(aws, &req, &resp, err);
 *   const char *etag = cr__aws_response_header(&resp, "ETag");
 *   cr__aws_response_free(&resp);
 *
 *   struct cr_buf form; cr_buf_init(&form, 0);
 *   cr__aws_query_add(&form, "Action", "GetQueueUrl");
 *   cr__aws_query_add(&form, "QueueName", "requests");
 *   cr__aws_query_add(&form, "Version", "2012-11-05");
 *   struct cr__aws_request q = {.service = "sqs", .method = "POST", .path = "/",
 *                               .body = form.data, .body_len = form.len};
 *   ... cr__aws_send(aws, &q, &resp, err); parse resp.http.body with aws/xml.h
 *
 * SQS calls on a queue POST to "/" with a QueueUrl parameter: that works
 * against AWS and moto whatever host the queue URL names.
 *
 * Nothing here is thread-safe beyond what aws.h says: one cr_aws per thread.
 */
#ifndef CLOUDREC_AWS_INTERNAL_H
#define CLOUDREC_AWS_INTERNAL_H

#include "cloudrec/aws.h"
#include "cloudrec/core.h"
#include "cloudrec/http.h"
#include "cloudrec/sqs.h"
#include "net/http.h"

#include <stddef.h>
#include <stdint.h>

/* ---- sending requests ---------------------------------------------------- */

/*
 * One service request; everything is borrowed for the call.
 *
 * The URL is <endpoint>[/<bucket>]<path>[?<query>] for path-style, or
 * https://<bucket>.s3.<region>.amazonaws.com<path> for S3 virtual-host
 * addressing (AWS endpoint, DNS-compatible bucket without dots, and the
 * s3_path_style option off). A custom endpoint always gives path-style.
 */
struct cr__aws_request {
    const char *service; /* "s3", "sqs", "ec2": endpoint key and signing name */
    const char *method;  /* "GET", "PUT", "POST", "HEAD", "DELETE" */
    /* S3: the bucket, or NULL for calls on the service itself. */
    const char *bucket;
    /* The path below the bucket (or endpoint), already URI-encoded, starting
     * with '/': "/test_0.JPEG". NULL means the bucket itself ("/bucket"
     * path-style, "/" virtual-host) or "/" without a bucket. */
    const char *path;
    /* Already-encoded query without '?', in any order; NULL = none. Build it
     * with cr__aws_query_add. */
    const char *query;
    /* Extra headers to send and sign (Content-Type, x-amz-meta-*, ...).
     * Never Host, Authorization or X-Amz-Date: the transport sets those. A
     * POST to a service other than S3 without Content-Type gets
     * "application/x-www-form-urlencoded; charset=utf-8". */
    const struct cr_http_header *headers;
    size_t num_headers;
    const void *body;
    size_t body_len;
    /* 0 = the context's settings. An SQS long poll needs timeout_ms above
     * its wait time. */
    long timeout_ms;
    size_t max_response_bytes;
};

/*
 * The final answer. Zero-initialise before the first cr__aws_send; each send
 * empties it first; release with cr__aws_response_free. http.status is 0 when
 * no answer arrived at all. On a non-2xx answer the body (the XML error) and
 * headers are still here, and err holds the parsed detail.
 */
struct cr__aws_response {
    struct cr__http_response http; /* status, body (bounded), headers */
    int attempts;                  /* tries made, 1 when the first succeeded */
    /* x-amz-request-id, x-amzn-RequestId, or the error body's RequestId. */
    char request_id[128];
};

/*
 * Sends req with aws (see the top of this file) and fills *resp. CR_OK for
 * a 2xx answer. Otherwise, after retries where they apply:
 *  - CR_ERR_NOT_FOUND: NoSuchKey, NoSuchBucket, NoSuch*, *.NotFound,
 *    AWS.SimpleQueueService.NonExistentQueue, QueueDoesNotExist, or a 404
 *    without a body (S3 HEAD);
 *  - CR_ERR_THROTTLED: a throttling code or HTTP 429 on the last try;
 *  - CR_ERR_AUTH: SignatureDoesNotMatch, InvalidClientTokenId, AccessDenied,
 *    AuthFailure, InvalidAccessKeyId, ExpiredToken..., a bare 403, or no
 *    credentials at all;
 *  - CR_ERR_EXISTS: BucketAlreadyOwnedByYou, BucketAlreadyExists,
 *    QueueAlreadyExists (callers decide whether that is success);
 *  - CR_ERR_AWS: any other error answer (5xx included);
 *  - CR_ERR_NETWORK / CR_ERR_TIMEOUT: no answer; CR_ERR_TOO_LARGE: the body
 *    passed its bound (never retried).
 * err gets http_status, aws_code, request_id and a message
 * "s3 PUT /bucket/key: NoSuchBucket: The specified bucket does not exist".
 */
cr_status cr__aws_send(struct cr_aws *aws, const struct cr__aws_request *req,
                       struct cr__aws_response *resp, struct cr_error *err);

/* Releases the response's memory; it is left empty and reusable. Accepts
 * NULL. */
void cr__aws_response_free(struct cr__aws_response *resp);

/* The first response header named name (any case), or NULL. Valid until the
 * response is reused or freed. */
const char *cr__aws_response_header(const struct cr__aws_response *resp, const char *name);

/*
 * Appends "name=value" to a query string or form body, both percent-encoded
 * as SigV4 expects (RFC 3986, '/' encoded too), with '&' before it unless
 * out is empty. For SQS/EC2 query API bodies and S3 query strings.
 */
cr_status cr__aws_query_add(struct cr_buf *out, const char *name, const char *value);

/* The context's region (same as cr_aws_region). */
const char *cr__aws_region(const struct cr_aws *aws);

/* ---- errors ----------------------------------------------------------------
 * Exposed so that services and tests can use the same tables. */

/* Parses an error answer (S3 <Error>, SQS <ErrorResponse><Error>, EC2
 * <Response><Errors><Error>, any namespace) into err: http_status, aws_code,
 * request_id (the body's RequestId/RequestID, else request_id_header) and
 * message "Code: Message". A body that is empty or not XML leaves the code
 * empty. Returns the mapped status (cr__aws_status_for); err may be NULL. */
cr_status cr__aws_parse_error(long http_status, const void *body, size_t len,
                              const char *request_id_header, struct cr_error *err);

/* Maps a final answer to a status, from the error code when there is one,
 * else from the HTTP status (404 NOT_FOUND, 401/403 AUTH, 429 THROTTLED,
 * other non-2xx AWS). */
cr_status cr__aws_status_for(long http_status, const char *aws_code);

/* 1 when code is a throttling error code (Throttling, ThrottlingException,
 * RequestLimitExceeded, SlowDown, TooManyRequestsException, ...). */
int cr__aws_is_throttle_code(const char *code);

/* 1 when an answer with this status and code is worth another try:
 * throttling codes, 429, 5xx, and transient codes (RequestTimeout,
 * InternalError, ServiceUnavailable). */
int cr__aws_is_retryable(long http_status, const char *aws_code);

/* The wait before retry number `retry` (0 for the first retry): random
 * scaled uniformly into [0, min(max_ms, base_ms * 2^retry)]. Pure. */
int64_t cr__aws_backoff_ms(int retry, long base_ms, long max_ms, uint64_t random);

/* ---- endpoints -------------------------------------------------------------*/

/* Where a service lives. base has no trailing '/' and may carry a path
 * prefix for custom endpoints. */
struct cr__aws_endpoint {
    char base[512];
    int custom; /* from the option or an AWS_ENDPOINT_URL* variable */
};

/* Resolves the endpoint of service: option_url, $AWS_ENDPOINT_URL_<SERVICE>
 * (upper-case), $AWS_ENDPOINT_URL, then https://<service>.<region>.amazonaws.com
 * (.com.cn in China regions). CR_ERR_INVALID for a URL that is not http(s)
 * or carries user info, a query or a fragment. */
cr_status cr__aws_endpoint_resolve(const char *service, const char *region,
                                   const char *option_url, struct cr__aws_endpoint *out,
                                   struct cr_error *err);

/* Composes the URL, the Host header and the path as sent (what is signed)
 * for a request on ep (see struct cr__aws_request for the rules). Appends to
 * the three buffers. */
cr_status cr__aws_compose_url(const struct cr__aws_endpoint *ep, int force_path_style,
                              const char *bucket, const char *path, const char *query,
                              struct cr_buf *url, struct cr_buf *host, struct cr_buf *wire_path);

/* 1 when bucket can be a host name label for virtual-host addressing over
 * https: 3-63 of [a-z0-9-], starting and ending with a letter or digit. */
int cr__aws_bucket_virtual_ok(const char *bucket);

/* ---- credentials and configuration ----------------------------------------*/

/* A set of credentials. Strings are owned and wiped by cr__aws_creds_wipe. */
struct cr__aws_creds {
    char *access_key_id; /* NULL when the set is empty */
    char *secret_access_key;
    char *session_token; /* NULL if none */
    int64_t expiration_s; /* Unix seconds; 0 = does not expire */
    char source[96];      /* "environment", "profile:dev", "imds:role", ... */
};

/* Copies the given strings into c (replacing and wiping what it held). */
cr_status cr__aws_creds_set(struct cr__aws_creds *c, const char *id, const char *secret,
                            const char *token, int64_t expiration_s, const char *source);

/* Wipes and frees the strings; c is left empty. Accepts NULL. */
void cr__aws_creds_wipe(struct cr__aws_creds *c);

/* One profile's settings read from the shared files. Owned strings. */
struct cr__aws_profile {
    int found; /* a section for the profile exists */
    char *access_key_id;
    char *secret_access_key;
    char *session_token;
    char *region;
};

/* Reads profile `name` from the text of a credentials file ([name]
 * sections) or, with config_style, a config file ([profile name], and
 * [default] or [profile default]). Values found are merged into out
 * (existing ones are replaced). Full-line '#' and ';' comments; indented
 * sub-settings are skipped. */
cr_status cr__aws_profile_parse(const char *text, size_t len, int config_style, const char *name,
                                struct cr__aws_profile *out);

/* Wipes and frees a profile's strings. Accepts NULL. */
void cr__aws_profile_wipe(struct cr__aws_profile *p);

/* What the environment, the options and the shared files resolve to, before
 * any network I/O. */
struct cr__aws_resolved {
    char region[64];
    char profile[128];
    /* Empty (access_key_id NULL) when the chain continues at IMDS. */
    struct cr__aws_creds creds;
    int imds_enabled;
    char imds_endpoint[256];
};

/*
 * Runs the static part of the chain for opts: region (option, AWS_REGION,
 * AWS_DEFAULT_REGION, profile's config region), credentials (explicit,
 * named profile, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN,
 * AWS_PROFILE or default profile from AWS_SHARED_CREDENTIALS_FILE /
 * ~/.aws/credentials and AWS_CONFIG_FILE / ~/.aws/config), and the IMDS
 * settings. Release out with cr__aws_resolved_wipe, also after a failure.
 */
cr_status cr__aws_resolve(const struct cr_aws_options *opts, struct cr__aws_resolved *out,
                          struct cr_error *err);

void cr__aws_resolved_wipe(struct cr__aws_resolved *r);

/* Parses the instance-metadata credentials document (JSON with AccessKeyId,
 * SecretAccessKey, Token, Expiration, optional Code) into out, with source
 * "imds:<role>". CR_ERR_FORMAT for a malformed document, CR_ERR_AUTH for a
 * Code other than Success. */
cr_status cr__imds_parse_credentials(const char *json, size_t len, const char *role,
                                     struct cr__aws_creds *out, struct cr_error *err);

/* ---- the context (aws.c): calls the library's programs and tests use -----*/

/*
 * Makes sure usable credentials are at hand, fetching them from instance
 * metadata when that is the source. Lets a program fail at start-up rather
 * than on its first request. CR_ERR_AUTH when there are none.
 */
cr_status cr_aws_resolve_credentials(struct cr_aws *aws, struct cr_error *err);

/*
 * Appends the endpoint used for service ("s3", "sqs", "ec2") to out, e.g.
 * "https://sqs.eu-west-1.amazonaws.com" or "http://127.0.0.1:5000".
 */
cr_status cr_aws_endpoint(const struct cr_aws *aws, const char *service, struct cr_buf *out,
                          struct cr_error *err);

/* ---- SQS result lookups (sqs.c) ---------------------------------------------*/

/* The value of system attribute name of m ("SenderId"), or NULL. Valid
 * until the messages are freed. */
const char *cr_sqs_message_attribute(const struct cr_sqs_message *m, const char *name);

/* The value of attribute name, or NULL. Valid until the set is freed. */
const char *cr_sqs_queue_attribute(const struct cr_sqs_queue_attributes *attrs,
                                   const char *name);

#endif
