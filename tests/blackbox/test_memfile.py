"""memcached's -e (memory file): a warm restart of a RAM-only server.

Runs against tiercache and, as the reference, memcached 1.6.18, whose
behaviour it encodes: a graceful stop (SIGUSR1, `shutdown graceful` with
-A) saves the cache; the next start with the same -e serves every item with
the same value, flags and cas, and its TTL kept running while stopped;
flush_all (also delayed) stays in force; new cas values stay above the old
ones. SIGTERM, plain `shutdown` and kill -9 save nothing: the next start is
cold. A start consumes the saved state, so a kill -9 after a warm restart
is a cold start too.

tiercache-only (marked): the log lines, a damaged or truncated file (a
logged cold start; memcached aborts on a damaged .meta), a foreign file
(refused), a smaller -m (tiercache loads what fits, newest first; memcached
refuses the restore), -e with --flash-path (redundant, one log line).

memcached refuses a restart in the same second as its stop ("restart
incompatible due to setting for [stop_time]"), so the reference run waits
1.1 s after each stop; memcached needs -m >= 39 with -e (it preallocates).
"""

import os
import shutil
import signal
import tempfile
import time
import unittest

import harness
from harness import BBTest, tiercache_only, reference_only

NKEYS = 40


def mem_dir():
    base = '/dev/shm' if os.access('/dev/shm', os.W_OK) else None
    return tempfile.mkdtemp(prefix='bb-memfile-', dir=base)


def value_of(i):
    return (b'%d:' % i) * (1 + (i * 97) % 700)


def meta_all(c, keys):
    """{key: (value, flags, cas, ttl)} via mg (ttl -1: none)."""
    out = {}
    c.send(b''.join(b'mg %s v f c t\r\n' % k for k in keys) + b'mn\r\n')
    for k in keys:
        ln = c.readline()[:-2]
        if ln == b'EN':
            continue
        f = ln.split(b' ')
        assert f[0] == b'VA', ln
        data = c.recv_exact(int(f[1]) + 2)[:-2]
        fl = {x[:1]: x[1:] for x in f[2:]}
        out[k] = (data, int(fl[b'f']), int(fl[b'c']), int(fl[b't']))
    assert c.readline() == b'MN\r\n'
    return out


class MemFile(BBTest):
    def setUp(self):
        super().setUp()
        self.dir = mem_dir()
        self.path = os.path.join(self.dir, 'cache.mem')
        self.addCleanup(shutil.rmtree, self.dir, True)

    def up(self, *extra, path=None):
        srv = harness.Server(['-e', path or self.path] + list(extra))
        srv.start()
        self.addCleanup(lambda: srv.proc and srv.stop(quiet=True))
        c = srv.conn()
        self.addCleanup(c.close)
        return srv, c

    def down(self, srv, c, how):
        """Stops the server as `how` says; returns its stderr."""
        quiet = False
        if how == 'usr1':
            sig = signal.SIGUSR1
        elif how in ('graceful', 'shutdown'):
            c.send(b'shutdown graceful\r\n' if how == 'graceful' else b'shutdown\r\n')
            sig = 0   # it exits by itself
        elif how == 'kill':
            sig, quiet = signal.SIGKILL, True
        else:
            sig = signal.SIGTERM
        problem = srv.stop(sig=sig, quiet=quiet)
        self.assertFalse(problem, problem)
        if harness.REFERENCE:
            time.sleep(1.1)   # memcached: no restart in the stop's second
        return srv.final_stderr

    def load(self, c):
        keys = [b'key:%d' % i for i in range(NKEYS)]
        cmds = []
        for i, k in enumerate(keys):
            v = value_of(i)
            ttl = 1000 + i if i % 3 == 0 else 0
            cmds.append(b'set %s %d %d %d\r\n%s\r\n' % (k, i * 7919, ttl, len(v), v))
        c.send(b''.join(cmds))
        for _ in keys:
            self.assertEqual(c.readline(), b'STORED\r\n')
        self.cmd(c, b'delete key:7\r\n', b'DELETED\r\n')
        return keys

    def assert_same(self, before, after, elapsed):
        self.assertEqual(sorted(after), sorted(before), 'the same keys')
        for k, (v, f, cas, ttl) in before.items():
            v2, f2, cas2, ttl2 = after[k]
            self.assertEqual((v2, f2, cas2), (v, f, cas), k)
            if ttl < 0:
                self.assertEqual(ttl2, -1, k)
            else:
                self.assertTrue(ttl - elapsed - 2 <= ttl2 <= ttl + 1,
                                '%s: ttl %d -> %d in %.1f s' % (k, ttl, ttl2, elapsed))

    def roundtrip(self, how, *args):
        t_start = time.monotonic()
        srv, c = self.up(*args)
        keys = self.load(c)
        t0 = time.monotonic()
        before = meta_all(c, keys)
        self.assertEqual(len(before), NKEYS - 1)
        max_cas = max(x[2] for x in before.values())
        err = self.down(srv, c, how)
        if not harness.REFERENCE:
            self.assertIn('memory file %s: saved %d items' % (self.path, NKEYS - 1), err)
        srv, c = self.up(*args)
        if not harness.REFERENCE:
            self.assertIn('memory file %s: restored %d items' % (self.path, NKEYS - 1),
                          srv.stderr())
        st = self.stats(c)
        self.assertEqual(st['total_items'], str(NKEYS - 1), 'restored items count')
        self.assertGreaterEqual(int(st['uptime']), int(time.monotonic() - t_start) - 1,
                                'uptime goes on counting across the restart')
        after = meta_all(c, keys)
        self.assert_same(before, after, time.monotonic() - t0)
        self.cmd(c, b'set fresh 0 0 1\r\nx\r\n', b'STORED\r\n')
        cas = meta_all(c, [b'fresh'])[b'fresh'][2]
        self.assertGreater(cas, max_cas, 'new cas values stay above the old ones')
        return srv, c

    def test_sigusr1_restores(self):
        srv, c = self.roundtrip('usr1')
        self.assertEqual(self.stats(c, 'settings')['memory_file'], self.path)

    def test_shutdown_graceful_restores(self):
        self.roundtrip('graceful', '-A')

    def test_stops_that_do_not_save(self):
        for how in ('term', 'shutdown'):
            srv, c = self.up('-A')
            self.cmd(c, b'set a 1 0 1\r\nx\r\n', b'STORED\r\n')
            self.down(srv, c, how)
            srv, c = self.up('-A')
            self.cmd(c, b'get a\r\n', b'END\r\n')
            if not harness.REFERENCE:
                self.assertIn('none saved, starting with an empty cache', srv.stderr(), how)
            self.down(srv, c, 'term')

    def test_kill_after_warm_restart_is_cold(self):
        srv, c = self.up()
        self.cmd(c, b'set a 1 0 1\r\nx\r\n', b'STORED\r\n')
        self.down(srv, c, 'usr1')
        srv, c = self.up()
        self.cmd(c, b'get a\r\n', b'VALUE a 1 1\r\nx\r\nEND\r\n')
        self.cmd(c, b'set b 2 0 1\r\ny\r\n', b'STORED\r\n')
        if not harness.REFERENCE:
            self.assertFalse(os.path.exists(self.path), 'a start consumes the file')
        self.down(srv, c, 'kill')
        srv, c = self.up()
        self.cmd(c, b'get a b\r\n', b'END\r\n')

    def test_flush_all_survives(self):
        # flush_all N comes due at a whole-second tick, 0-1 s early, and a
        # restarted process's seconds may sit 1 s off the old one's: 6 s
        # leaves the restart 4.5 s and the hit after it 2.5 s or more
        delay = 6
        srv, c = self.up()
        self.cmd(c, b'set old 0 0 1\r\nx\r\n', b'STORED\r\n')
        self.cmd(c, b'flush_all\r\n', b'OK\r\n')
        self.cmd(c, b'set new 0 0 1\r\ny\r\n', b'STORED\r\n')
        self.down(srv, c, 'usr1')
        srv, c = self.up()
        self.cmd(c, b'get old\r\n', b'END\r\n')
        self.cmd(c, b'get new\r\n', b'VALUE new 0 1\r\ny\r\nEND\r\n')
        # a delayed flush_all: in force after the restart, when it comes due
        # (it replaces the earlier one: memcached would show `old` again)
        t_flush = time.monotonic()
        self.cmd(c, b'flush_all %d\r\n' % delay, b'OK\r\n')
        self.down(srv, c, 'usr1')
        srv, c = self.up()
        self.assertLess(time.monotonic() - t_flush, delay - 1.5, 'restart too slow')
        self.cmd(c, b'get new\r\n', b'VALUE new 0 1\r\ny\r\nEND\r\n')
        time.sleep(max(0, t_flush + delay + 2.1 - time.monotonic()))
        self.cmd(c, b'get new\r\n', b'END\r\n')   # the delayed flush came due
        self.cmd(c, b'set later 0 0 1\r\nz\r\n', b'STORED\r\n')
        self.cmd(c, b'get later\r\n', b'VALUE later 0 1\r\nz\r\nEND\r\n')

    @reference_only
    def test_memcached_refuses_another_m(self):
        """memcached restores nothing when -m changed (tiercache loads what
        fits: test_smaller_memory_keeps_the_newest)."""
        srv, c = self.up('-m', '64')
        self.cmd(c, b'set a 1 0 1\r\nx\r\n', b'STORED\r\n')
        self.down(srv, c, 'usr1')
        srv, c = self.up('-m', '128')
        self.cmd(c, b'get a\r\n', b'END\r\n')
        self.assertIn('restart incompatible due to setting for [maxbytes]', srv.stderr())

    # ---- tiercache only ------------------------------------------------

    def saved_file(self):
        srv, c = self.up()
        self.load(c)
        self.down(srv, c, 'usr1')
        with open(self.path, 'rb') as f:
            return f.read()

    @tiercache_only
    def test_damaged_file_is_a_logged_cold_start(self):
        good = self.saved_file()
        for what, data in (('byte flipped', good[:500] + bytes([good[500] ^ 0x40]) + good[501:]),
                           ('truncated', good[:len(good) // 2]),
                           ('header byte', good[:20] + bytes([good[20] ^ 1]) + good[21:])):
            with open(self.path, 'wb') as f:
                f.write(data)
            srv, c = self.up()
            err = srv.stderr()
            self.assertIn('damaged memory file', err, what)
            self.assertIn('starting with an empty cache', err, what)
            self.assertEqual(self.stats(c)['curr_items'], '0', what)
            self.assertFalse(os.path.exists(self.path), what + ': removed')
            self.down(srv, c, 'term')

    @tiercache_only
    def test_foreign_file_refused(self):
        text = b'Tmain\nKslab_config 1.25\nKmaxbytes 67108864\n'
        with open(self.path, 'wb') as f:
            f.write(text)
        srv = harness.Server(['-e', self.path])
        with self.assertRaises(harness.ServerError) as cm:
            srv.start()
        srv.stop(quiet=True)
        self.assertIn('is not a tiercache memory file', str(cm.exception))
        with open(self.path, 'rb') as f:
            self.assertEqual(f.read(), text, 'left untouched')

    @tiercache_only
    def test_smaller_memory_keeps_the_newest(self):
        srv, c = self.up('-m', '8')
        v = b'v' * 1000
        n = 7000
        for j in range(0, n, 500):
            c.send(b''.join(b'set n%05d 0 0 %d noreply\r\n%s\r\n' % (i, len(v), v)
                            for i in range(j, j + 500)))
        self.cmd(c, b'mn\r\n', b'MN\r\n')
        self.assertEqual(self.stats(c)['curr_items'], str(n))
        self.down(srv, c, 'usr1')
        srv, c = self.up('-m', '3')
        kept = int(self.stats(c)['curr_items'])
        self.assertTrue(n // 5 < kept < n, kept)
        self.assertIn('restored %d items' % kept, srv.stderr())
        self.assertIn('%d dropped' % (n - kept), srv.stderr())
        # the newest keys are the ones kept (stored in order, one LRU)
        c.send(b''.join(b'mg n%05d\r\n' % i for i in (n - 1, n - kept, 0, n - kept - 1)))
        self.assertEqual([c.readline() for _ in range(4)],
                         [b'HD\r\n', b'HD\r\n', b'EN\r\n', b'EN\r\n'])

    @tiercache_only
    def test_with_flash_path_redundant(self):
        from test_flash import flash_support
        why = flash_support()
        if why:
            raise unittest.SkipTest(why)
        flash = os.path.join(self.dir, 'flash')
        srv, c = self.up('-m', '4', '--flash-path', flash, '--flash-size', '64m',
                         '--flash-segment-size', '1m')
        self.assertIn('-e %s is not used: the flash tier (--flash-path) keeps the '
                      'cache across restarts' % self.path, srv.stderr())
        self.down(srv, c, 'usr1')
        self.assertFalse(os.path.exists(self.path), 'the flash tier keeps the cache')


if __name__ == '__main__':
    harness.main()
