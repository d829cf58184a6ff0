/* options.c - flag parsing and -h, generated from BENCH_OPTIONS. */
#include "options.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum opt_type {
    OT_STR,
    OT_UINT,
    OT_DBL,
    OT_FLAG,
};

#define OT_OF_STR OT_STR
#define OT_OF_UINT OT_UINT
#define OT_OF_DBL OT_DBL
#define OT_OF_FLAG OT_FLAG

struct opt_desc {
    const char *flag;
    enum opt_type type;
    const char *def;
    const char *help;
    size_t off;
};

static const struct opt_desc descs[] = {
#define X(field, flag, type, def, help) \
    { flag, OT_OF_##type, def, help, offsetof(struct bench_options, field) },
    BENCH_OPTIONS(X)
#undef X
};

#define NDESCS (sizeof(descs) / sizeof(descs[0]))

static bool set_value(struct bench_options *o, const struct opt_desc *d,
                      const char *v)
{
    char *base = (char *)o + d->off;
    char *end;
    switch (d->type) {
    case OT_STR:
        memcpy(base, &v, sizeof(v));
        return true;
    case OT_UINT: {
        errno = 0;
        if (*v == '-' || *v == '\0')
            return false;
        unsigned long long n = strtoull(v, &end, 10);
        if (errno || *end)
            return false;
        uint64_t u = n;
        memcpy(base, &u, sizeof(u));
        return true;
    }
    case OT_DBL: {
        errno = 0;
        double x = strtod(v, &end);
        if (errno || *end || end == v || !isfinite(x))
            return false;
        memcpy(base, &x, sizeof(x));
        return true;
    }
    case OT_FLAG: {
        bool b = strcmp(v, "on") == 0;
        memcpy(base, &b, sizeof(b));
        return true;
    }
    }
    return false;
}

enum opt_status options_parse(struct bench_options *o, int argc, char **argv)
{
    memset(o, 0, sizeof(*o));
    for (size_t i = 0; i < NDESCS; i++)
        set_value(o, &descs[i], descs[i].def);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
            return OPT_HELP;
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "unexpected argument '%s' (see -h)\n", a);
            return OPT_EUSAGE;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct opt_desc *d = NULL;
        for (size_t k = 0; k < NDESCS; k++)
            if (strlen(descs[k].flag) == nlen &&
                memcmp(descs[k].flag, name, nlen) == 0)
                d = &descs[k];
        if (!d) {
            fprintf(stderr, "unknown option '%s' (see -h)\n", a);
            return OPT_EUSAGE;
        }
        const char *v;
        if (d->type == OT_FLAG) {
            if (eq) {
                fprintf(stderr, "option --%s takes no value\n", d->flag);
                return OPT_EUSAGE;
            }
            v = "on";
        } else if (eq) {
            v = eq + 1;
        } else if (i + 1 < argc) {
            v = argv[++i];
        } else {
            fprintf(stderr, "option --%s needs a value\n", d->flag);
            return OPT_EUSAGE;
        }
        if (!set_value(o, d, v)) {
            fprintf(stderr, "bad value '%s' for --%s\n", v, d->flag);
            return OPT_EUSAGE;
        }
    }
    return OPT_OK;
}

void options_usage(FILE *f, const char *prog)
{
    fprintf(f,
        "usage: %s [options]\n"
        "Load generator for memcached-compatible servers (tiercache, memcached).\n"
        "Closed loop (--depth) or open loop (--rate, latency from the scheduled\n"
        "send time); uniform or Zipf keys; fixed, uniform or JSON values;\n"
        "get / set / multi-get mix; optional load phase and verify mode.\n\n",
        prog);
    for (size_t i = 0; i < NDESCS; i++) {
        const struct opt_desc *d = &descs[i];
        char left[64];
        snprintf(left, sizeof(left), "--%s%s", d->flag,
                 d->type == OT_FLAG ? "" :
                 d->type == OT_STR ? " STR" :
                 d->type == OT_UINT ? " N" : " X");
        fprintf(f, "  %-22s %s (default: %s)\n", left, d->help,
                *d->def ? d->def : "none");
    }
    fprintf(f, "  %-22s %s\n", "-h, --help", "this help");
    fprintf(f,
        "\nExit status: 0 ok; 1 verify found wrong values or bad replies;\n"
        "2 bad options; 3 could not run (no connection, no request completed).\n");
}
