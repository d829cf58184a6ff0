/* tests/unit/tiers/test_lru.c - segmented LRU, scan resistance, eviction,
 * -M (no eviction). Background threads are off (the allocation path must
 * balance and evict by itself), except in the *_maintainer test. */
#include <unistd.h>

#include <criterion/criterion.h>

#include "helpers.h"

#define MiB ((size_t)1024 * 1024)
/* 24 bytes: class 1 (96) for keys up to 13 bytes, as memcached's
 * 48 + nkey + 1 + 24 + 2 + 8 */
#define VAL "012345678901234567890123"

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
    set.ram.mem_limit = 4 * MiB;
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
    set.ram.evict_to_free = false;
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
    cr_assert_eq(cache_get(w, "pinned", 6, &it, NULL), CACHE_OK);
    char key[32];
    for (int i = 0; i < 200000; i++) {
        snprintf(key, sizeof key, "k:%d", i);
        cr_assert_eq(set_kv(w, CACHE_STORE_SET, key, "ZZZZZZZZZZZZZZZZZZZZZZZZ", 24,
                            0, 0, 0, NULL), CACHE_OK);
    }
    cache_stats_t st;
    cache_stats_snapshot(c, &st);
    cr_assert_gt(st.lrutail_reflocked, 0, "the pinned item was seen busy at the tail");
    cr_assert_eq(cache_item_nbytes(it), 24);
    cr_assert(memcmp(cache_item_value(it), VAL, 24) == 0);
    cr_assert(memcmp(cache_item_key(it), "pinned", 6) == 0);
    cache_item_release(w, &it);
    cr_assert_null(it);
}

/*
 * Mirrors tests/blackbox/test_stats.py test_scan_resistance: a hot set of
 * 300 1000-byte items read three times, time passing between the rounds,
 * then one pass of new never-read keys about 4x the memory, with the clock
 * running during the scan (so COLD's age collapses). The hot set must stay
 * in WARM: the scan flows HOT -> COLD -> evicted.
 */
static void scan_after_reads(bool maintainer)
{
    set.ram.mem_limit = 8 * MiB;
    set.ram.maintainer_thread = maintainer;
    start();
    enum { HOT = 300, SCAN = 32000 };
    static char val[1000];
    memset(val, 'h', sizeof val);
    char key[32];
    for (int i = 0; i < HOT; i++) {
        snprintf(key, sizeof key, "hot%d", i);
        cr_assert_eq(set_kv(w, CACHE_STORE_SET, key, val, sizeof val, 0, 0, 0, NULL),
                     CACHE_OK);
    }
    for (int r = 0; r < 3; r++) {
        atomic_fetch_add(&clk.now, 1);
        for (int i = 0; i < HOT; i++) {
            snprintf(key, sizeof key, "hot%d", i);
            cr_assert(has_key(w, key));
        }
        if (maintainer)
            usleep(300000);
    }
    for (int i = 0; i < SCAN; i++) {
        if (i % 1000 == 0)
            atomic_fetch_add(&clk.now, 1);
        snprintf(key, sizeof key, "scan%d", i);
        cr_assert_eq(set_kv(w, CACHE_STORE_SET, key, val, sizeof val, 0, 0, 0, NULL),
                     CACHE_OK, "scan %d", i);
    }
    cache_stats_t st;
    cache_stats_snapshot(c, &st);
    cr_assert_gt(st.evictions, SCAN / 2);
    int alive = 0;
    for (int i = 0; i < HOT; i++) {
        snprintf(key, sizeof key, "hot%d", i);
        alive += has_key(w, key);
    }
    cr_assert_geq(alive, HOT * 9 / 10, "hot set lost to a scan: %d/%d survived", alive,
                  HOT);
    cr_assert(!has_key(w, "scan0"), "the scan's head was evicted");
}

Test(lru, scan_after_reads_keeps_hot_set)
{
    scan_after_reads(false);
}

Test(lru, scan_after_reads_keeps_hot_set_maintainer)
{
    scan_after_reads(true);
}
