/*
 * server/admin.h - memcached's admin commands of the text protocol:
 * `slabs reassign|automove`, `lru mode|tune|temp_ttl`, `cache_memlimit`,
 * `watch`, `refresh_certs`. Replies are memcached 1.6.18's.
 */
#ifndef TIERCACHE_ADMIN_H
#define TIERCACHE_ADMIN_H

#include "conn.h"
#include "proto_text.h"

/* Answers one admin command (TEXT_CMD_ADMIN) on c's output queue. A
 * `watch` that succeeds turns c into a log watcher (logger.h). Worker
 * thread of c; `slabs reassign` runs the page move here (bounded). */
void admin_reply(conn_t *c, const text_request_t *req);

#endif /* TIERCACHE_ADMIN_H */
