#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""commit: an unmounted upper becomes a new read-only layer and the upper
is left empty; mounting NEWLAYER:LOWERS with the same upper continues
where the container left off."""

import base64
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from layertest import eq_view, impl, ok, refused, view  # noqa: E402
from umtest import (Union, case, check, eq, main, mkdir, mkfile,  # noqa
                    read, write)


def commit_and_continue(kernel, rename):
    with impl(kernel), Union(lowers=1) as u:
        mkdir(u.l(1, 'etc'))
        mkfile(u.l(1, 'etc/conf'), b'v1')
        mkfile(u.l(1, 'gone'), b'g')
        mkdir(u.l(1, 'dir'))
        mkfile(u.l(1, 'dir/inner'), b'i')
        mkfile(u.l(1, 'big'), b'D' * 100000)
        mkfile(u.l(1, 'capped'), b'C' * 100000)
        os.setxattr(u.l(1, 'capped'), 'security.capability',
                    base64.b64decode('AQAAAgAgAAAAAAAAAAAAAAAAAAA='))
        os.chmod(u.l(1, 'capped'), 0o4755)
        # unionmount's default work dir, beside the upper
        work = os.path.join(u.root, '.upper.unionmount-work')
        argv = None if kernel else ['-o', 'metacopy=on', u.l(1), u.u(),
                                    u.m()]
        u.mount(argv=argv, opts=(), kopts='redirect_dir=on,metacopy=on')
        write(u.m('etc/conf'), b'v2')
        os.unlink(u.m('gone'))
        write(u.m('new'), b'n')
        os.chmod(u.m('big'), 0o600)
        os.setxattr(u.m('capped'), 'user.note', b'n')  # metacopy
        if rename:
            os.rename(u.m('dir'), u.m('dir2'))
        else:
            shutil.rmtree(u.m('dir'))
            os.mkdir(u.m('dir'))
            write(u.m('dir/other'), b'o')
        want = view(u.m())
        # refused while mounted
        new = os.path.join(u.root, 'layer2')
        refused(['commit', '--lowers', u.l(1), u.u(), new],
                'commit of a mounted upper')
        check(not os.path.exists(new), 'nothing made')
        u.umount()
        wd = ['--workdir', u.work] if kernel else []
        ok(['commit', '--lowers', u.l(1)] + wd + [u.u(), new])
        eq(os.listdir(u.u()), [], 'upper left empty')
        eq(os.listdir(u.work if kernel else work), [],
           'work dir leftovers gone')
        for n, data in (('big', b'D'), ('capped', b'C')):
            for x in os.listxattr(os.path.join(new, n)):
                check('metacopy' not in x, 'metacopy filled: %s' % x)
            eq(read(os.path.join(new, n)), data * 100000, 'data in layer')
        p = os.path.join(new, 'capped')
        eq(oct(os.stat(p).st_mode), '0o104755', 'setuid kept')
        check('security.capability' in os.listxattr(p), 'capability kept')
        # continue: the new layer on top of the old lowers
        u.lowers.insert(0, new)
        u.snap = None
        u.mount(argv=None if kernel else [new + ':' + u.l(2), u.u(), u.m()])
        eq_view(view(u.m()), want, 'the union after commit')
        write(u.m('after'), b'a')
        os.unlink(u.m('new'))
        u.umount()
        eq(sorted(os.listdir(u.u())), ['after', 'new'], 'upper continues')
        # the kernel mounts unionmount's committed layer and vice versa
        mnt = os.path.join(u.root, 'k')
        os.mkdir(mnt)
        subprocess.run(['mount', '-t', 'overlay', 'overlay', '-o',
                        'lowerdir=%s:%s' % (new, u.l(2))
                        + (',redirect_dir=follow' if rename else ''), mnt],
                       check=True)
        try:
            eq_view(view(mnt), want, 'kernel mount of the new layer')
        finally:
            subprocess.run(['umount', mnt], check=True)


@case
def commit_unionmount():
    commit_and_continue(False, False)


@case
def commit_unionmount_renamed_dir():
    commit_and_continue(False, True)


@case
def commit_kernel():
    commit_and_continue(True, False)


@case
def commit_kernel_renamed_dir():
    commit_and_continue(True, True)


@case
def commit_refusals():
    with Union(lowers=1) as u:
        refused(['commit', '--lowers', u.l(1), u.u(), u.l(1)],
                'existing NEWLAYER')
        refused(['commit', '--lowers', u.l(1), u.u(),
                 '/dev/shm/um-commit-%d' % os.getpid()],
                'other file system')
        eq(os.path.isdir(u.u()), True, 'upper still there')
        # a --workdir that is not one is never cleared
        mkfile(u.l(1, 'precious'), b'p')
        u.snap = None
        refused(['commit', '--lowers', u.l(1), '--workdir', u.l(1), u.u(),
                 os.path.join(u.root, 'new')], 'a lower as --workdir')
        eq(read(u.l(1, 'precious')), b'p', 'lower untouched')
        check(not os.path.exists(os.path.join(u.root, 'new')), 'no layer')


if __name__ == '__main__':
    main()
