/* server/daemon.c - see daemon.h. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

daemon_status_e daemon_detach(bool keep_stderr)
{
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return DAEMON_ERROR;
    }
    if (pid > 0)
        _exit(0);
    if (setsid() < 0) {
        perror("setsid");
        return DAEMON_ERROR;
    }
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        if (!keep_stderr)
            dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO)
            close(fd);
    }
    return DAEMON_OK;
}

daemon_status_e daemon_log_open(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        fprintf(stderr, "tiercache: cannot open the log file %s: %s\n", path,
                strerror(errno));
        return DAEMON_ERROR;
    }
    fflush(stderr);
    if (fd != STDERR_FILENO) {
        if (dup2(fd, STDERR_FILENO) < 0) {
            fprintf(stderr, "tiercache: cannot use the log file %s: %s\n",
                    path, strerror(errno));
            close(fd);
            return DAEMON_ERROR;
        }
        close(fd);
    }
    return DAEMON_OK;
}

daemon_status_e daemon_write_pidfile(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "Could not open the pid file %s for writing: %s\n",
                path, strerror(errno));
        return DAEMON_ERROR;
    }
    fprintf(f, "%ld\n", (long)getpid());
    fclose(f);
    return DAEMON_OK;
}

void daemon_remove_pidfile(const char *path)
{
    if (path)
        unlink(path);
}

daemon_status_e daemon_drop_root(const char *user)
{
    if (getuid() != 0 && geteuid() != 0)
        return DAEMON_OK;
    if (user == NULL) {
        fprintf(stderr, "tiercache: warning: running as root (no -u given)\n");
        return DAEMON_OK;
    }
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        fprintf(stderr, "can't find the user %s to switch to\n", user);
        return DAEMON_ENOUSER;
    }
    if (pw->pw_uid == 0)
        return DAEMON_OK;
    if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        fprintf(stderr, "failed to assume identity of user %s\n", user);
        return DAEMON_ERROR;
    }
    return DAEMON_OK;
}

void daemon_enable_coredumps(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_CORE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_CORE, &rl);
    }
}

void daemon_raise_fd_limit(unsigned long nfiles)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= nfiles)
        return;
    struct rlimit want = rl;
    want.rlim_cur = nfiles;
    if (want.rlim_max < nfiles)
        want.rlim_max = nfiles;
    if (setrlimit(RLIMIT_NOFILE, &want) == 0)
        return;
    want.rlim_cur = rl.rlim_max;
    want.rlim_max = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &want);
    fprintf(stderr, "tiercache: warning: could not raise the open files limit "
            "to %lu (-c)\n", nfiles);
}
