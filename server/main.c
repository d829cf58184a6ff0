/*
 * server/main.c - start and stop order.
 *
 * Start: flags -> daemonize -> cache -> main event_base -> listener (bind)
 *        -> drop root -> workers -> accept -> port file -> loop.
 * SIGHUP: reopens --log-file, reloads -Z certificates (on_hup).
 * Stop (SIGTERM, SIGINT, SIGUSR1, `shutdown [graceful]`): stop accepting,
 * stop workers (each closes its connections), destroy workers (and their
 * cache_worker_t), the cache, the event bases. Exit status 0.
 *
 * Signals: before anything else a plain handler that only records the
 * signal is installed for SIGTERM, SIGINT and SIGUSR1. libevent's signal
 * events sit on top of it while the loop runs and put it back when freed,
 * so a signal arriving before the loop, or during teardown (e.g. a SIGTERM
 * after `shutdown`), is recorded and never fatal; repeated signals are
 * idempotent. As memcached 1.6.18: "Gracefully stopping" on stderr for a
 * graceful stop, "Exiting normally" with -v for the others. Only a
 * graceful stop lets the cache save to its -e memory file, as memcached.
 */
#include <event2/event.h>
#include <errno.h>
#include <event2/thread.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "auth_sasl.h"
#include "authfile.h"
#include "bufpool.h"
#include "cache.h"
#include "conn.h"
#include "daemon.h"
#include "listener.h"
#include "metrics.h"
#include "logger.h"
#include "prefix_stats.h"
#include "server.h"
#include "settings.h"
#include "settings_cache.h"
#include "tls.h"
#include "worker.h"

#define EX_USAGE_CODE 64
#define EX_OSERR_CODE 71
#define EX_NOUSER_CODE 67 /* memcached's status for an unknown -u user */

/* The last stop signal seen outside the event loop (0 = none). The only
 * process-wide state here: a signal handler cannot be given a context. */
static volatile sig_atomic_t pending_signal;

static void record_signal(int sig)
{
    pending_signal = sig;
}

/* Installs record_signal() for the stop signals. */
static void install_signal_recorder(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = record_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    /* SIGHUP (reload) is ignored until its event is in the loop: its
     * default action would kill the server */
    sa.sa_handler = SIG_IGN;
    sigaction(SIGHUP, &sa, NULL);
}

/* SIGHUP: reopens the --log-file (log rotation) and, with -Z, reloads the
 * TLS certificates as `refresh_certs` does (on failure the old ones stay
 * in use and the error is logged). */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    server_t *srv = arg;
    (void)sig;
    (void)what;
    const settings_t *s = srv->settings;
    if (s->log_file && daemon_log_open(s->log_file) == DAEMON_OK)
        fprintf(stderr, "tiercache: SIGHUP: reopened the log file %s\n",
                s->log_file);
    if (srv->tls) {
        char err[1024] = "";
        if (tls_ctx_refresh(srv->tls, err, sizeof(err)) == TLS_OK)
            fprintf(stderr, "tiercache: SIGHUP: reloaded the TLS "
                    "certificates\n");
        else
            fprintf(stderr, "tiercache: SIGHUP: %s (the old certificates "
                    "stay in use)\n", err[0] ? err : "reload failed");
    }
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    server_t *srv = arg;
    (void)what;
    if (sig == SIGUSR1)
        atomic_store(&srv->graceful, true);
    atomic_store(&srv->stopping, true);
    event_base_loopbreak(srv->base);
}

static void on_shutdown(evutil_socket_t fd, short what, void *arg)
{
    server_t *srv = arg;
    (void)fd;
    (void)what;
    event_base_loopbreak(srv->base);
}

/*
 * The memory budget (issue 14 item 5): the most RSS this process may reach,
 * printed at start and in `stats` (memory_budget, with a flash tier). It is
 * the cache's maxima (cache_memory_max: items = -m and the first page of
 * every slab class without one yet; every part outside -m at its largest:
 * hash table, flash index at its capacity, builders, reclaim's buffer,
 * queues, per-worker read buffers at their caps, zstd contexts, dictionary
 * and its trainer, checkpoint filters) plus the process terms below, taken
 * once the workers run (memory_baseline):
 * - code and libraries: every file-backed mapping at its full size (any
 *   page of it may be paged in; /proc/self/maps);
 * - start-up heap: the anonymous memory resident at that point (RssAnon:
 *   libevent bases, settings, listener, logger, the stacks touched so far,
 *   and whatever of the cache's parts is resident already, so that part is
 *   counted twice: an upper bound);
 * - threads: for each (those running, and BUDGET_LATER_THREADS more that
 *   start later: dictionary trainer, metrics, crawler) its stack as it may
 *   still be touched and the free memory its malloc arena may keep
 *   (BUDGET_THREAD_BYTES; the arena's trim threshold is fixed below, so
 *   glibc does not raise it to the largest buffer freed);
 * - connections: every allowed connection's structure (-c x conn_t), and
 *   BUDGET_BUSY_CONNS connections with a request in flight at once, each a
 *   read buffer and a reply block (bufpool); each further busy connection
 *   may add BUDGET_CONN_BUSY_BYTES. Values in flight (a large set being
 *   read, a flash hit being sent) are not bounded by the budget.
 */
#define BUDGET_LATER_THREADS 4
#define BUDGET_THREAD_BYTES ((uint64_t)1536 * 1024) /* 512 KiB stack + 1 MiB arena */
#define BUDGET_BUSY_CONNS 64
#define BUDGET_CONN_BUSY_BYTES ((uint64_t)2 * BUFPOOL_BUF_SIZE)
#define BUDGET_TRIM_THRESHOLD (1024 * 1024)
#define BUDGET_MMAP_THRESHOLD (256 * 1024)

/* glibc's malloc: fixed thresholds (setting them turns off the dynamic
 * ones, which rise to the largest block freed, up to 32 MiB mmap / 64 MiB
 * trim, and then keep that much free memory resident in every arena):
 * blocks of 256 KiB and more are mmapped and given back when freed, and an
 * arena gives back free memory above 1 MiB at its top. */
static void memory_fix_malloc(void)
{
    mallopt(M_MMAP_THRESHOLD, BUDGET_MMAP_THRESHOLD);
    mallopt(M_TRIM_THRESHOLD, BUDGET_TRIM_THRESHOLD);
}

/* The number of a "Name: N [kB]" line of /proc/self/status (0 if not found). */
static uint64_t proc_status_num(const char *name)
{
    FILE *fp = fopen("/proc/self/status", "r");
    if (!fp)
        return 0;
    char line[256];
    size_t n = strlen(name);
    uint64_t v = 0;
    while (fgets(line, sizeof line, fp))
        if (strncmp(line, name, n) == 0 && line[n] == ':') {
            v = strtoull(line + n + 1, NULL, 10);
            break;
        }
    fclose(fp);
    return v;
}

/* Bytes of every file-backed mapping of this process (/proc/self/maps). */
static uint64_t mapped_files(void)
{
    FILE *fp = fopen("/proc/self/maps", "r");
    if (!fp)
        return 0;
    char line[4352];
    uint64_t sum = 0;
    while (fgets(line, sizeof line, fp)) {
        unsigned long lo, hi;
        int path = 0;
        if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &path) >= 2 && path > 0 &&
            line[path] == '/')
            sum += hi - lo;
    }
    fclose(fp);
    return sum;
}

/* The process terms of the budget (above), bytes; once the workers run. */
static uint64_t memory_baseline(const settings_t *s)
{
    uint64_t threads = proc_status_num("Threads") + BUDGET_LATER_THREADS;
    return mapped_files() + proc_status_num("RssAnon") * 1024 + threads * BUDGET_THREAD_BYTES +
           (uint64_t)s->maxconns * sizeof(conn_t) + BUDGET_BUSY_CONNS * BUDGET_CONN_BUSY_BYTES;
}

/* The start-up lines of a server with a flash tier: memory outside -m, the
 * memory budget, and the tier's note (e.g. a reinitialised file). RAM only:
 * only the cache's note (what -e restored; memcached prints its "[restart]"
 * line), as memcached (-vv: the memory lines too). */
static void log_startup(server_t *srv, const char *note)
{
    const settings_t *s = srv->settings;
    cache_t *cache = srv->cache;
    srv->memory_baseline = memory_baseline(s);
    if (s->flash_path == NULL && s->verbose < 2) {
        if (note[0] != '\0') /* e.g. what -e restored */
            fprintf(stderr, "tiercache: %s\n", note);
        return;
    }
    size_t out = cache_memory_outside_limit(cache);
    if (s->flash_path)
        fprintf(stderr, "tiercache: flash tier on %s\n", s->flash_path);
    fprintf(stderr, "tiercache: memory: %zu MiB of items (-m) + %zu bytes "
            "(%.1f MiB) outside -m (hash table, flash index and buffers)\n",
            s->mem_mb, out, (double)out / (1024.0 * 1024.0));
    cache_memory_max_t mx;
    cache_memory_max(cache, srv->nworkers, &mx);
    if (mx.items == 0)
        fprintf(stderr, "tiercache: memory budget: none (-m 0: items unlimited)\n");
    else
        fprintf(stderr, "tiercache: memory budget: at most %" PRIu64 " bytes (%.1f MiB) "
                "resident: items %.1f MiB (-m, and a first page for each of %u slab "
                "classes) + outside -m at its largest %.1f MiB + process %.1f MiB "
                "(code, libraries, start-up heap, %u threads, %d connections, %d of "
                "them busy at once; each further busy one up to %" PRIu64 " bytes)\n",
                mx.items + mx.outside + srv->memory_baseline,
                (double)(mx.items + mx.outside + srv->memory_baseline) / 1048576.0,
                (double)mx.items / 1048576.0, mx.first_pages, (double)mx.outside / 1048576.0,
                (double)srv->memory_baseline / 1048576.0,
                (unsigned)proc_status_num("Threads") + BUDGET_LATER_THREADS, s->maxconns,
                BUDGET_BUSY_CONNS, BUDGET_CONN_BUSY_BYTES);
    if (s->flash_path) {
        cache_stats_t st;
        cache_stats_snapshot(cache, &st);
        fprintf(stderr, "tiercache: the flash index grows with its items, to at most "
                "%llu bytes (%.1f MiB, %llu items)\n",
                (unsigned long long)st.flash_index_bytes_max,
                (double)st.flash_index_bytes_max / (1024.0 * 1024.0),
                (unsigned long long)st.flash_index_capacity_max);
    }
    if (note[0] != '\0')
        fprintf(stderr, "tiercache: %s\n", note);
    if (s->flash_path && s->memory_file)
        fprintf(stderr, "tiercache: -e %s is not used: the flash tier (--flash-path) "
                "keeps the cache across restarts\n", s->memory_file);
}

/* -Y and -S: loads the users / starts Cyrus SASL, with memcached's
 * messages. False (message printed) when the server must not start. */
static bool setup_auth(server_t *srv, const settings_t *s)
{
    if (s->auth_file != NULL) {
        size_t line = 0;
        authfile_status_e st = authfile_load(s->auth_file, &srv->authfile,
                                             &line);
        if (st == AUTHFILE_EOPEN) {
            fprintf(stderr, "Could not open authfile [%s] for reading, error "
                    "%s\n", s->auth_file, strerror(errno));
            return false;
        }
        if (st == AUTHFILE_EMALFORMED) {
            fprintf(stderr, "Authfile [%s] has a malformed entry. Should be "
                    "'user:password' (line %zu)\n", s->auth_file, line);
            return false;
        }
        if (st != AUTHFILE_OK) {
            fprintf(stderr, "Authfile [%s]: %s\n", s->auth_file,
                    authfile_strerror(st));
            return false;
        }
    }
    if (s->sasl) {
        auth_sasl_status_e st = auth_sasl_create(&srv->verbose, &srv->sasl);
        if (st != AUTH_SASL_OK) {
            fprintf(stderr, "%s\n", auth_sasl_strerror(st));
            return false;
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    settings_t settings;
    server_t srv;
    int rc = 0;
    memset(&srv, 0, sizeof(srv));
    settings_default(&settings);
    switch (settings_parse(&settings, argc, argv)) {
    case SETTINGS_EXIT:
        settings_free(&settings);
        return 0;
    case SETTINGS_EUSAGE:
        settings_free(&settings);
        return EX_USAGE_CODE;
    case SETTINGS_OK:
        break;
    }
    srv.settings = &settings;
    atomic_store(&srv.verbose, settings.verbose);
    if (settings.metrics_listen) { /* a typo stops us before the cache */
        char mhost[256];
        int mport;
        metrics_status_e mst = metrics_parse_listen(
            settings.metrics_listen, mhost, sizeof(mhost), &mport);
        if (mst != METRICS_OK) {
            fprintf(stderr, "tiercache: invalid --metrics-listen \"%s\": %s\n",
                    settings.metrics_listen, metrics_strerror(mst));
            settings_free(&settings);
            return EX_USAGE_CODE;
        }
    }
    atomic_store(&srv.crawler_enabled, settings.lru_crawler);
    atomic_store(&srv.crawler_sleep, settings.lru_crawler_sleep);
    atomic_store(&srv.crawler_tocrawl, settings.lru_crawler_tocrawl);
    if (settings.ssl_enabled) {
        /* -Z: the certificates load now or the server does not start */
        char tls_err[1024] = "";
        tls_status_e tst = tls_ctx_create(&settings, (unsigned)settings.threads,
                                          &srv.tls, tls_err, sizeof(tls_err));
        if (tst != TLS_OK) {
            fprintf(stderr, "%s\n", tls_err[0] ? tls_err : tls_strerror(tst));
            settings_free(&settings);
            return tst == TLS_ENOMEM ? EX_OSERR_CODE : EX_USAGE_CODE;
        }
    }
    pthread_mutex_init(&srv.stats_lock, NULL);
    memory_fix_malloc(); /* before the cache allocates */
    signal(SIGPIPE, SIG_IGN);
    install_signal_recorder();
    if (settings.coredumps)
        daemon_enable_coredumps();
    /* -k, memcached's words: the cache's pages stay out of swap */
    if (settings.lock_memory && mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
        fprintf(stderr, "warning: -k invalid, mlockall() failed: %s\n",
                strerror(errno));
    daemon_raise_fd_limit((unsigned long)settings.maxconns + 64);
    /* --log-file before -d: a file that cannot be opened is said on the
     * terminal; the daemon then keeps it as its stderr */
    if (settings.log_file && daemon_log_open(settings.log_file) != DAEMON_OK) {
        tls_ctx_destroy(&srv.tls);
        settings_free(&settings);
        return EX_USAGE_CODE;
    }
    if (settings.daemonize &&
        daemon_detach(settings.log_file != NULL) != DAEMON_OK) {
        tls_ctx_destroy(&srv.tls);
        settings_free(&settings);
        return EX_OSERR_CODE;
    }

    cache_settings_t cs;
    char cache_err[512] = "";
    settings_to_cache(&settings, &cs);
    /* `watch` and `stats detail` (logger.h, prefix_stats.h) */
    if (logger_create(0, settings.flash_path != NULL, &srv.logger) != LOGGER_OK ||
        prefix_stats_create(settings.delimiter && settings.delimiter[0]
                                ? settings.delimiter[0] : ':',
                            &srv.detail) != PREFIX_STATS_OK) {
        fprintf(stderr, "tiercache: out of memory\n");
        logger_destroy(&srv.logger);
        tls_ctx_destroy(&srv.tls);
        settings_free(&settings);
        return EX_OSERR_CODE;
    }
    logger_cache_hook(srv.logger, &cs);
    cs.err = cache_err;
    cs.err_len = sizeof(cache_err);
    cache_status_e cst = cache_create(&srv.cache, &cs);
    if (cst != CACHE_OK) {
        if (cache_err[0] != '\0')
            fprintf(stderr, "tiercache: cannot create the cache: %s\n",
                    cache_err);
        else
            fprintf(stderr, "tiercache: cannot create the cache: %s\n",
                    cache_strerror(cst));
        tls_ctx_destroy(&srv.tls);
        logger_destroy(&srv.logger);
        prefix_stats_destroy(&srv.detail);
        settings_free(&settings);
        /* a bad flash path, size or geometry is a usage error too */
        return cst == CACHE_NO_MEMORY ? EX_OSERR_CODE : EX_USAGE_CODE;
    }
    srv.started = cache_started(srv.cache);

    evthread_use_pthreads();
    srv.base = event_base_new();
    struct event *sigterm = NULL, *sigint = NULL, *sigusr1 = NULL;
    metrics_t *metrics = NULL; /* --metrics-listen */
    struct event *sighup = NULL;
    if (srv.base == NULL) {
        fprintf(stderr, "tiercache: event_base_new failed\n");
        rc = EX_OSERR_CODE;
        goto out;
    }
    if (!setup_auth(&srv, &settings)) {
        rc = 1; /* memcached's status for these */
        goto out;
    }
    srv.shutdown_ev = event_new(srv.base, -1, 0, on_shutdown, &srv);
    sigterm = evsignal_new(srv.base, SIGTERM, on_signal, &srv);
    sigint = evsignal_new(srv.base, SIGINT, on_signal, &srv);
    sigusr1 = evsignal_new(srv.base, SIGUSR1, on_signal, &srv);
    sighup = evsignal_new(srv.base, SIGHUP, on_hup, &srv);
    if (!srv.shutdown_ev || !sigterm || !sigint || !sigusr1 || !sighup ||
        evsignal_add(sigterm, NULL) || evsignal_add(sigint, NULL) ||
        evsignal_add(sigusr1, NULL) || evsignal_add(sighup, NULL)) {
        rc = EX_OSERR_CODE;
        goto out;
    }

    if (listener_create(&srv, &srv.listener) != LISTENER_OK) {
        rc = EX_OSERR_CODE;
        goto out;
    }
    if (settings.metrics_listen) { /* bound as root, like the listener */
        char merr[512] = "";
        metrics_status_e mst = metrics_create(&srv, settings.metrics_listen,
                                              &metrics, merr, sizeof(merr));
        if (mst != METRICS_OK) {
            fprintf(stderr, "tiercache: %s\n", merr);
            /* as a -l that cannot bind: EX_OSERR; a name that does not
                 resolve: a usage error */
            rc = mst == METRICS_ERESOLVE ? EX_USAGE_CODE : EX_OSERR_CODE;
            goto out;
        }
    }
    daemon_status_e dst = daemon_drop_root(settings.user);
    if (dst != DAEMON_OK) {
        rc = dst == DAEMON_ENOUSER ? EX_NOUSER_CODE : EX_OSERR_CODE;
        goto out;
    }
    if (settings.pidfile && daemon_write_pidfile(settings.pidfile) != DAEMON_OK) {
        rc = EX_OSERR_CODE;
        goto out;
    }

    srv.workers = calloc((size_t)settings.threads, sizeof(*srv.workers));
    if (srv.workers == NULL) {
        rc = EX_OSERR_CODE;
        goto out;
    }
    for (int i = 0; i < settings.threads; i++) {
        if (worker_create(&srv, (unsigned)i, &srv.workers[i]) != WORKER_OK) {
            fprintf(stderr, "tiercache: cannot create worker %d\n", i);
            rc = EX_OSERR_CODE;
            goto out;
        }
        srv.nworkers++;
    }
    for (unsigned i = 0; i < srv.nworkers; i++) {
        if (worker_start(srv.workers[i]) != WORKER_OK) {
            fprintf(stderr, "tiercache: cannot start worker %u\n", i);
            rc = EX_OSERR_CODE;
            goto out;
        }
    }
    /* once the workers exist: their flash buffers count outside -m, and
     * stats memory_outside_limit (the same function) includes them */
    log_startup(&srv, cache_err);
    if (metrics && metrics_start(metrics) != METRICS_OK) {
        fprintf(stderr, "tiercache: cannot start the metrics thread\n");
        rc = EX_OSERR_CODE;
        goto out;
    }
    if (listener_start(srv.listener) != LISTENER_OK) {
        rc = EX_OSERR_CODE;
        goto out;
    }
    listener_write_port_file(srv.listener);
    if (settings.verbose > 1) /* memcached -v prints nothing at start */
        fprintf(stderr, "tiercache %s listening (port %d, %u threads)\n",
                TIERCACHE_VERSION, srv.tcp_port, srv.nworkers);

    /* a stop signal that came during start-up: do not enter the loop */
    if (pending_signal == SIGUSR1)
        atomic_store(&srv.graceful, true);
    srv.served = true;
    if (pending_signal == 0)
        event_base_dispatch(srv.base);
    if (atomic_load(&srv.graceful))
        fprintf(stderr, "Gracefully stopping\n");
    else if (settings.verbose > 0)
        fprintf(stderr, "Exiting normally\n");

out:
    metrics_destroy(&metrics); /* its scrapes read the workers */
    listener_destroy(&srv.listener);
    for (unsigned i = 0; i < srv.nworkers; i++)
        worker_stop(srv.workers[i]);
    for (unsigned i = 0; i < srv.nworkers; i++)
        worker_destroy(&srv.workers[i]);
    free(srv.workers);
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (sigusr1)
        event_free(sigusr1); /* record_signal() is back for all three */
    if (sighup)
        event_free(sighup); /* SIGHUP ignored again */
    if (srv.shutdown_ev)
        event_free(srv.shutdown_ev);
    if (srv.base)
        event_base_free(srv.base);
    /* a start that failed before serving leaves no flash file it made */
    if (atomic_load(&srv.graceful))
        cache_set_graceful_stop(srv.cache); /* -e saves only then */
    if (rc != 0 && !srv.served)
        cache_destroy_unstarted(&srv.cache);
    else
        cache_destroy(&srv.cache);
    logger_destroy(&srv.logger); /* after the cache: its eviction hook */
    prefix_stats_destroy(&srv.detail);
    authfile_destroy(&srv.authfile);
    auth_sasl_destroy(&srv.sasl);
    tls_ctx_destroy(&srv.tls);
    if (settings.pidfile)
        daemon_remove_pidfile(settings.pidfile);
    settings_free(&settings);
    pthread_mutex_destroy(&srv.stats_lock);
    libevent_global_shutdown();
    return rc;
}
