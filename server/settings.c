/*
 * server/settings.c - the one table of flags: parsing, -h and `stats settings`.
 *
 * Rows are in memcached 1.6.18's `stats settings` order; rows without a
 * stat name (process flags) sit at the end. A row is a short flag and/or a
 * long option, or a `-o` sub-option (oname), or a stats-only constant.
 */
#include "settings.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const opt_t opts[] = {
    {'m', "memory-limit", NULL, T_MB, OFF(mem_mb), "64",
     "item memory in megabytes", "maxbytes", F_MB_BYTES, 1, 0},
    {'c', "conn-limit", NULL, T_INT, OFF(maxconns), "1024",
     "max simultaneous connections", "maxconns", F_DEFAULT, 1, INT_MAX},
    {'p', "port", NULL, T_INT, OFF(port), "11211",
     "TCP port to listen on (0 or -1: an ephemeral port; without -p, -U's "
     "port)", "tcpport", F_PORT, -1, 65535},
    {'U', "udp-port", NULL, T_INT, OFF(udp_port), "0",
     "UDP port to listen on (0: off; no ephemeral UDP port)", "udpport",
     F_DEFAULT, 0, 65535},
    {'l', "listen", NULL, T_STR, OFF(listen), "127.0.0.1",
     "interfaces to listen on, comma separated (addr or addr:port)",
     "inter", F_INTER, 0, 0},
    {'v', "verbose", NULL, T_VERBOSE, OFF(verbose), "0",
     "verbose (-vv: also client commands)", "verbosity", F_DEFAULT, 0, 0},
    {0, NULL, NULL, T_CONST, NOOFF, "0", NULL, "oldest", F_DEFAULT, 0, 0},
    {'M', "disable-evictions", NULL, T_TRUE, OFF(no_evictions), "off",
     "return an error on memory exhausted instead of evicting", "evictions",
     F_ONOFF_INV, 0, 0},
    {'s', "unix-socket", NULL, T_STR, OFF(socket_path), "none",
     "UNIX socket to listen on (disables TCP)", "domain_socket", F_DEFAULT, 0,
     0},
    {'a', "unix-mask", NULL, T_OCTAL, OFF(unix_mask), "700",
     "access mask for the UNIX socket, in octal", "umask", F_DEFAULT, 0, 0},
    {'A', "enable-shutdown", NULL, T_TRUE, OFF(enable_shutdown), "no",
     "enable the ascii \"shutdown\" command", "shutdown_command", F_DEFAULT, 0,
     0},
    {'f', "slab-growth-factor", NULL, T_DOUBLE, OFF(growth), "1.25",
     "chunk size growth factor", "growth_factor", F_DEFAULT, 0, 0},
    {'n', "slab-min-size", NULL, T_INT, OFF(chunk_min), "48",
     "min space used for key+value+flags", "chunk_size", F_DEFAULT, 1, 1 << 20},
    {'t', "threads", NULL, T_INT, OFF(threads), "4",
     "number of worker threads", "num_threads", F_DEFAULT, 1, 1024},
    {0, NULL, NULL, T_CONST, OFF(threads), "4", NULL, "num_threads_per_udp",
     F_THREADS, 0, 0},
    {'D', NULL, NULL, T_STR, OFF(delimiter), ":",
     "delimiter between key prefixes and IDs (stats detail)",
     "stat_key_prefix", F_DEFAULT, 0, 0},
    {0, NULL, NULL, T_CONST, NOOFF, "no", NULL, "detail_enabled", F_DEFAULT, 0,
     0},
    {'R', "max-reqs-per-event", NULL, T_INT, OFF(reqs_per_event), "20",
     "max requests processed per connection per event", "reqs_per_event",
     F_DEFAULT, 1, INT_MAX},
    {'C', "disable-cas", NULL, T_TRUE, OFF(no_cas), "no",
     "disable use of CAS", "cas_enabled", F_YESNO_INV, 0, 0},
    {'b', "listen-backlog", NULL, T_INT, OFF(backlog), "1024",
     "the backlog queue limit", "tcp_backlog", F_DEFAULT, 1, INT_MAX},
    {'B', "protocol", NULL, T_STR, OFF(protocol), "auto",
     "protocol: ascii, binary or auto (auto: from the first byte)",
     "binding_protocol", F_PROTO, 0, 0},
    {'S', "enable-sasl", NULL, T_TRUE, OFF(sasl), "no",
     "SASL authentication on the binary protocol (Cyrus SASL, application "
     "memcached, $SASL_CONF_PATH)", "auth_enabled_sasl", F_DEFAULT, 0, 0},
    {0, NULL, NULL, T_STR, OFF(auth_file), "no", NULL, "auth_enabled_ascii",
     F_STR_NO, 0, 0},
    {'I', "max-item-size", NULL, T_SIZE, OFF(item_size_max), "1m",
     "max item size (min: 1k, max: 1024m)", "item_size_max", F_DEFAULT, 0, 0},
    {0, NULL, "maxconns_fast", T_TRUE, OFF(maxconns_fast), "yes",
     "close new connections at once over the limit", "maxconns_fast",
     F_DEFAULT, 0, 0},
    {0, NULL, "hashpower", T_INT, OFF(hashpower), "0",
     "initial log2 of hash buckets (0: 16)", "hashpower_init", F_DEFAULT, 0,
     32},
    {0, NULL, "slab_reassign", T_TRUE, OFF(slab_reassign), "yes",
     "allow moving slab pages between classes", "slab_reassign", F_DEFAULT, 0,
     0},
    {0, NULL, "slab_automove", T_INT, OFF(slab_automove), "1",
     "slab page automover: 0 off, 1 on, 2 aggressive (no value: 1)",
     "slab_automove", F_DEFAULT, 0, 2},
    {0, NULL, "slab_automove_ratio", T_IGNARG, NOOFF, "0.80", NULL,
     "slab_automove_ratio", F_DEFAULT, 0, 0},
    {0, NULL, "slab_automove_window", T_IGNARG, NOOFF, "30", NULL,
     "slab_automove_window", F_DEFAULT, 0, 0},
    {0, NULL, "slab_chunk_max", T_SIZE, OFF(slab_chunk_max), "524288",
     "largest slab chunk (no meaning here)", "slab_chunk_max", F_DEFAULT, 0,
     0},
    {0, NULL, "lru_crawler", T_TRUE, OFF(lru_crawler), "yes",
     "run the expiry crawler and allow lru_crawler crawl/metadump "
     "(no_lru_crawler: don't)", "lru_crawler", F_DEFAULT, 0, 0},
    {0, NULL, "lru_crawler_sleep", T_INT, OFF(lru_crawler_sleep), "100",
     "microseconds the crawler sleeps between batches", "lru_crawler_sleep",
     F_DEFAULT, 0, 1000000},
    {0, NULL, "lru_crawler_tocrawl", T_INT, OFF(lru_crawler_tocrawl), "0",
     "max items to crawl per class per run (ignored)", "lru_crawler_tocrawl",
     F_DEFAULT, 0, INT_MAX},
    {0, NULL, "tail_repair_time", T_INT, OFF(tail_repair_time), "0",
     "(ignored)", "tail_repair_time", F_DEFAULT, 0, INT_MAX},
    {'F', "disable-flush-all", NULL, T_FALSE, NOOFF, "yes",
     "disable the flush_all command", "flush_enabled", F_DEFAULT, 0, 0},
    {'X', "disable-dumping", NULL, T_FALSE, NOOFF, "yes",
     "disable stats cachedump and lru_crawler metadump", "dump_enabled",
     F_DEFAULT, 0, 0},
    {0, NULL, "hash_algorithm", T_STR, OFF(hash_algorithm), "murmur3",
     "hash algorithm (ignored: the tier chooses)", "hash_algorithm", F_DEFAULT,
     0, 0},
    {0, NULL, "lru_maintainer", T_TRUE, OFF(lru_maintainer), "yes",
     "run the LRU maintainer (no_lru_maintainer: don't)",
     "lru_maintainer_thread", F_DEFAULT, 0, 0},
    {0, NULL, NULL, T_CONST, OFF(lru_segmented), "yes", NULL, "lru_segmented",
     F_YESNO, 0, 0},
    {0, NULL, "hot_lru_pct", T_INT, OFF(hot_lru_pct), "20",
     "pct of a class's items in HOT", "hot_lru_pct", F_DEFAULT, 1, 80},
    {0, NULL, "warm_lru_pct", T_INT, OFF(warm_lru_pct), "40",
     "pct of a class's memory in WARM", "warm_lru_pct", F_DEFAULT, 1, 80},
    {0, NULL, "hot_max_factor", T_DOUBLE, OFF(hot_max_factor), "0.20",
     "items idle > cold age * this leave HOT", "hot_max_factor", F_DEFAULT, 0,
     0},
    {0, NULL, "warm_max_factor", T_DOUBLE, OFF(warm_max_factor), "2.00",
     "accepted, not used: WARM has no age cap (tiers/ram/lru.h)",
     "warm_max_factor", F_DEFAULT,
     0, 0},
    {0, NULL, NULL, T_CONST, OFF(temp_lru), "no", NULL, "temp_lru", F_YESNO,
     0, 0},
    {0, NULL, "temporary_ttl", T_INT, OFF(temporary_ttl), "61",
     "needs lru_maintainer; shown in stats settings (temp_lru yes), but there "
     "is no temporary LRU here: short-TTL items are evicted like others",
     "temporary_ttl", F_DEFAULT, 0, INT_MAX},
    {0, NULL, "idle_timeout", T_INT, OFF(idle_timeout), "0",
     "close connections idle this many seconds (0: never)", "idle_timeout",
     F_DEFAULT, 0, INT_MAX},
    {0, NULL, "watcher_logbuf_size", T_IGNARG, NOOFF, "262144", NULL,
     "watcher_logbuf_size", F_DEFAULT, 0, 0},
    {0, NULL, "worker_logbuf_size", T_IGNARG, NOOFF, "65536", NULL,
     "worker_logbuf_size", F_DEFAULT, 0, 0},
    {0, NULL, "read_buf_mem_limit", T_INT, OFF(read_buf_mem_limit), "0",
     "megabytes of read and reply buffers for all connections, split "
     "between the worker threads (0: no limit)", "read_buf_mem_limit",
     F_MB_INT, 0, 1 << 20},
    {0, NULL, "track_sizes", T_TRUE, OFF(track_sizes), "no",
     "dynamic `stats sizes` (ignored)", "track_sizes", F_DEFAULT, 0, 0},
    {0, NULL, NULL, T_CONST, NOOFF, "no", NULL, "inline_ascii_response",
     F_DEFAULT, 0, 0},
    {0, NULL, "ext_item_size", T_SIZE, OFF(flash_min_item_size), "512",
     "--flash-min-item-size (without a flash tier `stats settings` shows "
     "memcached's default)", "ext_item_size", F_EXT, 0, 0},
    {0, NULL, "ext_item_age", T_U32, OFF(ext_item_age), "4294967295",
     "with a flash tier: move items not accessed for more than this many "
     "seconds to flash (4294967295: never)", "ext_item_age", F_DEFAULT, 0,
     0},
    {0, NULL, "ext_low_ttl", T_IGNARG, NOOFF, "0", NULL, "ext_low_ttl",
     F_DEFAULT, 0, 0},
    {0, NULL, "ext_recache_rate", T_IGNARG, NOOFF, "2000", NULL,
     "ext_recache_rate", F_DEFAULT, 0, 0},
    {0, NULL, "ext_wbuf_size", T_IGNARG, NOOFF, "4194304", NULL,
     "ext_wbuf_size", F_DEFAULT, 0, 0},
    {0, NULL, "ext_compact_under", T_IGNARG, NOOFF, "0", NULL,
     "ext_compact_under", F_DEFAULT, 0, 0},
    {0, NULL, "ext_drop_under", T_IGNARG, NOOFF, "0", NULL, "ext_drop_under",
     F_DEFAULT, 0, 0},
    {0, NULL, "ext_max_sleep", T_IGNARG, NOOFF, "1000000", NULL,
     "ext_max_sleep", F_DEFAULT, 0, 0},
    {0, NULL, "ext_max_frag", T_IGNARG, NOOFF, "0.80", NULL, "ext_max_frag",
     F_DEFAULT, 0, 0},
    {0, NULL, "slab_automove_freeratio", T_IGNARG, NOOFF, "0.010", NULL,
     "slab_automove_freeratio", F_DEFAULT, 0, 0},
    {0, NULL, "ext_drop_unread", T_IGNORE, NOOFF, "no", NULL,
     "ext_drop_unread", F_DEFAULT, 0, 0},
    {'Z', "enable-ssl", NULL, T_TRUE, OFF(ssl_enabled), "no",
     "enable TLS/SSL (needs -o ssl_chain_cert and ssl_key)", "ssl_enabled",
     F_DEFAULT, 0, 0},
    {0, NULL, "ssl_chain_cert", T_STR, OFF(ssl_chain_cert), "(null)",
     "certificate chain file in PEM format", "ssl_chain_cert", F_NULLSTR, 0,
     0},
    {0, NULL, "ssl_key", T_STR, OFF(ssl_key), "(null)",
     "private key file (format: ssl_keyformat)", "ssl_key", F_NULLSTR, 0, 0},
    {0, NULL, "ssl_verify_mode", T_INT, OFF(ssl_verify_mode), "0",
     "client certificates: 0 none, 1 request, 2 require, 3 once",
     "ssl_verify_mode", F_DEFAULT, INT_MIN, INT_MAX},
    {0, NULL, "ssl_keyformat", T_INT, OFF(ssl_keyformat), "1",
     "private key format: 1 PEM, 2 DER", "ssl_keyformat", F_DEFAULT, INT_MIN,
     INT_MAX},
    {0, NULL, "ssl_ciphers", T_STR, OFF(ssl_ciphers), "NULL",
     "OpenSSL cipher list (TLS 1.2 and older)", "ssl_ciphers", F_DEFAULT, 0,
     0},
    {0, NULL, "ssl_ca_cert", T_STR, OFF(ssl_ca_cert), "NULL",
     "PEM file of the CAs accepted for client certificates", "ssl_ca_cert",
     F_DEFAULT, 0, 0},
    {0, NULL, "ssl_wbuf_size", T_INT, OFF(ssl_wbuf_kb), "16",
     "kilobytes of TLS output encrypted per write", "ssl_wbuf_size",
     F_KBYTES, 1, 16384},
    {0, NULL, "ssl_session_cache", T_TRUE, OFF(ssl_session_cache), "no",
     "server-side TLS session cache (session resumption)",
     "ssl_session_cache", F_DEFAULT, 0, 0},
    {0, NULL, "ssl_kernel_tls", T_TRUE, OFF(ssl_kernel_tls), "no",
     "ask OpenSSL for kernel TLS offload (it falls back when the kernel "
     "cannot)", "ssl_kernel_tls", F_DEFAULT, 0, 0},
    {0, NULL, "ssl_min_version", T_INT, OFF(ssl_min_version), "2",
     "oldest TLS accepted: 0 tlsv1.0, 1 tlsv1.1, 2 tlsv1.2, 3 tlsv1.3",
     "ssl_min_version", F_TLSVER, INT_MIN, INT_MAX},
    {'N', "napi_ids", NULL, T_IGNARG, NOOFF, "(null)",
     "number of napi ids (ignored)", "num_napi_ids", F_DEFAULT, 0, 0},
    {'e', "memory-file", NULL, T_STR, OFF(memory_file), "(null)",
     "warm restart file: RAM items saved at a graceful stop (SIGUSR1, "
     "shutdown graceful) and loaded at the next start (with --flash-path: "
     "not needed, the flash tier keeps the cache)", "memory_file", F_DEFAULT, 0, 0},
    /* the flash tier: after memcached's rows, shown only when configured */
    {0, "flash-path", NULL, T_STR, OFF(flash_path), "none",
     "file or block device of the flash tier (none: RAM only)", "flash_path",
     F_FLASH, 0, 0},
    {0, "flash-size", NULL, T_SIZE, OFF(flash_size), "0",
     "bytes of flash to use, k/m/g/t suffix (0: the whole file or device)",
     "flash_size", F_FLASH, 0, 0},
    {0, "flash-segment-size", NULL, T_SIZE, OFF(flash_segment_size), "8m",
     "flash segment: unit of writing and reclaim", "flash_segment_size",
     F_FLASH, 0, 0},
    {0, "flash-block-size", NULL, T_SIZE, OFF(flash_block_size), "4k",
     "raw bytes of items compressed together; one read per hit",
     "flash_block_size", F_FLASH, 0, 0},
    {0, "flash-dict-size", NULL, T_SIZE, OFF(flash_dict_size), "64k",
     "zstd dictionary trained on the first 1 MiB of spilled values; small blocks "
     "then compress like big ones (0: none; 1k..64k)", "flash_dict_size", F_FLASH, 0, 0},
    {0, "flash-compression", NULL, T_STR, OFF(flash_compression), "1",
     "zstd level of flash blocks (-100..22), or none; 1 with the dictionary "
     "stores JSON-like values in 0.28 device bytes per byte", "flash_compression",
     F_FLASH, 0, 0},
    {0, "flash-io-depth", NULL, T_INT, OFF(flash_io_depth), "64",
     "flash reads in flight per worker thread", "flash_io_depth", F_FLASH, 1,
     65536},
    {0, "flash-min-item-size", NULL, T_SIZE, OFF(flash_min_item_size), "0",
     "smaller evicted items are not written to flash", "flash_min_item_size",
     F_FLASH, 0, 0},
    {0, "flash-promote", NULL, T_STR, OFF(flash_promote), "second-hit",
     "copy flash hits back to RAM: second-hit, always or never",
     "flash_promote", F_FLASH, 0, 0},
    {0, "flash-promote-rate", NULL, T_INT, OFF(flash_promote_rate), "1000",
     "most flash hits copied back to RAM per second per worker thread; each "
     "evicts RAM items to flash (0: no limit)", "flash_promote_rate", F_FLASH, 0,
     100000000},
    {0, "flash-index-mem", NULL, T_SIZE, OFF(flash_index_mem), "0",
     "most bytes the flash index may grow to, outside -m (0: one item per 64 flash bytes)",
     "flash_index_mem", F_FLASH, 0, 0},
    {0, "flash-stall-ms", NULL, T_INT, OFF(flash_stall_ms), "100",
     "longest wait of an eviction for the flash writer, then it is dropped",
     "flash_stall_ms", F_FLASH, 0, 60000},
    {0, "flash-checkpoint-interval", NULL, T_INT, OFF(flash_checkpoint_s), "60",
     "seconds between crash checkpoints of the flash index; after a crash the "
     "last one still valid is served (0: none, a crash loses the flash contents)",
     "flash_checkpoint_interval", F_FLASH, 0, 86400},
    {0, "flash-reset", NULL, T_TRUE, OFF(flash_reset), "no",
     "overwrite a flash file or device holding foreign data",
     "flash_reset", F_FLASH, 0, 0},
    /* memcached's extstore options with a meaning here (no stat) */
    {0, NULL, "ext_path", T_EXTPATH, NOOFF, NULL,
     "FILE:SIZE (SIZE with k/m/g/t): --flash-path and --flash-size", NULL,
     F_DEFAULT, 0, 0},
    {0, NULL, "ext_page_size", T_MBYTES, OFF(flash_segment_size), NULL,
     "megabytes: --flash-segment-size", NULL, F_DEFAULT, 0, 0},
    {0, NULL, "ext_threads", T_IGNARG, NOOFF, NULL, NULL, NULL, F_DEFAULT, 0,
     0},
    {0, NULL, "ext_io_threadcount", T_IGNARG, NOOFF, NULL, NULL, NULL,
     F_DEFAULT, 0, 0},
    /* process flags: no stat */
    {'d', "daemon", NULL, T_TRUE, OFF(daemonize), "no", "run as a daemon",
     NULL, F_DEFAULT, 0, 0},
    {'P', "pidfile", NULL, T_STR, OFF(pidfile), "none",
     "save the PID in <file>, removed at exit (memcached: meant for -d)",
     NULL, F_DEFAULT, 0, 0},
    {'u', "user", NULL, T_STR, OFF(user), "none",
     "assume the identity of <user> (when run as root)", NULL, F_DEFAULT, 0,
     0},
    {'r', "enable-coredumps", NULL, T_TRUE, OFF(coredumps), "no",
     "maximize the core file limit", NULL, F_DEFAULT, 0, 0},
    {'k', "lock-memory", NULL, T_TRUE, OFF(lock_memory), "no",
     "lock down all paged memory", NULL, F_DEFAULT, 0, 0},
    {'L', "enable-largepages", NULL, T_TRUE, OFF(prealloc), "no",
     "preallocate all item memory", NULL, F_DEFAULT, 0, 0},
    {'W', "disable-watch", NULL, T_TRUE, OFF(no_watch), "no",
     "disable watch commands", NULL, F_DEFAULT, 0, 0},
    {'Y', "auth-file", NULL, T_STR, OFF(auth_file), "none",
     "ascii authentication: file of user:password lines (text and meta "
     "protocols only)", NULL, F_DEFAULT, 0, 0},
    {0, "config-file", NULL, T_CONFIG, OFF(config_file), "none",
     "read flags from this file first, one a line as on the command line "
     "(\"-m 64\"; blank lines and lines starting with # are skipped); the "
     "command line overrides it", NULL, F_DEFAULT, 0, 0},
    {0, "log-file", NULL, T_STR, OFF(log_file), "none",
     "append log lines (stderr) to this file, also with -d; SIGHUP reopens "
     "it (log rotation)", NULL, F_DEFAULT, 0, 0},
    {0, "man", NULL, T_MAN, NOOFF, NULL, NULL, NULL, F_DEFAULT, 0, 0},
    {0, NULL, "no_hashexpand", T_IGNORE, NOOFF, "no", "(ignored)", NULL,
     F_DEFAULT, 0, 0},
    {0, NULL, "modern", T_IGNORE, NOOFF, "no", "(ignored)", NULL, F_DEFAULT, 0,
     0},
    {0, NULL, "no_modern", T_NOMODERN, NOOFF, "no",
     "memcached 1.4's defaults: no maxconns_fast, slab_reassign, "
     "slab_automove, lru_crawler, lru_maintainer (later options override)",
     NULL, F_DEFAULT, 0, 0},
    {0, NULL, "sock_cookie_id", T_IGNARG, NOOFF, "0", "(ignored)", NULL,
     F_DEFAULT, 0, 0},
    {0, NULL, "ext_io_depth", T_INT, OFF(flash_io_depth), NULL,
     "--flash-io-depth", NULL, F_DEFAULT, 1, 65536},
    {0, NULL, "ext_path_buf", T_IGNARG, NOOFF, "0", NULL, NULL, F_DEFAULT, 0,
     0},
    {0, NULL, "lru_crawler_schedule", T_IGNARG, NOOFF, "0", NULL, NULL,
     F_DEFAULT, 0, 0},
    {0, "metrics-listen", NULL, T_STR, OFF(metrics_listen), "none",
     "serve Prometheus metrics (GET /metrics) on HOST:PORT; PORT alone is "
     "127.0.0.1:PORT (loopback); another HOST exposes them to whoever can "
     "reach it", NULL, F_DEFAULT, 0, 0},
    {'h', "help", NULL, T_HELP, NOOFF, NULL, "print this help and exit", NULL,
     F_DEFAULT, 0, 0},
    {'i', "license", NULL, T_LICENSE, NOOFF, NULL, "print the license",
     NULL, F_DEFAULT, 0, 0},
    {'V', "version", NULL, T_VERSION, NOOFF, NULL, "print version and exit",
     NULL, F_DEFAULT, 0, 0},
    {'o', "extended", NULL, T_EXTENDED, NOOFF, NULL,
     "comma separated list of extended options (below)", NULL, F_DEFAULT, 0,
     0},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/* After every refused flag: where the list of flags is. */
#define HELP_HINT "Run \"tiercache -h\" for the list of flags.\n"

static bool takes_arg(opt_type_e t)
{
    switch (t) {
    case T_INT: case T_OCTAL: case T_STR: case T_SIZE: case T_MB:
    case T_DOUBLE: case T_IGNARG: case T_EXTENDED: case T_MBYTES:
    case T_EXTPATH: case T_CONFIG: case T_U32:
        return true;
    default:
        return false;
    }
}

static const char *opt_label(const opt_t *o, char *buf, size_t n)
{
    if (o->oname)
        snprintf(buf, n, "-o %s", o->oname);
    else if (o->shortopt && o->longopt)
        snprintf(buf, n, "-%c/--%s", o->shortopt, o->longopt);
    else if (o->shortopt)
        snprintf(buf, n, "-%c", o->shortopt);
    else
        snprintf(buf, n, "--%s", o->longopt ? o->longopt : "?");
    return buf;
}

/* Parses "<num>[kKmMgGtT]" into bytes. */
static bool parse_size(const char *v, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || end == v || v[0] == '-')
        return false;
    unsigned long long mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = 1024ULL; end++; break;
    case 'm': case 'M': mul = 1024ULL * 1024; end++; break;
    case 'g': case 'G': mul = 1024ULL * 1024 * 1024; end++; break;
    case 't': case 'T': mul = 1024ULL * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end != '\0' || n > (unsigned long long)SIZE_MAX / mul)
        return false;
    *out = (size_t)(n * mul);
    return true;
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = strdup(v);
}

/* Applies one option with value `v` (NULL for flags). `no` is true for a
 * "no_X" sub-option. */
static settings_status_e apply(settings_t *s, const opt_t *o, const char *v,
                               bool no)
{
    char label[64];
    char *base = (char *)s;
    char *end;
    opt_label(o, label, sizeof(label));
    if (takes_arg(o->type) && (v == NULL || *v == '\0') &&
        o->type != T_IGNARG) {
        fprintf(stderr, "tiercache: %s needs a value\n", label);
        return SETTINGS_EUSAGE;
    }
    switch (o->type) {
    case T_INT: {
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end != '\0' || n < o->min || n > o->max) {
            fprintf(stderr, "tiercache: invalid value \"%s\" for %s "
                    "(expected an integer in %ld..%ld)\n", v, label, o->min,
                    o->max);
            return SETTINGS_EUSAGE;
        }
        if (o->off == OFF(hashpower))
            s->hashpower = (unsigned)n;
        else
            *(int *)(base + o->off) = (int)n;
        if (o->off == OFF(temporary_ttl))
            s->temp_lru = true; /* memcached: the option turns it on */
        if (o->off == OFF(port))
            s->port_given = true;
        return SETTINGS_OK;
    }
    case T_OCTAL: {
        errno = 0;
        unsigned long n = strtoul(v, &end, 8);
        if (errno || end == v || *end != '\0' || n > 0777) {
            fprintf(stderr, "tiercache: invalid octal mask \"%s\" for %s\n", v,
                    label);
            return SETTINGS_EUSAGE;
        }
        *(unsigned *)(base + o->off) = (unsigned)n;
        return SETTINGS_OK;
    }
    case T_STR:
        set_str((char **)(base + o->off), v);
        return SETTINGS_OK;
    case T_SIZE:
        if (o->off == OFF(slab_chunk_max))
            s->slab_chunk_max_given = true;
        if (!parse_size(v, (size_t *)(base + o->off))) {
            fprintf(stderr, "tiercache: invalid size \"%s\" for %s (a "
                    "number with an optional k, m, g or t suffix)\n", v,
                    label);
            return SETTINGS_EUSAGE;
        }
        return SETTINGS_OK;
    case T_MBYTES: {
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (errno || end == v || *end != '\0' || v[0] == '-' || n == 0 ||
            n > (unsigned long long)(SIZE_MAX >> 21)) {
            fprintf(stderr, "tiercache: invalid size \"%s\" for %s "
                    "(megabytes, > 0)\n", v, label);
            return SETTINGS_EUSAGE;
        }
        *(size_t *)(base + o->off) = (size_t)n * 1024 * 1024;
        return SETTINGS_OK;
    }
    case T_EXTPATH: {
        /* FILE:SIZE; the last ':' splits (a path may hold one) */
        const char *colon = strrchr(v, ':');
        size_t size = 0;
        if (colon == NULL || colon == v || !parse_size(colon + 1, &size) ||
            size == 0) {
            fprintf(stderr, "tiercache: invalid value \"%s\" for %s "
                    "(expected FILE:SIZE, SIZE with an optional k, m, g or t "
                    "suffix, e.g. /data/flash:64G)\n", v, label);
            return SETTINGS_EUSAGE;
        }
        if (s->flash_path != NULL) {
            fprintf(stderr, "tiercache: %s: only one flash file or device is "
                    "supported (already have %s)\n", label, s->flash_path);
            return SETTINGS_EUSAGE;
        }
        free(s->flash_path);
        s->flash_path = strndup(v, (size_t)(colon - v));
        s->flash_size = size;
        return SETTINGS_OK;
    }
    case T_U32: {
        /* memcached's safe_strtoul: leading spaces and '+' pass, a value
         * over 32 bits keeps its low 32 (4294967296 -> 0) */
        errno = 0;
        unsigned long n = strtoul(v, &end, 10);
        if (errno == ERANGE || end == v ||
            (*end != '\0' && !isspace((unsigned char)*end)) ||
            ((long)n < 0 && strchr(v, '-') != NULL)) {
            fprintf(stderr, "could not parse argument to %s\n",
                    o->oname ? o->oname : label);
            return SETTINGS_EUSAGE;
        }
        *(uint32_t *)(base + o->off) = (uint32_t)n;
        return SETTINGS_OK;
    }
    case T_MB: {
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (errno || end == v || *end != '\0' || v[0] == '-' || n == 0 ||
            n > (unsigned long long)(SIZE_MAX >> 21)) {
            fprintf(stderr, "tiercache: invalid memory size \"%s\" for %s "
                    "(megabytes, > 0)\n", v, label);
            return SETTINGS_EUSAGE;
        }
        *(size_t *)(base + o->off) = (size_t)n;
        return SETTINGS_OK;
    }
    case T_DOUBLE: {
        errno = 0;
        double d = strtod(v, &end);
        if (errno || end == v || *end != '\0' || d < 0) {
            fprintf(stderr, "tiercache: invalid number \"%s\" for %s\n", v,
                    label);
            return SETTINGS_EUSAGE;
        }
        *(double *)(base + o->off) = d;
        return SETTINGS_OK;
    }
    case T_TRUE:
        *(bool *)(base + o->off) = !no;
        if (o->off == OFF(lru_maintainer))
            s->lru_segmented = !no; /* memcached's pairing */
        return SETTINGS_OK;
    case T_NOMODERN:
        /* memcached 1.6.18's no_modern, in its order (a later option
         * still overrides each) */
        s->no_modern = true;
        s->maxconns_fast = false;
        s->slab_reassign = false;
        s->slab_automove = 0;
        s->lru_segmented = false;
        set_str(&s->hash_algorithm, "jenkins");
        s->lru_crawler = false;
        s->lru_maintainer = false;
        return SETTINGS_OK;
    case T_CONFIG: /* read by settings_parse() before the command line */
        set_str(&s->config_file, v);
        return SETTINGS_OK;
    case T_MAN:
        settings_man();
        return SETTINGS_EXIT;
    case T_FALSE:
        if (o->shortopt == 'F')
            s->no_flush = true;
        else if (o->shortopt == 'X')
            s->no_dump = true;
        return SETTINGS_OK;
    case T_VERBOSE:
        s->verbose++;
        return SETTINGS_OK;
    case T_IGNORE:
    case T_IGNARG:
        fprintf(stderr, "tiercache: warning: %s has no meaning here; "
                "ignored\n", label);
        return SETTINGS_OK;
    case T_HELP:
        settings_help();
        return SETTINGS_EXIT;
    case T_VERSION:
        printf("tiercache %s\n", TIERCACHE_VERSION);
        return SETTINGS_EXIT;
    case T_LICENSE:
        printf("tiercache is distributed under the BSD 3-clause license.\n");
        return SETTINGS_EXIT;
    case T_EXTENDED:
    case T_CONST:
        break;
    }
    return SETTINGS_OK;
}

/* Parses a -o list: "a=1,b,no_c". */
static settings_status_e apply_extended(settings_t *s, const char *list)
{
    char *copy = strdup(list);
    char *save = NULL;
    settings_status_e st = SETTINGS_OK;
    if (copy == NULL)
        return SETTINGS_EUSAGE;
    for (char *tok = strtok_r(copy, ",", &save); tok && st == SETTINGS_OK;
         tok = strtok_r(NULL, ",", &save)) {
        char *val = strchr(tok, '=');
        if (val)
            *val++ = '\0';
        const opt_t *found = NULL;
        bool no = false;
        for (size_t i = 0; i < NOPTS && !found; i++) {
            if (opts[i].oname && strcmp(opts[i].oname, tok) == 0)
                found = &opts[i];
        }
        if (!found && strncmp(tok, "no_", 3) == 0) {
            for (size_t i = 0; i < NOPTS && !found; i++) {
                if (opts[i].oname && opts[i].type == T_TRUE &&
                    strcmp(opts[i].oname, tok + 3) == 0)
                    found = &opts[i];
            }
            no = found != NULL;
        }
        if (!found) {
            fprintf(stderr, "Illegal suboption \"%s\"\n", tok);
            fprintf(stderr, HELP_HINT);
            st = SETTINGS_EUSAGE;
            break;
        }
        /* memcached: a bare slab_automove turns it on (1) */
        if (val == NULL && strcmp(found->oname, "slab_automove") == 0)
            val = "1";
        st = apply(s, found, val, no);
    }
    free(copy);
    return st;
}

void settings_default(settings_t *s)
{
    memset(s, 0, sizeof(*s));
    s->port = 11211;
    s->unix_mask = 0700;
    s->listen = strdup("127.0.0.1");
    s->maxconns = 1024;
    s->backlog = 1024;
    s->threads = 4;
    s->reqs_per_event = 20;
    s->protocol = strdup("auto");
    s->maxconns_fast = true;
    s->mem_mb = 64;
    s->growth = 1.25;
    s->chunk_min = 48;
    s->item_size_max = 1024 * 1024;
    s->lru_crawler = true;
    s->lru_crawler_sleep = 100;
    s->lru_maintainer = true;
    s->lru_segmented = true;
    s->hot_lru_pct = 20;
    s->warm_lru_pct = 40;
    s->hot_max_factor = 0.2;
    s->warm_max_factor = 2.0;
    s->temporary_ttl = 61;
    s->slab_reassign = true;
    s->slab_automove = 1;
    s->slab_chunk_max = 524288;
    s->delimiter = strdup(":");
    s->hash_algorithm = strdup("murmur3");
    s->flash_segment_size = 8 * 1024 * 1024;
    s->flash_block_size = 4 * 1024;
    s->flash_dict_size = 64 * 1024;
    s->flash_compression = strdup("1");
    s->flash_io_depth = 64;
    s->flash_promote_rate = 1000;
    s->flash_promote = strdup("second-hit");
    s->flash_stall_ms = 100;
    s->flash_checkpoint_s = 60;
    s->ext_item_age = UINT32_MAX; /* memcached's default: no age limit */
    /* flash_level / flash_no_compression: derived from flash_compression
     * when the flags are checked (validate_flash) */
    s->ssl_keyformat = 1;
    s->ssl_wbuf_kb = 16;
    s->ssl_min_version = 2;
}

void settings_free(settings_t *s)
{
    free(s->socket_path);
    free(s->listen);
    free(s->protocol);
    free(s->user);
    free(s->pidfile);
    free(s->delimiter);
    free(s->hash_algorithm);
    free(s->flash_path);
    free(s->flash_compression);
    free(s->flash_promote);
    free(s->auth_file);
    s->auth_file = NULL;
    free(s->memory_file);
    s->memory_file = NULL;
    free(s->metrics_listen);
    s->metrics_listen = NULL;
    free(s->config_file);
    free(s->log_file);
    s->config_file = s->log_file = NULL;
    s->socket_path = s->listen = s->protocol = s->user = s->pidfile = NULL;
    s->delimiter = s->hash_algorithm = NULL;
    s->flash_path = s->flash_compression = s->flash_promote = NULL;
    free(s->ssl_chain_cert);
    free(s->ssl_key);
    free(s->ssl_ca_cert);
    free(s->ssl_ciphers);
    s->ssl_chain_cert = s->ssl_key = s->ssl_ca_cert = s->ssl_ciphers = NULL;
}

/* The flash flags' words and ranges (the tier checks the geometry). */
static settings_status_e validate_flash(settings_t *s)
{
    const char *c = s->flash_compression;
    char *end;
    if (strcmp(c, "none") == 0) {
        s->flash_no_compression = true;
    } else {
        errno = 0;
        long lvl = strtol(c, &end, 10);
        if (errno || end == c || *end != '\0' || lvl < -100 || lvl > 22) {
            fprintf(stderr, "tiercache: invalid value \"%s\" for "
                    "--flash-compression (a zstd level -100..22, or none)\n",
                    c);
            return SETTINGS_EUSAGE;
        }
        s->flash_no_compression = false;
        s->flash_level = (int)lvl;
    }
    static const char *const modes[] = {"second-hit", "always", "never"};
    s->flash_promote_mode = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(s->flash_promote, modes[i]) == 0)
            s->flash_promote_mode = i;
    if (s->flash_promote_mode < 0) {
        fprintf(stderr, "tiercache: invalid value \"%s\" for --flash-promote "
                "(second-hit, always or never)\n", s->flash_promote);
        return SETTINGS_EUSAGE;
    }
    if (s->flash_segment_size == 0 ||
        s->flash_segment_size > 1024ULL * 1024 * 1024) {
        fprintf(stderr, "tiercache: invalid --flash-segment-size %zu (1 byte "
                "to 1g; the flash tier may ask for more)\n",
                s->flash_segment_size);
        return SETTINGS_EUSAGE;
    }
    if (s->flash_block_size == 0 ||
        s->flash_block_size > 1024ULL * 1024 * 1024) {
        fprintf(stderr, "tiercache: invalid --flash-block-size %zu (1 byte "
                "to 1g; the flash tier may ask for less)\n",
                s->flash_block_size);
        return SETTINGS_EUSAGE;
    }
    if (s->flash_dict_size != 0 &&
        (s->flash_dict_size < 1024 || s->flash_dict_size > 64 * 1024)) {
        fprintf(stderr, "tiercache: invalid --flash-dict-size %zu (0 for none, or "
                "1k to 64k)\n", s->flash_dict_size);
        return SETTINGS_EUSAGE;
    }
    if (s->flash_path != NULL && s->flash_path[0] == '\0') {
        fprintf(stderr, "tiercache: --flash-path needs a file or device\n");
        return SETTINGS_EUSAGE;
    }
    if (s->flash_path == NULL && s->flash_flag_given != NULL) {
        /* a RAM-only server would start and the flag mean nothing */
        fprintf(stderr, "tiercache: --%s needs --flash-path (the file or "
                "device of the flash tier); without it the server would "
                "run RAM only\n", s->flash_flag_given);
        return SETTINGS_EUSAGE;
    }
    return SETTINGS_OK;
}

/* -S and -Y, as memcached (its order of checks): each forces its protocol
 * (-S binary, -Y ascii) and refuses another -B (with both, any -B is
 * refused), and UDP. With both, memcached's connections go through the
 * ascii authentication (text only), so -Y wins here too. */
static settings_status_e validate_auth(settings_t *s)
{
    if (s->auth_file != NULL && s->protocol_given &&
        strcmp(s->protocol, "binary") == 0) {
        fprintf(stderr, "ERROR: You cannot allow the BINARY protocol while "
                "using ascii authentication tokens.\n");
        return SETTINGS_EUSAGE;
    }
    if (s->sasl) {
        if (s->protocol_given && strcmp(s->protocol, "binary") != 0) {
            fprintf(stderr, "ERROR: You cannot allow the ASCII protocol while "
                    "using SASL.\n");
            return SETTINGS_EUSAGE;
        }
        if (s->udp_port != 0) {
            fprintf(stderr, "ERROR: Cannot enable UDP while using binary SASL "
                    "authentication.\n");
            return SETTINGS_EUSAGE;
        }
        set_str(&s->protocol, "binary");
    }
    if (s->auth_file != NULL)
        set_str(&s->protocol, "ascii");
    if (s->auth_file != NULL && s->udp_port != 0) {
        fprintf(stderr, "Cannot use UDP with ascii authentication enabled (-U "
                "0 to disable)\n");
        return SETTINGS_EUSAGE;
    }
    return SETTINGS_OK;
}

/* The ssl_* options (memcached's messages for its range checks). Without
 * -Z memcached ignores them; here they stop startup: an operator who
 * configured TLS must not get a cleartext server. */
static settings_status_e validate_tls(const settings_t *s)
{
    if (s->ssl_verify_mode < 0 || s->ssl_verify_mode > 3) {
        fprintf(stderr, "Invalid ssl_verify_mode. Use help to see valid "
                "options.\n");
        return SETTINGS_EUSAGE;
    }
    if (s->ssl_min_version < 0 || s->ssl_min_version > 3) {
        fprintf(stderr, "Invalid ssl_min_version. Use help to see valid "
                "options.\n");
        return SETTINGS_EUSAGE;
    }
    if (!s->ssl_enabled &&
        (s->ssl_chain_cert || s->ssl_key || s->ssl_ca_cert || s->ssl_ciphers ||
         s->ssl_verify_mode != 0 || s->ssl_keyformat != 1 ||
         s->ssl_wbuf_kb != 16 || s->ssl_session_cache || s->ssl_kernel_tls ||
         s->ssl_min_version != 2)) {
        fprintf(stderr, "tiercache: -o ssl_* options need -Z (--enable-ssl); "
                "refusing to start without TLS\n");
        return SETTINGS_EUSAGE;
    }
    return SETTINGS_OK;
}

/* Cross-flag checks, with memcached's messages where it has one. */
static settings_status_e validate(settings_t *s)
{
    if (validate_flash(s) != SETTINGS_OK)
        return SETTINGS_EUSAGE;
    if (validate_tls(s) != SETTINGS_OK)
        return SETTINGS_EUSAGE;
    if (s->item_size_max < 1024) {
        fprintf(stderr, "Item max size cannot be less than 1024 bytes.\n");
        return SETTINGS_EUSAGE;
    }
    if (s->item_size_max > 1024ULL * 1024 * 1024) {
        fprintf(stderr, "Cannot set item size limit higher than 1 gigabyte.\n");
        return SETTINGS_EUSAGE;
    }
    if (s->item_size_max > s->mem_mb * 1024 * 1024 / 2) {
        fprintf(stderr,
                "Cannot set item size limit higher than 1/2 of memory max.\n");
        return SETTINGS_EUSAGE;
    }
    if (s->growth <= 1.0) {
        fprintf(stderr, "Factor must be greater than 1\n");
        return SETTINGS_EUSAGE;
    }
    if (s->temp_lru && !s->lru_maintainer) {
        fprintf(stderr, "temporary_ttl requires lru_maintainer to be "
                "enabled\n");
        return SETTINGS_EUSAGE;
    }
    if (s->temp_lru)
        fprintf(stderr, "tiercache: warning: -o temporary_ttl: there is no "
                "temporary LRU here; items with short TTLs are evicted like "
                "the others\n");
    /* no_modern: memcached's slab page (1m) as the largest chunk */
    if (s->no_modern && !s->slab_chunk_max_given &&
        s->item_size_max == 1024 * 1024)
        s->slab_chunk_max = 1024 * 1024;
    /* -p -1 is memcached's ephemeral port; without -p, -U's port is the
     * TCP port too (memcached) */
    if (s->port == -1) {
        s->port = 0;
        s->port_any = true;
    }
    if (!s->port_given && s->udp_port != 0)
        s->port = s->udp_port;
    if (s->hot_lru_pct + s->warm_lru_pct > 80) {
        fprintf(stderr, "hot_lru_pct + warm_lru_pct cannot be more than 80%% "
                "combined\n");
        return SETTINGS_EUSAGE;
    }
    if (strcmp(s->protocol, "auto") != 0 && strcmp(s->protocol, "ascii") != 0 &&
        strcmp(s->protocol, "binary") != 0) {
        fprintf(stderr, "Invalid value for binding protocol: %s\n"
                " -- should be one of auto, binary, or ascii\n", s->protocol);
        return SETTINGS_EUSAGE;
    }
    return validate_auth(s);
}

/* Runs getopt over argv[0..argc) and applies each flag. `where` names a
 * config file line ("FILE:LINE") for messages, NULL for the command line;
 * a --config-file there is refused (no nesting). */
static settings_status_e parse_argv(settings_t *s, int argc, char **argv,
                                    const char *where)
{
    char shortopts[128];
    struct option longopts[NOPTS + 1];
    size_t ns = 0, nl = 0;
    for (size_t i = 0; i < NOPTS; i++) {
        const opt_t *o = &opts[i];
        if (o->oname || (o->shortopt == 0 && o->longopt == NULL))
            continue;
        int val = o->shortopt ? o->shortopt : (int)(256 + i);
        if (o->shortopt) {
            shortopts[ns++] = o->shortopt;
            if (takes_arg(o->type))
                shortopts[ns++] = ':';
        }
        if (o->longopt) {
            longopts[nl].name = o->longopt;
            longopts[nl].has_arg = takes_arg(o->type) ? required_argument
                                                      : no_argument;
            longopts[nl].flag = NULL;
            longopts[nl].val = val;
            nl++;
        }
    }
    shortopts[ns] = '\0';
    memset(&longopts[nl], 0, sizeof(longopts[nl]));

    /* 0, not 1: glibc then also drops the state of an earlier, unfinished
     * parse (a pointer into its argv), so settings_parse() can be called
     * again (unit tests, and once per config file line). */
    optind = 0;
    opterr = 1;
    int c;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        if (c == '?' || c == ':') {
            if (where)
                fprintf(stderr, "tiercache: in %s\n", where);
            fprintf(stderr, HELP_HINT);
            return SETTINGS_EUSAGE;
        }
        const opt_t *o = NULL;
        for (size_t i = 0; i < NOPTS && !o; i++) {
            if (opts[i].oname)
                continue;
            if ((opts[i].shortopt && opts[i].shortopt == c) ||
                (!opts[i].shortopt && c == (int)(256 + i)))
                o = &opts[i];
        }
        if (o == NULL)
            return SETTINGS_EUSAGE;
        if (o->shortopt == 'B')
            s->protocol_given = true;
        if (o->longopt && strncmp(o->longopt, "flash-", 6) == 0 &&
            strcmp(o->longopt, "flash-path") != 0 && !s->flash_flag_given)
            s->flash_flag_given = o->longopt;
        if (o->type == T_CONFIG && where) {
            fprintf(stderr, "tiercache: in %s: --config-file cannot be used "
                    "inside a config file\n", where);
            return SETTINGS_EUSAGE;
        }
        settings_status_e st = o->type == T_EXTENDED
                                   ? apply_extended(s, optarg)
                                   : apply(s, o, optarg, false);
        if (st != SETTINGS_OK) {
            if (st == SETTINGS_EUSAGE && where)
                fprintf(stderr, "tiercache: in %s\n", where);
            return st;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "tiercache: unexpected argument \"%s\"%s%s\n",
                argv[optind], where ? " in " : "", where ? where : "");
        fprintf(stderr, HELP_HINT);
        return SETTINGS_EUSAGE;
    }
    return SETTINGS_OK;
}

/* The value of --config-file in argv ("--config-file F" or
 * "--config-file=F"; the last one wins), NULL if none. */
static const char *find_config_file(int argc, char **argv)
{
    const char *path = NULL;
    static const char flag[] = "--config-file";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], flag) == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strncmp(argv[i], flag, sizeof(flag) - 1) == 0 &&
                 argv[i][sizeof(flag) - 1] == '=')
            path = argv[i] + sizeof(flag);
    }
    return path;
}

/* Reads a config file: one flag a line, as on the command line ("-m 64",
 * "--flash-path /var/lib/tiercache/flash", "-o a=1,b"): the first word is
 * the flag, the rest of the line (trimmed) its value. Blank lines and
 * lines whose first non-blank character is # are skipped (Debian's
 * /etc/memcached.conf). A line not starting with '-' or a bad flag stops
 * start-up with FILE:LINE in the message. */
static settings_status_e parse_config_file(settings_t *s, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "tiercache: cannot read config file %s: %s\n", path,
                strerror(errno));
        return SETTINGS_EUSAGE;
    }
    char line[4096];
    unsigned lineno = 0;
    settings_status_e st = SETTINGS_OK;
    while (st == SETTINGS_OK && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        char where[PATH_MAX + 32];
        snprintf(where, sizeof(where), "%s:%u", path, lineno);
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            fprintf(stderr, "tiercache: %s: line too long (max %zu bytes)\n",
                    where, sizeof(line) - 2);
            st = SETTINGS_EUSAGE;
            break;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
                           line[len - 1] == ' ' || line[len - 1] == '\t'))
            line[--len] = '\0';
        char *p = line + strspn(line, " \t");
        if (*p == '\0' || *p == '#')
            continue;
        if (*p != '-') {
            fprintf(stderr, "tiercache: %s: expected a flag (e.g. \"-m 64\" "
                    "or \"--flash-path FILE\"), got \"%s\"\n", where, p);
            st = SETTINGS_EUSAGE;
            break;
        }
        char *args[4] = {"tiercache", p, NULL, NULL};
        int n = 2;
        char *sp = p + strcspn(p, " \t");
        if (*sp != '\0') {
            *sp++ = '\0';
            sp += strspn(sp, " \t");
            if (*sp != '\0')
                args[n++] = sp;
        }
        st = parse_argv(s, n, args, where);
    }
    if (st == SETTINGS_OK && ferror(f)) {
        fprintf(stderr, "tiercache: cannot read config file %s: %s\n", path,
                strerror(errno));
        st = SETTINGS_EUSAGE;
    }
    fclose(f);
    return st;
}

settings_status_e settings_parse(settings_t *s, int argc, char **argv)
{
    const char *conf = find_config_file(argc, argv);
    if (conf != NULL) {
        settings_status_e st = parse_config_file(s, conf);
        if (st != SETTINGS_OK)
            return st;
    }
    settings_status_e st = parse_argv(s, argc, argv, NULL);
    if (st != SETTINGS_OK)
        return st;
    return validate(s);
}

/* The default of a row as -h and the man page print it: flags (no value)
 * are off until given; memcached's "(null)"/"NULL" read "none". NULL: the
 * row shows no default. */
static const char *help_default(const opt_t *o)
{
    if (!o->oname && !takes_arg(o->type))
        return o->type == T_HELP || o->type == T_VERSION ||
                       o->type == T_LICENSE || o->type == T_VERBOSE
                   ? NULL
                   : "off";
    /* F_EXT: def is memcached's stat text; the --flash-* row has ours */
    if (o->type == T_EXTENDED || o->type == T_EXTPATH || o->def == NULL ||
        o->fmt == F_EXT)
        return NULL;
    if (strcmp(o->def, "(null)") == 0 || strcmp(o->def, "NULL") == 0)
        return "none";
    return o->def;
}

/* The help text of a row; memcached's options with no meaning here have
 * none in the table. */
static const char *help_text(const opt_t *o)
{
    if (o->help)
        return o->help;
    return "accepted for memcached compatibility; no meaning here (a "
           "warning says so)";
}

/* Rows -h and the man page list: every flag and -o option but --man. */
static bool listed(const opt_t *o)
{
    if (o->type == T_CONST || o->type == T_MAN)
        return false;
    return o->oname || o->shortopt || o->longopt;
}

/* The label of a row with its value placeholder: "-m/--memory-limit <val>",
 * "-o hashpower=<val>". */
static void help_label(const opt_t *o, char *buf, size_t n)
{
    opt_label(o, buf, n);
    if (takes_arg(o->type) && o->type != T_EXTENDED)
        strncat(buf, o->oname ? "=<val>" : " <val>", n - strlen(buf) - 1);
}

void settings_help(void)
{
    char label[64];
    printf("tiercache %s (memcached-compatible)\n", TIERCACHE_VERSION);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            printf("extended options (-o name[=value],...; booleans take a "
                   "no_ prefix to disable):\n");
        for (size_t i = 0; i < NOPTS; i++) {
            const opt_t *o = &opts[i];
            if (!listed(o) || (pass == 0) != (o->oname == NULL))
                continue;
            help_label(o, label, sizeof(label));
            const char *def = help_default(o);
            if (def)
                printf("  %-34s %s (default: %s)\n", label, help_text(o),
                       def);
            else
                printf("  %-34s %s\n", label, help_text(o));
        }
    }
}

/* Writes text for roff: '-' as \-, '\' as \e, a leading '.' or '\''
 * escaped with \&. */
static void roff_puts(const char *t)
{
    if (*t == '.' || *t == '\'')
        fputs("\\&", stdout);
    for (; *t; t++) {
        if (*t == '-')
            fputs("\\-", stdout);
        else if (*t == '\\')
            fputs("\\e", stdout);
        else
            putchar(*t);
    }
}

void settings_man(void)
{
    char label[64];
    printf(".\\\" Generated by tiercache --man from server/settings.c: do not "
           "edit.\n");
    printf(".TH TIERCACHE 1 \"\" \"tiercache %s\" \"User Commands\"\n",
           TIERCACHE_VERSION);
    printf(".nh\n.ad l\n");
    printf(".SH NAME\ntiercache \\- a memcached\\-compatible cache server "
           "with a flash tier\n");
    printf(".SH SYNOPSIS\n.B tiercache\n[\\fIflag\\fR ...]\n");
    printf(".SH DESCRIPTION\n"
           "tiercache speaks memcached's text, meta and binary protocols and "
           "accepts memcached 1.6's flags. Items live in RAM (\\fB\\-m\\fR); "
           "with \\fB\\-\\-flash\\-path\\fR, items evicted from RAM are "
           "written to a flash file or device and served from there.\n"
           ".PP\nThe flags below, their defaults, \\fB\\-h\\fR and the "
           "names of \\fBstats settings\\fR come from one table in the "
           "source.\n");
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0)
            printf(".SH OPTIONS\n");
        else
            printf(".SS \"Extended options\"\n"
                   "Given as \\fB\\-o\\fR \\fIname\\fR[=\\fIvalue\\fR][,...]; "
                   "booleans take a \\fBno_\\fR prefix to disable.\n");
        for (size_t i = 0; i < NOPTS; i++) {
            const opt_t *o = &opts[i];
            if (!listed(o) || (pass == 0) != (o->oname == NULL))
                continue;
            help_label(o, label, sizeof(label));
            printf(".TP\n.B ");
            roff_puts(label);
            printf("\n");
            roff_puts(help_text(o));
            const char *def = help_default(o);
            if (def) {
                printf(" (default: ");
                roff_puts(def);
                printf(")");
            }
            printf("\n");
        }
    }
    printf(".SH FILES\n.TP\n.I /etc/tiercache.conf\n"
           "Flags read with \\fB\\-\\-config\\-file\\fR, one a line as on the "
           "command line (\\fB\\-m 1024\\fR); blank lines and lines starting "
           "with # are skipped; a bad line stops start\\-up with the file "
           "and line number. The systemd unit \\fBtiercache.service\\fR "
           "starts tiercache with it.\n"
           ".SH SIGNALS\n.TP\n.B SIGTERM, SIGINT\nStop.\n"
           ".TP\n.B SIGUSR1\nStop gracefully (a \\fB\\-e\\fR file is "
           "saved).\n"
           ".TP\n.B SIGHUP\nReopen the \\fB\\-\\-log\\-file\\fR and, with "
           "\\fB\\-Z\\fR, reload the TLS certificates (as "
           "\\fBrefresh_certs\\fR).\n"
           ".SH EXIT STATUS\n0 after a stop; 64 for a bad flag or config "
           "file; 71 when the system refuses something (memory, a "
           "socket).\n"
           ".SH SEE ALSO\n.BR memcached (1)\n");
}

/* Parses row o's default text into a scratch copy of the defaults and
 * compares the field with settings_default()'s. */
static bool row_default_agrees(const opt_t *o, char *err, size_t errlen)
{
    settings_t want, got;
    bool ok = true;
    const char *def = o->def;
    char label[64];
    opt_label(o, label, sizeof(label));
    if (def == NULL || o->stat == NULL || o->fmt == F_EXT)
        return true; /* no default shown, a process flag, or memcached's */
    switch (o->type) {
    case T_INT: case T_OCTAL: case T_SIZE: case T_MB: case T_DOUBLE:
    case T_STR:
        break;
    case T_TRUE:
        if (!o->oname)
            return true; /* a flag: off until given */
        def = strcmp(def, "yes") == 0 ? NULL : def;
        break;
    default:
        return true;
    }
    settings_default(&want);
    settings_default(&got);
    const char *base_w = (const char *)&want;
    char *base_g = (char *)&got;
    if (o->type == T_TRUE) {
        /* "yes": on; anything else: off */
        *(bool *)(base_g + o->off) = def == NULL;
        ok = *(const bool *)(base_w + o->off) == *(bool *)(base_g + o->off);
    } else if (o->type == T_STR) {
        const char *w = *(char *const *)(base_w + o->off);
        bool none = strcmp(def, "none") == 0 || strcmp(def, "(null)") == 0 ||
                    strcmp(def, "NULL") == 0 || strcmp(def, "no") == 0 ||
                    strcmp(def, "off") == 0 || def[0] == '\0';
        ok = none ? w == NULL : (w != NULL && strcmp(w, def) == 0);
    } else {
        int saved = opterr;
        ok = apply(&got, o, def, false) == SETTINGS_OK;
        opterr = saved;
        if (ok) {
            size_t sz = o->type == T_DOUBLE ? sizeof(double)
                        : o->type == T_SIZE || o->type == T_MB
                            ? sizeof(size_t)
                            : sizeof(int);
            if (o->off == OFF(hashpower))
                sz = sizeof(unsigned);
            ok = memcmp(base_w + o->off, base_g + o->off, sz) == 0;
        }
    }
    if (!ok)
        snprintf(err, errlen, "%s: the table says %s, settings_default() "
                 "disagrees", label, o->def);
    settings_free(&want);
    settings_free(&got);
    return ok;
}

bool settings_defaults_agree(char *err, size_t errlen)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (!row_default_agrees(&opts[i], err, errlen))
            return false;
    return true;
}

void settings_stats(const settings_t *s, int tcpport, settings_emit_fn emit,
                    void *ctx)
{
    char buf[256];
    const char *base = (const char *)s;
    for (size_t i = 0; i < NOPTS; i++) {
        const opt_t *o = &opts[i];
        if (o->stat == NULL)
            continue;
        const char *v = buf;
        switch (o->fmt) {
        case F_MB_BYTES:
            snprintf(buf, sizeof(buf), "%zu", s->mem_mb * 1024 * 1024);
            break;
        case F_PORT: /* -p -1: memcached shows -1 */
            snprintf(buf, sizeof(buf), "%d", s->port_any ? -1 : tcpport);
            break;
        case F_INTER:
            v = s->listen ? s->listen : "NULL";
            break;
        case F_ONOFF_INV:
            v = *(const bool *)(base + o->off) ? "off" : "on";
            break;
        case F_YESNO_INV:
            v = *(const bool *)(base + o->off) ? "no" : "yes";
            break;
        case F_YESNO:
            v = *(const bool *)(base + o->off) ? "yes" : "no";
            break;
        case F_PROTO:
            v = strcmp(s->protocol, "auto") == 0 ? "auto-negotiate"
                                                 : s->protocol;
            break;
        case F_THREADS:
            snprintf(buf, sizeof(buf), "%d", s->threads);
            break;
        case F_MB_INT:
            snprintf(buf, sizeof(buf), "%llu",
                     (unsigned long long)*(const int *)(base + o->off) *
                         1024 * 1024);
            break;
        case F_STR_NO: {
            const char *str = *(char *const *)(base + o->off);
            v = str ? str : "no";
            break;
        }
        case F_NULLSTR: {
            const char *str = *(char *const *)(base + o->off);
            v = str ? str : "(null)";
            break;
        }
        case F_KBYTES:
            snprintf(buf, sizeof(buf), "%d",
                     *(const int *)(base + o->off) * 1024);
            break;
        case F_TLSVER:
            snprintf(buf, sizeof(buf), "tlsv1.%d",
                     *(const int *)(base + o->off));
            break;
        case F_EXT:
            /* with a flash tier: the value, as a flash row */
            if (s->flash_path == NULL) {
                v = o->def;
                break;
            }
            /* fall through */
        case F_FLASH:
            if (o->fmt == F_FLASH && s->flash_path == NULL)
                continue;
            /* fall through */
        case F_DEFAULT:
            switch (o->type) {
            case T_INT:
                if (o->off == OFF(hashpower))
                    snprintf(buf, sizeof(buf), "%u", s->hashpower);
                else
                    snprintf(buf, sizeof(buf), "%d",
                             *(const int *)(base + o->off));
                break;
            case T_OCTAL:
                snprintf(buf, sizeof(buf), "%o",
                         *(const unsigned *)(base + o->off));
                break;
            case T_STR: {
                const char *str = *(char *const *)(base + o->off);
                /* memcached prints an unset -e as glibc's "(null)" */
                v = str ? str : o->off == OFF(memory_file) ? o->def : "NULL";
                break;
            }
            case T_SIZE:
            case T_MB:
                snprintf(buf, sizeof(buf), "%zu",
                         *(const size_t *)(base + o->off));
                break;
            case T_DOUBLE:
                snprintf(buf, sizeof(buf), "%.2f",
                         *(const double *)(base + o->off));
                break;
            case T_TRUE:
                v = *(const bool *)(base + o->off) ? "yes" : "no";
                break;
            case T_FALSE:
                v = (o->shortopt == 'F' ? s->no_flush : s->no_dump) ? "no"
                                                                     : "yes";
                break;
            case T_VERBOSE:
                snprintf(buf, sizeof(buf), "%d", s->verbose);
                break;
            case T_U32:
                snprintf(buf, sizeof(buf), "%u",
                         *(const uint32_t *)(base + o->off));
                break;
            default:
                v = o->def ? o->def : "";
                break;
            }
            break;
        }
        emit(ctx, o->stat, v);
    }
}
