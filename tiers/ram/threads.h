/*
 * tiers/ram/threads.h - the RAM tier's background threads.
 *
 * Maintainer: balances every class's HOT/WARM/COLD lists (memcached's
 * lru_maintainer_juggle, up to 500 moves per class per pass), grows the hash
 * table, and sleeps between 1 ms and 1 s depending on how much it did.
 * Slab automover (inside the maintainer, while ram.automove != 0): once a
 * second it samples every class (evictions + outofmemory, pages, free
 * chunks, age of the COLD tail) into a window of AUTOMOVE_WINDOW samples
 * (level 2: a window of 1) and moves at most one page (ram_slabs_reassign),
 * memcached 1.6's slab_automove.c with a 3 s window instead of 30 s:
 *  - a class with more than 2.5 pages of free chunks and no evictions or
 *    page changes in the window gives a page to the global pool;
 *  - else the class with the youngest average age that evicted in more
 *    than half of the window (and this second) gets a page from the class
 *    with the oldest average age and more than 2 pages, if youngest age <
 *    slab_automove_ratio (0.8, `slabs automove ratio`) x oldest age.
 * Memory limit (cache_memlimit): after the limit was set, each pass frees
 * pages for up to 50 ms (ram_mem_shrink) until total_malloced is within
 * it or every class is down to one page.
 * ext_item_age (with a flash tier): every 100 ms, or every pass while the
 * last one moved items, each class's idle items go to flash
 * (ram_age_spill, up to 500 per class per pass).
 * Crawler: walks the hash table a batch of buckets at a time (pausing
 * crawler_sleep_us between batches, 1 s between passes) and frees expired
 * and flushed items (crawler_reclaimed, crawler_items_checked).
 *
 * Lock order: ram_threads_t.lock is only held around the stop flag and the
 * condition wait, never together with a tier lock.
 */
#ifndef TIERCACHE_RAM_THREADS_H
#define TIERCACHE_RAM_THREADS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ram.h"

#define AUTOMOVE_WINDOW 3

typedef struct automove_sample {
    bool evicted, dirty, excess_free;
    uint32_t age;
} automove_sample_t;

/* The automover's memory; the maintainer thread's only. */
typedef struct automove {
    int64_t last_ms;
    unsigned cur; /* samples taken */
    uint64_t evicted[SLAB_CLASS_MAX];
    uint64_t pages[SLAB_CLASS_MAX];
    automove_sample_t win[SLAB_CLASS_MAX][AUTOMOVE_WINDOW];
} automove_t;

/* One automove decision from samples taken now (exposed for the unit
 * tests; the maintainer calls it once a second while automove is on).
 * Returns the ram_slabs_reassign() result, or RAM_MOVE_SAME when nothing
 * was to be moved (*src and *dst: the pair chosen, else -1). */
ram_move_e ram_automove_step(ram_t *r, automove_t *a, int *src, int *dst);

typedef struct ram_threads {
    ram_t *ram;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;              /* [lock] */
    bool maint_started, crawl_started;
    pthread_t maint, crawl;
    automove_t am;          /* maintainer only */
    int64_t age_last_ms;    /* maintainer only: last ext_item_age pass */
    bool age_busy;          /* maintainer only: it moved items */
} ram_threads_t;

/* Starts the threads enabled in r->set. false if a thread could not start
 * (those started are stopped again). */
bool ram_threads_start(ram_threads_t *t, ram_t *r);
/* Stops and joins the threads. Idempotent. */
void ram_threads_stop(ram_threads_t *t);

#endif /* TIERCACHE_RAM_THREADS_H */
