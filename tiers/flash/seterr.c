/*
 * tiers/flash/seterr.c - seterr.h.
 */
#include "flash/seterr.h"

#include <stdarg.h>
#include <stdio.h>

void flash_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}
