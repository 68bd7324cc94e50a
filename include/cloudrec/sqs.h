/*
 * cloudrec/sqs.h - Amazon SQS over the query API (form requests, XML
 * answers): create a queue, get its URL, send (one or a batch of ten),
 * receive (long poll up to 20 s, up to ten messages), delete (one or a
 * batch), change visibility, read attributes, purge.
 *
 * Every call takes an AWS context (cloudrec/aws.h) and, last, an optional
 * struct cr_error for detail. Nothing is thread-safe: one cr_aws per thread.
 * Queues are named by their URL (cr_sqs_create_queue and
 * cr_sqs_get_queue_url return it); the request goes to the context's SQS
 * endpoint whatever host the URL names.
 *
 * Ownership: arguments are borrowed for the call. Results are allocated by
 * the library and released with the matching *_free function (each accepts
 * NULL), or appended to the caller's struct cr_buf. On failure *out is NULL.
 *
 * Message bodies are text: SQS accepts UTF-8 with #x9, #xA, #xD and
 * characters from #x20 up, at most 256 KiB (262144 bytes). Encode binary
 * data (base64) first. docs/sqs.md has the details and the error table.
 */
#ifndef CLOUDREC_SQS_H
#define CLOUDREC_SQS_H

#include "cloudrec/aws.h"
#include "cloudrec/core.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CR_SQS_MAX_BATCH 10           /* entries in one batch, messages in one receive */
#define CR_SQS_MAX_WAIT_S 20          /* longest long poll */
#define CR_SQS_MAX_VISIBILITY_S 43200 /* 12 hours */
#define CR_SQS_MAX_BODY_BYTES 262144

/* Where a field's zero means "the default", this asks for a real 0 (a short
 * poll, a message visible again at once). */
#define CR_SQS_ZERO (-1)

/* One queue attribute for cr_sqs_create_queue's extra attributes. */
struct cr_sqs_attribute {
    const char *name; /* "DelaySeconds", "KmsMasterKeyId", ... */
    const char *value;
};

/* Options for cr_sqs_create_queue; zero fields are not sent (the queue gets
 * SQS's defaults: visibility 30 s, retention 4 days, no wait). */
struct cr_sqs_create_options {
    int visibility_timeout_s; /* 0..43200 (CR_SQS_ZERO for 0) */
    int message_retention_s;  /* 60..1209600 */
    int receive_wait_s;       /* default long poll, 0..20 */
    /* Redrive policy: messages received max_receive_count times move to the
     * queue with this ARN (cr_sqs_queue_attributes.queue_arn of the dead
     * letter queue). Both or neither. */
    const char *dead_letter_target_arn;
    int max_receive_count; /* 1..1000 */
    /* Any other attributes, sent as given. */
    const struct cr_sqs_attribute *attributes;
    size_t num_attributes;
};

/*
 * Creates queue `name` (or finds it, if it exists with the same attributes:
 * SQS makes that success) and appends its URL to url_out. CR_ERR_EXISTS
 * when a queue of that name exists with different attributes
 * (QueueAlreadyExists); CR_ERR_INVALID for a bad name or attribute value.
 */
CR_API cr_status cr_sqs_create_queue(struct cr_aws *aws, const char *name,
                                     const struct cr_sqs_create_options *opts,
                                     struct cr_buf *url_out, struct cr_error *err);

/* Appends the URL of queue `name` to url_out. CR_ERR_NOT_FOUND when there
 * is no such queue. */
CR_API cr_status cr_sqs_get_queue_url(struct cr_aws *aws, const char *name, struct cr_buf *url_out,
                                      struct cr_error *err);

/* Options for cr_sqs_send. */
struct cr_sqs_send_options {
    int delay_s; /* 0..900 before the message becomes visible; 0 = the queue's */
};

/*
 * Sends one message of len bytes (1..CR_SQS_MAX_BODY_BYTES). message_id_out
 * (optional) receives the new message's id. CR_ERR_NOT_FOUND: no such
 * queue; CR_ERR_INVALID: an empty or oversized body, characters SQS refuses.
 */
CR_API cr_status cr_sqs_send(struct cr_aws *aws, const char *queue_url, const void *body,
                             size_t len, const struct cr_sqs_send_options *opts,
                             struct cr_buf *message_id_out, struct cr_error *err);

/* One message of cr_sqs_send_batch. */
struct cr_sqs_send_entry {
    const void *body;
    size_t len;
    int delay_s; /* 0 = the queue's */
};

/* What happened to one entry of a batch call. Strings owned by the batch. */
struct cr_sqs_batch_result {
    int ok;           /* 1 done, 0 failed */
    char *message_id; /* send: the new message's id; NULL otherwise */
    char *code;       /* failed: SQS's code ("ReceiptHandleIsInvalid") */
    char *message;    /* failed: SQS's explanation */
    int sender_fault; /* failed: 1 when the request was wrong, 0 SQS's fault */
};

/* The outcome of a batch, in the order of the entries given. */
struct cr_sqs_batch {
    struct cr_sqs_batch_result *results; /* one per entry */
    size_t num_results;
    size_t num_failed;
};

/* Frees a batch outcome and its strings. Accepts NULL. */
CR_API void cr_sqs_batch_free(struct cr_sqs_batch *batch);

/*
 * Sends 1..CR_SQS_MAX_BATCH messages in one request. *out (optional, may be
 * NULL) gets one result per entry, also when some failed. CR_OK only when
 * every entry was sent; when some failed, the status of the first failure
 * (CR_ERR_INVALID for a bad body, else CR_ERR_AWS) with its code in err,
 * and *out says which.
 */
CR_API cr_status cr_sqs_send_batch(struct cr_aws *aws, const char *queue_url,
                                   const struct cr_sqs_send_entry *entries, size_t n,
                                   struct cr_sqs_batch **out, struct cr_error *err);

/* Options for cr_sqs_receive; zero fields take the defaults. */
struct cr_sqs_receive_options {
    int max_messages; /* 1..10; 0 = 1 */
    /* Long poll up to this long (1..20 s) for a first message; 0 = the
     * queue's ReceiveMessageWaitTimeSeconds; CR_SQS_ZERO = answer at once. */
    int wait_s;
    /* How long received messages stay invisible; 0 = the queue's visibility
     * timeout; CR_SQS_ZERO = visible again at once. */
    int visibility_timeout_s;
    /* Bound on the whole request; 0 = the wait (20 s when it is the
     * queue's) plus 15 s, so a long poll never times out by itself. */
    long timeout_ms;
};

/* One received message. Strings owned by the enclosing cr_sqs_messages. */
struct cr_sqs_message {
    char *message_id;
    char *receipt_handle; /* for delete and change visibility; new on each receive */
    char *body;           /* NUL-terminated */
    size_t body_len;
    char *md5_of_body;        /* hex MD5 of the body, as SQS computed it */
    int receive_count;        /* ApproximateReceiveCount; 1 on first delivery */
    int64_t sent_ms;          /* SentTimestamp, Unix milliseconds */
    int64_t first_receive_ms; /* ApproximateFirstReceiveTimestamp */
    /* Every system attribute SQS sent (the three above, SenderId, ...), as
     * name/value strings, attribute_names[i] = attribute_values[i]
     * for i < num_attributes. */
    char **attribute_names;
    char **attribute_values;
    size_t num_attributes;
};

/* The messages of one receive, possibly none. */
struct cr_sqs_messages {
    struct cr_sqs_message *messages;
    size_t count;
};

/* Frees received messages and their strings. Accepts NULL. */
CR_API void cr_sqs_messages_free(struct cr_sqs_messages *msgs);

/*
 * Receives up to max_messages messages into *out (count 0 when the wait
 * passed with none), asking for every system attribute. CR_ERR_NOT_FOUND:
 * no such queue; CR_ERR_INVALID: options out of range.
 */
CR_API cr_status cr_sqs_receive(struct cr_aws *aws, const char *queue_url,
                                const struct cr_sqs_receive_options *opts,
                                struct cr_sqs_messages **out, struct cr_error *err);

/*
 * Deletes the message received with receipt_handle. CR_ERR_INVALID for a
 * handle SQS does not recognise (ReceiptHandleIsInvalid), CR_ERR_NOT_FOUND
 * for no such queue. SQS accepts a handle whose message is already gone.
 */
CR_API cr_status cr_sqs_delete(struct cr_aws *aws, const char *queue_url,
                               const char *receipt_handle, struct cr_error *err);

/*
 * Deletes 1..CR_SQS_MAX_BATCH messages by receipt handle in one request.
 * Same reporting as cr_sqs_send_batch (a bad handle: CR_ERR_INVALID).
 */
CR_API cr_status cr_sqs_delete_batch(struct cr_aws *aws, const char *queue_url,
                                     const char *const *receipt_handles, size_t n,
                                     struct cr_sqs_batch **out, struct cr_error *err);

/*
 * Makes a received message invisible for visibility_timeout_s more seconds
 * from now (0 = visible at once). CR_ERR_INVALID for a bad handle or value,
 * CR_ERR_STATE when the message is not in flight (MessageNotInflight).
 */
CR_API cr_status cr_sqs_change_visibility(struct cr_aws *aws, const char *queue_url,
                                          const char *receipt_handle, int visibility_timeout_s,
                                          struct cr_error *err);

/* A queue's attributes. Numbers are -1 when SQS did not send them. */
struct cr_sqs_queue_attributes {
    long approximate_messages;             /* ApproximateNumberOfMessages (visible) */
    long approximate_messages_not_visible; /* ...NotVisible (in flight) */
    long approximate_messages_delayed;     /* ...Delayed */
    int visibility_timeout_s;
    int message_retention_s;
    int receive_wait_s;
    int delay_s;
    char *queue_arn;
    char *redrive_policy;         /* the JSON text, NULL without one */
    char *dead_letter_target_arn; /* parsed from it */
    int max_receive_count;        /* parsed from it; 0 without one */
    /* Every attribute as sent: names[i] = values[i] for i < count. */
    char **names;
    char **values;
    size_t count;
};

/* Frees an attribute set. Accepts NULL. */
CR_API void cr_sqs_queue_attributes_free(struct cr_sqs_queue_attributes *attrs);

/* Reads all of a queue's attributes into *out. CR_ERR_NOT_FOUND: no such
 * queue. */
CR_API cr_status cr_sqs_get_attributes(struct cr_aws *aws, const char *queue_url,
                                       struct cr_sqs_queue_attributes **out, struct cr_error *err);

/*
 * Deletes every message in the queue. SQS allows one purge per queue every
 * 60 seconds: a second one fails with CR_ERR_STATE
 * (AWS.SimpleQueueService.PurgeQueueInProgress).
 */
CR_API cr_status cr_sqs_purge(struct cr_aws *aws, const char *queue_url, struct cr_error *err);

#ifdef __cplusplus
}
#endif
#endif
