/*
 * tiers/tier_walk.c - the flash walk behind lru_crawler metadump
 * (policy.h: tier_walk_claim, tier_walk; engine_int.h:
 * tier_walk_finish). Without a flash tier there is nothing to walk: no
 * claim is needed and the walk ends at once.
 */
#include "engine_int.h"
#include "policy.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the flash walk (lru_crawler metadump) ----
 *
 * tier_walk starts a thread of its own that runs flash_walk (blocking
 * preads) and hands each live record, after the RAM checks below, to the
 * caller's visit (on that thread). When it ends it sets tw->walk_done and
 * writes the worker's eventfd; tier_worker_poll then joins it and calls
 * the done callback on the worker. One walk at a time (t->walk_busy).
 * A record is dropped if its key has a RAM item (the RAM walk lists that
 * one; a promoted unmodified copy exists in both), if it is expired or
 * flushed by the RAM tier's rules, or if its hash was listed already: by
 * this walk (a record reclaim rewrote ahead of the walk) or by the RAM walk
 * just before (the `skip` hashes: items that were waiting for the flash
 * writer then, and may have left RAM since).
 */
struct tier_walk {
    tier_t *t;
    tier_worker_t *tw;
    cache_item_visit_fn visit;
    void *ctx;
    cache_async_t async;
    pthread_t thr;
    uint64_t *seen;            /* open addressing, 0 = empty */
    size_t seen_cap, seen_n;
    bool seen_zero;            /* hash 0 was listed */
    bool seen_nomem;           /* the set could not grow: no dedup */
};

/* True if `h` was listed already; else records it. */
static bool seen_check(tier_walk_t *wk, uint64_t h)
{
    if (h == 0) {
        bool was = wk->seen_zero;
        wk->seen_zero = true;
        return was;
    }
    if (wk->seen_nomem)
        return false;
    if ((wk->seen_n + 1) * 2 > wk->seen_cap) {
        size_t cap = wk->seen_cap ? wk->seen_cap * 2 : 4096;
        uint64_t *ns = calloc(cap, sizeof *ns);
        if (!ns) {
            wk->seen_nomem = true;
            return false;
        }
        for (size_t i = 0; i < wk->seen_cap; i++) {
            uint64_t v = wk->seen[i];
            if (!v)
                continue;
            size_t j = (size_t)(v % cap);
            while (ns[j])
                j = (j + 1) % cap;
            ns[j] = v;
        }
        free(wk->seen);
        wk->seen = ns;
        wk->seen_cap = cap;
    }
    size_t j = (size_t)(h % wk->seen_cap);
    while (wk->seen[j]) {
        if (wk->seen[j] == h)
            return true;
        j = (j + 1) % wk->seen_cap;
    }
    wk->seen[j] = h;
    wk->seen_n++;
    return false;
}

static bool walk_rec(void *ctx, const flash_walk_rec_t *rec)
{
    tier_walk_t *wk = ctx;
    ram_t *r = wk->t->r;
    if (atomic_load_explicit(&wk->t->walk_stop, memory_order_relaxed))
        return false;
    rel_time_t now = ram_now(r);
    if (rec->exptime != 0 && rec->exptime <= (int64_t)now)
        return true;
    if (ram_record_is_flushed(r, (rel_time_t)rec->store_time, rec->cas, now))
        return true;
    hash_lock(&r->hash, rec->hash);
    bool in_ram = do_hash_find(&r->hash, rec->key, rec->nkey, rec->hash) != NULL;
    hash_unlock(&r->hash, rec->hash);
    if (in_ram || seen_check(wk, rec->hash))
        return true;
    size_t total = item_ntotal_for(rec->nkey, rec->nbytes, rec->flags, r->set.use_cas);
    cache_item_meta_t m = {
        .key = rec->key,
        .nkey = rec->nkey,
        .exptime = rec->exptime,
        .last_access = rec->store_time, /* flash keeps no access time */
        .cas = rec->cas,
        .fetched = (rec->marks & FLASH_REC_FETCHED) != 0,
        .slab_class = slabs_clsid(&r->slabs, total),
        .nbytes = rec->nbytes,
        .total_size = total,
    };
    return wk->visit(wk->ctx, &m);
}

static void walk_run(tier_walk_t *wk)
{
    flash_walk_stats_t st;
    flash_walk(wk->t->f, walk_rec, wk, &wk->t->walk_stop, &st);
    free(wk->seen);
    wk->seen = NULL;
}

static void *walk_main(void *arg)
{
    tier_walk_t *wk = arg;
    walk_run(wk);
    atomic_store_explicit(&wk->tw->walk_done, true, memory_order_release);
    uint64_t one = 1;
    ssize_t n = write(flash_worker_fd(wk->tw->fw), &one, sizeof one);
    (void)n; /* EAGAIN only if the counter is full: the loop is awake */
    return NULL;
}

static void walk_release(tier_t *t)
{
    pthread_mutex_lock(&t->walk_lock);
    t->walk_busy = false;
    pthread_mutex_unlock(&t->walk_lock);
}

/* Joins a finished walk (or, with wait, stops and joins a running one) and
 * calls its done callback. */
void tier_walk_finish(tier_worker_t *tw, bool wait)
{
    tier_walk_t *wk = tw->walk;
    if (!wk)
        return;
    if (!wait && !atomic_load_explicit(&tw->walk_done, memory_order_acquire))
        return;
    if (wait)
        atomic_store(&tw->t->walk_stop, true);
    pthread_join(wk->thr, NULL);
    atomic_store(&tw->t->walk_stop, false);
    tw->walk = NULL;
    atomic_store(&tw->walk_done, false);
    walk_release(tw->t);
    cache_result_t res = { .status = CACHE_OK };
    cache_async_t a = wk->async;
    free(wk);
    a.done(a.ctx, &res);
}

bool tier_walk_claim(tier_t *t)
{
    if (!t->f)
        return true;
    pthread_mutex_lock(&t->walk_lock);
    bool busy = t->walk_busy;
    t->walk_busy = true;
    pthread_mutex_unlock(&t->walk_lock);
    return !busy;
}

cache_status_e tier_walk(tier_worker_t *tw, cache_item_visit_fn visit, void *ctx,
                         const uint64_t *skip, size_t nskip, const cache_async_t *async)
{
    tier_t *t = tw->t;
    if (!t->f)
        return CACHE_OK;
    tier_walk_t *wk = calloc(1, sizeof *wk);
    if (!wk) {
        walk_release(t);
        return CACHE_NO_MEMORY;
    }
    wk->t = t;
    wk->tw = tw;
    wk->visit = visit;
    wk->ctx = ctx;
    for (size_t i = 0; i < nskip; i++)
        seen_check(wk, skip[i]);
    if (!async) {
        walk_run(wk);
        free(wk);
        walk_release(t);
        return CACHE_OK;
    }
    wk->async = *async;
    tw->walk = wk;
    if (pthread_create(&wk->thr, NULL, walk_main, wk) != 0) {
        tw->walk = NULL;
        free(wk->seen);
        free(wk);
        walk_release(t);
        return CACHE_NO_MEMORY;
    }
    return CACHE_PENDING;
}
