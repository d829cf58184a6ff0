/*
 * server/metrics_int.h - what the exposition files share (metrics_render.c
 * writes the families, metrics_slabs.c the per slab class ones). Not for
 * other modules: metrics.h is the public side. All functions append to an
 * evbuffer; an allocation failure inside libevent is not reported (the
 * caller's metrics_render() reports only its own).
 */
#ifndef TIERCACHE_METRICS_INT_H
#define TIERCACHE_METRICS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

struct server;

typedef enum mtype { MT_COUNTER, MT_GAUGE } mtype_e;

/* The # HELP and # TYPE lines of family `name` (help escaped). */
void metrics_family(struct evbuffer *b, const char *name, mtype_e type,
                    const char *help);

/* One sample "name{labels} v"; labels: NULL-terminated name/value pairs
 * (values escaped), or NULL for none. */
void metrics_sample_u64(struct evbuffer *b, const char *name,
                        const char *const *labels, uint64_t v);

/* The commands memcached_commands_total and memcached_slab_commands_total
 * count as hit (and miss: `stats` has <op>_hits and <op>_misses), in the
 * exporter's order; NULL-terminated. */
extern const char *const metrics_cmd_ops[];

/* a - b, or 0 when b > a (a derived counter never shows a wrap). */
static inline uint64_t metrics_sub0(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

/* ---- metrics_slabs.c ---- */

typedef struct slab_stat {
    unsigned cls;
    bool items;      /* from `stats items` (else `stats slabs`) */
    char field[40];
    uint64_t v;
} slab_stat_t;

/* Every "<class>:<field>" value of `stats items` and `stats slabs`, plus
 * `stats slabs` total_malloced. */
typedef struct slab_stats {
    slab_stat_t *v;
    size_t n, cap;
    bool oom;
    bool items;          /* the group being collected */
    bool have_malloced;
    uint64_t total_malloced;
} slab_stats_t;

/* Fills *ss (zeroed here) from srv's cache: one cache_stats_group() call
 * per group (it locks each class in turn). ss->oom if the list could not
 * grow (what fitted is kept). Free with metrics_slabs_free(). */
void metrics_slabs_collect(struct server *srv, slab_stats_t *ss);

/* Appends the memcached_slab_* families of what *ss holds, classes in
 * ascending order (at most 256 classes per group). */
void metrics_slabs_render(struct evbuffer *b, const slab_stats_t *ss);

/* Frees the list *ss holds (not ss itself). */
void metrics_slabs_free(slab_stats_t *ss);

#endif /* TIERCACHE_METRICS_INT_H */
