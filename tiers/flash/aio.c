/*
 * tiers/flash/aio.c - libaio + eventfd per worker (contract: aio.h).
 * No locks: a context is used by one thread.
 */
#include "flash/aio.h"
#include "flash/seterr.h"

#include <errno.h>
#include <libaio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Short transfers are continued only at this granularity (the smallest
 * O_DIRECT alignment); anything else is treated as end of file. */
#define AIO_CONT_ALIGN 512
#define AIO_BATCH 64
#define AIO_FREELIST_MAX 256

typedef struct aio_req {
    struct iocb iocb;         /* iocb.data points back here */
    struct aio_req *next;
    aio_cb_fn cb;
    void *arg;
    char *buf;
    size_t len;
    size_t done;
    uint64_t off;
    long result;
    int fd;
    bool write;
} aio_req_t;

typedef struct req_list {
    aio_req_t *head, *tail;
    uint64_t n;
} req_list_t;

struct aio_ctx {
    io_context_t io;
    int efd;
    unsigned depth;
    unsigned inflight;
    bool shutdown;
    bool deferred;       /* queue only; aio_ctx_poll submits */
    bool kicked;         /* deferred: eventfd written since the last poll */
    bool in_poll;        /* deferred: poll submits at its end, no kick */
    req_list_t pending;  /* not yet submitted (FIFO) */
    req_list_t done;     /* finished, callback not yet run */
    aio_req_t *free;     /* recycled request structs */
    unsigned nfree;
    aio_stats_t st;
};

static void list_push(req_list_t *l, aio_req_t *r)
{
    r->next = NULL;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
    l->n++;
}

static void list_push_front(req_list_t *l, aio_req_t *r)
{
    r->next = l->head;
    l->head = r;
    if (!l->tail)
        l->tail = r;
    l->n++;
}

static aio_req_t *list_pop(req_list_t *l)
{
    aio_req_t *r = l->head;
    if (r) {
        l->head = r->next;
        if (!l->head)
            l->tail = NULL;
        l->n--;
        r->next = NULL;
    }
    return r;
}


aio_status_e aio_ctx_create(aio_ctx_t **out, unsigned depth, char *err, size_t errlen)
{
    if (!out || depth == 0 || depth > AIO_MAX_DEPTH) {
        flash_seterr(err, errlen, "aio: depth %u out of range 1..%d", depth, AIO_MAX_DEPTH);
        return AIO_EINVAL;
    }
    aio_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        flash_seterr(err, errlen, "aio: out of memory");
        return AIO_ENOMEM;
    }
    ctx->depth = depth;
    ctx->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ctx->efd < 0) {
        flash_seterr(err, errlen, "aio: eventfd: %s", strerror(errno));
        free(ctx);
        return AIO_ESETUP;
    }
    int rc = io_setup((int)depth, &ctx->io);
    if (rc != 0) {
        int e = rc < 0 ? -rc : errno;
        flash_seterr(err, errlen, "aio: io_setup(%u): %s%s", depth, strerror(e),
               e == EAGAIN ? " (fs.aio-max-nr exhausted?)" : "");
        close(ctx->efd);
        free(ctx);
        return AIO_ESETUP;
    }
    *out = ctx;
    return AIO_OK;
}

int aio_ctx_fd(const aio_ctx_t *ctx) { return ctx->efd; }

static void signal_efd(aio_ctx_t *ctx)
{
    uint64_t one = 1;
    ssize_t n = write(ctx->efd, &one, sizeof one);
    (void)n; /* EAGAIN only if the counter is near overflow: already readable */
}

static void prep(aio_ctx_t *ctx, aio_req_t *r)
{
    if (r->write)
        io_prep_pwrite(&r->iocb, r->fd, r->buf + r->done, r->len - r->done,
                       (long long)(r->off + r->done));
    else
        io_prep_pread(&r->iocb, r->fd, r->buf + r->done, r->len - r->done,
                      (long long)(r->off + r->done));
    io_set_eventfd(&r->iocb, ctx->efd);
    r->iocb.data = r;
}

/* Submits queued requests while the depth allows. */
static void submit_queued(aio_ctx_t *ctx)
{
    while (ctx->pending.head && ctx->inflight < ctx->depth && !ctx->shutdown) {
        struct iocb *batch[AIO_BATCH];
        unsigned room = ctx->depth - ctx->inflight;
        unsigned n = 0;
        for (aio_req_t *r = ctx->pending.head; r && n < room && n < AIO_BATCH; r = r->next) {
            prep(ctx, r);
            batch[n++] = &r->iocb;
        }
        int ret = io_submit(ctx->io, (long)n, batch);
        ctx->st.submit_calls++;
        if (ret > 0) {
            for (int i = 0; i < ret; i++)
                list_pop(&ctx->pending);
            ctx->inflight += (unsigned)ret;
            ctx->st.submitted += (unsigned)ret;
            continue;
        }
        if (ret == 0 || ret == -EAGAIN || ret == -EINTR) {
            ctx->st.eagain++;
            break; /* stays queued; retried at the next poll */
        }
        /* the first iocb was refused (-EBADF, -EINVAL, ...): fail it alone */
        aio_req_t *r = list_pop(&ctx->pending);
        r->result = ret;
        list_push(&ctx->done, r);
        signal_efd(ctx);
    }
}

static aio_status_e queue(aio_ctx_t *ctx, bool write, int fd, void *buf, size_t len,
                          uint64_t off, aio_cb_fn cb, void *arg)
{
    if (!ctx || !buf || len == 0 || !cb || off > (uint64_t)INT64_MAX - len)
        return AIO_EINVAL;
    if (ctx->shutdown)
        return AIO_ESHUTDOWN;
    aio_req_t *r = ctx->free;
    if (r) {
        ctx->free = r->next;
        ctx->nfree--;
    } else if (!(r = malloc(sizeof *r))) {
        return AIO_ENOMEM;
    }
    memset(r, 0, sizeof *r);
    r->cb = cb;
    r->arg = arg;
    r->buf = buf;
    r->len = len;
    r->off = off;
    r->fd = fd;
    r->write = write;
    list_push(&ctx->pending, r);
    if (!ctx->deferred) {
        submit_queued(ctx);
    } else if (!ctx->kicked && !ctx->in_poll) {
        ctx->kicked = true;
        ctx->st.kicks++;
        signal_efd(ctx);
    }
    return AIO_OK;
}

void aio_ctx_set_deferred(aio_ctx_t *ctx, bool on) { ctx->deferred = on; }

aio_status_e aio_read(aio_ctx_t *ctx, int fd, void *buf, size_t len, uint64_t off,
                      aio_cb_fn cb, void *arg)
{
    return queue(ctx, false, fd, buf, len, off, cb, arg);
}

aio_status_e aio_write(aio_ctx_t *ctx, int fd, const void *buf, size_t len, uint64_t off,
                       aio_cb_fn cb, void *arg)
{
    /* the buffer is only read; libaio's prototype is not const */
    return queue(ctx, true, fd, (void *)(uintptr_t)buf, len, off, cb, arg);
}

/* One kernel completion: finished (-> done) or continued (-> pending front). */
static void complete_one(aio_ctx_t *ctx, struct io_event *ev)
{
    aio_req_t *r = ev->data;
    long res = (long)ev->res;
    ctx->inflight--;
    if (res < 0) {
        r->result = res;
    } else {
        r->done += (size_t)res;
        if (r->done < r->len && res > 0 && res % AIO_CONT_ALIGN == 0 && !ctx->shutdown) {
            ctx->st.resubmits++;
            list_push_front(&ctx->pending, r);
            return;
        }
        /* a write that stops short is an error; a short read is end of file */
        r->result = (r->write && r->done < r->len) ? -EIO : (long)r->done;
    }
    list_push(&ctx->done, r);
}

/* Reaps what the kernel has finished; wait_min > 0 blocks for that many. */
static void reap(aio_ctx_t *ctx, long wait_min)
{
    struct io_event ev[AIO_BATCH];
    struct timespec zero = { 0, 0 };
    for (;;) {
        long min = wait_min < (long)ctx->inflight ? wait_min : (long)ctx->inflight;
        int n = io_getevents(ctx->io, min, AIO_BATCH, ev, min > 0 ? NULL : &zero);
        if (n == -EINTR)
            continue;
        if (n <= 0)
            return;
        for (int i = 0; i < n; i++)
            complete_one(ctx, &ev[i]);
        wait_min -= n;
        if (n < AIO_BATCH && wait_min <= 0)
            return;
    }
}

static void recycle(aio_ctx_t *ctx, aio_req_t *r)
{
    if (ctx->nfree < AIO_FREELIST_MAX && !ctx->shutdown) {
        r->next = ctx->free;
        ctx->free = r;
        ctx->nfree++;
    } else {
        free(r);
    }
}

static unsigned deliver(aio_ctx_t *ctx)
{
    unsigned n = 0;
    req_list_t l = ctx->done; /* callbacks may add to ctx->done: detach */
    memset(&ctx->done, 0, sizeof ctx->done);
    aio_req_t *r;
    while ((r = list_pop(&l))) {
        ctx->st.completed++;
        if (r->result < 0) {
            ctx->st.errors++;
        } else {
            if ((size_t)r->result < r->len)
                ctx->st.short_done++;
            if (r->write)
                ctx->st.bytes_written += (uint64_t)r->result;
            else
                ctx->st.bytes_read += (uint64_t)r->result;
        }
        aio_cb_fn cb = r->cb;
        void *arg = r->arg;
        long result = r->result;
        recycle(ctx, r);
        cb(arg, result);
        n++;
    }
    return n;
}

unsigned aio_ctx_poll(aio_ctx_t *ctx)
{
    uint64_t v;
    ssize_t rn = read(ctx->efd, &v, sizeof v); /* EAGAIN when nothing: fine */
    (void)rn;
    ctx->kicked = false;
    ctx->in_poll = true;
    reap(ctx, 0);
    submit_queued(ctx);
    unsigned n = 0;
    /* callbacks may queue IO (deferred: submitted here, after them), and IO
     * may fail at submission: deliver that too */
    while (ctx->done.head) {
        n += deliver(ctx);
        submit_queued(ctx);
    }
    ctx->in_poll = false;
    return n;
}

bool aio_ctx_stalled(const aio_ctx_t *ctx)
{
    return ctx->pending.head != NULL && ctx->inflight == 0;
}

void aio_ctx_stats(const aio_ctx_t *ctx, aio_stats_t *st)
{
    *st = ctx->st;
    st->inflight = ctx->inflight;
    st->queued = ctx->pending.n;
}

void aio_ctx_destroy(aio_ctx_t **pctx)
{
    if (!pctx || !*pctx)
        return;
    aio_ctx_t *ctx = *pctx;
    ctx->shutdown = true;
    /* Linux does not cancel disk IO (io_cancel answers EINVAL): wait. */
    while (ctx->inflight > 0)
        reap(ctx, ctx->inflight);
    aio_req_t *r;
    while ((r = list_pop(&ctx->pending))) {
        r->result = -ECANCELED;
        list_push(&ctx->done, r);
    }
    while (ctx->done.head)
        deliver(ctx);
    while ((r = ctx->free)) {
        ctx->free = r->next;
        free(r);
    }
    io_destroy(ctx->io);
    close(ctx->efd);
    free(ctx);
    *pctx = NULL;
}

const char *aio_strerror(aio_status_e st)
{
    switch (st) {
    case AIO_OK: return "ok";
    case AIO_EINVAL: return "invalid argument";
    case AIO_ENOMEM: return "out of memory";
    case AIO_ESETUP: return "io_setup or eventfd failed";
    case AIO_ESHUTDOWN: return "context shutting down";
    }
    return "unknown aio status";
}
