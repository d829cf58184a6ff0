/* tests/unit/flash/test_index.c - the flash tier's compact index. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "flash/index.h"

static uint64_t khash(uint64_t i)
{
    char key[32];
    int n = snprintf(key, sizeof key, "key:%llu", (unsigned long long)i);
    return XXH3_64bits(key, (size_t)n);
}

static index_loc_t L(uint32_t seg, uint32_t off)
{
    index_loc_t l = { .segment = seg, .offset = off };
    return l;
}

static bool has_loc(const index_entry_t *e, unsigned n, index_loc_t l)
{
    for (unsigned i = 0; i < n; i++)
        if (e[i].loc.segment == l.segment && e[i].loc.offset == l.offset)
            return true;
    return false;
}

Test(index, create_bad_args)
{
    index_t *idx = NULL;
    cr_assert_eq(index_create(&idx, 0, 0, NULL), INDEX_EINVAL);
    cr_assert_eq(index_create(&idx, 100, INDEX_TAG_FIELD_BITS + 1, NULL), INDEX_EINVAL);
    cr_assert_null(idx);
    uint64_t bytes = 0;
    cr_assert_eq(index_create(&idx, 1, 0, &bytes), INDEX_OK);
    index_stats_t st;
    index_stats(idx, &st);
    cr_assert_eq(st.buckets, 2);
    cr_assert_eq(st.tag_bits, TC_FLASH_TAG_BITS);
    cr_assert_eq(st.bytes, bytes);
    index_destroy(&idx);
    cr_assert_null(idx);
    index_destroy(&idx); /* no-op */
    cr_assert_str_eq(index_strerror(INDEX_NOT_FOUND), "not found");
}

Test(index, insert_lookup_hit_remove)
{
    index_t *idx = NULL;
    cr_assert_eq(index_create(&idx, 1000, 0, NULL), INDEX_OK);
    uint64_t h = khash(1);
    index_entry_t out[INDEX_MAX_MATCHES];
    cr_assert_eq(index_lookup(idx, h, out), 0);

    index_insert_result_t r;
    cr_assert_eq(index_insert(idx, h, L(5, 17), NULL, NULL, &r), INDEX_OK);
    cr_assert_eq(r.removed, 0);
    cr_assert_not(r.evicted);
    cr_assert_eq(index_lookup(idx, h, out), 1);
    cr_assert_eq(out[0].loc.segment, 5);
    cr_assert_eq(out[0].loc.offset, 17);
    cr_assert_eq(out[0].hits, 0);

    /* hits saturate at 3; only the exact location counts */
    unsigned hits = 99;
    cr_assert_eq(index_hit(idx, h, L(5, 18), &hits), INDEX_NOT_FOUND);
    cr_assert_eq(index_hit(idx, h, L(6, 17), &hits), INDEX_NOT_FOUND);
    for (unsigned want = 1; want <= 5; want++) {
        cr_assert_eq(index_hit(idx, h, L(5, 17), &hits), INDEX_OK);
        cr_assert_eq(hits, want < INDEX_HITS_MAX ? want : INDEX_HITS_MAX);
    }
    cr_assert_eq(index_lookup(idx, h, out), 1);
    cr_assert_eq(out[0].hits, INDEX_HITS_MAX);

    /* re-insert replaces: one removed, hits reset */
    cr_assert_eq(index_insert(idx, h, L(INDEX_SEG_MAX, INDEX_OFF_MAX), NULL, NULL, &r), INDEX_OK);
    cr_assert_eq(r.removed, 1);
    cr_assert_eq(index_lookup(idx, h, out), 1);
    cr_assert_eq(out[0].loc.segment, INDEX_SEG_MAX);
    cr_assert_eq(out[0].loc.offset, INDEX_OFF_MAX);
    cr_assert_eq(out[0].hits, 0);

    /* out of range locations */
    cr_assert_eq(index_insert(idx, h, L(INDEX_SEG_MAX + 1, 0), NULL, NULL, &r), INDEX_EINVAL);
    cr_assert_eq(index_insert(idx, h, L(0, INDEX_OFF_MAX + 1), NULL, NULL, &r), INDEX_EINVAL);
    cr_assert_eq(index_lookup(idx, h, out), 1);

    /* remove_location: only that segment */
    cr_assert_eq(index_remove_location(idx, h, 5), 0);
    cr_assert_eq(index_remove_location(idx, h, INDEX_SEG_MAX), 1);
    cr_assert_eq(index_lookup(idx, h, out), 0);

    cr_assert_eq(index_insert(idx, h, L(1, 2), NULL, NULL, NULL), INDEX_OK);
    cr_assert_eq(index_remove(idx, h), 1);
    cr_assert_eq(index_remove(idx, h), 0);
    cr_assert_eq(index_lookup(idx, h, out), 0);

    index_stats_t st;
    index_stats(idx, &st);
    cr_assert_eq(st.items, 0);
    cr_assert_eq(st.inserts, 3);
    cr_assert_eq(st.insert_removed, 1);
    cr_assert_eq(st.loc_removed, 1);
    cr_assert_eq(st.remove_removed, 1);
    cr_assert_eq(index_count_slow(idx), 0);
    index_destroy(&idx);
}

/* age = distance from a "write head" segment */
static uint64_t age_from_head(void *ctx, uint32_t seg)
{
    uint32_t head = *(uint32_t *)ctx;
    return (uint64_t)(head - seg);
}

/* With capacity 18 there are exactly 2 buckets: every key maps to both. */
Test(index, evicts_oldest_segment_when_full)
{
    index_t *idx = NULL;
    cr_assert_eq(index_create(&idx, 18, 0, NULL), INDEX_OK);
    uint32_t head = 1000;
    /* 20 distinct tags fill both buckets */
    for (uint64_t t = 1; t <= 20; t++) {
        uint64_t h = (t << (64 - INDEX_TAG_FIELD_BITS)) | (t * 7919);
        index_insert_result_t r;
        /* segments deliberately not in insertion order */
        uint32_t seg = (uint32_t)(100 + (t * 7) % 20);
        cr_assert_eq(index_insert(idx, h, L(seg, (uint32_t)t), age_from_head, &head, &r), INDEX_OK);
        cr_assert_not(r.evicted);
    }
    cr_assert_eq(index_count_slow(idx), 20);
    /* each further insert evicts the oldest remaining segment: 100, 101, ... */
    for (uint64_t t = 21; t <= 40; t++) {
        uint64_t h = (t << (64 - INDEX_TAG_FIELD_BITS)) | (t * 7919);
        index_insert_result_t r;
        cr_assert_eq(index_insert(idx, h, L(900, (uint32_t)t), age_from_head, &head, &r), INDEX_OK);
        cr_assert(r.evicted);
        cr_assert_eq(r.victim.loc.segment, 100 + (t - 21), "t=%llu victim seg %u",
                      (unsigned long long)t, r.victim.loc.segment);
    }
    index_stats_t st;
    index_stats(idx, &st);
    cr_assert_eq(st.items, 20);
    cr_assert_eq(st.evictions, 20);
    index_destroy(&idx);
}

Test(index, fill_beyond_capacity)
{
    index_t *idx = NULL;
    const uint64_t cap = 9000;
    cr_assert_eq(index_create(&idx, cap, 0, NULL), INDEX_OK);
    uint32_t head = 0;
    const uint64_t n = 3 * cap;
    for (uint64_t i = 0; i < n; i++) {
        head = (uint32_t)(i / 100); /* 100 items per segment */
        index_insert_result_t r;
        cr_assert_eq(index_insert(idx, khash(i), L(head, (uint32_t)(i % 100)), age_from_head,
                                  &head, &r), INDEX_OK);
        if (r.evicted) /* never evicts something newer than the head */
            cr_assert_leq(r.victim.loc.segment, head);
        index_entry_t out[INDEX_MAX_MATCHES];
        unsigned m = index_lookup(idx, khash(i), out);
        cr_assert(has_loc(out, m, L(head, (uint32_t)(i % 100))), "latest insert %llu lost",
                  (unsigned long long)i);
    }
    index_stats_t st;
    index_stats(idx, &st);
    cr_assert_eq(st.items, index_count_slow(idx));
    cr_assert_leq(st.items, st.slots);
    cr_assert_eq(st.inserts, n);
    cr_assert_eq(st.items + st.insert_removed + st.evictions, n);
    cr_assert_geq(st.evictions, n - st.slots - st.insert_removed);
    /* the survivors are the newest: count the first and last third found */
    uint64_t old_found = 0, new_found = 0;
    for (uint64_t i = 0; i < n; i++) {
        index_entry_t out[INDEX_MAX_MATCHES];
        unsigned m = index_lookup(idx, khash(i), out);
        bool f = has_loc(out, m, L((uint32_t)(i / 100), (uint32_t)(i % 100)));
        if (i < cap)
            old_found += f;
        else if (i >= 2 * cap)
            new_found += f;
    }
    printf("index fill: items %llu / slots %llu, evictions %llu, collateral %llu, "
           "found old %llu new %llu of %llu\n",
           (unsigned long long)st.items, (unsigned long long)st.slots,
           (unsigned long long)st.evictions, (unsigned long long)st.insert_removed,
           (unsigned long long)old_found, (unsigned long long)new_found,
           (unsigned long long)cap);
    cr_assert_lt(old_found, cap / 100);
    cr_assert_gt(new_found, cap * 95 / 100);
    index_destroy(&idx);
}

Test(index, bytes_per_item_at_90pct)
{
    index_t *idx = NULL;
    const uint64_t cap = 1000000;
    uint64_t bytes = 0;
    cr_assert_eq(index_create(&idx, cap, 0, &bytes), INDEX_OK);
    for (uint64_t i = 0; i < cap; i++)
        cr_assert_eq(index_insert(idx, khash(i), L((uint32_t)(i >> 14), (uint32_t)(i & INDEX_OFF_MAX)),
                                  NULL, NULL, NULL), INDEX_OK);
    index_stats_t st;
    index_stats(idx, &st);
    double load = (double)st.items / (double)st.slots;
    double bpi = (double)st.bytes / (double)st.items;
    printf("index: %llu items in %llu bytes = %.3f bytes/item, load %.3f, "
           "evictions %llu, collateral %llu\n",
           (unsigned long long)st.items, (unsigned long long)st.bytes, bpi, load,
           (unsigned long long)st.evictions, (unsigned long long)st.insert_removed);
    cr_assert_eq(st.bytes, bytes);
    cr_assert_gt(load, 0.88);
    cr_assert_leq(bpi, 8.0);
    index_destroy(&idx);
}

/* 2-bit tags: three distinct tags, many keys per tag. */
Test(index, tiny_tags_collide_but_never_lose_latest)
{
    index_t *idx = NULL;
    const uint64_t cap = 900; /* 100 buckets */
    cr_assert_eq(index_create(&idx, cap, 2, NULL), INDEX_OK);
    const uint64_t nkeys = 600;
    index_loc_t last[600];
    uint32_t head = 0;
    uint32_t serial = 0;
    for (int round = 0; round < 3; round++) {
        for (uint64_t k = 0; k < nkeys; k++) {
            serial++;
            head = serial >> INDEX_OFF_BITS;
            last[k] = L(head, serial & INDEX_OFF_MAX);
            cr_assert_eq(index_insert(idx, khash(k), last[k], age_from_head, &head, NULL), INDEX_OK);
            index_entry_t out[INDEX_MAX_MATCHES];
            unsigned m = index_lookup(idx, khash(k), out);
            cr_assert(has_loc(out, m, last[k]));
        }
    }
    /* every slot in the index is reachable by the key that put it there:
     * the number of keys that still find their latest location equals the
     * number of items (locations are unique per insert) */
    uint64_t live = 0, multi = 0;
    for (uint64_t k = 0; k < nkeys; k++) {
        index_entry_t out[INDEX_MAX_MATCHES];
        unsigned m = index_lookup(idx, khash(k), out);
        live += has_loc(out, m, last[k]);
        multi += m > 1;
        for (unsigned i = 0; i < m; i++) /* candidates are real slots */
            cr_assert_leq(out[i].loc.segment, head);
    }
    index_stats_t st;
    index_stats(idx, &st);
    printf("tiny tags: %llu keys, %llu live, %llu lookups with >1 candidate, "
           "collateral %llu\n", (unsigned long long)nkeys, (unsigned long long)live,
           (unsigned long long)multi, (unsigned long long)st.insert_removed);
    cr_assert_eq(live, st.items);
    cr_assert_eq(live, index_count_slow(idx));
    cr_assert_gt(st.insert_removed, nkeys); /* replacements + collateral */
    /* supersets: find a key with several candidates, remove-by-tag drops all */
    bool tested = false;
    for (uint64_t k = 0; k < nkeys && !tested; k++) {
        index_entry_t out[INDEX_MAX_MATCHES];
        unsigned m = index_lookup(idx, khash(k), out);
        if (m < 2)
            continue;
        uint64_t before = index_count_slow(idx);
        cr_assert_eq(index_remove(idx, khash(k)), m);
        cr_assert_eq(index_lookup(idx, khash(k), out), 0);
        cr_assert_eq(index_count_slow(idx), before - m);
        tested = true;
    }
    cr_assert(tested, "no tag collision found with 2-bit tags");
    /* remove every key: the index ends empty */
    for (uint64_t k = 0; k < nkeys; k++)
        index_remove(idx, khash(k));
    cr_assert_eq(index_count_slow(idx), 0);
    index_stats(idx, &st);
    cr_assert_eq(st.items, 0);
    index_destroy(&idx);
}

/* ---- concurrency smoke test ---- */

#define NTHREADS 3
#define OPS 60000

typedef struct worker_arg {
    index_t *idx;
    unsigned id;
    uint64_t misses;
    uint64_t inserts;
} worker_arg_t;

static void *worker(void *p)
{
    worker_arg_t *a = p;
    for (uint64_t i = 0; i < OPS; i++) {
        uint64_t key = (uint64_t)a->id << 40 | (i % 5000);
        uint64_t h = khash(key);
        index_loc_t loc = L((uint32_t)(i % (INDEX_SEG_MAX + 1)), a->id);
        index_insert(a->idx, h, loc, NULL, NULL, NULL);
        a->inserts++;
        index_entry_t out[INDEX_MAX_MATCHES];
        unsigned m = index_lookup(a->idx, h, out);
        if (!has_loc(out, m, loc))
            a->misses++; /* another thread's same-tag insert: allowed, rare */
        else
            index_hit(a->idx, h, loc, NULL);
        if (i % 7 == 0)
            index_remove(a->idx, khash((uint64_t)a->id << 40 | ((i * 31) % 5000)));
        if (i % 11 == 0)
            index_remove_location(a->idx, h, loc.segment);
    }
    return NULL;
}

Test(index, concurrent_smoke)
{
    index_t *idx = NULL;
    cr_assert_eq(index_create(&idx, 20000, 0, NULL), INDEX_OK);
    pthread_t th[NTHREADS];
    worker_arg_t args[NTHREADS];
    for (unsigned t = 0; t < NTHREADS; t++) {
        args[t] = (worker_arg_t){ .idx = idx, .id = t + 1 };
        cr_assert_eq(pthread_create(&th[t], NULL, worker, &args[t]), 0);
    }
    uint64_t misses = 0, inserts = 0;
    for (unsigned t = 0; t < NTHREADS; t++) {
        pthread_join(th[t], NULL);
        misses += args[t].misses;
        inserts += args[t].inserts;
    }
    index_stats_t st;
    index_stats(idx, &st);
    printf("concurrent: %llu inserts, %llu items, %llu misses\n",
           (unsigned long long)inserts, (unsigned long long)st.items,
           (unsigned long long)misses);
    cr_assert_eq(st.inserts, inserts);
    cr_assert_eq(st.items, index_count_slow(idx));
    cr_assert_eq(st.items + st.insert_removed + st.evictions + st.remove_removed +
                     st.loc_removed, inserts);
    cr_assert_lt(misses, inserts / 100);
    index_destroy(&idx);
}
