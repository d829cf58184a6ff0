/*
 * tests/tools/mkflash.c - builds a tiercache flash file through the flash
 * tier's store API (flash.h: flash_create, flash_enqueue, flash_remove,
 * flash_destroy), independent of the server, for tiercache-inspect's tests.
 *
 *   mkflash PATH NITEMS [SIZE [SEGMENT_SIZE]]
 *
 * Writes NITEMS items "key-<i>" with values of random hex digits (zstd
 * makes them about half as big) of three sizes (about 100 B, 700 B and
 * 3000 B), removes every 10th key of the first half once the first half
 * is written and indexed (so segments get tombstones), then stops the store. Only full segments reach the file (the
 * open one is dropped at stop). Prints "enqueued N written W" and exits 0,
 * or 1 with a message on stderr. SIZE defaults to 8 MiB, SEGMENT_SIZE to
 * 256 KiB.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "flash/flash.h"

/* One queued item: the store borrows key and value until written_fn. */
typedef struct mk_item {
    char key[32];
    size_t nkey;
    char *value;
} mk_item_t;

typedef struct mk_ctx {
    atomic_ulong written;
    atomic_ulong dropped;
} mk_ctx_t;

static void on_written(void *ctx, void *token, flash_status_e st)
{
    mk_ctx_t *c = ctx;
    mk_item_t *it = token;
    if (st == FLASH_OK)
        atomic_fetch_add(&c->written, 1);
    else
        atomic_fetch_add(&c->dropped, 1);
    free(it->value);
    free(it);
}

static void on_log(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "mkflash: flash: %s\n", line);
}

static uint32_t value_size(unsigned long i)
{
    static const uint32_t sizes[] = { 100, 700, 3000 };
    return sizes[i % 3] + (uint32_t)(i % 17);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: mkflash PATH NITEMS [SIZE [SEGMENT_SIZE]]\n");
        return 2;
    }
    unsigned long n = strtoul(argv[2], NULL, 10);
    flash_settings_t s;
    flash_settings_default(&s);
    s.path = argv[1];
    s.size = argc > 3 ? strtoull(argv[3], NULL, 10) : 8u << 20;
    s.segment_size = argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 10) : 256u << 10;
    s.block_size = 16u << 10;
    s.stall_ms = 10000;
    s.min_ttl = 0;
    s.checkpoint_ms = 0; /* a fixed layout for the tests: no checkpoint slots */
    mk_ctx_t ctx;
    atomic_init(&ctx.written, 0);
    atomic_init(&ctx.dropped, 0);
    s.written = on_written;
    s.written_ctx = &ctx;
    s.log = on_log;
    char err[512] = "";
    flash_t *f = NULL;
    flash_status_e st = flash_create(&f, &s, err, sizeof err);
    if (st != FLASH_OK) {
        fprintf(stderr, "mkflash: flash_create: %s: %s\n", flash_strerror(st), err);
        return 1;
    }
    unsigned long enq = 0;
    for (unsigned long i = 0; i < n; i++) {
        if (i == n / 2) {
            /* A remove only tombstones what is indexed: let the writer
             * index the first half first (a slow, e.g. sanitized, build
             * would otherwise remove nothing). At most 60 s. */
            for (int ms = 0; ms < 60000; ms++) {
                (void)flash_complete(f, 256);
                if (atomic_load(&ctx.written) + atomic_load(&ctx.dropped) >= enq)
                    break;
                struct timespec ts = { 0, 1000000 };
                nanosleep(&ts, NULL);
            }
            for (unsigned long j = 0; j < n / 2; j += 10) {
                char k[32];
                int nk = snprintf(k, sizeof k, "key-%lu", j);
                flash_remove(f, XXH3_64bits(k, (size_t)nk));
            }
        }
        mk_item_t *it = calloc(1, sizeof *it);
        uint32_t nv = value_size(i);
        if (!it || !(it->value = malloc(nv))) {
            fprintf(stderr, "mkflash: out of memory\n");
            return 1;
        }
        it->nkey = (size_t)snprintf(it->key, sizeof it->key, "key-%lu", i);
        uint64_t x = 0x9E3779B97F4A7C15ull * (i + 1);
        for (uint32_t b = 0; b < nv; b++) {  /* hex digits: compress ~2x */
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            it->value[b] = "0123456789abcdef"[(x >> 60) & 15];
        }
        flash_wr_item_t w;
        memset(&w, 0, sizeof w);
        w.key = it->key;
        w.nkey = it->nkey;
        w.value = it->value;
        w.nbytes = nv;
        w.flags = (uint32_t)(i % 7);
        w.exptime = 0;
        w.cas = i + 1;
        w.store_time = 1700000000;
        w.hash = XXH3_64bits(it->key, it->nkey);
        w.token = it;
        st = flash_enqueue(f, &w);
        if (st != FLASH_OK) {
            free(it->value);
            free(it);
            fprintf(stderr, "mkflash: enqueue %lu: %s\n", i, flash_strerror(st));
            continue;
        }
        enq++;
    }
    flash_destroy(&f);
    printf("enqueued %lu written %lu dropped %lu\n", enq,
           (unsigned long)atomic_load(&ctx.written), (unsigned long)atomic_load(&ctx.dropped));
    return enq == n ? 0 : 1;
}
