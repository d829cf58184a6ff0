/*
 * tools/inspect/print.c - text and JSON output of tiercache-inspect.
 * Contract: print.h. No globals.
 */
#include "print.h"

#include <inttypes.h>
#include <string.h>

typedef unsigned long long ull;

static double ratio(uint64_t num, uint64_t den)
{
    return den ? (double)num / (double)den : 0.0;
}

/* ---- JSON helpers ---- */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void json_ratio(FILE *f, uint64_t num, uint64_t den)
{
    if (den)
        fprintf(f, "%.3f", ratio(num, den));
    else
        fputs("null", f);
}

static void json_open(inspect_printer_t *p, const inspect_report_t *r)
{
    if (p->opened)
        return;
    p->opened = true;
    fputs("{\"file\": ", p->out);
    json_str(p->out, r->path ? r->path : "");
    fprintf(p->out, ", \"file_size\": %llu", (ull)r->file_size);
}

static const char *codec_name(uint8_t codec)
{
    return codec == FLASH_CODEC_ZSTD ? "zstd" : codec == FLASH_CODEC_ZSTD_DICT ? "zstd+dict"
                                                                               : "raw";
}

static void json_superblock(inspect_printer_t *p, const inspect_report_t *r)
{
    FILE *f = p->out;
    json_open(p, r);
    const flash_sb_t *sb = &r->sb;
    fprintf(f, ",\n \"superblock\": {\"version\": %u, \"device_size\": %llu, "
            "\"data_offset\": %llu, \"segment_size\": %u, \"segment_count\": %u, "
            "\"alignment\": %u, \"block_target\": %u, \"created\": %llu, "
            "\"instance_id\": \"0x%016llx\", \"features\": %u}",
            sb->version, (ull)sb->device_size, (ull)sb->data_offset, sb->segment_size,
            sb->segment_count, sb->alignment, sb->block_target, (ull)sb->created,
            (ull)sb->instance_id, sb->features);
    fputs(",\n \"dictionaries\": [", f);
    for (unsigned i = 0, n = 0; i < FLASH_DICT_SLOTS; i++)
        if (r->dict_id[i])
            fprintf(f, "%s{\"slot\": %u, \"id\": %u, \"bytes\": %u, \"samples\": %u}",
                    n++ ? ", " : "", i, r->dict_id[i], r->dict_len[i], r->dict_samples[i]);
    fputs("]", f);
    if (!r->state_ok) {
        fputs(",\n \"state\": {\"valid\": false, \"error\": ", f);
        json_str(f, flash_sb_strerror(r->state_status));
        fputs("}", f);
        return;
    }
    const flash_state_t *st = &r->state;
    fprintf(f, ",\n \"state\": {\"valid\": true, \"state\": \"%s\", \"run_count\": %llu, "
            "\"last_seq\": %llu, \"min_valid_seq\": %llu, \"time\": %llu, "
            "\"flush_oldest_live\": %u, \"max_cas\": %llu, \"live_map\": %s, "
            "\"live_map_ok\": %s, \"live_map_segments\": %u, \"live_map_items\": %llu, "
            "\"journal_kills\": %llu, \"journal_extends\": %llu}",
            st->state == FLASH_STATE_CLEAN ? "clean" : "running", (ull)st->run_count,
            (ull)st->last_seq, (ull)st->min_valid_seq, (ull)st->time,
            st->flush_oldest_live, (ull)st->max_cas, r->map_present ? "true" : "false",
            r->map_ok ? "true" : "false", r->map_segments, (ull)r->map_live,
            (ull)r->map_kills, (ull)r->map_extends);
}

static bool shown(const inspect_printer_t *p, const inspect_seg_t *s)
{
    return p->verbose || (s->kind != INSPECT_SEG_EMPTY && s->kind != INSPECT_SEG_MISSING);
}

static void json_seg_begin(inspect_printer_t *p, const inspect_seg_t *s)
{
    FILE *f = p->out;
    if (!p->in_segments) {
        fputs(",\n \"segments\": [", f);
        p->in_segments = true;
        p->first_seg = true;
    }
    if (!shown(p, s))
        return;
    fprintf(f, "%s\n  {\"id\": %u, \"offset\": %llu, \"kind\": \"%s\"",
            p->first_seg ? "" : ",", s->id, (ull)s->offset, inspect_seg_kind_name(s->kind));
    p->first_seg = false;
    p->seg_open = true;
    if (s->kind == INSPECT_SEG_USED || s->kind == INSPECT_SEG_OTHER) {
        const flash_seghdr_t *h = &s->hdr;
        fprintf(f, ", \"seq\": %llu, \"generation\": %u, \"created\": %llu, "
                "\"instance_id\": \"0x%016llx\", \"block_count\": %u, \"items\": %u, "
                "\"tombstones\": %u, \"summary_offset\": %u, \"data_end\": %u, "
                "\"max_cas\": %llu, \"max_exptime\": %u",
                (ull)h->seq, h->gen, (ull)h->created, (ull)h->instance_id, h->nblocks,
                h->nitems, h->ntombs, h->summary_off, h->data_end, (ull)h->max_cas,
                h->max_exptime);
    }
    if (s->kind == INSPECT_SEG_BAD && s->hdr_status != FLASH_SEG_OK) {
        fputs(", \"header_error\": ", f);
        json_str(f, flash_seg_strerror(s->hdr_status));
    }
    if (p->verbose && s->kind == INSPECT_SEG_USED) {
        fputs(", \"blocks\": [", f);
        p->first_block = true;
    }
}

static void json_block(inspect_printer_t *p, const inspect_seg_t *s, const inspect_block_t *b)
{
    if (!p->verbose)
        return;
    FILE *f = p->out;
    fprintf(f, "%s\n    {\"unit\": %u, \"offset\": %llu, \"status\": ",
            p->first_block ? "" : ",", b->unit, (ull)b->offset);
    p->first_block = false;
    json_str(f, b->status == FLASH_BLK_OK ? "ok" : flash_blk_strerror(b->status));
    if (b->hdr_ok)
        fprintf(f, ", \"codec\": \"%s\", \"records\": %u, \"raw_len\": %u, "
                "\"stored_len\": %u, \"disk_len\": %u",
                codec_name(b->hdr.codec), b->hdr.nrec,
                b->hdr.raw_len, b->hdr.stored_len, b->disk_len);
    fputs("}", f);
    (void)s;
}

static void json_seg_end(inspect_printer_t *p, const inspect_seg_t *s)
{
    if (!p->seg_open)
        return;
    FILE *f = p->out;
    if (p->verbose && s->kind == INSPECT_SEG_USED)
        fputs("]", f);
    if (s->kind == INSPECT_SEG_USED) {
        fprintf(f, ", \"fill\": %.3f, \"records\": %llu, \"blocks_ok\": %u, "
                "\"blocks_bad\": %u, \"raw_bytes\": %llu, \"stored_bytes\": %llu, "
                "\"disk_bytes\": %llu, \"compression_ratio\": ",
                ratio(s->hdr.data_end, p->seg_size), (ull)s->records, s->blocks_ok,
                s->blocks_bad, (ull)s->raw_bytes, (ull)s->stored_bytes, (ull)s->disk_bytes);
        json_ratio(f, s->raw_bytes, s->stored_bytes);
        fprintf(f, ", \"summary\": ");
        json_str(f, s->sum_status == FLASH_SEG_OK ? "ok" : flash_seg_strerror(s->sum_status));
    }
    fprintf(f, ", \"errors\": %u}", s->errors);
    p->seg_open = false;
}

static void json_finish(inspect_printer_t *p, const inspect_report_t *r, int exit_code)
{
    FILE *f = p->out;
    json_open(p, r);
    if (!p->in_segments)
        fputs(",\n \"segments\": [", f);
    fputs("],\n", f);
    fprintf(f, " \"totals\": {\"segments_used\": %u, \"segments_empty\": %u, "
            "\"segments_other_instance\": %u, \"segments_bad\": %u, "
            "\"segments_missing\": %u, \"max_seq\": %llu, \"blocks_ok\": %llu, "
            "\"blocks_bad\": %llu, \"records\": %llu, \"summary_items\": %llu, "
            "\"summary_tombstones\": %llu, \"key_bytes\": %llu, \"value_bytes\": %llu, "
            "\"raw_bytes\": %llu, \"stored_bytes\": %llu, \"disk_bytes\": %llu, "
            "\"compression_ratio\": ",
            r->seg_count[INSPECT_SEG_USED], r->seg_count[INSPECT_SEG_EMPTY],
            r->seg_count[INSPECT_SEG_OTHER], r->seg_count[INSPECT_SEG_BAD],
            r->seg_count[INSPECT_SEG_MISSING], (ull)r->max_seq, (ull)r->blocks_ok,
            (ull)r->blocks_bad, (ull)r->records, (ull)r->sum_items, (ull)r->sum_tombs,
            (ull)r->key_bytes, (ull)r->value_bytes, (ull)r->raw_bytes,
            (ull)r->stored_bytes, (ull)r->disk_bytes);
    json_ratio(f, r->raw_bytes, r->stored_bytes);
    fputs(", \"disk_ratio\": ", f);
    json_ratio(f, r->raw_bytes, r->disk_bytes);
    fputs("},\n \"value_size_histogram\": [", f);
    bool first = true;
    for (unsigned k = 0; k < INSPECT_HIST_BUCKETS; k++) {
        if (!r->hist[k])
            continue;
        uint64_t lo = k ? (uint64_t)1 << (k - 1) : 0, hi = k ? ((uint64_t)1 << k) - 1 : 0;
        fprintf(f, "%s{\"min\": %llu, \"max\": %llu, \"count\": %llu}", first ? "" : ", ",
                (ull)lo, (ull)hi, (ull)r->hist[k]);
        first = false;
    }
    fputs("],\n \"problems\": [", f);
    for (size_t i = 0; i < r->nproblems; i++) {
        const inspect_problem_t *pr = &r->problems[i];
        fprintf(f, "%s\n  {\"severity\": \"%s\", \"segment\": %lld, \"unit\": %lld, "
                "\"offset\": %llu, \"message\": ", i ? "," : "",
                pr->severity == INSPECT_ERROR ? "error" : "warning", (long long)pr->seg,
                (long long)pr->unit, (ull)pr->offset);
        json_str(f, pr->msg);
        fputs("}", f);
    }
    fprintf(f, "],\n \"errors\": %llu, \"warnings\": %llu, \"result\": ", (ull)r->errors,
            (ull)r->warnings);
    json_str(f, inspect_strerror(r->status));
    if (r->error[0]) {
        fputs(", \"error\": ", f);
        json_str(f, r->error);
    }
    fprintf(f, ", \"exit_code\": %d}\n", exit_code);
}

/* ---- text ---- */

static void text_superblock(inspect_printer_t *p, const inspect_report_t *r)
{
    FILE *f = p->out;
    const flash_sb_t *sb = &r->sb;
    fprintf(f, "file %s: %llu bytes\n", r->path, (ull)r->file_size);
    fprintf(f, "superblock: ok, format version %u, instance 0x%016llx, created %llu\n",
            sb->version, (ull)sb->instance_id, (ull)sb->created);
    fprintf(f, "  device size %llu, data offset %llu, %u segments of %u bytes, "
            "alignment %u, block target %u\n", (ull)sb->device_size, (ull)sb->data_offset,
            sb->segment_count, sb->segment_size, sb->alignment, sb->block_target);
    for (unsigned i = 0; i < FLASH_DICT_SLOTS; i++)
        if (r->dict_id[i])
            fprintf(f, "dictionary slot %u: id %u, %u bytes, trained on %u values\n", i,
                    r->dict_id[i], r->dict_len[i], r->dict_samples[i]);
    if (r->state_ok) {
        const flash_state_t *st = &r->state;
        fprintf(f, "state record: %s, run %llu, last seq %llu, min valid seq %llu, "
                "written %llu, max cas %llu, flush horizon %u\n",
                st->state == FLASH_STATE_CLEAN ? "CLEAN" : "RUNNING (not a clean shutdown)",
                (ull)st->run_count, (ull)st->last_seq, (ull)st->min_valid_seq,
                (ull)st->time, (ull)st->max_cas, st->flush_oldest_live);
        if (r->map_present)
            fprintf(f, "live map (%s): segment %u (+%u), %llu bytes, %s: %u segments, "
                    "%llu items kept for the next start%s",
                    st->state == FLASH_STATE_CLEAN ? "clean stop" : "crash checkpoint",
                    st->map_first_seg, st->map_seg_count - 1, (ull)st->map_len,
                    r->map_ok ? "ok" : "DAMAGED", r->map_segments, (ull)r->map_live,
                    st->state == FLASH_STATE_CLEAN ? "\n" : "");
        if (r->map_present && st->state != FLASH_STATE_CLEAN)
            fprintf(f, ", plus %llu segments sealed after it, less %llu changed since "
                    "(kill journal%s)\n", (ull)r->map_extends, (ull)r->map_kills,
                    (st->flags & FLASH_STATE_JOURNALED) ? "; dropped after a host restart"
                                                        : "");
        else
            fprintf(f, "live map: none (%s)\n",
                    st->state == FLASH_STATE_CLEAN
                        ? "the next start keeps nothing"
                        : "no valid crash checkpoint: a start after a crash keeps nothing");
    } else {
        fprintf(f, "state record: invalid (%s)\n", flash_sb_strerror(r->state_status));
    }
}

static void text_table_head(inspect_printer_t *p)
{
    if (p->table_head)
        return;
    p->table_head = true;
    fprintf(p->out, "%5s %12s %8s %5s %6s %7s %6s %8s %6s %6s  %s\n", "seg", "offset",
            "seq", "gen", "blocks", "items", "tombs", "records", "fill%", "ratio",
            "status");
}

static void text_seg_begin(inspect_printer_t *p, const inspect_seg_t *s)
{
    if (p->verbose && s->kind == INSPECT_SEG_USED)
        fprintf(p->out, "segment %u (offset %llu): seq %llu, generation %u, %u blocks, "
                "%u items, %u tombstones, data end %u\n", s->id, (ull)s->offset,
                (ull)s->hdr.seq, s->hdr.gen, s->hdr.nblocks, s->hdr.nitems, s->hdr.ntombs,
                s->hdr.data_end);
}

static void text_block(inspect_printer_t *p, const inspect_seg_t *s, const inspect_block_t *b)
{
    if (!p->verbose)
        return;
    FILE *f = p->out;
    fprintf(f, "  block unit %5u (offset %llu): ", b->unit, (ull)b->offset);
    if (b->hdr_ok)
        fprintf(f, "%s, %u records, raw %u, stored %u, disk %u: ",
                codec_name(b->hdr.codec), b->hdr.nrec,
                b->hdr.raw_len, b->hdr.stored_len, b->disk_len);
    fprintf(f, "%s\n", b->status == FLASH_BLK_OK ? "ok" : flash_blk_strerror(b->status));
    (void)s;
}

static void text_seg_end(inspect_printer_t *p, const inspect_seg_t *s)
{
    if (!shown(p, s))
        return;
    FILE *f = p->out;
    if (p->verbose) {   /* blocks were listed under the segment's line */
        if (s->kind == INSPECT_SEG_USED)
            fprintf(f, "  = %llu records, fill %.1f%%, ratio %.2f, summary %s: %s\n",
                    (ull)s->records, 100.0 * ratio(s->hdr.data_end, p->seg_size),
                    ratio(s->raw_bytes, s->stored_bytes),
                    s->sum_status == FLASH_SEG_OK ? "ok" : flash_seg_strerror(s->sum_status),
                    s->errors ? "CORRUPT" : "ok");
        else
            fprintf(f, "segment %u (offset %llu): %s\n", s->id, (ull)s->offset,
                    s->kind == INSPECT_SEG_BAD ? "CORRUPT (bad header)"
                                               : inspect_seg_kind_name(s->kind));
        return;
    }
    text_table_head(p);
    if (s->kind == INSPECT_SEG_USED || s->kind == INSPECT_SEG_OTHER) {
        const flash_seghdr_t *h = &s->hdr;
        char st[64];
        if (s->kind == INSPECT_SEG_OTHER)
            snprintf(st, sizeof st, "other instance (leftover, not checked)");
        else if (s->errors)
            snprintf(st, sizeof st, "CORRUPT (%u errors)", s->errors);
        else
            snprintf(st, sizeof st, "ok");
        fprintf(f, "%5u %12llu %8llu %5u %6u %7u %6u %8llu %6.1f %6.2f  %s\n", s->id,
                (ull)s->offset, (ull)h->seq, h->gen, h->nblocks, h->nitems, h->ntombs,
                (ull)s->records, 100.0 * ratio(h->data_end, p->seg_size),
                ratio(s->raw_bytes, s->stored_bytes), st);
    } else {
        fprintf(f, "%5u %12llu %8s %5s %6s %7s %6s %8s %6s %6s  %s\n", s->id,
                (ull)s->offset, "-", "-", "-", "-", "-", "-", "-", "-",
                s->kind == INSPECT_SEG_BAD ? "CORRUPT (bad header)"
                                           : inspect_seg_kind_name(s->kind));
    }
}

static void text_finish(inspect_printer_t *p, const inspect_report_t *r, int exit_code)
{
    FILE *f = p->out;
    if (r->sb_ok) {
        fprintf(f, "segments: %u used, %u empty, %u of another instance, %u bad, "
                "%u live map, %u missing; highest seq %llu\n", r->seg_count[INSPECT_SEG_USED],
                r->seg_count[INSPECT_SEG_EMPTY], r->seg_count[INSPECT_SEG_OTHER],
                r->seg_count[INSPECT_SEG_BAD], r->seg_count[INSPECT_SEG_MAP],
                r->seg_count[INSPECT_SEG_MISSING], (ull)r->max_seq);
        fprintf(f, "blocks: %llu ok, %llu bad\n", (ull)r->blocks_ok, (ull)r->blocks_bad);
        fprintf(f, "items: %llu records in readable blocks; summaries: %llu items, "
                "%llu tombstones\n", (ull)r->records, (ull)r->sum_items, (ull)r->sum_tombs);
        fprintf(f, "bytes: keys %llu, values %llu; raw %llu, stored %llu, on disk %llu\n",
                (ull)r->key_bytes, (ull)r->value_bytes, (ull)r->raw_bytes,
                (ull)r->stored_bytes, (ull)r->disk_bytes);
        fprintf(f, "compression ratio: %.2f (raw / stored), %.2f (raw / on disk, with "
                "headers and padding)\n", ratio(r->raw_bytes, r->stored_bytes),
                ratio(r->raw_bytes, r->disk_bytes));
        fprintf(f, "value sizes:\n");
        for (unsigned k = 0; k < INSPECT_HIST_BUCKETS; k++) {
            if (!r->hist[k])
                continue;
            uint64_t lo = k ? (uint64_t)1 << (k - 1) : 0;
            uint64_t hi = k ? ((uint64_t)1 << k) - 1 : 0;
            fprintf(f, "  %10llu - %-10llu %10llu\n", (ull)lo, (ull)hi, (ull)r->hist[k]);
        }
    }
    for (size_t i = 0; i < r->nproblems; i++)
        fprintf(f, "%s: %s\n", r->problems[i].severity == INSPECT_ERROR ? "CORRUPT" : "warning",
                r->problems[i].msg);
    if (r->errors + r->warnings > r->nproblems)
        fprintf(f, "... and %llu more problems not listed\n",
                (ull)(r->errors + r->warnings - r->nproblems));
    if (r->status == INSPECT_OK)
        fprintf(f, "result: OK: no corruption found (%llu warnings)\n", (ull)r->warnings);
    else if (r->status == INSPECT_ECORRUPT)
        fprintf(f, "result: CORRUPT: %llu problem(s) found (exit %d)\n", (ull)r->errors,
                exit_code);
    else
        fprintf(f, "result: %s: %s (exit %d)\n", inspect_strerror(r->status), r->error,
                exit_code);
}

/* ---- visitor glue ---- */

static void on_superblock(void *ctx, const inspect_report_t *r)
{
    inspect_printer_t *p = ctx;
    p->seg_size = r->sb.segment_size;
    if (p->json)
        json_superblock(p, r);
    else
        text_superblock(p, r);
}

static void on_seg_begin(void *ctx, const inspect_seg_t *s)
{
    inspect_printer_t *p = ctx;
    if (p->json)
        json_seg_begin(p, s);
    else
        text_seg_begin(p, s);
}

static void on_block(void *ctx, const inspect_seg_t *s, const inspect_block_t *b)
{
    inspect_printer_t *p = ctx;
    if (p->json)
        json_block(p, s, b);
    else
        text_block(p, s, b);
}

static void on_seg_end(void *ctx, const inspect_seg_t *s)
{
    inspect_printer_t *p = ctx;
    if (p->json)
        json_seg_end(p, s);
    else
        text_seg_end(p, s);
}

void inspect_printer_init(inspect_printer_t *p, FILE *out, bool verbose, bool json,
                          inspect_ops_t *ops)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->verbose = verbose;
    p->json = json;
    ops->superblock = on_superblock;
    ops->seg_begin = on_seg_begin;
    ops->block = on_block;
    ops->seg_end = on_seg_end;
}

void inspect_printer_finish(inspect_printer_t *p, const inspect_report_t *r,
                            int exit_code)
{
    if (p->json)
        json_finish(p, r, exit_code);
    else
        text_finish(p, r, exit_code);
    fflush(p->out);
}
