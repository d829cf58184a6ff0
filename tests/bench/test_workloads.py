"""tiercache-bench workloads (issue 14): the trace parser, the trace
generator, --cache-aside and --trace replays against a real tiercache and
memcached (stdlib only).

Environment:
    TIERCACHE_BIN    the tiercache binary (started with -p 0 and
                     MEMCACHED_PORT_FILENAME)
    TIERCACHE_BENCH  the tiercache-bench binary
/usr/bin/memcached is started with -u root on a free loopback port.
Servers use tiny geometries (-m 8 / -m 64) and are stopped with SIGTERM;
tiercache must exit 0. Every bench run has a subprocess timeout.
"""

import collections
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

from test_bench import Server  # noqa: E402 (tiercache or memcached, -m, a free port)

TIERCACHE = os.environ.get('TIERCACHE_BIN', '')
BENCH = os.environ.get('TIERCACHE_BENCH', '')
MEMCACHED = '/usr/bin/memcached'
HOST = '127.0.0.1'
RUN_TIMEOUT = 60.0
OPS = {'get', 'gets', 'set', 'add', 'replace', 'cas', 'append', 'prepend',
       'delete', 'incr', 'decr'}


def bench(*args, timeout=RUN_TIMEOUT):
    return subprocess.run([BENCH] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=timeout)


def bench_json(case, *args):
    """Runs the bench with --json; returns the document (exit 0 asserted)."""
    with tempfile.TemporaryDirectory(prefix='tcb-wl-') as d:
        out = os.path.join(d, 'out.json')
        p = bench('--quiet', '--json', out, *args)
        case.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        for bad in ('runtime error', 'AddressSanitizer', 'LeakSanitizer'):
            case.assertNotIn(bad, p.stderr)
        with open(out) as f:
            return json.load(f)


def needs(*what):
    for w in what:
        if not w or not os.path.exists(w):
            raise unittest.SkipTest('missing %r (set TIERCACHE_BIN, TIERCACHE_BENCH)' % w)


class TraceParserTest(unittest.TestCase):
    """Every kind of bad line: exit 2 and "file:line: what" on stderr,
    before any connection (the --server port is closed)."""

    GOOD = '0,key1,10,100,1,get,0\n1,key2,10,50,1,set,60\n'
    CASES = [
        ('0,k,10,100,1,get\n', 'field(s), expected 7'),
        ('0,k,10,100,1,get,0,9\n', 'more than 7'),
        ('x,k,10,100,1,get,0\n', 'timestamp "x" is not a decimal'),
        ('0,,10,100,1,get,0\n', 'empty key'),
        ('0,k,ab,100,1,get,0\n', 'key size "ab"'),
        ('0,k,70000,100,1,get,0\n', 'key size "70000"'),
        ('0,k,10,-5,1,get,0\n', 'value size "-5"'),
        ('0,k,10,2000000,1,get,0\n', 'value size 2000000 above'),
        ('0,k,10,100,c1,get,0\n', 'client id "c1"'),
        ('0,k,10,100,1,fetch,0\n', 'unknown operation "fetch"'),
        ('0,k,10,100,1,get,1.5\n', 'TTL "1.5"'),
        ('0,k,10,100,1,get,\n', 'TTL ""'),
        ('\n', 'empty line'),
        ('0,k,10,100,1,get,0' + 'x' * 5000 + '\n', 'longer than 4096'),
        ('0,k\0,10,100,1,get,0\n', 'NUL byte'),
    ]

    def setUp(self):
        needs(BENCH)
        self.dir = tempfile.TemporaryDirectory(prefix='tcb-trace-')
        # bound, never listened on: connections are refused while the
        # test runs, and no other process can take the port meanwhile
        self.closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.closed.bind((HOST, 0))
        self.port = self.closed.getsockname()[1]

    def tearDown(self):
        self.closed.close()
        self.dir.cleanup()

    def run_trace(self, text):
        path = os.path.join(self.dir.name, 't.csv')
        with open(path, 'w') as f:
            f.write(text)
        return path, bench('--server', '%s:%d' % (HOST, self.port), '--trace', path,
                           '--quiet', timeout=20)

    def test_every_bad_line_kind(self):
        for line, what in self.CASES:
            with self.subTest(line=line[:40]):
                path, p = self.run_trace(self.GOOD + line + self.GOOD)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn('%s:3: ' % path, p.stderr)
                self.assertIn(what, p.stderr)
                self.assertNotIn('cannot connect', p.stderr)

    def test_empty_and_missing_files(self):
        path, p = self.run_trace('')
        self.assertEqual(p.returncode, 2)
        self.assertIn('%s: no request in the file' % path, p.stderr)
        p = bench('--trace', os.path.join(self.dir.name, 'nope.csv'), timeout=20)
        self.assertEqual(p.returncode, 2)
        self.assertIn('nope.csv: cannot open', p.stderr)

    def test_good_file_reaches_the_server(self):
        # a file that parses goes on to connect (and fails on the closed port)
        text = self.GOOD + '2,key3,300,0,1,incr,99999999\r\n3,a b,0,7,2,gets,0'
        path, p = self.run_trace(text)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn('cannot connect', p.stderr)

    def test_trace_flags_refused(self):
        path, _ = self.run_trace(self.GOOD)
        for extra in (['--protocol', 'binary'], ['--mget', '4'], ['--load'],
                      ['--zipf', '0.9'], ['--trace-speed', 'fast'],
                      ['--trace-values', 'text']):
            with self.subTest(extra=extra):
                p = bench('--trace', path, *extra, timeout=20)
                self.assertEqual(p.returncode, 2, p.stderr)


def read_trace(path):
    rows = []
    with open(path) as f:
        for line in f:
            fields = line.rstrip('\n').split(',')
            assert len(fields) == 7, line
            ts, key, ksize, vsize, client, op, ttl = fields
            assert op in OPS, line
            rows.append((int(ts), key, int(ksize), int(vsize), int(client), op, int(ttl)))
    return rows


class TraceGenTest(unittest.TestCase):
    ARGS = ['--gen-count', 20000, '--keys', 1000, '--key-size', 24,
            '--value-size', '100-2000', '--get-ratio', 0.7, '--del-ratio', 0.2,
            '--gen-one-hit', 0.2, '--gen-scan', 500, '--gen-scan-at', 0.5,
            '--gen-ttl', '0:0.7,60:0.3', '--gen-rate', 1000]

    def setUp(self):
        needs(BENCH)
        self.dir = tempfile.TemporaryDirectory(prefix='tcb-gen-')

    def tearDown(self):
        self.dir.cleanup()

    def gen(self, name, *extra):
        path = os.path.join(self.dir.name, name)
        p = bench('--trace-gen', path, *(self.ARGS + list(extra)), timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(path, 'rb') as f:
            return path, f.read()

    def test_deterministic_for_a_seed(self):
        _, a = self.gen('a.csv', '--seed', 7)
        _, b = self.gen('b.csv', '--seed', 7)
        _, c = self.gen('c.csv', '--seed', 8)
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)

    def test_shares_and_format(self):
        path, _ = self.gen('t.csv', '--seed', 3)
        rows = read_trace(path)
        self.assertEqual(len(rows), 20000)
        self.assertEqual(rows[-1][0], 19)            # 1000 lines per second
        self.assertTrue(all(r[2] == 24 and 100 <= r[3] <= 2000 for r in rows))
        scan = rows[10000:10500]
        self.assertTrue(all(r[5] == 'get' for r in scan))
        self.assertEqual(len({r[1] for r in scan}), 500)
        rest = rows[:10000] + rows[10500:]
        uses = collections.Counter(r[1] for r in rest)
        one_hit = sum(1 for r in rest if uses[r[1]] == 1 and r[1] not in
                      {s[1] for s in scan})
        self.assertAlmostEqual(one_hit / len(rest), 0.2, delta=0.015)
        main = [r for r in rest if uses[r[1]] > 1]
        ops = collections.Counter(r[5] for r in main)
        self.assertAlmostEqual(ops['get'] / len(main), 0.7, delta=0.02)
        self.assertAlmostEqual(ops['delete'] / (ops['delete'] + ops['set']), 0.2,
                               delta=0.03)
        per_key = collections.defaultdict(set)
        for r in rows:
            per_key[r[1]].add((r[3], r[6]))
        self.assertTrue(all(len(v) == 1 for v in per_key.values()))  # one size, one TTL
        ttls = collections.Counter(next(iter(v))[1] for v in per_key.values())
        self.assertEqual(set(ttls), {0, 60})
        self.assertAlmostEqual(ttls[60] / len(per_key), 0.3, delta=0.05)

    def test_bad_generator_flags(self):
        for extra in (['--gen-ttl', '0:0.5'], ['--gen-ttl', 'x'],
                      ['--gen-one-hit', '1.5'], ['--gen-rate', '0']):
            with self.subTest(extra=extra):
                p = bench('--trace-gen', os.path.join(self.dir.name, 'x.csv'), *extra,
                          timeout=20)
                self.assertEqual(p.returncode, 2, p.stderr)


class ServersMixin:
    """Runs each test against a tiercache and a memcached."""

    def each_server(self, mem, body):
        """Calls body(server) with a fresh server of each kind."""
        for binary in (TIERCACHE, MEMCACHED):
            with self.subTest(server=os.path.basename(binary)):
                srv = Server(binary, mem)
                try:
                    body(srv)
                finally:
                    code, err = srv.stop()
                if not srv.is_memcached:
                    self.assertEqual(code, 0, err)
                    self.assertNotIn('runtime error', err)
                    self.assertNotIn('AddressSanitizer', err)


class CacheAsideTest(ServersMixin, unittest.TestCase):
    def setUp(self):
        needs(BENCH, TIERCACHE, MEMCACHED)

    def test_everything_fits_no_misses(self):
        # 500 x 1000 B in 64 MiB: once every key has been filled, a window
        # has no miss. Which keys a time-based warm-up reaches is chance (a
        # slow machine's left one unread now and then: a memcached miss
        # ratio of 6.3e-05 was seen), so runs with new seeds go on until
        # one misses nothing; a key that missed again after its fill (lost,
        # evicted) would keep every run above 0
        def body(srv):
            fills = 0
            for run in range(6):
                doc = bench_json(self, '--server', srv.addr, '--cache-aside', '--keys', 500,
                                 '--value-size', 1000, '--get-ratio', 1,
                                 '--warmup', 1.5 if run == 0 else 0, '--duration', 1,
                                 '--conns', 2, '--depth', 4, '--seed', run + 1)
                r = doc['results']
                fills += r['fills']
                self.assertEqual(doc['errors']['total'], 0)
                if r['miss_ratio'] == 0.0:
                    break
            self.assertEqual(r['miss_ratio'], 0.0, 'still missing after %d runs' % (run + 1))
            self.assertEqual(r['byte_miss_ratio'], 0.0)
            self.assertGreater(r['get_keys'], 1000)
            self.assertGreaterEqual(fills, 500)   # every key missed once and was filled
        self.each_server(64, body)

    def test_miss_ratio_matches_server_stats(self):
        # 40000 x 1000 B (40 MB) against -m 8: misses; the bench's window
        # (no warm-up) must agree with the server's get_misses / cmd_get
        cases = [('text', 1, 0), ('meta', 4, 4), ('binary', 4, 0), ('text', 8, 4),
                 ('binary', 2, 3)]
        def body(srv):
            for i, (proto, depth, mget) in enumerate(cases):
                with self.subTest(protocol=proto, depth=depth, mget=mget):
                    before = srv.stats()
                    doc = bench_json(self, '--server', srv.addr, '--cache-aside',
                                     '--keys', 40000, '--value-size', 1000,
                                     '--zipf', 0.9, '--get-ratio', 1, '--warmup', 0,
                                     '--duration', 1, '--conns', 2, '--depth', depth,
                                     '--mget', mget, '--protocol', proto,
                                     '--key-prefix', 'ca%d:' % i, '--ttl', 3600)
                    after = srv.stats()
                    gets = int(after['cmd_get']) - int(before['cmd_get'])
                    misses = int(after['get_misses']) - int(before['get_misses'])
                    r = doc['results']
                    self.assertGreater(r['miss_ratio'], 0.05)
                    self.assertGreater(r['byte_miss_ratio'], 0.05)
                    self.assertAlmostEqual(r['miss_ratio'], misses / gets, delta=0.02)
                    # every miss was filled (the last ones may still be in flight)
                    self.assertAlmostEqual(r['fills'], misses, delta=depth * max(mget, 1) * 2 * 2)
                    self.assertEqual(r['fill_dropped'], 0)
                    # under -m 8 a store may rarely find no memory (every
                    # tail item busy): SERVER_ERROR out of memory, as
                    # memcached; any other error fails
                    e = doc['errors']
                    nomem = int(after['store_no_memory']) - int(before['store_no_memory'])
                    self.assertEqual(e['total'] - e['server_error'], 0, e)
                    self.assertLessEqual(e['server_error'], nomem, (e, nomem))
        self.each_server(8, body)

    def test_ttl_is_sent(self):
        # every key the run filled carries the TTL; which keys those are is
        # chance (key 7 alone was missed once in CI, where the ASan bench
        # completed few requests in 0.3 s), so all 50 are asked for
        def body(srv):
            doc = bench_json(self, '--server', srv.addr, '--cache-aside', '--keys', 50,
                             '--key-size', 16, '--value-size', 100, '--get-ratio', 1,
                             '--warmup', 0, '--duration', 0.3, '--ttl', 1000,
                             '--key-prefix', 'ttl:')
            ask = b''.join(b'mg ttl:%012d t v k\r\n' % i for i in range(50))
            reply = srv.command(ask + b'mn\r\n', end=b'MN\r\n')
            heads = [l for l in reply.split(b'\r\n') if l.startswith(b'VA ')]
            self.assertGreater(len(heads), 0, (reply, doc['results']))
            for head in heads:
                self.assertTrue(head.startswith(b'VA 100 t'), head)
                ttl = int(head.split(b' t')[1].split(b' ')[0])
                self.assertTrue(990 <= ttl <= 1000, head)
        self.each_server(64, body)


class TraceReplayTest(ServersMixin, unittest.TestCase):
    EXTRA = ('0,cnt,8,2,1,incr,0\n0,cnt,8,2,1,set,0\n0,cnt,8,2,1,incr,0\n'
             '0,cnt,8,2,1,decr,0\n0,cnt,8,2,1,get,0\n0,app,8,10,1,set,0\n'
             '0,app,8,5,1,append,0\n0,app,8,5,1,prepend,0\n0,app,8,20,1,get,0\n'
             '0,new,8,30,1,add,0\n0,new,8,30,1,add,0\n0,new,8,31,1,replace,0\n'
             '0,new,8,32,1,cas,0\n0,new,8,32,1,gets,0\n0,gone,8,3,1,replace,0\n'
             '0,gone,8,3,1,delete,0\n0,gone,8,3,1,get,0\n0,jdoc,8,500,1,set,0\n')

    def setUp(self):
        needs(BENCH, TIERCACHE, MEMCACHED)
        self.dir = tempfile.TemporaryDirectory(prefix='tcb-replay-')
        self.trace = os.path.join(self.dir.name, 't.csv')
        p = bench('--trace-gen', self.trace, '--gen-count', 20000, '--keys', 3000,
                  '--zipf', 0.9, '--value-size', '10-3000', '--get-ratio', 0.8,
                  '--del-ratio', 0.1, '--gen-one-hit', 0.1, '--gen-scan', 1000,
                  '--gen-ttl', '0:0.8,3600:0.2', '--key-size', 40, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(self.trace, 'a') as f:
            f.write(self.EXTRA)

    def tearDown(self):
        self.dir.cleanup()

    def test_replay_verified(self):
        def body(srv):
            for proto, depth, speed, values in (('text', 4, 'max', 'json'),
                                                ('meta', 1, 'recorded', 'random')):
                with self.subTest(protocol=proto):
                    srv.command(b'flush_all\r\n', end=b'OK\r\n')
                    doc = bench_json(self, '--server', srv.addr, '--trace', self.trace,
                                     '--verify', '--protocol', proto, '--depth', depth,
                                     '--conns', 3, '--trace-speed', speed,
                                     '--trace-values', values)
                    r = doc['results']
                    self.assertEqual(doc['workload']['trace_requests'], 20018)
                    self.assertEqual(doc['workload']['trace_values'], values)
                    self.assertEqual(r['ops'], 20018 + r['fills'])
                    reply = srv.command(b'get jdoc....\r\n')
                    self.assertTrue(reply.startswith(b'VALUE jdoc.... '), reply)
                    data = reply.split(b'\r\n')[1]
                    self.assertEqual(len(data), 500)
                    if values == 'json':
                        self.assertEqual(json.loads(data)['_v'], '%016x' % 500)
                    else:
                        self.assertFalse(data.startswith(b'{"_v"'))
                        self.assertTrue(all(0x21 <= c <= 0x7e for c in data))
                    self.assertGreater(doc['verify']['checked'], 5000)
                    self.assertEqual(doc['verify']['failures'], 0)
                    self.assertGreater(doc['verify']['skipped'], 0)  # cnt, app
                    self.assertEqual(doc['errors']['total'], 0)
                    self.assertGreater(r['miss_ratio'], 0.05)
                    self.assertGreater(r['ops_per_sec'], 0)
                    if speed == 'recorded':
                        self.assertGreaterEqual(r['duration'], 1.0)  # ts 0..2
        self.each_server(8, body)

    def test_verify_catches_a_wrong_value(self):
        path = os.path.join(self.dir.name, 'small.csv')
        with open(path, 'w') as f:
            f.write('0,victim,10,5,1,get,0\n')
        def body(srv):
            # same length, other bytes: a hit whose value is wrong
            srv.command(b'set victim.... 0 0 5\r\nhello\r\n', end=b'\r\n')
            p = bench('--server', srv.addr, '--trace', path, '--verify', '--quiet')
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn('wrong value 1', p.stdout)
            self.assertIn('victim....', p.stderr)
        self.each_server(8, body)


if __name__ == '__main__':
    unittest.main(verbosity=2)
