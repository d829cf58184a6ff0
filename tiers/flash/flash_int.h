/*
 * tiers/flash/flash_int.h - internals of the flash tier shared by store.c,
 * writer.c, reader.c and reclaim.c. Not part of the API (flash.h is).
 *
 * Segment table: one entry per segment id. The ring runs from `tail` (the
 * oldest segment holding data) to `head` (the next segment to open); the
 * open segment is head - 1. Segments in [tail, head) are "in the ring"
 * (OPEN, WRITING, USED or BAD); the others are FREE.
 *
 *   FREE --open_next--> OPEN --seal--> WRITING --write ok--> USED --reclaim--> FREE
 *                                         \--write error--> BAD --reclaim--> FREE
 *
 * OPEN and WRITING segments live in a builder (bld[i]) and are served from
 * memory under that builder's lock; USED segments are read from the device.
 * A FREE segment may still have `readers` (device reads issued before its
 * reclaim bumped the generation): it is not reused until they finish.
 *
 * Lock order (outermost first): the cache's stripe lock -> seg_lock ->
 * builder lock (bld_lock[i]) -> index bucket locks. q_lock and d_lock are
 * leaves (never held with another flash lock). c_lock (complete.c) is the
 * OUTERMOST of all: it is held while written_fn callbacks run, and they take
 * the cache's stripe lock and then flash locks; nobody takes c_lock holding
 * any lock. A worker may go seg_lock -> bld_lock and
 * then drop seg_lock (hand over hand): the writer resets or retires a
 * builder only holding seg_lock and then that builder's lock, so a builder
 * a worker holds cannot change identity under it. The writer adds to a
 * builder holding only its builder lock.
 */
#ifndef TIERCACHE_FLASH_FLASH_INT_H
#define TIERCACHE_FLASH_FLASH_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <zstd.h>

#include "flash/aio.h"
#include "flash/bloom.h"
#include "flash/device.h"
#include "flash/devset.h"
#include "flash/dict.h"
#include "flash/dict_train.h"
#include "flash/flash.h"
#include "flash/index.h"
#include "flash/journal.h"
#include "flash/segment.h"
#include "flash/superblock.h"

#define FLASH_NBUILDERS 2
#define FLASH_RM_STRIPES 64
#define FLASH_EPOCHS 1024
#define FLASH_MIN_SEGMENTS 4u
/* Without --flash-segment-size a new file gets segments small enough for
 * this many, but not below FLASH_AUTO_MIN_SEGMENT (store.c
 * new_segment_size). */
#define FLASH_AUTO_SEGMENTS 64u
#define FLASH_AUTO_MIN_SEGMENT (1024u * 1024u)
/* ... and while a segment is more than 1/FLASH_AUTO_RAM_DIV of -m */
#define FLASH_AUTO_RAM_DIV 4u
/* reclaim never rewrites more than this share, whatever the settings say:
 * each reclaim then frees at least half a segment net (no livelock) */
#define FLASH_MAX_REWRITE_PCT 50u
/* while the device fails, enqueue refuses for this long after each error */
#define FLASH_FAIL_HOLD_MS 1000
/* completions: hash slots of the "same key pending" counter, and how many
 * callbacks one pass takes off the list at a time */
#define FLASH_DONE_HSLOTS 16384u
#define FLASH_DONE_CHUNK 64u
/* completions the writer holds before listing them in one d_lock section
 * (flash_done_hold; bench/RESULTS.md "Issue 14 item 3, h-ingest") */
#define FLASH_DONE_HOLD 16u
/* crash checkpoints: filters kept after a publish (a worker may still
 * probe them); segments sealed during a build that it extends after its
 * publish (more are not kept by it: a miss after a crash, never stale);
 * keys the extension filter is planned for, at least, and in segments */
#define FLASH_CK_RETIRED 4
#define FLASH_CK_PEND 64u
#define FLASH_CK_EXT_MIN 65536u
#define FLASH_CK_EXT_SEGS 8u
/* removals of keys a build may keep, journaled at its publish (more: the
 * build is not published) */
#define FLASH_CK_BKILL 2048u
/* KILLs remembered for an extend that looks its segment up meanwhile
 * (more: the segment is not kept) */
#define FLASH_CK_RECENT 256u

typedef enum fseg_state {
    FSEG_FREE = 0,
    FSEG_OPEN,
    FSEG_WRITING,
    FSEG_USED,
    FSEG_BAD,
} fseg_state_e;

typedef struct fseg {
    uint32_t gen;          /* bumped when reclaimed */
    uint8_t state;         /* fseg_state_e */
    int8_t bld;            /* builder index while OPEN / WRITING, else -1 */
    bool cksum_logged;     /* a checksum failure was logged this generation */
    unsigned readers;      /* device reads in flight */
    uint64_t seq;
    uint32_t data_bytes;   /* USED: the segment's data end (blocks + summary) */
    uint32_t fast_blocks;  /* USED: blocks stored raw because the writer was
                            * behind (ingest.c); recompressed by a rewrite */
} fseg_t;

/* flash_remove hands the writer up to this many removed locations with the
 * tombstone, for it to tell the key's own copy from other keys' */
#define FLASH_RM_VERIFY 2

/* A queued write: an item, or a tombstone (token unused, no callback). A
 * tombstone carries what flash_remove removed: nrm slots (0 < nrm), the
 * first FLASH_RM_VERIFY of them with their segment's generation then; the
 * writer counts the collateral ones (writer.c count_collateral). */
typedef struct wr_qent {
    flash_wr_item_t it;
    bool tomb;
    uint8_t nrm;
    index_loc_t rm[FLASH_RM_VERIFY];
    uint32_t rm_gen[FLASH_RM_VERIFY];
} wr_qent_t;

/* A due written_fn call (complete.c). */
typedef struct flash_done {
    void *token;
    uint64_t hash;
    flash_status_e st;
} flash_done_t;

#define FLASH_STAT_ATOMIC(name, desc) _Atomic uint64_t name;
typedef struct flash_counters {
    FLASH_STATS_FIELDS(FLASH_STAT_ATOMIC)
} flash_counters_t;
#undef FLASH_STAT_ATOMIC

#define FSTAT_ADD(f, field, n) \
    atomic_fetch_add_explicit(&(f)->st.field, (uint64_t)(n), memory_order_relaxed)

/* A live map being built (persist.c: flash_build_map, flash_map_*). */
typedef struct map_build {
    uint8_t *buf;
    uint64_t len;        /* encoded bytes */
    uint64_t alloc;      /* buffer bytes (multiple of FLASH_IO_ALIGN) */
    uint64_t live;       /* bits set */
    uint64_t segments;   /* table entries */
    uint64_t first_seq;  /* seq of the first entry (0: none) */
    /* while it is built (begin .. finish) */
    uint32_t n, next;    /* ring segments snapshot, the next to read */
    struct flash_map_seg *tab;
    uint8_t **runs;
    bloom_t *keys;
} map_build_t;

struct flash {
    flash_settings_t s;        /* copy; s.path points at path */
    char *path;
    devset_t *set;             /* the device set (one or more members) */
    flash_sb_t sb;
    uint64_t instance_id;
    index_t *idx;
    uint32_t nseg;
    uint32_t segsize;
    flash_dicts_t dicts;       /* blocks' dictionaries (dict.h: atomics) */
    uint32_t max_record;       /* flash_seg_max_record */
    unsigned reserve;          /* effective reserve_segments */
    unsigned rewrite_pct;      /* effective */

    /* segment table (seg_lock) */
    pthread_mutex_t seg_lock;
    pthread_cond_t seg_cond;   /* readers dropped to 0 */
    fseg_t *segs;
    _Atomic uint32_t head;     /* next segment to open (read racily by age) */
    uint32_t tail;             /* oldest segment in the ring */
    unsigned walks;            /* flash_walk calls running (seg_lock): the
                                * recompression pass waits (it would move
                                * records ahead of a walk: listed twice) */
    uint32_t nring;            /* segments in the ring */

    /* builders: identity changes under seg_lock + bld_lock[i] */
    flash_seg_t *bld[FLASH_NBUILDERS];
    pthread_mutex_t bld_lock[FLASH_NBUILDERS];
    uint32_t bld_seg[FLASH_NBUILDERS];   /* segment id, when busy */
    bool bld_busy[FLASH_NBUILDERS];      /* OPEN or WRITING (writer only) */
    uint64_t bld_new_raw[FLASH_NBUILDERS];  /* raw bytes of new items */
    uint64_t bld_rew_raw[FLASH_NBUILDERS];  /* raw bytes of rewrites */

    /* writer thread state (writer thread only, after create) */
    pthread_t writer;
    bool writer_started;
    int open_bld;              /* builder of the OPEN segment, -1 = none */
    aio_ctx_t *waio;
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *wdctx;
    flash_dict_trainer_t *dtrain; /* NULL once sampling is over or off */
    uint8_t *rbuf;             /* reclaim buffer, segment_size, aligned */
    uint8_t *rscratch;         /* reclaim decompression, max_record */
    uint64_t next_seq;
    unsigned writes_inflight;
    bool in_reclaim;           /* a reclaim is walking rbuf */
    bool wr_fast;              /* behind: new blocks are stored raw (ingest.c) */
    uint64_t wr_seen_waits;    /* flash_done_waits at the window's start */
    int64_t wr_win_start;      /* mono ms: the pacing window's start */
    uint32_t wr_win_items;     /* items taken in the window */
    uint32_t wr_behind;        /* windows in a row the writer was behind
                                  (written by the writer with
                                  __atomic_store_n; workers read it) */
    _Atomic int ingest_force;  /* flash_ingest_force: 0 = the policy */
    uint32_t fast_segs;        /* ring segments with fast_blocks > 0 */
    int64_t wr_last_item_ms;   /* when the writer last took an item */
    uint64_t ing_seen_hits;    /* flash_hits at the last look (ingest.c) */
    int64_t ing_read_ms;       /* mono ms flash_hits was last seen moving */
    int64_t ing_step_ms;       /* mono ms of the last recompression step */
    struct flash_wctx {
        struct flash *f;
        int b;
    } wctx[FLASH_NBUILDERS];   /* aio callback args of segment writes */

    /* queue (q_lock) */
    pthread_mutex_t q_lock;
    pthread_cond_t q_nonempty;
    pthread_cond_t q_nonfull;
    wr_qent_t *q;
    unsigned qcap, qhead, qlen;
    bool stop;

    /* completions (complete.c): written_fn calls made due by the writer,
     * run in order by whoever holds c_lock (a worker that needs memory, or
     * the writer when idle / the list is full / a same-hash item comes) */
    pthread_mutex_t c_lock;    /* outermost: held across callbacks */
    pthread_mutex_t d_lock;    /* leaf: the list, counts, waiters */
    pthread_cond_t d_cond;     /* entries were added (waiters > 0) */
    flash_done_t *done;
    unsigned dcap, dhead, dlen;
    unsigned d_waiters;
    uint64_t d_waits;          /* flash_complete_wait calls that waited */
    _Atomic uint16_t *d_hcount; /* entries (listed or running) per hash slot;
                                 * changed under d_lock, read by the writer
                                 * without it */
    flash_done_t held[FLASH_DONE_HOLD]; /* writer only: not yet listed */
    unsigned nheld;

    /* health */
    _Atomic int64_t fail_until_ms;  /* monotonic ms; enqueue says EIO before */
    _Atomic int64_t flush_oldest_live;
    _Atomic uint64_t worker_bytes;  /* per-worker buffers, for flash_memory */
    _Atomic uint64_t worker_zstd_bytes; /* per-worker DCtx, for flash_memory */

    /* flash_remove vs reclaim rewrites: a rewrite checks, appends and
     * relocates under its hash's stripe, so a remove cannot slip between
     * and leave an unindexed (orphan) copy in a block (see reader.c) */
    pthread_mutex_t rm_lock[FLASH_RM_STRIPES];
    /* bumped by every flash_remove of a hash in the stripe: part of a hit's
     * loc, so flash_loc_current sees a remove since the read began */
    _Atomic uint32_t epoch[FLASH_EPOCHS];

    flash_counters_t st;

    /* restart (recover.c, persist.c) */
    uint64_t run_count;        /* starts of this format, this one included */
    flash_recovery_t rec;      /* what this start recovered */
    bool persisted;            /* flash_persist ran: write nothing more */

    /* crash checkpoints (ckpt.c) */
    pthread_mutex_t ck_lock;   /* leaf: the state record's invalidation */
    _Atomic bool ck_valid;     /* the state record names a checkpoint */
    _Atomic(bloom_t *) ck_filter; /* keys the valid checkpoint may keep */
    _Atomic(bloom_t *) ck_build;  /* ... the one being built (NULL: none) */
    _Atomic bool ck_dirty;     /* a flush during the build, or too many
                                  removals of its keys */
    pthread_mutex_t ck_bklock; /* leaf: ck_build's end, ck_bkill */
    uint32_t ck_nbkill;        /* [ck_bklock] removals of keys the build
                                  may keep, since it began */
    uint64_t ck_bkill[FLASH_CK_BKILL];
    _Atomic(bloom_t *) ck_ext;    /* keys of the segments extended into the
                                     valid checkpoint (NULL: none) */
    bloom_t *ck_retired[FLASH_CK_RETIRED]; /* [ck_lock] filters replaced lately */
    flash_state_t ck_state;    /* [ck_lock] the state record last written */
    /* the valid checkpoint's kill journal (journal.h); lock order:
     * ck_jlock -> ck_lock */
    pthread_mutex_t ck_jlock;  /* held across a kill's page write */
    uint8_t *ck_jpage;         /* [ck_jlock] the page being filled (aligned) */
    uint32_t ck_jno;           /* [ck_jlock] its number */
    uint64_t ck_jseq;          /* [ck_jlock + ck_lock] the map seq its pages carry */
    uint64_t ck_nkilled;       /* [ck_jlock] KILLs journaled, ever */
    uint64_t ck_recent[FLASH_CK_RECENT]; /* [ck_jlock] the last of them */
    uint32_t ck_jfrom;         /* [ck_jlock] the current page's words from
                                  here on follow its last EXTEND (dedupe) */
    uint32_t ck_jpages;        /* [ck_lock + ck_jlock] pages the slot has */
    uint64_t ck_joff;          /* [ck_lock + ck_jlock] device offset of page 0 */
    uint64_t ck_ext_room;      /* writer: keys ck_ext may still take */
    uint32_t ck_seg_items_max; /* writer: most items a sealed segment had */
    bool ck_collect;           /* writer: a build runs: remember what seals */
    uint32_t ck_npend;         /* writer: segments sealed during the build */
    uint32_t ck_pend[FLASH_CK_PEND];
    uint64_t ck_pend_seq[FLASH_CK_PEND];
    map_build_t ck_mb;         /* writer: the build in progress */
    bool ck_building;          /* writer: ck_mb is being stepped */
    int64_t ck_last_ms;        /* writer: when the last build ended */
    uint64_t ck_last_seq;      /* writer: next_seq then */
    bool ck_too_big_logged;    /* writer */
};

static inline unsigned flash_rm_stripe(uint64_t hash)
{
    return (unsigned)(hash >> 7) % FLASH_RM_STRIPES;
}

static inline unsigned flash_epoch_slot(uint64_t hash)
{
    return (unsigned)(hash >> 11) % FLASH_EPOCHS;
}

/* A hit's opaque location: gen (16) | epoch (16) | segment (18) | block (14) */
static inline uint64_t flash_loc_pack(uint32_t gen, uint32_t epoch, uint32_t seg,
                                      uint32_t blkoff)
{
    return (uint64_t)(gen & 0xffff) << 48 | (uint64_t)(epoch & 0xffff) << 32 |
           (uint64_t)seg << INDEX_OFF_BITS | blkoff;
}

/* store.c */
int64_t flash_now(const flash_t *f);
int64_t flash_mono_ms(void);
/* Absolute CLOCK_REALTIME deadline ms from now (for condvar waits). */
struct timespec flash_deadline_ms(unsigned ms);
void flash_log(const flash_t *f, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
uint64_t flash_seg_dev_off(const flash_t *f, uint32_t seg);
/* Age of a segment for index eviction: ring distance from the head. */
uint64_t flash_seg_age(void *ctx, uint32_t seg);
/* Is the record expired or flushed at `now`? */
bool flash_record_dead(const flash_t *f, const flash_record_t *r, int64_t now);
/* Does the record `found` (from view v) own the index slot with tag `tag` in
 * `bucket`? Only if no LATER record of the block has that tag and that
 * bucket among its two (keys hashed with XXH3_64bits, as flash.h requires):
 * every insert removes older same-tag slots of its buckets, so a slot
 * belongs to the last such record. O(records after found). */
bool flash_slot_owner(const flash_t *f, const flash_block_view_t *v,
                      const flash_record_t *found, unsigned tag, uint64_t bucket);

/* writer.c */
void *flash_writer_main(void *arg);
/* Adds a record to the open segment (opening / rotating as needed).
 * FLASH_OK with *loc set, else an error (the item is not added). */
flash_status_e flash_writer_add(flash_t *f, const flash_record_t *rec, uint64_t hash,
                                bool rewrite, flash_block_loc_t *loc);
/* Adds to the open segment only: FLASH_EFULL if there is none or it is
 * full (never rotates, never blocks). Counts as a rewrite. */
flash_status_e flash_writer_try_add(flash_t *f, const flash_record_t *rec, uint64_t hash,
                                    flash_block_loc_t *loc);
/* Seals and writes the open segment (if any) and opens the next one. */
flash_status_e flash_writer_rotate(flash_t *f);
/* Reaps the writer's IO; blocking waits up to timeout_ms (0: none). */
void flash_writer_reap(flash_t *f, int timeout_ms);
/* Stops the writer thread: it takes every queued item, waits for its
 * writes and runs the due callbacks, then exits; joined here. The caller
 * then owns the writer state (persist.c). No-op if not running. */
void flash_writer_stop(flash_t *f);
/* With the writer stopped: seals and writes the open segment (if any),
 * waits for every write, runs the due callbacks. Calling thread only. */
void flash_writer_finish(flash_t *f);

/* complete.c */
/* Allocates the list (cap entries); false on ENOMEM. */
bool flash_done_init(flash_t *f, unsigned cap);
void flash_done_free(flash_t *f);
/* Writer: makes written_fn(token, st) due. Runs a chunk itself first when
 * the list is full. No lock held by the caller. Lists the held entries
 * first (order kept). */
void flash_done_push(flash_t *f, void *token, uint64_t hash, flash_status_e st);
/* Writer: like flash_done_push, but the entry is held on the writer
 * (f->held) and listed with the others held at the next flash_done_flush,
 * one d_lock section for up to FLASH_DONE_HOLD entries (made when the hold
 * is full). The writer flushes before it waits for items or runs the list. */
void flash_done_hold(flash_t *f, void *token, uint64_t hash, flash_status_e st);
/* Writer: lists the held entries (in order) and wakes threads in
 * flash_complete_wait if any are listed. No lock held by the caller. */
void flash_done_flush(flash_t *f);
/* Writer: is a callback for an item with this hash slot held, listed or
 * running? Then it must run before another item with the hash is indexed
 * (its written_fn may remove the hash's index entries): the caller flushes
 * and runs the list. Takes no lock (only the writer adds to the counts, so
 * a stale count is too high, never too low). */
bool flash_done_hash_due(flash_t *f, uint64_t hash);
/* Writer: wakes threads in flash_complete_wait if entries are listed. */
void flash_done_signal(flash_t *f);
/* Entries listed (racy snapshot). */
/* How many times a client has waited for the writer's completions
 * (flash_complete_wait found none due): ingest.c's sign that the writer
 * slows the clients. d_lock. */
uint64_t flash_done_waits(flash_t *f);
unsigned flash_done_len(flash_t *f);

/* persist.c */
/* The live map of the ring as it stands (USED segments' entries that own
 * an index slot): buf (device_buf_alloc'd, `alloc` bytes, zero-padded),
 * its length and live entry count. keys (may be NULL): every ITEM hash of
 * the ring is added to it, each before the index is asked about it. */
flash_status_e flash_build_map(flash_t *f, map_build_t *mb, bloom_t *keys);
/* The same in steps, for the writer thread between its batches: begin
 * snapshots the ring; each step reads one segment's summary (a segment
 * reclaimed or reused since keeps nothing) and returns FLASH_PENDING while
 * more remain, FLASH_OK when done (FLASH_ENOMEM); finish encodes buf and
 * frees the rest; abort frees all. Writer thread (or a thread that
 * stopped it). */
flash_status_e flash_map_begin(flash_t *f, map_build_t *mb, bloom_t *keys);
flash_status_e flash_map_step(flash_t *f, map_build_t *mb);
flash_status_e flash_map_finish(flash_t *f, map_build_t *mb);
void flash_map_abort(map_build_t *mb);
/* The state record that names the map mb (at first_seg, nsegs slots) with
 * the RAM tier's flush state and cas counter. */
void flash_map_state(const flash_t *f, flash_state_t *s, uint32_t state,
                     const flash_persist_state_t *ram, const map_build_t *mb,
                     uint32_t first_seg, uint32_t nsegs, uint64_t last_seq);
/* Reads segment seg's header and summary into f->rbuf (caller: the only
 * user of rbuf: the writer, or a thread that stopped it). FLASH_OK with *h
 * and *sum (inside rbuf) set; FLASH_EIO (logged) or FLASH_ECHECKSUM (header
 * or summary invalid, another instance or place). */
flash_status_e flash_read_summary(flash_t *f, uint32_t seg, flash_seghdr_t *h,
                                  const uint8_t **sum);
/* fdatasync of the device; FLASH_EIO with a reason in err. */
flash_status_e flash_sync(flash_t *f, char *err, size_t errlen);
/* Writes the state record (one aligned 4 KiB write) and syncs. */
flash_status_e flash_write_state(flash_t *f, const flash_state_t *st, char *err,
                                 size_t errlen);

/* store.c: does the index hold the copy of hash at seg:off (block offset
 * in 512-B units)? Locks two buckets. */
bool flash_index_holds(flash_t *f, uint64_t hash, uint32_t seg, uint32_t off);

/* ckpt.c */
/* Writer thread: takes a checkpoint when the interval has passed and
 * something changed. */
void flash_ckpt_maybe(flash_t *f);
/* flash_remove, after the index entries went: a build that may keep the
 * hash is not published. Lock-free. */
void flash_ckpt_note_remove(flash_t *f, uint64_t hash);
/* Writer thread, once a segment's write completed: the valid checkpoint
 * keeps its items too (an EXTEND in its journal, format.h CRASH
 * CHECKPOINT); remembered for the one being built. h and sum: the
 * segment's header and summary as written. */
void flash_ckpt_sealed(flash_t *f, uint32_t seg, const flash_seghdr_t *h, const uint8_t *sum);
/* Frees the filters and the journal page (flash_destroy). */
void flash_ckpt_teardown(flash_t *f);
/* The host's boot tag (state record; 0: unknown). */
uint32_t flash_boot_tag(void);
/* Where a crash checkpoint's kill journal lies in its slot: device offset
 * of page 0 and the page count, for a map of map_len bytes. */
void flash_journal_area(const flash_t *f, uint32_t slot, uint64_t map_len, uint64_t *off,
                        uint32_t *pages);

/* writer.c: takes the segment slot at the head for a checkpoint (USED, in
 * the ring, with a seq; reclaims the tail if the ring is full). */
flash_status_e flash_writer_alloc_slot(flash_t *f, uint32_t *seg, uint32_t *gen,
                                       uint64_t *seq);

/* recover.c */
/* Start over a device with our superblock and the settings' geometry
 * (f->sb, f->instance_id set; parts allocated; writer not started): after
 * a clean shutdown rebuilds the segment table, head/tail, next seq, index
 * and dictionaries (FLASH_OK); otherwise FLASH_MISS (the caller formats);
 * FLASH_ENOMEM. A one-line note for the log in `note`. */
flash_status_e flash_recover(flash_t *f, char *note, size_t notelen);

/* reclaim.c */
/* Hit counter of the index slot that summary ITEM entry i owns, or -1 if it
 * owns none ([i, i1): the rest of its block's entries; `sum` a segment's
 * summary, seg/blkoff its place). See reclaim.c. */
int flash_sum_owner_hits(flash_t *f, const uint8_t *sum, uint32_t i, uint32_t i1,
                         uint32_t seg, uint32_t blkoff);
/* End (exclusive) of the entries of the block of ITEM entry i: the next ITEM
 * entry of another block, or count (tombstones between are included). */
uint32_t flash_sum_block_end(const uint8_t *sum, uint32_t i, uint32_t count);
/* Reclaims the tail segment. rewrite: hot items may be rewritten into the
 * open segment (must exist). Returns false if nothing can be reclaimed. */
bool flash_reclaim_one(flash_t *f, bool rewrite);

/* What a reclaim keeps of its segment's live items. */
typedef enum flash_reclaim_mode {
    FLASH_RECLAIM_DROP = 0, /* none: every index entry into it goes */
    FLASH_RECLAIM_HOT,      /* items hit since written, within rewrite_pct */
    FLASH_RECLAIM_ALL,      /* every live item (recompression, ingest.c) */
} flash_reclaim_mode_e;

/* flash_reclaim_one with a mode. FLASH_RECLAIM_ALL has no budget: the
 * caller makes sure the rewrites fit (free segments, ingest.c). Writer
 * thread. False if the tail cannot be reclaimed. */
bool flash_reclaim_tail(flash_t *f, flash_reclaim_mode_e mode);

/* ---- ingest.c: keeping up with a fast load ---- */

/* The writer is behind when, over FLASH_FAST_WINDOWS windows of
 * FLASH_FAST_WINDOW_MS in a row, it took at least FLASH_FAST_MIN_ITEMS
 * items per window (a load at full speed, not a trickle) and clients
 * waited for its completions (flash_done_waits) in each. It has caught up
 * after one window without that. Raw blocks only while more than
 * 1/FLASH_FAST_FREE_DIV of the segments are free (they take ~3x the room
 * of compressed ones). */
#define FLASH_FAST_WINDOW_MS 50
#define FLASH_FAST_WINDOWS 2u
#define FLASH_FAST_MIN_ITEMS 2048u
#define FLASH_FAST_FREE_DIV 4u
/* Recompression runs once no item came for this long. */
#define FLASH_INGEST_IDLE_MS 20
/* Recompression yields to flash reads: while flash hits are being served
 * (flash_hits moved less than FLASH_INGEST_READ_QUIET_MS ago), at most one
 * step per FLASH_INGEST_BUSY_STEP_MS (bench/RESULTS.md, h-ingest2). */
#define FLASH_INGEST_READ_QUIET_MS 100
#define FLASH_INGEST_BUSY_STEP_MS 1000

/* After the writer took `taken` items: decides whether new blocks are
 * stored raw (f->wr_fast). Writer thread. O(1). */
void flash_ingest_pace(flash_t *f, unsigned taken);

/* Tests: mode 1 stores every new block raw (as if the writer were behind)
 * and holds recompression off, 2 never stores raw, 0 returns to the
 * policy. Takes effect at the writer's next batch. Any thread. */
void flash_ingest_force(flash_t *f, int mode);

/* Whether an idle writer has raw blocks to recompress (and room to do
 * it). Writer thread. O(1). */
bool flash_ingest_pending(const flash_t *f);

/* Milliseconds an idle writer with recompression pending waits before its
 * next step (0: now): until no item came for FLASH_INGEST_IDLE_MS and,
 * while flash reads are being served, until they pause for
 * FLASH_INGEST_READ_QUIET_MS or FLASH_INGEST_BUSY_STEP_MS passed since the
 * last step. Samples flash_hits (call it at least every
 * FLASH_INGEST_READ_QUIET_MS while waiting). Writer thread. O(1). */
unsigned flash_ingest_step_wait(flash_t *f, int64_t now);

/* One step of the idle recompression: rewrites the tail segment's live
 * items into compressed blocks (sealing a partly filled open segment that
 * holds raw blocks first). True if it did work. Writer thread. Work: one
 * segment read + its items' recompression. */
bool flash_ingest_idle_step(flash_t *f);
/* Reclaims while free segments < reserve (bounded). */
void flash_reclaim_maintain(flash_t *f);

#endif /* TIERCACHE_FLASH_FLASH_INT_H */
