"""slabs reassign / slabs automove: memcached 1.6.18's replies byte for byte,
the page-move counters, and (tiercache only) the automover giving pages to
a class that evicts, so its hit rate recovers."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BBTest, tiercache_only  # noqa: E402

NOSPARE = 'NOSPARE source class has no spare pages\r\n'
BADCLASS = 'BADCLASS invalid src or dst class id\r\n'
SAME = 'SAME src and dst class are identical\r\n'
BADFMT = 'CLIENT_ERROR bad command line format\r\n'

# (command, reply) on a fresh -m 2 server; '' = no reply (noreply)
REPLIES = [
    ('slabs reassign 1 2', NOSPARE),
    ('slabs reassign 0 2', NOSPARE),
    ('slabs reassign 2 0', NOSPARE),
    ('slabs reassign -1 2', BADCLASS),     # nothing to pick
    ('slabs reassign 1 1', SAME),
    ('slabs reassign 0 0', SAME),
    ('slabs reassign -1 -1', SAME),
    ('slabs reassign 100 2', BADCLASS),
    ('slabs reassign 1 100', BADCLASS),
    ('slabs reassign 39 2', NOSPARE),      # the largest class
    ('slabs reassign 40 2', BADCLASS),
    ('slabs reassign 2 40', BADCLASS),
    ('slabs reassign -2 1', BADCLASS),
    ('slabs reassign 1 -1', BADCLASS),
    ('slabs reassign +1 2', NOSPARE),
    ('slabs reassign 4294967297 2', NOSPARE),  # truncated to 32 bits: 1
    ('slabs reassign a b', BADFMT),
    ('slabs reassign 1 2x', BADFMT),
    ('slabs  reassign  1  2', NOSPARE),
    ('slabs reassign 1', 'ERROR\r\n'),
    ('slabs reassign', 'ERROR\r\n'),
    ('slabs reassign 1 2 3', 'ERROR\r\n'),
    ('slabs reassign 1 2 noreply', 'ERROR\r\n'),
    ('slabs', 'ERROR\r\n'),
    ('slabs foo', 'ERROR\r\n'),
    ('slabs automove', 'ERROR\r\n'),
    ('slabs automove 3', 'ERROR\r\n'),
    ('slabs automove -1', BADFMT),
    ('slabs automove x', BADFMT),
    ('slabs automove 1x', BADFMT),
    ('slabs automove 1 2', 'OK\r\n'),
    ('slabs automove 01', 'OK\r\n'),
    ('slabs automove +1', 'OK\r\n'),
    ('slabs automove 2', 'OK\r\n'),
    ('slabs automove ratio 0.8', 'OK\r\n'),
    ('slabs automove ratio', 'ERROR\r\n'),
    ('slabs automove ratio x', 'ERROR\r\n'),
    ('slabs automove 1 noreply', ''),
    ('slabs automove 7 noreply', ''),
    ('slabs automove x noreply', ''),
    ('slabs automove noreply', ''),
    ('slabs automove 0', 'OK\r\n'),
]


def sync(c):
    c.send(b'version\r\n')
    c.recv_until(b'\r\n', timeout=30)


def fill(c, prefix, n, size):
    val = b'x' * size
    batch = []
    for i in range(n):
        batch.append(b'set %s%d 0 0 %d noreply\r\n%s\r\n' %
                     (prefix.encode(), i, size, val))
        if len(batch) == 500:
            c.send(b''.join(batch))
            batch = []
    if batch:
        c.send(b''.join(batch))
    sync(c)


class SlabsTest(BBTest):
    def test_replies(self):
        srv = self.start(['-m', '2'])
        c = self.conn(srv)
        for cmd, want in REPLIES:
            if want:
                self.cmd(c, cmd + '\r\n', want)
            else:
                c.send((cmd + '\r\n').encode())
        self.nothing_more(c)
        st = self.stats(c, 'settings')
        self.assertEqual(st['slab_reassign'], 'yes')
        self.assertEqual(st['slab_automove'], '0')
        self.cmd(c, 'slabs automove 2\r\n', 'OK\r\n')
        self.assertEqual(self.stats(c, 'settings')['slab_automove'], '2')
        self.cmd(c, 'slabs automove 0\r\n', 'OK\r\n')
        self.assertEqual(self.stats(c, 'settings')['slab_automove_ratio'], '0.80')
        self.cmd(c, 'slabs automove ratio 0.5\r\n', 'OK\r\n')
        self.assertEqual(self.stats(c, 'settings')['slab_automove_ratio'], '0.50')

    def test_reassign_moves_a_page(self):
        srv = self.start(['-m', '2'])
        c = self.conn(srv)
        self.cmd(c, 'slabs automove 0\r\n', 'OK\r\n')
        fill(c, 'k', 40000, 10)        # class 1: 2 pages, evicting
        sl = self.stats(c, 'slabs')
        self.assertEqual(sl['1:total_pages'], '2')
        self.cmd(c, 'slabs reassign 1 2\r\n', 'OK\r\n')
        deadline = time.time() + 10    # memcached moves in the background
        while True:
            st = self.stats(c)
            if st['slabs_moved'] == '1' and st['slab_reassign_running'] == '0':
                break
            self.assertLess(time.time(), deadline, 'page never moved')
            time.sleep(0.05)
        self.assertEqual(st['slab_reassign_evictions_nomem'], '10922')
        self.assertEqual(st['slab_reassign_rescues'], '0')
        self.assertEqual(st['slab_global_page_pool'], '0')
        sl = self.stats(c, 'slabs')
        self.assertEqual(sl['1:total_pages'], '1')
        self.assertEqual(sl['2:total_pages'], '1')
        self.assertEqual(sl['total_malloced'], '2097152')
        self.cmd(c, 'slabs reassign 1 2\r\n', NOSPARE)
        self.cmd(c, 'slabs reassign -1 5\r\n', BADCLASS)
        # the class still works: the surviving page's items are intact
        self.cmd(c, 'get k39999\r\n', 'VALUE k39999 0 10\r\nxxxxxxxxxx\r\nEND\r\n')

    def test_disabled(self):
        srv = self.start(['-m', '2', '-o', 'no_slab_reassign'])
        c = self.conn(srv)
        self.cmd(c, 'slabs reassign 1 2\r\n',
                 'CLIENT_ERROR slab reassignment disabled\r\n')
        self.cmd(c, 'slabs reassign a b\r\n',
                 'CLIENT_ERROR slab reassignment disabled\r\n')
        st = self.stats(c, 'settings')
        self.assertEqual(st['slab_reassign'], 'no')
        self.assertEqual(st['slab_automove'], '1')
        self.cmd(c, 'slabs automove 2\r\n', 'OK\r\n')
        self.assertEqual(self.stats(c, 'settings')['slab_automove'], '2')

    @tiercache_only
    def test_automove_recovers_hit_rate(self):
        # memcached decides over a 30 s window; tiercache over 3 s
        srv = self.start(['-m', '4'])
        c = self.conn(srv, timeout=30)
        fill(c, 'a', 60000, 10)       # class 1 takes all 4 pages
        n = 2200                      # 2.5 pages of 1184-byte chunks
        val = b'x' * 1000

        def one_pass():
            fill(c, 'b', n, 1000)
            keys = [b'b%d' % i for i in range(n)]
            hits = 0
            for k in range(0, n, 100):
                chunk = keys[k:k + 100]
                c.send(b'get ' + b' '.join(chunk) + b'\r\n')
                raw = c.recv_until(b'END\r\n', timeout=30)
                got = raw.count(b'VALUE ')
                self.assertEqual(raw.count(b'\r\n' + val + b'\r\n'), got)
                hits += got
            return hits / n

        first = one_pass()
        self.assertLess(first, 0.7, 'one page holds 40% of the set')
        t0 = time.time()
        rate = first
        deadline = time.time() + 40
        while rate < 0.99 and time.time() < deadline:
            time.sleep(0.3)
            rate = one_pass()
        st = self.stats(c)
        sys.stderr.write('automove: hit rate %.2f -> %.2f in %.1f s, %s moves\n'
                         % (first, rate, time.time() - t0, st['slabs_moved']))
        self.assertGreaterEqual(rate, 0.99, 'hit rate stayed %.2f' % rate)
        self.assertGreaterEqual(int(st['slabs_moved']), 1)
        sl = self.stats(c, 'slabs')
        self.assertGreaterEqual(int(sl['12:total_pages']), 3)


    @tiercache_only
    def test_automove_off_moves_nothing(self):
        # the same starved class as above, with -o slab_automove=0: the
        # automover must stay off (it ran anyway without a flash tier once)
        srv = self.start(['-m', '4', '-o', 'slab_automove=0'])
        c = self.conn(srv, timeout=30)
        self.assertEqual(self.stats(c, 'settings')['slab_automove'], '0')
        fill(c, 'a', 60000, 10)
        deadline = time.time() + 5    # longer than the automover's 3 s window
        while time.time() < deadline:
            fill(c, 'b', 2200, 1000)
            time.sleep(0.3)
        self.assertEqual(self.stats(c)['slabs_moved'], '0')

if __name__ == '__main__':
    harness.main()
