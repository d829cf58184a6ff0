"""Real Python binary-protocol clients, unchanged: python3-binary-memcached
(bmemcached) and pylibmc with binary=True (libmemcached's binary protocol).

One server for the file; each client works under its own key prefix. Every
step is a subTest, so a run against a server that gets some operations
wrong lists every failing operation instead of stopping at the first.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'blackbox'))
import harness  # noqa: E402
from harness import BBTest  # noqa: E402

IO_TIMEOUT = 2           # seconds, each client's socket timeout
CLIENT_BUDGET = 15.0     # seconds per client script (a run against
                         # memcached takes ~3 s, most of it sleeping)
ALL_BYTES = bytes(range(256)) * 4
BIG = os.urandom(300000)    # random: the clients' compression cannot shrink it


class Steps:
    """Runs named checks as subTests of one test method. Once the client
    has spent CLIENT_BUDGET seconds (a server that does not answer costs a
    socket timeout per step), the remaining steps fail at once, so the file
    stays bounded in time."""

    def __init__(self, test, client):
        self.t = test
        self.client = client
        self.deadline = time.monotonic() + CLIENT_BUDGET

    def _budget(self):
        if time.monotonic() > self.deadline:
            self.t.fail('not run: the %s script spent its %.0f s budget '
                        '(earlier steps timed out)' % (self.client,
                                                       CLIENT_BUDGET))

    def eq(self, name, fn, want):
        with self.t.subTest(client=self.client, op=name):
            self._budget()
            got = fn()
            self.t.assertEqual(got, want, '%s %s' % (self.client, name))
            return got

    def raises(self, name, fn, exc):
        with self.t.subTest(client=self.client, op=name):
            self._budget()
            with self.t.assertRaises(exc, msg='%s %s' % (self.client, name)):
                fn()

    def call(self, name, fn):
        """Runs fn for its value (None if it raised; the subTest fails)."""
        out = [None]
        with self.t.subTest(client=self.client, op=name):
            self._budget()
            out[0] = fn()
        return out[0]


class BinaryMemcached(BBTest):
    """python3-binary-memcached 0.31: no touch/append/prepend in its API."""
    SERVER_ARGS = []

    def test_script(self):
        try:
            import bmemcached
        except ImportError:
            raise unittest.SkipTest('python3-binary-memcached not installed')
        mc = bmemcached.Client(['127.0.0.1:%d' % self.srv.port],
                               socket_timeout=IO_TIMEOUT)
        s = Steps(self, 'bmemcached')
        k = 'bm:'
        try:
            s.eq('set', lambda: mc.set(k + 'a', 'hello'), True)
            s.eq('get', lambda: mc.get(k + 'a'), 'hello')
            s.eq('get miss', lambda: mc.get(k + 'missing'), None)
            s.eq('set bytes', lambda: mc.set(k + 'bin', ALL_BYTES), True)
            s.eq('get bytes', lambda: mc.get(k + 'bin'), ALL_BYTES)
            s.eq('set empty', lambda: mc.set(k + 'empty', b''), True)
            s.eq('get empty', lambda: mc.get(k + 'empty'), b'')
            s.eq('set big', lambda: mc.set(k + 'big', BIG), True)
            s.eq('get big', lambda: mc.get(k + 'big'), BIG)
            s.eq('set object', lambda: mc.set(k + 'obj', {'x': [1, 2]}), True)
            s.eq('get object', lambda: mc.get(k + 'obj'), {'x': [1, 2]})
            # add / replace
            s.eq('add existing', lambda: mc.add(k + 'a', 'x'), False)
            s.eq('add new', lambda: mc.add(k + 'b', 'bee'), True)
            s.eq('get added', lambda: mc.get(k + 'b'), 'bee')
            s.eq('replace missing', lambda: mc.replace(k + 'nope', 'x'),
                 False)
            s.eq('get after failed replace', lambda: mc.get(k + 'nope'), None)
            s.eq('replace existing', lambda: mc.replace(k + 'b', 'bee2'), True)
            s.eq('get replaced', lambda: mc.get(k + 'b'), 'bee2')
            # delete
            s.eq('delete', lambda: mc.delete(k + 'b'), True)
            s.eq('get deleted', lambda: mc.get(k + 'b'), None)
            # the client reports a delete miss as success (only a cas
            # mismatch is False)
            s.eq('delete again', lambda: mc.delete(k + 'b'), True)
            # incr / decr (ints are stored as their digits)
            s.eq('set int', lambda: mc.set(k + 'n', 10), True)
            s.eq('incr', lambda: mc.incr(k + 'n', 5), 15)
            s.eq('decr', lambda: mc.decr(k + 'n', 3), 12)
            s.eq('decr below zero', lambda: mc.decr(k + 'n', 100), 0)
            s.eq('get counter', lambda: mc.get(k + 'n'), 0)
            s.eq('incr large', lambda: mc.incr(k + 'n', 2 ** 63), 2 ** 63)
            s.eq('incr wraps at 2^64',
                 lambda: mc.incr(k + 'n', 2 ** 63 + 1), 1)
            s.eq('set digits', lambda: mc.set(k + 'd', '99'), True)
            s.eq('incr string digits', lambda: mc.incr(k + 'd', 1), 100)
            s.eq('get incremented string', lambda: mc.get(k + 'd'), '100')
            # miss with an initial value and a relative expiry: created
            s.eq('incr miss creates', lambda: mc.incr(k + 'c', 1, default=7,
                                                      time=100), 7)
            s.eq('incr created', lambda: mc.incr(k + 'c', 1), 8)
            s.eq('get created counter', lambda: mc.get(k + 'c'), '8')
            # the client's defaults: initial 0, expiry 1000000 s (relative:
            # under 30 days)
            s.eq('incr miss default', lambda: mc.incr(k + 'e', 1), 0)
            s.eq('get default-created counter', lambda: mc.get(k + 'e'), '0')
            s.eq('decr miss creates', lambda: mc.decr(k + 'f', 1, default=3,
                                                      time=0), 3)
            s.eq('get decr-created', lambda: mc.get(k + 'f'), '3')
            s.raises('incr non-numeric', lambda: mc.incr(k + 'a', 1),
                     bmemcached.exceptions.MemcachedException)
            # cas
            got = s.call('gets', lambda: mc.gets(k + 'a'))
            with self.subTest(client='bmemcached', op='gets value'):
                self.assertEqual(got[0], 'hello')
                self.assertIsInstance(got[1], int)
                self.assertNotEqual(got[1], 0)
            cas = got[1] if got else 0
            s.eq('cas current', lambda: mc.cas(k + 'a', 'new', cas), True)
            s.eq('cas stale', lambda: mc.cas(k + 'a', 'newer', cas), False)
            s.eq('get after cas', lambda: mc.get(k + 'a'), 'new')
            s.eq('cas missing', lambda: mc.cas(k + 'nope', 'x', cas), False)
            got2 = s.call('gets after cas', lambda: mc.gets(k + 'a'))
            with self.subTest(client='bmemcached', op='cas changed'):
                self.assertEqual(got2[0], 'new')
                self.assertNotEqual(got2[1], cas)
            s.eq('delete stale cas', lambda: mc.delete(k + 'a', cas=cas),
                 False)
            s.eq('delete current cas', lambda: mc.delete(k + 'a',
                                                         cas=got2[1]), True)
            s.eq('gets miss', lambda: mc.gets(k + 'a'), (None, None))
            # multi
            # (the client's set_multi cannot send ints: str and bytes only)
            s.eq('set_multi', lambda: mc.set_multi(
                {k + 'm1': 'one', k + 'm2': b'two', k + 'm3': '3'}), [])
            s.eq('get_multi', lambda: mc.get_multi(
                [k + 'm1', k + 'nope', k + 'm2', k + 'm3', k + 'nope2']),
                {k + 'm1': 'one', k + 'm2': b'two', k + 'm3': '3'})
            s.eq('get_multi all missing', lambda: mc.get_multi(
                [k + 'x1', k + 'x2']), {})
            s.eq('delete_multi', lambda: mc.delete_multi([k + 'm1',
                                                          k + 'm2']), True)
            s.eq('get_multi after delete_multi', lambda: mc.get_multi(
                [k + 'm1', k + 'm2', k + 'm3']), {k + 'm3': '3'})
            s.eq('delete_multi with a miss', lambda: mc.delete_multi(
                [k + 'm3', k + 'm1']), False)
            s.eq('get_multi after second delete_multi', lambda: mc.get_multi(
                [k + 'm1', k + 'm2', k + 'm3']), {})
            # expiry: ttl 1 is gone after 2+ seconds
            s.eq('set ttl 1', lambda: mc.set(k + 't', 'short', time=1), True)
            s.eq('set ttl 100', lambda: mc.set(k + 'u', 'long', time=100),
                 True)
            time.sleep(2.2)
            s.eq('expired', lambda: mc.get(k + 't'), None)
            s.eq('not expired', lambda: mc.get(k + 'u'), 'long')
            st = s.call('stats', lambda: mc.stats())
            with self.subTest(client='bmemcached', op='stats content'):
                (_, one), = st.items()
                self.assertGreater(int(one['cmd_get']), 0)
                self.assertIn('curr_items', one)
            s.eq('flush_all', lambda: mc.flush_all(), True)
            s.eq('get after flush', lambda: mc.get(k + 'u'), None)
        finally:
            mc.disconnect_all()


class PyLibmcBinary(BBTest):
    """pylibmc 1.6 over libmemcached with binary=True."""
    SERVER_ARGS = []

    def test_script(self):
        try:
            import pylibmc
        except ImportError:
            raise unittest.SkipTest('pylibmc not installed')
        mc = pylibmc.Client(['127.0.0.1:%d' % self.srv.port], binary=True,
                            behaviors={'cas': True,
                                       'connect_timeout': IO_TIMEOUT * 1000,
                                       'receive_timeout': IO_TIMEOUT * 10**6,
                                       'send_timeout': IO_TIMEOUT * 10**6})
        s = Steps(self, 'pylibmc')
        k = 'pl:'
        try:
            s.eq('set', lambda: mc.set(k + 'a', 'hello'), True)
            s.eq('get', lambda: mc.get(k + 'a'), 'hello')
            s.eq('get miss', lambda: mc.get(k + 'missing'), None)
            s.eq('set bytes', lambda: mc.set(k + 'bin', ALL_BYTES), True)
            s.eq('get bytes', lambda: mc.get(k + 'bin'), ALL_BYTES)
            s.eq('set empty', lambda: mc.set(k + 'empty', b''), True)
            s.eq('get empty', lambda: mc.get(k + 'empty'), b'')
            s.eq('set big', lambda: mc.set(k + 'big', BIG), True)
            s.eq('get big', lambda: mc.get(k + 'big'), BIG)
            s.eq('set object', lambda: mc.set(k + 'obj', {'x': [1, 2]}), True)
            s.eq('get object', lambda: mc.get(k + 'obj'), {'x': [1, 2]})
            # add / replace
            s.eq('add existing', lambda: mc.add(k + 'a', 'x'), False)
            s.eq('add new', lambda: mc.add(k + 'b', 'bee'), True)
            s.eq('get added', lambda: mc.get(k + 'b'), 'bee')
            # binary NOT_FOUND: libmemcached raises instead of returning False
            s.raises('replace missing', lambda: mc.replace(k + 'nope', 'x'),
                     pylibmc.NotFound)
            s.eq('replace existing', lambda: mc.replace(k + 'b', 'bee2'), True)
            s.eq('get replaced', lambda: mc.get(k + 'b'), 'bee2')
            # delete
            s.eq('delete', lambda: mc.delete(k + 'b'), True)
            s.eq('delete again', lambda: mc.delete(k + 'b'), False)
            s.eq('get deleted', lambda: mc.get(k + 'b'), None)
            # incr / decr
            s.eq('set int', lambda: mc.set(k + 'n', 10), True)
            s.eq('incr', lambda: mc.incr(k + 'n', 5), 15)
            s.eq('decr', lambda: mc.decr(k + 'n', 3), 12)
            s.eq('decr below zero', lambda: mc.decr(k + 'n', 100), 0)
            s.eq('get counter', lambda: mc.get(k + 'n'), 0)
            s.eq('set max u64', lambda: mc.set(k + 'w', '18446744073709551615'),
                 True)
            s.eq('incr wraps', lambda: mc.incr(k + 'w', 2), 1)
            # memcached rewrites a shorter result in place, space padded
            s.eq('get wrapped', lambda: mc.get(k + 'w'), '1' + ' ' * 19)
            s.raises('incr miss', lambda: mc.incr(k + 'nope', 1),
                     pylibmc.NotFound)
            s.raises('decr miss', lambda: mc.decr(k + 'nope', 1),
                     pylibmc.NotFound)
            s.eq('get after incr miss', lambda: mc.get(k + 'nope'), None)
            # status 0x06 "non-numeric value" surfaces as this error
            s.raises('incr non-numeric', lambda: mc.incr(k + 'a', 1),
                     pylibmc.UnknownReadFailure)
            s.eq('get after incr non-numeric', lambda: mc.get(k + 'a'),
                 'hello')
            # cas
            got = s.call('gets', lambda: mc.gets(k + 'a'))
            with self.subTest(client='pylibmc', op='gets value'):
                self.assertEqual(got[0], 'hello')
                self.assertNotEqual(got[1], 0)
            cas = got[1] if got else 0
            s.eq('cas current', lambda: mc.cas(k + 'a', 'new', cas), True)
            s.eq('cas stale', lambda: mc.cas(k + 'a', 'newer', cas), False)
            s.eq('get after cas', lambda: mc.get(k + 'a'), 'new')
            s.raises('cas missing', lambda: mc.cas(k + 'nope', 'x', cas),
                     pylibmc.NotFound)
            got2 = s.call('gets after cas', lambda: mc.gets(k + 'a'))
            with self.subTest(client='pylibmc', op='cas changed'):
                self.assertEqual(got2[0], 'new')
                self.assertNotEqual(got2[1], cas)
            s.eq('gets miss', lambda: mc.gets(k + 'missing'), (None, None))
            # append / prepend
            s.eq('set mid', lambda: mc.set(k + 'ap', 'mid'), True)
            s.eq('append', lambda: mc.append(k + 'ap', '-end'), True)
            s.eq('prepend', lambda: mc.prepend(k + 'ap', 'start-'), True)
            s.eq('get appended', lambda: mc.get(k + 'ap'), 'start-mid-end')
            s.eq('append missing', lambda: mc.append(k + 'nope', 'x'), False)
            s.eq('prepend missing', lambda: mc.prepend(k + 'nope', 'x'),
                 False)
            s.eq('get after append miss', lambda: mc.get(k + 'nope'), None)
            # multi
            s.eq('set_multi', lambda: mc.set_multi(
                {k + 'm1': 'one', k + 'm2': b'two', k + 'm3': 3}), [])
            s.eq('get_multi', lambda: mc.get_multi(
                [k + 'm1', k + 'nope', k + 'm2', k + 'm3', k + 'nope2']),
                {k + 'm1': 'one', k + 'm2': b'two', k + 'm3': 3})
            s.eq('get_multi all missing', lambda: mc.get_multi(
                [k + 'x1', k + 'x2']), {})
            s.eq('delete_multi', lambda: mc.delete_multi([k + 'm1',
                                                          k + 'm2']), True)
            s.eq('get_multi after delete_multi', lambda: mc.get_multi(
                [k + 'm1', k + 'm2', k + 'm3']), {k + 'm3': 3})
            # touch changes the expiry both ways (a TTL of 1 can end at the
            # server's next whole-second tick, before the touch: t1 gets 2)
            s.eq('set ttl 2', lambda: mc.set(k + 't1', 'a', time=2), True)
            s.eq('set ttl 100', lambda: mc.set(k + 't2', 'b', time=100), True)
            s.eq('set ttl 1 untouched', lambda: mc.set(k + 't3', 'c', time=1),
                 True)
            s.eq('touch longer', lambda: mc.touch(k + 't1', 100), True)
            s.eq('touch shorter', lambda: mc.touch(k + 't2', 1), True)
            s.eq('touch missing', lambda: mc.touch(k + 'nope', 100), False)
            time.sleep(2.2)
            s.eq('touched longer survives', lambda: mc.get(k + 't1'), 'a')
            s.eq('touched shorter expired', lambda: mc.get(k + 't2'), None)
            s.eq('untouched expired', lambda: mc.get(k + 't3'), None)
            st = s.call('stats', lambda: mc.get_stats())
            with self.subTest(client='pylibmc', op='stats content'):
                self.assertEqual(len(st), 1)
                self.assertGreater(int(st[0][1]['cmd_get']), 0)
                self.assertIn('curr_items', st[0][1])
            s.eq('flush_all', lambda: mc.flush_all(), True)
            s.eq('get after flush', lambda: mc.get(k + 't1'), None)
        finally:
            mc.disconnect_all()


if __name__ == '__main__':
    harness.main()
