/* tests/unit/flash/test_device.c - open/create/probe the flash device. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flash/device.h"
#include "flash/format.h"
#include "flash/superblock.h"

#include "flash_test.h"

#define MiB (1024u * 1024u)

static char dir[256];
static char errbuf[512];

static void make_dir(void)
{
    flash_test_dir(dir, sizeof dir, "tc-flash-dev");
}

static void rm_dir(void)
{
    flash_test_rm_dir(dir);
}

TestSuite(device, .init = make_dir, .fini = rm_dir);

static char *pathof(const char *name)
{
    static char p[300];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

/* Buffered write of a file with `len` bytes of `fill` and a patch at `off`. */
static void write_file(const char *path, size_t len, int fill, size_t off, const void *patch,
                       size_t plen)
{
    uint8_t *b = malloc(len);
    memset(b, fill, len);
    if (patch)
        memcpy(b + off, patch, plen);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(b, 1, len, f), len);
    fclose(f);
    free(b);
}

static off_t file_len(const char *path)
{
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    return sb.st_size;
}

Test(device, create_prealloc_write_reopen)
{
    char path[300];
    snprintf(path, sizeof path, "%s", pathof("flash.dat"));
    device_t *dev = NULL;
    cr_assert_eq(device_open(&dev, path, 2 * MiB, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    cr_assert(device_created(dev));
    cr_assert_not(device_is_blockdev(dev));
    cr_assert_eq(device_kind(dev), DEVICE_KIND_EMPTY);
    cr_assert_eq(device_size(dev), 2 * MiB);
    uint32_t bs = device_block_size(dev);
    cr_assert(bs == 512 || bs == 4096);
    printf("device: %s block size %u\n", path, bs);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(sb.st_size, 2 * MiB);
    cr_assert_geq((uint64_t)sb.st_blocks * 512, 2 * MiB, "not preallocated");
    cr_assert_geq(device_fd(dev), 0);
    cr_assert_str_eq(device_path(dev), path);

    /* the magic alone (plus a pattern) is a damaged superblock */
    uint8_t *buf = device_buf_alloc(8192);
    cr_assert_not_null(buf);
    cr_assert_eq((uintptr_t)buf % DEVICE_BUF_ALIGN, 0);
    memcpy(buf, FLASH_MAGIC, FLASH_MAGIC_LEN);
    for (int i = FLASH_MAGIC_LEN; i < 8192; i++)
        buf[i] = (uint8_t)i;
    cr_assert_eq(device_pwrite(dev, buf, 8192, 0, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    uint8_t *rd = device_buf_alloc(8192);
    cr_assert_eq(device_pread(dev, rd, 8192, 0, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    cr_assert_eq(memcmp(rd, buf, 8192), 0);
    device_kind_e k;
    const char *what;
    cr_assert_eq(device_probe(dev, &k, &what, NULL, 0), DEVICE_OK);
    cr_assert_eq(k, DEVICE_KIND_DAMAGED, "%s", what);
    cr_assert_not_null(strstr(what, "damaged"), "%s", what);
    /* a valid superblock: TIERCACHE, decoded */
    flash_sb_t fsb, got;
    cr_assert_eq(flash_sb_init(&fsb, 2 * MiB, 64 * 1024, 4096, 4096, 1234, 77), FLASH_SB_OK);
    memset(buf, 0, 4096);
    flash_sb_encode(&fsb, buf);
    cr_assert_eq(device_pwrite(dev, buf, 4096, 0, NULL, 0), DEVICE_OK);
    /* the last block of the device */
    cr_assert_eq(device_pwrite(dev, buf + 4096, 4096, 2 * MiB - 4096, NULL, 0), DEVICE_OK);
    cr_assert_eq(device_probe(dev, &k, &what, NULL, 0), DEVICE_OK);
    cr_assert_eq(k, DEVICE_KIND_TIERCACHE);
    cr_assert(device_superblock(dev, &got));
    cr_assert_eq(got.instance_id, 77);
    device_close(&dev);
    cr_assert_null(dev);
    device_close(&dev);

    /* reopen with size 0: the file's length, probed TIERCACHE */
    cr_assert_eq(device_open(&dev, path, 0, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    cr_assert_not(device_created(dev));
    cr_assert_eq(device_size(dev), 2 * MiB);
    cr_assert_eq(device_kind(dev), DEVICE_KIND_TIERCACHE);
    cr_assert_str_eq(device_kind_what(dev), "tiercache");
    memset(&got, 0, sizeof got);
    cr_assert(device_superblock(dev, &got));
    cr_assert_eq(got.segment_size, 64 * 1024);
    cr_assert_eq(got.segment_count, fsb.segment_count);
    cr_assert_eq(got.instance_id, 77);
    memset(rd, 0, 8192);
    cr_assert_eq(device_pread(dev, rd, 4096, 2 * MiB - 4096, NULL, 0), DEVICE_OK);
    cr_assert_eq(memcmp(rd, buf + 4096, 4096), 0);
    device_close(&dev);

    /* reopen larger: grown and preallocated */
    cr_assert_eq(device_open(&dev, path, 4 * MiB, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    cr_assert_eq(device_size(dev), 4 * MiB);
    cr_assert_eq(file_len(path), 4 * MiB);
    /* zero the header: the pattern at the old end is still data (its
     * first byte, (uint8_t)4096, is zero) */
    memset(buf, 0, 8192);
    cr_assert_eq(device_pwrite(dev, buf, 8192, 0, NULL, 0), DEVICE_OK);
    cr_assert_eq(device_probe(dev, &k, &what, NULL, 0), DEVICE_OK);
    cr_assert_eq(k, DEVICE_KIND_FOREIGN, "%s", what);
    cr_assert_str_eq(what, "non-zero data at byte 2093057");
    /* and that too: EMPTY again */
    cr_assert_eq(device_pwrite(dev, buf, 4096, 2 * MiB - 4096, NULL, 0), DEVICE_OK);
    cr_assert_eq(device_probe(dev, &k, &what, NULL, 0), DEVICE_OK);
    cr_assert_eq(k, DEVICE_KIND_EMPTY, "%s", what);
    cr_assert_str_eq(what, "empty");
    device_close(&dev);
    device_buf_free(buf);
    device_buf_free(rd);
}

Test(device, io_alignment_and_range)
{
    char path[300];
    snprintf(path, sizeof path, "%s", pathof("io.dat"));
    device_t *dev = NULL;
    cr_assert_eq(device_open(&dev, path, 1 * MiB, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    uint8_t *buf = device_buf_alloc(3 * 4096);
    cr_assert_eq(device_pread(dev, buf + 1, 4096, 0, errbuf, sizeof errbuf), DEVICE_EALIGN);
    cr_assert_not_null(strstr(errbuf, path), "%s", errbuf);
    cr_assert_eq(device_pread(dev, buf, 100, 0, NULL, 0), DEVICE_EALIGN);
    cr_assert_eq(device_pread(dev, buf, 4096, 100, NULL, 0), DEVICE_EALIGN);
    cr_assert_eq(device_pread(dev, buf, 0, 0, NULL, 0), DEVICE_EINVAL);
    cr_assert_eq(device_pread(dev, buf, 8192, 1 * MiB - 4096, errbuf, sizeof errbuf), DEVICE_ERANGE);
    cr_assert_not_null(strstr(errbuf, path));
    cr_assert_eq(device_pwrite(dev, buf, 4096, 1 * MiB, NULL, 0), DEVICE_ERANGE);
    cr_assert_eq(device_pwrite(dev, buf, 4096, UINT64_MAX - 4095, NULL, 0), DEVICE_ERANGE);
    device_close(&dev);
    device_buf_free(buf);
}

Test(device, probe_foreign_ext4_and_reset)
{
    char path[300];
    snprintf(path, sizeof path, "%s", pathof("ext4.img"));
    write_file(path, 1 * MiB, 0, 1080, "\x53\xef", 2);
    device_t *dev = NULL;
    cr_assert_eq(device_open(&dev, path, 2 * MiB, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    cr_assert_eq(device_kind(dev), DEVICE_KIND_FOREIGN);
    cr_assert_str_eq(device_kind_what(dev), "ext2/3/4 filesystem");
    cr_assert_eq(file_len(path), 1 * MiB, "a foreign file must not be modified by open");
    device_close(&dev);

    /* any non-zero byte in a regular file is foreign */
    write_file(path, 64 * 1024, 0, 60000, "x", 1);
    cr_assert_eq(device_open(&dev, path, 0, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    cr_assert_eq(device_kind(dev), DEVICE_KIND_FOREIGN);
    cr_assert_str_eq(device_kind_what(dev), "non-zero data");
    device_close(&dev);

    /* a short foreign file: reads past its end are ESHORT until reset */
    write_file(path, 4096, 0xff, 0, NULL, 0);
    cr_assert_eq(device_open(&dev, path, 1 * MiB, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    cr_assert_eq(device_kind(dev), DEVICE_KIND_FOREIGN);
    uint8_t *buf = device_buf_alloc(8192);
    cr_assert_eq(device_pread(dev, buf, 8192, 0, errbuf, sizeof errbuf), DEVICE_ESHORT);
    cr_assert_not_null(strstr(errbuf, path));
    cr_assert_eq(device_reset(dev, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    cr_assert_eq(device_kind(dev), DEVICE_KIND_EMPTY);
    cr_assert_eq(file_len(path), 1 * MiB);
    cr_assert_eq(device_pread(dev, buf, 8192, 0, NULL, 0), DEVICE_OK);
    for (int i = 0; i < 8192; i++)
        cr_assert_eq(buf[i], 0);
    device_buf_free(buf);
    device_close(&dev);

    /* all-zero existing file: EMPTY */
    write_file(path, 128 * 1024, 0, 0, NULL, 0);
    cr_assert_eq(device_open(&dev, path, 0, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    cr_assert_eq(device_kind(dev), DEVICE_KIND_EMPTY);
    cr_assert_eq(device_size(dev), 128 * 1024);
    device_close(&dev);

    /* zero-length existing file: EMPTY, preallocated to the size asked */
    write_file(path, 0, 0, 0, NULL, 0);
    cr_assert_eq(device_open(&dev, path, 1 * MiB, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    cr_assert_eq(device_kind(dev), DEVICE_KIND_EMPTY);
    cr_assert_eq(file_len(path), 1 * MiB);
    device_close(&dev);
}

Test(device, classify_signatures)
{
    static uint8_t b[DEVICE_PROBE_BYTES];
    const char *what = NULL;
    cr_assert_eq(device_classify(b, 0, &what), DEVICE_KIND_EMPTY);
    cr_assert_eq(device_classify(b, sizeof b, &what), DEVICE_KIND_EMPTY);
    cr_assert_str_eq(what, "empty");
    struct {
        size_t off;
        const char *sig;
        size_t len;
        const char *what;
    } sigs[] = {
        { 1080, "\x53\xef", 2, "ext2/3/4 filesystem" },
        { 0, "XFSB", 4, "XFS filesystem" },
        { 65600, "_BHRfS_M", 8, "btrfs filesystem" },
        { 510, "\x55\xaa", 2, "MBR partition table or boot sector" },
        { 512, "EFI PART", 8, "GPT partition table" },
        { 4086, "SWAPSPACE2", 10, "swap space" },
        { 0, "LUKS\xba\xbe", 6, "LUKS volume" },
        { 0, FLASH_MAGIC, FLASH_MAGIC_LEN, "tiercache" },
        { 30000, "\x01", 1, "non-zero data" },
    };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        memset(b, 0, sizeof b);
        memcpy(b + sigs[i].off, sigs[i].sig, sigs[i].len);
        device_kind_e k = device_classify(b, sizeof b, &what);
        cr_assert_str_eq(what, sigs[i].what);
        cr_assert_eq(k, strcmp(sigs[i].what, "tiercache") ? DEVICE_KIND_FOREIGN
                                                           : DEVICE_KIND_TIERCACHE);
    }
    /* GPT disks carry a protective MBR too: GPT wins */
    memset(b, 0, sizeof b);
    memcpy(b + 510, "\x55\xaa", 2);
    memcpy(b + 512, "EFI PART", 8);
    device_classify(b, sizeof b, &what);
    cr_assert_str_eq(what, "GPT partition table");
    /* a signature beyond a short buffer is not read */
    memset(b, 0, sizeof b);
    memcpy(b + 65600, "_BHRfS_M", 8);
    cr_assert_eq(device_classify(b, 65536, &what), DEVICE_KIND_EMPTY);
    cr_assert_str_eq(device_kind_name(DEVICE_KIND_FOREIGN), "foreign");
}

Test(device, bad_sizes)
{
    device_t *dev = NULL;
    char *path = pathof("bad.dat");
    cr_assert_eq(device_open(&dev, path, 1000, errbuf, sizeof errbuf), DEVICE_EBADSIZE);
    cr_assert_not_null(strstr(errbuf, path), "%s", errbuf);
    cr_assert_eq(device_open(&dev, path, 0, errbuf, sizeof errbuf), DEVICE_EBADSIZE);
    cr_assert_not_null(strstr(errbuf, path), "%s", errbuf);
    cr_assert_null(dev);
    cr_assert_neq(access(path, F_OK), 0, "a failed open must not leave a file");
    /* an existing empty file and no size */
    write_file(path, 0, 0, 0, NULL, 0);
    cr_assert_eq(device_open(&dev, path, 0, errbuf, sizeof errbuf), DEVICE_EBADSIZE);
    cr_assert_eq(access(path, F_OK), 0, "an existing file must not be removed");
    cr_assert_eq(device_open(&dev, NULL, 4096, errbuf, sizeof errbuf), DEVICE_EINVAL);
    cr_assert_eq(device_open(&dev, "", 4096, errbuf, sizeof errbuf), DEVICE_EINVAL);
    cr_assert_null(dev);
    cr_assert_str_eq(device_strerror(DEVICE_EBADSIZE), "bad size");
}

Test(device, unusable_paths)
{
    device_t *dev = NULL;
    cr_assert_eq(device_open(&dev, dir, 1 * MiB, errbuf, sizeof errbuf), DEVICE_ENOTSUP);
    cr_assert_not_null(strstr(errbuf, dir), "%s", errbuf);
    printf("directory: %s\n", errbuf);
    char *path = pathof("no/such/dir/flash.dat");
    cr_assert_eq(device_open(&dev, path, 1 * MiB, errbuf, sizeof errbuf), DEVICE_EOPEN);
    cr_assert_not_null(strstr(errbuf, path), "%s", errbuf);
    cr_assert_not_null(strstr(errbuf, "No such file"), "%s", errbuf);
    printf("missing dir: %s\n", errbuf);
    cr_assert_null(dev);
    /* a character device is neither a file nor a block device */
    cr_assert_eq(device_open(&dev, "/dev/null", 0, errbuf, sizeof errbuf), DEVICE_ENOTSUP);
    cr_assert_not_null(strstr(errbuf, "/dev/null"), "%s", errbuf);
}

/* The preallocation failure path (the file is removed, the message names
 * it): a file size limit makes posix_fallocate fail with EFBIG. (Real
 * ENOSPC is not provoked: it would fill a shared disk.) */
Test(device, prealloc_failure_cleans_up)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = { .rlim_cur = 256 * 1024, .rlim_max = RLIM_INFINITY };
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    char *path = pathof("big.dat");
    device_t *dev = NULL;
    device_status_e st = device_open(&dev, path, 4 * MiB, errbuf, sizeof errbuf);
    rl.rlim_cur = RLIM_INFINITY;
    setrlimit(RLIMIT_FSIZE, &rl);
    printf("prealloc: %s (%s)\n", errbuf, device_strerror(st));
    cr_assert(st == DEVICE_EPREALLOC || st == DEVICE_ENOSPC, "%d", st);
    cr_assert_not_null(strstr(errbuf, path), "%s", errbuf);
    cr_assert_null(dev);
    cr_assert_neq(access(path, F_OK), 0, "the created file must be removed");
}

/* tmpfs refused O_DIRECT before Linux 6.6: then the open must fail loudly. */
Test(device, tmpfs_odirect)
{
    struct stat sb;
    if (stat("/dev/shm", &sb) != 0 || !S_ISDIR(sb.st_mode))
        cr_skip_test("no /dev/shm");
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/tc-flash-test-%d", (int)getpid());
    device_t *dev = NULL;
    device_status_e st = device_open(&dev, path, 1 * MiB, errbuf, sizeof errbuf);
    if (st == DEVICE_OK) {
        printf("tmpfs accepts O_DIRECT here (block size %u)\n", device_block_size(dev));
        device_close(&dev);
        unlink(path);
        return;
    }
    printf("tmpfs: %s\n", errbuf);
    cr_assert_eq(st, DEVICE_ENODIRECT, "%s", errbuf);
    cr_assert_not_null(strstr(errbuf, path));
    cr_assert_neq(access(path, F_OK), 0);
}

/* ---- ownership: the deep probe, the damaged superblock, the hold ---- */

/* The whole file in a malloc'd buffer (*len its length). */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

/* A sparse file of `len` bytes with `n` bytes of patch at off. */
static void sparse_file(const char *path, off_t len, off_t off, const void *patch, size_t n)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    cr_assert(fd >= 0);
    cr_assert_eq(ftruncate(fd, len), 0);
    if (patch)
        cr_assert_eq(pwrite(fd, patch, n, off), (ssize_t)n);
    close(fd);
}

static blkcnt_t file_blocks(const char *path)
{
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    return sb.st_blocks;
}

Test(device, deep_data_in_sparse_file_is_foreign)
{
    char *path = pathof("deep.img");
    /* zero (a hole) in the first 68 KiB, one word of data 5 MiB in */
    sparse_file(path, 8 * MiB, 5 * MiB + 100, "user", 4);
    blkcnt_t blocks = file_blocks(path);
    size_t n0;
    uint8_t *before = slurp(path, &n0);
    device_t *dev = NULL;
    cr_assert_eq(device_open(&dev, path, 8 * MiB, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    cr_assert_eq(device_kind(dev), DEVICE_KIND_FOREIGN, "%s", device_kind_what(dev));
    cr_assert_str_eq(device_kind_what(dev), "non-zero data at byte 5242980");
    device_close(&dev);
    /* not preallocated, not written */
    cr_assert_eq(file_blocks(path), blocks);
    size_t n1;
    uint8_t *after = slurp(path, &n1);
    cr_assert_eq(n1, n0);
    cr_assert_eq(memcmp(before, after, n0), 0);
    free(before);
    free(after);
    /* the same as the last byte of a longer file, asked for a smaller size:
     * the whole file is probed, not just the part in use */
    sparse_file(path, 8 * MiB, 8 * MiB - 1, "\x01", 1);
    cr_assert_eq(device_open(&dev, path, 2 * MiB, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    cr_assert_eq(device_kind(dev), DEVICE_KIND_FOREIGN);
    cr_assert_str_eq(device_kind_what(dev), "non-zero data at byte 8388607");
    device_close(&dev);
}

Test(device, zero_files_are_empty_nonzero_last_byte_is_not)
{
    char *path = pathof("zero.img");
    /* preallocated (unwritten extents) */
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    cr_assert(fd >= 0);
    cr_assert_eq(posix_fallocate(fd, 0, 6 * MiB), 0);
    close(fd);
    device_t *dev = NULL;
    cr_assert_eq(device_open(&dev, path, 0, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    cr_assert_eq(device_kind(dev), DEVICE_KIND_EMPTY, "%s", device_kind_what(dev));
    device_close(&dev);
    /* written zeros (data extents, read whole) */
    write_file(path, 3 * MiB, 0, 0, NULL, 0);
    cr_assert_eq(device_open(&dev, path, 0, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    cr_assert_eq(device_kind(dev), DEVICE_KIND_EMPTY, "%s", device_kind_what(dev));
    device_close(&dev);
    /* written zeros but the very last byte; also at a length that is not a
     * multiple of the block size (read up to end of file) */
    size_t lens[] = { 3 * MiB, 3 * MiB + 4096 + 100 };
    for (size_t i = 0; i < 2; i++) {
        write_file(path, lens[i], 0, lens[i] - 1, "\x80", 1);
        cr_assert_eq(device_open(&dev, path, 2 * MiB, errbuf, sizeof errbuf), DEVICE_OK, "%s",
                     errbuf);
        cr_assert_eq(device_kind(dev), DEVICE_KIND_FOREIGN, "%zu: %s", lens[i],
                     device_kind_what(dev));
        char want[64];
        snprintf(want, sizeof want, "non-zero data at byte %zu", lens[i] - 1);
        cr_assert_str_eq(device_kind_what(dev), want);
        device_close(&dev);
        cr_assert_eq(file_len(path), (off_t)lens[i], "a foreign file must not change");
    }
    /* reset: usable, EMPTY (the old byte stays; the format ignores it) */
    cr_assert_eq(device_open(&dev, path, 4 * MiB, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    cr_assert_eq(device_reset(dev, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    cr_assert_eq(device_kind(dev), DEVICE_KIND_EMPTY);
    device_close(&dev);
}

/* Every byte of the 128-byte superblock flipped in turn: never TIERCACHE;
 * DAMAGED while the magic is intact, FOREIGN when the magic is hit; the
 * file is never changed by the open. */
Test(device, every_superblock_byte_damaged)
{
    char *path = pathof("sb.img");
    flash_sb_t sb;
    cr_assert_eq(flash_sb_init(&sb, 1 * MiB, 64 * 1024, 4096, 4096, 99, 0x1234), FLASH_SB_OK);
    uint8_t enc[FLASH_SB_LEN];
    flash_sb_encode(&sb, enc);
    device_t *dev = NULL;
    write_file(path, 1 * MiB, 0, 0, enc, sizeof enc);
    cr_assert_eq(device_open(&dev, path, 0, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    cr_assert_eq(device_kind(dev), DEVICE_KIND_TIERCACHE, "%s", device_kind_what(dev));
    device_close(&dev);
    for (size_t i = 0; i < FLASH_SB_LEN; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            uint8_t bad[FLASH_SB_LEN];
            memcpy(bad, enc, sizeof bad);
            bad[i] ^= (uint8_t)(1u << bit);
            write_file(path, 1 * MiB, 0, 0, bad, sizeof bad);
            cr_assert_eq(device_open(&dev, path, 0, errbuf, sizeof errbuf), DEVICE_OK, "%s",
                         errbuf);
            device_kind_e want = i < FLASH_MAGIC_LEN ? DEVICE_KIND_FOREIGN : DEVICE_KIND_DAMAGED;
            cr_assert_eq(device_kind(dev), want, "byte %zu bit %d: %s", i, bit,
                         device_kind_what(dev));
            flash_sb_t out;
            cr_assert_not(device_superblock(dev, &out));
            if (want == DEVICE_KIND_DAMAGED)
                cr_assert_not_null(strstr(device_kind_what(dev), "damaged"), "%s",
                                   device_kind_what(dev));
            device_close(&dev);
            size_t n;
            uint8_t *now = slurp(path, &n);
            cr_assert_eq(memcmp(now, bad, sizeof bad), 0, "byte %zu: file changed", i);
            free(now);
        }
    }
    /* a version this build cannot read is named */
    uint8_t v4[FLASH_SB_LEN];
    memcpy(v4, enc, sizeof v4);
    fl_put_u32(v4 + 16, FLASH_FORMAT_VERSION + 1);
    write_file(path, 1 * MiB, 0, 0, v4, sizeof v4);
    cr_assert_eq(device_open(&dev, path, 0, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    cr_assert_eq(device_kind(dev), DEVICE_KIND_DAMAGED);
    char want[32];
    snprintf(want, sizeof want, "format version %u", FLASH_FORMAT_VERSION + 1);
    cr_assert_not_null(strstr(device_kind_what(dev), want), "%s", device_kind_what(dev));
    device_close(&dev);
}

/* The hold: a second open of a held file is DEVICE_EBUSY, names the path
 * and the holder's PID, and changes nothing (no preallocation either). */
Test(device, held_file_is_refused_untouched)
{
    char path[300];
    snprintf(path, sizeof path, "%s", pathof("held.img"));
    device_t *a = NULL, *b = NULL;
    cr_assert_eq(device_open(&a, path, 1 * MiB, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    cr_assert_eq(device_open(&b, path, 2 * MiB, errbuf, sizeof errbuf), DEVICE_EBUSY);
    cr_assert_null(b);
    printf("held: %s\n", errbuf);
    cr_assert_not_null(strstr(errbuf, path), "%s", errbuf);
    char pid[32];
    snprintf(pid, sizeof pid, "PID %d", (int)getpid());
    cr_assert_not_null(strstr(errbuf, pid), "%s", errbuf);
    cr_assert_eq(file_len(path), 1 * MiB, "the refused open grew the file");
    cr_assert_eq(access(path, F_OK), 0);
    device_close(&a);
    cr_assert_eq(device_open(&b, path, 1 * MiB, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    device_close(&b);

    /* held by another process (a child holding flock): a sparse file the
     * refused open would otherwise preallocate and grow */
    char *sp = pathof("held-sparse.img");
    sparse_file(sp, 1 * MiB, 0, NULL, 0);
    blkcnt_t blocks = file_blocks(sp);
    int up[2], down[2]; /* child -> parent: locked; parent -> child: go */
    cr_assert_eq(pipe(up), 0);
    cr_assert_eq(pipe(down), 0);
    pid_t child = fork();
    cr_assert(child >= 0);
    if (child == 0) {
        int fd = open(sp, O_RDWR);
        char c = flock(fd, LOCK_EX) == 0 ? 'y' : 'n';
        if (write(up[1], &c, 1) != 1)
            _exit(1);
        char x;
        (void)!read(down[0], &x, 1); /* until the parent says so (or exits) */
        _exit(0);
    }
    close(up[1]);
    close(down[0]);
    char c = 0;
    cr_assert_eq(read(up[0], &c, 1), 1);
    cr_assert_eq(c, 'y');
    device_status_e st = device_open(&b, sp, 4 * MiB, errbuf, sizeof errbuf);
    cr_assert_eq(write(down[1], "x", 1), 1);
    int ws;
    waitpid(child, &ws, 0);
    close(up[0]);
    close(down[1]);
    cr_assert_eq(st, DEVICE_EBUSY, "%s", errbuf);
    snprintf(pid, sizeof pid, "PID %d", (int)child);
    cr_assert_not_null(strstr(errbuf, pid), "%s", errbuf);
    cr_assert_eq(file_len(sp), 1 * MiB);
    cr_assert_eq(file_blocks(sp), blocks, "the refused open preallocated");
    /* the holder is gone: the lock went with it */
    cr_assert_eq(device_open(&b, sp, 4 * MiB, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    device_close(&b);
}

/* device_discard removes only a file the open created. */
Test(device, discard_removes_only_created)
{
    char path[300];
    snprintf(path, sizeof path, "%s", pathof("disc.img"));
    device_t *dev = NULL;
    cr_assert_eq(device_open(&dev, path, 1 * MiB, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    cr_assert(device_created(dev));
    device_discard(&dev);
    cr_assert_null(dev);
    cr_assert_neq(access(path, F_OK), 0, "a created file must go");
    write_file(path, 1 * MiB, 0, 0, NULL, 0);
    cr_assert_eq(device_open(&dev, path, 2 * MiB, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    cr_assert_not(device_created(dev));
    device_discard(&dev);
    cr_assert_eq(access(path, F_OK), 0, "an existing file must stay");
    device_discard(&dev); /* NULL-safe */
}
