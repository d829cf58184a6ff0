/*
 * tiers/flash/journal.h - the kill journal of a crash checkpoint: pages of
 * key hashes that changed after the checkpoint was taken (format.h CRASH
 * CHECKPOINT, KILL JOURNAL). Pure encoding: no IO, no locks.
 *
 * Page (FLASH_JPAGE bytes, little-endian):
 *
 *   off  size  meaning
 *     0     4  magic "TCKJ"
 *     4     4  version (1)
 *     8     8  instance id (the superblock's)
 *    16     8  map seq of the checkpoint it belongs to (state record)
 *    24     4  page number (0, 1, ... in the slot's journal area)
 *    28     4  hash count n (0 .. FLASH_JPAGE_MAX)
 *    32     8  checksum: XXH3_64bits_withSeed(bytes [40, 40 + 8n),
 *              seed = XXH3_64bits(bytes [0, 32)))
 *    40    8n  key hashes (XXH3_64bits of the key), in the order killed
 *     -     -  zero to the end of the page
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

typedef struct flash_jpage {
    uint64_t instance_id;
    uint64_t map_seq;
    uint32_t page_no;
    uint32_t count;
    const uint8_t *hashes;   /* decode: count x 8 bytes inside the page */
} flash_jpage_t;

/* Where a crash checkpoint's journal lies in its segment slot (format.h
 * KILL JOURNAL): page 0 at *start bytes from the slot's start (behind the
 * 4 KiB slot header and the map rounded up to 4 KiB), *pages pages to the
 * slot's end. O(1). */
void flash_jarea(uint64_t map_len, uint32_t segment_size, uint64_t *start, uint32_t *pages);

/* Starts an empty page in buf (FLASH_JPAGE bytes, zeroed). */
void flash_jpage_init(uint8_t *buf, uint64_t instance_id, uint64_t map_seq, uint32_t page_no);

/* Appends a hash; false if the page is full. Keeps the checksum right. */
bool flash_jpage_add(uint8_t *buf, uint64_t hash);

/* Is the hash on the page already? O(count). */
bool flash_jpage_has(const uint8_t *buf, uint64_t hash);

/* Hashes on the page. */
uint32_t flash_jpage_count(const uint8_t *buf);

/* Decodes a page that must belong to (instance_id, map_seq, page_no):
 * false if it does not (never written, another checkpoint's, torn, or
 * damaged). O(count). */
bool flash_jpage_decode(const uint8_t *buf, uint64_t instance_id, uint64_t map_seq,
                        uint32_t page_no, flash_jpage_t *out);

/* Hash i of a decoded page. */
uint64_t flash_jpage_hash(const flash_jpage_t *p, uint32_t i);

#endif /* TIERCACHE_FLASH_JOURNAL_H */
