/*
 * tiers/ram/ram.h - the RAM tier: slabs + hash + segmented LRU + clock.
 *
 * A ram_t is embedded in the cache_t; every function takes it explicitly
 * (no globals). Workers pass their own ram_wstats_t, written only by that
 * worker (see wstat_inc) and read by stats snapshots.
 *
 * Lock order (whole tier):
 *     slabs move_lock -> hash stripe lock -> lru_class_t.lock ->
 *     slabclass_t.lock -> slabs pool_lock
 * Code holding an LRU lock only trylocks stripes; the page mover holding a
 * class lock only trylocks stripes too (slabs.h). hash_expand() takes all
 * stripes holding nothing else. The maintainer/crawler state lock
 * (ram_threads_t.lock) is never held together with any of these.
 */
#ifndef TIERCACHE_RAM_RAM_H
#define TIERCACHE_RAM_RAM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../tier_types.h"
#include "hash.h"
#include "item.h"
#include "lru.h"
#include "ram_settings.h"
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

/* The worker counters (tier_types.h CACHE_STATS_FIELDS) as plain sums. */
typedef struct ram_gsum {
#define RAM_GSUM(name, desc) uint64_t name;
    CACHE_STATS_FIELDS(RAM_GSUM)
#undef RAM_GSUM
} ram_gsum_t;

typedef struct ram_wsum {
    ram_gsum_t g;
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

/*
 * ---- the lower tier (the door's policy sets the hooks) ----------------
 *
 * The RAM engine knows no flash: it offers a lower tier its victims and
 * keeps, for each item, the token of the lower-tier copy it came from.
 * With a lower tier attached (ram_lower_attach), an item evicted from
 * COLD's tail (or offered by an idle pass, or by a page move) is shown to
 * hooks.victim, which answers:
 *   RAM_SPILL_DROP:   evict it, nothing handed over;
 *   RAM_SPILL_BELOW:  the lower tier still has this very copy (an
 *                     unmodified item installed from it): unlinked, no write;
 *   RAM_SPILL_QUEUE:  made PENDING: it stays linked in the hash table
 *                     (still a RAM hit), leaves its LRU list (lru bits =
 *                     LRU_PENDING), keeps one extra reference for the lower
 *                     tier, and is chained through it->next into the
 *                     caller's `spill` list, which the caller hands to the
 *                     lower tier after dropping every RAM lock;
 *   RAM_SPILL_LEAVE:  left where it is (an idle pass: not wanted below);
 *   RAM_SPILL_BEHIND: left where it is, and the lower tier is behind: the
 *                     allocator waits for it (CACHE_PENDING) and an idle
 *                     pass stops.
 * ram_spill_done() is called once per pending item when the lower tier
 * has it (or dropped it):
 *   - still the current item of its key: unlinked (its lower copy is now
 *     findable), unless it was touched meanwhile ("dirty", it->prev == it):
 *     then it goes back to COLD and its stale lower copy is removed;
 *   - superseded (set/delete/expiry unlinked it while pending): its "ghost"
 *     count is dropped and the lower copy just written is removed.
 * Ghosts: while a superseded pending item is in the lower tier's hands,
 * the lower tier may index its OLD value. ghost[hv & mask] counts such
 * items (under the key's stripe lock: the mask covers the stripe bits),
 * and a read result of a key with a ghost is refused (ram_install: a
 * miss, never a stale value).
 * Installed copies: an item installed from the lower tier keeps the
 * token (`loc`) of its copy there in 8 bytes after its value (when its
 * chunk has room); any change of the key clears it. Every change of a key
 * (store, delete, arith, touch of an installed copy, install-remove)
 * calls hooks.changed(hv) under the stripe lock, which removes the key's
 * lower copies.
 */
typedef enum ram_spill {
    RAM_SPILL_DROP = 0,
    RAM_SPILL_BELOW,
    RAM_SPILL_QUEUE,
    RAM_SPILL_LEAVE,
    RAM_SPILL_BEHIND,
} ram_spill_e;

/* What hooks.victim is shown (stripe and LRU lock held). */
typedef struct ram_victim {
    const item_t *it;
    uint64_t hv;
    uint64_t loc;        /* token of the lower copy it was installed from, 0 */
    uint64_t pending;    /* items of its class in the lower tier's hands */
    uint64_t linked;     /* items linked in its class's LRU lists */
    bool idle;           /* an idle pass (ram_age_spill), no memory pressure */
    bool nospill;        /* the allocator's wait ran out (RAM_F_NOSPILL):
                            the answer is ignored, the item is dropped */
} ram_victim_t;

typedef struct ram_lower_hooks {
    void *ctx;
    /* An eviction candidate: what to do with it (above). With v->nospill
     * the item is dropped whatever the answer (the hook may count it). */
    ram_spill_e (*victim)(void *ctx, const ram_victim_t *v);
    /* The key of hv changed: drop its lower copies. Stripe lock held. */
    void (*changed)(void *ctx, uint64_t hv);
    /* The key of hv moved to RAM unchanged (an install that cannot keep
     * its token): drop its lower copies, which still hold its value.
     * Stripe lock held. */
    void (*moved)(void *ctx, uint64_t hv);
    /* Is the lower copy at `loc` of hv still current? Stripe lock held. */
    bool (*current)(void *ctx, uint64_t hv, uint64_t loc);
    /* Hands a list of items made pending (chained through ->next) to the
     * lower tier; no tier lock held (the page mover and the idle pass). */
    void (*enqueue)(void *ctx, item_t *list);
} ram_lower_hooks_t;

#define RAM_GHOST_BITS 16

typedef struct ram {
    ram_settings_t set;
    bool low_on;              /* hooks set (ram_lower_attach) */
    ram_lower_hooks_t low;
    uint32_t *ghost;          /* [stripe of hv] 1 << RAM_GHOST_BITS counts */
    _Atomic uint64_t pending; /* items in the lower tier's hands */
    _Atomic uint32_t pending_cls[SLAB_CLASS_MAX];
    pthread_mutex_t spill_lock;
    pthread_cond_t spill_cond; /* a pending item was done */
    _Atomic uint64_t spill_seq; /* pending items done (changed under
                                   spill_lock, read without it) */
    slabs_t slabs;
    hash_t hash;
    lru_class_t lru[SLAB_CLASS_MAX];
    int64_t started;          /* memcached's process_started (unix) */
    struct timespec mono0;    /* real clock anchor */
    int64_t unix0;
    _Atomic uint64_t cas_id;  /* last cas unique given */
    _Atomic uint32_t oldest_live; /* flush_all: clock time, 0 = none */
    _Atomic uint64_t oldest_cas;
    /* lru_ghost (ram_settings.h): fingerprints of keys evicted from RAM,
     * slot hv & evghost_mask; NULL when off. Relaxed atomics: a lost
     * update only costs a WARM admission. */
    _Atomic uint16_t *evghost;
    uint64_t evghost_mask;
    _Atomic uint64_t lru_maintainer_juggles;
    _Atomic uint64_t lru_crawler_starts;
    _Atomic uint64_t lru_bumps_dropped;
    _Atomic uint64_t crawler_running;
    /* The crawler's schedule: the earliest clock time at which a pass can
     * reclaim something (the smallest exptime of a linked item, or a
     * flush_all's time), RAM_CRAWL_NONE when none is known. Stores, touches
     * and flushes lower it (ram_crawl_note); a pass resets it, then lowers
     * it to the smallest exptime it left behind (crawl_pass_min, touched by
     * the crawler thread only). A workload without TTLs never pays for a
     * pass, except the safety pass every CRAWL_MAX_IDLE_S (threads.c). */
    _Atomic uint32_t crawl_due;
    rel_time_t crawl_pass_min;
    _Atomic unsigned automove;     /* slab_automove level */
    _Atomic uint64_t automove_ratio; /* slab_automove_ratio, double bits */
    ram_wstats_t bg;          /* counters of background threads */
    _Atomic uint64_t pages_released; /* pages freed by a shrink */
    _Atomic uint64_t limit_seq;      /* ram_mem_limit_set calls */
    _Atomic uint64_t shrunk_seq;     /* limit_seq a shrink finished for */
    _Atomic uint64_t age_spills;     /* items ram_age_spill moved below */
} ram_t;

#define RAM_CRAWL_NONE UINT32_MAX

/* Lowers r->crawl_due to t (a clock time) if t is earlier. Lock-free. */
static inline void ram_crawl_note(ram_t *r, rel_time_t t)
{
    uint32_t cur = atomic_load_explicit(&r->crawl_due, memory_order_relaxed);
    while (t < cur && !atomic_compare_exchange_weak_explicit(
                          &r->crawl_due, &cur, t, memory_order_relaxed,
                          memory_order_relaxed))
        ;
}

/* Sets up a ram_t from settings (copied). CACHE_EINVAL / CACHE_NO_MEMORY. */
cache_status_e ram_init(ram_t *r, const ram_settings_t *s);
/* Frees every item and page. No reference may be outstanding. */
void ram_teardown(ram_t *r);

/* ---- clock (clock.c; the two below are inline: every request reads it) */
/* Unix seconds now, from the override or the anchored monotonic clock. */
static inline int64_t ram_unix_now(const ram_t *r)
{
    if (r->set.clock)
        return r->set.clock(r->set.clock_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return r->unix0 + (int64_t)(ts.tv_sec - r->mono0.tv_sec);
}
/* Cache clock as rel_time_t (unix seconds, clamped to 2..2^32-2). */
static inline rel_time_t ram_now(const ram_t *r)
{
    int64_t t = ram_unix_now(r);
    if (t < 2)
        return 2;
    if (t > (int64_t)UINT32_MAX - 1)
        return UINT32_MAX - 1;
    return (rel_time_t)t;
}
/* memcached's realtime(): raw protocol exptime -> item exptime (unix),
 * 0 = never, 1 = already expired. */
rel_time_t ram_realtime(const ram_t *r, int64_t exptime);

/* ---- items and commands (items.c, ops.c) ---- */

/* memcached's flush rule for a record stored at store_time with cas. */
static inline bool ram_record_is_flushed(const ram_t *r, rel_time_t store_time, uint64_t cas,
                                         rel_time_t now)
{
    rel_time_t ol = atomic_load_explicit(&r->oldest_live, memory_order_relaxed);
    if (ol == 0 || ol > now)
        return false;
    uint64_t ocas = atomic_load_explicit(&r->oldest_cas, memory_order_relaxed);
    return store_time <= ol || (ocas != 0 && cas != 0 && cas < ocas);
}

/* memcached's item_is_flushed() against now. */
static inline bool ram_item_is_flushed(const ram_t *r, const item_t *it, rel_time_t now)
{
    return ram_record_is_flushed(r, it->time, it->cas, now);
}

/* Flags of the operations below (0 = RAM only, as before). */
#define RAM_F_DEFER 0x1u /* a miss (needed item absent) returns CACHE_PENDING
                            counting nothing: the caller asks the lower tier first */
#define RAM_F_RERUN 0x2u /* a re-run after a lower-tier read: cmd_get/cmd_touch
                            and per-class set counts were already counted */
#define RAM_F_NOBUMP 0x8u /* ram_get: no LRU bump, FETCHED / ACTIVE and the
                            access time stay (memcached's DONT_UPDATE,
                            meta mg's u flag) */
#define RAM_F_NOSPILL 0x4u /* evictions drop (stall bound passed) */
#define RAM_F_LOWERDROP 0x10u /* ram_delete: the key's lower copies go even
                               * without a RAM item (the caller could not
                               * read them: a delete must not leave one) */

/* Allocates an unlinked item (refcount 1) with key, flags and exptime set,
 * evicting if needed. NULL with *st = CACHE_TOO_LARGE / CACHE_NO_MEMORY,
 * or (with a lower tier) CACHE_PENDING: no memory now, but items of this
 * class are in the lower tier's hands: wait (ram_spill_wait) and retry.
 * Items made pending are chained onto *spill (NULL: no spilling). */
item_t *ram_item_alloc(ram_t *r, ram_wstats_t *ws, const char *key, size_t nkey,
                       uint32_t flags, rel_time_t exptime, size_t nbytes,
                       unsigned rflags, item_t **spill, cache_status_e *st);

/* Drops a reference; frees the item at 0 (a temporary item: free()). */
void ram_item_release(ram_t *r, item_t *it);

/* A temporary (clsid 0, malloc'ed, unlinked) item with refcount 1; NULL if
 * out of memory. Its cas is `cas`, its value uninitialised. */
item_t *ram_item_temp(const char *key, size_t nkey, uint32_t flags, rel_time_t exptime,
                      uint64_t cas, size_t nbytes);

typedef enum ram_get_mode { RAM_GET, RAM_GAT, RAM_TOUCH } ram_get_mode_e;
/* get / gat / touch with memcached's counting; *out referenced unless
 * mode is RAM_TOUCH (then out may be NULL). */
cache_status_e ram_get(ram_t *r, ram_wstats_t *ws, const char *key, size_t nkey,
                       ram_get_mode_e mode, rel_time_t exptime, item_t **out,
                       unsigned rflags);

cache_status_e ram_store(ram_t *r, ram_wstats_t *ws, item_t *it, cache_store_op_e op,
                         uint64_t cas_in, uint64_t *cas_out, unsigned rflags,
                         item_t **spill);
/* delete; counts delete_hits/misses only if `count` (cache_unlink: not). */
cache_status_e ram_delete(ram_t *r, ram_wstats_t *ws, const char *key, size_t nkey,
                          bool count, unsigned rflags);
cache_status_e ram_arith(ram_t *r, ram_wstats_t *ws, const char *key, size_t nkey,
                         bool incr, uint64_t delta, uint64_t *value_out,
                         uint64_t *cas_out, unsigned rflags, item_t **spill);

/* ---- keyed conditional operations (ops.c) ----
 *
 * cache_delete_ex / cache_arith_ex: the cas compare and the act in one
 * step under the key's stripe lock (ram_keyed). With RAM_F_DEFER a key
 * without a RAM item answers CACHE_PENDING, like the other operations:
 * the door installs the lower tier's copy, then runs the step again.
 */
typedef enum ram_keyed_kind {
    RAM_KEYED_DELETE = 1,
    RAM_KEYED_ARITH,
} ram_keyed_kind_e;

typedef struct ram_keyed {
    ram_keyed_kind_e kind;
    bool has_cas;          /* delete: compare literally; arith: cas != 0 */
    uint64_t cas;
    bool mismatch_is_miss; /* delete: count EXISTS in delete_misses */
    bool stale;            /* delete: md I (mark, new cas, keep) */
    bool set_exptime;      /* delete with stale, arith: new expiry */
    rel_time_t exptime;
    bool incr;             /* arith */
    uint64_t delta;
    uint64_t value_out;    /* arith: new value */
    uint64_t cas_out;      /* new cas */
    rel_time_t old_exptime; /* arith: the item's expiry before */
} ram_keyed_t;

/* Runs k on key under its stripe lock: CACHE_OK, CACHE_NOT_FOUND,
 * CACHE_EXISTS, (arith) CACHE_NON_NUMERIC / CACHE_NO_MEMORY, or with
 * RAM_F_DEFER and no RAM item CACHE_PENDING (nothing counted). */
cache_status_e ram_keyed(ram_t *r, ram_wstats_t *ws, const char *key, size_t nkey,
                         ram_keyed_t *k, unsigned rflags, item_t **spill);
/* ---- the lower tier (spill.c, ram_install in ops.c; see "the lower tier" above) */

/* Sets the hooks and allocates the ghost counts. false: out of memory. */
bool ram_lower_attach(ram_t *r, const ram_lower_hooks_t *h);
/* The lower tier has the pending item `it` (ok) or dropped it (!ok);
 * drops its reference. Takes the stripe lock; no other lock may
 * be held. */
void ram_spill_done(ram_t *r, item_t *it, bool ok);
/* Waits until some pending item is done or `deadline_ms` (CLOCK_MONOTONIC
 * ms) passes. Holds no tier lock. */
void ram_spill_wait(ram_t *r, uint64_t seq_seen, int64_t deadline_ms);
uint64_t ram_spill_seq(ram_t *r);
/* An installed copy's lower-tier token (0: none, or not an installed
 * copy). Caller holds the item's stripe lock or a reference. O(1). */
uint64_t ram_item_lower_loc(ram_t *r, item_t *it);

typedef enum ram_install_mode {
    RAM_INSTALL_LINK,   /* link `nw` (a copy of the lower record) */
    RAM_INSTALL_CHECK,  /* only check the record is still current */
    RAM_INSTALL_REMOVE, /* check, then drop the key's lower copies */
} ram_install_mode_e;
/*
 * Applies a lower-tier read result of key (hv) under its stripe lock:
 *   CACHE_EXISTS: a live RAM item exists (newer or equal): *cur gets it,
 *                 referenced; nothing else is done;
 *   CACHE_NOT_FOUND: the record is no longer current (hooks.current
 *                 says no, or a ghost): the caller starts over;
 *   CACHE_OK: current: LINK linked `nw` keeping `cas` and remembering
 *                 `loc` (*cur = nw with one more reference); CHECK did
 *                 nothing; REMOVE called hooks.changed(hv).
 */
cache_status_e ram_install(ram_t *r, ram_wstats_t *ws, ram_install_mode_e mode,
                           const char *key, size_t nkey, uint64_t hv, item_t *nw,
                           uint64_t cas, uint64_t loc, item_t **cur);

void ram_flush_all(ram_t *r, int64_t exptime);

/* memcached's safe_strtoull() over a non-terminated value. */
bool ram_parse_u64(const char *p, size_t n, uint64_t *out);

/* One juggle of a class (HOT/WARM/COLD balancing, up to `max` moves);
 * returns moves done. */
unsigned ram_lru_juggle(ram_t *r, unsigned cls, unsigned max);

/* Crawler: checks one item under its stripe lock; unlinks it when expired
 * or flushed. For hash_walk_step(); ctx is the ram_t. */
bool ram_crawl_item(void *ctx, item_t *it, uint64_t hv);

/* ---- slab page moves (move.c; slabs.h describes the page side) ---- */

typedef enum ram_move {
    RAM_MOVE_OK = 0,   /* the page moved */
    RAM_MOVE_BUSY,     /* another move runs, or items stayed busy */
    RAM_MOVE_BADCLASS, /* a class id out of range */
    RAM_MOVE_NOSPARE,  /* the source has fewer than 2 pages */
    RAM_MOVE_SAME,     /* src == dst */
} ram_move_e;

/*
 * memcached's `slabs reassign src dst`, done now (memcached's rebalancer
 * thread does it soon after replying OK): src -1 picks any class with 2+
 * pages; dst 0 (or src 0) is the global page pool. Checks in memcached's
 * order (BUSY, SAME, BADCLASS, NOSPARE). Each chunk of the page: free
 * ones are claimed; expired/flushed items are reclaimed
 * (slab_reassign_inline_reclaim); a live item no one else references is
 * copied into a free chunk of its class if there is one (rescues), else
 * evicted through the LRU's eviction (evictions_nomem; with a lower tier
 * it spills like any eviction); a referenced or pending
 * item is retried (busy_items) for up to ~100 ms (never unlinked for the
 * move: memcached's busy deletes are not done, busy_deletes stays 0); if
 * the page is still not free the move is undone (the chunks freed so far
 * go back to the free list; items already evicted stay evicted):
 * RAM_MOVE_BUSY.
 * Takes the stripe, LRU and slab locks itself: the caller holds none.
 */
ram_move_e ram_slabs_reassign(ram_t *r, int src, int dst);

/*
 * Frees one page of class src (1..largest, pages of any size) for a
 * shrink of the memory limit: its chunks are emptied exactly as
 * ram_slabs_reassign empties a page (rescued into free chunks of the
 * class, else evicted through the LRU's eviction, which spills with a
 * lower tier), then the page is freed and leaves
 * total_malloced. RAM_MOVE_OK, RAM_MOVE_BUSY (another move runs, or items
 * stayed busy ~100 ms: nothing freed, evicted items stay evicted),
 * RAM_MOVE_NOSPARE (fewer than 2 pages: a class keeps its last one),
 * RAM_MOVE_BADCLASS. Counts pages_released. The caller holds no lock.
 */
ram_move_e ram_slabs_release(ram_t *r, unsigned src);

/* ---- the memory limit at run time (memlimit.c) ---- */

typedef enum ram_shrink {
    RAM_SHRINK_DONE = 0, /* total_malloced is within the limit */
    RAM_SHRINK_MORE,     /* still over: the time budget ran out, or pages
                            stayed busy; call again */
    RAM_SHRINK_FLOOR,    /* still over, but every class is down to one
                            page (the bound of slabs.h) */
} ram_shrink_e;

/* The limit in force, bytes (0 = none). */
size_t ram_mem_limit(ram_t *r);
/* Sets the limit (bytes, > 0) and frees the global pool's pages over it
 * at once; the rest of a shrink is ram_mem_shrink's. Growing just lets
 * classes take more pages. Thread-safe, O(pool pages freed). */
void ram_mem_limit_set(ram_t *r, size_t limit);
/* Is total_malloced over the limit? (It may be without any change of
 * the limit: a class always gets its first page, slabs.h.) */
bool ram_mem_over(ram_t *r);
/* Has the limit been set since a shrink last finished (DONE or FLOOR)?
 * The maintainer shrinks only then: pages over -m from the first-page
 * rule alone are left alone, as memcached leaves them. */
bool ram_mem_shrink_wanted(ram_t *r);
/*
 * One shrink step: while total_malloced is over the limit and budget_ms
 * (CLOCK_MONOTONIC) lasts, frees a page (ram_slabs_release) of a class
 * with 2+ pages: first one whose free chunks fill a page (nothing is
 * evicted: its items are rescued), else the class whose LRU tail is the
 * oldest (memcached's automover rule for a source). Items of the page
 * that do not fit elsewhere in their class are evicted; with a lower
 * tier they spill (readable from it). Caller holds no lock.
 */
ram_shrink_e ram_mem_shrink(ram_t *r, unsigned budget_ms);

/*
 * ext_item_age: offers the lower tier the items of class id that have not
 * been accessed for more than `age` seconds (their access time, refreshed
 * as memcached's, at most once a minute by reads), up to `max` of them,
 * looking at the tail ends of COLD, WARM and HOT (64 items per list), as
 * victims with v.idle set: QUEUE makes one pending (it stays a RAM hit
 * until the lower tier has it, then RAM lets it go), BELOW unlinks it at
 * once, LEAVE and DROP leave it (never dropped: there is no memory
 * pressure); a busy, expired or flushed one stays. Stops at BEHIND.
 * Needs a lower tier, else does nothing; age UINT32_MAX = off. Returns
 * the number moved (counted in age_spills). Caller holds no lock.
 */
unsigned ram_age_spill(ram_t *r, unsigned id, uint32_t age, unsigned max);

/* slab_automove level: 0 off, 1 (default) or 2 (aggressive); the
 * maintainer acts on it only while set.slab_reassign. */
void ram_automove_set(ram_t *r, unsigned level);
unsigned ram_automove_get(const ram_t *r);
/* slab_automove_ratio (0.8): youngest age < ratio x oldest age moves. */
void ram_automove_ratio_set(ram_t *r, double ratio);
double ram_automove_ratio_get(const ram_t *r);

/* Grows the hash table if needed (takes all stripes). */
void ram_maybe_expand(ram_t *r);

#endif /* TIERCACHE_RAM_RAM_H */
