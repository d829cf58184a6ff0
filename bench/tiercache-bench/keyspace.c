/* keyspace.c - key names and key choice (see keyspace.h). */
#include "keyspace.h"

#include <string.h>

static unsigned digits(uint64_t v)
{
    unsigned d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

enum keyspace_status keyspace_init(struct keyspace *ks, uint64_t nkeys,
                                   unsigned key_size, const char *prefix)
{
    size_t plen = strlen(prefix);
    if (nkeys == 0)
        return KS_ECOUNT;
    if (plen > KEY_MAX_LEN)
        return KS_EPREFIX;
    for (size_t i = 0; i < plen; i++)
        if ((unsigned char)prefix[i] <= ' ' || prefix[i] == 0x7f)
            return KS_EPREFIX;
    if (key_size > KEY_MAX_LEN || key_size < plen + digits(nkeys - 1))
        return KS_ESIZE;
    memset(ks, 0, sizeof(*ks));
    ks->nkeys = nkeys;
    ks->key_size = key_size;
    ks->prefix_len = (unsigned)plen;
    ks->width = key_size - (unsigned)plen;
    memcpy(ks->prefix, prefix, plen + 1);
    return KS_OK;
}

const char *keyspace_strerror(enum keyspace_status st)
{
    switch (st) {
    case KS_OK: return "ok";
    case KS_EPREFIX: return "key prefix must be printable, without spaces, at most 250 bytes";
    case KS_ESIZE: return "key size must be at most 250 and hold the prefix plus the largest key number";
    case KS_ECOUNT: return "the key space needs at least one key";
    }
    return "unknown keyspace status";
}

void keyspace_init_names(struct keyspace *ks, uint64_t nkeys,
                         const char *names, const uint64_t *off,
                         const uint8_t *len, const uint32_t *index,
                         uint64_t index_mask)
{
    memset(ks, 0, sizeof(*ks));
    ks->nkeys = nkeys;
    ks->names = names;
    ks->off = off;
    ks->len = len;
    ks->index = index;
    ks->index_mask = index_mask;
    for (uint64_t i = 0; i < nkeys; i++)
        if (len[i] > ks->key_size)
            ks->key_size = len[i];
}

uint64_t keyspace_hash(const char *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;     /* FNV-1a, then mixed */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 0x100000001b3ULL;
    return mix64(h);
}

size_t keyspace_format(const struct keyspace *ks, uint64_t idx, char *dst)
{
    if (ks->names) {
        memcpy(dst, ks->names + ks->off[idx], ks->len[idx]);
        return ks->len[idx];
    }
    memcpy(dst, ks->prefix, ks->prefix_len);
    char *p = dst + ks->key_size;
    for (unsigned i = 0; i < ks->width; i++) {
        *--p = (char)('0' + idx % 10);
        idx /= 10;
    }
    return ks->key_size;
}

bool keyspace_parse(const struct keyspace *ks, const char *key, size_t len,
                    uint64_t *idx)
{
    if (ks->names) {
        for (uint64_t s = keyspace_hash(key, len) & ks->index_mask;;
             s = (s + 1) & ks->index_mask) {
            uint32_t v = ks->index[s];
            if (v == 0)
                return false;
            if (ks->len[v - 1] == len &&
                memcmp(ks->names + ks->off[v - 1], key, len) == 0) {
                *idx = v - 1;
                return true;
            }
        }
    }
    if (len != ks->key_size || memcmp(key, ks->prefix, ks->prefix_len) != 0)
        return false;
    uint64_t v = 0;
    for (size_t i = ks->prefix_len; i < len; i++) {
        if (key[i] < '0' || key[i] > '9')
            return false;
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(key[i] - '0');
    }
    if (v >= ks->nkeys)
        return false;
    *idx = v;
    return true;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

void keypick_init(struct keypick *kp, uint64_t base, uint64_t stride,
                  uint64_t n, const struct zipf *z)
{
    kp->base = base;
    kp->stride = stride;
    kp->n = n ? n : 1;
    kp->z = z;
    uint64_t m = (uint64_t)((double)kp->n * 0.6180339887498949) | 1;
    if (m >= kp->n)
        m = 1;
    while (gcd(m, kp->n) != 1)
        m++;
    kp->mult = m;
}
