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
 * size: total_malloced <= mem_limit + one page per class. Pages never leave
 * their class (no slab rebalancing: slabs_moved stays 0).
 * With prealloc, floor(mem_limit / slab_page_size) pages are malloc'ed at
 * creation into a global pool (slab_global_page_pool) and classes take
 * from it first.
 *
 * Lock order: slabclass_t.lock -> slabs_t.pool_lock. Callers may hold a
 * stripe lock and an LRU lock (see items.c) before either.
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
} slabclass_t;

typedef struct slabs {
    slabclass_t cls[SLAB_CLASS_MAX];
    unsigned largest;         /* highest valid class id */
    size_t page_size;
    size_t item_size_max;
    size_t mem_limit;         /* 0 = unlimited */
    pthread_mutex_t pool_lock;
    size_t mem_malloced;      /* [pool_lock] bytes of pages given to classes */
    void **pool;              /* [pool_lock] preallocated free pages */
    size_t npool;
    _Atomic uint64_t malloc_fails;
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

/* Gives a chunk back to its class. */
void slabs_free(slabs_t *s, item_t *it);

typedef struct slabs_class_info {
    size_t chunk_size;
    unsigned perslab;
    uint64_t total_pages;
    uint64_t total_chunks;
    uint64_t free_chunks;
} slabs_class_info_t;

/* Snapshot of one class (takes its lock). */
void slabs_class_info(slabs_t *s, unsigned id, slabs_class_info_t *out);

/* Bytes of pages given to classes, and free pages in the global pool. */
size_t slabs_total_malloced(slabs_t *s);
size_t slabs_pool_pages(slabs_t *s);

#endif /* TIERCACHE_RAM_SLABS_H */
