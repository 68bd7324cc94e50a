/* report.c - cr_sim_write: a simulation's result as text, JSON, CSV or an SVG chart. */
#include "sim/sim_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SVG_W 860
#define SVG_H 478
#define SVG_LEFT 64
#define SVG_RIGHT 20
#define SVG_BUCKETS 480 /* at most this many points per line, whatever the run's length */

/* ---- text and JSON --------------------------------------------------------------- */

/* One "name  fleet  ideal" line of the text report. */
static cr_status text_pair(struct cr_buf *b, const char *name, const char *fmt, double fleet,
                           double ideal)
{
    char f[32], i[32];
    snprintf(f, sizeof(f), fmt, fleet);
    snprintf(i, sizeof(i), fmt, ideal);
    return cr_buf_appendf(b, "%-18s %14s %14s\n", name, f, i);
}

/* The report for people: the run, then fleet and ideal side by side. */
static cr_status write_text(const struct cr_sim_result *r, struct cr_buf *b)
{
    const struct cr_sim_figures *f = &r->fleet, *i = &r->ideal;
    cr_buf_appendf(b,
                   "requests %ld, dead letters %ld, unfinished %ld, redeliveries %ld\n"
                   "simulated %.1f s (%.2f h), %ld scaler ticks, %ld launched, %ld died\n\n",
                   r->requests, r->dead_letters, r->unfinished, r->redeliveries, r->duration_s,
                   r->duration_s / 3600.0, r->ticks, r->launched, r->deaths);
    cr_buf_appendf(b, "%-18s %14s %14s\n", "", "fleet", "ideal");
    text_pair(b, "completed", "%.0f", (double)f->completed, (double)i->completed);
    text_pair(b, "latency avg s", "%.3f", f->latency_avg_s, i->latency_avg_s);
    text_pair(b, "latency p50 s", "%.3f", f->latency_p50_s, i->latency_p50_s);
    text_pair(b, "latency p95 s", "%.3f", f->latency_p95_s, i->latency_p95_s);
    text_pair(b, "latency p99 s", "%.3f", f->latency_p99_s, i->latency_p99_s);
    text_pair(b, "latency max s", "%.3f", f->latency_max_s, i->latency_max_s);
    text_pair(b, "peak instances", "%.0f", f->peak_instances, i->peak_instances);
    text_pair(b, "mean instances", "%.3f", f->mean_instances, i->mean_instances);
    text_pair(b, "instance-seconds", "%.1f", f->instance_seconds, i->instance_seconds);
    return text_pair(b, "cost USD", "%.4f", f->cost_usd, i->cost_usd);
}

/* The figures of one fleet as JSON members of the object w has open. */
static void json_figures(struct cr__jw *w, const struct cr_sim_figures *f)
{
    cr__jw_int(w, "completed", f->completed);
    cr__jw_fixed(w, "latency_avg_s", f->latency_avg_s, 6);
    cr__jw_fixed(w, "latency_p50_s", f->latency_p50_s, 6);
    cr__jw_fixed(w, "latency_p95_s", f->latency_p95_s, 6);
    cr__jw_fixed(w, "latency_p99_s", f->latency_p99_s, 6);
    cr__jw_fixed(w, "latency_max_s", f->latency_max_s, 6);
    cr__jw_int(w, "peak_instances", f->peak_instances);
    cr__jw_fixed(w, "mean_instances", f->mean_instances, 6);
    cr__jw_fixed(w, "instance_seconds", f->instance_seconds, 3);
    cr__jw_fixed(w, "cost_usd", f->cost_usd, 6);
}

void cr__sim_json(struct cr__jw *w, const char *key, const struct cr_sim_result *r)
{
    cr__jw_object(w, key);
    cr__jw_int(w, "requests", r->requests);
    cr__jw_int(w, "dead_letters", r->dead_letters);
    cr__jw_int(w, "unfinished", r->unfinished);
    cr__jw_int(w, "redeliveries", r->redeliveries);
    cr__jw_int(w, "launched", r->launched);
    cr__jw_int(w, "deaths", r->deaths);
    cr__jw_int(w, "ticks", r->ticks);
    cr__jw_fixed(w, "duration_s", r->duration_s, 6);
    json_figures(w, &r->fleet);
    cr__jw_object(w, "ideal");
    json_figures(w, &r->ideal);
    cr__jw_end(w);
    cr__jw_end(w);
}

/* One JSON object on one line: the run, the fleet's figures, "ideal". */
static cr_status write_json(const struct cr_sim_result *r, struct cr_buf *b)
{
    struct cr__jw *w = cr__jw_new();
    cr__sim_json(w, NULL, r);
    cr_status st = cr__jw_finish(w, b);
    return st == CR_OK ? cr_buf_append_str(b, "\n") : st;
}

/* ---- CSV -------------------------------------------------------------------------- */

cr_status cr__sim_write_csv(const struct cr__sim_series *s, struct cr_buf *out)
{
    cr_status st = cr_buf_append_str(out, "t_s,arrivals,completed,visible,in_flight,backlog,"
                                          "pending,busy,idle,stopping,instances,desired\n");
    for (size_t i = 0; i < s->n && st == CR_OK; i++) {
        const struct cr__sim_row *w = &s->rows[i];
        st = cr_buf_appendf(out, "%.3f,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d\n", (double)w->t_ms / 1e3,
                            w->arrivals, w->completed, w->visible, w->in_flight,
                            w->visible + w->in_flight, w->pending, w->busy, w->idle, w->stopping,
                            w->pending + w->busy + w->idle, w->desired);
    }
    return st;
}

/* ---- SVG -------------------------------------------------------------------------- */

/* The series drawn, as functions of a row. */
enum line { L_BACKLOG, L_INSTANCES, L_BUSY, L_DESIRED, L_COUNT };

/* The value of line l in one row. */
static int line_value(const struct cr__sim_row *w, enum line l)
{
    switch (l) {
    case L_BACKLOG:
        return w->visible + w->in_flight;
    case L_INSTANCES:
        return w->pending + w->busy + w->idle;
    case L_BUSY:
        return w->busy;
    case L_DESIRED:
        return w->desired;
    case L_COUNT:
        break;
    }
    return 0;
}

/* One panel of the chart: a box, y from 0 to ymax, x from 0 to xmax_s. */
struct panel {
    double top, height;
    double ymax, xmax_s;
};

/* A step of 1, 2 or 5 times a power of ten giving at most about n ticks. */
static double nice_step(double range, int n)
{
    if (range <= 0)
        return 1;
    double raw = range / n, p = pow(10, floor(log10(raw)));
    double m = raw / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/* Pixel x of a time in a panel. */
static double px_x(const struct panel *p, double t_s)
{
    return SVG_LEFT + (SVG_W - SVG_LEFT - SVG_RIGHT) * (p->xmax_s > 0 ? t_s / p->xmax_s : 0);
}

/* The top of the range sits a few pixels below the frame, so a line at the
 * maximum stays visible. */
static double px_y(const struct panel *p, double v)
{
    double pad = 6;
    return p->top + pad + (p->height - pad) * (1 - (p->ymax > 0 ? v / p->ymax : 0));
}

/* The time axis unit: seconds, minutes or hours, by the run's length. */
static void time_unit(double xmax_s, double *div, const char **name)
{
    *div = xmax_s <= 600 ? 1 : xmax_s <= 4 * 3600 ? 60 : 3600;
    *name = *div == 1 ? "s" : *div == 60 ? "min" : "h";
}

/* The frame, grid lines and tick labels of a panel. */
static void svg_axes(struct cr_buf *b, const struct panel *p, const char *title, int x_labels)
{
    double right = SVG_W - SVG_RIGHT, step = nice_step(p->ymax, 4);
    if (title[0])
        cr_buf_appendf(b, "<text x=\"%d\" y=\"%.1f\" class=\"t\">%s</text>\n", SVG_LEFT, p->top - 8,
                       title);
    for (double v = 0; v <= p->ymax + 1e-9; v += step)
        cr_buf_appendf(b,
                       "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"g\"/>"
                       "<text x=\"%d\" y=\"%.1f\" class=\"yl\">%g</text>\n",
                       SVG_LEFT, px_y(p, v), right, px_y(p, v), SVG_LEFT - 6, px_y(p, v) + 4, v);
    double div;
    const char *unit;
    time_unit(p->xmax_s, &div, &unit);
    double xstep = nice_step(p->xmax_s / div, 8);
    for (double v = 0; v <= p->xmax_s / div + 1e-9; v += xstep) {
        double x = px_x(p, v * div);
        cr_buf_appendf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"g\"/>\n",
                       x, p->top, x, p->top + p->height);
        if (x_labels)
            cr_buf_appendf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"xl\">%g %s</text>\n", x,
                           p->top + p->height + 16, v, unit);
    }
    cr_buf_appendf(b, "<rect x=\"%d\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"f\"/>\n",
                   SVG_LEFT, p->top, right - SVG_LEFT, p->height);
}

/* The rows one point of a line stands for: all of them up to SVG_BUCKETS
 * rows, else equal buckets. */
static size_t bucket_count(const struct cr__sim_series *s)
{
    return s->n < SVG_BUCKETS ? s->n : SVG_BUCKETS;
}

/* One line through the series, one point per bucket of rows: the bucket's
 * mean, or its largest value when max (drawn faintly, so no peak is lost
 * in a long run). */
static void svg_line(struct cr_buf *b, const struct cr__sim_series *s, const struct panel *p,
                     enum line l, int max, const char *cls)
{
    size_t buckets = bucket_count(s);
    cr_buf_appendf(b, "<polyline class=\"%s\" points=\"", cls);
    for (size_t k = 0; k < buckets; k++) {
        size_t lo = k * s->n / buckets, hi = (k + 1) * s->n / buckets;
        double v = 0;
        for (size_t i = lo; i < hi; i++) {
            int x = line_value(&s->rows[i], l);
            v = max ? (x > v ? x : v) : v + x;
        }
        if (!max)
            v /= (double)(hi - lo);
        cr_buf_appendf(b, "%s%.1f,%.1f", k ? " " : "", px_x(p, (double)s->rows[lo].t_ms / 1e3),
                       px_y(p, v));
    }
    cr_buf_append_str(b, "\"/>\n");
}

/* The largest value of a line over the whole series. */
static int line_max(const struct cr__sim_series *s, enum line l)
{
    int m = 0;
    for (size_t i = 0; i < s->n; i++) {
        int v = line_value(&s->rows[i], l);
        m = v > m ? v : m;
    }
    return m;
}

/* A panel's y range: the data's maximum, rounded up to a grid line. */
static double panel_ymax(int data_max)
{
    double step = nice_step(data_max > 0 ? data_max : 1, 4);
    return ceil((data_max > 0 ? data_max : 1) / step) * step;
}

static const char svg_style[] =
    "<style>text{font-family:sans-serif;font-size:12px;fill:#333}"
    ".t{font-weight:bold}.yl{text-anchor:end}.xl{text-anchor:middle}"
    ".g{stroke:#e4e4e4}.f{fill:none;stroke:#999}polyline{fill:none;stroke-width:1.6}"
    ".backlog{stroke:#c0392b}.inst{stroke:#2471a3}.busy{stroke:#27ae60}"
    ".desired{stroke:#8e44ad;stroke-dasharray:5 3}.cap{stroke:#999;stroke-dasharray:2 3}"
    ".peak{stroke-opacity:.3;stroke-width:1}"
    "</style>\n";

/* The <svg> element, its style and the two headline lines. */
static void svg_header(struct cr_buf *b, const struct cr_sim_result *r)
{
    cr_buf_appendf(b,
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                   "viewBox=\"0 0 %d %d\">\n%s<rect width=\"100%%\" height=\"100%%\" "
                   "fill=\"white\"/>\n",
                   SVG_W, SVG_H, SVG_W, SVG_H, svg_style);
    cr_buf_appendf(b,
                   "<text x=\"%d\" y=\"20\" class=\"t\">%ld uploads: latency avg %.1f s, p95 %.1f "
                   "s; peak %d instances; %.0f instance-s; $%.4f</text>\n",
                   SVG_LEFT, r->requests, r->fleet.latency_avg_s, r->fleet.latency_p95_s,
                   r->fleet.peak_instances, r->fleet.instance_seconds, r->fleet.cost_usd);
    cr_buf_appendf(b,
                   "<text x=\"%d\" y=\"38\">ideal fleet: latency avg %.1f s, %.0f instance-s, "
                   "$%.4f</text>\n",
                   SVG_LEFT, r->ideal.latency_avg_s, r->ideal.instance_seconds, r->ideal.cost_usd);
}

cr_status cr__sim_write_svg(const struct cr_sim_result *r, struct cr_buf *b)
{
    const struct cr__sim_series *s = r->series;
    double xmax = s->n ? (double)s->rows[s->n - 1].t_ms / 1e3 : 0;
    int inst_max = line_max(s, L_INSTANCES), des_max = line_max(s, L_DESIRED);
    struct panel top = {
        .top = 70, .height = 150, .ymax = panel_ymax(line_max(s, L_BACKLOG)), .xmax_s = xmax};
    struct panel bottom = {.top = 270,
                           .height = 170,
                           .ymax = panel_ymax(inst_max > des_max ? inst_max : des_max),
                           .xmax_s = xmax};
    svg_header(b, r);
    size_t per = s->n / (bucket_count(s) ? bucket_count(s) : 1);
    char note[96] = "";
    if (per > 1)
        snprintf(note, sizeof(note), ": each point the mean of ~%zu ticks, faint: their maximum",
                 per);
    cr_buf_appendf(b,
                   "<text x=\"%d\" y=\"%.1f\" class=\"t\">backlog (visible + in flight)%s</text>\n",
                   SVG_LEFT, top.top - 8, note);
    svg_axes(b, &top, "", 0);
    if (per > 1)
        svg_line(b, s, &top, L_BACKLOG, 1, "backlog peak");
    svg_line(b, s, &top, L_BACKLOG, 0, "backlog");
    svg_axes(b, &bottom,
             "instances (pending + running, blue), busy (green), desired (dashed), cap (dotted)",
             1);
    double cap_y = px_y(&bottom, s->max_instances);
    if (s->max_instances <= bottom.ymax)
        cr_buf_appendf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"cap\"/>\n",
                       SVG_LEFT, cap_y, SVG_W - SVG_RIGHT, cap_y);
    if (per > 1)
        svg_line(b, s, &bottom, L_INSTANCES, 1, "inst peak");
    svg_line(b, s, &bottom, L_DESIRED, 0, "desired");
    svg_line(b, s, &bottom, L_BUSY, 0, "busy");
    svg_line(b, s, &bottom, L_INSTANCES, 0, "inst");
    return cr_buf_append_str(b, "</svg>\n");
}

/* ---- the entry point -------------------------------------------------------------- */

cr_status cr_sim_write(const struct cr_sim_result *r, enum cr_sim_format format, struct cr_buf *out)
{
    if (!r || !out)
        return CR_ERR_INVALID;
    if ((format == CR_SIM_CSV || format == CR_SIM_SVG) && !r->series)
        return CR_ERR_STATE;
    size_t start = out->len;
    cr_status st;
    switch (format) {
    case CR_SIM_TEXT:
        st = write_text(r, out);
        break;
    case CR_SIM_JSON:
        st = write_json(r, out);
        break;
    case CR_SIM_CSV:
        st = cr__sim_write_csv(r->series, out);
        break;
    case CR_SIM_SVG:
        st = cr__sim_write_svg(r, out);
        break;
    default:
        return CR_ERR_INVALID;
    }
    /* A writer returns its last append's status; on failure, cut what it wrote. */
    if (st != CR_OK && out->data) {
        out->len = start;
        out->data[start] = '\0';
    }
    return st;
}
