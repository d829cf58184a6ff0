/*
 * server/settings.c - the one table of flags (settings_opts), the
 * defaults of settings_t and its release.
 *
 * Rows are in memcached 1.6.18's `stats settings` order; rows without a
 * stat name (process flags) sit at the end. A row is a short flag and/or a
 * long option, or a `-o` sub-option (oname), or a stats-only constant.
 * A row whose field an engine owns has MODULE_DEF as its default: the
 * value comes from the engine's option table (settings_cache.c).
 * Parsing, help and stats live in settings_parse.c, settings_help.c and
 * settings_stats.c (settings_int.h lists them).
 */
#include "settings_int.h"

#include <float.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h" /* option.h: the engines' row parser */

const opt_t settings_opts[] = {
    {'m', "memory-limit", NULL, T_MB, OFF(mem_mb), MODULE_DEF,
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
    {'M', "disable-evictions", NULL, T_TRUE, OFF(no_evictions), MODULE_DEF,
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
    {'f', "slab-growth-factor", NULL, T_DOUBLE, OFF(growth), MODULE_DEF,
     "chunk size growth factor", "growth_factor", F_DEFAULT, 0, 0},
    {'n', "slab-min-size", NULL, T_INT, OFF(chunk_min), MODULE_DEF,
     "min space used for key+value+flags", "chunk_size", F_DEFAULT, 0, 0},
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
    {'C', "disable-cas", NULL, T_TRUE, OFF(no_cas), MODULE_DEF,
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
    {'I', "max-item-size", NULL, T_SIZE, OFF(item_size_max), MODULE_DEF,
     "max item size (min: 1k, max: 1024m)", "item_size_max", F_DEFAULT, 0, 0},
    {0, NULL, "maxconns_fast", T_TRUE, OFF(maxconns_fast), "yes",
     "close new connections at once over the limit", "maxconns_fast",
     F_DEFAULT, 0, 0},
    {0, NULL, "hashpower", T_INT, OFF(hashpower), MODULE_DEF,
     "initial log2 of hash buckets (0: 16)", "hashpower_init", F_DEFAULT, 0, 0},
    {0, NULL, "slab_reassign", T_TRUE, OFF(slab_reassign), MODULE_DEF,
     "allow moving slab pages between classes", "slab_reassign", F_DEFAULT, 0,
     0},
    {0, NULL, "slab_automove", T_INT, OFF(slab_automove), MODULE_DEF,
     "slab page automover: 0 off, 1 on, 2 aggressive (no value: 1)",
     "slab_automove", F_DEFAULT, 0, 0},
    {0, NULL, "slab_automove_ratio", T_IGNARG, NOOFF, "0.80", NULL,
     "slab_automove_ratio", F_DEFAULT, 0, 0},
    {0, NULL, "slab_automove_window", T_IGNARG, NOOFF, "30", NULL,
     "slab_automove_window", F_DEFAULT, 0, 0},
    {0, NULL, "slab_chunk_max", T_SIZE, OFF(slab_chunk_max), "524288",
     "largest slab chunk (no meaning here)", "slab_chunk_max", F_DEFAULT, 0,
     0},
    {0, NULL, "lru_crawler", T_TRUE, OFF(lru_crawler), MODULE_DEF,
     "run the expiry crawler and allow lru_crawler crawl/metadump "
     "(no_lru_crawler: don't)", "lru_crawler", F_DEFAULT, 0, 0},
    {0, NULL, "lru_crawler_sleep", T_INT, OFF(lru_crawler_sleep), MODULE_DEF,
     "microseconds the crawler sleeps between batches", "lru_crawler_sleep",
     F_DEFAULT, 0, 0},
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
    {0, NULL, "lru_maintainer", T_TRUE, OFF(lru_maintainer), MODULE_DEF,
     "run the LRU maintainer (no_lru_maintainer: don't)",
     "lru_maintainer_thread", F_DEFAULT, 0, 0},
    {0, NULL, NULL, T_CONST, OFF(lru_segmented), "yes", NULL, "lru_segmented",
     F_YESNO, 0, 0},
    {0, NULL, "hot_lru_pct", T_INT, OFF(hot_lru_pct), MODULE_DEF,
     "pct of a class's items in HOT", "hot_lru_pct", F_DEFAULT, 0, 0},
    {0, NULL, "warm_lru_pct", T_INT, OFF(warm_lru_pct), MODULE_DEF,
     "pct of a class's memory in WARM", "warm_lru_pct", F_DEFAULT, 0, 0},
    {0, NULL, "hot_max_factor", T_DOUBLE, OFF(hot_max_factor), MODULE_DEF,
     "items idle > cold age * this leave HOT", "hot_max_factor", F_DEFAULT, 0,
     0},
    {0, NULL, "warm_max_factor", T_DOUBLE, OFF(warm_max_factor), MODULE_DEF,
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
    {0, NULL, "ext_item_age", T_U32, OFF(ext_item_age), MODULE_DEF,
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
    {0, "flash-path", NULL, T_STR, OFF(flash_path), MODULE_DEF,
     "file or block device of the flash tier (none: RAM only); several: "
     "repeat the flag or separate with ',' (segments striped over them)", "flash_path",
     F_FLASH, 0, 0},
    {0, "flash-size", NULL, T_SIZE, OFF(flash_size), MODULE_DEF,
     "bytes of flash to use per file or device, k/m/g/t suffix (0: the whole "
     "file or device)",
     "flash_size", F_FLASH, 0, 0},
    {0, "flash-segment-size", NULL, T_SIZE, OFF(flash_segment_size), MODULE_DEF,
     "flash segment: unit of writing and reclaim (not given: at most this, "
     "a new file's size / 64 and -m / 4, down to 1m; an existing file keeps "
     "its own)",
     "flash_segment_size",
     F_FLASH, 0, 0},
    {0, "flash-block-size", NULL, T_SIZE, OFF(flash_block_size), MODULE_DEF,
     "raw bytes of items compressed together; one read per hit",
     "flash_block_size", F_FLASH, 0, 0},
    {0, "flash-dict-size", NULL, T_SIZE, OFF(flash_dict_size), MODULE_DEF,
     "zstd dictionary trained on the first 1 MiB of spilled values; small blocks "
     "then compress like big ones (0: none; 1k..64k)", "flash_dict_size", F_FLASH, 0, 0},
    {0, "flash-compression", NULL, T_STR, OFF(flash_compression), MODULE_DEF,
     "zstd level of flash blocks (-100..22), or none; 1 with the dictionary "
     "stores JSON-like values in 0.28 device bytes per byte", "flash_compression",
     F_FLASH, 0, 0},
    {0, "flash-io-depth", NULL, T_INT, OFF(flash_io_depth), MODULE_DEF,
     "flash reads in flight per worker thread", "flash_io_depth", F_FLASH, 0, 0},
    {0, "flash-min-item-size", NULL, T_SIZE, OFF(flash_min_item_size), MODULE_DEF,
     "smaller evicted items are not written to flash", "flash_min_item_size",
     F_FLASH, 0, 0},
    {0, "flash-promote", NULL, T_STR, OFF(flash_promote), MODULE_DEF,
     "copy flash hits back to RAM: second-hit, always or never",
     "flash_promote", F_FLASH, 0, 0},
    {0, "flash-promote-rate", NULL, T_INT, OFF(flash_promote_rate), MODULE_DEF,
     "most flash hits copied back to RAM per second per worker thread; each "
     "evicts RAM items to flash (0: no limit)", "flash_promote_rate", F_FLASH, 0, 0},
    {0, "flash-index-mem", NULL, T_SIZE, OFF(flash_index_mem), MODULE_DEF,
     "most bytes the flash index may grow to, outside -m (0: one item per 64 flash bytes)",
     "flash_index_mem", F_FLASH, 0, 0},
    {0, "flash-stall-ms", NULL, T_INT, OFF(flash_stall_ms), MODULE_DEF,
     "longest wait of an eviction for the flash writer, then it is dropped",
     "flash_stall_ms", F_FLASH, 0, 0},
    {0, "flash-checkpoint-interval", NULL, T_INT, OFF(flash_checkpoint_s), MODULE_DEF,
     "seconds between crash checkpoints of the flash index; after a crash the "
     "last one still valid is served (0: none, a crash loses the flash contents)",
     "flash_checkpoint_interval", F_FLASH, 0, 0},
    {0, "flash-reset", NULL, T_TRUE, OFF(flash_reset), MODULE_DEF,
     "overwrite a flash file or device holding foreign data",
     "flash_reset", F_FLASH, 0, 0},
    {0, "flash-fast-ingest", NULL, T_TRUE, OFF(flash_fast_ingest), MODULE_DEF,
     "while the flash writer is behind a load, store blocks raw and recompress "
     "them when idle (on by default: faster loads, about 4x the device writes "
     "during them; -o no_flash_fast_ingest: compress every block at once)",
     "flash_fast_ingest", F_FLASH, 0, 0},
    /* the same switch as an -o sub-option, so no_flash_fast_ingest turns
     * the default off (as memcached's no_lru_crawler); help and stat: the
     * row above */
    {0, NULL, "flash_fast_ingest", T_TRUE, OFF(flash_fast_ingest), MODULE_DEF, NULL, NULL,
     F_FLASH, 0, 0},
    /* memcached's extstore options with a meaning here (no stat) */
    {0, NULL, "ext_path", T_EXTPATH, NOOFF, NULL,
     "FILE:SIZE (SIZE with k/m/g/t): --flash-path and --flash-size; repeat "
     "for several devices (each uses the smallest SIZE)", NULL,
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
    {'L', "enable-largepages", NULL, T_TRUE, OFF(prealloc), MODULE_DEF,
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
     "--flash-io-depth", NULL, F_DEFAULT, 0, 0},
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

const size_t settings_nopts = sizeof(settings_opts) / sizeof(settings_opts[0]);
_Static_assert(sizeof(settings_opts) / sizeof(settings_opts[0]) <=
                   SETTINGS_OPTS_MAX,
               "raise SETTINGS_OPTS_MAX");

const char settings_module_def[] = "(the engine's)";

bool opt_takes_arg(opt_type_e t)
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

const char *opt_label(const opt_t *o, char *buf, size_t n)
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


bool settings_table_check(const opt_t *tab, size_t n, char *err,
                          size_t errlen)
{
    char label[64];
    for (size_t i = 0; i < n; i++) {
        const opt_t *o = &tab[i];
        opt_label(o, label, sizeof label);
        if (o->stat && o->def == NULL) {
            snprintf(err, errlen, "%s: a stat (%s) but no default", label,
                     o->stat);
            return false;
        }
        for (size_t j = 0; j < i; j++) {
            const opt_t *p = &tab[j];
            const char *same =
                o->shortopt && o->shortopt == p->shortopt ? "short flag"
                : o->longopt && p->longopt && strcmp(o->longopt, p->longopt) == 0
                    ? "long flag"
                : o->oname && p->oname && strcmp(o->oname, p->oname) == 0
                    ? "-o name"
                : o->stat && p->stat && strcmp(o->stat, p->stat) == 0
                    ? "stat name"
                    : NULL;
            if (same) {
                snprintf(err, errlen, "%s: its %s is also row %zu's", label,
                         same, j);
                return false;
            }
        }
    }
    return true;
}

/* Is a string row's default text memcached's way of saying "unset"? */
static bool unset_text(const char *d)
{
    return strcmp(d, "none") == 0 || strcmp(d, "(null)") == 0 ||
           strcmp(d, "NULL") == 0 || strcmp(d, "no") == 0 ||
           strcmp(d, "off") == 0 || d[0] == '\0';
}

/* Sets the field of row o to the row's default text, with no side effect
 * (what a flag also turns on is the parser's business, settings_parse.c).
 * Rows whose default an engine owns (MODULE_DEF), memcached's ext_* stat
 * texts (F_EXT) and rows without a field are left alone. */
static void row_default(settings_t *s, const opt_t *o)
{
    char *f = (char *)s + o->off;
    const char *d = o->def;
    option_t row = {"", OPTION_INT, o->off, d, 0, DBL_MAX, NULL, NULL};
    if (d == NULL || d == MODULE_DEF || o->fmt == F_EXT)
        return;
    switch (o->type) {
    case T_TRUE:
        *(bool *)f = strcmp(d, "yes") == 0;
        return;
    case T_CONST:
        if (o->fmt == F_YESNO) /* a stat of a bool field */
            *(bool *)f = strcmp(d, "yes") == 0;
        return;
    case T_STR:
        free(*(char **)f);
        *(char **)f = unset_text(d) ? NULL : strdup(d);
        return;
    case T_OCTAL:
        *(unsigned *)f = (unsigned)strtoul(d, NULL, 8);
        return;
    case T_INT:
        row.min = (double)o->min;
        row.max = (double)o->max;
        break;
    case T_SIZE: row.type = OPTION_SIZE; break;
    case T_DOUBLE: row.type = OPTION_DOUBLE; break;
    case T_U32: row.type = OPTION_U32; break;
    default:
        return;
    }
    if (option_set(&row, s, d) != OPTION_OK) {
        /* a build bug: settings_defaults_agree (unit test) names the row */
        fprintf(stderr, "settings.c: bad default \"%s\"\n", d);
        abort();
    }
}

void settings_default(settings_t *s)
{
    memset(s, 0, sizeof(*s));
    /* the server's own flags: the table's defaults */
    for (size_t i = 0; i < settings_nopts; i++)
        row_default(s, &settings_opts[i]);
    /* what the engines own: their option tables' defaults */
    settings_engine_defaults(s);
    /* flash_level / flash_no_compression: derived from flash_compression
     * when the flags are checked (validate_flash) */
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

