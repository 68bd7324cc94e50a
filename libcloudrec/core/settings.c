/*
 * settings.c - "name=value" strings applied to an options struct through its
 * declaration, for the calls that bindings use instead of laying out C
 * structs (cr_aws_open_settings, cr_classifier_open_settings; docs/api.md).
 * Parsing a value is core/opts.c's, as for command lines.
 */
#include "core/settings.h"

#include <string.h>

cr_status cr__settings_apply(const struct cr__opt *table, size_t n, void *opts,
                             const char *const *settings, struct cr_error *err)
{
    for (size_t i = 0; settings && settings[i]; i++) {
        const char *eq = strchr(settings[i], '=');
        if (!eq)
            return cr__fail(err, CR_ERR_INVALID, "setting \"%s\" is not name=value", settings[i]);
        size_t len = (size_t)(eq - settings[i]);
        const struct cr__opt *o = cr__opt_find(table, n, settings[i], len);
        if (!o)
            return cr__fail(err, CR_ERR_INVALID, "unknown setting \"%.*s\"", (int)len,
                            settings[i]);
        if (!cr__opt_store(o, opts, eq + 1)) {
            char values[256];
            cr__opt_values(o, values, sizeof(values));
            return cr__fail(err, CR_ERR_INVALID, "setting %s: \"%s\" is not %s", o->name, eq + 1,
                            values[0] ? values : "a value of it");
        }
    }
    return CR_OK;
}
