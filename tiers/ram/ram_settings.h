/*
 * tiers/ram/ram_settings.h - the RAM tier's settings and their one table.
 *
 * Every field a flag can set has one row in ram_options[] (ram_options.c):
 * name, type, default, range, help. ram_settings_default() fills the
 * struct from that table: a RAM default is written nowhere else. The door
 * embeds this struct (cache_settings_t.ram); the server maps memcached's
 * flags onto it (server/settings_cache.c). Includes no door header.
 */
#ifndef TIERCACHE_RAM_RAM_SETTINGS_H
#define TIERCACHE_RAM_RAM_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../option.h"

struct cache_evict_event; /* tier_types.h: what an eviction event carries */

typedef struct ram_settings {
    size_t mem_limit;         /* -m: bytes of item memory (slab pages) */
    size_t item_size_max;     /* -I: largest item (header+key+value) */
    size_t slab_page_size;    /* bytes per slab page */
    size_t slab_chunk_min;    /* -n: smallest key+value+flags space */
    double slab_growth;       /* -f: chunk size growth factor */
    bool slab_prealloc;       /* -L: allocate all of mem_limit at start */
    bool slab_reassign;       /* pages may move between classes */
    unsigned slab_automove;   /* 0 off, 1, 2 aggressive; see
                                 ram/threads.h for the rule */
    bool evict_to_free;       /* false with -M: NO_MEMORY instead of evict */
    bool use_cas;             /* false with -C: cas uniques are all 0 */
    unsigned hash_power;      /* initial log2 of hash buckets (0: 16) */
    unsigned hot_lru_pct;     /* share of a class's items in HOT */
    unsigned warm_lru_pct;    /* share of a class's memory in WARM */
    double hot_max_factor;    /* memcached's hot_max_factor */
    double warm_max_factor;   /* memcached's; shown, not used (ram/lru.h) */
    bool maintainer_thread;   /* run the LRU maintainer */
    bool crawler_thread;      /* run the expiry crawler */
    unsigned crawler_sleep_us;/* crawler pause between batches */
    /* -o ext_item_age: with a flash tier, items not accessed for more
     * than this many seconds are moved to flash by the maintainer thread
     * even without memory pressure (memcached's extstore rule; the access
     * time is refreshed by reads at most once a minute, as memcached's).
     * UINT32_MAX (the default) = off. No effect without a flash tier
     * (cache_create's note says so). */
    uint32_t flash_item_age;
    /* lru_ghost: S3-FIFO's ghost queue on the segmented LRU. Entries per
     * MiB of mem_limit (0: off) of a table that remembers the keys of
     * items evicted from RAM (a 16-bit fingerprint per slot, the newest
     * eviction wins a slot); a new item whose key is remembered is linked
     * at WARM's head instead of HOT's (counted in moves_to_warm). */
    unsigned lru_ghost;
    /* Not options (no row; ram_settings_default sets them to none): */
    int64_t (*clock)(void *ctx); /* the cache clock (cache_clock_fn);
                                    NULL: real time */
    void *clock_ctx;
    /* Eviction events (tier_types.h cache_evict_event_t): called for each item
     * evicted from RAM while *on_evict.gate is non-zero. NULL: none. */
    struct cache_evict_event_hook {
        void (*fn)(void *ctx, const struct cache_evict_event *e);
        void *ctx;
        const _Atomic unsigned *gate; /* read relaxed; NULL: never */
    } on_evict;
} ram_settings_t;

/* The RAM tier's options, one row per field above that a flag sets. */
extern const option_t ram_options[];
extern const size_t ram_options_n;

/* Fills *s from ram_options[] (memcached 1.6's defaults: 64 MiB, 1 MiB
 * items, ...); hooks and clock none. */
void ram_settings_default(ram_settings_t *s);

#endif /* TIERCACHE_RAM_RAM_SETTINGS_H */
