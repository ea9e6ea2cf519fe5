#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Extended attributes through the mount; private xattrs stay hidden;
POSIX ACLs."""

import ctypes
import errno
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import (Skip, Union, case, eq, fails_with, libc, main, mkdir,
                    mkfile, opaque, setx, symlink, write)

# What getxattr of a hidden private name returns: unionmount hides it
# (ENODATA); kernel overlayfs refuses its own namespace (EOPNOTSUPP).
HIDDEN_ERRNO = (errno.ENODATA, errno.EOPNOTSUPP)


@case
def user_xattr_set_get_list_remove():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'lowerfile'), b'L')
        mkdir(u.l(1, 'lowerdir'))
        u.mount()
        write(u.m('newfile'), b'N')
        for name in ('lowerfile', 'lowerdir', 'newfile'):
            p = u.m(name)
            os.setxattr(p, 'user.one', b'value\0with nul')
            os.setxattr(p, 'user.two', b'x' * 3000)
            eq(os.getxattr(p, 'user.one'), b'value\0with nul',
               'user.one of ' + name)
            eq(os.getxattr(p, 'user.two'), b'x' * 3000, 'user.two of ' + name)
            eq(sorted(os.listxattr(p)), ['user.one', 'user.two'],
               'listxattr ' + name)
            fails_with(errno.EEXIST, 'XATTR_CREATE existing ' + name,
                       os.setxattr, p, 'user.one', b'v', os.XATTR_CREATE)
            fails_with(errno.ENODATA, 'XATTR_REPLACE missing ' + name,
                       os.setxattr, p, 'user.three', b'v', os.XATTR_REPLACE)
            os.setxattr(p, 'user.one', b'replaced', os.XATTR_REPLACE)
            eq(os.getxattr(p, 'user.one'), b'replaced',
               'user.one of %s after replace' % name)
            os.removexattr(p, 'user.two')
            fails_with(errno.ENODATA, 'getxattr removed user.two of ' + name,
                       os.getxattr, p, 'user.two')
            fails_with(errno.ENODATA, 'removexattr missing of ' + name,
                       os.removexattr, p, 'user.two')
            eq(os.listxattr(p), ['user.one'], 'listxattr %s after remove' %
               name)
        eq(os.getxattr(u.u('lowerfile'), 'user.one'), b'replaced',
           'user.one of upper/lowerfile')
        eq(os.listxattr(u.l(1, 'lowerfile')), [], 'listxattr lower/lowerfile')
        u.remount()
        eq(os.getxattr(u.m('lowerdir'), 'user.one'), b'replaced',
           'user.one of lowerdir after remount')


@case
def xattr_size_query_and_erange():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'F')
        setx(u.l(1, 'f'), 'user.big', b'0123456789')
        u.mount()
        fd = os.open(u.m('f'), os.O_RDONLY)
        try:
            eq(os.getxattr(fd, 'user.big'), b'0123456789', 'fgetxattr')
        finally:
            os.close(fd)
        # Python sizes the buffer itself; ERANGE is checked through libc.
        libc.getxattr.argtypes = [ctypes.c_char_p, ctypes.c_char_p,
                                  ctypes.c_void_p, ctypes.c_size_t]
        libc.getxattr.restype = ctypes.c_ssize_t
        buf = ctypes.create_string_buffer(4)
        r = libc.getxattr(os.fsencode(u.m('f')), b'user.big', buf, 4)
        eq((r, ctypes.get_errno() if r < 0 else 0), (-1, errno.ERANGE),
           'getxattr into 4-byte buffer')
        r = libc.getxattr(os.fsencode(u.m('f')), b'user.big', None, 0)
        eq(r, 10, 'getxattr size query')


@case
def trusted_xattr_through_mount():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'F')
        setx(u.l(1, 'f'), 'trusted.mine', b'T')
        u.mount()
        eq(os.getxattr(u.m('f'), 'trusted.mine'), b'T', 'trusted.mine of f')
        os.setxattr(u.m('f'), 'trusted.other', b'O')
        eq(sorted(os.listxattr(u.m('f'))), ['trusted.mine', 'trusted.other'],
           'listxattr f')


def _private_case(names):
    with Union(lowers=2) as u:
        mkfile(u.l(1, 'f'), b'F')
        mkfile(u.l(2, 'd/below'), b'B')
        mkfile(u.l(1, 'd/above'), b'A')
        symlink('f', u.l(1, 'ln'))
        for p in (u.l(1, 'f'), u.l(1, 'd'), u.l(1, 'ln')):
            for n in names:
                if p.endswith('/ln') and n.startswith('user.'):
                    continue    # no user.* xattrs on symlinks
                setx(p, n, b'private')
            setx(p, 'trusted.visible', b'v')
        mkdir(u.u('d'))
        for n in names:
            setx(u.u('d'), n, b'private')
        setx(u.u('d'), 'trusted.visible', b'v')
        u.mount()

        def check_hidden(when):
            for rel in ('f', 'd', 'ln', ''):
                p = u.m(rel)
                got = sorted(os.listxattr(p, follow_symlinks=False))
                want = [] if rel == '' else ['trusted.visible']
                eq(got, want, 'listxattr %s (%s)' % (rel or '/', when))
                for n in names:
                    fails_with(HIDDEN_ERRNO, 'getxattr %s of %s (%s)' % (
                        n, rel or '/', when), os.getxattr, p, n,
                        follow_symlinks=False)
        check_hidden('before copy-up')
        os.chmod(u.m('f'), 0o600)
        os.chown(u.m('ln'), 5, 5, follow_symlinks=False)
        write(u.m('d/above'), b'changed')
        check_hidden('after copy-up')
        eq(sorted(os.listdir(u.m('d'))), ['above', 'below'], 'listing of d')


@case
def private_trusted_overlay_hidden():
    _private_case(['trusted.overlay.foo', 'trusted.overlay.origin'])


@case(unionmount_only=True,
      why='the kernel shows user.overlay.* without userxattr and knows no '
      'unionmount.* names')
def private_unionmount_and_user_overlay_hidden():
    # Not overlay.redirect: on the upper dir it would (rightly) be followed.
    _private_case(['user.overlay.foo', 'trusted.unionmount.origin',
                   'trusted.unionmount.x', 'user.unionmount.y',
                   'trusted.overlay.nlink'])


@case
def opaque_marker_hidden_on_merged_dir():
    with Union(lowers=2) as u:
        opaque(u.l(1, 'd'))
        mkfile(u.l(1, 'd/a'), b'A')
        mkfile(u.l(2, 'd/b'), b'B')
        u.mount()
        eq(os.listxattr(u.m('d')), [], 'listxattr d')
        fails_with(HIDDEN_ERRNO, 'getxattr trusted.overlay.opaque of d',
                   os.getxattr, u.m('d'), 'trusted.overlay.opaque')
        os.unlink(u.m('d/a'))
        os.rmdir(u.m('d'))
        os.mkdir(u.m('d'))
        eq(os.listxattr(u.m('d')), [], 'listxattr of new opaque d')


@case
def posix_acl():
    setfacl, getfacl = shutil.which('setfacl'), shutil.which('getfacl')
    if not setfacl or not getfacl:
        raise Skip('setfacl/getfacl missing (apt-get install -y acl)')
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'F', mode=0o640)
        mkdir(u.l(1, 'd'))
        u.mount()
        for rel in ('f', 'd'):
            p = u.m(rel)
            subprocess.run([setfacl, '-m', 'u:1234:r', p], check=True)
            out = subprocess.run([getfacl, '-c', '-n', p], check=True,
                                 capture_output=True, text=True).stdout
            lines = [ln for ln in out.splitlines() if ln]
            if rel == 'f':
                want = ['user::rw-', 'user:1234:r--', 'group::r--',
                        'mask::r--', 'other::---']
            else:
                want = ['user::rwx', 'user:1234:r--', 'group::r-x',
                        'mask::r-x', 'other::r-x']
            eq(lines, want, 'getfacl ' + rel)
            check_acl = os.getxattr(u.u(rel), 'system.posix_acl_access')
            eq(len(check_acl) > 0, True, 'upper/%s has an access ACL' % rel)
        subprocess.run([setfacl, '-d', '-m', 'u:99:rwx', u.m('d')],
                       check=True)
        write(u.m('d/inherits'), b'x')
        out = subprocess.run([getfacl, '-c', '-n', u.m('d/inherits')],
                             check=True, capture_output=True,
                             text=True).stdout
        eq('user:99:rwx' in out, True, 'default ACL inherited: %r' % out)
        subprocess.run([setfacl, '-b', u.m('f')], check=True)
        fails_with(errno.ENODATA, 'ACL removed from f', os.getxattr,
                   u.m('f'), 'system.posix_acl_access')


@case
def hardlinked_symlink_after_first_name_removed():
    # The daemon records one name per inode; after a remount it is the one
    # looked up first.  Removing that name must not cut the others off.
    with Union(lowers=1) as u:
        symlink('../x', u.l(1, 'e/b'))
        mkdir(u.l(1, 'd'))
        u.mount()
        os.link(u.m('e/b'), u.m('d/tmp'), follow_symlinks=False)
        u.remount()
        os.lstat(u.m('d/tmp'))
        os.lstat(u.m('e/b'))
        os.unlink(u.m('d/tmp'))
        os.setxattr(u.m('e/b'), 'trusted.t', b'v', follow_symlinks=False)
        eq(os.getxattr(u.m('e/b'), 'trusted.t', follow_symlinks=False), b'v',
           'getxattr of e/b')
        eq(os.listxattr(u.m('e/b'), follow_symlinks=False), ['trusted.t'],
           'listxattr of e/b')
        os.utime(u.m('e/b'), ns=(10**9, 2 * 10**9), follow_symlinks=False)
        eq(os.lstat(u.m('e/b')).st_mtime_ns, 2 * 10**9, 'mtime of e/b')
        eq(os.readlink(u.m('e/b')), '../x', 'target of e/b')


if __name__ == '__main__':
    main()
