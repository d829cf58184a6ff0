/*
 * tiers/flash/index_grow.c - how the index makes room: cuckoo kicks (a
 * slot moves to its other bucket) and linear-hashing splits (one bucket at
 * a time). Layout and growth rules: index.h; lock order: index.c.
 */
#include "flash/index_int.h"


/*
 * Caller holds the pair p and bucket b (the pair's or, at depth 2, one
 * more; meta copy *meta), which is full. Moves one of b's slots to that
 * slot's other bucket if that has room, or (depth 2) first makes room
 * there the same way: cuckoo kicks. A slot's other bucket follows from its
 * bucket, tag and choice. Buckets this thread holds are skipped; others
 * are only try-locked (they may be lower-numbered: no waiting, so no lock
 * order issue; a failed trylock sets *busy) and re-checked against the
 * table size after locking, as pair_lock does. Returns the freed slot of
 * b, or -1. Without kicks, linear hashing overflows the not-yet-split
 * buckets (they carry twice the load of split ones).
 * Work: <= 10 trylocks per level (10 + 100 at depth 2).
 */
static int do_make_room(index_t *idx, const pair_t *p, bucket_t *b, uint32_t *meta,
                        int depth, bool *busy)
{
    uint64_t a = (uint64_t)(b - idx->buckets);
    uint64_t n = atomic_load_explicit(&idx->nbuckets, memory_order_acquire);
    uint64_t half = UINT64_C(1) << log2_floor(n);
    uint64_t pk[INDEX_SLOTS_PER_BUCKET], a3[INDEX_SLOTS_PER_BUCKET];
    for (unsigned i = 0; i < INDEX_SLOTS_PER_BUCKET; i++) {
        unsigned tag = slot_tag(b, *meta, i), ci = slot_choice(*meta, i);
        pk[i] = ((a & idx->mask0) ^ tag_xor(idx, tag)) | (tag_high(idx, tag, !ci) << idx->l0);
        a3[i] = addr_of(pk[i], n);
    }
    /* pass 0: other buckets already split this round (a3 < n - half or
     * >= half: they hold about half the load of the others); pass 1: rest */
    for (int pass = 0; pass < 2; pass++) {
        for (unsigned i = 0; i < INDEX_SLOTS_PER_BUCKET; i++) {
            bool split = a3[i] < n - half || a3[i] >= half;
            if (split != (pass == 0))
                continue;
            bucket_t *b3 = &idx->buckets[a3[i]];
            uint32_t m3;
            if (b3 == b || b3 == p->b[0] || b3 == p->b[1])
                continue; /* held by this thread (and full) */
            if (!bucket_trylock(b3, &m3)) {
                *busy = true;
                continue;
            }
            uint64_t n2 = atomic_load_explicit(&idx->nbuckets, memory_order_acquire);
            int j = -1;
            /* during a walk (remove_segment) a slot may only move forward,
             * never jump behind it: checked under b3's lock, see walk_begin */
            bool backward = a3[i] < a && atomic_load(&idx->walkers) != 0;
            if (!backward && (n2 == n || addr_of(pk[i], n2) == a3[i])) { /* else a split moved it */
                if (depth <= 1) {
                    for (unsigned k = 0; k < INDEX_SLOTS_PER_BUCKET && j < 0; k++)
                        if (!slot_used(b3, k))
                            j = (int)k;
                } else {
                    j = do_make_room(idx, p, b3, &m3, depth - 1, busy);
                }
            }
            if (j >= 0) {
                unsigned tag = slot_tag(b, *meta, i), ci = slot_choice(*meta, i);
                slot_set(b3, &m3, (unsigned)j, tag, !ci, tagw_hits(b->tagw[i]), b->locw[i]);
                slot_clear(b, meta, i);
            }
            bucket_unlock(b3, m3);
            if (j >= 0)
                return (int)i;
        }
    }
    return -1;
}

/* Caller holds the pair, both full: frees a slot by kicks, breadth first
 * (every slot's other bucket before any second level). If that fails only
 * because some bucket was busy (its holder may be mid-operation, or
 * waiting for this pair), tries twice more after a short spin. False if
 * no slot was freed. */
bool index_kick(index_t *idx, pair_t *p, int *cp, unsigned *slotp)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        bool busy = false;
        for (int depth = 1; depth <= INDEX_KICK_DEPTH; depth++) {
            for (int c = 0; c < 2; c++) {
                int i = do_make_room(idx, p, p->b[c], &p->meta[c], depth, &busy);
                if (i >= 0) {
                    *cp = c;
                    *slotp = (unsigned)i;
                    return true;
                }
            }
        }
        if (!busy)
            break;
        for (int spin = 0; spin < 200; spin++)
            (void)atomic_load_explicit(&idx->nbuckets, RELAXED);
    }
    return false;
}

/* Kicks are worth trying below the maximum (the table is ~90% full and the
 * unsplit buckets fuller), and at the maximum until 97% of the slots are
 * used: past that most attempts fail and would only cost ~100 trylocks. */
bool index_kick_worth(const index_t *idx)
{
    uint64_t n = atomic_load_explicit(&idx->nbuckets, RELAXED);
    if (n < idx->buckets_max)
        return true;
    int64_t items = atomic_load_explicit(&idx->items, RELAXED);
    return items < 0 || (uint64_t)items * 100 < n * INDEX_SLOTS_PER_BUCKET * 97;
}

/* ---- growth ---- */

/* Caller holds split_lock. Splits bucket n - 2^L into itself and bucket n,
 * then publishes n + 1. False at the maximum. */
static bool do_split(index_t *idx)
{
    uint64_t n = atomic_load_explicit(&idx->nbuckets, RELAXED);
    if (n >= idx->buckets_max)
        return false;
    unsigned l = log2_floor(n);
    uint64_t s = n - (UINT64_C(1) << l);
    unsigned bit = l - idx->l0; /* < gbits since n < buckets_max <= 2^(l0+G) */
    bucket_t *ob = &idx->buckets[s], *nb = &idx->buckets[n];
    /* fault the new bucket's page in (a write) before holding bucket s:
     * nobody else addresses bucket n before n + 1 is published */
    atomic_fetch_or_explicit(&nb->meta, 0, RELAXED);
    uint32_t om = bucket_lock(ob);
    uint32_t nm = bucket_lock(nb); /* never used before: empty */
    for (unsigned i = 0; i < INDEX_SLOTS_PER_BUCKET; i++) {
        if (!slot_used(ob, i))
            continue;
        unsigned tag = slot_tag(ob, om, i), c = slot_choice(om, i);
        if (!((tag_high(idx, tag, c) >> bit) & 1))
            continue;
        /* same slot position: the new bucket is empty */
        slot_set(nb, &nm, i, tag, c, tagw_hits(ob->tagw[i]), ob->locw[i]);
        slot_clear(ob, &om, i);
    }
    atomic_store_explicit(&idx->nbuckets, n + 1, memory_order_release);
    bucket_unlock(nb, nm);
    bucket_unlock(ob, om);
    atomic_fetch_add_explicit(&idx->splits, 1, RELAXED);
    return true;
}

static bool over_load(const index_t *idx, uint64_t n, unsigned permille)
{
    int64_t items = atomic_load_explicit(&idx->items, RELAXED);
    return items > 0 && (uint64_t)items * 1000 > n * INDEX_SLOTS_PER_BUCKET * permille;
}

/* Called with no bucket lock held: up to 4 splits while over the split
 * load. Skips if another thread holds split_lock, unless the table is
 * behind by 3% of its slots (the splitting thread may be descheduled):
 * then waits for the lock, so growth keeps up. */
void index_maybe_grow(index_t *idx)
{
    uint64_t n = atomic_load_explicit(&idx->nbuckets, RELAXED);
    if (n >= idx->buckets_max || !over_load(idx, n, INDEX_SPLIT_LOAD_PERMILLE))
        return;
    if (pthread_mutex_trylock(&idx->split_lock) != 0) {
        if (!over_load(idx, n, INDEX_SPLIT_LOAD_PERMILLE + 30))
            return;
        pthread_mutex_lock(&idx->split_lock);
    }
    for (int i = 0; i < 4; i++) {
        n = atomic_load_explicit(&idx->nbuckets, RELAXED);
        if (!over_load(idx, n, INDEX_SPLIT_LOAD_PERMILLE) || !do_split(idx))
            break;
    }
    pthread_mutex_unlock(&idx->split_lock);
}

