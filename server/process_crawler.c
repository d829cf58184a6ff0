/*
 * server/process_crawler.c - the text protocol's `lru_crawler` command:
 * enable/disable/sleep/tocrawl (run-time settings shown by `stats
 * settings`), crawl (the RAM tier's crawler runs by itself: checks and OK)
 * and metadump, memcached's listing of every item: the RAM part written
 * here, the flash part walked on the tier's walk thread into a private,
 * bounded buffer, then queued on the worker by process_metadump_resume().
 * Called by process.c (dispatch and resume); contracts in process_int.h.
 */
#include "process_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logger.h"
#include "proto_num.h"
/* Which classes a metadump lists (lru_crawler metadump CLASSES). */
typedef struct meta_classes {
    bool classes[64];
    bool all;
} meta_classes_t;

/* The RAM part's visitor context (the worker's output queue). */
typedef struct meta_ctx {
    outq_t *q;
    meta_classes_t want;
} meta_ctx_t;

/* memcached's metadump line for one item into out (room for
 * META_LINE_MAX); returns its length. */
#define META_LINE_MAX (CACHE_KEY_MAX * 3 + 160)
static size_t meta_line(char *out, const cache_item_meta_t *m)
{
    char key[LOGGER_URI_KEY_MAX];
    logger_uri_key(m->key, m->nkey < CACHE_KEY_MAX ? m->nkey : CACHE_KEY_MAX,
                   key);
    int n = snprintf(out, META_LINE_MAX,
                     "key=%s exp=%lld la=%lld cas=%" PRIu64
                     " fetch=%s cls=%u size=%zu\n",
                     key, m->exptime ? (long long)m->exptime : -1LL,
                     (long long)m->last_access, m->cas, m->fetched ? "yes" : "no",
                     m->slab_class, m->total_size);
    if (n < 0)
        return 0;
    return (size_t)n < META_LINE_MAX ? (size_t)n : META_LINE_MAX - 1;
}

/* meta_line() of an item of a wanted class; 0 (nothing) for the others. */
static size_t meta_line_if(char *out, const meta_classes_t *want,
                           const cache_item_meta_t *m)
{
    unsigned cls = m->slab_class;
    if (!want->all && !(cls < 64 && want->classes[cls]))
        return 0;
    return meta_line(out, m);
}

static bool meta_visit(void *ctx, const cache_item_meta_t *m)
{
    meta_ctx_t *mc = ctx;
    char line[META_LINE_MAX];
    size_t n = meta_line_if(line, &mc->want, m);
    if (n)
        outq_text(mc->q, line, n);
    return true;
}

/*
 * The flash part of a metadump: the walk thread appends lines to this
 * private buffer (the connection's output queue belongs to the worker);
 * process_resume() copies it out on the worker, then writes END. Bounded:
 * past METADUMP_FLASH_MAX bytes the walk stops and the reply ends with
 * "SERVER_ERROR metadump truncated ..." before END (memcached streams its
 * dump and has no such bound).
 */
#define METADUMP_FLASH_MAX ((size_t)64 << 20)

typedef struct meta_dump {
    meta_classes_t want;
    bool truncated;
    bool nomem;
    char *buf;
    size_t len, cap;
} meta_dump_t;

static void meta_dump_free(void *p)
{
    meta_dump_t *d = p;
    if (d)
        free(d->buf);
    free(d);
}

/* Runs on the walk thread: touches only *d. */
static bool meta_dump_visit(void *ctx, const cache_item_meta_t *m)
{
    meta_dump_t *d = ctx;
    char line[META_LINE_MAX];
    size_t n = meta_line_if(line, &d->want, m);
    if (n == 0)
        return true;
    if (d->len + n > METADUMP_FLASH_MAX) {
        d->truncated = true;
        return false;
    }
    if (d->len + n > d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 65536;
        while (cap < d->len + n)
            cap *= 2;
        char *nb = realloc(d->buf, cap);
        if (!nb) {
            d->nomem = true;
            return false;
        }
        d->buf = nb;
        d->cap = cap;
    }
    memcpy(d->buf + d->len, line, n);
    d->len += n;
    return true;
}

/* On the worker, after the flash walk ended: the lines, then END. */
void process_metadump_resume(conn_t *c)
{
    meta_dump_t *d = c->dump;
    c->dump = NULL;
    c->dump_free = NULL;
    if (d && d->len)
        outq_text(&c->out, d->buf, d->len);
    if (d && d->truncated)
        conn_reply(c, "SERVER_ERROR metadump truncated: flash listing over 64 MiB");
    else if (d && d->nomem)
        conn_reply(c, "SERVER_ERROR out of memory during metadump");
    outq_text(&c->out, "END\r\n", 5);
    meta_dump_free(d);
}

/* lru_crawler sleep|tocrawl N: memcached's checks (its safe_strtoul: a
 * 32-bit value, proto_num.h); the value is recorded for `stats settings`
 * (tocrawl as the unsigned it is). */
static void reply_crawler_number(conn_t *c, const char *what, const char *v)
{
    server_t *srv = process_srv(c);
    uint32_t n;
    if (!proto_strtoul(v, strlen(v), &n)) {
        conn_reply(c, "CLIENT_ERROR bad command line format");
        return;
    }
    if (what[0] == 's') {
        if (n > 1000000) {
            conn_reply(c, "CLIENT_ERROR sleep must be one second or less");
            return;
        }
        atomic_store(&srv->crawler_sleep, (int)n);
    } else {
        atomic_store(&srv->crawler_tocrawl, (int)(int32_t)n);
    }
    conn_reply(c, "OK");
}

/* lru_crawler crawl|metadump CLASSES: "all", "hash" (metadump) or class
 * ids 1..63 separated by commas into classes[]; false: memcached's
 * BADCLASS. */
static bool crawler_classes(char *arg, bool metadump, bool classes[64],
                            bool *all)
{
    *all = strcmp(arg, "all") == 0 || (metadump && strcmp(arg, "hash") == 0);
    if (*all)
        return true;
    char *save = NULL;
    for (char *t = strtok_r(arg, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        uint32_t id;
        if (!proto_strtoul(t, strlen(t), &id) || id == 0 || id >= 64)
            return false;
        classes[id] = true;
    }
    return true;
}

/* lru_crawler, as memcached 1.6.18: crawl and metadump need the crawler
 * enabled (-o lru_crawler, `lru_crawler enable`); a bad class is BADCLASS;
 * enable/disable/sleep/tocrawl change the run-time settings. A metadump
 * must not follow replies still queued from earlier commands of the same
 * batch ("ERROR cannot pipeline other commands before metadump"; memcached
 * flushes after get and mn, so it accepts those two before one: not here).
 * Commands after a metadump run once its END is queued (memcached leaves
 * them until the client sends more). */
void process_lru_crawler(conn_t *c, const text_request_t *req)
{
    char buf[512];
    char *tok[4];
    size_t n = process_tokens(req->args, req->args_len, buf, sizeof(buf), tok, 4);
    server_t *srv = process_srv(c);
    if (n == 0) {
        conn_reply(c, "ERROR");
        return;
    }
    if (strcmp(tok[0], "metadump") == 0 || strcmp(tok[0], "crawl") == 0) {
        bool dump = tok[0][0] == 'm';
        if (n != 2) {
            conn_reply(c, "ERROR");
            return;
        }
        if (!atomic_load(&srv->crawler_enabled)) {
            conn_reply(c, "CLIENT_ERROR lru crawler disabled");
            return;
        }
        if (dump && srv->settings->no_dump) {
            conn_reply(c, "ERROR metadump not allowed");
            return;
        }
        if (dump && c->out.head < c->out.niov) {
            conn_reply(c, "ERROR cannot pipeline other commands before "
                          "metadump");
            return;
        }
        meta_ctx_t mc;
        memset(&mc, 0, sizeof(mc));
        if (!crawler_classes(tok[1], dump, mc.want.classes, &mc.want.all)) {
            conn_reply(c, "BADCLASS invalid class id");
            return;
        }
        if (!dump) {
            conn_reply(c, "OK"); /* the RAM tier's crawler runs by itself */
            return;
        }
        mc.q = &c->out;
        /* the RAM part here, the flash part on the walk thread (or
         * BUSY before any line if a flash walk runs already) */
        meta_dump_t *d = calloc(1, sizeof(*d));
        if (!d) {
            conn_reply(c, "SERVER_ERROR out of memory");
            return;
        }
        d->want = mc.want;
        const cache_async_t *async = conn_arm(c, conn_slot(c, 0));
        cache_status_e st =
            cache_metadump(c->w->cw, meta_visit, &mc, meta_dump_visit, d, async);
        conn_disarm(c, st);
        if (st == CACHE_EXISTS) {
            meta_dump_free(d);
            conn_reply(c, "BUSY currently processing crawler request");
            return;
        }
        if (st == CACHE_NO_MEMORY)
            d->nomem = true; /* the RAM part was listed: say so, then END */
        c->dump = d;
        c->dump_free = meta_dump_free;
        if (st == CACHE_PENDING)
            conn_park(c, CONN_PARK_DUMP);
        else
            process_metadump_resume(c);
        return;
    }
    if (strcmp(tok[0], "enable") == 0) {
        /* memcached's reply when its crawler thread runs already */
        conn_reply(c, atomic_exchange(&srv->crawler_enabled, true)
                          ? "ERROR failed to start lru crawler thread"
                          : "OK");
        return;
    }
    if (strcmp(tok[0], "disable") == 0) {
        atomic_store(&srv->crawler_enabled, false);
        conn_reply(c, "OK");
        return;
    }
    if (strcmp(tok[0], "sleep") == 0 || strcmp(tok[0], "tocrawl") == 0) {
        if (n != 2) {
            conn_reply(c, "ERROR");
            return;
        }
        reply_crawler_number(c, tok[0], tok[1]);
        return;
    }
    conn_reply(c, "ERROR");
}
