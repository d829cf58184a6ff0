"""Restarts with a flash tier (issue 10; tiercache only).

A clean stop (SIGTERM, SIGUSR1, `shutdown` with -A) writes the RAM items to
flash and leaves a live map of the index; the next start with the same
flash file serves every item that was cached before, with the same value,
flags, cas and remaining TTL, whatever -m and -t it is given. flush_all
(also delayed) stays in force; new cas values stay above every old one.
After a kill -9 nothing wrong is ever served.

Small geometry (-m 4, a 64 MiB flash file, 1 MiB segments): the loads are
8x RAM, so most keys are on flash at the stop and the RAM part is large.
Bounded: about a minute (more in the sanitizer build).
"""

import os
import random
import signal
import tempfile
import time
import unittest

import harness
from harness import BBTest, tiercache_only
from test_flash import Client, base_args, flash_support, value_for, RAM_MB, MiB


def meta_all(c, keys, batch=256):
    """{key: (value, flags, cas, ttl)} via mg (t: remaining TTL, -1 none)."""
    out = {}
    for i in range(0, len(keys), batch):
        part = keys[i:i + batch]
        c.sock.sendall(b''.join(b'mg %s v f c t\r\n' % k for k in part))
        for k in part:
            ln = c.line()
            if ln == b'EN':
                continue
            f = ln.split(b' ')
            assert f[0] == b'VA', ln
            data = c.exact(int(f[1]) + 2)[:-2]
            fl = {x[:1]: x[1:] for x in f[2:]}
            out[k] = (data, int(fl[b'f']), int(fl[b'c']), int(fl[b't']))
    return out


@tiercache_only
class Restart(BBTest):
    def setUp(self):
        super().setUp()
        why = flash_support()
        if why:
            raise unittest.SkipTest(why)
        self.dir = tempfile.mkdtemp(prefix='bb-restart-')
        self.path = os.path.join(self.dir, 'flash')

    def tearDown(self):
        super().tearDown()
        for f in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, f))
        os.rmdir(self.dir)

    def up(self, *extra, ram=None):
        args = base_args(self.path, *extra)
        if ram is not None:
            args[1] = str(ram)
        srv = harness.Server(args)
        srv.start()
        self.addCleanup(lambda: srv.proc and srv.stop(quiet=True))
        c = Client(srv.port)
        self.addCleanup(c.close)
        return srv, c

    def down(self, srv, c, how='term'):
        if how == 'shutdown':
            c.sock.sendall(b'shutdown\r\n')
            problem = srv.stop(sig=0)   # it exits by itself
        elif how == 'usr1':
            problem = srv.stop(sig=signal.SIGUSR1)
        elif how == 'kill':
            problem = srv.stop(sig=signal.SIGKILL, quiet=True)
        else:
            problem = srv.stop()
        self.assertFalse(problem, problem)
        return srv.final_stderr

    def load(self, c, prefix, n_ram=8, seed=1):
        """Sets 8x RAM of keys with flags and, for a third, a TTL; then
        overwrites and deletes a share. Returns the keys."""
        rng = random.Random(seed)
        keys, total, i = [], 0, 0
        cmds = []
        while total < n_ram * RAM_MB * MiB:
            k = b'%s%d' % (prefix, i)
            v = value_for(rng, k, 1, 100, 3000)
            ttl = 0 if i % 3 else 3600
            cmds.append(b'set %s %d %d %d noreply\r\n%s\r\n' % (k, i, ttl, len(v), v))
            keys.append(k)
            total += len(k) + len(v) + 50
            i += 1
        for j in range(0, len(cmds), 256):
            c.sock.sendall(b''.join(cmds[j:j + 256]))
        for k in keys[::10]:
            v = b'new/' + k
            c.sock.sendall(b'set %s 7 0 %d noreply\r\n%s\r\n' % (k, len(v), v))
        for k in keys[5::10]:
            c.sock.sendall(b'delete %s noreply\r\n' % k)
        self.assertEqual(c.call(b'mn\r\n'), [b'MN'])
        return keys

    def assert_same(self, before, after, what):
        missing = [k for k in before if k not in after]
        extra = [k for k in after if k not in before]
        wrong = [k for k in before if k in after and
                 (after[k][:3] != before[k][:3] or
                  (before[k][3] >= 0) != (after[k][3] >= 0) or
                  abs(after[k][3] - before[k][3]) > 3)]
        self.assertEqual((missing[:5], len(missing)), ([], 0), what + ': lost')
        self.assertEqual(extra[:5], [], what + ': keys that were not there')
        self.assertEqual([(k, before[k], after[k]) for k in wrong[:3]], [],
                         what + ': value, flags, cas or TTL changed')

    def restart_roundtrip(self, how, first=(), extra=(), ram=None):
        srv, c = self.up(*first)
        keys = self.load(c, b'k')
        st = c.stats()
        self.assertGreater(int(st['flash_items']), len(keys) // 3, st)
        before = meta_all(c, keys)
        self.assertGreater(len(before), len(keys) * 8 // 10)
        self.assertTrue(all(k not in before for k in keys[5::10]))
        max_cas = max(v[2] for v in before.values())
        err = self.down(srv, c, how)
        self.assertIn('clean shutdown', err)
        srv, c = self.up(*extra, ram=ram)
        self.assertIn('recovered', srv.stderr())
        st = c.stats()
        self.assertEqual(st['flash_recovery'], 'clean', st)
        self.assertGreaterEqual(int(st['flash_recovered_items']), len(before), st)
        self.assertEqual(st['curr_items'], '0', 'RAM starts empty')
        after = meta_all(c, keys)
        self.assert_same(before, after, how)
        # new cas values stay above every old one
        self.assertEqual(c.call(b'set fresh 0 0 1\r\nx\r\n'), [b'STORED'])
        cas = int(c.call(b'mg fresh c\r\n')[0].split(b' ')[1][1:])
        self.assertGreater(cas, max_cas)
        self.down(srv, c)

    def test_sigterm(self):
        self.restart_roundtrip('term')

    def test_shutdown_command(self):
        self.restart_roundtrip('shutdown', first=('-A',), extra=('-A',))

    def test_sigusr1_other_ram_and_threads(self):
        self.restart_roundtrip('usr1', extra=('-t', '3'), ram=8)

    def test_flush_all_stays(self):
        srv, c = self.up()
        keys = self.load(c, b'f', n_ram=2)
        self.assertEqual(c.call(b'flush_all\r\n'), [b'OK'])
        time.sleep(1.1)   # a set in the flush's second must outlive it
        self.assertEqual(c.call(b'set after 3 0 2\r\nok\r\n'), [b'STORED'])
        # a delayed flush: in force after the restart, when it comes due
        self.assertEqual(c.call(b'set later 4 0 2\r\nok\r\n'), [b'STORED'])
        self.down(srv, c)
        srv, c = self.up()
        self.assertEqual(meta_all(c, keys), {}, 'flushed keys came back')
        got = meta_all(c, [b'after', b'later'])
        self.assertEqual(sorted(got), [b'after', b'later'])
        self.assertEqual(c.call(b'flush_all 2\r\n'), [b'OK'])
        self.down(srv, c)
        srv, c = self.up()
        time.sleep(2.2)
        self.assertEqual(meta_all(c, [b'after', b'later']), {},
                         'a delayed flush_all was forgotten by the restart')
        self.down(srv, c)

    def test_kill_serves_nothing_wrong(self):
        srv, c = self.up()
        keys = self.load(c, b'x', n_ram=3)
        self.down(srv, c, 'kill')
        srv, c = self.up()
        self.assertIn('did not stop cleanly', srv.stderr())
        st = c.stats()
        self.assertEqual(st['flash_recovery'], 'crash', st)
        got = meta_all(c, keys)
        self.assertEqual(got, {}, 'after a crash nothing is recovered yet')
        self.down(srv, c)


if __name__ == '__main__':
    harness.main()
