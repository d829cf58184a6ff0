/*
 * tests/unit/flash/test_reclaim.c - the flash reserve (reclaim.c,
 * flash_options.c's reserve-segments): with the default settings, a full
 * flash file keeps at most one segment free (reclaim runs just in time, when
 * the last free segment was opened), and reclaim still rewrites the items
 * that were hit, so hot items survive the ring wrapping.
 *
 * Small geometry: a 6 MiB file in $TC_FLASH_TEST_DIR (or the cwd), 256 KiB
 * segments, 4 KiB blocks. A fake "RAM" keeps each spilled value in the token
 * until written_fn.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "flash/flash.h"
#include "flash/format.h"

#include "flash_test.h"

#define FILE_SIZE (6u << 20)
#define SEG_SIZE (256u << 10)
#define NSEG ((FILE_SIZE - FLASH_HEADER_AREA) / SEG_SIZE)

/* ---- fixture ---- */

typedef struct pin {
    char key[64];
    size_t nkey;
    char *value;
    uint32_t nbytes;
} pin_t;

static char path[512];
static flash_t *F;
static flash_worker_t *W;
static _Atomic uint64_t written;
static uint64_t enqueued;

static void on_written(void *ctx, void *token, flash_status_e st)
{
    (void)ctx;
    (void)st;
    pin_t *p = token;
    free(p->value);
    free(p);
    atomic_fetch_add(&written, 1);
}

static void setup(void)
{
    atomic_store(&written, 0);
    enqueued = 0;
    F = NULL;
    W = NULL;
    path[0] = '\0';
}

static void teardown(void)
{
    flash_worker_destroy(&W);
    flash_destroy(&F);
    if (path[0])
        unlink(path);
}

/* Opens a store with the default options but the small geometry;
 * reserve 0: the default reserve-segments. */
static void open_store(const char *name, unsigned reserve)
{
    const char *dir = getenv("TC_FLASH_TEST_DIR");
    char cwd[256];
    if (!dir || !*dir)
        dir = getcwd(cwd, sizeof cwd) ? cwd : ".";
    snprintf(path, sizeof path, "%s/tc_flash_reclaim_%d_%s.img", dir, (int)getpid(), name);
    unlink(path);
    flash_settings_t s;
    flash_settings_default(&s);
    s.path = path;
    s.size = FILE_SIZE;
    s.segment_size = SEG_SIZE;
    s.block_size = 4096;
    s.io_depth = 8;
    s.read_bytes_cap = 64u << 10;
    s.index_capacity = 100000;
    s.queue_items = 256;
    s.stall_ms = 2000;
    s.min_ttl = 0;
    s.checkpoint_ms = 0;
    s.written = on_written;
    if (reserve)
        s.reserve_segments = reserve;
    char err[512];
    flash_status_e st = flash_create(&F, &s, err, sizeof err);
    cr_assert_eq(st, FLASH_OK, "create: %s: %s", flash_strerror(st), err);
    cr_assert_eq(flash_worker_create(F, &W), FLASH_OK);
}

static flash_stats_t stats(void)
{
    flash_stats_t st;
    flash_stats_snapshot(F, &st);
    return st;
}

/* ---- items ---- */


static void spill_ok(unsigned i, unsigned ver)
{
    pin_t *p = calloc(1, sizeof *p);
    p->nkey = flash_test_key(p->key, sizeof p->key, i);
    p->value = malloc(1024);
    p->nbytes = flash_test_value(p->value, i, ver);
    flash_wr_item_t it = {
        .key = p->key, .nkey = p->nkey, .value = p->value, .nbytes = p->nbytes,
        .flags = i, .exptime = 0, .cas = ((uint64_t)i << 16) | ver,
        .store_time = time(NULL), .hash = XXH3_64bits(p->key, p->nkey), .token = p,
    };
    flash_status_e st = flash_enqueue(F, &it);
    cr_assert_eq(st, FLASH_OK, "enqueue %u: %s", i, flash_strerror(st));
    enqueued++;
}

static void wait_written(void)
{
    for (int k = 0; k < 20000 && atomic_load(&written) < enqueued; k++)
        usleep(1000);
    cr_assert_eq(atomic_load(&written), enqueued, "written %llu of %llu",
                 (unsigned long long)atomic_load(&written), (unsigned long long)enqueued);
}

/* ---- reads ---- */

typedef struct rd {
    unsigned i, want_ver;
    bool done;
    flash_status_e st;
    int got_ver; /* version in the value, -1 none */
} rd_t;

static void on_read(void *ctx, flash_status_e st, const flash_hit_t *hit)
{
    rd_t *r = ctx;
    cr_assert(!r->done, "read_fn called twice");
    r->done = true;
    r->st = st;
    r->got_ver = -1;
    if (st != FLASH_OK)
        return;
    char key[64], val[1024];
    size_t nkey = flash_test_key(key, sizeof key, r->i);
    cr_assert(hit->nkey == nkey && memcmp(hit->key, key, nkey) == 0, "another key");
    unsigned vi = 0, vv = 0;
    cr_assert(sscanf(hit->value, "v%u.%u|", &vi, &vv) == 2 && vi == r->i,
              "key %u: value of another key", r->i);
    uint32_t n = flash_test_value(val, r->i, vv);
    cr_assert(hit->nbytes == n && memcmp(hit->value, val, n) == 0,
              "key %u: corrupt value", r->i);
    r->got_ver = (int)vv;
}

/* Looks up keys [0, n) expecting versions ver[]; returns how many hit; a
 * hit must be the newest version. */
static unsigned read_check(unsigned n, const unsigned *ver)
{
    rd_t *rds = calloc(n, sizeof *rds);
    unsigned hits = 0;
    const unsigned batch = 48;
    for (unsigned b = 0; b < n; b += batch) {
        unsigned e = b + batch < n ? b + batch : n;
        unsigned pending = 0;
        for (unsigned k = b; k < e; k++) {
            char key[64];
            size_t nkey = flash_test_key(key, sizeof key, k);
            rds[k].i = k;
            rds[k].want_ver = ver[k];
            flash_status_e st = flash_lookup(W, XXH3_64bits(key, nkey), key, nkey, on_read,
                                             &rds[k]);
            if (st == FLASH_PENDING) {
                pending++;
            } else if (st == FLASH_MISS) {
                rds[k].done = true;
                rds[k].st = FLASH_MISS;
            } else {
                cr_assert_eq(st, FLASH_OK);
            }
        }
        for (int spins = 0; pending; spins++) {
            cr_assert(spins < 10000, "reads never completed");
            struct pollfd p = { .fd = flash_worker_fd(W), .events = POLLIN };
            poll(&p, 1, 10);
            flash_worker_poll(W);
            pending = 0;
            for (unsigned k = b; k < e; k++)
                pending += !rds[k].done;
        }
    }
    for (unsigned k = 0; k < n; k++) {
        if (rds[k].st != FLASH_OK)
            continue;
        cr_assert_eq((unsigned)rds[k].got_ver, ver[k], "key %u: got v%d, want v%u", k,
                     rds[k].got_ver, ver[k]);
        hits++;
    }
    free(rds);
    return hits;
}

TestSuite(reclaim, .init = setup, .fini = teardown, .timeout = 120);

/* Writes distinct keys until reclaim has wrapped the ring twice; after each
 * round (the writer at rest) reports the most segments seen free. */
static uint32_t fill_and_wrap(void)
{
    uint32_t most_free = 0;
    unsigned next = 0;
    for (unsigned round = 0; stats().flash_reclaims < 2u * NSEG; round++) {
        cr_assert(round < 200, "reclaim did not wrap the ring");
        for (unsigned k = 0; k < 500; k++)
            spill_ok(next++, 0);
        wait_written();
        flash_stats_t s = stats();
        cr_assert_eq(s.flash_segments_free + s.flash_segments_used, NSEG);
        if (s.flash_reclaims > 0 && s.flash_segments_free > most_free)
            most_free = s.flash_segments_free;
    }
    return most_free;
}

/* The default reserve: once the file is full, at most one segment is free
 * (all the others hold data). */
Test(reclaim, full_file_keeps_at_most_one_segment_free)
{
    cr_assert(NSEG >= 8, "geometry: %u segments", (unsigned)NSEG);
    open_store("jit", 0);
    uint32_t most_free = fill_and_wrap();
    cr_assert(most_free <= 1, "%u of %u segments free after the ring wrapped", most_free,
              (unsigned)NSEG);
    cr_log_info("default reserve: at most %u of %u segments free", most_free, (unsigned)NSEG);
}

/* The option still sizes the reserve when given: 3 keeps 3 free (so the
 * test above measures the default, not a floor of the store). */
Test(reclaim, explicit_reserve_is_honoured)
{
    open_store("res3", 3);
    uint32_t most_free = fill_and_wrap();
    cr_assert_eq(most_free, 3, "%u of %u segments free with reserve-segments 3", most_free,
                 (unsigned)NSEG);
}

/*
 * The default (just-in-time) reserve still rewrites hit items: hot keys
 * read between rounds of new versions of a larger key space survive the
 * ring wrapping twice (at most 5% of them lost), rewrites happened, and
 * every key read back is at its newest version.
 */
Test(reclaim, just_in_time_reclaim_keeps_hot_items)
{
    open_store("hot", 0);
    const unsigned nk = 6000, hot = 200;
    unsigned *ver = calloc(nk, sizeof *ver);
    bool *spilled = calloc(nk, sizeof *spilled);
    for (unsigned round = 0; stats().flash_reclaims < 2u * NSEG + 2; round++) {
        cr_assert(round < 400, "reclaim did not wrap the ring");
        for (unsigned i = hot; i < nk; i += 1 + (round % 3)) {
            if (round == 0 && i % 20 == 0 && !spilled[i / 20 % hot]) {
                spill_ok(i / 20 % hot, 0); /* hot keys spread over segments */
                spilled[i / 20 % hot] = true;
            }
            if (spilled[i]) {
                char key[64];
                size_t nkey = flash_test_key(key, sizeof key, i);
                flash_remove(F, XXH3_64bits(key, nkey));
                ver[i]++;
            }
            spill_ok(i, ver[i]);
            spilled[i] = true;
        }
        wait_written();
        read_check(hot, ver); /* hits make the hot keys hot */
    }
    for (unsigned i = 0; i < hot; i++)
        cr_assert(spilled[i]);
    flash_stats_t s = stats();
    cr_assert(s.flash_rewrites > 0, "no rewrite happened with the default reserve");
    unsigned hot_hits = read_check(hot, ver);
    cr_assert(hot - hot_hits < hot / 20, "%u hot keys lost (of %u)", hot - hot_hits, hot);
    unsigned all_hits = read_check(nk, ver);
    cr_log_info("just in time: %llu reclaims, %llu rewrites, %u/%u hot, %u/%u all found",
                (unsigned long long)s.flash_reclaims, (unsigned long long)s.flash_rewrites,
                hot_hits, hot, all_hits, nk);
    free(ver);
    free(spilled);
}

/*
 * flash_reclaim_drops counts the items whose flash copy reclaim dropped:
 * distinct keys never read are never rewritten, so every key written is
 * still indexed, dropped by reclaim or dropped by the index itself; and
 * the keys a read finds are the ones indexed.
 */
Test(reclaim, drops_count_the_items_reclaim_lost)
{
    open_store("drops", 0);
    (void)fill_and_wrap();
    flash_stats_t s = stats();
    cr_assert_eq(s.flash_rewrites, 0, "cold keys were rewritten");
    cr_assert_gt(s.flash_reclaim_drops, 0);
    cr_assert_eq(s.flash_reclaim_drops + s.flash_items + s.flash_index_evictions +
                     s.flash_index_collateral,
                 s.flash_items_written, "drops %llu + items %llu + index drops %llu+%llu != "
                 "written %llu", (unsigned long long)s.flash_reclaim_drops,
                 (unsigned long long)s.flash_items, (unsigned long long)s.flash_index_evictions,
                 (unsigned long long)s.flash_index_collateral,
                 (unsigned long long)s.flash_items_written);
    unsigned n = (unsigned)s.flash_items_written;
    unsigned *ver = calloc(n, sizeof *ver);
    unsigned hits = read_check(n, ver);
    cr_assert_eq(hits, s.flash_items, "%u keys found, %llu indexed", hits,
                 (unsigned long long)s.flash_items);
    free(ver);
}
