/* server/protocol.c - see protocol.h. */
#include "protocol.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "auth_sasl.h"
#include "process.h"
#include "proto_bin.h"
#include "proto_text.h"
#include "worker.h"

/* What an authentication gate's answer (auth.h) means here. */
static protocol_parse_e auth_result(conn_t *c, auth_step_e as)
{
    if (as == AUTH_DONE)
        return PROTOCOL_DONE;
    if (as == AUTH_MORE && !(c->rlen == c->rsize && !conn_grow_rbuf(c)))
        return PROTOCOL_MORE;
    return PROTOCOL_CLOSE;
}

/* One binary request (proto_bin.h): header, extras and key from rbuf; a
 * value goes through NREAD, a refused one through SWALLOW. -S: the SASL
 * gate first. */
static protocol_parse_e parse_bin(conn_t *c)
{
    bin_request_t req;
    size_t used = 0;
    if (c->w->srv->sasl != NULL) {
        auth_step_e as = auth_sasl_bin_step(c, c->w->srv->sasl);
        if (as != AUTH_PASS)
            return auth_result(c, as);
    }
    memset(&req, 0, sizeof(req));
    /* no value limit here: cache_item_alloc() refuses what cannot fit and
     * the value is then swallowed, never buffered */
    bin_parse_status_e st = bin_parse((const uint8_t *)c->rbuf + c->rpos,
                                      c->rlen, NULL, &req, &used);
    switch (st) {
    case BIN_PARSE_OK:
        process_bin(c, &req);
        conn_consume(c, used);
        return PROTOCOL_DONE;
    case BIN_PARSE_EREPLY:
        process_bin_error(c, &req);
        if (req.close) {
            c->close_after_write = true;
            c->rlen = c->rpos = 0;
            return PROTOCOL_DONE;
        }
        conn_consume(c, used);
        conn_start_swallow(c, req.swallow);
        return PROTOCOL_DONE;
    case BIN_PARSE_EUNFIN:
        if (c->rlen == c->rsize && !conn_grow_rbuf(c))
            return PROTOCOL_CLOSE;
        return PROTOCOL_MORE;
    case BIN_PARSE_ECLOSE:
    default:
        return PROTOCOL_CLOSE;
    }
}

static const text_limits_t text_limits = {
    .line_max = TEXT_LINE_MAX,
    .get_line_max = CONN_GET_LINE_MAX,
};

/* One text line (proto_text.h): classic commands, and meta commands
 * (TEXT_CMD_META) handed to process_meta(). */
static protocol_parse_e parse_text(conn_t *c)
{
    if (c->w->srv->authfile != NULL && !c->authed)  /* -Y: the ascii gate */
        return auth_result(c, auth_ascii_step(c));
    text_request_t req;
    size_t used = 0;
    memset(&req, 0, sizeof(req));
    text_parse_status_e st =
        text_parse(c->rbuf + c->rpos, c->rlen, &text_limits, &req, &used);
    switch (st) {
    case TEXT_PARSE_OK:
        if (req.cmd == TEXT_CMD_META) {
            process_meta(c, req.args, req.args_len);
            conn_consume(c, used);
            return PROTOCOL_DONE;
        }
        c->noreply = req.noreply;
        process_text(c, &req);
        conn_consume(c, used);
        c->noreply = false;
        return PROTOCOL_DONE;
    case TEXT_PARSE_EREPLY:
        c->noreply = req.noreply;
        process_text_error(c, &req);
        c->noreply = false;
        conn_consume(c, used);
        conn_start_swallow(c, req.swallow);
        return PROTOCOL_DONE;
    case TEXT_PARSE_EUNFIN:
        if (c->rlen == c->rsize && !conn_grow_rbuf(c))
            return PROTOCOL_CLOSE;
        return PROTOCOL_MORE;
    case TEXT_PARSE_ETOOLONG:
    default:
        return PROTOCOL_CLOSE;
    }
}

/* A binary connection parked on gets: the next packet, if it is a get. */
static protocol_parse_e pipelined_bin(conn_t *c)
{
    if (c->w->srv->sasl != NULL && !c->authed)
        return PROTOCOL_WAIT;
    bin_request_t req;
    size_t used = 0;
    memset(&req, 0, sizeof(req));
    bin_parse_status_e st = bin_parse((const uint8_t *)c->rbuf + c->rpos,
                                      c->rlen, NULL, &req, &used);
    if (st == BIN_PARSE_EUNFIN)
        return c->rlen < c->rsize ? PROTOCOL_MORE : PROTOCOL_WAIT;
    if (st != BIN_PARSE_OK || !process_bin_may_pipeline(c, &req))
        return PROTOCOL_WAIT;
    STATS_ADD(&c->w->stats, flash_gets_pipelined, 1);
    process_bin(c, &req);
    conn_consume(c, used);
    return PROTOCOL_DONE;
}

protocol_parse_e protocol_parse_pipelined(conn_t *c)
{
    if (c->proto == CONN_PROTO_BIN)
        return pipelined_bin(c);
    if (c->proto != CONN_PROTO_TEXT ||
        (c->w->srv->authfile != NULL && !c->authed))
        return PROTOCOL_WAIT;
    text_request_t req;
    size_t used = 0;
    memset(&req, 0, sizeof(req));
    text_parse_status_e st =
        text_parse(c->rbuf + c->rpos, c->rlen, &text_limits, &req, &used);
    if (st == TEXT_PARSE_EUNFIN)
        return c->rlen < c->rsize ? PROTOCOL_MORE : PROTOCOL_WAIT;
    if (st != TEXT_PARSE_OK)
        return PROTOCOL_WAIT;
    if (req.cmd == TEXT_CMD_META) {
        if (!process_meta_may_pipeline(c, req.args, req.args_len))
            return PROTOCOL_WAIT;
        STATS_ADD(&c->w->stats, flash_gets_pipelined, 1);
        process_meta(c, req.args, req.args_len);
        conn_consume(c, used);
        return PROTOCOL_DONE;
    }
    if (!process_get_may_pipeline(c, &req))
        return PROTOCOL_WAIT;
    c->noreply = false;
    STATS_ADD(&c->w->stats, flash_gets_pipelined, 1);
    process_text(c, &req);
    conn_consume(c, used);
    return PROTOCOL_DONE;
}

/* The wire protocols, by conn_proto_e. `magic`: a first byte that selects
 * the protocol under auto-negotiation (-1: the fallback). */
static const struct {
    const char *name;
    int magic;
    protocol_parse_e (*parse)(conn_t *c);
} wire[] = {
    [CONN_PROTO_TEXT] = {"ascii", -1, parse_text},
    [CONN_PROTO_BIN] = {"binary", BIN_MAGIC_REQ, parse_bin},
};

/* Who finishes a value read, by conn_nread_kind_e. */
static void (*const nread_done[])(conn_t *c) = {
    [CONN_NREAD_TEXT] = process_nread_done,
    [CONN_NREAD_META] = process_meta_nread_done,
    [CONN_NREAD_BIN] = process_bin_nread_done,
};

static void resume_meta(conn_t *c, conn_park_e kind)
{
    (void)kind;
    process_meta_resume(c);
}

static void resume_bin(conn_t *c, conn_park_e kind)
{
    (void)kind;
    process_bin_resume(c);
}

/* Who goes on after a parked request, by conn_park_e (the text protocol's
 * replies, including the metadump walk, are process_resume()'s). */
static void (*const resume[])(conn_t *c, conn_park_e kind) = {
    [CONN_PARK_NONE] = process_resume,
    [CONN_PARK_GET] = process_resume,
    [CONN_PARK_TOUCH] = process_resume,
    [CONN_PARK_DELETE] = process_resume,
    [CONN_PARK_ARITH] = process_resume,
    [CONN_PARK_STORE] = process_resume,
    [CONN_PARK_SILENT] = process_resume,
    [CONN_PARK_META] = resume_meta,
    [CONN_PARK_BIN] = resume_bin,
    [CONN_PARK_DUMP] = process_resume,
};

conn_proto_e protocol_forced(const char *name)
{
    for (size_t i = 0; name && i < sizeof(wire) / sizeof(wire[0]); i++)
        if (wire[i].name && strcmp(wire[i].name, name) == 0)
            return (conn_proto_e)i;
    return CONN_PROTO_AUTO;
}

protocol_parse_e protocol_parse_one(conn_t *c)
{
    if (c->proto == CONN_PROTO_AUTO) {
        unsigned char first = (unsigned char)c->rbuf[c->rpos];
        c->proto = CONN_PROTO_TEXT;
        for (size_t i = 0; i < sizeof(wire) / sizeof(wire[0]); i++)
            if (wire[i].parse && wire[i].magic == (int)first)
                c->proto = (conn_proto_e)i;
        if (atomic_load(&c->w->srv->verbose) > 1 && c->proto != CONN_PROTO_TEXT)
            fprintf(stderr, "%d: Client using the %s protocol\n", c->fd,
                    wire[c->proto].name);
    }
    return wire[c->proto].parse(c);
}

void protocol_nread_done(conn_t *c)
{
    nread_done[c->nread_kind](c);
}

void protocol_resume(conn_t *c, conn_park_e kind)
{
    resume[kind](c, kind);
}
