/*
 * server/worker.h - a worker thread: its own event_base, cache_worker_t,
 * buffer pool, counters and connections.
 *
 * The listener hands accepted sockets over with worker_dispatch() (a queue
 * under `lock` plus a byte on a notify pipe), and a dup of every UDP socket
 * with worker_dispatch_udp() (the worker then reads datagrams from it, see
 * udp.h). Connections live and die on their worker's thread.
 *
 * The cache's completion fd (cache_worker_fd, the flash tier's eventfd) is
 * watched by a persistent EV_READ event that runs cache_worker_poll(): the
 * done callbacks of parked connections run there, on this thread.
 *
 * Lock order: worker.lock is a leaf (never held while calling the cache or
 * taking another lock).
 */
#ifndef TIERCACHE_WORKER_H
#define TIERCACHE_WORKER_H

#include <pthread.h>
#include <stdbool.h>

#include "bufpool.h"
#include "cache.h"
#include "server.h"
#include "stats.h"

struct event_base;
struct event;
struct conn;
struct udp;

typedef struct pending_fd {
    int fd;
    bool is_unix;
    bool is_udp;       /* a UDP socket to serve, not a connection */
    bool tls;          /* a connection of a TLS listener (tls.h) */
    char listen_addr[80];
} pending_fd_t;

typedef struct worker {
    server_t *srv;
    unsigned id;
    pthread_t thread;
    bool started;
    struct event_base *base;
    cache_worker_t *cw;
    int notify[2];               /* [0] read end on this thread */
    struct event *notify_ev;
    struct event *flash_ev;      /* cache_worker_fd() readable: poll */
    size_t nzombies;             /* closed conns waiting for callbacks */
    pthread_mutex_t lock;        /* guards queue and the conn list */
    pending_fd_t *queue;
    size_t nqueue, queue_cap;
    struct conn *conns;          /* doubly linked */
    struct udp **udps;           /* UDP sockets served (worker thread) */
    size_t nudps;
    bufpool_t pool;
    server_stats_t stats;        /* written only by this thread */
    struct event *idle_ev;       /* -o idle_timeout: idle.h's timer */
} worker_t;

typedef enum worker_status {
    WORKER_OK = 0,
    WORKER_ENOMEM,
    WORKER_ESYS,   /* pipe/event/thread creation failed (errno set) */
    WORKER_ECACHE, /* cache_worker_create failed */
} worker_status_e;

/* Creates a worker (not yet running). */
worker_status_e worker_create(server_t *srv, unsigned id, worker_t **out);

/* Starts its thread. */
worker_status_e worker_start(worker_t *w);

/* Hands an accepted, non-blocking socket to `w` (any thread). On failure
 * the fd is closed and false returned. */
bool worker_dispatch(worker_t *w, int fd, bool is_unix,
                     const char *listen_addr);

/* The same for a connection accepted on a TLS listener: it speaks TLS
 * (srv->tls) from its first byte. */
bool worker_dispatch_tls(worker_t *w, int fd, const char *listen_addr);

/* Hands a bound, non-blocking UDP socket to `w`, which serves it from then
 * on (any thread). On failure the fd is closed and false returned. */
bool worker_dispatch_udp(worker_t *w, int fd, const char *name);

/* Asks the thread to close its connections and exit, then joins it. */
void worker_stop(worker_t *w);

/* Frees the worker (its thread stopped) and its cache_worker_t; NULLs *w. */
void worker_destroy(worker_t **w);

/* Links / unlinks a connection in w->conns (worker thread only). */
void worker_conn_link(worker_t *w, struct conn *c);
void worker_conn_unlink(worker_t *w, struct conn *c);

#endif /* TIERCACHE_WORKER_H */
