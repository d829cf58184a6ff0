/* tests/unit/flash/test_devset.c - the device set: offset mapping, split
 * IO, member superblocks, start checks (reordered / missing / foreign
 * member) and a failed member. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flash/devset.h"
#include "flash/flash.h"
#include "flash/format.h"
#include "flash/superblock.h"

#include "flash_test.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
#define SEG (64u * KiB)
#define H FLASH_HEADER_AREA

static char dir[256];
static char err[512];

static void make_dir(void)
{
    flash_test_dir(dir, sizeof dir, "tc-devset");
}

static void rm_dir(void)
{
    flash_test_rm_dir(dir);
}

TestSuite(devset, .init = make_dir, .fini = rm_dir);

/* "dir/a,dir/b,..." for the given names. */
static const char *paths(const char *a, const char *b, const char *c)
{
    static char p[1024];
    int n = snprintf(p, sizeof p, "%s/%s", dir, a);
    if (b)
        n += snprintf(p + n, sizeof p - (size_t)n, ",%s/%s", dir, b);
    if (c)
        snprintf(p + n, sizeof p - (size_t)n, ",%s/%s", dir, c);
    return p;
}

static const char *one(const char *name)
{
    static char p[300];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

Test(devset, mapping_segments_alternate)
{
    devset_t *s = NULL;
    cr_assert_eq(devset_open(&s, paths("m0", "m1", "m2"), 2 * MiB, err, sizeof err), DEVICE_OK,
                 "%s", err);
    cr_assert_eq(devset_count(s), 3);
    /* k = (2 MiB - H) / SEG slots per member */
    uint64_t k = (2 * MiB - H) / SEG;
    cr_assert_eq(devset_logical_size(s, H, SEG), H + 3 * k * SEG);
    devset_layout(s, H, SEG);
    for (uint32_t i = 0; i < 3 * k; i++) {
        cr_assert_eq(devset_member_of_seg(s, i), i % 3);
        int fd = -1;
        uint64_t phys = 0, off = H + (uint64_t)i * SEG;
        cr_assert(devset_map(s, off + 512, 4096, &fd, &phys));
        cr_assert_eq(fd, device_fd(devset_member(s, i % 3)));
        cr_assert_eq(phys, H + (i / 3) * (uint64_t)SEG + 512, "segment %u", i);
        /* a block never crosses a segment: such a range does not map */
        cr_assert_not(devset_map(s, off + SEG - 4096, 8192, &fd, &phys));
    }
    /* the header area is member 0's */
    int fd = -1;
    uint64_t phys = 0;
    cr_assert(devset_map(s, FLASH_STATE_OFFSET, 4096, &fd, &phys));
    cr_assert_eq(fd, device_fd(devset_member(s, 0)));
    cr_assert_eq(phys, FLASH_STATE_OFFSET);
    cr_assert_eq(devset_member_of(s, 0), 0);
    devset_close(&s);
}

Test(devset, one_member_is_the_identity)
{
    devset_t *s = NULL;
    cr_assert_eq(devset_open(&s, one("single"), 1 * MiB, err, sizeof err), DEVICE_OK, "%s", err);
    cr_assert_eq(devset_logical_size(s, H, SEG), 1 * MiB); /* the file's size, as before */
    devset_layout(s, H, SEG);
    int fd;
    uint64_t phys;
    cr_assert(devset_map(s, H + 5 * SEG + 4096, 4096, &fd, &phys));
    cr_assert_eq(phys, H + 5 * SEG + 4096);
    /* a single member is never marked failed (the store's old handling) */
    cr_assert_not(devset_fail(s, 0, "test"));
    cr_assert_not(devset_failed(s, 0));
    devset_close(&s);
}

Test(devset, split_io_at_segment_boundaries)
{
    devset_t *s = NULL;
    cr_assert_eq(devset_open(&s, paths("s0", "s1", NULL), 2 * MiB, err, sizeof err), DEVICE_OK,
                 "%s", err);
    devset_layout(s, H, SEG);
    /* 3 segments' worth from the middle of segment 1: segments 1..4 */
    size_t len = 3 * SEG;
    uint64_t off = H + SEG + SEG / 2;
    uint8_t *w = device_buf_alloc(len), *r = device_buf_alloc(len), *p = device_buf_alloc(SEG);
    for (size_t i = 0; i < len; i++)
        w[i] = (uint8_t)(i * 7 + i / 4096);
    cr_assert_eq(devset_pwrite(s, w, len, off, err, sizeof err), DEVICE_OK, "%s", err);
    cr_assert_eq(devset_pread(s, r, len, off, err, sizeof err), DEVICE_OK, "%s", err);
    cr_assert_eq(memcmp(w, r, len), 0);
    /* physically: the second half of seg 1 is member 1 slot 0; seg 2 is
     * member 0 slot 1; seg 3 member 1 slot 1; half of seg 4 member 0 slot 2 */
    struct { unsigned m; uint64_t phys; size_t from, n; } parts[] = {
        { 1, H + SEG / 2, 0, SEG / 2 },
        { 0, H + SEG, SEG / 2, SEG },
        { 1, H + SEG, SEG / 2 + SEG, SEG },
        { 0, H + 2 * SEG, SEG / 2 + 2 * SEG, SEG / 2 },
    };
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(device_pread(devset_member(s, parts[i].m), p, parts[i].n, parts[i].phys,
                                  err, sizeof err), DEVICE_OK, "%s", err);
        cr_assert_eq(memcmp(p, w + parts[i].from, parts[i].n), 0, "part %zu", i);
    }
    device_buf_free(w);
    device_buf_free(r);
    device_buf_free(p);
    devset_close(&s);
}

Test(devset, open_refuses_bad_lists)
{
    devset_t *s = NULL;
    cr_assert_eq(devset_open(&s, paths("d", "d", NULL), 1 * MiB, err, sizeof err), DEVICE_EINVAL);
    cr_assert(strstr(err, "twice"), "%s", err);
    /* the same file under another name */
    int fd = open(one("same"), O_CREAT | O_RDWR, 0600);
    cr_assert_geq(fd, 0);
    close(fd);
    char two[700];
    snprintf(two, sizeof two, "%s,%s/./same", one("same"), dir);
    cr_assert_eq(devset_open(&s, two, 1 * MiB, err, sizeof err), DEVICE_EINVAL);
    cr_assert(strstr(err, "twice"), "%s", err);
    char p[600];
    snprintf(p, sizeof p, "%s,", one("e"));
    cr_assert_eq(devset_open(&s, p, 1 * MiB, err, sizeof err), DEVICE_EINVAL);
    cr_assert_null(s);
    /* a member that cannot be opened: nothing stays open or created */
    snprintf(p, sizeof p, "%s,%s", one("created"), dir); /* a directory */
    cr_assert_neq(devset_open(&s, p, 1 * MiB, err, sizeof err), DEVICE_OK);
    cr_assert(strstr(err, dir), "%s", err);
    struct stat st;
    cr_assert_neq(stat(one("created"), &st), 0, "the first member was left behind");
    /* the same member held by another set: busy */
    devset_t *a = NULL;
    cr_assert_eq(devset_open(&a, paths("h0", "h1", NULL), 1 * MiB, err, sizeof err), DEVICE_OK);
    cr_assert_eq(devset_open(&s, paths("h2", "h1", NULL), 1 * MiB, err, sizeof err),
                 DEVICE_EBUSY);
    cr_assert(strstr(err, "h1"), "%s", err);
    devset_close(&a);
}

Test(devset, member_superblocks)
{
    flash_sb_t sb, out;
    cr_assert_eq(flash_sb_init(&sb, H + 4 * (uint64_t)SEG, SEG, 512, 4096, 1, 0x1234), FLASH_SB_OK);
    cr_assert_eq(sb.segment_count, 4);
    uint8_t buf[FLASH_SB_LEN];
    /* single device: features 0, bytes 76..119 zero (format 4 as before) */
    flash_sb_encode(&sb, buf);
    for (size_t i = 76; i < 120; i++)
        cr_assert_eq(buf[i], 0);
    cr_assert_eq(flash_sb_decode(buf, sizeof buf, &out), FLASH_SB_OK);
    cr_assert_eq(out.member_count, 1);
    /* member 1 of 2 */
    flash_sb_set_member(&sb, 1, 2, H + 2 * (uint64_t)SEG);
    flash_sb_encode(&sb, buf);
    cr_assert_eq(fl_get_u32(buf + 72), FLASH_FEATURE_DEVSET);
    cr_assert_eq(flash_sb_decode(buf, sizeof buf, &out), FLASH_SB_OK);
    cr_assert_eq(out.member_index, 1);
    cr_assert_eq(out.member_count, 2);
    cr_assert_eq(out.member_size, H + 2 * (uint64_t)SEG);
    cr_assert_eq(out.instance_id, 0x1234);
    /* an old build's rule (any feature bit: EVERSION) refuses a member:
     * here, any bit we do not know is refused the same way */
    flash_sb_t bad = sb;
    bad.features |= 0x4;
    flash_sb_encode(&bad, buf);
    cr_assert_eq(flash_sb_decode(buf, sizeof buf, &out), FLASH_SB_EVERSION);
    /* index >= count, a member too small for its slots */
    bad = sb;
    bad.member_index = 2;
    flash_sb_encode(&bad, buf);
    cr_assert_eq(flash_sb_decode(buf, sizeof buf, &out), FLASH_SB_EGEOMETRY);
    bad = sb;
    bad.member_size = H + SEG;
    flash_sb_encode(&bad, buf);
    cr_assert_eq(flash_sb_decode(buf, sizeof buf, &out), FLASH_SB_EGEOMETRY);
    /* back to one member: identical to a plain format-4 superblock */
    uint8_t plain[FLASH_SB_LEN];
    flash_sb_t p1;
    flash_sb_init(&p1, H + 4 * (uint64_t)SEG, SEG, 512, 4096, 1, 0x1234);
    flash_sb_encode(&p1, plain);
    flash_sb_set_member(&sb, 0, 1, 0);
    flash_sb_encode(&sb, buf);
    cr_assert_eq(memcmp(buf, plain, FLASH_SB_LEN), 0);
}

Test(devset, failed_member_refused_others_work)
{
    devset_t *s = NULL;
    cr_assert_eq(devset_open(&s, paths("f0", "f1", NULL), 2 * MiB, err, sizeof err), DEVICE_OK);
    devset_layout(s, H, SEG);
    uint8_t *b = device_buf_alloc(SEG);
    cr_assert_eq(devset_pwrite(s, b, 4096, H + 1 * SEG, err, sizeof err), DEVICE_OK);
    /* truncate member 1 under the set: its O_DIRECT read comes back short */
    cr_assert_eq(truncate(one("f1"), 0), 0);
    cr_assert_eq(devset_pread(s, b, 4096, H + 1 * SEG, err, sizeof err), DEVICE_ESHORT);
    cr_assert(devset_failed(s, 1));
    cr_assert_not(devset_failed(s, 0));
    cr_assert_eq(devset_nfailed(s), 1);
    /* from now on member 1 is refused without IO, member 0 works */
    cr_assert_eq(devset_pwrite(s, b, 4096, H + 3 * SEG, err, sizeof err), DEVICE_EIO);
    cr_assert(strstr(err, "f1"), "%s", err);
    int fd;
    uint64_t phys;
    cr_assert_not(devset_map(s, H + 3 * SEG, 4096, &fd, &phys));
    cr_assert(devset_map(s, H + 2 * SEG, 4096, &fd, &phys));
    cr_assert_eq(devset_pwrite(s, b, 4096, H + 2 * SEG, err, sizeof err), DEVICE_OK, "%s", err);
    cr_assert_eq(devset_pread(s, b, 4096, FLASH_STATE_OFFSET, err, sizeof err), DEVICE_OK);
    /* a range over both fails on the failed one */
    cr_assert_eq(devset_pread(s, b, 2 * SEG, H + 2 * SEG, err, sizeof err), DEVICE_EIO);
    cr_assert_not(devset_fail(s, 1, "again")); /* once */
    device_buf_free(b);
    devset_close(&s);
}

/* ---- start checks through the store ---- */

static void on_written(void *ctx, void *token, flash_status_e st)
{
    (void)ctx;
    (void)token;
    (void)st;
}

static uint32_t seen_segsize;

static uint64_t ram_bytes_for_next; /* s.ram_bytes of the next start (0: not known) */

/* Starts a store of `size` bytes per file on p, records its segment size in
 * seen_segsize, stops it cleanly. */
static flash_status_e start_seg_sized(const char *p, uint64_t size, bool reset, uint32_t seg,
                                      bool given, char *e, size_t elen)
{
    flash_settings_t s;
    flash_settings_default(&s);
    s.ram_bytes = ram_bytes_for_next;
    s.path = p;
    s.size = size;
    s.segment_size = seg;
    s.segment_size_given = given;
    s.block_size = 4096;
    s.index_capacity = 10000;
    s.queue_items = 64;
    s.checkpoint_ms = 0;
    s.reset = reset;
    s.written = on_written;
    flash_t *f = NULL;
    flash_status_e st = flash_create(&f, &s, e, elen);
    if (st == FLASH_OK) {
        seen_segsize = flash_segment_size(f);
        /* a clean stop, so the next start may keep the set */
        flash_persist_state_t ps = { 0 };
        flash_persist_report_t rep;
        char e2[512];
        cr_assert_eq(flash_persist(f, &ps, &rep, e2, sizeof e2), FLASH_OK, "%s", e2);
        flash_destroy(&f);
    }
    return st;
}

static flash_status_e start_seg(const char *p, bool reset, uint32_t seg, bool given, char *e,
                                size_t elen)
{
    return start_seg_sized(p, 2 * MiB, reset, seg, given, e, elen);
}

static flash_status_e start(const char *p, bool reset, char *e, size_t elen)
{
    return start_seg(p, reset, SEG, true, e, elen);
}

static uint64_t instance_of(const char *name)
{
    devset_t *s = NULL;
    cr_assert_eq(devset_open(&s, one(name), 0, err, sizeof err), DEVICE_OK, "%s", err);
    flash_sb_t sb;
    uint64_t id = device_superblock(devset_member(s, 0), &sb) ? sb.instance_id : 0;
    devset_close(&s);
    return id;
}

Test(devset, start_checks)
{
    char e[1024];
    cr_assert_eq(start(paths("x0", "x1", NULL), false, e, sizeof e), FLASH_OK, "%s", e);
    uint64_t id = instance_of("x0");
    cr_assert_neq(id, 0);
    cr_assert_eq(instance_of("x1"), id);
    /* the same set again: kept */
    cr_assert_eq(start(paths("x0", "x1", NULL), false, e, sizeof e), FLASH_OK, "%s", e);
    cr_assert_eq(instance_of("x0"), id);
    /* reordered: taken in the recorded order, kept */
    cr_assert_eq(start(paths("x1", "x0", NULL), false, e, sizeof e), FLASH_OK, "%s", e);
    cr_assert_eq(instance_of("x0"), id);
    cr_assert_eq(instance_of("x1"), id);
    /* a member missing (only one given): refused, naming the set */
    cr_assert_eq(start(one("x0"), false, e, sizeof e), FLASH_EFOREIGN);
    cr_assert(strstr(e, "member 1 is not among"), "%s", e);
    cr_assert_eq(instance_of("x0"), id);
    /* a member swapped for one of another set: refused, naming both */
    cr_assert_eq(start(paths("y0", "y1", NULL), false, e, sizeof e), FLASH_OK, "%s", e);
    uint64_t id2 = instance_of("y0");
    cr_assert_eq(start(paths("x0", "y1", NULL), false, e, sizeof e), FLASH_EFOREIGN);
    cr_assert(strstr(e, "not one set") && strstr(e, "y1"), "%s", e);
    cr_assert_eq(instance_of("x0"), id);
    cr_assert_eq(instance_of("y1"), id2);
    /* an empty device in place of member 1 (replaced): reinitialised */
    cr_assert_eq(start(paths("x0", "fresh", NULL), false, e, sizeof e), FLASH_OK, "%s", e);
    cr_assert(strstr(e, "replaced"), "%s", e);
    uint64_t id3 = instance_of("x0");
    cr_assert_neq(id3, id);
    cr_assert_eq(instance_of("fresh"), id3);
    /* with --flash-reset a mixed set is reinitialised */
    cr_assert_eq(start(paths("x0", "y1", NULL), true, e, sizeof e), FLASH_OK, "%s", e);
    cr_assert_eq(instance_of("y1"), instance_of("x0"));
    /* a single-device file used as one member of a new set: its data is
     * not striped, so the set is new (logged) */
    cr_assert_eq(start(one("z"), false, e, sizeof e), FLASH_OK, "%s", e);
    cr_assert_eq(start(paths("z", "z1", NULL), false, e, sizeof e), FLASH_OK, "%s", e);
    cr_assert(strstr(e, "discarded") || strstr(e, "replaced"), "%s", e);
}

/* The segment size is the file's unless one is given (store.c
 * adopt_superblock): a new default does not wipe existing files. */
Test(devset, segment_size_from_the_superblock)
{
    char e[1024];
    cr_assert_eq(start_seg(one("seg"), false, SEG, true, e, sizeof e), FLASH_OK, "%s", e);
    uint64_t id = instance_of("seg");
    /* another default, not given: the file's 64 KiB segments are kept */
    cr_assert_eq(start_seg(one("seg"), false, 2 * SEG, false, e, sizeof e), FLASH_OK, "%s", e);
    cr_assert_eq(seen_segsize, SEG);
    cr_assert_eq(instance_of("seg"), id, "reinitialised: %s", e);
    /* the same for a set */
    cr_assert_eq(start_seg(paths("sg0", "sg1", NULL), false, SEG, true, e, sizeof e), FLASH_OK);
    uint64_t id2 = instance_of("sg0");
    cr_assert_eq(start_seg(paths("sg0", "sg1", NULL), false, 2 * SEG, false, e, sizeof e),
                 FLASH_OK, "%s", e);
    cr_assert_eq(seen_segsize, SEG);
    cr_assert_eq(instance_of("sg1"), id2);
    /* given: the file is made anew with the size asked */
    cr_assert_eq(start_seg(one("seg"), false, 2 * SEG, true, e, sizeof e), FLASH_OK, "%s", e);
    cr_assert_eq(seen_segsize, 2 * SEG);
    cr_assert_neq(instance_of("seg"), id);
    cr_assert(strstr(e, "geometry changed"), "%s", e);
}

/* Without a segment size given, a NEW file gets segments small enough for
 * FLASH_AUTO_SEGMENTS of them (halving the configured 8 MiB, not below 1
 * MiB); a given size is used as given; a file made before keeps its own. */
Test(devset, segment_size_scaled_to_a_new_file)
{
    char e[1024];
    const uint32_t def = 8 * MiB;
    struct { const char *name; uint64_t size; bool given; uint32_t want; } c[] = {
        {"s16", 16 * MiB, false, 1 * MiB},   /* 8 MiB segments would not fit 4 */
        {"s64", 64 * MiB, false, 1 * MiB},
        {"s128", 128 * MiB, false, 2 * MiB},
        {"s256", 256 * MiB, false, 4 * MiB},
        {"g64", 64 * MiB, true, 8 * MiB},    /* given: as given */
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        cr_assert_eq(start_seg_sized(one(c[i].name), c[i].size, false, def, c[i].given, e,
                                     sizeof e), FLASH_OK, "%s: %s", c[i].name, e);
        cr_assert_eq(seen_segsize, c[i].want, "%s: %u", c[i].name, seen_segsize);
        unlink(one(c[i].name));
    }
    /* a set: the members' bytes together (2 x 32 MiB = 64 MiB) */
    cr_assert_eq(start_seg_sized(paths("a0", "a1", NULL), 32 * MiB, false, def, false, e,
                                 sizeof e), FLASH_OK, "%s", e);
    cr_assert_eq(seen_segsize, 1 * MiB);
    /* made with 8 MiB segments (given), restarted without: kept */
    cr_assert_eq(start_seg_sized(one("k64"), 64 * MiB, false, def, true, e, sizeof e), FLASH_OK,
                 "%s", e);
    uint64_t id = instance_of("k64");
    cr_assert_eq(start_seg_sized(one("k64"), 64 * MiB, false, def, false, e, sizeof e), FLASH_OK,
                 "%s", e);
    cr_assert_eq(seen_segsize, 8 * MiB);
    cr_assert_eq(instance_of("k64"), id, "reinitialised: %s", e);
    /* and no more than a quarter of -m when the RAM tier says its size
     * (issue 14 item 5: the builders and reclaim's buffer are three
     * segments outside -m): 512 MiB would take 8 MiB segments */
    struct { const char *name; uint64_t ram; uint32_t want; } r[] = {
        {"r16", 16 * MiB, 4 * MiB},
        {"r8", 8 * MiB, 2 * MiB},
        {"r64", 64 * MiB, 8 * MiB}, /* a quarter is 16 MiB: the 8 MiB default */
        {"r0", 0, 8 * MiB},         /* not known: the file's rule only */
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        ram_bytes_for_next = r[i].ram;
        cr_assert_eq(start_seg_sized(one(r[i].name), 512 * MiB, false, def, false, e, sizeof e),
                     FLASH_OK, "%s: %s", r[i].name, e);
        cr_assert_eq(seen_segsize, r[i].want, "%s: %u", r[i].name, seen_segsize);
        unlink(one(r[i].name));
    }
    ram_bytes_for_next = 0;
}
