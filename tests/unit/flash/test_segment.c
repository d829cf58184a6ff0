/* tests/unit/flash/test_segment.c - the open segment builder: fill with
 * mixed sizes and tombstones until full, read every item back from memory
 * (open and sealed blocks) and from the finalized image, summary lists
 * every operation in order, header codec, reuse, random bytes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "flash_test.h"
#include "flash/segment.h"

#define SEG (1024u * 1024u)
#define TARGET 16384u
#define LEVEL 3
#define MAXOPS 80000


static ZSTD_CCtx *cctx;
static ZSTD_DCtx *dctx;
static flash_seg_t *seg;
static uint8_t *scratch;

/* What the test added, in order. */
typedef struct op {
    int tomb;
    char key[40];
    size_t nkey;
    uint32_t nvalue;
    uint32_t seed;
    uint64_t hash;
    flash_block_loc_t loc;
} op_t;
static op_t *ops;
static unsigned nops;
static uint8_t *valbuf;

static void make_seg(int level)
{
    flash_seg_config_t cfg = {.segment_size = SEG, .block_target = TARGET, .level = level,
                              .cctx = level == FLASH_LEVEL_NONE ? NULL : cctx};
    cr_assert_eq(flash_seg_create(&seg, &cfg), FLASH_SEG_OK);
    cr_assert_eq(flash_seg_reset(seg, 1234, 7, 99999, 0xABCDEFull), FLASH_SEG_OK);
}

static void setup(void)
{
    rng_state = 0x853c49e6748fea9bull;
    cctx = ZSTD_createCCtx();
    dctx = ZSTD_createDCtx();
    ops = calloc(MAXOPS, sizeof *ops);
    valbuf = malloc(SEG);
    scratch = malloc(SEG / 4);
    nops = 0;
    cr_assert(cctx && dctx && ops && valbuf && scratch);
}

static void teardown(void)
{
    flash_seg_destroy(&seg);
    cr_assert_null(seg);
    ZSTD_freeCCtx(cctx);
    ZSTD_freeDCtx(dctx);
    free(ops);
    free(valbuf);
    free(scratch);
}

TestSuite(segment, .init = setup, .fini = teardown);

/* A value derived from seed: text-like, so it compresses somewhat. */
static void fill_value(uint8_t *v, uint32_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (uint32_t i = 0; i < n; i++) {
        if (i % 16 == 0)
            x = x * 1103515245u + 12345u;
        v[i] = (uint8_t)("{\"field\":\"value\", 0123456789abcdef"[(x >> (i % 16)) % 34]);
    }
}

static flash_record_t op_record(const op_t *o)
{
    fill_value(valbuf, o->nvalue, o->seed);
    flash_record_t r = {.key = o->key, .nkey = o->nkey, .value = valbuf, .nvalue = o->nvalue,
                        .flags = o->seed, .exptime = o->seed % 3 ? 1800000000u + o->seed : 0,
                        .store_time = 1700000000u + o->seed % 1000, .cas = 1000u + o->seed};
    return r;
}

static uint32_t pick_size(void)
{
    uint64_t p = rnd() % 100;
    if (p < 50)
        return (uint32_t)(rnd() % 64);            /* tiny */
    if (p < 85)
        return (uint32_t)(64 + rnd() % 2000);     /* small */
    if (p < 98)
        return (uint32_t)(2000 + rnd() % 30000);  /* around and over the target */
    return (uint32_t)(30000 + rnd() % 200000);    /* big, own block */
}

/* Adds items (and a tombstone every ~10 ops) until the segment is full. */
static void fill(void)
{
    for (;;) {
        cr_assert_lt(nops, MAXOPS);
        op_t *o = &ops[nops];
        memset(o, 0, sizeof *o);
        o->seed = nops;
        if (nops > 0 && rnd() % 10 == 0) {
            /* tombstone for an earlier key */
            op_t *victim = &ops[rnd() % nops];
            o->tomb = 1;
            o->hash = victim->hash;
            flash_seg_status_e st = flash_seg_add_tombstone(seg, o->hash);
            if (st == FLASH_SEG_EFULL)
                break;
            cr_assert_eq(st, FLASH_SEG_OK);
            nops++;
            continue;
        }
        /* a re-set of an earlier key sometimes (same key twice in a segment) */
        if (nops > 0 && rnd() % 20 == 0)
            memcpy(o->key, ops[rnd() % nops].key, sizeof o->key);
        else
            snprintf(o->key, sizeof o->key, "k:%u:%llu", nops, (unsigned long long)rnd());
        if (o->key[0] == 0)
            snprintf(o->key, sizeof o->key, "k:%u", nops);
        o->nkey = strlen(o->key);
        o->nvalue = pick_size();
        o->hash = XXH3_64bits(o->key, o->nkey);
        flash_record_t r = op_record(o);
        flash_seg_status_e st = flash_seg_add(seg, &r, o->hash, &o->loc);
        if (st == FLASH_SEG_EFULL)
            break;
        cr_assert_eq(st, FLASH_SEG_OK, "%s", flash_seg_strerror(st));
        cr_assert_eq(o->loc.seg_id, 1234);
        cr_assert_eq(o->loc.gen, 7);
        cr_assert_geq(o->loc.blkoff, 1);
        nops++;
    }
}

/* The op that holds the current value of ops[i].key: the last item op
 * with the same key, in the same block (the last record there wins). */
static int have_dups = 1;
static const op_t *newest_in_block(unsigned i)
{
    const op_t *best = &ops[i];
    if (!have_dups)
        return best;
    for (unsigned j = i + 1; j < nops; j++)
        if (!ops[j].tomb && ops[j].nkey == ops[i].nkey &&
            memcmp(ops[j].key, ops[i].key, ops[i].nkey) == 0 &&
            ops[j].loc.blkoff == ops[i].loc.blkoff)
            best = &ops[j];
    return best;
}

static void check_record(const flash_record_t *got, const op_t *o)
{
    static uint8_t want[SEG];
    flash_record_t w = op_record(o);
    memcpy(want, w.value, w.nvalue);
    cr_assert_eq(got->nkey, o->nkey);
    cr_assert_eq(memcmp(got->key, o->key, o->nkey), 0);
    cr_assert_eq(got->nvalue, w.nvalue, "op %u", o->seed);
    cr_assert_eq(memcmp(got->value, want, w.nvalue), 0);
    cr_assert_eq(got->flags, w.flags);
    cr_assert_eq(got->exptime, w.exptime);
    cr_assert_eq(got->store_time, w.store_time);
    cr_assert_eq(got->cas, w.cas);
}

/* Every item, looked up in the builder (in memory). */
static void check_memory(void)
{
    for (unsigned i = 0; i < nops; i++) {
        if (ops[i].tomb)
            continue;
        flash_record_t got;
        flash_blk_status_e st = flash_seg_lookup(seg, dctx, &ops[i].loc, ops[i].key,
                                                 ops[i].nkey, scratch, SEG / 4, &got);
        cr_assert_eq(st, FLASH_BLK_OK, "op %u: %s", i, flash_blk_strerror(st));
        check_record(&got, newest_in_block(i));
    }
}

Test(segment, fill_finalize_roundtrip)
{
    make_seg(LEVEL);
    /* in-memory reads while the segment fills: open block and sealed ones */
    for (int round = 0; round < 3; round++) {
        unsigned before = nops;
        for (unsigned k = 0; k < 40 && nops < MAXOPS; k++) {
            op_t *o = &ops[nops];
            o->seed = nops;
            snprintf(o->key, sizeof o->key, "early:%u", nops);
            o->nkey = strlen(o->key);
            o->nvalue = (uint32_t)(rnd() % 3000);
            o->hash = XXH3_64bits(o->key, o->nkey);
            flash_record_t r = op_record(o);
            cr_assert_eq(flash_seg_add(seg, &r, o->hash, &o->loc), FLASH_SEG_OK);
            nops++;
        }
        cr_assert_gt(nops, before);
        check_memory();
    }
    fill();
    check_memory();
    flash_seghdr_t live;
    flash_seg_header(seg, &live);
    cr_assert_gt(live.nblocks, 20);

    cr_assert_eq(flash_seg_finalize(seg, 1700001234, &(flash_seg_flush_t){1700000500, 777}),
                 FLASH_SEG_OK);
    cr_assert_eq(flash_seg_finalize(seg, 1, NULL), FLASH_SEG_OK, "second finalize: no-op");
    check_memory();
    flash_record_t r = op_record(&ops[0]);
    flash_block_loc_t loc;
    cr_assert_eq(flash_seg_add(seg, &r, 1, &loc), FLASH_SEG_ESEALED);
    cr_assert_eq(flash_seg_add_tombstone(seg, 1), FLASH_SEG_ESEALED);

    const uint8_t *img;
    size_t len;
    flash_seg_image(seg, &img, &len);
    cr_assert_eq((uintptr_t)img % 4096, 0);
    cr_assert_eq(len % 4096, 0);
    cr_assert_leq(len, SEG);
    /* "the device": a copy of only the image bytes, the rest garbage */
    uint8_t *disk = malloc(SEG);
    memset(disk, 0xEE, SEG);
    memcpy(disk, img, len);

    flash_seghdr_t h;
    cr_assert_eq(flash_seghdr_decode(disk, 512, SEG, &h), FLASH_SEG_OK);
    cr_assert_eq(h.seg_id, 1234);
    cr_assert_eq(h.gen, 7);
    cr_assert_eq(h.seq, 99999);
    cr_assert_eq(h.instance_id, 0xABCDEFull);
    cr_assert_eq(h.created, 1700001234);
    cr_assert_eq(h.flush_oldest_live, 1700000500);
    cr_assert_eq(h.flush_oldest_cas, 777);
    cr_assert_eq(h.data_end <= len && len - h.data_end < 4096, 1);
    unsigned nitems = 0, ntombs = 0;
    uint32_t mn = UINT32_MAX, mx = 0;
    uint64_t maxcas = 0;
    for (unsigned i = 0; i < nops; i++) {
        if (ops[i].tomb) {
            ntombs++;
            continue;
        }
        nitems++;
        flash_record_t w = op_record(&ops[i]);
        mn = w.store_time < mn ? w.store_time : mn;
        mx = w.store_time > mx ? w.store_time : mx;
        maxcas = w.cas > maxcas ? w.cas : maxcas;
    }
    cr_assert_eq(h.nitems, nitems);
    cr_assert_eq(h.ntombs, ntombs);
    cr_assert_gt(ntombs, 10);
    cr_assert_eq(h.min_store_time, mn);
    cr_assert_eq(h.max_store_time, mx);
    cr_assert_eq(h.max_cas, maxcas);
    cr_assert_eq(h.max_exptime, 0, "some items never expire");
    cr_assert_eq(h.nblocks, live.nblocks + 1);

    fprintf(stderr, "segment: %u items, %u tombstones, %u blocks, data_end %u of %u\n",
            h.nitems, h.ntombs, h.nblocks, h.data_end, SEG);
    /* the segment is really used, not given up early */
    cr_assert_gt(h.data_end, SEG / 2);

    /* summary: every item and tombstone, in add order */
    cr_assert_eq(flash_summary_check(&h, disk + h.summary_off, SEG - h.summary_off), FLASH_SEG_OK);
    cr_assert_eq(h.summary_count, nops);
    for (unsigned i = 0; i < nops; i++) {
        flash_sum_entry_t e;
        cr_assert_eq(flash_sum_entry_decode(disk + h.summary_off + FLASH_SUM_ENTRY_LEN * i, &e), FLASH_SEG_OK);
        cr_assert_eq(e.hash, ops[i].hash, "entry %u", i);
        if (ops[i].tomb) {
            cr_assert_eq(e.kind, FLASH_SUM_TOMBSTONE);
            cr_assert_eq(e.blkoff, 0);
        } else {
            cr_assert_eq(e.kind, FLASH_SUM_ITEM);
            cr_assert_eq(e.blkoff, ops[i].loc.blkoff);
        }
    }

    /* blocks are back to back from unit 1 to the summary */
    size_t off = 512;
    unsigned nblk = 0, nrec = 0;
    while (off < h.summary_off) {
        flash_block_hdr_t bh;
        cr_assert_eq(flash_block_header(disk + off, SEG - off, &bh), FLASH_BLK_OK, "off %zu", off);
        cr_assert_eq(bh.loc.blkoff, off / 512);
        flash_block_view_t v;
        flash_block_loc_t want = {1234, 7, (uint16_t)(off / 512)};
        cr_assert_eq(flash_block_open(disk + off, SEG - off, &want, dctx, NULL, scratch, SEG / 4, &v),
                     FLASH_BLK_OK);
        nrec += v.nrec;
        nblk++;
        off += flash_block_total_len(&bh);
    }
    cr_assert_eq(off, h.summary_off);
    cr_assert_eq(nblk, h.nblocks);
    cr_assert_eq(nrec, h.nitems);

    /* every item decoded from the image at its location */
    for (unsigned i = 0; i < nops; i++) {
        if (ops[i].tomb)
            continue;
        size_t bo = (size_t)ops[i].loc.blkoff * 512;
        flash_block_view_t v;
        cr_assert_eq(flash_block_open(disk + bo, SEG - bo, &ops[i].loc, dctx, NULL, scratch, SEG / 4,
                                      &v),
                     FLASH_BLK_OK);
        flash_record_t got;
        cr_assert_eq(flash_block_find(&v, ops[i].key, ops[i].nkey, &got), FLASH_BLK_OK);
        check_record(&got, newest_in_block(i));
    }
    free(disk);
}

/* Only tiny items (20-byte values): thousands of records, hundreds of
 * blocks, a summary of several hundred KiB. */
Test(segment, tiny_items_fill)
{
    make_seg(LEVEL);
    have_dups = 0;
    for (;;) {
        cr_assert_lt(nops, MAXOPS);
        op_t *o = &ops[nops];
        o->seed = nops;
        snprintf(o->key, sizeof o->key, "session:%08u", nops);
        o->nkey = strlen(o->key);
        o->nvalue = 20;
        o->hash = XXH3_64bits(o->key, o->nkey);
        flash_record_t r = op_record(o);
        flash_seg_status_e st = flash_seg_add(seg, &r, o->hash, &o->loc);
        if (st == FLASH_SEG_EFULL)
            break;
        cr_assert_eq(st, FLASH_SEG_OK);
        nops++;
    }
    check_memory();
    cr_assert_eq(flash_seg_finalize(seg, 1, NULL), FLASH_SEG_OK);
    check_memory();
    const uint8_t *img;
    size_t len;
    flash_seg_image(seg, &img, &len);
    flash_seghdr_t h;
    cr_assert_eq(flash_seghdr_decode(img, len, SEG, &h), FLASH_SEG_OK);
    cr_assert_eq(h.nitems, nops);
    cr_assert_eq(flash_summary_check(&h, img + h.summary_off, len - h.summary_off), FLASH_SEG_OK);
    fprintf(stderr, "tiny: %u items (20 B values), %u blocks, summary %u B, data_end %u\n",
            h.nitems, h.nblocks, h.summary_count * FLASH_SUM_ENTRY_LEN, h.data_end);
    cr_assert_gt(h.data_end, SEG - 4096);
}

Test(segment, no_compression_and_reuse)
{
    make_seg(FLASH_LEVEL_NONE);
    fill();
    check_memory();
    cr_assert_eq(flash_seg_finalize(seg, 5, NULL), FLASH_SEG_OK);
    check_memory();
    const uint8_t *img;
    size_t len;
    flash_seg_image(seg, &img, &len);
    flash_seghdr_t h;
    cr_assert_eq(flash_seghdr_decode(img, len, SEG, &h), FLASH_SEG_OK);
    cr_assert_eq(h.flush_oldest_live, 0);
    /* every block raw */
    for (size_t off = 512; off < h.summary_off;) {
        flash_block_hdr_t bh;
        cr_assert_eq(flash_block_header(img + off, SEG - off, &bh), FLASH_BLK_OK);
        cr_assert_eq(bh.codec, FLASH_CODEC_RAW);
        off += flash_block_total_len(&bh);
    }
    /* reuse: old locations are stale, new ones work */
    flash_block_loc_t old = ops[0].loc;
    cr_assert_eq(flash_seg_reset(seg, 1234, 8, 100000, 0xABCDEFull), FLASH_SEG_OK);
    flash_seg_image(seg, &img, &len);
    cr_assert_eq(len, 0, "no image before finalize");
    flash_record_t got;
    cr_assert_eq(flash_seg_lookup(seg, dctx, &old, ops[0].key, ops[0].nkey, scratch, SEG / 4,
                                  &got),
                 FLASH_BLK_ESTALE);
    flash_record_t r = op_record(&ops[0]);
    flash_block_loc_t loc;
    cr_assert_eq(flash_seg_add(seg, &r, ops[0].hash, &loc), FLASH_SEG_OK);
    cr_assert_eq(loc.gen, 8);
    cr_assert_eq(loc.blkoff, 1);
    cr_assert_eq(flash_seg_lookup(seg, dctx, &loc, ops[0].key, ops[0].nkey, scratch, SEG / 4,
                                  &got),
                 FLASH_BLK_OK);
    loc.seg_id = 5;
    cr_assert_eq(flash_seg_lookup(seg, dctx, &loc, ops[0].key, ops[0].nkey, scratch, SEG / 4,
                                  &got),
                 FLASH_BLK_EMISPLACED);
    loc.seg_id = 1234;
    loc.blkoff = 9;
    cr_assert_eq(flash_seg_lookup(seg, dctx, &loc, ops[0].key, ops[0].nkey, scratch, SEG / 4,
                                  &got),
                 FLASH_BLK_EMISPLACED);
    loc.blkoff = 1;
    cr_assert_eq(flash_seg_lookup(seg, dctx, &loc, "nope", 4, scratch, SEG / 4, &got),
                 FLASH_BLK_ENOTFOUND);
    cr_assert_eq(flash_seg_reset(seg, FLASH_MAX_SEGMENTS, 0, 0, 0), FLASH_SEG_EINVAL);
}

Test(segment, empty_and_tombstones_only)
{
    make_seg(LEVEL);
    cr_assert_eq(flash_seg_finalize(seg, 10, NULL), FLASH_SEG_OK);
    const uint8_t *img;
    size_t len;
    flash_seg_image(seg, &img, &len);
    cr_assert_eq(len, 4096);
    flash_seghdr_t h;
    cr_assert_eq(flash_seghdr_decode(img, len, SEG, &h), FLASH_SEG_OK);
    cr_assert_eq(h.summary_count, 0);
    cr_assert_eq(h.nblocks, 0);
    cr_assert_eq(h.summary_off, 512);
    cr_assert_eq(h.data_end, 512);
    cr_assert_eq(flash_summary_check(&h, img + h.summary_off, 0), FLASH_SEG_OK);

    cr_assert_eq(flash_seg_reset(seg, 3, 1, 2, 3), FLASH_SEG_OK);
    unsigned n = 0;
    while (flash_seg_add_tombstone(seg, n) == FLASH_SEG_OK)
        n++;
    cr_assert_eq(n, (SEG - 512) / FLASH_SUM_ENTRY_LEN, "tombstones fill all but the header unit");
    cr_assert_eq(flash_seg_finalize(seg, 10, NULL), FLASH_SEG_OK);
    flash_seg_image(seg, &img, &len);
    cr_assert_eq(len, SEG);
    cr_assert_eq(flash_seghdr_decode(img, len, SEG, &h), FLASH_SEG_OK);
    cr_assert_eq(h.ntombs, n);
    cr_assert_eq(flash_summary_check(&h, img + h.summary_off, SEG - h.summary_off), FLASH_SEG_OK);
    for (unsigned i = 0; i < n; i++) {
        flash_sum_entry_t e;
        cr_assert_eq(flash_sum_entry_decode(img + h.summary_off + FLASH_SUM_ENTRY_LEN * i, &e), FLASH_SEG_OK);
        cr_assert_eq(e.hash, i);
    }
}

Test(segment, header_time_bounds)
{
    make_seg(LEVEL);
    uint32_t exps[] = {1800000100, 1800000300, 1800000200};
    for (int i = 0; i < 3; i++) {
        flash_record_t r = {.key = "k", .nkey = 1, .value = "v", .nvalue = 1,
                            .exptime = exps[i], .store_time = 100u - (uint32_t)i * 10,
                            .cas = 50u + (uint64_t)i};
        flash_block_loc_t loc;
        cr_assert_eq(flash_seg_add(seg, &r, 9, &loc), FLASH_SEG_OK);
    }
    cr_assert_eq(flash_seg_finalize(seg, 1, NULL), FLASH_SEG_OK);
    const uint8_t *img;
    size_t len;
    flash_seg_image(seg, &img, &len);
    flash_seghdr_t h;
    cr_assert_eq(flash_seghdr_decode(img, len, SEG, &h), FLASH_SEG_OK);
    cr_assert_eq(h.max_exptime, 1800000300);
    cr_assert_eq(h.min_store_time, 80);
    cr_assert_eq(h.max_store_time, 100);
    cr_assert_eq(h.max_cas, 52);
    cr_assert_eq(h.nblocks, 1);
    /* the last of the three records with the same key wins */
    flash_record_t got;
    flash_block_loc_t loc = {1234, 7, 1};
    cr_assert_eq(flash_seg_lookup(seg, dctx, &loc, "k", 1, scratch, SEG / 4, &got), FLASH_BLK_OK);
    cr_assert_eq(got.cas, 52);
}

Test(segment, admission)
{
    cr_assert_eq(flash_seg_max_record(SEG), SEG / 4);
    cr_assert_eq(flash_seg_admit(SEG, 10, SEG / 4 - 25 - 10), FLASH_SEG_OK);
    cr_assert_eq(flash_seg_admit(SEG, 10, SEG / 4 - 25 - 9), FLASH_SEG_ETOOBIG);
    cr_assert_eq(flash_seg_admit(SEG, 0, 1), FLASH_SEG_EINVAL);
    cr_assert_eq(flash_seg_admit(SEG, 251, 1), FLASH_SEG_EINVAL);
    make_seg(LEVEL);
    static uint8_t big[SEG / 4];
    flash_record_t r = {.key = "big", .nkey = 3, .value = big, .nvalue = SEG / 4 - 25 - 2};
    flash_block_loc_t loc;
    cr_assert_eq(flash_seg_add(seg, &r, 1, &loc), FLASH_SEG_ETOOBIG);
    r.nvalue--;
    /* the largest item fits three times in a segment */
    for (int i = 0; i < 3; i++)
        cr_assert_eq(flash_seg_add(seg, &r, 1, &loc), FLASH_SEG_OK, "%d", i);
    r.key = "";
    r.nkey = 0;
    cr_assert_eq(flash_seg_add(seg, &r, 1, &loc), FLASH_SEG_EINVAL);

    flash_seg_t *x = NULL;
    flash_seg_config_t bad = {.segment_size = SEG + 512, .block_target = TARGET};
    cr_assert_eq(flash_seg_create(&x, &bad), FLASH_SEG_EINVAL);
    bad.segment_size = 16u << 20;
    cr_assert_eq(flash_seg_create(&x, &bad), FLASH_SEG_EINVAL);
    bad.segment_size = SEG;
    bad.block_target = SEG / 2;
    cr_assert_eq(flash_seg_create(&x, &bad), FLASH_SEG_EINVAL);
    cr_assert_null(x);
    flash_seg_destroy(&x);
}

static flash_seghdr_t sample_hdr(void)
{
    flash_seghdr_t h = {
        .version = FLASH_FORMAT_VERSION, .instance_id = 0x0102030405060708ull,
        .seq = 0x1112131415161718ull, .seg_id = 262143, .gen = 0xfffffffe,
        .created = 1700000000, .flags = 0, .nblocks = 3, .nitems = 10, .ntombs = 4,
        .summary_off = 8192, .summary_count = 14, .summary_cksum = 0xdeadbeef,
        .data_end = 8704, .min_store_time = 5, .max_store_time = 9,
        .flush_oldest_live = 77, .flush_oldest_cas = 88, .max_cas = 99, .max_exptime = 1234,
    };
    return h;
}

Test(segment, header_codec)
{
    flash_seghdr_t h = sample_hdr(), o;
    uint8_t b[FLASH_SEGHDR_LEN], c[FLASH_SEGHDR_LEN];
    flash_seghdr_encode(&h, b);
    cr_assert_eq(memcmp(b, "TCSG", 4), 0);
    cr_assert_eq(flash_seghdr_decode(b, sizeof b, SEG, &o), FLASH_SEG_OK);
    cr_assert_eq(o.instance_id, h.instance_id);
    cr_assert_eq(o.seq, h.seq);
    cr_assert_eq(o.seg_id, h.seg_id);
    cr_assert_eq(o.gen, h.gen);
    cr_assert_eq(o.created, h.created);
    cr_assert_eq(o.nblocks, h.nblocks);
    cr_assert_eq(o.nitems, h.nitems);
    cr_assert_eq(o.ntombs, h.ntombs);
    cr_assert_eq(o.summary_off, h.summary_off);
    cr_assert_eq(o.summary_count, h.summary_count);
    cr_assert_eq(o.summary_cksum, h.summary_cksum);
    cr_assert_eq(o.data_end, h.data_end);
    cr_assert_eq(o.min_store_time, h.min_store_time);
    cr_assert_eq(o.max_store_time, h.max_store_time);
    cr_assert_eq(o.flush_oldest_live, h.flush_oldest_live);
    cr_assert_eq(o.flush_oldest_cas, h.flush_oldest_cas);
    cr_assert_eq(o.max_cas, h.max_cas);
    cr_assert_eq(o.max_exptime, h.max_exptime);
    cr_assert_eq(b[16], 0x18, "seq little-endian");
    cr_assert_eq(flash_seghdr_decode(b, sizeof b - 1, SEG, &o), FLASH_SEG_ETRUNCATED);
    for (unsigned bit = 0; bit < FLASH_SEGHDR_LEN * 8; bit++) {
        memcpy(c, b, sizeof b);
        c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        cr_assert_neq(flash_seghdr_decode(c, sizeof c, SEG, &o), FLASH_SEG_OK, "bit %u", bit);
    }
    /* inconsistent fields with a good checksum */
    flash_seghdr_t bad = h;
    bad.data_end = 9216;
    flash_seghdr_encode(&bad, b);
    cr_assert_eq(flash_seghdr_decode(b, sizeof b, SEG, &o), FLASH_SEG_EHEADER);
    bad = h;
    bad.ntombs = 5;
    flash_seghdr_encode(&bad, b);
    cr_assert_eq(flash_seghdr_decode(b, sizeof b, SEG, &o), FLASH_SEG_EHEADER);
    bad = h;
    bad.summary_off = SEG;
    bad.data_end = SEG + 512;
    flash_seghdr_encode(&bad, b);
    cr_assert_eq(flash_seghdr_decode(b, sizeof b, SEG, &o), FLASH_SEG_EHEADER);
    bad = h;
    bad.seg_id = FLASH_MAX_SEGMENTS;
    flash_seghdr_encode(&bad, b);
    cr_assert_eq(flash_seghdr_decode(b, sizeof b, SEG, &o), FLASH_SEG_EHEADER);
    bad = h;
    bad.version = FLASH_FORMAT_VERSION + 1;
    flash_seghdr_encode(&bad, b);
    cr_assert_eq(flash_seghdr_decode(b, sizeof b, SEG, &o), FLASH_SEG_EVERSION);
}

Test(segment, summary_entry_codec)
{
    uint8_t p[FLASH_SUM_ENTRY_LEN];
    flash_sum_entry_t e = {0x8877665544332211ull, 16383, FLASH_SUM_ITEM}, o;
    flash_sum_entry_encode(&e, p);
    cr_assert_eq(p[0], 0x11);
    cr_assert_eq(p[8], 0xff);
    cr_assert_eq(p[9], 0x3f);
    cr_assert_eq(p[10], FLASH_SUM_ITEM);
    cr_assert_eq(flash_sum_entry_decode(p, &o), FLASH_SEG_OK);
    cr_assert_eq(o.hash, e.hash);
    cr_assert_eq(o.blkoff, e.blkoff);
    e.blkoff = 0;
    flash_sum_entry_encode(&e, p);
    cr_assert_eq(flash_sum_entry_decode(p, &o), FLASH_SEG_ESUMMARY);
    e.blkoff = 16384;
    flash_sum_entry_encode(&e, p);
    cr_assert_eq(flash_sum_entry_decode(p, &o), FLASH_SEG_ESUMMARY);
    e = (flash_sum_entry_t){5, 0, FLASH_SUM_TOMBSTONE};
    flash_sum_entry_encode(&e, p);
    cr_assert_eq(flash_sum_entry_decode(p, &o), FLASH_SEG_OK);
    e.blkoff = 3;
    flash_sum_entry_encode(&e, p);
    cr_assert_eq(flash_sum_entry_decode(p, &o), FLASH_SEG_ESUMMARY);
    e = (flash_sum_entry_t){5, 1, 3};
    flash_sum_entry_encode(&e, p);
    cr_assert_eq(flash_sum_entry_decode(p, &o), FLASH_SEG_ESUMMARY);
}

Test(segment, summary_damage_detected)
{
    make_seg(LEVEL);
    fill();
    cr_assert_eq(flash_seg_finalize(seg, 1, NULL), FLASH_SEG_OK);
    const uint8_t *img;
    size_t len;
    flash_seg_image(seg, &img, &len);
    uint8_t *disk = malloc(SEG);
    memcpy(disk, img, len);
    flash_seghdr_t h;
    cr_assert_eq(flash_seghdr_decode(disk, len, SEG, &h), FLASH_SEG_OK);
    uint8_t *sum = disk + h.summary_off;
    size_t slen = (size_t)h.summary_count * FLASH_SUM_ENTRY_LEN;
    cr_assert_eq(flash_summary_check(&h, sum, slen - 1), FLASH_SEG_ETRUNCATED);
    for (int k = 0; k < 2000; k++) {
        size_t bit = (size_t)(rnd() % (slen * 8));
        sum[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        cr_assert_eq(flash_summary_check(&h, sum, slen), FLASH_SEG_ESUMMARY);
        sum[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    cr_assert_eq(flash_summary_check(&h, sum, slen), FLASH_SEG_OK);
    free(disk);
}

Test(segment, random_bytes)
{
    uint8_t b[600];
    flash_seghdr_t h;
    for (int i = 0; i < 20000; i++) {
        for (size_t j = 0; j < sizeof b; j++)
            b[j] = (uint8_t)rnd();
        if (i & 1)
            memcpy(b, "TCSG", 4), b[4] = 1, b[5] = 0, b[6] = 128, b[7] = 0;
        if (i & 2) { /* past the checksum: field checks must hold */
            uint64_t c = XXH3_64bits(b, 120);
            for (int k = 0; k < 8; k++)
                b[120 + k] = (uint8_t)(c >> (8 * k));
        }
        flash_seg_status_e st = flash_seghdr_decode(b, (size_t)(rnd() % sizeof b), SEG, &h);
        if (st == FLASH_SEG_OK) {
            /* only if the random fields happen to be consistent */
            cr_assert_leq(h.data_end, SEG);
            cr_assert_eq(h.nitems + h.ntombs, h.summary_count);
            (void)flash_summary_check(&h, b, sizeof b);
        }
        flash_sum_entry_t e;
        (void)flash_sum_entry_decode(b + 200, &e);
    }
}

Test(segment, strerror)
{
    for (int st = FLASH_SEG_OK; st <= FLASH_SEG_ESUMMARY; st++) {
        const char *m = flash_seg_strerror((flash_seg_status_e)st);
        cr_assert_null(strstr(m, "unknown"));
        for (int o = FLASH_SEG_OK; o < st; o++)
            cr_assert_str_neq(m, flash_seg_strerror((flash_seg_status_e)o));
    }
}
