/*
 * server/outq.h - a connection's pending reply bytes, written with writev.
 *
 * Reply text is copied into blocks borrowed from the worker's bufpool (block
 * addresses never move, so iovecs can point into them); item values are
 * referenced in place, and the item reference is held until the queue is
 * fully written. Adjacent text is merged into one iovec.
 *
 *   iov[head .. niov)   not yet written (iov[head] may be partly written)
 *   held[0 .. nheld)    item references released when the queue drains
 *   blocks[0 .. nblocks) text blocks, the last one filled up to tail_used
 */
#ifndef TIERCACHE_OUTQ_H
#define TIERCACHE_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include "bufpool.h"
#include "cache.h"
#include "transport.h"

typedef struct outq {
    struct iovec *iov;
    size_t niov, iov_cap, head;
    cache_item_t **held;
    size_t nheld, held_cap;
    char **blocks;
    size_t nblocks, blocks_cap, tail_used;
    size_t pending;   /* bytes not yet written */
    bool oom;         /* an append failed: the reply stream is broken */
    bufpool_t *pool;
    cache_worker_t *cw;
} outq_t;

/* A position to roll back to (a get that fails half way). */
typedef struct outq_mark {
    size_t niov, nheld, nblocks, tail_used, pending, last_len;
} outq_mark_t;

typedef enum outq_status {
    OUTQ_DONE = 0, /* everything written */
    OUTQ_AGAIN,    /* the socket is full: wait for EV_WRITE */
    OUTQ_ERROR,    /* write error: close the connection */
} outq_status_e;

/* Initializes an empty queue using `pool` for text and `cw` to release
 * items. Allocates nothing. */
void outq_init(outq_t *q, bufpool_t *pool, cache_worker_t *cw);

/* Releases every held item and buffer (written or not). */
void outq_destroy(outq_t *q);

/* Copies `len` bytes of text into the queue. Sets q->oom on failure. */
void outq_text(outq_t *q, const char *s, size_t len);

/* printf-style text (one reply line, at most 1024 bytes). */
void outq_printf(outq_t *q, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Queues `len` bytes at `p` by reference: they must stay valid until the
 * queue drains (hold the item they belong to with outq_hold). */
void outq_ref(outq_t *q, const char *p, size_t len);

/* Takes over the caller's reference to `it`; released when drained. */
void outq_hold(outq_t *q, cache_item_t *it);

/* Records the current end of the queue. */
void outq_mark(const outq_t *q, outq_mark_t *m);

/* Drops everything queued after mark `m` (releasing items held since). */
void outq_rollback(outq_t *q, const outq_mark_t *m);

/* Writes as much as the socket takes (writev, IOV_MAX at a time). On DONE the
 * queue is reset: items released, blocks returned. *written gets the bytes
 * written by this call. */
outq_status_e outq_write(outq_t *q, int fd, size_t *written);

/* The same through transport `t` (a TLS session may take fewer bytes than
 * offered, or wait for EV_READ: t->write_wants_read). */
outq_status_e outq_send(outq_t *q, transport_t *t, size_t *written);

#endif /* TIERCACHE_OUTQ_H */
