/*
 * server/authfile.c - see authfile.h.
 */
#include "authfile.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct auth_entry {
    const char *user;
    size_t ulen;
    const char *pass;
    size_t plen;
} auth_entry_t;

struct authfile {
    char *data;            /* a copy of the file; entries point into it */
    auth_entry_t *entries;
    size_t n;
};

const char *authfile_strerror(authfile_status_e st)
{
    switch (st) {
    case AUTHFILE_OK: return "ok";
    case AUTHFILE_EOPEN: return "cannot open or read the file";
    case AUTHFILE_EMALFORMED: return "malformed entry (should be 'user:password')";
    case AUTHFILE_ENOMEM: return "out of memory";
    }
    return "unknown status";
}

authfile_status_e authfile_parse(const char *data, size_t len,
                                 authfile_t **out, size_t *bad_line)
{
    *out = NULL;
    if (bad_line)
        *bad_line = 0;
    authfile_t *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return AUTHFILE_ENOMEM;
    a->data = malloc(len + 1);
    size_t cap = 1;
    for (size_t i = 0; i < len; i++)
        cap += data[i] == '\n';
    a->entries = calloc(cap, sizeof(*a->entries));
    if (a->data == NULL || a->entries == NULL) {
        authfile_destroy(&a);
        return AUTHFILE_ENOMEM;
    }
    memcpy(a->data, data, len);
    a->data[len] = '\0';
    size_t pos = 0, line = 0;
    while (pos < len) {
        line++;
        const char *s = a->data + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - s) + 1 : len - pos;
        /* the user ends at the first ':', before any NUL */
        const char *colon = NULL;
        for (size_t i = 0; i < llen && s[i] != '\0'; i++) {
            if (s[i] == ':') {
                colon = s + i;
                break;
            }
        }
        if (colon == NULL || llen > AUTHFILE_LINE_MAX) {
            if (bad_line)
                *bad_line = line;
            authfile_destroy(&a);
            return AUTHFILE_EMALFORMED;
        }
        auth_entry_t *e = &a->entries[a->n++];
        e->user = s;
        e->ulen = (size_t)(colon - s);
        e->pass = colon + 1;
        size_t p = 0;
        size_t rest = llen - e->ulen - 1;
        while (p < rest && e->pass[p] != '\n' && e->pass[p] != '\r' &&
               e->pass[p] != '\0')
            p++;
        e->plen = p;
        pos += llen;
    }
    *out = a;
    return AUTHFILE_OK;
}

authfile_status_e authfile_load(const char *path, authfile_t **out,
                                size_t *bad_line)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return AUTHFILE_EOPEN;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    authfile_status_e st = AUTHFILE_OK;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 4096;
            char *nb = realloc(buf, ncap);
            if (nb == NULL) {
                st = AUTHFILE_ENOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            /* memcached reads a directory as an empty file: so do we */
            if (ferror(f) && errno != EISDIR)
                st = AUTHFILE_EOPEN;
            break;
        }
    }
    int saved = errno;
    fclose(f);
    if (st == AUTHFILE_OK)
        st = authfile_parse(buf ? buf : "", len, out, bad_line);
    free(buf);
    if (st == AUTHFILE_EOPEN)
        errno = saved;
    return st;
}

size_t authfile_count(const authfile_t *a)
{
    return a ? a->n : 0;
}

/* Compares n bytes without stopping at the first difference. */
static bool same_bytes(const char *x, const char *y, size_t n)
{
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(x[i] ^ y[i]);
    return d == 0;
}

bool authfile_check(const authfile_t *a, const char *user, size_t ulen,
                    const char *pass, size_t plen)
{
    bool ok = false;
    if (a == NULL)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        const auth_entry_t *e = &a->entries[i];
        if (e->ulen != ulen || e->plen != plen)
            continue;
        /* both compared whatever the first gives */
        int m = (int)same_bytes(user, e->user, ulen);
        m &= (int)same_bytes(pass, e->pass, plen);
        if (m)
            ok = true;
    }
    return ok;
}

void authfile_destroy(authfile_t **a)
{
    if (a == NULL || *a == NULL)
        return;
    free((*a)->data);
    free((*a)->entries);
    free(*a);
    *a = NULL;
}
