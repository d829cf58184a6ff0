"""libmemcached's memccapable -a (every ascii protocol test) must pass."""

import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'blackbox'))
import harness  # noqa: E402
from harness import BBTest  # noqa: E402

MEMCCAPABLE = '/usr/bin/memccapable'


class MemcCapable(BBTest):
    def test_ascii(self):
        if not os.path.exists(MEMCCAPABLE):
            raise unittest.SkipTest('memccapable not installed '
                                    '(libmemcached-tools)')
        srv = self.start()
        p = subprocess.run([MEMCCAPABLE, '-h', harness.HOST, '-p',
                            str(srv.port), '-a'], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=120)
        out = p.stdout.decode('utf-8', 'replace')
        results = re.findall(r'^(ascii [a-z ]+?)\s+\[(\w+)\]$', out, re.M)
        failed = [name for name, res in results if res != 'pass']
        self.assertEqual(failed, [], out)
        self.assertEqual(p.returncode, 0, out)
        self.assertIn('All tests passed', out)
        # the 27 ascii tests of libmemcached 1.1
        self.assertGreaterEqual(len(results), 27, out)


if __name__ == '__main__':
    harness.main()
