"""delete, flush_all, version, verbosity, quit, shutdown, unknown commands."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BBTest, tiercache_only  # noqa: E402


class Misc(BBTest):
    SERVER_ARGS = []

    def test_delete(self):
        c = self.conn()
        self.cmd(c, 'delete md\r\n', 'NOT_FOUND\r\n')
        self.cmd(c, 'set md 0 0 1\r\nx\r\n', 'STORED\r\n')
        self.cmd(c, 'delete md\r\n', 'DELETED\r\n')
        self.cmd(c, 'get md\r\n', 'END\r\n')
        self.cmd(c, 'delete md\r\n', 'NOT_FOUND\r\n')

    def test_delete_legacy_time(self):
        c = self.conn()
        self.cmd(c, 'set mdl 0 0 1\r\nx\r\n', 'STORED\r\n')
        self.cmd(c, 'delete mdl 1\r\n', 'CLIENT_ERROR bad command line format.'
                 '  Usage: delete <key> [noreply]\r\n')
        self.cmd(c, 'get mdl\r\n', 'VALUE mdl 0 1\r\nx\r\nEND\r\n')
        self.cmd(c, 'delete mdl 0\r\n', 'DELETED\r\n')
        self.cmd(c, 'delete mdl 0\r\n', 'NOT_FOUND\r\n')
        self.cmd(c, 'delete\r\n', 'ERROR\r\n')
        self.cmd(c, 'delete a b c d\r\n', 'ERROR\r\n')

    def test_delete_noreply(self):
        c = self.conn()
        self.cmd(c, 'set mdn 0 0 1\r\nx\r\n', 'STORED\r\n')
        c.send('delete mdn noreply\r\ndelete mdn noreply\r\n'
               'delete mdn 0 noreply\r\n')
        self.cmd(c, 'get mdn\r\n', 'END\r\n')
        self.nothing_more(c)

    def test_version(self):
        c = self.conn()
        c.send('version\r\n')
        line = c.readline()
        self.assertTrue(line.startswith(b'VERSION '), line)
        self.assertRegex(line, rb'^VERSION [!-~]+\r\n$')
        if harness.REFERENCE:
            self.assertEqual(line, b'VERSION 1.6.18\r\n')

    def test_verbosity(self):
        c = self.conn()
        self.cmd(c, 'verbosity 1\r\n', 'OK\r\n')
        self.cmd(c, 'verbosity 0\r\n', 'OK\r\n')
        self.cmd(c, 'verbosity\r\n', 'ERROR\r\n')
        self.cmd(c, 'verbosity 1 noreply\r\nverbosity 0 noreply\r\n'
                 'verbosity 0\r\n', 'OK\r\n')
        self.cmd(c, 'verbosity abc\r\n',
                 'CLIENT_ERROR bad command line format\r\n')
        self.cmd(c, 'verbosity 1 2 3\r\n', 'ERROR\r\n')

    def test_unknown_and_empty(self):
        c = self.conn()
        self.cmd(c, 'foo\r\n', 'ERROR\r\n')
        self.cmd(c, 'FOO bar baz\r\n', 'ERROR\r\n')
        self.cmd(c, 'GET a\r\n', 'ERROR\r\n')
        self.cmd(c, '\r\n', 'ERROR\r\n')
        self.cmd(c, '\n', 'ERROR\r\n')
        self.cmd(c, 'gett a\r\n', 'ERROR\r\n')
        self.cmd(c, 'stats nonsense\r\n', 'ERROR\r\n')
        self.cmd(c, 'version\r\n', 'VERSION ')
        c.readline()

    def test_quit(self):
        c = self.conn()
        c.send('quit\r\n')
        self.assertTrue(c.is_closed(), 'quit did not close the connection')
        c2 = self.conn()
        c2.send('set mq 0 0 1\r\nx\r\nquit\r\nget mq\r\n')
        self.assertEqual(c2.recv_exact(8), b'STORED\r\n')
        self.assertTrue(c2.is_closed())
        self.cmd(self.conn(), 'get mq\r\n', 'VALUE mq 0 1\r\nx\r\nEND\r\n')

    def test_shutdown_disabled(self):
        c = self.conn()
        self.cmd(c, 'shutdown\r\n', 'ERROR: shutdown not enabled\r\n')
        self.cmd(c, 'version\r\n', 'VERSION ')
        c.readline()


class Flush(BBTest):
    def test_flush_immediate(self):
        srv = self.start()
        c = self.conn(srv)
        self.cmd(c, 'set f1 0 0 1\r\nx\r\nset f2 0 0 1\r\ny\r\n',
                 'STORED\r\nSTORED\r\n')
        self.cmd(c, 'flush_all\r\n', 'OK\r\n')
        self.cmd(c, 'get f1 f2\r\n', 'END\r\n')
        # items set after the flush survive (same second included)
        self.cmd(c, 'set f3 0 0 1\r\nz\r\n', 'STORED\r\n')
        self.cmd(c, 'get f3\r\n', 'VALUE f3 0 1\r\nz\r\nEND\r\n')
        self.cmd(c, 'flush_all 0\r\n', 'OK\r\n')
        self.cmd(c, 'get f3\r\n', 'END\r\n')
        self.cmd(c, 'set f4 0 0 1\r\nz\r\n', 'STORED\r\n')
        c.send('flush_all noreply\r\n')
        self.cmd(c, 'get f4\r\n', 'END\r\n')
        self.cmd(c, 'add f4 0 0 1\r\nw\r\n', 'STORED\r\n')
        self.cmd(c, 'get f4\r\n', 'VALUE f4 0 1\r\nw\r\nEND\r\n')
        self.cmd(c, 'flush_all abc\r\n',
                 'CLIENT_ERROR invalid exptime argument\r\n')
        self.cmd(c, 'get f4\r\n', 'VALUE f4 0 1\r\nw\r\nEND\r\n')
        self.cmd(c, 'flush_all 0 0\r\n', 'OK\r\n')
        self.cmd(c, 'get f4\r\n', 'END\r\n')
        st = self.stats(c)
        self.assertEqual(st['cmd_flush'], '5')

    def test_flush_delayed(self):
        srv = self.start()
        c = self.conn(srv)
        self.cmd(c, 'set fd1 0 0 1\r\nx\r\n', 'STORED\r\n')
        # flush_all N comes due at a whole-second tick N-2 to N-1 s later
        self.cmd(c, 'flush_all 3\r\n', 'OK\r\n')
        self.cmd(c, 'get fd1\r\n', 'VALUE fd1 0 1\r\nx\r\nEND\r\n')
        time.sleep(3.2)
        self.cmd(c, 'get fd1\r\n', 'END\r\n')
        self.cmd(c, 'set fd2 0 0 1\r\ny\r\n', 'STORED\r\n')
        self.cmd(c, 'get fd2\r\n', 'VALUE fd2 0 1\r\ny\r\nEND\r\n')


class ShutdownEnabled(BBTest):
    def test_shutdown_A(self):
        srv = self.start(['-A'])
        c = self.conn(srv)
        c.send('shutdown\r\n')
        self.assertTrue(c.is_closed(5.0), 'connection not closed')
        code = srv.wait_exit(10)
        self.assertIsNotNone(code, 'server did not exit after shutdown')
        if not harness.REFERENCE:
            self.assertEqual(code, 0)
            err = srv.stderr()
            for bad in harness.BAD_STDERR:
                self.assertNotIn(bad, err)

    def test_shutdown_graceful_token(self):
        srv = self.start(['-A'])
        c = self.conn(srv)
        self.cmd(c, 'shutdown bogus\r\n',
                 'CLIENT_ERROR invalid shutdown mode\r\n')
        c.send('shutdown graceful\r\n')
        self.assertTrue(c.is_closed(5.0), 'connection not closed')
        self.assertIsNotNone(srv.wait_exit(10))


if __name__ == '__main__':
    harness.main()
