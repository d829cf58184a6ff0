"""A crash loop over one flash file (issue 10; tiercache only).

One client writes, overwrites, deletes and flushes 12,000 keys over one
connection, one request at a time, with values that derive from key and
version; the server is killed with SIGKILL at a random moment of each of
24 rounds (a timer, while requests are in flight: inside segment writes,
reclaims and checkpoint builds as they happen to fall; some rounds end
with a quiet second so a crash checkpoint is taken first). After each
restart every key is read and checked against what the client saw
answered: a value older than the last answered write, or one that was
answered deleted or flushed, is a stale value; a value no write made is a
wrong value. Both must be zero. A miss is allowed (a crash keeps what the
last valid checkpoint kept); the share recovered is printed.

Small geometry: -m 2, a 32 MiB file of 256 KiB segments (reclaim wraps the
ring within a few rounds), a checkpoint every second. About a minute.
"""

import os
import random
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest

import harness
from harness import BBTest, tiercache_only
from test_flash import FlashDirTest, Client, flash_support

NKEYS = 12000
ROUNDS = 24


def value(key, ver):
    head = b'%s:%d:' % (key, ver)
    n = 300 + (ver * 7919 + len(key)) % 1200
    body = (b'%d-' % ver) * (n // 4 + 1)
    return (head + body)[:n]


def parse(key, data):
    """The version a value encodes, or None if no write made it."""
    p = data.split(b':', 2)
    if len(p) != 3 or p[0] != key or not p[1].isdigit():
        return None
    ver = int(p[1])
    return ver if data == value(key, ver) else None


@tiercache_only
class CrashLoop(FlashDirTest):
    dir_prefix = 'bb-crash-'

    def up(self):
        srv = harness.Server(['-m', '2', '-t', '2', '--flash-path', self.path,
                              '--flash-size', '32m', '--flash-segment-size', '256k',
                              '--flash-checkpoint-interval', '1',
                              '--flash-stall-ms', '2000'])
        srv.start()
        return srv

    def test_crash_loop(self):
        rng = random.Random(int(os.environ.get('TC_CRASH_SEED', '7')))
        keys = [b'c%d' % i for i in range(NKEYS)]
        # the model: key -> last answered version (0: absent), and the
        # version of a write in flight when the server died (or None)
        acked = {k: 0 for k in keys}
        inflight = {}
        ver = 0
        totals = {'present': 0, 'recovered': 0, 'stale': 0, 'wrong': 0}
        kinds = {}
        for rnd in range(ROUNDS):
            srv = self.up()
            c = Client(srv.port, timeout=10)
            kinds[c.stats()['flash_recovery']] = kinds.get(c.stats()['flash_recovery'], 0) + 1
            self.check(c, keys, acked, inflight, totals, rnd)
            inflight.clear()
            quiet = rng.random() < 0.3
            busy_for = rng.uniform(0.3, 2.0)
            killer = threading.Timer(busy_for + (2.5 if quiet else 0.0),
                                     lambda p=srv.proc: p.send_signal(signal.SIGKILL))
            killer.start()
            t_end = time.monotonic() + busy_for
            try:
                while True:
                    k = rng.choice(keys)
                    r = rng.random()
                    if time.monotonic() > t_end:
                        r = 0.99   # reads only: a checkpoint may be taken
                    if r < 0.65:
                        ver += 1
                        v = value(k, ver)
                        inflight[k] = ver
                        c.sock.sendall(b'set %s 0 0 %d\r\n%s\r\n' % (k, len(v), v))
                        self.assertEqual(c.line(), b'STORED')
                        acked[k] = ver
                        del inflight[k]
                    elif r < 0.75:
                        inflight[k] = 0
                        c.sock.sendall(b'delete %s\r\n' % k)
                        self.assertIn(c.line(), (b'DELETED', b'NOT_FOUND'))
                        acked[k] = 0
                        del inflight[k]
                    elif r < 0.75002:
                        inflight['*flush*'] = True
                        c.sock.sendall(b'flush_all\r\n')
                        self.assertEqual(c.line(), b'OK')
                        for kk in keys:
                            acked[kk] = 0
                        del inflight['*flush*']
                    else:
                        c.sock.sendall(b'mg %s v\r\n' % k)
                        ln = c.line()
                        if ln != b'EN':
                            data = c.exact(int(ln.split(b' ')[1]) + 2)[:-2]
                            got = parse(k, data)
                            self.assertEqual(got, acked[k], 'live read of %r' % k)
                        else:
                            self.assertEqual(acked[k], 0, 'live miss of %r' % k)
            except (harness.Closed, OSError, socket.timeout, IndexError, ValueError):
                pass   # the kill
            killer.join()
            c.close()
            srv.stop(quiet=True)
        srv = self.up()
        c = Client(srv.port, timeout=10)
        self.check(c, keys, acked, inflight, totals, ROUNDS)
        c.close()
        problem = srv.stop()
        self.assertFalse(problem, problem)
        share = totals['recovered'] / max(1, totals['present'])
        sys.stderr.write('crash loop: %d kills; %d of %d live keys recovered (%.1f%%); '
                         'stale %d, wrong %d; starts: %s\n' % (ROUNDS, totals['recovered'],
                                                   totals['present'], 100 * share,
                                                   totals['stale'], totals['wrong'],
                                                   kinds))
        self.assertEqual(totals['wrong'], 0, 'values no write made')
        self.assertEqual(totals['stale'], 0, 'stale values after a crash')

    def check(self, c, keys, acked, inflight, totals, rnd):
        """Reads every key after a restart; updates the model (a key that
        is gone is gone: a miss is allowed once, then it is absent)."""
        flush_unknown = '*flush*' in inflight
        c.sock.sendall(b''.join(b'mg %s v\r\n' % k for k in keys))
        for k in keys:
            ln = c.line()
            got = None
            if ln != b'EN':
                data = c.exact(int(ln.split(b' ')[1]) + 2)[:-2]
                got = parse(k, data)
                if got is None:
                    totals['wrong'] += 1
                    continue
            ok = {acked[k]}
            if k in inflight:
                ok.add(inflight[k])
            if flush_unknown:
                ok.add(0)
            if got is None:
                if acked[k]:
                    totals['present'] += 1
                acked[k] = 0   # lost in the crash (allowed): now absent
                continue
            if got not in ok:
                totals['stale'] += 1
                sys.stderr.write('round %d: %r holds version %d, answered %r\n' %
                                 (rnd, k, got, sorted(ok)))
                continue
            if acked[k]:
                totals['present'] += 1
                totals['recovered'] += 1
            acked[k] = got


if __name__ == '__main__':
    harness.main()
