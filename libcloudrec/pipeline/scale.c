/* scale.c - the scaling policy: queue depth and fleet state in, action out. */
#include "cloudrec/scale.h"

#include "core/json.h"
#include "internal.h"
#include "pipeline/pipeline.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

cr_status cr_scale_config_resolve(const struct cr_scale_config *cfg, struct cr_scale_config *out)
{
    struct cr_scale_config c = {0};
    if (cfg)
        c = *cfg;
    if (c.min_instances < 0 || c.max_instances < 0 || c.per_instance_target < 0 ||
        c.scale_in_window_ms < 0)
        return CR_ERR_INVALID;
    if (c.max_instances == 0)
        c.max_instances = CR_SCALE_DEFAULT_MAX_INSTANCES;
    if (c.per_instance_target == 0)
        c.per_instance_target = CR_SCALE_DEFAULT_PER_INSTANCE_TARGET;
    if (c.scale_in_window_ms == 0)
        c.scale_in_window_ms = CR_SCALE_DEFAULT_SCALE_IN_WINDOW_MS;
    if (c.min_instances > c.max_instances)
        return CR_ERR_INVALID;
    *out = c;
    return CR_OK;
}

/* Counts are non-negative, idle is part of running, the clock is >= 0. */
static int input_ok(const struct cr_scale_input *in)
{
    return in->visible >= 0 && in->in_flight >= 0 && in->pending >= 0 && in->running >= 0 &&
           in->idle >= 0 && in->idle <= in->running && in->stopping >= 0 &&
           in->pending <= INT_MAX - in->running && in->now_ms >= 0;
}

/* ---- recent history --------------------------------------------------------
 * The last window is cut into CR_SCALE_HISTORY - 1 slices (plus the one being
 * filled); each remembers the largest desired seen in it. That bounds the
 * state to a fixed size whatever the tick rate, and errs on the safe side: a
 * slice counts while any part of it is inside the window, so a peak is
 * remembered for at most one slice longer than the window, never shorter. */

/* Clears everything: the first call, a clock that went backwards, or a new
 * window length (slices of another length cannot be compared). */
static void state_reset(struct cr_scale_state *st, int64_t now_ms, int64_t slot_ms)
{
    memset(st, 0, sizeof(*st));
    st->started = 1;
    st->last_ms = now_ms;
    st->slot_ms = slot_ms;
    for (size_t i = 0; i < CR__ARRAY_LEN(st->recent); i++)
        st->recent[i].slot = INT64_MIN;
}

/* Records desired in the slice that holds now_ms (now_ms >= 0). */
static void history_add(struct cr_scale_state *st, int64_t now_ms, int desired)
{
    int64_t slot = now_ms / st->slot_ms;
    size_t i = (size_t)(slot % CR_SCALE_HISTORY);
    if (st->recent[i].slot != slot) {
        st->recent[i].slot = slot;
        st->recent[i].desired = desired;
    } else if (desired > st->recent[i].desired) {
        st->recent[i].desired = desired;
    }
}

/* The largest desired of the slices that overlap (now_ms - window, now_ms]. */
static int history_max(const struct cr_scale_state *st, int64_t now_ms, int64_t window_ms)
{
    int best = 0;
    for (size_t i = 0; i < CR__ARRAY_LEN(st->recent); i++) {
        int64_t slot = st->recent[i].slot;
        if (slot == INT64_MIN || (slot + 1) * st->slot_ms <= now_ms - window_ms)
            continue;
        if (st->recent[i].desired > best)
            best = st->recent[i].desired;
    }
    return best;
}

/* visible + in_flight, saturating instead of overflowing (the formatter
 * also sees inputs that were never validated). */
static int64_t backlog_of(const struct cr_scale_input *in)
{
    int64_t v = in->visible, f = in->in_flight;
    if (f > 0 && v > INT64_MAX - f)
        return INT64_MAX;
    if (f < 0 && v < INT64_MIN - f)
        return INT64_MIN;
    return v + f;
}

/* What one tick works from; all counts already validated. */
struct tick {
    struct cr_scale_config c;
    int64_t backlog;
    int64_t need; /* ceil(backlog / target), before clamping */
    int capacity; /* pending + running: stopping ones count as gone */
};

/* desired = clamp(need, min, max). */
static int desired_for(const struct tick *t)
{
    if (t->need > t->c.max_instances)
        return t->c.max_instances;
    return t->need < t->c.min_instances ? t->c.min_instances : (int)t->need;
}

/* How many running workers may be stopped without touching work: the idle
 * ones, but never so many that fewer running workers remain than messages in
 * flight. A worker holds one message at a time, so in-flight messages stand
 * for busy workers even when an idle count is stale, and messages of a dead
 * worker will reappear and need a worker anyway. */
static int stoppable(const struct cr_scale_input *in)
{
    int64_t spare = (int64_t)in->running - in->in_flight;
    if (spare < 0)
        spare = 0;
    return in->idle < spare ? in->idle : (int)spare;
}

/* The fleet is larger than needed: wait until it has been so for a whole
 * window, then shrink to the largest desired seen in that window, stopping
 * only what can be stopped safely. Following the window's peak rather than
 * this tick's value is what keeps a noisy backlog from shrinking the fleet to
 * a dip and growing it back at the next bump. */
static void scale_in(const struct tick *t, const struct cr_scale_input *in,
                     struct cr_scale_state *st, struct cr_scale_decision *d)
{
    if (!st->low) {
        st->low = 1;
        st->low_since_ms = in->now_ms;
    }
    int64_t low_ms = in->now_ms - st->low_since_ms;
    if (low_ms < t->c.scale_in_window_ms) {
        snprintf(d->reason, sizeof(d->reason), "low for %lld of %lld ms", (long long)low_ms,
                 (long long)t->c.scale_in_window_ms);
        return;
    }
    int peak = history_max(st, in->now_ms, t->c.scale_in_window_ms);
    if (peak >= t->capacity) {
        snprintf(d->reason, sizeof(d->reason), "recent peak %d still needs the fleet", peak);
        return;
    }
    int excess = t->capacity - peak;
    int can = stoppable(in);
    d->stop = excess < can ? excess : can;
    if (d->stop == excess)
        snprintf(d->reason, sizeof(d->reason), "scale in to %d, the peak of the last %lld ms", peak,
                 (long long)t->c.scale_in_window_ms);
    else
        snprintf(d->reason, sizeof(d->reason), "scale in %d of %d: the others are busy or pending",
                 d->stop, excess);
}

/* The fleet is too small: launch the difference at once. */
static void scale_out(const struct tick *t, struct cr_scale_decision *d)
{
    d->launch = d->desired - t->capacity;
    if (t->need < t->c.min_instances)
        snprintf(d->reason, sizeof(d->reason), "below min %d", t->c.min_instances);
    else
        snprintf(d->reason, sizeof(d->reason), "%s: backlog %lld needs %lld%s",
                 t->capacity == 0 ? "first work" : "scale out", (long long)t->backlog,
                 (long long)t->need, t->need > t->c.max_instances ? ", capped at max" : "");
}

/* desired == capacity: nothing to do. */
static void steady(const struct tick *t, struct cr_scale_decision *d)
{
    if (t->need > t->c.max_instances)
        snprintf(d->reason, sizeof(d->reason), "at max %d: backlog %lld waits", t->c.max_instances,
                 (long long)t->backlog);
    else
        snprintf(d->reason, sizeof(d->reason), "steady");
}

cr_status cr_scale_decide(const struct cr_scale_config *cfg, const struct cr_scale_input *in,
                          struct cr_scale_state *state, struct cr_scale_decision *out)
{
    struct tick t;
    if (!out)
        return CR_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    if (!in || !state || cr_scale_config_resolve(cfg, &t.c) != CR_OK || !input_ok(in))
        return CR_ERR_INVALID;
    t.backlog = backlog_of(in);
    t.need = t.backlog / t.c.per_instance_target + (t.backlog % t.c.per_instance_target != 0);
    t.capacity = in->pending + in->running;
    out->desired = desired_for(&t);
    int64_t slot_ms = (t.c.scale_in_window_ms + CR_SCALE_HISTORY - 2) / (CR_SCALE_HISTORY - 1);
    if (!state->started || in->now_ms < state->last_ms || state->slot_ms != slot_ms)
        state_reset(state, in->now_ms, slot_ms);
    state->last_ms = in->now_ms;
    history_add(state, in->now_ms, out->desired);
    if (out->desired < t.capacity) {
        scale_in(&t, in, state, out);
        return CR_OK;
    }
    /* Any low period is over: the next one starts its window afresh. */
    state->low = 0;
    state->low_since_ms = 0;
    if (out->desired > t.capacity)
        scale_out(&t, out);
    else
        steady(&t, out);
    return CR_OK;
}

cr_status cr_scale_format(const struct cr_scale_input *in, const struct cr_scale_decision *d,
                          struct cr_buf *out)
{
    if (!in || !d || !out)
        return CR_ERR_INVALID;
    char action[32] = "none";
    if (d->launch > 0)
        snprintf(action, sizeof(action), "launch:%d", d->launch);
    else if (d->stop > 0)
        snprintf(action, sizeof(action), "stop:%d", d->stop);
    size_t start = out->len;
    cr_status st = cr_buf_appendf(
        out,
        "backlog=%lld visible=%ld in_flight=%ld pending=%d running=%d idle=%d stopping=%d "
        "desired=%d action=%s reason=",
        (long long)backlog_of(in), in->visible, in->in_flight, in->pending, in->running, in->idle,
        in->stopping, d->desired, action);
    if (st == CR_OK)
        st = cr__json_quote(out, d->reason);
    if (st != CR_OK && out->data) {
        out->len = start;
        out->data[start] = '\0';
    }
    return st;
}
