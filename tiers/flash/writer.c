/*
 * tiers/flash/writer.c - the writer thread: drains the queue into the open
 * segment, indexes each item, seals full segments and writes them with one
 * aligned O_DIRECT write on its own aio context, double-buffered (while one
 * builder's image is being written the other fills). Runs reclaim when
 * free segments run low (reclaim.c). While it is behind, new blocks are
 * stored raw, and recompressed when it is idle (ingest.c). Contract: flash.h; internals and lock
 * order: flash_int.h (c_lock -> seg_lock -> bld_lock[i] -> index; q_lock and
 * d_lock leaves). written_fn calls are listed (complete.c), not made here,
 * except when the writer runs the list itself (idle, full, same hash); it
 * holds no lock then.
 *
 * Everything named f->open_bld, bld_busy, writes_inflight, next_seq is
 * touched by the writer thread only.
 */
#include "flash/flash_int.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#define WR_BATCH 128
#define WR_PREFETCH 4      /* items ahead whose index buckets are prefetched */
#define WR_IDLE_POLL_MS 2   /* queue wait while segment writes are in flight */

void flash_writer_reap(flash_t *f, int timeout_ms)
{
    if (timeout_ms > 0 && f->writes_inflight > 0) {
        struct pollfd p = { .fd = aio_ctx_fd(f->waio), .events = POLLIN };
        (void)poll(&p, 1, timeout_ms);
    }
    aio_ctx_poll(f->waio);
}

/* Removes the index entries of the items in builder b's finalized image. */
static void drop_builder_items(flash_t *f, int b, uint32_t seg)
{
    flash_seghdr_t h;
    const uint8_t *img;
    size_t len;
    flash_seg_header(f->bld[b], &h);
    flash_seg_image(f->bld[b], &img, &len);
    for (uint32_t i = 0; i < h.summary_count; i++) {
        flash_sum_entry_t e;
        if (flash_sum_entry_decode(img + h.summary_off + (size_t)i * FLASH_SUM_ENTRY_LEN,
                                   &e) == FLASH_SEG_OK && e.kind == FLASH_SUM_ITEM)
            index_remove_location(f->idx, e.hash, seg);
    }
}

static void write_done(void *arg, long res)
{
    struct flash_wctx *w = arg;
    flash_t *f = w->f;
    int b = w->b;
    uint32_t seg = f->bld_seg[b];
    const uint8_t *img;
    size_t len;
    flash_seg_image(f->bld[b], &img, &len);
    f->writes_inflight--;
    bool ok = res == (long)len;
    if (ok) {
        FSTAT_ADD(f, flash_bytes_written, len);
        atomic_store_explicit(&f->fail_until_ms, 0, memory_order_relaxed);
    } else {
        FSTAT_ADD(f, flash_write_errors, 1);
        /* a failed member of a set is skipped from now on: no pause while
         * another member works (devset.h) */
        unsigned m = devset_member_of_seg(f->set, seg);
        devset_fail(f->set, m, "a segment write failed");
        if (!devset_failed(f->set, m) || devset_nfailed(f->set) >= devset_count(f->set))
            atomic_store_explicit(&f->fail_until_ms, flash_mono_ms() + FLASH_FAIL_HOLD_MS,
                                  memory_order_relaxed);
        flash_log(f, "%s: write of segment %u (%zu bytes) failed: %s; its items are "
                  "dropped", f->path, seg, len,
                  res < 0 ? strerror((int)-res) : "short write");
        drop_builder_items(f, b, seg);
    }
    pthread_mutex_lock(&f->seg_lock);
    pthread_mutex_lock(&f->bld_lock[b]);
    f->segs[seg].state = ok ? FSEG_USED : FSEG_BAD;
    f->segs[seg].bld = -1;
    pthread_mutex_unlock(&f->bld_lock[b]);
    pthread_mutex_unlock(&f->seg_lock);
    if (ok) { /* the crash checkpoint keeps it too (ckpt.c) */
        flash_seghdr_t h;
        flash_seg_header(f->bld[b], &h);
        flash_ckpt_sealed(f, seg, &h, img + h.summary_off);
    }
    f->bld_busy[b] = false;
}

/* Finalizes the open segment and submits its write. */
static void seal_and_write(flash_t *f)
{
    int b = f->open_bld;
    if (b < 0)
        return;
    uint32_t seg = f->bld_seg[b];
    int64_t ol = atomic_load_explicit(&f->flush_oldest_live, memory_order_relaxed);
    flash_seg_flush_t fl = { ol > 0 ? (uint32_t)ol : 0, 0 };
    pthread_mutex_lock(&f->bld_lock[b]);
    flash_seg_finalize(f->bld[b], (uint64_t)flash_now(f), &fl);
    pthread_mutex_unlock(&f->bld_lock[b]);
    flash_seghdr_t h;
    flash_seg_header(f->bld[b], &h);
    uint32_t nfast, nincomp;
    flash_seg_block_counts(f->bld[b], &nfast, &nincomp);
    FSTAT_ADD(f, flash_blocks_fast, nfast);
    FSTAT_ADD(f, flash_blocks_incompressible, nincomp);
    pthread_mutex_lock(&f->seg_lock);
    f->segs[seg].state = FSEG_WRITING;
    f->segs[seg].data_bytes = h.data_end;
    f->segs[seg].fast_blocks = nfast;
    if (nfast)
        f->fast_segs++; /* recompressed when idle (ingest.c) */
    pthread_mutex_unlock(&f->seg_lock);
    f->open_bld = -1;

    uint64_t blocks = h.summary_off - FLASH_UNIT;
    uint64_t nr = f->bld_new_raw[b], rr = f->bld_rew_raw[b];
    if (nr + rr > 0)
        FSTAT_ADD(f, flash_bytes_spilled, blocks * nr / (nr + rr));

    const uint8_t *img;
    size_t len;
    flash_seg_image(f->bld[b], &img, &len);
    f->wctx[b].f = f;
    f->wctx[b].b = b;
    f->writes_inflight++;
    int fd; /* a failed member's slot does not map: the write fails */
    uint64_t phys;
    if (!devset_map(f->set, flash_seg_dev_off(f, seg), len, &fd, &phys))
        write_done(&f->wctx[b], -EIO); /* its device failed */
    else if (aio_write(f->waio, fd, img, len, phys, write_done, &f->wctx[b]) != AIO_OK)
        write_done(&f->wctx[b], -ENOMEM);
}

/* Takes the head slot into the ring (reclaiming the tail while the ring is
 * full; never nested in a reclaim) with the next seq, in `state`, once no
 * read of its previous use is in flight. Returns with seg_lock HELD and the
 * slot in *segp, or FLASH_EFULL (lock not held). */
static flash_status_e take_head_slot(flash_t *f, uint8_t state, int8_t bld, uint32_t *segp)
{
    for (uint32_t k = 0; f->nring == f->nseg; k++) {
        if (f->in_reclaim || k > f->nseg)
            return FLASH_EFULL; /* never nest reclaims (one buffer) */
        if (!flash_reclaim_one(f, false))
            flash_writer_reap(f, 100);
    }
    uint32_t seg = atomic_load_explicit(&f->head, memory_order_relaxed);
    pthread_mutex_lock(&f->seg_lock);
    while (f->segs[seg].readers > 0) {
        struct timespec ts = flash_deadline_ms(10);
        pthread_cond_timedwait(&f->seg_cond, &f->seg_lock, &ts);
    }
    fseg_t *s = &f->segs[seg];
    s->state = state;
    s->bld = bld;
    s->seq = f->next_seq++;
    s->cksum_logged = false;
    atomic_store_explicit(&f->head, (seg + 1) % f->nseg, memory_order_relaxed);
    f->nring++;
    *segp = seg;
    return FLASH_OK;
}

/* take_head_slot, skipping slots on a failed device (devset.h): each goes
 * into the ring BAD, holding nothing, and reclaim frees it in turn. */
static flash_status_e take_head(flash_t *f, uint8_t state, int8_t bld, uint32_t *segp)
{
    for (uint32_t k = 0;; k++) {
        flash_status_e st = take_head_slot(f, state, bld, segp);
        if (st != FLASH_OK || k >= f->nseg ||
            !devset_failed(f->set, devset_member_of_seg(f->set, *segp)))
            return st;
        f->segs[*segp].state = FSEG_BAD;
        f->segs[*segp].bld = -1;
        pthread_mutex_unlock(&f->seg_lock);
    }
}

/* Opens the next segment at the head in a free builder. */
static flash_status_e open_next(flash_t *f)
{
    int b = -1;
    for (;;) {
        for (int i = 0; i < FLASH_NBUILDERS && b < 0; i++)
            if (!f->bld_busy[i])
                b = i;
        if (b >= 0)
            break;
        flash_writer_reap(f, 100);
    }
    uint32_t seg;
    flash_status_e st = take_head(f, FSEG_OPEN, (int8_t)b, &seg);
    if (st != FLASH_OK)
        return st;
    fseg_t *s = &f->segs[seg];
    pthread_mutex_lock(&f->bld_lock[b]);
    flash_seg_reset(f->bld[b], seg, s->gen, s->seq, f->instance_id);
    pthread_mutex_unlock(&f->bld_lock[b]);
    pthread_mutex_unlock(&f->seg_lock);
    f->bld_busy[b] = true;
    f->bld_seg[b] = seg;
    f->bld_new_raw[b] = 0;
    f->bld_rew_raw[b] = 0;
    f->open_bld = b;
    return FLASH_OK;
}

flash_status_e flash_writer_alloc_slot(flash_t *f, uint32_t *segp, uint32_t *genp,
                                       uint64_t *seqp)
{
    /* USED: it holds no item, so no read ever names it */
    flash_status_e st = take_head(f, FSEG_USED, -1, segp);
    if (st != FLASH_OK)
        return st;
    *genp = f->segs[*segp].gen;
    *seqp = f->segs[*segp].seq;
    pthread_mutex_unlock(&f->seg_lock);
    return FLASH_OK;
}

flash_status_e flash_writer_add(flash_t *f, const flash_record_t *rec, uint64_t hash,
                                bool rewrite, flash_block_loc_t *loc)
{
    for (int tries = 0; tries < 3; tries++) {
        if (f->open_bld < 0) {
            flash_status_e st = open_next(f);
            if (st != FLASH_OK)
                return st;
        }
        int b = f->open_bld;
        pthread_mutex_lock(&f->bld_lock[b]);
        /* new items: raw blocks while the writer is behind (ingest.c);
         * rewrites are what recompresses them */
        flash_seg_set_fast(f->bld[b], f->wr_fast && !rewrite);
        flash_seg_status_e ss = flash_seg_add(f->bld[b], rec, hash, loc);
        pthread_mutex_unlock(&f->bld_lock[b]);
        if (ss == FLASH_SEG_OK) {
            uint64_t r = flash_record_size(rec->nkey, rec->nvalue);
            if (rewrite)
                f->bld_rew_raw[b] += r;
            else
                f->bld_new_raw[b] += r;
            return FLASH_OK;
        }
        if (ss != FLASH_SEG_EFULL)
            return FLASH_EADMIT;
        seal_and_write(f);
    }
    return FLASH_EFULL;
}

flash_status_e flash_writer_try_add(flash_t *f, const flash_record_t *rec, uint64_t hash,
                                    flash_block_loc_t *loc)
{
    int b = f->open_bld;
    if (b < 0)
        return FLASH_EFULL;
    pthread_mutex_lock(&f->bld_lock[b]);
    flash_seg_set_fast(f->bld[b], false);
    flash_seg_status_e ss = flash_seg_add(f->bld[b], rec, hash, loc);
    pthread_mutex_unlock(&f->bld_lock[b]);
    if (ss == FLASH_SEG_OK) {
        f->bld_rew_raw[b] += flash_record_size(rec->nkey, rec->nvalue);
        return FLASH_OK;
    }
    return ss == FLASH_SEG_EFULL ? FLASH_EFULL : FLASH_EADMIT;
}

flash_status_e flash_writer_rotate(flash_t *f)
{
    seal_and_write(f);
    return open_next(f);
}

static void add_tombstone(flash_t *f, uint64_t hash)
{
    for (int tries = 0; tries < 2; tries++) {
        if (f->open_bld < 0 && open_next(f) != FLASH_OK)
            return;
        int b = f->open_bld;
        pthread_mutex_lock(&f->bld_lock[b]);
        flash_seg_set_fast(f->bld[b], f->wr_fast);
        flash_seg_status_e ss = flash_seg_add_tombstone(f->bld[b], hash);
        pthread_mutex_unlock(&f->bld_lock[b]);
        if (ss != FLASH_SEG_EFULL)
            return;
        seal_and_write(f);
    }
}

static uint32_t clamp_u32(int64_t v)
{
    return v < 0 ? 0 : v > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* Does the block at `loc` (its segment still of generation gen) hold a
 * record whose key hashes to `hash`? 1 yes, 0 no, -1 cannot tell (segment
 * reused, read or checksum error). Writer thread (reclaim's buffers: never
 * called inside a reclaim). An open or writing segment is read in memory;
 * a used one with one device read of the block (this thread is the only
 * one that reclaims, so the segment cannot be reused under the read). */
static int block_has_hash(flash_t *f, index_loc_t il, uint32_t gen, uint64_t hash)
{
    if (il.segment >= f->nseg || f->in_reclaim)
        return -1;
    flash_block_loc_t loc = { il.segment, gen, (uint16_t)il.offset };
    flash_block_view_t v;
    flash_blk_status_e bs;
    int b = -1;
    pthread_mutex_lock(&f->seg_lock);
    const fseg_t *sg = &f->segs[il.segment];
    bool live = sg->gen == gen && (sg->state == FSEG_OPEN || sg->state == FSEG_WRITING ||
                                   sg->state == FSEG_USED);
    if (live && sg->state != FSEG_USED) {
        b = sg->bld;
        pthread_mutex_lock(&f->bld_lock[b]); /* seg_lock -> bld_lock */
    }
    pthread_mutex_unlock(&f->seg_lock);
    if (!live)
        return -1;
    if (b >= 0) {
        bs = flash_seg_view(f->bld[b], f->wdctx, &loc, f->rscratch, f->max_record, &v);
    } else {
        /* the block's first 4 KiB page holds its header (stored length),
         * then as many pages as the block spans */
        uint64_t seg_off = flash_seg_dev_off(f, il.segment);
        uint64_t boff = (uint64_t)il.offset * FLASH_UNIT;
        uint64_t page = boff / FLASH_IO_ALIGN * FLASH_IO_ALIGN;
        size_t in = (size_t)(boff - page);
        char err[256];
        if (page + FLASH_IO_ALIGN > f->segsize ||
            devset_pread(f->set, f->rbuf, FLASH_IO_ALIGN, seg_off + page, err, sizeof err) !=
                DEVICE_OK)
            return -1;
        uint64_t end = boff + FLASH_BLK_HDR_LEN + fl_get_u32(f->rbuf + in + 16);
        uint64_t len = fl_round_up(end, FLASH_IO_ALIGN) - page;
        if (page + len > f->segsize)
            return -1;
        if (len > FLASH_IO_ALIGN &&
            devset_pread(f->set, f->rbuf + FLASH_IO_ALIGN, len - FLASH_IO_ALIGN,
                         seg_off + page + FLASH_IO_ALIGN, err, sizeof err) != DEVICE_OK)
            return -1;
        FSTAT_ADD(f, flash_bytes_read, len);
        bs = flash_block_open(f->rbuf + in, len - in, &loc, f->wdctx, &f->dicts, f->rscratch,
                              f->max_record, &v);
    }
    int r = -1;
    if (bs == FLASH_BLK_OK) {
        /* the key's last record here, and whether it owns the slot (no later
         * record of the block with the same tag and buckets: the reader's
         * rule, flash_slot_owner) */
        uint32_t cursor = 0;
        flash_record_t rec, last;
        bool found = false;
        while (flash_block_next(&v, &cursor, &rec) == FLASH_BLK_OK) {
            if (XXH3_64bits(rec.key, rec.nkey) == hash) {
                last = rec;
                found = true;
            }
        }
        uint64_t b1, b2;
        index_buckets(f->idx, hash, &b1, &b2);
        r = found && flash_slot_owner(f, &v, &last, index_tag(f->idx, hash), b1);
    }
    if (b >= 0)
        pthread_mutex_unlock(&f->bld_lock[b]);
    return r;
}

/* flash_remove took e->nrm slots of the tombstone's hash out of the index:
 * at most one was the key's own copy. The removed blocks tell: a slot whose
 * block holds no record of this key was another key's (collateral). When a
 * block cannot be read the count is the least it can be (n - 1). When the
 * queue is more than half full the reads are skipped (n - 1 as well): they
 * must not slow the writer down when it is behind. */
static void count_collateral(flash_t *f, const wr_qent_t *e)
{
    unsigned n = e->nrm;
    bool own = false, unsure = n > FLASH_RM_VERIFY;
    pthread_mutex_lock(&f->q_lock);
    bool behind = f->qlen > f->qcap / 2;
    pthread_mutex_unlock(&f->q_lock);
    unsure = unsure || behind;
    for (unsigned i = 0; i < n && i < FLASH_RM_VERIFY && !own && !unsure; i++) {
        int r = block_has_hash(f, e->rm[i], e->rm_gen[i], e->it.hash);
        own = r == 1;
        unsure = r < 0;
    }
    unsigned coll = own || unsure ? n - 1 : n;
    if (coll)
        FSTAT_ADD(f, flash_index_collateral, coll);
}

static void process(flash_t *f, const wr_qent_t *e)
{
    if (e->tomb) {
        if (e->nrm)
            count_collateral(f, e);
        add_tombstone(f, e->it.hash);
        return;
    }
    const flash_wr_item_t *it = &e->it;
    flash_record_t rec = {
        .key = it->key,
        .nkey = it->nkey,
        .value = it->value,
        .nvalue = it->nbytes,
        .flags = it->flags,
        .exptime = clamp_u32(it->exptime),
        .store_time = clamp_u32(it->store_time),
        .cas = it->cas,
        .marks = it->marks,
    };
    flash_block_loc_t loc;
    flash_status_e st = flash_writer_add(f, &rec, it->hash, false, &loc);
    bool cb = it->token != NULL; /* NULL: a clean shutdown's RAM item */
    if (st == FLASH_OK) {
        /* a due callback of the same hash may remove the hash's entries:
         * it must run before this copy is indexed (complete.c) */
        if (flash_done_hash_due(f, it->hash)) {
            flash_done_flush(f);
            flash_complete(f, UINT_MAX);
        }
        index_insert_result_t r;
        index_loc_t il = { loc.seg_id, loc.blkoff };
        index_insert(f->idx, it->hash, il, flash_seg_age, f, &r);
        if (r.removed)
            FSTAT_ADD(f, flash_index_collateral, r.removed);
        FSTAT_ADD(f, flash_items_written, 1);
        FSTAT_ADD(f, flash_bytes_logical, it->nkey + it->nbytes);
        /* the first spilled values train the dictionary (dict_train.h) */
        if (f->dtrain) /* a no-op once it has enough */
            flash_dict_trainer_offer(f->dtrain, it->key, it->nkey, it->value, it->nbytes);
    } else if (st == FLASH_EADMIT) {
        FSTAT_ADD(f, flash_drops_admission, 1);
    } else {
        FSTAT_ADD(f, flash_drops_io, 1);
    }
    if (cb) /* listed with the batch's others (complete.c) */
        flash_done_hold(f, it->token, it->hash, st);
}

void *flash_writer_main(void *arg)
{
    flash_t *f = arg;
    wr_qent_t batch[WR_BATCH];
    for (;;) {
        flash_writer_reap(f, 0);
        flash_reclaim_maintain(f);
        flash_ckpt_maybe(f);
        unsigned n = 0;
        bool idle_done = false, idle_step = false;
        /* read before q_lock (both are leaves); only this thread adds */
        bool due = flash_done_len(f) > 0;
        pthread_mutex_lock(&f->q_lock);
        while (f->qlen == 0 && !f->stop) {
            /* writer-only state (and an atomic): again after every wake */
            bool recompress = flash_ingest_pending(f);
            if (f->ck_building) {
                /* a checkpoint build goes on between batches; due
                 * callbacks still run now (a RAM item superseded while
                 * queued keeps a ghost until its callback) */
                idle_done = due;
                break;
            }
            if (f->writes_inflight > 0 || due) {
                /* callbacks are due: if no item comes for a while, nobody
                 * needs memory: the writer runs them (below) */
                struct timespec ts = flash_deadline_ms(WR_IDLE_POLL_MS);
                if (pthread_cond_timedwait(&f->q_nonempty, &f->q_lock, &ts) == ETIMEDOUT &&
                    f->qlen == 0)
                    idle_done = true;
                break;
            }
            if (recompress) {
                /* raw blocks to recompress: once no item came for
                 * FLASH_INGEST_IDLE_MS and not while flash reads are
                 * served (ingest.c), one step per turn */
                unsigned wait = flash_ingest_step_wait(f, flash_mono_ms());
                if (wait > FLASH_INGEST_READ_QUIET_MS)
                    wait = FLASH_INGEST_READ_QUIET_MS; /* look at the reads again */
                struct timespec ts = flash_deadline_ms(wait ? wait : 1);
                if (pthread_cond_timedwait(&f->q_nonempty, &f->q_lock, &ts) == ETIMEDOUT &&
                    f->qlen == 0 && flash_ingest_step_wait(f, flash_mono_ms()) == 0)
                    idle_step = true;
                break;
            }
            if (f->s.checkpoint_ms == 0) {
                pthread_cond_wait(&f->q_nonempty, &f->q_lock);
                continue;
            }
            /* idle: wake up for the next checkpoint (4 times a second) */
            struct timespec ts = flash_deadline_ms(250);
            if (pthread_cond_timedwait(&f->q_nonempty, &f->q_lock, &ts) == ETIMEDOUT)
                break;
        }
        while (n < WR_BATCH && f->qlen > 0) {
            batch[n++] = f->q[f->qhead];
            f->qhead = (f->qhead + 1) % f->qcap;
            f->qlen--;
        }
        if (n)
            pthread_cond_broadcast(&f->q_nonfull);
        bool stop = f->stop && f->qlen == 0;
        pthread_mutex_unlock(&f->q_lock);
        if (n) {
            f->wr_last_item_ms = flash_mono_ms();
            flash_ingest_pace(f, n);
        }
        for (unsigned i = 0; i < n; i++) {
            /* the index buckets of an item a few ahead start loading now:
             * their misses overlap this item's copy (index_prefetch) */
            if (i + WR_PREFETCH < n)
                index_prefetch(f->idx, batch[i + WR_PREFETCH].it.hash);
            process(f, &batch[i]);
            flash_reclaim_maintain(f);
        }
        if (n) {
            bool held = f->nheld > 0;
            flash_done_flush(f); /* lists and wakes */
            if (!held)
                flash_done_signal(f);
        }
        if (idle_done || stop)
            flash_complete(f, UINT_MAX);
        if (idle_step && !stop)
            flash_ingest_idle_step(f);
        if (stop && n == 0)
            break;
    }
    while (f->writes_inflight > 0)
        flash_writer_reap(f, 100);
    flash_complete(f, UINT_MAX);
    return NULL;
}

void flash_writer_stop(flash_t *f)
{
    if (!f->writer_started)
        return;
    pthread_mutex_lock(&f->q_lock);
    f->stop = true;
    pthread_cond_broadcast(&f->q_nonempty);
    pthread_cond_broadcast(&f->q_nonfull);
    pthread_mutex_unlock(&f->q_lock);
    pthread_join(f->writer, NULL);
    f->writer_started = false;
}

void flash_writer_finish(flash_t *f)
{
    seal_and_write(f);
    while (f->writes_inflight > 0)
        flash_writer_reap(f, 100);
    flash_complete(f, UINT_MAX);
}
