/*
 * server/process_stats.c - the text protocol's `stats` command: the groups
 * (stats.h assembles them), `stats cachedump <class> <limit>` (a RAM
 * class's keys) and `stats detail on|off|dump` (prefix_stats.h). Called by
 * process.c's dispatch; contract in process_int.h. Not on the request
 * path: a group walks every worker's counters, a cachedump one class.
 */
#include "process_int.h"

#include <string.h>

#include "prefix_stats.h"
#include "proto_num.h"
#include "stats.h"

static bool dump_visit(void *ctx, const cache_item_meta_t *m)
{
    outq_t *q = ctx;
    outq_printf(q, "ITEM %.*s [%zu b; %lld s]\r\n", (int)m->nkey, m->key,
                m->nbytes, (long long)m->exptime);
    return true;
}

void process_stats(conn_t *c, const text_request_t *req)
{
    char buf[256];
    char *tok[4];
    size_t n = process_tokens(req->args, req->args_len, buf, sizeof(buf), tok, 4);
    server_t *srv = process_srv(c);
    if (n >= 1 && strcmp(tok[0], "cachedump") == 0) {
        uint32_t id, limit;
        if (srv->settings->no_dump) {
            conn_reply(c, "CLIENT_ERROR stats cachedump not allowed");
        } else if (n < 3) {
            conn_reply(c, "CLIENT_ERROR bad command line");
        } else if (!proto_strtoul(tok[1], strlen(tok[1]), &id) ||
                   !proto_strtoul(tok[2], strlen(tok[2]), &limit)) {
            conn_reply(c, "CLIENT_ERROR bad command line format");
        } else if (id >= 64) {
            conn_reply(c, "CLIENT_ERROR Illegal slab id");
        } else {
            cache_dump_class(srv->cache, id, limit, dump_visit, &c->out);
            outq_text(&c->out, "END\r\n", 5);
        }
        return;
    }
    if (n >= 1 && strcmp(tok[0], "detail") == 0) {
        if (n >= 2 && (strcmp(tok[1], "on") == 0 || strcmp(tok[1], "off") == 0)) {
            if (srv->detail)
                prefix_stats_enable(srv->detail, tok[1][1] == 'n');
            conn_reply(c, "OK");
        } else if (n >= 2 && strcmp(tok[1], "dump") == 0) {
            prefix_stats_dump(srv->detail, &c->out);
            conn_reply(c, "END");
        } else {
            conn_reply(c, "CLIENT_ERROR usage: stats detail on|off|dump");
        }
        return;
    }
    if (stats_reply(srv, req->args, req->args_len, &c->out) != STATS_OK)
        conn_reply(c, "ERROR");
}
