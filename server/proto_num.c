/* server/proto_num.c - memcached's safe_strto* rules: see proto_num.h. */
#include "proto_num.h"

bool proto_isspace(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
           c == '\r';
}

/* strtoull-style scan of [p, p + n): *neg gets the sign, *mag the
 * magnitude. false: no digits, junk right after them, or beyond 64 bits. */
static bool scan_num(const char *p, size_t n, bool *neg, uint64_t *mag)
{
    size_t i = 0;
    bool overflow = false;
    uint64_t v = 0;

    *neg = false;
    while (i < n && proto_isspace((unsigned char)p[i]))
        i++;
    if (i < n && (p[i] == '+' || p[i] == '-')) {
        *neg = p[i] == '-';
        i++;
    }
    size_t digits = i;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            overflow = true;
        else
            v = v * 10 + d;
        i++;
    }
    if (i == digits || overflow)
        return false; /* strto*: endptr == str, or ERANGE */
    if (i < n && !proto_isspace((unsigned char)p[i]))
        return false;
    *mag = v;
    return true;
}

bool proto_strtoull(const char *p, size_t n, uint64_t *out)
{
    bool neg;
    uint64_t mag;

    if (!scan_num(p, n, &neg, &mag))
        return false;
    uint64_t v = neg ? (uint64_t)0 - mag : mag;
    if (neg && v > (uint64_t)INT64_MAX)
        return false;
    *out = v;
    return true;
}

bool proto_strtoul(const char *p, size_t n, uint32_t *out)
{
    uint64_t v;

    if (!proto_strtoull(p, n, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

bool proto_strtol(const char *p, size_t n, int32_t *out)
{
    bool neg;
    uint64_t mag;

    if (!scan_num(p, n, &neg, &mag))
        return false;
    if (!neg && mag > (uint64_t)INT64_MAX)
        return false;
    if (neg && mag > (uint64_t)INT64_MAX + 1)
        return false;
    uint64_t v = neg ? (uint64_t)0 - mag : mag;
    uint32_t low = (uint32_t)v;
    /* Two's complement conversion without implementation-defined casts. */
    *out = low <= (uint32_t)INT32_MAX ? (int32_t)low
                                      : -(int32_t)(UINT32_MAX - low) - 1;
    return true;
}
