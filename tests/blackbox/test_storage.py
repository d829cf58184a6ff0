"""Storage commands: set/add/replace/append/prepend/cas, exact replies."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import BBTest  # noqa: E402


class Storage(BBTest):
    SERVER_ARGS = []

    def test_set_get(self):
        c = self.conn()
        self.cmd(c, 'set st1 5 0 3\r\nabc\r\n', 'STORED\r\n')
        self.cmd(c, 'get st1\r\n', 'VALUE st1 5 3\r\nabc\r\nEND\r\n')
        self.cmd(c, 'set st1 0 0 2\r\nde\r\n', 'STORED\r\n')
        self.cmd(c, 'get st1\r\n', 'VALUE st1 0 2\r\nde\r\nEND\r\n')

    def test_add(self):
        c = self.conn()
        self.cmd(c, 'add sa1 1 0 1\r\nx\r\n', 'STORED\r\n')
        self.cmd(c, 'add sa1 2 0 1\r\ny\r\n', 'NOT_STORED\r\n')
        self.cmd(c, 'get sa1\r\n', 'VALUE sa1 1 1\r\nx\r\nEND\r\n')

    def test_replace(self):
        c = self.conn()
        self.cmd(c, 'replace sr1 0 0 1\r\nx\r\n', 'NOT_STORED\r\n')
        self.cmd(c, 'get sr1\r\n', 'END\r\n')
        self.cmd(c, 'set sr1 0 0 1\r\nx\r\n', 'STORED\r\n')
        self.cmd(c, 'replace sr1 7 0 2\r\nyy\r\n', 'STORED\r\n')
        self.cmd(c, 'get sr1\r\n', 'VALUE sr1 7 2\r\nyy\r\nEND\r\n')

    def test_append_prepend(self):
        c = self.conn()
        self.cmd(c, 'append sp1 0 0 1\r\nx\r\n', 'NOT_STORED\r\n')
        self.cmd(c, 'prepend sp1 0 0 1\r\nx\r\n', 'NOT_STORED\r\n')
        self.cmd(c, 'get sp1\r\n', 'END\r\n')
        self.cmd(c, 'set sp1 9 0 3\r\nmid\r\n', 'STORED\r\n')
        # append/prepend ignore the new flags and exptime
        self.cmd(c, 'append sp1 1 0 4\r\n_end\r\n', 'STORED\r\n')
        self.cmd(c, 'prepend sp1 2 0 6\r\nstart_\r\n', 'STORED\r\n')
        self.cmd(c, 'get sp1\r\n', 'VALUE sp1 9 13\r\nstart_mid_end\r\nEND\r\n')
        self.cmd(c, 'append sp1 0 0 0\r\n\r\n', 'STORED\r\n')
        self.cmd(c, 'get sp1\r\n', 'VALUE sp1 9 13\r\nstart_mid_end\r\nEND\r\n')

    def gets_cas(self, c, key):
        c.send(('gets %s\r\n' % key).encode())
        line = c.readline()
        self.assertTrue(line.startswith(b'VALUE '), line)
        parts = line.split()
        n = int(parts[3])
        c.recv_exact(n + 2)
        self.assertEqual(c.readline(), b'END\r\n')
        return int(parts[4])

    def test_cas(self):
        c = self.conn()
        self.cmd(c, 'cas sc1 0 0 1 1\r\nx\r\n', 'NOT_FOUND\r\n')
        self.cmd(c, 'set sc1 0 0 1\r\nx\r\n', 'STORED\r\n')
        cas = self.gets_cas(c, 'sc1')
        self.assertGreater(cas, 0)
        self.cmd(c, 'cas sc1 3 0 1 %d\r\ny\r\n' % (cas + 1000), 'EXISTS\r\n')
        self.cmd(c, 'cas sc1 3 0 1 %d\r\ny\r\n' % cas, 'STORED\r\n')
        self.cmd(c, 'cas sc1 3 0 1 %d\r\nz\r\n' % cas, 'EXISTS\r\n')
        cas2 = self.gets_cas(c, 'sc1')
        self.assertNotEqual(cas, cas2)
        self.cmd(c, 'gets sc1\r\n', 'VALUE sc1 3 1 %d\r\ny\r\nEND\r\n' % cas2)
        # every modification changes the cas unique
        self.cmd(c, 'append sc1 0 0 1\r\nq\r\n', 'STORED\r\n')
        self.assertNotEqual(self.gets_cas(c, 'sc1'), cas2)
        # cas with a missing unique is a wrong token count
        self.cmd(c, 'cas sc1 0 0 1\r\nx\r\n', 'ERROR\r\nERROR\r\n')

    def test_cas_noreply(self):
        c = self.conn()
        self.cmd(c, 'set scn 0 0 1\r\nx\r\n', 'STORED\r\n')
        cas = self.gets_cas(c, 'scn')
        c.send('cas scn 0 0 1 %d noreply\r\nz\r\n' % (cas + 1))
        c.send('cas scnmissing 0 0 1 5 noreply\r\nz\r\n')
        self.cmd(c, 'get scn\r\n', 'VALUE scn 0 1\r\nx\r\nEND\r\n')
        c.send('cas scn 0 0 1 %d noreply\r\nw\r\n' % cas)
        self.cmd(c, 'get scn\r\n', 'VALUE scn 0 1\r\nw\r\nEND\r\n')

    def test_noreply_all(self):
        c = self.conn()
        c.send('set snr 0 0 1 noreply\r\na\r\n'
               'add snr 0 0 1 noreply\r\nb\r\n'
               'replace snrx 0 0 1 noreply\r\nb\r\n'
               'append snr 0 0 1 noreply\r\nc\r\n'
               'prepend snr 0 0 1 noreply\r\nd\r\n'
               'add snr2 0 0 1 noreply\r\ne\r\n'
               'replace snr2 0 0 1 noreply\r\nf\r\n')
        self.cmd(c, 'get snr snr2 snrx\r\n',
                 'VALUE snr 0 3\r\ndac\r\nVALUE snr2 0 1\r\nf\r\nEND\r\n')
        self.nothing_more(c)

    def test_unknown_trailing_token_is_not_noreply(self):
        c = self.conn()
        self.cmd(c, 'set snq 0 0 1 garbage\r\nx\r\n', 'STORED\r\n')

    def test_flags_range(self):
        c = self.conn()
        self.cmd(c, 'set sf 0 0 1\r\nx\r\n', 'STORED\r\n')
        self.cmd(c, 'get sf\r\n', 'VALUE sf 0 1\r\nx\r\nEND\r\n')
        self.cmd(c, 'set sf 4294967295 0 1\r\nx\r\n', 'STORED\r\n')
        self.cmd(c, 'get sf\r\n', 'VALUE sf 4294967295 1\r\nx\r\nEND\r\n')
        # memcached 1.6.18 parses flags with strtoul on a 64-bit long and
        # truncates to 32 bits: 4294967296 is accepted and stored as 0.
        self.cmd(c, 'set sf 4294967296 0 1\r\ny\r\n', 'STORED\r\n')
        self.cmd(c, 'get sf\r\n', 'VALUE sf 0 1\r\ny\r\nEND\r\n')
        self.cmd(c, 'set sf 4294967298 0 1\r\nz\r\n', 'STORED\r\n')
        self.cmd(c, 'get sf\r\n', 'VALUE sf 2 1\r\nz\r\nEND\r\n')
        # non-numeric and negative flags
        self.cmd(c, 'set sf x 0 1\r\nx\r\n',
                 'CLIENT_ERROR bad command line format\r\nERROR\r\n')
        self.cmd(c, 'set sf -1 0 1\r\nx\r\n',
                 'CLIENT_ERROR bad command line format\r\nERROR\r\n')
        self.cmd(c, 'get sf\r\n', 'VALUE sf 2 1\r\nz\r\nEND\r\n')

    def test_bad_command_lines(self):
        c = self.conn()
        self.cmd(c, 'set sb 0 0 -1\r\n',
                 'CLIENT_ERROR bad command line format\r\n')
        self.cmd(c, 'set sb 0 0 abc\r\nx\r\n',
                 'CLIENT_ERROR bad command line format\r\nERROR\r\n')
        self.cmd(c, 'set sb 0 abc 1\r\nx\r\n',
                 'CLIENT_ERROR bad command line format\r\nERROR\r\n')
        self.cmd(c, 'set sb 0 0\r\n', 'ERROR\r\n')
        self.cmd(c, 'set sb 0 0 1 noreply extra\r\n', 'ERROR\r\n')
        self.cmd(c, 'set\r\n', 'ERROR\r\n')
        self.cmd(c, 'get sb\r\n', 'END\r\n')

    def test_zero_length_value(self):
        c = self.conn()
        self.cmd(c, 'set sz 0 0 0\r\n\r\n', 'STORED\r\n')
        self.cmd(c, 'get sz\r\n', 'VALUE sz 0 0\r\n\r\nEND\r\n')

    def test_value_with_crlf_inside(self):
        c = self.conn()
        self.cmd(c, 'set scr 0 0 8\r\na\r\nb\r\nc\n\r\n', 'STORED\r\n')
        self.cmd(c, 'get scr\r\n', 'VALUE scr 0 8\r\na\r\nb\r\nc\n\r\nEND\r\n')
        self.cmd(c, 'set scr 0 0 5\r\nEND\r\n\r\n', 'STORED\r\n')
        self.cmd(c, 'get scr\r\n', 'VALUE scr 0 5\r\nEND\r\n\r\nEND\r\n')

    def test_binary_value(self):
        c = self.conn()
        val = bytes(range(256)) * 4
        self.cmd(c, b'set sbin 0 0 1024\r\n' + val + b'\r\n', 'STORED\r\n')
        self.cmd(c, 'get sbin\r\n',
                 b'VALUE sbin 0 1024\r\n' + val + b'\r\nEND\r\n')

    def test_bad_data_chunk(self):
        c = self.conn()
        # no previous item
        self.cmd(c, 'set sd 0 0 3\r\nabcde\r\n',
                 'CLIENT_ERROR bad data chunk\r\nERROR\r\n')
        self.cmd(c, 'get sd\r\n', 'END\r\n')
        # the old value survives a bad data chunk
        self.cmd(c, 'set sd 0 0 3\r\nabc\r\n', 'STORED\r\n')
        self.cmd(c, 'set sd 0 0 3\r\nabcd\r\n',
                 'CLIENT_ERROR bad data chunk\r\nERROR\r\n')
        self.cmd(c, 'get sd\r\n', 'VALUE sd 0 3\r\nabc\r\nEND\r\n')
        # the bytes after the data block are read as a command line
        self.cmd(c, 'set sd 0 0 1\r\nxyget sd\r\n',
                 'CLIENT_ERROR bad data chunk\r\nERROR\r\n')
        self.cmd(c, 'set sd 0 0 1\r\nx\n\r\n',
                 'CLIENT_ERROR bad data chunk\r\nERROR\r\n')
        self.cmd(c, 'get sd\r\n', 'VALUE sd 0 3\r\nabc\r\nEND\r\n')

    def test_exptime_immediate(self):
        c = self.conn()
        now = int(time.time())
        self.cmd(c, 'set se_neg 0 -1 1\r\nx\r\n', 'STORED\r\n')
        self.cmd(c, 'get se_neg\r\n', 'END\r\n')
        self.cmd(c, 'set se_neg 0 -1 1\r\nx\r\n', 'STORED\r\n')
        self.cmd(c, 'add se_neg 0 0 1\r\ny\r\n', 'STORED\r\n')
        # absolute unix times in the past: expired at once
        self.cmd(c, 'set se_past 0 %d 1\r\nx\r\n' % (now - 100), 'STORED\r\n')
        self.cmd(c, 'get se_past\r\n', 'END\r\n')
        self.cmd(c, 'set se_past2 0 1000000000 1\r\nx\r\n', 'STORED\r\n')
        self.cmd(c, 'get se_past2\r\n', 'END\r\n')
        # 30 days exactly is relative; one more second is absolute (1970)
        self.cmd(c, 'set se_30d 0 2592000 1\r\nx\r\n', 'STORED\r\n')
        self.cmd(c, 'get se_30d\r\n', 'VALUE se_30d 0 1\r\nx\r\nEND\r\n')
        self.cmd(c, 'set se_30d1 0 2592001 1\r\nx\r\n', 'STORED\r\n')
        self.cmd(c, 'get se_30d1\r\n', 'END\r\n')
        # absolute time in the future
        self.cmd(c, 'set se_fut 0 %d 1\r\nx\r\n' % (now + 3600), 'STORED\r\n')
        self.cmd(c, 'get se_fut\r\n', 'VALUE se_fut 0 1\r\nx\r\nEND\r\n')

    def test_exptime_relative_expires(self):
        # the one sleep of this file (about 2.5 s)
        c = self.conn()
        now = int(time.time())
        self.cmd(c, 'set sx1 0 2 1\r\na\r\n', 'STORED\r\n')
        self.cmd(c, 'set sx2 0 2 1\r\nb\r\n', 'STORED\r\n')
        self.cmd(c, 'set sx3 0 2 1\r\nc\r\n', 'STORED\r\n')
        self.cmd(c, 'set sx4 0 100 1\r\nd\r\n', 'STORED\r\n')
        self.cmd(c, 'set sx5 0 %d 1\r\ne\r\n' % (now + 100), 'STORED\r\n')
        self.cmd(c, 'get sx1 sx2\r\n',
                 'VALUE sx1 0 1\r\na\r\nVALUE sx2 0 1\r\nb\r\nEND\r\n')
        self.cmd(c, 'touch sx2 100\r\n', 'TOUCHED\r\n')
        self.cmd(c, 'gat 0 sx3\r\n', 'VALUE sx3 0 1\r\nc\r\nEND\r\n')
        self.cmd(c, 'touch sx4 1\r\n', 'TOUCHED\r\n')
        time.sleep(2.6)
        self.cmd(c, 'get sx1 sx2 sx3 sx4 sx5\r\n',
                 'VALUE sx2 0 1\r\nb\r\nVALUE sx3 0 1\r\nc\r\n'
                 'VALUE sx5 0 1\r\ne\r\nEND\r\n')
        self.cmd(c, 'add sx1 0 0 1\r\nz\r\n', 'STORED\r\n')
        self.cmd(c, 'replace sx4 0 0 1\r\nz\r\n', 'NOT_STORED\r\n')


class TooLarge(BBTest):
    SERVER_ARGS = ['-I', '1m']

    def test_object_too_large(self):
        c = self.conn()
        self.cmd(c, 'set tl 0 0 1\r\nx\r\n', 'STORED\r\n')
        n = 1024 * 1024 + 1
        # the value is swallowed, and the failed SET deletes the old item
        self.cmd(c, b'set tl 0 0 %d\r\n' % n + b'a' * n + b'\r\nget tl\r\n',
                 'SERVER_ERROR object too large for cache\r\nEND\r\n')
        self.cmd(c, 'version\r\n', 'VERSION ')
        c.readline()
        self.nothing_more(c)

    def test_too_large_add_append_keep_old(self):
        c = self.conn()
        self.cmd(c, 'set tl2 0 0 1\r\nx\r\n', 'STORED\r\n')
        n = 2 * 1024 * 1024
        for verb in ('add', 'replace', 'append', 'prepend'):
            self.cmd(c, b'%s tl2 0 0 %d\r\n' % (verb.encode(), n) + b'a' * n +
                     b'\r\nget tl2\r\n',
                     'SERVER_ERROR object too large for cache\r\n'
                     'VALUE tl2 0 1\r\nx\r\nEND\r\n')

    def test_too_large_noreply(self):
        c = self.conn()
        n = 1024 * 1024 + 100
        # memcached 1.6.18 suppresses the SERVER_ERROR under noreply too
        self.cmd(c, b'set tl3 0 0 %d noreply\r\n' % n + b'a' * n +
                 b'\r\nget tl3\r\n', 'END\r\n')

    def test_large_value_fits(self):
        c = self.conn()
        n = 1024 * 1024 - 1024
        val = bytes((i * 7) & 0xff for i in range(n))
        self.cmd(c, b'set tl4 0 0 %d\r\n' % n + val + b'\r\n', 'STORED\r\n')
        self.cmd(c, 'get tl4\r\n',
                 b'VALUE tl4 0 %d\r\n' % n + val + b'\r\nEND\r\n')


class OutOfMemory(BBTest):
    def test_dash_M_out_of_memory(self):
        srv = self.start(['-m', '2', '-M'])
        c = self.conn(srv)
        val = b'v' * 1000
        got = None
        for i in range(8000):   # 8 MB into 2 MB
            c.send(b'set oom%d 0 0 1000\r\n' % i + val + b'\r\n')
            line = c.readline()
            if line != b'STORED\r\n':
                got = line
                break
        self.assertEqual(got, b'SERVER_ERROR out of memory storing object\r\n')
        # the value was swallowed, the connection still works, old items stay
        self.cmd(c, 'get oom0\r\n', b'VALUE oom0 0 1000\r\n' + val +
                 b'\r\nEND\r\n')
        c.send(b'set oomx 0 0 1000\r\n' + val + b'\r\n')
        self.assertEqual(c.readline(),
                         b'SERVER_ERROR out of memory storing object\r\n')
        self.assertEqual(self.stats(c)['evictions'], '0')


class NoCas(BBTest):
    SERVER_ARGS = ['-C']

    def test_cas_disabled(self):
        c = self.conn()
        self.cmd(c, 'set nc 0 0 1\r\nx\r\n', 'STORED\r\n')
        self.cmd(c, 'gets nc\r\n', 'VALUE nc 0 1 0\r\nx\r\nEND\r\n')
        self.cmd(c, 'cas nc 0 0 1 0\r\ny\r\n', 'EXISTS\r\n')
        self.cmd(c, 'cas nc 0 0 1 1\r\ny\r\n', 'EXISTS\r\n')
        self.cmd(c, 'get nc\r\n', 'VALUE nc 0 1\r\nx\r\nEND\r\n')


if __name__ == '__main__':
    harness.main()
