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

#include <stddef.h>
#include <stdint.h>

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
    X(idle_kicks, "connections closed by -o idle_timeout")

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
