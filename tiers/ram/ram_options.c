/*
 * tiers/ram/ram_options.c - the RAM tier's options: the one place their
 * defaults are written (ram_settings.h).
 */
#include "ram_settings.h"

#include <float.h>
#include <string.h>

#define RAM_OFF(f) offsetof(ram_settings_t, f)
#define GiB (1024.0 * 1024 * 1024)

const option_t ram_options[] = {
    {"memory-limit", OPTION_SIZE, RAM_OFF(mem_limit), "64m", 1,
     (double)SIZE_MAX, NULL, "bytes of item memory (slab pages)"},
    {"max-item-size", OPTION_SIZE, RAM_OFF(item_size_max), "1m", 1024, GiB,
     NULL, "largest item: header, key and value"},
    {"slab-page-size", OPTION_SIZE, RAM_OFF(slab_page_size), "1m", 1024, GiB,
     NULL, "bytes per slab page"},
    {"slab-min-size", OPTION_SIZE, RAM_OFF(slab_chunk_min), "48", 1, 1 << 20,
     NULL, "smallest chunk's space for key, value and flags"},
    {"slab-growth-factor", OPTION_DOUBLE, RAM_OFF(slab_growth), "1.25", 1.0,
     DBL_MAX, NULL, "chunk size growth factor"},
    {"enable-largepages", OPTION_BOOL, RAM_OFF(slab_prealloc), "no", 0, 0,
     NULL, "allocate all item memory at start"},
    {"slab_reassign", OPTION_BOOL, RAM_OFF(slab_reassign), "yes", 0, 0, NULL,
     "slab pages may move between classes"},
    {"slab_automove", OPTION_UINT, RAM_OFF(slab_automove), "1", 0, 2, NULL,
     "page automover: 0 off, 1 on, 2 aggressive"},
    {"evict-to-free", OPTION_BOOL, RAM_OFF(evict_to_free), "yes", 0, 0, NULL,
     "evict when memory is short (no: NO_MEMORY, memcached's -M)"},
    {"use-cas", OPTION_BOOL, RAM_OFF(use_cas), "yes", 0, 0, NULL,
     "keep cas uniques (no: all 0, memcached's -C)"},
    {"hashpower", OPTION_UINT, RAM_OFF(hash_power), "0", 0, 32, NULL,
     "initial log2 of hash buckets (0: 16)"},
    {"hot_lru_pct", OPTION_UINT, RAM_OFF(hot_lru_pct), "20", 1, 80, NULL,
     "pct of a class's items in HOT"},
    {"warm_lru_pct", OPTION_UINT, RAM_OFF(warm_lru_pct), "40", 1, 80, NULL,
     "pct of a class's memory in WARM"},
    {"hot_max_factor", OPTION_DOUBLE, RAM_OFF(hot_max_factor), "0.2", 0,
     DBL_MAX, NULL, "items idle > cold age * this leave HOT"},
    {"warm_max_factor", OPTION_DOUBLE, RAM_OFF(warm_max_factor), "2.0", 0,
     DBL_MAX, NULL, "memcached's; WARM has no age cap here (lru.h)"},
    {"lru_maintainer", OPTION_BOOL, RAM_OFF(maintainer_thread), "yes", 0, 0,
     NULL, "run the LRU maintainer thread"},
    {"lru_crawler", OPTION_BOOL, RAM_OFF(crawler_thread), "yes", 0, 0, NULL,
     "run the expiry crawler thread"},
    {"lru_crawler_sleep", OPTION_UINT, RAM_OFF(crawler_sleep_us), "100", 0,
     1000000, NULL, "microseconds the crawler sleeps between batches"},
    {"ext_item_age", OPTION_U32, RAM_OFF(flash_item_age), "4294967295", 0,
     UINT32_MAX, NULL,
     "with a flash tier: move items idle this many seconds (max: never)"},
    {"lru_ghost", OPTION_UINT, RAM_OFF(lru_ghost), "0", 0, 65536, NULL,
     "ghost of evicted keys, entries per MiB of memory (0: off): such a "
     "key's new item starts in WARM"},
};

const size_t ram_options_n = sizeof ram_options / sizeof ram_options[0];

void ram_settings_default(ram_settings_t *s)
{
    memset(s, 0, sizeof *s); /* clock, hooks: none */
    option_defaults(ram_options, ram_options_n, s);
}
