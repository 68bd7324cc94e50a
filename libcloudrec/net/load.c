/*
 * load.c - the load generator's engine: concurrent multipart uploads over the
 * libcurl multi interface. Judging, labels and percentiles are in
 * load_check.c; this file only drives transfers.
 */
#include "internal.h"
#include "net/load_internal.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Marks kept for the progress window: a whole 5 s window down to calls every
 * 80 ms; more often than that, the window covers the last 64 calls. */
#define PROGRESS_MARKS 64

/* One upload slot: an easy handle reused for request after request, so its
 * connection stays in the multi handle's cache between uploads. */
struct slot {
    CURL *easy;
    curl_mime *mime; /* the form of the upload in flight, NULL when idle */
    struct cr_buf body;
    size_t max_body;
    int truncated;
    size_t index; /* request number */
    size_t item;  /* index into the items */
    char curl_msg[CURL_ERROR_SIZE];
};

/* Everything one cr__load_run() call owns. */
struct run {
    const struct cr_load_item *items;
    size_t n_items;
    const char *url;
    const char *field;
    long timeout_ms;
    cr_load_answer_fn on_answer;
    void *userdata;
    CURLM *multi;
    struct curl_slist *headers;
    struct slot *slots;
    size_t n_slots;
    size_t next; /* next request number to start */
    size_t in_flight;
    int64_t *latencies; /* of answered uploads, n = totals->answered */
    int64_t start_us;
    struct cr_load_totals *totals;
    cr_load_progress_fn on_progress;
    long progress_every_ms;
    int64_t next_progress_us;
    /* Answers counted at the last PROGRESS_MARKS progress calls, for the
     * window's rate and p50. */
    struct {
        int64_t at_us;
        size_t answered;
    } marks[PROGRESS_MARKS];
    size_t n_marks;
    int64_t *window; /* scratch for the window's latencies */
    size_t window_cap;
};

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_init_rc;

/* curl_global_init is reference counted, so running it here as well as in
 * http.c is harmless; pthread_once keeps this file's call single. */
static void curl_init_once(void)
{
    g_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The file name an item is sent as: its name, or the basename of its path. */
static const char *item_name(const struct cr_load_item *it)
{
    if (it->name && it->name[0])
        return it->name;
    const char *slash = strrchr(it->path, '/');
    return slash ? slash + 1 : it->path;
}

/* A part Content-Type from the extension; the web tier sniffs the bytes
 * anyway, this only mirrors what browsers send. */
static const char *content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot && (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0))
        return "image/jpeg";
    if (dot && strcasecmp(dot, ".png") == 0)
        return "image/png";
    return "application/octet-stream";
}

/* Checks options and items before anything is sent. */
static cr_status check_input(const struct cr_load_options *o, const struct cr_load_item *items,
                             size_t n_items, struct cr_error *err)
{
    if (!o || !o->url || !o->url[0])
        return cr__fail(err, CR_ERR_INVALID, "load: no URL");
    if (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0)
        return cr__fail(err, CR_ERR_INVALID, "load: %s: not an http:// or https:// URL", o->url);
    if (!items || n_items == 0)
        return cr__fail(err, CR_ERR_INVALID, "load: no images to upload");
    if (o->field_name && !o->field_name[0])
        return cr__fail(err, CR_ERR_INVALID, "load: empty form field name");
    if (o->timeout_ms < 0)
        return cr__fail(err, CR_ERR_INVALID, "load: negative timeout");
    for (size_t i = 0; i < n_items; i++) {
        struct stat sb;
        if (!items[i].path)
            return cr__fail(err, CR_ERR_INVALID, "load: item %zu has no path", i);
        if (stat(items[i].path, &sb) != 0)
            return cr__fail(err, CR_ERR_NOT_FOUND, "%s: no such file", items[i].path);
        if (!S_ISREG(sb.st_mode) || access(items[i].path, R_OK) != 0)
            return cr__fail(err, CR_ERR_IO, "%s: not a readable file", items[i].path);
    }
    return CR_OK;
}

/* libcurl write callback: keeps the first max_body bytes of the answer and
 * drops the rest, without failing the transfer, so the connection survives. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct slot *s = userdata;
    size_t n = size * nmemb, room = s->max_body - s->body.len;
    if (n > room)
        s->truncated = 1;
    if (cr__buf_append(&s->body, data, n < room ? n : room) != CR_OK)
        s->truncated = 1;
    return n;
}

/* Creates the slots' easy handles with the options every upload shares. */
static cr_status slots_create(struct run *r, size_t max_body)
{
    r->slots = calloc(r->n_slots, sizeof(*r->slots));
    if (!r->slots)
        return CR_ERR_NOMEM;
    for (size_t i = 0; i < r->n_slots; i++) {
        struct slot *s = &r->slots[i];
        s->max_body = max_body;
        cr_buf_init(&s->body, 0);
        if (!(s->easy = curl_easy_init()))
            return CR_ERR_NOMEM;
        curl_easy_setopt(s->easy, CURLOPT_URL, r->url);
        curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, r->headers);
        curl_easy_setopt(s->easy, CURLOPT_USERAGENT, "libcloudrec-load/" CR_VERSION_STRING);
        curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
        curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->curl_msg);
        curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
        curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, r->timeout_ms); /* 0 = none */
        curl_easy_setopt(s->easy, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(s->easy, CURLOPT_SSL_VERIFYHOST, 2L);
    }
    return CR_OK;
}

/* Builds the form for item `it` and hands the slot's handle to the multi. */
static cr_status slot_start(struct run *r, struct slot *s)
{
    s->index = r->next;
    s->item = r->next % r->n_items;
    s->truncated = 0;
    s->curl_msg[0] = '\0';
    cr__buf_reset(&s->body);
    const struct cr_load_item *it = &r->items[s->item];
    const char *name = item_name(it);
    curl_mimepart *part = NULL;
    if (!(s->mime = curl_mime_init(s->easy)) || !(part = curl_mime_addpart(s->mime)) ||
        curl_mime_name(part, r->field) != CURLE_OK ||
        curl_mime_filedata(part, it->path) != CURLE_OK ||
        curl_mime_filename(part, name) != CURLE_OK ||
        curl_mime_type(part, content_type(name)) != CURLE_OK)
        return CR_ERR_NOMEM;
    curl_easy_setopt(s->easy, CURLOPT_MIMEPOST, s->mime);
    if (curl_multi_add_handle(r->multi, s->easy) != CURLM_OK)
        return CR_ERR_NETWORK;
    r->next++;
    r->in_flight++;
    r->totals->sent++;
    return CR_OK;
}

/* Maps a finished transfer to the result's status and error line. */
static void classify_outcome(struct slot *s, CURLcode rc, struct cr_load_result *res)
{
    res->error = "";
    if (rc == CURLE_OK) {
        res->status = res->http_status == 200 ? CR_OK : CR_ERR_HTTP;
        return;
    }
    res->status = rc == CURLE_OPERATION_TIMEDOUT ? CR_ERR_TIMEOUT
                  : rc == CURLE_READ_ERROR       ? CR_ERR_IO
                                                 : CR_ERR_NETWORK;
    res->error = s->curl_msg[0] ? s->curl_msg : curl_easy_strerror(rc);
}

/* Cuts trailing whitespace (the newline most servers end with) off the body. */
static void trim_body(struct cr_buf *b)
{
    while (b->len > 0 && strchr(" \t\r\n", b->data[b->len - 1]))
        b->len--;
    if (b->data)
        b->data[b->len] = '\0';
}

/* Counts a judged result into the running totals. */
static void tally(struct run *r, const struct cr_load_result *res)
{
    struct cr_load_totals *t = r->totals;
    if (res->verdict == CR_LOAD_ERROR) {
        t->errors++;
        return;
    }
    r->latencies[t->answered++] = res->latency_us;
    if (res->verdict == CR_LOAD_CORRECT)
        t->correct++;
    else
        t->wrong++;
    if (!res->expected_label)
        t->unchecked++;
}

/* Takes a finished transfer out of the multi, judges and reports it; the
 * slot is idle afterwards. */
static void slot_finish(struct run *r, struct slot *s, CURLcode rc)
{
    const struct cr_load_item *it = &r->items[s->item];
    curl_off_t total_us = 0;
    struct cr_load_result res = {.index = s->index,
                                 .item = s->item,
                                 .name = item_name(it),
                                 .expected_label = it->expected_label};
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &res.http_status);
    curl_easy_getinfo(s->easy, CURLINFO_TOTAL_TIME_T, &total_us);
    curl_multi_remove_handle(r->multi, s->easy);
    curl_mime_free(s->mime);
    s->mime = NULL;
    r->in_flight--;

    trim_body(&s->body);
    classify_outcome(s, rc, &res);
    res.body = s->body.data ? (const char *)s->body.data : "";
    res.body_len = s->body.len;
    res.body_truncated = s->truncated;
    res.latency_us = (int64_t)total_us;
    res.end_us = cr__time_mono_us() - r->start_us;
    /* A cut answer is not the one-line `<stem>:<label>` the web tier owes us. */
    res.verdict = res.status != CR_OK ? CR_LOAD_ERROR
                  : s->truncated      ? CR_LOAD_WRONG
                                      : cr__load_judge(res.name, res.body, res.expected_label);
    tally(r, &res);
    if (r->on_answer)
        r->on_answer(r->userdata, &res, r->totals);
}

/* Reports every finished transfer and reuses its slot for the next upload. */
static cr_status drain(struct run *r, size_t num)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(r->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        char *priv = NULL;
        CURLcode rc = msg->data.result; /* msg is invalid once the handle is removed */
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        struct slot *s = (struct slot *)priv;
        slot_finish(r, s, rc);
        if (r->next < num) {
            cr_status st = slot_start(r, s);
            if (st != CR_OK)
                return st;
        }
    }
    return CR_OK;
}

static int cmp_i64(const void *a, const void *b);

/* Drops the marks that fell out of the window ending at now_us, keeping the
 * newest one at or before its start, and then appends (now_us, answered).
 * Before that, marks[0] (or the run's start) is where the window begins. */
static void push_mark(struct run *r, int64_t now_us, size_t answered)
{
    int64_t window_us = (int64_t)CR_LOAD_PROGRESS_WINDOW_MS * 1000;
    size_t drop = 0;
    while (drop + 1 < r->n_marks && now_us - r->marks[drop + 1].at_us >= window_us)
        drop++;
    if (r->n_marks - drop == PROGRESS_MARKS)
        drop++;
    memmove(r->marks, r->marks + drop, (r->n_marks - drop) * sizeof(r->marks[0]));
    r->n_marks -= drop;
    r->marks[r->n_marks].at_us = now_us;
    r->marks[r->n_marks++].answered = answered;
}

/* Calls on_progress when its interval has passed (or when forced): counts,
 * the answer rate and the p50 latency over the last
 * CR_LOAD_PROGRESS_WINDOW_MS. */
static void maybe_progress(struct run *r, int force)
{
    int64_t now = cr__time_mono_us();
    if (!r->on_progress || (!force && now < r->next_progress_us))
        return;
    r->next_progress_us = now + r->progress_every_ms * 1000;
    const struct cr_load_totals *t = r->totals;
    push_mark(r, now, t->answered);
    struct cr_load_progress p = {.elapsed_us = now - r->start_us,
                                 .requests = t->requests,
                                 .sent = t->sent,
                                 .answered = t->answered,
                                 .errors = t->errors,
                                 .in_flight = r->in_flight,
                                 .recent_p50_us = -1};
    /* marks[0] opens the window once there is an older mark than now's. */
    int64_t from_us = r->n_marks > 1 ? r->marks[0].at_us : r->start_us;
    size_t from = r->n_marks > 1 ? r->marks[0].answered : 0, n = t->answered - from;
    if (now > from_us)
        p.answers_per_s = (double)n * 1e6 / (double)(now - from_us);
    if (n > r->window_cap) {
        int64_t *w = realloc(r->window, n * sizeof(*w));
        if (w) {
            r->window = w;
            r->window_cap = n;
        }
    }
    if (n > 0 && n <= r->window_cap) { /* else out of memory: no p50 this time */
        memcpy(r->window, r->latencies + from, n * sizeof(*r->window));
        qsort(r->window, n, sizeof(*r->window), cmp_i64);
        p.recent_p50_us = cr__load_percentile(r->window, n, 50);
    }
    r->on_progress(r->userdata, &p);
}

/* Runs transfers until every planned upload has been answered. */
static cr_status run_loop(struct run *r, size_t num, struct cr_error *err)
{
    cr_status st = CR_OK;
    int poll_ms = r->on_progress && r->progress_every_ms < 1000 ? (int)r->progress_every_ms : 1000;
    for (size_t i = 0; i < r->n_slots && st == CR_OK; i++)
        st = slot_start(r, &r->slots[i]);
    while (st == CR_OK && r->in_flight > 0) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(r->multi, &running);
        if (mc == CURLM_OK)
            st = drain(r, num);
        maybe_progress(r, 0);
        if (mc == CURLM_OK && st == CR_OK && r->in_flight > 0)
            mc = curl_multi_poll(r->multi, NULL, 0, poll_ms, NULL);
        if (mc != CURLM_OK)
            return cr__fail(err, CR_ERR_NETWORK, "load: libcurl: %s", curl_multi_strerror(mc));
    }
    if (st != CR_OK)
        return cr__fail(err, st, "load: cannot start an upload: %s", cr_strerror(st));
    maybe_progress(r, 1); /* the last word: everything answered */
    return CR_OK;
}

/* Releases handles and memory; safe on a partly built run. */
static void run_clear(struct run *r)
{
    for (size_t i = 0; r->slots && i < r->n_slots; i++) {
        struct slot *s = &r->slots[i];
        if (s->easy && s->mime)
            curl_multi_remove_handle(r->multi, s->easy);
        if (s->easy)
            curl_easy_cleanup(s->easy);
        curl_mime_free(s->mime);
        cr_buf_clear(&s->body);
    }
    free(r->slots);
    if (r->multi)
        curl_multi_cleanup(r->multi);
    curl_slist_free_all(r->headers);
    free(r->latencies);
    free(r->window);
}

/* qsort order for latencies: ascending. */
static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Fills the timing fields of the totals from the answered latencies. */
static void finish_totals(struct run *r)
{
    struct cr_load_totals *t = r->totals;
    t->wall_us = cr__time_mono_us() - r->start_us;
    if (t->wall_us > 0)
        t->answers_per_s = (double)t->answered * 1e6 / (double)t->wall_us;
    int64_t *v = r->latencies;
    size_t n = t->answered;
    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_i64);
    t->latency_p50_us = cr__load_percentile(v, n, 50);
    t->latency_p90_us = cr__load_percentile(v, n, 90);
    t->latency_p99_us = cr__load_percentile(v, n, 99);
    t->latency_max_us = cr__load_percentile(v, n, 100);
}

/* Creates the multi handle, the shared header list and the slots. */
static cr_status run_setup(struct run *r, size_t num, size_t concurrency, size_t max_body,
                           struct cr_error *err)
{
    pthread_once(&g_curl_once, curl_init_once);
    if (g_curl_init_rc != CURLE_OK)
        return cr__fail(err, CR_ERR_NETWORK, "libcurl initialisation failed");
    r->n_slots = concurrency < num ? concurrency : num;
    r->latencies = malloc(num * sizeof(*r->latencies));
    r->multi = curl_multi_init();
    /* No `Expect: 100-continue`: a server that ignores it would cost every
     * upload a one-second wait, and the course clients never send it. */
    r->headers = curl_slist_append(NULL, "Expect:");
    if (!r->latencies || !r->multi || !r->headers || slots_create(r, max_body) != CR_OK)
        return cr__fail(err, CR_ERR_NOMEM, "load: out of memory");
    /* Keep every slot's connection cached for reuse by the next upload. */
    curl_multi_setopt(r->multi, CURLMOPT_MAXCONNECTS, (long)r->n_slots);
    return CR_OK;
}

/* Public contract in cloudrec/load.h: validate, set up, run, total, tear down.
 * Totals are always filled, even when the run fails midway. */
cr_status cr__load_run(const struct cr_load_options *opts, const struct cr_load_item *items,
                      size_t n_items, struct cr_load_totals *totals, struct cr_error *err)
{
    if (!totals)
        return cr__fail(err, CR_ERR_INVALID, "load: NULL totals");
    memset(totals, 0, sizeof(*totals));
    cr_status st = check_input(opts, items, n_items, err);
    if (st != CR_OK)
        return st;
    size_t num = opts->num_requests ? opts->num_requests : n_items;
    if (num > SIZE_MAX / sizeof(int64_t))
        return cr__fail(err, CR_ERR_INVALID, "load: too many requests");
    struct run r = {
        .items = items,
        .n_items = n_items,
        .url = opts->url,
        .field = opts->field_name ? opts->field_name : CR_LOAD_DEFAULT_FIELD,
        .timeout_ms = opts->timeout_ms,
        .on_answer = opts->on_answer,
        .userdata = opts->userdata,
        .totals = totals,
        .on_progress = opts->on_progress,
        .progress_every_ms = opts->progress_every_ms > 0 ? opts->progress_every_ms : 1000,
    };
    totals->requests = num;
    st = run_setup(&r, num, opts->concurrency ? opts->concurrency : CR_LOAD_DEFAULT_CONCURRENCY,
                   opts->max_body_bytes ? opts->max_body_bytes : CR_LOAD_DEFAULT_MAX_BODY_BYTES,
                   err);
    r.start_us = cr__time_mono_us();
    r.next_progress_us = r.start_us + r.progress_every_ms * 1000;
    if (st == CR_OK)
        st = run_loop(&r, num, err);
    finish_totals(&r);
    run_clear(&r);
    return st;
}
