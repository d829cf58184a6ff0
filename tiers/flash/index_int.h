/*
 * tiers/flash/index_int.h - the index's private parts, shared by index.c
 * (the API), index_grow.c (kicks and splits) and index_walk.c (whole-table
 * walks): the bucket and handle layouts (drawn in index.h), slot encoding,
 * hashing and addressing, bucket and pair locks. The lock order and the
 * growth protocol are described at the top of index.c. Only index*.c
 * include this header.
 */
#ifndef TIERCACHE_FLASH_INDEX_INT_H
#define TIERCACHE_FLASH_INDEX_INT_H

#include "flash/index.h"

#include <assert.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

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


/* index_tag's body, inlined on the hot paths. */
static inline unsigned tag_of(const index_t *idx, uint64_t hash)
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
    k->tag = tag_of(idx, hash);
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

/* ---- bucket locks ---- */

/* Returns meta without the lock bit. */
static inline uint32_t bucket_lock(bucket_t *b)
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

static inline void bucket_unlock(bucket_t *b, uint32_t meta)
{
    atomic_store_explicit(&b->meta, meta & ~META_LOCK, memory_order_release);
}

/* One attempt: true (and *meta without the lock bit) if locked. */
static inline bool bucket_trylock(bucket_t *b, uint32_t *meta)
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

static inline void pair_lock(index_t *idx, const hkey_t *k, pair_t *p)
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

static inline void pair_unlock(pair_t *p)
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
/* ---- index_grow.c ---- */

/* Kicks are worth trying (below the maximum, or at it until 97% of the
 * slots are used). Relaxed reads, no locks. */
bool index_kick_worth(const index_t *idx);

/* Caller holds the pair, both buckets full: frees a slot by cuckoo kicks
 * (see index_grow.c). True and *cp / *slotp = the freed slot, or false.
 * Work: <= ~220 trylocks, three attempts when some bucket was busy. */
bool index_kick(index_t *idx, pair_t *p, int *cp, unsigned *slotp);

/* Called with no bucket lock held: up to 4 splits while items exceed the
 * split load (skips when another thread is splitting, unless growth is 3%
 * behind). */
void index_maybe_grow(index_t *idx);

#endif /* TIERCACHE_FLASH_INDEX_INT_H */
