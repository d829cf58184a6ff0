/* server/listener.c - see listener.h. */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "worker.h"

#define MAX_LISTEN 16

typedef struct lsock {
    int fd;
    bool is_unix;
    bool tls;            /* -Z and no "notls:" prefix */
    int port;
    char name[80];       /* "tcp:127.0.0.1:11211" / "unix:/path" */
    struct event *ev;
    struct listener *l;
} lsock_t;

/* A bound UDP socket (-U); every worker serves a dup of it (udp.h). */
typedef struct usock {
    int fd;
    int port;
    bool v6;
    char name[80];       /* "udp:127.0.0.1:11211" */
} usock_t;

struct listener {
    server_t *srv;
    lsock_t socks[MAX_LISTEN];
    unsigned n;
    usock_t usocks[MAX_LISTEN];
    unsigned nu;
    unsigned next_worker;
    struct event *retry_ev; /* re-enable accepting after EMFILE */
};

static void on_accept(evutil_socket_t fd, short what, void *arg);

/* Resolves host:port for `socktype` (every address it names). */
static listener_status_e resolve(const char *host, const char *port,
                                 int socktype, struct addrinfo **res)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host, port, &hints, res);
    if (rc != 0) {
        fprintf(stderr, "getaddrinfo(\"%s\"): %s\n", host ? host : "",
                gai_strerror(rc));
        return LISTENER_EADDR;
    }
    return LISTENER_OK;
}

/* A non-blocking socket bound to `ai` (and listening, for TCP with
 * `backlog`), or -1 after a message on stderr. UDP sockets get a large
 * send buffer, as memcached's: replies of many datagrams leave in one burst
 * (capped by wmem_max). */
static int open_bound(const struct addrinfo *ai, int backlog, const char *port)
{
    bool udp = ai->ai_socktype == SOCK_DGRAM;
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
                                       SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        perror("socket()");
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (udp) {
        int sndbuf = 4 * 1024 * 1024;
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    }
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        (!udp && listen(fd, backlog) != 0)) {
        fprintf(stderr, "failed to listen on %s port %s: %s\n",
                udp ? "UDP" : "TCP", port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* The local address of a bound socket: host text into h, port returned,
 * *v6 set for IPv6. */
static int local_addr(int fd, char *h, size_t hlen, bool *v6)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int p = 0;
    snprintf(h, hlen, "?");
    getsockname(fd, (struct sockaddr *)&ss, &len);
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, h, (socklen_t)hlen);
        p = ntohs(in->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, h, (socklen_t)hlen);
        p = ntohs(in6->sin6_port);
    }
    *v6 = ss.ss_family == AF_INET6;
    return p;
}

/* Binds and listens on TCP host:port (every address it resolves to). */
static listener_status_e bind_tcp(listener_t *l, const char *host,
                                  const char *port, bool tls)
{
    struct addrinfo *res = NULL;
    listener_status_e st = resolve(host, port, SOCK_STREAM, &res);
    if (st != LISTENER_OK)
        return st;
    for (struct addrinfo *ai = res; ai && l->n < MAX_LISTEN; ai = ai->ai_next) {
        int fd = open_bound(ai, l->srv->settings->backlog, port);
        if (fd < 0) {
            st = LISTENER_EBIND;
            break;
        }
        char h[INET6_ADDRSTRLEN];
        bool v6;
        int p = local_addr(fd, h, sizeof(h), &v6);
        lsock_t *ls = &l->socks[l->n++];
        ls->fd = fd;
        ls->is_unix = false;
        ls->tls = tls;
        ls->port = p;
        ls->l = l;
        snprintf(ls->name, sizeof(ls->name), v6 ? "tcp6:[%s]:%d" : "tcp:%s:%d",
                 h, p);
        if (l->srv->tcp_port == 0)
            l->srv->tcp_port = p;
    }
    freeaddrinfo(res);
    return st;
}

/* Binds UDP sockets for host:port (every address it resolves to). */
static listener_status_e bind_udp(listener_t *l, const char *host,
                                  const char *port)
{
    struct addrinfo *res = NULL;
    listener_status_e st = resolve(host, port, SOCK_DGRAM, &res);
    if (st != LISTENER_OK)
        return st;
    for (struct addrinfo *ai = res; ai && l->nu < MAX_LISTEN; ai = ai->ai_next) {
        int fd = open_bound(ai, 0, port);
        if (fd < 0) {
            st = LISTENER_EBIND;
            break;
        }
        char h[INET6_ADDRSTRLEN];
        usock_t *us = &l->usocks[l->nu++];
        us->fd = fd;
        us->port = local_addr(fd, h, sizeof(h), &us->v6);
        snprintf(us->name, sizeof(us->name),
                 us->v6 ? "udp6:[%s]:%d" : "udp:%s:%d", h, us->port);
    }
    freeaddrinfo(res);
    return st;
}

static listener_status_e bind_unix(listener_t *l)
{
    const settings_t *s = l->srv->settings;
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(s->socket_path) >= sizeof(sun.sun_path)) {
        fprintf(stderr, "unix socket path too long: %s\n", s->socket_path);
        return LISTENER_EADDR;
    }
    strcpy(sun.sun_path, s->socket_path);
    struct stat st;
    if (lstat(s->socket_path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(s->socket_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("socket()");
        return LISTENER_EBIND;
    }
    mode_t old = umask(~s->unix_mask & 0777);
    int rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (rc != 0 || listen(fd, s->backlog) != 0) {
        fprintf(stderr, "failed to listen on unix socket %s: %s\n",
                s->socket_path, strerror(errno));
        close(fd);
        return LISTENER_EBIND;
    }
    lsock_t *ls = &l->socks[l->n++];
    ls->fd = fd;
    ls->is_unix = true;
    ls->l = l;
    snprintf(ls->name, sizeof(ls->name), "unix:%s", s->socket_path);
    return LISTENER_OK;
}

/* memcached's "notls:" prefix on a -l item: that listener serves plain
 * TCP beside TLS ones (-Z). Strips it from *item; false (message printed)
 * without -Z, as memcached refuses it then. */
static bool strip_notls(char **item, bool ssl_enabled, bool *tls)
{
    *tls = ssl_enabled;
    if (strncmp(*item, "notls:", 6) != 0)
        return true;
    if (!ssl_enabled) {
        fprintf(stderr, "'notls' option is valid only when SSL is enabled\n"
                "failed to listen on one of interface(s) %s\n", *item);
        return false;
    }
    *item += 6;
    *tls = false;
    return true;
}

/* Splits "host", "host:port", "[v6]:port" or "v6". */
static void split_addr(char *item, const char **host, const char **port,
                       const char *defport)
{
    *port = defport;
    if (item[0] == '[') {
        char *close_b = strchr(item, ']');
        *host = item + 1;
        if (close_b) {
            *close_b = '\0';
            if (close_b[1] == ':')
                *port = close_b + 2;
        }
        return;
    }
    char *colon = strchr(item, ':');
    if (colon && strchr(colon + 1, ':') == NULL) {
        *colon = '\0';
        *port = colon + 1;
    }
    *host = item;
}

listener_status_e listener_create(server_t *srv, listener_t **out)
{
    listener_t *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return LISTENER_ENOMEM;
    l->srv = srv;
    listener_status_e st = LISTENER_OK;
    if (srv->settings->socket_path) {
        st = bind_unix(l);
    } else {
        char defport[16];
        snprintf(defport, sizeof(defport), "%d", srv->settings->port);
        char *list = strdup(srv->settings->listen ? srv->settings->listen
                                                  : "127.0.0.1");
        char *save = NULL;
        for (char *item = strtok_r(list, ",", &save);
             item && st == LISTENER_OK; item = strtok_r(NULL, ",", &save)) {
            const char *host, *port;
            bool tls;
            if (!strip_notls(&item, srv->settings->ssl_enabled, &tls)) {
                st = LISTENER_EADDR;
                break;
            }
            /* with -p 0, later addresses reuse the first ephemeral port */
            if (srv->settings->port == 0 && srv->tcp_port != 0)
                snprintf(defport, sizeof(defport), "%d", srv->tcp_port);
            split_addr(item, &host, &port, defport);
            st = bind_tcp(l, host, port, tls);
        }
        free(list);
        /* -U: the same addresses; an addr:port item's port applies to UDP
         * too (memcached) */
        if (st == LISTENER_OK && srv->settings->udp_port != 0) {
            snprintf(defport, sizeof(defport), "%d", srv->settings->udp_port);
            list = strdup(srv->settings->listen ? srv->settings->listen
                                                : "127.0.0.1");
            save = NULL;
            for (char *item = strtok_r(list, ",", &save);
                 item && st == LISTENER_OK;
                 item = strtok_r(NULL, ",", &save)) {
                const char *host, *port;
                bool tls; /* UDP is never TLS (memcached) */
                if (!strip_notls(&item, true, &tls))
                    break;
                split_addr(item, &host, &port, defport);
                st = bind_udp(l, host, port);
            }
            free(list);
        }
    }
    if (st != LISTENER_OK) {
        listener_destroy(&l);
        return st;
    }
    atomic_store(&srv->total_conns, l->n);
    atomic_store(&srv->conn_structs, l->n);
    srv->nlisten = 0;
    for (unsigned i = 0; i < l->n && i < 16; i++) {
        srv->listen_socks[i].fd = l->socks[i].fd;
        snprintf(srv->listen_socks[i].name, sizeof(srv->listen_socks[i].name),
                 "%s", l->socks[i].name);
        srv->nlisten++;
    }
    srv->listen_since = (int64_t)time(NULL);
    *out = l;
    return LISTENER_OK;
}

static void set_accepting(listener_t *l, bool on)
{
    for (unsigned i = 0; i < l->n; i++) {
        if (on)
            event_add(l->socks[i].ev, NULL);
        else
            event_del(l->socks[i].ev);
    }
    atomic_store(&l->srv->accepting, on);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    set_accepting(arg, true);
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
    lsock_t *ls = arg;
    listener_t *l = ls->l;
    server_t *srv = l->srv;
    (void)what;
    for (int i = 0; i < 64; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                if (srv->settings->verbose > 0)
                    perror("Too many open connections");
                atomic_fetch_add(&srv->listen_disabled_num, 1);
                set_accepting(l, false);
                struct timeval tv = {0, 10000};
                evtimer_add(l->retry_ev, &tv);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK &&
                       errno != EINTR && errno != ECONNABORTED &&
                       srv->settings->verbose > 0) {
                perror("accept()");
            }
            return;
        }
        atomic_fetch_add(&srv->total_conns, 1);
        if (atomic_load(&srv->curr_conns) >= srv->settings->maxconns) {
            static const char msg[] = "ERROR Too many open connections\r\n";
            ssize_t wr = write(cfd, msg, sizeof(msg) - 1);
            (void)wr;
            close(cfd);
            atomic_fetch_add(&srv->rejected_conns, 1);
            continue;
        }
        long now = atomic_fetch_add(&srv->curr_conns, 1) + 1;
        unsigned long structs = atomic_load(&srv->conn_structs);
        if ((unsigned long)now + l->n > structs)
            atomic_store(&srv->conn_structs, (unsigned long)now + l->n);
        worker_t *w = srv->workers[l->next_worker++ % srv->nworkers];
        if (!(ls->tls ? worker_dispatch_tls(w, cfd, ls->name)
                      : worker_dispatch(w, cfd, ls->is_unix, ls->name)))
            atomic_fetch_sub(&srv->curr_conns, 1);
    }
}

listener_status_e listener_start(listener_t *l)
{
    l->retry_ev = evtimer_new(l->srv->base, on_retry, l);
    if (l->retry_ev == NULL)
        return LISTENER_ENOMEM;
    for (unsigned i = 0; i < l->n; i++) {
        l->socks[i].ev = event_new(l->srv->base, l->socks[i].fd,
                                   EV_READ | EV_PERSIST, on_accept,
                                   &l->socks[i]);
        if (l->socks[i].ev == NULL)
            return LISTENER_ENOMEM;
    }
    set_accepting(l, true);
    /* every worker serves every UDP socket (a dup each) */
    for (unsigned i = 0; i < l->nu; i++) {
        for (unsigned j = 0; j < l->srv->nworkers; j++) {
            int fd = fcntl(l->usocks[i].fd, F_DUPFD_CLOEXEC, 0);
            if (fd < 0 ||
                !worker_dispatch_udp(l->srv->workers[j], fd,
                                     l->usocks[i].name)) {
                perror("dup(udp socket)");
                return LISTENER_ENOMEM;
            }
        }
    }
    return LISTENER_OK;
}

void listener_write_port_file(const listener_t *l)
{
    const char *path = getenv("MEMCACHED_PORT_FILENAME");
    if (path == NULL)
        return;
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.lck", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        fprintf(stderr, "failed to open %s: %s\n", tmp, strerror(errno));
        return;
    }
    for (unsigned i = 0; i < l->n; i++) {
        if (!l->socks[i].is_unix)
            fprintf(f, "TCP INET: %d\n", l->socks[i].port);
    }
    for (unsigned i = 0; i < l->nu; i++)
        fprintf(f, "UDP INET%s: %d\n", l->usocks[i].v6 ? "6" : "",
                l->usocks[i].port);
    fclose(f);
    if (rename(tmp, path) != 0)
        fprintf(stderr, "failed to rename %s: %s\n", tmp, strerror(errno));
}

void listener_destroy(listener_t **lp)
{
    listener_t *l = *lp;
    if (l == NULL)
        return;
    for (unsigned i = 0; i < l->n; i++) {
        if (l->socks[i].ev)
            event_free(l->socks[i].ev);
        close(l->socks[i].fd);
        if (l->socks[i].is_unix && l->srv->settings->socket_path)
            unlink(l->srv->settings->socket_path);
    }
    for (unsigned i = 0; i < l->nu; i++)
        close(l->usocks[i].fd);
    if (l->retry_ev)
        event_free(l->retry_ev);
    atomic_store(&l->srv->accepting, false);
    free(l);
    *lp = NULL;
}
