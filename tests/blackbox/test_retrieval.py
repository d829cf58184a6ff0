"""Retrieval: get/gets/gat/gats/touch, key length limits, odd keys."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BBTest  # noqa: E402

BAD = 'CLIENT_ERROR bad command line format\r\n'


class Retrieval(BBTest):
    SERVER_ARGS = []

    def test_get_many_keys(self):
        c = self.conn()
        keys = ['rm%03d' % i for i in range(100)]
        for i, k in enumerate(keys):
            if i % 2 == 0:
                self.cmd(c, 'set %s %d 0 %d\r\n%s\r\n' % (k, i, len(k), k),
                         'STORED\r\n')
        want = ''.join('VALUE %s %d %d\r\n%s\r\n' % (k, i, len(k), k)
                       for i, k in enumerate(keys) if i % 2 == 0) + 'END\r\n'
        self.cmd(c, 'get %s\r\n' % ' '.join(keys), want)

    def test_duplicate_and_missing_keys(self):
        c = self.conn()
        self.cmd(c, 'get rd rd rd\r\n', 'END\r\n')
        self.cmd(c, 'set rd 0 0 1\r\nz\r\n', 'STORED\r\n')
        self.cmd(c, 'get rd rdmiss rd rdmiss2 rd\r\n',
                 'VALUE rd 0 1\r\nz\r\n' * 3 + 'END\r\n')

    def test_gets(self):
        c = self.conn()
        self.cmd(c, 'set rg1 1 0 1\r\na\r\n', 'STORED\r\n')
        self.cmd(c, 'set rg2 2 0 1\r\nb\r\n', 'STORED\r\n')
        c.send('gets rg1 rgmissing rg2\r\n')
        l1 = c.readline().split()
        self.assertEqual(l1[:4], [b'VALUE', b'rg1', b'1', b'1'])
        self.assertEqual(c.readline(), b'a\r\n')
        l2 = c.readline().split()
        self.assertEqual(l2[:4], [b'VALUE', b'rg2', b'2', b'1'])
        self.assertEqual(c.readline(), b'b\r\n')
        self.assertEqual(c.readline(), b'END\r\n')
        self.assertEqual(len(l1), 5)
        self.assertNotEqual(l1[4], l2[4])
        self.assertTrue(l1[4].isdigit() and l2[4].isdigit())

    def test_get_no_key(self):
        c = self.conn()
        self.cmd(c, 'get\r\n', 'ERROR\r\n')
        self.cmd(c, 'gets\r\n', 'ERROR\r\n')
        self.cmd(c, 'gat\r\n', 'ERROR\r\n')
        self.cmd(c, 'gat 0\r\n', 'END\r\n')

    def test_touch(self):
        c = self.conn()
        self.cmd(c, 'touch rt 10\r\n', 'NOT_FOUND\r\n')
        self.cmd(c, 'set rt 0 0 1\r\nx\r\n', 'STORED\r\n')
        self.cmd(c, 'touch rt 10\r\n', 'TOUCHED\r\n')
        self.cmd(c, 'touch rt 0\r\n', 'TOUCHED\r\n')
        c.send('touch rt 10 noreply\r\n')
        c.send('touch rtmissing 10 noreply\r\n')
        self.cmd(c, 'touch rt -1\r\n', 'TOUCHED\r\n')
        self.cmd(c, 'get rt\r\n', 'END\r\n')
        self.cmd(c, 'touch rt\r\n', 'ERROR\r\n')
        self.cmd(c, 'touch rt abc\r\n',
                 'CLIENT_ERROR invalid exptime argument\r\n')

    def test_gat_gats(self):
        c = self.conn()
        self.cmd(c, 'set rga 3 0 2\r\nhi\r\n', 'STORED\r\n')
        self.cmd(c, 'gat 100 rga rgamissing rga\r\n',
                 'VALUE rga 3 2\r\nhi\r\nVALUE rga 3 2\r\nhi\r\nEND\r\n')
        c.send('gats 100 rga\r\n')
        line = c.readline()
        self.assertRegex(line, rb'^VALUE rga 3 2 \d+\r\n$')
        self.assertEqual(c.recv_exact(9), b'hi\r\nEND\r\n')
        self.cmd(c, 'gat rga\r\n', 'CLIENT_ERROR invalid exptime argument\r\n')
        self.cmd(c, 'gat -1 rga\r\n', 'VALUE rga 3 2\r\nhi\r\nEND\r\n')
        self.cmd(c, 'get rga\r\n', 'END\r\n')
        self.cmd(c, 'gat 0 rgamissing\r\n', 'END\r\n')

    def test_key_250_ok(self):
        c = self.conn()
        k = 'K' * 250
        self.cmd(c, 'set %s 0 0 1\r\nx\r\n' % k, 'STORED\r\n')
        self.cmd(c, 'get %s\r\n' % k, 'VALUE %s 0 1\r\nx\r\nEND\r\n' % k)
        self.cmd(c, 'touch %s 0\r\n' % k, 'TOUCHED\r\n')
        self.cmd(c, 'delete %s\r\n' % k, 'DELETED\r\n')
        self.cmd(c, 'incr %s 1\r\n' % k, 'NOT_FOUND\r\n')

    def test_key_251_errors(self):
        c = self.conn()
        k = 'L' * 251
        self.cmd(c, 'get %s\r\n' % k, BAD)
        self.cmd(c, 'gets %s\r\n' % k, BAD)
        self.cmd(c, 'get a %s\r\n' % k, BAD)
        self.cmd(c, 'set %s 0 0 1\r\nx\r\n' % k, BAD + 'ERROR\r\n')
        self.cmd(c, 'add %s 0 0 1\r\nx\r\n' % k, BAD + 'ERROR\r\n')
        self.cmd(c, 'delete %s\r\n' % k, BAD)
        self.cmd(c, 'incr %s 1\r\n' % k, BAD)
        self.cmd(c, 'decr %s 1\r\n' % k, BAD)
        self.cmd(c, 'touch %s 0\r\n' % k, BAD)
        self.cmd(c, 'gat 0 %s\r\n' % k, BAD)
        self.cmd(c, 'version\r\n', 'VERSION ')
        c.readline()

    def test_get_partial_before_bad_key(self):
        c = self.conn()
        self.cmd(c, 'set rpb 0 0 1\r\nx\r\n', 'STORED\r\n')
        # values found before the bad key are dropped, only the error is sent
        self.cmd(c, 'get rpb %s\r\n' % ('M' * 251), BAD)
        self.cmd(c, 'get rpb\r\n', 'VALUE rpb 0 1\r\nx\r\nEND\r\n')

    def test_keys_with_control_chars(self):
        c = self.conn()
        for k in (b'a\x01b', b'a\x7fb', b'a\xffb', b'\x02'):
            self.cmd(c, b'set ' + k + b' 0 0 1\r\nx\r\n', 'STORED\r\n')
            self.cmd(c, b'get ' + k + b'\r\n',
                     b'VALUE ' + k + b' 0 1\r\nx\r\nEND\r\n')
        # a tab separates tokens like a space? no: memcached splits on ' '
        self.cmd(c, b'set t\tk 0 0 1\r\nx\r\n', 'STORED\r\n')
        self.cmd(c, b'get t\tk\r\n', b'VALUE t\tk 0 1\r\nx\r\nEND\r\n')
        self.cmd(c, b'get t\r\n', 'END\r\n')

    def test_replies_outlive_the_clients_end_of_stream(self):
        # a client that sends its gets and then ends its stream (a shell
        # pipe into nc -N) gets every reply, however many the socket could
        # not take at once
        c = self.conn()
        value = 'v' * 200000
        self.cmd(c, 'set reos 0 0 %d\r\n%s\r\n' % (len(value), value),
                 'STORED\r\n')
        got = harness.send_then_end(self.srv.port, b'get reos\r\n' * 40)
        one = ('VALUE reos 0 %d\r\n%s\r\nEND\r\n' % (len(value), value))
        self.assertEqual(len(got), 40 * len(one))
        self.assertEqual(got, one.encode() * 40)


if __name__ == '__main__':
    harness.main()
