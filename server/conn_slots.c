/*
 * server/conn_slots.c - a connection's async cache calls: result slots
 * (slot 0 inline, the others in chunks that never move), arming and
 * parking, and the ring of parked gets that lets a connection pipeline
 * its flash reads (conn.h "Parking" and "Pipelined gets"; internal
 * contracts in conn_slots.h). Worker thread only.
 */
#include "conn_slots.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "worker.h"

static void slot_done(void *ctx, cache_result_t *r);

static void slot_init(conn_t *c, conn_slot_t *s)
{
    memset(s, 0, sizeof(*s));
    s->c = c;
    s->async.done = slot_done;
    s->async.ctx = s;
}

void conn_slots_init(conn_t *c)
{
    slot_init(c, &c->slot0);
    c->gq = &c->gq0;
    c->gq_cap = 1;
    c->gq_head = c->gq_len = 0;
}

void conn_slots_release(conn_t *c)
{
    cache_item_release(c->w->cw, &c->slot0.item);
    for (size_t k = 0; k < c->nchunks; k++)
        for (size_t i = 0; i < CONN_SLOT_CHUNK; i++)
            cache_item_release(c->w->cw, &c->chunks[k][i].item);
}

/* Frees slots 1.. (nothing in flight). */
static void free_chunks(conn_t *c)
{
    for (size_t k = 0; k < c->nchunks; k++)
        free(c->chunks[k]);
    free(c->chunks);
    c->chunks = NULL;
    c->nchunks = 0;
}

void conn_slots_free(conn_t *c)
{
    conn_slots_release(c);
    free_chunks(c);
    while (c->gq_len > 0)
        conn_get_pop(c);
    if (c->gq != &c->gq0)
        free(c->gq);
    c->gq = &c->gq0;
    c->gq_cap = 1;
}

static void slot_done(void *ctx, cache_result_t *r)
{
    conn_slot_t *s = ctx;
    conn_t *c = s->c;
    s->status = r->status;
    s->item = r->item;
    r->item = NULL;
    s->value = r->value;
    s->cas = r->cas;
    s->done = true;
    c->inflight--;
    if (c->zombie) {
        cache_item_release(c->w->cw, &s->item);
        if (c->inflight == 0) {
            c->w->nzombies--;
            conn_free(c);
        }
        return;
    }
    /* resume on the loop, not here: we are inside cache_worker_poll() */
    if (s->grp) {
        /* a parked get: its reply is due once the oldest has completed */
        conn_getgrp_t *g = &c->gq[s->grp - 1];
        g->pending--;
        if (g->pending == 0 && g == conn_get_head(c))
            event_active(&c->resume, EV_TIMEOUT, 0);
        return;
    }
    if (c->inflight == 0 && !c->issuing)
        event_active(&c->resume, EV_TIMEOUT, 0);
}

conn_slot_t *conn_slot(conn_t *c, size_t i)
{
    if (i == 0)
        return &c->slot0;
    i--;
    return &c->chunks[i / CONN_SLOT_CHUNK][i % CONN_SLOT_CHUNK];
}

bool conn_reserve_slots(conn_t *c, size_t n)
{
    size_t need = n <= 1 ? 0 : (n - 1 + CONN_SLOT_CHUNK - 1) / CONN_SLOT_CHUNK;
    if (need <= c->nchunks)
        return true;
    /* the chunk table moves, the chunks (the slots' addresses) do not */
    conn_slot_t **nc = realloc(c->chunks, need * sizeof(*nc));
    if (nc == NULL)
        return false;
    c->chunks = nc;
    while (c->nchunks < need) {
        conn_slot_t *ch = malloc(CONN_SLOT_CHUNK * sizeof(*ch));
        if (ch == NULL)
            return false;
        for (size_t i = 0; i < CONN_SLOT_CHUNK; i++)
            slot_init(c, &ch[i]);
        c->chunks[c->nchunks++] = ch;
    }
    return true;
}

const cache_async_t *conn_arm(conn_t *c, conn_slot_t *s)
{
    s->grp = 0;
    s->done = false;
    s->status = CACHE_OK;
    s->item = NULL;
    s->value = 0;
    s->cas = 0;
    c->inflight++;
    c->issuing = true;
    return &s->async;
}

void conn_disarm(conn_t *c, cache_status_e st)
{
    c->issuing = false;
    if (st != CACHE_PENDING)
        c->inflight--;
}

void conn_park(conn_t *c, conn_park_e kind)
{
    c->park = kind;
    c->park_noreply = c->noreply;
    /* every callback already fired (inline): resume at once, in order */
    if (c->inflight == 0)
        event_active(&c->resume, EV_TIMEOUT, 0);
}

void conn_slots_trim(conn_t *c)
{
    if (c->inflight == 0 && c->nchunks * CONN_SLOT_CHUNK > 1024) {
        conn_slots_release(c);
        free_chunks(c);
    }
}

/* ---- parked gets ------------------------------------------------------- */

unsigned conn_get_tail(const conn_t *c)
{
    return (c->gq_head + c->gq_len) % c->gq_cap;
}

size_t conn_slot_next(const conn_t *c)
{
    if (c->gq_len == 0)
        return 0;
    const conn_getgrp_t *g = &c->gq[(c->gq_head + c->gq_len - 1) % c->gq_cap];
    return g->first + g->n;
}

conn_getgrp_t *conn_get_open(conn_t *c)
{
    conn_getgrp_t *g = &c->gq[conn_get_tail(c)];
    memset(g, 0, sizeof(*g));
    c->gq_len++;
    return g;
}

void conn_park_get(conn_t *c)
{
    c->park = CONN_PARK_GET;
    c->park_noreply = false;
    conn_getgrp_t *g = conn_get_head(c);
    if (g && g->pending == 0)
        event_active(&c->resume, EV_TIMEOUT, 0);
}

conn_getgrp_t *conn_get_head(conn_t *c)
{
    return c->gq_len ? &c->gq[c->gq_head] : NULL;
}

void conn_get_pop(conn_t *c)
{
    conn_getgrp_t *g = &c->gq[c->gq_head];
    free(g->keys);
    g->keys = NULL;
    c->gq_head = (c->gq_head + 1) % c->gq_cap;
    if (--c->gq_len == 0)
        c->gq_head = 0;
}

bool conn_pipe_room(conn_t *c)
{
    if (c->gq_len < c->gq_cap)
        return true;
    if (c->gq != &c->gq0)
        return false; /* CONN_PIPE_MAX parked */
    conn_getgrp_t *ng = calloc(CONN_PIPE_MAX, sizeof(*ng));
    if (ng == NULL)
        return false;
    ng[0] = c->gq0; /* gq_cap 1: head 0, len 1 */
    c->gq = ng;
    c->gq_cap = CONN_PIPE_MAX;
    c->gq_head = 0;
    return true;
}

bool conn_pipe_ok(const conn_t *c)
{
    return c->park == CONN_PARK_GET && !c->dgram && !c->watch &&
           !c->pipe_eof && c->proto != CONN_PROTO_AUTO &&
           c->state == CONN_PARSE && !c->close_after_write &&
           c->out.pending <= CONN_OUT_CAP &&
           (c->gq_len < c->gq_cap || c->gq == &c->gq0);
}
