/*
 * server/prefix_stats.h - memcached's `stats detail`: per key prefix counts
 * of gets, hits, sets and deletes.
 *
 * The prefix of a key is what precedes the first delimiter (-D, default
 * ':'); keys without one are not counted. Off at start; `stats detail on`
 * starts counting, `off` stops (the counts stay), `dump` lists them as
 * memcached does:
 *     PREFIX <prefix> get <n> hit <n> set <n> del <n>\r\n ... END\r\n
 * in memcached's order (its 256 buckets by MurmurHash3 of the prefix, the
 * newest prefix first within a bucket). `stats reset` clears them.
 * What counts (as memcached 1.6.18's text protocol): each key of
 * get/gets/gat/gats (get, and hit when found), each storage command
 * (set/add/replace/append/prepend/cas: set, whatever its outcome), each
 * delete (del, hit or miss). Meta and binary commands count nothing.
 *
 * Bound: PREFIX_STATS_MAX prefixes (memcached has none); keys of further
 * prefixes are not counted (the dump's format stays memcached's).
 *
 * Thread-safe: one mutex, taken only while detail is on (the check is one
 * relaxed load).
 */
#ifndef TIERCACHE_PREFIX_STATS_H
#define TIERCACHE_PREFIX_STATS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct outq;

#define PREFIX_STATS_MAX 65536

typedef struct prefix_stats prefix_stats_t;

typedef enum prefix_stats_status {
    PREFIX_STATS_OK = 0,
    PREFIX_STATS_ENOMEM,
} prefix_stats_status_e;

/* A static name for a status. */
const char *prefix_stats_strerror(prefix_stats_status_e st);

/* Creates the table (off) for delimiter `delim`. */
prefix_stats_status_e prefix_stats_create(char delim, prefix_stats_t **out);

/* Frees it; NULL-safe; NULLs *p. */
void prefix_stats_destroy(prefix_stats_t **p);

/* `stats detail on|off`. */
void prefix_stats_enable(prefix_stats_t *p, bool on);

/* Is counting on? One relaxed load; false for NULL. */
bool prefix_stats_on(prefix_stats_t *p);

/* Counts a get of `key` (hit: found), a store, a delete. No-ops while off
 * or for keys without the delimiter. */
void prefix_stats_get(prefix_stats_t *p, const char *key, size_t nkey,
                      bool hit);
void prefix_stats_set(prefix_stats_t *p, const char *key, size_t nkey);
void prefix_stats_delete(prefix_stats_t *p, const char *key, size_t nkey);

/* Queues the PREFIX lines (no END) on q. */
void prefix_stats_dump(prefix_stats_t *p, struct outq *q);

/* The dump as one malloc'd text, PREFIX lines then "END\r\n" (the binary
 * protocol's "detailed" stat); the caller frees it. NULL when out of
 * memory. */
char *prefix_stats_text(prefix_stats_t *p, size_t *len);

/* `stats reset`: forgets every prefix. */
void prefix_stats_clear(prefix_stats_t *p);

#endif /* TIERCACHE_PREFIX_STATS_H */
