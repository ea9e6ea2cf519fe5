#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Random I/O and stress (robustness): fsx-style operations on lower
files compared with a model, stress-ng's file system stressors.
Every case asserts exact outcomes; the bounded ones say their budget
beside the constant."""

import os
import random
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import (FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, Fail, Union,
                    case, eq, fallocate, listing, main, mkfile, read,
                    run_logged, write)
from stress_helpers import (KiB, SEED, info)


FSX_OPS = 1500


@case
def fsx_random_io_on_lower_files():
    """fsx style: random writes, truncates, punched holes and reads on
    files that start in the lower layer, checked against a model."""
    rng = random.Random(SEED)
    firsts = ('write', 'truncate', 'punch')
    with Union(lowers=1) as u:
        models = {}
        for i, first in enumerate(firsts):
            data = bytes(rng.getrandbits(8) for _ in range(4096)) * 64
            mkfile(u.l(1, 'fx%d' % i), data)
            models[i] = bytearray(data)
        u.mount()
        for i, first in enumerate(firsts):
            path = u.m('fx%d' % i)
            m = models[i]
            fd = os.open(path, os.O_RDWR)
            try:
                for n in range(FSX_OPS):
                    op = first if n == 0 else rng.choice(
                        ('write', 'write', 'read', 'read', 'truncate',
                         'punch', 'fsync', 'reopen'))
                    if op == 'write':
                        off = rng.randrange(0, 320 * KiB)
                        ln = rng.randrange(1, 64 * KiB)
                        buf = bytes([rng.getrandbits(8)]) * ln
                        eq(os.pwrite(fd, buf, off), ln, 'pwrite length')
                        if off > len(m):
                            m.extend(b'\0' * (off - len(m)))
                        m[off:off + ln] = buf
                    elif op == 'read':
                        off = rng.randrange(0, 330 * KiB)
                        ln = rng.randrange(1, 128 * KiB)
                        got = os.pread(fd, ln, off)
                        if got != bytes(m[off:off + ln]):
                            raise Fail('fx%d op %d: pread(%d, %d) differs '
                                       'from the model' % (i, n, ln, off))
                    elif op == 'truncate':
                        size = rng.randrange(0, 320 * KiB)
                        os.ftruncate(fd, size)
                        if size < len(m):
                            del m[size:]
                        else:
                            m.extend(b'\0' * (size - len(m)))
                    elif op == 'punch':
                        off = rng.randrange(0, 256 * KiB)
                        ln = rng.randrange(1, 64 * KiB)
                        fallocate(fd, FALLOC_FL_PUNCH_HOLE |
                                  FALLOC_FL_KEEP_SIZE, off, ln)
                        end = min(off + ln, len(m))
                        if off < end:
                            m[off:end] = b'\0' * (end - off)
                    elif op == 'fsync':
                        os.fsync(fd)
                    elif op == 'reopen':
                        os.close(fd)
                        fd = os.open(path, os.O_RDWR)
                    eq(os.fstat(fd).st_size, len(m),
                       'size of fx%d after op %d (%s)' % (i, n, op))
            finally:
                os.close(fd)
            eq(read(path) == bytes(m), True, 'fx%d matches the model' % i)
        u.remount()
        for i in models:
            eq(read(u.m('fx%d' % i)) == bytes(models[i]), True,
               'fx%d matches the model after remount' % i)


# Debian's stress-ng filesystem stressors; each passes on kernel overlayfs
# and on fuse-overlayfs.  The data and metadata stressors run all at once,
# one instance each; the namespace stressors then run all at once, two
# instances each: creates racing unlinks once lost to the upper file system
# reusing a freed inode number (fixed: the inode leaves the table first).
STRESS_NG_PARALLEL = ('hdd', 'fallocate', 'seek', 'readahead', 'chmod',
                      'chown', 'utime', 'xattr', 'io')
STRESS_NG_NAMESPACE = ('dir', 'dirdeep', 'link', 'symlink', 'rename',
                       'dentry', 'filename')
STRESS_NG_SECONDS = 15              # about 35 s in all, ASan build too
STRESS_NG_NS_SECONDS = 10
STRESS_NG_SIZES = ['--hdd-bytes', '32M', '--fallocate-bytes', '32M',
                   '--readahead-bytes', '32M', '--seek-size', '32M',
                   '--dirdeep-inodes', '20000']


def _stress_ng():
    """The stress-ng binary, installed from Debian if missing."""
    path = shutil.which('stress-ng')
    if path is None:
        run_logged(['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get',
                    'install', '-y', 'stress-ng'], timeout=300)
        path = shutil.which('stress-ng')
    if path is None:
        raise Fail('stress-ng is missing and "apt-get install -y '
                   'stress-ng" did not install it')
    return path


def _run_stress_ng(argv, seconds):
    t0 = time.monotonic()
    rc, out, err = run_logged(argv, timeout=seconds * 5 + 30)
    text = out + err
    info('stress-ng ran %.1f s: %s' % (time.monotonic() - t0,
                                        ' '.join(argv[1:])))
    fails = [line for line in text.splitlines() if 'fail' in line.lower()]
    if rc != 0 or fails:
        raise Fail('%s: exit status %d, %d "fail" lines:\n%s' % (
            ' '.join(argv), rc, len(fails),
            '\n'.join(fails[:20]) or text[-3000:]))


@case
def stress_ng_filesystem():
    """stress-ng in a directory that starts in the lower layer: exit status
    0 and no "fail" line; afterwards the lower files read back unchanged
    through the mount, stress-ng's temporary directories are gone and the
    mount still takes new files, also after a remount (the harness then
    checks the lower layer itself is untouched)."""
    stress_ng = _stress_ng()
    with Union(lowers=1) as u:
        lower = {}
        for i in range(40):
            rel = 'sd/d%d/f%02d' % (i % 4, i)
            lower[rel] = b'lower %d\n' % i * (1 + 97 * i)
            mkfile(u.l(1, rel), lower[rel])
        u.mount()
        common = [stress_ng, '--temp-path', u.m('sd'), '--metrics-brief',
                  '--verify'] + STRESS_NG_SIZES
        argv = common + ['--timeout', '%ds' % STRESS_NG_SECONDS]
        for s in STRESS_NG_PARALLEL:
            argv += ['--' + s, '1']
        _run_stress_ng(argv, STRESS_NG_SECONDS)
        argv = common + ['--timeout', '%ds' % STRESS_NG_NS_SECONDS]
        for s in STRESS_NG_NAMESPACE:
            argv += ['--' + s, '2']
        _run_stress_ng(argv, STRESS_NG_NS_SECONDS)
        for rel, data in lower.items():
            eq(read(u.m(rel)), data, rel + ' after stress-ng')
        eq(listing(u.m('sd')), ['d0', 'd1', 'd2', 'd3'],
           'sd after stress-ng removed its temporary directories')
        write(u.m('sd/after'), b'still works')
        eq(read(u.m('sd/after')), b'still works', 'a file made afterwards')
        u.remount()
        eq(read(u.m('sd/after')), b'still works', 'sd/after after remount')
        for rel, data in lower.items():
            eq(read(u.m(rel)), data, rel + ' after remount')


if __name__ == '__main__':
    main()
