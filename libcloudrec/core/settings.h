/*
 * settings.h - applying "name=value" strings to an options struct through a
 * table of its fields; not installed. The *_open_settings calls use it so a
 * binding passes plain strings instead of mirroring a struct's layout.
 */
#ifndef CLOUDREC_CORE_SETTINGS_H
#define CLOUDREC_CORE_SETTINGS_H

#include "internal.h"

#include <stddef.h>

enum cr__setting_type {
    CR__SETTING_STRING, /* const char *, pointing into the setting (borrowed) */
    CR__SETTING_INT,    /* int, decimal */
    CR__SETTING_LONG,   /* long, decimal */
    CR__SETTING_SIZE,   /* size_t, decimal, not negative */
    CR__SETTING_U64,    /* uint64_t, decimal, not negative */
};

/* One settable field: its name and type, and offsetof() in the struct. */
struct cr__setting {
    const char *name;
    enum cr__setting_type type;
    size_t offset;
};

/*
 * Applies settings (a NULL-terminated array of "name=value"; NULL = none) in
 * order to the struct at opts, whose fields table (n rows) describes; a name
 * given twice keeps the last value. String fields point into the settings,
 * so those must outlive the use of opts. CR_ERR_INVALID naming the setting
 * for one without '=', an unknown name or a value that is not a whole
 * decimal integer in the field's range; fields set before it stay set.
 */
cr_status cr__settings_apply(const struct cr__setting *table, size_t n, void *opts,
                             const char *const *settings, struct cr_error *err);

#endif
