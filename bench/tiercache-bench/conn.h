/* conn.h - one client connection: requests in flight, send, parse, check.
 *
 * A conn lives on one worker's event_base and is touched only by that
 * worker's thread. Requests in flight sit in a ring in send order; since
 * the server answers in order, the reply bytes at the head of the input
 * always belong to the ring's head. Each request gets an opaque (a
 * sequence number); a protocol that echoes it (binary) has it checked
 * against the head's, and a mismatch is a bad reply.
 *
 *   state machine:   DOWN --connect()--> CONNECTING --writable, no error--> UP
 *                      ^                                                    |
 *                      +------ error / EOF / bad reply (retry after a delay)+
 *
 * On an error the requests in flight are counted as lost and dropped; the
 * conn reconnects after 100 ms, doubling up to 1 s, until the phase ends.
 */
#ifndef TCB_CONN_H
#define TCB_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "keyspace.h"
#include "proto.h"
#include "rng.h"

struct worker;
struct event;

enum conn_state {
    CONN_DOWN,
    CONN_CONNECTING,
    CONN_UP,
};

struct req {
    uint8_t kind;           /* enum req_kind */
    uint16_t nkeys;
    uint16_t pos;           /* retrieval: next key a VALUE may match */
    uint16_t hits;
    uint32_t version;       /* verify set: version sent */
    uint32_t opaque;        /* sent with the request; binary echoes it */
    uint8_t cmd;            /* set: enum store_cmd */
    bool decr;              /* incr: a decrement */
    bool fill;              /* set: a cache-aside fill after a miss */
    uint32_t vsize;         /* trace: the recorded value size */
    uint32_t ttl;           /* set: exptime sent */
    uint64_t req_bytes;     /* read: value bytes requested (tracked) */
    uint64_t miss_bytes;    /* read: of which missed */
    uint64_t t_sched;       /* latency is measured from here */
    uint64_t *keys;         /* nkeys key indices (slot storage) */
};

/* A cache-aside fill waiting for a free request slot. */
struct fill {
    uint64_t key;
    uint32_t vsize;
    uint32_t ttl;
};

struct conn {
    struct ssl_st *ssl;     /* --tls: the session (handshake done at UP) */
    struct worker *w;
    unsigned gidx;          /* global index among all connections */
    enum conn_state state;
    int fd;
    bool want_write;
    unsigned retry_ms;
    struct event *ev_read;
    struct event *ev_write;
    struct event *ev_timer; /* reconnect delay, or the open-loop schedule */
    struct buf in;
    struct buf out;
    struct req *ring;
    uint64_t *ring_keys;
    unsigned ring_cap;
    unsigned head;
    unsigned count;
    uint32_t next_opaque;   /* opaque of the next request (wraps) */
    struct rng rng;
    struct zipf zipf;       /* verify + zipf: ranks over this conn's keys */
    struct keypick pick;    /* run phase key choice */
    struct keypick slice;   /* keys this conn loads (and owns in verify) */
    uint64_t load_next;     /* next slice index to load */
    bool load_finished;
    struct fill *fills;     /* ring: misses to fill, sent before new work */
    unsigned fill_head;
    unsigned fill_count;
    unsigned fill_cap;
    uint64_t trace_next;    /* --trace: next index into trace->order */
    uint64_t trace_end;
    bool trace_finished;    /* every request of its slice answered */
    uint64_t next_sched;    /* open loop: scheduled time of the next request */
    uint64_t interval;      /* open loop: ns between requests */
};

/* Sets up c (buffers, ring, key choice) as connection gidx of worker w.
 * Does not connect. Returns false on allocation failure (c is then safe
 * to conn_destroy). */
bool conn_init(struct conn *c, struct worker *w, unsigned gidx);

/* Closes the socket and frees everything c holds. */
void conn_destroy(struct conn *c);

/* Starts a phase on c: connects if down, or sends what the phase wants
 * if up. now is the current time. */
void conn_begin_phase(struct conn *c, uint64_t now);

/* Closes the socket without counting an error (end of run). */
void conn_close(struct conn *c);

#endif
