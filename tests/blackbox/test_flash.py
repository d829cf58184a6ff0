"""The flash tier, end to end (tiercache only).

A small geometry (-m 4, a 64 MiB flash file, 1 MiB segments) so that a few
tens of MiB push most items out of RAM onto flash:
  - bulk loads of 100 B - 8 KiB and of 20 - 200 B values (8x RAM), every key
    read back: a miss is allowed (a dropped eviction), a wrong value never;
  - overwrites and deletes of a share: no old value comes back;
  - every text command on flash-resident items, with exact replies;
  - writes until reclaim has wrapped the segment ring twice, then again;
  - corruption of the flash file under the running server: misses, never a
    wrong value, and the checksum failure counter moves;
  - bad flags and a file holding foreign data refuse to start;
  - ownership: a second server on the same path, foreign data deep in a
    file and a damaged superblock are refused; a failed start leaves no
    file it created.

Skips (with a message) while the server has no flash support: --flash-path
unknown, or no flash_* figures in `stats`. Bulk loads are pipelined. The
whole file is bounded (about a minute; the sanitizer build is slower).
"""

import os
import hashlib
import json
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import harness
from harness import BBTest, tiercache_only

MiB = 1024 * 1024
RAM_MB = 4
FLASH_BYTES = 64 * MiB
SEGMENT = '1m'
DEADLINE = 200.0  # seconds for the whole file (meson allows 240; ASan runs took
                  # 33-47 s, once 83 s); long phases check it


def base_args(path, *extra):
    return ['-m', str(RAM_MB), '-t', '2', '--flash-path', path,
            '--flash-size', '64m', '--flash-segment-size', SEGMENT,
            '--flash-stall-ms', '2000'] + list(extra)


def block_bytes(path):
    """{codec: (blocks, raw bytes, stored bytes)} of a flash file's blocks,
    read by tiercache-inspect (built next to the server)."""
    inspect = os.path.join(os.path.dirname(os.path.abspath(harness.BIN)),
                           '..', 'tools', 'tiercache-inspect')
    p = subprocess.run([inspect, path, '--json', '--verbose'],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    assert p.returncode == 0, p.stderr.decode('utf-8', 'replace')[-2000:]
    out = {}

    def walk(node):
        if isinstance(node, dict):
            if 'codec' in node and 'raw_len' in node:
                n, raw, stored = out.get(node['codec'], (0, 0, 0))
                out[node['codec']] = (n + 1, raw + node['raw_len'],
                                      stored + node['stored_len'])
                return
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(json.loads(p.stdout))
    return out


def make_file(path, size=FLASH_BYTES, fill=None):
    with open(path, 'wb') as f:
        if fill is None:
            f.truncate(size)
        else:
            chunk = (fill * (MiB // len(fill) + 1))[:MiB]
            for _ in range(size // MiB):
                f.write(chunk)


def run_bad(args, timeout=20):
    """Runs the server expecting it to refuse to start; returns
    (exit code, stderr)."""
    p = subprocess.run([harness.BIN, '-p', '0', '-l', harness.HOST] + args,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stderr.decode('utf-8', 'replace')


_support = None


def flash_support():
    """None if the server has a flash tier, else why not (a skip reason)."""
    global _support
    if _support is not None:
        return _support or None
    if harness.REFERENCE:
        _support = 'tiercache-only behaviour'
        return _support
    p = subprocess.run([harness.BIN, '--flash-path', '/nonexistent', '-V'],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=20)
    if p.returncode != 0:
        _support = ('the server has no --flash-path yet: %s'
                    % p.stderr.decode('utf-8', 'replace').strip()[:200])
        return _support
    d = tempfile.mkdtemp(prefix='bb-flash-probe-')
    path = os.path.join(d, 'flash')
    make_file(path)
    s = harness.Server(base_args(path))
    try:
        s.start()
    except harness.ServerError as e:
        _support = 'the server does not start with a flash file: %s' % e
        s.stop(quiet=True)
        shutil.rmtree(d, ignore_errors=True)
        return _support
    try:
        c = Client(s.port)
        st = c.stats()
        c.close()
    finally:
        s.stop(quiet=True)
        shutil.rmtree(d, ignore_errors=True)
    if 'flash_items' not in st:
        _support = 'the tier has no flash support yet (no flash_* in stats)'
        return _support
    _support = ''
    return None


class Client:
    """A fast pipelining client: bulk sets and multi-gets over one socket."""

    def __init__(self, port, timeout=30.0):
        self.sock = socket.create_connection((harness.HOST, port),
                                             timeout=timeout)
        self.buf = bytearray()
        self.pos = 0

    def close(self):
        self.sock.close()

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise harness.Closed('connection closed')
        if self.pos > (4 << 20):
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += chunk

    def line(self):
        while True:
            i = self.buf.find(b'\r\n', self.pos)
            if i >= 0:
                out = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return out
            self._fill()

    def exact(self, n):
        while len(self.buf) - self.pos < n:
            self._fill()
        out = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return out

    def call(self, data, lines=1):
        self.sock.sendall(data)
        return [self.line() for _ in range(lines)]

    def stats(self):
        self.sock.sendall(b'stats\r\n')
        out = {}
        while True:
            ln = self.line()
            if ln == b'END':
                return out
            p = ln.decode().split(' ', 2)
            out[p[1]] = p[2]

    def set_many(self, items, batch=512):
        """items: list of (key bytes, value bytes). Pipelined; every reply
        must be STORED (returns the count of other replies; the first few
        of them are kept in self.bad_replies)."""
        bad = 0
        self.bad_replies = []
        for i in range(0, len(items), batch):
            part = items[i:i + batch]
            self.sock.sendall(b''.join(
                b'set %s 0 0 %d\r\n%s\r\n' % (k, len(v), v) for k, v in part))
            want = b'STORED\r\n' * len(part)
            got = self.exact(len(want))
            if got != want:
                # re-sync on lines: count the replies that were not STORED
                self.pos -= len(want)
                for k, _ in part:
                    line = self.line()
                    if line != b'STORED':
                        bad += 1
                        if len(self.bad_replies) < 5:
                            self.bad_replies.append((k, line))
        return bad

    def get_many(self, keys, per_get=64, gets_per_send=64, cas=False):
        """Multi-gets `keys`; returns {key: value} (and cas if asked)."""
        out = {}
        cmd = b'gets ' if cas else b'get '
        step = per_get * gets_per_send
        for i in range(0, len(keys), step):
            part = keys[i:i + step]
            reqs = [part[j:j + per_get] for j in range(0, len(part), per_get)]
            self.sock.sendall(b''.join(cmd + b' '.join(r) + b'\r\n'
                                       for r in reqs))
            for r in reqs:
                seen = []
                while True:
                    ln = self.line()
                    if ln == b'END':
                        break
                    f = ln.split(b' ')
                    assert f[0] == b'VALUE', ln
                    data = self.exact(int(f[3]) + 2)
                    assert data[-2:] == b'\r\n', data[-10:]
                    out[f[1]] = (data[:-2], int(f[4])) if cas else data[:-2]
                    seen.append(f[1])
                # VALUE lines in key order, requested keys only
                it = iter(r)
                assert all(any(k == x for x in it) for k in seen), \
                    'VALUE lines out of order: %r' % seen[:10]
        return out


def value_for(rng, key, ver, lo, hi):
    n = rng.randint(lo, hi)
    head = b'%s/%d/' % (key, ver)
    body = rng.randbytes(n // 2) + bytes([65 + n % 26]) * n
    return (head + body)[:n] if n >= len(head) else head[:n]


class FlashDirTest(BBTest):
    """A test with a temporary directory of its own and a flash path in
    it (self.dir, self.path); skipped without flash support."""
    dir_prefix = 'bb-flash-'

    def setUp(self):
        super().setUp()
        why = flash_support()
        if why:
            raise unittest.SkipTest(why)
        self.dir = tempfile.mkdtemp(prefix=self.dir_prefix)
        self.path = os.path.join(self.dir, 'flash')

    def tearDown(self):
        super().tearDown()
        shutil.rmtree(self.dir, ignore_errors=True)


@tiercache_only
class Flash(FlashDirTest):
    started = None

    @classmethod
    def setUpClass(cls):
        why = flash_support()
        if why:
            raise unittest.SkipTest(why)
        super().setUpClass()
        Flash.started = Flash.started or time.monotonic()

    def time_left(self):
        return DEADLINE - (time.monotonic() - Flash.started)

    def server(self, *extra, path=None):
        path = path or self.path
        if not os.path.exists(path):
            make_file(path)
        srv = self.start(base_args(path, *extra))
        c = Client(srv.port)
        self.addCleanup(c.close)
        return srv, c

    def check_all(self, c, expect, gone=(), what=''):
        """Every key in expect reads back right or misses; keys in gone
        miss. Returns the hit count."""
        keys = list(expect) + list(gone)
        got = c.get_many(keys)
        wrong = [k for k in expect if k in got and got[k] != expect[k]]
        back = [k for k in gone if k in got]
        self.assertEqual(wrong[:5], [], '%s: wrong values' % what)
        self.assertEqual(back[:5], [], '%s: deleted keys came back' % what)
        return sum(1 for k in expect if k in got)

    # -- bulk loads -------------------------------------------------------
    def bulk(self, c, lo, hi, prefix, ram_factor=8):
        rng = random.Random(lo * 7919 + hi)
        items, total, i = [], 0, 0
        while total < ram_factor * RAM_MB * MiB:
            k = b'%s%d' % (prefix, i)
            v = value_for(rng, k, 1, lo, hi)
            items.append((k, v))
            total += len(k) + len(v) + 50   # about an item's RAM size
            i += 1
        self.assertEqual(c.set_many(items), 0, c.bad_replies)
        return dict(items), rng

    def overwrite_delete(self, c, expect, rng, lo, hi):
        keys = list(expect)
        rng.shuffle(keys)
        share = len(keys) // 10
        over, dele = keys[:share], keys[share:2 * share]
        new = [(k, value_for(rng, k, 2, lo, hi)) for k in over]
        self.assertEqual(c.set_many(new), 0, c.bad_replies)
        expect.update(new)
        for i in range(0, len(dele), 512):
            part = dele[i:i + 512]
            c.sock.sendall(b''.join(b'delete %s noreply\r\n' % k
                                    for k in part))
        for k in dele:
            del expect[k]
        # an old value must not come back: the new one or a miss
        return dele

    def test_bulk_large_wrap_and_faults(self):
        srv, c = self.server()
        expect, rng = self.bulk(c, 100, 8192, b'L')
        st = c.stats()
        self.assertGreater(int(st['flash_items_written']), 0, st)
        hits = self.check_all(c, expect, what='large values')
        self.assertGreater(hits, len(expect) // 2,
                           'most keys should survive on flash')
        gone = self.overwrite_delete(c, expect, rng, 100, 8192)
        self.check_all(c, expect, gone, 'after overwrite/delete')

        # write until reclaim has wrapped the ring twice (checking the last
        # batches written and every key loaded before)
        st = c.stats()
        nseg = int(st['flash_segments_free']) + int(st['flash_segments_used'])
        start = int(st['flash_reclaims'])
        i = 0
        while int(st['flash_reclaims']) - start < 2 * nseg:
            self.assertGreater(self.time_left(), 25,
                               'reclaim did not wrap the ring twice in time '
                               '(%s reclaims of %d segments)'
                               % (int(st['flash_reclaims']) - start, nseg))
            batch = []
            for _ in range(1024):
                k = b'W%d' % i
                v = rng.randbytes(rng.randint(2048, 8192))
                batch.append((k, v))
                i += 1
            self.assertEqual(c.set_many(batch), 0, c.bad_replies)
            expect.update(batch[::16])
            st = c.stats()
        self.check_all(c, expect, gone, 'after the ring wrapped twice')
        # most W keys were never read: reclaim dropped them, and says so
        # (memcached's name for it too)
        st = c.stats()
        self.assertGreater(int(st['flash_reclaim_drops']), i // 4, st)
        self.assertEqual(st['extstore_objects_evicted'],
                         st['flash_reclaim_drops'])

        # corruption under the running server: misses, never wrong values
        before = c.stats()
        self.corrupt(self.path)
        self.check_all(c, expect, gone, 'after corruption')
        after = c.stats()
        moved = sum(int(after[n]) - int(before[n])
                    for n in ('flash_checksum_failures', 'flash_read_errors'))
        self.assertGreater(moved, 0, 'corrupted blocks went unnoticed')
        self.assertEqual(after['badcrc_from_extstore'],
                         after['flash_checksum_failures'])

    def corrupt(self, path):
        """Overwrites every other 64 KiB of the data area with junk."""
        with open(path, 'r+b') as f:
            sb = f.read(40)
            off = 1 * MiB
            if sb.startswith(b'TIERCACHE-FLASH'):
                off = max(8192, struct.unpack_from('<Q', sb, 32)[0])
            junk = bytes(random.Random(5).randbytes(64 * 1024))
            size = os.path.getsize(path)
            pos = off
            while pos + len(junk) <= size:
                f.seek(pos)
                f.write(junk)
                pos += 2 * len(junk)
            f.flush()
            os.fsync(f.fileno())

    def json_values(self, rng, n):
        """JSON-like documents: long shared field names, varying numbers
        and strings (what a dictionary learns)."""
        words = [b'alpha', b'beta', b'gamma', b'delta', b'omega', b'sigma']
        out = []
        for i in range(n):
            fields = [b'"customer_identifier":%d' % rng.randrange(10 ** 9),
                      b'"display_name":"%s-%d"' % (rng.choice(words), rng.randrange(999)),
                      b'"account_is_active":%s' % rng.choice([b'true', b'false']),
                      b'"last_login_timestamp":"2026-11-%02dT%02d:%02d:00Z"' % (
                          rng.randint(1, 28), rng.randrange(24), rng.randrange(60)),
                      b'"preferred_language":"%s"' % rng.choice([b'en', b'de', b'fr']),
                      b'"reputation_score":%d.%02d' % (rng.randrange(100), rng.randrange(100))]
            rng.shuffle(fields)
            tags = b','.join(b'{"tag_name":"%s","weight":%d}' % (
                rng.choice(words), rng.randrange(10)) for _ in range(rng.randint(1, 30)))
            out.append(b'{%s,"tags":[%s]}' % (b','.join(fields), tags))
        return out

    def load_json(self, c, prefix, seed):
        rng = random.Random(seed)
        items, total, i = [], 0, 0
        while total < 8 * RAM_MB * MiB:
            batch = self.json_values(rng, 512)
            for v in batch:
                items.append((b'%s%d' % (prefix, i), v))
                total += len(v) + 60
                i += 1
        self.assertEqual(c.set_many(items), 0, c.bad_replies)
        return dict(items)

    def test_thread_names(self):
        """Threads are named as memcached names its own (mc-worker, ...),
        with tc-: top -H, ps -L and perf show which thread is the flash
        writer."""
        srv, c = self.server()
        names = []
        for tid in os.listdir('/proc/%d/task' % srv.pid):
            with open('/proc/%d/task/%s/comm' % (srv.pid, tid)) as f:
                names.append(f.read().strip())
        self.assertEqual(names.count('tc-worker'), 2, names)
        self.assertEqual(names.count('tc-flash-writer'), 1, names)
        self.assertEqual(names.count('tc-lru-maint'), 1, names)

    def test_dictionary(self):
        """The first MiB of spilled values trains a zstd dictionary; blocks
        made with it read back right and take fewer device bytes than the
        same values without one (--flash-dict-size 0)."""
        ratios = {}
        for dict_size in ('0', '64k'):
            path = os.path.join(self.dir, 'flash-dict-' + dict_size)
            srv, c = self.server('--flash-dict-size', dict_size, path=path)
            expect = self.load_json(c, b'J', 11)
            st = c.stats()
            deadline = time.monotonic() + 10
            while (dict_size != '0' and int(st['flash_dict_bytes']) == 0 and
                   time.monotonic() < deadline):
                time.sleep(0.1)
                st = c.stats()
            if dict_size == '0':
                self.assertEqual(st['flash_dict_bytes'], '0')
            else:
                self.assertGreater(int(st['flash_dict_bytes']), 1024, st)
                self.assertLessEqual(int(st['flash_dict_bytes']), 65536)
                self.assertIn('compression dictionary of', srv.stderr())
            # the dictionary is trained after ~1 MiB: load as much again
            # so most blocks are made with it
            expect.update(self.load_json(c, b'K', 12))
            hits = self.check_all(c, expect, what='dict %s' % dict_size)
            self.assertGreater(hits, len(expect) * 9 // 10)
            # the blocks themselves, read offline after a clean stop: the
            # stats count bytes per sealed segment against items as they
            # come, so a window over them is off by up to a segment
            problem = srv.stop()
            self.assertIsNone(problem, problem)
            codecs = block_bytes(path)
            want = 'zstd+dict' if dict_size != '0' else 'zstd'
            self.assertGreater(codecs.get(want, (0, 0, 0))[0], 100, codecs)
            if dict_size == '0':
                self.assertNotIn('zstd+dict', codecs)
            n, raw, stored = codecs[want]
            ratios[dict_size] = stored / raw
        # blocks made with the dictionary take at least 15% fewer bytes per
        # raw byte than blocks of the same values without one (29% measured
        # on these seeded values: 0.188 -> 0.134, the same in 8 runs)
        self.assertLess(ratios['64k'], ratios['0'] * 0.85, ratios)

    def test_promote_rate(self):
        """--flash-promote always copies every flash hit back to RAM, at
        most --flash-promote-rate per second per worker (-t 2 here)."""
        for rate in ('5', '0'):
            path = os.path.join(self.dir, 'flash-promote-' + rate)
            srv, c = self.server('--flash-promote', 'always',
                                 '--flash-promote-rate', rate, path=path)
            expect, rng = self.bulk(c, 1000, 2000, b'P')
            st0 = c.stats()
            keys = list(expect)[:400]          # the oldest: on flash
            t0 = time.monotonic()
            got = c.get_many(keys)
            secs = time.monotonic() - t0
            st1 = c.stats()
            flash_hits = int(st1['flash_get_hits']) - int(st0['flash_get_hits'])
            promoted = (int(st1['flash_promotions']) -
                        int(st0['flash_promotions']))
            self.assertGreater(flash_hits, 300, st1)
            self.assertEqual([k for k in got if got[k] != expect[k]][:3], [])
            if rate == '0':
                self.assertEqual(promoted, flash_hits)
            else:
                # a one-second window per worker: at most rate per second
                # begun, each worker (secs is well below 2 s here)
                self.assertLessEqual(promoted, 2 * 5 * (int(secs) + 2),
                                     (promoted, secs))
                self.assertGreater(promoted, 0)

    def test_bulk_small_and_flush(self):
        srv, c = self.server()
        expect, rng = self.bulk(c, 20, 200, b's', ram_factor=8)
        hits = self.check_all(c, expect, what='small values')
        self.assertGreater(hits, len(expect) // 2)
        self.assertGreater(int(c.stats()['flash_items']), 0)
        gone = self.overwrite_delete(c, expect, rng, 20, 200)
        self.check_all(c, expect, gone, 'small, after overwrite/delete')
        # flush_all: flash-resident items go too
        self.assertEqual(c.call(b'flush_all\r\n'), [b'OK'])
        got = c.get_many(list(expect)[:5000])
        self.assertEqual(list(got)[:5], [], 'flushed items came back')
        self.assertEqual(c.call(b'set after 0 0 1\r\nx\r\nget after\r\n', 4),
                         [b'STORED', b'VALUE after 0 1', b'x', b'END'])

    # -- every text command on flash-resident items ------------------------
    def test_commands_on_flash(self):
        srv, c = self.server('--flash-promote', 'never')
        probes = {}
        for i in range(16):
            k = b'probe%d' % i
            v = b'value-of-probe-%d' % i
            self.assertEqual(c.call(b'set %s 42 0 %d\r\n%s\r\n'
                                    % (k, len(v), v)), [b'STORED'])
            probes[k] = v
        for k in (b'num1', b'num2'):
            self.assertEqual(c.call(b'set %s 0 0 3\r\n100\r\n' % k),
                             [b'STORED'])
        # push them out of RAM with items of their size (slab class), never
        # reading them before they are on flash (and --flash-promote never
        # keeps them there)
        self.bulk(c, 8, 40, b'f', ram_factor=4)
        st0 = c.stats()
        got = c.get_many(list(probes) + [b'num1', b'num2'], cas=True)
        self.assertEqual(sorted(got), sorted(list(probes) + [b'num1', b'num2']),
                         'probes lost on the way to flash')
        st1 = c.stats()
        self.assertGreaterEqual(
            int(st1['flash_get_hits']) - int(st0['flash_get_hits']), 18,
            'the probes were not read from flash')
        cas = {k: cu for k, (v, cu) in got.items()}
        # cas uniques survive the trip: sequential in store order, as given
        # at set time, and the same on a second read
        self.assertEqual([cas[b'probe%d' % i] - cas[b'probe0']
                          for i in range(16)], list(range(16)))
        self.assertEqual(c.get_many(list(probes), cas=True),
                         {k: (probes[k], cas[k]) for k in probes})

        def cmd(send, *lines):
            got = c.call(send, len(lines))
            if got != list(lines):
                st = c.stats()
                self.fail('reply to %r: %r, want %r (stats: %s)' % (
                    send[:60], got, list(lines), ' '.join(
                        '%s=%s' % (n, st.get(n)) for n in (
                            'store_no_memory', 'evictions', 'curr_items',
                            'flash_items', 'flash_drops_stall',
                            'flash_drops_io', 'flash_drops_admission',
                            'flash_queue_stalls', 'flash_promotions'))))

        def p(i):
            return b'probe%d' % i

        def val(i):
            return probes[p(i)]

        # get / gets: value, flags and cas as stored
        cmd(b'get probe0\r\n', b'VALUE probe0 42 %d' % len(val(0)), val(0),
            b'END')
        cmd(b'gets probe1\r\n',
            b'VALUE probe1 42 %d %d' % (len(val(1)), cas[p(1)]), val(1),
            b'END')
        # gat / gats / touch
        cmd(b'gat 0 probe2\r\n', b'VALUE probe2 42 %d' % len(val(2)), val(2),
            b'END')
        cmd(b'gats 0 probe3\r\n',
            b'VALUE probe3 42 %d %d' % (len(val(3)), cas[p(3)]), val(3),
            b'END')
        cmd(b'touch probe4 0\r\n', b'TOUCHED')
        cmd(b'get probe4\r\n', b'VALUE probe4 42 %d' % len(val(4)), val(4),
            b'END')
        # append / prepend see the flash value
        cmd(b'append probe5 0 0 3\r\nXYZ\r\n', b'STORED')
        cmd(b'get probe5\r\n', b'VALUE probe5 42 %d' % (len(val(5)) + 3),
            val(5) + b'XYZ', b'END')
        cmd(b'prepend probe6 0 0 3\r\nXYZ\r\n', b'STORED')
        cmd(b'get probe6\r\n', b'VALUE probe6 42 %d' % (len(val(6)) + 3),
            b'XYZ' + val(6), b'END')
        # incr / decr
        cmd(b'incr num1 5\r\n', b'105')
        cmd(b'decr num2 3\r\n', b'97')
        # cas: the right unique stores, a wrong one is EXISTS
        cmd(b'cas probe7 1 0 2 %d\r\nok\r\n' % cas[p(7)], b'STORED')
        cmd(b'get probe7\r\n', b'VALUE probe7 1 2', b'ok', b'END')
        cmd(b'cas probe8 1 0 2 %d\r\nno\r\n' % (cas[p(8)] + 1000), b'EXISTS')
        cmd(b'get probe8\r\n', b'VALUE probe8 42 %d' % len(val(8)), val(8),
            b'END')
        # add / replace
        cmd(b'add probe9 0 0 1\r\nx\r\n', b'NOT_STORED')
        cmd(b'get probe9\r\n', b'VALUE probe9 42 %d' % len(val(9)), val(9),
            b'END')
        cmd(b'replace probe10 7 0 3\r\nnew\r\n', b'STORED')
        cmd(b'get probe10\r\n', b'VALUE probe10 7 3', b'new', b'END')
        # delete
        cmd(b'delete probe11\r\n', b'DELETED')
        cmd(b'delete probe11\r\n', b'NOT_FOUND')
        cmd(b'get probe11\r\n', b'END')
        # a multi-get over flash and RAM keys, replies in key order
        cmd(b'get probe12 probe10 nope probe13\r\n',
            b'VALUE probe12 42 %d' % len(val(12)), val(12),
            b'VALUE probe10 7 3', b'new',
            b'VALUE probe13 42 %d' % len(val(13)), val(13), b'END')
        # flush_all with a delay: visible now, gone after the delay (N
        # comes due at a whole-second tick N-2 to N-1 s later: 3, so the
        # get right after it cannot meet the tick)
        cmd(b'flush_all 3\r\n', b'OK')
        cmd(b'get probe14\r\n', b'VALUE probe14 42 %d' % len(val(14)),
            val(14), b'END')
        time.sleep(3.2)
        cmd(b'get probe14 probe15 probe12\r\n', b'END')
        st = c.stats()
        for n in ('flash_compression_ratio', 'flash_write_amplification'):
            self.assertRegex(st[n], r'^\d+\.\d\d$')
        for n in ('extstore_bytes_written', 'extstore_objects_written',
                  'get_extstore', 'extstore_pages_used'):
            self.assertIn(n, st)

    # -- refusing to start -------------------------------------------------
    # -- lru_crawler metadump lists flash-resident items (issue 5) --------
    def metadump(self, c):
        """Sends `lru_crawler metadump all` on c; returns the lines."""
        c.sock.sendall(b'lru_crawler metadump all\r\n')
        return self.dump_lines(c)

    def dump_lines(self, c):
        """Reads a metadump reply: lines end with "\\n" (as memcached's),
        the reply with "END\\r\\n"."""
        parts = c.line().split(b'\n')
        self.assertEqual(parts[-1], b'END', parts[-1][:200])
        for ln in parts[:-1]:
            self.assertTrue(ln.startswith(b'key='), ln)
        return parts[:-1]

    def test_metadump_lists_flash(self):
        srv, c = self.server('--flash-promote', 'never')
        expect, rng = self.bulk(c, 100, 2000, b'D')
        gone = set(self.overwrite_delete(c, expect, rng, 100, 2000))
        st = c.stats()
        self.assertGreater(int(st['flash_items']), len(expect) // 2, st)

        # a concurrent get on another connection answers while the dump
        # runs (the flash part parks the dumping connection only)
        other = Client(srv.port)
        self.addCleanup(other.close)
        probe = next(iter(expect))
        c.sock.sendall(b'lru_crawler metadump all\r\n')
        t0 = time.monotonic()
        got = other.call(b'get %s\r\n' % probe, lines=1)
        self.assertEqual(got[0].split(b' ')[:2], [b'VALUE', probe])
        other.exact(len(expect[probe]) + 2)
        self.assertEqual(other.line(), b'END')
        self.assertLess(time.monotonic() - t0, 10.0)
        lines = self.dump_lines(c)

        dumped = {}
        dups = []
        for ln in lines:
            f = dict(x.split(b'=', 1) for x in ln.split(b' '))
            k = f[b'key']
            if k in dumped:
                dups.append(k)
            dumped[k] = f
        self.assertEqual(dups[:5], [], 'keys listed twice')
        back = [k for k in dumped if k in gone]
        self.assertEqual(back[:5], [], 'deleted keys listed')
        self.assertEqual([k for k in dumped if k not in expect][:5], [],
                         'unknown keys listed')
        # every live key (gets hits) is listed, with its cas
        live = c.get_many(list(expect), cas=True)
        self.assertGreater(len(live), len(expect) // 2)
        missing = [k for k in live if k not in dumped]
        self.assertEqual(missing[:5], [], 'live keys not listed (%d of %d)'
                         % (len(missing), len(live)))
        extra = [k for k in dumped if k not in live]
        self.assertEqual(extra[:5], [], 'listed keys that miss')
        badcas = [k for k, (v, cas) in live.items()
                  if int(dumped[k][b'cas']) != cas]
        self.assertEqual(badcas[:5], [], 'wrong cas')
        for k in list(dumped)[:50]:
            f = dumped[k]
            self.assertEqual(f[b'exp'], b'-1')
            self.assertIn(f[b'fetch'], (b'yes', b'no'))
            self.assertGreater(int(f[b'cls']), 0)
        # most of them only on flash: the flash part was listed
        self.assertGreater(len(dumped), int(c.stats()['curr_items']))
        # a second dump after the first lists the same keys
        again = self.metadump(c)
        self.assertEqual(len(again), len(lines))
        # dumps at once: one flash walk at a time, the others answer as
        # memcached does while its crawler runs (or list, if it finished)
        conns = [Client(srv.port) for _ in range(3)]
        for x in conns:
            self.addCleanup(x.close)
        for x in conns:
            x.sock.sendall(b'lru_crawler metadump all\r\n')
        busy = 0
        for x in conns:
            first = x.line()
            if first == b'BUSY currently processing crawler request':
                busy += 1
                continue
            parts = first.split(b'\n')
            self.assertEqual(parts[-1], b'END', first[:100])
            self.assertEqual(len(parts) - 1, len(lines))
        self.assertLess(busy, 3)

    def test_bad_flags(self):
        make_file(self.path)
        rc, err = run_bad(['-m', '4', '--flash-path', self.path,
                           '--flash-size', '64x'])
        self.assertNotEqual(rc, 0)
        self.assertIn('--flash-size', err)
        rc, err = run_bad(['-m', '4', '--flash-path', self.path,
                           '--flash-size', '1m', '--flash-segment-size', '1m'])
        self.assertNotEqual(rc, 0, 'a flash of one segment was accepted')
        self.assertIn('small', err)
        for bad in ('/proc/version', os.path.join(self.dir, 'no/such/dir/f')):
            rc, err = run_bad(['-m', '4', '--flash-path', bad,
                               '--flash-size', '64m'])
            self.assertNotEqual(rc, 0, bad)
            self.assertIn(bad, err)
        rc, err = run_bad(['-o', 'ext_path=%s' % self.path])
        self.assertNotEqual(rc, 0)
        self.assertIn('ext_path', err)

    def test_startup_memory_line_is_the_stat(self):
        """The start-up line's bytes outside -m and `stats`
        memory_outside_limit of the idle server just started are one number
        (the line was printed before the workers' flash buffers existed:
        33.6 MiB against 50 MiB), for several thread counts."""
        for threads in ('1', '4'):
            srv, c = self.server('-t', threads)
            m = re.search(r'\+ (\d+) bytes \(([\d.]+) MiB\) outside -m', srv.stderr())
            self.assertIsNotNone(m, srv.stderr())
            stat = int(c.stats()['memory_outside_limit'])
            self.assertEqual(int(m.group(1)), stat, '-t %s' % threads)
            self.assertEqual(m.group(2), '%.1f' % (stat / MiB))
            c.close()
            self.assertIsNone(srv.stop())
            os.unlink(self.path)

    MEMORY_PARTS = ('memory_hash_table', 'memory_ram_ghosts',
                    'memory_flash_index', 'memory_flash_builders',
                    'memory_flash_reclaim', 'memory_flash_queues',
                    'memory_flash_workers', 'memory_flash_zstd',
                    'memory_flash_dict', 'memory_flash_checkpoint')

    def test_memory_parts_add_up(self):
        """Every byte outside -m has its stat (issue 14 item 5): the
        memory_* parts are listed just before memory_outside_limit, add up
        to it in one `stats`, and the parts a flash tier always has are
        non-zero, idle and after items went to flash."""
        srv, c = self.server('-t', '2')
        for phase in ('idle', 'loaded'):
            if phase == 'loaded':
                self.assertEqual(c.set_many([(b'mp%d' % i, b'%d' % i * 4000)
                                             for i in range(400)]), 0)
                deadline = time.monotonic() + 10
                while (int(c.stats()['flash_items']) == 0 and
                       time.monotonic() < deadline):
                    time.sleep(0.1)
            st = c.stats()
            names = list(st)
            at = names.index('memory_outside_limit')
            self.assertEqual(tuple(names[at - len(self.MEMORY_PARTS):at]),
                             self.MEMORY_PARTS, phase)
            parts = {k: int(st[k]) for k in self.MEMORY_PARTS}
            self.assertEqual(sum(parts.values()),
                             int(st['memory_outside_limit']), phase)
            for k in ('memory_hash_table', 'memory_ram_ghosts',
                      'memory_flash_index', 'memory_flash_builders',
                      'memory_flash_reclaim', 'memory_flash_queues',
                      'memory_flash_workers', 'memory_flash_zstd'):
                self.assertGreater(parts[k], 0, '%s %s' % (phase, k))
            self.assertEqual(parts['memory_hash_table'], int(st['hash_bytes']))
            self.assertEqual(parts['memory_flash_index'],
                             int(st['flash_index_bytes']), phase)
        c.close()
        self.assertIsNone(srv.stop())

    def test_write_queue_gauge(self):
        """flash_write_queue counts the items handed to the flash writer
        whose RAM copy is not yet released: 0 on a new server, above 0
        while a load spills, back to 0 once the writer is idle, and never
        more than the items sent (a count that went below 0 would wrap)."""
        import threading
        srv, c = self.server()
        self.assertEqual(c.stats()['flash_write_queue'], '0')
        rng = random.Random(5)
        items = [(b'wq%d' % i, value_for(rng, b'wq%d' % i, 1, 2000, 4000))
                 for i in range(4 * RAM_MB * MiB // 3000)]
        seen = []
        for _ in range(3):  # again if the load ended before 5 samples
            bad = []
            load_c = Client(srv.port)
            self.addCleanup(load_c.close)
            th = threading.Thread(target=lambda: bad.append(load_c.set_many(items)))
            th.start()
            during = []
            while th.is_alive():
                during.append(int(c.stats()['flash_write_queue']))
            th.join()
            self.assertEqual(bad, [0], load_c.bad_replies)
            seen += during
            if len(during) >= 5:
                break
        what = '%d samples, the last: %s' % (len(seen), seen[-20:])
        self.assertGreater(max(seen), 0, what)
        self.assertLessEqual(max(seen), len(items), what)
        deadline = time.monotonic() + 20
        while c.stats()['flash_write_queue'] != '0' and time.monotonic() < deadline:
            time.sleep(0.05)
        st = c.stats()
        self.assertEqual(st['flash_write_queue'], '0', 'writer idle')
        self.assertGreater(int(st['flash_items']), 0)
        c.close()
        self.assertIsNone(srv.stop())

    def test_segment_size_in_use(self):
        """Without --flash-segment-size a new 64 MiB file gets 1 MiB
        segments (its size / 64); stats flash_segment_size shows the size
        in use and extstore_limit_maxbytes counts in it. With the flag, the
        size given."""
        for extra, want in (((), MiB), (('--flash-segment-size', '4m'), 4 * MiB)):
            path = os.path.join(self.dir, 'seg%d' % want)
            args = ['-m', str(RAM_MB), '-t', '2', '--flash-path', path,
                    '--flash-size', '64m'] + list(extra)
            srv = self.start(args)
            c = Client(srv.port)
            st = c.stats()
            c.close()
            self.assertEqual(int(st['flash_segment_size']), want, extra)
            segs = int(st['extstore_pages_free']) + int(st['extstore_pages_used'])
            self.assertEqual(segs, (64 * MiB - 147456) // want, extra)
            self.assertEqual(int(st['extstore_limit_maxbytes']), segs * want, extra)
            self.assertIsNone(srv.stop())

    def test_foreign_file(self):
        make_file(self.path, fill=b'not a tiercache file, keep out! ')
        rc, err = run_bad(['-m', '4', '--flash-path', self.path,
                           '--flash-size', '64m',
                           '--flash-segment-size', SEGMENT])
        self.assertNotEqual(rc, 0, 'foreign data was overwritten')
        self.assertIn(self.path, err)
        with open(self.path, 'rb') as f:
            self.assertEqual(f.read(8), b'not a ti', 'the file was touched')
        # with --flash-reset it starts (and ext_path is an alias)
        srv = self.start(['-m', '4', '-o', 'ext_path=%s:64m' % self.path,
                          '--flash-segment-size', SEGMENT, '--flash-reset'])
        c = Client(srv.port)
        self.addCleanup(c.close)
        st = c.stats()
        self.assertIn('flash_items', st)
        self.assertEqual(int(st['extstore_limit_maxbytes']) <= 64 * MiB, True)


    # -- ownership of the flash file (issue 10) ----------------------------
    def refused(self, args, timeout=15):
        """Runs the server expecting it to refuse to start: (exit code,
        stderr); fails the test if it is still running after timeout s (it
        started: killed, it is our own child)."""
        p = subprocess.Popen([harness.BIN, '-p', '0', '-l', harness.HOST] + args,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        try:
            _, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            self.fail('the server started (still running after %d s): %s'
                      % (timeout, ' '.join(args)))
        return p.returncode, err.decode('utf-8', 'replace')

    def sha(self, path):
        with open(path, 'rb') as f:
            return hashlib.sha256(f.read()).hexdigest()

    def test_second_server_same_path_refused(self):
        """A second server on the same --flash-path stops at startup (non-zero
        exit, a message naming the path and its holder), touching nothing;
        the first keeps serving correct values."""
        srv, c = self.server()
        rng = random.Random(10)
        before = [(b'own:a%d' % i, value_for(rng, b'a%d' % i, 1, 100, 3000))
                  for i in range(2000)]
        self.assertEqual(c.set_many(before), 0, c.bad_replies)
        with open(self.path, 'rb') as f:
            head = f.read(4096)
        for extra in ((), ('--flash-reset',)):
            rc, err = self.refused(base_args(self.path, *extra))
            self.assertNotEqual(rc, 0, 'a second server ran on %s' % self.path)
            self.assertIn(self.path, err)
            self.assertIn('in use', err)
            self.assertIn('PID %d' % srv.pid, err)
        with open(self.path, 'rb') as f:
            self.assertEqual(f.read(4096), head, 'the superblock was rewritten')
        after = [(b'own:b%d' % i, value_for(rng, b'b%d' % i, 1, 100, 3000))
                 for i in range(2000)]
        self.assertEqual(c.set_many(after), 0, c.bad_replies)
        expect = dict(before + after)
        self.assertGreater(int(c.stats()['flash_items']), 0, 'nothing on flash')
        hits = self.check_all(c, expect, what='after a second server')
        self.assertGreater(hits, len(expect) * 9 // 10)

    def test_foreign_data_deep_in_file_refused(self):
        """A file that is zero at its start but holds data 1 MiB in is not
        overwritten without --flash-reset; the file is unchanged."""
        make_file(self.path)
        with open(self.path, 'r+b') as f:
            f.seek(MiB)
            f.write(b'somebody else\'s data')
        digest = self.sha(self.path)
        rc, err = self.refused(base_args(self.path))
        self.assertNotEqual(rc, 0, 'foreign data 1 MiB deep was overwritten')
        self.assertIn(self.path, err)
        self.assertIn('non-zero data at byte %d' % MiB, err)
        self.assertEqual(self.sha(self.path), digest, 'the file was touched')

    def test_damaged_superblock_refused(self):
        """A superblock whose magic is intact but whose checksum fails is
        refused, not reinitialised; --flash-reset reinitialises it."""
        srv, c = self.server()
        c.close()
        self.assertIsNone(srv.stop())
        with open(self.path, 'r+b') as f:
            self.assertEqual(f.read(15), b'TIERCACHE-FLASH')
            f.seek(30)                     # inside the device size field
            b = f.read(1)
            f.seek(30)
            f.write(bytes([b[0] ^ 0x01]))
        digest = self.sha(self.path)
        rc, err = self.refused(base_args(self.path))
        self.assertNotEqual(rc, 0, 'a damaged superblock was accepted')
        self.assertIn(self.path, err)
        self.assertIn('damaged', err)
        self.assertNotIn('reinitialised', err)
        self.assertEqual(self.sha(self.path), digest, 'the file was touched')
        srv = self.start(base_args(self.path, '--flash-reset'))
        self.assertIn('reinitialised', srv.stderr())

    def test_failed_start_leaves_no_new_file(self):
        """A start that fails (flash too small for the segment size) removes
        the file it created, keeps an existing one as it was, and does not
        say the data was reinitialised."""
        new = os.path.join(self.dir, 'new-flash')
        rc, err = self.refused(['-m', '4', '--flash-path', new, '--flash-size', '2m',
                           '--flash-segment-size', SEGMENT])
        self.assertNotEqual(rc, 0)
        self.assertIn('small', err)
        self.assertNotIn('reinitialised', err)
        self.assertFalse(os.path.exists(new), 'the failed start left its file')
        # an existing tiercache file, then a start that fails on it
        srv, c = self.server()
        c.close()
        self.assertIsNone(srv.stop())
        digest = self.sha(self.path)
        rc, err = self.refused(['-m', '4', '--flash-path', self.path, '--flash-size', '2m',
                           '--flash-segment-size', SEGMENT])
        self.assertNotEqual(rc, 0)
        self.assertNotIn('reinitialised', err)
        self.assertTrue(os.path.exists(self.path), 'an existing file was removed')
        self.assertEqual(self.sha(self.path), digest, 'the file was touched')


if __name__ == '__main__':
    harness.main()
