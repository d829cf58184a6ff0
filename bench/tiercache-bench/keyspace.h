/* keyspace.h - key names and key choice.
 *
 * Key i (0 <= i < nkeys) is the prefix followed by i in decimal,
 * zero-padded so that every key is exactly key_size bytes:
 *
 *   key_size = 16, prefix "tcb:", i = 42   ->   "tcb:000000000042"
 *
 * Named mode (--trace): keyspace_init_names() makes key i the i-th of a
 * table of names of 1..250 bytes each (the trace's keys); key_size is
 * then the longest name, and keyspace_parse() finds a name through a
 * hash index.
 *
 * A keypick draws key indices from a slice of the key space: the keys
 * base, base + stride, base + 2 stride, ... (n of them). Without verify
 * the slice is the whole space (base 0, stride 1); in verify mode
 * connection g of N owns the keys i with i % N == g, so every key has a
 * single writer. Ranks are drawn uniformly or from a shared Zipf, then
 * scattered over the slice by a fixed bijection (rank * mult mod n) so
 * popular keys are not all adjacent.
 */
#ifndef TCB_KEYSPACE_H
#define TCB_KEYSPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rng.h"
#include "zipf.h"

#define KEY_MAX_LEN 250

struct keyspace {
    uint64_t nkeys;
    unsigned key_size;
    unsigned prefix_len;
    unsigned width;         /* digits after the prefix */
    char prefix[KEY_MAX_LEN + 1];
    /* named mode (names != NULL): key i is names + off[i], len[i] bytes */
    const char *names;
    const uint64_t *off;
    const uint8_t *len;
    const uint32_t *index;      /* open addressing: key + 1, 0 = empty */
    uint64_t index_mask;
};

enum keyspace_status {
    KS_OK,
    KS_EPREFIX,   /* prefix holds a space or control byte, or is too long */
    KS_ESIZE,     /* key_size above 250 or too small for prefix + digits */
    KS_ECOUNT,    /* nkeys is 0 */
};

/* Fills ks. Fails (see the status) if the keys cannot all be key_size
 * bytes. */
enum keyspace_status keyspace_init(struct keyspace *ks, uint64_t nkeys,
                                   unsigned key_size, const char *prefix);

/* Message for a status. */
const char *keyspace_strerror(enum keyspace_status st);

/* Named mode: nkeys keys, key i at names + off[i], len[i] bytes (1..250,
 * distinct, printable without spaces); index is an open-addressing table
 * of index_mask + 1 slots (a power of two) holding key + 1 at the first
 * free slot from keyspace_hash(name) & index_mask, 0 for empty (trace.c
 * builds it). The arrays must outlive ks. */
void keyspace_init_names(struct keyspace *ks, uint64_t nkeys,
                         const char *names, const uint64_t *off,
                         const uint8_t *len, const uint32_t *index,
                         uint64_t index_mask);

/* Hash of a key's bytes, for the named-mode index. */
uint64_t keyspace_hash(const char *key, size_t len);

/* Writes key idx (keyspace_len() bytes, at most ks->key_size, no
 * terminator) to dst and returns its length. */
size_t keyspace_format(const struct keyspace *ks, uint64_t idx, char *dst);

/* Length of key idx. */
static inline size_t keyspace_len(const struct keyspace *ks, uint64_t idx)
{
    return ks->names ? ks->len[idx] : ks->key_size;
}

/* Parses a key back to its index. False if it is not a key of ks. */
bool keyspace_parse(const struct keyspace *ks, const char *key, size_t len,
                    uint64_t *idx);

struct keypick {
    uint64_t base;
    uint64_t stride;
    uint64_t n;             /* keys in the slice, >= 1 */
    uint64_t mult;          /* coprime with n: rank -> slot bijection */
    const struct zipf *z;   /* NULL: uniform */
};

/* Sets up a pick over the slice {base + k * stride : k < n}. z (may be
 * NULL) must describe exactly n ranks and outlive the pick. */
void keypick_init(struct keypick *kp, uint64_t base, uint64_t stride,
                  uint64_t n, const struct zipf *z);

/* Draws one key index. O(1). */
static inline uint64_t keypick_next(const struct keypick *kp, struct rng *r)
{
    uint64_t rank;
    if (kp->z) {
        __extension__ typedef unsigned __int128 u128;
        rank = zipf_sample(kp->z, rng_double(r));
        rank = (uint64_t)(((u128)rank * kp->mult) % kp->n);
    } else {
        rank = rng_below(r, kp->n);
    }
    return kp->base + rank * kp->stride;
}

/* The k-th key of the slice (k < n), in load order. */
static inline uint64_t keypick_nth(const struct keypick *kp, uint64_t k)
{
    return kp->base + k * kp->stride;
}

#endif
