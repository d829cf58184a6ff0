/*
 * tiers/policy.h - the tier policy behind cache.h (internal to tiers/).
 *
 * Every decision that involves both tiers is made here, each once:
 *   - start and stop: the flash tier (a warm restart from its superblock,
 *     its crash checkpoint, or a new file) or, RAM only, memcached's -e
 *     memory file; at a clean stop the RAM items flash lacks are written
 *     to it (tier_start, tier_stop);
 *   - eviction (the RAM engine's victim hook, ram.h "lower tier"): the
 *     writer-behind bound, the marks rule, the already-on-flash skip and
 *     admission; items admitted become PENDING and are handed to the flash
 *     writer (tier_spill); the stall bound of an allocation that waits for
 *     the writer (tier_item_alloc);
 *   - a flash read (tier_apply_read): the "still current" check (under the
 *     key's stripe lock, through ram_install), expiry and flush, promotion
 *     (policy and rate), the install of a record a mutation needs in RAM;
 *   - the crash checkpoint's view of mutations and flushes.
 * The request engine (engine.c) moves requests and asks this file; a
 * cache without a flash tier has a tier_t with f == NULL, and the engine
 * then never takes a path that reaches flash.
 *
 * Architecture: policy.c calls ram/ and flash/; ram/ calls back only
 * through its hooks (ram.h), flash/ only through written_fn/ram_state.
 * Lock order: no lock of this file is held while calling into ram/ or
 * flash/; ram's stripe lock -> flash locks (via the hooks).
 */
#ifndef TIERCACHE_POLICY_H
#define TIERCACHE_POLICY_H

#include "cache.h"
#include "ram/ram.h"

typedef struct tier tier_t;
typedef struct tier_worker tier_worker_t;

/*
 * The start: with s->flash_path, opens the flash tier (its reason on
 * failure, or its recovery note, in s->err) and attaches it to `r`,
 * restoring the RAM tier's flush state and cas counter from a warm start;
 * else, with s->memory_file, loads memcached's -e file into `r`.
 * CACHE_EINVAL (or CACHE_NO_MEMORY) on failure, nothing left behind.
 */
cache_status_e tier_start(tier_t **out, ram_t *r, const cache_settings_t *s);
/*
 * The stop. Every tier_worker_t must be destroyed first and no RAM thread
 * may run. With flash: `unstarted` (a start that failed before serving)
 * removes a flash file this start created, else the clean stop: waits
 * (bounded) for the items in the flash writer's hands, queues every live
 * RAM item without a current copy on flash, then flash_persist (logged);
 * then the flash tier is closed. RAM only: saves the -e memory file when
 * `graceful`. Frees t; NULL-safe. Blocking.
 */
void tier_stop(tier_t **t, bool unstarted, bool graceful);
/* Bytes outside -m: flash index and buffers, ghost counts (0 RAM only). */
size_t tier_memory(const tier_t *t);
/* The parts of tier_memory(): fills out's memory_ram_ghosts and
 * memory_flash_* fields (left as they are RAM only). */
void tier_memory_parts(const tier_t *t, cache_memory_t *out);

/* Per worker: `ws` is the worker's RAM counters (engine.c). */
cache_status_e tier_worker_create(tier_t *t, ram_wstats_t *ws, tier_worker_t **out);
/* Completes every request in flight (as flash misses if the device reads
 * cannot finish), then frees the worker. NULL-safe. */
void tier_worker_destroy(tier_worker_t **tw);
/* The worker's completion fd (-1 without a flash tier). */
int tier_worker_fd(const tier_worker_t *tw);
/* Runs what completed: flash reads, requests they released, a walk's end. */
void tier_worker_poll(tier_worker_t *tw);

/* Hands the items a RAM step made pending (chained through ->next) to the
 * flash writer. No lock held: may wait up to stall_ms for queue space
 * (back-pressure); a refusal is a drop. list NULL: nothing. */
void tier_spill(tier_t *t, item_t *list);
/* cache_item_alloc with spilling and the bounded stall for the writer. */
item_t *tier_item_alloc(tier_worker_t *tw, const char *key, size_t nkey, uint32_t flags,
                        rel_time_t exptime, size_t nbytes, cache_status_e *st);
/* A get that missed RAM and flash (flash_get_misses). */
void tier_count_miss(tier_t *t);
/* Before a client changes a key (store, delete, arith, touch): the crash
 * checkpoint is made unusable first if it may keep the key (flash.h
 * flash_note_mutation). No lock held. Nothing without flash. */
void tier_note_mutation(tier_t *t, const char *key, size_t nkey);
/* After ram_flush_all: tells the flash tier the flush time (and makes the
 * crash checkpoint unusable). Nothing without flash. */
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
 * done; without flash: nothing to list); CACHE_NO_MEMORY (not started).
 */
bool tier_walk_claim(tier_t *t);
cache_status_e tier_walk(tier_worker_t *tw, cache_item_visit_fn visit, void *ctx,
                         const uint64_t *skip, size_t nskip, const cache_async_t *async);

/* Adds the flash figures (CACHE_FLASH_STATS_FIELDS and the ratios); nothing
 * without flash. */
void tier_stats(tier_t *t, cache_stats_t *out);
/* Zeroes the policy's own counters (the flash tier's are not resettable). */
void tier_stats_reset(tier_t *t);

#endif /* TIERCACHE_POLICY_H */
