/* worker.h - a client thread: its own event_base and connections.
 *
 * main creates the workers, then runs each phase by setting the phase
 * fields, starting one thread per worker and joining them (thread start
 * and join order every access: main never touches a worker while its
 * thread runs, except through the atomic counters and
 * event_base_loopbreak(), which is thread-safe after
 * evthread_use_pthreads()).
 */
#ifndef TCB_WORKER_H
#define TCB_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bench.h"
#include "conn.h"

enum phase {
    PHASE_LOAD,
    PHASE_RUN,
};

struct worker {
    unsigned id;
    const struct bench *b;
    struct event_base *base;
    struct event *ev_end;       /* end of the phase (run end / load timeout) */
    pthread_t thread;
    struct conn *conns;
    unsigned nconns;
    char *scratch;              /* verify: one value, valgen_max_len() bytes */
    unsigned log_budget;        /* error messages this worker may still print */

    enum phase phase;
    bool stopping;
    uint64_t phase_start;       /* set by main before the thread starts */
    uint64_t phase_deadline;    /* load: timeout; run: end of measurement */
    uint64_t measure_start;
    uint64_t measure_end;
    unsigned load_done;         /* conns that loaded (or replayed) their whole slice */
    uint64_t load_end;          /* when the last of them finished */
    /* this phase, for the "nothing completed" diagnosis (0: never) */
    uint64_t began;             /* the thread started its loop */
    uint64_t first_up;          /* a connection was up */
    uint64_t last_done;         /* the last request completed (or began) */
    uint64_t longest_gap;       /* longest time the loop ran with no request
                                 * completed (ns): a stalled client or server */

    _Atomic bool finished;      /* set by the thread as it returns */
    struct counters ctr;
    struct window win;
};

/* Creates worker id with nconns connections whose global indices are
 * id, id + nthreads, ... Returns NULL on failure (message printed). */
struct worker *worker_create(const struct bench *b, unsigned id,
                             unsigned nthreads, unsigned nconns);

/* Frees the worker (thread must not be running) and sets *w to NULL. */
void worker_destroy(struct worker **w);

/* Starts the worker's thread for the phase set in w->phase,
 * w->phase_start and w->phase_deadline (and the measure window for
 * PHASE_RUN). Returns false if the thread could not be created. */
bool worker_start(struct worker *w);

/* Waits for the phase to end. */
void worker_join(struct worker *w);

/* Asks a running worker to stop the phase now (thread-safe). */
void worker_stop(struct worker *w);

/* Called by conns: the worker's measured window contains now. */
static inline bool worker_measuring(const struct worker *w, uint64_t now)
{
    return w->phase == PHASE_RUN && now >= w->measure_start &&
           now < w->measure_end;
}

/* Called by conns as a request completes (and by the worker as its loop
 * ends): keeps longest_gap, the longest stretch without a completion. */
static inline void worker_note_done(struct worker *w, uint64_t now)
{
    if (now > w->last_done && now - w->last_done > w->longest_gap)
        w->longest_gap = now - w->last_done;
    w->last_done = now;
}

/* Called by a conn when it has loaded its whole slice (load phase) or
 * replayed its whole slice of the trace (--trace); the phase ends when
 * every conn of every worker has. */
void worker_conn_loaded(struct worker *w, uint64_t now);

/* Prints a message to stderr while the worker's budget lasts. */
void worker_log(struct worker *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
