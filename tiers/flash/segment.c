/*
 * tiers/flash/segment.c - open segment builder; segment header and summary
 * codecs. Layouts: format.h. No locks (see segment.h), no globals.
 */
#include "flash/segment.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xxhash.h>

struct flash_seg {
    flash_seg_config_t cfg;
    uint8_t *buf;              /* segment_size bytes, 4096-aligned */
    flash_blockb_t *open;      /* the open block, raw */
    uint32_t max_record;
    flash_seghdr_t h;          /* live counters; finalize completes it */
    uint32_t cur_unit;         /* where the open block starts / will start */
    uint32_t nsum;             /* summary entries at the tail */
    bool sealed;
    bool never_expires;        /* some record has exptime 0 */
    bool fast;                 /* seal blocks raw (flash_seg_set_fast) */
    uint32_t nfastmode;        /* blocks sealed while fast (probes included) */
    uint32_t nfast;            /* blocks sealed raw because of fast */
    uint32_t nincomp;          /* blocks zstd did not shrink */
    uint32_t nprobe_raw;       /* probes zstd did not shrink by 1/8 */
    uint32_t nprobe_zstd;      /* probes it did */
    size_t image_len;
};

const char *flash_seg_strerror(flash_seg_status_e st)
{
    switch (st) {
    case FLASH_SEG_OK: return "ok";
    case FLASH_SEG_EFULL: return "segment: full";
    case FLASH_SEG_ETOOBIG: return "segment: item too large to spill";
    case FLASH_SEG_EINVAL: return "segment: invalid argument";
    case FLASH_SEG_ENOMEM: return "segment: out of memory";
    case FLASH_SEG_ESEALED: return "segment: already finalized";
    case FLASH_SEG_ETRUNCATED: return "segment: truncated";
    case FLASH_SEG_EMAGIC: return "segment: bad magic";
    case FLASH_SEG_EVERSION: return "segment: unsupported format version";
    case FLASH_SEG_ECHECKSUM: return "segment: header checksum mismatch";
    case FLASH_SEG_EHEADER: return "segment: invalid header";
    case FLASH_SEG_ESUMMARY: return "segment: invalid summary";
    }
    return "segment: unknown status";
}

size_t flash_seg_max_record(uint32_t segment_size) { return segment_size / 4; }

void flash_seg_set_fast(flash_seg_t *s, bool fast)
{
    s->fast = fast;
}

void flash_seg_block_counts(const flash_seg_t *s, uint32_t *fast, uint32_t *incompressible)
{
    bool compressible = s->nprobe_zstd >= s->nprobe_raw;
    *fast = compressible ? s->nfast : 0;
    *incompressible = s->nincomp + (compressible ? 0 : s->nfast);
}

void flash_seg_release_memory(flash_seg_t *s)
{
    /* the buffer is FLASH_IO_ALIGN-aligned and a multiple of it in size:
     * whole pages; a failure leaves the pages resident, nothing else */
    (void)madvise(s->buf, s->cfg.segment_size, MADV_DONTNEED);
}

flash_seg_status_e flash_seg_admit(uint32_t segment_size, size_t nkey, uint32_t nvalue)
{
    if (nkey == 0 || nkey > FLASH_KEY_MAX)
        return FLASH_SEG_EINVAL;
    if (flash_record_size(nkey, nvalue) > flash_seg_max_record(segment_size))
        return FLASH_SEG_ETOOBIG;
    return FLASH_SEG_OK;
}

flash_seg_status_e flash_seg_create(flash_seg_t **out, const flash_seg_config_t *cfg)
{
    *out = NULL;
    uint32_t ss = cfg->segment_size;
    if (ss < FLASH_MIN_SEGMENT_SIZE || ss > FLASH_MAX_SEGMENT_SIZE || ss % FLASH_IO_ALIGN ||
        cfg->block_target < FLASH_UNIT || cfg->block_target > ss / 4)
        return FLASH_SEG_EINVAL;
    flash_seg_t *s = calloc(1, sizeof *s);
    if (!s)
        return FLASH_SEG_ENOMEM;
    s->cfg = *cfg;
    s->max_record = (uint32_t)flash_seg_max_record(ss);
    if (posix_memalign((void **)&s->buf, FLASH_IO_ALIGN, ss) != 0) {
        free(s);
        return FLASH_SEG_ENOMEM;
    }
    if (flash_blockb_create(&s->open, cfg->block_target, s->max_record) != FLASH_BLK_OK) {
        free(s->buf);
        free(s);
        return FLASH_SEG_ENOMEM;
    }
    /* not zeroed: the image is written from the first unit (cleared by
     * flash_seg_reset) to image_len, every byte of it defined (blocks are
     * padded with zeros, the summary's tail cleared at finalize), so the
     * buffer is resident only as far as segments have been built in it */
    flash_seg_reset(s, 0, 0, 0, 0);
    *out = s;
    return FLASH_SEG_OK;
}

void flash_seg_destroy(flash_seg_t **sp)
{
    if (!sp || !*sp)
        return;
    flash_blockb_destroy(&(*sp)->open);
    free((*sp)->buf);
    free(*sp);
    *sp = NULL;
}

flash_seg_status_e flash_seg_reset(flash_seg_t *s, uint32_t seg_id, uint32_t gen,
                                   uint64_t seq, uint64_t instance_id)
{
    if (seg_id >= FLASH_MAX_SEGMENTS)
        return FLASH_SEG_EINVAL;
    flash_blockb_reset(s->open);
    memset(&s->h, 0, sizeof s->h);
    s->h.version = FLASH_FORMAT_VERSION;
    s->h.instance_id = instance_id;
    s->h.seq = seq;
    s->h.seg_id = seg_id;
    s->h.gen = gen;
    s->cur_unit = FLASH_SEG_FIRST_BLOCK;
    s->nsum = 0;
    s->sealed = false;
    s->never_expires = false;
    s->nfastmode = 0;
    s->nfast = 0;
    s->nincomp = 0;
    s->nprobe_raw = 0;
    s->nprobe_zstd = 0;
    s->image_len = 0;
    /* a stale header must not pass for this generation's */
    memset(s->buf, 0, FLASH_UNIT);
    return FLASH_SEG_OK;
}

/* Bytes the summary reserves with n entries. */
static uint64_t sum_space(uint32_t n)
{
    return fl_round_up((uint64_t)n * FLASH_SUM_ENTRY_LEN, FLASH_UNIT);
}

static uint64_t used_bytes(const flash_seg_t *s)
{
    return (uint64_t)s->cur_unit * FLASH_UNIT;
}

static void put_tail_entry(flash_seg_t *s, const flash_sum_entry_t *e)
{
    s->nsum++;
    flash_sum_entry_encode(e, s->buf + s->cfg.segment_size -
                                  (size_t)s->nsum * FLASH_SUM_ENTRY_LEN);
}

/* Seals the open block (non-empty) at cur_unit. */
static flash_seg_status_e seal_open(flash_seg_t *s)
{
    flash_block_loc_t loc = {s->h.seg_id, s->h.gen, (uint16_t)s->cur_unit};
    uint64_t limit = s->cfg.segment_size - sum_space(s->nsum);
    uint32_t stored = 0;
    bool compresses = s->cfg.cctx && s->cfg.level != FLASH_LEVEL_NONE;
    bool fast = compresses && s->fast;
    /* every FLASH_SEG_FAST_PROBE-th block sealed fast is compressed all
     * the same: whether the data compresses at all */
    bool probe = fast && s->nfastmode++ % FLASH_SEG_FAST_PROBE == 0;
    uint8_t *dst = s->buf + used_bytes(s);
    uint64_t raw_total = flash_block_stored_bound(flash_blockb_raw_size(s->open));
    flash_blk_status_e bs = flash_blockb_seal(s->open, s->cfg.cctx,
                                              fast && !probe ? FLASH_LEVEL_NONE : s->cfg.level,
                                              flash_dicts_active(s->cfg.dicts), &loc, dst,
                                              (size_t)(limit - used_bytes(s)), &stored);
    if (bs != FLASH_BLK_OK) /* impossible: every add reserved the bound */
        return FLASH_SEG_EINVAL;
    bool raw = fl_get_u8(dst + 4) == FLASH_CODEC_RAW; /* header: codec */
    /* a probe shows the data compressible if it saved 1/8 of the space */
    bool saves = (uint64_t)stored * 8 <= raw_total * 7;
    if (fast && !probe)
        s->nfast++;
    else if (compresses && raw)
        s->nincomp++;
    if (probe) {
        s->nprobe_zstd += saves;
        s->nprobe_raw += !saves;
    }
    s->cur_unit += stored / FLASH_UNIT;
    s->h.nblocks++;
    return FLASH_SEG_OK;
}

flash_seg_status_e flash_seg_add(flash_seg_t *s, const flash_record_t *rec,
                                 uint64_t hash, flash_block_loc_t *loc)
{
    if (s->sealed)
        return FLASH_SEG_ESEALED;
    flash_seg_status_e st = flash_seg_admit(s->cfg.segment_size, rec->nkey, rec->nvalue);
    if (st != FLASH_SEG_OK)
        return st;
    uint64_t r = flash_record_size(rec->nkey, rec->nvalue);
    uint64_t ss = s->cfg.segment_size;
    uint64_t sum_after = sum_space(s->nsum + 1);
    uint32_t raw = flash_blockb_raw_size(s->open);
    bool seal_first = false;
    if (flash_blockb_count(s->open) > 0) {
        /* the open block is full, or its worst case (stored raw) would not
         * leave room: seal it now, it usually compresses (its room was
         * reserved), and start a new block for this item */
        seal_first = raw + r > s->cfg.block_target ||
                     used_bytes(s) + flash_block_stored_bound(raw + r) + sum_after > ss;
    }
    if (seal_first) {
        if (used_bytes(s) + FLASH_UNIT + flash_block_stored_bound(r) + sum_after > ss)
            return FLASH_SEG_EFULL; /* cannot fit even if it sealed to 512 B */
        st = seal_open(s);
        if (st != FLASH_SEG_OK)
            return st;
        raw = 0;
    }
    if (used_bytes(s) + flash_block_stored_bound(raw + r) + sum_after > ss)
        return FLASH_SEG_EFULL;
    flash_blk_status_e bs = flash_blockb_append(s->open, rec);
    if (bs != FLASH_BLK_OK) /* sizes were checked above */
        return bs == FLASH_BLK_EINVAL ? FLASH_SEG_EINVAL : FLASH_SEG_ETOOBIG;
    flash_sum_entry_t e = {hash, (uint16_t)s->cur_unit, FLASH_SUM_ITEM};
    put_tail_entry(s, &e);
    if (s->h.nitems == 0 || rec->store_time < s->h.min_store_time)
        s->h.min_store_time = rec->store_time;
    if (rec->store_time > s->h.max_store_time)
        s->h.max_store_time = rec->store_time;
    if (rec->cas > s->h.max_cas)
        s->h.max_cas = rec->cas;
    if (rec->exptime == 0)
        s->never_expires = true;
    else if (rec->exptime > s->h.max_exptime)
        s->h.max_exptime = rec->exptime;
    s->h.nitems++;
    loc->seg_id = s->h.seg_id;
    loc->gen = s->h.gen;
    loc->blkoff = (uint16_t)s->cur_unit;
    return FLASH_SEG_OK;
}

flash_seg_status_e flash_seg_add_tombstone(flash_seg_t *s, uint64_t hash)
{
    if (s->sealed)
        return FLASH_SEG_ESEALED;
    uint32_t raw = flash_blockb_raw_size(s->open);
    uint64_t need = sum_space(s->nsum + 1), ss = s->cfg.segment_size;
    if (raw && used_bytes(s) + flash_block_stored_bound(raw) + need > ss &&
        used_bytes(s) + FLASH_UNIT + need <= ss) {
        /* the open block's worst case is in the way: seal it (it shrinks) */
        flash_seg_status_e st = seal_open(s);
        if (st != FLASH_SEG_OK)
            return st;
        raw = 0;
    }
    uint64_t open_bound = raw ? flash_block_stored_bound(raw) : 0;
    if (used_bytes(s) + open_bound + need > ss)
        return FLASH_SEG_EFULL;
    flash_sum_entry_t e = {hash, 0, FLASH_SUM_TOMBSTONE};
    put_tail_entry(s, &e);
    s->h.ntombs++;
    return FLASH_SEG_OK;
}

flash_seg_status_e flash_seg_finalize(flash_seg_t *s, uint64_t now,
                                      const flash_seg_flush_t *flush)
{
    if (s->sealed)
        return FLASH_SEG_OK;
    if (flash_blockb_count(s->open) > 0) {
        flash_seg_status_e st = seal_open(s);
        if (st != FLASH_SEG_OK)
            return st;
    }
    uint32_t ss = s->cfg.segment_size;
    size_t n = s->nsum;
    size_t slen = n * FLASH_SUM_ENTRY_LEN;
    uint8_t *sum = s->buf + used_bytes(s);
    /* tail holds entries newest-first; move them, then reverse in place */
    memmove(sum, s->buf + ss - slen, slen);
    for (size_t i = 0, j = n ? n - 1 : 0; i < j; i++, j--) {
        uint8_t tmp[FLASH_SUM_ENTRY_LEN];
        memcpy(tmp, sum + i * FLASH_SUM_ENTRY_LEN, FLASH_SUM_ENTRY_LEN);
        memcpy(sum + i * FLASH_SUM_ENTRY_LEN, sum + j * FLASH_SUM_ENTRY_LEN,
               FLASH_SUM_ENTRY_LEN);
        memcpy(sum + j * FLASH_SUM_ENTRY_LEN, tmp, FLASH_SUM_ENTRY_LEN);
    }
    s->h.summary_off = (uint32_t)used_bytes(s);
    s->h.summary_count = (uint32_t)n;
    s->h.summary_cksum = XXH3_64bits(sum, slen);
    s->h.data_end = (uint32_t)fl_round_up(s->h.summary_off + slen, FLASH_UNIT);
    s->h.created = now;
    s->h.flush_oldest_live = flush ? flush->oldest_live : 0;
    s->h.flush_oldest_cas = flush ? flush->oldest_cas : 0;
    if (s->never_expires)
        s->h.max_exptime = 0;
    s->image_len = (size_t)fl_round_up(s->h.data_end, FLASH_IO_ALIGN);
    memset(sum + slen, 0, s->image_len - s->h.summary_off - slen);
    memset(s->buf, 0, FLASH_UNIT);
    flash_seghdr_encode(&s->h, s->buf);
    s->sealed = true;
    return FLASH_SEG_OK;
}

void flash_seg_image(const flash_seg_t *s, const uint8_t **buf, size_t *len)
{
    *buf = s->buf;
    *len = s->image_len;
}

void flash_seg_header(const flash_seg_t *s, flash_seghdr_t *out) { *out = s->h; }

size_t flash_seg_scratch_size(const flash_seg_t *s) { return s->max_record; }

flash_blk_status_e flash_seg_lookup(const flash_seg_t *s, ZSTD_DCtx *dctx,
                                    const flash_block_loc_t *loc, const char *key,
                                    size_t nkey, uint8_t *scratch, size_t scratch_cap,
                                    flash_record_t *out)
{
    flash_block_view_t v;
    flash_blk_status_e st = flash_seg_view(s, dctx, loc, scratch, scratch_cap, &v);
    if (st != FLASH_BLK_OK)
        return st;
    return flash_block_find(&v, key, nkey, out);
}

flash_blk_status_e flash_seg_view(const flash_seg_t *s, ZSTD_DCtx *dctx,
                                  const flash_block_loc_t *loc, uint8_t *scratch,
                                  size_t scratch_cap, flash_block_view_t *v)
{
    if (loc->seg_id != s->h.seg_id)
        return FLASH_BLK_EMISPLACED;
    if (loc->gen != s->h.gen)
        return FLASH_BLK_ESTALE;
    uint16_t blkoff = loc->blkoff;
    if (!s->sealed && blkoff == s->cur_unit && flash_blockb_count(s->open) > 0) {
        flash_blockb_view(s->open, v);
        return FLASH_BLK_OK;
    }
    if (blkoff < FLASH_SEG_FIRST_BLOCK || blkoff >= s->cur_unit)
        return FLASH_BLK_EMISPLACED;
    size_t off = (size_t)blkoff * FLASH_UNIT;
    return flash_block_open(s->buf + off, used_bytes(s) - off, loc, dctx, s->cfg.dicts,
                            scratch, scratch_cap, v);
}

/* ---- codecs ---- */

void flash_seghdr_encode(const flash_seghdr_t *h, uint8_t *b)
{
    memset(b, 0, FLASH_SEGHDR_LEN);
    memcpy(b, FLASH_SEG_MAGIC, 4);
    fl_put_u16(b + 4, (uint16_t)h->version);
    fl_put_u16(b + 6, FLASH_SEGHDR_LEN);
    fl_put_u64(b + 8, h->instance_id);
    fl_put_u64(b + 16, h->seq);
    fl_put_u32(b + 24, h->seg_id);
    fl_put_u32(b + 28, h->gen);
    fl_put_u64(b + 32, h->created);
    fl_put_u32(b + 40, h->flags);
    fl_put_u32(b + 44, h->nblocks);
    fl_put_u32(b + 48, h->nitems);
    fl_put_u32(b + 52, h->ntombs);
    fl_put_u32(b + 56, h->summary_off);
    fl_put_u32(b + 60, h->summary_count);
    fl_put_u64(b + 64, h->summary_cksum);
    fl_put_u32(b + 72, h->data_end);
    fl_put_u32(b + 76, h->min_store_time);
    fl_put_u32(b + 80, h->max_store_time);
    fl_put_u32(b + 84, h->flush_oldest_live);
    fl_put_u64(b + 88, h->flush_oldest_cas);
    fl_put_u64(b + 96, h->max_cas);
    fl_put_u32(b + 104, h->max_exptime);
    fl_put_u64(b + FLASH_SEGHDR_CKSUM_OFF, XXH3_64bits(b, FLASH_SEGHDR_CKSUM_OFF));
}

flash_seg_status_e flash_seghdr_decode(const uint8_t *b, size_t len, uint32_t segment_size,
                                       flash_seghdr_t *out)
{
    if (len < FLASH_SEGHDR_LEN)
        return FLASH_SEG_ETRUNCATED;
    if (memcmp(b, FLASH_SEG_MAGIC, 4) != 0)
        return FLASH_SEG_EMAGIC;
    flash_seghdr_t h;
    h.version = fl_get_u16(b + 4);
    if (h.version != FLASH_FORMAT_VERSION)
        return FLASH_SEG_EVERSION;
    if (fl_get_u16(b + 6) != FLASH_SEGHDR_LEN)
        return FLASH_SEG_EHEADER;
    if (fl_get_u64(b + FLASH_SEGHDR_CKSUM_OFF) != XXH3_64bits(b, FLASH_SEGHDR_CKSUM_OFF))
        return FLASH_SEG_ECHECKSUM;
    h.instance_id = fl_get_u64(b + 8);
    h.seq = fl_get_u64(b + 16);
    h.seg_id = fl_get_u32(b + 24);
    h.gen = fl_get_u32(b + 28);
    h.created = fl_get_u64(b + 32);
    h.flags = fl_get_u32(b + 40);
    h.nblocks = fl_get_u32(b + 44);
    h.nitems = fl_get_u32(b + 48);
    h.ntombs = fl_get_u32(b + 52);
    h.summary_off = fl_get_u32(b + 56);
    h.summary_count = fl_get_u32(b + 60);
    h.summary_cksum = fl_get_u64(b + 64);
    h.data_end = fl_get_u32(b + 72);
    h.min_store_time = fl_get_u32(b + 76);
    h.max_store_time = fl_get_u32(b + 80);
    h.flush_oldest_live = fl_get_u32(b + 84);
    h.flush_oldest_cas = fl_get_u64(b + 88);
    h.max_cas = fl_get_u64(b + 96);
    h.max_exptime = fl_get_u32(b + 104);
    uint64_t slen = (uint64_t)h.summary_count * FLASH_SUM_ENTRY_LEN;
    if (h.seg_id >= FLASH_MAX_SEGMENTS || h.flags != 0 ||
        h.summary_off < FLASH_SEG_FIRST_BLOCK * FLASH_UNIT || h.summary_off % FLASH_UNIT ||
        (uint64_t)h.nitems + h.ntombs != h.summary_count ||
        h.data_end != fl_round_up(h.summary_off + slen, FLASH_UNIT) ||
        h.data_end > segment_size || h.nblocks > h.nitems ||
        (h.nblocks == 0) != (h.nitems == 0) ||
        (uint64_t)h.nblocks * FLASH_UNIT > h.summary_off - FLASH_UNIT ||
        h.min_store_time > h.max_store_time)
        return FLASH_SEG_EHEADER;
    *out = h;
    return FLASH_SEG_OK;
}

void flash_sum_entry_encode(const flash_sum_entry_t *e, uint8_t *p)
{
    fl_put_u64(p, e->hash);
    fl_put_u16(p + 8, e->blkoff);
    fl_put_u8(p + 10, e->kind);
    fl_put_u8(p + 11, 0);
}

flash_seg_status_e flash_sum_entry_decode(const uint8_t *p, flash_sum_entry_t *e)
{
    e->hash = fl_get_u64(p);
    e->blkoff = fl_get_u16(p + 8);
    e->kind = fl_get_u8(p + 10);
    if (e->kind == FLASH_SUM_ITEM) {
        if (e->blkoff < FLASH_SEG_FIRST_BLOCK || e->blkoff >= (1u << FLASH_BLKOFF_BITS))
            return FLASH_SEG_ESUMMARY;
    } else if (e->kind == FLASH_SUM_TOMBSTONE) {
        if (e->blkoff != 0)
            return FLASH_SEG_ESUMMARY;
    } else {
        return FLASH_SEG_ESUMMARY;
    }
    return FLASH_SEG_OK;
}

flash_seg_status_e flash_summary_check(const flash_seghdr_t *h, const uint8_t *summary,
                                       size_t len)
{
    uint64_t slen = (uint64_t)h->summary_count * FLASH_SUM_ENTRY_LEN;
    if (len < slen)
        return FLASH_SEG_ETRUNCATED;
    if (XXH3_64bits(summary, (size_t)slen) != h->summary_cksum)
        return FLASH_SEG_ESUMMARY;
    uint32_t items = 0, tombs = 0;
    uint64_t limit = h->summary_off / FLASH_UNIT;
    for (uint32_t i = 0; i < h->summary_count; i++) {
        flash_sum_entry_t e;
        if (flash_sum_entry_decode(summary + (size_t)i * FLASH_SUM_ENTRY_LEN, &e) != FLASH_SEG_OK)
            return FLASH_SEG_ESUMMARY;
        if (e.kind == FLASH_SUM_ITEM) {
            if (e.blkoff >= limit)
                return FLASH_SEG_ESUMMARY;
            items++;
        } else {
            tombs++;
        }
    }
    if (items != h->nitems || tombs != h->ntombs)
        return FLASH_SEG_ESUMMARY;
    return FLASH_SEG_OK;
}
