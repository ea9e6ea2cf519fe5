#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Name and path limits: NAME_MAX, paths longer than PATH_MAX, reserved
whiteout names."""

import errno
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import (Union, case, check, deep_dirs, eq, fails_with, listing,
                    main, mkfile, read, write)

DEPTH = 24
COMPONENT = 'd' * 200       # 24 * 201 bytes: about 4.8 KiB of path


@case
def name_256_bytes_enametoolong():
    long = 'n' * 256
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'F')
        u.mount()
        fails_with(errno.ENAMETOOLONG, 'stat 256-byte name', os.stat,
                   u.m(long))
        fails_with(errno.ENAMETOOLONG, 'create 256-byte name', os.open,
                   u.m(long), os.O_CREAT | os.O_WRONLY, 0o644)
        fails_with(errno.ENAMETOOLONG, 'mkdir 256-byte name', os.mkdir,
                   u.m(long))
        fails_with(errno.ENAMETOOLONG, 'rename to 256-byte name', os.rename,
                   u.m('f'), u.m(long))
        fails_with(errno.ENAMETOOLONG, 'symlink 256-byte name', os.symlink,
                   'f', u.m(long))
        eq(listing(u.m()), ['f'], 'root listing')


@case
def name_255_bytes_works():
    name = 'n' * 255
    utf8 = '\u00e9' * 127 + 'x'     # 255 bytes in UTF-8
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'l' * 255), b'lower long')
        u.mount()
        eq(read(u.m('l' * 255)), b'lower long', 'lower 255-byte name')
        write(u.m(name), b'long name')
        eq(read(u.m(name)), b'long name', 'content of 255-byte name')
        os.mkdir(u.m(utf8))
        eq(listing(u.m()), sorted(['l' * 255, name, utf8]), 'root listing')
        os.rename(u.m('l' * 255), u.m(utf8 + '/' + 'r' * 255))
        eq(listing(u.m(utf8)), ['r' * 255], 'listing of utf8 dir')
        os.unlink(u.m(name))
        eq(read(u.u(utf8 + '/' + 'r' * 255)), b'lower long',
           'upper copy of renamed file')


def _walk_deep_cwd(top):
    """chdir down the deep tree with relative paths; returns to /."""
    os.chdir(top)
    for _ in range(DEPTH):
        os.chdir(COMPONENT)


@case
def deep_path_beyond_path_max():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'keep'), b'K')
        u.mount()
        fd = deep_dirs(u.m(), [COMPONENT] * DEPTH)
        try:
            nfd = os.open('leaf', os.O_CREAT | os.O_WRONLY, 0o600, dir_fd=fd)
            os.write(nfd, b'at the bottom')
            os.close(nfd)
        finally:
            os.close(fd)
        total = len(u.m()) + DEPTH * (len(COMPONENT) + 1) + len('/leaf')
        check(total > 4096, 'expected a path > 4096 bytes got %d' % total)
        try:
            _walk_deep_cwd(u.m())
            eq(read('leaf'), b'at the bottom', 'leaf read via relative cwd')
            eq(os.listdir('.'), ['leaf'], 'listing at the bottom')
            os.rename('leaf', 'leaf2')
            os.mkdir('sub')
            eq(sorted(os.listdir('.')), ['leaf2', 'sub'], 'listing after '
               'rename and mkdir')
        finally:
            os.chdir('/')
        fails_with(errno.ENAMETOOLONG, 'stat by absolute path', os.stat,
                   u.m('/'.join([COMPONENT] * DEPTH)))
        fd = deep_dirs(u.u(), [COMPONENT] * DEPTH)
        try:
            eq(sorted(os.listdir(fd)), ['leaf2', 'sub'], 'listing in upper')
        finally:
            os.close(fd)


@case
def deep_lower_path_copyup():
    with Union(lowers=1) as u:
        fd = deep_dirs(u.l(1), [COMPONENT] * DEPTH)
        try:
            nfd = os.open('f', os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd)
            os.write(nfd, b'deep lower')
            os.close(nfd)
        finally:
            os.close(fd)
        u.mount()
        try:
            _walk_deep_cwd(u.m())
            eq(read('f'), b'deep lower', 'deep lower file')
            with open('f', 'ab') as f:
                f.write(b' changed')
            eq(read('f'), b'deep lower changed', 'deep file after append')
            os.unlink('f')
            eq(os.listdir('.'), [], 'listing after unlink')
            os.chdir('..')
            os.rename(COMPONENT, 'renamed')
            eq(os.listdir('.'), ['renamed'], 'listing after dir rename')
        finally:
            os.chdir('/')


@case(unionmount_only=True, why='the kernel allows creating .wh.* names')
def whiteout_prefixed_names_einval():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'F')
        u.mount()
        fails_with(errno.EINVAL, 'create .wh.x', os.open, u.m('.wh.x'),
                   os.O_CREAT | os.O_WRONLY, 0o644)
        fails_with(errno.EINVAL, 'mkdir .wh.d', os.mkdir, u.m('.wh.d'))
        fails_with(errno.EINVAL, 'rename to .wh.f', os.rename, u.m('f'),
                   u.m('.wh.f'))
        fails_with(errno.EINVAL, 'symlink .wh.l', os.symlink, 'f',
                   u.m('.wh.l'))
        eq(listing(u.m()), ['f'], 'root listing')
        eq(listing(u.u()), [], 'upper listing')


if __name__ == '__main__':
    main()
