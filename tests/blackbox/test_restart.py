"""Restarts with a flash tier (issue 10; tiercache only).

A clean stop (SIGTERM, SIGUSR1, `shutdown` with -A) writes the RAM items to
flash and leaves a live map of the index; the next start with the same
flash file serves every item that was cached before, with the same value,
flags, cas and remaining TTL, whatever -m and -t it is given. flush_all
(also delayed) stays in force; new cas values stay above every old one.
After a kill -9 the last crash checkpoint comes back if no key it kept
changed since; an overwrite, delete or flush_all answered before the kill
never comes undone.

Small geometry (-m 4, a 64 MiB flash file, 1 MiB segments): the loads are
8x RAM, so most keys are on flash at the stop and the RAM part is large.
Bounded: about a minute (more in the sanitizer build).
"""

import os
import random
import re
import signal
import subprocess
import tempfile
import time
import unittest

import harness
from harness import BBTest, tiercache_only
from test_flash import FlashDirTest, Client, base_args, flash_support, value_for, RAM_MB, MiB


STATE_OFFSET = 4096  # format.h: FLASH_STATE_OFFSET; the record's layout is drawn there


def xxh3_64(data):
    """XXH3_64bits of data, from the libxxhash the server itself links."""
    import ctypes
    lib = ctypes.CDLL('libxxhash.so.0')
    lib.XXH3_64bits.restype = ctypes.c_uint64
    lib.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    return lib.XXH3_64bits(data, len(data))


def host_boot_tag():
    """This host's boot tag as the server computes it (ckpt.c
    flash_boot_tag): the low 32 bits of XXH3_64bits of the boot id, 1 for 0."""
    with open('/proc/sys/kernel/random/boot_id', 'rb') as f:
        t = xxh3_64(f.read()) & 0xffffffff
    return t or 1


def stamp_boot_tag(path, tag):
    """Rewrites the state record's boot tag (offset 112) and its checksum
    (offset 120, XXH3_64bits of bytes [0, 120)) in the flash file at path.
    A crash file carries the tag of the boot it was written in; a fixture
    made on another host is stamped with this host's to stand for a crash
    without a restart, or with another to stand for one after a restart."""
    with open(path, 'r+b') as f:
        f.seek(STATE_OFFSET)
        rec = bytearray(f.read(128))
        assert rec[:8] == b'TCFSTATE', rec[:8]
        rec[112:116] = tag.to_bytes(4, 'little')
        rec[120:128] = xxh3_64(bytes(rec[:120])).to_bytes(8, 'little')
        f.seek(STATE_OFFSET)
        f.write(rec)


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
class Restart(FlashDirTest):
    dir_prefix = 'bb-restart-'

    def up(self, *extra, ram=None):
        args = base_args(self.path, *extra)
        if ram is not None:
            args[1] = str(ram)
        return self.up_with(args)

    def up_with(self, args):
        """A server started with args, and a Client of it; both are
        cleaned up after the test."""
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
        # what each live key holds: a key a read missed before the stop (a
        # cache may miss) may still come back after it, with this value
        self.written = {}
        rng = random.Random(seed)
        for i, k in enumerate(keys):
            v = value_for(rng, k, 1, 100, 3000)
            self.written[k] = (b'new/' + k, 7) if i % 10 == 0 else (v, i)
        for k in keys[5::10]:
            del self.written[k]
        return keys

    def assert_same(self, before, after, what, elapsed):
        """elapsed: seconds from the start of the read before the stop to
        the end of the read after the start: the most a TTL may have
        dropped (plus rounding)."""
        missing = [k for k in before if k not in after]
        extra = [k for k in after if k not in before and
                 (k not in self.written or after[k][:2] != self.written[k])]
        wrong = [k for k in before if k in after and
                 (after[k][:3] != before[k][:3] or
                  (before[k][3] >= 0) != (after[k][3] >= 0) or
                  not (before[k][3] - elapsed - 2 <= after[k][3] <= before[k][3] + 1))]
        self.assertEqual((missing[:5], len(missing)), ([], 0), what + ': lost')
        self.assertEqual(extra[:5], [], what + ': keys deleted, or with a value never written')
        self.assertEqual([(k, before[k], after[k]) for k in wrong[:3]], [],
                         what + ': value, flags, cas or TTL changed')

    def restart_roundtrip(self, how, first=(), extra=(), ram=None):
        srv, c = self.up(*first)
        keys = self.load(c, b'k')
        st = c.stats()
        self.assertGreater(int(st['flash_items']), len(keys) // 3, st)
        t_before = time.monotonic()
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
        self.assert_same(before, after, how, time.monotonic() - t_before)
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

    def wait_checkpoint(self, c, after):
        """Waits (bounded) until a crash checkpoint holds what is on flash
        (with --flash-checkpoint-interval 1): one newer than `after`, or,
        once the writer has been idle for 2 s, the one taken before `after`
        was read - the writer takes no new one while nothing changed and
        the last still holds (ckpt.c flash_ckpt_maybe), so on a slow
        machine the checkpoint that covers a load may come before the
        load's caller reads the count. Returns the count."""
        deadline = time.monotonic() + 30
        last, still = None, 0
        while time.monotonic() < deadline:
            st = c.stats()
            n = int(st['flash_checkpoints'])
            if n > after:
                return n
            cur = (st['flash_items'], st['flash_bytes_written'],
                   st['flash_checkpoint_extends'])
            still = still + 1 if cur == last else 0
            last = cur
            if n >= 1 and still >= 20:
                return n
            time.sleep(0.1)
        self.fail('no crash checkpoint within 30 s')

    def writer_idle(self, c, limit_s):
        """Waits (at most limit_s) until the writer is idle: flash_items
        and the checkpoint's extends unchanged for 1.5 s (a write stalled
        on a busy disk can outlast 0.5 s). Returns the stats."""
        deadline, last, still = time.monotonic() + limit_s, None, 0
        while time.monotonic() < deadline and still < 15:
            st = c.stats()
            cur = (st['flash_items'], st['flash_checkpoint_extends'])
            still = still + 1 if cur == last else 0
            last = cur
            time.sleep(0.1)
        return st

    def test_kill_after_checkpoint(self):
        """kill -9 after a checkpoint and reads only: what the checkpoint
        kept comes back exactly; nothing else."""
        srv, c = self.up('--flash-checkpoint-interval', '1')
        keys = self.load(c, b'x', n_ram=3)
        n0 = int(c.stats()['flash_checkpoints'])
        self.wait_checkpoint(c, n0)
        before = meta_all(c, keys)
        max_cas = max(v[2] for v in before.values())
        self.down(srv, c, 'kill')
        srv, c = self.up('--flash-checkpoint-interval', '1')
        self.assertIn('from the last crash checkpoint', srv.stderr())
        st = c.stats()
        self.assertEqual(st['flash_recovery'], 'checkpoint', st)
        got = meta_all(c, keys)
        # what the checkpoint kept: the segments written before it (not the
        # open one, not RAM)
        kept = int(st['flash_recovered_items'])
        self.assertGreater(kept, 500, st)
        self.assertGreaterEqual(len(got), kept * 99 // 100, 'recovered entries unreadable')
        wrong = [k for k in got if k not in before or got[k][:3] != before[k][:3]]
        self.assertEqual(wrong[:3], [], 'a value the server did not hold before the kill')
        self.assertEqual(c.call(b'set fresh 0 0 1\r\nx\r\n'), [b'STORED'])
        cas = int(c.call(b'mg fresh c\r\n')[0].split(b' ')[1][1:])
        self.assertGreater(cas, max_cas)
        self.down(srv, c)

    def test_kill_right_after_load(self):
        """kill -9 right after a load, no checkpoint since its start: the
        segments sealed after it (extended into it) come back, all but the
        open one; every value as before the kill."""
        srv, c = self.up('--flash-checkpoint-interval', '3600')
        keys = self.load(c, b'z', n_ram=4)
        st = self.writer_idle(c, 20)
        self.assertEqual(st['flash_checkpoints'], '1', 'one checkpoint, at the start')
        extends = int(st['flash_checkpoint_extends'])
        self.assertGreater(extends, 3, st)
        on_flash = int(st['flash_items'])
        per_seg = on_flash // max(1, int(st['flash_segments_used']) - 2)
        before = meta_all(c, keys)
        self.down(srv, c, 'kill')
        srv, c = self.up('--flash-checkpoint-interval', '3600')
        m = re.search(r'(\d+) segments sealed after it', srv.stderr())
        self.assertTrue(m, srv.stderr())
        self.assertGreaterEqual(int(m.group(1)), extends, srv.stderr())
        st = c.stats()
        self.assertEqual(st['flash_recovery'], 'checkpoint', st)
        kept = int(st['flash_recovered_items'])
        self.assertGreaterEqual(kept, on_flash - 2 * per_seg,
                                'more than the open segment lost: %s' % st)
        got = meta_all(c, keys)
        self.assertGreaterEqual(len(got), kept * 99 // 100, 'recovered entries unreadable')
        wrong = [k for k in got if k not in before or got[k][:3] != before[k][:3]]
        self.assertEqual(wrong[:3], [], 'a value the server did not hold before the kill')
        self.down(srv, c)

    def test_one_checkpoint_for_a_load_of_small_items(self):
        """A load of more keys than the first checkpoint's old extension
        room (65,536) is covered by one checkpoint and its extensions: the
        first is built once a segment is sealed, with room for what the
        free segments hold. Before, a second build (a new filter, full at
        once) followed, and the sets of new keys its false positives
        matched each waited for a journal write (issue 14 item 3)."""
        srv, c = self.up('--flash-checkpoint-interval', '3600')
        rng = random.Random(5)
        n = 150000
        for j in range(0, n, 2000):
            c.sock.sendall(b''.join(
                b'set s%d 0 0 %d noreply\r\n%s\r\n' % (i, len(v), v)
                for i in range(j, min(n, j + 2000))
                for v in [value_for(rng, b's%d' % i, 1, 60, 140)]))
        self.assertEqual(c.call(b'mn\r\n'), [b'MN'])
        st = self.writer_idle(c, 30)
        self.assertGreater(int(st['flash_items']), 100000, st)
        self.assertEqual(st['flash_checkpoints'], '1', 'one build for the load')
        self.assertEqual(st['flash_checkpoint_extends_skipped'], '0', st)
        self.assertGreater(int(st['flash_checkpoint_extends']), 3, st)
        # sets of new keys the filters wrongly matched: each a journal write
        self.assertLess(int(st['flash_checkpoint_kills']), 50, st)
        self.down(srv, c)

    def test_kill_after_changes(self):
        """kill -9 right after overwrites, deletes and a flush_all were
        answered: none of the older values comes back."""
        for change in ('overwrite', 'delete', 'flush'):
            srv, c = self.up('--flash-checkpoint-interval', '1')
            keys = self.load(c, b'y', n_ram=3)
            self.wait_checkpoint(c, int(c.stats()['flash_checkpoints']))
            on_flash = list(meta_all(c, keys))[:300]
            new = {}
            if change == 'overwrite':
                for k in on_flash:
                    v = b'changed/' + k
                    self.assertEqual(c.call(b'set %s 9 0 %d\r\n%s\r\n' % (k, len(v), v)),
                                     [b'STORED'])
                    new[k] = v
            elif change == 'delete':
                for k in on_flash:
                    self.assertEqual(c.call(b'delete %s\r\n' % k), [b'DELETED'])
            else:
                self.assertEqual(c.call(b'flush_all\r\n'), [b'OK'])
            self.down(srv, c, 'kill')
            srv, c = self.up('--flash-checkpoint-interval', '1')
            got = meta_all(c, keys)
            if change == 'flush':
                self.assertEqual(len(got), 0, 'flushed keys came back after a crash')
            for k in on_flash:
                if k in got:
                    self.assertEqual(got[k][0], new.get(k), '%s: %r came back' % (change, k))
            self.down(srv, c)
            os.unlink(self.path)

    def test_failed_start_after_flash_open(self):
        """A start that fails after the flash file was opened (its port is
        taken): a file it created is removed; an existing one keeps what it
        held for the next start."""
        import socket as sk
        busy = sk.socket()
        busy.bind((harness.HOST, 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        try:
            def start_on_busy_port(path):
                p = subprocess.run([harness.BIN, '-p', str(port), '-l', harness.HOST,
                                    '-m', '4', '--flash-path', path, '--flash-size', '64m',
                                    '--flash-segment-size', '1m'],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, timeout=30)
                return p.returncode, p.stderr.decode('utf-8', 'replace')
            new = os.path.join(self.dir, 'new-flash')
            rc, err = start_on_busy_port(new)
            self.assertNotEqual(rc, 0, err)
            self.assertFalse(os.path.exists(new), 'the failed start left its file: ' + err)
            srv, c = self.up()
            keys = self.load(c, b'p', n_ram=2)
            before = meta_all(c, keys)
            self.down(srv, c)
            rc, err = start_on_busy_port(self.path)
            self.assertNotEqual(rc, 0, err)
            srv, c = self.up()
            self.assertEqual(c.stats()['flash_recovery'], 'clean')
            after = meta_all(c, keys)
            self.assertEqual(sorted(after), sorted(before), 'a failed start lost items')
            self.down(srv, c)
        finally:
            busy.close()

    def test_file_of_an_earlier_format(self):
        """A flash file written by tiercache before restarts existed (format
        3, made by commit 25f08bc: fixtures/README.md) is reinitialised with
        a note saying so; none of its items is served (its bytes mean other
        things now), and the file then works as any."""
        geometry = ['-m', '2', '--flash-path', self.path, '--flash-size', '1m',
                    '--flash-segment-size', '64k']
        srv, c = self.start_on_fixture('flash-format3.dat.gz', geometry)
        err = srv.stderr()
        self.assertIn('tiercache flash data of format 3', err)
        self.assertIn('reinitialised as format 4', err)
        self.assertEqual(c.stats()['flash_recovery'], 'new')
        self.assertEqual(meta_all(c, [b'old%d' % i for i in range(0, 12000, 7)]), {},
                         'an item of the old format was served')
        self.assertEqual(c.call(b'set fresh 3 0 2\r\nok\r\n'), [b'STORED'])
        self.down(srv, c)
        srv = harness.Server(geometry)
        srv.start()
        c2 = Client(srv.port)
        self.addCleanup(c2.close)
        self.assertEqual(c2.stats()['flash_recovery'], 'clean')
        self.assertEqual(meta_all(c2, [b'fresh'])[b'fresh'][:2], (b'ok', 3))
        self.down(srv, c2)

    def start_on_fixture(self, name, args, boot_tag=None):
        """A server started with args on a copy of fixtures/<name> (gzip)
        at self.path, its state record first stamped with boot_tag if one
        is given; returns (server, Client), both cleaned up after the test."""
        import gzip
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', name)
        with gzip.open(src, 'rb') as fin, open(self.path, 'wb') as fout:
            fout.write(fin.read())
        if boot_tag is not None:
            stamp_boot_tag(self.path, boot_tag)
        return self.up_with(args)

    def start_on_journal1_fixture(self, boot_tag):
        """A server on the crash file of fixtures/README.md, stamped with
        boot_tag."""
        return self.start_on_fixture(
            'flash-format4-journal1.dat.gz',
            ['-m', '2', '--flash-path', self.path, '--flash-size', '2m',
             '--flash-segment-size', '64k', '--flash-dict-size', '0'], boot_tag)

    def test_crash_file_of_the_previous_build(self):
        """A file the previous build left after a kill -9 (format 4, kill
        journal pages of version 1, no EXTEND records: made by commit
        ab8cb2d, fixtures/README.md) is recovered from its checkpoint; its
        1,152 journaled changes are honoured: no deleted key and no old
        value of an overwritten key is served, every other value is the one
        written. The fixture was made on another host, so its boot tag is
        first set to this host's: a crash with no restart since."""
        srv, c = self.start_on_journal1_fixture(host_boot_tag())
        self.assertIn('from the last crash checkpoint', srv.stderr())
        self.assertIn('(1152 copies changed since)', srv.stderr())
        st = c.stats()
        self.assertEqual(st['flash_recovery'], 'checkpoint', st)
        got = meta_all(c, [b'j%d' % i for i in range(12000)])
        self.assertGreater(len(got), 4000)
        for k, (data, flags, _cas, _ttl) in got.items():
            i = int(k[1:])
            self.assertNotEqual(i % 10, 0, 'deleted %r came back' % k)
            self.assertNotEqual(i % 10, 5, 'overwritten %r came back (RAM-only when killed)' % k)
            self.assertEqual((data, flags), (b'j-%d-' % i + b'x' * 300, i), k)
        self.down(srv, c)

    def test_crash_file_from_before_a_host_restart(self):
        """The same crash file with another boot's tag: the host restarted
        since its checkpoint was journaled, and journal pages are written
        without a sync, so the kills they held may be lost. The flash
        contents are discarded, saying why, and the file then works."""
        srv, c = self.start_on_journal1_fixture(host_boot_tag() ^ 0x5a5a5a5a)
        self.assertIn('the host restarted since the last crash checkpoint was journaled',
                      srv.stderr())
        self.assertEqual(c.stats()['flash_recovery'], 'crash')
        self.assertEqual(meta_all(c, [b'j%d' % i for i in range(1, 12000, 3)]), {},
                         'an item of a discarded crash file was served')
        self.assertEqual(c.call(b'set fresh 3 0 2\r\nok\r\n'), [b'STORED'])
        self.down(srv, c)


if __name__ == '__main__':
    harness.main()
