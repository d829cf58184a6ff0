/*
 * server/process.h - command meaning: a parsed request -> cache_* calls ->
 * reply bytes on the connection's queue, byte for byte as memcached 1.6.18.
 */
#ifndef TIERCACHE_PROCESS_H
#define TIERCACHE_PROCESS_H

#include "conn.h"
#include "proto_text.h"

/*
 * Carries out one parsed text request on `c` (worker thread). Queues the
 * reply, or enters NREAD / SWALLOW for storage commands, or sets
 * c->close_after_write (quit). Field pointers in `req` are used only during
 * the call. O(keys + reply size).
 */
void process_text(conn_t *c, const text_request_t *req);

/*
 * Replies to a request the parser refused (TEXT_PARSE_EREPLY): req->error,
 * except where memcached checks something first (flush_all under -F).
 * Respects c->noreply.
 */
void process_text_error(conn_t *c, const text_request_t *req);

/*
 * Finishes a storage command once its value and the two trailing bytes are
 * in (c->item, c->crlf): checks "\r\n", commits, replies, releases the item
 * and returns the connection to CONN_PARSE.
 */
void process_nread_done(conn_t *c);

/*
 * Queues the reply a parked request owes (c->park) from its slots, once
 * every async call of it has completed (c->inflight == 0): a multi-get's
 * VALUE lines in key order then END, or the one-line reply of a store,
 * arith, touch or delete. Releases the slots' items. The caller unparks.
 */
void process_resume(conn_t *c);

#endif /* TIERCACHE_PROCESS_H */
