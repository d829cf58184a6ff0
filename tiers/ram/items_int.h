/*
 * tiers/ram/items_int.h - what the item files of the RAM engine share:
 * items.c (item life cycle, the LRU tail, eviction, allocation), ops.c
 * (the memcached commands: get/touch, store, delete, incr/decr, the keyed
 * conditional operations), spill.c (the lower tier: pending items, ghosts,
 * installs, the idle pass) and move.c (slab page moves). Not for the door:
 * ram.h is the engine's interface.
 *
 * Lock order (ram.h): slabs move_lock -> hash stripe -> lru_class_t.lock ->
 * slab class lock -> slabs pool_lock. do_ functions need the stripe lock
 * of the key they are given.
 */
#ifndef TIERCACHE_RAM_ITEMS_INT_H
#define TIERCACHE_RAM_ITEMS_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ram.h"

#define LRU_PULL_EVICT 1
#define LRU_PULL_NOSPILL 2
#define LRU_PULL_AGE 4 /* ext_item_age: spill or leave, never drop */
#define LRU_TAIL_TRIES 5
#define ALLOC_TRIES 10

typedef enum evict {
    EVICT_DONE = 0, /* unlinked (dropped, or the lower tier has it) */
    EVICT_QUEUED,   /* pending: the caller's reference is the lower tier's */
    EVICT_LEFT,     /* left in place (RAM_SPILL_LEAVE) */
    EVICT_BEHIND,   /* left in place: the lower tier is behind */
} evict_e;

/* touch / gat / in-place arith of a linked item (stripe held): a pending
 * item is marked dirty (its queued copy is stale: ram_spill_done keeps it
 * in RAM); an installed copy forgets its lower token. */
void do_item_modified(ram_t *r, item_t *it, uint64_t hv);

/* Changes a linked item's exptime in place (touch, gat, incr, md I) and
 * tells the crawler's schedule (ram.h crawl_due). Caller holds the stripe. */
void item_exptime_set(ram_t *r, item_t *it, rel_time_t exptime);

/* do_item_link keeping it->cas as it is (an item installed from the
 * lower tier). Caller holds the stripe of hv. */
void do_item_link_cas(ram_t *r, item_t *it, uint64_t hv, rel_time_t now);

/* Caller holds the stripe of hv. Takes the hash's reference; new cas. */
void do_item_link(ram_t *r, item_t *it, uint64_t hv, rel_time_t now);

/* Caller holds the stripe of hv, and the item's LRU lock if lru_locked.
 * Drops the hash's reference (may free the item). */
void do_item_unlink_x(ram_t *r, item_t *it, uint64_t hv, bool lru_locked);

/* do_item_unlink_x without the LRU lock held. */
void do_item_unlink(ram_t *r, item_t *it, uint64_t hv);

/* Unlinks old and links nw in its place (new cas). Stripe of hv held. */
void do_item_replace(ram_t *r, item_t *old, item_t *nw, uint64_t hv, rel_time_t now);

/* memcached's do_item_update(): refresh the access time at most once per
 * ITEM_UPDATE_INTERVAL. */
void do_item_update(item_t *it, rel_time_t now);

/* memcached's do_item_bump() for the segmented LRU: the first fetch sets
 * FETCHED, the second ACTIVE. An ACTIVE item in COLD moves to WARM now if
 * its LRU lock is free (memcached queues it for the maintainer), else the
 * next tail pass moves it. No allocation, at most one trylock. */
void do_item_bump(ram_t *r, item_t *it, rel_time_t now);

/* The eviction of one live item (memcached's, plus the lower tier of
 * ram.h, whose victim hook decides): caller holds the stripe of hv and
 * l->lock (l = class id's LRU), and one reference of its own besides the
 * hash's. Used by the LRU tail, the idle pass and the page mover, so every
 * item leaving RAM goes the same way. */
evict_e do_item_evict(ram_t *r, lru_class_t *l, unsigned id, item_t *search,
                      uint64_t hv, int flags, item_t **spill, rel_time_t now);

/* Allocation with eviction (memcached's do_item_alloc()); may be called
 * holding one stripe lock. */
item_t *do_item_alloc(ram_t *r, const char *key, size_t nkey, uint32_t flags,
                      rel_time_t exptime, size_t nbytes, unsigned rflags,
                      item_t **spill, cache_status_e *st);


static inline lru_class_t *lru_of(ram_t *r, const item_t *it)
{
    return &r->lru[it->clsid];
}

static inline uint64_t next_cas(ram_t *r)
{
    return atomic_fetch_add_explicit(&r->cas_id, 1, memory_order_relaxed) + 1;
}

static inline bool item_pending(const item_t *it)
{
    return item_lru(it) == LRU_PENDING;
}

static inline uint32_t *ghost_of(ram_t *r, uint64_t hv)
{
    return &r->ghost[hv & ((UINT64_C(1) << RAM_GHOST_BITS) - 1)];
}

/* lru_ghost's fingerprint of a key (never 0: 0 is an empty slot) */
static inline uint16_t evghost_fp(uint64_t hv)
{
    return (uint16_t)((hv >> 48) | 1);
}

static inline size_t item_used(const item_t *it)
{
    return ITEM_HEADER_SIZE + item_prefix(it) + item_nkey(it) + it->nbytes;
}

/* The 8 bytes after the value hold an installed copy's lower token when
 * the chunk has room (always with cas on: ITEM_ntotal counts 10 more). */
static inline unsigned char *loc_slot(ram_t *r, item_t *it)
{
    if (it->clsid == 0 || r->slabs.cls[it->clsid].size < item_used(it) + 8)
        return NULL;
    return (unsigned char *)it + item_used(it);
}

/* An item's lower token (0: none or no room). Stripe held or a reference. */
static inline uint64_t item_loc(ram_t *r, item_t *it)
{
    uint64_t loc = 0;
    unsigned char *p = loc_slot(r, it);
    if (p)
        memcpy(&loc, p, sizeof loc);
    return loc;
}

/* Sets it (no-op without room: the item then reads as not installed). */
static inline void item_loc_set(ram_t *r, item_t *it, uint64_t loc)
{
    unsigned char *p = loc_slot(r, it);
    if (p)
        memcpy(p, &loc, sizeof loc);
}

/* A change of the key of hv (stripe held): its lower copies go. */
static inline void lower_changed(ram_t *r, uint64_t hv)
{
    if (r->low_on)
        r->low.changed(r->low.ctx, hv);
}

/* Can the key of `old` (its live RAM item, or NULL) have lower copies? A
 * lower entry is only added by writing a pending item, which then leaves
 * RAM (or, superseded, removes it in ram_spill_done), and every change
 * removes the key's entries; so a plain linked item (not pending, not a
 * promoted copy) means there is none. Stripe held. */
static inline bool may_be_below(ram_t *r, item_t *old)
{
    return !old || item_pending(old) || item_loc(r, old) != 0;
}

static inline bool item_expired(const item_t *it, rel_time_t now)
{
    return it->exptime != 0 && it->exptime <= now;
}


#endif /* TIERCACHE_RAM_ITEMS_INT_H */
