/*
 * queue_sqlite.c - sqlite:///abs/path/queue.db?name=requests, queues with SQS
 * semantics in one SQLite file shared by many processes. The library's only
 * user of sqlite3.
 *
 * Layout: table cr_queues holds one row of attributes per named queue
 * (default visibility timeout, max receive count, dead-letter queue name);
 * table cr_messages holds every message of every queue in the file, with
 * visible_ms (wall-clock ms from which it may be received), receive_count and
 * the receipt of its latest receive. Order is the rowid `seq`, i.e. send order.
 *
 * Concurrency: WAL journal (readers never block the writer), a busy timeout,
 * and BEGIN IMMEDIATE around every read-then-write transaction, so the write
 * lock is taken before a receive looks for visible messages: two receives,
 * in any processes, are serialised and never hand out the same visible
 * message. Single-statement writes (send, delete, change visibility, purge)
 * are atomic on their own. Any SQLITE_BUSY/LOCKED that the busy handler does
 * not absorb rolls the transaction back and retries it, for up to 30 s.
 *
 * Long poll: a receive first peeks (a plain read, no write lock) at the
 * earliest visible_ms of its queue, and only takes the write lock when a
 * message is visible. To wait, it sleeps on an inotify watch (IN_ATTRIB) of
 * the database's WAL file. Every call that can make a message visible (send,
 * change visibility, a receive that dead-letters) touches the WAL file's
 * timestamps right after its commit, so a waiter in any process wakes at
 * once. (Watching the WAL's writes instead would be racy: a commit becomes
 * visible only when the shared-memory index is updated after the last write
 * and the fsync, and that update makes no inotify event.) The sleep is also
 * cut short when an in-flight message becomes visible again, and lasts at
 * most 250 ms as a safety net for writers that do not touch the file.
 * Without inotify (limits, odd file systems) it polls with sleeps growing
 * from 5 to 50 ms. Visibility uses the wall clock (cr__time_wall_ms) because
 * it is compared across processes.
 */
#include "backends/backend.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SQ_EXAMPLE "sqlite:///abs/path/queue.db?name=requests"
#define SQ_NAME_MAX 80 /* as SQS: 1..80 of [A-Za-z0-9_-] */
#define SQ_DEFAULT_VISIBILITY_S 30
#define SQ_BUSY_TIMEOUT_MS 5000 /* our busy handler's limit, per lock wait */
#define SQ_BUSY_MAX_US 2000     /* its longest sleep between lock attempts */
#define SQ_RETRY_MS 30000       /* our retries on top of it, per operation */
#define SQ_WAKE_CAP_MS 250      /* longest sleep between checks with inotify */
#define SQ_POLL_MIN_MS 5        /* polling without inotify: first sleep... */
#define SQ_POLL_MAX_MS 50       /* ...growing to this */
#define SQ_SCHEMA_VERSION 1
#define SQ_APPLICATION_ID 0x63726571 /* "creq" */
#define SQ_RECEIPT_LEN (2 * (CR_UUID_STR_LEN - 1) + 1)

static int sq_poll_only; /* tests: force the polling path */

void cr__queue_sqlite_set_poll_only(int on)
{
    sq_poll_only = on;
}

enum sq_stmt {
    SQ_BEGIN,
    SQ_COMMIT,
    SQ_SEND,
    SQ_PEEK,
    SQ_SELECT,
    SQ_MARK,
    SQ_MOVE,
    SQ_DROP,
    SQ_DELETE,
    SQ_FIND,
    SQ_CHVIS,
    SQ_COUNTS,
    SQ_PURGE,
    SQ_STMT_COUNT
};

/* ?1 is always the queue name where a queue is involved. */
static const char *const sq_sql[SQ_STMT_COUNT] = {
    [SQ_BEGIN] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_SEND] = "INSERT INTO cr_messages(queue, id, body, sent_ms, visible_ms, receive_count)"
                " VALUES (?1, ?2, ?3, ?4, ?4, 0)",
    [SQ_PEEK] = "SELECT min(visible_ms) FROM cr_messages WHERE queue = ?1",
    [SQ_SELECT] = "SELECT seq, id, body, sent_ms, receive_count"
                  " FROM cr_messages INDEXED BY cr_messages_fifo"
                  " WHERE queue = ?1 AND seq > ?2 AND visible_ms <= ?3 ORDER BY seq LIMIT ?4",
    [SQ_MARK] = "UPDATE cr_messages SET receive_count = receive_count + 1, receipt = ?2,"
                " visible_ms = ?3 WHERE seq = ?1",
    [SQ_MOVE] = "UPDATE cr_messages SET queue = ?2, receive_count = 0, receipt = NULL,"
                " visible_ms = ?3 WHERE seq = ?1",
    [SQ_DROP] = "DELETE FROM cr_messages WHERE seq = ?1",
    [SQ_DELETE] = "DELETE FROM cr_messages WHERE queue = ?1 AND id = ?2 AND receipt = ?3",
    [SQ_FIND] = "SELECT 1 FROM cr_messages WHERE queue = ?1 AND id = ?2",
    [SQ_CHVIS] = "UPDATE cr_messages SET visible_ms = ?4"
                 " WHERE queue = ?1 AND id = ?2 AND receipt = ?3",
    [SQ_COUNTS] = "SELECT (SELECT count(*) FROM cr_messages WHERE queue = ?1 AND visible_ms <= ?2),"
                  " (SELECT count(*) FROM cr_messages WHERE queue = ?1 AND visible_ms > ?2)",
    [SQ_PURGE] = "DELETE FROM cr_messages WHERE queue = ?1",
};

static const char sq_schema[] =
    "CREATE TABLE IF NOT EXISTS cr_queues ("
    " name TEXT PRIMARY KEY NOT NULL,"
    " visibility_timeout_s INTEGER NOT NULL,"
    " max_receive_count INTEGER NOT NULL,"
    " dead_letter TEXT,"
    " created_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS cr_messages ("
    " seq INTEGER PRIMARY KEY,"
    " queue TEXT NOT NULL,"
    " id TEXT NOT NULL UNIQUE,"
    " body BLOB NOT NULL,"
    " sent_ms INTEGER NOT NULL,"
    " visible_ms INTEGER NOT NULL,"
    " receive_count INTEGER NOT NULL,"
    " receipt TEXT);"
    "CREATE INDEX IF NOT EXISTS cr_messages_fifo ON cr_messages(queue, seq);"
    "CREATE INDEX IF NOT EXISTS cr_messages_visible ON cr_messages(queue, visible_ms);";

struct sq_queue {
    sqlite3 *db;
    char *path;            /* the database file */
    char *wal_path;        /* its WAL file, touched to wake waiting receives */
    char *name;            /* this queue */
    char *dead_letter;     /* the dead-letter queue's name, NULL = drop */
    int visibility_s;      /* default visibility timeout */
    int max_receive;       /* 0 = no dead-lettering */
    int wake_fd;           /* inotify on the WAL file; -1 = none (poll) */
    int wake_tried;        /* 1 once we tried to set wake_fd up */
    int64_t busy_since_ms; /* when the current lock wait began */
    uint32_t rng;          /* xorshift state for busy-wait jitter */
    char errmsg[256];      /* SQLite's message for sq_run's last failure */
    dev_t dev;             /* the file this connection opened, to notice when */
    ino_t ino;             /* it is removed or replaced under us */
    sqlite3_stmt *stmt[SQ_STMT_COUNT];
};

/* ---- small helpers --------------------------------------------------------*/

/* Sleeps ms milliseconds, resuming after signals. */
static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* True for the results that mean "someone else holds the lock". */
static int is_busy(int rc)
{
    return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

/* Maps a SQLite result to a status and fills err with the queue, the
 * operation and SQLite's message. */
static cr_status sq_fail(const struct sq_queue *q, int rc, const char *what, struct cr_error *err)
{
    cr_status st = CR_ERR_IO;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        st = CR_ERR_TIMEOUT;
        break;
    case SQLITE_NOMEM:
        st = CR_ERR_NOMEM;
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        st = CR_ERR_FORMAT;
        break;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISUSE:
    case SQLITE_ERROR:
        st = CR_ERR_INTERNAL;
        break;
    }
    const char *msg = q->errmsg[0] ? q->errmsg : q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc);
    return cr__fail(err, st, "%s?name=%s: %s: %s", q->path, q->name, what, msg);
}

/* Steps a statement that returns no rows and resets it. SQLITE_DONE is 0. */
static int step_done(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Binds the handle's queue name as ?1 (it outlives every statement use). */
static void bind_queue(sqlite3_stmt *s, const struct sq_queue *q)
{
    sqlite3_bind_text(s, 1, q->name, -1, SQLITE_STATIC);
}

/* Rolls back whatever transaction an interrupted operation left open. */
static void sq_rollback(struct sq_queue *q)
{
    if (!sqlite3_get_autocommit(q->db))
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
}

typedef int (*sq_op_fn)(struct sq_queue *q, void *arg);

/* Runs op(q, arg), which returns a SQLite code, again after a rollback and a
 * short sleep while it fails with SQLITE_BUSY/LOCKED, for up to SQ_RETRY_MS.
 * The op must leave its statements reset and be safe to repeat after a
 * rollback; a transaction it leaves open is rolled back. Returns the op's
 * last code. */
static int sq_run(struct sq_queue *q, sq_op_fn op, void *arg)
{
    int64_t give_up = cr__time_mono_ms() + SQ_RETRY_MS;
    int64_t delay = 1;
    q->errmsg[0] = '\0';
    for (;;) {
        int rc = op(q, arg);
        if (rc != SQLITE_OK) /* before the rollback overwrites it */
            cr__strlcpy(q->errmsg, sqlite3_errmsg(q->db), sizeof(q->errmsg));
        sq_rollback(q); /* a no-op after a commit */
        if (!is_busy(rc) || cr__time_mono_ms() >= give_up)
            return rc;
        sleep_ms(delay);
        delay = delay < 50 ? delay * 2 : 50;
    }
}

/* Remembers which file the connection has open. */
static cr_status remember_file(struct sq_queue *q, struct cr_error *err)
{
    struct stat sb;
    if (stat(q->path, &sb) != 0)
        return cr__fail(err, CR_ERR_IO, "%s: %s", q->path, strerror(errno));
    q->dev = sb.st_dev;
    q->ino = sb.st_ino;
    return CR_OK;
}

/* An open SQLite connection goes on reading and writing a database file
 * that was deleted (the inode lives on), so a removed queue.db would
 * swallow every message silently. Each operation first checks that the
 * path still names the file we opened; if not, it fails with CR_ERR_STATE
 * and the caller reopens the queue (which finds the new file, or none). */
static cr_status check_file(const struct sq_queue *q, struct cr_error *err)
{
    struct stat sb;
    if (stat(q->path, &sb) != 0)
        return cr__fail(err, CR_ERR_STATE,
                        "%s: the queue database was removed (%s); recreate the queues, e.g. "
                        "with cloudrec setup",
                        q->path, strerror(errno));
    if (sb.st_dev != q->dev || sb.st_ino != q->ino)
        return cr__fail(err, CR_ERR_STATE,
                        "%s: the queue database was replaced; reopen the queue", q->path);
    return CR_OK;
}

/* ---- URL -----------------------------------------------------------------*/

/* Queue names follow SQS: 1..80 characters of A-Z a-z 0-9 _ -. */
static int name_is_valid(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > SQ_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* Reads the queue name from the query; every other parameter is refused so
 * typos do not go unnoticed. */
static cr_status parse_query(const char *url, const char *query, char *name, struct cr_error *err)
{
    char key[32], val[SQ_NAME_MAX + 2];
    const char *cur = query ? query : "";
    int rc;
    name[0] = '\0';
    while ((rc = cr__url_query_next(&cur, key, sizeof(key), val, sizeof(val))) == 1) {
        if (strcmp(key, "name") != 0)
            return cr__fail(err, CR_ERR_INVALID, "%s: unknown parameter \"%s\" (only name=)", url,
                            key);
        if (!name_is_valid(val))
            return cr__fail(err, CR_ERR_INVALID,
                            "%s: queue name must be 1..%d characters of A-Z a-z 0-9 _ -", url,
                            SQ_NAME_MAX);
        memcpy(name, val, strlen(val) + 1);
    }
    if (rc < 0)
        return cr__fail(err, CR_ERR_INVALID, "%s: malformed parameters, e.g. %s", url, SQ_EXAMPLE);
    if (!name[0])
        return cr__fail(err, CR_ERR_INVALID, "%s: needs a queue name, e.g. %s", url, SQ_EXAMPLE);
    return CR_OK;
}

/* Splits a sqlite URL into a malloc'd database path and the queue name
 * (a buffer of SQ_NAME_MAX + 1 bytes). */
static cr_status parse_url(const char *url, char **path, char *name, struct cr_error *err)
{
    char *query = NULL;
    cr_status st = cr__url_local_path(url, "sqlite", SQ_EXAMPLE, path, &query, err);
    if (st == CR_OK && (st = parse_query(url, query, name, err)) != CR_OK) {
        free(*path);
        *path = NULL;
    }
    free(query);
    return st;
}

/* The dead-letter queue must live in the same file: only then can a receive
 * move a message there in the same transaction. Fills dlq_name. */
static cr_status parse_dead_letter(const char *url, const char *path, const char *name,
                                   char *dlq_name, struct cr_error *err)
{
    if (strncmp(url, "sqlite://", 9) != 0)
        return cr__fail(err, CR_ERR_UNSUPPORTED,
                        "dead-letter queue %s: a sqlite queue can only dead-letter to another "
                        "sqlite queue in the same file",
                        url);
    char *dlq_path = NULL;
    cr_status st = parse_url(url, &dlq_path, dlq_name, err);
    if (st != CR_OK)
        return st;
    struct stat a, b;
    int same = strcmp(dlq_path, path) == 0 || (stat(dlq_path, &a) == 0 && stat(path, &b) == 0 &&
                                               a.st_dev == b.st_dev && a.st_ino == b.st_ino);
    if (!same)
        st = cr__fail(err, CR_ERR_UNSUPPORTED,
                      "dead-letter queue %s must be in the same database file (%s)", url, path);
    else if (strcmp(dlq_name, name) == 0)
        st = cr__fail(err, CR_ERR_INVALID, "%s: a queue cannot be its own dead-letter queue", url);
    free(dlq_path);
    return st;
}

/* ---- opening: schema and queue attributes --------------------------------*/

struct sq_setup {
    const struct cr_queue_options *opts;
    const char *dlq_name; /* from opts->dead_letter_url, NULL if none */
    cr_status verdict;    /* a refusal that is not a SQLite error */
    char why[160];
};

/* Runs one statement with an optional integer result (first column of the
 * first row; *out untouched when there is no row or it is NULL). */
static int query_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && out && sqlite3_column_type(s, 0) != SQLITE_NULL)
        *out = sqlite3_column_int64(s, 0);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize(s);
    return rc;
}

/* Creates the tables in a fresh file, or checks that an existing file is a
 * queue database this code understands. */
static int setup_schema(struct sq_queue *q, struct sq_setup *a)
{
    int64_t version = 0, app_id = 0, objects = 0;
    int rc = query_int(q->db, "PRAGMA user_version", &version);
    if (rc == SQLITE_OK)
        rc = query_int(q->db, "PRAGMA application_id", &app_id);
    if (rc == SQLITE_OK)
        rc = query_int(q->db, "SELECT count(*) FROM sqlite_master", &objects);
    if (rc != SQLITE_OK)
        return rc;
    if (objects == 0 && app_id == 0) { /* a new, empty file */
        if (!a->opts->create) {
            a->verdict = CR_ERR_NOT_FOUND;
            snprintf(a->why, sizeof(a->why), "no queue \"%s\" (open with create)", q->name);
            return SQLITE_OK;
        }
        char sql[sizeof(sq_schema) + 96];
        snprintf(sql, sizeof(sql), "%sPRAGMA user_version = %d; PRAGMA application_id = %d;",
                 sq_schema, SQ_SCHEMA_VERSION, SQ_APPLICATION_ID);
        return sqlite3_exec(q->db, sql, NULL, NULL, NULL);
    }
    if (app_id != SQ_APPLICATION_ID) {
        a->verdict = CR_ERR_FORMAT;
        snprintf(a->why, sizeof(a->why), "not a libcloudrec queue database");
    } else if (version > SQ_SCHEMA_VERSION) {
        a->verdict = CR_ERR_UNSUPPORTED;
        snprintf(a->why, sizeof(a->why), "schema version %lld is newer than this library's (%d)",
                 (long long)version, SQ_SCHEMA_VERSION);
    }
    return SQLITE_OK;
}

/* With create, inserts the queue's row or overwrites the attributes given
 * as non-zero options; without it only updates an existing row. */
static int upsert_queue(struct sq_queue *q, const char *name, int visibility_s, int max_receive,
                        const char *dead_letter, int create)
{
    static const char set[] =
        " visibility_timeout_s = CASE WHEN ?2 > 0 THEN ?2 ELSE visibility_timeout_s END,"
        " max_receive_count = CASE WHEN ?3 > 0 THEN ?3 ELSE max_receive_count END,"
        " dead_letter = coalesce(?4, dead_letter)";
    char sql[512];
    if (create)
        snprintf(sql, sizeof(sql),
                 "INSERT INTO cr_queues(name, visibility_timeout_s, max_receive_count,"
                 " dead_letter, created_ms) VALUES (?1, CASE WHEN ?2 > 0 THEN ?2 ELSE %d END,"
                 " ?3, ?4, ?5) ON CONFLICT(name) DO UPDATE SET%s",
                 SQ_DEFAULT_VISIBILITY_S, set);
    else
        snprintf(sql, sizeof(sql), "UPDATE cr_queues SET%s WHERE name = ?1", set);
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(q->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, visibility_s);
    sqlite3_bind_int(s, 3, max_receive);
    if (dead_letter)
        sqlite3_bind_text(s, 4, dead_letter, -1, SQLITE_STATIC);
    if (create)
        sqlite3_bind_int64(s, 5, cr__time_wall_ms());
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Reads the attributes of queue `name` into q (when load) or only checks
 * that it exists; *found says whether it does. */
static int load_queue(struct sq_queue *q, const char *name, int load, int *found)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(q->db,
                                "SELECT visibility_timeout_s, max_receive_count, dead_letter"
                                " FROM cr_queues WHERE name = ?1",
                                -1, &s, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW && load) {
        q->visibility_s = sqlite3_column_int(s, 0);
        q->max_receive = sqlite3_column_int(s, 1);
        const char *dl = (const char *)sqlite3_column_text(s, 2);
        free(q->dead_letter);
        q->dead_letter = dl ? strdup(dl) : NULL;
        if (dl && !q->dead_letter)
            rc = SQLITE_NOMEM;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Makes sure queue `name` exists (creating it when allowed) and, for the
 * handle's own queue, loads its attributes. */
static int ensure_queue(struct sq_queue *q, struct sq_setup *a, const char *name, int own)
{
    const struct cr_queue_options *o = a->opts;
    int rc = own ? upsert_queue(q, name, o->visibility_timeout_s, o->max_receive_count, a->dlq_name,
                                o->create)
                 : upsert_queue(q, name, 0, 0, NULL, o->create);
    int found = 0;
    if (rc == SQLITE_OK)
        rc = load_queue(q, name, own, &found);
    if (rc == SQLITE_OK && !found) {
        a->verdict = CR_ERR_NOT_FOUND;
        snprintf(a->why, sizeof(a->why), "no %squeue \"%s\" (open with create)",
                 own ? "" : "dead-letter ", name);
    }
    return rc;
}

/* The open-time transaction: schema, this queue, its dead-letter queue. */
static int setup_op(struct sq_queue *q, void *arg)
{
    struct sq_setup *a = arg;
    a->verdict = CR_OK;
    int rc = sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = setup_schema(q, a);
    if (rc == SQLITE_OK && a->verdict == CR_OK)
        rc = ensure_queue(q, a, q->name, 1);
    if (rc == SQLITE_OK && a->verdict == CR_OK && a->dlq_name)
        rc = ensure_queue(q, a, a->dlq_name, 0);
    if (rc == SQLITE_OK && a->verdict == CR_OK)
        rc = sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL);
    return rc;
}

/* SQLite calls this while another connection holds a lock it needs; nonzero
 * means "try again". Its stock handler sleeps 1, 2, 5, 10, 15... ms, which
 * leaves the lock idle most of the time when, as here, transactions last a
 * fraction of a millisecond; with a dozen processes that cut throughput
 * several times over. This one sleeps 50 us doubling to 2 ms, with jitter so
 * waiters do not retry in lockstep, and gives up after SQ_BUSY_TIMEOUT_MS
 * (sq_run may then retry the whole operation). */
static int busy_handler(void *arg, int count)
{
    struct sq_queue *q = arg;
    int64_t now = cr__time_mono_ms();
    if (count == 0)
        q->busy_since_ms = now;
    else if (now - q->busy_since_ms > SQ_BUSY_TIMEOUT_MS)
        return 0;
    uint32_t max_us = count < 6 ? 50u << count : SQ_BUSY_MAX_US;
    max_us = max_us < SQ_BUSY_MAX_US ? max_us : SQ_BUSY_MAX_US;
    q->rng ^= q->rng << 13;
    q->rng ^= q->rng >> 17;
    q->rng ^= q->rng << 5;
    uint32_t us = max_us / 2 + q->rng % (max_us / 2 + 1);
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)us * 1000};
    nanosleep(&ts, NULL);
    return 1;
}

/* Sets the per-connection options; journal_mode=WAL also converts a new
 * file (the setting then sticks to the file). */
static int configure_connection(struct sq_queue *q)
{
    q->rng = ((uint32_t)getpid() * 2654435761u) ^ (uint32_t)cr__time_mono_us() ^ 1u;
    if (!q->rng)
        q->rng = 1; /* xorshift must not start at 0 */
    sqlite3_busy_handler(q->db, busy_handler, q);
    int rc = sqlite3_exec(q->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(q->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
    return rc;
}

/* configure_connection as an sq_run op. */
static int configure_op(struct sq_queue *q, void *arg)
{
    (void)arg;
    return configure_connection(q);
}

/* Prepares every statement the handle keeps for its lifetime. */
static cr_status prepare_statements(struct sq_queue *q, struct cr_error *err)
{
    for (int i = 0; i < SQ_STMT_COUNT; i++) {
        int rc =
            sqlite3_prepare_v3(q->db, sq_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->stmt[i], NULL);
        if (rc != SQLITE_OK)
            return sq_fail(q, rc, "preparing statements", err);
    }
    return CR_OK;
}

/* Opens the file: creates its directory when allowed; a missing file without
 * create is CR_ERR_NOT_FOUND. */
static cr_status open_db(struct sq_queue *q, int create, struct cr_error *err)
{
    if (create) {
        char *dir = strdup(q->path);
        if (!dir)
            return cr__fail(err, CR_ERR_NOMEM, "%s: out of memory", q->path);
        char *slash = strrchr(dir, '/');
        slash[slash == dir ? 1 : 0] = '\0';
        cr_status st = cr__mkdir_p(dir, 0755, err);
        free(dir);
        if (st != CR_OK)
            return st;
    }
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(q->path, &q->db, flags, NULL);
    if (rc == SQLITE_CANTOPEN && !create && access(q->path, F_OK) != 0)
        return cr__fail(err, CR_ERR_NOT_FOUND,
                        "%s: no such queue database (create the queues, e.g. with cloudrec "
                        "setup, or open with create)",
                        q->path);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, "opening", err);
    sqlite3_extended_result_codes(q->db, 1);
    const char *wal = sqlite3_filename_wal(sqlite3_db_filename(q->db, "main"));
    if (wal && !(q->wal_path = strdup(wal)))
        return cr__fail(err, CR_ERR_NOMEM, "%s: out of memory", q->path);
    return CR_OK;
}

/* Finalizes the statements, closes the connection and frees the handle.
 * Accepts a half-built handle (any field NULL). */
static void sq_close(void *impl)
{
    struct sq_queue *q = impl;
    if (!q)
        return;
    for (int i = 0; i < SQ_STMT_COUNT; i++)
        sqlite3_finalize(q->stmt[i]);
    sqlite3_close(q->db); /* every statement is finalized, so this closes */
    if (q->wake_fd >= 0)
        close(q->wake_fd);
    free(q->dead_letter);
    free(q->name);
    free(q->wal_path);
    free(q->path);
    free(q);
}

/* Brings an opened connection to a ready handle: options, schema, queue rows,
 * prepared statements. */
static cr_status sq_setup(struct sq_queue *q, const struct cr_queue_options *opts,
                          const char *dlq_name, struct cr_error *err)
{
    struct sq_setup a = {.opts = opts, .dlq_name = dlq_name};
    int rc = sq_run(q, configure_op, NULL);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, "setting WAL mode", err);
    rc = sq_run(q, setup_op, &a);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, "setting up the queue", err);
    if (a.verdict != CR_OK)
        return cr__fail(err, a.verdict, "%s?name=%s: %s", q->path, q->name, a.why);
    return prepare_statements(q, err);
}

/* Opens queue ?name= in the file (see queue.h for the options). With a
 * dead-letter URL, that queue must be in the same file; it is created too
 * when opts->create is set. On success *impl owns the connection. */
static cr_status sq_open(const char *url, const struct cr_queue_options *opts, void **impl,
                         struct cr_error *err)
{
    char name[SQ_NAME_MAX + 1], dlq_name[SQ_NAME_MAX + 1];
    char *path = NULL;
    cr_status st = parse_url(url, &path, name, err);
    if (st != CR_OK)
        return st;
    struct sq_queue *q = NULL;
    if (opts->dead_letter_url &&
        (st = parse_dead_letter(opts->dead_letter_url, path, name, dlq_name, err)) != CR_OK)
        goto out;
    if ((q = calloc(1, sizeof(*q))))
        q->wake_fd = -1;
    if (!q || !(q->name = strdup(name))) {
        st = cr__fail(err, CR_ERR_NOMEM, "%s: out of memory", url);
        goto out;
    }
    q->path = path;
    path = NULL;
    if ((st = open_db(q, opts->create, err)) != CR_OK ||
        (st = sq_setup(q, opts, opts->dead_letter_url ? dlq_name : NULL, err)) != CR_OK ||
        (st = remember_file(q, err)) != CR_OK)
        goto out;
    *impl = q;
    q = NULL;
out:
    sq_close(q);
    free(path);
    return st;
}

/* ---- wake-ups ------------------------------------------------------------*/

/* Tells receives waiting in any process that a message may have become
 * visible: call after the commit. Best effort; waiters also re-check on
 * their own at least every SQ_WAKE_CAP_MS. */
static void wake_others(const struct sq_queue *q)
{
    if (q->wal_path)
        utimensat(AT_FDCWD, q->wal_path, NULL, 0);
}

/* ---- send ----------------------------------------------------------------*/

struct sq_send {
    const void *body;
    size_t len;
    char id[CR_UUID_STR_LEN];
    int64_t now_ms;
};

/* The send transaction: one INSERT, atomic on its own. */
static int send_op(struct sq_queue *q, void *arg)
{
    struct sq_send *a = arg;
    sqlite3_stmt *s = q->stmt[SQ_SEND];
    bind_queue(s, q);
    sqlite3_bind_text(s, 2, a->id, -1, SQLITE_STATIC);
    sqlite3_bind_blob64(s, 3, a->body, a->len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, a->now_ms);
    return step_done(s);
}

/* Inserts the message, visible at once; its id is a fresh UUID. */
static cr_status sq_send(void *impl, const void *body, size_t body_len, char *id_out,
                         size_t id_out_len, struct cr_error *err)
{
    struct sq_queue *q = impl;
    cr_status checked = check_file(q, err);
    if (checked != CR_OK)
        return checked;
    struct sq_send a = {.body = body, .len = body_len, .now_ms = cr__time_wall_ms()};
    if (cr__uuid_v4(a.id) != CR_OK)
        return cr__fail(err, CR_ERR_IO, "%s?name=%s: no randomness for a message id", q->path,
                        q->name);
    int rc = sq_run(q, send_op, &a);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, "sending", err);
    wake_others(q);
    if (id_out)
        cr__strlcpy(id_out, a.id, id_out_len);
    return CR_OK;
}

/* ---- receive -------------------------------------------------------------*/

struct sq_recv {
    int max;
    int visibility_s;
    struct cr_queue_message *out;
    size_t n;                        /* messages in out[] */
    int64_t seq[CR_QUEUE_MAX_BATCH]; /* their rows */
    int dead;                        /* dead-lettered by this receive */
};

/* Frees the first `count` messages of a receive and forgets them. */
static void recv_clear(struct sq_recv *a, size_t count)
{
    for (size_t i = 0; i < count; i++)
        cr_queue_message_clear(&a->out[i]);
    a->n = 0;
}

/* Copies the current row of SQ_SELECT into m. */
static int copy_row(sqlite3_stmt *s, struct cr_queue_message *m)
{
    const char *id = (const char *)sqlite3_column_text(s, 1);
    const void *body = sqlite3_column_blob(s, 2);
    size_t len = (size_t)sqlite3_column_bytes(s, 2);
    m->id = id ? strdup(id) : NULL;
    m->body = malloc(len + 1);
    if (!m->id || !m->body)
        return SQLITE_NOMEM;
    if (len)
        memcpy(m->body, body, len);
    m->body[len] = '\0';
    m->body_len = len;
    m->sent_ms = sqlite3_column_int64(s, 3);
    m->receive_count = sqlite3_column_int(s, 4);
    return SQLITE_OK;
}

/* Reads up to `want` visible messages after row `after` into out[n...];
 * *got says how many (they are not counted in n yet). */
static int select_batch(struct sq_queue *q, struct sq_recv *a, int64_t now, int64_t after,
                        size_t want, size_t *got)
{
    sqlite3_stmt *s = q->stmt[SQ_SELECT];
    bind_queue(s, q);
    sqlite3_bind_int64(s, 2, after);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)want);
    int rc;
    *got = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        size_t i = a->n + (*got)++;
        a->seq[i] = sqlite3_column_int64(s, 0);
        if ((rc = copy_row(s, &a->out[i])) != SQLITE_OK)
            break;
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Gives message m (row seq) a fresh receipt "<id>:<uuid>" and hides it. */
static int mark_received(struct sq_queue *q, int64_t seq, struct cr_queue_message *m,
                         int64_t visible_ms)
{
    char token[CR_UUID_STR_LEN];
    if (cr__uuid_v4(token) != CR_OK || !(m->receipt = malloc(SQ_RECEIPT_LEN)))
        return SQLITE_NOMEM;
    snprintf(m->receipt, SQ_RECEIPT_LEN, "%s:%s", m->id, token);
    sqlite3_stmt *s = q->stmt[SQ_MARK];
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_text(s, 2, m->receipt, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, visible_ms);
    int rc = step_done(s);
    m->receive_count++;
    return rc;
}

/* Moves row seq to the dead-letter queue (visible there at once, receive
 * count back to 0), or deletes it when the queue has none. */
static int dead_letter(struct sq_queue *q, int64_t seq, int64_t now)
{
    sqlite3_stmt *s = q->stmt[q->dead_letter ? SQ_MOVE : SQ_DROP];
    sqlite3_bind_int64(s, 1, seq);
    if (q->dead_letter) {
        sqlite3_bind_text(s, 2, q->dead_letter, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, now);
    }
    return step_done(s);
}

/* Receives or dead-letters the `got` rows just selected into out[n...],
 * keeping the received ones packed at the front. */
static int take_batch(struct sq_queue *q, struct sq_recv *a, size_t got, int64_t now)
{
    size_t keep = a->n, end = a->n + got;
    int rc = SQLITE_OK;
    for (size_t i = a->n; i < end && rc == SQLITE_OK; i++) {
        struct cr_queue_message *m = &a->out[i];
        if (q->max_receive > 0 && m->receive_count >= q->max_receive) {
            rc = dead_letter(q, a->seq[i], now);
            a->dead++;
            cr_queue_message_clear(m);
            continue;
        }
        rc = mark_received(q, a->seq[i], m, now + (int64_t)a->visibility_s * 1000);
        if (keep != i) {
            a->out[keep] = *m;
            a->seq[keep] = a->seq[i];
            memset(m, 0, sizeof(*m));
        }
        keep++;
    }
    if (rc != SQLITE_OK) {
        recv_clear(a, end);
        return rc;
    }
    a->n = keep;
    return SQLITE_OK;
}

/* The receive transaction: under the write lock, take up to max visible
 * messages in send order, dead-lettering those received too often. */
static int receive_op(struct sq_queue *q, void *arg)
{
    struct sq_recv *a = arg;
    recv_clear(a, a->n); /* a retry starts afresh */
    a->dead = 0;
    int rc = step_done(q->stmt[SQ_BEGIN]);
    int64_t now = cr__time_wall_ms(), after = 0;
    while (rc == SQLITE_OK && a->n < (size_t)a->max) {
        size_t want = (size_t)a->max - a->n, got = 0;
        rc = select_batch(q, a, now, after, want, &got);
        if (rc != SQLITE_OK) {
            recv_clear(a, a->n + got);
            break;
        }
        if (got == 0)
            break;
        after = a->seq[a->n + got - 1];
        rc = take_batch(q, a, got, now);
        if (got < want)
            break;
    }
    if (rc == SQLITE_OK)
        rc = step_done(q->stmt[SQ_COMMIT]);
    if (rc != SQLITE_OK)
        recv_clear(a, a->n);
    return rc;
}

/* Reads the earliest visible_ms of the queue into *(int64_t *)arg
 * (INT64_MAX when empty). A plain read: no write lock. */
static int peek_op(struct sq_queue *q, void *arg)
{
    int64_t *next = arg;
    sqlite3_stmt *s = q->stmt[SQ_PEEK];
    bind_queue(s, q);
    *next = INT64_MAX;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        *next = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Watches the WAL file's attributes, which wake_others() touches, so a
 * waiting receive wakes when a message may have arrived. Falls back to
 * polling (wake_fd stays -1) when inotify is unavailable. */
static void wake_setup(struct sq_queue *q)
{
    if (q->wake_tried)
        return;
    q->wake_tried = 1;
    if (sq_poll_only || !q->wal_path)
        return;
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0)
        return;
    if (inotify_add_watch(fd, q->wal_path, IN_ATTRIB) < 0) {
        close(fd);
        return;
    }
    q->wake_fd = fd;
}

/* Forgets the wake-ups that have piled up; called before looking. */
static void wake_drain(struct sq_queue *q)
{
    char buf[4096];
    while (q->wake_fd >= 0 && read(q->wake_fd, buf, sizeof(buf)) > 0)
        ;
}

/* Sleeps until the queue may have changed: a commit anywhere (inotify), the
 * moment the earliest hidden message becomes visible (next_ms, wall clock),
 * or left_ms, whichever is first. Without inotify it sleeps *backoff_ms,
 * which grows towards SQ_POLL_MAX_MS. */
static void wait_for_change(struct sq_queue *q, int64_t left_ms, int64_t next_ms,
                            int64_t *backoff_ms)
{
    int64_t ms = left_ms;
    if (next_ms != INT64_MAX) {
        int64_t until = next_ms - cr__time_wall_ms() + 1;
        if (until < ms)
            ms = until > 0 ? until : 1;
    }
    if (q->wake_fd >= 0) {
        struct pollfd pfd = {.fd = q->wake_fd, .events = POLLIN};
        poll(&pfd, 1, (int)(ms < SQ_WAKE_CAP_MS ? ms : SQ_WAKE_CAP_MS));
        return;
    }
    sleep_ms(ms < *backoff_ms ? ms : *backoff_ms);
    *backoff_ms = *backoff_ms * 3 / 2 < SQ_POLL_MAX_MS ? *backoff_ms * 3 / 2 : SQ_POLL_MAX_MS;
}

/* Looks once: peeks, and runs the receive transaction only when a message
 * is visible. *next_ms gets the earliest visible_ms seen. */
static int receive_once(struct sq_queue *q, struct sq_recv *a, int64_t *next_ms)
{
    a->dead = 0;
    int rc = sq_run(q, peek_op, next_ms);
    if (rc == SQLITE_OK && *next_ms <= cr__time_wall_ms())
        rc = sq_run(q, receive_op, a);
    if (rc == SQLITE_OK && a->dead > 0 && q->dead_letter)
        wake_others(q);
    if (rc == SQLITE_OK && a->dead > 0 && cr__log_enabled(CR_LOG_WARN))
        cr__log(CR_LOG_WARN, "msg=\"dead-lettered\" queue=%s count=%d to=%s max_receive_count=%d",
               q->name, a->dead, q->dead_letter ? q->dead_letter : "(dropped)", q->max_receive);
    return rc;
}

/* Long poll: look, and while nothing arrives and time is left, wait for a
 * change and look again. */
static cr_status sq_receive(void *impl, int max_messages, int wait_ms, int visibility_s,
                            struct cr_queue_message *out, size_t *n, struct cr_error *err)
{
    struct sq_queue *q = impl;
    cr_status checked = check_file(q, err);
    if (checked != CR_OK)
        return checked;
    struct sq_recv a = {.max = max_messages, .out = out};
    a.visibility_s = visibility_s < 0 ? q->visibility_s : visibility_s;
    int64_t deadline = cr__time_mono_ms() + wait_ms, backoff = SQ_POLL_MIN_MS;
    if (wait_ms > 0)
        wake_setup(q);
    for (;;) {
        int64_t next_ms = INT64_MAX;
        wake_drain(q);
        int rc = receive_once(q, &a, &next_ms);
        if (rc != SQLITE_OK)
            return sq_fail(q, rc, "receiving", err);
        int64_t left = deadline - cr__time_mono_ms();
        if (a.n > 0 || left <= 0) {
            *n = a.n;
            return CR_OK;
        }
        wait_for_change(q, left, next_ms, &backoff);
    }
}

/* ---- delete, change visibility --------------------------------------------*/

struct sq_receipt {
    char id[CR_UUID_STR_LEN];
    const char *receipt;
    int64_t visible_ms; /* change visibility only */
    int matched;        /* the receipt was current */
    int exists;         /* when not matched: the message is still there */
};

/* A receipt is "<message id>:<random token>" (two UUIDs). */
static cr_status parse_receipt(const struct sq_queue *q, const char *receipt, struct sq_receipt *r,
                               struct cr_error *err)
{
    size_t idlen = CR_UUID_STR_LEN - 1;
    if (strlen(receipt) != SQ_RECEIPT_LEN - 1 || receipt[idlen] != ':')
        return cr__fail(err, CR_ERR_INVALID, "%s?name=%s: malformed receipt handle", q->path,
                        q->name);
    memcpy(r->id, receipt, idlen);
    r->id[idlen] = '\0';
    r->receipt = receipt;
    return CR_OK;
}

/* After an UPDATE/DELETE by receipt: did it match, else is the message there? */
static int receipt_outcome(struct sq_queue *q, struct sq_receipt *r)
{
    r->matched = sqlite3_changes(q->db) > 0;
    if (r->matched)
        return SQLITE_OK;
    sqlite3_stmt *s = q->stmt[SQ_FIND];
    bind_queue(s, q);
    sqlite3_bind_text(s, 2, r->id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    r->exists = rc == SQLITE_ROW;
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Runs SQ_DELETE or SQ_CHVIS for a receipt, then works out the outcome. */
static int by_receipt_op(struct sq_queue *q, enum sq_stmt which, struct sq_receipt *r)
{
    sqlite3_stmt *s = q->stmt[which];
    bind_queue(s, q);
    sqlite3_bind_text(s, 2, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, r->receipt, -1, SQLITE_STATIC);
    if (which == SQ_CHVIS)
        sqlite3_bind_int64(s, 4, r->visible_ms);
    int rc = step_done(s);
    return rc == SQLITE_OK ? receipt_outcome(q, r) : rc;
}

/* sq_run ops for delete and change visibility (arg: struct sq_receipt). */
static int delete_op(struct sq_queue *q, void *arg)
{
    return by_receipt_op(q, SQ_DELETE, arg);
}

static int chvis_op(struct sq_queue *q, void *arg)
{
    return by_receipt_op(q, SQ_CHVIS, arg);
}

/* Runs a by-receipt op and maps it: current receipt OK, stale receipt
 * CR_ERR_STATE, message gone CR_ERR_NOT_FOUND. */
static cr_status run_by_receipt(struct sq_queue *q, sq_op_fn op, struct sq_receipt *r,
                                const char *what, struct cr_error *err)
{
    int rc = sq_run(q, op, r);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, what, err);
    if (r->matched)
        return CR_OK;
    if (r->exists)
        return cr__fail(err, CR_ERR_STATE,
                        "%s?name=%s: %s: stale receipt (message %s was received again since)",
                        q->path, q->name, what, r->id);
    return cr__fail(err, CR_ERR_NOT_FOUND, "%s?name=%s: %s: message %s is gone", q->path, q->name,
                    what, r->id);
}

/* The first steps of an operation by receipt: the queue file is still the
 * one opened (check_file) and the receipt is well formed (into r). */
static cr_status checked_receipt(const struct sq_queue *q, const char *receipt,
                                 struct sq_receipt *r, struct cr_error *err)
{
    cr_status st = check_file(q, err);
    return st != CR_OK ? st : parse_receipt(q, receipt, r, err);
}

static cr_status sq_delete(void *impl, const char *receipt, struct cr_error *err)
{
    struct sq_queue *q = impl;
    struct sq_receipt r = {0};
    cr_status st = checked_receipt(q, receipt, &r, err);
    return st != CR_OK ? st : run_by_receipt(q, delete_op, &r, "deleting", err);
}

/* Makes the message visible again visibility_s from now (0 = at once). */
static cr_status sq_change_visibility(void *impl, const char *receipt, int visibility_s,
                                      struct cr_error *err)
{
    struct sq_queue *q = impl;
    struct sq_receipt r = {0};
    cr_status st = checked_receipt(q, receipt, &r, err);
    if (st != CR_OK)
        return st;
    r.visible_ms = cr__time_wall_ms() + (int64_t)visibility_s * 1000;
    st = run_by_receipt(q, chvis_op, &r, "changing visibility", err);
    if (st == CR_OK)
        wake_others(q); /* waiters recompute when to look next */
    return st;
}

/* ---- counts, purge -------------------------------------------------------*/

struct sq_counts {
    long visible, in_flight;
};

/* Both counts in one read, at one instant (arg: struct sq_counts). */
static int counts_op(struct sq_queue *q, void *arg)
{
    struct sq_counts *c = arg;
    sqlite3_stmt *s = q->stmt[SQ_COUNTS];
    bind_queue(s, q);
    sqlite3_bind_int64(s, 2, cr__time_wall_ms());
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        c->visible = (long)sqlite3_column_int64(s, 0);
        c->in_flight = (long)sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Visible = visible_ms has passed; in flight = received and still hidden. */
static cr_status sq_counts(void *impl, long *visible, long *in_flight, struct cr_error *err)
{
    struct sq_queue *q = impl;
    cr_status checked = check_file(q, err);
    if (checked != CR_OK)
        return checked;
    struct sq_counts c = {0, 0};
    int rc = sq_run(q, counts_op, &c);
    if (rc != SQLITE_OK)
        return sq_fail(q, rc, "counting", err);
    *visible = c.visible;
    *in_flight = c.in_flight;
    return CR_OK;
}

/* One DELETE of the queue's rows. */
static int purge_op(struct sq_queue *q, void *arg)
{
    (void)arg;
    sqlite3_stmt *s = q->stmt[SQ_PURGE];
    bind_queue(s, q);
    return step_done(s);
}

/* Deletes every message of this queue (other queues in the file stay). */
static cr_status sq_purge(void *impl, struct cr_error *err)
{
    struct sq_queue *q = impl;
    cr_status checked = check_file(q, err);
    if (checked != CR_OK)
        return checked;
    int rc = sq_run(q, purge_op, NULL);
    return rc == SQLITE_OK ? CR_OK : sq_fail(q, rc, "purging", err);
}

/* Blocks until a commit anywhere touched the WAL file (inotify) or wait_ms
 * passed; without inotify it just sleeps. Events that piled up since the
 * last call end the wait at once (at worst one spurious wake-up), and are
 * then drained. */
static int sq_wait_change(void *impl, int wait_ms)
{
    struct sq_queue *q = impl;
    wake_setup(q);
    if (q->wake_fd < 0) {
        sleep_ms(wait_ms);
        return 0;
    }
    struct pollfd pfd = {.fd = q->wake_fd, .events = POLLIN};
    int changed = poll(&pfd, 1, wait_ms) > 0;
    wake_drain(q);
    return changed;
}

const struct cr__queue_ops cr__queue_sqlite_ops = {
    .scheme = "sqlite",
    .open = sq_open,
    .send = sq_send,
    .receive = sq_receive,
    .del = sq_delete,
    .change_visibility = sq_change_visibility,
    .counts = sq_counts,
    .purge = sq_purge,
    .close = sq_close,
    .wait_change = sq_wait_change,
};
