"""A pool of three tiercache servers behind twemproxy (Debian's nutcracker)
and behind client-side ketama (issue 12; tiercache only, see docs/pool.md).

- Spread: 3000 keys set through the proxy land on all three servers (each
  holds 20-47%), each on exactly the server nutcracker's ketama (md5, 160
  points per server named host:port) names, computed here in Python; every
  key reads back through the proxy, directly with pylibmc (libmemcached)
  {'ketama_weighted': True} and with pymemcache's HashClient given that
  ketama as its hasher. What does NOT agree, and why, is asserted too:
  pylibmc {'ketama': True} alone (100 points per server and libmemcached's
  default one-at-a-time key hash while every weight is 1), pymemcache's
  default HashClient (rendezvous hashing with murmur3, not ketama), and
  nutcracker servers given names (the name, not host:port, is hashed).
- Outage: one server is stopped (SIGTERM, or SIGKILL after its crash
  checkpoints settled) and started again on its port and flash file while
  one thread reads and writes through the proxy (auto_eject_hosts: false)
  and one through a pylibmc ketama client. Errors for the stopped server's
  keys are allowed; values are derived from key and version, so a wrong
  value (not derived from its key) or a stale one (older than the last
  acknowledged write of that key) is detected and fails the test. Keys of
  the other two servers keep working during the outage; after the restart
  both clients reach the restarted server's keys again. SIGTERM: every key
  the server held comes back. SIGKILL: the checkpoint's items come back
  (flash_recovery checkpoint, recovered items > 0), none stale or wrong.
- auto_eject_hosts: true moves a stopped server's keys to the others; a
  key overwritten there during the outage is served stale by the warm
  restarted server once nutcracker takes it back. Asserted, as the reason
  docs/pool.md recommends auto_eject_hosts: false for tiercache.

Small geometry: -m 2, 16 MiB flash files of 256 KiB segments. Every wait
is bounded; only processes started here are stopped. About 30 s.
"""

import bisect
import hashlib
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'blackbox'))
import harness  # noqa: E402

NUTCRACKER = '/usr/sbin/nutcracker'
HOST = harness.HOST          # every address used here is loopback
NSERVERS = 3
NKEYS = 3000
VICTIM = 1                   # the server stopped in the outage tests
LOAD_KEYS = 240              # keys per load thread


def server_args(path, *extra):
    return ['-m', '2', '-t', '2', '--flash-path', path, '--flash-size', '16m',
            '--flash-segment-size', '256k', '--flash-stall-ms', '2000',
            '--flash-checkpoint-interval', '1'] + list(extra)


# ---- values derived from key and version -----------------------------------

def make_value(key, ver, lo=100, hi=1500):
    """key|ver|filler: filler and length follow from key and version."""
    k = key.encode() if isinstance(key, str) else key
    n = lo + zlib.crc32(b'%s/%d' % (k, ver)) % (hi - lo)
    head = b'%s|%d|' % (k, ver)
    # incompressible: the flash tier compresses, and the tests want
    # segments filled and sealed
    return head + hashlib.shake_128(head).digest(max(n - len(head), 0))


def parse_value(key, value, lo=100, hi=1500):
    """The version a value carries, or None if it is not one make_value
    makes for this key (a wrong value)."""
    k = key.encode() if isinstance(key, str) else key
    parts = value.split(b'|', 2)
    if len(parts) != 3 or parts[0] != k or not parts[1].isdigit():
        return None
    ver = int(parts[1])
    return ver if value == make_value(key, ver, lo, hi) else None


# ---- ketama as nutcracker computes it ----------------------------------------

class Ketama:
    """twemproxy's ketama (nc_ketama.c): per server 160 * weight share
    points, 4 from each md5 of "NAME-i" (i from 0), NAME = host:port
    unless the yml names the server, and just host on port 11211 (both
    nutcracker and libmemcached drop the default port: checked by hand on
    127.0.0.1:11211, which a test may not take); a key's point is the
    first 4 bytes (little endian) of md5(key); the first point at or after
    it wins, wrapping. With distribution ketama and hash md5 this is also
    libmemcached's {'ketama_weighted': True}.

    Also usable as pymemcache HashClient's hasher (get_node, add_node,
    remove_node; nodes are "host:port" strings)."""

    def __init__(self, nodes=(), weights=None):
        self.nodes = list(nodes)
        self.weights = dict(weights or {})
        self._build()

    def _build(self):
        pts = []
        total = sum(self.weights.get(n, 1) for n in self.nodes)
        for n in self.nodes:
            share = self.weights.get(n, 1) / total
            per = int(share * 160 / 4 * len(self.nodes) + 1e-10) * 4
            name = n[:-len(':11211')] if n.endswith(':11211') else n
            for i in range(per // 4):
                d = hashlib.md5(('%s-%d' % (name, i)).encode()).digest()
                for x in range(4):
                    pts.append((struct.unpack_from('<I', d, 4 * x)[0], n))
        pts.sort(key=lambda p: p[0])
        self.points = [p[0] for p in pts]
        self.owners = [p[1] for p in pts]

    def add_node(self, node):
        if node not in self.nodes:
            self.nodes.append(node)
            self._build()

    def remove_node(self, node):
        self.nodes.remove(node)
        self._build()

    def get_node(self, key):
        if not self.points:
            return None
        k = key.encode() if isinstance(key, str) else key
        h = struct.unpack_from('<I', hashlib.md5(k).digest())[0]
        i = bisect.bisect_left(self.points, h)
        return self.owners[i % len(self.points)]


# ---- processes ---------------------------------------------------------------

class Nutcracker:
    """nutcracker on a free loopback port, its stats on another loopback
    port, config and log in a temporary directory."""

    def __init__(self, tmpdir, ports, auto_eject=False, names=None):
        self.tmpdir = tmpdir
        self.ports = ports
        self.auto_eject = auto_eject
        self.names = names
        self.proc = None

    def conf(self, port):
        lines = []
        for i, p in enumerate(self.ports):
            name = (' ' + self.names[i]) if self.names else ''
            lines.append('   - %s:%d:1%s' % (HOST, p, name))
        return ('pool:\n'
                '  listen: %s:%d\n'
                '  hash: md5\n'
                '  distribution: ketama\n'
                '  timeout: 2000\n'
                '  auto_eject_hosts: %s\n'
                '  server_retry_timeout: 1000\n'
                '  server_failure_limit: 1\n'
                '  servers:\n%s\n' % (HOST, port,
                                      'true' if self.auto_eject else 'false',
                                      '\n'.join(lines)))

    def start(self):
        last = ''
        for _ in range(3):   # free_port is racy: retry with others
            self.port = harness.free_port()
            stats_port = harness.free_port()
            path = os.path.join(self.tmpdir, 'nutcracker.yml')
            with open(path, 'w') as f:
                f.write(self.conf(self.port))
            self.log = os.path.join(self.tmpdir, 'nutcracker.log')
            self.proc = subprocess.Popen(
                [NUTCRACKER, '-c', path, '-s', str(stats_port), '-a', HOST,
                 '-o', self.log, '-p', os.path.join(self.tmpdir, 'nc.pid')],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    harness.Conn(self.port, timeout=1).close()
                    return self
                except OSError:
                    time.sleep(0.05)
            last = self.logtail()
            self.stop()
        raise AssertionError('nutcracker did not start: ' + last)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def logtail(self):
        try:
            with open(self.log, errors='replace') as f:
                return f.read()[-3000:]
        except OSError:
            return ''

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()   # our own child only
                self.proc.wait(timeout=10)
        self.proc = None


def start_server(path, port=None):
    """A tiercache server on an ephemeral loopback port, or on `port` (a
    restart: the last -p wins over the harness's -p 0)."""
    args = server_args(path) + (['-p', str(port)] if port else [])
    last = None
    for _ in range(5 if port else 1):
        try:
            return harness.Server(args).start()
        except harness.ServerError as e:   # the old port not free yet
            last = e
            time.sleep(0.2)
    raise last


def raw_get_many(port, keys, batch=100):
    """{key: value} read directly from one server (pipelined get)."""
    out = {}
    c = harness.Conn(port, timeout=10)
    try:
        for i in range(0, len(keys), batch):
            part = keys[i:i + batch]
            c.send(b''.join(b'get %s\r\n' % k.encode() for k in part))
            for _ in part:
                while True:
                    line = c.readline()
                    if line == b'END\r\n':
                        break
                    f = line.split()
                    assert f[0] == b'VALUE', line
                    data = c.recv_exact(int(f[3]) + 2)[:-2]
                    out[f[1].decode()] = data
    finally:
        c.close()
    return out


def stats(port):
    c = harness.Conn(port, timeout=5)
    try:
        c.send(b'stats\r\n')
        raw = c.recv_until(b'END\r\n')
    finally:
        c.close()
    out = {}
    for line in raw.decode().split('\r\n'):
        p = line.split(' ', 2)
        if len(p) == 3 and p[0] == 'STAT':
            out[p[1]] = p[2]
    return out


def pylibmc_client(ports, **behaviors):
    import pylibmc
    b = {'connect_timeout': 1000, 'retry_timeout': 1,
         'send_timeout': 2000000, 'receive_timeout': 2000000}
    b.update(behaviors)
    return pylibmc.Client(['%s:%d' % (HOST, p) for p in ports], binary=False,
                          behaviors=b)


def close_client(c):
    """Closes a pymemcache client or disconnects a pylibmc one."""
    try:
        if hasattr(c, 'disconnect_all'):
            c.disconnect_all()
        else:
            c.close()
    except Exception:
        pass


# ---- load threads ----------------------------------------------------------------

class Load(threading.Thread):
    """Writes its own keys (prefix) with rising versions and reads its own
    keys and the base keys back, through one client, until stopped.
    Counts per phase and per owner (victim or not); records wrong (not
    derived from the key) and stale (older than the last acknowledged
    write) values."""

    def __init__(self, name, client_fn, prefix, owner_of, base, phase):
        super().__init__(name=name, daemon=True)
        self.client_fn = client_fn
        self.keys = ['%s:%d' % (prefix, i) for i in range(LOAD_KEYS)]
        self.owner_of = owner_of
        self.base = base              # {key: value}, never rewritten
        self.base_keys = list(base)
        self.phase = phase            # a one-element list: the main thread's phase
        self.acked = {}               # key: last acknowledged version
        self.tried = {}               # key: highest version attempted
        self.ok = {}                  # (phase, victim?) -> successful ops
        self.errors = {}              # phase -> failed ops
        self.wrong = []
        self.stale = []
        self.stop_ev = threading.Event()
        self.crash = None

    def count(self, key, good):
        ph = self.phase[0]
        if good:
            slot = (ph, self.owner_of(key) == VICTIM)
            self.ok[slot] = self.ok.get(slot, 0) + 1
        else:
            self.errors[ph] = self.errors.get(ph, 0) + 1

    def check(self, key, got):
        """got: bytes or None (a miss)."""
        if got is None:
            return
        if key in self.base:
            if got != self.base[key]:
                self.wrong.append((key, got[:60]))
            return
        ver = parse_value(key, got)
        if ver is None:
            self.wrong.append((key, got[:60]))
        elif ver < self.acked.get(key, 0) or ver > self.tried.get(key, 0):
            self.stale.append((key, ver, self.acked.get(key, 0)))

    def run(self):
        rng = random.Random(self.name)
        client = self.client_fn()
        i = 0
        try:
            while not self.stop_ev.is_set():
                key = self.keys[i % len(self.keys)]
                i += 1
                ver = self.tried.get(key, 0) + 1
                self.tried[key] = ver
                try:
                    if client.set(key, make_value(key, ver)):
                        self.acked[key] = ver
                        self.count(key, True)
                    else:
                        self.count(key, False)
                except Exception:
                    self.count(key, False)
                    client = self.reconnect(client)
                for k in (rng.choice(self.keys[:i]), rng.choice(self.base_keys)):
                    try:
                        got = client.get(k)
                    except Exception:
                        self.count(k, False)
                        client = self.reconnect(client)
                        continue
                    self.count(k, True)
                    self.check(k, got)
                if self.phase[0] == 'down':
                    time.sleep(0.002)   # errors come fast: do not spin
        except BaseException as e:   # reported by the test
            self.crash = repr(e)
        finally:
            close_client(client)

    def reconnect(self, client):
        if hasattr(client, 'behaviors'):
            return client   # libmemcached reconnects by itself
        close_client(client)
        return self.client_fn()


# ---- the tests -----------------------------------------------------------------

class PoolTest(unittest.TestCase):

    def setUp(self):
        if harness.REFERENCE:
            raise unittest.SkipTest('tiercache-only (flash files, restarts)')
        if not os.path.exists(NUTCRACKER):
            raise unittest.SkipTest('nutcracker is not installed')
        try:
            import pylibmc  # noqa: F401
            import pymemcache  # noqa: F401
        except ImportError as e:
            raise unittest.SkipTest('client missing: %s' % e)
        self.dir = tempfile.mkdtemp(prefix='pool-')
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.paths = [os.path.join(self.dir, 'flash%d' % i) for i in range(NSERVERS)]
        self.servers = []
        for p in self.paths:
            self.servers.append(start_server(p))
        self.addCleanup(self.stop_servers)
        self.ports = [s.port for s in self.servers]
        self.names = ['%s:%d' % (HOST, p) for p in self.ports]
        self.ketama = Ketama(self.names)

    def stop_servers(self):
        problems = []
        for s in self.servers:
            if s.proc is not None:
                problem = s.stop()
                if problem:
                    problems.append(problem)
        self.assertEqual(problems, [])

    def proxy(self, **kw):
        nc = Nutcracker(self.dir, self.ports, **kw).start()
        self.addCleanup(nc.stop)
        return nc

    def owner(self, key):
        return self.names.index(self.ketama.get_node(key))

    def where(self, keys):
        """{key: [server indexes holding it]} read directly."""
        out = {}
        for i, p in enumerate(self.ports):
            for k in raw_get_many(p, keys):
                out.setdefault(k, []).append(i)
        return out

    def load_base(self, nc, prefix='b', n=NKEYS):
        from pymemcache.client.base import Client
        c = Client((HOST, nc.port), connect_timeout=5, timeout=5,
                   default_noreply=False)
        base = {}
        try:
            for i in range(n):
                k = '%s:%d' % (prefix, i)
                base[k] = make_value(k, 1, 800, 7000)
                self.assertTrue(c.set(k, base[k], noreply=False), k)
        finally:
            c.close()
        return base

    def test_spread_and_ketama_clients(self):
        import pylibmc
        from pymemcache.client.hash import HashClient
        nc = self.proxy()
        base = self.load_base(nc)
        keys = list(base)
        where = self.where(keys)
        self.assertEqual([k for k in keys if len(where.get(k, [])) != 1][:5], [],
                         'a key on no server or on two')
        share = [sum(1 for k in keys if where[k] == [i]) for i in range(NSERVERS)]
        print('\n  shares of %d keys: %s' % (NKEYS, share))
        for i, n in enumerate(share):
            self.assertTrue(0.20 * NKEYS <= n <= 0.47 * NKEYS,
                            'server %d holds %d of %d: %s' % (i, n, NKEYS, share))
        self.assertEqual([k for k in keys if where[k] != [self.owner(k)]][:5], [],
                         "nutcracker's ketama and ours disagree")
        # through the proxy (a multi-get nutcracker splits over the servers)
        via_proxy = pylibmc.Client(['%s:%d' % (HOST, nc.port)])
        got = {}
        for i in range(0, NKEYS, 100):
            got.update(via_proxy.get_multi(keys[i:i + 100]))
        self.assertEqual(len(got), NKEYS)
        self.assertEqual([k for k in keys if got[k] != base[k]][:5], [])
        # libmemcached's ketama as nutcracker's: ketama_weighted (md5)
        lm = pylibmc_client(self.ports, ketama_weighted=True)
        self.assertEqual(lm.behaviors['hash'], 'md5')
        got = {}
        for i in range(0, NKEYS, 100):
            got.update(lm.get_multi(keys[i:i + 100]))
        self.assertEqual(len(got), NKEYS, 'pylibmc ketama_weighted missed keys')
        self.assertEqual([k for k in keys if got[k] != base[k]][:5], [])
        # pymemcache HashClient with nutcracker's ketama as its hasher
        hc = HashClient([(HOST, p) for p in self.ports], hasher=lambda: Ketama(),
                        connect_timeout=5, timeout=5)
        got = {}
        for i in range(0, NKEYS, 100):
            got.update(hc.get_many(keys[i:i + 100]))
        self.assertEqual(len(got), NKEYS, 'HashClient with ketama missed keys')
        self.assertEqual([k for k in keys if got[k] != base[k]][:5], [])
        # what does not agree: pylibmc ketama alone (100 points, default
        # key hash while weights are equal), pymemcache's default
        # HashClient (rendezvous / murmur3)
        plain = pylibmc_client(self.ports, ketama=True)
        self.assertEqual(plain.behaviors['ketama_weighted'], 0)
        found = sum(len(plain.get_multi(keys[i:i + 100])) for i in range(0, NKEYS, 100))
        self.assertLess(found, NKEYS * 0.8, "pylibmc {'ketama': True} found %d" % found)
        rv = HashClient([(HOST, p) for p in self.ports], connect_timeout=5, timeout=5)
        found = sum(len(rv.get_many(keys[i:i + 100])) for i in range(0, NKEYS, 100))
        self.assertLess(found, NKEYS * 0.8, 'default HashClient found %d' % found)
        for client in (via_proxy, lm, hc, plain, rv):
            close_client(client)
        nc.stop()
        # nutcracker with server names hashes the names: other placement
        named = Nutcracker(self.dir, self.ports, names=['cache%d' % i for i in range(3)]).start()
        self.addCleanup(named.stop)
        from pymemcache.client.base import Client
        c = Client((HOST, named.port), connect_timeout=5, timeout=5,
                   default_noreply=False)
        for k in keys[:300]:
            c.set('n' + k, b'x', noreply=False)
        c.close()
        now = self.where(['n' + k for k in keys[:300]])
        moved = sum(1 for k in keys[:300] if now['n' + k] != [self.owner('n' + k)])
        self.assertGreater(moved, 60, 'named servers should place keys by name')
        by_name = Ketama(['cache0', 'cache1', 'cache2'])
        self.assertEqual([k for k in keys[:300] if now['n' + k] !=
                          [int(by_name.get_node('n' + k)[5:])]][:5], [],
                         "named servers: nutcracker's ketama hashes the names")
        named.stop()

    def outage(self, sig):
        """Stops the victim with sig under load, starts it again on the same
        port and flash file, checks every value; returns (base, threads,
        victim base keys read before the stop, after the restart)."""
        from pymemcache.client.base import Client
        nc = self.proxy(auto_eject=False)
        base = self.load_base(nc)
        victim = self.servers[VICTIM]
        vport = victim.port
        if sig == signal.SIGKILL:
            # the base keys that spilled are on flash: wait until the crash
            # checkpoints stop changing (none needed: nothing new on flash)
            deadline = time.monotonic() + 20
            last, since = None, time.monotonic()
            while time.monotonic() < deadline:
                n = int(stats(vport)['flash_checkpoints'])
                if n != last:
                    last, since = n, time.monotonic()
                elif n > 0 and time.monotonic() - since > 2.5:
                    break
                time.sleep(0.1)
            else:
                self.fail('crash checkpoints did not settle in 20 s (%s)' % last)
        phase = ['before']
        owner_of = self.owner
        threads = [
            Load('proxy', lambda: Client((HOST, nc.port), connect_timeout=1,
                                         timeout=2, default_noreply=False), 'lp', owner_of, base, phase),
            Load('ketama', lambda: pylibmc_client(self.ports, ketama_weighted=True),
                 'lk', owner_of, base, phase)]
        for t in threads:
            t.start()
        try:
            time.sleep(1.5)
            vkeys = [k for k in base if owner_of(k) == VICTIM]
            held = raw_get_many(vport, vkeys)
            st = stats(vport)
            print('\n  before the stop: %s of the victim\'s %d base keys held, '
                  '%s flash items, %s checkpoints'
                  % (len(held), len(vkeys), st['flash_items'], st['flash_checkpoints']))
            phase[0] = 'down'
            problem = victim.stop(sig=sig, quiet=(sig == signal.SIGKILL))
            self.assertIsNone(problem)
            time.sleep(1.0)
            restarted = start_server(self.paths[VICTIM], port=vport)
            self.servers[VICTIM] = restarted
            self.assertEqual(restarted.port, vport)
            phase[0] = 'after'
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if all(t.ok.get(('after', True), 0) >= 50 for t in threads):
                    break
                time.sleep(0.1)
        finally:
            for t in threads:
                t.stop_ev.set()
            for t in threads:
                t.join(timeout=20)
        for t in threads:
            self.assertFalse(t.is_alive(), t.name + ' did not stop')
            self.assertIsNone(t.crash, t.name)
            self.assertEqual(t.wrong[:3], [], t.name + ': wrong values')
            self.assertEqual(t.stale[:3], [], t.name + ': stale values')
            self.assertGreater(t.ok.get(('down', False), 0), 0,
                               t.name + ': the other servers were not reachable in the outage')
            self.assertGreaterEqual(t.ok.get(('after', True), 0), 50,
                                    t.name + ': the restarted server was not reached again '
                                    '(ok %s, errors %s)' % (t.ok, t.errors))
        self.assertTrue(nc.alive(), 'nutcracker died: ' + nc.logtail())
        after = raw_get_many(vport, vkeys)
        self.assertEqual([k for k in after if after[k] != base[k]][:3], [],
                         'the restarted server gave a wrong base value')
        # every load key, read through all three paths: valid, never stale
        lm = pylibmc_client(self.ports, ketama_weighted=True)
        via = Client((HOST, nc.port), connect_timeout=5, timeout=5,
                   default_noreply=False)
        for t in threads:
            direct = lm.get_multi(t.keys)
            for k in t.keys:
                t.check(k, direct.get(k))
                t.check(k, via.get(k))
            self.assertEqual(t.wrong[:3], [], t.name + ': wrong values at the end')
            self.assertEqual(t.stale[:3], [], t.name + ': stale values at the end')
        via.close()
        close_client(lm)
        return base, threads, vkeys, held, after

    def test_sigterm_under_load(self):
        base, threads, vkeys, held, after = self.outage(signal.SIGTERM)
        self.assertGreater(len(held), len(vkeys) * 0.95,
                           'the server lost base keys before the stop')
        self.assertEqual(sorted(set(held) - set(after))[:5], [],
                         'keys held before SIGTERM did not come back')
        st = stats(self.servers[VICTIM].port)
        self.assertEqual(st['flash_recovery'], 'clean', st)
        self.assertGreaterEqual(int(st['flash_recovered_items']), len(held))
        # every key acknowledged before the stop and not rewritten is back
        lm = pylibmc_client(self.ports, ketama_weighted=True)
        for t in threads:
            got = lm.get_multi([k for k in t.keys if k in t.acked])
            missing = [k for k in t.keys if k in t.acked and k not in got]
            self.assertEqual(missing[:5], [], t.name + ': acknowledged keys lost')
        close_client(lm)

    def test_sigkill_under_load(self):
        base, threads, vkeys, held, after = self.outage(signal.SIGKILL)
        st = stats(self.servers[VICTIM].port)
        self.assertEqual(st['flash_recovery'], 'checkpoint', st)
        self.assertGreater(int(st['flash_recovered_items']), 0, st)
        self.assertGreater(len(after), 0, 'no base key came back after the kill')
        print('  after kill -9: %s items recovered, %d of %d base keys back'
              % (st['flash_recovered_items'], len(after), len(held)))

    def test_auto_eject_serves_stale_after_warm_restart(self):
        """auto_eject_hosts: true, a warm restart: a key overwritten on
        another server during the outage is served with its old value once
        nutcracker takes the restarted server back (the reason
        docs/pool.md recommends auto_eject_hosts: false)."""
        from pymemcache.client.base import Client
        nc = self.proxy(auto_eject=True)
        keys = [k for k in ('e:%d' % i for i in range(200)) if self.owner(k) == VICTIM][:20]
        c = Client((HOST, nc.port), connect_timeout=2, timeout=2,
                   default_noreply=False)
        self.addCleanup(c.close)
        for k in keys:
            self.assertTrue(c.set(k, make_value(k, 1), noreply=False))
        victim = self.servers[VICTIM]
        vport = victim.port
        self.assertIsNone(victim.stop())
        # the first request fails and ejects it (server_failure_limit 1);
        # later ones go to another server (bounded retries)
        stored = 0
        deadline = time.monotonic() + 10
        while stored == 0 and time.monotonic() < deadline:
            try:
                stored = c.set(keys[0], make_value(keys[0], 2), noreply=False)
            except Exception:
                c.close()
                time.sleep(0.05)
        self.assertTrue(stored, 'nutcracker did not eject the stopped server')
        for k in keys[1:]:
            self.assertTrue(c.set(k, make_value(k, 2), noreply=False))
        self.servers[VICTIM] = start_server(self.paths[VICTIM], port=vport)
        time.sleep(1.3)   # server_retry_timeout 1000 ms: taken back on use
        versions = set()
        deadline = time.monotonic() + 10
        while 1 not in versions and time.monotonic() < deadline:
            for k in keys:
                try:
                    got = c.get(k)
                except Exception:
                    c.close()
                    continue
                if got is not None:
                    versions.add(parse_value(k, got))
            time.sleep(0.1)
        self.assertNotIn(None, versions, 'a wrong value')
        self.assertIn(1, versions, 'no stale value: has auto_eject changed?')


if __name__ == '__main__':
    harness.main()
