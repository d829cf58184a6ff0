/*
 * tiers/flash/ingest.c - keeping up with a fast load (issue 14 item 3).
 * zstd is about a third of the server's CPU during a load at full client
 * speed, and the writer is one thread: when it falls behind, it compresses
 * less rather than slow the clients. While clients wait for it during a
 * fast load (FLASH_FAST_WINDOW_MS and the rules next to it in
 * flash_int.h), new blocks are stored raw (codec 0, a format every
 * version reads); the segments holding such blocks are counted
 * (fseg_t.fast_blocks, f->fast_segs). Once no item came for
 * FLASH_INGEST_IDLE_MS, the writer recompresses: it seals a partly filled
 * open segment that holds raw blocks, then reclaims the ring's tail
 * rewriting every live item (FLASH_RECLAIM_ALL: the rewrites go into
 * compressed blocks), one segment per idle turn, until no segment with raw
 * blocks is left. Raw blocks are only written while a quarter of the
 * segments is free, and a step needs two free segments, so recompression
 * never drops a live item for lack of room. Blocks zstd cannot shrink are
 * stored raw at any time (block.c) and are not recompressed.
 *
 * A step reads a whole segment and recompresses its items: while flash
 * reads are being served it would compete with them for the CPUs and the
 * device (reads right after a load fell to 0.27x of memcached-ext's from
 * 0.39x), so it yields to them (flash_ingest_step_wait): while flash hits
 * keep coming, one step per FLASH_INGEST_BUSY_STEP_MS; at full speed once
 * they pause for FLASH_INGEST_READ_QUIET_MS.
 *
 * On by default (flash_settings_t.fast_ingest; -o no_flash_fast_ingest
 * turns it off): with it a load at full client speed runs at 0.87x
 * memcached-ext's rate, without it 0.59x (zstd on the one writer thread
 * is the limit), and flash reads right after a 16x load are as fast with
 * it as without (55k ops/s both; bench/RESULTS.md, issue 14 item 3). The
 * price: raw blocks cost about 4x the device writes during such a load
 * (1.28 bytes written per logical byte, then 0.27 once recompressed,
 * against 0.27 throughout).
 *
 * Which segments hold raw blocks is known in memory only: after a restart,
 * raw blocks stay raw until reclaim rewrites their items.
 * Writer thread only, no locks of its own (seg_lock around the ring).
 */
#include "flash/flash_int.h"

void flash_ingest_force(flash_t *f, int mode)
{
    atomic_store_explicit(&f->ingest_force, mode, memory_order_relaxed);
    pthread_mutex_lock(&f->q_lock); /* an idle writer looks again */
    pthread_cond_broadcast(&f->q_nonempty);
    pthread_mutex_unlock(&f->q_lock);
}

void flash_ingest_pace(flash_t *f, unsigned taken)
{
    int force = atomic_load_explicit(&f->ingest_force, memory_order_relaxed);
    if (force) {
        f->wr_fast = force == 1;
        return;
    }
    int64_t now = flash_mono_ms();
    f->wr_win_items += taken;
    if (now - f->wr_win_start < FLASH_FAST_WINDOW_MS)
        return;
    uint64_t waits = flash_done_waits(f);
    bool behind = f->wr_win_items >= FLASH_FAST_MIN_ITEMS && waits != f->wr_seen_waits;
    /* stored atomically: workers read it (flash_load_behind_hint) */
    __atomic_store_n(&f->wr_behind, behind ? f->wr_behind + 1 : 0, __ATOMIC_RELAXED);
    f->wr_seen_waits = waits;
    f->wr_win_start = now;
    f->wr_win_items = 0;
    uint32_t nfree = f->nseg - f->nring; /* nring changes on this thread only */
    bool room = (uint64_t)nfree * FLASH_FAST_FREE_DIV > f->nseg;
    f->wr_fast = f->s.fast_ingest && f->s.compression_level != FLASH_LEVEL_NONE && room &&
                 f->wr_behind >= FLASH_FAST_WINDOWS;
}

/* Raw blocks in the open segment (written while behind). */
static bool open_has_fast(const flash_t *f)
{
    if (f->open_bld < 0)
        return false;
    uint32_t nfast, nincomp;
    flash_seg_block_counts(f->bld[f->open_bld], &nfast, &nincomp);
    return nfast > 0;
}

bool flash_load_behind_hint(const flash_t *f)
{
    return __atomic_load_n(&f->wr_behind, __ATOMIC_RELAXED) > 0;
}

bool flash_ingest_pending(const flash_t *f)
{
    if (f->in_reclaim || (f->fast_segs == 0 && !open_has_fast(f)) ||
        atomic_load_explicit(&f->ingest_force, memory_order_relaxed) == 1)
        return false;
    return f->nseg - f->nring >= 2;
}

unsigned flash_ingest_step_wait(flash_t *f, int64_t now)
{
    uint64_t hits = atomic_load_explicit(&f->st.flash_hits, memory_order_relaxed);
    if (hits != f->ing_seen_hits) {
        f->ing_seen_hits = hits;
        f->ing_read_ms = now;
    }
    int64_t wait = f->wr_last_item_ms + FLASH_INGEST_IDLE_MS - now;
    int64_t since_read = now - f->ing_read_ms;
    if (f->ing_read_ms != 0 && since_read < FLASH_INGEST_READ_QUIET_MS) {
        /* reads are being served: until they pause, or the next paced step */
        int64_t pause = FLASH_INGEST_READ_QUIET_MS - since_read;
        int64_t paced = f->ing_step_ms + FLASH_INGEST_BUSY_STEP_MS - now;
        int64_t w = pause < paced ? pause : paced;
        if (w > wait)
            wait = w;
    }
    return wait > 0 ? (unsigned)wait : 0;
}

bool flash_ingest_idle_step(flash_t *f)
{
    if (!flash_ingest_pending(f))
        return false;
    f->ing_step_ms = flash_mono_ms();
    f->wr_fast = false; /* idle: caught up */
    if (open_has_fast(f))
        return flash_writer_rotate(f) == FLASH_OK; /* sealed: in the ring */
    if (f->open_bld < 0 && flash_writer_rotate(f) != FLASH_OK)
        return false; /* the rewrites need an open segment */
    pthread_mutex_lock(&f->seg_lock);
    uint32_t tail = f->tail;
    bool ready = f->nring > 0 && f->segs[tail].state == FSEG_USED && f->walks == 0;
    pthread_mutex_unlock(&f->seg_lock);
    if (!ready)
        return false; /* still being written, or a walk runs: next turn */
    /* the step reads a whole segment into the reclaim buffer: the builder
     * that is neither open nor being written gives its pages back first,
     * so the step's peak is the open builder and that buffer, as a load's
     * is the two builders (json8x at -m 16 peaked 8 MiB higher, 51 against
     * 43 MiB, with fast ingest on before this) */
    for (int b = 0; b < FLASH_NBUILDERS; b++) {
        if (b == f->open_bld || f->bld_busy[b])
            continue;
        pthread_mutex_lock(&f->bld_lock[b]); /* a reader may still be in it */
        flash_seg_release_memory(f->bld[b]);
        pthread_mutex_unlock(&f->bld_lock[b]);
    }
    if (!flash_reclaim_tail(f, FLASH_RECLAIM_ALL))
        return false;
    FSTAT_ADD(f, flash_recompress_segments, 1);
    return true;
}
