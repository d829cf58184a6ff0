/* tests/fuzz/fuzz_authfile.c - libFuzzer harness for the -Y file parser
 * (server/authfile.c): any bytes parse or are refused without a crash or a
 * leak, and when a file is accepted its first entry logs in. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    authfile_t *a = NULL;
    size_t bad = 0;
    authfile_status_e st = authfile_parse(s, size, &a, &bad);
    if (st != AUTHFILE_OK) {
        if (a != NULL || bad == 0)
            abort();
        return 0;
    }
    if (size > 0) {
        /* the first line: user up to the first ':', password up to \r \n
         * or NUL */
        const char *colon = memchr(s, ':', size);
        if (colon == NULL || memchr(s, '\0', (size_t)(colon - s)) != NULL)
            abort();
        const char *p = colon + 1;
        size_t plen = 0;
        while (p + plen < s + size && p[plen] != '\r' && p[plen] != '\n' &&
               p[plen] != '\0')
            plen++;
        if (!authfile_check(a, s, (size_t)(colon - s), p, plen))
            abort();
    }
    authfile_check(a, s, size / 2, s + size / 2, size - size / 2);
    authfile_destroy(&a);
    return 0;
}
