/*
 * tiers/flash/memory.c - the flash tier's RAM outside -m, part by part
 *
 * flash_memory_parts() names every allocation of the tier that lives as
 * long as it does or grows with it (issue 14 item 5): the index, the
 * segment builders, reclaim's buffers, the queues, the workers' buffers,
 * the zstd contexts, the dictionary and the checkpoint filters. Buffers
 * count at their full size (the budget), resident or not yet.
 *
 * The writer's CCtx grows on its first compressions and is in use by the
 * writer while stats are read, so it is counted as zstd's estimate for the
 * largest input it can get (a record of max_record bytes at the configured
 * level), not read with ZSTD_sizeof_CCtx (a data race); the DCtx likewise.
 * Workers' DCtx are measured once, when created (reader.c).
 */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_estimate*: sizes without a race */
#include "flash/flash_int.h"
#include <zstd.h>

static size_t writer_zstd(const flash_t *f)
{
    size_t n = ZSTD_estimateDCtxSize(); /* wdctx: reclaim's block reads */
    if (f->s.compression_level == FLASH_LEVEL_NONE)
        return n + ZSTD_sizeof_CCtx(f->cctx); /* created, never used */
    ZSTD_compressionParameters cp =
        ZSTD_getCParams(f->s.compression_level, f->max_record, f->s.dict_size);
    return n + ZSTD_estimateCCtxSize_usingCParams(cp);
}

void flash_memory_parts(const flash_t *f, flash_memory_parts_t *out)
{
    index_stats_t is;
    index_stats(f->idx, &is);
    out->index = (size_t)is.bytes;
    out->builders = FLASH_NBUILDERS * ((size_t)f->segsize + f->max_record);
    out->reclaim = (size_t)f->segsize + f->max_record;
    out->queues = (size_t)f->qcap * sizeof(wr_qent_t) + (size_t)f->dcap * sizeof(flash_done_t) +
                  FLASH_DONE_HSLOTS * sizeof(uint16_t) + (size_t)f->nseg * sizeof(fseg_t);
    out->workers = (size_t)atomic_load_explicit(&f->worker_bytes, memory_order_relaxed);
    out->zstd = writer_zstd(f) +
                (size_t)atomic_load_explicit(&f->worker_zstd_bytes, memory_order_relaxed);
    /* the dictionary: what it holds once trained, else ~4x its size
     * (content, CDict, DDict) to come; the trainer's samples until freed */
    size_t db = flash_dicts_bytes(&f->dicts);
    if (db == 0 && f->dtrain)
        db = 4 * f->s.dict_size;
    out->dict = db + flash_dict_trainer_bytes(f->dtrain);
    /* the crash checkpoint's key filter, twice while the next is built
     * (~1.5 B per flash item each), and its journal page */
    bloom_t *ck = atomic_load_explicit(&f->ck_filter, memory_order_acquire);
    bloom_t *nb = atomic_load_explicit(&f->ck_build, memory_order_acquire);
    bloom_t *xb = atomic_load_explicit(&f->ck_ext, memory_order_acquire);
    out->checkpoint =
        bloom_bytes(ck) + bloom_bytes(nb) + bloom_bytes(xb) + (f->ck_jpage ? FLASH_JPAGE : 0);
}

size_t flash_memory(const flash_t *f)
{
    flash_memory_parts_t p;
    flash_memory_parts(f, &p);
    return p.index + p.builders + p.reclaim + p.queues + p.workers + p.zstd + p.dict +
           p.checkpoint;
}
