"""bench/hops/count.py BINARY TRACE SRC - reads the trace hops.c wrote
(sections '# label', then '> addr' / '< addr' per function entry/exit),
maps addresses to source files with addr2line, and prints for each
section: calls into another file, files touched, ram_get calls, the path
of files (consecutive repeats folded)."""
import os
import subprocess
import sys

binary, trace, src = sys.argv[1:4]
sections = []
for line in open(trace):
    line = line.rstrip('\n')
    if line.startswith('# polls '):
        sections[-1] = (sections[-1][0] + ' [%s cache_worker_poll calls]' % line[8:],
                        sections[-1][1])
    elif line.startswith('# '):
        sections.append((line[2:], []))
    elif line[:2] in ('> ', '< ') and sections:
        sections[-1][1].append((line[0], line[2:]))

addrs = sorted({a for _, ev in sections for _, a in ev})
out = subprocess.run(['addr2line', '-f', '-e', binary] + addrs, capture_output=True,
                     text=True, check=True).stdout.split('\n')
where = {}
for i, a in enumerate(addrs):
    fn, loc = out[2 * i], out[2 * i + 1]
    path = loc.split(':')[0]
    rel = os.path.relpath(path, src) if path.startswith('/') else path
    where[a] = (fn, rel)

for label, ev in sections:
    # a function inlined from a header (or without line info) belongs to
    # its caller's file: only calls between .c files are boundaries
    stack = ['(caller)']
    cross = 0
    pairs = set()
    files = set()
    probes = 0
    path = []
    for kind, a in ev:
        fn, f = where[a]
        if kind == '>':
            if not f.endswith('.c'):
                f = stack[-1]
            if f != stack[-1]:
                cross += 1
                pairs.add((stack[-1], f))
                if not path or path[-1] != f:
                    path.append(f)
            files.add(f)
            if fn == 'ram_get':
                probes += 1
            stack.append(f)
        elif len(stack) > 1:
            stack.pop()
            if path and path[-1] != stack[-1] and stack[-1] != '(caller)':
                path.append(stack[-1])
    files.discard('(caller)')
    # the same at the level of the three modules: the door, ram/, flash/
    def mod(f):
        return 'ram' if '/ram/' in f else 'flash' if '/flash/' in f else 'door'
    mstack = ['(caller)']
    mcross = 0
    ramdoor = 0
    for kind, a in ev:
        fn, f = where[a]
        if kind == '>':
            m = mod(f) if f.endswith('.c') else mstack[-1]
            if m != mstack[-1] and mstack[-1] != '(caller)':
                mcross += 1
                if {m, mstack[-1]} == {'ram', 'door'}:
                    ramdoor += 1
            mstack.append(m)
        elif len(mstack) > 1:
            mstack.pop()
    print('%s: %d calls into another file (%d distinct caller/callee file '
          'pairs), %d files, %d ram_get calls' %
          (label, cross, len(pairs), len(files), probes))
    # the door and ram/ file by file, flash/ as one box (its insides are
    # the flash engine's own)
    bstack = ['(caller)']
    bcross = 0
    calls = []
    for kind, a in ev:
        fn, f = where[a]
        if kind == '>':
            b = ('flash/' if '/flash/' in f else f) if f.endswith('.c') else bstack[-1]
            if b != bstack[-1]:
                bcross += 1
                calls.append('%s->%s:%s' % (os.path.basename(bstack[-1]), os.path.basename(b.rstrip('/')) , fn))
            bstack.append(b)
        elif len(bstack) > 1:
            bstack.pop()
    print('    %d calls between the door, ram/ and flash/ (%d between the door '
          'and ram/); %d calls into another file with flash/ as one file' %
          (mcross, ramdoor, bcross))
    if os.environ.get('HOPS_CALLS'):
        print('    calls: ' + ' '.join(calls))
    print('    files: ' + ' '.join(sorted(files)))
    print('    path: ' + ' > '.join(path))
