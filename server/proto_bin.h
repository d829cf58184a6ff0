/*
 * server/proto_bin.h - memcached's binary protocol: a pure request parser
 * and response encoders.
 *
 * Bytes in, request out: no allocation, no state between calls, never reads
 * past `len`; "need more bytes" is BIN_PARSE_EUNFIN. Behaviour is Debian's
 * memcached 1.6.18, verified by sending packets with python struct (the
 * transcripts are the literals in tests/unit/server/test_proto_bin.c).
 *
 * Protocol choice: memcached picks the protocol of a connection from its
 * FIRST byte (0x80 = binary, anything else = text) and never switches; a
 * text connection that sends 0x81... just gets "ERROR". Inside a binary
 * connection a header whose magic is not 0x80 closes the connection
 * without a reply (BIN_PARSE_ECLOSE).
 *
 * Header, 24 bytes, all fields big-endian (network order):
 *
 *    0        1        2        3
 *   +--------+--------+--------+--------+
 *   | magic  | opcode |    key length   |   0
 *   +--------+--------+--------+--------+
 *   | extlen | dtype  | vbucket/status  |   4  (request: vbucket,
 *   +--------+--------+--------+--------+           response: status)
 *   |        total body length          |   8  extlen + keylen + value
 *   +--------+--------+--------+--------+
 *   |             opaque                |  12  echoed in the response
 *   +--------+--------+--------+--------+
 *   |               cas                 |  16
 *   |                                   |  20
 *   +--------+--------+--------+--------+
 *   body: extras, key, value (in that order)
 *
 * magic 0x80 request / 0x81 response. Data type and vbucket are ignored
 * (responses carry data type 0).
 *
 * Request extras per opcode (memcached 1.6.18 accepts exactly these; any
 * other shape -> "Invalid arguments" (0x04) and the connection is closed):
 *
 *   opcode                  extras                        key   body
 *   ----------------------  ----------------------------  ----  ---------
 *   get getq getk getkq     none                          > 0   = key
 *   set add replace (+q)    8: flags u32, exptime u32     > 0   >= key + 8
 *   append prepend (+q)     none                          > 0   any
 *   delete deleteq          none                          > 0   = key
 *   incr decr (+q)          20: delta u64, initial u64,   > 0   = key + 20
 *                           exptime u32 (0xffffffff =
 *                           do not create on miss)
 *   quit quitq noop version none                          0     0
 *   flush flushq            none or 4: exptime u32        0     = extras
 *   stat                    none                          group any*
 *   touch gat gatq gatk     4: exptime u32                > 0   any*
 *     gatkq
 *   (* bytes past extras + key are NOT consumed: memcached parses them as
 *      the next header, which then usually has a bad magic and closes.)
 *
 * Before that, for every opcode: keylen + extlen > bodylen -> "Unknown
 * command" (0x81) and close; keylen > 250 -> "Invalid arguments" and close.
 * SASL opcodes (Debian's 1.6.18 has SASL compiled in, off without -S):
 * list-mechs with any body, or auth/step with extras or no key -> "Invalid
 * arguments" and close; otherwise "Unknown command", auth/step having read
 * their value (req->swallow = the value, no over-read).
 * A set/add/replace/append/prepend whose value length is over INT_MAX
 * (memcached's int goes negative) -> "Too large." with nothing swallowed.
 * Other unknown opcodes (verbosity 0x1b included)
 * -> "Unknown command", connection kept,
 * and memcached then discards bodylen bytes counted AFTER the extras and
 * key it already consumed (it over-reads extlen + keylen bytes of whatever
 * follows; reproduced, see req->swallow).
 * A set/append whose value exceeds limits->value_max -> "Too large." (0x03)
 * after consuming extras + key, then the value is discarded
 * (req->swallow = value length) without allocating; the quiet variants
 * reply too.
 *
 * Responses (what memcached 1.6.18 sends on success):
 *   get/getq hit      extras 4 (flags), no key, value; cas
 *   getk/getkq hit    extras 4 (flags), key, value; cas
 *   get miss          status 0x01, body "Not found"
 *   getk miss         status 0x01, key, NO message (body = key)
 *   set/add/replace/append/prepend/delete   empty body; cas (0 for delete)
 *   incr/decr         body = new value, u64 big-endian; cas
 *   touch             extras 4 (flags), no value; cas
 *   gat/gatq          extras 4 (flags), value; gatk/gatkq also the key
 *   version           body "1.6.18"; noop, flush, quit: empty body
 *   stat              one packet per stat (key = name, value = text),
 *                     then an empty packet; unknown group: 0x01 "Not found"
 *   errors            body = bin_status_text(status), extras/key none, cas 0
 * Quiet variants: getq/getkq/gatq/gatkq send nothing on a miss; setq addq
 * replaceq appendq prependq deleteq incrq decrq flushq send nothing on
 * success but do send errors; quitq closes without a reply. See
 * bin_reply_suppressed().
 */
#ifndef TIERCACHE_PROTO_BIN_H
#define TIERCACHE_PROTO_BIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Big-endian (network order) field access for the binary protocol's
 * header and extras: bin_rdN reads, bin_wrN writes N bits at p. */
static inline uint16_t bin_rd16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t bin_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t bin_rd64(const uint8_t *p)
{
    return (uint64_t)bin_rd32(p) << 32 | bin_rd32(p + 4);
}

static inline void bin_wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void bin_wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void bin_wr64(uint8_t *p, uint64_t v)
{
    bin_wr32(p, (uint32_t)(v >> 32));
    bin_wr32(p + 4, (uint32_t)v);
}

#define BIN_HEADER_LEN 24
#define BIN_MAGIC_REQ 0x80
#define BIN_MAGIC_RES 0x81
#define BIN_KEY_MAX 250

typedef enum bin_opcode {
    BIN_OP_GET = 0x00,
    BIN_OP_SET = 0x01,
    BIN_OP_ADD = 0x02,
    BIN_OP_REPLACE = 0x03,
    BIN_OP_DELETE = 0x04,
    BIN_OP_INCREMENT = 0x05,
    BIN_OP_DECREMENT = 0x06,
    BIN_OP_QUIT = 0x07,
    BIN_OP_FLUSH = 0x08,
    BIN_OP_GETQ = 0x09,
    BIN_OP_NOOP = 0x0a,
    BIN_OP_VERSION = 0x0b,
    BIN_OP_GETK = 0x0c,
    BIN_OP_GETKQ = 0x0d,
    BIN_OP_APPEND = 0x0e,
    BIN_OP_PREPEND = 0x0f,
    BIN_OP_STAT = 0x10,
    BIN_OP_SETQ = 0x11,
    BIN_OP_ADDQ = 0x12,
    BIN_OP_REPLACEQ = 0x13,
    BIN_OP_DELETEQ = 0x14,
    BIN_OP_INCREMENTQ = 0x15,
    BIN_OP_DECREMENTQ = 0x16,
    BIN_OP_QUITQ = 0x17,
    BIN_OP_FLUSHQ = 0x18,
    BIN_OP_APPENDQ = 0x19,
    BIN_OP_PREPENDQ = 0x1a,
    BIN_OP_VERBOSITY = 0x1b, /* "Unknown command" in memcached 1.6.18 */
    BIN_OP_TOUCH = 0x1c,
    BIN_OP_GAT = 0x1d,
    BIN_OP_GATQ = 0x1e,
    BIN_OP_SASL_LIST_MECHS = 0x20, /* "Unknown command" without SASL */
    BIN_OP_SASL_AUTH = 0x21,
    BIN_OP_SASL_STEP = 0x22,
    BIN_OP_GATK = 0x23,
    BIN_OP_GATKQ = 0x24,
} bin_opcode_e;

typedef enum bin_status {
    BIN_STATUS_OK = 0x00,
    BIN_STATUS_KEY_ENOENT = 0x01,      /* "Not found" */
    BIN_STATUS_KEY_EEXISTS = 0x02,     /* "Data exists for key." */
    BIN_STATUS_E2BIG = 0x03,           /* "Too large." */
    BIN_STATUS_EINVAL = 0x04,          /* "Invalid arguments" */
    BIN_STATUS_NOT_STORED = 0x05,      /* "Not stored." */
    BIN_STATUS_DELTA_BADVAL = 0x06,    /* "Non-numeric server-side value
                                          for incr or decr" */
    BIN_STATUS_NOT_MY_VBUCKET = 0x07,  /* never sent by memcached */
    BIN_STATUS_AUTH_ERROR = 0x20,      /* "Auth failure." */
    BIN_STATUS_AUTH_CONTINUE = 0x21,   /* SASL only */
    BIN_STATUS_UNKNOWN_COMMAND = 0x81, /* "Unknown command" */
    BIN_STATUS_ENOMEM = 0x82,          /* "Out of memory" */
    BIN_STATUS_NOT_SUPPORTED = 0x83,   /* never sent by memcached */
    BIN_STATUS_EINTERNAL = 0x84,       /* never sent by memcached */
    BIN_STATUS_EBUSY = 0x85,           /* never sent by memcached */
    BIN_STATUS_ETMPFAIL = 0x86,        /* never sent by memcached */
} bin_status_e;

/* The base command of an opcode: quiet and key-returning variants folded
 * (req->quiet / req->return_key say which). */
typedef enum bin_cmd {
    BIN_CMD_NONE = 0,
    BIN_CMD_GET,     /* get getq getk getkq */
    BIN_CMD_SET,
    BIN_CMD_ADD,
    BIN_CMD_REPLACE,
    BIN_CMD_APPEND,
    BIN_CMD_PREPEND,
    BIN_CMD_DELETE,
    BIN_CMD_INCR,
    BIN_CMD_DECR,
    BIN_CMD_QUIT,
    BIN_CMD_FLUSH,
    BIN_CMD_NOOP,
    BIN_CMD_VERSION,
    BIN_CMD_STAT,
    BIN_CMD_TOUCH,
    BIN_CMD_GAT,     /* gat gatq gatk gatkq */
} bin_cmd_e;

typedef enum bin_parse_status {
    BIN_PARSE_OK = 0,  /* *req filled; *consumed = 24 + extras + key; for
                          set/add/replace/append/prepend req->vlen value
                          bytes follow and are the caller's to read */
    BIN_PARSE_EUNFIN,  /* fewer bytes than the header (or header + extras +
                          key) need: read more, call again */
    BIN_PARSE_EREPLY,  /* send bin_encode_error(req->hdr.opcode,
                          req->status, req->hdr.opaque); then close the
                          connection if req->close, else skip *consumed
                          bytes and discard req->swallow more */
    BIN_PARSE_ECLOSE,  /* magic is not 0x80: close, no reply */
} bin_parse_status_e;

typedef struct bin_header {
    uint8_t magic;
    uint8_t opcode;
    uint16_t keylen;
    uint8_t extlen;
    uint8_t datatype;
    uint16_t vbucket; /* the status in a response */
    uint32_t bodylen;
    uint32_t opaque;
    uint64_t cas;
} bin_header_t;

typedef struct bin_limits {
    size_t value_max; /* larger set/append values get "Too large." */
} bin_limits_t;

typedef struct bin_request {
    bin_header_t hdr;  /* as received (hdr.cas: compare-and-swap value) */
    bin_cmd_e cmd;
    bool quiet;        /* a ...Q opcode */
    bool return_key;   /* getk getkq gatk gatkq */
    const char *key;   /* into the caller's buffer; stat: the group */
    size_t nkey;
    uint32_t flags;    /* set/add/replace */
    uint32_t exptime;  /* set/add/replace, incr/decr, touch/gat, flush:
                          raw protocol value */
    bool has_exptime;  /* flush: extras present */
    uint64_t delta;    /* incr/decr */
    uint64_t initial;  /* incr/decr */
    size_t vlen;       /* storage commands: value bytes after the key */
    /* BIN_PARSE_EREPLY */
    bin_status_e status;
    bool close;
    size_t swallow;
} bin_request_t;

/*
 * Decodes the 24-byte header at buf without judging it. Returns
 * BIN_PARSE_EUNFIN when len < 24, else BIN_PARSE_OK. Work: O(1).
 */
bin_parse_status_e bin_parse_header(const uint8_t *buf, size_t len,
                                    bin_header_t *hdr);

/*
 * Parses one request at buf[0..len) as memcached 1.6.18 does (order:
 * magic, keylen + extlen vs bodylen, keylen <= 250, wait for extras + key,
 * opcode shape, value size). limits may be NULL (no value limit). On
 * BIN_PARSE_OK and BIN_PARSE_EREPLY *consumed is set (see the statuses);
 * on EUNFIN and ECLOSE it is 0. Never allocates; bodylen is never trusted
 * for buffering: at most 24 + 255 + 250 bytes are needed before a verdict.
 * Work: O(1).
 */
bin_parse_status_e bin_parse(const uint8_t *buf, size_t len,
                             const bin_limits_t *limits, bin_request_t *req,
                             size_t *consumed);

/* Writes a 24-byte header (big-endian fields) into out. */
void bin_encode_header(uint8_t out[BIN_HEADER_LEN], const bin_header_t *hdr);

/*
 * Writes a response: header (magic 0x81, opcode, status, opaque, cas,
 * lengths from the parts) followed by extras, key and value, into buf. Any
 * part may be NULL with length 0. Returns the bytes written, 0 when cap is
 * too small or the lengths do not fit the header fields. Work: O(size).
 */
size_t bin_encode_response(uint8_t *buf, size_t cap, uint8_t opcode,
                           uint16_t status, uint32_t opaque, uint64_t cas,
                           const void *extras, uint8_t extlen,
                           const void *key, uint16_t keylen,
                           const void *value, uint32_t vlen);

/*
 * memcached's error response: status, body = bin_status_text(status), no
 * extras, no key, cas 0, the request's opcode and opaque. For a status
 * memcached never sends as an error (OK, 0x07, 0x21, 0x83-0x86) the body is
 * empty. Returns bytes written (24 + text), 0 if cap is too small.
 */
size_t bin_encode_error(uint8_t *buf, size_t cap, uint8_t opcode,
                        bin_status_e status, uint32_t opaque);

/* memcached 1.6.18's error body for a status ("" for the others). */
const char *bin_status_text(bin_status_e status);

/*
 * Quiet opcodes: true when a reply with this status must not be sent
 * (getq/getkq/gatq/gatkq on KEY_ENOENT; other ...Q opcodes on OK; quitq
 * always). Non-quiet: false.
 */
bool bin_reply_suppressed(const bin_request_t *req, bin_status_e status);

/* Static names, for logs. */
const char *bin_cmd_name(bin_cmd_e cmd);
const char *bin_parse_strerror(bin_parse_status_e status);

#endif /* TIERCACHE_PROTO_BIN_H */
