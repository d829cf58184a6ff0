/* proto_bin.c - memcached binary protocol (see proto.h and
 * /work/shared/reference/memcached-1.6.18-protocol-binary.txt).
 *
 *   get:   GETK <key>                    ->  GETK status 0, flags, key, value
 *                                            | GETK status 1 (miss)
 *   mget:  (GETKQ <key>)* NOOP           ->  (GETKQ status 0 ...)* NOOP
 *   set:   SET <key> flags, exptime      ->  SET status 0 | SET status != 0
 *
 * as libmemcached sends a multi-get: quiet gets answer only hits (and
 * errors), so the NOOP's reply ends the batch. GETK rather than GET
 * because verify needs the key of every hit, and a quiet batch needs it
 * to tell which keys hit. Every packet of a request carries the request's
 * opaque; the connection checks the echo.
 *
 * Every packet starts with this 24-byte header, multi-byte fields in
 * network byte order (big endian):
 *
 *    byte  0        1        2        3        4        5      6        7
 *        +--------+--------+--------+--------+--------+--------+--------+--------+
 *      0 | magic  | opcode |   key length    | extlen | dtype  | vbucket/status  |
 *        +--------+--------+--------+--------+--------+--------+--------+--------+
 *      8 |           total body length       |              opaque               |
 *        +--------+--------+--------+--------+--------+--------+--------+--------+
 *     16 |                                  cas                                  |
 *        +--------+--------+--------+--------+--------+--------+--------+--------+
 *     24   extras (extlen), key (key length), value (body - extlen - key length)
 *
 *   magic 0x80 request, 0x81 response; bytes 6-7 are the vbucket (0) in a
 *   request and the status in a response. SET extras: flags (4), exptime
 *   (4). GETK / GETKQ hit extras: flags (4). A response with a non-zero
 *   status carries a message (or, for GETK's miss, the key) as its body.
 *
 * Mapping onto the units of proto.h: a GETK hit is PU_VALUE with ends set
 * (it is the whole reply); a GETK miss, and the NOOP of a batch, are
 * PU_END; a GETKQ hit is PU_VALUE; SET status 0 is PU_STORED. Any other
 * status is PU_STATUS (the connection counts it by code); it ends the
 * reply of a get or a set, but not of a batch (the NOOP still comes).
 */
#include "proto.h"

#include <string.h>

#define BIN_HEADER 24
#define BIN_REQ_MAGIC 0x80
#define BIN_RES_MAGIC 0x81
#define BIN_MAX_BODY (1u << 31)   /* a longer body is garbage */

enum bin_opcode {
    BIN_OP_SET = 0x01,
    BIN_OP_NOOP = 0x0a,
    BIN_OP_GETK = 0x0c,
    BIN_OP_GETKQ = 0x0d,
};

enum bin_status {
    BIN_ST_OK = 0x0000,
    BIN_ST_KEY_ENOENT = 0x0001,
};

static void put_be16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be16(const unsigned char *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Writes a request header at p (cas 0, vbucket 0, data type raw). */
static void put_header(unsigned char *p, enum bin_opcode op, size_t key_len,
                       size_t ext_len, size_t body_len, uint32_t opaque)
{
    memset(p, 0, BIN_HEADER);
    p[0] = BIN_REQ_MAGIC;
    p[1] = (unsigned char)op;
    put_be16(p + 2, (uint32_t)key_len);
    p[4] = (unsigned char)ext_len;
    put_be32(p + 8, (uint32_t)body_len);
    put_be32(p + 12, opaque);
}

static bool bin_put_get(struct buf *out, const struct keyspace *ks,
                        const uint64_t *keys, size_t n, uint32_t opaque)
{
    bool quiet = n > 1;
    char *start = buf_reserve(out, n * (BIN_HEADER + (size_t)ks->key_size) + BIN_HEADER);
    if (!start)
        return false;
    unsigned char *p = (unsigned char *)start;
    for (size_t i = 0; i < n; i++) {
        size_t klen = keyspace_format(ks, keys[i], (char *)p + BIN_HEADER);
        put_header(p, quiet ? BIN_OP_GETKQ : BIN_OP_GETK, klen, 0, klen, opaque);
        p += BIN_HEADER + klen;
    }
    if (quiet) {
        put_header(p, BIN_OP_NOOP, 0, 0, 0, opaque);
        p += BIN_HEADER;
    }
    out->len += (size_t)(p - (unsigned char *)start);
    return true;
}

static bool bin_put_set_begin(struct buf *out, const struct keyspace *ks,
                              uint64_t key, enum store_cmd cmd, uint32_t flags,
                              uint32_t ttl, size_t vlen, uint32_t opaque)
{
    if (cmd != SC_SET)
        return false;
    char *start = buf_reserve(out, BIN_HEADER + 8 + (size_t)ks->key_size + vlen);
    if (!start)
        return false;
    unsigned char *p = (unsigned char *)start;
    size_t klen = keyspace_format(ks, key, (char *)p + BIN_HEADER + 8);
    put_header(p, BIN_OP_SET, klen, 8, 8 + klen + vlen, opaque);
    p += BIN_HEADER;
    put_be32(p, flags);
    put_be32(p + 4, ttl);   /* exptime (0: never) */
    p += 8 + klen;
    out->len += (size_t)(p - (unsigned char *)start);
    return true;
}

/* Nothing follows a binary value. */
static bool bin_put_set_end(struct buf *out)
{
    (void)out;
    return true;
}

/* The opcode a reply to kind k may carry (a batch: GETKQ or NOOP). */
static bool opcode_fits(unsigned op, enum req_kind k)
{
    switch (k) {
    case RK_GET: return op == BIN_OP_GETK;
    case RK_SET: return op == BIN_OP_SET;
    case RK_MGET: return op == BIN_OP_GETKQ || op == BIN_OP_NOOP;
    case RK_DEL:
    case RK_INCR:
    case RK_NKINDS: break;
    }
    return false;
}

static void bin_parse(const char *p, size_t len, enum req_kind k,
                      struct proto_reply *r)
{
    memset(r, 0, sizeof(*r));
    r->unit = PU_NEED_MORE;
    const unsigned char *h = (const unsigned char *)p;
    if (len >= 1 && h[0] != BIN_RES_MAGIC)
        goto bad;
    if (len < BIN_HEADER)
        return;
    unsigned op = h[1];
    size_t key_len = get_be16(h + 2), ext_len = h[4];
    uint32_t status = get_be16(h + 6), body = get_be32(h + 8);
    if (!opcode_fits(op, k) || body > BIN_MAX_BODY || key_len + ext_len > body)
        goto bad;
    if (len - BIN_HEADER < body)
        return;
    r->consumed = BIN_HEADER + (size_t)body;
    r->has_opaque = true;
    r->opaque = get_be32(h + 12);
    if (op == BIN_OP_NOOP) {
        if (status != BIN_ST_OK)
            goto bad;
        r->unit = PU_END;
        return;
    }
    if (status == BIN_ST_OK) {
        if (op == BIN_OP_SET) {
            r->unit = PU_STORED;
            return;
        }
        /* a hit: flags in the extras, then the key, then the value */
        if (ext_len != 4 || key_len == 0)
            goto bad;
        r->unit = PU_VALUE;
        r->ends = k == RK_GET;
        r->flags = get_be32(h + BIN_HEADER);
        r->key = p + BIN_HEADER + ext_len;
        r->key_len = key_len;
        r->data = r->key + key_len;
        r->data_len = body - ext_len - key_len;
        return;
    }
    if (status == BIN_ST_KEY_ENOENT && op == BIN_OP_GETK) {
        r->unit = PU_END;       /* a single get's miss */
        return;
    }
    /* any other status, including a miss a quiet get should not have
     * answered: an error, counted by code */
    r->unit = PU_STATUS;
    r->status = (uint16_t)status;
    r->ends = k != RK_MGET;
    return;
bad:
    memset(r, 0, sizeof(*r));
    r->unit = PU_BAD;
}

/* The codes of the 1.6.18 document (section 3.2) and of memcached's
 * protocol_binary.h. */
const char *proto_bin_status_name(uint16_t status)
{
    switch (status) {
    case 0x0000: return "No error";
    case 0x0001: return "Key not found";
    case 0x0002: return "Key exists";
    case 0x0003: return "Value too large";
    case 0x0004: return "Invalid arguments";
    case 0x0005: return "Item not stored";
    case 0x0006: return "Incr/Decr on non-numeric value";
    case 0x0007: return "The vbucket belongs to another server";
    case 0x0020: return "Authentication error";
    case 0x0021: return "Authentication continue";
    case 0x0081: return "Unknown command";
    case 0x0082: return "Out of memory";
    case 0x0083: return "Not supported";
    case 0x0084: return "Internal error";
    case 0x0085: return "Busy";
    case 0x0086: return "Temporary failure";
    }
    return "unknown status";
}

const struct proto_ops proto_bin = {
    .name = "binary",
    .put_get = bin_put_get,
    .put_set_begin = bin_put_set_begin,
    .put_set_end = bin_put_set_end,
    .parse = bin_parse,
};
