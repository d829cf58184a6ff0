/*
 * tests/fuzz/fuzz_meta.c - libFuzzer target for the meta protocol parser
 * and encoders: arbitrary bytes as one meta line, as a text-protocol
 * stream (lines handed to the meta parser as the server will), and as an
 * ms data block. Built by tests/fuzz/build.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto_meta.h"
#include "proto_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void encode_all(const meta_request_t *req)
{
    static const meta_rc_e rcs[] = {META_RC_HD, META_RC_VA, META_RC_EN,
                                    META_RC_NF, META_RC_NS, META_RC_EX};
    char out[META_REPLY_MAX];
    meta_item_view_t it = {.key = req->key ? req->key : "",
                           .nkey = req->key ? req->nkey : 0,
                           .key_binary = req->key_binary,
                           .value_len = UINT32_MAX, .ttl = -1,
                           .cas = UINT64_MAX, .client_flags = UINT32_MAX,
                           .last_access = 7, .fetched = true,
                           .token_sent = true, .stale = true, .won = true};
    for (size_t i = 0; i < sizeof(rcs) / sizeof(rcs[0]); i++) {
        size_t n = meta_encode_reply(out, sizeof(out), req, rcs[i], &it);
        if (req->cmd != META_CMD_NONE && req->cmd != META_CMD_MN &&
            req->cmd != META_CMD_ME && n == 0) {
            abort(); /* META_REPLY_MAX must always be enough */
        }
        (void)meta_encode_reply(out, sizeof(out), req, rcs[i], NULL);
        (void)meta_encode_reply(out, 8, req, rcs[i], &it);
        (void)meta_reply_suppressed(req, rcs[i], i % 2 == 0);
    }
    if (req->key) {
        if (meta_encode_me(out, sizeof(out), req->key, req->nkey,
                           req->key_binary, -1, 1, 2, true, 3, 4) == 0) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char keybuf[META_KEY_BIN_MAX];
    meta_request_t req;
    /* Exact-size copy so ASan sees any over-read. */
    char *buf = malloc(size ? size : 1);
    if (!buf) {
        return 0;
    }
    memcpy(buf, data, size);

    /* 1. The bytes as one meta line. */
    meta_parse_status_e st = meta_parse(buf, size, keybuf, &req);
    if (st == META_PARSE_OK) {
        if (req.nkey > (req.key_binary ? META_KEY_BIN_MAX : META_KEY_MAX) ||
            req.ntok > META_FLAGS_MAX) {
            abort();
        }
        encode_all(&req);
        if (req.cmd == META_CMD_MS) {
            (void)meta_data_check(buf, size, req.datalen);
        }
    } else if (req.error == NULL) {
        abort();
    }

    /* 2. The bytes as a text stream; meta lines go to the meta parser and
     * ms data blocks are checked like the server will. */
    text_limits_t lim = {TEXT_LINE_MAX, 65536};
    size_t off = 0;
    while (off < size) {
        text_request_t treq;
        size_t consumed = 0;
        text_parse_status_e ts = text_parse(buf + off, size - off, &lim,
                                            &treq, &consumed);
        if (ts != TEXT_PARSE_OK && ts != TEXT_PARSE_EREPLY) {
            break;
        }
        if (consumed == 0 || consumed > size - off) {
            abort();
        }
        off += consumed;
        if (ts == TEXT_PARSE_OK && treq.cmd == TEXT_CMD_META) {
            st = meta_parse(treq.args, treq.args_len, keybuf, &req);
            if (st == META_PARSE_OK) {
                encode_all(&req);
                if (req.cmd == META_CMD_MS) {
                    if (meta_data_check(buf + off, size - off,
                                        req.datalen) == META_DATA_EUNFIN) {
                        break;
                    }
                    off += req.datalen + 2;
                }
            } else if (req.swallow) {
                if (req.swallow > size - off) {
                    break;
                }
                off += req.swallow;
            }
        }
    }
    free(buf);
    return 0;
}
