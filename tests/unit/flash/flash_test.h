/*
 * tests/unit/flash/flash_test.h - what the flash unit tests share: a
 * deterministic generator and "a record read back equals the one written".
 * Each test file has its own copy of the state (static).
 */
#ifndef TIERCACHE_TEST_FLASH_TEST_H
#define TIERCACHE_TEST_FLASH_TEST_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "flash/block.h"

/* xorshift64: seed rng_state (not 0), then call rnd(). */
static uint64_t rng_state;
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

#endif /* TIERCACHE_TEST_FLASH_TEST_H */
