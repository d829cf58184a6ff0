/*
 * server/prefix_stats.c - see prefix_stats.h.
 *
 * Lock order: p->lock is a leaf.
 */
#include "prefix_stats.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outq.h"

#define NBUCKETS 256 /* memcached's PREFIX_HASH_SIZE */

typedef struct pfx {
    struct pfx *next;
    uint64_t get, hit, set, del;
    size_t len;
    char name[];
} pfx_t;

struct prefix_stats {
    _Atomic bool on;
    char delim;
    pthread_mutex_t lock;     /* the buckets and counts */
    pfx_t *buckets[NBUCKETS];
    size_t n;
};

const char *prefix_stats_strerror(prefix_stats_status_e st)
{
    return st == PREFIX_STATS_OK ? "ok" : "out of memory";
}

prefix_stats_status_e prefix_stats_create(char delim, prefix_stats_t **out)
{
    prefix_stats_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return PREFIX_STATS_ENOMEM;
    p->delim = delim;
    pthread_mutex_init(&p->lock, NULL);
    *out = p;
    return PREFIX_STATS_OK;
}

static void clear_locked(prefix_stats_t *p)
{
    for (size_t i = 0; i < NBUCKETS; i++) {
        pfx_t *next;
        for (pfx_t *x = p->buckets[i]; x; x = next) {
            next = x->next;
            free(x);
        }
        p->buckets[i] = NULL;
    }
    p->n = 0;
}

void prefix_stats_destroy(prefix_stats_t **pp)
{
    prefix_stats_t *p = *pp;
    if (p == NULL)
        return;
    clear_locked(p);
    pthread_mutex_destroy(&p->lock);
    free(p);
    *pp = NULL;
}

void prefix_stats_enable(prefix_stats_t *p, bool on)
{
    atomic_store_explicit(&p->on, on, memory_order_relaxed);
}

bool prefix_stats_on(prefix_stats_t *p)
{
    return p != NULL && atomic_load_explicit(&p->on, memory_order_relaxed);
}

/* MurmurHash3_x86_32, seed 0: memcached's default hash, which places the
 * prefixes in its buckets (and so orders its dump). */
static uint32_t murmur3_32(const char *key, size_t len)
{
    const uint8_t *data = (const uint8_t *)key;
    const size_t nblocks = len / 4;
    uint32_t h1 = 0;
    const uint32_t c1 = 0xcc9e2d51, c2 = 0x1b873593;
    for (size_t i = 0; i < nblocks; i++) {
        uint32_t k1;
        memcpy(&k1, data + i * 4, 4); /* little-endian, as x86 */
        k1 *= c1;
        k1 = (k1 << 15) | (k1 >> 17);
        k1 *= c2;
        h1 ^= k1;
        h1 = (h1 << 13) | (h1 >> 19);
        h1 = h1 * 5 + 0xe6546b64;
    }
    const uint8_t *tail = data + nblocks * 4;
    uint32_t k1 = 0;
    switch (len & 3) {
    case 3: k1 ^= (uint32_t)tail[2] << 16; /* fall through */
    case 2: k1 ^= (uint32_t)tail[1] << 8;  /* fall through */
    case 1:
        k1 ^= tail[0];
        k1 *= c1;
        k1 = (k1 << 15) | (k1 >> 17);
        k1 *= c2;
        h1 ^= k1;
        break;
    default: break;
    }
    h1 ^= (uint32_t)len;
    h1 ^= h1 >> 16;
    h1 *= 0x85ebca6b;
    h1 ^= h1 >> 13;
    h1 *= 0xc2b2ae35;
    h1 ^= h1 >> 16;
    return h1;
}

/* The entry of key's prefix, made if new (lock held); NULL: no prefix, the
 * bound, or out of memory. */
static pfx_t *find(prefix_stats_t *p, const char *key, size_t nkey)
{
    const char *d = memchr(key, p->delim, nkey);
    if (d == NULL)
        return NULL;
    size_t len = (size_t)(d - key);
    uint32_t b = murmur3_32(key, len) % NBUCKETS;
    for (pfx_t *x = p->buckets[b]; x; x = x->next)
        if (x->len == len && memcmp(x->name, key, len) == 0)
            return x;
    if (p->n >= PREFIX_STATS_MAX)
        return NULL;
    pfx_t *x = calloc(1, sizeof(*x) + len + 1);
    if (x == NULL)
        return NULL;
    memcpy(x->name, key, len);
    x->name[len] = '\0';
    x->len = len;
    x->next = p->buckets[b];
    p->buckets[b] = x;
    p->n++;
    return x;
}

typedef enum what { W_GET, W_HIT, W_SET, W_DEL } what_e;

static void count(prefix_stats_t *p, const char *key, size_t nkey, what_e w)
{
    if (!prefix_stats_on(p))
        return;
    pthread_mutex_lock(&p->lock);
    pfx_t *x = find(p, key, nkey);
    if (x) {
        switch (w) {
        case W_HIT: x->hit++; /* fall through */
        case W_GET: x->get++; break;
        case W_SET: x->set++; break;
        case W_DEL: x->del++; break;
        }
    }
    pthread_mutex_unlock(&p->lock);
}

void prefix_stats_get(prefix_stats_t *p, const char *key, size_t nkey,
                      bool hit)
{
    count(p, key, nkey, hit ? W_HIT : W_GET);
}

void prefix_stats_set(prefix_stats_t *p, const char *key, size_t nkey)
{
    count(p, key, nkey, W_SET);
}

void prefix_stats_delete(prefix_stats_t *p, const char *key, size_t nkey)
{
    count(p, key, nkey, W_DEL);
}

void prefix_stats_dump(prefix_stats_t *p, struct outq *q)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < NBUCKETS; i++)
        for (pfx_t *x = p->buckets[i]; x; x = x->next)
            outq_printf(q,
                        "PREFIX %s get %" PRIu64 " hit %" PRIu64 " set %" PRIu64
                        " del %" PRIu64 "\r\n",
                        x->name, x->get, x->hit, x->set, x->del);
    pthread_mutex_unlock(&p->lock);
}

char *prefix_stats_text(prefix_stats_t *p, size_t *len)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (f == NULL)
        return NULL;
    if (p != NULL) {
        pthread_mutex_lock(&p->lock);
        for (size_t i = 0; i < NBUCKETS; i++)
            for (pfx_t *x = p->buckets[i]; x; x = x->next)
                fprintf(f,
                        "PREFIX %s get %" PRIu64 " hit %" PRIu64
                        " set %" PRIu64 " del %" PRIu64 "\r\n",
                        x->name, x->get, x->hit, x->set, x->del);
        pthread_mutex_unlock(&p->lock);
    }
    fputs("END\r\n", f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    *len = size;
    return buf;
}

void prefix_stats_clear(prefix_stats_t *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    clear_locked(p);
    pthread_mutex_unlock(&p->lock);
}
