#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Metadata and namespace operations through the mount: chmod, chown,
truncate, utimens, readlink, mknod, symlink, link, rename."""

import errno
import os
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import (RENAME_EXCHANGE, RENAME_NOREPLACE, UTIME_NOW, UTIME_OMIT,
                    Union, case, check, eq, eq_mode, fails_with, listing, main,
                    mkdir, mkfile, read, renameat2, symlink, utimensat, write)


@case
def chmod_lower_and_upper():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'F', mode=0o644)
        mkfile(u.l(1, 'd/g'), b'G')
        u.mount()
        write(u.m('new'), b'N')
        os.chmod(u.m('f'), 0o4751)
        os.chmod(u.m('new'), 0o600)
        os.chmod(u.m('d'), 0o700)
        eq_mode(os.stat(u.m('f')).st_mode, stat.S_IFREG | 0o4751, 'mode of f')
        eq_mode(os.stat(u.m('new')).st_mode, stat.S_IFREG | 0o600,
                'mode of new')
        eq_mode(os.stat(u.m('d')).st_mode, stat.S_IFDIR | 0o700, 'mode of d')
        eq(listing(u.m('d')), ['g'], 'listing of d')
        u.remount()
        eq_mode(os.stat(u.m('f')).st_mode, stat.S_IFREG | 0o4751,
                'mode of f after remount')
        eq_mode(os.stat(u.m('d')).st_mode, stat.S_IFDIR | 0o700,
                'mode of d after remount')


@case
def chown_lower_file_and_dir():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'F')
        mkfile(u.l(1, 'd/g'), b'G')
        u.mount()
        os.chown(u.m('f'), 1234, 5678)
        os.chown(u.m('d'), 42, -1)
        st = os.stat(u.m('f'))
        eq((st.st_uid, st.st_gid), (1234, 5678), 'owner of f')
        st = os.stat(u.m('d'))
        eq((st.st_uid, st.st_gid), (42, 0), 'owner of d')
        st = os.stat(u.u('f'))
        eq((st.st_uid, st.st_gid), (1234, 5678), 'owner of upper/f')


@case
def truncate_shrink_and_grow():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'hello world')
        mkfile(u.l(1, 'g'), b'0123456789')
        u.mount()
        os.truncate(u.m('f'), 5)
        eq(read(u.m('f')), b'hello', 'f after truncate to 5')
        eq(os.stat(u.m('f')).st_size, 5, 'size of f')
        os.truncate(u.m('f'), 10)
        eq(read(u.m('f')), b'hello\0\0\0\0\0', 'f after truncate to 10')
        fd = os.open(u.m('g'), os.O_RDWR)
        os.ftruncate(fd, 3)
        eq(os.fstat(fd).st_size, 3, 'fstat size of g')
        os.close(fd)
        eq(read(u.m('g')), b'012', 'g after ftruncate to 3')
        eq(read(u.l(1, 'g')), b'0123456789', 'lower/g')


@case
def utimens_exact_and_omit():
    a1 = 1300000000 * 10**9 + 111111111
    m1 = 1310000000 * 10**9 + 222222222
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'F')
        u.mount()
        p = u.m('f')
        os.utime(p, ns=(a1, m1))
        st = os.stat(p)
        eq((st.st_atime_ns, st.st_mtime_ns), (a1, m1), 'times after utime')
        utimensat(p, UTIME_OMIT, (1320000000, 333333333))
        st = os.stat(p)
        eq(st.st_atime_ns, a1, 'atime after UTIME_OMIT')
        eq(st.st_mtime_ns, 1320000000 * 10**9 + 333333333,
           'mtime after setting only mtime')
        utimensat(p, (1330000000, 444444444), UTIME_OMIT)
        st = os.stat(p)
        eq(st.st_atime_ns, 1330000000 * 10**9 + 444444444,
           'atime after setting only atime')
        eq(st.st_mtime_ns, 1320000000 * 10**9 + 333333333,
           'mtime after UTIME_OMIT')
        before = time.time_ns() - 2 * 10**9
        utimensat(p, UTIME_OMIT, UTIME_NOW)
        after = time.time_ns() + 2 * 10**9
        st = os.stat(p)
        eq(st.st_atime_ns, 1330000000 * 10**9 + 444444444,
           'atime after UTIME_OMIT, UTIME_NOW')
        check(before <= st.st_mtime_ns <= after,
              'expected mtime within 2s of now got %d' % st.st_mtime_ns)
        up = os.stat(u.u('f'))
        eq(up.st_atime_ns, 1330000000 * 10**9 + 444444444, 'atime of upper/f')


@case
def utimens_symlink_nofollow():
    with Union(lowers=1) as u:
        symlink('f', u.l(1, 'ln'))
        mkfile(u.l(1, 'f'), b'F', mtime_ns=10**18)
        u.mount()
        utimensat(u.m('ln'), (1000, 5), (2000, 7), follow=False)
        st = os.lstat(u.m('ln'))
        eq((st.st_atime_ns, st.st_mtime_ns), (1000 * 10**9 + 5,
                                              2000 * 10**9 + 7),
           'times of ln')
        eq(os.stat(u.m('f')).st_mtime_ns, 10**18, 'mtime of f (target)')


@case
def readlink_lower_and_new():
    with Union(lowers=2) as u:
        symlink('../some/where', u.l(2, 'ln'))
        symlink('x' * 1000, u.l(1, 'long'))
        u.mount()
        eq(os.readlink(u.m('ln')), '../some/where', 'readlink ln')
        eq(os.lstat(u.m('ln')).st_size, len('../some/where'), 'size of ln')
        eq(os.readlink(u.m('long')), 'x' * 1000, 'readlink long')
        os.symlink('target with spaces/\u00e9', u.m('new'))
        eq(os.readlink(u.m('new')), 'target with spaces/\u00e9',
           'readlink new')
        eq(os.readlink(u.u('new')), 'target with spaces/\u00e9',
           'readlink upper/new')
        fails_with(errno.EINVAL, 'readlink of a dir', os.readlink, u.m())


@case
def symlink_follow_through_mount():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'dir/file'), b'reached')
        symlink('dir/file', u.l(1, 'rel'))
        u.mount()
        eq(read(u.m('rel')), b'reached', 'read through rel')
        os.symlink(u.m('dir'), u.m('abs'))
        eq(read(u.m('abs/file')), b'reached', 'read through abs')


@case
def mknod_fifo():
    with Union(lowers=1) as u:
        mkdir(u.l(1, 'd'))
        u.mount()
        os.mkfifo(u.m('d/fifo'), 0o640)
        st = os.lstat(u.m('d/fifo'))
        eq(stat.S_ISFIFO(st.st_mode), True, 'd/fifo is a fifo')
        eq_mode(st.st_mode, stat.S_IFIFO | 0o640, 'mode of d/fifo')
        eq(stat.S_ISFIFO(os.lstat(u.u('d/fifo')).st_mode), True,
           'upper/d/fifo is a fifo')
        os.mknod(u.m('sock'), stat.S_IFSOCK | 0o600)
        eq(stat.S_ISSOCK(os.lstat(u.m('sock')).st_mode), True,
           'sock is a socket')
        eq(listing(u.m()), ['d', 'sock'], 'root listing')


@case
def mknod_device():
    with Union(lowers=1) as u:
        u.mount()
        os.mknod(u.m('null2'), stat.S_IFCHR | 0o666, os.makedev(1, 3))
        st = os.lstat(u.m('null2'))
        eq(stat.S_ISCHR(st.st_mode), True, 'null2 is a char device')
        eq(st.st_rdev, os.makedev(1, 3), 'st_rdev of null2')


@case
def mkdir_mode_and_listing():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'x'), b'')
        u.mount()
        os.mkdir(u.m('n'), 0o751)
        eq_mode(os.stat(u.m('n')).st_mode, stat.S_IFDIR | 0o751, 'mode of n')
        eq(os.stat(u.m('n')).st_nlink, 2, 'st_nlink of new empty dir')
        eq(listing(u.m()), ['n', 'x'], 'root listing')


@case
def link_upper_file():
    with Union(lowers=1) as u:
        u.mount()
        write(u.m('f'), b'F')
        os.link(u.m('f'), u.m('g'))
        f, g = os.stat(u.m('f')), os.stat(u.m('g'))
        eq((f.st_nlink, g.st_nlink), (2, 2), 'st_nlink of f and g')
        eq(f.st_ino, g.st_ino, 'st_ino of f and g')
        write(u.m('g'), b'via g', 'ab')
        eq(read(u.m('f')), b'Fvia g', 'content of f')
        os.unlink(u.m('f'))
        eq(os.stat(u.m('g')).st_nlink, 1, 'st_nlink of g after unlink f')


@case
def link_lower_file():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'lower')
        mkdir(u.l(1, 'd'))
        u.mount()
        ino = os.stat(u.m('f')).st_ino
        os.link(u.m('f'), u.m('d/g'))
        f, g = os.stat(u.m('f')), os.stat(u.m('d/g'))
        eq((f.st_nlink, g.st_nlink), (2, 2), 'st_nlink of f and d/g')
        eq(f.st_ino, g.st_ino, 'st_ino of f and d/g')
        eq(f.st_ino, ino, 'st_ino of f before and after link')
        eq(read(u.m('d/g')), b'lower', 'content of d/g')
        write(u.m('d/g'), b'!', 'ab')
        eq(read(u.m('f')), b'lower!', 'content of f after append to d/g')
        fails_with(errno.EEXIST, 'link onto existing', os.link, u.m('f'),
                   u.m('d/g'))


@case
def rename_lower_file():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A', mode=0o640)
        mkdir(u.l(1, 'd'))
        u.mount()
        ino = os.stat(u.m('a')).st_ino
        os.rename(u.m('a'), u.m('d/b'))
        eq(read(u.m('d/b')), b'A', 'content of d/b')
        eq(os.stat(u.m('d/b')).st_ino, ino, 'st_ino kept by rename')
        fails_with(errno.ENOENT, 'stat a', os.stat, u.m('a'))
        eq(listing(u.m()), ['d'], 'root listing')
        eq(listing(u.m('d')), ['b'], 'listing of d')
        u.remount()
        eq(listing(u.m()), ['d'], 'root listing after remount')
        eq(read(u.m('d/b')), b'A', 'content of d/b after remount')


@case
def rename_over_existing_file():
    with Union(lowers=2) as u:
        mkfile(u.l(1, 'a'), b'A')
        mkfile(u.l(2, 'b'), b'B')
        u.mount()
        os.rename(u.m('a'), u.m('b'))
        eq(read(u.m('b')), b'A', 'content of b')
        fails_with(errno.ENOENT, 'stat a', os.stat, u.m('a'))
        eq(listing(u.m()), ['b'], 'root listing')
        write(u.m('c'), b'C')
        os.rename(u.m('c'), u.m('b'))
        eq(read(u.m('b')), b'C', 'content of b after second rename')
        eq(listing(u.m()), ['b'], 'root listing after second rename')
        u.remount()
        eq(listing(u.m()), ['b'], 'root listing after remount')


@case
def rename_noreplace():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A')
        mkfile(u.l(1, 'b'), b'B')
        u.mount()
        fails_with(errno.EEXIST, 'RENAME_NOREPLACE onto b', renameat2,
                   u.m('a'), u.m('b'), RENAME_NOREPLACE)
        eq(read(u.m('a')), b'A', 'content of a')
        eq(read(u.m('b')), b'B', 'content of b')
        renameat2(u.m('a'), u.m('c'), RENAME_NOREPLACE)
        eq(listing(u.m()), ['b', 'c'], 'root listing')
        eq(read(u.m('c')), b'A', 'content of c')


@case
def rename_exchange():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A')
        mkfile(u.l(1, 'd/x'), b'X')
        u.mount()
        write(u.m('b'), b'BB')
        renameat2(u.m('a'), u.m('b'), RENAME_EXCHANGE)
        eq(read(u.m('a')), b'BB', 'content of a')
        eq(read(u.m('b')), b'A', 'content of b')
        renameat2(u.m('a'), u.m('d'), RENAME_EXCHANGE)
        eq(read(u.m('d')), b'BB', 'content of d (file now)')
        eq(listing(u.m('a')), ['x'], 'listing of a (dir now)')
        fails_with(errno.ENOENT, 'RENAME_EXCHANGE with missing', renameat2,
                   u.m('b'), u.m('missing'), RENAME_EXCHANGE)
        eq(listing(u.m()), ['a', 'b', 'd'], 'root listing')
        u.remount()
        eq(read(u.m('d')), b'BB', 'content of d after remount')
        eq(listing(u.m('a')), ['x'], 'listing of a after remount')


@case
def rename_dir_with_lower_content():
    with Union(lowers=2) as u:
        mkfile(u.l(1, 'd/x'), b'X')
        mkfile(u.l(1, 'd/sub/y'), b'Y')
        mkfile(u.l(2, 'd/z'), b'Z')
        mkfile(u.l(2, 'other'), b'O')
        u.mount()
        os.rename(u.m('d'), u.m('e'))
        fails_with(errno.ENOENT, 'stat d', os.stat, u.m('d'))
        eq(listing(u.m()), ['e', 'other'], 'root listing')
        eq(listing(u.m('e')), ['sub', 'x', 'z'], 'listing of e')
        eq(read(u.m('e/sub/y')), b'Y', 'content of e/sub/y')
        eq(read(u.m('e/z')), b'Z', 'content of e/z')
        os.mkdir(u.m('d'))
        eq(listing(u.m('d')), [], 'listing of new d')
        u.remount()
        eq(listing(u.m()), ['d', 'e', 'other'], 'root listing after remount')
        eq(listing(u.m('e')), ['sub', 'x', 'z'], 'listing of e after remount')
        eq(listing(u.m('d')), [], 'listing of d after remount')
        eq(read(u.m('e/sub/y')), b'Y', 'content of e/sub/y after remount')


@case
def rename_dir_into_subdir_and_back():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a/f'), b'F')
        mkdir(u.l(1, 'b'))
        u.mount()
        os.rename(u.m('a'), u.m('b/a2'))
        eq(listing(u.m('b/a2')), ['f'], 'listing of b/a2')
        os.rename(u.m('b/a2'), u.m('a'))
        eq(listing(u.m('a')), ['f'], 'listing of a')
        eq(listing(u.m('b')), [], 'listing of b')
        fails_with(errno.EINVAL, 'rename a into itself', os.rename,
                   u.m('a'), u.m('a/inside'))


@case
def rename_dir_over_nonempty_dir_enotempty():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a/f'), b'F')
        mkfile(u.l(1, 'b/g'), b'G')
        mkdir(u.l(1, 'empty'))
        u.mount()
        fails_with(errno.ENOTEMPTY, 'rename a onto b', os.rename, u.m('a'),
                   u.m('b'))
        os.rename(u.m('a'), u.m('empty'))
        eq(listing(u.m()), ['b', 'empty'], 'root listing')
        eq(listing(u.m('empty')), ['f'], 'listing of empty')


if __name__ == '__main__':
    main()
