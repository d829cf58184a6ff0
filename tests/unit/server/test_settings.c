/* tests/unit/server/test_settings.c - the flag table: defaults, sizes with
 * k/m/g suffixes, -o sub-options, bad values (SETTINGS_EUSAGE), cross-flag
 * checks and `stats settings` values. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "settings.h"
#include "settings_cache.h"
#include "settings_int.h" /* opt_t rows, settings_table_check */

#define MiB ((size_t)1024 * 1024)

static settings_t s;
static char *argv_buf[32];
static int argc_buf;

static void setup(void)
{
    /* -h/-V/-i print on stdout: keep it away from the TAP stream */
    cr_assert_not_null(freopen("/dev/null", "w", stdout));
    settings_default(&s);
}

static void teardown(void)
{
    settings_free(&s);
    for (int i = 0; i < argc_buf; i++)
        free(argv_buf[i]);
    argc_buf = 0;
}

TestSuite(settings, .init = setup, .fini = teardown);

/* Parses "tiercache" followed by the NULL-terminated arguments. */
static settings_status_e parse(const char *first, ...)
{
    for (int i = 0; i < argc_buf; i++)
        free(argv_buf[i]);
    argc_buf = 0;
    argv_buf[argc_buf++] = strdup("tiercache");
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        cr_assert_lt(argc_buf, 31);
        argv_buf[argc_buf++] = strdup(a);
    }
    va_end(ap);
    argv_buf[argc_buf] = NULL;
    /* a fresh table for every parse */
    settings_free(&s);
    settings_default(&s);
    return settings_parse(&s, argc_buf, argv_buf);
}

Test(settings, defaults_are_memcached_ones)
{
    cr_assert_eq(s.port, 11211);
    cr_assert_eq(s.udp_port, 0);
    cr_assert_str_eq(s.listen, "127.0.0.1");
    cr_assert_eq(s.maxconns, 1024);
    cr_assert_eq(s.backlog, 1024);
    cr_assert_eq(s.threads, 4);
    cr_assert_eq(s.reqs_per_event, 20);
    cr_assert_str_eq(s.protocol, "auto");
    cr_assert_eq(s.unix_mask, 0700);
    cr_assert_eq(s.mem_mb, 64);
    cr_assert_eq(s.item_size_max, MiB);
    cr_assert_float_eq(s.growth, 1.25, 1e-9);
    cr_assert_eq(s.chunk_min, 48);
    cr_assert(s.lru_crawler);
    cr_assert(s.lru_maintainer);
    cr_assert_eq(s.lru_crawler_sleep, 100);
    cr_assert_eq(s.hot_lru_pct, 20);
    cr_assert_eq(s.warm_lru_pct, 40);
    cr_assert_float_eq(s.hot_max_factor, 0.2, 1e-9);
    cr_assert_float_eq(s.warm_max_factor, 2.0, 1e-9);
    cr_assert(!s.enable_shutdown);
    cr_assert(!s.no_cas);
    cr_assert(!s.no_evictions);
    cr_assert_eq(s.verbose, 0);
    cr_assert_eq(parse(NULL), SETTINGS_OK, "no flags is a valid command line");
}

Test(settings, item_size_suffixes)
{
    cr_assert_eq(parse("-I", "2m", NULL), SETTINGS_OK);
    cr_assert_eq(s.item_size_max, 2 * MiB);
    cr_assert_eq(parse("-I", "2M", NULL), SETTINGS_OK);
    cr_assert_eq(s.item_size_max, 2 * MiB);
    cr_assert_eq(parse("-I", "512k", NULL), SETTINGS_OK);
    cr_assert_eq(s.item_size_max, 512 * 1024);
    cr_assert_eq(parse("-I", "1K", NULL), SETTINGS_OK);
    cr_assert_eq(s.item_size_max, 1024);
    cr_assert_eq(parse("-I", "4096", NULL), SETTINGS_OK);
    cr_assert_eq(s.item_size_max, 4096);
    cr_assert_eq(parse("--max-item-size=3m", NULL), SETTINGS_OK);
    cr_assert_eq(s.item_size_max, 3 * MiB);
    cr_assert_eq(parse("-m", "2048", "-I", "1g", NULL), SETTINGS_OK);
    cr_assert_eq(s.item_size_max, 1024 * MiB);
}

Test(settings, item_size_rejected)
{
    cr_assert_eq(parse("-I", "1023", NULL), SETTINGS_EUSAGE, "below 1 KiB");
    cr_assert_eq(parse("-I", "10x", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("-I", "k", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("-I", "-1", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("-I", "1mb", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("-m", "4096", "-I", "2g", NULL), SETTINGS_EUSAGE, "over 1 GiB");
    cr_assert_eq(parse("-I", "64m", NULL), SETTINGS_EUSAGE, "over half of -m 64");
    cr_assert_eq(parse("-I", "32m", NULL), SETTINGS_OK, "exactly half of -m 64");
}

Test(settings, memory_and_numbers)
{
    cr_assert_eq(parse("-m", "128", NULL), SETTINGS_OK);
    cr_assert_eq(s.mem_mb, 128);
    cr_assert_eq(parse("-m", "0", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("-m", "abc", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("-m", "-5", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("-p", "0", NULL), SETTINGS_OK);
    cr_assert_eq(s.port, 0);
    cr_assert_eq(parse("-p", "65536", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("-p", "12x", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("-t", "0", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("-t", "8", "-c", "10", "-b", "7", "-R", "3", NULL), SETTINGS_OK);
    cr_assert_eq(s.threads, 8);
    cr_assert_eq(s.maxconns, 10);
    cr_assert_eq(s.backlog, 7);
    cr_assert_eq(s.reqs_per_event, 3);
    cr_assert_eq(parse("-f", "2", NULL), SETTINGS_OK);
    cr_assert_float_eq(s.growth, 2.0, 1e-9);
    cr_assert_eq(parse("-f", "1.0", NULL), SETTINGS_EUSAGE, "factor must be > 1");
    cr_assert_eq(parse("-f", "x", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("-n", "0", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("-n", "64", NULL), SETTINGS_OK);
    cr_assert_eq(s.chunk_min, 64);
    cr_assert_eq(parse("-a", "755", NULL), SETTINGS_OK);
    cr_assert_eq(s.unix_mask, 0755);
    cr_assert_eq(parse("-a", "999", NULL), SETTINGS_EUSAGE, "not octal");
    cr_assert_eq(parse("-p", NULL), SETTINGS_EUSAGE, "missing value");
}

Test(settings, flags_and_strings)
{
    cr_assert_eq(parse("-A", "-C", "-M", "-F", "-X", "-L", "-vvv", "-l", "0.0.0.0",
                       "-u", "nobody", "-s", "/tmp/x.sock", "-B", "ascii", NULL),
                 SETTINGS_OK);
    cr_assert(s.enable_shutdown);
    cr_assert(s.no_cas);
    cr_assert(s.no_evictions);
    cr_assert(s.no_flush);
    cr_assert(s.no_dump);
    cr_assert(s.prealloc);
    cr_assert_eq(s.verbose, 3);
    cr_assert_str_eq(s.listen, "0.0.0.0");
    cr_assert_str_eq(s.user, "nobody");
    cr_assert_str_eq(s.socket_path, "/tmp/x.sock");
    cr_assert_str_eq(s.protocol, "ascii");
    cr_assert_eq(parse("-B", "bogus", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("-B", "binary", NULL), SETTINGS_OK, "accepted with a warning");
    cr_assert_eq(parse("--enable-shutdown", "--disable-cas", NULL), SETTINGS_OK);
    cr_assert(s.enable_shutdown && s.no_cas);
}

Test(settings, bad_command_lines)
{
    cr_assert_eq(parse("-9", NULL), SETTINGS_EUSAGE, "unknown flag");
    cr_assert_eq(parse("--no-such-option", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("stray", NULL), SETTINGS_EUSAGE, "non-option argument");
    cr_assert_eq(parse("-N", "4", NULL), SETTINGS_OK, "meaningless flags warn, not fail");
    cr_assert_eq(parse("-U", "0", NULL), SETTINGS_OK);
}

Test(settings, auth_flags_force_their_protocol)
{
    cr_assert_eq(parse("-S", NULL), SETTINGS_OK);
    cr_assert(s.sasl);
    cr_assert_str_eq(s.protocol, "binary");
    cr_assert_eq(parse("-S", "-B", "binary", NULL), SETTINGS_OK);
    cr_assert_eq(parse("-S", "-B", "ascii", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("-S", "-B", "auto", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("-S", "-U", "11211", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("-Y", "/some/file", NULL), SETTINGS_OK);
    cr_assert_str_eq(s.auth_file, "/some/file");
    cr_assert_str_eq(s.protocol, "ascii");
    cr_assert_eq(parse("-Y", "f", "-B", "auto", NULL), SETTINGS_OK);
    cr_assert_eq(parse("-Y", "f", "-B", "binary", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("-Y", "f", "-U", "11211", NULL), SETTINGS_EUSAGE);
    /* both: ascii authentication on text (memcached); any -B refused */
    cr_assert_eq(parse("-S", "-Y", "f", NULL), SETTINGS_OK);
    cr_assert_str_eq(s.protocol, "ascii");
    cr_assert_eq(parse("-S", "-Y", "f", "-B", "binary", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("-S", "-Y", "f", "-B", "ascii", NULL), SETTINGS_EUSAGE);
}

Test(settings, limits_are_kept)
{
    cr_assert_eq(parse("-o", "idle_timeout=7,read_buf_mem_limit=3", NULL),
                 SETTINGS_OK);
    cr_assert_eq(s.idle_timeout, 7);
    cr_assert_eq(s.read_buf_mem_limit, 3);
    cr_assert_eq(parse("-o", "read_buf_mem_limit=abc", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("-o", "idle_timeout=-1", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("-k", NULL), SETTINGS_OK);
    cr_assert(s.lock_memory);
}

Test(settings, help_and_version_exit)
{
    cr_assert_eq(parse("-h", NULL), SETTINGS_EXIT);
    cr_assert_eq(parse("-V", NULL), SETTINGS_EXIT);
    cr_assert_eq(parse("-i", NULL), SETTINGS_EXIT);
}

Test(settings, extended_options)
{
    cr_assert_eq(parse("-o", "hashpower=20,no_lru_crawler,lru_crawler_sleep=50,"
                             "hot_lru_pct=10,warm_lru_pct=60,no_lru_maintainer,"
                             "hot_max_factor=0.5,warm_max_factor=3,no_maxconns_fast",
                       NULL),
                 SETTINGS_OK);
    cr_assert_eq(s.hashpower, 20);
    cr_assert(!s.lru_crawler);
    cr_assert_eq(s.lru_crawler_sleep, 50);
    cr_assert_eq(s.hot_lru_pct, 10);
    cr_assert_eq(s.warm_lru_pct, 60);
    cr_assert(!s.lru_maintainer);
    cr_assert_float_eq(s.hot_max_factor, 0.5, 1e-9);
    cr_assert_float_eq(s.warm_max_factor, 3.0, 1e-9);
    cr_assert(!s.maxconns_fast);
    /* -o can repeat; later values win */
    cr_assert_eq(parse("-o", "lru_crawler_sleep=7", "-o", "lru_crawler_sleep=9", NULL),
                 SETTINGS_OK);
    cr_assert_eq(s.lru_crawler_sleep, 9);
    cr_assert_eq(parse("-o", "slab_chunk_max=512k", NULL), SETTINGS_OK);
    cr_assert_eq(s.slab_chunk_max, 512 * 1024);
    cr_assert_eq(parse("-o", "ext_item_size=512,modern", NULL), SETTINGS_OK,
                 "meaningless sub-options warn, not fail");
}

Test(settings, extended_options_rejected)
{
    cr_assert_eq(parse("-o", "bogus", NULL), SETTINGS_EUSAGE, "unknown sub-option");
    cr_assert_eq(parse("-o", "hashpower", NULL), SETTINGS_EUSAGE, "missing value");
    cr_assert_eq(parse("-o", "hashpower=33", NULL), SETTINGS_EUSAGE, "out of range");
    cr_assert_eq(parse("-o", "hashpower=x", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("-o", "no_hashpower", NULL), SETTINGS_EUSAGE, "no_ only for booleans");
    cr_assert_eq(parse("-o", "hot_lru_pct=50,warm_lru_pct=40", NULL), SETTINGS_EUSAGE,
                 "hot + warm over 80");
    cr_assert_eq(parse("-o", "hot_lru_pct=0", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("-o", "slab_chunk_max=12q", NULL), SETTINGS_EUSAGE);
}

typedef struct stat_out {
    char names[128][48];
    char values[128][64];
    int n;
} stat_out_t;

static void emit(void *ctx, const char *name, const char *value)
{
    stat_out_t *o = ctx;
    cr_assert_lt(o->n, 128);
    snprintf(o->names[o->n], sizeof o->names[0], "%s", name);
    snprintf(o->values[o->n], sizeof o->values[0], "%s", value);
    o->n++;
}

static const char *stat_of(const stat_out_t *o, const char *name)
{
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->names[i], name) == 0)
            return o->values[i];
    return NULL;
}

Test(settings, stats_settings_values)
{
    cr_assert_eq(parse("-m", "128", "-C", "-M", "-I", "2m", "-t", "3", NULL), SETTINGS_OK);
    static stat_out_t o;
    memset(&o, 0, sizeof o);
    settings_stats(&s, 40000, emit, &o);
    /* memcached's order starts maxbytes, maxconns, tcpport, udpport */
    cr_assert_str_eq(o.names[0], "maxbytes");
    cr_assert_str_eq(o.names[1], "maxconns");
    cr_assert_str_eq(o.names[2], "tcpport");
    cr_assert_str_eq(stat_of(&o, "maxbytes"), "134217728");
    cr_assert_str_eq(stat_of(&o, "tcpport"), "40000");
    cr_assert_str_eq(stat_of(&o, "cas_enabled"), "no");
    cr_assert_str_eq(stat_of(&o, "evictions"), "off");
    cr_assert_str_eq(stat_of(&o, "item_size_max"), "2097152");
    cr_assert_str_eq(stat_of(&o, "num_threads"), "3");
    cr_assert_str_eq(stat_of(&o, "growth_factor"), "1.25");
    cr_assert_str_eq(stat_of(&o, "binding_protocol"), "auto-negotiate");
    cr_assert_str_eq(stat_of(&o, "umask"), "700");
    cr_assert_str_eq(stat_of(&o, "lru_crawler"), "yes");
    cr_assert_str_eq(stat_of(&o, "flush_enabled"), "yes");
    cr_assert_str_eq(stat_of(&o, "hot_max_factor"), "0.20");
    cr_assert_null(stat_of(&o, "daemonize"), "process flags have no stat");
    for (int i = 0; i < o.n; i++)
        for (int j = i + 1; j < o.n; j++)
            cr_assert_str_neq(o.names[i], o.names[j], "duplicate stat %s", o.names[i]);
}

/* The table's default texts (what -h and the man page print) are the
 * values settings_default() sets. */
Test(settings, table_defaults_agree_with_settings_default)
{
    char err[256] = "";
    cr_assert(settings_defaults_agree(err, sizeof(err)), "%s", err);
}

/* Issue 13 item 3: the flags an engine owns start at that engine's
 * defaults (its option table) and reach cache_create through one list of
 * links (settings_cache.c), with the unit each engine wants. */
Test(settings, engine_flags_reach_the_cache_settings)
{
    cache_settings_t cs, def;
    cache_settings_default(&def);
    cr_assert_eq(parse(NULL), SETTINGS_OK);
    settings_to_cache(&s, &cs);
    cr_assert(memcmp(&cs.ram, &def.ram, sizeof def.ram) == 0,
              "no flags: the RAM tier's own defaults");
    cr_assert(memcmp(&cs.flash, &def.flash, sizeof def.flash) == 0,
              "no flags: the flash tier's own defaults");
    cr_assert_eq(cs.flash_promote, def.flash_promote);
    cr_assert_eq(cs.flash_promote_rate, def.flash_promote_rate);
    cr_assert_null(cs.memory_file);

    cr_assert_eq(parse("-m", "128", "-M", "-C", "-n", "64", "-f", "1.5",
                       "-o", "hashpower=20,no_lru_crawler,ext_item_age=30",
                       "--flash-path", "/tmp/x", "--flash-compression", "none",
                       "--flash-promote", "always", "--flash-checkpoint-interval",
                       "5", "--flash-segment-size", "2m", "--flash-index-mem",
                       "1m", "-e", "/tmp/m", NULL),
                 SETTINGS_OK);
    settings_to_cache(&s, &cs);
    cr_assert_eq(cs.ram.mem_limit, 128 * MiB, "-m is megabytes");
    cr_assert(!cs.ram.evict_to_free, "-M");
    cr_assert(!cs.ram.use_cas, "-C");
    cr_assert_eq(cs.ram.slab_chunk_min, 64);
    cr_assert_float_eq(cs.ram.slab_growth, 1.5, 1e-12);
    cr_assert_eq(cs.ram.hash_power, 20);
    cr_assert(!cs.ram.crawler_thread);
    cr_assert(cs.ram.maintainer_thread);
    cr_assert_eq(cs.ram.flash_item_age, 30);
    cr_assert_str_eq(cs.flash.path, "/tmp/x");
    cr_assert_eq(cs.flash.compression_level, CACHE_FLASH_NO_COMPRESSION);
    cr_assert_eq(cs.flash_promote, CACHE_PROMOTE_ALWAYS);
    cr_assert_eq(cs.flash.checkpoint_ms, 5000, "seconds on the command line");
    cr_assert_eq(cs.flash.segment_size, 2 * MiB);
    cr_assert_eq(cs.flash_index_mem, MiB);
    cr_assert_str_eq(cs.memory_file, "/tmp/m");
    cr_assert_eq(parse("--flash-path", "/tmp/x", "--flash-compression", "7",
                       NULL), SETTINGS_OK);
    settings_to_cache(&s, &cs);
    cr_assert_eq(cs.flash.compression_level, 7);
    /* fast ingest: on by default (issue 14 item 3), off with -o
     * no_flash_fast_ingest, and the long flag still says on */
    cr_assert(def.flash.fast_ingest, "on by default");
    cr_assert_eq(parse("--flash-path", "/tmp/x", "-o", "no_flash_fast_ingest", NULL),
                 SETTINGS_OK);
    settings_to_cache(&s, &cs);
    cr_assert(!cs.flash.fast_ingest, "-o no_flash_fast_ingest");
    cr_assert_eq(parse("--flash-path", "/tmp/x", "--flash-fast-ingest", NULL), SETTINGS_OK);
    settings_to_cache(&s, &cs);
    cr_assert(cs.flash.fast_ingest);
}

/* A flag table with a name on two rows, or a stat without a default, is
 * caught (settings_defaults_agree runs this on the real table). */
Test(settings, a_bad_flag_table_is_caught)
{
    char err[256] = "";
    const opt_t good[] = {
        {'m', "memory-limit", NULL, T_MB, OFF(mem_mb), "64", "h", "maxbytes",
         F_MB_BYTES, 1, 0},
        {0, NULL, "hashpower", T_INT, OFF(hashpower), "0", "h",
         "hashpower_init", F_DEFAULT, 0, 32},
    };
    cr_assert(settings_table_check(good, 2, err, sizeof err), "%s", err);
    const opt_t two_short[] = {
        good[0],
        {'m', "other", NULL, T_INT, OFF(port), "1", "h", NULL, F_DEFAULT, 0, 9},
    };
    cr_assert_not(settings_table_check(two_short, 2, err, sizeof err));
    cr_assert(strstr(err, "short flag"), "%s", err);
    const opt_t two_onames[] = {
        good[1],
        {0, NULL, "hashpower", T_INT, OFF(port), "1", "h", NULL, F_DEFAULT, 0,
         9},
    };
    cr_assert_not(settings_table_check(two_onames, 2, err, sizeof err));
    cr_assert(strstr(err, "-o name"), "%s", err);
    const opt_t two_stats[] = {
        good[0],
        {0, "x", NULL, T_INT, OFF(port), "1", "h", "maxbytes", F_DEFAULT, 0, 9},
    };
    cr_assert_not(settings_table_check(two_stats, 2, err, sizeof err));
    cr_assert(strstr(err, "stat name"), "%s", err);
    const opt_t no_default[] = {
        {0, "x", NULL, T_INT, OFF(port), NULL, "h", "tcpport", F_DEFAULT, 0, 9},
    };
    cr_assert_not(settings_table_check(no_default, 1, err, sizeof err));
    cr_assert(strstr(err, "no default"), "%s", err);
}

/* Issue 12 item 4: memcached 1.6.18's behaviour for these. */
Test(settings, memcached_port_rules)
{
    cr_assert_eq(parse("-U", "4000", NULL), SETTINGS_OK);
    cr_assert_eq(s.port, 4000, "without -p, TCP takes -U's port");
    cr_assert_eq(parse("-U", "4000", "-p", "4001", NULL), SETTINGS_OK);
    cr_assert_eq(s.port, 4001);
    cr_assert_eq(parse("-p", "-1", NULL), SETTINGS_OK, "-1: ephemeral");
    cr_assert_eq(s.port, 0);
    cr_assert(s.port_any);
    static stat_out_t o;
    memset(&o, 0, sizeof o);
    settings_stats(&s, 40000, emit, &o);
    cr_assert_str_eq(stat_of(&o, "tcpport"), "-1", "memcached shows -1");
    cr_assert_eq(parse("-p", "-2", NULL), SETTINGS_EUSAGE);
}

Test(settings, memcached_extended_rules)
{
    cr_assert_eq(parse("-o", "slab_automove=0", "-o", "slab_automove", NULL),
                 SETTINGS_OK);
    cr_assert_eq(s.slab_automove, 1, "a bare slab_automove is 1");
    cr_assert_eq(parse("-o", "no_modern", NULL), SETTINGS_OK);
    cr_assert(!s.maxconns_fast && !s.slab_reassign && !s.lru_crawler &&
              !s.lru_maintainer && !s.lru_segmented);
    cr_assert_eq(s.slab_automove, 0);
    cr_assert_str_eq(s.hash_algorithm, "jenkins");
    cr_assert_eq(s.slab_chunk_max, 1024 * 1024);
    cr_assert_eq(parse("-o", "no_modern,lru_crawler,slab_reassign", NULL),
                 SETTINGS_OK);
    cr_assert(s.lru_crawler && s.slab_reassign, "later options override");
    cr_assert_eq(parse("-o", "temporary_ttl=30", NULL), SETTINGS_OK);
    cr_assert(s.temp_lru);
    cr_assert_eq(s.temporary_ttl, 30);
    cr_assert_eq(parse("-o", "temporary_ttl=30,no_lru_maintainer", NULL),
                 SETTINGS_EUSAGE, "memcached: needs lru_maintainer");
    cr_assert_eq(parse("-o", "no_lru_maintainer", NULL), SETTINGS_OK);
    cr_assert(!s.lru_segmented, "lru_segmented follows the maintainer");
}

Test(settings, flash_flags_need_a_path)
{
    cr_assert_eq(parse("--flash-size", "1g", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("--flash-promote", "always", NULL), SETTINGS_EUSAGE);
    cr_assert_eq(parse("--flash-path", "/tmp/x", "--flash-size", "1g", NULL),
                 SETTINGS_OK);
}

/* Writes `text` to a fresh temporary file; returns its path (static). */
static const char *conf_file(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/tc-settings-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

Test(settings, config_file)
{
    const char *p = conf_file("# Debian-style\n\n   # indented comment\n"
                              "-m 32\n-c 100\n--listen 127.0.0.2\n"
                              "-o hashpower=12,no_lru_crawler\n-v\n\t-A  \n");
    char arg[80];
    snprintf(arg, sizeof(arg), "--config-file=%s", p);
    cr_assert_eq(parse(arg, "-c", "200", NULL), SETTINGS_OK);
    cr_assert_eq(s.mem_mb, 32);
    cr_assert_eq(s.maxconns, 200, "the command line overrides the file");
    cr_assert_str_eq(s.listen, "127.0.0.2");
    cr_assert_eq(s.hashpower, 12);
    cr_assert(!s.lru_crawler);
    cr_assert_eq(s.verbose, 1);
    cr_assert(s.enable_shutdown);
    unlink(p);
    static const char *const bad[] = {
        "-m 32\nmemory 64\n",      /* not a flag */
        "-m abc\n",                /* bad value */
        "--no-such-flag\n",        /* unknown flag */
        "--config-file /etc/x\n",  /* nesting */
        "-m 32 extra\n",           /* a value with a space: -m refuses it */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p = conf_file(bad[i]);
        cr_assert_eq(parse("--config-file", p, NULL), SETTINGS_EUSAGE, "%s",
                     bad[i]);
        unlink(p);
    }
    cr_assert_eq(parse("--config-file", "/nonexistent/tiercache.conf", NULL),
                 SETTINGS_EUSAGE);
}
