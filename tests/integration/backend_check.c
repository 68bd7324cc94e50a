/*
 * backend_check - the AWS backends (s3:// stores, sqs:// queues, ec2:
 * fleets) through the public cr_store / cr_queue / cr_fleet / cr_setup
 * API, against moto in server mode (started by test_aws_mode.py), with TAP
 * output. The endpoint and credentials come from the AWS_* environment;
 * names are made unique with the RUN argument.
 *
 *   backend_check store RUN
 *   backend_check queue RUN
 *   backend_check fleet RUN AMI UNTAGGED-INSTANCE-ID
 */
#include "cloudrec.h"
#include "cloudrec/fleet.h"
#include "cloudrec/queue.h"
#include "cloudrec/service.h"
#include "cloudrec/store.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *run_id = "run";

/* "<scheme>://<run>-<what>[<tail>]" in one of a few static buffers. */
static const char *url_of(const char *scheme, const char *what, const char *tail)
{
    static char buf[8][256];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof(buf[0]), "%s://%s-%s%s", scheme, run_id, what, tail ? tail : "");
    return b;
}

/* Checks a status and prints the error detail when it is not the one wanted. */
static void check_status(cr_status got, cr_status want, const struct cr_error *err,
                         const char *what)
{
    char line[768];
    snprintf(line, sizeof(line), "%s: %s (got %s: %s)", what, cr_status_name(want),
             cr_status_name(got), got == CR_OK ? "" : err->message);
    tap_check(got == want, line, __FILE__, __LINE__);
}

/* ---- store ---------------------------------------------------------------------- */

/* Puts then gets key, checking the bytes come back the same. */
static void round_trip(struct cr_store *s, const char *key, const void *data, size_t len,
                       const char *what)
{
    struct cr_error err = {0};
    struct cr_buf b;
    cr_buf_init(&b, 0);
    check_status(cr_store_put(s, key, data, len, &err), CR_OK, &err, what);
    check_status(cr_store_get(s, key, 0, &b, &err), CR_OK, &err, what);
    CHECK_MSG(b.len == len && (len == 0 || memcmp(b.data, data, len) == 0), what);
    cr_buf_clear(&b);
}

/* s3:// through cr_setup and cr_store_*: bytes, prefixes, limits, errors. */
static void check_store(void)
{
    const char *p1 = url_of("s3", "bucket", "/in/p1"), *p2 = url_of("s3", "bucket", "/in/p2/");
    struct cr_setup_options so = {.input_url = p1};
    struct cr_error err = {0};
    struct cr_store *a = NULL, *b = NULL;
    struct cr_buf got;
    cr_buf_init(&got, 0);
    check_status(cr_setup(&so, NULL, NULL, &err), CR_OK, &err, "setup makes the bucket");
    check_status(cr_store_open(p1, &a, &err), CR_OK, &err, "open s3://bucket/in/p1");
    check_status(cr_store_open(p2, &b, &err), CR_OK, &err, "open s3://bucket/in/p2/");
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    round_trip(a, "test_0.JPEG", all, sizeof(all), "every byte value round-trips");
    round_trip(a, "empty", "", 0, "an empty object round-trips");
    round_trip(a, "test_0", "bathtub", 7, "a label");
    round_trip(a, "test_0", "tub", 3, "an overwrite replaces the object");
    check_status(cr_store_get(b, "test_0", 0, &got, &err), CR_ERR_NOT_FOUND, &err,
                 "another prefix does not see the key");
    CHECK_MSG(got.len == 0, "nothing appended on failure");
    check_status(cr_store_get(a, "test_0.JPEG", 10, &got, &err), CR_ERR_TOO_LARGE, &err,
                 "max_bytes bounds a get");
    check_status(cr_store_put(a, "../escape", "x", 1, &err), CR_ERR_INVALID, &err,
                 "an unsafe key is refused");
    check_status(cr_store_delete(a, "test_0", &err), CR_OK, &err, "delete");
    check_status(cr_store_delete(a, "test_0", &err), CR_OK, &err, "delete again");
    check_status(cr_store_get(a, "test_0", 0, &got, &err), CR_ERR_NOT_FOUND, &err, "gone");
    CHECK_MSG(strstr(err.message, "test_0") != NULL, "the message names the key");
    cr_store_free(b);
    cr_store_free(a);
    check_status(cr_store_open(url_of("s3", "nobucket", NULL), &a, &err), CR_OK, &err,
                 "opening makes no request");
    check_status(cr_store_get(a, "k", 0, &got, &err), CR_ERR_NOT_FOUND, &err,
                 "a missing bucket is NOT_FOUND");
    CHECK_MSG(strstr(err.message, "bucket") != NULL, "and says bucket");
    check_status(cr_store_put(a, "k", "v", 1, &err), CR_ERR_NOT_FOUND, &err,
                 "put into a missing bucket");
    cr_store_free(a);
    cr_buf_clear(&got);
}

/* ---- queue ---------------------------------------------------------------------- */

/* Receives into m[0..max) and returns how many came (-1 on failure). */
static int recv_n(struct cr_queue *q, int max, int wait_ms, int vis, struct cr_queue_message *m)
{
    size_t n = 0;
    struct cr_error err = {0};
    cr_status st = cr_queue_receive(q, max, wait_ms, vis, m, &n, &err);
    if (st != CR_OK)
        DIAG("receive: %s", err.message);
    return st == CR_OK ? (int)n : -1;
}

/* Checks the queue's counts. */
static void check_counts(struct cr_queue *q, long visible, long in_flight, const char *what)
{
    long v = -1, f = -1;
    struct cr_error err = {0};
    check_status(cr_queue_counts(q, &v, &f, &err), CR_OK, &err, what);
    if (!CHECK_MSG(v == visible && f == in_flight, what))
        DIAG("visible %ld in_flight %ld, wanted %ld %ld", v, f, visible, in_flight);
}

/* Opening: a missing queue, set-up with a dead-letter queue, bad options. */
static struct cr_queue *open_queues(void)
{
    struct cr_error err = {0};
    struct cr_queue *q = NULL;
    const char *url = url_of("sqs", "requests", NULL);
    check_status(cr_queue_open(url, NULL, &q, &err), CR_ERR_NOT_FOUND, &err,
                 "a missing queue without create");
    CHECK_MSG(strstr(err.message, "cloudrec setup") != NULL, "the message says how to make it");
    struct cr_setup_options so = {.requests_url = url,
                                  .dead_letter_url = url_of("sqs", "dead", NULL),
                                  .visibility_s = 10,
                                  .max_receives = 2};
    check_status(cr_setup(&so, NULL, NULL, &err), CR_OK, &err, "setup: queue and dead letters");
    check_status(cr_setup(&so, NULL, NULL, &err), CR_OK, &err, "setup again");
    so.max_receives = 3;
    check_status(cr_setup(&so, NULL, NULL, &err), CR_ERR_EXISTS, &err,
                 "setup with another maxReceiveCount");
    check_status(cr_queue_open(url, NULL, &q, &err), CR_OK, &err, "open the made queue");
    return q;
}

/* Send, receive, counts, delete, receipts. */
static void queue_basics(struct cr_queue *q)
{
    struct cr_error err = {0};
    struct cr_queue_message m[CR_QUEUE_MAX_BATCH];
    char id[CR_UUID_STR_LEN];
    check_status(cr_queue_send(q, "{\"n\":1}", 7, id, sizeof(id), &err), CR_OK, &err, "send");
    CHECK_MSG(strlen(id) == 36, "the message id is a UUID");
    check_counts(q, 1, 0, "one visible");
    CHECK_EQ_INT(recv_n(q, 1, 1000, -1, m), 1);
    CHECK_EQ_STR(m[0].id, id);
    CHECK_MSG(m[0].body_len == 7 && strcmp(m[0].body, "{\"n\":1}") == 0, "the body comes back");
    CHECK_MSG(m[0].receive_count == 1 && m[0].sent_ms > 0, "first receive, sent time");
    CHECK_MSG(strncmp(m[0].receipt, "sqs:", 4) == 0, "receipts are marked as ours");
    check_counts(q, 0, 1, "one in flight");
    check_status(cr_queue_delete(q, "not-a-receipt", &err), CR_ERR_INVALID, &err,
                 "a foreign receipt is INVALID");
    check_status(cr_queue_delete(q, "sqs:bogus", &err), CR_ERR_STATE, &err,
                 "a receipt SQS refuses is stale: STATE");
    check_status(cr_queue_change_visibility(q, "sqs:bogus", 5, &err), CR_ERR_STATE, &err,
                 "change visibility with it: STATE");
    check_status(cr_queue_change_visibility(q, m[0].receipt, 0, &err), CR_OK, &err,
                 "visible again at once");
    cr_queue_message_clear(&m[0]);
    CHECK_EQ_INT(recv_n(q, 1, 1000, -1, m), 1);
    CHECK_MSG(m[0].receive_count == 2, "redelivered with receive count 2");
    check_status(cr_queue_delete(q, m[0].receipt, &err), CR_OK, &err, "delete with the receipt");
    cr_queue_message_clear(&m[0]);
    check_counts(q, 0, 0, "empty");
}

/* Long poll, batches, visibility and purge. */
static void queue_polling(struct cr_queue *q)
{
    struct cr_error err = {0};
    struct cr_queue_message m[CR_QUEUE_MAX_BATCH];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ_INT(recv_n(q, 1, 1000, -1, m), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    CHECK_MSG(ms >= 900, "an empty long poll waits its wait_ms");
    for (int i = 0; i < 12; i++) {
        char body[16];
        snprintf(body, sizeof(body), "m%d", i);
        check_status(cr_queue_send(q, body, strlen(body), NULL, 0, &err), CR_OK, &err, body);
    }
    int got = recv_n(q, 10, 1000, 30, m);
    CHECK_MSG(got >= 1 && got <= 10, "a batch receive");
    for (int i = 0; i < got; i++)
        cr_queue_message_clear(&m[i]);
    check_counts(q, 12 - got, got, "the batch is in flight");
    check_status(cr_queue_purge(q, &err), CR_OK, &err, "purge");
    check_counts(q, 0, 0, "purged");
}

/* Two receives without delete move the message to the dead-letter queue. */
static void queue_dead_letters(struct cr_queue *q)
{
    struct cr_error err = {0};
    struct cr_queue_message m[1];
    struct cr_queue *dead = NULL;
    check_status(cr_queue_send(q, "poison", 6, NULL, 0, &err), CR_OK, &err, "send poison");
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_INT(recv_n(q, 1, 1000, 0, m), 1);
        cr_queue_message_clear(&m[0]);
    }
    CHECK_EQ_INT(recv_n(q, 1, 1000, 0, m), 0);
    check_status(cr_queue_open(url_of("sqs", "dead", NULL), NULL, &dead, &err), CR_OK, &err,
                 "open the dead-letter queue");
    CHECK_EQ_INT(recv_n(dead, 1, 1000, -1, m), 1);
    CHECK_MSG(m[0].body && strcmp(m[0].body, "poison") == 0, "dead-lettered after 2 receives");
    cr_queue_message_clear(&m[0]);
    cr_queue_free(dead);
}

/* sqs:// through cr_setup and cr_queue_*: every call and the receipt rules. */
static void check_queue(void)
{
    struct cr_queue *q = open_queues();
    if (!q)
        return;
    queue_basics(q);
    queue_polling(q);
    queue_dead_letters(q);
    cr_queue_free(q);
}

/* ---- fleet ---------------------------------------------------------------------- */

/* Lists the fleet: how many, and how many in state. */
static int count_state(struct cr_fleet *f, int state, int *total)
{
    struct cr_instance_list l = {0};
    struct cr_error err = {0};
    int n = 0;
    *total = -1;
    if (cr_fleet_list(f, &l, &err) != CR_OK) {
        DIAG("list: %s", err.message);
        return -1;
    }
    for (size_t i = 0; i < l.count; i++)
        n += (int)l.items[i].state == state;
    *total = (int)l.count;
    cr_fleet_list_clear(&l);
    return n;
}

/* Opens the fleet with its worker command and requests queue. */
static struct cr_fleet *open_fleet(const char *url, const char *requests)
{
    static const char *argv[8];
    argv[0] = "cloudrec-worker";
    argv[1] = "--output";
    argv[2] = url_of("s3", "out", NULL);
    argv[3] = "--requests";
    argv[4] = requests;
    argv[5] = NULL;
    struct cr_fleet_options o = {.worker_argv = argv, .requests_url = requests};
    struct cr_fleet *f = NULL;
    struct cr_error err = {0};
    check_status(cr_fleet_open(url, &o, &f, &err), CR_OK, &err, "open the ec2 fleet");
    return f;
}

/* Launch within the cap, idle information, stop only members. */
static void fleet_members(struct cr_fleet *f, struct cr_queue *q, const char *untagged)
{
    struct cr_error err = {0};
    int launched = 0, total = 0;
    check_status(cr_fleet_launch(f, 2, &launched, &err), CR_OK, &err, "launch 2");
    CHECK_EQ_INT(launched, 2);
    check_status(cr_fleet_launch(f, 5, &launched, &err), CR_ERR_STATE, &err,
                 "launch 5 more with max=3");
    CHECK_EQ_INT(launched, 1);
    CHECK_MSG(strstr(err.message, "cap of 3") != NULL, "the message names the cap");
    CHECK_EQ_INT(count_state(f, CR_INSTANCE_IDLE, &total), 3);
    CHECK_MSG(total == 3, "three members, idle while nothing is in flight");
    struct cr_queue_message m[1];
    check_status(cr_queue_send(q, "x", 1, NULL, 0, &err), CR_OK, &err, "a message");
    CHECK_EQ_INT(recv_n(q, 1, 1000, 30, m), 1);
    CHECK_EQ_INT(count_state(f, CR_INSTANCE_RUNNING, &total), 3);
    CHECK_MSG(total == 3, "running (not idle) while a message is in flight");
    cr_queue_delete(q, m[0].receipt, NULL);
    cr_queue_message_clear(&m[0]);
    check_status(cr_fleet_stop(f, untagged, &err), CR_ERR_NOT_FOUND, &err,
                 "an instance without the fleet tag is not stopped");
    CHECK_MSG(strstr(err.message, "not in this fleet") != NULL, "and the message says why");
    check_status(cr_fleet_stop(f, "i-0123456789abcdef0", &err), CR_ERR_NOT_FOUND, &err,
                 "an unknown instance");
}

/* Stopping a member (twice), then shutdown with on_exit=terminate. */
static void fleet_stops(struct cr_fleet *f, const char *terminate_url, const char *requests)
{
    struct cr_error err = {0};
    struct cr_instance_list l = {0};
    int total = 0;
    check_status(cr_fleet_list(f, &l, &err), CR_OK, &err, "list");
    if (l.count == 0)
        return;
    char id[CR_FLEET_ID_MAX];
    memcpy(id, l.items[0].id, sizeof(id));
    cr_fleet_list_clear(&l);
    check_status(cr_fleet_stop(f, id, &err), CR_OK, &err, "stop a member");
    check_status(cr_fleet_stop(f, id, &err), CR_OK, &err, "stop it again");
    count_state(f, CR_INSTANCE_IDLE, &total);
    CHECK_MSG(total == 2, "two members left");
    check_status(cr_fleet_shutdown(f, &err), CR_OK, &err, "shutdown keeps instances (default)");
    count_state(f, CR_INSTANCE_IDLE, &total);
    CHECK_MSG(total == 2, "still two");
    struct cr_fleet *g = open_fleet(terminate_url, requests);
    check_status(cr_fleet_shutdown(g, &err), CR_OK, &err, "shutdown with on_exit=terminate");
    count_state(f, CR_INSTANCE_IDLE, &total);
    CHECK_MSG(total == 0, "none left");
    cr_fleet_free(g);
}

/* ec2: through cr_fleet_*: the cap, idle information, tag checks, shutdown. */
static void check_fleet(const char *ami, const char *untagged)
{
    char url[512], terminate_url[600];
    const char *requests = url_of("sqs", "fleetq", NULL);
    struct cr_setup_options so = {.requests_url = requests};
    struct cr_error err = {0};
    struct cr_queue *q = NULL;
    check_status(cr_setup(&so, NULL, NULL, &err), CR_OK, &err, "setup the requests queue");
    check_status(cr_queue_open(requests, NULL, &q, &err), CR_OK, &err, "open it");
    snprintf(url, sizeof(url), "ec2:?ami=%s&fleet=%s-fleet&max=3&type=t3.nano", ami, run_id);
    snprintf(terminate_url, sizeof(terminate_url), "%s&on_exit=terminate", url);
    struct cr_fleet *f = open_fleet(url, requests);
    if (f && q) {
        fleet_members(f, q, untagged);
        fleet_stops(f, terminate_url, requests);
    }
    cr_fleet_free(f);
    cr_queue_free(q);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: backend_check store|queue|fleet RUN [AMI UNTAGGED-ID]\n");
        return 2;
    }
    run_id = argv[2];
    if (strcmp(argv[1], "store") == 0)
        check_store();
    else if (strcmp(argv[1], "queue") == 0)
        check_queue();
    else if (strcmp(argv[1], "fleet") == 0 && argc == 5)
        check_fleet(argv[3], argv[4]);
    else {
        fprintf(stderr, "backend_check: unknown check '%s'\n", argv[1]);
        return 2;
    }
    return tap_done();
}
