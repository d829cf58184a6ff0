/* tracegen.c - synthetic traces (see tracegen.h). */
#include "tracegen.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyspace.h"
#include "rng.h"
#include "trace.h"
#include "zipf.h"

bool tracegen_parse_ttl(struct tracegen_cfg *cfg, const char *s)
{
    double sum = 0;
    cfg->nttl = 0;
    for (;;) {
        char *end;
        errno = 0;
        if (*s < '0' || *s > '9')
            return false;
        unsigned long long t = strtoull(s, &end, 10);
        if (errno || t > TRACE_MAX_TTL || cfg->nttl == TRACEGEN_MAX_TTLS)
            return false;
        double share = 1.0;
        if (*end == ':') {
            s = end + 1;
            share = strtod(s, &end);
            if (end == s || !(share >= 0 && share <= 1))
                return false;
        }
        cfg->ttl[cfg->nttl] = (uint32_t)t;
        cfg->ttl_share[cfg->nttl++] = share;
        sum += share;
        if (*end == '\0')
            break;
        if (*end != ',')
            return false;
        s = end + 1;
    }
    return fabs(sum - 1.0) < 0.001;
}

static uint32_t key_ttl(const struct tracegen_cfg *cfg, uint64_t key)
{
    double u = (double)(mix64(key ^ mix64(cfg->seed ^ 0x77)) >> 11) * 0x1.0p-53;
    for (unsigned i = 0; i < cfg->nttl; i++) {
        if (u < cfg->ttl_share[i])
            return cfg->ttl[i];
        u -= cfg->ttl_share[i];
    }
    return cfg->nttl ? cfg->ttl[cfg->nttl - 1] : 0;
}

static bool emit(FILE *f, const struct tracegen_cfg *cfg, uint64_t i,
                 uint64_t key, const char *op)
{
    uint32_t flags;
    size_t vsize = valgen_verify_len(cfg->vg, key, 1, &flags);
    return fprintf(f, "%llu,k%016llx,%u,%zu,%llu,%s,%u\n",
                   (unsigned long long)((double)i / cfg->rate),
                   (unsigned long long)mix64(key ^ mix64(cfg->seed)),
                   cfg->key_size, vsize, (unsigned long long)(i % 16), op,
                   key_ttl(cfg, key)) > 0;
}

bool tracegen_write(const struct tracegen_cfg *cfg, const char *path)
{
    struct zipf z;
    struct keypick kp;
    if (cfg->zipf > 0 && zipf_init(&z, cfg->keys, cfg->zipf) != 0) {
        fprintf(stderr, "tiercache-bench: bad --zipf\n");
        return false;
    }
    keypick_init(&kp, 0, 1, cfg->keys, cfg->zipf > 0 ? &z : NULL);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "tiercache-bench: cannot write %s: %s\n", path, strerror(errno));
        return false;
    }
    struct rng r;
    rng_seed(&r, mix64(cfg->seed) ^ 0x7472616365ULL);
    uint64_t scan_start = (uint64_t)(cfg->scan_at * (double)cfg->count);
    uint64_t next_unique = cfg->keys;   /* one-hit wonders: keys >= --keys */
    bool ok = true;
    for (uint64_t i = 0; i < cfg->count && ok; i++) {
        if (cfg->scan && i >= scan_start && i - scan_start < cfg->scan) {
            ok = emit(f, cfg, i, (i - scan_start) % cfg->keys, "get");
        } else if (cfg->one_hit > 0 && rng_double(&r) < cfg->one_hit) {
            ok = emit(f, cfg, i, next_unique++, "get");
        } else {
            uint64_t key = keypick_next(&kp, &r);
            double u = rng_double(&r);
            const char *op = u < cfg->get_ratio ? "get"
                           : rng_double(&r) < cfg->del_ratio ? "delete" : "set";
            ok = emit(f, cfg, i, key, op);
        }
    }
    if (fclose(f) != 0)
        ok = false;
    if (!ok)
        fprintf(stderr, "tiercache-bench: error writing %s\n", path);
    return ok;
}
