#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Permissions with allow_other (robustness): other users' 0600 files,
sticky directories, set-ID bits dropped on writes, copy-up never
widening access.
Every case asserts exact outcomes; the bounded ones say their budget
beside the constant."""

import errno
import os
import stat
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import (KERNEL, Union, case, eq, eq_mode, join, listing, main,
                    mkdir, mkfile, read, write)
from stress_helpers import (GA, GB, MiB, UA, UB, errno_as, explicit_argv,
                            fork_call, info)


def _open_read(p):
    os.close(os.open(p, os.O_RDONLY))


def _open_write(p):
    os.close(os.open(p, os.O_WRONLY))


def _write_bytes(p, data):
    fd = os.open(p, os.O_WRONLY)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _create(p, data, mode):
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(p, mode)


def _perm_union(u):
    os.chmod(u.root, 0o755)     # mkdtemp made it 0700
    u.mount(opts=('allow_other',), argv=None if KERNEL else
            explicit_argv(u, ('allow_other',)))


@case
def perm_other_users_0600_file():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'bsecret'), b'B only', mode=0o600, uid=UB, gid=GB)
        mkdir(u.l(1, 'pub'), mode=0o777)
        _perm_union(u)
        fork_call(_create, u.m('pub/bnew'), b'B new', 0o600, uid=UB, gid=GB)
        st = os.stat(u.m('pub/bnew'))
        eq((st.st_uid, st.st_gid), (UB, GB), 'owner of pub/bnew')
        eq_mode(st.st_mode, stat.S_IFREG | 0o600, 'mode of pub/bnew')
        for rel in ('bsecret', 'pub/bnew'):
            eq(errno.errorcode.get(errno_as(UA, GA, _open_read, u.m(rel))),
               'EACCES', 'uid A opens %s for reading' % rel)
            eq(errno.errorcode.get(errno_as(UA, GA, _open_write, u.m(rel))),
               'EACCES', 'uid A opens %s for writing' % rel)
            eq(errno_as(UB, GB, _open_read, u.m(rel)), None,
               'uid B opens %s for reading' % rel)
        eq(fork_call(read, u.m('bsecret'), uid=UB, gid=GB), b'B only',
           'bsecret read by B')
        eq(listing(u.u()), ['pub'], 'upper listing (nothing copied up)')


@case
def perm_sticky_directory():
    with Union(lowers=1) as u:
        mkdir(u.l(1, 'tmp'), mode=0o1777)
        mkfile(u.l(1, 'tmp/bfile'), b'B', mode=0o644, uid=UB, gid=GB)
        _perm_union(u)
        eq_mode(os.stat(u.m('tmp')).st_mode, stat.S_IFDIR | 0o1777,
                'mode of tmp')
        fork_call(_create, u.m('tmp/bnew'), b'B2', 0o666, uid=UB, gid=GB)
        for rel in ('tmp/bfile', 'tmp/bnew'):
            eq(errno.errorcode.get(errno_as(UA, GA, os.unlink, u.m(rel))),
               'EPERM', 'uid A unlinks %s in a sticky dir' % rel)
            eq(errno.errorcode.get(errno_as(UA, GA, os.rename, u.m(rel),
                                            u.m('tmp/stolen'))),
               'EPERM', 'uid A renames %s in a sticky dir' % rel)
        fork_call(_create, u.m('tmp/afile'), b'A', 0o644, uid=UA, gid=GA)
        eq(errno_as(UA, GA, os.unlink, u.m('tmp/afile')), None,
           'uid A unlinks its own file')
        eq(listing(u.m('tmp')), ['bfile', 'bnew'], 'listing of tmp')
        eq(read(u.m('tmp/bfile')), b'B', 'tmp/bfile')
        eq(errno_as(UB, GB, os.unlink, u.m('tmp/bfile')), None,
           'uid B unlinks its own file')
        eq(listing(u.m('tmp')), ['bnew'], 'listing of tmp at the end')


@case
def perm_setuid_dropped_on_write_by_other():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'suid'), b'#!/bin/true\n', mode=0o4777, uid=UB,
               gid=GB)
        mkfile(u.l(1, 'sgid'), b'#!/bin/true\n', mode=0o2777, uid=UB,
               gid=GB)
        mkdir(u.l(1, 'pub'), mode=0o777)
        _perm_union(u)
        fork_call(_create, u.m('pub/bsuid'), b'x', 0o4777, uid=UB, gid=GB)
        eq_mode(os.stat(u.m('pub/bsuid')).st_mode, stat.S_IFREG | 0o4777,
                'mode of pub/bsuid before')
        for rel in ('suid', 'sgid', 'pub/bsuid'):
            fork_call(_write_bytes, u.m(rel), b'A', uid=UA, gid=GA)
            eq_mode(os.stat(u.m(rel)).st_mode, stat.S_IFREG | 0o777,
                    'mode of %s after a write by uid A' % rel)
            eq(read(u.m(rel))[:1], b'A', 'first byte of ' + rel)
            st = os.stat(u.m(rel))
            eq((st.st_uid, st.st_gid), (UB, GB), 'owner of ' + rel)
        u.remount(**({} if KERNEL else
                     {'argv': explicit_argv(u, ('allow_other',))}))
        for rel in ('suid', 'sgid', 'pub/bsuid'):
            eq_mode(os.stat(u.m(rel)).st_mode, stat.S_IFREG | 0o777,
                    'mode of %s after remount' % rel)


def _poll_as_other(top_dirs, stop_file, limit):
    """Runs as uid A: try to open for reading every non-directory it can
    find under top_dirs until stop_file exists.  Returns (opened paths,
    attempts)."""
    opened, attempts = [], 0
    deadline = time.monotonic() + limit
    while not os.path.exists(stop_file) and time.monotonic() < deadline:
        for top in top_dirs:
            for dirpath, dirs, files in os.walk(top):
                for n in files:
                    p = join(dirpath, n)
                    attempts += 1
                    try:
                        fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW |
                                     os.O_NONBLOCK)
                    except OSError:
                        continue
                    os.close(fd)
                    opened.append(p)
            for p in (join(top, 'big%d' % i) for i in range(3)):
                attempts += 1
                try:
                    os.close(os.open(p, os.O_RDONLY | os.O_NONBLOCK))
                    opened.append(p)
                except OSError:
                    pass
    return opened, attempts


@case
def perm_copyup_never_widens():
    with Union(lowers=1) as u:
        data = os.urandom(64 * MiB)
        for i in range(3):
            mkfile(u.l(1, 'big%d' % i), b'%d' % i + data[1:], mode=0o600,
                   uid=UB, gid=GB)
        os.chmod(u.root, 0o755)
        os.chmod(u.work, 0o755)
        u.mount(argv=None if KERNEL else explicit_argv(u, ('allow_other',)))
        stop = join(u.root, 'stop')
        out = {}

        def poller():
            out['r'] = fork_call(_poll_as_other, [u.u(), u.work], stop, 60,
                                 uid=UA, gid=GA)
        t = threading.Thread(target=poller)
        t.start()
        seen_modes = []
        try:
            time.sleep(0.2)
            for i in range(3):
                done = threading.Event()

                def copy(i=i):
                    try:
                        with open(u.m('big%d' % i), 'ab') as f:
                            f.write(b'!')
                    finally:
                        done.set()
                c = threading.Thread(target=copy)
                c.start()
                while not done.is_set():
                    for dirpath, dirs, files in os.walk(u.work):
                        for n in files + dirs:
                            try:
                                st = os.lstat(join(dirpath, n))
                            except OSError:
                                continue
                            seen_modes.append((join(dirpath, n),
                                               st.st_mode, st.st_uid))
                c.join()
        finally:
            write(stop, b'')
            t.join()
        opened, attempts = out.get('r', ([], 0))
        info('uid A made %d open attempts, root saw %d work-dir objects' % (
            attempts, len(seen_modes)))
        eq(opened, [], 'paths uid A could open for reading during copy-up')
        for i in range(3):
            st = os.stat(u.u('big%d' % i))
            eq_mode(st.st_mode, stat.S_IFREG | 0o600, 'mode of upper/big%d'
                    % i)
            eq((st.st_uid, st.st_gid), (UB, GB), 'owner of upper/big%d' % i)
        # Every temporary object must be closed to others: either itself
        # or the directory it sits in.
        private_dirs = set()
        for p, mode, uid in seen_modes:
            if stat.S_ISDIR(mode) and mode & 0o077 == 0:
                private_dirs.add(p)
        wide = [(p, oct(mode)) for p, mode, uid in seen_modes
                if not stat.S_ISDIR(mode) and mode & 0o044 and
                not any(p.startswith(d + '/') for d in private_dirs)]
        eq(wide, [], 'temporary objects readable by others in an open '
           'directory')


if __name__ == '__main__':
    main()
