/*
 * tiers/flash/index_walk.c - whole-table walks of the index (remove a
 * segment whose summary cannot be read; count and check every slot), in
 * bucket order under the split lock. Lock order: index.c.
 */
#include "flash/index_int.h"

/*
 * A whole-table walk (in bucket order): no split (split_lock) and only
 * forward kicks (walkers) while it runs, so no slot moves from a bucket
 * not yet visited to one already visited. walkers is raised (seq_cst)
 * before any bucket is locked, and a kick reads it (seq_cst) after locking
 * its destination: if the kick saw 0, it locked that bucket before the walk
 * did, so the walk sees the move. (A forward move from a visited bucket to
 * one not yet visited may be counted twice by count_slow: it is exact only
 * with no concurrent inserts.)
 */
static uint64_t walk_begin(index_t *idx)
{
    pthread_mutex_lock(&idx->split_lock);
    atomic_fetch_add(&idx->walkers, 1);
    return atomic_load_explicit(&idx->nbuckets, RELAXED);
}

static void walk_end(index_t *idx)
{
    atomic_fetch_sub(&idx->walkers, 1);
    pthread_mutex_unlock(&idx->split_lock);
}

/* Calls fn(idx, nb, i, b, m, ctx) on every bucket i in use (nb of them),
 * in order, each under its lock (meta *m without the lock bit; fn may
 * change the slots and *m); sums what fn returns. */
static uint64_t walk_buckets(index_t *idx,
                             uint64_t (*fn)(index_t *, uint64_t, uint64_t, bucket_t *,
                                           uint32_t *, void *),
                             void *ctx)
{
    uint64_t n = 0;
    uint64_t nb = walk_begin(idx);
    for (uint64_t i = 0; i < nb; i++) {
        bucket_t *b = &idx->buckets[i];
        uint32_t m = bucket_lock(b);
        n += fn(idx, nb, i, b, &m, ctx);
        bucket_unlock(b, m);
    }
    walk_end(idx);
    return n;
}

static uint64_t clear_segment(index_t *idx, uint64_t nb, uint64_t i, bucket_t *b, uint32_t *m,
                              void *ctx)
{
    (void)idx;
    (void)nb;
    (void)i;
    uint32_t segment = *(const uint32_t *)ctx;
    uint64_t n = 0;
    for (unsigned s = 0; s < INDEX_SLOTS_PER_BUCKET; s++) {
        if (slot_used(b, s) && (b->locw[s] >> INDEX_OFF_BITS) == segment) {
            slot_clear(b, m, s);
            n++;
        }
    }
    return n;
}

uint64_t index_remove_segment(index_t *idx, uint32_t segment)
{
    uint64_t n = walk_buckets(idx, clear_segment, &segment);
    if (n) {
        atomic_fetch_sub_explicit(&idx->items, (int64_t)n, RELAXED);
        atomic_fetch_add_explicit(&idx->loc_removed, n, RELAXED);
    }
    return n;
}

/* Counts bucket i's used slots, asserting each sits where it belongs. */
static uint64_t check_bucket(index_t *idx, uint64_t nb, uint64_t i, bucket_t *b, uint32_t *mp,
                             void *ctx)
{
    (void)ctx;
    uint32_t m = *mp;
    uint64_t n = 0;
    for (unsigned s = 0; s < INDEX_SLOTS_PER_BUCKET; s++) {
        if (!slot_used(b, s)) {
            assert(sx_of(m, s) == 0);
            continue;
        }
        /* the slot's address key has bucket i's low l0 bits and its
         * tag's high part: it must address bucket i */
        uint64_t id = slot_id(idx, i, slot_tag(b, m, s), slot_choice(m, s));
        assert(addr_of(id >> 1, nb) == i);
        (void)id;
        n++;
    }
    assert((m & (UINT32_C(1) << 30)) == 0);
    return n;
}

uint64_t index_count_slow(index_t *idx)
{
    return walk_buckets(idx, check_bucket, NULL);
}
