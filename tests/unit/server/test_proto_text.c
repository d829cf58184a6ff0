/*
 * tests/unit/server/test_proto_text.c - the text protocol parser.
 *
 * Every expected reply below was observed on Debian's memcached 1.6.18
 * (transcripts in /work/notes/proto-findings.md). Each table line is also
 * fed split at every byte (each prefix copied into an exact-size heap block
 * so ASan catches any read past `len`), with "\r\n" and "\n" endings, and
 * all lines back to back in one buffer.
 */
#include <criterion/criterion.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_text.h"

static const text_limits_t LIMITS = {TEXT_LINE_MAX, 65536};

#define LN(s) .line = (s), .n = sizeof(s) - 1

/* ---- tables ------------------------------------------------------- */

typedef struct vcase {
    const char *line; /* without its line ending */
    size_t n;
    text_cmd_e cmd;
    const char *key;  /* NULL: no key */
    uint32_t flags;
    int64_t exptime;
    size_t nbytes;
    uint64_t cas;
    uint64_t delta;
    int64_t delay;
    unsigned verbosity;
    bool noreply;
    const char *args; /* NULL: args must be NULL */
    const char *keys; /* get family: expected keys joined by ',' */
} vcase_t;

static const vcase_t VALID[] = {
    /* get family */
    {LN("get a"), .cmd = TEXT_CMD_GET, .keys = "a"},
    {LN("gets a"), .cmd = TEXT_CMD_GETS, .keys = "a"},
    {LN("get a b  c "), .cmd = TEXT_CMD_GET, .keys = "a,b,c"},
    {LN("  get   a"), .cmd = TEXT_CMD_GET, .keys = "a"},
    {LN("get a b c d e f g h i j k l m n o p q r s t u v w x y z a1 a2 a3"),
     .cmd = TEXT_CMD_GET,
     .keys = "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u,v,w,x,y,z,a1,a2,a3"},
    {LN("get noreply"), .cmd = TEXT_CMD_GET, .keys = "noreply"},
    {LN("get a\0 zzz"), .cmd = TEXT_CMD_GET, .keys = "a"},
    {LN("get a\r"), .cmd = TEXT_CMD_GET, .keys = "a\r"},
    {LN("get a\x01" "b"), .cmd = TEXT_CMD_GET, .keys = "a\x01" "b"},
    {LN("get a\tb"), .cmd = TEXT_CMD_GET, .keys = "a\tb"},
    {LN("bget a"), .cmd = TEXT_CMD_GET, .keys = "a"},
    {LN("gat 10"), .cmd = TEXT_CMD_GAT, .exptime = 10, .keys = ""},
    {LN("gats 10"), .cmd = TEXT_CMD_GATS, .exptime = 10, .keys = ""},
    {LN("gat 10 a"), .cmd = TEXT_CMD_GAT, .exptime = 10, .keys = "a"},
    {LN("gats 10 a b"), .cmd = TEXT_CMD_GATS, .exptime = 10, .keys = "a,b"},
    {LN("gat -1 k"), .cmd = TEXT_CMD_GAT, .exptime = -1, .keys = "k"},
    {LN("gat +5 a"), .cmd = TEXT_CMD_GAT, .exptime = 5, .keys = "a"},
    {LN("gat 99999999999 k"), .cmd = TEXT_CMD_GAT, .exptime = 1215752191,
     .keys = "k"},
    {LN("gat 0 a noreply"), .cmd = TEXT_CMD_GAT, .keys = "a,noreply"},
    /* storage */
    {LN("set a 0 0 1"), .cmd = TEXT_CMD_SET, .key = "a", .nbytes = 1},
    {LN("set a 0 0 1 foo"), .cmd = TEXT_CMD_SET, .key = "a", .nbytes = 1},
    {LN("set a 0 0 1 noreply"), .cmd = TEXT_CMD_SET, .key = "a", .nbytes = 1,
     .noreply = true},
    {LN("set a 0 0 1   noreply  "), .cmd = TEXT_CMD_SET, .key = "a",
     .nbytes = 1, .noreply = true},
    {LN("set a 0 0 1 noreply\t"), .cmd = TEXT_CMD_SET, .key = "a",
     .nbytes = 1},
    {LN("  set   a  0 0   1  "), .cmd = TEXT_CMD_SET, .key = "a", .nbytes = 1},
    {LN("set a 5 100 10"), .cmd = TEXT_CMD_SET, .key = "a", .flags = 5,
     .exptime = 100, .nbytes = 10},
    {LN("set a -0 0 1"), .cmd = TEXT_CMD_SET, .key = "a", .nbytes = 1},
    {LN("set a +5 0 1"), .cmd = TEXT_CMD_SET, .key = "a", .flags = 5,
     .nbytes = 1},
    {LN("set a 4294967295 0 1"), .cmd = TEXT_CMD_SET, .key = "a",
     .flags = 4294967295u, .nbytes = 1},
    {LN("set a 4294967296 0 1"), .cmd = TEXT_CMD_SET, .key = "a",
     .flags = 0, .nbytes = 1},
    {LN("set a 18446744073709551615 0 1"), .cmd = TEXT_CMD_SET, .key = "a",
     .flags = 4294967295u, .nbytes = 1},
    {LN("set a 0 99999999999 1"), .cmd = TEXT_CMD_SET, .key = "a",
     .exptime = 1215752191, .nbytes = 1},
    {LN("set a 0 2147483647 1"), .cmd = TEXT_CMD_SET, .key = "a",
     .exptime = 2147483647, .nbytes = 1},
    {LN("set a 0 2147483648 1"), .cmd = TEXT_CMD_SET, .key = "a",
     .exptime = INT32_MIN, .nbytes = 1},
    {LN("set a 0 -2147483648 1"), .cmd = TEXT_CMD_SET, .key = "a",
     .exptime = INT32_MIN, .nbytes = 1},
    {LN("set a 0 -4294967296 1"), .cmd = TEXT_CMD_SET, .key = "a",
     .exptime = 0, .nbytes = 1},
    {LN("set a 0 -99999999999 1"), .cmd = TEXT_CMD_SET, .key = "a",
     .exptime = -1215752191, .nbytes = 1},
    {LN("set a 0 -1 1"), .cmd = TEXT_CMD_SET, .key = "a", .exptime = -1,
     .nbytes = 1},
    {LN("set a 0 0 -4294967295"), .cmd = TEXT_CMD_SET, .key = "a",
     .nbytes = 1},
    {LN("set a 0 0 4294967297"), .cmd = TEXT_CMD_SET, .key = "a",
     .nbytes = 1},
    {LN("set a 0 0 2147483645"), .cmd = TEXT_CMD_SET, .key = "a",
     .nbytes = 2147483645},
    {LN("set a 0 0 1\t"), .cmd = TEXT_CMD_SET, .key = "a", .nbytes = 1},
    {LN("set a 0 0 1\r"), .cmd = TEXT_CMD_SET, .key = "a", .nbytes = 1},
    {LN("set a 0 0 1\x0b"), .cmd = TEXT_CMD_SET, .key = "a", .nbytes = 1},
    {LN("set a 0 0 \t1"), .cmd = TEXT_CMD_SET, .key = "a", .nbytes = 1},
    {LN("set a 0 0 1\tjunk"), .cmd = TEXT_CMD_SET, .key = "a", .nbytes = 1},
    {LN("set a 0 0 1\0 junk"), .cmd = TEXT_CMD_SET, .key = "a", .nbytes = 1},
    {LN("set a\x01" "b 0 0 1"), .cmd = TEXT_CMD_SET, .key = "a\x01" "b",
     .nbytes = 1},
    {LN("set a\tb 0 0 1"), .cmd = TEXT_CMD_SET, .key = "a\tb", .nbytes = 1},
    {LN("set a\r 0 0 1"), .cmd = TEXT_CMD_SET, .key = "a\r", .nbytes = 1},
    {LN("add a 0 0 1 noreply"), .cmd = TEXT_CMD_ADD, .key = "a", .nbytes = 1,
     .noreply = true},
    {LN("replace zz 1 2 3"), .cmd = TEXT_CMD_REPLACE, .key = "zz",
     .flags = 1, .exptime = 2, .nbytes = 3},
    {LN("append zz 0 0 1"), .cmd = TEXT_CMD_APPEND, .key = "zz", .nbytes = 1},
    {LN("prepend zz 0 0 1"), .cmd = TEXT_CMD_PREPEND, .key = "zz",
     .nbytes = 1},
    {LN("cas a 0 0 1 5"), .cmd = TEXT_CMD_CAS, .key = "a", .nbytes = 1,
     .cas = 5},
    {LN("cas a 0 0 1 5 noreply"), .cmd = TEXT_CMD_CAS, .key = "a",
     .nbytes = 1, .cas = 5, .noreply = true},
    {LN("cas a 0 0 1 5 foo"), .cmd = TEXT_CMD_CAS, .key = "a", .nbytes = 1,
     .cas = 5},
    {LN("cas a 0 0 1 -0"), .cmd = TEXT_CMD_CAS, .key = "a", .nbytes = 1},
    {LN("cas a 0 0 1 18446744073709551615"), .cmd = TEXT_CMD_CAS, .key = "a",
     .nbytes = 1, .cas = UINT64_MAX},
    /* arithmetic */
    {LN("incr k 1"), .cmd = TEXT_CMD_INCR, .key = "k", .delta = 1},
    {LN("decr k 1"), .cmd = TEXT_CMD_DECR, .key = "k", .delta = 1},
    {LN("incr k -0"), .cmd = TEXT_CMD_INCR, .key = "k", .delta = 0},
    {LN("incr k 18446744073709551615"), .cmd = TEXT_CMD_INCR, .key = "k",
     .delta = UINT64_MAX},
    {LN("incr k -9223372036854775809"), .cmd = TEXT_CMD_INCR, .key = "k",
     .delta = 9223372036854775807u},
    {LN("incr k 1 noreply"), .cmd = TEXT_CMD_INCR, .key = "k", .delta = 1,
     .noreply = true},
    {LN("incr k 1 foo"), .cmd = TEXT_CMD_INCR, .key = "k", .delta = 1},
    {LN("incr a 1\t"), .cmd = TEXT_CMD_INCR, .key = "a", .delta = 1},
    {LN("incr a +1"), .cmd = TEXT_CMD_INCR, .key = "a", .delta = 1},
    {LN("incr a  1 "), .cmd = TEXT_CMD_INCR, .key = "a", .delta = 1},
    /* touch / delete */
    {LN("touch k 10"), .cmd = TEXT_CMD_TOUCH, .key = "k", .exptime = 10},
    {LN("touch k 10 noreply"), .cmd = TEXT_CMD_TOUCH, .key = "k",
     .exptime = 10, .noreply = true},
    {LN("touch k 10 foo"), .cmd = TEXT_CMD_TOUCH, .key = "k", .exptime = 10},
    {LN("touch k 99999999999"), .cmd = TEXT_CMD_TOUCH, .key = "k",
     .exptime = 1215752191},
    {LN("delete k"), .cmd = TEXT_CMD_DELETE, .key = "k"},
    {LN("delete k 0"), .cmd = TEXT_CMD_DELETE, .key = "k"},
    {LN("delete k noreply"), .cmd = TEXT_CMD_DELETE, .key = "k",
     .noreply = true},
    {LN("delete k 0 noreply"), .cmd = TEXT_CMD_DELETE, .key = "k",
     .noreply = true},
    /* flush_all / verbosity / version / quit / shutdown */
    {LN("flush_all"), .cmd = TEXT_CMD_FLUSH_ALL},
    {LN("flush_all 0"), .cmd = TEXT_CMD_FLUSH_ALL},
    {LN("flush_all -1"), .cmd = TEXT_CMD_FLUSH_ALL, .delay = -1},
    {LN("flush_all 10 noreply"), .cmd = TEXT_CMD_FLUSH_ALL, .delay = 10,
     .noreply = true},
    {LN("flush_all noreply"), .cmd = TEXT_CMD_FLUSH_ALL, .noreply = true},
    {LN("flush_all 0 noreply"), .cmd = TEXT_CMD_FLUSH_ALL, .noreply = true},
    {LN("flush_all 10 foo"), .cmd = TEXT_CMD_FLUSH_ALL, .delay = 10},
    {LN("flush_all 99999999999"), .cmd = TEXT_CMD_FLUSH_ALL,
     .delay = 1215752191},
    {LN("verbosity 1"), .cmd = TEXT_CMD_VERBOSITY, .verbosity = 1},
    {LN("verbosity 0"), .cmd = TEXT_CMD_VERBOSITY},
    {LN("verbosity 1 noreply"), .cmd = TEXT_CMD_VERBOSITY, .verbosity = 1,
     .noreply = true},
    {LN("verbosity 1 foo"), .cmd = TEXT_CMD_VERBOSITY, .verbosity = 1},
    {LN("verbosity 4294967297"), .cmd = TEXT_CMD_VERBOSITY, .verbosity = 1},
    {LN("version"), .cmd = TEXT_CMD_VERSION},
    {LN("version foo bar"), .cmd = TEXT_CMD_VERSION},
    {LN("quit"), .cmd = TEXT_CMD_QUIT},
    {LN("quit foo"), .cmd = TEXT_CMD_QUIT},
    {LN("shutdown"), .cmd = TEXT_CMD_SHUTDOWN, .args = ""},
    {LN("shutdown graceful"), .cmd = TEXT_CMD_SHUTDOWN, .args = "graceful"},
    {LN("shutdown  graceful  "), .cmd = TEXT_CMD_SHUTDOWN,
     .args = "graceful"},
    {LN("shutdown foo"), .cmd = TEXT_CMD_SHUTDOWN, .args = "foo"},
    /* stats / lru_crawler / admin / meta */
    {LN("stats"), .cmd = TEXT_CMD_STATS, .args = ""},
    {LN("stats "), .cmd = TEXT_CMD_STATS, .args = ""},
    {LN("stats reset"), .cmd = TEXT_CMD_STATS, .args = "reset"},
    {LN("stats  reset  "), .cmd = TEXT_CMD_STATS, .args = "reset"},
    {LN("stats detail on"), .cmd = TEXT_CMD_STATS, .args = "detail on"},
    {LN("stats cachedump 1 x"), .cmd = TEXT_CMD_STATS,
     .args = "cachedump 1 x"},
    {LN("stats foo"), .cmd = TEXT_CMD_STATS, .args = "foo"},
    {LN("lru_crawler"), .cmd = TEXT_CMD_LRU_CRAWLER, .args = ""},
    {LN("lru_crawler sleep abc"), .cmd = TEXT_CMD_LRU_CRAWLER,
     .args = "sleep abc"},
    {LN("lru_crawler metadump all"), .cmd = TEXT_CMD_LRU_CRAWLER,
     .args = "metadump all"},
    {LN("slabs"), .cmd = TEXT_CMD_ADMIN, .args = "slabs"},
    {LN("slabs automove 1"), .cmd = TEXT_CMD_ADMIN,
     .args = "slabs automove 1"},
    {LN("slabs reassign 1 2"), .cmd = TEXT_CMD_ADMIN,
     .args = "slabs reassign 1 2"},
    {LN("lru mode flat"), .cmd = TEXT_CMD_ADMIN, .args = "lru mode flat"},
    {LN("lru foo"), .cmd = TEXT_CMD_ADMIN, .args = "lru foo"},
    {LN("cache_memlimit 100"), .cmd = TEXT_CMD_ADMIN,
     .args = "cache_memlimit 100"},
    {LN("cache_memlimit 100 noreply"), .cmd = TEXT_CMD_ADMIN,
     .args = "cache_memlimit 100 noreply"},
    {LN("watch"), .cmd = TEXT_CMD_ADMIN, .args = "watch"},
    {LN("watch fetchers mutations"), .cmd = TEXT_CMD_ADMIN,
     .args = "watch fetchers mutations"},
    {LN("extstore item_size 5"), .cmd = TEXT_CMD_ADMIN,
     .args = "extstore item_size 5"},
    {LN("refresh_certs"), .cmd = TEXT_CMD_ADMIN, .args = "refresh_certs"},
    {LN("mn"), .cmd = TEXT_CMD_META, .args = "mn"},
    {LN("mg"), .cmd = TEXT_CMD_META, .args = "mg"},
    {LN("mg a v"), .cmd = TEXT_CMD_META, .args = "mg a v"},
    {LN("ms a 1 T0"), .cmd = TEXT_CMD_META, .args = "ms a 1 T0"},
    {LN("md a q"), .cmd = TEXT_CMD_META, .args = "md a q"},
    {LN("ma a D5"), .cmd = TEXT_CMD_META, .args = "ma a D5"},
    {LN("me a"), .cmd = TEXT_CMD_META, .args = "me a"},
};

typedef struct ecase {
    const char *line; /* without its line ending */
    size_t n;
    text_parse_status_e status;
    const char *error; /* for EREPLY */
    bool noreply;
} ecase_t;

#define E_ERROR "ERROR"
#define E_FORMAT "CLIENT_ERROR bad command line format"
#define E_DELTA "CLIENT_ERROR invalid numeric delta argument"
#define E_EXPTIME "CLIENT_ERROR invalid exptime argument"
#define E_DELETE \
    "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"
#define ER(s, e) {LN(s), .status = TEXT_PARSE_EREPLY, .error = (e)}
#define ERN(s, e) \
    {LN(s), .status = TEXT_PARSE_EREPLY, .error = (e), .noreply = true}
#define EC(s) {LN(s), .status = TEXT_PARSE_ECLOSE}

static const ecase_t ERRORS[] = {
    /* unknown, empty, case, token counts -> ERROR */
    ER("", E_ERROR),
    ER("   ", E_ERROR),
    ER("x", E_ERROR),
    ER("xy", E_ERROR),
    ER("\r", E_ERROR),
    ER("\0get a", E_ERROR),
    ER("GET a", E_ERROR),
    ER("Get a", E_ERROR),
    ER("SET a 0 0 1", E_ERROR),
    ER("get", E_ERROR),
    ER("get ", E_ERROR),
    ER("gets", E_ERROR),
    ER("gat", E_ERROR),
    ER("gats", E_ERROR),
    ER("gxx a", E_ERROR),
    ER("get\ta", E_ERROR),
    ER("bget", E_ERROR),
    ER("set", E_ERROR),
    ER("set a", E_ERROR),
    ER("set a 0 0", E_ERROR),
    ER("set a 0 0\t1", E_ERROR),
    ER("set a 0 0 1 noreply extra", E_ERROR),
    ER("set a 0 0 1 noreply x", E_ERROR),
    ER("add a 0 0", E_ERROR),
    ER("replace a 0 0", E_ERROR),
    ER("append a 0 0 1 2 3", E_ERROR),
    ER("prepend a", E_ERROR),
    ER("cas a 0 0 1", E_ERROR),
    ER("cas a 0 0 1 5 noreply x", E_ERROR),
    ER("incr k", E_ERROR),
    ER("incr k 1 noreply foo", E_ERROR),
    ER("decr", E_ERROR),
    ER("touch k", E_ERROR),
    ER("touch k 1 noreply x", E_ERROR),
    ER("delete", E_ERROR),
    ER("delete\ta", E_ERROR),
    ER("delete k 0 noreply x", E_ERROR),
    ER("flush_all 1 2 3", E_ERROR),
    ER("verbosity", E_ERROR),
    ER("verbosity 1 2 3", E_ERROR),
    ER("mx", E_ERROR),
    ER("m", E_ERROR),
    ER("mgx a", E_ERROR),
    ER("misbehave", E_ERROR),
    ER("debugtime 1", E_ERROR),
    ER("cache_memlimit", E_ERROR),
    ER("cache_memlimit 1 2 3", E_ERROR),
    ER("lru", E_ERROR),
    ER("extstore", E_ERROR),
    ER("stats\tfoo", E_ERROR),
    ER("gxt / HTTP/1.1", E_ERROR),
    ER("xx a b c d e f g h i j k l m n o p q r s t u v w HTTP/1.1", E_ERROR),
    /* HTTP guard */
    EC("GET / HTTP/1.1"),
    EC("POST /x HTTP/1.0"),
    EC("foo HTTP/"),
    EC("xx a b c d e f g h i j k l m n o p q r s t u HTTP/1.1 w"),
    /* bad numbers in storage lines */
    ER("set a abc 0 1", E_FORMAT),
    ER("set a 0 abc 1", E_FORMAT),
    ER("set a 0 0 abc", E_FORMAT),
    ER("set a 0 0 -1", E_FORMAT),
    ER("set a -1 0 1", E_FORMAT),
    ER("set a 5x 0 1", E_FORMAT),
    ER("set a 18446744073709551616 0 1", E_FORMAT),
    ER("set a 0 9223372036854775808 1", E_FORMAT),
    ER("set a 0 0 2147483647", E_FORMAT),
    ER("set a 0 0 2147483646", E_FORMAT),
    ER("set a 0 0 +", E_FORMAT),
    ER("set a 0 0 -", E_FORMAT),
    ER("set a 0 0 \t", E_FORMAT),
    ER("set a 0 0 1x", E_FORMAT),
    ER("set a 0 0 +-1", E_FORMAT),
    ERN("set a abc 0 1 noreply", E_FORMAT),
    ERN("set a 0 0 -1 noreply", E_FORMAT),
    ER("append zz abc 0 1", E_FORMAT),
    ER("cas a 0 0 1 abc", E_FORMAT),
    ER("cas a 0 0 1 -1", E_FORMAT),
    ERN("cas a 0 0 1 abc noreply", E_FORMAT),
    /* incr/decr delta */
    ER("incr k abc", E_DELTA),
    ER("incr k -1", E_DELTA),
    ER("incr k 18446744073709551616", E_DELTA),
    ER("incr k -9223372036854775808", E_DELTA),
    ER("incr a 1x", E_DELTA),
    ER("decr k abc", E_DELTA),
    ERN("incr k abc noreply", E_DELTA),
    /* exptime */
    ER("gat abc k", E_EXPTIME),
    ER("gat 5x a", E_EXPTIME),
    ER("gats abc", E_EXPTIME),
    ER("touch k abc", E_EXPTIME),
    ERN("touch k abc noreply", E_EXPTIME),
    ER("flush_all abc", E_EXPTIME),
    ER("flush_all noreply foo", E_EXPTIME),
    ERN("flush_all abc noreply", E_EXPTIME),
    ERN("flush_all noreply noreply", E_EXPTIME),
    /* delete usage */
    ER("delete k 1", E_DELETE),
    ERN("delete k 1 noreply", E_DELETE),
    ER("delete k noreply 0", E_DELETE),
    ER("delete k 0 0", E_DELETE),
    ER("delete k 00", E_DELETE),
    ER("delete k 0\t", E_DELETE),
    ER("delete k noreply\t", E_DELETE),
    /* verbosity */
    ER("verbosity abc", E_FORMAT),
    ER("verbosity -1", E_FORMAT),
    ERN("verbosity noreply", E_FORMAT),
};

/* ---- helpers ------------------------------------------------------ */

/* Parses bytes copied into an exact-size heap block (ASan guards it). */
static text_parse_status_e parse_exact(const char *bytes, size_t n,
                                       const text_limits_t *lim,
                                       text_request_t *req, size_t *consumed,
                                       char **copy)
{
    *copy = malloc(n ? n : 1);
    cr_assert_not_null(*copy);
    memcpy(*copy, bytes, n);
    return text_parse(*copy, n, lim, req, consumed);
}

/* Builds line + ending into a fresh heap buffer. */
static char *with_ending(const char *line, size_t n, const char *eol,
                         size_t *total)
{
    size_t el = strlen(eol);
    char *b = malloc(n + el);
    cr_assert_not_null(b);
    memcpy(b, line, n);
    memcpy(b + n, eol, el);
    *total = n + el;
    return b;
}

static bool span_eq(const char *p, size_t n, const char *s)
{
    return s != NULL && p != NULL && n == strlen(s) && memcmp(p, s, n) == 0;
}

/* Two requests are equal if scalars match and string fields sit at the same
 * offsets of their own buffers. */
static void assert_same_req(const text_request_t *a, const char *abuf,
                            const text_request_t *b, const char *bbuf,
                            const char *what)
{
#define OFF(r, f, base) ((r)->f ? (long)((r)->f - (base)) : -1L)
    cr_assert_eq(a->cmd, b->cmd, "%s: cmd", what);
    cr_assert_eq(OFF(a, key, abuf), OFF(b, key, bbuf), "%s: key", what);
    cr_assert_eq(a->nkey, b->nkey, "%s: nkey", what);
    cr_assert_eq(OFF(a, keys, abuf), OFF(b, keys, bbuf), "%s: keys", what);
    cr_assert_eq(a->keys_len, b->keys_len, "%s: keys_len", what);
    cr_assert_eq(a->flags, b->flags, "%s: flags", what);
    cr_assert_eq(a->exptime, b->exptime, "%s: exptime", what);
    cr_assert_eq(a->nbytes, b->nbytes, "%s: nbytes", what);
    cr_assert_eq(a->cas, b->cas, "%s: cas", what);
    cr_assert_eq(a->delta, b->delta, "%s: delta", what);
    cr_assert_eq(a->delay, b->delay, "%s: delay", what);
    cr_assert_eq(a->verbosity, b->verbosity, "%s: verbosity", what);
    cr_assert_eq(a->noreply, b->noreply, "%s: noreply", what);
    cr_assert_eq(OFF(a, args, abuf), OFF(b, args, bbuf), "%s: args", what);
    cr_assert_eq(a->args_len, b->args_len, "%s: args_len", what);
    cr_assert_eq(a->error, b->error, "%s: error", what);
    cr_assert_eq(a->swallow, b->swallow, "%s: swallow", what);
#undef OFF
}

static void printable(const char *p, size_t n, char *out, size_t outn)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < outn; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f) {
            out[o++] = (char)c;
        } else {
            o += (size_t)snprintf(out + o, outn - o, "\\x%02x", c);
        }
    }
    out[o] = '\0';
}

static void check_keys(const text_request_t *req, const char *expect,
                       const char *what)
{
    char got[1024];
    size_t o = 0;
    const char *cur = req->keys;
    const char *end = req->keys + req->keys_len;
    const char *k;
    size_t nk;
    text_key_status_e ks;

    got[0] = '\0';
    while ((ks = text_next_key(&cur, end, &k, &nk)) == TEXT_KEY_OK) {
        cr_assert_lt(o + nk + 2, sizeof(got));
        if (o > 0) {
            got[o++] = ',';
        }
        memcpy(got + o, k, nk);
        o += nk;
        got[o] = '\0';
    }
    cr_assert_eq(ks, TEXT_KEY_END, "%s: key status", what);
    cr_assert_str_eq(got, expect, "%s: keys", what);
}

static void check_valid(const vcase_t *c, const text_request_t *req,
                        const char *what)
{
    cr_assert_eq(req->cmd, c->cmd, "%s: cmd %s", what,
                 text_cmd_name(req->cmd));
    if (c->key) {
        cr_assert(span_eq(req->key, req->nkey, c->key), "%s: key", what);
    } else {
        cr_assert_null(req->key, "%s: key", what);
    }
    cr_assert_eq(req->flags, c->flags, "%s: flags %u", what, req->flags);
    cr_assert_eq(req->exptime, c->exptime, "%s: exptime %lld", what,
                 (long long)req->exptime);
    cr_assert_eq(req->nbytes, c->nbytes, "%s: nbytes %zu", what,
                 req->nbytes);
    cr_assert_eq(req->cas, c->cas, "%s: cas", what);
    cr_assert_eq(req->delta, c->delta, "%s: delta", what);
    cr_assert_eq(req->delay, c->delay, "%s: delay", what);
    cr_assert_eq(req->verbosity, c->verbosity, "%s: verbosity", what);
    cr_assert_eq(req->noreply, c->noreply, "%s: noreply", what);
    if (c->args) {
        cr_assert(span_eq(req->args, req->args_len, c->args), "%s: args",
                  what);
    } else {
        cr_assert_null(req->args, "%s: args", what);
    }
    if (c->keys) {
        check_keys(req, c->keys, what);
    } else {
        cr_assert_null(req->keys, "%s: keys", what);
    }
    cr_assert_null(req->error, "%s: error", what);
    cr_assert_eq(req->swallow, 0, "%s: swallow", what);
}

static const char *const EOLS[] = {"\r\n", "\n"};

/* Splits line+eol at every byte: each prefix is EUNFIN, the whole gives
 * `want` and the same request as an unsplit parse of buf. Returns the
 * whole-line status. */
static text_parse_status_e check_splits(const char *line, size_t n,
                                        const char *eol, const char *what,
                                        text_request_t *out, char **outbuf)
{
    size_t total;
    char *full = with_ending(line, n, eol, &total);
    text_request_t req;
    size_t consumed;
    char *copy;

    for (size_t k = 0; k < total; k++) {
        text_parse_status_e st =
            parse_exact(full, k, &LIMITS, &req, &consumed, &copy);
        cr_assert_eq(st, TEXT_PARSE_EUNFIN, "%s: prefix %zu/%zu -> %s", what,
                     k, total, text_parse_strerror(st));
        cr_assert_eq(consumed, 0, "%s: prefix consumed", what);
        free(copy);
    }
    text_parse_status_e st =
        parse_exact(full, total, &LIMITS, out, &consumed, outbuf);
    if (st == TEXT_PARSE_OK || st == TEXT_PARSE_EREPLY ||
        st == TEXT_PARSE_ECLOSE) {
        cr_assert_eq(consumed, total, "%s: consumed %zu of %zu", what,
                     consumed, total);
    }
    /* The same line with a following command must give the same result. */
    char *more = malloc(total + 6);
    cr_assert_not_null(more);
    memcpy(more, full, total);
    memcpy(more + total, "get z\n", 6);
    text_request_t req2;
    size_t consumed2;
    text_parse_status_e st2 =
        text_parse(more, total + 6, &LIMITS, &req2, &consumed2);
    cr_assert_eq(st2, st, "%s: followed by more", what);
    assert_same_req(&req2, more, out, *outbuf, what);
    free(more);
    free(full);
    return st;
}

/* ---- tests -------------------------------------------------------- */

Test(proto_text, valid_lines_every_split)
{
    for (size_t i = 0; i < sizeof(VALID) / sizeof(VALID[0]); i++) {
        const vcase_t *c = &VALID[i];
        for (size_t e = 0; e < 2; e++) {
            /* "x\r" + "\n" is "x\r\n": the \r is the line's, skip. */
            if (e == 1 && c->n > 0 && c->line[c->n - 1] == '\r') {
                continue;
            }
            char what[600];
            char pl[500];
            printable(c->line, c->n, pl, sizeof(pl));
            snprintf(what, sizeof(what), "[%s]%s", pl, e ? "\\n" : "\\r\\n");
            text_request_t req;
            char *buf;
            text_parse_status_e st =
                check_splits(c->line, c->n, EOLS[e], what, &req, &buf);
            cr_assert_eq(st, TEXT_PARSE_OK, "%s: status %s error %s", what,
                         text_parse_strerror(st),
                         req.error ? req.error : "-");
            check_valid(c, &req, what);
            free(buf);
        }
    }
}

Test(proto_text, error_lines_every_split)
{
    for (size_t i = 0; i < sizeof(ERRORS) / sizeof(ERRORS[0]); i++) {
        const ecase_t *c = &ERRORS[i];
        for (size_t e = 0; e < 2; e++) {
            char what[600];
            char pl[500];
            printable(c->line, c->n, pl, sizeof(pl));
            snprintf(what, sizeof(what), "[%s]%s", pl, e ? "\\n" : "\\r\\n");
            text_request_t req;
            char *buf;
            text_parse_status_e st =
                check_splits(c->line, c->n, EOLS[e], what, &req, &buf);
            cr_assert_eq(st, c->status, "%s: status %s", what,
                         text_parse_strerror(st));
            if (c->status == TEXT_PARSE_EREPLY) {
                cr_assert_not_null(req.error, "%s", what);
                cr_assert_str_eq(req.error, c->error, "%s", what);
                cr_assert_eq(req.noreply, c->noreply, "%s: noreply", what);
                cr_assert_eq(req.swallow, 0, "%s: swallow", what);
            }
            free(buf);
        }
    }
}

/* All table lines back to back in one buffer, both endings, parsed in
 * sequence: each must match its standalone parse. */
Test(proto_text, pipelined)
{
    size_t nv = sizeof(VALID) / sizeof(VALID[0]);
    size_t ne = sizeof(ERRORS) / sizeof(ERRORS[0]);
    size_t cap = 0;
    for (size_t i = 0; i < nv; i++) {
        cap += VALID[i].n + 2;
    }
    for (size_t i = 0; i < ne; i++) {
        cap += ERRORS[i].n + 2;
    }
    for (size_t e = 0; e < 2; e++) {
        char *buf = malloc(cap);
        cr_assert_not_null(buf);
        size_t len = 0;
        size_t el = strlen(EOLS[e]);
        for (size_t i = 0; i < nv + ne; i++) {
            const char *l = i < nv ? VALID[i].line : ERRORS[i - nv].line;
            size_t n = i < nv ? VALID[i].n : ERRORS[i - nv].n;
            memcpy(buf + len, l, n);
            memcpy(buf + len + n, EOLS[e], el);
            len += n + el;
        }
        char *exact = malloc(len);
        cr_assert_not_null(exact);
        memcpy(exact, buf, len);
        size_t off = 0;
        for (size_t i = 0; i < nv + ne; i++) {
            const char *l = i < nv ? VALID[i].line : ERRORS[i - nv].line;
            size_t n = i < nv ? VALID[i].n : ERRORS[i - nv].n;
            text_request_t a, b;
            size_t ca, cb;
            text_parse_status_e sa =
                text_parse(exact + off, len - off, &LIMITS, &a, &ca);
            text_parse_status_e sb =
                text_parse(buf + off, n + el, &LIMITS, &b, &cb);
            cr_assert_eq(sa, sb, "pipelined #%zu", i);
            cr_assert_eq(ca, n + el, "pipelined #%zu consumed", i);
            cr_assert_eq(cb, ca, "pipelined #%zu", i);
            assert_same_req(&a, exact + off, &b, buf + off, "pipelined");
            (void)l;
            off += ca;
        }
        cr_assert_eq(off, len);
        size_t c;
        text_request_t r;
        cr_assert_eq(text_parse(exact + off, 0, &LIMITS, &r, &c),
                     TEXT_PARSE_EUNFIN);
        free(exact);
        free(buf);
    }
}

Test(proto_text, storage_then_data_is_not_consumed)
{
    const char in[] = "set k 1 2 3\r\nabc\r\nget k\r\n";
    text_request_t req;
    size_t consumed;
    cr_assert_eq(text_parse(in, sizeof(in) - 1, &LIMITS, &req, &consumed),
                 TEXT_PARSE_OK);
    cr_assert_eq(consumed, 13);
    cr_assert_eq(req.nbytes, 3);
    /* The caller reads nbytes + 2, then the next command starts. */
    size_t off = consumed + req.nbytes + 2;
    cr_assert_eq(text_parse(in + off, sizeof(in) - 1 - off, &LIMITS, &req,
                            &consumed),
                 TEXT_PARSE_OK);
    cr_assert_eq(req.cmd, TEXT_CMD_GET);
}

static void long_keys_line(char *buf, size_t *len, const char *prefix,
                           size_t nkey, const char *suffix)
{
    size_t o = strlen(prefix);
    memcpy(buf, prefix, o);
    memset(buf + o, 'k', nkey);
    o += nkey;
    memcpy(buf + o, suffix, strlen(suffix));
    o += strlen(suffix);
    *len = o;
}

Test(proto_text, key_length_limits)
{
    static char buf[4096];
    size_t len;
    text_request_t req;
    size_t consumed;
    struct {
        const char *prefix;
        const char *suffix;
        text_cmd_e cmd;
        const char *err251; /* reply for a 251-byte key */
        bool noreply;
    } cases[] = {
        {"set ", " 0 0 1\r\n", TEXT_CMD_SET, E_FORMAT, false},
        {"set ", " 0 0 1 noreply\r\n", TEXT_CMD_SET, E_FORMAT, true},
        {"set ", " 0 0 abc\r\n", TEXT_CMD_SET, E_FORMAT, false},
        {"set ", " 0\r\n", TEXT_CMD_SET, E_ERROR, false},
        {"cas ", " 0 0 1 5\r\n", TEXT_CMD_CAS, E_FORMAT, false},
        {"delete ", "\r\n", TEXT_CMD_DELETE, E_FORMAT, false},
        {"delete ", " noreply\r\n", TEXT_CMD_DELETE, E_FORMAT, true},
        {"delete ", " 1\r\n", TEXT_CMD_DELETE, E_DELETE, false},
        {"delete ", " 1 noreply\r\n", TEXT_CMD_DELETE, E_DELETE, true},
        {"incr ", " 1\r\n", TEXT_CMD_INCR, E_FORMAT, false},
        {"incr ", " abc\r\n", TEXT_CMD_INCR, E_FORMAT, false},
        {"decr ", " 1\r\n", TEXT_CMD_DECR, E_FORMAT, false},
        {"touch ", " 1\r\n", TEXT_CMD_TOUCH, E_FORMAT, false},
        {"touch ", " abc\r\n", TEXT_CMD_TOUCH, E_FORMAT, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long_keys_line(buf, &len, cases[i].prefix, 250, cases[i].suffix);
        text_parse_status_e st =
            text_parse(buf, len, &LIMITS, &req, &consumed);
        if (strcmp(cases[i].err251, E_ERROR) == 0 ||
            strstr(cases[i].suffix, "abc") ||
            strcmp(cases[i].err251, E_DELETE) == 0) {
            cr_assert_eq(st, TEXT_PARSE_EREPLY, "case %zu/250", i);
        } else {
            cr_assert_eq(st, TEXT_PARSE_OK, "case %zu/250", i);
            cr_assert_eq(req.cmd, cases[i].cmd);
            cr_assert_eq(req.nkey, 250);
        }
        long_keys_line(buf, &len, cases[i].prefix, 251, cases[i].suffix);
        st = text_parse(buf, len, &LIMITS, &req, &consumed);
        cr_assert_eq(st, TEXT_PARSE_EREPLY, "case %zu/251", i);
        cr_assert_str_eq(req.error, cases[i].err251, "case %zu", i);
        cr_assert_eq(req.noreply, cases[i].noreply, "case %zu", i);
        cr_assert_eq(consumed, len);
    }

    /* get family: the parse succeeds; the long key shows up in iteration. */
    const char *gets[] = {"get a ", "gets ", "gat 0 a a ", "gats 1 "};
    for (size_t i = 0; i < 4; i++) {
        long_keys_line(buf, &len, gets[i], 251, " b\r\n");
        cr_assert_eq(text_parse(buf, len, &LIMITS, &req, &consumed),
                     TEXT_PARSE_OK);
        const char *cur = req.keys;
        const char *end = req.keys + req.keys_len;
        const char *k;
        size_t nk;
        text_key_status_e ks;
        size_t before = 0;
        while ((ks = text_next_key(&cur, end, &k, &nk)) == TEXT_KEY_OK) {
            before++;
        }
        cr_assert_eq(ks, TEXT_KEY_ETOOLONG, "get case %zu", i);
        cr_assert_eq(nk, 251);
        cr_assert_eq(text_next_key(&cur, end, &k, &nk), TEXT_KEY_OK);
        cr_assert(span_eq(k, nk, "b"));
        cr_assert_eq(text_next_key(&cur, end, &k, &nk), TEXT_KEY_END);
        cr_assert_eq(before, i == 2 ? 2u : i == 0 ? 1u : 0u);
    }
    long_keys_line(buf, &len, "get ", 250, "\r\n");
    cr_assert_eq(text_parse(buf, len, &LIMITS, &req, &consumed),
                 TEXT_PARSE_OK);
    const char *cur = req.keys, *k;
    size_t nk;
    cr_assert_eq(text_next_key(&cur, req.keys + req.keys_len, &k, &nk),
                 TEXT_KEY_OK);
    cr_assert_eq(nk, 250);
}

Test(proto_text, over_long_lines)
{
    static char buf[70000];
    text_request_t req;
    size_t consumed = 99;

    /* 2048 bytes without "\n": wait; 2049: close (memcached closes too). */
    memset(buf, 'x', sizeof(buf));
    cr_assert_eq(text_parse(buf, 2048, &LIMITS, &req, &consumed),
                 TEXT_PARSE_EUNFIN);
    cr_assert_eq(text_parse(buf, 2049, &LIMITS, &req, &consumed),
                 TEXT_PARSE_ETOOLONG);
    cr_assert_eq(consumed, 0);
    cr_assert_eq(text_parse(buf, 4000, &LIMITS, &req, &consumed),
                 TEXT_PARSE_ETOOLONG);
    /* A complete line is answered (memcached: "ERROR") up to 16 KiB. */
    buf[2048] = '\n';
    cr_assert_eq(text_parse(buf, 2049, &LIMITS, &req, &consumed),
                 TEXT_PARSE_EREPLY);
    cr_assert_eq(consumed, 2049);
    buf[2048] = 'x';
    buf[2049] = '\n';
    cr_assert_eq(text_parse(buf, 2050, &LIMITS, &req, &consumed),
                 TEXT_PARSE_EREPLY);
    cr_assert_eq(consumed, 2050);
    buf[2049] = 'x';
    buf[TEXT_LINE_WHOLE_MAX] = '\n';
    cr_assert_eq(text_parse(buf, TEXT_LINE_WHOLE_MAX + 1, &LIMITS, &req,
                            &consumed), TEXT_PARSE_EREPLY);
    buf[TEXT_LINE_WHOLE_MAX] = 'x';
    buf[TEXT_LINE_WHOLE_MAX + 1] = '\n';
    cr_assert_eq(text_parse(buf, TEXT_LINE_WHOLE_MAX + 2, &LIMITS, &req,
                            &consumed), TEXT_PARSE_ETOOLONG);
    cr_assert_eq(consumed, 0);
    buf[TEXT_LINE_WHOLE_MAX + 1] = 'x';

    /* Multi-get lines may be longer: get/gets (memcached), gat/gats (us). */
    const char *pre[] = {"get ", "gets ", "gat 0 ", "gats 0 ",
                         "    get "};
    for (size_t i = 0; i < 5; i++) {
        size_t o = strlen(pre[i]);
        memcpy(buf, pre[i], o);
        for (; o < 4000; o += 2) {
            buf[o] = 'k';
            buf[o + 1] = ' ';
        }
        cr_assert_eq(text_parse(buf, o, &LIMITS, &req, &consumed),
                     TEXT_PARSE_EUNFIN, "%s", pre[i]);
        buf[o] = '\r';
        buf[o + 1] = '\n';
        cr_assert_eq(text_parse(buf, o + 2, &LIMITS, &req, &consumed),
                     TEXT_PARSE_OK, "%s", pre[i]);
        cr_assert_eq(consumed, o + 2);
        /* every split point of a long get */
        for (size_t k = 0; k < o + 2; k += 97) {
            cr_assert_eq(text_parse(buf, k, &LIMITS, &req, &consumed),
                         TEXT_PARSE_EUNFIN);
        }
    }
    /* 100 leading spaces allowed, 101 not (memcached closes). */
    memset(buf, ' ', 101);
    memcpy(buf + 100, "get ", 4);
    memset(buf + 104, 'k', 3000);
    cr_assert_eq(text_parse(buf, 3104, &LIMITS, &req, &consumed),
                 TEXT_PARSE_EUNFIN);
    memset(buf, ' ', 101);
    memcpy(buf + 101, "get ", 4);
    cr_assert_eq(text_parse(buf, 3105, &LIMITS, &req, &consumed),
                 TEXT_PARSE_ETOOLONG);
    /* "getx..." is no get. */
    memcpy(buf, "getx", 4);
    memset(buf + 4, 'k', 3000);
    cr_assert_eq(text_parse(buf, 3004, &LIMITS, &req, &consumed),
                 TEXT_PARSE_ETOOLONG);
    /* Beyond get_line_max: too long, complete or not. */
    memcpy(buf, "get ", 4);
    memset(buf + 4, 'k', sizeof(buf) - 4);
    cr_assert_eq(text_parse(buf, 65536, &LIMITS, &req, &consumed),
                 TEXT_PARSE_EUNFIN);
    cr_assert_eq(text_parse(buf, 65537, &LIMITS, &req, &consumed),
                 TEXT_PARSE_ETOOLONG);
    buf[65536] = '\n';
    cr_assert_eq(text_parse(buf, 65537, &LIMITS, &req, &consumed),
                 TEXT_PARSE_OK);
    buf[65536] = 'k';
    buf[65537] = '\n';
    cr_assert_eq(text_parse(buf, 65538, &LIMITS, &req, &consumed),
                 TEXT_PARSE_ETOOLONG);
    /* NULL limits: 2048 for lines, no bound for gets. */
    cr_assert_eq(text_parse(buf, 65538, NULL, &req, &consumed),
                 TEXT_PARSE_OK);
    memset(buf, 'x', 2049);
    cr_assert_eq(text_parse(buf, 2049, NULL, &req, &consumed),
                 TEXT_PARSE_ETOOLONG);
}

Test(proto_text, many_tokens)
{
    /* 24+ tokens: memcached's tokenizer stops at 23, counts still fail. */
    const char *lines[] = {
        "set a 0 0 1 a b c d e f g h i j k l m n o p q r s t u v w x y z\r\n",
        "delete a b c d e f g h i j k l m n o p q r s t u v w x y z\r\n",
        "flush_all a b c d e f g h i j k l m n o p q r s t u v w x y\r\n",
    };
    for (size_t i = 0; i < 3; i++) {
        text_request_t req;
        size_t consumed;
        cr_assert_eq(text_parse(lines[i], strlen(lines[i]), &LIMITS, &req,
                                &consumed),
                     TEXT_PARSE_EREPLY);
        cr_assert_str_eq(req.error, "ERROR");
    }
    /* version/quit/stats take any number. */
    const char v[] = "version a b c d e f g h i j k l m n o p q r s t u v w x\n";
    text_request_t req;
    size_t consumed;
    cr_assert_eq(text_parse(v, sizeof(v) - 1, &LIMITS, &req, &consumed),
                 TEXT_PARSE_OK);
    cr_assert_eq(req.cmd, TEXT_CMD_VERSION);
}

Test(proto_text, next_key_and_token)
{
    const char s[] = "  a  bb   ccc ";
    const char *cur = s, *end = s + sizeof(s) - 1, *k;
    size_t nk;
    cr_assert_eq(text_next_key(&cur, end, &k, &nk), TEXT_KEY_OK);
    cr_assert(span_eq(k, nk, "a"));
    cr_assert_eq(text_next_key(&cur, end, &k, &nk), TEXT_KEY_OK);
    cr_assert(span_eq(k, nk, "bb"));
    cr_assert_eq(text_next_key(&cur, end, &k, &nk), TEXT_KEY_OK);
    cr_assert(span_eq(k, nk, "ccc"));
    cr_assert_eq(text_next_key(&cur, end, &k, &nk), TEXT_KEY_END);
    cr_assert_eq(text_next_key(&cur, end, &k, &nk), TEXT_KEY_END);
    cur = end;
    cr_assert_eq(text_next_key(&cur, end, &k, &nk), TEXT_KEY_END);

    static char longtok[400];
    memset(longtok, 'z', sizeof(longtok));
    cur = longtok;
    cr_assert(text_next_token(&cur, longtok + sizeof(longtok), &k, &nk));
    cr_assert_eq(nk, sizeof(longtok));
    cr_assert_not(text_next_token(&cur, longtok + sizeof(longtok), &k, &nk));
}

Test(proto_text, names)
{
    cr_assert_str_eq(text_cmd_name(TEXT_CMD_GET), "get");
    cr_assert_str_eq(text_cmd_name(TEXT_CMD_FLUSH_ALL), "flush_all");
    cr_assert_str_eq(text_cmd_name(TEXT_CMD_META), "meta");
    cr_assert_str_eq(text_parse_strerror(TEXT_PARSE_EUNFIN),
                     "incomplete line");
    for (int c = TEXT_CMD_NONE; c <= TEXT_CMD_META; c++) {
        cr_assert_not_null(text_cmd_name((text_cmd_e)c));
    }
}
