/*
 * tiers/ram/hash.c - hash table with striped locks. See hash.h.
 *
 * Lock order: stripe lock -> LRU lock -> slab locks. hash_expand() takes
 * one stripe at a time and nothing else.
 */
#include "hash.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define HASH_LOCK_POWER_MAX 12

hash_status_e hash_init(hash_t *h, unsigned power)
{
    memset(h, 0, sizeof *h);
    if (power < 4)
        power = 4;
    if (power > 32)
        return HASH_EINVAL;
    h->buckets = calloc((size_t)1 << power, sizeof(item_t *));
    if (!h->buckets)
        return HASH_ENOMEM;
    atomic_init(&h->power, power);
    h->lock_power = power < HASH_LOCK_POWER_MAX ? power : HASH_LOCK_POWER_MAX;
    h->lock_mask = ((uint64_t)1 << h->lock_power) - 1;
    h->stripes = calloc((size_t)1 << h->lock_power, sizeof(hash_stripe_t));
    if (!h->stripes) {
        free(h->buckets);
        h->buckets = NULL;
        return HASH_ENOMEM;
    }
    for (size_t i = 0; i < ((size_t)1 << h->lock_power); i++) {
        pthread_mutex_init(&h->stripes[i].lock, NULL);
        h->stripes[i].table = h->buckets;
        h->stripes[i].power = power;
    }
    return HASH_OK;
}

void hash_teardown(hash_t *h)
{
    if (h->stripes) {
        for (size_t i = 0; i < ((size_t)1 << h->lock_power); i++)
            pthread_mutex_destroy(&h->stripes[i].lock);
    }
    free(h->stripes);
    free(h->buckets);
    h->stripes = NULL;
    h->buckets = NULL;
}

void do_hash_insert(hash_t *h, item_t *it, uint64_t hv)
{
    item_t **head = hash_chain_of(h, hv);
    it->h_next = *head;
    *head = it;
    atomic_fetch_add_explicit(&h->nitems, 1, memory_order_relaxed);
}

bool do_hash_remove(hash_t *h, item_t *it, uint64_t hv)
{
    item_t **pp = hash_chain_of(h, hv);
    while (*pp) {
        if (*pp == it) {
            *pp = it->h_next;
            it->h_next = NULL;
            atomic_fetch_sub_explicit(&h->nitems, 1, memory_order_relaxed);
            return true;
        }
        pp = &(*pp)->h_next;
    }
    return false;
}

bool hash_needs_expand(hash_t *h)
{
    if (atomic_load_explicit(&h->expanding, memory_order_relaxed))
        return false;
    unsigned p = atomic_load_explicit(&h->power, memory_order_relaxed);
    if (p >= 32)
        return false;
    uint64_t n = atomic_load_explicit(&h->nitems, memory_order_relaxed);
    return n > (((uint64_t)1 << p) * 3) / 2;
}

uint64_t hash_buckets(hash_t *h)
{
    return (uint64_t)1 << atomic_load_explicit(&h->power, memory_order_relaxed);
}

/* Moves the chains of stripe s from its table (2^p buckets) into nb
 * (2^(p+1) buckets) and points the stripe at nb. */
static void migrate_stripe(hash_t *h, size_t s, item_t **nb, unsigned p)
{
    hash_stripe_t *st = &h->stripes[s];
    size_t oldn = (size_t)1 << p;
    uint64_t nmask = (uint64_t)oldn * 2 - 1;
    size_t step = (size_t)1 << h->lock_power;
    pthread_mutex_lock(&st->lock);
    for (size_t b = s; b < oldn; b += step) {
        item_t *it = st->table[b];
        while (it) {
            item_t *next = it->h_next;
            uint64_t nbk = hash_key(item_ckey(it), item_nkey(it)) & nmask;
            it->h_next = nb[nbk];
            nb[nbk] = it;
            it = next;
        }
        st->table[b] = NULL;
    }
    st->table = nb;
    st->power = p + 1;
    pthread_mutex_unlock(&st->lock);
}

void hash_expand(hash_t *h)
{
    bool exp = false;
    if (!atomic_compare_exchange_strong(&h->expanding, &exp, true))
        return; /* someone else is at it */
    unsigned p = atomic_load_explicit(&h->power, memory_order_relaxed);
    uint64_t n = atomic_load_explicit(&h->nitems, memory_order_relaxed);
    if (p >= 32 || n <= (((uint64_t)1 << p) * 3) / 2)
        goto out;
    item_t **nb = calloc((size_t)1 << (p + 1), sizeof(item_t *));
    if (!nb) {
        atomic_fetch_add_explicit(&h->malloc_fails, 1, memory_order_relaxed);
        goto out;
    }
    item_t **old = h->buckets;
    /* From here stats and walks see the new size; stripes still on the old
     * table answer for themselves. */
    atomic_store_explicit(&h->power, p + 1, memory_order_relaxed);
    for (size_t s = 0; s < ((size_t)1 << h->lock_power); s++)
        migrate_stripe(h, s, nb, p);
    /* Every stripe now points at nb, and each switch happened under its
     * lock: no thread can still be reading old. */
    h->buckets = nb;
    free(old);
    atomic_fetch_add_explicit(&h->expansions, 1, memory_order_relaxed);
out:
    atomic_store(&h->expanding, false);
}

bool hash_walk_step(hash_t *h, uint64_t *pos, uint64_t n, hash_walk_fn fn, void *ctx)
{
    uint64_t end = *pos + n;
    while (*pos < end) {
        uint64_t b = *pos;
        hash_stripe_t *st = &h->stripes[b & h->lock_mask];
        pthread_mutex_lock(&st->lock);
        uint64_t nb = hash_buckets(h);
        if (b >= nb) {
            pthread_mutex_unlock(&st->lock);
            return false;
        }
        /* A stripe not yet migrated has a smaller table: its positions past
         * that size are empty until it moves. */
        item_t *it = b < ((uint64_t)1 << st->power) ? st->table[b] : NULL;
        bool go = true;
        while (it && go) {
            item_t *next = it->h_next;
            go = fn(ctx, it, hash_key(item_ckey(it), item_nkey(it)));
            it = next;
        }
        pthread_mutex_unlock(&st->lock);
        (*pos)++;
        if (!go)
            return false;
        if (*pos >= nb)
            return false;
    }
    return true;
}
