/*
 * tests/unit/flash/test_bloom.c - the blocked Bloom filter (bloom.h): no
 * false negatives, false positives near the planned rate.
 */
#include <criterion/criterion.h>
#include <xxhash.h>

#include "flash/bloom.h"

Test(bloom, no_false_negatives_few_false_positives)
{
    enum { N = 100000 };
    bloom_t *b = bloom_create(N);
    cr_assert_not_null(b);
    for (uint64_t i = 0; i < N; i++)
        bloom_add(b, XXH3_64bits(&i, sizeof i));
    for (uint64_t i = 0; i < N; i++)
        cr_assert(bloom_maybe(b, XXH3_64bits(&i, sizeof i)), "added %llu missing",
                  (unsigned long long)i);
    unsigned fp = 0;
    for (uint64_t i = N; i < 2 * N; i++)
        fp += bloom_maybe(b, XXH3_64bits(&i, sizeof i));
    /* 16 bits a key, 7 probes in one 512-bit block: ~0.1% (12 bits and 6
     * probes gave ~0.45%: every false positive of a crash checkpoint's
     * filter is a synchronous journal write on a set) */
    cr_assert_lt(fp, N / 500, "%u false positives of %u", fp, N);
    cr_assert_gt(bloom_bytes(b), N * 16 / 8);
    bloom_destroy(&b);
    cr_assert_null(b);
}

Test(bloom, empty_and_tiny)
{
    bloom_t *b = bloom_create(0);
    cr_assert_not_null(b);
    uint64_t h = 42;
    cr_assert(!bloom_maybe(b, XXH3_64bits(&h, sizeof h)));
    bloom_add(b, XXH3_64bits(&h, sizeof h));
    cr_assert(bloom_maybe(b, XXH3_64bits(&h, sizeof h)));
    bloom_destroy(&b);
    bloom_destroy(&b); /* NULL-safe */
}
