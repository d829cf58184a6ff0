/*
 * server/listener.h - listening sockets on the main thread's event_base.
 *
 * Binds every -l address (TCP, port from -p or addr:port; -p 0 binds an
 * ephemeral port; with -U also UDP, served by every worker: udp.h) or the
 * -s unix socket, accepts, enforces -c the way
 * memcached 1.6 does (accept, "ERROR Too many open connections", close,
 * count rejected_connections) and hands sockets to workers round-robin.
 */
#ifndef TIERCACHE_LISTENER_H
#define TIERCACHE_LISTENER_H

#include "server.h"

typedef struct listener listener_t;

typedef enum listener_status {
    LISTENER_OK = 0,
    LISTENER_EBIND,   /* socket/bind/listen failed: message printed */
    LISTENER_EADDR,   /* bad -l address: message printed */
    LISTENER_ENOMEM,
} listener_status_e;

/* Binds and listens (not yet accepting). Sets srv->tcp_port. */
listener_status_e listener_create(server_t *srv, listener_t **out);

/* Starts accepting on srv->base. */
listener_status_e listener_start(listener_t *l);

/* Writes memcached's MEMCACHED_PORT_FILENAME file ("TCP INET: <port>\n" per
 * TCP listener, then "UDP INET: <port>\n" per UDP socket, INET6 for IPv6)
 * if that variable is set. */
void listener_write_port_file(const listener_t *l);

/* Closes the sockets (removing a unix socket file) and frees; NULLs *l. */
void listener_destroy(listener_t **l);

#endif /* TIERCACHE_LISTENER_H */
