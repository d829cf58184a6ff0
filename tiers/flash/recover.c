/*
 * tiers/flash/recover.c - start-up over a device that bears our superblock:
 * reads the state record and, after a clean shutdown, rebuilds the index
 * from the live map and the segments' summaries (format.h "RECOVERY").
 * Contract: flash_int.h (flash_recover), flash.h (flash_recovery).
 *
 * Runs inside flash_create, before the writer thread starts and before any
 * worker exists: single-threaded, blocking (reads every summary of the
 * ring). Never trusts what it reads: a map or summary that fails its
 * checksum, a segment of another instance, seq or place is skipped and
 * counted (its items are misses), never a wrong value.
 */
#include "flash/flash_int.h"
#include "flash/livemap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

/* Loads the dictionary slots (format.h: before any block is read). */
static void load_dicts(flash_t *f)
{
    uint8_t *buf = device_buf_alloc(FLASH_DICT_SLOT_SIZE);
    if (!buf)
        return;
    for (unsigned slot = 0; slot < FLASH_DICT_SLOTS; slot++) {
        char err[256];
        uint64_t off = FLASH_DICT_OFFSET + (uint64_t)slot * FLASH_DICT_SLOT_SIZE;
        if (device_pread(f->dev, buf, FLASH_DICT_SLOT_SIZE, off, err, sizeof err) != DEVICE_OK) {
            flash_log(f, "%s", err);
            continue;
        }
        flash_dict_t *d = NULL;
        flash_dict_status_e ds = flash_dict_slot_decode(buf, FLASH_DICT_SLOT_SIZE, slot,
                                                        f->instance_id,
                                                        f->s.compression_level, &d);
        if (ds == FLASH_DICT_EEMPTY)
            continue;
        if (ds != FLASH_DICT_OK) {
            FSTAT_ADD(f, flash_recovery_errors, 1);
            flash_log(f, "%s: dictionary slot %u unusable (%s): blocks that name it are "
                      "misses", f->path, slot, flash_dict_strerror(ds));
            continue;
        }
        if (flash_dicts_publish(&f->dicts, d, slot == 0) != FLASH_DICT_OK)
            flash_dict_destroy(&d);
    }
    device_buf_free(buf);
}

/* Reads and checks the live map the state record names: after a clean
 * stop at the start of its slots; a crash checkpoint 4 KiB into its slot,
 * behind an empty segment header carrying the record's map seq. */
static flash_status_e read_map(flash_t *f, const flash_state_t *st, uint8_t **buf,
                               flash_map_t *m)
{
    *buf = NULL;
    if (st->map_first_seg == FLASH_STATE_NO_SNAPSHOT)
        return FLASH_MISS;
    bool ckpt = st->state == FLASH_STATE_RUNNING;
    uint64_t skip = ckpt ? FLASH_IO_ALIGN : 0;
    uint64_t alloc = fl_round_up(st->map_len, FLASH_IO_ALIGN);
    if (st->map_len < FLASH_MAP_HDR_LEN || st->map_first_seg >= f->nseg ||
        (ckpt && (st->map_seg_count != 1 || skip + alloc > f->segsize)) ||
        (uint64_t)st->map_first_seg * f->segsize + skip + alloc >
            (uint64_t)f->nseg * f->segsize)
        return FLASH_ECHECKSUM;
    uint8_t *b = device_buf_alloc((size_t)(alloc > FLASH_IO_ALIGN ? alloc : FLASH_IO_ALIGN));
    if (!b)
        return FLASH_ENOMEM;
    char err[256];
    uint64_t off = flash_seg_dev_off(f, st->map_first_seg);
    if (ckpt) {
        flash_seghdr_t h;
        if (device_pread(f->dev, b, FLASH_IO_ALIGN, off, err, sizeof err) != DEVICE_OK ||
            flash_seghdr_decode(b, FLASH_IO_ALIGN, f->segsize, &h) != FLASH_SEG_OK ||
            h.instance_id != f->instance_id || h.seg_id != st->map_first_seg ||
            h.seq != st->map_seq || h.summary_count != 0) {
            device_buf_free(b);
            return FLASH_ECHECKSUM;
        }
    }
    if (device_pread(f->dev, b, (size_t)alloc, off + skip, err, sizeof err) != DEVICE_OK) {
        flash_log(f, "%s", err);
        device_buf_free(b);
        return FLASH_EIO;
    }
    if (XXH3_64bits(b, (size_t)st->map_len) != st->map_cksum ||
        flash_map_decode(b, st->map_len, f->instance_id, f->nseg, m) != FLASH_MAP_OK) {
        device_buf_free(b);
        return FLASH_ECHECKSUM;
    }
    *buf = b;
    return FLASH_OK;
}

/* The kill set: sorted key hashes the checkpoint's journal names. */
typedef struct kills {
    uint64_t *h;
    size_t n, cap;
} kills_t;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static bool killed(const kills_t *k, uint64_t h)
{
    return k->n && bsearch(&h, k->h, k->n, sizeof h, cmp_u64) != NULL;
}

/* Reads the journal pages of the crash checkpoint `st` names, from page 0
 * to the first that is not its own (never written, torn: a kill whose page
 * write did not complete was never answered). */
static flash_status_e read_journal(flash_t *f, const flash_state_t *st, kills_t *k)
{
    uint64_t off;
    uint32_t pages;
    flash_journal_area(f, st->map_first_seg, st->map_len, &off, &pages);
    uint8_t *buf = device_buf_alloc(FLASH_JPAGE);
    if (!buf)
        return FLASH_ENOMEM;
    flash_status_e rc = FLASH_OK;
    for (uint32_t p = 0; p < pages; p++) {
        char err[256];
        flash_jpage_t jp;
        if (device_pread(f->dev, buf, FLASH_JPAGE, off + (uint64_t)p * FLASH_JPAGE, err,
                         sizeof err) != DEVICE_OK) {
            flash_log(f, "%s", err);
            rc = FLASH_EIO;
            break;
        }
        if (!flash_jpage_decode(buf, f->instance_id, st->map_seq, p, &jp))
            break;
        if (k->n + jp.count > k->cap) {
            size_t cap = (k->cap + jp.count) * 2;
            uint64_t *nh = realloc(k->h, cap * sizeof *nh);
            if (!nh) {
                rc = FLASH_ENOMEM;
                break;
            }
            k->h = nh;
            k->cap = cap;
        }
        for (uint32_t i = 0; i < jp.count; i++)
            k->h[k->n++] = flash_jpage_hash(&jp, i);
        if (jp.count < FLASH_JPAGE_MAX)
            break; /* the last page */
    }
    device_buf_free(buf);
    if (k->n)
        qsort(k->h, k->n, sizeof *k->h, cmp_u64);
    return rc;
}

/* Rebuilds the segment table and the index from a decoded map, without the
 * keys in `dead` (a crash checkpoint's journal). */
static void replay_map(flash_t *f, const flash_map_t *m, const kills_t *dead,
                       flash_recovery_t *rec)
{
    const uint8_t *bits = m->bits;
    flash_map_seg_t e;
    for (uint32_t k = 0; k < m->nsegs; k++) {
        flash_map_entry(m, k, &e);
        const uint8_t *run = bits;
        bits += flash_map_bits_len(e.count);
        fseg_t *s = &f->segs[e.seg_id];
        s->seq = e.seq;
        s->state = FSEG_BAD; /* in the ring; reclaim frees it, reads miss */
        if (e.count == 0)
            continue;
        flash_seghdr_t h;
        const uint8_t *sum;
        flash_status_e st = flash_read_summary(f, e.seg_id, &h, &sum);
        if (st != FLASH_OK || h.seq != e.seq || h.summary_count != e.count) {
            rec->segments_lost++;
            FSTAT_ADD(f, flash_recovery_errors, 1);
            flash_log(f, "%s: recovery: segment %u (seq %llu) %s; its items are misses",
                      f->path, e.seg_id, (unsigned long long)e.seq,
                      st == FLASH_EIO ? "unreadable" : "failed its checks");
            continue;
        }
        s->gen = h.gen;
        s->state = FSEG_USED;
        rec->segments++;
        rec->bytes += h.data_end;
        for (uint32_t i = 0; i < h.summary_count; i++) {
            if (!flash_map_get(run, i))
                continue;
            const uint8_t *p = sum + (size_t)i * FLASH_SUM_ENTRY_LEN;
            if (fl_get_u8(p + 10) != FLASH_SUM_ITEM)
                continue;
            if (killed(dead, fl_get_u64(p))) {
                rec->killed++;
                continue;
            }
            index_insert_result_t r;
            index_loc_t loc = {e.seg_id, fl_get_u16(p + 8)};
            if (index_insert(f->idx, fl_get_u64(p), loc, flash_seg_age, f, &r) != INDEX_OK)
                continue;
            if (r.removed)
                FSTAT_ADD(f, flash_index_collateral, r.removed);
            rec->items++;
        }
    }
}

flash_status_e flash_recover(flash_t *f, char *note, size_t notelen)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    flash_recovery_t *rec = &f->rec;
    memset(rec, 0, sizeof *rec);
    uint8_t *buf = device_buf_alloc(FLASH_IO_ALIGN);
    if (!buf)
        return FLASH_ENOMEM;
    char err[256];
    flash_state_t st;
    bool have = device_pread(f->dev, buf, FLASH_IO_ALIGN, FLASH_STATE_OFFSET, err,
                             sizeof err) == DEVICE_OK &&
                flash_state_decode(buf, FLASH_IO_ALIGN, &st) == FLASH_SB_OK &&
                st.instance_id == f->instance_id;
    device_buf_free(buf);
    bool clean = have && st.state == FLASH_STATE_CLEAN;
    if (!have || (!clean && st.map_first_seg == FLASH_STATE_NO_SNAPSHOT)) {
        rec->kind = FLASH_RECOVERY_CRASH;
        snprintf(note, notelen, "%s: the last run did not stop cleanly and left no valid "
                 "crash checkpoint (%s): flash contents discarded", f->path,
                 have ? "none, or a key it kept had changed" : "no valid state record");
        return FLASH_MISS;
    }
    if (!clean && (st.flags & FLASH_STATE_JOURNALED) &&
        (st.boot_tag == 0 || st.boot_tag != flash_boot_tag())) {
        rec->kind = FLASH_RECOVERY_CRASH;
        snprintf(note, notelen, "%s: the host restarted since the last crash checkpoint "
                 "was journaled (its journal pages were not synced): flash contents "
                 "discarded", f->path);
        return FLASH_MISS;
    }
    uint8_t *mbuf;
    flash_map_t m;
    flash_status_e ms = read_map(f, &st, &mbuf, &m);
    if (ms == FLASH_ENOMEM)
        return ms;
    if (ms != FLASH_OK) {
        rec->kind = FLASH_RECOVERY_CRASH;
        FSTAT_ADD(f, flash_recovery_errors, 1);
        snprintf(note, notelen, "%s: %s but its live map is %s: flash contents discarded",
                 f->path, clean ? "clean state" : "the last run did not stop cleanly",
                 ms == FLASH_EIO ? "unreadable" : "damaged");
        return FLASH_MISS;
    }
    load_dicts(f);
    f->run_count = st.run_count;
    f->next_seq = st.last_seq + 1;
    if (!clean) /* the crashed run wrote at most a ring of segments after
                 * the checkpoint: no new seq may equal one of theirs */
        f->next_seq += f->nseg + 1;
    for (uint32_t i = 0; i < f->nseg; i++) {
        f->segs[i].state = FSEG_FREE;
        f->segs[i].gen = (uint32_t)st.run_count << 8;
    }
    if (m.nsegs > 0) {
        flash_map_seg_t first, last;
        flash_map_entry(&m, 0, &first);
        flash_map_entry(&m, m.nsegs - 1, &last);
        if (last.seq >= f->next_seq)
            f->next_seq = last.seq + 1 + (clean ? 0 : f->nseg + 1);
        f->tail = first.seg_id;
        atomic_store_explicit(&f->head, (last.seg_id + 1) % f->nseg, memory_order_relaxed);
        f->nring = m.nsegs;
    }
    kills_t k = {0};
    if (!clean) {
        flash_status_e js = read_journal(f, &st, &k);
        if (js != FLASH_OK) {
            free(k.h);
            device_buf_free(mbuf);
            rec->kind = FLASH_RECOVERY_CRASH;
            snprintf(note, notelen, "%s: the crash checkpoint's journal is unreadable: flash "
                     "contents discarded", f->path);
            return js == FLASH_ENOMEM ? FLASH_ENOMEM : FLASH_MISS;
        }
    }
    replay_map(f, &m, &k, rec);
    free(k.h);
    device_buf_free(mbuf);
    rec->kind = clean ? FLASH_RECOVERY_CLEAN : FLASH_RECOVERY_CHECKPOINT;
    rec->flush_oldest_live = st.flush_oldest_live;
    rec->flush_oldest_cas = st.flush_oldest_cas;
    /* after a crash, cas values were handed out past the checkpoint's
     * counter: start far above (2^32 more than any run gives between two
     * checkpoints) */
    rec->max_cas = st.max_cas + (clean ? 0 : (UINT64_C(1) << 32));
    if (st.flush_oldest_live)
        atomic_store_explicit(&f->flush_oldest_live, (int64_t)st.flush_oldest_live,
                              memory_order_relaxed);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    rec->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    FSTAT_ADD(f, flash_recovered_items, rec->items);
    char how[96];
    if (clean)
        snprintf(how, sizeof how, "after a clean shutdown");
    else
        snprintf(how, sizeof how, "from the last crash checkpoint (%llu changed since)",
                 (unsigned long long)rec->killed);
    snprintf(note, notelen, "%s: recovered %llu items in %llu segments (%llu bytes) %s in "
             "%.3f s%s", f->path, (unsigned long long)rec->items,
             (unsigned long long)rec->segments, (unsigned long long)rec->bytes, how, rec->seconds,
             rec->segments_lost ? "; some segments failed their checks (see above)" : "");
    return FLASH_OK;
}

void flash_recovery(const flash_t *f, flash_recovery_t *out)
{
    *out = f->rec;
}
