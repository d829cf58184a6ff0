/* tests/unit/flash/test_dict.c - zstd dictionaries of the flash tier:
 * training (flash_dict_train), what a dictionary saves on 4 KiB blocks
 * (codec 2) with every record round-tripping, a codec-2 block opened
 * without / with the wrong dictionary, the header's slot byte, the on-disk
 * slot codec (round trip, bit flips, truncation, crafted headers), the set
 * (flash_dicts_publish / slot / active / bytes) and the trainer thread. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <xxhash.h>
#include <zdict.h>

#include "flash_test.h"
#include "flash/block.h"
#include "flash/dict.h"
#include "flash/dict_train.h"

#define LEVEL 1
#define NTRAIN 2000u            /* values a dictionary is trained on */
#define NHELD 1000u             /* more values, never trained on */
#define NVAL (NTRAIN + NHELD)
#define VAL_MIN 200u
#define VAL_MAX 4096u
#define BLK_TARGET 4096u
#define BLK_CAP (64u * 1024u)
#define INSTANCE 0x1122334455667788ull
#define CREATED 1764000000ull

static const flash_block_loc_t LOC = {9, 4, 1};

/* ---- deterministic data ---- */


static const char *const words[] = {"alpha", "bravo", "charlie", "delta", "echo",
                                    "foxtrot", "golf", "hotel", "india", "juliet",
                                    "kilo", "lima", "mike", "november"};
#define NWORDS (sizeof words / sizeof words[0])

/* A JSON-like object of about `target` bytes (< target, >= target - 200):
 * repeated field names, varying numbers, ids, words and flags. */
static size_t json_value(char *out, size_t target, unsigned id)
{
    size_t n = (size_t)snprintf(out, target,
                                "{\"id\":%u,\"type\":\"%s\",\"user\":{\"name\":\"%s %s\","
                                "\"age\":%u,\"premium\":%s},\"items\":[",
                                id, rnd() % 3 ? "order" : "cart", words[rnd() % NWORDS],
                                words[rnd() % NWORDS], (unsigned)(18 + rnd() % 70),
                                rnd() % 2 ? "true" : "false");
    unsigned k = 0;
    while (n + 200 < target) {
        n += (size_t)snprintf(out + n, target - n,
                              "%s{\"sku\":\"SKU-%06u\",\"name\":\"%s %s\",\"price\":%u.%02u,"
                              "\"qty\":%u,\"tags\":[\"%s\"],\"created_at\":"
                              "\"2024-%02u-%02uT%02u:%02u:%02uZ\"}",
                              k ? "," : "", (unsigned)(rnd() % 1000000),
                              words[rnd() % NWORDS], words[rnd() % NWORDS],
                              (unsigned)(rnd() % 500), (unsigned)(rnd() % 100),
                              (unsigned)(1 + rnd() % 9), words[rnd() % NWORDS],
                              (unsigned)(1 + rnd() % 12), (unsigned)(1 + rnd() % 28),
                              (unsigned)(rnd() % 24), (unsigned)(rnd() % 60),
                              (unsigned)(rnd() % 60));
        k++;
    }
    n += (size_t)snprintf(out + n, target - n, "],\"total\":%u,\"ok\":true}",
                          (unsigned)(rnd() % 100000));
    return n;
}

/* Another kind of data (log lines), for a dictionary that is not the
 * JSON one. */
static size_t log_value(char *out, size_t target, unsigned id)
{
    static const char *const lvl[] = {"INFO", "WARN", "DEBUG", "ERROR"};
    size_t n = 0;
    while (n + 160 < target)
        n += (size_t)snprintf(out + n, target - n,
                              "%02u:%02u:%02u.%03u %s [worker-%u] req=%u GET /api/v2/%s/%u "
                              "status=%u latency_ms=%u bytes=%u\n",
                              (unsigned)(rnd() % 24), (unsigned)(rnd() % 60),
                              (unsigned)(rnd() % 60), (unsigned)(rnd() % 1000),
                              lvl[rnd() % 4], (unsigned)(rnd() % 16), id,
                              words[rnd() % NWORDS], (unsigned)(rnd() % 10000),
                              rnd() % 5 ? 200u : 404u, (unsigned)(rnd() % 900),
                              (unsigned)(rnd() % 65536));
    return n;
}

/* NVAL generated records: key "user:<i>:cart", value, and fields derived
 * from i. Values back to back in vbuf. */
typedef struct corpus {
    char *vbuf;
    size_t voff[NVAL];
    uint32_t vlen[NVAL];
    char key[NVAL][32];
    size_t nkey[NVAL];
} corpus_t;

static corpus_t *corpus_make(int logs, uint64_t seed)
{
    corpus_t *c = calloc(1, sizeof *c);
    cr_assert_not_null(c);
    c->vbuf = malloc((size_t)NVAL * VAL_MAX);
    cr_assert_not_null(c->vbuf);
    rng_state = seed;
    size_t off = 0;
    for (unsigned i = 0; i < NVAL; i++) {
        size_t target = VAL_MIN + (size_t)(rnd() % (VAL_MAX - VAL_MIN));
        size_t n = logs ? log_value(c->vbuf + off, target, i) : json_value(c->vbuf + off, target, i);
        c->voff[i] = off;
        c->vlen[i] = (uint32_t)n;
        off += n;
        c->nkey[i] = (size_t)snprintf(c->key[i], sizeof c->key[i], "%s:%u:cart",
                                      logs ? "log" : "user", i);
    }
    return c;
}

static void corpus_free(corpus_t **c)
{
    free((*c)->vbuf);
    free(*c);
    *c = NULL;
}

static flash_record_t corpus_rec(const corpus_t *c, unsigned i)
{
    flash_record_t r = {
        .key = c->key[i], .nkey = c->nkey[i], .value = c->vbuf + c->voff[i],
        .nvalue = c->vlen[i], .flags = i * 7u, .exptime = i % 3 ? 1800000000u + i : 0,
        .store_time = 1700000000u + i, .cas = 0x500000000ull + i, .marks = (uint8_t)(i % 16),
    };
    return r;
}

/* Trains on records [first, first + n) of c as the trainer samples them
 * (key then value). Returns the status; *out as flash_dict_train. */
static flash_dict_status_e train_on(const corpus_t *c, unsigned first, unsigned n,
                                    size_t dict_max, unsigned slot, flash_dict_t **out)
{
    size_t total = 0;
    for (unsigned i = first; i < first + n; i++)
        total += c->nkey[i] + c->vlen[i];
    uint8_t *buf = malloc(total);
    size_t *sizes = malloc(n * sizeof *sizes);
    cr_assert(buf && sizes);
    size_t off = 0;
    for (unsigned i = first; i < first + n; i++) {
        memcpy(buf + off, c->key[i], c->nkey[i]);
        memcpy(buf + off + c->nkey[i], c->vbuf + c->voff[i], c->vlen[i]);
        sizes[i - first] = c->nkey[i] + c->vlen[i];
        off += sizes[i - first];
    }
    flash_dict_status_e st = flash_dict_train(out, slot, buf, sizes, n, dict_max, LEVEL, CREATED);
    free(buf);
    free(sizes);
    return st;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- per-test fixture: zstd contexts and block buffers ---- */

static ZSTD_CCtx *cctx;
static ZSTD_DCtx *dctx;
static uint8_t *dst, *scratch;
static size_t dst_cap;

static void setup(void)
{
    cctx = ZSTD_createCCtx();
    dctx = ZSTD_createDCtx();
    dst_cap = flash_block_stored_bound(BLK_CAP);
    dst = malloc(dst_cap);
    scratch = malloc(BLK_CAP);
    cr_assert(cctx && dctx && dst && scratch);
}

static void teardown(void)
{
    ZSTD_freeCCtx(cctx);
    ZSTD_freeDCtx(dctx);
    free(dst);
    free(scratch);
}

TestSuite(dict, .init = setup, .fini = teardown, .timeout = 60);

/* Seals records [first, first + n) of c as one block into dst with
 * `level` and dictionary d (the builder's capacity takes them whatever the
 * target); returns the stored bytes. */
static uint32_t seal_with(const corpus_t *c, unsigned first, unsigned n, int level,
                          const flash_dict_t *d)
{
    flash_blockb_t *bb;
    cr_assert_eq(flash_blockb_create(&bb, BLK_CAP, BLK_CAP), FLASH_BLK_OK);
    for (unsigned i = first; i < first + n; i++) {
        flash_record_t r = corpus_rec(c, i);
        cr_assert_eq(flash_blockb_append(bb, &r), FLASH_BLK_OK);
    }
    uint32_t stored = 0;
    cr_assert_eq(flash_blockb_seal(bb, cctx, level, d, &LOC, dst, dst_cap, &stored), FLASH_BLK_OK);
    flash_blockb_destroy(&bb);
    return stored;
}

/* The same at the tests' LEVEL. */
static uint32_t seal_block(const corpus_t *c, unsigned first, unsigned n, const flash_dict_t *d)
{
    return seal_with(c, first, n, LEVEL, d);
}

/* Opens the block in dst (stored bytes) with the set and checks that it
 * holds records [first, first + n) of c, each intact. */
static void open_and_check(const corpus_t *c, uint32_t stored, const flash_dicts_t *set,
                           unsigned first, unsigned n)
{
    flash_block_view_t v;
    cr_assert_eq(flash_block_open(dst, stored, &LOC, dctx, set, scratch, BLK_CAP, &v),
                 FLASH_BLK_OK);
    for (unsigned i = first; i < first + n; i++) {
        flash_record_t want = corpus_rec(c, i), got;
        cr_assert_eq(flash_block_find(&v, want.key, want.nkey, &got), FLASH_BLK_OK);
        check_rec(&got, &want);
    }
}

/* Rewrites the block checksum of dst (stored bytes of payload) after a
 * header patch, as block.c computes it. */
static void reseal_checksum(uint8_t *b)
{
    uint32_t stored = fl_get_u32(b + 16);
    fl_put_u64(b + FLASH_BLK_HDR_CKSUM_OFF,
               (uint64_t)XXH3_64bits_withSeed(b + FLASH_BLK_HDR_LEN, stored,
                                              XXH3_64bits(b, FLASH_BLK_HDR_CKSUM_OFF)));
}

/* ---- training ---- */

Test(dict, train_json)
{
    corpus_t *c = corpus_make(0, 42);
    flash_dict_t *d = (flash_dict_t *)1;
    double t0 = now_s();
    flash_dict_status_e st = train_on(c, 0, NTRAIN, FLASH_DICT_MAX, 0, &d);
    double dt = now_s() - t0;
    cr_assert_eq(st, FLASH_DICT_OK, "%s", flash_dict_strerror(st));
    cr_assert_not_null(d);
    cr_assert_neq(d->id, 0);
    cr_assert_gt(d->len, 0);
    cr_assert_leq(d->len, FLASH_DICT_MAX);
    cr_assert_eq(d->slot, 0);
    cr_assert_eq(d->samples, NTRAIN);
    size_t total = 0;
    for (unsigned i = 0; i < NTRAIN; i++)
        total += c->nkey[i] + c->vlen[i];
    cr_assert_eq(d->sample_bytes, total);
    cr_assert_eq(d->created, CREATED);
    cr_assert_not_null(d->cdict, "level 1 builds the CDict");
    cr_assert_not_null(d->ddict);
    cr_assert_eq(ZDICT_getDictID(d->content, d->len), d->id);
    fprintf(stderr, "train_json: %u samples, %.2f MiB -> dictionary %u B, id %u, %.2f s\n",
            NTRAIN, (double)total / 1048576.0, d->len, d->id, dt);
    flash_dict_destroy(&d);
    cr_assert_null(d);
    flash_dict_destroy(&d); /* no-op */

    /* a small dict_max is honoured, and slot 1 is kept */
    cr_assert_eq(train_on(c, 0, 500, 4096, 1, &d), FLASH_DICT_OK);
    cr_assert_leq(d->len, 4096);
    cr_assert_eq(d->slot, 1);
    flash_dict_destroy(&d);
    corpus_free(&c);
}

Test(dict, train_bad_input)
{
    flash_dict_t *d = (flash_dict_t *)1;
    size_t sizes[600];
    /* arguments */
    uint8_t small[64] = {0};
    sizes[0] = sizeof small;
    cr_assert_eq(flash_dict_train(&d, 0, small, sizes, 0, 4096, LEVEL, 0), FLASH_DICT_EINVAL);
    cr_assert_null(d);
    cr_assert_eq(flash_dict_train(&d, 0, small, sizes, 1, 0, LEVEL, 0), FLASH_DICT_EINVAL);
    cr_assert_eq(flash_dict_train(&d, 0, small, sizes, 1, FLASH_DICT_MAX + 1, LEVEL, 0),
                 FLASH_DICT_EINVAL);
    cr_assert_eq(flash_dict_train(&d, FLASH_DICT_SLOTS, small, sizes, 1, 4096, LEVEL, 0),
                 FLASH_DICT_EINVAL);
    cr_assert_null(d);

    /* three tiny samples: zstd's trainer wants more */
    const char *three = "{\"a\":1}{\"a\":2}{\"a\":3}";
    size_t s3[3] = {7, 7, 7};
    d = (flash_dict_t *)1;
    cr_assert_eq(flash_dict_train(&d, 0, three, s3, 3, 4096, LEVEL, 0), FLASH_DICT_ETRAIN);
    cr_assert_null(d);

    /* a dictionary below zstd's minimum (256 B, ZDICT_DICTSIZE_MIN) */
    {
        corpus_t *c = corpus_make(0, 42);
        d = (flash_dict_t *)1;
        flash_dict_status_e st = train_on(c, 0, 200, 128, 0, &d);
        fprintf(stderr, "train with dict_max 128: %s\n", flash_dict_strerror(st));
        cr_assert_eq(st, FLASH_DICT_ETRAIN, "%s", flash_dict_strerror(st));
        cr_assert_null(d);
        corpus_free(&c);
    }

    /* incompressible bytes: nothing repeats, yet zstd 1.5's fastcover
     * trainer still fills the dictionary (with random bytes); what matters
     * is that it is a valid dictionary and nothing breaks */
    unsigned n = 600;
    uint8_t *rb = malloc((size_t)n * 1024);
    cr_assert_not_null(rb);
    rng_state = 7;
    for (size_t i = 0; i < (size_t)n * 1024; i++)
        rb[i] = (uint8_t)(rnd() >> 24);
    for (unsigned i = 0; i < n; i++)
        sizes[i] = 1024;
    d = (flash_dict_t *)1;
    flash_dict_status_e st = flash_dict_train(&d, 0, rb, sizes, n, 16384, LEVEL, 0);
    fprintf(stderr, "train on random bytes: %s, dict %u B\n", flash_dict_strerror(st),
            d ? d->len : 0);
    cr_assert_eq(st, FLASH_DICT_OK, "%s", flash_dict_strerror(st));
    cr_assert_neq(d->id, 0);
    cr_assert_leq(d->len, 16384);
    cr_assert_eq(ZDICT_getDictID(d->content, d->len), d->id);
    flash_dict_destroy(&d);
    free(rb);
}

Test(dict, create_validates)
{
    corpus_t *c = corpus_make(0, 42);
    flash_dict_t *t, *d = (flash_dict_t *)1;
    cr_assert_eq(train_on(c, 0, 400, 8192, 0, &t), FLASH_DICT_OK);
    cr_assert_eq(flash_dict_create(&d, 0, t->content, 0, LEVEL, 0), FLASH_DICT_EINVAL);
    cr_assert_null(d);
    cr_assert_eq(flash_dict_create(&d, FLASH_DICT_SLOTS, t->content, t->len, LEVEL, 0),
                 FLASH_DICT_EINVAL);
    cr_assert_eq(flash_dict_create(&d, 0, NULL, t->len, LEVEL, 0), FLASH_DICT_EINVAL);
    cr_assert_eq(flash_dict_create(&d, 0, t->content, FLASH_DICT_MAX + 1, LEVEL, 0),
                 FLASH_DICT_EINVAL);
    /* no zstd dictionary magic: raw content is refused */
    cr_assert_eq(flash_dict_create(&d, 0, c->vbuf, 4096, LEVEL, 0), FLASH_DICT_ECONTENT);
    cr_assert_null(d);
    /* decode-only: no CDict; seal then falls back to codec 1 */
    cr_assert_eq(flash_dict_create(&d, 1, t->content, t->len, FLASH_LEVEL_NONE, 5), FLASH_DICT_OK);
    cr_assert_null(d->cdict);
    cr_assert_not_null(d->ddict);
    cr_assert_eq(d->id, t->id);
    cr_assert_eq(d->slot, 1);
    cr_assert_eq(d->created, 5);
    seal_block(c, 2000, 3, d);
    flash_block_hdr_t h;
    cr_assert_eq(flash_block_header(dst, dst_cap, &h), FLASH_BLK_OK);
    cr_assert_eq(h.codec, FLASH_CODEC_ZSTD);
    cr_assert_eq(h.dict_slot, 0);
    flash_dict_destroy(&d);
    flash_dict_destroy(&t);
    corpus_free(&c);
}

/* ---- what a dictionary saves, and every record round-trips ---- */

/* Packs records [NTRAIN, NVAL) into 4 KiB blocks with dictionary d (or
 * none), opens each sealed block with `dicts` and finds every record of
 * it. Returns the bytes stored (header + payload, and with 512-B padding in
 * *disk). */
static uint64_t pack_and_check(const corpus_t *c, const flash_dict_t *d,
                               const flash_dicts_t *dicts, uint64_t *disk, uint64_t *raw,
                               unsigned *blocks)
{
    flash_blockb_t *bb;
    cr_assert_eq(flash_blockb_create(&bb, BLK_TARGET, BLK_CAP), FLASH_BLK_OK);
    uint64_t payload = 0;
    *disk = *raw = 0;
    *blocks = 0;
    unsigned first = NTRAIN;
    for (unsigned i = NTRAIN; i <= NVAL; i++) {
        flash_blk_status_e ast = FLASH_BLK_EFULL;
        if (i < NVAL) {
            flash_record_t r = corpus_rec(c, i);
            *raw += flash_record_size(r.nkey, r.nvalue);
            ast = flash_blockb_append(bb, &r);
            cr_assert(ast == FLASH_BLK_OK || ast == FLASH_BLK_EFULL);
        }
        if (ast == FLASH_BLK_OK)
            continue;
        uint32_t stored = 0;
        cr_assert_eq(flash_blockb_seal(bb, cctx, LEVEL, d, &LOC, dst, dst_cap, &stored),
                     FLASH_BLK_OK);
        flash_block_hdr_t h;
        cr_assert_eq(flash_block_header(dst, stored, &h), FLASH_BLK_OK);
        if (d)
            cr_assert(h.codec == FLASH_CODEC_ZSTD_DICT && h.dict_slot == d->slot,
                      "codec %u slot %u", h.codec, h.dict_slot);
        else
            cr_assert_eq(h.codec, FLASH_CODEC_ZSTD);
        cr_assert_eq(h.nrec, i - first);
        payload += FLASH_BLK_HDR_LEN + h.stored_len;
        *disk += stored;
        (*blocks)++;
        flash_block_view_t v;
        memset(scratch, 0xEE, BLK_CAP);
        cr_assert_eq(flash_block_open(dst, stored, &LOC, dctx, dicts, scratch, BLK_CAP, &v),
                     FLASH_BLK_OK);
        cr_assert_eq(v.nrec, i - first);
        for (unsigned j = first; j < i; j++) {
            flash_record_t want = corpus_rec(c, j), got;
            cr_assert_eq(flash_block_find(&v, want.key, want.nkey, &got), FLASH_BLK_OK);
            check_rec(&got, &want);
        }
        first = i;
        if (i < NVAL) {
            flash_record_t r = corpus_rec(c, i);
            cr_assert_eq(flash_blockb_append(bb, &r), FLASH_BLK_OK);
        }
    }
    flash_blockb_destroy(&bb);
    return payload;
}

Test(dict, compression_benefit)
{
    corpus_t *c = corpus_make(0, 42);
    flash_dict_t *d;
    cr_assert_eq(train_on(c, 0, NTRAIN, FLASH_DICT_MAX, 0, &d), FLASH_DICT_OK);
    flash_dicts_t set;
    flash_dicts_init(&set);
    cr_assert_eq(flash_dicts_publish(&set, d, true), FLASH_DICT_OK);
    const flash_dict_t *active = flash_dicts_active(&set);
    cr_assert_eq(active, d);

    uint64_t disk0, raw0, disk1, raw1;
    unsigned nb0, nb1;
    /* without: the set is still passed (codec 1 ignores it) */
    uint64_t plain = pack_and_check(c, NULL, &set, &disk0, &raw0, &nb0);
    uint64_t with = pack_and_check(c, active, &set, &disk1, &raw1, &nb1);
    cr_assert_eq(raw0, raw1);
    cr_assert_eq(nb0, nb1);
    double saved = 1.0 - (double)with / (double)plain;
    double saved_disk = 1.0 - (double)disk1 / (double)disk0;
    fprintf(stderr,
            "compression_benefit (%u held-out JSON-like values %u-%u B, %u blocks of 4 KiB, "
            "zstd level %d, dictionary %u B from %u other values):\n"
            "  raw %llu B; without dictionary %llu B (%.2fx), disk %llu B\n"
            "  with dictionary %llu B (%.2fx), disk %llu B; saved %.1f%% (disk %.1f%%)\n",
            NHELD, VAL_MIN, VAL_MAX, nb0, LEVEL, d->len, NTRAIN, (unsigned long long)raw0,
            (unsigned long long)plain, (double)raw0 / (double)plain, (unsigned long long)disk0,
            (unsigned long long)with, (double)raw1 / (double)with, (unsigned long long)disk1,
            100.0 * saved, 100.0 * saved_disk);
    /* measured (zstd 1.5.4): 22.7% of the payload, 24.6% of the disk */
    cr_assert_geq(saved, 0.20, "the dictionary saves only %.1f%%", 100.0 * saved);
    cr_assert_geq(saved_disk, 0.20, "on disk only %.1f%%", 100.0 * saved_disk);
    flash_dicts_teardown(&set);
    cr_assert_null(flash_dicts_slot(&set, 0));
    corpus_free(&c);
}

/* ---- codec 2 without its dictionary, or with the wrong one ---- */

Test(dict, open_without_or_wrong_dict)
{
    corpus_t *c = corpus_make(0, 42), *o = corpus_make(1, 4242);
    flash_dict_t *d, *other, *other1;
    cr_assert_eq(train_on(c, 0, 500, 16384, 0, &d), FLASH_DICT_OK);
    cr_assert_eq(train_on(o, 0, 500, 16384, 0, &other), FLASH_DICT_OK);
    cr_assert_neq(d->id, other->id);
    cr_assert_eq(flash_dict_create(&other1, 1, other->content, other->len, LEVEL, 0),
                 FLASH_DICT_OK);
    uint32_t stored = seal_block(c, 2000, 3, d);
    flash_block_hdr_t h;
    cr_assert_eq(flash_block_header(dst, stored, &h), FLASH_BLK_OK);
    cr_assert_eq(h.codec, FLASH_CODEC_ZSTD_DICT);
    cr_assert_eq(h.dict_slot, 0);

    flash_block_view_t v;
    memset(&v, 0, sizeof v);
    cr_assert_eq(flash_block_open(dst, stored, &LOC, dctx, NULL, scratch, BLK_CAP, &v),
                 FLASH_BLK_ENODICT);
    cr_assert_null(v.raw, "no view on failure");
    flash_dicts_t set;
    flash_dicts_init(&set);
    cr_assert_eq(flash_block_open(dst, stored, &LOC, dctx, &set, scratch, BLK_CAP, &v),
                 FLASH_BLK_ENODICT);
    /* only the other slot filled: still no dictionary for slot 0 */
    cr_assert_eq(flash_dicts_publish(&set, other1, true), FLASH_DICT_OK);
    cr_assert_eq(flash_block_open(dst, stored, &LOC, dctx, &set, scratch, BLK_CAP, &v),
                 FLASH_BLK_ENODICT);
    /* slot 0 holds a dictionary of other data: zstd checks the frame's
     * dictionary id, so this fails, and never yields other bytes */
    cr_assert_eq(flash_dicts_publish(&set, other, false), FLASH_DICT_OK);
    memset(scratch, 0, BLK_CAP);
    flash_blk_status_e st = flash_block_open(dst, stored, &LOC, dctx, &set, scratch, BLK_CAP, &v);
    cr_assert_eq(st, FLASH_BLK_EDECOMPRESS, "%s", flash_blk_strerror(st));
    cr_assert_null(v.raw);
    /* the DCtx is still good for the right dictionary */
    flash_dicts_t good;
    flash_dicts_init(&good);
    cr_assert_eq(flash_dicts_publish(&good, d, false), FLASH_DICT_OK);
    cr_assert_eq(flash_block_open(dst, stored, &LOC, dctx, &good, scratch, BLK_CAP, &v),
                 FLASH_BLK_OK);
    cr_assert_eq(v.nrec, 3);
    for (unsigned i = 2000; i < 2003; i++) {
        flash_record_t want = corpus_rec(c, i), got;
        cr_assert_eq(flash_block_find(&v, want.key, want.nkey, &got), FLASH_BLK_OK);
        check_rec(&got, &want);
    }
    flash_dicts_teardown(&good);
    flash_dicts_teardown(&set);
    corpus_free(&c);
    corpus_free(&o);
}

Test(dict, header_slot_byte)
{
    corpus_t *c = corpus_make(0, 42);
    flash_dict_t *d;
    cr_assert_eq(train_on(c, 0, 400, 8192, 0, &d), FLASH_DICT_OK);
    flash_dicts_t set;
    flash_dicts_init(&set);
    cr_assert_eq(flash_dicts_publish(&set, d, true), FLASH_DICT_OK);
    uint32_t stored = seal_block(c, 2000, 4, d);
    flash_block_view_t v;
    flash_block_hdr_t h;
    cr_assert_eq(flash_block_open(dst, stored, &LOC, dctx, &set, scratch, BLK_CAP, &v),
                 FLASH_BLK_OK);
    /* checksum recomputation matches block.c: unpatched block unchanged */
    uint64_t ck = fl_get_u64(dst + FLASH_BLK_HDR_CKSUM_OFF);
    reseal_checksum(dst);
    cr_assert_eq(fl_get_u64(dst + FLASH_BLK_HDR_CKSUM_OFF), ck);

    static const uint8_t bad[] = {FLASH_DICT_SLOTS, FLASH_DICT_SLOTS + 1, 0x80, 0xff};
    for (size_t k = 0; k < sizeof bad; k++) {
        dst[5] = bad[k];
        reseal_checksum(dst);
        cr_assert_eq(flash_block_header(dst, stored, &h), FLASH_BLK_EHEADER, "slot %u", bad[k]);
        cr_assert_eq(flash_block_open(dst, stored, &LOC, dctx, &set, scratch, BLK_CAP, &v),
                     FLASH_BLK_EHEADER, "slot %u", bad[k]);
    }
    /* slot 1: in range, empty */
    dst[5] = 1;
    reseal_checksum(dst);
    cr_assert_eq(flash_block_header(dst, stored, &h), FLASH_BLK_OK);
    cr_assert_eq(h.dict_slot, 1);
    cr_assert_eq(flash_block_open(dst, stored, &LOC, dctx, &set, scratch, BLK_CAP, &v),
                 FLASH_BLK_ENODICT);
    /* slot byte changed without the checksum: caught before any dictionary */
    dst[5] = 0;
    cr_assert_eq(flash_block_open(dst, stored, &LOC, dctx, &set, scratch, BLK_CAP, &v),
                 FLASH_BLK_ECHECKSUM);
    reseal_checksum(dst);
    cr_assert_eq(flash_block_open(dst, stored, &LOC, dctx, &set, scratch, BLK_CAP, &v),
                 FLASH_BLK_OK);
    /* a codec-1 header naming a slot is still a codec-1 block */
    dst[4] = FLASH_CODEC_ZSTD;
    reseal_checksum(dst);
    cr_assert_eq(flash_block_open(dst, stored, &LOC, dctx, &set, scratch, BLK_CAP, &v),
                 FLASH_BLK_EDECOMPRESS, "a dictionary frame needs its dictionary");
    /* unknown codec 3 */
    dst[4] = 3;
    reseal_checksum(dst);
    cr_assert_eq(flash_block_header(dst, stored, &h), FLASH_BLK_EHEADER);
    flash_dicts_teardown(&set);
    corpus_free(&c);
}

/* ---- the on-disk slot ---- */

static flash_dict_t *small_dict(corpus_t **cp)
{
    *cp = corpus_make(0, 42);
    flash_dict_t *d;
    cr_assert_eq(train_on(*cp, 0, 400, 8192, 0, &d), FLASH_DICT_OK);
    return d;
}

static void check_same(const flash_dict_t *a, const flash_dict_t *b)
{
    cr_assert_eq(a->id, b->id);
    cr_assert_eq(a->len, b->len);
    cr_assert_eq(a->samples, b->samples);
    cr_assert_eq(a->sample_bytes, b->sample_bytes);
    cr_assert_eq(a->created, b->created);
    cr_assert_eq(memcmp(a->content, b->content, a->len), 0);
}

Test(dict, slot_roundtrip)
{
    corpus_t *c;
    flash_dict_t *d = small_dict(&c), *r = (flash_dict_t *)1;
    cr_assert_eq(d->samples, 400);
    uint8_t *buf = malloc(FLASH_DICT_SLOT_SIZE);
    cr_assert_not_null(buf);
    memset(buf, 0xAB, FLASH_DICT_SLOT_SIZE);
    flash_dict_slot_encode(d, INSTANCE, buf);
    cr_assert_eq(memcmp(buf, FLASH_DICT_MAGIC, 4), 0);
    for (size_t i = 48; i < FLASH_DICT_HDR_CKSUM_OFF; i++)
        cr_assert_eq(buf[i], 0, "reserved byte %zu", i);
    for (size_t i = 128; i < FLASH_DICT_HDR_LEN; i++)
        cr_assert_eq(buf[i], 0, "pad byte %zu", i);
    cr_assert_eq(fl_get_u32(buf + 16), d->id);
    cr_assert_eq(fl_get_u32(buf + 20), d->len);

    cr_assert_eq(flash_dict_slot_decode(buf, FLASH_DICT_SLOT_SIZE, 0, INSTANCE, LEVEL, &r),
                 FLASH_DICT_OK);
    check_same(r, d);
    cr_assert_eq(r->slot, 0);
    cr_assert_not_null(r->cdict);
    flash_dict_destroy(&r);
    /* exactly header + content is enough; decode-only level; slot 1 */
    size_t need = FLASH_DICT_HDR_LEN + d->len;
    uint8_t *exact = malloc(need);
    memcpy(exact, buf, need);
    cr_assert_eq(flash_dict_slot_decode(exact, need, 1, INSTANCE, FLASH_LEVEL_NONE, &r),
                 FLASH_DICT_OK);
    check_same(r, d);
    cr_assert_eq(r->slot, 1);
    cr_assert_null(r->cdict);
    flash_dict_destroy(&r);

    /* the decoded dictionary compresses / decompresses like the original */
    cr_assert_eq(flash_dict_slot_decode(buf, FLASH_DICT_SLOT_SIZE, 0, INSTANCE, LEVEL, &r),
                 FLASH_DICT_OK);
    flash_dicts_t set;
    flash_dicts_init(&set);
    cr_assert_eq(flash_dicts_publish(&set, r, true), FLASH_DICT_OK);
    uint32_t stored = seal_block(c, 2100, 5, d);
    open_and_check(c, stored, &set, 2100, 5);
    flash_dicts_teardown(&set);

    /* never written; another device; bad slot */
    memset(buf, 0, FLASH_DICT_SLOT_SIZE);
    r = (flash_dict_t *)1;
    cr_assert_eq(flash_dict_slot_decode(buf, FLASH_DICT_SLOT_SIZE, 0, INSTANCE, LEVEL, &r),
                 FLASH_DICT_EEMPTY);
    cr_assert_null(r);
    flash_dict_slot_encode(d, INSTANCE, buf);
    r = (flash_dict_t *)1;
    cr_assert_eq(flash_dict_slot_decode(buf, FLASH_DICT_SLOT_SIZE, 0, INSTANCE + 1, LEVEL, &r),
                 FLASH_DICT_EHEADER);
    cr_assert_null(r);
    cr_assert_eq(flash_dict_slot_decode(buf, FLASH_DICT_SLOT_SIZE, FLASH_DICT_SLOTS, INSTANCE,
                                        LEVEL, &r),
                 FLASH_DICT_EINVAL);
    free(exact);
    free(buf);
    flash_dict_destroy(&d);
    corpus_free(&c);
}

Test(dict, slot_bit_flips)
{
    corpus_t *c;
    flash_dict_t *d = small_dict(&c), *r;
    size_t need = FLASH_DICT_HDR_LEN + d->len;
    uint8_t *buf = malloc(need);
    cr_assert_not_null(buf);
    flash_dict_slot_encode(d, INSTANCE, buf);
    /* every bit of the header's 128 bytes */
    for (size_t bit = 0; bit < 128 * 8; bit++) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        r = (flash_dict_t *)1;
        flash_dict_status_e st = flash_dict_slot_decode(buf, need, 0, INSTANCE, LEVEL, &r);
        cr_assert_eq(st, bit < 32 ? FLASH_DICT_EEMPTY : FLASH_DICT_ECHECKSUM,
                     "bit %zu: %s", bit, flash_dict_strerror(st));
        cr_assert_null(r);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* bytes 128 .. 511 are padding, not covered by a checksum: a flip there
     * still decodes the same dictionary */
    buf[200] ^= 0x10;
    cr_assert_eq(flash_dict_slot_decode(buf, need, 0, INSTANCE, LEVEL, &r), FLASH_DICT_OK);
    check_same(r, d);
    flash_dict_destroy(&r);
    buf[200] ^= 0x10;
    /* content: first and last bits, and 2000 random ones */
    rng_state = 99;
    for (unsigned k = 0; k < 2002; k++) {
        size_t bit = k == 0 ? 0 : k == 1 ? (size_t)d->len * 8 - 1 : (size_t)(rnd() % ((uint64_t)d->len * 8));
        uint8_t *p = buf + FLASH_DICT_HDR_LEN + bit / 8;
        *p ^= (uint8_t)(1u << (bit % 8));
        r = (flash_dict_t *)1;
        flash_dict_status_e st = flash_dict_slot_decode(buf, need, 0, INSTANCE, LEVEL, &r);
        cr_assert_eq(st, FLASH_DICT_ECHECKSUM, "content bit %zu: %s", bit, flash_dict_strerror(st));
        cr_assert_null(r);
        *p ^= (uint8_t)(1u << (bit % 8));
    }
    cr_assert_eq(flash_dict_slot_decode(buf, need, 0, INSTANCE, LEVEL, &r), FLASH_DICT_OK);
    check_same(r, d);
    flash_dict_destroy(&r);
    free(buf);
    flash_dict_destroy(&d);
    corpus_free(&c);
}

/* Decodes a copy of buf[0..len) in a heap block of exactly len bytes, so
 * the sanitizer catches any read past it. */
static flash_dict_status_e decode_exact(const uint8_t *buf, size_t len)
{
    uint8_t *b = malloc(len ? len : 1);
    cr_assert_not_null(b);
    memcpy(b, buf, len);
    flash_dict_t *r = (flash_dict_t *)1;
    flash_dict_status_e st = flash_dict_slot_decode(b, len, 0, INSTANCE, LEVEL, &r);
    if (st != FLASH_DICT_OK)
        cr_assert_null(r);
    flash_dict_destroy(&r);
    free(b);
    return st;
}

/* Re-signs the header of an encoded slot after a patch. */
static void slot_resign(uint8_t *b)
{
    fl_put_u64(b + FLASH_DICT_HDR_CKSUM_OFF, (uint64_t)XXH3_64bits(b, FLASH_DICT_HDR_CKSUM_OFF));
}

Test(dict, slot_truncated_and_crafted)
{
    corpus_t *c;
    flash_dict_t *d = small_dict(&c);
    size_t need = FLASH_DICT_HDR_LEN + d->len;
    uint8_t *buf = calloc(1, FLASH_DICT_SLOT_SIZE);
    cr_assert_not_null(buf);
    flash_dict_slot_encode(d, INSTANCE, buf);
    cr_assert_eq(decode_exact(buf, need), FLASH_DICT_OK);
    /* too short for the header (the magic alone is not a slot) */
    static const size_t shorts[] = {0, 1, 3, 4, 100, 127, 128, FLASH_DICT_HDR_LEN - 1};
    for (size_t k = 0; k < sizeof shorts / sizeof shorts[0]; k++)
        cr_assert_eq(decode_exact(buf, shorts[k]), FLASH_DICT_EEMPTY, "len %zu", shorts[k]);
    /* header whole, content cut: the header's length is beyond len */
    static const size_t cuts[] = {0, 1, 7, 8, 100};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++)
        cr_assert_eq(decode_exact(buf, FLASH_DICT_HDR_LEN + cuts[k]), FLASH_DICT_EHEADER,
                     "len %zu", FLASH_DICT_HDR_LEN + cuts[k]);
    for (size_t cut = 1; cut <= 64; cut++)
        cr_assert_eq(decode_exact(buf, need - cut), FLASH_DICT_EHEADER, "cut %zu", cut);

    /* crafted headers with a valid header checksum */
    uint8_t *b = malloc(FLASH_DICT_SLOT_SIZE);
    cr_assert_not_null(b);
    struct {
        size_t off;
        int width;
        uint64_t val;
        flash_dict_status_e want;
    } cases[] = {
        {4, 4, FLASH_DICT_VERSION + 1, FLASH_DICT_EHEADER},   /* version */
        {20, 4, 0, FLASH_DICT_EHEADER},                       /* length 0 */
        {20, 4, FLASH_DICT_MAX + 1, FLASH_DICT_EHEADER},      /* length > max */
        {20, 4, 0xffffffffu, FLASH_DICT_EHEADER},             /* length huge */
        {16, 4, 0, FLASH_DICT_ECONTENT},                      /* id 0 */
        {16, 4, 12345, FLASH_DICT_ECONTENT},                  /* id not the content's */
        {40, 8, 1, FLASH_DICT_ECHECKSUM},                     /* content checksum */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        memcpy(b, buf, FLASH_DICT_SLOT_SIZE);
        if (cases[k].width == 4)
            fl_put_u32(b + cases[k].off, (uint32_t)cases[k].val);
        else
            fl_put_u64(b + cases[k].off, cases[k].val);
        slot_resign(b);
        cr_assert_eq(decode_exact(b, FLASH_DICT_SLOT_SIZE), cases[k].want, "case %zu", k);
        cr_assert_eq(decode_exact(b, need), cases[k].want, "case %zu (exact)", k);
    }
    /* a length one byte longer than the content, with both checksums made
     * to match: a consistent slot (zstd takes a trailing byte in a
     * dictionary's content), but decoding reads only what it was given */
    memcpy(b, buf, FLASH_DICT_SLOT_SIZE);
    fl_put_u32(b + 20, d->len + 1);
    fl_put_u64(b + 40, (uint64_t)XXH3_64bits(b + FLASH_DICT_HDR_LEN, d->len + 1));
    slot_resign(b);
    cr_assert_eq(decode_exact(b, need), FLASH_DICT_EHEADER);
    cr_assert_eq(decode_exact(b, need + 1), FLASH_DICT_OK);
    free(b);
    free(buf);
    flash_dict_destroy(&d);
    corpus_free(&c);
}

/* ---- the set ---- */

Test(dict, publish)
{
    corpus_t *c;
    flash_dict_t *d = small_dict(&c), *d2, *d1;
    cr_assert_eq(flash_dict_create(&d2, 0, d->content, d->len, LEVEL, 1), FLASH_DICT_OK);
    cr_assert_eq(flash_dict_create(&d1, 1, d->content, d->len, LEVEL, 2), FLASH_DICT_OK);
    flash_dicts_t set;
    flash_dicts_init(&set);
    cr_assert_null(flash_dicts_active(&set));
    cr_assert_null(flash_dicts_slot(&set, 0));
    cr_assert_null(flash_dicts_slot(&set, 1));
    cr_assert_null(flash_dicts_slot(&set, FLASH_DICT_SLOTS));
    cr_assert_null(flash_dicts_slot(NULL, 0));
    cr_assert_null(flash_dicts_active(NULL));
    cr_assert_eq(flash_dicts_bytes(&set), 0);

    /* published, not active */
    cr_assert_eq(flash_dicts_publish(&set, d, false), FLASH_DICT_OK);
    cr_assert_eq(flash_dicts_slot(&set, 0), d);
    cr_assert_null(flash_dicts_active(&set));
    size_t one = flash_dicts_bytes(&set);
    cr_assert_gt(one, d->len, "digested forms count: %zu", one);
    /* the slot is taken: refused, and d2 stays the caller's */
    cr_assert_eq(flash_dicts_publish(&set, d2, true), FLASH_DICT_EINVAL);
    cr_assert_eq(flash_dicts_slot(&set, 0), d);
    cr_assert_null(flash_dicts_active(&set), "a refused publish activates nothing");
    cr_assert_eq(flash_dicts_bytes(&set), one);
    cr_assert_eq(d2->created, 1);
    flash_dict_destroy(&d2);
    cr_assert_eq(flash_dicts_publish(&set, NULL, true), FLASH_DICT_EINVAL);
    /* slot 1, activated */
    cr_assert_eq(flash_dicts_publish(&set, d1, true), FLASH_DICT_OK);
    cr_assert_eq(flash_dicts_active(&set), d1);
    cr_assert_eq(flash_dicts_slot(&set, 1), d1);
    cr_assert_gt(flash_dicts_bytes(&set), one + d1->len);
    /* a block sealed with the active dictionary names slot 1 */
    uint32_t stored = seal_block(c, 2000, 2, flash_dicts_active(&set));
    cr_assert_eq(dst[4], FLASH_CODEC_ZSTD_DICT);
    cr_assert_eq(dst[5], 1);
    flash_block_view_t v;
    cr_assert_eq(flash_block_open(dst, stored, &LOC, dctx, &set, scratch, BLK_CAP, &v),
                 FLASH_BLK_OK);
    flash_dicts_teardown(&set);
    cr_assert_null(flash_dicts_active(&set));
    cr_assert_eq(flash_dicts_bytes(&set), 0);
    flash_dicts_teardown(&set); /* twice: nothing left to free */
    corpus_free(&c);
}

/* ---- the trainer thread ---- */

typedef struct ready_log {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    unsigned calls;
    flash_dict_t *dict;
    flash_dict_status_e st;
    pthread_t thread;
} ready_log_t;

static void on_ready(void *arg, flash_dict_t *d, flash_dict_status_e st)
{
    ready_log_t *l = arg;
    pthread_mutex_lock(&l->mu);
    l->calls++;
    if (l->dict) /* a second call: keep the first, free this one */
        flash_dict_destroy(&d);
    else
        l->dict = d;
    l->st = st;
    l->thread = pthread_self();
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->mu);
}

static void log_init(ready_log_t *l)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cond, NULL);
    l->st = (flash_dict_status_e)-1;
}

/* Waits up to 20 s for the first callback; returns the calls seen. */
static unsigned log_wait(ready_log_t *l)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    pthread_mutex_lock(&l->mu);
    while (l->calls == 0)
        if (pthread_cond_timedwait(&l->cond, &l->mu, &until) != 0)
            break;
    unsigned n = l->calls;
    pthread_mutex_unlock(&l->mu);
    return n;
}

static void log_fini(ready_log_t *l)
{
    flash_dict_destroy(&l->dict);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cond);
}

static void small_cfg(flash_dict_train_cfg_t *cfg, ready_log_t *l)
{
    flash_dict_train_cfg_default(cfg);
    cfg->dict_max = 4096;
    cfg->sample_bytes = 64u << 10;
    cfg->sample_stride = 1; /* every offer is a sample (the stride: its own test) */
    cfg->slot = 0;
    cfg->level = LEVEL;
    cfg->ready = on_ready;
    cfg->arg = l;
}

Test(dict, trainer_trains_once)
{
    corpus_t *c = corpus_make(0, 42);
    ready_log_t l;
    log_init(&l);
    flash_dict_train_cfg_t cfg;
    small_cfg(&cfg, &l);
    flash_dict_trainer_t *t = (flash_dict_trainer_t *)1;
    cr_assert_eq(flash_dict_trainer_create(&t, &cfg), FLASH_DICT_OK);
    cr_assert_not_null(t);
    cr_assert_not(flash_dict_trainer_started(t));
    /* memory outside -m (issue 14 item 5): the samples and what training
     * will take (fastCover's 2^16-entry tables at least, 10 B each) */
    cr_assert_geq(flash_dict_trainer_bytes(t), cfg.sample_bytes + (10u << 16));
    unsigned offered = 0;
    size_t bytes = 0;
    bool more = true;
    while (more) {
        cr_assert_lt(offered, NVAL, "64 KiB must fill long before the corpus ends");
        more = flash_dict_trainer_offer(t, c->key[offered], c->nkey[offered],
                                        c->vbuf + c->voff[offered], c->vlen[offered]);
        bytes += c->nkey[offered] + c->vlen[offered];
        offered++;
    }
    cr_assert(flash_dict_trainer_started(t));
    cr_assert_geq(bytes, cfg.sample_bytes);
    cr_assert_lt(bytes - (c->nkey[offered - 1] + c->vlen[offered - 1]), cfg.sample_bytes);
    /* later offers are refused and change nothing */
    cr_assert_not(flash_dict_trainer_offer(t, "k", 1, "v", 1));
    /* the callback comes on the trainer thread, without waiting for destroy */
    cr_assert_eq(log_wait(&l), 1);
    cr_assert_not(pthread_equal(l.thread, pthread_self()));
    /* once trained, the samples and tables are freed: 0 (set just after
     * the callback returns) */
    for (int i = 0; i < 2000 && flash_dict_trainer_bytes(t) != 0; i++)
        usleep(1000);
    cr_assert_eq(flash_dict_trainer_bytes(t), 0);
    flash_dict_trainer_destroy(&t);
    cr_assert_null(t);
    flash_dict_trainer_destroy(&t); /* no-op */
    flash_dict_trainer_destroy(NULL);
    cr_assert_eq(l.calls, 1);
    cr_assert_eq(l.st, FLASH_DICT_OK, "%s", flash_dict_strerror(l.st));
    flash_dict_t *d = l.dict;
    cr_assert_not_null(d);
    cr_assert_neq(d->id, 0);
    cr_assert_leq(d->len, 4096);
    cr_assert_eq(d->slot, 0);
    cr_assert_eq(d->samples, offered, "every offer is one sample");
    cr_assert_eq(d->sample_bytes, cfg.sample_bytes, "the last sample is cut to fill");
    cr_assert_not_null(d->cdict);
    fprintf(stderr, "trainer: %u samples, 64 KiB -> dictionary %u B\n", offered, d->len);
    /* usable: a codec-2 block round-trips */
    flash_dicts_t set;
    flash_dicts_init(&set);
    cr_assert_eq(flash_dicts_publish(&set, d, true), FLASH_DICT_OK);
    l.dict = NULL;
    uint32_t stored = seal_block(c, 2500, 6, d);
    cr_assert_eq(dst[4], FLASH_CODEC_ZSTD_DICT);
    open_and_check(c, stored, &set, 2500, 6);
    flash_dicts_teardown(&set);
    log_fini(&l);
    corpus_free(&c);
}

Test(dict, trainer_takes_one_offer_in_stride)
{
    corpus_t *c = corpus_make(0, 42);
    ready_log_t l;
    log_init(&l);
    flash_dict_train_cfg_t cfg;
    small_cfg(&cfg, &l);
    cfg.sample_stride = 4;
    flash_dict_train_cfg_t zero = cfg;
    zero.sample_stride = 0;
    flash_dict_trainer_t *t;
    cr_assert_eq(flash_dict_trainer_create(&t, &zero), FLASH_DICT_EINVAL);
    cr_assert_null(t);
    cr_assert_eq(flash_dict_trainer_create(&t, &cfg), FLASH_DICT_OK);
    /* the 1st, 5th, 9th ... offers are the samples: their bytes fill it */
    unsigned offered = 0, taken = 0;
    size_t bytes = 0;
    bool more = true;
    while (more) {
        cr_assert_lt(offered, NVAL, "64 KiB of every 4th value fills before the corpus ends");
        more = flash_dict_trainer_offer(t, c->key[offered], c->nkey[offered],
                                        c->vbuf + c->voff[offered], c->vlen[offered]);
        if (offered % 4 == 0) {
            bytes += c->nkey[offered] + c->vlen[offered];
            taken++;
        }
        offered++;
    }
    cr_assert_eq((offered - 1) % 4, 0, "training starts on a taken offer");
    cr_assert_geq(bytes, cfg.sample_bytes);
    cr_assert_eq(log_wait(&l), 1);
    cr_assert_eq(l.st, FLASH_DICT_OK, "%s", flash_dict_strerror(l.st));
    cr_assert_eq(l.dict->samples, taken, "one sample per taken offer");
    cr_assert_eq(l.dict->sample_bytes, cfg.sample_bytes);
    flash_dict_trainer_destroy(&t);
    log_fini(&l);
    corpus_free(&c);
}

Test(dict, trainer_sample_limits)
{
    corpus_t *c = corpus_make(0, 42);
    ready_log_t l;
    log_init(&l);
    flash_dict_train_cfg_t cfg;
    small_cfg(&cfg, &l);
    /* max_samples reached first; each sample cut to sample_max */
    cfg.dict_max = 1024;
    cfg.sample_bytes = 1u << 20;
    cfg.max_samples = 60;
    cfg.sample_max = 1000;
    flash_dict_trainer_t *t;
    cr_assert_eq(flash_dict_trainer_create(&t, &cfg), FLASH_DICT_OK);
    size_t want_bytes = 0;
    unsigned offered = 0;
    while (flash_dict_trainer_offer(t, c->key[offered], c->nkey[offered],
                                    c->vbuf + c->voff[offered], c->vlen[offered])) {
        size_t n = c->nkey[offered] + c->vlen[offered];
        want_bytes += n < cfg.sample_max ? n : cfg.sample_max;
        offered++;
        cr_assert_lt(offered, 60);
    }
    size_t n = c->nkey[offered] + c->vlen[offered];
    want_bytes += n < cfg.sample_max ? n : cfg.sample_max;
    offered++;
    cr_assert_eq(offered, 60);
    flash_dict_trainer_destroy(&t);
    cr_assert_eq(l.calls, 1);
    fprintf(stderr, "trainer, 60 samples cut to 1000 B (%zu B): %s\n", want_bytes,
            flash_dict_strerror(l.st));
    cr_assert_eq(l.st, FLASH_DICT_OK, "%s", flash_dict_strerror(l.st));
    cr_assert_eq(l.dict->samples, 60);
    cr_assert_eq(l.dict->sample_bytes, want_bytes);
    cr_assert_leq(l.dict->len, 1024);
    log_fini(&l);

    /* one sample fills the buffer: zstd cannot train on one sample; the
     * callback says so, once */
    log_init(&l);
    small_cfg(&cfg, &l);
    cfg.sample_max = 1u << 20;
    cr_assert_eq(flash_dict_trainer_create(&t, &cfg), FLASH_DICT_OK);
    cr_assert_not(flash_dict_trainer_offer(t, c->vbuf, 70000, "", 0));
    flash_dict_trainer_destroy(&t);
    cr_assert_eq(l.calls, 1);
    cr_assert_eq(l.st, FLASH_DICT_ETRAIN, "%s", flash_dict_strerror(l.st));
    cr_assert_null(l.dict);
    log_fini(&l);
    corpus_free(&c);
}

Test(dict, trainer_config_and_early_destroy)
{
    ready_log_t l;
    log_init(&l);
    flash_dict_train_cfg_t cfg, bad;
    small_cfg(&cfg, &l);
    flash_dict_trainer_t *t = (flash_dict_trainer_t *)1;

    bad = cfg;
    bad.sample_bytes = 8 * bad.dict_max - 1;
    cr_assert_eq(flash_dict_trainer_create(&t, &bad), FLASH_DICT_EINVAL);
    cr_assert_null(t);
    bad = cfg;
    bad.dict_max = FLASH_DICT_MAX + 1;
    bad.sample_bytes = 16u << 20;
    cr_assert_eq(flash_dict_trainer_create(&t, &bad), FLASH_DICT_EINVAL);
    bad = cfg;
    bad.dict_max = 0;
    cr_assert_eq(flash_dict_trainer_create(&t, &bad), FLASH_DICT_EINVAL);
    bad = cfg;
    bad.max_samples = 0;
    cr_assert_eq(flash_dict_trainer_create(&t, &bad), FLASH_DICT_EINVAL);
    bad = cfg;
    bad.sample_max = 0;
    cr_assert_eq(flash_dict_trainer_create(&t, &bad), FLASH_DICT_EINVAL);
    bad = cfg;
    bad.slot = FLASH_DICT_SLOTS;
    cr_assert_eq(flash_dict_trainer_create(&t, &bad), FLASH_DICT_EINVAL);
    bad = cfg;
    bad.ready = NULL;
    cr_assert_eq(flash_dict_trainer_create(&t, &bad), FLASH_DICT_EINVAL);
    cr_assert_null(t);
    /* the boundary itself is fine */
    bad = cfg;
    bad.sample_bytes = 8 * bad.dict_max;
    cr_assert_eq(flash_dict_trainer_create(&t, &bad), FLASH_DICT_OK);
    flash_dict_trainer_destroy(&t);
    /* the defaults are valid */
    flash_dict_train_cfg_default(&bad);
    cr_assert_eq(bad.dict_max, FLASH_DICT_MAX);
    bad.ready = on_ready;
    bad.arg = &l;
    cr_assert_eq(flash_dict_trainer_create(&t, &bad), FLASH_DICT_OK);
    flash_dict_trainer_destroy(&t);

    /* destroyed before the buffer fills: no thread, no callback */
    cr_assert_eq(flash_dict_trainer_create(&t, &cfg), FLASH_DICT_OK);
    cr_assert_eq(flash_dict_trainer_offer(t, "key", 3, "value", 5), true);
    cr_assert_eq(flash_dict_trainer_offer(t, "", 0, "", 0), true);
    cr_assert_not(flash_dict_trainer_started(t));
    flash_dict_trainer_destroy(&t);
    cr_assert_null(t);
    /* and never filled at all */
    cr_assert_eq(flash_dict_trainer_create(&t, &cfg), FLASH_DICT_OK);
    flash_dict_trainer_destroy(&t);
    cr_assert_eq(l.calls, 0);
    log_fini(&l);
}

/* ---- with a dictionary, the CDict's level applies, not seal's ---- */

/* Seals records [first, first + n) of c with `level` and dictionary d into
 * out (a copy of dst); returns the stored bytes. */
static uint32_t seal_level(const corpus_t *c, unsigned first, unsigned n, int level,
                           const flash_dict_t *d, uint8_t *out)
{
    uint32_t stored = seal_with(c, first, n, level, d);
    memcpy(out, dst, stored);
    return stored;
}

/* flash_blockb_seal's level does not reach zstd when a dictionary is used
 * (ZSTD_compress_usingCDict takes the level the CDict was created with):
 * a faster level while the writer is behind would need a second CDict.
 * Sealed with the level-1 dictionary, level 1 and level -50 give the same
 * bytes; the same content made a CDict at level -50 gives a larger block. */
Test(dict, seal_level_is_the_cdicts)
{
    corpus_t *c = corpus_make(0, 7);
    flash_dict_t *d1, *dfast;
    cr_assert_eq(train_on(c, 0, NTRAIN, FLASH_DICT_MAX, 0, &d1), FLASH_DICT_OK);
    cr_assert_eq(flash_dict_create(&dfast, 1, d1->content, d1->len, -50, CREATED), FLASH_DICT_OK);
    flash_dicts_t set;
    flash_dicts_init(&set);
    cr_assert_eq(flash_dicts_publish(&set, d1, true), FLASH_DICT_OK);
    cr_assert_eq(flash_dicts_publish(&set, dfast, false), FLASH_DICT_OK);
    uint8_t *a = malloc(dst_cap), *b = malloc(dst_cap), *f = malloc(dst_cap);
    cr_assert(a && b && f);
    const unsigned first = NTRAIN, n = 12;
    uint32_t sa = seal_level(c, first, n, LEVEL, d1, a);
    uint32_t sb = seal_level(c, first, n, -50, d1, b);
    cr_assert_eq(sa, sb, "level -50 with the level-%d CDict: %u bytes, level %d: %u", LEVEL, sb,
                 LEVEL, sa);
    cr_assert_eq(memcmp(a, b, sa), 0, "seal's level changed the block");
    uint32_t sf = seal_level(c, first, n, LEVEL, dfast, f);
    cr_assert_gt(fl_get_u32(f + 16), fl_get_u32(a + 16),
                 "a level -50 CDict compressed to %u bytes, level %d to %u",
                 fl_get_u32(f + 16), LEVEL, fl_get_u32(a + 16));
    memcpy(dst, f, sf); /* each reads back with its own slot */
    open_and_check(c, sf, &set, first, n);
    memcpy(dst, a, sa);
    open_and_check(c, sa, &set, first, n);
    free(a);
    free(b);
    free(f);
    flash_dicts_teardown(&set);
    corpus_free(&c);
}
