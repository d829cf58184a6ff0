/*
 * server/process_log.c - what a command's lookup and store found, for
 * `watch fetchers|mutations` (logger.h formats the lines). Called by every
 * protocol's command files (process_get.c, process_update.c,
 * process_meta.c, process_bin.c) around their cache calls; contracts in
 * process.h. Each costs one relaxed load while nobody watches.
 */
#include "process_int.h"

#include "logger.h"

/* ---- watch fetchers: what a lookup found ---- */

void process_log_get(conn_t *c, const char *key, size_t nkey,
                     const cache_item_t *it)
{
    server_t *srv = process_srv(c);
    if (!logger_wants(srv->logger, LOGGER_FETCHERS))
        return;
    unsigned cls = 0;
    if (it) {
        bool fetched;
        int64_t la;
        size_t total;
        cache_item_access(c->w->cw, it, &fetched, &la, &cls, &total);
    }
    logger_item_get(srv->logger, key, nkey,
                    it ? LOGGER_GET_FOUND : LOGGER_GET_NOT_FOUND, cls, c->fd,
                    it ? cache_item_nbytes(it) : 0);
}

void process_peek(conn_t *c, const char *key, size_t nkey, process_peek_t *p)
{
    p->on = logger_wants(process_srv(c)->logger, LOGGER_FETCHERS);
    p->in_ram = p->on && cache_peek(c->w->cw, key, nkey, &p->m) == CACHE_OK;
}

void process_log_lookup(conn_t *c, const char *key, size_t nkey,
                        const process_peek_t *p, bool found)
{
    if (p == NULL ? !logger_wants(process_srv(c)->logger, LOGGER_FETCHERS)
                  : !p->on)
        return;
    bool known = found && p != NULL && p->in_ram;
    logger_item_get(process_srv(c)->logger, key, nkey,
                    found ? LOGGER_GET_FOUND : LOGGER_GET_NOT_FOUND,
                    known ? p->m.slab_class : 0, c->fd,
                    known ? p->m.nbytes : 0);
}

/* ---- watch mutations: what a store did ---- */

void process_log_store(conn_t *c, const process_peek_t *pk,
                       cache_status_e st)
{
    server_t *srv = process_srv(c);
    const char *key = cache_item_key(c->item);
    size_t nkey = cache_item_nkey(c->item);
    bool in_ram = pk != NULL && pk->in_ram;
    bool found;
    switch (c->op) {
    case CACHE_STORE_ADD: found = st == CACHE_NOT_STORED || in_ram; break;
    case CACHE_STORE_REPLACE:
    case CACHE_STORE_APPEND:
    case CACHE_STORE_PREPEND: found = st != CACHE_NOT_STORED; break;
    case CACHE_STORE_CAS:
    case CACHE_STORE_CAS_STALE: found = st != CACHE_NOT_FOUND; break;
    default: found = in_ram; break;
    }
    process_log_lookup(c, key, nkey, pk, found);
    if (!logger_wants(srv->logger, LOGGER_MUTATIONS))
        return;
    bool fetched;
    int64_t la, exptime = cache_item_exptime(c->item);
    unsigned cls = 0;
    size_t total, nbytes = cache_item_nbytes(c->item);
    cache_item_access(c->w->cw, c->item, &fetched, &la, &cls, &total);
    cache_item_meta_t m;
    if (st == CACHE_OK &&
        (c->op == CACHE_STORE_APPEND || c->op == CACHE_STORE_PREPEND) &&
        cache_peek(c->w->cw, key, nkey, &m) == CACHE_OK) {
        nbytes = m.nbytes; /* the joined value, with the old expiry */
        exptime = m.exptime;
    }
    int64_t now = cache_now(srv->cache);
    logger_item_store(srv->logger, key, nkey, st, c->op,
                      exptime > now ? exptime - now : 0, cls, c->fd, nbytes);
}
