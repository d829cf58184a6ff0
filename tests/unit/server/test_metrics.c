/* Unit tests for server/metrics.c: the --metrics-listen address and the
 * escaping of the exposition text. */
#include <criterion/criterion.h>
#include <event2/buffer.h>
#include <string.h>

#include "metrics.h"

static void parses(const char *spec, const char *host, int port)
{
    char h[64];
    int p = -1;
    cr_assert_eq(metrics_parse_listen(spec, h, sizeof(h), &p), METRICS_OK,
                 "%s", spec);
    cr_assert_str_eq(h, host, "%s", spec);
    cr_assert_eq(p, port, "%s", spec);
}

static void refused(const char *spec)
{
    char h[64];
    int p = -1;
    cr_assert_eq(metrics_parse_listen(spec, h, sizeof(h), &p), METRICS_EADDR,
                 "%s was accepted", spec);
}

Test(metrics, parse_listen)
{
    parses("9150", "127.0.0.1", 9150);          /* PORT alone: loopback */
    parses("127.0.0.1:1", "127.0.0.1", 1);
    parses("0.0.0.0:65535", "0.0.0.0", 65535);  /* only when named */
    parses("localhost:9150", "localhost", 9150);
    parses("[::1]:9150", "::1", 9150);
    parses("[::]:80", "::", 80);
    refused("");
    refused("0");
    refused("65536");
    refused("123456");
    refused("-1");
    refused("+80");
    refused("abc");
    refused("127.0.0.1:");
    refused(":9150");
    refused("127.0.0.1:0");
    refused("127.0.0.1:9150x");
    refused("::1:9150");      /* a v6 address needs brackets */
    refused("[::1]9150");
    refused("[::1]:");
    refused("[]:9150");
    refused("[::1");
    cr_assert_eq(metrics_parse_listen(NULL, (char[8]){0}, 8, &(int){0}),
                 METRICS_EADDR);
    /* a host longer than the caller's buffer */
    char small[4];
    int p;
    cr_assert_eq(metrics_parse_listen("abcd:1", small, sizeof(small), &p),
                 METRICS_EADDR);
    cr_assert_eq(metrics_parse_listen("abc:1", small, sizeof(small), &p),
                 METRICS_OK);
}

static char *drain(struct evbuffer *b)
{
    size_t n = evbuffer_get_length(b);
    char *s = calloc(1, n + 1);
    evbuffer_remove(b, s, n);
    return s;
}

Test(metrics, escaping)
{
    struct evbuffer *b = evbuffer_new();
    metrics_escape_label(b, "a\\b\"c\nd");
    char *s = drain(b);
    cr_assert_str_eq(s, "a\\\\b\\\"c\\nd");
    free(s);
    metrics_escape_help(b, "a\\b\"c\nd");
    s = drain(b);
    cr_assert_str_eq(s, "a\\\\b\"c\\nd"); /* quotes stay in # HELP */
    free(s);
    metrics_escape_label(b, "");
    cr_assert_eq(evbuffer_get_length(b), 0);
    evbuffer_free(b);
}

Test(metrics, strerror)
{
    for (int st = METRICS_OK; st <= METRICS_ENOMEM; st++)
        cr_assert(strlen(metrics_strerror((metrics_status_e)st)) > 0);
}
