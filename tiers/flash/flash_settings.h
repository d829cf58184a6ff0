/*
 * tiers/flash/flash_settings.h - the flash tier's settings, their one table
 * of options (flash_options.c), and the types they name (status, callbacks).
 *
 * Split from flash.h so that the door's cache.h can embed flash_settings_t
 * (cache_settings_t.flash) without the flash tier's API. Includes only the
 * C library and tiers/option.h.
 */
#ifndef TIERCACHE_FLASH_FLASH_SETTINGS_H
#define TIERCACHE_FLASH_FLASH_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../option.h"

typedef enum flash_status {
    FLASH_OK = 0,
    FLASH_MISS,        /* no index candidate, or none matched the key */
    FLASH_PENDING,     /* read issued: read_fn will be called later */
    FLASH_EFULL,       /* writer queue full past the stall bound: dropped */
    FLASH_EADMIT,      /* refused by admission (too big, expiring soon) */
    FLASH_EIO,         /* device error */
    FLASH_ECHECKSUM,   /* block failed its checksum (counted, a miss) */
    FLASH_EINVAL,      /* bad settings or arguments */
    FLASH_ENOMEM,
    FLASH_EFOREIGN,    /* path holds foreign data and reset not requested */
    FLASH_EDAMAGED,    /* tiercache superblock damaged, reset not requested */
    FLASH_EBUSY,       /* path held by another process (another server) */
} flash_status_e;

const char *flash_strerror(flash_status_e st);

/* Returns the current unix time in seconds (the cache's clock). */
typedef int64_t (*flash_clock_fn)(void *ctx);

/*
 * Called once per enqueued item after the item is findable through the
 * index (st == FLASH_OK) or when it was dropped (any other status), from
 * flash_complete() or the writer thread (see Threads above). `token` is
 * flash_wr_item_t.token.
 */
typedef void (*flash_written_fn)(void *ctx, void *token, flash_status_e st);

/* Receives one log line (no trailing newline), from any flash thread. */
typedef void (*flash_log_fn)(void *ctx, const char *line);

struct flash_persist_state;

typedef struct flash_settings {
    const char *path;          /* file or block device */
    uint64_t size;             /* bytes; 0 = the whole device / file */
    uint32_t segment_size;     /* bytes, multiple of 4096 (8 MiB) */
    bool segment_size_given;   /* false: an existing file (set) with our
                                  superblock keeps its own segment size;
                                  segment_size is for a new format only */
    uint32_t block_size;       /* raw bytes per block (4 KiB: with the
                                  dictionary 0.28 device bytes per logical
                                  byte on JSON-like values, 16 KiB without
                                  one 0.23, for a quarter of the
                                  decompression per hit) */
    int compression_level;     /* zstd level; FLASH_LEVEL_NONE = none (1:
                                  on 16 KiB JSON-like blocks without a
                                  dictionary 4.51x vs 4.58x at 3, for 14%
                                  less compressor CPU) */
    size_t dict_size;          /* zstd dictionary trained on the first
                                  spilled values, bytes (64 KiB; 0 = none;
                                  <= FLASH_DICT_MAX). See dict_train.h. */
    unsigned io_depth;         /* per-worker reads in flight (64) */
    size_t read_bytes_cap;     /* per-worker bytes in flight (4 MiB) */
    size_t min_item_size;      /* items smaller are not spilled (0) */
    unsigned min_ttl;          /* items expiring sooner are not spilled (0) */
    uint64_t index_capacity;   /* maximum items; 0 = size / FLASH_INDEX_MIN_ITEM_BYTES.
                                  The index grows to it as items arrive. */
    unsigned tag_bits;         /* index tag bits (0: the build's
                                  TC_FLASH_TAG_BITS; tests: 2) */
    unsigned queue_items;      /* writer queue length (4096) */
    unsigned stall_ms;         /* max back-pressure wait in enqueue (100) */
    unsigned reserve_segments; /* reclaim when free segments < this (1) */
    unsigned rewrite_pct;      /* reclaim rewrites at most this % of a
                                  segment's bytes (25) */
    bool reset;                /* reinitialise a foreign file/device */
    bool fast_ingest;          /* store blocks raw while the writer is behind
                                  a fast load, recompress when idle (ingest.c;
                                  on by default; off: always compress) */
    unsigned checkpoint_ms;    /* crash checkpoint interval (60000; 0 =
                                  none: a crash loses the flash contents) */
    uint64_t ram_bytes;        /* the RAM tier's limit (-m) in bytes, for
                                  the default segment size (store.c
                                  new_segment_size); 0: not known. Wiring,
                                  not an option */
    /* The RAM tier's flush state and cas counter, for a checkpoint (may be
     * NULL: none kept). Called on the writer thread, no flash lock held. */
    void (*ram_state)(void *ctx, struct flash_persist_state *out);
    void *ram_state_ctx;
    flash_clock_fn clock;
    void *clock_ctx;
    flash_written_fn written;  /* required */
    void *written_ctx;
    flash_log_fn log;          /* one-line notes (IO errors, checksum
                                  failures); NULL = a line on stderr */
    void *log_ctx;
} flash_settings_t;

/* The flash tier's options, one row per field above that a flag sets. */
extern const option_t flash_options[];
extern const size_t flash_options_n;

/* Fills *s from flash_options[] (path NULL, callbacks none). */
void flash_settings_default(flash_settings_t *s);

#endif /* TIERCACHE_FLASH_FLASH_SETTINGS_H */
