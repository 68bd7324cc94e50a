/* scaler_status.c - the scaler's status file: record, encode, decode, write,
 * read (the format is described in scaler_status.h). */
#include "pipeline/scaler_status.h"

#include "core/json.h"
#include "pipeline/pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define STATUS_VERSION 1

void cr__scaler_status_record(struct cr__scaler_status *s, const struct cr_scale_input *in,
                              const struct cr_scale_decision *d, int64_t wall_ms)
{
    s->time_ms = wall_ms;
    s->visible = in->visible;
    s->in_flight = in->in_flight;
    s->starting = in->pending;
    s->busy = in->running - in->idle;
    s->idle = in->idle;
    s->stopping = in->stopping;
    s->desired = d->desired;
    if (d->launch <= 0 && d->stop <= 0)
        return;
    if (s->num_actions == CR__SCALER_STATUS_DECISIONS) {
        memmove(&s->actions[0], &s->actions[1], (s->num_actions - 1) * sizeof(s->actions[0]));
        s->num_actions--;
    }
    struct cr__scaler_action *a = &s->actions[s->num_actions++];
    a->time_ms = wall_ms;
    a->launch = d->launch > 0 ? d->launch : 0;
    a->stop = d->launch > 0 ? 0 : d->stop;
    a->desired = d->desired;
    a->backlog = in->visible + in->in_flight;
    cr__strlcpy(a->reason, d->reason, sizeof(a->reason));
}

static const int64_t start_bounds_ms[CR__SCALER_START_BUCKETS] = CR__SCALER_START_BOUNDS_MS;

void cr__scaler_status_start(struct cr__scaler_status *s, int64_t ms)
{
    if (ms < 0)
        return;
    int b = 0;
    while (b < CR__SCALER_START_BUCKETS && ms > start_bounds_ms[b])
        b++;
    s->start_counts[b]++;
    s->start_sum_ms += ms;
}

/* Writes "worker_start":{"counts":[...],"sum_ms":N}. */
static void encode_starts(const struct cr__scaler_status *s, struct cr__jw *w)
{
    cr__jw_object(w, "worker_start");
    cr__jw_array(w, "counts");
    for (int b = 0; b <= CR__SCALER_START_BUCKETS; b++)
        cr__jw_int(w, NULL, s->start_counts[b]);
    cr__jw_end(w);
    cr__jw_int(w, "sum_ms", s->start_sum_ms);
    cr__jw_end(w);
}

/* Writes one element of "decisions". */
static void encode_action(const struct cr__scaler_action *a, struct cr__jw *w)
{
    cr__jw_object(w, NULL);
    cr__jw_int(w, "time_ms", a->time_ms);
    cr__jw_string(w, "action", a->launch > 0 ? "launch" : "stop");
    cr__jw_int(w, "count", a->launch > 0 ? a->launch : a->stop);
    cr__jw_int(w, "desired", a->desired);
    cr__jw_int(w, "backlog", a->backlog);
    cr__jw_text(w, "reason", a->reason);
    cr__jw_end(w);
}

cr_status cr__scaler_status_encode(const struct cr__scaler_status *s, struct cr_buf *out)
{
    struct cr__jw *w = cr__jw_new();
    cr__jw_object(w, NULL);
    cr__jw_int(w, "v", STATUS_VERSION);
    cr__jw_int(w, "time_ms", s->time_ms);
    cr__jw_int(w, "interval_ms", s->interval_ms);
    cr__jw_int(w, "visible", s->visible);
    cr__jw_int(w, "in_flight", s->in_flight);
    cr__jw_int(w, "starting", s->starting);
    cr__jw_int(w, "busy", s->busy);
    cr__jw_int(w, "idle", s->idle);
    cr__jw_int(w, "stopping", s->stopping);
    cr__jw_int(w, "desired", s->desired);
    cr__jw_int(w, "min", s->min_instances);
    cr__jw_int(w, "max", s->max_instances);
    cr__jw_int(w, "launch_failures", s->launch_failures);
    cr__jw_text(w, "launch_error", s->launch_error);
    encode_starts(s, w);
    cr__jw_array(w, "decisions");
    for (size_t i = 0; i < s->num_actions && i < CR__SCALER_STATUS_DECISIONS; i++)
        encode_action(&s->actions[i], w);
    cr__jw_end(w);
    cr__jw_end(w);
    size_t start = out->len;
    cr_status st = cr__jw_finish(w, out);
    if (st == CR_OK && (st = cr_buf_append_str(out, "\n")) != CR_OK) {
        out->len = start;
        out->data[start] = '\0';
    }
    return st;
}

/* Reads the integer member key of obj into *out; 0 when missing or not an
 * integer within [lo, hi]. */
static int get_int(const struct cr__json *obj, const char *key, int64_t lo, int64_t hi,
                   int64_t *out)
{
    return cr__json_get_int64(cr__json_get(obj, key), out) == CR_OK && *out >= lo && *out <= hi;
}

/* Reads the optional "worker_start" histogram; 0 when present but bad. */
static int decode_starts(const struct cr__json *root, struct cr__scaler_status *out)
{
    const struct cr__json *h = cr__json_get(root, "worker_start");
    if (!h)
        return 1;
    const struct cr__json *counts = cr__json_get(h, "counts");
    int64_t v = 0;
    if (cr__json_type(counts) != CR__JSON_ARRAY ||
        cr__json_length(counts) != CR__SCALER_START_BUCKETS + 1 ||
        !get_int(h, "sum_ms", 0, INT64_MAX, &out->start_sum_ms))
        return 0;
    for (size_t b = 0; b <= CR__SCALER_START_BUCKETS; b++) {
        if (cr__json_get_int64(cr__json_at(counts, b), &v) != CR_OK || v < 0 || v > INT32_MAX)
            return 0;
        out->start_counts[b] = (long)v;
    }
    return 1;
}

/* Decodes one element of "decisions". */
static int decode_action(const struct cr__json *v, struct cr__scaler_action *a)
{
    int64_t t, count, desired, backlog;
    const char *action = NULL, *reason = NULL;
    size_t len;
    if (!get_int(v, "time_ms", 0, INT64_MAX, &t) || !get_int(v, "count", 1, 1000000, &count) ||
        !get_int(v, "desired", 0, 1000000, &desired) ||
        !get_int(v, "backlog", 0, INT32_MAX, &backlog) ||
        cr__json_get_string(cr__json_get(v, "action"), &action, &len) != CR_OK ||
        cr__json_get_string(cr__json_get(v, "reason"), &reason, &len) != CR_OK)
        return 0;
    int launch = strcmp(action, "launch") == 0;
    if (!launch && strcmp(action, "stop") != 0)
        return 0;
    memset(a, 0, sizeof(*a));
    a->time_ms = t;
    a->launch = launch ? (int)count : 0;
    a->stop = launch ? 0 : (int)count;
    a->desired = (int)desired;
    a->backlog = (long)backlog;
    cr__strlcpy(a->reason, reason, sizeof(a->reason));
    return 1;
}

/* The counts of the top-level object into out; 0 when one is missing or
 * out of range. */
static int decode_counts(const struct cr__json *root, struct cr__scaler_status *out)
{
    static const char *const keys[] = {"interval_ms", "visible", "in_flight", "starting", "busy",
                                       "idle",        "stopping", "desired",  "min",      "max"};
    int64_t v[CR__ARRAY_LEN(keys)], t;
    for (size_t i = 0; i < CR__ARRAY_LEN(keys); i++)
        if (!get_int(root, keys[i], 0, INT32_MAX, &v[i]))
            return 0;
    if (!get_int(root, "time_ms", 0, INT64_MAX, &t))
        return 0;
    out->time_ms = t;
    out->interval_ms = (int)v[0];
    out->visible = (long)v[1], out->in_flight = (long)v[2];
    out->starting = (int)v[3], out->busy = (int)v[4], out->idle = (int)v[5];
    out->stopping = (int)v[6], out->desired = (int)v[7];
    out->min_instances = (int)v[8], out->max_instances = (int)v[9];
    /* Optional: absent in files of scalers that predate them. */
    if (get_int(root, "launch_failures", 0, INT32_MAX, &t))
        out->launch_failures = (long)t;
    const char *why = NULL;
    size_t len = 0;
    if (cr__json_get_string(cr__json_get(root, "launch_error"), &why, &len) == CR_OK)
        cr__strlcpy(out->launch_error, why, sizeof(out->launch_error));
    return 1;
}

cr_status cr__scaler_status_decode(const char *text, size_t len, struct cr__scaler_status *out,
                                   struct cr_error *err)
{
    struct cr__json_doc *doc = NULL;
    memset(out, 0, sizeof(*out));
    cr_status st = cr__json_parse(text, len, NULL, &doc, err);
    if (st != CR_OK)
        return cr__fail_prefix(err, st, "scaler status: ");
    const struct cr__json *root = cr__json_root(doc);
    const struct cr__json *list = cr__json_get(root, "decisions");
    int64_t version = 0;
    if (!get_int(root, "v", 0, INT32_MAX, &version) || version != STATUS_VERSION)
        st = cr__fail(err, CR_ERR_FORMAT, "scaler status: not a version %d document",
                      STATUS_VERSION);
    else if (!decode_counts(root, out) || !decode_starts(root, out) ||
             cr__json_type(list) != CR__JSON_ARRAY ||
             cr__json_length(list) > CR__SCALER_STATUS_DECISIONS)
        st = cr__fail(err, CR_ERR_FORMAT, "scaler status: a field is missing or out of range");
    for (size_t i = 0; st == CR_OK && i < cr__json_length(list); i++)
        if (!decode_action(cr__json_at(list, i), &out->actions[out->num_actions++]))
            st = cr__fail(err, CR_ERR_FORMAT, "scaler status: bad decision %zu", i);
    cr__json_free(doc);
    if (st != CR_OK)
        memset(out, 0, sizeof(*out));
    return st;
}

/* Writes len bytes of data to a new file tmp. */
static cr_status write_new(const char *tmp, const void *data, size_t len, struct cr_error *err)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return cr__fail(err, CR_ERR_IO, "%s: %s", tmp, strerror(errno));
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return cr__fail(err, CR_ERR_IO, "%s: %s", tmp, strerror(e));
        }
        p += n;
        len -= (size_t)n;
    }
    if (close(fd) != 0)
        return cr__fail(err, CR_ERR_IO, "%s: %s", tmp, strerror(errno));
    return CR_OK;
}

cr_status cr__scaler_status_write(const char *path, const struct cr__scaler_status *s,
                                  struct cr_error *err)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return cr__fail(err, CR_ERR_INVALID, "scaler status path too long");
    struct cr_buf doc;
    cr_buf_init(&doc, CR__SCALER_STATUS_MAX_BYTES);
    cr_status st = cr__scaler_status_encode(s, &doc);
    if (st != CR_OK)
        cr__fail(err, st, "scaler status: %s", cr_strerror(st));
    else if ((st = write_new(tmp, doc.data, doc.len, err)) == CR_OK && rename(tmp, path) != 0)
        st = cr__fail(err, CR_ERR_IO, "%s: %s", path, strerror(errno));
    if (st != CR_OK)
        unlink(tmp);
    cr_buf_free(&doc);
    return st;
}

cr_status cr__scaler_status_read(const char *path, struct cr__scaler_status *out,
                                 struct cr_error *err)
{
    struct cr_buf text;
    cr_buf_init(&text, CR__SCALER_STATUS_MAX_BYTES);
    memset(out, 0, sizeof(*out));
    cr_status st = cr_file_read(path, CR__SCALER_STATUS_MAX_BYTES, &text, err);
    if (st == CR_OK)
        st = cr__scaler_status_decode((const char *)text.data, text.len, out, err);
    cr_buf_free(&text);
    return st;
}
