/*
 * server/stats.c - `stats` replies, in memcached 1.6.18's names and order.
 *
 * Values come from three places: the server's per-worker counters
 * (SERVER_STATS_FIELDS), the tiers (cache_stats_snapshot, CACHE_STATS_FIELDS)
 * and a few computed here (pid, uptime, rusage, connections). Names memcached
 * has that mean nothing here print 0. Tier fields that memcached lacks are
 * printed after memcached's list.
 *
 * Lock order: srv->stats_lock, then worker->lock (stats conns).
 */
#include "stats.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "conn.h"
#include "logger.h"
#include "outq.h"
#include "prefix_stats.h"
#include "server.h"
#include "tls.h"
#include "worker.h"

/* One uint64_t counter of a stats struct: its `stats` name and offset. */
typedef struct stat_field {
    const char *name;
    size_t off;
} stat_field_t;

/* The value of the field of t[0, n) named `name` in the struct at base;
 * false (*out untouched) when t has no such field. */
static bool field_value(const stat_field_t *t, size_t n, const void *base,
                        const char *name, uint64_t *out)
{
    for (size_t j = 0; j < n; j++) {
        if (strcmp(t[j].name, name) == 0) {
            *out = *(const uint64_t *)((const char *)base + t[j].off);
            return true;
        }
    }
    return false;
}

static const stat_field_t server_fields[] = {
#define X(n, d) {#n, offsetof(server_stats_t, n)},
    SERVER_STATS_FIELDS(X)
#undef X
};

static const stat_field_t cache_fields[] = {
#define X(n, d) {#n, offsetof(cache_stats_t, n)},
    CACHE_STATS_FIELDS(X)
#undef X
};

static const stat_field_t flash_fields[] = {
#define X(n, d) {#n, offsetof(cache_stats_t, n)},
    CACHE_FLASH_STATS_FIELDS(X)
#undef X
};
#define NFLASH (sizeof(flash_fields) / sizeof(flash_fields[0]))

/* memory_outside_limit's parts, printed before it */
static const stat_field_t memory_fields[] = {
#define X(n, d) {#n, offsetof(cache_stats_t, n)},
    CACHE_MEMORY_FIELDS(X)
#undef X
};
#define NMEMORY (sizeof(memory_fields) / sizeof(memory_fields[0]))

#define NSERVER (sizeof(server_fields) / sizeof(server_fields[0]))
#define NCACHE (sizeof(cache_fields) / sizeof(cache_fields[0]))

/* memcached 1.6.18 `stats`, in order. */
static const char *const general[] = {
    "pid", "uptime", "time", "version", "libevent", "pointer_size",
    "rusage_user", "rusage_system", "max_connections", "curr_connections",
    "total_connections", "rejected_connections", "connection_structures",
    "response_obj_oom", "response_obj_count", "response_obj_bytes",
    "read_buf_count", "read_buf_bytes", "read_buf_bytes_free", "read_buf_oom",
    "reserved_fds", "cmd_get", "cmd_set", "cmd_flush", "cmd_touch", "cmd_meta",
    "get_hits", "get_misses", "get_expired", "get_flushed",
    "get_extstore", "get_aborted_extstore", "get_oom_extstore",
    "recache_from_extstore", "miss_from_extstore", "badcrc_from_extstore",
    "delete_misses",
    "delete_hits", "incr_misses", "incr_hits", "decr_misses", "decr_hits",
    "cas_misses", "cas_hits", "cas_badval", "touch_hits", "touch_misses",
    "store_too_large", "store_no_memory", "auth_cmds", "auth_errors",
    "idle_kicks", /* only with -o idle_timeout, as memcached */
    "bytes_read", "bytes_written", "limit_maxbytes", "accepting_conns",
    "listen_disabled_num", "time_in_listen_disabled_us", "threads",
    "conn_yields", "hash_power_level", "hash_bytes", "hash_is_expanding",
    "slab_reassign_rescues", "slab_reassign_chunk_rescues",
    "slab_reassign_evictions_nomem", "slab_reassign_inline_reclaim",
    "slab_reassign_busy_items", "slab_reassign_busy_deletes",
    "slab_reassign_running", "slabs_moved", "lru_crawler_running",
    "lru_crawler_starts", "lru_maintainer_juggles", "malloc_fails",
    "log_worker_dropped", "log_worker_written", "log_watcher_skipped",
    "log_watcher_sent", "log_watchers",
    "ssl_new_sessions", /* -Z with ssl_session_cache only */
    "ssl_handshake_errors", "time_since_server_cert_refresh", /* -Z only */
    "extstore_compact_lost", "extstore_compact_rescues",
    "extstore_compact_skipped", "extstore_page_allocs",
    "extstore_page_evictions", "extstore_page_reclaims",
    "extstore_pages_free", "extstore_pages_used", "extstore_objects_evicted",
    "extstore_objects_read", "extstore_objects_written",
    "extstore_objects_used", "extstore_bytes_evicted",
    "extstore_bytes_written", "extstore_bytes_read", "extstore_bytes_used",
    "extstore_bytes_fragmented", "extstore_limit_maxbytes",
    "extstore_io_queue", "unexpected_napi_ids",
    "round_robin_fallback", "bytes", "curr_items", "total_items",
    "slab_global_page_pool", "expired_unfetched", "evicted_unfetched",
    "evicted_active", "evictions", "reclaimed", "crawler_reclaimed",
    "crawler_items_checked", "lrutail_reflocked", "moves_to_cold",
    "moves_to_warm", "moves_within_lru", "direct_reclaims",
    "lru_bumps_dropped",
};
#define NGENERAL (sizeof(general) / sizeof(general[0]))

void stats_sum(server_t *srv, server_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < srv->nworkers; i++) {
        const server_stats_t *s = &srv->workers[i]->stats;
#define X(n, d) out->n += __atomic_load_n(&s->n, __ATOMIC_RELAXED);
        SERVER_STATS_FIELDS(X)
#undef X
    }
}

/* Counters since the last `stats reset`. */
static void stats_current(server_t *srv, server_stats_t *out)
{
    stats_sum(srv, out);
    pthread_mutex_lock(&srv->stats_lock);
#define X(n, d) out->n -= srv->stats_base.n;
    SERVER_STATS_FIELDS(X)
#undef X
    pthread_mutex_unlock(&srv->stats_lock);
}

void stats_reset(server_t *srv)
{
    server_stats_t now;
    stats_sum(srv, &now);
    pthread_mutex_lock(&srv->stats_lock);
    srv->stats_base = now;
    pthread_mutex_unlock(&srv->stats_lock);
    atomic_store(&srv->total_conns, 0);
    atomic_store(&srv->rejected_conns, 0);
    atomic_store(&srv->listen_disabled_num, 0);
    cache_stats_reset(srv->cache);
    prefix_stats_clear(srv->detail); /* memcached's stats_prefix_clear() */
}

static void emit_line(void *ctx, const char *name, const char *value)
{
    outq_printf((outq_t *)ctx, "STAT %s %s\r\n", name, value);
}

/* `stats settings`: slab_automove, slab_automove_ratio and maxbytes are
 * the values in force (`slabs automove` and `cache_memlimit` change them
 * at run time), the rest comes from the settings. */
typedef struct settings_ctx {
    outq_t *q;
    unsigned automove;
    double ratio;
    server_t *srv; /* the lru_crawler settings in force */
    size_t maxbytes; /* the limit in force (cache_memlimit changes it) */
    prefix_stats_t *detail;
} settings_ctx_t;

static void emit_setting(void *ctx, const char *name, const char *value)
{
    settings_ctx_t *sc = ctx;
    if (strcmp(name, "detail_enabled") == 0)
        emit_line(sc->q, name, prefix_stats_on(sc->detail) ? "yes" : "no");
    else if (strcmp(name, "lru_crawler") == 0)
        outq_printf(sc->q, "STAT %s %s\r\n", name,
                    atomic_load(&sc->srv->crawler_enabled) ? "yes" : "no");
    else if (strcmp(name, "lru_crawler_sleep") == 0)
        outq_printf(sc->q, "STAT %s %d\r\n", name,
                    atomic_load(&sc->srv->crawler_sleep));
    else if (strcmp(name, "lru_crawler_tocrawl") == 0)
        outq_printf(sc->q, "STAT %s %u\r\n", name,
                    (unsigned)atomic_load(&sc->srv->crawler_tocrawl));
    else if (strcmp(name, "slab_automove") == 0)
        outq_printf(sc->q, "STAT %s %u\r\n", name, sc->automove);
    else if (strcmp(name, "slab_automove_ratio") == 0)
        outq_printf(sc->q, "STAT %s %.2f\r\n", name, sc->ratio);
    else if (strcmp(name, "maxbytes") == 0)
        outq_printf(sc->q, "STAT %s %zu\r\n", name, sc->maxbytes);
    else
        emit_line(sc->q, name, value);
}

static void emit_u64(outq_t *q, const char *name, uint64_t v)
{
    outq_printf(q, "STAT %s %" PRIu64 "\r\n", name, v);
}

void stats_snapshot(server_t *srv, stats_snapshot_t *out)
{
    memset(out, 0, sizeof(*out));
    stats_current(srv, &out->server);
    cache_stats_snapshot(srv->cache, &out->cache);
    out->pid = (uint64_t)getpid();
    int64_t now = cache_now(srv->cache);
    int64_t up = now - cache_started(srv->cache);
    out->uptime = up > 0 ? (uint64_t)up : 0;
    out->time = now > 0 ? (uint64_t)now : 0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    out->rusage_user = ru.ru_utime;
    out->rusage_system = ru.ru_stime;
    out->max_connections = (uint64_t)srv->settings->maxconns;
    long n = atomic_load(&srv->curr_conns);
    out->curr_connections = n > 0 ? (uint64_t)n : 0;
    out->total_connections = atomic_load(&srv->total_conns);
    out->rejected_connections = atomic_load(&srv->rejected_conns);
    out->connection_structures = atomic_load(&srv->conn_structs);
    out->accepting_conns = atomic_load(&srv->accepting) ? 1 : 0;
    out->listen_disabled_num = atomic_load(&srv->listen_disabled_num);
    for (unsigned i = 0; i < srv->nworkers; i++)
        out->read_buf_oom += __atomic_load_n(&srv->workers[i]->pool.refused,
                                             __ATOMIC_RELAXED);
    out->threads = srv->nworkers;
    if (srv->tls) {
        out->tls = true;
        out->tls_session_cache = tls_session_cache(srv->tls);
        if (out->tls_session_cache)
            out->ssl_new_sessions = tls_new_sessions(srv->tls);
        out->ssl_handshake_errors = tls_handshake_errors(srv->tls);
        out->time_since_server_cert_refresh =
            (uint64_t)tls_since_refresh(srv->tls);
    }
    /* the sum of the parts in this snapshot (cache_memory_outside_limit
     * from the same figures), so that they add up in one `stats` */
    out->memory_outside_limit = 0;
    for (size_t j = 0; j < NMEMORY; j++)
        out->memory_outside_limit +=
            *(const uint64_t *)((const char *)&out->cache + memory_fields[j].off);
    /* the memory budget: the cache's maxima + the process terms (main.c) */
    cache_memory_max_t mx;
    cache_memory_max(srv->cache, srv->nworkers, &mx);
    out->memory_budget = mx.items ? mx.items + mx.outside + srv->memory_baseline : 0;
    if (srv->logger) {
        logger_stats_t ls = {0, 0, 0, 0};
        logger_stats(srv->logger, &ls);
        out->log_worker_written = ls.written;
        out->log_watcher_sent = ls.sent;
        out->log_watcher_skipped = ls.skipped;
        out->log_watchers = ls.watchers;
    }
    out->extstore_limit_maxbytes =
        (out->cache.flash_segments_free + out->cache.flash_segments_used) *
        out->cache.flash_segment_size; /* the file's, not the flag's */
}

/* memcached's extstore names (printed only with a flash tier). */
static bool is_extstore(const char *name)
{
    size_t n = strlen(name);
    return strncmp(name, "extstore_", 9) == 0 ||
           (n > 9 && strcmp(name + n - 9, "_extstore") == 0);
}

/*
 * The value of an extstore name from the flash figures, where the meaning
 * is the same; 0 for the rest (memcached's page/object bookkeeping that a
 * segment ring has no equivalent of). Our reclaim takes the oldest segment
 * whatever it holds: memcached calls that a page eviction (a "reclaim" there
 * is a page found empty).
 */
static uint64_t extstore_value(const stats_snapshot_t *sn, const char *name)
{
    if (strcmp(name, "extstore_limit_maxbytes") == 0)
        return sn->extstore_limit_maxbytes;
    static const struct {
        const char *name;
        size_t off;
    } map[] = {
        {"get_extstore", offsetof(cache_stats_t, flash_reads)},
        {"recache_from_extstore", offsetof(cache_stats_t, flash_promotions)},
        {"badcrc_from_extstore",
         offsetof(cache_stats_t, flash_checksum_failures)},
        {"extstore_compact_rescues", offsetof(cache_stats_t, flash_rewrites)},
        {"extstore_objects_evicted",
         offsetof(cache_stats_t, flash_reclaim_drops)},
        {"extstore_page_evictions", offsetof(cache_stats_t, flash_reclaims)},
        {"extstore_pages_free", offsetof(cache_stats_t, flash_segments_free)},
        {"extstore_pages_used", offsetof(cache_stats_t, flash_segments_used)},
        {"extstore_objects_read", offsetof(cache_stats_t, flash_get_hits)},
        {"extstore_objects_written",
         offsetof(cache_stats_t, flash_items_written)},
        {"extstore_objects_used", offsetof(cache_stats_t, flash_items)},
        {"extstore_bytes_written",
         offsetof(cache_stats_t, flash_bytes_written)},
        {"extstore_bytes_read", offsetof(cache_stats_t, flash_bytes_read)},
        {"extstore_bytes_used", offsetof(cache_stats_t, flash_bytes_used)},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i].name, name) == 0)
            return *(const uint64_t *)((const char *)&sn->cache + map[i].off);
    return 0;
}

/* The computed fields of the snapshot, by stat name. */
static const stat_field_t snap_fields[] = {
#define S(n) {#n, offsetof(stats_snapshot_t, n)}
    S(pid), S(uptime), S(time), S(max_connections), S(curr_connections),
    S(total_connections), S(rejected_connections), S(connection_structures),
    S(accepting_conns), S(listen_disabled_num), S(read_buf_oom), S(threads),
    S(memory_outside_limit), S(memory_budget), S(log_worker_written), S(log_watcher_sent),
    S(log_watcher_skipped), S(log_watchers),
#undef S
};
#define NSNAP (sizeof(snap_fields) / sizeof(snap_fields[0]))

stats_value_e stats_value(const stats_snapshot_t *sn, const char *name,
                          uint64_t *out)
{
    *out = 0;
    if (strncmp(name, "ssl_", 4) == 0 ||
        strcmp(name, "time_since_server_cert_refresh") == 0) {
        if (strcmp(name, "ssl_new_sessions") == 0) {
            if (!sn->tls_session_cache)
                return STATS_VALUE_HIDDEN;
            *out = sn->ssl_new_sessions;
        } else if (strcmp(name, "ssl_handshake_errors") == 0) {
            if (!sn->tls)
                return STATS_VALUE_HIDDEN;
            *out = sn->ssl_handshake_errors;
        } else if (strcmp(name, "time_since_server_cert_refresh") == 0) {
            if (!sn->tls)
                return STATS_VALUE_HIDDEN;
            *out = sn->time_since_server_cert_refresh;
        } else {
            return STATS_VALUE_UNKNOWN;
        }
        return STATS_VALUE_OK;
    }
    if (is_extstore(name)) {
        if (!sn->cache.flash_enabled)
            return STATS_VALUE_HIDDEN;
        *out = extstore_value(sn, name);
        return STATS_VALUE_OK;
    }
    if (field_value(snap_fields, NSNAP, sn, name, out) ||
        field_value(server_fields, NSERVER, &sn->server, name, out) ||
        field_value(cache_fields, NCACHE, &sn->cache, name, out) ||
        field_value(memory_fields, NMEMORY, &sn->cache, name, out))
        return STATS_VALUE_OK;
    uint64_t v;
    if (field_value(flash_fields, NFLASH, &sn->cache, name, &v)) {
        if (!sn->cache.flash_enabled)
            return STATS_VALUE_HIDDEN;
        *out = v;
        return STATS_VALUE_OK;
    }
    return STATS_VALUE_UNKNOWN;
}

const char *stats_value_strerror(stats_value_e st)
{
    switch (st) {
    case STATS_VALUE_OK:
        return "ok";
    case STATS_VALUE_HIDDEN:
        return "not shown in this configuration";
    case STATS_VALUE_UNKNOWN:
        return "not a numeric stat";
    }
    return "?";
}

/* The text-valued fields. Returns false if `name` is not one of them. */
static bool special(const stats_snapshot_t *sn, const char *name, outq_t *q)
{
    char buf[64];
    if (strcmp(name, "version") == 0) {
        emit_line(q, name, TIERCACHE_VERSION);
    } else if (strcmp(name, "libevent") == 0) {
        emit_line(q, name, event_get_version());
    } else if (strcmp(name, "pointer_size") == 0) {
        emit_u64(q, name, 8 * sizeof(void *));
    } else if (strcmp(name, "rusage_user") == 0 ||
               strcmp(name, "rusage_system") == 0) {
        const struct timeval *tv = strcmp(name, "rusage_user") == 0
                                       ? &sn->rusage_user
                                       : &sn->rusage_system;
        snprintf(buf, sizeof(buf), "%ld.%06ld", (long)tv->tv_sec,
                 (long)tv->tv_usec);
        emit_line(q, name, buf);
    } else {
        return false;
    }
    return true;
}

/* Flash figures under their own names, after memcached's list. */
static void reply_flash(const stats_snapshot_t *sn, outq_t *q)
{
    const cache_stats_t *cs = &sn->cache;
    for (size_t j = 0; j < NFLASH; j++)
        emit_u64(q, flash_fields[j].name,
                 *(const uint64_t *)((const char *)cs + flash_fields[j].off));
    outq_printf(q, "STAT flash_compression_ratio %.2f\r\n",
                cs->flash_compression_ratio);
    outq_printf(q, "STAT flash_write_amplification %.2f\r\n",
                cs->flash_write_amplification);
    outq_printf(q, "STAT flash_recovery %s\r\n",
                cs->flash_recovery ? cs->flash_recovery : "new");
    outq_printf(q, "STAT flash_recovery_seconds %.3f\r\n", cs->flash_recovery_seconds);
    emit_u64(q, "flash_gets_pipelined", sn->server.flash_gets_pipelined);
    for (size_t j = 0; j < NMEMORY; j++)
        emit_u64(q, memory_fields[j].name,
                 *(const uint64_t *)((const char *)cs + memory_fields[j].off));
    emit_u64(q, "memory_outside_limit", sn->memory_outside_limit);
    emit_u64(q, "memory_budget", sn->memory_budget);
}

static void reply_general(server_t *srv, outq_t *q)
{
    stats_snapshot_t sn;
    bool used[NCACHE];
    memset(used, 0, sizeof(used));
    stats_snapshot(srv, &sn);
    for (size_t i = 0; i < NGENERAL; i++) {
        const char *name = general[i];
        if (strcmp(name, "idle_kicks") == 0 && srv->settings->idle_timeout == 0)
            continue;
        if (special(&sn, name, q))
            continue;
        uint64_t v;
        switch (stats_value(&sn, name, &v)) {
        case STATS_VALUE_OK:
        case STATS_VALUE_UNKNOWN: /* memcached's names with no meaning: 0 */
            emit_u64(q, name, v);
            break;
        case STATS_VALUE_HIDDEN:
            break;
        }
        for (size_t j = 0; j < NCACHE; j++)
            if (strcmp(cache_fields[j].name, name) == 0)
                used[j] = true;
    }
    for (size_t j = 0; j < NCACHE; j++) {
        if (!used[j])
            emit_u64(q, cache_fields[j].name,
                     *(const uint64_t *)((const char *)&sn.cache +
                                         cache_fields[j].off));
    }
    if (sn.cache.flash_enabled)
        reply_flash(&sn, q);
}

/* One socket's lines of `stats conns`. */
typedef struct conn_lines {
    int fd;
    char text[400];
} conn_lines_t;

static int by_fd(const void *a, const void *b)
{
    int x = ((const conn_lines_t *)a)->fd, y = ((const conn_lines_t *)b)->fd;
    return (x > y) - (x < y);
}

/* memcached's `stats conns`: every listening socket (addr, state
 * conn_listening, secs_since_last_cmd since it opened) and connection
 * (addr, listen_addr, state, secs_since_last_cmd), in fd order as
 * memcached walks its fd table. */
static void reply_conns(server_t *srv, outq_t *q)
{
    int64_t now = cache_now(srv->cache);
    size_t cap = srv->nlisten + 64, n = 0;
    conn_lines_t *v = malloc(cap * sizeof(*v));
    if (v == NULL)
        return; /* nothing but END: out of memory */
    for (unsigned i = 0; i < srv->nlisten; i++) {
        int fd = srv->listen_socks[i].fd;
        v[n].fd = fd;
        snprintf(v[n].text, sizeof(v[n].text),
                 "STAT %d:addr %s\r\nSTAT %d:state conn_listening\r\n"
                 "STAT %d:secs_since_last_cmd %lld\r\n",
                 fd, srv->listen_socks[i].name, fd, fd,
                 (long long)(now > srv->listen_since ? now - srv->listen_since
                                                     : 0));
        n++;
    }
    for (unsigned i = 0; i < srv->nworkers; i++) {
        worker_t *w = srv->workers[i];
        pthread_mutex_lock(&w->lock);
        for (conn_t *c = w->conns; c; c = c->next) {
            if (n == cap) {
                conn_lines_t *nv = realloc(v, 2 * cap * sizeof(*v));
                if (nv == NULL)
                    break;
                v = nv;
                cap *= 2;
            }
            int64_t last = atomic_load(&c->last_cmd);
            v[n].fd = c->fd;
            snprintf(v[n].text, sizeof(v[n].text),
                     "STAT %d:addr %s\r\nSTAT %d:listen_addr %s\r\n"
                     "STAT %d:state %s\r\nSTAT %d:secs_since_last_cmd %lld\r\n",
                     c->fd, c->addr, c->fd, c->listen_addr, c->fd,
                     conn_state_name(atomic_load(&c->pub_state)), c->fd,
                     (long long)(now > last ? now - last : 0));
            n++;
        }
        pthread_mutex_unlock(&w->lock);
    }
    qsort(v, n, sizeof(*v), by_fd);
    for (size_t i = 0; i < n; i++)
        outq_text(q, v[i].text, strlen(v[i].text));
    free(v);
}

static bool arg_is(const char *a, size_t n, const char *word)
{
    size_t wl = strlen(word);
    return n == wl && memcmp(a, word, wl) == 0;
}

stats_status_e stats_reply(server_t *srv, const char *args, size_t args_len,
                           outq_t *q)
{
    while (args_len > 0 && args[args_len - 1] == ' ')
        args_len--;
    if (args_len == 0) {
        reply_general(srv, q);
    } else if (arg_is(args, args_len, "settings")) {
        settings_ctx_t sc = {q, cache_slabs_automove(srv->cache),
                             cache_slabs_automove_ratio(srv->cache), srv,
                             cache_mem_limit(srv->cache), srv->detail};
        settings_stats(srv->settings, srv->tcp_port, emit_setting, &sc);
    } else if (arg_is(args, args_len, "items")) {
        cache_stats_group(srv->cache, CACHE_STATS_ITEMS, emit_line, q);
    } else if (arg_is(args, args_len, "slabs")) {
        cache_stats_group(srv->cache, CACHE_STATS_SLABS, emit_line, q);
    } else if (arg_is(args, args_len, "sizes")) {
        cache_stats_group(srv->cache, CACHE_STATS_SIZES, emit_line, q);
    } else if (arg_is(args, args_len, "conns")) {
        reply_conns(srv, q);
    } else if (arg_is(args, args_len, "reset")) {
        stats_reset(srv);
        outq_text(q, "RESET\r\n", 7);
        return STATS_OK;
    } else {
        return STATS_EUNKNOWN;
    }
    outq_text(q, "END\r\n", 5);
    return STATS_OK;
}
