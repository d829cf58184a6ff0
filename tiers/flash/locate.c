/*
 * tiers/flash/locate.c - is a flash location still current: the epoch
 * check a RAM item's flash location carries, and the segment generation
 * and index check behind it. Contract: flash.h and flash_int.h.
 */
#include "flash/flash_int.h"

/* ---- locations ---- */

bool flash_loc_current(flash_t *f, uint64_t hash, uint64_t loc)
{
    uint32_t epoch = (uint32_t)(loc >> 32) & 0xffff;
    uint32_t now_epoch = atomic_load_explicit(&f->epoch[flash_epoch_slot(hash)],
                                              memory_order_acquire);
    if ((now_epoch & 0xffff) != epoch)
        return false;
    return flash_loc_indexed(f, hash, loc);
}

bool flash_loc_indexed(flash_t *f, uint64_t hash, uint64_t loc)
{
    uint32_t gen = (uint32_t)(loc >> 48);
    uint32_t seg = (uint32_t)(loc >> INDEX_OFF_BITS) & INDEX_SEG_MAX;
    uint32_t off = (uint32_t)loc & INDEX_OFF_MAX;
    if (seg >= f->nseg)
        return false;
    pthread_mutex_lock(&f->seg_lock);
    bool ok = (f->segs[seg].gen & 0xffff) == gen && f->segs[seg].state != FSEG_FREE &&
              f->segs[seg].state != FSEG_BAD;
    pthread_mutex_unlock(&f->seg_lock);
    return ok && flash_index_holds(f, hash, seg, off);
}

bool flash_index_holds(flash_t *f, uint64_t hash, uint32_t seg, uint32_t off)
{
    index_entry_t c[INDEX_MAX_MATCHES];
    unsigned n = index_lookup(f->idx, hash, c);
    for (unsigned i = 0; i < n; i++)
        if (c[i].loc.segment == seg && c[i].loc.offset == off)
            return true;
    return false;
}
