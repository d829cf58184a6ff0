/*
 * server/process_get.c - the text protocol's retrieval commands
 * get/gets/gat/gats: every key's lookup issued at once, VALUE lines in key
 * order, END. Called by process.c (process_get from the dispatch,
 * process_get_resume when a parked get completes); contracts in
 * process_int.h. On the request path: no allocation unless a key is on
 * flash and watch or stats detail wants the parked keys.
 */
#include "process_int.h"

#include <stdlib.h>
#include <string.h>

#include "logger.h"
#include "prefix_stats.h"

/* A get/gets/gat/gats key's result: item_get line and prefix counts. */
static void note_get(conn_t *c, const char *key, size_t nkey,
                     const cache_item_t *it)
{
    prefix_stats_get(process_srv(c)->detail, key, nkey, it != NULL);
    process_log_get(c, key, nkey, it);
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

bool process_get_may_pipeline(const conn_t *c, const text_request_t *req)
{
    if (req->cmd != TEXT_CMD_GET && req->cmd != TEXT_CMD_GETS)
        return false;
    const char *cur = req->keys, *end = req->keys + req->keys_len;
    const char *key;
    size_t nkey, nkeys = 0;
    text_key_status_e ks;
    while ((ks = text_next_key(&cur, end, &key, &nkey)) == TEXT_KEY_OK)
        nkeys++;
    return ks == TEXT_KEY_END && nkeys > 0 &&
           conn_slot_next(c) + nkeys <= CONN_PIPE_SLOTS;
}

/* Keeps the keys from `first` for the log at resume, if watch or stats
 * detail wants them (the request's bytes do not outlive process_get). */
static void keep_keys(conn_t *c, conn_getgrp_t *g, const char *first,
                      const char *end)
{
    if (first == NULL ||
        !(logger_wants(process_srv(c)->logger, LOGGER_FETCHERS) ||
          prefix_stats_on(process_srv(c)->detail)))
        return;
    g->keys_len = (size_t)(end - first);
    g->keys = malloc(g->keys_len ? g->keys_len : 1);
    if (g->keys)
        memcpy(g->keys, first, g->keys_len);
}

/*
 * get/gets/gat/gats. Every key's lookup is issued at once. With no get
 * parked before it, hits that come back at once are queued straight away
 * until the first PENDING; from then on each key's result goes to a slot,
 * and the connection parks (CONN_PARK_GET). A get parsed while others are
 * parked (pipelined, conn.h) puts every key's result in a slot. The slots
 * of one get start at conn_slot_next(); resume queues their VALUE lines in
 * key order, then END.
 */
void process_get(conn_t *c, const text_request_t *req)
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
    bool piped = c->gq_len > 0; /* behind a parked get: all to slots */
    size_t base = conn_slot_next(c);
    uint32_t grp = conn_get_tail(c) + 1;
    outq_mark_t mark;
    outq_mark(q, &mark);
    size_t used = 0;    /* slots taken (0 and not piped: none parked) */
    size_t pending = 0; /* of them, results to come */
    const char *first_slotted = NULL; /* its key, for the log at resume */
    bool oom = piped && !conn_reserve_slots(c, base + nkeys);
    size_t i = 0;
    cur = req->keys;
    for (; !oom && text_next_key(&cur, end, &key, &nkey) == TEXT_KEY_OK;
         i++) {
        cache_item_t *it = NULL;
        bool direct = !piped && used == 0;
        conn_slot_t *slot = conn_slot(c, base + used);
        const cache_async_t *async = conn_arm(c, slot);
        cache_status_e st = lookup(c, touch, req->exptime, key, nkey, &it,
                                   async);
        conn_disarm(c, st);
        if (st == CACHE_PENDING) {
            slot->noted = false; /* logged when it comes back */
            slot->grp = grp;
            if (used == 0)
                first_slotted = key;
            used++;
            pending++;
            if (direct && !conn_reserve_slots(c, base + nkeys - i)) {
                oom = true; /* no room for the other keys' results */
                break;
            }
            continue;
        }
        note_get(c, key, nkey, st == CACHE_OK ? it : NULL);
        if (direct) {
            if (st == CACHE_OK)
                queue_value(q, it, key, nkey, with_cas);
            if (q->oom)
                break; /* -o read_buf_mem_limit: answered below */
            continue;
        }
        if (used == 0)
            first_slotted = key;
        slot->status = st;
        slot->item = st == CACHE_OK ? it : NULL;
        slot->done = true;
        slot->noted = true;
        used++;
    }
    if (used == 0 && !piped && q->oom) {
        /* memcached's reply when the response does not fit its buffers */
        outq_rollback(q, &mark);
        q->oom = false;
        outq_text(q, "SERVER_ERROR out of memory writing get response\r\n",
                  49);
        return;
    }
    if (used == 0 && !piped) {
        outq_text(q, "END\r\n", 5);
        return;
    }
    if (oom && !piped)
        outq_rollback(q, &mark);
    conn_getgrp_t *g = conn_get_open(c);
    g->first = base;
    g->n = used;
    g->pending = pending;
    g->cas = with_cas;
    g->oom = oom;
    keep_keys(c, g, first_slotted, end);
    conn_park_get(c);
}

void process_get_resume(conn_t *c)
{
    conn_getgrp_t *g = conn_get_head(c);
    bool oom = g->oom;
    outq_mark_t mark;
    outq_mark(&c->out, &mark);
    const char *kcur = g->keys;
    const char *kend = g->keys ? g->keys + g->keys_len : NULL;
    for (size_t i = 0; i < g->n; i++) {
        conn_slot_t *s = conn_slot(c, g->first + i);
        const char *key;
        size_t nkey;
        if (kcur && text_next_key(&kcur, kend, &key, &nkey) == TEXT_KEY_OK &&
            !s->noted)
            note_get(c, key, nkey, s->status == CACHE_OK ? s->item : NULL);
        if (s->status == CACHE_OK && s->item && !oom) {
            cache_item_t *it = s->item;
            s->item = NULL;
            queue_value(&c->out, it, cache_item_key(it),
                        cache_item_nkey(it), g->cas);
            if (c->out.oom) { /* -o read_buf_mem_limit */
                outq_rollback(&c->out, &mark);
                c->out.oom = false;
                oom = true;
            }
        }
        cache_item_release(c->w->cw, &s->item);
    }
    if (oom)
        outq_text(&c->out,
                  "SERVER_ERROR out of memory writing get response\r\n",
                  49);
    else
        outq_text(&c->out, "END\r\n", 5);
}

bool process_get_one(conn_t *c, const char *key, size_t nkey,
                     conn_getgrp_kind_e kind, const void *kept,
                     size_t kept_len, cache_status_e *st, cache_item_t **it)
{
    bool piped = c->gq_len > 0;
    size_t base = conn_slot_next(c);
    uint32_t grp = conn_get_tail(c) + 1;
    conn_slot_t *slot = NULL;
    *it = NULL;
    *st = CACHE_PENDING;
    if (!piped || conn_reserve_slots(c, base + 1)) {
        slot = conn_slot(c, base);
        const cache_async_t *a = conn_arm(c, slot);
        *st = cache_get(c->w->cw, key, nkey, it, a);
        conn_disarm(c, *st);
        if (!piped && *st != CACHE_PENDING)
            return true;
    }
    conn_getgrp_t *g = conn_get_open(c);
    g->kind = kind;
    g->first = base;
    g->keys = malloc(kept_len ? kept_len : 1);
    if (g->keys) {
        memcpy(g->keys, kept, kept_len);
        g->keys_len = kept_len;
    }
    if (slot == NULL || g->keys == NULL)
        g->oom = true; /* answered as out of memory */
    if (slot != NULL) {
        g->n = 1;
        slot->noted = false;
        if (*st == CACHE_PENDING) {
            slot->grp = grp;
            g->pending = 1;
        } else {
            slot->status = *st;
            slot->item = *st == CACHE_OK ? *it : NULL;
            if (*st != CACHE_OK)
                cache_item_release(c->w->cw, it);
            slot->done = true;
        }
    }
    *it = NULL;
    conn_park_get(c);
    return false;
}

cache_status_e process_get_one_result(conn_t *c, cache_item_t **it)
{
    conn_getgrp_t *g = conn_get_head(c);
    *it = NULL;
    if (g->n != 1)
        return CACHE_NOT_FOUND;
    conn_slot_t *s = conn_slot(c, g->first);
    *it = s->item;
    s->item = NULL;
    if (s->status != CACHE_OK)
        cache_item_release(c->w->cw, it);
    return s->status;
}
