/*
 * tiers/flash/flash_options.c - the flash tier's options: the one place
 * their defaults are written (flash_settings.h).
 */
#include "flash/flash_settings.h"

#include <string.h>

#include "flash/block.h"
#include "flash/format.h"

_Static_assert(OPTION_LEVEL_NONE == FLASH_LEVEL_NONE,
               "option.h's level none is the block's");

#define FL_OFF(f) offsetof(flash_settings_t, f)
#define GiB (1024.0 * 1024 * 1024)

const option_t flash_options[] = {
    {"flash-path", OPTION_STR, FL_OFF(path), "none", 0, 0, NULL,
     "file or block device (none: no flash tier)"},
    {"flash-size", OPTION_SIZE64, FL_OFF(size), "0", 0, (double)UINT64_MAX,
     NULL, "bytes of flash to use (0: the whole file or device)"},
    {"flash-segment-size", OPTION_SIZE32, FL_OFF(segment_size), "8m", 1, GiB,
     NULL, "segment: unit of writing and reclaim"},
    {"flash-segment-size-given", OPTION_BOOL, FL_OFF(segment_size_given), "no", 0,
     0, NULL, "segment size given (else an existing file keeps its own)"},
    {"flash-block-size", OPTION_SIZE32, FL_OFF(block_size), "4k", 1, GiB,
     NULL, "raw bytes of items compressed together; one read per hit"},
    {"flash-compression", OPTION_LEVEL, FL_OFF(compression_level), "1", -100,
     22, NULL, "zstd level of blocks, or none"},
    {"flash-dict-size", OPTION_SIZE, FL_OFF(dict_size), "64k", 0,
     FLASH_DICT_MAX, NULL, "zstd dictionary bytes (0: none)"},
    {"flash-io-depth", OPTION_UINT, FL_OFF(io_depth), "64", 1, 65536, NULL,
     "reads in flight per worker thread"},
    {"read-bytes-cap", OPTION_SIZE, FL_OFF(read_bytes_cap), "4m", 1, GiB,
     NULL, "bytes of reads in flight per worker thread"},
    {"flash-min-item-size", OPTION_SIZE, FL_OFF(min_item_size), "0", 0,
     (double)SIZE_MAX, NULL, "smaller items are not spilled"},
    {"min-ttl", OPTION_UINT, FL_OFF(min_ttl), "0", 0, UINT32_MAX, NULL,
     "items expiring sooner (seconds) are not spilled"},
    {"index-capacity", OPTION_SIZE64, FL_OFF(index_capacity), "0", 0,
     (double)UINT64_MAX, NULL,
     "most items indexed (0: one per FLASH_INDEX_MIN_ITEM_BYTES)"},
    {"tag-bits", OPTION_UINT, FL_OFF(tag_bits), "0", 0, 32, NULL,
     "index tag bits (0: the build's TC_FLASH_TAG_BITS; tests: 2)"},
    {"queue-items", OPTION_UINT, FL_OFF(queue_items), "4096", 1, 1 << 24,
     NULL, "writer queue length"},
    {"flash-stall-ms", OPTION_UINT, FL_OFF(stall_ms), "100", 0, 60000, NULL,
     "longest back-pressure wait of an enqueue"},
    {"reserve-segments", OPTION_UINT, FL_OFF(reserve_segments), "1", 1, 1024,
     NULL, "reclaim when fewer segments are free (1: just in time)"},
    {"rewrite-pct", OPTION_UINT, FL_OFF(rewrite_pct), "25", 0, 100, NULL,
     "reclaim rewrites at most this % of a segment's bytes"},
    {"flash-reset", OPTION_BOOL, FL_OFF(reset), "no", 0, 0, NULL,
     "reinitialise a file or device holding foreign data"},
    {"flash-fast-ingest", OPTION_BOOL, FL_OFF(fast_ingest), "yes", 0, 0, NULL,
     "raw blocks while the writer is behind a load, recompressed when idle"},
    {"flash-checkpoint-ms", OPTION_UINT, FL_OFF(checkpoint_ms), "60000", 0,
     86400000, NULL, "crash checkpoint interval (0: none)"},
};

const size_t flash_options_n = sizeof flash_options / sizeof flash_options[0];

void flash_settings_default(flash_settings_t *s)
{
    memset(s, 0, sizeof *s); /* callbacks: none */
    option_defaults(flash_options, flash_options_n, s);
}
