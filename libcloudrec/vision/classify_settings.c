/*
 * classify_settings.c - cr_classifier_open_settings: a classifier opened from
 * "name=value" strings, with the model lookup of cr_model_resolve for the
 * files not named, for bindings (the Python package) that would otherwise
 * mirror struct cr_classifier_options and struct cr_model_paths.
 */
#include "cloudrec/classify.h"
#include "core/settings.h"
#include "vision/classify_internal.h"

#include <stddef.h>

/* The options plus the two settings that are not fields of them. */
struct open_settings {
    struct cr_classifier_options o;
    const char *model_dir;
    const char *engine;
};

#define CL_SETTING(name, field, type) {name, type, offsetof(struct open_settings, field)}

static const struct cr__setting classifier_settings[] = {
    CL_SETTING("model_dir", model_dir, CR__SETTING_STRING),
    CL_SETTING("cfg", o.cfg_path, CR__SETTING_STRING),
    CL_SETTING("weights", o.weights_path, CR__SETTING_STRING),
    CL_SETTING("names", o.names_path, CR__SETTING_STRING),
    CL_SETTING("darknet_lib", o.darknet_lib, CR__SETTING_STRING),
    CL_SETTING("engine", engine, CR__SETTING_STRING),
    CL_SETTING("threads", o.threads, CR__SETTING_INT),
    CL_SETTING("max_bytes", o.limits.max_bytes, CR__SETTING_SIZE),
    CL_SETTING("max_pixels", o.limits.max_pixels, CR__SETTING_U64),
};

cr_status cr_classifier_open_settings(const char *const *settings, struct cr_classifier **out,
                                      struct cr_error *err)
{
    struct open_settings s = {0};
    cr_status st = cr__settings_apply(classifier_settings, CR__ARRAY_LEN(classifier_settings), &s,
                                      settings, err);
    if (st == CR_OK && s.engine && cr_engine_parse(s.engine, &s.o.engine) != CR_OK)
        st = cr__fail(err, CR_ERR_INVALID,
                      "setting engine: \"%s\" is not auto, native or darknet", s.engine);
    if (st != CR_OK)
        return st;
    /* Resolved only when a file is missing: with all three given, the
     * lookup (which fails without a model directory) is not needed. */
    struct cr_model_paths paths;
    if (!s.o.cfg_path || !s.o.weights_path || !s.o.names_path) {
        st = cr_model_resolve(s.model_dir, &paths, err);
        if (st != CR_OK)
            return st;
        s.o.cfg_path = s.o.cfg_path ? s.o.cfg_path : paths.cfg;
        s.o.weights_path = s.o.weights_path ? s.o.weights_path : paths.weights;
        s.o.names_path = s.o.names_path ? s.o.names_path : paths.names;
    }
    return cr_classifier_open(&s.o, out, err);
}
