/* buf.h - growable byte buffer with a read offset.
 *
 *   data                off                 len            cap
 *   |  consumed bytes   |  unread bytes      |  free space  |
 *
 * Writers append at len; readers consume from off. buf_compact() moves
 * the unread bytes to the front. One owner, no locking.
 */
#ifndef TCB_BUF_H
#define TCB_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t off;
    size_t len;
    size_t cap;
};

/* Allocates cap bytes. Returns false on allocation failure. */
bool buf_init(struct buf *b, size_t cap);

/* Frees the storage; the buffer may be buf_init()ed again. */
void buf_free(struct buf *b);

/* Makes room for at least n more bytes after len, compacting first and
 * then doubling the capacity. Returns a pointer to the free space, or NULL
 * if the allocation fails (the buffer is unchanged). */
char *buf_reserve(struct buf *b, size_t n);

/* Appends n bytes. Returns false on allocation failure. */
bool buf_append(struct buf *b, const void *p, size_t n);

/* Moves unread bytes to the start of the buffer. O(unread). */
void buf_compact(struct buf *b);

/* Drops every byte. */
static inline void buf_reset(struct buf *b)
{
    b->off = 0;
    b->len = 0;
}

static inline size_t buf_unread(const struct buf *b)
{
    return b->len - b->off;
}

#endif
