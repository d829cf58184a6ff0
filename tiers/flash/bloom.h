/*
 * tiers/flash/bloom.h - a blocked Bloom filter of 64-bit key hashes: "may
 * this hash be in the set?" with no false negatives. Used for the keys a
 * crash checkpoint keeps (ckpt.c): a mutation of a key that may be in it
 * must first make the checkpoint unusable.
 *
 * Layout: nblocks blocks of 64 bytes (8 x u64 words, one cache line); a
 * hash picks one block (high bits) and sets / tests BLOOM_K bits in it
 * (from the low bits), so a probe touches one cache line. Sized at 16
 * bits per item with 7 probes: about 0.1% false positives at the planned
 * count (12 bits and 6 probes: 0.45%). A false positive of a crash
 * checkpoint's filter costs a synchronous 4 KiB journal write on a set of
 * a key the checkpoint does not hold: 1,495 of them during one 406k-key
 * load at 12 bits, 330 at 16 (issue 14 item 3).
 *
 *   block:  +--------+--------+-- ... --+--------+
 *           | word 0 | word 1 |          | word 7 |   (atomic u64 each)
 *           +--------+--------+-- ... --+--------+
 *
 * Threads: bloom_add and bloom_maybe may run concurrently from any thread
 * (relaxed atomic OR / load; a caller that needs an order between an add
 * and a later test on another thread puts a fence around them).
 */
#ifndef TIERCACHE_FLASH_BLOOM_H
#define TIERCACHE_FLASH_BLOOM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BLOOM_K 7
#define BLOOM_BITS_PER_ITEM 16

typedef struct bloom {
    uint64_t nblocks;
    _Atomic uint64_t *words;   /* nblocks * 8 */
} bloom_t;

/* A filter for about `items` hashes (at least one block). NULL on ENOMEM.
 * Memory: ~items * 16 / 8 bytes. */
bloom_t *bloom_create(uint64_t items);
void bloom_destroy(bloom_t **b);
size_t bloom_bytes(const bloom_t *b);
void bloom_add(bloom_t *b, uint64_t hash);
/* False: certainly not added. True: added, or a false positive. */
bool bloom_maybe(const bloom_t *b, uint64_t hash);

#endif /* TIERCACHE_FLASH_BLOOM_H */
