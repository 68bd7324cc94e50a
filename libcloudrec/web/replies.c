/* replies.c - the one thread per server that reads the reply queue, hands
 * each reply to the request waiting for it, and answers the requests whose
 * deadline passed. It owns the server's reply queue handle. */
#include "web/web_internal.h"

#include <string.h>
#include <time.h>

#define RECEIVE_WAIT_MS 1000 /* long poll; also how fast stop is noticed */
#define RETRY_PAUSE_MS 1000  /* after a failed receive */
#define WARN_EVERY_MS 10000  /* repeat a receive failure at most this often */
#define EXPIRED_BATCH 64

void cr__web_resolve_locked(struct cr_web_server *s, struct cr__web_pending *p,
                            enum cr__web_outcome outcome, const struct cr_response_msg *reply)
{
    struct cr__web_request *r = (struct cr__web_request *)p;
    r->outcome = outcome;
    if (reply)
        r->reply = *reply;
    cr__web_pending_remember(&s->pending, p->id);
    /* A request not yet suspended is still in its handler, which looks at
     * the outcome before suspending; resuming it would be undefined. */
    if (p->suspended) {
        p->suspended = 0;
        MHD_resume_connection(r->conn);
    }
}

/* Sleeps ms milliseconds in short steps, returning early once stop is set. */
static void pause_ms(struct cr_web_server *s, int ms)
{
    for (; ms > 0 && !atomic_load(&s->receiver_stop); ms -= 50) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 50L * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Hands a decoded reply to its request, or counts it as one nobody waits
 * for (a duplicate delivery, a late reply or a stray id). */
static void dispatch(struct cr_web_server *s, const struct cr_response_msg *reply)
{
    pthread_mutex_lock(&s->lock);
    struct cr__web_pending *p = cr__web_pending_take(&s->pending, reply->id);
    int seen = p ? 0 : cr__web_pending_seen(&s->pending, reply->id);
    if (p)
        cr__web_resolve_locked(s, p, CR__WEB_REPLIED, reply);
    pthread_mutex_unlock(&s->lock);
    if (p) {
        atomic_fetch_add(&s->metrics.replies, 1);
        cr__web_metrics_batch(&s->metrics, reply->batch);
        return;
    }
    atomic_fetch_add(seen ? &s->metrics.duplicates : &s->metrics.unknown, 1);
    cr__log(CR_LOG_DEBUG, "msg=\"reply ignored\" id=%s reason=%s", reply->id,
           seen ? "duplicate" : "unknown");
}

/* Decodes one message, dispatches it, then deletes it: a reply is deleted
 * only after its request has it, and an unreadable one is deleted too (no
 * one could ever use it). */
static void handle(struct cr_web_server *s, const struct cr_queue_message *m)
{
    struct cr_response_msg reply;
    struct cr_error err = {0};
    cr_status st = cr__response_msg_decode(m->body, m->body_len, &reply, &err);
    if (st == CR_OK) {
        dispatch(s, &reply);
    } else {
        atomic_fetch_add(&s->metrics.malformed, 1);
        cr__log(CR_LOG_WARN, "msg=\"malformed reply deleted\" qid=%s error=\"%s\"", m->id,
               err.message);
    }
    cr_error_clear(&err);
    st = cr_queue_delete(s->replies, m->receipt, &err);
    /* A failed delete brings the reply back later, as a duplicate. */
    if (st != CR_OK)
        cr__log(CR_LOG_DEBUG, "msg=\"cannot delete a reply\" qid=%s error=\"%s\"", m->id,
               err.message);
}

/* Answers 504 to every suspended request whose deadline has passed. */
static void sweep_deadlines(struct cr_web_server *s)
{
    struct cr__web_pending *expired[EXPIRED_BATCH];
    size_t n;
    int64_t now = cr__time_mono_ms();
    pthread_mutex_lock(&s->lock);
    do {
        n = cr__web_pending_take_expired(&s->pending, now, expired, EXPIRED_BATCH);
        for (size_t i = 0; i < n; i++)
            cr__web_resolve_locked(s, expired[i], CR__WEB_EXPIRED, NULL);
    } while (n == EXPIRED_BATCH);
    pthread_mutex_unlock(&s->lock);
}

/* Records why replies cannot be received ("" once they can), for /healthz. */
static void set_replies_error(struct cr_web_server *s, const char *why)
{
    pthread_mutex_lock(&s->counts_lock);
    cr__strlcpy(s->replies_error, why, sizeof(s->replies_error));
    pthread_mutex_unlock(&s->counts_lock);
}

/* Opens the reply queue again after its handle went bad (its database was
 * removed or replaced): the queue must exist again, as the operator
 * recreates it, so it is not created here. */
static cr_status reopen_replies(struct cr_web_server *s, struct cr_error *err)
{
    cr_queue_free(s->replies);
    s->replies = NULL;
    struct cr_queue_options qo = {0};
    cr_status st = cr_queue_open(s->replies_url, &qo, &s->replies, err);
    if (st == CR_OK)
        cr__log(CR_LOG_INFO, "msg=\"reply queue reopened\" queue=\"%s\"", s->replies_url);
    return st;
}

/* One long poll of the reply queue and the handling of what it returned. */
static void receive_once(struct cr_web_server *s, int64_t *last_warn_ms)
{
    struct cr_queue_message msgs[CR_QUEUE_MAX_BATCH];
    size_t n = 0;
    struct cr_error err = {0};
    memset(msgs, 0, sizeof(msgs));
    cr_status st = s->replies ? CR_OK : reopen_replies(s, &err);
    if (st == CR_OK)
        st = cr_queue_receive(s->replies, CR_QUEUE_MAX_BATCH, RECEIVE_WAIT_MS, -1, msgs, &n,
                              &err);
    if (st == CR_ERR_STATE) {
        cr_queue_free(s->replies); /* reopened on the next round */
        s->replies = NULL;
    }
    set_replies_error(s, st == CR_OK ? "" : err.message[0] ? err.message : cr_strerror(st));
    if (st != CR_OK) {
        int64_t now = cr__time_mono_ms();
        if (*last_warn_ms == 0 || now - *last_warn_ms >= WARN_EVERY_MS) {
            cr__log(CR_LOG_WARN, "msg=\"cannot receive replies\" queue=\"%s\" error=\"%s\"",
                   s->replies_url, err.message[0] ? err.message : cr_strerror(st));
            *last_warn_ms = now;
        }
        pause_ms(s, RETRY_PAUSE_MS);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        handle(s, &msgs[i]);
        cr_queue_message_clear(&msgs[i]);
    }
}

/* The thread: receive, dispatch, sweep, until asked to stop. */
static void *receiver_main(void *arg)
{
    struct cr_web_server *s = arg;
    int64_t last_warn_ms = 0;
    while (!atomic_load(&s->receiver_stop)) {
        receive_once(s, &last_warn_ms);
        sweep_deadlines(s);
    }
    return NULL;
}

cr_status cr__web_receiver_start(struct cr_web_server *s, struct cr_error *err)
{
    atomic_store(&s->receiver_stop, 0);
    int rc = pthread_create(&s->receiver, NULL, receiver_main, s);
    if (rc != 0)
        return cr__fail(err, CR_ERR_INTERNAL, "cannot start the reply receiver: %s", strerror(rc));
    s->receiver_started = 1;
    return CR_OK;
}

void cr__web_receiver_stop(struct cr_web_server *s)
{
    if (!s->receiver_started)
        return;
    atomic_store(&s->receiver_stop, 1);
    pthread_join(s->receiver, NULL);
    s->receiver_started = 0;
}
