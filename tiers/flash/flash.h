/*
 * tiers/flash/flash.h - the flash tier's own narrow API, used only by
 * tiers/cache.c (the glue between RAM and flash).
 *
 * What it is: a ring of segments on a file or block device (device.h,
 * superblock.h), filled by ONE writer thread that owns the open segment
 * builder (segment.h; block sealing and zstd compression happen on that
 * thread, never on a worker), a compact in-RAM index (index.h) from key hash
 * to (segment, block), per-worker async reads (aio.h, libaio + eventfd) and
 * reclaim of the oldest segment when free segments run low.
 *
 * Data flow
 *   RAM eviction --flash_enqueue()--> writer queue (bounded) --writer thread-->
 *     flash_seg_add (open segment in RAM) --> index_insert --> due list
 *     --> written_fn() (in flash_complete() on a worker short of memory,
 *     or on the writer when nobody takes them)
 *     full segment --> finalize --> one large aligned O_DIRECT write (libaio)
 *   RAM miss --flash_lookup()--> index candidates --> for each candidate:
 *     segment still in memory (open / being written)  -> served at once
 *     segment on the device -> one async block read on the worker's aio ctx
 *     -> completion in flash_worker_poll() -> checksum, decompress, full-key
 *     compare -> read_fn(result)
 *
 * The evicted item stays readable in RAM until the writer has added it and
 * the index points at it (written_fn is how the RAM tier learns it may drop
 * its copy), so there is no window in which a spilled key is findable
 * nowhere.
 *
 * Threads: flash_t is shared; flash_enqueue/flash_remove/flash_* stats are
 * thread-safe. A flash_worker_t is used by one worker thread at a time;
 * read_fn runs on that thread, inside flash_lookup (in-memory hits) or
 * flash_worker_poll (device hits). written_fn runs inside flash_complete()
 * (on the thread that calls it: a worker that needs the memory back) or on
 * the writer thread (when it is idle, its list of due callbacks is full, or
 * an item of the same key must be indexed next); callbacks run one at a
 * time, in the order the writer finished the items.
 *
 * Lock order (outermost first): the completion lock (held only while
 * written_fn runs) -> the caller's RAM stripe lock -> segment table lock ->
 * index bucket locks. read_fn is called with no flash lock held; written_fn
 * with only the completion lock (it may take RAM and flash locks, and must
 * not call flash_complete / flash_destroy).
 */
#ifndef TIERCACHE_FLASH_FLASH_H
#define TIERCACHE_FLASH_FLASH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flash/flash_stats.h"
#include "flash/flash_settings.h"

typedef struct flash flash_t;
typedef struct flash_worker flash_worker_t;

/* flash_status_e, the callback types and flash_settings_t (with its one
 * table of defaults, flash_options.c) live in flash_settings.h, which the
 * door's cache.h includes too. */

/* The default index maximum (settings.index_capacity 0) allows one item per
 * this many device bytes: 20-200 B values take ~100 compressed bytes per
 * record, JSON-like 200 B - 4 KiB ~330. The index only grows to it as
 * items arrive, so a generous maximum costs address space, not memory. */
#define FLASH_INDEX_MIN_ITEM_BYTES 64

/*
 * Opens or creates the device and holds it exclusively until
 * flash_destroy (device.h: a file lock, O_EXCL for a block device; held by
 * another process: FLASH_EBUSY, nothing touched), checks / writes the
 * superblock, sizes the index, starts the writer thread. A file with a valid
 * tiercache superblock is reinitialised (until restart recovery exists):
 * then FLASH_OK and `err` holds a one-line note for the log (err[0] == 0
 * when there is nothing to say). Foreign content (any non-zero byte
 * anywhere in a file without our superblock) is FLASH_EFOREIGN, a damaged
 * superblock (magic intact, checksum or fields bad) FLASH_EDAMAGED, unless
 * s->reset. On failure a one-line reason naming the path is written to err
 * (only what happened), and a file this call created is removed; an
 * existing file is never removed or truncated, and is written only once
 * every check and allocation has passed. Memory outside the cache's -m:
 * index + segment buffers + queue, see flash_memory().
 */
flash_status_e flash_create(flash_t **out, const flash_settings_t *s,
                            char *err, size_t errlen);

/* ---- restart ---------------------------------------------------------- */

typedef enum flash_recovery_kind {
    FLASH_RECOVERY_NEW = 0,  /* formatted at this start (new file, reset,
                                another geometry) */
    FLASH_RECOVERY_CLEAN,    /* the index of a clean shutdown was rebuilt */
    FLASH_RECOVERY_CHECKPOINT, /* it crashed: the index of its last valid
                                  crash checkpoint was rebuilt */
    FLASH_RECOVERY_CRASH,    /* it crashed and left no valid checkpoint:
                                formatted anew */
} flash_recovery_kind_e;

/* What flash_create found and rebuilt. */
typedef struct flash_recovery {
    flash_recovery_kind_e kind;
    uint64_t items;            /* index entries rebuilt */
    uint64_t bytes;            /* device bytes of the segments kept */
    uint64_t segments;         /* segments kept */
    uint64_t segments_lost;    /* listed but failed their checks */
    uint64_t killed;           /* entries a crash checkpoint's journal
                                  names (changed after it): not kept */
    uint64_t extended;         /* segments sealed after the checkpoint
                                  that it kept too (EXTEND records) */
    double seconds;            /* time spent */
    int64_t flush_oldest_live; /* the flush_all horizon at shutdown (unix
                                  seconds, 0 = none) */
    uint64_t flush_oldest_cas; /* ... its cas horizon (0 = none) */
    uint64_t max_cas;          /* the largest cas handed out before */
} flash_recovery_t;

/* The recovery flash_create did. O(1), any thread. */
void flash_recovery(const flash_t *f, flash_recovery_t *out);

/* The RAM tier's state a clean shutdown keeps (restored at start through
 * flash_recovery). */
typedef struct flash_persist_state {
    int64_t flush_oldest_live; /* unix seconds, 0 = none */
    uint64_t flush_oldest_cas;
    uint64_t max_cas;
    uint64_t ram_items;        /* RAM items queued for it (for the log) */
    uint64_t ram_refused;      /* RAM items that could not be (admission) */
} flash_persist_state_t;

typedef struct flash_persist_report {
    uint64_t items;            /* index entries the live map keeps */
    uint64_t segments;         /* segments in the ring */
    uint64_t map_bytes;        /* encoded live map */
    uint64_t reclaimed;        /* segments reclaimed to make room for it */
    double seconds;
} flash_persist_report_t;

/*
 * The clean shutdown (format.h CLEAN SHUTDOWN): stops the writer after it
 * has written everything queued, writes the open segment, the live map and
 * the state record CLEAN with `st`, each made durable (fdatasync) before
 * the next. Afterwards the tier serves nothing and writes nothing more:
 * call flash_destroy next. Every flash_worker_t must be destroyed first.
 * FLASH_OK, or an error with a one-line reason in err (the next start then
 * sees a run that did not stop cleanly). Blocking: reads every summary of
 * the ring (O(items)).
 */
flash_status_e flash_persist(flash_t *f, const flash_persist_state_t *st,
                             flash_persist_report_t *rep, char *err, size_t errlen);

/* The segment size in use: the settings' for a new format, else the
 * existing file's (flash_settings_t.segment_size_given). O(1). */
uint32_t flash_segment_size(const flash_t *f);

/* Did flash_create create the file (it did not exist before)? O(1). */
bool flash_file_created(const flash_t *f);

/* For a start that failed after flash_create created the file (the server
 * never served): as flash_destroy, and the file is removed. A file that
 * existed before is kept as it is (call flash_persist first to keep its
 * contents). NULL-safe. */
void flash_destroy_unstarted(flash_t **f);

/* Stops the writer (finishing the items it has), waits for IO, frees all.
 * Every flash_worker_t must be destroyed first. NULL-safe; sets *f NULL. */
void flash_destroy(flash_t **f);

/* Bytes of RAM the flash tier uses outside -m (index, buffers): the sum of
 * flash_memory_parts(). Any thread; O(1). */
size_t flash_memory(const flash_t *f);

/* The parts of flash_memory(), bytes. Buffers count at their full size
 * (the budget: what they hold at most), whether or not all of it is
 * resident yet. */
typedef struct flash_memory_parts {
    size_t index;      /* the item index (grows with its items) */
    size_t builders;   /* FLASH_NBUILDERS segment builders: segment + block */
    size_t reclaim;    /* reclaim's segment buffer and record scratch */
    size_t queues;     /* writer queue, completion list, segment table */
    size_t workers;    /* per-worker scratch, hit buffer, read buffers, ops */
    size_t zstd;       /* writer's CCtx (at its largest) and DCtx, workers' DCtx */
    size_t dict;       /* dictionary (content, CDict, DDict) or its trainer */
    size_t checkpoint; /* crash checkpoint key filters and journal page */
} flash_memory_parts_t;

/* Fills *out with the parts of flash_memory(). Any thread; O(1). */
void flash_memory_parts(const flash_t *f, flash_memory_parts_t *out);

/* The most each part of flash_memory() may reach from now on, bytes (the
 * index at its capacity, every worker's read buffers at their caps, the
 * checkpoint filters for a full index, ...), with nworkers flash workers:
 * the flash tier's share of the process's memory budget. Any thread; O(1).
 * tiers/flash/memory.c explains each term. */
void flash_memory_max(const flash_t *f, unsigned nworkers, flash_memory_parts_t *out);

/* ---- write path ------------------------------------------------------- */

typedef struct flash_wr_item {
    const char *key;      /* must stay valid until written_fn: the caller */
    size_t nkey;          /* keeps the RAM item referenced until then */
    const char *value;
    uint32_t nbytes;
    uint32_t flags;
    int64_t exptime;      /* absolute unix, 0 = never */
    uint64_t cas;
    int64_t store_time;   /* unix seconds the item was stored */
    uint8_t marks;        /* meta marks (CACHE_MARK_* bits) and
                             FLASH_REC_FETCHED, kept on flash */
    uint64_t hash;        /* XXH3_64bits(key, nkey), exactly: the reader
                             rehashes the keys of a block to tell which
                             record an index slot belongs to */
    void *token;          /* handed back to written_fn */
} flash_wr_item_t;

/*
 * Admission only: would this item be spilled? FLASH_OK or FLASH_EADMIT.
 * O(1), no locks.
 */
flash_status_e flash_admit(const flash_t *f, size_t nkey, size_t nbytes,
                           int64_t exptime);

/*
 * Queues an evicted item for the writer. Waits for queue space at most
 * stall_ms (back-pressure), then returns FLASH_EFULL (counted as a drop);
 * FLASH_EADMIT if admission refuses; FLASH_EIO while the device is failing
 * (drop). On FLASH_OK written_fn(token) will be called exactly once.
 * Called with no cache lock held.
 */
flash_status_e flash_enqueue(flash_t *f, const flash_wr_item_t *it);
/* flash_enqueue waiting at most wait_ms (0: not at all) for queue space:
 * the caller's own bound (the door shares one stall budget among all the
 * waits of a request). */
flash_status_e flash_enqueue_wait(flash_t *f, const flash_wr_item_t *it, unsigned wait_ms);

/*
 * Queues an item for a clean shutdown (a RAM item that must survive it):
 * as flash_enqueue, but waits for queue space as long as the writer runs,
 * and no written_fn is called for it (the caller keeps the item's memory
 * valid until flash_persist returns). FLASH_OK, FLASH_EADMIT (admission),
 * FLASH_EIO (device failing) or FLASH_EFULL (writer stopping).
 */
flash_status_e flash_enqueue_persist(flash_t *f, const flash_wr_item_t *it);

/*
 * Runs up to `max` due written_fn callbacks on the calling thread, in order
 * (waits while another thread is running callbacks). Returns how many ran.
 * Call holding no lock (the callbacks take the cache's locks). The writer
 * also runs them when nobody does, so calling this is optional; a thread
 * waiting for spilled items' memory calls it to get it back at once,
 * without a wakeup of its own per item. O(max) callbacks.
 */
unsigned flash_complete(flash_t *f, unsigned max);

/*
 * Waits at most timeout_ms until some callback is due (the writer wakes
 * waiters once per batch, not per item). True if one is due now. Call
 * holding no lock.
 */
bool flash_complete_wait(flash_t *f, unsigned timeout_ms);

/*
 * A hint without a lock (racy read): is a load outrunning the writer - in
 * the last FLASH_FAST_WINDOW_MS window it took FLASH_FAST_MIN_ITEMS items
 * or more while clients waited for it (ingest.c, the rule fast ingest
 * uses)? O(1).
 */
bool flash_load_behind_hint(const flash_t *f);

/*
 * A client is about to change the key of `hash` (store, delete, arith,
 * touch): if the valid crash checkpoint may keep it (its filters say
 * maybe), the hash goes into its kill journal first (one 4 KiB page
 * write, complete on return; a full journal or a failed write makes the
 * checkpoint unusable instead: state write + fdatasync); if the one being
 * built may keep it, the hash is listed, journaled at its publish. Call
 * before the change, holding no lock. Otherwise O(1) and lock-free.
 */
void flash_note_mutation(flash_t *f, uint64_t hash);

/* Is a crash checkpoint valid or being built now (so that
 * flash_note_mutation may have work)? A caller can skip hashing the key
 * when not. Lock-free, O(1). */
bool flash_checkpoint_active(const flash_t *f);

/* A flush_all: as flash_note_mutation for every key. */
void flash_note_flush(flash_t *f);

/*
 * The key was set, deleted or flushed in RAM: removes every index entry
 * with the key's tag (both buckets), so no older flash copy stays
 * findable. Items still queued for the writer with this hash are not
 * affected (the caller's RAM copy is newer and wins). The entries that
 * were other keys' (same tag) are counted in flash_index_collateral by the
 * writer, which reads the removed blocks to tell (writer.c). O(1); never
 * waits on the device.
 */
void flash_remove(flash_t *f, uint64_t hash);

/*
 * As flash_remove, for a key whose value did not change (a promotion moved
 * it to RAM and cannot keep its flash location): the crash checkpoint
 * stays valid (the key's next change is checked as any). O(1).
 */
void flash_forget(flash_t *f, uint64_t hash);

/*
 * A flush_all took effect: records stored at or before oldest_live (unix
 * seconds; 0 = no flush) are dead once oldest_live <= now. Reclaim drops
 * them instead of rewriting; the reader leaves the check to the caller
 * (hit->store_time). Thread-safe, O(1).
 */
void flash_set_flush(flash_t *f, int64_t oldest_live);

/* ---- read path -------------------------------------------------------- */

/* Per-worker read context: aio ctx + eventfd, zstd dctx, read buffers.
 * FLASH_ENOMEM, or FLASH_EIO when no aio context can be set up (logged). */
flash_status_e flash_worker_create(flash_t *f, flash_worker_t **out);
/* Waits for the worker's reads in flight; every pending lookup gets its
 * read_fn(FLASH_MISS) here. NULL-safe; sets *fw NULL. */
void flash_worker_destroy(flash_worker_t **fw);

/* The eventfd the worker's event loop watches for read completions. */
int flash_worker_fd(const flash_worker_t *fw);

/* Reaps completions and runs their read_fn callbacks; issues queued reads.
 * Call when flash_worker_fd is readable. Never blocks. */
void flash_worker_poll(flash_worker_t *fw);

/* A flash hit, valid only during the read_fn call. */
typedef struct flash_hit {
    const char *key;
    size_t nkey;
    const char *value;
    uint32_t nbytes;
    uint32_t flags;
    int64_t exptime;      /* absolute unix, 0 = never */
    uint64_t cas;
    int64_t store_time;
    uint8_t marks;        /* meta marks the item had when it was spilled */
    unsigned hits;        /* index hit counter after this hit (0..3) */
    uint64_t loc;         /* opaque location: for flash_loc_current() */
} flash_hit_t;

/* st: FLASH_OK (hit != NULL), FLASH_MISS, FLASH_EIO or FLASH_ECHECKSUM
 * (hit == NULL; counted and logged; all three are a miss to the caller).
 * read_fn may call flash_lookup / flash_remove on the same worker (not
 * flash_worker_poll / flash_worker_destroy). */
typedef void (*flash_read_fn)(void *ctx, flash_status_e st,
                              const flash_hit_t *hit);

/*
 * Looks a key up. FLASH_MISS: no candidate (read_fn not called).
 * FLASH_OK: found in memory, read_fn already called. FLASH_PENDING: device
 * read(s) issued or queued; read_fn will be called exactly once from
 * flash_worker_poll() on this thread. Several candidates (tag collisions)
 * are tried in turn; the full key decides. Expired records are the caller's
 * business (hit has exptime / store_time). O(1) + one block decode.
 */
flash_status_e flash_lookup(flash_worker_t *fw, uint64_t hash, const char *key,
                            size_t nkey, flash_read_fn fn, void *ctx);

/*
 * True if the index still holds location `loc` for this hash, i.e. no
 * set/delete/flush/reclaim removed it since the read. The cache checks this
 * under its stripe lock before installing a read result into RAM, so a late
 * read never overwrites a newer value. O(1).
 */
bool flash_loc_current(flash_t *f, uint64_t hash, uint64_t loc);

/*
 * True if the index still holds location `loc` for this hash and its
 * segment is live, ignoring the removal epoch. Weaker than
 * flash_loc_current (which also turns false when any key sharing the
 * hash's epoch slot was removed): use it only to decide that an unmodified
 * promoted copy need not be written again, never to install a read. O(1).
 */
bool flash_loc_indexed(flash_t *f, uint64_t hash, uint64_t loc);

/* ---- walking the records (lru_crawler metadump) ----------------------- */

/* A live record, valid only during the flash_walk_fn call. */
typedef struct flash_walk_rec {
    const char *key;
    size_t nkey;
    uint32_t nbytes;
    uint32_t flags;
    int64_t exptime;      /* absolute unix, 0 = never */
    uint64_t cas;
    int64_t store_time;
    uint8_t marks;        /* as flash_wr_item_t.marks (FLASH_REC_FETCHED) */
    uint64_t hash;        /* XXH3_64bits of the key */
} flash_walk_rec_t;

/* Return false to stop the walk. Called with no flash lock held. */
typedef bool (*flash_walk_fn)(void *ctx, const flash_walk_rec_t *r);

typedef struct flash_walk_stats {
    uint64_t segments;         /* segments walked */
    uint64_t segments_skipped; /* reused or freed under the walk */
    uint64_t blocks;           /* blocks decoded */
    uint64_t block_errors;     /* blocks or segment headers that failed to
                                  validate (skipped) */
    uint64_t io_errors;        /* segment reads that failed (skipped) */
    uint64_t records;          /* records seen */
    uint64_t listed;           /* records handed to the callback */
} flash_walk_stats_t;

/*
 * Lists every live record once: segments in ring order (tail to head) from
 * a snapshot of the ring at the start; on-device segments read with
 * synchronous aligned O_DIRECT preads of one segment at a time, in-memory
 * (open / being written) segments copied out under their builder lock. A
 * record is listed only if the index still points at its block and it owns
 * that slot (the last record of the key in the block), its segment was not
 * reused meanwhile, and it is neither expired nor flushed (flash's flush
 * time; the caller may apply stricter rules). Records added after the walk
 * passed their segment are missed; a record that reclaim rewrites ahead of
 * the walk while it runs may be seen twice (the caller dedups by hash if it
 * must). IO errors and bad blocks are counted in *stats (may be NULL),
 * logged once per segment and skipped. `stop` (may be NULL) is polled
 * between blocks. BLOCKING (a whole device is read): call on a thread of
 * its own, never on a worker. FLASH_OK, or FLASH_ENOMEM (nothing walked).
 * Memory: one segment-size buffer + one block of scratch.
 */
flash_status_e flash_walk(flash_t *f, flash_walk_fn fn, void *ctx,
                          const _Atomic bool *stop, flash_walk_stats_t *stats);

/* ---- stats ------------------------------------------------------------ */

/* Every counter of the store: the mirrored ones and those the glue
 * combines with its own (hits, misses, drops) or keeps to itself. */
#define FLASH_STATS_FIELDS(X)                                                 \
    FLASH_STATS_MIRRORED(X)                                                   \
    X(flash_hits, "lookups that found the key on flash")                      \
    X(flash_misses, "lookups with candidates that did not find the key")      \
    X(flash_drops_admission, "evictions not spilled: admission")              \
    X(flash_drops_stall, "evictions dropped: writer behind past stall bound") \
    X(flash_queue_stalls, "enqueues that waited for queue space")

typedef struct flash_stats {
#define FLASH_STATS_DECLARE(name, desc) uint64_t name;
    FLASH_STATS_FIELDS(FLASH_STATS_DECLARE)
#undef FLASH_STATS_DECLARE
} flash_stats_t;

void flash_stats_snapshot(flash_t *f, flash_stats_t *out);

#endif /* TIERCACHE_FLASH_FLASH_H */
