/* guard.c - deadlines for connections that are still sending their request.
 *
 * libmicrohttpd only knows an idle timeout, which a client that sends one
 * byte a second never reaches: a hundred such clients hold every connection
 * slot. The guard tracks each open connection's phase (from the daemon's
 * connection notifications and the request handler) and, from its own
 * thread, shuts down the socket of one whose headers take longer than
 * header_timeout_ms or whose body arrives slower than min_body_bytes_per_s.
 * libmicrohttpd then sees the end of the stream and closes the connection
 * itself. A connection waiting for its answer is never touched.
 *
 * The socket is shut down only under the guard's lock, and the daemon's
 * "closed" notification (which comes before it closes the descriptor) takes
 * the same lock, so the descriptor is always still the connection's own. */
#include "web/web_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define GUARD_TICK_MS 200

void cr__web_guard_init(struct cr__web_guard *g, struct cr__web_metrics *m)
{
    memset(g, 0, sizeof(*g));
    pthread_mutex_init(&g->lock, NULL);
    g->metrics = m;
}

void cr__web_on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                           enum MHD_ConnectionNotificationCode code)
{
    struct cr__web_guard *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct cr__web_conn *k = calloc(1, sizeof(*k));
        *socket_context = k;
        if (!k || !info) /* unguarded, which only costs the deadline */
            return;
        k->fd = info->connect_fd;
        k->since_ms = cr__time_mono_ms();
        k->linked = 1;
        pthread_mutex_lock(&g->lock);
        k->limit_ms = g->header_timeout_ms;
        k->next = g->head;
        if (g->head)
            g->head->prev = k;
        g->head = k;
        g->count++;
        pthread_mutex_unlock(&g->lock);
        return;
    }
    struct cr__web_conn *k = *socket_context;
    if (!k)
        return;
    if (k->linked) {
        pthread_mutex_lock(&g->lock);
        if (k->prev)
            k->prev->next = k->next;
        else if (g->head == k)
            g->head = k->next;
        if (k->next)
            k->next->prev = k->prev;
        g->count--;
        pthread_mutex_unlock(&g->lock);
    }
    free(k);
    *socket_context = NULL;
}

struct cr__web_conn *cr__web_guard_conn(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

void cr__web_guard_phase(struct cr__web_guard *g, struct cr__web_conn *k,
                         enum cr__web_conn_phase phase)
{
    if (!k)
        return;
    pthread_mutex_lock(&g->lock);
    k->phase = phase;
    k->since_ms = cr__time_mono_ms();
    k->body_bytes = 0;
    if (phase == CR__WEB_CONN_HEADERS)
        k->limit_ms = g->next_request_ms;
    pthread_mutex_unlock(&g->lock);
}

void cr__web_guard_body(struct cr__web_guard *g, struct cr__web_conn *k, size_t bytes)
{
    if (!k)
        return;
    pthread_mutex_lock(&g->lock);
    k->body_bytes += bytes;
    pthread_mutex_unlock(&g->lock);
}

long cr__web_guard_count(struct cr__web_guard *g)
{
    pthread_mutex_lock(&g->lock);
    long n = g->count;
    pthread_mutex_unlock(&g->lock);
    return n;
}

/* Why k is past its deadline at now, or NULL while it is not. */
static const char *overdue(const struct cr__web_guard *g, const struct cr__web_conn *k, int64_t now)
{
    int64_t age = now - k->since_ms;
    if (k->phase == CR__WEB_CONN_HEADERS && k->limit_ms > 0 && age > k->limit_ms)
        return "headers";
    /* The body gets the header timeout as a grace period, then must have
     * kept the average rate. */
    if (k->phase == CR__WEB_CONN_BODY && g->min_body_bytes_per_s > 0 &&
        age > g->header_timeout_ms &&
        k->body_bytes * 1000 < g->min_body_bytes_per_s * (uint64_t)age)
        return "body";
    return NULL;
}

/* One pass over the connections: shuts down those past their deadline. */
static void sweep(struct cr__web_guard *g)
{
    int64_t now = cr__time_mono_ms();
    pthread_mutex_lock(&g->lock);
    for (struct cr__web_conn *k = g->head; k; k = k->next) {
        const char *why = k->dropped ? NULL : overdue(g, k, now);
        if (!why)
            continue;
        k->dropped = 1;
        shutdown(k->fd, SHUT_RDWR);
        atomic_fetch_add(why[0] == 'h' ? &g->metrics->slow_headers : &g->metrics->slow_body, 1);
        cr__log(CR_LOG_INFO, "msg=\"slow client dropped\" phase=%s ms=%lld bytes=%llu", why,
               (long long)(now - k->since_ms), (unsigned long long)k->body_bytes);
    }
    pthread_mutex_unlock(&g->lock);
}

static void *guard_main(void *arg)
{
    struct cr__web_guard *g = arg;
    struct timespec tick = {.tv_sec = 0, .tv_nsec = GUARD_TICK_MS * 1000000L};
    while (!atomic_load(&g->stop)) {
        nanosleep(&tick, NULL);
        sweep(g);
    }
    return NULL;
}

cr_status cr__web_guard_start(struct cr__web_guard *g, long header_timeout_ms,
                              long idle_timeout_ms, uint64_t min_body_bytes_per_s,
                              struct cr_error *err)
{
    pthread_mutex_lock(&g->lock);
    g->header_timeout_ms = header_timeout_ms;
    /* After a first request, a keep-alive connection may idle before its
     * next one as long as the idle timeout allows. */
    g->next_request_ms = idle_timeout_ms > header_timeout_ms ? idle_timeout_ms : header_timeout_ms;
    g->min_body_bytes_per_s = min_body_bytes_per_s;
    pthread_mutex_unlock(&g->lock);
    if (header_timeout_ms <= 0 && min_body_bytes_per_s == 0)
        return CR_OK; /* nothing to enforce */
    atomic_store(&g->stop, 0);
    int rc = pthread_create(&g->thread, NULL, guard_main, g);
    if (rc != 0)
        return cr__fail(err, CR_ERR_INTERNAL, "cannot start the connection guard: %s",
                        strerror(rc));
    g->started = 1;
    return CR_OK;
}

void cr__web_guard_stop(struct cr__web_guard *g)
{
    if (!g->started)
        return;
    atomic_store(&g->stop, 1);
    pthread_join(g->thread, NULL);
    g->started = 0;
}

void cr__web_guard_clear(struct cr__web_guard *g)
{
    cr__web_guard_stop(g);
    pthread_mutex_destroy(&g->lock);
}
