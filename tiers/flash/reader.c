/*
 * tiers/flash/reader.c - the read path: flash_worker_t (aio ctx + eventfd,
 * zstd dctx, buffers), flash_lookup, completions. Contract: flash.h;
 * internals and lock order: flash_int.h.
 *
 * A lookup takes the index candidates of the hash (usually 0 or 1) and
 * tries them in order:
 *   - segment OPEN / WRITING: the block is read from its builder under the
 *     builder's lock (seg_lock -> bld_lock hand over hand), the record is
 *     copied out, and read_fn runs after the lock is dropped;
 *   - segment USED: one device read from the block's start (an aligned
 *     offset: blocks start at 512-B units) of the worker's current read
 *     length, a second read when the block header says it is longer; the
 *     segment's reader count is held while the read is in flight, and the
 *     generation captured at issue is checked in every block header;
 *   - anything else: next candidate.
 * A found record is returned only if it OWNS the slot that led to it
 * (flash_slot_owner): a block can hold a dead copy of a key (removed,
 * overwritten) next to a live key whose slot has the same tag, and that slot
 * must not resurrect the dead copy.
 *
 * Read length: the index does not know a block's stored length, so the
 * first read must guess. A compressed block is much shorter than the raw
 * block size (JSON values, 4 KiB raw with the dictionary: ~1 KB stored;
 * 16 KiB raw without: ~3.4 KB), so reading a fixed block_size + 4 KiB
 * window (the old way) moves several times the bytes needed. Each worker keeps a decaying histogram of the lengths it had
 * to read (block start to block end, in alignment units) and reads the
 * RD_COVER_PCT percentile of it, rounded to the device's alignment unit
 * (512 B here, not 4 KiB: the O_DIRECT rule is the logical block size).
 * The rest take a second read. Buffers stay sized for the largest window,
 * so adapting never reallocates.
 *
 * Submission is deferred (aio.h): the reads a worker issues in one event
 * loop pass leave with one io_submit.
 *
 * One read per distinct block: a lookup whose candidate block is already
 * being read by this worker (same segment, offset and generation) issues
 * nothing; it follows that read (the leader's) and is answered from the
 * same decoded block. Keys set together are spilled together, so a
 * multi-get of them costs one read and one decompression per block.
 *
 * Per worker at most io_depth reads and read_bytes_cap bytes are in flight
 * (one read always may be); the rest wait in a FIFO in user space.
 * Lock order: seg_lock -> bld_lock -> index; none is held across read_fn.
 * One thread uses a worker at a time; no globals.
 */
#include "flash/flash_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* read-length histogram: buckets of one alignment unit, the last one
 * collects everything longer */
#define RD_HIST 128
/* adapt after this many samples, then halve the counts (decay) */
#define RD_ADAPT_EVERY 256
/* the first read covers this share of recent blocks; the rest read twice */
#define RD_COVER_PCT 97

typedef struct rd_op {
    struct rd_op *next;
    uint64_t hash;
    unsigned tag;
    uint32_t epoch;
    char key[FLASH_KEY_MAX];
    size_t nkey;
    flash_read_fn fn;
    void *ctx;
    index_entry_t cand[INDEX_MAX_MATCHES];
    unsigned n, i;
    unsigned relooks;         /* index lookups redone (relook) */
    flash_status_e worst;     /* FLASH_MISS, or EIO / ECHECKSUM seen */
    /* the device read of candidate i */
    uint32_t seg, gen;
    uint8_t *buf;
    size_t cap;               /* bytes of buf */
    size_t have;              /* valid bytes in buf */
    size_t len;               /* bytes of the IO in flight */
    size_t skew;              /* block start within buf */
    uint64_t base;            /* device offset of buf[0] */
    flash_worker_t *fw;
    /* one read per block: a leader (its read in flight) is in the worker's
     * block table and lists the ops that wait on the same block */
    struct rd_op *hnext;      /* block table chain (leaders) */
    struct rd_op *followers;  /* leader: ops waiting on its block */
    struct rd_op *fnext;      /* follower list / a group being finished */
    bool leading;             /* in the block table */
} rd_op_t;

#define RD_BLK_SLOTS 256

struct flash_worker {
    flash_t *f;
    aio_ctx_t *aio;
    ZSTD_DCtx *dctx;
    uint8_t *scratch;         /* decompression, max_record bytes */
    uint8_t *hitbuf;          /* in-memory hit copy: key + value */
    size_t hitcap;
    rd_op_t *wait_head, *wait_tail;
    rd_op_t *free_ops;        /* without buffers */
    unsigned nfree_ops;
    rd_op_t *blk_ht[RD_BLK_SLOTS]; /* leaders by block (seg, offset) */
    uint8_t **free_bufs;      /* window-sized read buffers */
    unsigned nfree_bufs, max_free_bufs;
    unsigned inflight;
    size_t inflight_bytes;
    size_t window;            /* largest first read: block_size + 4 KiB */
    size_t rdlen;             /* current first-read length (adaptive) */
    uint32_t align;           /* device alignment unit */
    uint32_t hist[RD_HIST];   /* lengths needed, in alignment units */
    uint32_t nsamples;        /* since the last adaptation */
    size_t fixed_bytes;       /* scratch + hit buffer (worker_bytes) */
    size_t dctx_bytes;        /* the DCtx (worker_zstd_bytes) */
    unsigned depth;           /* nested read_fn calls */
    uint64_t errlog;
    bool closing;
};

/* Pools: an op is ~0.7 KB and a multi-get can park hundreds per worker; a
 * read buffer is needed only while its read is in flight or its block is
 * decoded, so io_depth of them (x2) cover a busy worker. */
#define FREE_OPS_MAX 1024

enum { ADV_HIT, ADV_DONE, ADV_PENDING };

static void mem_add(flash_t *f, size_t n)
{
    atomic_fetch_add_explicit(&f->worker_bytes, n, memory_order_relaxed);
}

static void mem_sub(flash_t *f, size_t n)
{
    atomic_fetch_sub_explicit(&f->worker_bytes, n, memory_order_relaxed);
}

/* ---- ops ---- */

static rd_op_t *op_get(flash_worker_t *fw)
{
    rd_op_t *op = fw->free_ops;
    if (op) {
        fw->free_ops = op->next;
        fw->nfree_ops--;
        memset(op, 0, sizeof *op);
    } else if ((op = calloc(1, sizeof *op))) {
        mem_add(fw->f, sizeof *op);
    }
    if (op)
        op->fw = fw;
    return op;
}

static void op_put(flash_worker_t *fw, rd_op_t *op)
{
    if (op->buf) {
        if (op->cap == fw->window && fw->nfree_bufs < fw->max_free_bufs && !fw->closing) {
            fw->free_bufs[fw->nfree_bufs++] = op->buf;
        } else {
            mem_sub(fw->f, op->cap);
            device_buf_free(op->buf);
        }
        op->buf = NULL;
        op->cap = 0;
    }
    if (fw->nfree_ops < FREE_OPS_MAX && !fw->closing) {
        op->next = fw->free_ops;
        fw->free_ops = op;
        fw->nfree_ops++;
        return;
    }
    mem_sub(fw->f, sizeof *op);
    free(op);
}

static void wait_push(flash_worker_t *fw, rd_op_t *op, bool front)
{
    op->next = NULL;
    if (!fw->wait_head) {
        fw->wait_head = fw->wait_tail = op;
    } else if (front) {
        op->next = fw->wait_head;
        fw->wait_head = op;
    } else {
        fw->wait_tail->next = op;
        fw->wait_tail = op;
    }
}

static rd_op_t *wait_pop(flash_worker_t *fw)
{
    rd_op_t *op = fw->wait_head;
    if (op) {
        fw->wait_head = op->next;
        if (!fw->wait_head)
            fw->wait_tail = NULL;
    }
    return op;
}

/* ---- the block table: one read per block ---- */

static unsigned blk_slot(uint32_t seg, uint32_t blkoff)
{
    return ((seg * 0x9E3779B1u) ^ (blkoff * 0x85EBCA6Bu)) >> 24; /* < RD_BLK_SLOTS */
}

static rd_op_t *blk_find(flash_worker_t *fw, uint32_t seg, uint32_t gen, uint32_t blkoff)
{
    for (rd_op_t *l = fw->blk_ht[blk_slot(seg, blkoff)]; l; l = l->hnext)
        if (l->seg == seg && l->gen == gen && l->cand[l->i].loc.offset == blkoff)
            return l;
    return NULL;
}

static void blk_lead(flash_worker_t *fw, rd_op_t *op)
{
    rd_op_t **head = &fw->blk_ht[blk_slot(op->seg, op->cand[op->i].loc.offset)];
    op->hnext = *head;
    *head = op;
    op->leading = true;
}

/* Takes the leader out of the table; returns the read's group: the leader
 * first, then its followers, chained by fnext. */
static rd_op_t *blk_group(flash_worker_t *fw, rd_op_t *op)
{
    if (op->leading) {
        rd_op_t **pp = &fw->blk_ht[blk_slot(op->seg, op->cand[op->i].loc.offset)];
        while (*pp && *pp != op)
            pp = &(*pp)->hnext;
        if (*pp)
            *pp = op->hnext;
        op->hnext = NULL;
        op->leading = false;
    }
    op->fnext = op->followers;
    op->followers = NULL;
    return op;
}

/* ---- helpers ---- */

static void release_reader(flash_t *f, uint32_t seg)
{
    pthread_mutex_lock(&f->seg_lock);
    if (--f->segs[seg].readers == 0)
        pthread_cond_broadcast(&f->seg_cond);
    pthread_mutex_unlock(&f->seg_lock);
}

static bool can_issue(const flash_worker_t *fw)
{
    const flash_t *f = fw->f;
    if (fw->inflight == 0)
        return true;
    return fw->inflight < f->s.io_depth && fw->inflight_bytes + fw->rdlen <= f->s.read_bytes_cap;
}

/* Records that a block needed `need` bytes from the read's start; every
 * RD_ADAPT_EVERY samples sets rdlen to cover RD_COVER_PCT of them. */
static void note_len(flash_worker_t *fw, size_t need)
{
    size_t units = (need + fw->align - 1) / fw->align;
    fw->hist[units < RD_HIST ? units : RD_HIST - 1]++;
    if (++fw->nsamples < RD_ADAPT_EVERY)
        return;
    uint64_t total = 0, cum = 0;
    for (unsigned i = 0; i < RD_HIST; i++)
        total += fw->hist[i];
    unsigned i = 0;
    for (; i < RD_HIST - 1; i++) {
        cum += fw->hist[i];
        if (cum * 100 >= total * RD_COVER_PCT)
            break;
    }
    size_t len = i == RD_HIST - 1 ? fw->window : (size_t)(i ? i : 1) * fw->align;
    fw->rdlen = len < fw->window ? len : fw->window;
    for (i = 0; i < RD_HIST; i++)
        fw->hist[i] /= 2;
    fw->nsamples = 0;
}

/* Calls read_fn for a hit whose record stays valid during the call. */
static void deliver_hit(flash_worker_t *fw, rd_op_t *op, const flash_record_t *rec)
{
    flash_t *f = fw->f;
    const index_entry_t *c = &op->cand[op->i];
    unsigned hits = 0;
    if (index_hit(f->idx, op->hash, c->loc, &hits) != INDEX_OK)
        hits = 0;
    FSTAT_ADD(f, flash_hits, 1);
    flash_hit_t h = {
        .key = rec->key,
        .nkey = rec->nkey,
        .value = rec->value,
        .nbytes = rec->nvalue,
        .flags = rec->flags,
        .exptime = rec->exptime,
        .cas = rec->cas,
        .store_time = rec->store_time,
        .marks = rec->marks,
        .hits = hits,
        .loc = flash_loc_pack(op->gen, op->epoch, c->loc.segment, c->loc.offset),
    };
    fw->depth++;
    op->fn(op->ctx, FLASH_OK, &h);
    fw->depth--;
}

/* Finds op's key in view v and checks it owns the candidate's slot. */
static bool find_owned(flash_worker_t *fw, rd_op_t *op, const flash_block_view_t *v,
                       flash_record_t *rec)
{
    if (flash_block_find(v, op->key, op->nkey, rec) != FLASH_BLK_OK)
        return false;
    return flash_slot_owner(fw->f, v, rec, op->tag, op->cand[op->i].bucket);
}

/*
 * Candidate in a builder b (caller holds bld_lock[b]): on a hit, copies the
 * record into `copy` (room for key + max record) and points *rec at it.
 */
static bool mem_lookup(flash_worker_t *fw, rd_op_t *op, int b, uint8_t *scratch,
                       uint8_t *copy, flash_record_t *rec)
{
    flash_t *f = fw->f;
    const index_entry_t *c = &op->cand[op->i];
    flash_block_loc_t loc = { c->loc.segment, op->gen, (uint16_t)c->loc.offset };
    flash_block_view_t v;
    if (flash_seg_view(f->bld[b], fw->dctx, &loc, scratch, f->max_record, &v) != FLASH_BLK_OK)
        return false;
    if (!find_owned(fw, op, &v, rec))
        return false;
    memcpy(copy, rec->key, rec->nkey);
    memcpy(copy + rec->nkey, rec->value, rec->nvalue);
    rec->key = (const char *)copy;
    rec->value = copy + rec->nkey;
    return true;
}

/* Tries candidate i from memory; ADV_HIT (read_fn called) or ADV_DONE. */
static int try_memory(flash_worker_t *fw, rd_op_t *op, int b)
{
    flash_t *f = fw->f;
    uint8_t *scratch = fw->scratch, *copy = fw->hitbuf;
    bool temp = fw->depth > 0; /* inside a read_fn: the shared buffers are busy */
    if (temp) {
        scratch = malloc(f->max_record);
        copy = malloc(fw->hitcap);
        if (!scratch || !copy) {
            free(scratch);
            free(copy);
            pthread_mutex_unlock(&f->bld_lock[b]);
            return ADV_DONE;
        }
    }
    flash_record_t rec;
    bool hit = mem_lookup(fw, op, b, scratch, copy, &rec);
    pthread_mutex_unlock(&f->bld_lock[b]);
    if (hit)
        deliver_hit(fw, op, &rec);
    if (temp) {
        free(scratch);
        free(copy);
    }
    return hit ? ADV_HIT : ADV_DONE;
}

static void read_done(void *arg, long res);

static bool submit(flash_worker_t *fw, rd_op_t *op, size_t off_in_buf, size_t len)
{
    flash_t *f = fw->f;
    op->len = len;
    int fd; /* a failed member's range does not map: the op fails (a miss) */
    uint64_t phys;
    if (!devset_map(f->set, op->base + off_in_buf, len, &fd, &phys) ||
        aio_read(fw->aio, fd, op->buf + off_in_buf, len, phys, read_done, op) != AIO_OK)
        return false;
    fw->inflight++;
    fw->inflight_bytes += len;
    return true;
}

static bool ensure_cap(flash_worker_t *fw, rd_op_t *op, size_t need)
{
    if (op->cap >= need)
        return true;
    if (op->cap == 0 && need <= fw->window && fw->nfree_bufs > 0) {
        op->buf = fw->free_bufs[--fw->nfree_bufs];
        op->cap = fw->window;
        return true;
    }
    uint8_t *nb = device_buf_alloc(need);
    if (!nb)
        return false;
    if (op->have)
        memcpy(nb, op->buf, op->have);
    mem_add(fw->f, need);
    mem_sub(fw->f, op->cap);
    device_buf_free(op->buf);
    op->buf = nb;
    op->cap = need;
    return true;
}

/* Issues the first read of candidate i (reader count already held). */
static bool issue_first(flash_worker_t *fw, rd_op_t *op)
{
    flash_t *f = fw->f;
    const index_entry_t *c = &op->cand[op->i];
    uint64_t seg_off = flash_seg_dev_off(f, c->loc.segment);
    uint64_t start = seg_off + (uint64_t)c->loc.offset * FLASH_UNIT;
    uint64_t align = fw->align;
    uint64_t base = start & ~(align - 1);
    uint64_t seg_end = seg_off + f->segsize;
    size_t len = (size_t)fl_round_up(start - base + fw->rdlen, align);
    if (base + len > seg_end)
        len = (size_t)(seg_end - base);
    op->base = base;
    op->skew = (size_t)(start - base);
    op->have = 0;
    if (!ensure_cap(fw, op, fw->window > len ? fw->window : len))
        return false;
    return submit(fw, op, 0, len);
}

/*
 * Walks the candidates from op->i: ADV_HIT (read_fn called), ADV_DONE (none
 * matched: the caller reports the miss) or ADV_PENDING (a read is in
 * flight or the op waits in the FIFO).
 */
static int advance(flash_worker_t *fw, rd_op_t *op, bool from_queue)
{
    flash_t *f = fw->f;
    while (op->i < op->n) {
        const index_entry_t *c = &op->cand[op->i];
        uint32_t seg = c->loc.segment;
        if (seg >= f->nseg || fw->closing) {
            op->i++;
            continue;
        }
        pthread_mutex_lock(&f->seg_lock);
        fseg_t *s = &f->segs[seg];
        if ((s->state == FSEG_OPEN || s->state == FSEG_WRITING) && s->bld >= 0) {
            int b = s->bld;
            op->gen = s->gen;
            pthread_mutex_lock(&f->bld_lock[b]);
            pthread_mutex_unlock(&f->seg_lock);
            if (try_memory(fw, op, b) == ADV_HIT) /* unlocks bld_lock[b] */
                return ADV_HIT;
            op->i++;
            continue;
        }
        if (s->state != FSEG_USED) {
            pthread_mutex_unlock(&f->seg_lock);
            op->i++;
            continue;
        }
        rd_op_t *lead = blk_find(fw, seg, s->gen, c->loc.offset);
        if (lead) {
            /* that block is being read: wait for it (the leader holds the
             * segment's reader count) */
            pthread_mutex_unlock(&f->seg_lock);
            op->gen = lead->gen;
            op->seg = seg;
            op->fnext = lead->followers;
            lead->followers = op;
            return ADV_PENDING;
        }
        if (!can_issue(fw) || (!from_queue && fw->wait_head)) {
            pthread_mutex_unlock(&f->seg_lock);
            wait_push(fw, op, from_queue);
            return ADV_PENDING;
        }
        s->readers++;
        op->gen = s->gen;
        op->seg = seg;
        pthread_mutex_unlock(&f->seg_lock);
        if (issue_first(fw, op)) {
            blk_lead(fw, op);
            return ADV_PENDING;
        }
        release_reader(f, seg);
        op->worst = FLASH_EIO;
        op->i++;
    }
    return ADV_DONE;
}

/* Reports a miss (or the worst error seen) and frees the op. */
static void finish_miss(flash_worker_t *fw, rd_op_t *op)
{
    flash_status_e st = fw->closing ? FLASH_MISS : op->worst;
    if (!fw->closing)
        FSTAT_ADD(fw->f, flash_misses, 1);
    fw->depth++;
    op->fn(op->ctx, st, NULL);
    fw->depth--;
    op_put(fw, op);
}

/*
 * None of the op's candidates held its key: looks the hash up again, at
 * most RD_RELOOKS times, and true (op->i back at 0) if the index now names
 * a location the op has not tried. Why: reclaim moves a live item's slot
 * to its rewritten copy and then frees the old segment; a read that took
 * the old location just before found that segment gone or the slot no
 * longer its own, and answered a miss for an item that was there all
 * along (fast ingest's recompression moves every item of a segment: 40-58
 * false misses of 29,600 keys read right after writes, bb_memlimit). The
 * epoch taken at the first lookup stays: a remove since then still makes
 * the hit stale (flash_loc_current).
 */
#define RD_RELOOKS 2
static bool relook(flash_worker_t *fw, rd_op_t *op)
{
    if (op->relooks >= RD_RELOOKS || fw->closing || op->worst != FLASH_MISS)
        return false;
    op->relooks++;
    index_entry_t cand[INDEX_MAX_MATCHES];
    unsigned n = index_lookup(fw->f->idx, op->hash, cand);
    bool fresh = false;
    for (unsigned k = 0; k < n && !fresh; k++) {
        bool tried = false;
        for (unsigned j = 0; j < op->n && !tried; j++)
            tried = cand[k].loc.segment == op->cand[j].loc.segment &&
                    cand[k].loc.offset == op->cand[j].loc.offset;
        fresh = !tried;
    }
    if (!fresh)
        return false;
    memcpy(op->cand, cand, n * sizeof cand[0]);
    op->n = n;
    op->i = 0;
    return true;
}

/* advance(), then again from a fresh lookup while relook() finds one. */
static int advance_relook(flash_worker_t *fw, rd_op_t *op, bool from_queue)
{
    int r = advance(fw, op, from_queue);
    while (r == ADV_DONE && relook(fw, op))
        r = advance(fw, op, from_queue);
    return r;
}

static void continue_op(flash_worker_t *fw, rd_op_t *op, bool from_queue)
{
    int r = advance_relook(fw, op, from_queue);
    if (r == ADV_HIT)
        op_put(fw, op);
    else if (r == ADV_DONE)
        finish_miss(fw, op);
}

static void log_read_error(flash_worker_t *fw, rd_op_t *op, long res)
{
    flash_t *f = fw->f;
    FSTAT_ADD(f, flash_read_errors, 1);
    fw->errlog++;
    if ((fw->errlog & (fw->errlog - 1)) == 0) /* 1st, 2nd, 4th, 8th ... */
        flash_log(f, "%s: read of %zu bytes at %llu (segment %u) failed: %s "
                  "(%llu read errors on this worker)", f->path, op->len,
                  (unsigned long long)(op->base + op->have), op->seg,
                  res < 0 ? strerror((int)-res) : "short read",
                  (unsigned long long)fw->errlog);
}

static void checksum_failure(flash_worker_t *fw, rd_op_t *op, flash_blk_status_e bs)
{
    flash_t *f = fw->f;
    FSTAT_ADD(f, flash_checksum_failures, 1);
    op->worst = FLASH_ECHECKSUM;
    bool log = false;
    pthread_mutex_lock(&f->seg_lock);
    if (f->segs[op->seg].gen == op->gen && !f->segs[op->seg].cksum_logged)
        log = f->segs[op->seg].cksum_logged = true;
    pthread_mutex_unlock(&f->seg_lock);
    if (log)
        flash_log(f, "%s: segment %u block %u failed validation: %s (logged once per "
                  "segment)", f->path, op->seg, op->cand[op->i].loc.offset,
                  flash_blk_strerror(bs));
    /* the slot leads nowhere useful any more */
    index_remove_location(f->idx, op->hash, op->seg);
}

/* The read of a group failed (IO error, bad block): every op of it goes on
 * to its next candidate; a bad block counts for each lookup it failed. */
static void group_failed(flash_worker_t *fw, rd_op_t *group, flash_status_e worst,
                         flash_blk_status_e bs)
{
    for (rd_op_t *o = group; o; o = o->fnext) {
        if (worst == FLASH_ECHECKSUM && bs != FLASH_BLK_ESTALE)
            checksum_failure(fw, o, bs);
        else if (worst == FLASH_EIO)
            o->worst = FLASH_EIO;
        o->i++;
    }
    for (rd_op_t *o = group, *next; o; o = next) {
        next = o->fnext;
        continue_op(fw, o, false);
    }
}

/* The group's block decoded into v: every op that finds its key gets its
 * hit (read_fn copies the record out); the others go on to their next
 * candidate, only once no one uses v any more (v may point into the
 * leader's buffer or the worker's scratch). */
static void group_opened(flash_worker_t *fw, rd_op_t *group, const flash_block_view_t *v)
{
    rd_op_t *done = NULL, *retry = NULL;
    for (rd_op_t *o = group, *next; o; o = next) {
        next = o->fnext;
        flash_record_t rec;
        if (find_owned(fw, o, v, &rec)) {
            deliver_hit(fw, o, &rec);
            o->fnext = done;
            done = o;
        } else {
            o->i++;
            o->fnext = retry;
            retry = o;
        }
    }
    for (rd_op_t *o = done, *next; o; o = next) {
        next = o->fnext;
        op_put(fw, o);
    }
    for (rd_op_t *o = retry, *next; o; o = next) {
        next = o->fnext;
        continue_op(fw, o, false);
    }
}

static void read_done(void *arg, long res)
{
    rd_op_t *op = arg;
    flash_worker_t *fw = op->fw;
    flash_t *f = fw->f;
    fw->inflight--;
    fw->inflight_bytes -= op->len;
    if (fw->closing) {
        release_reader(f, op->seg);
        for (rd_op_t *o = blk_group(fw, op), *next; o; o = next) {
            next = o->fnext;
            finish_miss(fw, o);
        }
        return;
    }
    if (res < 0 || (size_t)res < op->len) {
        log_read_error(fw, op, res);
        devset_fail(f->set, devset_member_of_seg(f->set, op->seg),
                    res < 0 ? strerror((int)-res) : "short read");
        release_reader(f, op->seg);
        group_failed(fw, blk_group(fw, op), FLASH_EIO, FLASH_BLK_OK);
        return;
    }
    FSTAT_ADD(f, flash_bytes_read, (uint64_t)res);
    op->have += (size_t)res;
    const uint8_t *blk = op->buf + op->skew;
    size_t avail = op->have - op->skew;
    flash_block_hdr_t h;
    flash_blk_status_e bs = flash_block_header(blk, avail, &h);
    if (bs == FLASH_BLK_OK) {
        size_t total = flash_block_total_len(&h);
        uint64_t seg_end = flash_seg_dev_off(f, op->seg) + f->segsize;
        if (op->have == op->len) /* the first read: learn the length */
            note_len(fw, op->skew + total);
        if (total > avail && op->base + op->skew + total <= seg_end) {
            size_t need = (size_t)fl_round_up(op->skew + total, fw->align);
            if (op->base + need > seg_end)
                need = (size_t)(seg_end - op->base);
            if (ensure_cap(fw, op, need) && submit(fw, op, op->have, need - op->have))
                return; /* still leading: followers wait for the rest */
            log_read_error(fw, op, -ENOMEM);
            release_reader(f, op->seg);
            group_failed(fw, blk_group(fw, op), FLASH_EIO, FLASH_BLK_OK);
            return;
        }
        flash_block_loc_t expect = { op->seg, op->gen, (uint16_t)op->cand[op->i].loc.offset };
        flash_block_view_t v;
        bs = flash_block_open(blk, avail, &expect, fw->dctx, &f->dicts, fw->scratch, f->max_record, &v);
        if (bs == FLASH_BLK_OK) {
            release_reader(f, op->seg);
            group_opened(fw, blk_group(fw, op), &v);
            return;
        }
    }
    release_reader(f, op->seg);
    group_failed(fw, blk_group(fw, op), FLASH_ECHECKSUM, bs);
}

/* ---- API ---- */

flash_status_e flash_worker_create(flash_t *f, flash_worker_t **out)
{
    *out = NULL;
    flash_worker_t *fw = calloc(1, sizeof *fw);
    if (!fw)
        return FLASH_ENOMEM;
    fw->f = f;
    fw->window = (size_t)fl_round_up(f->s.block_size + FLASH_IO_ALIGN, FLASH_IO_ALIGN);
    fw->rdlen = fw->window;
    fw->align = devset_block_size(f->set);
    fw->hitcap = FLASH_KEY_MAX + f->max_record;
    fw->dctx = ZSTD_createDCtx();
    fw->scratch = malloc(f->max_record);
    fw->hitbuf = malloc(fw->hitcap);
    fw->max_free_bufs = 2 * f->s.io_depth;
    fw->free_bufs = calloc(fw->max_free_bufs, sizeof *fw->free_bufs);
    char err[200];
    if (!fw->dctx || !fw->scratch || !fw->hitbuf || !fw->free_bufs ||
        aio_ctx_create(&fw->aio, f->s.io_depth, err, sizeof err) != AIO_OK) {
        bool allocated = fw->dctx && fw->scratch && fw->hitbuf && fw->free_bufs;
        if (allocated)
            flash_log(f, "%s: worker aio context: %s", f->path, err);
        flash_status_e st = allocated ? FLASH_EIO : FLASH_ENOMEM;
        ZSTD_freeDCtx(fw->dctx);
        free(fw->scratch);
        free(fw->hitbuf);
        free(fw->free_bufs);
        free(fw);
        return st;
    }
    aio_ctx_set_deferred(fw->aio, true);
    fw->fixed_bytes = f->max_record + fw->hitcap;
    mem_add(f, fw->fixed_bytes);
    fw->dctx_bytes = ZSTD_sizeof_DCtx(fw->dctx); /* flash_memory_parts: zstd */
    atomic_fetch_add_explicit(&f->worker_zstd_bytes, fw->dctx_bytes, memory_order_relaxed);
    *out = fw;
    return FLASH_OK;
}

void flash_worker_destroy(flash_worker_t **pfw)
{
    if (!pfw || !*pfw)
        return;
    flash_worker_t *fw = *pfw;
    flash_t *f = fw->f;
    fw->closing = true;
    aio_ctx_destroy(&fw->aio); /* in-flight reads finish: read_done -> MISS */
    rd_op_t *op;
    while ((op = wait_pop(fw)))
        finish_miss(fw, op);
    while ((op = fw->free_ops)) {
        fw->free_ops = op->next;
        mem_sub(f, sizeof *op);
        free(op);
    }
    while (fw->nfree_bufs > 0) {
        mem_sub(f, fw->window);
        device_buf_free(fw->free_bufs[--fw->nfree_bufs]);
    }
    free(fw->free_bufs);
    mem_sub(f, fw->fixed_bytes);
    atomic_fetch_sub_explicit(&f->worker_zstd_bytes, fw->dctx_bytes, memory_order_relaxed);
    ZSTD_freeDCtx(fw->dctx);
    free(fw->scratch);
    free(fw->hitbuf);
    free(fw);
    *pfw = NULL;
}

int flash_worker_fd(const flash_worker_t *fw) { return aio_ctx_fd(fw->aio); }

void flash_worker_poll(flash_worker_t *fw)
{
    aio_ctx_poll(fw->aio);
    while (fw->wait_head && can_issue(fw)) {
        rd_op_t *op = wait_pop(fw);
        continue_op(fw, op, true);
        if (fw->wait_head == op) /* could not issue after all: pushed back */
            break;
    }
}

flash_status_e flash_lookup(flash_worker_t *fw, uint64_t hash, const char *key, size_t nkey,
                            flash_read_fn fn, void *ctx)
{
    flash_t *f = fw->f;
    if (nkey == 0 || nkey > FLASH_KEY_MAX || !fn)
        return FLASH_MISS;
    uint32_t epoch = atomic_load_explicit(&f->epoch[flash_epoch_slot(hash)],
                                          memory_order_acquire);
    index_entry_t cand[INDEX_MAX_MATCHES];
    unsigned n = index_lookup(f->idx, hash, cand);
    if (n == 0)
        return FLASH_MISS;
    rd_op_t *op = op_get(fw);
    if (!op)
        return FLASH_MISS;
    op->hash = hash;
    op->tag = index_tag(f->idx, hash);
    op->epoch = epoch;
    memcpy(op->key, key, nkey);
    op->nkey = nkey;
    op->fn = fn;
    op->ctx = ctx;
    memcpy(op->cand, cand, n * sizeof cand[0]);
    op->n = n;
    op->relooks = 0;
    op->worst = FLASH_MISS;
    int r = advance_relook(fw, op, false);
    if (r == ADV_PENDING)
        return FLASH_PENDING;
    op_put(fw, op);
    if (r == ADV_HIT)
        return FLASH_OK;
    FSTAT_ADD(f, flash_misses, 1);
    return FLASH_MISS;
}
