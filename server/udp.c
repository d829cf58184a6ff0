/*
 * server/udp.c - see udp.h.
 *
 * Per request: peek() looks at the request line first (get-family key
 * list), conn_dgram_step() carries it out, collect() moves its reply bytes
 * from c->out into the batch buffer as response objects, flush() frames
 * and sends the batch. Everything runs on the owning worker's thread.
 */
#include "udp.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conn.h"
#include "proto_text.h"
#include "worker.h"

#define UDP_CHUNK (UDP_MAX_PAYLOAD - UDP_HEADER_SIZE)

/* One response object: buf[off .. off + len) of the batch. */
typedef struct udp_resp {
    size_t off, len;
} udp_resp_t;

struct udp {
    worker_t *w;
    conn_t *c;               /* owns fd */
    int fd;
    struct event ev;
    bool ev_added;
    /* the datagram being served */
    struct sockaddr_storage peer;
    socklen_t peerlen;
    uint16_t rid;
    /* the request being served, if get/gets/gat/gats */
    bool is_get;
    size_t nkeys;
    char key0[TEXT_KEY_MAX], keyn[TEXT_KEY_MAX];
    size_t nkey0, nkeyn;
    /* the batch */
    char *buf;
    size_t len, cap;
    udp_resp_t *resps;
    size_t nresps, resps_cap;
    int nreqs;
};

static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_resumed(conn_t *c);

udp_status_e udp_create(worker_t *w, int fd, const char *name, udp_t **out)
{
    udp_t *u = calloc(1, sizeof(*u));
    if (u == NULL) {
        close(fd);
        return UDP_ENOMEM;
    }
    u->w = w;
    u->fd = fd;
    u->c = conn_create_dgram(w, fd, name, name, UDP_READ_SIZE, on_resumed, u);
    if (u->c == NULL) {
        close(fd);
        free(u);
        return UDP_ENOMEM;
    }
    server_t *srv = w->srv;
    atomic_fetch_add(&srv->curr_conns, 1);  /* conn_close takes it back */
    atomic_fetch_add(&srv->total_conns, 1);
    atomic_fetch_add(&srv->conn_structs, 1);
    event_assign(&u->ev, w->base, fd, EV_READ | EV_PERSIST, on_read, u);
    if (event_add(&u->ev, NULL) != 0) {
        udp_destroy(&u);
        return UDP_ESYS;
    }
    u->ev_added = true;
    *out = u;
    return UDP_OK;
}

void udp_destroy(udp_t **up)
{
    udp_t *u = *up;
    if (u == NULL)
        return;
    if (u->ev_added)
        event_del(&u->ev);
    if (u->c)
        conn_close(u->c); /* closes fd */
    free(u->buf);
    free(u->resps);
    free(u);
    *up = NULL;
}

/* ---- the batch ------------------------------------------------------------ */

static bool reserve(udp_t *u, size_t more)
{
    if (u->len + more <= u->cap)
        return true;
    size_t n = u->cap ? u->cap : 4096;
    while (n < u->len + more)
        n *= 2;
    char *b = realloc(u->buf, n);
    if (b == NULL)
        return false;
    u->buf = b;
    u->cap = n;
    return true;
}

static bool add_resp(udp_t *u, size_t off, size_t len)
{
    if (u->nresps == u->resps_cap) {
        size_t n = u->resps_cap ? u->resps_cap * 2 : 16;
        udp_resp_t *r = realloc(u->resps, n * sizeof(*r));
        if (r == NULL)
            return false;
        u->resps = r;
        u->resps_cap = n;
    }
    u->resps[u->nresps].off = off;
    u->resps[u->nresps].len = len;
    u->nresps++;
    return true;
}

/* Sends one datagram; waits up to UDP_SEND_WAIT_MS for room once. */
static bool send_dgram(udp_t *u, const unsigned char *hdr, const char *p,
                       size_t n)
{
    struct iovec iov[2] = {
        {.iov_base = (void *)(uintptr_t)hdr, .iov_len = UDP_HEADER_SIZE},
        {.iov_base = (void *)(uintptr_t)p, .iov_len = n},
    };
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_name = &u->peer;
    msg.msg_namelen = u->peerlen;
    msg.msg_iov = iov;
    msg.msg_iovlen = n ? 2 : 1;
    bool waited = false;
    for (;;) {
        ssize_t r = sendmsg(u->fd, &msg, MSG_NOSIGNAL);
        if (r >= 0) {
            STATS_ADD(&u->w->stats, bytes_written, (uint64_t)r);
            return true;
        }
        if (errno == EINTR)
            continue;
        if ((errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) ||
            waited)
            return false;
        struct pollfd pf = {.fd = u->fd, .events = POLLOUT};
        poll(&pf, 1, UDP_SEND_WAIT_MS);
        waited = true;
    }
}

/* Sends one response object as sequence 0..n-1 of n datagrams. */
static bool send_resp(udp_t *u, const char *p, size_t len)
{
    size_t total = (len + UDP_CHUNK - 1) / UDP_CHUNK;
    unsigned char hdr[UDP_HEADER_SIZE];
    hdr[0] = (unsigned char)(u->rid >> 8);
    hdr[1] = (unsigned char)u->rid;
    hdr[4] = (unsigned char)(total >> 8);
    hdr[5] = (unsigned char)total;
    hdr[6] = hdr[7] = 0;
    size_t seq = 0;
    do {
        size_t n = len < UDP_CHUNK ? len : UDP_CHUNK;
        hdr[2] = (unsigned char)(seq >> 8);
        hdr[3] = (unsigned char)seq;
        if (!send_dgram(u, hdr, p, n))
            return false;
        p += n;
        len -= n;
        seq++;
    } while (len > 0);
    return true;
}

static void flush(udp_t *u)
{
    for (size_t i = 0; i < u->nresps; i++) {
        if (!send_resp(u, u->buf + u->resps[i].off, u->resps[i].len))
            break;
    }
    u->len = 0;
    u->nresps = 0;
    u->nreqs = 0;
    if (u->cap > 4 * UDP_READ_SIZE) {
        free(u->buf);
        u->buf = NULL;
        u->cap = 0;
    }
}

/* ---- requests ------------------------------------------------------------- */

/* Notes the key list of a get-family request about to be served. */
static void peek(udp_t *u)
{
    static const text_limits_t limits = {
        .line_max = TEXT_LINE_MAX,
        .get_line_max = CONN_GET_LINE_MAX,
    };
    conn_t *c = u->c;
    text_request_t req;
    size_t used = 0;
    u->is_get = false;
    if (c->state != CONN_PARSE || c->rlen == 0)
        return;
    memset(&req, 0, sizeof(req));
    if (text_parse(c->rbuf + c->rpos, c->rlen, &limits, &req, &used) !=
            TEXT_PARSE_OK ||
        (req.cmd != TEXT_CMD_GET && req.cmd != TEXT_CMD_GETS &&
         req.cmd != TEXT_CMD_GAT && req.cmd != TEXT_CMD_GATS))
        return;
    const char *cur = req.keys, *end = req.keys + req.keys_len, *key;
    size_t nkey;
    text_key_status_e ks;
    u->nkeys = 0;
    while ((ks = text_next_key(&cur, end, &key, &nkey)) == TEXT_KEY_OK) {
        if (u->nkeys++ == 0) {
            memcpy(u->key0, key, nkey);
            u->nkey0 = nkey;
        }
        memcpy(u->keyn, key, nkey);
        u->nkeyn = nkey;
    }
    u->is_get = ks == TEXT_KEY_END && u->nkeys > 0;
}

/* Parses "VALUE <key> <flags> <bytes>[ <cas>]\r\n" at p; sets the block's
 * length (line, data, "\r\n") and key. False if it is not one. */
static bool value_block(const char *p, const char *end, size_t *blen,
                        const char **key, size_t *nkey)
{
    if ((size_t)(end - p) < 6 || memcmp(p, "VALUE ", 6) != 0)
        return false;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL)
        return false;
    const char *k = p + 6;
    const char *sp = memchr(k, ' ', (size_t)(nl - k));
    if (sp == NULL)
        return false;
    *key = k;
    *nkey = (size_t)(sp - k);
    const char *f = memchr(sp + 1, ' ', (size_t)(nl - sp - 1)); /* flags */
    if (f == NULL)
        return false;
    uint64_t bytes = 0;
    const char *d = f + 1;
    for (; d < nl && *d >= '0' && *d <= '9'; d++)
        bytes = bytes * 10 + (uint64_t)(*d - '0');
    size_t line = (size_t)(nl + 1 - p);
    if (d == f + 1 || bytes > (uint64_t)(end - p) - line ||
        (size_t)(end - p) - line - bytes < 2)
        return false;
    *blen = line + (size_t)bytes + 2;
    return true;
}

/*
 * Splits a get-family reply at buf[off .. off + n) into one object per key
 * (memcached: a new object after each key, END on the last one). A missed
 * key's object is empty and only matters as the batch's first. False if the
 * reply is not VALUE blocks + END (an error line: one object).
 */
static bool split_get(udp_t *u, size_t off, size_t n)
{
    const char *p = u->buf + off, *end = p + n;
    size_t nb = 0, blen = 0, nkey = 0, firstn = 0, lastn = 0;
    const char *key = NULL, *first = NULL, *last = NULL;
    while (value_block(p, end, &blen, &key, &nkey)) {
        if (nb++ == 0) {
            first = key;
            firstn = nkey;
        }
        last = key;
        lastn = nkey;
        p += blen;
    }
    if (end - p != 5 || memcmp(p, "END\r\n", 5) != 0)
        return false;
    bool first_hit = nb > 0 && firstn == u->nkey0 &&
                     memcmp(first, u->key0, firstn) == 0;
    bool last_hit = nb > 0 && lastn == u->nkeyn &&
                    memcmp(last, u->keyn, lastn) == 0 &&
                    (u->nkeys > 1 || first_hit);
    if (u->nkeys > 1 && !first_hit && u->nresps == 0 && !add_resp(u, off, 0))
        return true;
    p = u->buf + off;
    for (size_t i = 0; i < nb; i++) {
        value_block(p, end, &blen, &key, &nkey);
        size_t o = (size_t)(p - u->buf);
        if (!add_resp(u, o, blen + (i + 1 == nb && last_hit ? 5 : 0)))
            return true;
        p += blen;
    }
    if (!last_hit)
        add_resp(u, (size_t)(end - 5 - u->buf), 5);
    return true;
}

/* Moves the reply of the request just served from c->out into the batch. */
static void collect(udp_t *u, conn_step_e st)
{
    conn_t *c = u->c;
    outq_t *q = &c->out;
    size_t start = u->len;
    bool ok = !q->oom && reserve(u, q->pending);
    for (size_t i = q->head; ok && i < q->niov; i++) {
        memcpy(u->buf + u->len, q->iov[i].iov_base, q->iov[i].iov_len);
        u->len += q->iov[i].iov_len;
    }
    outq_mark_t empty;
    memset(&empty, 0, sizeof(empty));
    outq_rollback(q, &empty); /* releases the items it held */
    q->oom = false;
    if (!ok) {
        u->len = start;
        return;
    }
    size_t n = u->len - start;
    if (n == 0) {
        /* quit: an empty object (sent when first); noreply: none */
        if (st == CONN_STEP_CLOSE && c->close_after_write && u->nresps == 0)
            add_resp(u, start, 0);
        return;
    }
    if (u->is_get && split_get(u, start, n))
        return;
    if (!add_resp(u, start, n))
        u->len = start;
}

/* After a request: false when the datagram is done (batch sent). */
static bool after_step(udp_t *u, conn_step_e st)
{
    collect(u, st);
    if (st == CONN_STEP_DONE) {
        if (++u->nreqs >= u->w->srv->settings->reqs_per_event)
            flush(u);
        return true;
    }
    conn_dgram_discard(u->c);
    flush(u);
    return false;
}

/* Serves the datagram's requests; false if one parked. */
static bool serve(udp_t *u)
{
    for (;;) {
        peek(u);
        conn_step_e st = conn_dgram_step(u->c);
        if (st == CONN_STEP_PARKED)
            return false;
        if (!after_step(u, st))
            return true;
    }
}

static void on_resumed(conn_t *c)
{
    udp_t *u = c->dgram_owner;
    if (after_step(u, CONN_STEP_DONE) && !serve(u))
        return; /* parked again */
    if (!u->ev_added && event_add(&u->ev, NULL) == 0)
        u->ev_added = true;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    udp_t *u = arg;
    conn_t *c = u->c;
    (void)what;
    for (int i = 0; i < UDP_DGRAMS_PER_EVENT; i++) {
        u->peerlen = sizeof(u->peer);
        ssize_t n = recvfrom(fd, c->rbuf, c->rsize, 0,
                             (struct sockaddr *)&u->peer, &u->peerlen);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; /* EAGAIN: another worker took it */
        }
        if (n <= UDP_HEADER_SIZE)
            continue; /* memcached: ignored, not even counted */
        STATS_ADD(&u->w->stats, bytes_read, (uint64_t)n);
        const unsigned char *h = (const unsigned char *)c->rbuf;
        if (h[4] != 0 || h[5] != 1)
            continue; /* a multi-datagram request: dropped */
        u->rid = (uint16_t)(h[0] << 8 | h[1]);
        c->rpos = UDP_HEADER_SIZE;
        c->rlen = (size_t)n - UDP_HEADER_SIZE;
        if (!serve(u)) {
            /* parked: leave later datagrams to others until resumed */
            event_del(&u->ev);
            u->ev_added = false;
            return;
        }
    }
}
