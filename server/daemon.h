/*
 * server/daemon.h - process chores: daemonize, pidfile, dropping root,
 * core dump limits.
 */
#ifndef TIERCACHE_DAEMON_H
#define TIERCACHE_DAEMON_H

#include <stdbool.h>

typedef enum daemon_status {
    DAEMON_OK = 0,
    DAEMON_ERROR, /* message printed on stderr */
} daemon_status_e;

/* Forks into the background (setsid, stdio to /dev/null). */
daemon_status_e daemon_detach(void);

/* Writes our pid to `path`. */
daemon_status_e daemon_write_pidfile(const char *path);

/* Removes the pidfile (NULL-safe). */
void daemon_remove_pidfile(const char *path);

/* As root: switches to `user` if given, else warns (tiercache, unlike
 * memcached, runs as root without -u). Not root: ignores `user`. */
daemon_status_e daemon_drop_root(const char *user);

/* -r: raises the core file limit to its maximum. */
void daemon_enable_coredumps(void);

/* Raises RLIMIT_NOFILE to at least `nfiles` (up to the hard limit; as root
 * the hard limit too). Warns if it cannot. */
void daemon_raise_fd_limit(unsigned long nfiles);

#endif /* TIERCACHE_DAEMON_H */
