/*
 * server/transport.h - the byte stream under a stream connection.
 *
 * A connection (conn.c) reads and writes only through its transport: a
 * plain socket (transport_plain_init) or a TLS session (tls.h). Protocols
 * never see the transport; they get bytes in the connection's read buffer
 * and queue replies on its outq.
 *
 * Non-blocking contract: readv/writev move what they can now. On
 * TRANSPORT_AGAIN nothing moved and `read_wants_write` / `write_wants_read`
 * say which socket event the operation waits for (TLS may need to write
 * during a read and read during a write; a plain socket never does).
 * `pending` counts bytes the transport has taken off the socket but not yet
 * handed out (a TLS record partly read): the socket may then be quiet while
 * input is waiting, so the connection must read again without an event.
 * All calls are made on the connection's worker thread.
 */
#ifndef TIERCACHE_TRANSPORT_H
#define TIERCACHE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

typedef enum transport_status {
    TRANSPORT_OK = 0, /* bytes moved (*n > 0) */
    TRANSPORT_AGAIN,  /* nothing now: wait for the wanted event */
    TRANSPORT_CLOSED, /* EOF, reset or a protocol error: close */
} transport_status_e;

/* Name of a status, for logs. */
const char *transport_strerror(transport_status_e st);

typedef struct transport transport_t;

typedef struct transport_ops {
    const char *name; /* "plain", "tls" */
    /* Fills iov[0..iovcnt) in order; *got = bytes read. */
    transport_status_e (*readv)(transport_t *t, const struct iovec *iov,
                                int iovcnt, size_t *got);
    /* Writes from iov[0..iovcnt) in order; *wrote = bytes taken. May take
     * fewer bytes than offered. */
    transport_status_e (*writev)(transport_t *t, const struct iovec *iov,
                                 int iovcnt, size_t *wrote);
    /* Bytes buffered inside the transport, readable without the socket. */
    size_t (*pending)(const transport_t *t);
    /* Ends the session (best effort, never blocks), closes the socket and
     * frees the transport's state. Idempotent. */
    void (*close)(transport_t *t);
} transport_ops_t;

struct transport {
    const transport_ops_t *ops;
    int fd;                /* the socket; -1 once closed */
    void *impl;            /* the implementation's state (TLS: its session) */
    bool read_wants_write; /* the last readv's AGAIN waits for EV_WRITE */
    bool write_wants_read; /* the last writev's AGAIN waits for EV_READ */
};

/* Makes `t` a plain socket transport over connected, non-blocking `fd`
 * (owned from then on: closed by transport_close). Allocates nothing. */
void transport_plain_init(transport_t *t, int fd);

static inline transport_status_e transport_readv(transport_t *t,
                                                 const struct iovec *iov,
                                                 int iovcnt, size_t *got)
{
    return t->ops->readv(t, iov, iovcnt, got);
}

static inline transport_status_e transport_writev(transport_t *t,
                                                  const struct iovec *iov,
                                                  int iovcnt, size_t *wrote)
{
    return t->ops->writev(t, iov, iovcnt, wrote);
}

/* Reads into one buffer. */
static inline transport_status_e transport_read(transport_t *t, void *buf,
                                                size_t len, size_t *got)
{
    struct iovec v = {buf, len};
    return t->ops->readv(t, &v, 1, got);
}

static inline size_t transport_pending(const transport_t *t)
{
    return t->ops->pending(t);
}

static inline void transport_close(transport_t *t)
{
    if (t->ops)
        t->ops->close(t);
}

#endif /* TIERCACHE_TRANSPORT_H */
