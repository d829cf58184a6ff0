/*
 * server/process_update.c - the text protocol's commands that change one
 * key: the storage commands (set/add/replace/append/prepend/cas: the
 * command line, then the value read, then the store), incr/decr, touch and
 * delete. Called by process.c (from the dispatch, and
 * process_update_resume for a parked one) and by conn.c's value read
 * (process_nread_done); contracts in process_int.h and process.h. On the
 * request path: one cache call each, no allocation.
 */
#include "process_int.h"

#include <inttypes.h>
#include <stdio.h>

#include "logger.h"
#include "prefix_stats.h"
#include "stats.h"

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

/* The reply to a store that ended with st (memcached's strings). */
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

void process_store_start(conn_t *c, const text_request_t *req)
{
    cache_item_t *it = NULL;
    cache_store_op_e op = store_op(req->cmd);
    prefix_stats_set(process_srv(c)->detail, req->key, req->nkey);
    cache_status_e st = cache_item_alloc(c->w->cw, req->key, req->nkey,
                                         req->flags, req->exptime, req->nbytes,
                                         &it);
    if (st == CACHE_OK) {
        conn_start_nread(c, it, req->nbytes, op, req->cas);
        c->noreply_store = req->noreply;
        return;
    }
    bool no_room = st == CACHE_TOO_LARGE || st == CACHE_NO_MEMORY;
    if (no_room)
        reply_store(c, st);
    else
        conn_reply(c, "CLIENT_ERROR bad command line format");
    if (no_room && logger_wants(process_srv(c)->logger, LOGGER_MUTATIONS))
        logger_item_store(process_srv(c)->logger, req->key, req->nkey, st, op,
                          0, 0, c->fd, 0);
    conn_start_swallow(c, req->nbytes + 2);
    /* memcached: a failed set must not leave the old value visible (and
     * counts no delete for it); the next command waits for it */
    if (op == CACHE_STORE_SET && no_room) {
        const cache_async_t *async = conn_arm(c, conn_slot(c, 0));
        st = cache_unlink(c->w->cw, req->key, req->nkey, async);
        conn_disarm(c, st);
        if (st == CACHE_PENDING)
            conn_park(c, CONN_PARK_SILENT);
    }
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

/* The one-line reply an arith, touch, delete or store (kind) owes for
 * status st (v: an arith's new value). */
static void keyed_reply(conn_t *c, conn_park_e kind, cache_status_e st,
                        uint64_t v)
{
    switch (kind) {
    case CONN_PARK_TOUCH:
        conn_reply(c, st == CACHE_OK ? "TOUCHED" : "NOT_FOUND");
        break;
    case CONN_PARK_DELETE:
        conn_reply(c, st == CACHE_OK ? "DELETED" : "NOT_FOUND");
        break;
    case CONN_PARK_ARITH:
        arith_reply(c, st, v);
        break;
    case CONN_PARK_STORE:
        reply_store(c, st);
        break;
    default:
        break;
    }
}

void process_keyed(conn_t *c, const text_request_t *req)
{
    conn_park_e kind = req->cmd == TEXT_CMD_TOUCH    ? CONN_PARK_TOUCH
                       : req->cmd == TEXT_CMD_DELETE ? CONN_PARK_DELETE
                                                     : CONN_PARK_ARITH;
    if (kind == CONN_PARK_DELETE)
        prefix_stats_delete(process_srv(c)->detail, req->key, req->nkey);
    uint64_t v = 0;
    process_peek_t pk;
    process_peek(c, req->key, req->nkey, &pk);
    const cache_async_t *async = conn_arm(c, conn_slot(c, 0));
    cache_status_e st;
    switch (kind) {
    case CONN_PARK_TOUCH:
        st = cache_touch(c->w->cw, req->key, req->nkey, req->exptime, async);
        break;
    case CONN_PARK_DELETE:
        st = cache_delete(c->w->cw, req->key, req->nkey, async);
        break;
    default:
        st = cache_arith(c->w->cw, req->key, req->nkey,
                         req->cmd == TEXT_CMD_INCR, req->delta, &v, NULL,
                         async);
        break;
    }
    conn_disarm(c, st);
    if (st == CACHE_PENDING) {
        conn_park(c, kind);
        return;
    }
    /* an arith that found a non-numeric value found the key */
    process_log_lookup(c, req->key, req->nkey, &pk,
                       kind == CONN_PARK_ARITH ? st != CACHE_NOT_FOUND
                                               : st == CACHE_OK);
    keyed_reply(c, kind, st, v);
}

void process_update_resume(conn_t *c, conn_park_e kind)
{
    conn_slot_t *s0 = conn_slot(c, 0);
    keyed_reply(c, kind, s0->status, s0->value);
}
