/*
 * server/proto_text.h - memcached's classic text protocol: a pure parser.
 *
 * Bytes in, request out. The parser never allocates, never blocks, keeps no
 * state between calls, and never reads past `len`. A request's string fields
 * point into the caller's buffer and stay valid only while those bytes do.
 * "Need more bytes" is a status (TEXT_PARSE_EUNFIN), so a caller may feed a
 * command split at any byte and call again when more has arrived.
 *
 * Lines end with "\n"; a "\r" before it is dropped. Tokens are separated by
 * one or more spaces, as memcached's tokenizer does (trailing spaces are
 * accepted).
 *
 * The data block of a storage command (<nbytes> bytes then "\r\n") is NOT
 * parsed here: TEXT_PARSE_OK for set/add/... consumes the command line only;
 * the caller then reads req.nbytes + 2 bytes itself.
 */
#ifndef TIERCACHE_PROTO_TEXT_H
#define TIERCACHE_PROTO_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* memcached closes a connection whose first 2048 bytes hold no "\n" unless
 * the line is a get/gets (multi-gets are long). */
#define TEXT_LINE_MAX 2048
#define TEXT_KEY_MAX 250

typedef enum text_cmd {
    TEXT_CMD_NONE = 0,
    TEXT_CMD_GET,
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
    TEXT_CMD_VERSION,
    TEXT_CMD_VERBOSITY,
    TEXT_CMD_QUIT,
    TEXT_CMD_SHUTDOWN,
    TEXT_CMD_STATS,       /* args: the text after "stats " (may be empty) */
    TEXT_CMD_LRU_CRAWLER, /* args: the text after "lru_crawler " */
    TEXT_CMD_ADMIN,       /* slabs/lru/cache_memlimit/watch/...: args = line */
} text_cmd_e;

typedef enum text_parse_status {
    TEXT_PARSE_OK = 0,   /* a whole command line parsed into *req */
    TEXT_PARSE_EUNFIN,   /* no complete line yet: read more and call again */
    TEXT_PARSE_ETOOLONG, /* no "\n" within the limit: close the connection */
    TEXT_PARSE_EREPLY,   /* bad line: send req->error + "\r\n" (unless
                            req->noreply), skip *consumed bytes and then
                            req->swallow bytes of data */
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
 * memcached 1.6's, byte for byte: "ERROR" for an unknown command or wrong
 * token count, "CLIENT_ERROR bad command line format" for bad numbers,
 * negative lengths or keys over 250 bytes, "CLIENT_ERROR invalid numeric
 * delta argument" for a bad incr/decr delta, "CLIENT_ERROR bad data chunk"
 * where memcached says so, and so on.
 * Work: O(line length).
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
 */
text_key_status_e text_next_key(const char **cursor, const char *end,
                                const char **key, size_t *nkey);

/* A static name for a command ("get", "set", ...), for logs. */
const char *text_cmd_name(text_cmd_e cmd);

#endif /* TIERCACHE_PROTO_TEXT_H */
