"""The process as a service (issue 12 item 2): -d with -P and -u as
memcached's (the pid file holds the daemon's pid, written as the -u user,
removed at exit; an unknown user exits 67), SIGHUP (the server goes on;
tiercache reopens its --log-file), --config-file (one flag a line, a bad
line stops the start with FILE:LINE, dist/tiercache.conf is accepted).

Runs against memcached too (the `reference` suite) where memcached has the
flag. Tests of -u need root (skipped otherwise)."""

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BBTest, reference_only, tiercache_only  # noqa: E402

ROOT = os.geteuid() == 0
DIST_CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         '..', '..', 'dist', 'tiercache.conf')


def user_nobody():
    try:
        return pwd.getpwnam('nobody')
    except KeyError:
        return None


def gone(pid):
    """True once pid has exited (or is a zombie of someone else)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().split(') ')[1].startswith('Z')
    except OSError:
        return True


def read(path):
    """The text of a file, '' while it does not exist."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ''


def wait_for(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return pred()


class Daemon(BBTest):
    def tmpdir(self, mode=0o700):
        d = tempfile.mkdtemp(prefix='bb-daemon-')
        os.chmod(d, mode)
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def base_args(self):
        if harness.REFERENCE:
            return ['-l', harness.HOST, '-p', str(harness.free_port())]
        return ['-l', harness.HOST, '-p', '0']

    def read_port(self, portfile, args):
        if harness.REFERENCE:
            return int(args[args.index('-p') + 1])
        with open(portfile) as f:
            return harness.parse_port_file(f.read())

    @unittest.skipUnless(ROOT and user_nobody(), 'needs root and nobody')
    def test_daemon_pidfile_as_user(self):
        """-u nobody -d -P: the daemon runs as nobody; its pid is in the
        file, which nobody wrote and which goes at exit."""
        nobody = user_nobody()
        d = self.tmpdir(0o777)   # nobody writes the pid (and port) file
        pidfile = os.path.join(d, 'tc.pid')
        portfile = os.path.join(d, 'port')
        args = self.base_args() + ['-u', 'nobody', '-d', '-P', pidfile]
        env = dict(os.environ, MEMCACHED_PORT_FILENAME=portfile)
        p = subprocess.run([harness.BIN] + args, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)

        def pid_ready():
            try:
                with open(pidfile) as f:
                    text = f.read()
                return text if text.endswith('\n') and \
                    os.path.exists(portfile) else None
            except OSError:
                return None
        text = wait_for(pid_ready)
        self.assertIsNotNone(text, 'no pid file')
        self.assertRegex(text, r'^\d+\n$')
        pid = int(text)
        try:
            self.assertEqual(os.stat('/proc/%d' % pid).st_uid, nobody.pw_uid)
            self.assertEqual(os.stat(pidfile).st_uid, nobody.pw_uid)
            c = harness.Conn(wait_for(lambda: self.read_port(portfile, args)))
            self._conns.append(c)
            self.assertEqual(self.stats(c)['pid'], str(pid))
            # SIGHUP: the daemon goes on serving
            os.kill(pid, signal.SIGHUP)
            time.sleep(0.2)
            self.cmd(c, 'version\r\n', 'VERSION ')
        finally:
            os.kill(pid, signal.SIGTERM)   # the daemon this test started
            if not wait_for(lambda: gone(pid)):
                os.kill(pid, signal.SIGKILL)
        self.assertTrue(gone(pid))
        self.assertTrue(wait_for(lambda: not os.path.exists(pidfile), 3),
                        'the pid file outlived the daemon')

    @unittest.skipUnless(ROOT, 'needs root')
    def test_unknown_user(self):
        code, err = harness.run_to_exit(
            self.base_args() + ['-u', 'no-such-user-tc12'])
        self.assertEqual(code, 67)
        self.assertIn("can't find the user no-such-user-tc12 to switch to",
                      err)

    @unittest.skipUnless(ROOT, 'needs root')
    @reference_only
    def test_root_without_user_memcached(self):
        # memcached refuses; tiercache starts with a warning (README):
        # see test_root_without_user_tiercache
        p = subprocess.run([harness.BIN] + self.base_args(),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=10)
        self.assertEqual(p.returncode, 64)
        self.assertIn(b"can't run as root without the -u switch", p.stderr)

    @unittest.skipUnless(ROOT, 'needs root')
    @tiercache_only
    def test_root_without_user_tiercache(self):
        srv = self.start()
        self.cmd(self.conn(srv), 'version\r\n', 'VERSION ')
        self.assertIn('warning: running as root (no -u given)', srv.stderr())

    def test_sighup_goes_on(self):
        srv = self.start()
        c = self.conn(srv)
        self.cmd(c, 'set h 0 0 1\r\nx\r\n', 'STORED\r\n')
        for _ in range(3):
            srv.proc.send_signal(signal.SIGHUP)
            time.sleep(0.1)
        self.cmd(c, 'get h\r\n', 'VALUE h 0 1\r\nx\r\nEND\r\n')
        self.cmd(self.conn(srv), 'version\r\n', 'VERSION ')

    @tiercache_only
    def test_log_file_reopened_on_sighup(self):
        d = self.tmpdir()
        log = os.path.join(d, 'tiercache.log')
        srv = self.start(['--log-file', log, '-vv'])
        self.assertEqual(srv.stderr(), '', 'log lines went to stderr')
        with open(log) as f:
            self.assertIn('listening', f.read())
        os.rename(log, log + '.1')   # as logrotate does
        srv.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: os.path.exists(log), 5),
                        'no new log file after SIGHUP')

        def reopened():
            with open(log) as f:
                return 'SIGHUP: reopened the log file' in f.read()
        self.assertTrue(wait_for(reopened, 5))
        self.assertIsNone(srv.stop())
        with open(log) as f:
            new = f.read()
        with open(log + '.1') as f:
            old = f.read()
        self.assertIn('Exiting normally', new)
        self.assertNotIn('SIGHUP', old)
        for bad in harness.BAD_STDERR:
            self.assertNotIn(bad, new + old)

    @tiercache_only
    def test_log_file_with_daemon(self):
        d = self.tmpdir()
        log, pidfile = os.path.join(d, 'log'), os.path.join(d, 'pid')
        p = subprocess.run([harness.BIN, '-p', '0', '-l', harness.HOST, '-d',
                            '-P', pidfile, '--log-file', log, '-vv'],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=10,
                           env=dict(os.environ, MEMCACHED_PORT_FILENAME=os.path.join(d, 'port')))
        self.assertEqual(p.returncode, 0, p.stderr)
        pid = wait_for(lambda: read(pidfile).strip())
        self.assertTrue(pid)
        pid = int(pid)
        try:
            self.assertTrue(wait_for(lambda: 'listening' in read(log)))
        finally:
            os.kill(pid, signal.SIGTERM)   # the daemon this test started
            if not wait_for(lambda: gone(pid)):
                os.kill(pid, signal.SIGKILL)
        self.assertTrue(wait_for(lambda: 'Exiting normally' in read(log), 5))
        # an unwritable log file is refused before daemonizing
        p = subprocess.run([harness.BIN, '-p', '0', '-l', harness.HOST, '-d',
                            '--log-file', os.path.join(d, 'no', 'such', 'log')],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=10)
        self.assertEqual(p.returncode, 64)
        self.assertIn(b'cannot open the log file', p.stderr)


@tiercache_only
class ConfigFile(BBTest):
    def conf(self, text):
        fd, path = tempfile.mkstemp(prefix='bb-conf-')
        with os.fdopen(fd, 'w') as f:
            f.write(text)
        self.addCleanup(os.unlink, path)
        return path

    def test_flags_from_file(self):
        path = self.conf('# as /etc/memcached.conf\n\n-m 32\n  -c 100\n'
                         '-o hashpower=12\n# -m 999\n-A\n')
        srv = self.start(['--config-file', path, '-c', '200'])
        c = self.conn(srv)
        st = self.stats(c, 'settings')
        self.assertEqual(st['maxbytes'], str(32 << 20))
        self.assertEqual(st['maxconns'], '200', 'the command line wins')
        self.assertEqual(st['hashpower_init'], '12')
        self.assertEqual(st['shutdown_command'], 'yes')

    def test_bad_lines(self):
        for text, what in (('-m 32\nmemory 64\n', ':2: expected a flag'),
                           ('-m 32\n\n-m lots\n', ':3'),
                           ('--no-such-flag\n', ':1'),
                           ('-o bogus=1\n', ':1')):
            path = self.conf(text)
            code, err = harness.run_to_exit(['-p', '0', '-l', harness.HOST,
                                             '--config-file', path])
            self.assertEqual(code, 64, text)
            self.assertIn(path + what, err, text)
        code, err = harness.run_to_exit(['--config-file', '/nonexistent/tc.conf'])
        self.assertEqual(code, 64)
        self.assertIn('cannot read config file /nonexistent/tc.conf', err)

    def test_dist_conf_is_accepted(self):
        # the installed /etc/tiercache.conf; -p 0 instead of its 11211
        srv = self.start(['--config-file', DIST_CONF])
        c = self.conn(srv)
        st = self.stats(c, 'settings')
        self.assertEqual(st['maxbytes'], str(64 << 20))
        self.assertEqual(st['inter'], '127.0.0.1')
        self.assertEqual(st['maxconns'], '1024')


if __name__ == '__main__':
    harness.main()
