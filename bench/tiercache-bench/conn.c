/* conn.c - one client connection (see conn.h).
 *
 * Threading: everything here runs on the owning worker's thread. The
 * verify arrays b->acked / b->sent are written only for keys this conn
 * owns (key % nconns == gidx), so there is no lock to take.
 */
#include "conn.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "worker.h"

#define IN_CHUNK (64u * 1024u)
#define OUT_INIT (64u * 1024u)
#define RETRY_MIN_MS 100u
#define RETRY_MAX_MS 1000u

static void conn_on_read(evutil_socket_t fd, short what, void *arg);
static void conn_on_write(evutil_socket_t fd, short what, void *arg);
static void conn_on_timer(evutil_socket_t fd, short what, void *arg);
static void conn_connect(struct conn *c);
static void conn_kick(struct conn *c, uint64_t now);

static unsigned ring_capacity(const struct bench *b)
{
    uint64_t cap = b->opt.depth;
    if (b->opt.rate > 0)
        cap = b->opt.max_inflight;
    if (b->opt.load && b->opt.load_depth > cap)
        cap = b->opt.load_depth;
    return (unsigned)(cap ? cap : 1);
}

bool conn_init(struct conn *c, struct worker *w, unsigned gidx)
{
    const struct bench *b = w->b;
    memset(c, 0, sizeof(*c));
    c->w = w;
    c->gidx = gidx;
    c->fd = -1;
    c->state = CONN_DOWN;
    c->retry_ms = RETRY_MIN_MS;
    c->ring_cap = ring_capacity(b);
    c->ring = calloc(c->ring_cap, sizeof(*c->ring));
    c->ring_keys = calloc((size_t)c->ring_cap * b->kmax, sizeof(uint64_t));
    c->ev_timer = evtimer_new(w->base, conn_on_timer, c);
    if (!c->ring || !c->ring_keys || !c->ev_timer ||
        !buf_init(&c->in, IN_CHUNK * 2) || !buf_init(&c->out, OUT_INIT))
        return false;
    for (unsigned i = 0; i < c->ring_cap; i++)
        c->ring[i].keys = c->ring_keys + (size_t)i * b->kmax;
    if (b->track_misses) {
        /* a fill is sent before any new request, so at most every key of
         * every request in flight misses at once */
        c->fill_cap = c->ring_cap * b->kmax;
        c->fills = calloc(c->fill_cap, sizeof(*c->fills));
        if (!c->fills)
            return false;
    }
    if (b->trace) {
        c->trace_next = b->trace->first[gidx];
        c->trace_end = b->trace->first[gidx + 1];
        c->trace_finished = c->trace_next == c->trace_end;
    }
    rng_seed(&c->rng, mix64(b->opt.seed) ^ mix64(0x1000 + gidx));

    uint64_t nk = b->ks.nkeys, nc = b->nconns;
    uint64_t owned = gidx < nk ? (nk - gidx + nc - 1) / nc : 0;
    keypick_init(&c->slice, gidx, nc, owned, NULL);
    if (owned == 0)
        c->load_finished = true;
    if (b->opt.verify) {
        const struct zipf *z = NULL;
        if (b->zipf_on && owned > 0) {
            if (zipf_init(&c->zipf, owned, b->opt.zipf) != 0)
                return false;
            z = &c->zipf;
        }
        keypick_init(&c->pick, gidx, nc, owned, z);
    } else {
        keypick_init(&c->pick, 0, 1, nk, b->zipf_on ? &b->zipf_all : NULL);
    }
    if (b->opt.rate > 0)
        c->interval = (uint64_t)(1e9 * (double)nc / b->opt.rate);
    return true;
}

void conn_close(struct conn *c)
{
    if (c->ev_read) {
        event_free(c->ev_read);
        c->ev_read = NULL;
    }
    if (c->ev_write) {
        event_free(c->ev_write);
        c->ev_write = NULL;
    }
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
        ERR_clear_error();
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    if (c->state == CONN_UP)
        ctr_add(c->w->ctr.conns_up, -1);
    c->state = CONN_DOWN;
    c->want_write = false;
    c->count = 0;
    c->head = 0;
    buf_reset(&c->in);
    buf_reset(&c->out);
}

void conn_destroy(struct conn *c)
{
    conn_close(c);
    if (c->ev_timer) {
        event_free(c->ev_timer);
        c->ev_timer = NULL;
    }
    free(c->ring);
    free(c->ring_keys);
    free(c->fills);
    c->fills = NULL;
    c->ring = NULL;
    c->ring_keys = NULL;
    buf_free(&c->in);
    buf_free(&c->out);
}

static void arm_timer_ns(struct conn *c, uint64_t ns)
{
    struct timeval tv = {
        .tv_sec = (time_t)(ns / 1000000000ULL),
        .tv_usec = (suseconds_t)(ns % 1000000000ULL / 1000),
    };
    evtimer_add(c->ev_timer, &tv);
}

/* Drops the connection after an error; reconnects later unless the phase
 * is over. why is a short reason for the log. */
static void conn_fail(struct conn *c, const char *why, int err)
{
    struct worker *w = c->w;
    ctr_add(w->ctr.conn_errors, 1);
    ctr_add(w->ctr.lost, c->count);
    worker_log(w, "conn %u: %s%s%s; %u request(s) in flight lost, reconnecting\n",
               c->gidx, why, err ? ": " : "", err ? strerror(err) : "",
               c->count);
    conn_close(c);
    if (!w->stopping) {
        arm_timer_ns(c, (uint64_t)c->retry_ms * 1000000ULL);
        c->retry_ms = c->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS
                                                     : c->retry_ms * 2;
    }
}

void conn_begin_phase(struct conn *c, uint64_t now)
{
    const struct bench *b = c->w->b;
    if (c->w->phase == PHASE_RUN && b->opt.rate > 0) {
        /* stagger the connections over one interval */
        c->next_sched = now + c->interval * c->gidx / b->nconns;
    }
    if (c->state == CONN_DOWN) {
        if (!evtimer_pending(c->ev_timer, NULL))
            conn_connect(c);
    } else if (c->state == CONN_UP) {
        conn_kick(c, now);
    }
}

static void conn_connect(struct conn *c)
{
    const struct bench *b = c->w->b;
    int fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        conn_fail(c, "socket", errno);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    c->ev_read = event_new(c->w->base, fd, EV_READ | EV_PERSIST, conn_on_read, c);
    c->ev_write = event_new(c->w->base, fd, EV_WRITE | EV_PERSIST, conn_on_write, c);
    if (!c->ev_read || !c->ev_write) {
        conn_fail(c, "out of memory", 0);
        return;
    }
    c->state = CONN_CONNECTING;
    if (connect(fd, (const struct sockaddr *)&b->addr, b->addrlen) != 0 &&
        errno != EINPROGRESS) {
        conn_fail(c, "connect", errno);
        return;
    }
    event_add(c->ev_write, NULL);
    c->want_write = true;
}

/* --tls: one SSL_write (partial writes on) or SSL_read, as send/recv
 * would answer: bytes, 0 at the end of the stream, -1 with errno (EAGAIN
 * when the session waits for the socket). */
static ssize_t tls_io(struct conn *c, char *p, size_t len, bool write)
{
    size_t n = 0;
    ERR_clear_error();
    int ok = write ? SSL_write_ex(c->ssl, p, len, &n)
                   : SSL_read_ex(c->ssl, p, len, &n);
    if (ok == 1)
        return (ssize_t)n;
    int e = SSL_get_error(c->ssl, 0);
    ERR_clear_error();
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    errno = EPROTO;
    return -1;
}

/* --tls: the client handshake on the connected socket, waiting (at most
 * 5 s) with poll: it runs once per connection, before any measurement. */
static bool tls_handshake(struct conn *c)
{
    c->ssl = SSL_new(c->w->b->ssl_ctx);
    if (c->ssl == NULL || !SSL_set_fd(c->ssl, c->fd))
        return false;
    SSL_set_connect_state(c->ssl);
    for (int waited = 0; waited < 5000; waited += 10) {
        ERR_clear_error();
        int r = SSL_do_handshake(c->ssl);
        if (r == 1)
            return true;
        int e = SSL_get_error(c->ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            break;
        struct pollfd p = {.fd = c->fd,
                           .events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
        poll(&p, 1, 10);
    }
    ERR_clear_error();
    return false;
}

/* Sends what is buffered; waits for writability if the socket is full. */
static void conn_flush(struct conn *c, uint64_t now)
{
    struct worker *w = c->w;
    while (buf_unread(&c->out) > 0) {
        ssize_t n = c->ssl ? tls_io(c, c->out.data + c->out.off,
                                    buf_unread(&c->out), true)
                           : send(c->fd, c->out.data + c->out.off,
                                  buf_unread(&c->out), MSG_NOSIGNAL);
        if (n > 0) {
            c->out.off += (size_t)n;
            if (worker_measuring(w, now))
                w->win.bytes_sent += (uint64_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->want_write) {
                event_add(c->ev_write, NULL);
                c->want_write = true;
            }
            return;
        }
        conn_fail(c, "send", n < 0 ? errno : 0);
        return;
    }
    buf_reset(&c->out);
    if (c->want_write) {
        event_del(c->ev_write);
        c->want_write = false;
    }
}

/* The next request of this conn's slice of the trace, into q. */
static void trace_pick(struct conn *c, struct req *q)
{
    const struct bench *b = c->w->b;
    const struct trace_op *o = &b->trace->ops[b->trace->order[c->trace_next++]];
    q->keys[0] = o->key;
    q->vsize = o->vsize;
    if (o->ttl)
        q->ttl = o->ttl;
    q->kind = RK_SET;
    switch ((enum trace_opkind)o->op) {
    case TOP_GET:
    case TOP_GETS:
        q->kind = RK_GET;
        break;
    case TOP_SET:
    case TOP_CAS:       /* no cas unique in a trace: its write, as a set */
    case TOP_NKINDS:
        break;
    case TOP_ADD:
        q->cmd = SC_ADD;
        break;
    case TOP_REPLACE:
        q->cmd = SC_REPLACE;
        break;
    case TOP_APPEND:
        q->cmd = SC_APPEND;
        break;
    case TOP_PREPEND:
        q->cmd = SC_PREPEND;
        break;
    case TOP_DELETE:
        q->kind = RK_DEL;
        break;
    case TOP_INCR:
    case TOP_DECR:
        q->kind = RK_INCR;
        q->decr = o->op == TOP_DECR;
        break;
    }
}

/* Encodes set q: trace values (of the recorded size; counters are
 * digits), verify values (a new version), cache-aside values (version 1
 * of the key) or pool picks. */
static bool encode_set(struct conn *c, struct req *q)
{
    const struct bench *b = c->w->b;
    uint64_t k = q->keys[0];
    uint32_t flags = 0;
    size_t vlen;
    const char *pool = NULL;
    bool counter = false;
    if (b->trace) {
        counter = (b->trace->flags[k] & TK_COUNTER) != 0;
        vlen = counter ? (q->vsize > 20 ? 20 : q->vsize ? q->vsize : 1) : q->vsize;
        if (!counter)
            flags = value_sized_flags(k, vlen);
    } else if (b->opt.verify) {
        q->version = ++b->sent[k];
        vlen = valgen_verify_len(b->vg, k, q->version, &flags);
    } else if (b->opt.cache_aside) {
        vlen = valgen_verify_len(b->vg, k, 1, &flags);
    } else {
        valgen_pick(b->vg, &c->rng, &pool, &vlen);
    }
    if (!b->proto->put_set_begin(&c->out, &b->ks, k, (enum store_cmd)q->cmd,
                                 flags, q->ttl, vlen, q->opaque))
        return false;
    char *dst = c->out.data + c->out.len;
    if (counter)
        memset(dst, '0', vlen);
    else if (b->trace)
        value_sized_make(k, vlen, b->trace_json, dst, &flags);
    else if (pool)
        memcpy(dst, pool, vlen);
    else
        valgen_verify_make(b->vg, k, b->opt.verify ? q->version : 1, dst);
    c->out.len += vlen;
    return b->proto->put_set_end(&c->out);
}

/* Appends one request to the ring and the output buffer: a pending
 * cache-aside fill first, else what the phase and mode want. */
static bool conn_issue(struct conn *c, uint64_t t_sched)
{
    struct worker *w = c->w;
    const struct bench *b = w->b;
    struct req *q = &c->ring[(c->head + c->count) % c->ring_cap];
    q->pos = 0;
    q->hits = 0;
    q->version = 0;
    q->t_sched = t_sched;
    q->opaque = c->next_opaque++;
    q->nkeys = 1;
    q->cmd = SC_SET;
    q->decr = false;
    q->fill = false;
    q->vsize = 0;
    q->ttl = (uint32_t)b->opt.ttl;
    q->req_bytes = 0;
    q->miss_bytes = 0;
    if (c->fill_count > 0) {
        const struct fill *f = &c->fills[c->fill_head];
        q->kind = RK_SET;
        q->fill = true;
        q->keys[0] = f->key;
        q->vsize = f->vsize;
        q->ttl = f->ttl;
    } else if (w->phase == PHASE_LOAD) {
        q->kind = RK_SET;
        q->keys[0] = keypick_nth(&c->slice, c->load_next++);
    } else if (b->trace) {
        trace_pick(c, q);
    } else {
        double r = rng_double(&c->rng);
        if (r < b->opt.get_ratio) {
            q->kind = RK_GET;
            /* --mget 1 is a single get: meta and binary send a batch
             * (quiet gets ended by mn / NOOP) only for n > 1 */
            if (b->opt.mget > 1 &&
                (b->opt.mget_ratio >= 1.0 || rng_double(&c->rng) < b->opt.mget_ratio)) {
                q->kind = RK_MGET;
                q->nkeys = (uint16_t)b->opt.mget;
            }
            for (unsigned i = 0; i < q->nkeys; i++)
                q->keys[i] = keypick_next(&c->pick, &c->rng);
        } else {
            q->kind = b->opt.del_ratio > 0 && rng_double(&c->rng) < b->opt.del_ratio
                          ? RK_DEL : RK_SET;
            q->keys[0] = keypick_next(&c->pick, &c->rng);
        }
    }
    bool ok;
    if (q->kind == RK_SET) {
        ok = encode_set(c, q);
    } else if (q->kind == RK_INCR) {
        ok = b->proto->put_incr(&c->out, &b->ks, q->keys[0], q->decr);
    } else if (q->kind == RK_DEL) {
        ok = b->proto->put_del(&c->out, &b->ks, q->keys[0]);
    } else {
        ok = b->proto->put_get(&c->out, &b->ks, q->keys, q->nkeys, q->opaque);
    }
    if (!ok)
        return false;
    if (q->fill) {
        c->fill_head = (c->fill_head + 1) % c->fill_cap;
        c->fill_count--;
    }
    c->count++;
    return true;
}

/* --trace: issues the slice's requests (fills first) up to --depth, at
 * the recorded pace if asked; the conn is finished when its slice is
 * sent and answered. */
static void trace_kick(struct conn *c, uint64_t now)
{
    struct worker *w = c->w;
    const struct bench *b = w->b;
    const struct trace *t = b->trace;
    unsigned depth = (unsigned)b->opt.depth;
    while (c->count < depth) {
        if (c->fill_count == 0) {
            if (c->trace_next >= c->trace_end)
                break;
            if (b->trace_recorded) {
                uint64_t ts = t->ops[t->order[c->trace_next]].ts;
                uint64_t due = w->phase_start + (ts - t->ts_min) * 1000000000ULL;
                if (due > now) {
                    arm_timer_ns(c, due - now);
                    break;
                }
            }
        }
        if (!conn_issue(c, now))
            break;
    }
    if (!c->trace_finished && c->trace_next >= c->trace_end &&
        c->fill_count == 0 && c->count == 0) {
        c->trace_finished = true;
        worker_conn_loaded(w, now);
    }
}

/* Issues what the phase and the loop model allow, then sends. */
static void conn_kick(struct conn *c, uint64_t now)
{
    struct worker *w = c->w;
    const struct bench *b = w->b;
    if (c->state != CONN_UP)
        return;
    if (!w->stopping) {
        if (w->phase == PHASE_LOAD) {
            unsigned depth = (unsigned)b->opt.load_depth;
            while (c->count < depth && c->load_next < c->slice.n)
                if (!conn_issue(c, now))
                    break;
            if (!c->load_finished && c->load_next >= c->slice.n && c->count == 0) {
                c->load_finished = true;
                worker_conn_loaded(w, now);
            }
        } else if (b->trace) {
            trace_kick(c, now);
        } else if (b->opt.rate > 0) {
            /* fills leave at once, outside the schedule */
            while (c->fill_count > 0 && c->count < c->ring_cap)
                if (!conn_issue(c, now))
                    break;
            while (c->fill_count == 0 && c->next_sched <= now && c->count < c->ring_cap) {
                if (!conn_issue(c, c->next_sched))
                    break;
                c->next_sched += c->interval;
            }
            if (c->next_sched > now)
                arm_timer_ns(c, c->next_sched - now);
        } else {
            unsigned depth = (unsigned)b->opt.depth;
            if (depth - c->count >= b->opt.batch)
                while (c->count < depth)
                    if (!conn_issue(c, now))
                        break;
        }
    }
    if (buf_unread(&c->out) > 0)
        conn_flush(c, now);
}

static void conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    if (c->w->stopping)
        return;
    if (c->state == CONN_DOWN)
        conn_connect(c);
    else if (c->state == CONN_UP)
        conn_kick(c, now_ns());
}

static void conn_on_write(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    if (c->state == CONN_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err) {
            conn_fail(c, "connect", err);
            return;
        }
        if (c->w->b->ssl_ctx && !tls_handshake(c)) {
            conn_fail(c, "TLS handshake", EPROTO);
            return;
        }
        c->state = CONN_UP;
        c->retry_ms = RETRY_MIN_MS;
        if (!c->w->first_up)
            c->w->first_up = now_ns();
        ctr_add(c->w->ctr.conns_up, 1);
        event_del(c->ev_write);
        c->want_write = false;
        event_add(c->ev_read, NULL);
        conn_kick(c, now_ns());
        return;
    }
    conn_flush(c, now_ns());
}

/* Records a finished request and removes it from the ring head. */
static void conn_complete(struct conn *c, struct req *q, uint64_t now)
{
    struct worker *w = c->w;
    bool read = q->kind == RK_GET || q->kind == RK_MGET;
    worker_note_done(w, now);
    if (w->phase == PHASE_RUN) {
        ctr_add(w->ctr.ops, 1);
        if (read) {
            ctr_add(w->ctr.get_keys, q->nkeys);
            ctr_add(w->ctr.get_hits, q->hits);
        }
        if (worker_measuring(w, now)) {
            w->win.ops[q->kind]++;
            hist_record(&w->win.h[q->kind], now > q->t_sched ? now - q->t_sched : 0);
            if (read) {
                w->win.get_keys += q->nkeys;
                w->win.get_hits += q->hits;
                w->win.get_bytes += q->req_bytes;
                w->win.miss_bytes += q->miss_bytes;
            }
        }
    }
    c->head = (c->head + 1) % c->ring_cap;
    c->count--;
}

/* --trace verify: the value must be that of its key and length. */
static void verify_trace_value(struct conn *c, uint64_t key,
                               const struct proto_reply *r)
{
    struct worker *w = c->w;
    const struct bench *b = w->b;
    if (b->trace->flags[key] & TK_MODIFIED) {
        ctr_add(w->ctr.verify_skipped, 1);
        return;
    }
    ctr_add(w->ctr.verify_checked, 1);
    enum vcheck st = r->data_len > b->scratch_len ? VCHK_LENGTH
                   : value_sized_check(key, r->data, r->data_len, b->trace_json,
                                       r->flags, w->scratch);
    if (st != VCHK_OK) {
        ctr_add(w->ctr.verify_wrong, 1);
        worker_log(w, "verify: key %.*s: %s (%zu bytes, flags %u)\n",
                   (int)b->ks.len[key], b->ks.names + b->ks.off[key],
                   vcheck_strerror(st), r->data_len, r->flags);
    }
}

static void verify_value(struct conn *c, uint64_t key,
                         const struct proto_reply *r)
{
    struct worker *w = c->w;
    const struct bench *b = w->b;
    uint32_t v = 0;
    if (b->trace) {
        verify_trace_value(c, key, r);
        return;
    }
    ctr_add(w->ctr.verify_checked, 1);
    enum vcheck st = valgen_verify_check(b->vg, key, r->data, r->data_len,
                                         r->flags, &v, w->scratch);
    if (st != VCHK_OK) {
        ctr_add(w->ctr.verify_wrong, 1);
        worker_log(w, "verify: key %llu: %s (%zu bytes, flags %u)\n",
                   (unsigned long long)key, vcheck_strerror(st), r->data_len,
                   r->flags);
        return;
    }
    uint32_t lo = b->acked[key], hi = b->sent[key];
    if (v < lo || v > hi) {
        ctr_add(w->ctr.verify_stale, 1);
        worker_log(w, "verify: key %llu: version %u, expected %u..%u\n",
                   (unsigned long long)key, v, lo, hi);
    }
}

/* Size of key k's value for the byte miss ratio when it missed: the
 * trace's recorded size, else the size of the value its fill sends. */
static uint64_t miss_size(const struct conn *c, const struct req *q, uint64_t k)
{
    const struct bench *b = c->w->b;
    uint32_t flags;
    if (b->trace)
        return q->vsize;
    return valgen_verify_len(b->vg, k, b->opt.verify ? b->sent[k] + 1 : 1, &flags);
}

/* Cache-aside: the keys of q from q->pos up to (not including) upto
 * missed: count their bytes and queue a fill of each. */
static void note_misses(struct conn *c, struct req *q, unsigned upto)
{
    struct worker *w = c->w;
    for (unsigned i = q->pos; i < upto; i++) {
        uint64_t k = q->keys[i];
        uint64_t sz = miss_size(c, q, k);
        q->req_bytes += sz;
        q->miss_bytes += sz;
        if (c->fill_count == c->fill_cap) {
            ctr_add(w->ctr.fill_dropped, 1);
            continue;
        }
        struct fill *f = &c->fills[(c->fill_head + c->fill_count++) % c->fill_cap];
        f->key = k;
        f->vsize = q->vsize;
        f->ttl = q->ttl;
    }
    q->pos = (uint16_t)upto;
}

/* A VALUE for retrieval q: match it to the next requested key it names
 * (verify, and cache-aside: the keys it skips missed). */
static void on_value(struct conn *c, struct req *q, const struct proto_reply *r)
{
    struct worker *w = c->w;
    const struct bench *b = w->b;
    if (q->hits < q->nkeys)
        q->hits++;
    if (!b->opt.verify && !b->track_misses)
        return;
    uint64_t key;
    if (!keyspace_parse(&b->ks, r->key, r->key_len, &key)) {
        if (!b->opt.verify)
            return;
        ctr_add(w->ctr.verify_key, 1);
        worker_log(w, "verify: VALUE for a key that is not ours: %.*s\n",
                   (int)(r->key_len > 80 ? 80 : r->key_len), r->key);
        return;
    }
    unsigned i = q->pos;
    while (i < q->nkeys && q->keys[i] != key)
        i++;
    if (i == q->nkeys) {
        if (!b->opt.verify)
            return;
        ctr_add(w->ctr.verify_key, 1);
        worker_log(w, "verify: VALUE for key %llu, not requested (or out of order)\n",
                   (unsigned long long)key);
        return;
    }
    if (b->track_misses) {
        note_misses(c, q, i);
        q->req_bytes += b->trace ? q->vsize : r->data_len;
    }
    q->pos = (uint16_t)(i + 1);
    if (b->opt.verify)
        verify_value(c, key, r);
}

static const char *req_kind_name(uint8_t kind)
{
    switch (kind) {
    case RK_GET: return "get";
    case RK_SET: return "set";
    case RK_MGET: return "multi-get";
    case RK_DEL: return "delete";
    case RK_INCR: return "incr";
    }
    return "?";
}

/* Handles one reply unit for the head request. False: the connection
 * was dropped (unexpected reply). */
static bool conn_on_unit(struct conn *c, const struct proto_reply *r, uint64_t now)
{
    struct worker *w = c->w;
    const struct bench *b = w->b;
    struct req *q = &c->ring[c->head];
    if (r->has_opaque && r->opaque != q->opaque) {
        ctr_add(w->ctr.bad_reply, 1);
        char msg[96];
        snprintf(msg, sizeof(msg), "reply with opaque %u, expected %u (%s)",
                 r->opaque, q->opaque, req_kind_name(q->kind));
        conn_fail(c, msg, 0);
        return false;
    }
    switch (r->unit) {
    case PU_STATUS:
        ctr_add(w->ctr.err_status, 1);
        ctr_add(w->ctr.status[bin_status_slot(r->status)], 1);
        worker_log(w, "conn %u: status 0x%04x (%s) in reply to a %s\n", c->gidx,
                   r->status, proto_bin_status_name(r->status),
                   req_kind_name(q->kind));
        if (q->kind == RK_SET && w->phase == PHASE_LOAD)
            ctr_add(w->ctr.load_failed, 1);
        if (r->ends)
            conn_complete(c, q, now);
        return true;
    case PU_ERROR:
        ctr_add(w->ctr.err_error, 1);
        conn_complete(c, q, now);
        return true;
    case PU_CLIENT_ERROR:
        ctr_add(w->ctr.err_client, 1);
        conn_complete(c, q, now);
        return true;
    case PU_SERVER_ERROR:
        ctr_add(w->ctr.err_server, 1);
        if (q->kind == RK_SET && w->phase == PHASE_LOAD)
            ctr_add(w->ctr.load_failed, 1);
        conn_complete(c, q, now);
        return true;
    default:
        break;
    }
    if (q->kind == RK_INCR) {
        /* trace incr / decr: a missing key is a normal outcome */
        if (r->unit == PU_NUMBER || r->unit == PU_NOT_FOUND ||
            r->unit == PU_NOT_STORED) {
            if (r->unit != PU_NUMBER)
                ctr_add(w->ctr.not_applied, 1);
            conn_complete(c, q, now);
            return true;
        }
    } else if (q->kind == RK_DEL) {
        /* a delete of an absent key is a normal outcome here */
        if (r->unit == PU_DELETED || r->unit == PU_NOT_FOUND) {
            conn_complete(c, q, now);
            return true;
        }
    } else if (q->kind == RK_SET) {
        switch (r->unit) {
        case PU_STORED:
            if (b->acked && q->version > b->acked[q->keys[0]])
                b->acked[q->keys[0]] = q->version;
            if (w->phase == PHASE_LOAD)
                ctr_add(w->ctr.loaded, 1);
            if (q->fill)
                ctr_add(w->ctr.fills, 1);
            conn_complete(c, q, now);
            return true;
        case PU_NOT_STORED:
        case PU_EXISTS:
        case PU_NOT_FOUND:
            if (q->cmd != SC_SET) {
                /* trace add / replace / append / prepend */
                ctr_add(w->ctr.not_applied, 1);
                conn_complete(c, q, now);
                return true;
            }
            ctr_add(w->ctr.not_stored, 1);
            if (w->phase == PHASE_LOAD)
                ctr_add(w->ctr.load_failed, 1);
            conn_complete(c, q, now);
            return true;
        default:
            break;
        }
    } else {
        switch (r->unit) {
        case PU_VALUE:
            on_value(c, q, r);
            if (r->ends)
                conn_complete(c, q, now);
            return true;
        case PU_END:
            if (b->track_misses)
                note_misses(c, q, q->nkeys);
            conn_complete(c, q, now);
            return true;
        default:
            break;
        }
    }
    ctr_add(w->ctr.bad_reply, 1);
    char msg[96];
    snprintf(msg, sizeof(msg), "unexpected %s in reply to a %s",
             proto_unit_name(r->unit), req_kind_name(q->kind));
    conn_fail(c, msg, 0);
    return false;
}

/* Up to 40 bytes of p, non-printable bytes as '.', for messages. */
static const char *printable(const char *p, size_t n)
{
    static _Thread_local char out[41];
    size_t i;
    for (i = 0; i < n && i < 40; i++)
        out[i] = p[i] >= ' ' && p[i] < 0x7f ? p[i] : '.';
    out[i] = '\0';
    return out;
}

static void conn_on_read(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    struct worker *w = c->w;
    const struct bench *b = w->b;
    char *dst = buf_reserve(&c->in, IN_CHUNK);
    if (!dst) {
        conn_fail(c, "out of memory", 0);
        return;
    }
    ssize_t n = c->ssl ? tls_io(c, dst, c->in.cap - c->in.len, false)
                       : recv(c->fd, dst, c->in.cap - c->in.len, 0);
    if (n == 0) {
        conn_fail(c, "connection closed by the server", 0);
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            conn_fail(c, "recv", errno);
        return;
    }
    c->in.len += (size_t)n;
    uint64_t now = now_ns();
    if (worker_measuring(w, now))
        w->win.bytes_recv += (uint64_t)n;
    while (buf_unread(&c->in) > 0) {
        if (c->count == 0) {
            ctr_add(w->ctr.bad_reply, 1);
            conn_fail(c, "reply bytes with no request in flight", 0);
            return;
        }
        struct proto_reply r;
        b->proto->parse(c->in.data + c->in.off, buf_unread(&c->in),
                        (enum req_kind)c->ring[c->head].kind, &r);
        if (r.unit == PU_NEED_MORE)
            break;
        if (r.unit == PU_BAD) {
            char msg[128];
            snprintf(msg, sizeof(msg), "unparsable reply \"%s\"",
                     printable(c->in.data + c->in.off, buf_unread(&c->in)));
            ctr_add(w->ctr.bad_reply, 1);
            conn_fail(c, msg, 0);
            return;
        }
        c->in.off += r.consumed;
        if (!conn_on_unit(c, &r, now))
            return;
    }
    if (buf_unread(&c->in) == 0)
        buf_reset(&c->in);
    conn_kick(c, now);
    /* --tls: decrypted bytes the session holds make no socket event */
    if (c->ssl && c->ev_read && SSL_pending(c->ssl) > 0)
        event_active(c->ev_read, EV_READ, 0);
}
