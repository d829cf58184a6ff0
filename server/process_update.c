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
        logger_wants(process_srv(c)->logger, LOGGER_MUTATIONS))
        logger_item_store(process_srv(c)->logger, req->key, req->nkey, st, op, 0, 0,
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

void process_arith(conn_t *c, const text_request_t *req)
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

void process_touch(conn_t *c, const text_request_t *req)
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

void process_delete(conn_t *c, const text_request_t *req)
{
    process_peek_t pk;
    prefix_stats_delete(process_srv(c)->detail, req->key, req->nkey);
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

void process_update_resume(conn_t *c, conn_park_e kind)
{
    conn_slot_t *s0 = conn_slot(c, 0);
    switch (kind) {
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
    default:
        break;
    }
}
