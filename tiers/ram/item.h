/*
 * tiers/ram/item.h - the in-memory item: one slab chunk.
 *
 * An item lives in one chunk of its slab class. The header is 48 bytes (so
 * memcached's smallest class, 96 bytes, holds 48 bytes of flags, key and
 * value, as memcached's does), followed by the data area:
 *
 *   offset size  field
 *   +-----+----+-----------------------------------------------------------+
 *   |   0 |  8 | next      LRU list (towards the tail)      [LRU lock]      |
 *   |   8 |  8 | prev      LRU list (towards the head)      [LRU lock]      |
 *   |  16 |  8 | h_next    hash chain                       [stripe lock]   |
 *   |  24 |  8 | cas       cas unique (0 with use_cas off)  [stripe lock]   |
 *   |  32 |  4 | time      last access, unix s (uint32)     [stripe lock]*  |
 *   |  36 |  4 | exptime   unix s, 0 = never, 1 = expired   [stripe lock]*  |
 *   |  40 |  4 | nbytes    value bytes                      (immutable)     |
 *   |  44 |  2 | refcount  atomic: 1 for the hash link + 1 per reference    |
 *   |  46 |  1 | iflags    atomic: LINKED|FETCHED|ACTIVE|SLABBED|LRU(2 bits)|
 *   |     |    |           |CFLAGS|CASSZ (all 8 bits used)                   |
 *   |  47 |  1 | clsid     slab class id (1..63)            (immutable)     |
 *   +-----+----+-----------------------------------------------------------+
 *   |  48 |  1 | nkey      key length (1..250)              (immutable)     |
 *   |  49 |  1 | marks     atomic: meta STALE|TOKEN|BINKEY (tier_types.h's |
 *   |     |    |           CACHE_MARK_*), 0 for a fresh item               |
 *   |  50 | 0/4| flags     client flags (native order), only if CFLAGS      |
 *   |  .. |  n | key                                                         |
 *   |  .. |  v | value     nbytes bytes, no "\r\n"                           |
 *   +-----+----+-----------------------------------------------------------+
 *   |  .. | 0/8| flash location of a promoted, unmodified copy (ram.h),   |
 *   |     |    | only with a flash tier and when the chunk has room        |
 *   +-----+----+-----------------------------------------------------------+
 *   Bytes used: 50 + (flags ? 4 : 0) + nkey + nbytes (+ 8).
 *
 * Meta marks (memcached's ITEM_STALE, ITEM_TOKEN_SENT, ITEM_KEY_BINARY)
 * need 3 bits. The fixed 48 bytes have none to spare: iflags uses all 8
 * bits; refcount's top bits would be reached by a burst of references (a
 * multi-get of one key takes one per key); clsid has 2 free bits but
 * slabs.c and the flash glue index arrays with it; nbytes' top bits are
 * free but nbytes is read without locks everywhere. So the marks take the
 * byte after nkey: memcached's ITEM_ntotal counts 2 bytes ("\r\n") we
 * never store, so the byte always fits the chunk and no item changes size
 * or slab class (ITEM_ntotal is unchanged; with cas on there are still 9
 * spare bytes for the 8-byte flash location).
 *
 * clsid 0: a temporary item malloc'ed outside the slabs (a flash hit that
 * is not promoted); never linked, free()d when its last reference goes.
 *
 * Size: every size the cache shows or decides by (slab class choice, the
 * too-large limit, `bytes`, mem_requested, metadump's size=) is memcached
 * 1.6.18's ITEM_ntotal for the same item:
 *   48 + nkey + 1 + (flags ? 4 : 0) + nbytes + 2 ("\r\n") + (cas ? 8 : 0)
 * (checked against memcached: key "a", value 1 byte -> 61, 53 with -C;
 * flags 5 add 4). It is always >= the bytes used, so the item fits its
 * chunk, and a value lands in the same class as in memcached. CFLAGS and
 * CASSZ (set at allocation, immutable) let item_ntotal() compute it from the
 * item alone.
 *
 * (*) time and exptime are also read without the stripe lock by the LRU
 * tail scans and stats (a racy read of an aligned 32-bit word: at worst a
 * stale age), as memcached does.
 *
 * Refcount rules (memcached's): a linked item holds one reference for the
 * hash table. Every lookup takes one more under the stripe lock. The item
 * goes back to its slab when the count reaches 0, which can only happen
 * once it is unlinked. Value bytes are therefore stable while referenced,
 * except for incr/decr in place, which is only done when the caller's
 * reference and the hash link are the only two.
 */
#ifndef TIERCACHE_RAM_ITEM_H
#define TIERCACHE_RAM_ITEM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Seconds of the cache clock: unix time as uint32 (good until 2106), so
 * items need no back pointer to convert their times. */
typedef uint32_t rel_time_t;

/* iflags bits */
#define ITEM_LINKED 0x01u  /* in the hash table and an LRU */
#define ITEM_FETCHED 0x02u /* read at least once */
#define ITEM_ACTIVE 0x04u  /* read twice (or more) since last LRU pass */
#define ITEM_SLABBED 0x08u /* on a slab free list */
#define ITEM_LRU_SHIFT 4   /* bits 4-5: lru_id_e */
#define ITEM_LRU_MASK 0x30u
#define ITEM_CFLAGS 0x40u  /* client flags are non-zero: stored (4 bytes) */
#define ITEM_CASSZ 0x80u   /* cas enabled: the size counts memcached's 8 */

/* LRU_PENDING (the free value of the 2 LRU bits): evicted to the flash tier
 * and waiting for its writer; still linked in the hash table, on no list
 * (ram.h, "flash spill"). */
typedef enum lru_id {
    LRU_HOT = 0,
    LRU_WARM = 1,
    LRU_COLD = 2,
    LRU_COUNT = 3,
    LRU_PENDING = 3,
} lru_id_e;

/* Seconds between two `time` bumps of one item (memcached's). */
#define ITEM_UPDATE_INTERVAL 60

struct cache_item {
    struct cache_item *next;
    struct cache_item *prev;
    struct cache_item *h_next;
    uint64_t cas;
    rel_time_t time;
    rel_time_t exptime;
    uint32_t nbytes;
    _Atomic uint16_t refcount;
    _Atomic uint8_t iflags;
    uint8_t clsid;
    unsigned char data[];
};
typedef struct cache_item item_t;

#define ITEM_HEADER_SIZE 48u
/* data[0] nkey, data[1] marks; then the flags (if any), key, value */
#define ITEM_PREFIX_MIN 2u

_Static_assert(sizeof(item_t) == ITEM_HEADER_SIZE, "item header is 48 bytes");

/* memcached's ITEM_ntotal for an item (see the size note above). */
static inline size_t item_ntotal_for(size_t nkey, size_t nbytes, uint32_t flags, bool use_cas)
{
    return ITEM_HEADER_SIZE + nkey + 1 + (flags ? 4u : 0u) + nbytes + 2 + (use_cas ? 8u : 0u);
}

/* Bytes of the chunk the item really uses (<= item_ntotal_for()). */
static inline size_t item_used_for(size_t nkey, size_t nbytes, uint32_t flags)
{
    return ITEM_HEADER_SIZE + ITEM_PREFIX_MIN + (flags ? 4u : 0u) + nkey + nbytes;
}

static inline size_t item_prefix(const item_t *it)
{
    return ITEM_PREFIX_MIN +
           ((atomic_load_explicit(&it->iflags, memory_order_relaxed) & ITEM_CFLAGS) ? 4u : 0u);
}

/* The meta marks byte (data[1]); relaxed atomics: marks are independent
 * bits, set by fetch_or (one winner per bit) and cleared by fetch_and. */
static inline _Atomic uint8_t *item_marks_p(const item_t *it)
{
    return (_Atomic uint8_t *)(void *)(uintptr_t)&it->data[1];
}

static inline unsigned item_marks(const item_t *it)
{
    return atomic_load_explicit(item_marks_p(it), memory_order_relaxed);
}

/* ORs `m` in; returns the marks before. */
static inline unsigned item_marks_or(item_t *it, unsigned m)
{
    return atomic_fetch_or_explicit(item_marks_p(it), (uint8_t)m, memory_order_relaxed);
}

/* Clears the marks `m`; returns the marks before. */
static inline unsigned item_marks_clear(item_t *it, unsigned m)
{
    return atomic_fetch_and_explicit(item_marks_p(it), (uint8_t)~m, memory_order_relaxed);
}

static inline size_t item_nkey(const item_t *it) { return it->data[0]; }

static inline size_t item_ntotal(const item_t *it)
{
    unsigned f = atomic_load_explicit(&it->iflags, memory_order_relaxed);
    return ITEM_HEADER_SIZE + item_nkey(it) + 1 + ((f & ITEM_CFLAGS) ? 4u : 0u) + it->nbytes +
           2 + ((f & ITEM_CASSZ) ? 8u : 0u);
}

/* Lays out nkey and flags of a fresh item (iflags 0, not yet shared) and
 * sets CFLAGS/CASSZ. The key is then written at item_key(). */
static inline void item_init_layout(item_t *it, size_t nkey, uint32_t flags, bool use_cas)
{
    unsigned f = (flags ? ITEM_CFLAGS : 0u) | (use_cas ? ITEM_CASSZ : 0u);
    atomic_fetch_or_explicit(&it->iflags, (uint8_t)f, memory_order_relaxed);
    it->data[0] = (unsigned char)nkey;
    atomic_init(item_marks_p(it), 0);
    if (flags)
        memcpy(it->data + ITEM_PREFIX_MIN, &flags, sizeof flags);
}

static inline uint32_t item_flags_get(const item_t *it)
{
    uint32_t f = 0;
    if (item_prefix(it) > ITEM_PREFIX_MIN)
        memcpy(&f, it->data + ITEM_PREFIX_MIN, sizeof f);
    return f;
}

static inline char *item_key(item_t *it) { return (char *)it->data + item_prefix(it); }

static inline const char *item_ckey(const item_t *it)
{
    return (const char *)it->data + item_prefix(it);
}

static inline char *item_value(item_t *it)
{
    return (char *)it->data + item_prefix(it) + it->data[0];
}

static inline const char *item_cvalue(const item_t *it)
{
    return (const char *)it->data + item_prefix(it) + it->data[0];
}

static inline unsigned item_iflags(const item_t *it)
{
    return atomic_load_explicit(&it->iflags, memory_order_relaxed);
}

static inline void item_set_iflag(item_t *it, unsigned f)
{
    atomic_fetch_or_explicit(&it->iflags, (uint8_t)f, memory_order_relaxed);
}

static inline void item_clear_iflag(item_t *it, unsigned f)
{
    atomic_fetch_and_explicit(&it->iflags, (uint8_t)~f, memory_order_relaxed);
}

static inline lru_id_e item_lru(const item_t *it)
{
    return (lru_id_e)((item_iflags(it) & ITEM_LRU_MASK) >> ITEM_LRU_SHIFT);
}

/* Caller holds the item's LRU lock. */
static inline void item_set_lru(item_t *it, lru_id_e lru)
{
    uint8_t old = atomic_load_explicit(&it->iflags, memory_order_relaxed);
    uint8_t nw;
    do {
        nw = (uint8_t)((old & ~ITEM_LRU_MASK) | ((unsigned)lru << ITEM_LRU_SHIFT));
    } while (!atomic_compare_exchange_weak_explicit(&it->iflags, &old, nw,
                                                    memory_order_relaxed,
                                                    memory_order_relaxed));
}

static inline unsigned item_refcount_incr(item_t *it)
{
    return (unsigned)atomic_fetch_add_explicit(&it->refcount, 1, memory_order_relaxed) + 1u;
}

/* Returns the count after the decrement. */
static inline unsigned item_refcount_decr(item_t *it)
{
    return (unsigned)atomic_fetch_sub_explicit(&it->refcount, 1, memory_order_acq_rel) - 1u;
}

#endif /* TIERCACHE_RAM_ITEM_H */
