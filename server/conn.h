/*
 * server/conn.h - one client connection: read buffer, value reads straight
 * into items, the reply queue, back-pressure and fairness.
 *
 * States:  PARSE  -> a command line is parsed from rbuf
 *          NREAD  -> value bytes go into the reserved item, then "\r\n"
 *          SWALLOW-> `swallow` bytes of a refused value are discarded
 * A connection stops reading while its reply queue holds more than
 * CONN_OUT_CAP bytes, and yields to others after -R requests per event.
 * Everything runs on the owning worker's thread.
 *
 * Parking (the flash tier): a cache call given a cache_async_t may answer
 * CACHE_PENDING. The request then *parks* the connection (c->park != NONE):
 * no further command is parsed and the socket is not read, so pipelined
 * replies keep their order; other connections of the worker go on. Each
 * async call carries a conn_slot_t as its context; its done callback stores
 * the result in the slot, and when the last one has fired the `resume`
 * event runs on the worker's loop: the parked reply is queued (a multi-get's
 * VALUE lines in key order), then buffered input is processed again.
 * A connection closed while calls are in flight becomes a zombie: socket,
 * buffers and replies are gone, the struct (and its slots) stay until the
 * last callback fires (worker.nzombies counts them).
 */
#ifndef TIERCACHE_CONN_H
#define TIERCACHE_CONN_H

#include <event2/event_struct.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cache.h"
#include "outq.h"

struct worker;

#define CONN_OUT_CAP (1024 * 1024)     /* stop reading above this */
#define CONN_GET_LINE_MAX (1024 * 1024) /* longest get/gets/gat line */

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
} conn_park_e;

struct conn;

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
} conn_slot_t;

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
    bool park_cas;         /* CONN_PARK_GET: VALUE lines carry the cas */
    bool park_oom;         /* CONN_PARK_GET: no room for the results */
    bool issuing;          /* inside an async call: do not resume yet */
    bool zombie;           /* closed, waiting for callbacks */
    unsigned inflight;     /* async calls whose done has not fired */
    size_t park_nslots;    /* CONN_PARK_GET: keys since the first PENDING */
    conn_slot_t slot0;
    conn_slot_t *slots;    /* slots 1.., for a parked multi-get */
    size_t slots_cap;
    struct event resume;   /* activated when the last callback fired */
} conn_t;

/* Creates a connection for accepted socket `fd` on worker `w` and starts
 * reading. On failure closes fd and returns NULL. Worker thread only. */
conn_t *conn_create(struct worker *w, int fd, bool is_unix,
                    const char *listen_addr);

/* Closes the socket, releases items and buffers, frees c. */
void conn_close(conn_t *c);

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
 * from c->slots, which conn_reserve_slots() must have sized while nothing
 * was in flight). conn_arm() readies a slot for one call and returns the
 * cache_async_t to pass; conn_disarm() must follow the call with its
 * status: on CACHE_PENDING the call counts as in flight until its callback.
 * conn_park() then parks the connection for `kind` (the reply to give comes
 * from the slots when everything has completed, see process_resume()).
 */
conn_slot_t *conn_slot(conn_t *c, size_t i);
bool conn_reserve_slots(conn_t *c, size_t n);
const cache_async_t *conn_arm(conn_t *c, conn_slot_t *s);
void conn_disarm(conn_t *c, cache_status_e st);
void conn_park(conn_t *c, conn_park_e kind);

#endif /* TIERCACHE_CONN_H */
