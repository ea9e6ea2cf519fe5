#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Lookup through the layers and reading every whiteout format."""

import ctypes
import errno
import os
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import (Union, case, check, eq, eq_mode, fails_with, hardlink,
                    libc, listing, main, mkdir, mkfile, oci_opaque,
                    oci_whiteout, opaque, read, symlink, whiteout, write,
                    xwhiteout)


@case
def upper_over_lower():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'lower data', mode=0o600)
        mkfile(u.u('f'), b'upper', mode=0o640)
        u.mount()
        eq(read(u.m('f')), b'upper', 'content of f')
        st = os.stat(u.m('f'))
        eq(st.st_size, 5, 'st_size of f')
        eq_mode(st.st_mode, stat.S_IFREG | 0o640, 'st_mode of f')
        eq(listing(u.m()), ['f'], 'root listing')


@case
def lower1_over_lower2():
    with Union(lowers=2) as u:
        mkfile(u.l(1, 'f'), b'one')
        mkfile(u.l(2, 'f'), b'two two')
        mkfile(u.l(2, 'g'), b'only in two')
        u.mount()
        eq(read(u.m('f')), b'one', 'content of f')
        eq(os.stat(u.m('f')).st_size, 3, 'st_size of f')
        eq(read(u.m('g')), b'only in two', 'content of g')
        eq(listing(u.m()), ['f', 'g'], 'root listing')


@case
def dir_merge_three_layers():
    with Union(lowers=2) as u:
        mkfile(u.u('d/u'), b'U')
        mkfile(u.u('d/common'), b'from upper')
        mkfile(u.l(1, 'd/a'), b'A')
        mkfile(u.l(1, 'd/common'), b'from lower1')
        mkfile(u.l(1, 'd/sub/x'), b'X1')
        mkfile(u.l(2, 'd/b'), b'B')
        mkfile(u.l(2, 'd/common'), b'from lower2')
        mkfile(u.l(2, 'd/sub/y'), b'Y2')
        mkdir(u.l(2, 'd/c'))
        mkfile(u.l(2, 'top2'), b'T')
        u.mount()
        eq(listing(u.m()), ['d', 'top2'], 'root listing')
        eq(listing(u.m('d')), ['a', 'b', 'c', 'common', 'sub', 'u'],
           'listing of d')
        eq(listing(u.m('d/sub')), ['x', 'y'], 'listing of d/sub')
        eq(listing(u.m('d/c')), [], 'listing of d/c')
        eq(read(u.m('d/common')), b'from upper', 'content of d/common')
        eq(read(u.m('d/a')), b'A', 'content of d/a')
        eq(read(u.m('d/b')), b'B', 'content of d/b')
        eq(read(u.m('d/sub/y')), b'Y2', 'content of d/sub/y')


@case
def merged_dir_nlink_is_1():
    with Union(lowers=2) as u:
        mkdir(u.l(1, 'd/s1'))
        mkdir(u.l(2, 'd/s2'))
        mkdir(u.l(2, 'd/s3'))
        u.mount()
        eq(os.stat(u.m('d')).st_nlink, 1, 'st_nlink of merged dir d')


@case
def nondir_hides_dir_below():
    with Union(lowers=2) as u:
        mkfile(u.l(1, 'x'), b'file wins')
        mkfile(u.l(2, 'x/child'), b'hidden')
        u.mount()
        st = os.lstat(u.m('x'))
        eq(stat.S_ISREG(st.st_mode), True, 'x is a regular file')
        eq(read(u.m('x')), b'file wins', 'content of x')
        fails_with(errno.ENOTDIR, 'listdir x', os.listdir, u.m('x'))
        fails_with(errno.ENOTDIR, 'stat x/child', os.stat, u.m('x/child'))


@case
def symlink_hides_dir_below():
    with Union(lowers=2) as u:
        symlink('nowhere', u.l(1, 'x'))
        mkfile(u.l(2, 'x/child'), b'hidden')
        u.mount()
        eq(stat.S_ISLNK(os.lstat(u.m('x')).st_mode), True, 'x is a symlink')
        eq(os.readlink(u.m('x')), 'nowhere', 'readlink x')
        eq(listing(u.m()), ['x'], 'root listing')


@case
def dir_hides_file_below():
    with Union(lowers=2) as u:
        mkfile(u.l(1, 'y/k'), b'K')
        mkfile(u.l(2, 'y'), b'a file below')
        u.mount()
        eq(stat.S_ISDIR(os.stat(u.m('y')).st_mode), True, 'y is a dir')
        eq(listing(u.m('y')), ['k'], 'listing of y')
        eq(read(u.m('y/k')), b'K', 'content of y/k')


@case
def hard_links_in_lower():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'shared')
        hardlink(u.l(1, 'a'), u.l(1, 'sub/b'))
        u.mount()
        a, b = os.stat(u.m('a')), os.stat(u.m('sub/b'))
        eq(a.st_nlink, 2, 'st_nlink of a')
        eq(b.st_nlink, 2, 'st_nlink of sub/b')
        eq(a.st_ino, b.st_ino, 'st_ino of a and sub/b')
        eq(read(u.m('sub/b')), b'shared', 'content of sub/b')


def _whiteout_case(make, nlowers=2, **mount_kw):
    """Lower 2 has a, b and dir d/{x}; lower 1 whites out a and d with
    make(path).  Only b may be seen."""
    with Union(lowers=nlowers) as u:
        mkfile(u.l(2, 'a'), b'A')
        mkfile(u.l(2, 'b'), b'B')
        mkfile(u.l(2, 'd/x'), b'X')
        mkfile(u.l(2, 'sub/a'), b'subA')
        mkfile(u.l(2, 'sub/keep'), b'K')
        make(u.l(1, 'a'))
        make(u.l(1, 'd'))
        make(u.l(1, 'sub/a'))
        u.mount(**mount_kw)
        eq(listing(u.m()), ['b', 'sub'], 'root listing')
        eq(listing(u.m('sub')), ['keep'], 'listing of sub')
        for name in ('a', 'd', 'd/x', 'sub/a'):
            fails_with(errno.ENOENT, 'lstat ' + name, os.lstat, u.m(name))
        fails_with(errno.ENOENT, 'open a', os.open, u.m('a'), os.O_RDONLY)
        eq(read(u.m('b')), b'B', 'content of b')
        names = [e.name for e in os.scandir(u.m())]
        eq(sorted(names), ['b', 'sub'], 'scandir names')


@case
def whiteout_chardev():
    _whiteout_case(whiteout)


@case(unionmount_only=True, why='the kernel has no OCI whiteouts')
def whiteout_oci():
    _whiteout_case(oci_whiteout)


@case(unionmount_only=True, why='the kernel has no OCI whiteouts')
def whiteout_oci_in_upper():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A')
        mkfile(u.l(1, 'b'), b'B')
        oci_whiteout(u.u('a'))
        u.mount()
        eq(listing(u.m()), ['b'], 'root listing')
        fails_with(errno.ENOENT, 'stat a', os.stat, u.m('a'))


@case
def whiteout_xattr_trusted():
    _whiteout_case(xwhiteout)


@case
def whiteout_xattr_user():
    # The kernel reads user.overlay.* only with userxattr (and then no
    # redirect_dir).
    _whiteout_case(lambda p: xwhiteout(p, ns='user'), kopts='userxattr')


@case
def whiteout_in_middle_layer():
    with Union(lowers=3) as u:
        mkfile(u.l(3, 'a'), b'A3')
        whiteout(u.l(2, 'a'))
        mkfile(u.l(3, 'b'), b'B3')
        mkfile(u.l(1, 'b'), b'B1')
        u.mount()
        eq(listing(u.m()), ['b'], 'root listing')
        fails_with(errno.ENOENT, 'stat a', os.stat, u.m('a'))
        eq(read(u.m('b')), b'B1', 'content of b')


def _opaque_case(make, **mount_kw):
    """Lower 2 has d/{x,y}; lower 1 has d/z and marks d opaque."""
    with Union(lowers=2) as u:
        mkfile(u.l(2, 'd/x'), b'X')
        mkfile(u.l(2, 'd/y'), b'Y')
        mkfile(u.l(2, 'e/keep'), b'K')
        mkfile(u.l(1, 'd/z'), b'Z')
        mkfile(u.l(1, 'e/new'), b'N')
        make(u.l(1, 'd'))
        u.mount(**mount_kw)
        eq(listing(u.m('d')), ['z'], 'listing of opaque d')
        eq(listing(u.m('e')), ['keep', 'new'], 'listing of merged e')
        fails_with(errno.ENOENT, 'stat d/x', os.stat, u.m('d/x'))
        eq(read(u.m('d/z')), b'Z', 'content of d/z')
        hidden = [n for n in os.listxattr(u.m('d')) if 'overlay' in n]
        eq(hidden, [], 'overlay xattrs listed on d')


@case
def opaque_trusted_xattr():
    _opaque_case(opaque)


@case
def opaque_user_xattr():
    _opaque_case(lambda p: opaque(p, ns='user'), kopts='userxattr')


@case(unionmount_only=True, why='the kernel has no OCI whiteouts')
def opaque_oci():
    _opaque_case(oci_opaque)


@case
def opaque_x_is_not_opaque():
    # "x" only announces xattr whiteouts; the directory still merges.
    with Union(lowers=2) as u:
        mkfile(u.l(2, 'd/x'), b'X')
        mkfile(u.l(1, 'd/z'), b'Z')
        opaque(u.l(1, 'd'), value=b'x')
        u.mount()
        eq(listing(u.m('d')), ['x', 'z'], 'listing of d')


@case
def whiteout_markers_never_listed():
    # Every marker kind the kernel also reads, in one directory; then the
    # OCI ones are checked separately (unionmount only).
    with Union(lowers=2) as u:
        for n in ('c', 'xw', 'keep'):
            mkfile(u.l(2, 'd/' + n), n.encode())
        whiteout(u.l(1, 'd/c'))
        xwhiteout(u.l(1, 'd/xw'))
        mkfile(u.l(1, 'd/own'), b'O')
        u.mount()
        eq(listing(u.m('d')), ['keep', 'own'], 'listing of d')
        for e in os.scandir(u.m('d')):
            st = os.lstat(e.path)
            eq(stat.S_ISREG(st.st_mode), True, 'type of d/' + e.name)


@case(unionmount_only=True, why='the kernel has no OCI whiteouts')
def oci_markers_never_listed():
    with Union(lowers=2) as u:
        mkfile(u.l(2, 'd/gone'), b'G')
        mkfile(u.l(2, 'd/keep'), b'K')
        oci_whiteout(u.l(1, 'd/gone'))
        oci_whiteout(u.l(1, 'd/never_existed'))
        oci_opaque(u.l(1, 'o'))
        mkfile(u.l(1, 'o/in'), b'I')
        mkfile(u.l(2, 'o/below'), b'B')
        u.mount()
        eq(listing(u.m('d')), ['keep'], 'listing of d')
        eq(listing(u.m('o')), ['in'], 'listing of o')
        eq(listing(u.m()), ['d', 'o'], 'root listing')
        fails_with(errno.ENOENT, 'stat d/.wh.gone', os.lstat,
                   u.m('d/.wh.gone'))
        fails_with(errno.ENOENT, 'stat o/.wh..wh..opq', os.lstat,
                   u.m('o/.wh..wh..opq'))


def _libc_dir_reader():
    """opendir/readdir/telldir/seekdir/closedir of the C library (umtest's
    handle), which Python does not offer."""
    class Dirent(ctypes.Structure):
        _fields_ = [('d_ino', ctypes.c_uint64), ('d_off', ctypes.c_int64),
                    ('d_reclen', ctypes.c_ushort), ('d_type', ctypes.c_ubyte),
                    ('d_name', ctypes.c_char * 256)]
    libc.opendir.restype = ctypes.c_void_p
    libc.opendir.argtypes = [ctypes.c_char_p]
    libc.readdir.restype = ctypes.POINTER(Dirent)
    libc.readdir.argtypes = [ctypes.c_void_p]
    libc.telldir.restype = ctypes.c_long
    libc.telldir.argtypes = [ctypes.c_void_p]
    libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]
    libc.closedir.argtypes = [ctypes.c_void_p]
    return libc


def _read_names(libc, dp, count=None):
    out = []
    while count is None or len(out) < count:
        ent = libc.readdir(dp)
        if not ent:
            break
        name = ent.contents.d_name.decode()
        if name not in ('.', '..'):
            out.append(name)
    return out


@case(unionmount_only=True, why='kernel overlayfs lists a merged directory '
      'from a snapshot taken at open')
def seekdir_to_saved_offset_after_changes():
    """A saved directory offset stays the same place while the directory
    changes: seekdir to it goes on with the names that followed it, each
    once, whatever was created and removed meanwhile (those may show or
    not, as POSIX allows)."""
    with Union(lowers=2) as u:
        names = ['n%04d' % i for i in range(600)]
        for i, n in enumerate(names):
            mkfile(u.l(1 + i % 2, 'd/' + n), b'')
        u.mount()
        write(u.m('d/up'), b'u')
        libc = _libc_dir_reader()
        dp = libc.opendir(u.m('d').encode())
        check(dp, 'opendir')
        try:
            head = _read_names(libc, dp, 250)
            pos = libc.telldir(dp)
            tail = _read_names(libc, dp)
            eq(sorted(head + tail), sorted(names + ['up']), 'first pass')
            gone = tail[10:20] + head[:5]
            for n in gone:
                os.unlink(u.m('d/' + n))
            for i in range(50):
                write(u.m('d/new%d' % i), b'')
            libc.seekdir(dp, pos)
            again = _read_names(libc, dp)
        finally:
            libc.closedir(dp)
        # Created or removed since opendir: may show or not (POSIX).
        moved = set(gone) | {'new%d' % i for i in range(50)}
        eq([n for n in again if n not in moved],
           [n for n in tail if n not in moved],
           'names after the saved offset, in order, each once')
        eq(len(again), len(set(again)), 'no name twice')
        check(not set(again) & set(head), 'names before the saved offset '
              'read again: %s' % sorted(set(again) & set(head)))


@case
def lower_only_listing_then_changes():
    """A directory only in a lower layer lists the same on every open (the
    kernel may keep that listing); its first change shows at once, and a
    reader that opened it before goes on without repeats or losses."""
    with Union(lowers=1) as u:
        names = ['f%04d' % i for i in range(3000)]
        for n in names:
            mkfile(u.l(1, 'd/' + n), b'')
        mkfile(u.l(1, 'd/sub/x'), b'x')
        u.mount()
        d = u.m('d')
        eq(sorted(os.listdir(d)), names + ['sub'], 'first listing of d')
        eq(sorted(os.listdir(d)), names + ['sub'], 'second listing of d')
        eq(sorted(os.listdir(u.m('d/sub'))), ['x'], 'listing of d/sub')
        it = os.scandir(d)
        first = [next(it).name for _ in range(100)]
        os.unlink(u.m('d/f0001'))                       # copies d up
        write(u.m('d/new'), b'n')
        rest = [e.name for e in it]
        it.close()
        seen = first + rest
        eq(len(seen), len(set(seen)), 'no name twice for the early reader')
        missing = sorted(set(names[2:] + ['sub']) - set(seen))
        eq(missing, [], 'untouched names the early reader lost')
        want = sorted([n for n in names if n != 'f0001'] + ['new', 'sub'])
        eq(sorted(os.listdir(d)), want, 'listing of d after the changes')
        os.rename(u.m('d/f0002'), u.m('d/sub/moved'))
        eq(sorted(os.listdir(u.m('d/sub'))), ['moved', 'x'],
           'listing of d/sub after a rename into it')
        want.remove('f0002')
        eq(sorted(os.listdir(d)), want, 'listing of d after the rename')
        u.remount()
        eq(sorted(os.listdir(d)), want, 'listing of d after remount')


if __name__ == '__main__':
    main()
