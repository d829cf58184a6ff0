/*
 * tiers/flash/flash_stats.h - the flash store's counters that the door
 * (tiers/cache.h, CACHE_FLASH_STATS_FIELDS) shows as they are: one list,
 * X(name, description), included by flash.h and cache.h (policy.c copies
 * them with it). No types, no functions.
 */
#ifndef TIERCACHE_FLASH_STATS_H
#define TIERCACHE_FLASH_STATS_H

#define FLASH_STATS_MIRRORED(X)                                               \
    X(flash_bytes_written, "bytes written to the device")                     \
    X(flash_items_written, "items spilled (new and rewritten)")               \
    X(flash_bytes_spilled, "compressed bytes of newly spilled items")         \
    X(flash_bytes_logical, "key+value bytes of newly spilled items")          \
    X(flash_bytes_read, "bytes read from the device")                         \
    X(flash_items, "items the index points at")                               \
    X(flash_index_bytes, "bytes of the index")                                \
    X(flash_index_capacity, "index capacity, items (grows with the items)")   \
    X(flash_index_bytes_max, "bytes the index may grow to")                   \
    X(flash_index_capacity_max, "index capacity at that size, items")         \
    X(flash_index_evictions, "index entries dropped: index full")             \
    X(flash_index_collateral, "index entries dropped: same tag as a write")   \
    X(flash_dict_bytes, "bytes of the zstd dictionary blocks use (0: none)")  \
    X(flash_segments_free, "segments free")                                   \
    X(flash_segments_used, "segments holding data")                           \
    X(flash_reclaims, "segments reclaimed")                                   \
    X(flash_blocks_fast, "blocks stored raw because the writer was behind")   \
    X(flash_blocks_incompressible, "blocks stored raw: zstd did not shrink them") \
    X(flash_recompress_segments, "segments rewritten to recompress raw blocks") \
    X(flash_bytes_stored, "bytes of blocks and summaries on flash now")       \
    X(flash_rewrites, "items rewritten by reclaim")                           \
    X(flash_reclaim_drops, "items whose flash copy reclaim dropped")          \
    X(flash_read_errors, "device read errors")                                \
    X(flash_write_errors, "device write errors")                              \
    X(flash_devices, "flash devices (members of the device set)")             \
    X(flash_devices_failed, "flash devices failed in this run (not used)")    \
    X(flash_checksum_failures, "blocks that failed their checksum")           \
    X(flash_drops_io, "evictions dropped: device failing")                   \
    X(flash_recovered_items, "items the last start recovered")                \
    X(flash_recovery_errors, "segments, maps or dictionaries recovery skipped") \
    X(flash_checkpoints, "crash checkpoints taken")                           \
    X(flash_checkpoints_invalidated, "checkpoints a change made unusable")    \
    X(flash_checkpoints_dirty, "checkpoint builds a change spoiled")            \
    X(flash_checkpoint_kills, "changed keys journaled against the checkpoint") \
    X(flash_checkpoint_extends, "sealed segments the checkpoint keeps too")    \
    X(flash_checkpoint_extends_skipped, "sealed segments it could not keep")

#endif /* TIERCACHE_FLASH_STATS_H */
