/* tests/unit/tiers/test_tiering.c - RAM + flash through cache.h: spills,
 * reads back, memcached semantics of every command on flash-resident items,
 * per-key order of async requests, flush_all, a tiny-tag index. Small
 * geometry: a few MiB of RAM, a 64 MiB flash file with 1 MiB segments in
 * $TC_FLASH_TEST_DIR (or the current directory, or /var/tmp). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "helpers.h"

static fake_clock_t clk;
static cache_settings_t set;
static cache_t *c;
static cache_worker_t *w;
static char path[512];
static char err[256];

static void start(size_t mem, unsigned tag_bits, cache_flash_promote_e promote)
{
    flash_test_settings(&set, &clk, mem, 64u << 20, path, sizeof path,
                        "tiering", err, sizeof err);
    set.flash.block_size = 16u << 10;
    set.flash.tag_bits = tag_bits;
    set.flash_promote = promote;
    cache_status_e st = cache_create(&c, &set);
    cr_assert_eq(st, CACHE_OK, "cache_create: %s (%s)", cache_strerror(st), err);
    cr_assert_eq(cache_worker_create(c, &w), CACHE_OK);
    cr_assert_geq(cache_worker_fd(w), 0);
}

static void setup(void) { start(4u << 20, 0, CACHE_PROMOTE_SECOND_HIT); }

static void teardown(void)
{
    cache_worker_destroy(&w);
    cache_destroy(&c);
    unlink(path);
}

/* deterministic, mildly compressible values */
static void make_val(char *buf, size_t n, const char *key, unsigned gen)
{
    uint64_t x = 1469598103934665603ull ^ gen;
    for (const char *p = key; *p; p++)
        x = (x ^ (unsigned char)*p) * 1099511628211ull;
    for (size_t i = 0; i < n; i++) {
        if (i % 8 == 0)
            x = x * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (char)('a' + ((x >> ((i % 8) * 5)) & 15));
    }
}

static size_t vlen_of(unsigned i, size_t lo, size_t hi)
{
    uint64_t x = (uint64_t)i * 2654435761u;
    return lo + (size_t)(x % (hi - lo + 1));
}

static void put(const char *key, size_t n, unsigned gen)
{
    char *buf = malloc(n ? n : 1);
    make_val(buf, n, key, gen);
    cache_status_e st = set_kv(w, CACHE_STORE_SET, key, buf, n, 0, 0, 0, NULL);
    cr_assert_eq(st, CACHE_OK, "set %s: %s", key, cache_strerror(st));
    free(buf);
}

/* 0 = value right, 1 = miss, 2 = WRONG */
static int check(const char *key, size_t n, unsigned gen)
{
    cache_item_t *it = NULL;
    cache_status_e st = cache_get(w, key, strlen(key), &it, NULL);
    if (st == CACHE_NOT_FOUND)
        return 1;
    cr_assert_eq(st, CACHE_OK);
    char *buf = malloc(n ? n : 1);
    make_val(buf, n, key, gen);
    int bad = cache_item_nbytes(it) != n || memcmp(cache_item_value(it), buf, n) != 0;
    free(buf);
    cache_item_release(w, &it);
    return bad ? 2 : 0;
}

/* pushes everything older out of RAM: `bytes` of 4000-byte filler values,
 * plus 8 small ones (1..100 bytes) per big one, so every small slab class
 * evicts too */
static void push_out(size_t bytes, const char *tag)
{
    char key[64];
    size_t done = 0;
    for (unsigned i = 0; done < bytes; i++) {
        snprintf(key, sizeof key, "fl-%s-%u", tag, i);
        put(key, 4000, 0);
        done += 4000;
        for (unsigned j = 0; j < 8; j++) {
            snprintf(key, sizeof key, "fs-%s-%u-%u", tag, i, j);
            put(key, 1 + (i * 8 + j) % 100, 0);
        }
    }
}

static void stats(cache_stats_t *st) { cache_stats_snapshot(c, st); }

TestSuite(tiering, .init = setup, .fini = teardown, .timeout = 240);

static void load_and_verify(unsigned n, size_t lo, size_t hi)
{
    char key[64];
    for (unsigned i = 0; i < n; i++) {
        snprintf(key, sizeof key, "k%u", i);
        put(key, vlen_of(i, lo, hi), 1);
    }
    unsigned miss = 0, wrong = 0;
    for (unsigned i = 0; i < n; i++) {
        snprintf(key, sizeof key, "k%u", i);
        int r = check(key, vlen_of(i, lo, hi), 1);
        miss += r == 1;
        wrong += r == 2;
    }
    cache_stats_t st;
    stats(&st);
    cr_assert(st.flash_enabled);
    cr_assert_eq(wrong, 0, "%u wrong values", wrong);
    cr_assert_gt(st.flash_items_written, n / 2, "spilled %llu",
                 (unsigned long long)st.flash_items_written);
    cr_assert_gt(st.flash_get_hits, n / 2, "flash hits %llu",
                 (unsigned long long)st.flash_get_hits);
    cr_assert_leq(miss, n / 100, "%u of %u missing (drops: stall %llu io %llu adm %llu, "
                  "index evictions %llu collateral %llu)", miss, n,
                  (unsigned long long)st.flash_drops_stall, (unsigned long long)st.flash_drops_io,
                  (unsigned long long)st.flash_drops_admission,
                  (unsigned long long)st.flash_index_evictions,
                  (unsigned long long)st.flash_index_collateral);
}

Test(tiering, large_values_8x_ram)
{
    /* 8 x 4 MiB of 100 B - 8 KiB values */
    load_and_verify(32u * 1024 * 1024 / 4150, 100, 8192);
}

Test(tiering, small_values_8x_ram, .init = NULL)
{
    start(2u << 20, 0, CACHE_PROMOTE_SECOND_HIT);
    load_and_verify(16u * 1024 * 1024 / 110, 20, 200);
}

Test(tiering, overwrite_and_delete_never_old)
{
    char key[64];
    unsigned n = 6000;
    for (unsigned i = 0; i < n; i++) {
        snprintf(key, sizeof key, "k%u", i);
        put(key, vlen_of(i, 100, 4000), 1);
    }
    for (unsigned i = 0; i < n; i++) {
        snprintf(key, sizeof key, "k%u", i);
        if (i % 4 == 1)
            put(key, vlen_of(i + 7, 100, 4000), 2);
        else if (i % 4 == 2)
            cr_assert_eq(cache_delete(w, key, strlen(key), NULL), CACHE_OK, "%s", key);
    }
    push_out(8u << 20, "ow");
    unsigned wrong = 0, miss = 0;
    for (unsigned i = 0; i < n; i++) {
        snprintf(key, sizeof key, "k%u", i);
        if (i % 4 == 2) {
            cr_assert(!has_key(w, key), "%s deleted but found", key);
            continue;
        }
        int r = i % 4 == 1 ? check(key, vlen_of(i + 7, 100, 4000), 2)
                           : check(key, vlen_of(i, 100, 4000), 1);
        wrong += r == 2;
        miss += r == 1;
    }
    cr_assert_eq(wrong, 0);
    cr_assert_leq(miss, n / 100);
}

/* A key set at the start and pushed out to flash. */
static uint64_t on_flash(const char *key, const char *val, uint32_t flags, int64_t exptime)
{
    uint64_t cas = 0;
    cr_assert_eq(set_kv(w, CACHE_STORE_SET, key, val, strlen(val), flags, exptime, 0, &cas),
                 CACHE_OK);
    return cas;
}

static void expect(const char *key, const char *want)
{
    char buf[256];
    cr_assert_eq(get_s(w, key, buf, sizeof buf), CACHE_OK, "%s missing", key);
    cr_assert_str_eq(buf, want, "%s: '%s' != '%s'", key, buf, want);
}

Test(tiering, commands_on_flash_items)
{
    uint64_t cas_g = on_flash("g", "gval", 7, 0);
    on_flash("add", "a", 0, 0);
    on_flash("rep", "r", 0, 0);
    on_flash("app", "mid", 3, 0);
    on_flash("pre", "mid", 0, 0);
    uint64_t cas_c = on_flash("cas", "c1", 0, 0);
    on_flash("casbad", "c1", 0, 0);
    on_flash("num", "41", 0, 0);
    on_flash("dnum", "10", 0, 0);
    on_flash("del", "x", 0, 0);
    on_flash("ttl", "t", 0, 100);
    on_flash("touch", "t", 0, 0);
    on_flash("gat", "gv", 0, 0);
    push_out(12u << 20, "cmd");
    cache_stats_t s0, s1;
    stats(&s0);

    /* get keeps value, flags and cas */
    cache_item_t *it = NULL;
    cr_assert_eq(cache_get(w, "g", 1, &it, NULL), CACHE_OK);
    cr_assert_eq(cache_item_nbytes(it), 4);
    cr_assert(memcmp(cache_item_value(it), "gval", 4) == 0);
    cr_assert_eq(cache_item_flags(it), 7);
    cr_assert_eq(cache_item_cas(it), cas_g, "cas unique kept");
    cache_item_release(w, &it);
    stats(&s1);
    cr_assert_gt(s1.flash_get_hits, s0.flash_get_hits,
                 "served from flash (written %llu, curr %llu, hits %llu, misses %llu)",
                 (unsigned long long)s1.flash_items_written,
                 (unsigned long long)s1.curr_items, (unsigned long long)s1.get_hits,
                 (unsigned long long)s1.get_misses);

    cr_assert_eq(set_kv(w, CACHE_STORE_ADD, "add", "b", 1, 0, 0, 0, NULL), CACHE_NOT_STORED);
    expect("add", "a");
    cr_assert_eq(set_kv(w, CACHE_STORE_REPLACE, "rep", "R", 1, 0, 0, 0, NULL), CACHE_OK);
    expect("rep", "R");
    cr_assert_eq(set_kv(w, CACHE_STORE_APPEND, "app", "+", 1, 0, 0, 0, NULL), CACHE_OK);
    expect("app", "mid+");
    cr_assert_eq(cache_get(w, "app", 3, &it, NULL), CACHE_OK);
    cr_assert_eq(cache_item_flags(it), 3, "append keeps the flash item's flags");
    cache_item_release(w, &it);
    cr_assert_eq(set_kv(w, CACHE_STORE_PREPEND, "pre", "-", 1, 0, 0, 0, NULL), CACHE_OK);
    expect("pre", "-mid");
    cr_assert_eq(set_kv(w, CACHE_STORE_CAS, "casbad", "z", 1, 0, 0, cas_c, NULL),
                 CACHE_EXISTS);
    expect("casbad", "c1");
    cr_assert_eq(set_kv(w, CACHE_STORE_CAS, "cas", "c2", 2, 0, 0, cas_c, NULL), CACHE_OK);
    expect("cas", "c2");
    cr_assert_eq(set_kv(w, CACHE_STORE_CAS, "nosuch", "c2", 2, 0, 0, 5, NULL),
                 CACHE_NOT_FOUND);
    uint64_t v = 0;
    cr_assert_eq(cache_arith(w, "num", 3, true, 1, &v, NULL, NULL), CACHE_OK);
    cr_assert_eq(v, 42);
    cr_assert_eq(cache_arith(w, "dnum", 4, false, 3, &v, NULL, NULL), CACHE_OK);
    cr_assert_eq(v, 7);
    expect("dnum", "7 ");
    cr_assert_eq(cache_arith(w, "nosuch", 6, true, 1, &v, NULL, NULL), CACHE_NOT_FOUND);
    cr_assert_eq(cache_delete(w, "del", 3, NULL), CACHE_OK);
    cr_assert_eq(cache_delete(w, "del", 3, NULL), CACHE_NOT_FOUND);
    cr_assert(!has_key(w, "del"));
    cr_assert_eq(cache_delete(w, "never", 5, NULL), CACHE_NOT_FOUND);
    cr_assert_eq(cache_touch(w, "touch", 5, 50, NULL), CACHE_OK);
    cr_assert_eq(cache_touch(w, "nosuch", 6, 50, NULL), CACHE_NOT_FOUND);
    cr_assert_eq(cache_get_and_touch(w, "gat", 3, 50, &it, NULL), CACHE_OK);
    cr_assert(memcmp(cache_item_value(it), "gv", 2) == 0);
    cr_assert_eq(cache_item_exptime(it), T0 + 50);
    cache_item_release(w, &it);
    expect("ttl", "t");
    expect("touch", "t");

    /* TTLs honoured: "ttl" expires at T0+100, touch/gat at T0+50 */
    atomic_store(&clk.now, T0 + 60);
    cr_assert(!has_key(w, "touch"));
    cr_assert(!has_key(w, "gat"));
    expect("ttl", "t");
    atomic_store(&clk.now, T0 + 101);
    cr_assert(!has_key(w, "ttl"));
    expect("g", "gval");
}

Test(tiering, ttl_honoured_while_on_flash)
{
    on_flash("t1", "v", 0, 100);
    on_flash("t2", "v", 0, 0);
    push_out(12u << 20, "ttl");
    atomic_store(&clk.now, T0 + 101);
    cr_assert(!has_key(w, "t1"));
    expect("t2", "v");
    cr_assert_eq(cache_delete(w, "t1", 2, NULL), CACHE_NOT_FOUND);
}

/* ---- async ---- */

typedef struct done_rec {
    int calls;
    cache_result_t r;
} done_rec_t;

static void on_done(void *ctx, cache_result_t *r)
{
    done_rec_t *d = ctx;
    d->calls++;
    d->r = *r;
}

static void drive_until(done_rec_t *d, unsigned n)
{
    for (int spins = 0; spins < 5000; spins++) {
        unsigned ok = 0;
        for (unsigned i = 0; i < n; i++)
            ok += d[i].calls > 0;
        if (ok == n)
            return;
        struct pollfd p = {.fd = cache_worker_fd(w), .events = POLLIN};
        poll(&p, 1, 10);
        cache_worker_poll(w);
    }
    cr_assert_fail("async requests never completed");
}

Test(tiering, async_two_incr_give_two)
{
    on_flash("cnt", "5", 0, 0);
    push_out(12u << 20, "incr");
    done_rec_t d[2] = {{0}, {0}};
    cache_async_t a0 = {on_done, &d[0]}, a1 = {on_done, &d[1]};
    uint64_t v0 = 0, v1 = 0;
    cache_status_e s0 = cache_arith(w, "cnt", 3, true, 1, &v0, NULL, &a0);
    cache_status_e s1 = cache_arith(w, "cnt", 3, true, 1, &v1, NULL, &a1);
    if (s0 == CACHE_PENDING) {
        cr_assert_eq(s1, CACHE_PENDING, "queued behind the first");
        drive_until(d, 2);
        cr_assert_eq(d[0].calls, 1);
        cr_assert_eq(d[1].calls, 1);
        cr_assert_eq(d[0].r.status, CACHE_OK);
        cr_assert_eq(d[1].r.status, CACHE_OK);
        v0 = d[0].r.value;
        v1 = d[1].r.value;
    } else {
        cr_assert_eq(s0, CACHE_OK);
    }
    cr_assert_eq(v0, 6);
    cr_assert_eq(v1, 7);
    expect("cnt", "7");
}

Test(tiering, async_incr_then_set_in_order)
{
    on_flash("o", "5", 0, 0);
    push_out(12u << 20, "ord");
    done_rec_t d[2] = {{0}, {0}};
    cache_async_t a0 = {on_done, &d[0]}, a1 = {on_done, &d[1]};
    uint64_t v = 0;
    cache_status_e s0 = cache_arith(w, "o", 1, true, 1, &v, NULL, &a0);
    cache_item_t *it = NULL;
    cr_assert_eq(cache_item_alloc(w, "o", 1, 0, 0, 3, &it), CACHE_OK);
    memcpy(cache_item_data(it), "100", 3);
    cache_status_e s1 = cache_store(w, it, CACHE_STORE_SET, 0, NULL, &a1);
    cache_item_release(w, &it);
    if (s0 == CACHE_PENDING) {
        cr_assert_eq(s1, CACHE_PENDING);
        drive_until(d, 2);
        cr_assert_eq(d[0].r.value, 6);
        cr_assert_eq(d[1].r.status, CACHE_OK);
    }
    expect("o", "100");
}

Test(tiering, async_multiget)
{
    char key[32];
    unsigned n = 200;
    for (unsigned i = 0; i < n; i++) {
        snprintf(key, sizeof key, "mg%u", i);
        put(key, 300 + i, 3);
    }
    push_out(12u << 20, "mg");
    done_rec_t *d = calloc(n, sizeof *d);
    cache_item_t **items = calloc(n, sizeof *items);
    unsigned pending = 0;
    for (unsigned i = 0; i < n; i++) {
        snprintf(key, sizeof key, "mg%u", i);
        cache_async_t a = {on_done, &d[i]};
        cache_status_e st = cache_get(w, key, strlen(key), &items[i], &a);
        if (st == CACHE_PENDING) {
            pending++;
        } else {
            cr_assert_eq(st, CACHE_OK, "%s", key);
            d[i].calls = 1;
            d[i].r.status = st;
            d[i].r.item = items[i];
        }
    }
    drive_until(d, n);
    unsigned wrong = 0;
    for (unsigned i = 0; i < n; i++) {
        snprintf(key, sizeof key, "mg%u", i);
        cr_assert_eq(d[i].calls, 1);
        cr_assert_eq(d[i].r.status, CACHE_OK, "%s", key);
        char buf[600];
        make_val(buf, 300 + i, key, 3);
        cache_item_t *it = d[i].r.item;
        wrong += cache_item_nbytes(it) != 300 + i || memcmp(cache_item_value(it), buf, 300 + i);
        cache_item_release(w, &it);
    }
    cr_assert_eq(wrong, 0);
    cr_log_info("multiget: %u of %u pending", pending, n);
    free(d);
    free(items);
}

/* ---- flush_all ---- */

Test(tiering, flush_all_now_covers_flash)
{
    on_flash("f1", "v", 0, 0);
    push_out(12u << 20, "fl");
    atomic_store(&clk.now, T0 + 5);
    cache_flush_all(w, 0);
    cr_assert(!has_key(w, "f1"));
    cr_assert_eq(cache_delete(w, "f1", 2, NULL), CACHE_NOT_FOUND);
    cr_assert_eq(set_kv(w, CACHE_STORE_ADD, "f1", "n", 1, 0, 0, 0, NULL), CACHE_OK);
    expect("f1", "n");
}

Test(tiering, flush_all_delayed_covers_flash)
{
    on_flash("f2", "v", 0, 0);
    push_out(12u << 20, "fd");
    atomic_store(&clk.now, T0 + 5);
    cache_flush_all(w, 10);
    expect("f2", "v");
    atomic_store(&clk.now, T0 + 16);
    cr_assert(!has_key(w, "f2"));
}

/* ---- promotion ---- */

Test(tiering, promoted_copy_not_rewritten, .init = NULL)
{
    start(4u << 20, 0, CACHE_PROMOTE_ALWAYS);
    on_flash("p", "pv", 0, 0);
    push_out(12u << 20, "pr1");
    expect("p", "pv"); /* promoted */
    cache_stats_t s0, s1;
    stats(&s0);
    cr_assert_geq(s0.flash_promotions, 1);
    push_out(12u << 20, "pr2");
    stats(&s1);
    expect("p", "pv");
    /* touched after promotion: the new TTL wins after the next eviction */
    cr_assert_eq(cache_touch(w, "p", 1, 30, NULL), CACHE_OK);
    push_out(12u << 20, "pr3");
    atomic_store(&clk.now, T0 + 31);
    cr_assert(!has_key(w, "p"));
}

/* ---- tiny tags: collisions everywhere, never a wrong value ---- */

Test(tiering, tiny_tags_never_wrong, .init = NULL)
{
    start(2u << 20, 2, CACHE_PROMOTE_SECOND_HIT);
    char key[64];
    unsigned n = 12000;
    for (unsigned i = 0; i < n; i++) {
        snprintf(key, sizeof key, "k%u", i);
        put(key, vlen_of(i, 50, 2000), 1);
        if (i % 7 == 3) {
            snprintf(key, sizeof key, "k%u", i / 2);
            put(key, vlen_of(i / 2 + 7, 50, 2000), 2);
        }
    }
    unsigned wrong = 0, miss = 0;
    for (unsigned i = 0; i < n; i++) {
        snprintf(key, sizeof key, "k%u", i);
        bool over = false;
        for (unsigned j = 2 * i; j <= 2 * i + 1; j++)
            if (j < n && j % 7 == 3)
                over = true;
        int r = over ? check(key, vlen_of(i + 7, 50, 2000), 2)
                     : check(key, vlen_of(i, 50, 2000), 1);
        wrong += r == 2;
        miss += r == 1;
    }
    cr_log_info("tiny tags: %u of %u missing", miss, n);
    cr_assert_eq(wrong, 0);
}

Test(tiering, stats_and_memory)
{
    push_out(12u << 20, "st");
    cache_stats_t st;
    stats(&st);
    cr_assert(st.flash_enabled);
    cr_assert_gt(st.flash_bytes_written, 0);
    cr_assert_gt(st.flash_index_capacity, 0);
    cr_assert_gt(st.flash_write_amplification, 0.0);
    cr_assert_gt(cache_memory_outside_limit(c), st.flash_index_bytes);
}

/* With a flash tier every part outside -m is accounted: the parts add up to
 * cache_memory_outside_limit, the stats snapshot carries them, and the
 * parts a flash tier always has are non-zero (issue 14 item 5). */
Test(tiering, memory_parts_add_up)
{
    push_out(4u << 20, "mp");
    cache_memory_t m;
    cache_memory_parts(c, &m);
    uint64_t sum = 0;
#define SUM(name, desc) sum += m.name;
    CACHE_MEMORY_FIELDS(SUM)
#undef SUM
    cr_assert_eq(sum, cache_memory_outside_limit(c));
    cr_assert_gt(m.memory_hash_table, 0);
    cr_assert_gt(m.memory_ram_ghosts, 0);
    cr_assert_gt(m.memory_flash_index, 0);
    /* two builders of a 1 MiB segment and a quarter-segment block each,
     * and reclaim's segment buffer + record scratch */
    cr_assert_eq(m.memory_flash_builders, 2 * ((1u << 20) + (1u << 18)));
    cr_assert_eq(m.memory_flash_reclaim, (1u << 20) + (1u << 18));
    cr_assert_gt(m.memory_flash_queues, 0);
    cr_assert_gt(m.memory_flash_workers, 0);  /* one worker's scratch and hit buffer */
    cr_assert_gt(m.memory_flash_zstd, 0);     /* the writer's CCtx, the worker's DCtx */
    cache_stats_t st;
    stats(&st);
    cr_assert_eq(st.memory_flash_index, st.flash_index_bytes);
    cr_assert_eq(st.memory_flash_builders, m.memory_flash_builders);
    cr_assert_gt(st.memory_flash_zstd, 0);
}

Test(tiering, bad_path_reports_reason, .init = NULL, .fini = NULL)
{
    test_settings(&set, &clk);
    set.flash.path = "/nonexistent-dir/x.dat";
    set.flash.size = 64u << 20;
    set.err = err;
    set.err_len = sizeof err;
    cr_assert_eq(cache_create(&c, &set), CACHE_EINVAL);
    cr_assert_neq(err[0], 0);
    cr_assert_null(c);
}
