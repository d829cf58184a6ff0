/*
 * tiers/flash/index.c - the compact in-RAM index (layout and growth:
 * index.h).
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
#include "flash/index.h"

#include <assert.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static_assert(INDEX_TAGW_TAG_BITS + INDEX_HIT_BITS == 16, "tagw is 16 bits");
static_assert(INDEX_SEG_BITS + INDEX_OFF_BITS == 32, "locw is 32 bits");
static_assert(INDEX_TAG_HI_BITS + 1 == 3, "3 meta bits per slot");
static_assert(3 * INDEX_SLOTS_PER_BUCKET <= 30, "slot bits fit below the lock bit");
static_assert(TC_FLASH_TAG_BITS >= 1 && TC_FLASH_TAG_BITS <= INDEX_TAG_FIELD_BITS,
              "TC_FLASH_TAG_BITS out of range");

#define META_LOCK (UINT32_C(1) << 31)
#define SX_BITS 3
#define SX_MASK UINT32_C(7)
#define TAGW_TAG_MASK ((1u << INDEX_TAGW_TAG_BITS) - 1)

typedef struct bucket {
    _Atomic uint32_t meta;
    uint16_t tagw[INDEX_SLOTS_PER_BUCKET];
    uint32_t locw[INDEX_SLOTS_PER_BUCKET];
} bucket_t;

static_assert(sizeof(bucket_t) == INDEX_BUCKET_BYTES, "bucket is one cache line");

struct index {
    bucket_t *buckets;        /* mmap'd reservation for buckets_max */
    size_t map_bytes;
    uint64_t buckets_max;
    uint64_t capacity_max;
    uint64_t buckets_initial;
    unsigned tag_bits;
    unsigned l0;              /* initial table: 2^l0 buckets */
    unsigned gbits;           /* G: address bits taken from the tag */
    uint64_t mask0;           /* 2^l0 - 1 */
    uint64_t gmask;           /* 2^G - 1 */
    _Atomic uint64_t nbuckets;/* buckets in use; grows only (read by every
                               * operation, written once per split) */
    _Atomic unsigned walkers; /* whole-table walks running: no kicks */
    pthread_mutex_t split_lock;
    /* written by every insert / remove: kept off the line above */
    _Alignas(64) _Atomic int64_t items; /* may dip below 0 transiently */
    _Atomic uint64_t splits;
    _Atomic uint64_t kicks;
    _Atomic uint64_t inserts;
    _Atomic uint64_t insert_removed;
    _Atomic uint64_t evictions;
    _Atomic uint64_t evictions_growing;
    _Atomic uint64_t removes;
    _Atomic uint64_t remove_removed;
    _Atomic uint64_t loc_removed;
};

#define RELAXED memory_order_relaxed

/* ---- slot encoding ---- */

static inline unsigned tagw_hits(uint16_t w) { return w & INDEX_HITS_MAX; }
static inline bool slot_used(const bucket_t *b, unsigned i) { return b->tagw[i] != 0; }
static inline uint32_t sx_of(uint32_t meta, unsigned i) { return (meta >> (SX_BITS * i)) & SX_MASK; }
static inline unsigned slot_choice(uint32_t meta, unsigned i) { return sx_of(meta, i) & 1; }
static inline unsigned slot_tag(const bucket_t *b, uint32_t meta, unsigned i)
{
    return (unsigned)(b->tagw[i] >> INDEX_HIT_BITS) |
           ((sx_of(meta, i) >> 1) << INDEX_TAGW_TAG_BITS);
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

/* Writes slot i (tag, choice, hits, loc) into b; meta is the caller's copy. */
static inline void slot_set(bucket_t *b, uint32_t *meta, unsigned i, unsigned tag,
                            unsigned choice, unsigned hits, uint32_t locw)
{
    b->tagw[i] = (uint16_t)(((tag & TAGW_TAG_MASK) << INDEX_HIT_BITS) | (hits & INDEX_HITS_MAX));
    b->locw[i] = locw;
    uint32_t sx = ((uint32_t)(tag >> INDEX_TAGW_TAG_BITS) << 1) | choice;
    *meta = (*meta & ~(SX_MASK << (SX_BITS * i))) | (sx << (SX_BITS * i));
}

static inline void slot_clear(bucket_t *b, uint32_t *meta, unsigned i)
{
    b->tagw[i] = 0;
    b->locw[i] = 0;
    *meta &= ~(SX_MASK << (SX_BITS * i));
}

static inline unsigned bucket_count(const bucket_t *b)
{
    unsigned c = 0;
    for (unsigned i = 0; i < INDEX_SLOTS_PER_BUCKET; i++)
        c += slot_used(b, i);
    return c;
}

/* ---- hashing and addressing ---- */

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

unsigned index_tag(const index_t *idx, uint64_t hash)
{
    unsigned tag = (unsigned)(hash >> (64 - idx->tag_bits));
    if ((tag & TAGW_TAG_MASK) == 0)
        tag |= 1; /* 0 in tagw marks an empty slot */
    return tag;
}

/* The high address part of a tag for choice c (G bits). */
static inline uint64_t tag_high(const index_t *idx, unsigned tag, unsigned c)
{
    uint64_t t = c ? mix64((uint64_t)tag ^ UINT64_C(0x9e3779b97f4a7c15)) : (uint64_t)tag;
    return t & idx->gmask;
}

/* What a hash needs for addressing: its tag and two address keys. */
typedef struct hkey {
    unsigned tag;
    uint64_t p[2];
} hkey_t;

/* The XOR between the low l0 bits of a tag's two address keys: a
 * function of the tag alone, so a slot's other bucket is known from the
 * slot (kicks). Never 0, so the two buckets differ. */
static inline uint64_t tag_xor(const index_t *idx, unsigned tag)
{
    uint64_t m = mix64((uint64_t)tag ^ UINT64_C(0x6a09e667f3bcc909)) & idx->mask0;
    return m ? m : 1;
}

static inline void hkey_of(const index_t *idx, uint64_t hash, hkey_t *k)
{
    k->tag = index_tag(idx, hash);
    uint64_t lo = hash & idx->mask0;
    k->p[0] = lo | (tag_high(idx, k->tag, 0) << idx->l0);
    k->p[1] = (lo ^ tag_xor(idx, k->tag)) | (tag_high(idx, k->tag, 1) << idx->l0);
}

static inline unsigned log2_floor(uint64_t n)
{
    return 63u - (unsigned)__builtin_clzll(n);
}

/* Linear hashing: the bucket of address key p with n buckets in use. */
static inline uint64_t addr_of(uint64_t p, uint64_t n)
{
    unsigned l = log2_floor(n);
    uint64_t half = UINT64_C(1) << l;
    uint64_t a = p & (half - 1);
    if (a < n - half)
        a = p & ((half << 1) - 1);
    return a;
}

/* Identity of a slot in bucket a (see index_entry_t.bucket): its address
 * key is a's low l0 bits plus its tag's high part for its choice. */
static inline uint64_t slot_id(const index_t *idx, uint64_t a, unsigned tag, unsigned c)
{
    uint64_t p = (a & idx->mask0) | (tag_high(idx, tag, c) << idx->l0);
    return (p << 1) | c;
}

void index_buckets(const index_t *idx, uint64_t hash, uint64_t *b1, uint64_t *b2)
{
    hkey_t k;
    hkey_of(idx, hash, &k);
    *b1 = k.p[0] << 1;
    *b2 = (k.p[1] << 1) | 1;
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

/* One attempt: true (and *meta without the lock bit) if locked. */
static bool bucket_trylock(bucket_t *b, uint32_t *meta)
{
    uint32_t m = atomic_load_explicit(&b->meta, RELAXED);
    if (m & META_LOCK)
        return false;
    if (!atomic_compare_exchange_strong_explicit(&b->meta, &m, m | META_LOCK,
                                                 memory_order_acquire, RELAXED))
        return false;
    *meta = m;
    return true;
}

/* The two buckets of a hash, locked; b[c] / meta[c] / id[c] for choice c. */
typedef struct pair {
    bucket_t *b[2];
    uint32_t meta[2];
    uint64_t id[2];
} pair_t;

static void pair_lock(index_t *idx, const hkey_t *k, pair_t *p)
{
    uint64_t n = atomic_load_explicit(&idx->nbuckets, memory_order_acquire);
    for (;;) {
        uint64_t a0 = addr_of(k->p[0], n), a1 = addr_of(k->p[1], n);
        p->b[0] = &idx->buckets[a0];
        p->b[1] = &idx->buckets[a1];
        int lo = a0 < a1 ? 0 : 1;
        p->meta[lo] = bucket_lock(p->b[lo]);
        p->meta[!lo] = bucket_lock(p->b[!lo]);
        uint64_t n2 = atomic_load_explicit(&idx->nbuckets, memory_order_acquire);
        if (n2 == n || (addr_of(k->p[0], n2) == a0 && addr_of(k->p[1], n2) == a1))
            break;
        /* a split moved this hash's entries: lock the new buckets */
        bucket_unlock(p->b[!lo], p->meta[!lo]);
        bucket_unlock(p->b[lo], p->meta[lo]);
        n = n2;
    }
    p->id[0] = k->p[0] << 1;
    p->id[1] = (k->p[1] << 1) | 1;
}

static void pair_unlock(pair_t *p)
{
    bucket_unlock(p->b[0], p->meta[0]);
    bucket_unlock(p->b[1], p->meta[1]);
}

/* Caller holds the pair: does slot i of bucket c match the hash? */
static inline bool do_match(const pair_t *p, int c, unsigned i, unsigned tag)
{
    /* low tag bits first: they are never 0, so empty slots fail here */
    if ((unsigned)(p->b[c]->tagw[i] >> INDEX_HIT_BITS) != (tag & TAGW_TAG_MASK))
        return false;
    uint32_t want = ((uint32_t)(tag >> INDEX_TAGW_TAG_BITS) << 1) | (uint32_t)c;
    return sx_of(p->meta[c], i) == want;
}

static inline index_entry_t do_entry(const pair_t *p, int c, unsigned i)
{
    index_entry_t e = {
        .loc = locw_loc(p->b[c]->locw[i]),
        .hits = tagw_hits(p->b[c]->tagw[i]),
        .bucket = p->id[c],
    };
    return e;
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
static bool do_kick(index_t *idx, pair_t *p, int *cp, unsigned *slotp)
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
static bool kick_worth(const index_t *idx)
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
static void maybe_grow(index_t *idx)
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
    } else if (kick_worth(idx) && do_kick(idx, &p, &c, &slot)) {
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
    maybe_grow(idx);
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

index_status_e index_hit(index_t *idx, uint64_t hash, index_loc_t loc, unsigned *hits)
{
    if (loc.segment > INDEX_SEG_MAX || loc.offset > INDEX_OFF_MAX)
        return INDEX_NOT_FOUND;
    hkey_t k;
    hkey_of(idx, hash, &k);
    uint32_t lw = locw_make(loc);
    index_status_e st = INDEX_NOT_FOUND;
    pair_t p;
    pair_lock(idx, &k, &p);
    for (int c = 0; c < 2 && st != INDEX_OK; c++) {
        bucket_t *b = p.b[c];
        for (unsigned i = 0; i < INDEX_SLOTS_PER_BUCKET; i++) {
            if (!do_match(&p, c, i, k.tag) || b->locw[i] != lw)
                continue;
            unsigned h = tagw_hits(b->tagw[i]);
            if (h < INDEX_HITS_MAX)
                h++;
            b->tagw[i] = (uint16_t)((b->tagw[i] & ~INDEX_HITS_MAX) | h);
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
    hkey_t k;
    hkey_of(idx, hash, &k);
    uint32_t fw = locw_make(from);
    index_status_e st = INDEX_NOT_FOUND;
    pair_t p;
    pair_lock(idx, &k, &p);
    for (int c = 0; c < 2 && st != INDEX_OK; c++) {
        bucket_t *b = p.b[c];
        for (unsigned i = 0; i < INDEX_SLOTS_PER_BUCKET; i++) {
            if (!do_match(&p, c, i, k.tag) || b->locw[i] != fw)
                continue;
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
            break;
        }
    }
    pair_unlock(&p);
    return st;
}

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

uint64_t index_remove_segment(index_t *idx, uint32_t segment)
{
    uint64_t n = 0;
    uint64_t nb = walk_begin(idx);
    for (uint64_t i = 0; i < nb; i++) {
        bucket_t *b = &idx->buckets[i];
        uint32_t m = bucket_lock(b);
        for (unsigned s = 0; s < INDEX_SLOTS_PER_BUCKET; s++) {
            if (slot_used(b, s) && (b->locw[s] >> INDEX_OFF_BITS) == segment) {
                slot_clear(b, &m, s);
                n++;
            }
        }
        bucket_unlock(b, m);
    }
    walk_end(idx);
    if (n) {
        atomic_fetch_sub_explicit(&idx->items, (int64_t)n, RELAXED);
        atomic_fetch_add_explicit(&idx->loc_removed, n, RELAXED);
    }
    return n;
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

uint64_t index_count_slow(index_t *idx)
{
    uint64_t n = 0;
    uint64_t nb = walk_begin(idx);
    for (uint64_t i = 0; i < nb; i++) {
        bucket_t *b = &idx->buckets[i];
        uint32_t m = bucket_lock(b);
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
        bucket_unlock(b, m);
    }
    walk_end(idx);
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
