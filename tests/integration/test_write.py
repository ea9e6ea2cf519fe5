#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Namespace changes that leave whiteouts and opaque directories behind."""

import errno
import os
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import (Union, case, eq, eq_mode, fails_with, listing, main,
                    mkdir, mkfile, read, write)


def _is_chardev_whiteout(path):
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)


@case
def unlink_lower_leaves_chardev_whiteout():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'F')
        mkfile(u.l(1, 'g'), b'G')
        mkfile(u.l(1, 'd/f'), b'DF')
        u.mount()
        os.unlink(u.m('f'))
        os.unlink(u.m('d/f'))
        fails_with(errno.ENOENT, 'stat f after unlink', os.stat, u.m('f'))
        eq(listing(u.m()), ['d', 'g'], 'root listing')
        eq(listing(u.m('d')), [], 'listing of d')
        eq(_is_chardev_whiteout(u.u('f')), True, 'upper/f is char 0:0')
        eq(_is_chardev_whiteout(u.u('d/f')), True, 'upper/d/f is char 0:0')
        u.remount()
        eq(listing(u.m()), ['d', 'g'], 'root listing after remount')
        fails_with(errno.ENOENT, 'stat f after remount', os.stat, u.m('f'))


@case(unionmount_only=True, why='-o whiteout=oci')
def unlink_lower_leaves_oci_whiteout():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'F')
        mkfile(u.l(1, 'g'), b'G')
        u.mount(opts=['whiteout=oci'])
        os.unlink(u.m('f'))
        fails_with(errno.ENOENT, 'stat f after unlink', os.stat, u.m('f'))
        eq(listing(u.m()), ['g'], 'root listing')
        st = os.lstat(u.u('.wh.f'))
        eq(stat.S_ISREG(st.st_mode), True, 'upper/.wh.f is a regular file')
        fails_with(errno.ENOENT, 'lstat upper/f', os.lstat, u.u('f'))
        u.remount(opts=['whiteout=oci'])
        eq(listing(u.m()), ['g'], 'root listing after remount')


@case
def unlink_upper_only_leaves_nothing():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'g'), b'G')
        u.mount()
        write(u.m('new'), b'N')
        eq(read(u.u('new')), b'N', 'upper/new')
        os.unlink(u.m('new'))
        eq(listing(u.u()), [], 'upper listing')
        eq(listing(u.m()), ['g'], 'root listing')


@case(unionmount_only=True, why='kernel overlayfs fails the fchmod with '
      'EEXIST (its copy-up meets the whiteout); a local file system allows it')
def change_of_deleted_lower_file_stays_deleted():
    # A lower file deleted while open, then changed through the open file:
    # the change applies to the open file and the name stays gone.  With
    # the writeback cache the kernel also writes the file's times back
    # after the unlink, which must not bring it back either.
    for opts in ((), ('writeback=0',)):
        with Union(lowers=1) as u:
            mkfile(u.l(1, 'f'), b'F' * 5000, mode=0o644)
            mkfile(u.l(1, 'g'), b'G')
            u.mount(opts)
            fd = os.open(u.m('f'), os.O_RDONLY)
            try:
                os.unlink(u.m('f'))
                os.fchmod(fd, 0o600)
                eq_mode(os.fstat(fd).st_mode, 0o100600,
                        'mode through the open file %s' % (opts,))
                eq(os.pread(fd, 5000, 0), b'F' * 5000, 'content')
                eq(os.fstat(fd).st_nlink, 0, 'st_nlink')
            finally:
                os.close(fd)
            fails_with(errno.ENOENT, 'stat f', os.stat, u.m('f'))
            eq(listing(u.m()), ['g'], 'root listing %s' % (opts,))
            eq(read(u.l(1, 'f')), b'F' * 5000, 'lower f')
            eq_mode(os.stat(u.l(1, 'f')).st_mode, 0o100644, 'lower f mode')
            u.remount()
            eq(listing(u.m()), ['g'], 'root listing after remount')


@case
def create_over_whiteout():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'old lower content', mode=0o600)
        u.mount()
        os.unlink(u.m('f'))
        fd = os.open(u.m('f'), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o640)
        os.write(fd, b'new')
        os.close(fd)
        eq(read(u.m('f')), b'new', 'content of f')
        eq_mode(os.stat(u.m('f')).st_mode, stat.S_IFREG | 0o640, 'mode of f')
        eq(read(u.u('f')), b'new', 'upper/f')
        eq(listing(u.m()), ['f'], 'root listing')


@case
def mkdir_over_deleted_dir_is_opaque():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'd/x'), b'X')
        mkfile(u.l(1, 'd/sub/z'), b'Z')
        u.mount()
        os.unlink(u.m('d/x'))
        os.unlink(u.m('d/sub/z'))
        os.rmdir(u.m('d/sub'))
        os.rmdir(u.m('d'))
        fails_with(errno.ENOENT, 'stat d after rmdir', os.stat, u.m('d'))
        os.mkdir(u.m('d'), 0o750)
        eq(listing(u.m('d')), [], 'listing of new d')
        write(u.m('d/new'), b'fresh')
        eq(listing(u.m('d')), ['new'], 'listing of d')
        eq_mode(os.stat(u.m('d')).st_mode, stat.S_IFDIR | 0o750, 'mode of d')
        fails_with(errno.ENOENT, 'stat d/x', os.stat, u.m('d/x'))
        eq(os.getxattr(u.u('d'), 'trusted.overlay.opaque'), b'y',
           'trusted.overlay.opaque of upper/d')
        u.remount()
        eq(listing(u.m('d')), ['new'], 'listing of d after remount')


@case
def mkdir_over_deleted_dir_three_layers():
    with Union(lowers=2) as u:
        mkfile(u.l(1, 'd/x'), b'X')
        mkfile(u.l(2, 'd/y'), b'Y')
        u.mount()
        os.unlink(u.m('d/x'))
        os.unlink(u.m('d/y'))
        os.rmdir(u.m('d'))
        os.mkdir(u.m('d'))
        write(u.m('d/new'), b'fresh')
        eq(listing(u.m('d')), ['new'], 'listing of d')
        u.remount()
        eq(listing(u.m('d')), ['new'], 'listing of d after remount')


@case(unionmount_only=True, why='-o whiteout=oci')
def mkdir_over_deleted_dir_oci():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'd/x'), b'X')
        u.mount(opts=['whiteout=oci'])
        os.unlink(u.m('d/x'))
        os.rmdir(u.m('d'))
        os.mkdir(u.m('d'))
        write(u.m('d/new'), b'fresh')
        eq(listing(u.m('d')), ['new'], 'listing of d')
        eq(stat.S_ISREG(os.lstat(u.u('d/.wh..wh..opq')).st_mode), True,
           'upper/d/.wh..wh..opq is a regular file')
        u.remount(opts=['whiteout=oci'])
        eq(listing(u.m('d')), ['new'], 'listing of d after remount')


@case
def rmdir_merged_dir_that_looks_empty():
    with Union(lowers=2) as u:
        mkfile(u.l(1, 'd/a'), b'A')
        mkfile(u.l(1, 'd/b'), b'B')
        mkfile(u.l(2, 'd/c'), b'C')
        mkfile(u.l(2, 'keep'), b'K')
        u.mount()
        for n in ('a', 'b', 'c'):
            os.unlink(u.m('d/' + n))
        eq(listing(u.m('d')), [], 'listing of emptied d')
        os.rmdir(u.m('d'))
        fails_with(errno.ENOENT, 'stat d', os.stat, u.m('d'))
        eq(listing(u.m()), ['keep'], 'root listing')
        u.remount()
        eq(listing(u.m()), ['keep'], 'root listing after remount')


@case
def rmdir_with_lower_content_enotempty():
    with Union(lowers=2) as u:
        mkfile(u.l(1, 'd/a'), b'A')
        mkdir(u.u('d'))            # upper part exists and is empty
        mkfile(u.l(2, 'e/b'), b'B')  # no upper part at all
        u.mount()
        fails_with(errno.ENOTEMPTY, 'rmdir d', os.rmdir, u.m('d'))
        fails_with(errno.ENOTEMPTY, 'rmdir e', os.rmdir, u.m('e'))
        eq(listing(u.m('d')), ['a'], 'listing of d')
        eq(listing(u.m('e')), ['b'], 'listing of e')


@case
def rmdir_nonempty_upper_dir_enotempty():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'keep'), b'K')
        u.mount()
        os.mkdir(u.m('n'))
        write(u.m('n/f'), b'F')
        fails_with(errno.ENOTEMPTY, 'rmdir n', os.rmdir, u.m('n'))
        os.unlink(u.m('n/f'))
        os.rmdir(u.m('n'))
        eq(listing(u.m()), ['keep'], 'root listing')
        eq(listing(u.u()), [], 'upper listing')


@case
def rmdir_lower_dir_partially_deleted_enotempty():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'd/a'), b'A')
        mkfile(u.l(1, 'd/b'), b'B')
        u.mount()
        os.unlink(u.m('d/a'))
        fails_with(errno.ENOTEMPTY, 'rmdir d', os.rmdir, u.m('d'))
        eq(listing(u.m('d')), ['b'], 'listing of d')


@case
def unlink_dir_eisdir_rmdir_file_enotdir():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'd/a'), b'A')
        mkfile(u.l(1, 'f'), b'F')
        u.mount()
        fails_with(errno.EISDIR, 'unlink d', os.unlink, u.m('d'))
        fails_with(errno.ENOTDIR, 'rmdir f', os.rmdir, u.m('f'))
        fails_with(errno.ENOENT, 'unlink missing', os.unlink, u.m('missing'))
        fails_with(errno.EEXIST, 'mkdir d', os.mkdir, u.m('d'))
        fails_with(errno.EEXIST, 'O_EXCL f', os.open, u.m('f'),
                   os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)


if __name__ == '__main__':
    main()
