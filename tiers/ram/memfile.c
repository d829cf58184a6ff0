/*
 * tiers/ram/memfile.c - saving the RAM tier's items to a memory file at a
 * graceful stop and loading them back at start (memfile.h has the format
 * and the rules).
 *
 * Threads: both run with no other thread using the ram_t (save: after the
 * cache's threads and workers stopped; load: before they start). The save
 * reads the LRU lists without their locks; the load takes each stripe and
 * LRU lock around what it links (nothing waits on them).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "memfile.h"

#define IO_BUF (1u << 20)
#define EXPAND_EVERY 65536u

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void seterr(char *err, size_t n, const char *fmt, const char *a, int e)
{
    if (!err || !n)
        return;
    if (e)
        snprintf(err, n, "%s %s: %s", fmt, a, strerror(e));
    else
        snprintf(err, n, "%s%s", fmt, a);
}

/* "dir/file" -> "dir"; "file" -> "."; "/file" -> "/". */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    size_t n = (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

static char *tmp_of(const char *path)
{
    size_t n = strlen(path);
    char *t = malloc(n + 5);
    if (t) {
        memcpy(t, path, n);
        memcpy(t + n, ".tmp", 5);
    }
    return t;
}

/* fsync of the directory holding path: makes a rename or unlink durable. */
static int sync_dir(const char *path)
{
    char *d = dir_of(path);
    if (!d)
        return ENOMEM;
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(d);
    if (fd < 0)
        return errno;
    int rc = fsync(fd) == 0 ? 0 : errno;
    close(fd);
    return rc;
}

memfile_status_e memfile_check_path(const char *path, char *err, size_t errlen)
{
    struct stat sb;
    if (!path || !*path) {
        seterr(err, errlen, "empty memory file path", "", 0);
        return MEMFILE_EIO;
    }
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        seterr(err, errlen, "memory file is not a regular file: ", path, 0);
        return MEMFILE_EIO;
    }
    char *d = dir_of(path);
    if (!d)
        return MEMFILE_ENOMEM;
    memfile_status_e st = MEMFILE_OK;
    if (stat(d, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        seterr(err, errlen, "memory file directory", d, errno ? errno : ENOTDIR);
        st = MEMFILE_EIO;
    } else if (access(d, W_OK | X_OK) != 0) {
        seterr(err, errlen, "memory file directory", d, errno);
        st = MEMFILE_EIO;
    }
    free(d);
    return st;
}

/* ---- save ---- */

typedef struct wr {
    int fd;
    unsigned char *buf;
    size_t len;
    uint64_t body;   /* body bytes written so far */
    XXH3_state_t *xs;
    int err;         /* errno of the first failure, 0 = none */
} wr_t;

static void write_all(wr_t *w, const unsigned char *p, size_t n)
{
    while (n > 0 && !w->err) {
        ssize_t k = write(w->fd, p, n);
        if (k < 0) {
            if (errno != EINTR)
                w->err = errno;
            continue;
        }
        p += k;
        n -= (size_t)k;
    }
}

static void wr_flush(wr_t *w)
{
    write_all(w, w->buf, w->len);
    w->len = 0;
}

/* Appends n body bytes (hashed). */
static void wr_put(wr_t *w, const void *p, size_t n)
{
    XXH3_64bits_update(w->xs, p, n);
    w->body += n;
    if (w->len + n > IO_BUF)
        wr_flush(w);
    if (n >= IO_BUF) {
        write_all(w, p, n);
        return;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

/* One cursor per slab class over HOT, then WARM, then COLD, head to
 * tail (memfile.h ORDER). */
typedef struct cursor {
    item_t *it;
    unsigned lru;
} cursor_t;

static void cursor_next(ram_t *r, unsigned id, cursor_t *c)
{
    c->it = c->it ? c->it->next : NULL;
    while (!c->it && ++c->lru < LRU_COUNT)
        c->it = r->lru[id].head[c->lru];
}

static void cursor_first(ram_t *r, unsigned id, cursor_t *c)
{
    c->lru = LRU_HOT;
    c->it = r->lru[id].head[LRU_HOT];
    if (!c->it)
        cursor_next(r, id, c);
}

static void save_item(wr_t *w, const item_t *it, memfile_report_t *rep)
{
    unsigned f = item_iflags(it);
    memfile_rec_t rec = {
        .nkey = (uint8_t)item_nkey(it),
        .lru = (uint8_t)item_lru(it),
        .fetched = (f & ITEM_FETCHED) != 0,
        .active = (f & ITEM_ACTIVE) != 0,
        .marks = (uint8_t)item_marks(it),
        .flags = item_flags_get(it),
        .nbytes = it->nbytes,
        .time = it->time,
        .exptime = it->exptime,
        .cas = it->cas,
    };
    unsigned char fixed[MEMFILE_REC_FIXED];
    memfile_rec_encode(&rec, fixed);
    wr_put(w, fixed, sizeof fixed);
    wr_put(w, item_ckey(it), rec.nkey);
    wr_put(w, item_cvalue(it), rec.nbytes);
    rep->items++;
    rep->bytes += rec.nkey + (uint64_t)rec.nbytes;
}

/* Writes every live item, newest first (memfile.h ORDER). */
static void save_items(ram_t *r, wr_t *w, memfile_report_t *rep)
{
    rel_time_t now = ram_now(r);
    unsigned largest = r->slabs.largest;
    cursor_t cur[SLAB_CLASS_MAX];
    for (unsigned id = 1; id <= largest; id++)
        cursor_first(r, id, &cur[id]);
    for (;;) {
        unsigned best = 0;
        for (unsigned id = 1; id <= largest; id++) {
            if (cur[id].it && (best == 0 || cur[id].it->time > cur[best].it->time))
                best = id;
        }
        if (best == 0 || w->err)
            break;
        item_t *it = cur[best].it;
        bool dead = (it->exptime != 0 && it->exptime <= now) ||
                    ram_item_is_flushed(r, it, now);
        if (!dead)
            save_item(w, it, rep);
        cursor_next(r, best, &cur[best]);
    }
}

memfile_status_e memfile_save(ram_t *r, const char *path, memfile_report_t *rep,
                              char *err, size_t errlen)
{
    double t0 = mono_s();
    memset(rep, 0, sizeof *rep);
    char *tmp = tmp_of(path);
    wr_t w = {.fd = -1};
    w.buf = malloc(IO_BUF);
    w.xs = XXH3_createState();
    if (!tmp || !w.buf || !w.xs) {
        free(tmp);
        free(w.buf);
        XXH3_freeState(w.xs);
        seterr(err, errlen, "out of memory", "", 0);
        return MEMFILE_ENOMEM;
    }
    memfile_status_e st = MEMFILE_OK;
    XXH3_64bits_reset(w.xs);
    w.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (w.fd < 0) {
        seterr(err, errlen, "cannot create", tmp, errno);
        st = MEMFILE_EIO;
        goto out;
    }
    unsigned char hdr[MEMFILE_HDR_LEN];
    memset(hdr, 0, sizeof hdr); /* the real header goes in last */
    write_all(&w, hdr, sizeof hdr);
    save_items(r, &w, rep);
    wr_flush(&w);
    memfile_header_t h = {
        .saved_at = ram_unix_now(r),
        .max_cas = atomic_load_explicit(&r->cas_id, memory_order_relaxed),
        .oldest_cas = atomic_load_explicit(&r->oldest_cas, memory_order_relaxed),
        .oldest_live = atomic_load_explicit(&r->oldest_live, memory_order_relaxed),
        .flags = r->set.use_cas ? MEMFILE_F_CAS : 0u,
        .items = rep->items,
        .body_len = w.body,
        .body_hash = XXH3_64bits_digest(w.xs),
        .mem_limit = r->set.mem_limit,
        .item_size_max = r->set.item_size_max,
        .process_started = r->started,
    };
    memfile_header_encode(&h, hdr);
    if (!w.err && pwrite(w.fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr)
        w.err = errno ? errno : EIO;
    if (!w.err && fdatasync(w.fd) != 0)
        w.err = errno;
    if (close(w.fd) != 0 && !w.err)
        w.err = errno;
    w.fd = -1;
    if (w.err) {
        seterr(err, errlen, "cannot write", tmp, w.err);
        st = MEMFILE_EIO;
        goto out;
    }
    if (rename(tmp, path) != 0) {
        seterr(err, errlen, "cannot rename to", path, errno);
        st = MEMFILE_EIO;
        goto out;
    }
    int e = sync_dir(path);
    if (e) {
        seterr(err, errlen, "cannot fsync the directory of", path, e);
        st = MEMFILE_EIO; /* renamed, but a power cut may lose it */
    }
out:
    if (w.fd >= 0)
        close(w.fd);
    if (st != MEMFILE_OK)
        unlink(tmp); /* gone already if the rename was done */
    free(tmp);
    free(w.buf);
    XXH3_freeState(w.xs);
    rep->seconds = mono_s() - t0;
    return st;
}

/* ---- load ---- */

typedef struct rd {
    int fd;
    unsigned char *buf;
    size_t pos, len;  /* buffered bytes [pos, len) */
    uint64_t left;    /* body bytes not consumed yet (buffered included) */
    XXH3_state_t *xs;
    int err;          /* errno of a read failure */
} rd_t;

static void rd_start(rd_t *d, uint64_t body_len)
{
    d->pos = d->len = 0;
    d->left = body_len;
    d->err = 0;
    XXH3_64bits_reset(d->xs);
}

/* Takes n body bytes into dst (NULL: skips them), hashing them. false when
 * the body (or the file) ends first or a read fails. */
static bool rd_get(rd_t *d, void *dst, uint64_t n)
{
    unsigned char *out = dst;
    if (n > d->left)
        return false;
    while (n > 0) {
        if (d->pos == d->len) {
            /* nothing is buffered: d->left bytes of the body remain in
             * the file; never read past them */
            size_t cap = d->left < IO_BUF ? (size_t)d->left : IO_BUF;
            ssize_t k;
            do {
                k = read(d->fd, d->buf, cap);
            } while (k < 0 && errno == EINTR);
            if (k <= 0) {
                d->err = k < 0 ? errno : 0;
                return false;
            }
            d->pos = 0;
            d->len = (size_t)k;
        }
        size_t take = d->len - d->pos;
        if (take > n)
            take = (size_t)n;
        XXH3_64bits_update(d->xs, d->buf + d->pos, take);
        if (out) {
            memcpy(out, d->buf + d->pos, take);
            out += take;
        }
        d->pos += take;
        d->left -= take;
        n -= take;
    }
    return true;
}

/* Items linked into the hash table by the load, not yet on an LRU list:
 * one stack per class and list, chained through it->next. */
typedef struct stacks {
    item_t *top[SLAB_CLASS_MAX][LRU_COUNT];
} stacks_t;

/* Undoes a load: every item it linked goes back to its slab. */
static void wipe(ram_t *r, stacks_t *s)
{
    for (unsigned id = 0; id < SLAB_CLASS_MAX; id++) {
        for (unsigned k = 0; k < LRU_COUNT; k++) {
            while (s->top[id][k]) {
                item_t *it = s->top[id][k];
                s->top[id][k] = it->next;
                it->next = NULL;
                uint64_t hv = hash_key(item_ckey(it), item_nkey(it));
                hash_lock(&r->hash, hv);
                do_hash_remove(&r->hash, it, hv);
                item_clear_iflag(it, ITEM_LINKED);
                hash_unlock(&r->hash, hv);
                ram_item_release(r, it);
            }
        }
    }
}

/* Puts the loaded items on their LRU lists. Popping a stack gives a
 * list's items tail first; each is linked at the head, so the list ends
 * in the order it was saved in. */
static void link_all(ram_t *r, stacks_t *s)
{
    for (unsigned id = 0; id < SLAB_CLASS_MAX; id++) {
        lru_class_t *l = &r->lru[id];
        pthread_mutex_lock(&l->lock);
        for (unsigned k = 0; k < LRU_COUNT; k++) {
            while (s->top[id][k]) {
                item_t *it = s->top[id][k];
                s->top[id][k] = it->next;
                do_lru_link(l, it, (lru_id_e)k);
                l->total_items++; /* memcached counts restored items */
            }
        }
        pthread_mutex_unlock(&l->lock);
    }
}

typedef struct load {
    ram_t *r;
    rd_t rd;
    memfile_header_t h;
    rel_time_t now;
    uint64_t next_cas;   /* for records saved without cas, into a cas run */
    uint64_t max_cas;    /* the largest cas loaded */
    stacks_t *st;
    memfile_report_t *rep;
} load_t;

/* One record of the second pass: loads it if it is live and fits. false:
 * the body ended or failed (the caller wipes). */
static bool load_record(load_t *ld, const memfile_rec_t *rec, const char *key)
{
    ram_t *r = ld->r;
    bool use_cas = r->set.use_cas;
    if ((rec->exptime != 0 && rec->exptime <= ld->now) ||
        ram_record_is_flushed(r, rec->time, rec->cas, ld->now)) {
        ld->rep->expired++;
        return rd_get(&ld->rd, NULL, rec->nbytes);
    }
    size_t ntotal = item_ntotal_for(rec->nkey, rec->nbytes, rec->flags, use_cas);
    unsigned id = slabs_clsid(&r->slabs, ntotal);
    uint64_t hv = hash_key(key, rec->nkey);
    hash_lock(&r->hash, hv);
    item_t *dup = do_hash_find(&r->hash, key, rec->nkey, hv);
    hash_unlock(&r->hash, hv);
    item_t *it = id == 0 || dup ? NULL : slabs_alloc(&r->slabs, id);
    if (!it) {
        ld->rep->dropped++; /* too large now, or no memory left: the oldest */
        return rd_get(&ld->rd, NULL, rec->nbytes);
    }
    uint64_t cas = !use_cas ? 0 : rec->cas ? rec->cas : ++ld->next_cas;
    it->cas = cas;
    it->time = rec->time;
    it->exptime = rec->exptime;
    it->nbytes = rec->nbytes;
    it->next = it->prev = it->h_next = NULL;
    item_init_layout(it, rec->nkey, rec->flags, use_cas);
    memcpy(item_key(it), key, rec->nkey);
    if (!rd_get(&ld->rd, item_value(it), rec->nbytes)) {
        ram_item_release(r, it);
        return false;
    }
    if (rec->marks)
        item_marks_or(it, rec->marks);
    if (rec->fetched)
        item_set_iflag(it, ITEM_FETCHED);
    if (rec->active)
        item_set_iflag(it, ITEM_ACTIVE);
    item_set_iflag(it, ITEM_LINKED); /* the reference from slabs_alloc is the hash's */
    hash_lock(&r->hash, hv);
    do_hash_insert(&r->hash, it, hv);
    hash_unlock(&r->hash, hv);
    it->next = ld->st->top[id][rec->lru];
    ld->st->top[id][rec->lru] = it;
    if (rec->exptime != 0)
        ram_crawl_note(r, rec->exptime);
    if (cas > ld->max_cas)
        ld->max_cas = cas;
    ld->rep->items++;
    ld->rep->bytes += rec->nkey + (uint64_t)rec->nbytes;
    if (ld->rep->items % EXPAND_EVERY == 0)
        ram_maybe_expand(r);
    return true;
}

/* One pass over the body: checks every record (apply false) or loads
 * them (apply true). MEMFILE_OK or MEMFILE_DAMAGED / MEMFILE_EIO with a
 * reason in err. */
static memfile_status_e pass(load_t *ld, bool apply, char *err, size_t errlen)
{
    rd_t *d = &ld->rd;
    if (lseek(d->fd, MEMFILE_HDR_LEN, SEEK_SET) != (off_t)MEMFILE_HDR_LEN) {
        seterr(err, errlen, "cannot seek in", "the memory file", errno);
        return MEMFILE_EIO;
    }
    rd_start(d, ld->h.body_len);
    char key[CACHE_KEY_MAX];
    for (uint64_t i = 0; i < ld->h.items; i++) {
        unsigned char fixed[MEMFILE_REC_FIXED];
        memfile_rec_t rec;
        if (!rd_get(d, fixed, sizeof fixed))
            goto short_body;
        if (memfile_rec_decode(fixed, &rec) != MEMFILE_OK) {
            seterr(err, errlen, "a record is invalid", "", 0);
            return MEMFILE_DAMAGED;
        }
        if (!rd_get(d, key, rec.nkey) || rec.nbytes > d->left)
            goto short_body;
        if (apply ? !load_record(ld, &rec, key) : !rd_get(d, NULL, rec.nbytes))
            goto short_body;
    }
    if (d->left != 0) {
        seterr(err, errlen, "the body is longer than its records", "", 0);
        return MEMFILE_DAMAGED;
    }
    if (XXH3_64bits_digest(d->xs) != ld->h.body_hash) {
        seterr(err, errlen, "body checksum mismatch", "", 0);
        return MEMFILE_DAMAGED;
    }
    return MEMFILE_OK;
short_body:
    if (d->err) {
        seterr(err, errlen, "cannot read", "the memory file", d->err);
        return MEMFILE_EIO;
    }
    seterr(err, errlen, "the records overrun the body (truncated?)", "", 0);
    return MEMFILE_DAMAGED;
}

/* Reads the header. */
static memfile_status_e read_header(int fd, uint64_t size, memfile_header_t *h,
                                    char *err, size_t errlen)
{
    unsigned char buf[MEMFILE_HDR_LEN];
    size_t want = size < sizeof buf ? (size_t)size : sizeof buf;
    size_t got = 0;
    while (got < want) {
        ssize_t k = pread(fd, buf + got, want - got, (off_t)got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            seterr(err, errlen, "cannot read", "the memory file", k < 0 ? errno : EIO);
            return MEMFILE_EIO;
        }
        got += (size_t)k;
    }
    memfile_status_e st = memfile_header_decode(buf, got, h);
    if (st == MEMFILE_DAMAGED)
        seterr(err, errlen, got < sizeof buf ? "truncated header" : "bad header", "", 0);
    else if (st == MEMFILE_UNSUPPORTED)
        seterr(err, errlen, "a format version this build cannot read", "", 0);
    else if (st == MEMFILE_FOREIGN)
        seterr(err, errlen, "no tiercache memory file magic", "", 0);
    else if (size != MEMFILE_HDR_LEN + h->body_len) {
        char m[96];
        snprintf(m, sizeof m, "%llu bytes where the header says %llu (truncated?)",
                 (unsigned long long)size,
                 (unsigned long long)(MEMFILE_HDR_LEN + h->body_len));
        seterr(err, errlen, m, "", 0);
        st = MEMFILE_DAMAGED;
    }
    return st;
}

/* Removes the file just read and makes that durable (memfile.h). */
static void invalidate(const char *path)
{
    if (unlink(path) == 0)
        (void)sync_dir(path);
}

memfile_status_e memfile_load(ram_t *r, const char *path, memfile_report_t *rep,
                              char *err, size_t errlen)
{
    double t0 = mono_s();
    memset(rep, 0, sizeof *rep);
    if (err && errlen)
        err[0] = '\0';
    char *tmp = tmp_of(path);
    if (tmp) {
        unlink(tmp); /* a save that a crash cut short */
        free(tmp);
    }
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return MEMFILE_NONE;
        seterr(err, errlen, "cannot open", path, errno);
        return MEMFILE_EIO;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        seterr(err, errlen, "not a regular file", "", 0);
        return MEMFILE_FOREIGN;
    }
    load_t ld = {.r = r, .rep = rep, .now = ram_now(r)};
    memfile_status_e st = read_header(fd, (uint64_t)sb.st_size, &ld.h, err, errlen);
    if (st == MEMFILE_FOREIGN || st == MEMFILE_EIO) {
        close(fd);
        return st; /* not ours (or unreadable): left as it is */
    }
    rep->saved_at = ld.h.saved_at;
    ld.rd.fd = fd;
    ld.rd.buf = st == MEMFILE_OK ? malloc(IO_BUF) : NULL;
    ld.rd.xs = st == MEMFILE_OK ? XXH3_createState() : NULL;
    ld.st = st == MEMFILE_OK ? calloc(1, sizeof *ld.st) : NULL;
    if (st == MEMFILE_OK && (!ld.rd.buf || !ld.rd.xs || !ld.st)) {
        seterr(err, errlen, "out of memory", "", 0);
        st = MEMFILE_ENOMEM;
    }
    if (st == MEMFILE_OK)
        st = pass(&ld, false, err, errlen);
    if (st == MEMFILE_OK) {
        /* restore the flush_all state first: the load skips what it
         * flushed while the server was stopped */
        bool use_cas = r->set.use_cas;
        if (ld.h.oldest_live != 0) {
            atomic_store_explicit(&r->oldest_cas, use_cas ? ld.h.oldest_cas : 0,
                                  memory_order_relaxed);
            atomic_store_explicit(&r->oldest_live, ld.h.oldest_live, memory_order_relaxed);
        }
        uint64_t cas = atomic_load_explicit(&r->cas_id, memory_order_relaxed);
        ld.next_cas = ld.h.max_cas > cas ? ld.h.max_cas : cas;
        st = pass(&ld, true, err, errlen);
        if (st == MEMFILE_OK) {
            link_all(r, ld.st);
            uint64_t top = ld.next_cas > ld.max_cas ? ld.next_cas : ld.max_cas;
            if (use_cas && top > cas)
                atomic_store_explicit(&r->cas_id, top, memory_order_relaxed);
            if (ld.h.oldest_live != 0)
                ram_crawl_note(r, ld.h.oldest_live);
            if (ld.h.process_started > 0 && ld.h.process_started < r->started)
                r->started = ld.h.process_started; /* uptime goes on */
            ram_maybe_expand(r);
        } else {
            /* the file changed between the passes: load nothing */
            wipe(r, ld.st);
            atomic_store_explicit(&r->oldest_cas, 0, memory_order_relaxed);
            atomic_store_explicit(&r->oldest_live, 0, memory_order_relaxed);
            memset(rep, 0, sizeof *rep);
            rep->saved_at = ld.h.saved_at;
        }
    }
    close(fd);
    free(ld.rd.buf);
    XXH3_freeState(ld.rd.xs);
    free(ld.st);
    if (st != MEMFILE_ENOMEM && st != MEMFILE_EIO)
        invalidate(path); /* ours and read: never again (memfile.h) */
    rep->seconds = mono_s() - t0;
    return st;
}

/* ---- the cache's two calls ---- */

cache_status_e memfile_start(ram_t *r, const char *path, char *note, size_t n)
{
    char why[256] = "";
    if (memfile_check_path(path, why, sizeof why) != MEMFILE_OK) {
        snprintf(note, n, "memory file %s (-e): %s", path, why);
        return CACHE_EINVAL;
    }
    memfile_report_t rep;
    memfile_status_e st = memfile_load(r, path, &rep, why, sizeof why);
    switch (st) {
    case MEMFILE_OK: {
        int64_t age = ram_unix_now(r) - rep.saved_at;
        if (age < 0)
            age = 0; /* the two runs' coarse clocks differ by up to 1 s */
        snprintf(note, n,
                 "memory file %s: restored %llu items (%llu bytes of keys and values) "
                 "saved %llds ago, in %.3f s; %llu expired or flushed while stopped, "
                 "%llu dropped (did not fit -m or -I; the least recently used first)",
                 path, (unsigned long long)rep.items, (unsigned long long)rep.bytes,
                 (long long)age, rep.seconds, (unsigned long long)rep.expired,
                 (unsigned long long)rep.dropped);
        return CACHE_OK;
    }
    case MEMFILE_NONE:
        snprintf(note, n, "memory file %s: none saved, starting with an empty cache", path);
        return CACHE_OK;
    case MEMFILE_FOREIGN:
        snprintf(note, n,
                 "memory file %s (-e) exists and is not a tiercache memory file (%s; "
                 "memcached's own -e files cannot be read): remove it or choose another path",
                 path, why);
        return CACHE_EINVAL;
    default:
        snprintf(note, n, "memory file %s: %s (%s), not used: starting with an empty cache",
                 path, memfile_strerror(st), why);
        return CACHE_OK;
    }
}

void memfile_stop(ram_t *r, const char *path)
{
    char why[256] = "";
    memfile_report_t rep;
    memfile_status_e st = memfile_save(r, path, &rep, why, sizeof why);
    if (st == MEMFILE_OK)
        fprintf(stderr,
                "tiercache: memory file %s: saved %llu items (%llu bytes of keys and "
                "values) in %.3f s\n",
                path, (unsigned long long)rep.items, (unsigned long long)rep.bytes,
                rep.seconds);
    else
        fprintf(stderr, "tiercache: memory file %s: not saved (%s): the next start is empty\n",
                path, why);
}
