/*
 * tests/unit/tiers/test_policy.c - the RAM tier's eviction policy, by its
 * defining behaviour (issue 14): a one-hit wonder does not displace a hot
 * item, and a scan does not flush the hot set. The RAM tier is memcached's
 * segmented LRU (lru.h): items hit twice live in WARM, which only other
 * twice-hit items can push out; new items flow HOT -> COLD -> evicted.
 * A plain LRU or FIFO fails every test here (each streams several times
 * the memory past the hot set between two of its reads).
 *
 * RAM only (no flash tier): 4 MiB of class-1 items (24-byte values),
 * background threads off, fake clock.
 */
#include <criterion/criterion.h>

#include "helpers.h"

#define MiB ((size_t)1024 * 1024)
#define VAL "012345678901234567890123"

static fake_clock_t clk;
static cache_settings_t set;
static cache_t *c;
static cache_worker_t *w;

static void setup(void)
{
    test_settings(&set, &clk);
    set.ram.mem_limit = 4 * MiB;
    cr_assert_eq(cache_create(&c, &set), CACHE_OK);
    cr_assert_eq(cache_worker_create(c, &w), CACHE_OK);
}

static void teardown(void)
{
    cache_worker_destroy(&w);
    cache_destroy(&c);
}

TestSuite(policy, .init = setup, .fini = teardown, .timeout = 120);

/* Items of class 1 that 4 MiB holds: counted by filling a fresh key space
 * until the first eviction (so the streams below are sized to the RAM). */
static unsigned ram_capacity(const char *tag)
{
    char key[48];
    cache_stats_t st;
    unsigned n = 0;
    do {
        snprintf(key, sizeof key, "%s:%u", tag, n++);
        cr_assert_eq(set_s(w, key, VAL), CACHE_OK);
        cache_stats_snapshot(c, &st);
    } while (st.evictions == 0);
    return n;
}

/* A cache-aside request: get; on a miss, set. true if it hit. */
static bool aside(const char *key)
{
    if (has_key(w, key))
        return true;
    cr_assert_eq(set_s(w, key, VAL), CACHE_OK, "set %s", key);
    return false;
}

/* The hot set, each key set and then read `reads` times. */
static void make_hot(unsigned n, unsigned reads)
{
    char key[32];
    for (unsigned i = 0; i < n; i++) {
        snprintf(key, sizeof key, "hot:%u", i);
        cr_assert_eq(set_s(w, key, VAL), CACHE_OK);
    }
    for (unsigned r = 0; r < reads; r++)
        for (unsigned i = 0; i < n; i++) {
            snprintf(key, sizeof key, "hot:%u", i);
            cr_assert(has_key(w, key), "hot:%u missing in warm-up read %u", i, r);
        }
}

static unsigned hot_hits(unsigned n)
{
    char key[32];
    unsigned hits = 0;
    for (unsigned i = 0; i < n; i++) {
        snprintf(key, sizeof key, "hot:%u", i);
        hits += aside(key);
    }
    return hits;
}

/*
 * One-hit wonders, cache-aside: each new key is asked for once (a miss)
 * and set, never asked for again. The hot set (read three times at first)
 * is read round-robin between them, one hot read per few wonders, so that
 * 2x what RAM holds of wonders go by between two reads of the same hot key.
 * Every hot read hits, and the wonders are evicted.
 */
Test(policy, one_hit_wonders_do_not_displace_hot_items)
{
    unsigned cap = ram_capacity("fill");
    enum { HOT = 400, ROUNDS = 4 };
    make_hot(HOT, 3);
    unsigned per = 2 * cap / HOT + 1; /* wonders between two hot reads */
    char key[32];
    unsigned wonder = 0, hot_reads = 0, hot_missed = 0;
    for (unsigned r = 0; r < ROUNDS; r++)
        for (unsigned h = 0; h < HOT; h++) {
            for (unsigned k = 0; k < per; k++) {
                snprintf(key, sizeof key, "once:%u", wonder++);
                cr_assert(!aside(key), "%s hit before it was set", key);
            }
            snprintf(key, sizeof key, "hot:%u", h);
            hot_missed += !aside(key);
            hot_reads++;
        }
    cache_stats_t st;
    cache_stats_snapshot(c, &st);
    cr_log_info("RAM holds %u items; %u wonders; %u of %u hot reads missed; evictions %llu",
                cap, wonder, hot_missed, hot_reads, (unsigned long long)st.evictions);
    cr_assert_geq(wonder, ROUNDS * 2 * cap);
    cr_assert_eq(hot_missed, 0, "%u of %u hot reads missed", hot_missed, hot_reads);
    cr_assert_gt(st.evictions, (uint64_t)(ROUNDS * 2 - 1) * cap, "the wonders were evicted");
    cr_assert(!has_key(w, "once:0"), "the first wonder is gone");
}

/*
 * A scan: one pass over never-read keys, 6x what RAM holds, with the hot
 * set read (cache-aside) once per RAM's worth of the scan. Each hot read
 * hits; the scan's head is gone.
 */
Test(policy, scan_does_not_flush_hot_set)
{
    unsigned cap = ram_capacity("fill");
    enum { HOT = 400 };
    make_hot(HOT, 2);
    char key[32];
    unsigned rounds = 0, missed = 0;
    for (unsigned i = 0; i < 6 * cap; i++) {
        snprintf(key, sizeof key, "scan:%u", i);
        cr_assert_eq(set_s(w, key, VAL), CACHE_OK);
        if ((i + 1) % cap == 0) {
            missed += HOT - hot_hits(HOT);
            rounds++;
        }
    }
    cr_log_info("RAM holds %u items; %u hot misses in %u rounds of %u", cap, missed, rounds,
                HOT);
    cr_assert_eq(rounds, 6);
    cr_assert_eq(missed, 0, "%u hot reads missed during the scan", missed);
    cr_assert(!has_key(w, "scan:0"), "the scan's head was evicted");
}

/*
 * What protects: the second hit, not recency. Keys read once before the
 * scan (FETCHED only) are not protected and go with it; keys read twice
 * stay. (A plain LRU keeps neither; a cache that protects everything it
 * ever hit once would keep both.)
 */
Test(policy, second_hit_protects_first_does_not)
{
    unsigned cap = ram_capacity("fill");
    enum { N = 300 };
    char key[32];
    for (unsigned i = 0; i < N; i++) {
        snprintf(key, sizeof key, "one:%u", i);
        cr_assert_eq(set_s(w, key, VAL), CACHE_OK);
        snprintf(key, sizeof key, "two:%u", i);
        cr_assert_eq(set_s(w, key, VAL), CACHE_OK);
    }
    for (unsigned i = 0; i < N; i++) {
        snprintf(key, sizeof key, "one:%u", i);
        cr_assert(has_key(w, key));
        snprintf(key, sizeof key, "two:%u", i);
        cr_assert(has_key(w, key));
        cr_assert(has_key(w, key));
    }
    for (unsigned i = 0; i < 3 * cap; i++) {
        snprintf(key, sizeof key, "scan:%u", i);
        cr_assert_eq(set_s(w, key, VAL), CACHE_OK);
    }
    unsigned one = 0, two = 0;
    for (unsigned i = 0; i < N; i++) {
        snprintf(key, sizeof key, "one:%u", i);
        one += has_key(w, key);
        snprintf(key, sizeof key, "two:%u", i);
        two += has_key(w, key);
    }
    cr_assert_eq(two, N, "%u of %u twice-read keys kept", two, N);
    cr_assert_eq(one, 0, "%u of %u once-read keys kept", one, N);
}

/* ---- lru_ghost (ram_settings.h): S3-FIFO's ghost rule ---- */

static void setup_ghost(void)
{
    test_settings(&set, &clk);
    set.ram.mem_limit = 4 * MiB;
    set.ram.lru_ghost = 65536; /* remembers more keys than the test evicts */
    cr_assert_eq(cache_create(&c, &set), CACHE_OK);
    cr_assert_eq(cache_worker_create(c, &w), CACHE_OK);
}

TestSuite(policy_ghost, .init = setup_ghost, .fini = teardown, .timeout = 120);

/*
 * Keys evicted from RAM and asked for again soon after (a miss, then a
 * set: cache-aside) come back into WARM, and a scan of 3x RAM of
 * never-read keys no longer pushes them out; without the ghost they start
 * in HOT again, unread, and go with the scan (policy::second_hit_...).
 */
static unsigned ghost_returners(void)
{
    unsigned cap = ram_capacity("fill");
    enum { N = 300 };
    char key[32];
    for (unsigned i = 0; i < N; i++) {
        snprintf(key, sizeof key, "back:%u", i);
        cr_assert_eq(set_s(w, key, VAL), CACHE_OK);
    }
    for (unsigned i = 0; i < cap + cap / 4; i++) { /* evicts them, never read */
        snprintf(key, sizeof key, "first:%u", i);
        cr_assert_eq(set_s(w, key, VAL), CACHE_OK);
    }
    for (unsigned i = 0; i < N; i++) {
        snprintf(key, sizeof key, "back:%u", i);
        cr_assert(!aside(key), "%s still there after 1.25x RAM of new keys", key);
    }
    for (unsigned i = 0; i < 3 * cap; i++) {
        snprintf(key, sizeof key, "scan:%u", i);
        cr_assert_eq(set_s(w, key, VAL), CACHE_OK);
    }
    unsigned kept = 0;
    for (unsigned i = 0; i < N; i++) {
        snprintf(key, sizeof key, "back:%u", i);
        kept += has_key(w, key);
    }
    cr_assert(!has_key(w, "first:0"));
    return kept;
}

Test(policy_ghost, evicted_key_set_again_starts_in_warm)
{
    /* the ghost is direct-mapped (a later eviction may take a key's slot):
     * ~11k evictions into 256k slots lose a few percent */
    unsigned kept = ghost_returners();
    cr_log_info("%u of 300 returning keys kept", kept);
    cr_assert_geq(kept, 270, "%u of 300 returning keys kept through the scan", kept);
}

Test(policy, without_ghost_a_returning_key_starts_in_hot)
{
    unsigned kept = ghost_returners();
    cr_assert_eq(kept, 0, "%u of 300 returning keys kept without the ghost", kept);
}
