#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Crash safety (robustness): SIGKILL of the daemon at random points of
copy-ups, renames, deletions and creations leaves every file whole, old
or new; a dead mount point is named as such.
Every case asserts exact outcomes; the bounded ones say their budget
beside the constant."""

import errno
import os
import random
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import (Fail, UNIONMOUNT, Union, case, check, eq, errno_of, join,
                    main, mkfile, read, run_logged)
from stress_helpers import (MiB, SEED, explicit_argv, file_sha, info,
                            kill_daemon, lstate, marker_names, reap, sha,
                            spawn, start_foreground, work_leftovers)


CRASH_ITERATIONS = 20               # about 30 s in all
BIG = 64 * MiB


class CrashModel:
    """For every path the states (see lstate) it may be in after a crash.
    After each check the model is narrowed to what was seen."""

    def __init__(self):
        self.allowed = {}

    def set(self, rel, *states):
        self.allowed[rel] = set(states)

    def check(self, u, rels=None):
        seen = {}
        for rel in sorted(rels if rels is not None else self.allowed):
            st = lstate(u.m(rel))
            if st not in self.allowed[rel]:
                raise Fail('after the crash %s is %s, expected one of %s' % (
                    rel, _state_str(st),
                    ', '.join(sorted(_state_str(s)
                                     for s in self.allowed[rel]))))
            seen[rel] = st
        for rel, st in seen.items():
            self.allowed[rel] = {st}
        return seen


def _state_str(st):
    if st[0] == 'file':
        return 'file sha256 %s' % st[1][:12]
    return ' '.join(str(x) for x in st)


def _append_byte(path):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    os.write(fd, b'X')
    os.close(fd)


def _renames(pairs):
    for old, new in pairs:
        os.rename(old, new)


def _create_burst(d, names, data, progress):
    pfd = os.open(progress, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    for n in names:
        fd = os.open(join(d, n), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, data + n.encode())
        os.fsync(fd)
        os.close(fd)
        os.write(pfd, n.encode() + b'\n')


def _page_prefixes(data):
    """The states a file written with data and not yet fsync'ed may be in
    after the daemon dies under the writeback cache: the kernel sends its
    pages in order, and the ones not yet sent die with it."""
    return {('file', sha(data[:n])) for n in range(0, len(data), 4096)}


@case(unionmount_only=True, why='kills the FUSE daemon')
def crash_sigkill_random_points():
    """SIGKILL the daemon at a seeded random moment of a 64 MiB copy-up, a
    burst of renames (files and a directory), an rm -rf of a lower tree or
    a burst of fsync'ed creations; detach the dead mount and remount.
    Every file is then in its old or its new state, never partial, except
    that pages of a file not yet fsync'ed may not have left the kernel's
    writeback cache (as after a crash of a local file system); no
    temporary or marker names show; the work dir starts empty; fsync'ed
    data is there.  UM_TEST_SEED picks another sequence."""
    _crash_random_points(CRASH_ITERATIONS, writeback=True)


@case(unionmount_only=True, why='kills the FUSE daemon')
def crash_sigkill_write_through():
    """The same with writeback=0: every write(2) that returned is in the
    upper, so no file is ever partial."""
    _crash_random_points(CRASH_ITERATIONS // 2, writeback=False)


def _crash_random_points(iterations, writeback):
    opts = () if writeback else ('writeback=0',)
    rng = random.Random(SEED)
    base = os.urandom(BIG)
    nbig = 7
    with Union(lowers=1) as u:
        model = CrashModel()
        bigs = {}
        for i in range(nbig):
            data = b'big%d' % i + base[8:]
            mkfile(u.l(1, 'big%d' % i), data)
            bigs[i] = data
            model.set('big%d' % i, ('file', sha(data)))
        for i in range(iterations):
            for j in range(10):
                rel = 'ren%d/f%d' % (i, j)
                data = b'rename %d %d\n' % (i, j) * 100
                mkfile(u.l(1, rel), data)
                model.set(rel, ('file', sha(data)))
                model.set(rel + '.new', ('absent',))
            mkfile(u.l(1, 'ren%d/sub/in' % i), b'in dir')
            for j in range(40):
                rel = 'tree%d/d%d/f%d' % (i, j % 4, j)
                data = b'tree %d %d\n' % (i, j) * 50
                mkfile(u.l(1, rel), data)
                model.set(rel, ('file', sha(data)))
        cal = b'calibrate' + base[9:]
        mkfile(u.l(1, 'cal'), cal)

        start_foreground(u, opts)
        t0 = time.monotonic()
        _append_byte(u.m('cal'))
        t_copy = time.monotonic() - t0
        eq(file_sha(u.m('cal')), sha(cal + b'X'), 'content of cal')
        info('64 MiB copy-up took %.3f s' % t_copy)

        kinds = ['copyup', 'rename', 'rmrf', 'create']
        nbig_used = 0
        leftovers_seen = 0
        durable = {}
        for it in range(iterations):
            kind = kinds[it % len(kinds)]
            if kind == 'copyup' and nbig_used >= nbig:
                kind = 'create'
            # fsync'ed through the mount before the kill: must survive
            drel = 'durable%d' % it
            ddata = b'durable %d\n' % it * 1000
            fd = os.open(u.m(drel), os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(fd, ddata)
            os.fsync(fd)
            os.close(fd)
            durable[drel] = ddata
            model.set(drel, ('file', sha(ddata)))
            touched = [drel]
            progress = None
            if kind == 'copyup':
                i = nbig_used
                nbig_used += 1
                rel = 'big%d' % i
                model.set(rel, ('file', sha(bigs[i])),
                          ('file', sha(bigs[i] + b'X')))
                touched.append(rel)
                pid = spawn(_append_byte, u.m(rel))
                delay = rng.uniform(0, 1.3 * t_copy)
            elif kind == 'rename':
                pairs = [(u.m('ren%d/f%d' % (it, j)),
                          u.m('ren%d/f%d.new' % (it, j))) for j in range(10)]
                pairs.append((u.m('ren%d/sub' % it), u.m('ren%d/sub2' % it)))
                model.set('ren%d/sub/in' % it, ('file', sha(b'in dir')),
                          ('absent',))
                model.set('ren%d/sub2/in' % it, ('file', sha(b'in dir')),
                          ('absent',))
                for j in range(10):
                    rel = 'ren%d/f%d' % (it, j)
                    old = model.allowed[rel]
                    model.set(rel, *(old | {('absent',)}))
                    model.set(rel + '.new', *(old | {('absent',)}))
                    touched += [rel, rel + '.new']
                touched += ['ren%d/sub/in' % it, 'ren%d/sub2/in' % it]
                pid = spawn(_renames, pairs)
                delay = rng.uniform(0, 0.05)
            elif kind == 'rmrf':
                for j in range(40):
                    rel = 'tree%d/d%d/f%d' % (it, j % 4, j)
                    model.set(rel, *(model.allowed[rel] | {('absent',)}))
                    touched.append(rel)
                pid = spawn(shutil.rmtree, u.m('tree%d' % it))
                delay = rng.uniform(0, 0.1)
            else:
                d = u.m('new%d' % it)
                os.mkdir(d)
                names = ['c%03d' % j for j in range(300)]
                cdata = b'created %d\n' % it * 400
                progress = join(u.root, 'progress%d' % it)
                for n in names:
                    rel = 'new%d/%s' % (it, n)
                    full = cdata + n.encode()
                    model.set(rel, ('absent',), ('file', sha(full)),
                              *(_page_prefixes(full) if writeback else
                                {('file', sha(b''))}))
                    touched.append(rel)
                pid = spawn(_create_burst, d, names, cdata, progress)
                delay = rng.uniform(0, 0.3)
            time.sleep(delay)
            kill_daemon(u)
            reap(pid)
            if work_leftovers(u):
                leftovers_seen += 1
            if progress is not None and os.path.exists(progress):
                # fsync'ed before the kill: exactly the new content
                for n in read(progress).decode().split():
                    rel = 'new%d/%s' % (it, n)
                    model.set(rel, ('file', sha(cdata + n.encode())))
            start_foreground(u, opts)
            eq(work_leftovers(u), [], 'work/%s after remount (iteration %d,'
               ' %s)' % ('unionmount', it, kind))
            model.check(u, touched)
            bad = marker_names(u.m())
            eq(bad, [], 'marker or temporary names in the merged view '
               '(iteration %d, %s)' % (it, kind))
            if kind == 'rename':
                for j in range(10):
                    rel = 'ren%d/f%d' % (it, j)
                    a, b = lstate(u.m(rel)), lstate(u.m(rel + '.new'))
                    check((a[0] == 'file') != (b[0] == 'file'),
                          'after the crash exactly one of %s and %s.new '
                          'must exist, got %s and %s' % (
                              rel, rel, _state_str(a), _state_str(b)))
                a = lstate(u.m('ren%d/sub' % it))
                b = lstate(u.m('ren%d/sub2' % it))
                check((a[0] == 'dir') != (b[0] == 'dir'),
                      'after the crash exactly one of ren%d/sub and '
                      'ren%d/sub2 must exist, got %s and %s' % (
                          it, it, _state_str(a), _state_str(b)))
        info('%d iterations, work dir non-empty after %d kills' % (
            iterations, leftovers_seen))
        # Finish the interrupted work on the crashed state: it must go on.
        for it in range(iterations):
            if os.path.exists(u.m('tree%d' % it)):
                shutil.rmtree(u.m('tree%d' % it))
            for rel in [r for r in model.allowed if r.startswith('tree')]:
                model.set(rel, ('absent',))
        for i in range(nbig):
            st = lstate(u.m('big%d' % i))
            check(st in (('file', sha(bigs[i])), ('file', sha(bigs[i] +
                                                                 b'X'))),
                  'big%d: %s' % (i, _state_str(st)))
        u.umount()
        start_foreground(u, opts)
        model.check(u)
        for rel, data in durable.items():
            eq(read(u.m(rel)), data, rel + ' (fsync\'ed before a kill)')
        eq(marker_names(u.m()), [], 'marker names in the merged view')
        eq(marker_names(u.u()), [], 'temporary names in the upper')


@case(unionmount_only=True, why='kills the FUSE daemon')
def crash_remount_over_dead_mountpoint():
    """After SIGKILL the mount point says ENOTCONN (or ECONNABORTED); unionmount either
    mounts over it or refuses, naming "fusermount3 -u"."""
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'data')
        start_foreground(u)
        u.proc.kill()
        u.proc.wait()
        u.proc = None
        # ECONNABORTED where libfuse negotiated FUSE_ABORT_ERROR (3.18)
        e = errno_of(os.stat, u.m('f'))
        check(e in (errno.ENOTCONN, errno.ECONNABORTED),
              'stat of the dead mount: expected ENOTCONN or ECONNABORTED '
              'got %s' % (errno.errorcode.get(e, e)))
        rc, out, err = run_logged([UNIONMOUNT] + explicit_argv(u),
                                  timeout=30)
        if rc == 0:
            eq(read(u.m('f')), b'data', 'f after mounting over the dead '
               'mount')
        else:
            check('fusermount3 -u' in err,
                  'expected mounting over a dead mount to work or to say '
                  '"fusermount3 -u" got exit %d: %r' % (rc, err.strip()))
            eq(len(err.strip().splitlines()), 1, 'lines of the message')


if __name__ == '__main__':
    main()
