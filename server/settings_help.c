/*
 * server/settings_help.c - `-h` and the tiercache(1) man page, both made
 * from the flag table (settings_int.h).
 */
#include "settings_int.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Writes the value settings_default() starts row o's field with, as the
 * table would have written it ("64", "1m", "0.20", "second-hit", "none"). */
static const char *render_default(const opt_t *o, char *buf, size_t n)
{
    settings_t d;
    settings_default(&d);
    const char *f = (const char *)&d + o->off;
    switch (o->type) {
    case T_MB:
        snprintf(buf, n, "%zu", *(const size_t *)f);
        break;
    case T_SIZE: {
        size_t v = *(const size_t *)f;
        static const char suffix[] = "tgmk";
        int shift = 40;
        size_t i = 0;
        for (; v != 0 && i < 4; i++, shift -= 10)
            if (v % ((size_t)1 << shift) == 0)
                break;
        if (v != 0 && i < 4)
            snprintf(buf, n, "%zu%c", v >> shift, suffix[i]);
        else
            snprintf(buf, n, "%zu", v);
        break;
    }
    case T_INT:
        if (o->off == OFF(hashpower))
            snprintf(buf, n, "%u", *(const unsigned *)f);
        else
            snprintf(buf, n, "%d", *(const int *)f);
        break;
    case T_U32:
        snprintf(buf, n, "%u", *(const uint32_t *)f);
        break;
    case T_DOUBLE:
        snprintf(buf, n, "%.2f", *(const double *)f);
        break;
    case T_TRUE:
        snprintf(buf, n, "%s", *(const bool *)f ? "yes" : "no");
        break;
    case T_STR: {
        const char *v = *(char *const *)f;
        snprintf(buf, n, "%s", v ? v : "none");
        break;
    }
    default:
        snprintf(buf, n, "?");
        break;
    }
    settings_free(&d);
    return buf;
}

/* The default of a row as -h and the man page print it: flags (no value)
 * are off until given, but for an engine's flag on by default
 * (--flash-fast-ingest); memcached's "(null)"/"NULL" read "none"; an
 * engine's default (MODULE_DEF) as settings_default() sets it. NULL: the
 * row shows no default. */
const char *opt_help_default(const opt_t *o, char *buf, size_t n)
{
    if (!o->oname && o->type == T_TRUE && o->def == MODULE_DEF)
        return render_default(o, buf, n)[0] == 'y' ? "on" : "off";
    if (!o->oname && !opt_takes_arg(o->type))
        return o->type == T_HELP || o->type == T_VERSION ||
                       o->type == T_LICENSE || o->type == T_VERBOSE
                   ? NULL
                   : "off";
    /* F_EXT: def is memcached's stat text; the --flash-* row has ours */
    if (o->type == T_EXTENDED || o->type == T_EXTPATH || o->def == NULL ||
        o->fmt == F_EXT)
        return NULL;
    if (o->def == MODULE_DEF)
        return render_default(o, buf, n);
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
    if (opt_takes_arg(o->type) && o->type != T_EXTENDED)
        strncat(buf, o->oname ? "=<val>" : " <val>", n - strlen(buf) - 1);
}

void settings_help(void)
{
    char label[64], dbuf[64];
    printf("tiercache %s (memcached-compatible)\n", TIERCACHE_VERSION);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            printf("extended options (-o name[=value],...; booleans take a "
                   "no_ prefix to disable):\n");
        for (size_t i = 0; i < settings_nopts; i++) {
            const opt_t *o = &settings_opts[i];
            if (!listed(o) || (pass == 0) != (o->oname == NULL))
                continue;
            help_label(o, label, sizeof(label));
            const char *def = opt_help_default(o, dbuf, sizeof(dbuf));
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
    char label[64], dbuf[64];
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
        for (size_t i = 0; i < settings_nopts; i++) {
            const opt_t *o = &settings_opts[i];
            if (!listed(o) || (pass == 0) != (o->oname == NULL))
                continue;
            help_label(o, label, sizeof(label));
            printf(".TP\n.B ");
            roff_puts(label);
            printf("\n");
            roff_puts(help_text(o));
            const char *def = opt_help_default(o, dbuf, sizeof(dbuf));
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

