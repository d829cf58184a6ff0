/* tests/unit/tiers/test_ops.c - command semantics as memcached 1.6.18:
 * incr/decr, add/replace/append/prepend/cas, delete, touch/gat counting. */
#include <criterion/criterion.h>

#include "helpers.h"

static fake_clock_t clk;
static cache_settings_t set;
static cache_t *c;
static cache_worker_t *w;

static void setup(void)
{
    test_settings(&set, &clk);
    cr_assert_eq(cache_create(&c, &set), CACHE_OK);
    cr_assert_eq(cache_worker_create(c, &w), CACHE_OK);
}

static void teardown(void)
{
    cache_worker_destroy(&w);
    cache_destroy(&c);
}

TestSuite(ops, .init = setup, .fini = teardown);

static cache_status_e arith(const char *key, bool incr, uint64_t d, uint64_t *v)
{
    return cache_arith(w, key, strlen(key), incr, d, v, NULL, NULL);
}

static void expect_val(const char *key, const char *want)
{
    char buf[128];
    cr_assert_eq(get_s(w, key, buf, sizeof buf), CACHE_OK, "%s", key);
    cr_assert_str_eq(buf, want, "%s: '%s' != '%s'", key, buf, want);
}

Test(ops, decr_keeps_length_with_spaces)
{
    uint64_t v;
    set_s(w, "a", "10");
    cr_assert_eq(arith("a", false, 1, &v), CACHE_OK);
    cr_assert_eq(v, 9);
    expect_val("a", "9 ");
    cr_assert_eq(arith("a", true, 1, &v), CACHE_OK);
    cr_assert_eq(v, 10);
    expect_val("a", "10");
}

Test(ops, incr_wraps_decr_floors)
{
    uint64_t v;
    set_s(w, "f", "18446744073709551615");
    cr_assert_eq(arith("f", true, 2, &v), CACHE_OK);
    cr_assert_eq(v, 1);
    expect_val("f", "1                   ");
    cr_assert_eq(arith("f", false, 100, &v), CACHE_OK);
    cr_assert_eq(v, 0);
}

Test(ops, incr_grows_value)
{
    uint64_t v, cas1 = 0, cas2 = 0;
    set_kv(w, CACHE_STORE_SET, "n", "99", 2, 7, 0, 0, &cas1);
    cr_assert_eq(cache_arith(w, "n", 1, true, 1, &v, &cas2, NULL), CACHE_OK);
    cr_assert_eq(v, 100);
    cr_assert_gt(cas2, cas1);
    expect_val("n", "100");
    cache_item_t *it;
    cr_assert_eq(cache_get(w, "n", 1, &it, NULL), CACHE_OK);
    cr_assert_eq(cache_item_flags(it), 7, "flags kept");
    cr_assert_eq(cache_item_cas(it), cas2);
    /* referenced elsewhere: a new item, the reader keeps the old bytes */
    cr_assert_eq(arith("n", false, 1, &v), CACHE_OK);
    cr_assert(memcmp(cache_item_value(it), "100", 3) == 0);
    cache_item_release(w, &it);
    expect_val("n", "99");
}

Test(ops, non_numeric_like_safe_strtoull)
{
    uint64_t v;
    static const struct { const char *val; bool ok; uint64_t after; } cases[] = {
        {"12abc", false, 0}, {" 12", true, 13}, {"12 ", true, 13}, {"+12", true, 13},
        {"-1", false, 0}, {"-0", true, 1}, {"", false, 0}, {"abc", false, 0},
        {"0000000000000000000012", true, 13}, {"18446744073709551616", false, 0},
        {"12\r\n", true, 13}, {"1.5", false, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(set_kv(w, CACHE_STORE_SET, "x", cases[i].val, strlen(cases[i].val), 0, 0,
                            0, NULL), CACHE_OK);
        cache_status_e s = arith("x", true, 1, &v);
        if (cases[i].ok) {
            cr_assert_eq(s, CACHE_OK, "'%s'", cases[i].val);
            cr_assert_eq(v, cases[i].after, "'%s'", cases[i].val);
        } else {
            cr_assert_eq(s, CACHE_NON_NUMERIC, "'%s'", cases[i].val);
        }
    }
    cr_assert_eq(arith("missing", true, 1, &v), CACHE_NOT_FOUND);
    cache_stats_t st;
    cache_stats_snapshot(c, &st);
    cr_assert_eq(st.incr_misses, 1);
    cr_assert_eq(st.incr_hits, 6);
}

Test(ops, add_replace_append_prepend)
{
    uint64_t cas_out;
    cr_assert_eq(set_kv(w, CACHE_STORE_REPLACE, "k", "v", 1, 0, 0, 0, NULL), CACHE_NOT_STORED);
    cr_assert_eq(set_kv(w, CACHE_STORE_APPEND, "k", "v", 1, 0, 0, 0, NULL), CACHE_NOT_STORED);
    cr_assert_eq(set_kv(w, CACHE_STORE_PREPEND, "k", "v", 1, 0, 0, 0, NULL), CACHE_NOT_STORED);
    cr_assert_eq(set_kv(w, CACHE_STORE_ADD, "k", "mid", 3, 5, 100, 0, NULL), CACHE_OK);
    cr_assert_eq(set_kv(w, CACHE_STORE_ADD, "k", "zzz", 3, 0, 0, 0, NULL), CACHE_NOT_STORED);
    cr_assert_eq(set_kv(w, CACHE_STORE_APPEND, "k", "_end", 4, 9, 0, 0, NULL), CACHE_OK);
    cr_assert_eq(set_kv(w, CACHE_STORE_PREPEND, "k", "begin_", 6, 9, 0, 0, &cas_out), CACHE_OK);
    expect_val("k", "begin_mid_end");
    cache_item_t *it;
    cr_assert_eq(cache_get(w, "k", 1, &it, NULL), CACHE_OK);
    cr_assert_eq(cache_item_flags(it), 5, "append keeps the old flags");
    cr_assert_eq(cache_item_exptime(it), T0 + 100, "and the old exptime");
    cr_assert_eq(cache_item_cas(it), cas_out);
    cache_item_release(w, &it);
    cr_assert_eq(set_kv(w, CACHE_STORE_REPLACE, "k", "new", 3, 1, 0, 0, NULL), CACHE_OK);
    expect_val("k", "new");
}

Test(ops, cas)
{
    uint64_t cas1, cas2;
    cr_assert_eq(set_kv(w, CACHE_STORE_CAS, "c", "v", 1, 0, 0, 1, NULL), CACHE_NOT_FOUND);
    cr_assert_eq(set_kv(w, CACHE_STORE_SET, "c", "v1", 2, 0, 0, 0, &cas1), CACHE_OK);
    cr_assert_eq(set_kv(w, CACHE_STORE_CAS, "c", "v2", 2, 0, 0, cas1 + 1, NULL), CACHE_EXISTS);
    cr_assert_eq(set_kv(w, CACHE_STORE_CAS, "c", "v2", 2, 0, 0, cas1, &cas2), CACHE_OK);
    cr_assert_neq(cas1, cas2);
    cr_assert_eq(set_kv(w, CACHE_STORE_CAS, "c", "v3", 2, 0, 0, cas1, NULL), CACHE_EXISTS);
    expect_val("c", "v2");
    cache_stats_t st;
    cache_stats_snapshot(c, &st);
    cr_assert_eq(st.cas_misses, 1);
    cr_assert_eq(st.cas_hits, 1);
    cr_assert_eq(st.cas_badval, 2);
}

Test(ops, delete_touch_gat_counting)
{
    set_s(w, "d", "x");
    cr_assert_eq(cache_delete(w, "d", 1, NULL), CACHE_OK);
    cr_assert_eq(cache_delete(w, "d", 1, NULL), CACHE_NOT_FOUND);
    set_s(w, "t", "x");
    cr_assert_eq(cache_touch(w, "t", 1, 10, NULL), CACHE_OK);
    cr_assert_eq(cache_touch(w, "nope", 4, 10, NULL), CACHE_NOT_FOUND);
    cache_item_t *it;
    cr_assert_eq(cache_get_and_touch(w, "t", 1, 20, &it, NULL), CACHE_OK);
    cr_assert_eq(cache_item_exptime(it), T0 + 20);
    cache_item_release(w, &it);
    cr_assert_eq(cache_get_and_touch(w, "nope", 4, 20, &it, NULL), CACHE_NOT_FOUND);
    cr_assert(has_key(w, "t"));
    cr_assert(!has_key(w, "nope"));
    cache_stats_t st;
    cache_stats_snapshot(c, &st);
    cr_assert_eq(st.delete_hits, 1);
    cr_assert_eq(st.delete_misses, 1);
    cr_assert_eq(st.cmd_touch, 4);
    cr_assert_eq(st.touch_hits, 2);
    cr_assert_eq(st.touch_misses, 2);
    cr_assert_eq(st.cmd_get, 2, "memcached: gat counts in cmd_touch, not cmd_get");
    cr_assert_eq(st.get_hits, 1, "gat does not count get_hits");
    cr_assert_eq(st.get_misses, 1);
    cache_stats_reset(c);
    cache_stats_snapshot(c, &st);
    cr_assert_eq(st.cmd_get, 0);
    cr_assert_eq(st.curr_items, 1, "gauges survive a reset");
}

Test(ops, bad_arguments)
{
    cache_item_t *it = NULL;
    char big[300];
    memset(big, 'k', sizeof big);
    cr_assert_eq(cache_item_alloc(w, big, 251, 0, 0, 1, &it), CACHE_EINVAL);
    cr_assert_eq(cache_item_alloc(w, "", 0, 0, 0, 1, &it), CACHE_EINVAL);
    cr_assert_eq(cache_item_alloc(w, big, 250, 0, 0, 1, &it), CACHE_OK);
    cr_assert_eq(cache_store(w, it, CACHE_STORE_SET, 0, NULL, NULL), CACHE_OK);
    cr_assert_eq(cache_store(w, it, CACHE_STORE_SET, 0, NULL, NULL), CACHE_EINVAL, "stored twice");
    cache_item_release(w, &it);
    cr_assert_eq(cache_get(w, big, 251, &it, NULL), CACHE_EINVAL);
    cr_assert_str_eq(cache_strerror(CACHE_NON_NUMERIC), "non-numeric value");
    /* released without storing: discarded */
    cr_assert_eq(cache_item_alloc(w, "gone", 4, 0, 0, 1, &it), CACHE_OK);
    cache_item_release(w, &it);
    cr_assert(!has_key(w, "gone"));
}

Test(ops, no_cas)
{
    cache_worker_destroy(&w);
    cache_destroy(&c);
    set.use_cas = false;
    cr_assert_eq(cache_create(&c, &set), CACHE_OK);
    cr_assert_eq(cache_worker_create(c, &w), CACHE_OK);
    uint64_t cas = 99;
    cr_assert_eq(set_kv(w, CACHE_STORE_SET, "k", "v", 1, 0, 0, 0, &cas), CACHE_OK);
    cr_assert_eq(cas, 0);
    /* memcached -C: a zero unique never matches, the item exists */
    cr_assert_eq(set_kv(w, CACHE_STORE_CAS, "k", "w", 1, 0, 0, 0, NULL), CACHE_EXISTS);
    cr_assert_eq(set_kv(w, CACHE_STORE_CAS, "k", "w", 1, 0, 0, 1, NULL), CACHE_EXISTS);
    cr_assert_eq(set_kv(w, CACHE_STORE_CAS, "nx", "w", 1, 0, 0, 0, NULL), CACHE_NOT_FOUND);
    char buf[8];
    cr_assert_eq(get_s(w, "k", buf, sizeof buf), CACHE_OK);
    cr_assert_str_eq(buf, "v");
    cache_stats_t st;
    cache_stats_snapshot(c, &st);
    cr_assert_eq(st.cas_badval, 2);
    cr_assert_eq(st.cas_misses, 1);
    cr_assert_eq(st.cas_hits, 0);
}
