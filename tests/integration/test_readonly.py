#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Read-only union (lowers and a mount point, no upper): reads merge,
every change is EROFS."""

import errno
import os
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import (Union, case, eq, fails_with, listing, main, mkfile, read,
                    symlink, whiteout)


def _ro_union():
    u = Union(lowers=2, upper=False)
    mkfile(u.l(1, 'f'), b'top')
    mkfile(u.l(2, 'f'), b'bottom')
    mkfile(u.l(2, 'd/x'), b'X')
    mkfile(u.l(1, 'd/y'), b'Y')
    mkfile(u.l(2, 'gone'), b'G')
    whiteout(u.l(1, 'gone'))
    symlink('f', u.l(2, 'ln'))
    return u


@case
def ro_reads_merge():
    with _ro_union() as u:
        u.mount()
        eq(listing(u.m()), ['d', 'f', 'ln'], 'root listing')
        eq(listing(u.m('d')), ['x', 'y'], 'listing of d')
        eq(read(u.m('f')), b'top', 'content of f')
        eq(read(u.m('ln')), b'top', 'content through ln')
        fails_with(errno.ENOENT, 'stat gone', os.stat, u.m('gone'))


@case
def ro_write_erofs():
    with _ro_union() as u:
        u.mount()
        fails_with(errno.EROFS, 'open f O_WRONLY', os.open, u.m('f'),
                   os.O_WRONLY)
        fails_with(errno.EROFS, 'open f O_RDWR', os.open, u.m('f'), os.O_RDWR)
        fails_with(errno.EROFS, 'truncate f', os.truncate, u.m('f'), 0)
        eq(read(u.m('f')), b'top', 'content of f')


@case
def ro_create_erofs():
    with _ro_union() as u:
        u.mount()
        fails_with(errno.EROFS, 'create new', os.open, u.m('new'),
                   os.O_CREAT | os.O_WRONLY, 0o644)
        fails_with(errno.EROFS, 'symlink', os.symlink, 'f', u.m('ln2'))
        fails_with(errno.EROFS, 'mkfifo', os.mkfifo, u.m('fifo'))
        fails_with(errno.EROFS, 'link', os.link, u.m('f'), u.m('f2'))
        eq(listing(u.m()), ['d', 'f', 'ln'], 'root listing')


@case
def ro_unlink_erofs():
    with _ro_union() as u:
        u.mount()
        fails_with(errno.EROFS, 'unlink f', os.unlink, u.m('f'))
        fails_with(errno.EROFS, 'rmdir d', os.rmdir, u.m('d'))
        fails_with(errno.EROFS, 'rename f', os.rename, u.m('f'), u.m('g'))
        eq(read(u.m('f')), b'top', 'content of f')


@case
def ro_mkdir_erofs():
    with _ro_union() as u:
        u.mount()
        fails_with(errno.EROFS, 'mkdir', os.mkdir, u.m('newdir'))
        fails_with(errno.EROFS, 'mkdir in d', os.mkdir, u.m('d/newdir'))


@case
def ro_chmod_chown_utime_erofs():
    with _ro_union() as u:
        u.mount()
        fails_with(errno.EROFS, 'chmod f', os.chmod, u.m('f'), 0o600)
        fails_with(errno.EROFS, 'chown f', os.chown, u.m('f'), 1, 1)
        fails_with(errno.EROFS, 'utime f', os.utime, u.m('f'), (1, 1))
        eq(stat.S_IMODE(os.stat(u.m('f')).st_mode), 0o644, 'mode of f')


@case
def ro_setxattr_erofs():
    with _ro_union() as u:
        u.mount()
        fails_with(errno.EROFS, 'setxattr f', os.setxattr, u.m('f'),
                   'user.x', b'1')
        fails_with(errno.EROFS, 'setxattr d', os.setxattr, u.m('d'),
                   'user.x', b'1')
        eq(os.listxattr(u.m('f')), [], 'listxattr f')


@case
def ro_statvfs_flag():
    with _ro_union() as u:
        u.mount()
        eq(bool(os.statvfs(u.m()).f_flag & os.ST_RDONLY), True,
           'ST_RDONLY in statvfs f_flag')


if __name__ == '__main__':
    main()
