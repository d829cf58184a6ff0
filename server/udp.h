/*
 * server/udp.h - the UDP transport (-U), as memcached 1.6.18 does it.
 *
 * listener.c binds one UDP socket per -l address (port: the address's own
 * ":port", else -U; -U 0 = no UDP, as memcached; there is no ephemeral UDP
 * port: tests pick a free port and pass -p P -U P). Every worker gets a dup
 * of each socket and reads datagrams from it on its own event_base (the
 * kernel hands each datagram to one reader), like memcached giving each
 * thread the UDP fd.
 *
 * Frame header, 8 bytes, big-endian 16-bit fields:
 *
 *   +------------+------------+------------+------------+---------....
 *   | request id | sequence   | datagrams  | reserved 0 | payload
 *   +------------+------------+------------+------------+---------....
 *   0            2            4            6            8
 *
 * Requests: one datagram (datagrams == 1, sequence ignored). A datagram of
 * 8 bytes or less, or with datagrams != 1, is dropped without a reply, as
 * memcached. The payload is processed by a datagram conn_t (conn.h), one
 * request at a time; a request cut short by the end of the datagram (a line
 * without "\n", a value not all there) is dropped without a reply.
 *
 * Replies: memcached 1.6 sends each *response object* as its own message
 * (sequence 0..n-1 of n datagrams of at most UDP_MAX_PAYLOAD bytes
 * including the header, all with the request id):
 *   - one per request, and for get/gets/gat/gats one per key (the key's
 *     VALUE block or nothing) with END added to the last key's;
 *   - a request with no reply (noreply) has none;
 *   - an empty object (a get key that missed, quit) is sent as a bare header
 *     with datagrams = 0 only when it is the first one of the batch; later
 *     empty ones are dropped.
 * A batch is the replies of up to -R requests of one datagram.
 * Where memcached 1.6.18 is erratic we do the plain thing instead: it
 * answers only the first 21 requests of a datagram, keeps a half-read value
 * across datagrams received by the same thread, and drops every queued reply
 * of the batch when a get has a key over 250 bytes.
 *
 * A send that finds the socket buffer full waits for room up to
 * UDP_SEND_WAIT_MS, then drops the rest of the batch (UDP may lose it).
 * A request that parks (flash read) stops this worker reading its socket
 * until the reply is out; other workers go on reading.
 */
#ifndef TIERCACHE_UDP_H
#define TIERCACHE_UDP_H

#define UDP_HEADER_SIZE 8
#define UDP_MAX_PAYLOAD 1400     /* memcached's UDP_MAX_PAYLOAD_SIZE */
#define UDP_READ_SIZE 65536      /* largest datagram */
#define UDP_DGRAMS_PER_EVENT 32  /* datagrams read per wake-up */
#define UDP_SEND_WAIT_MS 100

struct worker;
typedef struct udp udp_t;

typedef enum udp_status {
    UDP_OK = 0,
    UDP_ENOMEM,
    UDP_ESYS,    /* event registration failed */
} udp_status_e;

/*
 * Starts serving UDP socket `fd` (non-blocking, bound; ownership passes to
 * the endpoint, and on failure fd is closed) on worker `w`. `name` is the
 * socket's "udp:addr:port" for `stats conns`. Counts one connection, as
 * memcached counts its per-thread UDP connections. Worker thread only.
 */
udp_status_e udp_create(struct worker *w, int fd, const char *name,
                        udp_t **out);

/* Stops reading, closes the socket and its connection (a parked request's
 * conn lives on until its callbacks fire), frees *u and NULLs it. */
void udp_destroy(udp_t **u);

#endif /* TIERCACHE_UDP_H */
