/*
 * cloudrec/aws.h - an AWS context: region, credentials chain, endpoints,
 * timeouts and retries, shared by the S3, SQS and EC2 calls.
 *
 * A cr_aws holds one HTTP connection (reused between requests) and the
 * credentials it resolved. It is not thread-safe: open one per thread.
 * Opening does no network I/O; credentials from instance metadata are fetched
 * on first use and refreshed before they
 * expire. Secrets are never logged, never put in error messages and are wiped
 * from memory when released. docs/aws.md describes the lookup rules.
 */
#ifndef CLOUDREC_AWS_H
#define CLOUDREC_AWS_H

#include "cloudrec/core.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cr_aws;

/* Sleeps ms milliseconds between retries. Tests install one that records. */
typedef void (*cr_aws_sleep_fn)(void *userdata, int64_t ms);

/* Returns 64 uniformly random bits for the backoff jitter. */
typedef uint64_t (*cr_aws_random_fn)(void *userdata);

/*
 * Settings for cr_aws_open. Zero or NULL fields take the default stated; fill
 * it with a designated initialiser. Everything is copied by cr_aws_open.
 */
struct cr_aws_options {
    /* NULL: $AWS_REGION, $AWS_DEFAULT_REGION, then the profile's region in
     * the config file. cr_aws_open fails if none is found. */
    const char *region;
    /* NULL: $AWS_PROFILE, then "default". A profile named here is used
     * before credentials from the environment (like `aws --profile`). */
    const char *profile;
    /* Explicit credentials, used before any other source. Both or neither;
     * the session token is optional. */
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;
    /* Endpoint for every service ("http://127.0.0.1:5000"). NULL:
     * $AWS_ENDPOINT_URL_S3 / _SQS / _EC2, then $AWS_ENDPOINT_URL, then the
     * AWS endpoint of the region. A custom endpoint implies S3 path-style
     * addressing (http://host:port/bucket/key). */
    const char *endpoint_url;
    /* Non-zero: S3 path-style addressing on AWS endpoints too. */
    int s3_path_style;
    /* Instance metadata (IMDSv2). NULL: $AWS_EC2_METADATA_SERVICE_ENDPOINT,
     * then http://169.254.169.254. */
    const char *imds_endpoint;
    /* Non-zero: never ask instance metadata for credentials (also when
     * $AWS_EC2_METADATA_DISABLED is "true"). */
    int imds_disabled;
    int imds_token_ttl_s; /* lifetime asked for an IMDSv2 token; 0 = 21600 */
    /* Expiring credentials are refreshed this long before they expire;
     * 0 = 300 (five minutes). */
    int credentials_refresh_margin_s;
    long connect_timeout_ms; /* 0 = 5000 */
    long timeout_ms;         /* a whole request; 0 = 60000 */
    /* Tries per request, the first included; 0 = 3, 1 = never retry. */
    int max_attempts;
    /* Retry n (0-based) waits a random time in [0, min(max, base * 2^n)]
     * ("full jitter"). 0 = 100 and 20000. */
    long base_backoff_ms;
    long max_backoff_ms;
    size_t max_response_bytes; /* bound on a response body; 0 = 64 MiB */
    /* NULL: nanosleep and an internal generator seeded from the OS. */
    cr_aws_sleep_fn sleep_fn;
    void *sleep_userdata;
    cr_aws_random_fn random_fn;
    void *random_userdata;
};

/*
 * Creates a context from opts (NULL = all defaults) into *out, released with
 * cr_aws_free. Resolves the region and the static credential sources
 * (explicit, profile, environment); no network I/O. CR_ERR_INVALID for a bad
 * option or no region, CR_ERR_AUTH for a named profile that does not exist
 * or incomplete credentials, CR_ERR_IO for an unreadable profile file.
 */
CR_API cr_status cr_aws_open(const struct cr_aws_options *opts, struct cr_aws **out,
                             struct cr_error *err);

/*
 * cr_aws_open with the options given as a NULL-terminated array of
 * "name=value" strings (NULL = all defaults), for bindings that cannot lay
 * out struct cr_aws_options: the names are its fields' ("region",
 * "endpoint_url", "timeout_ms", "max_attempts", ...; all but the callbacks),
 * numbers are decimal. A name given twice keeps the last value.
 * CR_ERR_INVALID names a setting without '=', an unknown name or a bad
 * number; otherwise the errors of cr_aws_open.
 */
CR_API cr_status cr_aws_open_settings(const char *const *settings, struct cr_aws **out,
                                      struct cr_error *err);

/* Closes the connection and wipes the credentials. Accepts NULL. */
CR_API void cr_aws_free(struct cr_aws *aws);

/* The region in use ("us-east-1"). Valid until cr_aws_free. */
CR_API const char *cr_aws_region(const struct cr_aws *aws);

/*
 * Where the credentials come from, for --verbose output; never a secret:
 * "explicit", "environment", "profile:NAME", "imds" (not fetched yet),
 * "imds:ROLE", or "none". Valid until the next call that uses aws.
 */
CR_API const char *cr_aws_credentials_source(const struct cr_aws *aws);

#ifdef __cplusplus
}
#endif
#endif
