/*
 * server/proto_meta.h - memcached's meta text protocol (mn mg ms md ma me):
 * a pure parser of one command line plus reply encoders.
 *
 * The text parser (proto_text.h) finds the line and hands it over as
 * TEXT_CMD_META with req.args / req.args_len = the whole line without its
 * line ending (a NUL already ended it early; a single "\r" already
 * dropped). meta_parse() splits that line the way memcached 1.6.18 does and
 * fills a meta_request_t; the meta_encode_*() functions write the reply
 * lines byte for byte as memcached 1.6.18 writes them, so the server only
 * maps meanings (hit/miss, cas, ttl, ...) and never formats meta replies.
 * No allocation, no globals, no state between calls. String fields of a
 * request point into the line (or, for a base64 key, into the caller's key
 * buffer) and stay valid while those bytes do.
 *
 * Everything below was checked against Debian's memcached 1.6.18 (default
 * settings) with python socket scripts; the transcripts are the literals in
 * tests/unit/server/test_proto_meta.c.
 *
 * ---- Request syntax -----------------------------------------------------
 *
 *   <cm> <key> [<datalen> (ms only)] <flag>*        flags: one token each,
 *   first byte = flag letter, the rest of the token = its argument.
 *
 * Tokens are split on ' ' only, at most 23 tokens are looked at (memcached's
 * tokenizer). Every command accepts every flag letter memcached's flag
 * pre-parser knows, whatever the command (meaning is up to the command):
 *
 *   flag  arg               parse rule (error reply when bad)
 *   ----  ----------------  ------------------------------------------------
 *   b     -                 key is base64: decoded into the caller's buffer
 *                           ("CLIENT_ERROR error decoding key")
 *   N     int32 ttl         vivify on miss  ("... bad token in command line
 *   T     int32 ttl         update ttl       format"; strtol rules as the
 *   R     int32 ttl         recache if ttl   text parser: "+5" ok, "5x"
 *                           below this       bad, 64-bit value truncated to
 *                                            32 bits)
 *   C     uint64 cas        compare cas     ("... bad token in command line
 *                                            format"; "-1" bad, "-0" ok)
 *   F     uint32 flags      client flags    (no message of its own: "CLIENT_
 *                                            ERROR bad command line format"
 *                                            unless a later/earlier numeric
 *                                            error set another message)
 *   M     one char          mode            (token length != 2: "CLIENT_ERROR
 *                                            incorrect length for M token")
 *   J     uint64            ma initial      ("CLIENT_ERROR invalid numeric
 *                                            initial value")
 *   D     uint64            ma delta        ("CLIENT_ERROR invalid numeric
 *                                            delta value")
 *   O     token             opaque, echoed   token (with its 'O') over 32
 *                           back verbatim    bytes: "CLIENT_ERROR opaque
 *                                            token too long"
 *   P L   token             ignored (proxy hints)
 *   I     -                 invalidate (md: mark stale; ms + C: accept an
 *                           older cas and mark stale)
 *   q     -                 quiet (see meta_reply_suppressed())
 *   k s t c f v h l u       return/behaviour flags, no argument checked
 *                           (an argument, e.g. "v5", is ignored)
 *
 * Any other first byte below 127: "CLIENT_ERROR invalid flag" (so W, X, Z,
 * E, S, ... are invalid in a request; memcached 1.6.18 has no 'E' explicit
 * cas flag, that came later). A first byte >= 127, or a letter seen twice:
 * "CLIENT_ERROR duplicate flag". Both stop the scan at once; numeric/base64
 * errors do not stop it, and the LAST such message wins ("mg a Tabc Jabc"
 * -> "invalid numeric initial value"; "mg a Tabc b" -> "error decoding
 * key"), while a later invalid/duplicate flag overrides them all.
 * md and ma replace every flag error by "CLIENT_ERROR invalid or duplicate
 * flag".
 *
 * ---- Per-command checks, in memcached's order ----------------------------
 *
 * mn  always OK (anything after "mn" is ignored); reply "MN".
 * mg  "mg" alone -> "ERROR"; key over 250 bytes (before base64 decoding) ->
 *     "CLIENT_ERROR bad command line format"; 20 or more tokens -> "CLIENT_
 *     ERROR options flags are too long"; flag errors; opaque too long.
 * ms  "ms" alone -> "ERROR"; key > 250, no datalen, datalen not a number
 *     or < 0 or > INT_MAX - 2 (strtol rules, truncated to int32: "4294967298"
 *     is 2) -> "CLIENT_ERROR bad command line format"; 20 or more tokens ->
 *     "CLIENT_ERROR options flags too long": all WITHOUT swallowing the data
 *     block (it is then parsed as a command, usually "ERROR"). Then flag
 *     errors, "CLIENT_ERROR invalid mode for ms M token" (mode not one of
 *     E A P R S), opaque too long (the mode error wins over it): these
 *     swallow datalen + 2 bytes (req->swallow).
 * md  "md" alone -> "ERROR"; key > 250 -> "CLIENT_ERROR bad command line
 *     format"; 20+ tokens -> "CLIENT_ERROR options flags too long"; flag
 *     errors -> "CLIENT_ERROR invalid or duplicate flag"; opaque too long.
 * ma  as md, then "CLIENT_ERROR invalid mode for ma M token" (mode not one
 *     of I + D -), then opaque too long. (memcached 1.6.18 checks the ma
 *     opaque only while writing the reply, AFTER applying the delta, and
 *     mg's after a touch/vivify; we refuse before acting. Same reply bytes.)
 * me  fewer than 2 tokens or key > 250 -> "CLIENT_ERROR bad command line
 *     format"; the third token, if exactly "b", base64-decodes the key (bad
 *     base64 -> "CLIENT_ERROR bad command line format"); everything else is
 *     ignored, no token limit.
 *
 * Errors are always sent, q or not. After an error nothing else of the
 * command happens.
 *
 * ---- The ms data block ---------------------------------------------------
 *
 * After a parsed ms line the caller reads datalen + 2 bytes (see
 * meta_data_check()). If they do not end in "\r\n": "CLIENT_ERROR bad data
 * chunk", sent even with q, nothing stored, parsing resumes right after
 * those bytes (same as the text protocol). A too-large value: swallow
 * datalen + 2 bytes, then "SERVER_ERROR object too large for cache" (sent
 * even with q).
 *
 * ---- Replies: which return flags each command renders --------------------
 *
 * Return flags appear in request order, each as " " + letter + value:
 *
 *   command  reply code        rendered flags (request order)   then
 *   -------  ----------------  -------------------------------  ----------
 *   mg       VA <len> (v) /HD  s t c f l h O k                  Z X W
 *   mg       EN (miss)         O k
 *   ms       HD NS EX NF       O k c  (c is 0 unless stored)
 *   md       HD NF EX          O k
 *   ma       VA <len> (v) /HD  c t O k   (VA's data is the number)
 *   ma       NF NS EX          O k
 *   me       ME <key> exp=<d> la=<u> cas=<u> fetch=<yes|no> cls=<u> size=<u>
 *            or EN
 *   mn       MN
 *
 *   s  value length            "s2"
 *   t  ttl remaining, seconds  "t30"; "t-1" when the item never expires
 *   c  cas                     "c42"
 *   f  client flags            "f5"
 *   l  seconds since last access, before this request   "l3"
 *   h  fetched before this request: "h0" / "h1"
 *   O  the request's O token verbatim (" O123"; a bare "O" echoes " O")
 *   k  the key: "ka"; a binary key (stored with b / asked with b on a
 *      miss) is base64-encoded and followed by a " b" flag: "kYQ== b"
 *   Z  (mg) a win token was already handed out for this item
 *   X  (mg) the item is stale (md I / ms I)
 *   W  (mg) this client won the right to recache (N vivified it, R found
 *      the ttl below the token, or the item is stale and no win was sent)
 *
 * Flags not listed for a reply (v, q, T, N, ...) are not echoed.
 * memcached 1.6.18 examples: "VA 2 s2 t-1 c3 f5 h1 ka l3 O1", "HD c2 kYQ== b
 * O123", "EN kYWJj b", "EX c0 ka O5", "NF ka O5", "VA 0 c35 t30 X W".
 */
#ifndef TIERCACHE_PROTO_META_H
#define TIERCACHE_PROTO_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define META_KEY_MAX 250       /* key token bytes, before base64 decoding */
#define META_KEY_BIN_MAX 187   /* largest decoded key: 250 / 4 * 3 */
#define META_OPAQUE_MAX 32     /* O token bytes, the 'O' included */
#define META_FLAGS_MAX 20      /* flag tokens a request can carry (< 20) */
/* Enough for any reply line meta_encode_reply()/meta_encode_me() writes. */
#define META_REPLY_MAX 768

typedef enum meta_cmd {
    META_CMD_NONE = 0,
    META_CMD_MN,
    META_CMD_MG,
    META_CMD_MS,
    META_CMD_MD,
    META_CMD_MA,
    META_CMD_ME,
} meta_cmd_e;

/* ms (M token E A P R S) and ma (I + D -) modes. */
typedef enum meta_mode {
    META_MODE_DEFAULT = 0, /* no M flag: ms set, ma incr */
    META_MODE_SET,         /* ms MS */
    META_MODE_ADD,         /* ms ME */
    META_MODE_APPEND,      /* ms MA */
    META_MODE_PREPEND,     /* ms MP */
    META_MODE_REPLACE,     /* ms MR */
    META_MODE_INCR,        /* ma MI, M+ */
    META_MODE_DECR,        /* ma MD, M- */
} meta_mode_e;

typedef enum meta_parse_status {
    META_PARSE_OK = 0, /* *req filled */
    META_PARSE_EREPLY, /* send req->error + "\r\n" (always, q or not), then
                          discard req->swallow bytes (ms: datalen + 2) */
} meta_parse_status_e;

/* Bit of flag letter c ('A'..'Z', 'a'..'z') in meta_request_t.flags. */
#define META_FLAG_BIT(c)                                                   \
    ((c) >= 'a' && (c) <= 'z' ? (UINT64_C(1) << (26 + ((c) - 'a')))        \
     : (c) >= 'A' && (c) <= 'Z' ? (UINT64_C(1) << ((c) - 'A'))             \
                                : UINT64_C(0))

typedef struct meta_token {
    const char *p; /* the whole token, flag letter first */
    size_t n;
} meta_token_t;

typedef struct meta_request {
    meta_cmd_e cmd;
    /* The key to look up: the token, or the decoded bytes in the caller's
     * key buffer when key_binary (flag b). */
    const char *key;
    size_t nkey;
    bool key_binary;
    uint64_t flags;      /* META_FLAG_BIT() of every flag present */
    /* Flag tokens in request order (for the encoders). */
    meta_token_t tok[META_FLAGS_MAX];
    size_t ntok;
    /* Arguments, valid when their bit is set. ttl values are the raw
     * protocol numbers (int32, negative = already expired, > 30 days =
     * absolute unix time) for the server to convert as for exptime. */
    int32_t ttl;         /* T */
    int32_t vivify_ttl;  /* N */
    int32_t recache_ttl; /* R */
    uint64_t cas;        /* C */
    uint32_t client_flags; /* F (0 when absent) */
    char mode_char;      /* M: the raw character, 0 when absent */
    meta_mode_e mode;    /* M, checked for ms / ma */
    uint64_t delta;      /* D; 1 when absent on ma */
    uint64_t initial;    /* J; 0 when absent */
    const char *opaque;  /* O token including the 'O', NULL when absent */
    size_t nopaque;
    bool noreply;        /* q */
    size_t datalen;      /* ms: value bytes that follow the line */
    /* META_PARSE_EREPLY: reply line (static, no "\r\n") and bytes of data
     * to discard after the line. */
    const char *error;
    size_t swallow;
} meta_request_t;

/*
 * Parses one meta command line: line[0..len) is text_request_t.args of a
 * TEXT_CMD_META request (no line ending). keybuf must hold
 * META_KEY_BIN_MAX bytes; it receives the decoded key for flag b (and is
 * left alone otherwise). Fills *req (zeroed first) and returns
 * META_PARSE_OK, or META_PARSE_EREPLY with req->error / req->swallow set as
 * memcached 1.6.18 would answer (see the table at the top of this file).
 * req->cmd is set on both. Never reads outside line[0..len), never
 * allocates. Work: O(len).
 */
meta_parse_status_e meta_parse(const char *line, size_t len, char *keybuf,
                               meta_request_t *req);

typedef enum meta_data_status {
    META_DATA_OK = 0,   /* buf[0..datalen) is the value, "\r\n" follows */
    META_DATA_EUNFIN,   /* fewer than datalen + 2 bytes: read more */
    META_DATA_EBADCHUNK /* no "\r\n" after the value: reply "CLIENT_ERROR
                           bad data chunk" (even with q), consume
                           datalen + 2 bytes, store nothing */
} meta_data_status_e;

/* The ms (and text storage) data-block rule. Work: O(1). */
meta_data_status_e meta_data_check(const char *buf, size_t len,
                                   size_t datalen);

/* Meta reply codes. */
typedef enum meta_rc {
    META_RC_HD = 0, /* success without value */
    META_RC_VA,     /* success with a value: "VA <len>" */
    META_RC_EN,     /* mg miss */
    META_RC_NF,     /* not found */
    META_RC_NS,     /* not stored */
    META_RC_EX,     /* cas mismatch / exists */
} meta_rc_e;

/* What the server knows about the item when it replies. */
typedef struct meta_item_view {
    const char *key; /* the item's key bytes (binary form when key_binary) */
    size_t nkey;
    bool key_binary;    /* stored with b: 'k' re-encodes it in base64 */
    uint32_t value_len; /* VA <len> and 's' */
    int64_t ttl;        /* 't': seconds left, -1 = never expires */
    uint64_t cas;       /* 'c' (ms: 0 unless stored) */
    uint32_t client_flags; /* 'f' */
    uint32_t last_access;  /* 'l': seconds since last access */
    bool fetched;          /* 'h' */
    bool token_sent;       /* mg: Z */
    bool stale;            /* mg: X */
    bool won;              /* mg: W */
} meta_item_view_t;

/*
 * Writes one reply line ("\r\n" included, no data block) for req with
 * reply code rc into buf (cap bytes), rendering the return flags the table
 * above lists for (req->cmd, rc) in request order. it may be NULL when the
 * reply carries no item (mg EN, md/ma NF/EX/NS, ms anything but a 'c'
 * request): 'k' then prints the request's key (base64 again if
 * req->key_binary) and 'c' prints 0. For mn/me use meta_encode_mn/me.
 * Returns the bytes written, or 0 if cap is too small (META_REPLY_MAX is
 * always enough). Work: O(reply).
 */
size_t meta_encode_reply(char *buf, size_t cap, const meta_request_t *req,
                         meta_rc_e rc, const meta_item_view_t *it);

/* "MN\r\n". Returns 4, or 0 if cap < 4. */
size_t meta_encode_mn(char *buf, size_t cap);

/*
 * The me hit line: "ME <key> exp=<exp> la=<la> cas=<cas> fetch=<yes|no>
 * cls=<cls> size=<size>\r\n", the key base64-encoded when key_binary.
 * memcached prints exp as -1 for no expiry, else (now - exptime), i.e. MINUS
 * the seconds left ("exp=-100" for 100 s to live); pass that number. size
 * is the item's total size in memory. A miss is "EN\r\n"
 * (meta_encode_code()). Returns bytes written or 0 if cap is too small.
 */
size_t meta_encode_me(char *buf, size_t cap, const char *key, size_t nkey,
                      bool key_binary, int64_t exp, uint64_t la,
                      uint64_t cas, bool fetched, unsigned cls,
                      uint64_t size);

/* A bare "<CODE>\r\n" (e.g. "EN\r\n" for an me miss). 0 if cap < 4. */
size_t meta_encode_code(char *buf, size_t cap, meta_rc_e rc);

/*
 * q semantics of memcached 1.6.18: true when the reply must not be sent.
 * mg: EN only (a hit, HD or VA, is sent); ms: HD only; md: HD only;
 * ma: HD or VA, unless the item was just created by N (created = true);
 * mn / me: never. Errors are never suppressed.
 */
bool meta_reply_suppressed(const meta_request_t *req, meta_rc_e rc,
                           bool created);

/*
 * base64 as memcached's base64.c: decode ignores bytes outside the
 * alphabet, needs a multiple of 4 alphabet bytes ('=' counts), stops after
 * the first padded quantum ("YQ==garbage" fails: 11 alphabet bytes;
 * "YQ=a" decodes to "a\0"... see tests), fails with 0 on bad input or when
 * out_cap is too small. encode writes padded base64, no NUL.
 * Return the bytes written, 0 on failure.
 */
size_t meta_base64_decode(const char *src, size_t len, char *out,
                          size_t out_cap);
size_t meta_base64_encode(const char *src, size_t len, char *out,
                          size_t out_cap);

/* Static names, for logs. */
const char *meta_cmd_name(meta_cmd_e cmd);

#endif /* TIERCACHE_PROTO_META_H */
