/*
 * tiers/ram/hash.h - the item hash table with striped locks.
 *
 * Buckets are chains of items through item_t.h_next, indexed by the low
 * bits of the key's XXH3_64bits hash (hv). Locks are striped: stripe
 * hv & lock_mask guards every bucket whose index has the same low bits
 * (there are never more stripes than buckets), so one stripe lock guards
 * the whole chain a key can be in, whatever the table size.
 *
 *   buckets[1 << power]: item_t *  --h_next--> item --h_next--> NULL
 *   locks[1 << lock_power]: pthread_mutex_t, lock_power <= power
 *
 * Growth: when items exceed 1.5 * buckets, hash_expand() doubles the table.
 * It takes every stripe lock (in index order) and rehashes in one go: a
 * short stop of all lookups (about 10 ms per million items) instead of
 * memcached's incremental migration. It must be called holding no stripe
 * lock; the maintainer thread calls it, or the storing thread after it has
 * dropped its locks when the maintainer is disabled.
 *
 * Lock order: stripe lock -> (LRU lock -> slab locks). Code that holds an
 * LRU lock only ever trylocks a stripe. hash_expand() takes all stripes
 * holding nothing else.
 */
#ifndef TIERCACHE_RAM_HASH_H
#define TIERCACHE_RAM_HASH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "item.h"

typedef struct hash {
    item_t **buckets;        /* [all stripes to change; a stripe to read] */
    _Atomic unsigned power;  /* log2 of buckets */
    pthread_mutex_t *locks;
    unsigned lock_power;
    uint64_t lock_mask;
    _Atomic uint64_t nitems;
    _Atomic bool expanding;
    _Atomic uint64_t malloc_fails;
} hash_t;

typedef enum hash_status { HASH_OK = 0, HASH_ENOMEM, HASH_EINVAL } hash_status_e;

/* hash of a key */
uint64_t hash_key(const char *key, size_t nkey);

/* 2^power buckets (power clamped to 4..32), up to 2^12 stripes. */
hash_status_e hash_init(hash_t *h, unsigned power);
/* Frees the table (not the items). */
void hash_teardown(hash_t *h);

static inline pthread_mutex_t *hash_stripe(hash_t *h, uint64_t hv)
{
    return &h->locks[hv & h->lock_mask];
}
static inline void hash_lock(hash_t *h, uint64_t hv) { pthread_mutex_lock(hash_stripe(h, hv)); }
static inline void hash_unlock(hash_t *h, uint64_t hv) { pthread_mutex_unlock(hash_stripe(h, hv)); }
/* true if taken */
static inline bool hash_trylock(hash_t *h, uint64_t hv)
{
    return pthread_mutex_trylock(hash_stripe(h, hv)) == 0;
}

/* The do_ functions need the stripe lock of hv. */
item_t *do_hash_find(hash_t *h, const char *key, size_t nkey, uint64_t hv);
void do_hash_insert(hash_t *h, item_t *it, uint64_t hv);
/* Removes exactly `it` from its chain; false if it was not there. */
bool do_hash_remove(hash_t *h, item_t *it, uint64_t hv);

/* true when the table should grow */
bool hash_needs_expand(hash_t *h);
/* Doubles the table (see above). No-op if not needed or out of memory. */
void hash_expand(hash_t *h);

/* Number of buckets and bytes of the table. */
uint64_t hash_buckets(hash_t *h);

/*
 * Walks buckets [*pos, *pos + n) under their stripe locks, calling
 * fn(ctx, it, hv) for each item with the stripe held (fn may unlink the
 * item it is given). Advances *pos; returns false when the walk is done.
 */
typedef bool (*hash_walk_fn)(void *ctx, item_t *it, uint64_t hv);
bool hash_walk_step(hash_t *h, uint64_t *pos, uint64_t n, hash_walk_fn fn, void *ctx);

#endif /* TIERCACHE_RAM_HASH_H */
