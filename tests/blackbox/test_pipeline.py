"""Pipelined gets that read flash (tiercache only; server/conn.h).

A connection parked on a get whose key is on flash goes on parsing while
the next request is another get/gets, so a pipeline's flash reads are
issued together; the replies still leave in request order, and any other
request waits until every earlier get has answered.

Small geometry: -m 4, a 64 MiB flash file, `--flash-promote never` (a read
from flash stays on flash), about 6x RAM loaded once for the class, so most
keys are on flash. Asserted, with exact reply bytes:
  - hundreds of single-key gets, gets, misses, multi-key gets and RAM hits
    in one send: every reply in order, and `flash_gets_pipelined` moves (it
    stays 0 when a connection parses nothing while parked);
  - more gets than the ring holds (CONN_PIPE_MAX) and more keys than the
    pipeline takes (CONN_PIPE_SLOTS): still in order;
  - a meta client's mg ... q pipeline ended by mn, with misses: only the
    hits, in order, then MN; the mg reads pipeline too;
  - a binary client's getkq pipeline ended by noop: the same;
  - a set, a delete, a meta get, gat and a get with a too-long key inside a
    pipeline: each answers in its place, and a get after a set sees the new
    value, a get before it the old one;
  - the client's end of stream right after a pipeline: every reply arrives
    before the server closes;
  - a client that closes in the middle of a pipeline: the server goes on
    (no crash, no leak under ASan) and answers others.
"""

import os
import random
import shutil
import socket
import struct
import tempfile
import unittest

import harness
from harness import BBTest, tiercache_only
from test_flash import Client, flash_support, make_file, value_for, MiB

RAM_MB = 4


def reply_for(key, value, cas=None):
    if value is None:
        return b''
    line = b'VALUE %s 0 %d' % (key, len(value))
    if cas is not None:
        line += b' %d' % cas
    return line + b'\r\n' + value + b'\r\n'


@tiercache_only
class Pipeline(BBTest):
    @classmethod
    def setUpClass(cls):
        why = flash_support()
        if why:
            raise unittest.SkipTest(why)
        super().setUpClass()
        cls.dir = tempfile.mkdtemp(prefix='bb-pipeline-')
        path = os.path.join(cls.dir, 'flash')
        make_file(path)
        cls.srv = harness.Server([
            '-m', str(RAM_MB), '-t', '2', '--flash-path', path,
            '--flash-size', '64m', '--flash-segment-size', '1m',
            '--flash-stall-ms', '2000', '--flash-promote', 'never'])
        cls.srv.start()
        rng = random.Random(7)
        items, total, i = [], 0, 0
        while total < 6 * RAM_MB * MiB:
            k = b'pk%d' % i
            v = value_for(rng, k, 1, 200, 3000)
            items.append((k, v))
            total += len(k) + len(v) + 50
            i += 1
        c = Client(cls.srv.port)
        bad = c.set_many(items)
        st = c.stats()
        c.close()
        assert bad == 0, '%d sets not STORED' % bad
        cls.values = dict(items)
        cls.keys = [k for k, _ in items]
        # the first third was evicted to flash long ago
        cls.cold = cls.keys[:len(cls.keys) // 3]
        cls.hot = cls.keys[-50:]
        assert int(st['flash_items']) > len(items) // 2, st['flash_items']

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.dir, ignore_errors=True)

    def present(self, c, key):
        """The value a get of `key` returns now (None: a miss; a flash
        index tag collision may drop a key, by design)."""
        c.send(b'get ' + key + b'\r\n')
        raw = c.recv_until(b'END\r\n')
        if raw == b'END\r\n':
            return None
        return self.values[key]

    def counters(self, c):
        st = self.stats(c)
        return int(st['flash_gets_pipelined']), int(st['get_extstore'])

    def test_gets_answer_in_order_and_pipeline(self):
        c = self.conn()
        rng = random.Random(1)
        reqs, want = [], []
        for i in range(400):
            kind = i % 5
            if kind == 0:      # a miss
                k = b'nokey%d' % i
                reqs.append(b'get %s\r\n' % k)
                want.append(b'END\r\n')
            elif kind == 1:    # several keys, flash and RAM
                ks = rng.sample(self.cold, 3) + [rng.choice(self.hot)]
                reqs.append(b'get %s\r\n' % b' '.join(ks))
                want.append(ks)
            elif kind == 2:    # a RAM hit
                k = rng.choice(self.hot)
                reqs.append(b'get %s\r\n' % k)
                want.append([k])
            else:              # one key on flash
                k = rng.choice(self.cold)
                reqs.append(b'get %s\r\n' % k)
                want.append([k])
        p0, r0 = self.counters(c)
        c.send(b''.join(reqs))
        for req, w in zip(reqs, want):
            got = c.recv_until(b'END\r\n', timeout=20)
            if w == b'END\r\n':
                self.assertEqual(got, w, req)
                continue
            # a key may be missing (dropped), never wrong or out of order
            expect_full = b''.join(reply_for(k, self.values[k]) for k in w)
            if got != expect_full + b'END\r\n':
                parts = [reply_for(k, self.values[k]) for k in w]
                pos = 0
                for part in parts:
                    if got.startswith(part, pos):
                        pos += len(part)
                self.assertEqual(got[pos:], b'END\r\n',
                                 'reply to %r: %r' % (req, got[:200]))
        self.nothing_more(c)
        p1, r1 = self.counters(c)
        self.assertGreater(r1 - r0, 200, 'the gets read flash')
        self.assertGreater(p1 - p0, 50,
                           'gets parsed while an earlier one read flash')

    def test_longer_than_the_ring_and_the_slots(self):
        c = self.conn()
        cold = [k for k in self.cold[:600] if self.present(c, k) is not None]
        # 300 single-key gets: more than CONN_PIPE_MAX parked at once
        reqs = [b'get %s\r\n' % k for k in cold[:300]]
        # then 80 gets of 60 keys: more keys than CONN_PIPE_SLOTS
        big = [cold[(i * 7) % len(cold):][:60] for i in range(80)]
        big = [ks if len(ks) == 60 else cold[:60] for ks in big]
        reqs += [b'gets %s\r\n' % b' '.join(ks) for ks in big]
        c.send(b''.join(reqs))
        for k in cold[:300]:
            self.assertEqual(c.recv_until(b'END\r\n', timeout=20),
                             reply_for(k, self.values[k]) + b'END\r\n')
        for ks in big:
            vals = []
            while True:
                line = c.readline(timeout=20)
                if line == b'END\r\n':
                    break
                f = line.rstrip(b'\r\n').split(b' ')
                self.assertEqual(f[0], b'VALUE', line[:80])
                self.assertEqual(len(f), 5, 'gets carries the cas')
                data = c.recv_exact(int(f[3]) + 2, timeout=20)
                vals.append((f[1], data[:-2]))
            self.assertEqual([k for k, _ in vals], ks)
            for k, v in vals:
                self.assertEqual(v, self.values[k])
        self.nothing_more(c)

    def test_other_requests_keep_their_place(self):
        c = self.conn()
        cold = [k for k in self.cold[600:900]
                if self.present(c, k) is not None][:6]
        a, b, d, e, f, g = cold
        va = self.values[a]
        newa = b'new value of a'
        long_key = b'x' * 251
        pipeline = (b'get ' + a + b'\r\n'
                    + b'set ' + a + b' 0 0 %d\r\n' % len(newa) + newa + b'\r\n'
                    + b'get ' + a + b'\r\n'
                    + b'get ' + b + b'\r\n'
                    + b'delete ' + b + b'\r\n'
                    + b'get ' + b + b'\r\n'
                    + b'get ' + d + b'\r\n'
                    + b'mg ' + e + b' v\r\n'
                    + b'get ' + f + b'\r\n'
                    + b'get ' + g + b' ' + long_key + b'\r\n'
                    + b'gat 0 ' + d + b'\r\n'
                    + b'get ' + d + b'\r\n')
        expect = (reply_for(a, va) + b'END\r\n'
                  + b'STORED\r\n'
                  + reply_for(a, newa) + b'END\r\n'
                  + reply_for(b, self.values[b]) + b'END\r\n'
                  + b'DELETED\r\n'
                  + b'END\r\n'
                  + reply_for(d, self.values[d]) + b'END\r\n'
                  + b'VA %d\r\n' % len(self.values[e]) + self.values[e]
                  + b'\r\n'
                  + reply_for(f, self.values[f]) + b'END\r\n'
                  + b'CLIENT_ERROR bad command line format\r\n'
                  + reply_for(d, self.values[d]) + b'END\r\n'
                  + reply_for(d, self.values[d]) + b'END\r\n')
        self.cmd(c, pipeline, expect)
        self.nothing_more(c)
        # put a and b back for the other tests
        self.cmd(c, b'set ' + a + b' 0 0 %d\r\n' % len(va) + va + b'\r\n',
                 b'STORED\r\n')
        vb = self.values[b]
        self.cmd(c, b'set ' + b + b' 0 0 %d\r\n' % len(vb) + vb + b'\r\n',
                 b'STORED\r\n')

    def test_meta_gets_pipeline(self):
        # a meta client's multi-get: mg ... q per key, then mn (as Dalli
        # 3 sends it); misses say nothing, hits in order, MN last. An mg
        # with N or T (a write) waits for the reads before it.
        c = self.conn()
        cold = [k for k in self.cold[1100:1400]
                if self.present(c, k) is not None][:150]
        reqs, want = [], []
        for i, k in enumerate(cold):
            if i % 10 == 3:
                miss = b'nomg%d' % i
                reqs.append(b'mg %s v q k\r\n' % miss)
                continue
            if i % 10 == 7:  # a RAM hit behind flash reads
                k = self.hot[i % len(self.hot)]
            reqs.append(b'mg %s v f q k\r\n' % k)
            v = self.values[k]
            want.append(b'VA %d f0 k%s\r\n%s\r\n' % (len(v), k, v))
        reqs.append(b'mn\r\n')
        want.append(b'MN\r\n')
        # then: an mg that vivifies (N: not a plain read), a read after it
        reqs.append(b'mg vivified%d v N30 q\r\n' % os.getpid())
        want.append(b'VA 0 W\r\n\r\n')
        reqs.append(b'mg %s s v\r\n' % cold[0])
        want.append(b'VA %d s%d\r\n%s\r\n' % (len(self.values[cold[0]]),
                                                len(self.values[cold[0]]),
                                                self.values[cold[0]]))
        p0, r0 = self.counters(c)
        self.cmd(c, b''.join(reqs), b''.join(want))
        self.nothing_more(c)
        p1, r1 = self.counters(c)
        self.assertGreater(r1 - r0, 50, 'the mg read flash')
        self.assertGreater(p1 - p0, 50, 'mg parsed while an earlier one read')

    def test_binary_quiet_gets_pipeline(self):
        # a binary client's multi-get: getkq per key, then noop (as
        # libmemcached's mget sends it): hits in order with their opaque
        # and key, misses silent, the noop last; a getk miss answers
        cold = [k for k in self.cold[1400:1700]][:200]
        s = socket.create_connection((harness.HOST, self.srv.port), timeout=20)
        self.addCleanup(s.close)

        def packet(opcode, key, opaque):
            return struct.pack('>BBHBBHIIQ', 0x80, opcode, len(key), 0, 0, 0,
                               len(key), opaque, 0) + key

        def read_exact(n):
            buf = b''
            while len(buf) < n:
                chunk = s.recv(n - len(buf))
                if not chunk:
                    raise AssertionError('closed')
                buf += chunk
            return buf

        def response():
            h = read_exact(24)
            (magic, opcode, keylen, extlen, _dt, status, bodylen, opaque,
             _cas) = struct.unpack('>BBHBBHIIQ', h)
            self.assertEqual(magic, 0x81)
            body = read_exact(bodylen)
            key = body[extlen:extlen + keylen]
            return opcode, status, opaque, key, body[extlen + keylen:]

        reqs = []
        for i, k in enumerate(cold):
            if i % 10 == 7:  # a RAM hit behind flash reads
                k = cold[i] = self.hot[i % len(self.hot)]
            reqs.append(packet(0x0d, k, i))            # getkq
            if i % 10 == 5:
                reqs.append(packet(0x0d, b'nobin%d' % i, 100000 + i))
        reqs.append(packet(0x0c, b'nobinary', 77))      # getk miss
        reqs.append(packet(0x0a, b'', 99999))           # noop
        c = self.conn()
        p0, r0 = self.counters(c)
        s.sendall(b''.join(reqs))
        got = []
        while True:
            r = response()
            got.append(r)
            if r[0] == 0x0a:
                break
        self.assertEqual(got[-1][1:3], (0, 99999))
        self.assertEqual(got[-2][:4], (0x0c, 1, 77, b'nobinary'))
        hits = got[:-2]
        # in order; a key may be missing (an index tag collision), never
        # wrong
        self.assertGreater(len(hits), len(cold) * 9 // 10)
        opaques = [h[2] for h in hits]
        self.assertEqual(opaques, sorted(opaques))
        for opcode, status, opaque, key, value in hits:
            self.assertEqual((opcode, status), (0x0d, 0))
            self.assertEqual(key, cold[opaque])
            self.assertEqual(value, self.values[key])
        p1, r1 = self.counters(c)
        self.assertGreater(r1 - r0, 50, 'the gets read flash')
        self.assertGreater(p1 - p0, 50, 'getkq parsed while one read flash')

    def test_end_of_stream_after_a_pipeline(self):
        c = self.conn()
        cold = [k for k in self.cold[900:1100]
                if self.present(c, k) is not None][:100]
        got = harness.send_then_end(
            self.srv.port, b''.join(b'get %s\r\n' % k for k in cold))
        want = b''.join(reply_for(k, self.values[k]) + b'END\r\n'
                        for k in cold)
        self.assertEqual(got, want)

    def test_client_gone_in_the_middle(self):
        for _ in range(20):
            s = socket.create_connection((harness.HOST, self.srv.port),
                                         timeout=20)
            s.sendall(b''.join(b'get %s\r\n' % k for k in self.cold[:200]))
            s.close()
        c = self.conn()
        k = self.hot[-1]
        self.cmd(c, b'get ' + k + b'\r\n',
                 reply_for(k, self.values[k]) + b'END\r\n')
        self.assertTrue(self.srv.alive())


if __name__ == '__main__':
    harness.main()
