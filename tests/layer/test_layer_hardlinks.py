#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Hard links: within an upper they are tar hard links; a lower file with
several names changed through one of them is, through unionmount's
hard-link index, changed under every name, and export, diff and commit
carry every name.  The index cases skip when the tree has no index
(include/index.h)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from layertest import (eq_view, export, impl, ok, sha, tar_members,  # noqa
                       view)
from umtest import (REPO, Skip, Union, case, check, eq, hardlink, main,  # noqa
                    mkdir, mkfile, read, write)

HAVE_INDEX = os.path.exists(os.path.join(REPO, 'include', 'index.h'))


@case
def upper_hard_links_are_tar_links():
    with Union(lowers=1) as u:
        mkfile(u.u('a'), b'x' * 1000)
        mkdir(u.u('sub'))
        hardlink(u.u('a'), u.u('sub/b'))
        hardlink(u.u('a'), u.u('c'))
        data, _ = export(u.u(), [u.l(1)])
        got = {m[0]: (m[1], m[6], m[7]) for m in tar_members(data)}
        eq(got['a'], (b'0', '', b'x' * 1000), 'first name has the data')
        eq(got['c'], (b'1', 'a', None), 'c links to a')
        eq(got['sub/b'], (b'1', 'a', None), 'sub/b links to a')


def union_with_index(u):
    mkdir(u.l(1, 'bin'))
    mkdir(u.l(1, 'usr/bin'))
    mkfile(u.l(1, 'bin/tool'), b'old')
    hardlink(u.l(1, 'bin/tool'), u.l(1, 'usr/bin/tool'))
    hardlink(u.l(1, 'bin/tool'), u.l(1, 'bin/tool-alias'))
    u.mount(argv=[u.l(1), u.u(), u.m()])
    write(u.m('bin/tool'), b'new!')
    eq(read(u.m('usr/bin/tool')), b'new!', 'the union links the names')
    want = view(u.m())
    u.umount()
    return want


@case
def index_names_exported_diffed_committed():
    if not HAVE_INDEX:
        raise Skip('no hard-link index in this tree')
    with Union(lowers=1) as u:
        want = union_with_index(u)
        got = ok(['diff', '--lowers', u.l(1), u.u()])
        eq(got, 'C /bin\nC /bin/tool\nC /bin/tool-alias\nC /usr/bin/tool\n',
           'diff')
        data, _ = export(u.u(), [u.l(1)])
        got = {m[0]: (m[1], m[6], m[7]) for m in tar_members(data)}
        eq(got['bin/tool'], (b'0', '', b'new!'), 'the changed name')
        eq(got['bin/tool-alias'], (b'1', 'bin/tool', None), 'alias')
        eq(got['usr/bin/tool'], (b'1', 'bin/tool', None), 'other dir')
        # round trip through the kernel: every name has the new data
        tar = os.path.join(u.root, 'l.tar')
        with open(tar, 'wb') as f:
            f.write(data)
        ok(['import', tar, os.path.join(u.root, 'imp')])
        new = os.path.join(u.root, 'layer2')
        ok(['commit', '--lowers', u.l(1), u.u(), new])
        for n in ('bin/tool', 'bin/tool-alias', 'usr/bin/tool'):
            eq(read(os.path.join(new, n)), b'new!', 'committed ' + n)
        eq(os.stat(os.path.join(new, 'usr/bin/tool')).st_ino,
           os.stat(os.path.join(new, 'bin/tool')).st_ino, 'one inode')
        u.lowers.insert(0, new)
        u.snap = None
        with impl(True):
            u.mount()
            eq_view(view(u.m()), want, 'kernel mount of the committed layer')
            u.umount()


if __name__ == '__main__':
    main()
