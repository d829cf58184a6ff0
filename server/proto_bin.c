/*
 * server/proto_bin.c - memcached's binary protocol: parser and encoders.
 * Contract and the verified behaviour in proto_bin.h. No locks, no
 * globals, no allocation.
 */
#include "proto_bin.h"

#include <limits.h>

#include <string.h>

bin_parse_status_e bin_parse_header(const uint8_t *buf, size_t len,
                                    bin_header_t *hdr)
{
    if (len < BIN_HEADER_LEN) {
        return BIN_PARSE_EUNFIN;
    }
    hdr->magic = buf[0];
    hdr->opcode = buf[1];
    hdr->keylen = bin_rd16(buf + 2);
    hdr->extlen = buf[4];
    hdr->datatype = buf[5];
    hdr->vbucket = bin_rd16(buf + 6);
    hdr->bodylen = bin_rd32(buf + 8);
    hdr->opaque = bin_rd32(buf + 12);
    hdr->cas = bin_rd64(buf + 16);
    return BIN_PARSE_OK;
}

static bin_parse_status_e ereply(bin_request_t *req, bin_status_e status,
                                 bool close, size_t swallow)
{
    req->status = status;
    req->close = close;
    req->swallow = swallow;
    return BIN_PARSE_EREPLY;
}

/* Opcode -> base command, quiet, key-returning. false: unknown opcode. */
static bool classify(uint8_t op, bin_request_t *req)
{
    static const struct {
        uint8_t op;
        bin_cmd_e cmd;
        bool quiet;
        bool key;
    } map[] = {
        {BIN_OP_GET, BIN_CMD_GET, false, false},
        {BIN_OP_GETQ, BIN_CMD_GET, true, false},
        {BIN_OP_GETK, BIN_CMD_GET, false, true},
        {BIN_OP_GETKQ, BIN_CMD_GET, true, true},
        {BIN_OP_SET, BIN_CMD_SET, false, false},
        {BIN_OP_SETQ, BIN_CMD_SET, true, false},
        {BIN_OP_ADD, BIN_CMD_ADD, false, false},
        {BIN_OP_ADDQ, BIN_CMD_ADD, true, false},
        {BIN_OP_REPLACE, BIN_CMD_REPLACE, false, false},
        {BIN_OP_REPLACEQ, BIN_CMD_REPLACE, true, false},
        {BIN_OP_APPEND, BIN_CMD_APPEND, false, false},
        {BIN_OP_APPENDQ, BIN_CMD_APPEND, true, false},
        {BIN_OP_PREPEND, BIN_CMD_PREPEND, false, false},
        {BIN_OP_PREPENDQ, BIN_CMD_PREPEND, true, false},
        {BIN_OP_DELETE, BIN_CMD_DELETE, false, false},
        {BIN_OP_DELETEQ, BIN_CMD_DELETE, true, false},
        {BIN_OP_INCREMENT, BIN_CMD_INCR, false, false},
        {BIN_OP_INCREMENTQ, BIN_CMD_INCR, true, false},
        {BIN_OP_DECREMENT, BIN_CMD_DECR, false, false},
        {BIN_OP_DECREMENTQ, BIN_CMD_DECR, true, false},
        {BIN_OP_QUIT, BIN_CMD_QUIT, false, false},
        {BIN_OP_QUITQ, BIN_CMD_QUIT, true, false},
        {BIN_OP_FLUSH, BIN_CMD_FLUSH, false, false},
        {BIN_OP_FLUSHQ, BIN_CMD_FLUSH, true, false},
        {BIN_OP_NOOP, BIN_CMD_NOOP, false, false},
        {BIN_OP_VERSION, BIN_CMD_VERSION, false, false},
        {BIN_OP_STAT, BIN_CMD_STAT, false, false},
        {BIN_OP_TOUCH, BIN_CMD_TOUCH, false, false},
        {BIN_OP_GAT, BIN_CMD_GAT, false, false},
        {BIN_OP_GATQ, BIN_CMD_GAT, true, false},
        {BIN_OP_GATK, BIN_CMD_GAT, false, true},
        {BIN_OP_GATKQ, BIN_CMD_GAT, true, true},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (map[i].op == op) {
            req->cmd = map[i].cmd;
            req->quiet = map[i].quiet;
            req->return_key = map[i].key;
            return true;
        }
    }
    return false;
}

/* dispatch_bin_command()'s shape checks, per base command. */
static bool shape_ok(const bin_request_t *req)
{
    uint32_t ext = req->hdr.extlen;
    uint32_t key = req->hdr.keylen;
    uint32_t body = req->hdr.bodylen;

    switch (req->cmd) {
    case BIN_CMD_VERSION:
    case BIN_CMD_NOOP:
    case BIN_CMD_QUIT:
        return ext == 0 && key == 0 && body == 0;
    case BIN_CMD_FLUSH:
        return key == 0 && body == ext && (ext == 0 || ext == 4);
    case BIN_CMD_SET:
    case BIN_CMD_ADD:
    case BIN_CMD_REPLACE:
        return ext == 8 && key != 0 && body >= key + 8;
    case BIN_CMD_GET:
    case BIN_CMD_DELETE:
        return ext == 0 && key != 0 && body == key;
    case BIN_CMD_INCR:
    case BIN_CMD_DECR:
        return ext == 20 && key != 0 && body == key + 20;
    case BIN_CMD_APPEND:
    case BIN_CMD_PREPEND:
        return ext == 0 && key != 0;
    case BIN_CMD_STAT:
        return ext == 0;
    case BIN_CMD_TOUCH:
    case BIN_CMD_GAT:
        return ext == 4 && key != 0;
    case BIN_CMD_NONE:
        break;
    }
    return false;
}

bin_parse_status_e bin_parse(const uint8_t *buf, size_t len,
                             const bin_limits_t *limits, bin_request_t *req,
                             size_t *consumed)
{
    memset(req, 0, sizeof(*req));
    *consumed = 0;

    if (bin_parse_header(buf, len, &req->hdr) != BIN_PARSE_OK) {
        return BIN_PARSE_EUNFIN;
    }
    const bin_header_t *h = &req->hdr;
    if (h->magic != BIN_MAGIC_REQ) {
        return BIN_PARSE_ECLOSE;
    }
    /* keylen > bodylen || keylen + extlen > bodylen: "Unknown command",
     * then close. */
    if ((uint32_t)h->keylen + h->extlen > h->bodylen) {
        *consumed = BIN_HEADER_LEN;
        return ereply(req, BIN_STATUS_UNKNOWN_COMMAND, true, 0);
    }
    if (h->keylen > BIN_KEY_MAX) {
        *consumed = BIN_HEADER_LEN;
        return ereply(req, BIN_STATUS_EINVAL, true, 0);
    }
    size_t fixed = BIN_HEADER_LEN + (size_t)h->extlen + h->keylen;
    if (len < fixed) {
        return BIN_PARSE_EUNFIN;
    }
    *consumed = fixed;
    const uint8_t *ext = buf + BIN_HEADER_LEN;
    req->key = (const char *)(ext + h->extlen);
    req->nkey = h->keylen;

    /* Debian's 1.6.18 is built with SASL (off unless -S): list-mechs
     * wants an empty body, auth/step a key and no extras (else "Invalid
     * arguments" and close); auth/step then read their value and answer
     * "Unknown command". Checked against memcached. */
    if (h->opcode == BIN_OP_SASL_LIST_MECHS ||
        h->opcode == BIN_OP_SASL_AUTH || h->opcode == BIN_OP_SASL_STEP) {
        bool list = h->opcode == BIN_OP_SASL_LIST_MECHS;
        bool shape = list ? (h->extlen == 0 && h->keylen == 0 &&
                             h->bodylen == 0)
                          : (h->extlen == 0 && h->keylen > 0);
        req->cmd = BIN_CMD_NONE;
        req->key = NULL;
        req->nkey = 0;
        if (!shape) {
            return ereply(req, BIN_STATUS_EINVAL, true, 0);
        }
        return ereply(req, BIN_STATUS_UNKNOWN_COMMAND, false,
                      h->bodylen - h->keylen);
    }
    if (!classify(h->opcode, req)) {
        /* memcached swallows bodylen bytes after the extras and key it
         * already consumed (its over-read, reproduced). */
        req->cmd = BIN_CMD_NONE;
        req->key = NULL;
        req->nkey = 0;
        return ereply(req, BIN_STATUS_UNKNOWN_COMMAND, false, h->bodylen);
    }
    if (!shape_ok(req)) {
        return ereply(req, BIN_STATUS_EINVAL, true, 0);
    }

    size_t value_max = limits ? limits->value_max : SIZE_MAX;
    switch (req->cmd) {
    case BIN_CMD_SET:
    case BIN_CMD_ADD:
    case BIN_CMD_REPLACE:
        req->flags = bin_rd32(ext);
        req->exptime = bin_rd32(ext + 4);
        req->vlen = h->bodylen - h->keylen - 8u;
        break;
    case BIN_CMD_APPEND:
    case BIN_CMD_PREPEND:
        req->vlen = h->bodylen - h->keylen;
        break;
    case BIN_CMD_INCR:
    case BIN_CMD_DECR:
        req->delta = bin_rd64(ext);
        req->initial = bin_rd64(ext + 8);
        req->exptime = bin_rd32(ext + 16);
        break;
    case BIN_CMD_FLUSH:
        if (h->extlen == 4) {
            req->exptime = bin_rd32(ext);
            req->has_exptime = true;
        }
        break;
    case BIN_CMD_TOUCH:
    case BIN_CMD_GAT:
        req->exptime = bin_rd32(ext);
        break;
    default:
        break;
    }
    /* memcached keeps the value length in an int: a "negative" one is
     * "Too large." with nothing swallowed (what follows is parsed as the
     * next header), checked by sending such a header alone */
    if (req->vlen > (size_t)INT_MAX) {
        req->vlen = 0;
        return ereply(req, BIN_STATUS_E2BIG, false, 0);
    }
    if (req->vlen > value_max) {
        return ereply(req, BIN_STATUS_E2BIG, false, req->vlen);
    }
    if (req->nkey == 0) {
        req->key = NULL; /* quit, noop, version, flush, stat without group */
    }
    return BIN_PARSE_OK;
}

void bin_encode_header(uint8_t out[BIN_HEADER_LEN], const bin_header_t *hdr)
{
    out[0] = hdr->magic;
    out[1] = hdr->opcode;
    bin_wr16(out + 2, hdr->keylen);
    out[4] = hdr->extlen;
    out[5] = hdr->datatype;
    bin_wr16(out + 6, hdr->vbucket);
    bin_wr32(out + 8, hdr->bodylen);
    bin_wr32(out + 12, hdr->opaque);
    bin_wr64(out + 16, hdr->cas);
}

size_t bin_encode_response(uint8_t *buf, size_t cap, uint8_t opcode,
                           uint16_t status, uint32_t opaque, uint64_t cas,
                           const void *extras, uint8_t extlen,
                           const void *key, uint16_t keylen,
                           const void *value, uint32_t vlen)
{
    uint64_t body = (uint64_t)extlen + keylen + vlen;

    if (body > UINT32_MAX || cap < BIN_HEADER_LEN ||
        body > cap - BIN_HEADER_LEN) {
        return 0;
    }
    bin_header_t h = {
        .magic = BIN_MAGIC_RES,
        .opcode = opcode,
        .keylen = keylen,
        .extlen = extlen,
        .datatype = 0,
        .vbucket = status,
        .bodylen = (uint32_t)body,
        .opaque = opaque,
        .cas = cas,
    };
    bin_encode_header(buf, &h);
    uint8_t *p = buf + BIN_HEADER_LEN;
    if (extlen) {
        memcpy(p, extras, extlen);
        p += extlen;
    }
    if (keylen) {
        memcpy(p, key, keylen);
        p += keylen;
    }
    if (vlen) {
        memcpy(p, value, vlen);
    }
    return BIN_HEADER_LEN + (size_t)body;
}

const char *bin_status_text(bin_status_e status)
{
    switch (status) {
    case BIN_STATUS_KEY_ENOENT: return "Not found";
    case BIN_STATUS_KEY_EEXISTS: return "Data exists for key.";
    case BIN_STATUS_E2BIG: return "Too large.";
    case BIN_STATUS_EINVAL: return "Invalid arguments";
    case BIN_STATUS_NOT_STORED: return "Not stored.";
    case BIN_STATUS_DELTA_BADVAL:
        return "Non-numeric server-side value for incr or decr";
    case BIN_STATUS_AUTH_ERROR: return "Auth failure.";
    case BIN_STATUS_UNKNOWN_COMMAND: return "Unknown command";
    case BIN_STATUS_ENOMEM: return "Out of memory";
    case BIN_STATUS_OK:
    case BIN_STATUS_NOT_MY_VBUCKET:
    case BIN_STATUS_AUTH_CONTINUE:
    case BIN_STATUS_NOT_SUPPORTED:
    case BIN_STATUS_EINTERNAL:
    case BIN_STATUS_EBUSY:
    case BIN_STATUS_ETMPFAIL:
        break;
    }
    return "";
}

size_t bin_encode_error(uint8_t *buf, size_t cap, uint8_t opcode,
                        bin_status_e status, uint32_t opaque)
{
    const char *text = bin_status_text(status);
    return bin_encode_response(buf, cap, opcode, (uint16_t)status, opaque, 0,
                               NULL, 0, NULL, 0, text,
                               (uint32_t)strlen(text));
}

bool bin_reply_suppressed(const bin_request_t *req, bin_status_e status)
{
    if (!req->quiet) {
        return false;
    }
    switch (req->cmd) {
    case BIN_CMD_GET:
    case BIN_CMD_GAT:
        return status == BIN_STATUS_KEY_ENOENT;
    case BIN_CMD_QUIT:
        return true;
    default:
        return status == BIN_STATUS_OK;
    }
}

const char *bin_cmd_name(bin_cmd_e cmd)
{
    switch (cmd) {
    case BIN_CMD_NONE: return "none";
    case BIN_CMD_GET: return "get";
    case BIN_CMD_SET: return "set";
    case BIN_CMD_ADD: return "add";
    case BIN_CMD_REPLACE: return "replace";
    case BIN_CMD_APPEND: return "append";
    case BIN_CMD_PREPEND: return "prepend";
    case BIN_CMD_DELETE: return "delete";
    case BIN_CMD_INCR: return "incr";
    case BIN_CMD_DECR: return "decr";
    case BIN_CMD_QUIT: return "quit";
    case BIN_CMD_FLUSH: return "flush";
    case BIN_CMD_NOOP: return "noop";
    case BIN_CMD_VERSION: return "version";
    case BIN_CMD_STAT: return "stat";
    case BIN_CMD_TOUCH: return "touch";
    case BIN_CMD_GAT: return "gat";
    }
    return "unknown";
}

const char *bin_parse_strerror(bin_parse_status_e status)
{
    switch (status) {
    case BIN_PARSE_OK: return "ok";
    case BIN_PARSE_EUNFIN: return "incomplete packet";
    case BIN_PARSE_EREPLY: return "error reply";
    case BIN_PARSE_ECLOSE: return "bad magic: close";
    }
    return "unknown status";
}
