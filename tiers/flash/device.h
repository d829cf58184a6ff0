/*
 * tiers/flash/device.h - the flash file or block device: open O_DIRECT,
 * hold it exclusively, classify what is on it, preallocate, alignment,
 * synchronous IO helpers.
 *
 * device_open() takes a path and works in this order, so that a path it may
 * not use is never written, truncated or preallocated:
 *   1. open: an absent path is created (mode 0600, O_EXCL); a regular file or
 *      a block device is opened read-write (anything else is ENOTSUP).
 *   2. hold: a regular file is locked with flock(LOCK_EX | LOCK_NB), held as
 *      long as the fd is open (released by device_close or the process's
 *      death, never by another fd of the file being closed); a block device
 *      is opened O_EXCL, which Linux makes exclusive against other O_EXCL
 *      opens and mounts. Either refusal is DEVICE_EBUSY, naming the path
 *      (and, for a file, the PID holding the lock when /proc/locks shows it).
 *   3. size and O_DIRECT; a file this call created (or an empty one) is
 *      preallocated to `size` (fallocate; ENOSPC is DEVICE_ENOSPC).
 *   4. probe (device_kind()): EMPTY, TIERCACHE (a valid superblock, decoded:
 *      device_superblock()), DAMAGED (FLASH_MAGIC at 0 but the superblock
 *      fails its checksum or fields) or FOREIGN (anything else; named when a
 *      filesystem, partition table, swap or LUKS signature is found).
 *      A regular file is EMPTY only if it holds no non-zero byte ANYWHERE:
 *      after the first DEVICE_PROBE_BYTES, its data extents are read in
 *      DEVICE_SCAN_CHUNK pieces; SEEK_DATA / SEEK_HOLE skip holes and the
 *      unwritten extents of a preallocated file without IO (ext4 and tmpfs
 *      on Linux 6.18 report fallocated, never written ranges as holes:
 *      measured; xfs reports unwritten extents the same way through iomap).
 *      A block device has no holes and may hold terabytes, so it is probed
 *      at both ends only (device_probe).
 *   5. a regular file that is EMPTY or TIERCACHE is grown and preallocated
 *      to `size` if shorter (size 0 = its length); a FOREIGN or DAMAGED one
 *      is not changed until device_reset().
 * The caller refuses FOREIGN and DAMAGED unless told to reset them.
 *
 * Every open ends O_DIRECT|O_RDWR|O_CLOEXEC. A filesystem that refuses
 * O_DIRECT is DEVICE_ENODIRECT: there is no silent fallback to buffered IO.
 * Alignment: device_block_size() (logical block size) for offsets, lengths
 * and buffer addresses: BLKSSZGET for block devices; for files 512 if an
 * O_DIRECT read of 512 bytes at a 512-aligned address works, else 4096.
 *
 * Errors: every function that can fail returns a device_status_e and, when
 * err is not NULL, writes a message naming the path into err[errlen].
 * A device_t is not locked: fd/size/block size are immutable after open and
 * may be read from any thread; device_pread/pwrite may be called from several
 * threads (pread/pwrite are positional); device_reset and device_close need
 * exclusive use.
 */
#ifndef TIERCACHE_FLASH_DEVICE_H
#define TIERCACHE_FLASH_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flash/superblock.h"

/* All buffers handed to O_DIRECT IO are aligned to this. */
#define DEVICE_BUF_ALIGN 4096
/* device_probe() reads this much from offset 0 (covers btrfs at 65600). */
#define DEVICE_PROBE_BYTES (68 * 1024)
/* The deep probe of a regular file reads its data extents in pieces of
 * this size; a block device's probe also reads this much at its end. */
#define DEVICE_SCAN_CHUNK (1024 * 1024)
/* Sizes must be a multiple of this. */
#define DEVICE_SIZE_ALIGN 4096

typedef struct device device_t;

typedef enum device_status {
    DEVICE_OK = 0,
    DEVICE_EINVAL,     /* bad argument */
    DEVICE_EBADSIZE,   /* size 0 for a new file, not a multiple of 4096, too small */
    DEVICE_ETOOBIG,    /* size larger than the block device */
    DEVICE_ENOTSUP,    /* not a regular file or a block device (e.g. a directory) */
    DEVICE_EOPEN,      /* open/create/stat failed (errno in the message) */
    DEVICE_ENOSPC,     /* preallocation: no space left (ENOSPC, EDQUOT) */
    DEVICE_EPREALLOC,  /* preallocation failed otherwise (EFBIG, ...) */
    DEVICE_ENODIRECT,  /* the filesystem refuses O_DIRECT (e.g. old tmpfs) */
    DEVICE_EALIGN,     /* IO buffer, offset or length not aligned */
    DEVICE_ERANGE,     /* IO beyond the device's size */
    DEVICE_EIO,        /* read/write failed (errno in the message) */
    DEVICE_ESHORT,     /* read hit end of file before len bytes */
    DEVICE_ENOMEM,
    DEVICE_EBUSY,      /* held by another process (file lock, O_EXCL device) */
} device_status_e;

typedef enum device_kind {
    DEVICE_KIND_EMPTY = 0,   /* zero-length, or only zeros where probed */
    DEVICE_KIND_TIERCACHE,   /* a valid tiercache superblock at 0 */
    DEVICE_KIND_FOREIGN,     /* anything else: refuse unless reset */
    DEVICE_KIND_DAMAGED,     /* FLASH_MAGIC at 0, but the superblock fails its
                                checksum or fields: refuse unless reset */
    DEVICE_KIND_OLD,         /* an intact superblock of an earlier format
                                (flash_sb_old_version): its data was never
                                kept across restarts: reinitialised */
} device_kind_e;

/*
 * device_open: open (creating if absent) the flash path; see the top of this
 * file. size: bytes to use (multiple of 4096; 0 = the existing file's length
 * or the whole block device). On DEVICE_OK *out is the device (caller owns
 * it: device_close), held exclusively until closed. On failure *out is
 * untouched, nothing is left open, a file created by this call is unlinked
 * (and only such a file), and err says why, naming the path.
 * Work: open, flock, fstat, ioctls, a preallocation (fast on extent
 * filesystems), the probe (device_probe).
 */
device_status_e device_open(device_t **out, const char *path, uint64_t size,
                            char *err, size_t errlen);

/* device_close: close (releasing the hold) and free; *dev = NULL. NULL or
 * *dev NULL: no-op. Does not fsync (O_DIRECT writes are not cached by the
 * page cache). */
void device_close(device_t **dev);

/* device_discard: for a start that failed after device_open: as
 * device_close, and if that open created the file (device_created) it is
 * unlinked, after checking that the path still names the same file. A file
 * that existed before the open is never removed. NULL-safe. */
void device_discard(device_t **dev);

/*
 * device_probe: re-probe and classify the device (device_open did it once:
 * device_kind()); also updates device_kind() and device_superblock().
 *   - the first DEVICE_PROBE_BYTES: device_classify(); FLASH_MAGIC there is
 *     TIERCACHE if the superblock decodes (flash_sb_decode), else DAMAGED;
 *   - if that window is all zeros, a regular file is read on to its end,
 *     skipping holes (SEEK_DATA / SEEK_HOLE), and any non-zero byte makes it
 *     FOREIGN ("non-zero data at byte N"); a block device is read only in
 *     its last DEVICE_SCAN_CHUNK bytes, where GPT's backup header and the
 *     md 1.0, ZFS and some RAID metadata live. A whole block device is
 *     not read: it has no holes, so that would take hours on a large one;
 *     the O_EXCL open already refuses a mounted or claimed device.
 * *what (may be NULL) gets a description ("empty", "tiercache", "ext2/3/4
 * filesystem", "non-zero data at byte 1048576", "damaged tiercache
 * superblock (...)"), valid until the next probe / reset / close.
 * Fails with DEVICE_EIO/ENOMEM. Work: reads as above; a fully allocated
 * all-zero file is read whole (on a filesystem without SEEK_DATA too).
 */
device_status_e device_probe(device_t *dev, device_kind_e *kind, const char **what,
                             char *err, size_t errlen);

/*
 * device_classify: pure classification of the first len bytes of a device
 * (len may be short: a short file). FLASH_MAGIC at 0 is TIERCACHE; a known
 * signature (LUKS, XFS, btrfs, ext2/3/4, swap, GPT, MBR; checked for files
 * too, so a filesystem image gets a name) or any other non-zero byte is
 * FOREIGN; all zeros (or len 0) is EMPTY. *what as for device_probe.
 */
device_kind_e device_classify(const uint8_t *buf, size_t len, const char **what);

/*
 * device_reset: make a FOREIGN, DAMAGED (or any) device usable: zero the
 * probe window and, for a regular file shorter than the device size, grow
 * and preallocate it. Afterwards device_kind() is EMPTY (without a new deep
 * probe: old bytes further in stay, and the format ignores them). Destroys
 * whatever was there: the caller calls it only when the operator asked for
 * a reset.
 */
device_status_e device_reset(device_t *dev, char *err, size_t errlen);

/*
 * device_pread / device_pwrite: synchronous full-length IO for the
 * superblock and tests. buf, off and len must be multiples of
 * device_block_size() (buf: address), and off + len <= device_size().
 * Loops over short transfers and EINTR. A read that meets end of file is
 * DEVICE_ESHORT. Work: one or more pread/pwrite syscalls; blocks the caller.
 */
device_status_e device_pread(device_t *dev, void *buf, size_t len, uint64_t off,
                             char *err, size_t errlen);
device_status_e device_pwrite(device_t *dev, const void *buf, size_t len, uint64_t off,
                              char *err, size_t errlen);

/* device_buf_alloc: a zeroed buffer of len bytes rounded up to 4096, aligned
 * to DEVICE_BUF_ALIGN; NULL on failure or len 0. Free with device_buf_free. */
void *device_buf_alloc(size_t len);
void device_buf_free(void *buf);

/* Accessors (immutable after open). */
int device_fd(const device_t *dev);
const char *device_path(const device_t *dev);
uint64_t device_size(const device_t *dev);        /* bytes in use */
uint32_t device_block_size(const device_t *dev);  /* alignment unit */
bool device_is_blockdev(const device_t *dev);
bool device_created(const device_t *dev);         /* this open created the file */
device_kind_e device_kind(const device_t *dev);   /* as probed at open/reset */
const char *device_kind_what(const device_t *dev);
/* TIERCACHE: copies the decoded superblock to *out and returns true; any
 * other kind: false (*out untouched). */
bool device_superblock(const device_t *dev, flash_sb_t *out);

const char *device_strerror(device_status_e st);
const char *device_kind_name(device_kind_e kind);

#endif /* TIERCACHE_FLASH_DEVICE_H */
