/*
 * tiers/ram/lru.h - segmented LRU lists of one slab class.
 *
 * Each slab class has three doubly linked lists (HOT, WARM, COLD; no TEMP)
 * under one lock, plus its item counters. Heads are the most recent end,
 * tails the eviction end. The policy (what moves where) lives in items.c;
 * this file only keeps the lists and their sizes.
 *
 *   head[HOT]  -> it -> it -> ... -> tail[HOT]   new items enter here
 *   head[WARM] -> ...             -> tail[WARM]  items hit while HOT/COLD
 *   head[COLD] -> ...             -> tail[COLD]  evicted from the tail
 *
 * Policy (items.c), memcached's new_lru.txt with one deliberate change:
 *  - A fetch marks an item FETCHED, the second one ACTIVE (and bumps its
 *    time). An item ACTIVE in COLD moves to WARM at once if the LRU lock is
 *    free, else when it reaches COLD's tail: an ACTIVE COLD tail is rescued
 *    to WARM, never evicted.
 *  - HOT's tail: ACTIVE -> WARM; else -> COLD when HOT is over hot_lru_pct
 *    of the class's item bytes or older than hot_max_factor x COLD's age.
 *  - WARM's tail: ACTIVE -> WARM's head (re-bumped, flag cleared); else ->
 *    COLD only when WARM is over warm_lru_pct of the memory the class owns
 *    (its chunks). The change: memcached also caps WARM's age at
 *    warm_max_factor x COLD's age, and measures the share against item
 *    bytes. During a scan of new keys COLD's age drops to ~0 s, so memcached
 *    pushes its whole WARM out (1.6.18 keeps 0 of 300 hot keys in
 *    tests/blackbox test_scan_resistance); and a class that is not full
 *    would demote 60% of a hot set that is all of its items. Here a scan of
 *    never-read keys flows HOT -> COLD -> evicted and WARM stays.
 *    warm_max_factor is accepted (and shown) but not used.
 *
 * Lock order: stripe lock -> lru_class_t.lock -> slab locks. With the LRU
 * lock held, stripes are only trylocked.
 */
#ifndef TIERCACHE_RAM_LRU_H
#define TIERCACHE_RAM_LRU_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "item.h"

/* Per-class counters of `stats items` (atomic: some are bumped without the
 * LRU lock). X(name) */
#define LRU_ITEMSTATS(X)                                                      \
    X(evicted) X(evicted_nonzero) X(outofmemory) X(tailrepairs)               \
    X(reclaimed) X(expired_unfetched) X(evicted_unfetched) X(evicted_active)  \
    X(crawler_reclaimed) X(crawler_items_checked) X(lrutail_reflocked)        \
    X(moves_to_cold) X(moves_to_warm) X(moves_within_lru) X(direct_reclaims)

typedef struct lru_itemstats {
#define LRU_DECL(n) _Atomic uint64_t n;
    LRU_ITEMSTATS(LRU_DECL)
#undef LRU_DECL
    _Atomic uint32_t evicted_time; /* age of the last evicted item, s */
} lru_itemstats_t;

typedef struct lru_class {
    pthread_mutex_t lock;
    item_t *head[LRU_COUNT]; /* [lock] */
    item_t *tail[LRU_COUNT]; /* [lock] */
    uint64_t count[LRU_COUNT]; /* [lock] items */
    uint64_t bytes[LRU_COUNT]; /* [lock] sum of ntotal */
    uint64_t total_items;      /* [lock] items ever linked */
    lru_itemstats_t st;
} lru_class_t;

void lru_class_init(lru_class_t *l);
void lru_class_teardown(lru_class_t *l);

static inline void lru_stat_add(_Atomic uint64_t *p, uint64_t n)
{
    atomic_fetch_add_explicit(p, n, memory_order_relaxed);
}

/* Seconds since the last access of the class's oldest item: COLD's tail,
 * else WARM's, else HOT's; 0 if it has none. Takes l->lock. */
uint32_t lru_class_age(lru_class_t *l, rel_time_t now);

/* The do_ functions need l->lock. */
/* Links `it` at the head of list `lru` and records it in iflags. */
void do_lru_link(lru_class_t *l, item_t *it, lru_id_e lru);
/* Unlinks `it` from the list recorded in its iflags. */
void do_lru_unlink(lru_class_t *l, item_t *it);
/* Moves `it` to the head of `lru`. */
void do_lru_move(lru_class_t *l, item_t *it, lru_id_e lru);

#endif /* TIERCACHE_RAM_LRU_H */
