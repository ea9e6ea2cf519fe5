#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Directory redirects followed in every layer, as kernel overlayfs with
redirect_dir=on: an upper is unmounted and rotated down as the top lower
(the life of a container layer), generation after generation, and the
merged tree and the redirects written must be the kernel's.  Every case
runs against kernel overlayfs too (UM_TEST_IMPL=kernel); the ones marked
unionmount only also mount the kernel on layers unionmount wrote."""

import errno
import os
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import (KERNEL, Fail, Union, case, eq, fails_with, listing,
                    main, mkdir, mkfile, read, run_logged, snapshot, symlink,
                    whiteout, write)

REDIRECTS = ('trusted.overlay.redirect', 'user.overlay.redirect')


def tree(root):
    """{relative path: kind}: 'd', 'f:' + content, 'l:' + target."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for n in sorted(dirs + files):
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode):
                out[rel] = 'd'
            elif stat.S_ISLNK(st.st_mode):
                out[rel] = 'l:' + os.readlink(p)
            else:
                out[rel] = 'f:' + read(p).decode()
    return out


def redirect_of(path):
    for x in REDIRECTS:
        try:
            return os.getxattr(path, x, follow_symlinks=False).decode()
        except OSError as e:
            if e.errno != errno.ENODATA:
                raise
    return None


def rotate(u, n):
    """Unmount; the upper becomes the top lower, a fresh upper above."""
    u.umount()
    old = u.upper
    u.lowers.insert(0, old)
    if u.snap is not None:
        u.snap[old] = snapshot(old)
    u.upper = mkdir(os.path.join(u.root, 'upper%d' % n))
    u.work = mkdir(os.path.join(u.root, 'work%d' % n))


def kernel_tree(u):
    """The tree kernel overlayfs (redirect_dir=on) shows on u's layers."""
    rc, _o, err = run_logged(['mount', '-t', 'overlay', 'overlay', '-o',
                              u.kernel_options('redirect_dir=on,index=off'),
                              u.mnt])
    if rc != 0:
        raise Fail('kernel overlay mount failed: %s' % err.strip())
    try:
        return tree(u.mnt)
    finally:
        run_logged(['umount', u.mnt])


BASE = {
    'd': 'd', 'd/a': 'f:A', 'd/sub': 'd', 'd/sub/b': 'f:B',
    'd/gone': 'f:G', 'd/ln': 'l:a', 'other': 'd', 'other/o': 'f:O',
}


def _base(u):
    mkfile(u.l(1, 'd/a'), b'A')
    mkfile(u.l(1, 'd/sub/b'), b'B')
    mkfile(u.l(1, 'd/gone'), b'G')
    symlink('a', u.l(1, 'd/ln'))
    mkfile(u.l(1, 'other/o'), b'O')


def _moved(want, old, new):
    out = {}
    for k, v in want.items():
        if k == old or k.startswith(old + '/'):
            k = new + k[len(old):]
        out[k] = v
    return out


def _generations(u, check_kernel=False):
    """Three generations of renames, each remounted with the previous
    upper rotated down; returns nothing, fails on the first difference."""
    _base(u)
    u.mount()
    eq(tree(u.m()), BASE, 'tree at start')
    # gen 1: a rename in place, a change inside the moved directory
    os.rename(u.m('d'), u.m('e'))
    write(u.m('e/new1'), b'N1')
    os.unlink(u.m('e/gone'))
    want = _moved(BASE, 'd', 'e')
    want['e/new1'] = 'f:N1'
    del want['e/gone']
    eq(tree(u.m()), want, 'tree after gen 1')
    eq(redirect_of(u.u('e')), 'd', 'redirect written for d -> e')
    rotate(u, 2)
    u.mount()
    eq(tree(u.m()), want, 'tree of gen 1 seen as a lower')
    if check_kernel:
        u.umount()
        eq(kernel_tree(u), want, 'kernel tree of gen 1')
        u.mount()
    # gen 2: in place again, then into another directory
    os.rename(u.m('e'), u.m('f'))
    os.rename(u.m('f/sub'), u.m('f/sub2'))
    mkdir(u.m('g'))
    os.rename(u.m('f'), u.m('g/h'))
    write(u.m('g/h/new2'), b'N2')
    want = _moved(want, 'e', 'g/h')
    want = _moved(want, 'g/h/sub', 'g/h/sub2')
    want.update({'g': 'd', 'g/h/new2': 'f:N2'})
    eq(tree(u.m()), want, 'tree after gen 2')
    eq((redirect_of(u.u('g/h')), redirect_of(u.u('g/h/sub2'))),
       ('/e', 'sub'), 'redirects written by gen 2')
    rotate(u, 3)
    u.mount()
    eq(tree(u.m()), want, 'tree of gen 2 seen as a lower')
    if check_kernel:
        u.umount()
        eq(kernel_tree(u), want, 'kernel tree of gen 2')
        u.mount()
    # gen 3: back to the original name, at the root
    os.rename(u.m('g/h'), u.m('d'))
    os.rename(u.m('d/sub2'), u.m('d/sub'))
    os.rename(u.m('other'), u.m('g/other'))
    want = _moved(want, 'g/h', 'd')
    want = _moved(want, 'd/sub2', 'd/sub')
    want = _moved(want, 'other', 'g/other')
    eq(tree(u.m()), want, 'tree after gen 3')
    eq((redirect_of(u.u('d')), redirect_of(u.u('d/sub')),
        redirect_of(u.u('g/other'))), ('/g/h', 'sub2', '/other'),
       'redirects written by gen 3')
    rotate(u, 4)
    u.mount()
    eq(tree(u.m()), want, 'tree of gen 3 seen as a lower')
    eq(read(u.m('d/sub/b')), b'B', 'd/sub/b through three redirects')
    if check_kernel:
        u.umount()
        eq(kernel_tree(u), want, 'kernel tree of gen 3')
        u.mount()
    return want


@case
def rotation_three_generations():
    with Union(lowers=1) as u:
        _generations(u)


@case(unionmount_only=True, why='kernel overlayfs reads what unionmount '
      'wrote')
def rotation_read_by_the_kernel():
    with Union(lowers=1) as u:
        _generations(u, check_kernel=True)


@case(unionmount_only=True, why='unionmount reads what the kernel wrote')
def rotation_of_kernel_layers():
    """The kernel renames, unionmount reads the rotated layers."""
    with Union(lowers=1) as u:
        _base(u)
        rc, _o, err = run_logged(['mount', '-t', 'overlay', 'overlay', '-o',
                                  u.kernel_options('redirect_dir=on,'
                                                   'index=off'), u.mnt])
        eq((rc, err.strip()), (0, ''), 'kernel overlay mount')
        try:
            os.rename(u.m('d'), u.m('e'))
            mkdir(u.m('x'))
            os.rename(u.m('other'), u.m('x/y'))
            want = tree(u.m())
        finally:
            run_logged(['umount', u.mnt])
        eq((redirect_of(u.u('e')), redirect_of(u.u('x/y'))), ('d', '/other'),
           'redirects the kernel wrote')
        rotate(u, 2)
        u.mount()
        eq(tree(u.m()), want, 'tree of the kernel layer as a lower')


@case
def redirect_chain_in_lowers():
    """Redirects met in three lower layers, absolute and relative, and one
    on a directory on the way of an absolute path."""
    with Union(lowers=4) as u:
        mkfile(u.l(4, 'a/x/f'), b'F4')
        mkfile(u.l(3, 'b/g'), b'G3')
        os.setxattr(u.l(3, 'b'), REDIRECTS[0], b'/a/x')
        mkfile(u.l(2, 'p/c/h'), b'H2')
        os.setxattr(u.l(2, 'p/c'), REDIRECTS[0], b'/b')
        mkdir(u.l(1, 'q'))
        os.setxattr(u.l(1, 'q'), REDIRECTS[0], b'p')
        mkfile(u.l(1, 'q/c/i'), b'I1')
        u.mount()
        eq(listing(u.m('q/c')), ['f', 'g', 'h', 'i'], 'listing of q/c')
        eq(read(u.m('q/c/f')), b'F4', 'q/c/f from the bottom layer')
        eq(listing(u.m()), ['a', 'b', 'p', 'q'], 'root listing')


@case
def redirect_on_the_way_of_an_absolute_one():
    """A redirect on a directory an absolute path walks through rewrites
    the path for the layers below, absolute or relative."""
    with Union(lowers=4) as u:
        mkfile(u.l(1, 'z/own'), b'1')
        os.setxattr(u.l(1, 'z'), REDIRECTS[0], b'/m/c')
        mkfile(u.l(2, 'm/c/mine'), b'2')
        os.setxattr(u.l(2, 'm'), REDIRECTS[0], b'/old')
        mkfile(u.l(3, 'old/c/deep'), b'3')
        os.setxattr(u.l(3, 'old'), REDIRECTS[0], b'older')
        mkfile(u.l(4, 'older/c/deepest'), b'4')
        u.mount()
        eq(listing(u.m('z')), ['deep', 'deepest', 'mine', 'own'],
           'listing of z')
        eq(read(u.m('z/deepest')), b'4', 'z/deepest')


@case
def redirect_to_nowhere_and_stops():
    with Union(lowers=3) as u:
        mkfile(u.l(3, 'src/x/f'), b'F')
        mkfile(u.l(3, 'moved/f'), b'O')
        # a redirect to a missing path: just the directory itself
        mkfile(u.l(1, 'lost/own'), b'L')
        os.setxattr(u.l(1, 'lost'), REDIRECTS[0], b'/no/such')
        # a whiteout on the way of an absolute redirect hides it; one in
        # the redirect's own layer does not (the walk starts below)
        mkdir(u.l(1, 'hid'))
        os.setxattr(u.l(1, 'hid'), REDIRECTS[0], b'/src/x')
        whiteout(u.l(2, 'src'))
        mkdir(u.l(1, 'seen'))
        os.setxattr(u.l(1, 'seen'), REDIRECTS[0], b'/moved')
        whiteout(u.l(1, 'moved'))
        # a redirect in the upper to a name a lower file has
        mkdir(u.u('ren'))
        os.setxattr(u.u('ren'), REDIRECTS[0], b'file')
        mkfile(u.l(1, 'file'), b'x')
        u.mount()
        eq(listing(u.m('lost')), ['own'], 'listing of lost')
        eq(listing(u.m('hid')), [], 'listing of hid')
        eq(listing(u.m('seen')), ['f'], 'listing of seen')
        eq(listing(u.m('ren')), [], 'listing of ren')
        eq(stat.S_ISDIR(os.stat(u.m('ren')).st_mode), True, 'ren is a dir')


def _bad_redirect(value):
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'd/f'), b'F')
        mkdir(u.u('e'))
        os.setxattr(u.u('e'), REDIRECTS[0], value)
        u.mount()
        return errno_of_stat(u.m('e'))


def errno_of_stat(p):
    try:
        os.stat(p)
        return 0
    except OSError as e:
        return e.errno


@case
def invalid_redirects_einval():
    for v in (b'/', b'a/b', b'/d/', b'//d'):
        eq(_bad_redirect(v), errno.EINVAL, 'stat of e with redirect %r' % v)


# --- redirect_dir= modes ----------------------------------------------------

def _modes_layers(u):
    mkfile(u.l(1, 'd/a'), b'A')
    mkfile(u.l(1, 'file'), b'F')
    mkdir(u.u('e'))
    os.setxattr(u.u('e'), REDIRECTS[0], b'd')
    mkfile(u.u('e/own'), b'U')
    whiteout(u.u('d'))
    mkdir(u.u('nowhere'))
    os.setxattr(u.u('nowhere'), REDIRECTS[0], b'missing')


def _mode(mode):
    return dict(opts=['redirect_dir=' + mode],
                kopts='redirect_dir=%s,index=off' % mode)


def _no_create(mode, follows):
    with Union(lowers=1) as u:
        _modes_layers(u)
        mkfile(u.l(1, 'low/x'), b'X')
        u.mount(**_mode(mode))
        if follows:
            eq(listing(u.m('e')), ['a', 'own'], 'listing of redirected e')
        else:
            fails_with(errno.EPERM, 'stat of redirected e', os.stat,
                       u.m('e'))
        if follows:
            eq(listing(u.m('nowhere')), [], 'redirect to nowhere')
        else:
            # refused before looking: the kernel cannot know it leads
            # nowhere without following it
            fails_with(errno.EPERM, 'stat of redirected nowhere', os.stat,
                       u.m('nowhere'))
        fails_with(errno.EXDEV, 'rename of a lower dir', os.rename,
                   u.m('low'), u.m('low2'))
        mkdir(u.m('up'))
        write(u.m('up/f'), b'u')
        os.rename(u.m('up'), u.m('up2'))
        os.rename(u.m('file'), u.m('file2'))
        eq(listing(u.m('up2')), ['f'], 'renamed upper dir')
        eq((redirect_of(u.u('up2')), os.path.exists(u.u('low2'))),
           (None, False), 'no redirect written')
        # a directory that is only in the upper and moved onto lower
        # content stays a plain rename
        eq(read(u.m('file2')), b'F', 'renamed file')


@case
def redirect_dir_off():
    # off: never written; followed, as the kernel's default
    # redirect_always_follow=Y (see /sys/module/overlay/parameters)
    _no_create('off', follows=True)


@case
def redirect_dir_follow():
    _no_create('follow', follows=True)


@case
def redirect_dir_nofollow():
    _no_create('nofollow', follows=False)


@case
def redirect_dir_on():
    with Union(lowers=1) as u:
        _modes_layers(u)
        mkfile(u.l(1, 'low/x'), b'X')
        u.mount(**_mode('on'))
        eq(listing(u.m('e')), ['a', 'own'], 'listing of redirected e')
        os.rename(u.m('low'), u.m('low2'))
        eq((listing(u.m('low2')), redirect_of(u.u('low2'))), (['x'], 'low'),
           'renamed lower dir and its redirect')


if __name__ == '__main__':
    main()
