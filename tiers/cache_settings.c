/*
 * tiers/cache_settings.c - the door's own options and cache_settings_default
 * (cache.h): the engines' defaults come from their own tables, the door
 * adds only what is its own (promotion policy, index memory, -e file).
 */
#include "cache.h"

#include <string.h>

#define CS_OFF(f) offsetof(cache_settings_t, f)

_Static_assert(sizeof(cache_flash_promote_e) == sizeof(int),
               "OPTION_ENUM stores an int");

static const char *const promote_words[] = {"second-hit", "always", "never",
                                            NULL};

const option_t cache_options[] = {
    {"flash-promote", OPTION_ENUM, CS_OFF(flash_promote), "second-hit", 0, 0,
     promote_words, "copy flash hits back to RAM: second-hit, always, never"},
    {"flash-promote-rate", OPTION_UINT, CS_OFF(flash_promote_rate), "1000", 0,
     100000000, NULL, "most promotions per second per worker (0: no limit)"},
    {"flash-index-mem", OPTION_SIZE64, CS_OFF(flash_index_mem), "0", 0,
     (double)UINT64_MAX, NULL,
     "most bytes of the flash index (0: the flash tier's default)"},
    {"memory-file", OPTION_STR, CS_OFF(memory_file), "none", 0, 0, NULL,
     "warm restart file of a RAM-only cache"},
};

const size_t cache_options_n = sizeof cache_options / sizeof cache_options[0];

void cache_settings_default(cache_settings_t *s)
{
    memset(s, 0, sizeof *s); /* err: none */
    ram_settings_default(&s->ram);
    flash_settings_default(&s->flash);
    option_defaults(cache_options, cache_options_n, s);
}
