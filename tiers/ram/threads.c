/*
 * tiers/ram/threads.c - LRU maintainer and expiry crawler. See threads.h.
 *
 * Lock order: t->lock is never held with any tier lock.
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
        if (did == 0) {
            sleep_us = sleep_us * 2 > MAINT_SLEEP_MAX_US ? MAINT_SLEEP_MAX_US : sleep_us * 2;
        } else {
            sleep_us = sleep_us / 2 < MAINT_SLEEP_MIN_US ? MAINT_SLEEP_MIN_US : sleep_us / 2;
        }
    } while (nap(t, sleep_us));
    return NULL;
}

static void *crawler_main(void *arg)
{
    ram_threads_t *t = arg;
    ram_t *r = t->ram;
    unsigned long pause = r->set.crawler_sleep_us;
    for (;;) {
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
        t->maint_started = true;
    }
    if (r->set.crawler_thread) {
        if (pthread_create(&t->crawl, NULL, crawler_main, t) != 0)
            goto fail;
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
