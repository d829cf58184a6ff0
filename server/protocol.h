/*
 * server/protocol.h - the one table of protocol handlers.
 *
 * conn.c moves bytes (through its transport) and keeps a connection's
 * states; it names no protocol. What a wire protocol does with buffered
 * input, who finishes a value read and who goes on after a parked request
 * are looked up here, by c->proto, c->nread_kind and the park kind. Adding
 * a protocol means a row in each table below (and its process_*.c).
 */
#ifndef TIERCACHE_PROTOCOL_H
#define TIERCACHE_PROTOCOL_H

#include "conn.h"

typedef enum protocol_parse {
    PROTOCOL_DONE = 0, /* a request was handled (its bytes consumed) */
    PROTOCOL_MORE,     /* need more bytes */
    PROTOCOL_CLOSE,    /* close the connection */
    PROTOCOL_WAIT,     /* not now: the request stays buffered until the
                          parked ones have answered */
} protocol_parse_e;

/*
 * Fixes c->proto from the first buffered byte if it is still
 * CONN_PROTO_AUTO (c->rlen > 0), then handles at most one request from
 * c->rbuf with that protocol's parser and process_* handler. Worker thread.
 */
protocol_parse_e protocol_parse_one(conn_t *c);

/*
 * A connection parked on gets (CONN_PARK_GET, see conn.h): handles the
 * next buffered request if it is a text get/gets or a plain meta mg
 * (process_meta.c) the pipeline can take
 * (PROTOCOL_DONE), asks for more bytes when the line is not complete and
 * rbuf has room (PROTOCOL_MORE), and otherwise leaves it in rbuf
 * (PROTOCOL_WAIT). Never replies, never closes. Worker thread.
 */
protocol_parse_e protocol_parse_pipelined(conn_t *c);

/* The protocol whose name (-B: "ascii", "binary") is `name`, or
 * CONN_PROTO_AUTO ("auto", NULL: chosen from a connection's first byte; for
 * UDP, from each datagram's). */
conn_proto_e protocol_forced(const char *name);

/* A value read (CONN_NREAD) is complete: hands it to the handler named by
 * c->nread_kind, which returns the connection to CONN_PARSE. */
void protocol_nread_done(conn_t *c);

/* Every async call of a request parked as `kind` has completed (c->park is
 * already NONE; for CONN_PARK_GET, the oldest parked get's calls, and
 * c->park stays GET while younger gets are parked): the handler for `kind`
 * queues the reply or goes on (it may park again). */
void protocol_resume(conn_t *c, conn_park_e kind);

#endif /* TIERCACHE_PROTOCOL_H */
