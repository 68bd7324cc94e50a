/*
 * up.c - `cloudrec up`: the whole service on one machine. Lays out the data
 * directory, creates the queues, starts cloudrec-scaler (which starts the
 * workers) and cloudrec-web as children, and stops them in order.
 */
#include "backends/backend.h"
#include "cloudrec/classify.h"
#include "cloudrec/queue.h"
#include "cloudrec/service.h"
#include "core/proc.h"
#include "core/programs.h"
#include "pipeline/retention.h"
#include "pipeline/pipeline.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define UP_DEFAULT_DATA_DIR "./cloudrec-data"
#define UP_DEFAULT_BIND "127.0.0.1"
#define UP_DEFAULT_PORT 8000
#define UP_DEFAULT_MAX_RECEIVES 5
#define UP_DEFAULT_READY_TIMEOUT_MS 60000
#define UP_DEFAULT_STOP_TIMEOUT_MS 30000
#define UP_URL_MAX (PATH_MAX * 3 + 64)
/* Restarts of a child that died: 100 ms, doubling to 10 s; a child that ran
 * for UP_STABLE_MS before dying starts again from 100 ms. */
#define UP_BACKOFF_MIN_MS 100
#define UP_BACKOFF_MAX_MS 10000
#define UP_STABLE_MS 30000
#define UP_DEFAULT_KEEP_INPUTS_S 3600L
#define UP_DEFAULT_KEEP_OUTPUTS_S 86400L
#define UP_SWEEP_EVERY_MS 60000
#define UP_LOCAL_SCALE_IN_WINDOW_MS 10000
#define UP_SCALER_STATUS "scaler-status.json" /* in the data dir: scaler -> web */

/* One supervised child: its command line is kept to start it again. */
struct up_child {
    const char *name;
    struct cr__argv argv;
    pid_t pid;            /* 0 while not running (reaped) */
    int64_t started_ms;   /* when the running one was started */
    int64_t restart_at_ms; /* when pid is 0: when to start it again */
    int backoff_ms;
    int restarts;
};

struct cr_up {
    struct cr_up_options o; /* defaults filled in; strings borrowed only during start */
    char data_dir[PATH_MAX];
    char url[160];
    struct up_child web;
    struct up_child scaler;
    int stop_timeout_ms;
    int scaler_grace_ms;
    struct cr_store *input;  /* for the retention sweep; NULL = none */
    struct cr_store *output;
    int64_t next_sweep_ms;
};

/* Locally the workers share this machine's CPUs, and each runs one engine
 * thread: more busy workers than CPUs only time-share the cores, so every
 * image of a burst finishes late instead of most finishing early (and each
 * extra worker costs a model load at a cold start). So a local fleet runs
 * at most workers_per_cpu workers per online CPU (default 1), whatever
 * --max-workers asks; an idle one is cheap to bring back, so the scale-in
 * window is shorter too. An ec2: fleet keeps the policy's defaults (20
 * instances, 30 s). */
static void fit_local_fleet(struct cr_up_options *o)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    long cap = (cpus > 0 ? cpus : 1) * (o->workers_per_cpu > 0 ? o->workers_per_cpu : 1);
    int asked = o->policy.max_instances;
    if (asked == 0 || asked > cap)
        o->policy.max_instances = (int)cap;
    if (asked > cap)
        cr_log(CR_LOG_INFO,
               "msg=\"max workers capped to the CPUs\" asked=%d cpus=%ld workers_per_cpu=%d "
               "max=%ld",
               asked, cpus, o->workers_per_cpu > 0 ? o->workers_per_cpu : 1, cap);
    if (o->policy.min_instances > o->policy.max_instances)
        o->policy.max_instances = o->policy.min_instances;
    if (o->policy.scale_in_window_ms == 0)
        o->policy.scale_in_window_ms = UP_LOCAL_SCALE_IN_WINDOW_MS;
}

/* Fills defaults and checks ranges. */
static cr_status check_options(const struct cr_up_options *in, struct cr_up_options *o,
                               struct cr_error *err)
{
    static const struct cr_up_options none = {0};
    *o = in ? *in : none;
    o->data_dir = o->data_dir ? o->data_dir : UP_DEFAULT_DATA_DIR;
    o->bind = o->bind ? o->bind : UP_DEFAULT_BIND;
    o->port = o->port ? o->port : UP_DEFAULT_PORT;
    o->max_receives = o->max_receives ? o->max_receives : UP_DEFAULT_MAX_RECEIVES;
    o->ready_timeout_ms = o->ready_timeout_ms ? o->ready_timeout_ms : UP_DEFAULT_READY_TIMEOUT_MS;
    o->stop_timeout_ms = o->stop_timeout_ms ? o->stop_timeout_ms : UP_DEFAULT_STOP_TIMEOUT_MS;
    o->keep_inputs_s = o->keep_inputs_s ? o->keep_inputs_s : UP_DEFAULT_KEEP_INPUTS_S;
    o->keep_outputs_s = o->keep_outputs_s ? o->keep_outputs_s : UP_DEFAULT_KEEP_OUTPUTS_S;
    if (!o->fleet_url || strncmp(o->fleet_url, "local:", 6) == 0)
        fit_local_fleet(o);
    struct cr_scale_config c;
    if (o->port < 1 || o->port > 65535)
        return cr__fail(err, CR_ERR_INVALID, "up: port must be 1..65535");
    if (o->max_receives < 1 || o->ready_timeout_ms < 0 || o->stop_timeout_ms < 0 ||
        o->interval_ms < 0 || o->visibility_s < 0)
        return cr__fail(err, CR_ERR_INVALID, "up: counts and delays must be positive");
    if (cr_scale_config_resolve(&o->policy, &c) != CR_OK)
        return cr__fail(err, CR_ERR_INVALID, "up: bad scaling limits (min <= max, all >= 0)");
    return CR_OK;
}

/* Creates the data directory and its parts; stores its absolute path. */
static cr_status make_data_dir(struct cr_up *u, struct cr_error *err)
{
    cr_status st = cr__mkdir_p(u->o.data_dir, 0755, err);
    if (st != CR_OK)
        return st;
    if (!realpath(u->o.data_dir, u->data_dir))
        return cr__fail(err, CR_ERR_IO, "%s: %s", u->o.data_dir, strerror(errno));
    static const char *const parts[] = {"input", "output", "workers"};
    for (size_t i = 0; i < CR__ARRAY_LEN(parts) && st == CR_OK; i++) {
        char dir[PATH_MAX + 16];
        snprintf(dir, sizeof(dir), "%s/%s", u->data_dir, parts[i]);
        st = cr__mkdir_p(dir, 0755, err);
    }
    return st;
}

/* "<scheme>://<percent-encoded data_dir>/<leaf>[?name=<queue>]" into out. */
static cr_status data_url(const struct cr_up *u, const char *scheme, const char *leaf,
                          const char *queue, char *out, size_t n)
{
    struct cr_buf path;
    cr_buf_init(&path, 0);
    cr_status st = cr_uri_encode(u->data_dir, strlen(u->data_dir), 1, &path);
    if (st == CR_OK) {
        int len = snprintf(out, n, "%s://%s/%s%s%s", scheme, (const char *)path.data, leaf,
                           queue ? "?name=" : "", queue ? queue : "");
        st = len > 0 && (size_t)len < n ? CR_OK : CR_ERR_TOO_LARGE;
    }
    cr_buf_free(&path);
    return st;
}

/* Creates one queue with the given attributes (it may exist already). */
static cr_status create_queue(const char *url, int max_receives, const char *dead_letter,
                              struct cr_error *err)
{
    struct cr_queue_options qo = {
        .max_receive_count = dead_letter ? max_receives : 0,
        .dead_letter_url = dead_letter,
        .create = 1,
    };
    struct cr_queue *q = NULL;
    cr_status st = cr_queue_open(url, &qo, &q, err);
    cr_queue_free(q);
    return st;
}

/* The URLs of the local stack. */
struct up_urls {
    char input[UP_URL_MAX], output[UP_URL_MAX], requests[UP_URL_MAX], dead[UP_URL_MAX],
        replies[UP_URL_MAX], fleet[UP_URL_MAX];
};

/* Copies a URL given in the options over the data directory's own. */
static cr_status use_given(const char *given, char *url, size_t n, struct cr_error *err)
{
    if (!given)
        return CR_OK;
    if (strlen(given) >= n)
        return cr__fail(err, CR_ERR_INVALID, "up: URL too long: %.64s...", given);
    memcpy(url, given, strlen(given) + 1);
    return CR_OK;
}

/* Replaces the local URLs by those the options give. */
static cr_status use_given_urls(const struct cr_up *u, struct up_urls *x, struct cr_error *err)
{
    cr_status st = use_given(u->o.input_url, x->input, sizeof(x->input), err);
    if (st == CR_OK)
        st = use_given(u->o.output_url, x->output, sizeof(x->output), err);
    if (st == CR_OK)
        st = use_given(u->o.requests_url, x->requests, sizeof(x->requests), err);
    if (st == CR_OK)
        st = use_given(u->o.replies_url, x->replies, sizeof(x->replies), err);
    if (st == CR_OK)
        st = use_given(u->o.fleet_url, x->fleet, sizeof(x->fleet), err);
    return st;
}

/* Builds every URL and creates the local queues (given ones must exist). */
static cr_status make_queues(struct cr_up *u, struct up_urls *x, struct cr_error *err)
{
    if (data_url(u, "file", "input", NULL, x->input, sizeof(x->input)) != CR_OK ||
        data_url(u, "file", "output", NULL, x->output, sizeof(x->output)) != CR_OK ||
        data_url(u, "sqlite", "queue.db", "requests", x->requests, sizeof(x->requests)) != CR_OK ||
        data_url(u, "sqlite", "queue.db", "requests-dead", x->dead, sizeof(x->dead)) != CR_OK ||
        data_url(u, "sqlite", "queue.db", "replies", x->replies, sizeof(x->replies)) != CR_OK ||
        data_url(u, "local", "workers", NULL, x->fleet, sizeof(x->fleet)) != CR_OK)
        return cr__fail(err, CR_ERR_INVALID, "%s: data directory path too long", u->data_dir);
    cr_status st = CR_OK;
    if (!u->o.requests_url && (st = create_queue(x->dead, 0, NULL, err)) == CR_OK)
        st = create_queue(x->requests, u->o.max_receives, x->dead, err);
    if (st == CR_OK && !u->o.replies_url)
        st = create_queue(x->replies, 0, NULL, err);
    if (st != CR_OK)
        return cr__fail_prefix(err, st, "queues: ");
    return use_given_urls(u, x, err);
}

/* The model directory the workers get, absolute so their cwd does not matter. */
static cr_status model_dir(const struct cr_up *u, char *out, struct cr_error *err)
{
    struct cr_model_paths p;
    cr_status st = cr_model_resolve(u->o.model_dir, &p, err);
    if (st != CR_OK)
        return st;
    if (!realpath(p.dir, out))
        return cr__fail(err, CR_ERR_IO, "%s: %s", p.dir, strerror(errno));
    return CR_OK;
}

/* The scaler's command line (cr__scaler_program): policy, fleet, worker
 * program, then after "--" the worker's own flags (cr__worker_program) and
 * the user's. */
static cr_status scaler_argv(const struct cr_up *u, const struct up_urls *x, struct cr__argv *a,
                             struct cr_error *err)
{
    char prog[PATH_MAX], worker[PATH_MAX], model[PATH_MAX], status[PATH_MAX + 32];
    cr_status st = cr_find_program("cloudrec-scaler", u->o.bin_dir, prog, sizeof(prog), err);
    if (st == CR_OK)
        st = cr_find_program("cloudrec-worker", u->o.bin_dir, worker, sizeof(worker), err);
    if (st == CR_OK)
        st = model_dir(u, model, err);
    if (st != CR_OK)
        return st;
    snprintf(status, sizeof(status), "%s/" UP_SCALER_STATUS, u->data_dir);
    struct cr__scaler_cmd sc;
    cr__opts_defaults(&cr__scaler_program, &sc);
    sc.scaler.requests_url = x->requests;
    sc.scaler.fleet_url = x->fleet;
    cr_scale_config_resolve(&u->o.policy, &sc.scaler.policy);
    if (u->o.interval_ms)
        sc.scaler.interval_ms = u->o.interval_ms;
    sc.scaler.kill_after_ms = u->o.stop_timeout_ms;
    sc.scaler.status_path = status;
    sc.worker_path = worker;
    sc.worker_output = x->output;
    sc.worker_model = model;
    struct cr__worker_cmd wc;
    cr__opts_defaults(&cr__worker_program, &wc);
    if (u->o.visibility_s)
        wc.worker.visibility_s = u->o.visibility_s;
    cr__argv_add(a, prog);
    if ((st = cr__opts_argv(&cr__scaler_program, &sc, a, err)) != CR_OK)
        return st;
    cr__argv_add(a, "--");
    if ((st = cr__opts_argv(&cr__worker_program, &wc, a, err)) != CR_OK)
        return st;
    cr__argv_add_all(a, u->o.worker_args);
    return a->failed ? cr__fail(err, CR_ERR_NOMEM, "up: out of memory") : CR_OK;
}

/* The web tier's command line (cr__web_program), then the user's flags. */
static cr_status web_argv(const struct cr_up *u, const struct up_urls *x, struct cr__argv *a,
                          struct cr_error *err)
{
    char prog[PATH_MAX], status[PATH_MAX + 32];
    cr_status st = cr_find_program("cloudrec-web", u->o.bin_dir, prog, sizeof(prog), err);
    if (st != CR_OK)
        return st;
    snprintf(status, sizeof(status), "%s/" UP_SCALER_STATUS, u->data_dir);
    struct cr__web_cmd wc;
    cr__opts_defaults(&cr__web_program, &wc);
    wc.web.bind_addr = u->o.bind;
    wc.web.port = u->o.port;
    wc.web.input_url = x->input;
    wc.web.output_url = x->output;
    wc.web.requests_url = x->requests;
    wc.web.replies_url = x->replies;
    wc.web.scaler_status_path = status;
    cr__argv_add(a, prog);
    if ((st = cr__opts_argv(&cr__web_program, &wc, a, err)) != CR_OK)
        return st;
    cr__argv_add_all(a, u->o.web_args);
    return a->failed ? cr__fail(err, CR_ERR_NOMEM, "up: out of memory") : CR_OK;
}

/* The address to probe and show: a wildcard bind is reached on loopback. */
static const char *reachable_host(const char *bind)
{
    if (strcmp(bind, "0.0.0.0") == 0)
        return "127.0.0.1";
    if (strcmp(bind, "::") == 0)
        return "::1";
    return bind;
}

/* 1 when a TCP connection to host:port succeeds now. */
static int port_accepts(const char *host, int port)
{
    char service[16];
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, service, &hints, &res) != 0)
        return 0;
    int ok = 0;
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        ok = connect(fd, res->ai_addr, res->ai_addrlen) == 0;
        close(fd);
    }
    freeaddrinfo(res);
    return ok;
}

/* Fails with CR_ERR_STATE when a child has exited (and reaps it). */
static cr_status check_child(pid_t *pid, const char *name, struct cr_error *err)
{
    int status = 0;
    if (*pid == 0 || !cr__wait_exit(*pid, 0, &status))
        return CR_OK;
    *pid = 0;
    char how[32];
    cr__describe_status(status, how, sizeof(how));
    return cr__fail(err, CR_ERR_STATE, "%s exited on its own (%s); see its messages above", name,
                    how);
}

/* Waits for the web port, watching that both children stay up. */
static cr_status wait_ready(struct cr_up *u, struct cr_error *err)
{
    const char *host = reachable_host(u->o.bind);
    int64_t deadline = cr_time_mono_ms() + u->o.ready_timeout_ms;
    for (;;) {
        cr_status st = check_child(&u->web.pid, "cloudrec-web", err);
        if (st == CR_OK)
            st = check_child(&u->scaler.pid, "cloudrec-scaler", err);
        if (st != CR_OK)
            return st;
        if (port_accepts(host, u->o.port))
            return CR_OK;
        if (cr_time_mono_ms() >= deadline)
            return cr__fail(err, CR_ERR_TIMEOUT, "cloudrec-web did not accept on %s:%d in %d ms",
                            host, u->o.port, u->o.ready_timeout_ms);
        cr__sleep_unless(50, NULL);
    }
}

/* Opens the stores the retention sweep cleans. A store that does not open
 * here is the web tier's and workers' problem to report; the service then
 * runs without the sweep. */
static void open_stores(struct cr_up *u, const struct up_urls *x)
{
    struct cr_error err = {0};
    u->next_sweep_ms = cr_time_mono_ms() + UP_SWEEP_EVERY_MS;
    if (cr_store_open(x->input, &u->input, &err) == CR_OK &&
        cr_store_open(x->output, &u->output, &err) == CR_OK)
        return;
    cr_log(CR_LOG_WARN, "msg=\"no retention sweep\" error=\"%s\"", err.message);
    cr_store_free(u->input);
    u->input = NULL;
}

/* Removes old uploads and results once a minute (retention.h). Stores
 * that cannot list by age (S3) are left to their lifecycle rule. */
static void sweep(struct cr_up *u, int64_t now)
{
    if (now < u->next_sweep_ms || !u->input)
        return;
    u->next_sweep_ms = now + UP_SWEEP_EVERY_MS;
    struct cr__retention r = {.keep_inputs_s = u->o.keep_inputs_s,
                              .keep_outputs_s = u->o.keep_outputs_s};
    struct cr__retention_stats stats;
    struct cr_error err = {0};
    cr_status st = cr__retention_sweep(u->input, u->output, &r, cr_time_wall_ms(), &stats, &err);
    if (st == CR_ERR_UNSUPPORTED) {
        cr_log(CR_LOG_INFO, "msg=\"no retention sweep\" reason=\"%s\"", err.message);
        cr_store_free(u->input);
        cr_store_free(u->output);
        u->input = u->output = NULL;
        return;
    }
    if (st != CR_OK)
        cr_log(CR_LOG_WARN, "msg=\"retention sweep failed\" error=\"%s\"", err.message);
    if (stats.inputs_removed || stats.outputs_removed)
        cr_log(CR_LOG_INFO, "msg=\"retention sweep\" inputs_removed=%ld outputs_removed=%ld",
               stats.inputs_removed, stats.outputs_removed);
}

/* Starts a child from its command line. */
static cr_status spawn_child(struct up_child *c, struct cr_error *err)
{
    cr_status st =
        cr__spawn(c->argv.v, CR__SPAWN_NEW_GROUP | CR__SPAWN_STDOUT_TO_STDERR, &c->pid, err);
    if (st == CR_OK)
        c->started_ms = cr_time_mono_ms();
    return st;
}

/* Builds both command lines and starts the scaler, then the web tier. A
 * port that already accepts belongs to someone else: waiting for it would
 * mistake that server for ours. */
static cr_status start_children(struct cr_up *u, const struct up_urls *x, struct cr_error *err)
{
    if (port_accepts(reachable_host(u->o.bind), u->o.port))
        return cr__fail(err, CR_ERR_INVALID, "%s:%d is already in use (choose another --port)",
                        u->o.bind, u->o.port);
    u->scaler.name = "cloudrec-scaler";
    u->web.name = "cloudrec-web";
    cr_status st = scaler_argv(u, x, &u->scaler.argv, err);
    if (st == CR_OK)
        st = web_argv(u, x, &u->web.argv, err);
    if (st == CR_OK)
        st = spawn_child(&u->scaler, err);
    if (st == CR_OK)
        st = spawn_child(&u->web, err);
    return st;
}

/* Sets the URL shown to people (brackets around an IPv6 literal). */
static void set_url(struct cr_up *u)
{
    const char *host = reachable_host(u->o.bind);
    int v6 = strchr(host, ':') != NULL;
    snprintf(u->url, sizeof(u->url), "http://%s%s%s:%d/", v6 ? "[" : "", host, v6 ? "]" : "",
             u->o.port);
}

cr_status cr_up_start(const struct cr_up_options *opts, struct cr_up **out, struct cr_error *err)
{
    if (!out)
        return cr__fail(err, CR_ERR_INVALID, "cr_up_start: out is required");
    *out = NULL;
    struct cr_up *u = calloc(1, sizeof(*u));
    if (!u)
        return cr__fail(err, CR_ERR_NOMEM, "up: out of memory");
    struct up_urls *x = calloc(1, sizeof(*x));
    cr_status st = x ? check_options(opts, &u->o, err) : cr__fail(err, CR_ERR_NOMEM, "up: OOM");
    if (st == CR_OK)
        st = make_data_dir(u, err);
    if (st == CR_OK)
        st = make_queues(u, x, err);
    if (st == CR_OK)
        open_stores(u, x);
    if (st == CR_OK)
        st = start_children(u, x, err);
    if (st == CR_OK)
        st = wait_ready(u, err);
    free(x);
    u->stop_timeout_ms = u->o.stop_timeout_ms;
    /* The scaler itself waits up to stop_timeout_ms for its workers. */
    u->scaler_grace_ms = 2 * u->o.stop_timeout_ms + 5000;
    set_url(u);
    if (st != CR_OK) {
        cr_up_stop(u, NULL);
        cr_up_free(u);
        return st;
    }
    *out = u;
    return CR_OK;
}

const char *cr_up_url(const struct cr_up *up)
{
    return up ? up->url : "";
}

const char *cr_up_data_dir(const struct cr_up *up)
{
    return up ? up->data_dir : "";
}

int cr_up_max_workers(const struct cr_up *up)
{
    struct cr_scale_config c;
    return up && cr_scale_config_resolve(&up->o.policy, &c) == CR_OK ? c.max_instances : 0;
}

/* Notices a child that exited: logs how and schedules its restart. */
static void reap_child(struct up_child *c, int64_t now)
{
    int status = 0;
    if (c->pid == 0 || !cr__wait_exit(c->pid, 0, &status))
        return;
    char how[32];
    cr__describe_status(status, how, sizeof(how));
    if (now - c->started_ms >= UP_STABLE_MS || c->backoff_ms == 0)
        c->backoff_ms = UP_BACKOFF_MIN_MS;
    else
        c->backoff_ms = c->backoff_ms * 2 > UP_BACKOFF_MAX_MS ? UP_BACKOFF_MAX_MS : c->backoff_ms * 2;
    cr_log(CR_LOG_WARN, "msg=\"%s exited on its own; restarting\" pid=%ld %s ran_ms=%lld delay_ms=%d",
           c->name, (long)c->pid, how, (long long)(now - c->started_ms), c->backoff_ms);
    c->pid = 0;
    c->restart_at_ms = now + c->backoff_ms;
}

/* Starts a dead child again once its delay has passed; a failed start is
 * tried again after a longer one. */
static void restart_child(struct up_child *c, int64_t now)
{
    if (c->pid != 0 || now < c->restart_at_ms)
        return;
    struct cr_error err = {0};
    if (spawn_child(c, &err) == CR_OK) {
        c->restarts++;
        cr_log(CR_LOG_INFO, "msg=\"%s restarted\" pid=%ld restarts=%d", c->name, (long)c->pid,
               c->restarts);
        return;
    }
    c->backoff_ms = c->backoff_ms * 2 > UP_BACKOFF_MAX_MS ? UP_BACKOFF_MAX_MS : c->backoff_ms * 2;
    c->restart_at_ms = now + c->backoff_ms;
    cr_log(CR_LOG_ERROR, "msg=\"cannot restart %s\" error=\"%s\" delay_ms=%d", c->name,
           err.message, c->backoff_ms);
}

cr_status cr_up_wait(struct cr_up *up, const volatile sig_atomic_t *stop, struct cr_error *err)
{
    if (!up)
        return cr__fail(err, CR_ERR_INVALID, "cr_up_wait: up is required");
    while (!(stop && *stop)) {
        int64_t now = cr_time_mono_ms();
        reap_child(&up->web, now);
        reap_child(&up->scaler, now);
        restart_child(&up->scaler, now);
        restart_child(&up->web, now);
        sweep(up, now);
        cr__sleep_unless(50, stop);
    }
    return CR_OK;
}

/* Stops one child (SIGTERM, wait, SIGKILL); 1 when it ended with exit 0. */
static int stop_child(pid_t *pid, const char *name, int timeout_ms)
{
    if (*pid == 0)
        return 1;
    int killed = 0;
    int status = cr__terminate(*pid, timeout_ms, &killed);
    *pid = 0;
    char how[32];
    cr__describe_status(status, how, sizeof(how));
    int clean = !killed && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    cr_log(clean ? CR_LOG_INFO : CR_LOG_WARN, "msg=\"%s stopped\" %s%s", name, how,
           killed ? " killed_after_timeout=yes" : "");
    return clean;
}

cr_status cr_up_stop(struct cr_up *up, struct cr_error *err)
{
    if (!up)
        return cr__fail(err, CR_ERR_INVALID, "cr_up_stop: up is required");
    /* The web tier first, so nothing new comes in while workers finish. */
    int ok = stop_child(&up->web.pid, "cloudrec-web", up->stop_timeout_ms);
    ok &= stop_child(&up->scaler.pid, "cloudrec-scaler", up->scaler_grace_ms);
    return ok ? CR_OK : cr__fail(err, CR_ERR_STATE, "a service process did not stop cleanly");
}

void cr_up_free(struct cr_up *up)
{
    if (!up)
        return;
    cr__argv_clear(&up->web.argv);
    cr__argv_clear(&up->scaler.argv);
    cr_store_free(up->input);
    cr_store_free(up->output);
    free(up);
}
