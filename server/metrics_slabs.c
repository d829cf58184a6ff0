/*
 * server/metrics_slabs.c - the per slab class families
 * (memcached_slab_*{slab="N"}): `stats items` and `stats slabs` collected
 * from the cache (cache_stats_group) into a list, then written as the
 * memcached_exporter does. Called by metrics_render() (metrics_render.c);
 * contracts in metrics_int.h.
 */
#include "metrics_int.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* cache_stat_emit_fn: "items:<cls>:<field>" / "<cls>:<field>" / other. */
static void collect_slab_stat(void *ctx, const char *name, const char *value)
{
    slab_stats_t *ss = ctx;
    const char *p = name;
    if (ss->items) {
        if (strncmp(p, "items:", 6) != 0)
            return;
        p += 6;
    } else if (strcmp(name, "total_malloced") == 0) {
        ss->total_malloced = strtoull(value, NULL, 10);
        ss->have_malloced = true;
        return;
    }
    char *end;
    unsigned long cls = strtoul(p, &end, 10);
    if (end == p || *end != ':' || strlen(end + 1) >= sizeof(ss->v->field))
        return;
    if (ss->n == ss->cap) {
        size_t cap = ss->cap ? ss->cap * 2 : 256;
        slab_stat_t *nv = realloc(ss->v, cap * sizeof(*nv));
        if (nv == NULL) {
            ss->oom = true;
            return;
        }
        ss->v = nv;
        ss->cap = cap;
    }
    slab_stat_t *s = &ss->v[ss->n++];
    s->cls = (unsigned)cls;
    s->items = ss->items;
    strcpy(s->field, end + 1);
    s->v = strtoull(value, NULL, 10);
}

static bool slab_find(const slab_stats_t *ss, unsigned cls, bool items,
                      const char *field, uint64_t *v)
{
    for (size_t i = 0; i < ss->n; i++) {
        const slab_stat_t *s = &ss->v[i];
        if (s->cls == cls && s->items == items &&
            strcmp(s->field, field) == 0) {
            *v = s->v;
            return true;
        }
    }
    return false;
}

typedef struct slab_family {
    const char *metric;
    bool items;           /* `stats items` field, else `stats slabs` */
    const char *field;
    mtype_e type;
    const char *help;
} slab_family_t;

static const slab_family_t slab_families[] = {
    {"memcached_slab_current_items", true, "number", MT_GAUGE,
     "Number of items currently stored in this slab class."},
    {"memcached_slab_items_age_seconds", true, "age", MT_GAUGE,
     "Number of seconds the oldest item has been in the slab class."},
    {"memcached_slab_items_crawler_reclaimed_total", true, "crawler_reclaimed",
     MT_COUNTER, "Number of items freed by the LRU Crawler."},
    {"memcached_slab_items_evicted_total", true, "evicted", MT_COUNTER,
     "Total number of times an item had to be evicted from the LRU before it "
     "expired."},
    {"memcached_slab_items_evicted_nonzero_total", true, "evicted_nonzero",
     MT_COUNTER, "Total number of times an item which had an explicit expire "
     "time set had to be evicted from the LRU before it expired."},
    {"memcached_slab_items_evicted_time_seconds", true, "evicted_time",
     MT_GAUGE, "Seconds since the last access for the most recent item "
     "evicted from this class."},
    {"memcached_slab_items_evicted_unfetched_total", true, "evicted_unfetched",
     MT_COUNTER, "Total nmber of items evicted and never fetched."},
    {"memcached_slab_items_expired_unfetched_total", true, "expired_unfetched",
     MT_COUNTER, "Total number of valid items evicted from the LRU which were "
     "never touched after being set."},
    {"memcached_slab_items_outofmemory_total", true, "outofmemory", MT_COUNTER,
     "Total number of items for this slab class that have triggered an out "
     "of memory error."},
    {"memcached_slab_items_reclaimed_total", true, "reclaimed", MT_COUNTER,
     "Total number of items reclaimed."},
    {"memcached_slab_items_tailrepairs_total", true, "tailrepairs", MT_COUNTER,
     "Total number of times the entries for a particular ID need repairing."},
    {"memcached_slab_items_moves_to_cold", true, "moves_to_cold", MT_COUNTER,
     "Number of items moved from HOT or WARM into COLD."},
    {"memcached_slab_items_moves_to_warm", true, "moves_to_warm", MT_COUNTER,
     "Number of items moves from COLD into WARM."},
    {"memcached_slab_items_moves_within_lru", true, "moves_within_lru",
     MT_COUNTER, "Number of times active items were bumped within HOT or "
     "WARM."},
    {"memcached_slab_hot_items", true, "number_hot", MT_GAUGE,
     "Number of items presently stored in the HOT LRU."},
    {"memcached_slab_warm_items", true, "number_warm", MT_GAUGE,
     "Number of items presently stored in the WARM LRU."},
    {"memcached_slab_cold_items", true, "number_cold", MT_GAUGE,
     "Number of items presently stored in the COLD LRU."},
    {"memcached_slab_temporary_items", true, "number_temp", MT_GAUGE,
     "Number of items presently stored in the TEMPORARY LRU."},
    {"memcached_slab_hot_age_seconds", true, "age_hot", MT_GAUGE,
     "Age of the oldest item in HOT LRU."},
    {"memcached_slab_warm_age_seconds", true, "age_warm", MT_GAUGE,
     "Age of the oldest item in WARM LRU."},
    {"memcached_slab_mem_requested_bytes", true, "mem_requested", MT_GAUGE,
     "Number of bytes of memory actual items take up within a slab."},
    {"memcached_slab_chunk_size_bytes", false, "chunk_size", MT_GAUGE,
     "Number of bytes allocated to each chunk within this slab class."},
    {"memcached_slab_chunks_per_page", false, "chunks_per_page", MT_GAUGE,
     "Number of chunks within a single page for this slab class."},
    {"memcached_slab_current_pages", false, "total_pages", MT_GAUGE,
     "Number of pages allocated to this slab class."},
    {"memcached_slab_current_chunks", false, "total_chunks", MT_GAUGE,
     "Number of chunks allocated to this slab class."},
    {"memcached_slab_chunks_used", false, "used_chunks", MT_GAUGE,
     "Number of chunks allocated to an item."},
    {"memcached_slab_chunks_free", false, "free_chunks", MT_GAUGE,
     "Number of chunks not yet allocated items."},
    {"memcached_slab_chunks_free_end", false, "free_chunks_end", MT_GAUGE,
     "Number of free chunks at the end of the last allocated page."},
};

/* The classes present, ascending, each once (cls[] of n). */
static size_t slab_classes(const slab_stats_t *ss, bool items, unsigned *cls,
                           size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < ss->n; i++) {
        if (ss->v[i].items != items)
            continue;
        unsigned c = ss->v[i].cls;
        size_t j = 0;
        while (j < n && cls[j] != c)
            j++;
        if (j == n && n < max)
            cls[n++] = c;
    }
    /* insertion sort: a few dozen classes */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && cls[j - 1] > cls[j]; j--) {
            unsigned t = cls[j];
            cls[j] = cls[j - 1];
            cls[j - 1] = t;
        }
    return n;
}

#define MAX_CLASSES 256

void metrics_slabs_render(struct evbuffer *b, const slab_stats_t *ss)
{
    unsigned icls[MAX_CLASSES], scls[MAX_CLASSES];
    size_t ni = slab_classes(ss, true, icls, MAX_CLASSES);
    size_t ns = slab_classes(ss, false, scls, MAX_CLASSES);
    char slab[16];
    for (size_t f = 0; f < sizeof(slab_families) / sizeof(slab_families[0]);
         f++) {
        const slab_family_t *sf = &slab_families[f];
        const unsigned *cls = sf->items ? icls : scls;
        size_t n = sf->items ? ni : ns;
        bool header = false;
        for (size_t i = 0; i < n; i++) {
            uint64_t v;
            if (!slab_find(ss, cls[i], sf->items, sf->field, &v))
                continue;
            if (!header)
                metrics_family(b, sf->metric, sf->type, sf->help);
            header = true;
            snprintf(slab, sizeof(slab), "%u", cls[i]);
            const char *labels[] = {"slab", slab, NULL};
            metrics_sample_u64(b, sf->metric, labels, v);
        }
    }
    /* hits per LRU of each class */
    static const char *const lru[][2] = {{"hits_to_hot", "hot"},
                                         {"hits_to_warm", "warm"},
                                         {"hits_to_cold", "cold"},
                                         {"hits_to_temp", "temporary"}};
    const char *name = "memcached_slab_lru_hits_total";
    if (ni > 0)
        metrics_family(b, name, MT_COUNTER, "Number of get_hits to the LRU.");
    for (size_t i = 0; i < ni; i++) {
        snprintf(slab, sizeof(slab), "%u", icls[i]);
        for (size_t k = 0; k < 4; k++) {
            uint64_t v;
            if (!slab_find(ss, icls[i], true, lru[k][0], &v))
                continue;
            const char *labels[] = {"slab", slab, "lru", lru[k][1], NULL};
            metrics_sample_u64(b, name, labels, v);
        }
    }
    /* commands per class, as memcached_commands_total */
    name = "memcached_slab_commands_total";
    if (ns > 0)
        metrics_family(b, name, MT_COUNTER, "Total number of all requests "
                       "broken down by command (get, set, etc.) and status "
                       "per slab.");
    const char *const *ops = metrics_cmd_ops;
    for (size_t i = 0; i < ns; i++) {
        snprintf(slab, sizeof(slab), "%u", scls[i]);
        char field[32];
        uint64_t v;
        for (size_t k = 0; ops[k]; k++) {
            snprintf(field, sizeof(field), "%s_hits", ops[k]);
            if (!slab_find(ss, scls[i], false, field, &v))
                continue;
            const char *labels[] = {"slab", slab, "command", ops[k], "status",
                                    "hit", NULL};
            metrics_sample_u64(b, name, labels, v);
        }
        uint64_t badval = 0, cas_hits = 0, set = 0;
        bool hb = slab_find(ss, scls[i], false, "cas_badval", &badval);
        if (hb) {
            const char *labels[] = {"slab", slab, "command", "cas", "status",
                                    "badval", NULL};
            metrics_sample_u64(b, name, labels, badval);
        }
        (void)slab_find(ss, scls[i], false, "cas_hits", &cas_hits);
        if (slab_find(ss, scls[i], false, "cmd_set", &set)) {
            const char *labels[] = {"slab", slab, "command", "set", "status",
                                    "hit", NULL};
            metrics_sample_u64(b, name, labels,
                               metrics_sub0(set, cas_hits + badval));
        }
    }
}

void metrics_slabs_collect(struct server *srv, slab_stats_t *ss)
{
    memset(ss, 0, sizeof(*ss));
    ss->items = true;
    cache_stats_group(srv->cache, CACHE_STATS_ITEMS, collect_slab_stat, ss);
    ss->items = false;
    cache_stats_group(srv->cache, CACHE_STATS_SLABS, collect_slab_stat, ss);
}

void metrics_slabs_free(slab_stats_t *ss)
{
    free(ss->v);
    ss->v = NULL;
    ss->n = ss->cap = 0;
}
