/*
 * fleet_local.c - local: fleets, worker processes that are our children.
 *
 * Each instance is a fork + exec of the configured worker command with
 * `--id w-N --state-file <dir>/w-N.state` appended. The worker replaces that
 * file atomically on every state change ("idle|busy|stopping <ms> <pid>
 * <ready ms>"),
 * so reading it never sees half a line; no file yet means the worker is
 * still loading its model (pending). We track each child ourselves: a
 * SIGTERM we sent makes it stopping whatever the file says, and waitpid
 * (never SIGCHLD) tells when it is gone; pipeline/proc.c does the fork and
 * exec.
 */
#include "backends/backend.h"
#include "backends/fleet_backend.h"
#include "backends/worker_state.h"
#include "core/proc.h"
#include "core/programs.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LF_EXAMPLE "local:///abs/state-dir"
#define LF_STATE_SUFFIX ".state"
/* Workers that keep dying before they are ready (a missing model, a store
 * or queue that is gone) are launched again only after a pause that
 * doubles from 500 ms to 30 s, so a broken dependency costs no CPU. */
#define LF_HOLD_MIN_MS 500
#define LF_HOLD_MAX_MS 30000

struct lf_child {
    char id[CR_FLEET_ID_MAX];
    pid_t pid;
    int64_t launched_ms;
    int stopping; /* we sent SIGTERM */
    int ready;    /* it published a state: it got past its start */
};

struct lf_fleet {
    char *dir;   /* state files live here */
    int own_dir; /* 1: a private temporary directory we remove */
    char **argv; /* the worker command, copied, NULL-terminated */
    size_t argc;
    int kill_after_ms;
    long next_id;
    struct lf_child *kids;
    size_t n, cap;
    int failed_starts;      /* workers in a row that died before they were ready */
    int64_t hold_until_ms;  /* no launch before this (cr_time_mono_ms) */
    char last_failure[CR_FLEET_ID_MAX + 64]; /* how the last of them ended */
};

/* Sleeps ms milliseconds (signals may cut it short; callers loop anyway). */
static void lf_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The state file path of an instance, into out (size n). */
static void state_path(const struct lf_fleet *f, const char *id, char *out, size_t n)
{
    snprintf(out, n, "%s/%s%s", f->dir, id, LF_STATE_SUFFIX);
}

/* Copies the NULL-terminated worker command. */
static cr_status copy_argv(struct lf_fleet *f, const char *const *argv, struct cr_error *err)
{
    if (!argv || !argv[0] || argv[0][0] != '/')
        return cr__fail(err, CR_ERR_INVALID,
                        "local fleet: worker_argv must start with an absolute program path");
    while (argv[f->argc])
        f->argc++;
    if (!(f->argv = calloc(f->argc + 1, sizeof(char *))))
        return cr__fail(err, CR_ERR_NOMEM, "local fleet: out of memory");
    for (size_t i = 0; i < f->argc; i++)
        if (!(f->argv[i] = strdup(argv[i])))
            return cr__fail(err, CR_ERR_NOMEM, "local fleet: out of memory");
    return CR_OK;
}

/* Sets f->dir from the URL: "local:" (or "local://") = a private temporary
 * directory, "local:///abs/dir" = that directory, created if missing. */
static cr_status open_dir(struct lf_fleet *f, const char *url, struct cr_error *err)
{
    if (strcmp(url, "local:") == 0 || strcmp(url, "local://") == 0) {
        char tmpl[] = "/tmp/cloudrec-fleet-XXXXXX";
        if (!mkdtemp(tmpl))
            return cr__fail(err, CR_ERR_IO, "local fleet: cannot make a state directory: %s",
                            strerror(errno));
        f->own_dir = 1;
        f->dir = strdup(tmpl);
        return f->dir ? CR_OK : cr__fail(err, CR_ERR_NOMEM, "local fleet: out of memory");
    }
    cr_status st = cr__url_local_path(url, "local", LF_EXAMPLE, &f->dir, NULL, err);
    if (st != CR_OK)
        return st;
    return cr__mkdir_p(f->dir, 0755, err);
}

static void lf_close(void *impl);

/* Opens a local fleet; see fleet.h for the URL forms. */
static cr_status lf_open(const char *url, const struct cr_fleet_options *opts, void **impl,
                         struct cr_error *err)
{
    struct lf_fleet *f = calloc(1, sizeof(*f));
    if (!f)
        return cr__fail(err, CR_ERR_NOMEM, "local fleet: out of memory");
    f->kill_after_ms = opts->kill_after_ms ? opts->kill_after_ms
                                           : CR_FLEET_DEFAULT_KILL_AFTER_MS;
    f->next_id = 1;
    cr_status st = copy_argv(f, opts->worker_argv, err);
    if (st == CR_OK)
        st = open_dir(f, url, err);
    if (st != CR_OK) {
        lf_close(f);
        return st;
    }
    *impl = f;
    return CR_OK;
}

/* Room for one more child. */
static cr_status grow(struct lf_fleet *f, struct cr_error *err)
{
    if (f->n < f->cap)
        return CR_OK;
    size_t cap = f->cap ? f->cap * 2 : 8;
    struct lf_child *k = realloc(f->kids, cap * sizeof(*k));
    if (!k)
        return cr__fail(err, CR_ERR_NOMEM, "local fleet: out of memory");
    f->kids = k;
    f->cap = cap;
    return CR_OK;
}

/* Starts one worker and records it. */
static cr_status spawn_one(struct lf_fleet *f, struct cr_error *err)
{
    cr_status st = grow(f, err);
    if (st != CR_OK)
        return st;
    struct lf_child *k = &f->kids[f->n];
    memset(k, 0, sizeof(*k));
    snprintf(k->id, sizeof(k->id), "w-%ld", f->next_id++);
    char path[PATH_MAX];
    state_path(f, k->id, path, sizeof(path));
    unlink(path); /* a stale file of an earlier run must not look like this worker's */
    struct cr__argv argv = {0};
    for (size_t i = 0; i < f->argc; i++)
        cr__argv_add(&argv, f->argv[i]);
    cr__argv_addf(&argv, "--%s", CR__FLAG(worker, worker.worker_id));
    cr__argv_add(&argv, k->id);
    cr__argv_addf(&argv, "--%s", CR__FLAG(worker, worker.state_path));
    cr__argv_add(&argv, path);
    pid_t pid = 0;
    st = argv.failed ? cr__fail(err, CR_ERR_NOMEM, "local fleet: out of memory")
                     : cr__spawn(argv.v, 0, &pid, err);
    cr__argv_clear(&argv);
    if (st != CR_OK)
        return st;
    k->pid = pid;
    k->launched_ms = cr_time_wall_ms();
    f->n++;
    cr_log(CR_LOG_INFO, "msg=\"worker launched\" id=%s pid=%ld", k->id, (long)pid);
    return CR_OK;
}

/* Launches count workers; see cr_fleet_launch. While workers keep failing
 * to start, launches are held back (CR_ERR_STATE says why and how long). */
static cr_status lf_launch(void *impl, int count, int *launched, struct cr_error *err)
{
    struct lf_fleet *f = impl;
    int64_t now = cr_time_mono_ms();
    if (now < f->hold_until_ms)
        return cr__fail(err, CR_ERR_STATE,
                        "%d workers in a row exited before they were ready (last: %s); next "
                        "launch in %lld ms",
                        f->failed_starts, f->last_failure, (long long)(f->hold_until_ms - now));
    for (int i = 0; i < count; i++) {
        cr_status st = spawn_one(f, err);
        if (st != CR_OK)
            return st;
        (*launched)++;
    }
    return CR_OK;
}

/* Counts a worker that died unasked before it was ready as a failed start
 * and holds launches back; one that got going resets the count. */
static void note_start(struct lf_fleet *f, const struct lf_child *k, int clean, const char *how)
{
    if (k->ready) {
        f->failed_starts = 0;
        return;
    }
    if (clean || k->stopping)
        return;
    f->failed_starts++;
    snprintf(f->last_failure, sizeof(f->last_failure), "%s %s", k->id, how);
    int64_t hold = LF_HOLD_MIN_MS;
    for (int i = 1; i < f->failed_starts && hold < LF_HOLD_MAX_MS; i++)
        hold *= 2;
    hold = hold > LF_HOLD_MAX_MS ? LF_HOLD_MAX_MS : hold;
    f->hold_until_ms = cr_time_mono_ms() + hold;
    cr_log(CR_LOG_WARN, "msg=\"worker failed to start; launches held\" failed_in_a_row=%d hold_ms=%lld",
           f->failed_starts, (long long)hold);
}

/* Logs how a child ended and forgets it (index i), keeping launch order. */
static void forget(struct lf_fleet *f, size_t i, int status)
{
    struct lf_child *k = &f->kids[i];
    int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    char how[48];
    if (WIFEXITED(status))
        snprintf(how, sizeof(how), "exit=%d", WEXITSTATUS(status));
    else
        snprintf(how, sizeof(how), "signal=%d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    cr_log(clean ? CR_LOG_INFO : CR_LOG_WARN, "msg=\"worker exited\" id=%s pid=%ld %s%s", k->id,
           (long)k->pid, how, k->stopping ? "" : " asked_to_stop=no");
    note_start(f, k, clean, how);
    char path[PATH_MAX];
    state_path(f, k->id, path, sizeof(path));
    unlink(path);
    memmove(&f->kids[i], &f->kids[i + 1], (f->n - i - 1) * sizeof(*f->kids));
    f->n--;
}

/* Reaps every child that has exited; `block` waits for each instead. */
static void reap(struct lf_fleet *f, int block)
{
    for (size_t i = 0; i < f->n;) {
        int status = 0;
        pid_t r = waitpid(f->kids[i].pid, &status, block ? 0 : WNOHANG);
        if (r == f->kids[i].pid || (r < 0 && errno == ECHILD))
            forget(f, i, r < 0 ? 0 : status);
        else if (r < 0 && errno == EINTR && block)
            continue;
        else
            i++;
    }
}

/* Reads a worker's state file: the state it reports, or PENDING when there
 * is no (matching) file yet. */
static enum cr_instance_state read_state(const struct lf_fleet *f, const struct lf_child *k,
                                         int64_t *since_ms, int64_t *ready_ms)
{
    char path[PATH_MAX];
    state_path(f, k->id, path, sizeof(path));
    struct cr__worker_state st;
    /* A file of another process (an earlier worker's) is not this one's. */
    int ok = cr__worker_state_read(path, &st) == CR_OK && st.pid == (long)k->pid;
    *since_ms = ok ? st.since_ms : 0;
    *ready_ms = ok ? st.ready_ms : 0;
    return ok ? st.state : CR_INSTANCE_PENDING;
}

/* Lists live children (reaping the dead first), in launch order. */
static cr_status lf_list(void *impl, struct cr_instance_list *out, struct cr_error *err)
{
    struct lf_fleet *f = impl;
    reap(f, 0);
    if (f->n == 0)
        return CR_OK;
    if (!(out->items = calloc(f->n, sizeof(*out->items))))
        return cr__fail(err, CR_ERR_NOMEM, "local fleet: out of memory");
    for (size_t i = 0; i < f->n; i++) {
        const struct lf_child *k = &f->kids[i];
        struct cr_instance *it = &out->items[i];
        cr__strlcpy(it->id, k->id, sizeof(it->id));
        it->pid = (long)k->pid;
        it->launched_ms = k->launched_ms;
        it->state = read_state(f, k, &it->state_since_ms, &it->ready_ms);
        if (it->state != CR_INSTANCE_PENDING)
            f->kids[i].ready = 1;
        if (k->stopping)
            it->state = CR_INSTANCE_STOPPING;
    }
    out->count = f->n;
    return CR_OK;
}

/* Sends SIGTERM to one child by id. */
static cr_status lf_stop(void *impl, const char *id, struct cr_error *err)
{
    struct lf_fleet *f = impl;
    for (size_t i = 0; i < f->n; i++) {
        struct lf_child *k = &f->kids[i];
        if (strcmp(k->id, id) != 0)
            continue;
        if (!k->stopping && kill(k->pid, SIGTERM) != 0 && errno != ESRCH)
            return cr__fail(err, CR_ERR_IO, "local fleet: kill %s: %s", id, strerror(errno));
        if (!k->stopping)
            cr_log(CR_LOG_INFO, "msg=\"worker asked to stop\" id=%s pid=%ld", id, (long)k->pid);
        k->stopping = 1;
        return CR_OK;
    }
    return cr__fail(err, CR_ERR_NOT_FOUND, "local fleet: no worker %s", id);
}

/* SIGTERM to all, wait up to kill_after_ms, SIGKILL the rest, reap all. */
static cr_status lf_shutdown(void *impl, struct cr_error *err)
{
    (void)err;
    struct lf_fleet *f = impl;
    for (size_t i = 0; i < f->n; i++)
        lf_stop(f, f->kids[i].id, NULL);
    int64_t deadline = cr_time_mono_ms() + f->kill_after_ms;
    for (reap(f, 0); f->n > 0 && cr_time_mono_ms() < deadline; reap(f, 0))
        lf_sleep_ms(20);
    if (f->n > 0)
        cr_log(CR_LOG_WARN,
               "msg=\"workers killed after the grace period\" count=%zu "
               "grace_ms=%d",
               f->n, f->kill_after_ms);
    for (size_t i = 0; i < f->n; i++)
        kill(f->kids[i].pid, SIGKILL);
    reap(f, 1);
    return CR_OK;
}

/* Removes our private state directory and whatever is in it. */
static void remove_own_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* Frees the fleet; running children are left alone (see fleet.h). */
static void lf_close(void *impl)
{
    struct lf_fleet *f = impl;
    if (!f)
        return;
    if (f->own_dir && f->dir)
        remove_own_dir(f->dir);
    for (size_t i = 0; f->argv && i < f->argc; i++)
        free(f->argv[i]);
    free(f->argv);
    free(f->kids);
    free(f->dir);
    free(f);
}

const struct cr__fleet_ops cr__fleet_local_ops = {
    .scheme = "local",
    .open = lf_open,
    .list = lf_list,
    .launch = lf_launch,
    .stop = lf_stop,
    .shutdown = lf_shutdown,
    .close = lf_close,
};
