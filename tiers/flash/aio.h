/*
 * tiers/flash/aio.h - one libaio context per worker thread, completions
 * signalled on an eventfd the worker's event loop watches.
 *
 *   aio_read/aio_write --> [user-space FIFO] --io_submit (<= free depth)--> kernel
 *                                                                             |
 *   event loop: aio_ctx_fd() readable --> aio_ctx_poll(): read eventfd,       |
 *     io_getevents(min 0, timeout 0) <----------------------------------------+
 *     -> resubmit the rest of short transfers, submit queued requests,
 *     -> invoke callbacks (bytes transferred or -errno)
 *
 * At most `depth` requests are in the kernel; the rest wait in user space, so
 * io_submit is never asked for more than the free depth (it still may block
 * inside the syscall, e.g. on filesystem metadata; nothing here waits longer).
 * Callbacks run only inside aio_ctx_poll() and aio_ctx_destroy(), never inside
 * aio_read/aio_write, so a caller may issue IO while holding its own state.
 *
 * Deferred submission (aio_ctx_set_deferred, used by the flash workers):
 * aio_read/aio_write only queue, and the first request queued since the last
 * poll writes 1 to the eventfd. The event loop finishes what it is doing
 * (e.g. parses every request that arrived in this pass), sees the eventfd
 * readable and calls aio_ctx_poll, which submits every queued request with
 * one io_submit (per AIO_BATCH). One syscall (and one device doorbell) per
 * loop pass instead of one per request, for one eventfd write per pass.
 * A callback may issue new IO on the same context (it is queued, and
 * submitted at once, or in deferred mode before aio_ctx_poll returns); it
 * must not call aio_ctx_poll or aio_ctx_destroy.
 *
 * Threads: a context belongs to one thread; nothing in it is locked.
 * Buffers: owned by the caller and must stay valid (and untouched) until the
 * request's callback has run. O_DIRECT rules (alignment of buf/len/offset)
 * are the caller's; a violation comes back as -EINVAL in the callback.
 * A byte cap on reads in flight is the caller's job (see the counters).
 */
#ifndef TIERCACHE_FLASH_AIO_H
#define TIERCACHE_FLASH_AIO_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct aio_ctx aio_ctx_t;

typedef enum aio_status {
    AIO_OK = 0,
    AIO_EINVAL,    /* bad argument (depth 0 or too large, NULL buf/callback, len 0) */
    AIO_ENOMEM,
    AIO_ESETUP,    /* io_setup or eventfd failed (errno in the message) */
    AIO_ESHUTDOWN, /* the context is being destroyed */
} aio_status_e;

/* Largest depth accepted (the system-wide limit is fs.aio-max-nr). */
#define AIO_MAX_DEPTH 4096

/*
 * Completion callback. result: bytes transferred (== len on success; less
 * only for a read that reached end of file), or -errno (e.g. -EBADF,
 * -EINVAL for misaligned O_DIRECT IO, -EIO, -ECANCELED for a request still
 * queued when the context was destroyed). Called exactly once per accepted
 * request.
 */
typedef void (*aio_cb_fn)(void *arg, long result);

typedef struct aio_stats {
    uint64_t inflight;      /* in the kernel now */
    uint64_t queued;        /* waiting in user space now */
    uint64_t submitted;     /* iocbs accepted by io_submit (resubmissions too) */
    uint64_t submit_calls;  /* io_submit syscalls */
    uint64_t kicks;         /* deferred mode: eventfd writes to get polled */
    uint64_t completed;     /* callbacks invoked */
    uint64_t errors;        /* callbacks with result < 0 */
    uint64_t short_done;    /* callbacks with 0 <= result < len */
    uint64_t resubmits;     /* short transfers continued */
    uint64_t eagain;        /* io_submit said EAGAIN (requests stayed queued) */
    uint64_t bytes_read;
    uint64_t bytes_written;
} aio_stats_t;

/*
 * aio_ctx_create: an io context for `depth` requests in flight
 * (1..AIO_MAX_DEPTH) plus a non-blocking eventfd. On AIO_OK *out owns both
 * (aio_ctx_destroy). Fails with AIO_EINVAL, AIO_ENOMEM or AIO_ESETUP (e.g.
 * EAGAIN when fs.aio-max-nr is exhausted); err (may be NULL) says why.
 */
aio_status_e aio_ctx_create(aio_ctx_t **out, unsigned depth, char *err, size_t errlen);

/*
 * aio_ctx_destroy: finish every request and free the context; *ctx = NULL.
 * In-flight requests are waited for (blocking until the device answers;
 * Linux cannot cancel disk IO) and their callbacks get their real result;
 * queued ones get -ECANCELED. Callbacks run here and must not issue IO
 * (aio_read/aio_write return AIO_ESHUTDOWN). NULL or *ctx NULL: no-op.
 */
void aio_ctx_destroy(aio_ctx_t **ctx);

/* aio_ctx_fd: the eventfd to watch for readability (owned by the context). */
int aio_ctx_fd(const aio_ctx_t *ctx);

/*
 * aio_ctx_set_deferred: on = deferred submission (see the top of this file);
 * off (the default) = submit at once. Requests already queued stay queued
 * until the next aio_ctx_poll / aio_read / aio_write. O(1).
 */
void aio_ctx_set_deferred(aio_ctx_t *ctx, bool on);

/*
 * aio_read / aio_write: queue a read/write of len bytes at offset off of fd
 * into/from buf and submit it at once if the depth allows. AIO_OK means the
 * callback will run exactly once, later, from aio_ctx_poll (also for errors
 * found at submission, e.g. a bad fd, which the eventfd signals). Fails with
 * AIO_EINVAL, AIO_ENOMEM or AIO_ESHUTDOWN, and then the callback never runs.
 * Work: at most one io_submit syscall (of up to the free depth; in deferred
 * mode none, at most one eventfd write) and one small allocation (reused
 * from a free list when possible).
 */
aio_status_e aio_read(aio_ctx_t *ctx, int fd, void *buf, size_t len, uint64_t off,
                      aio_cb_fn cb, void *arg);
aio_status_e aio_write(aio_ctx_t *ctx, int fd, const void *buf, size_t len, uint64_t off,
                       aio_cb_fn cb, void *arg);

/*
 * aio_ctx_poll: call when aio_ctx_fd() is readable (calling it at other
 * times is harmless). Drains the eventfd, reaps every finished event without
 * waiting, continues short transfers, submits queued requests up to the
 * depth, invokes the callbacks of finished requests, then submits what the
 * callbacks queued (so a deferred-mode callback's IO goes out in the same
 * poll). Returns the number of callbacks invoked. Work: O(finished +
 * submitted) plus a few syscalls.
 */
unsigned aio_ctx_poll(aio_ctx_t *ctx);

/*
 * aio_ctx_stalled: true when requests are queued but none is in flight
 * (io_submit said EAGAIN): no completion will signal the eventfd, so the
 * caller should call aio_ctx_poll again after a short timer.
 */
bool aio_ctx_stalled(const aio_ctx_t *ctx);

/* aio_ctx_stats: a snapshot of the counters. */
void aio_ctx_stats(const aio_ctx_t *ctx, aio_stats_t *st);

const char *aio_strerror(aio_status_e st);

#endif /* TIERCACHE_FLASH_AIO_H */
