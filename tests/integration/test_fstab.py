#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""mount(8) and fstab: `mount -t fuse.unionmount LOWERS MNT -o ...` and an
fstab line of type fuse.unionmount mount through mount.fuse3.

How mount(8) gets to unionmount: libmount finds no /sbin/mount.fuse.unionmount
and falls back to the helper of the type's prefix, /sbin/mount.fuse (fuse3's
mount.fuse3), which runs `/bin/sh -c "unionmount SOURCE MNT -o OPTS"`.
mount(8) does not pass PATH on to the helper, so the shell searches its
built-in default (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:...):
an installed unionmount in /usr/local/bin or /usr/bin is found, the one
in the build tree is not.  So this script runs in a private mount namespace
of its own and bind-mounts a directory holding only a `unionmount` symlink
to the binary under test over /usr/local/sbin, first in that default path;
nothing outside the namespace sees it.  The fstab is a temporary file
given to mount -T, never /etc/fstab.  All cases are unionmount only."""

import errno
import os
import shutil
import stat
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import (KERNEL, TMPBASE, UNIONMOUNT, Fail, Union, _daemon_pids,
                    case, check, enter_private_mount_namespace, eq, eq_mode,
                    fails_with, join, listing, main, mkdir, mkfile,
                    mount_entry, mounted, mounts, read, run_logged, snapshot,
                    write)

UM = dict(unionmount_only=True, why='mount(8) helper')
TYPE = 'fuse.unionmount'
HELPER_PATH = '/usr/local/sbin'


def _private_helper_path():
    """Enter a private mount namespace in which HELPER_PATH holds only
    `unionmount`, a symlink to the binary under test."""
    if KERNEL or os.geteuid() != 0:
        return          # main() skips every case
    enter_private_mount_namespace()
    os.makedirs(TMPBASE, exist_ok=True)
    bindir = tempfile.mkdtemp(prefix='umtest.fstab-bin.', dir=TMPBASE)
    os.chmod(bindir, 0o755)
    os.symlink(os.path.realpath(UNIONMOUNT), join(bindir, 'unionmount'))
    if not os.path.isdir(HELPER_PATH):
        print('FAIL setup: %s is missing' % HELPER_PATH)
        sys.exit(1)
    rc, _o, err = run_logged(['mount', '--bind', bindir, HELPER_PATH])
    if rc != 0:
        print('FAIL setup: bind %s: %s' % (HELPER_PATH, err.strip()))
        sys.exit(1)
    _bindirs.append(bindir)


_bindirs = []


def _mount8(args):
    """Run mount(8) with args; fail unless it exits 0 with nothing on
    stdout or stderr."""
    rc, out, err = run_logged(['mount'] + list(args))
    if rc != 0 or out or err:
        raise Fail('expected exit 0 and no output from mount %s, got exit '
                   '%d, stdout %r, stderr %r' % (' '.join(args), rc, out,
                                                  err))


def _started(u):
    """After mount(8) returned: the mount is there and the lowers were
    snapshotted (so the Union's exit compares them)."""
    check(mounted(u.m()), 'mount exited 0 but %s is not mounted' % u.m())
    pids = _daemon_pids(u.m())
    eq(len(pids), 1, 'unionmount daemons serving the mount (%s)' % pids)


def _umount8(u):
    """umount(8) the union; the daemon must exit."""
    pids = _daemon_pids(u.m())
    rc, out, err = run_logged(['umount', u.m()])
    eq((rc, out, err), (0, '', ''), 'umount %s' % u.m())
    check(not mounted(u.m()), '%s still mounted after umount' % u.m())
    deadline = time.monotonic() + 10
    while pids and time.monotonic() < deadline:
        pids = [p for p in _daemon_pids(u.m()) if p in pids]
        if pids:
            time.sleep(0.05)
    eq(pids, [], 'daemons still running 10s after umount')


def _proc_mounts(mnt):
    """The /proc/mounts line of mnt split in fields (source, dir, type,
    options), spaces and such still octal-escaped as the kernel writes
    them."""
    esc = mnt.replace('\\', '\\134').replace(' ', '\\040')
    with open('/proc/mounts') as f:
        found = [ln.split() for ln in f if ln.split()[1] == esc]
    check(found, '%s not in /proc/mounts' % mnt)
    return found[-1]


def _layers(u):
    mkfile(u.l(1, 'a'), b'a1')
    mkfile(u.l(1, 'b'), b'b1')
    mkfile(u.l(2, 'b'), b'b2')
    mkfile(u.l(2, 'c'), b'c2', mode=0o640)
    mkfile(u.l(2, 'd/x'), b'x2')
    mkfile(u.l(1, 'd/y'), b'y1')
    u.snap = {p: snapshot(p) for p in u.lowers}
    os.chmod(u.root, 0o755)     # let "nobody" reach the mount point


def _check_merged(u):
    eq(listing(u.m()), ['a', 'b', 'c', 'd'], 'root listing')
    eq(listing(u.m('d')), ['x', 'y'], 'listing of d')
    eq([read(u.m(n)) for n in ('a', 'b', 'c', 'd/x', 'd/y')],
       [b'a1', b'b1', b'c2', b'x2', b'y1'], 'contents of a b c d/x d/y')
    eq_mode(stat.S_IMODE(os.stat(u.m('c')).st_mode), 0o640, 'mode of c')


def _check_writes(u):
    """Write through the mount; the upper gets exactly the changes."""
    write(u.m('new'), b'N')
    write(u.m('c'), b'C', 'ab')
    os.unlink(u.m('a'))
    eq(listing(u.m()), ['b', 'c', 'd', 'new'], 'root listing after writes')
    eq(read(u.m('c')), b'c2C', 'content of c after append')
    eq(sorted(os.listdir(u.u())), ['a', 'c', 'new'], 'upper listing')
    st = os.lstat(u.u('a'))
    check(stat.S_ISCHR(st.st_mode) and st.st_rdev == 0,
          'expected upper/a a whiteout (char 0:0) got mode %o rdev %d' % (
              st.st_mode, st.st_rdev))


def _nobody_reads(path):
    """(exit status, stdout) of `cat path` run as user nobody."""
    rc, out, _err = run_logged(['runuser', '-u', 'nobody', '--', 'cat',
                                path])
    return rc, out


@case(**UM)
def mount_type_option():
    with Union(lowers=2) as u:
        _layers(u)
        src = u.l(1) + ':' + u.l(2)
        _mount8(['-t', TYPE, src, u.m(), '-o',
                 'upperdir=%s,workdir=%s' % (u.u(), u.work)])
        _started(u)
        ent = mount_entry(u.m())
        eq((ent[1], ent[3]), (TYPE, src), 'mountinfo fstype and source')
        pm = _proc_mounts(u.m())
        eq((pm[0], pm[2]), (src, TYPE), '/proc/mounts source and type')
        check('rw' in pm[3].split(','), 'expected rw in %s' % pm[3])
        _check_merged(u)
        # mounted by root: every user gets in, as with kernel overlayfs
        check('allow_other' in mount_entry(u.m())[4].split(','),
              'expected allow_other in %s' % mount_entry(u.m())[4])
        eq(_nobody_reads(u.m('b')), (0, 'b1'), 'nobody reads b')
        eq(_nobody_reads(u.m('c'))[0] != 0, True,
           'nobody reading c (0640) fails')
        _check_writes(u)
        _umount8(u)
        eq(listing(u.u()), ['a', 'c', 'new'], 'upper listing after umount')
        # owner_only: FUSE's rule, only root gets in
        _mount8(['-t', TYPE, src, u.m(), '-o',
                 'upperdir=%s,workdir=%s,owner_only' % (u.u(), u.work)])
        _started(u)
        check('allow_other' not in mount_entry(u.m())[4].split(','),
              'expected no allow_other in %s' % mount_entry(u.m())[4])
        eq(_nobody_reads(u.m('b'))[0] != 0, True,
           'nobody reading b with owner_only fails')
        eq(read(u.m('b')), b'b1', 'root reads b with owner_only')
        _umount8(u)


@case(**UM)
def mount_type_option_readonly():
    with Union(lowers=2, upper=False) as u:
        _layers(u)
        src = u.l(1) + ':' + u.l(2)
        _mount8(['-t', TYPE, '-o', 'ro', src, u.m()])
        _started(u)
        pm = _proc_mounts(u.m())
        eq((pm[0], pm[2]), (src, TYPE), '/proc/mounts source and type')
        check('ro' in pm[3].split(','), 'expected ro in %s' % pm[3])
        _check_merged(u)
        fails_with(errno.EROFS, 'create new', os.open, u.m('new'),
                   os.O_CREAT | os.O_WRONLY, 0o644)
        _umount8(u)


@case(**UM)
def fstab_mount_by_mountpoint():
    with Union(lowers=2) as u:
        _layers(u)
        src = u.l(1) + ':' + u.l(2)
        fstab = mkfile(join(u.root, 'fstab'), (
            '# test fstab\n%s %s %s upperdir=%s,workdir=%s,allow_other 0 0\n'
            % (src, u.m(), TYPE, u.u(), u.work)).encode())
        _mount8(['-T', fstab, u.m()])
        _started(u)
        ent = mount_entry(u.m())
        eq((ent[1], ent[3]), (TYPE, src), 'mountinfo fstype and source')
        check('allow_other' in ent[4].split(','),
              'expected allow_other in %s' % ent[4])
        _check_merged(u)
        eq(_nobody_reads(u.m('b')), (0, 'b1'), 'nobody reads b (allow_other)')
        _check_writes(u)
        _umount8(u)
        # the same line found by its source
        _mount8(['-T', fstab, src])
        _started(u)
        eq(listing(u.m()), ['b', 'c', 'd', 'new'], 'root listing, remounted')
        eq(read(u.m('new')), b'N', 'content of new, remounted')
        _umount8(u)


@case(**UM)
def fstab_mount_all_skips_noauto():
    with Union(lowers=2) as u:
        _layers(u)
        src = u.l(1) + ':' + u.l(2)
        mnt2 = mkdir(join(u.root, 'mnt2'))
        fstab = mkfile(join(u.root, 'fstab'), (
            '%s %s %s upperdir=%s,workdir=%s 0 0\n'
            '%s %s %s ro,noauto 0 0\n'
            % (src, u.m(), TYPE, u.u(), u.work, src, mnt2, TYPE)).encode())
        _mount8(['-a', '-T', fstab])
        _started(u)
        check(not mounted(mnt2), 'noauto entry %s got mounted' % mnt2)
        _check_merged(u)
        _umount8(u)


def _count_mounts(path):
    return len([m for m in mounts() if m[0] == path])


@case(**UM)
def fstab_mount_all_twice_mounts_once():
    """mount -a knows a line is mounted when /proc/mounts shows its first
    field as the source: both fstab forms, with a source that is not the
    canonical lower list (a symlink; "none" with lowerdir=)."""
    with Union(lowers=2) as u:
        _layers(u)
        link = join(u.root, 'link1')
        os.symlink(u.l(1), link)
        src = link + ':' + u.l(2)
        mnt2 = mkdir(join(u.root, 'mnt2'))
        fstab = mkfile(join(u.root, 'fstab'), (
            '%s %s %s upperdir=%s,workdir=%s 0 0\n'
            'none %s %s lowerdir=%s:%s,ro 0 0\n'
            % (src, u.m(), TYPE, u.u(), u.work, mnt2, TYPE, u.l(1),
               u.l(2))).encode())
        for i in range(3):
            _mount8(['-a', '-T', fstab])
            eq((_count_mounts(u.m()), _count_mounts(mnt2)), (1, 1),
               'mounts on mnt and mnt2 after mount -a number %d' % (i + 1))
        eq(mount_entry(u.m())[3], src, 'source of mnt')
        eq(mount_entry(mnt2)[3], 'none', 'source of mnt2')
        _started(u)
        _check_merged(u)
        eq(listing(mnt2), ['a', 'b', 'c', 'd'], 'listing of mnt2')
        rc, out, err = run_logged(['umount', mnt2])
        eq((rc, out, err), (0, '', ''), 'umount mnt2')
        _umount8(u)


@case(**UM)
def fstab_mount_and_systemd_options_accepted():
    with Union(lowers=2) as u:
        _layers(u)
        src = u.l(1) + ':' + u.l(2)
        fstab = mkfile(join(u.root, 'fstab'), (
            '%s %s %s defaults,nofail,_netdev,x-systemd.device-timeout=5,'
            'x-systemd.requires=local-fs.target,comment=unionmount,'
            'upperdir=%s,workdir=%s 0 0\n'
            % (src, u.m(), TYPE, u.u(), u.work)).encode())
        _mount8(['-T', fstab, u.m()])   # no warning on stderr either
        _started(u)
        eq(mount_entry(u.m())[1], TYPE, 'mountinfo fstype')
        _check_merged(u)
        _check_writes(u)
        _umount8(u)


@case(**UM)
def fstab_paths_with_spaces():
    """fstab writes a space as \\040; mount.fuse3 quotes each argument
    for the shell, so unionmount gets the real paths."""
    with Union(lowers=0) as u:
        u.lowers = [mkdir(join(u.root, 'lower one')),
                    mkdir(join(u.root, 'lower two'))]
        u.upper = mkdir(join(u.root, 'up per'))
        u.work = mkdir(join(u.root, 'wo rk'))
        u.mnt = mkdir(join(u.root, 'mount point'))
        _layers(u)
        src = u.l(1) + ':' + u.l(2)

        def f(p):
            return p.replace(' ', '\\040')
        fstab = mkfile(join(u.root, 'fstab'), (
            '%s %s %s upperdir=%s,workdir=%s 0 0\n'
            % (f(src), f(u.m()), TYPE, f(u.u()), f(u.work))).encode())
        _mount8(['-T', fstab, u.m()])
        _started(u)
        ent = mount_entry(u.m())
        eq((ent[1], ent[3]), (TYPE, src), 'mountinfo fstype and source')
        _check_merged(u)
        _check_writes(u)
        _umount8(u)


if __name__ == '__main__':
    _private_helper_path()
    try:
        main()
    finally:
        for d in _bindirs:
            run_logged(['umount', HELPER_PATH])
            shutil.rmtree(d, ignore_errors=True)
