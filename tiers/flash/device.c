/*
 * tiers/flash/device.c - open, classify and preallocate the flash device
 * (contract: device.h). No mutexes; the device itself is held with flock /
 * O_EXCL for the fd's life.
 */
#include "flash/device.h"
#include "flash/seterr.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "flash/format.h"

struct device {
    int fd;
    char *path;
    uint64_t size;        /* bytes in use */
    uint64_t file_size;   /* regular files: current length */
    uint32_t block_size;
    bool blockdev;
    bool created;
    device_kind_e kind;
    const char *what;     /* static, or what_buf */
    char what_buf[128];
    bool has_sb;          /* TIERCACHE: sb is the decoded superblock */
    flash_sb_t sb;
};


void *device_buf_alloc(size_t len)
{
    if (len == 0 || len > SIZE_MAX - DEVICE_BUF_ALIGN)
        return NULL;
    len = (len + DEVICE_BUF_ALIGN - 1) / DEVICE_BUF_ALIGN * DEVICE_BUF_ALIGN;
    void *p = NULL;
    if (posix_memalign(&p, DEVICE_BUF_ALIGN, len) != 0)
        return NULL;
    memset(p, 0, len);
    return p;
}

void device_buf_free(void *buf) { free(buf); }

/* ---- classification ---- */

static bool at(const uint8_t *buf, size_t len, size_t off, const void *sig, size_t n)
{
    return off + n <= len && memcmp(buf + off, sig, n) == 0;
}

/* Signatures of what may already be on a device, first match wins. */
static const struct {
    size_t off;
    const char *sig;
    size_t n;
    const char *what;
} foreign_sigs[] = {
    { 0, "LUKS\xba\xbe", 6, "LUKS volume" },
    { 0, "XFSB", 4, "XFS filesystem" },
    { 65600, "_BHRfS_M", 8, "btrfs filesystem" },
    { 1080, "\x53\xef", 2, "ext2/3/4 filesystem" }, /* 0xEF53 little-endian */
    { 4086, "SWAPSPACE2", 10, "swap space" },
    { 4086, "SWAP-SPACE", 10, "swap space" },
    { 512, "EFI PART", 8, "GPT partition table" },
    { 510, "\x55\xaa", 2, "MBR partition table or boot sector" },
};

device_kind_e device_classify(const uint8_t *buf, size_t len, const char **what)
{
    const char *w = "empty";
    device_kind_e k = DEVICE_KIND_EMPTY;
    if (at(buf, len, 0, FLASH_MAGIC, FLASH_MAGIC_LEN)) {
        w = "tiercache";
        k = DEVICE_KIND_TIERCACHE;
    } else {
        for (size_t i = 0; i < sizeof foreign_sigs / sizeof foreign_sigs[0]; i++) {
            if (at(buf, len, foreign_sigs[i].off, foreign_sigs[i].sig, foreign_sigs[i].n)) {
                w = foreign_sigs[i].what;
                k = DEVICE_KIND_FOREIGN;
                break;
            }
        }
        for (size_t i = 0; k == DEVICE_KIND_EMPTY && i < len; i++) {
            if (buf[i] != 0) {
                w = "non-zero data";
                k = DEVICE_KIND_FOREIGN;
            }
        }
    }
    if (what)
        *what = w;
    return k;
}

/* ---- helpers ---- */

/* Reads up to len bytes at off, stopping at end of file; *got = bytes read. */
static device_status_e read_upto(device_t *dev, void *buf, size_t len, uint64_t off,
                                 size_t *got, char *err, size_t errlen)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(dev->fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            flash_seterr(err, errlen, "%s: read of %zu bytes at %llu failed: %s", dev->path,
                   len - done, (unsigned long long)(off + done), strerror(errno));
            return DEVICE_EIO;
        }
        if (n == 0)
            break;
        done += (size_t)n;
        if (done % dev->block_size != 0) /* end of file inside a block */
            break;
    }
    *got = done;
    return DEVICE_OK;
}

/* Grows (if needed) and preallocates the locked regular file to size bytes:
 * fallocate on our own fd (the lock is held: nothing is preallocated before
 * it); a filesystem without fallocate gets glibc's posix_fallocate through
 * a second, buffered fd (its emulation writes, which O_DIRECT cannot). */
static device_status_e prealloc(device_t *dev, uint64_t size, char *err, size_t errlen)
{
    int rc = 0;
    if (fallocate(dev->fd, 0, 0, (off_t)size) != 0) {
        rc = errno;
        if (rc == EOPNOTSUPP || rc == ENOSYS) {
            int fd = open(dev->path, O_RDWR | O_CLOEXEC);
            if (fd < 0) {
                flash_seterr(err, errlen, "%s: cannot open for preallocation: %s", dev->path,
                       strerror(errno));
                return DEVICE_EOPEN;
            }
            rc = posix_fallocate(fd, 0, (off_t)size);
            close(fd);
        }
    }
    if (rc == 0)
        return DEVICE_OK;
    if (rc == ENOSPC || rc == EDQUOT) {
        flash_seterr(err, errlen, "%s: not enough space to preallocate %llu bytes: %s", dev->path,
               (unsigned long long)size, strerror(rc));
        return DEVICE_ENOSPC;
    }
    flash_seterr(err, errlen, "%s: cannot preallocate %llu bytes: %s", dev->path,
           (unsigned long long)size, strerror(rc));
    return DEVICE_EPREALLOC;
}

/* Logical block size of a regular file opened O_DIRECT: 512 if a 512-byte
 * read into a 512- (not 4096-) aligned buffer works, else 4096. */
static device_status_e file_block_size(device_t *dev, char *err, size_t errlen)
{
    uint8_t *buf = device_buf_alloc(2 * DEVICE_BUF_ALIGN);
    if (!buf) {
        flash_seterr(err, errlen, "%s: out of memory", dev->path);
        return DEVICE_ENOMEM;
    }
    static const uint32_t sizes[] = { 512, 4096 };
    device_status_e st = DEVICE_ENODIRECT;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        ssize_t n;
        do {
            n = pread(dev->fd, buf + sizes[i], sizes[i], 0);
        } while (n < 0 && errno == EINTR);
        if (n >= 0) {
            dev->block_size = sizes[i];
            st = DEVICE_OK;
            break;
        }
        if (errno != EINVAL) {
            flash_seterr(err, errlen, "%s: test read failed: %s", dev->path, strerror(errno));
            st = DEVICE_EIO;
            break;
        }
    }
    if (st == DEVICE_ENODIRECT)
        flash_seterr(err, errlen, "%s: O_DIRECT reads fail with EINVAL at 512 and 4096 bytes",
               dev->path);
    device_buf_free(buf);
    return st;
}

/* ---- probe ---- */

/* Offset of the first non-zero byte of buf[0, len), or len. */
static size_t first_nonzero(const uint8_t *buf, size_t len)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) { /* buf is 4096-aligned */
        uint64_t w;
        memcpy(&w, buf + i, 8);
        if (w != 0)
            break;
    }
    for (; i < len; i++)
        if (buf[i] != 0)
            return i;
    return len;
}

/* Reads [off, end) (clamped at end of file) in chunks of buf's cap bytes;
 * *nz = offset of the first non-zero byte, or UINT64_MAX. off and end are
 * rounded out to the block size. */
static device_status_e scan_range(device_t *dev, uint8_t *buf, size_t cap, uint64_t off,
                                  uint64_t end, uint64_t *nz, char *err, size_t errlen)
{
    uint32_t a = dev->block_size;
    off = off / a * a;
    end = (end + a - 1) / a * a;
    while (off < end) {
        size_t len = end - off < cap ? (size_t)(end - off) : cap;
        size_t got = 0;
        device_status_e st = read_upto(dev, buf, len, off, &got, err, errlen);
        if (st != DEVICE_OK)
            return st;
        size_t i = first_nonzero(buf, got);
        if (i < got) {
            *nz = off + i;
            return DEVICE_OK;
        }
        if (got < len)
            break; /* end of file */
        off += got;
    }
    *nz = UINT64_MAX;
    return DEVICE_OK;
}

/* The data extents of a regular file from `from` to its end: holes (and
 * unwritten preallocated extents, which ext4, tmpfs and xfs report as
 * holes) are skipped without IO. A filesystem without SEEK_DATA answers as if
 * the whole file were data: then all of it is read. */
static device_status_e scan_file(device_t *dev, uint8_t *buf, size_t cap, uint64_t from,
                                 uint64_t *nz, char *err, size_t errlen)
{
    uint64_t end = dev->file_size, off = from;
    *nz = UINT64_MAX;
    while (off < end) {
        off_t d = lseek(dev->fd, (off_t)off, SEEK_DATA);
        off_t h;
        if (d < 0 && errno == ENXIO)
            break; /* only a hole from off to the end */
        if (d < 0) {
            d = (off_t)off; /* no SEEK_DATA here: read the rest */
            h = (off_t)end;
        } else {
            h = lseek(dev->fd, d, SEEK_HOLE);
            if (h < 0 || (uint64_t)h > end)
                h = (off_t)end;
        }
        if ((uint64_t)d >= end)
            break;
        device_status_e st = scan_range(dev, buf, cap, (uint64_t)d, (uint64_t)h, nz, err, errlen);
        if (st != DEVICE_OK || *nz != UINT64_MAX)
            return st;
        if ((uint64_t)h <= off)
            break; /* cannot happen; never loop */
        off = (uint64_t)h;
    }
    return DEVICE_OK;
}

device_status_e device_probe(device_t *dev, device_kind_e *kind, const char **what,
                             char *err, size_t errlen)
{
    if (!dev || !kind)
        return DEVICE_EINVAL;
    uint64_t window = DEVICE_PROBE_BYTES;
    if (dev->size < window)
        window = dev->size;
    if (!dev->blockdev && dev->file_size < window) /* short file: read to EOF */
        window = (dev->file_size + dev->block_size - 1) / dev->block_size * dev->block_size;
    uint8_t *buf = device_buf_alloc(DEVICE_SCAN_CHUNK);
    if (!buf) {
        flash_seterr(err, errlen, "%s: out of memory", dev->path);
        return DEVICE_ENOMEM;
    }
    size_t got = 0;
    device_status_e st = window ? read_upto(dev, buf, (size_t)window, 0, &got, err, errlen)
                                : DEVICE_OK;
    const char *w = "empty";
    device_kind_e k = DEVICE_KIND_EMPTY;
    if (st == DEVICE_OK)
        k = device_classify(buf, got, &w);
    dev->has_sb = false;
    if (st == DEVICE_OK && k == DEVICE_KIND_TIERCACHE) {
        flash_sb_status_e ss = flash_sb_decode(buf, got, &dev->sb);
        if (ss == FLASH_SB_OK) {
            dev->has_sb = true;
        } else if (flash_sb_old_version(buf, got) != 0) {
            k = DEVICE_KIND_OLD;
            snprintf(dev->what_buf, sizeof dev->what_buf, "tiercache flash data of format %u "
                     "(an earlier tiercache, which kept nothing across restarts)",
                     flash_sb_old_version(buf, got));
            w = dev->what_buf;
        } else {
            k = DEVICE_KIND_DAMAGED;
            if (ss == FLASH_SB_EVERSION && got >= 20)
                snprintf(dev->what_buf, sizeof dev->what_buf, "damaged or foreign tiercache "
                         "superblock (format version %u; this build reads %u)",
                         fl_get_u32(buf + 16), FLASH_FORMAT_VERSION);
            else
                snprintf(dev->what_buf, sizeof dev->what_buf, "damaged tiercache "
                         "superblock (%s)", flash_sb_strerror(ss));
            w = dev->what_buf;
        }
    } else if (st == DEVICE_OK && k == DEVICE_KIND_EMPTY) {
        uint64_t nz = UINT64_MAX;
        if (!dev->blockdev) {
            st = scan_file(dev, buf, DEVICE_SCAN_CHUNK, got, &nz, err, errlen);
        } else if (dev->file_size > window) {
            uint64_t from = dev->file_size > DEVICE_SCAN_CHUNK ? dev->file_size - DEVICE_SCAN_CHUNK : 0;
            if (from < window)
                from = window;
            st = scan_range(dev, buf, DEVICE_SCAN_CHUNK, from, dev->file_size, &nz, err, errlen);
        }
        if (st == DEVICE_OK && nz != UINT64_MAX) {
            k = DEVICE_KIND_FOREIGN;
            snprintf(dev->what_buf, sizeof dev->what_buf, "non-zero data at byte %llu",
                     (unsigned long long)nz);
            w = dev->what_buf;
        }
    }
    if (st == DEVICE_OK) {
        dev->kind = k;
        dev->what = w;
        *kind = k;
        if (what)
            *what = w;
    }
    device_buf_free(buf);
    return st;
}

/* ---- open / close ---- */

/* The PID holding a lock on the file (from /proc/locks), or 0. */
static long lock_holder(int fd)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return 0;
    FILE *f = fopen("/proc/locks", "re");
    if (!f)
        return 0;
    char line[256];
    long pid = 0;
    while (!pid && fgets(line, sizeof line, f)) {
        char type[16], mode[16];
        long p;
        unsigned maj, min;
        unsigned long long ino;
        /* "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF"; waiters ("->")
         * do not match the pattern */
        if (sscanf(line, "%*d: %15s %*s %15s %ld %x:%x:%llu", type, mode, &p, &maj, &min,
                   &ino) == 6 &&
            ino == (unsigned long long)sb.st_ino && maj == major(sb.st_dev) &&
            min == minor(sb.st_dev) && p > 0)
            pid = p;
    }
    fclose(f);
    return pid;
}

/* Opens (creating if absent) and takes the exclusive hold; nothing is
 * written before the hold is ours. */
static device_status_e open_hold(device_t *dev, uint64_t size, char *err, size_t errlen)
{
    const char *path = dev->path;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno != ENOENT) {
            flash_seterr(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
            return DEVICE_EOPEN;
        }
        if (size == 0) {
            flash_seterr(err, errlen, "%s: does not exist and no size was given to create it", path);
            return DEVICE_EBADSIZE;
        }
        dev->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (dev->fd < 0) {
            flash_seterr(err, errlen, "%s: cannot create: %s", path, strerror(errno));
            return DEVICE_EOPEN;
        }
        dev->created = true;
    } else if (S_ISDIR(sb.st_mode)) {
        flash_seterr(err, errlen, "%s: is a directory, not a file or block device", path);
        return DEVICE_ENOTSUP;
    } else if (!S_ISREG(sb.st_mode) && !S_ISBLK(sb.st_mode)) {
        flash_seterr(err, errlen, "%s: not a regular file or block device", path);
        return DEVICE_ENOTSUP;
    } else if (S_ISBLK(sb.st_mode)) {
        dev->blockdev = true;
        dev->fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC | O_EXCL);
        if (dev->fd < 0 && errno == EBUSY) {
            flash_seterr(err, errlen, "%s: block device in use (mounted, or opened exclusively "
                   "by another process such as another tiercache server); not touching it",
                   path);
            return DEVICE_EBUSY;
        }
        if (dev->fd < 0) {
            flash_seterr(err, errlen, "%s: cannot open O_DIRECT read-write: %s", path,
                   strerror(errno));
            return DEVICE_EOPEN;
        }
        return DEVICE_OK; /* O_EXCL is the hold */
    } else {
        dev->fd = open(path, O_RDWR | O_CLOEXEC);
        if (dev->fd < 0) {
            flash_seterr(err, errlen, "%s: cannot open read-write: %s", path, strerror(errno));
            return DEVICE_EOPEN;
        }
    }
    int rc;
    do {
        rc = flock(dev->fd, LOCK_EX | LOCK_NB);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0 && errno == EWOULDBLOCK) {
        long pid = lock_holder(dev->fd);
        char who[48] = "another process";
        if (pid > 0)
            snprintf(who, sizeof who, "another process (PID %ld)", pid);
        flash_seterr(err, errlen, "%s: in use: locked by %s, probably another tiercache server "
               "with the same flash path; not touching it", path, who);
        dev->created = false; /* its holder uses it: never unlink it */
        return DEVICE_EBUSY;
    }
    if (rc != 0) {
        flash_seterr(err, errlen, "%s: cannot lock: %s", path, strerror(errno));
        return DEVICE_EOPEN;
    }
    if (fstat(dev->fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        flash_seterr(err, errlen, "%s: changed while being opened (not a regular file now)", path);
        return DEVICE_ENOTSUP;
    }
    dev->file_size = (uint64_t)sb.st_size;
    int fl = fcntl(dev->fd, F_GETFL);
    if (fl < 0 || fcntl(dev->fd, F_SETFL, fl | O_DIRECT) != 0) {
        if (errno == EINVAL) {
            flash_seterr(err, errlen, "%s: the filesystem refuses O_DIRECT (tmpfs?); "
                   "put the flash file on a disk filesystem or use a block device", path);
            return DEVICE_ENODIRECT;
        }
        flash_seterr(err, errlen, "%s: cannot set O_DIRECT: %s", path, strerror(errno));
        return DEVICE_EOPEN;
    }
    return DEVICE_OK;
}

static device_status_e do_open(device_t *dev, uint64_t size, char *err, size_t errlen)
{
    const char *path = dev->path;
    device_status_e st = open_hold(dev, size, err, errlen);
    if (st != DEVICE_OK)
        return st;
    bool fresh = false; /* created, or zero-length: EMPTY without a probe */

    if (dev->blockdev) {
        int lbs = 0;
        uint64_t bytes = 0;
        if (ioctl(dev->fd, BLKSSZGET, &lbs) != 0 || ioctl(dev->fd, BLKGETSIZE64, &bytes) != 0) {
            flash_seterr(err, errlen, "%s: cannot read block device geometry: %s", path,
                   strerror(errno));
            return DEVICE_EOPEN;
        }
        if (lbs < 512 || lbs > DEVICE_BUF_ALIGN || (lbs & (lbs - 1)) != 0) {
            flash_seterr(err, errlen, "%s: unsupported logical block size %d", path, lbs);
            return DEVICE_ENOTSUP;
        }
        dev->block_size = (uint32_t)lbs;
        uint64_t usable = bytes / DEVICE_SIZE_ALIGN * DEVICE_SIZE_ALIGN;
        if (size > usable) {
            flash_seterr(err, errlen, "%s: size %llu is larger than the device (%llu bytes)", path,
                   (unsigned long long)size, (unsigned long long)bytes);
            return DEVICE_ETOOBIG;
        }
        dev->size = size ? size : usable;
        dev->file_size = bytes;
    } else {
        fresh = dev->created || dev->file_size == 0;
        if (fresh && size) {
            /* empty by definition; allocate first so the O_DIRECT test read
             * below is not answered by "end of file" before the alignment
             * check */
            st = prealloc(dev, size, err, errlen);
            if (st != DEVICE_OK)
                return st;
            dev->file_size = size;
        }
        st = file_block_size(dev, err, errlen);
        if (st != DEVICE_OK)
            return st;
        dev->size = size ? size : dev->file_size / DEVICE_SIZE_ALIGN * DEVICE_SIZE_ALIGN;
        if (fresh) {
            dev->kind = DEVICE_KIND_EMPTY;
            dev->what = "empty";
        }
    }
    if (dev->size == 0) {
        flash_seterr(err, errlen, "%s: empty and no size was given", path);
        return DEVICE_EBADSIZE;
    }
    if (!fresh) {
        st = device_probe(dev, &dev->kind, &dev->what, err, errlen);
        if (st != DEVICE_OK)
            return st;
    }
    /* Preallocate (fills holes of a sparse file too) unless not ours to touch. */
    if (!dev->blockdev && !dev->created &&
        (dev->kind == DEVICE_KIND_EMPTY || dev->kind == DEVICE_KIND_TIERCACHE)) {
        st = prealloc(dev, dev->size, err, errlen);
        if (st != DEVICE_OK)
            return st;
        if (dev->file_size < dev->size)
            dev->file_size = dev->size;
    }
    return DEVICE_OK;
}

device_status_e device_open(device_t **out, const char *path, uint64_t size,
                            char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out || !path || !*path) {
        flash_seterr(err, errlen, "%s: invalid arguments", path ? path : "(null)");
        return DEVICE_EINVAL;
    }
    if (size % DEVICE_SIZE_ALIGN != 0) {
        flash_seterr(err, errlen, "%s: size %llu is not a multiple of %d", path,
               (unsigned long long)size, DEVICE_SIZE_ALIGN);
        return DEVICE_EBADSIZE;
    }
    device_t *dev = calloc(1, sizeof *dev);
    char *p = strdup(path);
    if (!dev || !p) {
        free(dev);
        free(p);
        flash_seterr(err, errlen, "%s: out of memory", path);
        return DEVICE_ENOMEM;
    }
    dev->fd = -1;
    dev->path = p;
    device_status_e st = do_open(dev, size, err, errlen);
    if (st != DEVICE_OK) {
        device_discard(&dev);
        return st;
    }
    *out = dev;
    return DEVICE_OK;
}

void device_close(device_t **pdev)
{
    if (!pdev || !*pdev)
        return;
    device_t *dev = *pdev;
    if (dev->fd >= 0)
        close(dev->fd);
    free(dev->path);
    free(dev);
    *pdev = NULL;
}

void device_discard(device_t **pdev)
{
    if (!pdev || !*pdev)
        return;
    device_t *dev = *pdev;
    if (dev->created && dev->fd >= 0) {
        /* unlink while still holding the lock, and only the file we made */
        struct stat a, b;
        if (fstat(dev->fd, &a) == 0 && stat(dev->path, &b) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino)
            unlink(dev->path);
    }
    device_close(pdev);
}

device_status_e device_reset(device_t *dev, char *err, size_t errlen)
{
    if (!dev)
        return DEVICE_EINVAL;
    device_status_e st;
    if (!dev->blockdev) {
        st = prealloc(dev, dev->size, err, errlen);
        if (st != DEVICE_OK)
            return st;
        if (dev->file_size < dev->size)
            dev->file_size = dev->size;
    }
    size_t window = DEVICE_PROBE_BYTES;
    if (dev->size < window)
        window = (size_t)dev->size;
    void *zero = device_buf_alloc(window);
    if (!zero) {
        flash_seterr(err, errlen, "%s: out of memory", dev->path);
        return DEVICE_ENOMEM;
    }
    st = device_pwrite(dev, zero, window, 0, err, errlen);
    device_buf_free(zero);
    if (st != DEVICE_OK)
        return st;
    dev->kind = DEVICE_KIND_EMPTY;
    dev->what = "empty";
    dev->has_sb = false;
    return DEVICE_OK;
}

/* ---- synchronous IO ---- */

static device_status_e check_io(device_t *dev, const void *buf, size_t len, uint64_t off,
                                const char *op, char *err, size_t errlen)
{
    uint32_t a = dev->block_size;
    if (!buf || len == 0) {
        flash_seterr(err, errlen, "%s: %s: no buffer or zero length", dev->path, op);
        return DEVICE_EINVAL;
    }
    if ((uintptr_t)buf % a || len % a || off % a) {
        flash_seterr(err, errlen, "%s: %s of %zu bytes at %llu: buffer, length or offset "
               "not aligned to %u", dev->path, op, len, (unsigned long long)off, a);
        return DEVICE_EALIGN;
    }
    if (off > dev->size || len > dev->size - off) {
        flash_seterr(err, errlen, "%s: %s of %zu bytes at %llu is beyond the device size %llu",
               dev->path, op, len, (unsigned long long)off, (unsigned long long)dev->size);
        return DEVICE_ERANGE;
    }
    return DEVICE_OK;
}

device_status_e device_pread(device_t *dev, void *buf, size_t len, uint64_t off,
                             char *err, size_t errlen)
{
    if (!dev)
        return DEVICE_EINVAL;
    device_status_e st = check_io(dev, buf, len, off, "read", err, errlen);
    if (st != DEVICE_OK)
        return st;
    size_t got = 0;
    st = read_upto(dev, buf, len, off, &got, err, errlen);
    if (st == DEVICE_OK && got < len) {
        flash_seterr(err, errlen, "%s: read of %zu bytes at %llu: end of file after %zu",
               dev->path, len, (unsigned long long)off, got);
        st = DEVICE_ESHORT;
    }
    return st;
}

device_status_e device_pwrite(device_t *dev, const void *buf, size_t len, uint64_t off,
                              char *err, size_t errlen)
{
    if (!dev)
        return DEVICE_EINVAL;
    device_status_e st = check_io(dev, buf, len, off, "write", err, errlen);
    if (st != DEVICE_OK)
        return st;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(dev->fd, (const char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (size_t)n % dev->block_size != 0) {
            flash_seterr(err, errlen, "%s: write of %zu bytes at %llu failed: %s", dev->path,
                   len - done, (unsigned long long)(off + done),
                   n < 0 ? strerror(errno) : "short write");
            return DEVICE_EIO;
        }
        done += (size_t)n;
    }
    return DEVICE_OK;
}

/* ---- accessors ---- */

int device_fd(const device_t *dev) { return dev->fd; }
const char *device_path(const device_t *dev) { return dev->path; }
uint64_t device_size(const device_t *dev) { return dev->size; }
uint32_t device_block_size(const device_t *dev) { return dev->block_size; }
bool device_is_blockdev(const device_t *dev) { return dev->blockdev; }
bool device_created(const device_t *dev) { return dev->created; }
device_kind_e device_kind(const device_t *dev) { return dev->kind; }
const char *device_kind_what(const device_t *dev) { return dev->what; }

bool device_superblock(const device_t *dev, flash_sb_t *out)
{
    if (!dev->has_sb || dev->kind != DEVICE_KIND_TIERCACHE)
        return false;
    *out = dev->sb;
    return true;
}

const char *device_strerror(device_status_e st)
{
    switch (st) {
    case DEVICE_OK: return "ok";
    case DEVICE_EINVAL: return "invalid argument";
    case DEVICE_EBADSIZE: return "bad size";
    case DEVICE_ETOOBIG: return "size larger than the device";
    case DEVICE_ENOTSUP: return "not a regular file or block device";
    case DEVICE_EOPEN: return "cannot open";
    case DEVICE_ENOSPC: return "no space to preallocate";
    case DEVICE_EPREALLOC: return "preallocation failed";
    case DEVICE_ENODIRECT: return "O_DIRECT not supported";
    case DEVICE_EALIGN: return "unaligned IO";
    case DEVICE_ERANGE: return "IO beyond the device size";
    case DEVICE_EIO: return "IO error";
    case DEVICE_ESHORT: return "short read (end of file)";
    case DEVICE_ENOMEM: return "out of memory";
    case DEVICE_EBUSY: return "in use by another process";
    }
    return "unknown device status";
}

const char *device_kind_name(device_kind_e kind)
{
    switch (kind) {
    case DEVICE_KIND_EMPTY: return "empty";
    case DEVICE_KIND_TIERCACHE: return "tiercache";
    case DEVICE_KIND_FOREIGN: return "foreign";
    case DEVICE_KIND_DAMAGED: return "damaged";
    case DEVICE_KIND_OLD: return "tiercache-old";
    }
    return "unknown";
}
