/* tests/unit/tiers/test_slab_move.c - slab page moves (slabs reassign, the
 * automover): evicted and rescued items, busy items, the page pool, and a
 * concurrent run. Uses the RAM tier directly; no background threads. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"
#include "ram/hash.h"
#include "ram/ram.h"
#include "ram/threads.h"

#define MiB ((size_t)1024 * 1024)

static fake_clock_t clk;
static ram_t ram;
static ram_wstats_t ws;

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
}

TestSuite(slab_move, .fini = fini);

/* The value of key k, `n` bytes: derived from the key. */
static void fill_value(char *d, size_t n, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < n; i++)
        d[i] = key[i % kl];
}

static cache_status_e put(const char *key, size_t n, uint64_t *cas)
{
    cache_status_e st;
    item_t *it = ram_item_alloc(&ram, &ws, key, strlen(key), 0, 0, n, 0, NULL, &st);
    if (!it)
        return st;
    fill_value(item_value(it), n, key);
    st = ram_store(&ram, &ws, it, CACHE_STORE_SET, 0, cas, 0, NULL);
    ram_item_release(&ram, it);
    return st;
}

/* CACHE_OK only if found with the right value (and cas, if want_cas). */
static cache_status_e check(const char *key, size_t n, uint64_t want_cas)
{
    item_t *it = NULL;
    cache_status_e st = ram_get(&ram, &ws, key, strlen(key), RAM_GET, 0, &it, 0);
    if (st != CACHE_OK)
        return st;
    char buf[2048];
    fill_value(buf, n, key);
    bool ok = it->nbytes == n && memcmp(item_cvalue(it), buf, n) == 0 &&
              (want_cas == 0 || it->cas == want_cas);
    ram_item_release(&ram, it);
    return ok ? CACHE_OK : CACHE_EXISTS;
}

static uint64_t pages(unsigned id)
{
    slabs_class_info_t in;
    slabs_class_info(&ram.slabs, id, &in);
    return in.total_pages;
}

static uint64_t mv(_Atomic uint64_t *p)
{
    return atomic_load(p);
}

/* 10-byte values: 48+kl+1+10+2+8 -> class 1 (96) for short keys */
#define SMALL 10
/* 1000-byte values -> class 12 (1184) */
#define BIG 1000

Test(slab_move, pages_move_and_new_size_stops_evicting)
{
    setup_mem(4 * MiB);
    unsigned a = slabs_clsid(&ram.slabs, item_ntotal_for(8, SMALL, 0, true));
    unsigned b = slabs_clsid(&ram.slabs, item_ntotal_for(8, BIG, 0, true));
    char key[32];
    /* fill: class a takes all 4 pages */
    for (int i = 0; i < 60000; i++) {
        snprintf(key, sizeof key, "a%07d", i);
        cr_assert_eq(put(key, SMALL, NULL), CACHE_OK);
    }
    cr_assert_eq(pages(a), 4);
    /* b's working set needs ~2 pages: with its one page it evicts itself */
    unsigned perslab = ram.slabs.cls[b].perslab;
    unsigned nb = perslab * 2;
    for (int pass = 0; pass < 2; pass++)
        for (unsigned i = 0; i < nb; i++) {
            snprintf(key, sizeof key, "b%07u", i);
            cr_assert_eq(put(key, BIG, NULL), CACHE_OK);
        }
    cr_assert_eq(pages(b), 1);
    cr_assert_gt(atomic_load(&ram.lru[b].st.evicted), 0);
    /* two pages a -> b */
    cr_assert_eq(ram_slabs_reassign(&ram, (int)a, (int)b), RAM_MOVE_OK);
    cr_assert_eq(ram_slabs_reassign(&ram, (int)a, (int)b), RAM_MOVE_OK);
    cr_assert_eq(pages(a), 2);
    cr_assert_eq(pages(b), 3);
    cr_assert_eq(mv(&ram.slabs.slabs_moved), 2);
    cr_assert_eq(mv(&ram.slabs.slab_reassign_evictions_nomem), 2u * ram.slabs.cls[a].perslab);
    cr_assert_eq(slabs_total_malloced(&ram.slabs), 4 * MiB + MiB, "a's 4 + b's first");
    /* now the working set fits: a full pass evicts nothing and all hit */
    uint64_t ev0 = atomic_load(&ram.lru[b].st.evicted);
    for (unsigned i = 0; i < nb; i++) {
        snprintf(key, sizeof key, "b%07u", i);
        cr_assert_eq(put(key, BIG, NULL), CACHE_OK);
    }
    cr_assert_eq(atomic_load(&ram.lru[b].st.evicted), ev0);
    for (unsigned i = 0; i < nb; i++) {
        snprintf(key, sizeof key, "b%07u", i);
        cr_assert_eq(check(key, BIG, 0), CACHE_OK, "%s", key);
    }
    /* class a: every key is either intact or gone, and the LRU count is
     * the number of keys found (nothing dangling in the hash) */
    unsigned found = 0;
    for (int i = 0; i < 60000; i++) {
        snprintf(key, sizeof key, "a%07d", i);
        cache_status_e st = check(key, SMALL, 0);
        cr_assert(st == CACHE_OK || st == CACHE_NOT_FOUND, "%s: %d", key, st);
        found += st == CACHE_OK;
    }
    lru_class_t *l = &ram.lru[a];
    cr_assert_eq(l->count[LRU_HOT] + l->count[LRU_WARM] + l->count[LRU_COLD], found);
    cr_assert_leq(found, 2u * ram.slabs.cls[a].perslab);
}

Test(slab_move, live_items_rescued_into_free_chunks)
{
    setup_mem(4 * MiB);
    unsigned a = slabs_clsid(&ram.slabs, item_ntotal_for(8, SMALL, 0, true));
    unsigned per = ram.slabs.cls[a].perslab;
    char key[32];
    static uint64_t cas[30000];
    cr_assert_leq(2 * per, 30000);
    /* page 0 holds the first `per` items, page 1 the next `per` */
    for (unsigned i = 0; i < 2 * per; i++) {
        snprintf(key, sizeof key, "r%07u", i);
        cr_assert_eq(put(key, SMALL, &cas[i]), CACHE_OK);
    }
    cr_assert_eq(pages(a), 2);
    /* empty page 1 */
    for (unsigned i = per; i < 2 * per; i++) {
        snprintf(key, sizeof key, "r%07u", i);
        cr_assert_eq(ram_delete(&ram, &ws, key, strlen(key), true, 0), CACHE_OK);
    }
    /* move page 0 to the pool: its items are copied into page 1 */
    cr_assert_eq(ram_slabs_reassign(&ram, (int)a, 0), RAM_MOVE_OK);
    cr_assert_eq(mv(&ram.slabs.slab_reassign_rescues), per);
    cr_assert_eq(mv(&ram.slabs.slab_reassign_evictions_nomem), 0);
    cr_assert_eq(pages(a), 1);
    cr_assert_eq(slabs_pool_pages(&ram.slabs), 1);
    for (unsigned i = 0; i < per; i++) {
        snprintf(key, sizeof key, "r%07u", i);
        cr_assert_eq(check(key, SMALL, cas[i]), CACHE_OK, "%s", key);
    }
    /* a pool page is taken by another class without a new charge */
    size_t before = slabs_total_malloced(&ram.slabs);
    unsigned b = slabs_clsid(&ram.slabs, item_ntotal_for(8, BIG, 0, true));
    cr_assert_eq(put("bigone", BIG, NULL), CACHE_OK);
    cr_assert_eq(pages(b), 1);
    cr_assert_eq(slabs_pool_pages(&ram.slabs), 0);
    cr_assert_eq(slabs_total_malloced(&ram.slabs), before);
}

Test(slab_move, replies_in_memcached_order)
{
    setup_mem(2 * MiB);
    unsigned a = slabs_clsid(&ram.slabs, item_ntotal_for(8, SMALL, 0, true));
    cr_assert_eq(ram_slabs_reassign(&ram, 1, 1), RAM_MOVE_SAME);
    cr_assert_eq(ram_slabs_reassign(&ram, -1, 2), RAM_MOVE_BADCLASS, "none to pick");
    cr_assert_eq(ram_slabs_reassign(&ram, 1, 2), RAM_MOVE_NOSPARE);
    cr_assert_eq(ram_slabs_reassign(&ram, 0, 2), RAM_MOVE_NOSPARE);
    cr_assert_eq(ram_slabs_reassign(&ram, 40, 2), RAM_MOVE_BADCLASS, "memcached has 39");
    cr_assert_eq(ram_slabs_reassign(&ram, 2, -2), RAM_MOVE_BADCLASS);
    char key[32];
    for (int i = 0; i < 30000; i++) {
        snprintf(key, sizeof key, "a%07d", i);
        cr_assert_eq(put(key, SMALL, NULL), CACHE_OK);
    }
    cr_assert_eq(pages(a), 2);
    /* -1 picks class a */
    cr_assert_eq(ram_slabs_reassign(&ram, -1, 5), RAM_MOVE_OK);
    cr_assert_eq(pages(5), 1);
    cr_assert_eq(ram_slabs_reassign(&ram, (int)a, 5), RAM_MOVE_NOSPARE);
}

Test(slab_move, busy_item_blocks_then_moves)
{
    setup_mem(4 * MiB);
    unsigned a = slabs_clsid(&ram.slabs, item_ntotal_for(8, SMALL, 0, true));
    unsigned per = ram.slabs.cls[a].perslab;
    char key[32];
    for (unsigned i = 0; i < 2 * per; i++) {
        snprintf(key, sizeof key, "z%07u", i);
        cr_assert_eq(put(key, SMALL, NULL), CACHE_OK);
    }
    /* a reader holds an item of page 0 */
    item_t *held = NULL;
    cr_assert_eq(ram_get(&ram, &ws, "z0000007", 8, RAM_GET, 0, &held, 0), CACHE_OK);
    cr_assert_eq(ram_slabs_reassign(&ram, (int)a, 3), RAM_MOVE_BUSY);
    cr_assert_gt(mv(&ram.slabs.slab_reassign_busy_items), 0);
    cr_assert_eq(mv(&ram.slabs.slabs_moved), 0);
    cr_assert_eq(pages(a), 2);
    /* never lost from the hash while referenced, bytes intact */
    cr_assert_eq(check("z0000007", SMALL, 0), CACHE_OK);
    cr_assert(item_iflags(held) & ITEM_LINKED);
    char want[SMALL];
    fill_value(want, SMALL, "z0000007");
    cr_assert_eq(memcmp(item_cvalue(held), want, SMALL), 0);
    /* the aborted move gave its free chunks back: the class stores */
    slabs_class_info_t in;
    slabs_class_info(&ram.slabs, a, &in);
    cr_assert_eq(in.free_chunks, per - 1, "page 0 emptied but for the held item");
    ram_item_release(&ram, held);
    /* let go (and room in page 1): the move goes through, the item is
     * rescued into page 1 */
    for (unsigned i = per; i < per + 10; i++) {
        snprintf(key, sizeof key, "z%07u", i);
        cr_assert_eq(ram_delete(&ram, &ws, key, strlen(key), true, 0), CACHE_OK);
    }
    cr_assert_eq(ram_slabs_reassign(&ram, (int)a, 3), RAM_MOVE_OK);
    cr_assert_eq(mv(&ram.slabs.slab_reassign_rescues), 1);
    cr_assert_eq(check("z0000007", SMALL, 0), CACHE_OK);
    cr_assert_eq(pages(3), 1);
    cr_assert_eq(pages(a), 1);
}

Test(slab_move, automove_moves_from_old_to_evicting)
{
    setup_mem(4 * MiB);
    automove_t am;
    memset(&am, 0, sizeof am);
    ram_automove_set(&ram, 1);
    unsigned a = slabs_clsid(&ram.slabs, item_ntotal_for(8, SMALL, 0, true));
    unsigned b = slabs_clsid(&ram.slabs, item_ntotal_for(8, BIG, 0, true));
    char key[32];
    for (int i = 0; i < 60000; i++) {
        snprintf(key, sizeof key, "a%07d", i);
        cr_assert_eq(put(key, SMALL, NULL), CACHE_OK);
    }
    for (int i = 0; i < 50; i++)
        ram_lru_juggle(&ram, a, 500); /* a's items go COLD */
    atomic_fetch_add(&clk.now, 100);
    unsigned per = ram.slabs.cls[b].perslab;
    int src = -1, dst = -1;
    int moves = 0;
    for (int step = 0; step < 8; step++) {
        for (unsigned i = 0; i < 2 * per; i++) {
            snprintf(key, sizeof key, "b%07u", i);
            cr_assert_eq(put(key, BIG, NULL), CACHE_OK);
        }
        atomic_fetch_add(&clk.now, 1);
        if (ram_automove_step(&ram, &am, &src, &dst) == RAM_MOVE_OK) {
            cr_assert_eq(src, (int)a);
            cr_assert_eq(dst, (int)b);
            moves++;
        }
    }
    cr_assert_eq(moves, 2, "a keeps 2 pages (more than 2 to be a source)");
    cr_assert_eq(pages(b), 3);
    /* with automove off nothing more happens */
    ram_automove_set(&ram, 0);
    cr_assert_eq(ram_automove_get(&ram), 0);
}

Test(slab_move, free_pages_return_to_pool)
{
    setup_mem(4 * MiB);
    automove_t am;
    memset(&am, 0, sizeof am);
    ram_automove_set(&ram, 1);
    unsigned a = slabs_clsid(&ram.slabs, item_ntotal_for(8, SMALL, 0, true));
    char key[32];
    for (int i = 0; i < 40000; i++) {
        snprintf(key, sizeof key, "a%07d", i);
        cr_assert_eq(put(key, SMALL, NULL), CACHE_OK);
    }
    cr_assert_eq(pages(a), 4);
    for (int i = 0; i < 40000; i++) {
        snprintf(key, sizeof key, "a%07d", i);
        ram_delete(&ram, &ws, key, strlen(key), false, 0);
    }
    int src, dst, moved = 0;
    for (int step = 0; step < 10; step++)
        moved += ram_automove_step(&ram, &am, &src, &dst) == RAM_MOVE_OK;
    cr_assert_eq(moved, 2, "down to 2.5 pages' worth of free chunks");
    cr_assert_eq(slabs_pool_pages(&ram.slabs), (size_t)moved);
    cr_assert_eq(pages(a), 4 - (uint64_t)moved);
}

/* ---- concurrent: readers/writers while pages move back and forth ---- */

static _Atomic bool stop;
static _Atomic uint64_t bad;

static void *worker_main(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    ram_wstats_t *mws = calloc(1, sizeof *mws);
    char key[32];
    char buf[BIG];
    while (!atomic_load(&stop)) {
        seed = seed * 1103515245u + 12345u;
        unsigned k = (seed >> 8) % 20000;
        bool big = k % 2;
        size_t n = big ? BIG : SMALL;
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
    }
    free(mws);
    return NULL;
}

/* the maintainer's work meanwhile: LRU juggles, the crawler's checks and
 * pages moved to the pool and back (automove's other kind of move) */
static void *background_main(void *arg)
{
    (void)arg;
    uint64_t pos = 0;
    unsigned n = 0;
    while (!atomic_load(&stop)) {
        for (unsigned id = 1; id <= ram.slabs.reassign_largest; id++)
            ram_lru_juggle(&ram, id, 50);
        if (!hash_walk_step(&ram.hash, &pos, 256, ram_crawl_item, &ram))
            pos = 0;
        if (++n % 4 == 0)
            ram_slabs_reassign(&ram, -1, 0);
        else if (n % 4 == 2)
            ram_slabs_reassign(&ram, 0, (int)(n % 8) + 1);
    }
    return NULL;
}

Test(slab_move, concurrent_moves_keep_values_intact, .timeout = 60)
{
    setup_mem(4 * MiB);
    unsigned a = slabs_clsid(&ram.slabs, item_ntotal_for(8, SMALL, 0, true));
    unsigned b = slabs_clsid(&ram.slabs, item_ntotal_for(8, BIG, 0, true));
    atomic_store(&stop, false);
    atomic_store(&bad, 0);
    pthread_t th[3];
    for (uintptr_t i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, worker_main, (void *)(i + 1)), 0);
    cr_assert_eq(pthread_create(&th[2], NULL, background_main, NULL), 0);
    unsigned ok = 0, busy = 0;
    for (int round = 0; round < 200; round++) {
        ram_move_e st = ram_slabs_reassign(&ram, round % 2 ? (int)a : (int)b,
                                           round % 2 ? (int)b : (int)a);
        ok += st == RAM_MOVE_OK;
        busy += st == RAM_MOVE_BUSY;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(atomic_load(&bad), 0);
    cr_assert_gt(ok, 0);
    cr_log_info("moves ok %u busy %u", ok, busy);
    /* every chunk accounted for: linked items + free chunks = all chunks */
    for (unsigned id = 1; id <= ram.slabs.largest; id++) {
        slabs_class_info_t in;
        slabs_class_info(&ram.slabs, id, &in);
        lru_class_t *l = &ram.lru[id];
        uint64_t linked = l->count[LRU_HOT] + l->count[LRU_WARM] + l->count[LRU_COLD];
        cr_assert_eq(linked + in.free_chunks, in.total_chunks, "class %u", id);
    }
}
