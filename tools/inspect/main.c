/*
 * tools/inspect/main.c - tiercache-inspect: offline check of a flash file.
 *
 *   tiercache-inspect FLASHFILE [--verbose] [--json]
 *
 * Exit status (inspect_exit_code): 0 no corruption found (warnings may be
 * printed), 1 corruption found (each problem names the segment, block unit
 * and file offset), 2 usage error, not a tiercache flash file, a format
 * this build cannot read, or the file cannot be read.
 * Reads with plain pread; safe on a file the server has open (it reports
 * what is on disk at that moment, which may look torn while it writes).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "print.h"

enum {
    EXIT_CLEAN = 0,
    EXIT_CORRUPT = 1,
    EXIT_UNUSABLE = 2,
};

static int usage(FILE *f, int code)
{
    fprintf(f, "usage: tiercache-inspect FLASHFILE [--verbose] [--json]\n"
               "  Checks a tiercache flash file offline: superblock, state record,\n"
               "  every segment header and summary, every block's checksum and records.\n"
               "  --verbose  list every segment and every block\n"
               "  --json     one JSON object instead of text\n"
               "exit: 0 no corruption, 1 corruption found, 2 usage / not a tiercache\n"
               "      flash file / unreadable\n");
    return code;
}

/* The process exit status for a checker status. */
static int inspect_exit_code(inspect_status_e st)
{
    switch (st) {
    case INSPECT_OK: return EXIT_CLEAN;
    case INSPECT_ECORRUPT: return EXIT_CORRUPT;
    case INSPECT_ENOTFLASH:
    case INSPECT_EIO:
    case INSPECT_ENOMEM: return EXIT_UNUSABLE;
    }
    return EXIT_UNUSABLE;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    bool verbose = false, json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0)
            verbose = true;
        else if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return usage(stdout, EXIT_CLEAN);
        else if (argv[i][0] == '-' && argv[i][1] != 0)
            return usage(stderr, EXIT_UNUSABLE);
        else if (path)
            return usage(stderr, EXIT_UNUSABLE);
        else
            path = argv[i];
    }
    if (!path)
        return usage(stderr, EXIT_UNUSABLE);

    inspect_printer_t printer;
    inspect_ops_t ops;
    inspect_printer_init(&printer, stdout, verbose, json, &ops);
    inspect_report_t r;
    inspect_status_e st = inspect_file(path, &ops, &printer, &r);
    int code = inspect_exit_code(st);
    inspect_printer_finish(&printer, &r, code);
    if (st != INSPECT_OK)
        fprintf(stderr, "tiercache-inspect: %s\n", r.error);
    inspect_report_free(&r);
    return code;
}
