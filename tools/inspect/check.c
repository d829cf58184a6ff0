/*
 * tools/inspect/check.c - the offline flash file checker. Contract and the
 * order of the checks: check.h. Every on-disk structure is decoded by the
 * flash library (superblock.h, segment.h, block.h); this file only decides
 * what to read next and what a failure means. No locks, no globals.
 */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include "flash/device.h"
#include "flash/journal.h"
#include "flash/livemap.h"

/* A record's key hash and its block, to check the summary against. */
typedef struct unit_hash {
    uint32_t unit;
    uint64_t hash;
} unit_hash_t;

/* State of one run of inspect_file. */
typedef struct walk {
    const inspect_ops_t *ops;
    void *ctx;
    inspect_report_t *r;
    int fd;
    uint8_t *seg_buf;        /* segment_size bytes */
    uint8_t *scratch;        /* FLASH_BLK_MAX_RAW bytes: one raw block */
    ZSTD_DCtx *dctx;
    flash_dicts_t dicts;     /* the file's dictionaries (decode only) */
    unit_hash_t *uh;         /* records of the current segment's good blocks */
    size_t nuh, capuh;
    uint32_t *units;         /* distinct item block units of the summary */
    size_t nunits;
    uint32_t *good;          /* units of the blocks that opened */
    size_t ngood;
} walk_t;

const char *inspect_strerror(inspect_status_e st)
{
    switch (st) {
    case INSPECT_OK: return "no corruption found";
    case INSPECT_ECORRUPT: return "corruption found";
    case INSPECT_ENOTFLASH: return "not a tiercache flash file";
    case INSPECT_EIO: return "cannot read the file";
    case INSPECT_ENOMEM: return "out of memory";
    }
    return "unknown inspect status";
}

const char *inspect_seg_kind_name(inspect_seg_kind_e k)
{
    switch (k) {
    case INSPECT_SEG_EMPTY: return "empty";
    case INSPECT_SEG_USED: return "used";
    case INSPECT_SEG_OTHER: return "other-instance";
    case INSPECT_SEG_BAD: return "bad";
    case INSPECT_SEG_MAP: return "live-map";
    case INSPECT_SEG_MISSING: return "missing";
    }
    return "unknown";
}

unsigned inspect_hist_bucket(uint64_t n)
{
    return n == 0 ? 0u : (unsigned)(64 - __builtin_clzll(n));
}

void inspect_report_free(inspect_report_t *r)
{
    free(r->problems);
    r->problems = NULL;
    r->nproblems = 0;
}

/* Records a finding (kept if the list has room; always counted). */
__attribute__((format(printf, 6, 7)))
static void problem(walk_t *w, inspect_severity_e sev, int64_t seg, int64_t unit,
                    uint64_t offset, const char *fmt, ...)
{
    inspect_report_t *r = w->r;
    if (sev == INSPECT_ERROR)
        r->errors++;
    else
        r->warnings++;
    if (r->nproblems >= INSPECT_MAX_PROBLEMS)
        return;
    if (!r->problems) {
        r->problems = calloc(INSPECT_MAX_PROBLEMS, sizeof *r->problems);
        if (!r->problems)
            return;
    }
    inspect_problem_t *p = &r->problems[r->nproblems++];
    p->severity = sev;
    p->seg = seg;
    p->unit = unit;
    p->offset = offset;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof p->msg, fmt, ap);
    va_end(ap);
}

/* Reads up to len bytes at off; returns the count (short only at end of
 * file) or -1 with errno set. */
static ssize_t read_at(int fd, void *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int cmp_uh(const void *a, const void *b)
{
    const unit_hash_t *x = a, *y = b;
    if (x->unit != y->unit)
        return (x->unit > y->unit) - (x->unit < y->unit);
    return (x->hash > y->hash) - (x->hash < y->hash);
}

/* Grows w->uh to hold at least need entries; false on ENOMEM. */
static bool reserve_uh(walk_t *w, size_t need)
{
    if (need <= w->capuh)
        return true;
    size_t n = w->capuh ? w->capuh * 2 : 1024;
    while (n < need)
        n *= 2;
    unit_hash_t *p = realloc(w->uh, n * sizeof *p);
    if (!p)
        return false;
    w->uh = p;
    w->capuh = n;
    return true;
}

/* ---- superblock and state record ---- */

static inspect_status_e check_header_area(walk_t *w)
{
    inspect_report_t *r = w->r;
    uint8_t *buf = w->seg_buf;  /* >= FLASH_HEADER_AREA: allocated by caller */
    ssize_t n = read_at(w->fd, buf, FLASH_HEADER_AREA, 0);
    if (n < 0) {
        snprintf(r->error, sizeof r->error, "%s: read failed: %s", r->path, strerror(errno));
        return INSPECT_EIO;
    }
    if ((size_t)n < FLASH_MAGIC_LEN || memcmp(buf, FLASH_MAGIC, FLASH_MAGIC_LEN) != 0) {
        const char *what = NULL;
        device_classify(buf, (size_t)n, &what);
        snprintf(r->error, sizeof r->error,
                 "%s: not a tiercache flash file: no \"%s\" magic at offset 0 (%s, %llu bytes)",
                 r->path, FLASH_MAGIC, what ? what : "unknown content",
                 (unsigned long long)r->file_size);
        return INSPECT_ENOTFLASH;
    }
    flash_sb_status_e st = flash_sb_decode(buf, (size_t)n, &r->sb);
    if (st == FLASH_SB_EVERSION) {
        snprintf(r->error, sizeof r->error,
                 "%s: tiercache flash format version %u, features 0x%x: this build reads "
                 "version %u without features", r->path, fl_get_u32(buf + 16),
                 (size_t)n >= 76 ? fl_get_u32(buf + 72) : 0u, FLASH_FORMAT_VERSION);
        return INSPECT_ENOTFLASH;
    }
    if (st == FLASH_SB_OK && r->sb.member_count > 1) {
        /* its segments are striped with the other members' (format.h
         * DEVICE SET): this tool reads one file */
        snprintf(r->error, sizeof r->error,
                 "%s: member %u of a tiercache device set of %u devices (instance "
                 "%016llx): segments are striped over all of them; this tool reads a "
                 "single-device flash file only", r->path, r->sb.member_index,
                 r->sb.member_count, (unsigned long long)r->sb.instance_id);
        return INSPECT_ENOTFLASH;
    }
    if (st != FLASH_SB_OK) {
        problem(w, INSPECT_ERROR, -1, -1, 0,
                "superblock (offset 0): %s: the file's geometry is unknown, nothing else "
                "can be checked", flash_sb_strerror(st));
        return INSPECT_ECORRUPT;
    }
    r->sb_ok = true;
    if (r->file_size < r->sb.device_size)
        problem(w, INSPECT_ERROR, -1, -1, r->file_size,
                "file is %llu bytes but the superblock says the device is %llu bytes: "
                "truncated", (unsigned long long)r->file_size,
                (unsigned long long)r->sb.device_size);

    const uint8_t *sp = buf + FLASH_STATE_OFFSET;
    size_t slen = (size_t)n > FLASH_STATE_OFFSET ? (size_t)n - FLASH_STATE_OFFSET : 0;
    if (slen >= FLASH_STATE_LEN && all_zero(sp, FLASH_STATE_LEN)) {
        r->state_status = FLASH_SB_EMAGIC;
        problem(w, INSPECT_WARNING, -1, -1, FLASH_STATE_OFFSET,
                "state record (offset %u): missing (all zero): reads as not clean",
                FLASH_STATE_OFFSET);
    } else {
        r->state_status = flash_state_decode(sp, slen, &r->state);
        if (r->state_status != FLASH_SB_OK) {
            problem(w, INSPECT_ERROR, -1, -1, FLASH_STATE_OFFSET,
                    "state record (offset %u): %s", FLASH_STATE_OFFSET,
                    flash_sb_strerror(r->state_status));
        } else if (r->state.instance_id != r->sb.instance_id) {
            problem(w, INSPECT_ERROR, -1, -1, FLASH_STATE_OFFSET,
                    "state record (offset %u): instance id 0x%016llx, superblock's is "
                    "0x%016llx", FLASH_STATE_OFFSET,
                    (unsigned long long)r->state.instance_id,
                    (unsigned long long)r->sb.instance_id);
        } else {
            r->state_ok = true;
        }
    }
    for (unsigned i = 0; i < FLASH_DICT_SLOTS; i++) {
        size_t off = FLASH_DICT_OFFSET + (size_t)i * FLASH_DICT_SLOT_SIZE;
        if ((size_t)n <= off)
            break;
        flash_dict_t *d;
        flash_dict_status_e ds = flash_dict_slot_decode(buf + off, (size_t)n - off, i,
                                                        r->sb.instance_id, FLASH_LEVEL_NONE, &d);
        if (ds == FLASH_DICT_EEMPTY)
            continue;
        if (ds != FLASH_DICT_OK) {
            problem(w, INSPECT_ERROR, -1, -1, off, "dictionary slot %u (offset %zu): %s; "
                    "its blocks cannot be read", i, off, flash_dict_strerror(ds));
            continue;
        }
        r->dict_id[i] = d->id;
        r->dict_len[i] = d->len;
        r->dict_samples[i] = d->samples;
        if (flash_dicts_publish(&w->dicts, d, false) != FLASH_DICT_OK)
            flash_dict_destroy(&d);
    }
    return INSPECT_OK;
}

/* ---- blocks ---- */

/* Adds the records of a block that opened: histogram, bytes, key hashes. */
static bool take_records(walk_t *w, inspect_seg_t *s, uint32_t unit,
                         const flash_block_view_t *v)
{
    inspect_report_t *r = w->r;
    if (!reserve_uh(w, w->nuh + v->nrec))
        return false;
    uint32_t cur = 0;
    flash_record_t rec;
    while (flash_block_next(v, &cur, &rec) == FLASH_BLK_OK) {
        r->hist[inspect_hist_bucket(rec.nvalue)]++;
        r->key_bytes += rec.nkey;
        r->value_bytes += rec.nvalue;
        w->uh[w->nuh].unit = unit;
        w->uh[w->nuh].hash = XXH3_64bits(rec.key, rec.nkey);
        w->nuh++;
        s->records++;
    }
    return true;
}

/* The first summary block unit after `unit`, or 0 if none is known. */
static uint32_t next_summary_unit(const walk_t *w, uint32_t unit)
{
    for (size_t i = 0; i < w->nunits; i++)
        if (w->units[i] > unit)
            return w->units[i];
    return 0;
}

/* Checks one block at `unit`; returns the unit to look at next, or 0 to
 * stop the walk. */
static uint32_t check_block(walk_t *w, inspect_seg_t *s, uint32_t unit, uint32_t limit,
                            size_t avail, bool *nomem)
{
    const flash_seghdr_t *h = &s->hdr;
    inspect_block_t b;
    memset(&b, 0, sizeof b);
    b.unit = unit;
    b.offset = s->offset + (uint64_t)unit * FLASH_UNIT;
    size_t start = (size_t)unit * FLASH_UNIT;
    size_t room = (size_t)limit * FLASH_UNIT - start;
    if (start >= avail)
        room = 0;
    else if (room > avail - start)
        room = avail - start;
    const uint8_t *p = w->seg_buf + start;
    b.status = flash_block_header(p, room, &b.hdr);
    flash_block_view_t view;
    if (b.status == FLASH_BLK_OK) {
        b.hdr_ok = true;
        size_t total = flash_block_total_len(&b.hdr);
        b.disk_len = (uint32_t)total;
        if (total > room) {
            b.status = FLASH_BLK_ETRUNCATED;
        } else {
            flash_block_loc_t expect = { s->id, h->gen, (uint16_t)unit };
            b.status = flash_block_open(p, total, &expect, w->dctx, &w->dicts, w->scratch,
                                        FLASH_BLK_MAX_RAW, &view);
        }
    }
    uint32_t next = 0;
    if (b.status == FLASH_BLK_OK) {
        s->blocks_ok++;
        s->raw_bytes += b.hdr.raw_len;
        s->stored_bytes += b.hdr.stored_len;
        s->disk_bytes += b.disk_len;
        w->good[w->ngood++] = unit;
        if (!take_records(w, s, unit, &view))
            *nomem = true;
        next = unit + b.disk_len / FLASH_UNIT;
    } else {
        s->blocks_bad++;
        s->errors++;
        const char *why = flash_blk_strerror(b.status);
        if (b.status == FLASH_BLK_ETRUNCATED && b.hdr_ok)
            why = "block runs past the summary / end of data";
        problem(w, INSPECT_ERROR, s->id, unit, b.offset,
                "segment %u (offset %llu): block at unit %u (file offset %llu): %s",
                s->id, (unsigned long long)s->offset, unit, (unsigned long long)b.offset,
                why);
        next = next_summary_unit(w, unit);
        if (next == 0 && w->nunits == 0 && b.hdr_ok && b.status != FLASH_BLK_ETRUNCATED)
            next = unit + b.disk_len / FLASH_UNIT;  /* no summary to resync with */
        if (next == 0 && w->nunits == 0)
            problem(w, INSPECT_ERROR, s->id, unit, b.offset,
                    "segment %u: no valid summary to find the next block: the rest of "
                    "the segment after unit %u is not checked", s->id, unit);
    }
    if (w->ops && w->ops->block)
        w->ops->block(w->ctx, s, &b);
    return next;
}

/* Every ITEM summary entry pointing at a block that opened must name a key
 * hash found among that block's records. */
static void check_summary_keys(walk_t *w, inspect_seg_t *s, const uint8_t *sum)
{
    qsort(w->uh, w->nuh, sizeof *w->uh, cmp_uh);
    for (uint32_t i = 0; i < s->hdr.summary_count; i++) {
        flash_sum_entry_t e;
        if (flash_sum_entry_decode(sum + (size_t)i * FLASH_SUM_ENTRY_LEN, &e) != FLASH_SEG_OK ||
            e.kind != FLASH_SUM_ITEM)
            continue;
        uint32_t u = e.blkoff;
        if (!bsearch(&u, w->good, w->ngood, sizeof *w->good, cmp_u32))
            continue;   /* its block is bad: already reported */
        unit_hash_t key = { e.blkoff, e.hash };
        if (!bsearch(&key, w->uh, w->nuh, sizeof *w->uh, cmp_uh))
            s->sum_unmatched++;
    }
    if (s->sum_unmatched) {
        s->errors++;
        problem(w, INSPECT_ERROR, s->id, -1, s->offset + s->hdr.summary_off,
                "segment %u: %u summary entries name a key hash that is not in their "
                "block", s->id, s->sum_unmatched);
    }
}

/* ---- segments ---- */

/* Reads and checks the contents of a USED segment whose header decoded. */
static bool check_contents(walk_t *w, inspect_seg_t *s)
{
    inspect_report_t *r = w->r;
    const flash_seghdr_t *h = &s->hdr;
    size_t want = h->data_end;
    uint64_t left = r->file_size > s->offset ? r->file_size - s->offset : 0;
    if (want > left)
        want = (size_t)left;
    ssize_t n = read_at(w->fd, w->seg_buf, want, s->offset);
    if (n < 0) {
        s->errors++;
        problem(w, INSPECT_ERROR, s->id, -1, s->offset, "segment %u: read failed: %s",
                s->id, strerror(errno));
        return true;
    }
    size_t avail = (size_t)n;
    if (avail < h->data_end) {
        s->errors++;
        problem(w, INSPECT_ERROR, s->id, -1, s->offset + avail,
                "segment %u: data ends at %u bytes but the file ends after %zu", s->id,
                h->data_end, avail);
    }

    /* summary */
    const uint8_t *sum = w->seg_buf + h->summary_off;
    size_t sum_avail = avail > h->summary_off ? avail - h->summary_off : 0;
    s->sum_status = flash_summary_check(h, sum, sum_avail);
    w->nunits = 0;
    if (s->sum_status == FLASH_SEG_OK) {
        free(w->units);
        w->units = malloc(((size_t)h->nitems + 1) * sizeof *w->units);
        if (!w->units)
            return false;
        for (uint32_t i = 0; i < h->summary_count; i++) {
            flash_sum_entry_t e;
            flash_sum_entry_decode(sum + (size_t)i * FLASH_SUM_ENTRY_LEN, &e);
            if (e.kind == FLASH_SUM_ITEM)
                w->units[w->nunits++] = e.blkoff;
        }
        qsort(w->units, w->nunits, sizeof *w->units, cmp_u32);
        size_t k = 0;
        for (size_t i = 0; i < w->nunits; i++)
            if (k == 0 || w->units[k - 1] != w->units[i])
                w->units[k++] = w->units[i];
        w->nunits = k;
        if (k != h->nblocks) {
            s->errors++;
            problem(w, INSPECT_ERROR, s->id, -1, s->offset,
                    "segment %u: the summary names %zu blocks, the header %u", s->id, k,
                    h->nblocks);
        }
    } else {
        s->errors++;
        problem(w, INSPECT_ERROR, s->id, -1, s->offset + h->summary_off,
                "segment %u: summary (offset %llu, %u entries): %s", s->id,
                (unsigned long long)(s->offset + h->summary_off), h->summary_count,
                flash_seg_strerror(s->sum_status));
    }

    /* blocks: from unit 1 up to the summary, back to back */
    uint32_t limit = h->summary_off / FLASH_UNIT;
    free(w->good);
    w->good = malloc(((size_t)limit + 1) * sizeof *w->good);
    if (!w->good)
        return false;
    w->ngood = 0;
    w->nuh = 0;
    bool nomem = false;
    uint32_t walked = 0, unit = FLASH_SEG_FIRST_BLOCK;
    while (unit != 0 && unit < limit && !nomem) {
        walked++;
        unit = check_block(w, s, unit, limit, avail, &nomem);
    }
    if (nomem)
        return false;
    if (s->blocks_bad == 0 && unit != limit && walked > 0) {
        s->errors++;
        problem(w, INSPECT_ERROR, s->id, unit, s->offset + (uint64_t)unit * FLASH_UNIT,
                "segment %u: the blocks end at unit %u, the summary starts at unit %u",
                s->id, unit, limit);
    }
    if (s->blocks_bad == 0 && walked != h->nblocks) {
        s->errors++;
        problem(w, INSPECT_ERROR, s->id, -1, s->offset,
                "segment %u: the header says %u blocks, %u found", s->id, h->nblocks,
                walked);
    }
    if (s->sum_status == FLASH_SEG_OK)
        check_summary_keys(w, s, sum);
    return true;
}

/* Is segment id one the CLEAN state's live map lies over? */
static bool in_map(const inspect_report_t *r, uint32_t id)
{
    return r->map_present && r->state.state == FLASH_STATE_CLEAN &&
           id >= r->state.map_first_seg &&
           id - r->state.map_first_seg < r->state.map_seg_count;
}

/* Reads and checks the live map a CLEAN state record names (format.h). */
static void check_map(walk_t *w)
{
    inspect_report_t *r = w->r;
    const flash_state_t *st = &r->state;
    if (!r->state_ok || st->map_first_seg == FLASH_STATE_NO_SNAPSHOT)
        return;
    r->map_present = true;
    /* a clean stop's map fills its slots; a crash checkpoint's (RUNNING)
     * sits 4 KiB into its slot, behind an empty segment header */
    uint64_t off = flash_sb_segment_offset(&r->sb, st->map_first_seg);
    if (off != UINT64_MAX && st->state == FLASH_STATE_RUNNING)
        off += 4096;
    uint8_t *buf = st->map_len <= (uint64_t)64 << 20 ? malloc((size_t)st->map_len + 1) : NULL;
    ssize_t n = buf && off != UINT64_MAX ? read_at(w->fd, buf, (size_t)st->map_len, off) : -1;
    flash_map_t m;
    flash_map_status_e ms = FLASH_MAP_ETRUNCATED;
    if (n == (ssize_t)st->map_len && XXH3_64bits(buf, (size_t)n) != st->map_cksum)
        ms = FLASH_MAP_ECHECKSUM;
    else if (n == (ssize_t)st->map_len)
        ms = flash_map_decode(buf, st->map_len, r->sb.instance_id, r->sb.segment_count, &m);
    if (ms == FLASH_MAP_OK && st->state == FLASH_STATE_RUNNING) {
        /* the kill journal after the map, to the end of the slot */
        uint64_t start;
        uint32_t pages;
        flash_jarea(st->map_len, r->sb.segment_size, &start, &pages);
        uint8_t page[FLASH_JPAGE];
        for (uint32_t p = 0; p < pages; p++) {
            flash_jpage_t jp;
            if (read_at(w->fd, page, FLASH_JPAGE, off - 4096 + start + (uint64_t)p * FLASH_JPAGE) !=
                    (ssize_t)FLASH_JPAGE ||
                !flash_jpage_decode(page, r->sb.instance_id, st->map_seq, p, &jp))
                break;
            uint32_t pos = 0;
            flash_jent_t e;
            while (flash_jpage_next(&jp, &pos, &e)) {
                if (e.kind == FLASH_JENT_KILL)
                    r->map_kills++;
                else
                    r->map_extends++;
            }
        }
    }
    if (ms == FLASH_MAP_OK) {
        r->map_ok = true;
        r->map_segments = m.nsegs;
        const uint8_t *bits = m.bits;
        for (uint32_t i = 0; i < m.nsegs; i++) {
            flash_map_seg_t e;
            flash_map_entry(&m, i, &e);
            for (uint32_t k = 0; k < e.count; k++)
                r->map_live += flash_map_get(bits, k);
            bits += flash_map_bits_len(e.count);
        }
    } else {
        problem(w, INSPECT_ERROR, (int64_t)st->map_first_seg, -1, off,
                "live map (segment %u, %llu bytes): %s: the next start discards the flash "
                "contents (unless a crash checkpoint replaces it)", st->map_first_seg, (unsigned long long)st->map_len,
                flash_map_strerror(ms));
    }
    free(buf);
}

static bool check_segment(walk_t *w, uint32_t id)
{
    inspect_report_t *r = w->r;
    inspect_seg_t s;
    memset(&s, 0, sizeof s);
    s.id = id;
    s.offset = flash_sb_segment_offset(&r->sb, id);
    s.hdr_status = FLASH_SEG_OK;
    if (s.offset >= r->file_size || r->file_size - s.offset < FLASH_UNIT) {
        s.kind = INSPECT_SEG_MISSING;  /* the truncation is reported once */
    } else if (in_map(r, id)) {
        s.kind = INSPECT_SEG_MAP;      /* checked whole by check_map */
    } else {
        ssize_t n = read_at(w->fd, w->seg_buf, FLASH_UNIT, s.offset);
        if (n != (ssize_t)FLASH_UNIT) {
            s.kind = INSPECT_SEG_BAD;
            s.errors++;
            problem(w, INSPECT_ERROR, id, 0, s.offset, "segment %u: header read failed: %s",
                    id, n < 0 ? strerror(errno) : "short read");
        } else if (all_zero(w->seg_buf, FLASH_UNIT)) {
            s.kind = INSPECT_SEG_EMPTY;
        } else if ((s.hdr_status = flash_seghdr_decode(w->seg_buf, FLASH_UNIT,
                                                       r->sb.segment_size, &s.hdr)) !=
                   FLASH_SEG_OK) {
            s.kind = INSPECT_SEG_BAD;
            s.errors++;
            problem(w, INSPECT_ERROR, id, 0, s.offset,
                    "segment %u (offset %llu): header: %s", id,
                    (unsigned long long)s.offset, flash_seg_strerror(s.hdr_status));
        } else if (s.hdr.instance_id != r->sb.instance_id) {
            s.kind = INSPECT_SEG_OTHER;
        } else if (s.hdr.seg_id != id) {
            s.kind = INSPECT_SEG_BAD;
            s.errors++;
            problem(w, INSPECT_ERROR, id, 0, s.offset,
                    "segment %u (offset %llu): header names segment %u: misplaced", id,
                    (unsigned long long)s.offset, s.hdr.seg_id);
        } else {
            s.kind = INSPECT_SEG_USED;
        }
    }
    if (w->ops && w->ops->seg_begin)
        w->ops->seg_begin(w->ctx, &s);
    if (s.kind == INSPECT_SEG_USED) {
        if (!check_contents(w, &s))
            return false;
        r->sum_items += s.hdr.nitems;
        r->sum_tombs += s.hdr.ntombs;
        if (s.hdr.seq > r->max_seq)
            r->max_seq = s.hdr.seq;
    }
    r->seg_count[s.kind]++;
    r->blocks_ok += s.blocks_ok;
    r->blocks_bad += s.blocks_bad;
    r->records += s.records;
    r->raw_bytes += s.raw_bytes;
    r->stored_bytes += s.stored_bytes;
    r->disk_bytes += s.disk_bytes;
    if (w->ops && w->ops->seg_end)
        w->ops->seg_end(w->ctx, &s);
    return true;
}

/* ---- entry point ---- */

static uint64_t file_length(int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        return (uint64_t)st.st_size;
    off_t end = lseek(fd, 0, SEEK_END);
    return end > 0 ? (uint64_t)end : 0;
}

inspect_status_e inspect_file(const char *path, const inspect_ops_t *ops, void *ctx,
                              inspect_report_t *r)
{
    memset(r, 0, sizeof *r);
    r->path = path;
    walk_t w;
    memset(&w, 0, sizeof w);
    w.ops = ops;
    w.ctx = ctx;
    w.r = r;
    flash_dicts_init(&w.dicts);
    w.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (w.fd < 0) {
        snprintf(r->error, sizeof r->error, "%s: cannot open: %s", path, strerror(errno));
        return r->status = INSPECT_EIO;
    }
    r->file_size = file_length(w.fd);
    inspect_status_e st = INSPECT_ENOMEM;
    w.seg_buf = malloc(FLASH_MAX_SEGMENT_SIZE);
    w.scratch = malloc(FLASH_BLK_MAX_RAW);
    w.dctx = ZSTD_createDCtx();
    if (!w.seg_buf || !w.scratch || !w.dctx) {
        snprintf(r->error, sizeof r->error, "out of memory");
        goto out;
    }
    st = check_header_area(&w);
    if (r->sb_ok)
        check_map(&w);
    if (ops && ops->superblock && (st == INSPECT_OK || r->sb_ok))
        ops->superblock(ctx, r);
    if (st != INSPECT_OK)
        goto out;
    for (uint32_t id = 0; id < r->sb.segment_count; id++) {
        if (!check_segment(&w, id)) {
            snprintf(r->error, sizeof r->error, "out of memory");
            st = INSPECT_ENOMEM;
            goto out;
        }
    }
    if (r->seg_count[INSPECT_SEG_MISSING])
        problem(&w, INSPECT_ERROR, -1, -1, r->file_size,
                "%u segments lie beyond the end of the file",
                r->seg_count[INSPECT_SEG_MISSING]);
    st = r->errors ? INSPECT_ECORRUPT : INSPECT_OK;
out:
    if (st == INSPECT_ECORRUPT && r->error[0] == 0)
        snprintf(r->error, sizeof r->error, "%s: %llu problem(s) found", path,
                 (unsigned long long)r->errors);
    ZSTD_freeDCtx(w.dctx);
    flash_dicts_teardown(&w.dicts);
    free(w.seg_buf);
    free(w.scratch);
    free(w.uh);
    free(w.units);
    free(w.good);
    close(w.fd);
    return r->status = st;
}
