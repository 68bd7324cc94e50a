/* worker_state.c - the worker's state file (the format is in worker_state.h). */
#include "backends/worker_state.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The word for a state, or NULL for one a worker never reports. */
static const char *state_word(enum cr_instance_state state)
{
    switch (state) {
    case CR_INSTANCE_IDLE:
        return "idle";
    case CR_INSTANCE_RUNNING:
        return "busy";
    case CR_INSTANCE_STOPPING:
        return "stopping";
    default:
        return NULL;
    }
}

cr_status cr__worker_state_write(const char *path, const struct cr__worker_state *st,
                                 struct cr_error *err)
{
    const char *word = st ? state_word(st->state) : NULL;
    if (!path || !word)
        return cr__fail(err, CR_ERR_INVALID, "worker state: a path and a reported state are required");
    char line[128];
    int len = snprintf(line, sizeof(line), "%s %lld %ld %lld\n", word, (long long)st->since_ms,
                       st->pid, (long long)st->ready_ms);
    return cr__file_write_atomic(path, line, (size_t)len, err);
}

cr_status cr__worker_state_read(const char *path, struct cr__worker_state *st)
{
    memset(st, 0, sizeof(*st));
    FILE *fp = fopen(path, "r");
    if (!fp)
        return errno == ENOENT ? CR_ERR_NOT_FOUND : CR_ERR_IO;
    char word[16] = "";
    long long since = 0, ready = 0;
    long pid = 0;
    int fields = fscanf(fp, "%15s %lld %ld %lld", word, &since, &pid, &ready);
    fclose(fp);
    if (fields < 3)
        return CR_ERR_FORMAT;
    if (strcmp(word, "idle") == 0)
        st->state = CR_INSTANCE_IDLE;
    else if (strcmp(word, "busy") == 0)
        st->state = CR_INSTANCE_RUNNING;
    else if (strcmp(word, "stopping") == 0)
        st->state = CR_INSTANCE_STOPPING;
    else
        return CR_ERR_FORMAT;
    st->since_ms = since;
    st->pid = pid;
    st->ready_ms = fields == 4 ? ready : 0;
    return CR_OK;
}
