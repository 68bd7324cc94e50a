/* pool.c - store and queue handles for the HTTP threads. Handles are not
 * thread-safe, and libmicrohttpd owns the threads, so instead of one set per
 * thread there is a stack of idle sets: a handler takes one, uses it and
 * gives it back. The pool grows to the number of handlers that ever ran at
 * once and no further. */
#include "web/web_internal.h"

#include <stdlib.h>

/* Closes every handle of a set and frees it. Accepts NULL. */
static void backends_free(struct cr__web_backends *b)
{
    if (!b)
        return;
    cr_queue_free(b->requests);
    cr_store_free(b->output);
    cr_store_free(b->input);
    free(b);
}

/* Opens a new set. On failure *out is NULL and err names the URL. The
 * request queue is not created here (cr_web_start made sure it exists): a
 * queue that vanished while serving must be recreated by the operator with
 * its settings (dead letters), not silently made anew without them. */
static cr_status backends_open(const struct cr__web_pool *p, struct cr__web_backends **out,
                               struct cr_error *err)
{
    struct cr_queue_options qo = {0};
    cr_status st = CR_ERR_NOMEM;
    struct cr__web_backends *b = calloc(1, sizeof(*b));
    *out = NULL;
    if (!b)
        goto fail;
    if ((st = cr_store_open(p->input_url, &b->input, err)) != CR_OK ||
        (st = cr_store_open(p->output_url, &b->output, err)) != CR_OK ||
        (st = cr_queue_open(p->requests_url, &qo, &b->requests, err)) != CR_OK)
        goto fail;
    *out = b;
    return CR_OK;
fail:
    backends_free(b);
    return st;
}

void cr__web_pool_init(struct cr__web_pool *p, const char *input_url, const char *output_url,
                       const char *requests_url)
{
    pthread_mutex_init(&p->lock, NULL);
    p->idle = NULL;
    p->input_url = input_url;
    p->output_url = output_url;
    p->requests_url = requests_url;
}

cr_status cr__web_pool_acquire(struct cr__web_pool *p, struct cr__web_backends **out,
                               struct cr_error *err)
{
    pthread_mutex_lock(&p->lock);
    struct cr__web_backends *b = p->idle;
    if (b)
        p->idle = b->next;
    pthread_mutex_unlock(&p->lock);
    if (b) {
        b->next = NULL;
        *out = b;
        return CR_OK;
    }
    /* Opening can be slow (a network round trip for AWS backends), so it
     * happens outside the lock. */
    return backends_open(p, out, err);
}

void cr__web_pool_release(struct cr__web_pool *p, struct cr__web_backends *b, int broken)
{
    if (!b)
        return;
    if (broken) {
        backends_free(b);
        return;
    }
    pthread_mutex_lock(&p->lock);
    b->next = p->idle;
    p->idle = b;
    pthread_mutex_unlock(&p->lock);
}

void cr__web_pool_clear(struct cr__web_pool *p)
{
    while (p->idle) {
        struct cr__web_backends *b = p->idle;
        p->idle = b->next;
        backends_free(b);
    }
    pthread_mutex_destroy(&p->lock);
}
