/*
 * tests/unit/server/test_proto_meta.c - the meta protocol parser and reply
 * encoders.
 *
 * Every expected error line and every reply literal below was observed on
 * Debian's memcached 1.6.18 (python socket probes, fresh server, default
 * settings). Each table line is also fed through text_parse() split at
 * every byte (each prefix copied into an exact-size heap block so ASan
 * catches reads past `len`), as the server will, and then to meta_parse().
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_meta.h"
#include "proto_text.h"

#define LN(s) .line = (s), .n = sizeof(s) - 1

/* Parses `line` the way the server does: text_parse() of line + "\r\n"
 * (fed split at every byte), then meta_parse() of req.args. */
static meta_parse_status_e parse_via_text(const char *line, size_t n,
                                          char *keybuf, meta_request_t *req)
{
    size_t total = n + 2;
    char *full = malloc(total);
    cr_assert_not_null(full);
    memcpy(full, line, n);
    memcpy(full + n, "\r\n", 2);
    text_limits_t lim = {TEXT_LINE_MAX, 65536};
    text_request_t treq;
    size_t consumed;

    for (size_t cut = 0; cut < total; cut++) {
        char *part = malloc(cut ? cut : 1);
        cr_assert_not_null(part);
        memcpy(part, full, cut);
        text_parse_status_e st = text_parse(part, cut, &lim, &treq,
                                            &consumed);
        cr_assert_eq(st, TEXT_PARSE_EUNFIN, "prefix %zu of '%.*s'", cut,
                     (int)n, line);
        free(part);
    }
    char *whole = malloc(total);
    cr_assert_not_null(whole);
    memcpy(whole, full, total);
    text_parse_status_e st = text_parse(whole, total, &lim, &treq,
                                        &consumed);
    cr_assert_eq(st, TEXT_PARSE_OK, "'%.*s'", (int)n, line);
    cr_assert_eq(treq.cmd, TEXT_CMD_META);
    cr_assert_eq(consumed, total);
    /* meta_parse on an exact-size copy of the args. */
    char *args = malloc(treq.args_len ? treq.args_len : 1);
    cr_assert_not_null(args);
    memcpy(args, treq.args, treq.args_len);
    meta_parse_status_e ms = meta_parse(args, treq.args_len, keybuf, req);
    /* Re-point string fields at the caller-visible line for comparison:
     * keep args alive by leaking into a static slot per call. */
    static char *keep[4];
    static int slot;
    free(keep[slot]);
    keep[slot] = args;
    slot = (slot + 1) % 4;
    free(whole);
    free(full);
    return ms;
}

/* ---- valid lines ---------------------------------------------------- */

typedef struct vcase {
    const char *line;
    size_t n;
    meta_cmd_e cmd;
    const char *key; /* expected key bytes */
    size_t nkey;
    bool key_binary;
    const char *flags; /* letters expected in the bitmap, in request order */
    int32_t ttl, vivify, recache;
    uint64_t cas;
    uint32_t client_flags;
    meta_mode_e mode;
    uint64_t delta, initial;
    const char *opaque;
    bool noreply;
    size_t datalen;
} vcase_t;

#define K(s) .key = (s), .nkey = sizeof(s) - 1

static const vcase_t VALID[] = {
    {LN("mn"), .cmd = META_CMD_MN, .flags = ""},
    {LN("mn a b c"), .cmd = META_CMD_MN, .flags = ""},
    {LN("mg a v"), .cmd = META_CMD_MG, K("a"), .flags = "v"},
    {LN("mg a k v c f t s h l O9 q u"), .cmd = META_CMD_MG, K("a"),
     .flags = "kvcftshlOqu", .opaque = "O9", .noreply = true},
    {LN("mg a s t c f h k l O1 u v P L"), .cmd = META_CMD_MG, K("a"),
     .flags = "stcfhklOuvPL", .opaque = "O1"},
    {LN("mg a T+5 s"), .cmd = META_CMD_MG, K("a"), .flags = "Ts", .ttl = 5},
    {LN("mg a T99999999999 t"), .cmd = META_CMD_MG, K("a"), .flags = "Tt",
     .ttl = 1215752191},
    {LN("mg a T-1"), .cmd = META_CMD_MG, K("a"), .flags = "T", .ttl = -1},
    {LN("mg a N30 R100"), .cmd = META_CMD_MG, K("a"), .flags = "NR",
     .vivify = 30, .recache = 100},
    {LN("mg a F4294967296"), .cmd = META_CMD_MG, K("a"), .flags = "F"},
    {LN("mg a C-0"), .cmd = META_CMD_MG, K("a"), .flags = "C"},
    {LN("mg a MZ"), .cmd = META_CMD_MG, K("a"), .flags = "M"},
    {LN("mg a O"), .cmd = META_CMD_MG, K("a"), .flags = "O", .opaque = "O"},
    {LN("mg a Oxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"), .cmd = META_CMD_MG,
     K("a"), .flags = "O", .opaque = "Oxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
    {LN("mg a 1 2 3 4 5 6 7 8 9"), .cmd = META_CMD_NONE}, /* see errors */
    {LN("mg YWJj b k"), .cmd = META_CMD_MG, K("abc"), .key_binary = true,
     .flags = "bk"},
    {LN("mg YQ== k b"), .cmd = META_CMD_MG, K("a"), .key_binary = true,
     .flags = "kb"},
    {LN("mg YQ=a b k"), .cmd = META_CMD_MG, .key = "a\0", .nkey = 2,
     .key_binary = true, .flags = "bk"},
    {LN("mg Y!Q== b k"), .cmd = META_CMD_MG, K("a"), .key_binary = true,
     .flags = "bk"},
    {LN("mg YR== b k"), .cmd = META_CMD_MG, K("a"), .key_binary = true,
     .flags = "bk"},
    {LN("mg AAAA b k"), .cmd = META_CMD_MG, .key = "\0\0\0", .nkey = 3,
     .key_binary = true, .flags = "bk"},
    {LN("mg \xc3\xa9 k v"), .cmd = META_CMD_MG, K("\xc3\xa9"), .flags = "kv"},
    {LN("mg a v5"), .cmd = META_CMD_MG, K("a"), .flags = "v"},
    {LN("ms a 2"), .cmd = META_CMD_MS, K("a"), .flags = "", .datalen = 2},
    {LN("ms a 2 T0 F5 c k O123"), .cmd = META_CMD_MS, K("a"),
     .flags = "TFckO", .client_flags = 5, .opaque = "O123", .datalen = 2},
    {LN("ms YQ== 2 T0 F5 c k O123 b"), .cmd = META_CMD_MS, K("a"),
     .key_binary = true, .flags = "TFckOb", .client_flags = 5,
     .opaque = "O123", .datalen = 2},
    {LN("ms a 2 q"), .cmd = META_CMD_MS, K("a"), .flags = "q",
     .noreply = true, .datalen = 2},
    {LN("ms a 2 I C1"), .cmd = META_CMD_MS, K("a"), .flags = "IC", .cas = 1,
     .datalen = 2},
    {LN("ms a 2 v"), .cmd = META_CMD_MS, K("a"), .flags = "v", .datalen = 2},
    {LN("ms a 2 ME"), .cmd = META_CMD_MS, K("a"), .flags = "M",
     .mode = META_MODE_ADD, .datalen = 2},
    {LN("ms a 2 MA"), .cmd = META_CMD_MS, K("a"), .flags = "M",
     .mode = META_MODE_APPEND, .datalen = 2},
    {LN("ms a 2 MP"), .cmd = META_CMD_MS, K("a"), .flags = "M",
     .mode = META_MODE_PREPEND, .datalen = 2},
    {LN("ms a 2 MR"), .cmd = META_CMD_MS, K("a"), .flags = "M",
     .mode = META_MODE_REPLACE, .datalen = 2},
    {LN("ms a 2 MS"), .cmd = META_CMD_MS, K("a"), .flags = "M",
     .mode = META_MODE_SET, .datalen = 2},
    {LN("ms a 4294967298"), .cmd = META_CMD_MS, K("a"), .flags = "",
     .datalen = 2},
    {LN("ms a 0"), .cmd = META_CMD_MS, K("a"), .flags = "", .datalen = 0},
    {LN("ms a -0"), .cmd = META_CMD_MS, K("a"), .flags = "", .datalen = 0},
    {LN("ms a 2 F4294967295 T-1"), .cmd = META_CMD_MS, K("a"), .flags = "FT",
     .client_flags = 4294967295u, .ttl = -1, .datalen = 2},
    {LN("ms a 2 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15"), .cmd = META_CMD_NONE},
    {LN("md a"), .cmd = META_CMD_MD, K("a"), .flags = ""},
    {LN("md a q"), .cmd = META_CMD_MD, K("a"), .flags = "q", .noreply = true},
    {LN("md a I T30 k O5"), .cmd = META_CMD_MD, K("a"), .flags = "ITkO",
     .ttl = 30, .opaque = "O5"},
    {LN("md a C7 v"), .cmd = META_CMD_MD, K("a"), .flags = "Cv", .cas = 7},
    {LN("ma a"), .cmd = META_CMD_MA, K("a"), .flags = "", .delta = 1},
    {LN("ma a N0 J5 v t c k O1"), .cmd = META_CMD_MA, K("a"),
     .flags = "NJvtckO", .initial = 5, .delta = 1, .opaque = "O1"},
    {LN("ma a N0 J5 v t c k O1 D3 MD"), .cmd = META_CMD_MA, K("a"),
     .flags = "NJvtckODM", .initial = 5, .delta = 3, .opaque = "O1",
     .mode = META_MODE_DECR},
    {LN("ma a MI"), .cmd = META_CMD_MA, K("a"), .flags = "M", .delta = 1,
     .mode = META_MODE_INCR},
    {LN("ma a M+"), .cmd = META_CMD_MA, K("a"), .flags = "M", .delta = 1,
     .mode = META_MODE_INCR},
    {LN("ma a M-"), .cmd = META_CMD_MA, K("a"), .flags = "M", .delta = 1,
     .mode = META_MODE_DECR},
    {LN("ma a J18446744073709551615 D0"), .cmd = META_CMD_MA, K("a"),
     .flags = "JD", .initial = UINT64_MAX, .delta = 0},
    {LN("me a"), .cmd = META_CMD_ME, K("a"), .flags = ""},
    {LN("me a x"), .cmd = META_CMD_ME, K("a"), .flags = ""},
    {LN("me YQ== b"), .cmd = META_CMD_ME, K("a"), .key_binary = true,
     .flags = "b"},
    {LN("me YQ== c b"), .cmd = META_CMD_ME, K("YQ=="), .flags = ""},
    {LN("me a 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 "
        "24"), .cmd = META_CMD_ME, K("a"), .flags = ""},
    {LN("  mg   a   v  "), .cmd = META_CMD_MG, K("a"), .flags = "v"},
};

static void check_valid(const vcase_t *c)
{
    char keybuf[META_KEY_BIN_MAX];
    meta_request_t req;
    meta_parse_status_e st = parse_via_text(c->line, c->n, keybuf, &req);

    cr_assert_eq(st, META_PARSE_OK, "'%.*s': %s", (int)c->n, c->line,
                 req.error ? req.error : "");
    cr_assert_eq(req.cmd, c->cmd, "'%s'", c->line);
    if (c->key) {
        cr_assert_eq(req.nkey, c->nkey, "'%s' nkey %zu", c->line, req.nkey);
        cr_assert(memcmp(req.key, c->key, c->nkey) == 0, "'%s' key",
                  c->line);
    } else {
        cr_assert_null(req.key);
    }
    cr_assert_eq(req.key_binary, c->key_binary, "'%s'", c->line);
    uint64_t bits = 0;
    for (const char *f = c->flags; *f; f++) {
        bits |= META_FLAG_BIT(*f);
    }
    cr_assert_eq(req.flags, bits, "'%s' flags", c->line);
    if (c->cmd != META_CMD_ME) {
        cr_assert_eq(req.ntok, strlen(c->flags), "'%s' ntok", c->line);
        for (size_t i = 0; i < req.ntok; i++) {
            cr_assert_eq(req.tok[i].p[0], c->flags[i], "'%s' order", c->line);
        }
    }
    cr_assert_eq(req.ttl, c->ttl, "'%s' ttl %d", c->line, req.ttl);
    cr_assert_eq(req.vivify_ttl, c->vivify, "'%s'", c->line);
    cr_assert_eq(req.recache_ttl, c->recache, "'%s'", c->line);
    cr_assert_eq(req.cas, c->cas, "'%s'", c->line);
    cr_assert_eq(req.client_flags, c->client_flags, "'%s'", c->line);
    cr_assert_eq(req.mode, c->mode, "'%s'", c->line);
    cr_assert_eq(req.delta, c->delta, "'%s'", c->line);
    cr_assert_eq(req.initial, c->initial, "'%s'", c->line);
    cr_assert_eq(req.noreply, c->noreply, "'%s'", c->line);
    cr_assert_eq(req.datalen, c->datalen, "'%s'", c->line);
    if (c->opaque) {
        cr_assert_eq(req.nopaque, strlen(c->opaque), "'%s'", c->line);
        cr_assert(memcmp(req.opaque, c->opaque, req.nopaque) == 0);
    } else {
        cr_assert_null(req.opaque);
    }
    cr_assert_null(req.error);
}

Test(proto_meta, valid_lines_every_split)
{
    for (size_t i = 0; i < sizeof(VALID) / sizeof(VALID[0]); i++) {
        if (VALID[i].cmd == META_CMD_NONE) {
            continue; /* placeholders for lines tested as errors */
        }
        check_valid(&VALID[i]);
    }
}

/* ---- errors ---------------------------------------------------------- */

typedef struct ecase {
    const char *line;
    size_t n;
    const char *error;
    size_t swallow;
} ecase_t;

static char long_key_mg[300];
static char long_key_ms[300];
static char long_key_md[300];
static char long_key_ma[300];
static char long_key_me[300];
static char long_key_mg_many[400];
static char long_key_ms_many[400];

static const char E_FMT[] = "CLIENT_ERROR bad command line format";
static const char E_TOK[] = "CLIENT_ERROR bad token in command line format";
static const char E_DUP[] = "CLIENT_ERROR duplicate flag";
static const char E_INV[] = "CLIENT_ERROR invalid flag";
static const char E_B64[] = "CLIENT_ERROR error decoding key";
static const char E_INVDUP[] = "CLIENT_ERROR invalid or duplicate flag";
static const char E_OPQ[] = "CLIENT_ERROR opaque token too long";

static const ecase_t ERRORS[] = {
    {LN("mg"), "ERROR", 0},
    {LN("mg "), "ERROR", 0},
    {LN("ms"), "ERROR", 0},
    {LN("md"), "ERROR", 0},
    {LN("ma"), "ERROR", 0},
    {LN("me"), E_FMT, 0},
    {LN("mx"), "ERROR", 0},
    {LN("mg a v v"), E_DUP, 0},
    {LN("mg a k O k"), E_DUP, 0},
    {LN("mg a O1 O2"), E_DUP, 0},
    {LN("mg a x"), E_INV, 0},
    {LN("mg a E5"), E_INV, 0},
    {LN("mg a ~"), E_INV, 0},
    {LN("mg a W"), E_INV, 0},
    {LN("mg a s t c f h k l O1 u v P L W"), E_INV, 0},
    {LN("mg a s t c f h k l O1 u v P L x1 x2 x3 x4"), E_INV, 0},
    {LN("mg a 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17"), E_INV, 0},
    {LN("mg a \x7f"), E_DUP, 0},
    {LN("mg a \x80"), E_DUP, 0},
    {LN("mg a \xff"), E_DUP, 0},
    {LN("mg a Tabc"), E_TOK, 0},
    {LN("mg a T"), E_TOK, 0},
    {LN("mg a N"), E_TOK, 0},
    {LN("mg a R"), E_TOK, 0},
    {LN("mg a T5x"), E_TOK, 0},
    {LN("mg a Cabc"), E_TOK, 0},
    {LN("mg a C-1"), E_TOK, 0},
    {LN("mg a Fabc"), E_FMT, 0},
    {LN("mg a Jabc"), "CLIENT_ERROR invalid numeric initial value", 0},
    {LN("mg a Dabc"), "CLIENT_ERROR invalid numeric delta value", 0},
    {LN("mg a MZZ"), "CLIENT_ERROR incorrect length for M token", 0},
    {LN("mg a M"), "CLIENT_ERROR incorrect length for M token", 0},
    {LN("mg a Tabc Jabc"), "CLIENT_ERROR invalid numeric initial value", 0},
    {LN("mg a Tabc Fabc"), E_TOK, 0},
    {LN("mg a Fabc Tabc"), E_TOK, 0},
    {LN("mg a Fabc x"), E_INV, 0},
    {LN("mg a Tabc v v"), E_DUP, 0},
    {LN("mg a Tabc x"), E_INV, 0},
    {LN("mg a b Tabc"), E_TOK, 0},
    {LN("mg a Tabc b"), E_B64, 0},
    {LN("mg a b"), E_B64, 0},
    {LN("mg YWJ b k"), E_B64, 0},
    {LN("mg Y b k"), E_B64, 0},
    {LN("mg !!!! b k"), E_B64, 0},
    {LN("mg YQ==garbage b k"), E_B64, 0},
    {LN("mg ==== b k"), E_B64, 0},
    {LN("mg A=== b k"), E_B64, 0},
    {LN("mg a Oxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"), E_OPQ, 0},
    {LN("mg a Oxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"), E_OPQ, 0},
    {LN("mg a Oxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx x"), E_INV, 0},
    {LN("mg a a b c d e f g h i j k l m n o p q r s t u v"),
     "CLIENT_ERROR options flags are too long", 0},
    {LN("mg a 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 "
        "24"), "CLIENT_ERROR options flags are too long", 0},
    {LN("ms a"), E_FMT, 0},
    {LN("ms a abc"), E_FMT, 0},
    {LN("ms a -1"), E_FMT, 0},
    {LN("ms a 2x"), E_FMT, 0},
    {LN("ms a 2147483646"), E_FMT, 0},
    {LN("ms a abc 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16"), E_FMT, 0},
    {LN("ms a 2 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17"),
     "CLIENT_ERROR options flags too long", 0},
    {LN("ms a 2 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23"
        " 24"), "CLIENT_ERROR options flags too long", 0},
    {LN("ms a 2 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16"), E_INV, 4},
    {LN("ms a 2 Tabc"), E_TOK, 4},
    {LN("ms a 2 Fabc"), E_FMT, 4},
    {LN("ms a 2 F-1"), E_FMT, 4},
    {LN("ms a 2 MX"), "CLIENT_ERROR invalid mode for ms M token", 4},
    {LN("ms a 2 Ms"), "CLIENT_ERROR invalid mode for ms M token", 4},
    {LN("ms a 2 Mab"), "CLIENT_ERROR incorrect length for M token", 4},
    {LN("ms a 2 M"), "CLIENT_ERROR incorrect length for M token", 4},
    {LN("ms a 2 MA ME"), E_DUP, 4},
    {LN("ms a 2 x"), E_INV, 4},
    {LN("ms a 2 E5"), E_INV, 4},
    {LN("ms a 2 q q"), E_DUP, 4},
    {LN("ms a 2 b b"), E_DUP, 4},
    {LN("ms a 2 Tabc x"), E_INV, 4},
    {LN("ms a 2 MX Tabc"), E_TOK, 4},
    {LN("ms a 2 Oxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"), E_OPQ, 4},
    {LN("ms a 2 MX Oxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
     "CLIENT_ERROR invalid mode for ms M token", 4},
    {LN("ms a 2 Cabc"), E_TOK, 4},
    {LN("ms a 2 b"), E_B64, 4},
    {LN("ms a 1048577 q x"), E_INV, 1048579},
    {LN("md a x"), E_INVDUP, 0},
    {LN("md a Cabc"), E_INVDUP, 0},
    {LN("md a C1 C2"), E_INVDUP, 0},
    {LN("md a 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18"),
     "CLIENT_ERROR options flags too long", 0},
    {LN("md a Oxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"), E_OPQ, 0},
    {LN("ma a x"), E_INVDUP, 0},
    {LN("ma a Dabc"), E_INVDUP, 0},
    {LN("ma a Jabc"), E_INVDUP, 0},
    {LN("ma a Mab"), E_INVDUP, 0},
    {LN("ma a MX"), "CLIENT_ERROR invalid mode for ma M token", 0},
    {LN("ma a Md"), "CLIENT_ERROR invalid mode for ma M token", 0},
    {LN("ma a MX Oxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
     "CLIENT_ERROR invalid mode for ma M token", 0},
    {LN("ma a 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18"),
     "CLIENT_ERROR options flags too long", 0},
    {LN("me a b"), E_FMT, 0},
    {LN("me a b c"), E_FMT, 0},
};

static void check_error(const char *line, size_t n, const char *error,
                        size_t swallow)
{
    char keybuf[META_KEY_BIN_MAX];
    meta_request_t req;
    meta_parse_status_e st;

    if (n >= 2 && line[0] == 'm' && n < TEXT_LINE_MAX &&
        (n == 2 || line[2] == ' ') && strchr("gsdane", line[1])) {
        st = parse_via_text(line, n, keybuf, &req);
    } else {
        st = meta_parse(line, n, keybuf, &req);
    }
    cr_assert_eq(st, META_PARSE_EREPLY, "'%.*s' parsed OK", (int)n, line);
    cr_assert_str_eq(req.error, error, "'%.*s'", (int)(n > 60 ? 60 : n),
                     line);
    cr_assert_eq(req.swallow, swallow, "'%.*s' swallow %zu",
                 (int)(n > 60 ? 60 : n), line, req.swallow);
}

static size_t build(char *dst, const char *pre, size_t nkey,
                    const char *post)
{
    size_t n = strlen(pre);
    memcpy(dst, pre, n);
    memset(dst + n, 'k', nkey);
    n += nkey;
    memcpy(dst + n, post, strlen(post));
    return n + strlen(post);
}

Test(proto_meta, error_lines_exact_replies)
{
    for (size_t i = 0; i < sizeof(ERRORS) / sizeof(ERRORS[0]); i++) {
        check_error(ERRORS[i].line, ERRORS[i].n, ERRORS[i].error,
                    ERRORS[i].swallow);
    }
    /* Keys over 250 bytes (before decoding), checked before anything but
     * the token count. */
    size_t n = build(long_key_mg, "mg ", 251, " v");
    check_error(long_key_mg, n, E_FMT, 0);
    n = build(long_key_ms, "ms ", 251, " 2");
    check_error(long_key_ms, n, E_FMT, 0);
    n = build(long_key_md, "md ", 251, "");
    check_error(long_key_md, n, E_FMT, 0);
    n = build(long_key_ma, "ma ", 251, "");
    check_error(long_key_ma, n, E_FMT, 0);
    n = build(long_key_me, "me ", 251, "");
    check_error(long_key_me, n, E_FMT, 0);
    n = build(long_key_mg_many, "mg ", 251,
              " 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18");
    check_error(long_key_mg_many, n, E_FMT, 0);
    n = build(long_key_ms_many, "ms ", 251,
              " abc 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16");
    check_error(long_key_ms_many, n, E_FMT, 0);
    /* 250 is fine. */
    char keybuf[META_KEY_BIN_MAX];
    meta_request_t req;
    n = build(long_key_mg, "mg ", 250, " v");
    cr_assert_eq(meta_parse(long_key_mg, n, keybuf, &req), META_PARSE_OK);
    cr_assert_eq(req.nkey, 250);
    /* A 248-byte base64 key decodes to 186 bytes. */
    memcpy(long_key_mg, "mg ", 3);
    memset(long_key_mg + 3, 'A', 248);
    memcpy(long_key_mg + 251, " b k", 4);
    cr_assert_eq(meta_parse(long_key_mg, 255, keybuf, &req), META_PARSE_OK);
    cr_assert_eq(req.nkey, 186);
    cr_assert(req.key_binary);
}

/* ---- the ms data block ------------------------------------------------ */

Test(proto_meta, data_block_every_split)
{
    const char good[] = "hi\r\n";
    for (size_t cut = 0; cut < 4; cut++) {
        char *p = malloc(cut ? cut : 1);
        memcpy(p, good, cut);
        cr_assert_eq(meta_data_check(p, cut, 2), META_DATA_EUNFIN);
        free(p);
    }
    cr_assert_eq(meta_data_check(good, 4, 2), META_DATA_OK);
    cr_assert_eq(meta_data_check("hix\r\n", 5, 2), META_DATA_EBADCHUNK);
    cr_assert_eq(meta_data_check("h\nx", 3, 1), META_DATA_EBADCHUNK);
    cr_assert_eq(meta_data_check("\r\n", 2, 0), META_DATA_OK);
    cr_assert_eq(meta_data_check("x", 1, SIZE_MAX), META_DATA_EUNFIN);
}

/* ---- encoders ---------------------------------------------------------- */

static meta_request_t parse_ok(const char *line, char *keybuf)
{
    meta_request_t req;
    cr_assert_eq(meta_parse(line, strlen(line), keybuf, &req),
                 META_PARSE_OK, "%s", line);
    return req;
}

static void expect_reply(const char *line, meta_rc_e rc,
                         const meta_item_view_t *it, const char *want)
{
    char keybuf[META_KEY_BIN_MAX];
    char out[META_REPLY_MAX];
    meta_request_t req = parse_ok(line, keybuf);
    size_t n = meta_encode_reply(out, sizeof(out), &req, rc, it);
    cr_assert_gt(n, 0, "%s", line);
    cr_assert_eq(n, strlen(want), "%s: got '%.*s'", line, (int)n, out);
    cr_assert(memcmp(out, want, n) == 0, "%s: got '%.*s' want '%s'", line,
              (int)n, out, want);
    /* Too small a buffer fails cleanly. */
    cr_assert_eq(meta_encode_reply(out, n - 1, &req, rc, it), 0);
}

Test(proto_meta, encoders_match_memcached)
{
    /* "ms a 2 T0 F5 c k O123" then "mg a k v c f t s h l O9 q u":
     * b'HD c3 ka O123\r\n' / b'VA 2 ka c3 f5 t-1 s2 h0 l0 O9\r\n' */
    meta_item_view_t a = {.key = "a", .nkey = 1, .value_len = 2, .ttl = -1,
                          .cas = 3, .client_flags = 5};
    expect_reply("ms a 2 T0 F5 c k O123", META_RC_HD, &a, "HD c3 ka O123\r\n");
    expect_reply("mg a k v c f t s h l O9 q u", META_RC_VA, &a,
                 "VA 2 ka c3 f5 t-1 s2 h0 l0 O9\r\n");
    /* "mg a c f h k l O1 q s t u v P L" (fetched, 2 s idle):
     * b'VA 2 c3 f5 h1 ka l2 O1 s2 t-1\r\n' */
    a.fetched = true;
    a.last_access = 2;
    expect_reply("mg a c f h k l O1 q s t u v P L", META_RC_VA, &a,
                 "VA 2 c3 f5 h1 ka l2 O1 s2 t-1\r\n");
    /* "mg a h l" -> b'HD h1 l0\r\n' */
    a.last_access = 0;
    expect_reply("mg a h l", META_RC_HD, &a, "HD h1 l0\r\n");
    expect_reply("mg a q", META_RC_HD, &a, "HD\r\n");
    /* base64 keys: "ms YQ== 2 T0 F5 c k O123 b" then
     * "mg YQ== b k v c f t s": b'HD c2 kYQ== b O123\r\n',
     * b'VA 2 kYQ== b c2 f5 t-1 s2\r\n' */
    meta_item_view_t bin = {.key = "a", .nkey = 1, .key_binary = true,
                            .value_len = 2, .ttl = -1, .cas = 2,
                            .client_flags = 5};
    expect_reply("ms YQ== 2 T0 F5 c k O123 b", META_RC_HD, &bin,
                 "HD c2 kYQ== b O123\r\n");
    expect_reply("mg YQ== b k v c f t s", META_RC_VA, &bin,
                 "VA 2 kYQ== b c2 f5 t-1 s2\r\n");
    /* Misses: b'EN kYWJj b\r\n', b'EN kYQA= b\r\n', b'EN O\r\n',
     * b'EN k\xc3\xa9\r\n', b'EN\r\n' */
    expect_reply("mg YWJj b k", META_RC_EN, NULL, "EN kYWJj b\r\n");
    expect_reply("mg YQ=a b k", META_RC_EN, NULL, "EN kYQA= b\r\n");
    expect_reply("mg YR== b k", META_RC_EN, NULL, "EN kYQ== b\r\n");
    expect_reply("mg a O", META_RC_EN, NULL, "EN O\r\n");
    expect_reply("mg \xc3\xa9 k v", META_RC_EN, NULL, "EN k\xc3\xa9\r\n");
    expect_reply("mg a v t c s f", META_RC_EN, NULL, "EN\r\n");
    /* ms failures: "ms a 2 C1 c k O5" -> b'EX c0 ka O5\r\n';
     * "ms zz 2 MR c k O5" -> b'NS c0 kzz O5\r\n'; "ms a 2 ME c" ->
     * b'NS c0\r\n'; "ms a 2 k" -> b'HD ka\r\n' */
    expect_reply("ms a 2 C1 c k O5", META_RC_EX, NULL, "EX c0 ka O5\r\n");
    expect_reply("ms zz 2 MR c k O5", META_RC_NS, NULL, "NS c0 kzz O5\r\n");
    expect_reply("ms a 2 ME c", META_RC_NS, NULL, "NS c0\r\n");
    expect_reply("ms a 2 k", META_RC_HD, &a, "HD ka\r\n");
    /* md: "md a I T30 k O5" miss -> b'NF ka O5\r\n'; "md YQ== b k" ->
     * b'HD kYQ== b\r\n' / b'NF kYQ== b\r\n' */
    expect_reply("md a I T30 k O5", META_RC_NF, NULL, "NF ka O5\r\n");
    expect_reply("md YQ== b k", META_RC_HD, NULL, "HD kYQ== b\r\n");
    expect_reply("md YQ== b k q", META_RC_NF, NULL, "NF kYQ== b\r\n");
    expect_reply("md a", META_RC_HD, NULL, "HD\r\n");
    /* ma: "ma a N0 J5 v t c k O1" (vivified, cas 7) ->
     * b'VA 1 t-1 c7 ka O1\r\n' + b'5\r\n'; "ma n C1 k O2" ->
     * b'EX kn O2\r\n'; "ma YQ== b k v" -> b'VA 1 kYQ== b\r\n6\r\n' */
    meta_item_view_t n5 = {.key = "a", .nkey = 1, .value_len = 1,
                           .ttl = -1, .cas = 7};
    expect_reply("ma a N0 J5 v t c k O1", META_RC_VA, &n5,
                 "VA 1 t-1 c7 ka O1\r\n");
    expect_reply("ma n C1 k O2", META_RC_EX, NULL, "EX kn O2\r\n");
    expect_reply("ma a v", META_RC_NF, NULL, "NF\r\n");
    meta_item_view_t n6 = {.key = "a", .nkey = 1, .key_binary = true,
                           .value_len = 1, .ttl = -1, .cas = 9};
    expect_reply("ma YQ== b k v", META_RC_VA, &n6, "VA 1 kYQ== b\r\n");
    expect_reply("ma YQ== b k", META_RC_HD, &n6, "HD kYQ== b\r\n");
    /* mg win/stale flags: b'VA 0 t30 c33 W\r\n', b'VA 0 t30 c34 Z\r\n',
     * b'VA 0 c35 t30 X W\r\n', b'VA 0 c35 t30 Z X\r\n',
     * b'VA 0 t30 Z X\r\n', b'VA 1 t10 W\r\n' */
    meta_item_view_t w = {.key = "zq", .nkey = 2, .ttl = 30, .cas = 33,
                          .won = true};
    expect_reply("mg a N30 v t c", META_RC_VA, &w, "VA 0 t30 c33 W\r\n");
    w.won = false;
    w.token_sent = true;
    w.cas = 34;
    expect_reply("mg zq N30 v t c", META_RC_VA, &w, "VA 0 t30 c34 Z\r\n");
    w.token_sent = false;
    w.stale = true;
    w.won = true;
    w.cas = 35;
    expect_reply("mg zq v c t", META_RC_VA, &w, "VA 0 c35 t30 X W\r\n");
    w.won = false;
    w.token_sent = true;
    expect_reply("mg zq v c t", META_RC_VA, &w, "VA 0 c35 t30 Z X\r\n");
    expect_reply("mg zq R100 v t", META_RC_VA, &w, "VA 0 t30 Z X\r\n");
    /* A 250-byte binary key re-encodes within META_REPLY_MAX. */
    char big[META_KEY_BIN_MAX];
    memset(big, 0xff, sizeof(big));
    meta_item_view_t bk = {.key = big, .nkey = sizeof(big),
                           .key_binary = true, .value_len = UINT32_MAX,
                           .ttl = INT32_MAX, .cas = UINT64_MAX,
                           .client_flags = UINT32_MAX,
                           .last_access = UINT32_MAX, .fetched = true,
                           .token_sent = true, .stale = true, .won = true};
    char keybuf[META_KEY_BIN_MAX];
    char out[META_REPLY_MAX];
    meta_request_t req = parse_ok("mg a s t c f l h k v Oxxxxxxxxxxxxxxxxxxxxx"
                                  "xxxxxxxxxx", keybuf);
    cr_assert_gt(meta_encode_reply(out, sizeof(out), &req, META_RC_VA, &bk),
                 0);
}

Test(proto_meta, me_mn_and_codes)
{
    char out[META_REPLY_MAX];
    /* b'ME a exp=-100 la=0 cas=11 fetch=no cls=1 size=62\r\n' */
    size_t n = meta_encode_me(out, sizeof(out), "a", 1, false, -100, 0, 11,
                              false, 1, 62);
    const char *want = "ME a exp=-100 la=0 cas=11 fetch=no cls=1 size=62\r\n";
    cr_assert_eq(n, strlen(want));
    cr_assert(memcmp(out, want, n) == 0, "%.*s", (int)n, out);
    /* b'ME YQ== exp=-1 la=0 cas=10 fetch=no cls=1 size=62\r\n' */
    n = meta_encode_me(out, sizeof(out), "a", 1, true, -1, 0, 10, false, 1,
                       62);
    want = "ME YQ== exp=-1 la=0 cas=10 fetch=no cls=1 size=62\r\n";
    cr_assert_eq(n, strlen(want));
    cr_assert(memcmp(out, want, n) == 0, "%.*s", (int)n, out);
    n = meta_encode_me(out, sizeof(out), "a", 1, false, -1, 2, 13, true, 1,
                       62);
    want = "ME a exp=-1 la=2 cas=13 fetch=yes cls=1 size=62\r\n";
    cr_assert(n == strlen(want) && memcmp(out, want, n) == 0);
    cr_assert_eq(meta_encode_me(out, 10, "a", 1, false, -1, 2, 13, true, 1,
                                62), 0);
    cr_assert_eq(meta_encode_mn(out, sizeof(out)), 4);
    cr_assert(memcmp(out, "MN\r\n", 4) == 0);
    cr_assert_eq(meta_encode_mn(out, 3), 0);
    cr_assert_eq(meta_encode_code(out, sizeof(out), META_RC_EN), 4);
    cr_assert(memcmp(out, "EN\r\n", 4) == 0);
}

Test(proto_meta, quiet_rules)
{
    char keybuf[META_KEY_BIN_MAX];
    /* Observed: "mg a q" hit -> b'HD\r\n'; "mg zz q" -> nothing;
     * "ms a 2 q" -> nothing; "md zz q" hit -> nothing, miss -> b'NF\r\n';
     * "ma n q v" -> nothing; "ma zz N0 q" (created) -> b'HD\r\n';
     * "ma zz q" miss -> b'NF\r\n'; errors always sent. */
    meta_request_t r = parse_ok("mg a q", keybuf);
    cr_assert(!meta_reply_suppressed(&r, META_RC_HD, false));
    cr_assert(!meta_reply_suppressed(&r, META_RC_VA, false));
    cr_assert(meta_reply_suppressed(&r, META_RC_EN, false));
    r = parse_ok("ms a 2 q", keybuf);
    cr_assert(meta_reply_suppressed(&r, META_RC_HD, false));
    cr_assert(!meta_reply_suppressed(&r, META_RC_NS, false));
    cr_assert(!meta_reply_suppressed(&r, META_RC_EX, false));
    r = parse_ok("md a q", keybuf);
    cr_assert(meta_reply_suppressed(&r, META_RC_HD, false));
    cr_assert(!meta_reply_suppressed(&r, META_RC_NF, false));
    r = parse_ok("ma a q v", keybuf);
    cr_assert(meta_reply_suppressed(&r, META_RC_VA, false));
    cr_assert(meta_reply_suppressed(&r, META_RC_HD, false));
    cr_assert(!meta_reply_suppressed(&r, META_RC_HD, true));
    cr_assert(!meta_reply_suppressed(&r, META_RC_NF, false));
    r = parse_ok("mg a", keybuf);
    cr_assert(!meta_reply_suppressed(&r, META_RC_EN, false));
}

Test(proto_meta, base64_roundtrip)
{
    char in[64], enc[128], dec[64];
    for (size_t len = 1; len < sizeof(in); len++) {
        for (size_t i = 0; i < len; i++) {
            in[i] = (char)(unsigned char)(i * 37 + len);
        }
        size_t e = meta_base64_encode(in, len, enc, sizeof(enc));
        cr_assert_eq(e, (len + 2) / 3 * 4);
        size_t d = meta_base64_decode(enc, e, dec, sizeof(dec));
        cr_assert_eq(d, len);
        cr_assert(memcmp(in, dec, len) == 0);
    }
    cr_assert_eq(meta_base64_decode("YWJj", 4, dec, 2), 0); /* too small */
    cr_assert_eq(meta_base64_encode("abc", 3, enc, 3), 0);
    cr_assert_str_eq(meta_cmd_name(META_CMD_MG), "mg");
    cr_assert_str_eq(meta_cmd_name(META_CMD_NONE), "none");
}
