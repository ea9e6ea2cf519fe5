#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Multi-step namespace changes whose later steps fail: each either
happens whole or is undone, and says which.  The failures are injected
with UM_TEST_FAULT (read once by the daemon at start, see util.h): a real
layer cannot be made to fail one chosen step on demand."""

import errno
import os
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import (Union, case, check, eq, fails_with, listing, main,
                    mkfile, mounted, oci_whiteout, read, run_cli, whiteout,
                    write)


def mount_faulty(u, faults, opts=()):
    """Mount u with the steps named in faults failing."""
    os.environ['UM_TEST_FAULT'] = faults
    try:
        u.mount(opts)
    finally:
        del os.environ['UM_TEST_FAULT']


def is_chardev_whiteout(path):
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


@case(unionmount_only=True, why='fault injection')
def unknown_fault_refused():
    with Union(lowers=1) as u:
        os.environ['UM_TEST_FAULT'] = 'nosuchstep'
        try:
            rc, _, err = run_cli(u.default_argv())
        finally:
            del os.environ['UM_TEST_FAULT']
        eq(rc, 1, 'exit status')
        check('nosuchstep' in err, 'message names the step: %r' % err)
        check(not mounted(u.m()), 'not mounted')


@case(unionmount_only=True, why='fault injection')
def mkdir_over_oci_whiteout_opaque_fails():
    # The new directory cannot be made opaque: the mkdir fails and the
    # directory goes again, so the lower one does not merge back.
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'd/old'), b'lower')
        oci_whiteout(u.u('d'))
        mount_faulty(u, 'opaque')
        fails_with(errno.EIO, 'mkdir d', os.mkdir, u.m('d'))
        fails_with(errno.ENOENT, 'stat d', os.lstat, u.m('d'))
        eq(listing(u.m()), [], 'root listing')
        eq(sorted(os.listdir(u.u())), ['.wh.d'], 'upper')


@case(unionmount_only=True, why='fault injection')
def create_over_oci_whiteout_marker_kept_fails():
    # The marker cannot be removed: the create fails and the file goes.
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'lower')
        oci_whiteout(u.u('f'))
        mount_faulty(u, 'oci_remove')
        fails_with(errno.EIO, 'create f', os.open, u.m('f'),
                   os.O_CREAT | os.O_WRONLY, 0o644)
        fails_with(errno.ENOENT, 'stat f', os.lstat, u.m('f'))
        eq(sorted(os.listdir(u.u())), ['.wh.f'], 'upper')


@case(unionmount_only=True, why='fault injection')
def mkdir_over_chardev_whiteout_opaque_fails():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'd/old'), b'lower')
        whiteout(u.u('d'))
        mount_faulty(u, 'opaque')
        fails_with(errno.EIO, 'mkdir d', os.mkdir, u.m('d'))
        fails_with(errno.ENOENT, 'stat d', os.lstat, u.m('d'))
        check(is_chardev_whiteout(u.u('d')), 'upper d still a whiteout')


@case(unionmount_only=True, why='fault injection')
def rename_name_alloc_fails_nothing_changed():
    # The inodes' new names are allocated before the rename: ENOMEM
    # there leaves the disk and the names as they were.
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A')
        mount_faulty(u, 'name')
        fails_with(errno.ENOMEM, 'rename a b', os.rename, u.m('a'),
                   u.m('b'))
        eq(read(u.m('a')), b'A', 'a')
        fails_with(errno.ENOENT, 'stat b', os.lstat, u.m('b'))
        eq(listing(u.m()), ['a'], 'root listing')


@case(unionmount_only=True, why='fault injection')
def rename_without_rename_whiteout():
    # An upper without RENAME_WHITEOUT: the whiteout is moved in after.
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A')
        mount_faulty(u, 'rename_whiteout')
        os.rename(u.m('a'), u.m('b'))
        eq(read(u.m('b')), b'A', 'b')
        fails_with(errno.ENOENT, 'stat a', os.lstat, u.m('a'))
        eq(listing(u.m()), ['b'], 'root listing')
        check(is_chardev_whiteout(u.u('a')), 'upper a is a whiteout')


@case(unionmount_only=True, why='fault injection')
def rename_late_whiteout_fails_undone():
    # The whiteout cannot be moved in after the rename: the rename is
    # undone and fails, and the name stays where it was.
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A')
        mount_faulty(u, 'rename_whiteout,late_whiteout')
        fails_with(errno.EIO, 'rename a b', os.rename, u.m('a'), u.m('b'))
        eq(read(u.m('a')), b'A', 'a')
        fails_with(errno.ENOENT, 'stat b', os.lstat, u.m('b'))
        eq(listing(u.m()), ['a'], 'root listing')
        # and the inode still finds its object
        write(u.m('a'), b'A2')
        eq(read(u.m('a')), b'A2', 'a written')
        eq(read(u.u('a')), b'A2', 'upper a')


@case(unionmount_only=True, why='fault injection')
def rename_dir_over_whiteout_late_whiteout_fails_undone():
    # A lower directory renamed onto a whited-out name: undone, both
    # whiteouts (the old one at e, none at d) as before.
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'd/x'), b'X')
        mkfile(u.l(1, 'e/y'), b'Y')
        whiteout(u.u('e'))
        mount_faulty(u, 'rename_whiteout,late_whiteout')
        fails_with(errno.EIO, 'rename d e', os.rename, u.m('d'), u.m('e'))
        eq(listing(u.m()), ['d'], 'root listing')
        eq(listing(u.m('d')), ['x'], 'listing of d')
        fails_with(errno.ENOENT, 'stat e', os.lstat, u.m('e'))
        check(is_chardev_whiteout(u.u('e')), 'upper e still a whiteout')
        eq(read(u.m('d/x')), b'X', 'd/x')


@case(unionmount_only=True, why='fault injection')
def rename_late_whiteout_fails_over_target_stands():
    # A target was replaced, so the rename cannot be undone: it stands
    # and its whiteout is made in the other format, an OCI marker.
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A')
        mkfile(u.l(1, 'b'), b'B')
        mount_faulty(u, 'rename_whiteout,late_whiteout')
        os.rename(u.m('a'), u.m('b'))
        eq(read(u.m('b')), b'A', 'b')
        fails_with(errno.ENOENT, 'stat a', os.lstat, u.m('a'))
        eq(listing(u.m()), ['b'], 'root listing')
        check(os.path.exists(u.u('.wh.a')), 'upper .wh.a')


@case(unionmount_only=True, why='fault injection')
def rename_over_oci_marker_removal_fails_undone():
    # The target name's OCI marker cannot be removed: the rename is
    # undone (its whiteout at the old name too) and fails.
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A')
        mkfile(u.l(1, 'b'), b'B')
        oci_whiteout(u.u('b'))
        mount_faulty(u, 'oci_remove')
        fails_with(errno.EIO, 'rename a b', os.rename, u.m('a'), u.m('b'))
        eq(read(u.m('a')), b'A', 'a')
        fails_with(errno.ENOENT, 'stat b', os.lstat, u.m('b'))
        eq(listing(u.m()), ['a'], 'root listing')
        write(u.m('a'), b'A2')
        eq(read(u.u('a')), b'A2', 'upper a')


@case(unionmount_only=True, why='fault injection')
def rename_over_oci_marker_undo_fails_stands():
    # Neither the marker's removal nor the undo works: the rename
    # stands and reports success, since the marker hides nothing in
    # its own layer.
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A')
        mkfile(u.l(1, 'b'), b'B')
        oci_whiteout(u.u('b'))
        mount_faulty(u, 'oci_remove,undo')
        os.rename(u.m('a'), u.m('b'))
        eq(read(u.m('b')), b'A', 'b')
        fails_with(errno.ENOENT, 'stat a', os.lstat, u.m('a'))
        eq(listing(u.m()), ['b'], 'root listing')


@case(unionmount_only=True, why='fault injection')
def rename_oci_mode_whiteout_first():
    # whiteout=oci: the marker of the old name is made before the
    # rename (it hides nothing while the upper a is there).
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A')
        u.mount(['whiteout=oci'])
        os.rename(u.m('a'), u.m('b'))
        eq(read(u.m('b')), b'A', 'b')
        fails_with(errno.ENOENT, 'stat a', os.lstat, u.m('a'))
        check(os.path.exists(u.u('.wh.a')), 'upper .wh.a')


if __name__ == '__main__':
    main()
