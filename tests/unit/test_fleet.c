/*
 * test_fleet.c - the fleet dispatch and the local fleet, with /bin/sh scripts
 * standing in for workers (they write the same state file a worker writes),
 * plus cr_find_program and cr_output_key.
 */
#include "cloudrec/fleet.h"
#include "cloudrec/service.h"
#include "cloudrec/worker.h"
#include "tap.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A worker stand-in: $2 is the id, $4 the state file. It reports idle, and on
 * SIGTERM reports stopping and exits 0. */
static const char *const good_worker[] = {
    "/bin/sh", "-c",
    "f=$4; trap 'echo stopping 1 $$ > \"$f.t\"; mv \"$f.t\" \"$f\"; exit 0' TERM;"
    " echo idle 1 $$ > \"$f.t\"; mv \"$f.t\" \"$f\";"
    " while :; do sleep 0.05; done",
    "fake-worker", NULL};

/* A stand-in that ignores SIGTERM, takes half a second to "load its model"
 * and then reports busy forever. */
static const char *const stubborn_worker[] = {
    "/bin/sh", "-c",
    "trap '' TERM; sleep 0.5; echo busy 1 $$ > \"$4.t\"; mv \"$4.t\" \"$4\";"
    " while :; do sleep 0.05; done",
    "stubborn", NULL};

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Lists the fleet until every instance is in `state` and there are `n` of
 * them, or 5 s pass. Returns 1 when that happened. */
static int wait_all(struct cr_fleet *f, size_t n, enum cr_instance_state state)
{
    for (int i = 0; i < 250; i++) {
        struct cr_instance_list l = {0};
        if (cr_fleet_list(f, &l, NULL) != CR_OK)
            return 0;
        int ok = l.count == n;
        for (size_t k = 0; k < l.count; k++)
            ok = ok && l.items[k].state == state;
        cr_fleet_list_free(&l);
        if (ok)
            return 1;
        sleep_ms(20);
    }
    return 0;
}

static void test_urls(void)
{
    struct cr_fleet *f = NULL;
    struct cr_error err = {0};
    struct cr_fleet_options o = {.worker_argv = good_worker};
    CHECK_EQ_INT(cr_fleet_open("ec2:", &o, &f, &err), CR_ERR_UNSUPPORTED);
    CHECK(strstr(err.message, "ec2") && strstr(err.message, "local:"));
    CHECK(f == NULL);
    CHECK_EQ_INT(cr_fleet_open("moon:", &o, &f, &err), CR_ERR_INVALID);
    CHECK_EQ_INT(cr_fleet_open("local", &o, &f, &err), CR_ERR_INVALID);
    CHECK_EQ_INT(cr_fleet_open("local://relative", &o, &f, &err), CR_ERR_INVALID);
    CHECK_EQ_INT(cr_fleet_open("local:", NULL, &f, &err), CR_ERR_INVALID);
    static const char *const relative[] = {"sh", NULL};
    struct cr_fleet_options rel = {.worker_argv = relative};
    CHECK_EQ_INT(cr_fleet_open("local:", &rel, &f, &err), CR_ERR_INVALID);
    CHECK_EQ_STR(cr_instance_state_name(CR_INSTANCE_IDLE), "idle");
    CHECK_EQ_STR(cr_instance_state_name((enum cr_instance_state)42), "unknown");
}

static void test_launch_list_stop(void)
{
    char dir[] = "/tmp/cloudrec-test-fleet-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char url[128];
    snprintf(url, sizeof(url), "local://%s/workers", dir);
    struct cr_fleet *f = NULL;
    struct cr_error err = {0};
    struct cr_fleet_options o = {.worker_argv = good_worker};
    CHECK_EQ_INT(cr_fleet_open(url, &o, &f, &err), CR_OK);
    int launched = -1;
    CHECK_EQ_INT(cr_fleet_launch(f, 2, &launched, &err), CR_OK);
    CHECK_EQ_INT(launched, 2);
    CHECK_MSG(wait_all(f, 2, CR_INSTANCE_IDLE), "both workers report idle");

    struct cr_instance_list l = {0};
    CHECK_EQ_INT(cr_fleet_list(f, &l, &err), CR_OK);
    CHECK_EQ_INT(l.count, 2);
    if (l.count == 2) {
        CHECK_EQ_STR(l.items[0].id, "w-1");
        CHECK_EQ_STR(l.items[1].id, "w-2");
        CHECK(l.items[0].pid > 0 && l.items[0].state_since_ms == 1);
    }
    cr_fleet_list_free(&l);
    cr_fleet_list_free(NULL);

    CHECK_EQ_INT(cr_fleet_stop(f, "w-1", &err), CR_OK);
    CHECK_EQ_INT(cr_fleet_stop(f, "w-1", &err), CR_OK); /* again: harmless */
    CHECK_EQ_INT(cr_fleet_stop(f, "w-9", &err), CR_ERR_NOT_FOUND);
    CHECK_MSG(wait_all(f, 1, CR_INSTANCE_IDLE), "the stopped worker is reaped");
    char state[256];
    snprintf(state, sizeof(state), "%s/workers/w-1.state", dir);
    CHECK_MSG(access(state, F_OK) != 0, "its state file is removed");

    CHECK_EQ_INT(cr_fleet_shutdown(f, &err), CR_OK);
    CHECK_MSG(wait_all(f, 0, CR_INSTANCE_IDLE), "shutdown leaves nothing");
    cr_fleet_free(f);
    cr_fleet_free(NULL);
    char rm[160];
    snprintf(rm, sizeof(rm), "rm -rf %s", dir);
    CHECK(system(rm) == 0);
}

static void test_shutdown_kills_after_grace(void)
{
    struct cr_fleet *f = NULL;
    struct cr_error err = {0};
    struct cr_fleet_options o = {.worker_argv = stubborn_worker, .kill_after_ms = 300};
    CHECK_EQ_INT(cr_fleet_open("local:", &o, &f, &err), CR_OK);
    CHECK_EQ_INT(cr_fleet_launch(f, 1, NULL, &err), CR_OK);
    struct cr_instance_list l = {0};
    CHECK_EQ_INT(cr_fleet_list(f, &l, &err), CR_OK);
    CHECK_MSG(l.count == 1 && l.items[0].state == CR_INSTANCE_PENDING, "no state file: pending");
    cr_fleet_list_free(&l);
    CHECK_MSG(wait_all(f, 1, CR_INSTANCE_RUNNING), "busy: running");
    int64_t start = cr_time_mono_ms();
    CHECK_EQ_INT(cr_fleet_shutdown(f, &err), CR_OK);
    int64_t took = cr_time_mono_ms() - start;
    CHECK_MSG(took >= 250 && took < 5000, "SIGKILL after the grace period");
    CHECK(wait_all(f, 0, CR_INSTANCE_IDLE));
    cr_fleet_free(f);
}

static void test_find_program(void)
{
    char out[4096];
    struct cr_error err = {0};
    CHECK_EQ_INT(cr_find_program("sh", NULL, out, sizeof(out), &err), CR_OK);
    CHECK(out[0] == '/' && strstr(out, "/sh"));
    CHECK_EQ_INT(cr_find_program("sh", "/bin", out, sizeof(out), &err), CR_OK);
    CHECK_EQ_STR(out, "/bin/sh");
    CHECK_EQ_INT(cr_find_program("no-such-program-xyz", NULL, out, sizeof(out), &err),
                 CR_ERR_NOT_FOUND);
    CHECK(strstr(err.message, "no-such-program-xyz") != NULL);
    CHECK_EQ_INT(cr_find_program("bin/sh", NULL, out, sizeof(out), &err), CR_ERR_INVALID);
    /* test_fleet itself lives next to itself. */
    CHECK_EQ_INT(cr_find_program("test_fleet", NULL, out, sizeof(out), &err), CR_OK);
}

static void test_output_key(void)
{
    char k[32];
    CHECK_EQ_INT(cr_output_key("test_0.JPEG", k, sizeof(k)), CR_OK);
    CHECK_EQ_STR(k, "test_0");
    CHECK_EQ_INT(cr_output_key("a.b.png", k, sizeof(k)), CR_OK);
    CHECK_EQ_STR(k, "a.b");
    CHECK_EQ_INT(cr_output_key("noext", k, sizeof(k)), CR_OK);
    CHECK_EQ_STR(k, "noext");
    CHECK_EQ_INT(cr_output_key(".jpg", k, sizeof(k)), CR_ERR_INVALID);
    CHECK_EQ_INT(cr_output_key("a/b.jpg", k, sizeof(k)), CR_ERR_INVALID);
    CHECK_EQ_INT(cr_output_key("", k, sizeof(k)), CR_ERR_INVALID);
    CHECK_EQ_INT(cr_output_key("abcdefghijklmnopqrstuvwxyz0123456789.jpg", k, sizeof(k)),
                 CR_ERR_INVALID);
    CHECK_EQ_STR(cr_worker_state_name(CR_WORKER_BUSY), "busy");
}

static void test_worker_options(void)
{
    struct cr_error err = {0};
    struct cr_worker_options o = {0};
    CHECK_EQ_INT(cr_worker_run(&o, NULL, &err), CR_ERR_INVALID);
    CHECK_EQ_INT(cr_worker_run(NULL, NULL, &err), CR_ERR_INVALID);
    struct cr_classifier_options c = {0};
    o = (struct cr_worker_options){.requests_url = "sqlite:///nonexistent/q.db?name=r",
                                   .output_url = "file:///tmp",
                                   .classifier = &c,
                                   .batch = 11};
    CHECK_EQ_INT(cr_worker_run(&o, NULL, &err), CR_ERR_INVALID);
    o.batch = 1;
    struct cr_worker_stats stats = {.answered = 7};
    CHECK(cr_worker_run(&o, &stats, &err) != CR_OK);
    CHECK(strstr(err.message, "requests queue") != NULL);
    CHECK_EQ_INT(stats.answered, 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_urls();
    test_launch_list_stop();
    test_shutdown_kills_after_grace();
    test_find_program();
    test_output_key();
    test_worker_options();
    return tap_done();
}
