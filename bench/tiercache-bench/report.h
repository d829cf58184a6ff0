/* report.h - merged results, the text table and the JSON file. */
#ifndef TCB_REPORT_H
#define TCB_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench.h"

struct totals {
#define X(name) uint64_t name;
    COUNTERS(X)
#undef X
    uint64_t status[BIN_STATUS_SLOTS];  /* binary error statuses by code */
};

struct results {
    struct window win;          /* measured window, merged over threads */
    struct hist all;            /* every request kind together */
    struct totals tot;          /* whole run (load + warm-up + measured) */
    double duration;            /* measured seconds */
    bool run_ran;               /* the run phase (or replay) ran */
    double longest_gap;         /* run phase: longest seconds a thread went
                                 * without a completed request */
    bool interrupted;
    bool load_ran;
    bool load_complete;
    double load_secs;
    uint64_t load_keys;         /* keys the load phase had to write */
};

/* Adds one worker's window and counters to r. */
void results_add(struct results *r, const struct window *win,
                 const struct counters *ctr);

/* Exit status for these results: 0, 1 (verify failures) or 3 (nothing
 * completed). */
int results_exit_code(const struct bench *b, const struct results *r);

/* True if a timed run (not a trace, not interrupted) completed no request
 * in its measured window: its figures are void. Not an error by itself
 * (`--load --duration 0.01` runs use the load alone); main prints why. */
bool results_window_empty(const struct bench *b, const struct results *r);

/* Prints the human-readable report. */
void report_table(FILE *f, const struct bench *b, const struct results *r);

/* Writes the JSON report to path. Returns false (message printed) on an
 * I/O error. */
bool report_json(const char *path, const struct bench *b,
                 const struct results *r);

#endif
