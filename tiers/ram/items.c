/*
 * tiers/ram/items.c - item life cycle and the memcached command semantics
 * of the RAM tier: get/touch, store (set/add/replace/append/prepend/cas),
 * delete, incr/decr, flush_all, the LRU tail policy and eviction.
 *
 * Also the item side of slab page moves (ram_slabs_reassign, at the end).
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

#include "ram.h"

#define LRU_PULL_EVICT 1
#define LRU_PULL_NOSPILL 2
#define LRU_PULL_AGE 4 /* ext_item_age: spill or leave, never drop */
#define LRU_TAIL_TRIES 5
#define ALLOC_TRIES 10

static inline lru_class_t *lru_of(ram_t *r, const item_t *it)
{
    return &r->lru[it->clsid];
}

static inline uint64_t next_cas(ram_t *r)
{
    return atomic_fetch_add_explicit(&r->cas_id, 1, memory_order_relaxed) + 1;
}

bool ram_record_is_flushed(const ram_t *r, rel_time_t store_time, uint64_t cas,
                           rel_time_t now)
{
    rel_time_t ol = atomic_load_explicit(&r->oldest_live, memory_order_relaxed);
    if (ol == 0 || ol > now)
        return false;
    uint64_t ocas = atomic_load_explicit(&r->oldest_cas, memory_order_relaxed);
    return store_time <= ol || (ocas != 0 && cas != 0 && cas < ocas);
}

bool ram_item_is_flushed(const ram_t *r, const item_t *it, rel_time_t now)
{
    return ram_record_is_flushed(r, it->time, it->cas, now);
}

/* ---- the lower tier: pending state, ghosts, installed copies' tokens ---- */

static inline bool item_pending(const item_t *it)
{
    return item_lru(it) == LRU_PENDING;
}

static inline uint32_t *ghost_of(ram_t *r, uint64_t hv)
{
    return &r->ghost[hv & ((UINT64_C(1) << RAM_GHOST_BITS) - 1)];
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

static uint64_t item_loc(ram_t *r, item_t *it)
{
    uint64_t loc = 0;
    unsigned char *p = loc_slot(r, it);
    if (p)
        memcpy(&loc, p, sizeof loc);
    return loc;
}

uint64_t ram_item_lower_loc(ram_t *r, item_t *it)
{
    return item_loc(r, it);
}

static void item_loc_set(ram_t *r, item_t *it, uint64_t loc)
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

/* touch / gat / in-place arith of a linked item (stripe held): a pending
 * item is marked dirty (its queued copy is stale: ram_spill_done keeps it
 * in RAM); an installed copy forgets its lower token. */
static void do_item_modified(ram_t *r, item_t *it, uint64_t hv)
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

static inline bool item_expired(const item_t *it, rel_time_t now)
{
    return it->exptime != 0 && it->exptime <= now;
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
static void item_exptime_set(ram_t *r, item_t *it, rel_time_t exptime)
{
    it->exptime = exptime;
    if (exptime != 0)
        ram_crawl_note(r, exptime);
}

static void do_item_link_cas(ram_t *r, item_t *it, uint64_t hv, rel_time_t now)
{
    it->time = now;
    if (it->exptime != 0)
        ram_crawl_note(r, it->exptime);
    item_set_iflag(it, ITEM_LINKED);
    item_refcount_incr(it);
    do_hash_insert(&r->hash, it, hv);
    lru_class_t *l = lru_of(r, it);
    pthread_mutex_lock(&l->lock);
    do_lru_link(l, it, LRU_HOT);
    l->total_items++;
    pthread_mutex_unlock(&l->lock);
}

/* Caller holds the stripe of hv. Takes the hash's reference; new cas. */
static void do_item_link(ram_t *r, item_t *it, uint64_t hv, rel_time_t now)
{
    it->cas = r->set.use_cas ? next_cas(r) : 0;
    do_item_link_cas(r, it, hv, now);
}

/* Caller holds the stripe of hv, and the item's LRU lock if lru_locked.
 * Drops the hash's reference (may free the item). */
static void do_item_unlink_x(ram_t *r, item_t *it, uint64_t hv, bool lru_locked)
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

static void do_item_unlink(ram_t *r, item_t *it, uint64_t hv)
{
    do_item_unlink_x(r, it, hv, false);
}

static void do_item_replace(ram_t *r, item_t *old, item_t *nw, uint64_t hv, rel_time_t now)
{
    do_item_unlink(r, old, hv);
    do_item_link(r, nw, hv, now);
}

/* memcached's do_item_update(): refresh the access time at most once per
 * ITEM_UPDATE_INTERVAL. */
static void do_item_update(item_t *it, rel_time_t now)
{
    if (it->time + ITEM_UPDATE_INTERVAL < now && (item_iflags(it) & ITEM_LINKED))
        it->time = now;
}

/* memcached's do_item_bump() for the segmented LRU: the first fetch sets
 * FETCHED, the second ACTIVE. An ACTIVE item in COLD moves to WARM now if
 * its LRU lock is free (memcached queues it for the maintainer), else the
 * next tail pass moves it. No allocation, at most one trylock. */
static void do_item_bump(ram_t *r, item_t *it, rel_time_t now)
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

/* memcached's do_item_get(): finds a live item and references it; unlinks
 * flushed/expired ones on the way (counting get_flushed/get_expired). */
static item_t *do_item_get(ram_t *r, ram_wstats_t *ws, const char *key, size_t nkey,
                           uint64_t hv, rel_time_t now)
{
    item_t *it = do_hash_find(&r->hash, key, nkey, hv);
    if (!it)
        return NULL;
    if (ram_item_is_flushed(r, it, now)) {
        do_item_unlink(r, it, hv);
        WSTAT_INC(ws, get_flushed);
        return NULL;
    }
    if (item_expired(it, now)) {
        do_item_unlink(r, it, hv);
        WSTAT_INC(ws, get_expired);
        return NULL;
    }
    item_refcount_incr(it);
    return it;
}


/* cache.h's eviction event for `it` (stripe and LRU lock held). */
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

typedef enum evict {
    EVICT_DONE = 0, /* unlinked (dropped, or the lower tier has it) */
    EVICT_QUEUED,   /* pending: the caller's reference is the lower tier's */
    EVICT_LEFT,     /* left in place (RAM_SPILL_LEAVE) */
    EVICT_BEHIND,   /* left in place: the lower tier is behind */
} evict_e;

/* The eviction of one live item (memcached's, plus the lower tier of
 * ram.h, whose victim hook decides): caller holds the stripe of hv and
 * l->lock (l = class id's LRU), and one reference of its own besides the
 * hash's. Used by the LRU tail, the idle pass and the page mover, so every
 * item leaving RAM goes the same way. */
static evict_e do_item_evict(ram_t *r, lru_class_t *l, unsigned id, item_t *search,
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

/* ---- ext_item_age (ram.h ram_age_spill) ---- */

#define AGE_LOOK_MAX 64 /* items looked at per list per call */

/* One list of class id: offers (through do_item_evict's victim hook) the
 * items idle more than `age` from its tail end. */
static unsigned age_spill_list(ram_t *r, unsigned id, lru_id_e cur, rel_time_t age,
                               unsigned max, bool *behind)
{
    lru_class_t *l = &r->lru[id];
    rel_time_t now = ram_now(r);
    item_t *spill = NULL;
    unsigned moved = 0;
    pthread_mutex_lock(&l->lock);
    item_t *search = l->tail[cur];
    for (unsigned looked = 0; search && looked < AGE_LOOK_MAX && moved < max; looked++) {
        item_t *next = search->prev;
        /* A bump in HOT/WARM refreshes the time in place: a young item
         * may sit before older ones, so it is passed over, not a stop. */
        if (now <= search->time || now - search->time <= age) {
            search = next;
            continue;
        }
        uint64_t hv = hash_key(item_ckey(search), item_nkey(search));
        if (!hash_trylock(&r->hash, hv)) {
            search = next;
            continue;
        }
        if (item_refcount_incr(search) != 2 ||
            (search->exptime != 0 && search->exptime <= now) ||
            ram_item_is_flushed(r, search, now)) {
            /* busy, or dead (the crawler or the tail reclaims it) */
            ram_item_release(r, search);
            hash_unlock(&r->hash, hv);
            search = next;
            continue;
        }
        bool keep_ref = false;
        evict_e ev = do_item_evict(r, l, id, search, hv, LRU_PULL_EVICT | LRU_PULL_AGE,
                                   &spill, now);
        if (ev == EVICT_BEHIND)
            *behind = true; /* the lower tier is behind: stop */
        else if (ev == EVICT_QUEUED)
            keep_ref = true;
        if (ev == EVICT_QUEUED || ev == EVICT_DONE)
            moved++; /* pending, or an unmodified installed copy unlinked */
        if (!keep_ref)
            ram_item_release(r, search);
        hash_unlock(&r->hash, hv);
        if (*behind)
            break;
        search = next;
    }
    pthread_mutex_unlock(&l->lock);
    if (spill)
        r->low.enqueue(r->low.ctx, spill);
    if (moved)
        atomic_fetch_add_explicit(&r->age_spills, moved, memory_order_relaxed);
    return moved;
}

unsigned ram_age_spill(ram_t *r, unsigned id, uint32_t age, unsigned max)
{
    if (!r->low_on || age == UINT32_MAX || id < 1 ||
        id > r->slabs.largest)
        return 0;
    static const lru_id_e order[] = {LRU_COLD, LRU_WARM, LRU_HOT};
    unsigned moved = 0;
    bool behind = false;
    for (unsigned k = 0; k < 3 && moved < max && !behind; k++)
        moved += age_spill_list(r, id, order[k], (rel_time_t)age, max - moved, &behind);
    return moved;
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
static item_t *do_item_alloc(ram_t *r, const char *key, size_t nkey, uint32_t flags,
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
    lru_class_t *l = &r->lru[id];
    if (i > 0)
        lru_stat_add(&l->st.direct_reclaims, i);
    if (!it) {
        if (r->low_on && spill &&
            atomic_load_explicit(&r->pending_cls[id], memory_order_relaxed) > 0) {
            *st = CACHE_PENDING; /* the lower tier will free memory: wait */
            return NULL;
        }
        lru_stat_add(&l->st.outofmemory, 1);
        *st = CACHE_NO_MEMORY;
        return NULL;
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

cache_status_e ram_get(ram_t *r, ram_wstats_t *ws, const char *key, size_t nkey,
                       ram_get_mode_e mode, rel_time_t exptime, item_t **out,
                       unsigned rflags)
{
    uint64_t hv = hash_key(key, nkey);
    rel_time_t now = ram_now(r);
    hash_lock(&r->hash, hv);
    item_t *it = do_item_get(r, ws, key, nkey, hv, now);
    lru_id_e lru = LRU_HOT;
    if (it) {
        lru = item_lru(it);
        if (!(rflags & RAM_F_NOBUMP))
            do_item_bump(r, it, now);
        if (mode != RAM_GET) {
            item_exptime_set(r, it, exptime);
            do_item_modified(r, it, hv);
        }
    }
    hash_unlock(&r->hash, hv);

    /* memcached counts gat/gats in cmd_touch only, never in cmd_get. */
    if (!(rflags & RAM_F_RERUN)) {
        if (mode == RAM_GET)
            WSTAT_INC(ws, cmd_get);
        else
            WSTAT_INC(ws, cmd_touch);
    }
    if (!it) {
        if (rflags & RAM_F_DEFER)
            return CACHE_PENDING;
        if (mode == RAM_GET)
            WSTAT_INC(ws, get_misses);
        else
            WSTAT_INC(ws, touch_misses);
        return CACHE_NOT_FOUND;
    }
    if (mode == RAM_GET) {
        WSTAT_INC(ws, get_hits);
        switch (lru) {
        case LRU_HOT: WCSTAT_INC(ws, it->clsid, hits_hot); break;
        case LRU_WARM: WCSTAT_INC(ws, it->clsid, hits_warm); break;
        default: WCSTAT_INC(ws, it->clsid, hits_cold); break;
        }
    } else {
        WSTAT_INC(ws, touch_hits);
        WCSTAT_INC(ws, it->clsid, touch_hits);
    }
    if (out)
        *out = it;
    else
        ram_item_release(r, it);
    return CACHE_OK;
}

cache_status_e ram_store(ram_t *r, ram_wstats_t *ws, item_t *it, cache_store_op_e op,
                         uint64_t cas_in, uint64_t *cas_out, unsigned rflags,
                         item_t **spill)
{
    if ((item_iflags(it) & (ITEM_LINKED | ITEM_SLABBED)) || it->clsid == 0)
        return CACHE_EINVAL;
    const char *key = item_ckey(it);
    size_t nkey = item_nkey(it);
    uint64_t hv = hash_key(key, nkey);
    rel_time_t now = ram_now(r);
    cache_status_e st = CACHE_NOT_STORED;

    if (!(rflags & RAM_F_RERUN))
        WCSTAT_INC(ws, it->clsid, set_cmds);
    hash_lock(&r->hash, hv);
    item_t *old = do_item_get(r, ws, key, nkey, hv, now);
    if (!old && op != CACHE_STORE_SET && (rflags & RAM_F_DEFER)) {
        /* add/replace/append/prepend/cas need to know about a lower copy */
        hash_unlock(&r->hash, hv);
        return CACHE_PENDING;
    }
    bool below = r->low_on && may_be_below(r, old);
    if (old && op == CACHE_STORE_ADD) {
        do_item_update(old, now); /* add bumps the existing item */
    } else if (!old && (op == CACHE_STORE_REPLACE || op == CACHE_STORE_APPEND ||
                        op == CACHE_STORE_PREPEND)) {
        /* NOT_STORED */
    } else if (old && cas_in != 0 && old->cas != cas_in &&
               (op == CACHE_STORE_APPEND || op == CACHE_STORE_PREPEND)) {
        /* memcached: append/prepend with a cas must match it */
        st = CACHE_EXISTS;
    } else if (op == CACHE_STORE_CAS || op == CACHE_STORE_CAS_STALE) {
        bool match = old && cas_in != 0 && old->cas != 0 && cas_in == old->cas;
        bool stale = old && !match && op == CACHE_STORE_CAS_STALE && cas_in != 0 &&
                     cas_in < old->cas;
        if (!old) {
            st = CACHE_NOT_FOUND;
            WSTAT_INC(ws, cas_misses);
        } else if (match || stale) {
            /* memcached: a zero unique on either side (cas 0, or -C where
             * every item's unique is 0) never matches: EXISTS. An older
             * unique with ms I stores a stale value (CAS_STALE). */
            if (stale) {
                it->exptime = old->exptime;
                item_marks_or(it, CACHE_MARK_STALE | (item_marks(old) & CACHE_MARK_TOKEN));
            }
            do_item_replace(r, old, it, hv, now);
            if (below)
                lower_changed(r, hv);
            WSTAT_INC(ws, cas_hits);
            WCSTAT_INC(ws, old->clsid, cas_hits);
            if (cas_out)
                *cas_out = it->cas;
            st = CACHE_OK;
        } else {
            st = CACHE_EXISTS;
            WSTAT_INC(ws, cas_badval);
            WCSTAT_INC(ws, old->clsid, cas_badval);
        }
    } else {
        item_t *link = it;
        st = CACHE_OK;
        if (op == CACHE_STORE_APPEND || op == CACHE_STORE_PREPEND) {
            size_t n = (size_t)old->nbytes + it->nbytes;
            link = do_item_alloc(r, key, nkey, item_flags_get(old), old->exptime, n,
                                 rflags, spill, &st);
            if (st == CACHE_PENDING) {
                /* Cannot wait for the writer holding the stripe: evict
                 * without spilling instead (a counted drop). At most a
                 * third of a class waits for the writer (lru_pull_tail),
                 * so this finds memory unless the class is truly full. */
                link = do_item_alloc(r, key, nkey, item_flags_get(old), old->exptime, n,
                                     rflags | RAM_F_NOSPILL, spill, &st);
                if (st == CACHE_PENDING)
                    st = CACHE_NO_MEMORY;
            }
            if (st == CACHE_NO_MEMORY)
                WSTAT_INC(ws, store_no_memory);
            if (link) {
                char *d = item_value(link);
                if (op == CACHE_STORE_APPEND) {
                    memcpy(d, item_cvalue(old), old->nbytes);
                    memcpy(d + old->nbytes, item_cvalue(it), it->nbytes);
                } else {
                    memcpy(d, item_cvalue(it), it->nbytes);
                    memcpy(d + it->nbytes, item_cvalue(old), old->nbytes);
                }
            }
        }
        if (st == CACHE_OK) {
            if (old)
                do_item_replace(r, old, link, hv, now);
            else
                do_item_link(r, link, hv, now);
            if (below)
                lower_changed(r, hv);
            if (cas_out)
                *cas_out = link->cas;
            if (link != it)
                ram_item_release(r, link);
        }
    }
    if (old)
        ram_item_release(r, old);
    hash_unlock(&r->hash, hv);
    if (st == CACHE_OK && !r->set.maintainer_thread)
        ram_maybe_expand(r);
    return st;
}

cache_status_e ram_delete(ram_t *r, ram_wstats_t *ws, const char *key, size_t nkey,
                          bool count, unsigned rflags)
{
    uint64_t hv = hash_key(key, nkey);
    rel_time_t now = ram_now(r);
    hash_lock(&r->hash, hv);
    item_t *it = do_item_get(r, ws, key, nkey, hv, now);
    if (!it && (rflags & RAM_F_DEFER)) {
        hash_unlock(&r->hash, hv);
        return CACHE_PENDING;
    }
    if (r->low_on && (it ? may_be_below(r, it) : (rflags & RAM_F_LOWERDROP) != 0))
        lower_changed(r, hv);
    if (!count) {
        /* memcached's item_get + item_unlink: no delete counters */
        if (it) {
            do_item_unlink(r, it, hv);
            ram_item_release(r, it);
        }
    } else if (it) {
        WSTAT_INC(ws, delete_hits);
        WCSTAT_INC(ws, it->clsid, delete_hits);
        do_item_unlink(r, it, hv);
        ram_item_release(r, it);
    } else {
        WSTAT_INC(ws, delete_misses);
    }
    hash_unlock(&r->hash, hv);
    return it ? CACHE_OK : CACHE_NOT_FOUND;
}

static inline bool c_isspace(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool ram_parse_u64(const char *p, size_t n, uint64_t *out)
{
    /* strtoull(): spaces, an optional sign, decimal digits; then memcached
     * wants a space or the end of the value (its "\r\n"); ERANGE or no
     * digits fail; a '-' is refused only if the result is "negative". */
    size_t i = 0;
    bool neg = false;
    *out = 0;
    while (i < n && c_isspace(p[i]))
        i++;
    if (i < n && (p[i] == '+' || p[i] == '-')) {
        neg = p[i] == '-';
        i++;
    }
    size_t d0 = i;
    uint64_t v = 0;
    bool range = false;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        unsigned dg = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - dg) / 10)
            range = true;
        else
            v = v * 10 + dg;
        i++;
    }
    if (i == d0 || range)
        return false;
    if (i < n && !c_isspace(p[i]))
        return false;
    if (neg)
        v = (uint64_t)0 - v;
    if (neg && (int64_t)v < 0)
        return false;
    *out = v;
    return true;
}

/* incr/decr of the live item `it` of hv (stripe held; our reference is
 * released here). With set_exptime the resulting item gets `exptime`. */
static cache_status_e do_arith(ram_t *r, ram_wstats_t *ws, item_t *it, uint64_t hv,
                               rel_time_t now, bool incr, uint64_t delta,
                               bool set_exptime, rel_time_t exptime, uint64_t *value_out,
                               uint64_t *cas_out, unsigned rflags, item_t **spill)
{
    const char *key = item_ckey(it);
    size_t nkey = item_nkey(it);
    cache_status_e st = CACHE_OK;
    bool below = r->low_on && may_be_below(r, it);
    uint64_t value;
    if (it->nbytes == 0 || !ram_parse_u64(item_cvalue(it), it->nbytes, &value)) {
        st = CACHE_NON_NUMERIC;
        goto out;
    }
    if (incr) {
        value += delta;
        WSTAT_INC(ws, incr_hits);
        WCSTAT_INC(ws, it->clsid, incr_hits);
    } else {
        value = delta > value ? 0 : value - delta;
        WSTAT_INC(ws, decr_hits);
        WCSTAT_INC(ws, it->clsid, decr_hits);
    }
    char buf[24];
    int len = snprintf(buf, sizeof buf, "%llu", (unsigned long long)value);
    if ((size_t)len <= it->nbytes &&
        atomic_load_explicit(&it->refcount, memory_order_acquire) == 2) {
        /* In place, padded with spaces (memcached: "10" decr 1 -> "9 "). */
        it->cas = r->set.use_cas ? next_cas(r) : 0;
        if (set_exptime)
            item_exptime_set(r, it, exptime);
        if (below) {
            item_loc_set(r, it, 0); /* no longer the promoted copy */
            lower_changed(r, hv);
        }
        char *d = item_value(it);
        memcpy(d, buf, (size_t)len);
        memset(d + len, ' ', it->nbytes - (size_t)len);
        do_item_update(it, now);
        if (cas_out)
            *cas_out = it->cas;
    } else {
        item_t *nw = do_item_alloc(r, key, nkey, item_flags_get(it),
                                   set_exptime ? exptime : it->exptime, (size_t)len,
                                   rflags, spill, &st);
        if (!nw && st == CACHE_PENDING) /* see append: cannot wait here */
            nw = do_item_alloc(r, key, nkey, item_flags_get(it),
                               set_exptime ? exptime : it->exptime, (size_t)len,
                               rflags | RAM_F_NOSPILL, spill, &st);
        if (!nw) {
            st = CACHE_NO_MEMORY;
            goto out;
        }
        memcpy(item_value(nw), buf, (size_t)len);
        do_item_replace(r, it, nw, hv, now);
        if (below)
            lower_changed(r, hv);
        if (cas_out)
            *cas_out = nw->cas;
        ram_item_release(r, nw);
    }
    if (value_out)
        *value_out = value;
out:
    ram_item_release(r, it);
    return st;
}

cache_status_e ram_arith(ram_t *r, ram_wstats_t *ws, const char *key, size_t nkey,
                         bool incr, uint64_t delta, uint64_t *value_out,
                         uint64_t *cas_out, unsigned rflags, item_t **spill)
{
    uint64_t hv = hash_key(key, nkey);
    rel_time_t now = ram_now(r);
    hash_lock(&r->hash, hv);
    item_t *it = do_item_get(r, ws, key, nkey, hv, now);
    if (!it && (rflags & RAM_F_DEFER)) {
        hash_unlock(&r->hash, hv);
        return CACHE_PENDING;
    }
    if (!it) {
        if (incr)
            WSTAT_INC(ws, incr_misses);
        else
            WSTAT_INC(ws, decr_misses);
        hash_unlock(&r->hash, hv);
        return CACHE_NOT_FOUND;
    }
    cache_status_e st = do_arith(r, ws, it, hv, now, incr, delta, false, 0, value_out,
                                 cas_out, rflags, spill);
    hash_unlock(&r->hash, hv);
    return st;
}

/* ---- keyed conditional operations (ram.h) ---- */

/* md / binary delete with a cas, md I (stale). Stripe of hv held. */
static cache_status_e do_keyed_delete(ram_t *r, ram_wstats_t *ws, item_t *it, uint64_t hv,
                                      ram_keyed_t *k)
{
    cache_status_e st = CACHE_OK;
    if (k->has_cas && it->cas != k->cas) {
        if (k->mismatch_is_miss)
            WSTAT_INC(ws, delete_misses);
        st = CACHE_EXISTS;
    } else if (k->stale) {
        /* memcached's md I: in place, so a reader holding the item sees
         * the mark; the token is cleared so the next mg wins again */
        item_marks_or(it, CACHE_MARK_STALE);
        item_marks_clear(it, CACHE_MARK_TOKEN);
        it->cas = r->set.use_cas ? next_cas(r) : 0;
        if (k->set_exptime)
            item_exptime_set(r, it, k->exptime);
        do_item_modified(r, it, hv);
        k->cas_out = it->cas;
    } else {
        if (r->low_on && may_be_below(r, it))
            lower_changed(r, hv);
        WSTAT_INC(ws, delete_hits);
        WCSTAT_INC(ws, it->clsid, delete_hits);
        do_item_unlink(r, it, hv);
    }
    ram_item_release(r, it);
    return st;
}

cache_status_e ram_keyed(ram_t *r, ram_wstats_t *ws, const char *key, size_t nkey,
                         ram_keyed_t *k, unsigned rflags, item_t **spill)
{
    uint64_t hv = hash_key(key, nkey);
    rel_time_t now = ram_now(r);
    cache_status_e st;
    hash_lock(&r->hash, hv);
    item_t *it = do_item_get(r, ws, key, nkey, hv, now);
    if (!it) {
        if (rflags & RAM_F_DEFER) {
            hash_unlock(&r->hash, hv);
            return CACHE_PENDING;
        }
        if (k->kind == RAM_KEYED_DELETE)
            WSTAT_INC(ws, delete_misses);
        else if (k->incr)
            WSTAT_INC(ws, incr_misses);
        else
            WSTAT_INC(ws, decr_misses);
        st = CACHE_NOT_FOUND;
    } else if (k->kind == RAM_KEYED_DELETE) {
        st = do_keyed_delete(r, ws, it, hv, k);
    } else if (k->has_cas && k->cas != 0 && it->cas != k->cas) {
        ram_item_release(r, it); /* memcached: no counter for a mismatch */
        st = CACHE_EXISTS;
    } else {
        k->old_exptime = it->exptime;
        st = do_arith(r, ws, it, hv, now, k->incr, k->delta, k->set_exptime, k->exptime,
                      &k->value_out, &k->cas_out, rflags, spill);
    }
    hash_unlock(&r->hash, hv);
    return st;
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

/* ---- the lower tier ---- */

bool ram_lower_attach(ram_t *r, const ram_lower_hooks_t *h)
{
    r->ghost = calloc((size_t)1 << RAM_GHOST_BITS, sizeof *r->ghost);
    if (!r->ghost)
        return false;
    r->low = *h;
    r->low_on = true;
    return true;
}

uint64_t ram_spill_seq(ram_t *r)
{
    return atomic_load_explicit(&r->spill_seq, memory_order_acquire);
}

void ram_spill_wait(ram_t *r, uint64_t seq_seen, int64_t deadline_ms)
{
    struct timespec ts = {.tv_sec = deadline_ms / 1000,
                          .tv_nsec = (long)(deadline_ms % 1000) * 1000000L};
    pthread_mutex_lock(&r->spill_lock);
    while (atomic_load_explicit(&r->spill_seq, memory_order_relaxed) == seq_seen &&
           atomic_load_explicit(&r->pending, memory_order_relaxed) > 0) {
        if (pthread_cond_timedwait(&r->spill_cond, &r->spill_lock, &ts) != 0)
            break;
    }
    pthread_mutex_unlock(&r->spill_lock);
}

void ram_spill_done(ram_t *r, item_t *it, bool ok)
{
    uint64_t hv = hash_key(item_ckey(it), item_nkey(it));
    unsigned id = it->clsid;
    hash_lock(&r->hash, hv);
    if (item_iflags(it) & ITEM_LINKED) {
        if (ok && it->prev == it) {
            /* touched while queued: the copy just written has a stale
             * exptime; keep the RAM item (back on COLD), drop the copy */
            lower_changed(r, hv);
            it->prev = NULL;
            lru_class_t *l = lru_of(r, it);
            pthread_mutex_lock(&l->lock);
            do_lru_link(l, it, LRU_COLD);
            pthread_mutex_unlock(&l->lock);
        } else {
            /* below now (or dropped): RAM lets it go */
            item_clear_iflag(it, ITEM_LINKED);
            do_hash_remove(&r->hash, it, hv);
            ram_item_release(r, it); /* the hash's reference */
        }
    } else {
        /* superseded while queued: the writer may have indexed the old
         * value; remove it before the ghost goes */
        if (ok)
            lower_changed(r, hv);
        uint32_t *g = ghost_of(r, hv);
        if (*g > 0)
            (*g)--;
    }
    hash_unlock(&r->hash, hv);
    ram_item_release(r, it); /* the writer's reference */
    atomic_fetch_sub_explicit(&r->pending_cls[id], 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&r->pending, 1, memory_order_relaxed);
    pthread_mutex_lock(&r->spill_lock);
    atomic_fetch_add_explicit(&r->spill_seq, 1, memory_order_release);
    pthread_cond_broadcast(&r->spill_cond);
    pthread_mutex_unlock(&r->spill_lock);
}

cache_status_e ram_install(ram_t *r, ram_wstats_t *ws, ram_install_mode_e mode,
                           const char *key, size_t nkey, uint64_t hv, item_t *nw,
                           uint64_t cas, uint64_t loc, item_t **cur)
{
    rel_time_t now = ram_now(r);
    cache_status_e st = CACHE_OK;
    *cur = NULL;
    hash_lock(&r->hash, hv);
    item_t *it = do_item_get(r, ws, key, nkey, hv, now);
    if (it) {
        *cur = it;
        st = CACHE_EXISTS;
    } else if (*ghost_of(r, hv) != 0 || !r->low.current(r->low.ctx, hv, loc)) {
        st = CACHE_NOT_FOUND;
    } else if (mode == RAM_INSTALL_REMOVE) {
        lower_changed(r, hv);
    } else if (mode == RAM_INSTALL_LINK) {
        nw->cas = cas;
        do_item_link_cas(r, nw, hv, now);
        if (loc_slot(r, nw))
            item_loc_set(r, nw, loc);
        else
            r->low.moved ? r->low.moved(r->low.ctx, hv) /* cannot remember it */
                        : lower_changed(r, hv);
        item_refcount_incr(nw);
        *cur = nw;
    }
    hash_unlock(&r->hash, hv);
    if (st == CACHE_OK && mode == RAM_INSTALL_LINK && !r->set.maintainer_thread)
        ram_maybe_expand(r);
    return st;
}

/* ---- slab page moves (ram.h, slabs.h) ---- */

#define MOVE_ROUNDS 100        /* passes over the page before giving up */
#define MOVE_NAP_NS 1000000L   /* 1 ms between passes */

typedef enum move_chunk {
    MOVE_CHUNK_FREE = 0,
    MOVE_CHUNK_BUSY,
} move_chunk_e;

static void mv_count(_Atomic uint64_t *p)
{
    atomic_fetch_add_explicit(p, 1, memory_order_relaxed);
}

/* Copies the linked item `it` (stripe of hv and its LRU lock l held, our
 * reference besides the hash's) into the free chunk `nw` of the same class
 * and puts the copy in its place: same cas, time, flags and LRU list. */
static void do_item_rescue(ram_t *r, lru_class_t *l, item_t *it, item_t *nw, uint64_t hv)
{
    size_t used = r->slabs.cls[it->clsid].size - ITEM_HEADER_SIZE;
    memcpy(nw->data, it->data, used); /* key, value, marks, lower token */
    nw->cas = it->cas;
    nw->time = it->time;
    nw->exptime = it->exptime;
    nw->nbytes = it->nbytes;
    lru_id_e lru = item_lru(it);
    unsigned keep = ITEM_FETCHED | ITEM_ACTIVE | ITEM_CFLAGS | ITEM_CASSZ;
    atomic_store_explicit(&nw->iflags, (uint8_t)((item_iflags(it) & keep) | ITEM_LINKED),
                          memory_order_relaxed);
    /* nw's reference (1, from the allocation) becomes the hash's */
    do_hash_remove(&r->hash, it, hv);
    do_hash_insert(&r->hash, nw, hv);
    do_lru_unlink(l, it);
    do_lru_link(l, nw, lru);
    item_clear_iflag(it, ITEM_LINKED);
    ram_item_release(r, it); /* the hash's reference; ours is dropped later */
}

/* One chunk of the page being moved out of class id. */
static move_chunk_e move_chunk(ram_t *r, unsigned id, item_t *it, item_t **spill)
{
    slabs_t *s = &r->slabs;
    slabclass_t *c = &s->cls[id];
    pthread_mutex_lock(&c->lock);
    unsigned f = item_iflags(it);
    if (f & ITEM_SLABBED) {
        pthread_mutex_unlock(&c->lock);
        return MOVE_CHUNK_FREE;
    }
    if (!(f & ITEM_LINKED)) {
        /* being written by a store, or unlinked and still referenced
         * (or being freed): let it bleed off */
        pthread_mutex_unlock(&c->lock);
        mv_count(&s->slab_reassign_busy_items);
        return MOVE_CHUNK_BUSY;
    }
    /* Linked: the key is stable, and the chunk cannot be freed while we
     * hold the class lock (slabs_free takes it). Trylock only: the class
     * lock comes after stripes in the lock order. */
    uint64_t hv = hash_key(item_ckey(it), item_nkey(it));
    if (!hash_trylock(&r->hash, hv)) {
        pthread_mutex_unlock(&c->lock);
        return MOVE_CHUNK_BUSY;
    }
    if (!(item_iflags(it) & ITEM_LINKED)) {
        hash_unlock(&r->hash, hv);
        pthread_mutex_unlock(&c->lock);
        return MOVE_CHUNK_BUSY;
    }
    unsigned refs = item_refcount_incr(it); /* cannot reach 0: linked */
    pthread_mutex_unlock(&c->lock);

    move_chunk_e res = MOVE_CHUNK_BUSY;
    rel_time_t now = ram_now(r);
    lru_class_t *l = &r->lru[id];
    bool keep_ref = false;
    if (item_pending(it)) {
        /* in the lower tier's hands: ram_spill_done will unlink it */
        mv_count(&s->slab_reassign_busy_items);
    } else if ((it->exptime != 0 && it->exptime <= now) ||
               ram_item_is_flushed(r, it, now)) {
        mv_count(&s->slab_reassign_inline_reclaim);
        if (r->low_on && may_be_below(r, it))
            lower_changed(r, hv);
        do_item_unlink(r, it, hv);
    } else if (refs != 2) {
        /* referenced by a reader: left alone (no busy delete, unlike
         * memcached: a referenced item never leaves the hash for a move) */
        mv_count(&s->slab_reassign_busy_items);
    } else {
        item_t *nw = slabs_alloc_free(s, id);
        pthread_mutex_lock(&l->lock);
        if (nw) {
            do_item_rescue(r, l, it, nw, hv);
            mv_count(&s->slab_reassign_rescues);
        } else {
            evict_e ev = do_item_evict(r, l, id, it, hv, LRU_PULL_EVICT, spill, now);
            if (ev == EVICT_QUEUED)
                keep_ref = true; /* the lower tier's now; freed via spill_done */
            if (ev == EVICT_QUEUED || ev == EVICT_DONE)
                mv_count(&s->slab_reassign_evictions_nomem);
        }
        pthread_mutex_unlock(&l->lock);
    }
    if (!keep_ref)
        ram_item_release(r, it); /* may free the chunk: it is claimed */
    hash_unlock(&r->hash, hv);
    /* our release above may have been the last: look again */
    pthread_mutex_lock(&c->lock);
    if (item_iflags(it) & ITEM_SLABBED)
        res = MOVE_CHUNK_FREE;
    pthread_mutex_unlock(&c->lock);
    return res;
}

void ram_automove_set(ram_t *r, unsigned level)
{
    atomic_store_explicit(&r->automove, level, memory_order_relaxed);
}

unsigned ram_automove_get(const ram_t *r)
{
    return atomic_load_explicit(&r->automove, memory_order_relaxed);
}

void ram_automove_ratio_set(ram_t *r, double ratio)
{
    uint64_t b;
    memcpy(&b, &ratio, sizeof b);
    atomic_store_explicit(&r->automove_ratio, b, memory_order_relaxed);
}

double ram_automove_ratio_get(const ram_t *r)
{
    uint64_t b = atomic_load_explicit(&r->automove_ratio, memory_order_relaxed);
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

/* Empties the claimed `page` of class src: every chunk free (claimed) or
 * rounds run out. Items go as move_chunk says; with a lower tier
 * evicted ones spill. Caller holds move_lock only. */
static bool empty_page(ram_t *r, unsigned src, char *page)
{
    slabs_t *s = &r->slabs;
    slabclass_t *c = &s->cls[src];
    bool spill_ok = r->low_on && r->set.evict_to_free;
    bool done = false;
    /* chunks known free (claimed chunks stay free): later rounds only
     * look at the busy ones; without it every round looks at all */
    unsigned char *freed = calloc(c->perslab, 1);
    for (unsigned round = 0; round < MOVE_ROUNDS && !done; round++) {
        if (round > 0) {
            struct timespec ts = {0, MOVE_NAP_NS};
            nanosleep(&ts, NULL);
        }
        item_t *spill = NULL;
        unsigned busy = 0;
        for (unsigned k = 0; k < c->perslab; k++) {
            if (freed && freed[k])
                continue;
            item_t *it = (item_t *)(page + (size_t)k * c->size);
            if (move_chunk(r, src, it, spill_ok ? &spill : NULL) != MOVE_CHUNK_FREE)
                busy++;
            else if (freed)
                freed[k] = 1;
        }
        if (spill)
            r->low.enqueue(r->low.ctx, spill);
        done = busy == 0 || slabs_move_ready(s, src);
    }
    free(freed);
    return done;
}

ram_move_e ram_slabs_release(ram_t *r, unsigned src)
{
    slabs_t *s = &r->slabs;
    if (src < 1 || src > s->largest)
        return RAM_MOVE_BADCLASS;
    if (pthread_mutex_trylock(&s->move_lock) != 0)
        return RAM_MOVE_BUSY;
    ram_move_e res = RAM_MOVE_OK;
    char *page = NULL;
    switch (slabs_release_begin(s, src, &page)) {
    case SLABS_OK: break;
    case SLABS_NOSPARE: res = RAM_MOVE_NOSPARE; goto out;
    default: res = RAM_MOVE_BADCLASS; goto out;
    }
    atomic_store_explicit(&s->move_running, 1, memory_order_relaxed);
    if (empty_page(r, src, page)) {
        slabs_release_finish(s, src);
        atomic_fetch_add_explicit(&r->pages_released, 1, memory_order_relaxed);
    } else {
        slabs_move_abort(s, src);
        res = RAM_MOVE_BUSY;
    }
    atomic_store_explicit(&s->move_running, 0, memory_order_relaxed);
out:
    pthread_mutex_unlock(&s->move_lock);
    return res;
}

ram_move_e ram_slabs_reassign(ram_t *r, int src, int dst)
{
    slabs_t *s = &r->slabs;
    if (pthread_mutex_trylock(&s->move_lock) != 0)
        return RAM_MOVE_BUSY;
    ram_move_e res = RAM_MOVE_OK;
    if (src == dst) {
        res = RAM_MOVE_SAME;
        goto out;
    }
    if (src == -1)
        src = slabs_pick_any(s, dst < 0 ? 0 : (unsigned)dst);
    if (src < 0 || (unsigned)src > s->reassign_largest || dst < 0 ||
        (unsigned)dst > s->reassign_largest) {
        res = RAM_MOVE_BADCLASS;
        goto out;
    }
    char *page = NULL;
    switch (slabs_move_begin(s, (unsigned)src, &page)) {
    case SLABS_OK: break;
    case SLABS_NOSPARE: res = RAM_MOVE_NOSPARE; goto out;
    default: res = RAM_MOVE_BADCLASS; goto out;
    }
    atomic_store_explicit(&s->move_running, 1, memory_order_relaxed);
    bool done = src == 0 || empty_page(r, (unsigned)src, page);
    if (done) {
        slabs_move_finish(s, (unsigned)src, (unsigned)dst);
    } else {
        slabs_move_abort(s, (unsigned)src);
        res = RAM_MOVE_BUSY;
    }
    atomic_store_explicit(&s->move_running, 0, memory_order_relaxed);
out:
    pthread_mutex_unlock(&s->move_lock);
    return res;
}
