/*
 * server/metrics.c - see metrics.h. The HTTP side (bind, thread, requests)
 * first, then the exposition text.
 *
 * Names, types and label values of the memcached_* families follow the
 * Prometheus memcached_exporter (pkg/exporter/exporter.go): stat `uptime`
 * is memcached_uptime_seconds (a counter there too), the command counters
 * are memcached_commands_total{command,status} with status hit, miss or
 * badval, and set's hits are cmd_set minus the cas commands (memcached
 * counts a cas in cmd_set). Three of the exporter's types are gauges here
 * because the values go down (extstore_bytes_used,
 * slab_items_evicted_time_seconds, slab_mem_requested_bytes); the names are
 * the same. docs/metrics.md lists every family.
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server.h"
#include "settings.h"
#include "stats.h"

#define METRICS_BACKLOG 64
#define METRICS_TIMEOUT_S 10      /* a client that sends nothing is closed */
#define METRICS_MAX_HEADERS 8192  /* bytes of request headers */
#define METRICS_MAX_BODY 1024     /* a GET has none */

struct metrics {
    server_t *srv;
    struct event_base *base;
    struct evhttp *http;
    struct event *stop_ev;  /* activated by metrics_destroy() */
    pthread_t thread;
    bool started;
};

const char *metrics_strerror(metrics_status_e st)
{
    switch (st) {
    case METRICS_OK:
        return "ok";
    case METRICS_EADDR:
        return "expected HOST:PORT, [IPV6]:PORT or PORT (1..65535)";
    case METRICS_ERESOLVE:
        return "the host does not resolve";
    case METRICS_EBIND:
        return "cannot listen there";
    case METRICS_ENOMEM:
        return "out of memory";
    }
    return "unknown status";
}

/* ---- the address --------------------------------------------------------- */

static bool parse_port(const char *p, int *port)
{
    if (*p == '\0' || strlen(p) > 5)
        return false;
    long n = 0;
    for (const char *c = p; *c; c++) {
        if (*c < '0' || *c > '9')
            return false;
        n = n * 10 + (*c - '0');
    }
    if (n < 1 || n > 65535)
        return false;
    *port = (int)n;
    return true;
}

metrics_status_e metrics_parse_listen(const char *spec, char *host,
                                      size_t host_len, int *port)
{
    const char *h, *p;
    size_t hl;
    if (spec == NULL || *spec == '\0' || host_len == 0)
        return METRICS_EADDR;
    if (spec[0] == '[') { /* [v6]:port */
        const char *close = strchr(spec, ']');
        if (close == NULL || close[1] != ':')
            return METRICS_EADDR;
        h = spec + 1;
        hl = (size_t)(close - h);
        p = close + 2;
    } else {
        const char *colon = strrchr(spec, ':');
        if (colon == NULL) { /* PORT alone: loopback */
            h = "127.0.0.1";
            hl = strlen(h);
            p = spec;
        } else {
            if (strchr(spec, ':') != colon) /* a bare v6 address */
                return METRICS_EADDR;
            h = spec;
            hl = (size_t)(colon - spec);
            p = colon + 1;
        }
    }
    if (hl == 0 || hl >= host_len || !parse_port(p, port))
        return METRICS_EADDR;
    memcpy(host, h, hl);
    host[hl] = '\0';
    return METRICS_OK;
}

static bool is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return false;
}

/* Binds and listens on the first address of host:port that works. Returns
 * the socket or -1 (errno of the last failure in *err_no). */
static int bind_listen(const struct addrinfo *ai, bool *loopback, int *err_no)
{
    *err_no = EADDRNOTAVAIL;
    for (; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family,
                        ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);
        if (fd < 0) {
            *err_no = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
            listen(fd, METRICS_BACKLOG) == 0) {
            *loopback = is_loopback(ai->ai_addr);
            return fd;
        }
        *err_no = errno;
        close(fd);
    }
    return -1;
}

/* ---- HTTP ------------------------------------------------------------------ */

static void reply_text(struct evhttp_request *req, int code, const char *reason,
                       const char *body)
{
    struct evbuffer *b = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
    if (b)
        evbuffer_add(b, body, strlen(body));
    evhttp_send_reply(req, code, reason, b);
    if (b)
        evbuffer_free(b);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    metrics_t *m = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (path == NULL || strcmp(path, "/metrics") != 0) {
        reply_text(req, 404, "Not Found", "Not Found: try /metrics\n");
        return;
    }
    enum evhttp_cmd_type t = evhttp_request_get_command(req);
    if (t != EVHTTP_REQ_GET && t != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          "GET, HEAD");
        reply_text(req, 405, "Method Not Allowed",
                   "Method Not Allowed: GET or HEAD\n");
        return;
    }
    struct evbuffer *b = evbuffer_new();
    if (b == NULL || !metrics_render(m->srv, b)) {
        if (b)
            evbuffer_free(b);
        reply_text(req, 500, "Internal Server Error", "out of memory\n");
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4; charset=utf-8");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    metrics_t *m = arg;
    (void)fd;
    (void)what;
    event_base_loopbreak(m->base);
}

static void *metrics_thread(void *arg)
{
    metrics_t *m = arg;
    event_base_dispatch(m->base);
    return NULL;
}

metrics_status_e metrics_create(server_t *srv, const char *spec,
                                metrics_t **out, char *err, size_t err_len)
{
    char host[256], portstr[8];
    int port = 0;
    *out = NULL;
    metrics_status_e st = metrics_parse_listen(spec, host, sizeof(host), &port);
    if (st != METRICS_OK) {
        snprintf(err, err_len, "invalid --metrics-listen \"%s\": %s", spec,
                 metrics_strerror(st));
        return st;
    }
    snprintf(portstr, sizeof(portstr), "%d", port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        snprintf(err, err_len, "--metrics-listen %s: cannot resolve \"%s\": %s",
                 spec, host, gai_strerror(gai));
        return METRICS_ERESOLVE;
    }
    bool loopback = false;
    int err_no = 0;
    int fd = bind_listen(res, &loopback, &err_no);
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, err_len, "--metrics-listen %s: cannot listen: %s", spec,
                 strerror(err_no));
        return METRICS_EBIND;
    }
    metrics_t *m = calloc(1, sizeof(*m));
    if (m == NULL || (m->base = event_base_new()) == NULL ||
        (m->http = evhttp_new(m->base)) == NULL ||
        (m->stop_ev = event_new(m->base, -1, 0, on_stop, m)) == NULL) {
        close(fd);
        metrics_destroy(&m);
        snprintf(err, err_len, "--metrics-listen %s: out of memory", spec);
        return METRICS_ENOMEM;
    }
    m->srv = srv;
    evhttp_set_allowed_methods(m->http,
        EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
        EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
        EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_timeout(m->http, METRICS_TIMEOUT_S);
    evhttp_set_max_headers_size(m->http, METRICS_MAX_HEADERS);
    evhttp_set_max_body_size(m->http, METRICS_MAX_BODY);
    evhttp_set_gencb(m->http, on_request, m);
    /* from here the evhttp owns fd (closed by evhttp_free) */
    if (evhttp_accept_socket_with_handle(m->http, fd) == NULL) {
        close(fd);
        metrics_destroy(&m);
        snprintf(err, err_len, "--metrics-listen %s: cannot accept", spec);
        return METRICS_EBIND;
    }
    if (!loopback)
        fprintf(stderr, "tiercache: warning: --metrics-listen %s is not a "
                "loopback address: every host that can reach it can read "
                "the server's statistics\n", spec);
    *out = m;
    return METRICS_OK;
}

metrics_status_e metrics_start(metrics_t *m)
{
    if (pthread_create(&m->thread, NULL, metrics_thread, m) != 0)
        return METRICS_ENOMEM;
    m->started = true;
    return METRICS_OK;
}

void metrics_destroy(metrics_t **mp)
{
    metrics_t *m = *mp;
    if (m == NULL)
        return;
    if (m->started) {
        /* an active event survives until the loop runs: no lost wake-up */
        event_active(m->stop_ev, EV_TIMEOUT, 0);
        pthread_join(m->thread, NULL);
    }
    if (m->stop_ev)
        event_free(m->stop_ev);
    if (m->http)
        evhttp_free(m->http);
    if (m->base)
        event_base_free(m->base);
    free(m);
    *mp = NULL;
}

/* ---- the exposition text ---------------------------------------------------- */

void metrics_escape_label(struct evbuffer *buf, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            evbuffer_add(buf, "\\\\", 2);
        else if (*s == '"')
            evbuffer_add(buf, "\\\"", 2);
        else if (*s == '\n')
            evbuffer_add(buf, "\\n", 2);
        else
            evbuffer_add(buf, s, 1);
    }
}

void metrics_escape_help(struct evbuffer *buf, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            evbuffer_add(buf, "\\\\", 2);
        else if (*s == '\n')
            evbuffer_add(buf, "\\n", 2);
        else
            evbuffer_add(buf, s, 1);
    }
}

typedef enum mtype { MT_COUNTER, MT_GAUGE } mtype_e;

static void family(struct evbuffer *b, const char *name, mtype_e type,
                   const char *help)
{
    evbuffer_add_printf(b, "# HELP %s ", name);
    metrics_escape_help(b, help);
    evbuffer_add_printf(b, "\n# TYPE %s %s\n", name,
                        type == MT_COUNTER ? "counter" : "gauge");
}

/* One sample; labels: NULL-terminated name/value pairs, or NULL. */
static void sample_begin(struct evbuffer *b, const char *name,
                         const char *const *labels)
{
    evbuffer_add(b, name, strlen(name));
    if (labels && labels[0]) {
        evbuffer_add(b, "{", 1);
        for (size_t i = 0; labels[i]; i += 2) {
            evbuffer_add_printf(b, "%s%s=\"", i ? "," : "", labels[i]);
            metrics_escape_label(b, labels[i + 1]);
            evbuffer_add(b, "\"", 1);
        }
        evbuffer_add(b, "}", 1);
    }
}

static void sample_u64(struct evbuffer *b, const char *name,
                       const char *const *labels, uint64_t v)
{
    sample_begin(b, name, labels);
    evbuffer_add_printf(b, " %" PRIu64 "\n", v);
}

static void sample_double(struct evbuffer *b, const char *name,
                          const char *const *labels, double v)
{
    sample_begin(b, name, labels);
    if (isnan(v))
        evbuffer_add_printf(b, " NaN\n");
    else if (isinf(v))
        evbuffer_add_printf(b, " %sInf\n", v > 0 ? "+" : "-");
    else
        evbuffer_add_printf(b, " %.15g\n", v);
}

static void sample_timeval(struct evbuffer *b, const char *name,
                           const struct timeval *tv)
{
    sample_begin(b, name, NULL);
    evbuffer_add_printf(b, " %ld.%06ld\n", (long)tv->tv_sec,
                        (long)tv->tv_usec);
}

static uint64_t val(const stats_snapshot_t *sn, const char *stat)
{
    uint64_t v = 0;
    (void)stats_value(sn, stat, &v);
    return v;
}

static uint64_t sub0(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

/* One stat, one family, no labels: memcached_exporter's simple metrics. */
typedef struct simple {
    const char *metric;
    const char *stat;
    mtype_e type;
    const char *help;
} simple_t;

static const simple_t memcached_simple[] = {
    {"memcached_uptime_seconds", "uptime", MT_COUNTER,
     "Number of seconds since the server started."},
    {"memcached_time_seconds", "time", MT_GAUGE,
     "current UNIX time according to the server."},
    {"memcached_read_bytes_total", "bytes_read", MT_COUNTER,
     "Total number of bytes read by this server from network."},
    {"memcached_written_bytes_total", "bytes_written", MT_COUNTER,
     "Total number of bytes sent by this server to network."},
    {"memcached_current_connections", "curr_connections", MT_GAUGE,
     "Current number of open connections."},
    {"memcached_max_connections", "max_connections", MT_GAUGE,
     "Maximum number of clients allowed."},
    {"memcached_connections_total", "total_connections", MT_COUNTER,
     "Total number of connections opened since the server started running."},
    {"memcached_connections_rejected_total", "rejected_connections",
     MT_COUNTER, "Total number of connections rejected due to hitting the "
     "memcached's -c limit in maxconns_fast mode."},
    {"memcached_connections_yielded_total", "conn_yields", MT_COUNTER,
     "Total number of connections yielded running due to hitting the "
     "memcached's -R limit."},
    {"memcached_connections_listener_disabled_total", "listen_disabled_num",
     MT_COUNTER, "Number of times that memcached has hit its connections "
     "limit and disabled its listener."},
    {"memcached_accepting_connections", "accepting_conns", MT_GAUGE,
     "The Memcached server is currently accepting new connections."},
    {"memcached_current_bytes", "bytes", MT_GAUGE,
     "Current number of bytes used to store items."},
    {"memcached_limit_bytes", "limit_maxbytes", MT_GAUGE,
     "Number of bytes this server is allowed to use for storage."},
    {"memcached_current_items", "curr_items", MT_GAUGE,
     "Current number of items stored by this instance."},
    {"memcached_items_total", "total_items", MT_COUNTER,
     "Total number of items stored during the life of this instance."},
    {"memcached_items_evicted_total", "evictions", MT_COUNTER,
     "Total number of valid items removed from cache to free memory for new "
     "items."},
    {"memcached_items_reclaimed_total", "reclaimed", MT_COUNTER,
     "Total number of times an entry was stored using memory from an expired "
     "entry."},
    {"memcached_item_too_large_total", "store_too_large", MT_COUNTER,
     "The number of times an item exceeded the max-item-size when being "
     "stored."},
    {"memcached_item_no_memory_total", "store_no_memory", MT_COUNTER,
     "The number of times an item could not be stored due to no more "
     "memory."},
    {"memcached_direct_reclaims_total", "direct_reclaims", MT_COUNTER,
     "Times worker threads had to directly reclaim or evict items."},
    {"memcached_lru_crawler_starts_total", "lru_crawler_starts", MT_COUNTER,
     "Times an LRU crawler was started."},
    {"memcached_lru_crawler_reclaimed_total", "crawler_reclaimed", MT_COUNTER,
     "Total items freed by LRU Crawler."},
    {"memcached_lru_crawler_items_checked_total", "crawler_items_checked",
     MT_COUNTER, "Total items examined by LRU Crawler."},
    {"memcached_lru_crawler_moves_to_cold_total", "moves_to_cold", MT_COUNTER,
     "Total number of items moved from HOT/WARM to COLD LRU's."},
    {"memcached_lru_crawler_moves_to_warm_total", "moves_to_warm", MT_COUNTER,
     "Total number of items moved from COLD to WARM LRU."},
    {"memcached_lru_crawler_moves_within_lru_total", "moves_within_lru",
     MT_COUNTER, "Total number of items reshuffled within HOT or WARM LRU's."},
};

/* memcached's extstore_* (with a flash tier), as the exporter names them. */
static const simple_t memcached_extstore[] = {
    {"memcached_extstore_compact_lost_total", "extstore_compact_lost",
     MT_COUNTER, "Total number of items lost because they were locked during "
     "extstore compaction."},
    {"memcached_extstore_compact_rescued_total", "extstore_compact_rescues",
     MT_COUNTER, "Total number of items moved to a new page during extstore "
     "compaction (tiercache: items rewritten by reclaim)."},
    {"memcached_extstore_compact_skipped_total", "extstore_compact_skipped",
     MT_COUNTER, "Total number of items dropped due to inactivity during "
     "extstore compaction."},
    {"memcached_extstore_pages_allocated_total", "extstore_page_allocs",
     MT_COUNTER, "Total number of times a page was allocated in extstore."},
    {"memcached_extstore_pages_evicted_total", "extstore_page_evictions",
     MT_COUNTER, "Total number of times a page was evicted from extstore "
     "(tiercache: flash segments reclaimed)."},
    {"memcached_extstore_pages_reclaimed_total", "extstore_page_reclaims",
     MT_COUNTER, "Total number of times an empty extstore page was freed."},
    {"memcached_extstore_pages_free", "extstore_pages_free", MT_GAUGE,
     "Number of extstore pages not yet containing any items."},
    {"memcached_extstore_pages_used", "extstore_pages_used", MT_GAUGE,
     "Number of extstore pages containing at least one item."},
    {"memcached_extstore_objects_evicted_total", "extstore_objects_evicted",
     MT_COUNTER, "Total number of items evicted from extstore to free up "
     "space."},
    {"memcached_extstore_objects_read_total", "extstore_objects_read",
     MT_COUNTER, "Total number of items read from extstore."},
    {"memcached_extstore_objects_written_total", "extstore_objects_written",
     MT_COUNTER, "Total number of items written to extstore."},
    {"memcached_extstore_objects_used", "extstore_objects_used", MT_GAUGE,
     "Number of items stored in extstore."},
    {"memcached_extstore_bytes_evicted_total", "extstore_bytes_evicted",
     MT_COUNTER, "Total number of bytes evicted from extstore to free up "
     "space."},
    {"memcached_extstore_bytes_written_total", "extstore_bytes_written",
     MT_COUNTER, "Total number of bytes written to extstore."},
    {"memcached_extstore_bytes_read_total", "extstore_bytes_read", MT_COUNTER,
     "Total number of bytes read from extstore."},
    {"memcached_extstore_bytes_used", "extstore_bytes_used", MT_GAUGE,
     "Current number of bytes used to store items in extstore."},
    {"memcached_extstore_bytes_fragmented", "extstore_bytes_fragmented",
     MT_GAUGE, "Current number of bytes in extstore pages allocated but not "
     "used to store an object."},
    {"memcached_extstore_bytes_limit", "extstore_limit_maxbytes", MT_GAUGE,
     "Number of bytes of external storage allocated for this server."},
    {"memcached_extstore_io_queue_depth", "extstore_io_queue", MT_GAUGE,
     "Number of items in the I/O queue waiting to be processed."},
};

/* The flash tier's own figures (tiercache_flash_*), one stat each. */
static const simple_t flash_simple[] = {
    {"tiercache_flash_items", "flash_items", MT_GAUGE,
     "Items on the flash tier (entries of the flash index)."},
    {"tiercache_flash_bytes", "flash_bytes_used", MT_GAUGE,
     "Bytes of the flash device in segments that hold data."},
    {"tiercache_flash_limit_bytes", "extstore_limit_maxbytes", MT_GAUGE,
     "Bytes of the flash device the tier uses (segments times their size)."},
    {"tiercache_flash_written_bytes_total", "flash_bytes_written", MT_COUNTER,
     "Bytes written to the flash device (new items, rewrites, metadata)."},
    {"tiercache_flash_written_items_total", "flash_items_written", MT_COUNTER,
     "Items written to flash, new and rewritten."},
    {"tiercache_flash_spilled_bytes_total", "flash_bytes_spilled", MT_COUNTER,
     "Compressed bytes of items newly spilled from RAM to flash."},
    {"tiercache_flash_spilled_logical_bytes_total", "flash_bytes_logical",
     MT_COUNTER, "Key and value bytes of items newly spilled to flash."},
    {"tiercache_flash_read_bytes_total", "flash_bytes_read", MT_COUNTER,
     "Bytes read from the flash device."},
    {"tiercache_flash_reads_total", "flash_reads", MT_COUNTER,
     "Block reads issued to the flash device."},
    {"tiercache_flash_get_misses_total", "flash_get_misses", MT_COUNTER,
     "Gets that missed both RAM and flash."},
    {"tiercache_flash_promotions_total", "flash_promotions", MT_COUNTER,
     "Flash hits copied back to RAM."},
    {"tiercache_flash_reclaims_total", "flash_reclaims", MT_COUNTER,
     "Flash segments reclaimed (the oldest segment is emptied for writing)."},
    {"tiercache_flash_rewrites_total", "flash_rewrites", MT_COUNTER,
     "Live items rewritten by reclaim."},
    {"tiercache_flash_respill_skipped_total", "flash_respill_skipped",
     MT_COUNTER, "Evictions not written again: an unmodified copy was on "
     "flash."},
    {"tiercache_flash_index_bytes", "flash_index_bytes", MT_GAUGE,
     "Bytes of the flash index (outside -m)."},
    {"tiercache_flash_index_max_bytes", "flash_index_bytes_max", MT_GAUGE,
     "Bytes the flash index may grow to."},
    {"tiercache_flash_index_capacity_items", "flash_index_capacity", MT_GAUGE,
     "Items the flash index can hold at its current size."},
    {"tiercache_flash_index_max_capacity_items", "flash_index_capacity_max",
     MT_GAUGE, "Items the flash index can hold at its largest size."},
    {"tiercache_flash_dict_bytes", "flash_dict_bytes", MT_GAUGE,
     "Bytes of the zstd dictionary flash blocks use (0: none)."},
    {"tiercache_flash_recovered_items", "flash_recovered_items", MT_GAUGE,
     "Items the last start recovered from flash."},
    {"tiercache_flash_recovery_errors", "flash_recovery_errors", MT_GAUGE,
     "Segments, maps or dictionaries the last start's recovery skipped."},
    {"tiercache_flash_checkpoints_total", "flash_checkpoints", MT_COUNTER,
     "Crash checkpoints of the flash index taken."},
    {"tiercache_flash_checkpoints_invalidated_total",
     "flash_checkpoints_invalidated", MT_COUNTER,
     "Crash checkpoints a change made unusable."},
    {"tiercache_flash_checkpoints_dirty_total", "flash_checkpoints_dirty",
     MT_COUNTER, "Checkpoint builds a change spoiled."},
    {"tiercache_flash_checkpoint_kills_total", "flash_checkpoint_kills",
     MT_COUNTER, "Changed keys journaled against the crash checkpoint."},
    {"tiercache_flash_checkpoint_extends_total", "flash_checkpoint_extends",
     MT_COUNTER, "Sealed segments the crash checkpoint keeps too."},
    {"tiercache_flash_checkpoint_extends_skipped_total",
     "flash_checkpoint_extends_skipped", MT_COUNTER,
     "Sealed segments the crash checkpoint could not keep."},
};

static void render_simple(struct evbuffer *b, const stats_snapshot_t *sn,
                          const simple_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        if (stats_value(sn, t[i].stat, &v) != STATS_VALUE_OK)
            continue;
        family(b, t[i].metric, t[i].type, t[i].help);
        sample_u64(b, t[i].metric, NULL, v);
    }
}

/* memcached_commands_total, as the exporter derives it from `stats`. */
static void render_commands(struct evbuffer *b, const stats_snapshot_t *sn)
{
    static const char *const ops[] = {"get", "delete", "incr", "decr", "cas",
                                      "touch"};
    const char *name = "memcached_commands_total";
    char stat[32];
    family(b, name, MT_COUNTER, "Total number of all requests broken down by "
           "command (get, set, etc.) and status.");
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        const char *hit[] = {"command", ops[i], "status", "hit", NULL};
        const char *miss[] = {"command", ops[i], "status", "miss", NULL};
        snprintf(stat, sizeof(stat), "%s_hits", ops[i]);
        sample_u64(b, name, hit, val(sn, stat));
        snprintf(stat, sizeof(stat), "%s_misses", ops[i]);
        sample_u64(b, name, miss, val(sn, stat));
    }
    const char *badval[] = {"command", "cas", "status", "badval", NULL};
    sample_u64(b, name, badval, val(sn, "cas_badval"));
    const char *flush[] = {"command", "flush", "status", "hit", NULL};
    sample_u64(b, name, flush, val(sn, "cmd_flush"));
    /* memcached counts every cas in cmd_set too */
    const char *set[] = {"command", "set", "status", "hit", NULL};
    uint64_t cas = val(sn, "cas_misses") + val(sn, "cas_hits") +
                   val(sn, "cas_badval");
    sample_u64(b, name, set, sub0(val(sn, "cmd_set"), cas));
}

/* The exporter's lru_crawler settings gauges (only with the crawler on). */
static void render_settings(struct evbuffer *b, const settings_t *s)
{
    if (!s->lru_crawler)
        return;
    const struct {
        const char *name;
        const char *help;
        double v;
    } g[] = {
        {"memcached_lru_crawler_enabled", "Whether the LRU crawler is enabled.",
         1},
        {"memcached_lru_crawler_sleep",
         "Microseconds to sleep between LRU crawls.", s->lru_crawler_sleep},
        {"memcached_lru_crawler_to_crawl",
         "Max items to crawl per slab per run.", s->lru_crawler_tocrawl},
        {"memcached_lru_crawler_maintainer_thread",
         "Split LRU mode and background threads.", s->lru_maintainer ? 1 : 0},
        {"memcached_lru_crawler_hot_percent",
         "Percent of slab memory reserved for HOT LRU.", s->hot_lru_pct},
        {"memcached_lru_crawler_warm_percent",
         "Percent of slab memory reserved for WARM LRU.", s->warm_lru_pct},
        {"memcached_lru_crawler_hot_max_factor",
         "Set idle age of HOT LRU to COLD age * this", s->hot_max_factor},
        {"memcached_lru_crawler_warm_max_factor",
         "Set idle age of WARM LRU to COLD age * this", s->warm_max_factor},
    };
    for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++) {
        family(b, g[i].name, MT_GAUGE, g[i].help);
        sample_double(b, g[i].name, NULL, g[i].v);
    }
}

/* ---- per slab class: `stats items` and `stats slabs` ---- */

typedef struct slab_stat {
    unsigned cls;
    bool items;      /* from `stats items` (else `stats slabs`) */
    char field[40];
    uint64_t v;
} slab_stat_t;

typedef struct slab_stats {
    slab_stat_t *v;
    size_t n, cap;
    bool oom;
    bool items;          /* the group being collected */
    bool have_malloced;
    uint64_t total_malloced;
} slab_stats_t;

/* cache_stat_emit_fn: "items:<cls>:<field>" / "<cls>:<field>" / other. */
static void collect_slab_stat(void *ctx, const char *name, const char *value)
{
    slab_stats_t *ss = ctx;
    const char *p = name;
    if (ss->items) {
        if (strncmp(p, "items:", 6) != 0)
            return;
        p += 6;
    } else if (strcmp(name, "total_malloced") == 0) {
        ss->total_malloced = strtoull(value, NULL, 10);
        ss->have_malloced = true;
        return;
    }
    char *end;
    unsigned long cls = strtoul(p, &end, 10);
    if (end == p || *end != ':' || strlen(end + 1) >= sizeof(ss->v->field))
        return;
    if (ss->n == ss->cap) {
        size_t cap = ss->cap ? ss->cap * 2 : 256;
        slab_stat_t *nv = realloc(ss->v, cap * sizeof(*nv));
        if (nv == NULL) {
            ss->oom = true;
            return;
        }
        ss->v = nv;
        ss->cap = cap;
    }
    slab_stat_t *s = &ss->v[ss->n++];
    s->cls = (unsigned)cls;
    s->items = ss->items;
    strcpy(s->field, end + 1);
    s->v = strtoull(value, NULL, 10);
}

static bool slab_find(const slab_stats_t *ss, unsigned cls, bool items,
                      const char *field, uint64_t *v)
{
    for (size_t i = 0; i < ss->n; i++) {
        const slab_stat_t *s = &ss->v[i];
        if (s->cls == cls && s->items == items && strcmp(s->field, field) == 0) {
            *v = s->v;
            return true;
        }
    }
    return false;
}

typedef struct slab_family {
    const char *metric;
    bool items;           /* `stats items` field, else `stats slabs` */
    const char *field;
    mtype_e type;
    const char *help;
} slab_family_t;

static const slab_family_t slab_families[] = {
    {"memcached_slab_current_items", true, "number", MT_GAUGE,
     "Number of items currently stored in this slab class."},
    {"memcached_slab_items_age_seconds", true, "age", MT_GAUGE,
     "Number of seconds the oldest item has been in the slab class."},
    {"memcached_slab_items_crawler_reclaimed_total", true, "crawler_reclaimed",
     MT_COUNTER, "Number of items freed by the LRU Crawler."},
    {"memcached_slab_items_evicted_total", true, "evicted", MT_COUNTER,
     "Total number of times an item had to be evicted from the LRU before it "
     "expired."},
    {"memcached_slab_items_evicted_nonzero_total", true, "evicted_nonzero",
     MT_COUNTER, "Total number of times an item which had an explicit expire "
     "time set had to be evicted from the LRU before it expired."},
    {"memcached_slab_items_evicted_time_seconds", true, "evicted_time",
     MT_GAUGE, "Seconds since the last access for the most recent item "
     "evicted from this class."},
    {"memcached_slab_items_evicted_unfetched_total", true, "evicted_unfetched",
     MT_COUNTER, "Total nmber of items evicted and never fetched."},
    {"memcached_slab_items_expired_unfetched_total", true, "expired_unfetched",
     MT_COUNTER, "Total number of valid items evicted from the LRU which were "
     "never touched after being set."},
    {"memcached_slab_items_outofmemory_total", true, "outofmemory", MT_COUNTER,
     "Total number of items for this slab class that have triggered an out "
     "of memory error."},
    {"memcached_slab_items_reclaimed_total", true, "reclaimed", MT_COUNTER,
     "Total number of items reclaimed."},
    {"memcached_slab_items_tailrepairs_total", true, "tailrepairs", MT_COUNTER,
     "Total number of times the entries for a particular ID need repairing."},
    {"memcached_slab_items_moves_to_cold", true, "moves_to_cold", MT_COUNTER,
     "Number of items moved from HOT or WARM into COLD."},
    {"memcached_slab_items_moves_to_warm", true, "moves_to_warm", MT_COUNTER,
     "Number of items moves from COLD into WARM."},
    {"memcached_slab_items_moves_within_lru", true, "moves_within_lru",
     MT_COUNTER, "Number of times active items were bumped within HOT or "
     "WARM."},
    {"memcached_slab_hot_items", true, "number_hot", MT_GAUGE,
     "Number of items presently stored in the HOT LRU."},
    {"memcached_slab_warm_items", true, "number_warm", MT_GAUGE,
     "Number of items presently stored in the WARM LRU."},
    {"memcached_slab_cold_items", true, "number_cold", MT_GAUGE,
     "Number of items presently stored in the COLD LRU."},
    {"memcached_slab_temporary_items", true, "number_temp", MT_GAUGE,
     "Number of items presently stored in the TEMPORARY LRU."},
    {"memcached_slab_hot_age_seconds", true, "age_hot", MT_GAUGE,
     "Age of the oldest item in HOT LRU."},
    {"memcached_slab_warm_age_seconds", true, "age_warm", MT_GAUGE,
     "Age of the oldest item in WARM LRU."},
    {"memcached_slab_mem_requested_bytes", true, "mem_requested", MT_GAUGE,
     "Number of bytes of memory actual items take up within a slab."},
    {"memcached_slab_chunk_size_bytes", false, "chunk_size", MT_GAUGE,
     "Number of bytes allocated to each chunk within this slab class."},
    {"memcached_slab_chunks_per_page", false, "chunks_per_page", MT_GAUGE,
     "Number of chunks within a single page for this slab class."},
    {"memcached_slab_current_pages", false, "total_pages", MT_GAUGE,
     "Number of pages allocated to this slab class."},
    {"memcached_slab_current_chunks", false, "total_chunks", MT_GAUGE,
     "Number of chunks allocated to this slab class."},
    {"memcached_slab_chunks_used", false, "used_chunks", MT_GAUGE,
     "Number of chunks allocated to an item."},
    {"memcached_slab_chunks_free", false, "free_chunks", MT_GAUGE,
     "Number of chunks not yet allocated items."},
    {"memcached_slab_chunks_free_end", false, "free_chunks_end", MT_GAUGE,
     "Number of free chunks at the end of the last allocated page."},
};

/* The classes present, ascending, each once (cls[] of n). */
static size_t slab_classes(const slab_stats_t *ss, bool items, unsigned *cls,
                           size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < ss->n; i++) {
        if (ss->v[i].items != items)
            continue;
        unsigned c = ss->v[i].cls;
        size_t j = 0;
        while (j < n && cls[j] != c)
            j++;
        if (j == n && n < max)
            cls[n++] = c;
    }
    /* insertion sort: a few dozen classes */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && cls[j - 1] > cls[j]; j--) {
            unsigned t = cls[j];
            cls[j] = cls[j - 1];
            cls[j - 1] = t;
        }
    return n;
}

#define MAX_CLASSES 256

static void render_slabs(struct evbuffer *b, const slab_stats_t *ss)
{
    unsigned icls[MAX_CLASSES], scls[MAX_CLASSES];
    size_t ni = slab_classes(ss, true, icls, MAX_CLASSES);
    size_t ns = slab_classes(ss, false, scls, MAX_CLASSES);
    char slab[16];
    for (size_t f = 0; f < sizeof(slab_families) / sizeof(slab_families[0]);
         f++) {
        const slab_family_t *sf = &slab_families[f];
        const unsigned *cls = sf->items ? icls : scls;
        size_t n = sf->items ? ni : ns;
        bool header = false;
        for (size_t i = 0; i < n; i++) {
            uint64_t v;
            if (!slab_find(ss, cls[i], sf->items, sf->field, &v))
                continue;
            if (!header)
                family(b, sf->metric, sf->type, sf->help);
            header = true;
            snprintf(slab, sizeof(slab), "%u", cls[i]);
            const char *labels[] = {"slab", slab, NULL};
            sample_u64(b, sf->metric, labels, v);
        }
    }
    /* hits per LRU of each class */
    static const char *const lru[][2] = {{"hits_to_hot", "hot"},
                                         {"hits_to_warm", "warm"},
                                         {"hits_to_cold", "cold"},
                                         {"hits_to_temp", "temporary"}};
    const char *name = "memcached_slab_lru_hits_total";
    if (ni > 0)
        family(b, name, MT_COUNTER, "Number of get_hits to the LRU.");
    for (size_t i = 0; i < ni; i++) {
        snprintf(slab, sizeof(slab), "%u", icls[i]);
        for (size_t k = 0; k < 4; k++) {
            uint64_t v;
            if (!slab_find(ss, icls[i], true, lru[k][0], &v))
                continue;
            const char *labels[] = {"slab", slab, "lru", lru[k][1], NULL};
            sample_u64(b, name, labels, v);
        }
    }
    /* commands per class, as memcached_commands_total */
    name = "memcached_slab_commands_total";
    if (ns > 0)
        family(b, name, MT_COUNTER, "Total number of all requests broken down "
               "by command (get, set, etc.) and status per slab.");
    static const char *const ops[] = {"get", "delete", "incr", "decr", "cas",
                                      "touch"};
    for (size_t i = 0; i < ns; i++) {
        snprintf(slab, sizeof(slab), "%u", scls[i]);
        char field[32];
        uint64_t v;
        for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
            snprintf(field, sizeof(field), "%s_hits", ops[k]);
            if (!slab_find(ss, scls[i], false, field, &v))
                continue;
            const char *labels[] = {"slab", slab, "command", ops[k], "status",
                                    "hit", NULL};
            sample_u64(b, name, labels, v);
        }
        uint64_t badval = 0, cas_hits = 0, set = 0;
        bool hb = slab_find(ss, scls[i], false, "cas_badval", &badval);
        if (hb) {
            const char *labels[] = {"slab", slab, "command", "cas", "status",
                                    "badval", NULL};
            sample_u64(b, name, labels, badval);
        }
        (void)slab_find(ss, scls[i], false, "cas_hits", &cas_hits);
        if (slab_find(ss, scls[i], false, "cmd_set", &set)) {
            const char *labels[] = {"slab", slab, "command", "set", "status",
                                    "hit", NULL};
            sample_u64(b, name, labels, sub0(set, cas_hits + badval));
        }
    }
}

/* ---- tiercache's own families ---- */

static void render_tiercache(struct evbuffer *b, const stats_snapshot_t *sn)
{
    const cache_stats_t *cs = &sn->cache;
    const char *name = "tiercache_get_hits_total";
    family(b, name, MT_COUNTER, "Keys found by get commands, by the tier that "
           "answered (ram: get_hits minus the flash hits).");
    const char *ram[] = {"tier", "ram", NULL};
    uint64_t hits = val(sn, "get_hits");
    sample_u64(b, name, ram, sub0(hits, cs->flash_enabled ? cs->flash_get_hits
                                                          : 0));
    if (cs->flash_enabled) {
        const char *flash[] = {"tier", "flash", NULL};
        sample_u64(b, name, flash, cs->flash_get_hits);
    }
    name = "tiercache_memory_outside_limit_bytes";
    family(b, name, MT_GAUGE, "Bytes of memory outside -m (hash table, flash "
           "index, buffers), as `stats` memory_outside_limit.");
    sample_u64(b, name, NULL, sn->memory_outside_limit);
    name = "tiercache_threads";
    family(b, name, MT_GAUGE, "Worker threads (-t), as `stats` threads.");
    sample_u64(b, name, NULL, sn->threads);
    if (!cs->flash_enabled)
        return;
    render_simple(b, sn, flash_simple,
                  sizeof(flash_simple) / sizeof(flash_simple[0]));

    name = "tiercache_flash_segments";
    family(b, name, MT_GAUGE, "Flash segments, by state (free or used).");
    const char *sfree[] = {"state", "free", NULL};
    const char *sused[] = {"state", "used", NULL};
    sample_u64(b, name, sfree, cs->flash_segments_free);
    sample_u64(b, name, sused, cs->flash_segments_used);

    name = "tiercache_flash_drops_total";
    family(b, name, MT_COUNTER, "RAM evictions not written to flash, by "
           "reason (admission: refused by the admission policy, stall: the "
           "writer was behind past --flash-stall-ms, io: the device failed).");
    const char *da[] = {"reason", "admission", NULL};
    const char *ds[] = {"reason", "stall", NULL};
    const char *di[] = {"reason", "io", NULL};
    sample_u64(b, name, da, cs->flash_drops_admission);
    sample_u64(b, name, ds, cs->flash_drops_stall);
    sample_u64(b, name, di, cs->flash_drops_io);

    name = "tiercache_flash_errors_total";
    family(b, name, MT_COUNTER, "Flash device errors, by kind (read, write, "
           "checksum: a block that failed its checksum).");
    const char *er[] = {"kind", "read", NULL};
    const char *ew[] = {"kind", "write", NULL};
    const char *ec[] = {"kind", "checksum", NULL};
    sample_u64(b, name, er, cs->flash_read_errors);
    sample_u64(b, name, ew, cs->flash_write_errors);
    sample_u64(b, name, ec, cs->flash_checksum_failures);

    name = "tiercache_flash_index_dropped_total";
    family(b, name, MT_COUNTER, "Flash index entries dropped, by reason "
           "(full: the index was full, collateral: same tag as a write).");
    const char *xf[] = {"reason", "full", NULL};
    const char *xc[] = {"reason", "collateral", NULL};
    sample_u64(b, name, xf, cs->flash_index_evictions);
    sample_u64(b, name, xc, cs->flash_index_collateral);

    name = "tiercache_flash_write_amplification";
    family(b, name, MT_GAUGE, "Bytes written to flash per byte spilled "
           "(flash_write_amplification).");
    sample_double(b, name, NULL, cs->flash_write_amplification);
    name = "tiercache_flash_compression_ratio";
    family(b, name, MT_GAUGE, "Key and value bytes per compressed byte of "
           "spilled items (flash_compression_ratio).");
    sample_double(b, name, NULL, cs->flash_compression_ratio);

    name = "tiercache_flash_recovery_info";
    family(b, name, MT_GAUGE, "What the last start found on flash (kind: new, "
           "clean or crash); the value is 1.");
    const char *kind[] = {"kind", cs->flash_recovery ? cs->flash_recovery
                                                     : "new", NULL};
    sample_u64(b, name, kind, 1);
    name = "tiercache_flash_recovery_seconds";
    family(b, name, MT_GAUGE, "How long the last start's flash recovery took.");
    sample_double(b, name, NULL, cs->flash_recovery_seconds);
}

bool metrics_render(server_t *srv, struct evbuffer *b)
{
    stats_snapshot_t sn;
    slab_stats_t ss;
    memset(&ss, 0, sizeof(ss));
    stats_snapshot(srv, &sn);
    ss.items = true;
    cache_stats_group(srv->cache, CACHE_STATS_ITEMS, collect_slab_stat, &ss);
    ss.items = false;
    cache_stats_group(srv->cache, CACHE_STATS_SLABS, collect_slab_stat, &ss);

    family(b, "memcached_up", MT_GAUGE, "Could the memcached server be "
           "reached.");
    sample_u64(b, "memcached_up", NULL, 1);
    const char *version[] = {"version", TIERCACHE_VERSION, NULL};
    family(b, "memcached_version", MT_GAUGE, "The version of this memcached "
           "server.");
    sample_u64(b, "memcached_version", version, 1);
    family(b, "memcached_process_user_cpu_seconds_total", MT_COUNTER,
           "Accumulated user time for this process.");
    sample_timeval(b, "memcached_process_user_cpu_seconds_total",
                   &sn.rusage_user);
    family(b, "memcached_process_system_cpu_seconds_total", MT_COUNTER,
           "Accumulated system time for this process.");
    sample_timeval(b, "memcached_process_system_cpu_seconds_total",
                   &sn.rusage_system);
    render_simple(b, &sn, memcached_simple,
                  sizeof(memcached_simple) / sizeof(memcached_simple[0]));
    render_commands(b, &sn);
    if (ss.have_malloced) {
        family(b, "memcached_malloced_bytes", MT_GAUGE,
               "Number of bytes of memory allocated to slab pages.");
        sample_u64(b, "memcached_malloced_bytes", NULL, ss.total_malloced);
    }
    render_settings(b, srv->settings);
    if (sn.cache.flash_enabled)
        render_simple(b, &sn, memcached_extstore,
                      sizeof(memcached_extstore) /
                          sizeof(memcached_extstore[0]));
    render_slabs(b, &ss);
    render_tiercache(b, &sn);
    bool ok = !ss.oom;
    free(ss.v);
    return ok;
}
