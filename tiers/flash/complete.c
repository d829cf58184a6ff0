/*
 * tiers/flash/complete.c - due written_fn callbacks (contract: flash.h
 * flash_complete; internals: flash_int.h).
 *
 * Why: a written_fn call lets the cache free an evicted item's memory
 * (ram_spill_done: stripe lock, unlink, free, wake memory waiters). Run on
 * the writer thread, per item, it took ~30% of the writer's time and each
 * wakeup preempted the writer on a 2-core machine (perf: 24k context
 * switches/s during a load). Now the writer only lists the call; a worker
 * that needs memory runs a chunk of them itself (flash_complete), the
 * writer runs them only when idle, when the list is full, or when an item
 * whose hash has a listed call must be indexed (below).
 *
 * Order: callbacks run one thread at a time (c_lock) in list order, the
 * order the writer finished the items. Same-key rule: an item's written_fn
 * may remove every index entry of its hash (a superseded or touched copy);
 * so it must run BEFORE a later item of that hash is indexed, or it would
 * remove the newer copy's entry. d_hcount counts listed-or-running calls
 * per hash slot; the writer checks it before each index insert and, on a
 * hit, runs the whole list first (flash_done_hash_due + flash_complete).
 * A slot's count drops only after its callback returned. The writer
 * holds up to FLASH_DONE_HOLD entries before listing them in one d_lock
 * section (flash_done_hold / flash_done_flush: the per-item lock and its
 * contention with waiting workers was ~5% of a load's server CPU); held
 * entries count as due for the same-hash rule, and the count is read
 * without the lock (only the writer raises it: a stale count is too high).
 *
 * Lock order: c_lock (outermost: held across callbacks, which take the
 * cache's stripe lock and flash locks) -> d_lock (leaf). No globals.
 */
#include "flash/flash_int.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

static inline unsigned hslot(uint64_t hash)
{
    return (unsigned)(hash ^ (hash >> 29)) % FLASH_DONE_HSLOTS;
}

bool flash_done_init(flash_t *f, unsigned cap)
{
    f->dcap = cap ? cap : 1;
    f->done = calloc(f->dcap, sizeof *f->done);
    f->d_hcount = calloc(FLASH_DONE_HSLOTS, sizeof *f->d_hcount);
    return f->done && f->d_hcount;
}

void flash_done_free(flash_t *f)
{
    free(f->done);
    free(f->d_hcount);
    f->done = NULL;
    f->d_hcount = NULL;
}

unsigned flash_complete(flash_t *f, unsigned max)
{
    flash_done_t run[FLASH_DONE_CHUNK];
    unsigned n = 0;
    pthread_mutex_lock(&f->c_lock);
    while (n < max) {
        unsigned k = max - n < FLASH_DONE_CHUNK ? max - n : FLASH_DONE_CHUNK;
        pthread_mutex_lock(&f->d_lock);
        if (k > f->dlen)
            k = f->dlen;
        for (unsigned i = 0; i < k; i++) {
            run[i] = f->done[f->dhead];
            f->dhead = (f->dhead + 1) % f->dcap;
        }
        f->dlen -= k;
        pthread_mutex_unlock(&f->d_lock);
        if (k == 0)
            break;
        for (unsigned i = 0; i < k; i++)
            f->s.written(f->s.written_ctx, run[i].token, run[i].st);
        pthread_mutex_lock(&f->d_lock);
        for (unsigned i = 0; i < k; i++)
            atomic_fetch_sub_explicit(&f->d_hcount[hslot(run[i].hash)], 1,
                                      memory_order_relaxed);
        /* the callbacks freed memory: whoever waits for some looks again */
        if (f->d_waiters > 0)
            pthread_cond_broadcast(&f->d_cond);
        pthread_mutex_unlock(&f->d_lock);
        n += k;
    }
    pthread_mutex_unlock(&f->c_lock);
    return n;
}

bool flash_complete_wait(flash_t *f, unsigned timeout_ms)
{
    pthread_mutex_lock(&f->d_lock);
    if (f->dlen == 0 && timeout_ms > 0) {
        struct timespec ts = flash_deadline_ms(timeout_ms);
        f->d_waits++; /* a client waits for the writer (ingest.c) */
        f->d_waiters++;
        pthread_cond_timedwait(&f->d_cond, &f->d_lock, &ts);
        f->d_waiters--;
    }
    bool due = f->dlen > 0;
    pthread_mutex_unlock(&f->d_lock);
    return due;
}

/* Lists entries e[0..n) in order under one d_lock section per run; when
 * the list is full, runs a chunk itself (nobody is taking them). Wakes the
 * threads in flash_complete_wait. */
static void list_entries(flash_t *f, const flash_done_t *e, unsigned n, bool wake)
{
    unsigned i = 0;
    for (;;) {
        pthread_mutex_lock(&f->d_lock);
        for (; i < n && f->dlen < f->dcap; i++) {
            f->done[(f->dhead + f->dlen) % f->dcap] = e[i];
            f->dlen++;
            atomic_fetch_add_explicit(&f->d_hcount[hslot(e[i].hash)], 1,
                                      memory_order_relaxed);
        }
        if (wake && f->d_waiters > 0 && f->dlen > 0)
            pthread_cond_broadcast(&f->d_cond);
        pthread_mutex_unlock(&f->d_lock);
        if (i == n)
            return;
        flash_complete(f, FLASH_DONE_CHUNK);
    }
}

static void flush_held(flash_t *f, bool wake)
{
    if (f->nheld == 0)
        return;
    unsigned n = f->nheld;
    f->nheld = 0; /* flash_complete below (list full) must not see them */
    list_entries(f, f->held, n, wake);
}

void flash_done_flush(flash_t *f)
{
    flush_held(f, true);
}

void flash_done_push(flash_t *f, void *token, uint64_t hash, flash_status_e st)
{
    flush_held(f, false);
    flash_done_t d = {.token = token, .hash = hash, .st = st};
    list_entries(f, &d, 1, true);
}

void flash_done_hold(flash_t *f, void *token, uint64_t hash, flash_status_e st)
{
    if (f->nheld == FLASH_DONE_HOLD)
        flush_held(f, false);
    f->held[f->nheld++] = (flash_done_t){.token = token, .hash = hash, .st = st};
}

bool flash_done_hash_due(flash_t *f, uint64_t hash)
{
    unsigned h = hslot(hash);
    for (unsigned i = 0; i < f->nheld; i++)
        if (hslot(f->held[i].hash) == h)
            return true;
    return atomic_load_explicit(&f->d_hcount[h], memory_order_relaxed) > 0;
}

void flash_done_signal(flash_t *f)
{
    pthread_mutex_lock(&f->d_lock);
    if (f->d_waiters > 0 && f->dlen > 0)
        pthread_cond_broadcast(&f->d_cond);
    pthread_mutex_unlock(&f->d_lock);
}

uint64_t flash_done_waits(flash_t *f)
{
    pthread_mutex_lock(&f->d_lock);
    uint64_t n = f->d_waits;
    pthread_mutex_unlock(&f->d_lock);
    return n;
}

unsigned flash_done_len(flash_t *f)
{
    pthread_mutex_lock(&f->d_lock);
    unsigned n = f->dlen;
    pthread_mutex_unlock(&f->d_lock);
    return n;
}
