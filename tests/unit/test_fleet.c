/*
 * test_fleet.c - the fleet dispatch and the local fleet, with /bin/sh scripts
 * standing in for workers (they write the same state file a worker writes),
 * plus cr_find_program and cr_output_key.
 */
#include "cloudrec/fleet.h"
#include "cloudrec/service.h"
#include "cloudrec/worker.h"
#include "backends/worker_state.h"
#include "tap.h"
#include "backends/fleet_backend.h"
#include "pipeline/message.h"
#include "pipeline/pipeline.h"

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
    unsetenv("CLOUDREC_EC2_AMI");
    CHECK_EQ_INT(cr_fleet_open("ec2:", &o, &f, &err), CR_ERR_INVALID);
    CHECK(strstr(err.message, "ec2") && strstr(err.message, "AMI"));
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

/* Points the AWS settings at a closed local port, so nothing here could
 * reach AWS even by mistake (these tests make no request anyway). */
static void offline_aws(const char *region)
{
    static const char *const unset[] = {
        "AWS_PROFILE",        "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_EC2",
        "AWS_DEFAULT_REGION", "CLOUDREC_EC2_AMI",    "CLOUDREC_EC2_FLEET"};
    for (size_t i = 0; i < sizeof(unset) / sizeof(unset[0]); i++)
        unsetenv(unset[i]);
    setenv("AWS_REGION", region, 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIAUNITTEST00000000", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "unit-test-secret", 1);
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
}

/* Opens url with worker argv w and returns its user data ("" on failure,
 * status in *st). The caller frees the result. */
static char *user_data_of(const char *url, const char *const *w, cr_status *st,
                          struct cr_error *err)
{
    struct cr_fleet *f = NULL;
    struct cr_fleet_options o = {.worker_argv = w};
    struct cr_buf b;
    cr_buf_init(&b, 0);
    *st = cr_fleet_open(url, &o, &f, err);
    if (*st == CR_OK)
        *st = cr_fleet_user_data(f, &b, err);
    cr_fleet_free(f);
    char *text = cr_buf_steal(&b, NULL);
    return text ? text : strdup("");
}

static void test_ec2_settings(void)
{
    static const char *const w[] = {"x", "--output", "s3://o", "--requests", "sqs://r", NULL};
    static const char *const bad[] = {"ec2:?ami=a&bogus=1",       "ec2:?ami=a&max=21",
                                      "ec2:?ami=a&max=0",         "ec2:?ami=a&fleet=a:b",
                                      "ec2:?ami=a&worker=bin/w",  "ec2:?ami=a b",
                                      "ec2:?ami=a;reboot",        "ec2:x",
                                      "ec2:?ami=a&on_exit=maybe", "ec2:?ami=a&idle_exit_s=-1"};
    struct cr_fleet *f = NULL;
    struct cr_fleet_options o = {.worker_argv = w};
    struct cr_error err = {0};
    offline_aws("eu-west-1");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_MSG(cr_fleet_open(bad[i], &o, &f, &err) == CR_ERR_INVALID && !f, bad[i]);
        CHECK_MSG(strstr(err.message, "ec2") != NULL, "the message names the fleet");
    }
    CHECK_EQ_INT(cr_fleet_open("ec2:?ami=ami-1&max=3&sg=sg-1,sg-2&on_exit=terminate", &o, &f, &err),
                 CR_OK);
    CHECK_EQ_INT(cr_fleet_stop(f, "../etc", &err), CR_ERR_NOT_FOUND);
    CHECK_MSG(strstr(err.message, "not an instance id") != NULL, "a non-id is refused locally");
    cr_fleet_free(f);
    setenv("CLOUDREC_EC2_AMI", "ami-fromenv", 1);
    CHECK_EQ_INT(cr_fleet_open("ec2:", &o, &f, &err), CR_OK);
    cr_fleet_free(f);
    unsetenv("CLOUDREC_EC2_AMI");
    unsetenv("AWS_REGION");
    CHECK_EQ_INT(cr_fleet_open("ec2:?ami=ami-1", &o, &f, &err), CR_ERR_INVALID); /* no region */
    CHECK_EQ_INT(cr_fleet_open("ec2:?ami=ami-1&region=ap-south-1", &o, &f, &err), CR_OK);
    cr_fleet_free(f);
}

static void test_ec2_user_data(void)
{
    static const char *const w[] = {"/ignored/cloudrec-worker",
                                    "--output",
                                    "s3://o/p",
                                    "--model",
                                    "/m%x",
                                    "--requests",
                                    "sqs://r",
                                    NULL};
    static const char *const no_output[] = {"w", "--requests", "sqs://r", NULL};
    static const char *const unsafe[] = {"w", "--output", "s3://o;reboot", "--requests", "x", NULL};
    static const char *const own_id[] = {"w",       "--output", "s3://o", "--requests",
                                         "sqs://r", "--id",     "me",     "--idle-exit-s",
                                         "9",       NULL};
    struct cr_error err = {0};
    cr_status st;
    offline_aws("eu-west-1");
    char *ud = user_data_of("ec2:?ami=ami-1&fleet=blue&idle_exit_s=60", w, &st, &err);
    CHECK_EQ_INT(st, CR_OK);
    CHECK_MSG(strncmp(ud, "#!/bin/sh\n", 10) == 0, "a shell script for cloud-init");
    CHECK(strstr(ud, "ExecStart=/usr/bin/cloudrec-worker --output s3://o/p --model /m%%x "
                     "--requests sqs://r --id ${CLOUDREC_WORKER_ID} --idle-exit-s 60\n"));
    CHECK(strstr(ud, "AWS_REGION=eu-west-1\n") &&
          strstr(ud, "AWS_ENDPOINT_URL=http://127.0.0.1:9\n"));
    CHECK(strstr(ud, "Description=cloudrec worker (fleet blue)"));
    CHECK(strstr(ud, "SuccessAction=poweroff") && strstr(ud, "Restart=on-failure"));
    CHECK(strstr(ud, "systemctl enable --now cloudrec-worker.service"));
    free(ud);
    ud = user_data_of(
        "ec2:?ami=ami-1&worker=/opt/cr/bin/cloudrec-worker&region=us-west-2&idle_exit_s=0", own_id,
        &st, &err);
    CHECK_EQ_INT(st, CR_OK);
    CHECK(strstr(ud, "ExecStart=/opt/cr/bin/cloudrec-worker --output s3://o --requests sqs://r "
                     "--id me --idle-exit-s 9\n"));
    CHECK(strstr(ud, "AWS_REGION=us-west-2\n") != NULL);
    free(ud);
    free(user_data_of("ec2:?ami=ami-1", no_output, &st, &err));
    CHECK_EQ_INT(st, CR_ERR_INVALID);
    CHECK(strstr(err.message, "--output") != NULL);
    free(user_data_of("ec2:?ami=ami-1", unsafe, &st, &err));
    CHECK_EQ_INT(st, CR_ERR_INVALID);
    free(user_data_of("local:", good_worker, &st, &err));
    CHECK_EQ_INT(st, CR_ERR_UNSUPPORTED);
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_REGION");
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

/* A worker that dies before it is ready (here: exits 1 at once) holds the
 * next launches back, with the reason; one that got going resets that. */
static void test_failing_starts_are_held_back(void)
{
    static const char *const failing[] = {"/bin/sh", "-c", "exit 1", "failing", NULL};
    struct cr_fleet *f = NULL;
    struct cr_error err = {0};
    struct cr_fleet_options o = {.worker_argv = failing};
    CHECK_EQ_INT(cr_fleet_open("local:", &o, &f, &err), CR_OK);
    int launched = 0;
    CHECK_EQ_INT(cr_fleet_launch(f, 1, &launched, &err), CR_OK);
    CHECK_EQ_INT(launched, 1);
    CHECK_MSG(wait_all(f, 0, CR_INSTANCE_IDLE), "the failing worker is reaped");
    /* Right after the failure: held (the first hold lasts 500 ms). */
    launched = 0;
    CHECK_EQ_INT(cr_fleet_launch(f, 1, &launched, &err), CR_ERR_STATE);
    CHECK_EQ_INT(launched, 0);
    CHECK(strstr(err.message, "1 workers in a row exited before they were ready") != NULL);
    CHECK(strstr(err.message, "w-1 exit=1") != NULL);
    /* Once the hold is over, it launches again. */
    cr_status st = CR_ERR_STATE;
    for (int i = 0; i < 100 && st == CR_ERR_STATE; i++) {
        sleep_ms(20);
        st = cr_fleet_launch(f, 1, &launched, &err);
    }
    CHECK_EQ_INT(st, CR_OK);
    CHECK_MSG(wait_all(f, 0, CR_INSTANCE_IDLE), "the second failing worker is reaped");
    CHECK_EQ_INT(cr_fleet_launch(f, 1, NULL, &err), CR_ERR_STATE);
    CHECK(strstr(err.message, "2 workers in a row") != NULL);
    cr_fleet_free(f);
}

/* The state file: one writer, one reader, and the older 3-field form. */
static void test_worker_state_file(void)
{
    char dir[] = "/tmp/cloudrec-test-state-XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/w.state", dir);
    struct cr__worker_state in = {.state = CR_INSTANCE_RUNNING, .since_ms = 1700000000123LL,
                                  .pid = 4242, .ready_ms = 1700000000001LL},
                            out;
    CHECK_EQ_INT(cr__worker_state_read(path, &out), CR_ERR_NOT_FOUND);
    CHECK_EQ_INT(cr__worker_state_write(path, &in, NULL), CR_OK);
    CHECK_EQ_INT(cr__worker_state_read(path, &out), CR_OK);
    CHECK(out.state == CR_INSTANCE_RUNNING && out.since_ms == in.since_ms && out.pid == 4242 &&
          out.ready_ms == in.ready_ms);
    FILE *fp = fopen(path, "w");
    fputs("idle 5 7\n", fp); /* a worker from before ready_ms */
    fclose(fp);
    CHECK_EQ_INT(cr__worker_state_read(path, &out), CR_OK);
    CHECK(out.state == CR_INSTANCE_IDLE && out.pid == 7 && out.ready_ms == 0);
    fp = fopen(path, "w");
    fputs("dancing 5 7 9\n", fp);
    fclose(fp);
    CHECK_EQ_INT(cr__worker_state_read(path, &out), CR_ERR_FORMAT);
    in.state = CR_INSTANCE_PENDING; /* never written by a worker */
    CHECK_EQ_INT(cr__worker_state_write(path, &in, NULL), CR_ERR_INVALID);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_urls();
    test_ec2_settings();
    test_ec2_user_data();
    test_launch_list_stop();
    test_shutdown_kills_after_grace();
    test_failing_starts_are_held_back();
    test_worker_state_file();
    test_find_program();
    test_output_key();
    test_worker_options();
    return tap_done();
}
