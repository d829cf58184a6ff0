/*
 * server/proto_meta.c - memcached's meta text protocol: parser and reply
 * encoders. Contract and the verified behaviour table in proto_meta.h.
 *
 * No locks, no globals, no allocation. Numbers follow memcached 1.6.18's
 * safe_strto* rules (proto_num.h), as the text parser's do.
 */
#include "proto_meta.h"
#include "proto_num.h"
#include "proto_text.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

/* memcached's tokenizer keeps 23 tokens plus a terminal one; meta commands
 * refuse ntokens (terminal included) > 20, i.e. 20 or more real tokens. */
#define TOKENS_MAX 23
#define META_TOKENS_LIMIT 20

static const char ERR_ERROR[] = "ERROR";
static const char ERR_FORMAT[] = "CLIENT_ERROR bad command line format";
static const char ERR_DUP[] = "CLIENT_ERROR duplicate flag";
static const char ERR_INVALID[] = "CLIENT_ERROR invalid flag";
static const char ERR_TOKEN[] =
    "CLIENT_ERROR bad token in command line format";
static const char ERR_B64[] = "CLIENT_ERROR error decoding key";
static const char ERR_MLEN[] = "CLIENT_ERROR incorrect length for M token";
static const char ERR_INITIAL[] = "CLIENT_ERROR invalid numeric initial value";
static const char ERR_DELTA[] = "CLIENT_ERROR invalid numeric delta value";
static const char ERR_OPAQUE[] = "CLIENT_ERROR opaque token too long";
static const char ERR_MG_TOOMANY[] =
    "CLIENT_ERROR options flags are too long";
static const char ERR_TOOMANY[] = "CLIENT_ERROR options flags too long";
static const char ERR_INV_DUP[] = "CLIENT_ERROR invalid or duplicate flag";
static const char ERR_MS_MODE[] = "CLIENT_ERROR invalid mode for ms M token";
static const char ERR_MA_MODE[] = "CLIENT_ERROR invalid mode for ma M token";

typedef struct tokens {
    meta_token_t t[TOKENS_MAX];
    size_t n; /* real tokens, at most TOKENS_MAX */
} tokens_t;

/* ------------------------------------------------------------------ */
/* Numbers (memcached safe_strto* on LP64 glibc, bounded by the token). */

/* ------------------------------------------------------------------ */
/* base64, memcached's base64.c behaviour. */

static const char B64_TABLE[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* 0..63, '=' -> 0, anything else -> 0x80 (skipped). */
static unsigned char b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return (unsigned char)(c - 'A');
    }
    if (c >= 'a' && c <= 'z') {
        return (unsigned char)(c - 'a' + 26);
    }
    if (c >= '0' && c <= '9') {
        return (unsigned char)(c - '0' + 52);
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    if (c == '=') {
        return 0;
    }
    return 0x80;
}

size_t meta_base64_decode(const char *src, size_t len, char *out,
                          size_t out_cap)
{
    size_t count = 0;

    for (size_t i = 0; i < len; i++) {
        if (b64_value((unsigned char)src[i]) != 0x80) {
            count++;
        }
    }
    if (count == 0 || count % 4 != 0 || count / 4 * 3 > out_cap ||
        out == NULL) {
        return 0;
    }
    unsigned char block[4];
    size_t pos = 0;
    int pad = 0;
    count = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char v = b64_value((unsigned char)src[i]);
        if (v == 0x80) {
            continue;
        }
        if (src[i] == '=') {
            pad++;
        }
        block[count++] = v;
        if (count == 4) {
            out[pos++] = (char)(unsigned char)((block[0] << 2) |
                                               (block[1] >> 4));
            out[pos++] = (char)(unsigned char)((block[1] << 4) |
                                               (block[2] >> 2));
            out[pos++] = (char)(unsigned char)((block[2] << 6) | block[3]);
            count = 0;
            if (pad) {
                if (pad > 2) {
                    return 0; /* invalid padding */
                }
                pos -= (size_t)pad;
                break;
            }
        }
    }
    return pos;
}

size_t meta_base64_encode(const char *src, size_t len, char *out,
                          size_t out_cap)
{
    const unsigned char *in = (const unsigned char *)src;
    size_t need = (len + 2) / 3 * 4;
    size_t pos = 0;

    if (need > out_cap) {
        return 0;
    }
    while (len >= 3) {
        out[pos++] = B64_TABLE[in[0] >> 2];
        out[pos++] = B64_TABLE[((in[0] & 0x03) << 4) | (in[1] >> 4)];
        out[pos++] = B64_TABLE[((in[1] & 0x0f) << 2) | (in[2] >> 6)];
        out[pos++] = B64_TABLE[in[2] & 0x3f];
        in += 3;
        len -= 3;
    }
    if (len) {
        out[pos++] = B64_TABLE[in[0] >> 2];
        if (len == 1) {
            out[pos++] = B64_TABLE[(in[0] & 0x03) << 4];
            out[pos++] = '=';
        } else {
            out[pos++] = B64_TABLE[((in[0] & 0x03) << 4) | (in[1] >> 4)];
            out[pos++] = B64_TABLE[(in[1] & 0x0f) << 2];
        }
        out[pos++] = '=';
    }
    return pos;
}

/* ------------------------------------------------------------------ */
/* Parsing. */

static void tokenize(const char *p, const char *end, tokens_t *toks)
{
    toks->n = 0;
    while (toks->n < TOKENS_MAX &&
           text_next_token(&p, end, &toks->t[toks->n].p, &toks->t[toks->n].n))
        toks->n++;
}

static meta_parse_status_e ereply(meta_request_t *req, const char *error,
                                  size_t swallow)
{
    req->error = error;
    req->swallow = swallow;
    return META_PARSE_EREPLY;
}

/*
 * memcached's _meta_flag_preparse() over toks->t[first..n): fills req and
 * returns NULL, or the error reply (memcached's errstr, default "bad
 * command line format"). keytok is the key token (decoded for b).
 */
static const char *preparse(const tokens_t *toks, size_t first,
                            const meta_token_t *keytok, char *keybuf,
                            meta_request_t *req)
{
    const char *err = NULL;    /* last deferred error message */
    bool has_error = false;

    for (size_t i = first; i < toks->n; i++) {
        const meta_token_t *t = &toks->t[i];
        unsigned char o = (unsigned char)t->p[0];
        const char *arg = t->p + 1;
        size_t narg = t->n - 1;

        if (o >= 127) {
            return ERR_DUP;
        }
        uint64_t bit = META_FLAG_BIT(o);
        if (bit == 0) {
            return ERR_INVALID; /* non-letter below 127: never a flag */
        }
        if (req->flags & bit) {
            return ERR_DUP;
        }
        req->flags |= bit;
        if (req->ntok < META_FLAGS_MAX) {
            req->tok[req->ntok++] = *t;
        }
        switch (o) {
        case 'b': {
            size_t n = meta_base64_decode(keytok->p, keytok->n, keybuf,
                                          META_KEY_BIN_MAX);
            if (n == 0) {
                err = ERR_B64;
                has_error = true;
            }
            req->key = keybuf;
            req->nkey = n;
            req->key_binary = true;
            break;
        }
        case 'N':
            if (!proto_strtol(arg, narg, &req->vivify_ttl)) {
                err = ERR_TOKEN;
                has_error = true;
            }
            break;
        case 'T':
            if (!proto_strtol(arg, narg, &req->ttl)) {
                err = ERR_TOKEN;
                has_error = true;
            }
            break;
        case 'R':
            if (!proto_strtol(arg, narg, &req->recache_ttl)) {
                err = ERR_TOKEN;
                has_error = true;
            }
            break;
        case 'F':
            if (!proto_strtoul(arg, narg, &req->client_flags)) {
                has_error = true; /* keeps the previous message */
            }
            break;
        case 'C':
            if (!proto_strtoull(arg, narg, &req->cas)) {
                err = ERR_TOKEN;
                has_error = true;
            }
            break;
        case 'M':
            if (t->n != 2) {
                err = ERR_MLEN;
                has_error = true;
            } else {
                req->mode_char = t->p[1];
            }
            break;
        case 'J':
            if (!proto_strtoull(arg, narg, &req->initial)) {
                err = ERR_INITIAL;
                has_error = true;
            }
            break;
        case 'D':
            if (!proto_strtoull(arg, narg, &req->delta)) {
                err = ERR_DELTA;
                has_error = true;
            }
            break;
        case 'O':
            req->opaque = t->p;
            req->nopaque = t->n;
            break;
        case 'q':
            req->noreply = true;
            break;
        case 'P': case 'L': case 'I':
        case 'k': case 's': case 't': case 'c': case 'f':
        case 'v': case 'h': case 'l': case 'u':
            break;
        default:
            return ERR_INVALID;
        }
    }
    if (has_error) {
        return err ? err : ERR_FORMAT;
    }
    return NULL;
}

static bool opaque_too_long(const meta_request_t *req)
{
    return req->opaque != NULL && req->nopaque > META_OPAQUE_MAX;
}

static meta_parse_status_e parse_me(const tokens_t *toks, char *keybuf,
                                    meta_request_t *req)
{
    if (toks->n < 2 || toks->t[1].n > META_KEY_MAX) {
        return ereply(req, ERR_FORMAT, 0);
    }
    req->key = toks->t[1].p;
    req->nkey = toks->t[1].n;
    if (toks->n >= 3 && toks->t[2].n == 1 && toks->t[2].p[0] == 'b') {
        size_t n = meta_base64_decode(toks->t[1].p, toks->t[1].n, keybuf,
                                      META_KEY_BIN_MAX);
        if (n == 0) {
            return ereply(req, ERR_FORMAT, 0);
        }
        req->key = keybuf;
        req->nkey = n;
        req->key_binary = true;
        req->flags |= META_FLAG_BIT('b');
    }
    return META_PARSE_OK;
}

static meta_parse_status_e parse_ms(const tokens_t *toks, char *keybuf,
                                    meta_request_t *req)
{
    int32_t vlen;

    if (toks->n < 2) {
        return ereply(req, ERR_ERROR, 0);
    }
    if (toks->t[1].n > META_KEY_MAX || toks->n == 2) {
        return ereply(req, ERR_FORMAT, 0);
    }
    if (toks->n >= META_TOKENS_LIMIT) {
        return ereply(req, ERR_TOOMANY, 0);
    }
    if (!proto_strtol(toks->t[2].p, toks->t[2].n, &vlen) || vlen < 0 ||
        vlen > INT_MAX - 2) {
        return ereply(req, ERR_FORMAT, 0);
    }
    req->datalen = (size_t)vlen;
    size_t swallow = (size_t)vlen + 2;
    const char *err = preparse(toks, 3, &toks->t[1], keybuf, req);
    if (err) {
        return ereply(req, err, swallow);
    }
    switch (req->mode_char) {
    case 0: req->mode = META_MODE_DEFAULT; break;
    case 'E': req->mode = META_MODE_ADD; break;
    case 'A': req->mode = META_MODE_APPEND; break;
    case 'P': req->mode = META_MODE_PREPEND; break;
    case 'R': req->mode = META_MODE_REPLACE; break;
    case 'S': req->mode = META_MODE_SET; break;
    default: return ereply(req, ERR_MS_MODE, swallow);
    }
    if (opaque_too_long(req)) {
        return ereply(req, ERR_OPAQUE, swallow);
    }
    return META_PARSE_OK;
}

/* mg, md, ma. */
static meta_parse_status_e parse_keyed(const tokens_t *toks, char *keybuf,
                                       meta_request_t *req)
{
    if (toks->n < 2) {
        return ereply(req, ERR_ERROR, 0);
    }
    if (toks->t[1].n > META_KEY_MAX) {
        return ereply(req, ERR_FORMAT, 0);
    }
    if (toks->n >= META_TOKENS_LIMIT) {
        return ereply(req, req->cmd == META_CMD_MG ? ERR_MG_TOOMANY
                                                   : ERR_TOOMANY, 0);
    }
    if (req->cmd == META_CMD_MA) {
        req->delta = 1;
    }
    const char *err = preparse(toks, 2, &toks->t[1], keybuf, req);
    if (err) {
        return ereply(req, req->cmd == META_CMD_MG ? err : ERR_INV_DUP, 0);
    }
    if (req->cmd == META_CMD_MA) {
        switch (req->mode_char) {
        case 0: req->mode = META_MODE_DEFAULT; break;
        case 'I': case '+': req->mode = META_MODE_INCR; break;
        case 'D': case '-': req->mode = META_MODE_DECR; break;
        default: return ereply(req, ERR_MA_MODE, 0);
        }
    }
    if (opaque_too_long(req)) {
        return ereply(req, ERR_OPAQUE, 0);
    }
    return META_PARSE_OK;
}

meta_parse_status_e meta_parse(const char *line, size_t len, char *keybuf,
                               meta_request_t *req)
{
    tokens_t toks;

    memset(req, 0, sizeof(*req));
    tokenize(line, line + len, &toks);
    if (toks.n < 1 || toks.t[0].n != 2 || toks.t[0].p[0] != 'm') {
        req->cmd = META_CMD_NONE;
        return ereply(req, ERR_ERROR, 0);
    }
    if (toks.n >= 2) {
        req->key = toks.t[1].p;
        req->nkey = toks.t[1].n;
    }
    switch (toks.t[0].p[1]) {
    case 'n':
        req->cmd = META_CMD_MN;
        req->key = NULL;
        req->nkey = 0;
        return META_PARSE_OK;
    case 'e':
        req->cmd = META_CMD_ME;
        return parse_me(&toks, keybuf, req);
    case 's':
        req->cmd = META_CMD_MS;
        return parse_ms(&toks, keybuf, req);
    case 'g':
        req->cmd = META_CMD_MG;
        return parse_keyed(&toks, keybuf, req);
    case 'd':
        req->cmd = META_CMD_MD;
        return parse_keyed(&toks, keybuf, req);
    case 'a':
        req->cmd = META_CMD_MA;
        return parse_keyed(&toks, keybuf, req);
    default:
        return ereply(req, ERR_ERROR, 0);
    }
}

meta_data_status_e meta_data_check(const char *buf, size_t len,
                                   size_t datalen)
{
    if (datalen > SIZE_MAX - 2 || len < datalen + 2) {
        return META_DATA_EUNFIN;
    }
    if (buf[datalen] != '\r' || buf[datalen + 1] != '\n') {
        return META_DATA_EBADCHUNK;
    }
    return META_DATA_OK;
}

/* ------------------------------------------------------------------ */
/* Encoders. */

typedef struct out {
    char *p;
    size_t cap;
    size_t n;
    bool overflow;
} out_t;

static void put(out_t *o, const char *s, size_t n)
{
    if (o->overflow || n > o->cap - o->n) {
        o->overflow = true;
        return;
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
}

static void put_c(out_t *o, char c)
{
    put(o, &c, 1);
}

static void put_u64(out_t *o, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);

    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(o, tmp + i, sizeof(tmp) - i);
}

static void put_i64(out_t *o, int64_t v)
{
    if (v < 0) {
        put_c(o, '-');
        put_u64(o, (uint64_t)0 - (uint64_t)v);
    } else {
        put_u64(o, (uint64_t)v);
    }
}

static void put_key(out_t *o, const char *key, size_t nkey, bool binary)
{
    if (!binary) {
        put(o, key, nkey);
        return;
    }
    char enc[META_KEY_MAX + 8];
    size_t n = meta_base64_encode(key, nkey, enc, sizeof(enc));
    if (n == 0 && nkey != 0) {
        o->overflow = true;
        return;
    }
    put(o, enc, n);
}

static const char *rc_text(meta_rc_e rc)
{
    switch (rc) {
    case META_RC_HD: return "HD";
    case META_RC_VA: return "VA";
    case META_RC_EN: return "EN";
    case META_RC_NF: return "NF";
    case META_RC_NS: return "NS";
    case META_RC_EX: return "EX";
    }
    return "SERVER_ERROR";
}

static size_t finish(out_t *o)
{
    put(o, "\r\n", 2);
    return o->overflow ? 0 : o->n;
}

size_t meta_encode_reply(char *buf, size_t cap, const meta_request_t *req,
                         meta_rc_e rc, const meta_item_view_t *it)
{
    out_t o = {buf, cap, 0, false};
    bool item_reply = it != NULL &&
        (rc == META_RC_HD || rc == META_RC_VA);
    /* Which letters this (command, code) renders besides O and k. */
    const char *extra = "";

    switch (req->cmd) {
    case META_CMD_MG:
        extra = item_reply ? "stcflh" : "";
        break;
    case META_CMD_MS:
        extra = "c";
        break;
    case META_CMD_MA:
        extra = item_reply ? "ct" : "";
        break;
    default:
        break;
    }

    put(&o, rc_text(rc), 2);
    if (rc == META_RC_VA) {
        put_c(&o, ' ');
        put_u64(&o, it ? it->value_len : 0);
    }
    for (size_t i = 0; i < req->ntok; i++) {
        char f = req->tok[i].p[0];
        if (f == 'O') {
            put_c(&o, ' ');
            put(&o, req->tok[i].p, req->tok[i].n);
            continue;
        }
        if (f == 'k') {
            put(&o, " k", 2);
            if (it) {
                put_key(&o, it->key, it->nkey, it->key_binary);
                if (it->key_binary) {
                    put(&o, " b", 2);
                }
            } else {
                put_key(&o, req->key, req->nkey, req->key_binary);
                if (req->key_binary) {
                    put(&o, " b", 2);
                }
            }
            continue;
        }
        if (strchr(extra, f) == NULL || f == '\0') {
            continue;
        }
        put_c(&o, ' ');
        put_c(&o, f);
        switch (f) {
        case 's': put_u64(&o, it->value_len); break;
        case 't': put_i64(&o, it->ttl); break;
        case 'c': put_u64(&o, it ? it->cas : 0); break;
        case 'f': put_u64(&o, it->client_flags); break;
        case 'l': put_u64(&o, it->last_access); break;
        case 'h': put_c(&o, it->fetched ? '1' : '0'); break;
        default: break;
        }
    }
    if (req->cmd == META_CMD_MG && item_reply) {
        if (it->token_sent) {
            put(&o, " Z", 2);
        }
        if (it->stale) {
            put(&o, " X", 2);
        }
        if (it->won) {
            put(&o, " W", 2);
        }
    }
    return finish(&o);
}

size_t meta_encode_mn(char *buf, size_t cap)
{
    out_t o = {buf, cap, 0, false};
    put(&o, "MN", 2);
    return finish(&o);
}

size_t meta_encode_code(char *buf, size_t cap, meta_rc_e rc)
{
    out_t o = {buf, cap, 0, false};
    put(&o, rc_text(rc), 2);
    return finish(&o);
}

size_t meta_encode_me(char *buf, size_t cap, const char *key, size_t nkey,
                      bool key_binary, int64_t exp, uint64_t la,
                      uint64_t cas, bool fetched, unsigned cls,
                      uint64_t size)
{
    out_t o = {buf, cap, 0, false};

    put(&o, "ME ", 3);
    put_key(&o, key, nkey, key_binary);
    put(&o, " exp=", 5);
    put_i64(&o, exp);
    put(&o, " la=", 4);
    put_u64(&o, la);
    put(&o, " cas=", 5);
    put_u64(&o, cas);
    put(&o, fetched ? " fetch=yes" : " fetch=no", fetched ? 10 : 9);
    put(&o, " cls=", 5);
    put_u64(&o, cls);
    put(&o, " size=", 6);
    put_u64(&o, size);
    return finish(&o);
}

bool meta_reply_suppressed(const meta_request_t *req, meta_rc_e rc,
                           bool created)
{
    if (!req->noreply) {
        return false;
    }
    switch (req->cmd) {
    case META_CMD_MG: return rc == META_RC_EN;
    case META_CMD_MS:
    case META_CMD_MD: return rc == META_RC_HD;
    case META_CMD_MA:
        return (rc == META_RC_HD || rc == META_RC_VA) && !created;
    default: return false;
    }
}

const char *meta_cmd_name(meta_cmd_e cmd)
{
    switch (cmd) {
    case META_CMD_NONE: return "none";
    case META_CMD_MN: return "mn";
    case META_CMD_MG: return "mg";
    case META_CMD_MS: return "ms";
    case META_CMD_MD: return "md";
    case META_CMD_MA: return "ma";
    case META_CMD_ME: return "me";
    }
    return "unknown";
}
