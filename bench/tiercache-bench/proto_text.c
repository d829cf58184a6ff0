/* proto_text.c - memcached classic text protocol (see proto.h).
 *
 *   get <key>*\r\n            ->  (VALUE <key> <flags> <bytes> [<cas>]\r\n<data>\r\n)* END\r\n
 *   set|add|replace|append|prepend <key> <flags> <ttl> <n>\r\n<data>\r\n
 *                             ->  STORED\r\n | NOT_STORED\r\n | ...
 *   delete <key>\r\n         ->  DELETED\r\n | NOT_FOUND\r\n
 *   incr|decr <key> 1\r\n    ->  <number>\r\n | NOT_FOUND\r\n
 *
 * Every request or reply line may instead be answered with ERROR,
 * CLIENT_ERROR <msg> or SERVER_ERROR <msg>.
 */
#include "proto.h"
#include "proto_util.h"

#include <string.h>

#define MAX_LINE 2048   /* a reply line longer than this is garbage */

static bool text_put_get(struct buf *out, const struct keyspace *ks,
                         const uint64_t *keys, size_t n, uint32_t opaque)
{
    (void)opaque;
    char *p = buf_reserve(out, 6 + n * ((size_t)ks->key_size + 1));
    if (!p)
        return false;
    char *start = p;
    memcpy(p, "get", 3);
    p += 3;
    for (size_t i = 0; i < n; i++) {
        *p++ = ' ';
        p += keyspace_format(ks, keys[i], p);
    }
    *p++ = '\r';
    *p++ = '\n';
    out->len += (size_t)(p - start);
    return true;
}

static const char *const store_verbs[] = {
    [SC_SET] = "set ", [SC_ADD] = "add ", [SC_REPLACE] = "replace ",
    [SC_APPEND] = "append ", [SC_PREPEND] = "prepend ",
};

static bool text_put_set_begin(struct buf *out, const struct keyspace *ks,
                               uint64_t key, enum store_cmd cmd, uint32_t flags,
                               uint32_t ttl, size_t vlen, uint32_t opaque)
{
    (void)opaque;
    char *p = buf_reserve(out, 8 + ks->key_size + 64 + vlen + 2);
    if (!p)
        return false;
    char *start = p;
    size_t vl = strlen(store_verbs[cmd]);
    memcpy(p, store_verbs[cmd], vl);
    p += vl;
    p += keyspace_format(ks, key, p);
    *p++ = ' ';
    p = proto_put_u64(p, flags);
    *p++ = ' ';
    p = proto_put_u64(p, ttl);
    *p++ = ' ';
    p = proto_put_u64(p, vlen);
    *p++ = '\r';
    *p++ = '\n';
    out->len += (size_t)(p - start);
    return true;
}

static bool text_put_del(struct buf *out, const struct keyspace *ks, uint64_t key)
{
    return proto_put_keyed(out, "delete ", ks, key, "\r\n");
}

static bool text_put_incr(struct buf *out, const struct keyspace *ks,
                          uint64_t key, bool decr)
{
    return proto_put_keyed(out, decr ? "decr " : "incr ", ks, key, " 1\r\n");
}

/* A line of decimal digits (an incr / decr reply). */
static bool line_is_number(const char *p, size_t n)
{
    if (n == 0 || n > 20)
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

/* "VALUE <key> <flags> <bytes> [<cas>]" at p[0..n) (n excludes \r\n). */
static void parse_value(const char *p, size_t n, const char *buf_end,
                        struct proto_reply *r)
{
    const char *end = p + n, *q = p + 6;
    const char *key = q;
    while (q < end && *q != ' ')
        q++;
    uint64_t flags = 0, bytes = 0;
    if (q == key || q >= end)
        goto bad;
    r->key = key;
    r->key_len = (size_t)(q - key);
    q++;
    if (!proto_parse_u64(&q, end, &flags) || flags > UINT32_MAX || q >= end ||
        *q != ' ')
        goto bad;
    q++;
    if (!proto_parse_u64(&q, end, &bytes) || bytes > (1ULL << 31))
        goto bad;
    if (q < end) {
        uint64_t cas;
        if (*q != ' ')
            goto bad;
        q++;
        if (!proto_parse_u64(&q, end, &cas) || q != end)
            goto bad;
    }
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
    r->consumed = (size_t)(data + bytes + 2 - (end - n));
    return;
bad:
    r->unit = PU_BAD;
}

static void text_parse(const char *p, size_t len, enum req_kind k,
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
    if (proto_line_starts(p, n, "VALUE ")) {
        parse_value(p, n, p + len, r);
        return;
    }
    r->consumed = line;
    if (k == RK_INCR && line_is_number(p, n))
        r->unit = PU_NUMBER;
    else if (proto_line_is(p, n, "END"))
        r->unit = PU_END;
    else if (proto_line_is(p, n, "STORED"))
        r->unit = PU_STORED;
    else if (proto_line_is(p, n, "NOT_STORED"))
        r->unit = PU_NOT_STORED;
    else if (proto_line_is(p, n, "EXISTS"))
        r->unit = PU_EXISTS;
    else if (proto_line_is(p, n, "NOT_FOUND"))
        r->unit = PU_NOT_FOUND;
    else if (proto_line_is(p, n, "DELETED"))
        r->unit = PU_DELETED;
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

const struct proto_ops proto_text = {
    .name = "text",
    .put_get = text_put_get,
    .put_set_begin = text_put_set_begin,
    .put_set_end = proto_put_crlf,
    .put_del = text_put_del,
    .put_incr = text_put_incr,
    .parse = text_parse,
};

const struct proto_ops *proto_find(const char *name)
{
    if (strcmp(name, "text") == 0)
        return &proto_text;
    if (strcmp(name, "meta") == 0)
        return &proto_meta;
    if (strcmp(name, "binary") == 0)
        return &proto_bin;
    return NULL;
}

const char *proto_unit_name(enum proto_unit u)
{
    switch (u) {
    case PU_NEED_MORE: return "need-more";
    case PU_VALUE: return "VALUE";
    case PU_END: return "END";
    case PU_STORED: return "STORED";
    case PU_NOT_STORED: return "NOT_STORED";
    case PU_EXISTS: return "EXISTS";
    case PU_NOT_FOUND: return "NOT_FOUND";
    case PU_DELETED: return "DELETED";
    case PU_ERROR: return "ERROR";
    case PU_CLIENT_ERROR: return "CLIENT_ERROR";
    case PU_SERVER_ERROR: return "SERVER_ERROR";
    case PU_NUMBER: return "number";
    case PU_STATUS: return "error status";
    case PU_BAD: return "bad reply";
    }
    return "?";
}
