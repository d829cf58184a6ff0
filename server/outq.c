/* server/outq.c - see outq.h. */
#include "outq.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

void outq_init(outq_t *q, bufpool_t *pool, cache_worker_t *cw)
{
    memset(q, 0, sizeof(*q));
    q->pool = pool;
    q->cw = cw;
}

static bool grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *p = realloc(*arr, n * elem);
    if (p == NULL)
        return false;
    *arr = p;
    *cap = n;
    return true;
}

/* Empties the queue, keeping the arrays (shrunk if they grew large). */
static void reset(outq_t *q)
{
    for (size_t i = 0; i < q->nheld; i++)
        cache_item_release(q->cw, &q->held[i]);
    for (size_t i = 0; i < q->nblocks; i++)
        bufpool_put(q->pool, q->blocks[i]);
    q->nheld = q->nblocks = q->niov = q->head = 0;
    q->tail_used = q->pending = 0;
    q->oom = false;
    if (q->iov_cap > 1024) {
        free(q->iov);
        q->iov = NULL;
        q->iov_cap = 0;
    }
    if (q->held_cap > 1024) {
        free(q->held);
        q->held = NULL;
        q->held_cap = 0;
    }
}

void outq_destroy(outq_t *q)
{
    reset(q);
    free(q->iov);
    free(q->held);
    free(q->blocks);
    memset(q, 0, sizeof(*q));
}

static void add_iov(outq_t *q, const char *p, size_t len)
{
    if (q->niov > q->head) {
        struct iovec *last = &q->iov[q->niov - 1];
        if ((const char *)last->iov_base + last->iov_len == p) {
            last->iov_len += len;
            q->pending += len;
            return;
        }
    }
    if (!grow((void **)&q->iov, &q->iov_cap, q->niov + 1, sizeof(*q->iov))) {
        q->oom = true;
        return;
    }
    q->iov[q->niov].iov_base = (void *)(uintptr_t)p;
    q->iov[q->niov].iov_len = len;
    q->niov++;
    q->pending += len;
}

/* Returns room for `len` bytes of text at the tail (len <= block size). */
static char *text_room(outq_t *q, size_t len)
{
    if (q->nblocks == 0 || BUFPOOL_BUF_SIZE - q->tail_used < len) {
        if (!grow((void **)&q->blocks, &q->blocks_cap, q->nblocks + 1,
                  sizeof(char *)))
            return NULL;
        char *b = bufpool_get(q->pool);
        if (b == NULL)
            return NULL;
        q->blocks[q->nblocks++] = b;
        q->tail_used = 0;
    }
    return q->blocks[q->nblocks - 1] + q->tail_used;
}

void outq_text(outq_t *q, const char *s, size_t len)
{
    while (len > 0) {
        size_t n = len < BUFPOOL_BUF_SIZE ? len : BUFPOOL_BUF_SIZE;
        char *dst = text_room(q, n);
        if (dst == NULL) {
            q->oom = true;
            return;
        }
        memcpy(dst, s, n);
        q->tail_used += n;
        add_iov(q, dst, n);
        s += n;
        len -= n;
    }
}

void outq_printf(outq_t *q, const char *fmt, ...)
{
    char *dst = text_room(q, 1024);
    if (dst == NULL) {
        q->oom = true;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, 1024, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= 1024) {
        q->oom = true;
        return;
    }
    q->tail_used += (size_t)n;
    add_iov(q, dst, (size_t)n);
}

void outq_ref(outq_t *q, const char *p, size_t len)
{
    if (len > 0)
        add_iov(q, p, len);
}

void outq_hold(outq_t *q, cache_item_t *it)
{
    if (!grow((void **)&q->held, &q->held_cap, q->nheld + 1,
              sizeof(*q->held))) {
        q->oom = true;
        cache_item_release(q->cw, &it);
        return;
    }
    q->held[q->nheld++] = it;
}

void outq_mark(const outq_t *q, outq_mark_t *m)
{
    m->niov = q->niov;
    m->nheld = q->nheld;
    m->nblocks = q->nblocks;
    m->tail_used = q->tail_used;
    m->pending = q->pending;
    m->last_len = q->niov ? q->iov[q->niov - 1].iov_len : 0;
}

void outq_rollback(outq_t *q, const outq_mark_t *m)
{
    for (size_t i = m->nheld; i < q->nheld; i++)
        cache_item_release(q->cw, &q->held[i]);
    q->nheld = m->nheld;
    while (q->nblocks > m->nblocks)
        bufpool_put(q->pool, q->blocks[--q->nblocks]);
    q->tail_used = m->tail_used;
    q->niov = m->niov;
    if (q->niov > q->head)
        q->iov[q->niov - 1].iov_len = m->last_len;
    q->pending = m->pending;
}

outq_status_e outq_send(outq_t *q, transport_t *t, size_t *written)
{
    *written = 0;
    while (q->head < q->niov) {
        size_t n = q->niov - q->head;
        if (n > IOV_MAX)
            n = IOV_MAX;
        size_t w = 0;
        transport_status_e st = transport_writev(t, &q->iov[q->head], (int)n,
                                                 &w);
        if (st == TRANSPORT_AGAIN)
            return OUTQ_AGAIN;
        if (st != TRANSPORT_OK)
            return OUTQ_ERROR;
        size_t left = w;
        *written += left;
        q->pending -= left;
        while (left > 0) {
            struct iovec *v = &q->iov[q->head];
            if (left >= v->iov_len) {
                left -= v->iov_len;
                q->head++;
            } else {
                v->iov_base = (char *)v->iov_base + left;
                v->iov_len -= left;
                left = 0;
            }
        }
    }
    reset(q);
    return OUTQ_DONE;
}

outq_status_e outq_write(outq_t *q, int fd, size_t *written)
{
    transport_t t;
    transport_plain_init(&t, fd); /* borrowed: never closed here */
    return outq_send(q, &t, written);
}
