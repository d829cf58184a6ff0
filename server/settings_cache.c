/*
 * server/settings_cache.c - the links between the flags the engines own
 * and cache_settings_t (settings_cache.h).
 */
#include "settings_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "settings_int.h"

typedef enum link_conv {
    L_SIZE,      /* size_t = size_t */
    L_MB,        /* size_t megabytes = size_t bytes */
    L_INT_SIZE,  /* int = size_t */
    L_SIZE_U32,  /* size_t = uint32_t */
    L_SIZE_U64,  /* size_t = uint64_t */
    L_INT_UINT,  /* int = unsigned */
    L_UINT,      /* unsigned = unsigned */
    L_U32,       /* uint32_t = uint32_t */
    L_DOUBLE,    /* double = double */
    L_BOOL,      /* bool = bool */
    L_NOT,       /* bool = !bool (-M, -C) */
    L_STR,       /* char * (owned by settings_t) = const char * (borrowed) */
    L_S_MS,      /* int seconds = unsigned milliseconds */
    L_LEVEL,     /* flash_compression text = zstd level | OPTION_LEVEL_NONE */
    L_WORD,      /* flash_promote text = the enum of the row's words */
} link_conv_e;

typedef enum link_module { M_RAM, M_FLASH, M_DOOR } link_module_e;

typedef struct link {
    size_t soff;          /* settings_t field */
    link_module_e module; /* whose table holds the default */
    const char *row;      /* that table's row */
    link_conv_e conv;
} link_t;

#define S(f) offsetof(settings_t, f)

static const link_t links[] = {
    {S(mem_mb), M_RAM, "memory-limit", L_MB},
    {S(item_size_max), M_RAM, "max-item-size", L_SIZE},
    {S(chunk_min), M_RAM, "slab-min-size", L_INT_SIZE},
    {S(growth), M_RAM, "slab-growth-factor", L_DOUBLE},
    {S(prealloc), M_RAM, "enable-largepages", L_BOOL},
    {S(no_evictions), M_RAM, "evict-to-free", L_NOT},
    {S(no_cas), M_RAM, "use-cas", L_NOT},
    {S(hashpower), M_RAM, "hashpower", L_UINT},
    {S(hot_lru_pct), M_RAM, "hot_lru_pct", L_INT_UINT},
    {S(warm_lru_pct), M_RAM, "warm_lru_pct", L_INT_UINT},
    {S(hot_max_factor), M_RAM, "hot_max_factor", L_DOUBLE},
    {S(warm_max_factor), M_RAM, "warm_max_factor", L_DOUBLE},
    {S(lru_maintainer), M_RAM, "lru_maintainer", L_BOOL},
    {S(lru_crawler), M_RAM, "lru_crawler", L_BOOL},
    {S(lru_crawler_sleep), M_RAM, "lru_crawler_sleep", L_INT_UINT},
    {S(slab_reassign), M_RAM, "slab_reassign", L_BOOL},
    {S(slab_automove), M_RAM, "slab_automove", L_INT_UINT},
    {S(ext_item_age), M_RAM, "ext_item_age", L_U32},
    {S(flash_path), M_FLASH, "flash-path", L_STR},
    {S(flash_size), M_FLASH, "flash-size", L_SIZE_U64},
    {S(flash_segment_size), M_FLASH, "flash-segment-size", L_SIZE_U32},
    {S(flash_segment_size_given), M_FLASH, "flash-segment-size-given", L_BOOL},
    {S(flash_block_size), M_FLASH, "flash-block-size", L_SIZE_U32},
    {S(flash_dict_size), M_FLASH, "flash-dict-size", L_SIZE},
    {S(flash_compression), M_FLASH, "flash-compression", L_LEVEL},
    {S(flash_io_depth), M_FLASH, "flash-io-depth", L_INT_UINT},
    {S(flash_min_item_size), M_FLASH, "flash-min-item-size", L_SIZE},
    {S(flash_stall_ms), M_FLASH, "flash-stall-ms", L_INT_UINT},
    {S(flash_checkpoint_s), M_FLASH, "flash-checkpoint-ms", L_S_MS},
    {S(flash_reset), M_FLASH, "flash-reset", L_BOOL},
    {S(flash_fast_ingest), M_FLASH, "flash-fast-ingest", L_BOOL},
    {S(flash_promote), M_DOOR, "flash-promote", L_WORD},
    {S(flash_promote_rate), M_DOOR, "flash-promote-rate", L_INT_UINT},
    {S(flash_index_mem), M_DOOR, "flash-index-mem", L_SIZE_U64},
    {S(memory_file), M_DOOR, "memory-file", L_STR},
};

#define NLINKS (sizeof links / sizeof links[0])

/* The engine row of link l and the offset of its field in
 * cache_settings_t; NULL if the table has no such row. */
static const option_t *link_row(const link_t *l, size_t *coff)
{
    switch (l->module) {
    case M_RAM:
        *coff = offsetof(cache_settings_t, ram);
        return option_find(ram_options, ram_options_n, l->row);
    case M_FLASH:
        *coff = offsetof(cache_settings_t, flash);
        return option_find(flash_options, flash_options_n, l->row);
    case M_DOOR:
        *coff = 0;
        return option_find(cache_options, cache_options_n, l->row);
    }
    return NULL;
}

/* Copies one linked value: settings -> cache (to_cache) or back. */
static void link_copy(const link_t *l, settings_t *s, cache_settings_t *cs,
                      bool to_cache)
{
    size_t coff = 0;
    const option_t *o = link_row(l, &coff);
    if (o == NULL) {
        /* a build bug the unit tests catch (settings_engines_agree) */
        fprintf(stderr, "settings_cache.c: no row \"%s\" in its engine's "
                "table\n", l->row);
        abort();
    }
    char *sp = (char *)s + l->soff;
    char *cp = (char *)cs + coff + o->off;
#define LINK(stype, ctype, to_c, to_s)                                        \
    do {                                                                      \
        stype *sv = (stype *)sp;                                              \
        ctype *cv = (ctype *)cp;                                              \
        if (to_cache)                                                         \
            *cv = (to_c);                                                     \
        else                                                                  \
            *sv = (to_s);                                                     \
    } while (0)
    switch (l->conv) {
    case L_SIZE: LINK(size_t, size_t, *sv, *cv); break;
    case L_MB: LINK(size_t, size_t, *sv * 1024 * 1024, *cv / (1024 * 1024)); break;
    case L_INT_SIZE: LINK(int, size_t, (size_t)*sv, (int)*cv); break;
    case L_SIZE_U32: LINK(size_t, uint32_t, (uint32_t)*sv, *cv); break;
    case L_SIZE_U64: LINK(size_t, uint64_t, *sv, (size_t)*cv); break;
    case L_INT_UINT: LINK(int, unsigned, (unsigned)*sv, (int)*cv); break;
    case L_UINT: LINK(unsigned, unsigned, *sv, *cv); break;
    case L_U32: LINK(uint32_t, uint32_t, *sv, *cv); break;
    case L_DOUBLE: LINK(double, double, *sv, *cv); break;
    case L_BOOL: LINK(bool, bool, *sv, *cv); break;
    case L_NOT: LINK(bool, bool, !*sv, !*cv); break;
    case L_S_MS: LINK(int, unsigned, (unsigned)*sv * 1000u, (int)(*cv / 1000u)); break;
    case L_STR: {
        char **sv = (char **)sp;
        const char **cv = (const char **)cp;
        if (to_cache) {
            *cv = *sv;
        } else {
            free(*sv);
            *sv = *cv ? strdup(*cv) : NULL;
        }
        break;
    }
    case L_LEVEL: {
        /* settings_parse() derived flash_no_compression / flash_level */
        char **sv = (char **)sp;
        int *cv = (int *)cp;
        if (to_cache) {
            *cv = s->flash_no_compression ? OPTION_LEVEL_NONE : s->flash_level;
        } else {
            char buf[16];
            snprintf(buf, sizeof buf, "%d", *cv);
            free(*sv);
            *sv = strdup(*cv == OPTION_LEVEL_NONE ? "none" : buf);
        }
        break;
    }
    case L_WORD: {
        /* settings_parse() derived flash_promote_mode (the word's index) */
        char **sv = (char **)sp;
        int *cv = (int *)cp;
        if (to_cache) {
            *cv = s->flash_promote_mode;
        } else {
            free(*sv);
            *sv = strdup(o->words[*cv]);
        }
        break;
    }
    }
#undef LINK
}

void settings_engine_defaults(settings_t *s)
{
    cache_settings_t cs;
    cache_settings_default(&cs);
    for (size_t i = 0; i < NLINKS; i++)
        link_copy(&links[i], s, &cs, false);
}

bool settings_engine_range(const opt_t *o, long *min, long *max)
{
    for (size_t i = 0; i < NLINKS; i++) {
        size_t coff;
        const option_t *row;
        if (links[i].soff != o->off || (row = link_row(&links[i], &coff)) == NULL)
            continue;
        double div = links[i].conv == L_S_MS ? 1000.0 : 1.0;
        *min = (long)(row->min / div);
        *max = (long)(row->max / div);
        return true;
    }
    return false;
}

void settings_to_cache(const settings_t *s, cache_settings_t *cs)
{
    cache_settings_default(cs);
    for (size_t i = 0; i < NLINKS; i++)
        link_copy(&links[i], (settings_t *)s, cs, true);
}

/* Is the settings_t field at off linked? */
static bool linked(size_t off)
{
    for (size_t i = 0; i < NLINKS; i++)
        if (links[i].soff == off)
            return true;
    return false;
}

bool settings_engines_agree(char *err, size_t errlen)
{
    static const struct {
        const char *name;
        const option_t *tab;
        const size_t *n;
    } tables[] = {
        {"ram_options", ram_options, &ram_options_n},
        {"flash_options", flash_options, &flash_options_n},
        {"cache_options", cache_options, &cache_options_n},
    };
    char why[200];
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        if (option_table_check(tables[i].tab, *tables[i].n, why, sizeof why) !=
            OPTION_OK) {
            snprintf(err, errlen, "%s: %s", tables[i].name, why);
            return false;
        }
    }
    for (size_t i = 0; i < NLINKS; i++) {
        size_t coff;
        if (link_row(&links[i], &coff) == NULL) {
            snprintf(err, errlen, "link %zu: no row \"%s\" in its engine's "
                     "table", i, links[i].row);
            return false;
        }
    }
    for (size_t i = 0; i < settings_nopts; i++) {
        const opt_t *o = &settings_opts[i];
        char label[64];
        if (o->def == MODULE_DEF && !linked(o->off)) {
            snprintf(err, errlen, "%s: default from an engine, but its field "
                     "is not linked (settings_cache.c)",
                     opt_label(o, label, sizeof label));
            return false;
        }
        if (o->type == T_INT && linked(o->off) && (o->min || o->max)) {
            snprintf(err, errlen, "%s: a range of its own, but its engine's "
                     "row has the range", opt_label(o, label, sizeof label));
            return false;
        }
    }
    /* the flags' defaults start the cache with exactly the engines' */
    settings_t s;
    cache_settings_t want, got;
    settings_default(&s);
    /* what settings_parse() derives from the two strings */
    s.flash_no_compression = strcmp(s.flash_compression, "none") == 0;
    s.flash_level = atoi(s.flash_compression);
    s.flash_promote_mode = -1;
    const option_t *pr = option_find(cache_options, cache_options_n,
                                     "flash-promote");
    for (int w = 0; pr && pr->words[w]; w++)
        if (strcmp(pr->words[w], s.flash_promote) == 0)
            s.flash_promote_mode = w;
    cache_settings_default(&want);
    settings_to_cache(&s, &got);
    bool ok = true;
    for (size_t i = 0; i < NLINKS && ok; i++) {
        size_t coff;
        const option_t *o = link_row(&links[i], &coff);
        size_t size;
        switch (o->type) {
        case OPTION_BOOL: size = sizeof(bool); break;
        case OPTION_DOUBLE: size = sizeof(double); break;
        case OPTION_SIZE: size = sizeof(size_t); break;
        case OPTION_SIZE64: size = sizeof(uint64_t); break;
        case OPTION_STR: size = sizeof(const char *); break;
        default: size = sizeof(int); break; /* int, unsigned, u32, enum */
        }
        const char *w = (const char *)&want + coff + o->off;
        const char *g = (const char *)&got + coff + o->off;
        if (o->type == OPTION_STR) {
            const char *ws = *(const char *const *)w;
            const char *gs = *(const char *const *)g;
            ok = (ws == NULL) == (gs == NULL) && (!ws || strcmp(ws, gs) == 0);
        } else {
            ok = memcmp(w, g, size) == 0;
        }
        if (!ok)
            snprintf(err, errlen, "%s: the flags' default is not the engine's "
                     "(%s)", links[i].row, o->def);
    }
    settings_free(&s);
    return ok;
}
