"""Tests of the operator tools (issue 5), stdlib unittest.

tiercache-tool runs against the server named by TIERCACHE_BIN: tiercache
(suite 'tools') or /usr/bin/memcached (suite 'reference', which shows the
tool works against a plain memcached and that the expected numbers are
memcached's). The server lifecycle comes from tests/blackbox/harness.py.

tiercache-inspect (TIERCACHE_INSPECT) checks flash files made by the
mkflash helper (TIERCACHE_MKFLASH: the flash tier's store API, no server),
good and deliberately corrupted, and a file written by the server when it
has --flash-path. These run in the 'tools' suite only.

Environment: TIERCACHE_BIN, TIERCACHE_TOOL (the script, run with this
Python), TIERCACHE_INSPECT and TIERCACHE_MKFLASH (optional: skipped
without).
"""

import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'blackbox'))
import harness  # noqa: E402  (tests/blackbox/harness.py: Server, Conn)

TOOL = os.environ.get('TIERCACHE_TOOL', '')
INSPECT = os.environ.get('TIERCACHE_INSPECT', '')
MKFLASH = os.environ.get('TIERCACHE_MKFLASH', '')
REFERENCE = harness.REFERENCE
RUN_TIMEOUT = 60
MEMCACHED_TOOL = '/usr/share/memcached/scripts/memcached-tool'
BAD_STDERR = ('runtime error', 'AddressSanitizer', 'LeakSanitizer')

# Items in three slab classes: (key, flags, value).
ITEMS = ([('small:%d' % i, i, b's%03d' % i) for i in range(30)] +
         [('medium:%d' % i, 100 + i, (b'm%03d' % i) * 250) for i in range(20)] +
         [('large:%d' % i, 7, (b'L%04d' % i) * 2000) for i in range(10)])


def run(args, timeout=RUN_TIMEOUT, stdin=None):
    """Runs a command; returns CompletedProcess with bytes stdout/stderr."""
    p = subprocess.run(args, input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    err = p.stderr.decode('utf-8', 'replace')
    for bad in BAD_STDERR:
        if bad in err:
            raise AssertionError('sanitizer report from %s:\n%s' % (args, err))
    return p


def tool(*args, timeout=RUN_TIMEOUT):
    return run([sys.executable, TOOL] + list(args), timeout=timeout)


def talk(port, data, expect_end, timeout=10):
    """Sends data, reads until the reply ends with expect_end."""
    s = socket.create_connection((harness.HOST, port), timeout=timeout)
    try:
        s.sendall(data)
        buf = b''
        while not buf.endswith(expect_end):
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
        return buf
    finally:
        s.close()


def store_items(port, items, exptime=0):
    data = b''.join(b'set %s %d %d %d\r\n%s\r\n'
                    % (k.encode(), f, exptime, len(v), v) for k, f, v in items)
    reply = talk(port, data, b'STORED\r\n' * len(items))
    assert reply == b'STORED\r\n' * len(items), reply[:200]


def get_all(port, keys):
    """{key: (flags, value)} of a multi-get."""
    reply = talk(port, b'get ' + b' '.join(k.encode() for k in keys) + b'\r\n',
                 b'END\r\n')
    out = {}
    i = 0
    while True:
        j = reply.index(b'\r\n', i)
        line = reply[i:j]
        if line == b'END':
            return out
        _, k, f, n = line.split(b' ')[:4]
        n = int(n)
        out[k.decode()] = (int(f), reply[j + 2:j + 2 + n])
        i = j + 2 + n + 2


def server_has_flash():
    if REFERENCE or not harness.BIN:
        return False
    p = subprocess.run([harness.BIN, '--help'], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    return b'--flash-path' in p.stdout


@unittest.skipUnless(TOOL and harness.BIN, 'TIERCACHE_TOOL / TIERCACHE_BIN not set')
class ToolTest(unittest.TestCase):
    """tiercache-tool against a running server holding ITEMS."""

    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server(['-m', '64'])
        cls.server.start()
        cls.port = cls.server.port
        cls.addr = '%s:%d' % (harness.HOST, cls.port)
        store_items(cls.port, ITEMS)

    @classmethod
    def tearDownClass(cls):
        problem = cls.server.stop()
        if problem:
            raise AssertionError(problem)

    def ok(self, *args, timeout=RUN_TIMEOUT):
        p = tool(*args, timeout=timeout)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return p.stdout.decode('utf-8', 'replace')

    def test_display(self):
        out = self.ok(self.addr, 'display')
        lines = out.splitlines()
        self.assertEqual(lines[0], '  #  Item_Size  Max_age   Pages   Count   Full?  '
                                   'Evicted Evict_Time OOM')
        rows = []
        for line in lines[1:]:
            if not line.strip():
                break
            rows.append(line.split())
        self.assertGreaterEqual(len(rows), 3, out)
        self.assertEqual(sum(int(r[4]) for r in rows), len(ITEMS), out)
        for r in rows:
            self.assertTrue(r[1].endswith(('B', 'K')), r)
            self.assertIn(r[5], ('yes', 'no'))
        self.assertNotIn('Tiers:', out)   # no flash tier here
        self.assertEqual(self.ok(self.addr).splitlines()[0], lines[0])  # the default

    def test_stats(self):
        out = self.ok(self.addr, 'stats')
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith('#' + self.addr), lines[0])
        self.assertIn('Field', lines[0])
        fields = dict(l.split(None, 1) for l in lines[1:] if l.strip())
        self.assertEqual(fields['curr_items'].strip(), str(len(ITEMS)))
        self.assertGreaterEqual(int(fields['cmd_set']), len(ITEMS))
        names = [l.split()[0] for l in lines[1:] if l.strip()]
        self.assertEqual(names, sorted(names))
        self.assertEqual(lines[1][29], ' ')   # memcached-tool's '%29s %14s'
        self.assertEqual(lines[1][:29].strip(), names[0])

    def test_settings(self):
        out = self.ok(self.addr, 'settings')
        fields = dict(l.split(None, 1) for l in out.splitlines()[1:] if l.strip())
        self.assertEqual(fields['maxbytes'].strip(), str(64 << 20))
        self.assertEqual(fields['tcpport'].strip(), str(self.port))
        self.assertEqual(fields['evictions'].strip(), 'on')

    def test_dump_replays_into_a_fresh_server(self):
        p = tool(self.addr, 'dump')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b'Dumping memcache contents', p.stderr)
        self.assertNotIn(b'Note:', p.stderr)   # no flash tier: nothing skipped
        dump = p.stdout
        self.assertEqual(dump.count(b'add '), len(ITEMS))
        for k, f, v in ITEMS[:3] + ITEMS[-3:]:
            self.assertIn(b'add %s %d 0 %d\r\n%s\r\n' % (k.encode(), f, len(v), v), dump)
        with harness.Server(['-m', '64']) as fresh:
            reply = talk(fresh.port, dump, b'STORED\r\n' * len(ITEMS))
            self.assertEqual(reply, b'STORED\r\n' * len(ITEMS))
            got = get_all(fresh.port, [k for k, _, _ in ITEMS])
            self.assertEqual(got, {k: (f, v) for k, f, v in ITEMS})

    def test_dump_and_keys_limit(self):
        p = tool(self.addr, 'dump', '5')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.count(b'add '), 5)
        out = self.ok(self.addr, 'keys', '7')
        self.assertEqual(len([l for l in out.splitlines() if l.startswith('key=')]), 7)

    def test_dump_keeps_exptime(self):
        with harness.Server(['-m', '64']) as srv:
            store_items(srv.port, [('ttl:a', 3, b'x' * 10)], exptime=1000)
            p = tool('%s:%d' % (harness.HOST, srv.port), 'dump')
            self.assertEqual(p.returncode, 0, p.stderr)
            head = p.stdout.split(b'\r\n')[0].split(b' ')
            self.assertEqual(head[:3], [b'add', b'ttl:a', b'3'])
            self.assertGreater(int(head[3]), time.time() + 900)   # absolute

    @unittest.skipUnless(os.path.exists(MEMCACHED_TOOL) and shutil.which('perl'),
                         'memcached-tool (perl) not installed')
    def test_matches_memcached_tool(self):
        """display (Max_age masked: it ticks) and dump (sorted: hash order)
        as memcached-tool prints them for the same server."""
        def mask(text):
            return [l.split()[:2] + l.split()[3:] for l in text.splitlines()
                    if l.strip() and not l.startswith(('Tiers', 'Flash', '  tier',
                                                        '  RAM', '  flash'))]
        ref = run(['perl', MEMCACHED_TOOL, self.addr, 'display'])
        self.assertEqual(ref.returncode, 0, ref.stderr)
        ours = self.ok(self.addr, 'display').split('\n\n')[0]
        self.assertEqual(mask(ours), mask(ref.stdout.decode()))
        def records(dump):
            self.assertTrue(dump.startswith(b'add ') and dump.endswith(b'\r\n'))
            return set((b'\r\n' + dump[:-2]).split(b'\r\nadd ')[1:])
        # memcached-tool walks the LRUs (`metadump all`), which can miss items
        # the LRU maintainer moves meanwhile: retry it; ours walks the hash.
        for _ in range(5):
            ref = records(run(['perl', MEMCACHED_TOOL, self.addr, 'dump']).stdout)
            ours = records(tool(self.addr, 'dump').stdout)
            self.assertEqual(len(ours), len(ITEMS))
            self.assertLessEqual(ref, ours)
            if ref == ours:
                break
        self.assertEqual(ours, ref)

    def test_top_once_rates(self):
        stop = threading.Event()

        def load():
            s = socket.create_connection((harness.HOST, self.port), timeout=10)
            f = s.makefile('rb')
            while not stop.is_set():
                s.sendall(b'get small:1 nosuchkey\r\n')
                while f.readline() != b'END\r\n':
                    pass
            s.close()
        t = threading.Thread(target=load)
        t.start()
        try:
            out = self.ok(self.addr, 'top', '--once', '-i', '0.5')
        finally:
            stop.set()
            t.join()
        self.assertNotIn('\x1b[', out)   # not a terminal: no screen control
        rows = {}
        for line in out.splitlines()[1:]:
            parts = line.rsplit(None, 1)
            if len(parts) == 2:
                rows[parts[0].strip()] = parts[1]
        self.assertGreater(float(rows['gets/s']), 0, out)
        self.assertGreater(float(rows['hits/s']), 0, out)
        self.assertGreater(float(rows['misses/s']), 0, out)
        self.assertAlmostEqual(float(rows['hit ratio'].rstrip('%')), 50.0, delta=10, msg=out)
        self.assertEqual(rows['items (RAM)'], str(len(ITEMS)))
        self.assertGreaterEqual(int(rows['connections']), 2)
        for name in ('sets/s', 'evictions/s', 'bytes in/s', 'bytes out/s'):
            self.assertIn(name, rows)
        self.assertNotIn('flash hits/s', rows)

    def test_top_interactive_quits_on_q(self):
        """In a terminal: frames refresh in place (ANSI clear + home) until q."""
        import pty
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execv(sys.executable, [sys.executable, TOOL, self.addr, 'top',
                                          '-i', '0.2'])
            finally:
                os._exit(127)
        out = b''

        def drain(seconds):
            nonlocal out
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                r, _, _ = select.select([fd], [], [], 0.05)
                if r:
                    try:
                        data = os.read(fd, 65536)
                    except OSError:
                        return False
                    if not data:
                        return False
                    out += data
            return True
        try:
            # wait for 3 frames (a loaded sanitizer build can take longer than
            # 3 x 0.2 s to start Python and draw them), at most 15 s
            deadline = time.monotonic() + 15.0
            while (out.count(b'\x1b[H\x1b[2J') < 3 and time.monotonic() < deadline
                   and drain(0.1)):
                pass
            os.write(fd, b'q')
            drain(5.0)
            _, status = os.waitpid(pid, 0)
        finally:
            os.close(fd)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, out[-500:])
        self.assertGreaterEqual(out.count(b'\x1b[H\x1b[2J'), 3, out[-500:])
        self.assertIn(b'since start', out)
        self.assertIn(b'every 0.2s', out)

    def test_top_count_frames(self):
        out = self.ok(self.addr, 'top', '-n', '2', '-i', '0.2')
        self.assertEqual(out.count('tiercache-tool top'), 2, out)

    def test_unix_socket(self):
        d = tempfile.mkdtemp(prefix='tool-')
        path = os.path.join(d, 'sock')
        try:
            with harness.Server(['-s', path], tcp=False, unix=path):
                out = self.ok(path, 'stats')
                self.assertIn('curr_items', out)
                self.assertTrue(out.startswith('#' + path))
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_unreachable(self):
        sock, port = harness.refusing_port()
        self.addCleanup(sock.close)
        p = tool('%s:%d' % (harness.HOST, port), 'stats', '--timeout', '3')
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"can't connect to", p.stderr)
        self.assertEqual(p.stdout, b'')
        p = tool('/nonexistent/socket', 'display')
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"can't connect to /nonexistent/socket", p.stderr)

    def test_usage(self):
        self.assertEqual(tool(self.addr, 'frobnicate').returncode, 2)
        self.assertEqual(tool(self.addr, 'stats', '3').returncode, 2)
        self.assertEqual(tool().returncode, 2)
        self.assertEqual(tool(self.addr + 'x', 'stats').returncode, 1)


@unittest.skipUnless(TOOL and server_has_flash(), 'tiercache without --flash-path')
class FlashServerTest(unittest.TestCase):
    """The per-tier views against tiercache with a flash tier, then
    tiercache-inspect on the file it leaves after SIGTERM."""

    def test_tiers_and_inspect(self):
        d = tempfile.mkdtemp(prefix='tool-flash-')
        path = os.path.join(d, 'flash')
        try:
            # --flash-stall-ms 2000 as every flash test: with the default
            # 100 ms a writer slowed by a busy machine drops evictions
            srv = harness.Server(['-m', '2', '--flash-path', path, '--flash-size', '32m',
                                  '--flash-segment-size', '1m', '--flash-stall-ms', '2000'])
            srv.start()
            try:
                addr = '%s:%d' % (harness.HOST, srv.port)
                for base in range(0, 6000, 500):   # ~6 MB, compresses ~2x
                    store_items(srv.port, [('fk%d' % i, 0, os.urandom(500).hex().encode())
                                           for i in range(base, base + 500)])
                get_all(srv.port, ['fk1', 'fk2', 'fk3'])
                stats = dict(l.split(' ', 2)[1:] for l in talk(
                    srv.port, b'stats\r\n', b'END\r\n').decode().splitlines()
                    if l.startswith('STAT '))
                p = tool(addr, 'display')
                self.assertEqual(p.returncode, 0, p.stderr)
                out = p.stdout.decode()
                self.assertIn('Tiers:', out)
                self.assertIn('flash', out)
                self.assertIn('segments used/free', out)
                self.assertIn('compression ratio', out)
                p = tool(addr, 'stats')
                self.assertIn(b'flash_items', p.stdout)
                self.assertIn(b'write amplification', p.stdout)
                p = tool(addr, 'top', '--once', '-i', '0.2')
                self.assertEqual(p.returncode, 0, p.stderr)
                for name in (b'flash hits/s', b'spills/s', b'reclaims/s',
                             b'flash share of hits', b'items (flash)',
                             b'segments used/free', b'flash fill'):
                    self.assertIn(name, p.stdout)
                self.assertDumpListsFlash(srv.port, addr, 6000)
            finally:
                problem = srv.stop()
            self.assertFalse(problem, problem)
            if INSPECT:
                p = run([INSPECT, path])
                self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
                self.assertIn(b'superblock: ok', p.stdout)
                rep = json.loads(run([INSPECT, path, '--json']).stdout)
                if int(stats.get('flash_bytes_written', '0')) > 0:
                    self.assertGreater(rep['totals']['segments_used'], 0)
                    self.assertGreater(rep['totals']['records'], 0)
                # the clean stop left a live map of every key (RAM ones
                # were written to flash at shutdown) for the next start
                self.assertIn(b'state record: CLEAN', p.stdout)
                self.assertIn(b'live map (clean stop): segment', p.stdout)
                self.assertTrue(rep['state']['live_map_ok'], rep['state'])
                self.assertGreaterEqual(rep['state']['live_map_items'], 5990, rep['state'])
                self.assertLessEqual(rep['state']['live_map_items'], 6000, rep['state'])
        finally:
            shutil.rmtree(d, ignore_errors=True)


    def assertDumpListsFlash(self, port, addr, nkeys):
        """dump lists every live key, RAM and flash (issue 5: metadump
        walks the flash segments too), with its value; keys agrees."""
        deadline = time.monotonic() + 10   # the flash writer is asynchronous
        while True:
            stats = dict(l.split(' ', 2)[1:] for l in talk(
                port, b'stats\r\n', b'END\r\n').decode().splitlines()
                if l.startswith('STAT '))
            on_flash = int(stats['flash_items'])
            if on_flash or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertGreater(on_flash, 0, 'nothing reached flash: test geometry')
        self.assertLess(int(stats['curr_items']), nkeys // 2, 'most should be on flash')
        p = tool(addr, 'dump')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn(b'Note:', p.stderr)
        self.assertNotIn(b'Warning:', p.stderr)
        dumped = {}
        out = p.stdout
        i = 0
        while i < len(out):
            j = out.index(b'\r\n', i)
            cmd, key, flags, exp, n = out[i:j].split(b' ')
            self.assertEqual(cmd, b'add')
            n = int(n)
            self.assertNotIn(key, dumped, 'listed twice')
            dumped[key.decode()] = (int(flags), out[j + 2:j + 2 + n])
            self.assertEqual(out[j + 2 + n:j + 4 + n], b'\r\n')
            i = j + 4 + n
        live = {}
        allkeys = ['fk%d' % k for k in range(nkeys)]
        for b in range(0, nkeys, 1000):
            live.update(get_all(port, allkeys[b:b + 1000]))
        self.assertGreater(len(live), nkeys * 9 // 10)
        self.assertEqual(sorted(dumped), sorted(live), 'dump != the live keys')
        bad = [k for k in live if dumped[k] != live[k]]
        self.assertEqual(bad[:5], [], 'wrong values dumped')
        keys = tool(addr, 'keys')
        self.assertEqual(keys.returncode, 0, keys.stderr)
        self.assertNotIn(b'Note: ', keys.stderr)
        self.assertEqual(len([l for l in keys.stdout.splitlines()
                              if l.startswith(b'key=')]), len(dumped))


def load_tool_module():
    """tools/tiercache-tool as a module (its pure functions)."""
    import importlib.machinery
    import importlib.util
    loader = importlib.machinery.SourceFileLoader('tiercache_tool', TOOL)
    spec = importlib.util.spec_from_loader('tiercache_tool', loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


@unittest.skipUnless(TOOL, 'TIERCACHE_TOOL not set')
class TierViewTest(unittest.TestCase):
    """The tier views computed from fixed stats (no server)."""

    EXT = {'get_hits': '300', 'get_misses': '100', 'get_extstore': '120',
           'curr_items': '1000', 'bytes': '2097152', 'uptime': '100',
           'extstore_limit_maxbytes': str(64 << 20),
           'extstore_bytes_used': str(16 << 20), 'extstore_bytes_fragmented': '0',
           'extstore_pages_used': '16', 'extstore_pages_free': '48',
           'extstore_objects_used': '600', 'extstore_objects_written': '800',
           'extstore_compact_rescues': '200', 'extstore_page_reclaims': '3',
           'extstore_page_evictions': '2', 'extstore_objects_evicted': '7',
           'extstore_bytes_written': '1000000', 'badcrc_from_extstore': '0',
           'miss_from_extstore': '1', 'get_aborted_extstore': '0',
           'get_oom_extstore': '0'}

    def test_extstore_lines(self):
        m = load_tool_module()
        text = '\n'.join(m.tier_lines(self.EXT))
        self.assertIn('Tiers (memcached extstore):', text)
        rows = {l.split()[0]: l.split() for l in text.splitlines()
                if l.startswith(('  RAM', '  flash'))}
        self.assertEqual(rows['RAM'][1:4], ['180', '45.0%', '400'])
        self.assertEqual(rows['flash'][1:4], ['120', '30.0%', '600'])
        self.assertIn('pages used/free      16/48 (25.0% of 64.0M in use)', text)
        self.assertIn('write amplification  1.33', text)
        self.assertIn('reclaims             5 pages (0.050/s since start), '
                      '200 objects rescued', text)
        self.assertIn('compression ratio    n/a', text)

    def test_top_frame_extstore_rates(self):
        m = load_tool_module()
        cur = dict(self.EXT, get_extstore='220', extstore_objects_written='900',
                   extstore_page_reclaims='13')
        text = m.top_frame('x:1', self.EXT, cur, 2.0, 'test')
        rows = {}
        for line in text.splitlines()[1:]:
            parts = line.rsplit(None, 1)
            rows[parts[0].strip()] = parts[1]
        self.assertEqual(float(rows['flash hits/s']), 50.0)
        self.assertEqual(float(rows['spills/s']), 50.0)
        self.assertEqual(float(rows['reclaims/s']), 5.0)
        self.assertEqual(rows['items (flash)'], '600')
        self.assertEqual(rows['flash fill'], '25.0%')
        self.assertEqual(rows['pages used/free'], '16/48')

    def test_no_tier_without_flash(self):
        m = load_tool_module()
        self.assertEqual(m.tier_lines({'get_hits': '1', 'curr_items': '1'}), [])


MEMCACHED = '/usr/bin/memcached'


@unittest.skipUnless(TOOL and REFERENCE and os.access(MEMCACHED, os.X_OK),
                     'reference suite only (memcached with extstore)')
class ExtstoreServerTest(unittest.TestCase):
    """memcached with extstore: the tool shows extstore as the flash tier."""

    def test_extstore_views(self):
        d = tempfile.mkdtemp(prefix='tool-ext-', dir='/var/tmp')
        try:
            with harness.Server(['-m', '16', '-o', 'ext_path=%s/ext:64m' % d],
                                binary=MEMCACHED) as srv:
                addr = '%s:%d' % (harness.HOST, srv.port)
                store_items(srv.port, ITEMS)
                out = self.ok(addr, 'display')
                self.assertIn('Tiers (memcached extstore):', out)
                self.assertIn('pages used/free', out)
                self.assertIn('compression ratio    n/a', out)
                self.assertIn('Tiers (memcached extstore):', self.ok(addr, 'stats'))
                out = self.ok(addr, 'top', '--once', '-i', '0.2')
                for name in ('flash hits/s', 'spills/s', 'reclaims/s',
                             'items (flash)', 'flash fill', 'flash share of hits'):
                    self.assertIn(name, out)
                p = tool(addr, 'dump')
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout.count(b'add '), len(ITEMS))
                self.assertNotIn(b'Note:', p.stderr)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def ok(self, *args):
        p = tool(*args)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return p.stdout.decode('utf-8', 'replace')


@unittest.skipIf(REFERENCE, 'tiercache-inspect has no memcached twin')
@unittest.skipUnless(INSPECT and MKFLASH, 'TIERCACHE_INSPECT / TIERCACHE_MKFLASH not set')
class InspectTest(unittest.TestCase):
    """tiercache-inspect on a file built by mkflash, and corrupted copies."""

    NITEMS = 3000

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix='inspect-')
        cls.good = os.path.join(cls.dir, 'good.flash')
        p = run([MKFLASH, cls.good, str(cls.NITEMS)])
        if p.returncode != 0:
            raise AssertionError('mkflash failed: %s' % p.stderr.decode())
        cls.report = cls.inspect_json(cls.good)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    @staticmethod
    def inspect_json(path, verbose=True):
        p = run([INSPECT, path, '--json'] + (['--verbose'] if verbose else []))
        rep = json.loads(p.stdout.decode())
        assert rep['exit_code'] == p.returncode, (rep['exit_code'], p.returncode)
        return rep

    def corrupt(self, name, edits):
        """A copy of the good file with (offset, bytes) written over it."""
        path = os.path.join(self.dir, name)
        shutil.copyfile(self.good, path)
        with open(path, 'r+b') as f:
            for off, data in edits:
                f.seek(off)
                f.write(data)
        return path

    def flipped(self, off, n=4):
        with open(self.good, 'rb') as f:
            f.seek(off)
            return off, bytes(b ^ 0xff for b in f.read(n))

    def used(self):
        return [s for s in self.report['segments'] if s['kind'] == 'used']

    def test_good_file(self):
        p = run([INSPECT, self.good])
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 0, out + p.stderr.decode())
        self.assertIn('superblock: ok', out)
        self.assertIn('result: OK', out)
        self.assertNotIn('CORRUPT', out)
        rep = self.report
        t = rep['totals']
        self.assertEqual(rep['result'], 'no corruption found')
        self.assertGreaterEqual(t['segments_used'], 3)
        self.assertEqual(t['blocks_bad'], 0)
        self.assertGreater(t['records'], 0)
        self.assertLessEqual(t['records'], self.NITEMS)
        self.assertEqual(t['records'], t['summary_items'])
        self.assertGreater(t['summary_tombstones'], 0)
        self.assertGreater(t['compression_ratio'], 1.2)
        self.assertEqual(rep['superblock']['segment_size'], 256 << 10)
        self.assertEqual(rep['state']['state'], 'running')
        hist = {(h['min'], h['max']): h['count'] for h in rep['value_size_histogram']}
        self.assertEqual(set(hist), {(64, 127), (512, 1023), (2048, 4095)})
        self.assertEqual(sum(hist.values()), t['records'])
        for s in self.used():
            self.assertEqual(s['errors'], 0)
            self.assertEqual(len(s['blocks']), s['block_count'])
            self.assertTrue(all(b['status'] == 'ok' for b in s['blocks']))
        seqs = [s['seq'] for s in self.used()]
        self.assertEqual(sorted(seqs), list(range(1, len(seqs) + 1)))

    def test_verbose_lists_blocks(self):
        p = run([INSPECT, self.good, '--verbose'])
        self.assertEqual(p.returncode, 0)
        seg = self.used()[0]
        self.assertIn(b'block unit %5d (offset %d)' % (seg['blocks'][0]['unit'],
                                                      seg['blocks'][0]['offset']), p.stdout)

    def test_block_corruption(self):
        seg = self.used()[2]
        blk = seg['blocks'][3]
        path = self.corrupt('block.flash', [self.flipped(blk['offset'] + 200)])
        p = run([INSPECT, path])
        out = p.stdout.decode()
        self.assertEqual(p.returncode, 1, out)
        self.assertIn('CORRUPT: segment %d (offset %d): block at unit %d'
                      % (seg['id'], seg['offset'], blk['unit']), out)
        self.assertIn('checksum mismatch', out)
        self.assertIn('result: CORRUPT', out)
        rep = self.inspect_json(path)
        self.assertEqual(len(rep['problems']), 1, rep['problems'])
        prob = rep['problems'][0]
        self.assertEqual((prob['segment'], prob['unit'], prob['offset']),
                         (seg['id'], blk['unit'], blk['offset']))
        self.assertEqual(rep['totals']['blocks_bad'], 1)
        # the walk resynced: every other block was still checked
        self.assertEqual(rep['totals']['blocks_ok'], self.report['totals']['blocks_ok'] - 1)

    def test_block_header_corruption(self):
        seg = self.used()[1]
        blk = seg['blocks'][0]
        path = self.corrupt('blkhdr.flash', [(blk['offset'], b'XXXX')])
        p = run([INSPECT, path])
        self.assertEqual(p.returncode, 1)
        self.assertIn(b'segment %d' % seg['id'], p.stdout)
        self.assertIn(b'block at unit %d' % blk['unit'], p.stdout)

    def test_summary_corruption(self):
        seg = self.used()[0]
        off = seg['offset'] + seg['summary_offset'] + 12 * 5
        path = self.corrupt('summary.flash', [self.flipped(off, 2)])
        p = run([INSPECT, path])
        self.assertEqual(p.returncode, 1)
        self.assertIn(b'segment %d: summary' % seg['id'], p.stdout)

    def test_segment_header_corruption(self):
        seg = self.used()[1]
        path = self.corrupt('seghdr.flash', [self.flipped(seg['offset'] + 16, 1)])
        p = run([INSPECT, path])
        self.assertEqual(p.returncode, 1)
        self.assertIn(b'segment %d (offset %d): header:' % (seg['id'], seg['offset']),
                      p.stdout)
        self.assertIn(b'checksum', p.stdout)

    def test_superblock_corruption(self):
        path = self.corrupt('sb.flash', [self.flipped(40, 1)])
        p = run([INSPECT, path])
        self.assertEqual(p.returncode, 1)
        self.assertIn(b'superblock (offset 0)', p.stdout)
        self.assertIn(b'checksum mismatch', p.stdout)
        self.assertIn(b'problem', p.stderr)

    def test_state_record_corruption(self):
        path = self.corrupt('state.flash', [self.flipped(4096 + 30, 1)])
        p = run([INSPECT, path])
        self.assertEqual(p.returncode, 1)
        self.assertIn(b'state record (offset 4096)', p.stdout)

    def test_truncated_file(self):
        path = self.corrupt('trunc.flash', [])
        seg = self.used()[-1]
        with open(path, 'r+b') as f:
            f.truncate(seg['offset'] + 4096)
        p = run([INSPECT, path])
        self.assertEqual(p.returncode, 1)
        self.assertIn(b'truncated', p.stdout)
        self.assertIn(b'segment %d: data ends at' % seg['id'], p.stdout)

    def test_not_a_flash_file(self):
        path = os.path.join(self.dir, 'text')
        with open(path, 'wb') as f:
            f.write(b'hello world\n' * 1000)
        p = run([INSPECT, path])
        self.assertEqual(p.returncode, 2)
        self.assertIn(b'not a tiercache flash file', p.stderr)
        rep = json.loads(run([INSPECT, path, '--json']).stdout)
        self.assertEqual(rep['exit_code'], 2)
        empty = os.path.join(self.dir, 'empty')
        open(empty, 'wb').close()
        self.assertEqual(run([INSPECT, empty]).returncode, 2)

    def test_usage_and_missing_file(self):
        self.assertEqual(run([INSPECT]).returncode, 2)
        self.assertEqual(run([INSPECT, '--bogus', self.good]).returncode, 2)
        p = run([INSPECT, os.path.join(self.dir, 'nope')])
        self.assertEqual(p.returncode, 2)
        self.assertIn(b'cannot open', p.stderr)


if __name__ == '__main__':
    unittest.main(verbosity=2)
