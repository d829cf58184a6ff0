/*
 * tiers/flash/reclaim.c - reclaim of the oldest segment, on the writer
 * thread. Reads the segment back (one synchronous pread of its used part),
 * walks its summary: each ITEM entry still current in the index (tag +
 * segment + block) is rewritten into the open segment when it was hit since
 * it was written, is neither expired nor flushed, and the rewrite budget
 * (rewrite_pct of a segment, capped at 50%) allows; otherwise its index
 * entry goes. Then the segment's generation is bumped and it is free. Every
 * call frees a segment: no livelock even when everything is hot.
 *
 * Summary entries and records are both in add order, so the k-th ITEM entry
 * of block B is the k-th record of block B.
 *
 * flash_reclaim_tail(FLASH_RECLAIM_ALL) rewrites every live item instead
 * (no budget): the idle recompression of blocks stored raw (ingest.c).
 *
 * Lock order: seg_lock -> bld_lock -> index (flash_int.h); reclaim takes
 * seg_lock alone, index calls alone. Writer thread only.
 */
#include "flash/flash_int.h"

#include <string.h>

/* Removes the slots into `seg` of the ITEM entries [i0, i1); counts them
 * as flash_reclaim_drops (the items' flash copies are gone). */
static void drop_range(flash_t *f, const uint8_t *sum, uint32_t i0, uint32_t i1,
                       uint32_t seg)
{
    uint64_t dropped = 0;
    for (uint32_t i = i0; i < i1; i++) {
        flash_sum_entry_t e;
        if (flash_sum_entry_decode(sum + (size_t)i * FLASH_SUM_ENTRY_LEN, &e) ==
                FLASH_SEG_OK && e.kind == FLASH_SUM_ITEM)
            dropped += index_remove_location(f->idx, e.hash, seg);
    }
    FSTAT_ADD(f, flash_reclaim_drops, dropped);
}

static bool is_item(const uint8_t *sum, uint32_t i)
{
    return fl_get_u8(sum + (size_t)i * FLASH_SUM_ENTRY_LEN + 10) == FLASH_SUM_ITEM;
}

static uint64_t hash_at(const uint8_t *sum, uint32_t i)
{
    return fl_get_u64(sum + (size_t)i * FLASH_SUM_ENTRY_LEN);
}

/* Hit counter of the index slot that ITEM entry i owns, or -1 if it owns
 * none. [i, i1) spans the rest of its block's entries (tombstones may sit
 * between them). It owns a slot of its tag at (seg, blkoff) in one of its
 * buckets if no later ITEM entry of the block has that tag and that bucket
 * (flash_slot_owner, with the summary's hashes). */
int flash_sum_owner_hits(flash_t *f, const uint8_t *sum, uint32_t i, uint32_t i1,
                         uint32_t seg, uint32_t blkoff)
{
    uint64_t hash = hash_at(sum, i);
    unsigned tag = index_tag(f->idx, hash);
    index_entry_t c[INDEX_MAX_MATCHES];
    unsigned n = index_lookup(f->idx, hash, c);
    for (unsigned k = 0; k < n; k++) {
        if (c[k].loc.segment != seg || c[k].loc.offset != blkoff)
            continue;
        bool owned = true;
        for (uint32_t j = i + 1; j < i1 && owned; j++) {
            if (!is_item(sum, j))
                continue;
            uint64_t h = hash_at(sum, j);
            if (index_tag(f->idx, h) != tag)
                continue;
            uint64_t b1, b2;
            index_buckets(f->idx, h, &b1, &b2);
            owned = b1 != c[k].bucket && b2 != c[k].bucket;
        }
        if (owned)
            return (int)c[k].hits;
    }
    return -1;
}

uint32_t flash_sum_block_end(const uint8_t *sum, uint32_t i, uint32_t count)
{
    uint16_t blkoff = fl_get_u16(sum + (size_t)i * FLASH_SUM_ENTRY_LEN + 8);
    uint32_t end = i + 1;
    for (uint32_t j = i + 1; j < count; j++) {
        if (!is_item(sum, j))
            continue;
        if (fl_get_u16(sum + (size_t)j * FLASH_SUM_ENTRY_LEN + 8) != blkoff)
            break;
        end = j + 1;
    }
    return end;
}

/* Rewrites one hot record into the open segment and moves its slot there,
 * all under its hash's remove stripe (no orphan copy if a flash_remove
 * races). True if rewritten. */
static bool rewrite_one(flash_t *f, const uint8_t *sum, uint32_t i, uint32_t i1,
                        uint32_t seg, uint32_t blkoff, const flash_record_t *rec,
                        int min_hits)
{
    uint64_t hash = hash_at(sum, i);
    pthread_mutex_t *m = &f->rm_lock[flash_rm_stripe(hash)];
    for (int attempt = 0; attempt < 2; attempt++) {
        pthread_mutex_lock(m);
        if (flash_sum_owner_hits(f, sum, i, i1, seg, blkoff) < min_hits) {
            pthread_mutex_unlock(m);
            return false;
        }
        flash_block_loc_t nl;
        flash_status_e st = flash_writer_try_add(f, rec, hash, &nl);
        if (st == FLASH_OK) {
            index_loc_t from = { seg, blkoff }, to = { nl.seg_id, nl.blkoff };
            index_status_e is = index_relocate(f->idx, hash, from, to);
            pthread_mutex_unlock(m);
            if (is == INDEX_OK) {
                FSTAT_ADD(f, flash_rewrites, 1);
                FSTAT_ADD(f, flash_items_written, 1);
            }
            return true;
        }
        pthread_mutex_unlock(m);
        if (st != FLASH_EFULL || flash_writer_rotate(f) != FLASH_OK)
            return false;
    }
    return false;
}

/* The entries [i0, i1) of one block (its ITEMs, maybe tombstones between):
 * rewrites the records it owns with at least min_hits hits (1: hot ones; 0:
 * all) while the budget lasts. Dropping the rest is the caller's final
 * pass. */
static void do_block(flash_t *f, const flash_seghdr_t *h, size_t imglen, uint32_t i0,
                     uint32_t i1, uint32_t blkoff, uint64_t *budget, int64_t now,
                     int min_hits)
{
    const uint8_t *sum = f->rbuf + h->summary_off;
    uint32_t seg = h->seg_id;
    uint32_t nitems = 0;
    bool want = false;
    for (uint32_t i = i0; i < i1; i++) {
        if (!is_item(sum, i))
            continue;
        nitems++;
        if (!want && *budget > 0)
            want = flash_sum_owner_hits(f, sum, i, i1, seg, blkoff) >= min_hits;
    }
    if (!want)
        return;
    flash_block_loc_t expect = { seg, h->gen, (uint16_t)blkoff };
    size_t off = (size_t)blkoff * FLASH_UNIT;
    flash_block_view_t v;
    flash_blk_status_e bs = flash_block_open(f->rbuf + off, imglen - off, &expect, f->wdctx, &f->dicts,
                                             f->rscratch, f->max_record, &v);
    if (bs != FLASH_BLK_OK || v.nrec != nitems) {
        if (bs != FLASH_BLK_ESTALE)
            FSTAT_ADD(f, flash_checksum_failures, 1);
        return;
    }
    uint32_t cursor = 0;
    for (uint32_t i = i0; i < i1; i++) {
        if (!is_item(sum, i))
            continue;
        flash_record_t rec;
        if (flash_block_next(&v, &cursor, &rec) != FLASH_BLK_OK)
            return;
        if (flash_sum_owner_hits(f, sum, i, i1, seg, blkoff) < min_hits)
            continue;
        uint64_t rsz = flash_record_size(rec.nkey, rec.nvalue);
        if (rsz <= *budget && !flash_record_dead(f, &rec, now) &&
            rewrite_one(f, sum, i, i1, seg, blkoff, &rec, min_hits))
            *budget -= rsz;
    }
}

/* Walks a USED segment; false if it could not be read or validated (the
 * caller then drops its entries by a full index walk). */
static bool walk_segment(flash_t *f, uint32_t seg, uint32_t gen, flash_reclaim_mode_e mode)
{
    char err[256];
    uint64_t off = flash_seg_dev_off(f, seg);
    if (devset_pread(f->set, f->rbuf, FLASH_IO_ALIGN, off, err, sizeof err) != DEVICE_OK) {
        FSTAT_ADD(f, flash_read_errors, 1);
        flash_log(f, "reclaim: %s", err);
        return false;
    }
    flash_seghdr_t h;
    if (flash_seghdr_decode(f->rbuf, FLASH_IO_ALIGN, f->segsize, &h) != FLASH_SEG_OK ||
        h.instance_id != f->instance_id || h.seg_id != seg || h.gen != gen)
        return false;
    size_t len = (size_t)fl_round_up(h.data_end, FLASH_IO_ALIGN);
    if (len > FLASH_IO_ALIGN &&
        devset_pread(f->set, f->rbuf + FLASH_IO_ALIGN, len - FLASH_IO_ALIGN,
                     off + FLASH_IO_ALIGN, err, sizeof err) != DEVICE_OK) {
        FSTAT_ADD(f, flash_read_errors, 1);
        flash_log(f, "reclaim: %s", err);
        return false;
    }
    FSTAT_ADD(f, flash_bytes_read, len);
    if (flash_summary_check(&h, f->rbuf + h.summary_off, len - h.summary_off) != FLASH_SEG_OK)
        return false;
    uint64_t budget = mode == FLASH_RECLAIM_ALL ? UINT64_MAX
                      : mode == FLASH_RECLAIM_HOT ? (uint64_t)f->segsize * f->rewrite_pct / 100
                                                  : 0;
    int min_hits = mode == FLASH_RECLAIM_ALL ? 0 : 1;
    int64_t now = flash_now(f);
    const uint8_t *sum = f->rbuf + h.summary_off;
    uint32_t i = 0;
    while (budget > 0 && i < h.summary_count) {
        if (!is_item(sum, i)) {
            i++;
            continue;
        }
        /* this block's entries: its ITEMs are consecutive among the ITEMs
         * (tombstones may sit between them) */
        uint16_t blkoff = fl_get_u16(sum + (size_t)i * FLASH_SUM_ENTRY_LEN + 8);
        uint32_t end = flash_sum_block_end(sum, i, h.summary_count);
        do_block(f, &h, len, i, end, blkoff, &budget, now, min_hits);
        i = end;
    }
    /* everything still pointing into this segment goes (the rewritten
     * records' slots were moved out already) */
    drop_range(f, sum, 0, h.summary_count, seg);
    return true;
}

bool flash_reclaim_one(flash_t *f, bool rewrite)
{
    return flash_reclaim_tail(f, rewrite ? FLASH_RECLAIM_HOT : FLASH_RECLAIM_DROP);
}

bool flash_reclaim_tail(flash_t *f, flash_reclaim_mode_e mode)
{
    pthread_mutex_lock(&f->seg_lock);
    uint32_t seg = f->tail;
    uint8_t state = f->nring ? f->segs[seg].state : FSEG_FREE;
    uint32_t gen = f->segs[seg].gen;
    if (state != FSEG_USED && state != FSEG_BAD) {
        pthread_mutex_unlock(&f->seg_lock);
        return false;
    }
    f->tail = (seg + 1) % f->nseg; /* out of the ring; still counted in nring */
    pthread_mutex_unlock(&f->seg_lock);

    f->in_reclaim = true;
    if (state == FSEG_USED && !walk_segment(f, seg, gen, mode)) {
        uint64_t n = index_remove_segment(f->idx, seg);
        FSTAT_ADD(f, flash_reclaim_drops, n);
        flash_log(f, "%s: reclaim of segment %u: unreadable or invalid header/summary; "
                  "dropped %llu index entries by a full walk", f->path, seg,
                  (unsigned long long)n);
    }
    f->in_reclaim = false;

    pthread_mutex_lock(&f->seg_lock);
    f->segs[seg].gen++;
    f->segs[seg].state = FSEG_FREE;
    if (f->segs[seg].fast_blocks) {
        f->segs[seg].fast_blocks = 0;
        f->fast_segs--;
    }
    f->segs[seg].data_bytes = 0;
    f->nring--;
    pthread_mutex_unlock(&f->seg_lock);
    FSTAT_ADD(f, flash_reclaims, 1);
    return true;
}

/* Can a reclaim's rewrites go into the open segment? Yes when a free
 * segment is left to rotate into, or (the just-in-time reserve of one
 * segment: reclaim runs when the last free one was just opened) when the
 * open segment has room for twice the rewrite budget in raw bytes (the
 * margin covers block and summary overhead of incompressible records). */
static bool rewrite_room(const flash_t *f, uint32_t nfree)
{
    if (f->open_bld < 0 || f->rewrite_pct == 0)
        return false;
    if (nfree >= 1)
        return true;
    int b = f->open_bld;
    uint64_t used = f->bld_new_raw[b] + f->bld_rew_raw[b];
    uint64_t budget = (uint64_t)f->segsize * f->rewrite_pct / 100;
    return used + 2 * budget <= f->segsize;
}

void flash_reclaim_maintain(flash_t *f)
{
    for (uint32_t k = 0; k < f->nseg; k++) {
        uint32_t nfree = f->nseg - f->nring; /* nring changes on this thread only */
        if (nfree >= f->reserve)
            return;
        bool rw = rewrite_room(f, nfree);
        if (!flash_reclaim_one(f, rw)) {
            if (f->writes_inflight == 0)
                return;
            flash_writer_reap(f, 100); /* the tail is still being written */
        }
    }
}
