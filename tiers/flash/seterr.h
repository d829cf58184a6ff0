/*
 * tiers/flash/seterr.h - the flash modules' one way to fill a caller's
 * error buffer (err may be NULL or errlen 0: nothing written).
 */
#ifndef TIERCACHE_FLASH_SETERR_H
#define TIERCACHE_FLASH_SETERR_H

#include <stddef.h>

/* snprintf into err[errlen]; truncates, always NUL-terminates. */
void flash_seterr(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif /* TIERCACHE_FLASH_SETERR_H */
