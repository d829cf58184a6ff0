/*
 * tiers/ram/items.c - item life cycle of the RAM tier: allocation with
 * eviction, link/unlink, the LRU tail policy and eviction, flush_all and
 * the crawler's check. The commands are in ops.c, the lower tier in
 * spill.c, slab page moves in move.c (items_int.h: what they share).
 *
 * Lock order: slabs move_lock -> hash stripe -> lru_class_t.lock -> slab
 * class lock -> slabs pool_lock. do_ functions need the stripe lock of the
 * key they are given. lru_pull_tail() holds an LRU lock and only trylocks
 * stripes (memcached's scheme). The page mover (move_chunk) holds a slab
 * class lock while it reads a chunk's flags and key, and only trylocks the
 * stripe there; it drops the class lock before taking the LRU lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "items_int.h"




/* ---- the lower tier: pending state, ghosts, installed copies' tokens ---- */


uint64_t ram_item_lower_loc(ram_t *r, item_t *it)
{
    return item_loc(r, it);
}


/* touch / gat / in-place arith of a linked item (stripe held): a pending
 * item is marked dirty (its queued copy is stale: ram_spill_done keeps it
 * in RAM); an installed copy forgets its lower token. */
void do_item_modified(ram_t *r, item_t *it, uint64_t hv)
{
    if (!r->low_on)
        return;
    if (item_pending(it)) {
        it->prev = it;
    } else if (item_loc(r, it)) {
        item_loc_set(r, it, 0);
        lower_changed(r, hv);
    }
}


void ram_item_release(ram_t *r, item_t *it)
{
    if (item_refcount_decr(it) == 0) {
        if (it->clsid == 0)
            free(it);
        else
            slabs_free(&r->slabs, it);
    }
}

item_t *ram_item_temp(const char *key, size_t nkey, uint32_t flags, rel_time_t exptime,
                      uint64_t cas, size_t nbytes)
{
    if (nbytes > UINT32_MAX)
        return NULL;
    item_t *it = calloc(1, item_used_for(nkey, nbytes, flags));
    if (!it)
        return NULL;
    it->cas = cas;
    it->exptime = exptime;
    it->nbytes = (uint32_t)nbytes;
    atomic_store_explicit(&it->refcount, 1, memory_order_relaxed);
    item_init_layout(it, nkey, flags, cas != 0);
    memcpy(item_key(it), key, nkey);
    return it;
}

/* Caller holds the stripe of hv. Takes the hash's reference. Keeps
 * it->cas as it is (an item installed from the lower tier). */
/* Changes a linked item's exptime in place (touch, gat, incr, md I) and
 * tells the crawler's schedule (ram.h crawl_due). Caller holds the stripe. */
void item_exptime_set(ram_t *r, item_t *it, rel_time_t exptime)
{
    it->exptime = exptime;
    if (exptime != 0)
        ram_crawl_note(r, exptime);
}

void do_item_link_cas(ram_t *r, item_t *it, uint64_t hv, rel_time_t now)
{
    it->time = now;
    if (it->exptime != 0)
        ram_crawl_note(r, it->exptime);
    item_set_iflag(it, ITEM_LINKED);
    item_refcount_incr(it);
    do_hash_insert(&r->hash, it, hv);
    lru_id_e lru = LRU_HOT;
    if (r->evghost) {
        /* S3-FIFO's ghost rule: a key evicted not long ago comes back
         * straight into the main (WARM) list */
        _Atomic uint16_t *g = &r->evghost[hv & r->evghost_mask];
        if (atomic_load_explicit(g, memory_order_relaxed) == evghost_fp(hv)) {
            atomic_store_explicit(g, 0, memory_order_relaxed);
            lru = LRU_WARM;
        }
    }
    lru_class_t *l = lru_of(r, it);
    pthread_mutex_lock(&l->lock);
    do_lru_link(l, it, lru);
    l->total_items++;
    if (lru == LRU_WARM)
        lru_stat_add(&l->st.moves_to_warm, 1);
    pthread_mutex_unlock(&l->lock);
}

/* Caller holds the stripe of hv. Takes the hash's reference; new cas. */
void do_item_link(ram_t *r, item_t *it, uint64_t hv, rel_time_t now)
{
    it->cas = r->set.use_cas ? next_cas(r) : 0;
    do_item_link_cas(r, it, hv, now);
}

/* Caller holds the stripe of hv, and the item's LRU lock if lru_locked.
 * Drops the hash's reference (may free the item). */
void do_item_unlink_x(ram_t *r, item_t *it, uint64_t hv, bool lru_locked)
{
    if (!(item_iflags(it) & ITEM_LINKED))
        return;
    item_clear_iflag(it, ITEM_LINKED);
    do_hash_remove(&r->hash, it, hv);
    if (item_pending(it)) {
        /* superseded while in the lower tier's hands (ram.h: ghosts) */
        (*ghost_of(r, hv))++;
        ram_item_release(r, it);
        return;
    }
    lru_class_t *l = lru_of(r, it);
    if (!lru_locked)
        pthread_mutex_lock(&l->lock);
    do_lru_unlink(l, it);
    if (!lru_locked)
        pthread_mutex_unlock(&l->lock);
    ram_item_release(r, it);
}

void do_item_unlink(ram_t *r, item_t *it, uint64_t hv)
{
    do_item_unlink_x(r, it, hv, false);
}

void do_item_replace(ram_t *r, item_t *old, item_t *nw, uint64_t hv, rel_time_t now)
{
    do_item_unlink(r, old, hv);
    do_item_link(r, nw, hv, now);
}

/* memcached's do_item_update(): refresh the access time at most once per
 * ITEM_UPDATE_INTERVAL. */
void do_item_update(item_t *it, rel_time_t now)
{
    if (it->time + ITEM_UPDATE_INTERVAL < now && (item_iflags(it) & ITEM_LINKED))
        it->time = now;
}

/* memcached's do_item_bump() for the segmented LRU: the first fetch sets
 * FETCHED, the second ACTIVE. An ACTIVE item in COLD moves to WARM now if
 * its LRU lock is free (memcached queues it for the maintainer), else the
 * next tail pass moves it. No allocation, at most one trylock. */
void do_item_bump(ram_t *r, item_t *it, rel_time_t now)
{
    unsigned f = item_iflags(it);
    if (f & ITEM_ACTIVE)
        return;
    if (!(f & ITEM_FETCHED)) {
        item_set_iflag(it, ITEM_FETCHED);
        return;
    }
    item_set_iflag(it, ITEM_ACTIVE);
    if (item_lru(it) != LRU_COLD) {
        it->time = now;
        return;
    }
    lru_class_t *l = lru_of(r, it);
    if (pthread_mutex_trylock(&l->lock) != 0)
        return;
    if ((item_iflags(it) & ITEM_LINKED) && item_lru(it) == LRU_COLD) {
        item_clear_iflag(it, ITEM_ACTIVE);
        it->time = now;
        do_lru_move(l, it, LRU_WARM);
        lru_stat_add(&l->st.moves_to_warm, 1);
    }
    pthread_mutex_unlock(&l->lock);
}



/* tier_types.h's eviction event for `it` (stripe and LRU lock held). */
static void report_evict(ram_t *r, const item_t *it, unsigned id, bool spilled,
                         rel_time_t now)
{
    cache_evict_event_t e = {
        .key = item_ckey(it),
        .nkey = item_nkey(it),
        .kind = spilled ? CACHE_EVICT_TO_FLASH : CACHE_EVICT_DROPPED,
        .slab_class = id,
        .flags = item_flags_get(it),
        .fetched = (item_iflags(it) & ITEM_FETCHED) != 0,
        .exptime = it->exptime,
        .last_access = it->time,
        .now = now,
        .nbytes = it->nbytes,
    };
    r->set.on_evict.fn(r->set.on_evict.ctx, &e);
}


/* The eviction of one live item (memcached's, plus the lower tier of
 * ram.h, whose victim hook decides): caller holds the stripe of hv and
 * l->lock (l = class id's LRU), and one reference of its own besides the
 * hash's. Used by the LRU tail, the idle pass and the page mover, so every
 * item leaving RAM goes the same way. */
evict_e do_item_evict(ram_t *r, lru_class_t *l, unsigned id, item_t *search,
                             uint64_t hv, int flags, item_t **spill, rel_time_t now)
{
    ram_spill_e sp = RAM_SPILL_DROP;
    if (r->low_on && spill) {
        ram_victim_t v = {
            .it = search,
            .hv = hv,
            .loc = item_loc(r, search),
            .pending = atomic_load_explicit(&r->pending_cls[id], memory_order_relaxed),
            .linked = l->count[LRU_HOT] + l->count[LRU_WARM] + l->count[LRU_COLD],
            .idle = (flags & LRU_PULL_AGE) != 0,
            .nospill = (flags & LRU_PULL_NOSPILL) != 0,
        };
        sp = r->low.victim(r->low.ctx, &v);
        if (v.nospill)
            sp = RAM_SPILL_DROP; /* the allocator's wait ran out */
        else if (sp == RAM_SPILL_BEHIND)
            return EVICT_BEHIND;
        else if (sp == RAM_SPILL_LEAVE || (v.idle && sp == RAM_SPILL_DROP))
            return EVICT_LEFT;
    }
    if (r->evghost) /* it leaves RAM (below, or dropped): remembered */
        atomic_store_explicit(&r->evghost[hv & r->evghost_mask], evghost_fp(hv),
                              memory_order_relaxed);
    if (r->set.on_evict.fn && r->set.on_evict.gate &&
        atomic_load_explicit(r->set.on_evict.gate, memory_order_relaxed))
        report_evict(r, search, id, sp != RAM_SPILL_DROP, now);
    if (sp == RAM_SPILL_QUEUE) {
        /* pending: linked, off the LRU; the caller's reference becomes the
         * lower tier's (ram.h) */
        do_lru_unlink(l, search);
        item_set_lru(search, LRU_PENDING);
        search->prev = NULL;
        search->next = *spill;
        *spill = search;
        atomic_fetch_add_explicit(&r->pending, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&r->pending_cls[id], 1, memory_order_relaxed);
        return EVICT_QUEUED;
    }
    if (sp == RAM_SPILL_BELOW) {
        do_item_unlink_x(r, search, hv, true);
        return EVICT_DONE;
    }
    lru_stat_add(&l->st.evicted, 1);
    atomic_store_explicit(&l->st.evicted_time, now - search->time, memory_order_relaxed);
    if (search->exptime != 0)
        lru_stat_add(&l->st.evicted_nonzero, 1);
    if (!(item_iflags(search) & ITEM_FETCHED))
        lru_stat_add(&l->st.evicted_unfetched, 1);
    do_item_unlink_x(r, search, hv, true);
    return EVICT_DONE;
}

/*
 * memcached's lru_pull_tail(), with tiercache's scan-resistant policy (see
 * lru.h): looks at up to 5 items from the tail of list `cur` of class `id`.
 * Expired/flushed items are reclaimed (and the search goes on); busy ones
 * skipped.
 *   HOT:  an ACTIVE tail goes to WARM; otherwise it moves to COLD when HOT
 *         holds more than `limit` bytes or the item is older than max_age.
 *   WARM: an ACTIVE tail is re-bumped to the WARM head (and the search goes
 *         on); otherwise it moves to COLD when WARM holds more than `limit`
 *         bytes or the item is older than max_age.
 *   COLD: an ACTIVE tail (hit twice, the bump not yet done) moves to WARM
 *         and the search goes on; with LRU_PULL_EVICT an inactive tail is
 *         evicted (if evict_to_free).
 * Returns the number of items moved or freed.
 */
static int lru_pull_tail(ram_t *r, unsigned id, lru_id_e cur, uint64_t limit,
                         int flags, rel_time_t max_age, item_t **spill)
{
    lru_class_t *l = &r->lru[id];
    rel_time_t now = ram_now(r);
    int removed = 0;
    pthread_mutex_lock(&l->lock);
    item_t *search = l->tail[cur];
    for (int tries = LRU_TAIL_TRIES; tries > 0 && search; tries--) {
        item_t *next = search->prev;
        uint64_t hv = hash_key(item_ckey(search), item_nkey(search));
        if (!hash_trylock(&r->hash, hv)) {
            search = next;
            continue;
        }
        if (item_refcount_incr(search) != 2) {
            lru_stat_add(&l->st.lrutail_reflocked, 1);
            ram_item_release(r, search);
            hash_unlock(&r->hash, hv);
            search = next;
            continue;
        }
        if ((search->exptime != 0 && search->exptime < now) ||
            ram_item_is_flushed(r, search, now)) {
            lru_stat_add(&l->st.reclaimed, 1);
            if (!(item_iflags(search) & ITEM_FETCHED))
                lru_stat_add(&l->st.expired_unfetched, 1);
            do_item_unlink_x(r, search, hv, true);
            ram_item_release(r, search);
            hash_unlock(&r->hash, hv);
            removed++;
            search = next;
            continue;
        }
        bool stop = true;
        bool keep_ref = false;
        bool active = (item_iflags(search) & ITEM_ACTIVE) != 0;
        switch (cur) {
        case LRU_HOT:
        case LRU_WARM:
            if (active) {
                item_clear_iflag(search, ITEM_ACTIVE);
                removed++;
                if (cur == LRU_WARM) {
                    lru_stat_add(&l->st.moves_within_lru, 1);
                    stop = false;
                } else {
                    lru_stat_add(&l->st.moves_to_warm, 1);
                }
                do_lru_move(l, search, LRU_WARM);
            } else if (l->bytes[cur] > limit || now - search->time > max_age) {
                lru_stat_add(&l->st.moves_to_cold, 1);
                do_lru_move(l, search, LRU_COLD);
                removed++;
            }
            break;
        case LRU_COLD:
            if (active) {
                /* hit twice in COLD: rescued to WARM, never evicted */
                lru_stat_add(&l->st.moves_to_warm, 1);
                item_clear_iflag(search, ITEM_ACTIVE);
                do_lru_move(l, search, LRU_WARM);
                removed++;
                stop = false;
            } else if ((flags & LRU_PULL_EVICT) && r->set.evict_to_free) {
                evict_e ev = do_item_evict(r, l, id, search, hv, flags, spill, now);
                if (ev == EVICT_LEFT || ev == EVICT_BEHIND)
                    break;
                if (ev == EVICT_QUEUED)
                    keep_ref = true;
                removed++;
            }
            break;
        default:
            break;
        }
        if (!keep_ref)
            ram_item_release(r, search);
        hash_unlock(&r->hash, hv);
        if (stop)
            break;
        search = next;
    }
    pthread_mutex_unlock(&l->lock);
    return removed;
}

/* No age cap (WARM, and forced pulls). */
#define LRU_NO_MAX_AGE ((rel_time_t)UINT32_MAX)

unsigned ram_lru_juggle(ram_t *r, unsigned cls, unsigned max)
{
    lru_class_t *l = &r->lru[cls];
    rel_time_t now = ram_now(r);
    rel_time_t cold_age = 0;
    pthread_mutex_lock(&l->lock);
    if (l->tail[LRU_COLD])
        cold_age = now - l->tail[LRU_COLD]->time;
    uint64_t total = l->bytes[LRU_HOT] + l->bytes[LRU_WARM] + l->bytes[LRU_COLD];
    pthread_mutex_unlock(&l->lock);
    if (total == 0)
        return 0;
    /* HOT: hot_lru_pct of the class's item bytes, or hot_max_factor of
     * COLD's age (memcached's). WARM: warm_lru_pct of the memory the class
     * owns, no age cap (lru.h: a scan shrinks COLD's age to nothing and
     * must not push WARM out). */
    slabs_class_info_t in;
    slabs_class_info(&r->slabs, cls, &in);
    uint64_t class_mem = in.total_chunks * in.chunk_size;
    if (class_mem < total)
        class_mem = total;
    uint64_t hot_limit = total * r->set.hot_lru_pct / 100;
    uint64_t warm_limit = class_mem * r->set.warm_lru_pct / 100;
    rel_time_t hot_age = (rel_time_t)(cold_age * r->set.hot_max_factor);
    unsigned moves = 0;
    for (unsigned i = 0; i < max; i++) {
        int more = 0;
        if (lru_pull_tail(r, cls, LRU_HOT, hot_limit, 0, hot_age, NULL) ||
            lru_pull_tail(r, cls, LRU_WARM, warm_limit, 0, LRU_NO_MAX_AGE, NULL))
            more++;
        more += lru_pull_tail(r, cls, LRU_COLD, 0, 0, 0, NULL);
        if (!more)
            break;
        moves++;
    }
    return moves;
}

/* Allocation with eviction (memcached's do_item_alloc()); may be called
 * holding one stripe lock. */
item_t *do_item_alloc(ram_t *r, const char *key, size_t nkey, uint32_t flags,
                             rel_time_t exptime, size_t nbytes, unsigned rflags,
                             item_t **spill, cache_status_e *st)
{
    int evict = LRU_PULL_EVICT | ((rflags & RAM_F_NOSPILL) ? LRU_PULL_NOSPILL : 0);
    size_t ntotal = item_ntotal_for(nkey, nbytes, flags, r->set.use_cas);
    unsigned id = slabs_clsid(&r->slabs, ntotal);
    if (id == 0 || nbytes > UINT32_MAX) {
        *st = CACHE_TOO_LARGE;
        return NULL;
    }
    if (!r->set.maintainer_thread)
        ram_lru_juggle(r, id, 1);
    item_t *it = NULL;
    lru_class_t *l = &r->lru[id];
    for (unsigned round = 0;; round++) {
        unsigned i;
        for (i = 0; i < ALLOC_TRIES; i++) {
            it = slabs_alloc(&r->slabs, id);
            if (it)
                break;
            if (lru_pull_tail(r, id, LRU_COLD, 0, evict, 0, spill) <= 0) {
                if (lru_pull_tail(r, id, LRU_HOT, 0, 0, 0, NULL) <= 0)
                    lru_pull_tail(r, id, LRU_WARM, 0, 0, 0, NULL);
            }
        }
        if (i > 0)
            lru_stat_add(&l->st.direct_reclaims, i);
        if (it)
            break;
        /* acquire: pairs with ram_spill_done's release, which frees an
         * item's chunk before it counts the item down */
        if (r->low_on && spill &&
            atomic_load_explicit(&r->pending_cls[id], memory_order_acquire) > 0) {
            *st = CACHE_PENDING; /* the lower tier will free memory: wait */
            return NULL;
        }
        /* none pending now, yet the tries found no memory: the lower tier
         * may have finished this class's last pending items during them
         * (a whole segment's worth at once), their chunks now free or
         * their items back on COLD. One more round before out of memory. */
        if (!r->low_on || !spill || round > 0) {
            lru_stat_add(&l->st.outofmemory, 1);
            *st = CACHE_NO_MEMORY;
            return NULL;
        }
    }
    it->cas = 0;
    it->time = ram_now(r);
    it->exptime = exptime;
    it->nbytes = (uint32_t)nbytes;
    item_init_layout(it, nkey, flags, r->set.use_cas);
    memcpy(item_key(it), key, nkey);
    if (r->low_on)
        item_loc_set(r, it, 0);
    *st = CACHE_OK;
    return it;
}

item_t *ram_item_alloc(ram_t *r, ram_wstats_t *ws, const char *key, size_t nkey,
                       uint32_t flags, rel_time_t exptime, size_t nbytes,
                       unsigned rflags, item_t **spill, cache_status_e *st)
{
    item_t *it = do_item_alloc(r, key, nkey, flags, exptime, nbytes, rflags, spill, st);
    if (!it && *st != CACHE_PENDING) {
        if (*st == CACHE_TOO_LARGE)
            WSTAT_INC(ws, store_too_large);
        else
            WSTAT_INC(ws, store_no_memory);
    }
    return it;
}

void ram_maybe_expand(ram_t *r)
{
    if (hash_needs_expand(&r->hash))
        hash_expand(&r->hash);
}

void ram_flush_all(ram_t *r, int64_t exptime)
{
    rel_time_t now = ram_now(r);
    rel_time_t nw = exptime > 0 ? ram_realtime(r, exptime) : now;
    if (r->set.use_cas) {
        rel_time_t ol = nw - 1;
        if (ol <= now)
            atomic_store_explicit(&r->oldest_cas, next_cas(r), memory_order_relaxed);
        atomic_store_explicit(&r->oldest_live, ol, memory_order_relaxed);
    } else {
        atomic_store_explicit(&r->oldest_live, nw, memory_order_relaxed);
    }
    ram_crawl_note(r, nw); /* the crawler reclaims the flushed items then */
}

bool ram_crawl_item(void *ctx, item_t *it, uint64_t hv)
{
    ram_t *r = ctx;
    rel_time_t now = ram_now(r);
    lru_class_t *l = lru_of(r, it);
    lru_stat_add(&l->st.crawler_items_checked, 1);
    bool flushed = ram_item_is_flushed(r, it, now);
    if (flushed || (it->exptime != 0 && it->exptime < now)) {
        lru_stat_add(&l->st.crawler_reclaimed, 1);
        if (!flushed && !(item_iflags(it) & ITEM_FETCHED))
            lru_stat_add(&l->st.expired_unfetched, 1);
        do_item_unlink(r, it, hv);
    } else if (it->exptime != 0 && it->exptime < r->crawl_pass_min) {
        r->crawl_pass_min = it->exptime;
    }
    return true;
}
