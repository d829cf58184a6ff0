/*
 * server/tls.h - TLS (-Z) with OpenSSL: the server context and the TLS
 * transport of a connection (transport.h).
 *
 * tls_ctx_create() builds an SSL_CTX from memcached's -o ssl_* options and
 * fails with memcached's messages ("Error loading the certificate chain:
 * FILE : <openssl error>", ...). tls_ctx_refresh() (`refresh_certs`) builds
 * a new SSL_CTX from the same files and swaps it in only if everything
 * loaded: connections accepted afterwards use it, open ones keep theirs
 * (each SSL holds a reference to its context).
 *
 * A TLS transport encrypts writes through a per-worker buffer of
 * ssl_wbuf_size bytes (memcached's per-thread ssl_wbuf): the reply queue's
 * iovecs are copied into it and written as one SSL_write, so a reply of
 * many small pieces costs one record, not one per piece. The handshake runs
 * inside the first reads (SSL_set_accept_state); a failed one counts in
 * `stats` ssl_handshake_errors and closes the connection.
 *
 * Thread safety: the context is shared by every worker; tls_transport_init,
 * tls_ctx_refresh and the counters may be called from any thread. A
 * transport is used by its connection's worker only.
 */
#ifndef TIERCACHE_TLS_H
#define TIERCACHE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "settings.h"
#include "transport.h"

typedef struct tls_ctx tls_ctx_t;

typedef enum tls_status {
    TLS_OK = 0,
    TLS_ECONFIG, /* a file or option was refused: message in err */
    TLS_ENOMEM,
} tls_status_e;

const char *tls_strerror(tls_status_e st);

/*
 * Builds the server context from s's ssl_* fields (s must outlive it) for
 * `nworkers` worker threads (one write buffer each). On TLS_ECONFIG /
 * TLS_ENOMEM a one-line message (memcached's wording where it has one) is
 * written to err[errlen] and *out is untouched.
 */
tls_status_e tls_ctx_create(const settings_t *s, unsigned nworkers,
                            tls_ctx_t **out, char *err, size_t errlen);

/* Frees the context (every transport using it closed); NULLs *ctx. */
void tls_ctx_destroy(tls_ctx_t **ctx);

/*
 * `refresh_certs`: reloads the chain, key and CA files. On TLS_ECONFIG the
 * message (memcached's) is in err and the old certificates stay in use.
 */
tls_status_e tls_ctx_refresh(tls_ctx_t *ctx, char *err, size_t errlen);

/* `stats`: handshakes that failed, and seconds since the certificates were
 * (re)loaded. */
uint64_t tls_handshake_errors(const tls_ctx_t *ctx);
/* With ssl_session_cache (tls_session_cache() true): sessions cached. */
uint64_t tls_new_sessions(const tls_ctx_t *ctx);
bool tls_session_cache(const tls_ctx_t *ctx);
int64_t tls_since_refresh(const tls_ctx_t *ctx);

/*
 * Makes `t` a TLS transport (server side, handshake pending) over the
 * connected, non-blocking socket `fd`, for a connection of worker `worker`
 * (< nworkers). `verbose` > 0 logs failed handshakes on stderr. False on
 * OOM (fd is left open and t untouched).
 */
bool tls_transport_init(transport_t *t, tls_ctx_t *ctx, int fd,
                        unsigned worker, int verbose);

#endif /* TIERCACHE_TLS_H */
