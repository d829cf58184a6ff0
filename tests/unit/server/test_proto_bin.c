/*
 * tests/unit/server/test_proto_bin.c - the binary protocol parser and
 * encoders.
 *
 * Expected statuses, closes and reply bytes were observed on Debian's
 * memcached 1.6.18 (python struct packets, opaque 0xdeadbeef). Every packet
 * is also fed split at every byte, each prefix in an exact-size heap block
 * so ASan catches reads past `len`.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "proto_bin.h"

#define OPQ 0xdeadbeefu

typedef struct pkt {
    uint8_t b[600];
    size_t n;
} pkt_t;

/* A request header + extras + key + value; bodylen/keylen/extlen may lie
 * (pass -1 to compute). */
static pkt_t mk(uint8_t magic, uint8_t op, const void *ext, size_t extlen,
                const char *key, size_t keylen, const char *val, size_t vlen,
                long long bodylen, long keylen_hdr, int extlen_hdr,
                uint64_t cas)
{
    pkt_t p;
    memset(&p, 0, sizeof(p));
    bin_header_t h = {
        .magic = magic,
        .opcode = op,
        .keylen = (uint16_t)(keylen_hdr < 0 ? (long)keylen : keylen_hdr),
        .extlen = (uint8_t)(extlen_hdr < 0 ? (int)extlen : extlen_hdr),
        .bodylen = (uint32_t)(bodylen < 0 ? (long long)(extlen + keylen +
                                                        vlen)
                                          : bodylen),
        .opaque = OPQ,
        .cas = cas,
    };
    bin_encode_header(p.b, &h);
    p.n = BIN_HEADER_LEN;
    memcpy(p.b + p.n, ext, extlen);
    p.n += extlen;
    memcpy(p.b + p.n, key, keylen);
    p.n += keylen;
    memcpy(p.b + p.n, val, vlen);
    p.n += vlen;
    return p;
}

#define REQ(op, ext, key, val)                                             \
    mk(0x80, (op), (ext), sizeof(ext) - 1, (key), strlen(key), (val),      \
       strlen(val), -1, -1, -1, 0)

static const bin_limits_t LIMITS = {1024 * 1024};

static bin_parse_status_e parse_split(const pkt_t *p, bin_request_t *req,
                                      size_t *consumed, size_t need)
{
    /* Every prefix shorter than `need` must be EUNFIN. */
    for (size_t cut = 0; cut < need && cut < p->n; cut++) {
        uint8_t *part = malloc(cut ? cut : 1);
        memcpy(part, p->b, cut);
        bin_parse_status_e st = bin_parse(part, cut, &LIMITS, req, consumed);
        cr_assert_eq(st, BIN_PARSE_EUNFIN, "prefix %zu", cut);
        cr_assert_eq(*consumed, 0);
        free(part);
    }
    static uint8_t *keep;
    free(keep);
    keep = malloc(p->n);
    memcpy(keep, p->b, p->n);
    return bin_parse(keep, p->n, &LIMITS, req, consumed);
}

Test(proto_bin, valid_requests_every_split)
{
    bin_request_t r;
    size_t c;

    /* get family */
    struct {
        uint8_t op;
        bin_cmd_e cmd;
        bool quiet, rk;
    } gets[] = {
        {BIN_OP_GET, BIN_CMD_GET, false, false},
        {BIN_OP_GETQ, BIN_CMD_GET, true, false},
        {BIN_OP_GETK, BIN_CMD_GET, false, true},
        {BIN_OP_GETKQ, BIN_CMD_GET, true, true},
        {BIN_OP_DELETE, BIN_CMD_DELETE, false, false},
        {BIN_OP_DELETEQ, BIN_CMD_DELETE, true, false},
    };
    for (size_t i = 0; i < sizeof(gets) / sizeof(gets[0]); i++) {
        pkt_t p = REQ(gets[i].op, "", "nokey", "");
        cr_assert_eq(parse_split(&p, &r, &c, p.n), BIN_PARSE_OK);
        cr_assert_eq(r.cmd, gets[i].cmd);
        cr_assert_eq(r.quiet, gets[i].quiet);
        cr_assert_eq(r.return_key, gets[i].rk);
        cr_assert_eq(r.nkey, 5);
        cr_assert(memcmp(r.key, "nokey", 5) == 0);
        cr_assert_eq(c, 29);
        cr_assert_eq(r.hdr.opaque, OPQ);
    }
    /* set/add/replace (+q): flags 0xdeadbeef, exptime 100 */
    uint8_t ops[] = {BIN_OP_SET, BIN_OP_SETQ, BIN_OP_ADD, BIN_OP_ADDQ,
                     BIN_OP_REPLACE, BIN_OP_REPLACEQ};
    bin_cmd_e cmds[] = {BIN_CMD_SET, BIN_CMD_SET, BIN_CMD_ADD, BIN_CMD_ADD,
                        BIN_CMD_REPLACE, BIN_CMD_REPLACE};
    for (size_t i = 0; i < sizeof(ops); i++) {
        pkt_t p = mk(0x80, ops[i], "\xde\xad\xbe\xef\x00\x00\x00\x64", 8,
                     "k", 1, "hello", 5, -1, -1, -1, 37);
        cr_assert_eq(parse_split(&p, &r, &c, 33), BIN_PARSE_OK);
        cr_assert_eq(r.cmd, cmds[i]);
        cr_assert_eq(r.quiet, (i % 2) == 1);
        cr_assert_eq(r.flags, 0xdeadbeefu);
        cr_assert_eq(r.exptime, 100);
        cr_assert_eq(r.vlen, 5);
        cr_assert_eq(r.hdr.cas, 37);
        cr_assert_eq(c, 33); /* the value is the caller's */
        cr_assert_eq(r.nkey, 1);
    }
    /* append / prepend (+q) */
    uint8_t aops[] = {BIN_OP_APPEND, BIN_OP_APPENDQ, BIN_OP_PREPEND,
                      BIN_OP_PREPENDQ};
    for (size_t i = 0; i < sizeof(aops); i++) {
        pkt_t p = REQ(aops[i], "", "pp", "x");
        cr_assert_eq(parse_split(&p, &r, &c, 26), BIN_PARSE_OK);
        cr_assert_eq(r.cmd, i < 2 ? BIN_CMD_APPEND : BIN_CMD_PREPEND);
        cr_assert_eq(r.vlen, 1);
        cr_assert_eq(c, 26);
    }
    /* incr / decr (+q): delta 3, initial 10, exptime 0xffffffff */
    uint8_t iops[] = {BIN_OP_INCREMENT, BIN_OP_INCREMENTQ, BIN_OP_DECREMENT,
                      BIN_OP_DECREMENTQ};
    const char iext[] = "\0\0\0\0\0\0\0\x03\0\0\0\0\0\0\0\x0a\xff\xff\xff\xff";
    for (size_t i = 0; i < sizeof(iops); i++) {
        pkt_t p = mk(0x80, iops[i], iext, 20, "n", 1, "", 0, -1, -1, -1, 0);
        cr_assert_eq(parse_split(&p, &r, &c, p.n), BIN_PARSE_OK);
        cr_assert_eq(r.cmd, i < 2 ? BIN_CMD_INCR : BIN_CMD_DECR);
        cr_assert_eq(r.delta, 3);
        cr_assert_eq(r.initial, 10);
        cr_assert_eq(r.exptime, 0xffffffffu);
        cr_assert_eq(c, 45);
    }
    /* no-body commands */
    uint8_t zops[] = {BIN_OP_NOOP, BIN_OP_VERSION, BIN_OP_QUIT, BIN_OP_QUITQ,
                      BIN_OP_FLUSH, BIN_OP_FLUSHQ};
    bin_cmd_e zc[] = {BIN_CMD_NOOP, BIN_CMD_VERSION, BIN_CMD_QUIT,
                      BIN_CMD_QUIT, BIN_CMD_FLUSH, BIN_CMD_FLUSH};
    for (size_t i = 0; i < sizeof(zops); i++) {
        pkt_t p = REQ(zops[i], "", "", "");
        cr_assert_eq(parse_split(&p, &r, &c, 24), BIN_PARSE_OK);
        cr_assert_eq(r.cmd, zc[i]);
        cr_assert_eq(c, 24);
        cr_assert_null(r.key);
        cr_assert(!r.has_exptime);
    }
    /* flush with a delay */
    pkt_t f = REQ(BIN_OP_FLUSH, "\0\0\0\x0a", "", "");
    cr_assert_eq(parse_split(&f, &r, &c, 28), BIN_PARSE_OK);
    cr_assert(r.has_exptime);
    cr_assert_eq(r.exptime, 10);
    /* stat, with and without a group */
    pkt_t s = REQ(BIN_OP_STAT, "", "settings", "");
    cr_assert_eq(parse_split(&s, &r, &c, s.n), BIN_PARSE_OK);
    cr_assert_eq(r.cmd, BIN_CMD_STAT);
    cr_assert_eq(r.nkey, 8);
    s = REQ(BIN_OP_STAT, "", "", "");
    cr_assert_eq(parse_split(&s, &r, &c, 24), BIN_PARSE_OK);
    cr_assert_null(r.key);
    /* stat with value bytes: only header + key consumed (memcached then
     * reads "zz..." as a header and closes) */
    s = REQ(BIN_OP_STAT, "", "", "zz");
    cr_assert_eq(parse_split(&s, &r, &c, 24), BIN_PARSE_OK);
    cr_assert_eq(c, 24);
    /* touch / gat family */
    struct {
        uint8_t op;
        bin_cmd_e cmd;
        bool quiet, rk;
    } tg[] = {
        {BIN_OP_TOUCH, BIN_CMD_TOUCH, false, false},
        {BIN_OP_GAT, BIN_CMD_GAT, false, false},
        {BIN_OP_GATQ, BIN_CMD_GAT, true, false},
        {BIN_OP_GATK, BIN_CMD_GAT, false, true},
        {BIN_OP_GATKQ, BIN_CMD_GAT, true, true},
    };
    for (size_t i = 0; i < sizeof(tg) / sizeof(tg[0]); i++) {
        pkt_t p = REQ(tg[i].op, "\0\0\0\x64", "k", "");
        cr_assert_eq(parse_split(&p, &r, &c, p.n), BIN_PARSE_OK);
        cr_assert_eq(r.cmd, tg[i].cmd);
        cr_assert_eq(r.quiet, tg[i].quiet);
        cr_assert_eq(r.return_key, tg[i].rk);
        cr_assert_eq(r.exptime, 100);
        cr_assert_eq(c, 29);
    }
    /* touch with trailing bytes: processed (memcached replied Not found),
     * trailing bytes left for the next parse */
    pkt_t t = REQ(BIN_OP_TOUCH, "\0\0\0\0", "k", "zz");
    cr_assert_eq(parse_split(&t, &r, &c, 29), BIN_PARSE_OK);
    cr_assert_eq(c, 29);
    /* data type and vbucket are ignored (memcached answered normally) */
    pkt_t d = REQ(BIN_OP_NOOP, "", "", "");
    d.b[5] = 1;
    d.b[7] = 5;
    cr_assert_eq(parse_split(&d, &r, &c, 24), BIN_PARSE_OK);
    /* key of 250 bytes is fine */
    char k250[250];
    memset(k250, 'k', sizeof(k250));
    pkt_t g = mk(0x80, BIN_OP_GET, "", 0, k250, 250, "", 0, -1, -1, -1, 0);
    cr_assert_eq(parse_split(&g, &r, &c, g.n), BIN_PARSE_OK);
    cr_assert_eq(r.nkey, 250);
}

typedef struct ecase {
    const char *name;
    pkt_t p;
    bin_parse_status_e st;
    bin_status_e status;
    bool close;
    size_t swallow;
    size_t consumed;
    size_t need; /* bytes before a verdict */
} ecase_t;

Test(proto_bin, errors_match_memcached)
{
    char k251[300];
    memset(k251, 'k', sizeof(k251));
    ecase_t cases[] = {
        /* bad magic in a binary connection: closed, no reply */
        {"bad magic", REQ(BIN_OP_NOOP, "", "", ""), BIN_PARSE_ECLOSE, 0,
         false, 0, 0, 24},
        /* "flush bad extlen" -> 0x04 Invalid arguments (closed) */
        {"flush extlen 2", REQ(BIN_OP_FLUSH, "\0\0", "", ""),
         BIN_PARSE_EREPLY, BIN_STATUS_EINVAL, true, 0, 26, 26},
        {"flush key", REQ(BIN_OP_FLUSH, "", "k", ""), BIN_PARSE_EREPLY,
         BIN_STATUS_EINVAL, true, 0, 25, 25},
        {"get extlen 4", REQ(BIN_OP_GET, "\0\0\0\0", "k", ""),
         BIN_PARSE_EREPLY, BIN_STATUS_EINVAL, true, 0, 29, 29},
        {"get nokey", REQ(BIN_OP_GET, "", "", ""), BIN_PARSE_EREPLY,
         BIN_STATUS_EINVAL, true, 0, 24, 24},
        {"set extlen 4", REQ(BIN_OP_SET, "\0\0\0\0", "k", "x"),
         BIN_PARSE_EREPLY, BIN_STATUS_EINVAL, true, 0, 29, 29},
        {"set nokey", REQ(BIN_OP_SET, "\0\0\0\0\0\0\0\0", "", "x"),
         BIN_PARSE_EREPLY, BIN_STATUS_EINVAL, true, 0, 32, 32},
        {"set extras 8 key 0", REQ(BIN_OP_SET, "\0\0\0\0\0\0\0\0", "", ""),
         BIN_PARSE_EREPLY, BIN_STATUS_EINVAL, true, 0, 32, 32},
        {"version body", REQ(BIN_OP_VERSION, "", "x", ""), BIN_PARSE_EREPLY,
         BIN_STATUS_EINVAL, true, 0, 25, 25},
        {"noop body", REQ(BIN_OP_NOOP, "", "", "x"), BIN_PARSE_EREPLY,
         BIN_STATUS_EINVAL, true, 0, 24, 24},
        {"noop extlen", mk(0x80, BIN_OP_NOOP, "x", 1, "", 0, "", 0, 1, -1,
                           -1, 0),
         BIN_PARSE_EREPLY, BIN_STATUS_EINVAL, true, 0, 25, 25},
        {"delete extras", REQ(BIN_OP_DELETE, "\0\0\0\0", "k", ""),
         BIN_PARSE_EREPLY, BIN_STATUS_EINVAL, true, 0, 29, 29},
        {"delete body > key", REQ(BIN_OP_DELETE, "", "k", "xx"),
         BIN_PARSE_EREPLY, BIN_STATUS_EINVAL, true, 0, 25, 25},
        {"incr bad extlen", REQ(BIN_OP_INCREMENT,
                                "\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\x01", "n",
                                ""),
         BIN_PARSE_EREPLY, BIN_STATUS_EINVAL, true, 0, 41, 41},
        {"incr body extra", REQ(BIN_OP_INCREMENT,
                                "\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\x01\0\0\0"
                                "\0", "n", "zz"),
         BIN_PARSE_EREPLY, BIN_STATUS_EINVAL, true, 0, 45, 45},
        {"append extras", REQ(BIN_OP_APPEND, "\0\0\0\0", "k", "x"),
         BIN_PARSE_EREPLY, BIN_STATUS_EINVAL, true, 0, 29, 29},
        {"append nokey", REQ(BIN_OP_APPEND, "", "", "x"), BIN_PARSE_EREPLY,
         BIN_STATUS_EINVAL, true, 0, 24, 24},
        {"touch noext", REQ(BIN_OP_TOUCH, "", "k", ""), BIN_PARSE_EREPLY,
         BIN_STATUS_EINVAL, true, 0, 25, 25},
        {"stat extras", REQ(BIN_OP_STAT, "\0\0\0\0", "", ""),
         BIN_PARSE_EREPLY, BIN_STATUS_EINVAL, true, 0, 28, 28},
        {"quit body", REQ(BIN_OP_QUIT, "", "", "x"), BIN_PARSE_EREPLY,
         BIN_STATUS_EINVAL, true, 0, 24, 24},
        /* "keylen > bodylen" -> 0x81 Unknown command, closed */
        {"keylen > bodylen", mk(0x80, BIN_OP_GET, "", 0, "k", 1, "", 0, 1, 5,
                                -1, 0),
         BIN_PARSE_EREPLY, BIN_STATUS_UNKNOWN_COMMAND, true, 0, 24, 24},
        {"keylen + extlen > bodylen",
         mk(0x80, BIN_OP_GAT, "\0\0\0\x01", 4, "kk", 2, "", 0, 5, -1, -1, 0),
         BIN_PARSE_EREPLY, BIN_STATUS_UNKNOWN_COMMAND, true, 0, 24, 24},
        {"key 300 bodylen 0", mk(0x80, BIN_OP_GET, "", 0, "", 0, "", 0, 0,
                                 300, -1, 0),
         BIN_PARSE_EREPLY, BIN_STATUS_UNKNOWN_COMMAND, true, 0, 24, 24},
        /* key > 250: Invalid arguments (closed), any opcode */
        {"get key 251", mk(0x80, BIN_OP_GET, "", 0, k251, 251, "", 0, -1, -1,
                           -1, 0),
         BIN_PARSE_EREPLY, BIN_STATUS_EINVAL, true, 0, 24, 24},
        {"unknown key 300", mk(0x80, 0x30, "", 0, k251, 300, "", 0, -1, -1,
                               -1, 0),
         BIN_PARSE_EREPLY, BIN_STATUS_EINVAL, true, 0, 24, 24},
        {"huge bodylen get", mk(0x80, BIN_OP_GET, "", 0, "k", 1, "", 0,
                                0x7fffffff, -1, -1, 0),
         BIN_PARSE_EREPLY, BIN_STATUS_EINVAL, true, 0, 25, 25},
        /* unknown commands: reply, keep the connection, swallow bodylen
         * bytes after extras + key */
        {"unknown 0x30", REQ(0x30, "", "", "abc"), BIN_PARSE_EREPLY,
         BIN_STATUS_UNKNOWN_COMMAND, false, 3, 24, 24},
        {"unknown 0x30 ext4", REQ(0x30, "\0\0\0\x01", "", ""),
         BIN_PARSE_EREPLY, BIN_STATUS_UNKNOWN_COMMAND, false, 4, 28, 28},
        {"verbosity", REQ(BIN_OP_VERBOSITY, "\0\0\0\x01", "", ""),
         BIN_PARSE_EREPLY, BIN_STATUS_UNKNOWN_COMMAND, false, 4, 28, 28},
        {"sasl list", REQ(BIN_OP_SASL_LIST_MECHS, "", "", ""),
         BIN_PARSE_EREPLY, BIN_STATUS_UNKNOWN_COMMAND, false, 0, 24, 24},
        /* SASL compiled in (Debian): auth reads its value, no over-read */
        {"sasl auth", REQ(BIN_OP_SASL_AUTH, "", "PLAIN", "x"),
         BIN_PARSE_EREPLY, BIN_STATUS_UNKNOWN_COMMAND, false, 1, 29, 29},
        {"sasl auth extras", REQ(BIN_OP_SASL_AUTH, "\0\0\0\0", "PLAIN", "x"),
         BIN_PARSE_EREPLY, BIN_STATUS_EINVAL, true, 0, 33, 33},
        {"sasl list body", REQ(BIN_OP_SASL_LIST_MECHS, "", "", "xyz"),
         BIN_PARSE_EREPLY, BIN_STATUS_EINVAL, true, 0, 24, 24},
        {"op 0x1f", REQ(0x1f, "", "", ""), BIN_PARSE_EREPLY,
         BIN_STATUS_UNKNOWN_COMMAND, false, 0, 24, 24},
        {"op 0xff", REQ(0xff, "", "", ""), BIN_PARSE_EREPLY,
         BIN_STATUS_UNKNOWN_COMMAND, false, 0, 24, 24},
        /* too large: reply, swallow the value (no close), also for setq */
        {"too large", mk(0x80, BIN_OP_SET, "\0\0\0\0\0\0\0\0", 8, "big", 3,
                         "", 0, 8 + 3 + 1024 * 1024 + 10, -1, -1, 0),
         BIN_PARSE_EREPLY, BIN_STATUS_E2BIG, false, 1024 * 1024 + 10, 35, 35},
        {"too large q", mk(0x80, BIN_OP_SETQ, "\0\0\0\0\0\0\0\0", 8, "big",
                           3, "", 0, 8 + 3 + 1024 * 1024 + 10, -1, -1, 0),
         BIN_PARSE_EREPLY, BIN_STATUS_E2BIG, false, 1024 * 1024 + 10, 35, 35},
        {"huge bodylen set", mk(0x80, BIN_OP_SET, "\0\0\0\0\0\0\0\0", 8, "k",
                                1, "x", 1, 0xffffffffLL, -1, -1, 0),
         /* memcached 1.6.18: the value length is an int; "negative" ->
          * "Too large." and nothing swallowed (the rest is parsed as a
          * header) */
         BIN_PARSE_EREPLY, BIN_STATUS_E2BIG, false, 0, 33, 33},
        {"append too large", mk(0x80, BIN_OP_APPEND, "", 0, "k", 1, "", 0,
                                1 + 1024 * 1024 + 1, -1, -1, 0),
         BIN_PARSE_EREPLY, BIN_STATUS_E2BIG, false, 1024 * 1024 + 1, 25, 25},
    };
    cases[0].p.b[0] = 0x81;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bin_request_t r;
        size_t c;
        bin_parse_status_e st = parse_split(&cases[i].p, &r, &c,
                                            cases[i].need);
        cr_assert_eq(st, cases[i].st, "%s: %s", cases[i].name,
                     bin_parse_strerror(st));
        if (st != BIN_PARSE_EREPLY) {
            continue;
        }
        cr_assert_eq(r.status, cases[i].status, "%s: 0x%x", cases[i].name,
                     r.status);
        cr_assert_eq(r.close, cases[i].close, "%s", cases[i].name);
        cr_assert_eq(r.swallow, cases[i].swallow, "%s: %zu", cases[i].name,
                     r.swallow);
        cr_assert_eq(c, cases[i].consumed, "%s: consumed %zu", cases[i].name,
                     c);
    }
}

static void expect_bytes(const uint8_t *got, size_t n, const char *want,
                         size_t wn)
{
    cr_assert_eq(n, wn, "length %zu != %zu", n, wn);
    cr_assert(memcmp(got, want, wn) == 0);
}

#define W(s) (s), sizeof(s) - 1

Test(proto_bin, encoders_match_memcached)
{
    uint8_t out[256];
    size_t n;

    /* get miss: 81 00 0000 00 00 0001 00000009 deadbeef cas 0 "Not found" */
    n = bin_encode_error(out, sizeof(out), BIN_OP_GET,
                         BIN_STATUS_KEY_ENOENT, OPQ);
    expect_bytes(out, n, W("\x81\x00\x00\x00\x00\x00\x00\x01"
                           "\x00\x00\x00\x09\xde\xad\xbe\xef"
                           "\0\0\0\0\0\0\0\0Not found"));
    /* add exists: status 2, "Data exists for key." */
    n = bin_encode_error(out, sizeof(out), BIN_OP_ADD,
                         BIN_STATUS_KEY_EEXISTS, OPQ);
    expect_bytes(out, n, W("\x81\x02\x00\x00\x00\x00\x00\x02"
                           "\x00\x00\x00\x14\xde\xad\xbe\xef"
                           "\0\0\0\0\0\0\0\0Data exists for key."));
    /* unknown 0x30: status 0x81 "Unknown command" */
    n = bin_encode_error(out, sizeof(out), 0x30, BIN_STATUS_UNKNOWN_COMMAND,
                         OPQ);
    expect_bytes(out, n, W("\x81\x30\x00\x00\x00\x00\x00\x81"
                           "\x00\x00\x00\x0f\xde\xad\xbe\xef"
                           "\0\0\0\0\0\0\0\0Unknown command"));
    /* Other verified bodies. */
    cr_assert_str_eq(bin_status_text(BIN_STATUS_E2BIG), "Too large.");
    cr_assert_str_eq(bin_status_text(BIN_STATUS_EINVAL), "Invalid arguments");
    cr_assert_str_eq(bin_status_text(BIN_STATUS_NOT_STORED), "Not stored.");
    cr_assert_str_eq(bin_status_text(BIN_STATUS_DELTA_BADVAL),
                     "Non-numeric server-side value for incr or decr");
    cr_assert_str_eq(bin_status_text(BIN_STATUS_ENOMEM), "Out of memory");
    cr_assert_str_eq(bin_status_text(BIN_STATUS_AUTH_ERROR), "Auth failure.");
    cr_assert_str_eq(bin_status_text(BIN_STATUS_OK), "");
    /* get hit, cas 37: extras = flags 5, value "hello" */
    n = bin_encode_response(out, sizeof(out), BIN_OP_GET, 0, OPQ, 37,
                            "\0\0\0\x05", 4, NULL, 0, "hello", 5);
    expect_bytes(out, n, W("\x81\x00\x00\x00\x04\x00\x00\x00"
                           "\x00\x00\x00\x09\xde\xad\xbe\xef"
                           "\0\0\0\0\0\0\0\x25\0\0\0\x05hello"));
    /* getk hit */
    n = bin_encode_response(out, sizeof(out), BIN_OP_GETK, 0, OPQ, 37,
                            "\0\0\0\x05", 4, "k", 1, "hello", 5);
    expect_bytes(out, n, W("\x81\x0c\x00\x01\x04\x00\x00\x00"
                           "\x00\x00\x00\x0a\xde\xad\xbe\xef"
                           "\0\0\0\0\0\0\0\x25\0\0\0\x05khello"));
    /* getk miss: status 1, key, no message */
    n = bin_encode_response(out, sizeof(out), BIN_OP_GETK,
                            BIN_STATUS_KEY_ENOENT, OPQ, 0, NULL, 0, "nokey",
                            5, NULL, 0);
    expect_bytes(out, n, W("\x81\x0c\x00\x05\x00\x00\x00\x01"
                           "\x00\x00\x00\x05\xde\xad\xbe\xef"
                           "\0\0\0\0\0\0\0\0nokey"));
    /* version */
    n = bin_encode_response(out, sizeof(out), BIN_OP_VERSION, 0, OPQ, 0,
                            NULL, 0, NULL, 0, "1.6.18", 6);
    expect_bytes(out, n, W("\x81\x0b\x00\x00\x00\x00\x00\x00"
                           "\x00\x00\x00\x06\xde\xad\xbe\xef"
                           "\0\0\0\0\0\0\0\x00" "1.6.18"));
    /* incr -> 10, cas 44 */
    n = bin_encode_response(out, sizeof(out), BIN_OP_INCREMENT, 0, OPQ, 44,
                            NULL, 0, NULL, 0, "\0\0\0\0\0\0\0\x0a", 8);
    expect_bytes(out, n, W("\x81\x05\x00\x00\x00\x00\x00\x00"
                           "\x00\x00\x00\x08\xde\xad\xbe\xef"
                           "\0\0\0\0\0\0\0\x2c\0\0\0\0\0\0\0\x0a"));
    /* noop */
    n = bin_encode_response(out, sizeof(out), BIN_OP_NOOP, 0, OPQ, 0, NULL, 0,
                            NULL, 0, NULL, 0);
    expect_bytes(out, n, W("\x81\x0a\x00\x00\x00\x00\x00\x00"
                           "\x00\x00\x00\x00\xde\xad\xbe\xef"
                           "\0\0\0\0\0\0\0\0"));
    /* too small */
    cr_assert_eq(bin_encode_response(out, 30, BIN_OP_GET, 0, OPQ, 0, NULL, 0,
                                     NULL, 0, "hellohello", 10), 0);
    cr_assert_eq(bin_encode_error(out, 23, BIN_OP_NOOP, BIN_STATUS_OK, 0), 0);
    /* header round trip */
    bin_header_t h = {0x80, 0x01, 0x1234, 8, 0, 0xbeef, 0x01020304, 7,
                      0x0102030405060708ULL};
    bin_header_t back;
    bin_encode_header(out, &h);
    cr_assert_eq(bin_parse_header(out, 24, &back), BIN_PARSE_OK);
    cr_assert(memcmp(&h, &back, sizeof(h)) == 0);
    cr_assert_eq(bin_parse_header(out, 23, &back), BIN_PARSE_EUNFIN);
}

Test(proto_bin, quiet_rules)
{
    bin_request_t r;
    size_t c;
    /* Observed: getq/getkq/gatq miss -> nothing; setq/incrq/flushq ok ->
     * nothing; deleteq miss, appendq miss, addq exists, incrq non-numeric,
     * replaceq miss, setq too large -> error sent; quitq -> closed with no
     * reply. */
    pkt_t p = REQ(BIN_OP_GETQ, "", "k", "");
    cr_assert_eq(bin_parse(p.b, p.n, NULL, &r, &c), BIN_PARSE_OK);
    cr_assert(bin_reply_suppressed(&r, BIN_STATUS_KEY_ENOENT));
    cr_assert(!bin_reply_suppressed(&r, BIN_STATUS_OK));
    p = REQ(BIN_OP_GATKQ, "\0\0\0\0", "k", "");
    cr_assert_eq(bin_parse(p.b, p.n, NULL, &r, &c), BIN_PARSE_OK);
    cr_assert(bin_reply_suppressed(&r, BIN_STATUS_KEY_ENOENT));
    p = REQ(BIN_OP_DELETEQ, "", "k", "");
    cr_assert_eq(bin_parse(p.b, p.n, NULL, &r, &c), BIN_PARSE_OK);
    cr_assert(bin_reply_suppressed(&r, BIN_STATUS_OK));
    cr_assert(!bin_reply_suppressed(&r, BIN_STATUS_KEY_ENOENT));
    p = REQ(BIN_OP_QUITQ, "", "", "");
    cr_assert_eq(bin_parse(p.b, p.n, NULL, &r, &c), BIN_PARSE_OK);
    cr_assert(bin_reply_suppressed(&r, BIN_STATUS_OK));
    p = REQ(BIN_OP_GET, "", "k", "");
    cr_assert_eq(bin_parse(p.b, p.n, NULL, &r, &c), BIN_PARSE_OK);
    cr_assert(!bin_reply_suppressed(&r, BIN_STATUS_KEY_ENOENT));
    cr_assert_str_eq(bin_cmd_name(BIN_CMD_GAT), "gat");
    cr_assert_str_eq(bin_parse_strerror(BIN_PARSE_ECLOSE), "bad magic: close");
}

Test(proto_bin, pipelined)
{
    /* setq + getkq + deleteq + getkq + noop back to back. */
    uint8_t buf[512];
    size_t n = 0;
    pkt_t ps[] = {
        mk(0x80, BIN_OP_SETQ, "\0\0\0\x07\0\0\0\0", 8, "q1", 2, "v", 1, -1,
           -1, -1, 0),
        REQ(BIN_OP_GETKQ, "", "q1", ""),
        REQ(BIN_OP_DELETEQ, "", "q1", ""),
        REQ(BIN_OP_GETKQ, "", "q1", ""),
        REQ(BIN_OP_NOOP, "", "", ""),
    };
    bin_cmd_e want[] = {BIN_CMD_SET, BIN_CMD_GET, BIN_CMD_DELETE, BIN_CMD_GET,
                        BIN_CMD_NOOP};
    for (size_t i = 0; i < 5; i++) {
        memcpy(buf + n, ps[i].b, ps[i].n);
        n += ps[i].n;
    }
    size_t off = 0;
    for (size_t i = 0; i < 5; i++) {
        bin_request_t r;
        size_t c;
        cr_assert_eq(bin_parse(buf + off, n - off, &LIMITS, &r, &c),
                     BIN_PARSE_OK);
        cr_assert_eq(r.cmd, want[i]);
        off += c + r.vlen;
    }
    cr_assert_eq(off, n);
}
