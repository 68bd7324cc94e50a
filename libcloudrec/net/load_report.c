/*
 * load_report.c - a picture of a load run (cloudrec/load.h): every answer's
 * latency over time, answers per second, and the fleet size the web tier's
 * GET /v1/stats showed meanwhile, drawn as one self-contained SVG.
 *
 * The /v1/stats document is written by libcloudrec/web/stats.c and described
 * in docs/http-api.md; this file reads only its "series" arrays time_ms,
 * starting, busy, idle and desired. Each drawn series carries its numbers in
 * a data-values attribute, so a program can read the picture back.
 */
#include "net/load.h"
#include "core/json.h"
#include "internal.h"
#include "net/http.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WATCH_EVERY_MS 2000
#define FINAL_TRIES 5      /* fetches after the run, FINAL_PAUSE_MS apart, until */
#define FINAL_PAUSE_MS 300 /* one holds a sample taken after its end */
#define STATS_MAX_BYTES (4u << 20)
#define STATS_TIMEOUT_MS 5000

/* The picture's geometry. */
#define WIDTH 960
#define LEFT 70
#define RIGHT 20
#define PANEL_H 190
#define PANEL_GAP 60
#define TOP 70

struct point {
    int64_t end_us, latency_us;
    enum cr_load_verdict verdict;
};

/* One /v1/stats sample; -1 = unknown. */
struct fleet {
    int64_t time_ms; /* wall clock */
    int workers;     /* starting + busy + idle */
    int desired;
};

struct cr_load_report {
    pthread_mutex_t lock; /* everything but the watcher's own fields */
    int64_t start_wall_ms;
    struct point *points;
    size_t n_points, cap_points;
    struct fleet *fleet;
    size_t n_fleet, cap_fleet;
    char stats_error[200]; /* why the fleet is unknown, "" when it is not */
    /* The watching thread. */
    char *stats_url;
    pthread_t watcher;
    int watching;
    int stop;
    pthread_cond_t wake;
};

cr_status cr_load_report_new(struct cr_load_report **out, struct cr_error *err)
{
    if (!out)
        return cr__fail(err, CR_ERR_INVALID, "cr_load_report_new: out is NULL");
    struct cr_load_report *r = calloc(1, sizeof(*r));
    if (!(*out = r))
        return cr__fail(err, CR_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->wake, &ca);
    pthread_condattr_destroy(&ca);
    r->start_wall_ms = cr_time_wall_ms();
    cr__strlcpy(r->stats_error, "not watched", sizeof(r->stats_error));
    return CR_OK;
}

/* Grows an array of `size`-byte elements to hold one more. */
static int grow(void **items, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return 1;
    size_t c = *cap ? *cap * 2 : 256;
    void *p = realloc(*items, c * size);
    if (!p)
        return 0;
    *items = p;
    *cap = c;
    return 1;
}

cr_status cr_load_report_add(struct cr_load_report *r, const struct cr_load_result *res)
{
    if (!r || !res)
        return CR_ERR_INVALID;
    pthread_mutex_lock(&r->lock);
    cr_status st = CR_ERR_NOMEM;
    if (grow((void **)&r->points, r->n_points, &r->cap_points, sizeof(*r->points))) {
        r->points[r->n_points++] = (struct point){res->end_us, res->latency_us, res->verdict};
        st = CR_OK;
    }
    pthread_mutex_unlock(&r->lock);
    return st;
}

/* ---- the fleet from /v1/stats --------------------------------------------- */

/* Element i of series key as an int, -1 when null or missing. */
static int series_int(const struct cr__json *series, const char *key, size_t i)
{
    int64_t v;
    if (cr__json_get_int64(cr__json_at(cr__json_get(series, key), i), &v) != CR_OK || v < 0 ||
        v > 1000000)
        return -1;
    return (int)v;
}

/* Appends the samples newer than the last one kept (lock held). */
static cr_status merge_samples(struct cr_load_report *r, const struct cr__json *series)
{
    const struct cr__json *times = cr__json_get(series, "time_ms");
    for (size_t i = 0; i < cr__json_length(times); i++) {
        int64_t t;
        if (cr__json_get_int64(cr__json_at(times, i), &t) != CR_OK)
            return CR_ERR_FORMAT;
        if (r->n_fleet && t <= r->fleet[r->n_fleet - 1].time_ms)
            continue;
        int s = series_int(series, "starting", i), b = series_int(series, "busy", i),
            d = series_int(series, "idle", i);
        struct fleet f = {t, s < 0 || b < 0 || d < 0 ? -1 : s + b + d,
                          series_int(series, "desired", i)};
        if (!grow((void **)&r->fleet, r->n_fleet, &r->cap_fleet, sizeof(*r->fleet)))
            return CR_ERR_NOMEM;
        r->fleet[r->n_fleet++] = f;
    }
    return CR_OK;
}

cr_status cr_load_report_add_stats(struct cr_load_report *r, const char *json, size_t len,
                                   struct cr_error *err)
{
    struct cr__json_doc *doc = NULL;
    struct cr__json_limits lim = {.max_bytes = STATS_MAX_BYTES};
    if (!r || !json)
        return cr__fail(err, CR_ERR_INVALID, "cr_load_report_add_stats: NULL argument");
    cr_status st = cr__json_parse(json, len, &lim, &doc, err);
    if (st != CR_OK)
        return cr__fail_prefix(err, st, "/v1/stats: ");
    const struct cr__json *series = cr__json_get(cr__json_root(doc), "series");
    if (cr__json_type(cr__json_get(series, "time_ms")) != CR__JSON_ARRAY)
        st = cr__fail(err, CR_ERR_FORMAT, "/v1/stats: no series.time_ms array");
    pthread_mutex_lock(&r->lock);
    if (st == CR_OK && (st = merge_samples(r, series)) != CR_OK)
        cr__fail(err, st, "/v1/stats: bad series");
    if (st == CR_OK)
        r->stats_error[0] = '\0';
    pthread_mutex_unlock(&r->lock);
    cr__json_free(doc);
    return st;
}

/* Fetches the stats URL once and merges it; a failure is kept as the reason
 * the fleet is unknown (unless an earlier fetch worked). */
static void fetch_stats(struct cr_load_report *r)
{
    struct cr_buf body;
    struct cr_error err = {0};
    cr_buf_init(&body, STATS_MAX_BYTES);
    cr_status st = cr__http_get(r->stats_url, STATS_MAX_BYTES, STATS_TIMEOUT_MS, &body, &err);
    if (st == CR_OK)
        st = cr_load_report_add_stats(r, (const char *)body.data, body.len, &err);
    if (st != CR_OK) {
        pthread_mutex_lock(&r->lock);
        if (r->n_fleet == 0)
            snprintf(r->stats_error, sizeof(r->stats_error), "GET %.80s: %.100s", r->stats_url,
                     err.message);
        pthread_mutex_unlock(&r->lock);
    }
    cr_buf_free(&body);
}

static void *watch_main(void *arg)
{
    struct cr_load_report *r = arg;
    for (;;) {
        fetch_stats(r);
        struct timespec next;
        clock_gettime(CLOCK_MONOTONIC, &next);
        next.tv_sec += WATCH_EVERY_MS / 1000;
        pthread_mutex_lock(&r->lock);
        while (!r->stop && pthread_cond_timedwait(&r->wake, &r->lock, &next) == 0)
            ;
        int stop = r->stop;
        pthread_mutex_unlock(&r->lock);
        if (stop)
            return NULL;
    }
}

cr_status cr_load_report_watch(struct cr_load_report *r, const char *stats_url,
                               struct cr_error *err)
{
    if (!r || !stats_url)
        return cr__fail(err, CR_ERR_INVALID, "cr_load_report_watch: NULL argument");
    if (r->watching)
        return cr__fail(err, CR_ERR_STATE, "the report is already watching");
    free(r->stats_url);
    if (!(r->stats_url = cr__strdup(stats_url)))
        return cr__fail(err, CR_ERR_NOMEM, "out of memory");
    r->stop = 0;
    if (pthread_create(&r->watcher, NULL, watch_main, r) != 0)
        return cr__fail(err, CR_ERR_INTERNAL, "cannot start the stats thread");
    r->watching = 1;
    return CR_OK;
}

void cr_load_report_unwatch(struct cr_load_report *r)
{
    if (!r || !r->watching)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = 1;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->watcher, NULL);
    r->watching = 0;
    /* The samples up to the end of the run: the web tier samples once a
     * second, so a short burst may end before a sample shows its fleet;
     * wait (a little) for one taken after the end. */
    int64_t end_ms = cr_time_wall_ms();
    for (int i = 0; i < FINAL_TRIES; i++) {
        fetch_stats(r);
        pthread_mutex_lock(&r->lock);
        int covered = r->n_fleet && r->fleet[r->n_fleet - 1].time_ms >= end_ms;
        pthread_mutex_unlock(&r->lock);
        if (covered || r->stats_error[0])
            break;
        struct timespec pause = {.tv_sec = 0, .tv_nsec = FINAL_PAUSE_MS * 1000000L};
        nanosleep(&pause, NULL);
    }
}

cr_status cr_load_stats_url(const char *url, char *out, size_t n)
{
    const char *host = url ? strstr(url, "://") : NULL;
    if (!host || !out)
        return CR_ERR_INVALID;
    size_t base = (size_t)(strcspn(host + 3, "/?#") + (size_t)(host + 3 - url));
    int len = snprintf(out, n, "%.*s/v1/stats", (int)base, url);
    return len > 0 && (size_t)len < n ? CR_OK : CR_ERR_TOO_LARGE;
}

void cr_load_report_free(struct cr_load_report *r)
{
    if (!r)
        return;
    if (r->watching) {
        pthread_mutex_lock(&r->lock);
        r->stop = 1;
        pthread_cond_signal(&r->wake);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->watcher, NULL);
    }
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r->stats_url);
    free(r->fleet);
    free(r->points);
    free(r);
}

/* ---- drawing ------------------------------------------------------------- */

/* One panel: its place and scales. */
struct panel {
    double top;   /* y of its upper edge */
    double x_max; /* seconds at the right edge */
    double y_max; /* value at the upper edge */
};

static double px(const struct panel *p, double s)
{
    return LEFT + (WIDTH - LEFT - RIGHT) * (p->x_max > 0 ? s / p->x_max : 0);
}

static double py(const struct panel *p, double v)
{
    return p->top + PANEL_H - PANEL_H * (p->y_max > 0 ? v / p->y_max : 0);
}

/* A round upper bound (1, 2, 5 x 10^k), at least `least`. */
static double nice_max(double v, double least)
{
    if (v <= least)
        return least;
    double p = pow(10, floor(log10(v)));
    for (int m = 1; m <= 10; m = m == 1 ? 2 : m == 2 ? 5 : 10)
        if (m * p >= v)
            return m * p;
    return 10 * p;
}

/* Frame, title, grid and tick labels of a panel. */
static void draw_panel(struct cr__text *t, const struct panel *p, const char *title, const char *unit)
{
    cr__text_put(t, "<text x=\"%d\" y=\"%.0f\" class=\"h\">%s</text>\n", LEFT, p->top - 10, title);
    /* 1, 5 and 10 x 10^k split in fifths, 2 x 10^k in quarters: round ticks. */
    double lead = p->y_max / pow(10, floor(log10(p->y_max)));
    int steps = lead > 1.5 && lead < 2.5 ? 4 : 5;
    for (int i = 0; i <= steps; i++) {
        double v = p->y_max * i / steps;
        cr__text_put(t, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" class=\"g\"/>", LEFT,
            WIDTH - RIGHT, py(p, v), py(p, v));
        cr__text_put(t, "<text x=\"%d\" y=\"%.1f\" class=\"t\" text-anchor=\"end\">%g</text>\n", LEFT - 6,
            py(p, v) + 4, v);
    }
    double step = nice_max(p->x_max / 8, 0.1);
    for (double s = 0; s <= p->x_max + 1e-9; s += step)
        cr__text_put(t, "<text x=\"%.1f\" y=\"%.0f\" class=\"t\" text-anchor=\"middle\">%g s</text>",
            px(p, s), p->top + PANEL_H + 16, round(s * 100) / 100);
    cr__text_put(t, "<text x=\"%d\" y=\"%.0f\" class=\"t\" transform=\"rotate(-90 %d %.0f)\" "
           "text-anchor=\"middle\">%s</text>\n",
        16, p->top + PANEL_H / 2.0, 16, p->top + PANEL_H / 2.0, unit);
}

/* The latency of every answer at the time it came: one dot each, coloured
 * by verdict (lock held). */
static void draw_latency(struct cr__text *t, const struct cr_load_report *r, struct panel *p)
{
    static const char *const colour[] = {"#2563eb", "#f59e0b", "#dc2626"};
    draw_panel(t, p, "Latency of each request (dots: blue correct, orange wrong, red error)",
               "ms");
    cr__text_put(t, "<g data-series=\"latency_ms\" data-count=\"%zu\">\n", r->n_points);
    for (size_t i = 0; i < r->n_points; i++) {
        const struct point *q = &r->points[i];
        cr__text_put(t, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\" fill=\"%s\"/>", px(p, q->end_us / 1e6),
            py(p, q->latency_us / 1e3), colour[q->verdict <= CR_LOAD_ERROR ? q->verdict : 2]);
        if (i % 8 == 7)
            cr__text_put(t, "\n");
    }
    cr__text_put(t, "</g>\n");
}

/* A polyline of values[i] at seconds xs[i] (values < 0 are left out), with
 * the values in data-values. */
static void draw_line(struct cr__text *t, const struct panel *p, const char *series, const char *colour,
                      const char *dash, const double *xs, const double *values, size_t n)
{
    cr__text_put(t, "<polyline data-series=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s%s%s "
           "data-values=\"",
        series, colour, dash ? " stroke-dasharray=\"" : "", dash ? dash : "", dash ? "\"" : "");
    const char *sep = "";
    for (size_t i = 0; i < n; i++)
        if (values[i] >= 0) {
            cr__text_put(t, "%s%g", sep, values[i]);
            sep = ",";
        }
    cr__text_put(t, "\" points=\"");
    for (size_t i = 0; i < n; i++)
        if (values[i] >= 0)
            cr__text_put(t, "%.1f,%.1f ", px(p, xs[i]), py(p, values[i]));
    cr__text_put(t, "\"/>\n");
}

/* Answers (HTTP 200) per second of the run, counted in buckets of a round
 * width (about 60 of them over the run, at least 0.1 s) and drawn at each
 * bucket's middle; data-bucket-s gives the width (lock held). */
static cr_status draw_rate(struct cr__text *t, const struct cr_load_report *r, struct panel *p)
{
    double width = nice_max(p->x_max / 60, 0.1);
    size_t n = (size_t)ceil(p->x_max / width - 1e-9);
    double *xs = calloc(n, sizeof(double)), *rate = calloc(n, sizeof(double)), top = 0;
    if (!xs || !rate) {
        free(xs), free(rate);
        return CR_ERR_NOMEM;
    }
    for (size_t i = 0; i < r->n_points; i++) {
        size_t b = (size_t)(r->points[i].end_us / 1e6 / width);
        if (r->points[i].verdict != CR_LOAD_ERROR)
            rate[b < n ? b : n - 1] += 1 / width;
    }
    for (size_t i = 0; i < n; i++) {
        xs[i] = ((double)i + 0.5) * width;
        top = rate[i] > top ? rate[i] : top;
    }
    p->y_max = nice_max(top, 1);
    draw_panel(t, p, "Answers per second", "answers/s");
    cr__text_put(t, "<g data-bucket-s=\"%g\">\n", width);
    draw_line(t, p, "answers_per_s", "#16a34a", NULL, xs, rate, n);
    cr__text_put(t, "</g>\n");
    free(xs), free(rate);
    return CR_OK;
}

/* Workers and the scaler's desired count from /v1/stats, on the run's time
 * axis (lock held). */
static cr_status draw_fleet(struct cr__text *t, const struct cr_load_report *r, struct panel *p)
{
    size_t n = r->n_fleet;
    double *xs = calloc(n + 1, sizeof(double)), *w = calloc(n + 1, sizeof(double)),
           *d = calloc(n + 1, sizeof(double)), top = 0;
    size_t k = 0;
    if (!xs || !w || !d) {
        free(xs), free(w), free(d);
        return CR_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        double s = (double)(r->fleet[i].time_ms - r->start_wall_ms) / 1000.0;
        if (s < -0.5 || s > p->x_max + 0.5)
            continue;
        xs[k] = s < 0 ? 0 : s > p->x_max ? p->x_max : s;
        w[k] = r->fleet[i].workers;
        d[k] = r->fleet[i].desired;
        top = w[k] > top ? w[k] : d[k] > top ? d[k] : top;
        k++;
    }
    p->y_max = nice_max(top, 1);
    draw_panel(t, p, "Workers (solid) and the scaler's desired count (dashed)", "workers");
    if (k == 0)
        cr__text_put(t, "<text x=\"%d\" y=\"%.0f\" class=\"t\" data-series=\"none\">fleet size unknown: "
               "%s</text>\n",
            LEFT + 10, p->top + 20, r->stats_error[0] ? r->stats_error : "no sample in the run");
    draw_line(t, p, "workers", "#7c3aed", NULL, xs, w, k);
    draw_line(t, p, "desired", "#111827", "6 4", xs, d, k);
    free(xs), free(w), free(d);
    return CR_OK;
}

/* The title line with the totals. */
static void draw_title(struct cr__text *t, const struct cr_load_totals *tot)
{
    cr__text_put(t, "<text x=\"%d\" y=\"30\" class=\"title\">cloudrec-load</text>\n", LEFT);
    if (!tot)
        return;
    cr__text_put(t, "<text x=\"%d\" y=\"52\" class=\"t\">%zu requests: %zu correct, %zu wrong, %zu "
           "errors in %.1f s (%.1f answers/s); latency p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, "
           "max %.0f ms</text>\n",
        LEFT, tot->requests, tot->correct, tot->wrong, tot->errors, tot->wall_us / 1e6,
        tot->answers_per_s, tot->latency_p50_us / 1e3, tot->latency_p90_us / 1e3,
        tot->latency_p99_us / 1e3, tot->latency_max_us / 1e3);
}

/* The time axis: the last answer, at least one second. */
static double run_seconds(const struct cr_load_report *r)
{
    int64_t end = 0;
    for (size_t i = 0; i < r->n_points; i++)
        end = r->points[i].end_us > end ? r->points[i].end_us : end;
    return end > 1000000 ? ceil(end / 1e6) : 1;
}

cr_status cr_load_report_render(struct cr_load_report *r, const struct cr_load_totals *totals,
                                int html, struct cr_buf *out)
{
    if (!r || !out)
        return CR_ERR_INVALID;
    struct cr__text t = {.out = out, .st = CR_OK};
    int height = TOP + 3 * (PANEL_H + PANEL_GAP);
    if (html)
        cr__text_put(&t, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<title>cloudrec-load</title></head><body>\n");
    cr__text_put(&t, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n<style>.title{font-size:20px;"
            "font-weight:bold}.h{font-size:14px;font-weight:bold}.t{font-size:11px;fill:#555}"
            ".g{stroke:#e5e7eb}</style>\n<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
        WIDTH, height, WIDTH, height);
    pthread_mutex_lock(&r->lock);
    double secs = run_seconds(r), top = 0;
    for (size_t i = 0; i < r->n_points; i++)
        top = r->points[i].latency_us / 1e3 > top ? r->points[i].latency_us / 1e3 : top;
    struct panel lat = {TOP + 30, secs, nice_max(top, 10)};
    struct panel rate = {lat.top + PANEL_H + PANEL_GAP, secs, 1};
    struct panel fleet = {rate.top + PANEL_H + PANEL_GAP, secs, 1};
    draw_title(&t, totals);
    draw_latency(&t, r, &lat);
    cr_status st = draw_rate(&t, r, &rate);
    if (st == CR_OK)
        st = draw_fleet(&t, r, &fleet);
    pthread_mutex_unlock(&r->lock);
    cr__text_put(&t, "</svg>\n");
    if (html)
        cr__text_put(&t, "</body></html>\n");
    return st != CR_OK ? st : t.st;
}
