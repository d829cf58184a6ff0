"""Authentication: ascii authentication (-Y FILE) on the text and meta
protocols, SASL (-S) on the binary protocol, and the start-up checks of
both, byte for byte as memcached 1.6.18 (the reference run proves it).

SASL tests make their own sasldb with saslpasswd2 (sasl2-bin) and a
memcached.conf (mech_list: plain) in a temporary directory, handed over
with SASL_CONF_PATH; without saslpasswd2 they are skipped.
"""

import os
import shutil
import struct
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BBTest, HOST, free_port, run_to_exit  # noqa: E402

UNAUTH = b'CLIENT_ERROR unauthenticated\r\n'
FAILED = b'CLIENT_ERROR authentication failure\r\n'
BADFMT = b'CLIENT_ERROR bad authentication token format\r\n'

HDR = '>BBHBBHIIQ'
GET, SET, NOOP, VERSION = 0x00, 0x01, 0x0a, 0x0b
LIST_MECHS, AUTH, STEP = 0x20, 0x21, 0x22
AUTH_ERROR, AUTH_CONTINUE, EINVAL = 0x20, 0x21, 0x04


def auth_set(user, password, extra=b''):
    v = user + b' ' + password
    return b'set auth 0 0 %d%s\r\n%s\r\n' % (len(v), extra, v)


class TmpDir:
    """A temporary directory removed at the test's cleanup."""

    @staticmethod
    def make(test):
        d = tempfile.mkdtemp(prefix='bb-auth-')
        test.addCleanup(shutil.rmtree, d, True)
        return d


class AsciiAuthTest(BBTest):
    def auth_server(self, lines=b'user:pass\nfoo:bar\n', args=()):
        d = TmpDir.make(self)
        path = os.path.join(d, 'auth')
        with open(path, 'wb') as f:
            f.write(lines)
        return self.start(['-Y', path] + list(args)), path

    def test_every_command_needs_authentication(self):
        srv, _ = self.auth_server()
        c = self.conn(srv)
        for line in [b'get foo', b'version', b'stats', b'mn', b'mg foo v',
                     b'ms foo 1', b'add foo 0 0 9', b'SET foo 0 0 9',
                     b'set foo 0 0', b'set foo 0 0 -1', b'bogus', b'',
                     b'quit', b'flush_all', b'x' * 3000]:
            self.cmd(c, line + b'\r\n', UNAUTH)
        self.nothing_more(c)

    def test_login_then_commands_work(self):
        srv, _ = self.auth_server()
        c = self.conn(srv)
        self.cmd(c, auth_set(b'user', b'pass'), b'STORED\r\n')
        # the login does not store anything
        self.cmd(c, b'get auth\r\n', b'END\r\n')
        self.cmd(c, b'set k 5 0 2\r\nhi\r\n', b'STORED\r\n')
        self.cmd(c, b'get k\r\n', b'VALUE k 5 2\r\nhi\r\nEND\r\n')
        self.cmd(c, b'mn\r\n', b'MN\r\n')
        self.cmd(c, b'mg k v\r\n', b'VA 2\r\nhi\r\n')
        # a second user of the file, on another connection
        c2 = self.conn(srv)
        self.cmd(c2, auth_set(b'foo', b'bar'), b'STORED\r\n')
        self.cmd(c2, b'get k\r\n', b'VALUE k 5 2\r\nhi\r\nEND\r\n')

    def test_login_ignores_key_flags_and_noreply(self):
        srv, _ = self.auth_server()
        c = self.conn(srv)
        self.cmd(c, b'set ' + b'k' * 300 + b' x y 9 noreply\r\nuser pass\r\n',
                 b'STORED\r\n')
        self.cmd(c, b'mn\r\n', b'MN\r\n')

    def test_wrong_credentials_are_refused(self):
        srv, _ = self.auth_server()
        c = self.conn(srv)
        for user, pw in [(b'user', b'bass'), (b'user', b'passX'),
                         (b'foo', b'pass'), (b'nobody', b'pass'),
                         (b'user', b'pas'), (b'u', b'p')]:
            self.cmd(c, auth_set(user, pw), FAILED)
            self.cmd(c, b'get k\r\n', UNAUTH)
        # the payload ends at "\r\n": a password with it does not match
        self.cmd(c, b'set a 0 0 11\r\nuser pass\r\n\r\n', FAILED)
        self.cmd(c, b'set a 0 0 5\r\nuser \r\n', BADFMT)
        self.cmd(c, b'set a 0 0 5\r\n pass\r\n', BADFMT)
        self.cmd(c, b'set a 0 0 9\r\nuser passxx',
                 b'CLIENT_ERROR bad command line termination\r\n')
        self.cmd(c, b'version\r\n', UNAUTH)
        # words after the password and extra spaces are fine
        self.cmd(c, b'set a 0 0 16\r\nuser  pass extra\r\n', b'STORED\r\n')
        self.cmd(c, b'mn\r\n', b'MN\r\n')

    def test_payload_in_pieces(self):
        srv, _ = self.auth_server()
        c = self.conn(srv)
        c.send(b'set a 0 0 9\r\nus')
        self.nothing_more(c)
        self.cmd(c, b'er pass\r\n', b'STORED\r\n')

    def test_auth_stats_and_settings(self):
        srv, path = self.auth_server()
        bad = self.conn(srv)
        self.cmd(bad, auth_set(b'user', b'nope'), FAILED)
        c = self.conn(srv)
        self.cmd(c, auth_set(b'user', b'pass'), b'STORED\r\n')
        st = self.stats(c)
        self.assertEqual(st['auth_cmds'], '2')
        self.assertEqual(st['auth_errors'], '1')
        st = self.stats(c, 'settings')
        self.assertEqual(st['auth_enabled_ascii'], path)
        self.assertEqual(st['auth_enabled_sasl'], 'no')
        self.assertEqual(st['binding_protocol'], 'ascii')

    def test_file_forms(self):
        # no final newline, CRLF lines, empty user, empty password
        srv, _ = self.auth_server(b'a:b\r\n:nouser\nnopass:\nlast:one')
        for user, pw in [(b'a', b'b'), (b'last', b'one')]:
            c = self.conn(srv)
            self.cmd(c, auth_set(user, pw), b'STORED\r\n')
        c = self.conn(srv)
        self.cmd(c, auth_set(b'a', b'b\r'), FAILED)

    def test_empty_file_lets_nobody_in(self):
        srv, _ = self.auth_server(b'')
        c = self.conn(srv)
        self.cmd(c, auth_set(b'user', b'pass'), FAILED)

    def test_bad_files_stop_the_start(self):
        d = TmpDir.make(self)
        for name, content in [('nocolon', b'user\n'),
                              ('blankline', b'a:b\n\nc:d\n')]:
            path = os.path.join(d, name)
            with open(path, 'wb') as f:
                f.write(content)
            rc, err = run_to_exit(['-l', HOST, '-p', str(free_port()),
                                   '-Y', path])
            self.assertNotIn(rc, (0, None), err)
            self.assertIn('Authfile [%s] has a malformed entry. Should be '
                          "'user:password'" % path, err)
        missing = os.path.join(d, 'missing')
        rc, err = run_to_exit(['-l', HOST, '-p', str(free_port()),
                               '-Y', missing])
        self.assertNotIn(rc, (0, None), err)
        self.assertIn('Could not open authfile [%s] for reading, error No '
                      'such file or directory' % missing, err)

    def test_refused_combinations(self):
        d = TmpDir.make(self)
        path = os.path.join(d, 'auth')
        with open(path, 'wb') as f:
            f.write(b'user:pass\n')
        port = str(free_port())
        for args, msg in [
                (['-B', 'binary'], 'ERROR: You cannot allow the BINARY '
                 'protocol while using ascii authentication tokens.'),
                (['-U', port], 'Cannot use UDP with ascii authentication '
                 'enabled (-U 0 to disable)')]:
            rc, err = run_to_exit(['-l', HOST, '-p', port, '-Y', path] + args)
            self.assertEqual(rc, 64, err)
            self.assertIn(msg, err)

    def test_binary_bytes_are_text(self):
        # -Y makes every connection ascii, as memcached
        srv, _ = self.auth_server()
        c = self.conn(srv)
        self.cmd(c, auth_set(b'user', b'pass'), b'STORED\r\n')
        self.cmd(c, struct.pack(HDR, 0x80, VERSION, 0, 0, 0, 0, 0, 0, 0) +
                 b'\r\n', b'ERROR\r\n')


def breq(op, key=b'', value=b'', extras=b'', opaque=0):
    return struct.pack(HDR, 0x80, op, len(key), len(extras), 0, 0,
                       len(key) + len(extras) + len(value), opaque,
                       0) + extras + key + value


class SaslTest(BBTest):
    USERS = {'user': 'secret', 'other': 'pw2'}

    def sasl_server(self, args=()):
        env = harness.make_sasl_conf(TmpDir.make(self), self.USERS)
        return self.start(['-S'] + list(args), env=env)

    def packet(self, c):
        h = c.recv_exact(24)
        magic, op, kl, el, dt, status, bl, opaque, cas = struct.unpack(HDR, h)
        body = c.recv_exact(bl) if bl else b''
        self.assertEqual(magic, 0x81)
        return op, status, opaque, body[el + kl:]

    def call(self, c, pkt):
        c.send(pkt)
        return self.packet(c)

    def plain(self, user, pw):
        return breq(AUTH, b'PLAIN', b'\0' + user + b'\0' + pw, opaque=7)

    def test_list_mechs_and_version_before_login(self):
        srv = self.sasl_server()
        c = self.conn(srv)
        self.assertEqual(self.call(c, breq(LIST_MECHS, opaque=3)),
                         (LIST_MECHS, 0, 3, b'PLAIN'))
        op, st, _, body = self.call(c, breq(VERSION))
        self.assertEqual((op, st), (VERSION, 0))
        self.assertTrue(body.startswith(b'1.6.18'), body)

    def test_unauthenticated_commands_fail_and_close(self):
        srv = self.sasl_server()
        for pkt in [breq(GET, b'k', opaque=9),
                    breq(SET, b'k', b'v', struct.pack('>II', 0, 0), opaque=9),
                    breq(NOOP, opaque=9)]:
            c = self.conn(srv)
            op = pkt[1]
            self.assertEqual(self.call(c, pkt),
                             (op, AUTH_ERROR, 9, b'Auth failure.'))
            self.assertTrue(c.is_closed())

    def test_login_then_commands_work(self):
        srv = self.sasl_server()
        c = self.conn(srv)
        self.assertEqual(self.call(c, self.plain(b'user', b'secret')),
                         (AUTH, 0, 7, b'Authenticated'))
        self.assertEqual(self.call(c, breq(SET, b'k', b'v',
                                           struct.pack('>II', 3, 0)))[:2],
                         (SET, 0))
        self.assertEqual(self.call(c, breq(GET, b'k')),
                         (GET, 0, 0, b'v'))
        # a second user
        c2 = self.conn(srv)
        self.assertEqual(self.call(c2, self.plain(b'other', b'pw2'))[1], 0)
        self.assertEqual(self.call(c2, breq(GET, b'k'))[3], b'v')

    def test_wrong_password_is_refused(self):
        srv = self.sasl_server()
        c = self.conn(srv)
        for user, pw in [(b'user', b'wrong'), (b'nobody', b'secret'),
                         (b'other', b'secret')]:
            self.assertEqual(self.call(c, self.plain(user, pw)),
                             (AUTH, AUTH_ERROR, 7, b'Auth failure.'))
        # the connection stays for another try, but serves nothing
        self.assertEqual(self.call(c, breq(VERSION))[:2], (VERSION, 0))
        self.assertEqual(self.call(c, breq(GET, b'k'))[:2], (GET, AUTH_ERROR))
        self.assertTrue(c.is_closed())

    def test_relogin_forgets_the_first(self):
        srv = self.sasl_server()
        c = self.conn(srv)
        self.assertEqual(self.call(c, self.plain(b'user', b'secret'))[1], 0)
        self.assertEqual(self.call(c, self.plain(b'user', b'bad'))[1],
                         AUTH_ERROR)
        self.assertEqual(self.call(c, breq(GET, b'k'))[:2], (GET, AUTH_ERROR))
        self.assertTrue(c.is_closed())

    def test_auth_continue_then_step(self):
        srv = self.sasl_server()
        c = self.conn(srv)
        self.assertEqual(self.call(c, breq(AUTH, b'PLAIN')),
                         (AUTH, AUTH_CONTINUE, 0, b''))
        self.assertEqual(self.call(c, breq(STEP, b'PLAIN',
                                           b'\0user\0secret')),
                         (STEP, 0, 0, b'Authenticated'))
        self.assertEqual(self.call(c, breq(NOOP))[:2], (NOOP, 0))

    def test_step_without_auth_and_bad_mechanisms(self):
        srv = self.sasl_server()
        c = self.conn(srv)
        self.assertEqual(self.call(c, breq(STEP, b'PLAIN', b'\0user\0secret')),
                         (STEP, AUTH_ERROR, 0, b'Auth failure.'))
        self.assertEqual(self.call(c, breq(AUTH, b'CRAM-MD5', b'x')),
                         (AUTH, AUTH_ERROR, 0, b'Auth failure.'))
        self.assertEqual(self.call(c, breq(AUTH, b'P' * 40, b'\0user\0secret')),
                         (AUTH, EINVAL, 0, b'Invalid arguments'))
        self.assertEqual(self.call(c, breq(VERSION))[:2], (VERSION, 0))

    def test_text_protocol_is_closed(self):
        srv = self.sasl_server()
        c = self.conn(srv)
        c.send(b'get some-key-long-enough-for-a-header\r\n')
        self.assertTrue(c.is_closed())

    def test_settings_and_stats(self):
        srv = self.sasl_server()
        bad = self.conn(srv)
        self.assertEqual(self.call(bad, self.plain(b'user', b'no'))[1],
                         AUTH_ERROR)
        c = self.conn(srv)
        self.assertEqual(self.call(c, self.plain(b'user', b'secret'))[1], 0)
        got = {}
        for group in (b'settings', b''):
            c.send(breq(0x10, group))
            while True:
                h = c.recv_exact(24)
                _, _, kl, el, _, st, bl, _, _ = struct.unpack(HDR, h)
                body = c.recv_exact(bl) if bl else b''
                if kl == 0:
                    break
                got[body[el:el + kl]] = body[el + kl:]
        self.assertEqual(got[b'auth_enabled_sasl'], b'yes')
        self.assertEqual(got[b'auth_enabled_ascii'], b'no')
        self.assertEqual(got[b'binding_protocol'], b'binary')
        self.assertEqual(got[b'auth_cmds'], b'2')
        self.assertEqual(got[b'auth_errors'], b'1')

    def test_ascii_auth_wins_over_sasl(self):
        # with -S and -Y memcached's connections are text with ascii
        # authentication; any -B is refused
        d = TmpDir.make(self)
        path = os.path.join(d, 'auth')
        with open(path, 'wb') as f:
            f.write(b'user:pass\n')
        env = harness.make_sasl_conf(d, self.USERS)
        srv = self.start(['-S', '-Y', path], env=env)
        c = self.conn(srv)
        self.cmd(c, b'get foo\r\n', UNAUTH)
        self.cmd(c, auth_set(b'user', b'pass'), b'STORED\r\n')
        self.cmd(c, b'mn\r\n', b'MN\r\n')
        c = self.conn(srv)
        c.send(self.plain(b'user', b'secret'))
        self.nothing_more(c)
        for b in ('binary', 'ascii'):
            rc, err = run_to_exit(['-l', HOST, '-p', str(free_port()), '-S',
                                   '-Y', path, '-B', b], env=env)
            self.assertEqual(rc, 64, err)
            self.assertIn('ERROR: You cannot allow the', err)

    def test_refused_combinations(self):
        env = harness.make_sasl_conf(TmpDir.make(self), self.USERS)
        port = str(free_port())
        for args, msg in [
                (['-B', 'ascii'], 'ERROR: You cannot allow the ASCII '
                 'protocol while using SASL.'),
                (['-B', 'auto'], 'ERROR: You cannot allow the ASCII '
                 'protocol while using SASL.'),
                (['-U', port], 'ERROR: Cannot enable UDP while using binary '
                 'SASL authentication.')]:
            rc, err = run_to_exit(['-l', HOST, '-p', port, '-S'] + args,
                                  env=env)
            self.assertEqual(rc, 64, err)
            self.assertIn(msg, err)

    def test_no_configuration_stops_the_start(self):
        for d in ('/etc/sasl', '/etc/sasl2'):
            if os.path.exists(os.path.join(d, 'memcached.conf')):
                self.skipTest('%s/memcached.conf exists' % d)
        env = {k: v for k, v in os.environ.items() if k != 'SASL_CONF_PATH'}
        old = os.environ.copy()
        os.environ.clear()
        os.environ.update(env)
        try:
            rc, err = run_to_exit(['-l', HOST, '-p', str(free_port()), '-S'])
        finally:
            os.environ.clear()
            os.environ.update(old)
        self.assertNotIn(rc, (0, None), err)
        self.assertIn('Error initializing sasl.', err)


if __name__ == '__main__':
    harness.main()
