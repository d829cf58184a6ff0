/* server/bufpool.c - see bufpool.h. */
#include "bufpool.h"

#include <stdlib.h>

void bufpool_init(bufpool_t *p, size_t max_free)
{
    p->free = calloc(max_free ? max_free : 1, sizeof(char *));
    p->nfree = 0;
    p->max_free = p->free ? max_free : 0;
    p->allocated = 0;
    p->limit = 0;
    p->refused = 0;
}

void bufpool_teardown(bufpool_t *p)
{
    for (size_t i = 0; i < p->nfree; i++)
        free(p->free[i]);
    free(p->free);
    p->free = NULL;
    p->nfree = p->max_free = 0;
}

char *bufpool_get(bufpool_t *p)
{
    if (p->limit != 0 && p->allocated >= p->limit) {
        __atomic_store_n(&p->refused, p->refused + 1, __ATOMIC_RELAXED);
        return NULL;
    }
    char *b = p->nfree ? p->free[--p->nfree] : malloc(BUFPOOL_BUF_SIZE);
    if (b)
        p->allocated++;
    return b;
}

void bufpool_put(bufpool_t *p, char *buf)
{
    if (buf == NULL)
        return;
    p->allocated--;
    if (p->nfree < p->max_free)
        p->free[p->nfree++] = buf;
    else
        free(buf);
}
