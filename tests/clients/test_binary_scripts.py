"""Real binary-protocol clients in other languages run a fixed script,
unchanged, against one server:

    dalli   Ruby's dalli 3.0.6 (Debian ruby-dalli): binary is the only
            protocol it speaks (meta arrived in dalli 3.2)     dalli_script.rb
    php     PHP memcached extension (Debian php-memcached) with
            Memcached::OPT_BINARY_PROTOCOL          php_memcached_script.php
    memjs   memjs from npm (pinned in package.json), binary only
                                                           memjs_script.js

Usage: test_binary_scripts.py CLIENT [unittest args]  (CLIENT: one of the
above, or 'all'). Each script prints "ok NAME" / "FAIL NAME: ..." per step
and bounds itself to 20 s; this driver starts the server, runs it, and fails
listing every failing step. A client is skipped only when its package is not
installed (memjs: when `npm ci` cannot install it).
"""

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'blackbox'))
import harness  # noqa: E402
from harness import BBTest  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT_TIMEOUT = 45   # seconds; each script stops itself after ~22 s


def _probe(cmd):
    """True if cmd runs and exits 0 (used to see if a package is there)."""
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return p.returncode == 0


def need_dalli():
    if not shutil.which('ruby'):
        raise unittest.SkipTest('ruby not installed (Debian: ruby)')
    if not _probe(['ruby', '-e', 'require "dalli"']):
        raise unittest.SkipTest('dalli not installed (Debian: ruby-dalli)')


def need_php():
    if not shutil.which('php'):
        raise unittest.SkipTest('php not installed (Debian: php-cli)')
    if not _probe(['php', '-r', 'exit(class_exists("Memcached") ? 0 : 1);']):
        raise unittest.SkipTest('PHP memcached extension not installed '
                                '(Debian: php-memcached)')


def need_memjs():
    """Installs memjs into tests/clients/node_modules with npm ci (once;
    a lock keeps a parallel run of the reference twin out)."""
    if not shutil.which('node'):
        raise unittest.SkipTest('node not installed (Debian: nodejs)')
    marker = os.path.join(HERE, 'node_modules', 'memjs', 'package.json')
    lock_path = os.path.join(tempfile.gettempdir(), 'tiercache-npm-%s.lock'
                             % hashlib.sha1(HERE.encode()).hexdigest()[:12])
    with open(lock_path, 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(marker):
            return
        npm = shutil.which('npm')
        if not npm:
            raise unittest.SkipTest('npm not installed: cannot install memjs')
        try:
            p = subprocess.run([npm, 'ci', '--no-audit', '--no-fund'],
                               cwd=HERE, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=180)
            out = p.stdout.decode('utf-8', 'replace')
        except subprocess.TimeoutExpired:
            out = 'npm ci timed out after 180 s'
        if not os.path.exists(marker):
            raise unittest.SkipTest('memjs could not be installed with npm '
                                    'ci in %s:\n%s' % (HERE, out[-2000:]))


CLIENTS = {
    'dalli': (need_dalli,
              lambda port: ['ruby', os.path.join(HERE, 'dalli_script.rb'),
                            '%s:%d' % (harness.HOST, port)]),
    'php': (need_php,
            lambda port: ['php', os.path.join(HERE,
                                              'php_memcached_script.php'),
                          harness.HOST, str(port)]),
    'memjs': (need_memjs,
              lambda port: ['node', os.path.join(HERE, 'memjs_script.js'),
                            '%s:%d' % (harness.HOST, port)]),
}


class ScriptClientMixin:
    """Test body; make_classes() mixes it into one BBTest per client."""
    CLIENT = None

    @classmethod
    def setUpClass(cls):
        CLIENTS[cls.CLIENT][0]()   # skip before starting a server
        cls.SERVER_ARGS = []
        super().setUpClass()

    def test_script(self):
        cmd = CLIENTS[self.CLIENT][1](self.srv.port)
        env = dict(os.environ)
        env['NODE_PATH'] = os.path.join(HERE, 'node_modules')
        try:
            p = subprocess.run(cmd, cwd=HERE, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, env=env,
                               timeout=SCRIPT_TIMEOUT)
            out = p.stdout.decode('utf-8', 'replace')
            rc = p.returncode
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b'').decode('utf-8', 'replace')
            rc = 'timeout after %d s' % SCRIPT_TIMEOUT
        print(out, flush=True)
        steps = [ln for ln in out.splitlines()
                 if ln.startswith('ok ') or ln.startswith('FAIL ')]
        failing = [ln for ln in steps if ln.startswith('FAIL ')]
        self.assertEqual(failing, [], '%s: %d failing steps:\n%s' % (
            self.CLIENT, len(failing), '\n'.join(failing)))
        self.assertEqual(rc, 0, out[-3000:])
        self.assertIn(' summary: ', out)
        self.assertGreaterEqual(len(steps), 50, out[-3000:])


def make_classes(names):
    out = {}
    for name in names:
        cls_name = 'Client_%s' % name
        out[cls_name] = type(cls_name, (ScriptClientMixin, BBTest),
                             {'CLIENT': name})
    return out


if __name__ == '__main__':
    which = sys.argv.pop(1) if len(sys.argv) > 1 and \
        not sys.argv[1].startswith('-') else 'all'
    if which != 'all' and which not in CLIENTS:
        print('unknown client %r; one of %s or all' % (which,
                                                       ', '.join(CLIENTS)),
              file=sys.stderr)
        sys.exit(2)
    globals().update(make_classes(CLIENTS if which == 'all' else [which]))
    harness.main()
