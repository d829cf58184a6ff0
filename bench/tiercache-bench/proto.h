/* proto.h - the wire protocol behind a small interface.
 *
 * A protocol encodes requests into an output buffer and parses replies
 * one unit at a time. A unit is one complete piece of a reply: a VALUE
 * (line plus data block), a status line (END, STORED, ...) or one binary
 * packet. The
 * connection keeps the requests in flight in order and feeds the parser
 * the bytes at the head of its input; a parser is pure (bytes in, unit
 * out) and says PU_NEED_MORE until a whole unit has arrived.
 *
 * Protocols: the classic text protocol ("text", proto_text.c), the meta
 * protocol ("meta", proto_meta.c) and the binary protocol ("binary",
 * proto_bin.c). A new one adds a struct proto_ops and an entry in
 * proto_find().
 *
 * Every request carries an opaque (a per-connection sequence number).
 * A protocol that echoes it (binary) reports it in the reply, and the
 * connection checks it against the request at the ring's head; text and
 * meta ignore it.
 */
#ifndef TCB_PROTO_H
#define TCB_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "keyspace.h"

enum req_kind {
    RK_GET,
    RK_SET,
    RK_MGET,
    RK_DEL,             /* text and meta (put_del) */
    RK_INCR,            /* incr / decr (--trace; text and meta: put_incr) */
    RK_NKINDS,
};

enum proto_unit {
    PU_NEED_MORE,       /* no complete unit yet */
    PU_VALUE,           /* one hit: key, flags, data */
    PU_END,             /* end of a retrieval reply */
    PU_STORED,
    PU_NOT_STORED,
    PU_EXISTS,
    PU_NOT_FOUND,
    PU_DELETED,
    PU_ERROR,           /* "ERROR" */
    PU_CLIENT_ERROR,
    PU_SERVER_ERROR,
    PU_NUMBER,          /* incr / decr: the new value (text) or HD (meta) */
    PU_STATUS,          /* binary: a status other than success / miss */
    PU_BAD,             /* bytes that are no valid reply: resync impossible */
};

struct proto_reply {
    enum proto_unit unit;
    size_t consumed;        /* bytes of input the unit used */
    const char *key;        /* PU_VALUE: points into the input */
    size_t key_len;
    uint32_t flags;
    const char *data;
    size_t data_len;
    bool ends;              /* PU_VALUE / PU_STATUS: the unit is also the
                             * end of the reply (binary single-key replies) */
    bool has_opaque;        /* the reply echoes the request's opaque */
    uint32_t opaque;
    uint16_t status;        /* PU_STATUS: the binary status code */
};

/* The storage command of a put_set_begin(). */
enum store_cmd {
    SC_SET,
    SC_ADD,
    SC_REPLACE,
    SC_APPEND,
    SC_PREPEND,
};

struct proto_ops {
    const char *name;

    /* Appends a retrieval of n keys (n >= 1; a multi-get when n > 1),
     * tagged with opaque where the protocol can carry it. Returns false
     * on allocation failure. */
    bool (*put_get)(struct buf *out, const struct keyspace *ks,
                    const uint64_t *keys, size_t n, uint32_t opaque);

    /* Appends a store request (cmd; ttl: exptime in seconds, 0 = never)
     * up to where its value bytes go, and makes room for vlen more plus
     * the trailer; the caller then writes the value at out->data +
     * out->len, adds vlen to out->len and calls put_set_end(). Returns
     * false on allocation failure. The binary protocol takes SC_SET only
     * (main refuses --trace with it). */
    bool (*put_set_begin)(struct buf *out, const struct keyspace *ks,
                          uint64_t key, enum store_cmd cmd, uint32_t flags,
                          uint32_t ttl, size_t vlen, uint32_t opaque);
    bool (*put_set_end)(struct buf *out);

    /* Appends a delete of key; NULL for a protocol without it. Returns
     * false on allocation failure. */
    bool (*put_del)(struct buf *out, const struct keyspace *ks, uint64_t key);

    /* Appends an increment (or, with decr, a decrement) of key by 1;
     * NULL for a protocol without it. Returns false on allocation
     * failure. */
    bool (*put_incr)(struct buf *out, const struct keyspace *ks, uint64_t key,
                     bool decr);

    /* Parses the unit at the start of p[0..len) that answers a request of
     * kind k. Never reads past len; fills r (r->consumed = 0 unless a unit
     * was found). */
    void (*parse)(const char *p, size_t len, enum req_kind k,
                  struct proto_reply *r);
};

/* The protocol named name, or NULL if there is none. */
const struct proto_ops *proto_find(const char *name);

/* Name of a unit, for messages. */
const char *proto_unit_name(enum proto_unit u);

/* Name of a binary protocol status ("Key exists", ...; "unknown status"
 * for a code memcached 1.6.18 does not define), for reports. */
const char *proto_bin_status_name(uint16_t status);

extern const struct proto_ops proto_text;
extern const struct proto_ops proto_meta;
extern const struct proto_ops proto_bin;

#endif
