/* tests/unit/flash/test_device.c - open/create/probe the flash device. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flash/device.h"
#include "flash/format.h"

#define MiB (1024u * 1024u)

static char dir[256];
static char errbuf[512];

/* A scratch dir where O_DIRECT works: $TC_FLASH_TEST_DIR, the cwd (the build
 * dir under meson test), /var/tmp, /tmp. */
static void make_dir(void)
{
    const char *cands[] = { getenv("TC_FLASH_TEST_DIR"), ".", "/var/tmp", "/tmp" };
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        if (!cands[i])
            continue;
        snprintf(dir, sizeof dir, "%s/tc-flash-dev-XXXXXX", cands[i]);
        if (!mkdtemp(dir))
            continue;
        char probe[300];
        snprintf(probe, sizeof probe, "%s/probe", dir);
        int fd = open(probe, O_RDWR | O_CREAT | O_DIRECT, 0600);
        unlink(probe);
        if (fd >= 0) {
            close(fd);
            return;
        }
        rmdir(dir);
    }
    cr_assert_fail("no directory supports O_DIRECT");
}

static void rm_dir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
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

    /* write the magic (plus a pattern), read it back */
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
    /* the last block of the device */
    cr_assert_eq(device_pwrite(dev, buf + 4096, 4096, 2 * MiB - 4096, NULL, 0), DEVICE_OK);
    device_kind_e k;
    const char *what;
    cr_assert_eq(device_probe(dev, &k, &what, NULL, 0), DEVICE_OK);
    cr_assert_eq(k, DEVICE_KIND_TIERCACHE);
    device_close(&dev);
    cr_assert_null(dev);
    device_close(&dev);

    /* reopen with size 0: the file's length, probed TIERCACHE */
    cr_assert_eq(device_open(&dev, path, 0, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    cr_assert_not(device_created(dev));
    cr_assert_eq(device_size(dev), 2 * MiB);
    cr_assert_eq(device_kind(dev), DEVICE_KIND_TIERCACHE);
    cr_assert_str_eq(device_kind_what(dev), "tiercache");
    memset(rd, 0, 8192);
    cr_assert_eq(device_pread(dev, rd, 4096, 2 * MiB - 4096, NULL, 0), DEVICE_OK);
    cr_assert_eq(memcmp(rd, buf + 4096, 4096), 0);
    device_close(&dev);

    /* reopen larger: grown and preallocated */
    cr_assert_eq(device_open(&dev, path, 4 * MiB, errbuf, sizeof errbuf), DEVICE_OK, "%s", errbuf);
    cr_assert_eq(device_size(dev), 4 * MiB);
    cr_assert_eq(file_len(path), 4 * MiB);
    /* zero the header: EMPTY again */
    memset(buf, 0, 8192);
    cr_assert_eq(device_pwrite(dev, buf, 8192, 0, NULL, 0), DEVICE_OK);
    cr_assert_eq(device_probe(dev, &k, &what, NULL, 0), DEVICE_OK);
    cr_assert_eq(k, DEVICE_KIND_EMPTY);
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
