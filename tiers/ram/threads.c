/*
 * tiers/ram/threads.c - LRU maintainer and expiry crawler. See threads.h.
 *
 * Lock order: t->lock is never held with any tier lock. The automover
 * takes one LRU lock or one class lock at a time (samples), then calls
 * ram_slabs_reassign holding nothing.
 */
#include "threads.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#define MAINT_SLEEP_MIN_US 1000
#define MAINT_SLEEP_MAX_US 1000000
#define MAINT_MOVES_PER_CLASS 500
#define CRAWL_BATCH_BUCKETS 1024
#define CRAWL_PASS_PAUSE_US 1000000
#define CRAWL_MAX_IDLE_S 60

/* Sleeps up to `us` or until stopped; returns false when stopped. */
static bool nap(ram_threads_t *t, unsigned long us)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(us / 1000000);
    ts.tv_nsec += (long)(us % 1000000) * 1000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&t->lock);
    while (!t->stop) {
        if (pthread_cond_timedwait(&t->cond, &t->lock, &ts) == ETIMEDOUT)
            break;
    }
    bool go = !t->stop;
    pthread_mutex_unlock(&t->lock);
    return go;
}

#define AUTOMOVE_INTERVAL_MS 1000
#define SHRINK_STEP_MS 50          /* a shrink's share of one pass */
#define AGE_INTERVAL_MS 100        /* ext_item_age pass, while idle */
#define AGE_MOVES_PER_CLASS 500
#define AUTOMOVE_MIN_SRC_PAGES 2   /* a source keeps more than this */
#define AUTOMOVE_FREE_PAGES 2.5    /* free chunks worth this many pages */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

ram_move_e ram_automove_step(ram_t *r, automove_t *a, int *src, int *dst)
{
    unsigned level = ram_automove_get(r);
    unsigned w = level >= 2 ? 1 : AUTOMOVE_WINDOW;
    rel_time_t now = ram_now(r);
    int oldest = -1, youngest = -1;
    uint64_t oldest_age = 0, youngest_age = UINT64_MAX;
    bool youngest_evicting = false;
    *src = *dst = -1;
    unsigned slot = a->cur % w;
    a->cur++;
    for (unsigned n = 1; n <= r->slabs.reassign_largest; n++) {
        lru_class_t *l = &r->lru[n];
        uint64_t ev = atomic_load_explicit(&l->st.evicted, memory_order_relaxed) +
                      atomic_load_explicit(&l->st.outofmemory, memory_order_relaxed);
        slabs_class_info_t in;
        slabs_class_info(&r->slabs, n, &in);
        automove_sample_t *sm = &a->win[n][slot];
        memset(sm, 0, sizeof *sm);
        sm->evicted = ev > a->evicted[n];
        sm->dirty = sm->evicted || in.total_pages > a->pages[n];
        sm->excess_free = in.free_chunks > (uint64_t)in.perslab * 2;
        sm->age = lru_class_age(&r->lru[n], now);
        a->evicted[n] = ev;
        a->pages[n] = in.total_pages;
        if (in.page_bytes != r->slabs.page_size)
            continue;
        unsigned nev = 0, ndirty = 0, nfree = 0;
        uint64_t age = 0;
        for (unsigned k = 0; k < w; k++) {
            nev += a->win[n][k].evicted;
            ndirty += a->win[n][k].dirty;
            nfree += a->win[n][k].excess_free;
            age += a->win[n][k].age;
        }
        age /= w;
        if (a->cur >= w && in.total_pages > 1 &&
            (double)in.free_chunks > in.perslab * AUTOMOVE_FREE_PAGES && ndirty == 0) {
            *src = (int)n;
            *dst = 0;
            break;
        }
        if (age > oldest_age && in.total_pages > AUTOMOVE_MIN_SRC_PAGES) {
            oldest = (int)n;
            oldest_age = age;
        }
        if (age < youngest_age && in.total_pages != 0 && nfree < w && nev > w / 2) {
            youngest = (int)n;
            youngest_age = age;
            youngest_evicting = sm->evicted;
        }
    }
    if (*src < 0) {
        if (a->cur < w || youngest < 0 || oldest < 0 || youngest == oldest ||
            !youngest_evicting || !((double)youngest_age < (double)oldest_age * ram_automove_ratio_get(r)))
            return RAM_MOVE_SAME;
        *src = oldest;
        *dst = youngest;
    }
    return ram_slabs_reassign(r, *src, *dst);
}

static void *maintainer_main(void *arg)
{
    ram_threads_t *t = arg;
    ram_t *r = t->ram;
    unsigned long sleep_us = MAINT_SLEEP_MIN_US;
    do {
        unsigned did = 0;
        for (unsigned id = 1; id <= r->slabs.largest; id++)
            did += ram_lru_juggle(r, id, MAINT_MOVES_PER_CLASS);
        atomic_fetch_add_explicit(&r->lru_maintainer_juggles, 1, memory_order_relaxed);
        ram_maybe_expand(r);
        if (ram_automove_get(r) != 0 && r->set.slab_reassign) {
            int64_t ms = mono_ms();
            if (ms - t->am.last_ms >= AUTOMOVE_INTERVAL_MS) {
                int src, dst;
                t->am.last_ms = ms;
                if (ram_automove_step(r, &t->am, &src, &dst) == RAM_MOVE_OK)
                    did++;
            }
        }
        /* cache_memlimit lowered the limit: free pages, a step a pass */
        bool urgent = false; /* work left that needs no sleep first */
        if (ram_mem_shrink_wanted(r) && ram_mem_shrink(r, SHRINK_STEP_MS) == RAM_SHRINK_MORE)
            urgent = true;
        /* ext_item_age: idle items to the lower tier (if there is one) */
        if (r->set.flash_item_age != UINT32_MAX && r->low_on) {
            int64_t ms = mono_ms();
            if (t->age_busy || ms - t->age_last_ms >= AGE_INTERVAL_MS) {
                unsigned moved = 0;
                t->age_last_ms = ms;
                for (unsigned id = 1; id <= r->slabs.largest; id++)
                    moved += ram_age_spill(r, id, r->set.flash_item_age, AGE_MOVES_PER_CLASS);
                t->age_busy = moved > 0;
                urgent |= moved > 0;
            }
        }
        if (urgent) {
            sleep_us = MAINT_SLEEP_MIN_US;
        } else if (did == 0) {
            sleep_us = sleep_us * 2 > MAINT_SLEEP_MAX_US ? MAINT_SLEEP_MAX_US : sleep_us * 2;
        } else {
            sleep_us = sleep_us / 2 < MAINT_SLEEP_MIN_US ? MAINT_SLEEP_MIN_US : sleep_us / 2;
        }
    } while (nap(t, sleep_us));
    return NULL;
}

/* A pass runs when r->crawl_due says something can be reclaimed (an
 * exptime or a flush reached; see ram.h), and at least every
 * CRAWL_MAX_IDLE_S as a safety net; the thread checks once a second. */
static void *crawler_main(void *arg)
{
    ram_threads_t *t = arg;
    ram_t *r = t->ram;
    unsigned long pause = r->set.crawler_sleep_us;
    rel_time_t last_pass = 0;
    bool first = true;
    for (;;) {
        rel_time_t now = ram_now(r);
        uint32_t due = atomic_load_explicit(&r->crawl_due, memory_order_relaxed);
        if (!first && now < due && now - last_pass < CRAWL_MAX_IDLE_S) {
            if (!nap(t, CRAWL_PASS_PAUSE_US))
                break;
            continue;
        }
        first = false;
        last_pass = now;
        atomic_store_explicit(&r->crawl_due, RAM_CRAWL_NONE, memory_order_relaxed);
        r->crawl_pass_min = RAM_CRAWL_NONE;
        uint64_t grown0 = atomic_load_explicit(&r->hash.expansions, memory_order_relaxed);
        atomic_fetch_add_explicit(&r->lru_crawler_starts, 1, memory_order_relaxed);
        atomic_store_explicit(&r->crawler_running, 1, memory_order_relaxed);
        uint64_t pos = 0;
        bool go = true;
        while (hash_walk_step(&r->hash, &pos, CRAWL_BATCH_BUCKETS, ram_crawl_item, r)) {
            if (pause && !(go = nap(t, pause)))
                break;
            pthread_mutex_lock(&t->lock);
            go = !t->stop;
            pthread_mutex_unlock(&t->lock);
            if (!go)
                break;
        }
        atomic_store_explicit(&r->crawler_running, 0, memory_order_relaxed);
        /* What this pass left behind. A table expansion during the pass may
         * have moved items behind the walk: then pass again soon. */
        bool grew = atomic_load_explicit(&r->hash.expansions, memory_order_relaxed) != grown0;
        ram_crawl_note(r, grew ? now : r->crawl_pass_min);
        if (!go || !nap(t, CRAWL_PASS_PAUSE_US))
            break;
    }
    return NULL;
}

bool ram_threads_start(ram_threads_t *t, ram_t *r)
{
    memset(t, 0, sizeof *t);
    t->ram = r;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    if (r->set.maintainer_thread) {
        if (pthread_create(&t->maint, NULL, maintainer_main, t) != 0)
            goto fail;
        pthread_setname_np(t->maint, "tc-lru-maint");
        t->maint_started = true;
    }
    if (r->set.crawler_thread) {
        if (pthread_create(&t->crawl, NULL, crawler_main, t) != 0)
            goto fail;
        pthread_setname_np(t->crawl, "tc-lru-crawler");
        t->crawl_started = true;
    }
    return true;
fail:
    ram_threads_stop(t);
    return false;
}

void ram_threads_stop(ram_threads_t *t)
{
    if (!t->ram)
        return;
    pthread_mutex_lock(&t->lock);
    t->stop = true;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
    if (t->maint_started)
        pthread_join(t->maint, NULL);
    if (t->crawl_started)
        pthread_join(t->crawl, NULL);
    t->maint_started = t->crawl_started = false;
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->cond);
    t->ram = NULL;
}
