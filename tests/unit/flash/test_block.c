/* tests/unit/flash/test_block.c - block builder and reader: roundtrips (1
 * record, many tiny, one big, compression on/off, incompressible), every
 * bit flip detected, stale / misplaced locations, crafted bad payloads,
 * random bytes, and the compression ratio that justifies blocks. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "flash_test.h"
#include "flash/block.h"

#define TARGET 16384u
#define CAP (256u * 1024u)
#define LEVEL 3


static flash_blockb_t *bb;
static ZSTD_CCtx *cctx;
static ZSTD_DCtx *dctx;
static uint8_t *dst, *scratch;
static const flash_block_loc_t LOC = {77, 5, 3};

static void setup(void)
{
    rng_state = 0x2545f4914f6cdd1dull;
    cr_assert_eq(flash_blockb_create(&bb, TARGET, CAP), FLASH_BLK_OK);
    cctx = ZSTD_createCCtx();
    dctx = ZSTD_createDCtx();
    dst = aligned_alloc(4096, CAP + 4096);
    scratch = malloc(CAP);
    cr_assert(cctx && dctx && dst && scratch);
    memset(dst, 0xAA, CAP + 4096);
}

static void teardown(void)
{
    flash_blockb_destroy(&bb);
    cr_assert_null(bb);
    flash_blockb_destroy(&bb); /* no-op */
    ZSTD_freeCCtx(cctx);
    ZSTD_freeDCtx(dctx);
    free(dst);
    free(scratch);
}

TestSuite(block, .init = setup, .fini = teardown);

/* A record whose fields derive from i. Key and value live in static
 * per-call buffers of the caller. */
static flash_record_t mkrec(unsigned i, char *key, uint8_t *val, uint32_t nval, int compressible)
{
    int n = snprintf(key, 64, "key:%u", i);
    for (uint32_t j = 0; j < nval; j++)
        val[j] = compressible ? (uint8_t)("abcdefgh"[(i + j / 7) % 8]) : (uint8_t)rnd();
    flash_record_t r = {
        .key = key, .nkey = (size_t)n, .value = val, .nvalue = nval,
        .flags = i * 3u, .exptime = i ? 1700000000u + i : 0, .store_time = 1690000000u + i,
        .cas = 0x100000000ull + i, .marks = (uint8_t)(i % 16),
    };
    return r;
}

static uint32_t seal(int level)
{
    uint32_t stored = 0;
    cr_assert_eq(flash_blockb_seal(bb, level == FLASH_LEVEL_NONE ? NULL : cctx, level, NULL, &LOC,
                                   dst, CAP + 4096, &stored),
                 FLASH_BLK_OK);
    cr_assert_eq(stored % 512, 0);
    cr_assert_eq(flash_blockb_count(bb), 0, "seal resets the builder");
    return stored;
}

static flash_blk_status_e open_blk(size_t len, flash_block_view_t *v)
{
    return flash_block_open(dst, len, &LOC, dctx, NULL, scratch, CAP, v);
}

Test(block, one_record_both_codecs)
{
    char key[64];
    uint8_t val[100];
    for (int pass = 0; pass < 2; pass++) {
        flash_record_t r = mkrec(1, key, val, sizeof val, 1);
        cr_assert_eq(flash_blockb_append(bb, &r), FLASH_BLK_OK);
        cr_assert_eq(flash_blockb_raw_size(bb), flash_record_size(r.nkey, r.nvalue));
        cr_assert_eq(flash_blockb_count(bb), 1);
        /* the builder's own view serves in-memory lookups */
        flash_block_view_t v;
        flash_record_t got;
        flash_blockb_view(bb, &v);
        cr_assert_eq(flash_block_find(&v, key, r.nkey, &got), FLASH_BLK_OK);
        check_rec(&got, &r);
        uint32_t stored = seal(pass ? LEVEL : FLASH_LEVEL_NONE);
        cr_assert_eq(stored, 512);
        flash_block_hdr_t h;
        cr_assert_eq(flash_block_header(dst, 40, &h), FLASH_BLK_OK);
        cr_assert_eq(h.codec, pass ? FLASH_CODEC_ZSTD : FLASH_CODEC_RAW);
        cr_assert_eq(h.nrec, 1);
        cr_assert_eq(h.loc.seg_id, LOC.seg_id);
        cr_assert_eq(h.loc.gen, LOC.gen);
        cr_assert_eq(h.loc.blkoff, LOC.blkoff);
        cr_assert_eq(flash_block_total_len(&h), 512);
        /* padding is zeroed */
        for (size_t i = 40 + h.stored_len; i < 512; i++)
            cr_assert_eq(dst[i], 0);
        cr_assert_eq(open_blk(stored, &v), FLASH_BLK_OK);
        cr_assert_eq(v.nrec, 1);
        cr_assert_eq(flash_block_find(&v, key, r.nkey, &got), FLASH_BLK_OK);
        check_rec(&got, &r);
        cr_assert_eq(flash_block_find(&v, "key:2", 5, &got), FLASH_BLK_ENOTFOUND);
        cr_assert_eq(flash_block_find(&v, "key:", 4, &got), FLASH_BLK_ENOTFOUND);
        uint32_t cur = 0;
        cr_assert_eq(flash_block_next(&v, &cur, &got), FLASH_BLK_OK);
        cr_assert_eq(flash_block_next(&v, &cur, &got), FLASH_BLK_END);
        /* no expectation: tools may open any block */
        cr_assert_eq(flash_block_open(dst, stored, NULL, dctx, NULL, scratch, CAP, &v),
                     FLASH_BLK_OK);
    }
}

Test(block, many_tiny_records)
{
    static char keys[2000][64];
    static uint8_t vals[2000][20];
    static flash_record_t recs[2000];
    unsigned n = 0;
    for (;; n++) {
        cr_assert_lt(n, 2000);
        recs[n] = mkrec(n, keys[n], vals[n], 20, 1);
        flash_blk_status_e st = flash_blockb_append(bb, &recs[n]);
        if (st == FLASH_BLK_EFULL)
            break;
        cr_assert_eq(st, FLASH_BLK_OK);
    }
    cr_assert_gt(n, 300);
    cr_assert_leq(flash_blockb_raw_size(bb), TARGET);
    cr_assert_gt(flash_blockb_raw_size(bb) + flash_record_size(recs[n].nkey, 20), TARGET);
    uint32_t raw = flash_blockb_raw_size(bb);
    uint32_t stored = seal(LEVEL);
    cr_assert_lt(stored, raw / 2, "tiny similar records compress well");
    flash_block_view_t v;
    cr_assert_eq(open_blk(stored, &v), FLASH_BLK_OK);
    cr_assert_eq(v.nrec, n);
    for (unsigned i = 0; i < n; i++) {
        flash_record_t got;
        cr_assert_eq(flash_block_find(&v, keys[i], recs[i].nkey, &got), FLASH_BLK_OK);
        check_rec(&got, &recs[i]);
    }
    uint32_t cur = 0, i = 0;
    flash_record_t got;
    while (flash_block_next(&v, &cur, &got) == FLASH_BLK_OK)
        check_rec(&got, &recs[i++]);
    cr_assert_eq(i, n);
}

Test(block, big_record_alone)
{
    static uint8_t val[100000];
    char key[64];
    flash_record_t r = mkrec(9, key, val, sizeof val, 1);
    cr_assert_eq(flash_blockb_append(bb, &r), FLASH_BLK_OK, "bigger than target, block empty");
    flash_record_t small = mkrec(10, key, val, 10, 1);
    cr_assert_eq(flash_blockb_append(bb, &small), FLASH_BLK_EFULL);
    cr_assert_eq(flash_blockb_count(bb), 1);
    uint32_t stored = seal(LEVEL);
    flash_block_view_t v;
    cr_assert_eq(open_blk(stored, &v), FLASH_BLK_OK);
    flash_record_t got;
    r = mkrec(9, key, val, sizeof val, 1);
    cr_assert_eq(flash_block_find(&v, key, r.nkey, &got), FLASH_BLK_OK);
    check_rec(&got, &r);
    /* scratch too small for the raw bytes */
    cr_assert_eq(flash_block_open(dst, stored, &LOC, dctx, NULL, scratch, 1000, &v),
                 FLASH_BLK_ENOSPC);
    /* too big for the capacity */
    static uint8_t huge[CAP];
    flash_record_t h = mkrec(11, key, huge, CAP - 10, 1);
    cr_assert_eq(flash_blockb_append(bb, &h), FLASH_BLK_ETOOBIG);
    cr_assert_eq(flash_blockb_count(bb), 0);
}

Test(block, bad_arguments)
{
    char key[300];
    memset(key, 'k', sizeof key);
    flash_record_t r = {.key = key, .nkey = 0, .value = "", .nvalue = 0};
    cr_assert_eq(flash_blockb_append(bb, &r), FLASH_BLK_EINVAL);
    r.nkey = 251;
    cr_assert_eq(flash_blockb_append(bb, &r), FLASH_BLK_EINVAL);
    r.nkey = 250;
    cr_assert_eq(flash_blockb_append(bb, &r), FLASH_BLK_OK, "250-byte key, empty value");
    uint32_t stored = 0;
    flash_block_loc_t zero = {1, 1, 0};
    cr_assert_eq(flash_blockb_seal(bb, cctx, LEVEL, NULL, &zero, dst, CAP, &stored),
                 FLASH_BLK_EINVAL);
    cr_assert_eq(flash_blockb_seal(bb, cctx, LEVEL, NULL, &LOC, dst, 511, &stored),
                 FLASH_BLK_ENOSPC);
    cr_assert_eq(flash_blockb_count(bb), 1, "failed seal keeps the records");
    seal(LEVEL);
    cr_assert_eq(flash_blockb_seal(bb, cctx, LEVEL, NULL, &LOC, dst, CAP, &stored),
                 FLASH_BLK_EEMPTY);
    flash_blockb_t *x = NULL;
    cr_assert_eq(flash_blockb_create(&x, 0, 10), FLASH_BLK_EINVAL);
    cr_assert_eq(flash_blockb_create(&x, 100, 10), FLASH_BLK_EINVAL);
    cr_assert_eq(flash_blockb_create(&x, 100, FLASH_BLK_MAX_RAW + 1), FLASH_BLK_EINVAL);
    cr_assert_null(x);
}

Test(block, incompressible_stored_raw)
{
    static uint8_t val[8000];
    char key[64];
    flash_record_t r = mkrec(1, key, val, sizeof val, 0);
    cr_assert_eq(flash_blockb_append(bb, &r), FLASH_BLK_OK);
    uint32_t stored = seal(LEVEL);
    flash_block_hdr_t h;
    cr_assert_eq(flash_block_header(dst, stored, &h), FLASH_BLK_OK);
    cr_assert_eq(h.codec, FLASH_CODEC_RAW);
    cr_assert_eq(h.stored_len, h.raw_len);
    cr_assert_eq(stored, flash_block_stored_bound(h.raw_len));
    flash_block_view_t v;
    flash_record_t got;
    cr_assert_eq(open_blk(stored, &v), FLASH_BLK_OK);
    cr_assert_eq(v.raw, dst + FLASH_BLK_HDR_LEN, "raw block is read in place");
    cr_assert_eq(flash_block_find(&v, key, r.nkey, &got), FLASH_BLK_OK);
    cr_assert_eq(memcmp(got.value, val, sizeof val), 0);
}

Test(block, duplicate_key_last_wins)
{
    char key[64];
    uint8_t v1[30], v2[40];
    flash_record_t a = mkrec(5, key, v1, sizeof v1, 1);
    cr_assert_eq(flash_blockb_append(bb, &a), FLASH_BLK_OK);
    char k2[64];
    uint8_t vo[10];
    flash_record_t o = mkrec(6, k2, vo, sizeof vo, 1);
    cr_assert_eq(flash_blockb_append(bb, &o), FLASH_BLK_OK);
    flash_record_t b = mkrec(5, key, v2, sizeof v2, 1);
    b.cas = 999;
    cr_assert_eq(flash_blockb_append(bb, &b), FLASH_BLK_OK);
    flash_block_view_t v;
    flash_record_t got;
    flash_blockb_view(bb, &v);
    cr_assert_eq(flash_block_find(&v, key, b.nkey, &got), FLASH_BLK_OK);
    cr_assert_eq(got.cas, 999);
    uint32_t stored = seal(LEVEL);
    cr_assert_eq(open_blk(stored, &v), FLASH_BLK_OK);
    cr_assert_eq(flash_block_find(&v, key, b.nkey, &got), FLASH_BLK_OK);
    cr_assert_eq(got.cas, 999);
    cr_assert_eq(got.nvalue, sizeof v2);
}

static uint32_t small_block(int level)
{
    char key[64];
    uint8_t val[60];
    for (unsigned i = 0; i < 4; i++) {
        flash_record_t r = mkrec(i, key, val, sizeof val, 1);
        cr_assert_eq(flash_blockb_append(bb, &r), FLASH_BLK_OK);
    }
    return seal(level);
}

static void flip_all_bits(uint32_t stored, unsigned step)
{
    flash_block_hdr_t h;
    cr_assert_eq(flash_block_header(dst, stored, &h), FLASH_BLK_OK);
    size_t n = (FLASH_BLK_HDR_LEN + h.stored_len) * 8;
    flash_block_view_t v;
    unsigned tried = 0;
    for (size_t bit = 0; bit < n; bit += step) {
        dst[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        flash_blk_status_e st = open_blk(stored, &v);
        cr_assert_neq(st, FLASH_BLK_OK, "bit %zu undetected", bit);
        cr_assert(st == FLASH_BLK_EMAGIC || st == FLASH_BLK_EHEADER ||
                      st == FLASH_BLK_ECHECKSUM || st == FLASH_BLK_ETRUNCATED,
                  "bit %zu: %s", bit, flash_blk_strerror(st));
        dst[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        tried++;
    }
    cr_assert_eq(open_blk(stored, &v), FLASH_BLK_OK);
    cr_assert_gt(tried, 100);
}

Test(block, every_bit_flip_detected)
{
    uint32_t stored = small_block(LEVEL);
    flip_all_bits(stored, 1);
    stored = small_block(FLASH_LEVEL_NONE);
    flip_all_bits(stored, 1);
}

Test(block, sampled_bit_flips_big_block)
{
    static uint8_t val[60000];
    char key[64];
    flash_record_t r = mkrec(3, key, val, sizeof val, 0);
    cr_assert_eq(flash_blockb_append(bb, &r), FLASH_BLK_OK);
    uint32_t stored = seal(LEVEL);
    flip_all_bits(stored, 97); /* ~5000 positions, header included */
}

Test(block, stale_and_misplaced)
{
    uint32_t stored = small_block(LEVEL);
    flash_block_view_t v;
    flash_block_loc_t l = LOC;
    l.gen = LOC.gen + 1;
    cr_assert_eq(flash_block_open(dst, stored, &l, dctx, NULL, scratch, CAP, &v), FLASH_BLK_ESTALE);
    l = LOC;
    l.seg_id++;
    cr_assert_eq(flash_block_open(dst, stored, &l, dctx, NULL, scratch, CAP, &v),
                 FLASH_BLK_EMISPLACED);
    l = LOC;
    l.blkoff++;
    cr_assert_eq(flash_block_open(dst, stored, &l, dctx, NULL, scratch, CAP, &v),
                 FLASH_BLK_EMISPLACED);
}

Test(block, truncated)
{
    uint32_t stored = small_block(LEVEL);
    flash_block_hdr_t h;
    flash_block_view_t v;
    cr_assert_eq(flash_block_header(dst, stored, &h), FLASH_BLK_OK);
    for (size_t len = 0; len < FLASH_BLK_HDR_LEN + h.stored_len; len++)
        cr_assert_eq(open_blk(len, &v), FLASH_BLK_ETRUNCATED, "len %zu", len);
    cr_assert_eq(open_blk(FLASH_BLK_HDR_LEN + h.stored_len, &v), FLASH_BLK_OK);
}

/* Rewrites the checksum so a crafted block gets past it. */
static void recksum(void)
{
    uint32_t stored = (uint32_t)dst[16] | (uint32_t)dst[17] << 8 | (uint32_t)dst[18] << 16 |
                      (uint32_t)dst[19] << 24;
    uint64_t c = XXH3_64bits_withSeed(dst + FLASH_BLK_HDR_LEN, stored, XXH3_64bits(dst, 32));
    for (int i = 0; i < 8; i++)
        dst[32 + i] = (uint8_t)(c >> (8 * i));
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

Test(block, crafted_payloads)
{
    flash_block_view_t v;
    /* zstd payload garbage, checksum valid */
    uint32_t stored = small_block(LEVEL);
    cr_assert_eq(dst[4], FLASH_CODEC_ZSTD);
    for (int i = 0; i < 20; i++)
        dst[FLASH_BLK_HDR_LEN + 4 + i] ^= 0x5a;
    recksum();
    cr_assert_eq(open_blk(stored, &v), FLASH_BLK_EDECOMPRESS);
    /* zstd frame that decompresses to another length than raw_len */
    stored = small_block(LEVEL);
    put32(dst + 12, (uint32_t)(dst[12] | dst[13] << 8) + 1);
    recksum();
    cr_assert_eq(open_blk(stored, &v), FLASH_BLK_EDECOMPRESS);
    /* raw block whose records do not add up: record count off by one */
    stored = small_block(FLASH_LEVEL_NONE);
    put32(dst + 8, 3);
    recksum();
    cr_assert_eq(open_blk(stored, &v), FLASH_BLK_ECORRUPT);
    stored = small_block(FLASH_LEVEL_NONE);
    put32(dst + 8, 5);
    recksum();
    cr_assert_eq(open_blk(stored, &v), FLASH_BLK_ECORRUPT);
    /* raw block with a value length running past the end */
    stored = small_block(FLASH_LEVEL_NONE);
    put32(dst + FLASH_BLK_HDR_LEN + 5, 0xffffffffu);
    recksum();
    cr_assert_eq(open_blk(stored, &v), FLASH_BLK_ECORRUPT);
    /* meta marks byte (format 2) with a bit no mark uses */
    stored = small_block(FLASH_LEVEL_NONE);
    dst[FLASH_BLK_HDR_LEN + FLASH_REC_MARKS_OFF] |= 0x10;
    recksum();
    cr_assert_eq(open_blk(stored, &v), FLASH_BLK_ECORRUPT);
    /* zero key length */
    stored = small_block(FLASH_LEVEL_NONE);
    dst[FLASH_BLK_HDR_LEN] = 0;
    recksum();
    cr_assert_eq(open_blk(stored, &v), FLASH_BLK_ECORRUPT);
    /* header field checks */
    stored = small_block(LEVEL);
    dst[4] = 7;
    cr_assert_eq(open_blk(stored, &v), FLASH_BLK_EHEADER);
    stored = small_block(LEVEL);
    put32(dst + 12, FLASH_BLK_MAX_RAW + 1);
    cr_assert_eq(open_blk(stored, &v), FLASH_BLK_EHEADER);
    stored = small_block(LEVEL);
    dst[0] = 'X';
    cr_assert_eq(open_blk(stored, &v), FLASH_BLK_EMAGIC);
    /* no dctx for a zstd block */
    stored = small_block(LEVEL);
    cr_assert_eq(flash_block_open(dst, stored, &LOC, NULL, NULL, scratch, CAP, &v),
                 FLASH_BLK_EINVAL);
}

/* Random bytes, random bytes behind a plausible header, and valid blocks
 * with random damage behind a recomputed checksum: never a crash, never a
 * read out of bounds (ASan build), and OK only when the records parse. */
Test(block, random_robustness)
{
    enum { LEN = 4096 };
    uint8_t *buf = malloc(LEN);
    flash_block_view_t v;
    for (int iter = 0; iter < 30000; iter++) {
        size_t len = (size_t)(rnd() % (LEN + 1));
        for (size_t i = 0; i < LEN; i++)
            buf[i] = (uint8_t)rnd();
        int mode = iter % 3;
        if (mode >= 1) {
            memcpy(buf, "TCBK", 4);
            buf[4] = (uint8_t)(rnd() % 3);
            put32(buf + 8, (uint32_t)(rnd() % 40));
            put32(buf + 12, (uint32_t)(rnd() % 6000));
            put32(buf + 16, (uint32_t)(rnd() % 6000));
        }
        if (mode == 2) { /* get past the checksum */
            uint32_t st = (uint32_t)buf[16] | (uint32_t)buf[17] << 8;
            if (FLASH_BLK_HDR_LEN + st <= LEN) {
                uint64_t c = XXH3_64bits_withSeed(buf + 40, st, XXH3_64bits(buf, 32));
                for (int i = 0; i < 8; i++)
                    buf[32 + i] = (uint8_t)(c >> (8 * i));
            }
        }
        flash_blk_status_e st = flash_block_open(buf, len, NULL, dctx, NULL, scratch, CAP, &v);
        if (mode < 2)
            cr_assert_neq(st, FLASH_BLK_OK);
        if (st == FLASH_BLK_OK) {
            uint32_t cur = 0, n = 0;
            flash_record_t r;
            while (flash_block_next(&v, &cur, &r) == FLASH_BLK_OK)
                n++;
            cr_assert_eq(n, v.nrec);
        }
    }
    /* damage inside valid blocks, checksum recomputed */
    for (int iter = 0; iter < 3000; iter++) {
        uint32_t stored = small_block(iter & 1 ? LEVEL : FLASH_LEVEL_NONE);
        uint32_t sl = (uint32_t)dst[16] | (uint32_t)dst[17] << 8;
        int nflip = 1 + (int)(rnd() % 4);
        for (int k = 0; k < nflip; k++)
            dst[FLASH_BLK_HDR_LEN + rnd() % sl] ^= (uint8_t)(1u << (rnd() % 8));
        recksum();
        flash_blk_status_e st = open_blk(stored, &v);
        cr_assert(st == FLASH_BLK_OK || st == FLASH_BLK_EDECOMPRESS || st == FLASH_BLK_ECORRUPT,
                  "%s", flash_blk_strerror(st));
        if (st == FLASH_BLK_OK) {
            flash_record_t r;
            (void)flash_block_find(&v, "key:1", 5, &r);
        }
    }
    free(buf);
}

Test(block, strerror)
{
    for (int st = FLASH_BLK_OK; st <= FLASH_BLK_END; st++) {
        const char *m = flash_blk_strerror((flash_blk_status_e)st);
        cr_assert_null(strstr(m, "unknown"));
        for (int o = FLASH_BLK_OK; o < st; o++)
            cr_assert_str_neq(m, flash_blk_strerror((flash_blk_status_e)o));
    }
}

/* ---- compression ratio: blocks vs per-item (figure quoted in block.h) ---- */

static const char *const words[] = {"alpha", "bravo", "charlie", "delta", "echo",
                                    "foxtrot", "golf", "hotel", "india", "juliet"};

/* A JSON-like object of about `target` bytes: repeated field names, mixed
 * numbers, ids and words, as a typical cached API response or session. */
static size_t json_value(char *out, size_t target, unsigned id)
{
    size_t n = (size_t)snprintf(out, target, "{\"id\":%u,\"type\":\"user\",\"items\":[", id);
    unsigned k = 0;
    while (n + 160 < target) {
        n += (size_t)snprintf(out + n, target - n,
                              "%s{\"sku\":\"SKU-%06u\",\"name\":\"%s %s\",\"price\":%u.%02u,"
                              "\"qty\":%u,\"created_at\":\"2024-%02u-%02uT%02u:%02u:%02uZ\"}",
                              k ? "," : "", (unsigned)(rnd() % 1000000),
                              words[rnd() % 10], words[rnd() % 10], (unsigned)(rnd() % 500),
                              (unsigned)(rnd() % 100), (unsigned)(1 + rnd() % 9),
                              (unsigned)(1 + rnd() % 12), (unsigned)(1 + rnd() % 28),
                              (unsigned)(rnd() % 24), (unsigned)(rnd() % 60),
                              (unsigned)(rnd() % 60));
        k++;
    }
    n += (size_t)snprintf(out + n, target - n, "],\"ok\":true}");
    return n;
}

static void ratio_for(uint32_t target, size_t lo, size_t hi, double *ratio_payload,
                      double *ratio_disk)
{
    flash_blockb_t *b;
    cr_assert_eq(flash_blockb_create(&b, target, CAP), FLASH_BLK_OK);
    rng_state = 42;
    static char val[4200];
    char key[64];
    uint64_t raw = 0, payload = 0, disk = 0;
    for (unsigned i = 0; i < 3000; i++) {
        size_t sz = lo + (size_t)(rnd() % (hi - lo));
        size_t n = json_value(val, sz, i);
        int kl = snprintf(key, sizeof key, "user:%u:cart", i);
        flash_record_t r = {.key = key, .nkey = (size_t)kl, .value = val,
                            .nvalue = (uint32_t)n, .store_time = 1, .cas = i};
        raw += flash_record_size(r.nkey, r.nvalue);
        if (flash_blockb_append(b, &r) == FLASH_BLK_EFULL) {
            uint32_t st;
            cr_assert_eq(flash_blockb_seal(b, cctx, LEVEL, NULL, &LOC, dst, CAP, &st),
                         FLASH_BLK_OK);
            payload += (uint32_t)dst[16] | (uint32_t)dst[17] << 8 | (uint32_t)dst[18] << 16;
            disk += st;
            cr_assert_eq(flash_blockb_append(b, &r), FLASH_BLK_OK);
        }
    }
    uint32_t st;
    cr_assert_eq(flash_blockb_seal(b, cctx, LEVEL, NULL, &LOC, dst, CAP, &st), FLASH_BLK_OK);
    payload += (uint32_t)dst[16] | (uint32_t)dst[17] << 8 | (uint32_t)dst[18] << 16;
    disk += st;
    flash_blockb_destroy(&b);
    *ratio_payload = (double)raw / (double)payload;
    *ratio_disk = (double)raw / (double)disk;
}

static double per_item_ratio(size_t lo, size_t hi, double *mib)
{
    rng_state = 42;
    static char val[4200];
    static uint8_t rec[4300], out[8192];
    char key[64];
    uint64_t raw = 0, per_item = 0;
    for (unsigned i = 0; i < 3000; i++) {
        size_t sz = lo + (size_t)(rnd() % (hi - lo));
        size_t n = json_value(val, sz, i);
        int kl = snprintf(key, sizeof key, "user:%u:cart", i);
        size_t rl = flash_record_size((size_t)kl, (uint32_t)n);
        memset(rec, 0, FLASH_REC_HDR_LEN);
        memcpy(rec + FLASH_REC_HDR_LEN, key, (size_t)kl);
        memcpy(rec + FLASH_REC_HDR_LEN + kl, val, n);
        size_t c = ZSTD_compressCCtx(cctx, out, sizeof out, rec, rl, LEVEL);
        cr_assert(!ZSTD_isError(c));
        raw += rl;
        per_item += c < rl ? c : rl;
    }
    *mib = (double)raw / 1048576.0;
    return (double)raw / (double)per_item;
}

Test(block, ratio)
{
    static const size_t ranges[][2] = {{200, 4096}, {100, 500}};
    for (int k = 0; k < 2; k++) {
        size_t lo = ranges[k][0], hi = ranges[k][1];
        double mib, b4p, b4d, b16p, b16d, b64p, b64d;
        double item_ratio = per_item_ratio(lo, hi, &mib);
        ratio_for(4096, lo, hi, &b4p, &b4d);
        ratio_for(16384, lo, hi, &b16p, &b16d);
        ratio_for(65536, lo, hi, &b64p, &b64d);
        fprintf(stderr,
                "ratio (raw/stored, zstd %d, 3000 JSON-like values %zu-%zu B, %.2f MiB raw):\n"
                "  per item (no padding)  %.2f\n"
                "  4 KiB blocks           %.2f payload, %.2f with header+512 B padding\n"
                "  16 KiB blocks          %.2f payload, %.2f with header+512 B padding\n"
                "  64 KiB blocks          %.2f payload, %.2f with header+512 B padding\n",
                LEVEL, lo, hi, mib, item_ratio, b4p, b4d, b16p, b16d, b64p, b64d);
        cr_assert_gt(b16p, item_ratio, "blocks must beat per-item compression");
    }
}
