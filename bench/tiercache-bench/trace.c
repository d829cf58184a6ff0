/* trace.c - loading a Twitter-format cache trace (see trace.h). */
#include "trace.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyspace.h"
#include "value.h"

#define NFIELDS 7

static const char *const op_names[TOP_NKINDS] = {
    "get", "gets", "set", "add", "replace", "cas", "append", "prepend",
    "delete", "incr", "decr",
};

const char *trace_op_name(enum trace_opkind op)
{
    return op < TOP_NKINDS ? op_names[op] : "?";
}

const char *trace_strerror(enum trace_status st)
{
    switch (st) {
    case TRACE_OK: return "ok";
    case TRACE_EIO: return "cannot read the trace";
    case TRACE_ESYNTAX: return "bad line in the trace";
    case TRACE_ENOMEM: return "out of memory loading the trace";
    case TRACE_EEMPTY: return "the trace holds no request";
    case TRACE_ETOOBIG: return "the trace has more than 2^32 - 1 requests or keys";
    }
    return "unknown trace status";
}

void trace_free(struct trace *t)
{
    free(t->ops);
    free(t->names);
    free(t->off);
    free(t->len);
    free(t->flags);
    free(t->index);
    free(t->order);
    free(t->first);
    memset(t, 0, sizeof(*t));
}

static bool grow(void **p, uint64_t *cap, uint64_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    uint64_t n = *cap ? *cap : 1024;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

/* A decimal in [s, s + n) into *v; false if empty, not digits or too big. */
static bool parse_dec(const char *s, size_t n, uint64_t max, uint64_t *v)
{
    uint64_t x = 0;
    if (n == 0 || n > 20)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    if (x > max)
        return false;
    *v = x;
    return true;
}

struct loader {
    struct trace *t;
    uint64_t ops_cap, names_cap, keys_cap;
    char *err;
    size_t errlen;
    const char *path;
    uint64_t line;
};

static enum trace_status fail(struct loader *l, enum trace_status st,
                              const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum trace_status fail(struct loader *l, enum trace_status st,
                              const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (l->line)
        snprintf(l->err, l->errlen, "%s:%llu: %s", l->path,
                 (unsigned long long)l->line, what);
    else
        snprintf(l->err, l->errlen, "%s: %s", l->path, what);
    return st;
}

static bool index_rebuild(struct trace *t, uint64_t slots)
{
    uint32_t *ix = calloc(slots, sizeof(*ix));
    if (!ix)
        return false;
    for (uint64_t k = 0; k < t->nkeys; k++) {
        uint64_t s = keyspace_hash(t->names + t->off[k], t->len[k]) & (slots - 1);
        while (ix[s])
            s = (s + 1) & (slots - 1);
        ix[s] = (uint32_t)(k + 1);
    }
    free(t->index);
    t->index = ix;
    t->index_mask = slots - 1;
    return true;
}

/* The number of key name[0..n), adding it if new. */
static enum trace_status intern(struct loader *l, const char *name, size_t n,
                                uint32_t *key)
{
    struct trace *t = l->t;
    uint64_t h = keyspace_hash(name, n);
    if (t->index) {
        for (uint64_t s = h & t->index_mask;; s = (s + 1) & t->index_mask) {
            uint32_t v = t->index[s];
            if (v == 0)
                break;
            if (t->len[v - 1] == n && memcmp(t->names + t->off[v - 1], name, n) == 0) {
                *key = v - 1;
                return TRACE_OK;
            }
        }
    }
    if (t->nkeys >= UINT32_MAX - 1)
        return fail(l, TRACE_ETOOBIG, "more than 2^32 - 2 distinct keys");
    uint64_t kc = l->keys_cap;
    if (!grow((void **)&t->names, &l->names_cap, t->names_len + n, 1) ||
        !grow((void **)&t->off, &kc, t->nkeys + 1, sizeof(*t->off)))
        return fail(l, TRACE_ENOMEM, "out of memory");
    kc = l->keys_cap;
    if (!grow((void **)&t->len, &kc, t->nkeys + 1, sizeof(*t->len)))
        return fail(l, TRACE_ENOMEM, "out of memory");
    kc = l->keys_cap;
    if (!grow((void **)&t->flags, &kc, t->nkeys + 1, sizeof(*t->flags)))
        return fail(l, TRACE_ENOMEM, "out of memory");
    l->keys_cap = kc;
    memcpy(t->names + t->names_len, name, n);
    t->off[t->nkeys] = t->names_len;
    t->len[t->nkeys] = (uint8_t)n;
    t->flags[t->nkeys] = 0;
    t->names_len += n;
    *key = (uint32_t)t->nkeys++;
    if (!t->index || t->nkeys * 2 > t->index_mask + 1) {
        if (!index_rebuild(t, t->index ? (t->index_mask + 1) * 2 : 4096))
            return fail(l, TRACE_ENOMEM, "out of memory");
    } else {
        uint64_t s = h & t->index_mask;
        while (t->index[s])
            s = (s + 1) & t->index_mask;
        t->index[s] = *key + 1;
    }
    return TRACE_OK;
}

/* One line without its end of line. */
static enum trace_status parse_line(struct loader *l, const char *p, size_t n)
{
    static const char *const names[NFIELDS] = {
        "timestamp", "key", "key size", "value size", "client id", "operation", "TTL",
    };
    const char *f[NFIELDS];
    size_t fl[NFIELDS];
    unsigned nf = 0;
    const char *s = p, *end = p + n;
    if (n == 0)
        return fail(l, TRACE_ESYNTAX, "empty line");
    for (;;) {
        const char *c = memchr(s, ',', (size_t)(end - s));
        const char *e = c ? c : end;
        if (nf == NFIELDS)
            return fail(l, TRACE_ESYNTAX, "more than %d comma-separated fields", NFIELDS);
        f[nf] = s;
        fl[nf++] = (size_t)(e - s);
        if (!c)
            break;
        s = c + 1;
    }
    if (nf != NFIELDS)
        return fail(l, TRACE_ESYNTAX, "%u field(s), expected %d "
                    "(timestamp,key,key size,value size,client id,operation,TTL)",
                    nf, NFIELDS);
    for (size_t i = 0; i < n; i++)
        if (p[i] == '\0')
            return fail(l, TRACE_ESYNTAX, "NUL byte in the line");
    uint64_t ts, ksize, vsize, client, ttl;
    uint64_t *nums[NFIELDS] = { &ts, NULL, &ksize, &vsize, &client, NULL, &ttl };
    uint64_t maxes[NFIELDS] = { UINT64_MAX / 2, 0, 65535, UINT64_MAX, UINT64_MAX, 0,
                                UINT64_MAX };
    for (unsigned i = 0; i < NFIELDS; i++)
        if (nums[i] && !parse_dec(f[i], fl[i], maxes[i], nums[i]))
            return fail(l, TRACE_ESYNTAX, "%s \"%.*s\" is not a decimal number%s",
                        names[i], (int)(fl[i] > 40 ? 40 : fl[i]), f[i],
                        i == 2 ? " up to 65535" : "");
    if (fl[1] == 0)
        return fail(l, TRACE_ESYNTAX, "empty key");
    if (vsize > VALUE_MAX_SIZE)
        return fail(l, TRACE_ESYNTAX, "value size %llu above %u",
                    (unsigned long long)vsize, VALUE_MAX_SIZE);
    unsigned op = TOP_NKINDS;
    for (unsigned i = 0; i < TOP_NKINDS; i++)
        if (strlen(op_names[i]) == fl[5] && memcmp(op_names[i], f[5], fl[5]) == 0)
            op = i;
    if (op == TOP_NKINDS)
        return fail(l, TRACE_ESYNTAX, "unknown operation \"%.*s\" (get, gets, set, add, "
                    "replace, cas, append, prepend, delete, incr, decr)",
                    (int)(fl[5] > 40 ? 40 : fl[5]), f[5]);
    char key[KEY_MAX_LEN];
    size_t klen = ksize ? ksize : fl[1];
    if (klen > KEY_MAX_LEN)
        klen = KEY_MAX_LEN;
    for (size_t i = 0; i < klen; i++) {
        unsigned char ch = i < fl[1] ? (unsigned char)f[1][i] : '.';
        key[i] = ch <= ' ' || ch == 0x7f ? '_' : (char)ch;
    }
    struct trace *t = l->t;
    uint32_t k = 0;
    enum trace_status st = intern(l, key, klen, &k);
    if (st != TRACE_OK)
        return st;
    if (t->nops >= UINT32_MAX)
        return fail(l, TRACE_ETOOBIG, "more than 2^32 - 1 requests");
    if (!grow((void **)&t->ops, &l->ops_cap, t->nops + 1, sizeof(*t->ops)))
        return fail(l, TRACE_ENOMEM, "out of memory");
    struct trace_op *o = &t->ops[t->nops++];
    o->ts = ts;
    o->key = k;
    o->vsize = (uint32_t)vsize;
    o->ttl = ttl > TRACE_MAX_TTL ? TRACE_MAX_TTL : (uint32_t)ttl;
    o->op = (uint8_t)op;
    t->kind_count[op]++;
    if (op == TOP_APPEND || op == TOP_PREPEND)
        t->flags[k] |= TK_MODIFIED;
    if (op == TOP_INCR || op == TOP_DECR)
        t->flags[k] |= TK_MODIFIED | TK_COUNTER;
    if (t->nops == 1 || ts < t->ts_min)
        t->ts_min = ts;
    if (ts > t->ts_max)
        t->ts_max = ts;
    return TRACE_OK;
}

enum trace_status trace_load(struct trace *t, const char *path, char *err,
                             size_t errlen)
{
    memset(t, 0, sizeof(*t));
    struct loader l = { .t = t, .err = err, .errlen = errlen, .path = path };
    FILE *f = fopen(path, "rb");
    if (!f)
        return fail(&l, TRACE_EIO, "cannot open: %s", strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    enum trace_status st = TRACE_OK;
    while ((n = getline(&line, &cap, f)) >= 0) {
        l.line++;
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n')
            len--;
        if (len && line[len - 1] == '\r')
            len--;
        if (len > TRACE_MAX_LINE) {
            st = fail(&l, TRACE_ESYNTAX, "line longer than %u bytes", TRACE_MAX_LINE);
            break;
        }
        st = parse_line(&l, line, len);
        if (st != TRACE_OK)
            break;
    }
    if (st == TRACE_OK && ferror(f)) {
        l.line = 0;
        st = fail(&l, TRACE_EIO, "read error: %s", strerror(errno));
    }
    free(line);
    fclose(f);
    if (st == TRACE_OK && t->nops == 0) {
        l.line = 0;
        st = fail(&l, TRACE_EEMPTY, "no request in the file");
    }
    if (st != TRACE_OK)
        trace_free(t);
    return st;
}

bool trace_partition(struct trace *t, unsigned nowners)
{
    free(t->order);
    free(t->first);
    t->order = malloc((t->nops ? t->nops : 1) * sizeof(*t->order));
    t->first = calloc((size_t)nowners + 1, sizeof(*t->first));
    if (!t->order || !t->first)
        return false;
    for (uint64_t i = 0; i < t->nops; i++)
        t->first[t->ops[i].key % nowners + 1]++;
    for (unsigned g = 0; g < nowners; g++)
        t->first[g + 1] += t->first[g];
    uint64_t *fill = calloc(nowners, sizeof(*fill));
    if (!fill)
        return false;
    for (uint64_t i = 0; i < t->nops; i++) {
        unsigned g = t->ops[i].key % nowners;
        t->order[t->first[g] + fill[g]++] = (uint32_t)i;
    }
    free(fill);
    return true;
}
