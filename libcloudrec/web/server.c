/*
 * server.c - the web tier's HTTP server: libmicrohttpd with a small thread
 * pool, routing, responses, and the life of an upload:
 *
 *   read the body -> check it -> store the image -> register the request id
 *   -> send the request message -> suspend the connection
 *   ... the reply receiver (replies.c) records the answer and resumes it ...
 *   -> answer "<stem>:<label>".
 *
 * The id is registered before the message is sent, so a reply can never
 * arrive for an id nobody waits for; a reply that comes before the handler
 * suspended is found by the handler itself (see submit()).
 */
#include "web/web_internal.h"

#include "cloudrec/image.h"
#include "core/json.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RESULTS_PREFIX "/v1/results/"
/* Connections libmicrohttpd accepts past max_connections, so that those are
 * told 503 instead of being closed unanswered. */
#define CONNECTION_HEADROOM 64u
#define COUNTS_TTL_MS 1000
#define FLUSH_WAIT_MS 3000 /* cr_web_stop: time for the last answers to go out */

enum route {
    ROUTE_NONE = 0, /* answered on the first call */
    ROUTE_UPLOAD,
};

static const char text_type[] = "text/plain; charset=utf-8";
static const char json_type[] = "application/json";

/* ---- responses ----------------------------------------------------------- */

/* Logs one answered request, with the reason of an error: uploads at info
 * level, the rest at debug. */
static void log_answer(const struct cr__web_request *r, unsigned code, const char *reason)
{
    enum cr_log_level level = r->route == ROUTE_UPLOAD ? CR_LOG_INFO : CR_LOG_DEBUG;
    if (!cr__log_enabled(level))
        return;
    char why[160];
    cr__web_printable(reason ? reason : "", 150, why, sizeof(why));
    cr_log(level, "msg=http method=%s path=\"%s\" status=%u ms=%lld name=\"%s\" id=%s%s%s%s",
           r->method, r->path, code, (long long)((cr_time_mono_us() - r->start_us) / 1000), r->name,
           r->pending.id[0] ? r->pending.id : "-", reason ? " reason=\"" : "", why,
           reason ? "\"" : "");
}

/* Queues a response with a copy of body. `allow` (may be NULL) becomes an
 * Allow header; `reason` (may be NULL) is logged. Counts it in the metrics. */
static enum MHD_Result respond_why(struct cr__web_request *r, unsigned code, const char *type,
                                   const void *body, size_t len, const char *allow,
                                   const char *reason)
{
    struct cr_web_server *s = r->server;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    /* The page loads only its own script, style and images; nothing inline
     * runs, so an injected string can never become code. */
    if (strncmp(type, "text/html", 9) == 0)
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
                                "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
    /* The id is the only way to the stored result (/v1/results/<id>). */
    if (r->route == ROUTE_UPLOAD && r->pending.id[0])
        MHD_add_response_header(resp, "X-Request-Id", r->pending.id);
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ret = MHD_queue_response(r->conn, code, resp);
    MHD_destroy_response(resp);
    cr__web_metrics_response(&s->metrics, code);
    if (r->route == ROUTE_UPLOAD) {
        cr__web_metrics_upload(&s->metrics, code, cr_time_mono_us() - r->start_us);
        if (code >= 400 && code < 500 && !r->registered)
            atomic_fetch_add(&s->metrics.rejected, 1);
    }
    log_answer(r, code, reason);
    return ret;
}

static enum MHD_Result respond(struct cr__web_request *r, unsigned code, const char *type,
                               const void *body, size_t len, const char *allow)
{
    return respond_why(r, code, type, body, len, allow, NULL);
}

/* Answers with one line of text, or {"error": ...} when the client asked
 * for JSON. Line breaks in msg (a worker's reason, say) become spaces. */
static enum MHD_Result respond_error(struct cr__web_request *r, unsigned code, const char *text,
                                     const char *allow)
{
    char msg[640];
    cr__strlcpy(msg, text, sizeof(msg));
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    struct cr_buf body;
    cr_buf_init(&body, 0);
    if (r->want_json) {
        struct cr__jw *w = cr__jw_new();
        cr__jw_object(w, NULL);
        cr__jw_text(w, "error", msg);
        cr__jw_int(w, "status", code);
        cr__jw_end(w);
        cr__jw_finish(w, &body);
    } else {
        cr_buf_appendf(&body, "%s\n", msg);
    }
    enum MHD_Result ret = body.data ? respond_why(r, code, r->want_json ? json_type : text_type,
                                                  body.data, body.len, allow, msg)
                                    : MHD_NO;
    cr_buf_free(&body);
    return ret;
}

/* respond_error with the status and message an HTTP failure left in err. */
static enum MHD_Result respond_failure(struct cr__web_request *r, const struct cr_error *err)
{
    unsigned code = err->http_status ? (unsigned)err->http_status : 500;
    return respond_error(r, code, err->message[0] ? err->message : cr_strerror(err->status), NULL);
}

static enum MHD_Result respond_text(struct cr__web_request *r, unsigned code, const char *text)
{
    return respond(r, code, text_type, text, strlen(text), NULL);
}

/* ---- small GET endpoints ------------------------------------------------- */

/* Refreshes the cached request-queue counts when they are older than
 * COUNTS_TTL_MS, and copies them into g. */
static void queue_counts(struct cr_web_server *s, struct cr__web_gauges *g)
{
    pthread_mutex_lock(&s->counts_lock);
    int64_t now = cr_time_mono_ms();
    if (s->counts_ms == 0 || now - s->counts_ms >= COUNTS_TTL_MS) {
        struct cr__web_backends *b = NULL;
        struct cr_error err = {0};
        cr_status st = cr__web_pool_acquire(&s->pool, &b, &err);
        if (st == CR_OK)
            st = cr_queue_counts(b->requests, &s->counts_visible, &s->counts_in_flight, &err);
        cr__web_pool_release(&s->pool, b, st != CR_OK);
        s->counts_ok = st == CR_OK;
        cr__strlcpy(s->counts_error, err.message[0] ? err.message : cr_strerror(st),
                    sizeof(s->counts_error));
        s->counts_ms = now;
    }
    g->queue_ok = s->counts_ok;
    g->queue_visible = s->counts_visible;
    g->queue_in_flight = s->counts_in_flight;
    pthread_mutex_unlock(&s->counts_lock);
}

static void gauges(struct cr_web_server *s, struct cr__web_gauges *g)
{
    memset(g, 0, sizeof(*g));
    pthread_mutex_lock(&s->lock);
    g->pending = (long)s->pending.count;
    pthread_mutex_unlock(&s->lock);
    g->uptime_s = (double)(cr_time_mono_ms() - s->started_ms) / 1000.0;
    char ignored[8];
    cr__web_stats_launches(s, &g->launch_failures, ignored, sizeof(ignored));
    g->starts_known = cr__web_stats_starts(s, g->start_counts, &g->start_sum_ms);
    queue_counts(s, g);
}

/* GET /healthz: 200 "ok" while the request queue can be read, replies are
 * received and the scaler can start workers; else 503 with the first
 * reason, so a load balancer or a person sees at once that accepted uploads
 * would not be answered. */
static enum MHD_Result serve_health(struct cr__web_request *r)
{
    struct cr_web_server *s = r->server;
    struct cr__web_gauges g;
    gauges(s, &g);
    char why[600] = "", launch[256];
    long failures = -1;
    cr__web_stats_launches(s, &failures, launch, sizeof(launch));
    pthread_mutex_lock(&s->counts_lock);
    if (!g.queue_ok)
        snprintf(why, sizeof(why), "request queue: %s", s->counts_error);
    else if (s->replies_error[0])
        snprintf(why, sizeof(why), "reply queue: %s", s->replies_error);
    else if (launch[0])
        snprintf(why, sizeof(why), "workers cannot start: %s", launch);
    pthread_mutex_unlock(&s->counts_lock);
    return why[0] ? respond_error(r, 503, why, NULL) : respond_text(r, 200, "ok\n");
}

static enum MHD_Result serve_metrics(struct cr__web_request *r)
{
    struct cr__web_gauges g;
    struct cr_buf body;
    cr_buf_init(&body, 0);
    gauges(r->server, &g);
    enum MHD_Result ret =
        cr__web_metrics_render(&r->server->metrics, &g, &body) == CR_OK
            ? respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", body.data, body.len, NULL)
            : respond_error(r, 500, "out of memory", NULL);
    cr_buf_free(&body);
    return ret;
}

static enum MHD_Result serve_status(struct cr__web_request *r)
{
    struct cr_web_server *s = r->server;
    struct cr__web_gauges g;
    struct cr_buf body;
    cr_buf_init(&body, 0);
    gauges(s, &g);
    struct cr__jw *w = cr__jw_new();
    cr__jw_object(w, NULL);
    cr__jw_int(w, "pending", g.pending);
    if (g.queue_ok) {
        cr__jw_object(w, "queue");
        cr__jw_int(w, "visible", g.queue_visible);
        cr__jw_int(w, "in_flight", g.queue_in_flight);
        cr__jw_end(w);
    } else {
        cr__jw_null(w, "queue");
    }
    cr__jw_int(w, "answered", (int64_t)atomic_load(&s->metrics.answered));
    cr__jw_fixed(w, "uptime_s", g.uptime_s, 0);
    cr__jw_end(w);
    if (cr__jw_finish(w, &body) == CR_OK)
        cr_buf_append_str(&body, "\n");
    enum MHD_Result ret = body.data ? respond(r, 200, json_type, body.data, body.len, NULL)
                                    : respond_error(r, 500, "out of memory", NULL);
    cr_buf_free(&body);
    return ret;
}

/* GET /v1/stats: the sampler's history (stats.c). */
static enum MHD_Result serve_stats(struct cr__web_request *r)
{
    struct cr_buf body;
    cr_buf_init(&body, 0);
    enum MHD_Result ret = cr__web_stats_render(r->server, &body) == CR_OK
                              ? respond(r, 200, json_type, body.data, body.len, NULL)
                              : respond_error(r, 500, "out of memory", NULL);
    cr_buf_free(&body);
    return ret;
}

/* The answer text for a label: "<stem>:<label>", or the label alone. */
static void answer_text(const struct cr_web_server *s, const char *stem, const char *label,
                        struct cr_buf *out)
{
    if (s->opts.label_only)
        cr_buf_append_str(out, label);
    else
        cr_buf_appendf(out, "%s:%s", stem, label);
}

/* Reads the result stored for request id into *m. CR_ERR_NOT_FOUND until
 * a worker has written it; other failures leave a reason in err. */
static cr_status read_result(struct cr_web_server *s, const char *id, struct cr_response_msg *m,
                             struct cr_error *err)
{
    char key[CR_UUID_STR_LEN + 8];
    struct cr_buf value;
    cr_buf_init(&value, CR_MSG_MAX_BYTES);
    struct cr__web_backends *b = NULL;
    cr_status st = cr_result_key(id, key, sizeof(key));
    if (st == CR_OK)
        st = cr__web_pool_acquire(&s->pool, &b, err);
    if (st == CR_OK) {
        st = cr_store_get(b->output, key, CR_MSG_MAX_BYTES, &value, err);
        cr__web_pool_release(&s->pool, b, st != CR_OK && st != CR_ERR_NOT_FOUND);
    }
    if (st == CR_OK && cr_response_msg_decode((char *)value.data, value.len, m, err) != CR_OK)
        st = cr__fail(err, CR_ERR_FORMAT, "the stored result is not a result");
    if (st == CR_OK && strcmp(m->id, id) != 0)
        st = cr__fail(err, CR_ERR_FORMAT, "the stored result belongs to another request");
    cr_buf_free(&value);
    return st;
}

/* The members of a result's JSON form: id, name, stem, label, the top list
 * and the worker, into the object w has open. */
static void result_json(struct cr__jw *w, const char *id, const char *name, const char *stem,
                        const struct cr_response_msg *m)
{
    cr__jw_string(w, "id", id);
    cr__jw_text(w, "name", name);
    cr__jw_text(w, "stem", stem);
    cr__jw_string(w, "label", m->label);
    cr__jw_array(w, "top");
    for (int i = 0; i < m->num_top; i++) {
        cr__jw_object(w, NULL);
        cr__jw_string(w, "label", m->top[i].label);
        cr__jw_float(w, "probability", m->top[i].probability);
        cr__jw_end(w);
    }
    cr__jw_end(w);
    cr__jw_string(w, "worker", m->worker);
}

/* The body and status of a result that could be read (or not). */
static unsigned result_body(struct cr__web_request *r, const char *id,
                            const struct cr_response_msg *m, cr_status st,
                            const struct cr_error *err, struct cr_buf *body)
{
    char stem[CR_MSG_NAME_MAX] = "";
    if (st == CR_ERR_NOT_FOUND) {
        cr_buf_appendf(body, "no result for %s yet", id);
        return 404;
    }
    if (st != CR_OK) {
        cr_buf_appendf(body, "cannot read the result: %s", err->message);
        return st == CR_ERR_FORMAT ? 500 : 503;
    }
    char shown[80];
    cr__web_printable(m->name, 60, shown, sizeof(shown));
    if (m->error[0]) {
        cr_buf_appendf(body, "cannot classify %s: %s", shown, m->error);
        return 422;
    }
    if (cr__name_stem(m->name, stem, sizeof(stem)) != CR_OK)
        cr__strlcpy(stem, id, sizeof(stem)); /* a result without a name */
    if (r->want_json) {
        struct cr__jw *w = cr__jw_new();
        cr__jw_object(w, NULL);
        result_json(w, id, m->name, stem, m);
        cr__jw_end(w);
        cr__jw_finish(w, body);
    } else {
        answer_text(r->server, stem, m->label, body);
    }
    return 200;
}

/* GET /v1/results/<id>: the stored result of an upload, by its request id
 * (unguessable: file names are never a way in); 404 until it exists. */
static enum MHD_Result serve_result(struct cr__web_request *r, const char *id)
{
    struct cr_response_msg *m = calloc(1, sizeof(*m));
    struct cr_error err = {0};
    if (!m)
        return respond_error(r, 500, "out of memory", NULL);
    if (!cr_uuid_is_valid(id)) {
        free(m);
        char shown[80], msg[160];
        cr__web_printable(id, 60, shown, sizeof(shown));
        snprintf(msg, sizeof(msg), "not a request id: \"%s\" (results are at /v1/results/<id>)",
                 shown);
        return respond_error(r, 400, msg, NULL);
    }
    cr_status st = read_result(r->server, id, m, &err);
    struct cr_buf body;
    cr_buf_init(&body, 0);
    unsigned code = result_body(r, id, m, st, &err, &body);
    enum MHD_Result ret = MHD_NO;
    if (body.data && code == 200)
        ret = respond(r, 200, r->want_json ? json_type : text_type, body.data, body.len, NULL);
    else if (body.data)
        ret = respond_error(r, code, (char *)body.data, NULL);
    cr_buf_free(&body);
    free(m);
    return ret;
}

/* ---- uploads -------------------------------------------------------------- */

/* The JSON answer of a successful upload. */
static void answer_json(const struct cr__web_request *r, struct cr_buf *out)
{
    const struct cr_response_msg *m = &r->reply;
    struct cr__jw *w = cr__jw_new();
    cr__jw_object(w, NULL);
    result_json(w, r->pending.id, r->name, r->stem, m);
    cr__jw_object(w, "timing");
    cr__jw_int(w, "total_ms", (cr_time_mono_us() - r->start_us) / 1000);
    cr__jw_int(w, "processing_ms", m->processing_ms);
    cr__jw_end(w);
    cr__jw_end(w);
    cr__jw_finish(w, out);
}

/* The answer to an upload whose outcome is known. */
static enum MHD_Result answer_upload(struct cr__web_request *r)
{
    struct cr_web_server *s = r->server;
    pthread_mutex_lock(&s->lock);
    enum cr__web_outcome outcome = r->outcome;
    pthread_mutex_unlock(&s->lock);
    /* Once resolved, the outcome and reply are never written again, so they
     * can be read without the lock. */
    struct cr_buf body;
    cr_buf_init(&body, 0);
    enum MHD_Result ret;
    if (outcome == CR__WEB_REPLIED && r->reply.error[0]) {
        cr_buf_appendf(&body, "cannot classify %s: %s", r->name, r->reply.error);
        ret = respond_error(r, 422, (char *)body.data, NULL);
    } else if (outcome == CR__WEB_REPLIED) {
        if (r->want_json)
            answer_json(r, &body);
        else
            answer_text(s, r->stem, r->reply.label, &body);
        ret = body.data
                  ? respond(r, 200, r->want_json ? json_type : text_type, body.data, body.len, NULL)
                  : MHD_NO;
    } else if (outcome == CR__WEB_EXPIRED) {
        cr_buf_appendf(&body, "no answer within %ld ms; the result will be at " RESULTS_PREFIX "%s",
                       s->opts.deadline_ms, r->pending.id);
        ret = respond_error(r, 504, (char *)body.data, NULL);
    } else if (outcome == CR__WEB_SHUTDOWN) {
        cr_buf_appendf(&body, "server shutting down; the result will be at " RESULTS_PREFIX "%s",
                       r->pending.id);
        ret = respond_error(r, 503, (char *)body.data, NULL);
    } else {
        /* Unreachable: a waiting connection is only resumed once resolved. */
        cr_log(CR_LOG_ERROR, "msg=\"answer without an outcome\" id=%s", r->pending.id);
        ret = respond_error(r, 500, "internal error: no outcome", NULL);
    }
    cr_buf_free(&body);
    return ret;
}

/* Adds r to the pending map unless the server is stopping. */
static int register_request(struct cr__web_request *r)
{
    struct cr_web_server *s = r->server;
    int ok = 0;
    pthread_mutex_lock(&s->lock);
    if (!atomic_load(&s->stopping)) {
        if (s->opts.deadline_ms > 0)
            r->pending.deadline_ms = cr_time_mono_ms() + s->opts.deadline_ms;
        cr__web_pending_add(&s->pending, &r->pending);
        r->registered = 1;
        atomic_fetch_add(&s->inflight, 1);
        ok = 1;
    }
    pthread_mutex_unlock(&s->lock);
    return ok;
}

/* Drops r from the pending map (it may already be gone). */
static void unregister_request(struct cr__web_request *r)
{
    struct cr_web_server *s = r->server;
    pthread_mutex_lock(&s->lock);
    struct cr__web_pending *p = cr__web_pending_take(&s->pending, r->pending.id);
    if (p && p != &r->pending)
        cr__web_pending_add(&s->pending, p); /* not ours: put it back */
    pthread_mutex_unlock(&s->lock);
}

/* Encodes r's request message into out. */
static cr_status encode_request(const struct cr__web_request *r, struct cr_buf *out)
{
    const struct cr_web_server *s = r->server;
    struct cr_request_msg m;
    memset(&m, 0, sizeof(m));
    cr__strlcpy(m.id, r->pending.id, sizeof(m.id));
    cr__strlcpy(m.name, r->name, sizeof(m.name));
    cr__strlcpy(m.key, r->key, sizeof(m.key));
    cr__strlcpy(m.input, s->input_url, sizeof(m.input));
    cr__strlcpy(m.reply, s->replies_url, sizeof(m.reply));
    m.enqueued_ms = cr_time_wall_ms();
    return cr_request_msg_encode(&m, out);
}

/* Stores the image and sends the request message with backends b. On
 * failure err holds a 503 (or 500), r is not registered, and *broken says
 * whether b failed. */
static cr_status store_and_send(struct cr__web_request *r, struct cr__web_backends *b, int *broken,
                                struct cr_error *err)
{
    struct cr_buf msg;
    cr_buf_init(&msg, CR_QUEUE_MAX_BODY);
    /* The id comes first: it is the image's key, so two uploads of the same
     * file name never touch each other's bytes. */
    if (cr_uuid_v4(r->pending.id) != CR_OK)
        return cr__web_http_fail(err, 500, "cannot make a request id");
    enum cr_image_format format = cr_image_sniff(r->up.data.data, r->up.data.len);
    snprintf(r->key, sizeof(r->key), "%s.%s", r->pending.id,
             format == CR_IMAGE_PNG ? "png" : "jpg");
    cr_status st = cr_store_put(b->input, r->key, r->up.data.data, r->up.data.len, err);
    if (st != CR_OK) {
        *broken = 1;
        cr__web_http_fail(err, 503, "cannot store the image: %s", err->message);
        goto done;
    }
    cr_buf_free(&r->up.data); /* stored; no need to hold it while waiting */
    if (encode_request(r, &msg) != CR_OK) {
        st = cr__web_http_fail(err, 500, "cannot make the request message");
        goto done;
    }
    if (!register_request(r)) {
        st = cr__web_http_fail(err, 503, "server shutting down");
        goto done;
    }
    st = cr_queue_send(b->requests, msg.data, msg.len, NULL, 0, err);
    if (st != CR_OK) {
        *broken = 1;
        unregister_request(r);
        cr__web_http_fail(err, 503, "cannot send the request: %s", err->message);
    }
done:
    cr_buf_free(&msg);
    return st;
}

/* Stores, sends, and suspends the connection until the reply comes (or
 * answers at once when it already came). */
static enum MHD_Result submit(struct cr__web_request *r)
{
    struct cr_web_server *s = r->server;
    struct cr_error err = {0};
    struct cr__web_backends *b = NULL;
    cr_status st = cr__web_pool_acquire(&s->pool, &b, &err);
    if (st != CR_OK) {
        cr__web_http_fail(&err, 503, "backend unavailable: %s", err.message);
        return respond_failure(r, &err);
    }
    int broken = 0;
    st = store_and_send(r, b, &broken, &err);
    cr__web_pool_release(&s->pool, b, broken);
    if (st != CR_OK) {
        cr_log(CR_LOG_WARN, "msg=\"upload not sent\" name=\"%s\" error=\"%s\"", r->name,
               err.message);
        return respond_failure(r, &err);
    }
    pthread_mutex_lock(&s->lock);
    int resolved = r->outcome != CR__WEB_WAITING;
    if (!resolved) {
        r->pending.suspended = 1;
        MHD_suspend_connection(r->conn);
    }
    pthread_mutex_unlock(&s->lock);
    return resolved ? answer_upload(r) : MHD_YES;
}

/* The call after the whole body arrived: check, then submit. */
static enum MHD_Result finish_upload(struct cr__web_request *r)
{
    struct cr_error err = {0};
    r->finished = 1;
    cr__web_guard_phase(&r->server->guard, r->gconn, CR__WEB_CONN_WAITING);
    if (cr__web_upload_end(r, &err) != CR_OK)
        return respond_failure(r, &err);
    return submit(r);
}

/* First call of POST / or /upload. */
static enum MHD_Result begin_upload(struct cr__web_request *r)
{
    struct cr_error err = {0};
    r->route = ROUTE_UPLOAD;
    if (atomic_load(&r->server->stopping))
        return respond_error(r, 503, "server shutting down", NULL);
    if (cr__web_upload_begin(r, &err) != CR_OK)
        return respond_failure(r, &err);
    return MHD_YES;
}

/* Later calls of an upload: body data, then the end, then (after a resume)
 * the answer. */
static enum MHD_Result continue_upload(struct cr__web_request *r, const char *data, size_t *size)
{
    if (*size > 0) {
        cr__web_guard_body(&r->server->guard, r->gconn, *size);
        int rc = cr__web_upload_feed(r, data, *size);
        *size = 0;
        return rc == 0 ? MHD_YES : MHD_NO;
    }
    if (!r->finished)
        return finish_upload(r);
    return answer_upload(r);
}

/* ---- routing -------------------------------------------------------------- */

static int is_get(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

/* 405 with the methods the path allows. */
static enum MHD_Result not_allowed(struct cr__web_request *r, const char *method, const char *path,
                                   const char *allow)
{
    char msg[200], m[24], p[80];
    cr__web_printable(method, 16, m, sizeof(m));
    cr__web_printable(path, 60, p, sizeof(p));
    snprintf(msg, sizeof(msg), "method %s not allowed on %s (allowed: %s)", m, p, allow);
    return respond_error(r, 405, msg, allow);
}

/* Routes a GET-only path; serve is called for GET and HEAD. */
static enum MHD_Result route_get(struct cr__web_request *r, const char *method, const char *url)
{
    if (!is_get(method))
        return not_allowed(r, method, url, "GET, HEAD");
    if (strcmp(url, "/healthz") == 0)
        return serve_health(r);
    if (strcmp(url, "/metrics") == 0)
        return serve_metrics(r);
    if (strcmp(url, "/v1/status") == 0)
        return serve_status(r);
    if (strcmp(url, "/v1/stats") == 0)
        return serve_stats(r);
    size_t len = 0;
    const char *type = NULL, *asset = cr__web_asset(url, &len, &type);
    if (asset)
        return respond(r, 200, type, asset, len, NULL);
    return serve_result(r, url + strlen(RESULTS_PREFIX));
}

/* The first call of every request: picks the handler by path and method. */
static enum MHD_Result route(struct cr__web_request *r, const char *method, const char *url)
{
    int post = strcmp(method, "POST") == 0;
    if (strcmp(url, "/") == 0) {
        if (post)
            return begin_upload(r);
        if (is_get(method))
            return respond(r, 200, "text/html; charset=utf-8", cr__web_page_html(),
                           strlen(cr__web_page_html()), NULL);
        return not_allowed(r, method, url, "GET, HEAD, POST");
    }
    if (strcmp(url, "/upload") == 0)
        return post ? begin_upload(r) : not_allowed(r, method, url, "POST");
    if (strcmp(url, "/healthz") == 0 || strcmp(url, "/metrics") == 0 ||
        strcmp(url, "/v1/status") == 0 || strcmp(url, "/v1/stats") == 0 ||
        cr__web_asset(url, NULL, NULL) ||
        strncmp(url, RESULTS_PREFIX, strlen(RESULTS_PREFIX)) == 0)
        return route_get(r, method, url);
    char msg[120], p[80];
    cr__web_printable(url, 60, p, sizeof(p));
    snprintf(msg, sizeof(msg), "no such path: %s", p);
    return respond_error(r, 404, msg, NULL);
}

/* MHD_KeyValueIterator: counts the Content-Length headers. */
static enum MHD_Result count_length_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                           const char *value)
{
    (void)kind, (void)value;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        (*(int *)cls)++;
    return MHD_YES;
}

/* libmicrohttpd keeps the first of several Content-Length headers; a body
 * whose length two headers disagree on (or repeat) is how requests get
 * smuggled past proxies, so it is refused before anything is read. */
static int has_repeated_length(struct MHD_Connection *c)
{
    int n = 0;
    MHD_get_connection_values(c, MHD_HEADER_KIND, count_length_header, &n);
    return n > 1;
}

/* MHD_AccessHandlerCallback. The request context is made on the first call
 * and freed by on_completed. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **req_cls)
{
    struct cr__web_request *r = *req_cls;
    (void)version;
    if (r)
        return r->route == ROUTE_UPLOAD ? continue_upload(r, data, size) : MHD_YES;
    r = calloc(1, sizeof(*r));
    if (!r)
        return MHD_NO;
    r->server = cls;
    r->conn = c;
    r->start_us = cr_time_mono_us();
    cr__web_printable(method, 12, r->method, sizeof(r->method));
    cr__web_printable(url, 80, r->path, sizeof(r->path));
    r->want_json = cr__web_accepts_json(
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
    *req_cls = r;
    r->gconn = cr__web_guard_conn(c);
    if (has_repeated_length(c))
        return respond_error(r, 400, "more than one Content-Length header", NULL);
    struct cr_web_server *s = cls;
    long open = cr__web_guard_count(&s->guard);
    if (open > (long)s->opts.max_connections) {
        atomic_fetch_add(&s->metrics.busy, 1);
        char msg[96];
        snprintf(msg, sizeof(msg), "server busy: %ld connections open, the limit is %u", open,
                 s->opts.max_connections);
        return respond_error(r, 503, msg, NULL);
    }
    enum MHD_Result ret = route(r, method, url);
    /* An upload still has its body to send; anything else is answered. */
    cr__web_guard_phase(&s->guard, r->gconn,
                        r->route == ROUTE_UPLOAD && !r->finished ? CR__WEB_CONN_BODY
                                                                 : CR__WEB_CONN_WAITING);
    return ret;
}

/* MHD_RequestCompletedCallback: the request is over (answered, or the
 * connection is gone); frees its context. */
static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode code)
{
    struct cr_web_server *s = cls;
    struct cr__web_request *r = *req_cls;
    (void)code;
    /* A keep-alive connection now waits for its next request's headers. */
    cr__web_guard_phase(&s->guard, cr__web_guard_conn(c), CR__WEB_CONN_HEADERS);
    if (!r)
        return;
    if (r->registered) {
        unregister_request(r);
        atomic_fetch_sub(&s->inflight, 1);
    }
    cr__web_upload_clear(&r->up);
    free(r);
    *req_cls = NULL;
}

/* MHD's error log, passed on to cr_log; the last line is kept so that
 * cr_web_start can say why the daemon did not start. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct cr_web_server *s = cls;
    char line[256];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    pthread_mutex_lock(&s->log_lock);
    cr__strlcpy(s->start_error, line, sizeof(s->start_error));
    pthread_mutex_unlock(&s->log_lock);
    cr_log(CR_LOG_WARN, "msg=\"http server\" detail=\"%s\"", line);
}

/* ---- start and stop -------------------------------------------------------- */

/* Copies the options with defaults applied; checks the required fields. */
static cr_status take_options(struct cr_web_server *s, const struct cr_web_options *o,
                              struct cr_error *err)
{
    if (!o || !o->input_url || !o->output_url || !o->requests_url || !o->replies_url)
        return cr__fail(err, CR_ERR_INVALID,
                        "the web tier needs input, output, requests and replies URLs");
    if (o->port < 0 || o->port > 65535 || o->threads < 0 || o->threads > 256 ||
        o->idle_timeout_s < 0)
        return cr__fail(err, CR_ERR_INVALID, "port, threads or idle timeout out of range");
    s->opts = *o;
    s->bind_addr = cr__strdup(o->bind_addr ? o->bind_addr : "127.0.0.1");
    s->input_url = cr__strdup(o->input_url);
    s->output_url = cr__strdup(o->output_url);
    s->requests_url = cr__strdup(o->requests_url);
    s->replies_url = cr__strdup(o->replies_url);
    if (!s->bind_addr || !s->input_url || !s->output_url || !s->requests_url || !s->replies_url)
        return cr__fail(err, CR_ERR_NOMEM, "out of memory");
    struct cr_web_options *d = &s->opts;
    d->bind_addr = s->bind_addr, d->input_url = s->input_url, d->output_url = s->output_url;
    d->requests_url = s->requests_url, d->replies_url = s->replies_url;
    d->max_body_bytes = o->max_body_bytes ? o->max_body_bytes : CR_WEB_DEFAULT_MAX_BODY_BYTES;
    d->max_pixels = o->max_pixels ? o->max_pixels : CR_IMAGE_DEFAULT_MAX_PIXELS;
    d->deadline_ms = o->deadline_ms ? o->deadline_ms : CR_WEB_DEFAULT_DEADLINE_MS;
    d->threads = o->threads ? o->threads : CR_WEB_DEFAULT_THREADS;
    d->max_connections = o->max_connections ? o->max_connections : CR_WEB_DEFAULT_MAX_CONNECTIONS;
    d->idle_timeout_s = o->idle_timeout_s ? o->idle_timeout_s : CR_WEB_DEFAULT_IDLE_TIMEOUT_S;
    d->shutdown_grace_ms =
        o->shutdown_grace_ms ? o->shutdown_grace_ms : CR_WEB_DEFAULT_SHUTDOWN_GRACE_MS;
    d->header_timeout_ms =
        o->header_timeout_ms ? o->header_timeout_ms : CR_WEB_DEFAULT_HEADER_TIMEOUT_MS;
    d->min_body_bytes_per_s =
        o->min_body_bytes_per_s ? o->min_body_bytes_per_s : (long)CR_WEB_DEFAULT_MIN_BODY_RATE;
    return CR_OK;
}

/* Parses the bind address into sa; *ipv6 says which family. */
static cr_status bind_address(const struct cr_web_server *s, struct sockaddr_storage *sa, int *ipv6,
                              struct cr_error *err)
{
    memset(sa, 0, sizeof(*sa));
    struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
    *ipv6 = 0;
    if (inet_pton(AF_INET, s->bind_addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)s->opts.port);
        return CR_OK;
    }
    if (inet_pton(AF_INET6, s->bind_addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)s->opts.port);
        *ipv6 = 1;
        return CR_OK;
    }
    return cr__fail(err, CR_ERR_INVALID, "bind address '%s' is not an IPv4 or IPv6 address",
                    s->bind_addr);
}

/* Opens the backends once, so a wrong URL fails at start, not at the first
 * upload; the handles go into the pool. */
static cr_status open_backends(struct cr_web_server *s, struct cr_error *err)
{
    struct cr__web_backends *b = NULL;
    struct cr_queue_options create = {.create = 1};
    struct cr_queue *q = NULL;
    cr_status st = cr_queue_open(s->requests_url, &create, &q, err);
    cr_queue_free(q);
    if (st == CR_OK)
        st = cr__web_pool_acquire(&s->pool, &b, err);
    cr__web_pool_release(&s->pool, b, 0);
    if (st != CR_OK)
        return st;
    struct cr_queue_options qo = {.create = 1};
    return cr_queue_open(s->replies_url, &qo, &s->replies, err);
}

static cr_status start_daemon(struct cr_web_server *s, struct cr_error *err)
{
    struct sockaddr_storage sa;
    int ipv6 = 0;
    cr_status st = bind_address(s, &sa, &ipv6, err);
    if (st != CR_OK)
        return st;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG |
                     (MHD_is_feature_supported(MHD_FEATURE_EPOLL) ? MHD_USE_EPOLL : MHD_USE_POLL) |
                     (ipv6 ? MHD_USE_IPv6 : 0);
    /* The logger goes first so that libmicrohttpd reports option errors
     * through it too. */
    s->daemon = MHD_start_daemon(flags, (uint16_t)s->opts.port, NULL, NULL, on_request, s,
                                 MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, MHD_OPTION_SOCK_ADDR,
                                 &sa, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->opts.threads,
                                 MHD_OPTION_CONNECTION_LIMIT,
                                 s->opts.max_connections + CONNECTION_HEADROOM,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->opts.idle_timeout_s,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_NOTIFY_CONNECTION, cr__web_on_connection, &s->guard,
                                 MHD_OPTION_END);
    if (!s->daemon)
        return cr__fail(err, CR_ERR_NETWORK, "cannot listen on %s port %d: %s", s->bind_addr,
                        s->opts.port, s->start_error[0] ? s->start_error : "unknown error");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : s->opts.port;
    return CR_OK;
}

/* Starts the deadlines for connections still sending their request. */
static cr_status start_guard(struct cr_web_server *s, struct cr_error *err)
{
    long header_ms = s->opts.header_timeout_ms > 0 ? s->opts.header_timeout_ms : 0;
    long idle_ms = header_ms ? s->opts.idle_timeout_s * 1000L : 0;
    uint64_t rate = s->opts.min_body_bytes_per_s > 0 ? (uint64_t)s->opts.min_body_bytes_per_s : 0;
    return cr__web_guard_start(&s->guard, header_ms, idle_ms, rate, err);
}

/* Allocates the server and its locks; nothing is started. */
static cr_status server_new(struct cr_web_server **out)
{
    struct cr_web_server *s = calloc(1, sizeof(*s));
    *out = s;
    if (!s)
        return CR_ERR_NOMEM;
    s->quiesced = MHD_INVALID_SOCKET;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->counts_lock, NULL);
    pthread_mutex_init(&s->log_lock, NULL);
    cr__web_metrics_init(&s->metrics);
    cr__web_guard_init(&s->guard, &s->metrics);
    s->started_ms = cr_time_mono_ms();
    return cr__web_pending_init(&s->pending);
}

cr_status cr_web_start(const struct cr_web_options *opts, struct cr_web_server **out,
                       struct cr_error *err)
{
    struct cr_web_server *s = NULL;
    if (!out)
        return cr__fail(err, CR_ERR_INVALID, "cr_web_start: out is NULL");
    *out = NULL;
    cr_status st = server_new(&s);
    if (st != CR_OK) {
        cr__fail(err, st, "out of memory");
        goto fail;
    }
    if ((st = take_options(s, opts, err)) != CR_OK)
        goto fail;
    cr__web_pool_init(&s->pool, s->input_url, s->output_url, s->requests_url);
    if ((st = open_backends(s, err)) != CR_OK || (st = cr__web_stats_start(s, opts, err)) != CR_OK ||
        (st = start_daemon(s, err)) != CR_OK || (st = cr__web_receiver_start(s, err)) != CR_OK ||
        (st = start_guard(s, err)) != CR_OK)
        goto fail;
    cr_log(CR_LOG_INFO, "msg=\"web tier listening\" addr=%s port=%d threads=%d deadline_ms=%ld",
           s->bind_addr, s->port, s->opts.threads, s->opts.deadline_ms);
    *out = s;
    return CR_OK;
fail:
    cr_web_free(s);
    return st;
}

int cr_web_port(const struct cr_web_server *server)
{
    return server ? server->port : 0;
}

void cr_web_stats(const struct cr_web_server *server, struct cr_web_stats *stats)
{
    memset(stats, 0, sizeof(*stats));
    if (!server)
        return;
    /* The counters are atomics; reading them does not change the server. */
    struct cr_web_server *s = (struct cr_web_server *)server;
    stats->requests = cr__web_metrics_requests(&s->metrics);
    stats->uploads = atomic_load(&s->metrics.uploads);
    stats->answered = atomic_load(&s->metrics.answered);
    stats->rejected = atomic_load(&s->metrics.rejected);
    stats->timeouts = atomic_load(&s->metrics.timeouts);
    stats->replies = atomic_load(&s->metrics.replies);
    stats->duplicate_replies = atomic_load(&s->metrics.duplicates);
    stats->unknown_replies = atomic_load(&s->metrics.unknown) + atomic_load(&s->metrics.malformed);
    pthread_mutex_lock(&s->lock);
    stats->pending = (long)s->pending.count;
    pthread_mutex_unlock(&s->lock);
}

/* Sleeps in 20 ms steps until done(s) or ms have passed (ms < 0: no wait). */
static void wait_until(struct cr_web_server *s, int (*done)(struct cr_web_server *), long ms)
{
    int64_t end = cr_time_mono_ms() + (ms > 0 ? ms : 0);
    while (!done(s) && cr_time_mono_ms() < end) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 20L * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int nothing_pending(struct cr_web_server *s)
{
    pthread_mutex_lock(&s->lock);
    int empty = s->pending.count == 0;
    pthread_mutex_unlock(&s->lock);
    return empty;
}

static int nothing_in_flight(struct cr_web_server *s)
{
    return atomic_load(&s->inflight) == 0;
}

/* Answers 503 to every request still waiting. */
static void resolve_all_shutdown(struct cr_web_server *s)
{
    pthread_mutex_lock(&s->lock);
    struct cr__web_pending *p;
    while ((p = cr__web_pending_take_any(&s->pending)))
        cr__web_resolve_locked(s, p, CR__WEB_SHUTDOWN, NULL);
    pthread_mutex_unlock(&s->lock);
}

void cr_web_stop(struct cr_web_server *s)
{
    if (!s || s->stopped)
        return;
    pthread_mutex_lock(&s->lock);
    atomic_store(&s->stopping, 1);
    pthread_mutex_unlock(&s->lock);
    if (s->daemon) {
        s->quiesced = MHD_quiesce_daemon(s->daemon);
        wait_until(s, nothing_pending, s->opts.shutdown_grace_ms);
    }
    resolve_all_shutdown(s);
    cr__web_receiver_stop(s);
    cr__web_stats_free(s);
    if (s->daemon) {
        /* Resumed connections still have to write their answers; libmicrohttpd
         * must not be stopped while any connection is suspended. */
        wait_until(s, nothing_in_flight, FLUSH_WAIT_MS);
        MHD_stop_daemon(s->daemon);
        s->daemon = NULL;
    }
    cr__web_guard_stop(&s->guard); /* after the daemon: its callbacks use the guard */
    if (s->quiesced != MHD_INVALID_SOCKET)
        close(s->quiesced);
    s->quiesced = MHD_INVALID_SOCKET;
    s->stopped = 1;
    struct cr_web_stats st;
    cr_web_stats(s, &st);
    cr_log(CR_LOG_INFO,
           "msg=\"web tier stopped\" uploads=%llu answered=%llu timeouts=%llu replies=%llu "
           "duplicates=%llu",
           (unsigned long long)st.uploads, (unsigned long long)st.answered,
           (unsigned long long)st.timeouts, (unsigned long long)st.replies,
           (unsigned long long)st.duplicate_replies);
}

void cr_web_free(struct cr_web_server *s)
{
    if (!s)
        return;
    cr_web_stop(s);
    cr_queue_free(s->replies);
    if (s->pool.input_url)
        cr__web_pool_free(&s->pool);
    cr__web_pending_free(&s->pending);
    cr__web_guard_clear(&s->guard);
    pthread_mutex_destroy(&s->log_lock);
    pthread_mutex_destroy(&s->counts_lock);
    pthread_mutex_destroy(&s->lock);
    free(s->replies_url);
    free(s->requests_url);
    free(s->output_url);
    free(s->input_url);
    free(s->bind_addr);
    free(s);
}
