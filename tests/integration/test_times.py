#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Timestamps as kernel overlayfs shows and stores them: a copy-up leaves
the times of the directories it lands in alone, truncate to the current
size marks mtime and ctime, and what stat shows is what is stored (the
same after unmount and mount), under the writeback cache too.  Every case
runs against kernel overlayfs as well (UM_TEST_IMPL=kernel)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import Union, case, check, eq, main, mkdir, mkfile, read, write

OLD = 1577836800 * 10**9           # 2020-01-01 00:00:00 UTC


def age(path):
    os.utime(path, ns=(OLD, OLD), follow_symlinks=False)


def mtimes(root, rels):
    return {r: os.lstat(os.path.join(root, r)).st_mtime_ns for r in rels}


DIRS = ['.', 'a', 'a/e', 'a/e/f', 'a/e/d', 'b']


@case
def copyup_keeps_the_times_of_ancestors():
    """The issue's example: lower a/e (2020), mkdir a/e/d: a keeps its
    mtime, a/e gets a new one; copy-ups of files into a and a/e do not
    change them either, before or after a remount."""
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a/e/file'), b'x')
        mkfile(u.l(1, 'a/top'), b'y')
        mkfile(u.l(1, 'b/deep/g'), b'z')
        mkdir(u.l(1, 'a/e/f'))
        for p in ('a/e/file', 'a/top', 'b/deep/g', 'a/e/f', 'b/deep', 'b',
                  'a/e', 'a'):
            age(u.l(1, p))
        u.mount()
        os.mkdir(u.m('a/e/d'))
        eq(os.stat(u.m('a')).st_mtime_ns, OLD, 'mtime of a after mkdir a/e/d')
        check(os.stat(u.m('a/e')).st_mtime_ns != OLD,
              'mtime of a/e changes with mkdir a/e/d')
        with open(u.m('a/e/file'), 'ab') as f:
            f.write(b'+')                       # copy-up into a/e
        os.chmod(u.m('a/top'), 0o600)           # copy-up into a
        write(u.m('b/deep/g'), b'new')          # b and b/deep copied up
        want = mtimes(u.m(), DIRS + ['b/deep'])
        eq((want['a'], want['a/e/f'], want['b'], want['b/deep']),
           (OLD, OLD, OLD, OLD), 'mtimes of a, a/e/f, b, b/deep')
        u.remount()
        eq(mtimes(u.m(), DIRS + ['b/deep']), want,
           'directory mtimes after remount')


def _same_size(u, names, how):
    for n in names:
        size = os.stat(u.m(n)).st_size
        if how == 'path':
            os.truncate(u.m(n), size)
        else:
            fd = os.open(u.m(n), os.O_WRONLY)
            try:
                os.ftruncate(fd, size)
            finally:
                os.close(fd)


def _truncate_case(how):
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'low'), b'lower data')
        mkfile(u.l(1, 'd/low2'), b'in d')
        mkfile(u.u('up'), b'upper data')
        for p in (u.l(1, 'low'), u.l(1, 'd/low2'), u.l(1, 'd'), u.u('up')):
            age(p)
        u.mount()
        names = ['low', 'd/low2', 'up']
        _same_size(u, names, how)
        st = {n: os.stat(u.m(n)) for n in names}
        for n in names:
            check(st[n].st_mtime_ns != OLD and st[n].st_ctime_ns != OLD,
                  '%s truncate to the same size marks mtime and ctime '
                  'of %s' % (how, n))
            eq(read(u.m(n)), {'low': b'lower data', 'd/low2': b'in d',
                              'up': b'upper data'}[n], 'content of ' + n)
        eq(os.stat(u.m('d')).st_mtime_ns, OLD, 'mtime of d')
        u.remount()
        eq({n: os.stat(u.m(n)).st_mtime_ns for n in names},
           {n: st[n].st_mtime_ns for n in names}, 'mtimes after remount')


@case
def truncate_to_same_size_marks_times():
    _truncate_case('path')


@case
def ftruncate_to_same_size_marks_times():
    _truncate_case('fd')


@case
def written_mtime_is_stored():
    """Files created and written through the union: the mtime stat shows
    is the one stored.  sync(2) between the writes and the close makes
    the kernel send a file's times while its pages are still being
    written back, which used to move the stored mtime."""
    with Union(lowers=1) as u:
        mkdir(u.l(1, 'dir'))
        u.mount()
        names = ['dir/f%d' % i for i in range(20)]
        for i, n in enumerate(names):
            fd = os.open(u.m(n), os.O_CREAT | os.O_WRONLY, 0o644)
            try:
                for _ in range(32):
                    os.write(fd, os.urandom(16384))
                os.sync()
                os.pwrite(fd, b'after sync %d' % i, 0)
            finally:
                os.close(fd)
        with open(u.m('dir/f0'), 'r+b') as f:
            f.seek(0, 2)
            f.write(b'appended')
        want = mtimes(u.m(), names + ['dir', '.'])
        u.remount()
        eq(mtimes(u.m(), names + ['dir', '.']), want,
           'mtimes after remount')


if __name__ == '__main__':
    main()
