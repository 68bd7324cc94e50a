/* specs.c - the simulator's spec strings: durations, distributions, arrival sources. */
#include "core/json.h"
#include "sim/sim_internal.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPEC_MAX 1024
#define TRACE_MAX_BYTES ((size_t)1 << 30)
#define BENCH_MAX_BYTES ((size_t)64 << 20)
/* Uploads one rate or burst source may send: about 5 GB of bookkeeping at
 * most, so a typo fails with a message instead of exhausting memory. */
#define SOURCE_MAX 1e8

/* Parses all of s as a finite number; 0 on anything else. Specs are read in
 * the C locale the tools run in. */
static int parse_number(const char *s, double *out)
{
    char *end = NULL;
    if (!s || !*s)
        return 0;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

/* Parses a number with an optional unit suffix from units ("smhd" with the
 * matching factors) into *out; 0 on error or a negative value. */
static int parse_scaled(const char *s, const char *sep, double *out)
{
    static const struct {
        char unit;
        double factor;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
    char buf[64];
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len >= sizeof(buf))
        return 0;
    memcpy(buf, s, len + 1);
    double factor = 1;
    size_t sep_len = strlen(sep);
    for (size_t i = 0; i < CR__ARRAY_LEN(units); i++) {
        if (len > sep_len && buf[len - 1] == units[i].unit &&
            strncmp(buf + len - 1 - sep_len, sep, sep_len) == 0) {
            factor = units[i].factor;
            buf[len - 1 - sep_len] = '\0';
            break;
        }
    }
    double v;
    if (!parse_number(buf, &v) || v < 0)
        return 0;
    *out = sep_len ? v / factor : v * factor;
    return 1;
}

int cr__sim_parse_duration(const char *s, double *out_s)
{
    return parse_scaled(s, "", out_s);
}

/* A rate per second, "10", "10/s", "600/m", "3600/h", "86400/d". */
static int parse_rate(const char *s, double *out)
{
    return parse_scaled(s, "/", out) && *out > 0;
}

/* Splits a copy of spec at ':' into at most max fields; returns the count,
 * or -1 when the spec is too long or has more fields. */
static int split_fields(const char *spec, char *copy, size_t copy_len, char **fields, int max)
{
    if (strlen(spec) >= copy_len)
        return -1;
    strcpy(copy, spec);
    int n = 0;
    for (char *p = copy;;) {
        if (n == max)
            return -1;
        fields[n++] = p;
        char *colon = strchr(p, ':');
        if (!colon)
            break;
        *colon = '\0';
        p = colon + 1;
    }
    return n;
}

/* ---- distributions ------------------------------------------------------------ */

/* The quantile points of a median, p90, p99 and maximum. */
static cr_status quantiles_set(struct cr__sim_dist *d, const double v[4], const char *what,
                               struct cr_error *err)
{
    if (!(v[0] > 0 && v[0] <= v[1] && v[1] <= v[2] && v[2] <= v[3]))
        return cr__fail(err, CR_ERR_INVALID,
                        "%s: percentiles must satisfy 0 < p50 <= p90 <= p99 <= max", what);
    static const double p[CR__SIM_QPOINTS] = {0, 0.5, 0.9, 0.99, 1};
    double low = v[0] - (v[1] - v[0]) * 0.5 / 0.4;
    d->kind = CR__SIM_QUANTILES;
    memcpy(d->q_p, p, sizeof(p));
    d->q_v[0] = low > 0 ? low : 0;
    memcpy(d->q_v + 1, v, 4 * sizeof(double));
    d->mean_s = 0;
    for (size_t i = 0; i + 1 < CR__SIM_QPOINTS; i++)
        d->mean_s += (p[i + 1] - p[i]) * (d->q_v[i] + d->q_v[i + 1]) / 2;
    return CR_OK;
}

/* The latency percentiles (ms) of classify_bench --json, one pass. */
static cr_status bench_read(const char *path, const char *pass, struct cr__sim_dist *d,
                            const char *what, struct cr_error *err)
{
    struct cr_buf text;
    struct cr__json_doc *doc = NULL;
    cr_buf_init(&text, 0);
    cr_status st = cr__file_read(path, BENCH_MAX_BYTES, &text, err);
    if (st != CR_OK) { /* the message names the file */
        st = cr__fail_prefix(err, st, "%s: ", what);
        goto out;
    }
    struct cr__json_limits lim = {.max_bytes = BENCH_MAX_BYTES};
    st = cr__json_parse((const char *)text.data, text.len, &lim, &doc, err);
    if (st != CR_OK) {
        st = cr__fail_prefix(err, st, "%s: %s: ", what, path);
        goto out;
    }
    const struct cr__json *lat = cr__json_get(cr__json_get(cr__json_root(doc), pass), "latency_ms");
    static const char *keys[4] = {"p50", "p90", "p99", "max"};
    double v[4];
    for (size_t i = 0; i < 4; i++) {
        if (cr__json_get_double(cr__json_get(lat, keys[i]), &v[i]) != CR_OK) {
            st = cr__fail(err, CR_ERR_FORMAT,
                          "%s: %s: no %s.latency_ms.%s (not classify_bench --json output?)", what,
                          path, pass, keys[i]);
            goto out;
        }
        v[i] /= 1000.0;
    }
    st = quantiles_set(d, v, what, err);
out:
    cr__json_free(doc);
    cr_buf_clear(&text);
    return st;
}

/* "bench:FILE[:single|parallel]". */
static cr_status bench_parse(const char *rest, struct cr__sim_dist *d, const char *what,
                             struct cr_error *err)
{
    char path[SPEC_MAX];
    const char *pass = "single";
    size_t len = strlen(rest);
    if (len == 0 || len >= sizeof(path))
        return cr__fail(err, CR_ERR_INVALID, "%s: bench: needs a file name", what);
    memcpy(path, rest, len + 1);
    char *colon = strrchr(path, ':');
    if (colon && (strcmp(colon, ":single") == 0 || strcmp(colon, ":parallel") == 0)) {
        pass = strcmp(colon, ":single") == 0 ? "single" : "parallel";
        *colon = '\0';
    }
    return bench_read(path, pass, d, what, err);
}

/* Parses the numeric fields of a distribution spec. */
static cr_status dist_fields(char **f, int n, struct cr__sim_dist *d, const char *what,
                             struct cr_error *err)
{
    static const struct {
        const char *name;
        enum cr__sim_dist_kind kind;
        int args;
    } kinds[] = {{"fixed", CR__SIM_FIXED, 1},         {"exp", CR__SIM_EXP, 1},
                 {"uniform", CR__SIM_UNIFORM, 2},     {"normal", CR__SIM_NORMAL, 2},
                 {"lognormal", CR__SIM_LOGNORMAL, 2}, {"pct", CR__SIM_QUANTILES, 4}};
    for (size_t k = 0; k < CR__ARRAY_LEN(kinds); k++) {
        if (strcmp(f[0], kinds[k].name) != 0)
            continue;
        double v[4];
        if (n - 1 != kinds[k].args)
            return cr__fail(err, CR_ERR_INVALID, "%s: %s takes %d value%s", what, f[0],
                            kinds[k].args, kinds[k].args == 1 ? "" : "s");
        for (int i = 0; i < kinds[k].args; i++)
            if (!cr__sim_parse_duration(f[i + 1], &v[i]))
                return cr__fail(err, CR_ERR_INVALID, "%s: '%s' is not a duration >= 0", what,
                                f[i + 1]);
        d->kind = kinds[k].kind;
        d->a = v[0];
        d->b = kinds[k].args > 1 ? v[1] : 0;
        d->mean_s = kinds[k].kind == CR__SIM_UNIFORM ? (v[0] + v[1]) / 2 : v[0];
        if (d->kind == CR__SIM_QUANTILES)
            return quantiles_set(d, v, what, err);
        if (d->kind == CR__SIM_UNIFORM && d->b < d->a)
            return cr__fail(err, CR_ERR_INVALID, "%s: uniform needs LO <= HI", what);
        if (d->kind == CR__SIM_LOGNORMAL) {
            if (d->a <= 0)
                return cr__fail(err, CR_ERR_INVALID, "%s: lognormal needs a mean > 0", what);
            double s2 = log(1 + (v[1] * v[1]) / (v[0] * v[0]));
            d->a = log(v[0]) - s2 / 2;
            d->b = sqrt(s2);
        }
        return CR_OK;
    }
    return cr__fail(err, CR_ERR_INVALID,
                    "%s: unknown distribution '%s' (fixed, exp, uniform, normal, lognormal, pct, "
                    "bench)",
                    what, f[0]);
}

cr_status cr__sim_dist_parse(const char *spec, const char *what, struct cr__sim_dist *d,
                             struct cr_error *err)
{
    memset(d, 0, sizeof(*d));
    if (!spec || !*spec)
        return cr__fail(err, CR_ERR_INVALID, "%s: empty", what);
    if (strncmp(spec, "bench:", 6) == 0)
        return bench_parse(spec + 6, d, what, err);
    double v;
    if (cr__sim_parse_duration(spec, &v)) {
        d->kind = CR__SIM_FIXED;
        d->a = d->mean_s = v;
        return CR_OK;
    }
    char copy[SPEC_MAX], *f[6];
    int n = split_fields(spec, copy, sizeof(copy), f, 6);
    if (n < 0)
        return cr__fail(err, CR_ERR_INVALID, "%s: '%s' has too many fields", what, spec);
    return dist_fields(f, n, d, what, err);
}

/* A standard normal variate (Box-Muller, one of the pair). */
static double std_normal(struct cr__sim_rng *r)
{
    double u1 = cr__sim_rng_uniform(r), u2 = cr__sim_rng_uniform(r);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}

/* The quantile function of a QUANTILES distribution at u in [0, 1). */
static double quantile_at(const struct cr__sim_dist *d, double u)
{
    size_t i = 0;
    while (i + 2 < CR__SIM_QPOINTS && u >= d->q_p[i + 1])
        i++;
    double span = d->q_p[i + 1] - d->q_p[i];
    double f = span > 0 ? (u - d->q_p[i]) / span : 0;
    return d->q_v[i] + f * (d->q_v[i + 1] - d->q_v[i]);
}

double cr__sim_dist_draw(const struct cr__sim_dist *d, struct cr__sim_rng *r)
{
    double v = 0;
    switch (d->kind) {
    case CR__SIM_FIXED:
        v = d->a;
        break;
    case CR__SIM_EXP:
        v = d->a > 0 ? cr__sim_rng_exp(r, d->a) : 0;
        break;
    case CR__SIM_UNIFORM:
        v = d->a + (d->b - d->a) * cr__sim_rng_uniform(r);
        break;
    case CR__SIM_NORMAL:
        v = d->a + d->b * std_normal(r);
        break;
    case CR__SIM_LOGNORMAL:
        v = exp(d->a + d->b * std_normal(r));
        break;
    case CR__SIM_QUANTILES:
        v = quantile_at(d, cr__sim_rng_uniform(r));
        break;
    }
    return v > 0 ? v : 0;
}

/* ---- arrival sources ------------------------------------------------------------ */

/* Seconds to microseconds, rounded to the nearest. */
static int64_t to_us(double s)
{
    return (int64_t)llround(s * 1e6);
}

/* Parses one trace line's time (seconds, or ISO-8601 UTC at the start of the
 * line) into *out_us; 0 when it is neither. */
static int trace_time(const char *tok, int64_t *out_us)
{
    double v;
    if (parse_number(tok, &v)) {
        if (v < 0 || v > 1e12)
            return 0;
        *out_us = to_us(v);
        return 1;
    }
    int64_t epoch;
    if (cr__time_parse_iso8601(tok, &epoch) != CR_OK)
        return 0;
    double frac = 0;
    const char *dot = tok[19] == '.' ? tok + 19 : NULL;
    if (dot) {
        char f[32] = "0";
        size_t k = 1;
        for (const char *p = dot; (*p == '.' || (*p >= '0' && *p <= '9')) && k + 1 < sizeof(f); p++)
            f[k++] = *p;
        f[k] = '\0';
        frac = strtod(f, NULL);
    }
    *out_us = epoch * 1000000 + to_us(frac);
    return 1;
}

/* qsort order of int64_t values. */
static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Appends one time to the trace, growing it. */
static cr_status trace_add(struct cr__sim_source *s, size_t *cap, int64_t t)
{
    int64_t *v = cr__array_grow(s->times_us, cap, s->n_times, sizeof(*v), 1024);
    if (!v)
        return CR_ERR_NOMEM;
    s->times_us = v;
    s->times_us[s->n_times++] = t;
    return CR_OK;
}

/* Parses the trace text: one time per line, then sorts and rebases it. */
static cr_status trace_parse(struct cr__sim_source *s, char *text, const char *path,
                             struct cr_error *err)
{
    size_t cap = 0;
    long line_no = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        line_no++;
        line += strspn(line, " \t\r");
        if (!*line || *line == '#')
            continue;
        line[strcspn(line, " \t\r")] = '\0';
        int64_t t;
        if (!trace_time(line, &t))
            return cr__fail(err, CR_ERR_FORMAT,
                            "trace %s: line %ld: '%.40s' is not seconds or an ISO-8601 UTC time",
                            path, line_no, line);
        if (trace_add(s, &cap, t) != CR_OK)
            return cr__fail(err, CR_ERR_NOMEM, "trace %s: out of memory", path);
    }
    if (s->n_times == 0)
        return cr__fail(err, CR_ERR_FORMAT, "trace %s: no times", path);
    qsort(s->times_us, s->n_times, sizeof(int64_t), cmp_i64);
    int64_t first = s->times_us[0];
    for (size_t i = 0; i < s->n_times; i++)
        s->times_us[i] -= first;
    s->count = (long)s->n_times;
    return CR_OK;
}

/* "trace:FILE". */
static cr_status trace_read(struct cr__sim_source *s, const char *path, struct cr_error *err)
{
    struct cr_buf text;
    cr_buf_init(&text, 0);
    cr_status st = cr__file_read(path, TRACE_MAX_BYTES, &text, err);
    if (st != CR_OK)
        st = cr__fail_prefix(err, st, "trace: ");
    else
        st = trace_parse(s, text.len ? (char *)text.data : (char[]){""}, path, err);
    cr_buf_clear(&text);
    return st;
}

/* "burst:N", "constant:RATE:DURATION", "poisson:RATE:DURATION" (the @T part
 * already cut off). */
static cr_status rate_parse(struct cr__sim_source *s, char **f, int n, const char *spec,
                            struct cr_error *err)
{
    double v;
    if (strcmp(f[0], "burst") == 0) {
        if (n != 2 || !parse_number(f[1], &v) || v < 0 || v > SOURCE_MAX || v != floor(v))
            return cr__fail(err, CR_ERR_INVALID, "--arrivals %s: burst takes a count 0..100000000",
                            spec);
        s->kind = CR__SIM_BURST;
        s->count = (long)v;
        return CR_OK;
    }
    int poisson = strcmp(f[0], "poisson") == 0;
    if (!poisson && strcmp(f[0], "constant") != 0)
        return cr__fail(err, CR_ERR_INVALID,
                        "--arrivals %s: unknown kind '%s' (burst, constant, poisson, trace)", spec,
                        f[0]);
    if (n != 3 || !parse_rate(f[1], &s->rate_per_s) ||
        !cr__sim_parse_duration(f[2], &s->duration_s))
        return cr__fail(err, CR_ERR_INVALID, "--arrivals %s: %s takes RATE:DURATION", spec, f[0]);
    if (s->rate_per_s * s->duration_s > SOURCE_MAX)
        return cr__fail(err, CR_ERR_INVALID, "--arrivals %s: more than 10^8 uploads", spec);
    s->kind = poisson ? CR__SIM_POISSON : CR__SIM_CONSTANT;
    /* A Poisson source runs until its window closes, however many it drew. */
    s->count = poisson ? LONG_MAX : (long)floor(s->rate_per_s * s->duration_s + 1e-9);
    return CR_OK;
}

cr_status cr__sim_source_parse(const char *spec, struct cr__sim_source *s, struct cr_error *err)
{
    memset(s, 0, sizeof(*s));
    if (!spec)
        return cr__fail(err, CR_ERR_INVALID, "--arrivals: empty");
    if (strncmp(spec, "trace:", 6) == 0) {
        s->kind = CR__SIM_TRACE;
        return trace_read(s, spec + 6, err);
    }
    char copy[SPEC_MAX], *f[4];
    int n = split_fields(spec, copy, sizeof(copy), f, 4);
    if (n < 0)
        return cr__fail(err, CR_ERR_INVALID, "--arrivals %s: too many fields", spec);
    char *at = strchr(f[n - 1], '@');
    if (at) {
        *at = '\0';
        if (!cr__sim_parse_duration(at + 1, &s->start_s))
            return cr__fail(err, CR_ERR_INVALID, "--arrivals %s: '@%s' is not a time >= 0", spec,
                            at + 1);
    }
    return rate_parse(s, f, n, spec, err);
}

int64_t cr__sim_source_next(struct cr__sim_source *s, struct cr__sim_rng *r)
{
    if (s->emitted >= s->count)
        return -1;
    switch (s->kind) {
    case CR__SIM_BURST:
        s->emitted++;
        return to_us(s->start_s);
    case CR__SIM_CONSTANT:
        return to_us(s->start_s + (double)s->emitted++ / s->rate_per_s);
    case CR__SIM_TRACE:
        return s->times_us[s->emitted++];
    case CR__SIM_POISSON:
        s->next_s += cr__sim_rng_exp(r, 1.0 / s->rate_per_s);
        if (s->next_s > s->duration_s) {
            s->count = s->emitted; /* the window is over: no more draws */
            return -1;
        }
        s->emitted++;
        return to_us(s->start_s + s->next_s);
    }
    return -1;
}

double cr__sim_source_end_s(const struct cr__sim_source *s)
{
    switch (s->kind) {
    case CR__SIM_BURST:
        return s->start_s;
    case CR__SIM_CONSTANT:
    case CR__SIM_POISSON:
        return s->start_s + s->duration_s;
    case CR__SIM_TRACE:
        return s->n_times ? (double)s->times_us[s->n_times - 1] / 1e6 : 0;
    }
    return 0;
}

void cr__sim_source_clear(struct cr__sim_source *s)
{
    if (!s)
        return;
    free(s->times_us);
    memset(s, 0, sizeof(*s));
}
