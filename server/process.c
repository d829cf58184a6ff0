/*
 * server/process.c - see process.h. Reply strings are memcached 1.6.18's.
 *
 * Lock order: no lock of its own. `slabs reassign` runs the page move in
 * the calling worker (cache_slabs_reassign: bounded, ~100 ms at worst).
 */
#include "process.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "logger.h"
#include "prefix_stats.h"
#include "proto_num.h"
#include "server.h"
#include "stats.h"
#include "tls.h"
#include "worker.h"

static server_t *srv_of(conn_t *c) { return c->w->srv; }

/* ---- watch fetchers / stats detail: what a lookup found ---------------- */

void process_log_get(conn_t *c, const char *key, size_t nkey,
                     const cache_item_t *it)
{
    server_t *srv = srv_of(c);
    if (!logger_wants(srv->logger, LOGGER_FETCHERS))
        return;
    unsigned cls = 0;
    if (it) {
        bool fetched;
        int64_t la;
        size_t total;
        cache_item_access(c->w->cw, it, &fetched, &la, &cls, &total);
    }
    logger_item_get(srv->logger, key, nkey,
                    it ? LOGGER_GET_FOUND : LOGGER_GET_NOT_FOUND, cls, c->fd,
                    it ? cache_item_nbytes(it) : 0);
}

/* A get/gets/gat/gats key's result: item_get line and prefix counts. */
static void note_get(conn_t *c, const char *key, size_t nkey,
                     const cache_item_t *it)
{
    prefix_stats_get(srv_of(c)->detail, key, nkey, it != NULL);
    process_log_get(c, key, nkey, it);
}

void process_peek(conn_t *c, const char *key, size_t nkey, process_peek_t *p)
{
    p->on = logger_wants(srv_of(c)->logger, LOGGER_FETCHERS);
    p->in_ram = p->on && cache_peek(c->w->cw, key, nkey, &p->m) == CACHE_OK;
}

void process_log_lookup(conn_t *c, const char *key, size_t nkey,
                        const process_peek_t *p, bool found)
{
    if (p == NULL ? !logger_wants(srv_of(c)->logger, LOGGER_FETCHERS)
                  : !p->on)
        return;
    bool known = found && p != NULL && p->in_ram;
    logger_item_get(srv_of(c)->logger, key, nkey,
                    found ? LOGGER_GET_FOUND : LOGGER_GET_NOT_FOUND,
                    known ? p->m.slab_class : 0, c->fd,
                    known ? p->m.nbytes : 0);
}

/* Writes decimal v at p; returns the length. */
static size_t put_u64(char *p, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

/* "VALUE <key> <flags> <bytes>[ <cas>]\r\n" into buf (key <= 250 bytes). */
static size_t value_line(char *buf, const char *key, size_t nkey,
                         uint32_t flags, size_t nbytes, bool with_cas,
                         uint64_t cas)
{
    size_t o = 0;
    memcpy(buf, "VALUE ", 6);
    o = 6;
    memcpy(buf + o, key, nkey);
    o += nkey;
    buf[o++] = ' ';
    o += put_u64(buf + o, flags);
    buf[o++] = ' ';
    o += put_u64(buf + o, nbytes);
    if (with_cas) {
        buf[o++] = ' ';
        o += put_u64(buf + o, cas);
    }
    buf[o++] = '\r';
    buf[o++] = '\n';
    return o;
}

/* Queues "VALUE ...\r\n<data>\r\n" for a hit and takes over its reference. */
static void queue_value(outq_t *q, cache_item_t *it, const char *key,
                        size_t nkey, bool with_cas)
{
    char line[CACHE_KEY_MAX + 80];
    size_t n = value_line(line, key, nkey, cache_item_flags(it),
                          cache_item_nbytes(it), with_cas, cache_item_cas(it));
    outq_text(q, line, n);
    outq_ref(q, cache_item_value(it), cache_item_nbytes(it));
    outq_text(q, "\r\n", 2);
    outq_hold(q, it);
}

/* One key's lookup for get/gets (touch false) or gat/gats. */
static cache_status_e lookup(conn_t *c, bool touch, int64_t exptime,
                             const char *key, size_t nkey, cache_item_t **it,
                             const cache_async_t *async)
{
    return touch ? cache_get_and_touch(c->w->cw, key, nkey, exptime, it, async)
                 : cache_get(c->w->cw, key, nkey, it, async);
}

/*
 * A key over 250 bytes fails the whole get with CLIENT_ERROR, after the keys
 * before it were looked up (and counted), as memcached. Synchronous: an
 * error path.
 */
static void reply_get_badkey(conn_t *c, const text_request_t *req, bool touch)
{
    const char *cur = req->keys, *end = req->keys + req->keys_len;
    const char *key;
    size_t nkey;
    while (text_next_key(&cur, end, &key, &nkey) == TEXT_KEY_OK) {
        cache_item_t *it = NULL;
        if (lookup(c, touch, req->exptime, key, nkey, &it, NULL) == CACHE_OK)
            cache_item_release(c->w->cw, &it);
    }
    outq_text(&c->out, "CLIENT_ERROR bad command line format\r\n", 38);
}

/*
 * get/gets/gat/gats. Every key's lookup is issued at once. Hits that come
 * back at once are queued straight away until the first PENDING; from then
 * on each key's result goes to a slot (slot i = i-th key from the first
 * pending one), and the connection parks: process_resume() queues the
 * slots' VALUE lines in key order, then END.
 */
static void reply_get(conn_t *c, const text_request_t *req)
{
    bool touch = req->cmd == TEXT_CMD_GAT || req->cmd == TEXT_CMD_GATS;
    bool with_cas = req->cmd == TEXT_CMD_GETS || req->cmd == TEXT_CMD_GATS;
    outq_t *q = &c->out;
    const char *end = req->keys + req->keys_len;
    const char *cur = req->keys;
    const char *key;
    size_t nkey, nkeys = 0;
    text_key_status_e ks;
    while ((ks = text_next_key(&cur, end, &key, &nkey)) == TEXT_KEY_OK)
        nkeys++;
    if (ks == TEXT_KEY_ETOOLONG) {
        reply_get_badkey(c, req, touch);
        return;
    }
    outq_mark_t mark;
    outq_mark(q, &mark);
    size_t parked = 0; /* slots used since the first PENDING (0: none) */
    const char *first_parked = NULL; /* its key, for the log at resume */
    bool oom = false;
    size_t i = 0;
    cur = req->keys;
    for (; text_next_key(&cur, end, &key, &nkey) == TEXT_KEY_OK; i++) {
        cache_item_t *it = NULL;
        conn_slot_t *slot = conn_slot(c, parked);
        const cache_async_t *async = conn_arm(c, slot);
        cache_status_e st = lookup(c, touch, req->exptime, key, nkey, &it,
                                   async);
        conn_disarm(c, st);
        if (st == CACHE_PENDING) {
            slot->noted = false; /* logged when it comes back */
            if (parked == 0)
                first_parked = key;
            if (parked == 0 && !conn_reserve_slots(c, nkeys - i)) {
                oom = true; /* no room for the other keys' results */
                parked = 1;
                break;
            }
            parked++;
            continue;
        }
        note_get(c, key, nkey, st == CACHE_OK ? it : NULL);
        if (parked == 0) {
            if (st == CACHE_OK)
                queue_value(q, it, key, nkey, with_cas);
            if (q->oom)
                break; /* -o read_buf_mem_limit: answered below */
            continue;
        }
        slot->status = st;
        slot->item = st == CACHE_OK ? it : NULL;
        slot->done = true;
        slot->noted = true;
        parked++;
    }
    if (parked == 0 && q->oom) {
        /* memcached's reply when the response does not fit its buffers */
        outq_rollback(q, &mark);
        q->oom = false;
        outq_text(q, "SERVER_ERROR out of memory writing get response\r\n",
                  49);
        return;
    }
    if (parked == 0) {
        outq_text(q, "END\r\n", 5);
        return;
    }
    if (oom)
        outq_rollback(q, &mark);
    c->park_oom = oom;
    c->park_nslots = parked;
    c->park_cas = with_cas;
    /* watch / stats detail: the keys from the first parked one, so the
     * results that come back can be logged with their key (the request's
     * bytes do not outlive this call) */
    free(c->park_keys);
    c->park_keys = NULL;
    if (first_parked && (logger_wants(srv_of(c)->logger, LOGGER_FETCHERS) ||
                         prefix_stats_on(srv_of(c)->detail))) {
        c->park_keys_len = (size_t)(end - first_parked);
        c->park_keys = malloc(c->park_keys_len ? c->park_keys_len : 1);
        if (c->park_keys)
            memcpy(c->park_keys, first_parked, c->park_keys_len);
    }
    conn_park(c, CONN_PARK_GET);
}

static cache_store_op_e store_op(text_cmd_e cmd)
{
    switch (cmd) {
    case TEXT_CMD_ADD: return CACHE_STORE_ADD;
    case TEXT_CMD_REPLACE: return CACHE_STORE_REPLACE;
    case TEXT_CMD_APPEND: return CACHE_STORE_APPEND;
    case TEXT_CMD_PREPEND: return CACHE_STORE_PREPEND;
    case TEXT_CMD_CAS: return CACHE_STORE_CAS;
    default: return CACHE_STORE_SET;
    }
}

static void start_store(conn_t *c, const text_request_t *req)
{
    cache_item_t *it = NULL;
    cache_store_op_e op = store_op(req->cmd);
    prefix_stats_set(srv_of(c)->detail, req->key, req->nkey);
    cache_status_e st = cache_item_alloc(c->w->cw, req->key, req->nkey,
                                         req->flags, req->exptime, req->nbytes,
                                         &it);
    if (st == CACHE_OK) {
        conn_start_nread(c, it, req->nbytes, op, req->cas);
        c->noreply_store = req->noreply;
        return;
    }
    switch (st) {
    case CACHE_TOO_LARGE:
        conn_reply(c, "SERVER_ERROR object too large for cache");
        break;
    case CACHE_NO_MEMORY:
        conn_reply(c, "SERVER_ERROR out of memory storing object");
        break;
    default:
        conn_reply(c, "CLIENT_ERROR bad command line format");
        break;
    }
    if ((st == CACHE_TOO_LARGE || st == CACHE_NO_MEMORY) &&
        logger_wants(srv_of(c)->logger, LOGGER_MUTATIONS))
        logger_item_store(srv_of(c)->logger, req->key, req->nkey, st, op, 0, 0,
                          c->fd, 0);
    conn_start_swallow(c, req->nbytes + 2);
    /* memcached: a failed set must not leave the old value visible (and
     * counts no delete for it); the next command waits for it */
    if (op == CACHE_STORE_SET &&
        (st == CACHE_TOO_LARGE || st == CACHE_NO_MEMORY)) {
        const cache_async_t *async = conn_arm(c, conn_slot(c, 0));
        st = cache_unlink(c->w->cw, req->key, req->nkey, async);
        conn_disarm(c, st);
        if (st == CACHE_PENDING)
            conn_park(c, CONN_PARK_SILENT);
    }
}

static void reply_store(conn_t *c, cache_status_e st)
{
    switch (st) {
    case CACHE_OK: conn_reply(c, "STORED"); break;
    case CACHE_NOT_STORED: conn_reply(c, "NOT_STORED"); break;
    case CACHE_EXISTS: conn_reply(c, "EXISTS"); break;
    case CACHE_NOT_FOUND: conn_reply(c, "NOT_FOUND"); break;
    case CACHE_TOO_LARGE:
        conn_reply(c, "SERVER_ERROR object too large for cache");
        break;
    case CACHE_NO_MEMORY:
        conn_reply(c, "SERVER_ERROR out of memory storing object");
        break;
    default: conn_reply(c, "NOT_STORED"); break;
    }
}

void process_log_store(conn_t *c, const process_peek_t *pk,
                       cache_status_e st)
{
    server_t *srv = srv_of(c);
    const char *key = cache_item_key(c->item);
    size_t nkey = cache_item_nkey(c->item);
    bool in_ram = pk != NULL && pk->in_ram;
    bool found;
    switch (c->op) {
    case CACHE_STORE_ADD: found = st == CACHE_NOT_STORED || in_ram; break;
    case CACHE_STORE_REPLACE:
    case CACHE_STORE_APPEND:
    case CACHE_STORE_PREPEND: found = st != CACHE_NOT_STORED; break;
    case CACHE_STORE_CAS:
    case CACHE_STORE_CAS_STALE: found = st != CACHE_NOT_FOUND; break;
    default: found = in_ram; break;
    }
    process_log_lookup(c, key, nkey, pk, found);
    if (!logger_wants(srv->logger, LOGGER_MUTATIONS))
        return;
    bool fetched;
    int64_t la, exptime = cache_item_exptime(c->item);
    unsigned cls = 0;
    size_t total, nbytes = cache_item_nbytes(c->item);
    cache_item_access(c->w->cw, c->item, &fetched, &la, &cls, &total);
    cache_item_meta_t m;
    if (st == CACHE_OK &&
        (c->op == CACHE_STORE_APPEND || c->op == CACHE_STORE_PREPEND) &&
        cache_peek(c->w->cw, key, nkey, &m) == CACHE_OK) {
        nbytes = m.nbytes; /* the joined value, with the old expiry */
        exptime = m.exptime;
    }
    int64_t now = cache_now(srv->cache);
    logger_item_store(srv->logger, key, nkey, st, c->op,
                      exptime > now ? exptime - now : 0, cls, c->fd, nbytes);
}

void process_nread_done(conn_t *c)
{
    STATS_ADD(&c->w->stats, cmd_set, 1);
    c->state = CONN_PARSE;
    atomic_store(&c->pub_state, 0);
    c->noreply = c->noreply_store;
    if (c->crlf[0] != '\r' || c->crlf[1] != '\n') {
        conn_reply(c, "CLIENT_ERROR bad data chunk");
    } else {
        process_peek_t pk;
        process_peek(c, cache_item_key(c->item), cache_item_nkey(c->item), &pk);
        const cache_async_t *async = conn_arm(c, conn_slot(c, 0));
        cache_status_e st = cache_store(c->w->cw, c->item, c->op, c->cas_in,
                                        NULL, async);
        conn_disarm(c, st);
        if (st == CACHE_PENDING) {
            conn_park(c, CONN_PARK_STORE); /* the tier holds its own ref */
        } else {
            process_log_store(c, &pk, st);
            reply_store(c, st);
        }
    }
    c->noreply = false;
    cache_item_release(c->w->cw, &c->item);
}

static void arith_reply(conn_t *c, cache_status_e st, uint64_t v)
{
    char buf[32];
    switch (st) {
    case CACHE_OK:
        snprintf(buf, sizeof(buf), "%" PRIu64, v);
        conn_reply(c, buf);
        break;
    case CACHE_NOT_FOUND: conn_reply(c, "NOT_FOUND"); break;
    case CACHE_NON_NUMERIC:
        conn_reply(c, "CLIENT_ERROR cannot increment or decrement "
                      "non-numeric value");
        break;
    case CACHE_NO_MEMORY:
        conn_reply(c, "SERVER_ERROR out of memory");
        break;
    default: conn_reply(c, "CLIENT_ERROR bad command line format"); break;
    }
}

static void reply_arith(conn_t *c, const text_request_t *req)
{
    uint64_t v = 0;
    process_peek_t pk;
    process_peek(c, req->key, req->nkey, &pk);
    const cache_async_t *async = conn_arm(c, conn_slot(c, 0));
    cache_status_e st = cache_arith(c->w->cw, req->key, req->nkey,
                                    req->cmd == TEXT_CMD_INCR, req->delta, &v,
                                    NULL, async);
    conn_disarm(c, st);
    if (st != CACHE_PENDING)
        process_log_lookup(c, req->key, req->nkey, &pk, st != CACHE_NOT_FOUND);
    if (st == CACHE_PENDING)
        conn_park(c, CONN_PARK_ARITH);
    else
        arith_reply(c, st, v);
}

static void reply_touch(conn_t *c, const text_request_t *req)
{
    process_peek_t pk;
    process_peek(c, req->key, req->nkey, &pk);
    const cache_async_t *async = conn_arm(c, conn_slot(c, 0));
    cache_status_e st =
        cache_touch(c->w->cw, req->key, req->nkey, req->exptime, async);
    conn_disarm(c, st);
    if (st != CACHE_PENDING)
        process_log_lookup(c, req->key, req->nkey, &pk, st == CACHE_OK);
    if (st == CACHE_PENDING)
        conn_park(c, CONN_PARK_TOUCH);
    else
        conn_reply(c, st == CACHE_OK ? "TOUCHED" : "NOT_FOUND");
}

static void reply_delete(conn_t *c, const text_request_t *req)
{
    process_peek_t pk;
    prefix_stats_delete(srv_of(c)->detail, req->key, req->nkey);
    process_peek(c, req->key, req->nkey, &pk);
    const cache_async_t *async = conn_arm(c, conn_slot(c, 0));
    cache_status_e st = cache_delete(c->w->cw, req->key, req->nkey, async);
    conn_disarm(c, st);
    if (st != CACHE_PENDING)
        process_log_lookup(c, req->key, req->nkey, &pk, st == CACHE_OK);
    if (st == CACHE_PENDING)
        conn_park(c, CONN_PARK_DELETE);
    else
        conn_reply(c, st == CACHE_OK ? "DELETED" : "NOT_FOUND");
}

static void metadump_resume(conn_t *c);

void process_resume(conn_t *c, conn_park_e kind)
{
    conn_slot_t *s0 = conn_slot(c, 0);
    c->noreply = c->park_noreply;
    switch (kind) {
    case CONN_PARK_GET: {
        outq_mark_t mark;
        outq_mark(&c->out, &mark);
        const char *kcur = c->park_keys;
        const char *kend = c->park_keys ? c->park_keys + c->park_keys_len : NULL;
        for (size_t i = 0; i < c->park_nslots; i++) {
            conn_slot_t *s = conn_slot(c, i);
            const char *key;
            size_t nkey;
            if (kcur && text_next_key(&kcur, kend, &key, &nkey) == TEXT_KEY_OK &&
                !s->noted)
                note_get(c, key, nkey, s->status == CACHE_OK ? s->item : NULL);
            if (s->status == CACHE_OK && s->item && !c->park_oom) {
                cache_item_t *it = s->item;
                s->item = NULL;
                queue_value(&c->out, it, cache_item_key(it),
                            cache_item_nkey(it), c->park_cas);
                if (c->out.oom) { /* -o read_buf_mem_limit */
                    outq_rollback(&c->out, &mark);
                    c->out.oom = false;
                    c->park_oom = true;
                }
            }
            cache_item_release(c->w->cw, &s->item);
        }
        if (c->park_oom)
            outq_text(&c->out,
                      "SERVER_ERROR out of memory writing get response\r\n",
                      49);
        else
            outq_text(&c->out, "END\r\n", 5);
        c->park_nslots = 0;
        c->park_oom = false;
        free(c->park_keys);
        c->park_keys = NULL;
        break;
    }
    case CONN_PARK_TOUCH:
        conn_reply(c, s0->status == CACHE_OK ? "TOUCHED" : "NOT_FOUND");
        break;
    case CONN_PARK_DELETE:
        conn_reply(c, s0->status == CACHE_OK ? "DELETED" : "NOT_FOUND");
        break;
    case CONN_PARK_ARITH:
        arith_reply(c, s0->status, s0->value);
        break;
    case CONN_PARK_STORE:
        reply_store(c, s0->status);
        break;
    case CONN_PARK_DUMP:
        metadump_resume(c);
        break;
    case CONN_PARK_SILENT:
    case CONN_PARK_NONE:
    default:
        break;
    }
    cache_item_release(c->w->cw, &s0->item);
    c->noreply = false;
}

/* ---- stats cachedump / lru_crawler metadump ---------------------------- */

static bool dump_visit(void *ctx, const cache_item_meta_t *m)
{
    outq_t *q = ctx;
    outq_printf(q, "ITEM %.*s [%zu b; %lld s]\r\n", (int)m->nkey, m->key,
                m->nbytes, (long long)m->exptime);
    return true;
}

typedef struct meta_ctx {
    outq_t *q;
    bool classes[64];
    bool all;
} meta_ctx_t;

/* memcached's metadump line for one item into out (room for
 * META_LINE_MAX); returns its length. */
#define META_LINE_MAX (CACHE_KEY_MAX * 3 + 160)
static size_t meta_line(char *out, const cache_item_meta_t *m)
{
    char key[CACHE_KEY_MAX * 3 + 1];
    size_t o = 0;
    for (size_t i = 0; i < m->nkey && o + 4 < sizeof(key); i++) {
        unsigned char ch = (unsigned char)m->key[i];
        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            key[o++] = (char)ch;
        } else {
            snprintf(key + o, 4, "%%%02X", ch);
            o += 3;
        }
    }
    key[o] = '\0';
    int n = snprintf(out, META_LINE_MAX,
                     "key=%s exp=%lld la=%lld cas=%" PRIu64
                     " fetch=%s cls=%u size=%zu\n",
                     key, m->exptime ? (long long)m->exptime : -1LL,
                     (long long)m->last_access, m->cas, m->fetched ? "yes" : "no",
                     m->slab_class, m->total_size);
    if (n < 0)
        return 0;
    return (size_t)n < META_LINE_MAX ? (size_t)n : META_LINE_MAX - 1;
}

static bool meta_wanted(const bool *classes, bool all, unsigned cls)
{
    return all || (cls < 64 && classes[cls]);
}

static bool meta_visit(void *ctx, const cache_item_meta_t *m)
{
    meta_ctx_t *mc = ctx;
    if (!meta_wanted(mc->classes, mc->all, m->slab_class))
        return true;
    char line[META_LINE_MAX];
    size_t n = meta_line(line, m);
    outq_text(mc->q, line, n);
    return true;
}

/*
 * The flash part of a metadump: the walk thread appends lines to this
 * private buffer (the connection's output queue belongs to the worker);
 * process_resume() copies it out on the worker, then writes END. Bounded:
 * past METADUMP_FLASH_MAX bytes the walk stops and the reply ends with
 * "SERVER_ERROR metadump truncated ..." before END (memcached streams its
 * dump and has no such bound).
 */
#define METADUMP_FLASH_MAX ((size_t)64 << 20)

typedef struct meta_dump {
    bool classes[64];
    bool all;
    bool truncated;
    bool nomem;
    char *buf;
    size_t len, cap;
} meta_dump_t;

static void meta_dump_free(void *p)
{
    meta_dump_t *d = p;
    if (d)
        free(d->buf);
    free(d);
}

/* Runs on the walk thread: touches only *d. */
static bool meta_dump_visit(void *ctx, const cache_item_meta_t *m)
{
    meta_dump_t *d = ctx;
    if (!meta_wanted(d->classes, d->all, m->slab_class))
        return true;
    char line[META_LINE_MAX];
    size_t n = meta_line(line, m);
    if (d->len + n > METADUMP_FLASH_MAX) {
        d->truncated = true;
        return false;
    }
    if (d->len + n > d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 65536;
        while (cap < d->len + n)
            cap *= 2;
        char *nb = realloc(d->buf, cap);
        if (!nb) {
            d->nomem = true;
            return false;
        }
        d->buf = nb;
        d->cap = cap;
    }
    memcpy(d->buf + d->len, line, n);
    d->len += n;
    return true;
}

/* On the worker, after the flash walk ended: the lines, then END. */
static void metadump_resume(conn_t *c)
{
    meta_dump_t *d = c->dump;
    c->dump = NULL;
    c->dump_free = NULL;
    if (d && d->len)
        outq_text(&c->out, d->buf, d->len);
    if (d && d->truncated)
        conn_reply(c, "SERVER_ERROR metadump truncated: flash listing over 64 MiB");
    else if (d && d->nomem)
        conn_reply(c, "SERVER_ERROR out of memory during metadump");
    outq_text(&c->out, "END\r\n", 5);
    meta_dump_free(d);
}

size_t process_tokens(const char *args, size_t len, char *buf, size_t bufsz,
                      char **tok, size_t max)
{
    if (len >= bufsz)
        len = bufsz - 1;
    memcpy(buf, args, len);
    buf[len] = '\0';
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, " ", &save); t && n < max;
         t = strtok_r(NULL, " ", &save))
        tok[n++] = t;
    return n;
}

static bool parse_u32(const char *s, unsigned *out)
{
    char *end;
    if (!isdigit((unsigned char)s[0]))
        return false;
    unsigned long v = strtoul(s, &end, 10);
    if (*end != '\0' || v > 0xffffffffUL)
        return false;
    *out = (unsigned)v;
    return true;
}

static void reply_stats(conn_t *c, const text_request_t *req)
{
    char buf[256];
    char *tok[4];
    size_t n = process_tokens(req->args, req->args_len, buf, sizeof(buf), tok, 4);
    server_t *srv = srv_of(c);
    if (n >= 1 && strcmp(tok[0], "cachedump") == 0) {
        unsigned id, limit;
        if (srv->settings->no_dump) {
            conn_reply(c, "CLIENT_ERROR stats cachedump not allowed");
        } else if (n < 3) {
            conn_reply(c, "CLIENT_ERROR bad command line");
        } else if (!parse_u32(tok[1], &id) || !parse_u32(tok[2], &limit)) {
            conn_reply(c, "CLIENT_ERROR bad command line format");
        } else if (id >= 64) {
            conn_reply(c, "CLIENT_ERROR Illegal slab id");
        } else {
            cache_dump_class(srv->cache, id, limit, dump_visit, &c->out);
            outq_text(&c->out, "END\r\n", 5);
        }
        return;
    }
    if (n >= 1 && strcmp(tok[0], "detail") == 0) {
        if (n >= 2 && (strcmp(tok[1], "on") == 0 || strcmp(tok[1], "off") == 0)) {
            if (srv->detail)
                prefix_stats_enable(srv->detail, tok[1][1] == 'n');
            conn_reply(c, "OK");
        } else if (n >= 2 && strcmp(tok[1], "dump") == 0) {
            prefix_stats_dump(srv->detail, &c->out);
            conn_reply(c, "END");
        } else {
            conn_reply(c, "CLIENT_ERROR usage: stats detail on|off|dump");
        }
        return;
    }
    if (stats_reply(srv, req->args, req->args_len, &c->out) != STATS_OK)
        conn_reply(c, "ERROR");
}

/* lru_crawler sleep|tocrawl N: memcached's checks; the value is
 * recorded for `stats settings`. */
static void reply_crawler_number(conn_t *c, const char *what, const char *v)
{
    server_t *srv = srv_of(c);
    unsigned n;
    if (!parse_u32(v, &n) || n > INT_MAX) {
        conn_reply(c, "CLIENT_ERROR bad command line format");
        return;
    }
    if (what[0] == 's') {
        if (n > 1000000) {
            conn_reply(c, "CLIENT_ERROR sleep must be one second or less");
            return;
        }
        atomic_store(&srv->crawler_sleep, (int)n);
    } else {
        atomic_store(&srv->crawler_tocrawl, (int)n);
    }
    conn_reply(c, "OK");
}

/* lru_crawler crawl|metadump CLASSES: "all", "hash" (metadump) or class
 * ids 1..63 separated by commas into classes[]; false: memcached's
 * BADCLASS. */
static bool crawler_classes(char *arg, bool metadump, bool classes[64],
                            bool *all)
{
    *all = strcmp(arg, "all") == 0 || (metadump && strcmp(arg, "hash") == 0);
    if (*all)
        return true;
    char *save = NULL;
    for (char *t = strtok_r(arg, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        unsigned id;
        if (!parse_u32(t, &id) || id == 0 || id >= 64)
            return false;
        classes[id] = true;
    }
    return true;
}

/* lru_crawler, as memcached 1.6.18: crawl and metadump need the crawler
 * enabled (-o lru_crawler, `lru_crawler enable`); a bad class is BADCLASS;
 * enable/disable/sleep/tocrawl change the run-time settings. A metadump
 * must not follow replies still queued from earlier commands of the same
 * batch ("ERROR cannot pipeline other commands before metadump"; memcached
 * flushes after get and mn, so it accepts those two before one: not here).
 * Commands after a metadump run once its END is queued (memcached leaves
 * them until the client sends more). */
static void reply_lru_crawler(conn_t *c, const text_request_t *req)
{
    char buf[512];
    char *tok[4];
    size_t n = process_tokens(req->args, req->args_len, buf, sizeof(buf), tok, 4);
    server_t *srv = srv_of(c);
    if (n == 0) {
        conn_reply(c, "ERROR");
        return;
    }
    if (strcmp(tok[0], "metadump") == 0 || strcmp(tok[0], "crawl") == 0) {
        bool dump = tok[0][0] == 'm';
        if (n != 2) {
            conn_reply(c, "ERROR");
            return;
        }
        if (!atomic_load(&srv->crawler_enabled)) {
            conn_reply(c, "CLIENT_ERROR lru crawler disabled");
            return;
        }
        if (dump && srv->settings->no_dump) {
            conn_reply(c, "ERROR metadump not allowed");
            return;
        }
        if (dump && c->out.head < c->out.niov) {
            conn_reply(c, "ERROR cannot pipeline other commands before "
                          "metadump");
            return;
        }
        meta_ctx_t mc;
        memset(&mc, 0, sizeof(mc));
        if (!crawler_classes(tok[1], dump, mc.classes, &mc.all)) {
            conn_reply(c, "BADCLASS invalid class id");
            return;
        }
        if (!dump) {
            conn_reply(c, "OK"); /* the RAM tier's crawler runs by itself */
            return;
        }
        mc.q = &c->out;
        /* the RAM part here, the flash part on the walk thread (or
         * BUSY before any line if a flash walk runs already) */
        meta_dump_t *d = calloc(1, sizeof(*d));
        if (!d) {
            conn_reply(c, "SERVER_ERROR out of memory");
            return;
        }
        memcpy(d->classes, mc.classes, sizeof(d->classes));
        d->all = mc.all;
        const cache_async_t *async = conn_arm(c, conn_slot(c, 0));
        cache_status_e st =
            cache_metadump(c->w->cw, meta_visit, &mc, meta_dump_visit, d, async);
        conn_disarm(c, st);
        if (st == CACHE_EXISTS) {
            meta_dump_free(d);
            conn_reply(c, "BUSY currently processing crawler request");
            return;
        }
        if (st == CACHE_NO_MEMORY)
            d->nomem = true; /* the RAM part was listed: say so, then END */
        c->dump = d;
        c->dump_free = meta_dump_free;
        if (st == CACHE_PENDING)
            conn_park(c, CONN_PARK_DUMP);
        else
            metadump_resume(c);
        return;
    }
    if (strcmp(tok[0], "enable") == 0) {
        /* memcached's reply when its crawler thread runs already */
        conn_reply(c, atomic_exchange(&srv->crawler_enabled, true)
                          ? "ERROR failed to start lru crawler thread"
                          : "OK");
        return;
    }
    if (strcmp(tok[0], "disable") == 0) {
        atomic_store(&srv->crawler_enabled, false);
        conn_reply(c, "OK");
        return;
    }
    if (strcmp(tok[0], "sleep") == 0 || strcmp(tok[0], "tocrawl") == 0) {
        if (n != 2) {
            conn_reply(c, "ERROR");
            return;
        }
        reply_crawler_number(c, tok[0], tok[1]);
        return;
    }
    conn_reply(c, "ERROR");
}

void process_text_error(conn_t *c, const text_request_t *req)
{
    server_t *srv = srv_of(c);
    /* memcached's flush_all counts and checks -F before parsing its delay */
    if (req->cmd == TEXT_CMD_FLUSH_ALL && req->error &&
        strcmp(req->error, "ERROR") != 0) {
        STATS_ADD(&c->w->stats, cmd_flush, 1);
        if (srv->settings->no_flush) {
            conn_reply(c, "CLIENT_ERROR flush_all not allowed");
            return;
        }
    }
    if (req->error)
        conn_reply(c, req->error);
}

void process_text(conn_t *c, const text_request_t *req)
{
    server_t *srv = srv_of(c);
    cache_worker_t *cw = c->w->cw;
    if (atomic_load(&srv->verbose) > 1)
        fprintf(stderr, "<%d %s\n", c->fd, text_cmd_name(req->cmd));
    switch (req->cmd) {
    case TEXT_CMD_GET:
    case TEXT_CMD_GETS:
    case TEXT_CMD_GAT:
    case TEXT_CMD_GATS:
        reply_get(c, req);
        break;
    case TEXT_CMD_SET:
    case TEXT_CMD_ADD:
    case TEXT_CMD_REPLACE:
    case TEXT_CMD_APPEND:
    case TEXT_CMD_PREPEND:
    case TEXT_CMD_CAS:
        start_store(c, req);
        break;
    case TEXT_CMD_INCR:
    case TEXT_CMD_DECR:
        reply_arith(c, req);
        break;
    case TEXT_CMD_TOUCH:
        reply_touch(c, req);
        break;
    case TEXT_CMD_DELETE:
        reply_delete(c, req);
        break;
    case TEXT_CMD_FLUSH_ALL:
        /* memcached counts cmd_flush before checking -F */
        STATS_ADD(&c->w->stats, cmd_flush, 1);
        if (srv->settings->no_flush) {
            conn_reply(c, "CLIENT_ERROR flush_all not allowed");
            break;
        }
        cache_flush_all(cw, req->delay);
        conn_reply(c, "OK");
        break;
    case TEXT_CMD_VERSION:
        conn_reply(c, "VERSION " TIERCACHE_VERSION);
        break;
    case TEXT_CMD_VERBOSITY:
        atomic_store(&srv->verbose, (int)req->verbosity);
        conn_reply(c, "OK");
        break;
    case TEXT_CMD_QUIT:
        c->close_after_write = true;
        break;
    case TEXT_CMD_SHUTDOWN: {
        size_t n = req->args_len;
        while (n > 0 && req->args[n - 1] == ' ')
            n--;
        if (!srv->settings->enable_shutdown) {
            conn_reply(c, "ERROR: shutdown not enabled");
        } else if (n == 0 || (n == 8 && memcmp(req->args, "graceful", 8) == 0)) {
            /* graceful: memcached's SIGUSR1 path; both stop cleanly, exit 0 */
            c->close_after_write = true;
            server_request_shutdown(srv, n != 0);
        } else {
            conn_reply(c, "CLIENT_ERROR invalid shutdown mode");
        }
        break;
    }
    case TEXT_CMD_STATS:
        reply_stats(c, req);
        break;
    case TEXT_CMD_LRU_CRAWLER:
        reply_lru_crawler(c, req);
        break;
    case TEXT_CMD_ADMIN:
        admin_reply(c, req);
        break;
    case TEXT_CMD_NONE:
    default:
        conn_reply(c, "ERROR");
        break;
    }
}
