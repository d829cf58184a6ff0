/*
 * server/process_meta.c - memcached's meta commands (mn mg ms md ma me):
 * a line parsed by proto_meta.h -> cache_* calls -> reply lines written by
 * proto_meta.h's encoders, as memcached 1.6.18 answers.
 *
 * The line is first copied into c->x.line and parsed from there, so a
 * request outlives rbuf: after an ms value read, or when a cache call
 * parks the connection (CONN_PARK_META: process_meta_resume() parses the
 * copy again and goes on at c->x.step with the result in slot 0). The main
 * call of each command (mg lookup, ms store, md delete, ma arith) is
 * asynchronous; rare auxiliary steps (N vivify store, I stale copies, ma T,
 * cas lookups that miss RAM) are synchronous calls (async NULL), which may
 * wait for a flash read.
 *
 * Item marks. memcached keeps three meta bits in each item: stale (md I /
 * ms I), win token sent (mg N/R/stale), key stored base64 (ms b). Our item
 * header has no room for them, so they live in a small direct-mapped table
 * keyed by (item address, cas): an item replaced, deleted or changed gets a
 * new cas (or address) and so loses its marks, as memcached's new item
 * would not carry them. A collision in the table, or a flash round trip of
 * the item, forgets a mark (a stale item then reads as fresh, a win token
 * can be handed out twice). The table is process-wide (the marks must be
 * seen by every worker) and guarded by one mutex; it is only touched by
 * meta commands that use these features.
 */
#include "process.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_meta.h"
#include "server.h"
#include "stats.h"
#include "worker.h"

#define BIT(ch) META_FLAG_BIT(ch)

/* ---- item marks (see the top of this file) ----------------------------- */

#define MARK_STALE 0x01u
#define MARK_TOKEN 0x02u
#define MARK_BINKEY 0x04u
#define MARKS_CAP 4096u

typedef struct mark {
    const void *it;
    uint64_t cas;
    uint8_t bits;
} mark_t;

static pthread_mutex_t marks_lock = PTHREAD_MUTEX_INITIALIZER;
static mark_t marks[MARKS_CAP];

static size_t mark_slot(const void *it, uint64_t cas)
{
    uint64_t h = (uint64_t)(uintptr_t)it * 0x9E3779B97F4A7C15ull ^ cas;
    h ^= h >> 29;
    return (size_t)(h % MARKS_CAP);
}

static unsigned mark_get(const cache_item_t *it, uint64_t cas)
{
    size_t i = mark_slot(it, cas);
    unsigned bits = 0;
    pthread_mutex_lock(&marks_lock);
    if (marks[i].it == it && marks[i].cas == cas)
        bits = marks[i].bits;
    pthread_mutex_unlock(&marks_lock);
    return bits;
}

/* Sets the marks of (it, cas) to `bits` (0 clears). */
static void mark_put(const cache_item_t *it, uint64_t cas, unsigned bits)
{
    size_t i = mark_slot(it, cas);
    pthread_mutex_lock(&marks_lock);
    if (bits) {
        marks[i].it = it;
        marks[i].cas = cas;
        marks[i].bits = (uint8_t)bits;
    } else if (marks[i].it == it && marks[i].cas == cas) {
        marks[i].it = NULL;
    }
    pthread_mutex_unlock(&marks_lock);
}

/* ---- helpers ------------------------------------------------------------ */

enum {
    MSTEP_MG = 1,   /* mg lookup */
    MSTEP_MS,       /* ms store */
    MSTEP_MD,       /* md delete */
    MSTEP_MA,       /* ma arith */
    MSTEP_SILENT,   /* unlink after a refused ms */
};

static server_t *srv_of(conn_t *c) { return c->w->srv; }

static void put_line(conn_t *c, const char *s)
{
    outq_text(&c->out, s, strlen(s));
    outq_text(&c->out, "\r\n", 2);
}

static void reply(conn_t *c, const meta_request_t *r, meta_rc_e rc,
                  const meta_item_view_t *v, bool created)
{
    if (meta_reply_suppressed(r, rc, created))
        return;
    char buf[META_REPLY_MAX];
    size_t n = meta_encode_reply(buf, sizeof(buf), r, rc, v);
    if (n > 0)
        outq_text(&c->out, buf, n);
}

static bool reparse(conn_t *c, meta_request_t *r)
{
    return meta_parse(c->x.line, c->x.line_len, c->x.keybuf, r) ==
           META_PARSE_OK;
}

static void park(conn_t *c, int step)
{
    c->x.step = step;
    conn_park(c, CONN_PARK_META);
}

/* Seconds left for an absolute expiry (0 = never: -1). */
static int64_t ttl_left(conn_t *c, int64_t exptime)
{
    if (exptime == 0)
        return -1;
    return exptime - cache_now(srv_of(c)->cache);
}

/* memcached's realtime() for a comparison with an item's exptime. */
static int64_t abs_time(conn_t *c, int32_t t)
{
    if (t == 0)
        return 0;
    if (t < 0)
        return 1;
    if (t > 2592000)
        return t;
    return cache_now(srv_of(c)->cache) + t;
}

/*
 * The current cas of key (synchronous; RAM first without counting, then,
 * with a flash tier, a real lookup). CACHE_OK or CACHE_NOT_FOUND.
 */
static cache_status_e current_cas(conn_t *c, const char *key, size_t nkey,
                                  uint64_t *cas)
{
    cache_item_meta_t m;
    cache_status_e st = cache_peek(c->w->cw, key, nkey, &m);
    if (st == CACHE_OK) {
        *cas = m.cas;
        return st;
    }
    if (srv_of(c)->settings->flash_path == NULL)
        return CACHE_NOT_FOUND;
    cache_item_t *it = NULL;
    st = cache_get(c->w->cw, key, nkey, &it, NULL);
    if (st == CACHE_OK)
        *cas = cache_item_cas(it);
    cache_item_release(c->w->cw, &it);
    return st == CACHE_OK ? CACHE_OK : CACHE_NOT_FOUND;
}

/*
 * Replaces the live item `old` by a copy with exptime `exptime` (raw
 * protocol value) and a new cas, guarded by old's cas; marks the copy with
 * `bits`. Synchronous. Returns the store status, *cas_out the new cas.
 */
static cache_status_e copy_marked(conn_t *c, cache_item_t *old,
                                  const char *value, size_t nbytes,
                                  int64_t exptime, unsigned bits,
                                  uint64_t guard_cas, uint64_t *cas_out)
{
    cache_item_t *nw = NULL;
    cache_status_e st = cache_item_alloc(
        c->w->cw, cache_item_key(old), cache_item_nkey(old),
        cache_item_flags(old), exptime, nbytes, &nw);
    if (st != CACHE_OK)
        return st;
    memcpy(cache_item_data(nw), value, nbytes);
    st = cache_store(c->w->cw, nw, CACHE_STORE_CAS, guard_cas, cas_out,
                     NULL);
    if (st == CACHE_OK)
        mark_put(nw, *cas_out, bits);
    cache_item_release(c->w->cw, &nw);
    return st;
}

/* ---- mg ----------------------------------------------------------------- */

static void mg_reply(conn_t *c, const meta_request_t *r, cache_item_t *it)
{
    if (it == NULL) {
        reply(c, r, META_RC_EN, NULL, false);
        return;
    }
    uint64_t cas = cache_item_cas(it);
    unsigned bits = mark_get(it, cas);
    int64_t exptime = cache_item_exptime(it);
    bool won = c->x.created && (r->flags & BIT('N'));
    bool token_sent = (bits & MARK_TOKEN) != 0;
    bool stale = (bits & MARK_STALE) != 0;
    if ((r->flags & BIT('R')) && !token_sent && !c->x.created &&
        exptime != 0 && exptime < abs_time(c, r->recache_ttl))
        won = true;
    if (stale && !token_sent)
        won = true;
    if (won)
        mark_put(it, cas, bits | MARK_TOKEN);
    meta_item_view_t v = {
        .key = cache_item_key(it),
        .nkey = cache_item_nkey(it),
        .key_binary = (bits & MARK_BINKEY) != 0,
        .value_len = (uint32_t)cache_item_nbytes(it),
        .ttl = ttl_left(c, exptime),
        .cas = cas,
        .client_flags = cache_item_flags(it),
        .last_access = c->x.last_access,
        .fetched = c->x.fetched,
        .token_sent = token_sent,
        .stale = stale,
        .won = won,
    };
    bool value = (r->flags & BIT('v')) != 0;
    meta_rc_e rc = value ? META_RC_VA : META_RC_HD;
    if (meta_reply_suppressed(r, rc, c->x.created)) {
        cache_item_release(c->w->cw, &it);
        return;
    }
    char buf[META_REPLY_MAX];
    size_t n = meta_encode_reply(buf, sizeof(buf), r, rc, &v);
    outq_text(&c->out, buf, n);
    if (value) {
        outq_ref(&c->out, cache_item_value(it), cache_item_nbytes(it));
        outq_text(&c->out, "\r\n", 2);
        outq_hold(&c->out, it);
    } else {
        cache_item_release(c->w->cw, &it);
    }
}

/* mg N on a miss: an empty item (flags 0, ttl N) this client may fill. */
static cache_item_t *mg_vivify(conn_t *c, const meta_request_t *r)
{
    cache_item_t *it = NULL;
    if (cache_item_alloc(c->w->cw, r->key, r->nkey, 0, r->vivify_ttl, 0,
                         &it) != CACHE_OK)
        return NULL;
    uint64_t cas = 0;
    cache_status_e st = cache_store(c->w->cw, it, CACHE_STORE_ADD, 0, &cas,
                                    NULL);
    if (st != CACHE_OK) {
        /* lost a race: someone stored it meanwhile */
        cache_item_release(c->w->cw, &it);
        if (cache_get(c->w->cw, r->key, r->nkey, &it, NULL) != CACHE_OK)
            return NULL;
        return it;
    }
    c->x.created = true;
    return it;
}

static void mg_got(conn_t *c, const meta_request_t *r, cache_status_e st,
                   cache_item_t *it)
{
    if (st != CACHE_OK) {
        cache_item_release(c->w->cw, &it);
        if (r->flags & BIT('N'))
            it = mg_vivify(c, r);
    }
    mg_reply(c, r, it);
}

static void do_mg(conn_t *c, const meta_request_t *r)
{
    c->x.created = false;
    c->x.fetched = false;
    c->x.last_access = 0;
    if (r->flags & (BIT('h') | BIT('l'))) {
        cache_item_meta_t m;
        if (cache_peek(c->w->cw, r->key, r->nkey, &m) == CACHE_OK) {
            c->x.fetched = m.fetched;
            int64_t la = cache_now(srv_of(c)->cache) - m.last_access;
            c->x.last_access = la > 0 ? (uint32_t)la : 0;
        }
    }
    cache_item_t *it = NULL;
    const cache_async_t *a = conn_arm(c, conn_slot(c, 0));
    cache_status_e st;
    if (r->flags & BIT('T'))
        st = cache_get_and_touch(c->w->cw, r->key, r->nkey, r->ttl, &it, a);
    else
        st = cache_get(c->w->cw, r->key, r->nkey, &it, a);
    conn_disarm(c, st);
    if (st == CACHE_PENDING) {
        park(c, MSTEP_MG);
        return;
    }
    mg_got(c, r, st, it);
}

/* ---- ms ----------------------------------------------------------------- */

static cache_store_op_e ms_op(const meta_request_t *r)
{
    bool cas = (r->flags & BIT('C')) != 0;
    switch (r->mode) {
    case META_MODE_ADD: return CACHE_STORE_ADD;
    case META_MODE_APPEND: return CACHE_STORE_APPEND;
    case META_MODE_PREPEND: return CACHE_STORE_PREPEND;
    case META_MODE_REPLACE:
        return cas ? CACHE_STORE_CAS : CACHE_STORE_REPLACE;
    default:
        return cas ? CACHE_STORE_CAS : CACHE_STORE_SET;
    }
}

static void do_ms(conn_t *c, const meta_request_t *r)
{
    cache_item_t *it = NULL;
    cache_status_e st = cache_item_alloc(
        c->w->cw, r->key, r->nkey, r->client_flags,
        (r->flags & BIT('T')) ? r->ttl : 0, r->datalen, &it);
    if (st == CACHE_OK) {
        conn_start_nread(c, it, r->datalen, ms_op(r), r->cas);
        c->nread_kind = CONN_NREAD_META;
        return;
    }
    /* memcached: the error even with q, the data swallowed, and the old
     * value dropped so it does not outlive a failed store */
    put_line(c, st == CACHE_TOO_LARGE
                    ? "SERVER_ERROR object too large for cache"
                    : "SERVER_ERROR out of memory storing object");
    conn_start_swallow(c, r->datalen + 2);
    if (st == CACHE_TOO_LARGE || st == CACHE_NO_MEMORY) {
        const cache_async_t *a = conn_arm(c, conn_slot(c, 0));
        st = cache_unlink(c->w->cw, r->key, r->nkey, a);
        conn_disarm(c, st);
        if (st == CACHE_PENDING)
            park(c, MSTEP_SILENT);
    }
}

static void ms_done(conn_t *c, const meta_request_t *r, cache_status_e st,
                    uint64_t cas)
{
    cache_item_t *it = c->item;
    c->item = NULL;
    /* I with an older cas: store anyway, keeping the ttl, marked stale */
    if (st == CACHE_EXISTS && (r->flags & BIT('I')) &&
        c->op == CACHE_STORE_CAS) {
        cache_item_t *cur = NULL;
        if (cache_get(c->w->cw, r->key, r->nkey, &cur, NULL) == CACHE_OK) {
            uint64_t cur_cas = cache_item_cas(cur);
            if (r->cas < cur_cas) {
                unsigned bits = MARK_STALE |
                                (mark_get(cur, cur_cas) & MARK_TOKEN) |
                                (r->key_binary ? MARK_BINKEY : 0u);
                st = copy_marked(c, cur, cache_item_value(it),
                                 cache_item_nbytes(it),
                                 cache_item_exptime(cur), bits, cur_cas,
                                 &cas);
            }
            cache_item_release(c->w->cw, &cur);
        }
    } else if (st == CACHE_OK && r->key_binary) {
        mark_put(it, cas, MARK_BINKEY);
    }
    cache_item_release(c->w->cw, &it);
    meta_rc_e rc;
    switch (st) {
    case CACHE_OK: rc = META_RC_HD; break;
    case CACHE_EXISTS: rc = META_RC_EX; break;
    case CACHE_NOT_FOUND: rc = META_RC_NF; break;
    default: rc = META_RC_NS; break;
    }
    meta_item_view_t v = {
        .key = r->key,
        .nkey = r->nkey,
        .key_binary = r->key_binary,
        .cas = st == CACHE_OK ? cas : 0,
    };
    reply(c, r, rc, &v, false);
}

void process_meta_nread_done(conn_t *c)
{
    STATS_ADD(&c->w->stats, cmd_set, 1);
    c->state = CONN_PARSE;
    atomic_store(&c->pub_state, 0);
    c->nread_kind = CONN_NREAD_TEXT;
    meta_request_t r;
    if (!reparse(c, &r)) {
        cache_item_release(c->w->cw, &c->item);
        return;
    }
    if (c->crlf[0] != '\r' || c->crlf[1] != '\n') {
        cache_item_release(c->w->cw, &c->item);
        put_line(c, "CLIENT_ERROR bad data chunk");
        return;
    }
    if ((c->op == CACHE_STORE_APPEND || c->op == CACHE_STORE_PREPEND) &&
        (r.flags & BIT('C'))) {
        /* memcached's simplified cas check of append/prepend */
        uint64_t cur = 0;
        if (current_cas(c, r.key, r.nkey, &cur) == CACHE_OK &&
            cur != r.cas) {
            ms_done(c, &r, CACHE_EXISTS, 0);
            return;
        }
    }
    uint64_t cas = 0;
    const cache_async_t *a = conn_arm(c, conn_slot(c, 0));
    cache_status_e st = cache_store(c->w->cw, c->item, c->op, c->cas_in,
                                    &cas, a);
    conn_disarm(c, st);
    if (st == CACHE_PENDING) {
        park(c, MSTEP_MS); /* c->item stays held until the reply */
        return;
    }
    ms_done(c, &r, st, cas);
}

/* ---- md ----------------------------------------------------------------- */

static void md_done(conn_t *c, const meta_request_t *r, cache_status_e st)
{
    meta_item_view_t v = {.key = r->key, .nkey = r->nkey,
                          .key_binary = r->key_binary};
    reply(c, r, st == CACHE_OK ? META_RC_HD : META_RC_NF, &v, false);
}

/* md I: keep the item, mark it stale, new cas, new ttl if T. */
static void md_stale(conn_t *c, const meta_request_t *r)
{
    cache_item_t *cur = NULL;
    cache_status_e st = cache_get(c->w->cw, r->key, r->nkey, &cur, NULL);
    if (st == CACHE_OK) {
        uint64_t cas = 0, cur_cas = cache_item_cas(cur);
        unsigned bits = (mark_get(cur, cur_cas) & MARK_BINKEY) | MARK_STALE;
        int64_t exptime = (r->flags & BIT('T')) ? r->ttl
                                                : cache_item_exptime(cur);
        st = copy_marked(c, cur, cache_item_value(cur),
                         cache_item_nbytes(cur), exptime, bits, cur_cas,
                         &cas);
        cache_item_release(c->w->cw, &cur);
        if (st != CACHE_OK && st != CACHE_NOT_FOUND)
            st = CACHE_OK; /* raced with a change: it is gone anyway */
    }
    md_done(c, r, st);
}

static void do_md(conn_t *c, const meta_request_t *r)
{
    if (r->flags & BIT('C')) {
        uint64_t cur = 0;
        cache_status_e st = current_cas(c, r->key, r->nkey, &cur);
        if (st != CACHE_OK) {
            md_done(c, r, CACHE_NOT_FOUND);
            return;
        }
        if (cur != r->cas) {
            meta_item_view_t v = {.key = r->key, .nkey = r->nkey,
                                  .key_binary = r->key_binary};
            reply(c, r, META_RC_EX, &v, false);
            return;
        }
    }
    if (r->flags & BIT('I')) {
        md_stale(c, r);
        return;
    }
    const cache_async_t *a = conn_arm(c, conn_slot(c, 0));
    cache_status_e st = cache_delete(c->w->cw, r->key, r->nkey, a);
    conn_disarm(c, st);
    if (st == CACHE_PENDING) {
        park(c, MSTEP_MD);
        return;
    }
    md_done(c, r, st);
}

/* ---- ma ----------------------------------------------------------------- */

static void ma_reply_value(conn_t *c, const meta_request_t *r, uint64_t val,
                           uint64_t cas, bool created)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)val);
    int64_t ttl = -1;
    if (r->flags & BIT('t')) {
        cache_item_meta_t m;
        if (cache_peek(c->w->cw, r->key, r->nkey, &m) == CACHE_OK)
            ttl = ttl_left(c, m.exptime);
    }
    meta_item_view_t v = {
        .key = r->key,
        .nkey = r->nkey,
        .key_binary = r->key_binary,
        .value_len = (uint32_t)n,
        .ttl = ttl,
        .cas = cas,
    };
    bool value = (r->flags & BIT('v')) != 0;
    meta_rc_e rc = value ? META_RC_VA : META_RC_HD;
    if (meta_reply_suppressed(r, rc, created))
        return;
    char buf[META_REPLY_MAX];
    size_t len = meta_encode_reply(buf, sizeof(buf), r, rc, &v);
    outq_text(&c->out, buf, len);
    if (value) {
        outq_text(&c->out, num, (size_t)n);
        outq_text(&c->out, "\r\n", 2);
    }
}

/* ma N on a miss: store J (ttl N) and answer it. */
static void ma_create(conn_t *c, const meta_request_t *r)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%llu",
                     (unsigned long long)r->initial);
    cache_item_t *it = NULL;
    int64_t exptime = (r->flags & BIT('T')) ? r->ttl : r->vivify_ttl;
    if (cache_item_alloc(c->w->cw, r->key, r->nkey, 0, exptime, (size_t)n,
                         &it) != CACHE_OK) {
        put_line(c, "SERVER_ERROR Out of memory allocating new item");
        return;
    }
    memcpy(cache_item_data(it), num, (size_t)n);
    uint64_t cas = 0;
    cache_status_e st = cache_store(c->w->cw, it, CACHE_STORE_ADD, 0, &cas,
                                    NULL);
    cache_item_release(c->w->cw, &it);
    if (st != CACHE_OK) {
        meta_item_view_t v = {.key = r->key, .nkey = r->nkey,
                              .key_binary = r->key_binary};
        reply(c, r, META_RC_NS, &v, false);
        return;
    }
    ma_reply_value(c, r, r->initial, cas, true);
}

static void ma_done(conn_t *c, const meta_request_t *r, cache_status_e st,
                    uint64_t val, uint64_t cas)
{
    meta_item_view_t v = {.key = r->key, .nkey = r->nkey,
                          .key_binary = r->key_binary};
    switch (st) {
    case CACHE_OK:
        if (r->flags & BIT('T'))
            cache_touch(c->w->cw, r->key, r->nkey, r->ttl, NULL);
        ma_reply_value(c, r, val, cas, false);
        break;
    case CACHE_NOT_FOUND:
        if (r->flags & BIT('N'))
            ma_create(c, r);
        else
            reply(c, r, META_RC_NF, &v, false);
        break;
    case CACHE_NON_NUMERIC:
        put_line(c, "CLIENT_ERROR cannot increment or decrement "
                    "non-numeric value");
        break;
    case CACHE_EXISTS:
        reply(c, r, META_RC_EX, &v, false);
        break;
    default:
        put_line(c, "SERVER_ERROR out of memory");
        break;
    }
}

static void do_ma(conn_t *c, const meta_request_t *r)
{
    if (r->flags & BIT('C')) {
        uint64_t cur = 0;
        if (current_cas(c, r->key, r->nkey, &cur) == CACHE_OK &&
            cur != r->cas) {
            ma_done(c, r, CACHE_EXISTS, 0, 0);
            return;
        }
    }
    uint64_t val = 0, cas = 0;
    bool incr = r->mode != META_MODE_DECR;
    const cache_async_t *a = conn_arm(c, conn_slot(c, 0));
    cache_status_e st = cache_arith(c->w->cw, r->key, r->nkey, incr,
                                    (r->flags & BIT('D')) ? r->delta : 1,
                                    &val, &cas, a);
    conn_disarm(c, st);
    if (st == CACHE_PENDING) {
        park(c, MSTEP_MA);
        return;
    }
    ma_done(c, r, st, val, cas);
}

/* ---- me ----------------------------------------------------------------- */

static void do_me(conn_t *c, const meta_request_t *r)
{
    STATS_ADD(&c->w->stats, cmd_meta, 1);
    cache_item_meta_t m;
    char buf[META_REPLY_MAX];
    size_t n;
    if (cache_peek(c->w->cw, r->key, r->nkey, &m) == CACHE_OK) {
        int64_t now = cache_now(srv_of(c)->cache);
        int64_t exp = m.exptime == 0 ? -1 : now - m.exptime;
        int64_t la = now - m.last_access;
        n = meta_encode_me(buf, sizeof(buf), r->key, r->nkey, r->key_binary,
                           exp, (uint64_t)(la > 0 ? la : 0), m.cas,
                           m.fetched, m.slab_class, m.total_size);
    } else {
        n = meta_encode_code(buf, sizeof(buf), META_RC_EN);
    }
    outq_text(&c->out, buf, n);
}

/* ---- entry points ------------------------------------------------------- */

void process_meta(conn_t *c, const char *line, size_t len)
{
    if (!conn_keep_line(c, line, len)) {
        put_line(c, "SERVER_ERROR out of memory");
        return;
    }
    meta_request_t r;
    meta_parse_status_e ps = meta_parse(c->x.line, c->x.line_len,
                                        c->x.keybuf, &r);
    if (atomic_load(&srv_of(c)->verbose) > 1)
        fprintf(stderr, "<%d %s\n", c->fd, meta_cmd_name(r.cmd));
    if (ps != META_PARSE_OK) {
        put_line(c, r.error ? r.error : "ERROR");
        conn_start_swallow(c, r.swallow);
        return;
    }
    c->x.step = 0;
    switch (r.cmd) {
    case META_CMD_MN: {
        char buf[8];
        outq_text(&c->out, buf, meta_encode_mn(buf, sizeof(buf)));
        break;
    }
    case META_CMD_MG: do_mg(c, &r); break;
    case META_CMD_MS: do_ms(c, &r); break;
    case META_CMD_MD: do_md(c, &r); break;
    case META_CMD_MA: do_ma(c, &r); break;
    case META_CMD_ME: do_me(c, &r); break;
    case META_CMD_NONE:
    default:
        put_line(c, "ERROR");
        break;
    }
}

void process_meta_resume(conn_t *c)
{
    conn_slot_t *s = conn_slot(c, 0);
    cache_item_t *it = s->item;
    s->item = NULL;
    int step = c->x.step;
    c->x.step = 0;
    meta_request_t r;
    if (step != MSTEP_SILENT && !reparse(c, &r)) {
        cache_item_release(c->w->cw, &it);
        cache_item_release(c->w->cw, &c->item);
        return;
    }
    switch (step) {
    case MSTEP_MG:
        mg_got(c, &r, s->status, it);
        it = NULL;
        break;
    case MSTEP_MS:
        ms_done(c, &r, s->status, s->cas);
        break;
    case MSTEP_MD:
        md_done(c, &r, s->status);
        break;
    case MSTEP_MA:
        ma_done(c, &r, s->status, s->value, s->cas);
        break;
    case MSTEP_SILENT:
    default:
        break;
    }
    cache_item_release(c->w->cw, &it);
}
