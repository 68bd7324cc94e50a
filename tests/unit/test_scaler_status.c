/* test_scaler_status.c - the scaler's status file (pipeline/scaler_status.h):
 * what a tick records, the JSON both sides read, and the atomic write. */
#include "pipeline/scaler_status.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A tick that saw in and decided d at wall_ms. */
static void tick(struct cr__scaler_status *s, long visible, long in_flight, int pending,
                 int running, int idle, int desired, int launch, int stop, int64_t wall_ms)
{
    struct cr_scale_input in = {.visible = visible, .in_flight = in_flight, .pending = pending,
                                .running = running, .idle = idle};
    struct cr_scale_decision d = {.desired = desired, .launch = launch, .stop = stop};
    snprintf(d.reason, sizeof(d.reason), "%s \"quoted\"", launch ? "scale out" : "scale in");
    cr__scaler_status_record(s, &in, &d, wall_ms);
}

static void test_record(void)
{
    struct cr__scaler_status s = {.interval_ms = 1000, .max_instances = 20};
    tick(&s, 7, 3, 2, 5, 1, 10, 3, 0, 1000);
    CHECK_EQ_INT(s.time_ms, 1000);
    CHECK_EQ_INT(s.starting, 2);
    CHECK_EQ_INT(s.busy, 4); /* running minus idle */
    CHECK_EQ_INT(s.idle, 1);
    CHECK_EQ_INT(s.desired, 10);
    CHECK_EQ_INT(s.num_actions, 1);
    CHECK_EQ_INT(s.actions[0].launch, 3);
    CHECK_EQ_INT(s.actions[0].backlog, 10);
    tick(&s, 0, 0, 0, 5, 5, 5, 0, 0, 2000); /* no action: counts only */
    CHECK_EQ_INT(s.num_actions, 1);
    CHECK_EQ_INT(s.idle, 5);
    for (int i = 0; i < CR__SCALER_STATUS_DECISIONS + 5; i++)
        tick(&s, 0, 0, 0, 5, 5, 4, 0, 1, 3000 + i);
    CHECK_EQ_INT(s.num_actions, CR__SCALER_STATUS_DECISIONS);
    CHECK_EQ_INT(s.actions[0].time_ms, 3000 + 5); /* the oldest were dropped */
    CHECK_EQ_INT(s.actions[CR__SCALER_STATUS_DECISIONS - 1].stop, 1);
}

static void test_round_trip(void)
{
    struct cr__scaler_status s = {.interval_ms = 250, .min_instances = 1, .max_instances = 6}, back;
    tick(&s, 12, 2, 1, 3, 0, 6, 3, 0, 1796370172147LL);
    tick(&s, 0, 0, 0, 4, 4, 1, 0, 3, 1796370182147LL);
    struct cr_buf doc;
    cr_buf_init(&doc, 0);
    struct cr_error err = {0};
    CHECK_EQ_INT(cr__scaler_status_encode(&s, &doc), CR_OK);
    CHECK_EQ_INT(cr__scaler_status_decode((char *)doc.data, doc.len, &back, &err), CR_OK);
    CHECK_EQ_INT(back.time_ms, 1796370182147LL);
    CHECK_EQ_INT(back.interval_ms, 250);
    CHECK_EQ_INT(back.min_instances, 1);
    CHECK_EQ_INT(back.max_instances, 6);
    CHECK_EQ_INT(back.idle, 4);
    CHECK_EQ_INT(back.desired, 1);
    CHECK_EQ_INT(back.num_actions, 2);
    CHECK_EQ_INT(back.actions[0].launch, 3);
    CHECK_EQ_INT(back.actions[0].backlog, 14);
    CHECK_EQ_INT(back.actions[1].stop, 3);
    CHECK_EQ_STR(back.actions[1].reason, "scale in \"quoted\"");
    CHECK_EQ_INT(back.launch_failures, 0);
    CHECK_EQ_STR(back.launch_error, "");
    /* Failed launches and their reason survive the trip. */
    s.launch_failures = 7;
    cr__strlcpy(s.launch_error, "2 workers in a row exited before they were ready",
                sizeof(s.launch_error));
    cr__buf_reset(&doc);
    CHECK_EQ_INT(cr__scaler_status_encode(&s, &doc), CR_OK);
    CHECK_EQ_INT(cr__scaler_status_decode((char *)doc.data, doc.len, &back, &err), CR_OK);
    CHECK_EQ_INT(back.launch_failures, 7);
    CHECK_EQ_STR(back.launch_error, "2 workers in a row exited before they were ready");
    /* Worker starts land in their buckets (bounds inclusive) and survive. */
    cr__scaler_status_start(&s, 80);     /* <= 100 ms */
    cr__scaler_status_start(&s, 100);    /* <= 100 ms */
    cr__scaler_status_start(&s, 101);    /* <= 250 ms */
    cr__scaler_status_start(&s, 500000); /* above every bound */
    cr__scaler_status_start(&s, -5);     /* a clock step: ignored */
    cr__buf_reset(&doc);
    CHECK_EQ_INT(cr__scaler_status_encode(&s, &doc), CR_OK);
    CHECK_EQ_INT(cr__scaler_status_decode((char *)doc.data, doc.len, &back, &err), CR_OK);
    CHECK_EQ_INT(back.start_counts[0], 2);
    CHECK_EQ_INT(back.start_counts[1], 1);
    CHECK_EQ_INT(back.start_counts[CR__SCALER_START_BUCKETS], 1);
    CHECK_EQ_INT(back.start_sum_ms, 80 + 100 + 101 + 500000);
    cr_buf_clear(&doc);
}

static void test_bad_documents(void)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"v\":2}",
        "{\"v\":1,\"time_ms\":1}",
        "{\"v\":1,\"time_ms\":1,\"interval_ms\":1,\"visible\":-1,\"in_flight\":0,\"starting\":0,"
        "\"busy\":0,\"idle\":0,\"stopping\":0,\"desired\":0,\"min\":0,\"max\":1,\"decisions\":[]}",
        "{\"v\":1,\"time_ms\":1,\"interval_ms\":1,\"visible\":0,\"in_flight\":0,\"starting\":0,"
        "\"busy\":0,\"idle\":0,\"stopping\":0,\"desired\":0,\"min\":0,\"max\":1,\"decisions\":"
        "[{\"time_ms\":1,\"action\":\"explode\",\"count\":1,\"desired\":0,\"backlog\":0,"
        "\"reason\":\"\"}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cr__scaler_status s;
        struct cr_error err = {0};
        cr_status st = cr__scaler_status_decode(bad[i], strlen(bad[i]), &s, &err);
        CHECK_EQ_INT(st, CR_ERR_FORMAT);
        CHECK(err.message[0] != '\0');
        CHECK_EQ_INT(s.time_ms, 0);
    }
}

static void test_write_and_read(void)
{
    char dir[] = "/tmp/cr-status-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof(path), "%s/status.json", dir);
    struct cr__scaler_status s = {.interval_ms = 1000, .max_instances = 20}, back;
    struct cr_error err = {0};
    CHECK_EQ_INT(cr__scaler_status_read(path, &back, &err), CR_ERR_NOT_FOUND);
    tick(&s, 3, 0, 3, 0, 0, 3, 3, 0, 5000);
    CHECK_EQ_INT(cr__scaler_status_write(path, &s, &err), CR_OK);
    tick(&s, 0, 1, 0, 3, 2, 3, 0, 0, 6000);
    CHECK_EQ_INT(cr__scaler_status_write(path, &s, &err), CR_OK); /* replaces */
    CHECK_EQ_INT(cr__scaler_status_read(path, &back, &err), CR_OK);
    CHECK_EQ_INT(back.time_ms, 6000);
    CHECK_EQ_INT(back.busy, 1);
    CHECK_EQ_INT(back.num_actions, 1);
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0); /* no temporary left behind */
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    test_record();
    test_round_trip();
    test_bad_documents();
    test_write_and_read();
    return tap_done();
}
