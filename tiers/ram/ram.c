/*
 * tiers/ram/ram.c - setup and teardown of the RAM tier, counter sums.
 * No locks of its own.
 */
#include <stdlib.h>
#include <string.h>

#include "ram.h"

cache_status_e ram_init(ram_t *r, const ram_settings_t *s)
{
    memset(r, 0, sizeof *r);
    r->set = *s;
    atomic_init(&r->automove, s->slab_automove); /* acts only with slab_reassign */
    ram_automove_ratio_set(r, 0.8);
    pthread_mutex_init(&r->spill_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* ram_spill_wait */
    pthread_cond_init(&r->spill_cond, &ca);
    pthread_condattr_destroy(&ca);
    if (s->item_size_max < 1024 || s->slab_growth <= 1.0 || s->slab_page_size < 1024 ||
        s->slab_chunk_min < 1 || s->hash_power > 32 || s->hot_lru_pct > 100 ||
        s->warm_lru_pct > 100)
        return CACHE_EINVAL;
    switch (slabs_init(&r->slabs, s->mem_limit, s->slab_page_size, s->slab_chunk_min,
                       s->slab_growth, s->item_size_max, s->slab_prealloc)) {
    case SLABS_OK: break;
    case SLABS_EINVAL: return CACHE_EINVAL;
    default: return CACHE_NO_MEMORY;
    }
    switch (hash_init(&r->hash, s->hash_power ? s->hash_power : 16)) {
    case HASH_OK: break;
    case HASH_EINVAL: slabs_teardown(&r->slabs); return CACHE_EINVAL;
    default: slabs_teardown(&r->slabs); return CACHE_NO_MEMORY;
    }
    if (s->lru_ghost) {
        uint64_t want = (uint64_t)(s->mem_limit >> 20) * s->lru_ghost, n = 1024;
        while (n < want && n < ((uint64_t)1 << 26))
            n <<= 1;
        r->evghost = calloc(n, sizeof *r->evghost);
        if (!r->evghost) {
            hash_teardown(&r->hash);
            slabs_teardown(&r->slabs);
            return CACHE_NO_MEMORY;
        }
        r->evghost_mask = n - 1;
    }
    for (unsigned i = 0; i < SLAB_CLASS_MAX; i++)
        lru_class_init(&r->lru[i]);
    clock_gettime(CLOCK_MONOTONIC_COARSE, &r->mono0);
    r->unix0 = s->clock ? s->clock(s->clock_ctx) : (int64_t)time(NULL);
    /* memcached sets process_started a little in the past; an absolute
     * exptime at or before it is already expired. */
    r->started = r->unix0 - 2;
    return CACHE_OK;
}

void ram_teardown(ram_t *r)
{
    for (unsigned i = 0; i < SLAB_CLASS_MAX; i++)
        lru_class_teardown(&r->lru[i]);
    hash_teardown(&r->hash);
    slabs_teardown(&r->slabs);
    free(r->ghost);
    r->ghost = NULL;
    free(r->evghost);
    r->evghost = NULL;
    pthread_mutex_destroy(&r->spill_lock);
    pthread_cond_destroy(&r->spill_cond);
}

void ram_wstats_sum(const ram_wstats_t *ws, ram_wsum_t *sum)
{
#define RAM_SUMG(name, desc) \
    sum->g.name += atomic_load_explicit(&ws->name, memory_order_relaxed);
    CACHE_STATS_FIELDS(RAM_SUMG)
#undef RAM_SUMG
    for (unsigned c = 0; c < SLAB_CLASS_MAX; c++) {
#define RAM_SUMC(n) \
    sum->cls[c].n += atomic_load_explicit(&ws->cls[c].n, memory_order_relaxed);
        RAM_WCLASS_FIELDS(RAM_SUMC)
#undef RAM_SUMC
    }
}
