/*
 * tiers/flash/block.c - block builder and reader. Layouts: format.h.
 * No locks, no globals.
 */
#include "flash/block.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct flash_blockb {
    uint32_t target;
    uint32_t capacity;
    uint32_t raw_len;
    uint32_t nrec;
    uint8_t *raw;
};

const char *flash_blk_strerror(flash_blk_status_e st)
{
    switch (st) {
    case FLASH_BLK_OK: return "ok";
    case FLASH_BLK_EFULL: return "block: full";
    case FLASH_BLK_ETOOBIG: return "block: record larger than the block capacity";
    case FLASH_BLK_EINVAL: return "block: invalid argument";
    case FLASH_BLK_EEMPTY: return "block: no record to seal";
    case FLASH_BLK_ENOSPC: return "block: destination buffer too small";
    case FLASH_BLK_ETRUNCATED: return "block: truncated";
    case FLASH_BLK_EMAGIC: return "block: bad magic";
    case FLASH_BLK_EHEADER: return "block: invalid header";
    case FLASH_BLK_ECHECKSUM: return "block: checksum mismatch";
    case FLASH_BLK_ESTALE: return "block: stale generation";
    case FLASH_BLK_EMISPLACED: return "block: wrong segment or offset";
    case FLASH_BLK_EDECOMPRESS: return "block: decompression failed";
    case FLASH_BLK_ECORRUPT: return "block: records corrupt";
    case FLASH_BLK_ENOTFOUND: return "block: key not found";
    case FLASH_BLK_ENODICT: return "block: its dictionary is not loaded";
    case FLASH_BLK_END: return "block: end of records";
    }
    return "block: unknown status";
}

size_t flash_record_size(size_t nkey, uint32_t nvalue)
{
    return FLASH_REC_HDR_LEN + nkey + (size_t)nvalue;
}

size_t flash_block_stored_bound(size_t raw_len)
{
    return (size_t)fl_round_up(FLASH_BLK_HDR_LEN + (uint64_t)raw_len, FLASH_UNIT);
}

/* ---- builder ---- */

flash_blk_status_e flash_blockb_create(flash_blockb_t **out, uint32_t target,
                                       uint32_t capacity)
{
    *out = NULL;
    if (target == 0 || capacity < target || capacity > FLASH_BLK_MAX_RAW)
        return FLASH_BLK_EINVAL;
    flash_blockb_t *bb = calloc(1, sizeof *bb);
    if (!bb)
        return FLASH_BLK_ENOSPC;
    bb->raw = malloc(capacity);
    if (!bb->raw) {
        free(bb);
        return FLASH_BLK_ENOSPC;
    }
    bb->target = target;
    bb->capacity = capacity;
    *out = bb;
    return FLASH_BLK_OK;
}

void flash_blockb_destroy(flash_blockb_t **bbp)
{
    if (!bbp || !*bbp)
        return;
    free((*bbp)->raw);
    free(*bbp);
    *bbp = NULL;
}

void flash_blockb_reset(flash_blockb_t *bb)
{
    bb->raw_len = 0;
    bb->nrec = 0;
}

uint32_t flash_blockb_raw_size(const flash_blockb_t *bb) { return bb->raw_len; }
uint32_t flash_blockb_count(const flash_blockb_t *bb) { return bb->nrec; }

flash_blk_status_e flash_blockb_append(flash_blockb_t *bb, const flash_record_t *rec)
{
    if (rec->nkey == 0 || rec->nkey > FLASH_KEY_MAX)
        return FLASH_BLK_EINVAL;
    size_t sz = flash_record_size(rec->nkey, rec->nvalue);
    if (rec->nvalue > FLASH_REC_VLEN_MASK || sz > bb->capacity)
        return FLASH_BLK_ETOOBIG;
    if (bb->nrec > 0 && bb->raw_len + sz > bb->target)
        return FLASH_BLK_EFULL;
    if (bb->raw_len + sz > bb->capacity) /* only if target > capacity: never */
        return FLASH_BLK_EFULL;
    uint8_t *p = bb->raw + bb->raw_len;
    fl_put_u8(p + 0, (uint8_t)rec->nkey);
    fl_put_u32(p + 1, rec->flags);
    fl_put_u32(p + 5, rec->nvalue); /* < 2^24: byte 8 is 0, then the marks */
    fl_put_u8(p + FLASH_REC_MARKS_OFF, (uint8_t)(rec->marks & FLASH_REC_MARKS_MASK));
    fl_put_u32(p + 9, rec->exptime);
    fl_put_u64(p + 13, rec->cas);
    fl_put_u32(p + 21, rec->store_time);
    memcpy(p + FLASH_REC_HDR_LEN, rec->key, rec->nkey);
    if (rec->nvalue)
        memcpy(p + FLASH_REC_HDR_LEN + rec->nkey, rec->value, rec->nvalue);
    bb->raw_len += (uint32_t)sz;
    bb->nrec++;
    return FLASH_BLK_OK;
}

void flash_blockb_view(const flash_blockb_t *bb, flash_block_view_t *v)
{
    v->raw = bb->raw;
    v->raw_len = bb->raw_len;
    v->nrec = bb->nrec;
}

static uint64_t block_checksum(const uint8_t *hdr, const uint8_t *payload, size_t n)
{
    return XXH3_64bits_withSeed(payload, n, XXH3_64bits(hdr, FLASH_BLK_HDR_CKSUM_OFF));
}

flash_blk_status_e flash_blockb_seal(flash_blockb_t *bb, ZSTD_CCtx *cctx, int level,
                                     const flash_dict_t *dict, const flash_block_loc_t *loc, uint8_t *dst,
                                     size_t dst_cap, uint32_t *stored_out)
{
    if (bb->nrec == 0)
        return FLASH_BLK_EEMPTY;
    if (loc->blkoff == 0)
        return FLASH_BLK_EINVAL;
    size_t bound = flash_block_stored_bound(bb->raw_len);
    if (dst_cap < bound)
        return FLASH_BLK_ENOSPC;
    uint8_t *payload = dst + FLASH_BLK_HDR_LEN;
    uint32_t stored = bb->raw_len;
    uint8_t codec = FLASH_CODEC_RAW, slot = 0;
    if (cctx && level != FLASH_LEVEL_NONE) {
        /* a destination one byte short of raw: zstd fails unless it shrinks */
        size_t r;
        if (dict && dict->cdict)
            r = ZSTD_compress_usingCDict(cctx, payload, bb->raw_len - 1, bb->raw,
                                         bb->raw_len, dict->cdict);
        else
            r = ZSTD_compressCCtx(cctx, payload, bb->raw_len - 1, bb->raw,
                                  bb->raw_len, level);
        if (!ZSTD_isError(r) && r < bb->raw_len) {
            stored = (uint32_t)r;
            codec = dict && dict->cdict ? FLASH_CODEC_ZSTD_DICT : FLASH_CODEC_ZSTD;
            slot = codec == FLASH_CODEC_ZSTD_DICT ? (uint8_t)dict->slot : 0;
        }
    }
    if (codec == FLASH_CODEC_RAW)
        memcpy(payload, bb->raw, bb->raw_len);
    memcpy(dst, FLASH_BLK_MAGIC, 4);
    fl_put_u8(dst + 4, codec);
    fl_put_u8(dst + 5, slot);
    memset(dst + 6, 0, 2);
    fl_put_u32(dst + 8, bb->nrec);
    fl_put_u32(dst + 12, bb->raw_len);
    fl_put_u32(dst + 16, stored);
    fl_put_u32(dst + 20, loc->seg_id);
    fl_put_u32(dst + 24, loc->gen);
    fl_put_u16(dst + 28, loc->blkoff);
    fl_put_u16(dst + 30, 0);
    fl_put_u64(dst + FLASH_BLK_HDR_CKSUM_OFF, block_checksum(dst, payload, stored));
    size_t used = FLASH_BLK_HDR_LEN + (size_t)stored;
    size_t total = (size_t)fl_round_up(used, FLASH_UNIT);
    memset(dst + used, 0, total - used);
    *stored_out = (uint32_t)total;
    flash_blockb_reset(bb);
    return FLASH_BLK_OK;
}

/* ---- reader ---- */

flash_blk_status_e flash_block_header(const uint8_t *b, size_t len, flash_block_hdr_t *h)
{
    if (len < FLASH_BLK_HDR_LEN)
        return FLASH_BLK_ETRUNCATED;
    if (memcmp(b, FLASH_BLK_MAGIC, 4) != 0)
        return FLASH_BLK_EMAGIC;
    h->codec = fl_get_u8(b + 4);
    h->dict_slot = fl_get_u8(b + 5);
    h->nrec = fl_get_u32(b + 8);
    h->raw_len = fl_get_u32(b + 12);
    h->stored_len = fl_get_u32(b + 16);
    h->loc.seg_id = fl_get_u32(b + 20);
    h->loc.gen = fl_get_u32(b + 24);
    h->loc.blkoff = fl_get_u16(b + 28);
    h->checksum = fl_get_u64(b + FLASH_BLK_HDR_CKSUM_OFF);
    if (h->nrec == 0 || h->raw_len > FLASH_BLK_MAX_RAW ||
        (uint64_t)h->nrec * (FLASH_REC_HDR_LEN + 1) > h->raw_len)
        return FLASH_BLK_EHEADER;
    if (h->codec == FLASH_CODEC_RAW) {
        if (h->stored_len != h->raw_len)
            return FLASH_BLK_EHEADER;
    } else if (h->codec == FLASH_CODEC_ZSTD || h->codec == FLASH_CODEC_ZSTD_DICT) {
        if (h->stored_len == 0 || h->stored_len >= h->raw_len)
            return FLASH_BLK_EHEADER;
        if (h->codec == FLASH_CODEC_ZSTD_DICT && h->dict_slot >= FLASH_DICT_SLOTS)
            return FLASH_BLK_EHEADER;
    } else {
        return FLASH_BLK_EHEADER;
    }
    return FLASH_BLK_OK;
}

size_t flash_block_total_len(const flash_block_hdr_t *h)
{
    return flash_block_stored_bound(h->stored_len);
}

/* Parses the record at raw[off]; bounds-checked against raw_len. */
static flash_blk_status_e parse_record(const uint8_t *raw, uint32_t raw_len, uint32_t off,
                                       flash_record_t *r, uint32_t *next)
{
    if (off > raw_len || raw_len - off < FLASH_REC_HDR_LEN)
        return FLASH_BLK_ECORRUPT;
    const uint8_t *p = raw + off;
    uint32_t nkey = fl_get_u8(p);
    uint32_t nvalue = fl_get_u32(p + 5) & FLASH_REC_VLEN_MASK;
    uint8_t marks = fl_get_u8(p + FLASH_REC_MARKS_OFF);
    uint64_t end = (uint64_t)off + FLASH_REC_HDR_LEN + nkey + nvalue;
    if (nkey == 0 || nkey > FLASH_KEY_MAX || end > raw_len ||
        (marks & ~FLASH_REC_MARKS_MASK) != 0)
        return FLASH_BLK_ECORRUPT;
    r->nkey = nkey;
    r->flags = fl_get_u32(p + 1);
    r->nvalue = nvalue;
    r->exptime = fl_get_u32(p + 9);
    r->cas = fl_get_u64(p + 13);
    r->store_time = fl_get_u32(p + 21);
    r->marks = marks;
    r->key = (const char *)(p + FLASH_REC_HDR_LEN);
    r->value = p + FLASH_REC_HDR_LEN + nkey;
    *next = (uint32_t)end;
    return FLASH_BLK_OK;
}

flash_blk_status_e flash_block_open(const uint8_t *buf, size_t len,
                                    const flash_block_loc_t *expect, ZSTD_DCtx *dctx,
                                    const flash_dicts_t *dicts, uint8_t *scratch,
                                    size_t scratch_cap, flash_block_view_t *view)
{
    flash_block_hdr_t h;
    flash_blk_status_e st = flash_block_header(buf, len, &h);
    if (st != FLASH_BLK_OK)
        return st;
    if (len - FLASH_BLK_HDR_LEN < h.stored_len)
        return FLASH_BLK_ETRUNCATED;
    const uint8_t *payload = buf + FLASH_BLK_HDR_LEN;
    if (block_checksum(buf, payload, h.stored_len) != h.checksum)
        return FLASH_BLK_ECHECKSUM;
    if (expect) {
        if (h.loc.seg_id != expect->seg_id || h.loc.blkoff != expect->blkoff)
            return FLASH_BLK_EMISPLACED;
        if (h.loc.gen != expect->gen)
            return FLASH_BLK_ESTALE;
    }
    const uint8_t *raw = payload;
    if (h.codec != FLASH_CODEC_RAW) {
        if (!scratch || scratch_cap < h.raw_len)
            return FLASH_BLK_ENOSPC;
        if (!dctx)
            return FLASH_BLK_EINVAL;
        size_t r;
        if (h.codec == FLASH_CODEC_ZSTD_DICT) {
            const flash_dict_t *d = flash_dicts_slot(dicts, h.dict_slot);
            if (!d)
                return FLASH_BLK_ENODICT;
            r = ZSTD_decompress_usingDDict(dctx, scratch, h.raw_len, payload, h.stored_len,
                                           d->ddict);
        } else {
            r = ZSTD_decompressDCtx(dctx, scratch, h.raw_len, payload, h.stored_len);
        }
        if (ZSTD_isError(r) || r != h.raw_len)
            return FLASH_BLK_EDECOMPRESS;
        raw = scratch;
    }
    /* walk: exactly nrec records must fill raw_len */
    uint32_t off = 0, n = 0;
    flash_record_t rec;
    while (off < h.raw_len) {
        if (n == h.nrec || parse_record(raw, h.raw_len, off, &rec, &off) != FLASH_BLK_OK)
            return FLASH_BLK_ECORRUPT;
        n++;
    }
    if (n != h.nrec)
        return FLASH_BLK_ECORRUPT;
    view->raw = raw;
    view->raw_len = h.raw_len;
    view->nrec = h.nrec;
    return FLASH_BLK_OK;
}

flash_blk_status_e flash_block_next(const flash_block_view_t *v, uint32_t *cursor,
                                    flash_record_t *out)
{
    if (*cursor >= v->raw_len)
        return FLASH_BLK_END;
    return parse_record(v->raw, v->raw_len, *cursor, out, cursor);
}

flash_blk_status_e flash_block_find(const flash_block_view_t *v, const char *key,
                                    size_t nkey, flash_record_t *out)
{
    uint32_t cur = 0;
    flash_record_t rec;
    bool found = false;
    flash_blk_status_e st;
    while ((st = flash_block_next(v, &cur, &rec)) == FLASH_BLK_OK) {
        if (rec.nkey == nkey && memcmp(rec.key, key, nkey) == 0) {
            *out = rec;
            found = true;
        }
    }
    if (st != FLASH_BLK_END)
        return st;
    return found ? FLASH_BLK_OK : FLASH_BLK_ENOTFOUND;
}
