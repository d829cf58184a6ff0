/*
 * server/auth_sasl.c - see auth_sasl.h. Replies and their order are
 * memcached 1.6.18's proto_bin.c (bin_list_sasl_mechs,
 * process_bin_sasl_auth, process_bin_complete_sasl_auth, authenticated()),
 * checked against Debian's binary.
 *
 * Thread use: Cyrus' global state is set up once by auth_sasl_create();
 * each connection has its own sasl_conn_t, used only on its worker thread.
 */
#include "auth_sasl.h"

#include <sasl/sasl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto_bin.h"
#include "server.h"
#include "stats.h"
#include "worker.h"

#define MECH_MAX 32 /* memcached's MAX_SASL_MECH_LEN */
#define SASL_VALUE_MAX (1024 * 1024) /* larger: "Out of memory", skipped */

struct auth_sasl {
    atomic_int *verbose;
    char hostname[256];  /* "" when unknown */
    char confpath[4096]; /* handed to Cyrus, must outlive it */
    sasl_callback_t callbacks[3];
};

const char *auth_sasl_strerror(auth_sasl_status_e st)
{
    switch (st) {
    case AUTH_SASL_OK: return "ok";
    case AUTH_SASL_EINIT: return "Error initializing sasl.";
    case AUTH_SASL_ENOMEM: return "out of memory";
    }
    return "unknown status";
}

static int on_log(void *ctx, int level, const char *msg)
{
    auth_sasl_t *s = ctx;
    if (atomic_load(s->verbose) > 0)
        fprintf(stderr, "SASL (severity %d): %s\n", level, msg);
    return SASL_OK;
}

/* memcached's lookup: $SASL_CONF_PATH, else the first of /etc/sasl and
 * /etc/sasl2 that holds a memcached.conf (memcached hands Cyrus that file's
 * path, which Cyrus then treats as a directory and so never reads; the
 * directory is what an operator means). None: SASL_FAIL. */
static int on_getconfpath(void *ctx, char **path)
{
    auth_sasl_t *s = ctx;
    const char *env = getenv("SASL_CONF_PATH");
    static const char *const dirs[] = {"/etc/sasl", "/etc/sasl2"};
    const char *found = NULL;
    if (env != NULL) {
        found = env;
    } else {
        for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
            char f[64];
            snprintf(f, sizeof(f), "%s/memcached.conf", dirs[i]);
            if (access(f, F_OK) == 0) {
                found = dirs[i];
                break;
            }
        }
    }
    if (found == NULL || strlen(found) >= sizeof(s->confpath)) {
        if (atomic_load(s->verbose) > 0)
            fprintf(stderr, "Failed to locate a config path\n");
        return SASL_FAIL;
    }
    snprintf(s->confpath, sizeof(s->confpath), "%s", found);
    if (atomic_load(s->verbose) > 0)
        fprintf(stderr, "Reading configuration from: <%s>\n", s->confpath);
    *path = s->confpath;
    return SASL_OK;
}

auth_sasl_status_e auth_sasl_create(atomic_int *verbose, auth_sasl_t **out)
{
    *out = NULL;
    auth_sasl_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return AUTH_SASL_ENOMEM;
    s->verbose = verbose;
    if (gethostname(s->hostname, sizeof(s->hostname) - 1) != 0)
        s->hostname[0] = '\0';
    s->callbacks[0].id = SASL_CB_LOG;
    s->callbacks[0].proc = (int (*)(void))(void (*)(void))on_log;
    s->callbacks[0].context = s;
    s->callbacks[1].id = SASL_CB_GETCONFPATH;
    s->callbacks[1].proc = (int (*)(void))(void (*)(void))on_getconfpath;
    s->callbacks[1].context = s;
    s->callbacks[2].id = SASL_CB_LIST_END;
    if (sasl_server_init(s->callbacks, "memcached") != SASL_OK) {
        sasl_server_done();
        free(s);
        return AUTH_SASL_EINIT;
    }
    if (atomic_load(verbose) > 0)
        fprintf(stderr, "Initialized SASL.\n");
    *out = s;
    return AUTH_SASL_OK;
}

void auth_sasl_destroy(auth_sasl_t **s)
{
    if (s == NULL || *s == NULL)
        return;
    sasl_server_done();
    free(*s);
    *s = NULL;
}

void auth_sasl_conn_free(conn_t *c)
{
    if (c->sasl != NULL) {
        sasl_conn_t *sc = c->sasl;
        sasl_dispose(&sc);
        c->sasl = NULL;
    }
}

/* memcached's init_sasl_conn: forget the authentication, make the
 * connection's context if there is none. NULL when Cyrus refuses. */
static sasl_conn_t *sasl_of(conn_t *c, auth_sasl_t *s)
{
    c->authed = false;
    if (c->sasl == NULL) {
        sasl_conn_t *sc = NULL;
        if (sasl_server_new("memcached", NULL,
                            s->hostname[0] ? s->hostname : NULL, NULL, NULL,
                            NULL, 0, &sc) != SASL_OK) {
            if (atomic_load(s->verbose) > 0)
                fprintf(stderr, "Failed to initialize SASL conn.\n");
            if (sc != NULL)
                sasl_dispose(&sc);
            return NULL;
        }
        c->sasl = sc;
    }
    return c->sasl;
}

static void consume(conn_t *c, size_t n)
{
    c->rpos += n;
    c->rlen -= n;
    if (c->rlen == 0)
        c->rpos = 0;
}

/* Queues a response with `status` and body `body` (no extras, no key). */
static void respond(conn_t *c, const bin_header_t *h, uint16_t status,
                    const void *body, size_t n)
{
    uint8_t hdr[BIN_HEADER_LEN];
    bin_header_t r;
    memset(&r, 0, sizeof(r));
    r.magic = BIN_MAGIC_RES;
    r.opcode = h->opcode;
    r.vbucket = status;
    r.bodylen = (uint32_t)n;
    r.opaque = h->opaque;
    bin_encode_header(hdr, &r);
    outq_text(&c->out, (const char *)hdr, sizeof(hdr));
    if (n > 0)
        outq_text(&c->out, body, n);
}

static void respond_error(conn_t *c, const bin_header_t *h, bin_status_e st)
{
    const char *t = bin_status_text(st);
    respond(c, h, (uint16_t)st, t, strlen(t));
}

static void list_mechs(conn_t *c, auth_sasl_t *s, const bin_header_t *h)
{
    const char *list = NULL;
    unsigned len = 0;
    sasl_conn_t *sc = sasl_of(c, s);
    if (sc == NULL || sasl_listmech(sc, NULL, "", " ", "", &list, &len,
                                    NULL) != SASL_OK) {
        if (atomic_load(s->verbose) > 0)
            fprintf(stderr, "Failed to list SASL mechanisms.\n");
        respond_error(c, h, BIN_STATUS_AUTH_ERROR);
        return;
    }
    respond(c, h, BIN_STATUS_OK, list, len);
}

/* AUTH / STEP with the whole request at buf (header, key = mechanism,
 * value = the client's data). */
static void auth_or_step(conn_t *c, auth_sasl_t *s, const bin_header_t *h,
                         const uint8_t *buf)
{
    char mech[MECH_MAX + 1];
    size_t nkey = h->keylen;
    size_t vlen = h->bodylen - nkey;
    const char *data = vlen ? (const char *)buf + BIN_HEADER_LEN + nkey : NULL;
    const char *out = NULL;
    unsigned outlen = 0;
    int r = -1;
    memcpy(mech, buf + BIN_HEADER_LEN, nkey);
    mech[nkey] = '\0';
    sasl_conn_t *sc = sasl_of(c, s);
    if (atomic_load(s->verbose) > 0)
        fprintf(stderr, "mech:  ``%s'' with %zu bytes of data\n", mech, vlen);
    if (sc != NULL && h->opcode == BIN_OP_SASL_AUTH) {
        r = sasl_server_start(sc, mech, data, (unsigned)vlen, &out, &outlen);
        c->sasl_started = r == SASL_OK || r == SASL_CONTINUE;
    } else if (sc != NULL && c->sasl_started) {
        r = sasl_server_step(sc, data, (unsigned)vlen, &out, &outlen);
    } else if (atomic_load(s->verbose) > 0) {
        fprintf(stderr, "%d: SASL_STEP called but sasl_server_start not "
                "called for this connection!\n", c->fd);
    }
    if (atomic_load(s->verbose) > 0)
        fprintf(stderr, "sasl result code:  %d\n", r);
    switch (r) {
    case SASL_OK:
        STATS_ADD(&c->w->stats, auth_cmds, 1);
        c->authed = true;
        respond(c, h, BIN_STATUS_OK, "Authenticated", 13);
        break;
    case SASL_CONTINUE:
        /* memcached counts only the last step */
        respond(c, h, BIN_STATUS_AUTH_CONTINUE, out, out ? outlen : 0);
        break;
    default:
        if (atomic_load(s->verbose) > 0)
            fprintf(stderr, "Unknown sasl response:  %d\n", r);
        STATS_ADD(&c->w->stats, auth_cmds, 1);
        STATS_ADD(&c->w->stats, auth_errors, 1);
        respond_error(c, h, BIN_STATUS_AUTH_ERROR);
        break;
    }
}

auth_step_e auth_sasl_bin_step(conn_t *c, auth_sasl_t *s)
{
    const uint8_t *buf = (const uint8_t *)c->rbuf + c->rpos;
    bin_header_t h;
    if (bin_parse_header(buf, c->rlen, &h) != BIN_PARSE_OK ||
        h.magic != BIN_MAGIC_REQ ||
        (size_t)h.keylen + h.extlen > h.bodylen)
        return AUTH_PASS; /* the parser waits, closes or refuses */
    switch (h.opcode) {
    case BIN_OP_SASL_LIST_MECHS:
        if (h.extlen || h.keylen || h.bodylen)
            return AUTH_PASS; /* "Invalid arguments", close */
        consume(c, BIN_HEADER_LEN);
        list_mechs(c, s, &h);
        return AUTH_DONE;
    case BIN_OP_SASL_AUTH:
    case BIN_OP_SASL_STEP: {
        if (h.extlen || h.keylen == 0 || h.keylen > BIN_KEY_MAX)
            return AUTH_PASS; /* "Invalid arguments", close */
        size_t head = BIN_HEADER_LEN + (size_t)h.keylen;
        size_t vlen = h.bodylen - h.keylen;
        if (c->rlen < head)
            return AUTH_MORE;
        if (h.keylen > MECH_MAX || vlen > SASL_VALUE_MAX) {
            consume(c, head);
            respond_error(c, &h, h.keylen > MECH_MAX ? BIN_STATUS_EINVAL
                                                     : BIN_STATUS_ENOMEM);
            conn_start_swallow(c, vlen);
            return AUTH_DONE;
        }
        if (c->rlen < head + vlen)
            return AUTH_MORE;
        auth_or_step(c, s, &h, buf);
        consume(c, head + vlen);
        return AUTH_DONE;
    }
    case BIN_OP_VERSION:
        return AUTH_PASS;
    default:
        if (c->authed)
            return AUTH_PASS;
        respond_error(c, &h, BIN_STATUS_AUTH_ERROR);
        c->close_after_write = true;
        c->rpos = c->rlen = 0;
        return AUTH_DONE;
    }
}
