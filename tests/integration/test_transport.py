#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The FUSE transport: io_uring and passthrough where the build and the
kernel offer them, and the one-line reports when they were asked for and
cannot be had.  What a build can use is read from `unionmount --version`
("built with libfuse X: FEATURES")."""

import contextlib
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import (UNIONMOUNT, Union, _daemon_pids, case, check, eq, main,
                    mkfile, mounted, read, run_cli, setx, snapshot, write)

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


# --- passthrough ----------------------------------------------------------

@contextlib.contextmanager
def debug_mount(u, opts=()):
    """Mount u with -d (foreground, every request logged); yields a function
    that returns the opcodes seen so far, as {name: count}."""
    log = os.path.join(u.root, 'debug.log')
    argv = [UNIONMOUNT, '-d'] + u.default_argv(opts)
    if u.snap is None:
        u.snap = {p: snapshot(p) for p in u.lowers}
    with open(log, 'wb') as f:
        proc = subprocess.Popen(argv, stdout=f, stderr=f,
                                stdin=subprocess.DEVNULL)
    u.proc = proc
    u.log = log
    deadline = time.monotonic() + 10
    while not mounted(u.mnt):
        check(proc.poll() is None, 'unionmount -d exited %s: %s' % (
            proc.returncode, read(log).decode(errors='replace')))
        check(time.monotonic() < deadline, 'no mount within 10 s')
        time.sleep(0.02)

    def opcodes():
        counts = {}
        for m in re.finditer(rb'opcode: (\w+)', read(log)):
            name = m.group(1).decode()
            counts[name] = counts.get(name, 0) + 1
        return counts
    yield opcodes


def has_passthrough():
    return 'passthrough' in features() and os.geteuid() == 0


def data_ops(before, after):
    """READ and WRITE requests between two opcode counts."""
    return {op: after.get(op, 0) - before.get(op, 0)
            for op in ('READ', 'WRITE')}


@case(**UM)
def passthrough_upper_files_skip_the_daemon():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'low'), b'L' * 8192)
        with debug_mount(u) as ops:
            before = ops()
            data = os.urandom(1 << 16)
            write(u.m('new'), data)
            eq(read(u.m('new')), data, 'new file read back')
            with open(u.m('low'), 'r+b') as f:       # copies up
                f.seek(8192)
                f.write(b'+tail')
            eq(read(u.m('low')), b'L' * 8192 + b'+tail', 'copied up')
            os.truncate(u.m('new'), 100)
            eq(read(u.m('new')), data[:100], 'after truncate')
            eq(os.stat(u.m('new')).st_size, 100, 'size after truncate')
            got = data_ops(before, ops())
        eq(read(u.u('new')), data[:100], 'upper copy of new')
        eq(read(u.u('low')), b'L' * 8192 + b'+tail', 'upper copy of low')
        want = {'READ': 0, 'WRITE': 0}
        if has_passthrough():
            eq(got, want, 'data requests with passthrough')
        else:
            check(got['READ'] > 0 and got['WRITE'] > 0,
                  'no passthrough in this build, yet %r' % got)


@case(**UM)
def passthrough_0_keeps_the_daemon_in_the_path():
    with Union(lowers=1) as u:
        with debug_mount(u, ['passthrough=0']) as ops:
            data = os.urandom(1 << 16)
            write(u.m('new'), data)
            fd = os.open(u.m('new'), os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)
            eq(read(u.m('new')), data, 'read back')
            got = data_ops({}, ops())
        check(got['WRITE'] > 0, 'no WRITE request with passthrough=0')


@case(**UM)
def passthrough_asked_for_without_support_says_why():
    if has_passthrough():
        return
    with Union(lowers=1) as u:
        with debug_mount(u, ['passthrough=1']):
            write(u.m('f'), b'x')
        lines = [l for l in read(u.log).decode().splitlines()
                 if 'passthrough' in l and 'unionmount' in l]
        eq(len(lines), 1, 'one line about passthrough in %r' % lines)
        check(lines[0].startswith('unionmount: no passthrough: '),
              'the line: %r' % lines[0])


@case(**UM)
def passthrough_lower_file_in_a_rw_union_stays_cached():
    """A lower file opened for reading does not pass through while an
    upper exists: a writer must be able to copy it up meanwhile."""
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'old data')
        with debug_mount(u) as ops:
            r = open(u.m('f'), 'rb')
            eq(r.read(), b'old data', 'reader before copy-up')
            with open(u.m('f'), 'r+b') as w:
                w.write(b'NEW')
            r.seek(0)
            eq(r.read(), b'NEW data', 'reader after copy-up')
            r.close()
            got = data_ops({}, ops())
        check(got['READ'] > 0, 'the lower file was not read through us')
        eq(read(u.u('f')), b'NEW data', 'upper copy')


@case(**UM)
def passthrough_lower_file_in_a_readonly_union():
    with Union(lowers=2, upper=False) as u:
        data = os.urandom(1 << 16)
        mkfile(u.l(2, 'f'), data)
        with debug_mount(u) as ops:
            before = ops()
            eq(read(u.m('f')), data, 'lower file')
            got = data_ops(before, ops())
        if has_passthrough():
            eq(got['READ'], 0, 'READ requests with passthrough')


@case(**UM)
def passthrough_not_for_setid_or_capability_files():
    """Their writes must go through us (and the kernel's clearing)."""
    with Union(lowers=1) as u:
        mkfile(u.u('suid'), b'x' * 10, mode=0o4755)
        mkfile(u.u('sgid'), b'x' * 10, mode=0o2775)
        mkfile(u.u('caps'), b'x' * 10, mode=0o755)
        # a valid v2 file capability: cap_net_raw permitted
        setx(u.u('caps'), 'security.capability',
             bytes.fromhex('0100000200200000000000000000000000000000'))
        with debug_mount(u) as ops:
            for name in ('suid', 'sgid', 'caps'):
                before = ops()
                with open(u.m(name), 'r+b') as f:
                    f.write(b'y')
                got = data_ops(before, ops())
                check(got['WRITE'] > 0,
                      '%s: the write did not come through us' % name)


@case(**UM)
def killpriv_v2_spares_the_capability_query_per_write():
    """With KILLPRIV_V2 (libfuse 3.17+, root) the kernel stops asking for
    security.capability before every write(2)."""
    v2 = 'killpriv_v2' in features() and os.geteuid() == 0
    with Union(lowers=1) as u:
        # passthrough=0: the writes must reach the FUSE write path
        with debug_mount(u, ['passthrough=0']) as ops:
            fd = os.open(u.m('f'), os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                before = ops().get('GETXATTR', 0)
                for i in range(50):
                    os.pwrite(fd, b'x' * 100, i * 100)
                queries = ops().get('GETXATTR', 0) - before
            finally:
                os.close(fd)
        eq(read(u.m('f')), b'x' * 5000, 'data written')
        if v2:
            check(queries <= 1, '%d GETXATTR for 50 writes' % queries)
        else:
            check(queries >= 50, 'only %d GETXATTR for 50 writes: the '
                  'kernel asks before each without KILLPRIV_V2' % queries)


if __name__ == '__main__':
    main()
