/*
 * server/idle.h - memcached's -o idle_timeout: a worker closes its
 * connections that have been idle longer than that many seconds.
 *
 * Idle means waiting for a command: not reading a value (NREAD/SWALLOW),
 * not parked on the cache, no reply waiting to be written (memcached kicks
 * only connections in its read states). A once-a-second timer on the
 * worker's loop walks its connections and closes those whose last command
 * (c->last_cmd) is more than idle_timeout seconds old, counting idle_kicks;
 * so a connection goes within idle_timeout + ~1 s, as in memcached.
 * Datagram (UDP) connections are never kicked.
 */
#ifndef TIERCACHE_IDLE_H
#define TIERCACHE_IDLE_H

#include <stdbool.h>

struct worker;

/* Starts the timer on w->base when idle_timeout > 0 (nothing otherwise).
 * False when the event cannot be created or added. Before the worker runs. */
bool idle_setup(struct worker *w);

/* Frees the timer (NULL-safe), before w->base is freed. */
void idle_teardown(struct worker *w);

#endif /* TIERCACHE_IDLE_H */
