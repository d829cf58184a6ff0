/*
 * tiers/flash/devset.c - the device set (contract: devset.h). No mutexes:
 * the layout is fixed before any concurrent use; the failed flags are
 * atomics.
 */
#include "flash/devset.h"
#include "flash/seterr.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct devset {
    unsigned n;
    device_t *m[DEVSET_MAX];
    atomic_bool failed[DEVSET_MAX];
    atomic_uint nfailed;
    uint64_t data_offset;   /* stripes start here (0 until devset_layout) */
    uint32_t stripe;        /* segment size; 0 = identity mapping */
    devset_fail_fn fail_fn;
    void *fail_ctx;
};

device_status_e devset_open(devset_t **out, const char *paths, uint64_t size,
                            char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out || !paths || !*paths) {
        flash_seterr(err, errlen, "flash: no path given");
        return DEVICE_EINVAL;
    }
    devset_t *s = calloc(1, sizeof *s);
    if (!s) {
        flash_seterr(err, errlen, "%s: out of memory", paths);
        return DEVICE_ENOMEM;
    }
    char *names[DEVSET_MAX];
    unsigned n = 0;
    device_status_e st = DEVICE_OK;
    for (const char *p = paths;;) {
        const char *e = strchr(p, DEVSET_SEP);
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0) {
            flash_seterr(err, errlen, "%s: empty path in the list of flash paths", paths);
            st = DEVICE_EINVAL;
            break;
        }
        if (n == DEVSET_MAX) {
            flash_seterr(err, errlen, "%s: more than %d flash paths", paths, DEVSET_MAX);
            st = DEVICE_EINVAL;
            break;
        }
        names[n] = strndup(p, len);
        if (!names[n]) {
            flash_seterr(err, errlen, "%s: out of memory", paths);
            st = DEVICE_ENOMEM;
            break;
        }
        struct stat sn, si;
        bool have = stat(names[n], &sn) == 0;
        for (unsigned i = 0; i < n && st == DEVICE_OK; i++) {
            if (strcmp(names[i], names[n]) == 0 ||
                (have && stat(names[i], &si) == 0 && si.st_dev == sn.st_dev &&
                 si.st_ino == sn.st_ino && si.st_rdev == sn.st_rdev)) {
                flash_seterr(err, errlen, "%s: given twice as a flash path (as %s too)",
                             names[n], names[i]);
                st = DEVICE_EINVAL;
            }
        }
        n++;
        if (st != DEVICE_OK || !e)
            break;
        p = e + 1;
    }
    for (unsigned i = 0; st == DEVICE_OK && i < n; i++) {
        st = device_open(&s->m[i], names[i], size, err, errlen);
        if (st == DEVICE_OK)
            s->n = i + 1;
    }
    for (unsigned i = 0; i < n; i++)
        free(names[i]);
    if (st != DEVICE_OK) {
        devset_discard(&s);
        return st;
    }
    *out = s;
    return DEVICE_OK;
}

static void free_set(devset_t **ps, bool discard)
{
    if (!ps || !*ps)
        return;
    devset_t *s = *ps;
    for (unsigned i = 0; i < s->n; i++) {
        if (discard)
            device_discard(&s->m[i]);
        else
            device_close(&s->m[i]);
    }
    free(s);
    *ps = NULL;
}

void devset_close(devset_t **ps) { free_set(ps, false); }
void devset_discard(devset_t **ps) { free_set(ps, true); }

unsigned devset_count(const devset_t *s) { return s->n; }
device_t *devset_member(const devset_t *s, unsigned i) { return i < s->n ? s->m[i] : NULL; }

uint32_t devset_block_size(const devset_t *s)
{
    uint32_t b = 0;
    for (unsigned i = 0; i < s->n; i++)
        if (device_block_size(s->m[i]) > b)
            b = device_block_size(s->m[i]);
    return b;
}

uint64_t devset_member_size(const devset_t *s)
{
    uint64_t z = UINT64_MAX;
    for (unsigned i = 0; i < s->n; i++)
        if (device_size(s->m[i]) < z)
            z = device_size(s->m[i]);
    return z;
}

uint64_t devset_unused(const devset_t *s)
{
    uint64_t z = devset_member_size(s), u = 0;
    for (unsigned i = 0; i < s->n; i++)
        u += device_size(s->m[i]) - z;
    return u;
}

bool devset_created(const devset_t *s)
{
    for (unsigned i = 0; i < s->n; i++)
        if (device_created(s->m[i]))
            return true;
    return false;
}

uint64_t devset_logical_size(const devset_t *s, uint64_t data_offset, uint32_t segment_size)
{
    uint64_t z = devset_member_size(s);
    if (s->n == 1)
        return z;
    if (segment_size == 0 || z < data_offset + segment_size)
        return 0;
    uint64_t k = (z - data_offset) / segment_size;
    return data_offset + (uint64_t)s->n * k * segment_size;
}

void devset_layout(devset_t *s, uint64_t data_offset, uint32_t segment_size)
{
    s->data_offset = data_offset;
    s->stripe = s->n > 1 ? segment_size : 0;
}

bool devset_order(devset_t *s, const unsigned *perm)
{
    bool seen[DEVSET_MAX] = { false };
    for (unsigned i = 0; i < s->n; i++) {
        if (perm[i] >= s->n || seen[perm[i]])
            return false;
        seen[perm[i]] = true;
    }
    device_t *m[DEVSET_MAX];
    bool f[DEVSET_MAX];
    for (unsigned i = 0; i < s->n; i++) {
        m[i] = s->m[perm[i]];
        f[i] = atomic_load(&s->failed[perm[i]]);
    }
    for (unsigned i = 0; i < s->n; i++) {
        s->m[i] = m[i];
        atomic_store(&s->failed[i], f[i]);
    }
    return true;
}

/* Logical -> member, physical offset, and the bytes left in that stripe. */
static unsigned locate(const devset_t *s, uint64_t off, uint64_t *phys, uint64_t *room)
{
    if (s->stripe == 0 || off < s->data_offset) {
        *phys = off;
        *room = s->stripe == 0 ? UINT64_MAX - off : s->data_offset - off;
        return 0;
    }
    uint64_t rel = off - s->data_offset;
    uint64_t seg = rel / s->stripe, in = rel % s->stripe;
    *phys = s->data_offset + (seg / s->n) * s->stripe + in;
    *room = s->stripe - in;
    return (unsigned)(seg % s->n);
}

unsigned devset_member_of(const devset_t *s, uint64_t off)
{
    uint64_t phys, room;
    return locate(s, off, &phys, &room);
}

unsigned devset_member_of_seg(const devset_t *s, uint32_t seg)
{
    return s->n > 1 ? seg % s->n : 0;
}

bool devset_map(const devset_t *s, uint64_t off, size_t len, int *fd, uint64_t *phys)
{
    uint64_t room;
    unsigned m = locate(s, off, phys, &room);
    if (len > room || atomic_load_explicit(&s->failed[m], memory_order_relaxed) ||
        *phys > device_size(s->m[m]) || len > device_size(s->m[m]) - *phys)
        return false;
    *fd = device_fd(s->m[m]);
    return true;
}

bool devset_fail(devset_t *s, unsigned m, const char *why)
{
    if (m >= s->n || s->n == 1)
        return false; /* one member: the store's error handling, as before */
    bool was = atomic_exchange(&s->failed[m], true);
    if (was)
        return false;
    atomic_fetch_add(&s->nfailed, 1);
    if (s->fail_fn)
        s->fail_fn(s->fail_ctx, m, device_path(s->m[m]), why);
    return true;
}

bool devset_failed(const devset_t *s, unsigned m)
{
    return m < s->n && atomic_load_explicit(&s->failed[m], memory_order_relaxed);
}

unsigned devset_nfailed(const devset_t *s) { return atomic_load(&s->nfailed); }

void devset_set_fail_cb(devset_t *s, devset_fail_fn fn, void *ctx)
{
    s->fail_fn = fn;
    s->fail_ctx = ctx;
}

static device_status_e io(devset_t *s, bool write, void *buf, size_t len, uint64_t off,
                          char *err, size_t errlen)
{
    if (!s)
        return DEVICE_EINVAL;
    while (len > 0) {
        uint64_t phys, room;
        unsigned m = locate(s, off, &phys, &room);
        size_t n = room < len ? (size_t)room : len;
        if (atomic_load_explicit(&s->failed[m], memory_order_relaxed)) {
            flash_seterr(err, errlen, "%s: failed earlier in this run; not used",
                         device_path(s->m[m]));
            return DEVICE_EIO;
        }
        device_status_e st = write ? device_pwrite(s->m[m], buf, n, phys, err, errlen)
                                   : device_pread(s->m[m], buf, n, phys, err, errlen);
        if (st == DEVICE_EIO || st == DEVICE_ESHORT) {
            devset_fail(s, m, err && errlen ? err : "IO error");
            return st;
        }
        if (st != DEVICE_OK)
            return st;
        buf = (char *)buf + n;
        off += n;
        len -= n;
    }
    return DEVICE_OK;
}

device_status_e devset_pread(devset_t *s, void *buf, size_t len, uint64_t off,
                             char *err, size_t errlen)
{
    return io(s, false, buf, len, off, err, errlen);
}

device_status_e devset_pwrite(devset_t *s, const void *buf, size_t len, uint64_t off,
                              char *err, size_t errlen)
{
    return io(s, true, (void *)buf, len, off, err, errlen);
}

bool devset_sync(devset_t *s, char *err, size_t errlen)
{
    bool ok = true;
    for (unsigned i = 0; i < s->n; i++) {
        if (devset_failed(s, i))
            continue;
        if (fdatasync(device_fd(s->m[i])) != 0) {
            char why[300];
            snprintf(why, sizeof why, "%s: fdatasync failed: %s", device_path(s->m[i]),
                     strerror(errno));
            if (ok)
                flash_seterr(err, errlen, "%s", why);
            ok = false;
            devset_fail(s, i, why);
        }
    }
    return ok;
}
