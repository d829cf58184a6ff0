/*
 * tiers/cache_stats.c - the door's stats (cache.h: cache_stats_snapshot,
 * cache_stats_reset, cache_stats_group): the workers' counters summed
 * under cache_t.wlock, the RAM tier's classes, the flash glue's figures.
 */
#include "cache.h"
#include "cache_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Worker counter sums minus the reset baseline. Caller holds c->wlock. */
static void do_worker_sums(cache_t *c, ram_wsum_t *out)
{
    memset(out, 0, sizeof *out);
    *out = c->retired;
    for (cache_worker_t *w = c->workers; w; w = w->next)
        ram_wstats_sum(&w->st, out);
    ram_wstats_sum(&c->ram.bg, out);
}

static void sub_base(ram_wsum_t *s, const ram_wsum_t *b)
{
#define CACHE_SUBG(name, desc) s->g.name -= b->g.name;
    CACHE_STATS_FIELDS(CACHE_SUBG)
#undef CACHE_SUBG
    for (unsigned k = 0; k < SLAB_CLASS_MAX; k++) {
#define CACHE_SUBC(n) s->cls[k].n -= b->cls[k].n;
        RAM_WCLASS_FIELDS(CACHE_SUBC)
#undef CACHE_SUBC
    }
}

static void worker_sums(cache_t *c, ram_wsum_t *out)
{
    pthread_mutex_lock(&c->wlock);
    do_worker_sums(c, out);
    sub_base(out, &c->base);
    pthread_mutex_unlock(&c->wlock);
}

static uint64_t ld(_Atomic uint64_t *p)
{
    return atomic_load_explicit(p, memory_order_relaxed);
}

void cache_stats_snapshot(cache_t *c, cache_stats_t *out)
{
    ram_t *r = &c->ram;
    ram_wsum_t *ws = malloc(sizeof *ws);
    memset(out, 0, sizeof *out);
    if (ws) {
        worker_sums(c, ws);
#define CACHE_COPYG(name, desc) out->name = ws->g.name;
        CACHE_STATS_FIELDS(CACHE_COPYG)
#undef CACHE_COPYG
        free(ws);
    }
    out->limit_maxbytes = ram_mem_limit(r);
    out->hash_power_level = atomic_load_explicit(&r->hash.power, memory_order_relaxed);
    out->hash_bytes = hash_buckets(&r->hash) * sizeof(item_t *);
    out->hash_is_expanding = atomic_load_explicit(&r->hash.expanding, memory_order_relaxed);
#define MV_STAT(n) out->n = ld(&r->slabs.n);
    SLABS_MOVE_STATS(MV_STAT)
#undef MV_STAT
    out->slab_reassign_running =
        atomic_load_explicit(&r->slabs.move_running, memory_order_relaxed);
    out->lru_crawler_running = ld(&r->crawler_running);
    out->lru_crawler_starts = ld(&r->lru_crawler_starts);
    out->lru_maintainer_juggles = ld(&r->lru_maintainer_juggles);
    out->malloc_fails = ld(&r->slabs.malloc_fails) + ld(&r->hash.malloc_fails);
    out->slab_global_page_pool = slabs_pool_pages(&r->slabs);
    out->lru_bumps_dropped = ld(&r->lru_bumps_dropped);
    tier_stats(c->tier, out);
    cache_memory_t mem;
    cache_memory_parts(c, &mem);
#define CACHE_MEMORY_COPY(name, desc) out->name = mem.name;
    CACHE_MEMORY_FIELDS(CACHE_MEMORY_COPY)
#undef CACHE_MEMORY_COPY
    out->bytes = out->curr_items = out->total_items = 0;
    for (unsigned id = 1; id <= r->slabs.largest; id++) {
        lru_class_t *l = &r->lru[id];
        pthread_mutex_lock(&l->lock);
        for (unsigned k = 0; k < LRU_COUNT; k++) {
            out->bytes += l->bytes[k];
            out->curr_items += l->count[k];
        }
        out->total_items += l->total_items;
        pthread_mutex_unlock(&l->lock);
        out->expired_unfetched += ld(&l->st.expired_unfetched);
        out->evicted_unfetched += ld(&l->st.evicted_unfetched);
        out->evicted_active += ld(&l->st.evicted_active);
        out->evictions += ld(&l->st.evicted);
        out->reclaimed += ld(&l->st.reclaimed);
        out->crawler_reclaimed += ld(&l->st.crawler_reclaimed);
        out->crawler_items_checked += ld(&l->st.crawler_items_checked);
        out->lrutail_reflocked += ld(&l->st.lrutail_reflocked);
        out->moves_to_cold += ld(&l->st.moves_to_cold);
        out->moves_to_warm += ld(&l->st.moves_to_warm);
        out->moves_within_lru += ld(&l->st.moves_within_lru);
        out->direct_reclaims += ld(&l->st.direct_reclaims);
    }
}

void cache_stats_reset(cache_t *c)
{
    ram_t *r = &c->ram;
    pthread_mutex_lock(&c->wlock);
    do_worker_sums(c, &c->base);
    pthread_mutex_unlock(&c->wlock);
    tier_stats_reset(c->tier);
    atomic_store(&r->lru_crawler_starts, 0);
    atomic_store(&r->lru_maintainer_juggles, 0);
    atomic_store(&r->lru_bumps_dropped, 0);
    atomic_store(&r->age_spills, 0);
    atomic_store(&r->slabs.malloc_fails, 0);
#define MV_RESET(n) atomic_store(&r->slabs.n, 0);
    SLABS_MOVE_STATS(MV_RESET)
#undef MV_RESET
    atomic_store(&r->hash.malloc_fails, 0);
    for (unsigned id = 1; id <= r->slabs.largest; id++) {
        lru_class_t *l = &r->lru[id];
        pthread_mutex_lock(&l->lock);
        l->total_items = 0;
        pthread_mutex_unlock(&l->lock);
#define CACHE_RESET_IS(n) atomic_store(&l->st.n, 0);
        LRU_ITEMSTATS(CACHE_RESET_IS)
#undef CACHE_RESET_IS
        atomic_store(&l->st.evicted_time, 0);
    }
}

static void emit_u(cache_stat_emit_fn emit, void *ctx, unsigned id, const char *grp,
                   const char *name, uint64_t v)
{
    char k[96], val[32];
    if (grp)
        snprintf(k, sizeof k, "%s:%u:%s", grp, id, name);
    else
        snprintf(k, sizeof k, "%u:%s", id, name);
    snprintf(val, sizeof val, "%" PRIu64, v);
    emit(ctx, k, val);
}

static void stats_items(cache_t *c, const ram_wsum_t *ws, cache_stat_emit_fn emit, void *ctx)
{
    ram_t *r = &c->ram;
    rel_time_t now = ram_now(r);
    for (unsigned id = 1; id <= r->slabs.largest; id++) {
        lru_class_t *l = &r->lru[id];
        uint64_t n[LRU_COUNT], mem = 0;
        uint32_t age[LRU_COUNT];
        pthread_mutex_lock(&l->lock);
        for (unsigned k = 0; k < LRU_COUNT; k++) {
            n[k] = l->count[k];
            mem += l->bytes[k];
            age[k] = l->tail[k] ? now - l->tail[k]->time : 0;
        }
        pthread_mutex_unlock(&l->lock);
        uint64_t number = n[LRU_HOT] + n[LRU_WARM] + n[LRU_COLD];
        if (number == 0)
            continue;
        const lru_itemstats_t *st = &l->st;
        const ram_wclass_sum_t *wc = &ws->cls[id];
#define E(name, v) emit_u(emit, ctx, id, "items", name, (uint64_t)(v))
        E("number", number);
        E("number_hot", n[LRU_HOT]);
        E("number_warm", n[LRU_WARM]);
        E("number_cold", n[LRU_COLD]);
        E("age_hot", age[LRU_HOT]);
        E("age_warm", age[LRU_WARM]);
        E("age", age[LRU_COLD]);
        E("mem_requested", mem);
        E("evicted", st->evicted);
        E("evicted_nonzero", st->evicted_nonzero);
        E("evicted_time", st->evicted_time);
        E("outofmemory", st->outofmemory);
        E("tailrepairs", st->tailrepairs);
        E("reclaimed", st->reclaimed);
        E("expired_unfetched", st->expired_unfetched);
        E("evicted_unfetched", st->evicted_unfetched);
        E("evicted_active", st->evicted_active);
        E("crawler_reclaimed", st->crawler_reclaimed);
        E("crawler_items_checked", st->crawler_items_checked);
        E("lrutail_reflocked", st->lrutail_reflocked);
        E("moves_to_cold", st->moves_to_cold);
        E("moves_to_warm", st->moves_to_warm);
        E("moves_within_lru", st->moves_within_lru);
        E("direct_reclaims", st->direct_reclaims);
        E("hits_to_hot", wc->hits_hot);
        E("hits_to_warm", wc->hits_warm);
        E("hits_to_cold", wc->hits_cold);
        E("hits_to_temp", wc->hits_temp);
#undef E
    }
}

static void stats_slabs(cache_t *c, const ram_wsum_t *ws, cache_stat_emit_fn emit, void *ctx)
{
    ram_t *r = &c->ram;
    unsigned active = 0;
    for (unsigned id = 1; id <= r->slabs.largest; id++) {
        slabs_class_info_t in;
        slabs_class_info(&r->slabs, id, &in);
        if (in.total_pages == 0)
            continue;
        active++;
        const ram_wclass_sum_t *wc = &ws->cls[id];
#define E(name, v) emit_u(emit, ctx, id, NULL, name, (uint64_t)(v))
        E("chunk_size", in.chunk_size);
        E("chunks_per_page", in.perslab);
        E("total_pages", in.total_pages);
        E("total_chunks", in.total_chunks);
        E("used_chunks", in.total_chunks - in.free_chunks);
        E("free_chunks", in.free_chunks);
        E("free_chunks_end", 0);
        E("get_hits", wc->hits_hot + wc->hits_warm + wc->hits_cold + wc->hits_temp);
        E("cmd_set", wc->set_cmds);
        E("delete_hits", wc->delete_hits);
        E("incr_hits", wc->incr_hits);
        E("decr_hits", wc->decr_hits);
        E("cas_hits", wc->cas_hits);
        E("cas_badval", wc->cas_badval);
        E("touch_hits", wc->touch_hits);
#undef E
    }
    char v[32];
    snprintf(v, sizeof v, "%u", active);
    emit(ctx, "active_slabs", v);
    snprintf(v, sizeof v, "%zu", slabs_total_malloced(&r->slabs));
    emit(ctx, "total_malloced", v);
}

void cache_stats_group(cache_t *c, cache_stats_group_e group,
                       cache_stat_emit_fn emit, void *ctx)
{
    if (group == CACHE_STATS_SIZES) {
        emit(ctx, "sizes_status", "disabled");
        return;
    }
    ram_wsum_t *ws = calloc(1, sizeof *ws);
    if (!ws)
        return;
    worker_sums(c, ws);
    if (group == CACHE_STATS_ITEMS)
        stats_items(c, ws, emit, ctx);
    else if (group == CACHE_STATS_SLABS)
        stats_slabs(c, ws, emit, ctx);
    free(ws);
}

