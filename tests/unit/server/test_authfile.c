/* tests/unit/server/test_authfile.c - the -Y file: memcached's format
 * (user:password lines, "\n" / "\r\n" / end of file, empty user or
 * password allowed), malformed lines with their number, and the check. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authfile.h"

static authfile_t *a;

static void teardown(void)
{
    authfile_destroy(&a);
}

TestSuite(authfile, .fini = teardown);

static authfile_status_e parse(const char *text, size_t *bad)
{
    authfile_destroy(&a);
    return authfile_parse(text, strlen(text), &a, bad);
}

static bool check(const char *user, const char *pass)
{
    return authfile_check(a, user, strlen(user), pass, strlen(pass));
}

Test(authfile, entries_and_line_endings)
{
    cr_assert_eq(parse("user:pass\nfoo:bar\r\n:anon\nnopw:\nlast:one", NULL),
                 AUTHFILE_OK);
    cr_assert_eq(authfile_count(a), 5);
    cr_assert(check("user", "pass"));
    cr_assert(check("foo", "bar"));
    cr_assert(check("", "anon"));
    cr_assert(check("nopw", ""));
    cr_assert(check("last", "one"));
    cr_assert_not(check("foo", "bar\r"));
    cr_assert_not(check("user", "pas"));
    cr_assert_not(check("user", "passs"));
    cr_assert_not(check("use", "pass"));
    cr_assert_not(check("foo", "pass"), "passwords are per user");
}

Test(authfile, password_may_hold_colons_and_spaces)
{
    cr_assert_eq(parse("u:a:b c\n", NULL), AUTHFILE_OK);
    cr_assert(check("u", "a:b c"));
}

Test(authfile, more_than_eight_entries)
{
    char buf[512] = "";
    for (int i = 0; i < 20; i++)
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "u%d:p%d\n",
                 i, i);
    cr_assert_eq(parse(buf, NULL), AUTHFILE_OK);
    cr_assert_eq(authfile_count(a), 20);
    cr_assert(check("u19", "p19"));
}

Test(authfile, malformed_lines)
{
    size_t bad = 0;
    cr_assert_eq(parse("nocolon\n", &bad), AUTHFILE_EMALFORMED);
    cr_assert_eq(bad, 1);
    cr_assert_null(a);
    cr_assert_eq(parse("a:b\n\nc:d\n", &bad), AUTHFILE_EMALFORMED);
    cr_assert_eq(bad, 2, "an empty line is malformed (memcached)");
    cr_assert_eq(parse("a:b\nc:d\n\n", &bad), AUTHFILE_EMALFORMED);
    cr_assert_eq(bad, 3);
    char longline[400];
    memset(longline, 'x', sizeof(longline));
    longline[0] = 'u';
    longline[1] = ':';
    longline[sizeof(longline) - 1] = '\0';
    cr_assert_eq(parse(longline, &bad), AUTHFILE_EMALFORMED);
    /* a NUL before the colon: memcached's fgets sees no user */
    authfile_destroy(&a);
    cr_assert_eq(authfile_parse("ab\0:c\n", 6, &a, &bad), AUTHFILE_EMALFORMED);
}

Test(authfile, empty_file_has_no_users)
{
    cr_assert_eq(parse("", NULL), AUTHFILE_OK);
    cr_assert_eq(authfile_count(a), 0);
    cr_assert_not(check("", ""));
}

Test(authfile, load_from_disk)
{
    char path[] = "/tmp/test_authfile_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "disk:user\n", 10), 10);
    close(fd);
    cr_assert_eq(authfile_load(path, &a, NULL), AUTHFILE_OK);
    cr_assert(check("disk", "user"));
    unlink(path);
    authfile_destroy(&a);
    cr_assert_eq(authfile_load(path, &a, NULL), AUTHFILE_EOPEN);
    cr_assert_null(a);
    cr_assert_str_neq(authfile_strerror(AUTHFILE_EMALFORMED), "");
}
