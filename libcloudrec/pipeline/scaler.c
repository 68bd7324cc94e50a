/* scaler.c - cr_scaler_run: queue depth -> scaling policy -> fleet, once per
 * tick, and at once when the queue changes while the fleet could grow. */
#include "backends/backend.h"
#include "backends/fleet_backend.h"
#include "cloudrec/fleet.h"
#include "cloudrec/queue.h"
#include "cloudrec/scale.h"
#include "cloudrec/service.h"
#include "core/proc.h"
#include "pipeline/scaler.h"
#include "pipeline/scaler_status.h"
#include "pipeline/pipeline.h"

#include <errno.h>
#include <limits.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* While waiting on the queue: how often a stop request is noticed, and the
 * least time between two ticks the queue wakes. */
#define SCALER_STOP_CHECK_MS 250
#define SCALER_MIN_SPACING_MS 20

/* The loop's state; owns the queue and the fleet. */
struct scaler {
    struct cr_scaler_options o; /* defaults filled in */
    struct cr_scale_config policy;
    struct cr_queue *requests;
    struct cr_fleet *fleet;
    struct cr_scale_state state;
    struct cr__argv worker_argv; /* o.worker_argv + --requests URL */
    char last_key[160]; /* what the last logged line said, reason aside */
    int64_t last_log_ms;
    cr_status last_failure; /* to log a failing dependency once, not every tick */
    char last_launch_error[256];
    int64_t last_launch_log_ms;
    int fleet_size; /* instances (not stopping) at the last tick */
    /* ids of the instances already seen ready (their start is counted) */
    char (*ready_ids)[CR_FLEET_ID_MAX];
    size_t n_ready, cap_ready;
    struct cr__scaler_status status; /* published to o.status_path every tick */
    int status_failing;              /* the last status write failed (logged once) */
};

/* Fills defaults and checks the options. */
static cr_status check_options(const struct cr_scaler_options *in, struct scaler *s,
                               struct cr_error *err)
{
    if (!in || !in->requests_url || !in->fleet_url)
        return cr__fail(err, CR_ERR_INVALID, "scaler: the requests queue and fleet are required");
    s->o = *in;
    if (s->o.interval_ms == 0)
        s->o.interval_ms = CR_SCALER_DEFAULT_INTERVAL_MS;
    if (s->o.log_every_ms == 0)
        s->o.log_every_ms = CR_SCALER_DEFAULT_LOG_EVERY_MS;
    if (s->o.interval_ms < 10 || s->o.log_every_ms < 0 || s->o.kill_after_ms < 0)
        return cr__fail(err, CR_ERR_INVALID,
                        "scaler: interval must be >= 10 ms, log and kill delays >= 0");
    if (cr_scale_config_resolve(&in->policy, &s->policy) != CR_OK)
        return cr__fail(err, CR_ERR_INVALID,
                        "scaler: min, max, per-instance target and window must be >= 0 "
                        "and min <= max");
    return CR_OK;
}

/* The worker command with --requests appended (owned copies). */
static cr_status build_worker_argv(struct scaler *s, struct cr_error *err)
{
    if (!s->o.worker_argv)
        return CR_OK;
    cr__argv_add_all(&s->worker_argv, s->o.worker_argv);
    cr__argv_addf(&s->worker_argv, "--%s", CR__FLAG(worker, worker.requests_url));
    cr__argv_add(&s->worker_argv, s->o.requests_url);
    return s->worker_argv.failed ? cr__fail(err, CR_ERR_NOMEM, "scaler: out of memory") : CR_OK;
}

/* Opens the fleet with the worker command (no network I/O). */
static cr_status open_fleet(struct scaler *s, struct cr_error *err)
{
    struct cr_fleet_options fo = {
        .worker_argv = (const char *const *)s->worker_argv.v,
        .kill_after_ms = s->o.kill_after_ms,
        .requests_url = s->o.requests_url,
    };
    cr_status st = cr_fleet_open(s->o.fleet_url, &fo, &s->fleet, err);
    return st == CR_OK ? st : cr__fail_prefix(err, st, "fleet: ");
}

/* Lowers the policy's max to the fleet's own cap (ec2: 20), saying so. */
static void clamp_to_fleet(struct scaler *s)
{
    int cap = cr__fleet_max_instances(s->fleet);
    if (cap <= 0 || s->policy.max_instances <= cap)
        return;
    cr_log(CR_LOG_WARN, "msg=\"max lowered to the fleet's cap\" max=%d cap=%d",
           s->policy.max_instances, cap);
    s->policy.max_instances = cap;
    if (s->policy.min_instances > cap)
        s->policy.min_instances = cap;
}

/* Opens the queue and the fleet. */
static cr_status scaler_open(struct scaler *s, const struct cr_scaler_options *opts,
                             struct cr_error *err)
{
    cr_status st = check_options(opts, s, err);
    if (st == CR_OK)
        st = build_worker_argv(s, err);
    if (st == CR_OK)
        st = open_fleet(s, err);
    if (st != CR_OK)
        return st;
    clamp_to_fleet(s);
    s->status.interval_ms = s->o.interval_ms;
    s->status.min_instances = s->policy.min_instances;
    s->status.max_instances = s->policy.max_instances;
    if ((st = cr_queue_open(s->o.requests_url, NULL, &s->requests, err)) != CR_OK)
        return cr__fail_prefix(err, st, "requests queue: ");
    return CR_OK;
}

/* Logs a failing dependency once per distinct status, not every tick. */
static void tick_failed(struct scaler *s, const char *what, cr_status st,
                        const struct cr_error *err)
{
    if (st == s->last_failure)
        return;
    s->last_failure = st;
    cr_log(CR_LOG_WARN, "msg=\"%s failed; no decision this tick\" status=%s error=\"%s\"", what,
           cr_status_name(st), err->message);
}

/* Counts the listed instances by state into the policy's input. */
static void count_states(const struct cr_instance_list *l, struct cr_scale_input *in)
{
    for (size_t i = 0; i < l->count; i++) {
        switch (l->items[i].state) {
        case CR_INSTANCE_PENDING:
            in->pending++;
            break;
        case CR_INSTANCE_IDLE:
            in->idle++;
            in->running++;
            break;
        case CR_INSTANCE_RUNNING:
            in->running++;
            break;
        case CR_INSTANCE_STOPPING:
            in->stopping++;
            break;
        }
    }
}

/* Stops `count` idle workers, the longest idle first. */
static void stop_idle(struct scaler *s, struct cr_instance_list *l, int count)
{
    for (int done = 0; done < count; done++) {
        struct cr_instance *best = NULL;
        for (size_t i = 0; i < l->count; i++) {
            struct cr_instance *it = &l->items[i];
            if (it->state == CR_INSTANCE_IDLE &&
                (!best || it->state_since_ms < best->state_since_ms))
                best = it;
        }
        if (!best)
            return;
        struct cr_error err = {0};
        if (cr_fleet_stop(s->fleet, best->id, &err) != CR_OK)
            cr_log(CR_LOG_WARN, "msg=\"cannot stop a worker\" id=%s error=\"%s\"", best->id,
                   err.message);
        best->state = CR_INSTANCE_STOPPING;
    }
}

/* Logs the decision when anything but its reason changed, when it acts, or
 * when log_every_ms passed since the last line. */
static void log_decision(struct scaler *s, const struct cr_scale_input *in,
                         const struct cr_scale_decision *d)
{
    char key[sizeof(s->last_key)];
    snprintf(key, sizeof(key), "%ld %ld %d %d %d %d %d %d %d", in->visible, in->in_flight,
             in->pending, in->running, in->idle, in->stopping, d->desired, d->launch, d->stop);
    int acts = d->launch > 0 || d->stop > 0;
    if (!acts && strcmp(key, s->last_key) == 0 && in->now_ms - s->last_log_ms < s->o.log_every_ms)
        return;
    struct cr_buf line;
    cr_buf_init(&line, 0);
    if (cr_scale_format(in, d, &line) == CR_OK)
        cr_log(CR_LOG_INFO, "msg=scale %s", (const char *)line.data);
    cr_buf_free(&line);
    memcpy(s->last_key, key, sizeof(key));
    s->last_log_ms = in->now_ms;
}

/* Logs a failed launch; the same reason again only every 10 s, since a
 * fleet that holds launches back says so on every tick. */
static void launch_failed(struct scaler *s, const struct cr_error *err)
{
    int64_t now = cr_time_mono_ms();
    s->status.launch_failures++;
    cr__strlcpy(s->status.launch_error, err->message[0] ? err->message : "launch failed",
                sizeof(s->status.launch_error));
    if (strcmp(err->message, s->last_launch_error) == 0 && now - s->last_launch_log_ms < 10000)
        return;
    cr__strlcpy(s->last_launch_error, err->message, sizeof(s->last_launch_error));
    s->last_launch_log_ms = now;
    cr_log(CR_LOG_WARN, "msg=\"launch failed\" error=\"%s\"", err->message);
}

/* Publishes the tick to the status file (when there is one); a failing
 * write is logged once until it works again. */
static void publish(struct scaler *s, const struct cr_scale_input *in,
                    const struct cr_scale_decision *d)
{
    if (!s->o.status_path)
        return;
    struct cr_error err = {0};
    cr__scaler_status_record(&s->status, in, d, cr_time_wall_ms());
    cr_status st = cr__scaler_status_write(s->o.status_path, &s->status, &err);
    if (st != CR_OK && !s->status_failing)
        cr_log(CR_LOG_WARN, "msg=\"cannot write the status file\" error=\"%s\"", err.message);
    s->status_failing = st != CR_OK;
}

/* Counts the start time (launch to first ready) of each instance that is
 * ready for the first time, and remembers the ready ones for the next tick
 * (an instance gone from the list is forgotten). */
static void count_starts(struct scaler *s, const struct cr_instance_list *l)
{
    if (l->count > s->cap_ready) {
        char(*ids)[CR_FLEET_ID_MAX] = realloc(s->ready_ids, l->count * sizeof(*ids));
        if (!ids)
            return; /* counted on a later tick */
        s->ready_ids = ids;
        s->cap_ready = l->count;
    }
    /* The new set replaces the old one in place, so the old one is read
     * from a copy. */
    size_t old_n = s->n_ready;
    char(*old)[CR_FLEET_ID_MAX] = old_n ? malloc(old_n * sizeof(*old)) : NULL;
    if (old_n && !old)
        return;
    if (old)
        memcpy(old, s->ready_ids, old_n * sizeof(*old));
    s->n_ready = 0;
    for (size_t i = 0; i < l->count; i++) {
        const struct cr_instance *it = &l->items[i];
        if (it->ready_ms <= 0)
            continue;
        int known = 0;
        for (size_t j = 0; j < old_n && !known; j++)
            known = strcmp(old[j], it->id) == 0;
        if (!known && it->launched_ms > 0)
            cr__scaler_status_start(&s->status, it->ready_ms - it->launched_ms);
        cr__strlcpy(s->ready_ids[s->n_ready++], it->id, CR_FLEET_ID_MAX);
    }
    free(old);
}

/* One observation, decision and action. woken: the queue changed before
 * the tick was due (see wait_next). */
static void tick(struct scaler *s, int woken)
{
    struct cr_scale_input in = {0};
    struct cr_instance_list l = {0};
    struct cr_error err = {0};
    cr_status st = CR_OK;
    if (!s->requests) { /* its database went away: open it again once it is back */
        struct cr_queue_options qo = {0};
        st = cr_queue_open(s->o.requests_url, &qo, &s->requests, &err);
    }
    if (st == CR_OK)
        st = cr_queue_counts(s->requests, &in.visible, &in.in_flight, &err);
    if (st == CR_ERR_STATE) {
        cr_queue_free(s->requests);
        s->requests = NULL;
    }
    if (st != CR_OK) {
        tick_failed(s, "queue counts", st, &err);
        return;
    }
    if ((st = cr_fleet_list(s->fleet, &l, &err)) != CR_OK) {
        tick_failed(s, "fleet list", st, &err);
        return;
    }
    s->last_failure = CR_OK;
    count_states(&l, &in);
    count_starts(s, &l);
    s->fleet_size = in.pending + in.running;
    in.now_ms = cr_time_mono_ms();
    struct cr_scale_decision d;
    if (cr_scale_decide(&s->policy, &in, &s->state, &d) == CR_OK) {
        log_decision(s, &in, &d);
        if (d.launch > 0 && (st = cr_fleet_launch(s->fleet, d.launch, NULL, &err)) != CR_OK)
            launch_failed(s, &err);
        else if (d.launch > 0)
            s->status.launch_error[0] = '\0';
        if (d.launch > 0 && st == CR_OK && woken)
            cr_log(CR_LOG_INFO, "msg=\"launched without waiting for the tick\" count=%d backlog=%ld",
                   d.launch, in.visible + in.in_flight);
        if (d.stop > 0)
            stop_idle(s, &l, d.stop);
        publish(s, &in, &d); /* after acting, so a failed launch shows at once */
    }
    cr_fleet_list_free(&l);
}

/* Waits for the next tick. While the fleet could still grow it waits on the
 * queue, so the first upload after idle (or a burst outgrowing the fleet)
 * starts workers at once instead of on the next tick; ticks then come at
 * most every SCALER_MIN_SPACING_MS. A full fleet (and a stopped scaler)
 * waits the interval. Returns 1 when the queue ended the wait early. */
static int wait_next(struct scaler *s)
{
    int64_t start = cr_time_mono_ms(), due = start + s->o.interval_ms;
    if (!s->requests || s->fleet_size >= s->policy.max_instances) {
        cr__sleep_unless(s->o.interval_ms, s->o.stop);
        return 0;
    }
    for (int64_t now = start; now < due && !(s->o.stop && *s->o.stop);
         now = cr_time_mono_ms()) {
        int64_t left = due - now;
        if (cr__queue_wait_change(s->requests,
                                  (int)(left < SCALER_STOP_CHECK_MS ? left : SCALER_STOP_CHECK_MS))) {
            int64_t since = cr_time_mono_ms() - start;
            if (since < SCALER_MIN_SPACING_MS)
                cr__sleep_unless((int)(SCALER_MIN_SPACING_MS - since), s->o.stop);
            return 1;
        }
    }
    return 0;
}

cr_status cr_scaler_run(const struct cr_scaler_options *opts, struct cr_error *err)
{
    struct scaler s;
    memset(&s, 0, sizeof(s));
    s.last_log_ms = INT64_MIN / 2; /* the first decision is always logged */
    cr_status st = scaler_open(&s, opts, err);
    if (st == CR_OK) {
        cr_log(CR_LOG_INFO,
               "msg=\"scaler ready\" requests=\"%s\" fleet=\"%s\" min=%d max=%d "
               "per_instance=%d scale_in_window_ms=%lld",
               s.o.requests_url, s.o.fleet_url, s.policy.min_instances, s.policy.max_instances,
               s.policy.per_instance_target, (long long)s.policy.scale_in_window_ms);
        int woken = 0;
        while (!(s.o.stop && *s.o.stop)) {
            tick(&s, woken);
            woken = wait_next(&s);
        }
        cr_log(CR_LOG_INFO, "msg=\"scaler stopping; stopping every worker\"");
        cr_fleet_shutdown(s.fleet, NULL);
    }
    cr_fleet_free(s.fleet);
    cr_queue_free(s.requests);
    cr__argv_clear(&s.worker_argv);
    free(s.ready_ids);
    return st;
}

cr_status cr_scaler_user_data(const struct cr_scaler_options *opts, struct cr_buf *out,
                              struct cr_error *err)
{
    struct scaler s;
    memset(&s, 0, sizeof(s));
    cr_status st = out ? check_options(opts, &s, err)
                       : cr__fail(err, CR_ERR_INVALID, "cr_scaler_user_data: out is required");
    if (st == CR_OK)
        st = build_worker_argv(&s, err);
    if (st == CR_OK)
        st = open_fleet(&s, err);
    if (st == CR_OK)
        st = cr_fleet_user_data(s.fleet, out, err);
    cr_fleet_free(s.fleet);
    cr__argv_clear(&s.worker_argv);
    return st;
}

/* The worker program's path for cmd's fleet into path (size n). */
static cr_status worker_program(const struct cr__scaler_cmd *cmd, char *path, size_t n,
                                struct cr_error *err)
{
    int ec2 = strncmp(cmd->scaler.fleet_url, "ec2:", 4) == 0;
    if (ec2 && cmd->worker_path)
        return cr__fail(err, CR_ERR_INVALID,
                        "--worker is for local fleets; an ec2: fleet runs the program of its "
                        "worker= setting");
    if (ec2) {
        snprintf(path, n, "%s", "cloudrec-worker");
        return CR_OK;
    }
    if (!cmd->worker_path)
        return cr_find_program("cloudrec-worker", NULL, path, n, err);
    char real[PATH_MAX];
    if (!realpath(cmd->worker_path, real))
        return cr__fail(err, errno == ENOENT ? CR_ERR_NOT_FOUND : CR_ERR_IO, "--worker %s: %s",
                        cmd->worker_path, strerror(errno));
    snprintf(path, n, "%s", real);
    return CR_OK;
}

cr_status cr__scaler_worker_argv(const struct cr__scaler_cmd *cmd, const char *const *extra,
                                 struct cr__argv *out, struct cr_error *err)
{
    char path[PATH_MAX];
    cr_status st = worker_program(cmd, path, sizeof(path), err);
    if (st != CR_OK)
        return st;
    struct cr__worker_cmd w;
    cr__opts_defaults(&cr__worker_program, &w);
    w.worker.output_url = cmd->worker_output;
    w.model_dir = cmd->worker_model;
    cr__argv_add(out, path);
    if ((st = cr__opts_argv(&cr__worker_program, &w, out, err)) != CR_OK)
        return st;
    cr__argv_add_all(out, extra);
    return out->failed ? cr__fail(err, CR_ERR_NOMEM, "scaler: out of memory") : CR_OK;
}
