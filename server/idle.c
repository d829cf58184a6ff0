/*
 * server/idle.c - see idle.h. Runs on the worker's thread only (the timer
 * is an event of its loop), the only thread that changes w->conns.
 */
#include "idle.h"

#include <event2/event.h>
#include <stdio.h>
#include <time.h>

#include "conn.h"
#include "logger.h"
#include "server.h"
#include "stats.h"
#include "worker.h"

static bool is_idle(const conn_t *c)
{
    return !c->dgram && !c->zombie && c->park == CONN_PARK_NONE &&
           c->state == CONN_PARSE && c->out.head == c->out.niov &&
           !c->close_after_write && c->watch == NULL;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    (void)fd;
    (void)what;
    long long limit = w->srv->settings->idle_timeout;
    long long now = (long long)time(NULL);
    conn_t *next;
    for (conn_t *c = w->conns; c != NULL; c = next) {
        next = c->next; /* conn_close unlinks c */
        if (!is_idle(c) || now - atomic_load(&c->last_cmd) <= limit)
            continue;
        STATS_ADD(&w->stats, idle_kicks, 1);
        if (atomic_load(&w->srv->verbose) > 1)
            fprintf(stderr, "<%d closing idle connection\n", c->fd);
        c->close_reason = LOGGER_CLOSE_IDLE;
        conn_close(c);
    }
}

bool idle_setup(worker_t *w)
{
    if (w->srv->settings->idle_timeout <= 0)
        return true;
    w->idle_ev = event_new(w->base, -1, EV_PERSIST, on_tick, w);
    struct timeval tv = {1, 0};
    return w->idle_ev != NULL && event_add(w->idle_ev, &tv) == 0;
}

void idle_teardown(worker_t *w)
{
    if (w->idle_ev != NULL) {
        event_free(w->idle_ev);
        w->idle_ev = NULL;
    }
}
