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

/* A get/gets that may be parsed while earlier gets are parked
 * (protocol_parse_pipelined): every key valid, and its keys fit the
 * pipeline's slots (CONN_PIPE_SLOTS). Pure. */
bool process_get_may_pipeline(const conn_t *c, const text_request_t *req);

/* The same for a meta line (text_request_t.args of TEXT_CMD_META): a plain
 * mg (process_meta.c), with room for one more slot. Pure. */
bool process_meta_may_pipeline(const conn_t *c, const char *line,
                               size_t len);

/* The same for a parsed binary request: get/getq/getk/getkq, with room
 * for one more slot. Pure. */
struct bin_request;
bool process_bin_may_pipeline(const conn_t *c, const struct bin_request *req);

/* Splits args[0, len) into up to `max` space-separated tokens: pointers
 * into a NUL-terminated copy in buf[bufsz] (args longer are cut). */
size_t process_tokens(const char *args, size_t len, char *buf, size_t bufsz,
                      char **tok, size_t max);

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
 * arith, touch or delete, or a metadump's flash part. Releases the slots'
 * items. The caller unparks. Meta and binary requests resume in their own
 * handlers (protocol.c routes by kind).
 */
void process_resume(conn_t *c, conn_park_e kind);

/* ---- `watch` and `stats detail` (process.c), for every protocol ------
 *
 * memcached logs the lookup that every command makes (fetchers: item_get)
 * and the outcome of stores (mutations: item_store); logger.h formats.
 * process_peek(): before a command, a RAM peek at its key (only while
 * fetchers are watched) that gives the item's class and size for the
 * lookup line (0 when the item is only on flash, or pk is NULL).
 * process_log_get(): a get's result (it NULL: a miss).
 * process_log_lookup(): a lookup whose outcome the command's status tells.
 * process_log_store(): a store of c->item under c->op with status st (the
 * lookup line, then the item_store line).
 * All cost one relaxed load when nobody watches.
 */
typedef struct process_peek {
    bool on;
    bool in_ram;
    cache_item_meta_t m;
} process_peek_t;
void process_peek(conn_t *c, const char *key, size_t nkey, process_peek_t *p);
void process_log_get(conn_t *c, const char *key, size_t nkey,
                     const cache_item_t *it);
void process_log_lookup(conn_t *c, const char *key, size_t nkey,
                        const process_peek_t *p, bool found);
void process_log_store(conn_t *c, const process_peek_t *pk,
                       cache_status_e st);

/* ---- meta protocol (process_meta.c) ----------------------------------
 *
 * process_meta(): one mn/mg/ms/md/ma/me line (TEXT_CMD_META's args: the
 * whole line without its ending). Queues the reply (or enters NREAD for
 * ms, SWALLOW after a refused ms) byte for byte as memcached 1.6.18; may
 * park the connection (CONN_PARK_META) on a flash read, then
 * process_meta_resume() goes on from the slot's result (it may park
 * again). process_meta_nread_done(): the ms value is in c->item.
 */
void process_meta(conn_t *c, const char *line, size_t len);
void process_meta_nread_done(conn_t *c);
void process_meta_resume(conn_t *c);

/* ---- binary protocol (process_bin.c) ---------------------------------
 *
 * process_bin(): one parsed request (BIN_PARSE_OK; its key and extras are
 * copied, the value, if any, is read next through NREAD).
 * process_bin_error(): the reply to BIN_PARSE_EREPLY. Replies go to c->out
 * as memcached 1.6.18's packets; quiet opcodes suppress what memcached
 * suppresses. Parking and resuming as for meta (CONN_PARK_BIN).
 */
struct bin_request;
void process_bin(conn_t *c, const struct bin_request *req);
void process_bin_error(conn_t *c, const struct bin_request *req);
void process_bin_nread_done(conn_t *c);
void process_bin_resume(conn_t *c);

#endif /* TIERCACHE_PROCESS_H */
