/*
 * aws_impl.h - private to the sources in libcloudrec/aws/: the layout of struct cr_aws
 * and the instance-metadata client. Service modules use aws_internal.h.
 */
#ifndef CLOUDREC_AWS_IMPL_H
#define CLOUDREC_AWS_IMPL_H

#include "aws/aws_internal.h"

/* IMDSv2 defaults: token lifetime asked for, and the client's timeouts
 * (short: off EC2 the address does not answer and nothing should hang). */
#define CR__IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"
#define CR__IMDS_DEFAULT_TOKEN_TTL_S 21600
#define CR__IMDS_CONNECT_TIMEOUT_MS 1000L
#define CR__IMDS_TIMEOUT_MS 3000L

struct cr__imds;

/* A client for the metadata service at endpoint; tokens are asked for with
 * token_ttl_s (0 = default) and renewed before they lapse. */
cr_status cr__imds_new(const char *endpoint, int token_ttl_s, struct cr__imds **out,
                       struct cr_error *err);

/* Frees the client and wipes its token. Accepts NULL. */
void cr__imds_free(struct cr__imds *m);

/* Fetches the instance role's credentials into out (replacing its contents).
 * CR_ERR_AUTH when the instance has no role; CR_ERR_NETWORK/TIMEOUT when the
 * service cannot be reached. */
cr_status cr__imds_fetch(struct cr__imds *m, struct cr__aws_creds *out, struct cr_error *err);

enum cr__creds_kind { CR__CREDS_STATIC = 1, CR__CREDS_IMDS = 2 };

struct cr_aws {
    char region[64];
    char *endpoint_url; /* the option's copy, or NULL */
    int s3_path_style;
    int max_attempts;
    long base_backoff_ms;
    long max_backoff_ms;
    size_t max_response_bytes;
    int refresh_margin_s;
    cr_aws_sleep_fn sleep_fn;
    void *sleep_userdata;
    cr_aws_random_fn random_fn;
    void *random_userdata;
    uint64_t rng_state; /* for the default generator */
    struct cr__http_client *http;
    enum cr__creds_kind kind;
    struct cr__aws_creds creds; /* empty until IMDS answered */
    struct cr__imds *imds;      /* when kind == CR__CREDS_IMDS */
};

#endif
