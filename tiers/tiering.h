/*
 * tiers/tiering.h - the flash glue behind cache.h (internal to tiers/).
 *
 * cache.c calls these only when a flash tier is configured; RAM-only
 * caches never reach this file. What it does:
 *   - builds the flash tier from cache_settings_t (tier_create) and wires
 *     the RAM tier's spill hooks (ram.h, "flash spill"): evictions become
 *     PENDING RAM items queued for the flash writer, written_fn lets them
 *     go; every change of a key removes its flash index entries;
 *   - serves RAM misses from flash: a get returns a promoted RAM item or a
 *     temporary one; a mutation (add, replace, append, prepend, cas, incr,
 *     decr, touch, gat, delete) first installs the flash record into RAM
 *     (only if its location is still current and no RAM item exists, under
 *     the key's stripe lock) and then re-runs the RAM operation;
 *   - orders operations per key on one worker: an operation on a key with a
 *     request in flight on this worker waits behind it (FIFO);
 *   - completes asynchronously (cache_async_t) from tier_worker_poll(), or
 *     synchronously by polling the worker's flash fd (async == NULL).
 *
 * Threads: tier_t is shared; a tier_worker_t belongs to one worker thread.
 * Lock order: no lock of this file is held while calling into ram/ or
 * flash/; ram's stripe lock -> flash locks (via the hooks).
 */
#ifndef TIERCACHE_TIERING_H
#define TIERCACHE_TIERING_H

#include "cache.h"
#include "ram/ram.h"

typedef struct tier tier_t;
typedef struct tier_worker tier_worker_t;

/* Opens the flash tier of s->flash_path and attaches it to `r`. On failure
 * the flash tier's reason is in s->err; CACHE_EINVAL (or CACHE_NO_MEMORY). */
cache_status_e tier_create(tier_t **out, ram_t *r, const cache_settings_t *s);
/*
 * The clean stop: waits (bounded) for the items in the flash writer's hands,
 * queues every live RAM item that has no current copy on flash, then
 * flash_persist (the live map and the state record CLEAN with the RAM
 * tier's flush state and cas counter, all fdatasync'd). Every
 * tier_worker_t must be destroyed first and no RAM thread may run; call
 * tier_destroy next. Logs what it kept; a failure is logged, and the next
 * start then sees a run that did not stop cleanly. Blocking.
 */
void tier_persist(tier_t *t);
/* A start that failed before serving: a flash file this start created is
 * removed (flash_destroy_unstarted); one that existed is stopped cleanly
 * (tier_persist), so what it held stays. NULL-safe. */
void tier_destroy_unstarted(tier_t **t);
/* Stops the flash writer (its pending items are done first), frees all.
 * Every tier_worker_t must be destroyed first. NULL-safe. */
void tier_destroy(tier_t **t);
/* Bytes outside -m: flash index and buffers, ghost counts. */
size_t tier_memory(const tier_t *t);

/* Per worker: `ws` is the worker's RAM counters. */
cache_status_e tier_worker_create(tier_t *t, ram_wstats_t *ws, tier_worker_t **out);
/* Completes every request in flight (as flash misses if the device reads
 * cannot finish), then frees the worker. NULL-safe. */
void tier_worker_destroy(tier_worker_t **tw);
int tier_worker_fd(const tier_worker_t *tw);
void tier_worker_poll(tier_worker_t *tw);

/* The cache.h operations (key already validated; exptime in item time). */
cache_status_e tier_get(tier_worker_t *tw, ram_get_mode_e mode, const char *key,
                        size_t nkey, rel_time_t exptime, unsigned nobump,
                        item_t **out, const cache_async_t *async);
cache_status_e tier_store(tier_worker_t *tw, item_t *it, cache_store_op_e op,
                          uint64_t cas_in, uint64_t *cas_out, const cache_async_t *async);
cache_status_e tier_delete(tier_worker_t *tw, const char *key, size_t nkey, bool count,
                           const cache_async_t *async);
cache_status_e tier_arith(tier_worker_t *tw, const char *key, size_t nkey, bool incr,
                          uint64_t delta, uint64_t *value_out, uint64_t *cas_out,
                          const cache_async_t *async);
/* cache_item_alloc with spilling and bounded back-pressure. */
item_t *tier_item_alloc(tier_worker_t *tw, const char *key, size_t nkey, uint32_t flags,
                        rel_time_t exptime, size_t nbytes, cache_status_e *st);
/* Before a client changes a key (store, delete, arith, touch): the crash
 * checkpoint is made unusable first if it may keep the key (flash.h
 * flash_note_mutation). No lock held. */
void tier_note_mutation(tier_t *t, const char *key, size_t nkey);
/* After ram_flush_all: tells the flash tier the flush time (and makes the
 * crash checkpoint unusable). */
void tier_flush(tier_t *t);

/*
 * lru_crawler metadump, the flash part. One walk at a time, process-wide:
 * tier_walk_claim() first (false: another walk runs), then tier_walk(),
 * which releases the claim when the walk ends (or fails to start).
 * tier_walk lists every live flash-only item once through visit (called
 * on a walk thread of its own, or on the caller with async NULL; visit
 * must not call into the cache). Records whose key has a RAM item, expired
 * or flushed ones, and those whose hash is in skip[0..nskip) (listed by the
 * RAM walk) are left out. CACHE_PENDING: the walk runs, async->done fires
 * on this worker (tier_worker_poll) when it ended; CACHE_OK (async NULL:
 * done); CACHE_NO_MEMORY (not started).
 */
bool tier_walk_claim(tier_t *t);
cache_status_e tier_walk(tier_worker_t *tw, cache_item_visit_fn visit, void *ctx,
                         const uint64_t *skip, size_t nskip, const cache_async_t *async);

/* Adds the flash figures (CACHE_FLASH_STATS_FIELDS and the ratios). */
void tier_stats(tier_t *t, cache_stats_t *out);
/* Zeroes the glue's own counters (the flash tier's are not resettable). */
void tier_stats_reset(tier_t *t);

#endif /* TIERCACHE_TIERING_H */
