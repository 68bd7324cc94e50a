/* pending.c - requests waiting for their reply, by request id, and the ids
 * answered last. A chained hash table over fixed buckets: the map holds at
 * most as many entries as there are open connections, so it never needs to
 * grow. No locking here; the server's lock guards every call. */
#include "web/web_internal.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a over the id's characters. */
static size_t bucket_of(const char *id)
{
    uint64_t h = 1469598103934665603ull;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 1099511628211ull;
    return (size_t)(h % CR__WEB_PENDING_BUCKETS);
}

cr_status cr__web_pending_init(struct cr__web_pending_map *m)
{
    memset(m, 0, sizeof(*m));
    m->recent = calloc(CR__WEB_RECENT_IDS, sizeof(*m->recent));
    return m->recent ? CR_OK : CR_ERR_NOMEM;
}

void cr__web_pending_clear(struct cr__web_pending_map *m)
{
    free(m->recent);
    memset(m, 0, sizeof(*m));
}

void cr__web_pending_add(struct cr__web_pending_map *m, struct cr__web_pending *p)
{
    size_t b = bucket_of(p->id);
    p->next = m->buckets[b];
    m->buckets[b] = p;
    m->count++;
}

struct cr__web_pending *cr__web_pending_take(struct cr__web_pending_map *m, const char *id)
{
    for (struct cr__web_pending **pp = &m->buckets[bucket_of(id)]; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->id, id) == 0) {
            struct cr__web_pending *p = *pp;
            *pp = p->next;
            p->next = NULL;
            m->count--;
            return p;
        }
    }
    return NULL;
}

size_t cr__web_pending_take_expired(struct cr__web_pending_map *m, int64_t now_ms,
                                    struct cr__web_pending **out, size_t max)
{
    size_t n = 0;
    for (size_t b = 0; b < CR__WEB_PENDING_BUCKETS && n < max; b++) {
        struct cr__web_pending **pp = &m->buckets[b];
        while (*pp && n < max) {
            struct cr__web_pending *p = *pp;
            /* Only suspended entries: one not yet suspended is still in its
             * handler, which resolves it itself. */
            if (p->suspended && p->deadline_ms > 0 && p->deadline_ms <= now_ms) {
                *pp = p->next;
                p->next = NULL;
                m->count--;
                out[n++] = p;
            } else {
                pp = &p->next;
            }
        }
    }
    return n;
}

struct cr__web_pending *cr__web_pending_take_any(struct cr__web_pending_map *m)
{
    for (size_t b = 0; b < CR__WEB_PENDING_BUCKETS; b++) {
        struct cr__web_pending *p = m->buckets[b];
        if (p) {
            m->buckets[b] = p->next;
            p->next = NULL;
            m->count--;
            return p;
        }
    }
    return NULL;
}

void cr__web_pending_remember(struct cr__web_pending_map *m, const char *id)
{
    cr__strlcpy(m->recent[m->recent_next], id, CR_UUID_STR_LEN);
    m->recent_next = (m->recent_next + 1) % CR__WEB_RECENT_IDS;
    if (m->recent_len < CR__WEB_RECENT_IDS)
        m->recent_len++;
}

int cr__web_pending_seen(const struct cr__web_pending_map *m, const char *id)
{
    /* A linear scan: it only runs for replies nobody waits for. */
    for (size_t i = 0; i < m->recent_len; i++)
        if (strcmp(m->recent[i], id) == 0)
            return 1;
    return 0;
}
