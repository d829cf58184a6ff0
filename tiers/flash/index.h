/*
 * tiers/flash/index.h - the compact in-RAM index of the flash tier.
 *
 * One packed 48-bit slot per flash item, no key: a slot says "an item whose
 * hash has this tag may be in block B of segment S". The caller reads the
 * block and compares the full key. Two-choice hashing: a key's 64-bit hash
 * picks two distinct buckets; an insert goes to the less full one, a lookup
 * checks both (up to 20 slots). Sized once at creation (capacity / 9 buckets,
 * i.e. ~90% load at capacity: 64 B / 9 = 7.1 B per item); never grows.
 *
 * Bucket (64 bytes, one cache line, 64-byte aligned):
 *
 *    0        4                                  24                         64
 *    +--------+------+------+-- ... --+------+---------+---------+-- ... --+---------+
 *    |  meta  |tagw 0|tagw 1|         |tagw 9| locw 0  | locw 1  |         | locw 9  |
 *    +--------+------+------+-- ... --+------+---------+---------+-- ... --+---------+
 *      32 bit   10 x 16 bit                    10 x 32 bit
 *
 *    meta (atomic u32):
 *    +---+------------------------------------------------+---------+
 *    | L |              reserved (0)                       | count   |
 *    +---+------------------------------------------------+---------+
 *     31  30                                            4  3       0
 *    L     = bucket lock (spin bit; acquire on set, release on clear)
 *    count = slots in use (0..10); used slots are not kept contiguous
 *
 * Slot i (48 bits) = tagw[i] : locw[i]
 *
 *    tagw[i] (u16)                         locw[i] (u32)
 *    +-------------------------+------+    +------------------------+------------------+
 *    |        tag (14)         | hits |    |     segment id (18)    | block offset (14)|
 *    +-------------------------+------+    +------------------------+------------------+
 *     15                      2  1   0      31                    14 13                0
 *
 *    tag          = top tag_bits of the hash, 0 reserved for "empty slot"
 *                   (a hash whose tag bits are 0 uses tag 1)
 *    hits         = 2-bit saturating hit counter (index_hit)
 *    segment id   = 0 .. 2^18-1
 *    block offset = the block's offset inside its segment in 512-byte units
 *                   (0 .. 2^14-1, so segments up to 8 MiB)
 *
 * The tag is stored in the bucket in a 14-bit field whatever tag_bits is; a
 * smaller runtime tag_bits (tests use 2) only means fewer distinct tags.
 * Bucket choice: b1 from the low 32 hash bits, b2 (!= b1) from a remix of the
 * whole hash; the tag from the top bits, so tag and buckets are independent.
 *
 * Semantics (flash-design.md):
 * - insert removes every slot with the same tag in BOTH buckets first (the
 *   older copy of this key, and possibly other keys' entries: a collateral
 *   drop, which the caller counts; never a stale read), then places the slot
 *   in the less full bucket; when both are full the slot in the oldest
 *   segment (caller's age function) is evicted and counted.
 * - remove (set in RAM, delete, flush of one key) removes all same-tag slots.
 * - remove_location (reclaim of a segment, walking its summary) removes only
 *   the slots with that tag AND that segment id.
 *
 * Lock order: each bucket has its own spin lock (bit L of meta). A function
 * that needs both buckets of a hash locks the lower-numbered bucket first;
 * no function holds a bucket lock while taking any other lock, except the
 * caller's age function, which runs under both bucket locks and must take
 * no index lock (and should be cheap: it runs up to 20 times per insert into
 * two full buckets). Locks are held for a scan of at most 20 slots.
 * Statistics are relaxed atomics, readable at any time without locks.
 */
#ifndef TIERCACHE_FLASH_INDEX_H
#define TIERCACHE_FLASH_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Field widths of a slot (see the diagram). tag + hits fill tagw (16 bits),
 * segment + offset fill locw (32 bits); index.c checks both sums. */
#define INDEX_TAG_FIELD_BITS 14
#define INDEX_HIT_BITS 2
#define INDEX_SEG_BITS 18
#define INDEX_OFF_BITS 14
#define INDEX_SLOTS_PER_BUCKET 10
#define INDEX_BUCKET_BYTES 64
/* A lookup returns at most this many candidates (both buckets full). */
#define INDEX_MAX_MATCHES (2 * INDEX_SLOTS_PER_BUCKET)

#define INDEX_SEG_MAX ((UINT32_C(1) << INDEX_SEG_BITS) - 1)
#define INDEX_OFF_MAX ((UINT32_C(1) << INDEX_OFF_BITS) - 1)
#define INDEX_HITS_MAX ((1u << INDEX_HIT_BITS) - 1)

/* Default number of tag bits (<= INDEX_TAG_FIELD_BITS). Define it smaller
 * (e.g. -DTC_FLASH_TAG_BITS=2) for a build that forces tag collisions; the
 * runtime tag_bits argument of index_create overrides it when non-zero. */
#ifndef TC_FLASH_TAG_BITS
#define TC_FLASH_TAG_BITS INDEX_TAG_FIELD_BITS
#endif

typedef struct index index_t;

typedef enum index_status {
    INDEX_OK = 0,
    INDEX_EINVAL,     /* bad argument (tag bits, segment or offset out of range) */
    INDEX_ENOMEM,     /* table allocation failed */
    INDEX_NOT_FOUND,  /* no slot matched */
} index_status_e;

/* Where an item lives on flash, as the index knows it. */
typedef struct index_loc {
    uint32_t segment; /* 0 .. INDEX_SEG_MAX */
    uint32_t offset;  /* block offset in 512-byte units, 0 .. INDEX_OFF_MAX */
} index_loc_t;

/* A lookup candidate: a location plus its hit counter. */
typedef struct index_entry {
    index_loc_t loc;
    unsigned hits;    /* 0 .. INDEX_HITS_MAX */
    uint64_t bucket;  /* index_lookup: the bucket the slot is in */
} index_entry_t;

/* Age of a segment for eviction: larger = older (e.g. the distance of the
 * segment from the ring's write head). Called under two bucket locks. */
typedef uint64_t (*index_age_fn)(void *ctx, uint32_t segment);

/* What an insert did. */
typedef struct index_insert_result {
    unsigned removed;       /* same-tag slots removed before placing */
    bool evicted;           /* both buckets were full: `victim` was dropped */
    index_entry_t victim;   /* valid when evicted */
} index_insert_result_t;

typedef struct index_stats {
    uint64_t bytes;          /* memory of the table and its handle */
    uint64_t capacity;       /* items it was sized for (~90% of slots) */
    uint64_t buckets;
    uint64_t slots;          /* buckets * 10 */
    uint64_t items;          /* slots in use */
    unsigned tag_bits;
    uint64_t inserts;
    uint64_t insert_removed; /* same-tag slots removed by inserts */
    uint64_t evictions;      /* slots dropped because both buckets were full */
    uint64_t removes;        /* index_remove calls */
    uint64_t remove_removed; /* slots removed by index_remove */
    uint64_t loc_removed;    /* slots removed by index_remove_location */
} index_stats_t;

/*
 * index_create: allocate an index for `capacity_items` items at ~90% load
 * (ceil(capacity / 9) buckets, at least 2, at most 2^32-1).
 * tag_bits: 1..INDEX_TAG_FIELD_BITS, or 0 for TC_FLASH_TAG_BITS.
 * On success *out is the new index (caller owns it: index_destroy) and, if
 * bytes_out is not NULL, *bytes_out its memory. Fails with INDEX_EINVAL
 * (capacity 0 or too large, bad tag_bits) or INDEX_ENOMEM; *out untouched.
 * Work: allocates and zeroes buckets * 64 bytes.
 */
index_status_e index_create(index_t **out, uint64_t capacity_items,
                            unsigned tag_bits, uint64_t *bytes_out);

/* index_destroy: free the index and set *idx to NULL. NULL or *idx NULL is
 * a no-op. No other thread may use the index any more. */
void index_destroy(index_t **idx);

/*
 * index_lookup: every slot in the two buckets of `hash` whose tag matches,
 * copied to out[] (room for INDEX_MAX_MATCHES). Returns how many (usually 0
 * or 1; the caller checks each candidate's key on flash). Candidates of the
 * first bucket come first, in slot order. A snapshot: a concurrent insert or
 * remove may change the index right after. Work: locks two buckets, scans 20
 * slots. Never fails.
 */
unsigned index_lookup(index_t *idx, uint64_t hash,
                      index_entry_t out[INDEX_MAX_MATCHES]);

/*
 * index_insert: record that the item of `hash` now lives at `loc`: remove
 * every same-tag slot in both buckets, then place the slot (hits 0) in the
 * less full bucket (the first on a tie). If both are full, evict the slot
 * whose segment is oldest per age_fn(age_ctx, segment) (ties: fewer hits,
 * then the first found); age_fn NULL treats every segment as equally old.
 * res (may be NULL) reports what was removed and evicted.
 * Fails with INDEX_EINVAL if loc is out of range (nothing changed).
 * Work: two bucket locks, <= 20 slot scans and <= 20 age_fn calls.
 */
index_status_e index_insert(index_t *idx, uint64_t hash, index_loc_t loc,
                            index_age_fn age_fn, void *age_ctx,
                            index_insert_result_t *res);

/*
 * index_remove: remove every slot with the tag of `hash` in both its buckets
 * (set in RAM, delete, flush of a key). Returns the number removed (0 if
 * none; the key's own entry and any collateral ones alike). Work: as lookup.
 */
unsigned index_remove(index_t *idx, uint64_t hash);

/*
 * index_remove_location: remove the slots with the tag of `hash` AND segment
 * id `segment` (reclaim walking a segment's summary). Returns the number
 * removed (normally 0 or 1). Work: as lookup.
 */
unsigned index_remove_location(index_t *idx, uint64_t hash, uint32_t segment);

/*
 * index_hit: increment (saturating at INDEX_HITS_MAX) the hit counter of the
 * slot with the tag of `hash` at exactly `loc`, and store its new value in
 * *hits (may be NULL). INDEX_NOT_FOUND if no such slot (it was replaced or
 * removed: the caller's read is stale). Work: as lookup.
 */
index_status_e index_hit(index_t *idx, uint64_t hash, index_loc_t loc,
                         unsigned *hits);

/*
 * index_relocate: move the slot with the tag of `hash` at exactly `from` to
 * `to`, resetting its hit counter to 0 (reclaim rewrote the item); like an
 * insert it removes every other same-tag slot of both buckets (counted in
 * insert_removed). Atomic under the pair's locks, so an index_remove that
 * ran after the caller's check wins: INDEX_NOT_FOUND then, and nothing
 * changes. INDEX_EINVAL for
 * an out-of-range location. Work: as lookup.
 */
index_status_e index_relocate(index_t *idx, uint64_t hash, index_loc_t from,
                              index_loc_t to);

/*
 * index_remove_segment: remove every slot of segment `segment`, walking the
 * whole table bucket by bucket (one lock at a time). For a segment whose
 * summary cannot be read. Returns the number removed. Work: O(buckets).
 */
uint64_t index_remove_segment(index_t *idx, uint32_t segment);

/* index_stats: a snapshot of the counters (no locks; relaxed). */
void index_stats(index_t *idx, index_stats_t *st);

/* index_count_slow: count used slots by walking every bucket under its lock
 * (tests and consistency checks). Work: O(buckets). */
uint64_t index_count_slow(index_t *idx);

/* index_tag: the tag a hash gets with this index's tag_bits (1..2^bits-1;
 * tests use it to pick colliding keys). */
unsigned index_tag(const index_t *idx, uint64_t hash);

/* index_buckets: the two (distinct) buckets of a hash. Together with
 * index_tag this says which index slots a key can be found through: the
 * flash reader uses it to tell which record of a block a slot belongs to
 * (the LAST record of the block with that tag and that bucket among its
 * two, since every insert removes earlier same-tag slots of its buckets).
 * O(1), no locks. */
void index_buckets(const index_t *idx, uint64_t hash, uint64_t *b1, uint64_t *b2);

const char *index_strerror(index_status_e st);

#endif /* TIERCACHE_FLASH_INDEX_H */
