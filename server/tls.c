/* server/tls.c - see tls.h. */
#include "tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* memcached's session id context: resumed sessions with client
 * certificates need one. */
#define TLS_SESSION_ID_CONTEXT "memcached"

struct tls_ctx {
    const settings_t *s;
    pthread_mutex_t lock;  /* guards ctx (swapped by a refresh) */
    SSL_CTX *ctx;
    atomic_ullong handshake_errors;
    atomic_ullong new_sessions; /* ssl_session_cache: sessions cached */
    atomic_llong loaded;   /* unix time of the last (re)load */
    unsigned nworkers;
    char **wbufs;          /* one ssl_wbuf_size buffer per worker */
    size_t wbuf_size;
};

/* One TLS connection: the transport's impl. */
typedef struct tls_conn {
    SSL *ssl;
    tls_ctx_t *owner;
    char *wbuf;            /* the worker's, shared by its connections */
    size_t retry_len;      /* a write that waited: offer the same bytes */
    bool fatal;            /* a fatal error: no close_notify */
    bool handshaken;       /* the handshake completed once */
    int verbose;
} tls_conn_t;

const char *tls_strerror(tls_status_e st)
{
    switch (st) {
    case TLS_OK: return "ok";
    case TLS_ECONFIG: return "TLS configuration refused";
    case TLS_ENOMEM: return "out of memory";
    default: return "unknown TLS status";
    }
}

/* "error:80000002:system library::No such file or directory": the oldest
 * queued OpenSSL error, as memcached prints it. Clears the queue. */
static const char *ssl_error(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    if (e == 0)
        snprintf(buf, len, "unknown error");
    else
        ERR_error_string_n(e, buf, len);
    ERR_clear_error();
    return buf;
}

/* ssl_session_cache: a session was cached (memcached's ssl_new_sessions).
 * The SSL's app data is its tls_conn_t. Returns 0: the cache keeps no
 * extra reference. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    tls_conn_t *tc = SSL_get_app_data(ssl);
    (void)sess;
    if (tc != NULL)
        atomic_fetch_add(&tc->owner->new_sessions, 1);
    return 0;
}

/* A new SSL_CTX from the settings, or NULL with a message in err. */
static SSL_CTX *build(const settings_t *s, char *err, size_t errlen)
{
    char reason[256];
    static const int versions[] = {TLS1_VERSION, TLS1_1_VERSION,
                                   TLS1_2_VERSION, TLS1_3_VERSION};
    static const int verify[] = {
        SSL_VERIFY_NONE,
        SSL_VERIFY_PEER,
        SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
        SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT |
            SSL_VERIFY_CLIENT_ONCE,
    };
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        snprintf(err, errlen, "Unable to create the TLS context: %s",
                 ssl_error(reason, sizeof(reason)));
        return NULL;
    }
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (!SSL_CTX_set_min_proto_version(ctx, versions[s->ssl_min_version])) {
        snprintf(err, errlen, "Error setting the minimum TLS version: %s",
                 ssl_error(reason, sizeof(reason)));
        goto fail;
    }
    /* memcached passes the NULL path on and prints OpenSSL's EFAULT; a
     * NULL path must not reach fopen here (sanitizers check it) */
    if (s->ssl_chain_cert == NULL) {
        snprintf(err, errlen, "Error loading the certificate chain: (null) : "
                 "no file given (-o ssl_chain_cert=FILE)");
        goto fail;
    }
    if (!SSL_CTX_use_certificate_chain_file(ctx, s->ssl_chain_cert)) {
        snprintf(err, errlen, "Error loading the certificate chain: %s : %s",
                 s->ssl_chain_cert, ssl_error(reason, sizeof(reason)));
        goto fail;
    }
    if (s->ssl_key == NULL) {
        snprintf(err, errlen, "Error loading the key: (null) : no file given "
                 "(-o ssl_key=FILE)");
        goto fail;
    }
    if (!SSL_CTX_use_PrivateKey_file(ctx, s->ssl_key, s->ssl_keyformat)) {
        snprintf(err, errlen, "Error loading the key: %s : %s", s->ssl_key,
                 ssl_error(reason, sizeof(reason)));
        goto fail;
    }
    if (!SSL_CTX_check_private_key(ctx)) {
        snprintf(err, errlen, "Error validating the certificate: %s",
                 ssl_error(reason, sizeof(reason)));
        goto fail;
    }
    if (s->ssl_ca_cert != NULL) {
        if (!SSL_CTX_load_verify_locations(ctx, s->ssl_ca_cert, NULL)) {
            snprintf(err, errlen, "Error loading the CA certificate: %s : %s",
                     s->ssl_ca_cert, ssl_error(reason, sizeof(reason)));
            goto fail;
        }
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(s->ssl_ca_cert);
        if (names != NULL)
            SSL_CTX_set_client_CA_list(ctx, names);
    }
    SSL_CTX_set_verify(ctx, verify[s->ssl_verify_mode], NULL);
    if (s->ssl_ciphers != NULL &&
        !SSL_CTX_set_cipher_list(ctx, s->ssl_ciphers)) {
        snprintf(err, errlen, "Error setting the provided cipher(s): %s",
                 s->ssl_ciphers);
        goto fail;
    }
    SSL_CTX_set_session_id_context(
        ctx, (const unsigned char *)TLS_SESSION_ID_CONTEXT,
        strlen(TLS_SESSION_ID_CONTEXT));
    if (s->ssl_session_cache) {
        SSL_CTX_sess_set_new_cb(ctx, on_new_session);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    if (s->ssl_kernel_tls)
        SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
    /* as memcached: no renegotiation, idle connections drop their record
     * buffers */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    ERR_clear_error();
    return ctx;
fail:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

tls_status_e tls_ctx_create(const settings_t *s, unsigned nworkers,
                            tls_ctx_t **out, char *err, size_t errlen)
{
    SSL_CTX *sctx = build(s, err, errlen);
    if (sctx == NULL)
        return TLS_ECONFIG;
    tls_ctx_t *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        SSL_CTX_free(sctx);
        snprintf(err, errlen, "out of memory");
        return TLS_ENOMEM;
    }
    t->s = s;
    t->ctx = sctx;
    t->nworkers = nworkers;
    t->wbuf_size = (size_t)s->ssl_wbuf_kb * 1024;
    pthread_mutex_init(&t->lock, NULL);
    atomic_store(&t->loaded, (long long)time(NULL));
    t->wbufs = calloc(nworkers ? nworkers : 1, sizeof(*t->wbufs));
    for (unsigned i = 0; t->wbufs && i < nworkers; i++) {
        t->wbufs[i] = malloc(t->wbuf_size);
        if (t->wbufs[i] == NULL)
            break;
    }
    if (t->wbufs == NULL || (nworkers && t->wbufs[nworkers - 1] == NULL)) {
        tls_ctx_destroy(&t);
        snprintf(err, errlen, "out of memory");
        return TLS_ENOMEM;
    }
    *out = t;
    return TLS_OK;
}

void tls_ctx_destroy(tls_ctx_t **pctx)
{
    tls_ctx_t *t = *pctx;
    if (t == NULL)
        return;
    SSL_CTX_free(t->ctx);
    for (unsigned i = 0; t->wbufs && i < t->nworkers; i++)
        free(t->wbufs[i]);
    free(t->wbufs);
    pthread_mutex_destroy(&t->lock);
    free(t);
    *pctx = NULL;
}

tls_status_e tls_ctx_refresh(tls_ctx_t *t, char *err, size_t errlen)
{
    SSL_CTX *fresh = build(t->s, err, errlen);
    if (fresh == NULL)
        return TLS_ECONFIG;
    pthread_mutex_lock(&t->lock);
    SSL_CTX *old = t->ctx;
    t->ctx = fresh;
    pthread_mutex_unlock(&t->lock);
    SSL_CTX_free(old); /* open sessions hold their own reference */
    atomic_store(&t->loaded, (long long)time(NULL));
    return TLS_OK;
}

uint64_t tls_handshake_errors(const tls_ctx_t *t)
{
    return atomic_load(&t->handshake_errors);
}

uint64_t tls_new_sessions(const tls_ctx_t *t)
{
    return atomic_load(&t->new_sessions);
}

bool tls_session_cache(const tls_ctx_t *t)
{
    return t->s->ssl_session_cache;
}

int64_t tls_since_refresh(const tls_ctx_t *t)
{
    long long d = (long long)time(NULL) - atomic_load(&t->loaded);
    return d > 0 ? d : 0;
}

/* ---- the transport ------------------------------------------------------ */

/* A read or write failed for good. Before the handshake completed it
 * counts as a failed handshake, whatever the cause (memcached counts a
 * client that connects and leaves too); logged with -v. */
static void tls_failed(transport_t *t, tls_conn_t *tc, int e)
{
    tc->fatal = e != SSL_ERROR_ZERO_RETURN;
    if (!tc->handshaken) {
        atomic_fetch_add(&tc->owner->handshake_errors, 1);
        if (tc->verbose > 0) {
            char reason[256];
            fprintf(stderr, "<%d TLS handshake failed: %s\n", t->fd,
                    e == SSL_ERROR_SSL ? ssl_error(reason, sizeof(reason))
                                       : "connection closed");
        }
    }
    ERR_clear_error();
}

static transport_status_e tls_readv(transport_t *t, const struct iovec *iov,
                                    int iovcnt, size_t *got)
{
    tls_conn_t *tc = t->impl;
    *got = 0;
    t->read_wants_write = false;
    /* fill the buffers in order until they are full or nothing is left:
     * a short read then means the socket and the session are drained */
    for (int i = 0; i < iovcnt; i++) {
        char *p = iov[i].iov_base;
        size_t left = iov[i].iov_len;
        while (left > 0) {
            size_t n = 0;
            ERR_clear_error();
            int ok = SSL_read_ex(tc->ssl, p, left, &n);
            if (!tc->handshaken && SSL_is_init_finished(tc->ssl))
                tc->handshaken = true;
            if (ok == 1) {
                p += n;
                left -= n;
                *got += n;
                continue;
            }
            int e = SSL_get_error(tc->ssl, 0);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                t->read_wants_write = e == SSL_ERROR_WANT_WRITE;
                return *got > 0 ? TRANSPORT_OK : TRANSPORT_AGAIN;
            }
            tls_failed(t, tc, e);
            /* bytes already read are handed out; the next call fails */
            return *got > 0 ? TRANSPORT_OK : TRANSPORT_CLOSED;
        }
    }
    return TRANSPORT_OK;
}

static transport_status_e tls_writev(transport_t *t, const struct iovec *iov,
                                     int iovcnt, size_t *wrote)
{
    tls_conn_t *tc = t->impl;
    size_t room = tc->owner->wbuf_size;
    *wrote = 0;
    t->write_wants_read = false;
    /* after a write that waited, OpenSSL wants the same bytes again (the
     * queue's head has not moved, so they are the same) */
    if (tc->retry_len > 0 && tc->retry_len < room)
        room = tc->retry_len;
    size_t len = 0;
    for (int i = 0; i < iovcnt && len < room; i++) {
        size_t k = iov[i].iov_len < room - len ? iov[i].iov_len : room - len;
        memcpy(tc->wbuf + len, iov[i].iov_base, k);
        len += k;
    }
    if (len == 0)
        return TRANSPORT_AGAIN;
    size_t n = 0;
    ERR_clear_error();
    if (SSL_write_ex(tc->ssl, tc->wbuf, len, &n) == 1) {
        tc->retry_len = 0;
        *wrote = n;
        return TRANSPORT_OK;
    }
    int e = SSL_get_error(tc->ssl, 0);
    if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
        tc->retry_len = len;
        t->write_wants_read = e == SSL_ERROR_WANT_READ;
        return TRANSPORT_AGAIN;
    }
    tls_failed(t, tc, e);
    return TRANSPORT_CLOSED;
}

static size_t tls_pending(const transport_t *t)
{
    const tls_conn_t *tc = t->impl;
    int n = SSL_pending(tc->ssl);
    return n > 0 ? (size_t)n : 0;
}

static void tls_close(transport_t *t)
{
    tls_conn_t *tc = t->impl;
    if (tc != NULL) {
        ERR_clear_error();
        /* close_notify, best effort: the socket is non-blocking */
        if (!tc->fatal && SSL_is_init_finished(tc->ssl))
            SSL_shutdown(tc->ssl);
        SSL_free(tc->ssl);
        ERR_clear_error();
        free(tc);
        t->impl = NULL;
    }
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

static const transport_ops_t tls_ops = {
    .name = "tls",
    .readv = tls_readv,
    .writev = tls_writev,
    .pending = tls_pending,
    .close = tls_close,
};

bool tls_transport_init(transport_t *t, tls_ctx_t *ctx, int fd,
                        unsigned worker, int verbose)
{
    tls_conn_t *tc = calloc(1, sizeof(*tc));
    if (tc == NULL || worker >= ctx->nworkers) {
        free(tc);
        return false;
    }
    pthread_mutex_lock(&ctx->lock);
    tc->ssl = SSL_new(ctx->ctx);
    pthread_mutex_unlock(&ctx->lock);
    if (tc->ssl == NULL || !SSL_set_fd(tc->ssl, fd)) {
        SSL_free(tc->ssl);
        free(tc);
        ERR_clear_error();
        return false;
    }
    SSL_set_accept_state(tc->ssl);
    SSL_set_app_data(tc->ssl, tc);
    tc->owner = ctx;
    tc->wbuf = ctx->wbufs[worker];
    tc->verbose = verbose;
    t->ops = &tls_ops;
    t->fd = fd;
    t->impl = tc;
    t->read_wants_write = false;
    t->write_wants_read = false;
    return true;
}
