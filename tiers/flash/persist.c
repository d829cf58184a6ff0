/*
 * tiers/flash/persist.c - the clean shutdown (flash_persist) and the reading
 * of segment summaries it shares with recovery (recover.c). Contract:
 * flash.h; bytes: format.h "LIVE MAP", "CLEAN SHUTDOWN".
 *
 * Order, each step durable before the next is written:
 *   1. the writer thread is stopped (it writes what was queued) and the open
 *      segment is sealed and written, short;
 *   2. the live map: for each segment of the ring, tail to head, its summary
 *      is read back and an ITEM entry's bit is set iff the index holds the
 *      slot that entry owns (the reclaim rule, flash_sum_owner_hits);
 *   3. the map is written into free segment slots (the tail is reclaimed
 *      when no run of free slots is long enough), then fdatasync;
 *   4. the state record CLEAN (map place, length and checksum, flush state,
 *      max cas, last seq), then fdatasync.
 * A crash before 4 leaves the RUNNING record of this run: the next start
 * treats the run as crashed.
 *
 * Threads: called once, by the thread that will destroy the flash tier,
 * with no worker using it any more. Blocking (reads every summary).
 */
#include "flash/flash_int.h"
#include "flash/livemap.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

flash_status_e flash_read_summary(flash_t *f, uint32_t seg, flash_seghdr_t *h,
                                  const uint8_t **sum)
{
    char err[256];
    uint64_t off = flash_seg_dev_off(f, seg);
    if (devset_pread(f->set, f->rbuf, FLASH_IO_ALIGN, off, err, sizeof err) != DEVICE_OK) {
        FSTAT_ADD(f, flash_read_errors, 1);
        flash_log(f, "%s", err);
        return FLASH_EIO;
    }
    if (flash_seghdr_decode(f->rbuf, FLASH_IO_ALIGN, f->segsize, h) != FLASH_SEG_OK ||
        h->instance_id != f->instance_id || h->seg_id != seg)
        return FLASH_ECHECKSUM;
    uint64_t start = h->summary_off & ~(uint64_t)(FLASH_IO_ALIGN - 1);
    uint64_t end = fl_round_up(h->data_end, FLASH_IO_ALIGN);
    if (end > f->segsize || start >= end)
        return FLASH_ECHECKSUM;
    if (devset_pread(f->set, f->rbuf, (size_t)(end - start), off + start, err, sizeof err) !=
        DEVICE_OK) {
        FSTAT_ADD(f, flash_read_errors, 1);
        flash_log(f, "%s", err);
        return FLASH_EIO;
    }
    FSTAT_ADD(f, flash_bytes_read, FLASH_IO_ALIGN + (end - start));
    const uint8_t *s = f->rbuf + (h->summary_off - start);
    if (flash_summary_check(h, s, (size_t)(end - h->summary_off)) != FLASH_SEG_OK)
        return FLASH_ECHECKSUM;
    *sum = s;
    return FLASH_OK;
}

void flash_map_state(const flash_t *f, flash_state_t *s, uint32_t state,
                     const flash_persist_state_t *ram, const map_build_t *mb,
                     uint32_t first_seg, uint32_t nsegs, uint64_t last_seq)
{
    memset(s, 0, sizeof *s);
    s->version = FLASH_FORMAT_VERSION;
    s->state = state;
    s->instance_id = f->instance_id;
    s->run_count = f->run_count;
    s->last_seq = last_seq;
    s->min_valid_seq = mb->segments ? mb->first_seq : last_seq + 1;
    s->time = (uint64_t)flash_now(f);
    s->flush_oldest_live = ram->flush_oldest_live > 0 && ram->flush_oldest_live <= UINT32_MAX
                               ? (uint32_t)ram->flush_oldest_live : 0;
    s->flush_oldest_cas = ram->flush_oldest_cas;
    s->max_cas = ram->max_cas;
    s->map_first_seg = first_seg;
    s->map_seg_count = nsegs;
    s->map_len = mb->len;
    s->map_cksum = XXH3_64bits(mb->buf, (size_t)mb->len);
}

flash_status_e flash_sync(flash_t *f, char *err, size_t errlen)
{
    return devset_sync(f->set, err, errlen) ? FLASH_OK : FLASH_EIO;
}

flash_status_e flash_write_state(flash_t *f, const flash_state_t *st, char *err, size_t errlen)
{
    uint8_t *buf = device_buf_alloc(FLASH_IO_ALIGN);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", f->path);
        return FLASH_ENOMEM;
    }
    memset(buf, 0, FLASH_IO_ALIGN);
    flash_state_encode(st, buf);
    device_status_e ds = devset_pwrite(f->set, buf, FLASH_IO_ALIGN, FLASH_STATE_OFFSET, err,
                                       errlen);
    device_buf_free(buf);
    if (ds != DEVICE_OK)
        return FLASH_EIO;
    return flash_sync(f, err, errlen);
}

flash_status_e flash_map_begin(flash_t *f, map_build_t *mb, bloom_t *keys)
{
    memset(mb, 0, sizeof *mb);
    uint32_t n = f->nring, tail = f->tail;
    mb->tab = calloc(n ? n : 1, sizeof *mb->tab);
    mb->runs = calloc(n ? n : 1, sizeof *mb->runs);
    if (!mb->tab || !mb->runs) {
        flash_map_abort(mb);
        return FLASH_ENOMEM;
    }
    mb->n = n;
    mb->keys = keys;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t seg = (tail + k) % f->nseg;
        mb->tab[k].seg_id = seg;
        mb->tab[k].seq = f->segs[seg].seq;
        mb->tab[k].count = 0;
    }
    return FLASH_OK;
}

flash_status_e flash_map_step(flash_t *f, map_build_t *mb)
{
    if (mb->next >= mb->n)
        return FLASH_OK;
    uint32_t k = mb->next++;
    uint32_t seg = mb->tab[k].seg_id;
    /* reclaimed (or reused) since the ring was snapshot: nothing kept */
    if (f->segs[seg].state != FSEG_USED || f->segs[seg].seq != mb->tab[k].seq)
        return mb->next < mb->n ? FLASH_PENDING : FLASH_OK;
    flash_seghdr_t h;
    const uint8_t *sum;
    if (flash_read_summary(f, seg, &h, &sum) != FLASH_OK || h.gen != f->segs[seg].gen ||
        h.seq != f->segs[seg].seq) {
        flash_log(f, "%s: live map: segment %u unreadable or invalid; its items are not "
                  "kept", f->path, seg);
        return mb->next < mb->n ? FLASH_PENDING : FLASH_OK;
    }
    mb->runs[k] = calloc(1, (size_t)flash_map_bits_len(h.summary_count) + 1);
    if (!mb->runs[k])
        return FLASH_ENOMEM;
    mb->tab[k].count = h.summary_count;
    for (uint32_t i = 0; i < h.summary_count; i++) {
        const uint8_t *e = sum + (size_t)i * FLASH_SUM_ENTRY_LEN;
        if (fl_get_u8(e + 10) != FLASH_SUM_ITEM)
            continue;
        uint32_t end = flash_sum_block_end(sum, i, h.summary_count);
        if (mb->keys) {
            /* before the index is looked at: see ckpt.c */
            bloom_add(mb->keys, fl_get_u64(e));
            atomic_thread_fence(memory_order_seq_cst);
        }
        if (flash_sum_owner_hits(f, sum, i, end, seg, fl_get_u16(e + 8)) >= 0) {
            flash_map_set(mb->runs[k], i);
            mb->live++;
        }
    }
    return mb->next < mb->n ? FLASH_PENDING : FLASH_OK;
}

flash_status_e flash_map_finish(flash_t *f, map_build_t *mb)
{
    uint32_t n = mb->n;
    flash_status_e st = FLASH_OK;
    uint32_t *counts = calloc(n ? n : 1, sizeof *counts);
    if (!counts) {
        st = FLASH_ENOMEM;
    } else {
        for (uint32_t k = 0; k < n; k++)
            counts[k] = mb->tab[k].count;
        mb->len = flash_map_len(n, counts);
        free(counts);
        mb->alloc = fl_round_up(mb->len, FLASH_IO_ALIGN);
        mb->buf = device_buf_alloc((size_t)mb->alloc);
        if (!mb->buf) {
            st = FLASH_ENOMEM;
        } else {
            memset(mb->buf, 0, (size_t)mb->alloc);
            uint8_t *bits;
            flash_map_encode(mb->buf, f->instance_id, n, mb->tab, &bits);
            for (uint32_t k = 0; k < n; k++) {
                uint64_t bl = flash_map_bits_len(mb->tab[k].count);
                if (mb->runs[k] && bl)
                    memcpy(bits, mb->runs[k], (size_t)bl);
                bits += bl;
            }
            mb->segments = n;
            mb->first_seq = n ? mb->tab[0].seq : 0;
        }
    }
    uint8_t *buf = mb->buf;
    mb->buf = NULL;
    flash_map_abort(mb);  /* the working parts */
    mb->buf = buf;
    return st;
}

void flash_map_abort(map_build_t *mb)
{
    for (uint32_t k = 0; mb->runs && k < mb->n; k++)
        free(mb->runs[k]);
    free(mb->runs);
    free(mb->tab);
    device_buf_free(mb->buf);
    mb->runs = NULL;
    mb->tab = NULL;
    mb->buf = NULL;
}

flash_status_e flash_build_map(flash_t *f, map_build_t *mb, bloom_t *keys)
{
    flash_status_e st = flash_map_begin(f, mb, keys);
    while (st == FLASH_OK && mb->next < mb->n)
        st = flash_map_step(f, mb) == FLASH_ENOMEM ? FLASH_ENOMEM : FLASH_OK;
    if (st == FLASH_OK)
        return flash_map_finish(f, mb);
    flash_map_abort(mb);
    return st;
}

/* A run of `need` free segment slots with no wrap: its first id, or
 * UINT32_MAX. The free slots are [head, tail) modulo nseg. */
static uint32_t free_run(const flash_t *f, uint32_t need)
{
    uint32_t head = atomic_load_explicit(&f->head, memory_order_relaxed), tail = f->tail;
    if (f->nring == 0)
        return need <= f->nseg ? 0 : UINT32_MAX;
    if (f->nring == f->nseg)
        return UINT32_MAX;
    if (tail > head)
        return tail - head >= need ? head : UINT32_MAX;
    if (f->nseg - head >= need)
        return head;
    return tail >= need ? 0 : UINT32_MAX;
}

flash_status_e flash_persist(flash_t *f, const flash_persist_state_t *in,
                             flash_persist_report_t *rep, char *err, size_t errlen)
{
    memset(rep, 0, sizeof *rep);
    if (err && errlen)
        err[0] = '\0';
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    flash_writer_stop(f);
    flash_writer_finish(f);
    f->persisted = true; /* nothing more is written but what follows */

    map_build_t mb;
    uint32_t start = UINT32_MAX, need = 0;
    for (uint32_t tries = 0;; tries++) {
        flash_status_e st = flash_build_map(f, &mb, NULL);
        if (st != FLASH_OK) {
            snprintf(err, errlen, "%s: shutdown: out of memory building the live map",
                     f->path);
            return st;
        }
        need = (uint32_t)((mb.alloc + f->segsize - 1) / f->segsize);
        start = free_run(f, need);
        if (start != UINT32_MAX || tries >= f->nseg)
            break;
        device_buf_free(mb.buf);
        if (!flash_reclaim_one(f, false))
            break;
        rep->reclaimed++;
    }
    if (start == UINT32_MAX) {
        device_buf_free(mb.buf);
        snprintf(err, errlen, "%s: shutdown: no room for the live map (%u segments)",
                 f->path, need);
        return FLASH_EFULL;
    }
    flash_status_e st = FLASH_OK;
    if (devset_pwrite(f->set, mb.buf, (size_t)mb.alloc, flash_seg_dev_off(f, start), err,
                      errlen) != DEVICE_OK)
        st = FLASH_EIO;
    if (st == FLASH_OK)
        st = flash_sync(f, err, errlen);
    flash_state_t s;
    flash_map_state(f, &s, FLASH_STATE_CLEAN, in, &mb, start, need, f->next_seq - 1);
    device_buf_free(mb.buf);
    if (st == FLASH_OK)
        st = flash_write_state(f, &s, err, errlen);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    rep->items = mb.live;
    rep->segments = mb.segments;
    rep->map_bytes = mb.len;
    rep->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (st == FLASH_OK)
        flash_log(f, "%s: clean shutdown: %llu items kept (%llu written from RAM now%s) in "
                  "%llu segments, live map %llu bytes, %.3f s", f->path,
                  (unsigned long long)rep->items, (unsigned long long)in->ram_items,
                  in->ram_refused ? ", some too large or too close to expiry" : "",
                  (unsigned long long)rep->segments, (unsigned long long)rep->map_bytes,
                  rep->seconds);
    else
        flash_log(f, "%s", err);
    return st;
}
