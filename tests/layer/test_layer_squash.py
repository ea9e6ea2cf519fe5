#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""squash: a stack flattened into one directory equals what the union
shows (names, types, modes, owners, sizes, content, symlinks, hard links,
xattrs, times)."""

import base64
import os
import shutil
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from layertest import eq_view, impl, ok, view  # noqa: E402
from umtest import (Union, case, check, eq, hardlink, main, mkdir,  # noqa
                    mkfile, oci_opaque, oci_whiteout, opaque, setx, symlink,
                    whiteout, write, xwhiteout)


def build(u, oci):
    mkdir(u.l(2, 'etc'))
    mkfile(u.l(2, 'etc/a'), b'a', mode=0o640, uid=3, gid=4)
    mkfile(u.l(2, 'etc/b'), b'b')
    hardlink(u.l(2, 'etc/b'), u.l(2, 'etc/b2'))
    mkdir(u.l(2, 'd/sub'))
    mkfile(u.l(2, 'd/sub/x'), b'x')
    mkfile(u.l(2, 'd/y'), b'y')
    os.mknod(u.l(2, 'null'), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    symlink('etc/a', u.l(2, 'sl'))
    setx(u.l(2, 'etc/a'), 'user.k', b'v')
    # a chown drops these: they must be set after the owner
    mkfile(u.l(2, 'ping'), b'elf', mode=0o4755, uid=0, gid=0)
    setx(u.l(2, 'ping'), 'security.capability',
         base64.b64decode('AQAAAgAgAAAAAAAAAAAAAAAAAAA='))
    os.chmod(u.l(2, 'ping'), 0o4755)  # setting the capability dropped it
    # layer 1: markers of every kind
    mkdir(u.l(1, 'etc'))
    whiteout(u.l(1, 'etc/b'))
    mkdir(u.l(1, 'd'))
    if oci:
        oci_whiteout(u.l(1, 'sl'))
        oci_opaque(u.l(1, 'd'))
    else:
        # the kernel reads no OCI markers: its own xattr formats
        mkdir(u.l(1, 'x'))
        opaque(u.l(1, 'x'), value=b'x')
        xwhiteout(u.l(1, 'x/sl'))
        os.rename(u.l(1, 'x/sl'), u.l(1, 'sl'))
        os.rmdir(u.l(1, 'x'))
        opaque(u.l(1, ''), value=b'x')
        opaque(u.l(1, 'd'))
    mkfile(u.l(1, 'd/only'), b'only')
    mkfile(u.l(1, 'big'), b'B' * 100000)


def squash_equals_union(kernel, meta):
    with impl(kernel), Union(lowers=2) as u:
        build(u, not kernel)
        u.mount(opts=['metacopy=on'] if meta and not kernel else (),
                kopts='redirect_dir=on,metacopy=on' if meta else None)
        os.rename(u.m('d'), u.m('d2'))
        write(u.m('d2/new'), b'n')
        os.chmod(u.m('big'), 0o600)
        os.link(u.m('etc/a'), u.m('a-link'))
        shutil.rmtree(u.m('etc'))
        os.mkdir(u.m('etc'))
        write(u.m('etc/fresh'), b'f')
        os.setxattr(u.m('etc'), 'user.dir', b'1')
        want = view(u.m())
        u.umount()
        out = os.path.join(u.root, 'out')
        ok(['squash', ':'.join([u.u(), u.l(1), u.l(2)]), out])
        eq_view(view(out), want, 'squashed tree')
        # nothing but plain objects: no markers left
        for dp, dirs, files in os.walk(out):
            for n in dirs + files:
                p = os.path.join(dp, n)
                for x in os.listxattr(p, follow_symlinks=False):
                    check(not x.startswith(('trusted.overlay',
                                            'trusted.unionmount')),
                          '%s keeps %s' % (p, x))
        # the lower-only stack too
        out2 = os.path.join(u.root, 'out2')
        ok(['squash', u.l(1) + ':' + u.l(2), out2])
        names = sorted(os.listdir(out2))
        eq(names, ['big', 'd', 'etc', 'null', 'ping'], 'lowers squashed')
        p = os.path.join(out, 'ping')
        eq(oct(os.stat(p).st_mode), '0o104755', 'setuid kept')
        check('security.capability' in os.listxattr(p), 'capability kept')
        eq(sorted(os.listdir(os.path.join(out2, 'd'))), ['only'], 'opaque')
        eq(sorted(os.listdir(os.path.join(out2, 'etc'))), ['a', 'b2'],
           'whiteout applied')


@case
def squash_unionmount():
    squash_equals_union(False, False)


@case
def squash_unionmount_metacopy():
    squash_equals_union(False, True)


@case
def squash_kernel():
    squash_equals_union(True, True)


@case
def squash_into_non_empty_refused():
    with Union(lowers=1) as u:
        mkfile(u.u('x'), b'')
        from layertest import refused
        refused(['squash', u.l(1), u.u()], 'non-empty OUT')


if __name__ == '__main__':
    main()
