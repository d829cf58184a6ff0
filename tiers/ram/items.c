/*
 * tiers/ram/items.c - item life cycle and the memcached command semantics
 * of the RAM tier: get/touch, store (set/add/replace/append/prepend/cas),
 * delete, incr/decr, flush_all, the LRU tail policy and eviction.
 *
 * Lock order: hash stripe -> lru_class_t.lock -> slab locks. do_ functions
 * need the stripe lock of the key they are given. lru_pull_tail() holds an
 * LRU lock and only trylocks stripes (memcached's scheme).
 */
#include <stdio.h>
#include <string.h>

#include "ram.h"

#define LRU_PULL_EVICT 1
#define LRU_TAIL_TRIES 5
#define ALLOC_TRIES 10

static inline lru_class_t *lru_of(ram_t *r, const item_t *it)
{
    return &r->lru[it->clsid];
}

static inline uint64_t next_cas(ram_t *r)
{
    return atomic_fetch_add_explicit(&r->cas_id, 1, memory_order_relaxed) + 1;
}

bool ram_item_is_flushed(const ram_t *r, const item_t *it, rel_time_t now)
{
    rel_time_t ol = atomic_load_explicit(&r->oldest_live, memory_order_relaxed);
    if (ol == 0 || ol > now)
        return false;
    uint64_t ocas = atomic_load_explicit(&r->oldest_cas, memory_order_relaxed);
    return it->time <= ol || (ocas != 0 && it->cas != 0 && it->cas < ocas);
}

static inline bool item_expired(const item_t *it, rel_time_t now)
{
    return it->exptime != 0 && it->exptime <= now;
}

void ram_item_release(ram_t *r, item_t *it)
{
    if (item_refcount_decr(it) == 0)
        slabs_free(&r->slabs, it);
}

/* Caller holds the stripe of hv. Takes the hash's reference. */
static void do_item_link(ram_t *r, item_t *it, uint64_t hv, rel_time_t now)
{
    it->cas = r->set.use_cas ? next_cas(r) : 0;
    it->time = now;
    item_set_iflag(it, ITEM_LINKED);
    item_refcount_incr(it);
    do_hash_insert(&r->hash, it, hv);
    lru_class_t *l = lru_of(r, it);
    pthread_mutex_lock(&l->lock);
    do_lru_link(l, it, LRU_HOT);
    l->total_items++;
    pthread_mutex_unlock(&l->lock);
}

/* Caller holds the stripe of hv, and the item's LRU lock if lru_locked.
 * Drops the hash's reference (may free the item). */
static void do_item_unlink_x(ram_t *r, item_t *it, uint64_t hv, bool lru_locked)
{
    if (!(item_iflags(it) & ITEM_LINKED))
        return;
    item_clear_iflag(it, ITEM_LINKED);
    do_hash_remove(&r->hash, it, hv);
    lru_class_t *l = lru_of(r, it);
    if (!lru_locked)
        pthread_mutex_lock(&l->lock);
    do_lru_unlink(l, it);
    if (!lru_locked)
        pthread_mutex_unlock(&l->lock);
    ram_item_release(r, it);
}

static void do_item_unlink(ram_t *r, item_t *it, uint64_t hv)
{
    do_item_unlink_x(r, it, hv, false);
}

static void do_item_replace(ram_t *r, item_t *old, item_t *nw, uint64_t hv, rel_time_t now)
{
    do_item_unlink(r, old, hv);
    do_item_link(r, nw, hv, now);
}

/* memcached's do_item_update(): refresh the access time at most once per
 * ITEM_UPDATE_INTERVAL. */
static void do_item_update(item_t *it, rel_time_t now)
{
    if (it->time + ITEM_UPDATE_INTERVAL < now && (item_iflags(it) & ITEM_LINKED))
        it->time = now;
}

/* memcached's do_item_bump() for the segmented LRU: the first fetch sets
 * FETCHED, the second ACTIVE. An ACTIVE item in COLD moves to WARM now if
 * its LRU lock is free (memcached queues it for the maintainer), else the
 * next tail pass moves it. No allocation, at most one trylock. */
static void do_item_bump(ram_t *r, item_t *it, rel_time_t now)
{
    unsigned f = item_iflags(it);
    if (f & ITEM_ACTIVE)
        return;
    if (!(f & ITEM_FETCHED)) {
        item_set_iflag(it, ITEM_FETCHED);
        return;
    }
    item_set_iflag(it, ITEM_ACTIVE);
    if (item_lru(it) != LRU_COLD) {
        it->time = now;
        return;
    }
    lru_class_t *l = lru_of(r, it);
    if (pthread_mutex_trylock(&l->lock) != 0)
        return;
    if ((item_iflags(it) & ITEM_LINKED) && item_lru(it) == LRU_COLD) {
        item_clear_iflag(it, ITEM_ACTIVE);
        it->time = now;
        do_lru_move(l, it, LRU_WARM);
        lru_stat_add(&l->st.moves_to_warm, 1);
    }
    pthread_mutex_unlock(&l->lock);
}

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

/*
 * memcached's lru_pull_tail(), with tiercache's scan-resistant policy (see
 * lru.h): looks at up to 5 items from the tail of list `cur` of class `id`.
 * Expired/flushed items are reclaimed (and the search goes on); busy ones
 * skipped.
 *   HOT:  an ACTIVE tail goes to WARM; otherwise it moves to COLD when HOT
 *         holds more than `limit` bytes or the item is older than max_age.
 *   WARM: an ACTIVE tail is re-bumped to the WARM head (and the search goes
 *         on); otherwise it moves to COLD when WARM holds more than `limit`
 *         bytes or the item is older than max_age.
 *   COLD: an ACTIVE tail (hit twice, the bump not yet done) moves to WARM
 *         and the search goes on; with LRU_PULL_EVICT an inactive tail is
 *         evicted (if evict_to_free).
 * Returns the number of items moved or freed.
 */
static int lru_pull_tail(ram_t *r, unsigned id, lru_id_e cur, uint64_t limit,
                         int flags, rel_time_t max_age)
{
    lru_class_t *l = &r->lru[id];
    rel_time_t now = ram_now(r);
    int removed = 0;
    pthread_mutex_lock(&l->lock);
    item_t *search = l->tail[cur];
    for (int tries = LRU_TAIL_TRIES; tries > 0 && search; tries--) {
        item_t *next = search->prev;
        uint64_t hv = hash_key(item_ckey(search), item_nkey(search));
        if (!hash_trylock(&r->hash, hv)) {
            search = next;
            continue;
        }
        if (item_refcount_incr(search) != 2) {
            lru_stat_add(&l->st.lrutail_reflocked, 1);
            ram_item_release(r, search);
            hash_unlock(&r->hash, hv);
            search = next;
            continue;
        }
        if ((search->exptime != 0 && search->exptime < now) ||
            ram_item_is_flushed(r, search, now)) {
            lru_stat_add(&l->st.reclaimed, 1);
            if (!(item_iflags(search) & ITEM_FETCHED))
                lru_stat_add(&l->st.expired_unfetched, 1);
            do_item_unlink_x(r, search, hv, true);
            ram_item_release(r, search);
            hash_unlock(&r->hash, hv);
            removed++;
            search = next;
            continue;
        }
        bool stop = true;
        bool active = (item_iflags(search) & ITEM_ACTIVE) != 0;
        switch (cur) {
        case LRU_HOT:
        case LRU_WARM:
            if (active) {
                item_clear_iflag(search, ITEM_ACTIVE);
                removed++;
                if (cur == LRU_WARM) {
                    lru_stat_add(&l->st.moves_within_lru, 1);
                    stop = false;
                } else {
                    lru_stat_add(&l->st.moves_to_warm, 1);
                }
                do_lru_move(l, search, LRU_WARM);
            } else if (l->bytes[cur] > limit || now - search->time > max_age) {
                lru_stat_add(&l->st.moves_to_cold, 1);
                do_lru_move(l, search, LRU_COLD);
                removed++;
            }
            break;
        case LRU_COLD:
            if (active) {
                /* hit twice in COLD: rescued to WARM, never evicted */
                lru_stat_add(&l->st.moves_to_warm, 1);
                item_clear_iflag(search, ITEM_ACTIVE);
                do_lru_move(l, search, LRU_WARM);
                removed++;
                stop = false;
            } else if ((flags & LRU_PULL_EVICT) && r->set.evict_to_free) {
                lru_stat_add(&l->st.evicted, 1);
                atomic_store_explicit(&l->st.evicted_time, now - search->time,
                                      memory_order_relaxed);
                if (search->exptime != 0)
                    lru_stat_add(&l->st.evicted_nonzero, 1);
                if (!(item_iflags(search) & ITEM_FETCHED))
                    lru_stat_add(&l->st.evicted_unfetched, 1);
                do_item_unlink_x(r, search, hv, true);
                removed++;
            }
            break;
        default:
            break;
        }
        ram_item_release(r, search);
        hash_unlock(&r->hash, hv);
        if (stop)
            break;
        search = next;
    }
    pthread_mutex_unlock(&l->lock);
    return removed;
}

/* No age cap (WARM, and forced pulls). */
#define LRU_NO_MAX_AGE ((rel_time_t)UINT32_MAX)

unsigned ram_lru_juggle(ram_t *r, unsigned cls, unsigned max)
{
    lru_class_t *l = &r->lru[cls];
    rel_time_t now = ram_now(r);
    rel_time_t cold_age = 0;
    pthread_mutex_lock(&l->lock);
    if (l->tail[LRU_COLD])
        cold_age = now - l->tail[LRU_COLD]->time;
    uint64_t total = l->bytes[LRU_HOT] + l->bytes[LRU_WARM] + l->bytes[LRU_COLD];
    pthread_mutex_unlock(&l->lock);
    if (total == 0)
        return 0;
    /* HOT: hot_lru_pct of the class's item bytes, or hot_max_factor of
     * COLD's age (memcached's). WARM: warm_lru_pct of the memory the class
     * owns, no age cap (lru.h: a scan shrinks COLD's age to nothing and
     * must not push WARM out). */
    slabs_class_info_t in;
    slabs_class_info(&r->slabs, cls, &in);
    uint64_t class_mem = in.total_chunks * in.chunk_size;
    if (class_mem < total)
        class_mem = total;
    uint64_t hot_limit = total * r->set.hot_lru_pct / 100;
    uint64_t warm_limit = class_mem * r->set.warm_lru_pct / 100;
    rel_time_t hot_age = (rel_time_t)(cold_age * r->set.hot_max_factor);
    unsigned moves = 0;
    for (unsigned i = 0; i < max; i++) {
        int more = 0;
        if (lru_pull_tail(r, cls, LRU_HOT, hot_limit, 0, hot_age) ||
            lru_pull_tail(r, cls, LRU_WARM, warm_limit, 0, LRU_NO_MAX_AGE))
            more++;
        more += lru_pull_tail(r, cls, LRU_COLD, 0, 0, 0);
        if (!more)
            break;
        moves++;
    }
    return moves;
}

/* Allocation with eviction (memcached's do_item_alloc()); may be called
 * holding one stripe lock. */
static item_t *do_item_alloc(ram_t *r, const char *key, size_t nkey, uint32_t flags,
                             rel_time_t exptime, size_t nbytes, cache_status_e *st)
{
    size_t ntotal = item_ntotal_for(nkey, nbytes, flags, r->set.use_cas);
    unsigned id = slabs_clsid(&r->slabs, ntotal);
    if (id == 0 || nbytes > UINT32_MAX) {
        *st = CACHE_TOO_LARGE;
        return NULL;
    }
    if (!r->set.maintainer_thread)
        ram_lru_juggle(r, id, 1);
    item_t *it = NULL;
    unsigned i;
    for (i = 0; i < ALLOC_TRIES; i++) {
        it = slabs_alloc(&r->slabs, id);
        if (it)
            break;
        if (lru_pull_tail(r, id, LRU_COLD, 0, LRU_PULL_EVICT, 0) <= 0) {
            if (lru_pull_tail(r, id, LRU_HOT, 0, 0, 0) <= 0)
                lru_pull_tail(r, id, LRU_WARM, 0, 0, 0);
        }
    }
    lru_class_t *l = &r->lru[id];
    if (i > 0)
        lru_stat_add(&l->st.direct_reclaims, i);
    if (!it) {
        lru_stat_add(&l->st.outofmemory, 1);
        *st = CACHE_NO_MEMORY;
        return NULL;
    }
    it->cas = 0;
    it->time = ram_now(r);
    it->exptime = exptime;
    it->nbytes = (uint32_t)nbytes;
    item_init_layout(it, nkey, flags, r->set.use_cas);
    memcpy(item_key(it), key, nkey);
    *st = CACHE_OK;
    return it;
}

item_t *ram_item_alloc(ram_t *r, ram_wstats_t *ws, const char *key, size_t nkey,
                       uint32_t flags, rel_time_t exptime, size_t nbytes,
                       cache_status_e *st)
{
    item_t *it = do_item_alloc(r, key, nkey, flags, exptime, nbytes, st);
    if (!it) {
        if (*st == CACHE_TOO_LARGE)
            WSTAT_INC(ws, store_too_large);
        else
            WSTAT_INC(ws, store_no_memory);
    }
    return it;
}

void ram_maybe_expand(ram_t *r)
{
    if (hash_needs_expand(&r->hash))
        hash_expand(&r->hash);
}

cache_status_e ram_get(ram_t *r, ram_wstats_t *ws, const char *key, size_t nkey,
                       ram_get_mode_e mode, rel_time_t exptime, item_t **out)
{
    uint64_t hv = hash_key(key, nkey);
    rel_time_t now = ram_now(r);
    hash_lock(&r->hash, hv);
    item_t *it = do_item_get(r, ws, key, nkey, hv, now);
    lru_id_e lru = LRU_HOT;
    if (it) {
        lru = item_lru(it);
        do_item_bump(r, it, now);
        if (mode != RAM_GET)
            it->exptime = exptime;
    }
    hash_unlock(&r->hash, hv);

    /* memcached counts gat/gats in cmd_touch only, never in cmd_get. */
    if (mode == RAM_GET)
        WSTAT_INC(ws, cmd_get);
    else
        WSTAT_INC(ws, cmd_touch);
    if (!it) {
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
                         uint64_t cas_in, uint64_t *cas_out)
{
    if (item_iflags(it) & (ITEM_LINKED | ITEM_SLABBED))
        return CACHE_EINVAL;
    const char *key = item_ckey(it);
    size_t nkey = item_nkey(it);
    uint64_t hv = hash_key(key, nkey);
    rel_time_t now = ram_now(r);
    cache_status_e st = CACHE_NOT_STORED;

    WCSTAT_INC(ws, it->clsid, set_cmds);
    hash_lock(&r->hash, hv);
    item_t *old = do_item_get(r, ws, key, nkey, hv, now);
    if (old && op == CACHE_STORE_ADD) {
        do_item_update(old, now); /* add bumps the existing item */
    } else if (!old && (op == CACHE_STORE_REPLACE || op == CACHE_STORE_APPEND ||
                        op == CACHE_STORE_PREPEND)) {
        /* NOT_STORED */
    } else if (op == CACHE_STORE_CAS) {
        if (!old) {
            st = CACHE_NOT_FOUND;
            WSTAT_INC(ws, cas_misses);
        } else if (cas_in != 0 && old->cas != 0 && cas_in == old->cas) {
            /* memcached: a zero unique on either side (cas 0, or -C where
             * every item's unique is 0) never matches: EXISTS. */
            do_item_replace(r, old, it, hv, now);
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
            link = do_item_alloc(r, key, nkey, item_flags_get(old), old->exptime, n, &st);
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
                          bool count)
{
    uint64_t hv = hash_key(key, nkey);
    rel_time_t now = ram_now(r);
    hash_lock(&r->hash, hv);
    item_t *it = do_item_get(r, ws, key, nkey, hv, now);
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

cache_status_e ram_arith(ram_t *r, ram_wstats_t *ws, const char *key, size_t nkey,
                         bool incr, uint64_t delta, uint64_t *value_out,
                         uint64_t *cas_out)
{
    uint64_t hv = hash_key(key, nkey);
    rel_time_t now = ram_now(r);
    cache_status_e st = CACHE_OK;
    hash_lock(&r->hash, hv);
    item_t *it = do_item_get(r, ws, key, nkey, hv, now);
    if (!it) {
        if (incr)
            WSTAT_INC(ws, incr_misses);
        else
            WSTAT_INC(ws, decr_misses);
        hash_unlock(&r->hash, hv);
        return CACHE_NOT_FOUND;
    }
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
        char *d = item_value(it);
        memcpy(d, buf, (size_t)len);
        memset(d + len, ' ', it->nbytes - (size_t)len);
        do_item_update(it, now);
        if (cas_out)
            *cas_out = it->cas;
    } else {
        item_t *nw = do_item_alloc(r, key, nkey, item_flags_get(it), it->exptime,
                                   (size_t)len, &st);
        if (!nw) {
            st = CACHE_NO_MEMORY;
            goto out;
        }
        memcpy(item_value(nw), buf, (size_t)len);
        do_item_replace(r, it, nw, hv, now);
        if (cas_out)
            *cas_out = nw->cas;
        ram_item_release(r, nw);
    }
    if (value_out)
        *value_out = value;
out:
    ram_item_release(r, it);
    hash_unlock(&r->hash, hv);
    return st;
}

void ram_flush_all(ram_t *r, int64_t exptime)
{
    rel_time_t now = ram_now(r);
    rel_time_t nw = exptime > 0 ? ram_realtime(r, exptime) : now;
    if (r->set.use_cas) {
        rel_time_t ol = nw - 1;
        if (ol <= now)
            atomic_store_explicit(&r->oldest_cas, next_cas(r), memory_order_relaxed);
        atomic_store_explicit(&r->oldest_live, ol, memory_order_relaxed);
    } else {
        atomic_store_explicit(&r->oldest_live, nw, memory_order_relaxed);
    }
}

bool ram_crawl_item(void *ctx, item_t *it, uint64_t hv)
{
    ram_t *r = ctx;
    rel_time_t now = ram_now(r);
    lru_class_t *l = lru_of(r, it);
    lru_stat_add(&l->st.crawler_items_checked, 1);
    bool flushed = ram_item_is_flushed(r, it, now);
    if (flushed || (it->exptime != 0 && it->exptime < now)) {
        lru_stat_add(&l->st.crawler_reclaimed, 1);
        if (!flushed && !(item_iflags(it) & ITEM_FETCHED))
            lru_stat_add(&l->st.expired_unfetched, 1);
        do_item_unlink(r, it, hv);
    }
    return true;
}
