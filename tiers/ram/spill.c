/*
 * tiers/ram/spill.c - the RAM engine's side of a lower tier (ram.h "the
 * lower tier"): attaching the hooks, items handed over (pending) and
 * given back (ram_spill_done), waiting for them, and the idle pass (ext_item_age, ram_age_spill).
 * What goes below is the victim hook's decision, not this file's.
 *
 * Lock order: items_int.h. ram_spill_done takes the stripe lock; the idle
 * pass holds an LRU lock and only trylocks stripes.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "items_int.h"

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
    /* release: an allocator that reads the class's count after this sees
     * the chunk freed above (do_item_alloc) */
    atomic_fetch_sub_explicit(&r->pending_cls[id], 1, memory_order_release);
    atomic_fetch_sub_explicit(&r->pending, 1, memory_order_relaxed);
    pthread_mutex_lock(&r->spill_lock);
    atomic_fetch_add_explicit(&r->spill_seq, 1, memory_order_release);
    pthread_cond_broadcast(&r->spill_cond);
    pthread_mutex_unlock(&r->spill_lock);
}


