/*
 * server/admin.c - see admin.h. Reply strings are memcached 1.6.18's.
 */
#include "admin.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logger.h"
#include "process.h"
#include "proto_num.h"
#include "server.h"
#include "tls.h"
#include "worker.h"

static server_t *srv_of(conn_t *c) { return c->w->srv; }

/* memcached 1.6.18's process_slabs_command(): `slabs reassign <src> <dst>`
 * (exactly 4 tokens, no noreply) and `slabs automove <0|1|2>` /
 * `slabs automove ratio <r>` (noreply honoured); anything else ERROR. */
static void reply_slabs(conn_t *c, char **tok, size_t n)
{
    server_t *srv = srv_of(c);
    if (n == 4 && strcmp(tok[1], "reassign") == 0) {
        int32_t src, dst;
        if (!srv->settings->slab_reassign) {
            conn_reply(c, "CLIENT_ERROR slab reassignment disabled");
            return;
        }
        if (!proto_strtol(tok[2], strlen(tok[2]), &src) || !proto_strtol(tok[3], strlen(tok[3]), &dst)) {
            conn_reply(c, "CLIENT_ERROR bad command line format");
            return;
        }
        switch (cache_slabs_reassign(srv->cache, src, dst)) {
        case CACHE_REASSIGN_OK: conn_reply(c, "OK"); break;
        case CACHE_REASSIGN_BUSY:
            conn_reply(c, "BUSY currently processing reassign request");
            break;
        case CACHE_REASSIGN_BADCLASS:
            conn_reply(c, "BADCLASS invalid src or dst class id");
            break;
        case CACHE_REASSIGN_NOSPARE:
            conn_reply(c, "NOSPARE source class has no spare pages");
            break;
        case CACHE_REASSIGN_SAME:
            conn_reply(c, "SAME src and dst class are identical");
            break;
        case CACHE_REASSIGN_DISABLED:
            conn_reply(c, "CLIENT_ERROR slab reassignment disabled");
            break;
        }
        return;
    }
    if (n < 3 || strcmp(tok[1], "automove") != 0) {
        conn_reply(c, "ERROR");
        return;
    }
    bool saved = c->noreply;
    if (strcmp(tok[n - 1], "noreply") == 0)
        c->noreply = true;
    if (strcmp(tok[2], "ratio") == 0) {
        char *end = NULL;
        double ratio = 0;
        if (n >= 4) {
            errno = 0;
            ratio = strtod(tok[3], &end);
        }
        /* memcached's safe_strtod() */
        if (n < 4 || errno == ERANGE || end == tok[3] ||
            (*end != '\0' && !isspace((unsigned char)*end))) {
            conn_reply(c, "ERROR");
        } else {
            cache_slabs_automove_ratio_set(srv->cache, ratio);
            conn_reply(c, "OK");
        }
    } else {
        uint32_t level;
        if (!proto_strtoul(tok[2], strlen(tok[2]), &level)) {
            conn_reply(c, "CLIENT_ERROR bad command line format");
        } else if (level > 2) {
            conn_reply(c, "ERROR");
        } else {
            /* `stats settings` shows the cache's level (stats.c) */
            cache_slabs_automove_set(srv->cache, level);
            conn_reply(c, "OK");
        }
    }
    c->noreply = saved;
}

/* refresh_certs [noreply]: memcached's "OK", or its error line, which
 * noreply does not silence (nor "Error TLS not enabled" without -Z). */
static void reply_refresh_certs(conn_t *c, char **tok, size_t n)
{
    server_t *srv = srv_of(c);
    char err[1024];
    bool saved = c->noreply;
    c->noreply = false;
    if (srv->tls == NULL) {
        conn_reply(c, "Error TLS not enabled");
    } else if (tls_ctx_refresh(srv->tls, err, sizeof(err)) != TLS_OK) {
        conn_reply(c, err);
    } else if (!(n >= 2 && strcmp(tok[n - 1], "noreply") == 0)) {
        conn_reply(c, "OK");
    }
    c->noreply = saved;
}

/* memcached 1.6.18's process_memlimit_command(): `cache_memlimit <MB>
 * [noreply]` (2 or 3 tokens, checked by the parser). Every reply, errors
 * too, is silenced by a last token "noreply". */
static void reply_memlimit(conn_t *c, char **tok, size_t n)
{
    server_t *srv = srv_of(c);
    bool saved = c->noreply;
    if (strcmp(tok[n - 1], "noreply") == 0)
        c->noreply = true;
    uint32_t mb;
    if (n < 2 || !proto_strtoul(tok[1], strlen(tok[1]), &mb)) {
        conn_reply(c, "ERROR");
    } else if (mb < 8) {
        conn_reply(c, "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m");
    } else if (mb > 1000000000) {
        conn_reply(c, "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes");
    } else if (cache_mem_limit_set(srv->cache, (size_t)mb * 1024 * 1024) != CACHE_OK) {
        /* -L: the memory was allocated at start (memcached refuses too) */
        conn_reply(c, "MEMLIMIT_ADJUST_FAILED out of bounds or unable to adjust");
    } else {
        if (atomic_load(&srv->verbose) > 0)
            fprintf(stderr, "maxbytes adjusted to %um\n", mb);
        conn_reply(c, "OK");
    }
    c->noreply = saved;
}

/* watch [streams...] [noreply]: memcached's replies; on "OK" the
 * connection becomes a watcher (logger.h). As memcached, a trailing
 * noreply silences the reply and is itself an unknown stream (so the
 * connection does not become a watcher). */
static void reply_watch(conn_t *c, char **tok, size_t n)
{
    server_t *srv = srv_of(c);
    bool saved = c->noreply;
    unsigned streams;
    if (n >= 2 && strcmp(tok[n - 1], "noreply") == 0)
        c->noreply = true;
    if (srv->settings->no_watch || srv->logger == NULL) {
        conn_reply(c, "CLIENT_ERROR watch commands not allowed");
    } else if (!logger_parse_streams(tok + 1, n - 1, &streams)) {
        conn_reply(c, "ERROR");
    } else if (c->dgram) {
        /* a datagram has no stream to log to */
        conn_reply(c, "WATCHER_FAILED failed to add log watcher");
    } else {
        switch (logger_watch(srv->logger, c, streams)) {
        case LOGGER_OK:
            /* "OK" goes first: lines are pulled in behind it */
            conn_reply(c, "OK");
            break;
        case LOGGER_ETOOMANY:
            conn_reply(c, "WATCHER_TOO_MANY log watcher limit reached");
            break;
        default:
            conn_reply(c, "WATCHER_FAILED failed to add log watcher");
            break;
        }
    }
    c->noreply = saved;
}

void admin_reply(conn_t *c, const text_request_t *req)
{
    char buf[256];
    char *tok[8];
    size_t n = process_tokens(req->args, req->args_len, buf, sizeof(buf), tok, 8);
    if (n >= 1 && strcmp(tok[0], "slabs") == 0) {
        reply_slabs(c, tok, n);
    } else if (n >= 2 && strcmp(tok[0], "lru") == 0) {
        if (strcmp(tok[1], "mode") == 0 || strcmp(tok[1], "tune") == 0 ||
            strcmp(tok[1], "temp_ttl") == 0)
            conn_reply(c, "OK");
        else
            conn_reply(c, "ERROR");
    } else if (n >= 1 && strcmp(tok[0], "cache_memlimit") == 0) {
        reply_memlimit(c, tok, n);
    } else if (n >= 1 && strcmp(tok[0], "watch") == 0) {
        reply_watch(c, tok, n);
    } else if (n >= 1 && strcmp(tok[0], "refresh_certs") == 0) {
        reply_refresh_certs(c, tok, n);
    } else {
        conn_reply(c, "ERROR");
    }
}

