#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Open files: unlinked-but-open, O_DIRECT, ioctl, statfs, SEEK_DATA/HOLE,
fallocate, copy_file_range, locks, mmap."""

import errno
import fcntl
import mmap
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import (FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, Union, case,
                    check, eq, fails_with, fallocate, main, mkfile, read,
                    sparse, write)

MiB = 1 << 20


@case
def fstat_after_last_unlink():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'keep'), b'K')
        u.mount()
        write(u.m('f'), b'still readable')
        fd = os.open(u.m('f'), os.O_RDWR)
        try:
            os.unlink(u.m('f'))
            st = os.fstat(fd)
            eq(st.st_nlink, 0, 'st_nlink of unlinked open file')
            eq(st.st_size, 14, 'st_size of unlinked open file')
            eq(os.pread(fd, 100, 0), b'still readable', 'read after unlink')
            os.pwrite(fd, b'!', 14)
            eq(os.fstat(fd).st_size, 15, 'st_size after write')
            fails_with(errno.ENOENT, 'stat f', os.stat, u.m('f'))
        finally:
            os.close(fd)
        eq(os.listdir(u.m()), ['keep'], 'root listing')


@case
def fstat_after_unlink_of_copied_up_file():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'lower')
        u.mount()
        fd = os.open(u.m('f'), os.O_RDWR)
        try:
            os.pwrite(fd, b'L', 0)
            os.unlink(u.m('f'))
            eq(os.fstat(fd).st_nlink, 0, 'st_nlink after unlink')
            eq(os.pread(fd, 10, 0), b'Lower', 'read after unlink')
        finally:
            os.close(fd)
        fails_with(errno.ENOENT, 'stat f', os.stat, u.m('f'))


@case
def o_direct_write_read():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'lower'), b'q' * 8192)
        u.mount()
        buf = mmap.mmap(-1, 8192)
        buf.write(b'x' * 4096 + b'y' * 4096)
        fd = os.open(u.m('direct'), os.O_CREAT | os.O_RDWR | os.O_DIRECT,
                     0o644)
        try:
            eq(os.write(fd, buf), 8192, 'O_DIRECT write size')
            rbuf = mmap.mmap(-1, 4096)
            eq(os.preadv(fd, [rbuf], 4096), 4096, 'O_DIRECT read size')
            eq(bytes(rbuf), b'y' * 4096, 'O_DIRECT read data')
        finally:
            os.close(fd)
        eq(read(u.m('direct')), b'x' * 4096 + b'y' * 4096, 'content')
        fd = os.open(u.m('lower'), os.O_RDWR | os.O_DIRECT)
        try:
            eq(os.pwrite(fd, memoryview(buf)[:4096], 4096), 4096,
               'O_DIRECT over lower')
        finally:
            os.close(fd)
        eq(read(u.m('lower')), b'q' * 4096 + b'x' * 4096, 'lower after write')


def _IO(typ, nr):
    return (typ << 8) | nr


@case
def unknown_ioctl_enotty():
    bogus = _IO(0xDE, 0xAD)
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'F')
        u.mount()
        write(u.m('new'), b'N')
        for rel in ('f', 'new', ''):
            fd = os.open(u.m(rel), os.O_RDONLY)
            try:
                fails_with(errno.ENOTTY, 'ioctl 0x%x on %s' % (bogus,
                                                              rel or '/'),
                           fcntl.ioctl, fd, bogus)
            finally:
                os.close(fd)


@case
def statfs_reports_upper():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'F')
        u.mount()
        m, up = os.statvfs(u.m()), os.statvfs(u.u())
        eq(m.f_namemax, 255, 'f_namemax')
        check(m.f_bsize > 0 and m.f_frsize > 0, 'expected f_bsize, f_frsize '
              '> 0 got %d, %d' % (m.f_bsize, m.f_frsize))
        eq(m.f_blocks * m.f_frsize, up.f_blocks * up.f_frsize,
           'total size against the upper file system')
        check(m.f_bfree > 0 and m.f_files > 0,
              'expected free blocks and inodes got %d, %d' % (m.f_bfree,
                                                               m.f_files))
        fd = os.open(u.m('f'), os.O_RDONLY)
        try:
            eq(os.fstatvfs(fd).f_namemax, 255, 'fstatvfs f_namemax')
        finally:
            os.close(fd)


@case
def seek_data_and_hole():
    size = 16 * MiB
    with Union(lowers=1) as u:
        sparse(u.l(1, 's'), size, {0: b'a' * 4096, 8 * MiB: b'b' * 4096})
        u.mount()
        fd = os.open(u.m('s'), os.O_RDONLY)
        try:
            eq(os.lseek(fd, 0, os.SEEK_DATA), 0, 'SEEK_DATA from 0')
            eq(os.lseek(fd, 0, os.SEEK_HOLE), 4096, 'SEEK_HOLE from 0')
            eq(os.lseek(fd, 4096, os.SEEK_DATA), 8 * MiB,
               'SEEK_DATA from 4096')
            eq(os.lseek(fd, 8 * MiB, os.SEEK_HOLE), 8 * MiB + 4096,
               'SEEK_HOLE from 8 MiB')
            fails_with(errno.ENXIO, 'SEEK_DATA after the last data',
                       os.lseek, fd, 8 * MiB + 4096, os.SEEK_DATA)
            fails_with(errno.ENXIO, 'SEEK_DATA past EOF', os.lseek, fd,
                       size + 1, os.SEEK_DATA)
            eq(os.lseek(fd, 0, os.SEEK_END), size, 'SEEK_END')
        finally:
            os.close(fd)
        # After copy-up the holes are still there (the kernel copies in
        # 1 MiB chunks, so only MiB-aligned holes are certain).
        fd = os.open(u.m('s'), os.O_RDWR)
        try:
            os.pwrite(fd, b'c', 12 * MiB)
            eq(os.lseek(fd, 2 * MiB, os.SEEK_DATA), 8 * MiB,
               'SEEK_DATA from 2 MiB after copy-up')
            eq(os.lseek(fd, 9 * MiB, os.SEEK_DATA), 12 * MiB,
               'SEEK_DATA from 9 MiB after copy-up')
            eq(os.pread(fd, 2, 12 * MiB - 1), b'\0c', 'data at 12 MiB')
        finally:
            os.close(fd)


@case
def seek_data_sees_unflushed_writes():
    # Under the writeback cache, data not yet sent to the daemon must still
    # be found by SEEK_DATA (cp --sparse and tar rely on it), and a hole
    # must not be reported where the kernel holds dirty pages.  One worker
    # thread cannot serve the write-back a seek waits for: the cache is
    # then off, and the seek must neither hang nor miss the data.
    for opts in ((), ('writeback=1',), ('writeback=0',), ('max_threads=1',)):
        with Union(lowers=1) as u:
            u.mount(opts)
            fd = os.open(u.m('f'), os.O_CREAT | os.O_RDWR, 0o644)
            try:
                os.ftruncate(fd, 16 * MiB)
                os.pwrite(fd, b'x' * 4096, 8 * MiB)
                eq(os.lseek(fd, 0, os.SEEK_DATA), 8 * MiB,
                   'SEEK_DATA from 0 with %s' % (opts,))
                eq(os.lseek(fd, 8 * MiB, os.SEEK_HOLE), 8 * MiB + 4096,
                   'SEEK_HOLE from 8 MiB with %s' % (opts,))
                eq(os.pread(fd, 4096, 8 * MiB), b'x' * 4096, 'data')
            finally:
                os.close(fd)


@case
def fallocate_and_punch_hole():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'lower'), b'L' * 100)
        u.mount()
        fd = os.open(u.m('f'), os.O_CREAT | os.O_RDWR, 0o644)
        try:
            os.posix_fallocate(fd, 0, MiB)
            st = os.fstat(fd)
            eq(st.st_size, MiB, 'st_size after posix_fallocate')
            check(st.st_blocks * 512 >= MiB, 'expected >= 1 MiB allocated '
                  'got %d' % (st.st_blocks * 512))
            fallocate(fd, FALLOC_FL_KEEP_SIZE, MiB, MiB)
            eq(os.fstat(fd).st_size, MiB, 'st_size after KEEP_SIZE')
            os.pwrite(fd, b'z' * 8192, 0)
            fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096)
            eq(os.pread(fd, 8192, 0), b'\0' * 4096 + b'z' * 4096,
               'data after punching a hole')
            eq(os.lseek(fd, 0, os.SEEK_HOLE), 0, 'SEEK_HOLE from 0')
        finally:
            os.close(fd)
        fd = os.open(u.m('lower'), os.O_RDWR)
        try:
            os.posix_fallocate(fd, 0, 2 * MiB)
        finally:
            os.close(fd)
        eq(os.stat(u.m('lower')).st_size, 2 * MiB, 'size of lower after '
           'fallocate')
        eq(read(u.m('lower'))[:101], b'L' * 100 + b'\0', 'lower content')


@case
def copy_file_range_between_files():
    data = os.urandom(300 * 1024 + 3)
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'src'), data)
        u.mount()
        src = os.open(u.m('src'), os.O_RDONLY)
        dst = os.open(u.m('dst'), os.O_CREAT | os.O_WRONLY, 0o644)
        try:
            done = 0
            while done < len(data):
                n = os.copy_file_range(src, dst, len(data) - done)
                check(n > 0, 'expected progress from copy_file_range got %d'
                      % n)
                done += n
            n = os.copy_file_range(src, dst, 100, 10, 0)
            eq(n, 100, 'copy_file_range with offsets')
        finally:
            os.close(src)
            os.close(dst)
        eq(read(u.m('dst')), data[10:110] + data[100:], 'content of dst')
        eq(read(u.u('dst')), data[10:110] + data[100:], 'upper/dst')


@case
def flock_and_fcntl_locks():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'lockme')
        u.mount()
        a = os.open(u.m('f'), os.O_RDWR)
        b = os.open(u.m('f'), os.O_RDWR)
        try:
            fcntl.flock(a, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fails_with((errno.EWOULDBLOCK, errno.EAGAIN),
                       'second flock LOCK_EX', fcntl.flock, b,
                       fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(a, fcntl.LOCK_UN)
            fcntl.flock(b, fcntl.LOCK_SH | fcntl.LOCK_NB)
            fcntl.flock(b, fcntl.LOCK_UN)

            fcntl.lockf(a, fcntl.LOCK_EX | fcntl.LOCK_NB, 3, 0)
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                try:
                    fd = os.open(u.m('f'), os.O_RDWR)
                    try:
                        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 3, 0)
                        res = 0
                    except OSError as e:
                        res = e.errno
                    try:
                        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 3, 3)
                        res2 = 0
                    except OSError as e:
                        res2 = e.errno
                    os.write(w, struct.pack('ii', res, res2))
                finally:
                    os._exit(0)
            os.close(w)
            os.waitpid(pid, 0)
            res, res2 = struct.unpack('ii', os.read(r, 8))
            os.close(r)
            check(res in (errno.EAGAIN, errno.EACCES),
                  'expected EAGAIN from a conflicting fcntl lock got %s'
                  % errno.errorcode.get(res, res))
            eq(res2, 0, 'errno of a non-overlapping fcntl lock')
            fcntl.lockf(a, fcntl.LOCK_UN, 3, 0)
        finally:
            os.close(a)
            os.close(b)


@case
def mmap_shared_write():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'0' * 8192)
        u.mount()
        fd = os.open(u.m('f'), os.O_RDWR)
        try:
            mm = mmap.mmap(fd, 8192)
            mm[100:105] = b'hello'
            mm.flush()
            mm.close()
        finally:
            os.close(fd)
        want = b'0' * 100 + b'hello' + b'0' * (8192 - 105)
        eq(read(u.m('f')), want, 'content after mmap write')
        eq(read(u.u('f')), want, 'upper/f after mmap write')


@case
def append_and_fsync():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'start')
        u.mount()
        fd = os.open(u.m('f'), os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, b'-one')
            os.fsync(fd)
            os.fdatasync(fd)
            os.write(fd, b'-two')
        finally:
            os.close(fd)
        eq(read(u.m('f')), b'start-one-two', 'content after appends')
        fd = os.open(u.m(), os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@case
def read_while_other_fd_writes():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'abcdef')
        u.mount()
        r = os.open(u.m('f'), os.O_RDONLY)
        try:
            eq(os.pread(r, 3, 0), b'abc', 'read before copy-up')
            write(u.m('f'), b'XYZ', 'r+b')
            # The kernel (since 4.19) and unionmount make an fd opened
            # before copy-up see the new data.
            eq(os.pread(r, 6, 0), b'XYZdef', 'old fd after copy-up')
        finally:
            os.close(r)


if __name__ == '__main__':
    main()
