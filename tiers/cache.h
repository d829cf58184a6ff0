/*
 * tiers/cache.h - the only door from the server into storage.
 *
 * The front end sees opaque handles, plain-old-data settings and stats, and
 * a status enum; nothing else. This header includes only the C library, links
 * no libevent, and knows nothing of connections or protocols.
 *
 * Threads: a cache_t is shared by every worker thread. Each worker thread
 * creates its own cache_worker_t and passes it to every call it makes; a
 * cache_worker_t is used by one thread at a time (it holds that thread's
 * counters without locks). Every call below is thread-safe under that rule.
 *
 * Items: lookups hand back a *referenced* cache_item_t. The reference keeps
 * the item's bytes valid (even if it is deleted, replaced or evicted
 * meanwhile) until cache_item_release(). Holding references pins memory, so
 * the caller releases as soon as the bytes have been sent.
 *
 * Time: the cache owns a clock (seconds). Expiry times cross this interface
 * as memcached's raw protocol value `exptime` (int64):
 *     0                  never expires
 *     1 .. 2592000       seconds from now (30 days at most)
 *     > 2592000          absolute unix time; at or before the process start
 *                        time it is already expired
 *     < 0                already expired
 * and come back (in metadata) as absolute unix time, 0 meaning never.
 */
#ifndef TIERCACHE_CACHE_H
#define TIERCACHE_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flash/flash_stats.h" /* the flash counters shown as they are */
#include "flash/flash_settings.h" /* flash_settings_t, its option table */
#include "ram/ram_settings.h"     /* ram_settings_t, its option table */
#include "tier_types.h"            /* status, item handle, store ops, marks */

typedef struct cache cache_t;               /* one per process */
typedef struct cache_worker cache_worker_t; /* one per worker thread */

/* A static, human-readable name for a status. Never NULL. */
const char *cache_strerror(cache_status_e status);


/* flash.compression_level of "none" */
#define CACHE_FLASH_NO_COMPRESSION OPTION_LEVEL_NONE

typedef enum cache_flash_promote {
    CACHE_PROMOTE_SECOND_HIT = 0, /* copy to RAM on a second hit, rate-limited */
    CACHE_PROMOTE_ALWAYS,         /* every flash hit */
    CACHE_PROMOTE_NEVER,
} cache_flash_promote_e;


/*
 * The settings of a cache: each engine's own struct, whose defaults come
 * from that engine's one option table (tiers/option.h: ram_options in
 * ram/ram_settings.h, flash_options in flash/flash_settings.h), and the
 * door's own fields below (cache_options, cache_settings.c).
 */
typedef struct cache_settings {
    ram_settings_t ram;       /* the RAM tier (clock and on_evict too) */
    /* The flash tier: off while flash.path is NULL (RAM only). The door
     * fills its callbacks and clock; index_capacity comes from
     * flash_index_mem when that is set. */
    flash_settings_t flash;
    cache_flash_promote_e flash_promote; /* --flash-promote (second hit) */
    unsigned flash_promote_rate;  /* --flash-promote-rate: per worker per
                                     second (0: no limit) */
    uint64_t flash_index_mem;     /* --flash-index-mem, bytes (0: derived) */
    /* memcached's -e: a RAM-only cache (no flash.path) loads the items
     * saved here at create and saves them at a graceful stop (see
     * cache_set_graceful_stop); ram/memfile.h has the rules. NULL: none. */
    const char *memory_file;
    /* Out: cache_create writes a one-line reason here on failure, and a
     * note for the log on success (empty if none). May be NULL. */
    char *err;
    size_t err_len;
} cache_settings_t;

/* The door's own options (the fields above that are not an engine's). */
extern const option_t cache_options[];
extern const size_t cache_options_n;

/* Fills *s from the tables: ram_settings_default(), flash_settings_default()
 * and cache_options[] (memcached 1.6's defaults: 64 MiB, 1 MiB items, ...;
 * no flash tier, no memory file). */
void cache_settings_default(cache_settings_t *s);

/*
 * Creates a cache and starts its background threads (unless disabled in
 * settings). Returns CACHE_OK and sets *out, or CACHE_EINVAL for impossible
 * settings (e.g. item_size_max > mem_limit is allowed as memcached allows it,
 * but item_size_max < 1 KiB or growth <= 1.0 is not), or CACHE_NO_MEMORY.
 * The settings are copied.
 */
cache_status_e cache_create(cache_t **out, const cache_settings_t *s);

/* Stops background threads, frees everything, sets *c to NULL. Every worker
 * must have been destroyed first. NULL-safe. With a flash tier this is the
 * clean stop: RAM items are written to flash and the next start is warm
 * (every stop); with a memory file they are saved there only after
 * cache_set_graceful_stop(). */
void cache_destroy(cache_t **c);

/* As cache_destroy, for a start that failed before it served: a flash file
 * this start created is removed; one that existed keeps what it held. */
void cache_destroy_unstarted(cache_t **c);

/* Marks the coming cache_destroy() as memcached's graceful stop (SIGUSR1,
 * `shutdown graceful`): with settings.memory_file (and no flash tier) it
 * then saves every live item, the cas counter and the flush_all state to
 * that file, logging one line on stderr. Other stops save nothing, as
 * memcached. Thread-safe; NULL-safe. */
void cache_set_graceful_stop(cache_t *c);

/* Per-thread context. */
cache_status_e cache_worker_create(cache_t *c, cache_worker_t **out);
void cache_worker_destroy(cache_worker_t **w);

/* Bytes of RAM the cache uses outside -m (hash table, flash index and
 * buffers); fixed at create. For the startup line and `stats`. */
size_t cache_memory_outside_limit(const cache_t *c);

/* Current time of the cache clock, unix seconds. */
int64_t cache_now(const cache_t *c);
/* Unix time at which the cache started (memcached's process_started). */
int64_t cache_started(const cache_t *c);

/* ---- asynchronous completion (the flash tier) ---------------------------
 *
 * Every call below that may need an existing item takes a last parameter
 * `async`:
 *   - NULL: synchronous. Never returns CACHE_PENDING; if a flash read is
 *     needed the call waits for it. For unit tests and RAM-only callers.
 *   - non-NULL: returns the final status, or CACHE_PENDING; then
 *     async->done(async->ctx, &result) is called exactly once later, on this
 *     worker's thread, from inside cache_worker_poll(). On PENDING the call's
 *     out parameters are not written: item, value and cas arrive in the
 *     result, and the done callback owns result->item (releases it).
 * Without a flash tier nothing ever returns CACHE_PENDING.
 */
typedef struct cache_result {
    cache_status_e status;
    cache_item_t *item; /* get/gat: referenced, owned by the done callback */
    uint64_t value;     /* arith: the new value */
    uint64_t cas;       /* store/arith: the new cas unique */
} cache_result_t;

typedef void (*cache_done_fn)(void *ctx, cache_result_t *r);

typedef struct cache_async {
    cache_done_fn done;
    void *ctx;
} cache_async_t;

/* The fd a worker's event loop watches (readable = completions to run), or
 * -1 when there is no flash tier. */
int cache_worker_fd(const cache_worker_t *w);

/* Runs the worker's completed flash reads: their done callbacks. Never
 * blocks. Call when cache_worker_fd() is readable. */
void cache_worker_poll(cache_worker_t *w);

/* ---- items ------------------------------------------------------------ */

const char *cache_item_key(const cache_item_t *it);
size_t cache_item_nkey(const cache_item_t *it);
/* Value bytes (exactly nbytes, no "\r\n"). */
const char *cache_item_value(const cache_item_t *it);
size_t cache_item_nbytes(const cache_item_t *it);
uint32_t cache_item_flags(const cache_item_t *it);
uint64_t cache_item_cas(const cache_item_t *it);
/* Absolute unix expiry time; 0 = never. */
int64_t cache_item_exptime(const cache_item_t *it);

/* Drops a reference and sets *it to NULL. NULL-safe. */
void cache_item_release(cache_worker_t *w, cache_item_t **it);

/* ---- reads ------------------------------------------------------------ */

/*
 * Looks up a live item and returns it referenced in *out (CACHE_OK) or
 * CACHE_NOT_FOUND (absent, expired or flushed; expired items are unlinked on
 * the way). Bumps the item in its LRU. Counts cmd_get and get_hits/misses
 * (plus get_expired / get_flushed) in w.
 */
cache_status_e cache_get(cache_worker_t *w, const char *key, size_t nkey,
                         cache_item_t **out,
    const cache_async_t *async);

/*
 * gat/gats: as cache_get, and sets the expiry to `exptime` (raw protocol
 * value). Counts cmd_touch and touch_hits/touch_misses only: as memcached
 * 1.6.18, not cmd_get, get_hits/get_misses or hits_to_* (get_expired and
 * get_flushed still count a lookup that finds a dead item).
 */
cache_status_e cache_get_and_touch(cache_worker_t *w, const char *key,
                                   size_t nkey, int64_t exptime,
                                   cache_item_t **out,
    const cache_async_t *async);

/* touch: sets the expiry of a live item. CACHE_OK or CACHE_NOT_FOUND.
 * Counts cmd_touch and touch_hits/touch_misses. */
cache_status_e cache_touch(cache_worker_t *w, const char *key, size_t nkey,
                           int64_t exptime,
    const cache_async_t *async);

/* ---- writes ----------------------------------------------------------- */

/*
 * Reserve: allocates an unlinked item for `nbytes` of value, evicting from
 * the cold end of the LRU if needed (unless evict_to_free is false).
 * Returns CACHE_OK with *out referenced and its value writable through
 * cache_item_data(); CACHE_TOO_LARGE if it can never fit; CACHE_NO_MEMORY if
 * nothing could be freed. Counts store_too_large / store_no_memory.
 * The caller fills the value, then calls cache_store(, NULL) (commit) and releases
 * its reference; releasing without storing discards the item.
 */
cache_status_e cache_item_alloc(cache_worker_t *w, const char *key,
                                size_t nkey, uint32_t flags, int64_t exptime,
                                size_t nbytes, cache_item_t **out);

/* Writable value bytes of an item from cache_item_alloc() not yet stored. */
char *cache_item_data(cache_item_t *it);


/*
 * Commit: links `it` (from cache_item_alloc) under `op`. `cas_in` is used
 * by CACHE_STORE_CAS / CAS_STALE, and by APPEND / PREPEND when not 0 (the
 * cas of the item appended to must equal it, else CACHE_EXISTS; compared
 * and appended in one step under the key's lock, as memcached). On CACHE_OK, *cas_out (if not NULL) gets the new
 * cas unique. Returns CACHE_OK, CACHE_NOT_STORED (add on a live item;
 * replace/append/prepend on a missing one), CACHE_EXISTS (cas mismatch;
 * as memcached, a unique of 0 given or stored, e.g. with use_cas off, never
 * matches), CACHE_NOT_FOUND (cas on a missing item), CACHE_NO_MEMORY or
 * CACHE_TOO_LARGE (append/prepend result). The caller still owns its reference to `it`.
 * Counts cas_hits/cas_misses/cas_badval and per-class set counts.
 */
cache_status_e cache_store(cache_worker_t *w, cache_item_t *it,
                           cache_store_op_e op, uint64_t cas_in,
                           uint64_t *cas_out,
    const cache_async_t *async);

/* delete: CACHE_OK or CACHE_NOT_FOUND. Counts delete_hits/delete_misses. */
cache_status_e cache_delete(cache_worker_t *w, const char *key, size_t nkey,
    const cache_async_t *async);

/*
 * Removes a live item without counting a delete: what memcached does to the
 * old value when a set's allocation fails (too large, out of memory), so a
 * stale value does not survive the failed set. CACHE_OK (removed),
 * CACHE_NOT_FOUND or CACHE_EINVAL (bad key). Counts only what a lookup
 * counts on a dead item (get_expired / get_flushed), as memcached's
 * item_get() there. O(1), takes the key's stripe lock.
 */
cache_status_e cache_unlink(cache_worker_t *w, const char *key, size_t nkey,
    const cache_async_t *async);

/*
 * incr/decr by `delta`: incr wraps at 2^64, decr floors at 0. The value must
 * be a decimal number (leading digits as memcached's strtoull; a value over
 * 20 digits or with a non-digit is CACHE_NON_NUMERIC). The new value is
 * stored as decimal text (its length may change). *value_out gets the new
 * value, *cas_out (if not NULL) the new cas. CACHE_OK, CACHE_NOT_FOUND,
 * CACHE_NON_NUMERIC or CACHE_NO_MEMORY. Counts incr_/decr_ hits/misses.
 */
cache_status_e cache_arith(cache_worker_t *w, const char *key, size_t nkey,
                           bool incr, uint64_t delta, uint64_t *value_out,
                           uint64_t *cas_out,
    const cache_async_t *async);

/*
 * flush_all: every item stored before now + delay (raw exptime rules;
 * 0 = now) becomes invisible then. O(1): items are checked lazily and
 * reclaimed by the crawler. A later flush_all replaces an earlier pending
 * one, as memcached.
 */
void cache_flush_all(cache_worker_t *w, int64_t exptime);

/* ---- stats ------------------------------------------------------------ */


/*
 * The flash tier's figures (all 0 without one): X(name, description), the
 * names printed by `stats` as they are; the server also prints memcached's
 * extstore_* names where the meaning is the same. The store's own counters
 * come first (flash/flash_stats.h, one list for both), then the ones the
 * door counts or combines.
 */
#define CACHE_FLASH_STATS_FIELDS(X)                                           \
    FLASH_STATS_MIRRORED(X)                                                   \
    X(flash_bytes_used, "device bytes in used segments")                      \
    X(flash_segment_size, "bytes per segment, as the flash file was made")    \
    X(flash_get_hits, "gets answered from flash")                             \
    X(flash_get_misses, "gets that missed RAM and flash")                     \
    X(flash_reads, "block reads issued")                                      \
    X(flash_drops_admission, "evictions not spilled: admission")              \
    X(flash_drops_stall, "evictions dropped: writer behind past stall bound") \
    X(flash_promotions, "flash hits copied back to RAM")                      \
    X(flash_respill_skipped, "evictions not rewritten: unmodified copy on flash") \
    X(flash_age_spills, "items moved to flash for idling over ext_item_age") \
    X(flash_write_queue, "items handed to the writer, still in RAM (gauge)")

/* The parts of cache_memory_outside_limit() (which is their sum), bytes;
 * the memory_flash_* ones are 0 without a flash tier. */
#define CACHE_MEMORY_FIELDS(X)                                                \
    X(memory_hash_table, "RAM tier hash table (grows with the items)")        \
    X(memory_ram_ghosts, "ghost counts of evicted keys (flash tier only)")    \
    X(memory_flash_index, "flash item index (grows with its items)")          \
    X(memory_flash_builders, "segment builders: 2 x (segment + block)")       \
    X(memory_flash_reclaim, "reclaim segment buffer and record scratch")      \
    X(memory_flash_queues, "writer queue, completion list, segment table")    \
    X(memory_flash_workers, "per-worker scratch, hit and read buffers")       \
    X(memory_flash_zstd, "zstd contexts: writer CCtx + DCtx, worker DCtx")    \
    X(memory_flash_dict, "compression dictionary or its trainer")             \
    X(memory_flash_checkpoint, "crash checkpoint key filters, journal page")

typedef struct cache_memory {
#define CACHE_MEMORY_DECLARE(name, desc) uint64_t name;
    CACHE_MEMORY_FIELDS(CACHE_MEMORY_DECLARE)
#undef CACHE_MEMORY_DECLARE
} cache_memory_t;

/* The parts of cache_memory_outside_limit() (its sum). Any thread; O(1). */
void cache_memory_parts(const cache_t *c, cache_memory_t *out);

/* The most the cache may hold in RAM from now on (tiers/cache.c explains
 * each term): items = the item memory (-m, and the first page of every
 * slab class not yet given one: slabs give a class its first page even
 * past -m, as memcached does; 0 when -m is 0, unlimited), parts = every
 * part of cache_memory_parts() at its largest, outside = their sum;
 * nworkers = the cache workers (each has flash read buffers). */
typedef struct cache_memory_max {
    uint64_t items;
    uint64_t items_limit;       /* -m (the limit in force), bytes */
    unsigned first_pages;       /* slab classes still without a page */
    cache_memory_t parts;
    uint64_t outside;
} cache_memory_max_t;

/* Fills *out (above). Any thread; O(slab classes). */
void cache_memory_max(const cache_t *c, unsigned nworkers, cache_memory_max_t *out);

typedef struct cache_stats {
#define CACHE_STATS_DECLARE(name, desc) uint64_t name;
    CACHE_STATS_FIELDS(CACHE_STATS_DECLARE)
    CACHE_FLASH_STATS_FIELDS(CACHE_STATS_DECLARE)
    CACHE_MEMORY_FIELDS(CACHE_STATS_DECLARE) /* as cache_memory_parts() */
#undef CACHE_STATS_DECLARE
    bool flash_enabled; /* a flash tier is configured */
    double flash_compression_ratio;   /* logical / spilled bytes */
    double flash_write_amplification; /* bytes written / bytes spilled */
    const char *flash_recovery;       /* what the last start found: "new",
                                         "clean", "crash" (static string) */
    double flash_recovery_seconds;    /* how long recovery took */
} cache_stats_t;

/* Fills *out with current values (counters summed over workers). Takes the
 * workers' counters without stopping them: totals may be a few ops stale. */
void cache_stats_snapshot(cache_t *c, cache_stats_t *out);

/* stats reset: zeroes counters (not gauges such as curr_items, bytes). */
void cache_stats_reset(cache_t *c);

typedef enum cache_stats_group {
    CACHE_STATS_ITEMS, /* `stats items`: items:<cls>:number ... */
    CACHE_STATS_SLABS, /* `stats slabs`: <cls>:chunk_size ... active_slabs */
    CACHE_STATS_SIZES, /* `stats sizes`: <size> <count> (or disabled) */
} cache_stats_group_e;

/* Emits one stat line's name and value, e.g. ("items:1:number", "42"). */
typedef void (*cache_stat_emit_fn)(void *ctx, const char *name,
                                   const char *value);

/* Emits a `stats items|slabs|sizes` group with memcached's names, in
 * memcached's order. */
void cache_stats_group(cache_t *c, cache_stats_group_e group,
                       cache_stat_emit_fn emit, void *ctx);

/* ---- walking items (stats cachedump, lru_crawler metadump) -------------- */

typedef struct cache_item_meta {
    const char *key;
    size_t nkey;
    int64_t exptime;     /* absolute unix, 0 = never */
    int64_t last_access; /* absolute unix */
    uint64_t cas;
    bool fetched;
    unsigned slab_class;
    size_t nbytes;       /* value bytes */
    size_t total_size;   /* memcached's ITEM_ntotal: 48 + nkey + 1 +
                          * (flags ? 4 : 0) + nbytes + 2 + (cas ? 8 : 0) */
} cache_item_meta_t;

/* Return false to stop the walk. */
typedef bool (*cache_item_visit_fn)(void *ctx, const cache_item_meta_t *m);

/*
 * stats cachedump: visits up to `limit` (0 = all) live items of slab class
 * `slab_class`, from the head of its LRU. CACHE_EINVAL for a bad class.
 * Holds a class lock while visiting: `visit` must be quick and not call back
 * into the cache.
 */
cache_status_e cache_dump_class(cache_t *c, unsigned slab_class,
                                unsigned limit, cache_item_visit_fn visit,
                                void *ctx);

/*
 * lru_crawler metadump all: visits every live item once (items that change
 * during the walk may be missed or seen at their new state). Same locking
 * rules as cache_dump_class().
 */
void cache_walk_items(cache_t *c, cache_item_visit_fn visit, void *ctx);


/*
 * lru_crawler metadump with the flash tier: lists every live item once,
 * the RAM tier through ram_visit (as cache_walk_items, on the caller, same
 * locking rules), then the items that live only on flash through
 * flash_visit (not expired or flushed, no RAM item of the key, not listed
 * by the RAM part). A flash meta has last_access = the time the item was
 * stored (flash keeps no access time), slab_class / total_size = the class
 * the item would take and memcached's ITEM_ntotal.
 * The device is read on a walk thread of the cache's own, never on the
 * worker: with `async` the call returns CACHE_PENDING once the RAM part is
 * done, and `flash_visit` runs ON THE WALK THREAD (it must only touch
 * memory private to the caller, and must not call into the cache);
 * async->done fires on this worker (inside cache_worker_poll) once the
 * walk ended and flash_visit will not be called again. With async NULL
 * the walk runs on the caller, then CACHE_OK. Without a flash tier: the
 * RAM part, then CACHE_OK.
 * CACHE_EXISTS: a flash walk already runs (one at a time, process-wide;
 * memcached answers "BUSY currently processing crawler request"): nothing
 * was visited. CACHE_NO_MEMORY: the flash part could not start (the RAM
 * part was visited). A visit returning false stops its part.
 * Items that move from RAM to flash while the walk runs are listed once
 * if they were already waiting for the flash writer when the RAM part saw
 * them; one evicted after the RAM part passed it (writes during the dump)
 * may be listed twice, and one promoted or set after the flash walk passed
 * it may be missed.
 */
cache_status_e cache_metadump(cache_worker_t *w, cache_item_visit_fn ram_visit, void *ram_ctx,
                              cache_item_visit_fn flash_visit, void *flash_ctx,
                              const cache_async_t *async);

/* ---- eviction events (the server's `watch evictions`) ------------------
 *
 * When settings.on_evict.fn is set and *settings.on_evict.gate is non-zero
 * (one relaxed load per eviction; nothing else when it is zero), every item
 * evicted from RAM is reported once, from the evicting thread (a worker
 * allocating, the LRU maintainer, the page mover) with the key's stripe
 * lock and its class's LRU lock held: the hook must be quick, must not call
 * into the cache, and may use e->key only during the call.
 */

/* ---- notes from the RAM tier implementation (appended) -----------------
 *
 * - cache_dump_class() walks the class's COLD list only, from its head, as
 *   memcached 1.6.18's `stats cachedump` does (fresh items sit in HOT until
 *   the maintainer moves them); it shows linked items even if expired.
 *   memcached prints "ITEM <key> [<nbytes> b; <exptime> s]" with exptime
 *   absolute unix time, 0 for never: exactly cache_item_meta_t.exptime.
 * - cache_walk_items() skips expired and flushed items (as metadump).
 *   memcached's metadump prints exp=-1 for never, else exptime - now
 *   (seconds left), la=last_access (absolute unix), cas, fetch=yes|no,
 *   cls=slab_class, size=total_size.
 * - cache_item_exptime() and meta exptime may be 1 (unix time 1) for an
 *   item stored already expired (negative or past exptime).
 * - cache_started() is the start time minus 2 s (memcached's
 *   process_started is start - 62 s; uptime is the server's business).
 * - incr/decr parse like memcached's safe_strtoull(): leading spaces and a
 *   '+' are fine, any number of leading zeros is fine (so more than 20
 *   characters may be numeric: "0000000000000000000012" incr 1 -> 13), the
 *   digits must end the value or be followed by a space ("12 " ok,
 *   "12abc" non-numeric), overflow beyond 2^64-1 and negative values are
 *   non-numeric. A shorter result is padded with spaces in place when no
 *   one else holds the item ("10" decr 1 -> "9 "), as memcached.
 * - append/prepend whose result is too large (or cannot be allocated)
 *   return CACHE_TOO_LARGE / CACHE_NO_MEMORY; memcached 1.6.18 answers
 *   "NOT_STORED" to both (checked: 600000 + 600000 bytes with -I 1m).
 * - Counters kept by the tier: cmd_set is not in CACHE_STATS_FIELDS; the
 *   per-class set counts (stats slabs cmd_set) count every cache_store(, NULL).
 * - Item sizes (slab class choice, the too-large limit, `bytes`,
 *   mem_requested, metadump size=) are memcached's ITEM_ntotal, so the same
 *   key/value lands in the same class and is refused at the same size as
 *   in memcached 1.6.18 (ram/item.h).
 * - Stats counters of workers are single-writer relaxed atomics (a load and
 *   a store, no lock prefix): never torn, possibly a few ops stale.
 */

/* ---- appended for the meta/binary protocols (server/process_meta.c) ----- */

/*
 * Peeks at a live item in RAM without bumping it, without touching its
 * fetched bit and without counting anything (memcached's item_get with
 * DONT_UPDATE, as `me` and mg's h/l flags use it).
 * Fills *m (m->key is set to NULL: the item is not referenced) and returns
 * CACHE_OK, or CACHE_NOT_FOUND when there is no live RAM item (absent,
 * expired, flushed, or only on flash: the caller decides whether to fall
 * back to cache_get). CACHE_EINVAL for a bad key. Never blocks on IO, never
 * unlinks. O(1), takes the key's stripe lock.
 */
cache_status_e cache_peek(cache_worker_t *w, const char *key, size_t nkey,
                          cache_item_meta_t *m);

/* ---- appended: meta item marks, one-step conditional operations -------- */


/* The marks of a referenced item. */
unsigned cache_item_marks(const cache_item_t *it);

/*
 * ORs `marks` into a referenced item's marks and returns the marks it had
 * before: one atomic step, so of several callers setting TOKEN exactly one
 * sees it clear (mg's win token). On an item not yet stored (from
 * cache_item_alloc) it sets what the stored item will carry.
 */
unsigned cache_item_mark(cache_item_t *it, unsigned marks);

/*
 * mg with the u flag: cache_get (touch false) or cache_get_and_touch (touch
 * true, `exptime` as there), counting the same, but the item is not bumped:
 * its LRU place, fetched / active state and access time stay as they were
 * (memcached's DONT_UPDATE). Same statuses and async contract.
 */
cache_status_e cache_get_nobump(cache_worker_t *w, const char *key,
                                size_t nkey, bool touch, int64_t exptime,
                                cache_item_t **out,
                                const cache_async_t *async);

/* Marks a referenced item fetched, as a get's bump would (mg N: memcached
 * counts the vivifying mg as the item's first fetch). */
void cache_item_set_fetched(cache_item_t *it);

/* What a conditional delete does (cache_delete_ex). */
typedef struct cache_delete_opts {
    bool has_cas;     /* act only if the item's cas equals `cas` (compared
                         literally: 0 matches only a cas of 0) */
    uint64_t cas;
    bool mismatch_is_miss; /* count a cas mismatch in delete_misses (meta
                              md; binary delete counts nothing) */
    bool stale;       /* md I: keep the item, mark it STALE, clear TOKEN,
                         give it a new cas (counts nothing) */
    bool set_exptime; /* with stale: new expiry `exptime` (raw value) */
    int64_t exptime;
} cache_delete_opts_t;

/*
 * delete (or invalidate) with a cas check, compare and act in one step
 * under the key's lock; for a flash-resident item the record is loaded
 * into RAM first and the step runs there (async as the other calls).
 * CACHE_OK, CACHE_NOT_FOUND (counts delete_misses), CACHE_EXISTS (cas
 * mismatch). A plain delete counts delete_hits as cache_delete.
 */
cache_status_e cache_delete_ex(cache_worker_t *w, const char *key, size_t nkey,
                               const cache_delete_opts_t *o,
                               const cache_async_t *async);

/* What a conditional incr/decr does (cache_arith_ex). */
typedef struct cache_arith_opts {
    uint64_t cas;     /* != 0: act only if the item's cas equals it
                         (memcached's do_add_delta: 0 means no check) */
    bool set_exptime; /* meta ma T: after the change, expiry `exptime` */
    int64_t exptime;
    /* If not NULL: gets the item's expiry before the change (absolute
     * unix, 0 = never) when the call completes with CACHE_OK, before
     * done() runs (ma prints t of the old expiry when t precedes T). Must
     * stay valid until then. */
    int64_t *old_exptime_out;
} cache_arith_opts_t;

/*
 * cache_arith plus a cas check and a new expiry, all in one step under the
 * key's lock (flash-resident items: loaded first, as cache_delete_ex).
 * CACHE_EXISTS on a cas mismatch (counts nothing, as memcached); otherwise
 * as cache_arith (value and cas through the out parameters or, when
 * PENDING, result->value / result->cas).
 */
cache_status_e cache_arith_ex(cache_worker_t *w, const char *key, size_t nkey,
                              bool incr, uint64_t delta,
                              const cache_arith_opts_t *o, uint64_t *value_out,
                              uint64_t *cas_out, const cache_async_t *async);

/*
 * Access facts of a referenced item, for meta `mg h/l` and `me`:
 * *fetched (read before), *last_access (absolute unix; 0 = unknown: an
 * item read from flash, whose record keeps no access history) and
 * *slab_class / *total_size (the class it is or would be stored in, and
 * memcached's ITEM_ntotal).
 */
void cache_item_access(cache_worker_t *w, const cache_item_t *it,
                       bool *fetched, int64_t *last_access,
                       unsigned *slab_class, size_t *total_size);

/* ---- slab page moves ---- */

typedef enum cache_reassign {
    CACHE_REASSIGN_OK = 0,   /* "OK": the page moved */
    CACHE_REASSIGN_BUSY,     /* "BUSY ...": a move runs, or items stayed busy */
    CACHE_REASSIGN_BADCLASS, /* "BADCLASS ..." */
    CACHE_REASSIGN_NOSPARE,  /* "NOSPARE ..." */
    CACHE_REASSIGN_SAME,     /* "SAME ..." */
    CACHE_REASSIGN_DISABLED, /* slab_reassign is off */
} cache_reassign_e;

/*
 * memcached's `slabs reassign src dst`: moves one page of class src (-1:
 * any class with 2+ pages) to class dst (0: the global page pool), evicting
 * or rescuing the items in it. Done before returning (memcached replies OK
 * first and moves in the background): bounded to ~100 ms of waiting for
 * busy items, then CACHE_REASSIGN_BUSY with nothing moved. Thread-safe.
 */
cache_reassign_e cache_slabs_reassign(cache_t *c, int src, int dst);

/* ---- the memory limit at run time (cache_memlimit) ---- */

/*
 * memcached's `cache_memlimit`: sets the item memory limit (mem_limit,
 * `stats` limit_maxbytes) to `bytes`. Growing takes effect at once:
 * classes may take more pages. Shrinking: no page is handed out over the
 * new limit from now on, free pages over it are released at once, and
 * whole slab pages are then freed until total_malloced is within the
 * limit (or every class is down to its last page, the bound of
 * ram/slabs.h); the items in those pages are rescued into free chunks of
 * their class when there are some, else evicted as the LRU evicts: with a
 * flash tier they spill to flash (still readable), without one they are
 * dropped (counted in `evictions` and slab_reassign_evictions_nomem).
 * That work is done by the maintainer thread in the background (steps of
 * ~50 ms, starting within a second; memcached's reply does not wait
 * either); without a maintainer thread it is done before returning.
 * CACHE_OK, or CACHE_EINVAL for 0 bytes, or when the memory was allocated
 * at start (slab_prealloc, memcached's -L: it refuses too). Thread-safe.
 */
cache_status_e cache_mem_limit_set(cache_t *c, size_t bytes);

/* The item memory limit in force, bytes (-m, or the last
 * cache_mem_limit_set). Thread-safe. */
size_t cache_mem_limit(cache_t *c);

/* `slabs automove <level>`: 0 off, 1, 2 (caller validates the level). */
void cache_slabs_automove_set(cache_t *c, unsigned level);
/* The level set (as memcached, shown even while slab_reassign is off,
 * when the automover does nothing). */
unsigned cache_slabs_automove(const cache_t *c);
/* `slabs automove ratio <r>` (0.8 at start) and its current value. */
void cache_slabs_automove_ratio_set(cache_t *c, double ratio);
double cache_slabs_automove_ratio(const cache_t *c);

#endif /* TIERCACHE_CACHE_H */
