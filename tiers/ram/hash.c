/*
 * tiers/ram/hash.c - hash table with striped locks. See hash.h.
 *
 * Lock order: stripe lock -> LRU lock -> slab locks. hash_expand() takes
 * every stripe in index order and nothing else.
 */
#include "hash.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define HASH_LOCK_POWER_MAX 12

uint64_t hash_key(const char *key, size_t nkey)
{
    return (uint64_t)XXH3_64bits(key, nkey);
}

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
    h->locks = calloc((size_t)1 << h->lock_power, sizeof(pthread_mutex_t));
    if (!h->locks) {
        free(h->buckets);
        h->buckets = NULL;
        return HASH_ENOMEM;
    }
    for (size_t i = 0; i < ((size_t)1 << h->lock_power); i++)
        pthread_mutex_init(&h->locks[i], NULL);
    return HASH_OK;
}

void hash_teardown(hash_t *h)
{
    if (h->locks) {
        for (size_t i = 0; i < ((size_t)1 << h->lock_power); i++)
            pthread_mutex_destroy(&h->locks[i]);
    }
    free(h->locks);
    free(h->buckets);
    h->locks = NULL;
    h->buckets = NULL;
}

static inline uint64_t bucket_of(hash_t *h, uint64_t hv)
{
    unsigned p = atomic_load_explicit(&h->power, memory_order_relaxed);
    return hv & (((uint64_t)1 << p) - 1);
}

item_t *do_hash_find(hash_t *h, const char *key, size_t nkey, uint64_t hv)
{
    item_t *it = h->buckets[bucket_of(h, hv)];
    while (it) {
        if (item_nkey(it) == nkey && memcmp(item_ckey(it), key, nkey) == 0)
            return it;
        it = it->h_next;
    }
    return NULL;
}

void do_hash_insert(hash_t *h, item_t *it, uint64_t hv)
{
    uint64_t b = bucket_of(h, hv);
    it->h_next = h->buckets[b];
    h->buckets[b] = it;
    atomic_fetch_add_explicit(&h->nitems, 1, memory_order_relaxed);
}

bool do_hash_remove(hash_t *h, item_t *it, uint64_t hv)
{
    item_t **pp = &h->buckets[bucket_of(h, hv)];
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

void hash_expand(hash_t *h)
{
    bool exp = false;
    if (!atomic_compare_exchange_strong(&h->expanding, &exp, true))
        return; /* someone else is at it */
    size_t nlocks = (size_t)1 << h->lock_power;
    if (!hash_needs_expand(h))
        goto out;
    unsigned p = atomic_load_explicit(&h->power, memory_order_relaxed);
    size_t oldn = (size_t)1 << p;
    item_t **nb = calloc(oldn * 2, sizeof(item_t *));
    if (!nb) {
        atomic_fetch_add_explicit(&h->malloc_fails, 1, memory_order_relaxed);
        goto out;
    }
    for (size_t i = 0; i < nlocks; i++)
        pthread_mutex_lock(&h->locks[i]);
    uint64_t nmask = (uint64_t)oldn * 2 - 1;
    for (size_t b = 0; b < oldn; b++) {
        item_t *it = h->buckets[b];
        while (it) {
            item_t *next = it->h_next;
            uint64_t hv = hash_key(item_ckey(it), item_nkey(it));
            uint64_t nbk = hv & nmask;
            it->h_next = nb[nbk];
            nb[nbk] = it;
            it = next;
        }
    }
    item_t **old = h->buckets;
    h->buckets = nb;
    atomic_store_explicit(&h->power, p + 1, memory_order_relaxed);
    for (size_t i = nlocks; i-- > 0;)
        pthread_mutex_unlock(&h->locks[i]);
    free(old);
out:
    atomic_store(&h->expanding, false);
}

bool hash_walk_step(hash_t *h, uint64_t *pos, uint64_t n, hash_walk_fn fn, void *ctx)
{
    uint64_t end = *pos + n;
    while (*pos < end) {
        uint64_t b = *pos;
        pthread_mutex_t *lk = &h->locks[b & h->lock_mask];
        pthread_mutex_lock(lk);
        /* Read the size under a stripe: expansion needs all of them. */
        uint64_t nb = hash_buckets(h);
        if (b >= nb) {
            pthread_mutex_unlock(lk);
            return false;
        }
        item_t *it = h->buckets[b];
        bool go = true;
        while (it && go) {
            item_t *next = it->h_next;
            go = fn(ctx, it, hash_key(item_ckey(it), item_nkey(it)));
            it = next;
        }
        pthread_mutex_unlock(lk);
        (*pos)++;
        if (!go)
            return false;
        if (*pos >= nb)
            return false;
    }
    return true;
}
