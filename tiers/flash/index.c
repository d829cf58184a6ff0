/*
 * tiers/flash/index.c - the compact in-RAM index (layout: index.h).
 *
 * Lock order: bucket spin locks only (bit 31 of bucket.meta). With two
 * buckets, the lower bucket number is locked first; b1 != b2 always. The
 * caller's age function runs under both locks and must not call back into
 * the index. No other lock is taken while a bucket lock is held.
 */
#include "flash/index.h"

#include <assert.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static_assert(INDEX_TAG_FIELD_BITS + INDEX_HIT_BITS == 16, "tagw is 16 bits");
static_assert(INDEX_SEG_BITS + INDEX_OFF_BITS == 32, "locw is 32 bits");
static_assert(TC_FLASH_TAG_BITS >= 1 && TC_FLASH_TAG_BITS <= INDEX_TAG_FIELD_BITS,
              "TC_FLASH_TAG_BITS out of range");

#define META_LOCK (UINT32_C(1) << 31)
#define META_COUNT_MASK UINT32_C(0xf)

typedef struct bucket {
    _Atomic uint32_t meta;
    uint16_t tagw[INDEX_SLOTS_PER_BUCKET];
    uint32_t locw[INDEX_SLOTS_PER_BUCKET];
} bucket_t;

static_assert(sizeof(bucket_t) == INDEX_BUCKET_BYTES, "bucket is one cache line");

struct index {
    bucket_t *buckets;
    uint64_t nbuckets;
    uint64_t capacity;
    unsigned tag_bits;
    _Atomic int64_t items; /* may dip below 0 transiently across threads */
    _Atomic uint64_t inserts;
    _Atomic uint64_t insert_removed;
    _Atomic uint64_t evictions;
    _Atomic uint64_t removes;
    _Atomic uint64_t remove_removed;
    _Atomic uint64_t loc_removed;
};

#define RELAXED memory_order_relaxed

/* ---- slot encoding ---- */

static inline unsigned tagw_tag(uint16_t w) { return w >> INDEX_HIT_BITS; }
static inline unsigned tagw_hits(uint16_t w) { return w & INDEX_HITS_MAX; }
static inline uint16_t tagw_make(unsigned tag, unsigned hits)
{
    return (uint16_t)((tag << INDEX_HIT_BITS) | (hits & INDEX_HITS_MAX));
}
static inline uint32_t locw_make(index_loc_t loc)
{
    return (loc.segment << INDEX_OFF_BITS) | loc.offset;
}
static inline index_loc_t locw_loc(uint32_t w)
{
    index_loc_t l = { .segment = w >> INDEX_OFF_BITS, .offset = w & INDEX_OFF_MAX };
    return l;
}
static inline index_entry_t slot_entry(const bucket_t *b, unsigned i)
{
    index_entry_t e = { .loc = locw_loc(b->locw[i]), .hits = tagw_hits(b->tagw[i]) };
    return e;
}

/* ---- hashing ---- */

unsigned index_tag(const index_t *idx, uint64_t hash)
{
    unsigned tag = (unsigned)(hash >> (64 - idx->tag_bits));
    return tag ? tag : 1;
}

static inline uint64_t mix64(uint64_t x)
{
    /* splitmix64 finalizer */
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

/* Two distinct buckets (nbuckets >= 2). */
static inline void buckets_of(const index_t *idx, uint64_t hash, uint64_t *b1, uint64_t *b2)
{
    uint64_t n = idx->nbuckets;
    *b1 = ((hash & UINT32_MAX) * n) >> 32;
    uint64_t r = ((mix64(hash) >> 32) * (n - 1)) >> 32;
    *b2 = (*b1 + 1 + r) % n;
}

void index_buckets(const index_t *idx, uint64_t hash, uint64_t *b1, uint64_t *b2)
{
    buckets_of(idx, hash, b1, b2);
}

/* ---- bucket locks ---- */

/* Returns meta without the lock bit. */
static uint32_t bucket_lock(bucket_t *b)
{
    unsigned spins = 0;
    for (;;) {
        uint32_t m = atomic_load_explicit(&b->meta, RELAXED);
        if (!(m & META_LOCK) &&
            atomic_compare_exchange_weak_explicit(&b->meta, &m, m | META_LOCK,
                                                  memory_order_acquire, RELAXED))
            return m;
        if (++spins >= 64) {
            spins = 0;
            sched_yield(); /* the holder may be descheduled */
        }
    }
}

static void bucket_unlock(bucket_t *b, uint32_t meta)
{
    atomic_store_explicit(&b->meta, meta & ~META_LOCK, memory_order_release);
}

typedef struct pair {
    bucket_t *b[2];
    uint32_t meta[2];
} pair_t;

static void pair_lock(index_t *idx, uint64_t hash, pair_t *p)
{
    uint64_t b1, b2;
    buckets_of(idx, hash, &b1, &b2);
    p->b[0] = &idx->buckets[b1];
    p->b[1] = &idx->buckets[b2];
    if (b1 < b2) {
        p->meta[0] = bucket_lock(p->b[0]);
        p->meta[1] = bucket_lock(p->b[1]);
    } else {
        p->meta[1] = bucket_lock(p->b[1]);
        p->meta[0] = bucket_lock(p->b[0]);
    }
}

static void pair_unlock(pair_t *p)
{
    bucket_unlock(p->b[0], p->meta[0]);
    bucket_unlock(p->b[1], p->meta[1]);
}

static inline unsigned meta_count(uint32_t m) { return m & META_COUNT_MASK; }

/* Caller holds the pair. Clears slot i of bucket k. */
static void do_clear_slot(pair_t *p, int k, unsigned i)
{
    p->b[k]->tagw[i] = 0;
    p->b[k]->locw[i] = 0;
    p->meta[k]--; /* count is the low bits and > 0 here */
}

/* Caller holds the pair. Removes same-tag slots, optionally only those of
 * one segment. Returns how many. */
static unsigned do_remove_tag(pair_t *p, unsigned tag, bool by_seg, uint32_t seg)
{
    unsigned n = 0;
    for (int k = 0; k < 2; k++) {
        bucket_t *b = p->b[k];
        for (unsigned i = 0; i < INDEX_SLOTS_PER_BUCKET; i++) {
            if (tagw_tag(b->tagw[i]) != tag)
                continue;
            if (by_seg && (b->locw[i] >> INDEX_OFF_BITS) != seg)
                continue;
            do_clear_slot(p, k, i);
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
    /* ~90% load at capacity: 9 items per 10-slot bucket */
    uint64_t nb = capacity_items / 9 + (capacity_items % 9 != 0);
    if (nb < 2)
        nb = 2;
    if (nb > UINT32_MAX)
        return INDEX_EINVAL;
    index_t *idx = calloc(1, sizeof *idx);
    if (!idx)
        return INDEX_ENOMEM;
    void *mem = NULL;
    if (posix_memalign(&mem, INDEX_BUCKET_BYTES, nb * sizeof(bucket_t)) != 0) {
        free(idx);
        return INDEX_ENOMEM;
    }
    memset(mem, 0, nb * sizeof(bucket_t));
    idx->buckets = mem;
    idx->nbuckets = nb;
    idx->capacity = capacity_items;
    idx->tag_bits = tag_bits;
    *out = idx;
    if (bytes_out)
        *bytes_out = nb * sizeof(bucket_t) + sizeof *idx;
    return INDEX_OK;
}

void index_destroy(index_t **pidx)
{
    if (!pidx || !*pidx)
        return;
    free((*pidx)->buckets);
    free(*pidx);
    *pidx = NULL;
}

unsigned index_lookup(index_t *idx, uint64_t hash, index_entry_t out[INDEX_MAX_MATCHES])
{
    unsigned tag = index_tag(idx, hash);
    unsigned n = 0;
    pair_t p;
    pair_lock(idx, hash, &p);
    for (int k = 0; k < 2; k++) {
        const bucket_t *b = p.b[k];
        if (meta_count(p.meta[k]) == 0)
            continue;
        for (unsigned i = 0; i < INDEX_SLOTS_PER_BUCKET; i++) {
            if (tagw_tag(b->tagw[i]) == tag) {
                out[n] = slot_entry(b, i);
                out[n++].bucket = (uint64_t)(b - idx->buckets);
            }
        }
    }
    pair_unlock(&p);
    return n;
}

index_status_e index_insert(index_t *idx, uint64_t hash, index_loc_t loc,
                            index_age_fn age_fn, void *age_ctx,
                            index_insert_result_t *res)
{
    if (loc.segment > INDEX_SEG_MAX || loc.offset > INDEX_OFF_MAX)
        return INDEX_EINVAL;
    unsigned tag = index_tag(idx, hash);
    index_insert_result_t r = { 0 };
    pair_t p;
    pair_lock(idx, hash, &p);
    r.removed = do_remove_tag(&p, tag, false, 0);

    unsigned c0 = meta_count(p.meta[0]), c1 = meta_count(p.meta[1]);
    int k;
    unsigned slot = 0;
    if (c0 < INDEX_SLOTS_PER_BUCKET || c1 < INDEX_SLOTS_PER_BUCKET) {
        k = c1 < c0 ? 1 : 0;
        while (p.b[k]->tagw[slot] != 0)
            slot++;
    } else {
        /* both full: evict the oldest segment's slot, then fewest hits */
        uint64_t best_age = 0;
        unsigned best_hits = 0;
        bool have = false;
        k = 0;
        for (int kk = 0; kk < 2; kk++) {
            for (unsigned i = 0; i < INDEX_SLOTS_PER_BUCKET; i++) {
                const bucket_t *b = p.b[kk];
                uint64_t age = age_fn ? age_fn(age_ctx, b->locw[i] >> INDEX_OFF_BITS) : 0;
                unsigned hits = tagw_hits(b->tagw[i]);
                if (!have || age > best_age || (age == best_age && hits < best_hits)) {
                    have = true;
                    best_age = age;
                    best_hits = hits;
                    k = kk;
                    slot = i;
                }
            }
        }
        r.evicted = true;
        r.victim = slot_entry(p.b[k], slot);
        do_clear_slot(&p, k, slot);
    }
    p.b[k]->tagw[slot] = tagw_make(tag, 0);
    p.b[k]->locw[slot] = locw_make(loc);
    p.meta[k]++;
    pair_unlock(&p);

    /* items += 1 - removed - evicted */
    int64_t delta = 1 - (int64_t)r.removed - (r.evicted ? 1 : 0);
    if (delta)
        atomic_fetch_add_explicit(&idx->items, delta, RELAXED);
    atomic_fetch_add_explicit(&idx->inserts, 1, RELAXED);
    if (r.removed)
        atomic_fetch_add_explicit(&idx->insert_removed, r.removed, RELAXED);
    if (r.evicted)
        atomic_fetch_add_explicit(&idx->evictions, 1, RELAXED);
    if (res)
        *res = r;
    return INDEX_OK;
}

unsigned index_remove(index_t *idx, uint64_t hash)
{
    pair_t p;
    pair_lock(idx, hash, &p);
    unsigned n = do_remove_tag(&p, index_tag(idx, hash), false, 0);
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
    pair_t p;
    pair_lock(idx, hash, &p);
    unsigned n = do_remove_tag(&p, index_tag(idx, hash), true, segment);
    pair_unlock(&p);
    if (n) {
        atomic_fetch_sub_explicit(&idx->items, (int64_t)n, RELAXED);
        atomic_fetch_add_explicit(&idx->loc_removed, n, RELAXED);
    }
    return n;
}

index_status_e index_hit(index_t *idx, uint64_t hash, index_loc_t loc, unsigned *hits)
{
    if (loc.segment > INDEX_SEG_MAX || loc.offset > INDEX_OFF_MAX)
        return INDEX_NOT_FOUND;
    unsigned tag = index_tag(idx, hash);
    uint32_t lw = locw_make(loc);
    index_status_e st = INDEX_NOT_FOUND;
    pair_t p;
    pair_lock(idx, hash, &p);
    for (int k = 0; k < 2 && st != INDEX_OK; k++) {
        bucket_t *b = p.b[k];
        for (unsigned i = 0; i < INDEX_SLOTS_PER_BUCKET; i++) {
            if (tagw_tag(b->tagw[i]) != tag || b->locw[i] != lw)
                continue;
            unsigned h = tagw_hits(b->tagw[i]);
            if (h < INDEX_HITS_MAX)
                h++;
            b->tagw[i] = tagw_make(tag, h);
            if (hits)
                *hits = h;
            st = INDEX_OK;
            break;
        }
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
    unsigned tag = index_tag(idx, hash);
    uint32_t fw = locw_make(from);
    index_status_e st = INDEX_NOT_FOUND;
    pair_t p;
    pair_lock(idx, hash, &p);
    for (int k = 0; k < 2 && st != INDEX_OK; k++) {
        bucket_t *b = p.b[k];
        for (unsigned i = 0; i < INDEX_SLOTS_PER_BUCKET; i++) {
            if (tagw_tag(b->tagw[i]) != tag || b->locw[i] != fw)
                continue;
            /* as insert does: no other same-tag slot of the pair may stay
             * (the reader's owner rule relies on it) */
            b->tagw[i] = 0;
            unsigned removed = do_remove_tag(&p, tag, false, 0);
            b->tagw[i] = tagw_make(tag, 0);
            b->locw[i] = locw_make(to);
            if (removed) {
                atomic_fetch_sub_explicit(&idx->items, (int64_t)removed, RELAXED);
                atomic_fetch_add_explicit(&idx->insert_removed, removed, RELAXED);
            }
            st = INDEX_OK;
            break;
        }
    }
    pair_unlock(&p);
    return st;
}

uint64_t index_remove_segment(index_t *idx, uint32_t segment)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < idx->nbuckets; i++) {
        bucket_t *b = &idx->buckets[i];
        uint32_t m = bucket_lock(b);
        for (unsigned s = 0; s < INDEX_SLOTS_PER_BUCKET; s++) {
            if (b->tagw[s] != 0 && (b->locw[s] >> INDEX_OFF_BITS) == segment) {
                b->tagw[s] = 0;
                b->locw[s] = 0;
                m--;
                n++;
            }
        }
        bucket_unlock(b, m);
    }
    if (n) {
        atomic_fetch_sub_explicit(&idx->items, (int64_t)n, RELAXED);
        atomic_fetch_add_explicit(&idx->loc_removed, n, RELAXED);
    }
    return n;
}

void index_stats(index_t *idx, index_stats_t *st)
{
    memset(st, 0, sizeof *st);
    st->bytes = idx->nbuckets * sizeof(bucket_t) + sizeof *idx;
    st->capacity = idx->capacity;
    st->buckets = idx->nbuckets;
    st->slots = idx->nbuckets * INDEX_SLOTS_PER_BUCKET;
    st->tag_bits = idx->tag_bits;
    int64_t items = atomic_load_explicit(&idx->items, RELAXED);
    st->items = items > 0 ? (uint64_t)items : 0;
    st->inserts = atomic_load_explicit(&idx->inserts, RELAXED);
    st->insert_removed = atomic_load_explicit(&idx->insert_removed, RELAXED);
    st->evictions = atomic_load_explicit(&idx->evictions, RELAXED);
    st->removes = atomic_load_explicit(&idx->removes, RELAXED);
    st->remove_removed = atomic_load_explicit(&idx->remove_removed, RELAXED);
    st->loc_removed = atomic_load_explicit(&idx->loc_removed, RELAXED);
}

uint64_t index_count_slow(index_t *idx)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < idx->nbuckets; i++) {
        bucket_t *b = &idx->buckets[i];
        uint32_t m = bucket_lock(b);
        unsigned c = 0;
        for (unsigned s = 0; s < INDEX_SLOTS_PER_BUCKET; s++)
            c += b->tagw[s] != 0;
        assert(c == meta_count(m));
        n += c;
        bucket_unlock(b, m);
    }
    return n;
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
