/*
 * tiers/ram/hash.h - the item hash table with striped locks.
 *
 * Buckets are chains of items through item_t.h_next, indexed by the low
 * bits of the key's XXH3_64bits hash (hv). Locks are striped: stripe
 * hv & lock_mask guards every bucket whose index has the same low bits
 * (there are never more stripes than buckets), so one stripe lock guards
 * the whole chain a key can be in, whatever the table size.
 *
 * Growth: when items exceed 1.5 * buckets, hash_expand() doubles the table
 * incrementally, one stripe at a time, like memcached's assoc migration but
 * with no global pause: a doubling sends bucket b to b or b + old size, and
 * both have the same low lock_power bits, so every bucket a stripe guards
 * stays in that stripe. Each stripe carries its own (table, power) pair,
 * read and written under the stripe lock: the expander allocates the new
 * table, then for each stripe in turn takes its lock, moves its chains and
 * points the stripe at the new table. Lookups take their stripe lock and
 * use that stripe's pair, so they never see a half-moved chain; a lookup
 * waits for at most one stripe's migration (items / 4096 chains). The old
 * table is freed once every stripe has moved. hash_expand() must be called
 * holding no stripe lock (the maintainer thread, or a storing thread after
 * it dropped its locks when the maintainer is disabled).
 *
 *   stripes[1 << lock_power]: { lock, table, power }   lock_power <= power
 *   table[1 << power]: item_t *  --h_next--> item --h_next--> NULL
 *
 * Lock order: stripe lock -> (LRU lock -> slab locks). Code that holds an
 * LRU lock only ever trylocks a stripe. hash_expand() takes one stripe at
 * a time, holding nothing else.
 */
#ifndef TIERCACHE_RAM_HASH_H
#define TIERCACHE_RAM_HASH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <xxhash.h>

#include "item.h"

/* One lock stripe: its mutex and the table its buckets live in. */
typedef struct hash_stripe {
    pthread_mutex_t lock;
    item_t **table;          /* [lock] the table this stripe's buckets are in */
    unsigned power;          /* [lock] log2 of that table's size */
} hash_stripe_t;

typedef struct hash {
    item_t **buckets;        /* the newest table (all stripes point to it
                                when no expansion runs); freed by teardown */
    _Atomic unsigned power;  /* log2 of the newest table's size */
    hash_stripe_t *stripes;
    unsigned lock_power;
    uint64_t lock_mask;
    _Atomic uint64_t nitems;
    _Atomic bool expanding;
    _Atomic uint64_t malloc_fails;
    _Atomic uint64_t expansions;  /* completed doublings */
} hash_t;

typedef enum hash_status { HASH_OK = 0, HASH_ENOMEM, HASH_EINVAL } hash_status_e;

/* The chain head for hv; the caller holds hv's stripe lock. Inline with
 * do_hash_find: every request looks a key up. */
static inline item_t **hash_chain_of(hash_t *h, uint64_t hv)
{
    const hash_stripe_t *s = &h->stripes[hv & h->lock_mask];
    return &s->table[hv & (((uint64_t)1 << s->power) - 1)];
}

/* hash of a key */
static inline uint64_t hash_key(const char *key, size_t nkey)
{
    return (uint64_t)XXH3_64bits(key, nkey);
}

/* 2^power buckets (power clamped to 4..32), up to 2^12 stripes. */
hash_status_e hash_init(hash_t *h, unsigned power);
/* Frees the table (not the items). */
void hash_teardown(hash_t *h);

static inline pthread_mutex_t *hash_stripe(hash_t *h, uint64_t hv)
{
    return &h->stripes[hv & h->lock_mask].lock;
}
static inline void hash_lock(hash_t *h, uint64_t hv) { pthread_mutex_lock(hash_stripe(h, hv)); }
static inline void hash_unlock(hash_t *h, uint64_t hv) { pthread_mutex_unlock(hash_stripe(h, hv)); }
/* true if taken */
static inline bool hash_trylock(hash_t *h, uint64_t hv)
{
    return pthread_mutex_trylock(hash_stripe(h, hv)) == 0;
}

/* The do_ functions need the stripe lock of hv. */
static inline item_t *do_hash_find(hash_t *h, const char *key, size_t nkey, uint64_t hv)
{
    item_t *it = *hash_chain_of(h, hv);
    while (it) {
        if (item_nkey(it) == nkey && memcmp(item_ckey(it), key, nkey) == 0)
            return it;
        it = it->h_next;
    }
    return NULL;
}
void do_hash_insert(hash_t *h, item_t *it, uint64_t hv);
/* Removes exactly `it` from its chain; false if it was not there. */
bool do_hash_remove(hash_t *h, item_t *it, uint64_t hv);

/* true when the table should grow */
bool hash_needs_expand(hash_t *h);
/* Doubles the table stripe by stripe (see above). No-op if not needed, if
 * another thread is expanding, or out of memory (counted in malloc_fails). */
void hash_expand(hash_t *h);

/* Number of buckets of the newest table. */
uint64_t hash_buckets(hash_t *h);

/*
 * Walks buckets [*pos, *pos + n) under their stripe locks, calling
 * fn(ctx, it, hv) for each item with the stripe held (fn may unlink the
 * item it is given). Advances *pos; returns false when the walk is done.
 * Positions index the newest table; a walk that overlaps an expansion may
 * visit an item twice or miss one that moved behind it (the crawler, its
 * user, only needs "eventually").
 */
typedef bool (*hash_walk_fn)(void *ctx, item_t *it, uint64_t hv);
bool hash_walk_step(hash_t *h, uint64_t *pos, uint64_t n, hash_walk_fn fn, void *ctx);

#endif /* TIERCACHE_RAM_HASH_H */
