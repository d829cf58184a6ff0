/*
 * server/process.c - see process.h: the text protocol's dispatch. A parsed
 * request goes to the file of its commands (process_int.h lists them);
 * the few one-line commands (flush_all, version, verbosity, quit,
 * shutdown) are answered here, and a parked request's resume is routed
 * back to the file that parked it. Reply strings are memcached 1.6.18's.
 *
 * Lock order: no lock of its own. `slabs reassign` runs the page move in
 * the calling worker (cache_slabs_reassign: bounded, ~100 ms at worst).
 */
#include "process_int.h"

#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "stats.h"

void process_resume(conn_t *c, conn_park_e kind)
{
    conn_slot_t *s0 = conn_slot(c, 0);
    c->noreply = c->park_noreply;
    switch (kind) {
    case CONN_PARK_GET:
        switch (conn_get_head(c)->kind) {
        case CONN_GETGRP_META:
            process_meta_get_resume(c);
            break;
        case CONN_GETGRP_BIN:
            process_bin_get_resume(c);
            break;
        case CONN_GETGRP_TEXT:
        default:
            process_get_resume(c);
            break;
        }
        break;
    case CONN_PARK_TOUCH:
    case CONN_PARK_DELETE:
    case CONN_PARK_ARITH:
    case CONN_PARK_STORE:
        process_update_resume(c, kind);
        break;
    case CONN_PARK_DUMP:
        process_metadump_resume(c);
        break;
    case CONN_PARK_SILENT:
    case CONN_PARK_NONE:
    default:
        break;
    }
    cache_item_release(c->w->cw, &s0->item);
    c->noreply = false;
}

conn_slot_t *process_step_resume(conn_t *c, cache_item_t **it, int *step)
{
    conn_slot_t *s = conn_slot(c, 0);
    *it = s->item;
    s->item = NULL;
    *step = c->x.step;
    c->x.step = 0;
    return s;
}

size_t process_tokens(const char *args, size_t len, char *buf, size_t bufsz,
                      char **tok, size_t max)
{
    if (len >= bufsz)
        len = bufsz - 1;
    memcpy(buf, args, len);
    buf[len] = '\0';
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, " ", &save); t && n < max;
         t = strtok_r(NULL, " ", &save))
        tok[n++] = t;
    return n;
}

void process_text_error(conn_t *c, const text_request_t *req)
{
    server_t *srv = process_srv(c);
    /* memcached's flush_all counts and checks -F before parsing its delay */
    if (req->cmd == TEXT_CMD_FLUSH_ALL && req->error &&
        strcmp(req->error, "ERROR") != 0) {
        STATS_ADD(&c->w->stats, cmd_flush, 1);
        if (srv->settings->no_flush) {
            conn_reply(c, "CLIENT_ERROR flush_all not allowed");
            return;
        }
    }
    if (req->error)
        conn_reply(c, req->error);
}

void process_text(conn_t *c, const text_request_t *req)
{
    server_t *srv = process_srv(c);
    cache_worker_t *cw = c->w->cw;
    if (atomic_load(&srv->verbose) > 1)
        fprintf(stderr, "<%d %s\n", c->fd, text_cmd_name(req->cmd));
    switch (req->cmd) {
    case TEXT_CMD_GET:
    case TEXT_CMD_GETS:
    case TEXT_CMD_GAT:
    case TEXT_CMD_GATS:
        process_get(c, req);
        break;
    case TEXT_CMD_SET:
    case TEXT_CMD_ADD:
    case TEXT_CMD_REPLACE:
    case TEXT_CMD_APPEND:
    case TEXT_CMD_PREPEND:
    case TEXT_CMD_CAS:
        process_store_start(c, req);
        break;
    case TEXT_CMD_INCR:
    case TEXT_CMD_DECR:
    case TEXT_CMD_TOUCH:
    case TEXT_CMD_DELETE:
        process_keyed(c, req);
        break;
    case TEXT_CMD_FLUSH_ALL:
        /* memcached counts cmd_flush before checking -F */
        STATS_ADD(&c->w->stats, cmd_flush, 1);
        if (srv->settings->no_flush) {
            conn_reply(c, "CLIENT_ERROR flush_all not allowed");
            break;
        }
        cache_flush_all(cw, req->delay);
        conn_reply(c, "OK");
        break;
    case TEXT_CMD_VERSION:
        conn_reply(c, "VERSION " TIERCACHE_VERSION);
        break;
    case TEXT_CMD_VERBOSITY:
        atomic_store(&srv->verbose, (int)req->verbosity);
        conn_reply(c, "OK");
        break;
    case TEXT_CMD_QUIT:
        c->close_after_write = true;
        break;
    case TEXT_CMD_SHUTDOWN: {
        size_t n = req->args_len;
        while (n > 0 && req->args[n - 1] == ' ')
            n--;
        if (!srv->settings->enable_shutdown) {
            conn_reply(c, "ERROR: shutdown not enabled");
        } else if (n == 0 || (n == 8 && memcmp(req->args, "graceful", 8) == 0)) {
            /* graceful: memcached's SIGUSR1 path; both stop cleanly, exit 0 */
            c->close_after_write = true;
            server_request_shutdown(srv, n != 0);
        } else {
            conn_reply(c, "CLIENT_ERROR invalid shutdown mode");
        }
        break;
    }
    case TEXT_CMD_STATS:
        process_stats(c, req);
        break;
    case TEXT_CMD_LRU_CRAWLER:
        process_lru_crawler(c, req);
        break;
    case TEXT_CMD_ADMIN:
        admin_reply(c, req);
        break;
    case TEXT_CMD_NONE:
    default:
        conn_reply(c, "ERROR");
        break;
    }
}
