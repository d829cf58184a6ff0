/*
 * tiers/ram/clock.c - the cache clock and memcached's exptime rules.
 * No locks.
 */
#include "ram.h"

/* memcached's REALTIME_MAXDELTA: 30 days */
#define REALTIME_MAXDELTA (60 * 60 * 24 * 30)

rel_time_t ram_realtime(const ram_t *r, int64_t exptime)
{
    if (exptime == 0)
        return 0;
    if (exptime < 0)
        return 1; /* memcached: REALTIME_MAXDELTA + 1, before the start */
    if (exptime > REALTIME_MAXDELTA) {
        if (exptime <= r->started)
            return 1;
        return exptime > (int64_t)UINT32_MAX - 1 ? UINT32_MAX - 1 : (rel_time_t)exptime;
    }
    int64_t t = exptime + (int64_t)ram_now(r);
    return t > (int64_t)UINT32_MAX - 1 ? UINT32_MAX - 1 : (rel_time_t)t;
}
