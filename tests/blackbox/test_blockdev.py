"""The flash tier on a block device (tiercache only).

A loop device over a 48 MiB sparse file stands in for a disk partition:
`--flash-path /dev/loopN` with no `--flash-size` takes the whole device
(its size read with BLKGETSIZE64, not st_size, which is 0 for a device).
Skipped unless run as root with a working `losetup` (containers often
have no loop devices); every loop device attached is detached again.

Asserted: the segment count follows the device size; a load of about 6x
RAM reads back right (or misses); a second server on the device is
refused as "in use" while the first serves every key; a --flash-size
larger than the device is refused; a restart recovers the items.
"""

import os
import shutil
import subprocess
import unittest

import harness
from harness import tiercache_only
from test_flash import FlashDirTest, Client, RAM_MB, MiB
from test_multidev import HEADER_AREA, all_back, load_values, read_back

DEV_BYTES = 48 * MiB
SEG = MiB
LOSETUP = shutil.which('losetup') or '/usr/sbin/losetup'


def loop_support():
    """Why loop devices cannot be used here, or None."""
    if os.geteuid() != 0:
        return 'not root'
    if not os.access(LOSETUP, os.X_OK):
        return 'no losetup'
    return None


@tiercache_only
class BlockDevice(FlashDirTest):
    dir_prefix = 'bb-blockdev-'

    def setUp(self):
        super().setUp()
        why = loop_support()
        if why:
            raise unittest.SkipTest(why)
        backing = os.path.join(self.dir, 'disk.img')
        with open(backing, 'wb') as f:
            f.truncate(DEV_BYTES)
        try:
            p = subprocess.run([LOSETUP, '-f', '--show', backing],
                               capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            raise unittest.SkipTest('losetup -f did not answer in 30 s')
        if p.returncode != 0 or not p.stdout.strip().startswith('/dev/'):
            raise unittest.SkipTest('losetup -f failed: %s' % p.stderr.strip())
        self.dev = p.stdout.strip()
        self.addCleanup(self.detach)

    def detach(self):
        p = subprocess.run([LOSETUP, '-d', self.dev], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, 'losetup -d %s: %s'
                         % (self.dev, p.stderr))

    def args(self, *extra):
        return ['-m', str(RAM_MB), '-t', '2', '--flash-path', self.dev,
                '--flash-segment-size', '1m', '--flash-stall-ms', '2000'] + \
            list(extra)

    def up(self, *extra):
        srv = harness.Server(self.args(*extra))
        srv.start()
        self.addCleanup(lambda: srv.proc and srv.stop(quiet=True))
        c = Client(srv.port)
        self.addCleanup(c.close)
        return srv, c

    def check(self, c, expect, what):
        return read_back(self, c, expect, what)

    def test_whole_device_load_exclusive_restart(self):
        srv, c = self.up()
        st = c.stats()
        nseg = int(st['flash_segments_free']) + int(st['flash_segments_used'])
        self.assertEqual(nseg, (DEV_BYTES - HEADER_AREA) // SEG, st)
        expect = load_values(self, c, b'bd:', 7)
        self.assertGreater(int(c.stats()['flash_items']), len(expect) // 2)
        all_back(self, self.check(c, expect, 'after the load'), expect)

        # a second server on the same device: refused, the first untouched
        rc, err = harness.run_to_exit(['-p', '0', '-l', harness.HOST] +
                                      self.args(), timeout=20)
        self.assertIsNotNone(rc, 'a second server started on %s' % self.dev)
        self.assertNotEqual(rc, 0)
        self.assertIn(self.dev, err)
        self.assertIn('in use', err)
        # (reads move items between the tiers: an index tag collision may
        # drop one of them, as in the first read)
        all_back(self, self.check(c, expect, 'beside the refused server'), expect)
        srv.stop()

        # more bytes than the device has: refused, naming the device
        rc, err = harness.run_to_exit(['-p', '0', '-l', harness.HOST] +
                                      self.args('--flash-size', '1g'),
                                      timeout=20)
        self.assertIsNotNone(rc, 'started with --flash-size past the device')
        self.assertNotEqual(rc, 0)
        self.assertIn(self.dev, err)

        # a restart recovers the items from the device
        srv, c = self.up()
        st = c.stats()
        self.assertGreater(int(st['flash_recovered_items']), len(expect) // 2,
                           st)
        self.assertEqual(st['flash_recovery'], 'clean')
        all_back(self, self.check(c, expect, 'after a restart'), expect)
        srv.stop()


if __name__ == '__main__':
    harness.main()
