/*
 * tiers/flash/store.c - flash_t: create / destroy (device, superblock,
 * state record, index, builders, writer thread), memory and stats.
 * (Admission, the write queue and removes: enqueue.c; is a location
 * current: locate.c.) Contract: flash.h; internals: flash_int.h (segment
 * table, lock order).
 *
 * Lock order: c_lock (only around written_fn) -> seg_lock -> bld_lock[i] ->
 * index bucket locks; q_lock and d_lock are leaves. No globals.
 */
#include "flash/flash_int.h"
#include "flash/seterr.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <xxhash.h>

const char *flash_strerror(flash_status_e st)
{
    switch (st) {
    case FLASH_OK: return "ok";
    case FLASH_MISS: return "not on flash";
    case FLASH_PENDING: return "read pending";
    case FLASH_EFULL: return "flash writer queue full";
    case FLASH_EADMIT: return "not admitted to flash";
    case FLASH_EIO: return "flash device error";
    case FLASH_ECHECKSUM: return "flash block checksum mismatch";
    case FLASH_EINVAL: return "invalid flash settings or argument";
    case FLASH_ENOMEM: return "out of memory";
    case FLASH_EFOREIGN: return "flash path holds foreign data";
    case FLASH_EDAMAGED: return "flash superblock damaged";
    case FLASH_EBUSY: return "flash path in use by another process";
    }
    return "unknown flash status";
}

/* ---- helpers shared by the modules ---- */

int64_t flash_now(const flash_t *f)
{
    if (f->s.clock)
        return f->s.clock(f->s.clock_ctx);
    return (int64_t)time(NULL);
}

int64_t flash_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void flash_log(const flash_t *f, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (f->s.log)
        f->s.log(f->s.log_ctx, line);
    else
        fprintf(stderr, "tiercache flash: %s\n", line);
}

uint64_t flash_seg_dev_off(const flash_t *f, uint32_t seg)
{
    return flash_sb_segment_offset(&f->sb, seg);
}

uint64_t flash_seg_age(void *ctx, uint32_t seg)
{
    const flash_t *f = ctx;
    uint32_t head = atomic_load_explicit(&f->head, memory_order_relaxed);
    if (seg >= f->nseg)
        return UINT64_MAX; /* cannot happen; oldest of all */
    return (uint64_t)((head + f->nseg - seg - 1) % f->nseg);
}

bool flash_record_dead(const flash_t *f, const flash_record_t *r, int64_t now)
{
    if (r->exptime != 0 && (int64_t)r->exptime <= now)
        return true;
    int64_t ol = atomic_load_explicit(&f->flush_oldest_live, memory_order_relaxed);
    return ol != 0 && ol <= now && (int64_t)r->store_time <= ol;
}

bool flash_slot_owner(const flash_t *f, const flash_block_view_t *v,
                      const flash_record_t *found, unsigned tag, uint64_t bucket)
{
    uint32_t cursor = 0;
    bool after = false;
    flash_record_t r;
    while (flash_block_next(v, &cursor, &r) == FLASH_BLK_OK) {
        if (!after) {
            after = r.key == found->key;
            continue;
        }
        uint64_t h = XXH3_64bits(r.key, r.nkey);
        if (index_tag(f->idx, h) != tag)
            continue;
        uint64_t b1, b2;
        index_buckets(f->idx, h, &b1, &b2);
        if (b1 == bucket || b2 == bucket)
            return false;
    }
    return after;
}


/* ---- create / destroy ---- */

static flash_status_e from_device(device_status_e st)
{
    switch (st) {
    case DEVICE_OK: return FLASH_OK;
    case DEVICE_EINVAL:
    case DEVICE_EBADSIZE:
    case DEVICE_ETOOBIG:
    case DEVICE_ENOTSUP: return FLASH_EINVAL;
    case DEVICE_ENOMEM: return FLASH_ENOMEM;
    case DEVICE_EBUSY: return FLASH_EBUSY;
    default: return FLASH_EIO;
    }
}

static flash_status_e check_settings(const flash_settings_t *s, char *err, size_t errlen)
{
    const char *p = s->path ? s->path : "(null)";
    if (!s->path || !*s->path) {
        flash_seterr(err, errlen, "flash: no path given");
        return FLASH_EINVAL;
    }
    if (!s->written) {
        flash_seterr(err, errlen, "%s: flash settings lack the written callback", p);
        return FLASH_EINVAL;
    }
    if (s->segment_size % FLASH_IO_ALIGN || s->segment_size < FLASH_MIN_SEGMENT_SIZE ||
        s->segment_size > FLASH_MAX_SEGMENT_SIZE) {
        flash_seterr(err, errlen, "%s: segment size %u must be a multiple of %u between %u "
               "and %u bytes", p, s->segment_size, FLASH_IO_ALIGN, FLASH_MIN_SEGMENT_SIZE,
               FLASH_MAX_SEGMENT_SIZE);
        return FLASH_EINVAL;
    }
    if (s->block_size < FLASH_UNIT || s->block_size > s->segment_size / 4) {
        flash_seterr(err, errlen, "%s: block size %u must be between %u and a quarter of the "
               "segment size (%u)", p, s->block_size, FLASH_UNIT, s->segment_size / 4);
        return FLASH_EINVAL;
    }
    if (s->dict_size != 0 && (s->dict_size < FLASH_DICT_MIN || s->dict_size > FLASH_DICT_MAX)) {
        flash_seterr(err, errlen, "%s: dictionary size %zu must be 0 (none) or between %u and %u",
               p, s->dict_size, FLASH_DICT_MIN, FLASH_DICT_MAX);
        return FLASH_EINVAL;
    }
    if (s->tag_bits > INDEX_TAG_FIELD_BITS) {
        flash_seterr(err, errlen, "%s: tag bits %u > %d", p, s->tag_bits, INDEX_TAG_FIELD_BITS);
        return FLASH_EINVAL;
    }
    if (s->io_depth == 0 || s->io_depth > AIO_MAX_DEPTH || s->queue_items == 0 ||
        s->rewrite_pct > 100) {
        flash_seterr(err, errlen, "%s: io depth (1..%d), queue length (>= 1) or rewrite "
               "percentage (0..100) out of range", p, AIO_MAX_DEPTH);
        return FLASH_EINVAL;
    }
    if (s->size % DEVICE_SIZE_ALIGN) {
        flash_seterr(err, errlen, "%s: size %llu is not a multiple of %d", p,
               (unsigned long long)s->size, DEVICE_SIZE_ALIGN);
        return FLASH_EINVAL;
    }
    return FLASH_OK;
}

/* Logs a member failure once (devset's callback). */
static void member_failed(void *ctx, unsigned m, const char *path, const char *why)
{
    flash_t *f = ctx;
    flash_log(f, "flash device %s (member %u of %u) failed: %s; it is not used again in "
              "this run: its items read as misses, the writer skips its segments, the other "
              "devices keep serving", path, m, devset_count(f->set), why);
}

/* Opens (and holds) every member and checks what each holds; *reset:
 * foreign or damaged content the operator asked to reset (done later, with
 * the format). Writes nothing. On success note[] says what will happen to
 * existing content (logged only if the whole start succeeds); on failure
 * err[] says why, naming the member. */
static flash_status_e open_device(flash_t *f, bool *reset, char *note, size_t notelen,
                                  char *err, size_t errlen)
{
    const flash_settings_t *s = &f->s;
    device_status_e ds = devset_open(&f->set, f->path, s->size, err, errlen);
    if (ds != DEVICE_OK)
        return from_device(ds);
    devset_set_fail_cb(f->set, member_failed, f);
    for (unsigned i = 0; i < devset_count(f->set); i++) {
        device_t *dev = devset_member(f->set, i);
        device_kind_e kind = device_kind(dev);
        if (kind == DEVICE_KIND_FOREIGN || kind == DEVICE_KIND_DAMAGED) {
            bool damaged = kind == DEVICE_KIND_DAMAGED;
            if (!s->reset) {
                flash_seterr(err, errlen, damaged ? "%s: %s; refusing to reinitialise it without a reset"
                                            : "%s: holds foreign data (%s); refusing to overwrite "
                                              "it without a reset",
                       device_path(dev), device_kind_what(dev));
                return damaged ? FLASH_EDAMAGED : FLASH_EFOREIGN;
            }
            flash_seterr(note, notelen, "%s: %s%s (reset requested): reinitialised",
                   device_path(dev), damaged ? "" : "foreign data: ", device_kind_what(dev));
            *reset = true;
        } else if (kind == DEVICE_KIND_OLD) {
            /* our own file, of a format that kept nothing across restarts */
            flash_seterr(note, notelen, "%s: %s: reinitialised as format %u", device_path(dev),
                   device_kind_what(dev), FLASH_FORMAT_VERSION);
        }
    }
    if (devset_count(f->set) > 1 && devset_unused(f->set) > 0)
        flash_log(f, "%s: devices of different sizes: each uses %llu bytes (the smallest); "
                  "%llu bytes of the larger ones are unused", f->path,
                  (unsigned long long)devset_member_size(f->set),
                  (unsigned long long)devset_unused(f->set));
    return FLASH_OK;
}

/* Same geometry and set in two members' superblocks. */
static bool same_set(const flash_sb_t *a, const flash_sb_t *b)
{
    return a->instance_id == b->instance_id && a->member_count == b->member_count &&
           a->segment_size == b->segment_size && a->segment_count == b->segment_count &&
           a->data_offset == b->data_offset && a->device_size == b->device_size &&
           a->alignment == b->alignment;
}

/*
 * The members' superblocks against the paths given (format.h DEVICE SET):
 * 1 = one set, every member present: reordered into the recorded order
 *     (logged in note) and *sb is member 0's;
 * 0 = nothing to keep: a new format (note says why when data is dropped);
 * -1 = refused (err names the member): a member of another set, or a
 *     member of the recorded set missing with no empty path in its place,
 *     so starting would drop data the operator may still want; with
 *     --flash-reset these reinitialise instead (note).
 */
static int examine_set(flash_t *f, flash_sb_t *sb0, char *note, size_t notelen,
                       char *err, size_t errlen)
{
    unsigned n = devset_count(f->set), nours = 0, nempty = 0;
    flash_sb_t sb[DEVSET_MAX];
    bool ours[DEVSET_MAX];
    int first = -1;
    for (unsigned i = 0; i < n; i++) {
        device_t *dev = devset_member(f->set, i);
        ours[i] = device_superblock(dev, &sb[i]);
        device_kind_e k = device_kind(dev);
        if (ours[i]) {
            nours++;
            if (first < 0)
                first = (int)i;
        } else if (k == DEVICE_KIND_EMPTY || k == DEVICE_KIND_OLD) {
            nempty++;
        }
    }
    if (nours == 0)
        return 0;
    char why[400] = "";
    const flash_sb_t *a = &sb[first];
    unsigned at[FLASH_MAX_MEMBERS];
    for (unsigned k = 0; k < FLASH_MAX_MEMBERS; k++)
        at[k] = UINT32_MAX;
    for (unsigned i = 0; i < n && !why[0]; i++) {
        if (!ours[i])
            continue;
        if (!same_set(a, &sb[i])) {
            snprintf(why, sizeof why, "%s is member %u of %u of tiercache device set %016llx "
                     "and %s member %u of %u of set %016llx: not one set",
                     device_path(devset_member(f->set, (unsigned)first)), a->member_index,
                     a->member_count, (unsigned long long)a->instance_id,
                     device_path(devset_member(f->set, i)), sb[i].member_index,
                     sb[i].member_count, (unsigned long long)sb[i].instance_id);
        } else if (at[sb[i].member_index] != UINT32_MAX) {
            snprintf(why, sizeof why, "%s and %s both hold member %u of tiercache device set "
                     "%016llx (a copied file?)", device_path(devset_member(f->set,
                     at[sb[i].member_index])), device_path(devset_member(f->set, i)),
                     sb[i].member_index, (unsigned long long)a->instance_id);
        } else {
            at[sb[i].member_index] = i;
        }
    }
    unsigned c = a->member_count, missing = 0, miss1 = 0;
    for (unsigned k = 0; k < c && !why[0]; k++) {
        if (at[k] == UINT32_MAX) {
            if (missing++ == 0)
                miss1 = k;
        }
    }
    if (!why[0] && missing > 0 && nempty < missing)
        snprintf(why, sizeof why, "%s is member %u of a tiercache device set of %u devices "
                 "(%016llx) whose member %u is not among the flash paths given; starting "
                 "would discard the set's data: give all %u paths", device_path(
                 devset_member(f->set, (unsigned)first)), a->member_index, c,
                 (unsigned long long)a->instance_id, miss1, c);
    if (why[0]) {
        if (!f->s.reset) {
            flash_seterr(err, errlen, "%s; refusing to reinitialise without --flash-reset", why);
            return -1;
        }
        flash_seterr(note, notelen, "%s (reset requested): reinitialised", why);
        return 0;
    }
    if (missing > 0) {
        flash_seterr(note, notelen, "member %u of the tiercache device set %016llx is missing and "
                     "an empty device takes its place (a replaced device): the set is "
                     "reinitialised, its flash contents discarded", miss1,
                     (unsigned long long)a->instance_id);
        return 0;
    }
    if (c != n) {
        flash_seterr(note, notelen, "%s: %u flash devices given, the set on them had %u: "
                     "flash contents discarded", f->path, n, c);
        return 0;
    }
    unsigned perm[DEVSET_MAX];
    bool moved = false;
    for (unsigned k = 0; k < c; k++) {
        perm[k] = at[k];
        moved |= at[k] != k;
    }
    if (moved) {
        if (!devset_order(f->set, perm)) {
            flash_seterr(err, errlen, "%s: cannot reorder the device set", f->path);
            return -1;
        }
        flash_log(f, "%s: flash devices given in another order than the set records; "
                  "using the recorded order (member 0 is %s)", f->path,
                  device_path(devset_member(f->set, 0)));
    }
    *sb0 = sb[perm[0]];
    return 1;
}

/* A set whose members hold our superblocks (examine_set said 1): adopts
 * member 0's if it has the geometry these settings would give (then
 * recovery decides what to keep). The segment size is the superblock's
 * unless the settings give one (segment_size_given), so a change of the
 * default segment size does not discard existing files. False: it will be
 * formatted, and `err` says why. */
static bool adopt_superblock(flash_t *f, const flash_sb_t *got, char *err, size_t errlen)
{
    flash_sb_t sb = *got, want;
    uint32_t segsize = f->s.segment_size;
    if (!f->s.segment_size_given && sb.segment_size != segsize) {
        if (f->s.block_size > sb.segment_size / 4) {
            flash_seterr(err, errlen, "%s: its segments of %u bytes cannot hold blocks of %u "
                         "bytes: flash contents discarded", f->path, sb.segment_size,
                         f->s.block_size);
            return false;
        }
        segsize = sb.segment_size;
    }
    uint64_t logical = devset_logical_size(f->set, FLASH_HEADER_AREA, segsize);
    if (flash_sb_init(&want, logical, segsize, devset_block_size(f->set),
                      f->s.block_size, 0, 0) != FLASH_SB_OK ||
        want.segment_size != sb.segment_size || want.segment_count != sb.segment_count ||
        want.data_offset != sb.data_offset || want.device_size != sb.device_size ||
        want.alignment != sb.alignment) {
        flash_seterr(err, errlen, "%s: geometry changed (segments of %u bytes x %u on the device, "
               "%u x %u asked): flash contents discarded", f->path, sb.segment_size,
               sb.segment_count, want.segment_size, want.segment_count);
        return false;
    }
    f->sb = sb;
    f->instance_id = sb.instance_id;
    devset_layout(f->set, sb.data_offset, sb.segment_size);
    if (segsize != f->s.segment_size)
        flash_log(f, "%s: segments of %u bytes, as the file was made (no "
                  "--flash-segment-size given; the default is %u)", f->path, segsize,
                  f->s.segment_size);
    return true;
}

/* After a recovery: the state record RUNNING for this run (run count + 1,
 * no map), durable before the first write or request (format.h). */
static flash_status_e start_run(flash_t *f, char *err, size_t errlen)
{
    flash_state_t st;
    memset(&st, 0, sizeof st);
    st.version = FLASH_FORMAT_VERSION;
    st.state = FLASH_STATE_RUNNING;
    st.instance_id = f->instance_id;
    st.run_count = ++f->run_count;
    st.last_seq = f->next_seq - 1;
    st.min_valid_seq = f->nring ? f->segs[f->tail].seq : f->next_seq;
    st.time = (uint64_t)flash_now(f);
    st.map_first_seg = FLASH_STATE_NO_SNAPSHOT;
    f->ck_state = st;
    return flash_write_state(f, &st, err, errlen);
}

/* The segment size of a new format. Given (--flash-segment-size): that one.
 * Else the configured size (the default, 8 MiB) halved while the file (all
 * members together) would hold fewer than FLASH_AUTO_SEGMENTS segments, down
 * to FLASH_AUTO_MIN_SEGMENT (never below 4 blocks). Why: reclaim frees one
 * segment at a time and keeps one free (the reserve), so on a small file 8
 * MiB segments leave an eighth of it unused and make reclaim coarse, and the
 * builders and reclaim's buffer are segment-sized. Measured (bench/RESULTS.md
 * "default segment size"): -m 16 with 64 MiB of flash, cache-aside misses
 * 7.38% with 8 MiB segments, 5.73% (the compulsory floor) with 1-4 MiB, and
 * memory_outside_limit 52.0 -> 9.7 MB. Files of 512 MiB and more keep 8 MiB
 * segments (large writes, fewer segment table entries), unless a segment
 * would be more than 1/FLASH_AUTO_RAM_DIV of -m (s.ram_bytes): the two
 * builders and reclaim's buffer are three segments outside -m, and at -m 16
 * they were 24 MiB of a json8x load's 46 MiB peak with fast ingest (issue
 * 14 item 5). An existing file keeps the size it was made with
 * (adopt_superblock). */
static uint32_t new_segment_size(const flash_t *f)
{
    uint32_t seg = f->s.segment_size;
    if (f->s.segment_size_given)
        return seg;
    uint64_t total = devset_member_size(f->set) * devset_count(f->set);
    uint64_t ram = f->s.ram_bytes;
    while (seg / 2 >= FLASH_AUTO_MIN_SEGMENT && (seg / 2) % FLASH_IO_ALIGN == 0 &&
           seg / 2 >= 4 * f->s.block_size &&
           (total / seg < FLASH_AUTO_SEGMENTS || (ram && seg > ram / FLASH_AUTO_RAM_DIV)))
        seg /= 2;
    return seg;
}

/* The geometry of the new format in f->sb (no IO). */
static flash_status_e plan_format(flash_t *f, char *err, size_t errlen)
{
    uint32_t segsize = new_segment_size(f);
    uint64_t id = 0;
    if (getrandom(&id, sizeof id, 0) != (ssize_t)sizeof id)
        id = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)f;
    f->instance_id = id;
    f->run_count = 1;
    uint64_t now = (uint64_t)flash_now(f);
    uint32_t align = devset_block_size(f->set);
    uint64_t logical = devset_logical_size(f->set, FLASH_HEADER_AREA, segsize);
    flash_sb_status_e ss = logical == 0 ? FLASH_SB_ETOOSMALL
                         : flash_sb_init(&f->sb, logical, segsize,
                                         align, f->s.block_size, now, id);
    if (ss == FLASH_SB_OK && f->sb.segment_count < FLASH_MIN_SEGMENTS)
        ss = FLASH_SB_ETOOSMALL;
    if (ss != FLASH_SB_OK) {
        flash_seterr(err, errlen, "%s: size %llu bytes is too small or invalid for segments of "
               "%u bytes: need at least %u segments plus %u header bytes (%s)",
               f->path, (unsigned long long)devset_member_size(f->set), segsize,
               FLASH_MIN_SEGMENTS, FLASH_HEADER_AREA, flash_sb_strerror(ss));
        return FLASH_EINVAL;
    }
    flash_sb_set_member(&f->sb, 0, devset_count(f->set), devset_member_size(f->set));
    devset_layout(f->set, f->sb.data_offset, f->sb.segment_size);
    return FLASH_OK;
}

/* Writes the superblock (f->sb, plan_format) and a RUNNING state record
 * (format.h): the first write to the device of this start. */
static flash_status_e format_device(flash_t *f, char *err, size_t errlen)
{
    uint64_t id = f->instance_id;
    uint64_t now = f->sb.created;
    uint8_t *buf = device_buf_alloc(FLASH_HEADER_AREA);
    if (!buf) {
        flash_seterr(err, errlen, "%s: out of memory", f->path);
        return FLASH_ENOMEM;
    }
    flash_sb_encode(&f->sb, buf);
    flash_state_t st;
    memset(&st, 0, sizeof st);
    st.version = FLASH_FORMAT_VERSION;
    st.state = FLASH_STATE_RUNNING;
    st.instance_id = id;
    st.run_count = 1;
    st.min_valid_seq = 1;
    st.time = now;
    st.map_first_seg = FLASH_STATE_NO_SNAPSHOT;
    f->ck_state = st;
    flash_state_encode(&st, buf + FLASH_STATE_OFFSET);
    char e2[256];
    device_status_e ds = DEVICE_OK;
    /* members 1.. first, member 0 (the state record) last: a start that
     * fails between them leaves member 0 as it was, or every member new */
    for (unsigned m = devset_count(f->set); ds == DEVICE_OK && m-- > 0;) {
        flash_sb_t sb = f->sb;
        flash_sb_set_member(&sb, m, devset_count(f->set), devset_member_size(f->set));
        memset(buf, 0, FLASH_SB_LEN);
        flash_sb_encode(&sb, buf);
        if (m > 0)
            memset(buf + FLASH_STATE_OFFSET, 0, FLASH_IO_ALIGN);
        else
            flash_state_encode(&st, buf + FLASH_STATE_OFFSET);
        ds = device_pwrite(devset_member(f->set, m), buf, FLASH_HEADER_AREA, 0, e2, sizeof e2);
    }
    device_buf_free(buf);
    if (ds != DEVICE_OK) {
        flash_seterr(err, errlen, "%s", e2);
        return from_device(ds);
    }
    return FLASH_OK;
}

/* The trainer's callback (its own thread): the slot reaches the device
 * before the dictionary is published, so no block names a slot the device
 * lacks (format.h DICTIONARY SLOT). */
static void dict_ready(void *arg, flash_dict_t *d, flash_dict_status_e st)
{
    flash_t *f = arg;
    if (!d) {
        flash_log(f, "%s: no compression dictionary (%s); blocks are compressed "
                  "without one", f->path, flash_dict_strerror(st));
        return;
    }
    uint8_t *buf = device_buf_alloc(FLASH_DICT_SLOT_SIZE);
    char e2[256] = "out of memory";
    device_status_e ds = DEVICE_ENOMEM;
    if (buf) {
        memset(buf, 0, FLASH_DICT_SLOT_SIZE);
        flash_dict_slot_encode(d, f->instance_id, buf);
        ds = devset_pwrite(f->set, buf, FLASH_DICT_SLOT_SIZE,
                           FLASH_DICT_OFFSET + (uint64_t)d->slot * FLASH_DICT_SLOT_SIZE,
                           e2, sizeof e2);
        device_buf_free(buf);
    }
    if (ds != DEVICE_OK) {
        flash_log(f, "%s: cannot write the compression dictionary (%s); blocks are "
                  "compressed without one", f->path, e2);
        flash_dict_destroy(&d);
        return;
    }
    uint32_t len = d->len, n = d->samples, sb = d->sample_bytes;
    if (flash_dicts_publish(&f->dicts, d, true) != FLASH_DICT_OK) {
        flash_dict_destroy(&d);
        return;
    }
    flash_log(f, "%s: compression dictionary of %u bytes trained on %u values (%u "
              "bytes); new blocks use it", f->path, len, n, sb);
}

static flash_status_e alloc_parts(flash_t *f, char *err, size_t errlen)
{
    f->nseg = f->sb.segment_count;
    f->segsize = f->sb.segment_size;
    f->max_record = (uint32_t)flash_seg_max_record(f->segsize);
    f->reserve = f->s.reserve_segments ? f->s.reserve_segments : 1;
    if (f->reserve > f->nseg - 2)
        f->reserve = f->nseg - 2;
    f->rewrite_pct = f->s.rewrite_pct > FLASH_MAX_REWRITE_PCT ? FLASH_MAX_REWRITE_PCT
                                                              : f->s.rewrite_pct;
    f->segs = calloc(f->nseg, sizeof *f->segs);
    f->qcap = f->s.queue_items;
    f->q = calloc(f->qcap, sizeof *f->q);
    /* not zeroed (device_buf_alloc would touch all of it): reclaim reads a
     * segment into it before any use, so it costs RSS only once reclaim
     * runs, not on a flash tier that never fills */
    if (posix_memalign((void **)&f->rbuf, FLASH_IO_ALIGN, f->segsize) != 0)
        f->rbuf = NULL;
    f->rscratch = malloc(f->max_record);
    /* d_hcount is u16: listed + running entries stay below 65536 */
    unsigned dmax = 65535u - FLASH_DONE_CHUNK;
    bool done_ok = flash_done_init(f, f->qcap < dmax ? f->qcap : dmax);
    f->cctx = ZSTD_createCCtx();
    f->wdctx = ZSTD_createDCtx();
    if (!f->segs || !f->q || !f->rbuf || !f->rscratch || !f->cctx || !f->wdctx || !done_ok) {
        flash_seterr(err, errlen, "%s: out of memory", f->path);
        return FLASH_ENOMEM;
    }
    for (uint32_t i = 0; i < f->nseg; i++)
        f->segs[i].bld = -1;
    uint64_t cap = f->s.index_capacity ? f->s.index_capacity : f->sb.device_size / FLASH_INDEX_MIN_ITEM_BYTES;
    if (cap < 64)
        cap = 64;
    index_status_e is = index_create(&f->idx, cap, f->s.tag_bits, NULL);
    if (is != INDEX_OK) {
        flash_seterr(err, errlen, "%s: cannot create an index for %llu items: %s", f->path,
               (unsigned long long)cap, index_strerror(is));
        return is == INDEX_ENOMEM ? FLASH_ENOMEM : FLASH_EINVAL;
    }
    flash_seg_config_t cfg = {
        .segment_size = f->segsize,
        .block_target = f->s.block_size,
        .level = f->s.compression_level,
        .cctx = f->s.compression_level == FLASH_LEVEL_NONE ? NULL : f->cctx,
        .dicts = &f->dicts,
    };
    if (f->s.dict_size > 0 && f->s.compression_level != FLASH_LEVEL_NONE) {
        flash_dict_train_cfg_t tc;
        flash_dict_train_cfg_default(&tc);
        tc.dict_max = f->s.dict_size;
        tc.slot = 0;
        tc.level = f->s.compression_level;
        tc.ready = dict_ready;
        tc.arg = f;
        flash_dict_status_e ds = flash_dict_trainer_create(&f->dtrain, &tc);
        if (ds != FLASH_DICT_OK) {
            flash_seterr(err, errlen, "%s: dictionary trainer: %s", f->path, flash_dict_strerror(ds));
            return ds == FLASH_DICT_ENOMEM ? FLASH_ENOMEM : FLASH_EINVAL;
        }
    }
    for (int i = 0; i < FLASH_NBUILDERS; i++) {
        if (flash_seg_create(&f->bld[i], &cfg) != FLASH_SEG_OK) {
            flash_seterr(err, errlen, "%s: cannot allocate a segment builder", f->path);
            return FLASH_ENOMEM;
        }
    }
    char e2[200];
    if (aio_ctx_create(&f->waio, 4, e2, sizeof e2) != AIO_OK) {
        flash_seterr(err, errlen, "%s: writer aio: %s", f->path, e2);
        return FLASH_EIO;
    }
    return FLASH_OK;
}

static void free_parts(flash_t *f)
{
    flash_ckpt_teardown(f);
    flash_dict_trainer_destroy(&f->dtrain);  /* joins a running training */
    flash_dicts_teardown(&f->dicts);
    aio_ctx_destroy(&f->waio);
    for (int i = 0; i < FLASH_NBUILDERS; i++)
        flash_seg_destroy(&f->bld[i]);
    index_destroy(&f->idx);
    ZSTD_freeCCtx(f->cctx);
    ZSTD_freeDCtx(f->wdctx);
    free(f->rscratch);
    device_buf_free(f->rbuf);
    free(f->q);
    flash_done_free(f);
    free(f->segs);
    devset_close(&f->set);
    free(f->path);
}

static void init_locks(flash_t *f)
{
    pthread_mutex_init(&f->seg_lock, NULL);
    pthread_cond_init(&f->seg_cond, NULL);
    pthread_mutex_init(&f->q_lock, NULL);
    pthread_mutex_init(&f->c_lock, NULL);
    pthread_mutex_init(&f->d_lock, NULL);
    pthread_cond_init(&f->d_cond, NULL);
    pthread_cond_init(&f->q_nonempty, NULL);
    pthread_cond_init(&f->q_nonfull, NULL);
    for (int i = 0; i < FLASH_NBUILDERS; i++)
        pthread_mutex_init(&f->bld_lock[i], NULL);
    for (int i = 0; i < FLASH_RM_STRIPES; i++)
        pthread_mutex_init(&f->rm_lock[i], NULL);
    pthread_mutex_init(&f->ck_lock, NULL);
    pthread_mutex_init(&f->ck_jlock, NULL);
    pthread_mutex_init(&f->ck_bklock, NULL);
}

static void destroy_locks(flash_t *f)
{
    pthread_mutex_destroy(&f->seg_lock);
    pthread_cond_destroy(&f->seg_cond);
    pthread_mutex_destroy(&f->q_lock);
    pthread_mutex_destroy(&f->c_lock);
    pthread_mutex_destroy(&f->d_lock);
    pthread_cond_destroy(&f->d_cond);
    pthread_cond_destroy(&f->q_nonempty);
    pthread_cond_destroy(&f->q_nonfull);
    for (int i = 0; i < FLASH_NBUILDERS; i++)
        pthread_mutex_destroy(&f->bld_lock[i]);
    for (int i = 0; i < FLASH_RM_STRIPES; i++)
        pthread_mutex_destroy(&f->rm_lock[i]);
    pthread_mutex_destroy(&f->ck_lock);
    pthread_mutex_destroy(&f->ck_jlock);
    pthread_mutex_destroy(&f->ck_bklock);
}

flash_status_e flash_create(flash_t **out, const flash_settings_t *s, char *err,
                            size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out || !s) {
        flash_seterr(err, errlen, "flash: invalid arguments");
        return FLASH_EINVAL;
    }
    *out = NULL;
    flash_status_e st = check_settings(s, err, errlen);
    if (st != FLASH_OK)
        return st;
    flash_t *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(s->path))) {
        free(f);
        flash_seterr(err, errlen, "%s: out of memory", s->path);
        return FLASH_ENOMEM;
    }
    f->s = *s;
    f->s.path = f->path;
    f->open_bld = -1;
    f->next_seq = 1;
    flash_dicts_init(&f->dicts);
    init_locks(f);
    /* every check and allocation before the first write, so a failed start
     * leaves an existing file as it was; a file this start created is
     * removed (device_discard) */
    char note[512], fail[512];
    note[0] = fail[0] = '\0';
    bool reset = false;
    st = open_device(f, &reset, note, sizeof note, fail, sizeof fail);
    /* our superblock with these settings' geometry: recovery decides what
     * to keep; else a new format (note says why) */
    bool reuse = false;
    if (st == FLASH_OK) {
        flash_sb_t sb0;
        int ex = examine_set(f, &sb0, note, sizeof note, fail, sizeof fail);
        if (ex < 0)
            st = FLASH_EFOREIGN;
        else if (ex > 0)
            reuse = adopt_superblock(f, &sb0, note, sizeof note);
    }
    if (st == FLASH_OK && !reuse)
        st = plan_format(f, fail, sizeof fail);
    if (st == FLASH_OK)
        st = alloc_parts(f, fail, sizeof fail);
    for (unsigned i = 0; st == FLASH_OK && reset && i < devset_count(f->set); i++) {
        device_t *dev = devset_member(f->set, i);
        if (device_kind(dev) == DEVICE_KIND_FOREIGN || device_kind(dev) == DEVICE_KIND_DAMAGED)
            st = from_device(device_reset(dev, fail, sizeof fail));
    }
    if (st == FLASH_OK && reuse) {
        st = flash_recover(f, note, sizeof note);
        if (st == FLASH_MISS) {
            /* not recoverable: a new format (another instance id, so no
             * segment of the old one is ever read); the note stays */
            st = plan_format(f, fail, sizeof fail);
            if (st == FLASH_OK)
                st = format_device(f, fail, sizeof fail);
        } else if (st == FLASH_OK) {
            st = start_run(f, fail, sizeof fail);
        } else {
            snprintf(fail, sizeof fail, "%s", note);
        }
    } else if (st == FLASH_OK) {
        st = format_device(f, fail, sizeof fail);
    }
    /* a recovered dictionary stays: no second training */
    if (st == FLASH_OK && flash_dicts_active(&f->dicts))
        flash_dict_trainer_destroy(&f->dtrain);
    if (st == FLASH_OK) {
        if (pthread_create(&f->writer, NULL, flash_writer_main, f) != 0) {
            snprintf(fail, sizeof fail, "%s: cannot start the writer thread", f->path);
            st = FLASH_ENOMEM;
        } else {
            pthread_setname_np(f->writer, "tc-flash-writer");
            f->writer_started = true;
        }
    }
    flash_seterr(err, errlen, "%s", st == FLASH_OK ? note : fail);
    if (st != FLASH_OK) {
        devset_discard(&f->set);
        free_parts(f);
        destroy_locks(f);
        free(f);
        return st;
    }
    *out = f;
    return FLASH_OK;
}

uint32_t flash_segment_size(const flash_t *f)
{
    return f->segsize;
}

bool flash_file_created(const flash_t *f)
{
    return devset_created(f->set);
}

void flash_destroy_unstarted(flash_t **pf)
{
    if (!pf || !*pf)
        return;
    flash_writer_stop(*pf);
    devset_discard(&(*pf)->set);
    flash_destroy(pf);
}

void flash_destroy(flash_t **pf)
{
    if (!pf || !*pf)
        return;
    flash_t *f = *pf;
    flash_writer_stop(f);
    free_parts(f);
    destroy_locks(f);
    free(f);
    *pf = NULL;
}

/* ---- stats ---- */

void flash_stats_snapshot(flash_t *f, flash_stats_t *out)
{
#define FLASH_STAT_LOAD(name, desc) \
    out->name = atomic_load_explicit(&f->st.name, memory_order_relaxed);
    FLASH_STATS_FIELDS(FLASH_STAT_LOAD)
#undef FLASH_STAT_LOAD
    index_stats_t is;
    index_stats(f->idx, &is);
    out->flash_items = is.items;
    out->flash_index_bytes = is.bytes;
    out->flash_index_capacity = is.capacity;
    out->flash_index_bytes_max = is.bytes_max;
    out->flash_index_capacity_max = is.capacity_max;
    out->flash_index_evictions = is.evictions;
    const flash_dict_t *d = flash_dicts_active(&f->dicts);
    out->flash_dict_bytes = d ? d->len : 0;
    out->flash_devices = devset_count(f->set);
    out->flash_devices_failed = devset_nfailed(f->set);
    pthread_mutex_lock(&f->seg_lock);
    out->flash_segments_used = f->nring;
    out->flash_segments_free = f->nseg - f->nring;
    out->flash_bytes_stored = 0;
    for (uint32_t i = 0; i < f->nseg; i++)
        if (f->segs[i].state == FSEG_USED || f->segs[i].state == FSEG_WRITING)
            out->flash_bytes_stored += f->segs[i].data_bytes;
    pthread_mutex_unlock(&f->seg_lock);
}
