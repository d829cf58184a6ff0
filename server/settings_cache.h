/*
 * server/settings_cache.h - the flags the storage engines own, mapped onto
 * cache_settings_t (tiers/cache.h).
 *
 * Each of those flags has its default in its engine's option table
 * (tiers/option.h: ram_options, flash_options, cache_options); the server's
 * flag table only names it in memcached's words (settings.c, MODULE_DEF).
 * One list of links (settings_cache.c) maps a settings_t field to its
 * engine field both ways: settings_default() takes the engines' defaults
 * through it and settings_to_cache() hands the parsed flags to the cache.
 */
#ifndef TIERCACHE_SETTINGS_CACHE_H
#define TIERCACHE_SETTINGS_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "cache.h"
#include "settings.h"

/* Fills *cs for cache_create(): cache_settings_default(), then every flag
 * an engine owns from *s (which settings_parse() has checked). Strings in
 * *cs point into *s: *s must outlive the cache_create() call. */
void settings_to_cache(const settings_t *s, cache_settings_t *cs);

/*
 * Checks the engines' tables and the links: every table passes
 * option_table_check (a name and a default each, no name twice), every
 * link names an existing row of its engine's table at the field it maps,
 * every server row marked MODULE_DEF is linked, and the flags' defaults
 * (settings_default()) hand cache_create exactly cache_settings_default().
 * False with the first problem in err[errlen].
 */
bool settings_engines_agree(char *err, size_t errlen);

#endif /* TIERCACHE_SETTINGS_CACHE_H */
