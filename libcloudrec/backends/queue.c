/* queue.c - cr_queue: dispatch by URL scheme and the checks every queue shares. */
#include "backends/backend.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The known schemes; a row without ops fails with `missing` (backend.h
 * says how an implementation takes its place). */
static const struct {
    const char *scheme;
    const struct cr__queue_ops *ops;
    const char *missing;
} queue_schemes[] = {
    {"sqlite", &cr__queue_sqlite_ops, NULL},
    {"sqs", &cr__queue_sqs_ops, NULL},
};

#define CR__QUEUE_URL_FORMS "sqlite:///abs/path/queue.db?name=requests or sqs://queue-name"

/* Finds the ops for url's scheme, or fails with a message naming the URL. */
static cr_status find_ops(const char *url, const struct cr__queue_ops **ops, struct cr_error *err)
{
    const char *sep = strstr(url, "://");
    size_t len = sep ? (size_t)(sep - url) : 0;
    for (size_t i = 0; sep && i < CR__ARRAY_LEN(queue_schemes); i++) {
        if (strlen(queue_schemes[i].scheme) != len ||
            strncmp(queue_schemes[i].scheme, url, len) != 0)
            continue;
        *ops = queue_schemes[i].ops;
        return *ops ? CR_OK : cr__fail(err, CR_ERR_UNSUPPORTED, "%s", queue_schemes[i].missing);
    }
    if (!sep || len == 0 || len > 15)
        return cr__fail(err, CR_ERR_INVALID, "not a queue URL: \"%s\" (expected %s)", url,
                        CR__QUEUE_URL_FORMS);
    return cr__fail(err, CR_ERR_INVALID,
                    "unknown queue URL scheme \"%.*s\" in \"%s\" (expected %s)", (int)len, url, url,
                    CR__QUEUE_URL_FORMS);
}

/* Checks the options every implementation shares. */
static cr_status check_options(const struct cr_queue_options *o, struct cr_error *err)
{
    if (o->visibility_timeout_s < 0 || o->visibility_timeout_s > CR__QUEUE_MAX_VISIBILITY_S)
        return cr__fail(err, CR_ERR_INVALID, "visibility_timeout_s %d is outside 0..%d",
                        o->visibility_timeout_s, CR__QUEUE_MAX_VISIBILITY_S);
    if (o->max_receive_count < 0 || o->max_receive_count > CR__QUEUE_MAX_RECEIVE_COUNT)
        return cr__fail(err, CR_ERR_INVALID, "max_receive_count %d is outside 0..%d",
                        o->max_receive_count, CR__QUEUE_MAX_RECEIVE_COUNT);
    if (o->dead_letter_url && o->max_receive_count == 0)
        return cr__fail(err, CR_ERR_INVALID, "dead_letter_url %s needs max_receive_count > 0",
                        o->dead_letter_url);
    return CR_OK;
}

cr_status cr_queue_open(const char *url, const struct cr_queue_options *opts, struct cr_queue **out,
                        struct cr_error *err)
{
    if (!out)
        return cr__fail(err, CR_ERR_INVALID, "cr_queue_open: out must not be NULL");
    *out = NULL;
    if (!url)
        return cr__fail(err, CR_ERR_INVALID, "cr_queue_open: url must not be NULL");
    static const struct cr_queue_options defaults;
    const struct cr_queue_options *o = opts ? opts : &defaults;
    const struct cr__queue_ops *ops = NULL;
    cr_status st = find_ops(url, &ops, err);
    if (st != CR_OK || (st = check_options(o, err)) != CR_OK)
        return st;
    struct cr_queue *q = calloc(1, sizeof(*q));
    if (!q)
        return cr__fail(err, CR_ERR_NOMEM, "%s: out of memory", url);
    q->ops = ops;
    if ((st = ops->open(url, o, &q->impl, err)) != CR_OK) {
        free(q);
        return st;
    }
    *out = q;
    return CR_OK;
}

void cr_queue_free(struct cr_queue *q)
{
    if (!q)
        return;
    q->ops->close(q->impl);
    free(q);
}

cr_status cr_queue_send(struct cr_queue *q, const void *body, size_t body_len, char *id_out,
                        size_t id_out_len, struct cr_error *err)
{
    if (!q || !body)
        return cr__fail(err, CR_ERR_INVALID, "cr_queue_send: queue and body must not be NULL");
    /* SQS refuses empty bodies; refusing them everywhere keeps backends alike. */
    if (body_len == 0)
        return cr__fail(err, CR_ERR_INVALID, "cr_queue_send: empty message body");
    if (body_len > CR_QUEUE_MAX_BODY)
        return cr__fail(err, CR_ERR_TOO_LARGE, "message body of %zu bytes is over the limit of %d",
                        body_len, CR_QUEUE_MAX_BODY);
    if (id_out && id_out_len < CR_UUID_STR_LEN)
        return cr__fail(err, CR_ERR_INVALID, "cr_queue_send: id_out needs %d bytes, got %zu",
                        CR_UUID_STR_LEN, id_out_len);
    return q->ops->send(q->impl, body, body_len, id_out, id_out_len, err);
}

/* Checks the receive arguments every implementation shares. */
static cr_status check_receive(int max_messages, int wait_ms, int visibility_s,
                               struct cr_error *err)
{
    if (max_messages < 1 || max_messages > CR_QUEUE_MAX_BATCH)
        return cr__fail(err, CR_ERR_INVALID, "max_messages %d is outside 1..%d", max_messages,
                        CR_QUEUE_MAX_BATCH);
    if (wait_ms < 0 || wait_ms > CR__QUEUE_MAX_WAIT_MS)
        return cr__fail(err, CR_ERR_INVALID, "wait_ms %d is outside 0..%d", wait_ms,
                        CR__QUEUE_MAX_WAIT_MS);
    if (visibility_s > CR__QUEUE_MAX_VISIBILITY_S)
        return cr__fail(err, CR_ERR_INVALID, "visibility_s %d is over %d", visibility_s,
                        CR__QUEUE_MAX_VISIBILITY_S);
    return CR_OK;
}

cr_status cr_queue_receive(struct cr_queue *q, int max_messages, int wait_ms, int visibility_s,
                           struct cr_queue_message *out, size_t *n, struct cr_error *err)
{
    if (n)
        *n = 0;
    if (!q || !out || !n)
        return cr__fail(err, CR_ERR_INVALID, "cr_queue_receive: queue, out and n are required");
    cr_status st = check_receive(max_messages, wait_ms, visibility_s, err);
    if (st != CR_OK)
        return st;
    memset(out, 0, (size_t)max_messages * sizeof(*out));
    return q->ops->receive(q->impl, max_messages, wait_ms, visibility_s < 0 ? -1 : visibility_s,
                           out, n, err);
}

cr_status cr_queue_delete(struct cr_queue *q, const char *receipt, struct cr_error *err)
{
    if (!q || !receipt || !receipt[0])
        return cr__fail(err, CR_ERR_INVALID, "cr_queue_delete: queue and receipt are required");
    return q->ops->del(q->impl, receipt, err);
}

cr_status cr_queue_change_visibility(struct cr_queue *q, const char *receipt, int visibility_s,
                                     struct cr_error *err)
{
    if (!q || !receipt || !receipt[0])
        return cr__fail(err, CR_ERR_INVALID,
                        "cr_queue_change_visibility: queue and receipt are required");
    if (visibility_s < 0 || visibility_s > CR__QUEUE_MAX_VISIBILITY_S)
        return cr__fail(err, CR_ERR_INVALID, "visibility_s %d is outside 0..%d", visibility_s,
                        CR__QUEUE_MAX_VISIBILITY_S);
    return q->ops->change_visibility(q->impl, receipt, visibility_s, err);
}

cr_status cr_queue_counts(struct cr_queue *q, long *visible, long *in_flight, struct cr_error *err)
{
    long v = 0, f = 0;
    if (!q)
        return cr__fail(err, CR_ERR_INVALID, "cr_queue_counts: queue is NULL");
    cr_status st = q->ops->counts(q->impl, &v, &f, err);
    if (visible)
        *visible = st == CR_OK ? v : 0;
    if (in_flight)
        *in_flight = st == CR_OK ? f : 0;
    return st;
}

int cr__queue_wait_change(struct cr_queue *q, int wait_ms)
{
    if (q && q->ops->wait_change)
        return q->ops->wait_change(q->impl, wait_ms);
    struct timespec ts = {.tv_sec = wait_ms / 1000, .tv_nsec = (long)(wait_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    return 0;
}

cr_status cr_queue_purge(struct cr_queue *q, struct cr_error *err)
{
    if (!q)
        return cr__fail(err, CR_ERR_INVALID, "cr_queue_purge: queue is NULL");
    return q->ops->purge(q->impl, err);
}

void cr_queue_message_clear(struct cr_queue_message *m)
{
    if (!m)
        return;
    free(m->id);
    free(m->receipt);
    free(m->body);
    memset(m, 0, sizeof(*m));
}

cr_status cr__queue_setup(const char *url, const struct cr_queue_options *opts, int *created,
                          struct cr_error *err)
{
    static const struct cr_queue_options defaults;
    struct cr_queue_options o = opts ? *opts : defaults;
    const struct cr__queue_ops *ops = NULL;
    *created = -1;
    o.create = 1;
    if (!url)
        return cr__fail(err, CR_ERR_INVALID, "queue setup: url is NULL");
    cr_status st = find_ops(url, &ops, err);
    if (st != CR_OK || (st = check_options(&o, err)) != CR_OK)
        return st;
    if (ops->setup)
        return ops->setup(url, &o, created, err);
    struct cr_queue *q = NULL;
    st = cr_queue_open(url, &o, &q, err);
    cr_queue_free(q);
    return st;
}
