"""Limits and restrictions an operator relies on, as memcached 1.6.18:
-o idle_timeout (idle connections closed, idle_kicks), -o
read_buf_mem_limit (connections over the buffer budget are closed,
read_buf_oom), and the flags that switch commands off (-F, -X, -W).
"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BBTest, Closed  # noqa: E402


class IdleTimeoutTest(BBTest):
    def test_idle_connection_is_kicked(self):
        srv = self.start(['-o', 'idle_timeout=1'])
        idle = self.conn(srv)
        busy = self.conn(srv)
        self.cmd(idle, b'mn\r\n', b'MN\r\n')
        # busy keeps talking; idle says nothing for ~3.5 s
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:
            self.cmd(busy, b'mn\r\n', b'MN\r\n')
            time.sleep(0.25)
        self.assertTrue(idle.is_closed(0.5), 'the idle connection stays')
        self.cmd(busy, b'mn\r\n', b'MN\r\n')
        st = self.stats(busy)
        self.assertEqual(st['idle_kicks'], '1')
        self.assertEqual(self.stats(busy, 'settings')['idle_timeout'], '1')

    def test_no_idle_kicks_without_the_option(self):
        srv = self.start([])
        c = self.conn(srv)
        self.assertNotIn('idle_kicks', self.stats(c))
        self.assertEqual(self.stats(c, 'settings')['idle_timeout'], '0')


def peer_closed(s):
    """True if the server has closed socket s (nothing waits unread).
    Does not wait: a socket with a timeout would poll before recv."""
    timeout = s.gettimeout()
    s.setblocking(False)
    try:
        return s.recv(1, socket.MSG_PEEK) == b''
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        s.settimeout(timeout)


class ReadBufLimitTest(BBTest):
    def test_connections_over_the_budget_are_closed(self):
        # 1 MB for one worker thread: 64 buffers of 16 KiB. Each connection
        # with half a command line holds one; later ones get none.
        srv = self.start(['-t', '1', '-o', 'read_buf_mem_limit=1'])
        conns = []
        for _ in range(80):
            s = socket.create_connection((harness.HOST, srv.port), timeout=2)
            s.sendall(b'get abc')
            conns.append(s)
        # until the worker has read all 80 (at least 16 closed for want of
        # a buffer), a deadline rather than a fixed sleep
        deadline = time.monotonic() + 10
        while (sum(peer_closed(s) for s in conns) < len(conns) - 64
               and time.monotonic() < deadline):
            time.sleep(0.05)
        answered = closed = 0
        for s in conns:
            try:
                s.sendall(b'\r\n')
                s.settimeout(1.0)
                data = s.recv(100)
                if data == b'END\r\n':
                    answered += 1
                elif data == b'':
                    closed += 1
            except OSError:
                closed += 1
        for s in conns:
            s.close()
        self.assertGreaterEqual(answered, 56)
        self.assertLessEqual(answered, 64)
        self.assertGreaterEqual(closed, 10)
        time.sleep(0.2)
        c = self.conn(srv)
        self.assertGreater(int(self.stats(c)['read_buf_oom']), 0)
        self.assertEqual(self.stats(c, 'settings')['read_buf_mem_limit'],
                         str(1024 * 1024))


    def test_get_reply_over_the_budget(self):
        # 62 connections hold a read buffer each, this one its own: one
        # 16 KiB block is left for a 32 KB reply -> memcached's error, and
        # the connection goes on
        srv = self.start(['-t', '1', '-o', 'read_buf_mem_limit=1'])
        c = self.conn(srv)
        self.cmd(c, b'set k 0 0 1\r\nx\r\n', b'STORED\r\n')
        base = int(self.stats(c)['total_connections'])
        c.close()
        hold = []
        for _ in range(62):
            s = socket.create_connection((harness.HOST, srv.port), timeout=2)
            s.sendall(b'get abc')
            hold.append(s)
        self.addCleanup(lambda: [s.close() for s in hold])
        # the one worker reads a connection's bytes in the loop round that
        # takes it in, or the next: once it has answered this connection,
        # taken in after the 62, each of them holds its buffer
        c = self.conn(srv)
        deadline = time.monotonic() + 10
        while (int(self.stats(c)['total_connections']) < base + 63
               and time.monotonic() < deadline):
            time.sleep(0.05)
        self.cmd(c, b'get ' + b' '.join([b'k'] * 2000) + b'\r\n',
                 b'SERVER_ERROR out of memory writing get response\r\n')
        self.cmd(c, b'mn\r\n', b'MN\r\n')


class ReqsPerEventTest(BBTest):
    def test_R_yields(self):
        srv = self.start(['-R', '1'])
        c = self.conn(srv)
        self.cmd(c, b'mn\r\n' * 10, b'MN\r\n' * 10)
        self.assertEqual(self.stats(c)['conn_yields'], '9')


class DisabledCommandsTest(BBTest):
    SERVER_ARGS = ['-F', '-X', '-W']

    def test_disabled(self):
        c = self.conn()
        self.cmd(c, b'flush_all\r\n', b'CLIENT_ERROR flush_all not allowed\r\n')
        self.cmd(c, b'flush_all 0\r\n',
                 b'CLIENT_ERROR flush_all not allowed\r\n')
        self.cmd(c, b'stats cachedump 1 0\r\n',
                 b'CLIENT_ERROR stats cachedump not allowed\r\n')
        self.cmd(c, b'lru_crawler metadump all\r\n',
                 b'ERROR metadump not allowed\r\n')
        self.cmd(c, b'watch\r\n', b'CLIENT_ERROR watch commands not allowed\r\n')
        self.cmd(c, b'mn\r\n', b'MN\r\n')
        st = self.stats(c, 'settings')
        self.assertEqual(st['flush_enabled'], 'no')
        self.assertEqual(st['dump_enabled'], 'no')


if __name__ == '__main__':
    harness.main()
