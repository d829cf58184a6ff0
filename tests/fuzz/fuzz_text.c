/*
 * tests/fuzz/fuzz_text.c - libFuzzer target for the classic text protocol
 * parser: arbitrary bytes as a command stream, consumed like the server
 * will (line, data block, key iteration). Built by tests/fuzz/build.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (!buf) {
        return 0;
    }
    memcpy(buf, data, size);
    /* Small limits too, so the over-long-line paths get exercised. */
    text_limits_t lim = {size % 2 ? TEXT_LINE_MAX : 128,
                         size % 3 ? 65536 : 256};
    size_t off = 0;

    while (off < size) {
        text_request_t req;
        size_t consumed = 0;
        text_parse_status_e st = text_parse(buf + off, size - off, &lim,
                                            &req, &consumed);
        if (st != TEXT_PARSE_OK && st != TEXT_PARSE_EREPLY) {
            /* EUNFIN / ETOOLONG consume nothing; ECLOSE reports the
             * line's length (the connection closes either way). */
            if (st != TEXT_PARSE_ECLOSE && consumed != 0) {
                abort();
            }
            break;
        }
        if (consumed == 0 || consumed > size - off) {
            abort();
        }
        if (st == TEXT_PARSE_EREPLY && req.error == NULL) {
            abort();
        }
        (void)text_cmd_name(req.cmd);
        if (st == TEXT_PARSE_OK && req.keys) {
            const char *cur = req.keys;
            const char *end = req.keys + req.keys_len;
            const char *key;
            size_t nkey;
            text_key_status_e ks;
            while ((ks = text_next_key(&cur, end, &key, &nkey)) !=
                   TEXT_KEY_END) {
                if (nkey == 0 || key < buf || key + nkey > buf + size) {
                    abort();
                }
            }
        }
        if (st == TEXT_PARSE_OK && req.args) {
            const char *cur = req.args;
            const char *end = req.args + req.args_len;
            const char *tok;
            size_t ntok;
            while (text_next_token(&cur, end, &tok, &ntok)) {
                if (tok < buf || tok + ntok > buf + size) {
                    abort();
                }
            }
        }
        off += consumed;
        if (st == TEXT_PARSE_OK && req.nbytes) {
            if (req.nbytes > size - off || size - off - req.nbytes < 2) {
                break;
            }
            off += req.nbytes + 2;
        }
    }
    free(buf);
    return 0;
}
