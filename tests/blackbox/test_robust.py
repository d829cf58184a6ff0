"""Protocol robustness: pipelining, fragmentation, odd line endings,
over-long lines, slow readers, connection limits, garbage input."""

import os
import random
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BBTest, tiercache_only  # noqa: E402


class Robust(BBTest):
    SERVER_ARGS = []

    def test_pipelined(self):
        c = self.conn()
        req = ''.join('set pp%d 0 0 %d\r\n%s\r\n' % (i, len(str(i)), i)
                      for i in range(50))
        req += 'get ' + ' '.join('pp%d' % i for i in range(0, 50, 7)) + '\r\n'
        req += 'incr pp9 1\r\ndelete pp8\r\ndelete pp8\r\nversion\r\n'
        want = 'STORED\r\n' * 50
        want += ''.join('VALUE pp%d 0 %d\r\n%d\r\n' % (i, len(str(i)), i)
                        for i in range(0, 50, 7)) + 'END\r\n'
        want += '10\r\nDELETED\r\nNOT_FOUND\r\n'
        self.cmd(c, req, want)
        self.assertTrue(c.readline().startswith(b'VERSION '))

    def test_one_byte_at_a_time(self):
        c = self.conn()
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        req = (b'set obt 3 0 5\r\nab\r\nc\r\nget obt\r\nincr obt 1\r\n'
               b'set obn 0 0 2\r\n41\r\nincr obn 1\r\ngets nothere\r\n'
               b'delete obt\r\n')
        for i in range(len(req)):
            c.send(req[i:i + 1])
            time.sleep(0.002)
        want = (b'STORED\r\nVALUE obt 3 5\r\nab\r\nc\r\nEND\r\n'
                b'CLIENT_ERROR cannot increment or decrement non-numeric '
                b'value\r\nSTORED\r\n42\r\nEND\r\nDELETED\r\n')
        self.assertEqual(c.recv_exact(len(want)), want)

    def test_bare_newlines(self):
        c = self.conn()
        self.cmd(c, 'set bn 0 0 1\nx\r\nget bn\n',
                 'STORED\r\nVALUE bn 0 1\r\nx\r\nEND\r\n')
        # the data block itself must end in \r\n
        self.cmd(c, 'set bn 0 0 1\nx\nget bn\n',
                 'CLIENT_ERROR bad data chunk\r\nERROR\r\n')
        self.cmd(c, 'incr bnx 1\ndelete bnx\nversion\n',
                 'NOT_FOUND\r\nNOT_FOUND\r\nVERSION ')
        c.readline()

    def test_spaces(self):
        c = self.conn()
        self.cmd(c, 'set sp1 0 0 1  \r\nx\r\n', 'STORED\r\n')
        self.cmd(c, 'set  sp2  0  0  1\r\ny\r\n', 'STORED\r\n')
        self.cmd(c, 'get sp1 sp2 \r\n',
                 'VALUE sp1 0 1\r\nx\r\nVALUE sp2 0 1\r\ny\r\nEND\r\n')
        self.cmd(c, 'get  sp1\r\n', 'VALUE sp1 0 1\r\nx\r\nEND\r\n')
        self.cmd(c, 'get sp1\r\r\n', 'END\r\n')

    def test_long_complete_lines_are_answered(self):
        # a line of 2048 bytes or more whose newline arrives with it gets
        # memcached's reply, not a closed connection (issue 11 item 5)
        for line, reply in [
                (b'x' * 3000 + b'\r\n', b'ERROR\r\n'),
                (b'x' * 2048 + b'\n', b'ERROR\r\n'),
                (b'x' * 10000 + b'\r\n', b'ERROR\r\n'),
                (b'set lk 0 0 1 ' + b'a' * 3000 + b'\r\nx\r\n', b'STORED\r\n'),
                (b'mg ' + b'k' * 3000 + b' v\r\n',
                 b'CLIENT_ERROR bad command line format\r\n'),
                (b'delete ' + b'k' * 3000 + b'\r\n',
                 b'CLIENT_ERROR bad command line format\r\n'),
                (b'ms lk 2 ' + b'T1 ' * 1000 + b'\r\nxx\r\n',
                 b'CLIENT_ERROR options flags too long\r\nERROR\r\n'),
                (b'mn ' + b'a' * 3000 + b'\r\n', b'MN\r\n')]:
            c = self.conn()
            self.cmd(c, line, reply)
            self.cmd(c, b'mn\r\n', b'MN\r\n')

    def test_overlong_line_closes(self):
        c = self.conn()
        c.send(b'set ' + b'a' * 3000)
        self.assertTrue(c.is_closed(3.0),
                        'a 3000-byte line without newline must close')
        c = self.conn()
        c.send(b'set ' + b'a' * 1000)
        self.assertFalse(c.is_closed(0.3), 'a 1000-byte line is fine')
        c.send(b' 0 0 1\r\nx\r\n')
        self.assertEqual(c.readline(),
                         b'CLIENT_ERROR bad command line format\r\n')

    def test_huge_multiget_allowed(self):
        c = self.conn()
        self.cmd(c, 'set hmg 0 0 1\r\nx\r\n', 'STORED\r\n')
        keys = b' '.join(b'k%0100d' % i for i in range(3000))
        self.cmd(c, b'get ' + keys + b' hmg\r\n',
                 'VALUE hmg 0 1\r\nx\r\nEND\r\n')
        c.send(b'gets hmg ' + keys + b' hmg\r\n')
        self.assertRegex(c.readline(), rb'^VALUE hmg 0 1 \d+\r\n$')
        self.assertEqual(c.readline(), b'x\r\n')
        self.assertRegex(c.readline(), rb'^VALUE hmg 0 1 \d+\r\n$')
        self.assertEqual(c.recv_exact(8), b'x\r\nEND\r\n')
        # a partial get line stays open while more keys arrive slowly
        c.send(b'get ' + keys[:20000])
        self.assertFalse(c.is_closed(0.3))
        c.send(b' hmg\r\n')
        want = b'VALUE hmg 0 1\r\nx\r\nEND\r\n'
        self.assertEqual(c.recv_exact(len(want)), want)

    def test_garbage_fuzz(self):
        rnd = random.Random(20240611)
        words = [b'get', b'gets', b'set', b'add', b'cas', b'incr', b'decr',
                 b'touch', b'gat', b'gats', b'delete', b'append', b'stats',
                 b'verbosity', b'flush_all', b'version', b'mg', b'ms', b'md',
                 b'ma', b'mn', b'me', b'lru_crawler', b'slabs', b'watch',
                 b'lru', b'cache_memlimit', b'noreply', b'\x80', b'\x00']
        for i in range(200):
            c = self.conn(timeout=2)
            if i % 2 == 0:
                data = bytes(rnd.getrandbits(8)
                             for _ in range(rnd.randint(1, 400)))
            else:
                toks = []
                for _ in range(rnd.randint(1, 8)):
                    r = rnd.random()
                    if r < 0.4:
                        toks.append(rnd.choice(words))
                    elif r < 0.7:
                        toks.append(str(rnd.choice(
                            [0, 1, -1, 2**31, 2**32, 2**63, 2**64, 10**30,
                             rnd.randint(-99, 99999)])).encode())
                    else:
                        toks.append(bytes(rnd.choice(b'abcTkvq/\t\r\n:=')
                                          for _ in range(rnd.randint(1, 9))))
                data = b' '.join(toks) + rnd.choice([b'\r\n', b'\n', b''])
                if b'flush_all' in data:
                    data = data.replace(b'flush_all', b'flush_al')
            try:
                c.send(data)
                c.recv_some(0.005)
            except OSError:
                pass
            c.close()
        c = self.conn()
        self.cmd(c, 'version\r\n', 'VERSION ')
        c.readline()
        self.cmd(c, 'set fz 0 0 1\r\nx\r\nget fz\r\n',
                 'STORED\r\nVALUE fz 0 1\r\nx\r\nEND\r\n')


class ConnLimit(BBTest):
    def test_too_many_connections(self):
        srv = self.start(['-c', '40'])
        conns = []
        rejected = None
        for i in range(45):
            c = self.conn(srv)
            c.send('version\r\n')
            try:
                line = c.readline(timeout=2)
            except (socket.timeout, harness.Closed) as e:
                self.fail('connection %d: %s' % (i, e))
            conns.append(c)
            if not line.startswith(b'VERSION '):
                rejected = line
                self.assertTrue(c.is_closed(2.0), 'rejected conn stays open')
                break
        self.assertEqual(rejected, b'ERROR Too many open connections\r\n')
        self.assertLessEqual(len(conns) - 1, 40)   # conns has the rejected one
        for c in conns:
            c.close()
        # until the server has seen the closes, a new connection may be
        # rejected too (and counted): each retry allows one more
        deadline = time.monotonic() + 5
        retries = 0
        while True:
            try:
                c = self.conn(srv)
                st = self.stats(c)
                break
            except (socket.timeout, harness.Closed, OSError, ValueError):
                if time.monotonic() > deadline:
                    raise
                retries += 1
                time.sleep(0.1)
        self.assertGreaterEqual(int(st['rejected_connections']), 1)
        self.assertLessEqual(int(st['rejected_connections']), 1 + retries)
        self.assertEqual(st['max_connections'], '40')


class SlowReader(BBTest):
    def test_client_never_reads(self):
        srv = self.start(['-m', '64'])
        c = self.conn(srv)
        val = b'v' * (500 * 1024)
        self.cmd(c, b'set bigkey 0 0 %d\r\n' % len(val) + val + b'\r\n',
                 'STORED\r\n')
        base = srv.rss_kb()
        hog = self.conn(srv)
        hog.sock.setblocking(False)
        req = b'get bigkey\r\n' * 8192
        sent = 0
        stall_since = None
        deadline = time.monotonic() + 20
        while sent < 20 * 1024 * 1024 and time.monotonic() < deadline:
            try:
                sent += hog.sock.send(req)
                stall_since = None
            except (BlockingIOError, socket.timeout):
                if stall_since is None:
                    stall_since = time.monotonic()
                elif time.monotonic() - stall_since > 1.0:
                    break   # the server stopped reading from us: good
                time.sleep(0.01)
        time.sleep(0.3)
        grown = srv.rss_kb() - base
        self.assertLess(grown, 200 * 1024,
                        'RSS grew by %d KiB after %d bytes of gets'
                        % (grown, sent))
        other = self.conn(srv)
        self.cmd(other, 'set small 0 0 1\r\nx\r\nget small\r\n',
                 'STORED\r\nVALUE small 0 1\r\nx\r\nEND\r\n')
        hog.close()
        self.cmd(other, 'version\r\n', 'VERSION ')


if __name__ == '__main__':
    harness.main()
