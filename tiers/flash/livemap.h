/*
 * tiers/flash/livemap.h - the LIVE MAP a clean shutdown leaves on the
 * device: which summary entries of the ring's segments the index held, so
 * the next start rebuilds exactly that index (format.h "LIVE MAP",
 * "RECOVERY"). Pure encoding: no IO, no locks.
 *
 * Layout (little-endian, format.h):
 *
 *   +--------------------+---------------------------+------------------+
 *   | header (64 B)      | table: M x 16 B           | bits             |
 *   +--------------------+---------------------------+------------------+
 *     magic "TCLIVMAP"     seg id (4) | count (4) |    per table entry, in
 *     version, M, ...      seq (8)                     order: ceil(count/8)
 *                                                      bytes, bit i of the
 *                                                      entry = byte i/8,
 *                                                      bit i%8
 *
 * The table lists the ring from its oldest segment to the newest, segment
 * ids consecutive modulo the segment count.
 */
#ifndef TIERCACHE_FLASH_LIVEMAP_H
#define TIERCACHE_FLASH_LIVEMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLASH_MAP_MAGIC "TCLIVMAP"
#define FLASH_MAP_MAGIC_LEN 8
#define FLASH_MAP_VERSION 1u
#define FLASH_MAP_HDR_LEN 64u
#define FLASH_MAP_ENT_LEN 16u

typedef enum flash_map_status {
    FLASH_MAP_OK = 0,
    FLASH_MAP_ETRUNCATED,   /* fewer bytes than the header / table / bits say */
    FLASH_MAP_EMAGIC,
    FLASH_MAP_EVERSION,
    FLASH_MAP_EINSTANCE,    /* another format's map */
    FLASH_MAP_ECHECKSUM,    /* header checksum */
    FLASH_MAP_ETABLE,       /* segment ids out of range or not consecutive */
} flash_map_status_e;

const char *flash_map_strerror(flash_map_status_e st);

/* One table entry. */
typedef struct flash_map_seg {
    uint32_t seg_id;
    uint32_t count;         /* summary entries of the segment (0: none kept) */
    uint64_t seq;
} flash_map_seg_t;

/* A decoded map: views into the caller's buffer. */
typedef struct flash_map {
    uint64_t instance_id;
    uint32_t nsegs;         /* M */
    uint64_t len;           /* total encoded bytes */
    const uint8_t *table;   /* M x FLASH_MAP_ENT_LEN */
    const uint8_t *bits;    /* the bit area */
} flash_map_t;

/* Bytes of a map whose table entries have these summary counts. O(M). */
uint64_t flash_map_len(uint32_t nsegs, const uint32_t *counts);

/* Bytes of one entry's bit run. */
static inline uint64_t flash_map_bits_len(uint32_t count)
{
    return ((uint64_t)count + 7) / 8;
}

/*
 * Writes the header and table for `nsegs` segments into buf (which must
 * hold flash_map_len bytes) and zeroes the bit area; *bits_out points at
 * the bit area (the caller sets bits with flash_map_set). O(len).
 */
void flash_map_encode(uint8_t *buf, uint64_t instance_id, uint32_t nsegs,
                      const flash_map_seg_t *segs, uint8_t **bits_out);

/* Sets bit i of a run. */
static inline void flash_map_set(uint8_t *run, uint32_t i)
{
    run[i / 8] |= (uint8_t)(1u << (i % 8));
}

/* Reads bit i of a run. */
static inline bool flash_map_get(const uint8_t *run, uint32_t i)
{
    return (run[i / 8] >> (i % 8)) & 1u;
}

/*
 * Decodes a map from len bytes: header (magic, version, checksum, the
 * instance id must equal instance_id), the table (segment ids < nseg_dev,
 * consecutive modulo nseg_dev, no more entries than nseg_dev, seqs
 * strictly increasing) and the total length. *out is written only on
 * FLASH_MAP_OK. O(M).
 */
flash_map_status_e flash_map_decode(const uint8_t *buf, uint64_t len, uint64_t instance_id,
                                    uint32_t nseg_dev, flash_map_t *out);

/* Table entry i of a decoded map. */
void flash_map_entry(const flash_map_t *m, uint32_t i, flash_map_seg_t *out);

#endif /* TIERCACHE_FLASH_LIVEMAP_H */
