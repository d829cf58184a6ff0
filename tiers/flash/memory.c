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
 *
 * flash_memory_max() gives the most each part may reach (the memory
 * budget's flash terms, server/main.c): the index at its capacity, the
 * workers' read buffers at their caps, the checkpoint filters for a full
 * index, every dictionary slot and the trainer until it is done.
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

/* A bloom filter's bytes for n items (bloom.c's bloom_create). */
static size_t bloom_bytes_for(uint64_t n)
{
    return sizeof(bloom_t) + (size_t)((n * BLOOM_BITS_PER_ITEM) / 512 + 1) * 64;
}

/* Read ops a worker keeps for reuse (reader.c FREE_OPS_MAX), at ~0.7 KB
 * each: counted at 1 KiB. Ops parked by more requests than that are
 * counted with the connections that sent them (server/main.c). */
#define MAX_FREE_OPS 1024
#define OP_BYTES 1024

void flash_memory_max(const flash_t *f, unsigned nworkers, flash_memory_parts_t *out)
{
    flash_memory_parts_t now;
    flash_memory_parts(f, &now);
    index_stats_t is;
    index_stats(f->idx, &is);
    /* the index's address range is reserved at its capacity and grows in
     * place: bytes_max is the most it touches */
    out->index = (size_t)is.bytes_max;
    /* allocated once, at their full sizes */
    out->builders = now.builders;
    out->reclaim = now.reclaim;
    out->queues = now.queues;
    /* per worker (reader.c): the scratch record and the hit buffer; the
     * reads in flight, at most read_bytes_cap plus the one read always
     * allowed (a block, at most a record and its alignment); the pool of
     * 2 x io_depth window-sized read buffers; the kept ops */
    size_t window = (size_t)fl_round_up((uint64_t)f->s.block_size + FLASH_IO_ALIGN,
                                        FLASH_IO_ALIGN);
    size_t one_read = (size_t)f->max_record + 2 * FLASH_IO_ALIGN;
    if (one_read < window)
        one_read = window;
    size_t per_worker = 2 * (size_t)f->max_record + FLASH_KEY_MAX + f->s.read_bytes_cap +
                        one_read + 2 * (size_t)f->s.io_depth * window +
                        (size_t)MAX_FREE_OPS * OP_BYTES;
    out->workers = nworkers * per_worker;
    if (out->workers < now.workers)
        out->workers = now.workers;
    out->zstd = writer_zstd(f) + nworkers * ZSTD_estimateDCtxSize();
    /* every dictionary slot filled (content, CDict, DDict: ~4x its size),
     * and the trainer's samples and tables until it is done (then 0:
     * training happens once, its memory is freed and trimmed) */
    size_t dicts = 0;
    if (f->s.dict_size > 0 && f->s.compression_level != FLASH_LEVEL_NONE)
        dicts = FLASH_DICT_SLOTS * 4 * f->s.dict_size;
    if (dicts < flash_dicts_bytes(&f->dicts))
        dicts = flash_dicts_bytes(&f->dicts);
    out->dict = dicts + flash_dict_trainer_bytes(f->dtrain);
    /* the checkpoint's filters for a full index: the current and the next
     * one (each sized to the items, + 1024) and the extension filter (at
     * most as many keys), and the journal page */
    out->checkpoint = 0;
    if (f->s.checkpoint_ms > 0 || now.checkpoint > 0)
        out->checkpoint = 3 * bloom_bytes_for(is.capacity_max + 1024) + FLASH_JPAGE;
    if (out->checkpoint < now.checkpoint)
        out->checkpoint = now.checkpoint;
}
