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
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "conn.h"
#include "outq.h"
#include "server.h"
#include "worker.h"

static const struct {
    const char *name;
    size_t off;
} server_fields[] = {
#define X(n, d) {#n, offsetof(server_stats_t, n)},
    SERVER_STATS_FIELDS(X)
#undef X
};

static const struct {
    const char *name;
    size_t off;
} cache_fields[] = {
#define X(n, d) {#n, offsetof(cache_stats_t, n)},
    CACHE_STATS_FIELDS(X)
#undef X
};

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
    "get_hits", "get_misses", "get_expired", "get_flushed", "delete_misses",
    "delete_hits", "incr_misses", "incr_hits", "decr_misses", "decr_hits",
    "cas_misses", "cas_hits", "cas_badval", "touch_hits", "touch_misses",
    "store_too_large", "store_no_memory", "auth_cmds", "auth_errors",
    "bytes_read", "bytes_written", "limit_maxbytes", "accepting_conns",
    "listen_disabled_num", "time_in_listen_disabled_us", "threads",
    "conn_yields", "hash_power_level", "hash_bytes", "hash_is_expanding",
    "slab_reassign_rescues", "slab_reassign_chunk_rescues",
    "slab_reassign_evictions_nomem", "slab_reassign_inline_reclaim",
    "slab_reassign_busy_items", "slab_reassign_busy_deletes",
    "slab_reassign_running", "slabs_moved", "lru_crawler_running",
    "lru_crawler_starts", "lru_maintainer_juggles", "malloc_fails",
    "log_worker_dropped", "log_worker_written", "log_watcher_skipped",
    "log_watcher_sent", "log_watchers", "unexpected_napi_ids",
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
}

static void emit_line(void *ctx, const char *name, const char *value)
{
    outq_printf((outq_t *)ctx, "STAT %s %s\r\n", name, value);
}

static void emit_u64(outq_t *q, const char *name, uint64_t v)
{
    outq_printf(q, "STAT %s %" PRIu64 "\r\n", name, v);
}

/* Computed fields. Returns false if `name` is not one of them. */
static bool special(server_t *srv, const char *name, outq_t *q)
{
    char buf[64];
    if (strcmp(name, "pid") == 0) {
        emit_u64(q, name, (uint64_t)getpid());
    } else if (strcmp(name, "uptime") == 0) {
        int64_t up = cache_now(srv->cache) - cache_started(srv->cache);
        emit_u64(q, name, up > 0 ? (uint64_t)up : 0);
    } else if (strcmp(name, "time") == 0) {
        emit_u64(q, name, (uint64_t)cache_now(srv->cache));
    } else if (strcmp(name, "version") == 0) {
        emit_line(q, name, TIERCACHE_VERSION);
    } else if (strcmp(name, "libevent") == 0) {
        emit_line(q, name, event_get_version());
    } else if (strcmp(name, "pointer_size") == 0) {
        emit_u64(q, name, 8 * sizeof(void *));
    } else if (strcmp(name, "rusage_user") == 0 ||
               strcmp(name, "rusage_system") == 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        struct timeval *tv =
            strcmp(name, "rusage_user") == 0 ? &ru.ru_utime : &ru.ru_stime;
        snprintf(buf, sizeof(buf), "%ld.%06ld", (long)tv->tv_sec,
                 (long)tv->tv_usec);
        emit_line(q, name, buf);
    } else if (strcmp(name, "max_connections") == 0) {
        emit_u64(q, name, (uint64_t)srv->settings->maxconns);
    } else if (strcmp(name, "curr_connections") == 0) {
        long n = atomic_load(&srv->curr_conns);
        emit_u64(q, name, n > 0 ? (uint64_t)n : 0);
    } else if (strcmp(name, "total_connections") == 0) {
        emit_u64(q, name, atomic_load(&srv->total_conns));
    } else if (strcmp(name, "rejected_connections") == 0) {
        emit_u64(q, name, atomic_load(&srv->rejected_conns));
    } else if (strcmp(name, "connection_structures") == 0) {
        emit_u64(q, name, atomic_load(&srv->conn_structs));
    } else if (strcmp(name, "accepting_conns") == 0) {
        emit_u64(q, name, atomic_load(&srv->accepting) ? 1 : 0);
    } else if (strcmp(name, "listen_disabled_num") == 0) {
        emit_u64(q, name, atomic_load(&srv->listen_disabled_num));
    } else if (strcmp(name, "threads") == 0) {
        emit_u64(q, name, srv->nworkers);
    } else {
        return false;
    }
    return true;
}

static void reply_general(server_t *srv, outq_t *q)
{
    server_stats_t ss;
    cache_stats_t cs;
    bool used[NCACHE];
    memset(used, 0, sizeof(used));
    stats_current(srv, &ss);
    cache_stats_snapshot(srv->cache, &cs);
    for (size_t i = 0; i < NGENERAL; i++) {
        const char *name = general[i];
        if (special(srv, name, q))
            continue;
        bool done = false;
        for (size_t j = 0; j < NSERVER && !done; j++) {
            if (strcmp(server_fields[j].name, name) == 0) {
                emit_u64(q, name, *(const uint64_t *)((const char *)&ss +
                                                      server_fields[j].off));
                done = true;
            }
        }
        for (size_t j = 0; j < NCACHE && !done; j++) {
            if (strcmp(cache_fields[j].name, name) == 0) {
                emit_u64(q, name, *(const uint64_t *)((const char *)&cs +
                                                      cache_fields[j].off));
                used[j] = true;
                done = true;
            }
        }
        if (!done)
            emit_u64(q, name, 0);
    }
    for (size_t j = 0; j < NCACHE; j++) {
        if (!used[j])
            emit_u64(q, cache_fields[j].name,
                     *(const uint64_t *)((const char *)&cs +
                                         cache_fields[j].off));
    }
}

static void reply_conns(server_t *srv, outq_t *q)
{
    int64_t now = cache_now(srv->cache);
    for (unsigned i = 0; i < srv->nworkers; i++) {
        worker_t *w = srv->workers[i];
        pthread_mutex_lock(&w->lock);
        for (conn_t *c = w->conns; c; c = c->next) {
            outq_printf(q, "STAT %d:addr %s\r\n", c->fd, c->addr);
            outq_printf(q, "STAT %d:listen_addr %s\r\n", c->fd,
                        c->listen_addr);
            outq_printf(q, "STAT %d:state %s\r\n", c->fd,
                        conn_state_name(atomic_load(&c->pub_state)));
            int64_t last = atomic_load(&c->last_cmd);
            outq_printf(q, "STAT %d:secs_since_last_cmd %lld\r\n", c->fd,
                        (long long)(now > last ? now - last : 0));
        }
        pthread_mutex_unlock(&w->lock);
    }
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
        settings_stats(srv->settings, srv->tcp_port, emit_line, q);
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
