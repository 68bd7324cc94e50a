/*
 * aws_error.c - AWS error answers to cr_status and detail, which answers are
 * worth retrying, the backoff schedule, and query-string building. The
 * tables follow the codes S3, SQS and EC2 document.
 */
#include "aws/aws_internal.h"
#include "aws/xml.h"
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* Error codes that mean "slow down" (the AWS SDKs' standard list). */
static const char *const throttle_codes[] = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
};

/* Codes of answers that may succeed when sent again unchanged. */
static const char *const transient_codes[] = {
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
};

static const char *const not_found_codes[] = {
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "NotFound",
};

static const char *const auth_codes[] = {
    "SignatureDoesNotMatch",
    "InvalidClientTokenId",
    "AccessDenied",
    "AccessDeniedException",
    "AuthFailure",
    "InvalidAccessKeyId",
    "UnrecognizedClientException",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidToken",
    "MissingAuthenticationToken",
    "IncompleteSignature",
    "UnauthorizedOperation",
};

static const char *const exists_codes[] = {
    "BucketAlreadyOwnedByYou",
    "BucketAlreadyExists",
    "QueueAlreadyExists",
    "AWS.SimpleQueueService.QueueNameExists",
};

/* True when code is one of the n strings in list. */
static int in_list(const char *code, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(code, list[i]) == 0)
            return 1;
    return 0;
}

int cr__aws_is_throttle_code(const char *code)
{
    return code && in_list(code, throttle_codes, CR__ARRAY_LEN(throttle_codes));
}

/* NoSuchKey, NoSuchBucket, NoSuchUpload...; InvalidInstanceID.NotFound,
 * InvalidAMIID.NotFound...; and the SQS queue codes. */
static int is_not_found_code(const char *code)
{
    size_t n = strlen(code);
    return strncmp(code, "NoSuch", 6) == 0 ||
           (n > 9 && strcmp(code + n - 9, ".NotFound") == 0) ||
           in_list(code, not_found_codes, CR__ARRAY_LEN(not_found_codes));
}

cr_status cr__aws_status_for(long http_status, const char *aws_code)
{
    if (aws_code && aws_code[0]) {
        if (is_not_found_code(aws_code))
            return CR_ERR_NOT_FOUND;
        if (cr__aws_is_throttle_code(aws_code))
            return CR_ERR_THROTTLED;
        if (in_list(aws_code, auth_codes, CR__ARRAY_LEN(auth_codes)))
            return CR_ERR_AUTH;
        if (in_list(aws_code, exists_codes, CR__ARRAY_LEN(exists_codes)))
            return CR_ERR_EXISTS;
        return CR_ERR_AWS;
    }
    if (http_status >= 200 && http_status <= 299)
        return CR_OK;
    if (http_status == 404)
        return CR_ERR_NOT_FOUND;
    if (http_status == 401 || http_status == 403)
        return CR_ERR_AUTH;
    if (http_status == 429)
        return CR_ERR_THROTTLED;
    return CR_ERR_AWS;
}

int cr__aws_is_retryable(long http_status, const char *aws_code)
{
    if (aws_code && (cr__aws_is_throttle_code(aws_code) ||
                     in_list(aws_code, transient_codes, CR__ARRAY_LEN(transient_codes))))
        return 1;
    return http_status == 429 || http_status == 500 || http_status == 502 ||
           http_status == 503 || http_status == 504;
}

int64_t cr__aws_backoff_ms(int retry, long base_ms, long max_ms, uint64_t random)
{
    if (base_ms <= 0 || max_ms <= 0)
        return 0;
    int64_t ceiling = base_ms;
    for (int i = 0; i < retry && ceiling < max_ms; i++)
        ceiling *= 2;
    if (ceiling > max_ms)
        ceiling = max_ms;
    /* 53 random bits make a fraction in [0, 1); scaled to [0, ceiling]. */
    double frac = (double)(random >> 11) * (1.0 / 9007199254740992.0);
    int64_t d = (int64_t)(frac * (double)(ceiling + 1));
    return d > ceiling ? ceiling : d;
}

/* Fills err's code, message and request id from a parsed error document. */
static void error_from_doc(const struct cr__xml_doc *doc, struct cr_error *err)
{
    const struct cr__xml_node *root = cr__xml_root(doc);
    char message[sizeof(err->message)];
    cr__xml_find_text_copy(root, "Code", err->aws_code, sizeof(err->aws_code));
    cr__xml_find_text_copy(root, "Message", message, sizeof(message));
    if (!cr__xml_find_text_copy(root, "RequestId", err->request_id, sizeof(err->request_id)))
        cr__xml_find_text_copy(root, "RequestID", err->request_id, sizeof(err->request_id));
    if (!err->aws_code[0])
        return;
    /* "Code: Message", cut to fit: the message is for people. */
    cr__strlcpy(err->message, err->aws_code, sizeof(err->message));
    if (message[0]) {
        size_t n = strlen(err->message);
        cr__strlcpy(err->message + n, ": ", sizeof(err->message) - n);
        n = strlen(err->message);
        cr__strlcpy(err->message + n, message, sizeof(err->message) - n);
    }
}

cr_status cr__aws_parse_error(long http_status, const void *body, size_t len,
                              const char *request_id_header, struct cr_error *err)
{
    struct cr_error tmp;
    struct cr_error *e = err ? err : &tmp;
    cr_error_clear(e);
    e->http_status = http_status;
    struct cr__xml_doc *doc = NULL;
    if (body && len > 0 && cr__xml_parse(body, len, 0, &doc, NULL) == CR_OK)
        error_from_doc(doc, e);
    cr__xml_free(doc);
    if (!e->request_id[0] && request_id_header)
        cr__strlcpy(e->request_id, request_id_header, sizeof(e->request_id));
    if (!e->message[0])
        snprintf(e->message, sizeof(e->message), "HTTP status %ld", http_status);
    e->status = cr__aws_status_for(http_status, e->aws_code);
    return e->status;
}

cr_status cr__aws_query_add(struct cr_buf *out, const char *name, const char *value)
{
    cr_status st = out->len > 0 ? cr__buf_append(out, "&", 1) : CR_OK;
    if (st == CR_OK)
        st = cr__uri_encode(name, strlen(name), 0, out);
    if (st == CR_OK)
        st = cr__buf_append(out, "=", 1);
    if (st == CR_OK && value)
        st = cr__uri_encode(value, strlen(value), 0, out);
    return st;
}
