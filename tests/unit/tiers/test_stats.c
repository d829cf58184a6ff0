/* tests/unit/tiers/test_stats.c - `stats items|slabs|sizes` names and order
 * (memcached 1.6.18), cachedump and metadump walks. */
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

TestSuite(stats, .init = setup, .fini = teardown);

typedef struct out {
    char buf[16384];
    size_t len;
} out_t;

static void emit(void *ctx, const char *name, const char *value)
{
    out_t *o = ctx;
    o->len += (size_t)snprintf(o->buf + o->len, sizeof o->buf - o->len, "%s %s\n", name, value);
}

static const char *slab_names =
    "chunk_size chunks_per_page total_pages total_chunks used_chunks free_chunks "
    "free_chunks_end get_hits cmd_set delete_hits incr_hits decr_hits cas_hits "
    "cas_badval touch_hits";
static const char *item_names =
    "number number_hot number_warm number_cold age_hot age_warm age mem_requested "
    "evicted evicted_nonzero evicted_time outofmemory tailrepairs reclaimed "
    "expired_unfetched evicted_unfetched evicted_active crawler_reclaimed "
    "crawler_items_checked lrutail_reflocked moves_to_cold moves_to_warm "
    "moves_within_lru direct_reclaims hits_to_hot hits_to_warm hits_to_cold hits_to_temp";

/* Builds the expected name list for classes `ids` with prefix. */
static void expect_names(const out_t *o, const char *prefix, const unsigned *ids, int n,
                         const char *names, const char *tail)
{
    char want[16384];
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%s", names);
        for (char *tok = strtok(tmp, " "); tok; tok = strtok(NULL, " "))
            len += (size_t)snprintf(want + len, sizeof want - len, "%s%u:%s\n", prefix, ids[i], tok);
    }
    if (tail)
        len += (size_t)snprintf(want + len, sizeof want - len, "%s", tail);
    /* compare names only */
    char got[16384];
    size_t gl = 0;
    const char *p = o->buf;
    while (*p) {
        const char *sp = strchr(p, ' ');
        const char *nl = strchr(p, '\n');
        gl += (size_t)snprintf(got + gl, sizeof got - gl, "%.*s\n", (int)(sp - p), p);
        p = nl + 1;
    }
    cr_assert_str_eq(got, want);
}

Test(stats, groups_names_and_order)
{
    char v[2000];
    memset(v, '0', sizeof v);
    set_s(w, "a", "10");
    set_kv(w, CACHE_STORE_SET, "b", v, 200, 0, 0, 0, NULL);
    set_kv(w, CACHE_STORE_SET, "c", v, 2000, 0, 0, 0, NULL);
    cr_assert(has_key(w, "a"));
    out_t o = {0};
    cache_stats_group(c, CACHE_STATS_SLABS, emit, &o);
    static const unsigned ids[] = {1, 6, 15};
    expect_names(&o, "", ids, 3, slab_names, "active_slabs\ntotal_malloced\n");
    cr_assert(strstr(o.buf, "1:chunk_size 96\n"));
    cr_assert(strstr(o.buf, "15:chunk_size 2320\n"));
    cr_assert(strstr(o.buf, "1:chunks_per_page 10922\n"));
    cr_assert(strstr(o.buf, "1:get_hits 1\n"));
    cr_assert(strstr(o.buf, "1:used_chunks 1\n"));
    cr_assert(strstr(o.buf, "active_slabs 3\ntotal_malloced 3145728\n"));
    memset(&o, 0, sizeof o);
    cache_stats_group(c, CACHE_STATS_ITEMS, emit, &o);
    expect_names(&o, "items:", ids, 3, item_names, NULL);
    cr_assert(strstr(o.buf, "items:1:number 1\n"));
    cr_assert(strstr(o.buf, "items:1:mem_requested 62\n"));
    memset(&o, 0, sizeof o);
    cache_stats_group(c, CACHE_STATS_SIZES, emit, &o);
    cr_assert_str_eq(o.buf, "sizes_status disabled\n");
    cache_stats_t st;
    cache_stats_snapshot(c, &st);
    cr_assert_eq(st.curr_items, 3);
    cr_assert_eq(st.total_items, 3);
    cr_assert_eq(st.bytes, 62 + (59 + 1 + 200) + (59 + 1 + 2000)); /* memcached ITEM_ntotal */
    cr_assert_eq(st.limit_maxbytes, 64u << 20);
    cr_assert_eq(st.hash_power_level, 16);
    cr_assert_eq(st.hash_bytes, 524288);
}

typedef struct seen {
    int n;
    char keys[8][16];
    cache_item_meta_t m[8];
} seen_t;

static bool visit(void *ctx, const cache_item_meta_t *m)
{
    seen_t *s = ctx;
    if (s->n < 8) {
        snprintf(s->keys[s->n], sizeof s->keys[0], "%.*s", (int)m->nkey, m->key);
        s->m[s->n] = *m;
    }
    s->n++;
    return true;
}

Test(stats, cachedump_cold_and_metadump)
{
    char key[16];
    for (int i = 0; i < 6; i++) {
        snprintf(key, sizeof key, "k%d", i);
        set_kv(w, CACHE_STORE_SET, key, "val", 3, 0, i == 0 ? 100 : 0, 0, NULL);
    }
    seen_t s = {0};
    cr_assert_eq(cache_dump_class(c, 0, 0, visit, &s), CACHE_EINVAL);
    cr_assert_eq(cache_dump_class(c, 99, 0, visit, &s), CACHE_EINVAL);
    cr_assert_eq(cache_dump_class(c, 1, 0, visit, &s), CACHE_OK);
    /* inline juggling moved the oldest ones to COLD; dump shows COLD only */
    cr_assert_gt(s.n, 0);
    cr_assert_lt(s.n, 6);
    seen_t l = {0};
    cr_assert_eq(cache_dump_class(c, 1, 1, visit, &l), CACHE_OK);
    cr_assert_eq(l.n, 1);
    seen_t a = {0};
    set_kv(w, CACHE_STORE_SET, "dead", "v", 1, 0, -1, 0, NULL);
    cache_walk_items(c, visit, &a);
    cr_assert_eq(a.n, 6, "expired items are skipped");
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(a.m[i].slab_class, 1);
        cr_assert_eq(a.m[i].nbytes, 3);
        /* memcached's ITEM_ntotal: 48 + nkey + 1 + nbytes + 2 + 8 (cas) */
        cr_assert_eq(a.m[i].total_size, 48 + 2 + 1 + 3 + 2 + 8);
        cr_assert_eq(a.m[i].last_access, T0);
        cr_assert_eq(a.m[i].exptime, strcmp(a.keys[i], "k0") ? 0 : T0 + 100);
        cr_assert(!a.m[i].fetched);
    }
}

/* RAM only: the hash table is the one part outside -m; every flash part
 * is 0 and the parts add up to cache_memory_outside_limit (issue 14 item 5) */
Test(stats, memory_parts_ram_only)
{
    cache_memory_t m;
    cache_memory_parts(c, &m);
    cr_assert_eq(m.memory_hash_table, 524288); /* 2^16 buckets of 8 bytes */
    cr_assert_eq(m.memory_ram_ghosts, 0);
    cr_assert_eq(m.memory_flash_index, 0);
    cr_assert_eq(m.memory_flash_builders, 0);
    cr_assert_eq(m.memory_flash_reclaim, 0);
    cr_assert_eq(m.memory_flash_queues, 0);
    cr_assert_eq(m.memory_flash_workers, 0);
    cr_assert_eq(m.memory_flash_zstd, 0);
    cr_assert_eq(m.memory_flash_dict, 0);
    cr_assert_eq(m.memory_flash_checkpoint, 0);
    cr_assert_eq(cache_memory_outside_limit(c), m.memory_hash_table);
    cache_stats_t st;
    cache_stats_snapshot(c, &st);
    cr_assert_eq(st.memory_hash_table, m.memory_hash_table);
    cr_assert_eq(st.memory_flash_index, 0);
}
