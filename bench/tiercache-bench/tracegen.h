/* tracegen.h - --trace-gen: a synthetic trace in the Twitter cache-trace
 * CSV format (see trace.h), deterministic for a seed.
 *
 * Line i (0 <= i < count) is, in this order of precedence:
 *   - inside the scan (scan lines starting at scan_at * count): a get of
 *     key j for the j-th scan line (keys 0, 1, 2, ... of the key space);
 *   - with probability one_hit: a get of a key used by no other line
 *     (a one-hit wonder);
 *   - else a key drawn from the key space (uniform or Zipf, scattered as
 *     keyspace.h does) and an operation: get with probability get_ratio,
 *     else delete with probability del_ratio, else set.
 * A key keeps one value size (from the value distribution, a function of
 * the key) and one TTL (the TTL mix, drawn from a hash of the key).
 * Timestamps are floor(i / rate) seconds; the client id is i % 16; the
 * anonymized key is "k" + 16 hex digits of a hash of (seed, key); the
 * key size field is the given key size.
 */
#ifndef TCB_TRACEGEN_H
#define TCB_TRACEGEN_H

#include <stdbool.h>
#include <stdint.h>

#include "value.h"

#define TRACEGEN_MAX_TTLS 16

struct tracegen_cfg {
    uint64_t count;
    uint64_t keys;
    unsigned key_size;
    double zipf;                /* 0: uniform */
    const struct valgen *vg;    /* sizes: valgen_verify_len(key, 1) */
    double get_ratio;
    double del_ratio;
    double one_hit;
    uint64_t scan;
    double scan_at;
    double rate;
    uint64_t seed;
    unsigned nttl;
    uint32_t ttl[TRACEGEN_MAX_TTLS];
    double ttl_share[TRACEGEN_MAX_TTLS];
};

/* Parses a TTL mix ("T" or "T:share,T:share,...", shares summing to 1
 * within 0.001) into cfg->ttl / ttl_share. False if malformed. */
bool tracegen_parse_ttl(struct tracegen_cfg *cfg, const char *s);

/* Writes the trace to path. Returns false (message printed to stderr) on
 * an error. */
bool tracegen_write(const struct tracegen_cfg *cfg, const char *path);

#endif
