/*
 * server/metrics_render.c - the Prometheus exposition text of
 * metrics_render() (metrics.h): every family with # HELP and # TYPE, the
 * values from one stats_snapshot(). Called by the metrics thread
 * (metrics.c's request handler) and by the unit tests; the per slab class
 * families are metrics_slabs.c's.
 *
 * Names, types and label values of the memcached_* families follow the
 * Prometheus memcached_exporter (pkg/exporter/exporter.go): stat `uptime`
 * is memcached_uptime_seconds (a counter there too), the command counters
 * are memcached_commands_total{command,status} with status hit, miss or
 * badval, and set's hits are cmd_set minus the cas commands (memcached
 * counts a cas in cmd_set). Three of the exporter's types are gauges here
 * because the values go down (extstore_bytes_used,
 * slab_items_evicted_time_seconds, slab_mem_requested_bytes); the names are
 * the same. docs/metrics.md lists every family.
 */
#include "metrics_int.h"

#include <event2/buffer.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "settings.h"
#include "stats.h"

void metrics_escape_label(struct evbuffer *buf, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            evbuffer_add(buf, "\\\\", 2);
        else if (*s == '"')
            evbuffer_add(buf, "\\\"", 2);
        else if (*s == '\n')
            evbuffer_add(buf, "\\n", 2);
        else
            evbuffer_add(buf, s, 1);
    }
}

void metrics_escape_help(struct evbuffer *buf, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            evbuffer_add(buf, "\\\\", 2);
        else if (*s == '\n')
            evbuffer_add(buf, "\\n", 2);
        else
            evbuffer_add(buf, s, 1);
    }
}

void metrics_family(struct evbuffer *b, const char *name, mtype_e type,
                    const char *help)
{
    evbuffer_add_printf(b, "# HELP %s ", name);
    metrics_escape_help(b, help);
    evbuffer_add_printf(b, "\n# TYPE %s %s\n", name,
                        type == MT_COUNTER ? "counter" : "gauge");
}

/* One sample; labels: NULL-terminated name/value pairs, or NULL. */
static void sample_begin(struct evbuffer *b, const char *name,
                         const char *const *labels)
{
    evbuffer_add(b, name, strlen(name));
    if (labels && labels[0]) {
        evbuffer_add(b, "{", 1);
        for (size_t i = 0; labels[i]; i += 2) {
            evbuffer_add_printf(b, "%s%s=\"", i ? "," : "", labels[i]);
            metrics_escape_label(b, labels[i + 1]);
            evbuffer_add(b, "\"", 1);
        }
        evbuffer_add(b, "}", 1);
    }
}

void metrics_sample_u64(struct evbuffer *b, const char *name,
                        const char *const *labels, uint64_t v)
{
    sample_begin(b, name, labels);
    evbuffer_add_printf(b, " %" PRIu64 "\n", v);
}

static void sample_double(struct evbuffer *b, const char *name,
                          const char *const *labels, double v)
{
    sample_begin(b, name, labels);
    if (isnan(v))
        evbuffer_add_printf(b, " NaN\n");
    else if (isinf(v))
        evbuffer_add_printf(b, " %sInf\n", v > 0 ? "+" : "-");
    else
        evbuffer_add_printf(b, " %.15g\n", v);
}

static void sample_timeval(struct evbuffer *b, const char *name,
                           const struct timeval *tv)
{
    sample_begin(b, name, NULL);
    evbuffer_add_printf(b, " %ld.%06ld\n", (long)tv->tv_sec,
                        (long)tv->tv_usec);
}

static uint64_t val(const stats_snapshot_t *sn, const char *stat)
{
    uint64_t v = 0;
    (void)stats_value(sn, stat, &v);
    return v;
}

/* A family of one sample with no labels. */
static void render_one(struct evbuffer *b, const char *name, mtype_e type,
                       const char *help, uint64_t v)
{
    metrics_family(b, name, type, help);
    metrics_sample_u64(b, name, NULL, v);
}

static void render_one_double(struct evbuffer *b, const char *name,
                              const char *help, double v)
{
    metrics_family(b, name, MT_GAUGE, help);
    sample_double(b, name, NULL, v);
}

/* A family of one sample per value of one label: label=names[i] is v[i],
 * for the names before the NULL that ends names[]. */
static void render_by_label(struct evbuffer *b, const char *name,
                            mtype_e type, const char *help, const char *label,
                            const char *const *names, const uint64_t *v)
{
    metrics_family(b, name, type, help);
    for (size_t i = 0; names[i]; i++) {
        const char *labels[] = {label, names[i], NULL};
        metrics_sample_u64(b, name, labels, v[i]);
    }
}

/* One stat, one family, no labels: memcached_exporter's simple metrics. */
typedef struct simple {
    const char *metric;
    const char *stat;
    mtype_e type;
    const char *help;
} simple_t;

static const simple_t memcached_simple[] = {
    {"memcached_uptime_seconds", "uptime", MT_COUNTER,
     "Number of seconds since the server started."},
    {"memcached_time_seconds", "time", MT_GAUGE,
     "current UNIX time according to the server."},
    {"memcached_read_bytes_total", "bytes_read", MT_COUNTER,
     "Total number of bytes read by this server from network."},
    {"memcached_written_bytes_total", "bytes_written", MT_COUNTER,
     "Total number of bytes sent by this server to network."},
    {"memcached_current_connections", "curr_connections", MT_GAUGE,
     "Current number of open connections."},
    {"memcached_max_connections", "max_connections", MT_GAUGE,
     "Maximum number of clients allowed."},
    {"memcached_connections_total", "total_connections", MT_COUNTER,
     "Total number of connections opened since the server started running."},
    {"memcached_connections_rejected_total", "rejected_connections",
     MT_COUNTER, "Total number of connections rejected due to hitting the "
     "memcached's -c limit in maxconns_fast mode."},
    {"memcached_connections_yielded_total", "conn_yields", MT_COUNTER,
     "Total number of connections yielded running due to hitting the "
     "memcached's -R limit."},
    {"memcached_connections_listener_disabled_total", "listen_disabled_num",
     MT_COUNTER, "Number of times that memcached has hit its connections "
     "limit and disabled its listener."},
    {"memcached_accepting_connections", "accepting_conns", MT_GAUGE,
     "The Memcached server is currently accepting new connections."},
    {"memcached_current_bytes", "bytes", MT_GAUGE,
     "Current number of bytes used to store items."},
    {"memcached_limit_bytes", "limit_maxbytes", MT_GAUGE,
     "Number of bytes this server is allowed to use for storage."},
    {"memcached_current_items", "curr_items", MT_GAUGE,
     "Current number of items stored by this instance."},
    {"memcached_items_total", "total_items", MT_COUNTER,
     "Total number of items stored during the life of this instance."},
    {"memcached_items_evicted_total", "evictions", MT_COUNTER,
     "Total number of valid items removed from cache to free memory for new "
     "items."},
    {"memcached_items_reclaimed_total", "reclaimed", MT_COUNTER,
     "Total number of times an entry was stored using memory from an expired "
     "entry."},
    {"memcached_item_too_large_total", "store_too_large", MT_COUNTER,
     "The number of times an item exceeded the max-item-size when being "
     "stored."},
    {"memcached_item_no_memory_total", "store_no_memory", MT_COUNTER,
     "The number of times an item could not be stored due to no more "
     "memory."},
    {"memcached_direct_reclaims_total", "direct_reclaims", MT_COUNTER,
     "Times worker threads had to directly reclaim or evict items."},
    {"memcached_lru_crawler_starts_total", "lru_crawler_starts", MT_COUNTER,
     "Times an LRU crawler was started."},
    {"memcached_lru_crawler_reclaimed_total", "crawler_reclaimed", MT_COUNTER,
     "Total items freed by LRU Crawler."},
    {"memcached_lru_crawler_items_checked_total", "crawler_items_checked",
     MT_COUNTER, "Total items examined by LRU Crawler."},
    {"memcached_lru_crawler_moves_to_cold_total", "moves_to_cold", MT_COUNTER,
     "Total number of items moved from HOT/WARM to COLD LRU's."},
    {"memcached_lru_crawler_moves_to_warm_total", "moves_to_warm", MT_COUNTER,
     "Total number of items moved from COLD to WARM LRU."},
    {"memcached_lru_crawler_moves_within_lru_total", "moves_within_lru",
     MT_COUNTER, "Total number of items reshuffled within HOT or WARM LRU's."},
};

/* memcached's extstore_* (with a flash tier), as the exporter names them. */
static const simple_t memcached_extstore[] = {
    {"memcached_extstore_compact_lost_total", "extstore_compact_lost",
     MT_COUNTER, "Total number of items lost because they were locked during "
     "extstore compaction."},
    {"memcached_extstore_compact_rescued_total", "extstore_compact_rescues",
     MT_COUNTER, "Total number of items moved to a new page during extstore "
     "compaction (tiercache: items rewritten by reclaim)."},
    {"memcached_extstore_compact_skipped_total", "extstore_compact_skipped",
     MT_COUNTER, "Total number of items dropped due to inactivity during "
     "extstore compaction."},
    {"memcached_extstore_pages_allocated_total", "extstore_page_allocs",
     MT_COUNTER, "Total number of times a page was allocated in extstore."},
    {"memcached_extstore_pages_evicted_total", "extstore_page_evictions",
     MT_COUNTER, "Total number of times a page was evicted from extstore "
     "(tiercache: flash segments reclaimed)."},
    {"memcached_extstore_pages_reclaimed_total", "extstore_page_reclaims",
     MT_COUNTER, "Total number of times an empty extstore page was freed."},
    {"memcached_extstore_pages_free", "extstore_pages_free", MT_GAUGE,
     "Number of extstore pages not yet containing any items."},
    {"memcached_extstore_pages_used", "extstore_pages_used", MT_GAUGE,
     "Number of extstore pages containing at least one item."},
    {"memcached_extstore_objects_evicted_total", "extstore_objects_evicted",
     MT_COUNTER, "Total number of items evicted from extstore to free up "
     "space."},
    {"memcached_extstore_objects_read_total", "extstore_objects_read",
     MT_COUNTER, "Total number of items read from extstore."},
    {"memcached_extstore_objects_written_total", "extstore_objects_written",
     MT_COUNTER, "Total number of items written to extstore."},
    {"memcached_extstore_objects_used", "extstore_objects_used", MT_GAUGE,
     "Number of items stored in extstore."},
    {"memcached_extstore_bytes_evicted_total", "extstore_bytes_evicted",
     MT_COUNTER, "Total number of bytes evicted from extstore to free up "
     "space."},
    {"memcached_extstore_bytes_written_total", "extstore_bytes_written",
     MT_COUNTER, "Total number of bytes written to extstore."},
    {"memcached_extstore_bytes_read_total", "extstore_bytes_read", MT_COUNTER,
     "Total number of bytes read from extstore."},
    {"memcached_extstore_bytes_used", "extstore_bytes_used", MT_GAUGE,
     "Current number of bytes used to store items in extstore."},
    {"memcached_extstore_bytes_fragmented", "extstore_bytes_fragmented",
     MT_GAUGE, "Current number of bytes in extstore pages allocated but not "
     "used to store an object."},
    {"memcached_extstore_bytes_limit", "extstore_limit_maxbytes", MT_GAUGE,
     "Number of bytes of external storage allocated for this server."},
    {"memcached_extstore_io_queue_depth", "extstore_io_queue", MT_GAUGE,
     "Number of items in the I/O queue waiting to be processed."},
};

/* The flash tier's own figures (tiercache_flash_*), one stat each. */
static const simple_t flash_simple[] = {
    {"tiercache_flash_items", "flash_items", MT_GAUGE,
     "Items on the flash tier (entries of the flash index)."},
    {"tiercache_flash_bytes", "flash_bytes_used", MT_GAUGE,
     "Bytes of the flash device in segments that hold data."},
    {"tiercache_flash_limit_bytes", "extstore_limit_maxbytes", MT_GAUGE,
     "Bytes of the flash device the tier uses (segments times their size)."},
    {"tiercache_flash_written_bytes_total", "flash_bytes_written", MT_COUNTER,
     "Bytes written to the flash device (new items, rewrites, metadata)."},
    {"tiercache_flash_written_items_total", "flash_items_written", MT_COUNTER,
     "Items written to flash, new and rewritten."},
    {"tiercache_flash_spilled_bytes_total", "flash_bytes_spilled", MT_COUNTER,
     "Compressed bytes of items newly spilled from RAM to flash."},
    {"tiercache_flash_spilled_logical_bytes_total", "flash_bytes_logical",
     MT_COUNTER, "Key and value bytes of items newly spilled to flash."},
    {"tiercache_flash_read_bytes_total", "flash_bytes_read", MT_COUNTER,
     "Bytes read from the flash device."},
    {"tiercache_flash_reads_total", "flash_reads", MT_COUNTER,
     "Block reads issued to the flash device."},
    {"tiercache_flash_gets_pipelined_total", "flash_gets_pipelined",
     MT_COUNTER, "Gets parsed while an earlier get of the connection read "
     "flash (pipelined flash reads)."},
    {"tiercache_flash_get_misses_total", "flash_get_misses", MT_COUNTER,
     "Gets that missed both RAM and flash."},
    {"tiercache_flash_promotions_total", "flash_promotions", MT_COUNTER,
     "Flash hits copied back to RAM."},
    {"tiercache_flash_reclaims_total", "flash_reclaims", MT_COUNTER,
     "Flash segments reclaimed (the oldest segment is emptied for writing)."},
    {"tiercache_flash_rewrites_total", "flash_rewrites", MT_COUNTER,
     "Live items rewritten by reclaim."},
    {"tiercache_flash_reclaim_drops_total", "flash_reclaim_drops", MT_COUNTER,
     "Items whose flash copy reclaim dropped (not rewritten: not hit, "
     "expired, or past the rewrite budget)."},
    {"tiercache_flash_respill_skipped_total", "flash_respill_skipped",
     MT_COUNTER, "Evictions not written again: an unmodified copy was on "
     "flash."},
    {"tiercache_flash_write_queue_items", "flash_write_queue", MT_GAUGE,
     "Items handed to the flash writer whose RAM copy is not yet released "
     "(queued, or written and awaiting release)."},
    {"tiercache_flash_index_bytes", "flash_index_bytes", MT_GAUGE,
     "Bytes of the flash index (outside -m)."},
    {"tiercache_flash_index_max_bytes", "flash_index_bytes_max", MT_GAUGE,
     "Bytes the flash index may grow to."},
    {"tiercache_flash_index_capacity_items", "flash_index_capacity", MT_GAUGE,
     "Items the flash index can hold at its current size."},
    {"tiercache_flash_index_max_capacity_items", "flash_index_capacity_max",
     MT_GAUGE, "Items the flash index can hold at its largest size."},
    {"tiercache_flash_dict_bytes", "flash_dict_bytes", MT_GAUGE,
     "Bytes of the zstd dictionary flash blocks use (0: none)."},
    {"tiercache_flash_recovered_items", "flash_recovered_items", MT_GAUGE,
     "Items the last start recovered from flash."},
    {"tiercache_flash_recovery_errors", "flash_recovery_errors", MT_GAUGE,
     "Segments, maps or dictionaries the last start's recovery skipped."},
    {"tiercache_flash_checkpoints_total", "flash_checkpoints", MT_COUNTER,
     "Crash checkpoints of the flash index taken."},
    {"tiercache_flash_checkpoints_invalidated_total",
     "flash_checkpoints_invalidated", MT_COUNTER,
     "Crash checkpoints a change made unusable."},
    {"tiercache_flash_checkpoints_dirty_total", "flash_checkpoints_dirty",
     MT_COUNTER, "Checkpoint builds a change spoiled."},
    {"tiercache_flash_checkpoint_kills_total", "flash_checkpoint_kills",
     MT_COUNTER, "Changed keys journaled against the crash checkpoint."},
    {"tiercache_flash_checkpoint_extends_total", "flash_checkpoint_extends",
     MT_COUNTER, "Sealed segments the crash checkpoint keeps too."},
    {"tiercache_flash_checkpoint_extends_skipped_total",
     "flash_checkpoint_extends_skipped", MT_COUNTER,
     "Sealed segments the crash checkpoint could not keep."},
};

static void render_simple(struct evbuffer *b, const stats_snapshot_t *sn,
                          const simple_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        if (stats_value(sn, t[i].stat, &v) != STATS_VALUE_OK)
            continue;
        render_one(b, t[i].metric, t[i].type, t[i].help, v);
    }
}

const char *const metrics_cmd_ops[] = {"get", "delete", "incr", "decr", "cas",
                                       "touch", NULL};

/* memcached_commands_total, as the exporter derives it from `stats`. */
static void render_commands(struct evbuffer *b, const stats_snapshot_t *sn)
{
    const char *const *ops = metrics_cmd_ops;
    const char *name = "memcached_commands_total";
    char stat[32];
    metrics_family(b, name, MT_COUNTER, "Total number of all requests "
                   "broken down by command (get, set, etc.) and status.");
    for (size_t i = 0; ops[i]; i++) {
        const char *hit[] = {"command", ops[i], "status", "hit", NULL};
        const char *miss[] = {"command", ops[i], "status", "miss", NULL};
        snprintf(stat, sizeof(stat), "%s_hits", ops[i]);
        metrics_sample_u64(b, name, hit, val(sn, stat));
        snprintf(stat, sizeof(stat), "%s_misses", ops[i]);
        metrics_sample_u64(b, name, miss, val(sn, stat));
    }
    const char *badval[] = {"command", "cas", "status", "badval", NULL};
    metrics_sample_u64(b, name, badval, val(sn, "cas_badval"));
    const char *flush[] = {"command", "flush", "status", "hit", NULL};
    metrics_sample_u64(b, name, flush, val(sn, "cmd_flush"));
    /* memcached counts every cas in cmd_set too */
    const char *set[] = {"command", "set", "status", "hit", NULL};
    uint64_t cas = val(sn, "cas_misses") + val(sn, "cas_hits") +
                   val(sn, "cas_badval");
    metrics_sample_u64(b, name, set, metrics_sub0(val(sn, "cmd_set"), cas));
}

/* The exporter's lru_crawler settings gauges (only with the crawler on), as
 * `stats settings` shows them: the run-time values `lru_crawler
 * enable|disable|sleep|tocrawl` set, the rest as started. */
static void render_settings(struct evbuffer *b, server_t *srv)
{
    const settings_t *s = srv->settings;
    if (!atomic_load(&srv->crawler_enabled))
        return;
    const struct {
        const char *name;
        const char *help;
        double v;
    } g[] = {
        {"memcached_lru_crawler_enabled", "Whether the LRU crawler is enabled.",
         1},
        {"memcached_lru_crawler_sleep",
         "Microseconds to sleep between LRU crawls.", atomic_load(&srv->crawler_sleep)},
        {"memcached_lru_crawler_to_crawl",
         "Max items to crawl per slab per run.", atomic_load(&srv->crawler_tocrawl)},
        {"memcached_lru_crawler_maintainer_thread",
         "Split LRU mode and background threads.", s->lru_maintainer ? 1 : 0},
        {"memcached_lru_crawler_hot_percent",
         "Percent of slab memory reserved for HOT LRU.", s->hot_lru_pct},
        {"memcached_lru_crawler_warm_percent",
         "Percent of slab memory reserved for WARM LRU.", s->warm_lru_pct},
        {"memcached_lru_crawler_hot_max_factor",
         "Set idle age of HOT LRU to COLD age * this", s->hot_max_factor},
        {"memcached_lru_crawler_warm_max_factor",
         "Set idle age of WARM LRU to COLD age * this", s->warm_max_factor},
    };
    for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++)
        render_one_double(b, g[i].name, g[i].help, g[i].v);
}

/* ---- tiercache's own families ---- */

static void render_tiercache(struct evbuffer *b, const stats_snapshot_t *sn)
{
    const cache_stats_t *cs = &sn->cache;
    uint64_t flash_hits = cs->flash_enabled ? cs->flash_get_hits : 0;
    render_by_label(b, "tiercache_get_hits_total", MT_COUNTER,
        "Keys found by get commands, by the tier that answered (ram: "
        "get_hits minus the flash hits).", "tier",
        cs->flash_enabled ? (const char *const[]){"ram", "flash", NULL}
                          : (const char *const[]){"ram", NULL},
        (const uint64_t[]){metrics_sub0(val(sn, "get_hits"), flash_hits),
                           flash_hits});
    render_one(b, "tiercache_memory_outside_limit_bytes", MT_GAUGE,
               "Bytes of memory outside -m (hash table, flash index, "
               "buffers), as `stats` memory_outside_limit.",
               sn->memory_outside_limit);
    if (cs->flash_enabled) { /* as `stats`: its parts, with a flash tier */
        static const char *const parts[] = {
#define X(n, d) &#n[7], /* without "memory_" */
            CACHE_MEMORY_FIELDS(X)
#undef X
            NULL};
        const uint64_t vals[] = {
#define X(n, d) cs->n,
            CACHE_MEMORY_FIELDS(X)
#undef X
        };
        render_by_label(b, "tiercache_memory_outside_limit_part_bytes", MT_GAUGE,
                        "Bytes of memory outside -m by part (their sum is "
                        "tiercache_memory_outside_limit_bytes), as `stats` memory_<part>.",
                        "part", parts, vals);
    }
    render_one(b, "tiercache_threads", MT_GAUGE,
               "Worker threads (-t), as `stats` threads.", sn->threads);
    if (!cs->flash_enabled)
        return;
    render_simple(b, sn, flash_simple,
                  sizeof(flash_simple) / sizeof(flash_simple[0]));

    render_by_label(b, "tiercache_flash_segments", MT_GAUGE,
        "Flash segments, by state (free or used).", "state",
        (const char *const[]){"free", "used", NULL},
        (const uint64_t[]){cs->flash_segments_free, cs->flash_segments_used});
    render_by_label(b, "tiercache_flash_drops_total", MT_COUNTER,
        "RAM evictions not written to flash, by reason (admission: refused "
        "by the admission policy, stall: the writer was behind past "
        "--flash-stall-ms, io: the device failed).", "reason",
        (const char *const[]){"admission", "stall", "io", NULL},
        (const uint64_t[]){cs->flash_drops_admission, cs->flash_drops_stall,
                           cs->flash_drops_io});
    render_by_label(b, "tiercache_flash_errors_total", MT_COUNTER,
        "Flash device errors, by kind (read, write, checksum: a block that "
        "failed its checksum).", "kind",
        (const char *const[]){"read", "write", "checksum", NULL},
        (const uint64_t[]){cs->flash_read_errors, cs->flash_write_errors,
                           cs->flash_checksum_failures});
    render_by_label(b, "tiercache_flash_index_dropped_total", MT_COUNTER,
        "Flash index entries dropped, by reason (full: the index was full, "
        "collateral: same tag as a write).", "reason",
        (const char *const[]){"full", "collateral", NULL},
        (const uint64_t[]){cs->flash_index_evictions,
                           cs->flash_index_collateral});
    render_one_double(b, "tiercache_flash_write_amplification",
                      "Bytes written to flash per byte spilled "
                      "(flash_write_amplification).",
                      cs->flash_write_amplification);
    render_one_double(b, "tiercache_flash_compression_ratio",
                      "Key and value bytes per compressed byte of spilled "
                      "items (flash_compression_ratio).",
                      cs->flash_compression_ratio);
    render_by_label(b, "tiercache_flash_recovery_info", MT_GAUGE,
        "What the last start found on flash (kind: new, clean or crash); the "
        "value is 1.", "kind",
        (const char *const[]){cs->flash_recovery ? cs->flash_recovery : "new",
                              NULL},
        (const uint64_t[]){1});
    render_one_double(b, "tiercache_flash_recovery_seconds",
                      "How long the last start's flash recovery took.",
                      cs->flash_recovery_seconds);
}

bool metrics_render(server_t *srv, struct evbuffer *b)
{
    stats_snapshot_t sn;
    slab_stats_t ss;
    stats_snapshot(srv, &sn);
    metrics_slabs_collect(srv, &ss);

    render_one(b, "memcached_up", MT_GAUGE,
               "Could the memcached server be reached.", 1);
    render_by_label(b, "memcached_version", MT_GAUGE,
                    "The version of this memcached server.", "version",
                    (const char *const[]){TIERCACHE_VERSION, NULL},
                    (const uint64_t[]){1});
    metrics_family(b, "memcached_process_user_cpu_seconds_total", MT_COUNTER,
                   "Accumulated user time for this process.");
    sample_timeval(b, "memcached_process_user_cpu_seconds_total",
                   &sn.rusage_user);
    metrics_family(b, "memcached_process_system_cpu_seconds_total",
                   MT_COUNTER, "Accumulated system time for this process.");
    sample_timeval(b, "memcached_process_system_cpu_seconds_total",
                   &sn.rusage_system);
    render_simple(b, &sn, memcached_simple,
                  sizeof(memcached_simple) / sizeof(memcached_simple[0]));
    render_commands(b, &sn);
    if (ss.have_malloced)
        render_one(b, "memcached_malloced_bytes", MT_GAUGE,
                   "Number of bytes of memory allocated to slab pages.",
                   ss.total_malloced);
    render_settings(b, srv);
    if (sn.cache.flash_enabled)
        render_simple(b, &sn, memcached_extstore,
                      sizeof(memcached_extstore) /
                          sizeof(memcached_extstore[0]));
    metrics_slabs_render(b, &ss);
    render_tiercache(b, &sn);
    bool ok = !ss.oom;
    metrics_slabs_free(&ss);
    return ok;
}
