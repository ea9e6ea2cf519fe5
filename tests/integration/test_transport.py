#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The FUSE transport: io_uring and passthrough where the build and the
kernel offer them, and the one-line reports when they were asked for and
cannot be had.  What a build can use is read from `unionmount --version`
("built with libfuse X: FEATURES")."""

import contextlib
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import (FOREGROUND, Union, _daemon_pids, case, check, eq,
                    main, mkfile, read, run_cli, write)

UM = dict(unionmount_only=True, why='the FUSE transport')
URING_PARAM = '/sys/module/fuse/parameters/enable_uring'


def features():
    rc, out, err = run_cli(['--version'])
    eq(rc, 0, 'exit status of --version')
    m = re.search(r'^built with libfuse \S+: (.*)$', out, re.M)
    check(m is not None, 'no "built with" line in %r' % out)
    return m.group(1).split()


@contextlib.contextmanager
def uring_param(value):
    """Set the fuse module's enable_uring parameter (root), restore the old
    value afterwards."""
    with open(URING_PARAM) as f:
        old = f.read().strip()
    with open(URING_PARAM, 'w') as f:
        f.write(value)
    try:
        yield
    finally:
        with open(URING_PARAM, 'w') as f:
            f.write(old)


def daemon_pid(u):
    if u.proc is not None:
        return u.proc.pid
    pids = _daemon_pids(u.mnt)
    eq(len(pids), 1, 'daemons serving %s' % u.mnt)
    return pids[0]


def uring_fds(u):
    """How many io_uring instances the daemon holds."""
    fddir = '/proc/%d/fd' % daemon_pid(u)
    n = 0
    for fd in os.listdir(fddir):
        try:
            if os.readlink(os.path.join(fddir, fd)) == 'anon_inode:[io_uring]':
                n += 1
        except OSError:
            pass
    return n


def exercise(u):
    """Data through the mount: a lower file, a copy-up, a new sparse file
    whose data sits in the writeback cache when SEEK_DATA asks."""
    eq(read(u.m('f')), b'lower', 'lower file')
    with open(u.m('f'), 'r+b') as f:
        f.seek(0, 2)
        f.write(b'+upper')
    eq(read(u.m('f')), b'lower+upper', 'after copy-up')
    eq(read(u.u('f')), b'lower+upper', 'upper copy')
    fd = os.open(u.m('sparse'), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, b'D' * 4096, 1 << 20)
        eq(os.lseek(fd, 0, os.SEEK_DATA), 1 << 20, 'SEEK_DATA')
        eq(os.lseek(fd, 1 << 20, os.SEEK_HOLE), (1 << 20) + 4096,
           'SEEK_HOLE')
    finally:
        os.close(fd)
    write(u.m('big'), os.urandom(1 << 16) * 64)
    eq(os.stat(u.m('big')).st_size, 4 << 20, 'size of a 4 MiB write')


@case(**UM)
def io_uring_used_when_asked_and_offered():
    with uring_param('Y'), Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'lower')
        err = u.mount(opts=['io_uring'])
        if 'io_uring' not in features():
            built = re.search(r'built with libfuse (\S+):',
                              run_cli(['--version'])[1]).group(1)
            eq([l for l in err.splitlines() if 'io_uring' in l],
               ['unionmount: io_uring needs libfuse 3.18 (built with %s): '
                'using /dev/fuse' % built],
               'report of -o io_uring on an older libfuse')
            eq(uring_fds(u), 0, 'io_uring instances without support')
        else:
            check('io_uring' not in err, 'unexpected report: %r' % err)
            check(uring_fds(u) >= 1, 'the daemon holds no io_uring')
        exercise(u)


@case(**UM)
def io_uring_is_the_default_where_offered():
    with uring_param('Y'), Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'lower')
        err = u.mount()
        check('io_uring' not in err, 'unexpected report: %r' % err)
        want = 'io_uring' in features()
        eq(uring_fds(u) >= 1, want, 'io_uring by default')
        exercise(u)


@case(**UM)
def io_uring_0_turns_it_off():
    with uring_param('Y'), Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'lower')
        u.mount(opts=['io_uring=0'])
        eq(uring_fds(u), 0, 'io_uring instances with io_uring=0')
        exercise(u)


@case(**UM)
def io_uring_off_in_kernel_reported_in_one_line():
    if 'io_uring' not in features():
        return
    with uring_param('N'), Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'lower')
        err = u.mount(opts=['io_uring'])
        lines = [l for l in err.splitlines() if 'io_uring' in l]
        eq(lines, ['unionmount: io_uring is off in the kernel (%s is N): '
                   'using /dev/fuse' % URING_PARAM],
           'report when the module parameter is off')
        eq(uring_fds(u), 0, 'io_uring instances with enable_uring=N')
        exercise(u)


@case(**UM)
def io_uring_default_is_silent_when_off_in_kernel():
    with uring_param('N'), Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'lower')
        err = u.mount()
        check('io_uring' not in err, 'unexpected report: %r' % err)
        exercise(u)


if __name__ == '__main__':
    main()
