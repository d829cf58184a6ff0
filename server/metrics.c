/*
 * server/metrics.c - see metrics.h: the HTTP endpoint (the address, bind
 * and listen, the serving thread and its event base, the request handler).
 * What a scrape answers is metrics_render() (metrics_render.c). Called by
 * main.c (create, start, destroy); requests run on the metrics thread.
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server.h"

#define METRICS_BACKLOG 64
#define METRICS_TIMEOUT_S 10      /* a client that sends nothing is closed */
#define METRICS_MAX_HEADERS 8192  /* bytes of request headers */
#define METRICS_MAX_BODY 1024     /* a GET has none */

struct metrics {
    server_t *srv;
    struct event_base *base;
    struct evhttp *http;
    struct event *stop_ev;  /* activated by metrics_destroy() */
    pthread_t thread;
    bool started;
};

const char *metrics_strerror(metrics_status_e st)
{
    switch (st) {
    case METRICS_OK:
        return "ok";
    case METRICS_EADDR:
        return "expected HOST:PORT, [IPV6]:PORT or PORT (1..65535)";
    case METRICS_ERESOLVE:
        return "the host does not resolve";
    case METRICS_EBIND:
        return "cannot listen there";
    case METRICS_ENOMEM:
        return "out of memory";
    }
    return "unknown status";
}

/* ---- the address --------------------------------------------------------- */

static bool parse_port(const char *p, int *port)
{
    if (*p == '\0' || strlen(p) > 5)
        return false;
    long n = 0;
    for (const char *c = p; *c; c++) {
        if (*c < '0' || *c > '9')
            return false;
        n = n * 10 + (*c - '0');
    }
    if (n < 1 || n > 65535)
        return false;
    *port = (int)n;
    return true;
}

metrics_status_e metrics_parse_listen(const char *spec, char *host,
                                      size_t host_len, int *port)
{
    const char *h, *p;
    size_t hl;
    if (spec == NULL || *spec == '\0' || host_len == 0)
        return METRICS_EADDR;
    if (spec[0] == '[') { /* [v6]:port */
        const char *close = strchr(spec, ']');
        if (close == NULL || close[1] != ':')
            return METRICS_EADDR;
        h = spec + 1;
        hl = (size_t)(close - h);
        p = close + 2;
    } else {
        const char *colon = strrchr(spec, ':');
        if (colon == NULL) { /* PORT alone: loopback */
            h = "127.0.0.1";
            hl = strlen(h);
            p = spec;
        } else {
            if (strchr(spec, ':') != colon) /* a bare v6 address */
                return METRICS_EADDR;
            h = spec;
            hl = (size_t)(colon - spec);
            p = colon + 1;
        }
    }
    if (hl == 0 || hl >= host_len || !parse_port(p, port))
        return METRICS_EADDR;
    memcpy(host, h, hl);
    host[hl] = '\0';
    return METRICS_OK;
}

static bool is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return false;
}

/* Binds and listens on the first address of host:port that works. Returns
 * the socket or -1 (errno of the last failure in *err_no). */
static int bind_listen(const struct addrinfo *ai, bool *loopback, int *err_no)
{
    *err_no = EADDRNOTAVAIL;
    for (; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family,
                        ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);
        if (fd < 0) {
            *err_no = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
            listen(fd, METRICS_BACKLOG) == 0) {
            *loopback = is_loopback(ai->ai_addr);
            return fd;
        }
        *err_no = errno;
        close(fd);
    }
    return -1;
}

/* ---- HTTP ------------------------------------------------------------------ */

static void reply_text(struct evhttp_request *req, int code, const char *reason,
                       const char *body)
{
    struct evbuffer *b = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
    if (b)
        evbuffer_add(b, body, strlen(body));
    evhttp_send_reply(req, code, reason, b);
    if (b)
        evbuffer_free(b);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    metrics_t *m = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (path == NULL || strcmp(path, "/metrics") != 0) {
        reply_text(req, 404, "Not Found", "Not Found: try /metrics\n");
        return;
    }
    enum evhttp_cmd_type t = evhttp_request_get_command(req);
    if (t != EVHTTP_REQ_GET && t != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          "GET, HEAD");
        reply_text(req, 405, "Method Not Allowed",
                   "Method Not Allowed: GET or HEAD\n");
        return;
    }
    struct evbuffer *b = evbuffer_new();
    if (b == NULL || !metrics_render(m->srv, b)) {
        if (b)
            evbuffer_free(b);
        reply_text(req, 500, "Internal Server Error", "out of memory\n");
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4; charset=utf-8");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    metrics_t *m = arg;
    (void)fd;
    (void)what;
    event_base_loopbreak(m->base);
}

static void *metrics_thread(void *arg)
{
    metrics_t *m = arg;
    event_base_dispatch(m->base);
    return NULL;
}

metrics_status_e metrics_create(server_t *srv, const char *spec,
                                metrics_t **out, char *err, size_t err_len)
{
    char host[256], portstr[8];
    int port = 0;
    *out = NULL;
    metrics_status_e st = metrics_parse_listen(spec, host, sizeof(host), &port);
    if (st != METRICS_OK) {
        snprintf(err, err_len, "invalid --metrics-listen \"%s\": %s", spec,
                 metrics_strerror(st));
        return st;
    }
    snprintf(portstr, sizeof(portstr), "%d", port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        snprintf(err, err_len, "--metrics-listen %s: cannot resolve \"%s\": %s",
                 spec, host, gai_strerror(gai));
        return METRICS_ERESOLVE;
    }
    bool loopback = false;
    int err_no = 0;
    int fd = bind_listen(res, &loopback, &err_no);
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(err, err_len, "--metrics-listen %s: cannot listen: %s", spec,
                 strerror(err_no));
        return METRICS_EBIND;
    }
    metrics_t *m = calloc(1, sizeof(*m));
    if (m == NULL || (m->base = event_base_new()) == NULL ||
        (m->http = evhttp_new(m->base)) == NULL ||
        (m->stop_ev = event_new(m->base, -1, 0, on_stop, m)) == NULL) {
        close(fd);
        metrics_destroy(&m);
        snprintf(err, err_len, "--metrics-listen %s: out of memory", spec);
        return METRICS_ENOMEM;
    }
    m->srv = srv;
    evhttp_set_allowed_methods(m->http,
        EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
        EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
        EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_timeout(m->http, METRICS_TIMEOUT_S);
    evhttp_set_max_headers_size(m->http, METRICS_MAX_HEADERS);
    evhttp_set_max_body_size(m->http, METRICS_MAX_BODY);
    evhttp_set_gencb(m->http, on_request, m);
    /* from here the evhttp owns fd (closed by evhttp_free) */
    if (evhttp_accept_socket_with_handle(m->http, fd) == NULL) {
        close(fd);
        metrics_destroy(&m);
        snprintf(err, err_len, "--metrics-listen %s: cannot accept", spec);
        return METRICS_EBIND;
    }
    if (!loopback)
        fprintf(stderr, "tiercache: warning: --metrics-listen %s is not a "
                "loopback address: every host that can reach it can read "
                "the server's statistics\n", spec);
    *out = m;
    return METRICS_OK;
}

metrics_status_e metrics_start(metrics_t *m)
{
    if (pthread_create(&m->thread, NULL, metrics_thread, m) != 0)
        return METRICS_ENOMEM;
    pthread_setname_np(m->thread, "tc-metrics");
    m->started = true;
    return METRICS_OK;
}

void metrics_destroy(metrics_t **mp)
{
    metrics_t *m = *mp;
    if (m == NULL)
        return;
    if (m->started) {
        /* an active event survives until the loop runs: no lost wake-up */
        event_active(m->stop_ev, EV_TIMEOUT, 0);
        pthread_join(m->thread, NULL);
    }
    if (m->stop_ev)
        event_free(m->stop_ev);
    if (m->http)
        evhttp_free(m->http);
    if (m->base)
        event_base_free(m->base);
    free(m);
    *mp = NULL;
}
