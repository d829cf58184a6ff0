/* tests/unit/tiers/test_ops.c - command semantics as memcached 1.6.18:
 * incr/decr, add/replace/append/prepend/cas, delete, touch/gat counting;
 * meta marks and the one-step conditional operations (cache_delete_ex,
 * cache_arith_ex, append with a cas, CAS_STALE), raced by two threads, and
 * on flash-resident items (suite ops_flash, sync and async). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

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
    set.ram.use_cas = false;
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

/* ---- meta marks and conditional operations ---- */

static uint64_t cas_of(const char *key)
{
    cache_item_t *it = NULL;
    cr_assert_eq(cache_get(w, key, strlen(key), &it, NULL), CACHE_OK, "%s", key);
    uint64_t cas = cache_item_cas(it);
    cache_item_release(w, &it);
    return cas;
}

static unsigned marks_of(const char *key)
{
    cache_item_t *it = NULL;
    cr_assert_eq(cache_get(w, key, strlen(key), &it, NULL), CACHE_OK, "%s", key);
    unsigned m = cache_item_marks(it);
    cache_item_release(w, &it);
    return m;
}

Test(ops, append_with_cas_is_checked)
{
    uint64_t cas = 0;
    set_kv(w, CACHE_STORE_SET, "ap", "mid", 3, 0, 0, 0, &cas);
    cr_assert_eq(set_kv(w, CACHE_STORE_APPEND, "ap", "X", 1, 0, 0, cas + 1, NULL),
                 CACHE_EXISTS);
    cr_assert_eq(set_kv(w, CACHE_STORE_PREPEND, "ap", "X", 1, 0, 0, cas + 1, NULL),
                 CACHE_EXISTS);
    expect_val("ap", "mid");
    cr_assert_eq(set_kv(w, CACHE_STORE_APPEND, "ap", "_e", 2, 0, 0, cas, &cas), CACHE_OK);
    cr_assert_eq(set_kv(w, CACHE_STORE_PREPEND, "ap", "b_", 2, 0, 0, cas, NULL), CACHE_OK);
    expect_val("ap", "b_mid_e");
    /* cas 0: no check */
    cr_assert_eq(set_kv(w, CACHE_STORE_APPEND, "ap", "!", 1, 0, 0, 0, NULL), CACHE_OK);
    cr_assert_eq(set_kv(w, CACHE_STORE_APPEND, "none", "!", 1, 0, 0, 5, NULL),
                 CACHE_NOT_STORED);
}

Test(ops, delete_ex_cas_and_stale)
{
    cache_stats_t st;
    uint64_t cas = 0;
    set_kv(w, CACHE_STORE_SET, "d", "v", 1, 0, 0, 0, &cas);
    cache_delete_opts_t o = {.has_cas = true, .cas = cas + 7, .mismatch_is_miss = true};
    cr_assert_eq(cache_delete_ex(w, "d", 1, &o, NULL), CACHE_EXISTS);
    cache_stats_snapshot(c, &st);
    cr_assert_eq(st.delete_misses, 1);
    o.mismatch_is_miss = false; /* binary: EEXISTS counts nothing */
    cr_assert_eq(cache_delete_ex(w, "d", 1, &o, NULL), CACHE_EXISTS);
    cache_stats_snapshot(c, &st);
    cr_assert_eq(st.delete_misses, 1);
    expect_val("d", "v");

    /* md I: in place, STALE set, TOKEN cleared, new cas, new ttl */
    cache_item_t *it = NULL;
    cr_assert_eq(cache_get(w, "d", 1, &it, NULL), CACHE_OK);
    cr_assert_eq(cache_item_mark(it, CACHE_MARK_TOKEN), 0);
    cr_assert_eq(cache_item_mark(it, CACHE_MARK_TOKEN), CACHE_MARK_TOKEN);
    cache_delete_opts_t inv = {.has_cas = true, .cas = cas, .stale = true,
                               .set_exptime = true, .exptime = 30};
    cr_assert_eq(cache_delete_ex(w, "d", 1, &inv, NULL), CACHE_OK);
    cr_assert_eq(cache_item_marks(it), CACHE_MARK_STALE, "the reader sees it too");
    cr_assert_gt(cache_item_cas(it), cas);
    cr_assert_eq(cache_item_exptime(it), T0 + 30);
    cache_item_release(w, &it);
    cr_assert_eq(cache_delete_ex(w, "d", 1, &inv, NULL), CACHE_EXISTS, "old cas");
    cache_stats_snapshot(c, &st);
    cr_assert_eq(st.delete_hits, 0);

    cache_delete_opts_t del = {.has_cas = true, .cas = cas_of("d")};
    cr_assert_eq(cache_delete_ex(w, "d", 1, &del, NULL), CACHE_OK);
    cr_assert_eq(cache_delete_ex(w, "d", 1, &del, NULL), CACHE_NOT_FOUND);
    cache_stats_snapshot(c, &st);
    cr_assert_eq(st.delete_hits, 1);
    cr_assert_eq(st.delete_misses, 2);
}

Test(ops, arith_ex_cas_and_ttl)
{
    uint64_t cas = 0, v = 0, ncas = 0;
    set_kv(w, CACHE_STORE_SET, "n", "10", 2, 0, 100, 0, &cas);
    int64_t old = -5;
    cache_arith_opts_t o = {.cas = cas + 1, .old_exptime_out = &old};
    cr_assert_eq(cache_arith_ex(w, "n", 1, true, 1, &o, &v, &ncas, NULL), CACHE_EXISTS);
    cr_assert_eq(old, -5, "not written on EXISTS");
    expect_val("n", "10");
    o.cas = cas;
    o.set_exptime = true;
    o.exptime = 50;
    cr_assert_eq(cache_arith_ex(w, "n", 1, true, 5, &o, &v, &ncas, NULL), CACHE_OK);
    cr_assert_eq(v, 15);
    cr_assert_gt(ncas, cas);
    cr_assert_eq(old, T0 + 100);
    cache_item_t *it = NULL;
    cr_assert_eq(cache_get(w, "n", 1, &it, NULL), CACHE_OK);
    cr_assert_eq(cache_item_exptime(it), T0 + 50);
    cr_assert_eq(cache_item_cas(it), ncas);
    cache_item_release(w, &it);
    /* cas 0: no check (memcached's do_add_delta); growing value: new item */
    cache_arith_opts_t any = {.set_exptime = true, .exptime = 0};
    cr_assert_eq(cache_arith_ex(w, "n", 1, true, 1000, &any, &v, NULL, NULL), CACHE_OK);
    cr_assert_eq(v, 1015);
    cr_assert_eq(cache_get(w, "n", 1, &it, NULL), CACHE_OK);
    cr_assert_eq(cache_item_exptime(it), 0);
    cache_item_release(w, &it);
    cr_assert_eq(cache_arith_ex(w, "nx", 2, true, 1, &any, &v, NULL, NULL), CACHE_NOT_FOUND);
    cache_stats_t st;
    cache_stats_snapshot(c, &st);
    cr_assert_eq(st.incr_hits, 2);
    cr_assert_eq(st.incr_misses, 1);
}

Test(ops, marks_live_in_the_item)
{
    cache_item_t *it = NULL;
    cr_assert_eq(cache_item_alloc(w, "m", 1, 3, 0, 1, &it), CACHE_OK);
    cr_assert_eq(cache_item_marks(it), 0);
    memcpy(cache_item_data(it), "x", 1);
    cache_item_mark(it, CACHE_MARK_BINKEY);
    uint64_t cas = 0;
    cr_assert_eq(cache_store(w, it, CACHE_STORE_SET, 0, &cas, NULL), CACHE_OK);
    cache_item_release(w, &it);
    cr_assert_eq(marks_of("m"), CACHE_MARK_BINKEY);
    expect_val("m", "x");

    /* ms I with an older cas: stored, STALE, TOKEN kept, old ttl kept */
    set_kv(w, CACHE_STORE_SET, "s", "a", 1, 0, 60, 0, &cas);
    cache_item_t *cur = NULL;
    cr_assert_eq(cache_get(w, "s", 1, &cur, NULL), CACHE_OK);
    cache_item_mark(cur, CACHE_MARK_TOKEN);
    cache_item_release(w, &cur);
    cr_assert_eq(set_kv(w, CACHE_STORE_CAS_STALE, "s", "b", 1, 0, 0, cas - 1, NULL), CACHE_OK);
    cr_assert_eq(marks_of("s"), CACHE_MARK_STALE | CACHE_MARK_TOKEN);
    expect_val("s", "b");
    cr_assert_eq(cache_get(w, "s", 1, &cur, NULL), CACHE_OK);
    cr_assert_eq(cache_item_exptime(cur), T0 + 60);
    cache_item_release(w, &cur);
    /* matching cas: a plain store, no marks; newer or 0: EXISTS */
    cas = cas_of("s");
    cr_assert_eq(set_kv(w, CACHE_STORE_CAS_STALE, "s", "c", 1, 0, 0, cas + 1, NULL),
                 CACHE_EXISTS);
    cr_assert_eq(set_kv(w, CACHE_STORE_CAS_STALE, "s", "c", 1, 0, 0, 0, NULL), CACHE_EXISTS);
    cr_assert_eq(set_kv(w, CACHE_STORE_CAS_STALE, "s", "c", 1, 0, 0, cas, NULL), CACHE_OK);
    cr_assert_eq(marks_of("s"), 0);
    /* a set replaces the item: marks gone */
    cr_assert_eq(cache_get(w, "m", 1, &cur, NULL), CACHE_OK);
    cache_item_mark(cur, CACHE_MARK_STALE);
    cache_item_release(w, &cur);
    set_s(w, "m", "y");
    cr_assert_eq(marks_of("m"), 0);
}

/* ---- two threads race a conditional operation ---- */

typedef struct racer {
    pthread_t th;
    cache_worker_t *w;
    pthread_barrier_t *bar;
    int kind;               /* 0 cas-incr, 1 cas-invalidate, 2 cas-delete, 3 set */
    _Atomic uint64_t cas;   /* the cas to compare with, per round */
    cache_status_e st[2000];
    unsigned rounds;
} racer_t;

static void *racer_main(void *arg)
{
    racer_t *r = arg;
    for (unsigned i = 0; i < r->rounds; i++) {
        pthread_barrier_wait(r->bar);
        uint64_t cas = atomic_load(&r->cas);
        if (r->kind == 0) {
            cache_arith_opts_t o = {.cas = cas};
            uint64_t v;
            r->st[i] = cache_arith_ex(r->w, "race", 4, true, 1, &o, &v, NULL, NULL);
        } else if (r->kind == 1 || r->kind == 2) {
            cache_delete_opts_t o = {.has_cas = true, .cas = cas, .stale = r->kind == 1};
            r->st[i] = cache_delete_ex(r->w, "race", 4, &o, NULL);
        } else {
            r->st[i] = set_kv(r->w, CACHE_STORE_SET, "race", "new", 3, 0, 0, 0, NULL);
        }
        pthread_barrier_wait(r->bar);
    }
    return NULL;
}

/* kinds[2]: what each thread does; check(i, a, b) judges round i. */
static void race(int k0, int k1, unsigned rounds,
                 void (*check)(unsigned, cache_status_e, cache_status_e))
{
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 3);
    racer_t *r = calloc(2, sizeof *r);
    int kinds[2] = {k0, k1};
    for (int t = 0; t < 2; t++) {
        cr_assert_eq(cache_worker_create(c, &r[t].w), CACHE_OK);
        r[t].bar = &bar;
        r[t].kind = kinds[t];
        r[t].rounds = rounds;
        pthread_create(&r[t].th, NULL, racer_main, &r[t]);
    }
    for (unsigned i = 0; i < rounds; i++) {
        uint64_t cas = 0;
        cr_assert_eq(set_kv(w, CACHE_STORE_SET, "race", "0", 1, 0, 0, 0, &cas), CACHE_OK);
        atomic_store(&r[0].cas, cas);
        atomic_store(&r[1].cas, cas);
        pthread_barrier_wait(&bar); /* go */
        pthread_barrier_wait(&bar); /* both done */
        check(i, r[0].st[i], r[1].st[i]);
    }
    for (int t = 0; t < 2; t++) {
        pthread_join(r[t].th, NULL);
        cache_worker_destroy(&r[t].w);
    }
    free(r);
    pthread_barrier_destroy(&bar);
}

static void one_wins_exists(unsigned i, cache_status_e a, cache_status_e b)
{
    cr_assert((a == CACHE_OK && b == CACHE_EXISTS) || (a == CACHE_EXISTS && b == CACHE_OK),
              "round %u: %s / %s", i, cache_strerror(a), cache_strerror(b));
}

static void incr_once(unsigned i, cache_status_e a, cache_status_e b)
{
    one_wins_exists(i, a, b);
    expect_val("race", "1");
}

static void one_deletes(unsigned i, cache_status_e a, cache_status_e b)
{
    cr_assert((a == CACHE_OK) != (b == CACHE_OK), "round %u: %s / %s", i, cache_strerror(a),
              cache_strerror(b));
    cr_assert(!has_key(w, "race"));
}

static void set_survives(unsigned i, cache_status_e del, cache_status_e set_st)
{
    /* either the delete ran first (then the set stored) or the set did
     * (then the cas no longer matches): the new value is always there */
    cr_assert_eq(set_st, CACHE_OK);
    cr_assert(del == CACHE_OK || del == CACHE_EXISTS, "round %u: %s", i, cache_strerror(del));
    expect_val("race", "new");
}

Test(ops, race_two_cas_incrs_one_wins, .timeout = 60)
{
    race(0, 0, 2000, incr_once);
}

Test(ops, race_two_cas_invalidates_one_wins, .timeout = 60)
{
    race(1, 1, 2000, one_wins_exists);
}

Test(ops, race_two_cas_deletes_one_wins, .timeout = 60)
{
    race(2, 2, 2000, one_deletes);
}

Test(ops, race_cas_delete_never_drops_a_newer_set, .timeout = 60)
{
    race(2, 3, 2000, set_survives);
}

/* ---- the same on flash-resident items (sync and async) ---- */

static char fpath[512];

static void flash_setup(void)
{
    test_settings(&set, &clk);
    const char *dirs[] = {getenv("TC_FLASH_TEST_DIR"), ".", "/var/tmp"};
    fpath[0] = 0;
    for (unsigned i = 0; i < 3 && !fpath[0]; i++) {
        if (!dirs[i])
            continue;
        snprintf(fpath, sizeof fpath, "%s/ops-%d.dat", dirs[i], (int)getpid());
        int fd = open(fpath, O_RDWR | O_CREAT | O_DIRECT, 0600);
        if (fd < 0) {
            fpath[0] = 0;
            continue;
        }
        close(fd);
        unlink(fpath);
    }
    cr_assert(fpath[0], "no directory allows O_DIRECT files");
    set.ram.mem_limit = 4u << 20;
    set.ram.slab_page_size = 64 * 1024;
    set.ram.item_size_max = 32 * 1024;
    set.flash.path = fpath;
    set.flash.size = 64u << 20;
    set.flash.segment_size = 1u << 20;
    set.flash.block_size = 16u << 10;
    cr_assert_eq(cache_create(&c, &set), CACHE_OK);
    cr_assert_eq(cache_worker_create(c, &w), CACHE_OK);
}

static void flash_teardown(void)
{
    cache_worker_destroy(&w);
    cache_destroy(&c);
    unlink(fpath);
}

TestSuite(ops_flash, .init = flash_setup, .fini = flash_teardown, .timeout = 240);

/* Pushes everything stored so far out of RAM (onto flash). */
static void push_out(const char *tag)
{
    char key[64], val[4000];
    uint64_t x = 88172645463325252ull;
    for (unsigned i = 0; i < 3000; i++) {
        /* incompressible, so the segments fill and reach the device */
        for (size_t b = 0; b < sizeof val; b++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            val[b] = (char)x;
        }
        snprintf(key, sizeof key, "fill-%s-%u", tag, i);
        cr_assert_eq(set_kv(w, CACHE_STORE_SET, key, val, sizeof val, 0, 0, 0, NULL), CACHE_OK);
        for (unsigned j = 0; j < 8; j++) {
            snprintf(key, sizeof key, "fs-%s-%u-%u", tag, i, j);
            set_kv(w, CACHE_STORE_SET, key, val, 1 + (i * 8 + j) % 100, 0, 0, 0, NULL);
        }
    }
}

static bool in_ram(const char *key)
{
    cache_item_meta_t m;
    return cache_peek(w, key, strlen(key), &m) == CACHE_OK;
}

typedef struct done_rec {
    int calls;
    cache_result_t r;
} done_rec_t;

static void on_done(void *ctx, cache_result_t *r)
{
    done_rec_t *d = ctx;
    d->calls++;
    d->r = *r;
    cache_item_release(w, &r->item);
}

static cache_status_e wait_done(cache_status_e st, done_rec_t *d)
{
    if (st != CACHE_PENDING)
        return st;
    for (int spins = 0; spins < 5000 && d->calls == 0; spins++) {
        struct pollfd p = {.fd = cache_worker_fd(w), .events = POLLIN};
        poll(&p, 1, 10);
        cache_worker_poll(w);
    }
    cr_assert_eq(d->calls, 1, "async call completed once");
    return d->r.status;
}

Test(ops_flash, conditional_ops_on_flash_items)
{
    uint64_t cd = 0, ci = 0, cx = 0, ca = 0;
    set_kv(w, CACHE_STORE_SET, "fd", "v", 1, 0, 0, 0, &cd);
    set_kv(w, CACHE_STORE_SET, "fi", "41", 2, 0, 0, 0, &ci);
    set_kv(w, CACHE_STORE_SET, "fx", "s", 1, 0, 0, 0, &cx);
    set_kv(w, CACHE_STORE_SET, "fa", "mid", 3, 0, 0, 0, &ca);
    push_out("c");
    cr_assert(!in_ram("fd") && !in_ram("fi") && !in_ram("fx") && !in_ram("fa"),
              "spilled to flash");
    cache_stats_t s0;
    cache_stats_snapshot(c, &s0);

    /* sync: wrong cas -> EXISTS (the item is loaded), right cas -> OK */
    cache_delete_opts_t o = {.has_cas = true, .cas = cd + 1};
    cr_assert_eq(cache_delete_ex(w, "fd", 2, &o, NULL), CACHE_EXISTS);
    expect_val("fd", "v");
    o.cas = cd;
    cr_assert_eq(cache_delete_ex(w, "fd", 2, &o, NULL), CACHE_OK);
    cr_assert(!has_key(w, "fd"));

    /* async incr with the flash item's cas */
    done_rec_t d1 = {0}, d2 = {0};
    cache_async_t a1 = {on_done, &d1}, a2 = {on_done, &d2};
    cache_arith_opts_t ao = {.cas = ci, .set_exptime = true, .exptime = 100};
    cache_arith_opts_t bad = {.cas = ci};
    uint64_t v1 = 0, v2 = 0;
    cache_status_e st1 = cache_arith_ex(w, "fi", 2, true, 1, &ao, &v1, NULL, &a1);
    /* queued behind the first: its cas is gone by the time it runs */
    cache_status_e st2 = cache_arith_ex(w, "fi", 2, true, 1, &bad, &v2, NULL, &a2);
    bool was_async = st1 == CACHE_PENDING;
    st1 = wait_done(st1, &d1);
    st2 = wait_done(st2, &d2);
    cr_assert(was_async, "a flash item needs a read");
    cr_assert_eq(st1, CACHE_OK);
    cr_assert_eq(d1.r.value, 42);
    cr_assert_eq(st2, CACHE_EXISTS);
    expect_val("fi", "42");
    cache_item_t *it = NULL;
    cr_assert_eq(cache_get(w, "fi", 2, &it, NULL), CACHE_OK);
    cr_assert_eq(cache_item_exptime(it), T0 + 100);
    cr_assert_eq(cache_item_cas(it), d1.r.cas);
    cache_item_release(w, &it);

    /* async invalidate (md I) of a flash item: marked in RAM */
    done_rec_t d3 = {0};
    cache_async_t a3 = {on_done, &d3};
    cache_delete_opts_t inv = {.has_cas = true, .cas = cx, .stale = true};
    cr_assert_eq(wait_done(cache_delete_ex(w, "fx", 2, &inv, &a3), &d3), CACHE_OK);
    cr_assert_eq(marks_of("fx"), CACHE_MARK_STALE);
    expect_val("fx", "s");

    /* append with the flash item's cas, async */
    done_rec_t d4 = {0};
    cache_async_t a4 = {on_done, &d4};
    cr_assert_eq(cache_item_alloc(w, "fa", 2, 0, 0, 2, &it), CACHE_OK);
    memcpy(cache_item_data(it), "_e", 2);
    cache_status_e st4 = cache_store(w, it, CACHE_STORE_APPEND, ca + 5, NULL, &a4);
    cache_item_release(w, &it);
    cr_assert_eq(wait_done(st4, &d4), CACHE_EXISTS);
    expect_val("fa", "mid");

    /* a missing key: NOT_FOUND after flash says no */
    cr_assert_eq(cache_delete_ex(w, "nope", 4, &o, NULL), CACHE_NOT_FOUND);
    cache_stats_t s1;
    cache_stats_snapshot(c, &s1);
    cr_assert_gt(s1.flash_get_hits + s1.flash_reads, s0.flash_get_hits + s0.flash_reads);
}

/* While the flash record has no room for meta marks (format 1), a STALE or
 * BINKEY item is evicted without spilling: a miss, never an unmarked copy
 * (read as fresh, or a binary key printed raw). TOKEN alone spills. */
Test(ops_flash, marked_items_never_come_back_unmarked)
{
    uint64_t cas = 0;
    set_kv(w, CACHE_STORE_SET, "st", "old", 3, 0, 0, 0, &cas);
    cache_delete_opts_t inv = {.stale = true};
    cr_assert_eq(cache_delete_ex(w, "st", 2, &inv, NULL), CACHE_OK);
    cr_assert_eq(marks_of("st"), CACHE_MARK_STALE);

    cache_item_t *it = NULL;
    cr_assert_eq(cache_item_alloc(w, "bk", 2, 0, 0, 1, &it), CACHE_OK);
    memcpy(cache_item_data(it), "b", 1);
    cache_item_mark(it, CACHE_MARK_BINKEY);
    cr_assert_eq(cache_store(w, it, CACHE_STORE_SET, 0, NULL, NULL), CACHE_OK);
    cache_item_release(w, &it);

    set_kv(w, CACHE_STORE_SET, "tk", "tok", 3, 0, 0, 0, NULL);
    cr_assert_eq(cache_get(w, "tk", 2, &it, NULL), CACHE_OK);
    cache_item_mark(it, CACHE_MARK_TOKEN);
    cache_item_release(w, &it);

    push_out("m");
    cr_assert(!in_ram("st") && !in_ram("bk") && !in_ram("tk"), "evicted");
    it = NULL;
    cache_status_e st = cache_get(w, "st", 2, &it, NULL);
    cr_assert(st == CACHE_NOT_FOUND || (cache_item_marks(it) & CACHE_MARK_STALE),
              "a stale item came back as fresh");
    cache_item_release(w, &it);
    st = cache_get(w, "bk", 2, &it, NULL);
    cr_assert(st == CACHE_NOT_FOUND || (cache_item_marks(it) & CACHE_MARK_BINKEY),
              "a base64-key item came back without its mark");
    cache_item_release(w, &it);
    expect_val("tk", "tok"); /* spilled and read back (its token is lost) */
}

/* Two workers race cas-incrs (then cas-deletes) on the same flash-resident
 * items: each loads the record from flash, one installs it, the other
 * re-runs against RAM; exactly one of the two wins each key. */
#define FR_KEYS 24

typedef struct flash_racer {
    pthread_t th;
    cache_worker_t *w;
    pthread_barrier_t *bar;
    bool del;
    uint64_t cas[FR_KEYS];
    cache_status_e st[FR_KEYS];
} flash_racer_t;

static void *flash_racer_main(void *arg)
{
    flash_racer_t *r = arg;
    pthread_barrier_wait(r->bar);
    for (unsigned k = 0; k < FR_KEYS; k++) {
        char key[16];
        snprintf(key, sizeof key, "fr%u", k);
        if (r->del) {
            cache_delete_opts_t o = {.has_cas = true, .cas = r->cas[k]};
            r->st[k] = cache_delete_ex(r->w, key, strlen(key), &o, NULL);
        } else {
            cache_arith_opts_t o = {.cas = r->cas[k]};
            uint64_t v;
            r->st[k] = cache_arith_ex(r->w, key, strlen(key), true, 1, &o, &v, NULL, NULL);
        }
    }
    pthread_barrier_wait(r->bar);
    return NULL;
}

Test(ops_flash, race_on_flash_items_one_wins)
{
    for (int round = 0; round < 4; round++) {
        bool del = round % 2 == 1;
        uint64_t cas[FR_KEYS];
        for (unsigned k = 0; k < FR_KEYS; k++) {
            char key[16];
            snprintf(key, sizeof key, "fr%u", k);
            cr_assert_eq(set_kv(w, CACHE_STORE_SET, key, "5", 1, 0, 0, 0, &cas[k]), CACHE_OK);
        }
        char tag[16];
        snprintf(tag, sizeof tag, "r%d", round);
        push_out(tag);
        unsigned on_flash = 0;
        for (unsigned k = 0; k < FR_KEYS; k++) {
            char key[16];
            snprintf(key, sizeof key, "fr%u", k);
            on_flash += !in_ram(key);
        }
        cr_assert_gt(on_flash, FR_KEYS / 2, "only %u of %u on flash", on_flash, FR_KEYS);
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, 3);
        flash_racer_t r[2];
        memset(r, 0, sizeof r);
        for (int t = 0; t < 2; t++) {
            cr_assert_eq(cache_worker_create(c, &r[t].w), CACHE_OK);
            r[t].bar = &bar;
            r[t].del = del;
            memcpy(r[t].cas, cas, sizeof cas);
            pthread_create(&r[t].th, NULL, flash_racer_main, &r[t]);
        }
        pthread_barrier_wait(&bar);
        pthread_barrier_wait(&bar);
        for (int t = 0; t < 2; t++) {
            pthread_join(r[t].th, NULL);
            cache_worker_destroy(&r[t].w);
        }
        pthread_barrier_destroy(&bar);
        for (unsigned k = 0; k < FR_KEYS; k++) {
            char key[16];
            snprintf(key, sizeof key, "fr%u", k);
            cache_status_e a = r[0].st[k], b = r[1].st[k];
            cr_assert((a == CACHE_OK) != (b == CACHE_OK), "%s round %d: %s / %s", key, round,
                      cache_strerror(a), cache_strerror(b));
            if (del) {
                cr_assert(!has_key(w, key), "%s", key);
            } else {
                cr_assert(a == CACHE_EXISTS || b == CACHE_EXISTS);
                expect_val(key, "6");
            }
        }
    }
}
