/*
 * tests/unit/flash/flash_test.h - what the flash unit tests share: a
 * deterministic generator, "a record read back equals the one written", a
 * scratch directory where O_DIRECT works, and the store tests' keys and
 * values.
 * Each test file has its own copy of the state (static).
 */
#ifndef TIERCACHE_TEST_FLASH_TEST_H
#define TIERCACHE_TEST_FLASH_TEST_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flash/block.h"

/* xorshift64: seed rng_state (not 0), then call rnd(). */
static uint64_t rng_state __attribute__((unused));
static inline uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Asserts that every field of got (key and value bytes included) equals
 * want's. */
static inline void check_rec(const flash_record_t *got, const flash_record_t *want)
{
    cr_assert_eq(got->nkey, want->nkey);
    cr_assert_eq(memcmp(got->key, want->key, want->nkey), 0);
    cr_assert_eq(got->nvalue, want->nvalue);
    cr_assert_eq(memcmp(got->value, want->value, want->nvalue), 0);
    cr_assert_eq(got->flags, want->flags);
    cr_assert_eq(got->exptime, want->exptime);
    cr_assert_eq(got->store_time, want->store_time);
    cr_assert_eq(got->cas, want->cas);
    cr_assert_eq(got->marks, want->marks, "meta marks %u vs %u", got->marks, want->marks);
}

/* A fresh scratch directory "BASE/STEM-XXXXXX" in dir[len], in the first of
 * $TC_FLASH_TEST_DIR, the cwd (the build dir under meson test), /var/tmp,
 * /tmp where O_DIRECT files work (tmpfs may refuse them). Fails the test
 * when there is none. */
static inline void flash_test_dir(char *dir, size_t len, const char *stem)
{
    const char *cands[] = { getenv("TC_FLASH_TEST_DIR"), ".", "/var/tmp", "/tmp" };
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        if (!cands[i])
            continue;
        snprintf(dir, len, "%s/%s-XXXXXX", cands[i], stem);
        if (!mkdtemp(dir))
            continue;
        char probe[300];
        snprintf(probe, sizeof probe, "%s/probe", dir);
        int fd = open(probe, O_RDWR | O_CREAT | O_DIRECT, 0600);
        unlink(probe);
        if (fd >= 0) {
            close(fd);
            return;
        }
        rmdir(dir);
    }
    cr_assert_fail("no directory supports O_DIRECT");
}

/* Removes a flash_test_dir() directory and what is in it. */
static inline void flash_test_rm_dir(const char *dir)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* The store tests' key i ("key:<i>"); returns its length. */
static inline size_t flash_test_key(char *buf, size_t cap, unsigned i)
{
    return (size_t)snprintf(buf, cap, "key:%u", i);
}

/* A deterministic, moderately compressible value of (i, version), 100-799
 * bytes, starting "v<i>.<ver>|"; returns its length. buf: 800 bytes. */
static inline uint32_t flash_test_value(char *buf, unsigned i, unsigned ver)
{
    uint32_t n = 100 + (i * 37u + ver * 11u) % 700;
    uint64_t x = (uint64_t)i * 0x9E3779B97F4A7C15ull + ver;
    for (uint32_t k = 0; k < n; k++) {
        if (k % 8 == 0)
            x = x * 6364136223846793005ull + 1442695040888963407ull;
        buf[k] = (k % 16 < 4) ? "abcd"[k % 4] : (char)('a' + ((x >> (k % 8 * 8)) % 26));
    }
    snprintf(buf, 24, "v%u.%u|", i, ver);
    return n;
}

#endif /* TIERCACHE_TEST_FLASH_TEST_H */
