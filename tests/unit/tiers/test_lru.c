/* tests/unit/tiers/test_lru.c - segmented LRU, scan resistance, eviction,
 * -M (no eviction). Background threads are off: the allocation path must
 * balance and evict by itself. */
#include <criterion/criterion.h>

#include "helpers.h"

#define MiB ((size_t)1024 * 1024)
#define VAL "0123456789012345678901234567890" /* 31 bytes: class 1 */

static fake_clock_t clk;
static cache_settings_t set;
static cache_t *c;
static cache_worker_t *w;

static void start(void)
{
    cr_assert_eq(cache_create(&c, &set), CACHE_OK);
    cr_assert_eq(cache_worker_create(c, &w), CACHE_OK);
}

static void setup(void)
{
    test_settings(&set, &clk);
    set.mem_limit = 4 * MiB;
}

static void teardown(void)
{
    cache_worker_destroy(&w);
    cache_destroy(&c);
}

TestSuite(lru, .init = setup, .fini = teardown);

static void stat_cb(void *ctx, const char *name, const char *value)
{
    (void)ctx;
    (void)name;
    (void)value;
}

Test(lru, scan_does_not_flush_hot_set)
{
    start();
    char key[32];
    enum { HOT = 300, COLDSET = 300, SCAN = 250000 };
    for (int i = 0; i < HOT; i++) {
        snprintf(key, sizeof key, "hot:%d", i);
        cr_assert_eq(set_s(w, key, VAL), CACHE_OK);
    }
    for (int i = 0; i < COLDSET; i++) {
        snprintf(key, sizeof key, "once:%d", i);
        cr_assert_eq(set_s(w, key, VAL), CACHE_OK);
    }
    /* the hot set is read a few times: FETCHED, then ACTIVE */
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < HOT; i++) {
            snprintf(key, sizeof key, "hot:%d", i);
            cr_assert(has_key(w, key));
        }
    /* one pass over many new keys: ~6x what 4 MiB of class 1 holds */
    for (int i = 0; i < SCAN; i++) {
        snprintf(key, sizeof key, "scan:%d", i);
        cr_assert_eq(set_s(w, key, VAL), CACHE_OK, "scan %d", i);
    }
    cache_stats_t st;
    cache_stats_snapshot(c, &st);
    cr_assert_gt(st.evictions, SCAN / 2, "evictions %llu", (unsigned long long)st.evictions);
    cr_assert_gt(st.moves_to_warm, 0);
    cr_assert(!has_key(w, "scan:0"), "the scan's head was evicted");
    int lost = 0, once_left = 0;
    for (int i = 0; i < HOT; i++) {
        snprintf(key, sizeof key, "hot:%d", i);
        lost += !has_key(w, key);
    }
    for (int i = 0; i < COLDSET; i++) {
        snprintf(key, sizeof key, "once:%d", i);
        once_left += has_key(w, key);
    }
    cr_assert_eq(lost, 0, "%d hot keys lost to the scan", lost);
    cr_assert_eq(once_left, 0, "keys never read are evicted");
    cache_stats_group(c, CACHE_STATS_ITEMS, stat_cb, NULL);
}

Test(lru, segments_and_hot_limit)
{
    start();
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k:%d", i);
        cr_assert_eq(set_s(w, key, VAL), CACHE_OK);
    }
    /* inline juggling keeps HOT near hot_lru_pct of the class */
    cache_stats_t st;
    cache_stats_snapshot(c, &st);
    cr_assert_eq(st.curr_items, 1000);
    cr_assert_gt(st.moves_to_cold, 700);
    cr_assert_eq(st.evictions, 0);
}

Test(lru, eviction_order)
{
    start();
    char key[32];
    int n = 0;
    cache_stats_t st;
    do {
        snprintf(key, sizeof key, "k:%d", n++);
        cr_assert_eq(set_s(w, key, VAL), CACHE_OK);
        cache_stats_snapshot(c, &st);
    } while (st.evictions < 100);
    cr_assert(!has_key(w, "k:0"));
    snprintf(key, sizeof key, "k:%d", n - 1);
    cr_assert(has_key(w, key));
    cr_assert_geq(st.evicted_unfetched, 100);
    cr_assert_leq(st.bytes, 4 * MiB);
}

Test(lru, no_evict_returns_no_memory)
{
    set.evict_to_free = false;
    start();
    char key[32];
    int n = 0;
    cache_status_e s;
    for (;;) {
        snprintf(key, sizeof key, "k:%d", n);
        s = set_kv(w, CACHE_STORE_SET, key, VAL, strlen(VAL), 0, n < 1000 ? 10 : 0, 0, NULL);
        if (s != CACHE_OK)
            break;
        n++;
    }
    cr_assert_eq(s, CACHE_NO_MEMORY);
    cr_assert(has_key(w, "k:1001"), "nothing evicted");
    cache_stats_t st;
    cache_stats_snapshot(c, &st);
    cr_assert_eq(st.store_no_memory, 1);
    cr_assert_eq(st.evictions, 0);
    /* expired items are still reclaimed with -M */
    atomic_store(&clk.now, T0 + 20);
    cr_assert_eq(set_s(w, "after", VAL), CACHE_OK);
    cache_stats_snapshot(c, &st);
    cr_assert_gt(st.reclaimed, 0);
}

Test(lru, referenced_item_survives_eviction)
{
    start();
    cr_assert_eq(set_s(w, "pinned", VAL), CACHE_OK);
    cache_item_t *it = NULL;
    cr_assert_eq(cache_get(w, "pinned", 6, &it), CACHE_OK);
    char key[32];
    for (int i = 0; i < 200000; i++) {
        snprintf(key, sizeof key, "k:%d", i);
        cr_assert_eq(set_kv(w, CACHE_STORE_SET, key, "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ", 31,
                            0, 0, 0, NULL), CACHE_OK);
    }
    cache_stats_t st;
    cache_stats_snapshot(c, &st);
    cr_assert_gt(st.lrutail_reflocked, 0, "the pinned item was seen busy at the tail");
    cr_assert_eq(cache_item_nbytes(it), 31);
    cr_assert(memcmp(cache_item_value(it), VAL, 31) == 0);
    cr_assert(memcmp(cache_item_key(it), "pinned", 6) == 0);
    cache_item_release(w, &it);
    cr_assert_null(it);
}
