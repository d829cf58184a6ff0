/*
 * server/process_bin.c - memcached's binary protocol: a parsed request
 * (proto_bin.h) -> cache_* calls -> response packets on c->out, as
 * memcached 1.6.18 (proto_bin.c there) answers them.
 *
 * A request's header fields and key are copied into c->x first, so a
 * request survives its bytes in rbuf: a value read (NREAD without "\r\n"),
 * or a parked flash read (CONN_PARK_BIN; process_bin_resume() goes on at
 * c->x.step with the result in slot 0).
 *
 * What memcached does that is easy to miss (checked against 1.6.18):
 *   - set/add/replace with a cas in the header is a cas store (add too:
 *     NOT_FOUND on a missing key, EEXISTS on a mismatch); failures map to
 *     add -> EEXISTS, replace -> ENOENT, set/append/prepend -> NOT_STORED;
 *   - append/prepend with a cas: EEXISTS unless it matches (the cache
 *     compares and appends in one step: cache_store's cas_in);
 *   - delete / incr / decr with a cas: EEXISTS unless it matches (one
 *     step in the cache: cache_delete_ex / cache_arith_ex);
 *   - incr/decr miss with exptime != 0xffffffff stores the initial value
 *     (flags 0) and answers it; with 0xffffffff: ENOENT;
 *   - errors carry cas 0 and the text of bin_status_text(); getk/gatk
 *     misses carry the key and no text;
 *   - flush under -F: "Auth failure." (0x20);
 *   - stat: one packet per stat (key = name, value = text) then an empty
 *     one; group "" / prefix "reset" / prefix "settings" / prefix "detail"
 *     (" dump", " on", " off") / exactly "items" "slabs" "sizes"; anything
 *     else "Not found".
 */
#include "process.h"
#include "process_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_bin.h"
#include "prefix_stats.h"
#include "server.h"
#include "stats.h"
#include "worker.h"

/* Steps of a request that parks (c->x.step). */
enum {
    BSTEP_GET = 1,      /* get/gat/touch lookup */
    BSTEP_STORE,        /* set/add/replace/append/prepend commit */
    BSTEP_UNLINK,       /* silent unlink after a failed set */
    BSTEP_DELETE,
    BSTEP_ARITH,
    BSTEP_ARITH_ADD,    /* storing the initial value of a missed incr */
};

static server_t *srv_of(conn_t *c) { return c->w->srv; }

static bool suppressed(const conn_t *c, bin_status_e st)
{
    bin_request_t r;
    memset(&r, 0, sizeof(r));
    r.hdr.opcode = c->x.opcode;
    r.cmd = (bin_cmd_e)c->x.cmd;
    r.quiet = c->x.quiet;
    return bin_reply_suppressed(&r, st);
}

/* Queues a small response (no item reference) unless quiet says no. */
static void respond(conn_t *c, bin_status_e st, uint64_t cas,
                    const void *extras, uint8_t extlen, const void *key,
                    uint16_t keylen, const void *value, uint32_t vlen)
{
    if (suppressed(c, st))
        return;
    uint8_t buf[BIN_HEADER_LEN + 8 + BIN_KEY_MAX + 64];
    size_t n = bin_encode_response(buf, sizeof(buf), c->x.opcode,
                                   (uint16_t)st, c->x.opaque, cas, extras,
                                   extlen, key, keylen, value, vlen);
    if (n > 0)
        outq_text(&c->out, (const char *)buf, n);
}

static void respond_error(conn_t *c, bin_status_e st)
{
    if (suppressed(c, st))
        return;
    uint8_t buf[BIN_HEADER_LEN + 64];
    size_t n = bin_encode_error(buf, sizeof(buf), c->x.opcode, st,
                                c->x.opaque);
    if (n > 0)
        outq_text(&c->out, (const char *)buf, n);
}

/* After an async cache call on slot 0: true if it answered PENDING and
 * the connection parked (the request goes on at `step`). */
static bool parked(conn_t *c, cache_status_e st, int step)
{
    return process_step_parked(c, st, CONN_PARK_BIN, step);
}

/* ---- get / getk / gat / touch ------------------------------------------ */

static void finish_get(conn_t *c, cache_status_e st, cache_item_t *it)
{
    bool touch = c->x.cmd == BIN_CMD_TOUCH;
    if (st != CACHE_OK || it == NULL) {
        cache_item_release(c->w->cw, &it);
        if (suppressed(c, BIN_STATUS_KEY_ENOENT))
            return;
        if (c->x.return_key)
            respond(c, BIN_STATUS_KEY_ENOENT, 0, NULL, 0, c->x.keybuf,
                    (uint16_t)c->x.nkey, NULL, 0);
        else
            respond_error(c, BIN_STATUS_KEY_ENOENT);
        return;
    }
    size_t nkey = c->x.return_key ? cache_item_nkey(it) : 0;
    size_t vlen = touch ? 0 : cache_item_nbytes(it);
    uint8_t hdr[BIN_HEADER_LEN + 4 + BIN_KEY_MAX];
    bin_header_t h = {
        .magic = BIN_MAGIC_RES,
        .opcode = c->x.opcode,
        .keylen = (uint16_t)nkey,
        .extlen = 4,
        .bodylen = (uint32_t)(4 + nkey + vlen),
        .opaque = c->x.opaque,
        .cas = cache_item_cas(it),
    };
    bin_encode_header(hdr, &h);
    bin_wr32(hdr + BIN_HEADER_LEN, cache_item_flags(it));
    memcpy(hdr + BIN_HEADER_LEN + 4, cache_item_key(it), nkey);
    outq_text(&c->out, (const char *)hdr, BIN_HEADER_LEN + 4 + nkey);
    if (vlen > 0) {
        outq_ref(&c->out, cache_item_value(it), vlen);
        outq_hold(&c->out, it);
    } else {
        cache_item_release(c->w->cw, &it);
    }
}

/* What a parked binary get needs for its response (the group's copy). */
typedef struct bin_get_kept {
    uint8_t opcode, cmd;
    bool quiet, return_key;
    uint32_t opaque;
    size_t nkey;
    char key[BIN_KEY_MAX];
} bin_get_kept_t;

bool process_bin_may_pipeline(const conn_t *c, const bin_request_t *req)
{
    return req->cmd == BIN_CMD_GET && conn_slot_next(c) + 1 <= CONN_PIPE_SLOTS;
}

/* A binary get: answered now, or a parked get holding a copy of its
 * header fields and key (process_get_one); process_bin_get_resume()
 * answers in its turn. */
static void get_start(conn_t *c)
{
    bin_get_kept_t k = {
        .opcode = c->x.opcode,
        .cmd = c->x.cmd,
        .quiet = c->x.quiet,
        .return_key = c->x.return_key,
        .opaque = c->x.opaque,
        .nkey = c->x.nkey,
    };
    memcpy(k.key, c->x.keybuf, c->x.nkey);
    cache_status_e st;
    cache_item_t *it;
    if (process_get_one(c, c->x.keybuf, c->x.nkey, CONN_GETGRP_BIN, &k,
                        sizeof(k), &st, &it))
        finish_get(c, st, it);
}

void process_bin_get_resume(conn_t *c)
{
    conn_getgrp_t *g = conn_get_head(c);
    cache_item_t *it;
    cache_status_e st = process_get_one_result(c, &it);
    const bin_get_kept_t *k = (const bin_get_kept_t *)g->keys;
    if (k == NULL) {
        /* no copy of the request: memcached's answer when it has no
         * memory for one (the opaque is lost with it) */
        cache_item_release(c->w->cw, &it);
        uint8_t buf[BIN_HEADER_LEN + 64];
        size_t n = bin_encode_error(buf, sizeof(buf), BIN_OP_GET,
                                    BIN_STATUS_ENOMEM, 0);
        if (n > 0)
            outq_text(&c->out, (const char *)buf, n);
        return;
    }
    c->x.opcode = k->opcode;
    c->x.cmd = k->cmd;
    c->x.quiet = k->quiet;
    c->x.return_key = k->return_key;
    c->x.opaque = k->opaque;
    c->x.nkey = k->nkey;
    memcpy(c->x.keybuf, k->key, k->nkey);
    if (g->oom) {
        cache_item_release(c->w->cw, &it);
        respond_error(c, BIN_STATUS_ENOMEM);
        return;
    }
    finish_get(c, st, it);
}

static void do_get(conn_t *c)
{
    if (c->x.cmd == BIN_CMD_GET) {
        get_start(c);
        return;
    }
    cache_item_t *it = NULL;
    const cache_async_t *a = conn_arm(c, conn_slot(c, 0));
    cache_status_e st;
    if (c->x.cmd == BIN_CMD_GET)
        st = cache_get(c->w->cw, c->x.keybuf, c->x.nkey, &it, a);
    else
        st = cache_get_and_touch(c->w->cw, c->x.keybuf, c->x.nkey,
                                 (int64_t)c->x.exptime, &it, a);
    if (parked(c, st, BSTEP_GET))
        return;
    finish_get(c, st, it);
}

/* ---- storage ------------------------------------------------------------ */

static cache_store_op_e store_op(const conn_t *c)
{
    switch (c->x.cmd) {
    case BIN_CMD_ADD:
        return c->x.req_cas ? CACHE_STORE_CAS : CACHE_STORE_ADD;
    case BIN_CMD_REPLACE:
        return c->x.req_cas ? CACHE_STORE_CAS : CACHE_STORE_REPLACE;
    case BIN_CMD_APPEND: return CACHE_STORE_APPEND;
    case BIN_CMD_PREPEND: return CACHE_STORE_PREPEND;
    default:
        return c->x.req_cas ? CACHE_STORE_CAS : CACHE_STORE_SET;
    }
}

static void start_store(conn_t *c, size_t vlen)
{
    bool concat = c->x.cmd == BIN_CMD_APPEND || c->x.cmd == BIN_CMD_PREPEND;
    cache_item_t *it = NULL;
    cache_status_e st = cache_item_alloc(
        c->w->cw, c->x.keybuf, c->x.nkey, concat ? 0 : c->x.flags,
        concat ? 0 : (int64_t)c->x.exptime, vlen, &it);
    if (st == CACHE_OK) {
        conn_start_nread_bin(c, it, vlen, store_op(c), c->x.req_cas);
        return;
    }
    /* memcached: "Too large." or "Out of memory", quiet or not, then the
     * value is swallowed; a failed set also drops the old value */
    respond_error(c, st == CACHE_TOO_LARGE ? BIN_STATUS_E2BIG
                                           : BIN_STATUS_ENOMEM);
    conn_start_swallow(c, vlen);
    if (c->x.cmd == BIN_CMD_SET &&
        (st == CACHE_TOO_LARGE || st == CACHE_NO_MEMORY)) {
        const cache_async_t *a = conn_arm(c, conn_slot(c, 0));
        st = cache_unlink(c->w->cw, c->x.keybuf, c->x.nkey, a);
        (void)parked(c, st, BSTEP_UNLINK);
    }
}

static void finish_store(conn_t *c, cache_status_e st, uint64_t cas)
{
    switch (st) {
    case CACHE_OK:
        respond(c, BIN_STATUS_OK, cas, NULL, 0, NULL, 0, NULL, 0);
        return;
    case CACHE_EXISTS:
        respond_error(c, BIN_STATUS_KEY_EEXISTS);
        return;
    case CACHE_NOT_FOUND:
        respond_error(c, BIN_STATUS_KEY_ENOENT);
        return;
    default:
        break;
    }
    /* NOT_STORED, TOO_LARGE, NO_MEMORY */
    if (c->x.cmd == BIN_CMD_ADD)
        respond_error(c, BIN_STATUS_KEY_EEXISTS);
    else if (c->x.cmd == BIN_CMD_REPLACE)
        respond_error(c, BIN_STATUS_KEY_ENOENT);
    else
        respond_error(c, BIN_STATUS_NOT_STORED);
}

static void commit_store(conn_t *c)
{
    uint64_t cas = 0;
    const cache_async_t *a = conn_arm(c, conn_slot(c, 0));
    cache_status_e st = cache_store(c->w->cw, c->item, c->op, c->cas_in,
                                    &cas, a);
    cache_item_release(c->w->cw, &c->item);
    if (parked(c, st, BSTEP_STORE))
        return;
    finish_store(c, st, cas);
}

void process_bin_nread_done(conn_t *c)
{
    STATS_ADD(&c->w->stats, cmd_set, 1);
    c->state = CONN_PARSE;
    atomic_store(&c->pub_state, 0);
    c->nread_kind = CONN_NREAD_TEXT;
    /* append/prepend with a cas: the store compares it (c->cas_in) */
    commit_store(c);
}

/* ---- delete / incr / decr ---------------------------------------------- */

static void finish_delete(conn_t *c, cache_status_e st)
{
    if (st == CACHE_OK)
        respond(c, BIN_STATUS_OK, 0, NULL, 0, NULL, 0, NULL, 0);
    else if (st == CACHE_EXISTS)
        respond_error(c, BIN_STATUS_KEY_EEXISTS);
    else
        respond_error(c, BIN_STATUS_KEY_ENOENT);
}

static void do_delete(conn_t *c)
{
    /* a cas (not 0) must match: compared and deleted in one step */
    cache_delete_opts_t o = {.has_cas = c->x.req_cas != 0,
                             .cas = c->x.req_cas};
    const cache_async_t *a = conn_arm(c, conn_slot(c, 0));
    cache_status_e st =
        o.has_cas ? cache_delete_ex(c->w->cw, c->x.keybuf, c->x.nkey, &o, a)
                  : cache_delete(c->w->cw, c->x.keybuf, c->x.nkey, a);
    if (parked(c, st, BSTEP_DELETE))
        return;
    finish_delete(c, st);
}

static void arith_value(conn_t *c, uint64_t v, uint64_t cas)
{
    uint8_t body[8];
    bin_wr64(body, v);
    respond(c, BIN_STATUS_OK, cas, NULL, 0, NULL, 0, body, 8);
}

static void finish_arith_add(conn_t *c, cache_status_e st, uint64_t cas)
{
    if (st == CACHE_OK)
        arith_value(c, c->x.initial, cas);
    else
        respond_error(c, BIN_STATUS_NOT_STORED);
}

/* A missed incr/decr with exptime != 0xffffffff: store the initial value. */
static void arith_create(conn_t *c)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%llu",
                     (unsigned long long)c->x.initial);
    cache_item_t *it = NULL;
    cache_status_e st = cache_item_alloc(c->w->cw, c->x.keybuf, c->x.nkey, 0,
                                         (int64_t)c->x.exptime, (size_t)n,
                                         &it);
    if (st != CACHE_OK) {
        respond_error(c, BIN_STATUS_ENOMEM);
        return;
    }
    memcpy(cache_item_data(it), num, (size_t)n);
    uint64_t cas = 0;
    const cache_async_t *a = conn_arm(c, conn_slot(c, 0));
    st = cache_store(c->w->cw, it, CACHE_STORE_ADD, 0, &cas, a);
    cache_item_release(c->w->cw, &it);
    if (parked(c, st, BSTEP_ARITH_ADD))
        return;
    finish_arith_add(c, st, cas);
}

static void finish_arith(conn_t *c, cache_status_e st, uint64_t v,
                         uint64_t cas)
{
    switch (st) {
    case CACHE_OK:
        arith_value(c, v, cas);
        break;
    case CACHE_NOT_FOUND:
        if (c->x.exptime != 0xffffffffu)
            arith_create(c);
        else
            respond_error(c, BIN_STATUS_KEY_ENOENT);
        break;
    case CACHE_NON_NUMERIC:
        respond_error(c, BIN_STATUS_DELTA_BADVAL);
        break;
    case CACHE_EXISTS:
        respond_error(c, BIN_STATUS_KEY_EEXISTS);
        break;
    default:
        respond_error(c, BIN_STATUS_ENOMEM);
        break;
    }
}

static void do_arith(conn_t *c)
{
    uint64_t v = 0, cas = 0;
    /* a cas (not 0) must match: compared and changed in one step */
    cache_arith_opts_t o = {.cas = c->x.req_cas};
    const cache_async_t *a = conn_arm(c, conn_slot(c, 0));
    bool incr = c->x.cmd == BIN_CMD_INCR;
    cache_status_e st =
        o.cas ? cache_arith_ex(c->w->cw, c->x.keybuf, c->x.nkey, incr,
                               c->x.delta, &o, &v, &cas, a)
              : cache_arith(c->w->cw, c->x.keybuf, c->x.nkey, incr,
                            c->x.delta, &v, &cas, a);
    if (parked(c, st, BSTEP_ARITH))
        return;
    finish_arith(c, st, v, cas);
}

/* ---- stat --------------------------------------------------------------- */

typedef struct stat_sink {
    conn_t *c;
} stat_sink_t;

static void stat_packet(conn_t *c, const char *name, size_t nname,
                        const char *value, size_t nvalue)
{
    uint8_t hdr[BIN_HEADER_LEN];
    bin_header_t h = {
        .magic = BIN_MAGIC_RES,
        .opcode = c->x.opcode,
        .keylen = (uint16_t)nname,
        .bodylen = (uint32_t)(nname + nvalue),
        .opaque = c->x.opaque,
    };
    bin_encode_header(hdr, &h);
    outq_text(&c->out, (const char *)hdr, sizeof(hdr));
    outq_text(&c->out, name, nname);
    outq_text(&c->out, value, nvalue);
}

/* Runs the text `stats <args>` into a scratch queue and re-emits each
 * "STAT name value" line as a packet. False: unknown group. */
static bool stats_as_packets(conn_t *c, const char *args, size_t len)
{
    outq_t tmp;
    outq_init(&tmp, &c->w->pool, c->w->cw);
    bool ok = stats_reply(srv_of(c), args, len, &tmp) == STATS_OK;
    size_t total = 0;
    for (size_t i = 0; i < tmp.niov; i++)
        total += tmp.iov[i].iov_len;
    char *text = ok ? malloc(total + 1) : NULL;
    if (ok && text) {
        size_t o = 0;
        for (size_t i = 0; i < tmp.niov; i++) {
            memcpy(text + o, tmp.iov[i].iov_base, tmp.iov[i].iov_len);
            o += tmp.iov[i].iov_len;
        }
        text[o] = '\0';
        char *p = text, *end = text + o;
        while (p < end) {
            char *eol = memchr(p, '\n', (size_t)(end - p));
            char *next = eol ? eol + 1 : end;
            char *e = eol ? eol : end;
            if (e > p && e[-1] == '\r')
                e--;
            if (e - p > 5 && memcmp(p, "STAT ", 5) == 0) {
                char *name = p + 5;
                char *sp = memchr(name, ' ', (size_t)(e - name));
                if (sp)
                    stat_packet(c, name, (size_t)(sp - name), sp + 1,
                                (size_t)(e - sp - 1));
                else
                    stat_packet(c, name, (size_t)(e - name), "", 0);
            }
            p = next;
        }
    } else if (ok) {
        tmp.oom = true;
        c->out.oom = true;
    }
    free(text);
    outq_destroy(&tmp);
    return ok;
}

static bool has_prefix(const char *k, size_t n, const char *pfx)
{
    size_t m = strlen(pfx);
    return n >= m && memcmp(k, pfx, m) == 0;
}

static bool is_exactly(const char *k, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(k, s, n) == 0;
}

static void do_stat(conn_t *c)
{
    const char *k = c->x.keybuf;
    size_t n = c->x.nkey;
    if (n == 0) {
        stats_as_packets(c, "", 0);
    } else if (has_prefix(k, n, "reset")) {
        stats_reset(srv_of(c));
    } else if (has_prefix(k, n, "settings")) {
        stats_as_packets(c, "settings", 8);
    } else if (has_prefix(k, n, "detail")) {
        if (has_prefix(k + 6, n - 6, " dump")) {
            size_t len = 0;
            char *text = prefix_stats_text(srv_of(c)->detail, &len);
            if (text)
                stat_packet(c, "detailed", 8, text, len);
            else
                stat_packet(c, "detailed", 8, "END\r\n", 5);
            free(text);
        } else if (has_prefix(k + 6, n - 6, " on") ||
                   has_prefix(k + 6, n - 6, " off")) {
            if (srv_of(c)->detail)
                prefix_stats_enable(srv_of(c)->detail, k[8] == 'n');
        } else {
            respond_error(c, BIN_STATUS_KEY_ENOENT);
            return;
        }
    } else if (is_exactly(k, n, "items") || is_exactly(k, n, "slabs") ||
               is_exactly(k, n, "sizes")) {
        if (!stats_as_packets(c, k, n)) {
            respond_error(c, BIN_STATUS_KEY_ENOENT);
            return;
        }
    } else {
        respond_error(c, BIN_STATUS_KEY_ENOENT);
        return;
    }
    stat_packet(c, "", 0, "", 0);
}

/* ---- dispatch ----------------------------------------------------------- */

void process_bin_error(conn_t *c, const bin_request_t *req)
{
    uint8_t buf[BIN_HEADER_LEN + 64];
    size_t n = bin_encode_error(buf, sizeof(buf), req->hdr.opcode,
                                req->status, req->hdr.opaque);
    if (n > 0)
        outq_text(&c->out, (const char *)buf, n);
}

void process_bin(conn_t *c, const bin_request_t *req)
{
    conn_xreq_t *x = &c->x;
    x->opcode = req->hdr.opcode;
    x->cmd = (uint8_t)req->cmd;
    x->quiet = req->quiet;
    x->return_key = req->return_key;
    x->opaque = req->hdr.opaque;
    x->req_cas = req->hdr.cas;
    x->flags = req->flags;
    x->exptime = req->exptime;
    x->delta = req->delta;
    x->initial = req->initial;
    x->nkey = req->nkey <= BIN_KEY_MAX ? req->nkey : BIN_KEY_MAX;
    if (x->nkey)
        memcpy(x->keybuf, req->key, x->nkey);
    x->step = 0;
    if (atomic_load(&srv_of(c)->verbose) > 1)
        fprintf(stderr, "<%d %s\n", c->fd, bin_cmd_name(req->cmd));

    switch (req->cmd) {
    case BIN_CMD_GET:
    case BIN_CMD_GAT:
    case BIN_CMD_TOUCH:
        do_get(c);
        break;
    case BIN_CMD_SET:
    case BIN_CMD_ADD:
    case BIN_CMD_REPLACE:
    case BIN_CMD_APPEND:
    case BIN_CMD_PREPEND:
        start_store(c, req->vlen);
        break;
    case BIN_CMD_DELETE:
        do_delete(c);
        break;
    case BIN_CMD_INCR:
    case BIN_CMD_DECR:
        do_arith(c);
        break;
    case BIN_CMD_QUIT:
        respond(c, BIN_STATUS_OK, 0, NULL, 0, NULL, 0, NULL, 0);
        c->close_after_write = true;
        break;
    case BIN_CMD_FLUSH:
        STATS_ADD(&c->w->stats, cmd_flush, 1);
        if (srv_of(c)->settings->no_flush) {
            respond_error(c, BIN_STATUS_AUTH_ERROR);
            break;
        }
        cache_flush_all(c->w->cw,
                        req->has_exptime ? (int64_t)req->exptime : 0);
        respond(c, BIN_STATUS_OK, 0, NULL, 0, NULL, 0, NULL, 0);
        break;
    case BIN_CMD_NOOP:
        respond(c, BIN_STATUS_OK, 0, NULL, 0, NULL, 0, NULL, 0);
        break;
    case BIN_CMD_VERSION:
        respond(c, BIN_STATUS_OK, 0, NULL, 0, NULL, 0, TIERCACHE_VERSION,
                (uint32_t)strlen(TIERCACHE_VERSION));
        break;
    case BIN_CMD_STAT:
        do_stat(c);
        break;
    case BIN_CMD_NONE:
    default:
        respond_error(c, BIN_STATUS_UNKNOWN_COMMAND);
        break;
    }
}

void process_bin_resume(conn_t *c)
{
    cache_item_t *it;
    int step;
    conn_slot_t *s = process_step_resume(c, &it, &step);
    switch (step) {
    case BSTEP_GET:
        finish_get(c, s->status, it);
        it = NULL;
        break;
    case BSTEP_STORE:
        finish_store(c, s->status, s->cas);
        break;
    case BSTEP_DELETE:
        finish_delete(c, s->status);
        break;
    case BSTEP_ARITH:
        finish_arith(c, s->status, s->value, s->cas);
        break;
    case BSTEP_ARITH_ADD:
        finish_arith_add(c, s->status, s->cas);
        break;
    case BSTEP_UNLINK:
    default:
        break;
    }
    cache_item_release(c->w->cw, &it);
}
