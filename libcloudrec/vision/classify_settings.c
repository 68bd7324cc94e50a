/*
 * classify_settings.c - cr_classifier_open_settings: a classifier opened from
 * "name=value" strings, with the model lookup of cr_model_resolve for the
 * files not named, for bindings (the Python package) that would otherwise
 * mirror struct cr_classifier_options and struct cr_model_paths.
 */
#include "cloudrec/classify.h"
#include "core/programs.h"
#include "core/settings.h"
#include "vision/classify_internal.h"

#include <stddef.h>

/* The options plus the setting that is not a field of them. */
struct open_settings {
    struct cr_classifier_options o;
    const char *model_dir;
};

#define CL_SETTING(n, f, t)                                                                       \
    {.name = n, .type = t, .offset = offsetof(struct open_settings, f),                           \
     .flags = CR__OPT_TYPE_RANGE}

static const struct cr__opt classifier_settings[] = {
    CL_SETTING("model_dir", model_dir, CR__OPT_STR),
    CL_SETTING("cfg", o.cfg_path, CR__OPT_STR),
    CL_SETTING("weights", o.weights_path, CR__OPT_STR),
    CL_SETTING("names", o.names_path, CR__OPT_STR),
    CL_SETTING("darknet_lib", o.darknet_lib, CR__OPT_STR),
    {.name = "engine", .type = CR__OPT_CHOICE, .offset = offsetof(struct open_settings, o.engine),
     .choices = cr__engine_choices},
    CL_SETTING("threads", o.threads, CR__OPT_INT),
    CL_SETTING("max_bytes", o.limits.max_bytes, CR__OPT_SIZE),
    CL_SETTING("max_pixels", o.limits.max_pixels, CR__OPT_U64),
};

cr_status cr_classifier_open_settings(const char *const *settings, struct cr_classifier **out,
                                      struct cr_error *err)
{
    struct open_settings s = {0};
    cr_status st = cr__settings_apply(classifier_settings, CR__ARRAY_LEN(classifier_settings), &s,
                                      settings, err);
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
