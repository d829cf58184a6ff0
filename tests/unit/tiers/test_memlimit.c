/* tests/unit/tiers/test_memlimit.c - the memory limit at run time
 * (cache_memlimit: ram_mem_limit_set / ram_mem_shrink) and the
 * ext_item_age pass (ram_age_spill). Uses the RAM tier directly, no
 * background threads, a fake clock; the "flash tier" is a fake set of
 * hooks that keeps a copy of every item handed to it and lets RAM go at
 * once (as the flash writer's written_fn would). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_lower.h"
#include "helpers.h"
#include "ram/hash.h"
#include "ram/ram.h"

#define MiB ((size_t)1024 * 1024)
#define BIG 1000  /* 1000-byte values: one class (1184-byte chunks) */
#define SMALL 10  /* 10-byte values: class 1 */

static fake_clock_t clk;
static ram_t ram;
static ram_wstats_t ws;

/* ---- the fake flash tier ---- */

#define FAKE_MAX 100000
typedef struct fake_rec {
    char key[32];
    size_t nbytes;
    char *value;
} fake_rec_t;

static fake_rec_t *fake;   /* what was "written", in order */
static unsigned nfake;
static bool fake_admit_all;
static unsigned fake_evict_calls;

/* The victim hook: the door's rules that matter here (the writer-behind
 * bound, an idle pass leaves what is not admitted), then every item is
 * queued. */
static ram_spill_e fk_victim(void *ctx, const ram_victim_t *v)
{
    (void)ctx;
    if (v->nospill)
        return RAM_SPILL_DROP;
    if (v->pending > v->linked / 2)
        return RAM_SPILL_BEHIND;
    if (v->idle && !fake_admit_all)
        return RAM_SPILL_LEAVE;
    fake_evict_calls++;
    return RAM_SPILL_QUEUE;
}

/* The writer: copies each item, then RAM lets it go (ram_spill_done). */
static void fk_enqueue(void *ctx, item_t *list)
{
    (void)ctx;
    for (item_t *it; (it = fake_lower_pop(&list)) != NULL;) {
        cr_assert_lt(nfake, FAKE_MAX);
        fake_rec_t *f = &fake[nfake++];
        size_t nk = item_nkey(it);
        cr_assert_lt(nk, sizeof f->key);
        memcpy(f->key, item_ckey(it), nk);
        f->key[nk] = '\0';
        f->nbytes = it->nbytes;
        f->value = malloc(it->nbytes);
        memcpy(f->value, item_cvalue(it), it->nbytes);
        ram_spill_done(&ram, it, true);
    }
}

static void attach_fake_flash(bool admit)
{
    fake = calloc(FAKE_MAX, sizeof *fake);
    nfake = 0;
    fake_admit_all = admit;
    fake_evict_calls = 0;
    ram_lower_hooks_t h = {
        .ctx = NULL,
        .victim = fk_victim,
        .changed = fake_lower_changed,
        .current = fake_lower_current,
        .enqueue = fk_enqueue,
    };
    cr_assert(ram_lower_attach(&ram, &h));
}

static const fake_rec_t *fake_find(const char *key)
{
    for (unsigned i = nfake; i-- > 0;)
        if (strcmp(fake[i].key, key) == 0)
            return &fake[i];
    return NULL;
}

/* ---- fixtures ---- */

static void setup_mem(size_t mem)
{
    cache_settings_t s;
    test_settings(&s, &clk);
    s.ram.mem_limit = mem;
    cr_assert_eq(ram_init(&ram, &s.ram), CACHE_OK);
    memset(&ws, 0, sizeof ws);
}

static void fini(void)
{
    ram_teardown(&ram);
    for (unsigned i = 0; fake && i < nfake; i++)
        free(fake[i].value);
    free(fake);
    fake = NULL;
    nfake = 0;
}

TestSuite(memlimit, .fini = fini);

static void fill_value(char *d, size_t n, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < n; i++)
        d[i] = key[i % kl];
}

static cache_status_e put(const char *key, size_t n)
{
    cache_status_e st;
    item_t *spill = NULL;
    item_t *it = ram_item_alloc(&ram, &ws, key, strlen(key), 0, 0, n, 0,
                                ram.low_on ? &spill : NULL, &st);
    if (spill)
        fk_enqueue(NULL, spill);
    if (!it)
        return st;
    fill_value(item_value(it), n, key);
    st = ram_store(&ram, &ws, it, CACHE_STORE_SET, 0, NULL, 0, NULL);
    ram_item_release(&ram, it);
    return st;
}

/* CACHE_OK: in RAM with the right value; CACHE_EXISTS: a wrong value. */
static cache_status_e check(const char *key, size_t n)
{
    item_t *it = NULL;
    cache_status_e st = ram_get(&ram, &ws, key, strlen(key), RAM_GET, 0, &it, RAM_F_NOBUMP);
    if (st != CACHE_OK)
        return st;
    char buf[BIG];
    fill_value(buf, n, key);
    bool ok = it->nbytes == n && memcmp(item_cvalue(it), buf, n) == 0;
    ram_item_release(&ram, it);
    return ok ? CACHE_OK : CACHE_EXISTS;
}

static bool fake_has(const char *key, size_t n)
{
    const fake_rec_t *f = fake_find(key);
    if (!f)
        return false;
    char buf[BIG];
    fill_value(buf, n, key);
    return f->nbytes == n && memcmp(f->value, buf, n) == 0;
}

static uint64_t pages(unsigned id)
{
    slabs_class_info_t in;
    slabs_class_info(&ram.slabs, id, &in);
    return in.total_pages;
}

static uint64_t linked(unsigned id)
{
    lru_class_t *l = &ram.lru[id];
    return l->count[LRU_HOT] + l->count[LRU_WARM] + l->count[LRU_COLD];
}

static unsigned big_class(void)
{
    return slabs_clsid(&ram.slabs, item_ntotal_for(8, BIG, 0, true));
}

/* Fills class `big_class` with n keys "k%07u". */
static void fill_big(unsigned n)
{
    char key[32];
    for (unsigned i = 0; i < n; i++) {
        snprintf(key, sizeof key, "k%07u", i);
        cr_assert_eq(put(key, BIG), CACHE_OK, "%s", key);
    }
}

/* ---- shrinking ---- */

Test(memlimit, shrink_frees_pages_and_evicts_without_flash)
{
    setup_mem(16 * MiB);
    unsigned b = big_class();
    unsigned n = 16 * ram.slabs.cls[b].perslab; /* exactly 16 pages */
    fill_big(n);
    cr_assert_eq(pages(b), 16);
    cr_assert_eq(slabs_total_malloced(&ram.slabs), 16 * MiB);
    cr_assert_eq(atomic_load(&ram.lru[b].st.evicted), 0);

    ram_mem_limit_set(&ram, 8 * MiB);
    cr_assert_eq(ram_mem_limit(&ram), 8 * MiB);
    cr_assert(ram_mem_over(&ram));
    cr_assert_eq(ram_mem_shrink(&ram, 10000), RAM_SHRINK_DONE);
    cr_assert_leq(slabs_total_malloced(&ram.slabs), 8 * MiB);
    cr_assert_eq(pages(b), 8);
    cr_assert_eq(atomic_load(&ram.pages_released), 8);
    cr_assert(!ram_mem_over(&ram));

    /* every key intact or gone; what is gone was counted as evicted */
    char key[32];
    unsigned found = 0;
    for (unsigned i = 0; i < n; i++) {
        snprintf(key, sizeof key, "k%07u", i);
        cache_status_e st = check(key, BIG);
        cr_assert(st == CACHE_OK || st == CACHE_NOT_FOUND, "%s: %d", key, st);
        found += st == CACHE_OK;
    }
    cr_assert_eq(found, linked(b));
    cr_assert_eq(found, 8 * ram.slabs.cls[b].perslab, "8 full pages stay");
    cr_assert_eq(atomic_load(&ram.lru[b].st.evicted), n - found);
    cr_assert_eq(atomic_load(&ram.slabs.slab_reassign_evictions_nomem), n - found);
    /* and no page comes back over the new limit: stores evict */
    for (unsigned i = 0; i < 2 * ram.slabs.cls[b].perslab; i++) {
        snprintf(key, sizeof key, "x%07u", i);
        cr_assert_eq(put(key, BIG), CACHE_OK);
    }
    cr_assert_leq(slabs_total_malloced(&ram.slabs), 8 * MiB);
}

Test(memlimit, shrink_spills_every_item_through_the_hook)
{
    setup_mem(16 * MiB);
    attach_fake_flash(true);
    unsigned b = big_class();
    unsigned n = 16 * ram.slabs.cls[b].perslab;
    fill_big(n);
    cr_assert_eq(nfake, 0, "nothing spilled while it fits");

    ram_mem_limit_set(&ram, 8 * MiB);
    cr_assert_eq(ram_mem_shrink(&ram, 10000), RAM_SHRINK_DONE);
    cr_assert_leq(slabs_total_malloced(&ram.slabs), 8 * MiB);
    cr_assert_eq(pages(b), 8);

    /* no key lost: each is in RAM or was handed to flash, exact value */
    char key[32];
    unsigned in_ram = 0, on_flash = 0;
    for (unsigned i = 0; i < n; i++) {
        snprintf(key, sizeof key, "k%07u", i);
        cache_status_e st = check(key, BIG);
        cr_assert(st == CACHE_OK || st == CACHE_NOT_FOUND, "%s: %d", key, st);
        if (st == CACHE_OK) {
            in_ram++;
        } else {
            cr_assert(fake_has(key, BIG), "%s neither in RAM nor spilled", key);
            on_flash++;
        }
    }
    cr_assert_eq(in_ram + on_flash, n);
    cr_assert_eq(on_flash, nfake, "each spilled item written once");
    cr_assert_eq(fake_evict_calls, nfake);
    cr_assert_eq(atomic_load(&ram.lru[b].st.evicted), 0, "spilled, not dropped");
    cr_assert_eq(atomic_load(&ram.pending), 0);
}

Test(memlimit, grow_lets_more_items_fit)
{
    setup_mem(8 * MiB);
    unsigned b = big_class();
    unsigned per = ram.slabs.cls[b].perslab;
    fill_big(12 * per);
    cr_assert_eq(pages(b), 8);
    uint64_t ev = atomic_load(&ram.lru[b].st.evicted);
    cr_assert_eq(ev, 4u * per, "over 8 MiB: evicted");

    ram_mem_limit_set(&ram, 16 * MiB);
    cr_assert_eq(ram_mem_shrink(&ram, 1000), RAM_SHRINK_DONE);
    char key[32];
    for (unsigned i = 0; i < 8 * per; i++) {
        snprintf(key, sizeof key, "g%07u", i);
        cr_assert_eq(put(key, BIG), CACHE_OK);
    }
    cr_assert_eq(pages(b), 16);
    cr_assert_eq(slabs_total_malloced(&ram.slabs), 16 * MiB);
    cr_assert_eq(atomic_load(&ram.lru[b].st.evicted), ev, "grown: no eviction");
    for (unsigned i = 0; i < 8 * per; i++) {
        snprintf(key, sizeof key, "g%07u", i);
        cr_assert_eq(check(key, BIG), CACHE_OK, "%s", key);
    }
}

Test(memlimit, free_chunks_are_released_before_items)
{
    setup_mem(16 * MiB);
    unsigned b = big_class();
    unsigned per = ram.slabs.cls[b].perslab;
    fill_big(16 * per);
    /* delete the first half of the keys: 8 pages' worth of free chunks,
     * spread over the pages as the keys were stored */
    char key[32];
    for (unsigned i = 0; i < 16 * per; i += 2) {
        snprintf(key, sizeof key, "k%07u", i);
        cr_assert_eq(ram_delete(&ram, &ws, key, strlen(key), false, 0), CACHE_OK);
    }
    ram_mem_limit_set(&ram, 8 * MiB);
    cr_assert_eq(ram_mem_shrink(&ram, 10000), RAM_SHRINK_DONE);
    cr_assert_eq(pages(b), 8);
    /* the live half fits in 8 pages: rescued, not evicted */
    cr_assert_eq(atomic_load(&ram.lru[b].st.evicted), 0);
    cr_assert_gt(atomic_load(&ram.slabs.slab_reassign_rescues), 0);
    for (unsigned i = 1; i < 16 * per; i += 2) {
        snprintf(key, sizeof key, "k%07u", i);
        cr_assert_eq(check(key, BIG), CACHE_OK, "%s", key);
    }
}

Test(memlimit, floor_one_page_per_class)
{
    setup_mem(16 * MiB);
    /* two classes with 2 pages each */
    unsigned b = big_class();
    unsigned s = slabs_clsid(&ram.slabs, item_ntotal_for(8, SMALL, 0, true));
    char key[32];
    for (unsigned i = 0; i < 2 * ram.slabs.cls[b].perslab; i++) {
        snprintf(key, sizeof key, "b%07u", i);
        cr_assert_eq(put(key, BIG), CACHE_OK);
    }
    for (unsigned i = 0; i < 2 * ram.slabs.cls[s].perslab; i++) {
        snprintf(key, sizeof key, "s%07u", i);
        cr_assert_eq(put(key, SMALL), CACHE_OK);
    }
    cr_assert_eq(pages(b), 2);
    cr_assert_eq(pages(s), 2);
    cr_assert(!ram_mem_shrink_wanted(&ram), "no limit set yet");
    /* a limit under one page: each class keeps its last page */
    ram_mem_limit_set(&ram, MiB / 2);
    cr_assert(ram_mem_shrink_wanted(&ram));
    cr_assert_eq(ram_mem_shrink(&ram, 10000), RAM_SHRINK_FLOOR);
    cr_assert(!ram_mem_shrink_wanted(&ram), "the maintainer stops trying");
    cr_assert_eq(pages(b), 1);
    cr_assert_eq(pages(s), 1);
    cr_assert_eq(slabs_total_malloced(&ram.slabs), 2 * MiB);
    cr_assert(ram_mem_over(&ram));
    /* the classes still store (their one page), nothing crashes */
    cr_assert_eq(put("b-after", BIG), CACHE_OK);
    cr_assert_eq(check("b-after", BIG), CACHE_OK);
    cr_assert_eq(slabs_total_malloced(&ram.slabs), 2 * MiB);
}

Test(memlimit, pool_pages_over_the_limit_freed_at_once)
{
    setup_mem(16 * MiB);
    unsigned b = big_class();
    unsigned per = ram.slabs.cls[b].perslab;
    fill_big(6 * per);
    char key[32];
    for (unsigned i = 0; i < 6 * per; i++) {
        snprintf(key, sizeof key, "k%07u", i);
        ram_delete(&ram, &ws, key, strlen(key), false, 0);
    }
    /* 4 empty pages to the pool (memcached's automover would): counted */
    for (int i = 0; i < 4; i++)
        cr_assert_eq(ram_slabs_reassign(&ram, (int)b, 0), RAM_MOVE_OK);
    cr_assert_eq(slabs_pool_pages(&ram.slabs), 4);
    cr_assert_eq(slabs_total_malloced(&ram.slabs), 6 * MiB);
    ram_mem_limit_set(&ram, 3 * MiB); /* no shrink step: the pool alone */
    cr_assert_eq(slabs_pool_pages(&ram.slabs), 1);
    cr_assert_eq(slabs_total_malloced(&ram.slabs), 3 * MiB);
    cr_assert_eq(pages(b), 2);
}

/* ---- ext_item_age ---- */

Test(memlimit, age_spill_moves_only_idle_items)
{
    setup_mem(16 * MiB);
    attach_fake_flash(true);
    unsigned b = big_class();
    char key[32];
    for (unsigned i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "old%04u", i);
        cr_assert_eq(put(key, BIG), CACHE_OK);
    }
    atomic_fetch_add(&clk.now, 10);
    for (unsigned i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "new%04u", i);
        cr_assert_eq(put(key, BIG), CACHE_OK);
    }
    /* off, or no item idle long enough: nothing moves */
    cr_assert_eq(ram_age_spill(&ram, b, UINT32_MAX, 10000), 0);
    cr_assert_eq(ram_age_spill(&ram, b, 10, 10000), 0);
    cr_assert_eq(nfake, 0);
    /* idle more than 5 s: the 300 old ones, a few passes (64 a list) */
    unsigned moved = 0;
    for (int pass = 0; pass < 50; pass++)
        moved += ram_age_spill(&ram, b, 5, 100);
    cr_assert_eq(moved, 300);
    cr_assert_eq(nfake, 300);
    cr_assert_eq(atomic_load(&ram.age_spills), 300);
    cr_assert_eq(linked(b), 200);
    for (unsigned i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "old%04u", i);
        cr_assert_eq(check(key, BIG), CACHE_NOT_FOUND, "%s left RAM", key);
        cr_assert(fake_has(key, BIG), "%s on flash, exact", key);
    }
    for (unsigned i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "new%04u", i);
        cr_assert_eq(check(key, BIG), CACHE_OK, "%s stays", key);
    }
    cr_assert_eq(atomic_load(&ram.lru[b].st.evicted), 0);
}

Test(memlimit, age_spill_never_drops_what_flash_refuses)
{
    setup_mem(16 * MiB);
    attach_fake_flash(false); /* flash admits nothing */
    unsigned b = big_class();
    char key[32];
    for (unsigned i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "old%04u", i);
        cr_assert_eq(put(key, BIG), CACHE_OK);
    }
    atomic_fetch_add(&clk.now, 100);
    for (int pass = 0; pass < 5; pass++)
        cr_assert_eq(ram_age_spill(&ram, b, 5, 1000), 0);
    cr_assert_eq(nfake, 0);
    cr_assert_eq(fake_evict_calls, 0);
    cr_assert_eq(linked(b), 100);
    for (unsigned i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "old%04u", i);
        cr_assert_eq(check(key, BIG), CACHE_OK, "%s stays in RAM", key);
    }
}

Test(memlimit, age_spill_needs_a_flash_tier)
{
    setup_mem(16 * MiB);
    unsigned b = big_class();
    cr_assert_eq(put("k", BIG), CACHE_OK);
    atomic_fetch_add(&clk.now, 100);
    cr_assert_eq(ram_age_spill(&ram, b, 1, 1000), 0);
    cr_assert_eq(check("k", BIG), CACHE_OK);
}

/* ---- the door ---- */

Test(memlimit_door, sets_and_refuses)
{
    cache_settings_t s;
    test_settings(&s, &clk);
    s.ram.mem_limit = 16 * MiB;
    cache_t *c = NULL;
    cr_assert_eq(cache_create(&c, &s), CACHE_OK);
    cr_assert_eq(cache_mem_limit(c), 16 * MiB);
    cr_assert_eq(cache_mem_limit_set(c, 0), CACHE_EINVAL);
    cr_assert_eq(cache_mem_limit(c), 16 * MiB);
    cr_assert_eq(cache_mem_limit_set(c, 32 * MiB), CACHE_OK);
    cr_assert_eq(cache_mem_limit(c), 32 * MiB);
    cache_stats_t st;
    cache_stats_snapshot(c, &st);
    cr_assert_eq(st.limit_maxbytes, 32 * MiB);
    cr_assert_eq(st.flash_age_spills, 0);

    /* no maintainer thread: the shrink is done before returning */
    cache_worker_t *w = NULL;
    cr_assert_eq(cache_worker_create(c, &w), CACHE_OK);
    char key[32], val[BIG];
    memset(val, 'v', sizeof val);
    for (unsigned i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "d%07u", i);
        cr_assert_eq(set_kv(w, CACHE_STORE_SET, key, val, sizeof val, 0, 0, 0, NULL),
                     CACHE_OK);
    }
    cr_assert_eq(cache_mem_limit_set(c, 8 * MiB), CACHE_OK);
    cache_stats_snapshot(c, &st);
    cr_assert_eq(st.limit_maxbytes, 8 * MiB);
    cr_assert_gt(st.evictions, 0);
    cache_worker_destroy(&w);
    cache_destroy(&c);

    /* -L: the memory is fixed at start (memcached refuses too) */
    s.ram.slab_prealloc = true;
    s.ram.mem_limit = 8 * MiB;
    cr_assert_eq(cache_create(&c, &s), CACHE_OK);
    cr_assert_eq(cache_mem_limit_set(c, 16 * MiB), CACHE_EINVAL);
    cr_assert_eq(cache_mem_limit(c), 8 * MiB);
    cache_destroy(&c);
}

Test(memlimit_door, note_without_flash)
{
    cache_settings_t s;
    test_settings(&s, &clk);
    char err[256] = "x";
    s.err = err;
    s.err_len = sizeof err;
    cache_t *c = NULL;
    cr_assert_eq(cache_create(&c, &s), CACHE_OK);
    cr_assert_str_empty(err, "default (off): no note");
    cache_destroy(&c);
    s.ram.flash_item_age = 60;
    cr_assert_eq(cache_create(&c, &s), CACHE_OK);
    cr_assert(strstr(err, "ext_item_age=60 has no effect") != NULL, "%s", err);
    cache_destroy(&c);
}

/* ---- concurrent: readers/writers while the limit shrinks and grows ---- */

static _Atomic bool stop;
static _Atomic uint64_t bad, ops;

static void *worker_main(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    ram_wstats_t *mws = calloc(1, sizeof *mws);
    char key[32];
    char buf[BIG];
    while (!atomic_load(&stop)) {
        seed = seed * 1103515245u + 12345u;
        unsigned k = (seed >> 8) % 30000;
        size_t n = k % 2 ? BIG : SMALL;
        snprintf(key, sizeof key, "c%07u", k);
        if ((seed >> 4) % 3 == 0) {
            cache_status_e st;
            item_t *it = ram_item_alloc(&ram, mws, key, strlen(key), 0, 0, n, 0, NULL, &st);
            if (it) {
                fill_value(item_value(it), n, key);
                ram_store(&ram, mws, it, CACHE_STORE_SET, 0, NULL, 0, NULL);
                ram_item_release(&ram, it);
            }
        } else {
            item_t *it = NULL;
            if (ram_get(&ram, mws, key, strlen(key), RAM_GET, 0, &it, 0) == CACHE_OK) {
                fill_value(buf, n, key);
                if (it->nbytes != n || memcmp(item_cvalue(it), buf, n) != 0)
                    atomic_fetch_add(&bad, 1);
                ram_item_release(&ram, it);
            }
        }
        atomic_fetch_add(&ops, 1);
    }
    free(mws);
    return NULL;
}

Test(memlimit, concurrent_shrink_and_grow_keep_values_intact, .timeout = 60)
{
    setup_mem(24 * MiB);
    pthread_t th[3];
    for (uintptr_t i = 0; i < 3; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, worker_main, (void *)(i + 1)), 0);
    unsigned shrinks = 0, done = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        ram_mem_limit_set(&ram, 8 * MiB);
        ram_shrink_e r = ram_mem_shrink(&ram, 200);
        done += r == RAM_SHRINK_DONE;
        shrinks++;
        for (unsigned id = 1; id <= ram.slabs.largest; id++)
            ram_lru_juggle(&ram, id, 50);
        ram_mem_limit_set(&ram, 24 * MiB);
        struct timespec nap = {0, 20 * 1000 * 1000};
        nanosleep(&nap, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (t.tv_sec - t0.tv_sec < 3);
    atomic_store(&stop, true);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(atomic_load(&bad), 0);
    cr_assert_gt(atomic_load(&ops), 1000);
    cr_assert_gt(done, 0, "some shrinks reached the limit (%u of %u)", done, shrinks);
    cr_assert_gt(atomic_load(&ram.pages_released), 0);
    /* a final shrink with nobody writing reaches the limit */
    ram_mem_limit_set(&ram, 8 * MiB);
    ram_shrink_e r = ram_mem_shrink(&ram, 10000);
    cr_assert(r == RAM_SHRINK_DONE || r == RAM_SHRINK_FLOOR);
    if (r == RAM_SHRINK_DONE)
        cr_assert_leq(slabs_total_malloced(&ram.slabs), 8 * MiB);
}
