/* worker.c - cr_worker_run: receive, fetch, classify, store, answer, delete. */
#include "cloudrec/worker.h"

#include "backends/worker_state.h"
#include "pipeline/message.h"
#include "cloudrec/queue.h"
#include "cloudrec/store.h"
#include "internal.h"
#include "backends/backend.h"
#include "pipeline/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WORKER_MAX_BACKOFF_MS 5000

/* What to do with a request after trying it. */
enum outcome {
    OUTCOME_DELETE, /* answered (label or error) or hopeless: delete it */
    OUTCOME_LEAVE   /* transient failure: let it come back */
};

/* The loop's state. Everything here is owned by the worker and released by
 * worker_close; the cached input store and reply queue follow the URLs the
 * requests name (normally always the same one). */
struct worker {
    struct cr_worker_options o; /* with defaults filled in */
    char id[CR_WORKER_ID_MAX];
    struct cr_queue *requests;
    struct cr_store *output;
    struct cr_classifier *cl;
    char *input_url;
    struct cr_store *input;
    char *reply_url;
    struct cr_queue *reply;
    enum cr_worker_state state;
    int state_written; /* 0 until the first state file is written */
    int64_t idle_since_ms;
    int backoff_ms;
    int batch_n; /* messages of the batch being handled (said in each answer) */
    int64_t ready_wall_ms; /* when the first state was written (ready) */
    struct cr_worker_stats stats;
};

const char *cr_worker_state_name(enum cr_worker_state state)
{
    switch (state) {
    case CR_WORKER_IDLE:
        return "idle";
    case CR_WORKER_BUSY:
        return "busy";
    case CR_WORKER_STOPPING:
        return "stopping";
    }
    return "unknown";
}

cr_status cr__name_stem(const char *name, char *out, size_t n)
{
    if (!name || !*name || !out || n == 0)
        return CR_ERR_INVALID;
    const char *dot = strrchr(name, '.');
    size_t len = dot && dot != name ? (size_t)(dot - name) : strlen(name);
    if (len >= n)
        return CR_ERR_INVALID;
    memcpy(out, name, len);
    out[len] = '\0';
    return CR_OK;
}

cr_status cr_output_key(const char *name, char *out, size_t n)
{
    cr_status st = cr__name_stem(name, out, n);
    if (st == CR_OK && !cr_store_key_is_safe(out))
        st = CR_ERR_INVALID;
    return st;
}

/* True once the caller asked the loop to stop. */
static int stop_requested(const struct worker *w)
{
    return w->o.stop && *w->o.stop;
}

/* Sleeps ms milliseconds, returning early (within 100 ms) on a stop request. */
static void sleep_ms(const struct worker *w, int ms)
{
    while (ms > 0 && !stop_requested(w)) {
        int step = ms < 100 ? ms : 100;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

/* Publishes the state in the state file when it changed. A failed write is
 * only logged: the fleet then sees a stale state, which costs efficiency
 * (an idle worker counted as busy) but never correctness. */
static void set_state(struct worker *w, enum cr_worker_state state)
{
    if (state == CR_WORKER_IDLE && w->state != CR_WORKER_IDLE)
        w->idle_since_ms = cr_time_mono_ms();
    if (w->state_written && state == w->state)
        return;
    w->state = state;
    if (!w->o.state_path)
        return;
    int64_t now = cr_time_wall_ms();
    if (w->ready_wall_ms == 0)
        w->ready_wall_ms = now; /* the first state written: the model is loaded */
    struct cr__worker_state st = {
        .state = state == CR_WORKER_IDLE   ? CR_INSTANCE_IDLE
                 : state == CR_WORKER_BUSY ? CR_INSTANCE_RUNNING
                                           : CR_INSTANCE_STOPPING,
        .since_ms = now,
        .pid = (long)getpid(),
        .ready_ms = w->ready_wall_ms};
    struct cr_error err = {0};
    if (cr__worker_state_write(w->o.state_path, &st, &err) != CR_OK)
        cr_log(CR_LOG_WARN, "msg=\"cannot write the state file\" worker=%s error=\"%s\"", w->id,
               err.message);
    else
        w->state_written = 1;
}

/* Fills defaults and checks ranges. */
static cr_status check_options(const struct cr_worker_options *in, struct cr_worker_options *o,
                               struct cr_error *err)
{
    if (!in || !in->requests_url || !in->output_url || !in->classifier)
        return cr__fail(err, CR_ERR_INVALID,
                        "worker: the requests queue, output store and model are required");
    *o = *in;
    o->batch = o->batch ? o->batch : 1;
    o->wait_ms = o->wait_ms ? o->wait_ms : CR_WORKER_DEFAULT_WAIT_MS;
    o->visibility_s = o->visibility_s ? o->visibility_s : CR_WORKER_DEFAULT_VISIBILITY_S;
    o->top_k = o->top_k ? o->top_k : CR_MSG_MAX_TOP;
    if (!o->max_image_bytes)
        o->max_image_bytes = CR_WORKER_DEFAULT_MAX_IMAGE_BYTES;
    if (o->batch < 1 || o->batch > CR_QUEUE_MAX_BATCH)
        return cr__fail(err, CR_ERR_INVALID, "worker: batch must be 1..%d", CR_QUEUE_MAX_BATCH);
    if (o->wait_ms < 1 || o->wait_ms > 20000)
        return cr__fail(err, CR_ERR_INVALID, "worker: wait must be 1..20000 ms");
    if (o->visibility_s < 1 || o->visibility_s > 43200)
        return cr__fail(err, CR_ERR_INVALID, "worker: visibility must be 1..43200 s");
    if (o->top_k < 1 || o->top_k > CR_MSG_MAX_TOP)
        return cr__fail(err, CR_ERR_INVALID, "worker: top-k must be 1..%d", CR_MSG_MAX_TOP);
    if (o->idle_exit_s < 0)
        return cr__fail(err, CR_ERR_INVALID, "worker: idle exit must be >= 0 s");
    return CR_OK;
}

/* Opens the requests queue, the output store and the classifier. */
static cr_status worker_open(struct worker *w, const struct cr_worker_options *opts,
                             struct cr_error *err)
{
    cr_status st = check_options(opts, &w->o, err);
    if (st != CR_OK)
        return st;
    if (w->o.worker_id)
        cr__strlcpy(w->id, w->o.worker_id, sizeof(w->id));
    else
        snprintf(w->id, sizeof(w->id), "w-%ld", (long)getpid());
    if ((st = cr_queue_open(w->o.requests_url, NULL, &w->requests, err)) != CR_OK)
        return cr__fail_prefix(err, st, "requests queue: ");
    if ((st = cr_store_open(w->o.output_url, &w->output, err)) != CR_OK)
        return cr__fail_prefix(err, st, "output store: ");
    if ((st = cr_classifier_open(w->o.classifier, &w->cl, err)) != CR_OK)
        return cr__fail_prefix(err, st, "model: ");
    w->state = CR_WORKER_IDLE;
    w->idle_since_ms = cr_time_mono_ms();
    return CR_OK;
}

/* Releases everything the worker opened. */
static void worker_close(struct worker *w)
{
    cr_queue_free(w->reply);
    free(w->reply_url);
    cr_store_free(w->input);
    free(w->input_url);
    cr_classifier_free(w->cl);
    cr_store_free(w->output);
    cr_queue_free(w->requests);
}

/* Returns the input store for url, reopening the cached one when the URL
 * differs from the last request's. */
static cr_status input_store(struct worker *w, const char *url, struct cr_store **out,
                             struct cr_error *err)
{
    if (!w->input || strcmp(w->input_url, url) != 0) {
        cr_store_free(w->input);
        free(w->input_url);
        w->input = NULL;
        if (!(w->input_url = strdup(url)))
            return cr__fail(err, CR_ERR_NOMEM, "out of memory");
        cr_status st = cr_store_open(url, &w->input, err);
        if (st != CR_OK)
            return st;
    }
    *out = w->input;
    return CR_OK;
}

/* Returns the reply queue for url, like input_store. */
static cr_status reply_queue(struct worker *w, const char *url, struct cr_queue **out,
                             struct cr_error *err)
{
    if (!w->reply || strcmp(w->reply_url, url) != 0) {
        cr_queue_free(w->reply);
        free(w->reply_url);
        w->reply = NULL;
        if (!(w->reply_url = strdup(url)))
            return cr__fail(err, CR_ERR_NOMEM, "out of memory");
        cr_status st = cr_queue_open(url, NULL, &w->reply, err);
        if (st != CR_OK)
            return st;
    }
    *out = w->reply;
    return CR_OK;
}

/* Sends the answer for a request. Any failure is transient for the caller. */
static cr_status send_reply(struct worker *w, const struct cr_request_msg *req,
                            const struct cr_response_msg *resp, struct cr_error *err)
{
    struct cr_buf body;
    cr_buf_init(&body, CR_QUEUE_MAX_BODY);
    struct cr_queue *q = NULL;
    cr_status st = cr_response_msg_encode(resp, &body);
    if (st != CR_OK) {
        cr__fail(err, st, "%s: cannot encode the answer", req->id);
        goto done;
    }
    /* A cached queue whose database was replaced fails with CR_ERR_STATE:
     * open it again and retry once, so a recreated queue works at once. */
    for (int attempt = 0; attempt < 2; attempt++) {
        if ((st = reply_queue(w, req->reply, &q, err)) == CR_OK)
            st = cr_queue_send(q, body.data, body.len, NULL, 0, err);
        if (st != CR_ERR_STATE)
            break;
        cr_queue_free(w->reply);
        w->reply = NULL;
    }
done:
    cr_buf_free(&body);
    return st;
}

/* Writes the result object "<id>.json" (the encoded answer), which is what
 * the service reads back. */
static cr_status put_result(struct worker *w, const struct cr_response_msg *resp,
                            struct cr_error *err)
{
    char key[CR_UUID_STR_LEN + 8];
    struct cr_buf body;
    cr_buf_init(&body, CR_MSG_MAX_BYTES);
    cr_status st = cr_result_key(resp->id, key, sizeof(key));
    if (st != CR_OK)
        cr__fail(err, st, "request id \"%.40s\" is not a UUID", resp->id);
    else if ((st = cr_response_msg_encode(resp, &body)) != CR_OK)
        cr__fail(err, st, "%s: cannot encode the result", resp->id);
    else
        st = cr_store_put(w->output, key, body.data, body.len, err);
    cr_buf_free(&body);
    return st;
}

/* Answers a request with an error text; returns the outcome for the request. */
static enum outcome reject(struct worker *w, const struct cr_request_msg *req, const char *why)
{
    struct cr_response_msg resp = {0};
    cr__strlcpy(resp.id, req->id, sizeof(resp.id));
    cr__strlcpy(resp.name, req->name, sizeof(resp.name));
    cr__strlcpy(resp.worker, w->id, sizeof(resp.worker));
    cr__strlcpy(resp.error, why && why[0] ? why : "cannot classify", sizeof(resp.error));
    resp.batch = w->batch_n;
    struct cr_error err = {0};
    /* The failure is kept like a label, so /v1/results/<id> can tell it; a
     * failed write only costs that view, the answer still goes out. */
    if (put_result(w, &resp, &err) != CR_OK)
        cr_log(CR_LOG_WARN, "msg=\"cannot store the error result\" id=%s error=\"%s\"", req->id,
               err.message);
    cr_error_clear(&err);
    if (send_reply(w, req, &resp, &err) != CR_OK) {
        cr_log(CR_LOG_WARN,
               "msg=\"cannot send the error answer; left for redelivery\" id=%s "
               "error=\"%s\"",
               req->id, err.message);
        return OUTCOME_LEAVE;
    }
    cr_log(CR_LOG_INFO, "msg=rejected worker=%s id=%s name=\"%s\" error=\"%s\"", w->id, req->id,
           req->name, resp.error);
    w->stats.rejected++;
    return OUTCOME_DELETE;
}

/* Logs a transient failure and returns OUTCOME_LEAVE. */
static enum outcome leave(struct worker *w, const struct cr_request_msg *req, const char *step,
                          const struct cr_error *err)
{
    cr_log(CR_LOG_WARN, "msg=\"%s failed; left for redelivery\" worker=%s id=%s error=\"%s\"", step,
           w->id, req->id, err->message[0] ? err->message : cr_strerror(err->status));
    w->stats.left++;
    return OUTCOME_LEAVE;
}

/* True for classification failures that retrying cannot fix (the image
 * itself is bad); the rest (memory, model) may pass on another try. */
static int image_error_is_permanent(cr_status st)
{
    return st == CR_ERR_UNSUPPORTED || st == CR_ERR_FORMAT || st == CR_ERR_TOO_LARGE ||
           st == CR_ERR_INVALID;
}

/* Writes the course's view, <stem> -> label (or "(stem, label)"). Skipped
 * when the stem is not a safe store key: nothing reads it back, the answer
 * comes from the result object. */
static cr_status put_mirror(struct worker *w, const char *name, const char *label,
                            struct cr_error *err)
{
    char stem[CR_MSG_NAME_MAX];
    if (cr_output_key(name, stem, sizeof(stem)) != CR_OK) {
        cr_log(CR_LOG_DEBUG, "msg=\"no course output object for this name\" worker=%s", w->id);
        return CR_OK;
    }
    char value[CR_LABEL_MAX + CR_MSG_NAME_MAX + 8];
    int len = w->o.output_format == CR_OUTPUT_PAIR
                  ? snprintf(value, sizeof(value), "(%s, %s)", stem, label)
                  : snprintf(value, sizeof(value), "%s", label);
    return cr_store_put(w->output, stem, value, (size_t)len, err);
}

/* Fills a success answer from the predictions. */
static void fill_answer(const struct worker *w, const struct cr_request_msg *req,
                        const struct cr_prediction *pred, size_t n, int64_t ms,
                        struct cr_response_msg *resp)
{
    memset(resp, 0, sizeof(*resp));
    cr__strlcpy(resp->id, req->id, sizeof(resp->id));
    cr__strlcpy(resp->name, req->name, sizeof(resp->name));
    cr__strlcpy(resp->label, pred[0].label, sizeof(resp->label));
    for (size_t i = 0; i < n && i < CR_MSG_MAX_TOP; i++) {
        cr__strlcpy(resp->top[i].label, pred[i].label, sizeof(resp->top[i].label));
        resp->top[i].probability = pred[i].probability;
    }
    resp->num_top = (int)(n < CR_MSG_MAX_TOP ? n : CR_MSG_MAX_TOP);
    cr__strlcpy(resp->worker, w->id, sizeof(resp->worker));
    resp->processing_ms = ms;
    resp->batch = w->batch_n;
}

/* Classifies the fetched image, stores the label and answers. */
static enum outcome classify_and_answer(struct worker *w, const struct cr_request_msg *req,
                                        const struct cr_buf *image, int64_t start_ms)
{
    struct cr_prediction pred[CR_MSG_MAX_TOP];
    struct cr_error err = {0};
    size_t n = 0;
    cr_status st =
        cr_classify_bytes(w->cl, image->data, image->len, pred, (size_t)w->o.top_k, &n, &err);
    if (st != CR_OK)
        return image_error_is_permanent(st) ? reject(w, req, err.message)
                                            : leave(w, req, "classify", &err);
    if (n == 0)
        return reject(w, req, "the model gave no label");
    struct cr_response_msg resp;
    int64_t ms = cr_time_mono_ms() - start_ms;
    fill_answer(w, req, pred, n, ms, &resp);
    if (put_result(w, &resp, &err) != CR_OK || put_mirror(w, req->name, resp.label, &err) != CR_OK)
        return leave(w, req, "storing the label", &err);
    if (send_reply(w, req, &resp, &err) != CR_OK)
        return leave(w, req, "sending the answer", &err);
    cr_log(CR_LOG_INFO, "msg=answered worker=%s id=%s name=\"%s\" label=\"%s\" ms=%lld", w->id,
           req->id, req->name, resp.label, (long long)ms);
    w->stats.answered++;
    return OUTCOME_DELETE;
}

/* Fetches the image a decoded request names and answers it. */
static enum outcome handle_request(struct worker *w, const struct cr_request_msg *req)
{
    int64_t start_ms = cr_time_mono_ms();
    struct cr_error err = {0};
    struct cr_store *in = NULL;
    cr_status st = input_store(w, req->input, &in, &err);
    if (st == CR_ERR_INVALID || st == CR_ERR_UNSUPPORTED)
        return reject(w, req, err.message);
    if (st != CR_OK)
        return leave(w, req, "opening the input store", &err);
    struct cr_buf image;
    cr_buf_init(&image, 0);
    enum outcome out;
    st = cr_store_get(in, req->key, w->o.max_image_bytes, &image, &err);
    if (st == CR_OK)
        out = classify_and_answer(w, req, &image, start_ms);
    else if (st == CR_ERR_NOT_FOUND || st == CR_ERR_INVALID || st == CR_ERR_TOO_LARGE)
        out = reject(w, req, err.message);
    else
        out = leave(w, req, "fetching the image", &err);
    cr_buf_free(&image);
    return out;
}

/* Decodes one received message and handles it. */
static enum outcome handle_message(struct worker *w, const struct cr_queue_message *m)
{
    struct cr_request_msg req;
    struct cr_error err = {0};
    cr_status st = cr_request_msg_decode(m->body, m->body_len, &req, &err);
    if (st == CR_ERR_UNSUPPORTED) {
        /* A newer producer: a newer worker may understand it. */
        cr_log(CR_LOG_WARN,
               "msg=\"request of an unknown version; left\" worker=%s qid=%s "
               "error=\"%s\"",
               w->id, m->id, err.message);
        w->stats.left++;
        return OUTCOME_LEAVE;
    }
    if (st != CR_OK) {
        cr_log(CR_LOG_ERROR, "msg=\"malformed request deleted\" worker=%s qid=%s error=\"%s\"",
               w->id, m->id, err.message);
        w->stats.dropped++;
        return OUTCOME_DELETE;
    }
    return handle_request(w, &req);
}

/* Deletes a finished request. A stale receipt means another worker received
 * it after our visibility ran out; it will answer again, which the web tier
 * tolerates (it answers each id once). */
static void delete_request(struct worker *w, const struct cr_queue_message *m)
{
    struct cr_error err = {0};
    cr_status st = cr_queue_delete(w->requests, m->receipt, &err);
    if (st != CR_OK)
        cr_log(CR_LOG_WARN,
               "msg=\"cannot delete a finished request\" worker=%s qid=%s "
               "status=%s error=\"%s\"",
               w->id, m->id, cr_status_name(st), err.message);
}

/* Renews the invisibility of the messages still held (from index first on)
 * once a third of the timeout has passed, so none reappears while held. */
static void keep_invisible(struct worker *w, struct cr_queue_message *msgs, size_t first, size_t n,
                           int64_t *renewed_ms)
{
    int64_t now = cr_time_mono_ms();
    if (now - *renewed_ms < (int64_t)w->o.visibility_s * 1000 / 3)
        return;
    *renewed_ms = now;
    for (size_t i = first; i < n; i++) {
        struct cr_error err = {0};
        if (cr_queue_change_visibility(w->requests, msgs[i].receipt, w->o.visibility_s, &err) !=
            CR_OK)
            cr_log(CR_LOG_WARN, "msg=\"cannot extend visibility\" worker=%s qid=%s error=\"%s\"",
                   w->id, msgs[i].id, err.message);
    }
}

/* Handles a received batch in order, then releases the messages. */
static void handle_batch(struct worker *w, struct cr_queue_message *msgs, size_t n,
                         int64_t received_ms)
{
    int64_t renewed_ms = received_ms;
    int transient = 0;
    w->batch_n = (int)n;
    for (size_t i = 0; i < n; i++) {
        keep_invisible(w, msgs, i, n, &renewed_ms);
        if (handle_message(w, &msgs[i]) == OUTCOME_DELETE)
            delete_request(w, &msgs[i]);
        else
            transient = 1;
    }
    for (size_t i = 0; i < n; i++)
        cr_queue_message_clear(&msgs[i]);
    /* After a transient failure, pause before taking more work that would
     * likely fail the same way. */
    w->backoff_ms = transient ? (w->backoff_ms ? w->backoff_ms * 2 : 250) : 0;
    if (w->backoff_ms > WORKER_MAX_BACKOFF_MS)
        w->backoff_ms = WORKER_MAX_BACKOFF_MS;
}

/* Opens the request queue again after its handle went bad (its database
 * was removed or replaced). It is not created: the operator recreates it
 * with its settings; until then the receive loop backs off and retries. */
static cr_status reopen_requests(struct worker *w, struct cr_error *err)
{
    cr_queue_free(w->requests);
    w->requests = NULL;
    struct cr_queue_options qo = {0};
    cr_status st = cr_queue_open(w->o.requests_url, &qo, &w->requests, err);
    if (st == CR_OK)
        cr_log(CR_LOG_INFO, "msg=\"requests queue reopened\" worker=%s", w->id);
    return st;
}

/* One receive and what follows it. Returns 1 when the loop should end
 * because of idle_exit_s. */
static int step(struct worker *w)
{
    struct cr_queue_message msgs[CR_QUEUE_MAX_BATCH];
    memset(msgs, 0, sizeof(msgs));
    size_t n = 0;
    struct cr_error err = {0};
    cr_status st = w->requests ? CR_OK : reopen_requests(w, &err);
    if (st == CR_OK)
        st = cr_queue_receive(w->requests, w->o.batch, w->o.wait_ms, w->o.visibility_s, msgs, &n,
                              &err);
    if (st == CR_ERR_STATE) {
        cr_queue_free(w->requests); /* reopened on the next step */
        w->requests = NULL;
    }
    int64_t received_ms = cr_time_mono_ms();
    if (st != CR_OK) {
        cr_log(CR_LOG_WARN, "msg=\"receive failed\" worker=%s status=%s error=\"%s\"", w->id,
               cr_status_name(st), err.message);
        w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : 250;
        if (w->backoff_ms > WORKER_MAX_BACKOFF_MS)
            w->backoff_ms = WORKER_MAX_BACKOFF_MS;
    } else if (n > 0) {
        set_state(w, stop_requested(w) ? CR_WORKER_STOPPING : CR_WORKER_BUSY);
        handle_batch(w, msgs, n, received_ms);
        return 0;
    }
    if (!stop_requested(w))
        set_state(w, CR_WORKER_IDLE);
    if (w->o.idle_exit_s > 0 && w->state == CR_WORKER_IDLE &&
        received_ms - w->idle_since_ms >= (int64_t)w->o.idle_exit_s * 1000)
        return 1;
    return 0;
}

/* The receive loop proper; returns when stopped or idle for long enough. */
static void run_loop(struct worker *w)
{
    cr_log(CR_LOG_INFO, "msg=\"worker ready\" worker=%s requests=\"%s\" batch=%d", w->id,
           w->o.requests_url, w->o.batch);
    set_state(w, CR_WORKER_IDLE);
    while (!stop_requested(w)) {
        if (w->backoff_ms)
            sleep_ms(w, w->backoff_ms);
        if (stop_requested(w))
            break;
        if (step(w)) {
            w->stats.idle_exit = 1;
            cr_log(CR_LOG_INFO, "msg=\"idle exit\" worker=%s idle_s=%d", w->id, w->o.idle_exit_s);
            break;
        }
    }
    set_state(w, CR_WORKER_STOPPING);
    cr_log(CR_LOG_INFO, "msg=\"worker stopped\" worker=%s answered=%ld rejected=%ld left=%ld",
           w->id, w->stats.answered, w->stats.rejected, w->stats.left);
}

cr_status cr_worker_run(const struct cr_worker_options *opts, struct cr_worker_stats *stats,
                        struct cr_error *err)
{
    struct worker *w = calloc(1, sizeof(*w));
    if (!w)
        return cr__fail(err, CR_ERR_NOMEM, "worker: out of memory");
    cr_status st = worker_open(w, opts, err);
    if (st == CR_OK)
        run_loop(w);
    if (stats)
        *stats = w->stats;
    worker_close(w);
    free(w);
    return st;
}
