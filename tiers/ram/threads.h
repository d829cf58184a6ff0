/*
 * tiers/ram/threads.h - the RAM tier's background threads.
 *
 * Maintainer: balances every class's HOT/WARM/COLD lists (memcached's
 * lru_maintainer_juggle, up to 500 moves per class per pass), grows the hash
 * table, and sleeps between 1 ms and 1 s depending on how much it did.
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

#include "ram.h"

typedef struct ram_threads {
    ram_t *ram;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;              /* [lock] */
    bool maint_started, crawl_started;
    pthread_t maint, crawl;
} ram_threads_t;

/* Starts the threads enabled in r->set. false if a thread could not start
 * (those started are stopped again). */
bool ram_threads_start(ram_threads_t *t, ram_t *r);
/* Stops and joins the threads. Idempotent. */
void ram_threads_stop(ram_threads_t *t);

#endif /* TIERCACHE_RAM_THREADS_H */
