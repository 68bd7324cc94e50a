/*
 * sqs.c - the SQS calls of cloudrec/sqs.h over the query API: form bodies
 * POSTed to the SQS endpoint with a QueueUrl parameter, XML answers.
 */
#include "cloudrec/sqs.h"

#include "aws/svc.h"
#include "core/json.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Extra time a long poll's request gets on top of its wait. */
#define POLL_MARGIN_MS 15000L
#define MAX_DELAY_S 900

/* ---- freeing results ---------------------------------------------------------- */

/* Frees the strings of one message in place. */
static void message_clear(struct cr_sqs_message *m)
{
    free(m->message_id);
    free(m->receipt_handle);
    free(m->body);
    free(m->md5_of_body);
    cr__svc_strv_free(m->attribute_names, m->num_attributes);
    cr__svc_strv_free(m->attribute_values, m->num_attributes);
    memset(m, 0, sizeof(*m));
}

void cr_sqs_messages_free(struct cr_sqs_messages *msgs)
{
    if (!msgs)
        return;
    for (size_t i = 0; i < msgs->count; i++)
        message_clear(&msgs->messages[i]);
    free(msgs->messages);
    free(msgs);
}

const char *cr_sqs_message_attribute(const struct cr_sqs_message *m, const char *name)
{
    return m ? cr__svc_pair_find(m->attribute_names, m->attribute_values, m->num_attributes, name)
             : NULL;
}

void cr_sqs_batch_free(struct cr_sqs_batch *batch)
{
    if (!batch)
        return;
    for (size_t i = 0; i < batch->num_results; i++) {
        free(batch->results[i].message_id);
        free(batch->results[i].code);
        free(batch->results[i].message);
    }
    free(batch->results);
    free(batch);
}

void cr_sqs_queue_attributes_free(struct cr_sqs_queue_attributes *attrs)
{
    if (!attrs)
        return;
    free(attrs->queue_arn);
    free(attrs->redrive_policy);
    free(attrs->dead_letter_target_arn);
    cr__svc_strv_free(attrs->names, attrs->count);
    cr__svc_strv_free(attrs->values, attrs->count);
    free(attrs);
}

const char *cr_sqs_queue_attribute(const struct cr_sqs_queue_attributes *attrs, const char *name)
{
    return attrs ? cr__svc_pair_find(attrs->names, attrs->values, attrs->count, name) : NULL;
}

/* ---- arguments and error codes ----------------------------------------------- */

/* Refuses an empty or missing name or URL before anything is sent. */
static cr_status check_arg(const char *value, const char *what, struct cr_error *err)
{
    if (!value || !*value)
        return cr__fail(err, CR_ERR_INVALID, "sqs: %s is required", what);
    return CR_OK;
}

/* Refuses a missing queue URL or receipt handle before anything is sent. */
static cr_status check_receipt(const char *queue_url, const char *receipt_handle,
                               struct cr_error *err)
{
    cr_status st = check_arg(queue_url, "a queue URL", err);
    return st == CR_OK ? check_arg(receipt_handle, "a receipt handle", err) : st;
}

/* Bodies SQS would refuse: empty, oversized, not UTF-8, or holding control
 * characters other than tab, LF and CR (XML 1.0 cannot carry them). */
static cr_status check_body(const void *body, size_t len, struct cr_error *err)
{
    if (!body || len == 0 || len > CR_SQS_MAX_BODY_BYTES)
        return cr__fail(err, CR_ERR_INVALID, "sqs: a message body must be 1 to %d bytes, not %zu",
                        CR_SQS_MAX_BODY_BYTES, len);
    const unsigned char *p = body;
    for (size_t i = 0; i < len; i++)
        if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
            return cr__fail(err, CR_ERR_INVALID,
                            "sqs: a message body cannot hold control character 0x%02x", p[i]);
    if (!cr__utf8_valid(body, len))
        return cr__fail(err, CR_ERR_INVALID, "sqs: a message body must be UTF-8 text");
    return CR_OK;
}

/* True when code is in the NULL-terminated list. */
static int code_in(const char *code, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(code, *list) == 0)
            return 1;
    return 0;
}

/* The status for an SQS error code that the transport left as CR_ERR_AWS
 * (fallback when it means nothing more precise). On a receipt handle
 * (on_receipt), InvalidParameterValue means a stale handle: CR_ERR_STATE,
 * like MessageNotInflight, the way the SQLite queue reports it. */
static cr_status status_for_code(const char *code, int on_receipt, cr_status fallback)
{
    static const char *const invalid[] = {"ReceiptHandleIsInvalid",
                                          "InvalidParameterValue",
                                          "InvalidAttributeName",
                                          "InvalidAttributeValue",
                                          "MissingParameter",
                                          "InvalidMessageContents",
                                          "InvalidParameterCombination",
                                          "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
                                          "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                                          "InvalidBatchEntryId",
                                          "AWS.SimpleQueueService.EmptyBatchRequest",
                                          NULL};
    static const char *const state[] = {
        "MessageNotInflight", "AWS.SimpleQueueService.PurgeQueueInProgress", "PurgeQueueInProgress",
        "AWS.SimpleQueueService.QueueDeletedRecently", NULL};
    if (code_in(code, state) || (on_receipt && strcmp(code, "InvalidParameterValue") == 0))
        return CR_ERR_STATE;
    if (code_in(code, invalid))
        return CR_ERR_INVALID;
    cr_status st = cr__aws_status_for(400, code);
    return st == CR_ERR_AWS ? fallback : st;
}

/* Refines a CR_ERR_AWS from the transport by its code (in err). */
static cr_status remap(cr_status st, int on_receipt, struct cr_error *err)
{
    if (st != CR_ERR_AWS || !err)
        return st;
    return cr__svc_remap(err, status_for_code(err->aws_code, on_receipt, st));
}

/* Runs a query call and applies the SQS code mapping. */
static cr_status call(struct cr_aws *aws, struct cr_buf *form, long timeout_ms, int on_receipt,
                      struct cr__xml_doc **doc, struct cr_error *err)
{
    return remap(cr__svc_query(aws, "sqs", form, timeout_ms, doc, err), on_receipt, err);
}

/* Starts a form for action on queue_url. */
static cr_status begin_on_queue(struct cr_buf *form, const char *action, const char *queue_url)
{
    cr_status st = cr__svc_form_begin(form, action, CR__SQS_API_VERSION);
    return st == CR_OK ? cr__aws_query_add(form, "QueueUrl", queue_url) : st;
}

/* The common ending of a call that built form: OOM detail when building
 * failed, then the round trip. The caller frees form and *doc. */
static cr_status finish(struct cr_aws *aws, cr_status built, struct cr_buf *form, long timeout_ms,
                        int on_receipt, struct cr__xml_doc **doc, struct cr_error *err)
{
    if (built != CR_OK)
        return cr__fail(err, built, "sqs: cannot build the request: %s", cr_strerror(built));
    return call(aws, form, timeout_ms, on_receipt, doc, err);
}

/* A form parameter of queue_action. */
struct param {
    const char *name;
    const char *value;
};

/* Runs action on queue_url with the parameters p[0..n), for the calls whose
 * answer holds nothing to read (on_receipt as for call). */
static cr_status queue_action(struct cr_aws *aws, const char *action, const char *queue_url,
                              const struct param *p, size_t n, int on_receipt, struct cr_error *err)
{
    struct cr_buf form;
    cr_buf_init(&form, 0);
    struct cr__xml_doc *doc = NULL;
    cr_status st = begin_on_queue(&form, action, queue_url);
    for (size_t i = 0; st == CR_OK && i < n; i++)
        st = cr__aws_query_add(&form, p[i].name, p[i].value);
    st = finish(aws, st, &form, 0, on_receipt, &doc, err);
    cr__xml_free(doc);
    cr_buf_free(&form);
    return st;
}

/* ---- queues ---------------------------------------------------------------------- */

/* Appends the QueueUrl found in an answer to url_out. */
static cr_status take_queue_url(const struct cr__xml_doc *doc, struct cr_buf *url_out,
                                struct cr_error *err)
{
    char url[2048];
    if (!cr__xml_find_text_copy(cr__xml_root(doc), "QueueUrl", url, sizeof(url)) || !url[0])
        return cr__fail(err, CR_ERR_FORMAT, "sqs: the answer has no QueueUrl");
    if (cr_buf_append_str(url_out, url) != CR_OK)
        return cr__fail(err, CR_ERR_NOMEM, "sqs: out of memory for a queue URL");
    return CR_OK;
}

/* Appends Attribute.N.Name/Value for one attribute; *n counts them. */
static cr_status add_attr(struct cr_buf *form, size_t *n, const char *name, const char *value)
{
    ++*n;
    cr_status st = cr__svc_form_addf(form, name, "Attribute.%zu.Name", *n);
    return st == CR_OK ? cr__svc_form_addf(form, value, "Attribute.%zu.Value", *n) : st;
}

/* Appends a numeric attribute unless it is 0 (CR_SQS_ZERO sends 0). */
static cr_status add_num_attr(struct cr_buf *form, size_t *n, const char *name, int value)
{
    if (value == 0)
        return CR_OK;
    char text[16];
    snprintf(text, sizeof(text), "%d", value == CR_SQS_ZERO ? 0 : value);
    return add_attr(form, n, name, text);
}

/* The RedrivePolicy JSON document, appended to out. */
static cr_status redrive_json(const struct cr_sqs_create_options *o, struct cr_buf *out)
{
    struct cr__jw *w = cr__jw_new();
    cr__jw_object(w, NULL);
    cr__jw_string(w, "deadLetterTargetArn", o->dead_letter_target_arn);
    cr__jw_int(w, "maxReceiveCount", o->max_receive_count);
    cr__jw_end(w);
    return cr__jw_finish(w, out);
}

/* Appends every attribute the options ask for. */
static cr_status create_attrs(const struct cr_sqs_create_options *o, struct cr_buf *form)
{
    size_t n = 0;
    cr_status st = add_num_attr(form, &n, "VisibilityTimeout", o->visibility_timeout_s);
    if (st == CR_OK)
        st = add_num_attr(form, &n, "MessageRetentionPeriod", o->message_retention_s);
    if (st == CR_OK)
        st = add_num_attr(form, &n, "ReceiveMessageWaitTimeSeconds", o->receive_wait_s);
    if (st == CR_OK && o->dead_letter_target_arn) {
        struct cr_buf j;
        cr_buf_init(&j, 0);
        if ((st = redrive_json(o, &j)) == CR_OK)
            st = add_attr(form, &n, "RedrivePolicy", (const char *)j.data);
        cr_buf_free(&j);
    }
    for (size_t i = 0; st == CR_OK && i < o->num_attributes; i++)
        st = add_attr(form, &n, o->attributes[i].name, o->attributes[i].value);
    return st;
}

/* Range checks of create options that SQS would otherwise answer with a
 * less helpful error. */
static cr_status check_create(const struct cr_sqs_create_options *o, struct cr_error *err)
{
    if (o->visibility_timeout_s < CR_SQS_ZERO || o->visibility_timeout_s > CR_SQS_MAX_VISIBILITY_S)
        return cr__fail(err, CR_ERR_INVALID, "sqs: visibility timeout must be 0..%d s",
                        CR_SQS_MAX_VISIBILITY_S);
    if (o->receive_wait_s < CR_SQS_ZERO || o->receive_wait_s > CR_SQS_MAX_WAIT_S)
        return cr__fail(err, CR_ERR_INVALID, "sqs: receive wait must be 0..%d s",
                        CR_SQS_MAX_WAIT_S);
    if (o->message_retention_s < 0)
        return cr__fail(err, CR_ERR_INVALID, "sqs: retention cannot be negative");
    if (!o->dead_letter_target_arn != !o->max_receive_count || o->max_receive_count < 0 ||
        (o->dead_letter_target_arn && !*o->dead_letter_target_arn))
        return cr__fail(err, CR_ERR_INVALID,
                        "sqs: a redrive policy needs both a dead letter "
                        "queue ARN and a max receive count");
    for (size_t i = 0; i < o->num_attributes; i++)
        if (!o->attributes || !o->attributes[i].name || !o->attributes[i].value)
            return cr__fail(err, CR_ERR_INVALID, "sqs: attribute %zu lacks a name or value", i);
    return CR_OK;
}

/* Runs action (CreateQueue or GetQueueUrl) for the queue name, with the
 * attributes of o unless it is NULL, and appends the answer's QueueUrl to
 * url_out. */
static cr_status queue_url_call(struct cr_aws *aws, const char *action, const char *name,
                                const struct cr_sqs_create_options *o, struct cr_buf *url_out,
                                struct cr_error *err)
{
    struct cr_buf form;
    cr_buf_init(&form, 0);
    struct cr__xml_doc *doc = NULL;
    cr_status st = cr__svc_form_begin(&form, action, CR__SQS_API_VERSION);
    if (st == CR_OK)
        st = cr__aws_query_add(&form, "QueueName", name);
    if (st == CR_OK && o)
        st = create_attrs(o, &form);
    st = finish(aws, st, &form, 0, 0, &doc, err);
    if (st == CR_OK)
        st = take_queue_url(doc, url_out, err);
    cr__xml_free(doc);
    cr_buf_free(&form);
    return st;
}

cr_status cr_sqs_create_queue(struct cr_aws *aws, const char *name,
                              const struct cr_sqs_create_options *opts, struct cr_buf *url_out,
                              struct cr_error *err)
{
    static const struct cr_sqs_create_options none;
    const struct cr_sqs_create_options *o = opts ? opts : &none;
    cr_status st = check_arg(name, "a queue name", err);
    if (st == CR_OK)
        st = check_create(o, err);
    if (st == CR_OK && !url_out)
        st = cr__fail(err, CR_ERR_INVALID, "sqs: create needs a buffer for the URL");
    if (st != CR_OK)
        return st;
    return queue_url_call(aws, "CreateQueue", name, o, url_out, err);
}

cr_status cr_sqs_get_queue_url(struct cr_aws *aws, const char *name, struct cr_buf *url_out,
                               struct cr_error *err)
{
    cr_status st = check_arg(name, "a queue name", err);
    if (st == CR_OK && !url_out)
        st = cr__fail(err, CR_ERR_INVALID, "sqs: get_queue_url needs a buffer");
    if (st != CR_OK)
        return st;
    return queue_url_call(aws, "GetQueueUrl", name, NULL, url_out, err);
}

/* ---- sending ----------------------------------------------------------------------- */

/* Copies len bytes of body into a NUL-terminated string for the form. */
static char *body_string(const void *body, size_t len)
{
    char *s = malloc(len + 1);
    if (s) {
        memcpy(s, body, len);
        s[len] = '\0';
    }
    return s;
}

cr_status cr_sqs_send(struct cr_aws *aws, const char *queue_url, const void *body, size_t len,
                      const struct cr_sqs_send_options *opts, struct cr_buf *message_id_out,
                      struct cr_error *err)
{
    int delay = opts ? opts->delay_s : 0;
    cr_status st = check_arg(queue_url, "a queue URL", err);
    if (st == CR_OK)
        st = check_body(body, len, err);
    if (st == CR_OK && (delay < 0 || delay > MAX_DELAY_S))
        st = cr__fail(err, CR_ERR_INVALID, "sqs: delay must be 0..%d s", MAX_DELAY_S);
    if (st != CR_OK)
        return st;
    struct cr_buf form;
    cr_buf_init(&form, 0);
    struct cr__xml_doc *doc = NULL;
    char *text = body_string(body, len);
    st = text ? begin_on_queue(&form, "SendMessage", queue_url) : CR_ERR_NOMEM;
    if (st == CR_OK)
        st = cr__aws_query_add(&form, "MessageBody", text);
    if (st == CR_OK && delay)
        st = cr__svc_form_add_long(&form, "DelaySeconds", delay);
    st = finish(aws, st, &form, 0, 0, &doc, err);
    char id[256];
    if (st == CR_OK && message_id_out &&
        cr__xml_find_text_copy(cr__xml_root(doc), "MessageId", id, sizeof(id)) &&
        cr_buf_append_str(message_id_out, id) != CR_OK)
        st = cr__fail(err, CR_ERR_NOMEM, "sqs: out of memory for a message id");
    cr__xml_free(doc);
    cr_buf_free(&form);
    free(text);
    return st;
}

/* ---- batches ----------------------------------------------------------------------- */

/* Records one <...ResultEntry> or <BatchResultErrorEntry> in its slot
 * (entry ids are the 0-based positions we sent). An answer that names an
 * entry twice cannot be trusted about it, so it is refused (and the strings
 * of the first mention are kept for the free, not overwritten). */
static cr_status batch_entry(const struct cr__xml_node *e, int ok, struct cr_sqs_batch *b)
{
    char id[16];
    cr__xml_find_text_copy(e, "Id", id, sizeof(id));
    long i = (long)cr__svc_parse_int(id, -1);
    if (i < 0 || (size_t)i >= b->num_results || b->results[i].ok != -1)
        return CR_ERR_FORMAT;
    struct cr_sqs_batch_result *r = &b->results[i];
    r->ok = ok;
    if (ok)
        return cr__svc_text(e, "MessageId", &r->message_id);
    char fault[8];
    cr__xml_find_text_copy(e, "SenderFault", fault, sizeof(fault));
    r->sender_fault = strcmp(fault, "true") == 0;
    cr_status st = cr__svc_text(e, "Code", &r->code);
    return st == CR_OK ? cr__svc_text(e, "Message", &r->message) : st;
}

/* Reads a batch answer: entries named ok_name succeeded, the
 * BatchResultErrorEntry ones failed; anything not mentioned failed too. */
cr_status cr__sqs_parse_batch(const struct cr__xml_doc *doc, const char *ok_name,
                              struct cr_sqs_batch *b)
{
    const struct cr__xml_node *root = cr__xml_root(doc);
    for (size_t i = 0; i < b->num_results; i++)
        b->results[i].ok = -1;
    cr_status st = CR_OK;
    for (const struct cr__xml_node *e = cr__xml_find(root, ok_name); st == CR_OK && e;
         e = cr__xml_find_next(root, e, ok_name))
        st = batch_entry(e, 1, b);
    for (const struct cr__xml_node *e = cr__xml_find(root, "BatchResultErrorEntry");
         st == CR_OK && e; e = cr__xml_find_next(root, e, "BatchResultErrorEntry"))
        st = batch_entry(e, 0, b);
    for (size_t i = 0; i < b->num_results; i++) {
        if (b->results[i].ok == -1)
            b->results[i].ok = 0; /* not answered for: treat as failed */
        b->num_failed += !b->results[i].ok;
    }
    return st;
}

/* The status of a batch that partly failed: from the first failed entry's
 * code, with the detail in err. */
static cr_status batch_status(const struct cr_sqs_batch *b, const char *action,
                              struct cr_error *err)
{
    if (!b->num_failed)
        return CR_OK;
    size_t i = 0;
    while (b->results[i].ok)
        i++;
    const struct cr_sqs_batch_result *r = &b->results[i];
    const char *code = r->code ? r->code : "";
    cr__fail(err, CR_ERR_AWS, "sqs %s: %zu of %zu entries failed; entry %zu: %s: %s", action,
             b->num_failed, b->num_results, i, code[0] ? code : "no answer",
             r->message ? r->message : "");
    if (err) {
        err->http_status = 200;
        cr__strlcpy(err->aws_code, code, sizeof(err->aws_code));
    }
    return cr__svc_remap(err, code[0] ? status_for_code(code, 0, CR_ERR_AWS) : CR_ERR_AWS);
}

/* Sends a batch form and turns the answer into *out (when wanted) and a
 * status. */
static cr_status run_batch(struct cr_aws *aws, struct cr_buf *form, size_t n, const char *action,
                           const char *ok_name, struct cr_sqs_batch **out, struct cr_error *err)
{
    struct cr__xml_doc *doc = NULL;
    struct cr_sqs_batch *b = calloc(1, sizeof(*b));
    cr_status st = b && (b->results = calloc(n, sizeof(*b->results))) ? CR_OK : CR_ERR_NOMEM;
    if (b)
        b->num_results = b->results ? n : 0;
    st = finish(aws, st, form, 0, 0, &doc, err);
    if (st == CR_OK && (st = cr__sqs_parse_batch(doc, ok_name, b)) != CR_OK)
        cr__fail(err, st, "sqs %s: unexpected answer (%s)", action, cr_strerror(st));
    if (st == CR_OK)
        st = batch_status(b, action, err);
    cr__xml_free(doc);
    if (out && b && b->num_results && (st == CR_OK || b->num_failed))
        *out = b;
    else
        cr_sqs_batch_free(b);
    return st;
}

/* Clears *out (when given), then checks the queue URL and the batch's
 * size. */
static cr_status check_batch(const char *queue_url, size_t n, const void *entries,
                             struct cr_sqs_batch **out, struct cr_error *err)
{
    if (out)
        *out = NULL;
    cr_status st = check_arg(queue_url, "a queue URL", err);
    if (st == CR_OK && (!entries || n < 1 || n > CR_SQS_MAX_BATCH))
        st = cr__fail(err, CR_ERR_INVALID, "sqs: a batch holds 1 to %d entries, not %zu",
                      CR_SQS_MAX_BATCH, n);
    return st;
}

/* Appends entry i of a SendMessageBatch. */
static cr_status add_send_entry(struct cr_buf *form, size_t i, const struct cr_sqs_send_entry *e)
{
    char id[24];
    snprintf(id, sizeof(id), "%zu", i);
    char *text = body_string(e->body, e->len);
    if (!text)
        return CR_ERR_NOMEM;
    cr_status st = cr__svc_form_addf(form, id, "SendMessageBatchRequestEntry.%zu.Id", i + 1);
    if (st == CR_OK)
        st = cr__svc_form_addf(form, text, "SendMessageBatchRequestEntry.%zu.MessageBody", i + 1);
    if (st == CR_OK && e->delay_s) {
        char d[16];
        snprintf(d, sizeof(d), "%d", e->delay_s);
        st = cr__svc_form_addf(form, d, "SendMessageBatchRequestEntry.%zu.DelaySeconds", i + 1);
    }
    free(text);
    return st;
}

cr_status cr_sqs_send_batch(struct cr_aws *aws, const char *queue_url,
                            const struct cr_sqs_send_entry *entries, size_t n,
                            struct cr_sqs_batch **out, struct cr_error *err)
{
    cr_status st = check_batch(queue_url, n, entries, out, err);
    for (size_t i = 0; st == CR_OK && i < n; i++) {
        if ((st = check_body(entries[i].body, entries[i].len, err)) != CR_OK)
            cr__fail_prefix(err, st, "entry %zu: ", i);
        else if (entries[i].delay_s < 0 || entries[i].delay_s > MAX_DELAY_S)
            st = cr__fail(err, CR_ERR_INVALID, "sqs: entry %zu: delay must be 0..%d s", i,
                          MAX_DELAY_S);
    }
    if (st != CR_OK)
        return st;
    struct cr_buf form;
    cr_buf_init(&form, 0);
    st = begin_on_queue(&form, "SendMessageBatch", queue_url);
    for (size_t i = 0; st == CR_OK && i < n; i++)
        st = add_send_entry(&form, i, &entries[i]);
    st = run_batch(aws, &form, n, "SendMessageBatch", "SendMessageBatchResultEntry", out, err);
    cr_buf_free(&form);
    return st;
}

cr_status cr_sqs_delete_batch(struct cr_aws *aws, const char *queue_url,
                              const char *const *receipt_handles, size_t n,
                              struct cr_sqs_batch **out, struct cr_error *err)
{
    cr_status st = check_batch(queue_url, n, receipt_handles, out, err);
    for (size_t i = 0; st == CR_OK && i < n; i++)
        st = check_arg(receipt_handles[i], "every receipt handle", err);
    if (st != CR_OK)
        return st;
    struct cr_buf form;
    cr_buf_init(&form, 0);
    st = begin_on_queue(&form, "DeleteMessageBatch", queue_url);
    for (size_t i = 0; st == CR_OK && i < n; i++) {
        char id[24];
        snprintf(id, sizeof(id), "%zu", i);
        st = cr__svc_form_addf(&form, id, "DeleteMessageBatchRequestEntry.%zu.Id", i + 1);
        if (st == CR_OK)
            st = cr__svc_form_addf(&form, receipt_handles[i],
                                   "DeleteMessageBatchRequestEntry.%zu.ReceiptHandle", i + 1);
    }
    st = run_batch(aws, &form, n, "DeleteMessageBatch", "DeleteMessageBatchResultEntry", out, err);
    cr_buf_free(&form);
    return st;
}

/* ---- receiving ----------------------------------------------------------------------- */

/* Range checks of receive options. */
static cr_status check_receive(const struct cr_sqs_receive_options *o, struct cr_error *err)
{
    if (o->max_messages < 0 || o->max_messages > CR_SQS_MAX_BATCH)
        return cr__fail(err, CR_ERR_INVALID, "sqs: receive takes 1 to %d messages",
                        CR_SQS_MAX_BATCH);
    if (o->wait_s < CR_SQS_ZERO || o->wait_s > CR_SQS_MAX_WAIT_S)
        return cr__fail(err, CR_ERR_INVALID, "sqs: wait must be 0..%d s", CR_SQS_MAX_WAIT_S);
    if (o->visibility_timeout_s < CR_SQS_ZERO || o->visibility_timeout_s > CR_SQS_MAX_VISIBILITY_S)
        return cr__fail(err, CR_ERR_INVALID, "sqs: visibility timeout must be 0..%d s",
                        CR_SQS_MAX_VISIBILITY_S);
    if (o->timeout_ms < 0)
        return cr__fail(err, CR_ERR_INVALID, "sqs: timeout_ms cannot be negative");
    return CR_OK;
}

/* The ReceiveMessage form for o. */
static cr_status receive_form(const char *queue_url, const struct cr_sqs_receive_options *o,
                              struct cr_buf *form)
{
    cr_status st = begin_on_queue(form, "ReceiveMessage", queue_url);
    if (st == CR_OK)
        st = cr__svc_form_add_long(form, "MaxNumberOfMessages",
                                   o->max_messages ? o->max_messages : 1);
    if (st == CR_OK)
        st = cr__aws_query_add(form, "AttributeName.1", "All");
    if (st == CR_OK && o->wait_s)
        st = cr__svc_form_add_long(form, "WaitTimeSeconds",
                                   o->wait_s == CR_SQS_ZERO ? 0 : o->wait_s);
    if (st == CR_OK && o->visibility_timeout_s)
        st = cr__svc_form_add_long(
            form, "VisibilityTimeout",
            o->visibility_timeout_s == CR_SQS_ZERO ? 0 : o->visibility_timeout_s);
    return st;
}

/* Reads the <Attribute> children of a message. */
static cr_status message_attrs(const struct cr__xml_node *msg, struct cr_sqs_message *m)
{
    cr_status st = CR_OK;
    for (const struct cr__xml_node *a = cr__xml_child(msg, "Attribute"); st == CR_OK && a;
         a = cr__xml_next(a, "Attribute")) {
        char *name = cr__xml_child_text(a, "Name"), *value = cr__xml_child_text(a, "Value");
        st = name ? cr__svc_pair_push(&m->attribute_names, &m->attribute_values, &m->num_attributes,
                                      name, value)
                  : CR_OK;
        free(name);
        free(value);
    }
    m->receive_count =
        (int)cr__svc_parse_int(cr_sqs_message_attribute(m, "ApproximateReceiveCount"), 0);
    m->sent_ms = cr__svc_parse_int(cr_sqs_message_attribute(m, "SentTimestamp"), 0);
    m->first_receive_ms =
        cr__svc_parse_int(cr_sqs_message_attribute(m, "ApproximateFirstReceiveTimestamp"), 0);
    return st;
}

/* Fills m from one <Message> element. */
static cr_status parse_message(const struct cr__xml_node *msg, struct cr_sqs_message *m)
{
    static const struct cr__svc_field fields[] = {
        {"MessageId", offsetof(struct cr_sqs_message, message_id)},
        {"ReceiptHandle", offsetof(struct cr_sqs_message, receipt_handle)},
        {"MD5OfBody", offsetof(struct cr_sqs_message, md5_of_body)},
        {"Body", offsetof(struct cr_sqs_message, body)}};
    cr_status st = cr__svc_fill(msg, m, fields, CR__ARRAY_LEN(fields));
    if (st == CR_OK && (!m->receipt_handle || !m->body))
        return CR_ERR_FORMAT;
    if (st == CR_OK)
        m->body_len = strlen(m->body);
    return st == CR_OK ? message_attrs(msg, m) : st;
}

/* Turns a ReceiveMessage answer into messages. */
cr_status cr__sqs_parse_messages(const struct cr__xml_doc *doc, struct cr_sqs_messages *out)
{
    const struct cr__xml_node *root = cr__xml_root(doc);
    size_t n = 0;
    for (const struct cr__xml_node *m = cr__xml_find(root, "Message"); m;
         m = cr__xml_find_next(root, m, "Message"))
        n++;
    if (n && !(out->messages = calloc(n, sizeof(*out->messages))))
        return CR_ERR_NOMEM;
    cr_status st = CR_OK;
    for (const struct cr__xml_node *m = cr__xml_find(root, "Message"); st == CR_OK && m;
         m = cr__xml_find_next(root, m, "Message"))
        st = parse_message(m, &out->messages[out->count++]);
    return st;
}

cr_status cr_sqs_receive(struct cr_aws *aws, const char *queue_url,
                         const struct cr_sqs_receive_options *opts, struct cr_sqs_messages **out,
                         struct cr_error *err)
{
    static const struct cr_sqs_receive_options none;
    const struct cr_sqs_receive_options *o = opts ? opts : &none;
    if (!out)
        return cr__fail(err, CR_ERR_INVALID, "sqs: receive needs somewhere to put messages");
    *out = NULL;
    cr_status st = check_arg(queue_url, "a queue URL", err);
    if (st == CR_OK)
        st = check_receive(o, err);
    if (st != CR_OK)
        return st;
    long wait_ms =
        o->wait_s == CR_SQS_ZERO ? 0 : (o->wait_s ? o->wait_s : CR_SQS_MAX_WAIT_S) * 1000L;
    long timeout_ms = o->timeout_ms ? o->timeout_ms : wait_ms + POLL_MARGIN_MS;
    struct cr_buf form;
    cr_buf_init(&form, 0);
    struct cr__xml_doc *doc = NULL;
    struct cr_sqs_messages *msgs = calloc(1, sizeof(*msgs));
    st = msgs ? receive_form(queue_url, o, &form) : CR_ERR_NOMEM;
    st = finish(aws, st, &form, timeout_ms, 0, &doc, err);
    if (st == CR_OK && (st = cr__sqs_parse_messages(doc, msgs)) != CR_OK)
        cr__fail(err, st, "sqs ReceiveMessage: %s",
                 st == CR_ERR_NOMEM ? "out of memory for messages"
                                    : "a message without receipt or body");
    cr__xml_free(doc);
    cr_buf_free(&form);
    if (st == CR_OK)
        *out = msgs;
    else
        cr_sqs_messages_free(msgs);
    return st;
}

/* ---- one message ----------------------------------------------------------------------- */

cr_status cr_sqs_delete(struct cr_aws *aws, const char *queue_url, const char *receipt_handle,
                        struct cr_error *err)
{
    cr_status st = check_receipt(queue_url, receipt_handle, err);
    if (st != CR_OK)
        return st;
    const struct param p[] = {{"ReceiptHandle", receipt_handle}};
    return queue_action(aws, "DeleteMessage", queue_url, p, CR__ARRAY_LEN(p), 1, err);
}

cr_status cr_sqs_change_visibility(struct cr_aws *aws, const char *queue_url,
                                   const char *receipt_handle, int visibility_timeout_s,
                                   struct cr_error *err)
{
    cr_status st = check_receipt(queue_url, receipt_handle, err);
    if (st == CR_OK && (visibility_timeout_s < 0 || visibility_timeout_s > CR_SQS_MAX_VISIBILITY_S))
        st = cr__fail(err, CR_ERR_INVALID, "sqs: visibility timeout must be 0..%d s",
                      CR_SQS_MAX_VISIBILITY_S);
    if (st != CR_OK)
        return st;
    char secs[16];
    snprintf(secs, sizeof(secs), "%d", visibility_timeout_s);
    const struct param p[] = {{"ReceiptHandle", receipt_handle}, {"VisibilityTimeout", secs}};
    return queue_action(aws, "ChangeMessageVisibility", queue_url, p, CR__ARRAY_LEN(p), 1, err);
}

/* ---- queue attributes and purge --------------------------------------------------------- */

/* Parses the RedrivePolicy JSON into the two fields; a policy that does not
 * parse leaves them unset (the raw text is still there). */
static cr_status parse_redrive(struct cr_sqs_queue_attributes *a)
{
    struct cr__json_doc *doc = NULL;
    if (cr__json_parse(a->redrive_policy, strlen(a->redrive_policy), NULL, &doc, NULL) != CR_OK)
        return CR_OK;
    const struct cr__json *root = cr__json_root(doc);
    const char *arn = NULL;
    size_t len = 0;
    int64_t count = 0;
    const struct cr__json *mrc = cr__json_get(root, "maxReceiveCount");
    if (cr__json_get_int64(mrc, &count) != CR_OK) {
        const char *s = NULL;
        if (cr__json_get_string(mrc, &s, &len) == CR_OK)
            count = cr__svc_parse_int(s, 0);
    }
    a->max_receive_count = (int)count;
    cr_status st = CR_OK;
    if (cr__json_get_string(cr__json_get(root, "deadLetterTargetArn"), &arn, &len) == CR_OK &&
        !(a->dead_letter_target_arn = strdup(arn)))
        st = CR_ERR_NOMEM;
    cr__json_free(doc);
    return st;
}

/* Fills the typed fields from the name/value pairs. */
static cr_status attrs_typed(struct cr_sqs_queue_attributes *a)
{
    const char *arn = cr_sqs_queue_attribute(a, "QueueArn");
    const char *rp = cr_sqs_queue_attribute(a, "RedrivePolicy");
    a->approximate_messages =
        (long)cr__svc_parse_int(cr_sqs_queue_attribute(a, "ApproximateNumberOfMessages"), -1);
    a->approximate_messages_not_visible = (long)cr__svc_parse_int(
        cr_sqs_queue_attribute(a, "ApproximateNumberOfMessagesNotVisible"), -1);
    a->approximate_messages_delayed = (long)cr__svc_parse_int(
        cr_sqs_queue_attribute(a, "ApproximateNumberOfMessagesDelayed"), -1);
    a->visibility_timeout_s =
        (int)cr__svc_parse_int(cr_sqs_queue_attribute(a, "VisibilityTimeout"), -1);
    a->message_retention_s =
        (int)cr__svc_parse_int(cr_sqs_queue_attribute(a, "MessageRetentionPeriod"), -1);
    a->receive_wait_s =
        (int)cr__svc_parse_int(cr_sqs_queue_attribute(a, "ReceiveMessageWaitTimeSeconds"), -1);
    a->delay_s = (int)cr__svc_parse_int(cr_sqs_queue_attribute(a, "DelaySeconds"), -1);
    if ((arn && !(a->queue_arn = strdup(arn))) || (rp && !(a->redrive_policy = strdup(rp))))
        return CR_ERR_NOMEM;
    return a->redrive_policy ? parse_redrive(a) : CR_OK;
}

/* Reads every <Attribute> of a GetQueueAttributes answer. */
cr_status cr__sqs_parse_queue_attributes(const struct cr__xml_doc *doc,
                                         struct cr_sqs_queue_attributes *a)
{
    const struct cr__xml_node *root = cr__xml_root(doc);
    cr_status st = CR_OK;
    for (const struct cr__xml_node *n = cr__xml_find(root, "Attribute"); st == CR_OK && n;
         n = cr__xml_find_next(root, n, "Attribute")) {
        char *name = cr__xml_child_text(n, "Name"), *value = cr__xml_child_text(n, "Value");
        st = name ? cr__svc_pair_push(&a->names, &a->values, &a->count, name, value) : CR_OK;
        free(name);
        free(value);
    }
    return st == CR_OK ? attrs_typed(a) : st;
}

cr_status cr_sqs_get_attributes(struct cr_aws *aws, const char *queue_url,
                                struct cr_sqs_queue_attributes **out, struct cr_error *err)
{
    if (!out)
        return cr__fail(err, CR_ERR_INVALID, "sqs: get_attributes needs somewhere to put them");
    *out = NULL;
    cr_status st = check_arg(queue_url, "a queue URL", err);
    if (st != CR_OK)
        return st;
    struct cr_buf form;
    cr_buf_init(&form, 0);
    struct cr__xml_doc *doc = NULL;
    struct cr_sqs_queue_attributes *a = calloc(1, sizeof(*a));
    st = a ? begin_on_queue(&form, "GetQueueAttributes", queue_url) : CR_ERR_NOMEM;
    if (st == CR_OK)
        st = cr__aws_query_add(&form, "AttributeName.1", "All");
    st = finish(aws, st, &form, 0, 0, &doc, err);
    if (st == CR_OK && (st = cr__sqs_parse_queue_attributes(doc, a)) != CR_OK)
        cr__fail(err, st, "sqs GetQueueAttributes: out of memory for attributes");
    cr__xml_free(doc);
    cr_buf_free(&form);
    if (st == CR_OK)
        *out = a;
    else
        cr_sqs_queue_attributes_free(a);
    return st;
}

cr_status cr_sqs_purge(struct cr_aws *aws, const char *queue_url, struct cr_error *err)
{
    cr_status st = check_arg(queue_url, "a queue URL", err);
    return st == CR_OK ? queue_action(aws, "PurgeQueue", queue_url, NULL, 0, 0, err) : st;
}
