/*
 * fleet_ec2_config.c - the ec2: fleet's settings (URL query and
 * CLOUDREC_EC2_* variables) and the user data its instances boot with.
 *
 * Everything here is pure: no network, no files; the boot script is text
 * built from the settings, so it can be shown (cloudrec-scaler
 * --print-user-data) and tested. Values that end up in the script are
 * restricted to characters that need no quoting in a shell here-document or
 * a systemd unit, so no setting can inject commands.
 */
#include "backends/backend.h"
#include "backends/fleet_ec2.h"
#include "cloudrec/ec2.h"
#include "core/programs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EC2_EXAMPLE "ec2:?ami=ami-0123456789abcdef0&type=t2.micro&fleet=cloudrec"

/* One setting: its URL key, its variable, and where its text goes. */
struct ec2_field {
    const char *key;
    const char *env;
    char *dst;
    size_t size;
};

/* The raw text of the settings that are not strings in the config. */
struct ec2_raw {
    char max[16], idle[16], on_exit[16];
};

/* The settings table over c and raw (pointers valid while both live). */
static size_t fields_of(struct cr__ec2_config *c, struct ec2_raw *raw, struct ec2_field *f)
{
    const struct ec2_field all[] = {
        {"ami", "CLOUDREC_EC2_AMI", c->ami, sizeof(c->ami)},
        {"type", "CLOUDREC_EC2_TYPE", c->type, sizeof(c->type)},
        {"fleet", "CLOUDREC_EC2_FLEET", c->fleet, sizeof(c->fleet)},
        {"key", "CLOUDREC_EC2_KEY_NAME", c->key_name, sizeof(c->key_name)},
        {"sg", "CLOUDREC_EC2_SECURITY_GROUPS", c->groups, sizeof(c->groups)},
        {"subnet", "CLOUDREC_EC2_SUBNET", c->subnet, sizeof(c->subnet)},
        {"profile", "CLOUDREC_EC2_INSTANCE_PROFILE", c->profile, sizeof(c->profile)},
        {"region", NULL, c->region, sizeof(c->region)},
        {"worker", "CLOUDREC_EC2_WORKER", c->worker, sizeof(c->worker)},
        {"max", "CLOUDREC_EC2_MAX", raw->max, sizeof(raw->max)},
        {"idle_exit_s", "CLOUDREC_EC2_IDLE_EXIT_S", raw->idle, sizeof(raw->idle)},
        {"on_exit", "CLOUDREC_EC2_ON_EXIT", raw->on_exit, sizeof(raw->on_exit)},
    };
    memcpy(f, all, sizeof(all));
    return CR__ARRAY_LEN(all);
}

/* 1 for characters a value may hold: printable, and nothing a shell, a
 * systemd unit or a URL would treat specially. */
static int value_char_ok(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           strchr("._-~:/,+@=", ch) != NULL;
}

/* Copies value into a field, checking its characters and length. */
static cr_status set_field(const struct ec2_field *f, const char *value, const char *from,
                           struct cr_error *err)
{
    size_t len = strlen(value);
    if (len >= f->size)
        return cr__fail(err, CR_ERR_INVALID, "ec2 fleet: %s is longer than %zu characters", from,
                        f->size - 1);
    for (size_t i = 0; i < len; i++)
        if (!value_char_ok(value[i]))
            return cr__fail(
                err, CR_ERR_INVALID,
                "ec2 fleet: %s has a character outside A-Z a-z 0-9 . _ - ~ : / , + @ =", from);
    memcpy(f->dst, value, len + 1);
    return CR_OK;
}

/* Applies every CLOUDREC_EC2_* variable that is set and not empty. */
static cr_status apply_env(const struct ec2_field *f, size_t n, struct cr_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = f[i].env ? getenv(f[i].env) : NULL;
        cr_status st = v && v[0] ? set_field(&f[i], v, f[i].env, err) : CR_OK;
        if (st != CR_OK)
            return st;
    }
    return CR_OK;
}

/* Applies one "key=value" of the URL (value percent-decoded). */
static cr_status apply_pair(const struct ec2_field *f, size_t n, const char *key,
                            const char *raw_value, struct cr_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(f[i].key, key) != 0)
            continue;
        struct cr_buf v;
        cr_buf_init(&v, 0);
        cr_status st = cr_uri_decode(raw_value, strlen(raw_value), &v);
        if (st == CR_OK) {
            char from[64];
            snprintf(from, sizeof(from), "%s=", key);
            st = set_field(&f[i], v.data ? (const char *)v.data : "", from, err);
        } else {
            st = cr__fail(err, CR_ERR_INVALID, "ec2 fleet: bad percent-escape in %s=", key);
        }
        cr_buf_free(&v);
        return st;
    }
    return cr__fail(err, CR_ERR_INVALID,
                    "ec2 fleet: unknown parameter \"%s\" (ami, type, fleet, key, sg, subnet, "
                    "profile, region, worker, max, idle_exit_s, on_exit)",
                    key);
}

/* Applies the URL's query; "ec2:" and "ec2:?" have none. */
static cr_status apply_url(const char *url, const struct ec2_field *f, size_t n,
                           struct cr_error *err)
{
    if (strncmp(url, "ec2:", 4) != 0 || (url[4] != '\0' && url[4] != '?'))
        return cr__fail(err, CR_ERR_INVALID, "%s: expected ec2: or %s", url, EC2_EXAMPLE);
    const char *cur = url[4] == '?' ? url + 5 : "";
    char key[32], val[1024];
    int rc;
    while ((rc = cr__url_query_next(&cur, key, sizeof(key), val, sizeof(val))) == 1) {
        cr_status st = apply_pair(f, n, key, val, err);
        if (st != CR_OK)
            return st;
    }
    return rc == 0 ? CR_OK
                   : cr__fail(err, CR_ERR_INVALID, "%s: parameters are key=value pairs, e.g. %s",
                              url, EC2_EXAMPLE);
}

/* Parses a decimal number in [lo, hi] from text (the default when empty). */
static cr_status parse_int(const char *text, const char *name, long lo, long hi, int dflt, int *out,
                           struct cr_error *err)
{
    if (!text[0]) {
        *out = dflt;
        return CR_OK;
    }
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || !end || *end || v < lo || v > hi)
        return cr__fail(err, CR_ERR_INVALID, "ec2 fleet: %s must be a number from %ld to %ld", name,
                        lo, hi);
    *out = (int)v;
    return CR_OK;
}

/* Splits the comma-separated security groups into group_ids. */
static cr_status split_groups(struct cr__ec2_config *c, struct cr_error *err)
{
    memcpy(c->groups_split, c->groups, sizeof(c->groups_split));
    c->num_groups = 0;
    for (char *save = NULL, *g = strtok_r(c->groups_split, ",", &save); g;
         g = strtok_r(NULL, ",", &save)) {
        if (c->num_groups == CR__EC2_MAX_GROUPS)
            return cr__fail(err, CR_ERR_INVALID, "ec2 fleet: at most %d security groups",
                            CR__EC2_MAX_GROUPS);
        c->group_ids[c->num_groups++] = g;
    }
    return CR_OK;
}

/* 1 when the fleet name can be a tag value and a unit description. */
static int fleet_name_ok(const char *s)
{
    size_t len = strlen(s);
    for (size_t i = 0; i < len; i++)
        if (strchr(":/,+@=~", s[i]))
            return 0;
    return len >= 1 && len <= 64;
}

/* Fills defaults, converts the numbers and checks what is required. */
static cr_status finish(struct cr__ec2_config *c, const struct ec2_raw *raw, struct cr_error *err)
{
    if (!c->type[0])
        cr__strlcpy(c->type, CR__EC2_DEFAULT_TYPE, sizeof(c->type));
    if (!c->fleet[0])
        cr__strlcpy(c->fleet, CR__EC2_DEFAULT_FLEET, sizeof(c->fleet));
    if (!c->worker[0])
        cr__strlcpy(c->worker, CR__EC2_DEFAULT_WORKER, sizeof(c->worker));
    if (!c->ami[0])
        return cr__fail(err, CR_ERR_INVALID,
                        "ec2 fleet: no AMI; give one as %s or in $CLOUDREC_EC2_AMI", EC2_EXAMPLE);
    if (!fleet_name_ok(c->fleet))
        return cr__fail(err, CR_ERR_INVALID,
                        "ec2 fleet: the fleet name is 1..64 of A-Z a-z 0-9 . _ -");
    if (c->worker[0] != '/')
        return cr__fail(err, CR_ERR_INVALID, "ec2 fleet: worker= must be an absolute path");
    if (raw->on_exit[0] && strcmp(raw->on_exit, "keep") && strcmp(raw->on_exit, "terminate"))
        return cr__fail(err, CR_ERR_INVALID, "ec2 fleet: on_exit is keep or terminate");
    c->terminate_on_exit = strcmp(raw->on_exit, "terminate") == 0;
    cr_status st = parse_int(raw->max, "max", 1, CR__EC2_FLEET_HARD_MAX, CR__EC2_FLEET_HARD_MAX,
                             &c->max_instances, err);
    if (st == CR_OK)
        st = parse_int(raw->idle, "idle_exit_s", 0, INT_MAX, CR__EC2_DEFAULT_IDLE_EXIT_S,
                       &c->idle_exit_s, err);
    return st == CR_OK ? split_groups(c, err) : st;
}

cr_status cr__ec2_config_parse(const char *url, struct cr__ec2_config *c, struct cr_error *err)
{
    struct ec2_raw raw;
    struct ec2_field f[16];
    memset(c, 0, sizeof(*c));
    memset(&raw, 0, sizeof(raw));
    size_t n = fields_of(c, &raw, f);
    cr_status st = apply_env(f, n, err);
    if (st == CR_OK)
        st = apply_url(url, f, n, err);
    return st == CR_OK ? finish(c, &raw, err) : st;
}

/* ---- user data -------------------------------------------------------------*/

/* 1 when a worker argument needs no quoting in the unit file (and no
 * escaping but %, see append_arg). */
static int arg_is_safe(const char *a)
{
    if (!a[0])
        return 0;
    for (; *a; a++)
        if (!value_char_ok(*a) && !strchr("?&%", *a))
            return 0;
    return 1;
}

/* Appends " arg" to a unit's ExecStart, % doubled (systemd specifiers).
 * Non-zero when an append failed. */
static int append_arg(struct cr_buf *out, const char *arg)
{
    int bad = cr_buf_append_str(out, " ") != CR_OK;
    for (; *arg; arg++)
        bad |= cr_buf_append(out, *arg == '%' ? "%%" : arg, *arg == '%' ? 2 : 1) != CR_OK;
    return bad;
}

/* 1 when argv (from index 1) holds "--name" followed by a value; name is a
 * worker option's (CR__FLAG), NULL never matches. */
static int has_flag(const char *const *argv, const char *name)
{
    for (size_t i = 1; name && argv[i]; i++)
        if (strncmp(argv[i], "--", 2) == 0 && strcmp(argv[i] + 2, name) == 0 && argv[i + 1])
            return 1;
    return 0;
}

/* Checks the worker command: present, --requests and --output given, every
 * argument safe. */
static cr_status check_worker_argv(const char *const *argv, struct cr_error *err)
{
    if (!argv || !argv[0])
        return cr__fail(err, CR_ERR_INVALID, "ec2 fleet: no worker command to put in user data");
    if (!has_flag(argv, CR__FLAG(worker, worker.requests_url)) ||
        !has_flag(argv, CR__FLAG(worker, worker.output_url)))
        return cr__fail(err, CR_ERR_INVALID,
                        "ec2 fleet: the worker needs --requests and --output "
                        "(cloudrec-scaler --requests sqs://... --output s3://...)");
    for (size_t i = 1; argv[i]; i++)
        if (!arg_is_safe(argv[i]))
            return cr__fail(err, CR_ERR_INVALID,
                            "ec2 fleet: worker argument \"%.64s\" has characters that are not "
                            "allowed in user data (only A-Z a-z 0-9 . _ - ~ : / , + @ = ? & %%)",
                            argv[i]);
    return CR_OK;
}

/* The ExecStart line: the worker on the AMI, the command's flags, the
 * instance id as worker id and the idle exit. Non-zero when an append
 * failed. */
static int append_exec_start(struct cr_buf *out, const struct cr__ec2_config *c,
                             const char *const *argv)
{
    int bad = cr_buf_appendf(out, "ExecStart=%s", c->worker) != CR_OK;
    for (size_t i = 1; argv[i]; i++)
        bad |= append_arg(out, argv[i]);
    const char *id = CR__FLAG(worker, worker.worker_id);
    const char *idle = CR__FLAG(worker, worker.idle_exit_s);
    if (!has_flag(argv, id))
        bad |= cr_buf_appendf(out, " --%s ${CLOUDREC_WORKER_ID}", id) != CR_OK;
    if (c->idle_exit_s > 0 && !has_flag(argv, idle))
        bad |= cr_buf_appendf(out, " --%s %d", idle, c->idle_exit_s) != CR_OK;
    return bad | (cr_buf_append_str(out, "\n") != CR_OK);
}

/* The systemd unit, as a here-document into /etc/systemd/system. Non-zero
 * when an append failed. */
static int append_unit(struct cr_buf *out, const struct cr__ec2_config *c, const char *const *argv)
{
    int bad = cr_buf_appendf(out,
                             "cat > /etc/systemd/system/cloudrec-worker.service <<'CLOUDREC_EOF'\n"
                             "[Unit]\n"
                             "Description=cloudrec worker (fleet %s)\n"
                             "Wants=network-online.target\n"
                             "After=network-online.target\n"
                             "StartLimitIntervalSec=600\n"
                             "StartLimitBurst=5\n"
                             "# The worker exits 0 after --idle-exit-s without work: power off,\n"
                             "# which terminates the instance. Failing for good powers off too.\n"
                             "SuccessAction=poweroff\n"
                             "FailureAction=poweroff\n"
                             "\n"
                             "[Service]\n"
                             "Type=simple\n"
                             "DynamicUser=yes\n"
                             "EnvironmentFile=/etc/cloudrec/worker.env\n",
                             c->fleet) != CR_OK;
    bad |= append_exec_start(out, c, argv);
    return bad | (cr_buf_append_str(out, "Restart=on-failure\n"
                                         "RestartSec=10\n"
                                         "# SIGTERM (instance shutdown): finish the current image, "
                                         "then exit.\n"
                                         "KillSignal=SIGTERM\n"
                                         "TimeoutStopSec=120\n"
                                         "\n"
                                         "[Install]\n"
                                         "WantedBy=multi-user.target\n"
                                         "CLOUDREC_EOF\n") != CR_OK);
}

/* The environment file: region, endpoint overrides, worker id. *bad is set
 * when an append failed. */
static cr_status append_env(struct cr_buf *out, const char *region, const char *const *endpoints,
                            int *bad, struct cr_error *err)
{
    *bad |= cr_buf_append_str(out, "cat > /etc/cloudrec/worker.env <<'CLOUDREC_EOF'\n") != CR_OK;
    if (region && region[0])
        *bad |= cr_buf_appendf(out, "AWS_REGION=%s\n", region) != CR_OK;
    for (size_t i = 0; endpoints && endpoints[i]; i++) {
        const char *eq = strchr(endpoints[i], '=');
        if (!eq || eq == endpoints[i] || !arg_is_safe(eq + 1) || strchr(eq + 1, '%'))
            return cr__fail(err, CR_ERR_INVALID,
                            "ec2 fleet: endpoint setting \"%.64s\" is not NAME=URL of safe "
                            "characters",
                            endpoints[i]);
        *bad |= cr_buf_appendf(out, "%s\n", endpoints[i]) != CR_OK;
    }
    *bad |= cr_buf_append_str(
                out, "CLOUDREC_EOF\n"
                     "echo \"CLOUDREC_WORKER_ID=$id\" >> /etc/cloudrec/worker.env\n") != CR_OK;
    return CR_OK;
}

/* The script's first lines: interpreter, what it is, the instance id. */
static int append_head(struct cr_buf *out, const struct cr__ec2_config *c)
{
    return cr_buf_appendf(out,
                          "#!/bin/sh\n"
                          "# cloudrec app-tier instance of fleet \"%s\", generated by libcloudrec\n"
                          "# (docs/deploy/README.md). cloud-init runs it once at first boot. The\n"
                          "# AMI has cloudrec installed: this installs nothing, it only writes\n"
                          "# the worker's settings and unit and starts it.\n"
                          "set -eu\n"
                          "umask 022\n"
                          "mkdir -p /etc/cloudrec\n"
                          "id=$(cat /var/lib/cloud/data/instance-id 2>/dev/null || hostname)\n",
                          c->fleet) != CR_OK;
}

cr_status cr__ec2_user_data(const struct cr__ec2_config *c, const char *const *worker_argv,
                            const char *region, const char *const *endpoints, struct cr_buf *out,
                            struct cr_error *err)
{
    cr_status st = check_worker_argv(worker_argv, err);
    if (st != CR_OK)
        return st;
    struct cr_buf b;
    cr_buf_init(&b, CR_EC2_MAX_USER_DATA_BYTES);
    int bad = append_head(&b, c);
    st = append_env(&b, region, endpoints, &bad, err);
    if (st == CR_OK) {
        bad |= append_unit(&b, c, worker_argv);
        bad |= cr_buf_append_str(&b, "systemctl daemon-reload\n"
                                     "systemctl enable --now cloudrec-worker.service\n") != CR_OK;
        /* The buffer's limit is EC2's, so a failed append means too much. */
        if (bad)
            st = cr__fail(err, CR_ERR_TOO_LARGE, "ec2 fleet: user data over %d bytes",
                          CR_EC2_MAX_USER_DATA_BYTES);
    }
    if (st == CR_OK && cr_buf_append(out, b.data, b.len) != CR_OK)
        st = cr__fail(err, CR_ERR_NOMEM, "ec2 fleet: out of memory");
    cr_buf_free(&b);
    return st;
}
