/* options.h - every command line flag, declared once.
 *
 * BENCH_OPTIONS is the single table (field, flag, type, default, help):
 * struct bench_options, the parser and -h are all generated from it, so
 * the help text cannot drift from the code. Types: STR (const char *),
 * UINT (uint64_t), DBL (double), FLAG (bool, takes no value).
 */
#ifndef TCB_OPTIONS_H
#define TCB_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define BENCH_OPTIONS(X) \
    X(server, "server", STR, "127.0.0.1:11211", "HOST:PORT of the server under test") \
    X(protocol, "protocol", STR, "text", "wire protocol: \"text\", \"meta\" or \"binary\" (GETK, GETKQ batches ended by NOOP, SET)") \
    X(threads, "threads", UINT, "1", "client threads, each with its own event loop") \
    X(conns, "conns", UINT, "4", "connections in total, spread over the threads") \
    X(depth, "depth", UINT, "1", "closed loop: requests in flight per connection (pipelining)") \
    X(batch, "batch", UINT, "1", "closed loop: refill only when this many of --depth slots are free (sends bursts; 1: refill at once)") \
    X(rate, "rate", DBL, "0", "open loop: total requests/s on a fixed schedule (0: closed loop)") \
    X(max_inflight, "max-inflight", UINT, "1024", "open loop: cap on requests in flight per connection") \
    X(duration, "duration", DBL, "10", "measured seconds (after the warm-up)") \
    X(warmup, "warmup", DBL, "1", "seconds of load before measuring (excluded from stats)") \
    X(keys, "keys", UINT, "100000", "number of distinct keys") \
    X(key_size, "key-size", UINT, "32", "bytes per key (prefix + zero-padded number)") \
    X(key_prefix, "key-prefix", STR, "tcb:", "key prefix") \
    X(value_size, "value-size", STR, "1024", "value bytes: N (fixed) or A-B (uniform)") \
    X(value_dist, "value-dist", STR, "", "fixed | uniform | json (200 B - 4 KiB JSON documents); default from --value-size") \
    X(get_ratio, "get-ratio", DBL, "0.9", "share of requests that read (the rest are sets)") \
    X(del_ratio, "del-ratio", DBL, "0", "share of the non-read requests sent as deletes instead of sets (text and meta protocols; not with --verify or --load)") \
    X(mget, "mget", UINT, "0", "keys per multi-get (0 or 1: single-key gets only)") \
    X(mget_ratio, "mget-ratio", DBL, "1", "with --mget N: share of reads sent as N-key multi-gets") \
    X(zipf, "zipf", DBL, "0", "Zipf skew theta in (0, 1) for key popularity (0: uniform)") \
    X(load, "load", FLAG, "off", "first write every key once at full speed and report the rate") \
    X(load_depth, "load-depth", UINT, "16", "requests in flight per connection during --load") \
    X(load_timeout, "load-timeout", DBL, "300", "give up on --load after this many seconds") \
    X(verify, "verify", FLAG, "off", "check every reply (values derive from key and version; exit 1 on a wrong value)") \
    X(verify_version, "verify-version", UINT, "0", "with --verify and no --load: every key already holds this version (written by an earlier --load --verify run, e.g. before a restart); a miss is counted, an older or newer version is a failure") \
    X(seed, "seed", UINT, "1", "random seed (key choice, op mix)") \
    X(json, "json", STR, "", "also write the results as JSON to this file") \
    X(quiet, "quiet", FLAG, "off", "no progress line on stderr") \
    X(tls, "tls", FLAG, "off", "speak TLS (OpenSSL; the server's certificate is not checked: loopback benchmarks)") \
    X(cache_aside, "cache-aside", FLAG, "off", "a get miss is followed by a set of that key's value (values derive from the key); reports the miss ratio and byte miss ratio") \
    X(ttl, "ttl", UINT, "0", "exptime in seconds of every set the bench sends (0: never; at most 2592000)") \
    X(trace, "trace", STR, "", "replay this trace (Twitter cache-trace CSV: timestamp,key,key size,value size,client id,op,TTL), cache-aside for gets; text or meta protocol") \
    X(trace_speed, "trace-speed", STR, "max", "--trace pace: \"recorded\" (at the timestamps' pace) or \"max\" (as fast as possible)") \
    X(trace_values, "trace-values", STR, "json", "--trace value contents: \"json\" (JSON documents from 200 B, compressible like real ones; smaller values printable random) or \"random\" (printable random bytes)") \
    X(trace_timeout, "trace-timeout", DBL, "600", "give up on a --trace replay after this many seconds") \
    X(trace_gen, "trace-gen", STR, "", "write a synthetic trace to this file and exit (uses --keys, --key-size, --zipf, --value-size/--value-dist, --get-ratio, --del-ratio, --seed and the --gen-* flags)") \
    X(gen_count, "gen-count", UINT, "100000", "--trace-gen: lines to write") \
    X(gen_one_hit, "gen-one-hit", DBL, "0", "--trace-gen: share of lines that are gets of a key requested only once (one-hit wonders)") \
    X(gen_scan, "gen-scan", UINT, "0", "--trace-gen: a scan: this many consecutive gets of keys 0, 1, 2, ... (of --keys)") \
    X(gen_scan_at, "gen-scan-at", DBL, "0.5", "--trace-gen: where the scan starts, as a share of --gen-count") \
    X(gen_ttl, "gen-ttl", STR, "0", "--trace-gen: TTL mix \"T:share,T:share,...\" (shares sum to 1; a key keeps one TTL), or one TTL") \
    X(gen_rate, "gen-rate", DBL, "10000", "--trace-gen: lines per second of recorded time (timestamps are whole seconds)")

#define OPT_CTYPE_STR const char *
#define OPT_CTYPE_UINT uint64_t
#define OPT_CTYPE_DBL double
#define OPT_CTYPE_FLAG bool

struct bench_options {
#define X(field, flag, type, def, help) OPT_CTYPE_##type field;
    BENCH_OPTIONS(X)
#undef X
};

enum opt_status {
    OPT_OK,
    OPT_HELP,       /* -h / --help given */
    OPT_EUSAGE,     /* message already printed to stderr */
};

/* Fills o with the defaults, then applies argv (--flag VALUE or
 * --flag=VALUE). String values point into argv or static storage. */
enum opt_status options_parse(struct bench_options *o, int argc, char **argv);

/* Prints usage with every flag, its default and its meaning. */
void options_usage(FILE *f, const char *prog);

#endif
