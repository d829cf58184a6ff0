/*
 * tiers/ram/move.c - the item side of slab page moves: `slabs reassign`
 * (ram_slabs_reassign), a page freed for a shrink of the memory limit
 * (ram_slabs_release) and the automover's settings. slabs.h has the page
 * side.
 *
 * Lock order: items_int.h. The page mover (move_chunk) holds a slab class
 * lock while it reads a chunk's flags and key, and only trylocks the
 * stripe there; it drops the class lock before taking the LRU lock.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "items_int.h"

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

