"""The service as installed (issue 12 item 2): `meson install` into a
DESTDIR puts the binary, the tools, the man page, the systemd unit, its
sysusers.d file and the config file in place; the man page renders with
`man -l` and lists every flag `-h` prints, with the same text and default;
the unit passes `systemd-analyze verify` (skipped without systemd-analyze)
and is hardened.

Environment: TIERCACHE_BIN (the built server), TIERCACHE_MAN (the built
tiercache.1), MESON_BUILD_ROOT (the build directory), MESON (the meson
command)."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'blackbox'))
import harness  # noqa: E402

BIN = os.environ.get('TIERCACHE_BIN', '')
MAN = os.environ.get('TIERCACHE_MAN', '')
BUILD = os.environ.get('MESON_BUILD_ROOT', '')
MESON = os.environ.get('MESON', 'meson')

# what must be installed, by path suffix (tiercache-inspect and
# tiercache-bench when the build made them)
WANT = ['bin/tiercache', 'bin/tiercache-tool', 'man1/tiercache.1',
        'lib/systemd/system/tiercache.service',
        'lib/sysusers.d/tiercache.conf', 'etc/tiercache.conf',
        'doc/tiercache/tiercache.conf.example']


def norm(text):
    """Rendered man text without overstrike, whitespace runs as one space."""
    text = re.sub(r'.\x08', '', text)
    return ' '.join(text.split())


def help_rows():
    """(label, rest) of each flag row of `tiercache -h`."""
    out = subprocess.run([BIN, '-h'], stdout=subprocess.PIPE, check=True,
                         timeout=10).stdout.decode()
    rows = []
    for line in out.splitlines():
        m = re.match(r'^  (-o [^\s/]\S*|-\S+(?: <val>)?) +(\S.*)$', line)
        if m:
            rows.append((m.group(1), m.group(2)))
    return rows


class Install(unittest.TestCase):
    maxDiff = 2000

    @classmethod
    def setUpClass(cls):
        cls.dest = tempfile.mkdtemp(prefix='svc-destdir-')
        env = dict(os.environ, DESTDIR=cls.dest)
        p = subprocess.run([MESON, 'install', '-C', BUILD, '--no-rebuild',
                            '--quiet'], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=300)
        cls.install_log = p.stdout.decode('utf-8', 'replace')
        cls.install_rc = p.returncode
        cls.files = {}
        for root, _, names in os.walk(cls.dest):
            for n in names:
                full = os.path.join(root, n)
                cls.files[os.path.relpath(full, cls.dest)] = full

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dest, ignore_errors=True)

    def installed(self, suffix):
        hits = [p for rel, p in self.files.items()
                if rel == suffix or rel.endswith('/' + suffix)]
        self.assertEqual(len(hits), 1, '%s: %s' % (suffix, sorted(self.files)))
        return hits[0]

    def test_meson_install(self):
        self.assertEqual(self.install_rc, 0, self.install_log)
        for suffix in WANT:
            self.installed(suffix)
        for tool in ('tiercache-inspect', 'tiercache-bench'):
            built = [os.path.join(r, n) for r, _, ns in os.walk(BUILD)
                     for n in ns if n == tool]
            if built:
                self.installed('bin/' + tool)
        exe = self.installed('bin/tiercache')
        self.assertTrue(os.access(exe, os.X_OK))
        v = subprocess.run([exe, '-V'], stdout=subprocess.PIPE, timeout=10)
        self.assertEqual(v.returncode, 0)
        self.assertTrue(v.stdout.startswith(b'tiercache '))
        self.assertTrue(os.access(self.installed('bin/tiercache-tool'),
                                  os.X_OK))

    def test_installed_config_file_starts_a_server(self):
        exe = self.installed('bin/tiercache')
        conf = self.installed('etc/tiercache.conf')
        with harness.Server(['--config-file', conf], binary=exe) as srv:
            c = srv.conn()
            c.send(b'stats settings\r\n')
            raw = c.recv_until(b'END\r\n').decode()
            c.close()
        self.assertIn('STAT maxbytes %d\r\n' % (64 << 20), raw)
        self.assertIn('STAT inter 127.0.0.1\r\n', raw)

    def unit_text(self):
        with open(self.installed('lib/systemd/system/tiercache.service')) as f:
            return f.read()

    def test_unit_is_hardened(self):
        text = self.unit_text()
        keys = {}
        for line in text.splitlines():
            if '=' in line and not line.startswith('#'):
                k, v = line.split('=', 1)
                keys.setdefault(k.strip(), []).append(v.strip())
        for k, v in (('User', 'tiercache'), ('NoNewPrivileges', 'yes'),
                     ('ProtectSystem', 'strict'), ('ProtectHome', 'yes'),
                     ('PrivateTmp', 'yes'), ('Restart', 'on-failure'),
                     ('ReadWritePaths', '/var/lib/tiercache'),
                     ('StateDirectory', 'tiercache')):
            self.assertEqual(keys.get(k), [v], k)
        self.assertGreaterEqual(int(keys['LimitNOFILE'][0]), 4096)
        self.assertEqual(keys['ExecReload'], ['/bin/kill -HUP $MAINPID'])
        exe = self.installed('bin/tiercache')
        conf = self.installed('etc/tiercache.conf')
        start = keys['ExecStart'][0].split()
        # the installed paths, without the DESTDIR
        self.assertEqual(start, [exe[len(self.dest):], '--config-file',
                                 conf[len(self.dest):]])
        with open(self.installed('lib/sysusers.d/tiercache.conf')) as f:
            self.assertRegex(f.read(), r'(?m)^u tiercache - .* /var/lib/tiercache$')
        self.assertNotIn('-d', start)
        with open(conf) as f:
            active = [ln for ln in f.read().splitlines()
                      if ln.strip() and not ln.lstrip().startswith('#')]
        for bad in ('-d', '-u', '-P'):
            self.assertFalse([ln for ln in active if ln.split()[0] == bad],
                             '%s in the config file of a systemd unit' % bad)

    @unittest.skipUnless(shutil.which('systemd-analyze'), 'no systemd-analyze')
    def test_systemd_analyze_verify(self):
        text = self.unit_text()
        exe = self.installed('bin/tiercache')
        # verify checks that ExecStart exists: the DESTDIR copy
        text = re.sub(r'(?m)^ExecStart=\S+', 'ExecStart=' + exe, text)
        d = tempfile.mkdtemp(prefix='svc-verify-')
        self.addCleanup(shutil.rmtree, d, True)
        unit = os.path.join(d, 'tiercache.service')
        with open(unit, 'w') as f:
            f.write(text)
        man_dir = os.path.dirname(os.path.dirname(
            self.installed('man1/tiercache.1')))
        env = dict(os.environ, MANPATH=man_dir)   # Documentation=man:...
        p = subprocess.run(['systemd-analyze', 'verify', unit], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        err = p.stderr.decode('utf-8', 'replace')
        self.assertEqual(p.returncode, 0, err)
        # a directive systemd ignores is only a warning: none allowed
        self.assertEqual([ln for ln in err.splitlines()
                          if 'tiercache.service' in ln], [], err)


@unittest.skipUnless(shutil.which('man'), 'no man')
class ManPage(unittest.TestCase):
    maxDiff = 4000

    def render(self):
        env = dict(os.environ, MANWIDTH='120', LC_ALL='C', MANPAGER='cat',
                   PAGER='cat')
        p = subprocess.run(['man', '-l', MAN], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr.strip(), b'', 'groff warnings')
        return p.stdout.decode('utf-8', 'replace')

    def test_built_page_is_the_binary_s(self):
        want = subprocess.run([BIN, '--man'], stdout=subprocess.PIPE,
                              timeout=10, check=True).stdout
        with open(MAN, 'rb') as f:
            self.assertEqual(f.read(), want)

    def test_lists_every_flag_of_help(self):
        text = norm(self.render())
        self.assertIn('TIERCACHE(1)', text)
        rows = help_rows()
        self.assertGreater(len(rows), 80)
        for label, rest in rows:
            # label, help text and default, as -h prints them
            self.assertIn(norm(label + ' ' + rest), text, label)

    def test_hidden_flag_not_listed(self):
        self.assertNotIn('--man', subprocess.run(
            [BIN, '-h'], stdout=subprocess.PIPE, timeout=10).stdout.decode())


if __name__ == '__main__':
    for need in (BIN, MAN, BUILD):
        if not need or not os.path.exists(need):
            print('set TIERCACHE_BIN, TIERCACHE_MAN and MESON_BUILD_ROOT',
                  file=sys.stderr)
            sys.exit(2)
    unittest.main(verbosity=2)
