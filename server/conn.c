/*
 * server/conn.c - see conn.h.
 *
 * One event per connection (EV_PERSIST, level-triggered), re-registered only
 * when the wanted flags change: EV_READ unless the reply queue is over
 * CONN_OUT_CAP or the connection is closing; EV_WRITE while replies wait.
 */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "auth_sasl.h"
#include "conn_slots.h"
#include "logger.h"
#include "protocol.h"
#include "tls.h"
#include "proto_text.h"
#include "worker.h"

enum { PUB_PARSE = 0, PUB_NREAD, PUB_SWALLOW, PUB_WRITE, PUB_WATCH };

const char *conn_state_name(int pub_state)
{
    switch (pub_state) {
    case PUB_NREAD: return "conn_nread";
    case PUB_SWALLOW: return "conn_swallow";
    case PUB_WRITE: return "conn_mwrite";
    case PUB_WATCH: return "conn_watch";
    default: return "conn_parse_cmd";
    }
}

typedef enum io_status {
    IO_DATA = 0, /* read something */
    IO_AGAIN,    /* nothing to read now */
    IO_CLOSED,   /* EOF or error */
} io_status_e;

static void on_event(evutil_socket_t fd, short what, void *arg);
static void on_resume(evutil_socket_t fd, short what, void *arg);

static void set_events(conn_t *c, short flags)
{
    if (c->ev_added && flags == c->ev_flags)
        return;
    if (c->ev_added) {
        event_del(&c->ev);
        c->ev_added = false;
    }
    c->ev_flags = flags;
    if (flags == 0)
        return;
    event_assign(&c->ev, c->w->base, c->fd, (short)(flags | EV_PERSIST),
                 on_event, c);
    if (event_add(&c->ev, NULL) == 0)
        c->ev_added = true;
}

static void describe_peer(conn_t *c)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (c->is_unix || getpeername(c->fd, (struct sockaddr *)&ss, &len) != 0) {
        snprintf(c->addr, sizeof(c->addr), "%s", c->is_unix ? "unix:" : "?");
        return;
    }
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
        snprintf(c->addr, sizeof(c->addr), "tcp:%s:%d", host, port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
        snprintf(c->addr, sizeof(c->addr), "tcp6:[%s]:%d", host, port);
    }
}

/* The protocol -B forces on every connection, or CONN_PROTO_AUTO. */
static conn_proto_e forced_proto(const worker_t *w)
{
    return protocol_forced(w->srv->settings->protocol);
}

static conn_t *create(worker_t *w, int fd, bool is_unix,
                      const char *listen_addr, bool tls);

conn_t *conn_create(worker_t *w, int fd, bool is_unix, const char *listen_addr)
{
    return create(w, fd, is_unix, listen_addr, false);
}

conn_t *conn_create_tls(worker_t *w, int fd, const char *listen_addr)
{
    return create(w, fd, false, listen_addr, true);
}

static conn_t *create(worker_t *w, int fd, bool is_unix,
                      const char *listen_addr, bool tls)
{
    conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        atomic_fetch_sub(&w->srv->curr_conns, 1); /* the listener counted it */
        return NULL;
    }
    c->w = w;
    c->fd = fd;
    transport_plain_init(&c->tx, fd);
    if (tls && (w->srv->tls == NULL ||
                !tls_transport_init(&c->tx, w->srv->tls, fd, w->id,
                                    atomic_load(&w->srv->verbose)))) {
        close(fd);
        free(c);
        atomic_fetch_sub(&w->srv->curr_conns, 1);
        return NULL;
    }
    c->is_unix = is_unix;
    c->proto = forced_proto(w);
    snprintf(c->listen_addr, sizeof(c->listen_addr), "%s", listen_addr);
    describe_peer(c);
    atomic_store(&c->last_cmd, (long long)time(NULL));
    outq_init(&c->out, &w->pool, w->cw);
    conn_slots_init(c);
    event_assign(&c->resume, w->base, -1, 0, on_resume, c);
    if (!is_unix) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    set_events(c, EV_READ);
    if (!c->ev_added) {
        transport_close(&c->tx);
        free(c);
        atomic_fetch_sub(&w->srv->curr_conns, 1);
        return NULL;
    }
    worker_conn_link(w, c);
    c->close_reason = LOGGER_CLOSE_NORMAL;
    if (logger_wants(w->srv->logger, LOGGER_CONNEVENTS))
        logger_conn_new(w->srv->logger, fd, c->addr);
    if (atomic_load(&w->srv->verbose) > 1)
        fprintf(stderr, "<%d new auto-negotiating client connection\n", fd);
    return c;
}

static void release_rbuf(conn_t *c)
{
    if (c->rbuf == NULL)
        return;
    if (c->rsize == BUFPOOL_BUF_SIZE)
        bufpool_put(&c->w->pool, c->rbuf);
    else
        free(c->rbuf);
    c->rbuf = NULL;
    c->rsize = c->rpos = c->rlen = 0;
}

void conn_free(conn_t *c)
{
    auth_sasl_conn_free(c);
    if (c->dump_free)
        c->dump_free(c->dump);
    conn_slots_free(c);
    free(c->x.line);
    free(c);
}

void conn_close(conn_t *c)
{
    worker_t *w = c->w;
    if (atomic_load(&w->srv->verbose) > 1)
        fprintf(stderr, "<%d connection closed.\n", c->fd);
    if (c->ev_added)
        event_del(&c->ev);
    event_del(&c->resume);
    worker_conn_unlink(w, c);
    if (c->watch)
        logger_unwatch(c);
    else if (!c->dgram && logger_wants(w->srv->logger, LOGGER_CONNEVENTS))
        logger_conn_close(w->srv->logger, c->fd, c->addr,
                          (logger_close_reason_e)c->close_reason);
    cache_item_release(w->cw, &c->item);
    outq_destroy(&c->out);
    release_rbuf(c);
    transport_close(&c->tx);
    c->fd = -1;
    atomic_fetch_sub(&w->srv->curr_conns, 1);
    if (c->inflight > 0) {
        /* callbacks still hold slot addresses: free at the last one */
        c->zombie = true;
        conn_slots_release(c);
        w->nzombies++;
        return;
    }
    conn_free(c);
}

void conn_reply(conn_t *c, const char *s)
{
    if (c->noreply)
        return;
    size_t n = strlen(s);
    outq_text(&c->out, s, n);
    outq_text(&c->out, "\r\n", 2);
}

void conn_start_nread(conn_t *c, cache_item_t *it, size_t nbytes,
                      cache_store_op_e op, uint64_t cas_in)
{
    c->item = it;
    c->ndata = cache_item_data(it);
    c->nleft = nbytes;
    c->ncrlf = 0;
    c->op = op;
    c->cas_in = cas_in;
    c->nread_kind = CONN_NREAD_TEXT;
    c->state = CONN_NREAD;
    atomic_store(&c->pub_state, PUB_NREAD);
}

void conn_start_nread_bin(conn_t *c, cache_item_t *it, size_t nbytes,
                          cache_store_op_e op, uint64_t cas_in)
{
    conn_start_nread(c, it, nbytes, op, cas_in);
    c->crlf[0] = '\r';
    c->crlf[1] = '\n';
    c->ncrlf = 2;
    c->nread_kind = CONN_NREAD_BIN;
}

bool conn_keep_line(conn_t *c, const char *line, size_t len)
{
    if (len + 1 > c->x.line_cap) {
        size_t cap = len + 1 < 256 ? 256 : len + 1;
        char *nl = realloc(c->x.line, cap);
        if (nl == NULL)
            return false;
        c->x.line = nl;
        c->x.line_cap = cap;
    }
    memcpy(c->x.line, line, len);
    c->x.line[len] = '\0';
    c->x.line_len = len;
    return true;
}

void conn_start_swallow(conn_t *c, size_t n)
{
    if (n == 0)
        return;
    c->swallow = n;
    c->state = CONN_SWALLOW;
    atomic_store(&c->pub_state, PUB_SWALLOW);
}

void conn_consume(conn_t *c, size_t n)
{
    c->rpos += n;
    c->rlen -= n;
    if (c->rlen == 0)
        c->rpos = 0;
}

static bool ensure_rbuf(conn_t *c)
{
    if (c->rbuf)
        return true;
    c->rbuf = bufpool_get(&c->w->pool);
    if (c->rbuf == NULL)
        return false;
    c->rsize = BUFPOOL_BUF_SIZE;
    c->rpos = c->rlen = 0;
    return true;
}

/* Doubles rbuf (a long get line). False at the limit or on OOM. */
bool conn_grow_rbuf(conn_t *c)
{
    size_t max = CONN_GET_LINE_MAX + TEXT_LINE_MAX;
    if (c->rsize >= max)
        return false;
    size_t n = c->rsize * 2 > max ? max : c->rsize * 2;
    char *nb = malloc(n);
    if (nb == NULL)
        return false;
    memcpy(nb, c->rbuf + c->rpos, c->rlen);
    size_t rlen = c->rlen;
    release_rbuf(c);
    c->rbuf = nb;
    c->rsize = n;
    c->rlen = rlen;
    return true;
}

/* Reads into the free tail of rbuf. *full says the read filled it all. */
static io_status_e read_rbuf(conn_t *c, bool *short_read)
{
    if (c->dgram)
        return IO_AGAIN; /* the datagram is used up: end the step */
    if (!ensure_rbuf(c))
        return IO_CLOSED;
    if (c->rpos > 0) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen);
        c->rpos = 0;
    }
    size_t room = c->rsize - c->rlen;
    if (room == 0)
        return IO_CLOSED;
    size_t n = 0;
    transport_status_e st = transport_read(&c->tx, c->rbuf + c->rlen, room, &n);
    if (st == TRANSPORT_OK) {
        c->rlen += n;
        STATS_ADD(&c->w->stats, bytes_read, (uint64_t)n);
        *short_read = n < room;
        return IO_DATA;
    }
    return st == TRANSPORT_AGAIN ? IO_AGAIN : IO_CLOSED;
}

/* NREAD: one readv into the item's value, the crlf and rbuf. */
static io_status_e read_nread(conn_t *c, bool *short_read)
{
    if (c->dgram)
        return IO_AGAIN;
    if (!ensure_rbuf(c))
        return IO_CLOSED;
    struct iovec iov[3];
    int n = 0;
    size_t want = 0;
    if (c->nleft) {
        iov[n].iov_base = c->ndata;
        iov[n++].iov_len = c->nleft;
    }
    iov[n].iov_base = c->crlf + c->ncrlf;
    iov[n++].iov_len = 2 - c->ncrlf;
    /* rlen is 0 here: everything buffered went into the item */
    c->rpos = 0;
    iov[n].iov_base = c->rbuf;
    iov[n++].iov_len = c->rsize;
    for (int i = 0; i < n; i++)
        want += iov[i].iov_len;
    size_t got = 0;
    transport_status_e st = transport_readv(&c->tx, iov, n, &got);
    if (st != TRANSPORT_OK)
        return st == TRANSPORT_AGAIN ? IO_AGAIN : IO_CLOSED;
    STATS_ADD(&c->w->stats, bytes_read, (uint64_t)got);
    *short_read = got < want;
    size_t k = got < c->nleft ? got : c->nleft;
    c->ndata += k;
    c->nleft -= k;
    got -= k;
    k = got < 2 - c->ncrlf ? got : 2 - c->ncrlf;
    c->ncrlf += k;
    got -= k;
    c->rlen = got;
    return IO_DATA;
}

/* Moves buffered bytes into the item being read; true when complete. */
static bool fill_nread(conn_t *c)
{
    size_t k = c->rlen < c->nleft ? c->rlen : c->nleft;
    if (k) {
        memcpy(c->ndata, c->rbuf + c->rpos, k);
        c->ndata += k;
        c->nleft -= k;
        conn_consume(c, k);
    }
    while (c->nleft == 0 && c->ncrlf < 2 && c->rlen > 0) {
        c->crlf[c->ncrlf++] = c->rbuf[c->rpos];
        conn_consume(c, 1);
    }
    return c->nleft == 0 && c->ncrlf == 2;
}

/* Writes what it can; false if the connection was closed. */
static bool flush(conn_t *c)
{
    if (c->out.oom)
        return false;
    if (c->out.head == c->out.niov)
        return true;
    size_t wrote = 0;
    outq_status_e st = outq_send(&c->out, &c->tx, &wrote);
    STATS_ADD(&c->w->stats, bytes_written, (uint64_t)wrote);
    return st != OUTQ_ERROR;
}

typedef enum drive_result {
    DRIVE_IDLE = 0, /* waiting for input */
    DRIVE_PARKED,   /* waiting for the cache (an async call) */
    DRIVE_YIELD,    /* -R budget used up with input left */
    DRIVE_BLOCKED,  /* reply queue over CONN_OUT_CAP, or closing */
    DRIVE_CLOSE,    /* close the connection */
} drive_result_e;

/* The client's stream ended (or failed) with every complete request
 * handled: replies still queued go out first, as memcached writes each
 * reply before it reads again; then the connection closes. */
static drive_result_e end_of_stream(conn_t *c)
{
    if (c->out.head == c->out.niov)
        return DRIVE_CLOSE;
    c->close_after_write = true;
    return DRIVE_BLOCKED;
}

/* Processes buffered and readable input while *budget (requests) lasts. */
static drive_result_e drive(conn_t *c, int *budget)
{
    bool short_read = false;
    for (;;) {
        if (c->park != CONN_PARK_NONE) {
            /* pipelined gets: parse the next one while this one waits */
            if (!conn_pipe_ok(c))
                return DRIVE_PARKED;
            if (c->rlen > 0) {
                if (*budget <= 0)
                    return DRIVE_YIELD;
                if (!conn_pipe_room(c))
                    return DRIVE_PARKED;
                protocol_parse_e pr = protocol_parse_pipelined(c);
                if (pr == PROTOCOL_DONE) {
                    (*budget)--;
                    continue;
                }
                if (pr != PROTOCOL_MORE)
                    return DRIVE_PARKED; /* runs when the gets answered */
            }
            if (short_read)
                return DRIVE_IDLE;
            io_status_e pio = read_rbuf(c, &short_read);
            if (pio == IO_AGAIN)
                return DRIVE_IDLE;
            if (pio == IO_CLOSED) {
                /* the replies owed go out first; the end is seen again
                 * by the read after the last one */
                c->pipe_eof = true;
                return DRIVE_PARKED;
            }
            continue;
        }
        if (c->close_after_write || c->out.pending > CONN_OUT_CAP)
            return DRIVE_BLOCKED;
        io_status_e io;
        if (c->watch) {
            /* a watcher's input means nothing: read it to see the end */
            conn_consume(c, c->rlen);
            if (short_read)
                return DRIVE_IDLE;
            io = read_rbuf(c, &short_read);
            if (io == IO_AGAIN)
                return DRIVE_IDLE;
            if (io == IO_CLOSED)
                return DRIVE_CLOSE;
            continue;
        }
        switch (c->state) {
        case CONN_PARSE:
            if (c->rlen > 0) {
                if (*budget <= 0)
                    return DRIVE_YIELD;
                protocol_parse_e pr = protocol_parse_one(c);
                if (pr == PROTOCOL_CLOSE) {
                    c->close_reason = LOGGER_CLOSE_ERROR;
                    return DRIVE_CLOSE;
                }
                if (pr == PROTOCOL_DONE) {
                    (*budget)--;
                    continue;
                }
            }
            if (short_read)
                return DRIVE_IDLE;
            io = read_rbuf(c, &short_read);
            break;
        case CONN_NREAD:
            if (fill_nread(c)) {
                protocol_nread_done(c);
                continue;
            }
            if (short_read)
                return DRIVE_IDLE;
            io = read_nread(c, &short_read);
            break;
        case CONN_SWALLOW: {
            size_t k = c->rlen < c->swallow ? c->rlen : c->swallow;
            conn_consume(c, k);
            c->swallow -= k;
            if (c->swallow == 0) {
                c->state = CONN_PARSE;
                atomic_store(&c->pub_state, PUB_PARSE);
                continue;
            }
            if (short_read)
                return DRIVE_IDLE;
            io = read_rbuf(c, &short_read);
            break;
        }
        default:
            return DRIVE_CLOSE;
        }
        if (io == IO_AGAIN)
            return DRIVE_IDLE;
        if (io == IO_CLOSED)
            return end_of_stream(c);
    }
}

/* Runs the connection: writes, reads and processes what it can. */
static void run(conn_t *c, short what)
{
    drive_result_e dr = DRIVE_IDLE;
    int budget = c->w->srv->settings->reqs_per_event;
    /* a watcher: its log ring, while the socket takes it all (EV_WRITE
     * brings us back when it does not; the ring's kick when it was empty) */
    while (c->watch) {
        if (!flush(c)) {
            conn_close(c);
            return;
        }
        if (c->out.head < c->out.niov || !logger_pull(c))
            break;
    }
    if (!flush(c)) {
        conn_close(c);
        return;
    }
    if (!c->close_after_write && c->out.pending <= CONN_OUT_CAP &&
        ((what & EV_READ) || !(c->ev_flags & EV_READ) || c->rlen > 0 ||
         ((what & EV_WRITE) && c->tx.read_wants_write))) {
        atomic_store(&c->last_cmd, (long long)time(NULL));
        for (;;) {
            dr = drive(c, &budget);
            if (dr == DRIVE_CLOSE || !flush(c)) {
                conn_close(c);
                return;
            }
            /* the queue drained at once: go on while the budget lasts */
            if (dr == DRIVE_BLOCKED && !c->close_after_write &&
                c->out.pending <= CONN_OUT_CAP && budget > 0)
                continue;
            break;
        }
    }
    bool pending = c->out.head < c->out.niov;
    if (c->close_after_write && !pending) {
        conn_close(c);
        return;
    }
    if (c->state == CONN_PARSE && c->rlen == 0)
        release_rbuf(c);
    bool want_read = !c->close_after_write && c->out.pending <= CONN_OUT_CAP &&
                     (c->park == CONN_PARK_NONE ||
                      ((dr == DRIVE_IDLE || dr == DRIVE_YIELD) && conn_pipe_ok(c)));
    /* a TLS read may wait for the socket to take bytes, a TLS write for
     * bytes to arrive (transport.h) */
    short flags = (short)((want_read ? EV_READ : 0) | (pending ? EV_WRITE : 0) |
                          (want_read && c->tx.read_wants_write ? EV_WRITE : 0) |
                          (pending && c->tx.write_wants_read ? EV_READ : 0));
    atomic_store(&c->pub_state,
                 c->watch ? PUB_WATCH
                 : pending ? PUB_WRITE
                           : (c->state == CONN_NREAD ? PUB_NREAD : PUB_PARSE));
    set_events(c, flags);
    /* input the transport holds (a TLS record read in part) makes no
     * socket event: go on as after a yield */
    if (want_read && (dr == DRIVE_YIELD || dr == DRIVE_BLOCKED ||
                      transport_pending(&c->tx) > 0)) {
        if (dr == DRIVE_YIELD)
            STATS_ADD(&c->w->stats, conn_yields, 1);
        event_active(&c->ev, EV_READ, 0);
    }
}

void conn_kick(conn_t *c)
{
    run(c, 0);
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    run(arg, what);
}

/* Parked gets: queues the replies of the oldest ones that have completed,
 * in order; once none is parked the connection goes on as after a read
 * (while some are, it goes on pipelining). */
static void resume_gets(conn_t *c)
{
    conn_getgrp_t *g;
    while ((g = conn_get_head(c)) != NULL && g->pending == 0) {
        protocol_resume(c, CONN_PARK_GET);
        conn_get_pop(c);
    }
    if (c->gq_len == 0) {
        c->park = CONN_PARK_NONE;
        c->pipe_eof = false;
        conn_slots_trim(c);
        if (c->dgram) {
            c->dgram_resumed(c);
            return;
        }
    }
    if (!c->dgram)
        run(c, EV_READ);
}

/* Every async call of the parked request has completed: queue its reply,
 * then go on with buffered input (and the socket) as after a read. */
static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    conn_t *c = arg;
    (void)fd;
    (void)what;
    if (c->park == CONN_PARK_GET) {
        resume_gets(c);
        return;
    }
    if (c->park == CONN_PARK_NONE || c->inflight > 0)
        return;
    conn_park_e kind = c->park;
    c->park = CONN_PARK_NONE;
    protocol_resume(c, kind);
    if (c->park != CONN_PARK_NONE)
        return; /* a meta/binary request issued its next call */
    conn_slots_trim(c);
    if (c->dgram) {
        c->dgram_resumed(c);
        return;
    }
    run(c, EV_READ);
}

/* ---- datagram connections (udp.c) -------------------------------------- */

conn_t *conn_create_dgram(worker_t *w, int fd, const char *addr,
                          const char *listen_addr, size_t rbuf_size,
                          conn_dgram_fn resumed, void *owner)
{
    conn_t *c = calloc(1, sizeof(*c));
    char *rbuf = rbuf_size != BUFPOOL_BUF_SIZE ? malloc(rbuf_size) : NULL;
    if (c == NULL || rbuf == NULL) {
        free(c);
        free(rbuf);
        return NULL;
    }
    c->w = w;
    c->fd = fd;
    transport_plain_init(&c->tx, fd); /* never read: closes fd at the end */
    c->dgram = true;
    c->proto = forced_proto(w);
    c->dgram_resumed = resumed;
    c->dgram_owner = owner;
    c->rbuf = rbuf;
    c->rsize = rbuf_size;
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    snprintf(c->listen_addr, sizeof(c->listen_addr), "%s", listen_addr);
    atomic_store(&c->last_cmd, (long long)time(NULL));
    outq_init(&c->out, &w->pool, w->cw);
    conn_slots_init(c);
    event_assign(&c->resume, w->base, -1, 0, on_resume, c);
    worker_conn_link(w, c);
    return c;
}

conn_step_e conn_dgram_step(conn_t *c)
{
    int budget = 1;
    if (c->state == CONN_PARSE && c->rlen == 0)
        return CONN_STEP_EMPTY;
    atomic_store(&c->last_cmd, (long long)time(NULL));
    switch (drive(c, &budget)) {
    case DRIVE_PARKED: return CONN_STEP_PARKED;
    case DRIVE_YIELD: return CONN_STEP_DONE;
    case DRIVE_BLOCKED:
        return c->close_after_write ? CONN_STEP_CLOSE : CONN_STEP_DONE;
    case DRIVE_CLOSE: return CONN_STEP_CLOSE;
    case DRIVE_IDLE:
    default:
        return CONN_STEP_EMPTY;
    }
}

void conn_dgram_discard(conn_t *c)
{
    cache_item_release(c->w->cw, &c->item);
    c->state = CONN_PARSE;
    atomic_store(&c->pub_state, PUB_PARSE);
    c->nleft = c->ncrlf = c->swallow = 0;
    c->rpos = c->rlen = 0;
    c->close_after_write = false;
    c->noreply = false;
    c->proto = forced_proto(c->w); /* memcached picks it per datagram */
}
