/*
 * stats.c - the web tier's short history for the dashboard (GET /v1/stats).
 *
 * One sampler thread per server records, once a second: the request queue's
 * counts, the uploads waiting here, answers per second and the latency
 * percentiles of the uploads answered in that second (from the metrics'
 * recent ring), and the fleet by state with the scaler's desired size and
 * its last actions (read from the scaler's status file,
 * pipeline/scaler_status.h). The last CR__WEB_STATS_SAMPLES samples are
 * kept; /v1/stats renders them as one array per series, oldest first.
 */
#include "web/web_internal.h"

#include "core/json.h"
#include "pipeline/scaler_status.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SAMPLE_EVERY_MS 1000
#define MAX_ACTIONS 64
/* A status file older than this many scaler intervals (at least
 * STALE_MIN_MS) is a scaler that is gone: its fleet is shown as unknown. */
#define STALE_INTERVALS 5
#define STALE_MIN_MS 5000

/* One second of the service. Counts that are unknown are -1. */
struct sample {
    int64_t time_ms; /* wall clock */
    long visible, in_flight, pending;
    int starting, busy, idle, stopping, desired;
    double answers_per_s;
    long p50_ms, p95_ms; /* -1: nothing answered in that second */
};

struct cr__web_stats {
    char *status_path; /* the scaler's status file; NULL = none */
    pthread_t thread;
    int started;
    pthread_mutex_t lock; /* everything below */
    pthread_cond_t wake;
    int stop;
    struct sample ring[CR__WEB_STATS_SAMPLES];
    size_t head, count; /* the next slot to write; samples held */
    struct cr__scaler_action actions[MAX_ACTIONS];
    size_t num_actions;
    int64_t last_action_ms; /* the newest action taken from the status file */
    int fleet_min, fleet_max;
    long launch_failures;   /* from a fresh status file; -1 = unknown */
    int starts_known;       /* the status file had a worker_start histogram */
    long start_counts[CR__SCALER_START_BUCKETS + 1];
    int64_t start_sum_ms;
    char launch_error[256]; /* from a fresh status file; "" = launches work */
    /* The sampler's own (only it reads and writes these). */
    uint64_t answered_before, recent_cursor;
    int64_t sampled_us;
    uint32_t latencies[CR__WEB_RECENT];
};

/* ---- one sample ---------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (0 < q <= 1) of n sorted values, nearest rank. */
static long quantile(const uint32_t *v, size_t n, double q)
{
    size_t rank = (size_t)(q * (double)n + 0.999999);
    return (long)v[rank > 0 ? rank - 1 : 0];
}

/* Answers per second and latency percentiles since the previous sample. */
static void sample_answers(struct cr_web_server *s, struct sample *x)
{
    struct cr__web_stats *st = s->stats;
    int64_t now_us = cr_time_mono_us();
    uint64_t answered = atomic_load(&s->metrics.answered);
    double elapsed_s = (double)(now_us - st->sampled_us) / 1e6;
    x->answers_per_s = elapsed_s > 0 ? (double)(answered - st->answered_before) / elapsed_s : 0;
    st->answered_before = answered;
    st->sampled_us = now_us;
    size_t n = cr__web_metrics_recent(&s->metrics, &st->recent_cursor, st->latencies,
                                      CR__WEB_RECENT);
    x->p50_ms = x->p95_ms = -1;
    if (n > 0) {
        qsort(st->latencies, n, sizeof(st->latencies[0]), cmp_u32);
        x->p50_ms = quantile(st->latencies, n, 0.50);
        x->p95_ms = quantile(st->latencies, n, 0.95);
    }
}

/* The request queue's counts, through a pooled handle. */
static void sample_queue(struct cr_web_server *s, struct sample *x)
{
    struct cr__web_backends *b = NULL;
    cr_status st = cr__web_pool_acquire(&s->pool, &b, NULL);
    if (st == CR_OK)
        st = cr_queue_counts(b->requests, &x->visible, &x->in_flight, NULL);
    cr__web_pool_release(&s->pool, b, st != CR_OK);
    if (st != CR_OK)
        x->visible = x->in_flight = -1;
}

/* Takes the actions newer than the last one seen (st->lock held). */
static void merge_actions(struct cr__web_stats *st, const struct cr__scaler_status *sc)
{
    for (size_t i = 0; i < sc->num_actions; i++) {
        const struct cr__scaler_action *a = &sc->actions[i];
        if (a->time_ms <= st->last_action_ms)
            continue;
        if (st->num_actions == MAX_ACTIONS) {
            memmove(&st->actions[0], &st->actions[1], (MAX_ACTIONS - 1) * sizeof(*a));
            st->num_actions--;
        }
        st->actions[st->num_actions++] = *a;
        st->last_action_ms = a->time_ms;
    }
    st->fleet_min = sc->min_instances;
    st->fleet_max = sc->max_instances;
}

/* The fleet from the scaler's status file, when it is there and fresh. */
static void sample_fleet(struct cr__web_stats *st, struct sample *x)
{
    struct cr__scaler_status sc;
    x->starting = x->busy = x->idle = x->stopping = x->desired = -1;
    if (!st->status_path || cr__scaler_status_read(st->status_path, &sc, NULL) != CR_OK)
        return;
    int64_t stale_ms = (int64_t)sc.interval_ms * STALE_INTERVALS;
    if (stale_ms < STALE_MIN_MS)
        stale_ms = STALE_MIN_MS;
    int fresh = x->time_ms - sc.time_ms <= stale_ms;
    pthread_mutex_lock(&st->lock);
    merge_actions(st, &sc);
    st->launch_failures = fresh ? sc.launch_failures : -1;
    st->starts_known = 1; /* counters: the last file's stay right when it goes stale */
    memcpy(st->start_counts, sc.start_counts, sizeof(st->start_counts));
    st->start_sum_ms = sc.start_sum_ms;
    cr__strlcpy(st->launch_error, fresh ? sc.launch_error : "", sizeof(st->launch_error));
    pthread_mutex_unlock(&st->lock);
    if (!fresh)
        return;
    x->starting = sc.starting, x->busy = sc.busy, x->idle = sc.idle;
    x->stopping = sc.stopping, x->desired = sc.desired;
}

/* Records one sample into the ring. */
static void take_sample(struct cr_web_server *s)
{
    struct cr__web_stats *st = s->stats;
    struct sample x = {.time_ms = cr_time_wall_ms()};
    sample_answers(s, &x);
    sample_queue(s, &x);
    sample_fleet(st, &x);
    pthread_mutex_lock(&s->lock);
    x.pending = (long)s->pending.count;
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_lock(&st->lock);
    st->ring[st->head] = x;
    st->head = (st->head + 1) % CR__WEB_STATS_SAMPLES;
    if (st->count < CR__WEB_STATS_SAMPLES)
        st->count++;
    pthread_mutex_unlock(&st->lock);
}

/* ---- the thread ---------------------------------------------------------- */

/* The absolute CLOCK_MONOTONIC time ms from now. */
static struct timespec deadline_in(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* The sampler: one sample a second until told to stop. */
static void *sampler_main(void *arg)
{
    struct cr_web_server *s = arg;
    struct cr__web_stats *st = s->stats;
    for (;;) {
        struct timespec next = deadline_in(SAMPLE_EVERY_MS);
        take_sample(s);
        pthread_mutex_lock(&st->lock);
        while (!st->stop && pthread_cond_timedwait(&st->wake, &st->lock, &next) == 0)
            ;
        int stop = st->stop;
        pthread_mutex_unlock(&st->lock);
        if (stop)
            return NULL;
    }
}

/* Makes the sampler's locks and copies the status path. */
static cr_status stats_new(const struct cr_web_options *o, struct cr__web_stats **out)
{
    struct cr__web_stats *st = calloc(1, sizeof(*st));
    *out = st;
    if (!st)
        return CR_ERR_NOMEM;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&st->lock, NULL);
    st->sampled_us = cr_time_mono_us();
    st->launch_failures = -1;
    if (o && o->scaler_status_path && !(st->status_path = cr__strdup(o->scaler_status_path)))
        return CR_ERR_NOMEM;
    return CR_OK;
}

cr_status cr__web_stats_start(struct cr_web_server *s, const struct cr_web_options *opts,
                              struct cr_error *err)
{
    cr_status st = stats_new(opts, &s->stats);
    if (st != CR_OK)
        return cr__fail(err, st, "out of memory");
    /* The options keep a borrowed pointer; point it at our copy. */
    s->opts.scaler_status_path = s->stats->status_path;
    s->stats->answered_before = atomic_load(&s->metrics.answered);
    s->stats->recent_cursor = atomic_load(&s->metrics.recent_seq);
    if (pthread_create(&s->stats->thread, NULL, sampler_main, s) != 0)
        return cr__fail(err, CR_ERR_INTERNAL, "cannot start the stats sampler thread");
    s->stats->started = 1;
    return CR_OK;
}

void cr__web_stats_free(struct cr_web_server *s)
{
    struct cr__web_stats *st = s->stats;
    if (!st)
        return;
    if (st->started) {
        pthread_mutex_lock(&st->lock);
        st->stop = 1;
        pthread_cond_signal(&st->wake);
        pthread_mutex_unlock(&st->lock);
        pthread_join(st->thread, NULL);
    }
    pthread_cond_destroy(&st->wake);
    pthread_mutex_destroy(&st->lock);
    free(st->status_path);
    free(st);
    s->stats = NULL;
    s->opts.scaler_status_path = NULL;
}

/* ---- rendering ----------------------------------------------------------- */

/* Which field of a sample a series shows. */
enum field {
    F_TIME, F_VISIBLE, F_IN_FLIGHT, F_PENDING, F_STARTING, F_BUSY, F_IDLE, F_STOPPING,
    F_DESIRED, F_RATE, F_P50, F_P95, F_COUNT
};

static const char *const field_names[F_COUNT] = {
    "time_ms", "visible", "in_flight", "pending", "starting", "busy",
    "idle",    "stopping", "desired",  "answers_per_s", "p50_ms", "p95_ms"};

/* One value of a sample; < 0 means unknown (null). */
static double field_value(const struct sample *x, enum field f)
{
    switch (f) {
    case F_TIME: return (double)x->time_ms;
    case F_VISIBLE: return (double)x->visible;
    case F_IN_FLIGHT: return (double)x->in_flight;
    case F_PENDING: return (double)x->pending;
    case F_STARTING: return x->starting;
    case F_BUSY: return x->busy;
    case F_IDLE: return x->idle;
    case F_STOPPING: return x->stopping;
    case F_DESIRED: return x->desired;
    case F_RATE: return x->answers_per_s;
    case F_P50: return (double)x->p50_ms;
    case F_P95: return (double)x->p95_ms;
    case F_COUNT: break;
    }
    return -1;
}

/* "name":[v,...] over the held samples, oldest first (st->lock held);
 * answers per second are rounded to two decimals. */
static void render_series(const struct cr__web_stats *st, enum field f, struct cr__jw *w)
{
    cr__jw_array(w, field_names[f]);
    size_t first = (st->head + CR__WEB_STATS_SAMPLES - st->count) % CR__WEB_STATS_SAMPLES;
    for (size_t i = 0; i < st->count; i++) {
        double v = field_value(&st->ring[(first + i) % CR__WEB_STATS_SAMPLES], f);
        if (v < 0)
            cr__jw_null(w, NULL);
        else if (f == F_RATE)
            cr__jw_fixed(w, NULL, v, 2);
        else
            cr__jw_int(w, NULL, (int64_t)v);
    }
    cr__jw_end(w);
}

/* The scaler's actions since the oldest held sample (st->lock held). */
static void render_actions(const struct cr__web_stats *st, int64_t since_ms, struct cr__jw *w)
{
    cr__jw_array(w, "decisions");
    for (size_t i = 0; i < st->num_actions; i++) {
        const struct cr__scaler_action *a = &st->actions[i];
        if (a->time_ms < since_ms)
            continue;
        cr__jw_object(w, NULL);
        cr__jw_int(w, "time_ms", a->time_ms);
        cr__jw_string(w, "action", a->launch ? "launch" : "stop");
        cr__jw_int(w, "count", a->launch ? a->launch : a->stop);
        cr__jw_int(w, "desired", a->desired);
        cr__jw_int(w, "backlog", a->backlog);
        cr__jw_text(w, "reason", a->reason);
        cr__jw_end(w);
    }
    cr__jw_end(w);
}

void cr__web_stats_launches(struct cr_web_server *s, long *failures, char *error, size_t n)
{
    struct cr__web_stats *st = s->stats;
    *failures = -1;
    if (n)
        error[0] = '\0';
    if (!st)
        return;
    pthread_mutex_lock(&st->lock);
    *failures = st->launch_failures;
    cr__strlcpy(error, st->launch_error, n);
    pthread_mutex_unlock(&st->lock);
}

int cr__web_stats_starts(struct cr_web_server *s, long *counts, int64_t *sum_ms)
{
    struct cr__web_stats *st = s->stats;
    if (!st)
        return 0;
    pthread_mutex_lock(&st->lock);
    int known = st->starts_known;
    memcpy(counts, st->start_counts, sizeof(st->start_counts));
    *sum_ms = st->start_sum_ms;
    pthread_mutex_unlock(&st->lock);
    return known;
}

cr_status cr__web_stats_render(struct cr_web_server *s, struct cr_buf *buf)
{
    struct cr__web_stats *st = s->stats;
    if (!st)
        return CR_ERR_STATE;
    struct cr__jw *w = cr__jw_new();
    cr__jw_object(w, NULL);
    cr__jw_int(w, "interval_ms", SAMPLE_EVERY_MS);
    cr__jw_int(w, "now_ms", cr_time_wall_ms());
    cr__jw_int(w, "uploads", (int64_t)atomic_load(&s->metrics.uploads));
    cr__jw_int(w, "answered", (int64_t)atomic_load(&s->metrics.answered));
    pthread_mutex_lock(&st->lock);
    size_t first = (st->head + CR__WEB_STATS_SAMPLES - st->count) % CR__WEB_STATS_SAMPLES;
    int64_t since_ms = st->count ? st->ring[first].time_ms : INT64_MAX;
    cr__jw_bool(w, "scaler", st->status_path != NULL);
    cr__jw_int(w, "min", st->fleet_min);
    cr__jw_int(w, "max", st->fleet_max);
    render_actions(st, since_ms, w);
    cr__jw_object(w, "series");
    for (int f = 0; f < F_COUNT; f++)
        render_series(st, (enum field)f, w);
    pthread_mutex_unlock(&st->lock);
    cr__jw_end(w);
    cr__jw_end(w);
    cr_status rc = cr__jw_finish(w, buf);
    return rc == CR_OK ? cr_buf_append_str(buf, "\n") : rc;
}
