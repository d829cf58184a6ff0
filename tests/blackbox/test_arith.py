"""incr/decr: wrap, floor, non-numeric values, length changes."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BBTest  # noqa: E402

NONNUM = 'CLIENT_ERROR cannot increment or decrement non-numeric value\r\n'
BADDELTA = 'CLIENT_ERROR invalid numeric delta argument\r\n'


class Arith(BBTest):
    SERVER_ARGS = []

    def test_incr_decr_basic(self):
        c = self.conn()
        self.cmd(c, 'set ab 5 0 1\r\n1\r\n', 'STORED\r\n')
        self.cmd(c, 'incr ab 1\r\n', '2\r\n')
        self.cmd(c, 'incr ab 10\r\n', '12\r\n')
        self.cmd(c, 'decr ab 3\r\n', '9\r\n')
        self.cmd(c, 'get ab\r\n', 'VALUE ab 5 2\r\n9 \r\nEND\r\n')
        self.cmd(c, 'incr ab 0\r\n', '9\r\n')

    def test_missing(self):
        c = self.conn()
        self.cmd(c, 'incr am 1\r\n', 'NOT_FOUND\r\n')
        self.cmd(c, 'decr am 1\r\n', 'NOT_FOUND\r\n')
        self.cmd(c, 'get am\r\n', 'END\r\n')

    def test_wrap_64(self):
        c = self.conn()
        self.cmd(c, 'set aw 0 0 20\r\n18446744073709551615\r\n', 'STORED\r\n')
        self.cmd(c, 'incr aw 1\r\n', '0\r\n')
        self.cmd(c, 'get aw\r\n', 'VALUE aw 0 20\r\n0' + ' ' * 19 +
                 '\r\nEND\r\n')
        self.cmd(c, 'set aw 0 0 20\r\n18446744073709551610\r\n', 'STORED\r\n')
        self.cmd(c, 'incr aw 10\r\n', '4\r\n')
        self.cmd(c, 'set aw 0 0 1\r\n0\r\n', 'STORED\r\n')
        self.cmd(c, 'incr aw 18446744073709551615\r\n',
                 '18446744073709551615\r\n')
        self.cmd(c, 'get aw\r\n',
                 'VALUE aw 0 20\r\n18446744073709551615\r\nEND\r\n')

    def test_decr_floor(self):
        c = self.conn()
        self.cmd(c, 'set af 0 0 1\r\n5\r\n', 'STORED\r\n')
        self.cmd(c, 'decr af 10\r\n', '0\r\n')
        self.cmd(c, 'decr af 1\r\n', '0\r\n')
        self.cmd(c, 'get af\r\n', 'VALUE af 0 1\r\n0\r\nEND\r\n')

    def test_length_change(self):
        c = self.conn()
        self.cmd(c, 'set al 0 0 2\r\n99\r\n', 'STORED\r\n')
        self.cmd(c, 'incr al 1\r\n', '100\r\n')
        self.cmd(c, 'get al\r\n', 'VALUE al 0 3\r\n100\r\nEND\r\n')
        # shorter result: memcached rewrites in place, padded with spaces
        self.cmd(c, 'decr al 1\r\n', '99\r\n')
        self.cmd(c, 'get al\r\n', 'VALUE al 0 3\r\n99 \r\nEND\r\n')
        self.cmd(c, 'decr al 90\r\n', '9\r\n')
        self.cmd(c, 'get al\r\n', 'VALUE al 0 3\r\n9  \r\nEND\r\n')
        self.cmd(c, 'incr al 991\r\n', '1000\r\n')
        self.cmd(c, 'get al\r\n', 'VALUE al 0 4\r\n1000\r\nEND\r\n')

    def test_incr_keeps_flags(self):
        c = self.conn()
        self.cmd(c, 'set akf 77 0 1\r\n1\r\n', 'STORED\r\n')
        self.cmd(c, 'incr akf 1\r\n', '2\r\n')
        self.cmd(c, 'get akf\r\n', 'VALUE akf 77 1\r\n2\r\nEND\r\n')

    def test_incr_changes_cas(self):
        c = self.conn()
        self.cmd(c, 'set acas 0 0 1\r\n1\r\n', 'STORED\r\n')
        c.send('gets acas\r\n')
        cas1 = c.readline().split()[4]
        c.recv_until('END\r\n')
        self.cmd(c, 'incr acas 1\r\n', '2\r\n')
        c.send('gets acas\r\n')
        cas2 = c.readline().split()[4]
        c.recv_until('END\r\n')
        self.assertNotEqual(cas1, cas2)

    def test_non_numeric(self):
        c = self.conn()
        self.cmd(c, 'set an 0 0 3\r\nabc\r\n', 'STORED\r\n')
        self.cmd(c, 'incr an 1\r\n', NONNUM)
        self.cmd(c, 'decr an 1\r\n', NONNUM)
        self.cmd(c, 'set an 0 0 2\r\n-1\r\n', 'STORED\r\n')
        self.cmd(c, 'incr an 1\r\n', NONNUM)
        self.cmd(c, 'set an 0 0 0\r\n\r\n', 'STORED\r\n')
        self.cmd(c, 'incr an 1\r\n', NONNUM)
        self.cmd(c, 'set an 0 0 21\r\n184467440737095516150\r\n', 'STORED\r\n')
        self.cmd(c, 'incr an 1\r\n', NONNUM)
        # leading/trailing spaces are tolerated by strtoull
        self.cmd(c, 'set an 0 0 3\r\n 12\r\n', 'STORED\r\n')
        self.cmd(c, 'incr an 1\r\n', '13\r\n')
        self.cmd(c, 'get an\r\n', 'VALUE an 0 3\r\n13 \r\nEND\r\n')

    def test_bad_delta(self):
        c = self.conn()
        self.cmd(c, 'set ad 0 0 1\r\n1\r\n', 'STORED\r\n')
        self.cmd(c, 'incr ad abc\r\n', BADDELTA)
        self.cmd(c, 'incr ad -1\r\n', BADDELTA)
        self.cmd(c, 'decr ad -1\r\n', BADDELTA)
        self.cmd(c, 'incr ad 18446744073709551616\r\n', BADDELTA)
        self.cmd(c, 'incr admissing abc\r\n', BADDELTA)
        self.cmd(c, 'incr ad\r\n', 'ERROR\r\n')
        self.cmd(c, 'incr\r\n', 'ERROR\r\n')
        self.cmd(c, 'get ad\r\n', 'VALUE ad 0 1\r\n1\r\nEND\r\n')

    def test_noreply(self):
        c = self.conn()
        self.cmd(c, 'set anr 0 0 1\r\n5\r\n', 'STORED\r\n')
        c.send('incr anr 5 noreply\r\ndecr anr 2 noreply\r\n'
               'incr anrmissing 1 noreply\r\n')
        self.cmd(c, 'get anr\r\n', 'VALUE anr 0 2\r\n8 \r\nEND\r\n')


if __name__ == '__main__':
    harness.main()
