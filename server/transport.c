/* server/transport.c - see transport.h: the plain socket transport. */
#include "transport.h"

#include <errno.h>
#include <limits.h>
#include <unistd.h>

const char *transport_strerror(transport_status_e st)
{
    switch (st) {
    case TRANSPORT_OK: return "ok";
    case TRANSPORT_AGAIN: return "would block";
    case TRANSPORT_CLOSED: return "closed";
    default: return "unknown transport status";
    }
}

static transport_status_e plain_readv(transport_t *t, const struct iovec *iov,
                                      int iovcnt, size_t *got)
{
    *got = 0;
    t->read_wants_write = false;
    for (;;) {
        ssize_t n = iovcnt == 1 ? read(t->fd, iov[0].iov_base, iov[0].iov_len)
                                : readv(t->fd, iov, iovcnt);
        if (n > 0) {
            *got = (size_t)n;
            return TRANSPORT_OK;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return TRANSPORT_AGAIN;
        return TRANSPORT_CLOSED;
    }
}

static transport_status_e plain_writev(transport_t *t,
                                       const struct iovec *iov, int iovcnt,
                                       size_t *wrote)
{
    *wrote = 0;
    t->write_wants_read = false;
    if (iovcnt > IOV_MAX)
        iovcnt = IOV_MAX;
    for (;;) {
        ssize_t n = writev(t->fd, iov, iovcnt);
        if (n >= 0) {
            *wrote = (size_t)n;
            return n > 0 ? TRANSPORT_OK : TRANSPORT_AGAIN;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return TRANSPORT_AGAIN;
        return TRANSPORT_CLOSED;
    }
}

static size_t plain_pending(const transport_t *t)
{
    (void)t;
    return 0;
}

static void plain_close(transport_t *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

static const transport_ops_t plain_ops = {
    .name = "plain",
    .readv = plain_readv,
    .writev = plain_writev,
    .pending = plain_pending,
    .close = plain_close,
};

void transport_plain_init(transport_t *t, int fd)
{
    t->ops = &plain_ops;
    t->fd = fd;
    t->impl = NULL;
    t->read_wants_write = false;
    t->write_wants_read = false;
}
