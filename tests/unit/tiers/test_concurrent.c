/* tests/unit/tiers/test_concurrent.c - threads doing mixed operations for a
 * bounded time with the maintainer and crawler running and a small -m, so
 * eviction, hash growth and expiry all race. Checks values are never torn. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <time.h>

#include "helpers.h"

#define THREADS 3
#define RUN_MS 1500

static cache_t *c;
static _Atomic int failures;

static void *worker_main(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    cache_worker_t *w;
    cr_assert_eq(cache_worker_create(c, &w), CACHE_OK);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char key[32], val[3000];
    long ops = 0;
    for (;;) {
        if ((ops++ & 255) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &t);
            if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > RUN_MS)
                break;
        }
        seed = seed * 1103515245u + 12345u;
        unsigned k = (seed >> 8) % 20000;
        unsigned op = (seed >> 4) % 16;
        snprintf(key, sizeof key, "key:%u", k);
        size_t nkey = strlen(key);
        if (op < 7) {
            cache_item_t *it;
            if (cache_get(w, key, nkey, &it, NULL) == CACHE_OK) {
                /* a value is a run of one letter (a..p) then appended 'q's */
                size_t n = cache_item_nbytes(it);
                const char *p = cache_item_value(it);
                bool q = false;
                for (size_t i = 0; i < n; i++) {
                    if (p[i] == 'q')
                        q = true;
                    else if (q || p[i] != p[0]) {
                        atomic_fetch_add(&failures, 1);
                        break;
                    }
                }
                cache_item_release(w, &it);
            }
        } else if (op < 11) {
            size_t n = 1 + (seed >> 12) % (k % 7 == 0 ? 2900 : 100);
            memset(val, 'a' + (int)(seed % 16), n);
            cache_item_t *it;
            if (cache_item_alloc(w, key, nkey, 0, k % 5 == 0 ? 1 : 0, n, &it) == CACHE_OK) {
                memcpy(cache_item_data(it), val, n);
                cache_store(w, it, op == 10 ? CACHE_STORE_ADD : CACHE_STORE_SET, 0, NULL, NULL);
                cache_item_release(w, &it);
            }
        } else if (op == 11) {
            cache_delete(w, key, nkey, NULL);
        } else if (op == 12) {
            snprintf(key, sizeof key, "ctr:%u", k % 10);
            uint64_t v;
            if (cache_arith(w, key, strlen(key), true, 1, &v, NULL, NULL) == CACHE_NOT_FOUND)
                set_s(w, key, "0");
        } else if (op == 13) {
            cache_touch(w, key, nkey, 100, NULL);
        } else if (op == 14) {
            memset(val, 'q', 10);
            cache_item_t *it;
            if (cache_item_alloc(w, key, nkey, 0, 0, 10, &it) == CACHE_OK) {
                memcpy(cache_item_data(it), val, 10);
                cache_store(w, it, CACHE_STORE_APPEND, 0, NULL, NULL);
                cache_item_release(w, &it);
            }
        } else {
            cache_stats_t st;
            if ((seed >> 20) % 64 == 0)
                cache_stats_snapshot(c, &st);
        }
    }
    cache_worker_destroy(&w);
    return NULL;
}

Test(concurrent, mixed_ops)
{
    cache_settings_t set;
    cache_settings_default(&set);
    set.ram.mem_limit = 8u << 20;
    set.ram.hash_power = 8; /* force growth under load */
    set.ram.crawler_sleep_us = 10;
    cr_assert_eq(cache_create(&c, &set), CACHE_OK);
    pthread_t th[THREADS];
    for (uintptr_t i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, worker_main, (void *)(i + 1));
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(atomic_load(&failures), 0);
    cache_stats_t st;
    cache_stats_snapshot(c, &st);
    cr_assert_gt(st.hash_power_level, 8);
    cr_assert_gt(st.cmd_get, 1000);
    cache_destroy(&c);
}
