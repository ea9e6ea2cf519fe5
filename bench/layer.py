#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Layer tools benchmark: unionmount-layer against umoci and tar.

export: a layer with 10 changed files (6 rewritten and 2 new, 1 MiB
each, 2 deleted) on top of a root file system of --files files, made
through a unionmount mount.  unionmount-layer reads only the upper (and looks up the deleted
names in the lower); `tar -c` of the upper is the floor on the same bytes;
`umoci repack` of a bundle with the same 10 changes is what image tools
do today: walk and hash the whole root file system against its mtree.

import: the root file system's layer tarball unpacked by
`unionmount-layer import`, `tar -x` and `umoci unpack` (which also writes
its mtree of the whole tree).

Medians of --reps runs, warm caches, wall time including process start.
Writes bench/results/layer-<date>-<files>.json and prints a Markdown table.
Needs root (mounts, owners), umoci (Debian package) and a build of
unionmount and unionmount-layer.  Python 3 standard library only.
"""

import argparse
import datetime
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
DATA_VERSION = 1
MTIME = '1700000000'


def sh(argv, **kw):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       **kw)
    if p.returncode != 0:
        sys.exit('bench/layer.py: %s exited %d: %s' % (
            ' '.join(argv), p.returncode,
            p.stderr.decode(errors='replace').strip()[-1000:]))
    return p.stdout.decode(errors='replace')


def timed(argv, prepare=None, reps=3):
    """Median wall time of argv over reps runs; prepare() before each
    run is not timed.  None (and a note) if the command fails."""
    times = []
    for _ in range(reps):
        if prepare:
            prepare()
        t0 = time.perf_counter()
        p = subprocess.run(argv, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
        times.append(time.perf_counter() - t0)
        if p.returncode != 0:
            print('# %s failed: %s' % (' '.join(argv[:2]), p.stderr.decode(
                errors='replace').strip()[-300:]))
            return None
    return statistics.median(times)


def rmtree(path):
    if os.path.lexists(path):
        subprocess.run(['rm', '-rf', '--one-file-system', path], check=True)


def make_rootfs(root, nfiles):
    """nfiles files of 0-4 KiB in directories of 100, seeded: a root file
    system's shape (many small files)."""
    stamp = os.path.join(root, '.complete')
    if os.path.exists(stamp):
        return
    rmtree(root)
    rng = random.Random(42)
    for i in range(nfiles):
        d = os.path.join(root, 'usr', 'd%04d' % (i // 100))
        if i % 100 == 0:
            os.makedirs(d)
        with open(os.path.join(d, 'f%06d' % i), 'wb') as f:
            f.write(rng.randbytes(rng.randrange(4096)))
    with open(stamp, 'w') as f:
        f.write('ok\n')


def changed_paths(nfiles):
    """The 10 changes, as paths under the root file system."""
    step = max(1, nfiles // 10)
    over = ['usr/d%04d/f%06d' % (i // 100, i)
            for i in range(0, 6 * step, step)]
    gone = ['usr/d%04d/f%06d' % (i // 100, i)
            for i in range(6 * step + 1, nfiles, step)][:2]
    new = ['usr/d0000/new1', 'usr/new2']
    return over, new, gone


CHANGE_BYTES = 1 << 20


def apply_changes(root, nfiles):
    """6 files rewritten and 2 made, 1 MiB each (what a package install
    in a build step leaves), 2 deleted."""
    over, new, gone = changed_paths(nfiles)
    rng = random.Random(7)
    for p in over + new:
        with open(os.path.join(root, p), 'wb') as f:
            f.write(rng.randbytes(CHANGE_BYTES))
    for p in gone:
        if os.path.lexists(os.path.join(root, p)):
            os.unlink(os.path.join(root, p))


def du_bytes(path):
    total = 0
    for dp, dn, fn in os.walk(path):
        for n in fn:
            total += os.lstat(os.path.join(dp, n)).st_size
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--files', type=int, default=100000,
                    help='files in the root file system (default 100000)')
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--data', default='/var/tmp/unionmount-bench-layer')
    ap.add_argument('--build', default=os.path.join(REPO_DIR, 'build'),
                    help='where unionmount and unionmount-layer are')
    ap.add_argument('--results', default=os.path.join(BENCH_DIR, 'results'))
    ap.add_argument('--no-import', action='store_true',
                    help='skip the import rows (the slow umoci unpack)')
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit('bench/layer.py: needs root (mounts, owners)')
    um = os.path.join(a.build, 'unionmount')
    tool = os.path.join(a.build, 'src', 'layer', 'unionmount-layer')
    for exe in (um, tool, shutil.which('umoci') or '/usr/bin/umoci'):
        if not os.access(exe, os.X_OK):
            sys.exit('bench/layer.py: %s is missing' % exe)

    D = os.path.join(a.data, 'v%d-%d' % (DATA_VERSION, a.files))
    rootfs = os.path.join(D, 'rootfs')
    print('# root file system: %d files in %s' % (a.files, rootfs))
    make_rootfs(rootfs, a.files)
    scratch = os.path.join(D, 'scratch')
    rmtree(scratch)
    os.makedirs(scratch)
    S = lambda *p: os.path.join(scratch, *p)  # noqa: E731

    # the upper: 10 changes made through a unionmount mount
    for d in ('upper', 'work', 'mnt'):
        os.makedirs(S(d))
    sh([um, '-o', 'lowerdir=%s,upperdir=%s,workdir=%s' % (
        rootfs, S('upper'), S('work')), S('mnt')])
    try:
        apply_changes(S('mnt'), a.files)
    finally:
        sh(['fusermount3', '-u', S('mnt')])
    upper_bytes = du_bytes(S('upper'))

    res = {'files': a.files, 'reps': a.reps, 'upper_bytes': upper_bytes,
           'rootfs_bytes': du_bytes(rootfs), 'date':
           datetime.datetime.utcnow().strftime('%Y-%m-%dT%H:%M:%SZ'),
           'loadavg': os.getloadavg(),
           'versions': {'umoci': sh(['umoci', '--version']).strip(),
                        'tar': sh(['tar', '--version']).splitlines()[0]}}
    t = res['times'] = {}

    # what starting the program costs (libarchive brings libxml2 and ICU)
    t['start'] = timed([tool, '--version'], reps=max(a.reps, 10))
    t['tar_start'] = timed(['tar', '--version'], reps=max(a.reps, 10))

    print('# export of 10 changed files')
    t['export'] = timed([tool, 'export', '--lowers', rootfs, '--mtime',
                         MTIME, '-o', S('layer.tar'), S('upper')],
                        reps=a.reps)
    t['export_gzip'] = timed([tool, 'export', '--lowers', rootfs,
                              '--mtime', MTIME, '--compress', 'gzip', '-o',
                              S('layer.tar.gz'), S('upper')], reps=a.reps)
    t['tar_upper'] = timed(['tar', '--xattrs', '-C', S('upper'), '-cf',
                            S('upper.tar'), '.'], reps=a.reps)

    # umoci: an image of the root file system, unpacked into a bundle
    print('# base image and umoci bundle')
    t0 = time.perf_counter()
    sh([tool, 'image', '-o', S('oci'), '--tag', 'base', '--mtime', MTIME,
        rootfs])
    t['image_rootfs'] = time.perf_counter() - t0
    t['export_rootfs'] = timed([tool, 'export', '--mtime', MTIME, '-o',
                                S('rootfs.tar'), rootfs], reps=a.reps)
    t['tar_rootfs'] = timed(['tar', '--xattrs', '-C', rootfs, '-cf',
                             S('rootfs-gnu.tar'), '.'], reps=a.reps)
    res['rootfs_tar_bytes'] = os.path.getsize(S('rootfs.tar'))

    # repack: each run sees the same 10 changes against the unpacked
    # mtree (no --refresh-bundle), like a build step's commit
    sh(['umoci', 'unpack', '--image', S('oci') + ':base', S('bundle')])
    apply_changes(S('bundle', 'rootfs'), a.files)
    print('# umoci repack')
    t['umoci_repack'] = timed(['umoci', 'repack', '--image',
                               S('oci') + ':base', S('bundle')],
                              reps=a.reps)

    if a.no_import:
        t['import'] = t['tar_x'] = t['umoci_unpack'] = None
        finish(a, res, t, scratch, upper_bytes)
        return
    print('# import of the root file system layer')
    t['import'] = timed([tool, 'import', S('rootfs.tar'), S('imp')],
                        prepare=lambda: rmtree(S('imp')), reps=a.reps)

    def fresh_dir():
        rmtree(S('untar'))
        os.makedirs(S('untar'))
    t['tar_x'] = timed(['tar', '--xattrs', '--xattrs-include=*',
                        '--same-owner', '-C', S('untar'), '-xf',
                        S('rootfs.tar')], prepare=fresh_dir, reps=a.reps)
    t['umoci_unpack'] = timed(['umoci', 'unpack', '--image',
                               S('oci') + ':base', S('bundle2')],
                              prepare=lambda: rmtree(S('bundle2')),
                              reps=a.reps)
    finish(a, res, t, scratch, upper_bytes)


def finish(a, res, t, scratch, upper_bytes):
    res['loadavg_end'] = os.getloadavg()

    def ratio(x, y):
        return t[x] / t[y] if t.get(x) and t.get(y) else None
    r = res['ratios'] = {
        'umoci_repack/export_gzip': ratio('umoci_repack', 'export_gzip'),
        'export/tar_upper': ratio('export', 'tar_upper'),
        'export_rootfs/tar_rootfs': ratio('export_rootfs', 'tar_rootfs'),
        'import/tar_x': ratio('import', 'tar_x'),
        'umoci_unpack/import': ratio('umoci_unpack', 'import'),
    }
    mb = res['rootfs_tar_bytes'] / 1e6
    print()
    print('%d files (%.0f MB), upper %d bytes, median of %d' % (
        a.files, res['rootfs_bytes'] / 1e6, upper_bytes, a.reps))
    print()
    def sec(k, prec=3):
        if a.no_import and k in ('import', 'tar_x', 'umoci_unpack'):
            return 'not run'
        return 'error' if t.get(k) is None else '%.*f' % (prec, t[k])

    def rate(k):
        if t.get(k) is None:
            return ''
        return ' (%.0f MB/s, %.0f files/s)' % (mb / t[k], a.files / t[k])
    print('| what | unionmount-layer | tar | umoci |')
    print('|---|---:|---:|---:|')
    print('| export 10 changed files (s) | %s (gzip %s) | %s | %s '
          '(repack, gzip) |' % (sec('export'), sec('export_gzip'),
                                sec('tar_upper'), sec('umoci_repack')))
    print('| start the program (--version, s) | %s | %s | |' % (
        sec('start'), sec('tar_start')))
    print('| export the whole root file system (s) | %s | %s | |' % (
        sec('export_rootfs', 2), sec('tar_rootfs', 2)))
    print('| import the root file system layer (s) | %s%s | %s%s | '
          '%s%s (unpack) |' % (
              sec('import', 2), rate('import'), sec('tar_x', 2),
              rate('tar_x'), sec('umoci_unpack', 2), rate('umoci_unpack')))
    print()
    for k, v in r.items():
        print('%s = %s' % (k, 'n/a' if v is None else '%.2f' % v))
    print('load average %.1f at the start, %.1f at the end (2 cores)' % (
        res['loadavg'][0], res['loadavg_end'][0]))
    os.makedirs(a.results, exist_ok=True)
    out = os.path.join(a.results, 'layer-%s-%d.json' % (
        datetime.datetime.utcnow().strftime('%Y%m%d-%H%M%S'), a.files))
    with open(out, 'w') as f:
        json.dump(res, f, indent=2, sort_keys=True)
    print('# results in %s' % out)
    rmtree(scratch)


if __name__ == '__main__':
    main()
