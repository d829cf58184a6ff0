/*
 * server/server.h - the process-wide context handed to every module.
 *
 * One server_t lives in main(); nothing here is a hidden global. Fields are
 * set before the worker threads start and read-only afterwards, except the
 * atomics (connection counts, accepting state).
 */
#ifndef TIERCACHE_SERVER_H
#define TIERCACHE_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cache.h"
#include "settings.h"
#include "stats.h"

struct event_base;
struct event;
struct worker;
struct listener;
struct authfile;
struct auth_sasl;
struct tls_ctx;
struct logger;
struct prefix_stats;

typedef struct server {
    settings_t *settings;
    cache_t *cache;
    struct event_base *base;     /* main thread: listener, signals */
    struct worker **workers;
    unsigned nworkers;
    struct listener *listener;
    struct tls_ctx *tls;         /* -Z: the TLS context (tls.h), else NULL */
    int tcp_port;                /* bound TCP port (for -p 0), 0 if none */
    int64_t started;             /* unix time at start */
    atomic_int verbose;          /* -v level, changed by `verbosity` */
    /* connection counters, shared by the listener and workers */
    atomic_long curr_conns;
    atomic_ulong total_conns;
    atomic_ulong rejected_conns;
    atomic_ulong conn_structs;
    atomic_bool accepting;
    atomic_ulong listen_disabled_num;
    pthread_mutex_t stats_lock;  /* guards stats_base */
    server_stats_t stats_base;   /* `stats reset` baseline */
    atomic_bool stopping;
    atomic_bool graceful;        /* stop asked by `shutdown graceful`/SIGUSR1 */
    bool served;                 /* main: the event loop was entered */
    struct event *shutdown_ev;   /* activated by server_request_shutdown */
    struct authfile *authfile;   /* -Y: the users (NULL: no ascii auth) */
    struct auth_sasl *sasl;      /* -S: Cyrus SASL (NULL: off) */
    /* `lru_crawler enable|disable|sleep|tocrawl` change these (memcached's
     * run-time crawler settings; `stats settings` shows them). Disabled:
     * `lru_crawler crawl|metadump` are refused. The RAM tier's expiry
     * crawler keeps what -o lru_crawler and lru_crawler_sleep said at
     * start. */
    atomic_bool crawler_enabled;
    atomic_int crawler_sleep;
    atomic_int crawler_tocrawl;
    /* the listening sockets for `stats conns` (set by listener_create
     * before the workers start; read-only afterwards, kept after close) */
    struct { int fd; char name[80]; } listen_socks[16];
    unsigned nlisten;
    int64_t listen_since;        /* unix time they were opened */
    struct logger *logger;       /* `watch` (logger.h); NULL: none */
    struct prefix_stats *detail; /* `stats detail` (prefix_stats.h) */
    /* the memory budget's process terms (main.c memory_baseline): code,
     * libraries, start-up heap, threads, connections; `stats`
     * memory_budget adds the cache's maxima (cache_memory_max) */
    uint64_t memory_baseline;
} server_t;

/* Asks the main loop to shut down cleanly (thread-safe, idempotent).
 * `graceful` (memcached's `shutdown graceful` / SIGUSR1) only changes what
 * is logged: "Gracefully stopping" instead of "Exiting normally" (-v). */
void server_request_shutdown(server_t *srv, bool graceful);

#endif /* TIERCACHE_SERVER_H */
