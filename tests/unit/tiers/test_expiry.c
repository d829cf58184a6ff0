/* tests/unit/tiers/test_expiry.c - exptime rules, lazy expiry, flush_all
 * (immediate and delayed, memcached's same-second rules) and the crawler. */
#include <criterion/criterion.h>
#include <unistd.h>

#include "helpers.h"

static fake_clock_t clk;
static cache_settings_t set;
static cache_t *c;
static cache_worker_t *w;

static void start(void)
{
    cr_assert_eq(cache_create(&c, &set), CACHE_OK);
    cr_assert_eq(cache_worker_create(c, &w), CACHE_OK);
}

static void setup(void) { test_settings(&set, &clk); }

static void teardown(void)
{
    cache_worker_destroy(&w);
    cache_destroy(&c);
}

TestSuite(expiry, .init = setup, .fini = teardown);

static void adv(int64_t s) { atomic_fetch_add(&clk.now, s); }

Test(expiry, exptime_rules)
{
    start();
    cr_assert_eq(cache_started(c), T0 - 2);
    cr_assert_eq(cache_now(c), T0);
    set_kv(w, CACHE_STORE_SET, "never", "v", 1, 0, 0, 0, NULL);
    set_kv(w, CACHE_STORE_SET, "rel", "v", 1, 0, 10, 0, NULL);
    set_kv(w, CACHE_STORE_SET, "abs", "v", 1, 0, T0 + 5, 0, NULL);
    set_kv(w, CACHE_STORE_SET, "past", "v", 1, 0, T0 - 100, 0, NULL);
    set_kv(w, CACHE_STORE_SET, "neg", "v", 1, 0, -1, 0, NULL);
    set_kv(w, CACHE_STORE_SET, "max", "v", 1, 0, 2592000, 0, NULL);
    cr_assert(has_key(w, "never"));
    cr_assert(has_key(w, "rel"));
    cr_assert(has_key(w, "abs"));
    cr_assert(!has_key(w, "past"));
    cr_assert(!has_key(w, "neg"));
    cache_item_t *it;
    cr_assert_eq(cache_get(w, "max", 3, &it, NULL), CACHE_OK);
    cr_assert_eq(cache_item_exptime(it), T0 + 2592000);
    cache_item_release(w, &it);
    adv(5);
    cr_assert(!has_key(w, "abs"), "expires at its second");
    cr_assert(has_key(w, "rel"));
    adv(5);
    cr_assert(!has_key(w, "rel"));
    cr_assert(has_key(w, "never"));
    cache_stats_t st;
    cache_stats_snapshot(c, &st);
    cr_assert_eq(st.get_expired + st.reclaimed, 4, "expired %llu reclaimed %llu", (unsigned long long)st.get_expired, (unsigned long long)st.reclaimed);
    cr_assert_eq(st.get_misses, 4, "get_expired is also a get miss");
    cr_assert_eq(st.curr_items, 2);
}

Test(expiry, touch_extends)
{
    start();
    set_kv(w, CACHE_STORE_SET, "k", "v", 1, 0, 10, 0, NULL);
    adv(8);
    cr_assert_eq(cache_touch(w, "k", 1, 10, NULL), CACHE_OK);
    adv(8);
    cr_assert(has_key(w, "k"));
    adv(3);
    cr_assert(!has_key(w, "k"));
}

Test(expiry, flush_all_now_same_second)
{
    start();
    set_s(w, "before", "v");
    adv(3);
    set_s(w, "same_before", "v");
    cache_flush_all(w, 0);
    set_s(w, "same_after", "v");
    /* with cas (default): set before the flush in the same second is
     * flushed (older cas), set after it survives */
    cr_assert(!has_key(w, "before"));
    cr_assert(!has_key(w, "same_before"));
    cr_assert(has_key(w, "same_after"));
    adv(1);
    cr_assert(has_key(w, "same_after"));
    cache_stats_t st;
    cache_stats_snapshot(c, &st);
    cr_assert_eq(st.get_flushed + st.reclaimed, 2);
}

Test(expiry, flush_all_no_cas_flushes_same_second)
{
    set.ram.use_cas = false;
    start();
    cache_flush_all(w, 0);
    set_s(w, "same_after", "v");
    cr_assert(!has_key(w, "same_after"), "memcached -C: same second is flushed");
    adv(1);
    set_s(w, "later", "v");
    cr_assert(has_key(w, "later"));
}

Test(expiry, flush_all_delayed)
{
    start();
    set_s(w, "a", "v");
    cache_flush_all(w, 10);
    adv(5);
    set_s(w, "b", "v");
    cr_assert(has_key(w, "a"));
    cr_assert(has_key(w, "b"));
    adv(5);
    cr_assert(!has_key(w, "a"));
    cr_assert(!has_key(w, "b"));
    adv(1);
    set_s(w, "c", "v");
    cr_assert(has_key(w, "c"));
    /* a later flush replaces a pending one */
    cache_flush_all(w, 100);
    cache_flush_all(w, 0);
    cr_assert(!has_key(w, "c"));
    adv(1);
    set_s(w, "d", "v");
    adv(200);
    cr_assert(has_key(w, "d"));
}

Test(expiry, crawler_reclaims)
{
    set.ram.crawler_thread = true;
    set.ram.maintainer_thread = true;
    set.ram.crawler_sleep_us = 0;
    start();
    char key[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        set_kv(w, CACHE_STORE_SET, key, "v", 1, 0, i % 2 ? 5 : 0, 0, NULL);
    }
    adv(10);
    cache_stats_t st;
    for (int i = 0; i < 100; i++) {
        cache_stats_snapshot(c, &st);
        if (st.crawler_reclaimed + st.reclaimed >= 1000 && st.lru_crawler_starts >= 2)
            break;
        usleep(50000);
    }
    /* The crawler passes once at start, then when the first exptime is
     * reached (the maintainer may reclaim expired tails first; the crawler
     * alone is tested in crawler_idle_without_ttls). */
    cr_assert_eq(st.crawler_reclaimed + st.reclaimed, 1000, "crawler %llu reclaimed %llu checked %llu", (unsigned long long)st.crawler_reclaimed, (unsigned long long)st.reclaimed, (unsigned long long)st.crawler_items_checked);
    cr_assert_eq(st.curr_items, 1000);
    cr_assert_geq(st.crawler_items_checked, 1000);
    cr_assert_geq(st.expired_unfetched, 1000);
    cr_assert_gt(st.lru_crawler_starts, 0);
    cr_assert_gt(st.lru_maintainer_juggles, 0);
    /* flushed items are reclaimed too */
    cache_flush_all(w, 0);
    for (int i = 0; i < 100; i++) {
        cache_stats_snapshot(c, &st);
        if (st.curr_items == 0)
            break;
        usleep(50000);
    }
    cr_assert_eq(st.curr_items, 0);
}

/* Without TTLs the crawler does not walk the table every second: it waits
 * for an exptime or a flush to come due, with a safety pass every 60 s. */
Test(expiry, crawler_idle_without_ttls)
{
    set.ram.crawler_thread = true;
    set.ram.maintainer_thread = false;
    set.ram.crawler_sleep_us = 0;
    start();
    char key[32];
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof key, "k%d", i);
        set_kv(w, CACHE_STORE_SET, key, "v", 1, 0, 0, 0, NULL);
    }
    cache_stats_t st;
    usleep(300000);
    cache_stats_snapshot(c, &st);
    uint64_t starts0 = st.lru_crawler_starts;
    cr_assert_leq(starts0, 1, "only the start-up pass: %llu", (unsigned long long)starts0);
    adv(30);
    usleep(1500000);
    cache_stats_snapshot(c, &st);
    cr_assert_eq(st.lru_crawler_starts, starts0, "no pass without a due exptime");
    /* a TTL item coming due wakes it */
    set_kv(w, CACHE_STORE_SET, "ttl", "v", 1, 0, 3, 0, NULL);
    adv(5);
    for (int i = 0; i < 60 && st.crawler_reclaimed == 0; i++) {
        usleep(50000);
        cache_stats_snapshot(c, &st);
    }
    cr_assert_eq(st.crawler_reclaimed, 1);
    cr_assert_eq(st.lru_crawler_starts, starts0 + 1);
    /* the safety pass after 60 idle seconds */
    adv(61);
    for (int i = 0; i < 60 && st.lru_crawler_starts == starts0 + 1; i++) {
        usleep(50000);
        cache_stats_snapshot(c, &st);
    }
    cr_assert_eq(st.lru_crawler_starts, starts0 + 2);
}
