/*
 * tiers/flash/block.h - a block: records packed together, compressed as one
 * zstd frame (or stored raw), checksummed. Layout: format.h "BLOCK" and
 * "RECORD".
 *
 * Why blocks: small cache values compress poorly alone (no shared context,
 * and each zstd frame pays its own header) but well together, since
 * neighbouring values share field names and structure. Measured by
 * test_block.c (test "ratio": 3000 generated JSON-like objects with
 * repeated field names, zstd level 3; raw bytes / stored bytes, higher is
 * better; "disk" counts the 40-B header and the 512-B rounding):
 *
 *                         values 200 B - 4 KiB     values 100 - 500 B
 *   per-item zstd         3.29 (no padding)        1.49 (no padding)
 *   4 KiB blocks          3.47 (disk 2.57)         4.02 (disk 3.03)
 *   16 KiB blocks         4.43 (disk 4.06)         4.94 (disk 4.52)
 *   64 KiB blocks         4.93 (disk 4.84)         5.44 (disk 5.29)
 *
 * And with a zstd dictionary trained on the first spilled values (dict.h,
 * format.h "DICTIONARY SLOT"; measured on the bench's JSON values with
 * `zstd -b1 -B4K -D`): 4 KiB blocks 5.68x (3.45x without), 16 KiB 5.98x
 * (4.49x without); in the server, device bytes per logical byte 0.28 at
 * 4 KiB (0.42 without), 0.18 at 16 KiB (0.23 without). So 4 KiB blocks with
 * a dictionary (the default) compress better than 16 KiB blocks without
 * one, and after the 512-B rounding take 0.28 instead of 0.23 device bytes
 * per logical byte, for a quarter of the read and decompression per hit.
 *
 * Two halves:
 * - the BUILDER appends records into a raw buffer up to a target size, then
 *   seals: compresses into a caller buffer (the open segment) with a
 *   caller-owned ZSTD_CCtx, writes header + checksum, zero-pads to 512 B.
 * - the READER validates a stored block (magic, lengths, checksum, segment
 *   id, generation, offset), decompresses with a caller-owned ZSTD_DCtx into
 *   a caller buffer, and finds a record by full key or iterates records.
 *   The reader never trusts the bytes: any input gives a status, never a
 *   crash or an out-of-bounds access.
 *
 * No globals, no locks: a builder belongs to one thread at a time; reader
 * functions are pure over their arguments.
 */
#ifndef TIERCACHE_FLASH_BLOCK_H
#define TIERCACHE_FLASH_BLOCK_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

#include "flash/dict.h"
#include "flash/format.h"

/* A compression level meaning "store raw" (any value zstd rejects). */
#define FLASH_LEVEL_NONE INT_MIN

typedef enum flash_blk_status {
    FLASH_BLK_OK = 0,
    FLASH_BLK_EFULL,        /* builder: record would pass the target size */
    FLASH_BLK_ETOOBIG,      /* builder: record larger than the capacity */
    FLASH_BLK_EINVAL,       /* bad argument (key length 0 or > 250, ...) */
    FLASH_BLK_EEMPTY,       /* builder: seal of a block with no record */
    FLASH_BLK_ENOSPC,       /* caller's destination / scratch too small */
    FLASH_BLK_ETRUNCATED,   /* reader: fewer bytes than the header says */
    FLASH_BLK_EMAGIC,       /* reader: not a block header */
    FLASH_BLK_EHEADER,      /* reader: header fields out of range */
    FLASH_BLK_ECHECKSUM,    /* reader: checksum mismatch */
    FLASH_BLK_ESTALE,       /* reader: generation differs (reused segment) */
    FLASH_BLK_EMISPLACED,   /* reader: segment id or block offset differs */
    FLASH_BLK_EDECOMPRESS,  /* reader: zstd failed or wrong raw length */
    FLASH_BLK_ECORRUPT,     /* reader: records do not parse */
    FLASH_BLK_ENOTFOUND,    /* reader: no record with that key */
    FLASH_BLK_ENODICT,      /* reader: codec 2 names a slot with no dictionary */
    FLASH_BLK_END,          /* reader: iteration finished */
} flash_blk_status_e;

/* A record, as input to the builder or output of the reader. On output the
 * pointers point into the view's raw bytes (valid as long as they are). */
typedef struct flash_record {
    const char *key;
    size_t nkey;             /* 1 .. FLASH_KEY_MAX */
    const void *value;
    uint32_t nvalue;
    uint32_t flags;
    uint32_t exptime;
    uint32_t store_time;
    uint64_t cas;
    uint8_t marks;           /* meta marks (format.h RECORD offset 8) */
} flash_record_t;

/* Where a block lives; written in its header, checked on read. */
typedef struct flash_block_loc {
    uint32_t seg_id;
    uint32_t gen;
    uint16_t blkoff;         /* 512-B units from the segment start */
} flash_block_loc_t;

/* Decoded block header. */
typedef struct flash_block_hdr {
    uint8_t codec;
    uint8_t dict_slot;       /* codec 2 only */
    uint32_t nrec;
    uint32_t raw_len;
    uint32_t stored_len;
    flash_block_loc_t loc;
    uint64_t checksum;
} flash_block_hdr_t;

/* Raw records of a block (from the reader or from a builder). */
typedef struct flash_block_view {
    const uint8_t *raw;
    uint32_t raw_len;
    uint32_t nrec;
} flash_block_view_t;

typedef struct flash_blockb flash_blockb_t;

/* Static string for a status; never NULL. */
const char *flash_blk_strerror(flash_blk_status_e st);

/* Encoded size of a record with these key / value lengths. O(1). */
size_t flash_record_size(size_t nkey, uint32_t nvalue);

/* Bytes a sealed block of raw_len raw bytes can take at most in its
 * segment: header + raw, rounded up to 512. O(1). */
size_t flash_block_stored_bound(size_t raw_len);

/*
 * Creates a builder that packs records up to `target` raw bytes, and accepts
 * a lone record up to `capacity` bytes (capacity >= target; both <=
 * FLASH_BLK_MAX_RAW, target >= 1). Allocates `capacity` bytes, owned by the
 * builder. Fails: FLASH_BLK_EINVAL (sizes), FLASH_BLK_ENOSPC (malloc).
 * On failure *out is NULL.
 */
flash_blk_status_e flash_blockb_create(flash_blockb_t **out, uint32_t target,
                                       uint32_t capacity);

/* Frees the builder and sets *bb to NULL; NULL or *bb NULL is a no-op. */
void flash_blockb_destroy(flash_blockb_t **bb);

/* Empties the builder (keeps its buffer). O(1). */
void flash_blockb_reset(flash_blockb_t *bb);

/* Raw bytes and records appended since the last reset/seal. O(1). */
uint32_t flash_blockb_raw_size(const flash_blockb_t *bb);
uint32_t flash_blockb_count(const flash_blockb_t *bb);

/*
 * Appends a copy of *rec (key and value copied; the caller keeps its
 * buffers). Refuses with FLASH_BLK_EFULL when the block is not empty and the
 * record would take the raw size past the target; FLASH_BLK_ETOOBIG when the
 * record is larger than the capacity; FLASH_BLK_EINVAL for a key length of 0
 * or > FLASH_KEY_MAX. On failure the builder is unchanged. O(record size).
 */
flash_blk_status_e flash_blockb_append(flash_blockb_t *bb, const flash_record_t *rec);

/*
 * A view of the raw records appended so far (valid until the next append,
 * reset or seal), for in-memory lookups with flash_block_find/next. O(1).
 */
void flash_blockb_view(const flash_blockb_t *bb, flash_block_view_t *v);

/*
 * Seals the block into dst: compresses the raw records with cctx at `level`,
 * or with dict's CDict (codec 2, its slot in the header) when dict is not
 * NULL and has one (stores them raw when cctx is NULL, level is
 * FLASH_LEVEL_NONE, or zstd does not make them smaller; with a CDict its
 * own level, fixed by flash_dict_create, applies and `level` only says raw
 * or not), writes the header for location *loc and the
 * checksum, and zero-fills up to the next 512-B boundary. *stored_out gets
 * the bytes used in dst (a multiple of 512). On success the builder is reset.
 * dst must hold flash_block_stored_bound(raw size) bytes (else
 * FLASH_BLK_ENOSPC); FLASH_BLK_EEMPTY if there is no record; FLASH_BLK_EINVAL
 * if loc->blkoff is 0 (the segment header's unit). cctx is only used, never
 * freed. Work: one zstd compression of raw size bytes + one XXH3 pass.
 */
flash_blk_status_e flash_blockb_seal(flash_blockb_t *bb, ZSTD_CCtx *cctx, int level,
                                     const flash_dict_t *dict, const flash_block_loc_t *loc, uint8_t *dst,
                                     size_t dst_cap, uint32_t *stored_out);

/*
 * Decodes the header at buf (len bytes) without checking the payload or
 * checksum: enough to learn how many bytes the whole block takes
 * (flash_block_total_len) after a short first read. Fails:
 * FLASH_BLK_ETRUNCATED (len < header), FLASH_BLK_EMAGIC, FLASH_BLK_EHEADER
 * (unknown codec, zero records, raw length over FLASH_BLK_MAX_RAW, stored
 * length inconsistent with the codec, dictionary slot out of range). O(1).
 */
flash_blk_status_e flash_block_header(const uint8_t *buf, size_t len,
                                      flash_block_hdr_t *h);

/* Bytes the block occupies on the device: header + stored, rounded up to
 * 512. O(1). */
size_t flash_block_total_len(const flash_block_hdr_t *h);

/*
 * Validates the block at buf (len bytes available) and gives a view of its
 * raw records. Checks in order: header (as flash_block_header), payload
 * present (FLASH_BLK_ETRUNCATED), checksum (FLASH_BLK_ECHECKSUM), then if
 * expect is not NULL: segment id and block offset (FLASH_BLK_EMISPLACED)
 * and generation (FLASH_BLK_ESTALE). A zstd block is decompressed with dctx
 * (codec 2: with the DDict of the header's slot in dicts; FLASH_BLK_ENODICT
 * when dicts is NULL or that slot is empty) into scratch, which must hold raw_len bytes (FLASH_BLK_ENOSPC; header's
 * raw_len <= FLASH_BLK_MAX_RAW bounds what a caller may need);
 * FLASH_BLK_EDECOMPRESS if zstd fails or yields another length. A raw block
 * is viewed in place (scratch unused). Finally every record is walked
 * (FLASH_BLK_ECORRUPT unless exactly nrec records fill raw_len). The view
 * points into buf or scratch: the caller keeps them alive. dctx is only used.
 * Work: XXH3 over the stored bytes + decompression + a walk of the records.
 */
flash_blk_status_e flash_block_open(const uint8_t *buf, size_t len,
                                    const flash_block_loc_t *expect, ZSTD_DCtx *dctx,
                                    const flash_dicts_t *dicts, uint8_t *scratch,
                                    size_t scratch_cap, flash_block_view_t *view);

/*
 * Finds the LAST record whose key equals key[0..nkey) (a later record of the
 * same key in one block is the newer one). *out points into the view.
 * FLASH_BLK_ENOTFOUND if none; FLASH_BLK_ECORRUPT if the view does not parse
 * (impossible for a view from flash_block_open or a builder). O(raw_len).
 */
flash_blk_status_e flash_block_find(const flash_block_view_t *v, const char *key,
                                    size_t nkey, flash_record_t *out);

/*
 * Iterates records: start with *cursor = 0; each call gives the next record
 * and advances *cursor. FLASH_BLK_END after the last; FLASH_BLK_ECORRUPT on
 * a bad record. O(record header).
 */
flash_blk_status_e flash_block_next(const flash_block_view_t *v, uint32_t *cursor,
                                    flash_record_t *out);

#endif /* TIERCACHE_FLASH_BLOCK_H */
