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
    DAEMON_ENOUSER, /* -u names no user (memcached exits 67, EX_NOUSER) */
} daemon_status_e;

/* Forks into the background (setsid, stdin and stdout to /dev/null;
 * stderr too unless keep_stderr: it is the --log-file). The parent exits
 * 0. */
daemon_status_e daemon_detach(bool keep_stderr);

/* --log-file: opens `path` for appending (created 0640) and makes it
 * stderr, so every log line goes there. Used at start-up and on SIGHUP
 * (log rotation: the renamed file is closed, a new one made). On failure
 * a message goes to the current stderr, which stays as it was. */
daemon_status_e daemon_log_open(const char *path);

/* Writes our pid to `path`. */
daemon_status_e daemon_write_pidfile(const char *path);

/* Removes the pidfile (NULL-safe). */
void daemon_remove_pidfile(const char *path);

/* As root: switches to `user` if given (memcached's messages; an unknown
 * user is refused), else warns (tiercache, unlike memcached, runs as root
 * without -u: see README). Not root: ignores `user`, as memcached. */
daemon_status_e daemon_drop_root(const char *user);

/* -r: raises the core file limit to its maximum. */
void daemon_enable_coredumps(void);

/* Raises RLIMIT_NOFILE to at least `nfiles` (up to the hard limit; as root
 * the hard limit too). Warns if it cannot. */
void daemon_raise_fd_limit(unsigned long nfiles);

#endif /* TIERCACHE_DAEMON_H */
