/*
 * tools/inspect/check.h - the offline checker behind tiercache-inspect: walks
 * a flash file (format.h) with the flash tier's own codecs and reports what
 * it finds to a visitor, so the checker never prints and the printers never
 * parse.
 *
 * What is checked, in order (each step uses the flash library's decoder; no
 * format knowledge is duplicated here beyond the walk order):
 *   1. superblock (flash_sb_decode): no magic -> INSPECT_ENOTFLASH; a version
 *      this build cannot read -> INSPECT_ENOTFLASH; checksum / geometry ->
 *      INSPECT_ECORRUPT and nothing else can be read.
 *   2. file length against the superblock's device size.
 *   3. state record (flash_state_decode) and its instance id. All zero reads
 *      as "not clean" by design (format.h) and is a warning only.
 *   4. every segment: header (flash_seghdr_decode; all zero = never written,
 *      another instance id = leftover of an earlier format, both fine), its
 *      place (segment id), its summary (flash_summary_check), then every
 *      block from unit 1 (flash_block_header + flash_block_open with the
 *      expected segment id, generation and unit: checksum, decompression,
 *      record walk), resyncing at the next block the summary names after a
 *      bad one; then the summary's ITEM entries against the key hashes of
 *      the records in their block, and the block count and extent against
 *      the header.
 * Memory: one segment buffer, one raw-block scratch buffer, the problem list
 * (capped at INSPECT_MAX_PROBLEMS kept, all counted). IO: plain pread, one
 * header unit per segment plus data_end bytes of each written one.
 * Not thread-safe per report; no globals.
 */
#ifndef TIERCACHE_TOOLS_INSPECT_CHECK_H
#define TIERCACHE_TOOLS_INSPECT_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flash/segment.h"
#include "flash/superblock.h"

#define INSPECT_MAX_PROBLEMS 10000u
#define INSPECT_HIST_BUCKETS 34    /* bucket 0: size 0; k >= 1: [2^(k-1), 2^k) */

typedef enum inspect_status {
    INSPECT_OK = 0,       /* checked: no corruption (warnings possible) */
    INSPECT_ECORRUPT,     /* corruption found: see the problem list */
    INSPECT_ENOTFLASH,    /* not a tiercache flash file (or newer format) */
    INSPECT_EIO,          /* cannot open / read the file */
    INSPECT_ENOMEM,
} inspect_status_e;

typedef enum inspect_severity {
    INSPECT_WARNING = 0,  /* unusual but legal (missing state record) */
    INSPECT_ERROR,        /* corruption */
} inspect_severity_e;

/* One finding. seg / unit are -1 when they do not apply. */
typedef struct inspect_problem {
    inspect_severity_e severity;
    int64_t seg;          /* segment id */
    int64_t unit;         /* block unit (512 B) within the segment */
    uint64_t offset;      /* byte offset in the file of what is wrong */
    char msg[200];
} inspect_problem_t;

typedef enum inspect_seg_kind {
    INSPECT_SEG_EMPTY = 0,   /* header unit all zero: never written */
    INSPECT_SEG_USED,        /* header of this instance */
    INSPECT_SEG_OTHER,       /* valid header of another instance id */
    INSPECT_SEG_BAD,         /* header does not decode / misplaced */
    INSPECT_SEG_MAP,         /* holds the live map of a clean shutdown */
    INSPECT_SEG_MISSING,     /* beyond the end of the file */
} inspect_seg_kind_e;

/* What was found in one segment, given to seg_end. */
typedef struct inspect_seg {
    uint32_t id;
    uint64_t offset;         /* file offset of the segment */
    inspect_seg_kind_e kind;
    flash_seg_status_e hdr_status;   /* flash_seghdr_decode's answer */
    flash_seghdr_t hdr;              /* valid for USED and OTHER */
    flash_seg_status_e sum_status;   /* flash_summary_check (USED only) */
    uint32_t blocks_ok;
    uint32_t blocks_bad;
    uint64_t records;        /* records in the blocks that opened */
    uint64_t raw_bytes;      /* raw (uncompressed) bytes of those blocks */
    uint64_t stored_bytes;   /* their stored payload bytes */
    uint64_t disk_bytes;     /* their bytes on disk: header + payload + pad */
    uint32_t sum_unmatched;  /* ITEM entries with no record of that hash */
    uint32_t errors;         /* problems of severity ERROR in this segment */
} inspect_seg_t;

/* What was found in one block, given to block (after it was checked). */
typedef struct inspect_block {
    uint32_t unit;                /* 512-B unit in the segment */
    uint64_t offset;              /* file offset */
    flash_blk_status_e status;    /* flash_block_header / flash_block_open */
    bool hdr_ok;                  /* hdr valid (header decoded) */
    flash_block_hdr_t hdr;
    uint32_t disk_len;            /* bytes taken on disk (when hdr_ok) */
} inspect_block_t;

/* Totals over the whole file, and the checker's findings. */
typedef struct inspect_report {
    const char *path;
    uint64_t file_size;
    inspect_status_e status;
    char error[256];              /* for ENOTFLASH / EIO / ENOMEM */
    bool sb_ok;
    flash_sb_t sb;
    flash_sb_status_e state_status;
    bool state_ok;
    flash_state_t state;
    bool map_present;             /* a CLEAN state names a live map */
    bool map_ok;                  /* ... and it reads back intact */
    uint32_t map_segments;        /* segments the map lists */
    uint64_t map_live;            /* summary entries it keeps */
    uint64_t map_kills;           /* crash checkpoint: keys its journal drops */
    uint64_t map_extends;         /* ... segments sealed after it that it keeps */
    uint32_t dict_id[FLASH_DICT_SLOTS];      /* 0: slot empty or unreadable */
    uint32_t dict_len[FLASH_DICT_SLOTS];
    uint32_t dict_samples[FLASH_DICT_SLOTS];
    uint32_t seg_count[INSPECT_SEG_MISSING + 1];   /* by kind */
    uint64_t max_seq;             /* highest seq among USED segments */
    uint64_t blocks_ok, blocks_bad;
    uint64_t records;             /* records in blocks that opened */
    uint64_t sum_items, sum_tombs;/* summary entries of USED segments */
    uint64_t raw_bytes, stored_bytes, disk_bytes;
    uint64_t key_bytes, value_bytes;
    uint64_t hist[INSPECT_HIST_BUCKETS];  /* value sizes */
    uint64_t errors, warnings;    /* problems found (all, kept or not) */
    inspect_problem_t *problems;  /* the first INSPECT_MAX_PROBLEMS */
    size_t nproblems;
} inspect_report_t;

/* The visitor: any member may be NULL. Called in file order. */
typedef struct inspect_ops {
    void (*superblock)(void *ctx, const inspect_report_t *r);   /* sb, state */
    void (*seg_begin)(void *ctx, const inspect_seg_t *s);       /* header known */
    void (*block)(void *ctx, const inspect_seg_t *s, const inspect_block_t *b);
    void (*seg_end)(void *ctx, const inspect_seg_t *s);
} inspect_ops_t;

/* Static string for a status; never NULL. */
const char *inspect_strerror(inspect_status_e st);

/* Static name of a segment kind ("empty", "used", ...); never NULL. */
const char *inspect_seg_kind_name(inspect_seg_kind_e k);

/*
 * Checks the flash file at path (a regular file or block device, opened
 * read-only) as described at the top of this file, calling ops (may be NULL)
 * as it goes. Fills *r (zeroed first; r->path = path, borrowed) and returns
 * r->status: INSPECT_OK, INSPECT_ECORRUPT, INSPECT_ENOTFLASH, INSPECT_EIO
 * or INSPECT_ENOMEM (r->error says why for the last three). The problem
 * list is owned by *r: release it with inspect_report_free. Work: reads
 * every written segment once; O(file) time, O(segment size) memory.
 */
inspect_status_e inspect_file(const char *path, const inspect_ops_t *ops, void *ctx,
                              inspect_report_t *r);

/* Frees what inspect_file allocated in *r; safe on a zeroed report. */
void inspect_report_free(inspect_report_t *r);

/* Histogram bucket of a value length: 0 for 0, else 1 + floor(log2(n)). */
unsigned inspect_hist_bucket(uint64_t n);

#endif /* TIERCACHE_TOOLS_INSPECT_CHECK_H */
