/* proto_meta.c - memcached meta protocol (see proto.h and
 * /work/shared/reference/).
 *
 *   get:   mg <key> v f k\r\n             ->  VA <n> f<flags> k<key>\r\n<data>\r\n | EN k<key>\r\n
 *   mget:  (mg <key> v f k q\r\n)* mn\r\n  ->  (VA ... as above)* MN\r\n
 *   set:   ms <key> <n> F<flags> T<ttl> [M<mode>]\r\n<data>\r\n  ->  HD | NS | EX | NF
 *   del:   md <key>\r\n                   ->  HD | NF
 *   incr:  ma <key> MI|MD\r\n             ->  HD | NF
 *
 * The k flag makes every hit name its key, which verify needs (and a
 * quiet multi-get needs to tell which keys hit); both servers pay for it
 * alike. Any request may instead get ERROR, CLIENT_ERROR or SERVER_ERROR.
 *
 * Mapping onto the units of proto.h, whose retrieval replies are
 * VALUE* END: EN and MN are PU_END. A single get's VA is its whole reply,
 * so the parser (pure, stateless) splits it: for RK_GET a VA unit consumes
 * the header and data but leaves the data block's trailing \r\n, and a
 * bare \r\n at the head of a get's reply is then PU_END. No meta reply
 * starts with an empty line, so the split is unambiguous.
 */
#include "proto.h"
#include "proto_util.h"

#include <string.h>

#define MAX_LINE 2048   /* a reply line longer than this is garbage */

static bool meta_put_get(struct buf *out, const struct keyspace *ks,
                         const uint64_t *keys, size_t n, uint32_t opaque)
{
    (void)opaque;
    bool quiet = n > 1;
    /* "mg " key " v f k q\r\n" per key, "mn\r\n" at the end */
    char *p = buf_reserve(out, n * ((size_t)ks->key_size + 12) + 4);
    if (!p)
        return false;
    char *start = p;
    for (size_t i = 0; i < n; i++) {
        memcpy(p, "mg ", 3);
        p += 3;
        p += keyspace_format(ks, keys[i], p);
        if (quiet) {
            memcpy(p, " v f k q\r\n", 10);
            p += 10;
        } else {
            memcpy(p, " v f k\r\n", 8);
            p += 8;
        }
    }
    if (quiet) {
        memcpy(p, "mn\r\n", 4);
        p += 4;
    }
    out->len += (size_t)(p - start);
    return true;
}

/* ms mode flags: set, add (E), replace (R), append (A), prepend (P) */
static const char store_modes[] = {
    [SC_SET] = 'S', [SC_ADD] = 'E', [SC_REPLACE] = 'R',
    [SC_APPEND] = 'A', [SC_PREPEND] = 'P',
};

static bool meta_put_set_begin(struct buf *out, const struct keyspace *ks,
                               uint64_t key, enum store_cmd cmd, uint32_t flags,
                               uint32_t ttl, size_t vlen, uint32_t opaque)
{
    (void)opaque;
    char *p = buf_reserve(out, 3 + ks->key_size + 72 + vlen + 2);
    if (!p)
        return false;
    char *start = p;
    memcpy(p, "ms ", 3);
    p += 3;
    p += keyspace_format(ks, key, p);
    *p++ = ' ';
    p = proto_put_u64(p, vlen);
    memcpy(p, " F", 2);
    p += 2;
    p = proto_put_u64(p, flags);
    memcpy(p, " T", 2);
    p += 2;
    p = proto_put_u64(p, ttl);
    if (cmd != SC_SET) {
        memcpy(p, " M", 2);
        p[2] = store_modes[cmd];
        p += 3;
    }
    memcpy(p, "\r\n", 2);
    p += 2;
    out->len += (size_t)(p - start);
    return true;
}

static bool meta_put_del(struct buf *out, const struct keyspace *ks, uint64_t key)
{
    return proto_put_keyed(out, "md ", ks, key, "\r\n");
}

static bool meta_put_incr(struct buf *out, const struct keyspace *ks,
                          uint64_t key, bool decr)
{
    return proto_put_keyed(out, "ma ", ks, key, decr ? " MD\r\n" : " MI\r\n");
}

/* A status word at p[0..n), alone or followed by flags (memcached
 * reflects the k flag on a miss: "EN k<key>"). */
static bool word_is(const char *p, size_t n, const char *word)
{
    size_t wl = strlen(word);
    return n >= wl && memcmp(p, word, wl) == 0 && (n == wl || p[wl] == ' ');
}

/* "VA <bytes> <flag>*" at p[0..n) (n excludes \r\n). Needs f and k among
 * the flags; others (a cas, an opaque) are skipped. For RK_GET the data
 * block's trailing \r\n is left unconsumed (see the top of the file). */
static void parse_va(const char *p, size_t n, const char *buf_end,
                     enum req_kind k, struct proto_reply *r)
{
    const char *end = p + n, *q = p + 3;
    uint64_t bytes = 0, flags = 0;
    bool have_f = false, have_k = false;
    if (!proto_parse_u64(&q, end, &bytes) || bytes > (1ULL << 31))
        goto bad;
    while (q < end) {
        if (*q != ' ')
            goto bad;
        q++;
        if (q >= end)
            goto bad;
        char f = *q++;
        const char *tok = q;
        while (q < end && *q != ' ')
            q++;
        if (f == 'f') {
            const char *t = tok;
            if (!proto_parse_u64(&t, q, &flags) || t != q || flags > UINT32_MAX)
                goto bad;
            have_f = true;
        } else if (f == 'k') {
            if (q == tok)
                goto bad;
            r->key = tok;
            r->key_len = (size_t)(q - tok);
            have_k = true;
        }
    }
    if (!have_f || !have_k)
        goto bad;
    const char *data = end + 2;
    if ((uint64_t)(buf_end - data) < bytes + 2) {
        r->unit = PU_NEED_MORE;
        return;
    }
    if (data[bytes] != '\r' || data[bytes + 1] != '\n')
        goto bad;
    r->unit = PU_VALUE;
    r->flags = (uint32_t)flags;
    r->data = data;
    r->data_len = (size_t)bytes;
    r->consumed = (size_t)(data + bytes - p) + (k == RK_GET ? 0 : 2);
    return;
bad:
    r->key = NULL;
    r->key_len = 0;
    r->unit = PU_BAD;
}

static void meta_parse(const char *p, size_t len, enum req_kind k,
                       struct proto_reply *r)
{
    memset(r, 0, sizeof(*r));
    r->unit = PU_NEED_MORE;
    const char *nl = memchr(p, '\n', len < MAX_LINE ? len : MAX_LINE);
    if (!nl) {
        if (len >= MAX_LINE)
            r->unit = PU_BAD;
        return;
    }
    if (nl == p || nl[-1] != '\r') {
        r->unit = PU_BAD;
        return;
    }
    size_t n = (size_t)(nl - 1 - p);
    size_t line = n + 2;
    if (k != RK_SET && proto_line_starts(p, n, "VA ")) {
        parse_va(p, n, p + len, k, r);
        return;
    }
    r->consumed = line;
    if (k == RK_GET && n == 0)
        r->unit = PU_END;       /* trailer of a single get's VA */
    else if (k == RK_GET && word_is(p, n, "EN"))
        r->unit = PU_END;
    else if (k == RK_MGET && proto_line_is(p, n, "MN"))
        r->unit = PU_END;
    else if (k == RK_DEL && word_is(p, n, "HD"))
        r->unit = PU_DELETED;
    else if (k == RK_INCR && word_is(p, n, "HD"))
        r->unit = PU_NUMBER;
    else if ((k == RK_DEL || k == RK_INCR) && word_is(p, n, "NF"))
        r->unit = PU_NOT_FOUND;
    else if (k == RK_INCR && word_is(p, n, "NS"))
        r->unit = PU_NOT_STORED;
    else if (k == RK_SET && word_is(p, n, "HD"))
        r->unit = PU_STORED;
    else if (k == RK_SET && word_is(p, n, "NS"))
        r->unit = PU_NOT_STORED;
    else if (k == RK_SET && word_is(p, n, "EX"))
        r->unit = PU_EXISTS;
    else if (k == RK_SET && word_is(p, n, "NF"))
        r->unit = PU_NOT_FOUND;
    else if (proto_line_is(p, n, "ERROR"))
        r->unit = PU_ERROR;
    else if (proto_line_starts(p, n, "CLIENT_ERROR"))
        r->unit = PU_CLIENT_ERROR;
    else if (proto_line_starts(p, n, "SERVER_ERROR"))
        r->unit = PU_SERVER_ERROR;
    else {
        r->unit = PU_BAD;
        r->consumed = 0;
    }
}

const struct proto_ops proto_meta = {
    .name = "meta",
    .put_get = meta_put_get,
    .put_set_begin = meta_put_set_begin,
    .put_set_end = proto_put_crlf,
    .put_del = meta_put_del,
    .put_incr = meta_put_incr,
    .parse = meta_parse,
};
