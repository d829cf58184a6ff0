/*
 * tiers/flash/superblock.h - the superblock (device offset 0) and the state
 * record (offset FLASH_STATE_OFFSET): build, encode, decode, validate.
 *
 * Pure functions on caller buffers: no IO, no allocation, no globals, no
 * clock and no random source (the caller passes time and instance id). The
 * byte layouts are drawn in format.h. Thread-safe (no shared state).
 */
#ifndef TIERCACHE_FLASH_SUPERBLOCK_H
#define TIERCACHE_FLASH_SUPERBLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "flash/format.h"

typedef enum flash_sb_status {
    FLASH_SB_OK = 0,
    FLASH_SB_ETRUNCATED,   /* buffer shorter than the encoded structure */
    FLASH_SB_EMAGIC,       /* not a tiercache superblock / state record */
    FLASH_SB_EVERSION,     /* format version this build cannot read */
    FLASH_SB_ECHECKSUM,    /* checksum mismatch (torn or corrupt) */
    FLASH_SB_EGEOMETRY,    /* fields inconsistent or out of range */
    FLASH_SB_ETOOSMALL,    /* device too small for one segment */
} flash_sb_status_e;

/* Decoded superblock (format.h "SUPERBLOCK"). */
typedef struct flash_sb {
    uint32_t version;
    uint64_t device_size;
    uint64_t data_offset;
    uint32_t segment_size;
    uint32_t segment_count;
    uint32_t alignment;
    uint32_t block_target;
    uint64_t created;
    uint64_t instance_id;
    uint32_t features;       /* FLASH_FEATURE_DEVSET or 0 */
    /* device set (format.h DEVICE SET): 0 of 1 for a single device (then
     * features is 0 and bytes 76..95 are zero) */
    uint32_t member_index;
    uint32_t member_count;
    uint64_t member_size;    /* bytes this member uses (0 for a single device) */
} flash_sb_t;

/* Decoded state record (format.h "STATE RECORD"). */
typedef struct flash_state {
    uint32_t version;
    uint32_t state;          /* FLASH_STATE_CLEAN or FLASH_STATE_RUNNING */
    uint64_t instance_id;
    uint64_t run_count;
    uint64_t last_seq;
    uint64_t min_valid_seq;
    uint64_t time;
    uint32_t flush_oldest_live;
    uint64_t flush_oldest_cas;
    uint64_t max_cas;
    uint32_t map_first_seg;  /* FLASH_STATE_NO_SNAPSHOT = none */
    uint32_t map_seg_count;
    uint64_t map_len;
    uint64_t map_cksum;
    uint64_t map_seq;        /* RUNNING with a map: seq of the segment slot
                                that holds the crash checkpoint */
    uint32_t boot_tag;       /* RUNNING with a map: the host's boot (low 32
                                bits of XXH3 of its boot id) */
    uint32_t flags;          /* FLASH_STATE_JOURNALED */
} flash_state_t;

/* Static string for a status; never NULL. */
const char *flash_sb_strerror(flash_sb_status_e st);

/*
 * Fills *sb with the geometry of a new format: data offset FLASH_HEADER_AREA,
 * as many whole segments as fit in device_size (capped at 2^18), the given
 * alignment (512..4096, power of two) and block target (512 .. segment/4),
 * creation time `now` and the caller's random instance_id.
 * Fails: FLASH_SB_EGEOMETRY for a bad segment size / alignment / target,
 * FLASH_SB_ETOOSMALL if not even one segment fits. O(1).
 */
flash_sb_status_e flash_sb_init(flash_sb_t *sb, uint64_t device_size,
                                uint32_t segment_size, uint32_t alignment,
                                uint32_t block_target, uint64_t now,
                                uint64_t instance_id);

/*
 * Makes *sb (from flash_sb_init or a decode) the superblock of member
 * `index` of a set of `count` members each using member_size bytes:
 * count 1 clears the member fields and features (a single device).
 * O(1).
 */
void flash_sb_set_member(flash_sb_t *sb, uint32_t index, uint32_t count,
                         uint64_t member_size);

/*
 * Checks the geometry of *sb (ranges, alignment, fit in device_size; a
 * member of a set: index < count, 2 <= count <= FLASH_MAX_MEMBERS).
 * Returns FLASH_SB_OK or FLASH_SB_EGEOMETRY / FLASH_SB_EVERSION. O(1).
 */
flash_sb_status_e flash_sb_validate(const flash_sb_t *sb);

/*
 * Writes the FLASH_SB_LEN encoded bytes of *sb (checksum included) to buf,
 * which must hold FLASH_SB_LEN bytes (the caller zero-pads the rest of the
 * 4 KiB it writes). Does not validate. O(1).
 */
void flash_sb_encode(const flash_sb_t *sb, uint8_t *buf);

/*
 * Decodes and validates a superblock from len bytes at buf (any bytes: never
 * reads past len). Checks, in order: length, magic, version, checksum,
 * geometry. *out is written only on FLASH_SB_OK. O(1).
 */
flash_sb_status_e flash_sb_decode(const uint8_t *buf, size_t len,
                                  flash_sb_t *out);

/*
 * The format version of an intact superblock of an EARLIER format (magic,
 * length field and checksum as every version writes them; version 1 ..
 * FLASH_FORMAT_VERSION - 1), else 0 (the current one, a later one, or
 * damaged). O(1).
 */
uint32_t flash_sb_old_version(const uint8_t *buf, size_t len);

/*
 * Byte offset of segment `id` on the device (data_offset + id * size), or
 * UINT64_MAX when id >= segment_count. O(1).
 */
uint64_t flash_sb_segment_offset(const flash_sb_t *sb, uint32_t id);

/* Writes the FLASH_STATE_LEN encoded bytes of *st to buf. O(1). */
void flash_state_encode(const flash_state_t *st, uint8_t *buf);

/*
 * Decodes a state record from len bytes at buf: length, magic, version,
 * checksum, and state in {CLEAN, RUNNING} (else FLASH_SB_EGEOMETRY).
 * *out is written only on FLASH_SB_OK. The caller compares instance_id with
 * the superblock's. O(1).
 */
flash_sb_status_e flash_state_decode(const uint8_t *buf, size_t len,
                                     flash_state_t *out);

#endif /* TIERCACHE_FLASH_SUPERBLOCK_H */
