/*
 * server/settings_stats.c - `stats settings` from the flag table, and the
 * check that every default the table shows is the one the code starts
 * with (settings_defaults_agree).
 */
#include "settings_int.h"
#include "settings_cache.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses row o's default text into a scratch copy of the defaults and
 * compares the field with settings_default()'s. */
static bool row_default_agrees(const opt_t *o, char *err, size_t errlen)
{
    settings_t want, got;
    bool ok = true;
    const char *def = o->def;
    char label[64], dbuf[64];
    opt_label(o, label, sizeof(label));
    if (def == MODULE_DEF) /* what -h shows of the engine's default */
        def = opt_help_default(o, dbuf, sizeof(dbuf));
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
        ok = opt_apply(&got, o, def, false) == SETTINGS_OK;
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
                 "disagrees", label, o->def == MODULE_DEF ? dbuf : o->def);
    settings_free(&want);
    settings_free(&got);
    return ok;
}

bool settings_defaults_agree(char *err, size_t errlen)
{
    if (!settings_table_check(settings_opts, settings_nopts, err, errlen))
        return false;
    for (size_t i = 0; i < settings_nopts; i++)
        if (!row_default_agrees(&settings_opts[i], err, errlen))
            return false;
    return settings_engines_agree(err, errlen);
}


void settings_stats(const settings_t *s, int tcpport, settings_emit_fn emit,
                    void *ctx)
{
    char buf[256];
    const char *base = (const char *)s;
    for (size_t i = 0; i < settings_nopts; i++) {
        const opt_t *o = &settings_opts[i];
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
