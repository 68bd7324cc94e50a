/* log.c - the pluggable logger. Silent until a handler is installed. */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static cr_log_fn g_handler;
static void *g_userdata;
static enum cr_log_level g_min_level = CR_LOG_OFF;

void cr_log_set_handler(cr_log_fn handler, void *userdata, enum cr_log_level min_level)
{
    g_handler = handler;
    g_userdata = userdata;
    g_min_level = handler ? min_level : CR_LOG_OFF;
}

int cr__log_enabled(enum cr_log_level level)
{
    return g_handler != NULL && level >= g_min_level && level < CR_LOG_OFF;
}

void cr__log(enum cr_log_level level, const char *fmt, ...)
{
    /* Check the level first so a filtered line costs no formatting. */
    if (!cr__log_enabled(level))
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    g_handler(g_userdata, level, line);
}

const char *cr_log_level_name(enum cr_log_level level)
{
    switch (level) {
    case CR_LOG_DEBUG:
        return "debug";
    case CR_LOG_INFO:
        return "info";
    case CR_LOG_WARN:
        return "warn";
    case CR_LOG_ERROR:
        return "error";
    case CR_LOG_OFF:
        return "off";
    }
    return "unknown";
}

int cr__log_level_parse(const char *name)
{
    static const enum cr_log_level levels[] = {CR_LOG_DEBUG, CR_LOG_INFO, CR_LOG_WARN,
                                               CR_LOG_ERROR, CR_LOG_OFF};
    for (size_t i = 0; i < CR__ARRAY_LEN(levels); i++)
        if (strcasecmp(name, cr_log_level_name(levels[i])) == 0)
            return (int)levels[i];
    return -1;
}

void cr_log_stderr(void *userdata, enum cr_log_level level, const char *line)
{
    (void)userdata;
    int64_t ms = cr__time_wall_ms();
    char ts[21];
    cr__time_format_iso8601(ms / 1000, ts);
    /* One fprintf per line: stdio locks the stream, so concurrent lines from
     * several threads do not interleave. */
    fprintf(stderr, "%.19s.%03dZ %s %s\n", ts, (int)(ms % 1000), cr_log_level_name(level), line);
}
