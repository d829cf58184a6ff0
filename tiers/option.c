/*
 * tiers/option.c - parsing a row's text into its field, table checks and
 * filling a struct with a table's defaults (option.h).
 */
#include "option.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *option_strerror(option_status_e st)
{
    switch (st) {
    case OPTION_OK: return "ok";
    case OPTION_EPARSE: return "not a value of the option's type";
    case OPTION_ERANGE: return "out of the option's range";
    case OPTION_ETABLE: return "bad option table";
    }
    return "unknown option status";
}

/* "<num>[kKmMgGtT]" into bytes. */
static bool parse_bytes(const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || end == v || v[0] == '-')
        return false;
    unsigned long long mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = 1ULL << 10; end++; break;
    case 'm': case 'M': mul = 1ULL << 20; end++; break;
    case 'g': case 'G': mul = 1ULL << 30; end++; break;
    case 't': case 'T': mul = 1ULL << 40; end++; break;
    default: break;
    }
    if (*end != '\0' || n > UINT64_MAX / mul)
        return false;
    *out = (uint64_t)(n * mul);
    return true;
}

static bool parse_long(const char *v, long long *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end != '\0')
        return false;
    *out = n;
    return true;
}

option_status_e option_set(const option_t *o, void *base, const char *text)
{
    char *p = (char *)base + o->off;
    long long n = 0;
    uint64_t b = 0;
    if (text == NULL)
        return OPTION_EPARSE;
    switch (o->type) {
    case OPTION_BOOL:
        if (strcmp(text, "yes") != 0 && strcmp(text, "no") != 0)
            return OPTION_EPARSE;
        *(bool *)p = strcmp(text, "yes") == 0;
        return OPTION_OK;
    case OPTION_INT: case OPTION_UINT: case OPTION_U32:
        if (!parse_long(text, &n))
            return OPTION_EPARSE;
        if ((double)n < o->min || (double)n > o->max)
            return OPTION_ERANGE;
        if (o->type == OPTION_INT)
            *(int *)p = (int)n;
        else if (o->type == OPTION_UINT)
            *(unsigned *)p = (unsigned)n;
        else
            *(uint32_t *)p = (uint32_t)n;
        return OPTION_OK;
    case OPTION_DOUBLE: {
        char *end;
        errno = 0;
        double d = strtod(text, &end);
        if (errno || end == text || *end != '\0' || isnan(d))
            return OPTION_EPARSE;
        if (d < o->min || d > o->max)
            return OPTION_ERANGE;
        *(double *)p = d;
        return OPTION_OK;
    }
    case OPTION_SIZE: case OPTION_SIZE32: case OPTION_SIZE64:
        if (!parse_bytes(text, &b))
            return OPTION_EPARSE;
        if ((double)b < o->min || (double)b > o->max)
            return OPTION_ERANGE;
        if (o->type == OPTION_SIZE)
            *(size_t *)p = (size_t)b;
        else if (o->type == OPTION_SIZE32)
            *(uint32_t *)p = (uint32_t)b;
        else
            *(uint64_t *)p = b;
        return OPTION_OK;
    case OPTION_LEVEL:
        if (strcmp(text, "none") == 0) {
            *(int *)p = OPTION_LEVEL_NONE;
            return OPTION_OK;
        }
        if (!parse_long(text, &n))
            return OPTION_EPARSE;
        if ((double)n < o->min || (double)n > o->max)
            return OPTION_ERANGE;
        *(int *)p = (int)n;
        return OPTION_OK;
    case OPTION_ENUM:
        for (int i = 0; o->words && o->words[i]; i++) {
            if (strcmp(o->words[i], text) == 0) {
                *(int *)p = i;
                return OPTION_OK;
            }
        }
        return OPTION_EPARSE;
    case OPTION_STR:
        if (strcmp(text, "none") != 0)
            return OPTION_EPARSE; /* a string's only default is none */
        *(const char **)p = NULL;
        return OPTION_OK;
    }
    return OPTION_EPARSE;
}

/* The largest field any row writes: option_set's scratch target. */
typedef union option_scratch {
    bool b;
    int i;
    unsigned u;
    uint32_t u32;
    uint64_t u64;
    size_t z;
    double d;
    const char *s;
} option_scratch_t;

option_status_e option_table_check(const option_t *tab, size_t n, char *err,
                                   size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const option_t *o = &tab[i];
        if (o->name == NULL || o->name[0] == '\0') {
            snprintf(err, errlen, "row %zu has no name", i);
            return OPTION_ETABLE;
        }
        if (o->def == NULL) {
            snprintf(err, errlen, "%s: no default", o->name);
            return OPTION_ETABLE;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(tab[j].name, o->name) == 0) {
                snprintf(err, errlen, "%s: declared twice (rows %zu and %zu)",
                         o->name, j, i);
                return OPTION_ETABLE;
            }
        }
        /* the default must be a value of the row: parse it aside */
        option_t aside = *o;
        option_scratch_t scratch;
        aside.off = 0;
        option_status_e st = option_set(&aside, &scratch, o->def);
        if (st != OPTION_OK) {
            snprintf(err, errlen, "%s: default \"%s\": %s", o->name, o->def,
                     option_strerror(st));
            return OPTION_ETABLE;
        }
    }
    return OPTION_OK;
}

void option_defaults(const option_t *tab, size_t n, void *base)
{
    char err[256];
    if (option_table_check(tab, n, err, sizeof err) != OPTION_OK) {
        fprintf(stderr, "option table: %s\n", err);
        abort(); /* a build bug: the unit tests check every table */
    }
    for (size_t i = 0; i < n; i++)
        (void)option_set(&tab[i], base, tab[i].def);
}

const option_t *option_find(const option_t *tab, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(tab[i].name, name) == 0)
            return &tab[i];
    return NULL;
}
