#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""diff: the changes recorded in an upper, A/C/D sorted, for uppers written
by unionmount and by kernel overlayfs, and for every marker format."""

import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from layertest import impl, ok  # noqa: E402
from umtest import (Union, case, check, eq, main, mkdir, mkfile, oci_opaque,  # noqa
                    oci_whiteout, opaque, setx, whiteout, write, xwhiteout)

WANT = """\
C /bin
A /bin/new-tool
D /bin/old-tool
C /etc
C /etc/hosts
C /etc/passwd
A /etc/passwd-link
D /opt
A /opt2
A /opt2/app
A /opt2/app/run
A /opt2/data
C /var
C /var/cache
A /var/cache/fresh
"""


def written_by(kernel):
    with impl(kernel), Union(lowers=2) as u:
        mkdir(u.l(2, 'etc'))
        mkfile(u.l(2, 'etc/passwd'), b'root\n')
        mkfile(u.l(2, 'etc/hosts'), b'localhost\n')
        mkdir(u.l(2, 'bin'))
        mkfile(u.l(2, 'bin/old-tool'), b'x')
        mkdir(u.l(1, 'var/cache'))
        mkfile(u.l(1, 'var/cache/a'), b'a')
        mkfile(u.l(1, 'var/cache/b'), b'b')
        mkdir(u.l(1, 'opt/app'))
        mkfile(u.l(1, 'opt/app/run'), b'run')
        u.mount()
        write(u.m('bin/new-tool'), b'new')             # create
        os.unlink(u.m('bin/old-tool'))                 # delete
        write(u.m('etc/hosts'), b'10.0.0.1 box\n')     # overwrite
        os.chmod(u.m('etc/passwd'), 0o600)             # chmod
        os.link(u.m('etc/passwd'), u.m('etc/passwd-link'))  # hard link
        shutil.rmtree(u.m('var/cache'))                # rm -rf, recreate
        os.mkdir(u.m('var/cache'))
        write(u.m('var/cache/fresh'), b'f')
        os.rename(u.m('opt'), u.m('opt2'))             # rename a dir
        write(u.m('opt2/data'), b'd')
        u.umount()
        got = ok(['diff', '--lowers', u.l(1) + ':' + u.l(2), u.u()])
        eq(got, WANT, 'diff of the upper')
        js = json.loads(ok(['diff', '--json', '--lowers',
                            u.l(1) + ':' + u.l(2), u.u()]))
        eq(['%s %s\n' % (c['kind'], c['path']) for c in js],
           WANT.splitlines(keepends=True), 'diff --json')
        # Without --lowers the markers decide: copied-up objects are C.
        got = ok(['diff', u.u()])
        return got


@case
def written_by_unionmount():
    got = written_by(False)
    # Without the lowers: a new name of a copied-up inode carries its
    # origin (C), and a renamed directory's lower content is unknown.
    want = WANT.replace('A /etc/passwd-link', 'C /etc/passwd-link')
    want = want.replace('A /opt2/app\nA /opt2/app/run\n', '')
    eq(got, want, 'diff without --lowers')


@case
def written_by_kernel():
    written_by(True)


@case
def marker_formats():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'char'), b'')
        mkfile(u.l(1, 'oci'), b'')
        mkdir(u.l(1, 'x'))
        mkfile(u.l(1, 'x/xw'), b'')
        mkdir(u.l(1, 'op'))
        mkfile(u.l(1, 'op/old'), b'')
        whiteout(u.u('char'))
        oci_whiteout(u.u('oci'))
        whiteout(u.u('hidden-nothing'))
        mkdir(u.u('x'))
        opaque(u.u('x'), value=b'x')
        xwhiteout(u.u('x/xw'))
        mkdir(u.u('op'))
        oci_opaque(u.u('op'))
        mkfile(u.u('op/new'), b'')
        mkdir(u.u('brand-new'))
        opaque(u.u('brand-new'), ns='user')
        mkfile(u.u('ovr'), b'')
        setx(u.u('ovr'), 'user.containers.override_stat', b'0:0:0600')
        got = ok(['diff', '--lowers', u.l(1), u.u()])
        eq(got, 'A /brand-new\nD /char\nD /oci\nC /op\nA /op/new\n'
                'A /ovr\nC /x\nD /x/xw\n', 'with lowers')
        got = ok(['diff', u.u()])
        eq(got, 'C /brand-new\nD /char\nD /hidden-nothing\nD /oci\nC /op\n'
                'A /op/new\nA /ovr\nA /x\nD /x/xw\n', 'without lowers')


@case
def metacopy_and_relative_redirect():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'big'), b'b' * 200000)
        mkdir(u.l(1, 'old'))
        mkfile(u.l(1, 'old/f'), b'f')
        mkdir(u.l(1, 'a/b/c'))
        mkfile(u.l(1, 'a/b/c/deep'), b'')
        u.mount(opts=['metacopy=on'])
        os.chmod(u.m('big'), 0o600)
        u.umount()
        # the kernel's relative redirect format, by hand
        mkdir(u.u('new'))
        setx(u.u('new'), 'trusted.overlay.redirect', b'old')
        whiteout(u.u('old'))
        got = ok(['diff', '--lowers', u.l(1), u.u()])
        eq(got, 'C /big\nA /new\nA /new/f\nD /old\n', 'diff')
        got = ok(['diff', u.u()])
        eq(got, 'C /big\nA /new\nD /old\n', 'without lowers')
        # an absolute redirect, into a directory of the lower
        mkdir(u.u('moved'))
        setx(u.u('moved'), 'trusted.overlay.redirect', b'/a/b/c')
        got = ok(['diff', '--lowers', u.l(1), u.u()])
        eq(got, 'C /big\nA /moved\nA /moved/deep\nA /new\nA /new/f\n'
                'D /old\n', 'absolute redirect')


@case
def hostile_redirects_refused():
    """A redirect is a layer's xattr: one that would leave the layers
    is refused, never followed."""
    from layertest import run
    with Union(lowers=1) as u:
        mkdir(u.l(1, 'a'))
        out = os.path.join(u.root, 'existing.tar')
        for bad in (b'../../etc', b'/a/../..', b'/..', b'x/y', b'..', b''):
            mkdir(u.u('d'))
            setx(u.u('d'), 'trusted.overlay.redirect', bad)
            for cmd in (['diff', '--lowers', u.l(1), u.u()],
                        ['export', '-o', out, '--lowers', u.l(1), u.u()]):
                with open(out, 'wb') as f:
                    f.write(b'someone else\'s')
                rc, _o, err = run(cmd)
                eq(rc, 1, '%s with redirect %r: exit' % (cmd[0], bad))
                check('bad redirect' in err, '%r: %r' % (bad, err))
                # a file the command did not make stays
                check(os.path.exists(out), 'existing -o file kept')
            os.rmdir(u.u('d'))
        # one it made goes
        os.unlink(out)
        mkdir(u.u('d'))
        setx(u.u('d'), 'trusted.overlay.redirect', b'..')
        rc, _o, _e = run(['export', '-o', out, '--lowers', u.l(1), u.u()])
        eq(rc, 1, 'exit')
        check(not os.path.exists(out), 'a half-written new file removed')


if __name__ == '__main__':
    main()
