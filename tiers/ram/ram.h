/*
 * tiers/ram/ram.h - the RAM tier: slabs + hash + segmented LRU + clock.
 *
 * A ram_t is embedded in the cache_t; every function takes it explicitly
 * (no globals). Workers pass their own ram_wstats_t, written only by that
 * worker (see wstat_inc) and read by stats snapshots.
 *
 * Lock order (whole tier):
 *     hash stripe lock -> lru_class_t.lock -> slabclass_t.lock -> slabs pool_lock
 * Code holding an LRU lock only trylocks stripes. hash_expand() takes all
 * stripes holding nothing else. The maintainer/crawler state lock
 * (ram_threads_t.lock) is never held together with any of these.
 */
#ifndef TIERCACHE_RAM_RAM_H
#define TIERCACHE_RAM_RAM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../cache.h"
#include "hash.h"
#include "item.h"
#include "lru.h"
#include "slabs.h"

/* Per-class counters kept by workers (`stats slabs` and hits_to_*). */
#define RAM_WCLASS_FIELDS(X)                                                  \
    X(hits_hot) X(hits_warm) X(hits_cold) X(hits_temp) X(set_cmds)            \
    X(delete_hits) X(incr_hits) X(decr_hits) X(cas_hits) X(cas_badval)        \
    X(touch_hits)

typedef struct ram_wclass {
#define RAM_WDECL(n) _Atomic uint64_t n;
    RAM_WCLASS_FIELDS(RAM_WDECL)
#undef RAM_WDECL
} ram_wclass_t;

/*
 * One worker's counters. Single writer (the worker); readers sum them with
 * relaxed loads. Increments are a relaxed load + relaxed store (plain
 * mov/add/mov on x86-64, no lock prefix): no torn values, and a snapshot
 * may be a few increments stale.
 */
typedef struct ram_wstats {
#define RAM_WSDECL(name, desc) _Atomic uint64_t name;
    CACHE_STATS_FIELDS(RAM_WSDECL)
#undef RAM_WSDECL
    ram_wclass_t cls[SLAB_CLASS_MAX];
} ram_wstats_t;

/* Plain copy of the same shape, for sums and the reset baseline. */
typedef struct ram_wclass_sum {
#define RAM_WSUMC(n) uint64_t n;
    RAM_WCLASS_FIELDS(RAM_WSUMC)
#undef RAM_WSUMC
} ram_wclass_sum_t;

typedef struct ram_wsum {
    cache_stats_t g;
    ram_wclass_sum_t cls[SLAB_CLASS_MAX];
} ram_wsum_t;

static inline void wstat_add(_Atomic uint64_t *p, uint64_t n)
{
    atomic_store_explicit(p, atomic_load_explicit(p, memory_order_relaxed) + n,
                          memory_order_relaxed);
}
#define WSTAT_INC(ws, field) wstat_add(&(ws)->field, 1)
#define WCSTAT_INC(ws, id, field) wstat_add(&(ws)->cls[(id)].field, 1)

/* Adds the counters of *ws into *sum. */
void ram_wstats_sum(const ram_wstats_t *ws, ram_wsum_t *sum);

typedef struct ram {
    cache_settings_t set;
    slabs_t slabs;
    hash_t hash;
    lru_class_t lru[SLAB_CLASS_MAX];
    int64_t started;          /* memcached's process_started (unix) */
    struct timespec mono0;    /* real clock anchor */
    int64_t unix0;
    _Atomic uint64_t cas_id;  /* last cas unique given */
    _Atomic uint32_t oldest_live; /* flush_all: clock time, 0 = none */
    _Atomic uint64_t oldest_cas;
    _Atomic uint64_t lru_maintainer_juggles;
    _Atomic uint64_t lru_crawler_starts;
    _Atomic uint64_t lru_bumps_dropped;
    _Atomic uint64_t crawler_running;
    ram_wstats_t bg;          /* counters of background threads */
} ram_t;

/* Sets up a ram_t from settings (copied). CACHE_EINVAL / CACHE_NO_MEMORY. */
cache_status_e ram_init(ram_t *r, const cache_settings_t *s);
/* Frees every item and page. No reference may be outstanding. */
void ram_teardown(ram_t *r);

/* ---- clock (clock.c) ---- */
/* Unix seconds now, from the override or the anchored monotonic clock. */
int64_t ram_unix_now(const ram_t *r);
/* Cache clock as rel_time_t (unix seconds, clamped to 2..2^32-2). */
rel_time_t ram_now(const ram_t *r);
/* memcached's realtime(): raw protocol exptime -> item exptime (unix),
 * 0 = never, 1 = already expired. */
rel_time_t ram_realtime(const ram_t *r, int64_t exptime);

/* ---- items (items.c) ---- */

/* memcached's item_is_flushed() against now. */
bool ram_item_is_flushed(const ram_t *r, const item_t *it, rel_time_t now);

/* Allocates an unlinked item (refcount 1) with key, flags and exptime set,
 * evicting if needed. NULL with *st = CACHE_TOO_LARGE / CACHE_NO_MEMORY. */
item_t *ram_item_alloc(ram_t *r, ram_wstats_t *ws, const char *key, size_t nkey,
                       uint32_t flags, rel_time_t exptime, size_t nbytes,
                       cache_status_e *st);

/* Drops a reference; frees the item at 0. */
void ram_item_release(ram_t *r, item_t *it);

typedef enum ram_get_mode { RAM_GET, RAM_GAT, RAM_TOUCH } ram_get_mode_e;
/* get / gat / touch with memcached's counting; *out referenced unless
 * mode is RAM_TOUCH (then out may be NULL). */
cache_status_e ram_get(ram_t *r, ram_wstats_t *ws, const char *key, size_t nkey,
                       ram_get_mode_e mode, rel_time_t exptime, item_t **out);

cache_status_e ram_store(ram_t *r, ram_wstats_t *ws, item_t *it, cache_store_op_e op,
                         uint64_t cas_in, uint64_t *cas_out);
/* delete; counts delete_hits/misses only if `count` (cache_unlink: not). */
cache_status_e ram_delete(ram_t *r, ram_wstats_t *ws, const char *key, size_t nkey,
                          bool count);
cache_status_e ram_arith(ram_t *r, ram_wstats_t *ws, const char *key, size_t nkey,
                         bool incr, uint64_t delta, uint64_t *value_out,
                         uint64_t *cas_out);
void ram_flush_all(ram_t *r, int64_t exptime);

/* memcached's safe_strtoull() over a non-terminated value. */
bool ram_parse_u64(const char *p, size_t n, uint64_t *out);

/* One juggle of a class (HOT/WARM/COLD balancing, up to `max` moves);
 * returns moves done. */
unsigned ram_lru_juggle(ram_t *r, unsigned cls, unsigned max);

/* Crawler: checks one item under its stripe lock; unlinks it when expired
 * or flushed. For hash_walk_step(); ctx is the ram_t. */
bool ram_crawl_item(void *ctx, item_t *it, uint64_t hv);

/* Grows the hash table if needed (takes all stripes). */
void ram_maybe_expand(ram_t *r);

#endif /* TIERCACHE_RAM_RAM_H */
