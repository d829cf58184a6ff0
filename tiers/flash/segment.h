/*
 * tiers/flash/segment.h - the open segment builder, and the codecs of the
 * segment header and summary. Layouts: format.h "SEGMENT".
 *
 * The builder owns one 4096-aligned buffer of segment_size bytes:
 *
 *   0      512                                                segment_size
 *   +------+-------+-------+-------+- - - - - - - -+----------+
 *   | hdr  | blk 1 | blk 2 | open  |     free      | summary  |
 *   |(fin.)|sealed |sealed | block |               | entries  |
 *   +------+-------+-------+-------+- - - - - - - -+----------+
 *                          ^ cur_unit: where the open block WILL be sealed
 *
 * - Records go into an open block, kept raw in a separate block builder;
 *   when it passes the block target it is sealed (compressed) into the
 *   buffer at cur_unit and the next block starts right after it. So an
 *   item's location (segment id, block unit) is final when add returns.
 * - Summary entries are kept at the buffer's tail, growing down, while the
 *   segment fills; finalize moves them right after the last block, in add
 *   order, and writes the header. Space check on every add: sealed blocks +
 *   the open block's worst case (header + raw, rounded to 512) + the summary
 *   rounded to 512 must fit, so finalize can never run out of room. When the
 *   open block's worst case is what does not fit, it is sealed early (it
 *   usually compresses) and the item starts a new block, so a segment ends
 *   up filled to within about one item of its end.
 * - Items of a segment whose write has not completed are served from the
 *   buffer: flash_seg_lookup reads the open block raw, or a sealed block
 *   (compressed, checksummed) in place.
 *
 * Thread safety: none inside. One thread (the writer) adds and finalizes;
 * a reader of the in-memory segment must be serialized with add/reset by the
 * caller. Sealed blocks never change until reset, so a later design may
 * read them under a lighter scheme. No globals.
 */
#ifndef TIERCACHE_FLASH_SEGMENT_H
#define TIERCACHE_FLASH_SEGMENT_H

#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

#include "flash/block.h"
#include "flash/dict.h"
#include "flash/format.h"

typedef enum flash_seg_status {
    FLASH_SEG_OK = 0,
    FLASH_SEG_EFULL,       /* does not fit: finalize, write, start another */
    FLASH_SEG_ETOOBIG,     /* item above the max spill size: never fits */
    FLASH_SEG_EINVAL,      /* bad argument or configuration */
    FLASH_SEG_ENOMEM,      /* allocation failed */
    FLASH_SEG_ESEALED,     /* add after finalize (reset first) */
    FLASH_SEG_ETRUNCATED,  /* decode: buffer too short */
    FLASH_SEG_EMAGIC,      /* decode: not a segment header */
    FLASH_SEG_EVERSION,    /* decode: unsupported format version */
    FLASH_SEG_ECHECKSUM,   /* decode: header checksum mismatch */
    FLASH_SEG_EHEADER,     /* decode: header fields inconsistent */
    FLASH_SEG_ESUMMARY,    /* decode: summary checksum or entry invalid */
} flash_seg_status_e;

/* Builder configuration. */
typedef struct flash_seg_config {
    uint32_t segment_size;   /* multiple of 4096, 64 KiB .. 8 MiB */
    uint32_t block_target;   /* raw bytes per block, 512 .. segment_size / 4 */
    int level;               /* zstd level, or FLASH_LEVEL_NONE */
    ZSTD_CCtx *cctx;         /* borrowed, NULL = store raw; used by add and
                                finalize; must outlive the builder */
    const flash_dicts_t *dicts; /* borrowed, may be NULL: blocks sealed with
                                the active dictionary, viewed with any */
} flash_seg_config_t;

/* Decoded segment header (format.h "SEGMENT HEADER"). */
typedef struct flash_seghdr {
    uint32_t version;
    uint64_t instance_id;
    uint64_t seq;
    uint32_t seg_id;
    uint32_t gen;
    uint64_t created;
    uint32_t flags;
    uint32_t nblocks;
    uint32_t nitems;
    uint32_t ntombs;
    uint32_t summary_off;
    uint32_t summary_count;
    uint64_t summary_cksum;
    uint32_t data_end;
    uint32_t min_store_time;
    uint32_t max_store_time;
    uint32_t flush_oldest_live;
    uint64_t flush_oldest_cas;
    uint64_t max_cas;
    uint32_t max_exptime;    /* 0: none, or some record never expires */
} flash_seghdr_t;

/* Decoded summary entry. */
typedef struct flash_sum_entry {
    uint64_t hash;
    uint16_t blkoff;         /* 0 for a tombstone */
    uint8_t kind;            /* FLASH_SUM_ITEM or FLASH_SUM_TOMBSTONE */
} flash_sum_entry_t;

/* Flush state copied into the header at finalize (format.h RECOVERY 4). */
typedef struct flash_seg_flush {
    uint32_t oldest_live;
    uint64_t oldest_cas;
} flash_seg_flush_t;

typedef struct flash_seg flash_seg_t;

/* Static string for a status; never NULL. */
const char *flash_seg_strerror(flash_seg_status_e st);

/*
 * Largest record (flash_record_size) a segment of this size accepts:
 * segment_size / 4. The admission rule for spilling. O(1).
 */
size_t flash_seg_max_record(uint32_t segment_size);

/* FLASH_SEG_OK if an item with this key / value length may be spilled to
 * segments of this size, else FLASH_SEG_ETOOBIG (or FLASH_SEG_EINVAL for a
 * key length of 0 or > 250). O(1). */
flash_seg_status_e flash_seg_admit(uint32_t segment_size, size_t nkey, uint32_t nvalue);

/*
 * Creates a builder: a 4096-aligned buffer of segment_size bytes plus a raw
 * block buffer of flash_seg_max_record bytes, both owned by the builder.
 * It starts as segment 0, generation 0, seq 0, instance 0: call
 * flash_seg_reset before use. Fails: FLASH_SEG_EINVAL (config),
 * FLASH_SEG_ENOMEM. On failure *out is NULL.
 */
flash_seg_status_e flash_seg_create(flash_seg_t **out, const flash_seg_config_t *cfg);

/* Frees the builder and sets *s to NULL; NULL or *s NULL is a no-op. */
void flash_seg_destroy(flash_seg_t **s);

/*
 * Empties the builder for a new segment with these identifiers (give a
 * new generation: lookups of locations from before then see ESTALE).
 * FLASH_SEG_EINVAL if seg_id >= 2^18. O(1).
 */
flash_seg_status_e flash_seg_reset(flash_seg_t *s, uint32_t seg_id, uint32_t gen,
                                   uint64_t seq, uint64_t instance_id);

/*
 * Adds an item (record fields copied; the caller keeps its buffers) with its
 * 64-bit key hash. On FLASH_SEG_OK *loc is the item's final location
 * (segment id, generation, block unit). May seal the open block (when it
 * is full, or early when its worst case leaves no room), even when it then
 * returns FLASH_SEG_EFULL (the segment stays consistent). Fails:
 * FLASH_SEG_ETOOBIG (flash_seg_admit), FLASH_SEG_EINVAL (key length),
 * FLASH_SEG_EFULL (item + summary do not fit), FLASH_SEG_ESEALED.
 * Work: O(record) copy, plus one block seal (zstd of <= block target) when
 * the open block is full.
 */
flash_seg_status_e flash_seg_add(flash_seg_t *s, const flash_record_t *rec,
                                 uint64_t hash, flash_block_loc_t *loc);

/*
 * Adds a tombstone for a key hash (format.h RECOVERY: kills every earlier
 * copy). May seal the open block early, as add does. FLASH_SEG_EFULL if its
 * summary entry does not fit; FLASH_SEG_ESEALED after finalize. O(1) plus
 * at most one block seal.
 */
flash_seg_status_e flash_seg_add_tombstone(flash_seg_t *s, uint64_t hash);

/*
 * Seals the open block, moves the summary right after the last block, and
 * writes the header (created = now, flush state copied from *flush, which
 * may be NULL for none). Afterwards flash_seg_image gives the bytes to write
 * and lookups still work; add returns FLASH_SEG_ESEALED until reset.
 * Finalizing twice is a no-op returning FLASH_SEG_OK. Never fails for lack
 * of room (every add reserved it). Work: one block seal + O(entries).
 */
flash_seg_status_e flash_seg_finalize(flash_seg_t *s, uint64_t now,
                                      const flash_seg_flush_t *flush);

/*
 * After finalize: *buf = the segment buffer (4096-aligned) and *len = the
 * bytes to write from the segment's start, round_up(data_end, 4096) (a
 * short write for a partly filled segment). Before finalize, *len = 0.
 * The buffer stays owned by the builder and unchanged until reset. O(1).
 */
void flash_seg_image(const flash_seg_t *s, const uint8_t **buf, size_t *len);

/* The header as it is (finalize fills summary, created, flush fields;
 * counts are live while building). O(1). */
void flash_seg_header(const flash_seg_t *s, flash_seghdr_t *out);

/* While fast, one block in this many is compressed anyway (a probe: does
 * the data compress at all). 64: 32 probes in an 8 MiB segment of 4 KiB
 * blocks decide it as well as 256 did, and one in 8 was a tenth of the
 * server's CPU during a fast load (343k against 317k keys/s, A/B, issue
 * 14 item 3). */
#define FLASH_SEG_FAST_PROBE 64u

/*
 * flash_seg_set_fast: while `fast` is true, blocks sealed (by add,
 * add_tombstone or finalize) are stored raw without trying zstd, but for
 * one in FLASH_SEG_FAST_PROBE (the first included), compressed as usual:
 * the writer is behind and compresses less rather than slow its clients
 * (ingest.c). The flag survives reset. No effect on a builder configured
 * to store everything raw. O(1).
 */
void flash_seg_set_fast(flash_seg_t *s, bool fast);

/*
 * flash_seg_release_memory: gives the image buffer's pages back to the
 * kernel (madvise MADV_DONTNEED): resident memory drops by what was built
 * in it, and the next build faults its pages in again, zero-filled. Only
 * for a builder no segment of which is open, being written or read from
 * memory (the caller's rule). O(pages resident).
 */
void flash_seg_release_memory(flash_seg_t *s);

/*
 * flash_seg_block_counts: blocks sealed since the last reset that are
 * stored raw: *fast because of flash_seg_set_fast, *incompressible because
 * zstd did not make them smaller (both 0 for a builder configured to store
 * everything raw). When most probes of this segment did not save 1/8 of
 * their space, its fast blocks count as incompressible (recompressing them
 * would gain little) and *fast is 0. O(1).
 */
void flash_seg_block_counts(const flash_seg_t *s, uint32_t *fast, uint32_t *incompressible);

/* Bytes a lookup's scratch buffer needs: the largest raw block. O(1). */
size_t flash_seg_scratch_size(const flash_seg_t *s);

/*
 * Looks a key up at location *loc (as returned by add) in this in-memory
 * segment, open or finalized: the open block is searched raw, a sealed block
 * is validated and decompressed (dctx, into scratch of
 * flash_seg_scratch_size bytes). On FLASH_BLK_OK *out points into the
 * builder or scratch (valid until the next add / reset or reuse of scratch).
 * Returns FLASH_BLK_ENOTFOUND; FLASH_BLK_ESTALE if loc's generation is not
 * the builder's (it was reset since); FLASH_BLK_EMISPLACED for another
 * segment id or a unit that is not a block of this segment; or any
 * flash_block_open status. O(block).
 */
flash_blk_status_e flash_seg_lookup(const flash_seg_t *s, ZSTD_DCtx *dctx,
                                    const flash_block_loc_t *loc, const char *key,
                                    size_t nkey, uint8_t *scratch, size_t scratch_cap,
                                    flash_record_t *out);

/*
 * As flash_seg_lookup, but gives the view of the whole block at *loc (the
 * open block raw, or a sealed block decoded into scratch) instead of one
 * record: valid until the next add / reset or reuse of scratch. Same
 * statuses, minus FLASH_BLK_ENOTFOUND. O(block).
 */
flash_blk_status_e flash_seg_view(const flash_seg_t *s, ZSTD_DCtx *dctx,
                                  const flash_block_loc_t *loc, uint8_t *scratch,
                                  size_t scratch_cap, flash_block_view_t *v);

/* Writes FLASH_SEGHDR_LEN encoded bytes of *h (checksum computed). O(1). */
void flash_seghdr_encode(const flash_seghdr_t *h, uint8_t *buf);

/*
 * Decodes and checks a segment header from len bytes at buf: length, magic,
 * version, checksum, then fields against segment_size (summary inside the
 * segment and after unit 0, data_end consistent, counts add up, seg id
 * < 2^18). *out written only on FLASH_SEG_OK. The caller checks instance id,
 * seg id vs position, seq. O(1).
 */
flash_seg_status_e flash_seghdr_decode(const uint8_t *buf, size_t len,
                                       uint32_t segment_size, flash_seghdr_t *out);

/* Writes one FLASH_SUM_ENTRY_LEN-byte entry. O(1). */
void flash_sum_entry_encode(const flash_sum_entry_t *e, uint8_t *p);

/* Decodes one entry from FLASH_SUM_ENTRY_LEN bytes; FLASH_SEG_ESUMMARY for
 * an unknown kind or a block unit invalid for it (item: 1..16383,
 * tombstone: 0). O(1). */
flash_seg_status_e flash_sum_entry_decode(const uint8_t *p, flash_sum_entry_t *e);

/*
 * Checks the summary bytes of a decoded header: len >= 12 * summary_count
 * (else FLASH_SEG_ETRUNCATED), checksum (FLASH_SEG_ESUMMARY), every entry
 * decodes, and item / tombstone counts match the header. summary points at
 * the segment's summary_off. O(entries).
 */
flash_seg_status_e flash_summary_check(const flash_seghdr_t *h, const uint8_t *summary,
                                       size_t len);

#endif /* TIERCACHE_FLASH_SEGMENT_H */
