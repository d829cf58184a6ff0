/*
 * server/process_int.h - what the text protocol's command files share
 * (not for other modules; process.h is the public side).
 *
 * process.c dispatches a parsed text request to one of them and routes a
 * parked request's resume back to the file that parked it:
 *   process_get.c      get/gets/gat/gats (CONN_PARK_GET)
 *   process_update.c   set/add/replace/append/prepend/cas, incr/decr, touch,
 *                      delete (CONN_PARK_STORE/ARITH/TOUCH/DELETE/SILENT)
 *   process_stats.c    stats, stats cachedump, stats detail
 *   process_crawler.c  lru_crawler, its metadump (CONN_PARK_DUMP)
 *   process_log.c      watch fetchers/mutations and stats detail notes
 *                      (process.h; also used by meta and binary)
 * All run on c's worker thread; replies are memcached 1.6.18's bytes.
 */
#ifndef TIERCACHE_PROCESS_INT_H
#define TIERCACHE_PROCESS_INT_H

#include <stdbool.h>

#include "process.h"
#include "server.h"
#include "worker.h"

/* The server a connection belongs to. */
static inline server_t *process_srv(conn_t *c) { return c->w->srv; }

/* ---- meta and binary requests that go on in steps (process.c) ----
 *
 * process_step_parked() (inline: on the request path): right after an async cache call armed on slot 0
 * (conn_arm) with its status: disarms; on CACHE_PENDING parks the
 * connection as `kind` (CONN_PARK_META or CONN_PARK_BIN), to go on at
 * `step` (kept in c->x.step), and returns true.
 * process_step_resume(): in the resume handler: slot 0 with its item moved
 * to *it (the caller's reference now) and the step (c->x.step, reset to 0).
 */
static inline bool process_step_parked(conn_t *c, cache_status_e st,
                                       conn_park_e kind, int step)
{
    conn_disarm(c, st);
    if (st != CACHE_PENDING)
        return false;
    c->x.step = step;
    conn_park(c, kind);
    return true;
}
conn_slot_t *process_step_resume(conn_t *c, cache_item_t **it, int *step);

/* ---- process_get.c ---- */

/* get/gets/gat/gats: queues the VALUE lines and END, or parks the
 * connection (CONN_PARK_GET) when a key is on flash. */
void process_get(conn_t *c, const text_request_t *req);

/* The oldest parked get (conn_get_head) has completed: queues its slots'
 * VALUE lines in key order, then END (or memcached's out-of-memory line);
 * releases the slots' items. conn.c then drops the get (conn_get_pop). */
void process_get_resume(conn_t *c);

/* ---- process_meta.c ---- */

/* The oldest parked get is a plain mg (conn_getgrp_t.meta) and has
 * completed: queues its reply from its slot; releases the slot's item. */
void process_meta_get_resume(conn_t *c);

/* ---- process_bin.c ---- */

/* The oldest parked get is a binary get (CONN_GETGRP_BIN) and has
 * completed: queues its response from its slot and its kept request. */
void process_bin_get_resume(conn_t *c);

/*
 * A one-key get of the meta or binary protocol (a plain mg, a binary get)
 * that may join the pipelined gets (conn.h). Looks `key` up on the next
 * slot. With no get parked before it and an answer at once: returns true
 * with *st and *it (the caller replies now, and owns *it). Otherwise the
 * request becomes a parked get of `kind` holding a copy of kept[0 ..
 * kept_len) (what its reply needs; no memory for the copy or the slot:
 * g->oom) and this returns false; process_get_one_result() gives its
 * result at resume.
 */
bool process_get_one(conn_t *c, const char *key, size_t nkey,
                     conn_getgrp_kind_e kind, const void *kept,
                     size_t kept_len, cache_status_e *st, cache_item_t **it);

/* The oldest parked get's (process_get_one) status and item (NULL unless
 * CACHE_OK, owned by the caller); CACHE_NOT_FOUND when it had no slot. */
cache_status_e process_get_one_result(conn_t *c, cache_item_t **it);

/* ---- process_update.c ---- */

/* A storage command line: reserves the item and enters NREAD (the value
 * follows, process_nread_done() ends it), or replies the failure and
 * swallows the value. May park (CONN_PARK_SILENT) on the unlink a failed
 * set owes. */
void process_store_start(conn_t *c, const text_request_t *req);

/* incr/decr, touch or delete (req->cmd): one cache call on req's key;
 * replies, or parks (CONN_PARK_ARITH / TOUCH / DELETE) until it completes.
 * A delete counts for `stats detail` first. */
void process_keyed(conn_t *c, const text_request_t *req);

/* The reply a parked store, arith, touch or delete owes, from slot 0 (kind:
 * CONN_PARK_STORE, ARITH, TOUCH or DELETE; others queue nothing). */
void process_update_resume(conn_t *c, conn_park_e kind);

/* ---- process_stats.c ---- */

/* `stats [group]`, `stats cachedump <class> <limit>`, `stats detail
 * on|off|dump`: the reply, then END where memcached writes one. */
void process_stats(conn_t *c, const text_request_t *req);

/* ---- process_crawler.c ---- */

/* `lru_crawler crawl|metadump|enable|disable|sleep|tocrawl ...`. A
 * metadump lists RAM here and parks (CONN_PARK_DUMP) while the flash part
 * is walked on another thread. */
void process_lru_crawler(conn_t *c, const text_request_t *req);

/* CONN_PARK_DUMP has completed (or the metadump did not park): queues the
 * flash part's lines, a truncation or out-of-memory line, then END; frees
 * c->dump. */
void process_metadump_resume(conn_t *c);

#endif /* TIERCACHE_PROCESS_INT_H */
