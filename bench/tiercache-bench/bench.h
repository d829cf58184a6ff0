/* bench.h - the run's shared configuration and counters.
 *
 * struct bench is built by main before any thread starts and is read-only
 * afterwards, except the verify arrays: acked[k] / sent[k] belong to the
 * one connection that owns key k (k % conns == its global index), so each
 * element has a single writer thread and needs no lock.
 *
 * Counters of --cache-aside / --trace: fills (sets that followed a miss,
 * answered STORED), not_applied (trace add / replace / append / prepend /
 * incr / decr answered NOT_STORED or NOT_FOUND: normal outcomes),
 * fill_dropped (a miss whose fill found the queue full; never expected),
 * verify_skipped (trace values of keys that append / incr modified).
 *
 * struct counters: whole-run tallies, one per worker (err_status: binary
 * replies with an error status, broken down by code in status[]). The worker is the
 * only writer (ctr_add: relaxed load + store, no lock prefix); main reads
 * them with relaxed loads for the progress line and after join for the
 * report. struct window: figures of the measured window only, plain
 * fields, read by main after the worker thread has been joined.
 */
#ifndef TCB_BENCH_H
#define TCB_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "hist.h"
#include "keyspace.h"
#include "options.h"
#include "proto.h"
#include "trace.h"
#include "value.h"
#include "zipf.h"

struct bench {
    struct bench_options opt;
    const struct proto_ops *proto;
    struct keyspace ks;
    struct valgen *vg;
    enum vdist vdist;
    uint32_t vmin, vmax;
    bool zipf_on;
    struct zipf zipf_all;       /* non-verify: ranks over every key */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    unsigned nconns;
    unsigned kmax;              /* keys per request slot: max(1, mget) */
    uint32_t *acked;            /* verify: newest version answered STORED */
    uint32_t *sent;             /* verify: newest version sent */
    struct ssl_ctx_st *ssl_ctx; /* --tls: the client context, else NULL */
    size_t scratch_len;         /* verify: largest value a check regenerates */
    bool track_misses;          /* --cache-aside or --trace: fill each miss */
    const struct trace *trace;  /* --trace: the requests, else NULL */
    bool trace_recorded;        /* --trace-speed recorded */
    bool trace_json;            /* --trace-values json */
};

#define COUNTERS(X) \
    X(ops) X(get_keys) X(get_hits) \
    X(err_server) X(err_client) X(err_error) X(not_stored) X(err_status) X(bad_reply) \
    X(conn_errors) X(lost) \
    X(verify_checked) X(verify_wrong) X(verify_stale) X(verify_key) \
    X(loaded) X(load_failed) \
    X(fills) X(not_applied) X(fill_dropped) X(verify_skipped)

/* Binary protocol error statuses, counted by code: slot s < 255 is
 * status s, slot 255 is every status >= 0xff. */
#define BIN_STATUS_SLOTS 256

static inline unsigned bin_status_slot(uint16_t status)
{
    return status < BIN_STATUS_SLOTS - 1 ? status : BIN_STATUS_SLOTS - 1;
}

struct counters {
#define X(name) _Atomic uint64_t name;
    COUNTERS(X)
#undef X
    _Atomic uint64_t status[BIN_STATUS_SLOTS];  /* err_status by code */
    _Atomic int conns_up;
};

/* Adds n to a counter that only the calling thread writes. */
#define ctr_add(c, n) \
    atomic_store_explicit(&(c), atomic_load_explicit(&(c), memory_order_relaxed) + (n), \
                          memory_order_relaxed)
#define ctr_get(c) atomic_load_explicit(&(c), memory_order_relaxed)

struct window {
    uint64_t ops[RK_NKINDS];
    uint64_t get_keys;
    uint64_t get_hits;
    uint64_t get_bytes;         /* --cache-aside / --trace: bytes requested */
    uint64_t miss_bytes;        /* of which missed */
    uint64_t bytes_sent;
    uint64_t bytes_recv;
    struct hist h[RK_NKINDS];
};

/* Monotonic clock in nanoseconds. */
static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#endif
