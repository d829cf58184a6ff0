"""Real clients logging in with SASL (-S, PLAIN over the binary protocol):
python3-binary-memcached (bmemcached.Client(..., user, password)) and
pylibmc (binary=True, username=, password=). A wrong password must fail.
The sasldb and memcached.conf are made in a temporary directory
(harness.make_sasl_conf) and handed over with SASL_CONF_PATH.
"""

import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'blackbox'))
import harness  # noqa: E402
from harness import BBTest  # noqa: E402

try:
    import bmemcached
except ImportError:
    bmemcached = None
try:
    import pylibmc
except ImportError:
    pylibmc = None


class SaslClientsTest(BBTest):
    def setUp(self):
        super().setUp()
        d = tempfile.mkdtemp(prefix='cl-sasl-')
        self.addCleanup(shutil.rmtree, d, True)
        env = harness.make_sasl_conf(d, {'app': 's3cret'})
        self.srv = self.start(['-S'], env=env)
        self.addr = '%s:%d' % (harness.HOST, self.srv.port)

    @unittest.skipIf(bmemcached is None, 'python3-binary-memcached missing')
    def test_bmemcached(self):
        c = bmemcached.Client([self.addr], 'app', 's3cret', socket_timeout=3)
        self.assertTrue(c.set('bm-key', 'value'))
        self.assertEqual(c.get('bm-key'), 'value')
        self.assertEqual(c.incr('bm-n', 1) if c.set('bm-n', '5') else None, 6)
        c.disconnect_all()
        bad = bmemcached.Client([self.addr], 'app', 'wrong', socket_timeout=3)
        with self.assertRaises(bmemcached.exceptions.MemcachedException) as e:
            bad.set('bm-key', 'other')
        self.assertIn('Auth failure', str(e.exception))
        bad.disconnect_all()
        self.assertEqual(c.get('bm-key'), 'value')

    @unittest.skipIf(pylibmc is None, 'python3-pylibmc missing')
    def test_pylibmc(self):
        c = pylibmc.Client([self.addr], binary=True, username='app',
                           password='s3cret')
        self.assertTrue(c.set('pl-key', b'value'))
        self.assertEqual(c.get('pl-key'), b'value')
        c.set_multi({'pl-a': b'1', 'pl-b': b'2'})
        self.assertEqual(c.get_multi(['pl-a', 'pl-b']),
                         {'pl-a': b'1', 'pl-b': b'2'})
        c.disconnect_all()
        bad = pylibmc.Client([self.addr], binary=True, username='app',
                             password='wrong')
        with self.assertRaises(pylibmc.Error) as e:
            bad.set('pl-key', b'other')
        self.assertIn('AUTHENTICATION FAILURE', str(e.exception))
        bad.disconnect_all()
        self.assertEqual(c.get('pl-key'), b'value')


if __name__ == '__main__':
    harness.main()
