/*
 * tiers/tiering.c - the flash glue: see tiering.h for what it does, ram.h
 * ("flash spill") for the RAM side of evictions, flash/flash.h for the
 * flash tier's contract.
 *
 * A request that misses RAM becomes a tr_req_t. Its life:
 *
 *   RAM op (RAM_F_DEFER) --PENDING--> flash_lookup --MISS--> RAM op again
 *        |                               |  (without DEFER: the final answer)
 *        v final                         v read_cb (now, or later from poll)
 *     answer                      apply_read: dead record -> remove, RAM op again
 *                                 get: promote (install) or a temporary item
 *                                 delete: remove if still current
 *                                 others: install, then RAM op again
 *
 * "Still current" (ram_install): under the key's stripe lock, no RAM item,
 * no ghost, flash_loc_current(). Otherwise the request starts over (at most
 * TIER_MAX_TRIES flash lookups; then RAM decides alone).
 *
 * Per-key order on one worker: a request that goes asynchronous registers
 * as the head of its key (inflight list); requests for the same key that
 * arrive meanwhile queue behind it (waiters, FIFO) and run when it is done.
 *
 * Lock order: none of this file's own (the worker is single-threaded);
 * ram stripe lock -> flash locks through the hooks; flash_enqueue,
 * flash_lookup and flash_complete are called holding no lock (on_written
 * runs under flash's completion lock, outermost, and takes the stripe).
 */
#include "tiering.h"
#include "tiering_int.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flash/block.h"
#include "flash/flash.h"
#include "flash/format.h"

static inline void cnt(_Atomic uint64_t *p)
{
    atomic_fetch_add_explicit(p, 1, memory_order_relaxed);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- RAM hooks (called under the key's stripe lock) ---- */

static ram_spill_e hook_evict(void *ctx, ram_t *r, item_t *it, uint64_t hv)
{
    (void)r;
    (void)hv;
    tier_t *t = ctx;
    if (flash_admit(t->f, item_nkey(it), it->nbytes, (int64_t)it->exptime) != FLASH_OK) {
        cnt(&t->drops_admission);
        return RAM_SPILL_DROP;
    }
    return RAM_SPILL_QUEUE;
}

static void hook_changed(void *ctx, uint64_t hv)
{
    tier_t *t = ctx;
    flash_remove(t->f, hv);
}

static void hook_moved(void *ctx, uint64_t hv)
{
    tier_t *t = ctx;
    flash_forget(t->f, hv);
}

static bool hook_current(void *ctx, uint64_t hv, uint64_t loc)
{
    tier_t *t = ctx;
    return flash_loc_current(t->f, hv, loc);
}

static bool hook_indexed(void *ctx, uint64_t hv, uint64_t loc)
{
    tier_t *t = ctx;
    return flash_loc_indexed(t->f, hv, loc);
}

/* ext_item_age (ram_age_spill): would flash take it? Counts nothing. */
static bool hook_admit(void *ctx, const item_t *it)
{
    tier_t *t = ctx;
    return flash_admit(t->f, item_nkey(it), it->nbytes, (int64_t)it->exptime) == FLASH_OK;
}

/* written_fn: inside flash_complete (a worker short of memory) or on the
 * flash writer thread; only flash's completion lock held. */
static void on_written(void *ctx, void *token, flash_status_e st)
{
    tier_t *t = ctx;
    ram_spill_done(t->r, token, st == FLASH_OK);
}

/* The flash writer's view of a RAM item. */
static flash_wr_item_t wr_item(item_t *it)
{
    flash_wr_item_t wi = {
        .key = item_ckey(it),
        .nkey = item_nkey(it),
        .value = item_cvalue(it),
        .nbytes = it->nbytes,
        .flags = item_flags_get(it),
        .exptime = (int64_t)it->exptime,
        .cas = it->cas,
        .store_time = (int64_t)it->time,
        .marks = (uint8_t)(item_marks(it) |
                           ((item_iflags(it) & ITEM_FETCHED) ? FLASH_REC_FETCHED : 0)),
        .hash = hash_key(item_ckey(it), item_nkey(it)),
        .token = it,
    };
    return wi;
}

/* Hands items made pending to the flash writer. No lock held: may wait up
 * to stall_ms for queue space (back-pressure); a refusal is a drop. */
static void spill_enqueue(tier_t *t, item_t *list)
{
    while (list) {
        item_t *it = list;
        list = it->next;
        it->next = NULL;
        flash_wr_item_t wi = wr_item(it);
        if (flash_enqueue(t->f, &wi) != FLASH_OK)
            ram_spill_done(t->r, it, false); /* counted by the flash tier */
    }
}

/* ram_flash_hooks_t.enqueue: items a slab page move evicts spill like LRU
 * evictions do. */
static void hook_enqueue(void *ctx, item_t *list)
{
    spill_enqueue(ctx, list);
}

/* flash_settings_t.ram_state: what a crash checkpoint keeps of RAM */
static void ram_state(void *ctx, flash_persist_state_t *out)
{
    tier_t *t = ctx;
    out->flush_oldest_live = atomic_load_explicit(&t->r->oldest_live, memory_order_relaxed);
    out->flush_oldest_cas = atomic_load_explicit(&t->r->oldest_cas, memory_order_relaxed);
    out->max_cas = atomic_load_explicit(&t->r->cas_id, memory_order_relaxed);
}

void tier_note_mutation(tier_t *t, const char *key, size_t nkey)
{
    if (flash_checkpoint_active(t->f)) /* else nothing to keep: no hash */
        flash_note_mutation(t->f, hash_key(key, nkey));
}

/* ---- create / destroy ---- */

cache_status_e tier_create(tier_t **out, ram_t *r, const cache_settings_t *s)
{
    *out = NULL;
    tier_t *t = calloc(1, sizeof *t);
    if (!t)
        return CACHE_NO_MEMORY;
    t->r = r;
    t->promote = s->flash_promote;
    t->promote_rate = s->flash_promote_rate;
    pthread_mutex_init(&t->walk_lock, NULL);
    t->stall_ms = s->flash.stall_ms;

    flash_settings_t fs = s->flash; /* the rest is wiring and derived */
    if (s->flash_index_mem)
        fs.index_capacity = s->flash_index_mem * 9 / TIER_INDEX_BYTES_PER_9_ITEMS;
    fs.clock = s->ram.clock;
    fs.clock_ctx = s->ram.clock_ctx;
    t->segment_size = fs.segment_size;
    fs.ram_state = ram_state;
    fs.ram_state_ctx = t;
    fs.written = on_written;
    fs.written_ctx = t;

    char note[512];
    flash_status_e st = flash_create(&t->f, &fs, note, sizeof note);
    if (s->err && s->err_len)
        snprintf(s->err, s->err_len, "%s", note);
    if (st != FLASH_OK) {
        pthread_mutex_destroy(&t->walk_lock);
        free(t);
        return st == FLASH_ENOMEM ? CACHE_NO_MEMORY : CACHE_EINVAL;
    }
    /* a clean shutdown's RAM state: flush horizon and the cas counter (new
     * cas values stay above every old one) */
    flash_recovery_t rec;
    flash_recovery(t->f, &rec);
    if (rec.kind == FLASH_RECOVERY_CLEAN || rec.kind == FLASH_RECOVERY_CHECKPOINT) {
        uint64_t cas = atomic_load_explicit(&r->cas_id, memory_order_relaxed);
        if (rec.max_cas > cas)
            atomic_store_explicit(&r->cas_id, rec.max_cas, memory_order_relaxed);
        if (rec.flush_oldest_live > 0) {
            atomic_store_explicit(&r->oldest_cas, rec.flush_oldest_cas,
                                  memory_order_relaxed);
            atomic_store_explicit(&r->oldest_live, (rel_time_t)rec.flush_oldest_live,
                                  memory_order_relaxed);
            ram_crawl_note(r, (rel_time_t)rec.flush_oldest_live);
        }
    }
    ram_flash_hooks_t h = {
        .ctx = t,
        .evict = hook_evict,
        .changed = hook_changed,
        .moved = hook_moved,
        .current = hook_current,
        .indexed = hook_indexed,
        .keeps_marks = true, /* records carry the meta marks (format 2) */
        .enqueue = hook_enqueue,
        .admit = hook_admit,
    };
    if (!ram_flash_attach(r, &h)) {
        flash_destroy(&t->f);
        pthread_mutex_destroy(&t->walk_lock);
        free(t);
        return CACHE_NO_MEMORY;
    }
    *out = t;
    return CACHE_OK;
}

typedef struct persist_ctx {
    tier_t *t;
    rel_time_t now;
    item_t **v;
    size_t n, cap;
    bool nomem;
} persist_ctx_t;

/* hash walk callback (stripe held): picks the live items flash lacks */
static bool persist_pick(void *arg, item_t *it, uint64_t hv)
{
    persist_ctx_t *pc = arg;
    ram_t *r = pc->t->r;
    if (item_lru(it) == LRU_PENDING)
        return true; /* the writer has it (waited for: does not happen) */
    if ((it->exptime != 0 && it->exptime <= pc->now) || ram_item_is_flushed(r, it, pc->now))
        return true;
    uint64_t loc = ram_item_flash_loc(r, it);
    if (loc && flash_loc_indexed(pc->t->f, hv, loc))
        return true; /* an unmodified promoted copy: flash has it */
    if (pc->n == pc->cap) {
        size_t cap = pc->cap ? pc->cap * 2 : 4096;
        item_t **nv = realloc(pc->v, cap * sizeof *nv);
        if (!nv) {
            pc->nomem = true;
            return false;
        }
        pc->v = nv;
        pc->cap = cap;
    }
    item_refcount_incr(it);
    pc->v[pc->n++] = it;
    return true;
}

void tier_persist(tier_t *t)
{
    ram_t *r = t->r;
    /* the items already in the writer's hands come back first (bounded:
     * a failing device drops them) */
    int64_t deadline = mono_ms() + 30000;
    while (atomic_load_explicit(&r->pending, memory_order_acquire) > 0 && mono_ms() < deadline) {
        flash_complete(t->f, UINT32_MAX);
        flash_complete_wait(t->f, 10);
    }
    persist_ctx_t pc = {.t = t, .now = ram_now(r)};
    uint64_t pos = 0;
    while (hash_walk_step(&r->hash, &pos, 256, persist_pick, &pc))
        ;
    uint64_t queued = 0, refused = 0;
    for (size_t i = 0; i < pc.n; i++) {
        flash_wr_item_t wi = wr_item(pc.v[i]);
        if (flash_enqueue_persist(t->f, &wi) == FLASH_OK)
            queued++;
        else
            refused++;
    }
    flash_persist_state_t ps = {
        .flush_oldest_live = atomic_load_explicit(&r->oldest_live, memory_order_relaxed),
        .flush_oldest_cas = atomic_load_explicit(&r->oldest_cas, memory_order_relaxed),
        .max_cas = atomic_load_explicit(&r->cas_id, memory_order_relaxed),
        .ram_items = queued,
        .ram_refused = refused + (pc.nomem ? 1 : 0),
    };
    flash_persist_report_t rep;
    char err[256];
    (void)flash_persist(t->f, &ps, &rep, err, sizeof err); /* logs itself */
    for (size_t i = 0; i < pc.n; i++)
        ram_item_release(r, pc.v[i]);
    free(pc.v);
}

void tier_destroy_unstarted(tier_t **tp)
{
    if (!tp || !*tp)
        return;
    if (flash_file_created((*tp)->f))
        flash_destroy_unstarted(&(*tp)->f);
    else
        tier_persist(*tp); /* what it recovered stays for the next start */
    tier_destroy(tp);
}

void tier_destroy(tier_t **tp)
{
    if (!tp || !*tp)
        return;
    tier_t *t = *tp;
    flash_destroy(&t->f); /* pending items are done (on_written) first */
    pthread_mutex_destroy(&t->walk_lock);
    free(t);
    *tp = NULL;
}

size_t tier_memory(const tier_t *t)
{
    return flash_memory(t->f) + ((size_t)1 << RAM_GHOST_BITS) * sizeof(uint32_t);
}

void tier_flush(tier_t *t)
{
    flash_note_flush(t->f);
    flash_set_flush(t->f, atomic_load_explicit(&t->r->oldest_live, memory_order_relaxed));
}

/* ---- workers ---- */

cache_status_e tier_worker_create(tier_t *t, ram_wstats_t *ws, tier_worker_t **out)
{
    *out = NULL;
    tier_worker_t *tw = calloc(1, sizeof *tw);
    if (!tw)
        return CACHE_NO_MEMORY;
    tw->scratch = calloc(1, sizeof *tw->scratch);
    if (!tw->scratch || flash_worker_create(t->f, &tw->fw) != FLASH_OK) {
        free(tw->scratch);
        free(tw);
        return CACHE_NO_MEMORY;
    }
    tw->t = t;
    tw->r = t->r;
    tw->ws = ws;
    *out = tw;
    return CACHE_OK;
}

static void run_ready(tier_worker_t *tw);

void tier_worker_destroy(tier_worker_t **twp)
{
    if (!twp || !*twp)
        return;
    tier_worker_t *tw = *twp;
    tier_walk_finish(tw, true);
    /* in-flight reads end as misses (read_cb -> ready); then RAM decides */
    flash_worker_destroy(&tw->fw);
    run_ready(tw);
    free(tw->scratch);
    free(tw);
    *twp = NULL;
}

int tier_worker_fd(const tier_worker_t *tw)
{
    return tw->fw ? flash_worker_fd(tw->fw) : -1;
}

/* ---- per-key order ---- */

static tr_req_t *inflight_find(tier_worker_t *tw, uint64_t hv, const char *key, size_t nkey)
{
    if (tw->nheads == 0)
        return NULL;
    for (tr_req_t *q = tw->iflt[hv % TIER_IFLT_SLOTS]; q; q = q->inext)
        if (q->hv == hv && q->nkey == nkey && memcmp(q->key, key, nkey) == 0)
            return q;
    return NULL;
}

static void inflight_add(tier_worker_t *tw, tr_req_t *q)
{
    tr_req_t **head = &tw->iflt[q->hv % TIER_IFLT_SLOTS];
    q->registered = true;
    q->inext = *head;
    *head = q;
    tw->nheads++;
}

static void inflight_del(tier_worker_t *tw, tr_req_t *q)
{
    for (tr_req_t **pp = &tw->iflt[q->hv % TIER_IFLT_SLOTS]; *pp; pp = &(*pp)->inext) {
        if (*pp == q) {
            *pp = q->inext;
            break;
        }
    }
    q->registered = false;
    tw->nheads--;
}

static void ready_push(tier_worker_t *tw, tr_req_t *q)
{
    q->next = NULL;
    if (tw->ready_tail)
        tw->ready_tail->next = q;
    else
        tw->ready_head = q;
    tw->ready_tail = q;
}

static tr_req_t *ready_pop(tier_worker_t *tw)
{
    tr_req_t *q = tw->ready_head;
    if (q) {
        tw->ready_head = q->next;
        if (!tw->ready_head)
            tw->ready_tail = NULL;
        q->next = NULL;
    }
    return q;
}

/* ---- one request ---- */

static unsigned req_rflags(const tr_req_t *q)
{
    unsigned f = (q->started ? RAM_F_RERUN : 0) | q->nobump;
    if (!q->flash_absent && q->tries < TIER_MAX_TRIES)
        f |= RAM_F_DEFER;
    /* a delete that gave up reading flash (its copy kept changing under
     * it) still removes it: else the deleted value stays findable */
    if (!q->flash_absent && q->tries >= TIER_MAX_TRIES &&
        (q->op == TR_DELETE || q->op == TR_UNLINK))
        f |= RAM_F_FLASHDROP;
    return f;
}

/* The RAM operation of q; fills q->res unless it returns CACHE_PENDING. */
static cache_status_e ram_op(tr_req_t *q)
{
    tier_worker_t *tw = q->tw;
    ram_t *r = tw->r;
    unsigned rf = req_rflags(q);
    item_t *spill = NULL;
    cache_status_e st;
    memset(&q->res, 0, sizeof q->res);
    switch (q->op) {
    case TR_GET:
    case TR_GAT:
        st = ram_get(r, tw->ws, q->key, q->nkey, q->op == TR_GET ? RAM_GET : RAM_GAT,
                     q->exptime, &q->res.item, rf);
        break;
    case TR_TOUCH:
        st = ram_get(r, tw->ws, q->key, q->nkey, RAM_TOUCH, q->exptime, NULL, rf);
        break;
    case TR_STORE:
        st = ram_store(r, tw->ws, q->it, q->sop, q->cas_in, &q->res.cas, rf, &spill);
        break;
    case TR_DELETE:
    case TR_UNLINK:
        st = ram_delete(r, tw->ws, q->key, q->nkey, q->op == TR_DELETE, rf);
        break;
    case TR_ARITH:
    default:
        st = ram_arith(r, tw->ws, q->key, q->nkey, q->incr, q->delta, &q->res.value,
                       &q->res.cas, rf, &spill);
        break;
    }
    q->started = true;
    spill_enqueue(tw->t, spill);
    if (st != CACHE_PENDING)
        q->res.status = st;
    return st;
}

/* flash_read_fn: copies the record out (valid only during the call). */
static void read_cb(void *ctx, flash_status_e st, const flash_hit_t *hit)
{
    tr_req_t *q = ctx;
    q->rec = NULL;
    q->read_nomem = false;
    if (st == FLASH_OK && hit) {
        int64_t e = hit->exptime;
        rel_time_t exptime = e <= 0 ? 0 : e > (int64_t)UINT32_MAX - 1 ? UINT32_MAX - 1
                                                                      : (rel_time_t)e;
        q->rec = ram_item_temp(hit->key, hit->nkey, hit->flags, exptime, hit->cas,
                               hit->nbytes);
        if (q->rec) {
            memcpy(item_value(q->rec), hit->value, hit->nbytes);
            int64_t s = hit->store_time;
            q->store_time = s <= 0 ? 0 : s > (int64_t)UINT32_MAX ? UINT32_MAX : (rel_time_t)s;
            /* What the RAM item knew: its meta marks, its last access
             * (the record's store time is the item's `time` at spill),
             * and "fetched" once the flash copy was read before. */
            item_marks_or(q->rec, hit->marks & ~FLASH_REC_FETCHED);
            q->rec->time = q->store_time;
            if ((hit->marks & FLASH_REC_FETCHED) || hit->hits >= 2)
                item_set_iflag(q->rec, ITEM_FETCHED);
            q->hits = hit->hits;
            q->loc = hit->loc;
        } else {
            q->read_nomem = true;
        }
    }
    q->have_read = true;
    if (!q->in_lookup)
        ready_push(q->tw, q);
}

static bool may_promote(tier_worker_t *tw, unsigned hits)
{
    switch (tw->t->promote) {
    case CACHE_PROMOTE_NEVER: return false;
    case CACHE_PROMOTE_ALWAYS: break;
    case CACHE_PROMOTE_SECOND_HIT:
    default:
        if (hits < 2)
            return false;
        break;
    }
    int64_t sec = mono_ms() / 1000;
    if (sec != tw->promo_sec) {
        tw->promo_sec = sec;
        tw->promo_count = 0;
    }
    if (tw->t->promote_rate && tw->promo_count >= tw->t->promote_rate)
        return false;
    tw->promo_count++;
    return true;
}

/* A RAM copy of the record `rec` (slab memory, unlinked), or NULL. Waits
 * for the flash writer (bounded) when memory is held by pending items. */
static item_t *alloc_copy(tier_worker_t *tw, const item_t *rec)
{
    cache_status_e st;
    item_t *nw = tier_item_alloc(tw, item_ckey(rec), item_nkey(rec), item_flags_get(rec),
                                 rec->exptime, rec->nbytes, &st);
    if (nw) {
        memcpy(item_value(nw), item_cvalue(rec), rec->nbytes);
        item_marks_or(nw, item_marks(rec));
    }
    return nw;
}

/* Applies a flash read to q. true: q->res is final. false: run the RAM
 * operation again (q's flags say how). */
static bool apply_read(tr_req_t *q)
{
    tier_worker_t *tw = q->tw;
    ram_t *r = tw->r;
    item_t *rec = q->rec;
    q->rec = NULL;
    if (!rec) {
        if (q->read_nomem && q->op != TR_GET) {
            q->res.status = CACHE_NO_MEMORY;
            return true;
        }
        q->flash_absent = true; /* a miss: RAM decides alone */
        return false;
    }
    item_t *cur = NULL;
    cache_status_e st;
    rel_time_t now = ram_now(r);
    bool expired = rec->exptime != 0 && rec->exptime <= now;
    bool flushed = !expired && ram_record_is_flushed(r, q->store_time, rec->cas, now);
    if (expired || flushed) {
        st = ram_install(r, tw->ws, RAM_INSTALL_REMOVE, q->key, q->nkey, q->hv, NULL, 0,
                         q->loc, &cur);
        if (st == CACHE_OK) {
            if (expired)
                WSTAT_INC(tw->ws, get_expired);
            else
                WSTAT_INC(tw->ws, get_flushed);
            q->flash_absent = true;
        } else if (st == CACHE_EXISTS) {
            ram_item_release(r, cur); /* a RAM item now: re-run */
        } else {
            q->tries++;
        }
        ram_item_release(r, rec);
        return false;
    }

    switch (q->op) {
    case TR_GET: {
        /* An invalidated (stale) item is promoted whatever the policy:
         * the win token a reader claims on it must stick, and a flash
         * record cannot remember it. */
        bool must = (item_marks(rec) & CACHE_MARK_STALE) != 0;
        item_t *nw = must || may_promote(tw, q->hits) ? alloc_copy(tw, rec) : NULL;
        st = ram_install(r, tw->ws, nw ? RAM_INSTALL_LINK : RAM_INSTALL_CHECK, q->key,
                         q->nkey, q->hv, nw, rec->cas, q->loc, &cur);
        if (nw)
            ram_item_release(r, nw); /* linked: cur holds it; else freed */
        if (st == CACHE_NOT_FOUND) {
            ram_item_release(r, rec);
            q->tries++;
            return false;
        }
        WSTAT_INC(tw->ws, get_hits);
        if (st == CACHE_EXISTS) {
            ram_item_release(r, rec);
            WCSTAT_INC(tw->ws, cur->clsid, hits_cold);
            q->res.item = cur;
        } else if (nw) {
            ram_item_release(r, rec);
            item_set_iflag(cur, ITEM_FETCHED);
            cnt(&tw->t->promotions);
            cnt(&tw->t->get_hits);
            q->res.item = cur;
        } else {
            cnt(&tw->t->get_hits);
            q->res.item = rec; /* temporary: freed on release */
        }
        q->res.status = CACHE_OK;
        return true;
    }
    case TR_DELETE:
    case TR_UNLINK:
        st = ram_install(r, tw->ws, RAM_INSTALL_REMOVE, q->key, q->nkey, q->hv, NULL, 0,
                         q->loc, &cur);
        ram_item_release(r, rec);
        if (st == CACHE_OK) {
            if (q->op == TR_DELETE)
                WSTAT_INC(tw->ws, delete_hits);
            q->res.status = CACHE_OK;
            return true;
        }
        if (st == CACHE_EXISTS)
            ram_item_release(r, cur);
        else
            q->tries++;
        return false;
    default: {
        /* load into RAM, then the RAM operation decides */
        item_t *nw = alloc_copy(tw, rec);
        uint64_t cas = rec->cas;
        ram_item_release(r, rec);
        if (!nw) {
            q->res.status = CACHE_NO_MEMORY;
            return true;
        }
        st = ram_install(r, tw->ws, RAM_INSTALL_LINK, q->key, q->nkey, q->hv, nw, cas,
                         q->loc, &cur);
        ram_item_release(r, nw);
        if (cur)
            ram_item_release(r, cur);
        if (st == CACHE_NOT_FOUND)
            q->tries++;
        return false;
    }
    }
}

/* Runs q as far as it goes. true: q->res is final; false: a flash read is
 * in flight (read_cb will push q onto the ready list). */
static bool step(tr_req_t *q)
{
    tier_worker_t *tw = q->tw;
    for (;;) {
        if (q->have_read) {
            q->have_read = false;
            if (apply_read(q))
                return true;
            continue;
        }
        if (ram_op(q) != CACHE_PENDING) {
            if (q->op == TR_GET && q->res.status == CACHE_NOT_FOUND)
                cnt(&tw->t->get_misses); /* missed RAM and flash */
            return true;
        }
        if (!tw->fw) {
            q->flash_absent = true;
            continue;
        }
        q->tries++;
        q->in_lookup = true;
        flash_status_e fs = flash_lookup(tw->fw, q->hv, q->key, q->nkey, read_cb, q);
        q->in_lookup = false;
        if (fs == FLASH_PENDING)
            return false;
        if (fs != FLASH_OK) {
            /* no candidate: a miss */
            q->flash_absent = true;
            q->have_read = false;
        }
    }
}

static void req_free(tr_req_t *q)
{
    if (q->it)
        ram_item_release(q->tw->r, q->it);
    free(q);
}

/* q is final: hand the result over, release the next request of the key. */
static void complete(tier_worker_t *tw, tr_req_t *q)
{
    if (q->registered) {
        inflight_del(tw, q);
        tr_req_t *n = q->wait_head;
        if (n) {
            n->wait_head = n->next;
            n->wait_tail = n->next ? q->wait_tail : NULL;
            n->next = NULL;
            inflight_add(tw, n);
            ready_push(tw, n);
        }
    }
    if (!q->is_async) {
        q->finished = true; /* the synchronous caller takes it from here */
        return;
    }
    cache_result_t res = q->res;
    cache_async_t a = q->async;
    req_free(q);
    a.done(a.ctx, &res);
}

static void run_ready(tier_worker_t *tw)
{
    tr_req_t *q;
    while ((q = ready_pop(tw))) {
        if (step(q))
            complete(tw, q);
        else if (!q->registered && !q->have_read)
            inflight_add(tw, q);
    }
}

void tier_worker_poll(tier_worker_t *tw)
{
    if (tw->fw)
        flash_worker_poll(tw->fw);
    run_ready(tw);
    tier_walk_finish(tw, false);
}

/* Drives the worker until `*flag` (a request finished) or, with flag NULL,
 * until no request of the key is in flight. */
static void drive(tier_worker_t *tw, const bool *flag, uint64_t hv, const char *key,
                  size_t nkey)
{
    for (;;) {
        if (flag ? *flag : !inflight_find(tw, hv, key, nkey))
            return;
        if (tw->ready_head) {
            run_ready(tw);
            continue;
        }
        if (tw->fw) {
            struct pollfd p = {.fd = flash_worker_fd(tw->fw), .events = POLLIN};
            poll(&p, 1, 10);
        }
        tier_worker_poll(tw);
    }
}

static tr_req_t *req_new(tier_worker_t *tw, tr_op_e op, const char *key, size_t nkey,
                         const cache_async_t *async)
{
    tr_req_t *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->tw = tw;
    q->op = op;
    memcpy(q->key, key, nkey);
    q->nkey = nkey;
    q->hv = hash_key(key, nkey);
    if (async) {
        q->async = *async;
        q->is_async = true;
    }
    return q;
}

/*
 * Runs a request that could not be answered by RAM alone (started) or has
 * to wait behind its key (!started). Returns the final status (q freed,
 * result in *res) or CACHE_PENDING (async: done() later).
 */
static cache_status_e submit(tier_worker_t *tw, tr_req_t *q, cache_result_t *res)
{
    if (q->is_async) {
        tr_req_t *head = inflight_find(tw, q->hv, q->key, q->nkey);
        if (head) {
            q->next = NULL;
            if (head->wait_tail)
                head->wait_tail->next = q;
            else
                head->wait_head = q;
            head->wait_tail = q;
            return CACHE_PENDING;
        }
    } else {
        drive(tw, NULL, q->hv, q->key, q->nkey);
    }
    if (!step(q)) {
        /* a flash read is in flight: later requests of the key queue */
        if (!q->registered)
            inflight_add(tw, q);
        if (q->is_async)
            return CACHE_PENDING;
        /* complete() runs from run_ready: hands the key on, sets finished */
        drive(tw, &q->finished, 0, NULL, 0);
    }
    *res = q->res;
    cache_status_e st = q->res.status;
    req_free(q);
    return st;
}

/* Is a request of this key in flight on this worker (async callers must
 * then queue behind it)? Cheap when nothing is in flight. */
static inline bool key_busy(tier_worker_t *tw, const char *key, size_t nkey, uint64_t *hv)
{
    if (tw->nheads == 0)
        return false;
    *hv = hash_key(key, nkey);
    return inflight_find(tw, *hv, key, nkey) != NULL;
}

/* ---- the cache.h operations ---- */

cache_status_e tier_get(tier_worker_t *tw, ram_get_mode_e mode, const char *key,
                        size_t nkey, rel_time_t exptime, unsigned nobump,
                        item_t **out, const cache_async_t *async)
{
    uint64_t hv;
    bool busy = key_busy(tw, key, nkey, &hv);
    tr_op_e op = mode == RAM_GET ? TR_GET : mode == RAM_GAT ? TR_GAT : TR_TOUCH;
    if (!busy) {
        item_t *it = NULL;
        cache_status_e st = ram_get(tw->r, tw->ws, key, nkey, mode, exptime,
                                    out ? &it : NULL, RAM_F_DEFER | nobump);
        if (st != CACHE_PENDING) {
            if (out)
                *out = it;
            return st;
        }
    }
    tr_req_t *q = req_new(tw, op, key, nkey, async);
    if (!q)
        return CACHE_NO_MEMORY;
    q->started = !busy;
    q->exptime = exptime;
    q->nobump = nobump;
    cache_result_t res;
    cache_status_e st = submit(tw, q, &res);
    if (st == CACHE_PENDING)
        return st;
    if (out)
        *out = res.item;
    else if (res.item)
        ram_item_release(tw->r, res.item);
    return st;
}

cache_status_e tier_store(tier_worker_t *tw, item_t *it, cache_store_op_e op,
                          uint64_t cas_in, uint64_t *cas_out, const cache_async_t *async)
{
    uint64_t hv;
    bool busy = key_busy(tw, item_ckey(it), item_nkey(it), &hv);
    if (!busy) {
        item_t *spill = NULL;
        uint64_t cas = 0;
        cache_status_e st = ram_store(tw->r, tw->ws, it, op, cas_in, &cas, RAM_F_DEFER,
                                      &spill);
        spill_enqueue(tw->t, spill);
        if (st != CACHE_PENDING) {
            if (st == CACHE_OK && cas_out)
                *cas_out = cas;
            return st;
        }
    }
    tr_req_t *q = req_new(tw, TR_STORE, item_ckey(it), item_nkey(it), async);
    if (!q)
        return CACHE_NO_MEMORY;
    q->started = !busy;
    item_refcount_incr(it);
    q->it = it;
    q->sop = op;
    q->cas_in = cas_in;
    cache_result_t res;
    cache_status_e st = submit(tw, q, &res);
    if (st == CACHE_OK && cas_out)
        *cas_out = res.cas;
    return st;
}

cache_status_e tier_delete(tier_worker_t *tw, const char *key, size_t nkey, bool count,
                           const cache_async_t *async)
{
    uint64_t hv;
    bool busy = key_busy(tw, key, nkey, &hv);
    if (!busy) {
        cache_status_e st = ram_delete(tw->r, tw->ws, key, nkey, count, RAM_F_DEFER);
        if (st != CACHE_PENDING)
            return st;
    }
    tr_req_t *q = req_new(tw, count ? TR_DELETE : TR_UNLINK, key, nkey, async);
    if (!q)
        return CACHE_NO_MEMORY;
    q->started = !busy;
    cache_result_t res;
    return submit(tw, q, &res);
}

cache_status_e tier_arith(tier_worker_t *tw, const char *key, size_t nkey, bool incr,
                          uint64_t delta, uint64_t *value_out, uint64_t *cas_out,
                          const cache_async_t *async)
{
    uint64_t hv;
    bool busy = key_busy(tw, key, nkey, &hv);
    if (!busy) {
        item_t *spill = NULL;
        uint64_t v = 0, cas = 0;
        cache_status_e st = ram_arith(tw->r, tw->ws, key, nkey, incr, delta, &v, &cas,
                                      RAM_F_DEFER, &spill);
        spill_enqueue(tw->t, spill);
        if (st != CACHE_PENDING) {
            if (st == CACHE_OK) {
                if (value_out)
                    *value_out = v;
                if (cas_out)
                    *cas_out = cas;
            }
            return st;
        }
    }
    tr_req_t *q = req_new(tw, TR_ARITH, key, nkey, async);
    if (!q)
        return CACHE_NO_MEMORY;
    q->started = !busy;
    q->incr = incr;
    q->delta = delta;
    cache_result_t res;
    cache_status_e st = submit(tw, q, &res);
    if (st == CACHE_OK) {
        if (value_out)
            *value_out = res.value;
        if (cas_out)
            *cas_out = res.cas;
    }
    return st;
}

item_t *tier_item_alloc(tier_worker_t *tw, const char *key, size_t nkey, uint32_t flags,
                        rel_time_t exptime, size_t nbytes, cache_status_e *st)
{
    ram_t *r = tw->r;
    unsigned rf = 0;
    int64_t deadline = 0;
    for (;;) {
        uint64_t seq = ram_spill_seq(r);
        item_t *spill = NULL;
        item_t *it = ram_item_alloc(r, tw->ws, key, nkey, flags, exptime, nbytes, rf,
                                    &spill, st);
        spill_enqueue(tw->t, spill);
        if (it || *st != CACHE_PENDING)
            return it;
        /* memory is held by items in the writer's hands: back-pressure,
         * bounded by stall_ms; past it evictions drop (flash_drops_stall).
         * Items the writer has indexed give their memory back when their
         * written_fn runs: run a chunk here, on this thread, instead of
         * waiting for the writer to (one wakeup per batch, not per item) */
        int64_t now = mono_ms();
        if (deadline == 0)
            deadline = now + tw->t->stall_ms;
        if (now < deadline) {
            if (flash_complete(tw->t->f, TIER_COMPLETE_CHUNK) > 0)
                continue;
            if (ram_spill_seq(r) != seq)
                continue; /* another thread freed some meanwhile */
        } else {
            if (rf & RAM_F_NOSPILL) {
                *st = CACHE_NO_MEMORY;
                WSTAT_INC(tw->ws, store_no_memory);
                return NULL;
            }
            rf |= RAM_F_NOSPILL;
            continue;
        }
        flash_complete_wait(tw->t->f, TIER_COMPLETE_WAIT_MS);
    }
}

/* ---- stats ---- */

static uint64_t ld(_Atomic uint64_t *p)
{
    return atomic_load_explicit(p, memory_order_relaxed);
}

void tier_stats(tier_t *t, cache_stats_t *out)
{
    flash_stats_t fs;
    flash_stats_snapshot(t->f, &fs);
    out->flash_enabled = true;
#define TIER_STATS_MIRROR(name, desc) out->name = fs.name;
    FLASH_STATS_MIRRORED(TIER_STATS_MIRROR)
#undef TIER_STATS_MIRROR
    out->flash_drops_admission = fs.flash_drops_admission + ld(&t->drops_admission);
    out->flash_drops_stall = fs.flash_drops_stall + ld(&t->r->spill_drops_stall);
    out->flash_reads = fs.flash_hits + fs.flash_misses;
    out->flash_get_hits = ld(&t->get_hits);
    out->flash_get_misses = ld(&t->get_misses);
    out->flash_promotions = ld(&t->promotions);
    out->flash_respill_skipped = ld(&t->r->respill_skipped);
    /* device bytes in used segments: segments_used x segment size */
    out->flash_bytes_used = fs.flash_segments_used * t->segment_size;
    out->flash_compression_ratio =
        fs.flash_bytes_spilled ? (double)fs.flash_bytes_logical / (double)fs.flash_bytes_spilled
                               : 0.0;
    out->flash_write_amplification =
        fs.flash_bytes_spilled ? (double)fs.flash_bytes_written / (double)fs.flash_bytes_spilled
                               : 0.0;
    flash_recovery_t rec;
    flash_recovery(t->f, &rec);
    out->flash_recovery = rec.kind == FLASH_RECOVERY_CLEAN        ? "clean"
                          : rec.kind == FLASH_RECOVERY_CHECKPOINT ? "checkpoint"
                          : rec.kind == FLASH_RECOVERY_CRASH      ? "crash"
                                                                  : "new";
    out->flash_recovery_seconds = rec.seconds;
}

void tier_stats_reset(tier_t *t)
{
    atomic_store(&t->drops_admission, 0);
    atomic_store(&t->get_hits, 0);
    atomic_store(&t->get_misses, 0);
    atomic_store(&t->promotions, 0);
    atomic_store(&t->r->respill_skipped, 0);
    atomic_store(&t->r->spill_drops_stall, 0);
}
