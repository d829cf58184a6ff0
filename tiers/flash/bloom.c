/*
 * tiers/flash/bloom.c - blocked Bloom filter (bloom.h).
 */
#include "flash/bloom.h"

#include <stdlib.h>

bloom_t *bloom_create(uint64_t items)
{
    bloom_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    uint64_t bits = items * BLOOM_BITS_PER_ITEM;
    b->nblocks = bits / 512 + 1;
    b->words = calloc((size_t)b->nblocks * 8, sizeof *b->words);
    if (!b->words) {
        free(b);
        return NULL;
    }
    return b;
}

void bloom_destroy(bloom_t **b)
{
    if (!b || !*b)
        return;
    free((void *)(*b)->words);
    free(*b);
    *b = NULL;
}

size_t bloom_bytes(const bloom_t *b)
{
    return b ? sizeof *b + (size_t)b->nblocks * 64 : 0;
}

/* The block of a hash, and its BLOOM_K bit positions (9 bits each). */
static inline _Atomic uint64_t *block_of(const bloom_t *b, uint64_t h)
{
    return b->words + ((h >> 32) * b->nblocks >> 32) * 8;
}

/* Bit i of the hash's pattern: 9 bits of their own from a multiplied
 * copy of the hash (7 x 9 = 63 of its 64 bits), so the positions are
 * independent of each other and of the block choice. */
_Static_assert(BLOOM_K * 9 <= 64, "BLOOM_K positions of 9 bits must fit one product");
static inline unsigned bit_at(uint64_t h, unsigned i)
{
    uint64_t m = (h ^ (h >> 29)) * 0xBF58476D1CE4E5B9ull;
    return (unsigned)(m >> (64 - 9 * (i + 1))) & 511u;
}

void bloom_add(bloom_t *b, uint64_t h)
{
    _Atomic uint64_t *w = block_of(b, h);
    for (unsigned i = 0; i < BLOOM_K; i++) {
        unsigned bit = bit_at(h, i);
        atomic_fetch_or_explicit(&w[bit >> 6], 1ull << (bit & 63), memory_order_relaxed);
    }
}

bool bloom_maybe(const bloom_t *b, uint64_t h)
{
    const _Atomic uint64_t *w = block_of(b, h);
    for (unsigned i = 0; i < BLOOM_K; i++) {
        unsigned bit = bit_at(h, i);
        if (!(atomic_load_explicit(&w[bit >> 6], memory_order_relaxed) & (1ull << (bit & 63))))
            return false;
    }
    return true;
}
