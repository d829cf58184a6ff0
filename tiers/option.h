/*
 * tiers/option.h - a module's options as one table (Pelikan's model).
 *
 * Each module that has settings declares every option of its settings
 * struct once, as a row: its name, C type, where the value goes (offsetof
 * into the module's struct), its default as text, a range and a line of
 * help. The module's *_settings_default() fills the struct FROM the table
 * (option_defaults), so a default is written in exactly one place; the
 * binary gathers the tables (server/settings*.c) to check that what -h,
 * the man page and `stats settings` show is what the code starts with.
 *
 * Tables today: ram_options (tiers/ram/ram_settings.h), flash_options
 * (tiers/flash/flash_settings.h), cache_options (the door's own, cache.h).
 *
 * Includes only the C library: the RAM and flash engines include it
 * without the door's header.
 */
#ifndef TIERCACHE_OPTION_H
#define TIERCACHE_OPTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum option_type {
    OPTION_BOOL,    /* bool: "yes" / "no" */
    OPTION_INT,     /* int, decimal, min..max */
    OPTION_UINT,    /* unsigned, decimal, min..max */
    OPTION_U32,     /* uint32_t, decimal, min..max */
    OPTION_DOUBLE,  /* double, min..max */
    OPTION_SIZE,    /* size_t bytes, k/m/g/t suffix, min..max */
    OPTION_SIZE32,  /* uint32_t bytes, k/m/g suffix, min..max */
    OPTION_SIZE64,  /* uint64_t bytes, k/m/g/t suffix, min..max */
    OPTION_LEVEL,   /* int: a zstd level in min..max, or "none"
                       (OPTION_LEVEL_NONE) */
    OPTION_ENUM,    /* int-sized enum: the index of the text in `words` */
    OPTION_STR,     /* const char *: only the default "none" (NULL) */
} option_type_e;

/* OPTION_LEVEL's "none" (== the flash tier's FLASH_LEVEL_NONE). */
#define OPTION_LEVEL_NONE INT32_MIN

typedef struct option_row { /* not "struct option": getopt.h has one */
    const char *name;         /* unique in its table: the tiercache flag
                                 (--name) or -o name it answers to, or
                                 the field's name when no flag sets it */
    option_type_e type;
    size_t off;               /* offsetof in the module's settings struct */
    const char *def;          /* the default, as text (never NULL) */
    double min, max;          /* numeric range (inclusive) */
    const char *const *words; /* OPTION_ENUM: the names, NULL-terminated */
    const char *help;         /* one line */
} option_t;

typedef enum option_status {
    OPTION_OK = 0,
    OPTION_EPARSE,   /* the text is not a value of the row's type */
    OPTION_ERANGE,   /* outside min..max */
    OPTION_ETABLE,   /* a bad table: a row without name or default, or a
                        name used twice */
} option_status_e;

/* A static name for a status. Never NULL. */
const char *option_strerror(option_status_e st);

/* Parses `text` as row o's type and range and stores it at base + o->off.
 * Nothing is written unless OPTION_OK. */
option_status_e option_set(const option_t *o, void *base, const char *text);

/* Checks a table: every row has a name and a default that option_set
 * accepts, no name appears twice. On failure err[errlen] names the row. */
option_status_e option_table_check(const option_t *tab, size_t n, char *err,
                                   size_t errlen);

/* Fills base with every row's default. Fields without a row are left as
 * they are. A table that fails option_table_check aborts (a build bug). */
void option_defaults(const option_t *tab, size_t n, void *base);

/* The row called `name`, NULL if none. */
const option_t *option_find(const option_t *tab, size_t n, const char *name);

#endif /* TIERCACHE_OPTION_H */
