/*
 * server/worker.c - see worker.h.
 *
 * Notify protocol on the pipe: 'c' = new sockets are queued, 'q' = close
 * everything and leave the loop.
 */
#include "worker.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "logger.h"
#include "idle.h"
#include "udp.h"

/* Starts serving a UDP socket (worker thread). */
static void add_udp(worker_t *w, int fd, const char *name)
{
    struct udp **a = realloc(w->udps, (w->nudps + 1) * sizeof(*a));
    if (a == NULL) {
        close(fd);
        return;
    }
    w->udps = a;
    if (udp_create(w, fd, name, &w->udps[w->nudps]) == UDP_OK)
        w->nudps++;
    else
        fprintf(stderr, "tiercache: worker %u cannot serve %s\n", w->id, name);
}

static void close_udps(worker_t *w)
{
    for (size_t i = 0; i < w->nudps; i++)
        udp_destroy(&w->udps[i]);
    free(w->udps);
    w->udps = NULL;
    w->nudps = 0;
}

/* Completions of async cache calls (flash reads) are ready. */
static void on_flash(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    (void)fd;
    (void)what;
    cache_worker_poll(w->cw);
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    char cmds[64];
    (void)what;
    ssize_t n = read(fd, cmds, sizeof(cmds));
    bool quit = false;
    for (ssize_t i = 0; i < n; i++)
        quit |= cmds[i] == 'q';
    for (;;) {
        pending_fd_t p;
        pthread_mutex_lock(&w->lock);
        if (w->nqueue == 0) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        p = w->queue[0];
        memmove(w->queue, w->queue + 1, (w->nqueue - 1) * sizeof(*w->queue));
        w->nqueue--;
        pthread_mutex_unlock(&w->lock);
        if (quit) {
            close(p.fd);
            if (!p.is_udp)
                atomic_fetch_sub(&w->srv->curr_conns, 1);
            continue;
        }
        if (p.is_udp) {
            add_udp(w, p.fd, p.listen_addr);
            continue;
        }
        STATS_ADD(&w->stats, total_connections, 1);
        if (p.tls)
            conn_create_tls(w, p.fd, p.listen_addr);
        else
            conn_create(w, p.fd, p.is_unix, p.listen_addr);
    }
    if (quit) {
        close_udps(w);
        while (w->conns) {
            w->conns->close_reason = LOGGER_CLOSE_SHUTDOWN;
            conn_close(w->conns);
        }
        event_base_loopbreak(w->base);
    }
}

worker_status_e worker_create(server_t *srv, unsigned id, worker_t **out)
{
    worker_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return WORKER_ENOMEM;
    w->srv = srv;
    w->id = id;
    w->notify[0] = w->notify[1] = -1;
    pthread_mutex_init(&w->lock, NULL);
    bufpool_init(&w->pool, 256);
    if (srv->settings->read_buf_mem_limit > 0) {
        /* memcached's limit is for the whole server: each worker a share */
        size_t share = (size_t)srv->settings->read_buf_mem_limit * 1024 *
                       1024 / (size_t)srv->settings->threads;
        w->pool.limit = share / BUFPOOL_BUF_SIZE ? share / BUFPOOL_BUF_SIZE
                                                 : 1;
    }
    if (cache_worker_create(srv->cache, &w->cw) != CACHE_OK) {
        worker_destroy(&w);
        return WORKER_ECACHE;
    }
    struct event_config *cfg = event_config_new();
    if (cfg) {
        event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
        w->base = event_base_new_with_config(cfg);
        event_config_free(cfg);
    }
    if (w->base == NULL || pipe2(w->notify, O_NONBLOCK | O_CLOEXEC) != 0) {
        worker_destroy(&w);
        return WORKER_ESYS;
    }
    w->notify_ev = event_new(w->base, w->notify[0], EV_READ | EV_PERSIST,
                             on_notify, w);
    if (w->notify_ev == NULL || event_add(w->notify_ev, NULL) != 0) {
        worker_destroy(&w);
        return WORKER_ESYS;
    }
    int cfd = cache_worker_fd(w->cw);
    if (cfd >= 0) {
        w->flash_ev = event_new(w->base, cfd, EV_READ | EV_PERSIST, on_flash,
                                w);
        if (w->flash_ev == NULL || event_add(w->flash_ev, NULL) != 0) {
            worker_destroy(&w);
            return WORKER_ESYS;
        }
    }
    if (!idle_setup(w)) {
        worker_destroy(&w);
        return WORKER_ESYS;
    }
    *out = w;
    return WORKER_OK;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    event_base_loop(w->base, 0);
    return NULL;
}

worker_status_e worker_start(worker_t *w)
{
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
        return WORKER_ESYS;
    pthread_setname_np(w->thread, "tc-worker");
    w->started = true;
    return WORKER_OK;
}

static void notify(worker_t *w, char cmd)
{
    for (;;) {
        ssize_t n = write(w->notify[1], &cmd, 1);
        if (n == 1 || (n < 0 && errno != EINTR && errno != EAGAIN))
            return;
        if (n < 0 && errno == EAGAIN)
            return; /* pipe full: the worker is already woken */
    }
}

static bool dispatch(worker_t *w, int fd, bool is_unix, bool is_udp,
                     const char *listen_addr, bool tls)
{
    pthread_mutex_lock(&w->lock);
    if (w->nqueue == w->queue_cap) {
        size_t n = w->queue_cap ? w->queue_cap * 2 : 16;
        pending_fd_t *q = realloc(w->queue, n * sizeof(*q));
        if (q == NULL) {
            pthread_mutex_unlock(&w->lock);
            close(fd);
            return false;
        }
        w->queue = q;
        w->queue_cap = n;
    }
    pending_fd_t *p = &w->queue[w->nqueue++];
    p->fd = fd;
    p->is_unix = is_unix;
    p->is_udp = is_udp;
    p->tls = tls;
    snprintf(p->listen_addr, sizeof(p->listen_addr), "%s", listen_addr);
    pthread_mutex_unlock(&w->lock);
    notify(w, 'c');
    return true;
}

bool worker_dispatch(worker_t *w, int fd, bool is_unix,
                     const char *listen_addr)
{
    return dispatch(w, fd, is_unix, false, listen_addr, false);
}

bool worker_dispatch_tls(worker_t *w, int fd, const char *listen_addr)
{
    return dispatch(w, fd, false, false, listen_addr, true);
}

bool worker_dispatch_udp(worker_t *w, int fd, const char *name)
{
    return dispatch(w, fd, false, true, name, false);
}

void worker_stop(worker_t *w)
{
    if (!w->started)
        return;
    notify(w, 'q');
    pthread_join(w->thread, NULL);
    w->started = false;
}

/*
 * Runs completions until no closed connection waits for one, for at most
 * WORKER_DRAIN_MS. A zombie still waiting after that is left allocated (its
 * callback may yet come from cache_worker_destroy): a leak, never a crash.
 */
#define WORKER_DRAIN_MS 5000
static void drain_zombies(worker_t *w)
{
    int fd = w->cw ? cache_worker_fd(w->cw) : -1;
    for (int waited = 0; w->nzombies > 0 && fd >= 0 &&
                         waited < WORKER_DRAIN_MS; waited += 10) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        poll(&p, 1, 10);
        cache_worker_poll(w->cw);
    }
    if (w->nzombies > 0)
        fprintf(stderr, "tiercache: worker %u: %zu closed connections still "
                "wait for the cache\n", w->id, w->nzombies);
}

void worker_destroy(worker_t **wp)
{
    worker_t *w = *wp;
    if (w == NULL)
        return;
    worker_stop(w);
    close_udps(w);
    while (w->conns)
        conn_close(w->conns);
    drain_zombies(w);
    if (w->flash_ev)
        event_free(w->flash_ev);
    for (size_t i = 0; i < w->nqueue; i++)
        close(w->queue[i].fd);
    free(w->queue);
    idle_teardown(w);
    if (w->notify_ev)
        event_free(w->notify_ev);
    if (w->notify[0] >= 0)
        close(w->notify[0]);
    if (w->notify[1] >= 0)
        close(w->notify[1]);
    if (w->base)
        event_base_free(w->base);
    cache_worker_destroy(&w->cw);
    bufpool_teardown(&w->pool);
    pthread_mutex_destroy(&w->lock);
    free(w);
    *wp = NULL;
}

void worker_conn_link(worker_t *w, struct conn *c)
{
    pthread_mutex_lock(&w->lock);
    c->prev = NULL;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    pthread_mutex_unlock(&w->lock);
}

void worker_conn_unlink(worker_t *w, struct conn *c)
{
    pthread_mutex_lock(&w->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    pthread_mutex_unlock(&w->lock);
}
