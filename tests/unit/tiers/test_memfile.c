/* tests/unit/tiers/test_memfile.c - the memory file (-e, ram/memfile.h):
 * the header and record codec (every header byte corrupted, truncation),
 * and save/load through the cache API: values, flags, cas, exptime, marks,
 * the cas counter, flush_all (also delayed), a smaller -m (the least
 * recently used dropped), -C either way, expiry while stopped, a stop that
 * is not graceful, damaged, truncated and foreign files. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "helpers.h"
#include "ram/memfile.h"

/* ---- codec ---- */

static memfile_header_t sample_header(void)
{
    memfile_header_t h = {
        .saved_at = T0,
        .max_cas = 123456789,
        .oldest_cas = 77,
        .oldest_live = (uint32_t)T0 + 5,
        .flags = MEMFILE_F_CAS,
        .items = 3,
        .body_len = 1000,
        .body_hash = 0x1122334455667788ull,
        .mem_limit = 64u << 20,
        .item_size_max = 1u << 20,
        .process_started = T0 - 1000,
    };
    return h;
}

Test(memfile_fmt, header_roundtrip)
{
    memfile_header_t h = sample_header(), g;
    unsigned char b[MEMFILE_HDR_LEN];
    memfile_header_encode(&h, b);
    cr_assert_eq(memcmp(b, "TCMEMFIL", 8), 0);
    cr_assert_eq(b[8], 1, "version, little-endian");
    cr_assert_eq(b[12], 128);
    cr_assert_eq(b[40], (unsigned char)(((uint32_t)T0 + 5) & 0xff), "oldest_live at 40, LE");
    cr_assert_eq(memfile_header_decode(b, sizeof b, &g), MEMFILE_OK);
    cr_assert_eq(g.version, 1);
    cr_assert_eq(g.saved_at, h.saved_at);
    cr_assert_eq(g.max_cas, h.max_cas);
    cr_assert_eq(g.oldest_cas, h.oldest_cas);
    cr_assert_eq(g.oldest_live, h.oldest_live);
    cr_assert_eq(g.flags, h.flags);
    cr_assert_eq(g.items, h.items);
    cr_assert_eq(g.body_len, h.body_len);
    cr_assert_eq(g.body_hash, h.body_hash);
    cr_assert_eq(g.mem_limit, h.mem_limit);
    cr_assert_eq(g.item_size_max, h.item_size_max);
    cr_assert_eq(g.process_started, h.process_started);
}

Test(memfile_fmt, every_header_byte_corrupted)
{
    memfile_header_t h = sample_header(), g;
    unsigned char good[MEMFILE_HDR_LEN], b[MEMFILE_HDR_LEN];
    memfile_header_encode(&h, good);
    const unsigned char masks[] = {0x01, 0x80, 0xff};
    for (unsigned i = 0; i < MEMFILE_HDR_LEN; i++) {
        for (unsigned m = 0; m < sizeof masks; m++) {
            memcpy(b, good, sizeof b);
            b[i] ^= masks[m];
            memfile_status_e st = memfile_header_decode(b, sizeof b, &g);
            if (i < MEMFILE_MAGIC_LEN)
                cr_assert_eq(st, MEMFILE_FOREIGN, "byte %u mask %x", i, masks[m]);
            else
                cr_assert_eq(st, MEMFILE_DAMAGED, "byte %u mask %x: %s", i, masks[m],
                             memfile_strerror(st));
        }
    }
}

Test(memfile_fmt, truncated_and_foreign)
{
    memfile_header_t h = sample_header(), g;
    unsigned char b[MEMFILE_HDR_LEN];
    memfile_header_encode(&h, b);
    for (size_t len = 0; len < MEMFILE_HDR_LEN; len++)
        cr_assert_eq(memfile_header_decode(b, len, &g), MEMFILE_DAMAGED, "len %zu", len);
    cr_assert_eq(memfile_header_decode((const unsigned char *)"TCX", 3, &g), MEMFILE_FOREIGN);
    unsigned char other[MEMFILE_HDR_LEN] = "Tmain\nKslab_config 1.25\n"; /* memcached's .meta */
    cr_assert_eq(memfile_header_decode(other, sizeof other, &g), MEMFILE_FOREIGN);
}

/* A header re-checksummed after a field change: what a valid but odd
 * file decodes to. */
static memfile_status_e decode_with(unsigned off, uint32_t v32)
{
    memfile_header_t h = sample_header(), g;
    unsigned char b[MEMFILE_HDR_LEN];
    memfile_header_encode(&h, b);
    for (unsigned i = 0; i < 4; i++)
        b[off + i] = (unsigned char)(v32 >> (8 * i));
    uint64_t sum = XXH3_64bits(b, 120);
    for (unsigned i = 0; i < 8; i++)
        b[120 + i] = (unsigned char)(sum >> (8 * i));
    return memfile_header_decode(b, sizeof b, &g);
}

Test(memfile_fmt, checksummed_but_invalid)
{
    cr_assert_eq(decode_with(8, 2), MEMFILE_UNSUPPORTED, "a later version");
    cr_assert_eq(decode_with(8, 0), MEMFILE_UNSUPPORTED);
    cr_assert_eq(decode_with(12, 64), MEMFILE_DAMAGED, "header length");
    cr_assert_eq(decode_with(48, 1000), MEMFILE_DAMAGED, "more items than the body holds");
    cr_assert_eq(decode_with(48, 0), MEMFILE_DAMAGED, "a body without items");
    cr_assert_eq(decode_with(100, 5), MEMFILE_OK, "reserved bytes are ignored");
}

Test(memfile_fmt, record_roundtrip_and_invalid)
{
    memfile_rec_t r = {.nkey = 250, .lru = LRU_COLD, .fetched = true, .active = true,
                       .marks = CACHE_MARK_STALE | CACHE_MARK_BINKEY, .flags = 0xdeadbeef,
                       .nbytes = 1u << 20, .time = (uint32_t)T0, .exptime = (uint32_t)T0 + 9,
                       .cas = 0x0102030405060708ull},
                  g;
    unsigned char b[MEMFILE_REC_FIXED], c[MEMFILE_REC_FIXED];
    memfile_rec_encode(&r, b);
    cr_assert_eq(b[20], 0x08, "cas little-endian at 20");
    cr_assert_eq(memfile_rec_decode(b, &g), MEMFILE_OK);
    cr_assert_eq(g.nkey, 250);
    cr_assert_eq(g.lru, LRU_COLD);
    cr_assert(g.fetched && g.active);
    cr_assert_eq(g.marks, r.marks);
    cr_assert_eq(g.flags, r.flags);
    cr_assert_eq(g.nbytes, r.nbytes);
    cr_assert_eq(g.time, r.time);
    cr_assert_eq(g.exptime, r.exptime);
    cr_assert_eq(g.cas, r.cas);
    struct { unsigned off; unsigned char v; } bad[] = {
        {0, 0}, {0, 251}, {1, 0x03}, {1, 0x10}, {1, 0x80}, {2, 0x08}, {3, 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(c, b, sizeof c);
        c[bad[i].off] = bad[i].v;
        cr_assert_eq(memfile_rec_decode(c, &g), MEMFILE_DAMAGED, "case %zu", i);
    }
}

/* ---- save and load through the cache ---- */

static fake_clock_t clk;
static cache_settings_t set;
static cache_t *c;
static cache_worker_t *w;
static char dir[64];
static char path[96];
static char note[1024];

static void setup(void)
{
    test_settings(&set, &clk);
    snprintf(dir, sizeof dir, "/tmp/tc-memfile-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/cache.mem", dir);
    set.memory_file = path;
    set.err = note;
    set.err_len = sizeof note;
}

static void stop(bool graceful)
{
    cache_worker_destroy(&w);
    if (graceful)
        cache_set_graceful_stop(c);
    cache_destroy(&c);
}

static void teardown(void)
{
    if (c)
        stop(false);
    char p[128];
    snprintf(p, sizeof p, "%s.tmp", path);
    unlink(p);
    unlink(path);
    rmdir(dir);
}

TestSuite(memfile, .init = setup, .fini = teardown);

static void start(void)
{
    note[0] = '\0';
    cr_assert_eq(cache_create(&c, &set), CACHE_OK, "%s", note);
    cr_assert_eq(cache_worker_create(c, &w), CACHE_OK);
}

static void adv(int64_t s) { atomic_fetch_add(&clk.now, s); }

static bool exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

typedef struct got {
    char val[4096];
    size_t n;
    uint32_t flags;
    uint64_t cas;
    int64_t exptime;
} got_t;

static bool get_full(const char *key, got_t *g)
{
    cache_item_t *it = NULL;
    if (cache_get(w, key, strlen(key), &it, NULL) != CACHE_OK)
        return false;
    g->n = cache_item_nbytes(it);
    cr_assert_lt(g->n, sizeof g->val);
    memcpy(g->val, cache_item_value(it), g->n);
    g->flags = cache_item_flags(it);
    g->cas = cache_item_cas(it);
    g->exptime = cache_item_exptime(it);
    cache_item_release(w, &it);
    return true;
}

static uint64_t items_now(void)
{
    cache_stats_t st;
    cache_stats_snapshot(c, &st);
    return st.curr_items;
}

/* key i: value of a size that spreads the keys over several classes */
static void kv(int i, char *key, char *val, size_t *n)
{
    snprintf(key, 32, "key:%d", i);
    *n = 1 + (size_t)(i * 37) % 3000;
    for (size_t j = 0; j < *n; j++)
        val[j] = (char)('a' + (i + (int)j) % 26);
}

#define NKEYS 400

Test(memfile, graceful_roundtrip)
{
    start();
    cr_assert(strstr(note, "none saved"), "%s", note);
    static got_t before[NKEYS];
    char key[32], val[4096];
    size_t n;
    for (int i = 0; i < NKEYS; i++) {
        kv(i, key, val, &n);
        cr_assert_eq(set_kv(w, CACHE_STORE_SET, key, val, n, (uint32_t)i * 7919u,
                            i % 3 ? 0 : 1000 + i, 0, NULL), CACHE_OK);
    }
    cr_assert_eq(cache_delete(w, "key:5", 5, NULL), CACHE_OK);
    uint64_t max_cas = 0;
    for (int i = 0; i < NKEYS; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        bool ok = get_full(key, &before[i]);
        cr_assert_eq(ok, i != 5);
        if (ok && before[i].cas > max_cas)
            max_cas = before[i].cas;
    }
    uint64_t n_before = items_now();
    stop(true);
    cr_assert(exists(path));
    adv(30);
    start();
    cr_assert(strstr(note, "restored 399 items"), "%s", note);
    cr_assert(strstr(note, "saved 30s ago"), "%s", note);
    cr_assert(!exists(path), "a start removes the file it loaded");
    cr_assert_eq(items_now(), n_before);
    cr_assert_eq(cache_started(c), T0 - 2, "uptime goes on counting, as memcached");
    cache_stats_t st;
    cache_stats_snapshot(c, &st);
    cr_assert_eq(st.total_items, n_before, "restored items count in total_items");
    for (int i = 0; i < NKEYS; i++) {
        got_t g;
        snprintf(key, sizeof key, "key:%d", i);
        bool ok = get_full(key, &g);
        cr_assert_eq(ok, i != 5, "%s", key);
        if (!ok)
            continue;
        cr_assert_eq(g.n, before[i].n, "%s", key);
        cr_assert_eq(memcmp(g.val, before[i].val, g.n), 0, "%s", key);
        cr_assert_eq(g.flags, before[i].flags, "%s", key);
        cr_assert_eq(g.cas, before[i].cas, "%s", key);
        cr_assert_eq(g.exptime, before[i].exptime, "%s: absolute exptime kept", key);
    }
    uint64_t cas;
    cr_assert_eq(set_kv(w, CACHE_STORE_SET, "new", "v", 1, 0, 0, 0, &cas), CACHE_OK);
    cr_assert_gt(cas, max_cas, "new cas values stay above every old one");
    /* a cas from before the restart still works */
    cr_assert_eq(set_kv(w, CACHE_STORE_CAS, "key:1", "x", 1, 0, 0, before[1].cas, NULL),
                 CACHE_OK);
}

Test(memfile, expiry_while_stopped)
{
    start();
    set_kv(w, CACHE_STORE_SET, "short", "v", 1, 0, 10, 0, NULL);
    set_kv(w, CACHE_STORE_SET, "long", "v", 1, 0, 100, 0, NULL);
    stop(true);
    adv(50);
    start();
    cr_assert(strstr(note, "restored 1 items"), "%s", note);
    cr_assert(strstr(note, "1 expired"), "%s", note);
    got_t g;
    cr_assert(!get_full("short", &g));
    cr_assert(get_full("long", &g));
    cr_assert_eq(g.exptime, T0 + 100, "the TTL kept running while stopped");
}

Test(memfile, flush_all_survives)
{
    start();
    set_s(w, "old", "v");
    cache_flush_all(w, 0);
    adv(2);
    set_s(w, "after", "v");
    cache_flush_all(w, 20); /* delayed: due at T0 + 22 */
    stop(true);
    adv(5);
    start();
    cr_assert(strstr(note, "restored 1 items"), "%s", note);
    cr_assert(!has_key(w, "old"), "flushed before the stop");
    cr_assert(has_key(w, "after"));
    adv(5);
    set_s(w, "during", "v");
    adv(11);
    cr_assert(!has_key(w, "after"), "the delayed flush_all came due after the restart");
    cr_assert(!has_key(w, "during"));
    adv(1);
    set_s(w, "later", "v");
    cr_assert(has_key(w, "later"));
}

Test(memfile, delayed_flush_due_while_stopped)
{
    start();
    set_s(w, "a", "v");
    cache_flush_all(w, 10);
    stop(true);
    adv(20);
    start();
    cr_assert(strstr(note, "restored 0 items"), "%s", note);
    cr_assert(strstr(note, "1 expired or flushed"), "%s", note);
    cr_assert(!has_key(w, "a"));
    set_s(w, "b", "v");
    cr_assert(has_key(w, "b"));
}

Test(memfile, not_graceful_saves_nothing)
{
    start();
    set_s(w, "a", "v");
    stop(true);
    start();
    cr_assert(has_key(w, "a"));
    stop(false); /* SIGTERM: memcached saves nothing, the file is gone */
    cr_assert(!exists(path));
    start();
    cr_assert(strstr(note, "none saved"), "%s", note);
    cr_assert(!has_key(w, "a"));
}

/* Saves two items to path and returns the file's bytes (caller frees). */
static unsigned char *saved_file(size_t *len)
{
    start();
    set_kv(w, CACHE_STORE_SET, "alpha", "first value", 11, 3, 0, 0, NULL);
    set_kv(w, CACHE_STORE_SET, "beta", "second", 6, 4, 0, 0, NULL);
    stop(true);
    int fd = open(path, O_RDONLY);
    cr_assert_geq(fd, 0);
    struct stat sb;
    fstat(fd, &sb);
    *len = (size_t)sb.st_size;
    unsigned char *b = malloc(*len);
    cr_assert_eq(read(fd, b, *len), (ssize_t)*len);
    close(fd);
    return b;
}

static void write_file(const unsigned char *b, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, b, len), (ssize_t)len);
    close(fd);
}

Test(memfile, every_byte_damaged_is_a_cold_start)
{
    size_t len;
    unsigned char *good = saved_file(&len);
    cr_assert_eq(len, MEMFILE_HDR_LEN + 2 * MEMFILE_REC_FIXED + 5 + 11 + 4 + 6);
    unsigned char *b = malloc(len);
    for (size_t i = MEMFILE_MAGIC_LEN; i < len; i++) {
        memcpy(b, good, len);
        b[i] ^= 0x20;
        write_file(b, len);
        start();
        cr_assert(strstr(note, "starting with an empty cache"), "byte %zu: %s", i, note);
        cr_assert(strstr(note, "damaged"), "byte %zu: %s", i, note);
        cr_assert_eq(items_now(), 0, "byte %zu: nothing loaded", i);
        cr_assert(!exists(path), "byte %zu: the damaged file is removed", i);
        stop(false);
    }
    for (size_t cut = 0; cut < len; cut += (cut < 140 ? 1 : 7)) {
        write_file(good, cut);
        start();
        cr_assert(strstr(note, "damaged"), "cut %zu: %s", cut, note);
        cr_assert_eq(items_now(), 0);
        stop(false);
    }
    /* the untouched file still loads */
    write_file(good, len);
    start();
    cr_assert(strstr(note, "restored 2 items"), "%s", note);
    got_t g;
    cr_assert(get_full("alpha", &g));
    cr_assert_eq(g.flags, 3);
    cr_assert_eq(memcmp(g.val, "first value", 11), 0);
    free(b);
    free(good);
}

Test(memfile, foreign_file_refused_and_kept)
{
    const char text[] = "Tmain\nKslab_config 1.25\nKmaxbytes 67108864\n";
    write_file((const unsigned char *)text, sizeof text - 1);
    cr_assert_eq(cache_create(&c, &set), CACHE_EINVAL);
    cr_assert_null(c);
    cr_assert(strstr(note, "not a tiercache memory file"), "%s", note);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0, "left untouched");
    cr_assert_eq((size_t)sb.st_size, sizeof text - 1);
}

Test(memfile, unusable_directory_refused)
{
    set.memory_file = "/nonexistent-dir-of-tiercache/x.mem";
    cr_assert_eq(cache_create(&c, &set), CACHE_EINVAL);
    cr_assert(strstr(note, "/nonexistent-dir-of-tiercache"), "%s", note);
}

Test(memfile, stale_tmp_removed)
{
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "partial", 7), 7);
    close(fd);
    start();
    cr_assert(!exists(tmp), "a save cut short by a crash is cleaned up");
}

Test(memfile, smaller_memory_keeps_the_newest)
{
    set.ram.mem_limit = 8u << 20;
    start();
    char key[32], val[1000];
    memset(val, 'v', sizeof val);
    int n = 0;
    /* ~8000 items of ~1 KiB: one class, -m 8 nearly full; each batch of
     * 100 a second later than the one before */
    for (int b = 0; b < 70; b++) {
        for (int i = 0; i < 100; i++, n++) {
            snprintf(key, sizeof key, "k%05d", n);
            cr_assert_eq(set_kv(w, CACHE_STORE_SET, key, val, sizeof val, 0, 0, 0, NULL),
                         CACHE_OK);
        }
        adv(1);
    }
    uint64_t saved = items_now();
    cr_assert_eq(saved, (uint64_t)n, "all fit in -m 8");
    stop(true);
    set.ram.mem_limit = 3u << 20;
    start();
    uint64_t kept = items_now();
    cr_assert_lt(kept, saved);
    cr_assert_gt(kept, saved / 5);
    char want[64];
    snprintf(want, sizeof want, "restored %llu items", (unsigned long long)kept);
    cr_assert(strstr(note, want), "%s", note);
    snprintf(want, sizeof want, "%llu dropped", (unsigned long long)(saved - kept));
    cr_assert(strstr(note, want), "%s", note);
    /* the newest are the ones kept */
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "k%05d", i);
        bool newest = (uint64_t)i >= saved - kept;
        cr_assert_eq(has_key(w, key), newest, "%s (kept %llu of %llu)", key,
                     (unsigned long long)kept, (unsigned long long)saved);
    }
}

/* The COLD list of the class of `key`, as cache_dump_class shows it. */
typedef struct order {
    char keys[2000][16];
    unsigned n;
} order_t;

static bool note_key(void *ctx, const cache_item_meta_t *m)
{
    order_t *o = ctx;
    if (o->n < 2000) {
        snprintf(o->keys[o->n], sizeof o->keys[0], "%.*s", (int)m->nkey, m->key);
        o->n++;
    }
    return true;
}

Test(memfile, lru_order_kept)
{
    start();
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "o%d", i);
        set_s(w, key, "value");
        if (i % 100 == 0)
            adv(1);
    }
    unsigned cls = 0;
    cache_item_meta_t m;
    cr_assert_eq(cache_peek(w, "o1", 2, &m), CACHE_OK);
    cls = m.slab_class;
    static order_t a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    cache_dump_class(c, cls, 0, note_key, &a);
    cr_assert_gt(a.n, 100, "items moved to COLD");
    uint64_t n = items_now();
    stop(true);
    start();
    cr_assert_eq(items_now(), n);
    cache_dump_class(c, cls, 0, note_key, &b);
    cr_assert_eq(b.n, a.n, "COLD has the same items");
    for (unsigned i = 0; i < a.n; i++)
        cr_assert_str_eq(b.keys[i], a.keys[i], "position %u", i);
}

Test(memfile, cas_off_either_way)
{
    start();
    set_s(w, "a", "v");
    stop(true);
    set.ram.use_cas = false;
    start();
    got_t g;
    cr_assert(get_full("a", &g));
    cr_assert_eq(g.cas, 0, "-C: loaded without a cas");
    set_s(w, "b", "v");
    stop(true);
    set.ram.use_cas = true;
    start();
    got_t ga, gb;
    cr_assert(get_full("a", &ga));
    cr_assert(get_full("b", &gb));
    cr_assert_neq(ga.cas, 0, "saved without cas, loaded with a fresh one");
    cr_assert_neq(gb.cas, 0);
    cr_assert_neq(ga.cas, gb.cas);
    uint64_t cas;
    set_kv(w, CACHE_STORE_SET, "c", "v", 1, 0, 0, 0, &cas);
    cr_assert_gt(cas, ga.cas > gb.cas ? ga.cas : gb.cas);
}

Test(memfile, marks_kept)
{
    start();
    set_s(w, "m", "v");
    cache_item_t *it = NULL;
    cr_assert_eq(cache_get(w, "m", 1, &it, NULL), CACHE_OK);
    cache_item_mark(it, CACHE_MARK_STALE | CACHE_MARK_TOKEN);
    cache_item_release(w, &it);
    stop(true);
    start();
    cr_assert_eq(cache_get(w, "m", 1, &it, NULL), CACHE_OK);
    cr_assert_eq(cache_item_marks(it), CACHE_MARK_STALE | CACHE_MARK_TOKEN);
    cache_item_release(w, &it);
}
