/*
 * tiers/flash/journal.h - the kill journal of a crash checkpoint: pages of
 * key hashes that changed after the checkpoint was taken (format.h CRASH
 * CHECKPOINT, KILL JOURNAL). Pure encoding: no IO, no locks.
 *
 * Page (FLASH_JPAGE bytes, little-endian):
 *
 *   off  size  meaning
 *     0     4  magic "TCKJ"
 *     4     4  version (2; 1: every word is a kill)
 *     8     8  instance id (the superblock's)
 *    16     8  map seq of the checkpoint it belongs to (state record)
 *    24     4  page number (0, 1, ... in the slot's journal area)
 *    28     4  word count n (0 .. FLASH_JPAGE_MAX)
 *    32     8  checksum: XXH3_64bits_withSeed(bytes [40, 40 + 8n),
 *              seed = XXH3_64bits(bytes [0, 32)))
 *    40    8n  entries, in the order they happened:
 *                KILL    1 word:  the key hash (XXH3_64bits of the key;
 *                                 never 0: a kill of hash 0 is refused and
 *                                 the checkpoint invalidated instead)
 *                EXTEND  3 words: 0, the segment's seq, seg id << 32 | gen
 *                                 (never split over two pages)
 *     -     -  zero to the end of the page
 *
 * An EXTEND names a segment sealed after the checkpoint whose items the
 * checkpoint now keeps too (format.h CRASH CHECKPOINT): a copy of a key is
 * kept when no KILL of its hash follows its source (the map, or its
 * segment's EXTEND) in the journal.
 */
#ifndef TIERCACHE_FLASH_JOURNAL_H
#define TIERCACHE_FLASH_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLASH_JPAGE 4096u
#define FLASH_JPAGE_HDR 40u
#define FLASH_JPAGE_MAX ((FLASH_JPAGE - FLASH_JPAGE_HDR) / 8u)   /* 507 */
#define FLASH_JPAGE_MAGIC "TCKJ"
#define FLASH_JPAGE_VERSION 2u

typedef struct flash_jpage {
    uint64_t instance_id;
    uint64_t map_seq;
    uint32_t page_no;
    uint32_t version;
    uint32_t count;          /* words */
    const uint8_t *words;    /* decode: count x 8 bytes inside the page */
} flash_jpage_t;

typedef enum flash_jent_kind {
    FLASH_JENT_KILL,
    FLASH_JENT_EXTEND,
} flash_jent_kind_e;

typedef struct flash_jent {
    flash_jent_kind_e kind;
    uint64_t hash;           /* KILL */
    uint64_t seq;            /* EXTEND: the segment's seq, id, generation */
    uint32_t seg;
    uint32_t gen;
} flash_jent_t;

/* Where a crash checkpoint's journal lies in its segment slot (format.h
 * KILL JOURNAL): page 0 at *start bytes from the slot's start (behind the
 * 4 KiB slot header and the map rounded up to 4 KiB), *pages pages to the
 * slot's end. O(1). */
void flash_jarea(uint64_t map_len, uint32_t segment_size, uint64_t *start, uint32_t *pages);

/* Starts an empty page in buf (FLASH_JPAGE bytes, zeroed). */
void flash_jpage_init(uint8_t *buf, uint64_t instance_id, uint64_t map_seq, uint32_t page_no);

/* Appends a KILL (hash != 0); false if the page is full. Keeps the
 * checksum right. */
bool flash_jpage_add(uint8_t *buf, uint64_t hash);

/* Appends an EXTEND; false if fewer than 3 words are left. */
bool flash_jpage_add_extend(uint8_t *buf, uint64_t seq, uint32_t seg, uint32_t gen);

/* Is the hash a KILL among words [from, count) of the page? O(count).
 * `from` must not lie inside an EXTEND (the writer passes the word count
 * right after its last EXTEND). */
bool flash_jpage_has(const uint8_t *buf, uint32_t from, uint64_t hash);

/* Words on the page. */
uint32_t flash_jpage_count(const uint8_t *buf);

/* Decodes a page that must belong to (instance_id, map_seq, page_no):
 * false if it does not (never written, another checkpoint's, torn, or
 * damaged). O(count). */
bool flash_jpage_decode(const uint8_t *buf, uint64_t instance_id, uint64_t map_seq,
                        uint32_t page_no, flash_jpage_t *out);

/* The entry at word *pos of a decoded page; moves *pos past it. False at
 * the page's end, or at an EXTEND cut short (a damaged page: the caller
 * stops there). */
bool flash_jpage_next(const flash_jpage_t *p, uint32_t *pos, flash_jent_t *out);

#endif /* TIERCACHE_FLASH_JOURNAL_H */
