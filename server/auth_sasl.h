/*
 * server/auth_sasl.h - SASL authentication (-S) with Cyrus SASL, on the
 * binary protocol, as memcached 1.6.18 does it.
 *
 * Setup: the application name is "memcached", so Cyrus reads
 * "memcached.conf" (mech_list, sasldb_path, ...) from the directory in
 * $SASL_CONF_PATH, else from /etc/sasl or /etc/sasl2 when a memcached.conf
 * is there; with none of these the start fails ("Error initializing sasl.",
 * as memcached). The server name (default realm) is the host name, as
 * memcached passes it, so sasldb files made with `saslpasswd2 -a memcached`
 * on the host work.
 *
 * Binary protocol with -S (auth_sasl_bin_step, a gate of auth.h):
 *   SASL_LIST_MECHS 0x20  the mechanisms, space separated (e.g. "PLAIN")
 *   SASL_AUTH 0x21        key = mechanism, value = the client's first data
 *   SASL_STEP 0x22        value = the next data (after AUTH_CONTINUE)
 * Each of them first forgets an earlier authentication (memcached's
 * init_sasl_conn). Replies: "Authenticated" (status 0), status 0x21
 * (AUTH_CONTINUE) with the server's challenge, or 0x20 "Auth failure.";
 * a mechanism name over 32 bytes: 0x04 "Invalid arguments" (the value is
 * skipped). Any other opcode but VERSION before authentication: 0x20
 * "Auth failure." and the connection is closed. -S makes the binary
 * protocol the only one (text bytes are a bad magic: closed; with -Y too,
 * connections are text with ascii authentication instead, as memcached's),
 * UDP is refused at start, as memcached.
 */
#ifndef TIERCACHE_AUTH_SASL_H
#define TIERCACHE_AUTH_SASL_H

#include <stdatomic.h>

#include "auth.h"

typedef struct auth_sasl auth_sasl_t;

typedef enum auth_sasl_status {
    AUTH_SASL_OK = 0,
    AUTH_SASL_EINIT,  /* sasl_server_init failed (no configuration...) */
    AUTH_SASL_ENOMEM,
} auth_sasl_status_e;

const char *auth_sasl_strerror(auth_sasl_status_e st);

/*
 * Initialises Cyrus SASL for the process (once, before the workers start)
 * and returns the state in *out. `verbose` is read by the log callback
 * (memcached's "SASL (severity N): ..." lines with -v). Prints memcached's
 * "Reading configuration from: <dir>" (-v) and "Initialized SASL." (-v).
 */
auth_sasl_status_e auth_sasl_create(atomic_int *verbose, auth_sasl_t **out);

/* Ends Cyrus SASL (after every connection is closed); NULLs *s. */
void auth_sasl_destroy(auth_sasl_t **s);

/*
 * The -S gate for a binary connection (see auth.h for the statuses and the
 * contract): the three SASL opcodes, and "Auth failure." + close for an
 * unauthenticated request. AUTH_PASS for everything else. O(request) plus
 * Cyrus' own work (a password check).
 */
auth_step_e auth_sasl_bin_step(conn_t *c, auth_sasl_t *s);

/* Releases the connection's SASL context (c->sasl); safe to call twice. */
void auth_sasl_conn_free(conn_t *c);

#endif /* TIERCACHE_AUTH_SASL_H */
