/* main.c - tiercache-bench: flags, set-up, phases, progress, report.
 *
 * Order: parse and check flags -> resolve and probe the server -> build
 * the shared struct bench -> create workers -> [load phase] -> run phase
 * (warm-up + measured window) -> merge per-thread results -> report.
 * Every phase has a deadline; a watchdog alarm bounds the whole run even
 * if a thread wedges. See README.md for the workload definitions.
 */
#include <errno.h>
#include <event2/thread.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "report.h"
#include "trace.h"
#include "tracegen.h"
#include "worker.h"

#define EXIT_USAGE 2
#define EXIT_RUNTIME 3
#define MAX_DEPTH 65535u
#define MAX_MGET 1000u
#define MAX_CONNS 100000u
#define PHASE_GRACE_NS 5000000000ULL    /* stop threads this long past a deadline */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void on_alarm(int sig)
{
    static const char msg[] = "tiercache-bench: watchdog: run exceeded its time bound, aborting\n";
    (void)sig;
    ssize_t n = write(2, msg, sizeof(msg) - 1);
    (void)n;
    _exit(EXIT_RUNTIME);
}

static int usage_error(const char *msg)
{
    fprintf(stderr, "tiercache-bench: %s (see -h)\n", msg);
    return EXIT_USAGE;
}

/* "N" or "A-B" into [*min, *max]. */
static bool parse_size_range(const char *s, uint32_t *min, uint32_t *max, bool *range)
{
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9')
        return false;
    unsigned long a = strtoul(s, &end, 10), b = a;
    *range = false;
    if (*end == '-') {
        const char *t = end + 1;
        if (*t < '0' || *t > '9')
            return false;
        b = strtoul(t, &end, 10);
        *range = true;
    }
    if (errno || *end || a > b || b > VALUE_MAX_SIZE)
        return false;
    *min = (uint32_t)a;
    *max = (uint32_t)b;
    return true;
}

/* --cache-aside, --ttl, --trace and --trace-gen flags. */
static int check_workload(struct bench *b)
{
    struct bench_options *o = &b->opt;
    if (o->ttl > TRACE_MAX_TTL)
        return usage_error("--ttl must be at most 2592000 (30 days)");
    if (*o->trace_gen) {
        if (*o->trace)
            return usage_error("--trace-gen and --trace exclude each other");
        if (o->gen_one_hit < 0 || o->gen_one_hit > 1)
            return usage_error("--gen-one-hit must be in [0, 1]");
        if (o->gen_scan_at < 0 || o->gen_scan_at > 1)
            return usage_error("--gen-scan-at must be in [0, 1]");
        if (!(o->gen_rate > 0))
            return usage_error("--gen-rate must be > 0");
        return 0;
    }
    if (!*o->trace) {
        b->track_misses = o->cache_aside;
        b->scratch_len = b->vmax;
        return 0;
    }
    if (b->proto != &proto_text && b->proto != &proto_meta)
        return usage_error("--trace needs --protocol text or meta");
    if (o->mget > 1 || o->load || o->rate > 0 || o->del_ratio > 0 || o->zipf > 0)
        return usage_error("--trace replays the file's requests: no --mget, --load, "
                           "--rate, --del-ratio or --zipf");
    if (strcmp(o->trace_speed, "recorded") == 0)
        b->trace_recorded = true;
    else if (strcmp(o->trace_speed, "max") != 0)
        return usage_error("--trace-speed must be recorded or max");
    if (strcmp(o->trace_values, "json") == 0)
        b->trace_json = true;
    else if (strcmp(o->trace_values, "random") != 0)
        return usage_error("--trace-values must be json or random");
    if (!(o->trace_timeout > 0) || o->trace_timeout > 1e6)
        return usage_error("--trace-timeout must be > 0 seconds");
    b->track_misses = true;
    b->scratch_len = VALUE_MAX_SIZE;
    return 0;
}

/* --trace-gen: writes the trace; returns the exit status. */
static int generate_trace(const struct bench *b)
{
    const struct bench_options *o = &b->opt;
    struct tracegen_cfg cfg = {
        .count = o->gen_count, .keys = b->ks.nkeys, .key_size = b->ks.key_size,
        .zipf = o->zipf, .vg = b->vg, .get_ratio = o->get_ratio,
        .del_ratio = o->del_ratio, .one_hit = o->gen_one_hit, .scan = o->gen_scan,
        .scan_at = o->gen_scan_at, .rate = o->gen_rate, .seed = o->seed,
    };
    if (!tracegen_parse_ttl(&cfg, o->gen_ttl))
        return usage_error("--gen-ttl must be T or T:share,T:share,... (T <= 2592000, "
                           "shares summing to 1)");
    return tracegen_write(&cfg, o->trace_gen) ? 0 : EXIT_RUNTIME;
}

static int check_options(struct bench *b)
{
    struct bench_options *o = &b->opt;
    b->proto = proto_find(o->protocol);
    if (!b->proto)
        return usage_error("unknown --protocol (\"text\", \"meta\" or \"binary\")");
    if (o->del_ratio > 0 && (!b->proto->put_del || o->verify || o->load))
        return usage_error("--del-ratio needs --protocol text or meta, and no --verify or --load");
    if (o->conns < 1 || o->conns > MAX_CONNS)
        return usage_error("--conns must be 1..100000");
    if (o->threads < 1)
        return usage_error("--threads must be at least 1");
    if (o->threads > o->conns)
        o->threads = o->conns;
    if (o->depth < 1 || o->depth > MAX_DEPTH)
        return usage_error("--depth must be 1..65535");
    if (o->batch < 1)
        return usage_error("--batch must be at least 1");
    if (o->batch > o->depth)
        o->batch = o->depth;
    if (o->load_depth < 1 || o->load_depth > MAX_DEPTH)
        return usage_error("--load-depth must be 1..65535");
    if (o->max_inflight < 1 || o->max_inflight > MAX_DEPTH)
        return usage_error("--max-inflight must be 1..65535");
    if (!(o->duration > 0) || o->duration > 1e6)
        return usage_error("--duration must be > 0 seconds");
    if (o->warmup < 0 || o->warmup > 1e6)
        return usage_error("--warmup must be >= 0 seconds");
    if (o->load_timeout <= 0 || o->load_timeout > 1e6)
        return usage_error("--load-timeout must be > 0 seconds");
    if (o->rate < 0)
        return usage_error("--rate must be >= 0");
    if (o->rate > 0 && 1e9 * (double)o->conns / o->rate < 1.0)
        return usage_error("--rate is above 1e9 requests/s per connection");
    if (o->get_ratio < 0 || o->get_ratio > 1)
        return usage_error("--get-ratio must be in [0, 1]");
    if (o->del_ratio < 0 || o->del_ratio > 1)
        return usage_error("--del-ratio must be in [0, 1]");
    if (o->mget_ratio < 0 || o->mget_ratio > 1)
        return usage_error("--mget-ratio must be in [0, 1]");
    if (o->mget > MAX_MGET)
        return usage_error("--mget must be at most 1000");
    if (o->zipf != 0 && !(o->zipf > 0 && o->zipf < 1))
        return usage_error("--zipf must be 0 (uniform) or in (0, 1)");
    if (o->key_size > KEY_MAX_LEN)
        return usage_error("--key-size must be at most 250");
    enum keyspace_status ks = keyspace_init(&b->ks, o->keys, (unsigned)o->key_size,
                                            o->key_prefix);
    if (ks != KS_OK)
        return usage_error(keyspace_strerror(ks));
    if (o->verify && o->keys < o->conns)
        return usage_error("--verify needs --keys >= --conns (each connection owns its keys)");
    bool range;
    if (!parse_size_range(o->value_size, &b->vmin, &b->vmax, &range))
        return usage_error("--value-size must be N or A-B with A <= B <= 1048064");
    if (*o->value_dist == '\0')
        b->vdist = range && b->vmin != b->vmax ? VDIST_UNIFORM : VDIST_FIXED;
    else if (strcmp(o->value_dist, "fixed") == 0)
        b->vdist = VDIST_FIXED;
    else if (strcmp(o->value_dist, "uniform") == 0)
        b->vdist = VDIST_UNIFORM;
    else if (strcmp(o->value_dist, "json") == 0)
        b->vdist = VDIST_JSON;
    else
        return usage_error("--value-dist must be fixed, uniform or json");
    if (b->vdist == VDIST_FIXED && range && b->vmin != b->vmax)
        return usage_error("--value-dist fixed needs a single --value-size");
    if (b->vdist == VDIST_FIXED)
        b->vmax = b->vmin;
    if (b->vdist == VDIST_JSON) {
        b->vmin = VALUE_JSON_MIN;
        b->vmax = VALUE_JSON_MAX;
    }
    if (o->verify && b->vmin < VALUE_VERIFY_MIN)
        return usage_error("--verify needs values of at least 24 bytes");
    return check_workload(b);
}

static int resolve(struct bench *b)
{
    char host[256];
    const char *s = b->opt.server, *colon = strrchr(s, ':');
    if (!colon || colon == s || !colon[1] || (size_t)(colon - s) >= sizeof(host))
        return usage_error("--server must be HOST:PORT");
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *h = host;
    if (h[0] == '[' && h[strlen(h) - 1] == ']') {
        h[strlen(h) - 1] = '\0';
        h++;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res;
    int rc = getaddrinfo(h, colon + 1, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "tiercache-bench: cannot resolve %s: %s\n", s, gai_strerror(rc));
        return EXIT_USAGE;
    }
    memcpy(&b->addr, res->ai_addr, res->ai_addrlen);
    b->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* One blocking connect with a 3 s timeout, so a wrong address fails fast. */
static bool probe_server(const struct bench *b)
{
    int fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    int err = 0;
    if (connect(fd, (const struct sockaddr *)&b->addr, b->addrlen) != 0) {
        err = errno;
        if (err == EINPROGRESS) {
            struct pollfd p = { .fd = fd, .events = POLLOUT };
            socklen_t len = sizeof(err);
            if (poll(&p, 1, 3000) != 1)
                err = ETIMEDOUT;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
                err = errno;
        }
    }
    close(fd);
    if (err)
        fprintf(stderr, "tiercache-bench: cannot connect to %s: %s\n",
                b->opt.server, strerror(err));
    return err == 0;
}

struct live {
    uint64_t ops, keys, hits, errs, vfail, loaded;
    int up;
};

static void live_sum(struct worker **ws, unsigned n, struct live *l)
{
    memset(l, 0, sizeof(*l));
    for (unsigned i = 0; i < n; i++) {
        struct counters *c = &ws[i]->ctr;
        l->ops += ctr_get(c->ops);
        l->keys += ctr_get(c->get_keys);
        l->hits += ctr_get(c->get_hits);
        l->errs += ctr_get(c->err_server) + ctr_get(c->err_client) +
                   ctr_get(c->err_error) + ctr_get(c->not_stored) +
                   ctr_get(c->err_status) + ctr_get(c->bad_reply) +
                   ctr_get(c->conn_errors);
        l->vfail += ctr_get(c->verify_wrong) + ctr_get(c->verify_stale) +
                    ctr_get(c->verify_key);
        l->loaded += ctr_get(c->loaded);
        l->up += atomic_load_explicit(&c->conns_up, memory_order_relaxed);
    }
}

/* Runs one phase on every worker: start, watch (progress once per
 * second), stop at deadline + grace or on a signal, join. */
static bool run_phase(const struct bench *b, struct worker **ws, unsigned n,
                      enum phase ph, uint64_t start, uint64_t deadline,
                      uint64_t mstart, uint64_t mend)
{
    unsigned started = 0;
    for (unsigned i = 0; i < n; i++) {
        ws[i]->phase = ph;
        ws[i]->phase_start = start;
        ws[i]->phase_deadline = deadline;
        ws[i]->measure_start = mstart;
        ws[i]->measure_end = mend;
    }
    for (; started < n; started++)
        if (!worker_start(ws[started]))
            break;
    bool ok = started == n;
    if (!ok) {
        fprintf(stderr, "tiercache-bench: cannot start threads\n");
        interrupted = 1;
    }
    struct live prev;
    live_sum(ws, n, &prev);
    uint64_t last = now_ns(), tick = last + 1000000000ULL;
    for (;;) {
        bool all = true;
        for (unsigned i = 0; i < started; i++)
            all = all && atomic_load(&ws[i]->finished);
        if (all)
            break;
        struct timespec ts = { 0, 50 * 1000000L };
        nanosleep(&ts, NULL);
        uint64_t now = now_ns();
        if (interrupted || now > deadline + PHASE_GRACE_NS)
            for (unsigned i = 0; i < started; i++)
                worker_stop(ws[i]);
        if (now < tick)
            continue;
        tick += 1000000000ULL;
        struct live l;
        live_sum(ws, n, &l);
        double dt = (double)(now - last) / 1e9;
        if (!b->opt.quiet) {
            if (ph == PHASE_LOAD)
                fprintf(stderr, "[%6.1fs] load    %llu/%llu keys  %.0f keys/s  errors %llu  conns %d/%u\n",
                        (double)(now - start) / 1e9, (unsigned long long)l.loaded,
                        (unsigned long long)b->ks.nkeys, (double)(l.loaded - prev.loaded) / dt,
                        (unsigned long long)l.errs, l.up, b->nconns);
            else {
                uint64_t dk = l.keys - prev.keys;
                fprintf(stderr, "[%6.1fs] %-7s %.0f ops/s  hit %.3f  errors %llu  verify-fail %llu  conns %d/%u\n",
                        (double)(now - start) / 1e9, now < mstart ? "warmup" : "run",
                        (double)(l.ops - prev.ops) / dt,
                        dk ? (double)(l.hits - prev.hits) / (double)dk : 0.0,
                        (unsigned long long)l.errs, (unsigned long long)l.vfail, l.up,
                        b->nconns);
            }
        }
        prev = l;
        last = now;
    }
    for (unsigned i = 0; i < started; i++)
        worker_join(ws[i]);
    return ok;
}

/* Exit 3 (nothing completed), or nothing in the measured window: says
 * per thread whether it ran, whether its connections came up, whether
 * requests sat unanswered and its longest stretch without a completion,
 * so a rare failure tells a starved client, a refused connection and a
 * silent server apart. */
static void explain_nothing_done(struct worker **ws, unsigned n, uint64_t t0)
{
    for (unsigned i = 0; i < n; i++) {
        const struct worker *w = ws[i];
        unsigned inflight = 0;
        for (unsigned k = 0; k < w->nconns; k++)
            inflight += w->conns[k].count;
        double began = w->began > t0 ? (double)(w->began - t0) / 1e6 : 0.0;
        double up = w->first_up > t0 ? (double)(w->first_up - t0) / 1e6 : -1.0;
        double last = w->last_done > t0 ? (double)(w->last_done - t0) / 1e6 : 0.0;
        fprintf(stderr, "tiercache-bench: [thread %u] nothing completed in the "
                "measured window: loop began at +%.1f ms, first connection up at "
                "%s%.1f ms, conns up %d/%u, connect errors %llu, requests "
                "unanswered %u, requests completed %llu, the loop ended at "
                "+%.1f ms, longest stretch without a completion %.1f ms\n",
                w->id, began, up < 0 ? "(never) " : "+", up < 0 ? 0.0 : up,
                atomic_load(&w->ctr.conns_up), w->nconns,
                (unsigned long long)ctr_get(w->ctr.conn_errors), inflight,
                (unsigned long long)ctr_get(w->ctr.ops), last,
                (double)w->longest_gap / 1e6);
    }
}

int main(int argc, char **argv)
{
    static struct bench bench;
    struct bench *b = &bench;
    switch (options_parse(&b->opt, argc, argv)) {
    case OPT_HELP:
        options_usage(stdout, argv[0]);
        return 0;
    case OPT_EUSAGE:
        return EXIT_USAGE;
    case OPT_OK:
        break;
    }
    int rc = check_options(b);
    if (rc)
        return rc;
    if (*b->opt.trace_gen) {
        b->vg = valgen_create(b->vdist, b->vmin, b->vmax, b->opt.seed);
        if (!b->vg) {
            fprintf(stderr, "tiercache-bench: out of memory\n");
            return EXIT_RUNTIME;
        }
        rc = generate_trace(b);
        valgen_destroy(&b->vg);
        return rc;
    }
    static struct trace trace;
    if (*b->opt.trace) {
        char err[512];
        enum trace_status ts = trace_load(&trace, b->opt.trace, err, sizeof(err));
        if (ts != TRACE_OK) {
            fprintf(stderr, "tiercache-bench: %s\n", err);
            return ts == TRACE_ENOMEM ? EXIT_RUNTIME : EXIT_USAGE;
        }
        if (!trace_partition(&trace, (unsigned)b->opt.conns)) {
            fprintf(stderr, "tiercache-bench: out of memory\n");
            trace_free(&trace);
            return EXIT_RUNTIME;
        }
        keyspace_init_names(&b->ks, trace.nkeys, trace.names, trace.off, trace.len,
                            trace.index, trace.index_mask);
        b->trace = &trace;
    }
    rc = resolve(b);
    if (rc)
        return rc;
    b->nconns = (unsigned)b->opt.conns;
    b->kmax = b->opt.mget > 1 ? (unsigned)b->opt.mget : 1;
    if (b->opt.zipf > 0) {
        b->zipf_on = true;
        if (!b->opt.verify && zipf_init(&b->zipf_all, b->ks.nkeys, b->opt.zipf) != 0)
            return usage_error("bad --zipf");
    }

    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGALRM, on_alarm);
    double bound = (b->trace ? b->opt.trace_timeout : b->opt.warmup + b->opt.duration) + 30 +
                   (b->opt.load ? b->opt.load_timeout + 10 : 0);
    alarm((unsigned)bound + 1);

    if (!probe_server(b))
        return EXIT_RUNTIME;
    if (b->opt.tls) {
        b->ssl_ctx = SSL_CTX_new(TLS_client_method());
        if (b->ssl_ctx == NULL) {
            fprintf(stderr, "tiercache-bench: cannot create a TLS context\n");
            return EXIT_RUNTIME;
        }
        SSL_CTX_set_verify(b->ssl_ctx, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_mode(b->ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                         SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
    if (evthread_use_pthreads() != 0) {
        fprintf(stderr, "tiercache-bench: libevent thread support unavailable\n");
        return EXIT_RUNTIME;
    }
    int code = EXIT_RUNTIME;
    unsigned nt = (unsigned)b->opt.threads;
    struct worker **ws = calloc(nt, sizeof(*ws));
    static struct results res;
    b->vg = valgen_create(b->vdist, b->vmin, b->vmax, b->opt.seed);
    if (b->vg && valgen_max_len(b->vg) > b->scratch_len)
        b->scratch_len = valgen_max_len(b->vg);
    if (b->opt.verify && !b->trace) {
        b->acked = calloc(b->ks.nkeys, sizeof(uint32_t));
        b->sent = calloc(b->ks.nkeys, sizeof(uint32_t));
        /* keys an earlier run wrote (--verify-version): that version or
         * a newer one this run writes */
        for (uint64_t k = 0; b->acked && b->sent && k < b->ks.nkeys; k++)
            b->acked[k] = b->sent[k] = (uint32_t)b->opt.verify_version;
    }
    if (!ws || !b->vg || (b->opt.verify && !b->trace && (!b->acked || !b->sent))) {
        fprintf(stderr, "tiercache-bench: out of memory\n");
        goto out;
    }
    for (unsigned i = 0; i < nt; i++) {
        unsigned nc = b->nconns / nt + (i < b->nconns % nt ? 1 : 0);
        ws[i] = worker_create(b, i, nt, nc);
        if (!ws[i])
            goto out;
    }

    hist_reset(&res.all);
    for (unsigned k = 0; k < RK_NKINDS; k++)
        hist_reset(&res.win.h[k]);
    if (b->opt.load) {
        uint64_t t0 = now_ns();
        uint64_t dl = t0 + (uint64_t)(b->opt.load_timeout * 1e9);
        if (!run_phase(b, ws, nt, PHASE_LOAD, t0, dl, 0, 0))
            goto out;
        uint64_t end = t0;
        res.load_ran = true;
        res.load_complete = true;
        res.load_keys = b->ks.nkeys;
        for (unsigned i = 0; i < nt; i++) {
            if (ws[i]->load_done < ws[i]->nconns)
                res.load_complete = false;
            else if (ws[i]->load_end > end)
                end = ws[i]->load_end;
        }
        if (!res.load_complete)
            end = now_ns();
        res.load_secs = (double)(end - t0) / 1e9;
        if (!b->opt.quiet)
            fprintf(stderr, "load %s in %.2f s\n", res.load_complete ? "done" : "INCOMPLETE",
                    res.load_secs);
    }
    uint64_t run_t0 = 0;
    if (!interrupted && b->trace) {
        /* the whole replay is measured; it ends when every conn has
         * replayed its slice, or at --trace-timeout */
        uint64_t t0 = run_t0 = now_ns();
        uint64_t me = t0 + (uint64_t)(b->opt.trace_timeout * 1e9);
        if (!run_phase(b, ws, nt, PHASE_RUN, t0, me, t0, me))
            goto out;
        uint64_t end = t0;
        bool all = true;
        for (unsigned i = 0; i < nt; i++) {
            if (ws[i]->load_done < ws[i]->nconns)
                all = false;
            else if (ws[i]->load_end > end)
                end = ws[i]->load_end;
        }
        if (!all)
            end = now_ns() < me ? now_ns() : me;
        res.duration = (double)(end - t0) / 1e9;
        if (!all && !b->opt.quiet)
            fprintf(stderr, "trace replay INCOMPLETE\n");
    } else if (!interrupted) {
        uint64_t t0 = run_t0 = now_ns();
        uint64_t ms = t0 + (uint64_t)(b->opt.warmup * 1e9);
        uint64_t me = ms + (uint64_t)(b->opt.duration * 1e9);
        if (!run_phase(b, ws, nt, PHASE_RUN, t0, me, ms, me))
            goto out;
        uint64_t end = now_ns();
        if (end > me)
            end = me;
        res.duration = end > ms ? (double)(end - ms) / 1e9 : 0.0;
    }
    res.interrupted = interrupted;
    res.run_ran = run_t0 != 0;
    for (unsigned i = 0; i < nt; i++) {
        results_add(&res, &ws[i]->win, &ws[i]->ctr);
        if (res.run_ran && (double)ws[i]->longest_gap / 1e9 > res.longest_gap)
            res.longest_gap = (double)ws[i]->longest_gap / 1e9;
    }
    report_table(stdout, b, &res);
    fflush(stdout);
    code = results_exit_code(b, &res);
    if (run_t0 != 0 && (code == 3 || results_window_empty(b, &res)))
        explain_nothing_done(ws, nt, run_t0);
    if (*b->opt.json && !report_json(b->opt.json, b, &res) && code == 0)
        code = EXIT_RUNTIME;
out:
    if (ws)
        for (unsigned i = 0; i < nt; i++)
            worker_destroy(&ws[i]);
    free(ws);
    free(b->acked);
    free(b->sent);
    valgen_destroy(&b->vg);
    SSL_CTX_free(b->ssl_ctx);
    trace_free(&trace);
    return code;
}
