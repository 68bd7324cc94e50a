/* events.c - the simulator's clockwork: random numbers, the event heap and billing. */
#include "sim/sim_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- random numbers ---------------------------------------------------------- */

/* One step of splitmix64: spreads any seed, 0 included, over all 64 bits. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void cr__sim_rng_seed(struct cr__sim_rng *r, uint64_t seed, uint64_t stream)
{
    /* Mixing the stream in through splitmix keeps the streams of one seed
     * far apart; xoshiro's state must not be all zero, which splitmix
     * output never is in four consecutive draws. */
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL);
    for (size_t i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

/* Rotates x left by k bits (0 < k < 64). */
static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t cr__sim_rng_next(struct cr__sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double cr__sim_rng_uniform(struct cr__sim_rng *r)
{
    return (double)(cr__sim_rng_next(r) >> 11) * 0x1.0p-53;
}

double cr__sim_rng_exp(struct cr__sim_rng *r, double mean)
{
    /* 1 - u is in (0, 1], so the log is finite. */
    return -mean * log(1.0 - cr__sim_rng_uniform(r));
}

/* ---- event heap ----------------------------------------------------------------- */

/* a runs before b. */
static int earlier(const struct cr__sim_event *a, const struct cr__sim_event *b)
{
    if (a->t_us != b->t_us)
        return a->t_us < b->t_us;
    if (a->prio != b->prio)
        return a->prio < b->prio;
    return a->seq < b->seq;
}

cr_status cr__sim_heap_push(struct cr__sim_heap *h, struct cr__sim_event e)
{
    struct cr__sim_event *ev = cr__array_grow(h->ev, &h->cap, h->n, sizeof(*ev), 256);
    if (!ev)
        return CR_ERR_NOMEM;
    h->ev = ev;
    e.seq = h->next_seq++;
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!earlier(&e, &h->ev[parent]))
            break;
        h->ev[i] = h->ev[parent];
        i = parent;
    }
    h->ev[i] = e;
    return CR_OK;
}

int cr__sim_heap_pop(struct cr__sim_heap *h, struct cr__sim_event *out)
{
    if (h->n == 0)
        return 0;
    *out = h->ev[0];
    struct cr__sim_event last = h->ev[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && earlier(&h->ev[c + 1], &h->ev[c]))
            c++;
        if (!earlier(&h->ev[c], &last))
            break;
        h->ev[i] = h->ev[c];
        i = c;
    }
    if (h->n > 0)
        h->ev[i] = last;
    return 1;
}

void cr__sim_heap_clear(struct cr__sim_heap *h)
{
    free(h->ev);
    memset(h, 0, sizeof(*h));
}

/* ---- billing -------------------------------------------------------------------- */

double cr__sim_bill_usd(int64_t life_us, int min_billed_s, double price_per_hour_usd)
{
    if (life_us < 0)
        life_us = 0;
    int64_t seconds = (life_us + 999999) / 1000000;
    if (seconds < min_billed_s)
        seconds = min_billed_s;
    return (double)seconds * price_per_hour_usd / 3600.0;
}

/* ---- series --------------------------------------------------------------------- */

cr_status cr__sim_series_add(struct cr__sim_series *s, const struct cr__sim_row *row)
{
    struct cr__sim_row *rows = cr__array_grow(s->rows, &s->cap, s->n, sizeof(*rows), 1024);
    if (!rows)
        return CR_ERR_NOMEM;
    s->rows = rows;
    s->rows[s->n++] = *row;
    return CR_OK;
}
