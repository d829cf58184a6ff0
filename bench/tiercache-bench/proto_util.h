/*
 * proto_util.h - small helpers shared by the bench's protocol modules
 * (proto_text.c, proto_meta.c). Pure functions on bounded buffers.
 */
#ifndef TIERCACHE_BENCH_PROTO_UTIL_H
#define TIERCACHE_BENCH_PROTO_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Writes v in decimal at p (at most 20 bytes); returns the end. */
char *proto_put_u64(char *p, uint64_t v);

/* Reads a decimal number at *pp (< end), advancing *pp past it. false: no
 * digit, or the value overflows 64 bits. */
bool proto_parse_u64(const char **pp, const char *end, uint64_t *out);

/* p[0..n) is exactly `word` / starts with `word`. */
bool proto_line_is(const char *p, size_t n, const char *word);
bool proto_line_starts(const char *p, size_t n, const char *word);

struct keyspace;

/* Appends head, the key (keyspace_format), tail: a one-key command line
 * such as "delete <key>\r\n" or "ma <key> MD\r\n". */
bool proto_put_keyed(struct buf *out, const char *head, const struct keyspace *ks,
                     uint64_t key, const char *tail);

/* Appends "\r\n" (the end of a storage command's data block). */
bool proto_put_crlf(struct buf *out);

#endif /* TIERCACHE_BENCH_PROTO_UTIL_H */
