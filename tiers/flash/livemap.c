/*
 * tiers/flash/livemap.c - LIVE MAP encoding (livemap.h; bytes in format.h).
 *
 * Header (64 B):
 *   off  size  meaning
 *     0     8  magic "TCLIVMAP"
 *     8     4  version (1)
 *    12     4  segment count M
 *    16     8  instance id (the superblock's)
 *    24     8  total length in bytes (header + table + bits)
 *    32    24  reserved (0)
 *    56     8  checksum: XXH3_64bits of bytes [0, 56)
 */
#include "flash/livemap.h"

#include <string.h>
#include <xxhash.h>

#include "flash/format.h"

const char *flash_map_strerror(flash_map_status_e st)
{
    switch (st) {
    case FLASH_MAP_OK: return "ok";
    case FLASH_MAP_ETRUNCATED: return "live map truncated";
    case FLASH_MAP_EMAGIC: return "live map magic missing";
    case FLASH_MAP_EVERSION: return "live map version unknown";
    case FLASH_MAP_EINSTANCE: return "live map of another format";
    case FLASH_MAP_ECHECKSUM: return "live map header checksum mismatch";
    case FLASH_MAP_ETABLE: return "live map segment table invalid";
    }
    return "unknown live map status";
}

uint64_t flash_map_len(uint32_t nsegs, const uint32_t *counts)
{
    uint64_t n = FLASH_MAP_HDR_LEN + (uint64_t)nsegs * FLASH_MAP_ENT_LEN;
    for (uint32_t i = 0; i < nsegs; i++)
        n += flash_map_bits_len(counts[i]);
    return n;
}

void flash_map_encode(uint8_t *buf, uint64_t instance_id, uint32_t nsegs,
                      const flash_map_seg_t *segs, uint8_t **bits_out)
{
    uint64_t len = FLASH_MAP_HDR_LEN + (uint64_t)nsegs * FLASH_MAP_ENT_LEN;
    uint64_t bits = 0;
    for (uint32_t i = 0; i < nsegs; i++)
        bits += flash_map_bits_len(segs[i].count);
    memset(buf, 0, (size_t)(len + bits));
    memcpy(buf, FLASH_MAP_MAGIC, FLASH_MAP_MAGIC_LEN);
    fl_put_u32(buf + 8, FLASH_MAP_VERSION);
    fl_put_u32(buf + 12, nsegs);
    fl_put_u64(buf + 16, instance_id);
    fl_put_u64(buf + 24, len + bits);
    fl_put_u64(buf + 56, XXH3_64bits(buf, 56));
    for (uint32_t i = 0; i < nsegs; i++) {
        uint8_t *e = buf + FLASH_MAP_HDR_LEN + (size_t)i * FLASH_MAP_ENT_LEN;
        fl_put_u32(e, segs[i].seg_id);
        fl_put_u32(e + 4, segs[i].count);
        fl_put_u64(e + 8, segs[i].seq);
    }
    *bits_out = buf + len;
}

flash_map_status_e flash_map_decode(const uint8_t *buf, uint64_t len, uint64_t instance_id,
                                    uint32_t nseg_dev, flash_map_t *out)
{
    if (len < FLASH_MAP_HDR_LEN)
        return FLASH_MAP_ETRUNCATED;
    if (memcmp(buf, FLASH_MAP_MAGIC, FLASH_MAP_MAGIC_LEN) != 0)
        return FLASH_MAP_EMAGIC;
    if (fl_get_u32(buf + 8) != FLASH_MAP_VERSION)
        return FLASH_MAP_EVERSION;
    if (fl_get_u64(buf + 56) != XXH3_64bits(buf, 56))
        return FLASH_MAP_ECHECKSUM;
    if (fl_get_u64(buf + 16) != instance_id)
        return FLASH_MAP_EINSTANCE;
    uint32_t m = fl_get_u32(buf + 12);
    uint64_t total = fl_get_u64(buf + 24);
    if (m > nseg_dev)
        return FLASH_MAP_ETABLE;
    uint64_t tlen = FLASH_MAP_HDR_LEN + (uint64_t)m * FLASH_MAP_ENT_LEN;
    if (len < tlen || total > len)
        return FLASH_MAP_ETRUNCATED;
    uint64_t bits = 0, prev_seq = 0;
    uint32_t prev_id = 0;
    for (uint32_t i = 0; i < m; i++) {
        const uint8_t *e = buf + FLASH_MAP_HDR_LEN + (size_t)i * FLASH_MAP_ENT_LEN;
        uint32_t id = fl_get_u32(e);
        uint64_t seq = fl_get_u64(e + 8);
        if (id >= nseg_dev || (i > 0 && (id != (prev_id + 1) % nseg_dev || seq <= prev_seq)))
            return FLASH_MAP_ETABLE;
        prev_id = id;
        prev_seq = seq;
        bits += flash_map_bits_len(fl_get_u32(e + 4));
    }
    if (tlen + bits != total)
        return FLASH_MAP_ETRUNCATED;
    out->instance_id = instance_id;
    out->nsegs = m;
    out->len = total;
    out->table = buf + FLASH_MAP_HDR_LEN;
    out->bits = buf + tlen;
    return FLASH_MAP_OK;
}

void flash_map_entry(const flash_map_t *m, uint32_t i, flash_map_seg_t *out)
{
    const uint8_t *e = m->table + (size_t)i * FLASH_MAP_ENT_LEN;
    out->seg_id = fl_get_u32(e);
    out->count = fl_get_u32(e + 4);
    out->seq = fl_get_u64(e + 8);
}
