/* metrics.c - the web tier's counters (lock-free atomics, updated from any
 * thread) and their Prometheus text exposition (format 0.0.4). */
#include "web/web_internal.h"

#include <string.h>

/* Status codes counted one by one; anything else is "other". */
static const unsigned codes[CR__WEB_CODES] = {200, 204, 304, 400, 404, 405, 408,
                                              411, 413, 415, 422, 500, 503, 504};

/* Upper bounds of the latency buckets, in seconds. */
static const double bounds_s[CR__WEB_BUCKETS] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                                 2.5,  5,     10,   30,  60,   300};

void cr__web_metrics_init(struct cr__web_metrics *m)
{
    memset(m, 0, sizeof(*m));
}

void cr__web_metrics_response(struct cr__web_metrics *m, unsigned code)
{
    size_t i = 0;
    while (i < CR__WEB_CODES && codes[i] != code)
        i++;
    atomic_fetch_add(&m->by_code[i], 1);
}

#define RECENT_MS_BITS 24 /* latencies up to 4.6 hours */
#define RECENT_SEQ_MASK ((UINT64_C(1) << (64 - RECENT_MS_BITS)) - 1)

/* Records the latency of an upload answered 200 in the recent ring. */
static void recent_add(struct cr__web_metrics *m, int64_t latency_us)
{
    uint64_t ms = (uint64_t)(latency_us / 1000);
    if (ms >= (1u << RECENT_MS_BITS))
        ms = (1u << RECENT_MS_BITS) - 1;
    uint64_t seq = atomic_fetch_add(&m->recent_seq, 1);
    uint64_t tag = (seq + 1) & RECENT_SEQ_MASK;
    atomic_store(&m->recent[seq % CR__WEB_RECENT], tag << RECENT_MS_BITS | ms);
}

void cr__web_metrics_upload(struct cr__web_metrics *m, unsigned code, int64_t latency_us)
{
    atomic_fetch_add(&m->uploads, 1);
    if (code == 200)
        atomic_fetch_add(&m->answered, 1);
    else if (code == 504)
        atomic_fetch_add(&m->timeouts, 1);
    if (latency_us < 0)
        latency_us = 0;
    size_t b = 0;
    while (b < CR__WEB_BUCKETS && (double)latency_us > bounds_s[b] * 1e6)
        b++;
    atomic_fetch_add(&m->latency_bucket[b], 1);
    atomic_fetch_add(&m->latency_sum_us, (uint_fast64_t)latency_us);
    if (code == 200)
        recent_add(m, latency_us);
}

size_t cr__web_metrics_recent(struct cr__web_metrics *m, uint64_t *cursor, uint32_t *out,
                              size_t max)
{
    uint64_t end = atomic_load(&m->recent_seq);
    uint64_t seq = *cursor;
    if (max > CR__WEB_RECENT)
        max = CR__WEB_RECENT;
    if (end - seq > max)
        seq = end - max; /* the older ones are overwritten or not wanted */
    size_t n = 0;
    for (; seq < end; seq++) {
        uint64_t v = atomic_load(&m->recent[seq % CR__WEB_RECENT]);
        /* Slots are tagged with seq + 1, so an empty one never matches; a
         * writer that took its number but has not stored yet leaves the
         * slot's old value, whose tag differs: skip it. */
        if (v >> RECENT_MS_BITS == ((seq + 1) & RECENT_SEQ_MASK))
            out[n++] = (uint32_t)(v & ((1u << RECENT_MS_BITS) - 1));
    }
    *cursor = end;
    return n;
}

uint64_t cr__web_metrics_requests(struct cr__web_metrics *m)
{
    uint64_t total = 0;
    for (size_t i = 0; i <= CR__WEB_CODES; i++)
        total += atomic_load(&m->by_code[i]);
    return total;
}

/* "# HELP" and "# TYPE" lines of one metric family. */
static void family(struct cr__text *out, const char *name, const char *type, const char *help)
{
    cr__text_put(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_codes(struct cr__web_metrics *m, struct cr__text *out)
{
    const char *name = "cloudrec_web_http_responses_total";
    family(out, name, "counter", "HTTP responses sent, by status code.");
    for (size_t i = 0; i < CR__WEB_CODES; i++)
        cr__text_put(out, "%s{code=\"%u\"} %llu\n", name, codes[i],
            (unsigned long long)atomic_load(&m->by_code[i]));
    cr__text_put(out, "%s{code=\"other\"} %llu\n", name,
        (unsigned long long)atomic_load(&m->by_code[CR__WEB_CODES]));
}

/* One counter family with a single sample. */
static void counter(struct cr__text *out, const char *name, const char *help, atomic_uint_fast64_t *v)
{
    family(out, name, "counter", help);
    cr__text_put(out, "%s %llu\n", name, (unsigned long long)atomic_load(v));
}

void cr__web_metrics_batch(struct cr__web_metrics *m, int batch)
{
    if (batch >= 0 && batch <= CR_MSG_MAX_BATCH)
        atomic_fetch_add(&m->batch_size[batch], 1);
}

/* The batch sizes the workers reported, as a histogram with a bucket per
 * size (replies that did not say are left out). */
static void render_batches(struct cr__web_metrics *m, struct cr__text *out)
{
    const char *name = "cloudrec_worker_batch_size";
    family(out, name, "histogram",
           "Requests a worker took in one receive, as each reply reports it (micro-batching).");
    uint64_t cumulative = 0, sum = 0;
    for (int b = 1; b <= CR_MSG_MAX_BATCH; b++) {
        uint64_t n = atomic_load(&m->batch_size[b]);
        cumulative += n;
        sum += n * (uint64_t)b;
        cr__text_put(out, "%s_bucket{le=\"%d\"} %llu\n", name, b, (unsigned long long)cumulative);
    }
    cr__text_put(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %llu\n%s_count %llu\n", name,
        (unsigned long long)cumulative, name, (unsigned long long)sum, name,
        (unsigned long long)cumulative);
}

static void render_slow(struct cr__web_metrics *m, struct cr__text *out)
{
    const char *name = "cloudrec_web_slow_clients_dropped_total";
    family(out, name, "counter",
           "Connections dropped while sending their request: headers past the header "
           "timeout, or a body below the minimum rate.");
    cr__text_put(out, "%s{phase=\"headers\"} %llu\n%s{phase=\"body\"} %llu\n", name,
        (unsigned long long)atomic_load(&m->slow_headers), name,
        (unsigned long long)atomic_load(&m->slow_body));
}

static void render_replies(struct cr__web_metrics *m, struct cr__text *out)
{
    counter(out, "cloudrec_web_replies_total", "Replies matched to a waiting request.",
            &m->replies);
    const char *name = "cloudrec_web_replies_ignored_total";
    family(out, name, "counter",
           "Replies deleted without effect: duplicate (already answered), unknown id, "
           "malformed.");
    cr__text_put(out, "%s{reason=\"duplicate\"} %llu\n", name,
        (unsigned long long)atomic_load(&m->duplicates));
    cr__text_put(out, "%s{reason=\"unknown\"} %llu\n", name, (unsigned long long)atomic_load(&m->unknown));
    cr__text_put(out, "%s{reason=\"malformed\"} %llu\n", name,
        (unsigned long long)atomic_load(&m->malformed));
}

static void render_latency(struct cr__web_metrics *m, struct cr__text *out)
{
    const char *name = "cloudrec_web_upload_duration_seconds";
    family(out, name, "histogram", "Time from an upload's arrival to its answer.");
    uint64_t cumulative = 0;
    for (size_t b = 0; b <= CR__WEB_BUCKETS; b++) {
        cumulative += atomic_load(&m->latency_bucket[b]);
        if (b < CR__WEB_BUCKETS)
            cr__text_put(out, "%s_bucket{le=\"%g\"} %llu\n", name, bounds_s[b],
                (unsigned long long)cumulative);
        else
            cr__text_put(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cumulative);
    }
    cr__text_put(out, "%s_sum %.6f\n%s_count %llu\n", name, (double)atomic_load(&m->latency_sum_us) / 1e6,
        name, (unsigned long long)cumulative);
}

/* One gauge family with a single sample (labels may be ""). */
static void gauge(struct cr__text *out, const char *name, const char *labels, const char *help,
                  double v)
{
    family(out, name, "gauge", help);
    cr__text_put(out, "%s%s %.15g\n", name, labels, v);
}

/* The scaler's worker start histogram (launch to ready) in seconds. */
static void render_starts(const struct cr__web_gauges *g, struct cr__text *out)
{
    static const int64_t bounds_ms[CR__SCALER_START_BUCKETS] = CR__SCALER_START_BOUNDS_MS;
    const char *name = "cloudrec_worker_start_seconds";
    family(out, name, "histogram",
           "Time from a worker's launch to its first ready state (model loaded), as the "
           "scaler saw it.");
    long cumulative = 0;
    for (int b = 0; b < CR__SCALER_START_BUCKETS; b++) {
        cumulative += g->start_counts[b];
        cr__text_put(out, "%s_bucket{le=\"%g\"} %ld\n", name, (double)bounds_ms[b] / 1000.0, cumulative);
    }
    cumulative += g->start_counts[CR__SCALER_START_BUCKETS];
    cr__text_put(out, "%s_bucket{le=\"+Inf\"} %ld\n%s_sum %.3f\n%s_count %ld\n", name, cumulative, name,
        (double)g->start_sum_ms / 1000.0, name, cumulative);
}

static void render_gauges(const struct cr__web_gauges *g, struct cr__text *out)
{
    gauge(out, "cloudrec_web_pending_requests", "", "Uploads sent and waiting for their reply.",
          (double)g->pending);
    if (g->queue_ok) {
        gauge(out, "cloudrec_queue_visible_messages", "{queue=\"requests\"}",
              "Request messages waiting for a worker (approximate).", (double)g->queue_visible);
        gauge(out, "cloudrec_queue_in_flight_messages", "{queue=\"requests\"}",
              "Request messages held by a worker (approximate).", (double)g->queue_in_flight);
    }
    gauge(out, "cloudrec_web_uptime_seconds", "", "Seconds since the server started.", g->uptime_s);
    if (g->starts_known)
        render_starts(g, out);
    if (g->launch_failures >= 0) {
        family(out, "cloudrec_fleet_launch_failures_total", "counter",
               "Worker launches the fleet refused or that failed, as the scaler reports them.");
        cr__text_put(out, "cloudrec_fleet_launch_failures_total %ld\n", g->launch_failures);
    }
}

cr_status cr__web_metrics_render(struct cr__web_metrics *m, const struct cr__web_gauges *g,
                                 struct cr_buf *buf)
{
    struct cr__text t = {.out = buf, .st = CR_OK}, *out = &t;
    render_codes(m, out);
    counter(out, "cloudrec_web_uploads_total", "Uploads answered, any status.", &m->uploads);
    counter(out, "cloudrec_web_uploads_answered_total", "Uploads answered with a label.",
            &m->answered);
    counter(out, "cloudrec_web_uploads_rejected_total",
            "Uploads refused before being sent to a worker.", &m->rejected);
    counter(out, "cloudrec_web_deadline_expired_total",
            "Uploads answered 504 because no reply came in time.", &m->timeouts);
    counter(out, "cloudrec_web_upload_bytes_total", "Request body bytes of uploads.",
            &m->body_bytes);
    render_slow(m, out);
    counter(out, "cloudrec_web_connection_limit_total",
            "Requests answered 503 because the connection limit was reached.", &m->busy);
    render_replies(m, out);
    render_batches(m, out);
    render_latency(m, out);
    render_gauges(g, out);
    return t.st;
}
