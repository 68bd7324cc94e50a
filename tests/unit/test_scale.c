/* test_scale.c - the scaling policy, tick by tick on a replayed clock, plus a
 * small fleet simulator for bursts and steady load. */
#include "cloudrec.h"
#include "tap.h"
#include "internal.h"
#include "pipeline/pipeline.h"

#include <string.h>

#define SECOND 1000

/* One call with a fresh decision; fails the test run on a bad status. */
static struct cr_scale_decision decide(const struct cr_scale_config *cfg, struct cr_scale_input in,
                                       struct cr_scale_state *st)
{
    struct cr_scale_decision d;
    cr_status s = cr_scale_decide(cfg, &in, st, &d);
    if (s != CR_OK)
        DIAG("cr_scale_decide: %s", cr_status_name(s));
    return d;
}

static void test_defaults(void)
{
    struct cr_scale_config c;
    CHECK_EQ_INT(cr_scale_config_resolve(NULL, &c), CR_OK);
    CHECK_EQ_INT(c.min_instances, 0);
    CHECK_EQ_INT(c.max_instances, 20);
    CHECK_EQ_INT(c.per_instance_target, 1);
    CHECK_EQ_INT(c.scale_in_window_ms, 30000);
    struct cr_scale_config bad[] = {
        {.min_instances = -1},      {.max_instances = -1}, {.per_instance_target = -2},
        {.scale_in_window_ms = -1}, {.min_instances = 21}, {.min_instances = 5, .max_instances = 4},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_EQ_INT(cr_scale_config_resolve(&bad[i], &c), CR_ERR_INVALID);
    struct cr_scale_config pinned = {.min_instances = 3, .max_instances = 3};
    CHECK_EQ_INT(cr_scale_config_resolve(&pinned, &c), CR_OK);
    CHECK_EQ_INT(c.min_instances, 3);
}

static void test_invalid_input(void)
{
    struct cr_scale_state st = {0};
    struct cr_scale_decision d;
    struct cr_scale_input bad[] = {
        {.visible = -1}, {.in_flight = -1}, {.pending = -1},           {.running = -1},
        {.idle = -1},    {.stopping = -1},  {.running = 1, .idle = 2},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_EQ_INT(cr_scale_decide(NULL, &bad[i], &st, &d), CR_ERR_INVALID);
    struct cr_scale_input ok = {0};
    struct cr_scale_config bad_cfg = {.min_instances = 30};
    CHECK_EQ_INT(cr_scale_decide(&bad_cfg, &ok, &st, &d), CR_ERR_INVALID);
    CHECK_EQ_INT(cr_scale_decide(NULL, NULL, &st, &d), CR_ERR_INVALID);
    CHECK_EQ_INT(cr_scale_decide(NULL, &ok, NULL, &d), CR_ERR_INVALID);
    CHECK_EQ_INT(cr_scale_decide(NULL, &ok, &st, NULL), CR_ERR_INVALID);
    CHECK_MSG(st.low == 0 && st.low_since_ms == 0, "refused calls leave the state alone");
}

static void test_first_message(void)
{
    struct cr_scale_state st = {0};
    struct cr_scale_decision d = decide(NULL, (struct cr_scale_input){0}, &st);
    CHECK_MSG(d.desired == 0 && d.launch == 0 && d.stop == 0, "empty queue, no fleet: nothing");
    d = decide(NULL, (struct cr_scale_input){.visible = 1, .now_ms = 5}, &st);
    CHECK_EQ_INT(d.desired, 1);
    CHECK_EQ_INT(d.launch, 1);
    CHECK_MSG(strstr(d.reason, "first") != NULL, "the 0 -> 1 launch says so");
    /* A message already received by a worker that then vanished counts too. */
    d = decide(NULL, (struct cr_scale_input){.in_flight = 1}, &st);
    CHECK_EQ_INT(d.launch, 1);
    /* With a large target the first message still gets a worker at once. */
    struct cr_scale_config big = {.per_instance_target = 50};
    d = decide(&big, (struct cr_scale_input){.visible = 1}, &st);
    CHECK_EQ_INT(d.launch, 1);
    /* Once it is pending, it is not launched again. */
    d = decide(NULL, (struct cr_scale_input){.visible = 1, .pending = 1}, &st);
    CHECK_EQ_INT(d.launch, 0);
}

static void test_cap(void)
{
    struct cr_scale_state st = {0};
    struct cr_scale_decision d = decide(NULL, (struct cr_scale_input){.visible = 1000}, &st);
    CHECK_EQ_INT(d.desired, 20);
    CHECK_EQ_INT(d.launch, 20);
    CHECK_MSG(strstr(d.reason, "capped at max") != NULL, "the cap is named");
    d = decide(NULL, (struct cr_scale_input){.visible = 980, .in_flight = 20, .running = 20}, &st);
    CHECK_MSG(d.desired == 20 && d.launch == 0 && d.stop == 0, "a full queue waits at the cap");
    CHECK_MSG(strstr(d.reason, "at max 20") != NULL, "the wait at the cap is named");
    d = decide(NULL, (struct cr_scale_input){.visible = 1000, .pending = 12, .running = 5}, &st);
    CHECK_EQ_INT(d.launch, 3);
    struct cr_scale_config five = {.max_instances = 5};
    d = decide(&five, (struct cr_scale_input){.visible = 1L << 40, .in_flight = 1L << 40}, &st);
    CHECK_EQ_INT(d.launch, 5);
    /* Saturating, not overflowing, on absurd counts. */
    long huge = (long)(~0UL >> 1);
    d = decide(NULL, (struct cr_scale_input){.visible = huge, .in_flight = huge}, &st);
    CHECK_EQ_INT(d.desired, 20);
    /* Per-instance target: ceil(backlog / target). */
    struct cr_scale_config t4 = {.per_instance_target = 4};
    d = decide(&t4, (struct cr_scale_input){.visible = 9}, &st);
    CHECK_EQ_INT(d.desired, 3);
}

static void test_stopping_counts_as_gone(void)
{
    struct cr_scale_state st = {0};
    struct cr_scale_decision d = decide(
        NULL, (struct cr_scale_input){.visible = 3, .in_flight = 2, .running = 2, .stopping = 3},
        &st);
    CHECK_EQ_INT(d.desired, 5);
    CHECK_EQ_INT(d.launch, 3);
}

/* Replays ticks of `step_ms` with the same observation from t0 and returns
 * the first tick's time at which something was stopped, or -1. */
static int64_t first_stop(const struct cr_scale_config *cfg, struct cr_scale_input in,
                          struct cr_scale_state *st, int64_t t0, int64_t until, int64_t step_ms,
                          int *stopped)
{
    for (int64_t t = t0; t <= until; t += step_ms) {
        in.now_ms = t;
        struct cr_scale_decision d = decide(cfg, in, st);
        if (d.launch)
            return -2;
        if (d.stop) {
            *stopped = d.stop;
            return t;
        }
    }
    return -1;
}

static void test_scale_in_window(void)
{
    struct cr_scale_state st = {0};
    struct cr_scale_input idle5 = {.running = 5, .idle = 5};
    int stopped = 0;
    int64_t at = first_stop(NULL, idle5, &st, 100000, 200000, SECOND, &stopped);
    CHECK_EQ_INT(at, 130000);
    CHECK_EQ_INT(stopped, 5);

    /* 29.999 s low is not enough. */
    st = (struct cr_scale_state){0};
    at = first_stop(NULL, idle5, &st, 0, 29999, 1, &stopped);
    CHECK_EQ_INT(at, -1);

    /* The window restarts whenever the backlog fills the fleet again. */
    st = (struct cr_scale_state){0};
    at = first_stop(NULL, idle5, &st, 0, 20000, SECOND, &stopped);
    CHECK_EQ_INT(at, -1);
    struct cr_scale_decision d =
        decide(NULL, (struct cr_scale_input){.visible = 5, .running = 5, .now_ms = 21000}, &st);
    CHECK_MSG(d.launch == 0 && d.stop == 0 && st.low == 0, "a full fleet ends the low period");
    at = first_stop(NULL, idle5, &st, 22000, 100000, SECOND, &stopped);
    CHECK_EQ_INT(at, 52000);

    /* A custom window, and the reason while waiting. */
    struct cr_scale_config w = {.scale_in_window_ms = 5000};
    st = (struct cr_scale_state){0};
    idle5.now_ms = 1000;
    d = decide(&w, idle5, &st);
    idle5.now_ms = 3000;
    d = decide(&w, idle5, &st);
    CHECK_EQ_STR(d.reason, "low for 2000 of 5000 ms");
    at = first_stop(&w, idle5, &st, 3000, 10000, 500, &stopped);
    CHECK_EQ_INT(at, 6000);

    /* A clock that goes backwards restarts the window instead of firing. */
    st = (struct cr_scale_state){0};
    idle5.now_ms = 50000;
    decide(NULL, idle5, &st);
    at = first_stop(NULL, idle5, &st, 10000, 39999, SECOND, &stopped);
    CHECK_EQ_INT(at, -1);
}

static void test_in_flight_protected(void)
{
    struct cr_scale_state st = {0};
    int stopped = 0;
    /* Two images being worked on by the only two workers: never stopped,
     * however long it takes. */
    struct cr_scale_input busy = {.in_flight = 2, .running = 2};
    CHECK_EQ_INT(first_stop(NULL, busy, &st, 0, 3600 * SECOND, SECOND, &stopped), -1);
    /* Even when the idle count is stale and claims they are idle. */
    struct cr_scale_input stale = {.in_flight = 2, .running = 2, .idle = 2};
    CHECK_EQ_INT(first_stop(NULL, stale, &st, 0, 3600 * SECOND, SECOND, &stopped), -1);
    /* With a per-instance target above 1, desired falls below the busy
     * workers, but busy workers are still not stopped. */
    struct cr_scale_config t5 = {.per_instance_target = 5};
    st = (struct cr_scale_state){0};
    struct cr_scale_input three = {.in_flight = 3, .running = 3};
    CHECK_EQ_INT(first_stop(&t5, three, &st, 0, 3600 * SECOND, SECOND, &stopped), -1);
    three.now_ms = 3601 * SECOND;
    struct cr_scale_decision d = decide(&t5, three, &st);
    CHECK_MSG(strstr(d.reason, "busy or pending") != NULL, "a blocked scale-in says why");
    /* Spare idle workers beside the busy ones do go, down to desired. */
    st = (struct cr_scale_state){0};
    struct cr_scale_input mixed = {.in_flight = 3, .running = 8, .idle = 5};
    CHECK_EQ_INT(first_stop(NULL, mixed, &st, 0, 100 * SECOND, SECOND, &stopped), 30 * SECOND);
    CHECK_EQ_INT(stopped, 5);
    /* Idle count stale in the other direction: in-flight 3 on 8 workers of
     * which only 2 say idle; stop only those 2 now. */
    st = (struct cr_scale_state){0};
    struct cr_scale_input few_idle = {.in_flight = 3, .running = 8, .idle = 2};
    first_stop(NULL, few_idle, &st, 0, 100 * SECOND, SECOND, &stopped);
    CHECK_EQ_INT(stopped, 2);
    /* Pending instances are never stopped by the policy. */
    st = (struct cr_scale_state){0};
    CHECK_EQ_INT(first_stop(NULL, (struct cr_scale_input){.pending = 4}, &st, 0, 100 * SECOND,
                            SECOND, &stopped),
                 -1);
}

/* Each guard of the scale-in path, reached with desired below capacity so
 * that only the guard stands between the fleet and a stop. */
static void test_scale_in_guards(void)
{
    struct cr_scale_config t5 = {.per_instance_target = 5};
    struct cr_scale_state st = {0};
    int stopped = 0;
    /* Stale idle count below capacity: 3 messages in flight on 3 workers
     * that all report idle. desired = 1 < 3, so the window elapses and the
     * policy wants 2 gone; the in-flight work must keep all three. */
    struct cr_scale_input stale = {.in_flight = 3, .running = 3, .idle = 3};
    CHECK_EQ_INT(first_stop(&t5, stale, &st, 0, 3600 * SECOND, SECOND, &stopped), -1);
    stale.now_ms = 3601 * SECOND;
    struct cr_scale_decision d = decide(&t5, stale, &st);
    CHECK_MSG(d.desired == 1 && d.stop == 0, "busy workers that look idle are kept");
    CHECK_EQ_STR(d.reason, "scale in 0 of 2: the others are busy or pending");
    /* In-flight work on idle-looking workers, one truly spare: exactly one
     * goes, although four say idle and three are excess. */
    st = (struct cr_scale_state){0};
    struct cr_scale_input one_spare = {.in_flight = 3, .running = 4, .idle = 4};
    CHECK_EQ_INT(first_stop(&t5, one_spare, &st, 0, 100 * SECOND, SECOND, &stopped),
                 30 * SECOND);
    CHECK_EQ_INT(stopped, 1);
    /* More in flight than running (messages of a dead worker): nothing is
     * stopped, and the count is never negative. */
    struct cr_scale_config t10 = {.per_instance_target = 10};
    st = (struct cr_scale_state){0};
    struct cr_scale_input orphans = {.in_flight = 5, .running = 3, .idle = 3};
    for (int64_t t = 0; t <= 100 * SECOND; t += SECOND) {
        orphans.now_ms = t;
        d = decide(&t10, orphans, &st);
        if (d.stop != 0 || d.launch != 0)
            break;
    }
    CHECK_MSG(d.stop == 0 && d.launch == 0, "in flight > running: no stop, no launch");
    /* A window not yet elapsed: low since t=0, one millisecond short. */
    st = (struct cr_scale_state){0};
    struct cr_scale_input idle3 = {.running = 3, .idle = 3};
    d = decide(NULL, idle3, &st);
    CHECK_EQ_INT(d.stop, 0);
    idle3.now_ms = 30 * SECOND - 1;
    d = decide(NULL, idle3, &st);
    CHECK_EQ_INT(d.stop, 0);
    CHECK_EQ_STR(d.reason, "low for 29999 of 30000 ms");
    idle3.now_ms = 30 * SECOND;
    d = decide(NULL, idle3, &st);
    CHECK_EQ_INT(d.stop, 3);
    /* A peak above the fleet inside the window (a launch that never came
     * up): the window has elapsed but its peak still needs every worker. */
    st = (struct cr_scale_state){0};
    d = decide(NULL, (struct cr_scale_input){.visible = 8, .running = 5}, &st);
    CHECK_EQ_INT(d.launch, 3);
    struct cr_scale_input after = {.running = 5, .idle = 5, .now_ms = 1};
    d = decide(NULL, after, &st);
    after.now_ms = 30 * SECOND + 1;
    d = decide(NULL, after, &st);
    CHECK_MSG(d.stop == 0 && d.launch == 0, "the window's peak keeps the fleet");
    CHECK_EQ_STR(d.reason, "recent peak 8 still needs the fleet");
    /* A peak below the fleet: shrink to it, not to this tick's value. */
    st = (struct cr_scale_state){0};
    struct cr_scale_input five = {.running = 5, .idle = 5};
    decide(NULL, five, &st);
    five.now_ms = 20 * SECOND;
    five.visible = 2;
    five.idle = 3;
    five.in_flight = 0;
    decide(NULL, five, &st);
    five = (struct cr_scale_input){.running = 5, .idle = 5, .now_ms = 30 * SECOND};
    d = decide(NULL, five, &st);
    CHECK_EQ_INT(d.desired, 0);
    CHECK_EQ_INT(d.stop, 3);
}

static void test_min(void)
{
    struct cr_scale_config m2 = {.min_instances = 2};
    struct cr_scale_state st = {0};
    struct cr_scale_decision d = decide(&m2, (struct cr_scale_input){0}, &st);
    CHECK_EQ_INT(d.launch, 2);
    CHECK_EQ_STR(d.reason, "below min 2");
    int stopped = 0;
    struct cr_scale_input idle6 = {.running = 6, .idle = 6};
    CHECK_EQ_INT(first_stop(&m2, idle6, &st, 0, 100 * SECOND, SECOND, &stopped), 30 * SECOND);
    CHECK_EQ_INT(stopped, 4);
    st = (struct cr_scale_state){0};
    struct cr_scale_input idle2 = {.running = 2, .idle = 2};
    CHECK_EQ_INT(first_stop(&m2, idle2, &st, 0, 600 * SECOND, SECOND, &stopped), -1);
}

/* ---- a small fleet simulator -----------------------------------------------
 * One tick per second. Launched instances boot for boot_ticks, then poll.
 * Each running worker takes one visible message per tick and finishes it by
 * the end of the tick. Stopped workers leave after one tick in "stopping".
 * The simulator does what the policy says, as a real scaler would. */
#define SIM_MAX_PENDING 4096

struct sim {
    struct cr_scale_config cfg;
    struct cr_scale_state st;
    long visible;
    int running, stopping;
    int boot[SIM_MAX_PENDING]; /* ticks left per pending instance */
    int pending;
    int boot_ticks;
    long processed;
    int launches, stops, reversals, last_dir, max_fleet;
    int64_t last_action_ms;
};

/* Moves booted instances to running and stopping ones out. */
static void sim_lifecycle(struct sim *s)
{
    s->stopping = 0;
    for (int i = 0; i < s->pending;) {
        if (--s->boot[i] <= 0) {
            s->boot[i] = s->boot[--s->pending];
            s->running++;
        } else {
            i++;
        }
    }
}

/* Applies a decision and keeps the statistics the tests look at. */
static void sim_apply(struct sim *s, const struct cr_scale_decision *d, int64_t now)
{
    for (int i = 0; i < d->launch && s->pending < SIM_MAX_PENDING; i++)
        s->boot[s->pending++] = s->boot_ticks;
    s->running -= d->stop;
    s->stopping += d->stop;
    int dir = d->launch ? 1 : d->stop ? -1 : 0;
    if (dir) {
        s->reversals += s->last_dir && dir != s->last_dir;
        s->last_dir = dir;
        s->launches += d->launch;
        s->stops += d->stop;
        s->last_action_ms = now;
    }
    if (s->pending + s->running > s->max_fleet)
        s->max_fleet = s->pending + s->running;
}

/* One tick: arrivals, lifecycle, workers pick up messages, observe, decide,
 * act, then the picked-up messages complete. */
static void sim_tick(struct sim *s, int64_t now, long arrivals)
{
    s->visible += arrivals;
    sim_lifecycle(s);
    long busy = s->visible < s->running ? s->visible : s->running;
    s->visible -= busy;
    struct cr_scale_input in = {.visible = s->visible,
                                .in_flight = busy,
                                .pending = s->pending,
                                .running = s->running,
                                .idle = s->running - (int)busy,
                                .stopping = s->stopping,
                                .now_ms = now};
    struct cr_scale_decision d = decide(&s->cfg, in, &s->st);
    sim_apply(s, &d, now);
    s->processed += busy;
}

static void test_burst_and_drain(int target, int expect_fleet)
{
    struct sim s = {.cfg = {.per_instance_target = target}, .boot_ticks = 3};
    int64_t now = 0, drained_at = -1;
    sim_tick(&s, now, 100);
    CHECK_EQ_INT(s.launches, expect_fleet);
    for (now = SECOND; now < 600 * SECOND; now += SECOND) {
        sim_tick(&s, now, 0);
        if (drained_at < 0 && s.processed == 100)
            drained_at = now;
    }
    CHECK_EQ_INT(s.processed, 100);
    CHECK_EQ_INT(s.max_fleet, expect_fleet);
    CHECK_MSG(s.running == 0 && s.pending == 0, "the fleet drains back to 0");
    CHECK_MSG(s.last_action_ms >= drained_at + 30 * SECOND,
              "the last instance went only after the window");
    CHECK_MSG(s.reversals == 1, "one way out, one way in");
    DIAG("target %d: fleet %d, drained at %llds, last stop at %llds", target, s.max_fleet,
         (long long)(drained_at / SECOND), (long long)(s.last_action_ms / SECOND));
}

/* A constant backlog observed for an hour: one launch, then silence. */
static void test_steady_replay(void)
{
    struct cr_scale_state st = {0};
    int launches = 0, actions = 0;
    struct cr_scale_input in = {.visible = 7, .in_flight = 5};
    for (int64_t t = 0; t < 3600 * SECOND; t += SECOND) {
        in.now_ms = t;
        struct cr_scale_decision d = decide(NULL, in, &st);
        launches += d.launch;
        actions += d.launch || d.stop;
        in.pending += d.launch; /* they boot and start working */
        if (t == 5 * SECOND) {
            in.running = in.pending;
            in.pending = 0;
        }
    }
    CHECK_EQ_INT(launches, 12);
    CHECK_EQ_INT(actions, 1);
}

/* Load that arrives at 8..12 messages a second for an hour: after the first
 * minutes the fleet settles and no launch/stop ping-pong follows. */
static void test_no_flapping(void)
{
    struct sim s = {.boot_ticks = 3};
    int actions_late = 0;
    for (int64_t t = 0; t < 3600; t++) {
        long arrivals = 10 + (t * 7) % 5 - 2;
        int before = s.launches + s.stops;
        sim_tick(&s, t * SECOND, arrivals);
        if (t >= 300 && s.launches + s.stops != before)
            actions_late++;
    }
    CHECK_EQ_INT(actions_late, 0);
    CHECK_MSG(s.reversals <= 1, "at most one change of direction (boot-time overshoot)");
    CHECK_MSG(s.running >= 12 && s.running <= 20, "the settled fleet covers the peaks");
    DIAG("settled at %d workers after %d launches, %d stops, %d reversals", s.running, s.launches,
         s.stops, s.reversals);
}

static void test_format(void)
{
    struct cr_scale_input in = {.visible = 10, .in_flight = 2, .pending = 1, .running = 3};
    struct cr_scale_decision d = {.desired = 12, .launch = 8};
    snprintf(d.reason, sizeof(d.reason), "scale out: backlog 12 needs 12");
    struct cr_buf b = {0};
    CHECK_EQ_INT(cr_scale_format(&in, &d, &b), CR_OK);
    CHECK_EQ_STR((char *)b.data, "backlog=12 visible=10 in_flight=2 pending=1 running=3 idle=0 "
                                 "stopping=0 desired=12 action=launch:8 "
                                 "reason=\"scale out: backlog 12 needs 12\"");
    cr_buf_reset(&b);
    d = (struct cr_scale_decision){.desired = 1, .stop = 2};
    struct cr_scale_input in2 = {.running = 3, .idle = 2};
    cr_scale_format(&in2, &d, &b);
    CHECK_MSG(strstr((char *)b.data, "action=stop:2 reason=\"\"") != NULL, "stop action");
    cr_buf_reset(&b);
    d = (struct cr_scale_decision){0};
    cr_scale_format(&in2, &d, &b);
    CHECK_MSG(strstr((char *)b.data, "action=none") != NULL, "no action");
    cr_buf_free(&b);

    /* Whatever the policy writes, the line stays one line. */
    struct cr_scale_state st = {0};
    struct cr_scale_input live = {.visible = 1000};
    cr_scale_decide(NULL, &live, &st, &d);
    cr_scale_format(&live, &d, &b);
    CHECK_MSG(strchr((char *)b.data, '\n') == NULL, "the log line has no newline");
    DIAG("%s", (char *)b.data);
    cr_buf_free(&b);

    struct cr_buf small;
    cr_buf_init(&small, 20);
    cr_buf_append_str(&small, "x");
    CHECK_EQ_INT(cr_scale_format(&in, &d, &small), CR_ERR_TOO_LARGE);
    CHECK_EQ_STR((char *)small.data, "x");
    cr_buf_free(&small);
}

int main(void)
{
    test_defaults();
    test_invalid_input();
    test_first_message();
    test_cap();
    test_stopping_counts_as_gone();
    test_scale_in_window();
    test_in_flight_protected();
    test_scale_in_guards();
    test_min();
    test_burst_and_drain(1, 20);
    test_burst_and_drain(10, 10);
    test_burst_and_drain(50, 2);
    test_steady_replay();
    test_no_flapping();
    test_format();
    return tap_done();
}
