/*
 * server/process_meta.c - memcached's meta commands (mn mg ms md ma me):
 * a line parsed by proto_meta.h -> cache_* calls -> reply lines written by
 * proto_meta.h's encoders, as memcached 1.6.18 answers.
 *
 * The line is first copied into c->x.line and parsed from there, so a
 * request outlives rbuf: after an ms value read, or when a cache call
 * parks the connection (CONN_PARK_META: process_meta_resume() parses the
 * copy again and goes on at c->x.step with the result in slot 0). Every
 * cache call of a command is asynchronous, follow-up steps included (mg N
 * vivify and its re-read, ma N create, me's flash read), so a flash read
 * never blocks the worker.
 *
 * Item marks (stale, win token sent, base64 key) live in the item
 * (cache.h CACHE_MARK_*): md I marks in place under the key's lock
 * (cache_delete_ex), ms I stores with CACHE_STORE_CAS_STALE, mg claims the
 * win token with one atomic cache_item_mark(). Conditional forms (md C,
 * ma C, ms C in append/prepend mode) compare and act in one step in the
 * cache (cache_delete_ex, cache_arith_ex, cache_store with cas_in).
 */
#include "process.h"
#include "process_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_meta.h"
#include "server.h"
#include "stats.h"
#include "worker.h"

#define BIT(ch) META_FLAG_BIT(ch)

/* ---- helpers ------------------------------------------------------------ */

enum {
    MSTEP_MG = 1,     /* mg lookup */
    MSTEP_MG_VIVIFY,  /* mg N: storing the empty item (c->item held) */
    MSTEP_MG_REGET,   /* mg N lost the add: reading the winner's item */
    MSTEP_MS,         /* ms store */
    MSTEP_MD,         /* md delete / invalidate */
    MSTEP_MA,         /* ma arith */
    MSTEP_MA_CREATE,  /* ma N: storing the initial value */
    MSTEP_ME,         /* me: reading an item that is not in RAM */
    MSTEP_SILENT,     /* unlink after a refused ms */
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

static void reply_key(conn_t *c, const meta_request_t *r, meta_rc_e rc)
{
    meta_item_view_t v = {.key = r->key, .nkey = r->nkey,
                          .key_binary = r->key_binary};
    reply(c, r, rc, &v, false);
}

static bool reparse(conn_t *c, meta_request_t *r)
{
    return meta_parse(c->x.line, c->x.line_len, c->x.keybuf, r) ==
           META_PARSE_OK;
}

/* After an async cache call on slot 0: true if it answered PENDING and
 * the connection parked (the request goes on at `step`). */
static bool parked(conn_t *c, cache_status_e st, int step)
{
    return process_step_parked(c, st, CONN_PARK_META, step);
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

/* Seconds since an absolute access time (0 = unknown: 0). */
static uint32_t since(conn_t *c, int64_t t)
{
    int64_t d = t > 0 ? cache_now(srv_of(c)->cache) - t : 0;
    return d > 0 ? (uint32_t)d : 0;
}

/* ---- mg ----------------------------------------------------------------- */

static void mg_reply(conn_t *c, const meta_request_t *r, cache_item_t *it)
{
    if (it == NULL) {
        reply(c, r, META_RC_EN, NULL, false);
        return;
    }
    bool created = c->x.created;
    if (!created && c->x.st != CACHE_OK && (r->flags & (BIT('h') | BIT('l')))) {
        /* not in RAM before this mg (read from flash, or raced in): what
         * the item itself knows; a flash record keeps no access history */
        bool fetched;
        int64_t la;
        unsigned cls;
        size_t size;
        cache_item_access(c->w->cw, it, &fetched, &la, &cls, &size);
        c->x.fetched = fetched;
        c->x.last_access = since(c, la);
    }
    uint64_t cas = cache_item_cas(it);
    unsigned marks = cache_item_marks(it);
    int64_t exptime = cache_item_exptime(it);
    bool token_sent = (marks & CACHE_MARK_TOKEN) != 0;
    bool stale = (marks & CACHE_MARK_STALE) != 0;
    bool want = created && (r->flags & BIT('N'));
    if ((r->flags & BIT('R')) && !token_sent && !created && exptime != 0 &&
        exptime < abs_time(c, r->recache_ttl))
        want = true;
    if (stale && !token_sent)
        want = true;
    bool won = false;
    if (want) {
        /* one atomic claim: of racing readers exactly one gets W */
        unsigned before = cache_item_mark(it, CACHE_MARK_TOKEN);
        if (created || !(before & CACHE_MARK_TOKEN))
            won = true;
        else
            token_sent = true;
    }
    meta_item_view_t v = {
        .key = cache_item_key(it),
        .nkey = cache_item_nkey(it),
        .key_binary = (marks & CACHE_MARK_BINKEY) != 0,
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
    if (meta_reply_suppressed(r, rc, created)) {
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

/* A cache_get of r's key on slot 0: false when it parked at `step`, else
 * true with its status and item (NULL unless CACHE_OK). */
static bool get_now(conn_t *c, const meta_request_t *r, int step,
                    cache_status_e *st, cache_item_t **it)
{
    *it = NULL;
    const cache_async_t *a = conn_arm(c, conn_slot(c, 0));
    *st = cache_get(c->w->cw, r->key, r->nkey, it, a);
    if (parked(c, *st, step))
        return false;
    if (*st != CACHE_OK)
        cache_item_release(c->w->cw, it);
    return true;
}

/* mg N lost its add: someone stored the key meanwhile; answer theirs. */
static void mg_reget(conn_t *c, const meta_request_t *r)
{
    cache_item_t *it;
    cache_status_e st;
    if (get_now(c, r, MSTEP_MG_REGET, &st, &it))
        mg_reply(c, r, it);
}

/* The add of mg N finished: c->item is the empty item. */
static void mg_vivified(conn_t *c, const meta_request_t *r, cache_status_e st)
{
    cache_item_t *it = c->item;
    c->item = NULL;
    if (st == CACHE_OK) {
        c->x.created = true;
        cache_item_set_fetched(it); /* as memcached's bump after mg N */
        mg_reply(c, r, it);
        return;
    }
    cache_item_release(c->w->cw, &it);
    if (st == CACHE_NOT_STORED)
        mg_reget(c, r);
    else
        mg_reply(c, r, NULL);
}

/* mg N on a miss: an empty item (flags 0, ttl N) this client may fill. */
static void mg_vivify(conn_t *c, const meta_request_t *r)
{
    cache_item_t *it = NULL;
    if (cache_item_alloc(c->w->cw, r->key, r->nkey, 0, r->vivify_ttl, 0,
                         &it) != CACHE_OK) {
        mg_reply(c, r, NULL);
        return;
    }
    c->item = it; /* our reference, for the reply */
    const cache_async_t *a = conn_arm(c, conn_slot(c, 0));
    cache_status_e st = cache_store(c->w->cw, it, CACHE_STORE_ADD, 0, NULL, a);
    if (parked(c, st, MSTEP_MG_VIVIFY))
        return;
    mg_vivified(c, r, st);
}

static void mg_got(conn_t *c, const meta_request_t *r, cache_status_e st,
                   cache_item_t *it)
{
    process_log_get(c, r->key, r->nkey, st == CACHE_OK ? it : NULL);
    if (st != CACHE_OK) {
        cache_item_release(c->w->cw, &it);
        if (r->flags & BIT('N')) {
            mg_vivify(c, r);
            return;
        }
    }
    mg_reply(c, r, it);
}

/* A plain mg: none of N (vivify: a store), T (a touch), u (another
 * read), h and l (facts peeked before the read). Its reply follows from
 * one cache_get's item alone, so it may join pipelined gets (conn.h). */
static bool mg_plain(const meta_request_t *r)
{
    return r->cmd == META_CMD_MG &&
           !(r->flags & (BIT('N') | BIT('T') | BIT('u') | BIT('h') | BIT('l')));
}

bool process_meta_may_pipeline(const conn_t *c, const char *line, size_t len)
{
    char keybuf[META_KEY_BIN_MAX];
    meta_request_t r;
    return meta_parse(line, len, keybuf, &r) == META_PARSE_OK &&
           mg_plain(&r) && conn_slot_next(c) + 1 <= CONN_PIPE_SLOTS;
}

/* A plain mg: answered now, or a parked get holding a copy of its line
 * (process_get_one); process_meta_get_resume() answers in its turn. */
static void mg_plain_start(conn_t *c, const meta_request_t *r)
{
    cache_status_e st;
    cache_item_t *it;
    if (process_get_one(c, r->key, r->nkey, CONN_GETGRP_META, c->x.line,
                        c->x.line_len + 1, &st, &it))
        mg_got(c, r, st, it);
}

void process_meta_get_resume(conn_t *c)
{
    conn_getgrp_t *g = conn_get_head(c);
    cache_item_t *it;
    cache_status_e st = process_get_one_result(c, &it);
    meta_request_t r;
    if (g->oom ||
        meta_parse(g->keys, g->keys_len - 1, c->x.keybuf, &r) != META_PARSE_OK) {
        cache_item_release(c->w->cw, &it);
        put_line(c, "SERVER_ERROR out of memory");
        return;
    }
    c->x.created = false;
    c->x.fetched = false;
    c->x.last_access = 0;
    c->x.st = CACHE_NOT_FOUND;
    mg_got(c, &r, st, it);
}

static void do_mg(conn_t *c, const meta_request_t *r)
{
    c->x.created = false;
    c->x.fetched = false;
    c->x.last_access = 0;
    c->x.st = CACHE_NOT_FOUND; /* h/l facts not known yet */
    if (mg_plain(r)) {
        mg_plain_start(c, r);
        return;
    }
    if (r->flags & (BIT('h') | BIT('l'))) {
        /* before the fetch bumps it (memcached delays the bump) */
        cache_item_meta_t m;
        if (cache_peek(c->w->cw, r->key, r->nkey, &m) == CACHE_OK) {
            c->x.fetched = m.fetched;
            c->x.last_access = since(c, m.last_access);
            c->x.st = CACHE_OK;
        }
    }
    cache_item_t *it = NULL;
    const cache_async_t *a = conn_arm(c, conn_slot(c, 0));
    cache_status_e st;
    if (r->flags & BIT('u')) /* no bump: h, l and the LRU place stay */
        st = cache_get_nobump(c->w->cw, r->key, r->nkey,
                              (r->flags & BIT('T')) != 0, r->ttl, &it, a);
    else if (r->flags & BIT('T'))
        st = cache_get_and_touch(c->w->cw, r->key, r->nkey, r->ttl, &it, a);
    else
        st = cache_get(c->w->cw, r->key, r->nkey, &it, a);
    if (parked(c, st, MSTEP_MG))
        return;
    mg_got(c, r, st, it);
}

/* ---- ms ----------------------------------------------------------------- */

static cache_store_op_e ms_op(const meta_request_t *r)
{
    bool cas = (r->flags & BIT('C')) != 0;
    cache_store_op_e cas_op = (r->flags & BIT('I')) ? CACHE_STORE_CAS_STALE
                                                    : CACHE_STORE_CAS;
    switch (r->mode) {
    case META_MODE_ADD: return CACHE_STORE_ADD;
    case META_MODE_APPEND: return CACHE_STORE_APPEND;
    case META_MODE_PREPEND: return CACHE_STORE_PREPEND;
    case META_MODE_REPLACE:
        return cas ? cas_op : CACHE_STORE_REPLACE;
    default:
        return cas ? cas_op : CACHE_STORE_SET;
    }
}

static void do_ms(conn_t *c, const meta_request_t *r)
{
    cache_item_t *it = NULL;
    cache_status_e st = cache_item_alloc(
        c->w->cw, r->key, r->nkey, r->client_flags,
        (r->flags & BIT('T')) ? r->ttl : 0, r->datalen, &it);
    if (st == CACHE_OK) {
        if (r->key_binary)
            cache_item_mark(it, CACHE_MARK_BINKEY);
        /* append/prepend compare cas_in too (0: no check), in the store */
        conn_start_nread(c, it, r->datalen, ms_op(r),
                         (r->flags & BIT('C')) ? r->cas : 0);
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
        (void)parked(c, st, MSTEP_SILENT);
    }
}

static void ms_done(conn_t *c, const meta_request_t *r, cache_status_e st,
                    uint64_t cas, const process_peek_t *pk)
{
    if (c->item)
        process_log_store(c, pk, st);
    cache_item_release(c->w->cw, &c->item);
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
    uint64_t cas = 0;
    process_peek_t pk;
    process_peek(c, r.key, r.nkey, &pk);
    const cache_async_t *a = conn_arm(c, conn_slot(c, 0));
    cache_status_e st = cache_store(c->w->cw, c->item, c->op, c->cas_in,
                                    &cas, a);
    if (parked(c, st, MSTEP_MS)) /* c->item stays held until the reply */
        return;
    ms_done(c, &r, st, cas, &pk);
}

/* ---- md ----------------------------------------------------------------- */

static void md_done(conn_t *c, const meta_request_t *r, cache_status_e st,
                    const process_peek_t *pk)
{
    process_log_lookup(c, r->key, r->nkey, pk,
                       st == CACHE_OK || st == CACHE_EXISTS);
    reply_key(c, r, st == CACHE_OK       ? META_RC_HD
                    : st == CACHE_EXISTS ? META_RC_EX
                                         : META_RC_NF);
}

static void do_md(conn_t *c, const meta_request_t *r)
{
    /* C compare, then delete or (I) mark stale with a new cas and T ttl:
     * one step under the key's lock, as memcached's md */
    cache_delete_opts_t o = {
        .has_cas = (r->flags & BIT('C')) != 0,
        .cas = r->cas,
        .mismatch_is_miss = true,
        .stale = (r->flags & BIT('I')) != 0,
        .set_exptime = (r->flags & BIT('I')) && (r->flags & BIT('T')),
        .exptime = r->ttl,
    };
    process_peek_t pk;
    process_peek(c, r->key, r->nkey, &pk);
    const cache_async_t *a = conn_arm(c, conn_slot(c, 0));
    /* a plain delete keeps the cheaper path (no load from flash) */
    cache_status_e st =
        (o.has_cas || o.stale)
            ? cache_delete_ex(c->w->cw, r->key, r->nkey, &o, a)
            : cache_delete(c->w->cw, r->key, r->nkey, a);
    if (parked(c, st, MSTEP_MD))
        return;
    md_done(c, r, st, &pk);
}

/* ---- ma ----------------------------------------------------------------- */

/* Does flag t come before flag T in the request? */
static bool t_before_T(const meta_request_t *r)
{
    if (!(r->flags & BIT('T')))
        return false;
    for (size_t i = 0; i < r->ntok; i++) {
        if (r->tok[i].n > 0 && r->tok[i].p[0] == 't')
            return true;
        if (r->tok[i].n > 0 && r->tok[i].p[0] == 'T')
            return false;
    }
    return false;
}

static void ma_reply_value(conn_t *c, const meta_request_t *r, uint64_t val,
                           uint64_t cas, bool created)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)val);
    int64_t ttl = -1;
    if ((r->flags & BIT('t')) && !created && t_before_T(r)) {
        /* memcached applies the flags in order: t shows the old ttl */
        ttl = ttl_left(c, (int64_t)c->x.cas);
    } else if (r->flags & BIT('t')) {
        /* the item was just changed or created: it is in RAM */
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

static void ma_created(conn_t *c, const meta_request_t *r, cache_status_e st,
                       uint64_t cas)
{
    if (st != CACHE_OK) {
        reply_key(c, r, META_RC_NS);
        return;
    }
    ma_reply_value(c, r, r->initial, cas, true);
}

/* ma N on a miss: store J (ttl N, or T) and answer it. */
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
    const cache_async_t *a = conn_arm(c, conn_slot(c, 0));
    cache_status_e st = cache_store(c->w->cw, it, CACHE_STORE_ADD, 0, &cas, a);
    cache_item_release(c->w->cw, &it);
    if (parked(c, st, MSTEP_MA_CREATE))
        return;
    ma_created(c, r, st, cas);
}

static void ma_done(conn_t *c, const meta_request_t *r, cache_status_e st,
                    uint64_t val, uint64_t cas, const process_peek_t *pk)
{
    process_log_lookup(c, r->key, r->nkey, pk, st != CACHE_NOT_FOUND);
    switch (st) {
    case CACHE_OK:
        ma_reply_value(c, r, val, cas, false);
        break;
    case CACHE_NOT_FOUND:
        if (r->flags & BIT('N'))
            ma_create(c, r);
        else
            reply_key(c, r, META_RC_NF);
        break;
    case CACHE_NON_NUMERIC:
        put_line(c, "CLIENT_ERROR cannot increment or decrement "
                    "non-numeric value");
        break;
    case CACHE_EXISTS:
        reply_key(c, r, META_RC_EX);
        break;
    default:
        put_line(c, "SERVER_ERROR out of memory");
        break;
    }
}

static void do_ma(conn_t *c, const meta_request_t *r)
{
    /* C compare (0: none, as memcached's do_add_delta), the change and a
     * T ttl: one step under the key's lock */
    cache_arith_opts_t o = {
        .cas = (r->flags & BIT('C')) ? r->cas : 0,
        .set_exptime = (r->flags & BIT('T')) != 0,
        .exptime = r->ttl,
        /* c->x.cas: the old expiry, for t before T (lives until done) */
        .old_exptime_out = (int64_t *)&c->x.cas,
    };
    c->x.cas = 0;
    uint64_t val = 0, cas = 0;
    process_peek_t pk;
    process_peek(c, r->key, r->nkey, &pk);
    bool incr = r->mode != META_MODE_DECR;
    uint64_t delta = (r->flags & BIT('D')) ? r->delta : 1;
    const cache_async_t *a = conn_arm(c, conn_slot(c, 0));
    cache_status_e st =
        (o.cas || o.set_exptime)
            ? cache_arith_ex(c->w->cw, r->key, r->nkey, incr, delta, &o, &val,
                             &cas, a)
            : cache_arith(c->w->cw, r->key, r->nkey, incr, delta, &val, &cas,
                          a);
    if (parked(c, st, MSTEP_MA))
        return;
    ma_done(c, r, st, val, cas, &pk);
}

/* ---- me ----------------------------------------------------------------- */

static void me_line(conn_t *c, const meta_request_t *r, int64_t exptime,
                    int64_t last_access, uint64_t cas, bool fetched,
                    unsigned cls, size_t size)
{
    char buf[META_REPLY_MAX];
    int64_t now = cache_now(srv_of(c)->cache);
    int64_t exp = exptime == 0 ? -1 : now - exptime;
    size_t n = meta_encode_me(buf, sizeof(buf), r->key, r->nkey,
                              r->key_binary, exp, since(c, last_access), cas,
                              fetched, cls, size);
    outq_text(&c->out, buf, n);
}

/* me of an item read from flash (not in RAM): its record keeps no access
 * history, so la= is 0 unless the item knows better; cls= is the class it
 * would be stored in. */
static void me_got(conn_t *c, const meta_request_t *r, cache_status_e st,
                   cache_item_t *it)
{
    if (st != CACHE_OK || it == NULL) {
        char buf[8];
        outq_text(&c->out, buf, meta_encode_code(buf, sizeof(buf), META_RC_EN));
        cache_item_release(c->w->cw, &it);
        return;
    }
    bool fetched;
    int64_t la;
    unsigned cls;
    size_t size;
    cache_item_access(c->w->cw, it, &fetched, &la, &cls, &size);
    me_line(c, r, cache_item_exptime(it), la, cache_item_cas(it), fetched,
            cls, size);
    cache_item_release(c->w->cw, &it);
}

static void do_me(conn_t *c, const meta_request_t *r)
{
    STATS_ADD(&c->w->stats, cmd_meta, 1);
    cache_item_meta_t m;
    if (cache_peek(c->w->cw, r->key, r->nkey, &m) == CACHE_OK) {
        me_line(c, r, m.exptime, m.last_access, m.cas, m.fetched,
                m.slab_class, m.total_size);
        return;
    }
    if (srv_of(c)->settings->flash_path == NULL) {
        me_got(c, r, CACHE_NOT_FOUND, NULL);
        return;
    }
    /* maybe on flash: a real read (counted as a get) */
    cache_item_t *it;
    cache_status_e st;
    if (get_now(c, r, MSTEP_ME, &st, &it))
        me_got(c, r, st, it);
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
    cache_item_t *it;
    int step;
    conn_slot_t *s = process_step_resume(c, &it, &step);
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
    case MSTEP_MG_VIVIFY:
        mg_vivified(c, &r, s->status);
        break;
    case MSTEP_MG_REGET:
        if (s->status != CACHE_OK)
            cache_item_release(c->w->cw, &it);
        mg_reply(c, &r, it);
        it = NULL;
        break;
    case MSTEP_MS:
        ms_done(c, &r, s->status, s->cas, NULL);
        break;
    case MSTEP_MD:
        md_done(c, &r, s->status, NULL);
        break;
    case MSTEP_MA:
        ma_done(c, &r, s->status, s->value, s->cas, NULL);
        break;
    case MSTEP_MA_CREATE:
        ma_created(c, &r, s->status, s->cas);
        break;
    case MSTEP_ME:
        me_got(c, &r, s->status, it);
        it = NULL;
        break;
    case MSTEP_SILENT:
    default:
        break;
    }
    cache_item_release(c->w->cw, &it);
}
