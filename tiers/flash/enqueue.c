/*
 * tiers/flash/enqueue.c - the producer side of the writer's queue:
 * admission, enqueue with the stall bound, removes (and the tombstones
 * they queue) and the flush time. The writer thread (writer.c) is the
 * consumer. Contract: flash.h; queue and locks: flash_int.h.
 *
 * Lock order: rm_lock[stripe] and seg_lock are each taken alone here;
 * q_lock is a leaf.
 */
#include "flash/flash_int.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* ---- write path ---- */

flash_status_e flash_admit(const flash_t *f, size_t nkey, size_t nbytes, int64_t exptime)
{
    if (nbytes > UINT32_MAX || flash_seg_admit(f->segsize, nkey, (uint32_t)nbytes) != FLASH_SEG_OK)
        return FLASH_EADMIT;
    if (nkey + nbytes < f->s.min_item_size)
        return FLASH_EADMIT;
    if (exptime != 0 && exptime - flash_now(f) < (int64_t)f->s.min_ttl)
        return FLASH_EADMIT;
    return FLASH_OK;
}

struct timespec flash_deadline_ms(unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static void do_push(flash_t *f, const flash_wr_item_t *it, bool tomb)
{
    wr_qent_t *e = &f->q[(f->qhead + f->qlen) % f->qcap];
    e->it = *it;
    e->tomb = tomb;
    f->qlen++;
    pthread_cond_signal(&f->q_nonempty);
}

flash_status_e flash_enqueue_persist(flash_t *f, const flash_wr_item_t *it)
{
    if (flash_admit(f, it->nkey, it->nbytes, it->exptime) != FLASH_OK)
        return FLASH_EADMIT;
    if (flash_mono_ms() < atomic_load_explicit(&f->fail_until_ms, memory_order_relaxed))
        return FLASH_EIO;
    flash_wr_item_t t = *it;
    t.token = NULL; /* no written_fn */
    pthread_mutex_lock(&f->q_lock);
    while (f->qlen == f->qcap && !f->stop)
        pthread_cond_wait(&f->q_nonfull, &f->q_lock);
    if (f->stop) {
        pthread_mutex_unlock(&f->q_lock);
        return FLASH_EFULL;
    }
    do_push(f, &t, false);
    pthread_mutex_unlock(&f->q_lock);
    return FLASH_OK;
}

flash_status_e flash_enqueue(flash_t *f, const flash_wr_item_t *it)
{
    return flash_enqueue_wait(f, it, f->s.stall_ms);
}

flash_status_e flash_enqueue_wait(flash_t *f, const flash_wr_item_t *it, unsigned wait_ms)
{
    if (flash_admit(f, it->nkey, it->nbytes, it->exptime) != FLASH_OK) {
        FSTAT_ADD(f, flash_drops_admission, 1);
        return FLASH_EADMIT;
    }
    if (flash_mono_ms() < atomic_load_explicit(&f->fail_until_ms, memory_order_relaxed)) {
        FSTAT_ADD(f, flash_drops_io, 1);
        return FLASH_EIO;
    }
    pthread_mutex_lock(&f->q_lock);
    if (f->qlen == f->qcap && !f->stop) {
        FSTAT_ADD(f, flash_queue_stalls, 1);
        struct timespec dl = flash_deadline_ms(wait_ms);
        while (f->qlen == f->qcap && !f->stop) {
            if (pthread_cond_timedwait(&f->q_nonfull, &f->q_lock, &dl) == ETIMEDOUT)
                break;
        }
    }
    if (f->qlen == f->qcap || f->stop) {
        pthread_mutex_unlock(&f->q_lock);
        FSTAT_ADD(f, flash_drops_stall, 1);
        return FLASH_EFULL;
    }
    do_push(f, it, false);
    pthread_mutex_unlock(&f->q_lock);
    return FLASH_OK;
}

static void remove_entries(flash_t *f, uint64_t hash, bool changed);

void flash_remove(flash_t *f, uint64_t hash)
{
    remove_entries(f, hash, true);
}

void flash_forget(flash_t *f, uint64_t hash)
{
    remove_entries(f, hash, false);
}

/* flash_remove (changed: the key's value changed) or flash_forget. */
static void remove_entries(flash_t *f, uint64_t hash, bool changed)
{
    pthread_mutex_t *m = &f->rm_lock[flash_rm_stripe(hash)];
    index_loc_t locs[INDEX_MAX_MATCHES];
    pthread_mutex_lock(m);
    unsigned n = index_remove_locs(f->idx, hash, locs);
    atomic_fetch_add_explicit(&f->epoch[flash_epoch_slot(hash)], 1, memory_order_release);
    pthread_mutex_unlock(m);
    if (changed)
        flash_ckpt_note_remove(f, hash);
    if (n == 0)
        return;
    /* At most one of the n slots is the key's own copy, and the index cannot
     * tell which (same tag, same buckets): the key may never have been on
     * flash (a brand-new key), or this may be its copy. The writer reads
     * the removed blocks (count_collateral) and counts every other key's
     * entry; a tombstone that does not fit in the queue counts n - 1, the
     * least it can be. The tombstone itself is for a replay-only reader
     * (format.h); this never waits, and never takes the last queue slot
     * from an item. */
    wr_qent_t t;
    memset(&t, 0, sizeof t);
    t.it.hash = hash;
    t.tomb = true;
    t.nrm = (uint8_t)(n < 255 ? n : 255);
    pthread_mutex_lock(&f->seg_lock);
    for (unsigned i = 0; i < n && i < FLASH_RM_VERIFY; i++) {
        t.rm[i] = locs[i];
        t.rm_gen[i] = locs[i].segment < f->nseg ? f->segs[locs[i].segment].gen : 0;
    }
    pthread_mutex_unlock(&f->seg_lock);
    bool queued = false;
    pthread_mutex_lock(&f->q_lock);
    if (!f->stop && f->qlen + 1 < f->qcap) {
        f->q[(f->qhead + f->qlen) % f->qcap] = t;
        f->qlen++;
        pthread_cond_signal(&f->q_nonempty);
        queued = true;
    }
    pthread_mutex_unlock(&f->q_lock);
    if (!queued && n > 1)
        FSTAT_ADD(f, flash_index_collateral, n - 1);
}

void flash_set_flush(flash_t *f, int64_t oldest_live)
{
    atomic_store_explicit(&f->flush_oldest_live, oldest_live, memory_order_relaxed);
}
