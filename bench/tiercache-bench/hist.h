/* hist.h - HDR-style log-linear latency histogram (nanoseconds).
 *
 * Values below 2 * HIST_SUB are counted exactly. Above that every power
 * of two [2^k, 2^(k+1)) is split into HIST_SUB equal sub-buckets, so a
 * reported value is within 1 / HIST_SUB (0.8 %) of the true one. Values
 * at or above 2^HIST_MAX_BITS ns (~18 min) are clamped into the last
 * bucket; max is exact. Index of v (v >= 2 * HIST_SUB):
 *
 *   shift = msb(v) - HIST_SUB_BITS        top = v >> shift  (in [SUB, 2 SUB))
 *   index = shift * HIST_SUB + top
 *
 * Histograms of the same shape merge by adding counts, so each thread
 * records into its own and the report merges them. A histogram is about
 * 35 KiB; recording is O(1), percentiles O(buckets).
 */
#ifndef TCB_HIST_H
#define TCB_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_BITS 40
#define HIST_NBUCKETS ((HIST_MAX_BITS - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
    uint64_t count;
    uint64_t min;
    uint64_t max;
    double sum;
    uint64_t b[HIST_NBUCKETS];
};

/* Empties h. */
void hist_reset(struct hist *h);

/* Records one value (ns). O(1). */
void hist_record(struct hist *h, uint64_t v);

/* Adds every count of src to dst. */
void hist_merge(struct hist *dst, const struct hist *src);

/* Value at percentile p (0 < p <= 100): the highest value equivalent to
 * the bucket holding the p-th percentile sample, capped at max. 0 if h is
 * empty. */
uint64_t hist_percentile(const struct hist *h, double p);

/* Mean of recorded values, 0 if empty. */
double hist_mean(const struct hist *h);

#endif
