/* fleet.c - cr_fleet: dispatch by URL scheme and the checks every fleet shares. */
#include "backends/fleet_backend.h"

#include <stdlib.h>
#include <string.h>

/* The known schemes. A row without ops is recognised but not built; opening
 * it fails with `missing` (fleet_backend.h says how a fleet plugs in). */
static const struct {
    const char *scheme;
    const struct cr__fleet_ops *ops;
    const char *missing;
} fleet_schemes[] = {
    {"local", &cr__fleet_local_ops, NULL},
    {"ec2", &cr__fleet_ec2_ops, NULL},
};

#define CR__FLEET_URL_FORMS "local:, local:///abs/state-dir or ec2:[?ami=...&...]"

const char *cr_instance_state_name(enum cr_instance_state state)
{
    switch (state) {
    case CR_INSTANCE_PENDING:
        return "pending";
    case CR_INSTANCE_RUNNING:
        return "running";
    case CR_INSTANCE_IDLE:
        return "idle";
    case CR_INSTANCE_STOPPING:
        return "stopping";
    }
    return "unknown";
}

/* Finds the ops for url's scheme (the letters before the first ':'). */
static cr_status find_ops(const char *url, const struct cr__fleet_ops **ops, struct cr_error *err)
{
    size_t len = strcspn(url, ":");
    if (url[len] != ':' || len == 0)
        return cr__fail(err, CR_ERR_INVALID, "not a fleet URL: \"%s\" (expected %s)", url,
                        CR__FLEET_URL_FORMS);
    for (size_t i = 0; i < CR__ARRAY_LEN(fleet_schemes); i++) {
        if (strlen(fleet_schemes[i].scheme) != len ||
            strncmp(fleet_schemes[i].scheme, url, len) != 0)
            continue;
        *ops = fleet_schemes[i].ops;
        return *ops ? CR_OK : cr__fail(err, CR_ERR_UNSUPPORTED, "%s", fleet_schemes[i].missing);
    }
    return cr__fail(err, CR_ERR_INVALID, "unknown fleet URL \"%s\" (expected %s)", url,
                    CR__FLEET_URL_FORMS);
}

cr_status cr_fleet_open(const char *url, const struct cr_fleet_options *opts, struct cr_fleet **out,
                        struct cr_error *err)
{
    if (!out || !url)
        return cr__fail(err, CR_ERR_INVALID, "cr_fleet_open: url and out are required");
    *out = NULL;
    static const struct cr_fleet_options none = {0};
    const struct cr__fleet_ops *ops = NULL;
    cr_status st = find_ops(url, &ops, err);
    if (st != CR_OK)
        return st;
    if (opts && opts->kill_after_ms < 0)
        return cr__fail(err, CR_ERR_INVALID, "fleet: kill_after_ms must be >= 0");
    struct cr_fleet *f = calloc(1, sizeof(*f));
    if (!f)
        return cr__fail(err, CR_ERR_NOMEM, "%s: out of memory", url);
    f->ops = ops;
    if ((st = ops->open(url, opts ? opts : &none, &f->impl, err)) != CR_OK) {
        free(f);
        return st;
    }
    *out = f;
    return CR_OK;
}

cr_status cr_fleet_list(struct cr_fleet *f, struct cr_instance_list *out, struct cr_error *err)
{
    if (!f || !out)
        return cr__fail(err, CR_ERR_INVALID, "cr_fleet_list: fleet and out are required");
    memset(out, 0, sizeof(*out));
    return f->ops->list(f->impl, out, err);
}

void cr_fleet_list_clear(struct cr_instance_list *list)
{
    if (!list)
        return;
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

cr_status cr_fleet_launch(struct cr_fleet *f, int count, int *launched, struct cr_error *err)
{
    int dummy = 0;
    int *n = launched ? launched : &dummy;
    *n = 0;
    if (!f || count < 0)
        return cr__fail(err, CR_ERR_INVALID, "cr_fleet_launch: fleet required, count >= 0");
    return count == 0 ? CR_OK : f->ops->launch(f->impl, count, n, err);
}

cr_status cr_fleet_stop(struct cr_fleet *f, const char *id, struct cr_error *err)
{
    if (!f || !id)
        return cr__fail(err, CR_ERR_INVALID, "cr_fleet_stop: fleet and id are required");
    return f->ops->stop(f->impl, id, err);
}

cr_status cr_fleet_shutdown(struct cr_fleet *f, struct cr_error *err)
{
    if (!f)
        return cr__fail(err, CR_ERR_INVALID, "cr_fleet_shutdown: fleet is required");
    return f->ops->shutdown(f->impl, err);
}

void cr_fleet_free(struct cr_fleet *f)
{
    if (!f)
        return;
    f->ops->close(f->impl);
    free(f);
}

cr_status cr__fleet_user_data(struct cr_fleet *f, struct cr_buf *out, struct cr_error *err)
{
    if (!f || !out)
        return cr__fail(err, CR_ERR_INVALID, "cr__fleet_user_data: fleet and out are required");
    if (!f->ops->user_data)
        return cr__fail(err, CR_ERR_UNSUPPORTED,
                        "%s: fleets have no user data (only ec2: instances boot with one)",
                        f->ops->scheme);
    return f->ops->user_data(f->impl, out, err);
}

int cr__fleet_max_instances(const struct cr_fleet *f)
{
    return f && f->ops->max_instances ? f->ops->max_instances(f->impl) : 0;
}
