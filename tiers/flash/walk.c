/*
 * tiers/flash/walk.c - flash_walk: lists the live records of the flash
 * tier (for `lru_crawler metadump`). Contract: flash.h; internals and lock
 * order: flash_int.h.
 *
 * The segments of the ring are visited in ring order (tail -> head, the
 * order reclaim rewrites move records in), from a snapshot of the ring taken
 * at the start:
 *   - USED: the segment's used part is read with synchronous aligned
 *     O_DIRECT preads (device_pread) into a private segment-size buffer,
 *     holding the segment's reader count so it is not reopened meanwhile;
 *     header (instance, id, generation) checked, then its blocks are walked
 *     from unit 1 to the summary, each validated (checksum, id, generation);
 *   - OPEN / WRITING: the builder's bytes are copied out under its lock
 *     (seg_lock -> bld_lock hand over hand, as the reader does; a memcpy
 *     of at most a segment: sealed blocks as stored, the open block's raw
 *     records), then decoded and walked with no lock held;
 *   - anything else: skipped.
 * A record is listed only if it is the live copy: not dead (expiry, flush),
 * some index slot of its hash points at its (segment, block) and the record
 * owns that slot (flash_slot_owner: the LAST record of the block with the
 * slot's tag and bucket), and the segment's generation is still the one
 * walked (checked after the index, so a slot of a later generation can not
 * vouch for an old record). IO errors and bad blocks are counted, logged
 * once per segment, and skipped.
 *
 * The callback runs with no flash lock held (it may take the cache's stripe
 * locks). Blocking: call on a thread of its own, never on a worker.
 *
 * Lock order: seg_lock -> bld_lock[i] -> index bucket locks (flash_int.h).
 */
#include "flash/flash_int.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct walker {
    flash_t *f;
    flash_walk_fn fn;
    void *ctx;
    const _Atomic bool *stop;
    flash_walk_stats_t *st;
    ZSTD_DCtx *dctx;
    uint8_t *img;       /* segment image (device_buf_alloc, segsize) */
    uint8_t *scratch;   /* decompression, max_record */
    uint8_t *copy;      /* bytes copied from a builder */
    size_t copy_len, copy_cap;
    bool stopped;
} walker_t;

static bool stopping(walker_t *w)
{
    if (!w->stopped && w->stop && atomic_load_explicit(w->stop, memory_order_relaxed))
        w->stopped = true;
    return w->stopped;
}

/* Does the record own an index slot at (seg, blkoff)? */
static bool record_live(walker_t *w, const flash_block_view_t *v, const flash_record_t *r,
                        uint64_t hash, uint32_t seg, uint32_t gen, uint32_t blkoff)
{
    flash_t *f = w->f;
    unsigned tag = index_tag(f->idx, hash);
    index_entry_t c[INDEX_MAX_MATCHES];
    unsigned n = index_lookup(f->idx, hash, c);
    bool owned = false;
    for (unsigned i = 0; i < n && !owned; i++)
        owned = c[i].loc.segment == seg && c[i].loc.offset == blkoff &&
                flash_slot_owner(f, v, r, tag, c[i].bucket);
    if (!owned)
        return false;
    pthread_mutex_lock(&f->seg_lock);
    bool same = f->segs[seg].gen == gen && f->segs[seg].state != FSEG_FREE &&
                f->segs[seg].state != FSEG_BAD;
    pthread_mutex_unlock(&f->seg_lock);
    return same;
}

/* Lists the live records of one block view. False: the callback stopped. */
static bool walk_view(walker_t *w, const flash_block_view_t *v, uint32_t seg, uint32_t gen,
                      uint32_t blkoff, int64_t now)
{
    w->st->blocks++;
    uint32_t cursor = 0;
    flash_record_t r;
    while (flash_block_next(v, &cursor, &r) == FLASH_BLK_OK) {
        w->st->records++;
        if (flash_record_dead(w->f, &r, now))
            continue;
        uint64_t hash = XXH3_64bits(r.key, r.nkey);
        if (!record_live(w, v, &r, hash, seg, gen, blkoff))
            continue;
        flash_walk_rec_t out = {
            .key = r.key,
            .nkey = r.nkey,
            .nbytes = r.nvalue,
            .flags = r.flags,
            .exptime = r.exptime,
            .cas = r.cas,
            .store_time = r.store_time,
            .marks = r.marks,
            .hash = hash,
        };
        w->st->listed++;
        if (!w->fn(w->ctx, &out)) {
            w->stopped = true;
            return false;
        }
    }
    return true;
}

static void block_error(walker_t *w, uint32_t seg, bool *logged, const char *what)
{
    w->st->block_errors++;
    if (!*logged)
        flash_log(w->f, "%s: metadump walk: segment %u: %s (skipped)", w->f->path, seg, what);
    *logged = true;
}

/* Walks the blocks of a segment image [0, len) of generation gen. */
static void walk_image(walker_t *w, const uint8_t *img, size_t len, uint32_t seg, uint32_t gen,
                       uint32_t end_unit, int64_t now)
{
    bool logged = false;
    uint32_t u = FLASH_SEG_FIRST_BLOCK;
    while (u < end_unit && (size_t)u * FLASH_UNIT < len && !stopping(w)) {
        size_t off = (size_t)u * FLASH_UNIT;
        flash_block_hdr_t bh;
        if (flash_block_header(img + off, len - off, &bh) != FLASH_BLK_OK) {
            block_error(w, seg, &logged, "bad block header");
            return; /* the next block's place is unknown */
        }
        size_t total = flash_block_total_len(&bh);
        flash_block_loc_t expect = { seg, gen, (uint16_t)u };
        flash_block_view_t v;
        flash_blk_status_e bs = flash_block_open(img + off, len - off, &expect, w->dctx, &w->f->dicts,
                                                 w->scratch, w->f->max_record, &v);
        if (bs == FLASH_BLK_OK) {
            if (!walk_view(w, &v, seg, gen, u, now))
                return;
        } else if (bs == FLASH_BLK_ESTALE) {
            return; /* reused under us: nothing of gen is left */
        } else {
            block_error(w, seg, &logged, flash_blk_strerror(bs));
            if (bs == FLASH_BLK_ECHECKSUM)
                FSTAT_ADD(w->f, flash_checksum_failures, 1);
        }
        if (total < FLASH_UNIT)
            return;
        u += (uint32_t)(total / FLASH_UNIT);
    }
}

static void walk_used(walker_t *w, uint32_t seg, uint32_t gen, int64_t now)
{
    flash_t *f = w->f;
    char err[256];
    uint64_t off = flash_seg_dev_off(f, seg);
    bool ok = devset_pread(f->set, w->img, FLASH_IO_ALIGN, off, err, sizeof err) == DEVICE_OK;
    flash_seghdr_t h;
    size_t len = FLASH_IO_ALIGN;
    if (ok && flash_seghdr_decode(w->img, FLASH_IO_ALIGN, f->segsize, &h) != FLASH_SEG_OK) {
        w->st->segments_skipped++;
        w->st->block_errors++;
        flash_log(f, "%s: metadump walk: segment %u: bad segment header (skipped)", f->path,
                  seg);
        return;
    }
    if (ok && (h.instance_id != f->instance_id || h.seg_id != seg || h.gen != gen)) {
        w->st->segments_skipped++;
        return; /* not (or no longer) the segment of this generation */
    }
    if (ok) {
        len = (size_t)fl_round_up(h.summary_off, FLASH_IO_ALIGN);
        if (len > f->segsize)
            len = f->segsize;
        if (len > FLASH_IO_ALIGN)
            ok = devset_pread(f->set, w->img + FLASH_IO_ALIGN, len - FLASH_IO_ALIGN,
                              off + FLASH_IO_ALIGN, err, sizeof err) == DEVICE_OK;
    }
    if (!ok) {
        FSTAT_ADD(f, flash_read_errors, 1);
        w->st->io_errors++;
        flash_log(f, "metadump walk: %s (segment %u skipped)", err, seg);
        return;
    }
    FSTAT_ADD(f, flash_bytes_read, len);
    walk_image(w, w->img, len, seg, gen, h.summary_off / FLASH_UNIT, now);
}

static bool copy_reserve(walker_t *w, size_t n)
{
    if (n <= w->copy_cap)
        return true;
    uint8_t *nc = realloc(w->copy, n);
    if (!nc)
        return false;
    w->copy = nc;
    w->copy_cap = n;
    return true;
}

/*
 * Copies builder b (segment seg, generation gen) out: its sealed blocks
 * as stored (compressed: decoded later, outside the lock) to
 * w->copy[0, *sealed_end), and the open block's raw records, if any, to
 * w->copy[*sealed_end, w->copy_len) with *open_unit its unit (0: none).
 * Called holding bld_lock[b]; takes no other lock; O(segment) memcpy.
 */
static void copy_builder(walker_t *w, int b, uint32_t seg, uint32_t gen, size_t *sealed_end,
                         uint32_t *open_unit, uint32_t *open_nrec)
{
    flash_t *f = w->f;
    const flash_seg_t *s = f->bld[b];
    const uint8_t *buf;
    size_t ilen;
    flash_seg_image(s, &buf, &ilen);
    uint32_t nunits = f->segsize / FLASH_UNIT;
    uint32_t u = FLASH_SEG_FIRST_BLOCK;
    while (u < nunits) { /* sealed blocks: a header naming this place */
        size_t off = (size_t)u * FLASH_UNIT;
        flash_block_hdr_t bh;
        if (flash_block_header(buf + off, f->segsize - off, &bh) != FLASH_BLK_OK ||
            bh.loc.seg_id != seg || bh.loc.gen != gen || bh.loc.blkoff != u)
            break;
        size_t total = flash_block_total_len(&bh);
        if (total < FLASH_UNIT || off + total > f->segsize)
            break;
        u += (uint32_t)(total / FLASH_UNIT);
    }
    size_t sealed = (size_t)u * FLASH_UNIT;
    *sealed_end = 0;
    *open_unit = 0;
    w->copy_len = 0;
    if (!copy_reserve(w, sealed)) {
        w->st->block_errors++;
        return;
    }
    memcpy(w->copy, buf, sealed);
    w->copy_len = *sealed_end = sealed;
    flash_block_loc_t loc = { seg, gen, (uint16_t)u };
    flash_block_view_t v;
    if (u >= nunits ||
        flash_seg_view(s, w->dctx, &loc, w->scratch, f->max_record, &v) != FLASH_BLK_OK)
        return; /* no open block (sealed segment, or nothing added yet) */
    if (!copy_reserve(w, sealed + v.raw_len)) {
        w->st->block_errors++;
        return;
    }
    memcpy(w->copy + sealed, v.raw, v.raw_len);
    w->copy_len = sealed + v.raw_len;
    *open_unit = u;
    *open_nrec = v.nrec;
}

static void walk_builder(walker_t *w, int b, uint32_t seg, uint32_t gen, int64_t now)
{
    size_t sealed_end;
    uint32_t open_unit, open_nrec = 0;
    copy_builder(w, b, seg, gen, &sealed_end, &open_unit, &open_nrec);
    pthread_mutex_unlock(&w->f->bld_lock[b]);
    walk_image(w, w->copy, sealed_end, seg, gen, (uint32_t)(sealed_end / FLASH_UNIT), now);
    if (open_unit && !stopping(w)) {
        flash_block_view_t v = { w->copy + sealed_end, (uint32_t)(w->copy_len - sealed_end),
                                 open_nrec };
        walk_view(w, &v, seg, gen, open_unit, now);
    }
}

flash_status_e flash_walk(flash_t *f, flash_walk_fn fn, void *ctx, const _Atomic bool *stop,
                          flash_walk_stats_t *stats)
{
    flash_walk_stats_t local;
    flash_walk_stats_t *st = stats ? stats : &local;
    memset(st, 0, sizeof *st);
    walker_t w = { .f = f, .fn = fn, .ctx = ctx, .stop = stop, .st = st };
    w.dctx = ZSTD_createDCtx();
    w.img = device_buf_alloc(f->segsize);
    w.scratch = malloc(f->max_record);
    if (!w.dctx || !w.img || !w.scratch) {
        ZSTD_freeDCtx(w.dctx);
        device_buf_free(w.img);
        free(w.scratch);
        return FLASH_ENOMEM;
    }
    pthread_mutex_lock(&f->seg_lock);
    uint32_t first = f->tail, count = f->nring;
    f->walks++; /* no recompression pass meanwhile (ingest.c) */
    pthread_mutex_unlock(&f->seg_lock);

    for (uint32_t k = 0; k < count && !stopping(&w); k++) {
        uint32_t seg = (first + k) % f->nseg;
        int64_t now = flash_now(f);
        pthread_mutex_lock(&f->seg_lock);
        fseg_t *s = &f->segs[seg];
        uint32_t gen = s->gen;
        uint8_t state = s->state;
        if (state == FSEG_USED) {
            s->readers++; /* not reopened while we read it */
            pthread_mutex_unlock(&f->seg_lock);
            st->segments++;
            walk_used(&w, seg, gen, now);
            pthread_mutex_lock(&f->seg_lock);
            if (--f->segs[seg].readers == 0)
                pthread_cond_broadcast(&f->seg_cond);
            pthread_mutex_unlock(&f->seg_lock);
        } else if ((state == FSEG_OPEN || state == FSEG_WRITING) && s->bld >= 0) {
            int b = s->bld;
            pthread_mutex_lock(&f->bld_lock[b]); /* hand over hand */
            pthread_mutex_unlock(&f->seg_lock);
            st->segments++;
            walk_builder(&w, b, seg, gen, now); /* unlocks bld_lock[b] */
        } else {
            pthread_mutex_unlock(&f->seg_lock);
            st->segments_skipped++;
        }
    }
    pthread_mutex_lock(&f->seg_lock);
    f->walks--;
    pthread_mutex_unlock(&f->seg_lock);
    ZSTD_freeDCtx(w.dctx);
    device_buf_free(w.img);
    free(w.scratch);
    free(w.copy);
    return FLASH_OK;
}
