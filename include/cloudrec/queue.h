/*
 * cloudrec/queue.h - message queues chosen by URL, with SQS semantics.
 *
 *   sqlite:///abs/path/queue.db?name=requests   embedded, many processes at once
 *   sqs://queue-name                            Amazon SQS (AWS mode)
 *
 * Semantics every implementation keeps (the rest of the system relies on
 * them): a received message becomes invisible for the visibility timeout and
 * reappears, with its receive count incremented, unless deleted with the
 * receipt handle of that receive; a stale receipt (the message was received
 * again since) fails to delete with CR_ERR_STATE; receive long-polls up to
 * wait_ms for at least one message. Delivery is at-least-once.
 * A cr_queue is not thread-safe: open one per thread, and open new ones
 * after fork() rather than using the parent's. See docs/backends.md.
 */
#ifndef CLOUDREC_QUEUE_H
#define CLOUDREC_QUEUE_H

#include "cloudrec/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CR_QUEUE_MAX_BATCH 10
#define CR_QUEUE_MAX_BODY (256 * 1024)

struct cr_queue;

/* Queue attributes, as in SQS, belong to the queue: non-zero values (and a
 * non-NULL dead_letter_url) are stored with it and apply to every handle;
 * zero/NULL keep what is stored. NULL options = all zero. */
struct cr_queue_options {
    int visibility_timeout_s; /* default for receives, 0..43200; 0 = 30 */
    int max_receive_count;    /* > 0: after this many receives a message moves to
                                 dead_letter_url instead of being delivered again */
    const char *dead_letter_url; /* NULL = drop it (sqlite) / no redrive (SQS);
                                    sqlite: must be in the same database file */
    int create; /* create the queue (and its file) if missing; else CR_ERR_NOT_FOUND */
};

/* One received message. Owned by the caller; release with cr_queue_message_clear. */
struct cr_queue_message {
    char *id;      /* message id, stable across receives */
    char *receipt; /* receipt handle of this receive */
    char *body;    /* NUL-terminated */
    size_t body_len;
    int receive_count; /* 1 on first delivery */
    int64_t sent_ms;   /* wall-clock time it was sent */
};

CR_API cr_status cr_queue_open(const char *url, const struct cr_queue_options *opts,
                               struct cr_queue **out, struct cr_error *err);
CR_API void cr_queue_free(struct cr_queue *q);

/* Sends one message (1 <= body_len <= CR_QUEUE_MAX_BODY). id_out (optional,
 * CR_UUID_STR_LEN or more bytes) receives the message id. */
CR_API cr_status cr_queue_send(struct cr_queue *q, const void *body, size_t body_len,
                               char *id_out, size_t id_out_len, struct cr_error *err);

/* Receives up to max_messages (1..10), waiting up to wait_ms (0..20000) for
 * the first; visibility_s < 0 uses the queue default. *n = 0 after the wait
 * is not an error. out[0..max_messages) is overwritten (entries past *n are
 * zeroed): clear earlier messages first. */
CR_API cr_status cr_queue_receive(struct cr_queue *q, int max_messages, int wait_ms,
                                  int visibility_s, struct cr_queue_message *out, size_t *n,
                                  struct cr_error *err);

/* Deletes the message received with this receipt. CR_ERR_STATE if the
 * receipt is stale, CR_ERR_NOT_FOUND if the message is gone. */
CR_API cr_status cr_queue_delete(struct cr_queue *q, const char *receipt, struct cr_error *err);

/* Sets the remaining invisibility of a received message (0 = visible now).
 * Same receipt rules as cr_queue_delete. */
CR_API cr_status cr_queue_change_visibility(struct cr_queue *q, const char *receipt,
                                            int visibility_s, struct cr_error *err);

/* Approximate visible and in-flight (received, not yet deleted) counts. */
CR_API cr_status cr_queue_counts(struct cr_queue *q, long *visible, long *in_flight,
                                 struct cr_error *err);

/* Removes every message. */
CR_API cr_status cr_queue_purge(struct cr_queue *q, struct cr_error *err);

/* Frees the strings of m and zeroes it. Accepts NULL. */
CR_API void cr_queue_message_clear(struct cr_queue_message *m);

#ifdef __cplusplus
}
#endif
#endif
