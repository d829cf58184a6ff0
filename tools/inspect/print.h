/*
 * tools/inspect/print.h - tiercache-inspect's output: a human table or one
 * JSON object, written as the checker (check.h) walks the file.
 *
 * Text: the file and superblock geometry, the state record, one row per
 * segment holding data (every segment and every block with verbose), the
 * totals, the value size histogram, the compression ratio, then the result
 * and each problem on its own line ("segment 3 (offset ...): block at unit
 * 5 (file offset ...): block checksum mismatch").
 *
 * JSON: {"file", "file_size", "superblock", "state", "segments": [...],
 * "totals", "value_size_histogram", "problems": [...], "result",
 * "exit_code"}; segments hold "blocks" with verbose. Numbers are plain
 * integers, ratios are numbers or null.
 *
 * A printer is single-threaded and owns no memory beyond its struct.
 */
#ifndef TIERCACHE_TOOLS_INSPECT_PRINT_H
#define TIERCACHE_TOOLS_INSPECT_PRINT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "check.h"

typedef struct inspect_printer {
    FILE *out;
    bool verbose;
    bool json;
    bool opened;         /* json: the top object was started */
    bool in_segments;    /* json: inside "segments": [ */
    bool first_seg;
    bool first_block;
    bool seg_open;       /* json: the current segment object is open */
    bool table_head;     /* text: the segment table header was printed */
    uint32_t seg_size;   /* from the superblock, for fill */
} inspect_printer_t;

/*
 * Sets up *p to write to out, and *ops to the matching visitor (ctx = p)
 * for inspect_file. Never fails.
 */
void inspect_printer_init(inspect_printer_t *p, FILE *out, bool verbose, bool json,
                          inspect_ops_t *ops);

/*
 * Writes what follows the segments: totals, histogram, ratio, problems and
 * the result with the exit code the caller will use. Call once, after
 * inspect_file returned (whatever its status).
 */
void inspect_printer_finish(inspect_printer_t *p, const inspect_report_t *r,
                            int exit_code);

#endif /* TIERCACHE_TOOLS_INSPECT_PRINT_H */
