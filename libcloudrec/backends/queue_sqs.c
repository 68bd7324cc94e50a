/*
 * queue_sqs.c - sqs://queue-name, cr_queue over Amazon SQS (cloudrec/sqs.h).
 *
 * Each handle owns its own AWS context (cr_aws_open with the standard
 * environment: AWS_REGION, AWS_PROFILE, keys, AWS_ENDPOINT_URL[_SQS]) and
 * resolves the queue's URL once, when it is opened (GetQueueUrl). The SQS
 * semantics are those of cloudrec/queue.h already; what this file adds is
 * the mapping:
 *  - receipts are SQS receipt handles behind a "sqs:" prefix, so a string
 *    that never came from this backend is refused locally (CR_ERR_INVALID),
 *    and SQS refusing one of ours (ReceiptHandleIsInvalid, or
 *    InvalidParameterValue / MessageNotInflight on a receipt) means it is
 *    stale: CR_ERR_STATE. SQS often accepts a stale handle without a word;
 *    delivery is at-least-once, so callers cope with that anyway;
 *  - wait_ms is rounded up to whole seconds of long poll (SQS's unit);
 *  - counts are ApproximateNumberOfMessages and ...NotVisible;
 *  - create makes the queue with VisibilityTimeout and, with a dead-letter
 *    URL and max_receive_count, a RedrivePolicy to that queue (created too).
 *    Attributes of a queue that already exists are left as they are (SQS
 *    has them; `cloudrec setup` reports a mismatch).
 */
#include "backends/backend.h"
#include "cloudrec/aws.h"
#include "cloudrec/sqs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQS_EXAMPLE "sqs://queue-name"
#define SQS_NAME_MAX 80
#define SQS_RECEIPT_PREFIX "sqs:"
#define SQS_RECEIPT_PREFIX_LEN 4

struct sqs_queue {
    struct cr_aws *aws;
    char name[SQS_NAME_MAX + 1];
    char *url;        /* the queue URL from GetQueueUrl / CreateQueue */
    int visibility_s; /* receives with visibility_s < 0 send this; 0 = the queue's */
};

/* ---- URLs ------------------------------------------------------------------*/

cr_status cr__sqs_url_name(const char *url, char name[81], struct cr_error *err)
{
    if (strncmp(url, "sqs://", 6) != 0)
        return cr__fail(err, CR_ERR_INVALID, "%s: expected a URL like %s", url, SQS_EXAMPLE);
    const char *s = url + 6;
    size_t len = strlen(s);
    int ok = len >= 1 && len <= SQS_NAME_MAX;
    for (size_t i = 0; ok && i < len; i++)
        ok = (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
             (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-';
    if (!ok)
        return cr__fail(err, CR_ERR_INVALID,
                        "%s: the queue name after sqs:// must be 1..%d characters of "
                        "A-Z a-z 0-9 _ - (e.g. %s)",
                        url, SQS_NAME_MAX, SQS_EXAMPLE);
    memcpy(name, s, len + 1);
    return CR_OK;
}

/* ---- opening -----------------------------------------------------------------*/

/* Frees a handle, half-built or not. */
static void sqs_close(void *impl)
{
    struct sqs_queue *q = impl;
    if (!q)
        return;
    cr_aws_free(q->aws);
    free(q->url);
    free(q);
}

/* Looks the queue URL up into *url (malloc'd). CR_ERR_NOT_FOUND when SQS
 * has no such queue. */
static cr_status lookup_url(struct cr_aws *aws, const char *name, char **url, struct cr_error *err)
{
    struct cr_buf b;
    cr_buf_init(&b, 0);
    cr_status st = cr_sqs_get_queue_url(aws, name, &b, err);
    if (st == CR_OK && !(*url = cr__buf_steal(&b, NULL)))
        st = cr__fail(err, CR_ERR_NOMEM, "sqs://%s: out of memory", name);
    cr_buf_clear(&b);
    return st;
}

/* Reads a queue's attributes (by name) into *out. */
static cr_status attributes_of(struct cr_aws *aws, const char *name,
                               struct cr_sqs_queue_attributes **out, struct cr_error *err)
{
    char *url = NULL;
    *out = NULL;
    cr_status st = lookup_url(aws, name, &url, err);
    if (st == CR_OK)
        st = cr_sqs_get_attributes(aws, url, out, err);
    free(url);
    return st;
}

/* Creates queue `name` with the options' attributes; a dead-letter queue
 * (dlq, may be NULL) is created first when missing, and its ARN named in
 * the redrive policy. *url receives the new queue's URL (malloc'd). */
static cr_status create_queue(struct cr_aws *aws, const char *name, const char *dlq,
                              const struct cr_queue_options *o, char **url, struct cr_error *err)
{
    struct cr_sqs_queue_attributes *dl = NULL;
    struct cr_sqs_create_options co = {.visibility_timeout_s = o->visibility_timeout_s};
    struct cr_buf b;
    cr_buf_init(&b, 0);
    cr_status st = CR_OK;
    if (dlq) {
        st = attributes_of(aws, dlq, &dl, err);
        if (st == CR_ERR_NOT_FOUND &&
            (st = cr_sqs_create_queue(aws, dlq, NULL, &b, err)) == CR_OK) {
            cr__log(CR_LOG_INFO, "msg=\"queue created\" queue=sqs://%s role=dead-letter", dlq);
            st = attributes_of(aws, dlq, &dl, err);
        }
        cr__buf_reset(&b);
        if (st == CR_OK && !dl->queue_arn)
            st = cr__fail(err, CR_ERR_FORMAT, "sqs://%s: SQS sent no QueueArn", dlq);
        if (st != CR_OK)
            goto out;
        co.dead_letter_target_arn = dl->queue_arn;
        co.max_receive_count = o->max_receive_count;
    }
    if ((st = cr_sqs_create_queue(aws, name, &co, &b, err)) == CR_OK &&
        !(*url = cr__buf_steal(&b, NULL)))
        st = cr__fail(err, CR_ERR_NOMEM, "sqs://%s: out of memory", name);
    if (st == CR_OK)
        cr__log(CR_LOG_INFO, "msg=\"queue created\" queue=sqs://%s visibility_s=%d dead_letter=%s%s",
               name, o->visibility_timeout_s, dlq ? "sqs://" : "", dlq ? dlq : "none");
out:
    cr_sqs_queue_attributes_free(dl);
    cr_buf_clear(&b);
    return st;
}

/* Says what differs between an existing queue and the attributes asked for
 * (only those asked for: non-zero visibility, a dead-letter queue) into why
 * (size n, "" when nothing does). */
static cr_status compare_attributes(struct cr_aws *aws, const char *url, const char *dlq,
                                    const struct cr_queue_options *o, char *why, size_t n,
                                    struct cr_error *err)
{
    struct cr_sqs_queue_attributes *have = NULL, *dl = NULL;
    why[0] = '\0';
    cr_status st = cr_sqs_get_attributes(aws, url, &have, err);
    if (st == CR_OK && dlq)
        st = attributes_of(aws, dlq, &dl, err);
    if (st != CR_OK)
        goto out;
    if (o->visibility_timeout_s && have->visibility_timeout_s != o->visibility_timeout_s)
        snprintf(why, n, "VisibilityTimeout is %d, not %d", have->visibility_timeout_s,
                 o->visibility_timeout_s);
    else if (dlq && (!have->dead_letter_target_arn || !dl->queue_arn ||
                     strcmp(have->dead_letter_target_arn, dl->queue_arn) != 0))
        snprintf(why, n, "its dead-letter queue is %s, not sqs://%s",
                 have->dead_letter_target_arn ? have->dead_letter_target_arn : "none", dlq);
    else if (dlq && have->max_receive_count != o->max_receive_count)
        snprintf(why, n, "its maxReceiveCount is %d, not %d", have->max_receive_count,
                 o->max_receive_count);
out:
    cr_sqs_queue_attributes_free(dl);
    cr_sqs_queue_attributes_free(have);
    return st;
}

/* Makes sure queue `name` exists: finds it (*created = 0) or, when allowed,
 * creates it (*created = 1). An existing queue whose attributes differ from
 * those asked for is CR_ERR_EXISTS when strict, else a logged warning. */
static cr_status ensure_queue(struct cr_aws *aws, const char *name, const char *dlq,
                              const struct cr_queue_options *o, int strict, char **url,
                              int *created, struct cr_error *err)
{
    *created = 0;
    cr_status st = lookup_url(aws, name, url, err);
    if (st == CR_ERR_NOT_FOUND && o->create) {
        *created = 1;
        return create_queue(aws, name, dlq, o, url, err);
    }
    if (st == CR_ERR_NOT_FOUND)
        return cr__fail(err, st, "sqs://%s: no such queue (create it with `cloudrec setup`)", name);
    if (st != CR_OK || (!o->visibility_timeout_s && !dlq))
        return st;
    char why[256];
    if ((st = compare_attributes(aws, *url, dlq, o, why, sizeof(why), err)) != CR_OK || !why[0])
        return st;
    if (strict)
        return cr__fail(err, CR_ERR_EXISTS,
                        "sqs://%s exists but %s; change it (SQS console, `aws sqs "
                        "set-queue-attributes`) or pick another name",
                        name, why);
    cr__log(CR_LOG_WARN, "msg=\"existing queue kept as it is\" queue=sqs://%s reason=\"%s\"", name,
           why);
    return CR_OK;
}

/* Parses the URLs and opens the AWS context for them. */
static cr_status prepare(const char *url, const struct cr_queue_options *o, struct sqs_queue *q,
                         char dlq[SQS_NAME_MAX + 1], struct cr_error *err)
{
    cr_status st = cr__sqs_url_name(url, q->name, err);
    dlq[0] = '\0';
    if (st == CR_OK && o->dead_letter_url) {
        if (strncmp(o->dead_letter_url, "sqs://", 6) != 0)
            return cr__fail(err, CR_ERR_UNSUPPORTED,
                            "%s: the dead-letter queue of an SQS queue must be sqs:// too, not %s",
                            url, o->dead_letter_url);
        st = cr__sqs_url_name(o->dead_letter_url, dlq, err);
        if (st == CR_OK && strcmp(dlq, q->name) == 0)
            return cr__fail(err, CR_ERR_INVALID, "%s cannot be its own dead-letter queue", url);
    }
    if (st == CR_OK && (st = cr_aws_open(NULL, &q->aws, err)) != CR_OK)
        cr__fail_prefix(err, st, "%s: ", url);
    return st;
}

/* Opens or sets up sqs://name; *created (may be NULL) says whether the
 * queue was made by this call. */
static cr_status open_queue(const char *url, const struct cr_queue_options *o, int strict,
                            struct sqs_queue **out, int *created, struct cr_error *err)
{
    char dlq[SQS_NAME_MAX + 1];
    int made = 0;
    struct sqs_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return cr__fail(err, CR_ERR_NOMEM, "%s: out of memory", url);
    cr_status st = prepare(url, o, q, dlq, err);
    if (st == CR_OK)
        st = ensure_queue(q->aws, q->name, dlq[0] ? dlq : NULL, o, strict, &q->url, &made, err);
    if (st != CR_OK) {
        sqs_close(q);
        return st;
    }
    q->visibility_s = o->visibility_timeout_s;
    if (created)
        *created = made;
    *out = q;
    return CR_OK;
}

/* The ops' open: resolves the queue URL once (creating the queue when
 * opts->create allows). */
static cr_status sqs_open(const char *url, const struct cr_queue_options *opts, void **impl,
                          struct cr_error *err)
{
    struct sqs_queue *q = NULL;
    cr_status st = open_queue(url, opts, 0, &q, NULL, err);
    if (st == CR_OK)
        *impl = q;
    return st;
}

/* The ops' setup: like open with create, strict about attributes. */
static cr_status sqs_setup(const char *url, const struct cr_queue_options *opts, int *created,
                           struct cr_error *err)
{
    struct cr_queue_options o = *opts;
    o.create = 1;
    struct sqs_queue *q = NULL;
    cr_status st = open_queue(url, &o, 1, &q, created, err);
    sqs_close(q);
    return st;
}

/* ---- messages ----------------------------------------------------------------*/

/* Sends one message; the message id (a UUID on SQS) goes to id_out. */
static cr_status sqs_send(void *impl, const void *body, size_t body_len, char *id_out,
                          size_t id_out_len, struct cr_error *err)
{
    struct sqs_queue *q = impl;
    struct cr_buf id;
    cr_buf_init(&id, 0);
    cr_status st = cr_sqs_send(q->aws, q->url, body, body_len, NULL, id_out ? &id : NULL, err);
    if (st == CR_OK && id_out) {
        if (id.len < id_out_len && id.data)
            memcpy(id_out, id.data, id.len + 1);
        else
            st = cr__fail(err, CR_ERR_TOO_LARGE, "sqs://%s: message id \"%s\" needs %zu bytes",
                          q->name, id.data ? (char *)id.data : "", id.len + 1);
    }
    cr_buf_clear(&id);
    return st == CR_OK ? st : cr__fail_prefix(err, st, "sqs://%s: ", q->name);
}

/* Copies one SQS message into m (all strings owned by m). */
static cr_status copy_message(const struct cr_sqs_message *s, struct cr_queue_message *m)
{
    size_t hlen = strlen(s->receipt_handle);
    m->id = strdup(s->message_id ? s->message_id : "");
    m->receipt = malloc(SQS_RECEIPT_PREFIX_LEN + hlen + 1);
    m->body = malloc(s->body_len + 1);
    if (!m->id || !m->receipt || !m->body)
        return CR_ERR_NOMEM;
    memcpy(m->receipt, SQS_RECEIPT_PREFIX, SQS_RECEIPT_PREFIX_LEN);
    memcpy(m->receipt + SQS_RECEIPT_PREFIX_LEN, s->receipt_handle, hlen + 1);
    memcpy(m->body, s->body, s->body_len);
    m->body[s->body_len] = '\0';
    m->body_len = s->body_len;
    m->receive_count = s->receive_count > 0 ? s->receive_count : 1;
    m->sent_ms = s->sent_ms;
    return CR_OK;
}

/* The visibility to ask SQS for: our -1 (the default) becomes the handle's
 * own default or the queue's (0), a real 0 becomes CR_SQS_ZERO. */
static int receive_visibility(const struct sqs_queue *q, int visibility_s)
{
    if (visibility_s < 0)
        return q->visibility_s;
    return visibility_s == 0 ? CR_SQS_ZERO : visibility_s;
}

/* Long-polls SQS (whole seconds, rounded up) for up to max_messages. */
static cr_status sqs_receive(void *impl, int max_messages, int wait_ms, int visibility_s,
                             struct cr_queue_message *out, size_t *n, struct cr_error *err)
{
    struct sqs_queue *q = impl;
    struct cr_sqs_receive_options ro = {
        .max_messages = max_messages,
        .wait_s = wait_ms == 0 ? CR_SQS_ZERO : (wait_ms + 999) / 1000,
        .visibility_timeout_s = receive_visibility(q, visibility_s),
    };
    struct cr_sqs_messages *msgs = NULL;
    cr_status st = cr_sqs_receive(q->aws, q->url, &ro, &msgs, err);
    if (st != CR_OK)
        return cr__fail_prefix(err, st, "sqs://%s: ", q->name);
    size_t count = msgs->count < (size_t)max_messages ? msgs->count : (size_t)max_messages;
    for (size_t i = 0; i < count && st == CR_OK; i++)
        st = copy_message(&msgs->messages[i], &out[i]);
    cr_sqs_messages_free(msgs);
    if (st != CR_OK) {
        for (size_t i = 0; i < count; i++)
            cr_queue_message_clear(&out[i]);
        return cr__fail(err, st, "sqs://%s: out of memory", q->name);
    }
    *n = count;
    return CR_OK;
}

/* The SQS handle inside one of our receipts, or NULL (with err) when the
 * string did not come from this backend. */
static const char *handle_of(const struct sqs_queue *q, const char *receipt, struct cr_error *err)
{
    if (strncmp(receipt, SQS_RECEIPT_PREFIX, SQS_RECEIPT_PREFIX_LEN) != 0 ||
        !receipt[SQS_RECEIPT_PREFIX_LEN]) {
        cr__fail(err, CR_ERR_INVALID, "sqs://%s: not a receipt of an sqs:// queue", q->name);
        return NULL;
    }
    return receipt + SQS_RECEIPT_PREFIX_LEN;
}

/* Maps SQS refusing one of our receipts to CR_ERR_STATE (stale). */
static cr_status receipt_status(const struct sqs_queue *q, cr_status st, const char *what,
                                struct cr_error *err)
{
    int refused = err && strcmp(err->aws_code, "ReceiptHandleIsInvalid") == 0;
    if (st == CR_OK)
        return st;
    if (st == CR_ERR_STATE || (st == CR_ERR_INVALID && refused))
        return cr__fail_prefix(err, CR_ERR_STATE,
                               "sqs://%s: %s: stale receipt (the message was received again "
                               "or is gone): ",
                               q->name, what);
    return cr__fail_prefix(err, st, "sqs://%s: %s: ", q->name, what);
}

/* What an operation by receipt does to the message. */
enum receipt_op { RECEIPT_DELETE, RECEIPT_CHANGE_VISIBILITY };

/* Deletes the message received with this receipt, or sets its remaining
 * invisibility to visibility_s, with a stale receipt as CR_ERR_STATE. */
static cr_status by_receipt(const struct sqs_queue *q, const char *receipt, enum receipt_op op,
                            int visibility_s, struct cr_error *err)
{
    struct cr_error local = {0};
    struct cr_error *e = err ? err : &local; /* receipt_status reads the AWS code */
    const char *handle = handle_of(q, receipt, e);
    if (!handle)
        return CR_ERR_INVALID;
    if (op == RECEIPT_DELETE)
        return receipt_status(q, cr_sqs_delete(q->aws, q->url, handle, e), "deleting", e);
    cr_status st = cr_sqs_change_visibility(q->aws, q->url, handle, visibility_s, e);
    return receipt_status(q, st, "changing visibility", e);
}

/* Deletes the message received with this receipt. */
static cr_status sqs_delete(void *impl, const char *receipt, struct cr_error *err)
{
    return by_receipt(impl, receipt, RECEIPT_DELETE, 0, err);
}

/* Sets the remaining invisibility of a received message. */
static cr_status sqs_change_visibility(void *impl, const char *receipt, int visibility_s,
                                       struct cr_error *err)
{
    return by_receipt(impl, receipt, RECEIPT_CHANGE_VISIBILITY, visibility_s, err);
}

/* ApproximateNumberOfMessages and ...NotVisible (0 when SQS sent none). */
static cr_status sqs_counts(void *impl, long *visible, long *in_flight, struct cr_error *err)
{
    struct sqs_queue *q = impl;
    struct cr_sqs_queue_attributes *a = NULL;
    cr_status st = cr_sqs_get_attributes(q->aws, q->url, &a, err);
    if (st != CR_OK)
        return cr__fail_prefix(err, st, "sqs://%s: ", q->name);
    *visible = a->approximate_messages > 0 ? a->approximate_messages : 0;
    *in_flight = a->approximate_messages_not_visible > 0 ? a->approximate_messages_not_visible : 0;
    cr_sqs_queue_attributes_free(a);
    return CR_OK;
}

/* PurgeQueue (SQS allows one a minute per queue: CR_ERR_STATE otherwise). */
static cr_status sqs_purge(void *impl, struct cr_error *err)
{
    struct sqs_queue *q = impl;
    cr_status st = cr_sqs_purge(q->aws, q->url, err);
    return st == CR_OK ? st : cr__fail_prefix(err, st, "sqs://%s: ", q->name);
}

const struct cr__queue_ops cr__queue_sqs_ops = {
    .scheme = "sqs",
    .open = sqs_open,
    .send = sqs_send,
    .receive = sqs_receive,
    .del = sqs_delete,
    .change_visibility = sqs_change_visibility,
    .counts = sqs_counts,
    .purge = sqs_purge,
    .close = sqs_close,
    .setup = sqs_setup,
};
