/*
 * tests/unit/flash/test_store.c - the flash tier end to end (flash.h):
 * create / refuse / reset / reinit, spill through the writer and read back
 * through flash_lookup + the worker's eventfd, remove / overwrite, reclaim
 * wrapping the ring, tag collisions, corruption, IO errors, back-pressure.
 *
 * Small geometry: a 16 MiB file in $TC_FLASH_TEST_DIR (or the cwd),
 * 256 KiB segments, 4 KiB blocks. A fake "RAM" keeps each spilled value in
 * the token until written_fn.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "flash/flash.h"
#include "flash/format.h"
#include "flash/superblock.h"

#include "flash_test.h"

#define FILE_SIZE (16u << 20)
#define SEG_SIZE (256u << 10)

/* ---- fixture ---- */

typedef struct pin {
    char key[64];
    size_t nkey;
    char *value;
    uint32_t nbytes;
} pin_t;

typedef struct env {
    char path[512];
    flash_t *f;
    flash_worker_t *w;
    _Atomic uint64_t written, written_ok;
    /* back-pressure test: written_fn blocks while `hold` */
    pthread_mutex_t m;
    pthread_cond_t c;
    bool hold;
    _Atomic int logs;
} env_t;

static env_t E;

static void on_written(void *ctx, void *token, flash_status_e st)
{
    env_t *e = ctx;
    pthread_mutex_lock(&e->m);
    while (e->hold)
        pthread_cond_wait(&e->c, &e->m);
    pthread_mutex_unlock(&e->m);
    pin_t *p = token;
    free(p->value);
    free(p);
    if (st == FLASH_OK)
        atomic_fetch_add(&e->written_ok, 1);
    atomic_fetch_add(&e->written, 1);
}

static void on_log(void *ctx, const char *line)
{
    env_t *e = ctx;
    atomic_fetch_add(&e->logs, 1);
    if (getenv("TC_TEST_LOG"))
        fprintf(stderr, "log: %s\n", line);
}

static void make_path(const char *name)
{
    const char *dir = getenv("TC_FLASH_TEST_DIR");
    char cwd[256];
    if (!dir || !*dir)
        dir = getcwd(cwd, sizeof cwd) ? cwd : ".";
    snprintf(E.path, sizeof E.path, "%s/tc_flash_store_%d_%s.img", dir, (int)getpid(), name);
    unlink(E.path);
}

static void settings(flash_settings_t *s)
{
    flash_settings_default(s);
    s->path = E.path;
    s->size = FILE_SIZE;
    s->segment_size = SEG_SIZE;
    s->block_size = 4096;
    s->io_depth = 8;
    s->read_bytes_cap = 64u << 10;
    s->index_capacity = 200000;
    s->queue_items = 256;
    s->stall_ms = 2000;
    s->min_ttl = 0;
    s->written = on_written;
    s->written_ctx = &E;
    s->log = on_log;
    s->log_ctx = &E;
    s->checkpoint_ms = 0; /* crash checkpoints: their own tests */
}

static void setup(void)
{
    memset(&E, 0, sizeof E);
    pthread_mutex_init(&E.m, NULL);
    pthread_cond_init(&E.c, NULL);
}

static void teardown(void)
{
    flash_worker_destroy(&E.w);
    flash_destroy(&E.f);
    if (E.path[0])
        unlink(E.path);
    pthread_mutex_destroy(&E.m);
    pthread_cond_destroy(&E.c);
}

/* Opens the test store; clock NULL = the store's default clock. */
static void open_store_clock(const char *name, unsigned tag_bits, flash_clock_fn clock)
{
    make_path(name);
    flash_settings_t s;
    settings(&s);
    if (tag_bits)
        s.tag_bits = tag_bits;
    if (clock)
        s.clock = clock;
    char err[512];
    flash_status_e st = flash_create(&E.f, &s, err, sizeof err);
    cr_assert_eq(st, FLASH_OK, "create: %s: %s", flash_strerror(st), err);
    cr_assert_eq(flash_worker_create(E.f, &E.w), FLASH_OK);
}

static void open_store(const char *name, unsigned tag_bits)
{
    open_store_clock(name, tag_bits, NULL);
}

/* ---- items ---- */


/* Enqueues key i, version ver, expiring at exptime (0 = never), stored at
 * store_time; the pin is freed by written_fn (or here on a refusal). */
static flash_status_e spill_at(unsigned i, unsigned ver, int64_t exptime, int64_t store_time)
{
    pin_t *p = calloc(1, sizeof *p);
    p->nkey = flash_test_key(p->key, sizeof p->key, i);
    p->value = malloc(1024);
    p->nbytes = flash_test_value(p->value, i, ver);
    flash_wr_item_t it = {
        .key = p->key, .nkey = p->nkey, .value = p->value, .nbytes = p->nbytes,
        .flags = i, .exptime = exptime, .cas = ((uint64_t)i << 16) | ver,
        .store_time = store_time, .hash = XXH3_64bits(p->key, p->nkey), .token = p,
    };
    flash_status_e st = flash_enqueue(E.f, &it);
    if (st != FLASH_OK) {
        free(p->value);
        free(p);
    }
    return st;
}

static flash_status_e spill(unsigned i, unsigned ver)
{
    return spill_at(i, ver, 0, time(NULL));
}

static uint64_t enqueued;

static void spill_ok(unsigned i, unsigned ver)
{
    flash_status_e st = spill(i, ver);
    cr_assert_eq(st, FLASH_OK, "enqueue %u: %s", i, flash_strerror(st));
    enqueued++;
}

static void wait_written(uint64_t n)
{
    for (int k = 0; k < 20000 && atomic_load(&E.written) < n; k++)
        usleep(1000);
    cr_assert_eq(atomic_load(&E.written), n, "written %llu of %llu",
                 (unsigned long long)atomic_load(&E.written), (unsigned long long)n);
}

/* ---- reads ---- */

typedef struct rd {
    unsigned i;
    bool done;
    flash_status_e st;
    bool match;       /* value equals the expected version */
    int got_ver;      /* version parsed from the value, -1 none */
    unsigned want_ver;
} rd_t;

static void on_read(void *ctx, flash_status_e st, const flash_hit_t *hit)
{
    rd_t *r = ctx;
    cr_assert(!r->done, "read_fn called twice");
    r->done = true;
    r->st = st;
    r->got_ver = -1;
    if (st != FLASH_OK)
        return;
    char key[64], val[1024];
    size_t nkey = flash_test_key(key, sizeof key, r->i);
    cr_assert_eq(hit->nkey, nkey);
    cr_assert(memcmp(hit->key, key, nkey) == 0);
    unsigned vi = 0, vv = 0;
    if (sscanf(hit->value, "v%u.%u|", &vi, &vv) == 2 && vi == r->i)
        r->got_ver = (int)vv;
    uint32_t n = flash_test_value(val, r->i, r->want_ver);
    r->match = hit->nbytes == n && memcmp(hit->value, val, n) == 0 &&
               hit->flags == r->i && hit->cas == (((uint64_t)r->i << 16) | r->want_ver);
    if (r->got_ver >= 0) { /* whatever version came back must be intact */
        uint32_t n2 = flash_test_value(val, r->i, (unsigned)r->got_ver);
        cr_assert(hit->nbytes == n2 && memcmp(hit->value, val, n2) == 0,
                  "key %u: corrupt value returned", r->i);
    } else {
        cr_assert_fail("key %u: value of another key returned", r->i);
    }
}

/* Looks up n keys (batches in flight at once); fills rds. */
static void read_keys(rd_t *rds, unsigned n)
{
    const unsigned batch = 48;
    for (unsigned b = 0; b < n; b += batch) {
        unsigned e = b + batch < n ? b + batch : n;
        unsigned pending = 0;
        for (unsigned k = b; k < e; k++) {
            char key[64];
            size_t nkey = flash_test_key(key, sizeof key, rds[k].i);
            rds[k].done = false;
            flash_status_e st = flash_lookup(E.w, XXH3_64bits(key, nkey), key, nkey,
                                             on_read, &rds[k]);
            if (st == FLASH_PENDING) {
                pending++;
            } else if (st == FLASH_MISS) {
                cr_assert(!rds[k].done);
                rds[k].done = true;
                rds[k].st = FLASH_MISS;
            } else {
                cr_assert_eq(st, FLASH_OK);
                cr_assert(rds[k].done);
            }
        }
        for (int spins = 0; pending; spins++) {
            cr_assert(spins < 10000, "reads never completed");
            struct pollfd p = { .fd = flash_worker_fd(E.w), .events = POLLIN };
            poll(&p, 1, 10);
            flash_worker_poll(E.w);
            pending = 0;
            for (unsigned k = b; k < e; k++)
                pending += !rds[k].done;
        }
    }
}

static flash_stats_t stats(void)
{
    flash_stats_t st;
    flash_stats_snapshot(E.f, &st);
    return st;
}

/* ---- create / refuse / reset / reinit ---- */

TestSuite(store, .init = setup, .fini = teardown, .timeout = 170);

Test(store, create_new_file)
{
    open_store("create", 0);
    struct stat sb;
    cr_assert_eq(stat(E.path, &sb), 0);
    cr_assert_eq((uint64_t)sb.st_size, FILE_SIZE);
    int fd = open(E.path, O_RDONLY);
    uint8_t buf[FLASH_HEADER_AREA];
    cr_assert_eq(pread(fd, buf, sizeof buf, 0), (ssize_t)sizeof buf);
    close(fd);
    flash_sb_t sbk;
    cr_assert_eq(flash_sb_decode(buf, sizeof buf, &sbk), FLASH_SB_OK);
    cr_assert_eq(sbk.segment_size, SEG_SIZE);
    cr_assert_eq(sbk.segment_count, (FILE_SIZE - FLASH_HEADER_AREA) / SEG_SIZE);
    flash_state_t st;
    cr_assert_eq(flash_state_decode(buf + FLASH_STATE_OFFSET, FLASH_STATE_LEN, &st),
                 FLASH_SB_OK);
    cr_assert_eq(st.state, FLASH_STATE_RUNNING);
    cr_assert_eq(st.instance_id, sbk.instance_id);
    flash_stats_t s = stats();
    cr_assert_eq(s.flash_segments_free, sbk.segment_count);
    cr_assert(flash_memory(E.f) > 2 * SEG_SIZE);
}

Test(store, refuse_foreign_then_reset)
{
    make_path("foreign");
    int fd = open(E.path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    cr_assert(fd >= 0);
    cr_assert_eq(ftruncate(fd, FILE_SIZE), 0);
    cr_assert_eq(pwrite(fd, "precious user data", 18, 100), 18);
    close(fd);
    flash_settings_t s;
    settings(&s);
    char err[512];
    cr_assert_eq(flash_create(&E.f, &s, err, sizeof err), FLASH_EFOREIGN);
    cr_assert_null(E.f);
    cr_assert(strstr(err, E.path) != NULL, "%s", err);
    char chk[32] = { 0 };
    fd = open(E.path, O_RDONLY);
    cr_assert_eq(pread(fd, chk, 18, 100), 18);
    close(fd);
    cr_assert_str_eq(chk, "precious user data");
    s.reset = true;
    cr_assert_eq(flash_create(&E.f, &s, err, sizeof err), FLASH_OK, "%s", err);
    cr_assert(err[0] != 0); /* a note for the log */
}

Test(store, too_small_and_unwritable)
{
    make_path("small");
    flash_settings_t s;
    settings(&s);
    s.size = FLASH_HEADER_AREA + 3 * SEG_SIZE;
    char err[512];
    cr_assert_eq(flash_create(&E.f, &s, err, sizeof err), FLASH_EINVAL);
    cr_assert(strstr(err, "too small") != NULL, "%s", err);
    unlink(E.path);
    s.size = FILE_SIZE;
    s.path = "/nonexistent-dir-tiercache/flash.img";
    flash_status_e st = flash_create(&E.f, &s, err, sizeof err);
    cr_assert_neq(st, FLASH_OK);
    cr_assert(strstr(err, "/nonexistent-dir-tiercache/flash.img") != NULL, "%s", err);
}

Test(store, admission)
{
    open_store("admit", 0);
    cr_assert_eq(flash_admit(E.f, 5, 100, 0), FLASH_OK);
    cr_assert_eq(flash_admit(E.f, 5, SEG_SIZE, 0), FLASH_EADMIT);
    flash_worker_destroy(&E.w);
    flash_destroy(&E.f);
    flash_settings_t s;
    settings(&s);
    s.min_item_size = 50;
    s.min_ttl = 10;
    char err[512];
    cr_assert_eq(flash_create(&E.f, &s, err, sizeof err), FLASH_OK, "%s", err);
    cr_assert_eq(flash_admit(E.f, 5, 10, 0), FLASH_EADMIT);
    cr_assert_eq(flash_admit(E.f, 5, 100, time(NULL) + 3), FLASH_EADMIT);
    cr_assert_eq(flash_admit(E.f, 5, 100, time(NULL) + 100), FLASH_OK);
    pin_t p = { .nkey = 1 };
    flash_wr_item_t it = { .key = "k", .nkey = 1, .value = "v", .nbytes = 1, .token = &p };
    cr_assert_eq(flash_enqueue(E.f, &it), FLASH_EADMIT);
    cr_assert_eq(stats().flash_drops_admission, 1);
}

/* ---- spill and read back ---- */

#define NKEYS 12000u /* ~12 segments of data: more than 8x what a segment holds */

static void spill_all(unsigned n, unsigned ver)
{
    for (unsigned i = 0; i < n; i++)
        spill_ok(i, ver);
    wait_written(enqueued);
}

static rd_t *read_all(unsigned n, const unsigned *want)
{
    rd_t *rds = calloc(n, sizeof *rds);
    for (unsigned i = 0; i < n; i++) {
        rds[i].i = i;
        rds[i].want_ver = want ? want[i] : 0;
    }
    read_keys(rds, n);
    return rds;
}

/* ---- ownership and failed starts (issue 10) ---- */

/* The file's bytes (NULL if absent); *len its length. */
static uint8_t *file_bytes(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    struct stat sb;
    cr_assert_eq(fstat(fd, &sb), 0);
    uint8_t *b = malloc((size_t)sb.st_size + 1);
    cr_assert_eq(pread(fd, b, (size_t)sb.st_size, 0), sb.st_size);
    close(fd);
    *len = (size_t)sb.st_size;
    return b;
}

static void assert_same_file(const uint8_t *before, size_t n0, const char *what)
{
    size_t n1 = 0;
    uint8_t *now = file_bytes(E.path, &n1);
    cr_assert_not_null(now, "%s: the file was removed", what);
    cr_assert_eq(n1, n0, "%s: size changed", what);
    cr_assert_eq(memcmp(now, before, n0), 0, "%s: content changed", what);
    free(now);
}

Test(store, second_open_is_refused_and_changes_nothing)
{
    open_store("held", 0);
    size_t n0;
    uint8_t *before = file_bytes(E.path, &n0);
    flash_settings_t s;
    settings(&s);
    s.reset = true; /* not even a reset gets past the hold */
    flash_t *g = NULL;
    char err[512];
    cr_assert_eq(flash_create(&g, &s, err, sizeof err), FLASH_EBUSY, "%s", err);
    cr_assert_null(g);
    cr_assert(strstr(err, E.path) != NULL, "%s", err);
    cr_assert(strstr(err, "in use") != NULL, "%s", err);
    cr_assert_str_eq(flash_strerror(FLASH_EBUSY), "flash path in use by another process");
    assert_same_file(before, n0, "second open");
    free(before);
    /* the first one still works */
    enqueued = 0;
    for (unsigned i = 0; i < 50; i++)
        spill_ok(i, 3);
    wait_written(enqueued);
    unsigned want[50];
    for (unsigned i = 0; i < 50; i++)
        want[i] = 3;
    rd_t *rds = read_all(50, want);
    for (unsigned i = 0; i < 50; i++)
        cr_assert(rds[i].st == FLASH_OK && rds[i].match, "key %u", i);
    free(rds);
    /* once it is closed, the path is free again */
    flash_worker_destroy(&E.w);
    flash_destroy(&E.f);
    cr_assert_eq(flash_create(&E.f, &s, err, sizeof err), FLASH_OK, "%s", err);
}

Test(store, damaged_superblock_refused_then_reset)
{
    open_store("damaged", 0);
    flash_worker_destroy(&E.w);
    flash_destroy(&E.f);
    /* one byte of a field (segment count), magic intact */
    int fd = open(E.path, O_RDWR);
    uint8_t b;
    cr_assert_eq(pread(fd, &b, 1, 44), 1);
    b ^= 0x10;
    cr_assert_eq(pwrite(fd, &b, 1, 44), 1);
    close(fd);
    size_t n0;
    uint8_t *before = file_bytes(E.path, &n0);
    flash_settings_t s;
    settings(&s);
    char err[512];
    cr_assert_eq(flash_create(&E.f, &s, err, sizeof err), FLASH_EDAMAGED, "%s", err);
    cr_assert_null(E.f);
    cr_assert(strstr(err, E.path) != NULL, "%s", err);
    cr_assert(strstr(err, "damaged") != NULL, "%s", err);
    cr_assert(strstr(err, "reinitialised") == NULL, "%s", err);
    assert_same_file(before, n0, "damaged superblock");
    free(before);
    /* every other byte of the 128-byte superblock, one at a time: refused
     * (damaged; foreign once the magic itself is hit), the file unchanged */
    fd = open(E.path, O_RDWR);
    cr_assert_eq(pwrite(fd, &(uint8_t){ (uint8_t)(b ^ 0x10) }, 1, 44), 1);
    close(fd);
    for (unsigned i = 0; i < FLASH_SB_LEN; i++) {
        uint8_t *good = file_bytes(E.path, &n0);
        fd = open(E.path, O_RDWR);
        uint8_t x = (uint8_t)(good[i] ^ 0x01);
        cr_assert_eq(pwrite(fd, &x, 1, i), 1);
        close(fd);
        before = file_bytes(E.path, &n0);
        flash_status_e st = flash_create(&E.f, &s, err, sizeof err);
        cr_assert_eq(st, i < FLASH_MAGIC_LEN ? FLASH_EFOREIGN : FLASH_EDAMAGED,
                     "byte %u: %s: %s", i, flash_strerror(st), err);
        cr_assert(strstr(err, "reinitialised") == NULL, "%s", err);
        assert_same_file(before, n0, "damaged superblock byte");
        free(before);
        fd = open(E.path, O_RDWR); /* repair for the next byte */
        cr_assert_eq(pwrite(fd, good + i, 1, i), 1);
        close(fd);
        free(good);
    }
    /* repaired: accepted as ours (an unclean stop before: nothing kept) */
    cr_assert_eq(flash_create(&E.f, &s, err, sizeof err), FLASH_OK, "%s", err);
    cr_assert(strstr(err, "did not stop cleanly") != NULL, "%s", err);
    flash_destroy(&E.f);
    /* damaged again, and a reset asked for: reinitialised */
    fd = open(E.path, O_RDWR);
    cr_assert_eq(pwrite(fd, &b, 1, 44), 1);
    close(fd);
    s.reset = true;
    cr_assert_eq(flash_create(&E.f, &s, err, sizeof err), FLASH_OK, "%s", err);
    cr_assert(strstr(err, "damaged") != NULL && strstr(err, "reinitialised") != NULL, "%s", err);
}

Test(store, foreign_data_deep_in_a_sparse_file)
{
    make_path("deep");
    int fd = open(E.path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    cr_assert(fd >= 0);
    cr_assert_eq(ftruncate(fd, FILE_SIZE), 0);
    cr_assert_eq(pwrite(fd, "precious", 8, 1u << 20), 8);
    close(fd);
    size_t n0;
    uint8_t *before = file_bytes(E.path, &n0);
    flash_settings_t s;
    settings(&s);
    char err[512];
    cr_assert_eq(flash_create(&E.f, &s, err, sizeof err), FLASH_EFOREIGN, "%s", err);
    cr_assert(strstr(err, "non-zero data at byte 1048576") != NULL, "%s", err);
    assert_same_file(before, n0, "foreign");
    free(before);
}

/* A start that fails (too small for the segment size) after the file was
 * created removes it; an existing file (ours, or foreign with a reset
 * asked for) stays byte for byte; no message says "reinitialised". */
Test(store, failed_start_cleans_up_and_says_only_what_happened)
{
    make_path("failnew");
    flash_settings_t s;
    settings(&s);
    s.size = FLASH_HEADER_AREA + 3 * SEG_SIZE;
    char err[512];
    cr_assert_eq(flash_create(&E.f, &s, err, sizeof err), FLASH_EINVAL);
    cr_assert(strstr(err, "too small") != NULL, "%s", err);
    cr_assert_neq(access(E.path, F_OK), 0, "the file this start created was left behind");

    open_store("failold", 0);
    flash_worker_destroy(&E.w);
    flash_destroy(&E.f);
    size_t n0;
    uint8_t *before = file_bytes(E.path, &n0);
    settings(&s);
    s.size = FLASH_HEADER_AREA + 3 * SEG_SIZE;
    cr_assert_eq(flash_create(&E.f, &s, err, sizeof err), FLASH_EINVAL);
    cr_assert(strstr(err, "too small") != NULL, "%s", err);
    cr_assert(strstr(err, "reinitialised") == NULL, "%s", err);
    assert_same_file(before, n0, "failed start on our file");
    free(before);
    /* the same with a reset asked for on foreign data: the reset waits for
     * every check */
    int fd = open(E.path, O_WRONLY | O_TRUNC);
    cr_assert_eq(pwrite(fd, "someone's data", 14, 0), 14);
    close(fd);
    before = file_bytes(E.path, &n0);
    s.reset = true;
    cr_assert_eq(flash_create(&E.f, &s, err, sizeof err), FLASH_EINVAL);
    cr_assert(strstr(err, "reinitialised") == NULL, "%s", err);
    assert_same_file(before, n0, "failed start with a reset");
    free(before);
}

/* Waits (bounded) until the collateral counter reaches `want` (the writer
 * counts a removal's collateral entries when it takes its tombstone). */
static uint64_t wait_collateral(uint64_t want)
{
    uint64_t c = 0;
    for (int k = 0; k < 3000 && (c = stats().flash_index_collateral) < want; k++)
        usleep(1000);
    usleep(20000); /* and nothing more comes */
    return stats().flash_index_collateral;
}

/* Issue 10: flash_remove of a key whose tag collides counts every OTHER
 * key's entry it removes as collateral: all of them for a key that never
 * was on flash (a brand-new key's set), all but its own copy otherwise.
 * 2-bit tags and a small index make collisions common. (It counted n - 1
 * of n removed slots in both cases: a brand-new key's single collision was
 * never counted.) */
Test(store, collateral_counts_every_other_keys_entry)
{
    make_path("collateral");
    flash_settings_t s;
    settings(&s);
    s.tag_bits = 2;
    s.index_capacity = 2000;
    char err[512];
    cr_assert_eq(flash_create(&E.f, &s, err, sizeof err), FLASH_OK, "%s", err);
    cr_assert_eq(flash_worker_create(E.f, &E.w), FLASH_OK);
    enqueued = 0;
    const unsigned n = 1500;
    for (unsigned i = 0; i < n; i++)
        spill_ok(i, 0);
    wait_written(enqueued);
    uint64_t want = stats().flash_index_collateral;
    unsigned hits_new = 0, hits_own = 0;
    /* spilled keys (the newest: the full index evicted the oldest): their
     * own copy (if the index still has it: a read finds it) is not
     * collateral, the rest is */
    unsigned owned = 0;
    for (unsigned i = n - 600; i < n; i++) {
        char key[64];
        size_t nk = flash_test_key(key, sizeof key, i);
        rd_t r = { .i = i };
        read_keys(&r, 1);
        bool own = r.st == FLASH_OK;
        uint64_t before = stats().flash_items;
        flash_remove(E.f, XXH3_64bits(key, nk));
        uint64_t gone = before - stats().flash_items;
        cr_assert(gone > 0 || !own, "key %u: its own entry was not removed", i);
        want += own ? gone - 1 : gone;
        owned += own;
        hits_own += own && gone > 1;
        if (i % 16 == 15) {
            uint64_t got = wait_collateral(want);
            cr_assert_eq(got, want, "spilled keys, after %u: %llu, want %llu", i + 1,
                         (unsigned long long)got, (unsigned long long)want);
        }
    }
    cr_assert_eq(wait_collateral(want), want, "spilled keys");
    /* brand-new keys: every slot they remove is another key's */
    for (unsigned j = 0; j < 400; j++) {
        char key[64];
        int nk = snprintf(key, sizeof key, "never-spilled-%u", j);
        uint64_t before = stats().flash_items;
        flash_remove(E.f, XXH3_64bits(key, (size_t)nk));
        uint64_t gone = before - stats().flash_items;
        want += gone;
        hits_new += gone > 0;
        if (j % 16 == 15) { /* let the writer keep up (it skips the check when behind) */
            uint64_t got = wait_collateral(want);
            cr_assert_eq(got, want, "brand-new keys, after %u: %llu, want %llu", j + 1,
                         (unsigned long long)got, (unsigned long long)want);
        }
    }
    cr_assert_eq(wait_collateral(want), want, "brand-new keys");
    cr_log_info("collateral: %u brand-new keys removed another key's entry; %u spilled "
                "keys had their own, %u of them removed more", hits_new, owned, hits_own);
    cr_assert_gt(hits_new, 5, "too few collisions to test anything");
    cr_assert_gt(owned, 50, "too few spilled keys left to test their own copies");
}

Test(store, spill_and_read_back)
{
    open_store("spill", 0);
    enqueued = 0;
    spill_all(NKEYS, 0);
    cr_assert_eq(atomic_load(&E.written_ok), NKEYS);
    flash_stats_t s = stats();
    cr_assert(s.flash_bytes_written >= 8 * SEG_SIZE, "written %llu",
              (unsigned long long)s.flash_bytes_written);
    cr_assert_eq(s.flash_items_written, NKEYS);
    cr_assert(s.flash_bytes_spilled > 0 && s.flash_bytes_spilled < s.flash_bytes_logical);
    rd_t *rds = read_all(NKEYS, NULL);
    unsigned miss = 0;
    for (unsigned i = 0; i < NKEYS; i++) {
        if (rds[i].st != FLASH_OK)
            miss++;
        else
            cr_assert(rds[i].match, "key %u: wrong value", i);
    }
    /* 14-bit tags, a roomy index: collateral drops only, very rare */
    cr_assert(miss < NKEYS / 200, "%u misses", miss);
    s = stats();
    cr_assert(s.flash_hits >= NKEYS - miss);
    cr_assert(s.flash_bytes_read > 0);
    cr_assert_eq(s.flash_checksum_failures, 0);
    free(rds);
}

/* Keys spilled together share blocks: looked up together (a multi-get),
 * each block is read and decoded once and every key still gets its own
 * value; looked up one by one, each key reads its block again. */
Test(store, one_read_per_block)
{
    open_store("perblock", 0);
    enqueued = 0;
    spill_all(NKEYS, 0);
    enum { N = 48 };
    rd_t rds[N];
    memset(rds, 0, sizeof rds);
    for (unsigned k = 0; k < N; k++)
        rds[k].i = k;
    uint64_t b0 = stats().flash_bytes_read;
    read_keys(rds, N); /* one batch: all lookups before any completion */
    uint64_t together = stats().flash_bytes_read - b0;
    for (unsigned k = 0; k < N; k++) {
        cr_assert_eq(rds[k].st, FLASH_OK, "key %u", k);
        cr_assert(rds[k].match, "key %u: wrong value", k);
    }
    b0 = stats().flash_bytes_read;
    for (unsigned k = 0; k < N; k++) {
        read_keys(&rds[k], 1);
        cr_assert(rds[k].st == FLASH_OK && rds[k].match, "key %u alone", k);
    }
    uint64_t alone = stats().flash_bytes_read - b0;
    /* ~8 values of 100-800 B per 4 KiB block: at least 3x fewer bytes */
    cr_assert(together > 0 && together * 3 < alone, "together %llu, alone %llu",
              (unsigned long long)together, (unsigned long long)alone);
}

/* Every 4th key leaves the index (a set or delete in RAM); every 8th is
 * then spilled again as version 1 (want[i] = 1), the others stay deleted
 * (want[i] = 99). Waits until the new copies are written. */
static void overwrite_or_delete_quarter(unsigned *want)
{
    for (unsigned i = 0; i < NKEYS; i += 4) {
        char key[64];
        size_t nkey = flash_test_key(key, sizeof key, i);
        flash_remove(E.f, XXH3_64bits(key, nkey));
        if (i % 8 == 0) {
            spill_ok(i, 1); /* the newer copy, evicted again */
            want[i] = 1;
        } else {
            want[i] = 99; /* deleted */
        }
    }
    wait_written(enqueued);
}

Test(store, remove_and_overwrite)
{
    open_store("overwrite", 0);
    enqueued = 0;
    spill_all(NKEYS, 0);
    unsigned *want = calloc(NKEYS, sizeof *want);
    flash_remove(E.f, XXH3_64bits("", 0)); /* harmless no-op remove */
    overwrite_or_delete_quarter(want);
    rd_t *rds = read_all(NKEYS, want);
    unsigned miss = 0;
    for (unsigned i = 0; i < NKEYS; i++) {
        if (want[i] == 99) {
            cr_assert_neq(rds[i].st, FLASH_OK, "deleted key %u came back (v%d)", i,
                          rds[i].got_ver);
            continue;
        }
        if (rds[i].st != FLASH_OK) {
            miss++;
            continue;
        }
        cr_assert(rds[i].match, "key %u: got v%d, want v%u", i, rds[i].got_ver, want[i]);
    }
    cr_assert(miss < NKEYS / 100, "%u misses", miss);
    free(rds);
    free(want);
}

/*
 * Keeps writing new versions of a key space larger than the device until
 * reclaim has wrapped the ring twice; reads part of it as it goes (hits make
 * items hot, so some are rewritten). Then every key: the newest version or a
 * miss, never an older one. Misses only for cold keys.
 */
static void wrap_twice(unsigned tag_bits)
{
    open_store(tag_bits ? "collide" : "wrap", tag_bits);
    enqueued = 0;
    const unsigned nk = 12000;
    unsigned *ver = calloc(nk, sizeof *ver);
    bool *spilled = calloc(nk, sizeof *spilled);
    uint32_t nseg = (FILE_SIZE - FLASH_HEADER_AREA) / SEG_SIZE;
    unsigned round = 0;
    const unsigned hot = 300; /* keys 0..hot-1 are read often */
    while (stats().flash_reclaims < 2u * nseg + 2) {
        cr_assert(round < 400, "reclaim did not wrap the ring");
        for (unsigned i = hot; i < nk; i += 1 + (round % 3)) {
            if (round == 0 && i % 20 == 0) { /* hot keys spread over segments */
                spill_ok(i / 20 % hot, 0);
                spilled[i / 20 % hot] = true;
            }
            if (spilled[i]) {
                char key[64];
                size_t nkey = flash_test_key(key, sizeof key, i);
                flash_remove(E.f, XXH3_64bits(key, nkey));
                ver[i]++;
            }
            spill_ok(i, ver[i]);
            spilled[i] = true;
        }
        wait_written(enqueued);
        /* read the hot keys: they must be found (or be the newest) */
        rd_t *rds = read_all(hot, ver);
        for (unsigned i = 0; i < hot; i++)
            if (rds[i].st == FLASH_OK)
                cr_assert(rds[i].match, "hot key %u: got v%d want v%u", i, rds[i].got_ver,
                          ver[i]);
        free(rds);
        round++;
    }
    flash_stats_t s = stats();
    cr_assert(s.flash_rewrites > 0, "no rewrite happened");
    for (unsigned i = 0; i < hot; i++)
        cr_assert(spilled[i]);
    rd_t *rds = read_all(nk, ver);
    unsigned miss_hot = 0, miss = 0;
    for (unsigned i = 0; i < nk; i++) {
        if (!spilled[i])
            continue;
        if (rds[i].st != FLASH_OK) {
            miss++;
            miss_hot += i < hot;
            continue;
        }
        cr_assert(rds[i].match, "key %u: got v%d, want v%u", i, rds[i].got_ver, ver[i]);
    }
    if (!tag_bits)
        cr_assert(miss_hot < hot / 20, "%u hot keys lost (of %u)", miss_hot, hot);
    cr_log_info("wrap(tag_bits %u): %llu reclaims, %llu rewrites, %u/%u misses "
                "(%u hot), write amplification %.2f", tag_bits,
                (unsigned long long)s.flash_reclaims, (unsigned long long)s.flash_rewrites,
                miss, nk, miss_hot,
                (double)s.flash_bytes_written / (double)(s.flash_bytes_spilled + 1));
    free(rds);
    free(ver);
    free(spilled);
}

Test(store, reclaim_wraps_twice) { wrap_twice(0); }
Test(store, tag_collisions_never_wrong) { wrap_twice(2); }

/* ---- faults ---- */

/* Flips `count` bytes at pseudo-random offsets (from `seed`) in the first 12
 * segments of the store's file, past the superblock area. */
static void flip_bytes(uint64_t seed, int count)
{
    int fd = open(E.path, O_RDWR);
    cr_assert(fd >= 0);
    uint64_t x = seed;
    for (int k = 0; k < count; k++) {
        x = x * 6364136223846793005ull + 1;
        off_t off = FLASH_HEADER_AREA + (off_t)((x >> 20) % (12u * SEG_SIZE));
        uint8_t b;
        cr_assert_eq(pread(fd, &b, 1, off), 1);
        b ^= 0x5a;
        cr_assert_eq(pwrite(fd, &b, 1, off), 1);
    }
    fsync(fd);
    close(fd);
}


Test(store, corrupted_blocks_are_misses)
{
    open_store("corrupt", 0);
    enqueued = 0;
    spill_all(NKEYS, 0);
    /* flip bytes all over the written segments (not the first 8 KiB) */
    flip_bytes(12345, 400);
    rd_t *rds = read_all(NKEYS, NULL);
    unsigned bad = 0;
    for (unsigned i = 0; i < NKEYS; i++) {
        if (rds[i].st == FLASH_OK)
            cr_assert(rds[i].match, "key %u: wrong value after corruption", i);
        else
            bad++;
    }
    flash_stats_t s = stats();
    cr_assert(s.flash_checksum_failures > 0);
    cr_assert(bad > 0);
    cr_assert(atomic_load(&E.logs) > 0);
    free(rds);
}

/* Finds the store's O_DIRECT fd on E.path (the one opened last). */
static int store_fd(void)
{
    DIR *d = opendir("/proc/self/fd");
    cr_assert_not_null(d);
    int best = -1;
    struct dirent *de;
    char real[PATH_MAX];
    cr_assert_not_null(realpath(E.path, real));
    while ((de = readdir(d))) {
        char link[300], target[PATH_MAX];
        snprintf(link, sizeof link, "/proc/self/fd/%s", de->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = 0;
        int fd = atoi(de->d_name);
        if (strcmp(target, real) == 0 && (fcntl(fd, F_GETFL) & O_DIRECT) && fd > best)
            best = fd;
    }
    closedir(d);
    cr_assert(best >= 0, "store fd not found");
    return best;
}

Test(store, write_errors_then_recovery)
{
    open_store("eio", 0);
    enqueued = 0;
    spill_all(2000, 0);
    int sfd = store_fd();
    int saved = dup(sfd);
    int ro = open(E.path, O_RDONLY | O_DIRECT);
    cr_assert(ro >= 0);
    cr_assert(dup2(ro, sfd) == sfd); /* writes now fail with EBADF */
    close(ro);
    flash_status_e st = FLASH_OK;
    unsigned i = 2000;
    for (; i < 40000 && st != FLASH_EIO; i++) {
        st = spill(i, 0);
        if (st == FLASH_OK)
            enqueued++;
    }
    cr_assert_eq(st, FLASH_EIO, "enqueue never reported the failing device");
    wait_written(enqueued);
    flash_stats_t s = stats();
    cr_assert(s.flash_write_errors > 0);
    cr_assert(s.flash_drops_io > 0);
    /* what is readable is right; nothing wrong comes back */
    rd_t *rds = read_all(i, NULL);
    for (unsigned k = 0; k < i; k++)
        if (rds[k].st == FLASH_OK)
            cr_assert(rds[k].match, "key %u: wrong value", k);
    free(rds);
    /* the device heals: writes are accepted again after the hold time */
    cr_assert(dup2(saved, sfd) == sfd);
    close(saved);
    usleep(1200 * 1000);
    cr_assert_eq(spill(50000, 0), FLASH_OK);
    enqueued++;
    wait_written(enqueued);
}

Test(store, truncated_file_reads_fail_cleanly)
{
    open_store("trunc", 0);
    enqueued = 0;
    spill_all(NKEYS, 0);
    cr_assert_eq(truncate(E.path, FLASH_HEADER_AREA + SEG_SIZE * 2), 0);
    rd_t *rds = read_all(NKEYS, NULL);
    unsigned failed = 0;
    for (unsigned i = 0; i < NKEYS; i++) {
        if (rds[i].st == FLASH_OK)
            cr_assert(rds[i].match, "key %u: wrong value", i);
        else
            failed++;
    }
    cr_assert(failed > NKEYS / 2);
    cr_assert(stats().flash_read_errors > 0);
    free(rds);
}

/* ---- back-pressure ---- */

Test(store, stall_bound_then_drop)
{
    make_path("stall");
    flash_settings_t s;
    settings(&s);
    s.queue_items = 4;
    s.stall_ms = 20;
    char err[512];
    cr_assert_eq(flash_create(&E.f, &s, err, sizeof err), FLASH_OK, "%s", err);
    E.hold = true; /* the writer blocks in written_fn */
    enqueued = 0;
    flash_status_e st = FLASH_OK;
    struct timespec t0, t1;
    unsigned i = 0;
    for (; i < 64 && st == FLASH_OK; i++) {
        clock_gettime(CLOCK_MONOTONIC, &t0);
        st = spill(i, 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (st == FLASH_OK)
            enqueued++;
    }
    cr_assert_eq(st, FLASH_EFULL);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    cr_assert(ms >= 15 && ms < 1000, "stalled %.1f ms", ms);
    flash_stats_t fs = stats();
    cr_assert_eq(fs.flash_drops_stall, 1);
    cr_assert(fs.flash_queue_stalls >= 1);
    pthread_mutex_lock(&E.m);
    E.hold = false;
    pthread_cond_broadcast(&E.c);
    pthread_mutex_unlock(&E.m);
    wait_written(enqueued);
}

/* ---- completions (complete.c): written_fn via flash_complete ---- */

/* Records the order written_fn ran in: the item number parsed from the
 * value ("v<i>.<ver>|"); a version-1 item also removes its hash, as the
 * cache's ram_spill_done does for a superseded copy. */
static struct {
    pthread_mutex_t m;
    unsigned order[1024];
    unsigned n;
    unsigned on_caller; /* ran on the test thread */
    pthread_t caller;
    bool remove_v1;
} C;

static void rec_written(void *ctx, void *token, flash_status_e st)
{
    (void)ctx;
    pin_t *p = token;
    unsigned vi = 0, vv = 0;
    cr_assert(sscanf(p->value, "v%u.%u|", &vi, &vv) == 2);
    if (C.remove_v1 && vv == 1 && st == FLASH_OK)
        flash_remove(E.f, XXH3_64bits(p->key, p->nkey));
    pthread_mutex_lock(&C.m);
    cr_assert(C.n < 1024);
    C.order[C.n++] = vi;
    if (pthread_equal(pthread_self(), C.caller))
        C.on_caller++;
    pthread_mutex_unlock(&C.m);
    free(p->value);
    free(p);
    if (st == FLASH_OK)
        atomic_fetch_add(&E.written_ok, 1);
    atomic_fetch_add(&E.written, 1);
}

static void open_rec(const char *name)
{
    memset(&C, 0, sizeof C);
    pthread_mutex_init(&C.m, NULL);
    C.caller = pthread_self();
    make_path(name);
    flash_settings_t s;
    settings(&s);
    s.written = rec_written;
    char err[512];
    cr_assert_eq(flash_create(&E.f, &s, err, sizeof err), FLASH_OK, "%s", err);
    cr_assert_eq(flash_worker_create(E.f, &E.w), FLASH_OK);
}

Test(store, complete_in_order_exactly_once)
{
    open_rec("complete");
    enqueued = 0;
    for (unsigned i = 0; i < 200; i++)
        spill_ok(i, 0);
    /* take them as a worker short of memory would: small chunks */
    for (int k = 0; k < 5000 && atomic_load(&E.written) < 200; k++) {
        if (flash_complete(E.f, 7) == 0)
            flash_complete_wait(E.f, 2);
    }
    wait_written(200);
    cr_assert_eq(C.n, 200);
    for (unsigned i = 0; i < 200; i++)
        cr_assert_eq(C.order[i], i, "callback %u ran for item %u", i, C.order[i]);
    cr_assert_eq(atomic_load(&E.written_ok), 200);
    cr_assert_eq(flash_complete(E.f, 100), 0, "nothing left to run");
    cr_assert(!flash_complete_wait(E.f, 1));
    pthread_mutex_destroy(&C.m);
}

Test(store, writer_runs_callbacks_nobody_takes)
{
    open_rec("complete_idle");
    enqueued = 0;
    for (unsigned i = 0; i < 50; i++)
        spill_ok(i, 0);
    wait_written(50); /* never calls flash_complete: the idle writer does */
    cr_assert_eq(C.on_caller, 0);
    for (unsigned i = 0; i < 50; i++)
        cr_assert_eq(C.order[i], i);
    pthread_mutex_destroy(&C.m);
}

Test(store, destroy_with_callbacks_due)
{
    open_rec("complete_destroy");
    enqueued = 0;
    for (unsigned i = 0; i < 240; i++)
        spill_ok(i, 0);
    flash_worker_destroy(&E.w);
    flash_destroy(&E.f); /* every item queued or due gets its callback */
    cr_assert_eq(atomic_load(&E.written), 240);
    cr_assert_eq(C.n, 240);
    for (unsigned i = 0; i < 240; i++)
        cr_assert_eq(C.order[i], i);
    pthread_mutex_destroy(&C.m);
}

Test(store, same_key_callback_runs_before_newer_copy_indexed)
{
    /* v1's callback removes the hash (a superseded copy); v2 of the same
     * key is queued right behind it. The writer must run v1's callback
     * before indexing v2, or the removal would hit v2 and lose it. */
    open_rec("complete_samekey");
    C.remove_v1 = true;
    enqueued = 0;
    for (unsigned i = 0; i < 100; i++) {
        spill_ok(i, 1);
        spill_ok(i, 2);
    }
    wait_written(200);
    rd_t rds[100];
    for (unsigned i = 0; i < 100; i++)
        rds[i] = (rd_t){ .i = i, .want_ver = 2 };
    read_keys(rds, 100);
    for (unsigned i = 0; i < 100; i++) {
        cr_assert_eq(rds[i].st, FLASH_OK, "key %u: v2 lost (%s)", i, flash_strerror(rds[i].st));
        cr_assert(rds[i].match, "key %u: got version %d", i, rds[i].got_ver);
    }
    pthread_mutex_destroy(&C.m);
}

/* ---- flash_walk (lru_crawler metadump, issue 5) ---- */

static _Atomic int64_t walk_skew; /* added to the real clock */

static int64_t walk_clock(void *ctx)
{
    (void)ctx;
    return (int64_t)time(NULL) + atomic_load(&walk_skew);
}

static void open_walk_store(const char *name, unsigned tag_bits)
{
    atomic_store(&walk_skew, 0);
    open_store_clock(name, tag_bits, walk_clock);
}

/* An item of version ver that expires at `exptime` (absolute). */
static void spill_exp(unsigned i, unsigned ver, int64_t exptime)
{
    cr_assert_eq(spill_at(i, ver, exptime, walk_clock(NULL)), FLASH_OK);
    enqueued++;
}

typedef struct walk_seen {
    unsigned n;          /* keys 0..n-1 */
    unsigned *count;     /* times listed */
    uint64_t *cas;       /* cas listed */
    unsigned other;      /* records of keys outside 0..n-1 */
} walk_seen_t;

static bool walk_visit(void *ctx, const flash_walk_rec_t *r)
{
    walk_seen_t *ws = ctx;
    char key[64];
    unsigned i;
    cr_assert(r->nkey < sizeof key);
    memcpy(key, r->key, r->nkey);
    key[r->nkey] = '\0';
    if (sscanf(key, "key:%u", &i) != 1 || i >= ws->n) {
        ws->other++;
        return true;
    }
    cr_assert_eq(r->hash, XXH3_64bits(r->key, r->nkey));
    char val[1024];
    unsigned ver = (unsigned)(r->cas & 0xffff);
    cr_assert_eq(r->nbytes, flash_test_value(val, i, ver), "key %u: value length", i);
    cr_assert_eq(r->flags, i);
    ws->count[i]++;
    ws->cas[i] = r->cas;
    return true;
}

static void walk_all(walk_seen_t *ws, unsigned n, flash_walk_stats_t *st)
{
    ws->n = n;
    ws->count = calloc(n, sizeof *ws->count);
    ws->cas = calloc(n, sizeof *ws->cas);
    ws->other = 0;
    cr_assert_eq(flash_walk(E.f, walk_visit, ws, NULL, st), FLASH_OK);
}

/* want[i]: version expected, 99 = deleted, 98 = expired. */
static void walk_check(unsigned n, const unsigned *want, unsigned tag_bits)
{
    walk_seen_t ws;
    flash_walk_stats_t st;
    walk_all(&ws, n, &st);
    cr_assert_eq(ws.other, 0);
    cr_assert_eq(st.block_errors + st.io_errors, 0);
    unsigned *wv = calloc(n, sizeof *wv);
    for (unsigned i = 0; i < n; i++)
        wv[i] = want[i] >= 98 ? 0 : want[i];
    rd_t *rds = read_all(n, wv);
    unsigned listed = 0, live = 0;
    for (unsigned i = 0; i < n; i++)
        live += want[i] < 98;
    for (unsigned i = 0; i < n; i++) {
        cr_assert(ws.count[i] <= 1, "key %u listed %u times", i, ws.count[i]);
        if (want[i] >= 98) {
            cr_assert_eq(ws.count[i], 0, "%s key %u listed",
                         want[i] == 99 ? "deleted" : "expired", i);
            continue;
        }
        /* listed exactly when a lookup finds it, and then the newest */
        bool found = rds[i].st == FLASH_OK;
        cr_assert_eq(ws.count[i] == 1, found, "key %u: listed %u, lookup %s", i,
                     ws.count[i], flash_strerror(rds[i].st));
        if (found) {
            cr_assert(rds[i].match, "key %u: lookup got v%d, want v%u", i,
                      rds[i].got_ver, want[i]);
            cr_assert_eq(ws.cas[i], ((uint64_t)i << 16) | want[i], "key %u: cas", i);
            listed++;
        }
    }
    /* with 2 tag bits collisions drop many entries; else nearly none */
    cr_assert(listed > (tag_bits ? live / 4 : live - live / 100), "only %u of %u listed",
              listed, live);
    cr_assert_eq(st.listed, listed);
    cr_assert(st.segments > 0 && st.blocks > 0);
    free(rds);
    free(wv);
    free(ws.count);
    free(ws.cas);
}

static void walk_scenario(const char *name, unsigned tag_bits)
{
    open_walk_store(name, tag_bits);
    enqueued = 0;
    unsigned *want = calloc(NKEYS, sizeof *want);
    int64_t now = walk_clock(NULL);
    for (unsigned i = 0; i < NKEYS; i++) {
        if (i % 10 == 3) {
            spill_exp(i, 0, now + 100); /* expires below */
            want[i] = 98;
        } else {
            spill_ok(i, 0);
        }
    }
    wait_written(enqueued);
    overwrite_or_delete_quarter(want);
    atomic_store(&walk_skew, 200);
    walk_check(NKEYS, want, tag_bits);
    free(want);
}

Test(store, walk_lists_live_records_once) { walk_scenario("walk", 0); }
Test(store, walk_tag_collisions) { walk_scenario("walkcoll", 2); }

/* Reclaim has wrapped the ring (rewrites moved hot records): still every
 * listed key once, at its newest version. */
Test(store, walk_after_wrap)
{
    open_walk_store("walkwrap", 0);
    enqueued = 0;
    unsigned n = NKEYS;
    unsigned *want = calloc(n, sizeof *want);
    for (unsigned round = 0; round < 6; round++) {
        for (unsigned i = 0; i < n; i++) {
            char key[64];
            size_t nkey = flash_test_key(key, sizeof key, i);
            flash_remove(E.f, XXH3_64bits(key, nkey));
            spill_ok(i, round);
            want[i] = round;
        }
        wait_written(enqueued);
        if (round == 3) { /* hits make some records hot: rewritten */
            rd_t *rds = read_all(n / 4, want);
            free(rds);
        }
    }
    flash_stats_t s = stats();
    cr_assert(s.flash_reclaims > 0, "the ring did not wrap");
    walk_seen_t ws;
    walk_all(&ws, n, NULL);
    for (unsigned i = 0; i < n; i++) {
        cr_assert(ws.count[i] <= 1, "key %u listed %u times", i, ws.count[i]);
        if (ws.count[i])
            cr_assert_eq(ws.cas[i], ((uint64_t)i << 16) | want[i], "key %u: old cas", i);
    }
    free(ws.count);
    free(ws.cas);
    free(want);
}

/* A stop flag ends the walk early. */
Test(store, walk_stop_flag)
{
    open_walk_store("walkstop", 0);
    enqueued = 0;
    spill_all(2000, 0);
    _Atomic bool stop = true;
    walk_seen_t ws;
    ws.n = 2000;
    ws.count = calloc(2000, sizeof *ws.count);
    ws.cas = calloc(2000, sizeof *ws.cas);
    ws.other = 0;
    flash_walk_stats_t st;
    cr_assert_eq(flash_walk(E.f, walk_visit, &ws, &stop, &st), FLASH_OK);
    cr_assert_eq(st.listed, 0);
    free(ws.count);
    free(ws.cas);
}

/* Corrupted blocks and segment headers: skipped, counted and logged; what
 * is listed is intact (walk_visit checks every record's length and flags),
 * never a wrong record. */
Test(store, walk_skips_corruption)
{
    open_walk_store("walkcorrupt", 0);
    enqueued = 0;
    spill_all(NKEYS, 0);
    flip_bytes(777, 300);
    int logs0 = atomic_load(&E.logs);
    walk_seen_t ws;
    flash_walk_stats_t st;
    walk_all(&ws, NKEYS, &st);
    unsigned listed = 0;
    for (unsigned i = 0; i < NKEYS; i++) {
        cr_assert(ws.count[i] <= 1, "key %u listed %u times", i, ws.count[i]);
        if (ws.count[i]) {
            cr_assert_eq(ws.cas[i], (uint64_t)i << 16);
            listed++;
        }
    }
    cr_assert(st.block_errors + st.segments_skipped > 0, "corruption not seen");
    cr_assert(atomic_load(&E.logs) > logs0, "not logged");
    cr_assert(listed > 0 && listed < NKEYS, "listed %u", listed);
    free(ws.count);
    free(ws.cas);
}

/* ---- restart (persist.c, recover.c) ---- */

/* A run that ends without flash_persist (a crash, as far as the file
 * knows) leaves nothing the next start may trust: its contents go. */
Test(store, unclean_stop_discards)
{
    open_store("reinit", 0);
    enqueued = 0;
    spill_all(200, 0);
    flash_worker_destroy(&E.w);
    flash_destroy(&E.f);
    flash_settings_t s;
    settings(&s);
    char err[512];
    cr_assert_eq(flash_create(&E.f, &s, err, sizeof err), FLASH_OK, "%s", err);
    cr_assert(strstr(err, "did not stop cleanly") != NULL, "%s", err);
    flash_recovery_t rec;
    flash_recovery(E.f, &rec);
    cr_assert_eq(rec.kind, FLASH_RECOVERY_CRASH);
    cr_assert_eq(stats().flash_items, 0);
}

/* Reopens the store at E.path with the fixture's settings. */
static void reopen(char *err, size_t errlen)
{
    flash_settings_t s;
    settings(&s);
    flash_status_e st = flash_create(&E.f, &s, err, errlen);
    cr_assert_eq(st, FLASH_OK, "reopen: %s: %s", flash_strerror(st), err);
    cr_assert_eq(flash_worker_create(E.f, &E.w), FLASH_OK);
}

static uint64_t key_hash(unsigned i)
{
    char key[64];
    size_t nkey = flash_test_key(key, sizeof key, i);
    return XXH3_64bits(key, nkey);
}

/* A clean stop (flash_persist) and a new start: every key the index held
 * is found again with its latest value; removed and overwritten copies
 * never come back; the RAM state handed over returns as given. */
Test(store, clean_restart_keeps_the_index)
{
    open_store("restart", 0);
    enqueued = 0;
    spill_all(NKEYS, 0);
    unsigned *want = calloc(NKEYS, sizeof *want);
    for (unsigned i = 0; i < NKEYS; i += 5) {      /* overwrite a fifth */
        flash_remove(E.f, key_hash(i));
        spill_ok(i, 1);
        want[i] = 1;
    }
    wait_written(enqueued);  /* a remove only reaches indexed copies */
    for (unsigned i = 3; i < NKEYS; i += 7)        /* remove a seventh */
        flash_remove(E.f, key_hash(i));
    wait_written(enqueued);
    rd_t *before = read_all(NKEYS, want);
    flash_worker_destroy(&E.w);
    flash_persist_state_t ps = {.flush_oldest_live = 1700000000, .flush_oldest_cas = 77,
                                .max_cas = 123456789};
    flash_persist_report_t rep;
    char err[512];
    cr_assert_eq(flash_persist(E.f, &ps, &rep, err, sizeof err), FLASH_OK, "%s", err);
    uint64_t items = stats().flash_items;
    cr_assert_eq(rep.items, items, "map keeps %llu of %llu indexed",
                 (unsigned long long)rep.items, (unsigned long long)items);
    flash_destroy(&E.f);
    reopen(err, sizeof err);
    cr_assert(strstr(err, "recovered") != NULL, "%s", err);
    flash_recovery_t rec;
    flash_recovery(E.f, &rec);
    cr_assert_eq(rec.kind, FLASH_RECOVERY_CLEAN);
    cr_assert_eq(rec.items, items);
    cr_assert_eq(rec.max_cas, 123456789u);
    cr_assert_eq(rec.flush_oldest_live, 1700000000);
    cr_assert_eq(rec.flush_oldest_cas, 77u);
    cr_assert_eq(stats().flash_items, items);
    rd_t *after = read_all(NKEYS, want);
    unsigned found = 0;
    for (unsigned i = 0; i < NKEYS; i++) {
        bool removed = i % 7 == 3;
        if (removed)
            cr_assert_neq(after[i].st, FLASH_OK, "key %u: a removed key came back", i);
        if (after[i].st == FLASH_OK) {
            cr_assert(after[i].match, "key %u: wrong value after restart", i);
            found++;
        }
        /* what was found before the stop is found after it */
        cr_assert_eq(after[i].st == FLASH_OK, before[i].st == FLASH_OK, "key %u", i);
    }
    cr_assert(found > NKEYS / 2, "%u found", found);
    /* the next writes go on from there: spill, stop, start once more */
    for (unsigned i = 1; i < NKEYS; i += 5) {
        flash_remove(E.f, key_hash(i));
        spill_ok(i, 2);
        want[i] = 2;
    }
    wait_written(enqueued);
    flash_worker_destroy(&E.w);
    cr_assert_eq(flash_persist(E.f, &ps, &rep, err, sizeof err), FLASH_OK, "%s", err);
    flash_destroy(&E.f);
    reopen(err, sizeof err);
    rd_t *again = read_all(NKEYS, want);
    for (unsigned i = 0; i < NKEYS; i++)
        if (again[i].st == FLASH_OK)
            cr_assert(again[i].match, "key %u: wrong value after the second restart", i);
    for (unsigned i = 1; i < NKEYS; i += 5)
        cr_assert_eq(again[i].st, FLASH_OK, "key %u: written before the stop, lost", i);
    free(again);
    free(after);
    free(before);
    free(want);
}

/* Damage to what a clean stop wrote: the live map, one segment's summary,
 * the state record. Each is a miss (nothing, or that segment) and a
 * message, never a wrong value and never a failed start. */
static void damage(uint64_t off, size_t len)
{
    int fd = open(E.path, O_RDWR);
    cr_assert(fd >= 0);
    uint8_t b[64];
    cr_assert(len <= sizeof b);
    cr_assert_eq(pread(fd, b, len, (off_t)off), (ssize_t)len);
    for (size_t k = 0; k < len; k++)
        b[k] ^= 0x5a;
    cr_assert_eq(pwrite(fd, b, len, (off_t)off), (ssize_t)len);
    close(fd);
}

static void stop_clean(void)
{
    flash_worker_destroy(&E.w);
    flash_persist_state_t ps = {0};
    flash_persist_report_t rep;
    char err[512];
    cr_assert_eq(flash_persist(E.f, &ps, &rep, err, sizeof err), FLASH_OK, "%s", err);
    flash_destroy(&E.f);
}

static flash_state_t read_state(void)
{
    int fd = open(E.path, O_RDONLY);
    uint8_t b[FLASH_STATE_LEN];
    cr_assert_eq(pread(fd, b, sizeof b, FLASH_STATE_OFFSET), (ssize_t)sizeof b);
    close(fd);
    flash_state_t st;
    cr_assert_eq(flash_state_decode(b, sizeof b, &st), FLASH_SB_OK);
    return st;
}

Test(store, damaged_restart_state_is_a_miss)
{
    open_store("damage", 0);
    enqueued = 0;
    spill_all(NKEYS, 0);
    stop_clean();
    flash_state_t st = read_state();
    cr_assert_eq(st.state, FLASH_STATE_CLEAN);
    cr_assert_neq(st.map_first_seg, FLASH_STATE_NO_SNAPSHOT);
    /* the map: a byte in its bits */
    uint64_t map_off = FLASH_HEADER_AREA + (uint64_t)st.map_first_seg * SEG_SIZE;
    damage(map_off + st.map_len - 1, 1);
    char err[512];
    reopen(err, sizeof err);
    cr_assert(strstr(err, "live map") != NULL, "%s", err);
    cr_assert_eq(stats().flash_items, 0);
    /* one segment's summary: that segment's keys miss, the others stay */
    spill_all(NKEYS, 0);
    stop_clean();
    st = read_state();
    uint64_t seg0 = FLASH_HEADER_AREA;  /* the first segment of this format */
    int fd = open(E.path, O_RDONLY);
    uint8_t hdr[FLASH_SEGHDR_LEN];
    cr_assert_eq(pread(fd, hdr, sizeof hdr, (off_t)seg0), (ssize_t)sizeof hdr);
    close(fd);
    uint32_t sum_off = (uint32_t)hdr[56] | (uint32_t)hdr[57] << 8 | (uint32_t)hdr[58] << 16 |
                       (uint32_t)hdr[59] << 24;
    damage(seg0 + sum_off + 3, 2);
    reopen(err, sizeof err);
    flash_recovery_t rec;
    flash_recovery(E.f, &rec);
    cr_assert_eq(rec.kind, FLASH_RECOVERY_CLEAN, "%s", err);
    cr_assert_eq(rec.segments_lost, 1);
    cr_assert(rec.items > 0);
    cr_assert_eq(stats().flash_recovery_errors, 1);
    rd_t *rds = read_all(NKEYS, NULL);
    unsigned found = 0;
    for (unsigned i = 0; i < NKEYS; i++)
        if (rds[i].st == FLASH_OK) {
            cr_assert(rds[i].match, "key %u: wrong value", i);
            found++;
        }
    cr_assert(found > 0 && found < NKEYS, "%u found", found);
    free(rds);
    /* the state record: its checksum fails: read as not clean */
    stop_clean();
    damage(FLASH_STATE_OFFSET + 40, 1);
    reopen(err, sizeof err);
    flash_recovery(E.f, &rec);
    cr_assert_eq(rec.kind, FLASH_RECOVERY_CRASH, "%s", err);
    cr_assert_eq(stats().flash_items, 0);
}

/* Crash checkpoints (ckpt.c): after a checkpoint, a run that ends without
 * flash_persist comes back with what the checkpoint kept; a change of a
 * key it kept (flash_note_mutation) makes it unusable at once. */
/* The RAM tier's flush horizon as tier_flush sets it (0 = none): a
 * checkpoint taken after a flush carries it. */
static _Atomic int64_t ck_flush_horizon;

static void ck_ram_state(void *ctx, flash_persist_state_t *out)
{
    (void)ctx;
    memset(out, 0, sizeof *out);
    out->flush_oldest_live = atomic_load(&ck_flush_horizon);
}

static void ckpt_settings(flash_settings_t *s)
{
    settings(s);
    s->checkpoint_ms = 1;
    s->ram_state = ck_ram_state;
}

/* A store whose writer takes a checkpoint once idle, then every `ms`. */
static void open_ckpt_every(const char *name, unsigned ms)
{
    make_path(name);
    atomic_store(&ck_flush_horizon, 0);
    flash_settings_t s;
    ckpt_settings(&s);
    s.checkpoint_ms = ms;
    char err[512];
    cr_assert_eq(flash_create(&E.f, &s, err, sizeof err), FLASH_OK, "%s", err);
    cr_assert_eq(flash_worker_create(E.f, &E.w), FLASH_OK);
}

static void open_ckpt(const char *name)
{
    make_path(name);
    atomic_store(&ck_flush_horizon, 0);
    flash_settings_t s;
    ckpt_settings(&s);
    char err[512];
    cr_assert_eq(flash_create(&E.f, &s, err, sizeof err), FLASH_OK, "%s", err);
    cr_assert_eq(flash_worker_create(E.f, &E.w), FLASH_OK);
}

/* Waits until a checkpoint was taken and no other follows (the writer
 * takes one once something new is on the device and it is idle). */
static void wait_checkpoint(void)
{
    uint64_t last = 0;
    int still = 0;
    for (int k = 0; k < 2000 && still < 10; k++) {
        usleep(5000);
        uint64_t n = stats().flash_checkpoints;
        still = n > 0 && n == last && stats().flash_checkpoints_invalidated == 0 ? still + 1 : 0;
        last = n;
    }
    cr_assert(still >= 10, "no settled checkpoint");
}

static void crash_and_reopen(flash_recovery_t *rec)
{
    flash_worker_destroy(&E.w);
    flash_destroy(&E.f); /* no flash_persist: as a crash, for the file */
    flash_settings_t s;
    ckpt_settings(&s);
    char err[512];
    cr_assert_eq(flash_create(&E.f, &s, err, sizeof err), FLASH_OK, "%s", err);
    cr_assert_eq(flash_worker_create(E.f, &E.w), FLASH_OK);
    flash_recovery(E.f, rec);
    if (getenv("TC_TEST_LOG"))
        fprintf(stderr, "start: %s\n", err);
}

Test(store, crash_checkpoint)
{
    open_ckpt("ckpt");
    enqueued = 0;
    spill_all(NKEYS, 0);
    wait_checkpoint();
    uint64_t items = stats().flash_items;
    rd_t *before = read_all(NKEYS, NULL);
    flash_recovery_t rec;
    crash_and_reopen(&rec);
    cr_assert_eq(rec.kind, FLASH_RECOVERY_CHECKPOINT);
    /* the open segment was not on the device at the checkpoint */
    cr_assert(rec.items > items / 2 && rec.items <= items, "%llu of %llu",
              (unsigned long long)rec.items, (unsigned long long)items);
    rd_t *after = read_all(NKEYS, NULL);
    unsigned found = 0;
    for (unsigned i = 0; i < NKEYS; i++) {
        if (after[i].st != FLASH_OK)
            continue;
        cr_assert(after[i].match, "key %u: wrong value after a crash", i);
        cr_assert_eq(before[i].st, FLASH_OK, "key %u: back, but was not there", i);
        found++;
    }
    cr_assert_eq(found, rec.items);
    /* changes of kept keys: journaled before they happen; after a crash
     * those keys are gone, the rest stays */
    wait_checkpoint();
    uint64_t kept = stats().flash_items;
    unsigned changed = 0;
    for (unsigned i = 0; i < NKEYS; i += 97)
        if (after[i].st == FLASH_OK) {
            flash_note_mutation(E.f, key_hash(i));
            changed++;
        }
    cr_assert_eq(stats().flash_checkpoint_kills, changed);
    cr_assert_eq(stats().flash_checkpoints_invalidated, 0);
    crash_and_reopen(&rec);
    cr_assert_eq(rec.kind, FLASH_RECOVERY_CHECKPOINT);
    cr_assert_eq(rec.killed, changed);
    cr_assert_eq(rec.items, kept - changed);
    rd_t *again = read_all(NKEYS, NULL);
    for (unsigned i = 0; i < NKEYS; i++) {
        if (i % 97 == 0)
            cr_assert_neq(again[i].st, FLASH_OK, "key %u: changed, but back", i);
        else if (again[i].st == FLASH_OK)
            cr_assert(again[i].match, "key %u: wrong value", i);
    }
    /* a flush_all: the checkpoint is unusable before it is answered; the
     * writer may take a new one after it, which carries the horizon (as
     * tier_flush sets it: the RAM tier's first, then the note) */
    wait_checkpoint();
    int64_t horizon = (int64_t)time(NULL);
    atomic_store(&ck_flush_horizon, horizon);
    flash_note_flush(E.f);
    cr_assert_eq(stats().flash_checkpoints_invalidated, 1);
    crash_and_reopen(&rec);
    if (rec.kind == FLASH_RECOVERY_CHECKPOINT)
        cr_assert_eq(rec.flush_oldest_live, horizon,
                     "a checkpoint after the flush forgot its horizon");
    else {
        cr_assert_eq(rec.kind, FLASH_RECOVERY_CRASH);
        cr_assert_eq(stats().flash_items, 0);
    }
    free(again);
    free(after);
    free(before);
}

/* Segments sealed after the checkpoint are kept too (EXTEND records): a
 * crash loses only the open segment. Keys changed after their copy was
 * written, in the map or in a later segment, never come back with the
 * old value: deleted ones are misses, re-spilled ones the new value (or a
 * miss when the new copy was in the open segment). */
Test(store, crash_keeps_later_segments)
{
    open_ckpt_every("ckext", 3600u * 1000u); /* one checkpoint: the first */
    enqueued = 0;
    spill_all(3000, 0);
    wait_checkpoint();
    cr_assert_eq(stats().flash_checkpoints, 1);
    for (unsigned i = 3000; i < NKEYS; i++)
        spill_ok(i, 0);
    wait_written(enqueued);
    /* changes of keys in the map and in later segments: every 7th key is
     * deleted, every 11th re-spilled as version 1 (both: re-spilled) */
    unsigned *want = calloc(NKEYS, sizeof *want);
    bool *gone = calloc(NKEYS, sizeof *gone);
    for (unsigned i = 0; i < NKEYS; i++) {
        if (i % 7 != 0 && i % 11 != 0)
            continue;
        flash_note_mutation(E.f, key_hash(i)); /* before the change */
        flash_remove(E.f, key_hash(i));
        gone[i] = true;
    }
    for (unsigned i = 0; i < NKEYS; i += 11) {
        spill_ok(i, 1);
        want[i] = 1;
        gone[i] = false;
    }
    wait_written(enqueued);
    uint64_t extends = stats().flash_checkpoint_extends;
    cr_assert_eq(stats().flash_checkpoints, 1, "a second checkpoint: nothing to extend");
    cr_assert_eq(stats().flash_checkpoints_invalidated, 0);
    cr_assert(extends >= 5, "%llu segments extended", (unsigned long long)extends);
    flash_recovery_t rec;
    crash_and_reopen(&rec);
    cr_assert_eq(rec.kind, FLASH_RECOVERY_CHECKPOINT);
    /* (a segment write still in flight at the stats may complete, and be
     * extended, before the crash) */
    cr_assert(rec.extended >= extends, "%llu of %llu", (unsigned long long)rec.extended,
              (unsigned long long)extends);
    rd_t *after = read_all(NKEYS, want);
    unsigned found = 0, kept = 0;
    for (unsigned i = 0; i < NKEYS; i++) {
        kept += !gone[i];
        if (after[i].st != FLASH_OK)
            continue;
        cr_assert(!gone[i], "key %u: deleted, but back after a crash", i);
        cr_assert(after[i].match, "key %u: got version %d after a crash, want %u", i,
                  after[i].got_ver, want[i]);
        found++;
    }
    cr_assert_eq(found, rec.items);
    /* all but the open segment (a few hundred items of this size) */
    cr_assert(found + 1500 >= kept, "%u of %u kept keys back", found, kept);
    free(after);
    free(gone);
    free(want);
}

/* Removals while checkpoints are being built (a load that deletes as it
 * goes): the builds are still published (the removed keys journaled
 * first thing), none is spoiled, and no removed key comes back after a
 * crash. */
/* forget: the key's entry is dropped first without a change (a promotion
 * to RAM: flash_forget), then the change comes with no flash_remove (the
 * RAM copy has no flash location): only flash_note_mutation tells. */
static void changes_during_builds(const char *name, bool forget)
{
    open_ckpt(name);
    enqueued = 0;
    bool *gone = calloc(NKEYS, sizeof *gone);
    spill_all(NKEYS / 2, 0);
    wait_checkpoint();
    uint64_t c1 = stats().flash_checkpoints;
    for (unsigned i = NKEYS / 2; i < NKEYS; i++)
        spill_ok(i, 0);
    wait_written(enqueued);
    /* new segments: the writer builds the next checkpoint now; remove
     * kept keys while it does, until it is published */
    unsigned removed = 0;
    for (unsigned k = 0; k < NKEYS / 2 && (removed < 200 || stats().flash_checkpoints == c1);
         k += 3) {
        if (forget) {
            flash_forget(E.f, key_hash(k));
            usleep(50);
            flash_note_mutation(E.f, key_hash(k));
        } else {
            flash_note_mutation(E.f, key_hash(k));
            flash_remove(E.f, key_hash(k));
        }
        gone[k] = true;
        removed++;
        usleep(100);
    }
    wait_checkpoint();
    cr_assert(stats().flash_checkpoints > c1);
    cr_assert_eq(stats().flash_checkpoints_dirty, 0);
    cr_assert_eq(stats().flash_checkpoints_invalidated, 0);
    flash_recovery_t rec;
    crash_and_reopen(&rec);
    cr_assert_eq(rec.kind, FLASH_RECOVERY_CHECKPOINT);
    rd_t *after = read_all(NKEYS, NULL);
    unsigned found = 0;
    for (unsigned i = 0; i < NKEYS; i++) {
        if (after[i].st != FLASH_OK)
            continue;
        cr_assert(!gone[i], "key %u: removed, but back after a crash", i);
        cr_assert(after[i].match, "key %u: wrong value", i);
        found++;
    }
    cr_assert(found > NKEYS / 2, "%u keys back", found);
    free(after);
    free(gone);
}

Test(store, removals_during_builds)
{
    changes_during_builds("ckrm", false);
}

Test(store, promoted_changes_during_builds)
{
    changes_during_builds("ckpr", true);
}

/* A thread removes keys (as changes) while the writer seals, extends and
 * builds checkpoints: after a crash, none of them is back. */
static struct {
    _Atomic bool stop;
    _Atomic bool gone[NKEYS];
} RM;

static void *remover(void *arg)
{
    (void)arg;
    uint64_t x = 88172645463325252ull;
    while (!atomic_load(&RM.stop)) {
        /* keys whose copy is indexed (written in order): a removal of a
         * key still queued is the cache's to repeat (ram_spill_done) */
        unsigned n = (unsigned)atomic_load(&E.written);
        if (n < 100) {
            usleep(100);
            continue;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        unsigned k = (unsigned)(x % n);
        atomic_store(&RM.gone[k], true); /* before the change: the model */
        flash_note_mutation(E.f, key_hash(k));
        flash_remove(E.f, key_hash(k));
        usleep(20);
    }
    return NULL;
}

Test(store, removals_race_extends)
{
    open_ckpt("ckrace");
    enqueued = 0;
    memset(&RM, 0, sizeof RM);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, remover, NULL), 0);
    for (unsigned i = 0; i < NKEYS; i++) {
        spill_ok(i, 0);
        if (i % 1000 == 999) { /* the writer idles: builds, extends */
            wait_written(enqueued);
            usleep(5000);
        }
    }
    wait_written(enqueued);
    atomic_store(&RM.stop, true);
    pthread_join(t, NULL);
    wait_checkpoint();
    cr_assert(stats().flash_checkpoint_extends + stats().flash_checkpoints > 1);
    flash_recovery_t rec;
    crash_and_reopen(&rec);
    cr_assert_eq(rec.kind, FLASH_RECOVERY_CHECKPOINT);
    rd_t *after = read_all(NKEYS, NULL);
    unsigned found = 0, gone = 0;
    for (unsigned i = 0; i < NKEYS; i++) {
        gone += atomic_load(&RM.gone[i]);
        if (after[i].st != FLASH_OK)
            continue;
        cr_assert(!atomic_load(&RM.gone[i]), "key %u: removed, but back after a crash", i);
        cr_assert(after[i].match, "key %u: wrong value", i);
        found++;
    }
    cr_assert(gone > 100, "%u removed", gone);
    cr_assert(found > (NKEYS - gone) / 2, "%u of %u back", found, NKEYS - gone);
    free(after);
}

/* A key no checkpoint kept changes: no device write (Bloom false positives
 * aside, which journal a key that needs none). */
Test(store, checkpoint_ignores_other_keys)
{
    open_ckpt("ckpt2");
    enqueued = 0;
    spill_all(2000, 0);
    wait_checkpoint();
    unsigned fp = 0;
    for (unsigned i = 100000; i < 101000; i++)
        flash_note_mutation(E.f, key_hash(i));
    fp = (unsigned)stats().flash_checkpoint_kills;
    cr_assert_eq(stats().flash_checkpoints_invalidated, 0);
    /* Bloom false positives only: ~0.6% planned */
    cr_assert(fp <= 20, "%u of 1000 other keys invalidated the checkpoint", fp);
}

/* The format version: a file of an earlier format (intact superblock) is
 * reinitialised with a note naming it; a later one is refused, untouched. */
static void set_sb_version(uint32_t v)
{
    int fd = open(E.path, O_RDWR);
    uint8_t b[FLASH_SB_LEN];
    cr_assert_eq(pread(fd, b, sizeof b, 0), (ssize_t)sizeof b);
    fl_put_u32(b + 16, v);
    fl_put_u64(b + FLASH_SB_CKSUM_OFF, XXH3_64bits(b, FLASH_SB_CKSUM_OFF));
    cr_assert_eq(pwrite(fd, b, sizeof b, 0), (ssize_t)sizeof b);
    close(fd);
}

Test(store, format_version)
{
    open_store("version", 0);
    enqueued = 0;
    spill_all(500, 0);
    stop_clean();
    set_sb_version(FLASH_FORMAT_VERSION + 1);
    flash_settings_t s;
    settings(&s);
    char err[512];
    cr_assert_eq(flash_create(&E.f, &s, err, sizeof err), FLASH_EDAMAGED, "%s", err);
    cr_assert(strstr(err, "this build reads") != NULL, "%s", err);
    set_sb_version(FLASH_FORMAT_VERSION - 1);
    reopen(err, sizeof err);
    cr_assert(strstr(err, "of format 3") != NULL, "%s", err);
    cr_assert(strstr(err, "reinitialised as format 4") != NULL, "%s", err);
    flash_recovery_t rec;
    flash_recovery(E.f, &rec);
    cr_assert_eq(rec.kind, FLASH_RECOVERY_NEW);
    cr_assert_eq(stats().flash_items, 0);
    rd_t *rds = read_all(500, NULL);
    for (unsigned i = 0; i < 500; i++)
        cr_assert_neq(rds[i].st, FLASH_OK, "key %u of the old format served", i);
    free(rds);
}
