"""UDP (-U): frame header, replies split into response objects and
datagrams, bad frames, and a short memcaslap -U run with verification.

Every expectation holds for memcached 1.6.18 (the 'reference' twin runs this
file against it). Reply shape in memcached 1.6: each *response object* is
its own message (sequence 0..n-1 of n datagrams, at most 1400 bytes each
with the 8-byte header); a get/gets/gat/gats makes one object per key with
END on the last; an empty object (a missed first key, quit) is a bare
header with n = 0 when it is the first of the batch.
"""

import os
import random
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time

import harness
from harness import BBTest, tiercache_only

HOST = harness.HOST
HDR = struct.Struct('>HHHH')
MAX_DGRAM = 1400
QUIET = 0.25   # seconds without a datagram that end a reply
WAIT = 5.0     # seconds a reply's datagram may take (an ASan server, a busy machine)


class UdpClient:
    def __init__(self, port):
        self.addr = (HOST, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.rid = 0x1234

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendto(data, self.addr)

    def send(self, payload, rid=None, seq=0, total=1, reserved=0):
        rid = self.rid if rid is None else rid
        self.send_raw(HDR.pack(rid, seq, total, reserved) + payload)

    def recv_all(self, quiet=QUIET, first_wait=WAIT, messages=None):
        """Every datagram until `quiet` seconds pass without one (the first
        may take up to first_wait). With `messages`, datagrams are awaited
        (WAIT each) until that many messages are complete, and only then
        does a quiet gap end the reply: a slow server's pause inside a
        reply does not cut it. Returns [(header tuple, payload)]."""
        out = []
        done = 0
        self.sock.settimeout(first_wait)
        while True:
            try:
                d = self.sock.recv(65536)
            except socket.timeout:
                return out
            head = HDR.unpack(d[:8])
            out.append((head, d[8:]))
            _, seq, total, _ = head
            if total == 0 or seq == total - 1:
                done += 1
            self.sock.settimeout(WAIT if messages is not None and done < messages
                                 else quiet)

    def call(self, payload, messages=None, **kw):
        self.send(payload, **kw)
        return self.recv_all(messages=messages)


def messages(dgrams):
    """Groups datagrams into messages: a message starts at sequence 0.
    Returns [(total, payload)] after checking the numbering."""
    msgs = []
    for (rid, seq, total, res), data in dgrams:
        if seq == 0:
            msgs.append([total, [data]])
        else:
            assert msgs and msgs[-1][0] == total and \
                len(msgs[-1][1]) == seq, 'datagram out of order'
            msgs[-1][1].append(data)
    return [(t, b''.join(parts)) for t, parts in msgs]


class UdpTest(BBTest):
    def setUp(self):
        super().setUp()
        self.s = self.start(['-t', '4'], udp=True)
        self.u = UdpClient(self.s.udp_port)
        self.addCleanup(self.u.close)
        self.t = self.conn(self.s)

    def tset(self, key, value, flags=0):
        self.cmd(self.t, b'set %s %d 0 %d\r\n%s\r\n' %
                 (key, flags, len(value), value), 'STORED\r\n')

    def expect(self, payload, want, rid=0x1234):
        """Sends one request datagram; `want` lists the messages expected
        (payload bytes, b'' = a bare header with 0 datagrams)."""
        got = self.u.call(payload, messages=len(want), rid=rid)
        for (r, seq, total, res), data in got:
            self.assertEqual(r, rid, 'request id echoed')
            self.assertEqual(res, 0, 'reserved is 0')
            self.assertLessEqual(8 + len(data), MAX_DGRAM)
        msgs = messages(got)
        self.assertEqual([m for _, m in msgs], want, 'reply to %r' %
                         payload[:80])
        for total, m in msgs:
            want_total = (len(m) + MAX_DGRAM - 9) // (MAX_DGRAM - 8)
            self.assertEqual(total, want_total, 'datagram count of %r' % m[:40])
        return got

    # -- basics ----------------------------------------------------------
    def test_port_file(self):
        # the sockets accept (the harness's "up") a moment before the
        # port file is written: wait for it, bounded
        deadline = time.monotonic() + 10
        while (not os.path.exists(self.s.port_file) and
               time.monotonic() < deadline):
            time.sleep(0.02)
        with open(self.s.port_file) as f:
            self.assertEqual(f.read(), 'TCP INET: %d\nUDP INET: %d\n' %
                             (self.s.port, self.s.udp_port))

    def test_set_get_over_udp(self):
        self.expect(b'set a 5 0 3\r\nabc\r\n', [b'STORED\r\n'])
        self.expect(b'get a\r\n', [b'VALUE a 5 3\r\nabc\r\nEND\r\n'],
                    rid=0xabcd)
        self.expect(b'get nokey\r\n', [b'END\r\n'], rid=0)
        self.expect(b'delete a\r\n', [b'DELETED\r\n'], rid=0xffff)
        self.expect(b'incr a 1\r\n', [b'NOT_FOUND\r\n'])
        self.expect(b'bogus\r\n', [b'ERROR\r\n'])
        # the value is visible over TCP too
        self.expect(b'set b 0 0 2\r\nxy\r\n', [b'STORED\r\n'])
        self.cmd(self.t, 'get b\r\n', 'VALUE b 0 2\r\nxy\r\nEND\r\n')

    def test_header_fields_ignored(self):
        """Sequence and reserved of a request are not looked at; the reply
        starts at sequence 0 with reserved 0."""
        self.tset(b'a', b'x')
        got = self.u.call(b'get a\r\n', rid=9, seq=3, reserved=7)
        self.assertEqual(got, [((9, 0, 1, 0), b'VALUE a 0 1\r\nx\r\nEND\r\n')])

    def test_multi_get_objects(self):
        self.tset(b'a', b'x')
        va = b'VALUE a 0 1\r\nx\r\n'
        self.expect(b'get a a a\r\n', [va, va, va + b'END\r\n'])
        self.expect(b'get a nokey\r\n', [va, b'END\r\n'])
        self.expect(b'get nokey a\r\n', [b'', va + b'END\r\n'])
        self.expect(b'get n1 n2 a n3\r\n', [b'', va, b'END\r\n'])
        self.expect(b'get n1 n2\r\n', [b'', b'END\r\n'])
        self.expect(b'get a n1 a\r\n', [va, va + b'END\r\n'])
        self.expect(b'gat 0 n1 a\r\n', [b'', va + b'END\r\n'])

    def test_gets(self):
        self.tset(b'a', b'x')
        self.t.send(b'gets a\r\n')
        line = self.t.readline()
        self.t.recv_until(b'END\r\n')
        cas = line.split()[4]
        v = b'VALUE a 0 1 ' + cas + b'\r\nx\r\n'
        self.expect(b'gets a a\r\n', [v, v + b'END\r\n'])

    @tiercache_only
    def test_several_requests_in_a_datagram(self):
        """memcached 1.6.18 is erratic here (after a get it often drops the
        replies of the requests that follow in the datagram, depending on
        which thread's UDP connection got it); we serve every request."""
        self.tset(b'a', b'x')
        va = b'VALUE a 0 1\r\nx\r\nEND\r\n'
        self.expect(b'get a\r\nget a\r\n', [va, va])
        # noreply: no object at all; then a missed first key is the first
        # object of the batch: a bare header
        self.expect(b'set c 0 0 1 noreply\r\nz\r\nget nokey c\r\n',
                    [b'', b'VALUE c 0 1\r\nz\r\nEND\r\n'])
        # a missed first key after another reply: no bare header
        self.expect(b'delete nokey\r\nget nokey a\r\n',
                    [b'NOT_FOUND\r\n', va])
        self.expect(b'get a\r\n\r\n', [va, b'ERROR\r\n'])

    def test_quit(self):
        self.tset(b'a', b'x')
        got = self.u.call(b'quit\r\n', messages=1, rid=77)
        self.assertEqual(got, [((77, 0, 0, 0), b'')])
        # the next datagram is served
        self.expect(b'get a\r\n', [b'VALUE a 0 1\r\nx\r\nEND\r\n'])

    @tiercache_only
    def test_quit_ends_the_datagram(self):
        self.tset(b'a', b'x')
        va = b'VALUE a 0 1\r\nx\r\nEND\r\n'
        self.expect(b'version\r\nquit\r\nget a\r\n',
                    [b'VERSION 1.6.18-tiercache-0.1.0\r\n'])
        self.expect(b'get a\r\nquit\r\nget a\r\n', [va])
        self.expect(b'get a\r\n', [va])

    # -- replies over many datagrams ----------------------------------
    def test_large_value(self):
        value = bytes((ord('a') + i % 26) for i in range(5000))
        self.tset(b'big', value)
        whole = b'VALUE big 0 5000\r\n' + value + b'\r\n'
        got = self.expect(b'get big\r\n', [whole + b'END\r\n'])
        self.assertEqual([len(d) + 8 for _, d in got], [1400, 1400, 1400, 857])
        self.assertEqual([h for h, _ in got],
                         [(0x1234, i, 4, 0) for i in range(4)])
        self.tset(b'a', b'x')
        got = self.expect(b'get big a big\r\n',
                          [whole, b'VALUE a 0 1\r\nx\r\n',
                           whole + b'END\r\n'])
        self.assertEqual(len(got), 9)

    def test_large_value_reassembled_out_of_order(self):
        """A 200000-byte value: 144 datagrams; reassembled by sequence."""
        value = os.urandom(100000).hex().encode()
        self.tset(b'huge', value)
        self.u.send(b'get huge\r\n', rid=5)
        got = self.u.recv_all(messages=1)
        self.assertEqual(len(got), 144)
        parts = {}
        for (rid, seq, total, res), data in reversed(got):
            self.assertEqual((rid, total, res), (5, 144, 0))
            parts[seq] = data
        self.assertEqual(sorted(parts), list(range(144)))
        body = b''.join(parts[i] for i in range(144))
        self.assertEqual(body, b'VALUE huge 0 200000\r\n' + value +
                         b'\r\nEND\r\n')

    def test_large_request(self):
        """A request may be large as long as it is one datagram."""
        value = b'q' * 10000
        self.expect(b'set d 0 0 10000\r\n' + value + b'\r\n', [b'STORED\r\n'])
        self.cmd(self.t, 'get d\r\n',
                 b'VALUE d 0 10000\r\n' + value + b'\r\nEND\r\n')

    def test_stats_reply_split(self):
        got = self.u.call(b'stats settings\r\n', messages=1)
        msgs = messages(got)
        self.assertEqual(len(msgs), 1)
        self.assertGreater(msgs[0][0], 1)
        self.assertTrue(msgs[0][1].startswith(b'STAT maxbytes '))
        self.assertTrue(msgs[0][1].endswith(b'END\r\n'))
        self.assertIn(b'STAT udpport %d\r\n' % self.s.udp_port, msgs[0][1])

    # -- bad frames -------------------------------------------------------
    def test_bad_frames_dropped(self):
        self.tset(b'a', b'x')
        va = b'VALUE a 0 1\r\nx\r\nEND\r\n'
        for raw in (b'\0\1\0\0\0\1\0',            # short header
                    b'\0\1\0\0\0\1\0\0',          # header only
                    b'\0\1\0\0\0\1\0\0g',         # 1 byte, no line
                    b'\0\1\0\0\0\2\0\0get a\r\n',  # 2 datagrams
                    b'\0\1\0\1\0\2\0\0get a\r\n',  # second of 2
                    b'\0\1\0\0\0\0\0\0get a\r\n',  # 0 datagrams
                    b'\0\1\0\0\1\1\0\0get a\r\n'):  # 257 datagrams
            self.u.send_raw(raw)
            self.assertEqual(self.u.recv_all(first_wait=QUIET), [],
                             'reply to %r' % raw)
        self.expect(b'get a\r\n', [va])

    def test_partial_line_dropped(self):
        self.tset(b'a', b'x')
        self.u.send(b'get a')
        self.assertEqual(self.u.recv_all(first_wait=QUIET), [])
        self.expect(b'get a\r\n', [b'VALUE a 0 1\r\nx\r\nEND\r\n'])

    @tiercache_only
    def test_partial_value_dropped(self):
        """memcached keeps a half-read value in the receiving thread's UDP
        connection and reads the next datagram into it (erratic); we drop
        the request."""
        self.u.send(b'set b 0 0 5\r\nab')
        self.assertEqual(self.u.recv_all(first_wait=QUIET), [])
        self.expect(b'get b\r\n', [b'END\r\n'])
        self.expect(b'set q 0 0 2000000\r\n', [
            b'SERVER_ERROR object too large for cache\r\n'])
        self.expect(b'get b\r\n', [b'END\r\n'])

    def test_stats_counts_udp(self):
        """memcached counts one connection per worker thread per UDP
        socket, and the datagram bytes (header included)."""
        # the start-up probe connection may still be closing: wait for it
        deadline = time.monotonic() + 5
        while True:
            st = self.stats(self.t)
            if st['curr_connections'] == '5' or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(st['curr_connections'], '5')
        before = int(st['bytes_read'])
        self.u.call(b'get nokey\r\n')
        st = self.stats(self.t)
        self.assertEqual(int(st['bytes_read']) - before,
                         19 + len(b'stats\r\n'))

    # -- other protocols over UDP, once the server speaks them --------
    def test_binary_noop(self):
        self.t.send(b'\x80\x0a' + b'\0' * 22)
        first = self.t.recv_some(0.5)
        if not first.startswith(b'\x81'):
            self.skipTest('no binary protocol over TCP yet')
        got = self.u.call(b'\x80\x0a' + b'\0' * 22)
        self.assertEqual(got, [((0x1234, 0, 1, 0), b'\x81\x0a' + b'\0' * 22)])

    def test_meta_noop(self):
        self.t.send(b'mn\r\n')
        if self.t.recv_some(0.5) != b'MN\r\n':
            self.skipTest('no meta protocol over TCP yet')
        self.expect(b'mn\r\n', [b'MN\r\n'])


@tiercache_only
class UdpFlashTest(BBTest):
    def test_gets_of_flash_items_park(self):
        """Items pushed out to flash: a UDP get parks like a TCP one and
        replies in key order (reassembled replies equal the TCP ones)."""
        import test_flash
        why = test_flash.flash_support()
        if why:
            self.skipTest(why)
        d = tempfile.mkdtemp(prefix='bb-udp-flash-')
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, 'flash')
        test_flash.make_file(path)
        s = self.start(test_flash.base_args(path), udp=True)
        c = test_flash.Client(s.port)
        self.addCleanup(c.close)
        rng = random.Random(7)
        items = [(b'f%d' % i, test_flash.value_for(rng, b'f%d' % i, 1, 500,
                                                    3000))
                 for i in range(12000)]   # ~21 MiB: most go to flash
        self.assertEqual(c.set_many(items), 0)
        before = int(c.stats()['flash_reads'])
        u = UdpClient(s.udp_port)
        self.addCleanup(u.close)
        t = self.conn(s)
        hits = 0
        for n, i in enumerate(range(0, 400, 8)):
            keys = [items[j][0] for j in range(i, i + 4)] + [b'nokey']
            u.send(b'get ' + b' '.join(keys) + b'\r\n', rid=n)
            got = u.recv_all()
            self.assertTrue(all(h[0] == n for h, _ in got))
            body = b''.join(m for _, m in messages(got))
            t.send(b'get ' + b' '.join(keys) + b'\r\n')
            want = t.recv_until(b'END\r\n')   # the keys, no END inside
            self.assertEqual(body, want)
            hits += body.count(b'VALUE ')
        self.assertGreater(hits, 150)
        self.assertGreater(int(c.stats()['flash_reads']), before)


class UdpConfigTest(BBTest):
    def test_udp_off_by_default(self):
        s = self.start(['-t', '2'])
        with open(s.port_file) as f:
            self.assertNotIn('UDP', f.read())
        c = self.conn(s)
        st = self.stats(c, 'settings')
        self.assertEqual(st['udpport'], '0')

    def test_memcaslap_udp_verify(self):
        """memcaslap -U (sets and gets over UDP) verifies every value
        it reads back: zero verify failures."""
        if not os.path.exists('/usr/bin/memcaslap'):
            self.skipTest('memcaslap is not installed')
        s = self.start(['-t', '2'], udp=True)
        cmd = ['/usr/bin/memcaslap', '-s', '%s:%d' % (HOST, s.udp_port), '-U',
               '-t', '3s', '-v', '1.0', '-T', '1', '-c', '8']
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        out = p.stdout.decode('utf-8', 'replace')
        self.assertEqual(p.returncode, 0, out)

        def field(name):
            m = re.search(r'^%s: (\d+)$' % name, out, re.M)
            self.assertIsNotNone(m, 'no %s in:\n%s' % (name, out))
            return int(m.group(1))
        self.assertGreater(field('cmd_get'), 1000, out)
        self.assertEqual(field('verify_failed'), 0, out)
        self.assertEqual(field('udp_timeout'), 0, out)


if __name__ == '__main__':
    harness.main()
