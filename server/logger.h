/*
 * server/logger.h - memcached's `watch` log streams.
 *
 * A connection that sends `watch [fetchers] [mutations] [evictions]
 * [connevents] ...` becomes a *watcher*: from then on it receives log lines
 * in memcached 1.6.18's format ("ts=<sec>.<usec> gid=<n> type=... \n") and
 * its input is ignored. Lines are formatted by the thread that has the
 * event (a worker, or the thread that evicts) and copied into the ring of
 * every watcher that asked for that stream; the watcher's own worker moves
 * its ring into the connection's reply queue and writes it. No logger
 * thread, no per-worker buffer.
 *
 * Cost when nobody watches: one relaxed atomic load (logger_wants) per
 * possible line (a store checks two streams). With watchers: the
 * formatting plus one mutex per line.
 *
 * Bounds: at most LOGGER_WATCHERS_MAX watchers (memcached's 20, the same
 * "WATCHER_TOO_MANY" reply); each ring holds `watcher_buf` bytes (memcached's
 * watcher_logbuf_size default, 256 KiB). A watcher that does not read falls
 * behind: lines that do not fit are counted, and once it has room again it
 * gets memcached's "skipped=<n>\n" line before the next line.
 *
 * tiercache's one addition: with a flash tier, eviction lines end with
 * " spilled=yes" (the RAM copy went to flash: the item is still served) or
 * " spilled=no" (dropped). A RAM-only server's lines are memcached's.
 *
 * Lock order: logger.lock is a leaf. It is taken under the tier's stripe and
 * LRU locks (eviction events) and never held while calling the cache.
 */
#ifndef TIERCACHE_LOGGER_H
#define TIERCACHE_LOGGER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"

struct conn;

/* The streams (memcached's names). */
#define LOGGER_FETCHERS (1u << 0)
#define LOGGER_MUTATIONS (1u << 1)
#define LOGGER_EVICTIONS (1u << 2)
#define LOGGER_CONNEVENTS (1u << 3)
#define LOGGER_SYSEVENTS (1u << 4)   /* accepted; tiercache logs none */
#define LOGGER_RAWCMDS (1u << 5)     /* accepted; tiercache logs none */
#define LOGGER_PROXY (1u << 6)       /* proxyreqs/events/user: none here */

#define LOGGER_WATCHERS_MAX 20
#define LOGGER_WATCHER_BUF ((size_t)256 * 1024)

typedef struct logger_watcher logger_watcher_t;

/* Fields are private to logger.c except `flags` (read by logger_wants). */
typedef struct logger {
    _Atomic unsigned flags;   /* OR of the watchers' streams */
    _Atomic uint64_t gid;     /* last line id given */
    pthread_mutex_t lock;     /* everything below */
    logger_watcher_t *watchers[LOGGER_WATCHERS_MAX];
    unsigned nwatchers;
    size_t watcher_buf;
    bool flash;               /* eviction lines carry spilled= */
    uint64_t written;         /* lines formatted (log_worker_written) */
    uint64_t sent;            /* lines given to watchers */
    uint64_t skipped;         /* lines a full watcher missed */
} logger_t;

typedef enum logger_status {
    LOGGER_OK = 0,
    LOGGER_ENOMEM,
    LOGGER_ESYS,        /* eventfd or event creation failed */
    LOGGER_ETOOMANY,    /* LOGGER_WATCHERS_MAX watchers already */
} logger_status_e;

/* A static name for a status. */
const char *logger_strerror(logger_status_e st);

/* Creates a logger with rings of `watcher_buf` bytes per watcher (0: the
 * default). `flash`: the server has a flash tier (see the top). */
logger_status_e logger_create(size_t watcher_buf, bool flash, logger_t **out);

/* Frees the logger; no watcher may remain (workers stopped first) and the
 * cache whose hook points here must be destroyed. NULL-safe; NULLs *l. */
void logger_destroy(logger_t **l);

/* Points the cache's eviction hook (cache.h) at this logger. */
void logger_cache_hook(logger_t *l, cache_settings_t *cs);

/* Does anyone watch one of `streams`? One relaxed load (l may be NULL:
 * a server built without a logger, as in unit tests). */
static inline bool logger_wants(logger_t *l, unsigned streams)
{
    return l != NULL &&
           (atomic_load_explicit(&l->flags, memory_order_relaxed) & streams) != 0;
}

/* Parses the arguments of `watch` (tokens after the command, n of them):
 * no argument means fetchers, as memcached. False on an unknown word. */
bool logger_parse_streams(char *const *tok, size_t n, unsigned *streams);

/* Makes `c` a watcher of `streams` (worker thread of c). The caller has
 * queued "OK"; lines follow it. */
logger_status_e logger_watch(logger_t *l, struct conn *c, unsigned streams);

/* conn_close() of a watcher: removes it (its unsent lines are dropped). */
void logger_unwatch(struct conn *c);

/* Moves what the watcher's ring holds into c->out, up to a bounded reply
 * queue (conn.c runs it before writing); true if it moved bytes. Worker
 * thread of c. */
bool logger_pull(struct conn *c);

/*
 * memcached's uriencode() of a key, as its log lines and `lru_crawler
 * metadump` write keys: bytes other than A-Z a-z 0-9 - . _ ~ become %XX
 * (upper-case hex). Writes the encoding and a NUL into out, which has room
 * for 3 * nkey + 1 bytes (LOGGER_URI_KEY_MAX for any key); pure.
 */
#define LOGGER_URI_KEY_MAX (CACHE_KEY_MAX * 3 + 1)
void logger_uri_key(const char *key, size_t nkey, char *out);

/* memcached's item_get status words. */
typedef enum logger_get_status {
    LOGGER_GET_NOT_FOUND = 0,
    LOGGER_GET_FOUND,
    LOGGER_GET_FLUSHED,
    LOGGER_GET_EXPIRED,
} logger_get_status_e;

/* "type=item_get key=<uri key> status=<s> clsid=<c> cfd=<fd> size=<n>". */
void logger_item_get(logger_t *l, const char *key, size_t nkey,
                     logger_get_status_e st, unsigned clsid, int cfd,
                     size_t size);

/* "type=item_store key=.. status=<cache status> cmd=<op> ttl=<s> clsid=..
 * cfd=.. size=..". `ttl`: seconds left (0: none). */
void logger_item_store(logger_t *l, const char *key, size_t nkey,
                       cache_status_e st, cache_store_op_e op, int64_t ttl,
                       unsigned clsid, int cfd, size_t size);

/* memcached's close reasons. */
typedef enum logger_close_reason {
    LOGGER_CLOSE_ERROR = 0,
    LOGGER_CLOSE_NORMAL,
    LOGGER_CLOSE_IDLE,
    LOGGER_CLOSE_SHUTDOWN,
} logger_close_reason_e;

/* "type=conn_new rip=.. rport=.. transport=tcp|local cfd=..", from the
 * connection's fd and addr (conn.h: "tcp:HOST:PORT", "tcp6:[HOST]:PORT",
 * "unix:"). */
void logger_conn_new(logger_t *l, int fd, const char *addr);

/* "type=conn_close rip=.. rport=.. transport=.. reason=.. cfd=..". */
void logger_conn_close(logger_t *l, int fd, const char *addr,
                       logger_close_reason_e reason);

/* Counters for `stats` (log_worker_written, log_watcher_sent,
 * log_watcher_skipped, log_watchers). */
typedef struct logger_stats {
    uint64_t written, sent, skipped, watchers;
} logger_stats_t;
void logger_stats(logger_t *l, logger_stats_t *out);

#endif /* TIERCACHE_LOGGER_H */
