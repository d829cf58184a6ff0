/* tests/unit/server/test_prefix_stats.c - `stats detail`: counting only
 * while on, the delimiter, memcached's dump order and format, clear, and
 * the bound on prefixes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prefix_stats.h"

static prefix_stats_t *p;

static void setup(void)
{
    cr_assert_eq(prefix_stats_create(':', &p), PREFIX_STATS_OK);
}

static void teardown(void)
{
    prefix_stats_destroy(&p);
    cr_assert_null(p);
}

TestSuite(prefix_stats, .init = setup, .fini = teardown);

static char *dump(void)
{
    size_t len = 0;
    char *t = prefix_stats_text(p, &len);
    cr_assert_not_null(t);
    cr_assert_eq(strlen(t), len);
    return t;
}

#define K(s) s, strlen(s)

Test(prefix_stats, off_counts_nothing)
{
    cr_assert(!prefix_stats_on(p));
    cr_assert(!prefix_stats_on(NULL));
    prefix_stats_set(p, K("a:1"));
    prefix_stats_get(p, K("a:1"), true);
    char *t = dump();
    cr_assert_str_eq(t, "END\r\n");
    free(t);
}

Test(prefix_stats, memcached_order_and_counts)
{
    prefix_stats_enable(p, true);
    /* the sequence checked against memcached 1.6.18 (tests/blackbox/
     * test_watch.py TestStatsDetail has its bytes) */
    prefix_stats_set(p, K("a:1"));
    prefix_stats_get(p, K("a:1"), true);
    prefix_stats_get(p, K("a:2"), false);
    prefix_stats_get(p, K("b:1"), false);
    prefix_stats_get(p, K("nokey"), false);
    prefix_stats_delete(p, K("a:1"));
    prefix_stats_delete(p, K("a:9"));
    prefix_stats_set(p, K("c:x"));
    prefix_stats_set(p, K("c:x"));
    prefix_stats_get(p, K("c:x"), true);
    char *t = dump();
    cr_assert_str_eq(t, "PREFIX b get 1 hit 0 set 0 del 0\r\n"
                        "PREFIX c get 1 hit 1 set 2 del 0\r\n"
                        "PREFIX a get 2 hit 1 set 1 del 2\r\n"
                        "END\r\n");
    free(t);
    prefix_stats_enable(p, false);
    prefix_stats_get(p, K("a:1"), true); /* off: the counts stay as they are */
    t = dump();
    cr_assert(strstr(t, "PREFIX a get 2 hit 1 set 1 del 2\r\n") != NULL);
    free(t);
    prefix_stats_clear(p);
    t = dump();
    cr_assert_str_eq(t, "END\r\n");
    free(t);
}

Test(prefix_stats, delimiter)
{
    prefix_stats_t *q = NULL;
    cr_assert_eq(prefix_stats_create('.', &q), PREFIX_STATS_OK);
    prefix_stats_enable(q, true);
    prefix_stats_get(q, K("a:1"), false);
    prefix_stats_get(q, K("x.y.z"), true);
    size_t len;
    char *t = prefix_stats_text(q, &len);
    cr_assert_str_eq(t, "PREFIX x get 1 hit 1 set 0 del 0\r\nEND\r\n");
    free(t);
    prefix_stats_destroy(&q);
}

Test(prefix_stats, bounded)
{
    prefix_stats_enable(p, true);
    char key[32];
    for (int i = 0; i < PREFIX_STATS_MAX + 100; i++) {
        int n = snprintf(key, sizeof key, "p%d:x", i);
        prefix_stats_set(p, key, (size_t)n);
    }
    char *t = dump();
    size_t lines = 0;
    for (const char *s = t; (s = strstr(s, "PREFIX ")) != NULL; s++)
        lines++;
    cr_assert_eq(lines, PREFIX_STATS_MAX);
    cr_assert(strstr(t, "PREFIX p0 get 0 hit 0 set 1 del 0\r\n") != NULL);
    cr_assert(strstr(t, "PREFIX p65536 ") == NULL, "past the bound");
    free(t);
    /* a known prefix still counts at the bound */
    prefix_stats_set(p, K("p0:y"));
    t = dump();
    cr_assert(strstr(t, "PREFIX p0 get 0 hit 0 set 2 del 0\r\n") != NULL);
    free(t);
}
