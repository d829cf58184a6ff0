/*
 * server/authfile.h - the -Y file of ascii authentication: memcached 1.6's
 * format and checks, with no connection or server state (pure, so the unit
 * tests and the fuzzer load files and buffers directly).
 *
 * Format (memcached's): one "user:password" per line, ended by "\n", "\r\n"
 * or the end of the file. The user is everything before the first ':' (may
 * be empty), the password everything after it up to "\r", "\n" or a NUL
 * (may be empty). A line without ':' (an empty line too) is malformed and
 * stops the start. Lines are at most 255 bytes with their ending: memcached
 * reads 256-byte chunks and a longer line comes apart (tiercache calls it
 * malformed). Differences: memcached keeps only the first 8 entries
 * (silently); tiercache keeps them all.
 */
#ifndef TIERCACHE_AUTHFILE_H
#define TIERCACHE_AUTHFILE_H

#include <stdbool.h>
#include <stddef.h>

#define AUTHFILE_LINE_MAX 255

typedef struct authfile authfile_t;

typedef enum authfile_status {
    AUTHFILE_OK = 0,
    AUTHFILE_EOPEN,      /* the file cannot be opened or read (errno) */
    AUTHFILE_EMALFORMED, /* a line without ':' or longer than the max */
    AUTHFILE_ENOMEM,
} authfile_status_e;

/* A static description of a status. */
const char *authfile_strerror(authfile_status_e st);

/*
 * Parses the contents of an auth file (`len` bytes, NULs allowed) into a
 * new table in *out (caller frees with authfile_destroy). On an error *out
 * is NULL and *bad_line (if not NULL) is the 1-based line at fault.
 * Work: O(len).
 */
authfile_status_e authfile_parse(const char *data, size_t len,
                                 authfile_t **out, size_t *bad_line);

/*
 * Reads and parses the file at `path` (authfile_parse). AUTHFILE_EOPEN
 * leaves errno set. Work: O(file size).
 */
authfile_status_e authfile_load(const char *path, authfile_t **out,
                                size_t *bad_line);

/* Number of entries. */
size_t authfile_count(const authfile_t *a);

/*
 * True when user/pass (lengths given, no terminator needed) is an entry.
 * Compares every entry in time that depends only on the lengths, as
 * memcached's safe_memcmp. Thread-safe (the table is read-only).
 */
bool authfile_check(const authfile_t *a, const char *user, size_t ulen,
                    const char *pass, size_t plen);

/* Frees the table and sets *a to NULL (NULL is fine). */
void authfile_destroy(authfile_t **a);

#endif /* TIERCACHE_AUTHFILE_H */
