/*
 * fleet_ec2.c - ec2: fleets, worker instances launched from an AMI
 * (cloudrec/ec2.h). The settings come from the URL and CLOUDREC_EC2_*
 * (fleet_ec2_config.c, docs/aws-mode.md).
 *
 * Membership is a tag: every instance this fleet launches carries
 * cloudrec:fleet=<name> (and Name=app-tier-instance-N, N the lowest number
 * free among the live members) from its first moment (TagSpecification of
 * RunInstances). Listing filters on that tag and on the live states, and
 * checks the tag again on each answer; stopping describes the instance and
 * refuses one without the tag before it terminates anything. So the fleet
 * never touches an instance it did not launch, whatever id it is given.
 *
 * Idle information: EC2 knows nothing about the worker inside. When the
 * fleet was given the requests queue (cr_fleet_options.requests_url), a
 * running instance is reported idle while that queue has no message in
 * flight: no worker holds a message then, so none is in the middle of an
 * image. Otherwise running instances are reported running (never idle), and
 * scale-in is left to the workers' --idle-exit-s, after which the instance
 * powers itself off (and terminates). A terminated instance's worker gets
 * SIGTERM from systemd and finishes its image; if it cannot, the request
 * comes back after its visibility timeout.
 *
 * At most cr__ec2_config.max_instances (never more than 20) live instances:
 * a launch beyond that starts what fits and fails with CR_ERR_STATE.
 */
#include "backends/fleet_ec2.h"
#include "backends/backend.h"
#include "backends/fleet_backend.h"
#include "cloudrec/aws.h"
#include "cloudrec/ec2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The instance states that count as members (terminated and stopped do not). */
static const char *const live_states[] = {"pending", "running", "stopping", "shutting-down"};

struct ec2_fleet {
    struct cr__ec2_config c;
    struct cr_aws *aws;
    char **argv;               /* the worker command, copied, NULL-terminated; may be NULL */
    char *requests_url;        /* for idle information; may be NULL */
    struct cr_queue *requests; /* opened on first use */
    cr_status queue_failure;   /* last failure of the counts, logged once */
};

/* ---- opening -----------------------------------------------------------------*/

/* Frees a NULL-terminated copy of an argv. */
static void free_argv(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++)
        free(argv[i]);
    free(argv);
}

/* Copies a NULL-terminated argv (NULL stays NULL). */
static cr_status copy_argv(const char *const *in, char ***out, struct cr_error *err)
{
    size_t n = 0;
    *out = NULL;
    if (!in)
        return CR_OK;
    while (in[n])
        n++;
    char **v = calloc(n + 1, sizeof(char *));
    for (size_t i = 0; v && i < n; i++)
        if (!(v[i] = strdup(in[i]))) {
            free_argv(v);
            v = NULL;
        }
    if (!v)
        return cr__fail(err, CR_ERR_NOMEM, "ec2 fleet: out of memory");
    *out = v;
    return CR_OK;
}

/* Releases the fleet; instances are left as they are. */
static void ec2_close(void *impl)
{
    struct ec2_fleet *f = impl;
    if (!f)
        return;
    cr_queue_free(f->requests);
    cr_aws_free(f->aws);
    free_argv(f->argv);
    free(f->requests_url);
    free(f);
}

/* Parses the settings and opens the AWS context (no network I/O). */
static cr_status ec2_open(const char *url, const struct cr_fleet_options *opts, void **impl,
                          struct cr_error *err)
{
    struct ec2_fleet *f = calloc(1, sizeof(*f));
    if (!f)
        return cr__fail(err, CR_ERR_NOMEM, "ec2 fleet: out of memory");
    struct cr_aws_options ao = {.region = NULL};
    cr_status st = cr__ec2_config_parse(url, &f->c, err);
    if (st == CR_OK)
        st = copy_argv(opts->worker_argv, &f->argv, err);
    if (st == CR_OK && opts->requests_url && !(f->requests_url = strdup(opts->requests_url)))
        st = cr__fail(err, CR_ERR_NOMEM, "ec2 fleet: out of memory");
    ao.region = f->c.region[0] ? f->c.region : NULL;
    if (st == CR_OK && (st = cr_aws_open(&ao, &f->aws, err)) != CR_OK)
        cr__fail_prefix(err, st, "ec2 fleet: ");
    if (st != CR_OK) {
        ec2_close(f);
        return st;
    }
    *impl = f;
    return CR_OK;
}

/* ---- describing ----------------------------------------------------------------*/

/* 1 when inst carries this fleet's tag. */
static int is_member(const struct ec2_fleet *f, const struct cr_ec2_instance *inst)
{
    const char *v = cr_ec2_instance_tag(inst, CR__EC2_FLEET_TAG);
    return v && strcmp(v, f->c.fleet) == 0;
}

/* A growable array of instance-set pages, so their strings stay valid. */
struct pages {
    struct cr_ec2_instances **v;
    size_t n;
};

/* Frees every page and the array; *p is left empty. */
static void pages_clear(struct pages *p)
{
    for (size_t i = 0; i < p->n; i++)
        cr_ec2_instances_free(p->v[i]);
    free(p->v);
    memset(p, 0, sizeof(*p));
}

/* Describes every live member, page by page, into *p (owned by the caller,
 * release with pages_clear). */
static cr_status describe_members(struct ec2_fleet *f, struct pages *p, struct cr_error *err)
{
    const char *tag[] = {f->c.fleet};
    struct cr_ec2_filter filters[] = {
        {"tag:" CR__EC2_FLEET_TAG, tag, 1},
        {"instance-state-name", live_states, CR__ARRAY_LEN(live_states)},
    };
    struct cr_ec2_describe_options d = {.filters = filters, .num_filters = 2, .max_results = 1000};
    char *token = NULL;
    cr_status st = CR_OK;
    memset(p, 0, sizeof(*p));
    do {
        struct cr_ec2_instances *page = NULL;
        d.next_token = token;
        if ((st = cr_ec2_describe_instances(f->aws, &d, &page, err)) != CR_OK)
            break;
        struct cr_ec2_instances **v = realloc(p->v, (p->n + 1) * sizeof(*v));
        if (!v) {
            cr_ec2_instances_free(page);
            st = cr__fail(err, CR_ERR_NOMEM, "ec2 fleet: out of memory");
            break;
        }
        p->v = v;
        p->v[p->n++] = page;
        token = page->next_token;
    } while (token && token[0]);
    if (st != CR_OK)
        pages_clear(p);
    return st;
}

/* Calls fn(f, inst, arg) for every live member in the pages (the tag and
 * state checked again, in case a filter was not applied). */
static void for_each_member(struct ec2_fleet *f, const struct pages *p,
                            void (*fn)(struct ec2_fleet *, const struct cr_ec2_instance *, void *),
                            void *arg)
{
    for (size_t i = 0; i < p->n; i++)
        for (size_t j = 0; j < p->v[i]->count; j++) {
            const struct cr_ec2_instance *inst = &p->v[i]->instances[j];
            int live = 0;
            for (size_t k = 0; inst->state && k < CR__ARRAY_LEN(live_states); k++)
                live |= strcmp(inst->state, live_states[k]) == 0;
            if (live && is_member(f, inst) && inst->instance_id)
                fn(f, inst, arg);
        }
}

/* ---- list ------------------------------------------------------------------*/

/* 1 when the requests queue says no message is in flight (so no worker is
 * in the middle of an image); 0 when it says otherwise or cannot tell. */
static int queue_is_quiet(struct ec2_fleet *f)
{
    struct cr_error err = {0};
    long visible = 0, in_flight = 0;
    cr_status st = CR_OK;
    if (!f->requests_url)
        return 0;
    if (!f->requests)
        st = cr_queue_open(f->requests_url, NULL, &f->requests, &err);
    if (st == CR_OK)
        st = cr_queue_counts(f->requests, &visible, &in_flight, &err);
    if (st != CR_OK && st != f->queue_failure)
        cr__log(CR_LOG_WARN, "msg=\"ec2 fleet: no idle information\" queue=\"%s\" error=\"%s\"",
               f->requests_url, err.message);
    f->queue_failure = st;
    return st == CR_OK && in_flight == 0;
}

struct list_acc {
    struct cr_instance_list *out;
    size_t cap;
    int quiet; /* running instances are idle */
    int failed;
};

/* Appends one member to the list being built. */
static void add_listed(struct ec2_fleet *f, const struct cr_ec2_instance *inst, void *arg)
{
    (void)f;
    struct list_acc *a = arg;
    if (a->failed || a->out->count == a->cap) {
        a->failed = 1;
        return;
    }
    struct cr_instance *it = &a->out->items[a->out->count++];
    memset(it, 0, sizeof(*it));
    cr__strlcpy(it->id, inst->instance_id, sizeof(it->id));
    it->launched_ms = inst->launch_time_s * 1000;
    it->state_since_ms = it->launched_ms;
    if (strcmp(inst->state, "pending") == 0)
        it->state = CR_INSTANCE_PENDING;
    else if (strcmp(inst->state, "running") == 0)
        it->state = a->quiet ? CR_INSTANCE_IDLE : CR_INSTANCE_RUNNING;
    else
        it->state = CR_INSTANCE_STOPPING;
}

/* Orders instances by launch time, then id (oldest first, stable). */
static int by_launch(const void *a, const void *b)
{
    const struct cr_instance *x = a, *y = b;
    if (x->launched_ms != y->launched_ms)
        return x->launched_ms < y->launched_ms ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* Lists the live members, oldest launch first. */
static cr_status ec2_list(void *impl, struct cr_instance_list *out, struct cr_error *err)
{
    struct ec2_fleet *f = impl;
    struct pages p;
    cr_status st = describe_members(f, &p, err);
    if (st != CR_OK)
        return cr__fail_prefix(err, st, "ec2 fleet %s: ", f->c.fleet);
    size_t total = 0;
    for (size_t i = 0; i < p.n; i++)
        total += p.v[i]->count;
    struct list_acc a = {.out = out, .cap = total};
    if (total && !(out->items = calloc(total, sizeof(*out->items))))
        st = cr__fail(err, CR_ERR_NOMEM, "ec2 fleet: out of memory");
    if (st == CR_OK && total) {
        a.quiet = queue_is_quiet(f);
        for_each_member(f, &p, add_listed, &a);
        qsort(out->items, out->count, sizeof(*out->items), by_launch);
    }
    pages_clear(&p);
    return st;
}

/* ---- launch ------------------------------------------------------------------*/

struct numbers {
    unsigned char used[CR__EC2_FLEET_HARD_MAX * 8 + 2]; /* Name numbers in use */
    int live;
};

/* Records a member's Name number (when it has one of ours) and counts it. */
static void note_number(struct ec2_fleet *f, const struct cr_ec2_instance *inst, void *arg)
{
    (void)f;
    struct numbers *n = arg;
    const char *name = cr_ec2_instance_tag(inst, "Name");
    size_t plen = strlen(CR__EC2_NAME_PREFIX);
    n->live++;
    if (!name || strncmp(name, CR__EC2_NAME_PREFIX, plen) != 0)
        return;
    char *end = NULL;
    long v = strtol(name + plen, &end, 10);
    if (end && !*end && v > 0 && (size_t)v < sizeof(n->used))
        n->used[v] = 1;
}

/* The lowest Name number not in use; marks it used. */
static int take_number(struct numbers *n)
{
    for (size_t i = 1; i < sizeof(n->used); i++)
        if (!n->used[i]) {
            n->used[i] = 1;
            return (int)i;
        }
    return (int)sizeof(n->used);
}

/* The AWS_ENDPOINT_URL[_S3|_SQS] settings of this process, for the workers'
 * environment ("NAME=value" in env_buf, pointers in out, NULL-terminated). */
static void endpoint_settings(char env_buf[3][1100], const char *out[4])
{
    static const char *const names[] = {"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
                                        "AWS_ENDPOINT_URL_SQS"};
    size_t n = 0;
    for (size_t i = 0; i < CR__ARRAY_LEN(names); i++) {
        const char *v = getenv(names[i]);
        if (v && v[0] && strlen(v) < 1024) {
            snprintf(env_buf[n], sizeof(env_buf[n]), "%s=%s", names[i], v);
            out[n] = env_buf[n];
            n++;
        }
    }
    out[n] = NULL;
}

/* The user data of this fleet's instances into out. */
static cr_status ec2_user_data(void *impl, struct cr_buf *out, struct cr_error *err)
{
    struct ec2_fleet *f = impl;
    char env_buf[3][1100];
    const char *endpoints[4];
    endpoint_settings(env_buf, endpoints);
    return cr__ec2_user_data(&f->c, (const char *const *)f->argv, cr_aws_region(f->aws), endpoints,
                             out, err);
}

/* Launches one tagged instance named app-tier-instance-<number>. */
static cr_status run_one(struct ec2_fleet *f, int number, const struct cr_buf *user_data,
                         struct cr_error *err)
{
    char name[64], token[CR_UUID_STR_LEN];
    snprintf(name, sizeof(name), "%s%d", CR__EC2_NAME_PREFIX, number);
    if (cr__uuid_v4(token) != CR_OK)
        return cr__fail(err, CR_ERR_IO, "ec2 fleet: no randomness for a client token");
    struct cr_ec2_tag tags[] = {{"Name", name}, {CR__EC2_FLEET_TAG, f->c.fleet}};
    int arn = strncmp(f->c.profile, "arn:", 4) == 0;
    struct cr_ec2_run_options ro = {
        .image_id = f->c.ami,
        .instance_type = f->c.type,
        .min_count = 1,
        .max_count = 1,
        .user_data = user_data->data,
        .user_data_len = user_data->len,
        .tags = tags,
        .num_tags = 2,
        .key_name = f->c.key_name[0] ? f->c.key_name : NULL,
        .security_group_ids = f->c.num_groups ? f->c.group_ids : NULL,
        .num_security_group_ids = f->c.num_groups,
        .subnet_id = f->c.subnet[0] ? f->c.subnet : NULL,
        .iam_instance_profile_name = f->c.profile[0] && !arn ? f->c.profile : NULL,
        .iam_instance_profile_arn = arn ? f->c.profile : NULL,
        .client_token = token, /* a retried request launches nothing twice */
        .shutdown_terminates = 1,
    };
    struct cr_ec2_instances *got = NULL;
    cr_status st = cr_ec2_run_instances(f->aws, &ro, &got, err);
    if (st == CR_OK && got->count > 0)
        cr__log(CR_LOG_INFO, "msg=\"instance launched\" id=%s name=%s fleet=%s ami=%s type=%s",
               got->instances[0].instance_id, name, f->c.fleet, f->c.ami, f->c.type);
    cr_ec2_instances_free(got);
    return st;
}

/* Launches up to count instances, within the fleet's cap. */
static cr_status ec2_launch(void *impl, int count, int *launched, struct cr_error *err)
{
    struct ec2_fleet *f = impl;
    struct pages p;
    struct numbers nums;
    struct cr_buf ud;
    memset(&nums, 0, sizeof(nums));
    cr_buf_init(&ud, 0);
    cr_status st = ec2_user_data(f, &ud, err);
    if (st == CR_OK && (st = describe_members(f, &p, err)) == CR_OK) {
        for_each_member(f, &p, note_number, &nums);
        pages_clear(&p);
    }
    int room = f->c.max_instances - nums.live;
    int want = count < room ? count : room;
    for (int i = 0; st == CR_OK && i < want; i++)
        if ((st = run_one(f, take_number(&nums), &ud, err)) == CR_OK)
            (*launched)++;
    cr_buf_clear(&ud);
    if (st == CR_OK && want < count)
        st = cr__fail(err, CR_ERR_STATE,
                      "ec2 fleet %s: at its cap of %d instances (%d live); launched %d of %d",
                      f->c.fleet, f->c.max_instances, nums.live, *launched, count);
    return st == CR_OK || *launched ? st : cr__fail_prefix(err, st, "ec2 fleet %s: ", f->c.fleet);
}

/* ---- stop ---------------------------------------------------------------------*/

/* 1 for an EC2 instance id ("i-" and 8 or 17 hex digits; any length here). */
static int id_is_valid(const char *id)
{
    if (strncmp(id, "i-", 2) != 0 || !id[2] || strlen(id) >= CR_FLEET_ID_MAX)
        return 0;
    for (const char *p = id + 2; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* Describes instance id and checks that it is a member. *gone is set when it
 * is already shutting down or terminated. */
static cr_status check_member(struct ec2_fleet *f, const char *id, int *gone, struct cr_error *err)
{
    const char *ids[] = {id};
    struct cr_ec2_describe_options d = {.instance_ids = ids, .num_instance_ids = 1};
    struct cr_ec2_instances *set = NULL;
    cr_status st = cr_ec2_describe_instances(f->aws, &d, &set, err);
    if (st == CR_ERR_NOT_FOUND || (st == CR_OK && set->count == 0))
        st = cr__fail(err, CR_ERR_NOT_FOUND, "ec2 fleet %s: no instance %s", f->c.fleet, id);
    else if (st == CR_OK && !is_member(f, &set->instances[0]))
        st = cr__fail(err, CR_ERR_NOT_FOUND,
                      "ec2 fleet %s: instance %s is not in this fleet (no tag %s=%s); "
                      "left alone",
                      f->c.fleet, id, CR__EC2_FLEET_TAG, f->c.fleet);
    else if (st == CR_OK) {
        const char *s = set->instances[0].state ? set->instances[0].state : "";
        *gone = strcmp(s, "shutting-down") == 0 || strcmp(s, "terminated") == 0;
    }
    cr_ec2_instances_free(set);
    return st;
}

/* Terminates one member after checking its tag; one already going is OK. */
static cr_status ec2_stop(void *impl, const char *id, struct cr_error *err)
{
    struct ec2_fleet *f = impl;
    int gone = 0;
    if (!id_is_valid(id))
        return cr__fail(err, CR_ERR_NOT_FOUND, "ec2 fleet %s: \"%.64s\" is not an instance id",
                        f->c.fleet, id);
    cr_status st = check_member(f, id, &gone, err);
    if (st != CR_OK || gone)
        return st;
    const char *ids[] = {id};
    if ((st = cr_ec2_terminate_instances(f->aws, ids, 1, NULL, err)) != CR_OK)
        return cr__fail_prefix(err, st, "ec2 fleet %s: ", f->c.fleet);
    cr__log(CR_LOG_INFO, "msg=\"instance terminated\" id=%s fleet=%s", id, f->c.fleet);
    return CR_OK;
}

/* Terminates one listed member (for shutdown), counting failures in arg. */
static void stop_listed(struct ec2_fleet *f, const struct cr_ec2_instance *inst, void *arg)
{
    struct cr_error err = {0};
    if (ec2_stop(f, inst->instance_id, &err) != CR_OK) {
        (*(int *)arg)++;
        cr__log(CR_LOG_WARN, "msg=\"cannot terminate\" id=%s error=\"%s\"", inst->instance_id,
               err.message);
    }
}

/* On exit: with on_exit=terminate every member is terminated (the workers
 * finish their image on the way down); by default they are kept, so a
 * restarted scaler finds them, and their --idle-exit-s ends them. */
static cr_status ec2_shutdown(void *impl, struct cr_error *err)
{
    struct ec2_fleet *f = impl;
    if (!f->c.terminate_on_exit) {
        cr__log(CR_LOG_INFO,
               "msg=\"ec2 fleet: instances kept (on_exit=keep); they stop after "
               "--idle-exit-s without work\" fleet=%s",
               f->c.fleet);
        return CR_OK;
    }
    struct pages p;
    int failed = 0;
    cr_status st = describe_members(f, &p, err);
    if (st != CR_OK)
        return cr__fail_prefix(err, st, "ec2 fleet %s: ", f->c.fleet);
    for_each_member(f, &p, stop_listed, &failed);
    pages_clear(&p);
    return failed ? cr__fail(err, CR_ERR_AWS, "ec2 fleet %s: %d instances not terminated",
                             f->c.fleet, failed)
                  : CR_OK;
}

/* The cap the scaler should respect. */
static int ec2_max_instances(void *impl)
{
    return ((struct ec2_fleet *)impl)->c.max_instances;
}

const struct cr__fleet_ops cr__fleet_ec2_ops = {
    .scheme = "ec2",
    .open = ec2_open,
    .list = ec2_list,
    .launch = ec2_launch,
    .stop = ec2_stop,
    .shutdown = ec2_shutdown,
    .close = ec2_close,
    .user_data = ec2_user_data,
    .max_instances = ec2_max_instances,
};
