/*
 * tiers/ram/ops.c - the memcached commands of the RAM tier: get / gat /
 * touch, store (set/add/replace/append/prepend/cas), delete, incr/decr and
 * the keyed conditional operations (ram.h), and the install of a lower
 * tier's copy if its token is still current (ram_install). With
 * RAM_F_DEFER a command
 * whose key has no RAM item answers CACHE_PENDING counting nothing: the
 * door asks the lower tier first.
 *
 * Lock order: items_int.h. Every command takes its key's stripe lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "items_int.h"

/* memcached's do_item_get(): finds a live item and references it; unlinks
 * flushed/expired ones on the way (counting get_flushed/get_expired). */
static item_t *do_item_get(ram_t *r, ram_wstats_t *ws, const char *key, size_t nkey,
                           uint64_t hv, rel_time_t now)
{
    item_t *it = do_hash_find(&r->hash, key, nkey, hv);
    if (!it)
        return NULL;
    if (ram_item_is_flushed(r, it, now)) {
        do_item_unlink(r, it, hv);
        WSTAT_INC(ws, get_flushed);
        return NULL;
    }
    if (item_expired(it, now)) {
        do_item_unlink(r, it, hv);
        WSTAT_INC(ws, get_expired);
        return NULL;
    }
    item_refcount_incr(it);
    return it;
}

cache_status_e ram_get(ram_t *r, ram_wstats_t *ws, const char *key, size_t nkey,
                       ram_get_mode_e mode, rel_time_t exptime, item_t **out,
                       unsigned rflags)
{
    uint64_t hv = hash_key(key, nkey);
    rel_time_t now = ram_now(r);
    hash_lock(&r->hash, hv);
    item_t *it = do_item_get(r, ws, key, nkey, hv, now);
    lru_id_e lru = LRU_HOT;
    if (it) {
        lru = item_lru(it);
        if (!(rflags & RAM_F_NOBUMP))
            do_item_bump(r, it, now);
        if (mode != RAM_GET) {
            item_exptime_set(r, it, exptime);
            do_item_modified(r, it, hv);
        }
    }
    hash_unlock(&r->hash, hv);

    /* memcached counts gat/gats in cmd_touch only, never in cmd_get. */
    if (!(rflags & RAM_F_RERUN)) {
        if (mode == RAM_GET)
            WSTAT_INC(ws, cmd_get);
        else
            WSTAT_INC(ws, cmd_touch);
    }
    if (!it) {
        if (rflags & RAM_F_DEFER)
            return CACHE_PENDING;
        if (mode == RAM_GET)
            WSTAT_INC(ws, get_misses);
        else
            WSTAT_INC(ws, touch_misses);
        return CACHE_NOT_FOUND;
    }
    if (mode == RAM_GET) {
        WSTAT_INC(ws, get_hits);
        switch (lru) {
        case LRU_HOT: WCSTAT_INC(ws, it->clsid, hits_hot); break;
        case LRU_WARM: WCSTAT_INC(ws, it->clsid, hits_warm); break;
        default: WCSTAT_INC(ws, it->clsid, hits_cold); break;
        }
    } else {
        WSTAT_INC(ws, touch_hits);
        WCSTAT_INC(ws, it->clsid, touch_hits);
    }
    if (out)
        *out = it;
    else
        ram_item_release(r, it);
    return CACHE_OK;
}

cache_status_e ram_store(ram_t *r, ram_wstats_t *ws, item_t *it, cache_store_op_e op,
                         uint64_t cas_in, uint64_t *cas_out, unsigned rflags,
                         item_t **spill)
{
    if ((item_iflags(it) & (ITEM_LINKED | ITEM_SLABBED)) || it->clsid == 0)
        return CACHE_EINVAL;
    const char *key = item_ckey(it);
    size_t nkey = item_nkey(it);
    uint64_t hv = hash_key(key, nkey);
    rel_time_t now = ram_now(r);
    cache_status_e st = CACHE_NOT_STORED;

    if (!(rflags & RAM_F_RERUN))
        WCSTAT_INC(ws, it->clsid, set_cmds);
    hash_lock(&r->hash, hv);
    item_t *old = do_item_get(r, ws, key, nkey, hv, now);
    if (!old && op != CACHE_STORE_SET && (rflags & RAM_F_DEFER)) {
        /* add/replace/append/prepend/cas need to know about a lower copy */
        hash_unlock(&r->hash, hv);
        return CACHE_PENDING;
    }
    bool below = r->low_on && may_be_below(r, old);
    if (old && op == CACHE_STORE_ADD) {
        do_item_update(old, now); /* add bumps the existing item */
    } else if (!old && (op == CACHE_STORE_REPLACE || op == CACHE_STORE_APPEND ||
                        op == CACHE_STORE_PREPEND)) {
        /* NOT_STORED */
    } else if (old && cas_in != 0 && old->cas != cas_in &&
               (op == CACHE_STORE_APPEND || op == CACHE_STORE_PREPEND)) {
        /* memcached: append/prepend with a cas must match it */
        st = CACHE_EXISTS;
    } else if (op == CACHE_STORE_CAS || op == CACHE_STORE_CAS_STALE) {
        bool match = old && cas_in != 0 && old->cas != 0 && cas_in == old->cas;
        bool stale = old && !match && op == CACHE_STORE_CAS_STALE && cas_in != 0 &&
                     cas_in < old->cas;
        if (!old) {
            st = CACHE_NOT_FOUND;
            WSTAT_INC(ws, cas_misses);
        } else if (match || stale) {
            /* memcached: a zero unique on either side (cas 0, or -C where
             * every item's unique is 0) never matches: EXISTS. An older
             * unique with ms I stores a stale value (CAS_STALE). */
            if (stale) {
                it->exptime = old->exptime;
                item_marks_or(it, CACHE_MARK_STALE | (item_marks(old) & CACHE_MARK_TOKEN));
            }
            do_item_replace(r, old, it, hv, now);
            if (below)
                lower_changed(r, hv);
            WSTAT_INC(ws, cas_hits);
            WCSTAT_INC(ws, old->clsid, cas_hits);
            if (cas_out)
                *cas_out = it->cas;
            st = CACHE_OK;
        } else {
            st = CACHE_EXISTS;
            WSTAT_INC(ws, cas_badval);
            WCSTAT_INC(ws, old->clsid, cas_badval);
        }
    } else {
        item_t *link = it;
        st = CACHE_OK;
        if (op == CACHE_STORE_APPEND || op == CACHE_STORE_PREPEND) {
            size_t n = (size_t)old->nbytes + it->nbytes;
            link = do_item_alloc(r, key, nkey, item_flags_get(old), old->exptime, n,
                                 rflags, spill, &st);
            if (st == CACHE_PENDING) {
                /* Cannot wait for the writer holding the stripe: evict
                 * without spilling instead (a counted drop). At most a
                 * third of a class waits for the writer (lru_pull_tail),
                 * so this finds memory unless the class is truly full. */
                link = do_item_alloc(r, key, nkey, item_flags_get(old), old->exptime, n,
                                     rflags | RAM_F_NOSPILL, spill, &st);
                if (st == CACHE_PENDING)
                    st = CACHE_NO_MEMORY;
            }
            if (st == CACHE_NO_MEMORY)
                WSTAT_INC(ws, store_no_memory);
            if (link) {
                char *d = item_value(link);
                if (op == CACHE_STORE_APPEND) {
                    memcpy(d, item_cvalue(old), old->nbytes);
                    memcpy(d + old->nbytes, item_cvalue(it), it->nbytes);
                } else {
                    memcpy(d, item_cvalue(it), it->nbytes);
                    memcpy(d + it->nbytes, item_cvalue(old), old->nbytes);
                }
            }
        }
        if (st == CACHE_OK) {
            if (old)
                do_item_replace(r, old, link, hv, now);
            else
                do_item_link(r, link, hv, now);
            if (below)
                lower_changed(r, hv);
            if (cas_out)
                *cas_out = link->cas;
            if (link != it)
                ram_item_release(r, link);
        }
    }
    if (old)
        ram_item_release(r, old);
    hash_unlock(&r->hash, hv);
    if (st == CACHE_OK && !r->set.maintainer_thread)
        ram_maybe_expand(r);
    return st;
}

cache_status_e ram_delete(ram_t *r, ram_wstats_t *ws, const char *key, size_t nkey,
                          bool count, unsigned rflags)
{
    uint64_t hv = hash_key(key, nkey);
    rel_time_t now = ram_now(r);
    hash_lock(&r->hash, hv);
    item_t *it = do_item_get(r, ws, key, nkey, hv, now);
    if (!it && (rflags & RAM_F_DEFER)) {
        hash_unlock(&r->hash, hv);
        return CACHE_PENDING;
    }
    if (r->low_on && (it ? may_be_below(r, it) : (rflags & RAM_F_LOWERDROP) != 0))
        lower_changed(r, hv);
    if (!count) {
        /* memcached's item_get + item_unlink: no delete counters */
        if (it) {
            do_item_unlink(r, it, hv);
            ram_item_release(r, it);
        }
    } else if (it) {
        WSTAT_INC(ws, delete_hits);
        WCSTAT_INC(ws, it->clsid, delete_hits);
        do_item_unlink(r, it, hv);
        ram_item_release(r, it);
    } else {
        WSTAT_INC(ws, delete_misses);
    }
    hash_unlock(&r->hash, hv);
    return it ? CACHE_OK : CACHE_NOT_FOUND;
}

static inline bool c_isspace(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool ram_parse_u64(const char *p, size_t n, uint64_t *out)
{
    /* strtoull(): spaces, an optional sign, decimal digits; then memcached
     * wants a space or the end of the value (its "\r\n"); ERANGE or no
     * digits fail; a '-' is refused only if the result is "negative". */
    size_t i = 0;
    bool neg = false;
    *out = 0;
    while (i < n && c_isspace(p[i]))
        i++;
    if (i < n && (p[i] == '+' || p[i] == '-')) {
        neg = p[i] == '-';
        i++;
    }
    size_t d0 = i;
    uint64_t v = 0;
    bool range = false;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        unsigned dg = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - dg) / 10)
            range = true;
        else
            v = v * 10 + dg;
        i++;
    }
    if (i == d0 || range)
        return false;
    if (i < n && !c_isspace(p[i]))
        return false;
    if (neg)
        v = (uint64_t)0 - v;
    if (neg && (int64_t)v < 0)
        return false;
    *out = v;
    return true;
}

/* incr/decr of the live item `it` of hv (stripe held; our reference is
 * released here). With set_exptime the resulting item gets `exptime`. */
static cache_status_e do_arith(ram_t *r, ram_wstats_t *ws, item_t *it, uint64_t hv,
                               rel_time_t now, bool incr, uint64_t delta,
                               bool set_exptime, rel_time_t exptime, uint64_t *value_out,
                               uint64_t *cas_out, unsigned rflags, item_t **spill)
{
    const char *key = item_ckey(it);
    size_t nkey = item_nkey(it);
    cache_status_e st = CACHE_OK;
    bool below = r->low_on && may_be_below(r, it);
    uint64_t value;
    if (it->nbytes == 0 || !ram_parse_u64(item_cvalue(it), it->nbytes, &value)) {
        st = CACHE_NON_NUMERIC;
        goto out;
    }
    if (incr) {
        value += delta;
        WSTAT_INC(ws, incr_hits);
        WCSTAT_INC(ws, it->clsid, incr_hits);
    } else {
        value = delta > value ? 0 : value - delta;
        WSTAT_INC(ws, decr_hits);
        WCSTAT_INC(ws, it->clsid, decr_hits);
    }
    char buf[24];
    int len = snprintf(buf, sizeof buf, "%llu", (unsigned long long)value);
    if ((size_t)len <= it->nbytes &&
        atomic_load_explicit(&it->refcount, memory_order_acquire) == 2) {
        /* In place, padded with spaces (memcached: "10" decr 1 -> "9 "). */
        it->cas = r->set.use_cas ? next_cas(r) : 0;
        if (set_exptime)
            item_exptime_set(r, it, exptime);
        if (below) {
            item_loc_set(r, it, 0); /* no longer the promoted copy */
            lower_changed(r, hv);
        }
        char *d = item_value(it);
        memcpy(d, buf, (size_t)len);
        memset(d + len, ' ', it->nbytes - (size_t)len);
        do_item_update(it, now);
        if (cas_out)
            *cas_out = it->cas;
    } else {
        item_t *nw = do_item_alloc(r, key, nkey, item_flags_get(it),
                                   set_exptime ? exptime : it->exptime, (size_t)len,
                                   rflags, spill, &st);
        if (!nw && st == CACHE_PENDING) /* see append: cannot wait here */
            nw = do_item_alloc(r, key, nkey, item_flags_get(it),
                               set_exptime ? exptime : it->exptime, (size_t)len,
                               rflags | RAM_F_NOSPILL, spill, &st);
        if (!nw) {
            st = CACHE_NO_MEMORY;
            goto out;
        }
        memcpy(item_value(nw), buf, (size_t)len);
        do_item_replace(r, it, nw, hv, now);
        if (below)
            lower_changed(r, hv);
        if (cas_out)
            *cas_out = nw->cas;
        ram_item_release(r, nw);
    }
    if (value_out)
        *value_out = value;
out:
    ram_item_release(r, it);
    return st;
}

cache_status_e ram_arith(ram_t *r, ram_wstats_t *ws, const char *key, size_t nkey,
                         bool incr, uint64_t delta, uint64_t *value_out,
                         uint64_t *cas_out, unsigned rflags, item_t **spill)
{
    uint64_t hv = hash_key(key, nkey);
    rel_time_t now = ram_now(r);
    hash_lock(&r->hash, hv);
    item_t *it = do_item_get(r, ws, key, nkey, hv, now);
    if (!it && (rflags & RAM_F_DEFER)) {
        hash_unlock(&r->hash, hv);
        return CACHE_PENDING;
    }
    if (!it) {
        if (incr)
            WSTAT_INC(ws, incr_misses);
        else
            WSTAT_INC(ws, decr_misses);
        hash_unlock(&r->hash, hv);
        return CACHE_NOT_FOUND;
    }
    cache_status_e st = do_arith(r, ws, it, hv, now, incr, delta, false, 0, value_out,
                                 cas_out, rflags, spill);
    hash_unlock(&r->hash, hv);
    return st;
}

/* ---- keyed conditional operations (ram.h) ---- */

/* md / binary delete with a cas, md I (stale). Stripe of hv held. */
static cache_status_e do_keyed_delete(ram_t *r, ram_wstats_t *ws, item_t *it, uint64_t hv,
                                      ram_keyed_t *k)
{
    cache_status_e st = CACHE_OK;
    if (k->has_cas && it->cas != k->cas) {
        if (k->mismatch_is_miss)
            WSTAT_INC(ws, delete_misses);
        st = CACHE_EXISTS;
    } else if (k->stale) {
        /* memcached's md I: in place, so a reader holding the item sees
         * the mark; the token is cleared so the next mg wins again */
        item_marks_or(it, CACHE_MARK_STALE);
        item_marks_clear(it, CACHE_MARK_TOKEN);
        it->cas = r->set.use_cas ? next_cas(r) : 0;
        if (k->set_exptime)
            item_exptime_set(r, it, k->exptime);
        do_item_modified(r, it, hv);
        k->cas_out = it->cas;
    } else {
        if (r->low_on && may_be_below(r, it))
            lower_changed(r, hv);
        WSTAT_INC(ws, delete_hits);
        WCSTAT_INC(ws, it->clsid, delete_hits);
        do_item_unlink(r, it, hv);
    }
    ram_item_release(r, it);
    return st;
}

cache_status_e ram_keyed(ram_t *r, ram_wstats_t *ws, const char *key, size_t nkey,
                         ram_keyed_t *k, unsigned rflags, item_t **spill)
{
    uint64_t hv = hash_key(key, nkey);
    rel_time_t now = ram_now(r);
    cache_status_e st;
    hash_lock(&r->hash, hv);
    item_t *it = do_item_get(r, ws, key, nkey, hv, now);
    if (!it) {
        if (rflags & RAM_F_DEFER) {
            hash_unlock(&r->hash, hv);
            return CACHE_PENDING;
        }
        if (k->kind == RAM_KEYED_DELETE)
            WSTAT_INC(ws, delete_misses);
        else if (k->incr)
            WSTAT_INC(ws, incr_misses);
        else
            WSTAT_INC(ws, decr_misses);
        st = CACHE_NOT_FOUND;
    } else if (k->kind == RAM_KEYED_DELETE) {
        st = do_keyed_delete(r, ws, it, hv, k);
    } else if (k->has_cas && k->cas != 0 && it->cas != k->cas) {
        ram_item_release(r, it); /* memcached: no counter for a mismatch */
        st = CACHE_EXISTS;
    } else {
        k->old_exptime = it->exptime;
        st = do_arith(r, ws, it, hv, now, k->incr, k->delta, k->set_exptime, k->exptime,
                      &k->value_out, &k->cas_out, rflags, spill);
    }
    hash_unlock(&r->hash, hv);
    return st;
}

cache_status_e ram_install(ram_t *r, ram_wstats_t *ws, ram_install_mode_e mode,
                           const char *key, size_t nkey, uint64_t hv, item_t *nw,
                           uint64_t cas, uint64_t loc, item_t **cur)
{
    rel_time_t now = ram_now(r);
    cache_status_e st = CACHE_OK;
    *cur = NULL;
    hash_lock(&r->hash, hv);
    item_t *it = do_item_get(r, ws, key, nkey, hv, now);
    if (it) {
        *cur = it;
        st = CACHE_EXISTS;
    } else if (*ghost_of(r, hv) != 0 || !r->low.current(r->low.ctx, hv, loc)) {
        st = CACHE_NOT_FOUND;
    } else if (mode == RAM_INSTALL_REMOVE) {
        lower_changed(r, hv);
    } else if (mode == RAM_INSTALL_LINK) {
        nw->cas = cas;
        do_item_link_cas(r, nw, hv, now);
        if (loc_slot(r, nw))
            item_loc_set(r, nw, loc);
        else
            r->low.moved ? r->low.moved(r->low.ctx, hv) /* cannot remember it */
                        : lower_changed(r, hv);
        item_refcount_incr(nw);
        *cur = nw;
    }
    hash_unlock(&r->hash, hv);
    if (st == CACHE_OK && mode == RAM_INSTALL_LINK && !r->set.maintainer_thread)
        ram_maybe_expand(r);
    return st;
}
