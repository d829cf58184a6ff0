/*
 * tiers/tier_types.h - the types the door (cache.h) and the engines share:
 * the status of an operation, the item handle, store operations, meta
 * marks, the per-worker counters the RAM engine keeps and the door shows,
 * and what an eviction event carries. Nothing else, so the RAM engine
 * (ram/ram.h) includes this and not the door's header. Includes only the
 * C library.
 */
#ifndef TIERCACHE_TIER_TYPES_H
#define TIERCACHE_TIER_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cache_item cache_item_t;     /* a referenced item */

/* Largest key, as memcached. */
#define CACHE_KEY_MAX 250

typedef enum cache_status {
    CACHE_OK = 0,
    CACHE_NOT_FOUND,   /* no such live item */
    CACHE_EXISTS,      /* cas: the item changed since the cas unique given */
    CACHE_NOT_STORED,  /* add: exists; replace/append/prepend: missing */
    CACHE_TOO_LARGE,   /* larger than item_size_max (or the largest class) */
    CACHE_NO_MEMORY,   /* no memory and eviction not allowed or impossible */
    CACHE_NON_NUMERIC, /* incr/decr on a value that is not a decimal uint64 */
    CACHE_PENDING,     /* reserved for the flash tier: answer comes later */
    CACHE_EINVAL,      /* bad argument (key too long, zero length, ...) */
} cache_status_e;

/*
 * Clock override for tests: returns the current unix time in seconds.
 * NULL in settings means the real clock (monotonic, anchored at start).
 */
typedef int64_t (*cache_clock_fn)(void *ctx);

typedef enum cache_store_op {
    CACHE_STORE_SET,
    CACHE_STORE_ADD,
    CACHE_STORE_REPLACE,
    CACHE_STORE_APPEND,  /* keeps the old item's flags and exptime */
    CACHE_STORE_PREPEND, /* keeps the old item's flags and exptime */
    CACHE_STORE_CAS,
    /* meta `ms I` with a cas: as CAS, but a cas older than the item's
     * also stores: the new value keeps the old item's exptime and is
     * marked CACHE_MARK_STALE (plus TOKEN if the old item had it);
     * memcached's CAS_STALE. */
    CACHE_STORE_CAS_STALE,
} cache_store_op_e;

/*
 * Meta marks kept in the item (memcached's it_flags bits of the same
 * meaning). A new item (cache_item_alloc) has none; a replacement (set,
 * append, incr that reallocates) starts without them, as in memcached.
 * Flash records (format 2) carry them: an item spilled and read back
 * keeps its marks.
 */
#define CACHE_MARK_STALE 0x1u  /* md I / ms I: value invalidated (mg: X) */
#define CACHE_MARK_TOKEN 0x2u  /* a win token was handed out (mg: Z) */
#define CACHE_MARK_BINKEY 0x4u /* stored with a base64 key (ms b) */

/*
 * Every counter and gauge the tiers keep, in one table:
 * X(name, description). `name` is memcached's stat name. Counters are summed
 * over workers by cache_stats_snapshot().
 */
#define CACHE_STATS_FIELDS(X)                                                 \
    X(cmd_get, "keys looked up by get/gets")                                  \
    X(cmd_touch, "keys touched by touch/gat/gats")                            \
    X(get_hits, "get keys found")                                             \
    X(get_misses, "get keys not found")                                       \
    X(get_expired, "get misses because the item had expired")                 \
    X(get_flushed, "get misses because the item had been flushed")            \
    X(delete_misses, "delete of a missing key")                               \
    X(delete_hits, "delete of a present key")                                 \
    X(incr_misses, "incr of a missing key")                                   \
    X(incr_hits, "incr of a present key")                                     \
    X(decr_misses, "decr of a missing key")                                   \
    X(decr_hits, "decr of a present key")                                     \
    X(cas_misses, "cas of a missing key")                                     \
    X(cas_hits, "cas that stored")                                            \
    X(cas_badval, "cas refused: unique mismatch")                             \
    X(touch_hits, "touch/gat of a present key")                               \
    X(touch_misses, "touch/gat of a missing key")                             \
    X(store_too_large, "stores refused: item too large")                      \
    X(store_no_memory, "stores refused: out of memory")                       \
    X(limit_maxbytes, "item memory limit (-m), bytes")                        \
    X(hash_power_level, "log2 of hash buckets")                               \
    X(hash_bytes, "bytes of the hash table")                                  \
    X(hash_is_expanding, "1 while the hash table grows")                      \
    X(slab_reassign_rescues, "items rescued while moving a page")             \
    X(slab_reassign_chunk_rescues, "chunks rescued while moving a page")      \
    X(slab_reassign_evictions_nomem, "evictions while moving a page")         \
    X(slab_reassign_inline_reclaim, "reclaims while moving a page")           \
    X(slab_reassign_busy_items, "busy items seen while moving a page")        \
    X(slab_reassign_busy_deletes, "busy deletes seen while moving a page")    \
    X(slab_reassign_running, "1 while a page is being moved")                 \
    X(slabs_moved, "pages moved between classes")                             \
    X(lru_crawler_running, "1 while the crawler runs")                        \
    X(lru_crawler_starts, "crawler runs started")                             \
    X(lru_maintainer_juggles, "LRU maintainer passes")                        \
    X(malloc_fails, "failed mallocs")                                         \
    X(bytes, "sum of items' memcached ITEM_ntotal")                           \
    X(curr_items, "items linked now")                                         \
    X(total_items, "items ever stored")                                       \
    X(slab_global_page_pool, "free pages not assigned to a class")            \
    X(expired_unfetched, "expired items reclaimed that were never fetched")   \
    X(evicted_unfetched, "evicted items that were never fetched")             \
    X(evicted_active, "items bumped instead of evicted")                      \
    X(evictions, "items evicted to make room")                                \
    X(reclaimed, "expired items whose memory was reused")                     \
    X(crawler_reclaimed, "expired items freed by the crawler")                \
    X(crawler_items_checked, "items the crawler examined")                    \
    X(lrutail_reflocked, "busy items found at the LRU tail")                  \
    X(moves_to_cold, "items moved to COLD")                                   \
    X(moves_to_warm, "items moved to WARM")                                   \
    X(moves_within_lru, "items bumped within their LRU")                      \
    X(direct_reclaims, "evictions done by a worker, not the maintainer")      \
    X(lru_bumps_dropped, "LRU bumps dropped")

typedef enum cache_evict_kind {
    CACHE_EVICT_DROPPED = 0, /* gone from the cache */
    CACHE_EVICT_TO_FLASH,    /* a spill: queued for the flash writer, or its
                                copy on flash is current (a later write
                                failure counts in flash_drops_io) */
} cache_evict_kind_e;

typedef struct cache_evict_event {
    const char *key;
    size_t nkey;
    cache_evict_kind_e kind;
    unsigned slab_class;
    uint32_t flags;       /* the client flags */
    bool fetched;         /* read since it was stored */
    int64_t exptime;      /* absolute unix, 0 = never */
    int64_t last_access;  /* absolute unix */
    int64_t now;          /* the cache clock at the eviction */
    size_t nbytes;        /* value bytes */
} cache_evict_event_t;

#endif /* TIERCACHE_TIER_TYPES_H */
