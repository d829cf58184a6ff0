/*
 * server/proto_text.h - memcached's classic text protocol: a pure parser.
 *
 * Bytes in, request out. The parser never allocates, never blocks, keeps no
 * state between calls, and never reads past `len`. A request's string fields
 * point into the caller's buffer and stay valid only while those bytes do.
 * "Need more bytes" is a status (TEXT_PARSE_EUNFIN), so a caller may feed a
 * command split at any byte and call again when more has arrived.
 *
 * Lines end with "\n"; one "\r" before it is dropped (only one: in
 * "get a\r\r\n" the key is "a\r", as in memcached). Tokens are separated by
 * one or more spaces (only ' ': a tab is part of a token, "get\ta" is an
 * unknown command), as memcached's tokenizer does; leading and trailing
 * spaces are accepted. Commands are case sensitive ("GET a" -> "ERROR").
 * A NUL byte ends the line early, as memcached parses the line as a C string:
 * "get a\0junk\r\n" is "get a" (the whole line up to "\n" is consumed).
 *
 * The data block of a storage command (<nbytes> bytes then "\r\n") is NOT
 * parsed here: TEXT_PARSE_OK for set/add/... consumes the command line only;
 * the caller then reads req.nbytes + 2 bytes itself. memcached 1.6.18 reads
 * exactly nbytes + 2 bytes; if they do not end in "\r\n" it replies
 * "CLIENT_ERROR bad data chunk" (suppressed by noreply), stores nothing, and
 * parses the next command right after those nbytes + 2 bytes (so
 * "set a 0 0 1\r\nxy\r\n" gives "CLIENT_ERROR bad data chunk\r\nERROR\r\n",
 * the ERROR being for the empty line "\n").
 *
 * noreply (set/add/replace/append/prepend/cas/incr/decr/touch/delete/
 * flush_all/verbosity): memcached suppresses EVERY reply of such a command,
 * errors included ("set a abc 0 1 noreply" sends nothing; the data line that
 * follows is then parsed as a command and gets "ERROR"; "SERVER_ERROR object
 * too large for cache" and "CLIENT_ERROR bad data chunk" are suppressed
 * too). Only wrong token counts are reported despite noreply, because
 * memcached checks them before it looks for "noreply"
 * ("set a 0 0 1 noreply x" -> "ERROR"). req->noreply is set accordingly on
 * TEXT_PARSE_OK and on TEXT_PARSE_EREPLY. "noreply" must be the last token,
 * spelled exactly ("noreply\t" is not it).
 *
 * Swallowing: memcached swallows the data block only when the server refuses
 * a well-formed storage line (too large, out of memory): that is the
 * caller's decision (swallow req->nbytes + 2 bytes, then send the error, as
 * memcached writes it after the swallow). A malformed storage line is NOT
 * swallowed: req->swallow is always 0 from this parser, and the data line
 * is parsed as the next command (usually "ERROR").
 */
#ifndef TIERCACHE_PROTO_TEXT_H
#define TIERCACHE_PROTO_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* memcached closes a connection whose first 2048 bytes hold no "\n" unless
 * the line is a get/gets (multi-gets are long): precisely, when more than
 * 2048 bytes are buffered without "\n" and the buffer, after at most 100
 * leading spaces, does not start with "get " or "gets " (memcached 1.6.18
 * also closes long gat/gats lines; we let them use get_line_max, see
 * text_parse). */
#define TEXT_LINE_MAX 2048
/* A complete line (its "\n" already buffered) up to this long is parsed
 * whatever line_max says: memcached answers any line that arrived whole in
 * its 16 KiB read buffer ("ERROR" for junk) and closes only on 2048 bytes
 * without "\n". */
#define TEXT_LINE_WHOLE_MAX 16384
#define TEXT_KEY_MAX 250

typedef enum text_cmd {
    TEXT_CMD_NONE = 0,
    TEXT_CMD_GET,         /* also memcached's undocumented alias "bget" */
    TEXT_CMD_GETS,
    TEXT_CMD_GAT,
    TEXT_CMD_GATS,
    TEXT_CMD_SET,
    TEXT_CMD_ADD,
    TEXT_CMD_REPLACE,
    TEXT_CMD_APPEND,
    TEXT_CMD_PREPEND,
    TEXT_CMD_CAS,
    TEXT_CMD_INCR,
    TEXT_CMD_DECR,
    TEXT_CMD_TOUCH,
    TEXT_CMD_DELETE,
    TEXT_CMD_FLUSH_ALL,
    TEXT_CMD_VERSION,     /* any extra tokens are ignored, as memcached */
    TEXT_CMD_VERBOSITY,
    TEXT_CMD_QUIT,        /* any extra tokens are ignored, as memcached */
    TEXT_CMD_SHUTDOWN,    /* args: the tokens after "shutdown" (may be
                             empty); memcached: "ERROR: shutdown not enabled"
                             without -A, else "" = now, "graceful" = graceful,
                             anything else "CLIENT_ERROR invalid shutdown
                             mode" */
    TEXT_CMD_STATS,       /* args: the text after "stats " (may be empty) */
    TEXT_CMD_LRU_CRAWLER, /* args: the text after "lru_crawler " */
    TEXT_CMD_ADMIN,       /* slabs/lru/cache_memlimit/watch/extstore/
                             refresh_certs: args = line */
    /* Appended: mn/mg/ms/md/ma/me. args = the whole line (without "\r\n");
     * nothing else is checked here. "ms" has a data block: the meta parser
     * must read it. Other two-letter "m?" commands -> "ERROR". */
    TEXT_CMD_META,
} text_cmd_e;

typedef enum text_parse_status {
    TEXT_PARSE_OK = 0,   /* a whole command line parsed into *req */
    TEXT_PARSE_EUNFIN,   /* no complete line yet: read more and call again */
    TEXT_PARSE_ETOOLONG, /* no "\n" within the limit: close the connection */
    TEXT_PARSE_EREPLY,   /* bad line: send req->error + "\r\n" (unless
                            req->noreply), skip *consumed bytes and then
                            req->swallow bytes of data */
    /* Appended: memcached closes the connection without a reply. Happens for
     * an unknown command whose last token starts with "HTTP/" (e.g.
     * "GET / HTTP/1.1"; memcached looks at the 23rd token when the line has
     * more than 23). *consumed is the line's length. */
    TEXT_PARSE_ECLOSE,
} text_parse_status_e;

/* Limits the parser enforces. */
typedef struct text_limits {
    size_t line_max;     /* TEXT_LINE_MAX for ordinary lines */
    size_t get_line_max; /* for get/gets/gat/gats lines (multi-get) */
} text_limits_t;

typedef struct text_request {
    text_cmd_e cmd;
    /* First key of single-key commands (set/.../incr/touch/delete). */
    const char *key;
    size_t nkey;
    /* get/gets/gat/gats: the key list, iterate with text_next_key(). */
    const char *keys;
    size_t keys_len;
    uint32_t flags;     /* storage commands */
    int64_t exptime;    /* storage, touch, gat, gats: raw protocol value */
    size_t nbytes;      /* storage commands: value bytes that follow */
    uint64_t cas;       /* cas command */
    uint64_t delta;     /* incr/decr */
    int64_t delay;      /* flush_all (0 when absent) */
    unsigned verbosity; /* verbosity level */
    bool noreply;
    /* stats / lru_crawler / admin: argument text, not NUL-terminated. */
    const char *args;
    size_t args_len;
    /* TEXT_PARSE_EREPLY: the exact reply line (static string, no "\r\n"),
     * e.g. "ERROR", "CLIENT_ERROR bad command line format". */
    const char *error;
    size_t swallow; /* TEXT_PARSE_EREPLY: data bytes to discard after */
} text_request_t;

/*
 * Parses the command line at the start of buf[0..len). On TEXT_PARSE_OK and
 * TEXT_PARSE_EREPLY sets *consumed to the bytes of the line including its
 * "\n"; on EUNFIN and ETOOLONG *consumed is 0. Replies for EREPLY are
 * memcached 1.6.18's, byte for byte: "ERROR" for an unknown command, an
 * empty line or a wrong token count, "CLIENT_ERROR bad command line format"
 * for bad numbers, negative lengths or keys over 250 bytes, "CLIENT_ERROR
 * invalid numeric delta argument" for a bad incr/decr delta, "CLIENT_ERROR
 * invalid exptime argument" for touch/gat/gats/flush_all, "CLIENT_ERROR bad
 * command line format.  Usage: delete <key> [noreply]" for a delete with a
 * hold time other than "0". /work/notes/proto-findings.md lists every
 * verified case.
 *
 * Numbers are read as memcached 1.6.18 reads them on 64-bit Linux (strtoul/
 * strtol/strtoull, base 10, leading whitespace and one sign accepted, the
 * number may be followed by whitespace and anything else inside its token,
 * "5x" is rejected, a value beyond 64 bits is rejected):
 *   flags   : unsigned 64-bit, then truncated to 32 bits ("4294967296" -> 0);
 *             a negative value is rejected unless it is "-0".
 *   exptime, nbytes, delay: signed 64-bit, then truncated to int32_t
 *             ("99999999999" -> 1215752191, "-4294967295" -> 1); the
 *             request holds the truncated value. nbytes < 0 or
 *             > INT_MAX - 2 after truncation is an error.
 *   cas, delta: unsigned 64-bit; "-N" is rejected only when the result
 *             looks negative as int64 ("-1" rejected, "-0" accepted).
 *
 * Line length: more than limits->line_max bytes (not counting the "\n")
 * without a "\n" yet is TEXT_PARSE_ETOOLONG, unless after at most 100
 * leading spaces the line starts with "get ", "gets ", "gat " or "gats ":
 * then up to limits->get_line_max, complete or not. A complete line (its
 * "\n" in buf) of up to TEXT_LINE_WHOLE_MAX bytes is parsed like any other,
 * as memcached does with a line whose "\n" arrived in the same read (so
 * the result depends on how the bytes were split, as in memcached). The
 * get-prefix check needs line_max >= 106. limits may be NULL: TEXT_LINE_MAX
 * and no bound for get lines.
 *
 * On OK and EREPLY, fields not meaningful for the command are 0 / NULL.
 * Work: O(line length); only the first 23 tokens are looked at (memcached's
 * tokenizer cap), keys of a multi-get are walked later by text_next_key().
 */
text_parse_status_e text_parse(const char *buf, size_t len,
                               const text_limits_t *limits,
                               text_request_t *req, size_t *consumed);

typedef enum text_key_status {
    TEXT_KEY_OK = 0, /* *key / *nkey set to the next key */
    TEXT_KEY_END,    /* no more keys */
    TEXT_KEY_ETOOLONG, /* next key is over TEXT_KEY_MAX bytes */
} text_key_status_e;

/*
 * Iterates the key list of a get-family request: *cursor starts at
 * req->keys and is advanced past each key and its spaces; `end` is
 * req->keys + req->keys_len.
 *
 * On TEXT_KEY_ETOOLONG, *key / *nkey still name the long key and the cursor
 * moves past it. memcached 1.6.18 on a key over 250 bytes anywhere in a
 * get/gets/gat/gats line: the keys before it were already looked up (and,
 * for gat, touched), but their VALUE lines are discarded; the only reply is
 * "CLIENT_ERROR bad command line format\r\n", with no END. memcached even
 * discards every reply still unsent on that connection (e.g. "version\r\n"
 * and "get a <251 bytes>\r\n" in one packet -> only the CLIENT_ERROR), a bug
 * we need not copy. The simplest faithful server: walk all keys once first;
 * if one is too long, reply just the CLIENT_ERROR line.
 * Work: O(key + spaces).
 */
text_key_status_e text_next_key(const char **cursor, const char *end,
                                const char **key, size_t *nkey);

/* A static name for a command ("get", "set", ...), for logs. */
const char *text_cmd_name(text_cmd_e cmd);

/* ---- appended ---- */

/*
 * Like text_next_key() but with no length limit: splits args of stats/
 * lru_crawler/admin/meta/shutdown into space-separated tokens the way
 * memcached's tokenizer does. Returns false (and leaves *tok and *ntok alone)
 * when only spaces remain. Work: O(token + spaces).
 */
bool text_next_token(const char **cursor, const char *end,
                     const char **tok, size_t *ntok);

/* A static description of a parse status, for logs. */
const char *text_parse_strerror(text_parse_status_e status);

#endif /* TIERCACHE_PROTO_TEXT_H */
