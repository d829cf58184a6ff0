/*
 * tiers/ram/slabs.h - memcached-style slab allocator bounded by mem_limit.
 *
 * Item memory comes in pages (slab_page_size, 1 MiB). A page belongs to one
 * slab class and is cut into equal chunks. Classes (ids 1..n) are computed
 * exactly as memcached 1.6's slabs_init(): the first chunk is
 * 48 + slab_chunk_min bytes, each next one slab_growth times larger, 8-byte
 * aligned, up to slab_page_size / 2 (or item_size_max if smaller); that
 * limit is a class of its own. So `stats slabs` shows memcached's chunk
 * sizes (96, 120, 152, ... 524288).
 *
 * Large items: memcached chains chunks for items over page/2. Here, when
 * item_size_max is larger than that, one more class holds whole items of
 * item_size_max bytes, one per page; its pages are item_size_max bytes if
 * that is larger than slab_page_size. (A 600 KiB item thus uses 1 MiB.)
 *
 * Memory limit: pages are handed to classes on demand while the bytes
 * assigned to classes (total_malloced) stay within mem_limit (0 = no
 * limit). As memcached, a class that has no page yet always gets its first
 * one, even over the limit, so a tiny -m can still store items of every
 * size: total_malloced <= mem_limit + one page per class.
 * With prealloc, floor(mem_limit / slab_page_size) pages are malloc'ed at
 * creation into a global pool (slab_global_page_pool) and classes take
 * from it first.
 *
 * Page moves (memcached's slab rebalancer; the item side is in move.c,
 * ram_slabs_reassign): one page of a class is "claimed" (slabs_move_begin:
 * its free chunks leave the free list, and from then on a chunk of that
 * page given back by slabs_free is kept aside, counted in mv_claimed,
 * instead of going back on the free list, so nothing can allocate from the
 * page). When every chunk is claimed (move.c evicted or rescued the live
 * ones), slabs_move_finish hands the page to another class, cut into its
 * chunk size, or to the global pool (class 0); slabs_move_abort gives the
 * free chunks back when live items stayed busy. A page moved to the pool
 * stays counted in total_malloced (as memcached's): npool_counted of the
 * pool's pages are such pages, and a class taking one is not charged
 * again. Only classes whose pages are slab_page_size bytes take part
 * (the ids 1..reassign_largest, memcached's power_largest).
 *
 * Lock order: slabs_t.move_lock -> (stripe lock -> LRU lock) ->
 * slabclass_t.lock -> slabs_t.pool_lock. Callers may hold a stripe lock
 * and an LRU lock (see move.c) before a class lock. The mover holds one
 * class lock while it *trylocks* a stripe (memcached's scheme), never
 * waits for a stripe with a class lock held. Only one class lock is held
 * at a time (slabs_move_finish takes src, drops it, then takes dst).
 * A chunk's SLABBED flag only changes under its class lock (alloc clears
 * it, free sets it), so the mover's view of "free" is exact.
 */
#ifndef TIERCACHE_RAM_SLABS_H
#define TIERCACHE_RAM_SLABS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "item.h"

#define SLAB_CLASS_MAX 64 /* ids 1..63, as memcached's MAX_NUMBER_OF_SLAB_CLASSES */
#define SLAB_CHUNK_ALIGN 8

typedef enum slabs_status {
    SLABS_OK = 0,
    SLABS_EINVAL,
    SLABS_ENOMEM,
    SLABS_NOSPARE, /* page move: the source has fewer than 2 pages */
} slabs_status_e;

typedef struct slabclass {
    pthread_mutex_t lock;
    size_t size;       /* chunk bytes */
    size_t page_bytes; /* bytes of one page of this class */
    unsigned perslab;  /* chunks per page */
    item_t *free_list; /* chained through ->next */
    uint64_t nfree;    /* [lock] */
    uint64_t npages;   /* [lock] */
    void **pages;      /* [lock] every page, to free them */
    size_t pages_cap;
    char *mv_page;     /* [lock] page being emptied by a move, or NULL */
    unsigned mv_claimed; /* [lock] chunks of mv_page known free */
} slabclass_t;

/* Counters of page moves (memcached's `stats` names). X(name) */
#define SLABS_MOVE_STATS(X)                                                   \
    X(slabs_moved) X(slab_reassign_rescues) X(slab_reassign_chunk_rescues)   \
    X(slab_reassign_evictions_nomem) X(slab_reassign_inline_reclaim)         \
    X(slab_reassign_busy_items) X(slab_reassign_busy_deletes)

typedef struct slabs {
    slabclass_t cls[SLAB_CLASS_MAX];
    unsigned largest;         /* highest valid class id */
    size_t page_size;
    size_t item_size_max;
    size_t mem_limit;         /* 0 = unlimited */
    pthread_mutex_t pool_lock;
    size_t mem_malloced;      /* [pool_lock] bytes of pages given to classes */
    void **pool;              /* [pool_lock] free pages (prealloc, moved) */
    size_t npool;
    size_t pool_cap;          /* [pool_lock] */
    size_t npool_counted;     /* [pool_lock] pool pages already counted in
                                 mem_malloced (moved there from a class) */
    _Atomic uint64_t malloc_fails;
    unsigned reassign_largest; /* highest id a page may move from/to */
    pthread_mutex_t move_lock; /* one page move at a time */
    unsigned pick_cursor;      /* [move_lock] round robin of src -1 */
    _Atomic uint32_t move_running;
#define SLABS_MV_DECL(n) _Atomic uint64_t n;
    SLABS_MOVE_STATS(SLABS_MV_DECL)
#undef SLABS_MV_DECL
} slabs_t;

/* Computes the classes and (with prealloc) fills the pool. SLABS_EINVAL for
 * impossible parameters, SLABS_ENOMEM if preallocation failed. */
slabs_status_e slabs_init(slabs_t *s, size_t mem_limit, size_t page_size,
                          size_t chunk_min, double growth,
                          size_t item_size_max, bool prealloc);

/* Frees every page. No item may be referenced any more. */
void slabs_teardown(slabs_t *s);

/* Class id for an item of `ntotal` bytes, 0 if too large for any class. */
unsigned slabs_clsid(const slabs_t *s, size_t ntotal);

/* Takes a free chunk of class `id`, getting a new page if allowed. NULL
 * when the class is full and no page can be had (caller evicts). O(1),
 * except a new page is cut into chunks (O(perslab)). */
item_t *slabs_alloc(slabs_t *s, unsigned id);

/* Takes a free chunk of class `id` from its free list only (never a new
 * page): the mover's rescue chunk. NULL if none. */
item_t *slabs_alloc_free(slabs_t *s, unsigned id);

/* Gives a chunk back to its class (or, in a page being moved, claims it). */
void slabs_free(slabs_t *s, item_t *it);

/* ---- page moves (see the top of this file); caller holds move_lock ---- */

/* Claims a page of class src (src 0: nothing to claim, a pool page is
 * used). *page gets the page (NULL for src 0). SLABS_NOSPARE when src has
 * fewer than 2 pages (pool: fewer than 2 free pages), SLABS_EINVAL for a
 * bad id. */
slabs_status_e slabs_move_begin(slabs_t *s, unsigned src, char **page);
/* Is every chunk of the claimed page free? */
bool slabs_move_ready(slabs_t *s, unsigned src);
/* Gives the claimed page (or, src 0, a pool page) to dst (0 = the pool),
 * cut into dst's chunks. SLABS_ENOMEM if dst's page array could not grow
 * (the page then goes to the pool). Counts slabs_moved. */
slabs_status_e slabs_move_finish(slabs_t *s, unsigned src, unsigned dst);
/* Ends a move that could not free the page: its free chunks go back to
 * the free list. */
void slabs_move_abort(slabs_t *s, unsigned src);
/* memcached's slabs_reassign_pick_any(): a class other than dst with at
 * least 2 pages, round robin; -1 if none. Caller holds move_lock. */
int slabs_pick_any(slabs_t *s, unsigned dst);

/* ---- the memory limit at run time (cache_memlimit; ram/memlimit.c) ----
 *
 * The limit can change while the cache runs. Growing only lets classes
 * take more pages. Shrinking is done in steps: pages in the global pool
 * that are counted in mem_malloced are freed at once (slabs_pool_release),
 * and whole pages are taken from classes (slabs_release_begin, the chunk
 * side in items.c ram_slabs_release, then slabs_release_finish frees the
 * page). As with page moves, a class keeps its last page: the bound
 * total_malloced <= mem_limit + one page per class holds after a shrink. */

/* The limit in force (bytes, 0 = none). Takes pool_lock. */
size_t slabs_mem_limit(slabs_t *s);
/* Sets the limit; pages beyond it are no longer handed out. Counted pool
 * pages over the new limit are freed (slabs_pool_release). Takes
 * pool_lock. */
void slabs_mem_limit_set(slabs_t *s, size_t limit);
/* Frees counted pool pages while mem_malloced > mem_limit; returns the
 * number freed. Pages preallocated (-L) and never counted are kept. */
size_t slabs_pool_release(slabs_t *s);
/* As slabs_move_begin, for any class 1..largest (pages of any size): the
 * page will be freed, not moved. Caller holds move_lock. SLABS_NOSPARE
 * when the class has fewer than 2 pages, SLABS_EINVAL for a bad id. */
slabs_status_e slabs_release_begin(slabs_t *s, unsigned src, char **page);
/* Frees the claimed page of src (every chunk claimed: slabs_move_ready)
 * and takes its bytes off mem_malloced. Caller holds move_lock. */
void slabs_release_finish(slabs_t *s, unsigned src);

typedef struct slabs_class_info {
    size_t chunk_size;
    unsigned perslab;
    uint64_t total_pages;
    uint64_t total_chunks;
    uint64_t free_chunks;
    size_t page_bytes;
} slabs_class_info_t;

/* Snapshot of one class (takes its lock). */
void slabs_class_info(slabs_t *s, unsigned id, slabs_class_info_t *out);

/* Bytes of pages given to classes, and free pages in the global pool. */
size_t slabs_total_malloced(slabs_t *s);
size_t slabs_pool_pages(slabs_t *s);

#endif /* TIERCACHE_RAM_SLABS_H */
