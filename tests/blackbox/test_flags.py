"""memcached 1.6.18's flags where tiercache used to differ (issue 12 item
4): -U without -p, -p -1, a bare -o slab_automove, -o no_modern,
-o temporary_ttl, the lru_crawler settings and commands, a metadump
pipelined behind other commands; tiercache only: --flash-* without
--flash-path, -h's defaults, a refused flag pointing to -h.

Runs against memcached too (the `reference` suite): what is expected of
both is memcached's behaviour."""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BBTest, Conn, tiercache_only  # noqa: E402


def run(args, timeout=10):
    """Runs the server binary to its exit (a refused start, -h)."""
    extra = ['-u', 'root'] if harness.REFERENCE else []
    return subprocess.run([harness.BIN] + extra + args,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)



def metadump_all(c):
    """`lru_crawler metadump all`, its lines up to END. memcached's crawler,
    once enabled, may start an automatic crawl at once; a metadump then
    says BUSY until that crawl ends: retried for up to 10 s (the BUSY line
    is returned if it lasts)."""
    busy = b'BUSY currently processing crawler request\r\n'
    deadline = time.monotonic() + 10
    while True:
        c.send('lru_crawler metadump all\r\n')
        got = c.recv_until(b'\n')   # metadump lines end in \n alone
        if got != busy or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if got != busy and got != b'END\r\n':
        got += c.recv_until(b'END\r\n')
    return got

class Spawned:
    """A server started with exactly `args` (no -p added), stopped with
    SIGTERM; tiercache must exit 0 without a sanitizer report."""

    def __init__(self, args, env=None):
        self.tmp = tempfile.mkdtemp(prefix='bb-flags-')
        self.err_path = os.path.join(self.tmp, 'stderr')
        extra = ['-u', 'root'] if harness.REFERENCE else []
        with open(self.err_path, 'wb') as err:
            self.proc = subprocess.Popen(
                [harness.BIN] + extra + args, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=err,
                env=dict(os.environ, **(env or {})))

    def stderr(self):
        with open(self.err_path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def wait_accept(self, port):
        deadline = time.monotonic() + harness.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError('exited %s: %s' % (self.proc.returncode,
                                                        self.stderr()))
            try:
                return Conn(port)
            except OSError:
                time.sleep(0.02)
        raise AssertionError('no TCP listener on %d: %s' % (port,
                                                            self.stderr()))

    def discard(self):
        """After the server exited by itself: removes its files."""
        self.proc.wait(timeout=10)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=harness.STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError('no exit on SIGTERM')
        err = self.stderr()
        for f in os.listdir(self.tmp):
            os.unlink(os.path.join(self.tmp, f))
        os.rmdir(self.tmp)
        if not harness.REFERENCE:
            assert code == 0, 'exit code %s: %s' % (code, err)
            for bad in harness.BAD_STDERR:
                assert bad not in err, err


class Ports(BBTest):
    def spawn(self, args, env=None):
        s = Spawned(args, env)
        self.addCleanup(s.stop)
        return s

    def test_udp_port_alone_is_the_tcp_port_too(self):
        # the port was free a moment ago: if another process took it, the
        # server exits at once, and a new port is tried
        for attempt in range(3):
            port = harness.free_udp_port()
            s = Spawned(['-l', harness.HOST, '-U', str(port)])
            try:
                c = s.wait_accept(port)
                break
            except AssertionError:
                if s.proc.poll() is None or attempt == 2:
                    s.stop()
                    raise
                s.discard()
        self.addCleanup(s.stop)
        self._conns.append(c)
        self.cmd(c, 'version\r\n', 'VERSION ')
        st = self.stats(c, 'settings')
        self.assertEqual(st['tcpport'], str(port))
        self.assertEqual(st['udpport'], str(port))

    def test_port_minus_one_is_ephemeral(self):
        d = tempfile.mkdtemp(prefix='bb-flags-pf-')
        self.addCleanup(shutil.rmtree, d, True)
        pf = os.path.join(d, 'pf')
        s = self.spawn(['-l', harness.HOST, '-p', '-1'],
                       env={'MEMCACHED_PORT_FILENAME': pf})
        port = None
        deadline = time.monotonic() + harness.START_TIMEOUT
        while port is None and time.monotonic() < deadline:
            try:
                with open(pf) as f:
                    port = harness.parse_port_file(f.read())
            except OSError:
                time.sleep(0.02)
        self.assertIsNotNone(port, s.stderr())
        self.assertNotEqual(port, 0)
        c = s.wait_accept(port)
        self._conns.append(c)
        st = self.stats(c, 'settings')
        self.assertEqual(st['tcpport'], '-1')   # memcached shows what was given

    def test_bad_ports_refused(self):
        for bad in (['-p', '70000'], ['-p', '-2']):
            code, err = harness.run_to_exit(['-l', harness.HOST] + bad)
            self.assertNotIn(code, (0, None), bad)
            self.assertNotEqual(err.strip(), '', bad)


class Extended(BBTest):
    def settings(self, args):
        srv = self.start(args)
        return self.stats(self.conn(srv), 'settings')

    def test_bare_slab_automove(self):
        st = self.settings(['-o', 'slab_automove=0,slab_automove'])
        self.assertEqual(st['slab_automove'], '1')

    def test_no_modern(self):
        st = self.settings(['-o', 'no_modern'])
        want = {'maxconns_fast': 'no', 'slab_reassign': 'no',
                'slab_automove': '0', 'slab_chunk_max': '1048576',
                'lru_crawler': 'no', 'hash_algorithm': 'jenkins',
                'lru_maintainer_thread': 'no', 'lru_segmented': 'no'}
        self.assertEqual({k: st[k] for k in want}, want)
        # later options override it
        st = self.settings(['-o', 'no_modern,lru_crawler,slab_reassign'])
        self.assertEqual((st['lru_crawler'], st['slab_reassign'],
                          st['lru_maintainer_thread']), ('yes', 'yes', 'no'))

    def test_lru_maintainer_and_segmented(self):
        st = self.settings(['-o', 'no_lru_maintainer'])
        self.assertEqual((st['lru_maintainer_thread'], st['lru_segmented']),
                         ('no', 'no'))

    def test_temporary_ttl(self):
        st = self.settings(['-o', 'temporary_ttl=30'])
        self.assertEqual((st['temp_lru'], st['temporary_ttl']), ('yes', '30'))
        st = self.settings([])
        self.assertEqual((st['temp_lru'], st['temporary_ttl']), ('no', '61'))
        p = run(['-l', harness.HOST, '-p', '0', '-o',
                 'no_lru_maintainer,temporary_ttl=30'])
        self.assertEqual(p.returncode, 64)
        self.assertIn(b'temporary_ttl requires lru_maintainer to be enabled',
                      p.stderr)


class Crawler(BBTest):
    SERVER_ARGS = []

    def test_disabled_crawler_refuses(self):
        srv = self.start(['-o', 'no_lru_crawler'])
        c = self.conn(srv)
        self.cmd(c, 'set cr 0 0 1\r\nx\r\n', 'STORED\r\n')
        for cmd in ('lru_crawler metadump all', 'lru_crawler crawl all',
                    'lru_crawler metadump 1'):
            self.cmd(c, cmd + '\r\n', 'CLIENT_ERROR lru crawler disabled\r\n')
        self.assertEqual(self.stats(c, 'settings')['lru_crawler'], 'no')
        self.cmd(c, 'lru_crawler enable\r\n', 'OK\r\n')
        self.assertEqual(self.stats(c, 'settings')['lru_crawler'], 'yes')
        got = metadump_all(c)
        self.assertTrue(got.startswith(b'key=cr '), got)
        self.cmd(c, 'lru_crawler enable\r\n',
                 'ERROR failed to start lru crawler thread\r\n')
        self.cmd(c, 'lru_crawler disable\r\nlru_crawler disable\r\n',
                 'OK\r\nOK\r\n')
        # memcached's crawler thread stops in the background (on a busy
        # machine a metadump right after says "ERROR an unknown error
        # happened" for a moment): wait until the setting says so
        deadline = time.monotonic() + 10
        while (self.stats(c, 'settings')['lru_crawler'] != 'no' and
               time.monotonic() < deadline):
            time.sleep(0.05)
        self.assertEqual(self.stats(c, 'settings')['lru_crawler'], 'no')
        self.cmd(c, 'lru_crawler metadump all\r\n',
                 'CLIENT_ERROR lru crawler disabled\r\n')

    def test_arguments(self):
        c = self.conn()
        for cmd, want in (
                ('lru_crawler sleep abc', 'CLIENT_ERROR bad command line format'),
                ('lru_crawler sleep -5', 'CLIENT_ERROR bad command line format'),
                ('lru_crawler sleep 2000000',
                 'CLIENT_ERROR sleep must be one second or less'),
                ('lru_crawler tocrawl abc', 'CLIENT_ERROR bad command line format'),
                ('lru_crawler crawl 99', 'BADCLASS invalid class id'),
                ('lru_crawler crawl abc', 'BADCLASS invalid class id'),
                ('lru_crawler metadump 0', 'BADCLASS invalid class id'),
                ('lru_crawler crawl', 'ERROR'),
                ('lru_crawler crawl 1 2', 'ERROR'),
                ('lru_crawler metadump all extra', 'ERROR'),
                ('lru_crawler sleep', 'ERROR'),
                ('lru_crawler bogus', 'ERROR')):
            self.cmd(c, cmd + '\r\n', want + '\r\n')
        # a crawl runs in the background: the next is BUSY until it ends
        for cmd in ('lru_crawler crawl all', 'lru_crawler crawl 1,2'):
            deadline = time.monotonic() + 10
            while True:
                c.send((cmd + "\r\n").encode())
                got = c.readline(timeout=5)
                if not got.startswith(b'BUSY') or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            self.assertEqual(got, b'OK\r\n', cmd)

    def test_sleep_and_tocrawl_in_settings(self):
        srv = self.start()
        c = self.conn(srv)
        self.cmd(c, 'lru_crawler sleep 50\r\nlru_crawler tocrawl 7\r\n',
                 'OK\r\nOK\r\n')
        st = self.stats(c, 'settings')
        self.assertEqual((st['lru_crawler_sleep'], st['lru_crawler_tocrawl']),
                         ('50', '7'))

    def test_numbers_read_as_memcached_reads_them(self):
        # memcached's safe_strtoul: a sign, 32-bit truncation, no INT_MAX
        srv = self.start()
        c = self.conn(srv)
        for cmd, want in (
                ('lru_crawler tocrawl 3000000000', 'OK'),
                ('lru_crawler sleep +5', 'OK'),
                ('lru_crawler sleep 18446744073709551615',
                 'CLIENT_ERROR sleep must be one second or less'),
                ('lru_crawler sleep 18446744073709551616',
                 'CLIENT_ERROR bad command line format'),
                ('lru_crawler sleep 4294967296', 'OK'),   # 0
                ('stats cachedump +1 1', 'END'),
                ('stats cachedump 4294967297 -0', 'END'),  # class 1, 0
                ('stats cachedump 1 -1', 'CLIENT_ERROR bad command line '
                 'format')):
            self.cmd(c, cmd + '\r\n', want + '\r\n')
        st = self.stats(c, 'settings')
        self.assertEqual((st['lru_crawler_sleep'], st['lru_crawler_tocrawl']),
                         ('0', '3000000000'))
        for cmd in ('lru_crawler crawl +1', 'lru_crawler crawl 4294967297'):
            deadline = time.monotonic() + 10
            while True:   # BUSY while an earlier crawl runs
                c.send((cmd + "\r\n").encode())
                got = c.readline(timeout=5)
                if not got.startswith(b'BUSY') or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            self.assertEqual(got, b'OK\r\n', cmd)
        self.cmd(c, 'lru_crawler crawl -0\r\n', 'BADCLASS invalid class id\r\n')

    def test_metadump_behind_other_commands(self):
        # memcached's t/lru-crawler.t: replies still queued before a
        # metadump make it refuse
        c = self.conn()
        self.cmd(c, 'mg nosuchkey v\r\nlru_crawler metadump all\r\n',
                 'EN\r\nERROR cannot pipeline other commands before '
                 'metadump\r\n')
        c.send('version\r\nlru_crawler metadump all\r\n')
        self.assertTrue(c.readline().startswith(b'VERSION '))
        self.assertEqual(c.readline(), b'ERROR cannot pipeline other '
                         b'commands before metadump\r\n')
        # alone on its line it runs
        c.send('lru_crawler metadump all\r\n')
        c.recv_until(b'END\r\n')

    def test_metadump_encodes_a_whole_long_key(self):
        # a 250-byte key of bytes that are all URI-encoded (3 bytes each)
        # is listed whole: key=%3A x 250 (tiercache once cut its last byte)
        c = self.conn()
        self.cmd(c, 'set ' + ':' * 250 + ' 0 0 1\r\nx\r\n', 'STORED\r\n')
        got = metadump_all(c)
        keys = [line.split(b' ')[0] for line in got.split(b'\n')
                if line.startswith(b'key=%3A')]   # other tests' keys too
        self.assertEqual(keys, [b'key=' + b'%3A' * 250])

    @tiercache_only
    def test_commands_after_a_metadump_run(self):
        # memcached leaves them unanswered until the client sends more;
        # here they run once END is queued
        c = self.conn()
        self.cmd(c, 'set am 0 0 1\r\nx\r\n', 'STORED\r\n')
        c.send('lru_crawler metadump all\r\nversion\r\n')
        c.recv_until(b'END\r\n')
        self.assertTrue(c.readline().startswith(b'VERSION '))


@tiercache_only
class TiercacheFlags(BBTest):
    def test_flash_flags_need_flash_path(self):
        for args in (['--flash-size', '64m'], ['--flash-promote', 'always'],
                     ['--flash-size', '1g', '--flash-segment-size', '1m']):
            p = run(['-p', '0', '-l', harness.HOST] + args)
            self.assertEqual(p.returncode, 64, args)
            err = p.stderr.decode()
            self.assertIn('--flash-path', err)
            self.assertIn('RAM only', err)

    def test_help(self):
        p = run(['-h'])
        self.assertEqual(p.returncode, 0)
        out = p.stdout.decode()
        self.assertNotIn('(null)', out)
        self.assertNotIn('NULL', out)
        lines = [ln for ln in out.splitlines() if ln.startswith('  -')]
        self.assertGreater(len(lines), 80)
        for ln in lines:
            # a flag (no value) is off until given: never "(default: yes)"
            # after "disable ..." (a double negative)
            if '<val>' not in ln and not ln.lstrip().startswith('-o '):
                self.assertNotIn('(default: yes)', ln)
        self.assertRegex(out, r'-F/--disable-flush-all +disable the '
                              r'flush_all command \(default: off\)')

    @unittest.skipUnless(os.path.exists(harness.MEMCACHED), 'no memcached')
    def test_help_lists_every_memcached_option(self):
        ours = run(['-h']).stdout.decode()
        theirs = subprocess.run([harness.MEMCACHED, '-h'],
                                stdout=subprocess.PIPE, timeout=10).stdout.decode()
        longs = set(re.findall(r'^-\w, (--[\w-]+)', theirs, re.M))
        subs = set(re.findall(r'^   - (\w+):', theirs, re.M))
        self.assertGreater(len(longs), 20)
        self.assertGreater(len(subs), 30)
        for flag in sorted(longs):
            self.assertRegex(ours, r'/%s\b' % re.escape(flag))
        for sub in sorted(subs):
            name = sub[3:] if sub.startswith('no_') and \
                ('-o %s' % sub) not in ours else sub
            self.assertIn('-o %s' % name, ours, sub)

    def test_refused_flag_points_to_help(self):
        for bad in (['-z'], ['--no-such-flag'], ['-o', 'bogus'], ['stray']):
            p = run(['-p', '0', '-l', harness.HOST] + bad)
            self.assertEqual(p.returncode, 64, bad)
            self.assertIn(b'tiercache -h', p.stderr, bad)


if __name__ == '__main__':
    harness.main()
