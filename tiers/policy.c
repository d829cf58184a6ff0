/*
 * tiers/policy.c - the tier policy: see policy.h for what it decides,
 * ram/ram.h ("lower tier") for the RAM side of evictions, flash/flash.h
 * for the flash tier's contract, engine.c for the requests that ask it.
 *
 * "Still current" (ram_install): under the key's stripe lock, no RAM item,
 * no ghost, flash_loc_current(). Otherwise the request starts over (at most
 * TIER_MAX_TRIES flash lookups; then RAM decides alone).
 */
#include "policy.h"
#include "engine_int.h"

#include <limits.h>
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
#include "ram/memfile.h"

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

/* The RAM tier's ghost tables with a flash tier: the pending-ghost
 * counts (ram.h) and lru_ghost's fingerprints (none when off). */
static size_t ram_ghost_bytes(const ram_t *r)
{
    size_t n = ((size_t)1 << RAM_GHOST_BITS) * sizeof(uint32_t);
    if (r->evghost)
        n += (size_t)(r->evghost_mask + 1) * sizeof *r->evghost;
    return n;
}

/* ---- RAM hooks (called under the key's stripe lock) ---- */

/*
 * The eviction policy (ram.h "the lower tier"): what becomes of an item
 * leaving RAM, in this order:
 *   - the allocator's stall bound passed (nospill): dropped, counted;
 *   - the writer-behind bound: at most half of a class's linked items may
 *     wait for the flash writer, so memory that can be evicted without
 *     spilling always remains; past it the item stays, the allocator waits
 *     for the writer (bounded by stall_ms, tier_item_alloc) and then
 *     evicts with nospill;
 *   - an idle pass (ext_item_age) leaves what flash would not admit;
 *   - an unmodified copy installed from flash whose record is still
 *     indexed goes without a write (flash_respill_skipped);
 *   - admission (flash_admit: size, TTL): admitted items are queued,
 *     the rest dropped (flash_drops_admission).
 * Records keep the meta marks (format 2), so marked items spill too.
 */
static ram_spill_e hook_victim(void *ctx, const ram_victim_t *v)
{
    tier_t *t = ctx;
    if (v->nospill) {
        cnt(&t->drops_stall);
        return RAM_SPILL_DROP;
    }
    if (v->pending > v->linked / 2)
        return RAM_SPILL_BEHIND;
    const item_t *it = v->it;
    bool admit = flash_admit(t->f, item_nkey(it), it->nbytes, (int64_t)it->exptime) == FLASH_OK;
    if (v->idle && !admit)
        return RAM_SPILL_LEAVE;
    if (v->loc && flash_loc_indexed(t->f, v->hv, v->loc)) {
        cnt(&t->respill_skipped);
        return RAM_SPILL_BELOW;
    }
    if (!admit) {
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

/*
 * The stall bound: a request waits for the flash writer at most stall_ms
 * in all - for queue space (spill_within) and for memory held by pending
 * items (tier_item_alloc) together - from its first spill or wait on.
 * Past it, what it evicts is dropped (flash_drops_stall).
 */
typedef struct stall {
    int64_t deadline; /* CLOCK_MONOTONIC ms; 0: not started */
    unsigned ms;
} stall_t;

/* ms left of the request's budget (starts it). */
static unsigned stall_left(stall_t *s, int64_t now)
{
    if (s->deadline == 0)
        s->deadline = now + s->ms;
    return s->deadline > now ? (unsigned)(s->deadline - now) : 0;
}

/* Hands a pending list to the writer within the budget *s. */
static void spill_within(tier_t *t, item_t *list, stall_t *s)
{
    while (list) {
        item_t *it = list;
        list = it->next;
        it->next = NULL;
        flash_wr_item_t wi = wr_item(it);
        if (flash_enqueue_wait(t->f, &wi, stall_left(s, mono_ms())) != FLASH_OK)
            ram_spill_done(t->r, it, false); /* counted by the flash tier */
    }
}

void tier_spill(tier_t *t, item_t *list)
{
    stall_t s = {.ms = t->stall_ms};
    spill_within(t, list, &s);
}

/* ram_flash_hooks_t.enqueue: items a slab page move evicts spill like LRU
 * evictions do. */
static void hook_enqueue(void *ctx, item_t *list)
{
    tier_spill(ctx, list);
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
    if (t->f && flash_checkpoint_active(t->f)) /* else nothing to keep: no hash */
        flash_note_mutation(t->f, hash_key(key, nkey));
}

/* ---- create / destroy ---- */

/* The flash tier of s->flash_path, attached to t->r. */
static cache_status_e flash_start(tier_t *t, const cache_settings_t *s)
{
    ram_t *r = t->r;
    t->promote = s->flash_promote;
    t->promote_rate = s->flash_promote_rate;
    t->stall_ms = s->flash.stall_ms;
    t->spill_ahead = TIER_SPILL_AHEAD;
    t->spill_ahead_load = TIER_SPILL_AHEAD_LOAD;

    flash_settings_t fs = s->flash; /* the rest is wiring and derived */
    if (s->flash_index_mem)
        fs.index_capacity = s->flash_index_mem * 9 / TIER_INDEX_BYTES_PER_9_ITEMS;
    fs.ram_bytes = s->ram.mem_limit; /* the default segment size's cap */
    fs.clock = s->ram.clock;
    fs.clock_ctx = s->ram.clock_ctx;
    fs.ram_state = ram_state;
    fs.ram_state_ctx = t;
    fs.written = on_written;
    fs.written_ctx = t;

    char note[512];
    flash_status_e st = flash_create(&t->f, &fs, note, sizeof note);
    if (s->err && s->err_len)
        snprintf(s->err, s->err_len, "%s", note);
    if (st != FLASH_OK)
        return st == FLASH_ENOMEM ? CACHE_NO_MEMORY : CACHE_EINVAL;
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
    ram_lower_hooks_t h = {
        .ctx = t,
        .victim = hook_victim,
        .changed = hook_changed,
        .moved = hook_moved,
        .current = hook_current,
        .enqueue = hook_enqueue,
    };
    if (!ram_lower_attach(r, &h)) {
        flash_destroy(&t->f);
        return CACHE_NO_MEMORY;
    }
    return CACHE_OK;
}

/* memcached's -e without a flash tier (ram/memfile.h). */
static cache_status_e memfile_open(tier_t *t, const cache_settings_t *s)
{
    char note[1024];
    t->memory_file = strdup(s->memory_file);
    cache_status_e st = t->memory_file ? memfile_start(t->r, s->memory_file, note, sizeof note)
                                       : CACHE_NO_MEMORY;
    if (s->err && s->err_len && st != CACHE_NO_MEMORY)
        snprintf(s->err, s->err_len, "%s", note);
    if (st != CACHE_OK) {
        free(t->memory_file);
        t->memory_file = NULL;
    }
    return st;
}

cache_status_e tier_start(tier_t **out, ram_t *r, const cache_settings_t *s)
{
    *out = NULL;
    tier_t *t = calloc(1, sizeof *t);
    if (!t)
        return CACHE_NO_MEMORY;
    t->r = r;
    pthread_mutex_init(&t->walk_lock, NULL);
    if (s->err && s->err_len)
        s->err[0] = '\0';
    cache_status_e st = CACHE_OK;
    if (s->flash.path && *s->flash.path)
        st = flash_start(t, s);
    else if (s->memory_file && *s->memory_file)
        st = memfile_open(t, s);
    if (st != CACHE_OK) {
        pthread_mutex_destroy(&t->walk_lock);
        free(t);
        return st;
    }
    if (!t->f && s->ram.flash_item_age != UINT32_MAX && s->err && s->err_len) {
        /* memcached's ext_item_age only moves items to extstore: without
         * a flash tier there is nowhere to move them (nothing is weaker) */
        size_t n = strlen(s->err);
        snprintf(s->err + n, s->err_len - n, "%sext_item_age=%u has no effect: no flash tier "
                 "(--flash-path) to move idle items to",
                 n ? "; " : "", s->ram.flash_item_age);
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
    uint64_t loc = ram_item_lower_loc(r, it);
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

/* The clean stop of the flash tier (policy.h tier_stop). */
static void flash_stop(tier_t *t)
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

void tier_stop(tier_t **tp, bool unstarted, bool graceful)
{
    if (!tp || !*tp)
        return;
    tier_t *t = *tp;
    if (t->f) {
        if (unstarted && flash_file_created(t->f))
            flash_destroy_unstarted(&t->f);
        else
            flash_stop(t); /* the next start is warm */
        flash_destroy(&t->f); /* pending items are done (on_written) first */
    } else if (t->memory_file && graceful) {
        memfile_stop(t->r, t->memory_file); /* memcached's -e, ram/memfile.h */
    }
    free(t->memory_file);
    pthread_mutex_destroy(&t->walk_lock);
    free(t);
    *tp = NULL;
}

void tier_memory_parts(const tier_t *t, cache_memory_t *out)
{
    if (!t->f)
        return;
    flash_memory_parts_t p;
    flash_memory_parts(t->f, &p);
    out->memory_ram_ghosts = ram_ghost_bytes(t->r);
    out->memory_flash_index = p.index;
    out->memory_flash_builders = p.builders;
    out->memory_flash_reclaim = p.reclaim;
    out->memory_flash_queues = p.queues;
    out->memory_flash_workers = p.workers;
    out->memory_flash_zstd = p.zstd;
    out->memory_flash_dict = p.dict;
    out->memory_flash_checkpoint = p.checkpoint;
}

size_t tier_memory(const tier_t *t)
{
    if (!t->f)
        return 0;
    return flash_memory(t->f) + ram_ghost_bytes(t->r);
}

void tier_flush(tier_t *t)
{
    if (!t->f)
        return;
    flash_note_flush(t->f);
    flash_set_flush(t->f, atomic_load_explicit(&t->r->oldest_live, memory_order_relaxed));
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

/* A flash time (unix seconds) as an item time. */
static rel_time_t item_time(int64_t t, rel_time_t max)
{
    return t <= 0 ? 0 : t > (int64_t)max ? max : (rel_time_t)t;
}

/*
 * The record is copied at most once: a dead one (expired,
 * flushed) not at all; one that goes to RAM (a promotion, a mutation's
 * install) straight into slab memory when there is some at once (the
 * evictions this causes are handed to the writer by tier_apply_read, out
 * of the read callback); anything else, or when memory waits for the
 * writer, into a temporary item.
 */
static void take_read(tr_req_t *q, const flash_hit_t *hit)
{
    tier_worker_t *tw = q->tw;
    ram_t *r = tw->r;
    q->rec = NULL;
    q->read_nomem = false;
    q->dead = TR_LIVE;
    q->to_ram = false;
    if (!hit)
        return;
    rel_time_t exptime = item_time(hit->exptime, UINT32_MAX - 1);
    q->store_time = item_time(hit->store_time, UINT32_MAX);
    q->hits = hit->hits;
    q->loc = hit->loc;
    q->cas = hit->cas;
    rel_time_t now = ram_now(r);
    if (exptime != 0 && exptime <= now)
        q->dead = TR_EXPIRED;
    else if (ram_record_is_flushed(r, q->store_time, hit->cas, now))
        q->dead = TR_FLUSHED;
    if (q->dead != TR_LIVE)
        return;
    unsigned marks = hit->marks & ~FLASH_REC_FETCHED;
    size_t nbytes = hit->nbytes;
    if (q->op == TR_GET) {
        /* An invalidated (stale) item is promoted whatever the policy:
         * the win token a reader claims on it must stick, and a flash
         * record cannot remember it. */
        q->to_ram = (marks & CACHE_MARK_STALE) || may_promote(tw, hit->hits);
    } else if (q->op == TR_DELETE || q->op == TR_UNLINK) {
        nbytes = 0; /* a removal needs the location only */
    } else {
        q->to_ram = true; /* a mutation runs on the RAM item */
    }
    if (q->to_ram) {
        cache_status_e st;
        item_t *nw = ram_item_alloc(r, tw->ws, hit->key, hit->nkey, hit->flags, exptime,
                                    hit->nbytes, 0, &q->spill, &st);
        if (nw) {
            memcpy(item_value(nw), hit->value, hit->nbytes);
            item_marks_or(nw, marks);
            q->rec = nw;
            return;
        }
    }
    q->rec = ram_item_temp(hit->key, hit->nkey, hit->flags, exptime, hit->cas, nbytes);
    if (!q->rec) {
        q->read_nomem = true;
        return;
    }
    memcpy(item_value(q->rec), hit->value, nbytes);
    /* What the RAM item knew: its meta marks, its last access (the
     * record's store time is the item's `time` at spill), and "fetched"
     * once the flash copy was read before. */
    item_marks_or(q->rec, marks);
    q->rec->time = q->store_time;
    if ((hit->marks & FLASH_REC_FETCHED) || hit->hits >= 2)
        item_set_iflag(q->rec, ITEM_FETCHED);
}

void tier_read_cb(void *ctx, flash_status_e st, const flash_hit_t *hit)
{
    tr_req_t *q = ctx;
    take_read(q, st == FLASH_OK ? hit : NULL);
    q->have_read = true;
    if (!q->in_lookup)
        ready_push(q->tw, q);
}

/* The RAM copy of the record q took: the slab item itself, or a copy of
 * the temporary one (waiting for the writer, bounded, when memory is held
 * by pending items), or NULL. */
static item_t *ram_copy(tier_worker_t *tw, item_t *rec)
{
    if (rec->clsid != 0)
        return rec;
    cache_status_e st;
    item_t *nw = tier_item_alloc(tw, item_ckey(rec), item_nkey(rec), item_flags_get(rec),
                                 rec->exptime, rec->nbytes, &st);
    if (nw) {
        memcpy(item_value(nw), item_cvalue(rec), rec->nbytes);
        item_marks_or(nw, item_marks(rec));
    }
    return nw;
}

/* engine_int.h */
bool tier_apply_read(tr_req_t *q)
{
    tier_worker_t *tw = q->tw;
    ram_t *r = tw->r;
    item_t *rec = q->rec;
    q->rec = NULL;
    tier_spill(tw->t, q->spill); /* what the copy into RAM evicted */
    q->spill = NULL;
    item_t *cur = NULL;
    cache_status_e st;
    if (q->dead != TR_LIVE) {
        st = ram_install(r, tw->ws, RAM_INSTALL_REMOVE, q->key, q->nkey, q->hv, NULL, 0,
                         q->loc, &cur);
        if (st == CACHE_OK) {
            if (q->dead == TR_EXPIRED)
                WSTAT_INC(tw->ws, get_expired);
            else
                WSTAT_INC(tw->ws, get_flushed);
            q->flash_absent = true;
        } else if (st == CACHE_EXISTS) {
            ram_item_release(r, cur); /* a RAM item now: re-run */
        } else {
            q->tries++;
        }
        return false;
    }
    if (!rec) {
        if (q->read_nomem && q->op != TR_GET) {
            q->res.status = CACHE_NO_MEMORY;
            return true;
        }
        q->flash_absent = true; /* a miss: RAM decides alone */
        return false;
    }

    switch (q->op) {
    case TR_GET: {
        item_t *nw = q->to_ram ? ram_copy(tw, rec) : NULL;
        item_t *tmp = nw == rec ? NULL : rec; /* the temporary copy, if any */
        st = ram_install(r, tw->ws, nw ? RAM_INSTALL_LINK : RAM_INSTALL_CHECK, q->key,
                         q->nkey, q->hv, nw, q->cas, q->loc, &cur);
        if (nw)
            ram_item_release(r, nw); /* linked: cur holds it; else freed */
        if (st == CACHE_NOT_FOUND) {
            if (tmp)
                ram_item_release(r, tmp);
            q->tries++;
            return false;
        }
        WSTAT_INC(tw->ws, get_hits);
        if (st == CACHE_EXISTS) {
            if (tmp)
                ram_item_release(r, tmp);
            WCSTAT_INC(tw->ws, cur->clsid, hits_cold);
            q->res.item = cur;
        } else if (nw) {
            if (tmp)
                ram_item_release(r, tmp);
            item_set_iflag(cur, ITEM_FETCHED);
            cnt(&tw->t->promotions);
            cnt(&tw->t->get_hits);
            q->res.item = cur;
        } else {
            cnt(&tw->t->get_hits);
            q->res.item = tmp; /* temporary: freed on release */
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
        item_t *nw = ram_copy(tw, rec);
        if (nw != rec)
            ram_item_release(r, rec);
        if (!nw) {
            q->res.status = CACHE_NO_MEMORY;
            return true;
        }
        st = ram_install(r, tw->ws, RAM_INSTALL_LINK, q->key, q->nkey, q->hv, nw, q->cas,
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

item_t *tier_item_alloc(tier_worker_t *tw, const char *key, size_t nkey, uint32_t flags,
                        rel_time_t exptime, size_t nbytes, cache_status_e *st)
{
    ram_t *r = tw->r;
    unsigned rf = 0, ahead = 0, limit = UINT_MAX; /* spill-ahead bound, once known */
    stall_t stall = {.ms = tw->t->stall_ms};
    for (;;) {
        uint64_t seq = ram_spill_seq(r);
        item_t *spill = NULL;
        item_t *it = ram_item_alloc(r, tw->ws, key, nkey, flags, exptime, nbytes, rf,
                                    &spill, st);
        if (spill)
            spill_within(tw->t, spill, &stall);
        if (it || *st != CACHE_PENDING)
            return it;
        /* spill ahead: before waiting, hand the writer more of this class
         * (each call evicts up to ALLOC_TRIES more; the writer-behind bound
         * still holds), so one wait frees memory for the next allocations
         * too, not for this one only (bench/RESULTS.md, issue 14 item 3,
         * h-ingest: a worker waited once per ~7 keys of a load) */
        if (limit == UINT_MAX) /* one decision per allocation */
            limit = flash_load_behind_hint(tw->t->f) ? tw->t->spill_ahead_load
                                                     : tw->t->spill_ahead;
        if (ahead++ < limit && !(rf & RAM_F_NOSPILL))
            continue;
        /* memory is held by items in the writer's hands: back-pressure,
         * within the request's stall budget; past it evictions drop
         * (flash_drops_stall). Items the writer has indexed give their
         * memory back when their written_fn runs: run a chunk here, on
         * this thread, instead of waiting for the writer to (one wakeup
         * per batch, not per item) */
        if (stall_left(&stall, mono_ms()) > 0) {
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

void tier_count_miss(tier_t *t)
{
    cnt(&t->get_misses);
}

void tier_stats(tier_t *t, cache_stats_t *out)
{
    if (!t->f)
        return;
    flash_stats_t fs;
    flash_stats_snapshot(t->f, &fs);
    out->flash_enabled = true;
#define TIER_STATS_MIRROR(name, desc) out->name = fs.name;
    FLASH_STATS_MIRRORED(TIER_STATS_MIRROR)
#undef TIER_STATS_MIRROR
    out->flash_drops_admission = fs.flash_drops_admission + ld(&t->drops_admission);
    out->flash_drops_stall = fs.flash_drops_stall + ld(&t->drops_stall);
    out->flash_reads = fs.flash_hits + fs.flash_misses;
    out->flash_get_hits = ld(&t->get_hits);
    out->flash_get_misses = ld(&t->get_misses);
    out->flash_promotions = ld(&t->promotions);
    out->flash_respill_skipped = ld(&t->respill_skipped);
    out->flash_age_spills = ld(&t->r->age_spills);
    /* queued for the writer, or written and its done call not yet run:
     * each keeps its RAM chunk until ram_spill_done */
    out->flash_write_queue = ld(&t->r->pending);
    /* device bytes in used segments: segments_used x segment size */
    out->flash_segment_size = flash_segment_size(t->f); /* the file's, not the flag's */
    out->flash_bytes_used = fs.flash_segments_used * out->flash_segment_size;
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
    atomic_store(&t->respill_skipped, 0);
    atomic_store(&t->drops_stall, 0);
}
