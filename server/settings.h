/*
 * server/settings.h - every command-line flag, in one table.
 *
 * settings.c holds one table (short flag, long option, type, default, help,
 * `stats settings` name). Parsing, `-h` output and `stats settings` all walk
 * that table, so they cannot drift apart. A flag whose value an engine owns
 * (RAM, flash, the door) takes its default from that engine's option table
 * (tiers/option.h; settings_cache.h maps the fields). Every memcached 1.6 flag and `-o`
 * sub-option is accepted; one that means nothing here prints a warning on
 * stderr and is ignored (README.md lists them and why that is safe): never
 * one that asks for authentication, encryption or a limit.
 */
#ifndef TIERCACHE_SETTINGS_H
#define TIERCACHE_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TIERCACHE_VERSION "1.6.18-tiercache-0.1.0"

typedef struct settings {
    /* network */
    int port;              /* -p: TCP port; 0 = an ephemeral port */
    bool port_given;       /* -p was given (else -U's port is TCP's too) */
    bool port_any;         /* -p -1 (memcached's ephemeral port; port 0) */
    int udp_port;          /* -U: UDP port, 0 = off (see udp.h) */
    char *socket_path;     /* -s: unix socket (disables TCP) */
    unsigned unix_mask;    /* -a: octal permission mask */
    char *listen;          /* -l: comma-separated interfaces */
    int maxconns;          /* -c */
    int backlog;           /* -b */
    int threads;           /* -t */
    int reqs_per_event;    /* -R */
    char *protocol;        /* -B: auto | ascii | binary */
    bool protocol_given;   /* -B was on the command line */
    bool maxconns_fast;    /* -o maxconns_fast */
    /* process */
    bool enable_shutdown;  /* -A */
    bool daemonize;        /* -d */
    bool coredumps;        /* -r */
    char *user;            /* -u */
    char *pidfile;         /* -P */
    int verbose;           /* -v, -vv, -vvv */
    bool lock_memory;      /* -k */
    char *memory_file;     /* -e: warm restart file (RAM only), NULL: none */
    char *metrics_listen;  /* --metrics-listen HOST:PORT (metrics.h), NULL: off */
    char *config_file;     /* --config-file: flags read from a file */
    char *log_file;        /* --log-file: stderr goes there; SIGHUP reopens */
    /* storage */
    size_t mem_mb;         /* -m: megabytes */
    bool no_evictions;     /* -M */
    bool no_cas;           /* -C */
    double growth;         /* -f */
    int chunk_min;         /* -n */
    bool prealloc;         /* -L */
    size_t item_size_max;  /* -I: bytes */
    unsigned hashpower;    /* -o hashpower */
    bool lru_crawler;      /* -o lru_crawler / no_lru_crawler */
    int lru_crawler_sleep; /* -o lru_crawler_sleep (us) */
    int lru_crawler_tocrawl;
    bool lru_maintainer;   /* -o lru_maintainer / no_lru_maintainer */
    bool lru_segmented;    /* follows lru_maintainer; no_modern: false */
    bool no_modern;        /* -o no_modern: memcached 1.4's defaults */
    bool temp_lru;         /* -o temporary_ttl was given (stat only) */
    bool slab_chunk_max_given;
    const char *flash_flag_given; /* a --flash-* flag seen (its name) */
    int hot_lru_pct;
    int warm_lru_pct;
    double hot_max_factor;
    double warm_max_factor;
    int temporary_ttl;
    int idle_timeout;
    int read_buf_mem_limit; /* -o read_buf_mem_limit: megabytes, 0 = none */
    bool slab_reassign;
    int slab_automove;
    size_t slab_chunk_max;
    bool track_sizes;
    /* features */
    bool no_flush;         /* -F */
    bool no_dump;          /* -X */
    bool no_watch;         /* -W */
    char *delimiter;       /* -D */
    char *hash_algorithm;
    int tail_repair_time;
    bool binary_warned;
    /* authentication (auth.h) */
    bool sasl;             /* -S: SASL on the binary protocol */
    char *auth_file;       /* -Y: ascii authentication users, NULL: off */
    /* the flash tier: off while flash_path is NULL (RAM only) */
    char *flash_path;           /* --flash-path, -o ext_path=FILE:SIZE */
    size_t flash_size;          /* --flash-size: bytes (0: whole device) */
    size_t flash_segment_size;  /* --flash-segment-size, -o ext_page_size */
    bool flash_segment_size_given; /* one of them was given (else an
                                      existing flash file keeps its own) */
    size_t flash_block_size;    /* --flash-block-size */
    size_t flash_dict_size;     /* --flash-dict-size (0 = none) */
    char *flash_compression;    /* --flash-compression: zstd level | none */
    int flash_io_depth;         /* --flash-io-depth */
    int flash_promote_rate;     /* --flash-promote-rate (0: no limit) */
    size_t flash_min_item_size; /* --flash-min-item-size, -o ext_item_size */
    char *flash_promote;        /* --flash-promote: second-hit|always|never */
    size_t flash_index_mem;     /* --flash-index-mem: bytes (0: derived) */
    int flash_stall_ms;         /* --flash-stall-ms */
    int flash_checkpoint_s;     /* --flash-checkpoint-interval */
    bool flash_reset;           /* --flash-reset */
    bool flash_fast_ingest;     /* --flash-fast-ingest */
    uint32_t ext_item_age;      /* -o ext_item_age: seconds (UINT32_MAX:
                                   off); used with a flash tier only */
    /* TLS (-Z), memcached's -o ssl_* options: see tls.h */
    bool ssl_enabled;           /* -Z / --enable-ssl */
    char *ssl_chain_cert;       /* certificate chain, PEM */
    char *ssl_key;              /* private key (ssl_keyformat) */
    char *ssl_ca_cert;          /* CAs accepted for client certificates */
    char *ssl_ciphers;          /* OpenSSL cipher list (TLS <= 1.2) */
    int ssl_verify_mode;        /* 0 none, 1 request, 2 require, 3 once */
    int ssl_keyformat;          /* 1 PEM, 2 ASN.1 (DER) */
    int ssl_wbuf_kb;            /* -o ssl_wbuf_size: kilobytes */
    bool ssl_session_cache;     /* server-side session cache */
    bool ssl_kernel_tls;        /* SSL_OP_ENABLE_KTLS */
    int ssl_min_version;        /* 0 tlsv1.0 .. 3 tlsv1.3 */
    /* derived by settings_parse() from the strings above */
    bool flash_no_compression;  /* flash_compression is "none" */
    int flash_level;            /* the zstd level otherwise */
    int flash_promote_mode;     /* 0 second-hit, 1 always, 2 never (the
                                   order of cache_flash_promote_e) */
} settings_t;

typedef enum settings_status {
    SETTINGS_OK = 0,   /* run the server */
    SETTINGS_EXIT,     /* -h / -V / -i printed: exit 0 */
    SETTINGS_EUSAGE,   /* bad flag or value, message printed: exit 64 */
} settings_status_e;

/* Fills *s with the defaults of the table. */
void settings_default(settings_t *s);

/*
 * Parses argv into *s (which settings_default() has filled). Prints help or
 * version on stdout and errors/warnings on stderr. Strings in *s are
 * allocated; settings_free() releases them.
 */
settings_status_e settings_parse(settings_t *s, int argc, char **argv);

/* Releases the strings held by *s. */
void settings_free(settings_t *s);

/* Writes `-h` output (every flag with its default) to stdout. */
void settings_help(void);

/* Writes the tiercache(1) man page (roff), made from the same table as
 * `-h`, to stdout (the hidden `--man`; the build makes tiercache.1). */
void settings_man(void);

/*
 * Checks that every row's default text (what -h and the man page print;
 * for a flag an engine owns, the engine's default as settings_default()
 * takes it) parses to the value settings_default() sets, and the engines'
 * tables and their links (settings_engines_agree, settings_cache.h): the
 * defaults the flags hand the cache are the engines' own. False with the
 * first problem named in err[errlen] (unit tests: nothing can drift).
 */
bool settings_defaults_agree(char *err, size_t errlen);

/* Emits `stats settings` name/value pairs in memcached's order.
 * `tcpport` is the port actually bound (for -p 0). */
typedef void (*settings_emit_fn)(void *ctx, const char *name,
                                 const char *value);
void settings_stats(const settings_t *s, int tcpport, settings_emit_fn emit,
                    void *ctx);

#endif /* TIERCACHE_SETTINGS_H */
