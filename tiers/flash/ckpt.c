/*
 * tiers/flash/ckpt.c - crash checkpoints (format.h CRASH CHECKPOINT).
 *
 * Every checkpoint interval the writer thread writes a live map of the
 * index, as a clean stop does, into a segment slot of its own in the ring,
 * then names it in the RUNNING state record (fdatasync before each step).
 * After a crash, recovery rebuilds the index from the last valid
 * checkpoint. A change of a key it may keep (its Bloom filter) is first
 * written to the checkpoint's kill journal (flash_note_mutation: one 4 KiB
 * page write, complete BEFORE the change is applied); recovery leaves the
 * journaled keys out. A flush_all, a full journal or a failed write make
 * the checkpoint unusable instead (one state write + fdatasync). So a
 * crash never brings back a value whose delete, overwrite or flush a client
 * saw answered; what a crash loses is what was spilled after the last
 * valid checkpoint.
 *
 * A checkpoint published between a change's flash_note_mutation (before
 * the change) and the change's removal of the key's index entries
 * (flash_remove) could keep the old value: flash_remove applies the same
 * rule (a promotion that drops the entry without a change uses
 * flash_forget, which does not).
 *
 * While one is being built, a flash_remove of a key it may keep lists
 * the hash (ck_bkill): the builder adds each hash to the new filter
 * before it looks the hash up in the index, flash_remove looks at the
 * filter after it removed the index entries (seq_cst fences on both
 * sides), so one of them sees the other. The publish writes the listed
 * hashes as the new journal's first KILLs before the state record names
 * it, and those listed until the build ends (under ck_bklock) right after,
 * with ck_jlock held throughout; a removal after that finds the new
 * checkpoint valid (flash_note_mutation). Only a flush, or more removals
 * than the list holds, spoils a build (not published).
 *
 * Before a build the due written_fn callbacks run (flash_complete): a
 * queued copy superseded in RAM is removed from the index before the
 * builder can see it.
 *
 * Lock order: ck_lock is a leaf (held across the state write only); it is
 * taken with a cache stripe lock held (flash_remove never takes it).
 * Threads: flash_ckpt_maybe on the writer thread only; flash_note_* on any.
 */
#include "flash/flash_int.h"
#include "flash/livemap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* summary entries ahead whose index buckets extend() prefetches */
#define CK_PREFETCH 8

/* Filters retired at a publish: a worker may still probe them for a few
 * nanoseconds; freed two publishes later. */
static void retire(flash_t *f, bloom_t *b)
{
    if (!b)
        return;
    bloom_destroy(&f->ck_retired[FLASH_CK_RETIRED - 1]);
    for (int i = FLASH_CK_RETIRED - 1; i > 0; i--)
        f->ck_retired[i] = f->ck_retired[i - 1];
    f->ck_retired[0] = b;
}

uint32_t flash_boot_tag(void)
{
    char id[64] = "";
    FILE *fp = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (!fp)
        return 0;
    size_t n = fread(id, 1, sizeof id - 1, fp);
    fclose(fp);
    if (n == 0)
        return 0;
    uint32_t t = (uint32_t)XXH3_64bits(id, n);
    return t ? t : 1;
}

void flash_journal_area(const flash_t *f, uint32_t slot, uint64_t map_len, uint64_t *off,
                        uint32_t *pages)
{
    uint64_t start;
    flash_jarea(map_len, f->segsize, &start, pages);
    *off = flash_seg_dev_off(f, slot) + start;
}

void flash_ckpt_teardown(flash_t *f)
{
    if (f->ck_building)
        flash_map_abort(&f->ck_mb);
    f->ck_building = false;
    device_buf_free(f->ck_jpage);
    f->ck_jpage = NULL;
    bloom_t *b = atomic_exchange(&f->ck_filter, NULL);
    bloom_destroy(&b);
    b = atomic_exchange(&f->ck_build, NULL);
    bloom_destroy(&b);
    b = atomic_exchange(&f->ck_ext, NULL);
    bloom_destroy(&b);
    for (int i = 0; i < FLASH_CK_RETIRED; i++)
        bloom_destroy(&f->ck_retired[i]);
}

/* Writes the state record without a map (ck_lock held). */
static void invalidate_locked(flash_t *f)
{
    if (!atomic_load(&f->ck_valid))
        return;
    flash_state_t st = f->ck_state;
    st.map_first_seg = FLASH_STATE_NO_SNAPSHOT;
    st.map_seg_count = 0;
    st.map_len = 0;
    st.map_cksum = 0;
    st.map_seq = 0;
    st.time = (uint64_t)flash_now(f);
    char err[256];
    if (flash_write_state(f, &st, err, sizeof err) != FLASH_OK) {
        /* the record may still name the map: say so loudly; the next
         * start after a crash could serve stale values from it */
        flash_log(f, "%s: cannot invalidate the crash checkpoint: %s", f->path, err);
        FSTAT_ADD(f, flash_write_errors, 1);
        return;
    }
    f->ck_state = st;
    atomic_store(&f->ck_valid, false);
    FSTAT_ADD(f, flash_checkpoints_invalidated, 1);
}

/* ck_jlock held: may the valid checkpoint's journal be written? The first
 * entry of a checkpoint first marks the state record JOURNALED (synced):
 * after a reboot, unsynced journal pages may be lost, so a journaled
 * checkpoint is then not trusted. */
static bool journal_open(flash_t *f)
{
    char err[256];
    pthread_mutex_lock(&f->ck_lock);
    bool ok = atomic_load(&f->ck_valid);
    if (ok && !(f->ck_state.flags & FLASH_STATE_JOURNALED)) {
        flash_state_t st = f->ck_state;
        st.flags |= FLASH_STATE_JOURNALED;
        ok = flash_write_state(f, &st, err, sizeof err) == FLASH_OK;
        if (ok)
            f->ck_state = st;
    }
    pthread_mutex_unlock(&f->ck_lock);
    return ok && f->ck_jpage && f->ck_jpages > 0;
}

/* ck_jlock held: room for `words` more words on the page being filled;
 * a page that has not (it was written whole by the entry that filled it)
 * is left for the next. False: the slot's journal is full. */
static bool journal_room(flash_t *f, uint32_t words)
{
    if (flash_jpage_count(f->ck_jpage) + words <= FLASH_JPAGE_MAX)
        return true;
    if (f->ck_jno + 1 >= f->ck_jpages)
        return false;
    f->ck_jno++;
    flash_jpage_init(f->ck_jpage, f->instance_id, f->ck_jseq, f->ck_jno);
    f->ck_jfrom = 0;
    return true;
}

/* ck_jlock held: writes the page being filled (one 4 KiB O_DIRECT write:
 * a crash leaves it whole or as it was; a torn one fails its checksum). */
static bool journal_write(flash_t *f)
{
    char err[256];
    if (devset_pwrite(f->set, f->ck_jpage, FLASH_JPAGE,
                      f->ck_joff + (uint64_t)f->ck_jno * FLASH_JPAGE, err,
                      sizeof err) != DEVICE_OK) {
        FSTAT_ADD(f, flash_write_errors, 1);
        flash_log(f, "%s: crash checkpoint journal: %s", f->path, err);
        return false;
    }
    return true;
}

/* ck_jlock held: a change of the key is in the journal, now or already
 * (extend() repeats every one noted while it looked its segment's copies
 * up: one noted then found on the page still happened meanwhile). */
static void remember_kill(flash_t *f, uint64_t hash)
{
    f->ck_recent[f->ck_nkilled % FLASH_CK_RECENT] = hash;
    f->ck_nkilled++;
}

static void note_killed(flash_t *f, uint64_t hash)
{
    remember_kill(f, hash);
    FSTAT_ADD(f, flash_checkpoint_kills, 1);
}

/* Appends the hash to the valid checkpoint's kill journal and writes the
 * page (ck_jlock held). False: no room, or a write failed: the caller
 * invalidates. */
static bool journal_kill(flash_t *f, uint64_t hash)
{
    if (hash == 0 || !journal_open(f)) /* 0: the EXTEND mark (journal.h) */
        return false;
    /* the same change noted twice (before it, and at its index removal),
     * or the key changed again since the last EXTEND: written already */
    if (flash_jpage_has(f->ck_jpage, f->ck_jfrom, hash)) {
        remember_kill(f, hash);
        return true;
    }
    if (!journal_room(f, 1) || !flash_jpage_add(f->ck_jpage, hash) || !journal_write(f))
        return false;
    note_killed(f, hash);
    return true;
}

/* ck_jlock held: appends KILLs of hashes h[0, n) and writes every page
 * they touch (a full page before the next is begun). False: no room, a
 * hash 0, or a write failed: the caller invalidates. */
static bool journal_kills(flash_t *f, const uint64_t *h, uint32_t n)
{
    bool unwritten = false;
    for (uint32_t i = 0; i < n; i++) {
        if (h[i] == 0)
            return false;
        if (flash_jpage_has(f->ck_jpage, f->ck_jfrom, h[i])) {
            remember_kill(f, h[i]);
            continue;
        }
        if (flash_jpage_count(f->ck_jpage) >= FLASH_JPAGE_MAX) {
            if (unwritten && !journal_write(f))
                return false;
            unwritten = false;
        }
        if (!journal_room(f, 1) || !flash_jpage_add(f->ck_jpage, h[i]))
            return false;
        unwritten = true;
        note_killed(f, h[i]);
    }
    return !unwritten || journal_write(f);
}

bool flash_checkpoint_active(const flash_t *f)
{
    return atomic_load_explicit(&f->ck_valid, memory_order_acquire) ||
           atomic_load_explicit(&f->ck_build, memory_order_acquire) != NULL;
}

/* A build runs that may keep the hash's copy: the hash is listed, and
 * journaled first thing at its publish; once the build ended, the
 * published checkpoint's rule applies (the caller's). More than the list
 * holds spoils the build. */
static void note_build(flash_t *f, uint64_t hash)
{
    bloom_t *b = atomic_load(&f->ck_build);
    if (!b || !bloom_maybe(b, hash))
        return;
    pthread_mutex_lock(&f->ck_bklock);
    if (atomic_load(&f->ck_build) == b) {
        if (f->ck_nbkill < FLASH_CK_BKILL)
            f->ck_bkill[f->ck_nbkill++] = hash;
        else
            atomic_store(&f->ck_dirty, true);
    }
    pthread_mutex_unlock(&f->ck_bklock);
}

void flash_note_mutation(flash_t *f, uint64_t hash)
{
    /* a build may hold the key although the index no longer does (a
     * promotion forgot its entry after the builder read it): this change
     * may have no flash_remove to tell the build */
    note_build(f, hash);
    if (!atomic_load_explicit(&f->ck_valid, memory_order_acquire))
        return;
    bloom_t *b = atomic_load_explicit(&f->ck_filter, memory_order_acquire);
    bloom_t *x = atomic_load_explicit(&f->ck_ext, memory_order_acquire);
    if (b && !bloom_maybe(b, hash) && !(x && bloom_maybe(x, hash)))
        return;
    pthread_mutex_lock(&f->ck_jlock);
    bool kept = atomic_load(&f->ck_valid) && journal_kill(f, hash);
    if (!kept) {
        pthread_mutex_lock(&f->ck_lock);
        invalidate_locked(f);
        pthread_mutex_unlock(&f->ck_lock);
    }
    pthread_mutex_unlock(&f->ck_jlock);
}

void flash_note_flush(flash_t *f)
{
    atomic_store(&f->ck_dirty, true);
    if (!atomic_load(&f->ck_valid))
        return;
    pthread_mutex_lock(&f->ck_lock);
    invalidate_locked(f);
    pthread_mutex_unlock(&f->ck_lock);
}

void flash_ckpt_note_remove(flash_t *f, uint64_t hash)
{
    /* after the index entries went (flash_remove): the build may keep the
     * old copy (note_build), and a checkpoint published between the
     * change's flash_note_mutation and this removal may hold it: the same
     * rule as a change */
    atomic_thread_fence(memory_order_seq_cst);
    flash_note_mutation(f, hash);
}

/* Items in a sealed segment's summary; the most seen is remembered (the
 * extension filter's room: build_publish). */
static uint32_t seg_items(flash_t *f, const flash_seghdr_t *h, const uint8_t *sum)
{
    uint32_t items = 0;
    for (uint32_t i = 0; i < h->summary_count; i++)
        items += fl_get_u8(sum + (size_t)i * FLASH_SUM_ENTRY_LEN + 10) == FLASH_SUM_ITEM;
    if (items > f->ck_seg_items_max)
        f->ck_seg_items_max = items;
    return items;
}

/* The valid checkpoint keeps segment seg's items too (writer thread): its
 * keys join the extension filter, its copies the index no longer holds
 * (superseded before they were written) are looked up, then, with
 * ck_jlock held, the EXTEND, a KILL of each of those and a repeat of each
 * KILL journaled meanwhile go into one journal page, written once: a
 * crash sees all or nothing. A copy removed after its lookup is a change
 * journaled by flash_remove's rule (the filter holds its key: seq_cst
 * fences on both sides, as for a build): meanwhile (repeated) or after. A segment whose record does not
 * fit one page, or once the filter's room is used, is not kept (a miss
 * after a crash); the next checkpoint is then due at once. */
static void extend(flash_t *f, uint32_t seg, const flash_seghdr_t *h, const uint8_t *sum)
{
    bloom_t *x = atomic_load(&f->ck_ext);
    if (!x || !atomic_load(&f->ck_valid))
        return;
    uint32_t items = seg_items(f, h, sum);
    if (items > f->ck_ext_room) {
        f->ck_ext_room = 0;
        f->ck_last_ms = 0; /* a new checkpoint, as soon as the writer is idle */
        FSTAT_ADD(f, flash_checkpoint_extends_skipped, 1);
        return;
    }
    f->ck_ext_room -= items;
    /* a queued copy superseded in RAM leaves the index first (its KILL
     * then goes in the EXTEND's page; were its callback to run later,
     * flash_remove's rule journals it then) */
    if (!f->in_reclaim)
        flash_complete(f, UINT32_MAX);
    for (uint32_t i = 0; i < h->summary_count; i++) {
        const uint8_t *p = sum + (size_t)i * FLASH_SUM_ENTRY_LEN;
        if (fl_get_u8(p + 10) == FLASH_SUM_ITEM)
            bloom_add(x, fl_get_u64(p));
    }
    atomic_thread_fence(memory_order_seq_cst);
    pthread_mutex_lock(&f->ck_jlock);
    uint64_t start = f->ck_nkilled;
    pthread_mutex_unlock(&f->ck_jlock);
    /* the copies no longer indexed, looked up without the journal lock
     * (a segment of small items holds tens of thousands): a copy removed
     * after its lookup is journaled by flash_remove's rule, after `start`
     * (its removal follows the lookup, its filter test the removal), and
     * so is repeated after the EXTEND below */
    uint64_t *stale = malloc(((size_t)items + 1) * sizeof *stale);
    uint32_t ns = 0;
    for (uint32_t i = 0; stale && i < h->summary_count; i++) {
        const uint8_t *p = sum + (size_t)i * FLASH_SUM_ENTRY_LEN;
        if (i + CK_PREFETCH < h->summary_count) /* overlap the lookups' misses */
            index_prefetch(f->idx, fl_get_u64(p + CK_PREFETCH * FLASH_SUM_ENTRY_LEN));
        if (fl_get_u8(p + 10) == FLASH_SUM_ITEM &&
            !flash_index_holds(f, fl_get_u64(p), seg, fl_get_u16(p + 8)))
            stale[ns++] = fl_get_u64(p);
    }
    pthread_mutex_lock(&f->ck_jlock);
    bool ok = stale && atomic_load(&f->ck_valid) && journal_open(f);
    if (!ok) {
        pthread_mutex_unlock(&f->ck_jlock);
        free(stale);
        return;
    }
    uint64_t since = f->ck_nkilled - start;
    bool fits = since <= FLASH_CK_RECENT && 3 + ns + since <= FLASH_JPAGE_MAX;
    if (fits && journal_room(f, 3 + ns + (uint32_t)since)) {
        flash_jpage_add_extend(f->ck_jpage, h->seq, seg, h->gen);
        f->ck_jfrom = flash_jpage_count(f->ck_jpage);
        /* hash 0 (never, in practice) cannot be journaled: the checkpoint
         * must not keep this segment then */
        for (uint32_t i = 0; i < ns && ok; i++)
            if (!flash_jpage_has(f->ck_jpage, f->ck_jfrom, stale[i]))
                ok = flash_jpage_add(f->ck_jpage, stale[i]);
        for (uint64_t k = start; k < start + since && ok; k++) {
            uint64_t hash = f->ck_recent[k % FLASH_CK_RECENT];
            if (!flash_jpage_has(f->ck_jpage, f->ck_jfrom, hash))
                ok = flash_jpage_add(f->ck_jpage, hash);
        }
        ok = ok && journal_write(f);
        if (ok)
            FSTAT_ADD(f, flash_checkpoint_extends, 1);
    } else if (!fits) {
        FSTAT_ADD(f, flash_checkpoint_extends_skipped, 1);
        f->ck_last_ms = 0;
    } else {
        ok = false; /* the journal is full */
    }
    if (!ok) {
        /* the page may hold an EXTEND without its kills: unusable */
        pthread_mutex_lock(&f->ck_lock);
        invalidate_locked(f);
        pthread_mutex_unlock(&f->ck_lock);
    }
    pthread_mutex_unlock(&f->ck_jlock);
    free(stale);
}

void flash_ckpt_sealed(flash_t *f, uint32_t seg, const flash_seghdr_t *h, const uint8_t *sum)
{
    if (f->s.checkpoint_ms == 0 || f->persisted)
        return;
    if (f->ck_collect && f->ck_npend < FLASH_CK_PEND) {
        f->ck_pend[f->ck_npend] = seg;
        f->ck_pend_seq[f->ck_npend] = h->seq;
        f->ck_npend++;
    }
    if (!atomic_load(&f->ck_valid))
        seg_items(f, h, sum); /* the room of the first extension filter */
    extend(f, seg, h, sum);
}

/* After a publish: the segments sealed during the build join it (read
 * back; one reused since is skipped: its live items were rewritten into a
 * later segment, which is in the list or sealed after). */
static void extend_pending(flash_t *f)
{
    for (uint32_t i = 0; i < f->ck_npend && atomic_load(&f->ck_valid); i++) {
        uint32_t seg = f->ck_pend[i];
        pthread_mutex_lock(&f->seg_lock);
        bool same = f->segs[seg].seq == f->ck_pend_seq[i] && f->segs[seg].state == FSEG_USED;
        pthread_mutex_unlock(&f->seg_lock);
        flash_seghdr_t h;
        const uint8_t *sum;
        if (same && flash_read_summary(f, seg, &h, &sum) == FLASH_OK &&
            h.seq == f->ck_pend_seq[i])
            extend(f, seg, &h, sum);
    }
    f->ck_npend = 0;
}

/* Encodes an empty segment header for the checkpoint's slot. */
static void slot_header(const flash_t *f, uint32_t seg, uint32_t gen, uint64_t seq, uint8_t *buf)
{
    flash_seghdr_t h;
    memset(&h, 0, sizeof h);
    h.version = FLASH_FORMAT_VERSION;
    h.instance_id = f->instance_id;
    h.seq = seq;
    h.seg_id = seg;
    h.gen = gen;
    h.created = (uint64_t)flash_now(f);
    h.summary_off = FLASH_UNIT;
    h.summary_cksum = XXH3_64bits(buf, 0);
    h.data_end = FLASH_UNIT;
    flash_seghdr_encode(&h, buf);
}

/* The build's filter is no longer consulted by flash_remove (later
 * removals go through flash_note_mutation); returns how many removals it
 * listed (entries [0, n) of ck_bkill stay as they are until the next
 * build begins, on this thread). */
static uint32_t end_build(flash_t *f)
{
    pthread_mutex_lock(&f->ck_bklock);
    atomic_store(&f->ck_build, NULL);
    uint32_t n = f->ck_nbkill;
    pthread_mutex_unlock(&f->ck_bklock);
    atomic_thread_fence(memory_order_seq_cst);
    return n;
}

/* Starts a build: the due callbacks first (a queued copy superseded in RAM
 * leaves the index), then the new filter, then the ring snapshot. */
static void build_begin(flash_t *f)
{
    flash_complete(f, UINT32_MAX);
    index_stats_t is;
    index_stats(f->idx, &is);
    bloom_t *b = bloom_create(is.items + 1024);
    if (!b)
        return;
    atomic_store(&f->ck_dirty, false);
    f->ck_collect = true;
    f->ck_npend = 0;
    pthread_mutex_lock(&f->ck_bklock);
    f->ck_nbkill = 0;
    atomic_store(&f->ck_build, b);
    pthread_mutex_unlock(&f->ck_bklock);
    atomic_thread_fence(memory_order_seq_cst);
    if (flash_map_begin(f, &f->ck_mb, b) != FLASH_OK) {
        f->ck_collect = false;
        end_build(f);
        pthread_mutex_lock(&f->ck_lock);
        retire(f, b);
        pthread_mutex_unlock(&f->ck_lock);
        return;
    }
    f->ck_building = true;
}

/* Keys a segment holds: the most a sealed one had, or before any was seen
 * (the first checkpoint of a load is built while its first segments are
 * being written), a segment's bytes over the mean spilled key + value: an
 * underestimate by the compression ratio, enough to size the first
 * extension filter for a load. */
static uint64_t seg_items_guess(const flash_t *f)
{
    if (f->ck_seg_items_max > 0)
        return f->ck_seg_items_max;
    uint64_t n = atomic_load_explicit(&f->st.flash_items_written, memory_order_relaxed);
    uint64_t b = atomic_load_explicit(&f->st.flash_bytes_logical, memory_order_relaxed);
    return n > 0 && b > 0 ? f->segsize / (b / n + 1) : 0;
}

/* Ends a build: writes the map into a slot of its own and, unless a
 * change spoiled it, publishes it in the state record. True: published. */
static bool build_publish(flash_t *f, flash_status_e st)
{
    map_build_t *mb = &f->ck_mb;
    bloom_t *b = atomic_load(&f->ck_build);
    f->ck_building = false;
    if (st == FLASH_OK)
        st = flash_map_finish(f, mb);
    else
        flash_map_abort(mb);
    flash_persist_state_t ram = {0};
    if (f->s.ram_state)
        f->s.ram_state(f->s.ram_state_ctx, &ram);
    uint32_t seg = 0, gen = 0;
    uint64_t seq = 0;
    if (st == FLASH_OK && mb->alloc + FLASH_IO_ALIGN > f->segsize) {
        if (!f->ck_too_big_logged)
            flash_log(f, "%s: crash checkpoint of %llu bytes does not fit a segment: none "
                      "taken (a crash then loses the flash contents)", f->path,
                      (unsigned long long)mb->len);
        f->ck_too_big_logged = true;
        st = FLASH_EFULL;
    }
    if (st == FLASH_OK && atomic_load(&f->ck_dirty))
        st = FLASH_MISS;
    if (st == FLASH_OK)
        st = flash_writer_alloc_slot(f, &seg, &gen, &seq);
    uint8_t *buf = NULL;
    char err[256];
    if (st == FLASH_OK) {
        buf = device_buf_alloc((size_t)(FLASH_IO_ALIGN + mb->alloc));
        if (!buf)
            st = FLASH_ENOMEM;
    }
    if (st == FLASH_OK) {
        memset(buf, 0, FLASH_IO_ALIGN);
        slot_header(f, seg, gen, seq, buf);
        memcpy(buf + FLASH_IO_ALIGN, mb->buf, (size_t)mb->alloc);
        if (devset_pwrite(f->set, buf, (size_t)(FLASH_IO_ALIGN + mb->alloc),
                          flash_seg_dev_off(f, seg), err, sizeof err) != DEVICE_OK) {
            FSTAT_ADD(f, flash_write_errors, 1);
            flash_log(f, "%s: crash checkpoint: %s", f->path, err);
            st = FLASH_EIO;
        } else {
            FSTAT_ADD(f, flash_bytes_written, FLASH_IO_ALIGN + mb->alloc);
            st = flash_sync(f, err, sizeof err);
        }
    }
    device_buf_free(buf);
    f->ck_last_ms = flash_mono_ms();
    f->ck_last_seq = f->next_seq;
    if (st != FLASH_OK || atomic_load(&f->ck_dirty)) {
        end_build(f);
        if (st == FLASH_OK || st == FLASH_MISS)
            FSTAT_ADD(f, flash_checkpoints_dirty, 1);
        device_buf_free(mb->buf);
        mb->buf = NULL;
        pthread_mutex_lock(&f->ck_lock);
        retire(f, b);
        pthread_mutex_unlock(&f->ck_lock);
        return false;
    }
    index_stats_t is;
    index_stats(f->idx, &is);
    /* room for half the checkpoint's keys, FLASH_CK_EXT_SEGS of the
     * fullest segments seen, or as many as the free segments hold at that
     * fill, whichever is more (at most the index's capacity): once used,
     * the next checkpoint is due at once. Why the free segments: a load
     * fills them in seconds; with room for half the keys it rebuilt the
     * checkpoint 4 times during one 406k-key load, each new filter full
     * at once (false positives: a journal write per set of a new key) -
     * 278-293k keys/s against 307-320k with room to spare (issue 14 item
     * 3). The filter costs 2 bytes per key of room, within the budget's
     * three filters of full capacity (memory.c). */
    uint64_t room = is.items / 2;
    uint64_t fill = (uint64_t)(f->nseg - f->nring) * seg_items_guess(f);
    if (room < fill)
        room = fill;
    if (room < (uint64_t)FLASH_CK_EXT_SEGS * f->ck_seg_items_max)
        room = (uint64_t)FLASH_CK_EXT_SEGS * f->ck_seg_items_max;
    if (room > is.capacity_max)
        room = is.capacity_max;
    if (room < FLASH_CK_EXT_MIN)
        room = FLASH_CK_EXT_MIN;
    bloom_t *x = bloom_create(room);
    flash_state_t s;
    flash_map_state(f, &s, FLASH_STATE_RUNNING, &ram, mb, seg, 1, seq);
    s.map_seq = seq;
    s.boot_tag = flash_boot_tag();
    device_buf_free(mb->buf);
    mb->buf = NULL;
    if (!f->ck_jpage)
        f->ck_jpage = device_buf_alloc(FLASH_JPAGE);
    pthread_mutex_lock(&f->ck_jlock);
    pthread_mutex_lock(&f->ck_lock);
    /* a flush since the build began, or too many removals: no. Else the
     * new journal starts with the removals of keys the build may keep,
     * written before the state record names it; the ones listed until the
     * build ends follow once it is published (ck_jlock held throughout:
     * no other entry comes between) */
    bool published = false, ok = !atomic_load(&f->ck_dirty) && f->ck_jpage;
    uint32_t n0 = 0;
    if (ok) {
        f->ck_jseq = seq;
        flash_journal_area(f, seg, s.map_len, &f->ck_joff, &f->ck_jpages);
        f->ck_jno = 0;
        f->ck_jfrom = 0;
        flash_jpage_init(f->ck_jpage, f->instance_id, seq, 0);
        pthread_mutex_lock(&f->ck_bklock);
        n0 = f->ck_nbkill;
        pthread_mutex_unlock(&f->ck_bklock);
        ok = f->ck_jpages > 0 && journal_kills(f, f->ck_bkill, n0);
        if (n0 > 0)
            s.flags |= FLASH_STATE_JOURNALED;
        ok = ok && flash_write_state(f, &s, err, sizeof err) == FLASH_OK;
        if (!ok) /* the old checkpoint's journal fields are gone */
            invalidate_locked(f);
    }
    if (ok) {
        f->ck_state = s;
        bloom_t *old = atomic_exchange(&f->ck_filter, b);
        retire(f, old);
        /* no extension filter (ENOMEM): this one keeps no later segment */
        f->ck_ext_room = x ? room : 0;
        old = atomic_exchange(&f->ck_ext, x);
        x = NULL;
        retire(f, old);
        atomic_store(&f->ck_valid, true);
        FSTAT_ADD(f, flash_checkpoints, 1);
        published = true;
    } else {
        retire(f, b);
    }
    pthread_mutex_unlock(&f->ck_lock);
    uint32_t n1 = end_build(f);
    if (published && n1 > n0 &&
        !(journal_open(f) && journal_kills(f, f->ck_bkill + n0, n1 - n0))) {
        pthread_mutex_lock(&f->ck_lock);
        invalidate_locked(f);
        pthread_mutex_unlock(&f->ck_lock);
        published = false;
    }
    pthread_mutex_unlock(&f->ck_jlock);
    bloom_destroy(&x);
    return published;
}

/* Ends a build; once published, the segments sealed meanwhile join it. */
static void build_end(flash_t *f, flash_status_e st)
{
    if (build_publish(f, st))
        extend_pending(f);
    f->ck_collect = false;
    f->ck_npend = 0;
}

void flash_ckpt_maybe(flash_t *f)
{
    if (f->s.checkpoint_ms == 0 || f->persisted)
        return;
    if (f->ck_building) {
        /* one segment's summary per call: the writer goes back to its
         * queue between them */
        flash_status_e st = flash_map_step(f, &f->ck_mb);
        if (st != FLASH_PENDING)
            build_end(f, st);
        return;
    }
    int64_t now = flash_mono_ms();
    /* ck_last_ms 0: none yet since the start, or one is wanted at once */
    if (f->ck_last_ms != 0 && now - f->ck_last_ms < (int64_t)f->s.checkpoint_ms)
        return;
    /* not while evictions wait in the queue (racy read: a hint) */
    if (__atomic_load_n(&f->qlen, __ATOMIC_RELAXED) > 0)
        return;
    index_stats_t is;
    index_stats(f->idx, &is);
    if (is.items == 0 || f->nring == 0) {
        /* nothing a crash could keep: no item, or none in a sealed
         * segment yet (a map holds sealed segments only). The first one
         * is taken as soon as there is; by then a sealed segment tells
         * how many keys the extension filter needs room for (build_publish:
         * one build for a whole load instead of one at the first key and
         * another once its 65,536 keys of room were used) */
        if (f->ck_last_ms != 0)
            f->ck_last_ms = now;
        return;
    }
    /* nothing new on the device and the last one still holds */
    if (f->next_seq == f->ck_last_seq && atomic_load(&f->ck_valid)) {
        f->ck_last_ms = now;
        return;
    }
    build_begin(f);
}
