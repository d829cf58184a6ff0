/* tests/unit/tiers/test_options.c - the engines' option tables
 * (tiers/option.h): each engine's *_settings_default() gives exactly what
 * its table says, a broken table is caught, values parse by type and
 * range. */
#include <criterion/criterion.h>
#include <float.h>
#include <stdio.h>
#include <string.h>

#include "cache.h"

#define MiB ((size_t)1024 * 1024)

/* The size of the field a row writes. */
static size_t field_size(const option_t *o)
{
    switch (o->type) {
    case OPTION_BOOL: return sizeof(bool);
    case OPTION_DOUBLE: return sizeof(double);
    case OPTION_SIZE: return sizeof(size_t);
    case OPTION_SIZE64: return sizeof(uint64_t);
    case OPTION_STR: return sizeof(const char *);
    default: return sizeof(int);
    }
}

/* Every row's default text, parsed alone into a zeroed struct, is what
 * the engine's *_settings_default() left in that field. */
static void rows_are_defaults(const char *name, const option_t *tab, size_t n,
                              const void *defaults, size_t size)
{
    char err[256] = "";
    cr_assert_eq(option_table_check(tab, n, err, sizeof err), OPTION_OK,
                 "%s: %s", name, err);
    cr_assert_gt(n, 0);
    for (size_t i = 0; i < n; i++) {
        unsigned char one[1024];
        cr_assert_leq(size, sizeof one);
        memset(one, 0xA5, size);
        cr_assert_eq(option_set(&tab[i], one, tab[i].def), OPTION_OK,
                     "%s: %s", name, tab[i].name);
        cr_assert(memcmp(one + tab[i].off, (const char *)defaults + tab[i].off,
                         field_size(&tab[i])) == 0,
                  "%s: row %s (default %s) is not what the engine starts with",
                  name, tab[i].name, tab[i].def);
    }
}

Test(options, ram_defaults_come_from_its_table)
{
    ram_settings_t r;
    memset(&r, 0x5A, sizeof r);
    ram_settings_default(&r);
    rows_are_defaults("ram_options", ram_options, ram_options_n, &r, sizeof r);
    /* memcached 1.6's, as the rows say */
    cr_assert_eq(r.mem_limit, 64 * MiB);
    cr_assert_eq(r.item_size_max, MiB);
    cr_assert_eq(r.slab_page_size, MiB);
    cr_assert_eq(r.slab_chunk_min, 48);
    cr_assert_float_eq(r.slab_growth, 1.25, 1e-12);
    cr_assert(r.evict_to_free && r.use_cas && r.slab_reassign);
    cr_assert_eq(r.hash_power, 0, "0: ram_init's 16, memcached's hashpower_init 0");
    cr_assert_eq(r.flash_item_age, UINT32_MAX);
    cr_assert_null(r.clock);
    cr_assert_null(r.on_evict.fn);
}

Test(options, flash_defaults_come_from_its_table)
{
    flash_settings_t f;
    memset(&f, 0x5A, sizeof f);
    flash_settings_default(&f);
    rows_are_defaults("flash_options", flash_options, flash_options_n, &f,
                      sizeof f);
    cr_assert_null(f.path);
    cr_assert_eq(f.segment_size, 8 * MiB);
    cr_assert_eq(f.block_size, 4096);
    cr_assert_eq(f.compression_level, 1);
    cr_assert_eq(f.dict_size, 64 * 1024);
    cr_assert_eq(f.checkpoint_ms, 60000);
    cr_assert_null(f.written);
}

Test(options, cache_defaults_are_the_engines_and_the_doors)
{
    cache_settings_t c;
    memset(&c, 0x5A, sizeof c);
    cache_settings_default(&c);
    rows_are_defaults("cache_options", cache_options, cache_options_n, &c,
                      sizeof c);
    ram_settings_t r;
    flash_settings_t f;
    ram_settings_default(&r);
    flash_settings_default(&f);
    cr_assert(memcmp(&c.ram, &r, sizeof r) == 0);
    cr_assert(memcmp(&c.flash, &f, sizeof f) == 0);
    cr_assert_eq(c.flash_promote, CACHE_PROMOTE_SECOND_HIT);
    cr_assert_eq(c.flash_promote_rate, 1000);
    cr_assert_null(c.memory_file);
    cr_assert_null(c.err);
}

typedef struct toy {
    int a;
    unsigned b;
    double d;
    size_t z;
    uint32_t z32;
    int level;
    int word;
    bool on;
    const char *s;
} toy_t;

static const char *const toy_words[] = {"one", "two", NULL};

Test(options, a_bad_table_is_caught)
{
    char err[256];
    const option_t no_default[] = {
        {"a", OPTION_INT, offsetof(toy_t, a), "1", 0, 10, NULL, "a"},
        {"b", OPTION_UINT, offsetof(toy_t, b), NULL, 0, 10, NULL, "b"},
    };
    cr_assert_eq(option_table_check(no_default, 2, err, sizeof err),
                 OPTION_ETABLE);
    cr_assert(strstr(err, "b: no default"), "%s", err);

    const option_t twice[] = {
        {"a", OPTION_INT, offsetof(toy_t, a), "1", 0, 10, NULL, "a"},
        {"b", OPTION_UINT, offsetof(toy_t, b), "2", 0, 10, NULL, "b"},
        {"a", OPTION_DOUBLE, offsetof(toy_t, d), "1.5", 0, 10, NULL, "a"},
    };
    cr_assert_eq(option_table_check(twice, 3, err, sizeof err), OPTION_ETABLE);
    cr_assert(strstr(err, "a: declared twice"), "%s", err);

    const option_t unnamed[] = {
        {NULL, OPTION_INT, offsetof(toy_t, a), "1", 0, 10, NULL, "a"},
    };
    cr_assert_eq(option_table_check(unnamed, 1, err, sizeof err),
                 OPTION_ETABLE);

    const option_t out_of_range[] = {
        {"a", OPTION_INT, offsetof(toy_t, a), "11", 0, 10, NULL, "a"},
    };
    cr_assert_eq(option_table_check(out_of_range, 1, err, sizeof err),
                 OPTION_ETABLE);
    cr_assert(strstr(err, "range"), "%s", err);

    const option_t not_a_size[] = {
        {"z", OPTION_SIZE, offsetof(toy_t, z), "1mb", 0, 1e12, NULL, "z"},
    };
    cr_assert_eq(option_table_check(not_a_size, 1, err, sizeof err),
                 OPTION_ETABLE);
}

Test(options, values_parse_by_type)
{
    const option_t tab[] = {
        {"a", OPTION_INT, offsetof(toy_t, a), "-3", -5, 5, NULL, "a"},
        {"b", OPTION_UINT, offsetof(toy_t, b), "7", 0, 10, NULL, "b"},
        {"d", OPTION_DOUBLE, offsetof(toy_t, d), "0.25", 0, 1, NULL, "d"},
        {"z", OPTION_SIZE, offsetof(toy_t, z), "3m", 0, 1e12, NULL, "z"},
        {"z32", OPTION_SIZE32, offsetof(toy_t, z32), "4k", 1, 1e9, NULL, "z"},
        {"level", OPTION_LEVEL, offsetof(toy_t, level), "none", -100, 22,
         NULL, "l"},
        {"word", OPTION_ENUM, offsetof(toy_t, word), "two", 0, 0, toy_words,
         "w"},
        {"on", OPTION_BOOL, offsetof(toy_t, on), "yes", 0, 0, NULL, "o"},
        {"s", OPTION_STR, offsetof(toy_t, s), "none", 0, 0, NULL, "s"},
    };
    toy_t t;
    memset(&t, 0xFF, sizeof t);
    option_defaults(tab, sizeof tab / sizeof tab[0], &t);
    cr_assert_eq(t.a, -3);
    cr_assert_eq(t.b, 7);
    cr_assert_float_eq(t.d, 0.25, 1e-12);
    cr_assert_eq(t.z, 3 * MiB);
    cr_assert_eq(t.z32, 4096);
    cr_assert_eq(t.level, OPTION_LEVEL_NONE);
    cr_assert_eq(t.word, 1);
    cr_assert(t.on);
    cr_assert_null(t.s);
    /* a refused value writes nothing */
    cr_assert_eq(option_set(&tab[0], &t, "6"), OPTION_ERANGE);
    cr_assert_eq(option_set(&tab[0], &t, "x"), OPTION_EPARSE);
    cr_assert_eq(option_set(&tab[5], &t, "23"), OPTION_ERANGE);
    cr_assert_eq(option_set(&tab[6], &t, "three"), OPTION_EPARSE);
    cr_assert_eq(option_set(&tab[7], &t, "on"), OPTION_EPARSE);
    cr_assert_eq(t.a, -3);
    cr_assert_eq(t.level, OPTION_LEVEL_NONE);
    cr_assert_eq(t.word, 1);
    cr_assert_eq(option_set(&tab[5], &t, "-7"), OPTION_OK);
    cr_assert_eq(t.level, -7);
    cr_assert_eq(option_find(tab, 9, "word"), &tab[6]);
    cr_assert_null(option_find(tab, 9, "nope"));
}
