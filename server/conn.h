/*
 * server/conn.h - one client connection: read buffer, value reads straight
 * into items, the reply queue, back-pressure and fairness.
 *
 * States:  PARSE  -> a command line is parsed from rbuf
 *          NREAD  -> value bytes go into the reserved item, then "\r\n"
 *          SWALLOW-> `swallow` bytes of a refused value are discarded
 * A connection stops reading while its reply queue holds more than
 * CONN_OUT_CAP bytes, and yields to others after -R requests per event.
 * Everything runs on the owning worker's thread. The socket is read and
 * written only through c->tx (transport.h: plain or TLS); what the bytes
 * mean is protocol.h's table of handlers (parse, value read done, resume).
 *
 * Parking (the flash tier; the slots and the parked-get ring are in
 * conn_slots.c): a cache call given a cache_async_t may answer
 * CACHE_PENDING. The request then *parks* the connection (c->park != NONE):
 * no further command is parsed, so pipelined replies keep their order;
 * other connections of the worker go on. Each async call carries a
 * conn_slot_t as its context; its done callback stores the result in the
 * slot, and when the last one has fired the `resume` event runs on the
 * worker's loop: the parked reply is queued (a multi-get's VALUE lines in
 * key order), then buffered input is processed again.
 *
 * Pipelined gets: a connection parked on text get/gets, a plain meta mg
 * or a binary get/getq/getk/getkq (CONN_PARK_GET) goes on reading and
 * parsing while the next request is another of those (at most
 * CONN_PIPE_MAX parked gets, CONN_PIPE_SLOTS keys behind the first), so
 * the flash reads of a pipeline are issued together instead of one get at
 * a time. Each parked get is a conn_getgrp_t in the ring c->gq owning a
 * range of slots; every result of a get parsed behind another goes to its
 * slots (even a RAM hit), and the resume event queues the gets' replies in
 * order as the oldest completes. Any other request (or a get the pipeline
 * cannot take) waits in rbuf until every parked get has answered: reads
 * never pass a write. Datagram and watch connections never pipeline.
 *
 * The client's end of stream (a read of 0 bytes, or an error) closes the
 * connection once the replies already queued are written.
 *
 * A connection closed while calls are in flight becomes a zombie: socket,
 * buffers and replies are gone, the struct (and its slots) stay until the
 * last callback fires (worker.nzombies counts them).
 *
 * Datagram connections (UDP, see udp.h): created by conn_create_dgram(),
 * with no socket event. udp.c copies one datagram's payload into rbuf and
 * calls conn_dgram_step() once per request; the replies stay in c->out for
 * udp.c to frame. Wherever a stream connection would read its socket for
 * more input, a datagram connection ends the step (a request must fit in its
 * datagram; conn_dgram_discard() drops a partial one). A parked request
 * resumes as usual, then calls c->dgram_resumed instead of running the
 * socket.
 */
#ifndef TIERCACHE_CONN_H
#define TIERCACHE_CONN_H

#include <event2/event_struct.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cache.h"
#include "outq.h"
#include "transport.h"

struct worker;

#define CONN_OUT_CAP (1024 * 1024)     /* stop reading above this */
#define CONN_GET_LINE_MAX (1024 * 1024) /* longest get/gets/gat line */
#define CONN_PIPE_MAX 32      /* parked gets of one connection */
#define CONN_PIPE_SLOTS 4096  /* keys of the gets parsed behind the first */
#define CONN_SLOT_CHUNK 64    /* slots 1.. are allocated this many at once */

typedef enum conn_state {
    CONN_PARSE = 0,
    CONN_NREAD,
    CONN_SWALLOW,
} conn_state_e;

/* What a parked connection waits for (the reply it owes). */
typedef enum conn_park {
    CONN_PARK_NONE = 0,
    CONN_PARK_GET,     /* get/gets/gat/gats: slots 0..park_nslots-1 */
    CONN_PARK_TOUCH,   /* TOUCHED / NOT_FOUND */
    CONN_PARK_DELETE,  /* DELETED / NOT_FOUND */
    CONN_PARK_ARITH,   /* the new value, NOT_FOUND, ... */
    CONN_PARK_STORE,   /* STORED, NOT_STORED, EXISTS, ... */
    CONN_PARK_SILENT,  /* no reply (the unlink after a failed set) */
    CONN_PARK_META,    /* a meta command: process_meta_resume() goes on */
    CONN_PARK_BIN,     /* a binary command: process_bin_resume() goes on */
    CONN_PARK_DUMP,    /* lru_crawler metadump: its flash walk (c->dump) */
} conn_park_e;

/* The protocol of a connection: chosen from its first byte (0x80 = binary)
 * unless -B forces one; never changes afterwards (memcached's rule). */
typedef enum conn_proto {
    CONN_PROTO_AUTO = 0,
    CONN_PROTO_TEXT,
    CONN_PROTO_BIN,
} conn_proto_e;

/* Who finishes a value read (CONN_NREAD). */
typedef enum conn_nread_kind {
    CONN_NREAD_TEXT = 0, /* process_nread_done() */
    CONN_NREAD_META,     /* ms: process_meta_nread_done() */
    CONN_NREAD_BIN,      /* no "\r\n" follows: process_bin_nread_done() */
} conn_nread_kind_e;

/*
 * A meta or binary request that outlives its bytes in rbuf (a value read,
 * a parked cache call, several steps): what process_meta.c /
 * process_bin.c need to go on. Meta keeps a copy of the command line and
 * parses it again (meta_parse is pure and cheap); binary keeps the header
 * fields and the key.
 */
typedef struct conn_xreq {
    char *line;          /* meta: malloc'ed copy of the line */
    size_t line_len, line_cap;
    char keybuf[256];    /* meta: decoded base64 key; binary: the key */
    size_t nkey;         /* binary key length */
    int step;            /* where a parked request goes on */
    bool created;        /* meta: the item was created by N */
    bool won;            /* meta: W */
    bool fetched;        /* meta: h, before this request */
    uint32_t last_access;/* meta: l, before this request */
    uint64_t cas;        /* cas compared / returned */
    cache_status_e st;   /* a result kept between steps */
    /* binary: the request header fields that matter after parsing */
    uint8_t opcode;
    uint8_t cmd;         /* bin_cmd_e */
    bool quiet, return_key;
    uint32_t opaque;
    uint64_t req_cas;
    uint32_t flags, exptime;
    uint64_t delta, initial;
} conn_xreq_t;

struct conn;

/* Called on the worker's thread when a datagram connection's parked request
 * has queued its reply (c->park is NONE again). */
typedef void (*conn_dgram_fn)(struct conn *c);

/* The context of one async cache call. Its address is handed to the tier
 * and must stay valid until the done callback: slot 0 lives in conn_t, the
 * others in c->slots, which is never reallocated while calls are in flight. */
typedef struct conn_slot {
    struct conn *c;
    cache_async_t async;  /* {conn_slot_done, this} */
    cache_status_e status;
    bool done;            /* the result is in */
    cache_item_t *item;   /* get/gat hit, owned here until queued */
    uint64_t value;       /* arith */
    uint64_t cas;         /* store/arith: the new cas (appended) */
    bool noted;           /* a get's result already logged (process.c) */
    uint32_t grp;         /* a parked get's slot: 1 + its index in c->gq */
} conn_slot_t;

/* What a parked get is, for its reply (process_resume()). */
typedef enum conn_getgrp_kind {
    CONN_GETGRP_TEXT = 0, /* get/gets/gat/gats: VALUE lines, END */
    CONN_GETGRP_META,     /* a plain mg: one slot, `keys` holds its line */
    CONN_GETGRP_BIN,      /* a binary get/getq/getk/getkq: one slot,
                             `keys` holds its request (process_bin.c) */
} conn_getgrp_kind_e;

/* One parked get/gets (CONN_PARK_GET): its results are slots first ..
 * first + n - 1; its reply is due when `pending` is 0 and every get parsed
 * before it has answered. */
typedef struct conn_getgrp {
    size_t first;         /* its first slot */
    size_t n;             /* its slots */
    size_t pending;       /* of them, results that have not come back */
    bool cas;             /* VALUE lines carry the cas */
    bool oom;             /* no room for the results: memcached's
                             out-of-memory line instead */
    conn_getgrp_kind_e kind;
    char *keys;           /* watch / stats detail: the keys from the first
                             slotted one (process_get.c) */
    size_t keys_len;
} conn_getgrp_t;

typedef struct conn {
    struct worker *w;
    int fd;
    struct event ev;
    short ev_flags;        /* flags ev is registered with */
    bool ev_added;
    conn_state_e state;
    atomic_int pub_state;  /* for `stats conns` */
    atomic_llong last_cmd; /* unix time, for `stats conns` */
    /* read buffer: data in rbuf[rpos .. rpos + rlen) */
    char *rbuf;
    size_t rsize, rpos, rlen;
    /* NREAD */
    cache_item_t *item;
    char *ndata;           /* next value byte to fill */
    size_t nleft;          /* value bytes still to come */
    char crlf[2];
    size_t ncrlf;          /* trailing bytes received (0..2) */
    cache_store_op_e op;
    uint64_t cas_in;
    bool noreply;          /* of the command being processed */
    bool noreply_store;    /* of the storage command in NREAD */
    /* SWALLOW */
    size_t swallow;
    outq_t out;
    bool close_after_write;
    bool closed;
    bool is_unix;
    char addr[80];
    char listen_addr[80];
    struct conn *prev, *next;
    /* parking: see the top of this file */
    conn_park_e park;
    bool park_noreply;     /* of the parked request */
    bool issuing;          /* inside an async call: do not resume yet */
    bool zombie;           /* closed, waiting for callbacks */
    bool pipe_eof;         /* the socket ended while gets were parked */
    unsigned inflight;     /* async calls whose done has not fired */
    conn_slot_t slot0;
    conn_slot_t **chunks;  /* slots 1.., CONN_SLOT_CHUNK per chunk; a
                              chunk never moves while calls are in flight */
    size_t nchunks;
    /* parked gets (CONN_PARK_GET): a ring, oldest at gq_head; gq is &gq0
     * (one get) until a pipeline needs more, then CONN_PIPE_MAX entries */
    conn_getgrp_t gq0;
    conn_getgrp_t *gq;
    unsigned gq_cap, gq_head, gq_len;
    /* datagram connections: see the top of this file */
    bool dgram;
    conn_dgram_fn dgram_resumed;
    void *dgram_owner;     /* udp.c's state */
    struct event resume;   /* activated when the last callback fired */
    /* appended: the flash part of a metadump (process.c), written by the
     * walk thread until its callback fires; freed with dump_free */
    void *dump;
    void (*dump_free)(void *dump);
    /* appended: meta and binary protocols */
    conn_proto_e proto;
    conn_nread_kind_e nread_kind;
    conn_xreq_t x;
    /* appended: authentication (auth.h) */
    bool authed;           /* -Y / -S: the client has authenticated */
    bool auth_started;     /* -Y: a set line was read, its payload next */
    bool sasl_started;     /* -S: SASL_AUTH began an exchange */
    size_t auth_need;      /* -Y: payload bytes with "\r\n" */
    void *sasl;            /* -S: the sasl_conn_t, made on first use */
    /* appended: the byte stream (transport.h); every socket read and write
     * of a stream connection goes through it, and closing it closes fd */
    transport_t tx;
    /* appended: `watch` (logger.h). A watcher's input is discarded and its
     * replies come from its log ring; close_reason is for connevents */
    struct logger_watcher *watch;
    int close_reason;      /* logger_close_reason_e, NORMAL by default */
} conn_t;

/* Creates a connection for accepted socket `fd` on worker `w` and starts
 * reading. On failure closes fd and returns NULL. Worker thread only. */
conn_t *conn_create(struct worker *w, int fd, bool is_unix,
                    const char *listen_addr);

/* The same for a socket of a TLS listener: the connection reads and writes
 * through a TLS transport (tls.h, w->srv->tls). On failure closes fd and
 * returns NULL. Worker thread only. */
conn_t *conn_create_tls(struct worker *w, int fd, const char *listen_addr);

/* Creates a datagram connection on worker `w` for UDP socket `fd` (owned
 * from then on: conn_close closes it), with a malloc'd read buffer of
 * `rbuf_size` bytes (not BUFPOOL_BUF_SIZE) and links it in w->conns. No
 * event is registered. `addr` is shown by `stats conns`. Returns NULL on
 * OOM (fd left open). Worker thread only. */
conn_t *conn_create_dgram(struct worker *w, int fd, const char *addr,
                          const char *listen_addr, size_t rbuf_size,
                          conn_dgram_fn resumed, void *owner);

typedef enum conn_step {
    CONN_STEP_DONE = 0, /* one request handled, more input is buffered */
    CONN_STEP_EMPTY,    /* input used up (maybe inside a request) */
    CONN_STEP_PARKED,   /* the request parked: wait for dgram_resumed */
    CONN_STEP_CLOSE,    /* quit (c->close_after_write) or a line the
                           stream protocol would close on */
} conn_step_e;

/* Datagram connections: handles at most one request from rbuf (with its
 * value, if the buffer holds it). Its reply, if any, is queued on c->out.
 * Never reads the socket. */
conn_step_e conn_dgram_step(conn_t *c);

/* Datagram connections: drops buffered input and an unfinished request
 * (a reserved item, a swallow) and clears close_after_write, ready for the
 * next datagram. Not while parked. */
void conn_dgram_discard(conn_t *c);

/* Closes the socket, releases items and buffers, frees c. */
void conn_close(conn_t *c);

/* Runs a connection as its socket's event would (writes what is queued,
 * registers the events it needs); may close it. Worker thread only. */
void conn_kick(conn_t *c);

/* Name of a connection state for `stats conns`. */
const char *conn_state_name(int pub_state);

/* Used by process.c: */

/* Queues a reply line `s` plus "\r\n" unless c->noreply is set. */
void conn_reply(conn_t *c, const char *s);

/* Enters NREAD for a reserved item of value size `nbytes`. */
void conn_start_nread(conn_t *c, cache_item_t *it, size_t nbytes,
                      cache_store_op_e op, uint64_t cas_in);

/* Enters SWALLOW for `n` bytes. */
void conn_start_swallow(conn_t *c, size_t n);

/*
 * Async calls (process.c). conn_slot(c, i) returns slot i (0: inline; i >= 1
 * from c->chunks, which conn_reserve_slots(c, n) must have made for every
 * i < n; it may be called while calls are in flight, slots never move).
 * conn_arm() readies a slot for one call and returns the cache_async_t to
 * pass; conn_disarm() must follow the call with its status: on
 * CACHE_PENDING the call counts as in flight until its callback.
 * conn_park() then parks the connection for `kind` (the reply to give comes
 * from the slots when everything has completed, see process_resume()).
 */
conn_slot_t *conn_slot(conn_t *c, size_t i);
bool conn_reserve_slots(conn_t *c, size_t n);
const cache_async_t *conn_arm(conn_t *c, conn_slot_t *s);
void conn_disarm(conn_t *c, cache_status_e st);
void conn_park(conn_t *c, conn_park_e kind);

/*
 * Parked gets (process_get.c; see the top of this file).
 * conn_get_tail() is the index in c->gq the next parked get will take (the
 * value, plus 1, for its slots' `grp`); conn_get_open() makes it a parked
 * get, zeroed, and returns it; the caller sets its fields (first, n,
 * pending, ...), then calls conn_park_get(), which parks the connection
 * (CONN_PARK_GET) and schedules the resume when the oldest get has
 * completed. The ring always has room for one get while none is parked;
 * another is opened only when the pipeline admitted it.
 * conn_get_head() is the oldest parked get (NULL: none); conn_get_pop()
 * drops it (frees its keys) once its reply is queued.
 */
unsigned conn_get_tail(const conn_t *c);
/* The first slot no parked get owns (0: none parked): the next get's. */
size_t conn_slot_next(const conn_t *c);
conn_getgrp_t *conn_get_open(conn_t *c);
void conn_park_get(conn_t *c);
conn_getgrp_t *conn_get_head(conn_t *c);
void conn_get_pop(conn_t *c);

/* Enters NREAD for a binary value: no "\r\n" is read after it (c->crlf is
 * preset to "\r\n" so the common checks pass). */
void conn_start_nread_bin(conn_t *c, cache_item_t *it, size_t nbytes,
                          cache_store_op_e op, uint64_t cas_in);

/* Used by protocol.c: drops `n` parsed bytes from the front of rbuf. */
void conn_consume(conn_t *c, size_t n);

/* Used by protocol.c: doubles rbuf for a request longer than it (a long
 * get line), up to CONN_GET_LINE_MAX + TEXT_LINE_MAX. False at the limit
 * or on OOM. */
bool conn_grow_rbuf(conn_t *c);

/* Keeps a copy of a meta line in c->x.line. False when out of memory. */
bool conn_keep_line(conn_t *c, const char *line, size_t len);

#endif /* TIERCACHE_CONN_H */
