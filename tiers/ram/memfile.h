/*
 * tiers/ram/memfile.h - memcached's -e (memory file) for a RAM-only cache:
 * every live RAM item saved to one file at a graceful stop and loaded back
 * at the next start (a warm restart).
 *
 * memcached 1.6 (measured with Debian's 1.6.18, see README.md) mmaps its
 * slab memory on the -e file and writes FILE.meta at a graceful stop
 * (SIGUSR1, `shutdown graceful`); SIGTERM, SIGINT, plain `shutdown` and a
 * kill -9 save nothing, and a start removes FILE.meta before serving, so a
 * crash of the new run never reuses it. tiercache keeps those rules but
 * writes a file of its own (no mmap): a header and one record per item,
 * checksummed, written whole to FILE.tmp, fdatasync'd, renamed over FILE,
 * the directory fsync'd. A start loads a valid FILE, then unlinks it (and
 * fsyncs the directory). A damaged, truncated or unsupported file is a
 * logged cold start, never a wrong value; a file that is not a tiercache
 * memory file at all (no magic) is refused: the server does not start.
 *
 * BYTE ORDER: every multi-byte integer is LITTLE-ENDIAN, unsigned, written
 * and read byte by byte (no struct is cast onto file bytes). Checksums are
 * XXH3_64bits (libxxhash). Times are unix seconds (wall clock).
 *
 * FILE LAYOUT
 *
 *   offset 0     header (MEMFILE_HDR_LEN = 128 bytes)
 *   offset 128   body: `item count` records back to back, no padding
 *   file size  = 128 + body length, exactly (anything else: damaged)
 *
 * HEADER
 *
 *   off  size  meaning
 *     0     8  magic MEMFILE_MAGIC "TCMEMFIL"
 *     8     4  format version (MEMFILE_VERSION = 1)
 *    12     4  header length in bytes (128)
 *    16     8  save time (unix s)
 *    24     8  max cas: the last cas unique the saving run handed out
 *              (the next run hands out only larger ones)
 *    32     8  flush_all oldest_cas (0 = none): memcached's rule, see
 *              ram_record_is_flushed()
 *    40     4  flush_all oldest_live (unix s, 0 = none; may lie in the
 *              future: a delayed flush_all, still in force after a restart)
 *    44     4  flags: bit 0 = cas was on in the saving run (not -C); other
 *              bits 0
 *    48     8  item count (records in the body)
 *    56     8  body length in bytes
 *    64     8  body checksum: XXH3_64bits of the body bytes
 *    72     8  -m of the saving run, bytes (informational)
 *    80     8  -I of the saving run, bytes (informational)
 *    88     8  process start time of the saving run (unix s; memcached's
 *              process_started: the next run keeps the earlier one, so
 *              `uptime` goes on counting across a warm restart, as
 *              memcached's does)
 *    96    24  reserved (0; ignored on read, covered by the checksum)
 *   120     8  header checksum: XXH3_64bits of bytes [0, 120)
 *
 * RECORD (MEMFILE_REC_FIXED = 28 bytes, then the key and the value)
 *
 *   off  size  meaning
 *     0     1  key length n (1 .. 250)
 *     1     1  state: bits 0-1 LRU list (0 HOT, 1 WARM, 2 COLD; 3 is
 *              invalid), bit 2 FETCHED, bit 3 ACTIVE, bits 4-7 zero
 *     2     1  meta marks (tier_types.h CACHE_MARK_*: STALE, TOKEN, BINKEY),
 *              bits 3-7 zero
 *     3     1  reserved (0)
 *     4     4  client flags
 *     8     4  value length v
 *    12     4  time: when the item was stored or last bumped (unix s;
 *              memcached's it->time: LRU age and the flush_all rule)
 *    16     4  exptime: absolute unix s, 0 = never
 *    20     8  cas unique (0 with -C)
 *    28     n  key
 *    28+n   v  value (no "\r\n")
 *
 * ORDER: records are written newest first: each slab class's HOT list head
 * to tail, then WARM, then COLD (COLD's tail is what evicts first), the
 * classes merged by `time`, newest first. A load allocates in file order
 * and never evicts, so with a smaller -m (or -I) the items that do not fit
 * are the oldest ones: dropped and counted. Each item goes back on the LRU
 * list it was on, in the same order.
 *
 * A loader checks the header (magic, version, length, checksum), the file
 * size, then reads the body twice: the first pass checks every record and
 * the body checksum without touching the cache; the second loads, checks
 * the checksum again and undoes the whole load if it differs (the file
 * changed underneath). So a damaged file loads nothing.
 */
#ifndef TIERCACHE_RAM_MEMFILE_H
#define TIERCACHE_RAM_MEMFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ram.h"

#define MEMFILE_MAGIC "TCMEMFIL" /* 8 bytes, no NUL on disk */
#define MEMFILE_MAGIC_LEN 8
#define MEMFILE_VERSION 1u
#define MEMFILE_HDR_LEN 128u
#define MEMFILE_REC_FIXED 28u
#define MEMFILE_F_CAS 0x1u

typedef enum memfile_status {
    MEMFILE_OK = 0,
    MEMFILE_NONE,        /* no file at the path: nothing saved */
    MEMFILE_FOREIGN,     /* not a tiercache memory file (no magic) */
    MEMFILE_DAMAGED,     /* bad checksum, length, size or record */
    MEMFILE_UNSUPPORTED, /* a format version this build cannot read */
    MEMFILE_EIO,         /* open/read/write/fsync/rename failed */
    MEMFILE_ENOMEM,
} memfile_status_e;

/* A static, human-readable name for a status. Never NULL. */
const char *memfile_strerror(memfile_status_e st);

/* ---- the codec (memfile_fmt.c): pure, no I/O ---- */

typedef struct memfile_header {
    uint32_t version;
    int64_t saved_at;
    uint64_t max_cas;
    uint64_t oldest_cas;
    uint32_t oldest_live;
    uint32_t flags;         /* MEMFILE_F_CAS */
    uint64_t items;
    uint64_t body_len;
    uint64_t body_hash;
    uint64_t mem_limit;
    uint64_t item_size_max;
    int64_t process_started;
} memfile_header_t;

/* Writes the 128 header bytes of *h (version forced to MEMFILE_VERSION,
 * reserved bytes zero, checksum computed). */
void memfile_header_encode(const memfile_header_t *h, unsigned char out[MEMFILE_HDR_LEN]);

/*
 * Reads a header from the first `len` bytes of a file. MEMFILE_OK and *h;
 * MEMFILE_FOREIGN when the magic is wrong (or len is shorter than the
 * magic and the bytes are not a prefix of it); MEMFILE_DAMAGED for a short
 * header, a wrong header length, a bad checksum or impossible counts
 * (more items than the body can hold); MEMFILE_UNSUPPORTED for another
 * version. Never reads past len.
 */
memfile_status_e memfile_header_decode(const unsigned char *buf, size_t len,
                                       memfile_header_t *h);

typedef struct memfile_rec {
    uint8_t nkey;
    uint8_t lru;      /* LRU_HOT, LRU_WARM or LRU_COLD */
    bool fetched;
    bool active;
    uint8_t marks;    /* CACHE_MARK_* */
    uint32_t flags;
    uint32_t nbytes;
    uint32_t time;
    uint32_t exptime;
    uint64_t cas;
} memfile_rec_t;

/* Writes the fixed 28 bytes of a record (the key and value follow it). */
void memfile_rec_encode(const memfile_rec_t *r, unsigned char out[MEMFILE_REC_FIXED]);

/* Reads the fixed part of a record: MEMFILE_OK, or MEMFILE_DAMAGED for a
 * key length of 0 or over 250, LRU 3, or a non-zero unused bit. */
memfile_status_e memfile_rec_decode(const unsigned char in[MEMFILE_REC_FIXED],
                                    memfile_rec_t *r);

/* ---- save and load (memfile.c) ---- */

typedef struct memfile_report {
    uint64_t items;     /* saved / loaded */
    uint64_t bytes;     /* their key + value bytes */
    uint64_t expired;   /* load: expired or flushed while stopped */
    uint64_t dropped;   /* load: did not fit (-m, -I); the oldest go first */
    int64_t saved_at;   /* load: the file's save time */
    double seconds;     /* wall time of the save / load */
} memfile_report_t;

/*
 * Checks at start that `path` can be used: its directory exists and is
 * writable, and the path is not a directory or device. MEMFILE_OK, or
 * MEMFILE_EIO with a reason in err. Touches nothing.
 */
memfile_status_e memfile_check_path(const char *path, char *err, size_t errlen);

/*
 * Saves every live item of r (not expired, not flushed) with the cas
 * counter and the flush_all state to `path`, as described above. Call with
 * no other thread using r (the cache's threads and workers stopped).
 * MEMFILE_OK and *rep, or MEMFILE_EIO / MEMFILE_ENOMEM with a reason in
 * err: then FILE.tmp is removed and any older FILE is left as it was
 * (a start removes it, so there is none in practice). Reads r only.
 */
memfile_status_e memfile_save(ram_t *r, const char *path, memfile_report_t *rep,
                              char *err, size_t errlen);

/*
 * Loads `path` into r, which must be empty, with no other thread using it
 * (before the cache's threads start): restores the cas counter (the next
 * cas is above every saved one), the flush_all state and the process start
 * time (r->started: uptime continues, as memcached), then the items that
 * fit, on their LRU lists (counted in total_items, as memcached). Removes a stale FILE.tmp. When the file
 * was read (loaded or damaged), it is unlinked and the directory fsync'd,
 * so a crash of this run never loads it again.
 * MEMFILE_OK (*rep filled); MEMFILE_NONE (no file); MEMFILE_DAMAGED /
 * MEMFILE_UNSUPPORTED (nothing loaded, reason in err); MEMFILE_FOREIGN
 * (not ours: left untouched, the caller refuses to start); MEMFILE_EIO /
 * MEMFILE_ENOMEM (nothing loaded).
 */
memfile_status_e memfile_load(ram_t *r, const char *path, memfile_report_t *rep,
                              char *err, size_t errlen);

/* ---- the cache's two calls (memfile.c) ---- */

/*
 * At cache create, before the cache's threads start: checks the path
 * (memfile_check_path) and loads what a graceful stop saved there. Writes
 * one line for the log into note (always: restored, none saved, or
 * damaged and removed; "" never). CACHE_OK, also for a cold start; or
 * CACHE_EINVAL (the server must not start: an unusable path, or a file
 * that is not a tiercache memory file), the reason in note.
 */
cache_status_e memfile_start(ram_t *r, const char *path, char *note, size_t n);

/* At a graceful stop, with nothing else using r: memfile_save() and one
 * line on stderr saying what was saved or why nothing was. */
void memfile_stop(ram_t *r, const char *path);

#endif /* TIERCACHE_RAM_MEMFILE_H */
