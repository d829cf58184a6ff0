/*
 * tiers/cache_int.h - the door's own types, shared by its files (cache.c:
 * life cycle; engine.c: requests; cache_stats.c: stats assembly). Not for the
 * server: cache.h is the door.
 *
 * Lock order: cache_t.wlock (worker list, retired and reset baselines) is
 * taken before any tier lock (stats walk LRU locks while holding it) and
 * never while holding one.
 */
#ifndef TIERCACHE_CACHE_INT_H
#define TIERCACHE_CACHE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "cache.h"
#include "ram/ram.h"
#include "ram/threads.h"
#include "policy.h"

struct cache_worker {
    cache_t *c;
    struct cache_worker *next; /* [c->wlock] */
    struct cache_worker *prev; /* [c->wlock] */
    ram_wstats_t st;           /* written by the owning thread only */
    tier_worker_t *tw;         /* the request engine (engine.c) */
};

struct cache {
    ram_t ram;
    ram_threads_t threads;
    pthread_mutex_t wlock;
    cache_worker_t *workers; /* [wlock] */
    ram_wsum_t retired;      /* [wlock] counters of destroyed workers */
    ram_wsum_t base;         /* [wlock] sums at the last stats reset */
    tier_t *tier;            /* the tier policy (policy.h) */
    bool unstarted;          /* cache_destroy_unstarted */
    atomic_bool graceful;    /* cache_set_graceful_stop() was called */
};

#endif /* TIERCACHE_CACHE_INT_H */
