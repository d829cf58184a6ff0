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
        if (devset_pread(f->set, buf, FLASH_DICT_SLOT_SIZE, off, err, sizeof err) != DEVICE_OK) {
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
        if (devset_pread(f->set, b, FLASH_IO_ALIGN, off, err, sizeof err) != DEVICE_OK ||
            flash_seghdr_decode(b, FLASH_IO_ALIGN, f->segsize, &h) != FLASH_SEG_OK ||
            h.instance_id != f->instance_id || h.seg_id != st->map_first_seg ||
            h.seq != st->map_seq || h.summary_count != 0) {
            device_buf_free(b);
            return FLASH_ECHECKSUM;
        }
    }
    if (devset_pread(f->set, b, (size_t)alloc, off + skip, err, sizeof err) != DEVICE_OK) {
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

/* The journal of a crash checkpoint, in order (journal.h): KILLs and
 * EXTENDs; an entry's position is its index. */
typedef struct jlog {
    flash_jent_t *e;
    size_t n, cap;
} jlog_t;

/* Its KILLs, sorted by hash then position: a copy from a source at
 * position p (the map: -1) is dropped when a KILL of its hash follows. */
typedef struct kill {
    uint64_t hash;
    int64_t pos;
} kill_t;

typedef struct kills {
    kill_t *k;
    size_t n;
} kills_t;

static int cmp_kill(const void *a, const void *b)
{
    const kill_t *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Is there a KILL of h after position pos? O(log n). */
static bool killed_after(const kills_t *k, uint64_t h, int64_t pos)
{
    size_t lo = 0, hi = k->n; /* first entry with hash > h */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (k->k[mid].hash <= h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && k->k[lo - 1].hash == h && k->k[lo - 1].pos > pos;
}

/* Reads the journal pages of the crash checkpoint `st` names, from page 0
 * to the first that is not its own (never written, torn: an entry whose
 * page write did not complete was never answered, and an EXTEND is in the
 * same page as its KILLs). */
static flash_status_e read_journal(flash_t *f, const flash_state_t *st, jlog_t *j)
{
    uint64_t off;
    uint32_t pages;
    flash_journal_area(f, st->map_first_seg, st->map_len, &off, &pages);
    uint8_t *buf = device_buf_alloc(FLASH_JPAGE);
    if (!buf)
        return FLASH_ENOMEM;
    flash_status_e rc = FLASH_OK;
    for (uint32_t p = 0; p < pages && rc == FLASH_OK; p++) {
        char err[256];
        flash_jpage_t jp;
        if (devset_pread(f->set, buf, FLASH_JPAGE, off + (uint64_t)p * FLASH_JPAGE, err,
                         sizeof err) != DEVICE_OK) {
            flash_log(f, "%s", err);
            rc = FLASH_EIO;
            break;
        }
        if (!flash_jpage_decode(buf, f->instance_id, st->map_seq, p, &jp))
            break;
        uint32_t pos = 0;
        flash_jent_t e;
        while (flash_jpage_next(&jp, &pos, &e)) {
            if (j->n == j->cap) {
                size_t cap = j->cap ? j->cap * 2 : 1024;
                flash_jent_t *ne = realloc(j->e, cap * sizeof *ne);
                if (!ne) {
                    rc = FLASH_ENOMEM;
                    break;
                }
                j->e = ne;
                j->cap = cap;
            }
            j->e[j->n++] = e;
        }
    }
    device_buf_free(buf);
    return rc;
}

static flash_status_e sort_kills(const jlog_t *j, kills_t *k)
{
    size_t n = 0;
    for (size_t i = 0; i < j->n; i++)
        n += j->e[i].kind == FLASH_JENT_KILL;
    k->k = n ? malloc(n * sizeof *k->k) : NULL;
    if (n && !k->k)
        return FLASH_ENOMEM;
    for (size_t i = 0; i < j->n; i++)
        if (j->e[i].kind == FLASH_JENT_KILL)
            k->k[k->n++] = (kill_t){ j->e[i].hash, (int64_t)i };
    if (k->n)
        qsort(k->k, k->n, sizeof *k->k, cmp_kill);
    return FLASH_OK;
}

/* Indexes the items of a segment's summary that no later KILL names. */
static void replay_items(flash_t *f, uint32_t seg, const flash_seghdr_t *h, const uint8_t *sum,
                         const uint8_t *run, const kills_t *dead, int64_t pos,
                         flash_recovery_t *rec)
{
    for (uint32_t i = 0; i < h->summary_count; i++) {
        if (run && !flash_map_get(run, i))
            continue;
        const uint8_t *p = sum + (size_t)i * FLASH_SUM_ENTRY_LEN;
        if (fl_get_u8(p + 10) != FLASH_SUM_ITEM)
            continue;
        if (killed_after(dead, fl_get_u64(p), pos)) {
            rec->killed++;
            continue;
        }
        index_insert_result_t r;
        index_loc_t loc = {seg, fl_get_u16(p + 8)};
        if (index_insert(f->idx, fl_get_u64(p), loc, flash_seg_age, f, &r) != INDEX_OK)
            continue;
        if (r.removed)
            FSTAT_ADD(f, flash_index_collateral, r.removed);
        rec->items++;
    }
}

/* Rebuilds the segment table and the index from a decoded map, without
 * the copies a journaled KILL names, and without the segments a kept
 * later segment reused (newer[seg] > the map's seq: NULL = none). */
static void replay_map(flash_t *f, const flash_map_t *m, const kills_t *dead,
                       const uint64_t *newer, bool clean, flash_recovery_t *rec)
{
    const uint8_t *bits = m->bits;
    flash_map_seg_t e;
    for (uint32_t k = 0; k < m->nsegs; k++) {
        flash_map_entry(m, k, &e);
        const uint8_t *run = bits;
        bits += flash_map_bits_len(e.count);
        if (newer && newer[e.seg_id] > e.seq)
            continue; /* reused after the checkpoint: the EXTEND says */
        fseg_t *s = &f->segs[e.seg_id];
        s->seq = e.seq;
        s->state = FSEG_BAD; /* in the ring; reclaim frees it, reads miss */
        if (e.count == 0)
            continue;
        flash_seghdr_t h;
        const uint8_t *sum;
        flash_status_e st = flash_read_summary(f, e.seg_id, &h, &sum);
        if (st == FLASH_OK && !clean && h.seq > e.seq)
            continue; /* reused after the checkpoint, by a segment it does
                       * not keep: its items are misses (no error) */
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
        s->data_bytes = h.data_end;
        rec->segments++;
        rec->bytes += h.data_end;
        replay_items(f, e.seg_id, &h, sum, run, dead, -1, rec);
    }
}

/* The segments a crash checkpoint's journal EXTENDs, in order: each one
 * whose header still carries the recorded seq and generation (one reused
 * since is skipped: a later EXTEND or nothing keeps its place). */
static void replay_extends(flash_t *f, const jlog_t *j, const kills_t *dead,
                           const uint64_t *newer, flash_recovery_t *rec)
{
    for (size_t i = 0; i < j->n; i++) {
        const flash_jent_t *e = &j->e[i];
        if (e->kind != FLASH_JENT_EXTEND || e->seg >= f->nseg || newer[e->seg] != e->seq)
            continue;
        flash_seghdr_t h;
        const uint8_t *sum;
        flash_status_e st = flash_read_summary(f, e->seg, &h, &sum);
        if (st != FLASH_OK || h.seq != e->seq || h.gen != e->gen) {
            if (st != FLASH_OK && st != FLASH_ECHECKSUM)
                FSTAT_ADD(f, flash_recovery_errors, 1);
            continue;
        }
        fseg_t *s = &f->segs[e->seg];
        s->seq = h.seq;
        s->gen = h.gen;
        s->state = FSEG_USED;
        s->data_bytes = h.data_end;
        rec->segments++;
        rec->extended++;
        rec->bytes += h.data_end;
        replay_items(f, e->seg, &h, sum, NULL, dead, (int64_t)i, rec);
    }
}

/* The ring after a crash checkpoint: the map's segments, then what the
 * crashed run wrote after them (positions and seqs advance together, the
 * slot and the extended segments included), up to the newest, `last` with
 * `last_seq`. A place in the ring that holds nothing kept is BAD (reclaim
 * frees it), with the seq its place implies (seqs rise along the ring). */
static void crash_ring(flash_t *f, const flash_map_t *m, uint32_t slot, uint32_t last,
                       uint64_t last_seq)
{
    uint32_t n = f->nseg, tail, count;
    if (m->nsegs > 0) {
        flash_map_seg_t first, lastm;
        flash_map_entry(m, 0, &first);
        flash_map_entry(m, m->nsegs - 1, &lastm);
        uint32_t d = (last + n - lastm.seg_id) % n;
        if (d == 0)
            d = n;
        tail = first.seg_id;
        count = m->nsegs + d;
    } else {
        tail = slot;
        count = (last + n - slot) % n + 1;
    }
    if (count >= n) {
        count = n;
        tail = (last + 1) % n;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t d = (i + n - tail) % n;
        fseg_t *s = &f->segs[i];
        if (d >= count) {
            s->state = FSEG_FREE;
        } else if (s->state == FSEG_FREE) {
            s->state = FSEG_BAD;
            s->seq = last_seq - (last + n - i) % n;
        }
    }
    f->tail = tail;
    atomic_store_explicit(&f->head, (last + 1) % n, memory_order_relaxed);
    f->nring = count;
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
    bool have = devset_pread(f->set, buf, FLASH_IO_ALIGN, FLASH_STATE_OFFSET, err,
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
    jlog_t j = {0};
    kills_t k = {0};
    uint64_t *newer = NULL;
    if (!clean) {
        flash_status_e js = read_journal(f, &st, &j);
        if (js == FLASH_OK)
            js = sort_kills(&j, &k);
        newer = calloc(f->nseg, sizeof *newer);
        if (js == FLASH_OK && !newer)
            js = FLASH_ENOMEM;
        if (js != FLASH_OK) {
            free(j.e);
            free(k.k);
            free(newer);
            device_buf_free(mbuf);
            rec->kind = FLASH_RECOVERY_CRASH;
            snprintf(note, notelen, "%s: the crash checkpoint's journal is unreadable: flash "
                     "contents discarded", f->path);
            return js == FLASH_ENOMEM ? FLASH_ENOMEM : FLASH_MISS;
        }
    }
    /* the newest EXTEND of each place, and the newest place written */
    uint32_t last = st.map_first_seg;
    uint64_t last_seq = st.map_seq;
    for (size_t i = 0; i < j.n; i++) {
        const flash_jent_t *e = &j.e[i];
        if (e->kind != FLASH_JENT_EXTEND || e->seg >= f->nseg)
            continue;
        if (e->seq > newer[e->seg])
            newer[e->seg] = e->seq;
        if (e->seq > last_seq) {
            last_seq = e->seq;
            last = e->seg;
        }
    }
    replay_map(f, &m, &k, newer, clean, rec);
    if (!clean) {
        replay_extends(f, &j, &k, newer, rec);
        crash_ring(f, &m, st.map_first_seg, last, last_seq);
        if (last_seq + 1 + f->nseg + 1 > f->next_seq)
            f->next_seq = last_seq + 1 + f->nseg + 1;
    }
    free(j.e);
    free(k.k);
    free(newer);
    device_buf_free(mbuf);
    /* distinct items (a segment sealed during a build may be in its map
     * and extended too: the same copy indexed twice) */
    index_stats_t is;
    index_stats(f->idx, &is);
    rec->items = is.items;
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
        snprintf(how, sizeof how, "from the last crash checkpoint and %llu segments "
                 "sealed after it (%llu copies changed since)",
                 (unsigned long long)rec->extended, (unsigned long long)rec->killed);
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
