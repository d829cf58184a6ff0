"""Real Python clients: pymemcache, python-memcache, pylibmc; memcached-tool."""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'blackbox'))
import harness  # noqa: E402
from harness import BBTest  # noqa: E402

MEMCACHED_TOOL = '/usr/share/memcached/scripts/memcached-tool'


class PyMemcache(BBTest):
    SERVER_ARGS = []

    def test_base_client(self):
        try:
            from pymemcache.client.base import Client
        except ImportError:
            raise unittest.SkipTest('pymemcache not installed')
        c = Client((harness.HOST, self.srv.port), connect_timeout=5,
                   timeout=5)
        try:
            self.assertTrue(c.set('pm:a', b'1'))
            self.assertEqual(c.get('pm:a'), b'1')
            self.assertIsNone(c.get('pm:missing'))
            self.assertTrue(c.set_many({'pm:b': b'2', 'pm:c': b'3'}) == [])
            self.assertEqual(c.get_many(['pm:a', 'pm:b', 'pm:c', 'pm:x']),
                             {'pm:a': b'1', 'pm:b': b'2', 'pm:c': b'3'})
            self.assertEqual(c.incr('pm:a', 41), 42)
            self.assertEqual(c.decr('pm:a', 2), 40)
            self.assertIsNone(c.incr('pm:nothere', 1))
            self.assertTrue(c.delete('pm:b', noreply=False))
            self.assertFalse(c.delete('pm:b', noreply=False))
            val, cas = c.gets('pm:c')
            self.assertEqual(val, b'3')
            self.assertTrue(c.cas('pm:c', b'33', cas, noreply=False))
            self.assertFalse(c.cas('pm:c', b'333', cas, noreply=False))
            self.assertEqual(c.get('pm:c'), b'33')
            self.assertTrue(c.touch('pm:c', 100, noreply=False))
            self.assertFalse(c.touch('pm:nothere', 100, noreply=False))
            self.assertTrue(c.add('pm:d', b'x', noreply=False))
            self.assertFalse(c.add('pm:d', b'y', noreply=False))
            self.assertTrue(c.replace('pm:d', b'z', noreply=False))
            self.assertFalse(c.replace('pm:nothere', b'z', noreply=False))
            self.assertTrue(c.append('pm:d', b'-end', noreply=False))
            self.assertTrue(c.prepend('pm:d', b'start-', noreply=False))
            self.assertEqual(c.get('pm:d'), b'start-z-end')
            big = os.urandom(300000)
            self.assertTrue(c.set('pm:big', big, noreply=False))
            self.assertEqual(c.get('pm:big'), big)
            st = c.stats()
            self.assertIn(b'curr_items', st)
            self.assertGreater(st[b'cmd_get'], 0)
            self.assertTrue(c.version().decode())
            self.assertTrue(c.flush_all(noreply=False))
            self.assertIsNone(c.get('pm:d'))
        finally:
            c.close()


class PythonMemcache(BBTest):
    SERVER_ARGS = []

    def test_classic_example(self):
        try:
            import memcache
        except ImportError:
            raise unittest.SkipTest('python-memcache not installed')
        mc = memcache.Client(['127.0.0.1:%d' % self.srv.port], socket_timeout=5)
        try:
            self.assertTrue(mc.set('user:123', {'name': 'Alice', 'age': 30},
                                   time=3600))
            self.assertEqual(mc.get('user:123'), {'name': 'Alice', 'age': 30})
            self.assertTrue(mc.delete('user:123'))
            self.assertIsNone(mc.get('user:123'))
            self.assertTrue(mc.set('n', 10))
            self.assertEqual(mc.incr('n', 5), 15)
            self.assertEqual(mc.decr('n', 20), 0)
            self.assertTrue(mc.add('only', 'once'))
            self.assertFalse(mc.add('only', 'twice'))
            self.assertEqual(mc.get_multi(['n', 'only', 'nope']),
                             {'n': 0, 'only': 'once'})
            self.assertEqual(mc.set_multi({'m1': 1, 'm2': 'two'}), [])
            self.assertEqual(mc.gets('m2'), 'two')
            self.assertTrue(mc.cas('m2', 'three'))
            self.assertEqual(mc.get('m2'), 'three')
            self.assertTrue(mc.touch('m2', 100))
            stats = mc.get_stats()
            self.assertEqual(len(stats), 1)
            self.assertIn('curr_items', stats[0][1])
        finally:
            mc.disconnect_all()


class PyLibmc(BBTest):
    SERVER_ARGS = []

    def test_text_protocol(self):
        try:
            import pylibmc
        except ImportError:
            raise unittest.SkipTest('pylibmc not installed')
        mc = pylibmc.Client(['127.0.0.1:%d' % self.srv.port], binary=False,
                            behaviors={'connect_timeout': 5000,
                                       'receive_timeout': 5000000,
                                       'send_timeout': 5000000})
        try:
            self.assertTrue(mc.set('pl:a', 'hello'))
            self.assertEqual(mc.get('pl:a'), 'hello')
            self.assertTrue(mc.set('pl:obj', {'x': [1, 2, 3]}))
            self.assertEqual(mc.get('pl:obj'), {'x': [1, 2, 3]})
            self.assertTrue(mc.set('pl:n', 5))
            self.assertEqual(mc.incr('pl:n', 3), 8)
            self.assertEqual(mc.decr('pl:n', 10), 0)
            self.assertTrue(mc.add('pl:b', 'b'))
            self.assertFalse(mc.add('pl:b', 'b2'))
            self.assertTrue(mc.replace('pl:b', 'b3'))
            self.assertTrue(mc.append('pl:b', '-x'))
            self.assertTrue(mc.prepend('pl:b', 'y-'))
            self.assertEqual(mc.get('pl:b'), 'y-b3-x')
            self.assertEqual(mc.get_multi(['pl:a', 'pl:b', 'pl:none']),
                             {'pl:a': 'hello', 'pl:b': 'y-b3-x'})
            self.assertEqual(mc.set_multi({'pl:m1': 'v1', 'pl:m2': 'v2'}), [])
            self.assertTrue(mc.delete('pl:m1'))
            self.assertFalse(mc.delete('pl:m1'))
            self.assertIsNone(mc.get('pl:m1'))
            big = b'z' * 500000
            self.assertTrue(mc.set('pl:big', big))
            self.assertEqual(mc.get('pl:big'), big)
            self.assertTrue(mc.touch('pl:a', 100))
            stats = mc.get_stats()
            self.assertIn('curr_items', stats[0][1])
            mc.flush_all()
            self.assertIsNone(mc.get('pl:a'))
        finally:
            mc.disconnect_all()


class MemcachedTool(BBTest):
    def tool(self, srv, *args):
        p = subprocess.run(['/usr/bin/perl', MEMCACHED_TOOL,
                            '127.0.0.1:%d' % srv.port] + list(args),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.decode('utf-8', 'replace')

    def test_tool(self):
        if not os.path.exists(MEMCACHED_TOOL):
            raise unittest.SkipTest('memcached-tool not installed')
        srv = self.start()
        c = self.conn(srv)
        for i in range(20):
            self.cmd(c, 'set tool:%d %d 0 %d\r\n%s\r\n' % (i, i, 10 + i,
                                                            'v' * (10 + i)),
                     'STORED\r\n')
        self.cmd(c, 'set tool:big 0 0 5000\r\n%s\r\n' % ('b' * 5000),
                 'STORED\r\n')
        out = self.tool(srv, 'stats')
        self.assertIn('Field', out)
        self.assertRegex(out, r'\n\s*curr_items\s+21\r?\n')
        self.assertRegex(out, r'\n\s*cmd_set\s+21\r?\n')
        out = self.tool(srv, 'display')
        lines = out.strip().split('\n')
        self.assertRegex(lines[0], r'#\s+Item_Size\s+Max_age')
        self.assertGreaterEqual(len(lines), 3, out)   # two slab classes
        for line in lines[1:]:
            self.assertRegex(line, r'^\s*\d+\s+\S+\s+\d+s\s+\d+\s+\d+\s+'
                             r'\w+\s+\d+\s+\d+\s+\d+')
        out = self.tool(srv, 'dump')
        for i in range(20):
            self.assertIn('add tool:%d %d ' % (i, i), out)
            self.assertIn('\r\n%s\r\n' % ('v' * (10 + i)), out)
        self.assertIn('add tool:big 0 ', out)


if __name__ == '__main__':
    harness.main()
