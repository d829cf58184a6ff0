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

#endif /* TIERCACHE_CONN_H */
