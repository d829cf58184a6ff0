/*
 * tiers/flash/index.h - the compact in-RAM index of the flash tier.
 *
 * One packed 51-bit slot per flash item, no key: a slot says "an item whose
 * hash has this tag may be in block B of segment S". The caller reads the
 * block and compares the full key. Two-choice hashing: a key's 64-bit hash
 * picks two distinct buckets; an insert goes to the less full one, a lookup
 * checks both (up to 20 slots).
 *
 * GROWTH. index_create's capacity is the MAXIMUM item count (buckets_max =
 * ceil(capacity / 9), i.e. ~90% load at the maximum). The address range of
 * the maximum table is reserved up front (mmap, MAP_NORESERVE) but only the
 * buckets in use are ever touched, so resident memory follows the table.
 * The table starts at 2^L0 buckets and grows by linear hashing, one bucket
 * at a time: when items > 88% of the slots in use, bucket s = n - 2^L
 * (n = buckets in use, L = floor(log2 n)) is split into s and n, and n
 * becomes n + 1. So memory grows in 64-byte steps and stays at
 * 64 B / (10 x 0.88) ~= 7.3 B per item at any fill; at buckets_max it stops
 * growing. It never shrinks.
 *   Plain linear hashing loads the not-yet-split buckets twice as much as
 * the split ones, so late in each doubling they overflow. Hence kicks: an
 * insert into two full buckets first moves one of their slots to that
 * slot's other bucket (cuckoo style, up to INDEX_KICK_DEPTH levels,
 * trying other buckets already split first). Only when that fails (both
 * buckets and their neighbourhood full: in practice only at the maximum)
 * is the slot in the oldest segment evicted (caller's age function). At
 * the maximum, kicks stop once 97% of the slots are used.
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
 *    +---+---+--------+--------+-- ... --+--------+
 *    | K | 0 | sx 9   | sx 8   |          | sx 0   |
 *    +---+---+--------+--------+-- ... --+--------+
 *     31  30  29    27 26    24            2     0
 *    K     = bucket lock (spin bit; acquire on set, release on clear)
 *    sx i  = slot i's extra bits (3 bits):
 *            +-----------------+--------+
 *            | tag hi (2)      | choice |
 *            +-----------------+--------+
 *              bits 2..1         bit 0
 *            tag hi = bits 15..14 of the slot's tag
 *            choice = 0: the slot is in its key's 1st bucket, 1: in its 2nd
 *    A bucket keeps no count: used slots (tagw != 0) are counted by a scan.
 *
 * Slot i (51 bits) = tagw[i] : locw[i] : sx i
 *
 *    tagw[i] (u16)                         locw[i] (u32)
 *    +-------------------------+------+    +------------------------+------------------+
 *    |     tag bits 13..0      | hits |    |     segment id (18)    | block offset (14)|
 *    +-------------------------+------+    +------------------------+------------------+
 *     15                      2  1   0      31                    14 13                0
 *
 *    tag          = top tag_bits (<= 16) of the hash; its low 14 bits are
 *                   never 0 (0 in tagw marks an empty slot: a hash whose
 *                   low 14 tag bits are 0 gets bit 0 set)
 *    hits         = 2-bit saturating hit counter (index_hit)
 *    segment id   = 0 .. 2^18-1
 *    block offset = the block's offset inside its segment in 512-byte units
 *                   (0 .. 2^14-1, so segments up to 8 MiB)
 *
 * ADDRESSING. A slot keeps 16 tag bits and its choice, not the hash, so a
 * split must place a slot from those alone. Each choice c of a hash has an
 * address key of L0 + G bits (G = growth bits, <= INDEX_GROWTH_BITS and
 * <= tag_bits; the table can grow 2^G-fold, L0 is chosen so that
 * 2^(L0+G) >= buckets_max):
 *
 *    P1 = (hash bits 0..L0-1)     | (tag & (2^G-1))           << L0
 *    P2 = (hash bits 0..L0-1) ^ m | (mix(tag) & (2^G-1))      << L0
 *         m = mix'(tag) & (2^L0-1), forced non-zero
 *
 * (m depends on the tag only, so a slot's other bucket follows from its
 * bucket number, tag and choice: what a kick needs.)
 *
 * and its bucket with n buckets in use (n = 2^L + s, 0 <= s < 2^L) is
 * a = P mod 2^L, or P mod 2^(L+1) if that a < s (linear hashing). The two
 * keys differ in their low L0 bits, so the two buckets always differ. The
 * split of bucket s moves a slot to bucket s + 2^L iff bit L - L0 of its
 * high part (tag & (2^G-1), or mix(tag) & (2^G-1), per its choice bit) is 1:
 * no hash needed. The high parts of the two choices are independent, so a
 * key's two buckets are often one already split and one not: two-choice
 * placement and kicks move load from unsplit to split buckets.
 *   The price: every slot of one bucket shares the L - L0 address bits its
 * tag part gave, so false tag matches grow as the table does: a lookup sees
 * ~9 x 2^-(16 - (L - L0)) false candidates (0.014% at the start, 0.11% =
 * the fixed table's rate after 3 doublings, 0.44% after 5, the most with
 * INDEX_GROWTH_BITS 5), and inserts drop as many collateral slots. A small
 * tag_bits caps the growth: with 2-bit tags the table could double at most
 * twice, and in fact never reaches the split load (a bucket can only hold
 * 2 x 3 distinguishable tag/choice pairs per address key).
 *
 * Matching: a slot in the hash's choice-c bucket belongs to the hash (as far
 * as the index knows) iff its 16-bit tag equals the hash's tag AND its
 * choice bit is c. The "bucket" a lookup reports and index_buckets returns
 * is an identity that does not change when the table grows: (P << 1) | c
 * (P cut to L0 + G bits). Two hashes with the same tag have slots in the
 * same bucket, with the same choice, at every table size iff their
 * identities are equal; and since m and the high parts depend on the tag
 * only, two same-tag hashes share both identities or neither, so a kick
 * (which flips a slot's choice) never changes who may own a slot. This is
 * what keeps the flash reader's owner rule (index_buckets) exact while the
 * table splits and kicks under it.
 *
 * Semantics (flash-design.md):
 * - insert removes every matching slot in BOTH buckets first (the older
 *   copy of this key, and possibly other keys' entries: a collateral drop,
 *   which the caller counts; never a stale read), then places the slot in
 *   the less full bucket; when both are full it kicks (see GROWTH), and
 *   failing that the slot in the oldest segment (caller's age function) is
 *   evicted and counted.
 * - remove (set in RAM, delete, flush of one key) removes all matching slots.
 * - remove_location (reclaim of a segment, walking its summary) removes only
 *   the matching slots with that segment id.
 *
 * Lock order: split lock (a mutex in the handle) -> bucket spin locks (bit
 * K of meta). A function that needs both buckets of a hash locks the
 * lower-numbered bucket first, then re-reads the table size (n, one atomic
 * word) and starts over if the hash's buckets moved. A split holds the
 * split lock, locks bucket s then the new bucket n, moves slots, publishes
 * n + 1 (release) and only then unlocks both: no thread ever finds an entry
 * in neither of its buckets. Inserts split after dropping their bucket
 * locks, with a trylock of the split lock (a busy split lock means someone
 * else is splitting: skip; only when growth is 3% of the slots behind do
 * they wait for it). Whole-table walks (remove_segment, count_slow) go in
 * bucket order, hold the split lock and allow only kicks to higher
 * buckets while they run, so no slot moves behind them (inserts may then
 * evict where a kick would have helped). The caller's
 * age function runs under both bucket locks and must take no index lock
 * (and should be cheap: it runs up to 20 times per insert into two full
 * buckets). A kick holds the pair and try-locks other buckets (never
 * waits for them, so any order is safe; a failed trylock skips that
 * bucket). Locks are held for a scan of at most 20 slots, or a kick.
 * Statistics are relaxed atomics, readable at any time without locks.
 */
#ifndef TIERCACHE_FLASH_INDEX_H
#define TIERCACHE_FLASH_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Field widths of a slot (see the diagram). tagw = low tag bits + hits
 * (16 bits); the high tag bits and the choice bit live in meta; locw =
 * segment + offset (32 bits). index.c checks the sums. */
#define INDEX_TAG_FIELD_BITS 16  /* the whole tag */
#define INDEX_TAGW_TAG_BITS 14   /* tag bits kept in tagw */
#define INDEX_TAG_HI_BITS (INDEX_TAG_FIELD_BITS - INDEX_TAGW_TAG_BITS)
#define INDEX_HIT_BITS 2
#define INDEX_SEG_BITS 18
#define INDEX_OFF_BITS 14
#define INDEX_SLOTS_PER_BUCKET 10
#define INDEX_BUCKET_BYTES 64
/* A lookup returns at most this many candidates (both buckets full). */
#define INDEX_MAX_MATCHES (2 * INDEX_SLOTS_PER_BUCKET)
/* The table grows at most 2^INDEX_GROWTH_BITS-fold (it starts at >= 1/32
 * of the maximum, or at 2^INDEX_MIN_L0 buckets if that is more). Each
 * doubling costs a tag bit (see ADDRESSING): 5 keeps false matches at the
 * maximum at ~4x the fixed table's. */
#define INDEX_GROWTH_BITS 5
#define INDEX_MIN_L0 10
/* An insert into two full buckets first tries to move a slot of theirs to
 * its other bucket, up to this many levels deep (cuckoo kicks). */
#define INDEX_KICK_DEPTH 2
/* Split when items exceed this fraction (per mille) of the slots in use. */
#define INDEX_SPLIT_LOAD_PERMILLE 880

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
    uint64_t bucket;  /* index_lookup: identity of the bucket (and choice)
                       * the slot is in; stable across growth, comparable
                       * with index_buckets. Not an array position. */
} index_entry_t;

/* Age of a segment for eviction: larger = older (e.g. the distance of the
 * segment from the ring's write head). Called under two bucket locks. */
typedef uint64_t (*index_age_fn)(void *ctx, uint32_t segment);

/* What an insert did. */
typedef struct index_insert_result {
    unsigned removed;       /* matching slots removed before placing */
    bool evicted;           /* both buckets were full: `victim` was dropped */
    index_entry_t victim;   /* valid when evicted */
} index_insert_result_t;

typedef struct index_stats {
    uint64_t bytes;          /* resident: the buckets in use + the handle */
    uint64_t capacity;       /* items the buckets in use are meant for
                              * (buckets * 9, at most capacity_max) */
    uint64_t buckets;        /* buckets in use */
    uint64_t slots;          /* buckets * 10 */
    uint64_t items;          /* slots in use */
    unsigned tag_bits;
    uint64_t capacity_max;   /* index_create's capacity */
    uint64_t buckets_max;    /* ceil(capacity_max / 9), at least 2 */
    uint64_t bytes_max;      /* bytes at buckets_max (address range reserved) */
    uint64_t splits;         /* buckets split so far (buckets - initial) */
    uint64_t kicks;          /* slots moved to their other bucket to make
                              * room (only below buckets_max) */
    unsigned growth_bits;    /* G: the table may grow 2^G-fold from 2^L0 */
    uint64_t inserts;
    uint64_t insert_removed; /* matching slots removed by inserts/relocates */
    uint64_t evictions;      /* slots dropped because both buckets were full */
    uint64_t evictions_growing; /* ... of which while below buckets_max */
    uint64_t removes;        /* index_remove calls */
    uint64_t remove_removed; /* slots removed by index_remove */
    uint64_t loc_removed;    /* slots removed by index_remove_location/_segment */
} index_stats_t;

/*
 * index_create: an index for at most `capacity_items` items (buckets_max =
 * ceil(capacity / 9), at least 2, at most 2^32-1: ~90% load at the
 * maximum). Reserves buckets_max * 64 bytes of address space (not memory)
 * and starts with 2^L0 buckets: L0 the largest of log2(buckets_max) - G
 * (rounded up) and min(INDEX_MIN_L0, floor(log2(buckets_max))), G =
 * min(INDEX_GROWTH_BITS, tag_bits).
 * tag_bits: 1..INDEX_TAG_FIELD_BITS, or 0 for TC_FLASH_TAG_BITS.
 * On success *out is the new index (caller owns it: index_destroy) and, if
 * bytes_out is not NULL, *bytes_out its initial resident memory. Fails with
 * INDEX_EINVAL (capacity 0 or too large, bad tag_bits) or INDEX_ENOMEM (the
 * reservation failed); *out untouched. Work: one mmap.
 */
index_status_e index_create(index_t **out, uint64_t capacity_items,
                            unsigned tag_bits, uint64_t *bytes_out);

/* index_destroy: unmap the table, free the index and set *idx to NULL.
 * NULL or *idx NULL is a no-op. No other thread may use the index any more. */
void index_destroy(index_t **idx);

/*
 * index_prefetch: asks the CPU to start loading the two buckets of `hash`
 * (a hint: no lock, no effect on the index). A caller with a batch of
 * hashes calls it a few hashes ahead of their inserts or lookups, so their
 * cache misses overlap (the flash writer: index_insert was its largest
 * function of its own during a load). O(1).
 */
void index_prefetch(const index_t *idx, uint64_t hash);

/*
 * index_lookup: every slot in the two buckets of `hash` that matches it
 * (tag and choice), copied to out[] (room for INDEX_MAX_MATCHES). Returns
 * how many (usually 0 or 1; the caller checks each candidate's key on
 * flash). Candidates of the first bucket come first, in slot order. A
 * snapshot: a concurrent insert or remove may change the index right after.
 * Work: locks two buckets (again if a split moved them), scans 20 slots.
 * Never fails.
 */
unsigned index_lookup(index_t *idx, uint64_t hash,
                      index_entry_t out[INDEX_MAX_MATCHES]);

/*
 * index_insert: record that the item of `hash` now lives at `loc`: remove
 * every matching slot in both buckets, then place the slot (hits 0) in the
 * less full bucket (the first on a tie). If both are full, kick a slot to
 * its other bucket (see GROWTH); failing that, evict the slot whose segment
 * is oldest per age_fn(age_ctx, segment) (ties: fewer hits, then the first
 * found); age_fn NULL treats every segment as equally old.
 * res (may be NULL) reports what was removed and evicted. Then, with the
 * bucket locks dropped, splits up to 4 buckets if items > 88% of the slots
 * and the table is below its maximum.
 * Fails with INDEX_EINVAL if loc is out of range (nothing changed).
 * Work: two bucket locks, <= 20 slot scans and <= 20 age_fn calls; a kick
 * (in ~45% of inserts while the table grows, each usually one more cache
 * line) try-locks <= 20 other buckets, <= 220 at depth 2 (rare); plus the
 * splits (two more bucket locks and 10 slot moves each).
 */
index_status_e index_insert(index_t *idx, uint64_t hash, index_loc_t loc,
                            index_age_fn age_fn, void *age_ctx,
                            index_insert_result_t *res);

/*
 * index_remove: remove every slot matching `hash` in both its buckets (set
 * in RAM, delete, flush of a key). Returns the number removed (0 if none;
 * the key's own entry and any collateral ones alike). Work: as lookup.
 */
unsigned index_remove(index_t *idx, uint64_t hash);

/* index_remove_locs: index_remove, also copying the removed slots'
 * locations to locs[] (NULL, or room for INDEX_MAX_MATCHES), so the caller
 * can tell the key's own copy from other keys' (flash_remove). */
unsigned index_remove_locs(index_t *idx, uint64_t hash, index_loc_t *locs);

/*
 * index_remove_location: remove the slots matching `hash` with segment id
 * `segment` (reclaim walking a segment's summary). Returns the number
 * removed (normally 0 or 1). Work: as lookup.
 */
unsigned index_remove_location(index_t *idx, uint64_t hash, uint32_t segment);

/*
 * index_hit: increment (saturating at INDEX_HITS_MAX) the hit counter of the
 * slot matching `hash` at exactly `loc`, and store its new value in *hits
 * (may be NULL). INDEX_NOT_FOUND if no such slot (it was replaced or
 * removed: the caller's read is stale). Work: as lookup.
 */
index_status_e index_hit(index_t *idx, uint64_t hash, index_loc_t loc,
                         unsigned *hits);

/*
 * index_relocate: move the slot matching `hash` at exactly `from` to `to`,
 * resetting its hit counter to 0 (reclaim rewrote the item); like an insert
 * it removes every other matching slot of both buckets (counted in
 * insert_removed). Atomic under the pair's locks, so an index_remove that
 * ran after the caller's check wins: INDEX_NOT_FOUND then, and nothing
 * changes. INDEX_EINVAL for an out-of-range location. Work: as lookup.
 */
index_status_e index_relocate(index_t *idx, uint64_t hash, index_loc_t from,
                              index_loc_t to);

/*
 * index_remove_segment: remove every slot of segment `segment`, walking the
 * buckets in use one lock at a time, under the split lock and with only
 * forward kicks (no growth and no slot moving behind the walk meanwhile;
 * concurrent inserts may evict more, and wait for the split lock if growth
 * falls 3% behind). For a segment whose summary cannot be read. Returns
 * the number removed. Work: O(buckets).
 */
uint64_t index_remove_segment(index_t *idx, uint32_t segment);

/* index_stats: a snapshot of the counters (no locks; relaxed). */
void index_stats(index_t *idx, index_stats_t *st);

/* index_count_slow: count used slots by walking every bucket in use under
 * the split lock and its bucket lock, asserting (debug builds) that every
 * slot sits in the bucket its tag and choice address. Exact only with no
 * concurrent inserts (a kick may move a slot ahead of the walk). Tests and
 * consistency checks. Work: O(buckets). */
uint64_t index_count_slow(index_t *idx);

/* index_tag: the tag a hash gets with this index's tag_bits (1..2^bits-1,
 * low 14 bits never 0; tests use it to pick colliding keys). */
unsigned index_tag(const index_t *idx, uint64_t hash);

/* index_buckets: identities of the two buckets of a hash, as in
 * index_entry_t.bucket (distinct; stable while the table grows, so no
 * race with splits). Together with index_tag this says which index slots a
 * key can be found through: the flash reader uses it to tell which record
 * of a block a slot belongs to (the LAST record of the block with that tag
 * and that bucket among its two, since every insert removes earlier
 * matching slots of its buckets). O(1), no locks. */
void index_buckets(const index_t *idx, uint64_t hash, uint64_t *b1, uint64_t *b2);

const char *index_strerror(index_status_e st);

#endif /* TIERCACHE_FLASH_INDEX_H */
