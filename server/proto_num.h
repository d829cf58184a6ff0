/*
 * server/proto_num.h - memcached 1.6.18's safe_strto* number rules, on a
 * bounded token (not NUL-terminated), shared by the text and meta parsers.
 *
 * A token is read as strtoull/strtol would on 64-bit glibc: leading
 * whitespace, one optional sign, decimal digits, which must end the token or
 * be followed by a whitespace byte (memcached: `xisspace(*endptr) ||
 * *endptr == '\0'`); a magnitude beyond 64 bits is rejected (ERANGE).
 * Pure functions: no allocation, O(token length).
 */
#ifndef TIERCACHE_PROTO_NUM_H
#define TIERCACHE_PROTO_NUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* isspace() in the C locale, which strto* and memcached's xisspace use. */
bool proto_isspace(unsigned char c);

/*
 * memcached safe_strtoull(): strtoull, then a '-' is rejected only when the
 * result looks negative as int64 ("-1" rejected, "-0" accepted,
 * "-9223372036854775809" accepted as 9223372036854775807). *out is written
 * only on success.
 */
bool proto_strtoull(const char *p, size_t n, uint64_t *out);

/*
 * memcached safe_strtoul(): strtoul is 64-bit on LP64, same '-' rule, then
 * the result is truncated to 32 bits: flags "4294967296" is stored as 0 and
 * "18446744073709551615" as 4294967295 (verified against memcached).
 */
bool proto_strtoul(const char *p, size_t n, uint32_t *out);

/*
 * memcached 1.6.18 safe_strtol(): strtol (64-bit long; ERANGE outside
 * int64), no INT_MAX check in this version, then truncated to int32
 * (verified: "set a 0 -4294967296 1" stores a non-expiring item,
 * "set a 0 0 4294967297" reads a 1-byte value).
 */
bool proto_strtol(const char *p, size_t n, int32_t *out);

#endif /* TIERCACHE_PROTO_NUM_H */
