/*
 * tiers/cache.c - the door (cache.h): the cache's life cycle, its
 * workers, item accessors, walks and the RAM tier's admin commands.
 *
 * Owns the cache_t (RAM tier + its threads + worker registry + the tier
 * policy, policy.h) and the cache_worker_t (one worker's counters and
 * request engine; types in cache_int.h). The keyed operations are the
 * request engine's (engine.c); stats are assembled in cache_stats.c.
 *
 * Lock order: cache_t.wlock (worker list, retired and reset baselines) is
 * taken before any tier lock (stats walk LRU locks while holding it) and
 * never while holding one. cache_slabs_reassign holds no lock of its own
 * (ram/ram.h has the tier's order, slab move_lock first).
 */
#include "cache.h"
#include "cache_int.h"
#include "engine_int.h" /* cache_memory_max: the flash tier's maxima */

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ram/ram.h"
#include "ram/threads.h"
#include "policy.h"

const char *cache_strerror(cache_status_e status)
{
    switch (status) {
    case CACHE_OK: return "ok";
    case CACHE_NOT_FOUND: return "not found";
    case CACHE_EXISTS: return "exists";
    case CACHE_NOT_STORED: return "not stored";
    case CACHE_TOO_LARGE: return "too large";
    case CACHE_NO_MEMORY: return "out of memory";
    case CACHE_NON_NUMERIC: return "non-numeric value";
    case CACHE_PENDING: return "pending";
    case CACHE_EINVAL: return "invalid argument";
    }
    return "unknown status";
}

cache_status_e cache_create(cache_t **out, const cache_settings_t *s)
{
    *out = NULL;
    cache_t *c = calloc(1, sizeof *c);
    if (!c)
        return CACHE_NO_MEMORY;
    cache_status_e st = ram_init(&c->ram, &s->ram);
    if (st != CACHE_OK) {
        free(c);
        return st;
    }
    st = tier_start(&c->tier, &c->ram, s); /* flash, or -e; notes in s->err */
    if (st != CACHE_OK) {
        ram_teardown(&c->ram);
        free(c);
        return st;
    }
    pthread_mutex_init(&c->wlock, NULL);
    if (!ram_threads_start(&c->threads, &c->ram)) {
        pthread_mutex_destroy(&c->wlock);
        tier_stop(&c->tier, true, false);
        ram_teardown(&c->ram);
        free(c);
        return CACHE_NO_MEMORY;
    }
    *out = c;
    return CACHE_OK;
}

void cache_destroy(cache_t **cp)
{
    if (!cp || !*cp)
        return;
    cache_t *c = *cp;
    ram_threads_stop(&c->threads);
    /* Workers should be gone; free any left so nothing leaks. */
    while (c->workers) {
        cache_worker_t *w = c->workers;
        c->workers = w->next;
        tier_worker_destroy(&w->tw);
        free(w);
    }
    /* a clean stop: the next start is warm */
    tier_stop(&c->tier, c->unstarted, atomic_load(&c->graceful));
    ram_teardown(&c->ram);
    pthread_mutex_destroy(&c->wlock);
    free(c);
    *cp = NULL;
}

void cache_destroy_unstarted(cache_t **cp)
{
    if (!cp || !*cp)
        return;
    (*cp)->unstarted = true;
    cache_destroy(cp);
}

cache_status_e cache_worker_create(cache_t *c, cache_worker_t **out)
{
    *out = NULL;
    cache_worker_t *w = calloc(1, sizeof *w);
    if (!w)
        return CACHE_NO_MEMORY;
    w->c = c;
    cache_status_e st = tier_worker_create(c->tier, &w->st, &w->tw);
    if (st != CACHE_OK) {
        free(w);
        return st;
    }
    pthread_mutex_lock(&c->wlock);
    w->next = c->workers;
    if (w->next)
        w->next->prev = w;
    c->workers = w;
    pthread_mutex_unlock(&c->wlock);
    *out = w;
    return CACHE_OK;
}

void cache_worker_destroy(cache_worker_t **wp)
{
    if (!wp || !*wp)
        return;
    cache_worker_t *w = *wp;
    cache_t *c = w->c;
    tier_worker_destroy(&w->tw); /* completes what is in flight */
    pthread_mutex_lock(&c->wlock);
    ram_wstats_sum(&w->st, &c->retired);
    if (w->prev)
        w->prev->next = w->next;
    else
        c->workers = w->next;
    if (w->next)
        w->next->prev = w->prev;
    pthread_mutex_unlock(&c->wlock);
    free(w);
    *wp = NULL;
}

void cache_set_graceful_stop(cache_t *c)
{
    if (c)
        atomic_store(&c->graceful, true);
}

int64_t cache_now(const cache_t *c) { return ram_unix_now(&c->ram); }
int64_t cache_started(const cache_t *c) { return c->ram.started; }

/* ---- items ---- */

const char *cache_item_key(const cache_item_t *it) { return item_ckey(it); }
size_t cache_item_nkey(const cache_item_t *it) { return item_nkey(it); }
const char *cache_item_value(const cache_item_t *it) { return item_cvalue(it); }
size_t cache_item_nbytes(const cache_item_t *it) { return it->nbytes; }
uint32_t cache_item_flags(const cache_item_t *it) { return item_flags_get(it); }
uint64_t cache_item_cas(const cache_item_t *it) { return it->cas; }
char *cache_item_data(cache_item_t *it) { return item_value(it); }

int64_t cache_item_exptime(const cache_item_t *it)
{
    /* Item times are unix seconds already; 1 means "already expired". */
    return (int64_t)it->exptime;
}

void cache_item_release(cache_worker_t *w, cache_item_t **it)
{
    if (!it || !*it)
        return;
    ram_item_release(&w->c->ram, *it);
    *it = NULL;
}

void cache_flush_all(cache_worker_t *w, int64_t exptime)
{
    ram_flush_all(&w->c->ram, exptime);
    tier_flush(w->c->tier);
}

/* ---- walking items ---- */

static void fill_meta(cache_item_meta_t *m, const item_t *it)
{
    m->key = item_ckey(it);
    m->nkey = item_nkey(it);
    m->exptime = it->exptime;
    m->last_access = it->time;
    m->cas = it->cas;
    m->fetched = (item_iflags(it) & ITEM_FETCHED) != 0;
    m->slab_class = it->clsid;
    m->nbytes = it->nbytes;
    m->total_size = item_ntotal(it);
}

cache_status_e cache_dump_class(cache_t *c, unsigned slab_class,
                                unsigned limit, cache_item_visit_fn visit,
                                void *ctx)
{
    ram_t *r = &c->ram;
    if (slab_class < 1 || slab_class > r->slabs.largest)
        return CACHE_EINVAL;
    lru_class_t *l = &r->lru[slab_class];
    unsigned shown = 0;
    pthread_mutex_lock(&l->lock);
    /* memcached 1.6 dumps the class's COLD list only, from its head. */
    for (item_t *it = l->head[LRU_COLD]; it && (limit == 0 || shown < limit); it = it->next) {
        cache_item_meta_t m;
        fill_meta(&m, it);
        shown++;
        if (!visit(ctx, &m))
            break;
    }
    pthread_mutex_unlock(&l->lock);
    return CACHE_OK;
}

typedef struct walk_ctx {
    ram_t *r;
    rel_time_t now;
    cache_item_visit_fn visit;
    void *ctx;
} walk_ctx_t;

static bool walk_one(void *arg, item_t *it, uint64_t hv)
{
    (void)hv;
    walk_ctx_t *wc = arg;
    if ((it->exptime != 0 && it->exptime < wc->now) || ram_item_is_flushed(wc->r, it, wc->now))
        return true; /* memcached's metadump skips expired and flushed */
    cache_item_meta_t m;
    fill_meta(&m, it);
    return wc->visit(wc->ctx, &m);
}

void cache_walk_items(cache_t *c, cache_item_visit_fn visit, void *ctx)
{
    walk_ctx_t wc = {.r = &c->ram, .now = ram_now(&c->ram), .visit = visit, .ctx = ctx};
    uint64_t pos = 0;
    while (hash_walk_step(&c->ram.hash, &pos, 256, walk_one, &wc))
        ;
}

/* The RAM part of a metadump: also notes the hashes of the items waiting
 * for the flash writer (they may be on flash, and gone from RAM, by the
 * time the flash part looks). */
typedef struct md_ctx {
    walk_ctx_t wc;
    uint64_t *pending;
    size_t npending, cap;
    bool nomem;
} md_ctx_t;

static bool md_one(void *arg, item_t *it, uint64_t hv)
{
    md_ctx_t *md = arg;
    if (item_lru(it) == LRU_PENDING && !md->nomem) {
        if (md->npending == md->cap) {
            size_t cap = md->cap ? md->cap * 2 : 1024;
            uint64_t *np = realloc(md->pending, cap * sizeof *np);
            if (np) {
                md->pending = np;
                md->cap = cap;
            } else {
                md->nomem = true;
            }
        }
        if (!md->nomem)
            md->pending[md->npending++] = hv;
    }
    return walk_one(&md->wc, it, hv);
}

cache_status_e cache_metadump(cache_worker_t *w, cache_item_visit_fn ram_visit, void *ram_ctx,
                              cache_item_visit_fn flash_visit, void *flash_ctx,
                              const cache_async_t *async)
{
    cache_t *c = w->c;
    if (!tier_walk_claim(c->tier))
        return CACHE_EXISTS;
    md_ctx_t md = {
        .wc = {.r = &c->ram, .now = ram_now(&c->ram), .visit = ram_visit, .ctx = ram_ctx},
    };
    uint64_t pos = 0;
    while (hash_walk_step(&c->ram.hash, &pos, 256, md_one, &md))
        ;
    cache_status_e st = tier_walk(w->tw, flash_visit, flash_ctx, md.pending, md.npending, async);
    free(md.pending);
    return st;
}

void cache_memory_parts(const cache_t *c, cache_memory_t *out)
{
    memset(out, 0, sizeof *out);
    /* cast: hash_buckets() takes a non-const table (a relaxed load) */
    out->memory_hash_table = hash_buckets((hash_t *)&c->ram.hash) * sizeof(item_t *);
    tier_memory_parts(c->tier, out);
}

size_t cache_memory_outside_limit(const cache_t *c)
{
    cache_memory_t m;
    cache_memory_parts(c, &m);
    uint64_t sum = 0;
#define CACHE_MEMORY_SUM(name, desc) sum += m.name;
    CACHE_MEMORY_FIELDS(CACHE_MEMORY_SUM)
#undef CACHE_MEMORY_SUM
    return (size_t)sum;
}

/*
 * The memory budget's cache terms (issue 14 item 5: RSS within the printed
 * budget). Each is the most its part can reach, not what it holds now:
 * - items: slabs allocate a page while the pages total at most -m, and a
 *   class's first page whatever the total (memcached's rule), so the pages
 *   reach at most max(now, -m) + one page for every class without one.
 * - hash table: every RAM item is at least the smallest chunk, so at most
 *   items / smallest chunk of them; the table doubles when it holds more
 *   than 1.5 items per bucket, and while it doubles the old table (half
 *   the new one's size) is still allocated: 1.5 x the largest table.
 * - ghosts: a fixed table (flash tier only).
 * - the flash tier's parts at their largest: flash_memory_max().
 */
void cache_memory_max(const cache_t *c, unsigned nworkers, cache_memory_max_t *out)
{
    memset(out, 0, sizeof *out);
    slabs_t *sl = (slabs_t *)&c->ram.slabs; /* class info takes the locks */
    size_t limit = slabs_mem_limit(sl);
    size_t malloced = slabs_total_malloced(sl);
    uint64_t first = 0;
    size_t smallest = 0;
    for (unsigned id = 1; id <= sl->largest; id++) {
        slabs_class_info_t ci;
        slabs_class_info(sl, id, &ci);
        if (smallest == 0 || (ci.chunk_size > 0 && ci.chunk_size < smallest))
            smallest = ci.chunk_size;
        if (ci.total_pages == 0) {
            first += ci.page_bytes;
            out->first_pages++;
        }
    }
    out->items_limit = limit;
    out->items = limit == 0 ? 0 : (malloced > limit ? malloced : limit) + first;
    cache_memory_t now;
    cache_memory_parts(c, &now);
    uint64_t table = now.memory_hash_table;
    if (out->items > 0 && smallest > 0) {
        uint64_t nitems = out->items / smallest;
        uint64_t buckets = 16;
        while (buckets * 3 / 2 < nitems && buckets < ((uint64_t)1 << 32))
            buckets <<= 1;
        if (buckets * sizeof(item_t *) * 3 / 2 > table)
            table = buckets * sizeof(item_t *) * 3 / 2;
    }
    out->parts.memory_hash_table = table;
    out->parts.memory_ram_ghosts = now.memory_ram_ghosts;
    if (c->tier->f) {
        flash_memory_parts_t p;
        flash_memory_max(c->tier->f, nworkers, &p);
        out->parts.memory_flash_index = p.index;
        out->parts.memory_flash_builders = p.builders;
        out->parts.memory_flash_reclaim = p.reclaim;
        out->parts.memory_flash_queues = p.queues;
        out->parts.memory_flash_workers = p.workers;
        out->parts.memory_flash_zstd = p.zstd;
        out->parts.memory_flash_dict = p.dict;
        out->parts.memory_flash_checkpoint = p.checkpoint;
    }
#define CACHE_MEMORY_MAX_SUM(name, desc) out->outside += out->parts.name;
    CACHE_MEMORY_FIELDS(CACHE_MEMORY_MAX_SUM)
#undef CACHE_MEMORY_MAX_SUM
}

/* ---- peek (appended: meta/binary protocols) ---- */

cache_status_e cache_peek(cache_worker_t *w, const char *key, size_t nkey,
                          cache_item_meta_t *m)
{
    if (!key || nkey == 0 || nkey > CACHE_KEY_MAX)
        return CACHE_EINVAL;
    ram_t *r = &w->c->ram;
    uint64_t hv = hash_key(key, nkey);
    rel_time_t now = ram_now(r);
    cache_status_e st = CACHE_NOT_FOUND;
    hash_lock(&r->hash, hv);
    item_t *it = do_hash_find(&r->hash, key, nkey, hv);
    if (it && !ram_item_is_flushed(r, it, now) &&
        !(it->exptime != 0 && it->exptime <= now)) {
        fill_meta(m, it);
        m->key = NULL;
        st = CACHE_OK;
    }
    hash_unlock(&r->hash, hv);
    return st;
}

/* ---- meta marks and keyed conditional operations (appended) ---- */

unsigned cache_item_marks(const cache_item_t *it) { return item_marks(it); }

unsigned cache_item_mark(cache_item_t *it, unsigned marks)
{
    return item_marks_or(it, marks);
}

void cache_item_set_fetched(cache_item_t *it)
{
    if (!(item_iflags(it) & ITEM_FETCHED))
        item_set_iflag(it, ITEM_FETCHED);
}

void cache_item_access(cache_worker_t *w, const cache_item_t *it, bool *fetched,
                       int64_t *last_access, unsigned *slab_class, size_t *total_size)
{
    *fetched = (item_iflags(it) & ITEM_FETCHED) != 0;
    *last_access = (int64_t)it->time;
    *total_size = item_ntotal(it);
    *slab_class = it->clsid ? it->clsid : slabs_clsid(&w->c->ram.slabs, *total_size);
}

cache_reassign_e cache_slabs_reassign(cache_t *c, int src, int dst)
{
    if (!c->ram.set.slab_reassign)
        return CACHE_REASSIGN_DISABLED;
    switch (ram_slabs_reassign(&c->ram, src, dst)) {
    case RAM_MOVE_OK: return CACHE_REASSIGN_OK;
    case RAM_MOVE_BUSY: return CACHE_REASSIGN_BUSY;
    case RAM_MOVE_BADCLASS: return CACHE_REASSIGN_BADCLASS;
    case RAM_MOVE_NOSPARE: return CACHE_REASSIGN_NOSPARE;
    case RAM_MOVE_SAME: return CACHE_REASSIGN_SAME;
    }
    return CACHE_REASSIGN_BUSY;
}

cache_status_e cache_mem_limit_set(cache_t *c, size_t bytes)
{
    if (bytes == 0 || c->ram.set.slab_prealloc)
        return CACHE_EINVAL;
    ram_mem_limit_set(&c->ram, bytes);
    if (c->ram.set.maintainer_thread)
        return CACHE_OK; /* it shrinks (ram/threads.c) */
    /* no maintainer: shrink now, bounded (pages that stay busy are left
     * over the limit; a later call tries again) */
    for (int round = 0; round < 50; round++) {
        if (ram_mem_shrink(&c->ram, 100) != RAM_SHRINK_MORE)
            break;
    }
    return CACHE_OK;
}

size_t cache_mem_limit(cache_t *c)
{
    return ram_mem_limit(&c->ram);
}

void cache_slabs_automove_set(cache_t *c, unsigned level)
{
    ram_automove_set(&c->ram, level);
}

unsigned cache_slabs_automove(const cache_t *c)
{
    return ram_automove_get(&c->ram);
}

void cache_slabs_automove_ratio_set(cache_t *c, double ratio)
{
    ram_automove_ratio_set(&c->ram, ratio);
}

double cache_slabs_automove_ratio(const cache_t *c)
{
    return ram_automove_ratio_get(&c->ram);
}
