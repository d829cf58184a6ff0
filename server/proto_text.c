/*
 * server/proto_text.c - memcached's classic text protocol: a pure parser.
 *
 * Contract in proto_text.h. Every branch below names the memcached 1.6.18
 * behaviour it reproduces; each was checked against the running Debian
 * memcached 1.6.18 (see /work/notes/proto-findings.md for the transcripts).
 *
 * No locks, no globals, no allocation: the tokenizer keeps at most
 * TOKENS_MAX (ptr, len) pairs on the stack.
 */
#include "proto_text.h"
#include "proto_num.h"

#include <limits.h>
#include <string.h>

/* memcached's MAX_TOKENS is 24 including its terminal token: it splits at
 * most 23 tokens off a line and leaves the rest for multi-get. */
#define TOKENS_MAX 23

/* memcached's try_read_command_ascii() skips at most 100 leading spaces
 * before it looks for "get "/"gets " in an over-long line. */
#define GET_PREFIX_SPACES_MAX 100

static const char ERR_ERROR[] = "ERROR";
static const char ERR_FORMAT[] = "CLIENT_ERROR bad command line format";
static const char ERR_DELTA[] = "CLIENT_ERROR invalid numeric delta argument";
static const char ERR_EXPTIME[] = "CLIENT_ERROR invalid exptime argument";
static const char ERR_DELETE[] =
    "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]";

typedef struct token {
    const char *p;
    size_t n;
} token_t;

typedef struct tokens {
    token_t t[TOKENS_MAX];
    /* memcached's ntokens minus its terminal token: min(real, 23). */
    size_t n;
} tokens_t;

/* ------------------------------------------------------------------ */
/* Numbers: memcached's safe_strto* on 64-bit glibc, bounded by the token. */

/* memcached's safe_strto* rules (proto_num.h) on a token. */
static bool safe_strtoull(const token_t *tok, uint64_t *out)
{
    return proto_strtoull(tok->p, tok->n, out);
}

static bool safe_strtoul(const token_t *tok, uint32_t *out)
{
    return proto_strtoul(tok->p, tok->n, out);
}

static bool safe_strtol(const token_t *tok, int32_t *out)
{
    return proto_strtol(tok->p, tok->n, out);
}

/* ------------------------------------------------------------------ */
/* Lines and tokens. */

static bool tok_is(const token_t *tok, const char *s)
{
    size_t n = strlen(s);
    return tok->n == n && memcmp(tok->p, s, n) == 0;
}

static bool has_prefix(const char *p, size_t n, const char *s)
{
    size_t sn = strlen(s);
    return n >= sn && memcmp(p, s, sn) == 0;
}

/*
 * memcached's tokenize_command(): split on ' ' only, empty tokens skipped,
 * at most 23 tokens. Work: O(bytes up to the 23rd token).
 */
static void tokenize(const char *p, const char *end, tokens_t *toks)
{
    toks->n = 0;
    while (toks->n < TOKENS_MAX &&
           text_next_token(&p, end, &toks->t[toks->n].p, &toks->t[toks->n].n))
        toks->n++;
}

/*
 * Does an over-long line deserve the multi-get allowance? memcached:
 * skip leading spaces (more than 100 -> close), then "get " or "gets ".
 * We add "gat " and "gats " (see proto_text.h).
 */
static bool is_get_line(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] == ' ') {
        i++;
    }
    if (i > GET_PREFIX_SPACES_MAX) {
        return false;
    }
    p += i;
    n -= i;
    return has_prefix(p, n, "get ") || has_prefix(p, n, "gets ") ||
           has_prefix(p, n, "gat ") || has_prefix(p, n, "gats ");
}

/* The text from the start of token i to the end of the last token. */
static void set_args_from(text_request_t *req, const tokens_t *toks,
                          size_t i, const char *line_end)
{
    if (i >= toks->n) {
        req->args = line_end;
        req->args_len = 0;
        return;
    }
    const char *e = line_end;
    while (e > toks->t[i].p && e[-1] == ' ') {
        e--;
    }
    req->args = toks->t[i].p;
    req->args_len = (size_t)(e - toks->t[i].p);
}

/* memcached's set_noreply_maybe(): the last token is exactly "noreply". */
static bool last_is_noreply(const tokens_t *toks)
{
    return toks->n > 0 && tok_is(&toks->t[toks->n - 1], "noreply");
}

static text_parse_status_e ereply(text_request_t *req, const char *error)
{
    req->error = error;
    req->swallow = 0; /* memcached never swallows after a bad line */
    return TEXT_PARSE_EREPLY;
}

/* ------------------------------------------------------------------ */
/* Commands. toks->n is memcached's `ntokens - 1` in every check below. */

/* process_update_command(): set/add/replace/append/prepend (6 or 7
 * memcached tokens) and cas (7 or 8). */
static text_parse_status_e parse_update(const tokens_t *toks,
                                        text_request_t *req, bool is_cas)
{
    size_t want = is_cas ? 6 : 5;
    int32_t exptime;
    int32_t vlen;

    /* WANT_TOKENS_OR: checked before noreply, so "set a 0 0" and
     * "set a 0 0 1 noreply x" answer "ERROR" even with noreply. An extra
     * token that is not "noreply" is ignored: "set a 0 0 1 foo" stores. */
    if (toks->n != want && toks->n != want + 1) {
        return ereply(req, ERR_ERROR);
    }
    req->noreply = last_is_noreply(toks);
    req->key = toks->t[1].p;
    req->nkey = toks->t[1].n;
    /* Key over 250 -> "CLIENT_ERROR bad command line format", no swallow:
     * the data line then answers "ERROR". */
    if (req->nkey > TEXT_KEY_MAX) {
        return ereply(req, ERR_FORMAT);
    }
    /* flags (safe_strtoul), exptime and length (safe_strtol): any failure
     * -> the same CLIENT_ERROR ("set a abc 0 1", "set a -1 0 1",
     * "set a 0 0 abc", "set a 5x 0 1", flags >= 2^64). */
    if (!safe_strtoul(&toks->t[2], &req->flags) ||
        !safe_strtol(&toks->t[3], &exptime) ||
        !safe_strtol(&toks->t[4], &vlen)) {
        return ereply(req, ERR_FORMAT);
    }
    req->exptime = exptime;
    /* cas unique: safe_strtoull ("cas a 0 0 1 abc", "... -1"). */
    if (is_cas && !safe_strtoull(&toks->t[5], &req->cas)) {
        return ereply(req, ERR_FORMAT);
    }
    /* vlen < 0 || vlen > INT_MAX - 2 -> CLIENT_ERROR ("set a 0 0 -1",
     * "set a 0 0 2147483646"). */
    if (vlen < 0 || vlen > INT_MAX - 2) {
        return ereply(req, ERR_FORMAT);
    }
    req->nbytes = (size_t)vlen;
    return TEXT_PARSE_OK;
}

/* process_get_command(): get/gets/bget need a key, gat/gats an exptime. */
static text_parse_status_e parse_get(const tokens_t *toks,
                                     text_request_t *req, bool touch,
                                     const char *line_end)
{
    /* WANT_TOKENS_MIN(ntokens, 3) is done by the caller ("get" -> ERROR). */
    if (touch) {
        int32_t exptime;
        /* "gat abc k" -> "CLIENT_ERROR invalid exptime argument". */
        if (!safe_strtol(&toks->t[1], &exptime)) {
            return ereply(req, ERR_EXPTIME);
        }
        req->exptime = exptime;
        /* keys start after the exptime token; "gat 10" has none and
         * memcached answers just "END". */
        req->keys = toks->t[1].p + toks->t[1].n;
    } else {
        req->keys = toks->t[0].p + toks->t[0].n;
    }
    req->keys_len = (size_t)(line_end - req->keys);
    return TEXT_PARSE_OK;
}

/* process_touch_command(): 4 or 5 memcached tokens. */
static text_parse_status_e parse_touch(const tokens_t *toks,
                                       text_request_t *req)
{
    int32_t exptime;

    if (toks->n != 3 && toks->n != 4) {
        return ereply(req, ERR_ERROR); /* "touch k" */
    }
    req->noreply = last_is_noreply(toks);
    req->key = toks->t[1].p;
    req->nkey = toks->t[1].n;
    if (req->nkey > TEXT_KEY_MAX) {
        return ereply(req, ERR_FORMAT); /* key checked before exptime */
    }
    if (!safe_strtol(&toks->t[2], &exptime)) {
        return ereply(req, ERR_EXPTIME); /* "touch k abc" */
    }
    req->exptime = exptime;
    return TEXT_PARSE_OK;
}

/* process_arithmetic_command(): 4 or 5 memcached tokens. */
static text_parse_status_e parse_arith(const tokens_t *toks,
                                       text_request_t *req)
{
    if (toks->n != 3 && toks->n != 4) {
        return ereply(req, ERR_ERROR); /* "incr k", "incr k 1 noreply x" */
    }
    req->noreply = last_is_noreply(toks);
    req->key = toks->t[1].p;
    req->nkey = toks->t[1].n;
    if (req->nkey > TEXT_KEY_MAX) {
        return ereply(req, ERR_FORMAT); /* key checked before delta */
    }
    if (!safe_strtoull(&toks->t[2], &req->delta)) {
        return ereply(req, ERR_DELTA); /* "incr k abc", "incr k -1" */
    }
    return TEXT_PARSE_OK;
}

/* process_delete_command(): 3..5 memcached tokens. */
static text_parse_status_e parse_delete(const tokens_t *toks,
                                        text_request_t *req)
{
    if (toks->n < 2 || toks->n > 4) {
        return ereply(req, ERR_ERROR); /* "delete", "delete k 0 noreply x" */
    }
    if (toks->n > 2) {
        /* Only a hold time of exactly "0" is allowed (legacy), and
         * noreply is looked for only here, so its error is suppressed by
         * noreply: "delete k 1 noreply" sends nothing, while
         * "delete k noreply 0" sends the usage error. */
        bool hold_is_zero = tok_is(&toks->t[2], "0");
        req->noreply = last_is_noreply(toks);
        bool valid = (toks->n == 3 && (hold_is_zero || req->noreply)) ||
                     (toks->n == 4 && hold_is_zero && req->noreply);
        if (!valid) {
            return ereply(req, ERR_DELETE);
        }
    }
    req->key = toks->t[1].p;
    req->nkey = toks->t[1].n;
    if (req->nkey > TEXT_KEY_MAX) {
        return ereply(req, ERR_FORMAT); /* checked after the usage check */
    }
    return TEXT_PARSE_OK;
}

/* process_flush_all_command(): 2..4 memcached tokens. */
static text_parse_status_e parse_flush_all(const tokens_t *toks,
                                           text_request_t *req)
{
    if (toks->n > 3) {
        return ereply(req, ERR_ERROR); /* "flush_all 1 2 3" */
    }
    req->noreply = last_is_noreply(toks);
    /* A delay is parsed unless the line is exactly "flush_all [noreply]":
     * "flush_all 10 foo" -> OK with delay 10, "flush_all noreply foo" ->
     * invalid exptime. (memcached checks -F, "CLIENT_ERROR flush_all not
     * allowed", before this: the server must do the same first.) */
    if (toks->n != (req->noreply ? 2u : 1u)) {
        int32_t delay;
        if (!safe_strtol(&toks->t[1], &delay)) {
            return ereply(req, ERR_EXPTIME); /* "flush_all abc" */
        }
        req->delay = delay;
    }
    return TEXT_PARSE_OK;
}

/* process_verbosity_command(): 3 or 4 memcached tokens. */
static text_parse_status_e parse_verbosity(const tokens_t *toks,
                                           text_request_t *req)
{
    uint32_t level;

    if (toks->n != 2 && toks->n != 3) {
        return ereply(req, ERR_ERROR); /* "verbosity", "verbosity 1 2 3" */
    }
    /* "verbosity noreply": noreply is set, then "noreply" fails to parse
     * and the error is suppressed. */
    req->noreply = last_is_noreply(toks);
    if (!safe_strtoul(&toks->t[1], &level)) {
        return ereply(req, ERR_FORMAT); /* "verbosity abc", "... -1" */
    }
    req->verbosity = level;
    return TEXT_PARSE_OK;
}

/* memcached's HTTP guard: an unknown command whose last token (the 23rd
 * when there are more) starts with "HTTP/" closes the connection. */
static text_parse_status_e unknown_command(const tokens_t *toks,
                                           text_request_t *req)
{
    if (has_prefix(toks->t[toks->n - 1].p, toks->t[toks->n - 1].n,
                   "HTTP/")) {
        return TEXT_PARSE_ECLOSE;
    }
    return ereply(req, ERR_ERROR);
}

static text_parse_status_e admin(text_request_t *req, const char *line,
                                 const char *line_end)
{
    req->cmd = TEXT_CMD_ADMIN;
    req->args = line;
    req->args_len = (size_t)(line_end - line);
    return TEXT_PARSE_OK;
}

/* process_command_ascii(): the dispatch, in memcached's order (the order
 * matters only for which unknown commands get the HTTP guard). */
static text_parse_status_e dispatch(const tokens_t *toks, text_request_t *req,
                                    const char *line, const char *line_end)
{
    /* "", "   ", "x": fewer than two tokens or a 1-byte command. */
    if (toks->n < 1 || toks->t[0].n < 2) {
        return ereply(req, ERR_ERROR);
    }
    const token_t *c = &toks->t[0];
    char first = c->p[0];

    if (first == 'm' && c->n == 2) {
        switch (c->p[1]) {
        case 'g': case 's': case 'd': case 'n': case 'a': case 'e':
            req->cmd = TEXT_CMD_META;
            req->args = line;
            req->args_len = (size_t)(line_end - line);
            return TEXT_PARSE_OK;
        default:
            return ereply(req, ERR_ERROR); /* "mx" */
        }
    }
    if (first == 'g') {
        /* WANT_TOKENS_MIN(3) before the name: "get", "gets", "gat". */
        if (toks->n < 2) {
            return ereply(req, ERR_ERROR);
        }
        if (tok_is(c, "get")) {
            req->cmd = TEXT_CMD_GET;
            return parse_get(toks, req, false, line_end);
        }
        if (tok_is(c, "gets")) {
            req->cmd = TEXT_CMD_GETS;
            return parse_get(toks, req, false, line_end);
        }
        if (tok_is(c, "gat")) {
            req->cmd = TEXT_CMD_GAT;
            return parse_get(toks, req, true, line_end);
        }
        if (tok_is(c, "gats")) {
            req->cmd = TEXT_CMD_GATS;
            return parse_get(toks, req, true, line_end);
        }
        return ereply(req, ERR_ERROR); /* no HTTP guard for 'g...' */
    }
    if (first == 's') {
        if (tok_is(c, "set")) {
            req->cmd = TEXT_CMD_SET;
            return parse_update(toks, req, false);
        }
        if (tok_is(c, "stats")) {
            req->cmd = TEXT_CMD_STATS;
            set_args_from(req, toks, 1, line_end);
            return TEXT_PARSE_OK;
        }
        if (tok_is(c, "shutdown")) {
            req->cmd = TEXT_CMD_SHUTDOWN;
            set_args_from(req, toks, 1, line_end);
            return TEXT_PARSE_OK;
        }
        if (tok_is(c, "slabs")) {
            return admin(req, line, line_end);
        }
        return ereply(req, ERR_ERROR);
    }
    if (first == 'a') {
        if (tok_is(c, "add")) {
            req->cmd = TEXT_CMD_ADD;
            return parse_update(toks, req, false);
        }
        if (tok_is(c, "append")) {
            req->cmd = TEXT_CMD_APPEND;
            return parse_update(toks, req, false);
        }
        return ereply(req, ERR_ERROR);
    }
    if (first == 'c') {
        if (tok_is(c, "cas")) {
            req->cmd = TEXT_CMD_CAS;
            return parse_update(toks, req, true);
        }
        if (tok_is(c, "cache_memlimit")) {
            /* WANT_TOKENS_OR(3, 4): "cache_memlimit" -> ERROR. */
            if (toks->n != 2 && toks->n != 3) {
                return ereply(req, ERR_ERROR);
            }
            return admin(req, line, line_end);
        }
        return ereply(req, ERR_ERROR);
    }
    if (first == 'i') {
        if (tok_is(c, "incr")) {
            req->cmd = TEXT_CMD_INCR;
            return parse_arith(toks, req);
        }
        return ereply(req, ERR_ERROR);
    }
    if (first == 'd') {
        if (tok_is(c, "delete")) {
            req->cmd = TEXT_CMD_DELETE;
            return parse_delete(toks, req);
        }
        if (tok_is(c, "decr")) {
            req->cmd = TEXT_CMD_DECR;
            return parse_arith(toks, req);
        }
        /* "debugtime" exists only in MEMCACHED_DEBUG builds; Debian's
         * 1.6.18 answers "ERROR". */
        return ereply(req, ERR_ERROR);
    }
    if (first == 't') {
        if (tok_is(c, "touch")) {
            req->cmd = TEXT_CMD_TOUCH;
            return parse_touch(toks, req);
        }
        return ereply(req, ERR_ERROR);
    }
    if (tok_is(c, "replace")) {
        req->cmd = TEXT_CMD_REPLACE;
        return parse_update(toks, req, false);
    }
    if (tok_is(c, "prepend")) {
        req->cmd = TEXT_CMD_PREPEND;
        return parse_update(toks, req, false);
    }
    if (tok_is(c, "bget")) {
        /* Ancient alias of get, still served by 1.6.18 ("bget a" -> END). */
        if (toks->n < 2) {
            return ereply(req, ERR_ERROR);
        }
        req->cmd = TEXT_CMD_GET;
        return parse_get(toks, req, false, line_end);
    }
    if (tok_is(c, "flush_all")) {
        req->cmd = TEXT_CMD_FLUSH_ALL;
        return parse_flush_all(toks, req);
    }
    if (tok_is(c, "version")) {
        req->cmd = TEXT_CMD_VERSION; /* "version foo bar" -> VERSION */
        return TEXT_PARSE_OK;
    }
    if (tok_is(c, "quit")) {
        req->cmd = TEXT_CMD_QUIT; /* "quit foo" closes too */
        return TEXT_PARSE_OK;
    }
    if (tok_is(c, "lru_crawler")) {
        req->cmd = TEXT_CMD_LRU_CRAWLER; /* "lru_crawler" -> ERROR: server */
        set_args_from(req, toks, 1, line_end);
        return TEXT_PARSE_OK;
    }
    if (tok_is(c, "watch") || tok_is(c, "refresh_certs")) {
        /* refresh_certs: Debian's build has TLS and answers
         * "Error TLS not enabled" when TLS is off. */
        return admin(req, line, line_end);
    }
    if (tok_is(c, "verbosity")) {
        req->cmd = TEXT_CMD_VERBOSITY;
        return parse_verbosity(toks, req);
    }
    if (tok_is(c, "lru") || tok_is(c, "extstore")) {
        /* WANT_TOKENS_MIN(3): "lru", "extstore" -> ERROR. */
        if (toks->n < 2) {
            return ereply(req, ERR_ERROR);
        }
        return admin(req, line, line_end);
    }
    /* "misbehave" is MEMCACHED_DEBUG only: unknown in Debian's build. */
    return unknown_command(toks, req);
}

/* ------------------------------------------------------------------ */

text_parse_status_e text_parse(const char *buf, size_t len,
                               const text_limits_t *limits,
                               text_request_t *req, size_t *consumed)
{
    size_t line_max = limits ? limits->line_max : TEXT_LINE_MAX;
    size_t get_line_max = limits ? limits->get_line_max : SIZE_MAX;

    memset(req, 0, sizeof(*req));
    *consumed = 0;

    /* Look for "\n" only as far as the largest limit allows, so a huge
     * buffer of junk costs O(limit), not O(len). */
    size_t scan = len;
    size_t limit_any = line_max > get_line_max ? line_max : get_line_max;
    if (limit_any < TEXT_LINE_WHOLE_MAX) {
        limit_any = TEXT_LINE_WHOLE_MAX;
    }
    if (limit_any < SIZE_MAX && scan > limit_any + 1) {
        scan = limit_any + 1;
    }
    const char *nl = memchr(buf, '\n', scan);
    size_t line_len = nl ? (size_t)(nl - buf) : len;

    if (line_len > line_max) {
        /* try_read_command_ascii(): over-long lines close the connection
         * unless they are multi-gets. Both the complete line and any
         * prefix longer than the limit give ETOOLONG. */
        size_t probe = line_len < len ? line_len : len;
        bool whole = nl != NULL && line_len <= TEXT_LINE_WHOLE_MAX;
        if (is_get_line(buf, probe) ? line_len > get_line_max : !whole) {
            return TEXT_PARSE_ETOOLONG;
        }
    }
    if (!nl) {
        return TEXT_PARSE_EUNFIN;
    }

    const char *end = nl;
    /* One "\r" is dropped, and only when the line has more than one byte:
     * memcached's `(el - c->rcurr) > 1 && *(el - 1) == '\r'`. ("\r\n"
     * alone stays "\r" and answers ERROR like an empty line.) */
    if (end - buf > 1 && end[-1] == '\r') {
        end--;
    }
    /* memcached parses the line as a C string: a NUL ends it. */
    const char *nul = memchr(buf, '\0', (size_t)(end - buf));
    if (nul) {
        end = nul;
    }

    tokens_t toks;
    tokenize(buf, end, &toks);
    text_parse_status_e st = dispatch(&toks, req, buf, end);
    *consumed = (size_t)(nl - buf) + 1;
    return st;
}

text_key_status_e text_next_key(const char **cursor, const char *end,
                                const char **key, size_t *nkey)
{
    const char *tok;
    size_t ntok;

    if (!text_next_token(cursor, end, &tok, &ntok)) {
        return TEXT_KEY_END;
    }
    *key = tok;
    *nkey = ntok;
    /* process_get_command(): nkey > KEY_MAX_LENGTH fails the whole get. */
    return ntok > TEXT_KEY_MAX ? TEXT_KEY_ETOOLONG : TEXT_KEY_OK;
}

bool text_next_token(const char **cursor, const char *end,
                     const char **tok, size_t *ntok)
{
    const char *p = *cursor;

    while (p < end && *p == ' ') {
        p++;
    }
    if (p == end) {
        *cursor = p;
        return false;
    }
    const char *s = p;
    while (p < end && *p != ' ') {
        p++;
    }
    *tok = s;
    *ntok = (size_t)(p - s);
    while (p < end && *p == ' ') {
        p++;
    }
    *cursor = p;
    return true;
}

const char *text_cmd_name(text_cmd_e cmd)
{
    switch (cmd) {
    case TEXT_CMD_NONE: return "none";
    case TEXT_CMD_GET: return "get";
    case TEXT_CMD_GETS: return "gets";
    case TEXT_CMD_GAT: return "gat";
    case TEXT_CMD_GATS: return "gats";
    case TEXT_CMD_SET: return "set";
    case TEXT_CMD_ADD: return "add";
    case TEXT_CMD_REPLACE: return "replace";
    case TEXT_CMD_APPEND: return "append";
    case TEXT_CMD_PREPEND: return "prepend";
    case TEXT_CMD_CAS: return "cas";
    case TEXT_CMD_INCR: return "incr";
    case TEXT_CMD_DECR: return "decr";
    case TEXT_CMD_TOUCH: return "touch";
    case TEXT_CMD_DELETE: return "delete";
    case TEXT_CMD_FLUSH_ALL: return "flush_all";
    case TEXT_CMD_VERSION: return "version";
    case TEXT_CMD_VERBOSITY: return "verbosity";
    case TEXT_CMD_QUIT: return "quit";
    case TEXT_CMD_SHUTDOWN: return "shutdown";
    case TEXT_CMD_STATS: return "stats";
    case TEXT_CMD_LRU_CRAWLER: return "lru_crawler";
    case TEXT_CMD_ADMIN: return "admin";
    case TEXT_CMD_META: return "meta";
    }
    return "unknown";
}

const char *text_parse_strerror(text_parse_status_e status)
{
    switch (status) {
    case TEXT_PARSE_OK: return "ok";
    case TEXT_PARSE_EUNFIN: return "incomplete line";
    case TEXT_PARSE_ETOOLONG: return "line too long";
    case TEXT_PARSE_EREPLY: return "bad command line";
    case TEXT_PARSE_ECLOSE: return "close connection (HTTP request)";
    }
    return "unknown status";
}
