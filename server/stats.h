/*
 * server/stats.h - server-side counters (per worker thread) and the text of
 * `stats`, `stats settings`, `stats items|slabs|sizes`, `stats conns`.
 *
 * Each worker owns a server_stats_t and is its only writer: STATS_ADD stores
 * with relaxed atomics (no lock, no lock prefix), readers sum them with
 * relaxed loads. `stats reset` records a baseline instead of writing other
 * threads' counters.
 */
#ifndef TIERCACHE_STATS_H
#define TIERCACHE_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "cache.h"

#define SERVER_STATS_FIELDS(X)                                                \
    X(cmd_set, "storage commands whose data was read")                        \
    X(cmd_flush, "flush_all commands")                                        \
    X(cmd_meta, "meta commands")                                              \
    X(bytes_read, "bytes read from clients")                                  \
    X(bytes_written, "bytes written to clients")                              \
    X(conn_yields, "times a connection yielded after -R requests")            \
    X(total_connections, "connections accepted by this worker")              \
    X(auth_cmds, "authentication attempts (-Y, -S)")                         \
    X(auth_errors, "failed authentication attempts")                         \
    X(idle_kicks, "connections closed by -o idle_timeout")                 \
    X(flash_gets_pipelined, "gets parsed while an earlier get read flash")

typedef struct server_stats {
#define SERVER_STATS_DECLARE(name, desc) uint64_t name;
    SERVER_STATS_FIELDS(SERVER_STATS_DECLARE)
#undef SERVER_STATS_DECLARE
} server_stats_t;

/* Single-writer increment of a field of a server_stats_t *. */
#define STATS_ADD(st, field, n)                                               \
    __atomic_store_n(&(st)->field,                                            \
                     __atomic_load_n(&(st)->field, __ATOMIC_RELAXED) + (n),   \
                     __ATOMIC_RELAXED)

struct server;
struct outq;

/* Sums every worker's counters into *out (minus nothing: raw totals). */
void stats_sum(struct server *srv, server_stats_t *out);

/* `stats reset`: counters restart from zero (server and tiers). */
void stats_reset(struct server *srv);

/*
 * Everything the `stats` command reports, gathered once: `stats` and the
 * Prometheus endpoint (metrics.h) both print from one of these, so the two
 * cannot disagree about a value or where it comes from.
 */
typedef struct stats_snapshot {
    server_stats_t server;   /* server counters since the last `stats reset` */
    cache_stats_t cache;     /* the tiers' figures (cache_stats_snapshot) */
    uint64_t pid;
    uint64_t uptime;         /* seconds */
    uint64_t time;           /* unix time, the cache's clock */
    struct timeval rusage_user, rusage_system;
    uint64_t max_connections, curr_connections, total_connections;
    uint64_t rejected_connections, connection_structures, accepting_conns;
    uint64_t listen_disabled_num, read_buf_oom, threads;
    bool tls;                /* -Z: the ssl_* values below mean something */
    bool tls_session_cache;  /* ... and ssl_new_sessions too */
    uint64_t ssl_new_sessions, ssl_handshake_errors;
    uint64_t time_since_server_cert_refresh;
    uint64_t memory_outside_limit;     /* bytes outside -m */
    uint64_t memory_budget;            /* most RSS from now on (main.c) */
    uint64_t log_worker_written, log_watcher_sent;  /* `watch` (logger.h) */
    uint64_t log_watcher_skipped, log_watchers;
    uint64_t extstore_limit_maxbytes;  /* flash bytes (segments * size) */
} stats_snapshot_t;

/* Fills *out with the current values (thread-safe; any thread). */
void stats_snapshot(struct server *srv, stats_snapshot_t *out);

typedef enum stats_value_status {
    STATS_VALUE_OK = 0,    /* *out holds the value */
    STATS_VALUE_HIDDEN,    /* a stat this server does not show now
                              (extstore_* without a flash tier, ssl_*
                              without -Z) */
    STATS_VALUE_UNKNOWN,   /* not a numeric stat of the snapshot (a string
                              such as version, or no such name) */
} stats_value_e;

/* The value `stats` prints for the numeric stat `name` (memcached's names,
 * tiercache's flash_* names, memory_outside_limit). */
stats_value_e stats_value(const stats_snapshot_t *snap, const char *name,
                          uint64_t *out);

/* Why a stats_value_e is what it is, for messages. */
const char *stats_value_strerror(stats_value_e st);

typedef enum stats_status {
    STATS_OK = 0,      /* reply queued, ending in END or RESET */
    STATS_EUNKNOWN,    /* unknown group: caller replies "ERROR" */
} stats_status_e;

/*
 * Queues the reply to `stats <args>` (args may be empty) on `q`.
 * Handles "", settings, items, slabs, sizes, conns, reset, detail.
 * `stats cachedump` is handled by the caller (process.c).
 */
stats_status_e stats_reply(struct server *srv, const char *args,
                           size_t args_len, struct outq *q);

#endif /* TIERCACHE_STATS_H */
