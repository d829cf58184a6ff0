/* tests/unit/server/test_outq.c - reply queue: text merging, references,
 * partial writev progress on a full socket, item release when the queue
 * drains and on rollback, write errors. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bufpool.h"
#include "cache.h"
#include "outq.h"

static cache_t *c;
static cache_worker_t *w;
static bufpool_t pool;
static outq_t q;
static int sv[2] = {-1, -1}; /* sv[0]: the queue writes, sv[1]: the test reads */

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    cache_settings_t set;
    cache_settings_default(&set);
    set.ram.maintainer_thread = false;
    set.ram.crawler_thread = false;
    cr_assert_eq(cache_create(&c, &set), CACHE_OK);
    cr_assert_eq(cache_worker_create(c, &w), CACHE_OK);
    bufpool_init(&pool, 4);
    outq_init(&q, &pool, w);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    cr_assert_eq(fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK), 0);
    cr_assert_eq(fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK), 0);
}

static void teardown(void)
{
    outq_destroy(&q);
    bufpool_teardown(&pool);
    cache_worker_destroy(&w);
    cache_destroy(&c);
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    sv[0] = sv[1] = -1;
}

TestSuite(outq, .init = setup, .fini = teardown);

/* Stores key=value and returns it referenced. */
static cache_item_t *item(const char *key, const char *val, size_t nval)
{
    cache_item_t *it = NULL;
    cr_assert_eq(cache_item_alloc(w, key, strlen(key), 0, 0, nval, &it), CACHE_OK);
    memcpy(cache_item_data(it), val, nval);
    cr_assert_eq(cache_store(w, it, CACHE_STORE_SET, 0, NULL, NULL), CACHE_OK);
    return it;
}

/* Slab chunks in use (all classes): an item's chunk is freed only when its
 * last reference goes, so this shows whether the queue released it. */
static void sum_used(void *ctx, const char *name, const char *value)
{
    const char *p = strchr(name, ':');
    if (p && strcmp(p + 1, "used_chunks") == 0)
        *(unsigned long *)ctx += strtoul(value, NULL, 10);
}

static unsigned long used_chunks(void)
{
    unsigned long n = 0;
    cache_stats_group(c, CACHE_STATS_SLABS, sum_used, &n);
    return n;
}

/* Reads what is available on sv[1], appending to buf. */
static size_t drain(char *buf, size_t have, size_t cap)
{
    for (;;) {
        ssize_t r = read(sv[1], buf + have, cap - have);
        if (r <= 0)
            return have;
        have += (size_t)r;
    }
}

Test(outq, text_merges_and_writes_in_order)
{
    outq_text(&q, "VALUE ", 6);
    outq_text(&q, "k 0 1\r\n", 7);
    outq_printf(&q, "%s %d\r\n", "STAT x", 42);
    cr_assert_eq(q.niov, 1, "adjacent text is one iovec");
    cr_assert_eq(q.pending, 6 + 7 + 11);
    size_t written = 0;
    cr_assert_eq(outq_write(&q, sv[0], &written), OUTQ_DONE);
    cr_assert_eq(written, 24);
    char buf[64];
    size_t n = drain(buf, 0, sizeof buf);
    cr_assert_eq(n, 24);
    cr_assert(memcmp(buf, "VALUE k 0 1\r\nSTAT x 42\r\n", 24) == 0);
    cr_assert_eq(q.pending, 0);
    cr_assert_eq(q.niov, 0);
    cr_assert_eq(q.nblocks, 0, "blocks go back to the pool when drained");
    cr_assert_eq(pool.allocated, 0);
}

Test(outq, empty_queue_is_done)
{
    size_t written = 99;
    cr_assert_eq(outq_write(&q, sv[0], &written), OUTQ_DONE);
    cr_assert_eq(written, 0);
}

Test(outq, partial_writev_progress_and_release_on_completion)
{
    enum { NVAL = 150000, NTEXT = 40000 };
    char *val = malloc(NVAL);
    for (size_t i = 0; i < NVAL; i++)
        val[i] = (char)('a' + i % 26);
    cache_item_t *it = item("big", val, NVAL);
    unsigned long base = used_chunks();
    cr_assert_geq(base, 1);

    /* text (over two pool blocks), the value by reference, text */
    char *text = malloc(NTEXT);
    for (size_t i = 0; i < NTEXT; i++)
        text[i] = (char)('0' + i % 10);
    outq_text(&q, text, NTEXT);
    cr_assert_geq(q.nblocks, 3, "%d bytes of text span blocks", NTEXT);
    outq_ref(&q, cache_item_value(it), cache_item_nbytes(it));
    outq_text(&q, "\r\nEND\r\n", 7);
    outq_hold(&q, it); /* the queue now owns our reference */
    it = NULL;
    size_t total = NTEXT + NVAL + 7;
    cr_assert_eq(q.pending, total);

    /* the item is deleted meanwhile: its bytes stay valid while queued */
    cr_assert_eq(cache_delete(w, "big", 3, NULL), CACHE_OK);
    cr_assert_eq(used_chunks(), base, "a queued item keeps its chunk");

    char *got = malloc(total);
    size_t have = 0, sent = 0, written = 0;
    int rounds = 0;
    outq_status_e st;
    while ((st = outq_write(&q, sv[0], &written)) == OUTQ_AGAIN) {
        sent += written;
        cr_assert_eq(q.pending, total - sent, "pending follows partial writes");
        cr_assert_lt(sent, total);
        cr_assert_eq(used_chunks(), base, "not released before the end");
        have = drain(got, have, total);
        rounds++;
        cr_assert_lt(rounds, 100000);
    }
    cr_assert_eq(st, OUTQ_DONE);
    sent += written;
    cr_assert_gt(rounds, 1, "the small socket buffer forced partial writes");
    cr_assert_eq(sent, total);
    have = drain(got, have, total);
    cr_assert_eq(have, total);
    cr_assert(memcmp(got, text, NTEXT) == 0);
    cr_assert(memcmp(got + NTEXT, val, NVAL) == 0);
    cr_assert(memcmp(got + NTEXT + NVAL, "\r\nEND\r\n", 7) == 0);
    cr_assert_eq(used_chunks(), base - 1, "released once written");
    cr_assert_eq(q.nheld, 0);
    cr_assert_eq(pool.allocated, 0);
    free(got);
    free(text);
    free(val);
}

Test(outq, rollback_releases_items_after_the_mark)
{
    cache_item_t *a = item("a", "AAAA", 4);
    cache_item_t *b = item("b", "BBBB", 4);
    outq_text(&q, "VALUE a 0 4\r\n", 13);
    outq_ref(&q, cache_item_value(a), 4);
    outq_text(&q, "\r\n", 2);
    outq_hold(&q, a);
    outq_mark_t m;
    outq_mark(&q, &m);
    size_t pending = q.pending;
    outq_text(&q, "VALUE b 0 4\r\n", 13);
    outq_ref(&q, cache_item_value(b), 4);
    outq_text(&q, "\r\n", 2);
    outq_hold(&q, b);
    cr_assert_eq(q.nheld, 2);
    cache_delete(w, "a", 1, NULL);
    cache_delete(w, "b", 1, NULL);
    unsigned long before = used_chunks();
    cr_assert_eq(before, 2, "both held");

    outq_rollback(&q, &m);
    cr_assert_eq(q.nheld, 1);
    cr_assert_eq(q.pending, pending);
    cr_assert_eq(used_chunks(), 1, "b released by the rollback");
    outq_text(&q, "END\r\n", 5);

    size_t written = 0;
    cr_assert_eq(outq_write(&q, sv[0], &written), OUTQ_DONE);
    char buf[64];
    size_t n = drain(buf, 0, sizeof buf);
    const char *want = "VALUE a 0 4\r\nAAAA\r\nEND\r\n";
    cr_assert_eq(n, strlen(want));
    cr_assert(memcmp(buf, want, n) == 0);
    cr_assert_eq(used_chunks(), 0, "a released once written");
}

Test(outq, rollback_within_merged_text)
{
    outq_text(&q, "abc", 3);
    outq_mark_t m;
    outq_mark(&q, &m);
    outq_text(&q, "def", 3);
    cr_assert_eq(q.niov, 1);
    outq_rollback(&q, &m);
    outq_text(&q, "XY", 2);
    size_t written = 0;
    cr_assert_eq(outq_write(&q, sv[0], &written), OUTQ_DONE);
    char buf[16];
    size_t n = drain(buf, 0, sizeof buf);
    cr_assert_eq(n, 5);
    cr_assert(memcmp(buf, "abcXY", 5) == 0);
}

Test(outq, destroy_releases_unwritten_items)
{
    cache_item_t *a = item("a", "AAAA", 4);
    outq_ref(&q, cache_item_value(a), 4);
    outq_hold(&q, a);
    cache_delete(w, "a", 1, NULL);
    cr_assert_eq(used_chunks(), 1);
    outq_destroy(&q);
    cr_assert_eq(used_chunks(), 0);
    outq_init(&q, &pool, w);
}

Test(outq, write_error_when_peer_closed)
{
    outq_text(&q, "hello\r\n", 7);
    close(sv[1]);
    sv[1] = -1;
    size_t written = 0;
    cr_assert_eq(outq_write(&q, sv[0], &written), OUTQ_ERROR);
    cr_assert_eq(written, 0);
}
