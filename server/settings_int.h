/*
 * server/settings_int.h - the flag table's row type, shared by the files of
 * the settings module (not by the rest of the server: settings.h is its
 * door).
 *
 *   settings.c        the table (settings_opts), settings_default, _free
 *   settings_parse.c  argv, -o lists, the config file, cross-flag checks
 *   settings_help.c   -h and the man page
 *   settings_stats.c  `stats settings` and the defaults check
 *   settings_cache.c  the flags the engines own: their defaults come from
 *                     the engines' option tables (tiers/option.h)
 */
#ifndef TIERCACHE_SETTINGS_INT_H
#define TIERCACHE_SETTINGS_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "settings.h"

typedef enum opt_type {
    T_INT,      /* int, min..max */
    T_OCTAL,    /* unsigned, octal text */
    T_STR,      /* char *, strdup'd */
    T_SIZE,     /* size_t bytes, k/m/g suffix */
    T_MB,       /* size_t megabytes */
    T_DOUBLE,   /* double */
    T_TRUE,     /* flag: bool = true ("no_X" sub-option: false) */
    T_FALSE,    /* flag: bool = false */
    T_VERBOSE,  /* -v counts */
    T_IGNORE,   /* flag with no meaning here: warn */
    T_IGNARG,   /* flag with an argument and no meaning here: warn */
    T_HELP,
    T_VERSION,
    T_LICENSE,
    T_EXTENDED, /* -o list */
    T_CONST,    /* stats only */
    T_MBYTES,   /* size_t bytes, given in megabytes (memcached's ext_*) */
    T_EXTPATH,  /* -o ext_path=FILE:SIZE -> flash_path, flash_size */
    T_CONFIG,   /* --config-file FILE: read before the command line */
    T_MAN,      /* --man (hidden): print the man page */
    T_NOMODERN, /* -o no_modern: memcached 1.4's defaults */
    T_U32,      /* uint32_t, memcached's safe_strtoul (ext_item_age) */
} opt_type_e;

typedef enum stat_fmt {
    F_DEFAULT = 0,
    F_MB_BYTES,   /* megabytes printed as bytes */
    F_PORT,       /* the bound TCP port */
    F_INTER,      /* listen list or NULL */
    F_ONOFF_INV,  /* "on" when the bool is false */
    F_YESNO_INV,  /* "yes" when the bool is false */
    F_PROTO,      /* auto -> auto-negotiate */
    F_THREADS,    /* num_threads_per_udp */
    F_FLASH,      /* shown only with a flash tier (--flash-path) */
    F_EXT,        /* memcached's ext_* row: the default text without a
                     flash tier, the value with one */
    F_STR_NO,     /* a string, or "no" when NULL */
    F_MB_INT,     /* an int of megabytes printed as bytes */
    F_NULLSTR,    /* a string, "(null)" when unset (memcached's ssl_*) */
    F_KBYTES,     /* an int of kilobytes printed as bytes */
    F_TLSVER,     /* ssl_min_version: 0..3 printed as tlsv1.0..tlsv1.3 */
    F_YESNO,      /* a bool printed as yes/no (T_CONST rows with a field) */
} stat_fmt_e;

typedef struct opt {
    char shortopt;       /* 0: none */
    const char *longopt; /* NULL: none */
    const char *oname;   /* -o sub-option name, NULL: none */
    opt_type_e type;
    size_t off;          /* offset in settings_t (unused for T_CONST etc.) */
    const char *def;     /* default, as text (help and T_CONST value) */
    const char *help;    /* NULL: not in -h */
    const char *stat;    /* `stats settings` name, NULL: none */
    stat_fmt_e fmt;
    long min, max;       /* T_INT range */
} opt_t;

#define OFF(f) offsetof(settings_t, f)
#define NOOFF 0

/* The rows, in memcached 1.6.18's `stats settings` order (settings.c). */
extern const opt_t settings_opts[];
extern const size_t settings_nopts;
/* More rows than this fail the build (parse_argv's getopt arrays). */
#define SETTINGS_OPTS_MAX 256

/* After every refused flag: where the list of flags is. */
#define HELP_HINT "Run \"tiercache -h\" for the list of flags.\n"

/* A row's def when the value's default is an engine's (settings_cache.c):
 * -h and the man page print the value settings_default() starts with. */
extern const char settings_module_def[];
#define MODULE_DEF settings_module_def

/* Checks a flag table: no short flag, long flag, -o name or stat name on
 * two rows, and every row with a stat has a default. False with the row
 * named in err[errlen]. */
bool settings_table_check(const opt_t *tab, size_t n, char *err,
                          size_t errlen);

/* Does a row of type t take a value? */
bool opt_takes_arg(opt_type_e t);

/* "-o name", "-m/--memory-limit", "-m" or "--name" into buf[n]; returns
 * buf. */
const char *opt_label(const opt_t *o, char *buf, size_t n);

/* Applies row o with value `v` (NULL for flags) to *s; `no` is true for a
 * "no_X" sub-option. Prints a message on stderr for a bad value
 * (SETTINGS_EUSAGE); -h, -V, -i, --man print and answer SETTINGS_EXIT. */
settings_status_e opt_apply(settings_t *s, const opt_t *o, const char *v,
                            bool no);

/* The default of row o as -h and the man page print it, NULL for none.
 * buf[n] holds a default rendered from settings_default() (MODULE_DEF
 * rows). */
const char *opt_help_default(const opt_t *o, char *buf, size_t n);

/* Sets the fields of *s that an engine owns to that engine's defaults
 * (settings_cache.c: the links). */
void settings_engine_defaults(settings_t *s);

/* The range of row o's field when an engine owns it: that engine's row's
 * min..max in the flag's unit, into *min and *max. False (nothing
 * written) for a field of the server's own. */
bool settings_engine_range(const opt_t *o, long *min, long *max);

#endif /* TIERCACHE_SETTINGS_INT_H */
