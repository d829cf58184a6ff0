/* proto_util.c - helpers shared by the protocol encoders/parsers. */
#include "proto_util.h"

#include <string.h>

#include "keyspace.h"

char *proto_put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

bool proto_parse_u64(const char **pp, const char *end, uint64_t *out)
{
    const char *p = *pp;
    uint64_t v = 0;
    if (p >= end || *p < '0' || *p > '9')
        return false;
    while (p < end && *p >= '0' && *p <= '9') {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*p++ - '0');
    }
    *pp = p;
    *out = v;
    return true;
}

bool proto_line_is(const char *p, size_t n, const char *word)
{
    size_t wl = strlen(word);
    return n == wl && memcmp(p, word, wl) == 0;
}

bool proto_line_starts(const char *p, size_t n, const char *word)
{
    size_t wl = strlen(word);
    return n >= wl && memcmp(p, word, wl) == 0;
}

bool proto_put_crlf(struct buf *out)
{
    return buf_append(out, "\r\n", 2);
}

bool proto_put_keyed(struct buf *out, const char *head, const struct keyspace *ks,
                     uint64_t key, const char *tail)
{
    size_t hl = strlen(head), tl = strlen(tail);
    char *p = buf_reserve(out, hl + ks->key_size + tl);
    if (!p)
        return false;
    memcpy(p, head, hl);
    size_t kl = keyspace_format(ks, key, p + hl);
    memcpy(p + hl + kl, tail, tl);
    out->len += hl + kl + tl;
    return true;
}
