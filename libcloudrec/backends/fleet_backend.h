/*
 * fleet_backend.h - the internal vtable behind cr_fleet; not installed.
 *
 * fleet.c parses the URL's scheme, checks the arguments every fleet shares
 * and forwards to an implementation through this table. Adding a fleet (how
 * ec2: plugs in):
 *   1. write a source file, e.g. libcloudrec/backends/fleet_ec2.c, defining
 *      `const struct cr__fleet_ops cr__fleet_ec2_ops = { ... };`;
 *   2. declare it below;
 *   3. in the scheme table of fleet.c, replace the ec2 row's NULL ops by a
 *      pointer to it;
 *   4. add the file to lib_sources in libcloudrec/meson.build.
 */
#ifndef CLOUDREC_FLEET_BACKEND_H
#define CLOUDREC_FLEET_BACKEND_H

#include "cloudrec/fleet.h"
#include "internal.h"

/* One fleet implementation. `impl` is whatever open() made. list() receives
 * a zeroed *out; launch() gets count >= 1 and *launched == 0; stop() a
 * non-NULL id. */
struct cr__fleet_ops {
    const char *scheme; /* "local", "ec2" */
    cr_status (*open)(const char *url, const struct cr_fleet_options *opts, void **impl,
                      struct cr_error *err);
    cr_status (*list)(void *impl, struct cr_instance_list *out, struct cr_error *err);
    cr_status (*launch)(void *impl, int count, int *launched, struct cr_error *err);
    cr_status (*stop)(void *impl, const char *id, struct cr_error *err);
    cr_status (*shutdown)(void *impl, struct cr_error *err);
    void (*close)(void *impl);
    /* Optional: appends the boot script of a new instance (ec2: user data). */
    cr_status (*user_data)(void *impl, struct cr_buf *out, struct cr_error *err);
    /* Optional: the most instances the fleet will hold (0 or NULL: no cap
     * of its own). */
    int (*max_instances)(void *impl);
};

struct cr_fleet {
    const struct cr__fleet_ops *ops;
    void *impl;
};

/* ---- registered implementations ------------------------------------------*/
extern const struct cr__fleet_ops cr__fleet_local_ops; /* backends/fleet_local.c */
extern const struct cr__fleet_ops cr__fleet_ec2_ops;   /* backends/fleet_ec2.c */

/* The fleet's own cap on instances (ec2: 20 or its max=), 0 when it has
 * none; the scaler clamps its policy's max to it. */
int cr__fleet_max_instances(const struct cr_fleet *f);

/* ---- boot scripts (fleet.c) -------------------------------------------------*/

/* Appends to out the boot script a new instance of f runs: for ec2: the
 * user data (a shell script for cloud-init that writes and starts the
 * worker's systemd unit). No network I/O. CR_ERR_UNSUPPORTED for local
 * fleets; CR_ERR_INVALID when the worker command lacks --requests or
 * --output or has unsafe characters. */
cr_status cr_fleet_user_data(struct cr_fleet *f, struct cr_buf *out, struct cr_error *err);

#endif
