"""Black-box test harness for tiercache (stdlib only, unittest based).

The server under test is named by the TIERCACHE_BIN environment variable.
If its basename is `memcached` the harness runs in *reference mode*: the
same tests run against the real memcached 1.6.18, which proves that what
the tests expect is memcached's exact behaviour.

    Server(args)   context manager: start, wait until it accepts, stop,
                   and fail the test on a bad exit or sanitizer report.
    Conn(port)     raw socket client; every operation has a timeout.
    BBTest         unittest.TestCase with helpers (self.start, self.conn,
                   self.cmd, ...).
    tiercache_only / reference_only   skip decorators.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BIN = os.environ.get('TIERCACHE_BIN', '')
REFERENCE = os.path.basename(BIN) == 'memcached'
MEMCACHED = '/usr/bin/memcached'   # the reference, for side-by-side checks
HOST = '127.0.0.1'
START_TIMEOUT = 10.0   # seconds to wait for a server to accept
STOP_TIMEOUT = 10.0    # seconds to wait for a clean exit after SIGTERM
IO_TIMEOUT = 5.0       # default timeout of every socket operation
BAD_STDERR = ('runtime error', 'ERROR: AddressSanitizer', 'LeakSanitizer')

tiercache_only = unittest.skipIf(REFERENCE, 'tiercache-only behaviour')
reference_only = unittest.skipUnless(REFERENCE, 'memcached-only behaviour')


def refusing_port():
    """(socket, port): a loopback TCP port bound and never listened on, so
    a connection to it is refused for as long as the socket stays open
    (no other process can take it meanwhile)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((HOST, 0))
    return s, s.getsockname()[1]


def free_port():
    """Returns a TCP port that was free a moment ago (racy; callers retry)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def free_udp_port():
    """Returns a port free for both TCP and UDP a moment ago (racy; callers
    retry). memcaslap -U wants the server's TCP and UDP ports equal."""
    for _ in range(50):
        port = free_port()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind((HOST, port))
            return port
        except OSError:
            continue
        finally:
            u.close()
    raise ServerError('no port free for both TCP and UDP')


def parse_port_file(text):
    """Returns the TCP port from a MEMCACHED_PORT_FILENAME file, or None."""
    m = re.search(r'^TCP INET6?: (\d+)$', text, re.M)
    return int(m.group(1)) if m else None


def rss_kb(pid):
    """VmRSS of a process in KiB, from /proc/<pid>/status."""
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


class ServerError(Exception):
    pass


class Server:
    """Starts the server under test; use as a context manager.

    args: extra command line flags. tcp=False: do not add port/listen
    flags (the caller passes -s for a unix socket, which disables TCP in
    memcached). listen=False: no -l (tiercache's default listen address). unix: the socket path to wait for when tcp is False.
    check_exit: verify a clean exit on stop (tiercache) / death (memcached).
    udp=True: both servers get -p P -U P -l 127.0.0.1 for a free port P
    (there is no ephemeral UDP port); self.udp_port is P.
    """

    def __init__(self, args=None, tcp=True, unix=None, check_exit=True,
                 env=None, binary=None, listen=True, udp=False):
        self.udp = udp
        self.udp_port = None
        self.listen = listen   # False: tiercache gets -p 0 but no -l
        self.bin = binary or BIN
        self.ref = os.path.basename(self.bin) == 'memcached'
        self.args = list(args or [])
        self.tcp = tcp
        self.unix = unix
        self.check_exit = check_exit
        self.extra_env = env or {}
        self.proc = None
        self.port = None
        self.tmpdir = tempfile.mkdtemp(prefix='bb-')
        self.stderr_path = os.path.join(self.tmpdir, 'stderr')
        self.stdout_path = os.path.join(self.tmpdir, 'stdout')
        self.port_file = os.path.join(self.tmpdir, 'portfile')
        self.exit_code = None
        self.final_stderr = None   # kept once stop() removed tmpdir

    # -- lifecycle -------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, et, ev, tb):
        problem = self.stop()
        if problem and et is None:
            raise AssertionError(problem)
        return False

    def cmdline(self, port=None):
        if not self.bin:
            raise ServerError('TIERCACHE_BIN is not set')
        cmd = [self.bin]
        if self.ref:
            cmd += ['-u', 'root']
            if self.tcp:
                cmd += ['-l', HOST, '-p', str(port)]
                if self.udp:
                    cmd += ['-U', str(port)]
        elif self.tcp and self.udp:
            cmd += ['-p', str(port), '-U', str(port), '-l', HOST]
        elif self.tcp:
            cmd += ['-p', '0'] + (['-l', HOST] if self.listen else [])
        return cmd + self.args

    def start(self):
        last = None
        for _ in range(3 if self.ref or self.udp else 1):
            try:
                self._start_once()
                return self
            except ServerError as e:
                last = e
                self.stop(quiet=True)
        raise last

    def _start_once(self):
        port = None
        if self.tcp and self.udp:
            port = free_udp_port()
            self.udp_port = port
        elif self.ref and self.tcp:
            port = free_port()
        self.port = None
        env = dict(os.environ)
        env.update(self.extra_env)
        os.makedirs(self.tmpdir, exist_ok=True)
        self.final_stderr = None
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        env['MEMCACHED_PORT_FILENAME'] = self.port_file
        self.cmd = self.cmdline(port)
        self.err_f = open(self.stderr_path, 'wb')
        self.out_f = open(self.stdout_path, 'wb')
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                     stdout=self.out_f, stderr=self.err_f,
                                     env=env)
        self.pid = self.proc.pid
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError('server exited with %s during start: %s\n%s'
                                  % (self.proc.returncode, self.cmd,
                                     self.stderr()))
            if self.tcp:
                if self.port is None:
                    if self.ref or self.udp:
                        self.port = port
                    else:
                        try:
                            with open(self.port_file) as f:
                                self.port = parse_port_file(f.read())
                        except OSError:
                            pass
                if self.port is not None and self._try_connect():
                    return
            elif self.unix and self._try_connect_unix():
                return
            time.sleep(0.02)
        raise ServerError('server did not accept within %ss: %s\n%s'
                          % (START_TIMEOUT, self.cmd, self.stderr()))

    def _try_connect(self):
        try:
            s = socket.create_connection((HOST, self.port), timeout=1)
            s.close()
            return True
        except OSError:
            return False

    def _try_connect_unix(self):
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(1)
            s.connect(self.unix)
            s.close()
            return True
        except OSError:
            return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr(self):
        if self.final_stderr is not None:
            return self.final_stderr
        try:
            with open(self.stderr_path, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Waits for the process to exit; returns the exit code or None."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, quiet=False):
        """Stops the server; returns a problem description or None."""
        if self.proc is None:
            return None
        problem = None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except OSError:
                pass
        code = self.wait_exit()
        if code is None:
            problem = 'server did not exit within %ss of signal %d' % (
                STOP_TIMEOUT, sig)
            self.proc.kill()   # only our own child
            code = self.proc.wait(timeout=10)
        self.exit_code = code
        for f in (self.err_f, self.out_f):
            f.close()
        err = self.stderr()
        # the files go with the process; what they said stays readable
        self.final_stderr = err
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        if self.check_exit and not quiet and problem is None and not self.ref:
            if code != 0:
                problem = 'server exit code %s (want 0)' % code
            for bad in BAD_STDERR:
                if bad in err:
                    problem = 'server stderr contains %r' % bad
                    break
        if problem and not quiet:
            problem += '\ncommand: %s\n--- server stderr ---\n%s' % (
                ' '.join(self.cmd), err[-8000:])
        self.proc = None
        return problem

    def rss_kb(self):
        return rss_kb(self.pid)

    def conn(self, timeout=IO_TIMEOUT):
        if self.tcp:
            return Conn(self.port, timeout=timeout)
        return Conn(None, unix=self.unix, timeout=timeout)


class Closed(Exception):
    pass


def ttl_pattern(expect):
    """A bytes regex for expect in which each ` tN` (N > 0) is ` tN` or
    ` t(N-1)`."""
    out, at = [], 0
    for m in re.finditer(rb' t([1-9][0-9]*)(?=[ \r])', expect):
        n = int(m.group(1))
        out.append(re.escape(expect[at:m.start()]))
        out.append(rb' t(?:%d|%d)' % (n, n - 1))
        at = m.end()
    out.append(re.escape(expect[at:]))
    return b''.join(out)


class Conn:
    """A raw client connection. Every receive has a timeout."""

    def __init__(self, port, unix=None, timeout=IO_TIMEOUT):
        if unix:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(unix)
        else:
            self.sock = socket.create_connection((HOST, port),
                                                 timeout=timeout)
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.buf = b''

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()
        return False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout('timed out; got so far: %r' % self.buf[:300])
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(1 << 20)
        except socket.timeout:
            raise socket.timeout('timed out; got so far: %r' %
                                 self.buf[:300])
        except ConnectionResetError:
            chunk = b''
        if not chunk:
            raise Closed('connection closed; got so far: %r' % self.buf[:300])
        self.buf += chunk

    def recv_exact(self, n, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_match(self, pattern, timeout=None):
        """Reads until the bytes received fullmatch pattern (a compiled
        bytes regex); returns them. Fails as recv_exact does."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not pattern.fullmatch(self.buf):
            self._fill(deadline)
        out, self.buf = self.buf, b''
        return out

    def recv_until(self, marker, timeout=None):
        if isinstance(marker, str):
            marker = marker.encode()
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                out, self.buf = self.buf[:i + len(marker)], \
                    self.buf[i + len(marker):]
                return out
            self._fill(deadline)

    def readline(self, timeout=None):
        return self.recv_until(b'\r\n', timeout)

    def recv_some(self, timeout=0.2):
        """Whatever arrives within timeout (may be b''), without failing."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
        except (socket.timeout, Closed):
            pass
        out, self.buf = self.buf, b''
        return out

    def is_closed(self, timeout=2.0):
        """True if the peer closes the connection within timeout
        (data that arrives first is discarded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True
            if not chunk:
                return True
        return False

    def call(self, data, expect_len=None, until=None):
        self.send(data)
        if until is not None:
            return self.recv_until(until)
        if expect_len is not None:
            return self.recv_exact(expect_len)
        return self.readline()


def _b(x):
    return x.encode() if isinstance(x, str) else x


class BBTest(unittest.TestCase):
    """Base class. Class attribute SERVER_ARGS: if not None, one server is
    shared by the class (started in setUpClass); tests then use unique keys.
    """
    SERVER_ARGS = None
    maxDiff = 4000

    @classmethod
    def setUpClass(cls):
        cls.srv = None
        if cls.SERVER_ARGS is not None:
            cls.srv = Server(cls.SERVER_ARGS).start()

    @classmethod
    def tearDownClass(cls):
        if cls.srv is not None:
            problem = cls.srv.stop()
            cls.srv = None
            if problem:
                raise AssertionError(problem)

    def setUp(self):
        self._conns = []

    def tearDown(self):
        for c in self._conns:
            c.close()

    # -- helpers ---------------------------------------------------------
    def start(self, args=None, **kw):
        """Starts a dedicated server, stopped (and checked) at cleanup."""
        s = Server(args, **kw).start()

        def fin():
            problem = s.stop()
            if problem:
                raise AssertionError(problem)
        self.addCleanup(fin)
        return s

    def conn(self, srv=None, timeout=IO_TIMEOUT):
        c = (srv or self.srv).conn(timeout=timeout)
        self._conns.append(c)
        return c

    def cmd(self, c, send, expect):
        """Sends bytes, reads exactly len(expect) bytes, compares."""
        expect = _b(expect)
        c.send(_b(send))
        try:
            got = c.recv_exact(len(expect))
        except (socket.timeout, Closed) as e:
            self.fail('sent %r, wanted %r: %s' % (_b(send)[:200], expect, e))
        self.assertEqual(got, expect, 'reply to %r' % (_b(send)[:200],))
        return got

    def cmd_ttl(self, c, send, expect, timeout=None):
        """cmd() for replies that show a remaining TTL (see expect_ttl)."""
        c.send(_b(send))
        return self.expect_ttl(c, expect, 'sent %r' % (_b(send)[:200],), timeout)

    def expect_ttl(self, c, expect, what, timeout=None):
        """Reads the reply expect from c, in which each ` tN` (N > 0) also
        matches ` t(N-1)`: the server's clock may tick a whole second
        between the store and the read. Fails, naming `what`, if another
        reply or none comes."""
        expect = _b(expect)
        pattern = re.compile(ttl_pattern(expect), re.S)
        try:
            return c.recv_match(pattern, timeout)
        except (socket.timeout, Closed) as e:
            self.fail('%s, wanted %r: %s' % (what, expect, e))

    def nothing_more(self, c, timeout=0.15):
        extra = c.recv_some(timeout)
        self.assertEqual(extra, b'', 'unexpected extra bytes')

    def stats(self, c, group=''):
        c.send(('stats %s\r\n' % group if group else 'stats\r\n').encode())
        raw = c.recv_until(b'END\r\n')
        out = {}
        for line in raw.decode().split('\r\n'):
            parts = line.split(' ', 2)
            if len(parts) == 3 and parts[0] == 'STAT':
                out[parts[1]] = parts[2]
        return out


SASLPASSWD2 = '/usr/sbin/saslpasswd2'


def make_sasl_conf(tmpdir, users):
    """Writes a sasldb with `users` ({name: password}) and a memcached.conf
    (mech_list: plain, sasldb_path) into tmpdir, as an operator would for
    memcached -S. Returns the env to pass (SASL_CONF_PATH=tmpdir). Raises
    unittest.SkipTest when sasl2-bin's saslpasswd2 is missing."""
    if not os.path.exists(SASLPASSWD2):
        raise unittest.SkipTest('saslpasswd2 (sasl2-bin) is not installed')
    db = os.path.join(tmpdir, 'sasldb')
    for name, password in users.items():
        subprocess.run([SASLPASSWD2, '-f', db, '-a', 'memcached', '-c', '-p',
                        name], input=password.encode(), check=True,
                       timeout=10, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    with open(os.path.join(tmpdir, 'memcached.conf'), 'w') as f:
        f.write('mech_list: plain\nsasldb_path: %s\n' % db)
    return {'SASL_CONF_PATH': tmpdir}


def send_then_end(port, data, timeout=20.0):
    """Connects, sends `data`, ends its side of the stream (shutdown
    SHUT_WR, as a shell pipe into `nc -N` does) and returns every byte the
    server sends until it closes (bounded by `timeout`)."""
    s = socket.create_connection((HOST, port), timeout=timeout)
    got = bytearray()
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    return bytes(got)


def run_to_exit(args, timeout=5.0, env=None):
    """Runs the server under test with `args` (memcached also gets -u root)
    expecting it to refuse to start. Returns (exit status, stderr); a server
    still running after `timeout` is killed and its status is None."""
    cmd = [BIN] + (['-u', 'root'] if REFERENCE else []) + list(args)
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env=full_env)
    try:
        _, err = p.communicate(timeout=timeout)
        return p.returncode, err.decode(errors='replace')
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        return None, err.decode(errors='replace')


def main():
    if not BIN:
        print('TIERCACHE_BIN not set', file=sys.stderr)
        sys.exit(2)
    if not os.path.exists(BIN):
        print('TIERCACHE_BIN=%s does not exist' % BIN, file=sys.stderr)
        sys.exit(77 if REFERENCE else 2)   # 77: meson's "skipped"
    sys.dont_write_bytecode = True
    print('server under test: %s (%s mode)' % (
        BIN, 'reference' if REFERENCE else 'tiercache'), flush=True)
    unittest.main(verbosity=2)
