/*
 * server/settings_parse.c - the command line, -o lists and the config file
 * into settings_t, then the cross-flag checks (settings_parse).
 */
#include "settings_int.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h" /* option.h: the engines' row parser */

/* Parses "<num>[kKmMgGtT]" into bytes (the engines' row parser,
 * tiers/option.h). */
static bool parse_size(const char *v, size_t *out)
{
    const option_t row = {"", OPTION_SIZE, 0, v, 0, (double)SIZE_MAX, NULL,
                          NULL};
    return option_set(&row, out, v) == OPTION_OK;
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = strdup(v);
}

/* Appends flash path(s) v to *dst as "A,B" (the flash tier's device set:
 * --flash-path repeated or comma-separated, -o ext_path repeated). */
static void add_flash_path(char **dst, const char *v, size_t n)
{
    if (*dst == NULL) {
        *dst = strndup(v, n);
        return;
    }
    size_t had = strlen(*dst);
    char *p = malloc(had + 1 + n + 1);
    if (p == NULL)
        return;
    memcpy(p, *dst, had);
    p[had] = ',';
    memcpy(p + had + 1, v, n);
    p[had + 1 + n] = '\0';
    free(*dst);
    *dst = p;
}

/* Applies one option with value `v` (NULL for flags). `no` is true for a
 * "no_X" sub-option. */
settings_status_e opt_apply(settings_t *s, const opt_t *o, const char *v,
                            bool no)
{
    char label[64];
    char *base = (char *)s;
    char *end;
    opt_label(o, label, sizeof(label));
    if (opt_takes_arg(o->type) && (v == NULL || *v == '\0') &&
        o->type != T_IGNARG) {
        fprintf(stderr, "tiercache: %s needs a value\n", label);
        return SETTINGS_EUSAGE;
    }
    switch (o->type) {
    case T_INT: {
        long min = o->min, max = o->max;
        settings_engine_range(o, &min, &max); /* a field an engine owns */
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end != '\0' || n < min || n > max) {
            fprintf(stderr, "tiercache: invalid value \"%s\" for %s "
                    "(expected an integer in %ld..%ld)\n", v, label, min,
                    max);
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
        if (o->off == OFF(flash_path))
            add_flash_path(&s->flash_path, v, strlen(v));
        else
            set_str((char **)(base + o->off), v);
        return SETTINGS_OK;
    case T_SIZE:
        if (o->off == OFF(slab_chunk_max))
            s->slab_chunk_max_given = true;
        if (o->off == OFF(flash_segment_size))
            s->flash_segment_size_given = true;
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
        if (o->off == OFF(flash_segment_size))
            s->flash_segment_size_given = true;
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
        if (memchr(v, ',', (size_t)(colon - v)) != NULL) {
            fprintf(stderr, "tiercache: %s: a flash path may not contain ','\n",
                    label);
            return SETTINGS_EUSAGE;
        }
        /* repeated: one more device of the set; every device uses the
         * smallest SIZE given */
        if (s->flash_path == NULL || size < s->flash_size)
            s->flash_size = size;
        add_flash_path(&s->flash_path, v, (size_t)(colon - v));
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
        for (size_t i = 0; i < settings_nopts && !found; i++) {
            if (settings_opts[i].oname && strcmp(settings_opts[i].oname, tok) == 0)
                found = &settings_opts[i];
        }
        if (!found && strncmp(tok, "no_", 3) == 0) {
            for (size_t i = 0; i < settings_nopts && !found; i++) {
                if (settings_opts[i].oname && settings_opts[i].type == T_TRUE &&
                    strcmp(settings_opts[i].oname, tok + 3) == 0)
                    found = &settings_opts[i];
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
        st = opt_apply(s, found, val, no);
    }
    free(copy);
    return st;
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
    struct option longopts[SETTINGS_OPTS_MAX + 1];
    size_t ns = 0, nl = 0;
    for (size_t i = 0; i < settings_nopts; i++) {
        const opt_t *o = &settings_opts[i];
        if (o->oname || (o->shortopt == 0 && o->longopt == NULL))
            continue;
        int val = o->shortopt ? o->shortopt : (int)(256 + i);
        if (o->shortopt) {
            shortopts[ns++] = o->shortopt;
            if (opt_takes_arg(o->type))
                shortopts[ns++] = ':';
        }
        if (o->longopt) {
            longopts[nl].name = o->longopt;
            longopts[nl].has_arg = opt_takes_arg(o->type) ? required_argument
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
        for (size_t i = 0; i < settings_nopts && !o; i++) {
            if (settings_opts[i].oname)
                continue;
            if ((settings_opts[i].shortopt && settings_opts[i].shortopt == c) ||
                (!settings_opts[i].shortopt && c == (int)(256 + i)))
                o = &settings_opts[i];
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
                                   : opt_apply(s, o, optarg, false);
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
