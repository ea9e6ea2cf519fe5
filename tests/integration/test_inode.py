#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Inode numbers: st_ino equals readdir's d_ino, survives copy-up and
remount, differs between distinct objects, is shared by hard links."""

import os
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import (Union, case, check, eq, eq_map, hardlink, main, mkdir,
                    mkfile, opaque, symlink, whiteout, write)


def _build_tree(u, premade_upper=True):
    """17 objects; with premade_upper, upper/d is made by hand (no origin
    xattr) and merges with the lower d's."""
    mkfile(u.u('top_u'), b'u')
    if premade_upper:
        mkfile(u.u('d/from_upper'), b'u')
        mkfile(u.u('d/shadow'), b'upper wins')
    else:
        mkfile(u.l(1, 'd/from_upper'), b'u')
    mkfile(u.l(1, 'd/from_l1'), b'1')
    mkfile(u.l(1, 'd/shadow'), b'hidden')
    mkfile(u.l(1, 'd/sub/deep1'), b'1')
    symlink('from_l1', u.l(1, 'd/ln'))
    mkfile(u.l(2, 'd/from_l2'), b'2')
    mkfile(u.l(2, 'd/sub/deep2'), b'2')
    mkfile(u.l(2, 'd/gone'), b'2')
    whiteout(u.l(1, 'd/gone'))
    mkdir(u.l(2, 'only_l2/empty'))
    mkfile(u.l(2, 'only_l2/f'), b'2')
    opaque(u.l(1, 'opq'))
    mkfile(u.l(1, 'opq/in'), b'1')
    mkfile(u.l(2, 'opq/below'), b'2')
    mkfile(u.l(1, 'a'), b'linked')
    hardlink(u.l(1, 'a'), u.l(1, 'd/a_link'))


def _walk_inos(top):
    """{relpath: st_ino} for everything under top, checking on the way that
    each readdir d_ino equals the lstat st_ino."""
    inos = {}
    bad = []

    def walk(path, rel):
        for e in os.scandir(path):
            r = rel + '/' + e.name if rel else e.name
            st = os.lstat(e.path)
            if e.inode() != st.st_ino:
                bad.append('%s: d_ino %d st_ino %d' % (r, e.inode(),
                                                       st.st_ino))
            inos[r] = st.st_ino
            if stat.S_ISDIR(st.st_mode):
                walk(e.path, r)
    walk(top, '')
    if bad:
        raise AssertionError('; '.join(bad))
    return inos


def _check_walk(top, what):
    try:
        return _walk_inos(top)
    except AssertionError as e:
        check(False, 'expected d_ino == st_ino (%s) got %s' % (what, e))


def _readdir_ino(premade_upper):
    with Union(lowers=2) as u:
        _build_tree(u, premade_upper)
        u.mount()
        inos = _check_walk(u.m(), 'fresh mount')
        eq(len(inos), 17, 'number of objects in the merged tree')
        # after copy-ups and new objects
        write(u.m('d/from_l2'), b'changed')
        os.chmod(u.m('d/sub'), 0o700)
        write(u.m('d/new'), b'n')
        os.mkdir(u.m('only_l2/newdir'))
        _check_walk(u.m(), 'after copy-up')


@case
def readdir_ino_equals_stat_ino():
    _readdir_ino(premade_upper=False)


@case(unionmount_only=True,
      why='the kernel reports the upper d_ino of a merged dir made without '
      'overlayfs until it has been looked up')
def readdir_ino_equals_stat_ino_premade_upper():
    _readdir_ino(premade_upper=True)


@case
def root_ino_readdir_dot():
    with Union(lowers=1) as u:
        mkdir(u.l(1, 'd'))
        u.mount()
        st = os.stat(u.m('d'))
        eq(os.stat(u.m('d/.')).st_ino, st.st_ino, 'st_ino of d/.')
        eq(os.stat(u.m('d/..')).st_ino, os.stat(u.m()).st_ino,
           'st_ino of d/..')


@case
def ino_stable_across_copyup():
    with Union(lowers=2) as u:
        mkfile(u.l(1, 'f'), b'one')
        mkfile(u.l(2, 'd/g'), b'two')
        symlink('f', u.l(1, 'ln'))
        u.mount()
        before = {n: os.lstat(u.m(n)).st_ino for n in ('f', 'd', 'd/g', 'ln')}
        write(u.m('f'), b'changed')
        write(u.m('d/g'), b'x', 'ab')
        os.chown(u.m('ln'), 7, 7, follow_symlinks=False)
        after = {n: os.lstat(u.m(n)).st_ino for n in ('f', 'd', 'd/g', 'ln')}
        eq_map(after, before, 'st_ino before and after copy-up')
        eq(os.stat(u.u('f')).st_size, 7, 'upper/f exists')


@case
def ino_stable_across_remount():
    with Union(lowers=2) as u:
        _build_tree(u, premade_upper=False)
        u.mount()
        write(u.m('d/from_l1'), b'copied up')
        write(u.m('brand_new'), b'n')
        os.mkdir(u.m('newdir'))
        os.rename(u.m('d/from_l2'), u.m('renamed'))
        before = _check_walk(u.m(), 'before remount')
        u.remount()
        after = _check_walk(u.m(), 'after remount')
        eq_map(after, before, 'st_ino before and after remount')


@case
def different_lowers_different_inos():
    with Union(lowers=3) as u:
        for i in (1, 2, 3):
            mkfile(u.l(i, 'f%d' % i), b'x')
            mkfile(u.l(i, 'd/g%d' % i), b'x')
        u.mount()
        names = ['f1', 'f2', 'f3', 'd', 'd/g1', 'd/g2', 'd/g3', '']
        inos = [os.lstat(u.m(n)).st_ino for n in names]
        eq(len(set(inos)), len(names), 'distinct st_ino for %s: %s' % (
            names, inos))
        devs = {os.lstat(u.m(n)).st_dev for n in names}
        eq(len(devs), 1, 'one st_dev for every object')


@case
def hard_links_share_ino():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'linked')
        hardlink(u.l(1, 'a'), u.l(1, 'd/b'))
        # index=off: a broken hard link gets a new number (index=on:
        # test_hardlink.py).
        u.mount(opts=['index=off'], kopts='redirect_dir=on,index=off')
        a, b = os.stat(u.m('a')), os.stat(u.m('d/b'))
        eq(a.st_ino, b.st_ino, 'st_ino of a and d/b')
        eq((a.st_nlink, b.st_nlink), (2, 2), 'st_nlink of a and d/b')
        write(u.m('new'), b'n')
        os.link(u.m('new'), u.m('d/new2'))
        eq(os.stat(u.m('new')).st_ino, os.stat(u.m('d/new2')).st_ino,
           'st_ino of new and d/new2')
        os.chmod(u.m('a'), 0o600)
        eq(os.stat(u.m('a')).st_ino != os.stat(u.m('d/b')).st_ino, True,
           'a (copied up) and d/b (still below) have different st_ino')


if __name__ == '__main__':
    main()
