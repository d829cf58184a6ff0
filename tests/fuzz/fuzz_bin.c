/*
 * tests/fuzz/fuzz_bin.c - libFuzzer target for the binary protocol parser:
 * arbitrary bytes as a stream of requests, consumed the way the server
 * will (header + extras + key, then value or swallow). Built by
 * tests/fuzz/build.sh.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto_bin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        return 0;
    }
    memcpy(buf, data, size);
    bin_limits_t lim = {4096};
    uint8_t out[512];
    size_t off = 0;

    while (off < size) {
        bin_request_t req;
        size_t consumed = 0;
        bin_parse_status_e st = bin_parse(buf + off, size - off,
                                          off % 2 ? NULL : &lim, &req,
                                          &consumed);
        if (st == BIN_PARSE_EUNFIN || st == BIN_PARSE_ECLOSE) {
            if (consumed != 0) {
                abort();
            }
            break;
        }
        if (consumed < BIN_HEADER_LEN || consumed > size - off) {
            abort();
        }
        if (st == BIN_PARSE_EREPLY) {
            if (bin_encode_error(out, sizeof(out), req.hdr.opcode,
                                 req.status, req.hdr.opaque) == 0) {
                abort();
            }
            (void)bin_reply_suppressed(&req, req.status);
            if (req.close) {
                break;
            }
            off += consumed;
            if (req.swallow > size - off) {
                break;
            }
            off += req.swallow;
            continue;
        }
        if (req.nkey > BIN_KEY_MAX || (req.nkey && !req.key)) {
            abort();
        }
        (void)bin_encode_response(out, sizeof(out), req.hdr.opcode, 0,
                                  req.hdr.opaque, req.hdr.cas, "\0\0\0\0", 4,
                                  req.key, (uint16_t)req.nkey, NULL, 0);
        (void)bin_reply_suppressed(&req, BIN_STATUS_OK);
        (void)bin_reply_suppressed(&req, BIN_STATUS_KEY_ENOENT);
        off += consumed;
        if (req.vlen > size - off) {
            break;
        }
        off += req.vlen;
    }
    free(buf);
    return 0;
}
