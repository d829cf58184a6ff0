/*
 * server/conn_slots.h - conn.c's side of conn_slots.c (the slots, parking
 * and the parked-get ring; their public calls are in conn.h). Worker
 * thread only.
 */
#ifndef TIERCACHE_CONN_SLOTS_H
#define TIERCACHE_CONN_SLOTS_H

#include <stdbool.h>

#include "conn.h"

/* A new connection's slot 0 and its one-entry parked-get ring. */
void conn_slots_init(conn_t *c);

/* Releases the items of completed slots (a parked reply never sent). */
void conn_slots_release(conn_t *c);

/* Frees slots 1.., the parked gets and their ring (nothing in flight). */
void conn_slots_free(conn_t *c);

/* Frees slots 1.. when there are many and nothing is in flight. */
void conn_slots_trim(conn_t *c);

/* A connection parked on gets may parse the next request: a stream in a
 * known protocol, not closing, not a watcher, replies below CONN_OUT_CAP,
 * room in the ring or a ring that may still grow. Allocates nothing. */
bool conn_pipe_ok(const conn_t *c);

/* Room in the ring for one more parked get, made if need be: the inline
 * entry gives way to CONN_PIPE_MAX entries the first time a pipeline
 * needs them (the one get parked keeps index 0, which its slots name).
 * False when CONN_PIPE_MAX are parked or on OOM. */
bool conn_pipe_room(conn_t *c);

/* Frees a closed connection (conn.c): called by the last callback of a
 * zombie (conn.h). */
void conn_free(conn_t *c);

#endif /* TIERCACHE_CONN_SLOTS_H */
