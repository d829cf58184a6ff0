/*
 * tiers/cache.c - the door (cache.h) over the RAM tier (ram/).
 *
 * Owns the cache_t (RAM tier + its threads + worker registry + the flash
 * glue, tiering.h, when a flash tier is configured) and the
 * cache_worker_t (one worker's counters; types in cache_int.h). Stats are
 * assembled in cache_stats.c.
 * Without a flash tier every call goes straight to ram/ as before.
 *
 * Lock order: cache_t.wlock (worker list, retired and reset baselines) is
 * taken before any tier lock (stats walk LRU locks while holding it) and
 * never while holding one. cache_slabs_reassign holds no lock of its own
 * (ram/ram.h has the tier's order, slab move_lock first).
 */
#include "cache.h"
#include "cache_int.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ram/memfile.h"
#include "ram/ram.h"
#include "ram/threads.h"
#include "tiering.h"

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
    if (s->err && s->err_len)
        s->err[0] = '\0';
    if (s->flash.path && *s->flash.path) {
        st = tier_create(&c->tier, &c->ram, s);
        if (st != CACHE_OK) {
            ram_teardown(&c->ram);
            free(c);
            return st;
        }
    }
    if (!c->tier && s->memory_file && *s->memory_file) {
        char note[1024];
        c->memory_file = strdup(s->memory_file);
        st = c->memory_file ? memfile_start(&c->ram, s->memory_file, note, sizeof note)
                            : CACHE_NO_MEMORY;
        if (s->err && s->err_len && st != CACHE_NO_MEMORY)
            snprintf(s->err, s->err_len, "%s", note);
        if (st != CACHE_OK) {
            free(c->memory_file);
            ram_teardown(&c->ram);
            free(c);
            return st;
        }
    }
    if (!c->tier && s->ram.flash_item_age != UINT32_MAX && s->err && s->err_len) {
        /* memcached's ext_item_age only moves items to extstore: without
         * a flash tier there is nowhere to move them (nothing is weaker) */
        size_t n = strlen(s->err);
        snprintf(s->err + n, s->err_len - n, "%sext_item_age=%u has no effect: no flash tier "
                 "(--flash-path) to move idle items to",
                 n ? "; " : "", s->ram.flash_item_age);
    }
    pthread_mutex_init(&c->wlock, NULL);
    if (!ram_threads_start(&c->threads, &c->ram)) {
        pthread_mutex_destroy(&c->wlock);
        free(c->memory_file);
        tier_destroy(&c->tier);
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
    if (c->tier && c->unstarted)
        tier_destroy_unstarted(&c->tier);
    else if (c->tier)
        tier_persist(c->tier); /* a clean stop: the next start is warm */
    tier_destroy(&c->tier); /* the writer finishes its pending items */
    if (c->memory_file && atomic_load(&c->graceful))
        memfile_stop(&c->ram, c->memory_file); /* memcached's -e, ram/memfile.h */
    free(c->memory_file);
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
    if (c->tier) {
        cache_status_e st = tier_worker_create(c->tier, &w->st, &w->tw);
        if (st != CACHE_OK) {
            free(w);
            return st;
        }
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

static inline bool key_ok(const char *key, size_t nkey)
{
    return key && nkey > 0 && nkey <= CACHE_KEY_MAX;
}

/* ---- reads ---- */

cache_status_e cache_get(cache_worker_t *w, const char *key, size_t nkey,
                         cache_item_t **out,
    const cache_async_t *async)
{
    if (!key_ok(key, nkey))
        return CACHE_EINVAL;
    if (w->tw)
        return tier_get(w->tw, RAM_GET, key, nkey, 0, 0, out, async);
    return ram_get(&w->c->ram, &w->st, key, nkey, RAM_GET, 0, out, 0);
}

cache_status_e cache_get_and_touch(cache_worker_t *w, const char *key,
                                   size_t nkey, int64_t exptime,
                                   cache_item_t **out,
    const cache_async_t *async)
{
    if (!key_ok(key, nkey))
        return CACHE_EINVAL;
    ram_t *r = &w->c->ram;
    if (w->tw) {
        tier_note_mutation(w->c->tier, key, nkey);
        return tier_get(w->tw, RAM_GAT, key, nkey, ram_realtime(r, exptime), 0, out,
                        async);
    }
    return ram_get(r, &w->st, key, nkey, RAM_GAT, ram_realtime(r, exptime), out, 0);
}

cache_status_e cache_get_nobump(cache_worker_t *w, const char *key,
                                size_t nkey, bool touch, int64_t exptime,
                                cache_item_t **out,
                                const cache_async_t *async)
{
    if (!key_ok(key, nkey))
        return CACHE_EINVAL;
    ram_t *r = &w->c->ram;
    ram_get_mode_e mode = touch ? RAM_GAT : RAM_GET;
    rel_time_t t = touch ? ram_realtime(r, exptime) : 0;
    if (w->tw) {
        if (touch)
            tier_note_mutation(w->c->tier, key, nkey);
        return tier_get(w->tw, mode, key, nkey, t, RAM_F_NOBUMP, out, async);
    }
    return ram_get(r, &w->st, key, nkey, mode, t, out, RAM_F_NOBUMP);
}

cache_status_e cache_touch(cache_worker_t *w, const char *key, size_t nkey,
                           int64_t exptime,
    const cache_async_t *async)
{
    if (!key_ok(key, nkey))
        return CACHE_EINVAL;
    ram_t *r = &w->c->ram;
    if (w->tw) {
        tier_note_mutation(w->c->tier, key, nkey);
        return tier_get(w->tw, RAM_TOUCH, key, nkey, ram_realtime(r, exptime), 0, NULL,
                        async);
    }
    return ram_get(r, &w->st, key, nkey, RAM_TOUCH, ram_realtime(r, exptime), NULL, 0);
}

/* ---- writes ---- */

cache_status_e cache_item_alloc(cache_worker_t *w, const char *key,
                                size_t nkey, uint32_t flags, int64_t exptime,
                                size_t nbytes, cache_item_t **out)
{
    *out = NULL;
    if (!key_ok(key, nkey))
        return CACHE_EINVAL;
    ram_t *r = &w->c->ram;
    cache_status_e st;
    if (w->tw)
        *out = tier_item_alloc(w->tw, key, nkey, flags, ram_realtime(r, exptime), nbytes,
                               &st);
    else
        *out = ram_item_alloc(r, &w->st, key, nkey, flags, ram_realtime(r, exptime),
                              nbytes, 0, NULL, &st);
    return st;
}

cache_status_e cache_store(cache_worker_t *w, cache_item_t *it,
                           cache_store_op_e op, uint64_t cas_in,
                           uint64_t *cas_out,
    const cache_async_t *async)
{
    if (w->tw) {
        tier_note_mutation(w->c->tier, item_ckey(it), item_nkey(it));
        return tier_store(w->tw, it, op, cas_in, cas_out, async);
    }
    return ram_store(&w->c->ram, &w->st, it, op, cas_in, cas_out, 0, NULL);
}

cache_status_e cache_delete(cache_worker_t *w, const char *key, size_t nkey,
    const cache_async_t *async)
{
    if (!key_ok(key, nkey))
        return CACHE_EINVAL;
    if (w->tw) {
        tier_note_mutation(w->c->tier, key, nkey);
        return tier_delete(w->tw, key, nkey, true, async);
    }
    return ram_delete(&w->c->ram, &w->st, key, nkey, true, 0);
}

cache_status_e cache_unlink(cache_worker_t *w, const char *key, size_t nkey,
    const cache_async_t *async)
{
    if (!key_ok(key, nkey))
        return CACHE_EINVAL;
    if (w->tw) {
        tier_note_mutation(w->c->tier, key, nkey);
        return tier_delete(w->tw, key, nkey, false, async);
    }
    return ram_delete(&w->c->ram, &w->st, key, nkey, false, 0);
}

cache_status_e cache_arith(cache_worker_t *w, const char *key, size_t nkey,
                           bool incr, uint64_t delta, uint64_t *value_out,
                           uint64_t *cas_out,
    const cache_async_t *async)
{
    if (!key_ok(key, nkey))
        return CACHE_EINVAL;
    if (w->tw) {
        tier_note_mutation(w->c->tier, key, nkey);
        return tier_arith(w->tw, key, nkey, incr, delta, value_out, cas_out, async);
    }
    return ram_arith(&w->c->ram, &w->st, key, nkey, incr, delta, value_out, cas_out, 0,
                     NULL);
}

void cache_flush_all(cache_worker_t *w, int64_t exptime)
{
    ram_flush_all(&w->c->ram, exptime);
    if (w->c->tier)
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
    if (!w->tw) {
        cache_walk_items(c, ram_visit, ram_ctx);
        return CACHE_OK;
    }
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

int cache_worker_fd(const cache_worker_t *w)
{
    return w->tw ? tier_worker_fd(w->tw) : -1;
}

void cache_worker_poll(cache_worker_t *w)
{
    if (w->tw)
        tier_worker_poll(w->tw);
}

size_t cache_memory_outside_limit(const cache_t *c)
{
    /* cast: hash_buckets() takes a non-const table (a relaxed load) */
    size_t m = hash_buckets((hash_t *)&c->ram.hash) * sizeof(item_t *);
    if (c->tier)
        m += tier_memory(c->tier);
    return m;
}

/* ---- peek (appended: meta/binary protocols) ---- */

cache_status_e cache_peek(cache_worker_t *w, const char *key, size_t nkey,
                          cache_item_meta_t *m)
{
    if (!key_ok(key, nkey))
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

/* An async keyed call through the flash glue: the carrier holds the
 * results until the glue's done fires. */
typedef struct keyed_call {
    cache_worker_t *w;
    item_t *carrier;
    int64_t *old_exptime_out;
    cache_async_t user;
} keyed_call_t;

static void keyed_done(void *ctx, cache_result_t *res)
{
    keyed_call_t *kc = ctx;
    ram_keyed_t k;
    ram_keyed_read(kc->carrier, &k);
    if (res->status == CACHE_OK) {
        res->value = k.value_out;
        res->cas = k.cas_out;
        if (kc->old_exptime_out)
            *kc->old_exptime_out = k.old_exptime;
    }
    ram_item_release(&kc->w->c->ram, kc->carrier);
    cache_async_t user = kc->user;
    free(kc);
    user.done(user.ctx, res);
}

/* Runs k: straight in RAM without a flash tier, else as a store of a
 * carrier (ram.h, "keyed conditional operations"). On a final status the
 * results are in *k. */
static cache_status_e keyed_run(cache_worker_t *w, const char *key, size_t nkey,
                                ram_keyed_t *k, int64_t *old_exptime_out,
                                const cache_async_t *async)
{
    if (!w->tw)
        return ram_keyed(&w->c->ram, &w->st, key, nkey, k, 0, NULL);
    tier_note_mutation(w->c->tier, key, nkey);
    item_t *carrier = ram_keyed_carrier(key, nkey, k);
    if (!carrier)
        return CACHE_NO_MEMORY;
    keyed_call_t *kc = NULL;
    cache_async_t a;
    if (async) {
        kc = malloc(sizeof *kc);
        if (!kc) {
            ram_item_release(&w->c->ram, carrier);
            return CACHE_NO_MEMORY;
        }
        kc->w = w;
        kc->carrier = carrier;
        kc->old_exptime_out = old_exptime_out;
        kc->user = *async;
        a.done = keyed_done;
        a.ctx = kc;
    }
    uint64_t cas = 0;
    cache_status_e st = tier_store(w->tw, carrier, RAM_STORE_KEYED, 0, &cas,
                                   async ? &a : NULL);
    if (st == CACHE_PENDING)
        return st; /* kc owns the carrier now */
    ram_keyed_read(carrier, k);
    free(kc);
    ram_item_release(&w->c->ram, carrier);
    return st;
}

cache_status_e cache_delete_ex(cache_worker_t *w, const char *key, size_t nkey,
                               const cache_delete_opts_t *o,
                               const cache_async_t *async)
{
    if (!key_ok(key, nkey))
        return CACHE_EINVAL;
    ram_keyed_t k = {
        .kind = RAM_KEYED_DELETE,
        .has_cas = o->has_cas,
        .cas = o->cas,
        .mismatch_is_miss = o->mismatch_is_miss,
        .stale = o->stale,
        .set_exptime = o->set_exptime,
        .exptime = o->set_exptime ? ram_realtime(&w->c->ram, o->exptime) : 0,
    };
    return keyed_run(w, key, nkey, &k, NULL, async);
}

cache_status_e cache_arith_ex(cache_worker_t *w, const char *key, size_t nkey,
                              bool incr, uint64_t delta,
                              const cache_arith_opts_t *o, uint64_t *value_out,
                              uint64_t *cas_out, const cache_async_t *async)
{
    if (!key_ok(key, nkey))
        return CACHE_EINVAL;
    ram_keyed_t k = {
        .kind = RAM_KEYED_ARITH,
        .has_cas = o->cas != 0,
        .cas = o->cas,
        .set_exptime = o->set_exptime,
        .exptime = o->set_exptime ? ram_realtime(&w->c->ram, o->exptime) : 0,
        .incr = incr,
        .delta = delta,
    };
    cache_status_e st = keyed_run(w, key, nkey, &k, o->old_exptime_out, async);
    if (st == CACHE_OK) {
        if (value_out)
            *value_out = k.value_out;
        if (cas_out)
            *cas_out = k.cas_out;
        if (o->old_exptime_out)
            *o->old_exptime_out = k.old_exptime;
    }
    return st;
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
