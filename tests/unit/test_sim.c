/*
 * test_sim.c - the simulator (cloudrec/sim.h): its random numbers, event
 * heap, billing and specs, and whole runs whose figures can be worked out
 * by hand.
 */
#include "sim/sim_internal.h"
#include "tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int near(double a, double b, double tol)
{
    return fabs(a - b) <= tol;
}

/* xoshiro256** and splitmix64 give their published reference outputs. */
static void test_rng_reference(void)
{
    struct cr__sim_rng r = {.s = {1, 2, 3, 4}};
    CHECK(cr__sim_rng_next(&r) == 11520);
    CHECK(cr__sim_rng_next(&r) == 0);
    CHECK(cr__sim_rng_next(&r) == 1509978240);
    CHECK(cr__sim_rng_next(&r) == 1215971899390074240ULL);
    cr__sim_rng_seed(&r, 0, 0); /* seed 0 mixes to splitmix64's first output */
    CHECK(r.s[0] == 0xe220a8397b1dcdafULL);
}

/* Same seed and stream, same numbers; another seed or stream, others. */
static void test_rng_determinism(void)
{
    struct cr__sim_rng a, b, c, d;
    cr__sim_rng_seed(&a, 42, 1);
    cr__sim_rng_seed(&b, 42, 1);
    cr__sim_rng_seed(&c, 42, 2);
    cr__sim_rng_seed(&d, 43, 1);
    int same = 1, diff_stream = 0, diff_seed = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = cr__sim_rng_next(&a), y = cr__sim_rng_next(&b);
        same &= x == y;
        diff_stream += x != cr__sim_rng_next(&c);
        diff_seed += x != cr__sim_rng_next(&d);
    }
    CHECK(same);
    CHECK_EQ_INT(diff_stream, 1000);
    CHECK_EQ_INT(diff_seed, 1000);
    double lo = 1, hi = 0, sum = 0;
    for (int i = 0; i < 100000; i++) {
        double u = cr__sim_rng_uniform(&a);
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
        sum += cr__sim_rng_exp(&b, 2.0);
    }
    CHECK(lo >= 0 && hi < 1 && lo < 0.001 && hi > 0.999);
    CHECK_MSG(near(sum / 100000, 2.0, 0.03), "exponential draws have the mean asked for");
}

/* Events come out by time, then priority, then insertion order. */
static void test_heap_order(void)
{
    struct cr__sim_heap h = {0};
    struct cr__sim_rng r;
    cr__sim_rng_seed(&r, 7, 0);
    for (int i = 0; i < 5000; i++) {
        struct cr__sim_event e = {
            .t_us = (int64_t)(cr__sim_rng_next(&r) % 1000), .prio = i % 3, .a = i};
        cr__sim_heap_push(&h, e);
    }
    struct cr__sim_event prev = {0}, e;
    int n = 0, ordered = 1;
    while (cr__sim_heap_pop(&h, &e)) {
        if (n++ > 0)
            ordered &= prev.t_us < e.t_us ||
                       (prev.t_us == e.t_us &&
                        (prev.prio < e.prio || (prev.prio == e.prio && prev.a < e.a)));
        prev = e;
    }
    CHECK_EQ_INT(n, 5000);
    CHECK_MSG(ordered, "pops are sorted by (time, priority, insertion)");
    CHECK(!cr__sim_heap_pop(&h, &e));
    cr__sim_heap_clear(&h);
}

/* Per-second billing, whole seconds rounded up, with the minimum. */
static void test_billing(void)
{
    double hour = 3.6; /* $3.6 an hour = $0.001 a second */
    CHECK(near(cr__sim_bill_usd(0, 60, hour), 0.060, 1e-12));
    CHECK(near(cr__sim_bill_usd(59500000, 60, hour), 0.060, 1e-12));
    CHECK(near(cr__sim_bill_usd(61000000, 60, hour), 0.061, 1e-12));
    CHECK(near(cr__sim_bill_usd(61000001, 60, hour), 0.062, 1e-12));
    CHECK(near(cr__sim_bill_usd(3600000000LL, 60, hour), 3.6, 1e-9));
    CHECK(near(cr__sim_bill_usd(1500000, 0, hour), 0.002, 1e-12));
}

/* Specs: durations with units, distributions, and their errors. */
static void test_specs(void)
{
    double s;
    CHECK(cr__sim_parse_duration("90", &s) && s == 90);
    CHECK(cr__sim_parse_duration("1.5m", &s) && s == 90);
    CHECK(cr__sim_parse_duration("2h", &s) && s == 7200);
    CHECK(cr__sim_parse_duration("1d", &s) && s == 86400);
    CHECK(!cr__sim_parse_duration("-1", &s) && !cr__sim_parse_duration("5x", &s) &&
          !cr__sim_parse_duration("", &s) && !cr__sim_parse_duration("nan", &s));
    struct cr__sim_dist d;
    struct cr_error err = {0};
    CHECK(cr__sim_dist_parse("0.25", "service", &d, &err) == CR_OK && d.mean_s == 0.25);
    CHECK(cr__sim_dist_parse("uniform:1:3", "service", &d, &err) == CR_OK && d.mean_s == 2);
    CHECK(cr__sim_dist_parse("pct:1:2:3:4", "service", &d, &err) == CR_OK);
    struct cr__sim_rng r;
    cr__sim_rng_seed(&r, 1, 0);
    double lo = 1e9, hi = 0;
    for (int i = 0; i < 10000; i++) {
        double v = cr__sim_dist_draw(&d, &r);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    CHECK_MSG(lo >= 0 && hi <= 4, "pct draws stay between 0 and the maximum");
    CHECK(cr__sim_dist_parse("pct:2:1:3:4", "service", &d, &err) == CR_ERR_INVALID);
    CHECK(cr__sim_dist_parse("gauss:1", "--boot", &d, &err) == CR_ERR_INVALID &&
          strstr(err.message, "--boot"));
    CHECK(cr__sim_dist_parse("exp:1:2", "service", &d, &err) == CR_ERR_INVALID);
    CHECK(cr__sim_dist_parse("bench:/nonexistent.json", "service", &d, &err) == CR_ERR_NOT_FOUND);
    struct cr__sim_source src;
    CHECK(cr__sim_source_parse("constant:10:60@5", &src, &err) == CR_OK && src.count == 600 &&
          src.start_s == 5);
    CHECK(cr__sim_source_parse("constant:600/m:1m", &src, &err) == CR_OK && src.count == 600);
    CHECK(cr__sim_source_parse("burst:7@1h", &src, &err) == CR_OK && src.count == 7 &&
          cr__sim_source_end_s(&src) == 3600);
    CHECK(cr__sim_source_parse("burst:-1", &src, &err) == CR_ERR_INVALID);
    CHECK(cr__sim_source_parse("poisson:0:10", &src, &err) == CR_ERR_INVALID);
    CHECK(cr__sim_source_parse("wave:1:2", &src, &err) == CR_ERR_INVALID);
}

/* A trace file: seconds or ISO-8601 times, made relative to the earliest. */
static void test_trace(void)
{
    char path[] = "/tmp/cloudrec-sim-trace-XXXXXX";
    int fd = mkstemp(path);
    const char text[] = "# a comment\n2026-12-04T07:39:33.500Z info msg=x\n\n"
                        "2026-12-04T07:39:33.215Z info msg=y\n2026-12-04T07:39:35Z\n";
    CHECK(fd >= 0 && write(fd, text, sizeof(text) - 1) == (ssize_t)(sizeof(text) - 1));
    close(fd);
    char spec[64];
    snprintf(spec, sizeof(spec), "trace:%s", path);
    struct cr__sim_source s;
    struct cr_error err = {0};
    CHECK(cr__sim_source_parse(spec, &s, &err) == CR_OK && s.n_times == 3);
    struct cr__sim_rng r = {{1, 2, 3, 4}};
    CHECK_EQ_INT(cr__sim_source_next(&s, &r), 0);
    CHECK_EQ_INT(cr__sim_source_next(&s, &r), 285000);
    CHECK_EQ_INT(cr__sim_source_next(&s, &r), 1785000);
    CHECK_EQ_INT(cr__sim_source_next(&s, &r), -1);
    cr__sim_source_clear(&s);
    FILE *f = fopen(path, "w");
    fputs("1.5\nsoon\n", f);
    fclose(f);
    CHECK(cr__sim_source_parse(spec, &s, &err) == CR_ERR_FORMAT && strstr(err.message, "line 2"));
    cr__sim_source_clear(&s);
    unlink(path);
}

/* 1000 uploads at once, 40 s boots, a cap of 20, 1 s each: 20 instances
 * launch at the first tick and are ready at 40 s; upload k is answered at
 * 40 + (k / 20 + 1) s, so the average is 40 + 25.5 s and the last is at
 * 90 s. The backlog is 0 from 90 s, the scale-in window (30 s) ends at
 * 120 s, when all 20 stop; the next tick (121 s) finds the run drained.
 * 20 instances x 120 s = 2400 instance-seconds. */
static void test_burst_by_hand(void)
{
    const char *arrivals[] = {"burst:1000", NULL};
    struct cr_sim_options o = {
        .arrivals = arrivals, .service = "1", .boot = "40", .keep_series = 1};
    struct cr_sim_result r;
    struct cr_error err = {0};
    CHECK(cr__sim_run(&o, &r, &err) == CR_OK);
    CHECK_EQ_INT(r.requests, 1000);
    CHECK_EQ_INT(r.fleet.completed, 1000);
    CHECK(near(r.fleet.latency_avg_s, 65.5, 1e-9));
    CHECK(near(r.fleet.latency_p50_s, 65, 1e-9));
    CHECK(near(r.fleet.latency_p95_s, 88, 1e-9));
    CHECK(near(r.fleet.latency_max_s, 90, 1e-9));
    CHECK_EQ_INT(r.fleet.peak_instances, 20);
    CHECK_EQ_INT(r.launched, 20);
    CHECK(near(r.duration_s, 121, 1e-9));
    CHECK(near(r.fleet.instance_seconds, 2400, 1e-9));
    CHECK(near(r.fleet.cost_usd, 2400 * 0.0116 / 3600, 1e-12));
    CHECK(near(r.ideal.latency_avg_s, 1, 1e-9));
    CHECK_EQ_INT(r.ideal.peak_instances, 1000);
    CHECK(near(r.ideal.instance_seconds, 1000, 1e-9));
    CHECK_EQ_INT(r.unfinished + r.dead_letters + r.redeliveries + r.deaths, 0);
    CHECK(r.series && r.series->n == 122 && r.series->rows[0].arrivals == 1000 &&
          r.series->rows[0].pending == 20 && r.series->rows[40].busy == 20);
    struct cr_buf csv, svg;
    cr_buf_init(&csv, 0);
    cr_buf_init(&svg, 0);
    CHECK(cr__sim_write(&r, CR_SIM_CSV, &csv) == CR_OK && csv.data &&
          strstr((char *)csv.data, "\n0.000,1000,0,1000,0,1000,20,0,0,0,20,20\n"));
    CHECK(cr__sim_write(&r, CR_SIM_SVG, &svg) == CR_OK && svg.data &&
          strncmp((char *)svg.data, "<svg ", 5) == 0 && strstr((char *)svg.data, "</svg>\n"));
    cr_buf_clear(&csv);
    cr_buf_clear(&svg);
    cr__sim_result_clear(&r);
}

/* Concurrency, the minimum and the stop delay by hand: 100 uploads, a cap
 * of 5 instances with 4 slots each, ready at once, 1 s each: 20 at a time,
 * answered at 1, 2, ..., 5 s (average 3 s). The backlog is gone at 5 s, so
 * 3 of the 5 stop at 35 s (the minimum of 2 stays) and are gone 10 s later,
 * just before the 45 s tick, which finds the run drained: 5 x 45 s, billed
 * without a minimum. */
static void test_concurrency_by_hand(void)
{
    const char *arrivals[] = {"burst:100", NULL};
    struct cr_sim_options o = {.arrivals = arrivals,
                               .boot = "0",
                               .concurrency = 4,
                               .stop_delay_ms = 10000,
                               .min_billed_s = -1,
                               .policy = {.max_instances = 5, .min_instances = 2}};
    struct cr_sim_result r;
    CHECK(cr__sim_run(&o, &r, NULL) == CR_OK);
    CHECK_EQ_INT(r.fleet.completed, 100);
    CHECK(near(r.fleet.latency_avg_s, 3, 1e-9));
    CHECK(near(r.fleet.latency_max_s, 5, 1e-9));
    CHECK_EQ_INT(r.fleet.peak_instances, 5);
    CHECK_EQ_INT(r.launched, 5);
    CHECK(near(r.duration_s, 45, 1e-9));
    CHECK(near(r.fleet.instance_seconds, 5 * 45, 1e-9));
    CHECK(near(r.fleet.cost_usd, 5 * 45 * 0.0116 / 3600, 1e-12));
    CHECK_EQ_INT(r.ideal.peak_instances, 25); /* 100 at once, 4 per instance */
    cr__sim_result_clear(&r);
}

/* An image slower than the visibility timeout comes back while it is still
 * being worked on. The first answer counts, but its delete carries a stale
 * receipt, so the one instance receives the upload again and again (every
 * 40 s) until the fifth receive; the next attempt finds it over the limit
 * and drops it (answered, so not counted as a dead letter). That is what
 * SQS does to a worker that never extends the visibility. With a 60 s
 * timeout the upload is received once. */
static void test_visibility_redelivery(void)
{
    const char *arrivals[] = {"burst:1", NULL};
    struct cr_sim_options o = {.arrivals = arrivals,
                               .service = "40",
                               .boot = "0",
                               .visibility_s = 30,
                               .policy = {.max_instances = 1}};
    struct cr_sim_result r;
    CHECK(cr__sim_run(&o, &r, NULL) == CR_OK);
    CHECK_EQ_INT(r.fleet.completed, 1);
    CHECK_EQ_INT(r.redeliveries, 4);
    CHECK(near(r.fleet.latency_avg_s, 40, 1e-9));
    CHECK_EQ_INT(r.dead_letters + r.unfinished, 0);
    cr__sim_result_clear(&r);
    o.visibility_s = 60;
    CHECK(cr__sim_run(&o, &r, NULL) == CR_OK);
    CHECK_EQ_INT(r.redeliveries, 0);
    CHECK_EQ_INT(r.fleet.completed, 1);
    cr__sim_result_clear(&r);
}

/* Instances that die lose nothing: their uploads come back after the
 * visibility timeout and are answered by replacements. With a receive
 * limit of 1, those uploads become dead letters instead. */
static void test_deaths(void)
{
    const char *arrivals[] = {"burst:200", NULL};
    struct cr_sim_options o = {.arrivals = arrivals,
                               .service = "2",
                               .boot = "10",
                               .deaths_per_hour = 60,
                               .max_receives = -1,
                               .seed = 3};
    struct cr_sim_result r;
    CHECK(cr__sim_run(&o, &r, NULL) == CR_OK);
    CHECK(r.deaths > 0 && r.redeliveries > 0 && r.launched > 20);
    CHECK_EQ_INT(r.fleet.completed, 200);
    CHECK_EQ_INT(r.unfinished + r.dead_letters, 0);
    cr__sim_result_clear(&r);
    o.max_receives = 1;
    CHECK(cr__sim_run(&o, &r, NULL) == CR_OK);
    CHECK(r.dead_letters > 0);
    CHECK_EQ_INT(r.fleet.completed + r.dead_letters, 200);
    cr__sim_result_clear(&r);
}

/* The same options give the same bytes; another seed gives other ones. */
static void test_determinism(void)
{
    const char *arrivals[] = {"poisson:5:1h", "burst:300@20m", NULL};
    struct cr_sim_options o = {.arrivals = arrivals,
                               .service = "lognormal:1:0.5",
                               .boot = "uniform:30:50",
                               .seed = 11,
                               .keep_series = 1};
    struct cr_buf out[3];
    for (int i = 0; i < 3; i++) {
        struct cr_sim_result r;
        cr_buf_init(&out[i], 0);
        o.seed = i < 2 ? 11 : 12;
        CHECK(cr__sim_run(&o, &r, NULL) == CR_OK);
        cr__sim_write(&r, CR_SIM_JSON, &out[i]);
        cr__sim_write(&r, CR_SIM_CSV, &out[i]);
        cr__sim_result_clear(&r);
    }
    CHECK(out[0].len > 1000 && out[0].len == out[1].len &&
          memcmp(out[0].data, out[1].data, out[0].len) == 0);
    CHECK(out[0].len != out[2].len || memcmp(out[0].data, out[2].data, out[0].len) != 0);
    for (int i = 0; i < 3; i++)
        cr_buf_clear(&out[i]);
}

/* Bad options are refused with a message naming them. */
static void test_errors(void)
{
    const char *none[] = {NULL};
    const char *bad[] = {"burst:10", "poisson:x:1", NULL};
    const char *ok[] = {"burst:10", NULL};
    struct cr_sim_result r;
    struct cr_error err = {0};
    CHECK(cr__sim_run(&(struct cr_sim_options){.arrivals = none}, &r, &err) == CR_ERR_INVALID);
    CHECK(cr__sim_run(&(struct cr_sim_options){.arrivals = bad}, &r, &err) == CR_ERR_INVALID &&
          strstr(err.message, "poisson:x:1"));
    CHECK(cr__sim_run(&(struct cr_sim_options){.arrivals = ok, .service = "fixed"}, &r, &err) ==
              CR_ERR_INVALID &&
          strstr(err.message, "--service"));
    CHECK(cr__sim_run(&(struct cr_sim_options){.arrivals = ok, .policy = {.min_instances = 30}}, &r,
                     &err) == CR_ERR_INVALID);
    CHECK(cr__sim_run(&(struct cr_sim_options){.arrivals = ok, .concurrency = -1}, &r, &err) ==
          CR_ERR_INVALID);
    CHECK(cr__sim_run(NULL, &r, &err) == CR_ERR_INVALID);
    CHECK(r.series == NULL && r.requests == 0);
    CHECK(cr__sim_run(&(struct cr_sim_options){.arrivals = ok}, &r, &err) == CR_OK);
    struct cr_buf b;
    cr_buf_init(&b, 0);
    CHECK(cr__sim_write(&r, CR_SIM_SVG, &b) == CR_ERR_STATE && b.len == 0);
    CHECK(cr__sim_write(&r, (enum cr_sim_format)9, &b) == CR_ERR_INVALID);
    cr_buf_clear(&b);
    cr__sim_result_clear(&r);
    cr__sim_result_clear(NULL);
}

/* One upload at 0.5 s with a 10 s tick and instant boots: without wake-ups
 * it waits for the tick at 10 s (latency 10.5 s); with them (a local
 * scaler waiting on its queue) the tick comes at once (latency 1 s). A
 * second upload at 0.505 s, while the fleet is full, wakes nothing. */
static void test_wake_on_arrival(void)
{
    const char *arrivals[] = {"burst:1@0.5", NULL};
    struct cr_sim_options o = {.arrivals = arrivals,
                               .service = "1",
                               .boot = "0",
                               .interval_ms = 10000,
                               .policy = {.max_instances = 1}};
    struct cr_sim_result r;
    CHECK(cr__sim_run(&o, &r, NULL) == CR_OK);
    CHECK(near(r.fleet.latency_avg_s, 10.5, 1e-9));
    cr__sim_result_clear(&r);
    o.wake = 1;
    CHECK(cr__sim_run(&o, &r, NULL) == CR_OK);
    CHECK(near(r.fleet.latency_avg_s, 1.0, 1e-9));
    CHECK_EQ_INT(r.launched, 1);
    cr__sim_result_clear(&r);
    const char *two[] = {"burst:1@0.5", "burst:1@0.505", NULL};
    o.arrivals = two;
    CHECK(cr__sim_run(&o, &r, NULL) == CR_OK);
    CHECK_EQ_INT(r.fleet.completed, 2);
    CHECK(near(r.fleet.latency_max_s, 1.995, 1e-9)); /* 0.505 -> 2.5, behind the first */
    CHECK_EQ_INT(r.launched, 1);
    cr__sim_result_clear(&r);
}

int main(void)
{
    test_rng_reference();
    test_rng_determinism();
    test_heap_order();
    test_billing();
    test_specs();
    test_trace();
    test_burst_by_hand();
    test_concurrency_by_hand();
    test_visibility_redelivery();
    test_deaths();
    test_wake_on_arrival();
    test_determinism();
    test_errors();
    return tap_done();
}
