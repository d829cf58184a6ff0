/* worker.c - client threads (see worker.h). */
#include "worker.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_BUDGET 20u

static void worker_on_end(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    w->stopping = true;
    event_base_loopbreak(w->base);
}

struct worker *worker_create(const struct bench *b, unsigned id,
                             unsigned nthreads, unsigned nconns)
{
    struct worker *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->id = id;
    w->b = b;
    w->log_budget = LOG_BUDGET;
    for (unsigned k = 0; k < RK_NKINDS; k++)
        hist_reset(&w->win.h[k]);
    struct event_config *cfg = event_config_new();
    if (cfg) {
        /* timerfd-precise timers: the open loop's schedule is sub-ms */
        event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
        w->base = event_base_new_with_config(cfg);
        event_config_free(cfg);
    }
    if (!w->base)
        goto fail;
    w->ev_end = evtimer_new(w->base, worker_on_end, w);
    w->scratch = malloc(b->scratch_len + 1);
    w->conns = calloc(nconns ? nconns : 1, sizeof(*w->conns));
    if (!w->ev_end || !w->scratch || !w->conns)
        goto fail;
    for (unsigned i = 0; i < nconns; i++) {
        w->nconns = i + 1;
        if (!conn_init(&w->conns[i], w, id + i * nthreads))
            goto fail;
    }
    return w;
fail:
    fprintf(stderr, "tiercache-bench: out of memory setting up worker %u\n", id);
    worker_destroy(&w);
    return NULL;
}

void worker_destroy(struct worker **pw)
{
    struct worker *w = *pw;
    if (!w)
        return;
    for (unsigned i = 0; i < w->nconns; i++)
        conn_destroy(&w->conns[i]);
    free(w->conns);
    free(w->scratch);
    if (w->ev_end)
        event_free(w->ev_end);
    if (w->base)
        event_base_free(w->base);
    free(w);
    *pw = NULL;
}

void worker_conn_loaded(struct worker *w, uint64_t now)
{
    w->load_done++;
    if (w->load_done == w->nconns) {
        w->load_end = now;
        event_base_loopbreak(w->base);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    uint64_t now = now_ns();
    w->stopping = false;
    if (w->phase == PHASE_LOAD || w->b->trace) {
        w->load_done = 0;
        for (unsigned i = 0; i < w->nconns; i++)
            if (w->phase == PHASE_LOAD ? w->conns[i].load_finished
                                       : w->conns[i].trace_finished)
                w->load_done++;
        if (w->load_done == w->nconns) {
            w->load_end = now;
            atomic_store(&w->finished, true);
            return NULL;
        }
    }
    uint64_t left = w->phase_deadline > now ? w->phase_deadline - now : 0;
    struct timeval tv = {
        .tv_sec = (time_t)(left / 1000000000ULL),
        .tv_usec = (suseconds_t)(left % 1000000000ULL / 1000),
    };
    evtimer_add(w->ev_end, &tv);
    w->began = w->last_done = now;
    w->longest_gap = 0;
    w->first_up = 0;
    for (unsigned i = 0; i < w->nconns; i++) {
        if (w->conns[i].state == CONN_UP && !w->first_up)
            w->first_up = now;
        conn_begin_phase(&w->conns[i], now);
    }
    event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
    worker_note_done(w, now_ns());
    w->stopping = true;
    evtimer_del(w->ev_end);
    atomic_store(&w->finished, true);
    return NULL;
}

bool worker_start(struct worker *w)
{
    atomic_store(&w->finished, false);
    return pthread_create(&w->thread, NULL, worker_main, w) == 0;
}

void worker_join(struct worker *w)
{
    pthread_join(w->thread, NULL);
}

void worker_stop(struct worker *w)
{
    event_base_loopbreak(w->base);
}

void worker_log(struct worker *w, const char *fmt, ...)
{
    if (w->log_budget == 0)
        return;
    if (--w->log_budget == 0) {
        fprintf(stderr, "tiercache-bench: [thread %u] further messages suppressed\n",
                w->id);
        return;
    }
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "tiercache-bench: [thread %u] %s", w->id, line);
}
