"""libmemcached's binary-protocol tools against one server:

    memccapable -b   every binary conformance test must pass (27 in
                     libmemcached 1.1)
    memcaslap -B     a short, bounded binary load (-t 3s) with 10% of the
                     gets verified, then one with 10-key multi-gets: zero
                     verify misses and failures, every get a hit
"""

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
MEMCASLAP = '/usr/bin/memcaslap'


def run(cmd, timeout):
    """Runs cmd; returns (exit code or 'timeout', output)."""
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        return p.returncode, p.stdout.decode('utf-8', 'replace')
    except subprocess.TimeoutExpired as e:
        return ('timeout after %d s' % timeout,
                (e.stdout or b'').decode('utf-8', 'replace'))


class BinaryTools(BBTest):
    SERVER_ARGS = ['-m', '256']

    def test_memccapable_binary(self):
        if not os.path.exists(MEMCCAPABLE):
            raise unittest.SkipTest('memccapable not installed '
                                    '(libmemcached-tools)')
        rc, out = run([MEMCCAPABLE, '-h', harness.HOST, '-p',
                       str(self.srv.port), '-t', '2', '-b'], timeout=20)
        print(out, flush=True)
        results = re.findall(r'^(binary [a-z]+)\s+\[(\w+)\]$', out, re.M)
        failed = ['%s [%s]' % r for r in results if r[1] != 'pass']
        self.assertEqual(failed, [], out)
        self.assertEqual(rc, 0, out)
        self.assertIn('All tests passed', out)
        self.assertEqual(len(results), 27, out)

    def slap(self, extra):
        rc, out = run([MEMCASLAP, '-s', '%s:%d' % (harness.HOST,
                                                   self.srv.port),
                       '-B', '-t', '3s', '-T', '1', '-c', '8',
                       '-X', '200', '-v', '0.1', '-b'] + extra, timeout=12)
        print(out, flush=True)
        self.assertEqual(rc, 0, out)
        fields = dict(re.findall(r'^(\w+): (\d+)$', out, re.M))
        for f in ('cmd_get', 'cmd_set', 'get_misses', 'verify_misses',
                  'verify_failed'):
            self.assertIn(f, fields, 'no %s line in:\n%s' % (f, out))
        self.assertGreater(int(fields['cmd_set']), 100, out)
        self.assertGreater(int(fields['cmd_get']), 100, out)
        self.assertEqual(int(fields['verify_misses']), 0, out)
        self.assertEqual(int(fields['verify_failed']), 0, out)
        self.assertEqual(int(fields['get_misses']), 0, out)
        self.assertNotRegex(out, r'(?i)error|fail(?!ed: 0)', out)
        return fields

    def test_memcaslap_binary(self):
        if not os.path.exists(MEMCASLAP):
            raise unittest.SkipTest('memcaslap not installed '
                                    '(libmemcached-tools)')
        self.slap([])

    def test_memcaslap_binary_multiget(self):
        if not os.path.exists(MEMCASLAP):
            raise unittest.SkipTest('memcaslap not installed '
                                    '(libmemcached-tools)')
        self.slap(['-d', '10'])


if __name__ == '__main__':
    harness.main()
