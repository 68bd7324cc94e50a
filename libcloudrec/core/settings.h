/*
 * settings.h - applying "name=value" strings to an options struct through its
 * declaration (a table of struct cr__opt, core/opts.h); not installed. The
 * *_open_settings calls use it so a binding passes plain strings instead of
 * mirroring a struct's layout.
 */
#ifndef CLOUDREC_CORE_SETTINGS_H
#define CLOUDREC_CORE_SETTINGS_H

#include "core/opts.h"
#include "internal.h"

#include <stddef.h>

/*
 * Applies settings (a NULL-terminated array of "name=value"; NULL = none) in
 * order to the struct at opts, whose fields table (n options, stored as
 * cr__opt_store does) describes; a name given twice keeps the last value.
 * String fields point into the settings, so those must outlive the use of
 * opts. CR_ERR_INVALID naming the setting for one without '=', an unknown
 * name or a value the option does not take; fields set before it stay set.
 */
cr_status cr__settings_apply(const struct cr__opt *table, size_t n, void *opts,
                             const char *const *settings, struct cr_error *err);

#endif
