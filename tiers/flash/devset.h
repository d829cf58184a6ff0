/*
 * tiers/flash/devset.h - the flash device SET: one or more files / block
 * devices (members) presented to the store as the one address space it has
 * always used (format.h DEVICE SET): RAID-0 with a stripe unit of one
 * segment.
 *
 *   - the header area (everything below data_offset: superblock, state
 *     record, dictionary slots) is member 0's;
 *   - segment i lives on member (i mod D) at data_offset + (i / D) *
 *     segment_size of that member, so the ring, which opens segments in id
 *     order, alternates members: consecutive segment writes, reclaim reads
 *     and hit reads go to all members at once.
 * With one member the mapping is the identity (every format-4 file reads
 * as before).
 *
 * Members of different sizes: every member uses the smallest member's size
 * (devset_member_size); devset_unused() says how many bytes that leaves
 * unused, for a log line.
 *
 * Failure: a member is FAILED once an IO on it fails (devset_pread/pwrite
 * mark it themselves; the store marks it for aio errors: devset_fail). A
 * failed member is never read or written again in this run: devset_pread/
 * pwrite/map refuse ranges on it (DEVICE_EIO), the others keep working.
 * The fail callback (devset_set_fail_cb) runs once per member, on the
 * thread that saw the error. A set of ONE member never marks it failed:
 * the store handles its errors as it always has (each IO fails on its own;
 * enqueue pauses after a write error, FLASH_FAIL_HOLD_MS).
 *
 * Threads: open/close/layout/order need exclusive use; IO, map, failed and
 * the accessors may be called from any thread (the failed flags are
 * atomic).
 */
#ifndef TIERCACHE_FLASH_DEVSET_H
#define TIERCACHE_FLASH_DEVSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flash/device.h"

/* At most this many members (the superblock's member count field allows
 * more; 16 covers every box this was written for). */
#define DEVSET_MAX 16
/* Paths are separated by this in the settings' path string. */
#define DEVSET_SEP ','

typedef struct devset devset_t;

/* Called once per member when it fails: member index, its path, why. */
typedef void (*devset_fail_fn)(void *ctx, unsigned member, const char *path,
                               const char *why);

/*
 * devset_open: opens every member named in `paths` (DEVSET_SEP-separated,
 * empty items refused, at most DEVSET_MAX, no path twice) with
 * device_open(path, size): each is created if absent and held exclusively
 * (flock / O_EXCL). All or nothing: on failure every member opened so far is
 * discarded (device_discard: only files this call created are removed) and
 * err names the member that failed. The layout is that of one member until
 * devset_layout is called.
 */
device_status_e devset_open(devset_t **out, const char *paths, uint64_t size,
                            char *err, size_t errlen);

/* devset_close: closes every member; *set = NULL; NULL-safe. */
void devset_close(devset_t **set);
/* devset_discard: as device_discard for every member (files this open
 * created are removed), then frees; NULL-safe. */
void devset_discard(devset_t **set);

/* Number of members D. */
unsigned devset_count(const devset_t *set);
/* Member i (i < D, in the current order). */
device_t *devset_member(const devset_t *set, unsigned i);
/* The largest member block size: the set's alignment unit. */
uint32_t devset_block_size(const devset_t *set);
/* The smallest member size: what every member uses. */
uint64_t devset_member_size(const devset_t *set);
/* Bytes of the members beyond devset_member_size (unused), summed. */
uint64_t devset_unused(const devset_t *set);
/* True if any member was created by this open. */
bool devset_created(const devset_t *set);

/*
 * devset_logical_size: the size of the address space the store sees for
 * segments of segment_size bytes above data_offset: with one member the
 * member's size (so an existing file's superblock matches as before); with
 * D > 1, data_offset + D * k * segment_size where k = the segments one
 * member holds. 0 if a member cannot hold one segment.
 */
uint64_t devset_logical_size(const devset_t *set, uint64_t data_offset,
                             uint32_t segment_size);

/* devset_layout: from now on offsets >= data_offset are striped by
 * segment_size (see the top). Call once the geometry is known (format or
 * adopt). */
void devset_layout(devset_t *set, uint64_t data_offset, uint32_t segment_size);

/*
 * devset_order: reorders the members: new member i = old member perm[i]
 * (perm a permutation of 0..D-1; false and nothing changed otherwise).
 * Used when the paths were given in another order than the superblocks
 * record.
 */
bool devset_order(devset_t *set, const unsigned *perm);

/* Member index holding logical offset off (0 for the header area). */
unsigned devset_member_of(const devset_t *set, uint64_t off);
/* Member index holding segment seg. */
unsigned devset_member_of_seg(const devset_t *set, uint32_t seg);

/*
 * devset_map: for aio: the member fd and physical offset of the logical
 * range [off, off + len), which must lie in one stripe (a segment, or the
 * header area). False if it crosses a stripe boundary, lies beyond the
 * set, or its member failed.
 */
bool devset_map(const devset_t *set, uint64_t off, size_t len, int *fd, uint64_t *phys);

/*
 * devset_pread / devset_pwrite: as device_pread/pwrite on the logical
 * range, split at stripe boundaries (a live map spans consecutive segment
 * slots, which lie on alternating members). A range on a failed member is
 * DEVICE_EIO without IO; an IO error or short read marks its member failed
 * (the fail callback runs) and is returned. Work: one device IO per stripe.
 */
device_status_e devset_pread(devset_t *set, void *buf, size_t len, uint64_t off,
                             char *err, size_t errlen);
device_status_e devset_pwrite(devset_t *set, const void *buf, size_t len, uint64_t off,
                              char *err, size_t errlen);

/* devset_sync: fdatasync every member that has not failed; false (errno
 * of the first failure kept) if one fails, which marks it failed. */
bool devset_sync(devset_t *set, char *err, size_t errlen);

/* Failure (see the top). devset_fail marks member m failed and returns
 * true the first time (the callback runs then). */
bool devset_fail(devset_t *set, unsigned m, const char *why);
bool devset_failed(const devset_t *set, unsigned m);
unsigned devset_nfailed(const devset_t *set);
void devset_set_fail_cb(devset_t *set, devset_fail_fn fn, void *ctx);

#endif /* TIERCACHE_FLASH_DEVSET_H */
