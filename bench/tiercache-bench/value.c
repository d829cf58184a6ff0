/* value.c - value sizes, contents and checks (see value.h, README.md). */
#include "value.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MULT 0xd6e8feb86659fd93ULL
#define POOL_SLACK (64u * 1024u)
#define JSON_POOL_DOCS 256u
#define BYTES_HDR_LEN 22u   /* "#tcb:" + 16 hex + "#" */
#define JSON_HDR_LEN 25u    /* {"_v":" + 16 hex + ", */

struct valgen {
    enum vdist dist;
    uint32_t min;
    uint32_t max;
    char *pool;             /* fixed/uniform: random bytes */
    size_t pool_len;
    char *docs;             /* json: JSON_POOL_DOCS documents, each max bytes */
    uint32_t doc_len[JSON_POOL_DOCS];
};

static const char *const first_names[] = {
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
    "ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil",
    "trent", "victor", "walter", "yuki",
};
static const char *const cities[] = {
    "Berlin", "Paris", "Lisbon", "Madrid", "Oslo", "Warsaw", "Prague",
    "Vienna", "Dublin", "Helsinki", "Athens", "Rome", "Zurich", "Amsterdam",
};
static const char *const statuses[] = {
    "pending", "paid", "shipped", "delivered", "cancelled", "returned",
};
static const char *const tags[] = {
    "red", "green", "blue", "sale", "new", "gift", "express", "bulk",
    "fragile", "eco", "premium", "outlet",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *pick_word(const char *const *w, size_t n, uint64_t *s)
{
    return w[splitmix64(s) % n];
}

/* One record, NUL-terminated, into out (>= 256 bytes). Returns its length. */
static size_t json_record(char *out, size_t cap, uint64_t *s)
{
    uint64_t a = splitmix64(s), b = splitmix64(s);
    int n = snprintf(out, cap,
        "{\"id\":%u,\"user\":\"%s_%u\",\"email\":\"%s%u@example.com\","
        "\"city\":\"%s\",\"status\":\"%s\",\"amount\":%u.%02u,\"items\":%u,"
        "\"tags\":[\"%s\",\"%s\"]}",
        (unsigned)(a % 1000000u),
        pick_word(first_names, NELEM(first_names), s), (unsigned)(b % 1000u),
        pick_word(first_names, NELEM(first_names), s), (unsigned)(b % 100u),
        pick_word(cities, NELEM(cities), s),
        pick_word(statuses, NELEM(statuses), s),
        (unsigned)((a >> 20) % 5000u), (unsigned)((a >> 40) % 100u),
        (unsigned)((b >> 20) % 20u + 1u),
        pick_word(tags, NELEM(tags), s), pick_word(tags, NELEM(tags), s));
    return n > 0 ? (size_t)n : 0;
}

/* A JSON document of exactly len bytes (len >= VALUE_JSON_MIN). */
static void json_doc(char *dst, size_t len, uint64_t version, uint64_t seed)
{
    static const char tail[] = "],\"pad\":\"\"}";
    char rec[320];
    uint64_t s = seed;
    size_t pos = (size_t)sprintf(dst, "{\"_v\":\"%016llx\",",
                                 (unsigned long long)version);
    pos += (size_t)sprintf(dst + pos, "\"kind\":\"orders\",\"records\":[");
    for (unsigned nrec = 0;; nrec++) {
        size_t rl = json_record(rec, sizeof(rec), &s);
        size_t need = rl + (nrec ? 1 : 0);
        if (pos + need + sizeof(tail) - 1 > len)
            break;
        if (nrec)
            dst[pos++] = ',';
        memcpy(dst + pos, rec, rl);
        pos += rl;
    }
    memcpy(dst + pos, "],\"pad\":\"", 9);
    pos += 9;
    while (pos < len - 2) {
        const char *w = pick_word(tags, NELEM(tags), &s);
        size_t wl = strlen(w);
        while (*w && pos < len - 2)
            dst[pos++] = *w++;
        if (pos < len - 2 && wl)
            dst[pos++] = ' ';
    }
    dst[pos++] = '"';
    dst[pos++] = '}';
}

static void random_bytes(char *dst, size_t len, uint64_t seed)
{
    uint64_t s = seed;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v = splitmix64(&s);
        memcpy(dst + i, &v, 8);
    }
    if (i < len) {
        uint64_t v = splitmix64(&s);
        memcpy(dst + i, &v, len - i);
    }
}

static uint32_t json_len_from(uint64_t h, uint32_t min, uint32_t max)
{
    double u = (double)(h >> 11) * 0x1.0p-53;
    double l = exp(log((double)min) + u * (log((double)max) - log((double)min)));
    uint32_t v = (uint32_t)l;
    return v < min ? min : v > max ? max : v;
}

const char *vdist_name(enum vdist d)
{
    switch (d) {
    case VDIST_FIXED: return "fixed";
    case VDIST_UNIFORM: return "uniform";
    case VDIST_JSON: return "json";
    }
    return "?";
}

struct valgen *valgen_create(enum vdist dist, uint32_t min, uint32_t max,
                             uint64_t seed)
{
    struct valgen *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->dist = dist;
    if (dist == VDIST_JSON) {
        min = VALUE_JSON_MIN;
        max = VALUE_JSON_MAX;
    }
    g->min = min;
    g->max = max;
    uint64_t s = mix64(seed ^ 0x5eed);
    if (dist == VDIST_JSON) {
        g->docs = malloc((size_t)JSON_POOL_DOCS * max);
        if (!g->docs)
            goto fail;
        for (unsigned i = 0; i < JSON_POOL_DOCS; i++) {
            uint64_t h = splitmix64(&s);
            g->doc_len[i] = json_len_from(h, min, max);
            json_doc(g->docs + (size_t)i * max, g->doc_len[i], 0, mix64(h));
        }
    } else {
        g->pool_len = (size_t)max + POOL_SLACK;
        g->pool = malloc(g->pool_len);
        if (!g->pool)
            goto fail;
        random_bytes(g->pool, g->pool_len, s);
    }
    return g;
fail:
    valgen_destroy(&g);
    return NULL;
}

void valgen_destroy(struct valgen **pg)
{
    struct valgen *g = *pg;
    if (!g)
        return;
    free(g->pool);
    free(g->docs);
    free(g);
    *pg = NULL;
}

uint32_t valgen_max_len(const struct valgen *g)
{
    return g->max;
}

double valgen_mean_len(const struct valgen *g)
{
    if (g->dist == VDIST_JSON)
        return ((double)g->max - (double)g->min) /
               (log((double)g->max) - log((double)g->min));
    return ((double)g->min + (double)g->max) / 2.0;
}

void valgen_pick(const struct valgen *g, struct rng *r, const char **p,
                 size_t *len)
{
    if (g->dist == VDIST_JSON) {
        unsigned i = (unsigned)rng_below(r, JSON_POOL_DOCS);
        *p = g->docs + (size_t)i * g->max;
        *len = g->doc_len[i];
        return;
    }
    size_t l = g->min;
    if (g->dist == VDIST_UNIFORM)
        l += (size_t)rng_below(r, (uint64_t)(g->max - g->min) + 1);
    *p = g->pool + rng_below(r, POOL_SLACK);
    *len = l;
}

static uint64_t kv_hash(uint64_t key, uint32_t version)
{
    return mix64(mix64(version) ^ (key * KEY_MULT));
}

size_t valgen_verify_len(const struct valgen *g, uint64_t key,
                         uint32_t version, uint32_t *flags)
{
    uint64_t h = kv_hash(key, version);
    *flags = (uint32_t)(h >> 32);
    switch (g->dist) {
    case VDIST_FIXED: return g->min;
    case VDIST_UNIFORM: return g->min + h % ((uint64_t)(g->max - g->min) + 1);
    case VDIST_JSON: return json_len_from(h, g->min, g->max);
    }
    return g->min;
}

void valgen_verify_make(const struct valgen *g, uint64_t key,
                        uint32_t version, char *dst)
{
    uint32_t flags;
    size_t len = valgen_verify_len(g, key, version, &flags);
    uint64_t seed = mix64(kv_hash(key, version));
    if (g->dist == VDIST_JSON) {
        json_doc(dst, len, version, seed);
        return;
    }
    char hdr[BYTES_HDR_LEN + 1];
    snprintf(hdr, sizeof(hdr), "#tcb:%016llx#", (unsigned long long)version);
    memcpy(dst, hdr, BYTES_HDR_LEN);
    random_bytes(dst + BYTES_HDR_LEN, len - BYTES_HDR_LEN, seed);
}

static bool parse_hex16(const char *p, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = p[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

enum vcheck valgen_verify_check(const struct valgen *g, uint64_t key,
                                const char *p, size_t len, uint32_t flags,
                                uint32_t *version, char *scratch)
{
    uint64_t v;
    if (g->dist == VDIST_JSON) {
        if (len < JSON_HDR_LEN || memcmp(p, "{\"_v\":\"", 7) != 0 ||
            !parse_hex16(p + 7, &v) || memcmp(p + 23, "\",", 2) != 0)
            return VCHK_HEADER;
    } else {
        if (len < BYTES_HDR_LEN || memcmp(p, "#tcb:", 5) != 0 ||
            !parse_hex16(p + 5, &v) || p[21] != '#')
            return VCHK_HEADER;
    }
    if (v == 0 || v > UINT32_MAX)
        return VCHK_VERSION;
    *version = (uint32_t)v;
    uint32_t want_flags;
    size_t want_len = valgen_verify_len(g, key, (uint32_t)v, &want_flags);
    if (len != want_len)
        return VCHK_LENGTH;
    valgen_verify_make(g, key, (uint32_t)v, scratch);
    if (memcmp(p, scratch, len) != 0)
        return VCHK_CONTENT;
    if (flags != want_flags)
        return VCHK_FLAGS;
    return VCHK_OK;
}

const char *vcheck_strerror(enum vcheck st)
{
    switch (st) {
    case VCHK_OK: return "ok";
    case VCHK_HEADER: return "no version header";
    case VCHK_VERSION: return "version out of range";
    case VCHK_LENGTH: return "wrong length for its version";
    case VCHK_CONTENT: return "wrong bytes for its version";
    case VCHK_FLAGS: return "wrong flags for its version";
    }
    return "unknown check status";
}

uint32_t value_sized_flags(uint64_t key, size_t len)
{
    return (uint32_t)(mix64(key * KEY_MULT ^ mix64(len)) >> 48);
}

void value_sized_make(uint64_t key, size_t len, bool json, char *dst,
                      uint32_t *flags)
{
    uint64_t seed = mix64(key * KEY_MULT ^ mix64(len));
    uint64_t st = seed;
    *flags = (uint32_t)(seed >> 48);
    if (json && len >= VALUE_JSON_MIN) {
        json_doc(dst, len, len, seed);
        return;
    }
    size_t i = 0;
    while (i < len) {
        uint64_t r = splitmix64(&st);
        for (unsigned b = 0; b < 8 && i < len; b++, r >>= 8)
            dst[i++] = (char)('!' + (r & 0xff) % 94u);
    }
}

enum vcheck value_sized_check(uint64_t key, const char *p, size_t len,
                              bool json, uint32_t flags, char *scratch)
{
    uint32_t want;
    value_sized_make(key, len, json, scratch, &want);
    if (memcmp(scratch, p, len) != 0)
        return VCHK_CONTENT;
    if (flags != want)
        return VCHK_FLAGS;
    return VCHK_OK;
}
