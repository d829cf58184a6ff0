/* tests/unit/tiers/helpers.h - shared fixtures for the tier unit tests. */
#ifndef TIERCACHE_TEST_TIERS_HELPERS_H
#define TIERCACHE_TEST_TIERS_HELPERS_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "cache.h"

#define T0 1700000000LL

typedef struct fake_clock {
    _Atomic int64_t now;
} fake_clock_t;

static inline int64_t fake_clock_fn(void *ctx)
{
    return atomic_load(&((fake_clock_t *)ctx)->now);
}

/* Defaults for unit tests: no background threads, fake clock at T0. */
static inline void test_settings(cache_settings_t *s, fake_clock_t *clk)
{
    cache_settings_default(s);
    s->ram.maintainer_thread = false;
    s->ram.crawler_thread = false;
    atomic_store(&clk->now, T0);
    s->ram.clock = fake_clock_fn;
    s->ram.clock_ctx = clk;
}

static inline cache_status_e set_kv(cache_worker_t *w, cache_store_op_e op, const char *key,
                                    const char *val, size_t nval, uint32_t flags,
                                    int64_t exptime, uint64_t cas_in, uint64_t *cas_out)
{
    cache_item_t *it = NULL;
    cache_status_e st = cache_item_alloc(w, key, strlen(key), flags, exptime, nval, &it);
    if (st != CACHE_OK)
        return st;
    memcpy(cache_item_data(it), val, nval);
    st = cache_store(w, it, op, cas_in, cas_out, NULL);
    cache_item_release(w, &it);
    return st;
}

static inline cache_status_e set_s(cache_worker_t *w, const char *key, const char *val)
{
    return set_kv(w, CACHE_STORE_SET, key, val, strlen(val), 0, 0, 0, NULL);
}

/* Gets key into buf (NUL-terminated); returns the status. */
static inline cache_status_e get_s(cache_worker_t *w, const char *key, char *buf, size_t cap)
{
    cache_item_t *it = NULL;
    cache_status_e st = cache_get(w, key, strlen(key), &it, NULL);
    if (st == CACHE_OK) {
        size_t n = cache_item_nbytes(it);
        if (n >= cap)
            n = cap - 1;
        memcpy(buf, cache_item_value(it), n);
        buf[n] = 0;
        cache_item_release(w, &it);
    }
    return st;
}

static inline bool has_key(cache_worker_t *w, const char *key)
{
    cache_item_t *it = NULL;
    if (cache_get(w, key, strlen(key), &it, NULL) != CACHE_OK)
        return false;
    cache_item_release(w, &it);
    return true;
}

/* A flash file path "DIR/STEM-PID.dat" in the first of $TC_FLASH_TEST_DIR,
 * ".", /var/tmp where O_DIRECT files work (tmpfs may refuse them); the file
 * is not left behind. Fails the test when there is none. */
static inline void flash_test_path(char *path, size_t len, const char *stem)
{
    const char *cands[] = {getenv("TC_FLASH_TEST_DIR"), ".", "/var/tmp"};
    for (unsigned i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        if (!cands[i])
            continue;
        snprintf(path, len, "%s/%s-%d.dat", cands[i], stem, (int)getpid());
        int fd = open(path, O_RDWR | O_CREAT | O_DIRECT, 0600);
        if (fd >= 0) {
            close(fd);
            unlink(path);
            return;
        }
    }
    cr_assert_fail("no directory allows O_DIRECT files");
}

/* The tiers tests' small RAM + flash geometry: test_settings(), then RAM
 * of `mem` bytes in 64 KiB slab pages (items up to 32 KiB), a flash file
 * of `flash_size` bytes at a fresh flash_test_path(path, stem) with 1 MiB
 * segments, and a 2 s stall bound: a writer starved on CI's 2 shared cores
 * waits instead of dropping evictions, because the tests count keys.
 * Errors go to err. The caller sets the rest (block size, promotion...). */
static inline void flash_test_settings(cache_settings_t *s, fake_clock_t *clk,
                                       size_t mem, uint64_t flash_size,
                                       char *path, size_t path_len,
                                       const char *stem, char *err,
                                       size_t err_len)
{
    test_settings(s, clk);
    flash_test_path(path, path_len, stem);
    s->ram.mem_limit = mem;
    s->ram.slab_page_size = 64 * 1024;
    s->ram.item_size_max = 32 * 1024;
    s->flash.path = path;
    s->flash.size = flash_size;
    s->flash.segment_size = 1u << 20;
    s->flash.stall_ms = 2000;
    s->err = err;
    s->err_len = err_len;
}

#endif
