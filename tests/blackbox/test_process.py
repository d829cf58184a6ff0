"""Process behaviour: port file, listen address, unix socket, daemon mode,
help, memcached's flags, bad flags, signals."""

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BBTest, tiercache_only  # noqa: E402


def run(args, timeout=10):
    return subprocess.run([harness.BIN] + args, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout)


def non_loopback_ipv4():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(('10.255.255.255', 9))   # no packet is sent
        ip = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if ip.startswith('127.') else ip


class Process(BBTest):
    def test_port_file_format(self):
        srv = self.start()
        with open(srv.port_file) as f:
            text = f.read()
        self.assertEqual(text, 'TCP INET: %d\n' % srv.port)
        self.cmd(self.conn(srv), 'version\r\n', 'VERSION ')

    @tiercache_only
    def test_port_zero_picks_free_port(self):
        a = self.start()
        b = self.start()
        self.assertNotEqual(a.port, 0)
        self.assertNotEqual(a.port, b.port)
        st = self.stats(self.conn(a), 'settings')
        self.assertEqual(st['tcpport'], str(a.port))

    @tiercache_only
    def test_default_listen_loopback(self):
        srv = self.start(listen=False)
        port = srv.port
        c = harness.Conn(port)
        self._conns.append(c)
        self.cmd(c, 'version\r\n', 'VERSION ')
        ip = non_loopback_ipv4()
        if ip:
            with self.assertRaises(OSError, msg='listening on %s' % ip):
                socket.create_connection((ip, port), timeout=2).close()

    def test_unix_socket_mask(self):
        d = tempfile.mkdtemp(prefix='bb-unix-')
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, 'tc.sock')
        srv = self.start(['-s', path, '-a', '640'], tcp=False, unix=path)
        mode = stat.S_IMODE(os.stat(path).st_mode)
        self.assertEqual(oct(mode), oct(0o640))
        self.assertTrue(stat.S_ISSOCK(os.stat(path).st_mode))
        c = self.conn(srv)
        self.cmd(c, 'set u 0 0 1\r\nx\r\nget u\r\n',
                 'STORED\r\nVALUE u 0 1\r\nx\r\nEND\r\n')

    def test_daemonize_pidfile(self):
        d = tempfile.mkdtemp(prefix='bb-daemon-')
        self.addCleanup(shutil.rmtree, d, True)
        pidfile = os.path.join(d, 'tc.pid')
        portfile = os.path.join(d, 'port')
        errpath = os.path.join(d, 'stderr')
        if harness.REFERENCE:
            port = harness.free_port()
            args = ['-u', 'root', '-l', harness.HOST, '-p', str(port)]
        else:
            args = ['-p', '0', '-l', harness.HOST]
        env = dict(os.environ, MEMCACHED_PORT_FILENAME=portfile)
        with open(errpath, 'wb') as err:
            p = subprocess.run([harness.BIN] + args + ['-d', '-P', pidfile],
                               stdin=subprocess.DEVNULL, stdout=err,
                               stderr=err, env=env, timeout=10)
        self.assertEqual(p.returncode, 0)
        pid = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with open(pidfile) as f:
                    text = f.read()
                with open(portfile) as f:
                    port = harness.parse_port_file(f.read())
                if text.endswith('\n') and port:
                    pid = int(text)
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        self.assertIsNotNone(pid, 'no pid file / port file')
        try:
            self.assertRegex(text, r'^\d+\n$')
            self.assertTrue(os.path.exists('/proc/%d' % pid))
            self.assertNotEqual(pid, p.returncode)
            c = harness.Conn(port)
            self._conns.append(c)
            self.cmd(c, 'version\r\n', 'VERSION ')
            st = self.stats(c)
            self.assertEqual(st['pid'], str(pid))
        finally:
            os.kill(pid, signal.SIGTERM)   # the daemon we started
            deadline = time.monotonic() + 10
            while os.path.exists('/proc/%d' % pid) and \
                    time.monotonic() < deadline:
                try:
                    with open('/proc/%d/stat' % pid) as f:
                        if f.read().split(') ')[1].startswith('Z'):
                            break
                except OSError:
                    break
                time.sleep(0.05)
            gone = not os.path.exists('/proc/%d' % pid)
            if not gone:
                with open('/proc/%d/stat' % pid) as f:
                    gone = f.read().split(') ')[1].startswith('Z')
            if not gone:
                os.kill(pid, signal.SIGKILL)
        self.assertTrue(gone, 'daemon did not exit on SIGTERM')
        with open(errpath, 'rb') as f:
            err = f.read().decode('utf-8', 'replace')
        for bad in harness.BAD_STDERR:
            self.assertNotIn(bad, err)

    def test_help(self):
        p = run(['-h'])
        self.assertEqual(p.returncode, 0)
        out = p.stdout.decode()
        for flag in ('-p', '-U', '-s', '-a', '-l', '-d', '-u', '-m', '-M',
                     '-c', '-v', '-P', '-f', '-n', '-L', '-I', '-t', '-R',
                     '-C', '-b', '-B', '-o', '-A'):
            # memcached prints "-p, --port=<num>"; any "-p," "-p/" "-p " is ok
            self.assertRegex(out, r'(^|\n)\s*%s[,/ ]' % flag, flag)

    def test_memcached_flags_accepted(self):
        args = ['-m', '64', '-c', '64', '-t', '2', '-R', '20', '-b', '1024',
                '-B', 'ascii', '-f', '1.25', '-n', '48', '-L', '-I', '2m',
                '-U', '0', '-v', '-o',
                'hashpower=16,lru_crawler,lru_maintainer,slab_reassign,'
                'slab_automove=1,modern']
        srv = self.start(args)
        c = self.conn(srv)
        self.cmd(c, 'set fl 0 0 1\r\nx\r\nget fl\r\n',
                 'STORED\r\nVALUE fl 0 1\r\nx\r\nEND\r\n')
        st = self.stats(c, 'settings')
        self.assertEqual(st['maxbytes'], str(64 * 1024 * 1024))
        self.assertEqual(st['maxconns'], '64')
        self.assertEqual(st['num_threads'], '2')
        self.assertEqual(st['item_size_max'], str(2 * 1024 * 1024))
        self.assertEqual(st['reqs_per_event'], '20')
        self.assertEqual(st['tcp_backlog'], '1024')

    def test_more_flags_accepted(self):
        srv = self.start(['-M', '-C', '-A', '-D', ':', '-vv',
                          '-o', 'no_lru_crawler,no_lru_maintainer'])
        c = self.conn(srv)
        self.cmd(c, 'gets x\r\n', 'END\r\n')

    def test_bad_flags(self):
        for bad in (['--no-such-flag'], ['-t', 'abc'], ['-c', '-5'],
                    ['-m', 'abc'], ['-B', 'nonsense'], ['-z']):
            extra = ['-u', 'root', '-p', '1'] if harness.REFERENCE else \
                ['-p', '0', '-l', harness.HOST]
            p = run(extra + bad)
            self.assertNotEqual(p.returncode, 0, bad)
            self.assertNotEqual(p.stderr.strip(), b'', bad)
            for b in harness.BAD_STDERR:
                self.assertNotIn(b, p.stderr.decode('utf-8', 'replace'))

    def test_sigint_clean_exit(self):
        s = harness.Server([])
        s.start()
        self.cmd(s.conn(), 'version\r\n', 'VERSION ')
        problem = s.stop(sig=signal.SIGINT)
        self.assertIsNone(problem)
        self.assertEqual(s.exit_code, 0)

    def test_sigterm_with_clients(self):
        s = harness.Server([])
        s.start()
        c = s.conn()
        self.cmd(c, 'set a 0 0 1\r\nx\r\n', 'STORED\r\n')
        c.send('get a')    # a half-sent command
        problem = s.stop()
        c.close()
        self.assertIsNone(problem)
        self.assertEqual(s.exit_code, 0)


if __name__ == '__main__':
    harness.main()
