#!/usr/bin/python3
"""`watch` log streams, `stats detail` and `stats conns` (issue 12 item 3).

Runs against tiercache and, as the reference suite, memcached 1.6.18: the
line shapes asserted are memcached's (values such as fds, ports and times
differ, so lines are matched with regexes). The spill field of eviction
lines (" spilled=yes|no" with a flash tier) is tiercache's own: its test is
@tiercache_only.
"""

import os
import re
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BBTest, Server, tiercache_only  # noqa: E402

TS = r'ts=\d+\.\d+ gid=\d+ '
KEYCHARS = r'[A-Za-z0-9._~%-]+'


def item_get(key, status, sized=None):
    size = r'\d+' if sized is None else str(sized)
    clsid = '0' if status == 'not_found' else r'\d+'
    return re.compile(TS + r'type=item_get key=%s status=%s clsid=%s '
                      r'cfd=\d+ size=%s$' % (re.escape(key), status, clsid,
                                             '0' if status == 'not_found'
                                             else size))


def item_store(key, status, cmd, ttl, size):
    return re.compile(TS + r'type=item_store key=%s status=%s cmd=%s ttl=%s '
                      r'clsid=\d+ cfd=\d+ size=%d$'
                      % (re.escape(key), status, cmd, ttl, size))


class Watcher:
    """A watcher connection: reads '\\n'-ended log lines."""

    def __init__(self, test, srv, streams):
        self.c = test.conn(srv)
        test.cmd(self.c, 'watch %s\r\n' % streams if streams else 'watch\r\n',
                 'OK\r\n')

    def lines(self, n, timeout=5.0, match=None):
        """The next n lines (only those matching `match` if given)."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError('got %d of %d log lines: %r'
                                     % (len(out), n, out[-5:]))
            line = self.c.recv_until(b'\n', timeout=left).decode()
            line = line.rstrip('\n')
            if match is None or re.search(match, line):
                out.append(line)
        return out


class TestWatch(BBTest):
    SERVER_ARGS = []

    def test_default_is_fetchers_and_sees_other_connections(self):
        w = Watcher(self, self.srv, '')
        c = self.conn()
        self.cmd(c, 'get w1:absent\r\n', 'END\r\n')
        self.cmd(c, 'set w1:k 5 0 3\r\nabc\r\n', 'STORED\r\n')
        self.cmd(c, 'get w1:k\r\n', 'VALUE w1:k 5 3\r\nabc\r\nEND\r\n')
        got = w.lines(3, match=r'key=w1')
        self.assertRegex(got[0], item_get('w1:absent'.replace(':', '%3A'),
                                          'not_found'))
        # memcached's set looks the key up first (fetchers see it)
        self.assertRegex(got[1], item_get('w1%3Ak', 'not_found'))
        self.assertRegex(got[2], item_get('w1%3Ak', 'found', 3))
        # fetchers only: no item_store line arrived
        self.assertNotIn('item_store', ' '.join(got))
        # lines end in a bare "\n" and carry increasing gids
        gids = [int(re.search(r'gid=(\d+)', g).group(1)) for g in got]
        self.assertEqual(gids, sorted(gids))

    def test_mutations(self):
        w = Watcher(self, self.srv, 'mutations')
        c = self.conn()
        self.cmd(c, 'set w2:k 0 100 2\r\nab\r\n', 'STORED\r\n')
        self.cmd(c, 'add w2:k 0 0 1\r\nx\r\n', 'NOT_STORED\r\n')
        self.cmd(c, 'prepend w2:k 0 0 1\r\nz\r\n', 'STORED\r\n')
        self.cmd(c, 'replace w2:none 0 0 1\r\nx\r\n', 'NOT_STORED\r\n')
        self.cmd(c, 'cas w2:none 0 0 1 5\r\nx\r\n', 'NOT_FOUND\r\n')
        got = w.lines(5, match=r'key=w2')
        self.assertRegex(got[0], item_store('w2%3Ak', 'stored', 'set',
                                            r'(100|99)', 2))
        self.assertRegex(got[1], item_store('w2%3Ak', 'not_stored', 'add', 0, 1))
        self.assertRegex(got[2], item_store('w2%3Ak', 'stored', 'prepend',
                                            r'(100|99)', 3))
        self.assertRegex(got[3], item_store('w2%3Anone', 'not_stored',
                                            'replace', 0, 1))
        self.assertRegex(got[4], item_store('w2%3Anone', 'not_found', 'cas',
                                            0, 1))

    def test_lookups_of_other_commands(self):
        w = Watcher(self, self.srv, 'fetchers')
        c = self.conn()
        self.cmd(c, 'set w3:n 0 0 1\r\n5\r\n', 'STORED\r\n')
        self.cmd(c, 'incr w3:n 2\r\n', '7\r\n')
        self.cmd(c, 'touch w3:n 0\r\n', 'TOUCHED\r\n')
        self.cmd(c, 'delete w3:n\r\n', 'DELETED\r\n')
        self.cmd(c, 'delete w3:n\r\n', 'NOT_FOUND\r\n')
        self.cmd(c, 'incr w3:n 1\r\n', 'NOT_FOUND\r\n')
        got = w.lines(6, match=r'key=w3')
        self.assertRegex(got[0], item_get('w3%3An', 'not_found'))  # the set
        self.assertRegex(got[1], item_get('w3%3An', 'found', 1))
        self.assertRegex(got[2], item_get('w3%3An', 'found'))
        self.assertRegex(got[3], item_get('w3%3An', 'found'))
        self.assertRegex(got[4], item_get('w3%3An', 'not_found'))
        self.assertRegex(got[5], item_get('w3%3An', 'not_found'))

    def test_meta_commands(self):
        w = Watcher(self, self.srv, 'fetchers mutations')
        c = self.conn()
        self.cmd(c, 'mg w8:k v\r\n', 'EN\r\n')
        self.cmd(c, 'ms w8:k 2\r\nhi\r\n', 'HD\r\n')
        self.cmd(c, 'mg w8:k v\r\n', 'VA 2\r\nhi\r\n')
        self.cmd(c, 'md w8:k\r\n', 'HD\r\n')
        got = w.lines(5, match=r'key=w8')
        self.assertRegex(got[0], item_get('w8%3Ak', 'not_found'))
        self.assertRegex(got[1], item_get('w8%3Ak', 'not_found'))  # ms
        self.assertRegex(got[2], item_store('w8%3Ak', 'stored', 'set', 0, 2))
        self.assertRegex(got[3], item_get('w8%3Ak', 'found', 2))
        self.assertRegex(got[4], item_get('w8%3Ak', 'found', 2))  # md
        self.assertEqual(w.c.recv_some(0.2), b'')

    def test_keys_are_uri_encoded(self):
        w = Watcher(self, self.srv, 'fetchers')
        c = self.conn()
        self.cmd(c, 'get n,foo a%b ok-._~9\r\n', 'END\r\n')
        got = w.lines(3, match=r'key=(n%2Cfoo|a%25b|ok-)')
        self.assertRegex(got[0], item_get('n%2Cfoo', 'not_found'))
        self.assertRegex(got[1], item_get('a%25b', 'not_found'))
        self.assertRegex(got[2], item_get('ok-._~9', 'not_found'))

    def test_connevents(self):
        w = Watcher(self, self.srv, 'connevents')
        c = harness.Conn(self.srv.port)
        port = c.sock.getsockname()[1]
        self.assertTrue(c.call(b'version\r\n').startswith(b'VERSION '))
        c.send(b'quit\r\n')
        self.assertTrue(c.is_closed())
        got = w.lines(2, match=r'rport=%d ' % port)
        self.assertRegex(got[0], TS + r'type=conn_new rip=127\.0\.0\.1 '
                         r'rport=%d transport=tcp cfd=\d+$' % port)
        self.assertRegex(got[1], TS + r'type=conn_close rip=127\.0\.0\.1 '
                         r'rport=%d transport=tcp reason=normal cfd=\d+$'
                         % port)
        # a protocol error that closes the connection: reason=error
        c = harness.Conn(self.srv.port)
        port = c.sock.getsockname()[1]
        c.send(b'GET / HTTP/1.1\r\n')
        self.assertTrue(c.is_closed())
        c.close()
        got = w.lines(2, match=r'rport=%d ' % port)
        self.assertRegex(got[1], r'type=conn_close .* reason=error cfd=\d+$')

    def test_watch_replies(self):
        for line, reply in [('watch bogus', 'ERROR\r\n'),
                            ('watch fetchers bogus', 'ERROR\r\n'),
                            ('watch fetchers mutations evictions connevents',
                             'OK\r\n'),
                            ('watch sysevents', 'OK\r\n'),
                            ('watch rawcmds', 'OK\r\n')]:
            c = self.conn()
            self.cmd(c, line + '\r\n', reply)
            c.close()
        # noreply silences the reply, and is an unknown stream itself: the
        # connection is not a watcher and answers commands
        c = self.conn()
        c.send(b'watch noreply\r\n')
        c.send(b'get x\r\n')
        self.assertEqual(c.readline(), b'END\r\n')

    def test_watcher_input_is_ignored(self):
        w = Watcher(self, self.srv, 'fetchers')
        w.c.send(b'get w5:a\r\nversion\r\nstats\r\n')
        c = self.conn()
        self.cmd(c, 'get w5:b\r\n', 'END\r\n')
        got = w.lines(1, match=r'key=w5')
        # only the other connection's lookup: the watcher's get was not run
        self.assertRegex(got[0], item_get('w5%3Ab', 'not_found'))
        self.assertEqual(w.c.recv_some(0.2).count(b'VERSION'), 0)

    def test_closed_watcher_does_not_hurt(self):
        for _ in range(3):
            w = Watcher(self, self.srv, 'fetchers mutations connevents')
            w.c.close()
        # an abandoned watcher in the middle of a burst
        w = Watcher(self, self.srv, 'fetchers')
        c = self.conn()
        c.send(b''.join(b'get w6:%d\r\n' % i for i in range(2000)))
        w.c.sock.shutdown(socket.SHUT_RDWR)
        w.c.close()
        got = 0
        while got < 2000:
            got += c.recv_until(b'END\r\n').count(b'END\r\n')
            got += c.buf.count(b'END\r\n')
            c.buf = c.buf.replace(b'END\r\n', b'')
        c2 = self.conn()
        deadline = time.monotonic() + 5
        while True:
            st = self.stats(c2)
            if st['log_watchers'] == '0' or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(st['log_watchers'], '0')
        self.assertTrue(c2.call(b'version\r\n').startswith(b'VERSION '))

    def test_log_stats(self):
        c = self.conn()
        before = self.stats(c)
        w = Watcher(self, self.srv, 'fetchers')
        self.cmd(c, 'get w7:a\r\n', 'END\r\n')
        w.lines(1, match=r'key=w7')
        # memcached's logger thread adds its counts a moment later
        deadline = time.monotonic() + 3
        while True:
            after = self.stats(c)
            if (int(after['log_watcher_sent']) > int(before['log_watcher_sent'])
                    or time.monotonic() > deadline):
                break
            time.sleep(0.05)
        self.assertGreaterEqual(int(after['log_watchers']), 1)
        self.assertGreater(int(after['log_watcher_sent']),
                           int(before['log_watcher_sent']))
        self.assertGreater(int(after['log_worker_written']),
                           int(before['log_worker_written']))


class TestWatchServers(BBTest):
    """Tests that need a server of their own."""

    def test_disabled_by_W(self):
        s = self.start(['-W'])
        c = self.conn(s)
        self.cmd(c, 'watch\r\n', 'CLIENT_ERROR watch commands not allowed\r\n')
        self.cmd(c, 'watch fetchers\r\n',
                 'CLIENT_ERROR watch commands not allowed\r\n')
        self.cmd(c, 'get x\r\n', 'END\r\n')  # still a normal connection

    def test_evictions_under_memory_pressure(self):
        s = self.start(['-m', '2'])
        w = Watcher(self, s, 'evictions')
        c = self.conn(s)
        v = b'e' * 50000
        c.send(b'set ev:0 0 0 5\r\nhello\r\n')
        self.assertEqual(c.readline(), b'STORED\r\n')
        c.send(b''.join(b'set ev:%d 7 0 %d noreply\r\n%s\r\n' % (i, len(v), v)
                        for i in range(1, 120)))
        self.cmd(c, 'get ev:119\r\n',
                 b'VALUE ev:119 7 50000\r\n' + v + b'\r\nEND\r\n')
        evicted = int(self.stats(c)['evictions'])
        self.assertGreater(evicted, 0)
        got = w.lines(evicted, timeout=5)
        pat = re.compile(TS + r'type=eviction key=ev%%3A\d+ fetch=no ttl=-1 '
                         r'la=\d+ clsid=\d+ size=50000%s$'
                         % ('' if harness.REFERENCE else ''))
        for line in got:
            self.assertRegex(line, pat)
        # the first stored big items go first (LRU order)
        self.assertIn('key=ev%3A1 ', got[0])
        self.assertEqual(w.c.recv_some(0.2), b'')

    def test_slow_watcher_gets_skipped_line(self):
        s = self.start([])
        w = socket.socket()
        w.connect((harness.HOST, s.port))
        w.settimeout(5)
        w.sendall(b'watch fetchers\r\n')
        self.assertEqual(w.recv(4), b'OK\r\n')
        c = self.conn(s)
        # ~100k lines (~9 MB) while the watcher reads nothing
        for _ in range(20):
            c.send(b''.join(b'get sk%d\r\n' % i for i in range(5000)))
            n = 0
            while n < 5000:
                c.recv_until(b'END\r\n')
                n += 1 + c.buf.count(b'END\r\n')
                c.buf = c.buf.replace(b'END\r\n', b'')
        skipped = int(self.stats(c)['log_watcher_skipped'])
        self.assertGreater(skipped, 0)
        # read what the watcher holds while probing with one more lookup at
        # a time: once there is room, "skipped=<n>" comes before a probe
        data = b''
        w.settimeout(0.2)
        deadline = time.monotonic() + 15
        probe = 0
        while b'key=sk%3Alast' not in data:
            self.assertLess(time.monotonic(), deadline, 'no probe line came')
            try:
                d = w.recv(1 << 20)
                self.assertTrue(d, 'watcher closed')
                data += d
                continue
            except socket.timeout:
                pass
            probe += 1
            self.cmd(c, 'get sk:last%d\r\n' % probe, 'END\r\n')
        lines = data.decode().split('\n')
        skips = [l for l in lines if l.startswith('skipped=')]
        self.assertTrue(skips, 'no skipped= line')
        for l in skips:
            self.assertRegex(l, r'^skipped=\d+$')
        self.assertLessEqual(sum(int(l[8:]) for l in skips),
                             int(self.stats(c)['log_watcher_skipped']))
        w.close()

    @tiercache_only
    def test_spill_lines_with_a_flash_tier(self):
        d = tempfile.mkdtemp(prefix='bb-watch-')
        path = os.path.join(d, 'flash')
        s = self.start(['-m', '4', '-t', '2', '--flash-path', path,
                        '--flash-size', '64m', '--flash-segment-size', '1m',
                        '--flash-stall-ms', '2000'])
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        w = Watcher(self, s, 'evictions')
        c = self.conn(s)
        v = b's' * 20000
        c.send(b''.join(b'set sp:%d 0 0 %d noreply\r\n%s\r\n' % (i, len(v), v)
                        for i in range(600)))
        self.cmd(c, 'get sp:599\r\n',
                 b'VALUE sp:599 0 20000\r\n' + v + b'\r\nEND\r\n')
        got = w.lines(20, timeout=10)
        pat = re.compile(TS + r'type=eviction key=sp%3A\d+ fetch=(yes|no) '
                         r'ttl=-1 la=\d+ clsid=\d+ size=20000 '
                         r'spilled=(yes|no)$')
        for line in got:
            self.assertRegex(line, pat)
        self.assertTrue(any(l.endswith(' spilled=yes') for l in got), got[:3])
        # a spilled item is still served, and a watcher of fetchers sees
        # the lookups that went to flash, hit and miss, with their keys
        key = re.search(r'key=sp%3A(\d+) .*spilled=yes', '\n'.join(got))
        k = 'sp:' + key.group(1)
        f = Watcher(self, s, 'fetchers')
        # once the writer has put it on flash, the get reads the device:
        # the lines carry the keys, hit and miss
        deadline = time.monotonic() + 10
        while int(self.stats(c)['flash_items']) == 0:
            self.assertLess(time.monotonic(), deadline, 'nothing on flash')
            time.sleep(0.05)
        reads = int(self.stats(c)['flash_reads'])
        self.cmd(c, 'get %s sp:none\r\n' % k,
                 b'VALUE %s 0 20000\r\n%s\r\nEND\r\n' % (k.encode(), v))
        self.assertGreater(int(self.stats(c)['flash_reads']), reads)
        got = f.lines(2, match=r'key=sp%3A')
        self.assertRegex(got[0], item_get(k.replace(':', '%3A'), 'found',
                                          20000))
        self.assertRegex(got[1], item_get('sp%3Anone', 'not_found'))


class TestStatsDetail(BBTest):
    SERVER_ARGS = []

    def test_off_by_default_then_counts(self):
        c = self.conn()
        self.cmd(c, 'stats detail\r\n',
                 'CLIENT_ERROR usage: stats detail on|off|dump\r\n')
        self.cmd(c, 'stats detail bogus\r\n',
                 'CLIENT_ERROR usage: stats detail on|off|dump\r\n')
        self.cmd(c, 'stats detail dump\r\n', 'END\r\n')
        self.assertEqual(self.stats(c, 'settings')['detail_enabled'], 'no')
        self.cmd(c, 'set da:1 0 0 1\r\nx\r\n', 'STORED\r\n')
        self.cmd(c, 'stats detail dump\r\n', 'END\r\n')  # off: not counted
        self.cmd(c, 'stats detail on\r\n', 'OK\r\n')
        self.assertEqual(self.stats(c, 'settings')['detail_enabled'], 'yes')
        self.cmd(c, 'set a:1 0 0 1\r\nx\r\n', 'STORED\r\n')
        self.cmd(c, 'get a:1 a:2 b:1 nokey\r\n',
                 'VALUE a:1 0 1\r\nx\r\nEND\r\n')
        self.cmd(c, 'delete a:1\r\n', 'DELETED\r\n')
        self.cmd(c, 'delete a:9\r\n', 'NOT_FOUND\r\n')
        self.cmd(c, 'set c:x 0 0 1\r\ny\r\n', 'STORED\r\n')
        self.cmd(c, 'add c:x 0 0 1\r\ny\r\n', 'NOT_STORED\r\n')
        self.cmd(c, 'gat 10 c:x\r\n', 'VALUE c:x 0 1\r\ny\r\nEND\r\n')
        self.cmd(c, 'touch c:x 1\r\n', 'TOUCHED\r\n')
        # memcached's bucket order (MurmurHash3 of the prefix)
        self.cmd(c, 'stats detail dump\r\n',
                 'PREFIX b get 1 hit 0 set 0 del 0\r\n'
                 'PREFIX c get 1 hit 1 set 2 del 0\r\n'
                 'PREFIX a get 2 hit 1 set 1 del 2\r\n'
                 'END\r\n')
        self.cmd(c, 'stats detail off\r\n', 'OK\r\n')
        self.cmd(c, 'get a:1\r\n', 'END\r\n')
        self.cmd(c, 'stats detail dump\r\n',
                 'PREFIX b get 1 hit 0 set 0 del 0\r\n'
                 'PREFIX c get 1 hit 1 set 2 del 0\r\n'
                 'PREFIX a get 2 hit 1 set 1 del 2\r\n'
                 'END\r\n')
        self.cmd(c, 'stats reset\r\n', 'RESET\r\n')
        self.cmd(c, 'stats detail dump\r\n', 'END\r\n')

    def test_delimiter_flag(self):
        s = self.start(['-D', '.'])
        c = self.conn(s)
        self.assertEqual(self.stats(c, 'settings')['stat_key_prefix'], '.')
        self.cmd(c, 'stats detail on\r\n', 'OK\r\n')
        self.cmd(c, 'get a:1 x.1\r\n', 'END\r\n')
        self.cmd(c, 'stats detail dump\r\n',
                 'PREFIX x get 1 hit 0 set 0 del 0\r\nEND\r\n')


class TestStatsConns(BBTest):
    SERVER_ARGS = []

    def test_listener_and_connection_lines(self):
        a = self.conn()
        b = self.conn()
        b.send(b'set sc:1 0 0 10\r\nabc')  # b waits in the value read
        pb = b.sock.getsockname()[1]

        def snapshot():
            a.send(b'stats conns\r\n')
            raw = a.recv_until(b'END\r\n').decode()
            lines = raw.split('\r\n')
            self.assertEqual(lines[-2:], ['END', ''])
            by_fd, order = {}, []
            for line in lines[:-2]:
                m = re.match(r'^STAT (\d+):(addr|listen_addr|state|'
                             r'secs_since_last_cmd) (\S+)$', line)
                self.assertIsNotNone(m, line)
                fd = int(m.group(1))
                if fd not in by_fd:
                    order.append(fd)
                by_fd.setdefault(fd, []).append((m.group(2), m.group(3)))
            return by_fd, order
        # until the server has read b's partial value, and closed the
        # harness's start-up probe (a deadline, not a fixed sleep)
        deadline = time.monotonic() + 5
        while True:
            by_fd, order = snapshot()
            b_nread = any(('addr', 'tcp:127.0.0.1:%d' % pb) in kv and
                          ('state', 'conn_nread') in kv for kv in by_fd.values())
            if (b_nread and len(by_fd) == 3) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(order, sorted(order))  # fd order, as memcached
        lport = self.srv.port
        listeners = [fd for fd, kv in by_fd.items()
                     if ('state', 'conn_listening') in kv]
        self.assertEqual(len(listeners), 1)
        self.assertEqual([k for k, _ in by_fd[listeners[0]]],
                         ['addr', 'state', 'secs_since_last_cmd'])
        self.assertEqual(by_fd[listeners[0]][0][1],
                         'tcp:127.0.0.1:%d' % lport)
        conns = {fd: dict(kv) for fd, kv in by_fd.items()
                 if fd not in listeners}
        self.assertEqual(len(conns), 2)
        ports = {}
        for fd, kv in by_fd.items():
            if fd in listeners:
                continue
            self.assertEqual([k for k, _ in kv],
                             ['addr', 'listen_addr', 'state',
                              'secs_since_last_cmd'])
            d = dict(kv)
            self.assertEqual(d['listen_addr'], 'tcp:127.0.0.1:%d' % lport)
            self.assertRegex(d['secs_since_last_cmd'], r'^\d+$')
            ports[int(d['addr'].rsplit(':', 1)[1])] = d
        pa = a.sock.getsockname()[1]
        self.assertEqual(ports[pa]['addr'], 'tcp:127.0.0.1:%d' % pa)
        self.assertEqual(ports[pb]['state'], 'conn_nread')
        self.assertRegex(ports[pa]['state'], r'^conn_(parse_cmd|mwrite|write)$')

    def test_watcher_state(self):
        w = Watcher(self, self.srv, 'fetchers')
        wport = w.c.sock.getsockname()[1]
        a = self.conn()
        a.send(b'stats conns\r\n')
        raw = a.recv_until(b'END\r\n').decode()
        m = re.search(r'STAT (\d+):addr tcp:127\.0\.0\.1:%d\r\n' % wport, raw)
        self.assertIsNotNone(m)
        self.assertIn('STAT %s:state conn_watch\r\n' % m.group(1), raw)


if __name__ == '__main__':
    unittest.main()
