/*
 * sim.c - cr__sim_run: the real scaling policy on a simulated queue and fleet.
 *
 * Everything happens in events taken from one heap in time order; nothing
 * loops over wall-clock ticks. Uploads wait in a FIFO of visible messages;
 * free worker slots wait in a FIFO too, so the slot that has been free the
 * longest takes the next message, as the longest-waiting long poll would.
 * A received message is invisible for the visibility timeout: if it is not
 * deleted by then (a slow image, a dead instance) it becomes visible again
 * and is received anew, and a message received max_receives times without
 * an answer becomes a dead letter, as SQS with a redrive policy does. The
 * scaler tick observes the queue and the fleet exactly as cloudrec-scaler
 * does (visible, in flight, pending, running, idle, stopping) and hands
 * them to cr__scale_decide.
 */
#include "net/load.h"
#include "sim/sim_internal.h"
#include "pipeline/pipeline.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SIM_DEFAULT_SERVICE "1"
#define SIM_DEFAULT_BOOT "40"
#define SIM_DEFAULT_INTERVAL_MS 1000
#define SIM_DEFAULT_VISIBILITY_S 30
#define SIM_DEFAULT_MAX_RECEIVES 5
#define SIM_DEFAULT_PRICE 0.0116
#define SIM_DEFAULT_MIN_BILLED_S 60
#define SIM_DRAIN_LIMIT_S (10 * 86400.0)
#define SIM_MAX_SOURCES 64
#define SIM_WAKE_SPACING_US 20000 /* cloudrec-scaler's least time between woken ticks */

/* Event kinds; the priority decides the order of events at the same
 * microsecond: arrivals first, the scaler tick last, so a tick sees
 * everything that happened at its instant. */
enum ev_type {
    EV_ARRIVAL,
    EV_IDEAL_END,
    EV_VISIBLE,
    EV_BOOTED,
    EV_DONE,
    EV_DEATH,
    EV_GONE,
    EV_TICK
};
static const int ev_prio[] = {0, 1, 2, 3, 4, 5, 6, 9};

enum msg_state { M_FREE, M_VISIBLE, M_FLIGHT };
enum inst_state { I_PENDING, I_RUNNING, I_STOPPING, I_GONE };

struct msg {
    int64_t arrived_us, service_us;
    int64_t receipt; /* of the latest receive; receipts are never reused */
    int receives;
    unsigned char state, answered;
};

struct slot {
    int64_t msg, receipt, received_us;
    unsigned char busy, queued;
};

struct inst {
    int state;
    int busy; /* slots holding a message */
    int64_t launched_us, idle_since_us;
};

/* A FIFO of indices (visible messages, free slots), a growable ring. */
struct ring {
    int64_t *v;
    size_t head, n, cap;
};

/* Everything one run owns. */
struct sim {
    struct cr_sim_options o; /* defaults filled in */
    int64_t interval_us, stop_delay_us, vis_us, until_us;
    struct cr__sim_dist service, boot;
    struct cr__sim_rng rng_arrival, rng_service, rng_boot, rng_death;
    struct cr__sim_source src[SIM_MAX_SOURCES];
    int n_src, src_live;
    struct cr__sim_heap heap;
    struct cr_scale_state policy_state;
    /* the queue */
    struct msg *msgs;
    size_t n_msgs, cap_msgs;
    struct ring free_msgs, visible, free_slots;
    long flight;
    int64_t next_receipt;
    /* the fleet */
    struct inst *inst;
    struct slot *slots; /* concurrency per instance */
    size_t n_inst, cap_inst;
    struct ring live; /* indices of instances not gone, unordered */
    int pending, running, stopping;
    /* the ideal fleet */
    long ideal_busy;
    int64_t ideal_last_us, ideal_area_us;
    int ideal_peak;
    /* results */
    int64_t *lat_us, *ideal_lat_us;
    size_t n_lat, cap_lat, n_ideal, cap_ideal;
    int64_t inst_us;
    double cost;
    /* the scaler's ticks: each tick event carries the generation it was
     * scheduled in; a woken tick starts a new one, so the older event is
     * stale and ignored, as the real scaler restarts its wait */
    int64_t tick_gen;
    int64_t last_tick_us;
    int64_t next_tick_us;
    struct cr__sim_row row; /* counts since the last row */
    long logged_key[9];     /* the last decision logged, reason aside */
    int logged;
    struct cr_sim_result *r;
    int64_t now_us;
    int done;
};

/* ---- small containers ------------------------------------------------------- */

/* Appends v at the back, growing the ring (its order kept). CR_ERR_NOMEM. */
static cr_status ring_push(struct ring *q, int64_t v)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 64;
        int64_t *nv = malloc(cap * sizeof(*nv));
        if (!nv)
            return CR_ERR_NOMEM;
        for (size_t i = 0; i < q->n; i++)
            nv[i] = q->v[(q->head + i) % q->cap];
        free(q->v);
        q->v = nv;
        q->head = 0;
        q->cap = cap;
    }
    q->v[(q->head + q->n++) % q->cap] = v;
    return CR_OK;
}

/* Removes and returns the front element; the ring must not be empty. */
static int64_t ring_pop(struct ring *q)
{
    int64_t v = q->v[q->head];
    q->head = (q->head + 1) % q->cap;
    q->n--;
    return v;
}

/* Removes element i (any order kept but the last one's). */
static void ring_swap_remove(struct ring *q, size_t i)
{
    q->v[(q->head + i) % q->cap] = q->v[(q->head + q->n - 1) % q->cap];
    q->n--;
}

/* The i-th element from the front (i < n). */
static int64_t ring_at(const struct ring *q, size_t i)
{
    return q->v[(q->head + i) % q->cap];
}

/* Releases the ring's memory and zeroes it. */
static void ring_clear(struct ring *q)
{
    free(q->v);
    memset(q, 0, sizeof(*q));
}

/* Appends v to a growable int64 array. */
static cr_status vec_push(int64_t **v, size_t *n, size_t *cap, int64_t x)
{
    int64_t *nv = cr__array_grow(*v, cap, *n, sizeof(*nv), 1024);
    if (!nv)
        return CR_ERR_NOMEM;
    *v = nv;
    (*v)[(*n)++] = x;
    return CR_OK;
}

/* Schedules an event of a kind at t_us with its arguments. CR_ERR_NOMEM. */
static cr_status push_event(struct sim *s, int type, int64_t t_us, int64_t a, int64_t b)
{
    struct cr__sim_event e = {.t_us = t_us, .prio = ev_prio[type], .type = type, .a = a, .b = b};
    return cr__sim_heap_push(&s->heap, e);
}

/* ---- options ------------------------------------------------------------------ */

/* Fills the numeric defaults and checks ranges. */
static cr_status resolve_numbers(struct sim *s, struct cr_error *err)
{
    struct cr_sim_options *o = &s->o;
    if (cr__scale_config_resolve(&o->policy, &o->policy) != CR_OK)
        return cr__fail(
            err, CR_ERR_INVALID,
            "policy: --min-instances must be <= --max-instances, and no field negative");
    o->interval_ms = o->interval_ms ? o->interval_ms : SIM_DEFAULT_INTERVAL_MS;
    o->concurrency = o->concurrency ? o->concurrency : 1;
    o->visibility_s = o->visibility_s ? o->visibility_s : SIM_DEFAULT_VISIBILITY_S;
    o->max_receives = o->max_receives ? o->max_receives : SIM_DEFAULT_MAX_RECEIVES;
    o->price_per_hour_usd = o->price_per_hour_usd != 0 ? o->price_per_hour_usd : SIM_DEFAULT_PRICE;
    o->min_billed_s = o->min_billed_s ? o->min_billed_s : SIM_DEFAULT_MIN_BILLED_S;
    if (o->min_billed_s < 0)
        o->min_billed_s = 0;
    if (o->interval_ms < 10 || o->interval_ms > 3600000)
        return cr__fail(err, CR_ERR_INVALID, "interval_ms (--interval-ms) must be 10..3600000");
    if (o->concurrency < 1 || o->concurrency > 1000)
        return cr__fail(err, CR_ERR_INVALID, "concurrency (--concurrency) must be 1..1000");
    if (o->visibility_s < 1 || o->visibility_s > 43200)
        return cr__fail(err, CR_ERR_INVALID, "visibility_s (--visibility-s) must be 1..43200");
    if (o->stop_delay_ms < 0 || o->stop_delay_ms > 86400000)
        return cr__fail(err, CR_ERR_INVALID, "stop_delay_ms (--stop-delay-ms) must be 0..86400000");
    if (!(o->deaths_per_hour >= 0 && o->deaths_per_hour <= 3600000))
        return cr__fail(err, CR_ERR_INVALID,
                        "deaths_per_hour (--deaths-per-hour) must be 0..3600000");
    if (!(o->price_per_hour_usd > 0 && o->price_per_hour_usd < 1e6))
        return cr__fail(err, CR_ERR_INVALID,
                        "price_per_hour_usd (--price) must be > 0 and < 1000000");
    if (!(o->until_s >= 0 && o->until_s <= 1e9))
        return cr__fail(err, CR_ERR_INVALID, "until_s (--until) must be 0..1000000000");
    s->interval_us = (int64_t)o->interval_ms * 1000;
    s->stop_delay_us = o->stop_delay_ms * 1000;
    s->vis_us = (int64_t)o->visibility_s * 1000000;
    return CR_OK;
}

/* Parses the arrival sources and sets the end of the run. */
static cr_status resolve_sources(struct sim *s, struct cr_error *err)
{
    if (!s->o.arrivals || !s->o.arrivals[0])
        return cr__fail(err, CR_ERR_INVALID,
                        "arrivals (--arrivals): at least one source is required");
    double last_s = 0;
    for (; s->o.arrivals[s->n_src]; s->n_src++) {
        if (s->n_src == SIM_MAX_SOURCES)
            return cr__fail(err, CR_ERR_INVALID, "arrivals (--arrivals): at most %d sources",
                            SIM_MAX_SOURCES);
        cr_status st = cr__sim_source_parse(s->o.arrivals[s->n_src], &s->src[s->n_src], err);
        if (st != CR_OK)
            return st;
        double end = cr__sim_source_end_s(&s->src[s->n_src]);
        last_s = end > last_s ? end : last_s;
    }
    double until = s->o.until_s > 0 ? s->o.until_s : last_s + SIM_DRAIN_LIMIT_S;
    s->until_us = (int64_t)llround(until * 1e6);
    return CR_OK;
}

/* Seeds the streams, parses everything and schedules the first events. */
static cr_status sim_init(struct sim *s, const struct cr_sim_options *opts, struct cr_error *err)
{
    s->o = *opts;
    cr_status st = resolve_numbers(s, err);
    if (st == CR_OK)
        st = cr__sim_dist_parse(opts->service ? opts->service : SIM_DEFAULT_SERVICE, "--service",
                                &s->service, err);
    if (st == CR_OK)
        st =
            cr__sim_dist_parse(opts->boot ? opts->boot : SIM_DEFAULT_BOOT, "--boot", &s->boot, err);
    if (st == CR_OK)
        st = resolve_sources(s, err);
    if (st != CR_OK)
        return st;
    cr__sim_rng_seed(&s->rng_arrival, opts->seed, 1);
    cr__sim_rng_seed(&s->rng_service, opts->seed, 2);
    cr__sim_rng_seed(&s->rng_boot, opts->seed, 3);
    cr__sim_rng_seed(&s->rng_death, opts->seed, 4);
    for (int i = 0; i < s->n_src && st == CR_OK; i++) {
        int64_t t = cr__sim_source_next(&s->src[i], &s->rng_arrival);
        if (t >= 0) {
            s->src_live++;
            st = push_event(s, EV_ARRIVAL, t, i, 0);
        }
    }
    if (st == CR_OK)
        st = push_event(s, EV_TICK, 0, 0, 0);
    if (st == CR_OK && s->o.keep_series && !(s->r->series = calloc(1, sizeof(*s->r->series))))
        st = CR_ERR_NOMEM;
    if (s->r->series)
        s->r->series->max_instances = s->o.policy.max_instances;
    return st == CR_ERR_NOMEM ? cr__fail(err, st, "simulate: out of memory") : st;
}

/* ---- the ideal fleet ---------------------------------------------------------- */

/* Adds the ideal fleet's instances since the last change to its area, then
 * applies a change of delta uploads in service. */
static void ideal_change(struct sim *s, int delta)
{
    int64_t c = s->o.concurrency;
    int64_t insts = (s->ideal_busy + c - 1) / c;
    s->ideal_area_us += insts * (s->now_us - s->ideal_last_us);
    s->ideal_last_us = s->now_us;
    s->ideal_busy += delta;
    insts = (s->ideal_busy + c - 1) / c;
    if (insts > s->ideal_peak)
        s->ideal_peak = (int)insts;
}

/* ---- the queue ------------------------------------------------------------------ */

/* A message slot for a new upload: a released one, else a new one. */
static cr_status msg_new(struct sim *s, int64_t *out)
{
    if (s->free_msgs.n) {
        *out = ring_pop(&s->free_msgs);
        return CR_OK;
    }
    struct msg *m = cr__array_grow(s->msgs, &s->cap_msgs, s->n_msgs, sizeof(*m), 1024);
    if (!m)
        return CR_ERR_NOMEM;
    s->msgs = m;
    *out = (int64_t)s->n_msgs++;
    return CR_OK;
}

/* Removes a message from the queue for good (deleted or dead-lettered). */
static cr_status msg_release(struct sim *s, int64_t id)
{
    s->msgs[id].state = M_FREE;
    return ring_push(&s->free_msgs, id);
}

/* With o.wake: a scaler whose fleet is below its cap waits on the queue, so
 * an arrival moves the next tick forward to now (at most every
 * SIM_WAKE_SPACING_US after the last tick); the tick it replaces is stale. */
static cr_status wake(struct sim *s)
{
    if (!s->o.wake || s->pending + s->running >= s->o.policy.max_instances)
        return CR_OK;
    int64_t t = s->last_tick_us + SIM_WAKE_SPACING_US;
    t = t > s->now_us ? t : s->now_us;
    if (t >= s->next_tick_us)
        return CR_OK; /* the regular tick comes first anyway */
    s->next_tick_us = t;
    return push_event(s, EV_TICK, t, ++s->tick_gen, 0);
}

/* One upload arrives from source i; the source's next one is scheduled. */
static cr_status on_arrival(struct sim *s, int i)
{
    int64_t id;
    cr_status st = msg_new(s, &id);
    if (st != CR_OK)
        return st;
    double service_s = cr__sim_dist_draw(&s->service, &s->rng_service);
    s->msgs[id] = (struct msg){.arrived_us = s->now_us,
                               .service_us = (int64_t)llround(service_s * 1e6),
                               .state = M_VISIBLE};
    s->r->requests++;
    s->row.arrivals++;
    ideal_change(s, +1);
    st = vec_push(&s->ideal_lat_us, &s->n_ideal, &s->cap_ideal, s->msgs[id].service_us);
    if (st == CR_OK)
        st = push_event(s, EV_IDEAL_END, s->now_us + s->msgs[id].service_us, 0, 0);
    if (st == CR_OK)
        st = ring_push(&s->visible, id);
    int64_t next = cr__sim_source_next(&s->src[i], &s->rng_arrival);
    if (st == CR_OK && next >= 0)
        st = push_event(s, EV_ARRIVAL, next < s->now_us ? s->now_us : next, i, 0);
    else if (next < 0)
        s->src_live--;
    if (st == CR_OK)
        st = wake(s);
    return st;
}

/* A received message's visibility ran out before it was deleted. */
static cr_status on_visible(struct sim *s, int64_t id, int64_t receipt)
{
    struct msg *m = &s->msgs[id];
    if (m->state != M_FLIGHT || m->receipt != receipt)
        return CR_OK;
    m->state = M_VISIBLE;
    s->flight--;
    return ring_push(&s->visible, id);
}

/* ---- the fleet ------------------------------------------------------------------ */

/* Slot k of an instance; valid until the next launch grows the arrays. */
static struct slot *slot_of(struct sim *s, int64_t inst, int64_t k)
{
    return &s->slots[inst * s->o.concurrency + k];
}

/* Puts a free slot of a running instance at the back of the free FIFO. */
static cr_status slot_offer(struct sim *s, int64_t inst, int64_t k)
{
    struct slot *sl = slot_of(s, inst, k);
    if (sl->queued || sl->busy || s->inst[inst].state != I_RUNNING)
        return CR_OK;
    sl->queued = 1;
    return ring_push(&s->free_slots, inst * s->o.concurrency + k);
}

/* Bills an instance from launch to now and forgets it. */
static void inst_gone(struct sim *s, int64_t i)
{
    struct inst *in = &s->inst[i];
    int64_t life = s->now_us - in->launched_us;
    s->inst_us += life;
    s->cost += cr__sim_bill_usd(life, s->o.min_billed_s, s->o.price_per_hour_usd);
    if (in->state == I_PENDING)
        s->pending--;
    else if (in->state == I_RUNNING)
        s->running--;
    else if (in->state == I_STOPPING)
        s->stopping--;
    in->state = I_GONE;
    for (size_t j = 0; j < s->live.n; j++) {
        if (ring_at(&s->live, j) == i) {
            ring_swap_remove(&s->live, j);
            break;
        }
    }
}

/* Room for one more instance and its slots. */
static cr_status inst_grow(struct sim *s)
{
    if (s->n_inst < s->cap_inst)
        return CR_OK;
    size_t cap = s->cap_inst ? s->cap_inst * 2 : 64;
    struct inst *in = realloc(s->inst, cap * sizeof(*in));
    if (!in)
        return CR_ERR_NOMEM;
    s->inst = in;
    struct slot *sl = realloc(s->slots, cap * (size_t)s->o.concurrency * sizeof(*sl));
    if (!sl)
        return CR_ERR_NOMEM;
    s->slots = sl;
    s->cap_inst = cap;
    return CR_OK;
}

/* Launches one instance: pending until it boots; it may die at any time. */
static cr_status launch_one(struct sim *s)
{
    cr_status st = inst_grow(s);
    if (st != CR_OK)
        return st;
    int64_t i = (int64_t)s->n_inst++;
    s->inst[i] = (struct inst){.state = I_PENDING, .launched_us = s->now_us};
    memset(slot_of(s, i, 0), 0, (size_t)s->o.concurrency * sizeof(struct slot));
    s->pending++;
    s->r->launched++;
    double boot_s = cr__sim_dist_draw(&s->boot, &s->rng_boot);
    st = push_event(s, EV_BOOTED, s->now_us + (int64_t)llround(boot_s * 1e6), i, 0);
    if (st == CR_OK && s->o.deaths_per_hour > 0) {
        double life_s = cr__sim_rng_exp(&s->rng_death, 3600.0 / s->o.deaths_per_hour);
        if (life_s * 1e6 < (double)(s->until_us - s->now_us))
            st = push_event(s, EV_DEATH, s->now_us + (int64_t)llround(life_s * 1e6), i, 0);
    }
    return st == CR_OK ? ring_push(&s->live, i) : st;
}

/* The instance finished booting: its worker starts polling. */
static cr_status on_booted(struct sim *s, int64_t i)
{
    if (s->inst[i].state != I_PENDING)
        return CR_OK;
    s->inst[i].state = I_RUNNING;
    s->inst[i].idle_since_us = s->now_us;
    s->pending--;
    s->running++;
    cr_status st = CR_OK;
    for (int k = 0; k < s->o.concurrency && st == CR_OK; k++)
        st = slot_offer(s, i, k);
    return st;
}

/* The instance dies: what it held comes back after the visibility timeout. */
static cr_status on_death(struct sim *s, int64_t i)
{
    if (s->inst[i].state == I_GONE)
        return CR_OK;
    cr_status st = CR_OK;
    for (int k = 0; k < s->o.concurrency && st == CR_OK; k++) {
        struct slot *sl = slot_of(s, i, k);
        if (!sl->busy)
            continue;
        struct msg *m = &s->msgs[sl->msg];
        int64_t back = sl->received_us + s->vis_us;
        /* A slow image already has its reappearance scheduled. */
        if (m->state == M_FLIGHT && m->receipt == sl->receipt && back > s->now_us &&
            m->service_us <= s->vis_us)
            st = push_event(s, EV_VISIBLE, back, sl->msg, sl->receipt);
        sl->busy = 0;
    }
    s->inst[i].busy = 0;
    s->r->deaths++;
    inst_gone(s, i);
    return st;
}

/* One slot finished its image: the first answer counts, the delete only
 * works with the latest receipt (an older one is stale, as in SQS). */
static cr_status on_done(struct sim *s, int64_t i, int64_t k)
{
    if (s->inst[i].state == I_GONE)
        return CR_OK;
    struct slot *sl = slot_of(s, i, k);
    struct msg *m = &s->msgs[sl->msg];
    cr_status st = CR_OK;
    if (!m->answered) {
        m->answered = 1;
        s->row.completed++;
        st = vec_push(&s->lat_us, &s->n_lat, &s->cap_lat, s->now_us - m->arrived_us);
    }
    if (st == CR_OK && m->state == M_FLIGHT && m->receipt == sl->receipt) {
        s->flight--;
        st = msg_release(s, sl->msg);
    }
    sl->busy = 0;
    if (--s->inst[i].busy == 0)
        s->inst[i].idle_since_us = s->now_us;
    return st == CR_OK ? slot_offer(s, i, k) : st;
}

/* Takes the next visible message that is not a dead letter; -1 if none. */
static cr_status next_message(struct sim *s, int64_t *out)
{
    *out = -1;
    while (s->visible.n) {
        int64_t id = ring_pop(&s->visible);
        struct msg *m = &s->msgs[id];
        if (s->o.max_receives < 0 || m->receives < s->o.max_receives) {
            *out = id;
            return CR_OK;
        }
        if (!m->answered)
            s->r->dead_letters++;
        cr_status st = msg_release(s, id);
        if (st != CR_OK)
            return st;
    }
    return CR_OK;
}

/* Drops free-slot entries that no longer stand for a free slot of a running
 * instance; returns 1 when a usable one is at the head. */
static int free_slot_ready(struct sim *s)
{
    while (s->free_slots.n) {
        int64_t g = s->free_slots.v[s->free_slots.head];
        int64_t i = g / s->o.concurrency;
        if (s->inst[i].state == I_RUNNING && !s->slots[g].busy)
            return 1;
        s->slots[g].queued = 0;
        ring_pop(&s->free_slots);
    }
    return 0;
}

/* Hands visible messages to free slots until one of them runs out. */
static cr_status dispatch(struct sim *s)
{
    while (s->visible.n && free_slot_ready(s)) {
        int64_t id;
        cr_status st = next_message(s, &id);
        if (st != CR_OK || id < 0)
            return st;
        int64_t g = ring_pop(&s->free_slots), i = g / s->o.concurrency;
        struct slot *sl = &s->slots[g];
        struct msg *m = &s->msgs[id];
        if (m->receives++ > 0)
            s->r->redeliveries++;
        m->receipt = ++s->next_receipt;
        m->state = M_FLIGHT;
        s->flight++;
        *sl = (struct slot){.msg = id, .receipt = m->receipt, .received_us = s->now_us, .busy = 1};
        s->inst[i].busy++;
        st = push_event(s, EV_DONE, s->now_us + m->service_us, i, g % s->o.concurrency);
        if (st == CR_OK && m->service_us > s->vis_us)
            st = push_event(s, EV_VISIBLE, s->now_us + s->vis_us, id, m->receipt);
        if (st != CR_OK)
            return st;
    }
    return CR_OK;
}

/* ---- the scaler tick --------------------------------------------------------------- */

/* What cloudrec-scaler would observe now. */
static void observe(struct sim *s, struct cr_scale_input *in)
{
    memset(in, 0, sizeof(*in));
    in->visible = (long)s->visible.n;
    in->in_flight = s->flight;
    in->pending = s->pending;
    in->running = s->running;
    in->stopping = s->stopping;
    in->now_ms = s->now_us / 1000;
    for (size_t j = 0; j < s->live.n; j++) {
        const struct inst *it = &s->inst[ring_at(&s->live, j)];
        if (it->state == I_RUNNING && it->busy == 0)
            in->idle++;
    }
}

/* Stops count idle workers, the longest idle first, as the scaler does. */
static cr_status stop_idle(struct sim *s, int count)
{
    for (int done = 0; done < count; done++) {
        int64_t best = -1;
        for (size_t j = 0; j < s->live.n; j++) {
            int64_t i = ring_at(&s->live, j);
            const struct inst *it = &s->inst[i];
            if (it->state == I_RUNNING && it->busy == 0 &&
                (best < 0 || it->idle_since_us < s->inst[best].idle_since_us))
                best = i;
        }
        if (best < 0)
            return CR_OK;
        s->inst[best].state = I_STOPPING;
        s->running--;
        s->stopping++;
        cr_status st = push_event(s, EV_GONE, s->now_us + s->stop_delay_us, best, 0);
        if (st != CR_OK)
            return st;
    }
    return CR_OK;
}

/* Records the tick's row of the series. */
static cr_status add_row(struct sim *s, const struct cr_scale_input *in, int desired)
{
    if (!s->r->series)
        return CR_OK;
    s->row.t_ms = in->now_ms;
    s->row.visible = (int)in->visible;
    s->row.in_flight = (int)in->in_flight;
    s->row.pending = s->pending;
    s->row.busy = s->running - in->idle;
    s->row.idle = in->idle;
    s->row.stopping = s->stopping;
    s->row.desired = desired;
    cr_status st = cr__sim_series_add(s->r->series, &s->row);
    memset(&s->row, 0, sizeof(s->row));
    return st;
}

/* True once every upload is answered or dead and the fleet is back to its
 * minimum with nothing booting or stopping. */
static int drained(const struct sim *s)
{
    return s->src_live == 0 && s->visible.n == 0 && s->flight == 0 && s->pending == 0 &&
           s->stopping == 0 && s->running <= s->o.policy.min_instances;
}

/* With a debug log handler installed, logs a decision in cloudrec-scaler's
 * format, the simulated time after it: when it acts, or when anything
 * but its reason changed since the last line (the real scaler's rule,
 * without its periodic repeat). */
static void log_decision(struct sim *s, const struct cr_scale_input *in,
                         const struct cr_scale_decision *d)
{
    if (!cr__log_enabled(CR_LOG_DEBUG))
        return;
    long key[9] = {in->visible,  in->in_flight, in->pending, in->running, in->idle,
                   in->stopping, d->desired,    d->launch,   d->stop};
    if (d->launch == 0 && d->stop == 0 && s->logged && memcmp(key, s->logged_key, sizeof(key)) == 0)
        return;
    memcpy(s->logged_key, key, sizeof(key));
    s->logged = 1;
    struct cr_buf line;
    cr_buf_init(&line, 0);
    if (cr__scale_format(in, d, &line) == CR_OK)
        cr__log(CR_LOG_DEBUG, "msg=scale %s sim_s=%.3f", (const char *)line.data,
               (double)in->now_ms / 1e3);
    cr_buf_clear(&line);
}

/* One decision of the real policy, applied to the simulated fleet; a tick
 * of an older generation (replaced by a woken one) does nothing. */
static cr_status on_tick(struct sim *s, int64_t gen)
{
    if (gen != s->tick_gen)
        return CR_OK;
    s->last_tick_us = s->now_us;
    struct cr_scale_input in;
    struct cr_scale_decision d;
    observe(s, &in);
    if (cr__scale_decide(&s->o.policy, &in, &s->policy_state, &d) != CR_OK)
        return CR_ERR_INTERNAL;
    s->r->ticks++;
    log_decision(s, &in, &d);
    cr_status st = CR_OK;
    for (int n = 0; n < d.launch && st == CR_OK; n++)
        st = launch_one(s);
    if (st == CR_OK)
        st = stop_idle(s, d.stop);
    if (s->pending + s->running > s->r->fleet.peak_instances)
        s->r->fleet.peak_instances = s->pending + s->running;
    if (st == CR_OK)
        st = add_row(s, &in, d.desired);
    if (st == CR_OK && drained(s))
        s->done = 1;
    else if (st == CR_OK) {
        s->next_tick_us = s->now_us + s->interval_us;
        st = push_event(s, EV_TICK, s->next_tick_us, ++s->tick_gen, 0);
    }
    return st;
}

/* ---- the loop --------------------------------------------------------------------- */

/* Applies one event at s->now_us. */
static cr_status handle(struct sim *s, const struct cr__sim_event *e)
{
    switch (e->type) {
    case EV_ARRIVAL:
        return on_arrival(s, (int)e->a);
    case EV_IDEAL_END:
        ideal_change(s, -1);
        return CR_OK;
    case EV_VISIBLE:
        return on_visible(s, e->a, e->b);
    case EV_BOOTED:
        return on_booted(s, e->a);
    case EV_DONE:
        return on_done(s, e->a, e->b);
    case EV_DEATH:
        return on_death(s, e->a);
    case EV_GONE:
        if (s->inst[e->a].state == I_STOPPING)
            inst_gone(s, e->a);
        return CR_OK;
    case EV_TICK:
        return on_tick(s, e->a);
    }
    return CR_ERR_INTERNAL;
}

/* Runs events until the system has drained or the time limit is reached. */
static cr_status sim_loop(struct sim *s)
{
    struct cr__sim_event e;
    while (!s->done && cr__sim_heap_pop(&s->heap, &e)) {
        if (e.t_us > s->until_us) {
            s->now_us = s->until_us;
            return CR_OK;
        }
        s->now_us = e.t_us;
        cr_status st = handle(s, &e);
        if (st == CR_OK && e.type != EV_TICK && e.type != EV_IDEAL_END)
            st = dispatch(s);
        if (st != CR_OK)
            return st;
    }
    return CR_OK;
}

/* ---- results ---------------------------------------------------------------------- */

/* qsort order of int64_t values. */
static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Latency figures of n latencies (sorted here). */
static void latency_figures(int64_t *v, size_t n, struct cr_sim_figures *f)
{
    f->completed = (long)n;
    if (n == 0)
        return;
    qsort(v, n, sizeof(*v), cmp_i64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)v[i];
    f->latency_avg_s = sum / (double)n / 1e6;
    f->latency_p50_s = (double)cr__load_percentile(v, n, 50) / 1e6;
    f->latency_p95_s = (double)cr__load_percentile(v, n, 95) / 1e6;
    f->latency_p99_s = (double)cr__load_percentile(v, n, 99) / 1e6;
    f->latency_max_s = (double)cr__load_percentile(v, n, 100) / 1e6;
}

/* Bills what still runs at the end and fills the figures. */
static void finish(struct sim *s)
{
    struct cr_sim_result *r = s->r;
    while (s->live.n)
        inst_gone(s, ring_at(&s->live, 0));
    ideal_change(s, 0);
    r->duration_s = (double)s->now_us / 1e6;
    latency_figures(s->lat_us, s->n_lat, &r->fleet);
    latency_figures(s->ideal_lat_us, s->n_ideal, &r->ideal);
    r->ideal.completed = (long)s->n_ideal; /* the ideal fleet answers all that arrived */
    r->fleet.instance_seconds = (double)s->inst_us / 1e6;
    r->fleet.cost_usd = s->cost;
    r->ideal.peak_instances = s->ideal_peak;
    r->ideal.instance_seconds = (double)s->ideal_area_us / 1e6;
    r->ideal.cost_usd = r->ideal.instance_seconds * s->o.price_per_hour_usd / 3600.0;
    if (r->duration_s > 0) {
        r->fleet.mean_instances = r->fleet.instance_seconds / r->duration_s;
        r->ideal.mean_instances = r->ideal.instance_seconds / r->duration_s;
    }
    r->unfinished = r->requests - r->fleet.completed - r->dead_letters;
}

/* Releases what a run owns (not the result). */
static void sim_clear(struct sim *s)
{
    for (int i = 0; i < s->n_src; i++)
        cr__sim_source_clear(&s->src[i]);
    cr__sim_heap_clear(&s->heap);
    free(s->msgs);
    ring_clear(&s->free_msgs);
    ring_clear(&s->visible);
    ring_clear(&s->free_slots);
    ring_clear(&s->live);
    free(s->inst);
    free(s->slots);
    free(s->lat_us);
    free(s->ideal_lat_us);
}

cr_status cr__sim_run(const struct cr_sim_options *opts, struct cr_sim_result *out,
                     struct cr_error *err)
{
    if (!out)
        return cr__fail(err, CR_ERR_INVALID, "simulate: out is required");
    memset(out, 0, sizeof(*out));
    if (!opts)
        return cr__fail(err, CR_ERR_INVALID, "simulate: options are required");
    struct sim *s = calloc(1, sizeof(*s));
    if (!s)
        return cr__fail(err, CR_ERR_NOMEM, "simulate: out of memory");
    s->r = out;
    cr_status st = sim_init(s, opts, err);
    if (st == CR_OK && (st = sim_loop(s)) != CR_OK)
        st = st == CR_ERR_NOMEM ? cr__fail(err, st, "simulate: out of memory")
                                : cr__fail(err, st, "simulate: the policy refused an input");
    if (st == CR_OK)
        finish(s);
    else
        cr__sim_result_clear(out);
    sim_clear(s);
    free(s);
    return st;
}

void cr__sim_result_clear(struct cr_sim_result *r)
{
    if (!r)
        return;
    if (r->series)
        free(r->series->rows);
    free(r->series);
    memset(r, 0, sizeof(*r));
}
