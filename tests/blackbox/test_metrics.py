"""The Prometheus endpoint (--metrics-listen; tiercache only: memcached has
none, so there is no reference run).

A server with a small flash tier (-m 4, a 64 MiB file, 1 MiB segments) and
--metrics-listen on a free loopback port gets sets, hits (from RAM and from
flash), misses, deletes, incr/decr, cas and touch; /metrics is scraped with
urllib and parsed with python3-prometheus-client's text parser, and every
value is compared with what the `stats` command says at the same moment.
Also: the families' types and help, the command labels of the
memcached_exporter, 404/405/HEAD, the flag's refusals (bad port, a host
that is not ours, a port in use), scrapes while clients load the server,
a clean SIGTERM with a scraper connection open, a RAM-only server (no
flash families) and `stats reset`, and no HTTP port without the flag.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import harness
from harness import BBTest

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:   # Debian python3-prometheus-client
    text_string_to_metric_families = None

MiB = 1024 * 1024
HTTP_TIMEOUT = 5.0


def flash_args(path):
    return ['-m', '4', '-t', '2', '--flash-path', path, '--flash-size', '64m',
            '--flash-segment-size', '1m', '--flash-stall-ms', '2000']


def start_with_metrics(args, host='127.0.0.1'):
    """Starts a server with --metrics-listen on a free port (retried: the
    port was free a moment ago); host None: the PORT-alone form. Returns
    (server, port)."""
    last = None
    for _ in range(3):
        port = harness.free_port()
        spec = '%s:%d' % (host, port) if host else str(port)
        s = harness.Server(args + ['--metrics-listen', spec])
        try:
            s.start()
            return s, port
        except harness.ServerError as e:
            last = e
            s.stop(quiet=True)
    raise last


def http(port, path='/metrics', method='GET'):
    """(status, headers, body) of one request to the metrics port."""
    req = urllib.request.Request('http://127.0.0.1:%d%s' % (port, path),
                                 method=method)
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        return e.code, e.headers, body


def parse(text):
    """{family name: family} and {sample name: [(labels, value)]}."""
    fams, samples = {}, {}
    for f in text_string_to_metric_families(text):
        fams[f.name] = f
        for s in f.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return fams, samples


def one(samples, name, **labels):
    """The value of the sample `name` with exactly these labels."""
    got = [v for lab, v in samples.get(name, []) if lab == labels]
    if len(got) != 1:
        raise AssertionError('%s%s: %d samples (have %r)' % (
            name, labels, len(got), samples.get(name)))
    return got[0]


class Client:
    """A pipelining text-protocol client (the bulk loads)."""

    def __init__(self, port):
        self.c = harness.Conn(port, timeout=30.0)

    def close(self):
        self.c.close()

    def call(self, data):
        return self.c.call(data)

    def stats(self):
        self.c.send(b'stats\r\n')
        raw = self.c.recv_until(b'END\r\n').decode()
        out = {}
        for line in raw.split('\r\n'):
            p = line.split(' ', 2)
            if len(p) == 3 and p[0] == 'STAT':
                out[p[1]] = p[2]
        return out

    def set_many(self, keys, size):
        """Sets each key to its own incompressible value: 1 MiB segments
        then fill and are written as the load goes. (With one repeated
        value, all of a small load fit one open segment, whose items are
        answered from memory without a device read, so the pipelined
        flash gets below were sometimes never parked.)"""
        for i in range(0, len(keys), 256):
            chunk = keys[i:i + 256]
            self.c.send(b''.join(b'set %s 0 0 %d\r\n%s\r\n' % (
                k.encode(), size, os.urandom(size)) for k in chunk))
            for _ in chunk:
                line = self.c.readline()
                if line != b'STORED\r\n':
                    raise AssertionError('set: %r' % line)

    def get(self, key):
        """The value or None."""
        self.c.send(b'get %s\r\n' % key.encode())
        line = self.c.readline()
        if line == b'END\r\n':
            return None
        n = int(line.split()[3])
        data = self.c.recv_exact(n + 2)[:-2]
        if self.c.readline() != b'END\r\n':
            raise AssertionError('get %s: no END' % key)
        return data


@harness.tiercache_only
class Metrics(BBTest):
    @classmethod
    def setUpClass(cls):
        if text_string_to_metric_families is None:
            raise unittest.SkipTest('python3-prometheus-client is missing')
        cls.dir = tempfile.mkdtemp(prefix='bb-metrics-')
        cls.path = os.path.join(cls.dir, 'flash')
        with open(cls.path, 'wb') as f:
            f.truncate(64 * MiB)
        cls.srv, cls.mport = start_with_metrics(flash_args(cls.path))
        cls.load()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def load(cls):
        """Traffic of every kind; the first keys end up on flash."""
        c = Client(cls.srv.port)
        try:
            keys = ['mk%05d' % i for i in range(3000)]   # 12 MiB > -m 4
            c.set_many(keys, 4000)
            for k in keys[:40] + keys[-40:]:     # flash hits, RAM hits
                if c.get(k) is None:
                    raise AssertionError('lost %s' % k)
            # pipelined flash gets (flash_gets_pipelined)
            c.c.send(b''.join(b'get %s\r\n' % k.encode()
                              for k in keys[40:80]))
            for _ in keys[40:80]:
                c.c.recv_until(b'END\r\n')
            for i in range(25):
                assert c.get('missing%d' % i) is None
            assert c.call(b'set n 0 0 1\r\n5\r\n') == b'STORED\r\n'
            assert c.call(b'incr n 3\r\n') == b'8\r\n'
            assert c.call(b'decr n 1\r\n') == b'7\r\n'
            assert c.call(b'incr nope 1\r\n') == b'NOT_FOUND\r\n'
            assert c.call(b'delete n\r\n') == b'DELETED\r\n'
            assert c.call(b'delete n\r\n') == b'NOT_FOUND\r\n'
            assert c.call(b'cas nope 0 0 1 1\r\nx\r\n') == b'NOT_FOUND\r\n'
            assert c.call(b'set c 0 0 1\r\nx\r\n') == b'STORED\r\n'
            assert c.call(b'cas c 0 0 1 999999\r\ny\r\n') == b'EXISTS\r\n'
            assert c.call(b'touch c 100\r\n') == b'TOUCHED\r\n'
            assert c.call(b'touch nope 100\r\n') == b'NOT_FOUND\r\n'
        finally:
            c.close()

    def scrape(self):
        status, headers, body = http(self.mport)
        self.assertEqual(status, 200)
        self.assertEqual(headers['Content-Type'],
                         'text/plain; version=0.0.4; charset=utf-8')
        return body

    def settled(self, c, names):
        """A `stats` reply and a scrape that agree on `names` (the flash
        writer may still be moving items; up to 5 s). Returns (stats,
        samples) of the last try."""
        deadline = time.monotonic() + 5.0
        while True:
            _, before = parse(self.scrape())
            st = c.stats()
            _, after = parse(self.scrape())
            if all(self.value_of(before, n) == self.value_of(after, n)
                   for n in names) or time.monotonic() > deadline:
                return st, after
            time.sleep(0.1)

    # which sample carries which `stats` name
    STAT_OF = {
        'curr_items': ('memcached_current_items', {}),
        'total_items': ('memcached_items_total', {}),
        'bytes': ('memcached_current_bytes', {}),
        'limit_maxbytes': ('memcached_limit_bytes', {}),
        'evictions': ('memcached_items_evicted_total', {}),
        'reclaimed': ('memcached_items_reclaimed_total', {}),
        'get_hits': ('memcached_commands_total',
                     {'command': 'get', 'status': 'hit'}),
        'get_misses': ('memcached_commands_total',
                       {'command': 'get', 'status': 'miss'}),
        'delete_hits': ('memcached_commands_total',
                        {'command': 'delete', 'status': 'hit'}),
        'delete_misses': ('memcached_commands_total',
                          {'command': 'delete', 'status': 'miss'}),
        'incr_hits': ('memcached_commands_total',
                      {'command': 'incr', 'status': 'hit'}),
        'incr_misses': ('memcached_commands_total',
                        {'command': 'incr', 'status': 'miss'}),
        'decr_hits': ('memcached_commands_total',
                      {'command': 'decr', 'status': 'hit'}),
        'cas_misses': ('memcached_commands_total',
                       {'command': 'cas', 'status': 'miss'}),
        'cas_badval': ('memcached_commands_total',
                       {'command': 'cas', 'status': 'badval'}),
        'touch_hits': ('memcached_commands_total',
                       {'command': 'touch', 'status': 'hit'}),
        'touch_misses': ('memcached_commands_total',
                         {'command': 'touch', 'status': 'miss'}),
        'max_connections': ('memcached_max_connections', {}),
        'curr_connections': ('memcached_current_connections', {}),
        'threads': ('tiercache_threads', {}),
        'flash_items': ('tiercache_flash_items', {}),
        'flash_bytes_used': ('tiercache_flash_bytes', {}),
        'flash_get_hits': ('tiercache_get_hits_total', {'tier': 'flash'}),
        'flash_reclaims': ('tiercache_flash_reclaims_total', {}),
        'flash_reclaim_drops': ('tiercache_flash_reclaim_drops_total', {}),
        'flash_gets_pipelined': ('tiercache_flash_gets_pipelined_total', {}),
        'flash_bytes_written': ('tiercache_flash_written_bytes_total', {}),
        'flash_drops_stall': ('tiercache_flash_drops_total',
                              {'reason': 'stall'}),
        'flash_read_errors': ('tiercache_flash_errors_total',
                              {'kind': 'read'}),
        'flash_recovered_items': ('tiercache_flash_recovered_items', {}),
        'extstore_objects_used': ('memcached_extstore_objects_used', {}),
        'extstore_limit_maxbytes': ('tiercache_flash_limit_bytes', {}),
        'memory_outside_limit': ('tiercache_memory_outside_limit_bytes', {}),
        'memory_hash_table': ('tiercache_memory_outside_limit_part_bytes',
                              {'part': 'hash_table'}),
        'memory_flash_index': ('tiercache_memory_outside_limit_part_bytes',
                               {'part': 'flash_index'}),
        'memory_flash_builders': ('tiercache_memory_outside_limit_part_bytes',
                                  {'part': 'flash_builders'}),
    }

    def value_of(self, samples, stat):
        name, labels = self.STAT_OF[stat]
        return one(samples, name, **labels)

    def test_values_equal_stats(self):
        c = Client(self.srv.port)
        self.addCleanup(c.close)
        st, s = self.settled(c, list(self.STAT_OF))
        for stat in self.STAT_OF:
            self.assertEqual(self.value_of(s, stat), float(st[stat]), stat)
        # the load reached flash, and hits were counted by tier
        self.assertGreater(float(st['flash_items']), 0)
        self.assertGreater(float(st['flash_get_hits']), 0)
        self.assertGreater(float(st['flash_gets_pipelined']), 0)
        self.assertEqual(one(s, 'tiercache_get_hits_total', tier='ram'),
                         float(st['get_hits']) - float(st['flash_get_hits']))
        self.assertGreater(one(s, 'tiercache_get_hits_total', tier='ram'), 0)
        self.assertGreaterEqual(float(st['get_misses']), 25)
        # set, as the exporter counts it: cmd_set without the cas commands
        cas = sum(float(st[k]) for k in ('cas_misses', 'cas_hits',
                                         'cas_badval'))
        self.assertEqual(one(s, 'memcached_commands_total', command='set',
                             status='hit'), float(st['cmd_set']) - cas)
        self.assertEqual(one(s, 'memcached_commands_total', command='flush',
                             status='hit'), float(st['cmd_flush']))
        self.assertEqual(one(s, 'memcached_version',
                             version=st['version']), 1)
        self.assertEqual(one(s, 'memcached_up'), 1)
        self.assertEqual(one(s, 'tiercache_flash_recovery_info', kind='new'),
                         1)
        self.assertAlmostEqual(one(s, 'tiercache_flash_write_amplification'),
                               float(st['flash_write_amplification']),
                               delta=0.006)
        self.assertAlmostEqual(one(s, 'tiercache_flash_compression_ratio'),
                               float(st['flash_compression_ratio']),
                               delta=0.006)
        self.assertEqual(one(s, 'tiercache_flash_segments', state='free') +
                         one(s, 'tiercache_flash_segments', state='used'),
                         float(st['flash_segments_free']) +
                         float(st['flash_segments_used']))
        # counters that only grow: bytes read and uptime, against `stats`
        self.assertGreaterEqual(one(s, 'memcached_read_bytes_total'),
                                float(st['bytes_read']))
        # (the parser names a counter's samples *_total)
        self.assertGreaterEqual(one(s, 'memcached_uptime_seconds_total'),
                                float(st['uptime']))
        self.assertGreaterEqual(
            one(s, 'memcached_process_user_cpu_seconds_total') +
            one(s, 'memcached_process_system_cpu_seconds_total'),
            float(st['rusage_user']) + float(st['rusage_system']))

    def test_slab_values_equal_stats_items(self):
        c = self.conn()
        for _ in range(20):
            items = self.stats(c, 'items')
            _, s = parse(self.scrape())
            items2 = self.stats(c, 'items')
            if items == items2:
                break
            time.sleep(0.1)
        numbers = {k.split(':')[1]: float(v) for k, v in items.items()
                   if k.endswith(':number')}
        self.assertTrue(numbers, 'no items in `stats items`')
        got = {lab['slab']: v
               for lab, v in s['memcached_slab_current_items']}
        self.assertEqual(got, numbers)
        slabs = self.stats(c, 'slabs')
        sizes = {k.split(':')[0]: float(v) for k, v in slabs.items()
                 if k.endswith(':chunk_size')}
        got = {lab['slab']: v
               for lab, v in s['memcached_slab_chunk_size_bytes']}
        self.assertEqual(got, sizes)
        self.assertEqual(one(s, 'memcached_malloced_bytes'),
                         float(slabs['total_malloced']))

    # the exporter's types (a counter family's name loses "_total")
    COUNTERS = ['memcached_commands', 'memcached_connections',
                'memcached_items', 'memcached_items_evicted',
                'memcached_items_reclaimed', 'memcached_read_bytes',
                'memcached_written_bytes', 'memcached_uptime_seconds',
                'memcached_process_user_cpu_seconds',
                'memcached_process_system_cpu_seconds',
                'memcached_connections_rejected',
                'memcached_connections_listener_disabled',
                'memcached_slab_lru_hits', 'memcached_slab_commands',
                'tiercache_get_hits', 'tiercache_flash_reclaims',
                'tiercache_flash_drops', 'tiercache_flash_errors',
                'tiercache_flash_written_bytes']
    GAUGES = ['memcached_up', 'memcached_version', 'memcached_current_items',
              'memcached_current_bytes', 'memcached_limit_bytes',
              'memcached_current_connections', 'memcached_max_connections',
              'memcached_time_seconds', 'memcached_slab_current_items',
              'memcached_extstore_bytes_used', 'tiercache_flash_items',
              'tiercache_flash_bytes', 'tiercache_flash_write_amplification',
              'tiercache_flash_compression_ratio',
              'tiercache_flash_recovery_seconds',
              'tiercache_flash_recovery_info', 'tiercache_threads']

    def test_types_and_format(self):
        text = self.scrape()
        fams, _ = parse(text)
        for name in self.COUNTERS:
            self.assertIn(name, fams)
            self.assertEqual(fams[name].type, 'counter', name)
        for name in self.GAUGES:
            self.assertIn(name, fams)
            self.assertEqual(fams[name].type, 'gauge', name)
        # every family: one # HELP and one # TYPE, before its samples,
        # samples of a family together, counters named *_total except
        # the exporter's own exceptions
        seen, current = set(), None
        helps, types = set(), set()
        for line in text.splitlines():
            self.assertTrue(line, 'an empty line')
            if line.startswith('# HELP '):
                name = line.split()[2]
                self.assertNotIn(name, helps, 'two # HELP for ' + name)
                self.assertGreater(len(line.split(' ', 3)[3]), 5, name)
                helps.add(name)
            elif line.startswith('# TYPE '):
                _, _, name, typ = line.split()
                self.assertNotIn(name, types, 'two # TYPE for ' + name)
                self.assertIn(name, helps, '# TYPE before # HELP: ' + name)
                self.assertIn(typ, ('counter', 'gauge'))
                if typ == 'counter' and not name.endswith('_total'):
                    self.assertIn(name, (
                        'memcached_uptime_seconds',
                        'memcached_slab_items_moves_to_cold',
                        'memcached_slab_items_moves_to_warm',
                        'memcached_slab_items_moves_within_lru'), name)
                types.add(name)
                current = name
            else:
                name = line.split('{')[0].split(' ')[0]
                self.assertEqual(name, current, 'sample out of its family')
                self.assertNotIn(name, seen - {current})
                seen.add(name)
        self.assertEqual(helps, types)
        self.assertEqual(len(fams), len(types))

    def test_command_labels_are_the_exporters(self):
        _, s = parse(self.scrape())
        got = {(lab['command'], lab['status'])
               for lab, _ in s['memcached_commands_total']}
        want = {(op, st) for op in ('get', 'delete', 'incr', 'decr', 'cas',
                                    'touch') for st in ('hit', 'miss')}
        want |= {('cas', 'badval'), ('flush', 'hit'), ('set', 'hit')}
        self.assertEqual(got, want)

    def test_paths_and_methods(self):
        for path in ('/', '/metric', '/metrics/', '/metricsx', '/x/metrics'):
            status, _, body = http(self.mport, path)
            self.assertEqual(status, 404, path)
            self.assertNotIn('memcached_up', body)
        status, _, _ = http(self.mport, '/metrics?name[]=x')
        self.assertEqual(status, 200)
        for method in ('POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'):
            status, headers, _ = http(self.mport, method=method)
            self.assertEqual(status, 405, method)
            self.assertEqual(headers['Allow'], 'GET, HEAD')
        status, headers, body = http(self.mport, method='HEAD')
        self.assertEqual(status, 200)
        self.assertEqual(body, '')
        # garbage instead of HTTP: the connection is closed, the server
        # keeps serving
        with socket.create_connection(('127.0.0.1', self.mport),
                                      timeout=5) as s:
            s.sendall(b'\x00\xff garbage\r\n\r\n')
            s.settimeout(5)
            try:
                while s.recv(4096):
                    pass
            except ConnectionResetError:
                pass
        self.assertEqual(http(self.mport)[0], 200)

    def test_scrapes_during_load(self):
        stop = threading.Event()
        errors = []

        def worker(n):
            try:
                c = Client(self.srv.port)
                i = 0
                while not stop.is_set():
                    k = 'load%d_%d' % (n, i % 500)
                    if c.call(b'set %s 0 0 100\r\n%s\r\n' % (
                            k.encode(), b'x' * 100)) != b'STORED\r\n':
                        errors.append('set failed')
                    c.get(k)
                    c.get('nokey%d' % i)
                    i += 1
                c.close()
            except Exception as e:   # reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=worker, args=(n,))
                   for n in range(3)]
        for t in threads:
            t.start()
        try:
            last = None
            scrapes = 0
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                t0 = time.monotonic()
                _, s = parse(self.scrape())
                self.assertLess(time.monotonic() - t0, 2.0, 'slow scrape')
                scrapes += 1
                self.assertEqual(one(s, 'memcached_up'), 1)
                now = (one(s, 'memcached_commands_total', command='get',
                           status='miss'),
                       one(s, 'memcached_read_bytes_total'))
                if last is not None:
                    self.assertGreaterEqual(now[0], last[0])
                    self.assertGreaterEqual(now[1], last[1])
                last = now
        finally:
            stop.set()
            for t in threads:
                t.join(10)
        self.assertEqual(errors, [])
        self.assertGreater(scrapes, 3)
        self.assertGreaterEqual(one(s, 'memcached_current_connections'), 1)


@harness.tiercache_only
class MetricsFlag(BBTest):
    def test_refusals(self):
        for bad in ('0', '65536', '99999999', 'abc', '127.0.0.1:', ':9150',
                    '127.0.0.1:0', '127.0.0.1:-1', '::1:9150', '[::1]9150',
                    '127.0.0.1:91x'):
            rc, err = harness.run_to_exit(['-p', '0', '-l', '127.0.0.1',
                                           '--metrics-listen', bad])
            self.assertEqual(rc, 64, '%s: %s' % (bad, err))
            self.assertIn('invalid --metrics-listen "%s"' % bad, err)
        rc, err = harness.run_to_exit(['-p', '0', '--metrics-listen', ''])
        self.assertEqual(rc, 64, err)
        # an address of another host (TEST-NET-1): bind fails, no start
        port = harness.free_port()
        rc, err = harness.run_to_exit(['-p', '0', '-l', '127.0.0.1',
                                       '--metrics-listen',
                                       '192.0.2.1:%d' % port])
        self.assertEqual(rc, 71, err)
        self.assertIn('--metrics-listen 192.0.2.1:%d: cannot listen' % port,
                      err)
        # a port in use
        with socket.socket() as busy:
            busy.bind(('127.0.0.1', 0))
            busy.listen(1)
            port = busy.getsockname()[1]
            rc, err = harness.run_to_exit(['-p', '0', '-l', '127.0.0.1',
                                           '--metrics-listen', str(port)])
            self.assertEqual(rc, 71, err)
            self.assertIn('Address already in use', err)

    def test_port_alone_is_loopback_and_help(self):
        s, port = start_with_metrics([], host=None)
        self.addCleanup(s.stop)
        # "PORT" alone: 127.0.0.1
        ours = listening(s.pid)
        self.assertIn(('127.0.0.1', port), ours)
        self.assertEqual(http(port)[0], 200)
        out = subprocess.run([harness.BIN, '-h'], capture_output=True,
                             timeout=10).stdout.decode()
        line = [x for x in out.splitlines() if '--metrics-listen' in x]
        self.assertEqual(len(line), 1, out)
        self.assertIn('127.0.0.1', line[0])
        self.assertIn('default: none', line[0])

    def test_ram_only_and_stats_reset(self):
        """Without a flash tier: no tiercache_flash_* or extstore family,
        hits all from RAM; after `stats reset` the counters restart from
        the same baseline as `stats`."""
        s, port = start_with_metrics([])
        self.addCleanup(s.stop)
        c = Client(s.port)
        self.addCleanup(c.close)
        self.assertEqual(c.call(b'set r 0 0 1\r\nx\r\n'), b'STORED\r\n')
        for _ in range(3):
            self.assertEqual(c.get('r'), b'x')
            self.assertIsNone(c.get('nope'))
        fams, smp = parse(http(port)[2])
        self.assertEqual([f for f in fams if f.startswith(
            ('tiercache_flash', 'memcached_extstore'))], [])
        self.assertEqual(smp['tiercache_get_hits_total'],
                         [({'tier': 'ram'}, 3.0)])
        self.assertEqual(one(smp, 'memcached_commands_total', command='get',
                             status='miss'), 3)
        self.assertEqual(c.call(b'stats reset\r\n'), b'RESET\r\n')
        _, smp = parse(http(port)[2])
        st = c.stats()
        for cmd, status, stat in (('get', 'hit', 'get_hits'),
                                  ('get', 'miss', 'get_misses'),
                                  ('set', 'hit', 'cmd_set')):
            self.assertEqual(one(smp, 'memcached_commands_total',
                                 command=cmd, status=status), 0)
            self.assertEqual(st[stat], '0')
        self.assertEqual(one(smp, 'memcached_current_items'), 1)

    def test_crawler_gauges_follow_run_time_changes(self):
        """The memcached_lru_crawler_* settings gauges show what `stats
        settings` shows: `lru_crawler sleep|tocrawl N` change them, and
        `lru_crawler disable` removes them (as -o no_lru_crawler would)."""
        s, port = start_with_metrics([])
        self.addCleanup(s.stop)
        c = Client(s.port)
        self.addCleanup(c.close)
        _, smp = parse(http(port)[2])
        self.assertEqual(one(smp, 'memcached_lru_crawler_enabled'), 1)
        self.assertEqual(c.call(b'lru_crawler sleep 50\r\n'), b'OK\r\n')
        self.assertEqual(c.call(b'lru_crawler tocrawl 7\r\n'), b'OK\r\n')
        _, smp = parse(http(port)[2])
        self.assertEqual(one(smp, 'memcached_lru_crawler_sleep'), 50)
        self.assertEqual(one(smp, 'memcached_lru_crawler_to_crawl'), 7)
        c.c.send(b'stats settings\r\n')
        st = c.c.recv_until(b'END\r\n').decode()
        self.assertIn('STAT lru_crawler_sleep 50\r\n', st)
        self.assertIn('STAT lru_crawler_tocrawl 7\r\n', st)
        self.assertEqual(c.call(b'lru_crawler disable\r\n'), b'OK\r\n')
        fams, _ = parse(http(port)[2])
        gauges = ('memcached_lru_crawler_enabled', 'memcached_lru_crawler_sleep',
                  'memcached_lru_crawler_to_crawl', 'memcached_lru_crawler_hot_percent')
        self.assertEqual([f for f in gauges if f in fams], [])
        self.assertEqual(c.call(b'lru_crawler enable\r\n'), b'OK\r\n')
        _, smp = parse(http(port)[2])
        self.assertEqual(one(smp, 'memcached_lru_crawler_enabled'), 1)
        self.assertEqual(one(smp, 'memcached_lru_crawler_sleep'), 50)

    def test_off_by_default(self):
        s = self.start([])
        self.assertEqual(listening(s.pid), {('127.0.0.1', s.port)})

    def test_sigterm_with_scrapers_connected(self):
        s, port = start_with_metrics([])
        idle = socket.create_connection(('127.0.0.1', port), timeout=5)
        half = socket.create_connection(('127.0.0.1', port), timeout=5)
        half.sendall(b'GET /metrics HTTP/1.1\r\nHost: x\r\n')  # unfinished
        self.assertEqual(http(port)[0], 200)
        try:
            problem = s.stop()
            self.assertIsNone(problem, problem)
        finally:
            idle.close()
            half.close()


def listening(pid):
    """The (ip, port) TCP sockets process `pid` listens on (IPv4)."""
    inodes = set()
    fd_dir = '/proc/%d/fd' % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith('socket:['):
            inodes.add(target[8:-1])
    out = set()
    with open('/proc/%d/net/tcp' % pid) as f:
        next(f)
        for line in f:
            p = line.split()
            if p[3] != '0A' or p[9] not in inodes:   # 0A: LISTEN
                continue
            addr, port = p[1].split(':')
            ip = '.'.join(str(int(addr[i:i + 2], 16))
                          for i in (6, 4, 2, 0))
            out.add((ip, int(port, 16)))
    return out


if __name__ == '__main__':
    harness.main()
