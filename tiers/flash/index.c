/*
 * tiers/flash/index.c - the compact in-RAM index: create, lookup, insert,
 * remove, hit, relocate, stats (layout and growth: index.h; private parts:
 * index_int.h; kicks and splits: index_grow.c; whole-table walks:
 * index_walk.c).
 *
 * Lock order: split_lock (pthread mutex) -> bucket spin locks (bit 31 of
 * bucket.meta). With two buckets, the lower bucket number is locked first;
 * the two buckets of a hash always differ, and a split's old bucket s is
 * below its new bucket n. The caller's age function runs under both bucket
 * locks and must not call back into the index. No other lock is taken
 * while a bucket lock is held, except by kicks, which only try-lock (never
 * wait). Inserts take split_lock only after dropping their bucket locks
 * (trylock; a blocking lock only when growth is 3% behind).
 * Whole-table walks hold split_lock and raise `walkers`, which allows only
 * forward kicks (walk_begin), so no slot moves behind a walk.
 *
 * The table size n (buckets in use) is one atomic word. It only grows, and
 * only a split (holding split_lock and both buckets it touches) stores it,
 * before unlocking those buckets (release). A pair lock reads n, locks the
 * hash's two buckets, reads n again (acquire) and starts over if the hash's
 * buckets under the new n differ from the ones it locked: every split that
 * touched a locked bucket finished before the lock was taken and is seen.
 */
#include "flash/index_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

unsigned index_tag(const index_t *idx, uint64_t hash)
{
    return tag_of(idx, hash);
}

void index_buckets(const index_t *idx, uint64_t hash, uint64_t *b1, uint64_t *b2)
{
    hkey_t k;
    hkey_of(idx, hash, &k);
    *b1 = k.p[0] << 1;
    *b2 = (k.p[1] << 1) | 1;
}


/* Caller holds the pair. Removes matching slots, optionally only those of
 * one segment. Returns how many. */
static unsigned do_remove_tag(pair_t *p, unsigned tag, bool by_seg, uint32_t seg,
                              index_loc_t *locs)
{
    unsigned n = 0;
    for (int c = 0; c < 2; c++) {
        bucket_t *b = p->b[c];
        for (unsigned i = 0; i < INDEX_SLOTS_PER_BUCKET; i++) {
            if (!do_match(p, c, i, tag))
                continue;
            if (by_seg && (b->locw[i] >> INDEX_OFF_BITS) != seg)
                continue;
            if (locs)
                locs[n] = locw_loc(b->locw[i]);
            slot_clear(b, &p->meta[c], i);
            n++;
        }
    }
    return n;
}
/* ---- API ---- */

index_status_e index_create(index_t **out, uint64_t capacity_items,
                            unsigned tag_bits, uint64_t *bytes_out)
{
    if (tag_bits == 0)
        tag_bits = TC_FLASH_TAG_BITS;
    if (!out || capacity_items == 0 || tag_bits > INDEX_TAG_FIELD_BITS)
        return INDEX_EINVAL;
    /* ~90% load at the maximum: 9 items per 10-slot bucket */
    uint64_t nb = capacity_items / 9 + (capacity_items % 9 != 0);
    if (nb < 2)
        nb = 2;
    if (nb > UINT32_MAX)
        return INDEX_EINVAL;
    unsigned g = tag_bits < INDEX_GROWTH_BITS ? tag_bits : INDEX_GROWTH_BITS;
    unsigned lfloor = log2_floor(nb);
    unsigned lceil = lfloor + ((nb & (nb - 1)) != 0);
    unsigned l0 = lfloor < INDEX_MIN_L0 ? lfloor : INDEX_MIN_L0;
    if (lceil > g && lceil - g > l0)
        l0 = lceil - g;
    index_t *idx = aligned_alloc(_Alignof(index_t), sizeof *idx);
    if (!idx)
        return INDEX_ENOMEM;
    memset(idx, 0, sizeof *idx);
    size_t bytes = (size_t)nb * sizeof(bucket_t);
    long page = sysconf(_SC_PAGESIZE);
    size_t pg = page > 0 ? (size_t)page : 4096;
    bytes = (bytes + pg - 1) / pg * pg;
    void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED || pthread_mutex_init(&idx->split_lock, NULL) != 0) {
        if (mem != MAP_FAILED)
            munmap(mem, bytes);
        free(idx);
        return INDEX_ENOMEM;
    }
    idx->buckets = mem; /* page aligned, zero filled on first touch */
    idx->map_bytes = bytes;
    idx->buckets_max = nb;
    idx->capacity_max = capacity_items;
    idx->tag_bits = tag_bits;
    idx->l0 = l0;
    idx->gbits = g;
    idx->mask0 = (UINT64_C(1) << l0) - 1;
    idx->gmask = (UINT64_C(1) << g) - 1;
    idx->buckets_initial = UINT64_C(1) << l0;
    atomic_init(&idx->nbuckets, idx->buckets_initial);
    *out = idx;
    if (bytes_out)
        *bytes_out = idx->buckets_initial * sizeof(bucket_t) + sizeof *idx;
    return INDEX_OK;
}

void index_destroy(index_t **pidx)
{
    if (!pidx || !*pidx)
        return;
    index_t *idx = *pidx;
    munmap(idx->buckets, idx->map_bytes);
    pthread_mutex_destroy(&idx->split_lock);
    free(idx);
    *pidx = NULL;
}

unsigned index_lookup(index_t *idx, uint64_t hash, index_entry_t out[INDEX_MAX_MATCHES])
{
    hkey_t k;
    hkey_of(idx, hash, &k);
    unsigned n = 0;
    pair_t p;
    pair_lock(idx, &k, &p);
    for (int c = 0; c < 2; c++)
        for (unsigned i = 0; i < INDEX_SLOTS_PER_BUCKET; i++)
            if (do_match(&p, c, i, k.tag))
                out[n++] = do_entry(&p, c, i);
    pair_unlock(&p);
    return n;
}

void index_prefetch(const index_t *idx, uint64_t hash)
{
    hkey_t k;
    hkey_of(idx, hash, &k);
    uint64_t n = atomic_load_explicit(&idx->nbuckets, RELAXED);
    __builtin_prefetch(&idx->buckets[addr_of(k.p[0], n)], 1);
    __builtin_prefetch(&idx->buckets[addr_of(k.p[1], n)], 1);
}

index_status_e index_insert(index_t *idx, uint64_t hash, index_loc_t loc,
                            index_age_fn age_fn, void *age_ctx,
                            index_insert_result_t *res)
{
    if (loc.segment > INDEX_SEG_MAX || loc.offset > INDEX_OFF_MAX)
        return INDEX_EINVAL;
    hkey_t k;
    hkey_of(idx, hash, &k);
    index_insert_result_t r = { 0 };
    pair_t p;
    pair_lock(idx, &k, &p);
    r.removed = do_remove_tag(&p, k.tag, false, 0, NULL);

    unsigned c0 = bucket_count(p.b[0]), c1 = bucket_count(p.b[1]);
    int c;
    unsigned slot = 0;
    if (c0 < INDEX_SLOTS_PER_BUCKET || c1 < INDEX_SLOTS_PER_BUCKET) {
        c = c1 < c0 ? 1 : 0;
        while (slot_used(p.b[c], slot))
            slot++;
    } else if (index_kick_worth(idx) && index_kick(idx, &p, &c, &slot)) {
        atomic_fetch_add_explicit(&idx->kicks, 1, RELAXED);
    } else {
        /* both full: evict the oldest segment's slot, then fewest hits */
        uint64_t best_age = 0;
        unsigned best_hits = 0;
        bool have = false;
        c = 0;
        for (int cc = 0; cc < 2; cc++) {
            for (unsigned i = 0; i < INDEX_SLOTS_PER_BUCKET; i++) {
                const bucket_t *b = p.b[cc];
                uint64_t age = age_fn ? age_fn(age_ctx, b->locw[i] >> INDEX_OFF_BITS) : 0;
                unsigned hits = tagw_hits(b->tagw[i]);
                if (!have || age > best_age || (age == best_age && hits < best_hits)) {
                    have = true;
                    best_age = age;
                    best_hits = hits;
                    c = cc;
                    slot = i;
                }
            }
        }
        r.evicted = true;
        r.victim = do_entry(&p, c, slot);
        /* the victim's own identity (its choice may differ from c) */
        r.victim.bucket = slot_id(idx, (uint64_t)(p.b[c] - idx->buckets),
                                  slot_tag(p.b[c], p.meta[c], slot),
                                  slot_choice(p.meta[c], slot));
        slot_clear(p.b[c], &p.meta[c], slot);
    }
    slot_set(p.b[c], &p.meta[c], slot, k.tag, (unsigned)c, 0, locw_make(loc));
    pair_unlock(&p);

    /* items += 1 - removed - evicted */
    int64_t delta = 1 - (int64_t)r.removed - (r.evicted ? 1 : 0);
    if (delta)
        atomic_fetch_add_explicit(&idx->items, delta, RELAXED);
    atomic_fetch_add_explicit(&idx->inserts, 1, RELAXED);
    if (r.removed)
        atomic_fetch_add_explicit(&idx->insert_removed, r.removed, RELAXED);
    if (r.evicted) {
        atomic_fetch_add_explicit(&idx->evictions, 1, RELAXED);
        if (atomic_load_explicit(&idx->nbuckets, RELAXED) < idx->buckets_max)
            atomic_fetch_add_explicit(&idx->evictions_growing, 1, RELAXED);
    }
    if (res)
        *res = r;
    index_maybe_grow(idx);
    return INDEX_OK;
}

unsigned index_remove(index_t *idx, uint64_t hash)
{
    return index_remove_locs(idx, hash, NULL);
}

unsigned index_remove_locs(index_t *idx, uint64_t hash, index_loc_t *locs)
{
    hkey_t k;
    hkey_of(idx, hash, &k);
    pair_t p;
    pair_lock(idx, &k, &p);
    unsigned n = do_remove_tag(&p, k.tag, false, 0, locs);
    pair_unlock(&p);
    atomic_fetch_add_explicit(&idx->removes, 1, RELAXED);
    if (n) {
        atomic_fetch_sub_explicit(&idx->items, (int64_t)n, RELAXED);
        atomic_fetch_add_explicit(&idx->remove_removed, n, RELAXED);
    }
    return n;
}

unsigned index_remove_location(index_t *idx, uint64_t hash, uint32_t segment)
{
    hkey_t k;
    hkey_of(idx, hash, &k);
    pair_t p;
    pair_lock(idx, &k, &p);
    unsigned n = do_remove_tag(&p, k.tag, true, segment, NULL);
    pair_unlock(&p);
    if (n) {
        atomic_fetch_sub_explicit(&idx->items, (int64_t)n, RELAXED);
        atomic_fetch_add_explicit(&idx->loc_removed, n, RELAXED);
    }
    return n;
}

/* Caller holds the pair: the slot matching the hash's tag at exactly
 * location word lw, in *cp / *ip. False if there is none. */
static bool do_find_at(const pair_t *p, unsigned tag, uint32_t lw, int *cp, unsigned *ip)
{
    for (int c = 0; c < 2; c++) {
        for (unsigned i = 0; i < INDEX_SLOTS_PER_BUCKET; i++) {
            if (do_match(p, c, i, tag) && p->b[c]->locw[i] == lw) {
                *cp = c;
                *ip = i;
                return true;
            }
        }
    }
    return false;
}

/* Locks the hash's pair (*k, *p: the caller unlocks it) and finds its slot
 * at exactly location word lw (do_find_at). */
static bool lock_find_at(index_t *idx, uint64_t hash, uint32_t lw, hkey_t *k, pair_t *p,
                         int *cp, unsigned *ip)
{
    hkey_of(idx, hash, k);
    pair_lock(idx, k, p);
    return do_find_at(p, k->tag, lw, cp, ip);
}

index_status_e index_hit(index_t *idx, uint64_t hash, index_loc_t loc, unsigned *hits)
{
    if (loc.segment > INDEX_SEG_MAX || loc.offset > INDEX_OFF_MAX)
        return INDEX_NOT_FOUND;
    hkey_t k;
    pair_t p;
    int c;
    unsigned i;
    index_status_e st = INDEX_NOT_FOUND;
    if (lock_find_at(idx, hash, locw_make(loc), &k, &p, &c, &i)) {
        bucket_t *b = p.b[c];
        unsigned h = tagw_hits(b->tagw[i]);
        if (h < INDEX_HITS_MAX)
            h++;
        b->tagw[i] = (uint16_t)((b->tagw[i] & ~INDEX_HITS_MAX) | h);
        if (hits)
            *hits = h;
        st = INDEX_OK;
    }
    pair_unlock(&p);
    return st;
}

index_status_e index_relocate(index_t *idx, uint64_t hash, index_loc_t from,
                              index_loc_t to)
{
    if (from.segment > INDEX_SEG_MAX || from.offset > INDEX_OFF_MAX ||
        to.segment > INDEX_SEG_MAX || to.offset > INDEX_OFF_MAX)
        return INDEX_EINVAL;
    hkey_t k;
    pair_t p;
    int c;
    unsigned i;
    index_status_e st = INDEX_NOT_FOUND;
    if (lock_find_at(idx, hash, locw_make(from), &k, &p, &c, &i)) {
        bucket_t *b = p.b[c];
        /* as insert does: no other matching slot of the pair may stay
         * (the reader's owner rule relies on it) */
        slot_clear(b, &p.meta[c], i);
        unsigned removed = do_remove_tag(&p, k.tag, false, 0, NULL);
        slot_set(b, &p.meta[c], i, k.tag, (unsigned)c, 0, locw_make(to));
        if (removed) {
            atomic_fetch_sub_explicit(&idx->items, (int64_t)removed, RELAXED);
            atomic_fetch_add_explicit(&idx->insert_removed, removed, RELAXED);
        }
        st = INDEX_OK;
    }
    pair_unlock(&p);
    return st;
}

void index_stats(index_t *idx, index_stats_t *st)
{
    memset(st, 0, sizeof *st);
    uint64_t nb = atomic_load_explicit(&idx->nbuckets, RELAXED);
    st->bytes = nb * sizeof(bucket_t) + sizeof *idx;
    st->capacity = nb >= idx->buckets_max ? idx->capacity_max : nb * 9;
    st->buckets = nb;
    st->slots = nb * INDEX_SLOTS_PER_BUCKET;
    st->tag_bits = idx->tag_bits;
    st->capacity_max = idx->capacity_max;
    st->buckets_max = idx->buckets_max;
    st->bytes_max = idx->buckets_max * sizeof(bucket_t) + sizeof *idx;
    st->splits = atomic_load_explicit(&idx->splits, RELAXED);
    st->kicks = atomic_load_explicit(&idx->kicks, RELAXED);
    st->growth_bits = idx->gbits;
    int64_t items = atomic_load_explicit(&idx->items, RELAXED);
    st->items = items > 0 ? (uint64_t)items : 0;
    st->inserts = atomic_load_explicit(&idx->inserts, RELAXED);
    st->insert_removed = atomic_load_explicit(&idx->insert_removed, RELAXED);
    st->evictions = atomic_load_explicit(&idx->evictions, RELAXED);
    st->evictions_growing = atomic_load_explicit(&idx->evictions_growing, RELAXED);
    st->removes = atomic_load_explicit(&idx->removes, RELAXED);
    st->remove_removed = atomic_load_explicit(&idx->remove_removed, RELAXED);
    st->loc_removed = atomic_load_explicit(&idx->loc_removed, RELAXED);
}


const char *index_strerror(index_status_e st)
{
    switch (st) {
    case INDEX_OK: return "ok";
    case INDEX_EINVAL: return "invalid argument";
    case INDEX_ENOMEM: return "out of memory";
    case INDEX_NOT_FOUND: return "not found";
    }
    return "unknown index status";
}
