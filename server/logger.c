/*
 * server/logger.c - see logger.h. Line formats are memcached 1.6.18's
 * (logger.c there): "ts=%d.%d" prints the microseconds unpadded, as it
 * does; keys are URI-encoded (all but [A-Za-z0-9-._~] as %XX).
 *
 * Lock order: logger.lock is a leaf (see logger.h).
 */
#include "logger.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/time.h>
#include <unistd.h>

#include "conn.h"
#include "worker.h"

/* A line is at most this long (memcached's LOGGER_PARSE_SCRATCH is 4 KiB;
 * the longest here is an eviction: ~120 + a 250-byte key encoded x3). */
#define LINE_MAX_LEN 1024
/* Room a line needs beyond its bytes: a "skipped=<n>\n" line before it. */
#define SKIP_ROOM 128
/* Reply bytes a watcher's connection may queue before the ring waits. */
#define PULL_CAP ((size_t)64 * 1024)

struct logger_watcher {
    logger_t *l;
    conn_t *c;
    unsigned slot;         /* index in l->watchers */
    unsigned streams;
    char *ring;
    size_t size, head, len; /* bytes at ring[head .. head + len) mod size */
    uint64_t skipped;      /* lines missed since the last one given */
    int efd;               /* eventfd: the ring is no longer empty */
    struct event *ev;      /* efd on the watcher's worker */
    bool kicked;           /* efd written, ring not yet emptied */
};

const char *logger_strerror(logger_status_e st)
{
    switch (st) {
    case LOGGER_OK: return "ok";
    case LOGGER_ENOMEM: return "out of memory";
    case LOGGER_ESYS: return "eventfd or event creation failed";
    case LOGGER_ETOOMANY: return "log watcher limit reached";
    }
    return "unknown logger status";
}

logger_status_e logger_create(size_t watcher_buf, bool flash, logger_t **out)
{
    logger_t *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return LOGGER_ENOMEM;
    pthread_mutex_init(&l->lock, NULL);
    l->watcher_buf = watcher_buf ? watcher_buf : LOGGER_WATCHER_BUF;
    l->flash = flash;
    *out = l;
    return LOGGER_OK;
}

void logger_destroy(logger_t **lp)
{
    logger_t *l = *lp;
    if (l == NULL)
        return;
    pthread_mutex_destroy(&l->lock);
    free(l);
    *lp = NULL;
}

/* Recomputes the gate (lock held). */
static void update_flags(logger_t *l)
{
    unsigned f = 0;
    for (unsigned i = 0; i < LOGGER_WATCHERS_MAX; i++)
        if (l->watchers[i])
            f |= l->watchers[i]->streams;
    atomic_store_explicit(&l->flags, f, memory_order_relaxed);
}

bool logger_parse_streams(char *const *tok, size_t n, unsigned *streams)
{
    static const struct {
        const char *word;
        unsigned flag;
    } words[] = {
        {"fetchers", LOGGER_FETCHERS},     {"mutations", LOGGER_MUTATIONS},
        {"evictions", LOGGER_EVICTIONS},   {"connevents", LOGGER_CONNEVENTS},
        {"sysevents", LOGGER_SYSEVENTS},   {"rawcmds", LOGGER_RAWCMDS},
        {"proxyreqs", LOGGER_PROXY},       {"proxyevents", LOGGER_PROXY},
        {"proxyuser", LOGGER_PROXY},
    };
    unsigned f = 0;
    if (n == 0) {
        *streams = LOGGER_FETCHERS;
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        size_t j;
        for (j = 0; j < sizeof(words) / sizeof(words[0]); j++)
            if (strcmp(tok[i], words[j].word) == 0)
                break;
        if (j == sizeof(words) / sizeof(words[0]))
            return false;
        f |= words[j].flag;
    }
    *streams = f;
    return true;
}

/* The eventfd fired: the ring has lines for the connection. */
static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    logger_watcher_t *w = arg;
    uint64_t v;
    (void)what;
    while (read(fd, &v, sizeof(v)) > 0)
        ;
    conn_kick(w->c); /* may close c, and free w: touch nothing after */
}

/* Frees a watcher no producer can reach (not in l->watchers) and what it
 * holds, whichever of its event, eventfd and ring exist. */
static void watcher_free(logger_watcher_t *w)
{
    if (w->ev)
        event_free(w->ev);
    if (w->efd >= 0)
        close(w->efd);
    free(w->ring);
    free(w);
}

logger_status_e logger_watch(logger_t *l, conn_t *c, unsigned streams)
{
    logger_watcher_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return LOGGER_ENOMEM;
    w->ring = malloc(l->watcher_buf);
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->ring == NULL || w->efd < 0) {
        logger_status_e st = w->ring == NULL ? LOGGER_ENOMEM : LOGGER_ESYS;
        watcher_free(w);
        return st;
    }
    w->ev = event_new(c->w->base, w->efd, EV_READ | EV_PERSIST, on_kick, w);
    if (w->ev == NULL || event_add(w->ev, NULL) != 0) {
        watcher_free(w);
        return LOGGER_ESYS;
    }
    w->l = l;
    w->c = c;
    w->size = l->watcher_buf;
    w->streams = streams;
    pthread_mutex_lock(&l->lock);
    unsigned i;
    for (i = 0; i < LOGGER_WATCHERS_MAX && l->watchers[i]; i++)
        ;
    if (i == LOGGER_WATCHERS_MAX) {
        pthread_mutex_unlock(&l->lock);
        watcher_free(w);
        return LOGGER_ETOOMANY;
    }
    w->slot = i;
    l->watchers[i] = w;
    l->nwatchers++;
    update_flags(l);
    pthread_mutex_unlock(&l->lock);
    c->watch = w;
    return LOGGER_OK;
}

void logger_unwatch(conn_t *c)
{
    logger_watcher_t *w = c->watch;
    if (w == NULL)
        return;
    logger_t *l = w->l;
    pthread_mutex_lock(&l->lock);
    l->watchers[w->slot] = NULL;
    l->nwatchers--;
    update_flags(l);
    pthread_mutex_unlock(&l->lock);
    /* no producer can reach w now */
    watcher_free(w);
    c->watch = NULL;
}

bool logger_pull(conn_t *c)
{
    logger_watcher_t *w = c->watch;
    if (w == NULL || c->out.pending >= PULL_CAP)
        return false;
    size_t room = PULL_CAP - c->out.pending;
    pthread_mutex_lock(&w->l->lock);
    size_t n = w->len < room ? w->len : room;
    size_t first = w->size - w->head < n ? w->size - w->head : n;
    if (first)
        outq_text(&c->out, w->ring + w->head, first);
    if (n > first)
        outq_text(&c->out, w->ring, n - first);
    w->head = (w->head + n) % w->size;
    w->len -= n;
    if (w->len == 0) {
        w->head = 0;
        w->kicked = false;
    }
    pthread_mutex_unlock(&w->l->lock);
    return n > 0;
}

/* Appends bytes to a ring with room for them (lock held). */
static void ring_put(logger_watcher_t *w, const char *p, size_t n)
{
    size_t tail = (w->head + w->len) % w->size;
    size_t first = w->size - tail < n ? w->size - tail : n;
    memcpy(w->ring + tail, p, first);
    memcpy(w->ring, p + first, n - first);
    w->len += n;
}

/* Gives a formatted line to every watcher of `stream`. */
static void publish(logger_t *l, unsigned stream, const char *line, size_t n)
{
    uint64_t one = 1;
    pthread_mutex_lock(&l->lock);
    l->written++;
    for (unsigned i = 0; i < LOGGER_WATCHERS_MAX; i++) {
        logger_watcher_t *w = l->watchers[i];
        if (w == NULL || !(w->streams & stream))
            continue;
        if (w->size - w->len < n + SKIP_ROOM) {
            w->skipped++;
            l->skipped++;
            continue;
        }
        if (w->skipped) {
            char sk[64];
            int k = snprintf(sk, sizeof(sk), "skipped=%" PRIu64 "\n",
                             w->skipped);
            ring_put(w, sk, (size_t)k);
            w->skipped = 0;
        }
        ring_put(w, line, n);
        l->sent++;
        if (!w->kicked) {
            w->kicked = true;
            ssize_t r = write(w->efd, &one, sizeof(one));
            (void)r; /* a full eventfd counter still wakes the worker */
        }
    }
    pthread_mutex_unlock(&l->lock);
}

/* "ts=<sec>.<usec> gid=<n> " into buf; returns its length. */
static size_t line_head(logger_t *l, char *buf)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    uint64_t gid = atomic_fetch_add_explicit(&l->gid, 1, memory_order_relaxed) + 1;
    int n = snprintf(buf, LINE_MAX_LEN, "ts=%d.%d gid=%" PRIu64 " ",
                     (int)tv.tv_sec, (int)tv.tv_usec, gid);
    return n > 0 ? (size_t)n : 0;
}

void logger_uri_key(const char *key, size_t nkey, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < nkey; i++) {
        unsigned char ch = (unsigned char)key[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' ||
            ch == '~') {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = '\0';
}

/* A key for an item line: logger_uri_key() of at most CACHE_KEY_MAX bytes
 * into k[LOGGER_URI_KEY_MAX]. */
static void item_key(const char *key, size_t nkey, char *k)
{
    logger_uri_key(key, nkey > CACHE_KEY_MAX ? CACHE_KEY_MAX : nkey, k);
}

/* One line to the watchers of `stream`: line_head(), then fmt's text
 * (ending in "\n"); a line longer than LINE_MAX_LEN is dropped. */
static void emit(logger_t *l, unsigned stream, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void emit(logger_t *l, unsigned stream, const char *fmt, ...)
{
    char line[LINE_MAX_LEN];
    size_t n = line_head(l, line);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    if (m > 0 && (size_t)m < sizeof(line) - n)
        publish(l, stream, line, n + (size_t)m);
}

void logger_item_get(logger_t *l, const char *key, size_t nkey,
                     logger_get_status_e st, unsigned clsid, int cfd,
                     size_t size)
{
    static const char *const words[] = {"not_found", "found", "flushed",
                                        "expired"};
    char k[LOGGER_URI_KEY_MAX];
    item_key(key, nkey, k);
    emit(l, LOGGER_FETCHERS,
         "type=item_get key=%s status=%s clsid=%u cfd=%d size=%zu\n", k,
         words[st], clsid, cfd, size);
}

void logger_item_store(logger_t *l, const char *key, size_t nkey,
                       cache_status_e st, cache_store_op_e op, int64_t ttl,
                       unsigned clsid, int cfd, size_t size)
{
    static const char *const cmds[] = {"set", "add", "replace", "append",
                                       "prepend", "cas", "cas"};
    const char *status;
    switch (st) {
    case CACHE_OK: status = "stored"; break;
    case CACHE_EXISTS: status = "exists"; break;
    case CACHE_NOT_FOUND: status = "not_found"; break;
    case CACHE_TOO_LARGE: status = "too_large"; break;
    case CACHE_NO_MEMORY: status = "no_memory"; break;
    default: status = "not_stored"; break;
    }
    char k[LOGGER_URI_KEY_MAX];
    item_key(key, nkey, k);
    emit(l, LOGGER_MUTATIONS,
         "type=item_store key=%s status=%s cmd=%s ttl=%u clsid=%u cfd=%d "
         "size=%zu\n",
         k, status, (unsigned)op < 7 ? cmds[op] : "na",
         (unsigned)(ttl > 0 ? ttl : 0), clsid, cfd, size);
}

/* The cache's eviction hook (cache.h): memcached's eviction line. */
static void on_evict(void *ctx, const cache_evict_event_t *e)
{
    logger_t *l = ctx;
    char k[LOGGER_URI_KEY_MAX];
    item_key(e->key, e->nkey, k);
    long long ttl = e->exptime > 0 ? (long long)(e->exptime - e->now) : -1;
    emit(l, LOGGER_EVICTIONS,
         "type=eviction key=%s fetch=%s ttl=%lld la=%d clsid=%u size=%zu%s\n",
         k, e->fetched ? "yes" : "no", ttl, (int)(e->now - e->last_access),
         e->slab_class, e->nbytes,
         !l->flash ? ""
         : e->kind == CACHE_EVICT_TO_FLASH ? " spilled=yes" : " spilled=no");
}

void logger_cache_hook(logger_t *l, cache_settings_t *cs)
{
    cs->ram.on_evict.fn = on_evict;
    cs->ram.on_evict.ctx = l;
    cs->ram.on_evict.gate = &l->flags;
}

/* rip, rport and transport from a connection's addr ("tcp:1.2.3.4:5",
 * "tcp6:[::1]:5", "unix:..."), as memcached prints them. */
static const char *peer(const char *addr, char *rip, size_t riplen,
                        unsigned *rport)
{
    snprintf(rip, riplen, "unix");
    *rport = 0;
    const char *p;
    if (strncmp(addr, "tcp:", 4) == 0)
        p = addr + 4;
    else if (strncmp(addr, "tcp6:", 5) == 0)
        p = addr + 5;
    else
        return "local";
    const char *colon = strrchr(p, ':');
    if (colon == NULL)
        return "tcp";
    const char *h = p, *he = colon;
    if (*h == '[' && he > h && he[-1] == ']') {
        h++;
        he--;
    }
    snprintf(rip, riplen, "%.*s", (int)(he - h), h);
    *rport = (unsigned)strtoul(colon + 1, NULL, 10);
    return "tcp";
}

void logger_conn_new(logger_t *l, int fd, const char *addr)
{
    char rip[64];
    unsigned rport;
    const char *transport = peer(addr, rip, sizeof(rip), &rport);
    emit(l, LOGGER_CONNEVENTS,
         "type=conn_new rip=%s rport=%u transport=%s cfd=%d\n", rip, rport,
         transport, fd);
}

void logger_conn_close(logger_t *l, int fd, const char *addr,
                       logger_close_reason_e reason)
{
    static const char *const reasons[] = {"error", "normal", "idle_timeout",
                                          "shutdown"};
    char rip[64];
    unsigned rport;
    const char *transport = peer(addr, rip, sizeof(rip), &rport);
    emit(l, LOGGER_CONNEVENTS,
         "type=conn_close rip=%s rport=%u transport=%s reason=%s cfd=%d\n",
         rip, rport, transport, reasons[reason], fd);
}

void logger_stats(logger_t *l, logger_stats_t *out)
{
    pthread_mutex_lock(&l->lock);
    out->written = l->written;
    out->sent = l->sent;
    out->skipped = l->skipped;
    out->watchers = l->nwatchers;
    pthread_mutex_unlock(&l->lock);
}
