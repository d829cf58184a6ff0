/*
 * tiers/engine.c - the request engine: every keyed operation of cache.h,
 * from the door to its result. The decisions (admission, stall,
 * promotion, "still current", start and stop) are the policy's
 * (policy.h); this file only moves requests.
 *
 * One operation is one tr_req_t, built on the caller's stack:
 *
 *   RAM step (ram_op) --final--> answer (a RAM-only cache always ends here:
 *        |                        without a lower tier no step says PENDING)
 *        | PENDING (RAM_F_DEFER: the item may be on flash)
 *        v
 *   kept on the heap (req_keep), registered as its key's head
 *        v
 *   flash_lookup --MISS--> RAM step again, flash absent: the final answer
 *        |
 *        v tier_read_cb (policy: now, or later from tier_worker_poll)
 *   tier_apply_read (policy): final (a get's hit, a delete's removal), or
 *        install the record into RAM, then the RAM step again
 *
 * RAM is probed once per pass: the first RAM step's PENDING is kept
 * (q->deferred), so the request goes straight to flash.
 *
 * Per-key order on one worker: a request that goes asynchronous registers
 * as the head of its key (inflight list); requests for the same key that
 * arrive meanwhile queue behind it (waiters, FIFO) and run when it is done.
 * A synchronous caller (async NULL) drives the worker until its request is
 * done.
 *
 * Architecture: engine.c calls ram/ (the RAM steps), flash/ (lookups and
 * the worker's completion fd) and the policy (policy.h); the policy never
 * calls the engine back except through tier_apply_read's return.
 * Lock order: none of this file's own (the worker is single-threaded);
 * flash_lookup is called holding no lock.
 */
#include "cache.h"
#include "cache_int.h"
#include "engine_int.h"
#include "policy.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "flash/flash.h"

/* ---- workers ---- */

cache_status_e tier_worker_create(tier_t *t, ram_wstats_t *ws, tier_worker_t **out)
{
    *out = NULL;
    tier_worker_t *tw = calloc(1, sizeof *tw);
    if (!tw)
        return CACHE_NO_MEMORY;
    if (t->f) {
        if (flash_worker_create(t->f, &tw->fw) != FLASH_OK) {
            free(tw);
            return CACHE_NO_MEMORY;
        }
        tw->defer = RAM_F_DEFER; /* a RAM miss asks flash first */
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
    if (tw->fw)
        flash_worker_destroy(&tw->fw);
    run_ready(tw);
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
        f |= q->tw->defer;
    /* a delete that gave up reading flash (its copy kept changing under
     * it) still removes it: else the deleted value stays findable */
    if (!q->flash_absent && q->tries >= TIER_MAX_TRIES &&
        (q->op == TR_DELETE || q->op == TR_UNLINK))
        f |= RAM_F_LOWERDROP;
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
        st = ram_arith(r, tw->ws, q->key, q->nkey, q->incr, q->delta, &q->res.value,
                       &q->res.cas, rf, &spill);
        break;
    case TR_KEYED:
    default:
        st = ram_keyed(r, tw->ws, q->key, q->nkey, &q->k, rf, &spill);
        if (st == CACHE_OK) {
            q->res.value = q->k.value_out;
            q->res.cas = q->k.cas_out;
            if (q->old_exptime_out)
                *q->old_exptime_out = (int64_t)q->k.old_exptime;
        }
        break;
    }
    q->started = true;
    if (spill)
        tier_spill(tw->t, spill);
    if (st != CACHE_PENDING)
        q->res.status = st;
    return st;
}

/* Runs q as far as it goes. true: q->res is final; false: a flash read is
 * in flight (read_cb will push q onto the ready list). */
static bool step(tr_req_t *q)
{
    tier_worker_t *tw = q->tw;
    for (;;) {
        if (q->have_read) {
            q->have_read = false;
            if (tier_apply_read(q))
                return true;
            continue;
        }
        if (q->deferred) {
            q->deferred = false; /* the caller's RAM step said PENDING */
        } else if (ram_op(q) != CACHE_PENDING) {
            if (q->op == TR_GET && q->res.status == CACHE_NOT_FOUND && tw->fw)
                tier_count_miss(tw->t); /* missed RAM and flash */
            return true;
        }
        if (!tw->fw) { /* no lower tier (PENDING needs one): RAM decides */
            q->flash_absent = true;
            continue;
        }
        q->tries++;
        q->in_lookup = true;
        flash_status_e fs = flash_lookup(tw->fw, q->hv, q->key, q->nkey, tier_read_cb, q);
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
    if (tw->walk)
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

/* A heap copy of the request `s` (built on the caller's stack) that can
 * outlive the call: its own key bytes and a reference of its own to a
 * store's item. NULL if out of memory. */
static tr_req_t *req_keep(const tr_req_t *s, const cache_async_t *async)
{
    tr_req_t *q = malloc(sizeof *q);
    if (!q)
        return NULL;
    *q = *s;
    memcpy(q->keybuf, s->key, s->nkey);
    q->key = q->keybuf;
    q->hv = hash_key(q->key, q->nkey);
    if (q->it)
        item_refcount_incr(q->it);
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

/* Runs the operation `s` (on the caller's stack, s->tw set): the RAM step
 * at once unless a request of its key is in flight here; the rest on the
 * heap. Final status with *res filled, or CACHE_PENDING (async). */
static cache_status_e run(tr_req_t *s, const cache_async_t *async, cache_result_t *res)
{
    tier_worker_t *tw = s->tw;
    bool busy = false;
    if (tw->nheads) {
        s->hv = hash_key(s->key, s->nkey);
        busy = inflight_find(tw, s->hv, s->key, s->nkey) != NULL;
    }
    if (!busy) {
        if (ram_op(s) != CACHE_PENDING) {
            *res = s->res;
            return s->res.status;
        }
        s->deferred = true; /* straight to flash: RAM said PENDING */
    }
    tr_req_t *q = req_keep(s, async);
    if (!q)
        return CACHE_NO_MEMORY;
    return submit(tw, q, res);
}

static inline bool key_ok(const char *key, size_t nkey)
{
    return key && nkey > 0 && nkey <= CACHE_KEY_MAX;
}

/* The stack request of one operation; every one but a plain get changes
 * the key, which the crash checkpoint must hear of first. */
#define REQ(w, o, k, n) {.tw = (w)->tw, .op = (o), .key = (k), .nkey = (n)}

static cache_status_e run_op(cache_worker_t *w, tr_req_t *q, const cache_async_t *async,
                             cache_result_t *res)
{
    if (q->op != TR_GET)
        tier_note_mutation(w->c->tier, q->key, q->nkey);
    return run(q, async, res);
}

/* get / gat / touch: the item (referenced) into *out, or released. */
static cache_status_e run_read(cache_worker_t *w, tr_req_t *q, cache_item_t **out,
                               const cache_async_t *async)
{
    cache_result_t res = {0};
    cache_status_e st = run_op(w, q, async, &res);
    if (st == CACHE_PENDING)
        return st;
    if (out)
        *out = res.item;
    else if (res.item)
        ram_item_release(w->tw->r, res.item);
    return st;
}

/* get / gat / touch: `expire` gives the item the protocol exptime. */
static cache_status_e read_op(cache_worker_t *w, tr_op_e op, const char *key, size_t nkey,
                              bool expire, int64_t exptime, unsigned nobump,
                              cache_item_t **out, const cache_async_t *async)
{
    if (!key_ok(key, nkey))
        return CACHE_EINVAL;
    tr_req_t q = REQ(w, op, key, nkey);
    q.exptime = expire ? ram_realtime(w->tw->r, exptime) : 0;
    q.nobump = nobump;
    return run_read(w, &q, out, async);
}

cache_status_e cache_get(cache_worker_t *w, const char *key, size_t nkey,
                         cache_item_t **out, const cache_async_t *async)
{
    return read_op(w, TR_GET, key, nkey, false, 0, 0, out, async);
}

cache_status_e cache_get_and_touch(cache_worker_t *w, const char *key, size_t nkey,
                                   int64_t exptime, cache_item_t **out,
                                   const cache_async_t *async)
{
    return read_op(w, TR_GAT, key, nkey, true, exptime, 0, out, async);
}

cache_status_e cache_get_nobump(cache_worker_t *w, const char *key, size_t nkey,
                                bool touch, int64_t exptime, cache_item_t **out,
                                const cache_async_t *async)
{
    return read_op(w, touch ? TR_GAT : TR_GET, key, nkey, touch, exptime, RAM_F_NOBUMP, out,
                   async);
}

cache_status_e cache_touch(cache_worker_t *w, const char *key, size_t nkey, int64_t exptime,
                           const cache_async_t *async)
{
    return read_op(w, TR_TOUCH, key, nkey, true, exptime, 0, NULL, async);
}

cache_status_e cache_item_alloc(cache_worker_t *w, const char *key, size_t nkey,
                                uint32_t flags, int64_t exptime, size_t nbytes,
                                cache_item_t **out)
{
    *out = NULL;
    if (!key_ok(key, nkey))
        return CACHE_EINVAL;
    cache_status_e st;
    *out = tier_item_alloc(w->tw, key, nkey, flags, ram_realtime(w->tw->r, exptime), nbytes,
                           &st);
    return st;
}

cache_status_e cache_store(cache_worker_t *w, cache_item_t *it, cache_store_op_e op,
                           uint64_t cas_in, uint64_t *cas_out, const cache_async_t *async)
{
    tr_req_t q = REQ(w, TR_STORE, item_ckey(it), item_nkey(it));
    q.it = it; /* the caller's reference; req_keep takes its own */
    q.sop = op;
    q.cas_in = cas_in;
    cache_result_t res = {0};
    cache_status_e st = run_op(w, &q, async, &res);
    if (st == CACHE_OK && cas_out)
        *cas_out = res.cas;
    return st;
}

/* delete (counted) or unlink (not). */
static cache_status_e remove_op(cache_worker_t *w, tr_op_e op, const char *key, size_t nkey,
                                const cache_async_t *async)
{
    if (!key_ok(key, nkey))
        return CACHE_EINVAL;
    tr_req_t q = REQ(w, op, key, nkey);
    cache_result_t res;
    return run_op(w, &q, async, &res);
}

cache_status_e cache_delete(cache_worker_t *w, const char *key, size_t nkey,
                            const cache_async_t *async)
{
    return remove_op(w, TR_DELETE, key, nkey, async);
}

cache_status_e cache_unlink(cache_worker_t *w, const char *key, size_t nkey,
                            const cache_async_t *async)
{
    return remove_op(w, TR_UNLINK, key, nkey, async);
}

/* Runs q; when it succeeds synchronously, its new value and cas go out. */
static cache_status_e run_valued(cache_worker_t *w, tr_req_t *q, uint64_t *value_out,
                                 uint64_t *cas_out, const cache_async_t *async)
{
    cache_result_t res = {0};
    cache_status_e st = run_op(w, q, async, &res);
    if (st == CACHE_OK) {
        if (value_out)
            *value_out = res.value;
        if (cas_out)
            *cas_out = res.cas;
    }
    return st;
}

cache_status_e cache_arith(cache_worker_t *w, const char *key, size_t nkey, bool incr,
                           uint64_t delta, uint64_t *value_out, uint64_t *cas_out,
                           const cache_async_t *async)
{
    if (!key_ok(key, nkey))
        return CACHE_EINVAL;
    tr_req_t q = REQ(w, TR_ARITH, key, nkey);
    q.incr = incr;
    q.delta = delta;
    return run_valued(w, &q, value_out, cas_out, async);
}

/* The keyed conditional operations (ram.h): the cas compare and the act in
 * one RAM step under the key's stripe lock; a flash-resident item is
 * installed into RAM first, like any mutation's. */
static cache_status_e run_keyed(cache_worker_t *w, const char *key, size_t nkey,
                                const ram_keyed_t *k, int64_t *old_exptime_out,
                                uint64_t *value_out, uint64_t *cas_out,
                                const cache_async_t *async)
{
    tr_req_t q = REQ(w, TR_KEYED, key, nkey);
    q.k = *k;
    q.old_exptime_out = old_exptime_out;
    return run_valued(w, &q, value_out, cas_out, async);
}

cache_status_e cache_delete_ex(cache_worker_t *w, const char *key, size_t nkey,
                               const cache_delete_opts_t *o, const cache_async_t *async)
{
    if (!key_ok(key, nkey))
        return CACHE_EINVAL;
    ram_keyed_t k = {
        .kind = RAM_KEYED_DELETE,
        .has_cas = o->has_cas,
        .cas = o->cas,
        .mismatch_is_miss = o->mismatch_is_miss,
        .stale = o->stale,
        .set_exptime = o->set_exptime,
        .exptime = o->set_exptime ? ram_realtime(w->tw->r, o->exptime) : 0,
    };
    return run_keyed(w, key, nkey, &k, NULL, NULL, NULL, async);
}

cache_status_e cache_arith_ex(cache_worker_t *w, const char *key, size_t nkey, bool incr,
                              uint64_t delta, const cache_arith_opts_t *o,
                              uint64_t *value_out, uint64_t *cas_out,
                              const cache_async_t *async)
{
    if (!key_ok(key, nkey))
        return CACHE_EINVAL;
    ram_keyed_t k = {
        .kind = RAM_KEYED_ARITH,
        .has_cas = o->cas != 0,
        .cas = o->cas,
        .set_exptime = o->set_exptime,
        .exptime = o->set_exptime ? ram_realtime(w->tw->r, o->exptime) : 0,
        .incr = incr,
        .delta = delta,
    };
    return run_keyed(w, key, nkey, &k, o->old_exptime_out, value_out, cas_out, async);
}

int cache_worker_fd(const cache_worker_t *w)
{
    return tier_worker_fd(w->tw);
}

void cache_worker_poll(cache_worker_t *w)
{
    tier_worker_poll(w->tw);
}
