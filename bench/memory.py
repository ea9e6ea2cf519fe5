#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Daemon memory while walking a lower layer of 1,000,000 entries (issue 4:
"memory stays bounded when the kernel forgets inodes").

For each FUSE union (unionmount, fuse-overlayfs) this mounts one lower layer
holding ~1000 directories of empty files plus an empty upper, runs the daemon
with -f as our child so we hold its PID, and reads VmRSS and VmHWM from
/proc/PID/status:

  start        right after the mount appears
  walk 1       after os.scandir + lstat of every entry
  drop_caches  after "echo 3 > /proc/sys/vm/drop_caches" and a pause, so the
               kernel has sent FORGET for the inodes it dropped
  walk 2       after the same walk again

Prints a table and writes bench/results/memory.json.  Needs root.
The tree is generated once under DATA/mem-1m and reused (--regen to redo).
Python 3 standard library only.

    sudo bench/memory.py [--unionmount PATH] [--systems unionmount,fuse-overlayfs]
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)

NDIRS = 1000
NENTRIES = 1000000                  # directories included
NFILES = NENTRIES - NDIRS
MOUNT_TIMEOUT = 30
SYSTEMS = ('unionmount', 'fuse-overlayfs')
POINTS = ('start', 'walk 1', 'drop_caches', 'walk 2')


def log(msg=''):
    print(msg, flush=True)


def generate(tree, regen):
    """DATA/mem-1m/lower: NDIRS directories d000.. with NFILES empty files
    spread evenly over them.  A stamp outside the layer marks it complete,
    so an interrupted generation is redone."""
    lower = os.path.join(tree, 'lower')
    stamp = os.path.join(tree, 'complete-%d' % NENTRIES)
    if os.path.exists(stamp) and not regen:
        return lower
    if os.path.exists(tree):
        shutil.rmtree(tree)
    os.makedirs(lower)
    log('generating %d entries in %s ...' % (NENTRIES, lower))
    t0 = time.monotonic()
    per, extra = divmod(NFILES, NDIRS)
    for d in range(NDIRS):
        dpath = os.path.join(lower, 'd%03d' % d)
        os.mkdir(dpath)
        dfd = os.open(dpath, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for f in range(per + (1 if d < extra else 0)):
                os.close(os.open('f%04d' % f, os.O_CREAT | os.O_WRONLY,
                                 0o644, dir_fd=dfd))
        finally:
            os.close(dfd)
    with open(stamp, 'w') as f:
        f.write('%d entries\n' % NENTRIES)
    log('generated in %.0f s' % (time.monotonic() - t0))
    return lower


def walk(top):
    """scandir + lstat of every entry below top; returns the count."""
    n = 0
    stack = [top]
    while stack:
        d = stack.pop()
        with os.scandir(d) as it:
            for e in it:
                st = os.lstat(e.path)
                n += 1
                if (st.st_mode & 0o170000) == 0o040000:
                    stack.append(e.path)
    return n


def status(pid):
    """(VmRSS, VmHWM) in KiB."""
    out = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            k, _, v = line.partition(':')
            if k in ('VmRSS', 'VmHWM'):
                out[k] = int(v.split()[0])
    return out['VmRSS'], out['VmHWM']


def mounted(path):
    with open('/proc/self/mountinfo') as f:
        return any(line.split()[4] == path for line in f)


def drop_caches():
    subprocess.run(['sync'], check=False)
    with open('/proc/sys/vm/drop_caches', 'w') as f:
        f.write('3\n')


def version_of(argv):
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=10)
        lines = p.stdout.decode(errors='replace').strip().splitlines()
    except (OSError, subprocess.SubprocessError):
        return 'unknown'
    # fuse-overlayfs also prints a warning and fusermount3's version
    name = os.path.basename(argv[0])
    found = [ln for ln in lines if ln.startswith(name) and 'version' in ln]
    return (found or lines or ['unknown'])[0].strip()


def unmount(mnt, proc):
    for _ in range(50):
        if not mounted(mnt):
            break
        subprocess.run(['fusermount3', '-u', mnt], stderr=subprocess.DEVNULL,
                       check=False)
        if mounted(mnt):
            time.sleep(0.1)
    if mounted(mnt):
        subprocess.run(['umount', '-l', mnt], check=False)
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return 'killed'


def measure(system, binary, lower, scratch, settle):
    if os.path.exists(scratch):
        shutil.rmtree(scratch)
    upper, work, mnt = (os.path.join(scratch, n)
                        for n in ('upper', 'work', 'mnt'))
    for d in (upper, work, mnt):
        os.makedirs(d)
    opts = 'lowerdir=%s,upperdir=%s,workdir=%s' % (lower, upper, work)
    argv = [binary, '-f', '-o', opts, mnt]
    logpath = os.path.join(os.path.dirname(scratch), system + '.log')
    logf = open(logpath, 'wb')
    proc = subprocess.Popen(argv, stdout=logf, stderr=logf,
                            stdin=subprocess.DEVNULL)
    logf.close()
    res = {'argv': argv, 'kib': {}, 'seconds': {}}
    try:
        deadline = time.monotonic() + MOUNT_TIMEOUT
        while not mounted(mnt):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('%s did not mount: %s' % (
                    system, open(logpath, errors='replace').read().strip()))
            time.sleep(0.05)
        pid = proc.pid
        res['kib']['start'] = status(pid)
        for i, point in ((1, 'walk 1'), (2, 'walk 2')):
            if i == 2:
                drop_caches()
                time.sleep(settle)
                res['kib']['drop_caches'] = status(pid)
            t0 = time.monotonic()
            n = walk(mnt)
            res['seconds'][point] = round(time.monotonic() - t0, 2)
            if n != NENTRIES:
                raise RuntimeError('%s: %s saw %d entries, expected %d' % (
                    system, point, n, NENTRIES))
            res['kib'][point] = status(pid)
            log('  %s: %s took %.1f s, VmRSS %d KiB' % (
                system, point, res['seconds'][point], res['kib'][point][0]))
    finally:
        res['exit'] = unmount(mnt, proc)
        shutil.rmtree(scratch, ignore_errors=True)
    return res


def table(results):
    lines = ['| system | ' + ' | '.join(POINTS) + ' | walk 1 s | walk 2 s |',
             '|---|' + '---|' * (len(POINTS) + 2)]
    for system, r in results.items():
        if 'error' in r:
            lines.append('| %s | error: %s |' % (system, r['error']))
            continue
        cells = ['%.1f / %.1f' % (r['kib'][p][0] / 1024,
                                  r['kib'][p][1] / 1024) for p in POINTS]
        lines.append('| %s | %s | %.1f | %.1f |' % (
            system, ' | '.join(cells), r['seconds']['walk 1'],
            r['seconds']['walk 2']))
    lines.append('')
    lines.append('Cells: VmRSS / VmHWM in MiB of the FUSE daemon; '
                 '%d entries (%d dirs of empty files) in one lower layer.'
                 % (NENTRIES, NDIRS))
    return '\n'.join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--unionmount', default=os.environ.get('UNIONMOUNT') or
                    os.path.join(REPO_DIR, 'build', 'unionmount'))
    ap.add_argument('--fuse-overlayfs', default=shutil.which(
        'fuse-overlayfs') or '/usr/bin/fuse-overlayfs')
    ap.add_argument('--data', default='/var/tmp/unionmount-bench')
    ap.add_argument('--results', default=os.path.join(BENCH_DIR, 'results'))
    ap.add_argument('--systems', default=','.join(SYSTEMS))
    ap.add_argument('--settle', type=float, default=5,
                    help='seconds to wait after drop_caches (default 5)')
    ap.add_argument('--regen', action='store_true')
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit('bench/memory.py: needs root (drop_caches, FUSE mounts)')
    systems = [s for s in args.systems.split(',') if s]
    for s in systems:
        if s not in SYSTEMS:
            sys.exit('unknown system %r (known: %s)' % (s, ', '.join(
                SYSTEMS)))
    binaries = {'unionmount': args.unionmount,
                'fuse-overlayfs': args.fuse_overlayfs}
    tree = os.path.join(args.data, 'mem-1m')
    lower = generate(tree, args.regen)
    results = {}
    for s in systems:
        log('%s (%s)' % (s, binaries[s]))
        try:
            results[s] = measure(s, binaries[s], lower,
                                 os.path.join(args.data, 'mem-run', s),
                                 args.settle)
        except (OSError, RuntimeError) as e:
            results[s] = {'error': str(e)}
            log('  error: %s' % e)
    text = table(results)
    log()
    log(text)
    out = {
        'date': datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec='seconds'),
        'host': platform.node(),
        'kernel': platform.release(),
        'entries': NENTRIES, 'dirs': NDIRS,
        'settle_seconds': args.settle,
        'points': list(POINTS),
        'units': 'KiB, [VmRSS, VmHWM] per point; seconds per walk',
        'versions': {s: version_of([binaries[s], '--version'])
                     for s in systems},
        'results': results,
        'table': text,
    }
    os.makedirs(args.results, exist_ok=True)
    path = os.path.join(args.results, 'memory.json')
    with open(path, 'w') as f:
        json.dump(out, f, indent=1)
        f.write('\n')
    log('wrote %s' % path)
    return 1 if any('error' in r for r in results.values()) else 0


if __name__ == '__main__':
    sys.exit(main())
