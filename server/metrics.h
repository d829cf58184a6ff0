/*
 * server/metrics.h - the Prometheus endpoint (--metrics-listen HOST:PORT).
 *
 * An HTTP server (libevent's evhttp) on its own thread and event base, so a
 * scrape never waits for a worker and a slow scraper never stalls one.
 * `GET /metrics` answers in the Prometheus text exposition format 0.0.4:
 * the metric names of the Prometheus memcached_exporter for what memcached
 * has, tiercache_* for the flash tier (docs/metrics.md lists them all).
 * Every value comes from one stats_snapshot() (stats.h), the one the
 * `stats` command prints. Other paths: 404; other methods: 405.
 *
 * Start order (main.c): metrics_create() binds before the server drops root
 * (a bind failure stops startup); metrics_start() once the workers exist;
 * metrics_destroy() before they go.
 */
#ifndef TIERCACHE_METRICS_H
#define TIERCACHE_METRICS_H

#include <stdbool.h>
#include <stddef.h>

struct server;
struct evbuffer;

typedef enum metrics_status {
    METRICS_OK = 0,
    METRICS_EADDR,     /* not HOST:PORT, [V6]:PORT or PORT; port not 1..65535 */
    METRICS_ERESOLVE,  /* HOST does not resolve */
    METRICS_EBIND,     /* socket/bind/listen failed (errno in the message) */
    METRICS_ENOMEM,    /* event base, evhttp or thread */
} metrics_status_e;

/* A short description of a status. */
const char *metrics_strerror(metrics_status_e st);

/*
 * Splits `spec` ("HOST:PORT", "[V6ADDR]:PORT" or "PORT", which means
 * 127.0.0.1:PORT) into host (at most host_len bytes with its NUL) and port.
 * METRICS_EADDR for anything else, including port 0 and ports > 65535.
 */
metrics_status_e metrics_parse_listen(const char *spec, char *host,
                                      size_t host_len, int *port);

typedef struct metrics metrics_t;

/*
 * Parses `spec` (metrics_parse_listen), resolves it and binds and listens
 * on it; on success *out is a server that does not serve yet. On failure
 * *out is NULL and err (err_len bytes) says what failed, naming spec and
 * the system's reason. Prints a warning on stderr when the address is not
 * a loopback one (the metrics are then reachable from the network).
 */
metrics_status_e metrics_create(struct server *srv, const char *spec,
                                metrics_t **out, char *err, size_t err_len);

/* Starts the serving thread. The server's workers must exist. */
metrics_status_e metrics_start(metrics_t *m);

/* Stops the thread (if started), closes the socket, frees *m; NULL-safe,
 * sets *m to NULL. Safe to call from the main thread at any time. */
void metrics_destroy(metrics_t **m);

/*
 * Appends the whole exposition text (every family with # HELP and # TYPE)
 * for the current values of `srv` to `buf`. False if memory ran out.
 * Thread-safe: any thread, any time after the workers exist.
 */
bool metrics_render(struct server *srv, struct evbuffer *buf);

/*
 * Appends `s` escaped for a label value (backslash, double quote and
 * newline as \\, \" and \n) to buf.
 */
void metrics_escape_label(struct evbuffer *buf, const char *s);

/* Appends `s` escaped for a # HELP line (backslash and newline) to buf. */
void metrics_escape_help(struct evbuffer *buf, const char *s);

#endif /* TIERCACHE_METRICS_H */
