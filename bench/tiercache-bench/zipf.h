/* zipf.h - Zipf-distributed ranks, Gray et al. "Quickly generating
 * billion-record synthetic databases" (SIGMOD 1994), as used by YCSB.
 *
 * zipf_init() precomputes zeta(n, theta) once: exactly for the first
 * ZIPF_EXACT_TERMS terms, then by the Euler-Maclaurin integral for the
 * rest (relative error < 1e-9 for n in the billions). Sampling is O(1):
 * one pow() per draw. Rank 0 is the most popular. A struct zipf is
 * read-only after init, so threads may share one.
 */
#ifndef TCB_ZIPF_H
#define TCB_ZIPF_H

#include <stdint.h>

#define ZIPF_EXACT_TERMS 10000000ULL

struct zipf {
    uint64_t n;
    double theta;
    double alpha;
    double zetan;
    double eta;
    double half_pow_theta;
};

/* Prepares a sampler of n >= 1 ranks with skew 0 < theta < 1.
 * Returns 0, or -1 for a theta out of range. O(min(n, ZIPF_EXACT_TERMS)). */
int zipf_init(struct zipf *z, uint64_t n, double theta);

/* Rank in [0, n) for a uniform u in [0, 1). */
uint64_t zipf_sample(const struct zipf *z, double u);

#endif
