/* test_queue.c - cr_queue: URLs and the SQLite queue's SQS semantics, across processes. */
#include "backends/backend.h"
#include "cloudrec/queue.h"
#include "tap.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char root[] = "/tmp/cr-test-queue-XXXXXX";

/* The URL of queue `name` in database file `db` under the test directory. */
static const char *url_of(const char *db, const char *name)
{
    static char urls[4][512];
    static int next;
    char *u = urls[next++ % 4];
    snprintf(u, sizeof(urls[0]), "sqlite://%s/%s?name=%s", root, db, name);
    return u;
}

static struct cr_queue *open_q(const char *db, const char *name,
                               const struct cr_queue_options *opts)
{
    struct cr_queue_options dflt = {.create = 1};
    struct cr_queue *q = NULL;
    struct cr_error err;
    if (cr_queue_open(url_of(db, name), opts ? opts : &dflt, &q, &err) != CR_OK)
        DIAG("open %s: %s", url_of(db, name), err.message);
    return q;
}

static cr_status send_str(struct cr_queue *q, const char *s, char *id)
{
    return cr_queue_send(q, s, strlen(s), id, id ? CR_UUID_STR_LEN : 0, NULL);
}

/* Receives at most one message without waiting; returns how many. */
static size_t recv1(struct cr_queue *q, int visibility_s, struct cr_queue_message *m)
{
    size_t n = 0;
    struct cr_error err;
    if (cr_queue_receive(q, 1, 0, visibility_s, m, &n, &err) != CR_OK)
        DIAG("receive: %s", err.message);
    return n;
}

static void check_counts(struct cr_queue *q, long visible, long in_flight, const char *what)
{
    long v = -1, f = -1;
    CHECK_EQ_INT(cr_queue_counts(q, &v, &f, NULL), CR_OK);
    if (!CHECK_MSG(v == visible && f == in_flight, what))
        DIAG("visible %ld in flight %ld, want %ld %ld", v, f, visible, in_flight);
}

static void test_bad_urls(void)
{
    struct cr_queue *q = (struct cr_queue *)1;
    struct cr_error err;
    struct cr_queue_options create = {.create = 1};
    char url[600];
    snprintf(url, sizeof(url), "sqlite://%s/q.db", root);
    CHECK_EQ_INT(cr_queue_open(url, &create, &q, &err), CR_ERR_INVALID);
    CHECK(q == NULL);
    CHECK_MSG(strstr(err.message, "needs a queue name") != NULL, "no name: says so");
    CHECK_EQ_INT(cr_queue_open("sqlite://data/q.db?name=a", &create, &q, &err), CR_ERR_INVALID);
    CHECK_MSG(strstr(err.message, "absolute path") != NULL, "relative path: says so");
    CHECK_EQ_INT(cr_queue_open("amqp://host/q", &create, &q, &err), CR_ERR_INVALID);
    CHECK_MSG(strstr(err.message, "unknown queue URL scheme \"amqp\"") != NULL,
              "unknown scheme: names it");
    CHECK_EQ_INT(cr_queue_open("requests", &create, &q, &err), CR_ERR_INVALID);
    CHECK_MSG(strstr(err.message, "sqlite:///abs/path/queue.db?name=requests") != NULL,
              "no scheme: shows the forms");
    /* sqs:// names are checked before any AWS set-up (never a request here). */
    static const char *const bad_sqs[] = {"sqs://", "sqs://a/b", "sqs://a b", "sqs://q.fifo",
                                          "sqs://q?x=1"};
    for (size_t i = 0; i < sizeof(bad_sqs) / sizeof(bad_sqs[0]); i++) {
        CHECK_EQ_INT(cr_queue_open(bad_sqs[i], &create, &q, &err), CR_ERR_INVALID);
        CHECK_MSG(strstr(err.message, "sqs://") != NULL, bad_sqs[i]);
    }
    struct cr_queue_options mixed = {
        .max_receive_count = 2, .dead_letter_url = "sqlite:///tmp/q.db?name=d", .create = 1};
    CHECK_EQ_INT(cr_queue_open("sqs://requests", &mixed, &q, &err), CR_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(err.message, "must be sqs://") != NULL,
              "an sqlite dead-letter queue: says so");
    snprintf(url, sizeof(url), "sqlite://%s/q.db?name=a&nmae=b", root);
    CHECK_EQ_INT(cr_queue_open(url, &create, &q, &err), CR_ERR_INVALID);
    CHECK_MSG(strstr(err.message, "unknown parameter \"nmae\"") != NULL, "typo: names it");
    snprintf(url, sizeof(url), "sqlite://%s/q.db?name=a.b", root);
    CHECK_EQ_INT(cr_queue_open(url, &create, &q, &err), CR_ERR_INVALID);
    snprintf(url, sizeof(url), "sqlite://%s/q.db?name=", root);
    CHECK_EQ_INT(cr_queue_open(url, &create, &q, &err), CR_ERR_INVALID);

    struct cr_queue_options bad = {.visibility_timeout_s = -1, .create = 1};
    CHECK_EQ_INT(cr_queue_open(url_of("q.db", "a"), &bad, &q, &err), CR_ERR_INVALID);
    struct cr_queue_options no_max = {.dead_letter_url = url_of("q.db", "dlq"), .create = 1};
    CHECK_EQ_INT(cr_queue_open(url_of("q.db", "a"), &no_max, &q, &err), CR_ERR_INVALID);
    CHECK_MSG(strstr(err.message, "max_receive_count") != NULL, "DLQ without max: says so");

    CHECK_EQ_INT(cr_queue_open(url_of("missing.db", "a"), NULL, &q, &err), CR_ERR_NOT_FOUND);
    snprintf(url, sizeof(url), "%s/missing.db", root);
    struct stat sb;
    CHECK_MSG(stat(url, &sb) != 0, "opening without create makes no file");
    cr_queue_free(open_q("q.db", "exists", NULL));
    CHECK_EQ_INT(cr_queue_open(url_of("q.db", "other"), NULL, &q, &err), CR_ERR_NOT_FOUND);
    CHECK_MSG(strstr(err.message, "other") != NULL, "missing queue: names it");
    snprintf(url, sizeof(url), "%s/notadb", root);
    FILE *f = fopen(url, "w");
    if (f) {
        fputs("this is not a database, just some text that is long enough......\n", f);
        fclose(f);
    }
    CHECK_EQ_INT(cr_queue_open(url_of("notadb", "a"), &create, &q, &err), CR_ERR_FORMAT);
    cr_queue_free(NULL);
}

static void test_send_receive_delete(struct cr_queue *q)
{
    char id[CR_UUID_STR_LEN];
    int64_t before = cr__time_wall_ms();
    CHECK_EQ_INT(send_str(q, "hello", id), CR_OK);
    CHECK_EQ_INT(strlen(id), 36);
    struct cr_queue_message m[2];
    size_t n = 0;
    CHECK_EQ_INT(cr_queue_receive(q, 2, 0, -1, m, &n, NULL), CR_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(m[0].id, id);
    CHECK_EQ_STR(m[0].body, "hello");
    CHECK_EQ_INT(m[0].body_len, 5);
    CHECK_EQ_INT(m[0].receive_count, 1);
    CHECK(m[0].receipt && m[0].receipt[0]);
    CHECK(m[0].sent_ms >= before && m[0].sent_ms <= cr__time_wall_ms());
    CHECK_MSG(m[1].id == NULL && m[1].body == NULL, "unused slots are zeroed");
    check_counts(q, 0, 1, "a received message is in flight");
    struct cr_queue_message again;
    CHECK_MSG(recv1(q, -1, &again) == 0, "an in-flight message is not received again");
    CHECK_EQ_INT(cr_queue_delete(q, m[0].receipt, NULL), CR_OK);
    check_counts(q, 0, 0, "deleted");
    struct cr_error err;
    CHECK_EQ_INT(cr_queue_delete(q, m[0].receipt, &err), CR_ERR_NOT_FOUND);
    CHECK_EQ_INT(cr_queue_delete(q, "not-a-receipt", &err), CR_ERR_INVALID);
    cr_queue_message_clear(&m[0]);
    CHECK(m[0].id == NULL && m[0].receipt == NULL && m[0].body == NULL);
    cr_queue_message_clear(NULL);

    const char bin[] = {'a', '\0', 'b', (char)0xff, '\n'};
    CHECK_EQ_INT(cr_queue_send(q, bin, sizeof(bin), NULL, 0, NULL), CR_OK);
    CHECK_EQ_INT(recv1(q, -1, &m[0]), 1);
    CHECK_MSG(m[0].body_len == sizeof(bin) && memcmp(m[0].body, bin, sizeof(bin)) == 0 &&
                  m[0].body[sizeof(bin)] == '\0',
              "binary body round trip, NUL-terminated");
    cr_queue_delete(q, m[0].receipt, NULL);
    cr_queue_message_clear(&m[0]);
}

static void test_argument_checks(struct cr_queue *q)
{
    struct cr_queue_message m[CR_QUEUE_MAX_BATCH + 1];
    size_t n = 7;
    CHECK_EQ_INT(cr_queue_send(q, "", 0, NULL, 0, NULL), CR_ERR_INVALID);
    char *big = calloc(1, CR_QUEUE_MAX_BODY + 1);
    memset(big, 'x', CR_QUEUE_MAX_BODY + 1);
    CHECK_EQ_INT(cr_queue_send(q, big, CR_QUEUE_MAX_BODY + 1, NULL, 0, NULL), CR_ERR_TOO_LARGE);
    CHECK_EQ_INT(cr_queue_send(q, big, CR_QUEUE_MAX_BODY, NULL, 0, NULL), CR_OK);
    free(big);
    char small[8];
    CHECK_EQ_INT(cr_queue_send(q, "x", 1, small, sizeof(small), NULL), CR_ERR_INVALID);
    CHECK_EQ_INT(cr_queue_receive(q, 0, 0, -1, m, &n, NULL), CR_ERR_INVALID);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(cr_queue_receive(q, 11, 0, -1, m, &n, NULL), CR_ERR_INVALID);
    CHECK_EQ_INT(cr_queue_receive(q, 1, 20001, -1, m, &n, NULL), CR_ERR_INVALID);
    CHECK_EQ_INT(cr_queue_receive(q, 1, -1, -1, m, &n, NULL), CR_ERR_INVALID);
    CHECK_EQ_INT(cr_queue_change_visibility(q, "x", -1, NULL), CR_ERR_INVALID);
    CHECK_EQ_INT(cr_queue_purge(q, NULL), CR_OK);
    check_counts(q, 0, 0, "purged");
}

/* A message not deleted in time comes back with a higher count and a new
 * receipt; the old receipt is then stale. */
static void test_visibility_expiry(struct cr_queue *q)
{
    char id[CR_UUID_STR_LEN];
    send_str(q, "expiring", id);
    struct cr_queue_message m1, m2, none;
    CHECK_EQ_INT(recv1(q, 1, &m1), 1);
    CHECK_EQ_INT(recv1(q, 1, &none), 0);
    int64_t t0 = cr__time_mono_ms();
    size_t n = 0;
    CHECK_EQ_INT(cr_queue_receive(q, 1, 5000, 30, &m2, &n, NULL), CR_OK);
    int64_t waited = cr__time_mono_ms() - t0;
    CHECK_MSG(n == 1, "a long poll wakes when the hidden message becomes visible");
    DIAG("redelivered after %lld ms of a 5000 ms long poll", (long long)waited);
    CHECK_EQ_STR(m2.id, id);
    CHECK_EQ_INT(m2.receive_count, 2);
    CHECK_MSG(m1.receipt && m2.receipt && strcmp(m1.receipt, m2.receipt) != 0,
              "each receive has a new receipt");
    struct cr_error err;
    CHECK_EQ_INT(cr_queue_delete(q, m1.receipt, &err), CR_ERR_STATE);
    CHECK_MSG(strstr(err.message, "stale receipt") != NULL, "stale receipt: says so");
    CHECK_EQ_INT(cr_queue_change_visibility(q, m1.receipt, 0, NULL), CR_ERR_STATE);
    check_counts(q, 0, 1, "still in flight after the stale calls");
    CHECK_EQ_INT(cr_queue_delete(q, m2.receipt, NULL), CR_OK);
    CHECK_EQ_INT(cr_queue_change_visibility(q, m2.receipt, 0, NULL), CR_ERR_NOT_FOUND);
    cr_queue_message_clear(&m1);
    cr_queue_message_clear(&m2);
}

static void test_change_visibility(struct cr_queue *q)
{
    send_str(q, "cv", NULL);
    struct cr_queue_message m, m2;
    CHECK_EQ_INT(recv1(q, 600, &m), 1);
    CHECK_EQ_INT(cr_queue_change_visibility(q, m.receipt, 0, NULL), CR_OK);
    check_counts(q, 1, 0, "visibility 0 makes it visible now");
    CHECK_EQ_INT(recv1(q, -1, &m2), 1);
    CHECK_EQ_INT(m2.receive_count, 2);
    CHECK_EQ_INT(cr_queue_change_visibility(q, m2.receipt, 600, NULL), CR_OK);
    check_counts(q, 0, 1, "a longer visibility hides it again");
    CHECK_EQ_INT(cr_queue_delete(q, m2.receipt, NULL), CR_OK);
    cr_queue_message_clear(&m);
    cr_queue_message_clear(&m2);
}

/* A child process sends after delay_ms; the parent long-polls for it. */
static void test_long_poll_from_other_process(const char *name, const char *mode)
{
    pid_t pid = fork(); /* before opening: a connection must not cross a fork */
    if (pid == 0) {
        usleep(300 * 1000);
        struct cr_queue *w = open_q("poll.db", name, NULL);
        int bad = !w || send_str(w, "from-child", NULL) != CR_OK;
        cr_queue_free(w);
        _exit(bad);
    }
    struct cr_queue *q = open_q("poll.db", name, NULL);
    struct cr_queue_message m;
    size_t n = 0;
    int64_t t0 = cr__time_mono_ms();
    CHECK_EQ_INT(cr_queue_receive(q, 1, 15000, -1, &m, &n, NULL), CR_OK);
    int64_t waited = cr__time_mono_ms() - t0;
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the sending process succeeded");
    CHECK_MSG(n == 1 && strcmp(m.body, "from-child") == 0,
              "a long poll returns the message another process sent");
    CHECK_MSG(waited < 15000, "it returned before the wait ran out");
    DIAG("%s: received %lld ms after starting to wait (child sent at ~300 ms)", mode,
         (long long)waited);
    if (n == 1)
        cr_queue_delete(q, m.receipt, NULL);
    cr_queue_message_clear(&m);

    t0 = cr__time_mono_ms();
    n = 9;
    CHECK_EQ_INT(cr_queue_receive(q, 1, 300, -1, &m, &n, NULL), CR_OK);
    waited = cr__time_mono_ms() - t0;
    CHECK_MSG(n == 0, "an empty queue gives nothing after the wait");
    if (!CHECK_MSG(waited >= 299, "an empty long poll waits the whole wait_ms"))
        DIAG("waited %lld ms", (long long)waited);
    cr_queue_free(q);
}

static void test_batch_and_order(struct cr_queue *q)
{
    char body[16];
    for (int i = 0; i < 25; i++) {
        snprintf(body, sizeof(body), "m%02d", i);
        send_str(q, body, NULL);
    }
    check_counts(q, 25, 0, "25 sent, all visible");
    struct cr_queue_message m[CR_QUEUE_MAX_BATCH];
    int next = 0, in_order = 1, unique = 1;
    size_t sizes[4] = {0};
    for (int round = 0; round < 4; round++) {
        CHECK_EQ_INT(cr_queue_receive(q, CR_QUEUE_MAX_BATCH, 0, 60, m, &sizes[round], NULL), CR_OK);
        for (size_t i = 0; i < sizes[round]; i++, next++) {
            snprintf(body, sizeof(body), "m%02d", next);
            in_order &= strcmp(m[i].body, body) == 0;
            for (size_t j = 0; j < i; j++)
                unique &= strcmp(m[i].receipt, m[j].receipt) != 0;
        }
        for (size_t i = 0; i < sizes[round]; i++)
            cr_queue_message_clear(&m[i]);
    }
    CHECK_MSG(sizes[0] == 10 && sizes[1] == 10 && sizes[2] == 5 && sizes[3] == 0,
              "batches of 10, 10, 5, then none");
    CHECK_MSG(in_order, "messages come in send order");
    CHECK_MSG(unique, "receipts within a batch differ");
    check_counts(q, 0, 25, "all 25 in flight");
}

static void test_purge_isolated(void)
{
    struct cr_queue *a = open_q("q.db", "purge-a", NULL), *b = open_q("q.db", "purge-b", NULL);
    send_str(a, "a1", NULL);
    send_str(a, "a2", NULL);
    send_str(b, "b1", NULL);
    struct cr_queue_message m;
    recv1(a, 60, &m);
    cr_queue_message_clear(&m);
    check_counts(a, 1, 1, "queue a: one visible, one in flight");
    CHECK_EQ_INT(cr_queue_purge(a, NULL), CR_OK);
    check_counts(a, 0, 0, "purge empties the queue, in-flight messages too");
    check_counts(b, 1, 0, "another queue in the same file keeps its messages");
    CHECK_EQ_INT(recv1(b, -1, &m), 1);
    CHECK_EQ_STR(m.body, "b1");
    cr_queue_message_clear(&m);
    cr_queue_free(a);
    cr_queue_free(b);
}

static void test_dead_letter(void)
{
    struct cr_queue_options o = {
        .max_receive_count = 2, .dead_letter_url = url_of("q.db", "work-dlq"), .create = 1};
    struct cr_queue *q = open_q("q.db", "work", &o), *dlq = open_q("q.db", "work-dlq", NULL);
    char id[CR_UUID_STR_LEN];
    send_str(q, "poison", id);
    struct cr_queue_message m;
    CHECK_EQ_INT(recv1(q, 0, &m), 1);
    CHECK_EQ_INT(m.receive_count, 1);
    cr_queue_message_clear(&m);
    CHECK_EQ_INT(recv1(q, 0, &m), 1);
    CHECK_EQ_INT(m.receive_count, 2);
    cr_queue_message_clear(&m);
    CHECK_MSG(recv1(q, 0, &m) == 0, "after max_receive_count receives it is not delivered again");
    check_counts(q, 0, 0, "the source queue no longer has it");
    check_counts(dlq, 1, 0, "the dead-letter queue has it");
    CHECK_EQ_INT(recv1(dlq, 60, &m), 1);
    CHECK_EQ_STR(m.id, id);
    CHECK_EQ_STR(m.body, "poison");
    CHECK_EQ_INT(m.receive_count, 1);
    cr_queue_delete(dlq, m.receipt, NULL);
    cr_queue_message_clear(&m);
    cr_queue_free(q);

    /* The redrive policy is stored with the queue: a handle opened without
     * options applies it too. */
    struct cr_queue_options plain = {0};
    q = open_q("q.db", "work", &plain);
    send_str(q, "poison-2", NULL);
    recv1(q, 0, &m);
    cr_queue_message_clear(&m);
    recv1(q, 0, &m);
    cr_queue_message_clear(&m);
    CHECK_MSG(recv1(q, 0, &m) == 0, "the stored max_receive_count applies to every handle");
    check_counts(dlq, 1, 0, "and the message is dead-lettered");
    cr_queue_free(q);
    cr_queue_free(dlq);

    struct cr_queue_options drop = {.max_receive_count = 1, .create = 1};
    q = open_q("q.db", "drop", &drop);
    send_str(q, "dropped", NULL);
    recv1(q, 0, &m);
    cr_queue_message_clear(&m);
    CHECK_MSG(recv1(q, 0, &m) == 0, "without a dead-letter queue it is dropped");
    check_counts(q, 0, 0, "nothing is left");
    cr_queue_free(q);

    struct cr_error err;
    struct cr_queue_options other_file = {
        .max_receive_count = 2, .dead_letter_url = url_of("other.db", "dlq"), .create = 1};
    CHECK_EQ_INT(cr_queue_open(url_of("q.db", "x"), &other_file, &q, &err), CR_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(err.message, "same database file") != NULL, "other file: says so");
    struct cr_queue_options sqs = {
        .max_receive_count = 2, .dead_letter_url = "sqs://dlq", .create = 1};
    CHECK_EQ_INT(cr_queue_open(url_of("q.db", "x"), &sqs, &q, &err), CR_ERR_UNSUPPORTED);
}

/* Child of test_many_processes: receives and deletes until it takes a
 * "stop" message, writing "<body> <receive count>\n" per message to fd.
 * Workers take batches of different sizes (1, 4, 7, 10). */
static int worker(const char *name, int id, int fd)
{
    struct cr_queue *q = open_q("multi.db", name, NULL);
    struct cr_queue_message m[CR_QUEUE_MAX_BATCH];
    int batch = 1 + id * 3, stop = 0, bad = !q;
    int64_t give_up = cr__time_mono_ms() + 60000;
    while (!stop && !bad && cr__time_mono_ms() < give_up) {
        size_t n = 0;
        bad |= cr_queue_receive(q, batch, 1000, 120, m, &n, NULL) != CR_OK;
        for (size_t i = 0; i < n; i++) {
            int is_stop = strcmp(m[i].body, "stop") == 0;
            if (is_stop && stop) {
                /* One stop per worker: hand extra ones back to the others. */
                bad |= cr_queue_change_visibility(q, m[i].receipt, 0, NULL) != CR_OK;
                cr_queue_message_clear(&m[i]);
                continue;
            }
            char line[64];
            int len = snprintf(line, sizeof(line), "%s %d\n", m[i].body,
                               is_stop ? 1 : m[i].receive_count);
            stop |= is_stop;
            bad |= cr_queue_delete(q, m[i].receipt, NULL) != CR_OK;
            bad |= write(fd, line, (size_t)len) != len;
            cr_queue_message_clear(&m[i]);
        }
    }
    cr_queue_free(q);
    return bad || !stop;
}

/* Four processes receive 200 messages while they are being sent: each is
 * processed exactly once, none is lost. */
static void test_many_processes(const char *name)
{
    enum { WORKERS = 4, MESSAGES = 200 };
    int fds[2];
    if (pipe(fds) != 0)
        return;
    pid_t pids[WORKERS];
    for (int w = 0; w < WORKERS; w++) {
        if ((pids[w] = fork()) == 0) {
            close(fds[0]);
            _exit(worker(name, w, fds[1]));
        }
    }
    close(fds[1]);
    struct cr_queue *q = open_q("multi.db", name, NULL); /* after the forks */
    char body[32];
    int sent = 0;
    for (int i = 0; i < MESSAGES; i++) {
        snprintf(body, sizeof(body), "msg-%03d", i);
        sent += send_str(q, body, NULL) == CR_OK;
    }
    for (int w = 0; w < WORKERS; w++)
        sent += send_str(q, "stop", NULL) == CR_OK;
    CHECK_EQ_INT(sent, MESSAGES + WORKERS);

    int seen[MESSAGES] = {0}, stops = 0, redelivered = 0, junk = 0;
    FILE *in = fdopen(fds[0], "r");
    char line[128];
    while (in && fgets(line, sizeof(line), in)) {
        int idx = -1, count = 0;
        if (sscanf(line, "msg-%d %d", &idx, &count) == 2 && idx >= 0 && idx < MESSAGES)
            seen[idx]++;
        else if (sscanf(line, "stop %d", &count) == 1)
            stops++;
        else
            junk++;
        redelivered += count != 1;
    }
    if (in)
        fclose(in);
    int ok_children = 0;
    for (int w = 0; w < WORKERS; w++) {
        int status = 0;
        waitpid(pids[w], &status, 0);
        ok_children += WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    int once = 0;
    for (int i = 0; i < MESSAGES; i++)
        once += seen[i] == 1;
    CHECK_EQ_INT(ok_children, WORKERS);
    CHECK_MSG(once == MESSAGES, "every message was processed exactly once");
    if (once != MESSAGES)
        DIAG("%d of %d exactly once", once, MESSAGES);
    CHECK_EQ_INT(stops, WORKERS);
    CHECK_EQ_INT(redelivered, 0);
    CHECK_EQ_INT(junk, 0);
    check_counts(q, 0, 0, "the queue is empty afterwards");
    cr_queue_free(q);
}

/* Removes a database file and its WAL and shared-memory files. */
static void remove_db(const char *db)
{
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char path[600];
        snprintf(path, sizeof(path), "%s/%s%s", root, db, suffix[i]);
        unlink(path);
    }
}

/* A database removed under an open handle: every operation says so instead
 * of writing to the deleted file; once the file is recreated the old handle
 * says it was replaced, and a new handle works. */
static void test_removed_database(void)
{
    struct cr_queue *q = open_q("gone.db", "requests", NULL);
    struct cr_error err = {0};
    CHECK_EQ_INT(send_str(q, "before", NULL), CR_OK);
    remove_db("gone.db");
    CHECK_EQ_INT(cr_queue_send(q, "lost?", 5, NULL, 0, &err), CR_ERR_STATE);
    CHECK(strstr(err.message, "the queue database was removed") != NULL);
    long v = 0, f = 0;
    CHECK_EQ_INT(cr_queue_counts(q, &v, &f, &err), CR_ERR_STATE);
    struct cr_queue_message m[1];
    size_t n = 9;
    memset(m, 0, sizeof(m));
    CHECK_EQ_INT(cr_queue_receive(q, 1, 0, 30, m, &n, &err), CR_ERR_STATE);
    CHECK_EQ_INT(n, 0);
    struct cr_queue_options no_create = {0};
    struct cr_queue *none = NULL;
    CHECK_EQ_INT(cr_queue_open(url_of("gone.db", "requests"), &no_create, &none, &err),
                 CR_ERR_NOT_FOUND);
    struct cr_queue *fresh = open_q("gone.db", "requests", NULL); /* recreated */
    CHECK_EQ_INT(cr_queue_send(q, "stale", 5, NULL, 0, &err), CR_ERR_STATE);
    CHECK(strstr(err.message, "was replaced") != NULL);
    CHECK_EQ_INT(send_str(fresh, "after", NULL), CR_OK);
    check_counts(fresh, 1, 0, "the new file holds only what was sent to it");
    cr_queue_free(fresh);
    cr_queue_free(q);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    test_bad_urls();
    struct cr_queue *q = open_q("q.db", "requests", NULL);
    CHECK(q != NULL);
    if (q) {
        test_send_receive_delete(q);
        test_argument_checks(q);
        test_visibility_expiry(q);
        test_change_visibility(q);
        test_batch_and_order(q);
        CHECK_EQ_INT(cr_queue_purge(q, NULL), CR_OK);
    }
    cr_queue_free(q);
    test_purge_isolated();
    test_dead_letter();
    test_removed_database();
    test_long_poll_from_other_process("poll-inotify", "inotify wake-up");
    test_many_processes("multi-inotify");
    cr__queue_sqlite_set_poll_only(1);
    test_long_poll_from_other_process("poll-sleep", "sleep polling");
    test_many_processes("multi-sleep");
    cr__queue_sqlite_set_poll_only(0);

    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    if (system(cmd) != 0)
        DIAG("could not remove %s", root);
    return tap_done();
}
