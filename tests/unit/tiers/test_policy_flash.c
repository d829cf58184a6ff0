/*
 * tests/unit/tiers/test_policy_flash.c - the whole cache's policy with a
 * flash tier, by its defining behaviour (issue 14): a scan larger than RAM
 * and flash together does not flush the hot set. RAM victims go to flash
 * (policy.c hook_victim); when flash is full, reclaim frees its oldest
 * segment and rewrites the items that were hit since they were written
 * (flash/reclaim.c, rewrite-pct of a segment), so hot items read now and
 * then outlive any number of passes of the ring.
 *
 * Small geometry: 4 MiB of RAM (64 KiB slab pages), a 16 MiB flash file
 * with 1 MiB segments in $TC_FLASH_TEST_DIR (or the current directory, or
 * /var/tmp). Promotion is off, so hot keys stay on flash and reclaim alone
 * decides whether they live.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "helpers.h"

static fake_clock_t clk;
static cache_settings_t set;
static cache_t *c;
static cache_worker_t *w;
static char path[512];
static char err[256];

/* rewrite_pct: flash/flash_options.c's rewrite-pct (0: reclaim drops all) */
static void start(unsigned rewrite_pct)
{
    flash_test_settings(&set, &clk, 4u << 20, 16u << 20, path, sizeof path,
                        "policy", err, sizeof err);
    set.flash.block_size = 16u << 10;
    set.flash.rewrite_pct = rewrite_pct;
    set.flash_promote = CACHE_PROMOTE_NEVER;
    cache_status_e st = cache_create(&c, &set);
    cr_assert_eq(st, CACHE_OK, "cache_create: %s (%s)", cache_strerror(st), err);
    cr_assert_eq(cache_worker_create(c, &w), CACHE_OK);
}

static void teardown(void)
{
    cache_worker_destroy(&w);
    cache_destroy(&c);
    unlink(path);
}

TestSuite(policy_flash, .fini = teardown, .timeout = 240);

/* deterministic, mildly compressible values (about 2x) */
static void make_val(char *buf, size_t n, const char *key)
{
    uint64_t x = 1469598103934665603ull;
    for (const char *p = key; *p; p++)
        x = (x ^ (unsigned char)*p) * 1099511628211ull;
    for (size_t i = 0; i < n; i++) {
        if (i % 8 == 0)
            x = x * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (char)('a' + ((x >> ((i % 8) * 5)) & 15));
    }
}

static void put(const char *key, size_t n)
{
    char buf[4096];
    make_val(buf, n, key);
    cache_status_e st = set_kv(w, CACHE_STORE_SET, key, buf, n, 0, 0, 0, NULL);
    cr_assert_eq(st, CACHE_OK, "set %s: %s", key, cache_strerror(st));
}

/* true if key is there with its value (a wrong value fails the test) */
static bool present(const char *key, size_t n)
{
    cache_item_t *it = NULL;
    cache_status_e st = cache_get(w, key, strlen(key), &it, NULL);
    if (st == CACHE_NOT_FOUND)
        return false;
    cr_assert_eq(st, CACHE_OK, "get %s: %s", key, cache_strerror(st));
    char buf[4096];
    make_val(buf, n, key);
    cr_assert_eq(cache_item_nbytes(it), n, "%s: wrong length", key);
    cr_assert(memcmp(cache_item_value(it), buf, n) == 0, "%s: wrong value", key);
    cache_item_release(w, &it);
    return true;
}

/* one size: a slab class evicts only its own items */
enum { HOT = 80, HOT_SIZE = 2000, SCAN_SIZE = HOT_SIZE, CHUNK = 512 /* x 2000 B */ };

typedef struct run {
    unsigned rounds;      /* hot reads after the hot set reached flash */
    unsigned hot_missed;  /* of HOT x rounds */
    unsigned hot_final;   /* hot keys there at the end */
    unsigned scanned;     /* scan keys set */
    cache_stats_t st;
} run_t;

/*
 * The hot set (80 x 2000 B, never read while in RAM, so it goes to flash
 * like anything else), then a scan of never-read keys of the same size, 1 MiB at
 * a time, with the hot set read (from flash) after every MiB, until
 * reclaim has freed 2x the segments of the file: the scan is over twice
 * what RAM and flash hold together.
 */
static void hot_and_scan(run_t *out)
{
    memset(out, 0, sizeof *out);
    char key[48];
    for (unsigned i = 0; i < HOT; i++) {
        snprintf(key, sizeof key, "hot:%u", i);
        put(key, HOT_SIZE);
    }
    cache_stats_t st;
    cache_stats_snapshot(c, &st);
    uint64_t nseg = st.flash_segments_free + st.flash_segments_used;
    cr_assert_geq(nseg, 8, "geometry: %llu segments", (unsigned long long)nseg);
    bool on_flash = false;
    for (unsigned chunk = 0; st.flash_reclaims < 2 * nseg; chunk++) {
        cr_assert(chunk < 1000, "reclaim did not wrap the ring");
        for (unsigned k = 0; k < CHUNK; k++) {
            snprintf(key, sizeof key, "scan:%u", out->scanned++);
            put(key, SCAN_SIZE);
        }
        cache_stats_snapshot(c, &st);
        /* the hot set is read once it has left RAM (reads while in RAM
         * would make it WARM there: the RAM policy, test_policy.c) */
        if (!on_flash && st.flash_items_written >= HOT + 4u * CHUNK)
            on_flash = true;
        if (!on_flash)
            continue;
        for (unsigned i = 0; i < HOT; i++) {
            snprintf(key, sizeof key, "hot:%u", i);
            out->hot_missed += !present(key, HOT_SIZE);
        }
        out->rounds++;
    }
    for (unsigned i = 0; i < HOT; i++) {
        snprintf(key, sizeof key, "hot:%u", i);
        out->hot_final += present(key, HOT_SIZE);
    }
    cache_stats_snapshot(c, &out->st);
    cr_assert(!present("scan:0", SCAN_SIZE), "the scan's head is gone from RAM and flash");
    cr_log_info("rewrite-pct %u: %u scan keys (%u MB), %u hot rounds, %u of %u hot reads "
                "missed, %u of %u hot keys at the end; flash: %llu reclaims, %llu rewrites, "
                "%llu get hits, %llu segments",
                set.flash.rewrite_pct, out->scanned, out->scanned * SCAN_SIZE / 1000000,
                out->rounds, out->hot_missed, out->rounds * HOT, out->hot_final, HOT,
                (unsigned long long)out->st.flash_reclaims,
                (unsigned long long)out->st.flash_rewrites,
                (unsigned long long)out->st.flash_get_hits, (unsigned long long)nseg);
}

/* The default: every hot read hits, through 2 wraps of the ring. */
Test(policy_flash, scan_larger_than_ram_and_flash_keeps_hot_set)
{
    start(25); /* flash_options.c's default */
    run_t r;
    hot_and_scan(&r);
    cr_assert_geq(r.rounds, 10);
    cr_assert_gt(r.st.flash_rewrites, 0);
    cr_assert_geq(r.st.flash_get_hits, (uint64_t)r.rounds * HOT, "the hot set was on flash");
    cr_assert_eq(r.hot_missed, 0, "%u of %u hot reads missed", r.hot_missed, r.rounds * HOT);
    cr_assert_eq(r.hot_final, HOT, "%u of %u hot keys left", r.hot_final, HOT);
}

/* The same run with reclaim's rewrite off (rewrite-pct 0): the hot set
 * goes with the scan - what the test above shows is reclaim's doing. */
Test(policy_flash, without_reclaim_rewrite_scan_flushes_hot_set)
{
    start(0);
    run_t r;
    hot_and_scan(&r);
    cr_assert_eq(r.st.flash_rewrites, 0);
    cr_assert_eq(r.hot_final, 0, "%u of %u hot keys left without rewrites", r.hot_final, HOT);
    cr_assert_gt(r.hot_missed, r.rounds * HOT / 4);
}
