/*
 * tests/unit/flash/test_ingest.c - keeping up with a fast load (ingest.c):
 * a block zstd cannot shrink is stored raw and reads back; the writer takes
 * the raw (fast) path only when clients wait for it during a fast load;
 * blocks a builder is told to store fast are raw (but for one probe in
 * FLASH_SEG_FAST_PROBE), and are not meant for recompression when the
 * probes do not compress; raw blocks written under pressure are
 * recompressed when the writer is idle (every item reads back, the flash
 * footprint shrinks). The on-disk format is unchanged (codec 0,
 * raw, is in every version): test_restart's format-4 fixture covers reading
 * old files.
 *
 * Small geometry: a 16 MiB file in $TC_FLASH_TEST_DIR (or the cwd),
 * 256 KiB segments, 4 KiB blocks.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "flash/flash_int.h"
#include "flash_test.h"

#define FILE_SIZE (16u << 20)
#define SEG_SIZE (256u << 10)

/* ---- segment builder: raw blocks ---- */

static flash_seg_t *new_builder(ZSTD_CCtx *cctx)
{
    flash_seg_config_t cfg = {
        .segment_size = SEG_SIZE, .block_target = 4096, .level = 1, .cctx = cctx,
    };
    flash_seg_t *s = NULL;
    cr_assert_eq(flash_seg_create(&s, &cfg), FLASH_SEG_OK);
    cr_assert_eq(flash_seg_reset(s, 3, 7, 1, 42), FLASH_SEG_OK);
    return s;
}

/* Adds n records of `vlen`-byte values (random bytes when noisy, else
 * repetitive text) and finalizes; values[i] keeps each value. Returns the
 * codec of the first block. */
static unsigned fill(flash_seg_t *s, unsigned n, uint32_t vlen, bool noisy, char **values,
                     flash_block_loc_t *locs)
{
    for (unsigned i = 0; i < n; i++) {
        char key[32];
        size_t nkey = (size_t)snprintf(key, sizeof key, "k%u", i);
        values[i] = malloc(vlen);
        for (uint32_t k = 0; k < vlen; k++)
            values[i][k] = noisy ? (char)rnd() : "{\"name\": \"value\", "[k % 18];
        flash_record_t r = { .key = key, .nkey = nkey, .value = values[i], .nvalue = vlen,
                             .flags = i, .cas = i + 1 };
        cr_assert_eq(flash_seg_add(s, &r, XXH3_64bits(key, nkey), &locs[i]), FLASH_SEG_OK);
    }
    cr_assert_eq(flash_seg_finalize(s, 1, NULL), FLASH_SEG_OK);
    const uint8_t *img;
    size_t len;
    flash_seg_image(s, &img, &len);
    return fl_get_u8(img + (size_t)locs[0].blkoff * FLASH_UNIT + 4);
}

/* Every record reads back from the finalized builder's image. */
static void read_back(const flash_seg_t *s, unsigned n, uint32_t vlen, char **values,
                      const flash_block_loc_t *locs)
{
    ZSTD_DCtx *d = ZSTD_createDCtx();
    size_t cap = flash_seg_scratch_size(s);
    uint8_t *scratch = malloc(cap);
    for (unsigned i = 0; i < n; i++) {
        char key[32];
        size_t nkey = (size_t)snprintf(key, sizeof key, "k%u", i);
        flash_record_t got;
        flash_blk_status_e bs = flash_seg_lookup(s, d, &locs[i], key, nkey, scratch, cap, &got);
        cr_assert_eq(bs, FLASH_BLK_OK, "key %u: %s", i, flash_blk_strerror(bs));
        flash_record_t want = { .key = key, .nkey = nkey, .value = values[i], .nvalue = vlen,
                                .flags = i, .cas = i + 1 };
        check_rec(&got, &want);
        free(values[i]);
    }
    free(scratch);
    ZSTD_freeDCtx(d);
}

Test(ingest, incompressible_block_is_stored_raw_and_reads_back)
{
    rng_state = 0x1234567;
    ZSTD_CCtx *c = ZSTD_createCCtx();
    for (int noisy = 0; noisy < 2; noisy++) {
        flash_seg_t *s = new_builder(c);
        char *values[40];
        flash_block_loc_t locs[40];
        unsigned codec = fill(s, 40, 900, noisy, values, locs);
        uint32_t fast, incomp;
        flash_seg_block_counts(s, &fast, &incomp);
        flash_seghdr_t h;
        flash_seg_header(s, &h);
        cr_assert_eq(fast, 0);
        if (noisy) {
            /* random bytes: zstd cannot shrink them, every block is raw */
            cr_assert_eq(codec, FLASH_CODEC_RAW);
            cr_assert_eq(incomp, h.nblocks, "%u of %u blocks raw", incomp, h.nblocks);
        } else {
            cr_assert_neq(codec, FLASH_CODEC_RAW);
            cr_assert_eq(incomp, 0);
        }
        read_back(s, 40, 900, values, locs);
        flash_seg_destroy(&s);
    }
    ZSTD_freeCCtx(c);
}

/* Codec of the block at unit blkoff of a finalized builder. */
static unsigned codec_at(const flash_seg_t *s, uint16_t blkoff)
{
    const uint8_t *img;
    size_t len;
    flash_seg_image(s, &img, &len);
    return fl_get_u8(img + (size_t)blkoff * FLASH_UNIT + 4);
}

Test(ingest, fast_builder_stores_compressible_blocks_raw)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    flash_seg_t *s = new_builder(c);
    flash_seg_set_fast(s, true);
    char *values[80];
    flash_block_loc_t locs[80];
    /* the first block sealed fast is a probe (compressed), the next
     * FLASH_SEG_FAST_PROBE - 1 are raw, then the next probe */
    unsigned codec = fill(s, 80, 900, false, values, locs);
    cr_assert_neq(codec, FLASH_CODEC_RAW, "the first fast block is a probe");
    unsigned raw = 0, zstd = 0;
    uint16_t last = 0;
    for (unsigned i = 0; i < 80; i++) {
        if (locs[i].blkoff == last)
            continue;
        last = locs[i].blkoff;
        if (codec_at(s, last) == FLASH_CODEC_RAW)
            raw++;
        else
            zstd++;
    }
    uint32_t fast, incomp;
    flash_seg_block_counts(s, &fast, &incomp);
    flash_seghdr_t h;
    flash_seg_header(s, &h);
    cr_assert_eq(raw + zstd, h.nblocks);
    cr_assert_eq(zstd, (h.nblocks + FLASH_SEG_FAST_PROBE - 1) / FLASH_SEG_FAST_PROBE,
                 "%u probes of %u blocks", zstd, h.nblocks);
    cr_assert(raw > 0, "text compresses, yet fast means raw");
    cr_assert_eq(fast, raw);
    cr_assert_eq(incomp, 0);
    read_back(s, 80, 900, values, locs);
    /* reset keeps the flag but zeroes the counts; off again: compressed */
    cr_assert_eq(flash_seg_reset(s, 3, 8, 2, 42), FLASH_SEG_OK);
    flash_seg_block_counts(s, &fast, &incomp);
    cr_assert_eq(fast + incomp, 0);
    flash_seg_set_fast(s, false);
    codec = fill(s, 40, 900, false, values, locs);
    cr_assert_neq(codec, FLASH_CODEC_RAW);
    flash_seg_block_counts(s, &fast, &incomp);
    cr_assert_eq(fast + incomp, 0);
    read_back(s, 40, 900, values, locs);
    flash_seg_destroy(&s);
    ZSTD_freeCCtx(c);
}

Test(ingest, fast_blocks_of_incompressible_data_are_not_for_recompression)
{
    rng_state = 0x7654321;
    ZSTD_CCtx *c = ZSTD_createCCtx();
    flash_seg_t *s = new_builder(c);
    flash_seg_set_fast(s, true);
    char *values[80];
    flash_block_loc_t locs[80];
    fill(s, 80, 900, true, values, locs);
    uint32_t fast, incomp;
    flash_seg_block_counts(s, &fast, &incomp);
    flash_seghdr_t h;
    flash_seg_header(s, &h);
    /* the probes did not compress: rewriting these blocks gains nothing */
    cr_assert_eq(fast, 0);
    cr_assert_eq(incomp, h.nblocks);
    read_back(s, 80, 900, values, locs);
    flash_seg_destroy(&s);
    ZSTD_freeCCtx(c);
}

/* ---- the pacing rule, on a bare handle (no writer thread) ---- */

static flash_t *bare(void)
{
    flash_t *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->d_lock, NULL);
    f->nseg = 100;
    f->nring = 10;
    f->qcap = 4096;
    f->s.compression_level = 1;
    f->s.fast_ingest = true;
    f->wr_win_start = flash_mono_ms();
    return f;
}

/* One pacing window in which the writer took `items` and clients waited
 * `waits` times; returns wr_fast after it. */
static bool window(flash_t *f, unsigned items, unsigned waits)
{
    pthread_mutex_lock(&f->d_lock);
    f->d_waits += waits;
    pthread_mutex_unlock(&f->d_lock);
    flash_ingest_pace(f, items);
    usleep((FLASH_FAST_WINDOW_MS + 5) * 1000);
    flash_ingest_pace(f, 0); /* the window is over: decided */
    return f->wr_fast;
}

Test(ingest, fast_path_only_when_clients_wait_during_a_fast_load)
{
    flash_t *f = bare();
    unsigned fast_rate = FLASH_FAST_MIN_ITEMS + 100;
    /* a trickle with clients waiting: compress */
    for (int i = 0; i < 3; i++)
        cr_assert(!window(f, 100, 5));
    /* full speed, nobody waits: compress */
    for (int i = 0; i < 3; i++)
        cr_assert(!window(f, fast_rate, 0));
    /* full speed and clients wait: raw after FLASH_FAST_WINDOWS windows */
    for (unsigned i = 1; i < FLASH_FAST_WINDOWS; i++)
        cr_assert(!window(f, fast_rate, 3));
    cr_assert(window(f, fast_rate, 3), "behind, yet compressing");
    cr_assert(window(f, fast_rate, 3));
    /* one calm window: caught up */
    cr_assert(!window(f, fast_rate, 0));
    /* behind but the flash is 80% full: raw blocks would not fit, compress */
    f->nring = 80;
    for (unsigned i = 0; i <= FLASH_FAST_WINDOWS; i++)
        cr_assert(!window(f, fast_rate, 3));
    /* compression off: nothing to skip */
    f->nring = 10;
    f->s.compression_level = FLASH_LEVEL_NONE;
    for (unsigned i = 0; i <= FLASH_FAST_WINDOWS; i++)
        cr_assert(!window(f, fast_rate, 3));
    pthread_mutex_destroy(&f->d_lock);
    free(f);
}

/* ---- end to end: raw under pressure, recompressed when idle ---- */

typedef struct pin {
    char key[32];
    size_t nkey;
    char *value;
} pin_t;

static char path[512];
static flash_t *F;
static flash_worker_t *W;
static _Atomic uint64_t written;

static void on_written(void *ctx, void *token, flash_status_e st)
{
    (void)ctx;
    (void)st;
    pin_t *p = token;
    free(p->value);
    free(p);
    atomic_fetch_add(&written, 1);
}

static void on_log(void *ctx, const char *line)
{
    (void)ctx;
    if (getenv("TC_TEST_LOG"))
        fprintf(stderr, "log: %s\n", line);
}

/* Compressible value of key i (JSON-like text with the key's number). */
static uint32_t valof(char *buf, unsigned i)
{
    static const char text[] = "{\"user\": \"someone\", \"id\": 12, \"tags\": [\"a\", \"b\"]} ";
    uint32_t n = 300 + i % 500;
    for (uint32_t k = 0; k < n; k++)
        buf[k] = text[k % (sizeof text - 1)];
    snprintf(buf, 16, "v%u|", i);
    return n;
}

static void spill(unsigned i)
{
    pin_t *p = calloc(1, sizeof *p);
    p->nkey = (size_t)snprintf(p->key, sizeof p->key, "key:%u", i);
    p->value = malloc(1024);
    uint32_t n = valof(p->value, i);
    flash_wr_item_t it = {
        .key = p->key, .nkey = p->nkey, .value = p->value, .nbytes = n, .flags = i,
        .cas = i + 1, .store_time = time(NULL), .hash = XXH3_64bits(p->key, p->nkey),
        .token = p,
    };
    cr_assert_eq(flash_enqueue(F, &it), FLASH_OK);
}

static void wait_for(uint64_t n)
{
    for (int k = 0; k < 20000 && atomic_load(&written) < n; k++) {
        flash_complete(F, UINT32_MAX);
        usleep(1000);
    }
    cr_assert_eq(atomic_load(&written), n);
}

typedef struct rd {
    unsigned i;
    bool done, ok;
} rd_t;

static void on_read(void *ctx, flash_status_e st, const flash_hit_t *hit)
{
    rd_t *r = ctx;
    r->done = true;
    char val[1024];
    uint32_t n = valof(val, r->i);
    r->ok = st == FLASH_OK && hit->nbytes == n && memcmp(hit->value, val, n) == 0 &&
            hit->flags == r->i && hit->cas == r->i + 1;
}

/* Every key 0..n-1 reads back intact from flash. */
static void read_all(unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        char key[32];
        size_t nkey = (size_t)snprintf(key, sizeof key, "key:%u", i);
        rd_t r = { .i = i };
        flash_status_e st = flash_lookup(W, XXH3_64bits(key, nkey), key, nkey, on_read, &r);
        for (int spins = 0; st == FLASH_PENDING && !r.done; spins++) {
            cr_assert(spins < 10000, "read never completed");
            struct pollfd p = { .fd = flash_worker_fd(W), .events = POLLIN };
            poll(&p, 1, 10);
            flash_worker_poll(W);
        }
        cr_assert(st == FLASH_OK || st == FLASH_PENDING, "key %u: %s", i, flash_strerror(st));
        cr_assert(r.done && r.ok, "key %u did not read back", i);
    }
}

static void teardown(void)
{
    flash_worker_destroy(&W);
    flash_destroy(&F);
    if (path[0])
        unlink(path);
}

/* A flash tier on a fresh small file, no dictionary, no checkpoints. */
static void setup_flash(void)
{
    const char *dir = getenv("TC_FLASH_TEST_DIR");
    char cwd[256];
    if (!dir || !*dir)
        dir = getcwd(cwd, sizeof cwd) ? cwd : ".";
    snprintf(path, sizeof path, "%s/tc_flash_ingest_%d.img", dir, (int)getpid());
    unlink(path);
    flash_settings_t s;
    flash_settings_default(&s);
    s.path = path;
    s.size = FILE_SIZE;
    s.segment_size = SEG_SIZE;
    s.block_size = 4096;
    s.io_depth = 8;
    s.index_capacity = 100000;
    s.queue_items = 256;
    s.stall_ms = 2000;
    s.min_ttl = 0;
    s.dict_size = 0; /* no training: the ratios stay comparable */
    s.written = on_written;
    s.log = on_log;
    s.checkpoint_ms = 0;
    char err[512];
    cr_assert_eq(flash_create(&F, &s, err, sizeof err), FLASH_OK, "%s", err);
    cr_assert_eq(flash_worker_create(F, &W), FLASH_OK);
}

/* Spills keys 0..n-1 with the writer forced behind (every block raw, no
 * recompression yet); returns the stats after. */
static flash_stats_t load_raw(unsigned n)
{
    flash_ingest_force(F, 1);
    for (unsigned i = 0; i < n; i++)
        spill(i);
    wait_for(n);
    flash_stats_t a;
    flash_stats_snapshot(F, &a);
    cr_assert(a.flash_blocks_fast > 0, "no raw block under pressure");
    cr_assert_eq(a.flash_recompress_segments, 0, "recompressed while still behind");
    return a;
}

Test(ingest, raw_blocks_are_recompressed_when_idle, .fini = teardown, .timeout = 120)
{
    setup_flash();
    /* the writer behaves as if behind: every block raw */
    const unsigned n = 6000;
    flash_stats_t a = load_raw(n);
    read_all(n);

    /* caught up: the idle writer recompresses until no raw block is left */
    flash_ingest_force(F, 0);
    flash_stats_t b = a;
    for (int k = 0; k < 3000; k++) {
        usleep(2000);
        flash_stats_snapshot(F, &b);
        if (b.flash_recompress_segments > 0 && b.flash_bytes_stored * 2 < a.flash_bytes_stored)
            break;
    }
    cr_assert(b.flash_recompress_segments > 0, "never recompressed");
    cr_assert(b.flash_rewrites >= n / 2, "rewrote %llu items",
              (unsigned long long)b.flash_rewrites);
    cr_assert(b.flash_bytes_stored * 2 < a.flash_bytes_stored,
              "stored %llu bytes raw, %llu after recompression",
              (unsigned long long)a.flash_bytes_stored, (unsigned long long)b.flash_bytes_stored);
    cr_assert_eq(b.flash_items, a.flash_items, "recompression lost items");
    read_all(n);
}

/* A read that took an item's location just before recompression moved
 * the item (and freed the old segment) still finds it: the reader looks
 * the hash up again when no candidate held the key (reader.c relook).
 * Before, such reads answered a miss: 40-58 of 29,600 keys read right
 * after writes in bb_memlimit's shrink test with fast ingest on. */
Test(ingest, a_read_racing_recompression_finds_the_moved_item, .fini = teardown,
     .timeout = 120)
{
    setup_flash();
    const unsigned n = 6000;
    load_raw(n);
    /* keys 0, 8, ... are in the oldest segments, the first recompressed,
     * each in a block of its own: their reads are issued and left
     * unpolled, the first io_depth in flight and the rest waiting in the
     * worker's queue for a slot */
    enum { K = 48, STRIDE = 8 }; /* about a 4 KiB block's items apart */
    static rd_t r[K];
    unsigned pending = 0;
    for (unsigned i = 0; i < K; i++) {
        char key[32];
        size_t nkey = (size_t)snprintf(key, sizeof key, "key:%u", i * STRIDE);
        r[i] = (rd_t){ .i = i * STRIDE };
        flash_status_e st = flash_lookup(W, XXH3_64bits(key, nkey), key, nkey, on_read, &r[i]);
        cr_assert(st == FLASH_PENDING || (st == FLASH_OK && r[i].ok), "key %u: %s", i,
                  flash_strerror(st));
        pending += st == FLASH_PENDING;
    }
    cr_assert_gt(pending, 8, "more reads than the io depth, read from the device");
    /* the writer caught up: it recompresses the oldest segments, moving
     * their slots to the rewritten copies and freeing the segments */
    flash_ingest_force(F, 0);
    flash_stats_t b;
    for (int k = 0; k < 5000; k++) {
        flash_stats_snapshot(F, &b);
        if (b.flash_recompress_segments >= 2)
            break;
        usleep(1000);
    }
    cr_assert(b.flash_recompress_segments >= 2, "never recompressed");
    /* now the reads go on: a queued one finds its segment gone (37 of 48
     * missed without the fresh lookup); the fresh lookup finds each moved
     * copy */
    for (int spins = 0;; spins++) {
        unsigned done = 0;
        for (unsigned i = 0; i < K; i++)
            done += r[i].done;
        if (done == K)
            break;
        cr_assert(spins < 10000, "reads never completed");
        struct pollfd p = { .fd = flash_worker_fd(W), .events = POLLIN };
        poll(&p, 1, 10);
        flash_worker_poll(W);
    }
    for (unsigned i = 0; i < K; i++)
        cr_assert(r[i].ok, "key %u missed while recompression moved it", i * STRIDE);
    read_all(n);
}

/* Recompression yields to flash reads: while hits keep coming, at most one
 * step per FLASH_INGEST_BUSY_STEP_MS; once they pause, the rest at once. */
Test(ingest, recompression_yields_to_flash_reads, .fini = teardown, .timeout = 120)
{
    setup_flash();
    const unsigned n = 6000;
    flash_stats_t a = load_raw(n);
    uint64_t raw_segs = a.flash_bytes_stored / SEG_SIZE;
    cr_assert(raw_segs >= 8, "only %llu segments of raw blocks", (unsigned long long)raw_segs);

    /* caught up, but clients read from flash without a pause for 1.5 s */
    flash_ingest_force(F, 0);
    int64_t t0 = flash_mono_ms();
    unsigned rounds = 0;
    while (flash_mono_ms() - t0 < 1500) {
        read_all(n / 4);
        rounds++;
    }
    flash_stats_t b;
    flash_stats_snapshot(F, &b);
    uint64_t during = b.flash_recompress_segments;
    /* a step may start before the first hit, one at once (no step yet),
     * one after FLASH_INGEST_BUSY_STEP_MS, one in a scheduling gap */
    cr_assert(during <= 4, "%llu recompression steps during %u rounds of reads",
              (unsigned long long)during, rounds);

    /* the reads stop: the rest is recompressed at full speed */
    flash_stats_t c = b;
    for (int k = 0; k < 3000; k++) {
        usleep(2000);
        flash_stats_snapshot(F, &c);
        if (c.flash_bytes_stored * 2 < a.flash_bytes_stored)
            break;
    }
    cr_assert(c.flash_recompress_segments > during + 2, "%llu steps after the reads",
              (unsigned long long)(c.flash_recompress_segments - during));
    cr_assert(c.flash_bytes_stored * 2 < a.flash_bytes_stored,
              "stored %llu bytes raw, %llu after recompression",
              (unsigned long long)a.flash_bytes_stored, (unsigned long long)c.flash_bytes_stored);
    cr_assert_eq(c.flash_items, a.flash_items, "recompression lost items");
    read_all(n);
}
