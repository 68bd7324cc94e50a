/*
 * settings.c - "name=value" strings applied to an options struct through a
 * table, for the calls that bindings use instead of laying out C structs
 * (cr_aws_open_settings, cr_classifier_open_settings; docs/api.md).
 */
#include "core/settings.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* The table row named by the first len bytes of name, or NULL. */
static const struct cr__setting *find(const struct cr__setting *table, size_t n, const char *name,
                                      size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(table[i].name) == len && memcmp(table[i].name, name, len) == 0)
            return &table[i];
    return NULL;
}

/* Parses a whole decimal integer in [min, max] (no sign for unsigned types). */
static int parse_int(const char *s, intmax_t min, uintmax_t max, uintmax_t *out, int *negative)
{
    char *end = NULL;
    errno = 0;
    *negative = s[0] == '-';
    if (*negative) {
        intmax_t v = strtoimax(s, &end, 10);
        if (errno || end == s || *end || v < min)
            return -1;
        *out = (uintmax_t)v;
        return 0;
    }
    if (s[0] < '0' || s[0] > '9')
        return -1;
    uintmax_t v = strtoumax(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Stores value in the field row describes. */
static cr_status store(const struct cr__setting *row, void *opts, const char *value,
                       struct cr_error *err)
{
    char *field = (char *)opts + row->offset;
    if (row->type == CR__SETTING_STRING) {
        *(const char **)(void *)field = value;
        return CR_OK;
    }
    static const struct {
        intmax_t min;
        uintmax_t max;
    } range[] = {
        [CR__SETTING_INT] = {INT_MIN, INT_MAX},
        [CR__SETTING_LONG] = {LONG_MIN, LONG_MAX},
        [CR__SETTING_SIZE] = {0, SIZE_MAX},
        [CR__SETTING_U64] = {0, UINT64_MAX},
    };
    uintmax_t v;
    int negative;
    if (parse_int(value, range[row->type].min, range[row->type].max, &v, &negative) != 0)
        return cr__fail(err, CR_ERR_INVALID, "setting %s: \"%s\" is not an integer in range",
                        row->name, value);
    intmax_t sv = negative ? (intmax_t)v : 0;
    switch (row->type) {
    case CR__SETTING_INT:
        *(int *)(void *)field = negative ? (int)sv : (int)v;
        break;
    case CR__SETTING_LONG:
        *(long *)(void *)field = negative ? (long)sv : (long)v;
        break;
    case CR__SETTING_SIZE:
        *(size_t *)(void *)field = (size_t)v;
        break;
    default:
        *(uint64_t *)(void *)field = (uint64_t)v;
        break;
    }
    return CR_OK;
}

cr_status cr__settings_apply(const struct cr__setting *table, size_t n, void *opts,
                             const char *const *settings, struct cr_error *err)
{
    for (size_t i = 0; settings && settings[i]; i++) {
        const char *eq = strchr(settings[i], '=');
        if (!eq)
            return cr__fail(err, CR_ERR_INVALID, "setting \"%s\" is not name=value", settings[i]);
        const struct cr__setting *row = find(table, n, settings[i], (size_t)(eq - settings[i]));
        if (!row)
            return cr__fail(err, CR_ERR_INVALID, "unknown setting \"%.*s\"",
                            (int)(eq - settings[i]), settings[i]);
        cr_status st = store(row, opts, eq + 1, err);
        if (st != CR_OK)
            return st;
    }
    return CR_OK;
}
