/* value.h - value sizes and contents.
 *
 * Size distributions: fixed N, uniform [A, B], or "json": documents whose
 * length is log-uniform in [200, 4096] (more small documents than large).
 *
 * Without verify, values are slices of a random byte pool (fixed and
 * uniform) or picks from a pool of pre-built JSON documents: no per-request
 * work beyond a copy.
 *
 * In verify mode a value is a pure function of (key, version):
 *
 *   h      = mix64(mix64(version) ^ key * K)     K odd, see value.c
 *   length = fixed N | A + h % (B - A + 1) | log-uniform from h (json)
 *   flags  = h >> 32
 *   bytes  = header carrying the version, then a payload drawn from a
 *            splitmix64 stream seeded with mix64(h)
 *
 *   fixed/uniform:  "#tcb:" <16 hex digits of version> "#" <random bytes>
 *   json:           {"_v":"<16 hex digits>","kind":"orders","records":[...]
 *
 * so a reader recovers the version from the header, regenerates the whole
 * value and compares every byte and the flags.
 *
 * The JSON generator (see README.md) emits an object with a records array;
 * every record has the same field names (id, user, email, city, status,
 * amount, items, tags) and values drawn from small vocabularies plus
 * numbers, then a "pad" string of vocabulary words brings the document to
 * its exact length. Repeated names and words make it compress about as
 * well as real JSON (about 2.6x for one document alone with zstd -3 or
 * zlib -6, more when documents are packed together), unlike the random
 * bytes of fixed/uniform values (1x).
 */
#ifndef TCB_VALUE_H
#define TCB_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rng.h"

#define VALUE_MAX_SIZE (1024u * 1024u - 512u)
#define VALUE_JSON_MIN 200u
#define VALUE_JSON_MAX 4096u
#define VALUE_VERIFY_MIN 24u     /* smallest value that holds a header */

enum vdist {
    VDIST_FIXED,
    VDIST_UNIFORM,
    VDIST_JSON,
};

enum vcheck {
    VCHK_OK,
    VCHK_HEADER,    /* no readable version header */
    VCHK_VERSION,   /* version 0 or above 2^32 - 1 */
    VCHK_LENGTH,    /* length differs from that of (key, version) */
    VCHK_CONTENT,   /* bytes differ */
    VCHK_FLAGS,     /* flags differ */
};

struct valgen;

/* Builds a generator: sizes in [min, max] (ignored for json, which uses
 * [VALUE_JSON_MIN, VALUE_JSON_MAX]). Non-verify pools are built here
 * (about max + 64 KiB of random bytes, or 256 JSON documents). Returns
 * NULL on allocation failure. */
struct valgen *valgen_create(enum vdist dist, uint32_t min, uint32_t max,
                             uint64_t seed);

/* Frees g and sets *g to NULL. */
void valgen_destroy(struct valgen **g);

/* Largest value g produces. */
uint32_t valgen_max_len(const struct valgen *g);

/* Mean value size (for reporting the dataset size). */
double valgen_mean_len(const struct valgen *g);

/* Name of a distribution ("fixed", "uniform", "json"). */
const char *vdist_name(enum vdist d);

/* Non-verify value: a pointer into g's pool and a length. The bytes stay
 * valid until g is destroyed. O(1). */
void valgen_pick(const struct valgen *g, struct rng *r, const char **p,
                 size_t *len);

/* Length and flags of the value of (key, version). O(1). */
size_t valgen_verify_len(const struct valgen *g, uint64_t key,
                         uint32_t version, uint32_t *flags);

/* Writes the value of (key, version) to dst, which has room for
 * valgen_verify_len() bytes. O(length). */
void valgen_verify_make(const struct valgen *g, uint64_t key,
                        uint32_t version, char *dst);

/* Checks a value read for key: recovers its version into *version and
 * compares length, bytes and flags with what (key, version) must be.
 * scratch must hold valgen_max_len() bytes. O(length). */
enum vcheck valgen_verify_check(const struct valgen *g, uint64_t key,
                                const char *p, size_t len, uint32_t flags,
                                uint32_t *version, char *scratch);

/* Trace values (--trace): a value of exactly len bytes that depends only
 * on (key, len, json), from the seed mix64(key * K ^ mix64(len)): with
 * json and len >= VALUE_JSON_MIN a JSON document as above (its "_v" is
 * len), else printable bytes ('!'..'~') of a splitmix64 stream; flags =
 * 16 bits of the seed. Any replayed size is valid, so a read checks the
 * bytes it got against the value of its own length. O(len). */
void value_sized_make(uint64_t key, size_t len, bool json, char *dst,
                      uint32_t *flags);

/* The flags of value_sized_make(key, len). */
uint32_t value_sized_flags(uint64_t key, size_t len);

/* Checks a trace value read for key (see value_sized_make). scratch
 * holds len bytes. */
enum vcheck value_sized_check(uint64_t key, const char *p, size_t len,
                              bool json, uint32_t flags, char *scratch);

/* Message for a check status. */
const char *vcheck_strerror(enum vcheck st);

#endif
