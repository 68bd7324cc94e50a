/* retention.c - removing old uploads and results (retention.h). */
#include "pipeline/retention.h"

#include "backends/backend.h"
#include "pipeline/message.h"

#include <stdlib.h>
#include <string.h>

/* The keys a listing found, copied (the store may change while we delete),
 * with their last write times. */
struct key_list {
    char **keys;
    int64_t *mtime_ms;
    size_t n, cap;
    int failed;
};

/* Makes room for one more entry; 0 when out of memory. */
static int grow(struct key_list *l)
{
    if (l->n < l->cap)
        return 1;
    size_t cap = l->cap ? l->cap * 2 : 64;
    char **k = realloc(l->keys, cap * sizeof(*k));
    if (k)
        l->keys = k;
    int64_t *t = k ? realloc(l->mtime_ms, cap * sizeof(*t)) : NULL;
    if (t)
        l->mtime_ms = t;
    if (!k || !t)
        return 0;
    l->cap = cap;
    return 1;
}

static void collect(const char *key, int64_t mtime_ms, void *ctx)
{
    struct key_list *l = ctx;
    if (l->failed || !grow(l) || !(l->keys[l->n] = strdup(key))) {
        l->failed = 1;
        return;
    }
    l->mtime_ms[l->n++] = mtime_ms;
}

static void key_list_clear(struct key_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->keys[i]);
    free(l->keys);
    free(l->mtime_ms);
    memset(l, 0, sizeof(*l));
}

/* The keys of s written before before_ms into *l. */
static cr_status list_older(struct cr_store *s, int64_t before_ms, struct key_list *l,
                            struct cr_error *err)
{
    cr_status st = cr__store_list_older(s, before_ms, collect, l, err);
    if (st == CR_OK && l->failed)
        st = cr__fail(err, CR_ERR_NOMEM, "retention: out of memory");
    return st;
}

/* 1 when the output store holds the result of the request whose input key
 * is key ("<id>.jpg", message.h): then the upload was answered. */
static int answered(struct cr_store *output, const char *key)
{
    char id[CR_UUID_STR_LEN], rkey[CR_UUID_STR_LEN + 8];
    size_t n = strcspn(key, ".");
    if (n != CR_UUID_STR_LEN - 1)
        return 0; /* not one of ours: only the age limit applies */
    memcpy(id, key, n);
    id[n] = '\0';
    if (cr_result_key(id, rkey, sizeof(rkey)) != CR_OK)
        return 0; /* not one of ours: only the age limit applies */
    struct cr_buf b;
    cr_buf_init(&b, 1);
    cr_status st = cr_store_get(output, rkey, 1, &b, NULL);
    cr_buf_free(&b);
    return st == CR_OK || st == CR_ERR_TOO_LARGE;
}

/* Removes the old inputs (see retention.h); counts them in *removed. */
static cr_status sweep_inputs(struct cr_store *input, struct cr_store *output,
                              const struct cr__retention *r, int64_t now_ms, long *removed,
                              struct cr_error *err)
{
    struct key_list l = {0};
    cr_status st = list_older(input, now_ms - (int64_t)r->keep_inputs_s * 1000, &l, err);
    int64_t hard_ms = r->keep_outputs_s >= 0 ? now_ms - (int64_t)r->keep_outputs_s * 1000 : 0;
    for (size_t i = 0; st == CR_OK && i < l.n; i++) {
        int expired = r->keep_outputs_s >= 0 && l.mtime_ms[i] < hard_ms;
        if (!expired && !answered(output, l.keys[i]))
            continue;
        if ((st = cr_store_delete(input, l.keys[i], err)) == CR_OK)
            (*removed)++;
    }
    key_list_clear(&l);
    return st;
}

/* Removes the old outputs; counts them in *removed. */
static cr_status sweep_outputs(struct cr_store *output, const struct cr__retention *r,
                               int64_t now_ms, long *removed, struct cr_error *err)
{
    struct key_list l = {0};
    cr_status st = list_older(output, now_ms - (int64_t)r->keep_outputs_s * 1000, &l, err);
    for (size_t i = 0; st == CR_OK && i < l.n; i++)
        if ((st = cr_store_delete(output, l.keys[i], err)) == CR_OK)
            (*removed)++;
    key_list_clear(&l);
    return st;
}

cr_status cr__retention_sweep(struct cr_store *input, struct cr_store *output,
                              const struct cr__retention *r, int64_t now_ms,
                              struct cr__retention_stats *stats, struct cr_error *err)
{
    struct cr__retention_stats local = {0, 0};
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof(*stats));
    if (!input || !output || !r)
        return cr__fail(err, CR_ERR_INVALID, "retention: stores and settings are required");
    cr_status st = CR_OK;
    /* Inputs first: whether one was answered is read from the outputs. */
    if (r->keep_inputs_s >= 0)
        st = sweep_inputs(input, output, r, now_ms, &stats->inputs_removed, err);
    if (st == CR_OK && r->keep_outputs_s >= 0)
        st = sweep_outputs(output, r, now_ms, &stats->outputs_removed, err);
    return st;
}
