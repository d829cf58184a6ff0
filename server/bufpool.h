/*
 * server/bufpool.h - a per-worker cache of fixed-size buffers.
 *
 * Connections borrow read buffers and reply-text blocks from their worker's
 * pool while they have something in flight and give them back when idle, so
 * an idle connection holds no buffer and a busy one does not malloc per
 * request. One pool per worker thread; not thread-safe.
 */
#ifndef TIERCACHE_BUFPOOL_H
#define TIERCACHE_BUFPOOL_H

#include <stddef.h>

#define BUFPOOL_BUF_SIZE (16 * 1024)

typedef struct bufpool {
    char **free;      /* cached buffers */
    size_t nfree;
    size_t max_free;  /* cache at most this many; free the rest */
    size_t allocated; /* buffers currently handed out */
    size_t limit;     /* hand out at most this many (0: no limit) */
    size_t refused;   /* gets refused by the limit (atomic loads) */
} bufpool_t;

/* Initializes an empty pool that caches up to `max_free` buffers. */
void bufpool_init(bufpool_t *p, size_t max_free);

/* Frees every cached buffer. Buffers still handed out are the caller's. */
void bufpool_teardown(bufpool_t *p);

/* Returns a BUFPOOL_BUF_SIZE buffer, or NULL when malloc fails or `limit`
 * buffers are out already (-o read_buf_mem_limit; counted in refused).
 * O(1). */
char *bufpool_get(bufpool_t *p);

/* Gives a buffer from bufpool_get() back. NULL-safe. O(1). */
void bufpool_put(bufpool_t *p, char *buf);

#endif /* TIERCACHE_BUFPOOL_H */
