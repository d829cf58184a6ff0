/* tests/unit/tiers/test_evict_hook.c - cache.h's eviction events: one per
 * RAM eviction while the gate is set (key, class, flags, times, size,
 * kind DROPPED without a flash tier), none while it is clear. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "cache.h"
#include "helpers.h"

#define MiB (1024 * 1024)

static fake_clock_t clk;
static cache_settings_t set;
static cache_t *c;
static cache_worker_t *w;
static _Atomic unsigned gate;

typedef struct seen {
    unsigned n;
    char first_key[64];
    cache_evict_event_t first;
    unsigned bad_kind, bad_size;
} seen_t;
static seen_t seen;

static void on_evict(void *ctx, const cache_evict_event_t *e)
{
    seen_t *s = ctx;
    if (s->n == 0) {
        s->first = *e;
        snprintf(s->first_key, sizeof s->first_key, "%.*s", (int)e->nkey,
                 e->key);
        s->first.key = NULL; /* valid only during the call */
    }
    if (e->kind != CACHE_EVICT_DROPPED)
        s->bad_kind++;
    if (e->nbytes != 1000)
        s->bad_size++;
    s->n++;
}

static void setup(void)
{
    test_settings(&set, &clk);
    set.ram.mem_limit = 4 * MiB;
    set.ram.on_evict.fn = on_evict;
    set.ram.on_evict.ctx = &seen;
    set.ram.on_evict.gate = &gate;
    memset(&seen, 0, sizeof seen);
    cr_assert_eq(cache_create(&c, &set), CACHE_OK);
    cr_assert_eq(cache_worker_create(c, &w), CACHE_OK);
}

static void teardown(void)
{
    cache_worker_destroy(&w);
    cache_destroy(&c);
}

TestSuite(evict_hook, .init = setup, .fini = teardown);

/* Stores k:0, k:1, ... (1000-byte values, flags 7, exptime 100 for k:0)
 * until `evictions` items were evicted. */
static void fill(uint64_t evictions)
{
    static char val[1000];
    memset(val, 'v', sizeof val);
    char key[32];
    cache_stats_t st;
    int n = 0;
    do {
        snprintf(key, sizeof key, "k:%d", n);
        cr_assert_eq(set_kv(w, CACHE_STORE_SET, key, val, sizeof val, 7,
                            n == 0 ? 100 : 0, 0, NULL),
                     CACHE_OK);
        n++;
        cache_stats_snapshot(c, &st);
    } while (st.evictions < evictions);
}

Test(evict_hook, one_event_per_eviction_while_gated)
{
    atomic_store(&gate, 1);
    atomic_store(&clk.now, T0 + 5);
    fill(50);
    cache_stats_t st;
    cache_stats_snapshot(c, &st);
    cr_assert_eq(seen.n, st.evictions, "events %u evictions %llu", seen.n,
                 (unsigned long long)st.evictions);
    cr_assert_eq(seen.bad_kind, 0);
    cr_assert_eq(seen.bad_size, 0);
    /* the oldest item goes first, with its facts */
    cr_assert_str_eq(seen.first_key, "k:0");
    cr_assert_eq(seen.first.nkey, 3);
    cr_assert_eq(seen.first.flags, 7);
    cr_assert_eq(seen.first.fetched, false);
    cr_assert_eq(seen.first.exptime, T0 + 5 + 100);
    cr_assert_eq(seen.first.now, T0 + 5);
    cr_assert_eq(seen.first.last_access, T0 + 5);
    cr_assert_gt(seen.first.slab_class, 0);
}

Test(evict_hook, nothing_while_the_gate_is_clear)
{
    atomic_store(&gate, 0);
    fill(50);
    cr_assert_eq(seen.n, 0);
    atomic_store(&gate, 1);
    cache_stats_t before;
    cache_stats_snapshot(c, &before);
    fill(before.evictions + 10);
    cache_stats_t after;
    cache_stats_snapshot(c, &after);
    cr_assert_eq(seen.n, after.evictions - before.evictions);
}
