/* tests/unit/tiers/test_slabs.c - slab classes and the memory limit. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "helpers.h"
#include "ram/slabs.h"

#define MiB ((size_t)1024 * 1024)

Test(slabs, memcached_class_sizes)
{
    slabs_t s;
    cr_assert_eq(slabs_init(&s, 64 * MiB, MiB, 48, 1.25, MiB, false), SLABS_OK);
    static const size_t want[] = {0, 96, 120, 152, 192, 240, 304, 384, 480, 600, 752,
                                  944, 1184, 1480, 1856, 2320};
    for (unsigned i = 1; i < sizeof want / sizeof want[0]; i++)
        cr_assert_eq(s.cls[i].size, want[i], "class %u: %zu", i, s.cls[i].size);
    cr_assert_eq(s.cls[1].perslab, 10922);
    /* memcached's last class is page/2; ours adds one for whole 1 MiB items */
    cr_assert_eq(s.cls[s.largest - 1].size, 524288);
    cr_assert_eq(s.largest, 40);
    cr_assert_eq(s.cls[s.largest].size, MiB);
    cr_assert_eq(slabs_clsid(&s, 96), 1);
    cr_assert_eq(slabs_clsid(&s, 97), 2);
    cr_assert_eq(slabs_clsid(&s, MiB), s.largest);
    cr_assert_eq(slabs_clsid(&s, MiB + 1), 0);
    slabs_teardown(&s);
}

Test(slabs, limit_respected_except_first_pages)
{
    slabs_t s;
    cr_assert_eq(slabs_init(&s, 4 * MiB, MiB, 48, 1.25, MiB, false), SLABS_OK);
    size_t n = 0;
    while (slabs_alloc(&s, 1))
        n++;
    cr_assert_eq(n, 4 * 10922);
    cr_assert_eq(slabs_total_malloced(&s), 4 * MiB);
    /* every other class still gets its first page, even over the limit */
    for (unsigned id = 2; id <= s.largest; id++) {
        item_t *it = slabs_alloc(&s, id);
        cr_assert_not_null(it, "class %u", id);
        slabs_free(&s, it);
    }
    cr_assert_eq(slabs_total_malloced(&s), (4 + s.largest - 1) * MiB);
    /* but no second one */
    while (slabs_alloc(&s, 2))
        ;
    slabs_class_info_t in;
    slabs_class_info(&s, 2, &in);
    cr_assert_eq(in.total_pages, 1);
    slabs_teardown(&s);
}

Test(slabs, prealloc_pool)
{
    slabs_t s;
    cr_assert_eq(slabs_init(&s, 3 * MiB, MiB, 48, 1.25, MiB, true), SLABS_OK);
    cr_assert_eq(slabs_pool_pages(&s), 3);
    item_t *it = slabs_alloc(&s, 5);
    cr_assert_not_null(it);
    cr_assert_eq(slabs_pool_pages(&s), 2);
    slabs_free(&s, it);
    slabs_teardown(&s);
}

Test(slabs, big_items_pages)
{
    slabs_t s;
    cr_assert_eq(slabs_init(&s, 8 * MiB, MiB, 48, 1.25, 4 * MiB, false), SLABS_OK);
    unsigned id = slabs_clsid(&s, 3 * MiB);
    cr_assert_eq(id, s.largest);
    cr_assert_eq(s.cls[id].page_bytes, 4 * MiB);
    item_t *a = slabs_alloc(&s, id);
    item_t *b = slabs_alloc(&s, id);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    cr_assert_null(slabs_alloc(&s, id), "8 MiB limit: two 4 MiB pages");
    cr_assert_eq(slabs_total_malloced(&s), 8 * MiB);
    slabs_teardown(&s);
}

Test(slabs, cache_small_m_stores_every_size)
{
    fake_clock_t clk;
    cache_settings_t set;
    test_settings(&set, &clk);
    set.ram.mem_limit = 2 * MiB;
    cache_t *c;
    cache_worker_t *w;
    cr_assert_eq(cache_create(&c, &set), CACHE_OK);
    cr_assert_eq(cache_worker_create(c, &w), CACHE_OK);
    char *buf = malloc(MiB);
    memset(buf, 'x', MiB);
    char key[32];
    for (size_t n = 1; n < MiB - 100; n = n * 3 / 2 + 1) {
        snprintf(key, sizeof key, "k%zu", n);
        cr_assert_eq(set_kv(w, CACHE_STORE_SET, key, buf, n, 0, 0, 0, NULL), CACHE_OK, "%zu", n);
        cr_assert(has_key(w, key), "%zu", n);
    }
    /* the largest storable item: memcached's ITEM_ntotal (48 + nkey + 1 +
     * nbytes + 2 + 8 for cas) == item_size_max, as memcached 1.6.18 */
    size_t maxv = MiB - 48 - 3 - 1 - 2 - 8;
    cr_assert_eq(set_kv(w, CACHE_STORE_SET, "big", buf, maxv, 0, 0, 0, NULL), CACHE_OK);
    cr_assert_eq(set_kv(w, CACHE_STORE_SET, "big", buf, maxv + 1, 0, 0, 0, NULL),
                 CACHE_TOO_LARGE);
    cache_stats_t st;
    cache_stats_snapshot(c, &st);
    cr_assert_eq(st.store_too_large, 1);
    free(buf);
    cache_worker_destroy(&w);
    cache_destroy(&c);
    cr_assert_null(c);
}

Test(slabs, move_page_claims_chunks_and_recarves)
{
    slabs_t s;
    cr_assert_eq(slabs_init(&s, 4 * MiB, MiB, 48, 1.25, MiB, false), SLABS_OK);
    char *page = NULL;
    cr_assert_eq(slabs_move_begin(&s, 1, &page), SLABS_NOSPARE, "no page yet");
    static item_t *its[2 * 10922];
    for (unsigned i = 0; i < 2 * 10922; i++)
        cr_assert_not_null(its[i] = slabs_alloc(&s, 1));
    /* free a few chunks of each page, then claim page 0 */
    slabs_free(&s, its[0]);
    slabs_free(&s, its[10922]);
    cr_assert_eq(slabs_move_begin(&s, 1, &page), SLABS_OK);
    cr_assert_eq(s.cls[1].nfree, 1, "page 0's free chunk left the free list");
    cr_assert_not(slabs_move_ready(&s, 1));
    /* a chunk of the page given back is claimed, never handed out again */
    slabs_free(&s, its[1]);
    item_t *again = slabs_alloc_free(&s, 1);
    cr_assert_eq(again, its[10922]);
    cr_assert_null(slabs_alloc_free(&s, 1));
    for (unsigned i = 2; i < 10922; i++)
        slabs_free(&s, its[i]);
    cr_assert(slabs_move_ready(&s, 1));
    size_t before = slabs_total_malloced(&s);
    cr_assert_eq(slabs_move_finish(&s, 1, 12), SLABS_OK);
    slabs_class_info_t in;
    slabs_class_info(&s, 12, &in);
    cr_assert_eq(in.total_pages, 1);
    cr_assert_eq(in.free_chunks, 885, "re-cut into 1184-byte chunks");
    slabs_class_info(&s, 1, &in);
    cr_assert_eq(in.total_pages, 1);
    cr_assert_eq(slabs_total_malloced(&s), before, "a move costs nothing");
    cr_assert_eq(atomic_load(&s.slabs_moved), 1);
    /* class 1 is down to one page: nothing more to give */
    cr_assert_eq(slabs_move_begin(&s, 1, &page), SLABS_NOSPARE, "1 page left");
    slabs_teardown(&s);
}

Test(slabs, move_abort_gives_chunks_back)
{
    slabs_t s;
    cr_assert_eq(slabs_init(&s, 4 * MiB, MiB, 48, 1.25, MiB, false), SLABS_OK);
    static item_t *its[2 * 10922];
    for (unsigned i = 0; i < 2 * 10922; i++)
        cr_assert_not_null(its[i] = slabs_alloc(&s, 1));
    for (unsigned i = 0; i < 100; i++)
        slabs_free(&s, its[i]);
    char *page;
    cr_assert_eq(slabs_move_begin(&s, 1, &page), SLABS_OK);
    cr_assert_eq(s.cls[1].nfree, 0);
    slabs_free(&s, its[100]);
    slabs_move_abort(&s, 1);
    cr_assert_eq(s.cls[1].nfree, 101);
    cr_assert_eq(s.cls[1].npages, 2);
    /* page 0 to the pool; a class taking it is not charged again */
    for (unsigned i = 101; i < 10922; i++)
        slabs_free(&s, its[i]);
    cr_assert_eq(slabs_move_begin(&s, 1, &page), SLABS_OK);
    cr_assert(slabs_move_ready(&s, 1));
    cr_assert_eq(slabs_move_finish(&s, 1, 0), SLABS_OK);
    cr_assert_eq(slabs_pool_pages(&s), 1);
    size_t before = slabs_total_malloced(&s);
    item_t *it = slabs_alloc(&s, 7);
    cr_assert_not_null(it);
    cr_assert_eq(slabs_pool_pages(&s), 0);
    cr_assert_eq(slabs_total_malloced(&s), before);
    slabs_teardown(&s);
}
