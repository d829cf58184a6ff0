/*
 * server/auth.h - authentication gates in front of the protocols: ascii
 * authentication (-Y, auth_ascii.c) and SASL on the binary protocol (-S,
 * auth_sasl.c). Behaviour and bytes are memcached 1.6.18's.
 *
 * conn.c asks a gate first while a connection is not authenticated
 * (c->authed false) and its server has the feature on; the gate reads
 * c->rbuf[c->rpos .. +rlen), consumes what it handled (c->rpos / c->rlen),
 * queues replies on c->out and answers:
 *   AUTH_PASS   not the gate's business: parse the request as usual
 *   AUTH_DONE   a request was handled: go on with the buffered input
 *   AUTH_MORE   more bytes are needed (nothing or a line was consumed)
 *   AUTH_CLOSE  close the connection now, without a reply
 * A gate may also set c->close_after_write (memcached's "reply, close").
 */
#ifndef TIERCACHE_AUTH_H
#define TIERCACHE_AUTH_H

#include "conn.h"

typedef enum auth_step {
    AUTH_PASS = 0,
    AUTH_DONE,
    AUTH_MORE,
    AUTH_CLOSE,
} auth_step_e;

/* The capacity memcached 1.6 has for a request it buffers whole (its read
 * buffer): an auth payload larger than this closes the connection. */
#define AUTH_BUFFER_MAX 16384

/*
 * -Y, a text connection not yet authenticated. Every line gets
 * "CLIENT_ERROR unauthenticated" except "set <key> <flags> <exptime>
 * <bytes> ..." (the key, flags and exptime are not looked at), whose
 * <bytes> payload "user pass" is checked against the file: "STORED" (the
 * connection is authenticated from then on), "CLIENT_ERROR authentication
 * failure", "CLIENT_ERROR bad authentication token format" (fewer than two
 * words) or "CLIENT_ERROR bad command line termination" (no "\r\n" after
 * the payload). A line of more than 2048 bytes without "\n" yet closes, and
 * so does a payload over AUTH_BUFFER_MAX once that much is buffered. Counts auth_cmds / auth_errors.
 * Never AUTH_PASS. O(line + payload).
 */
auth_step_e auth_ascii_step(conn_t *c);

#endif /* TIERCACHE_AUTH_H */
