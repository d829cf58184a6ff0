/*
 * server/auth_ascii.c - the -Y gate (see auth.h), as memcached 1.6.18's
 * try_read_command_asciiauth: the set line is tokenized on spaces (empty
 * words skipped, a trailing "\r" stays in the last word), the payload too.
 * memcached keeps one reply object per read batch for this state, so of
 * several unauthenticated commands pipelined in one packet it answers only
 * the last; tiercache answers each (a client waiting for every reply would
 * hang otherwise).
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "authfile.h"
#include "server.h"
#include "stats.h"
#include "worker.h"

#define LINE_WAIT_MAX 2048 /* memcached: no "\n" after this: close */

typedef struct word {
    const char *s;
    size_t n;
} word_t;

/* memcached's tokenize_command on s[0..len): up to `max` space-separated
 * words (empty ones skipped). Returns the count. */
static size_t split_words(const char *s, size_t len, word_t *w, size_t max)
{
    size_t n = 0, i = 0;
    while (i < len && n < max) {
        while (i < len && s[i] == ' ')
            i++;
        if (i == len)
            break;
        size_t b = i;
        while (i < len && s[i] != ' ')
            i++;
        w[n].s = s + b;
        w[n].n = i - b;
        n++;
    }
    return n;
}

/* memcached's safe_strtoul on a word: digits, then a space character or
 * the end; the value is kept in 32 bits as memcached's uint32_t. */
static bool word_u32(const word_t *w, uint32_t *out)
{
    char buf[32];
    if (w->n == 0 || w->n >= sizeof(buf))
        return false;
    memcpy(buf, w->s, w->n);
    buf[w->n] = '\0';
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno == ERANGE || end == buf)
        return false;
    if (*end != '\0' && !isspace((unsigned char)*end))
        return false;
    if (memchr(buf, '-', (size_t)(end - buf)) != NULL && v != 0)
        return false; /* strtoul wraps "-1"; memcached refuses it */
    *out = (uint32_t)v;
    return true;
}

static void consume(conn_t *c, size_t n)
{
    c->rpos += n;
    c->rlen -= n;
    if (c->rlen == 0)
        c->rpos = 0;
}

static void reply(conn_t *c, const char *s)
{
    outq_text(&c->out, s, strlen(s));
}

auth_step_e auth_ascii_step(conn_t *c)
{
    const char *buf = c->rbuf + c->rpos;
    if (!c->auth_started) {
        if (c->rlen < 2)
            return AUTH_MORE;
        const char *el = memchr(buf, '\n', c->rlen);
        if (el == NULL)
            return c->rlen > LINE_WAIT_MAX ? AUTH_CLOSE : AUTH_MORE;
        size_t used = (size_t)(el - buf) + 1;
        /* memcached handles the line as a C string */
        size_t len = strnlen(buf, (size_t)(el - buf));
        word_t w[5];
        uint32_t size = 0;
        size_t n = split_words(buf, len, w, 5);
        bool is_set = n == 5 && w[0].n == 3 && memcmp(w[0].s, "set", 3) == 0 &&
                      word_u32(&w[4], &size);
        consume(c, used);
        if (!is_set) {
            reply(c, "CLIENT_ERROR unauthenticated\r\n");
            return AUTH_DONE;
        }
        c->auth_need = (size_t)size + 2;
        c->auth_started = true;
        buf = c->rbuf + c->rpos;
    }
    if (c->rlen < c->auth_need) /* memcached closes once its buffer is full */
        return c->rlen >= AUTH_BUFFER_MAX ? AUTH_CLOSE : AUTH_MORE;
    size_t need = c->auth_need;
    c->auth_started = false;
    c->auth_need = 0;
    worker_t *wk = c->w;
    if (buf[need - 2] != '\r' || buf[need - 1] != '\n') {
        consume(c, need);
        reply(c, "CLIENT_ERROR bad command line termination\r\n");
        return AUTH_DONE;
    }
    word_t w[2];
    size_t n = split_words(buf, strnlen(buf, need - 2), w, 2);
    if (n < 2) {
        consume(c, need);
        reply(c, "CLIENT_ERROR bad authentication token format\r\n");
        return AUTH_DONE;
    }
    bool ok = authfile_check(wk->srv->authfile, w[0].s, w[0].n, w[1].s,
                             w[1].n);
    consume(c, need);
    STATS_ADD(&wk->stats, auth_cmds, 1);
    if (ok) {
        c->authed = true;
        reply(c, "STORED\r\n");
    } else {
        STATS_ADD(&wk->stats, auth_errors, 1);
        reply(c, "CLIENT_ERROR authentication failure\r\n");
    }
    return AUTH_DONE;
}
