#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Clearing of set-user-ID, set-group-ID and file capabilities when a file
changes: write, truncate, open with O_TRUNC, chown; by a user without
CAP_FSETID and by root.  The same rules as a local file system, whether
the kernel clears them (libfuse 3.14) or unionmount does (KILLPRIV_V2 with
libfuse 3.18); UM_TEST_IMPL=kernel checks the expectations."""

import os
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stress_helpers import explicit_argv, fork_call
from umtest import KERNEL, Union, case, eq, eq_mode, main, mkdir, mkfile, \
    read, run_cli, setx

def _killpriv_v2():
    """Does unionmount clear them itself (a libfuse 3.17+ build as root)?"""
    if KERNEL:
        return True     # the reference: the local file system's rules
    rc, out, err = run_cli(['--version'])
    return 'killpriv_v2' in out and os.geteuid() == 0


UA, GA = 4001, 4001
UB, GB = 4002, 4002
CAP = 'security.capability'
# a valid v2 file capability: cap_net_raw permitted
KILLPRIV_V2 = _killpriv_v2()
CAP_VALUE = bytes.fromhex('0100000200200000000000000000000000000000')


def mount(u):
    os.chmod(u.root, 0o755)     # mkdtemp made it 0700
    u.mount(opts=('allow_other',), argv=None if KERNEL else
            explicit_argv(u, ('allow_other',)))


def _write(p):
    fd = os.open(p, os.O_WRONLY)
    try:
        os.write(fd, b'W')
    finally:
        os.close(fd)


def _truncate(p):
    os.truncate(p, 1)


def _open_trunc(p):
    os.close(os.open(p, os.O_WRONLY | os.O_TRUNC))


def _has_cap(p):
    try:
        os.getxattr(p, CAP)
        return True
    except OSError:
        return False


def files(u, where):
    """Set-ID files and one with a capability, owned by user B, in the
    lower layer or (already copied up) in the upper."""
    top = u.l(1) if where == 'lower' else u.u()
    mkdir(os.path.join(top, 'd'), mode=0o777)
    for name, mode in (('suid', 0o4777), ('sgid_x', 0o2777),
                       ('sgid_nox', 0o2767), ('both', 0o6777),
                       ('caps', 0o777)):
        mkfile(os.path.join(top, 'd', name), b'0123456789', mode=mode,
               uid=UB, gid=GB)
    setx(os.path.join(top, 'd', 'caps'), CAP, CAP_VALUE)


# After a change by a user without CAP_FSETID (the kernel's rule:
# set-user-ID always goes, set-group-ID with group execute or when the
# writer is not in the file's group, as here).
AFTER_OTHER = {'suid': 0o777, 'sgid_x': 0o777, 'sgid_nox': 0o767,
               'both': 0o777, 'caps': 0o777}


def check_change(how, uid, gid, where):
    with Union(lowers=1) as u:
        files(u, where)
        mount(u)
        for name, want in AFTER_OTHER.items():
            p = u.m('d/' + name)
            before = os.stat(p).st_mode & 0o7777
            fork_call(how, p, uid=uid, gid=gid)
            mode = os.stat(p).st_mode
            if uid == 0:
                want = before       # root keeps them (CAP_FSETID)
            elif name == 'sgid_nox' and not KILLPRIV_V2:
                # Without KILLPRIV_V2 the FUSE kernel module clears
                # set-group-ID only with group execute (fuse_setattr),
                # where a local file system also clears it for a writer
                # outside the file's group.
                want = 0o2767
            eq_mode(mode, stat.S_IFREG | want,
                    'mode of %s (%s) after %s by uid %d' % (
                        name, where, how.__name__, uid))
            if name == 'caps':
                eq(_has_cap(p), False, '%s after %s by uid %d' % (
                    CAP, how.__name__, uid))
        # and as the layers keep it
        u.remount(**({} if KERNEL else
                     {'argv': explicit_argv(u, ('allow_other',))}))
        for name, want in AFTER_OTHER.items():
            if name == 'sgid_nox' and not KILLPRIV_V2:
                want = 0o2767
            if uid != 0:
                eq_mode(os.stat(u.m('d/' + name)).st_mode,
                        stat.S_IFREG | want, 'mode of %s after remount' % name)


@case
def write_by_other_clears_setid_and_caps():
    check_change(_write, UA, GA, 'lower')
    check_change(_write, UA, GA, 'upper')


@case
def write_by_root_keeps_setid_clears_caps():
    check_change(_write, 0, 0, 'upper')


@case
def truncate_by_other_clears_setid_and_caps():
    check_change(_truncate, UA, GA, 'lower')
    check_change(_truncate, UA, GA, 'upper')


@case
def open_trunc_by_other_clears_setid_and_caps():
    check_change(_open_trunc, UA, GA, 'lower')
    check_change(_open_trunc, UA, GA, 'upper')


@case
def open_trunc_by_root_keeps_setid():
    check_change(_open_trunc, 0, 0, 'upper')


@case
def chown_by_root_clears_setid_and_caps():
    with Union(lowers=1) as u:
        files(u, 'upper')
        mount(u)
        for name in AFTER_OTHER:
            p = u.m('d/' + name)
            os.chown(p, UA, GA)
            st = os.stat(p)
            eq((st.st_uid, st.st_gid), (UA, GA), 'owner of ' + name)
            # chown keeps set-group-ID without group execute
            want = 0o2767 if name == 'sgid_nox' else AFTER_OTHER[name]
            eq_mode(st.st_mode, stat.S_IFREG | want,
                    'mode of %s after chown' % name)
            eq(_has_cap(p), False, '%s after chown' % CAP)
        eq(read(u.m('d/suid')), b'0123456789', 'data kept')


@case
def copy_up_keeps_caps():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'data', mode=0o755, uid=UB, gid=GB)
        setx(u.l(1, 'f'), CAP, CAP_VALUE)
        u.mount()
        os.utime(u.m('f'), (1, 1))              # copies up metadata
        eq(os.getxattr(u.m('f'), CAP), CAP_VALUE, CAP + ' after copy-up')
        eq(os.getxattr(u.u('f'), CAP), CAP_VALUE, CAP + ' in the upper')
        st = os.stat(u.u('f'))
        eq((st.st_uid, st.st_gid), (UB, GB), 'owner of the copy')


if __name__ == '__main__':
    main()
