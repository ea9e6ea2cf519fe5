#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Owner, mode and device overrides (user.containers.override_stat), the
way rootless storage keeps what it may not write for real.

The daemon runs as root without CAP_CHOWN and CAP_MKNOD (setpriv drops
them from its bounding set): it may not give files away nor make devices,
like a rootless daemon, while the test, as root, asks it to.  What it
cannot do lands in the override and stat shows it; the upper layer is
checked from the host.  xattr_permissions=2 keeps every owner and mode
there, as fuse-overlayfs does.  unionmount only: kernel overlayfs has no
such thing."""

import errno
import os
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import (Union, case, check, eq, eq_mode, fails_with, main, mkdir,
                    mkfile, read, symlink, write)

UM = dict(unionmount_only=True, why='owner overrides')
XN = 'user.containers.override_stat'
NOCAPS = ['setpriv', '--bounding-set=-chown,-mknod', '--inh-caps=-chown,-mknod']


def ovx(path):
    """The override xattr of a real object, or None."""
    try:
        return os.getxattr(path, XN, follow_symlinks=False).decode()
    except OSError as e:
        if e.errno == errno.ENODATA:
            return None
        raise


def owner_mode(path):
    st = os.lstat(path)
    return (st.st_uid, st.st_gid, oct(st.st_mode))


@case(**UM)
def chown_refused_goes_to_override():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'keep'), b'K')
        u.mount(wrapper=NOCAPS)
        mkfile(u.m('n'), b'n', mode=0o644)
        os.chown(u.m('n'), 1234, 5678)
        eq(owner_mode(u.m('n')), (1234, 5678, oct(stat.S_IFREG | 0o644)),
           'stat of n after chown')
        eq(owner_mode(u.u('n')), (0, 0, oct(stat.S_IFREG | 0o644)),
           'real owner of upper/n')
        eq(ovx(u.u('n')), '1234:5678:0644:file', 'override of upper/n')
        # a mode change of an overridden file lands there too; the real
        # mode keeps the file readable and writable by the daemon
        os.chmod(u.m('n'), 0o4750)
        eq(owner_mode(u.m('n')), (1234, 5678, oct(stat.S_IFREG | 0o4750)),
           'stat of n after chmod 4750')
        eq(ovx(u.u('n')), '1234:5678:04750:file', 'override after chmod')
        os.chmod(u.m('n'), 0)
        eq_mode(stat.S_IMODE(os.stat(u.u('n')).st_mode), 0o600,
                'real mode of upper/n after chmod 0')
        eq(read(u.m('n')), b'n', 'root reads n after chmod 0')
        # chown to the daemon's own ids is real, no override needed
        mkdir(u.m('d'), mode=0o755)
        os.chown(u.m('d'), 0, 0)
        eq(ovx(u.u('d')), None, 'override of upper/d after chown 0:0')
        os.chown(u.m('d'), 7, 8)
        eq(owner_mode(u.m('d')), (7, 8, oct(stat.S_IFDIR | 0o755)),
           'stat of d after chown 7:8')
        eq(ovx(u.u('d')), '7:8:0755:dir', 'override of upper/d')
        # listed by nobody, kept after a remount
        eq(os.listxattr(u.m('n')), [], 'listxattr n through the mount')
        u.remount(wrapper=NOCAPS)
        eq(owner_mode(u.m('n')), (1234, 5678, oct(stat.S_IFREG)),
           'stat of n after remount')
        eq(owner_mode(u.m('d')), (7, 8, oct(stat.S_IFDIR | 0o755)),
           'stat of d after remount')


@case(**UM)
def new_objects_of_other_owners():
    """Made by a caller that is not the daemon's user: its owner."""
    with Union(lowers=1) as u:
        os.chmod(u.root, 0o755)
        u.mount(opts=['allow_other'], wrapper=NOCAPS)
        os.mkdir(u.m('sub'))
        os.chmod(u.m('sub'), 0o777)
        pid = os.fork()
        if pid == 0:
            try:
                os.setgid(77)
                os.setuid(66)
                os.umask(0o022)
                os.mkdir(u.m('sub/d'))
                with open(u.m('sub/f'), 'wb') as f:
                    f.write(b'F')
                os._exit(0)
            except BaseException as e:
                sys.stderr.write('child: %r\n' % e)
                os._exit(1)
        _p, status = os.waitpid(pid, 0)
        eq(os.waitstatus_to_exitcode(status), 0, 'child exit status')
        eq([owner_mode(u.m('sub/d'))[:2], owner_mode(u.m('sub/f'))[:2]],
           [(66, 77), (66, 77)], 'owners of sub/d and sub/f')
        eq([ovx(u.u('sub/d')), ovx(u.u('sub/f'))],
           ['66:77:0755:dir', '66:77:0644:file'], 'their overrides')
        eq([owner_mode(u.u('sub/d'))[:2], owner_mode(u.u('sub/f'))[:2]],
           [(0, 0), (0, 0)], 'real owners in upper')


@case(**UM)
def devices_stand_in_files():
    with Union(lowers=1) as u:
        u.mount(wrapper=NOCAPS)
        old = os.umask(0)
        try:
            os.mknod(u.m('null'), stat.S_IFCHR | 0o666, os.makedev(1, 3))
            os.mknod(u.m('sda'), stat.S_IFBLK | 0o660, os.makedev(8, 0))
            os.mkfifo(u.m('fifo'), 0o640)
        finally:
            os.umask(old)
        st = os.lstat(u.m('null'))
        eq((oct(st.st_mode), os.major(st.st_rdev), os.minor(st.st_rdev),
            st.st_size), (oct(stat.S_IFCHR | 0o666), 1, 3, 0),
           'stat of null')
        st = os.lstat(u.m('sda'))
        eq((oct(st.st_mode), os.major(st.st_rdev), os.minor(st.st_rdev)),
           (oct(stat.S_IFBLK | 0o660), 8, 0), 'stat of sda')
        eq(oct(os.lstat(u.m('fifo')).st_mode), oct(stat.S_IFIFO | 0o640),
           'a fifo needs no privilege: real')
        real = os.lstat(u.u('null'))
        eq((oct(real.st_mode), real.st_size), (oct(stat.S_IFREG | 0o600), 0),
           'upper/null is an empty file')
        eq([ovx(u.u('null')), ovx(u.u('sda')), ovx(u.u('fifo'))],
           ['0:0:0666:char-1-3', '0:0:0660:block-8-0', None],
           'overrides of null, sda, fifo')
        fails_with(errno.EPERM, 'mknod c 0 0', os.mknod, u.m('wh'),
                   stat.S_IFCHR | 0o600, os.makedev(0, 0))
        # renamed, hard-linked, removed like any object
        os.rename(u.m('null'), u.m('null2'))
        os.link(u.m('null2'), u.m('null3'))
        st = os.lstat(u.m('null3'))
        eq((stat.S_ISCHR(st.st_mode), st.st_nlink, os.minor(st.st_rdev)),
           (True, 2, 3), 'hard link of the device')
        os.chmod(u.m('null3'), 0o600)
        eq(oct(os.lstat(u.m('null2')).st_mode), oct(stat.S_IFCHR | 0o600),
           'chmod through the other name')
        u.remount(wrapper=NOCAPS)
        st = os.lstat(u.m('null2'))
        eq((oct(st.st_mode), os.minor(st.st_rdev)),
           (oct(stat.S_IFCHR | 0o600), 3), 'null2 after remount')
        os.unlink(u.m('null2'))
        os.unlink(u.m('null3'))
        fails_with(errno.ENOENT, 'stat removed null2', os.lstat,
                   u.m('null2'))


@case(**UM)
def copyup_keeps_owner_in_override():
    with Union(lowers=1) as u:
        mkdir(u.l(1, 'd'), mode=0o750, uid=55, gid=66)
        mkfile(u.l(1, 'd/f'), b'lower', mode=0o640, uid=33, gid=44)
        symlink('target', u.l(1, 'd/s'))
        os.lchown(u.l(1, 'd/s'), 33, 44)
        u.mount(wrapper=NOCAPS)
        write(u.m('d/f'), b'+', 'ab')
        eq(owner_mode(u.m('d/f')), (33, 44, oct(stat.S_IFREG | 0o640)),
           'stat of d/f after copy-up')
        eq(owner_mode(u.m('d')), (55, 66, oct(stat.S_IFDIR | 0o750)),
           'stat of d after copy-up of its child')
        eq([ovx(u.u('d')), ovx(u.u('d/f'))],
           ['55:66:0750:dir', '33:44:0640:file'], 'overrides in upper')
        eq(owner_mode(u.u('d/f'))[:2], (0, 0), 'real owner of upper/d/f')
        eq(read(u.m('d/f')), b'lower+', 'content of d/f')
        u.remount(wrapper=NOCAPS)
        eq(owner_mode(u.m('d/f')), (33, 44, oct(stat.S_IFREG | 0o640)),
           'stat of d/f after remount')


@case(**UM)
def lower_overrides_of_rootless_storage():
    """Layers extracted by rootless containers-storage: owners and devices
    in the xattr.  Read without privilege; a copy-up keeps them."""
    with Union(lowers=2) as u:
        mkfile(u.l(2, 'bin/tool'), b'T', mode=0o700)
        os.setxattr(u.l(2, 'bin/tool'), XN, b'0:0:04755:file')
        mkfile(u.l(2, 'dev/console'), b'', mode=0o600)
        os.setxattr(u.l(2, 'dev/console'), XN, b'0:5:0620:char-5-1')
        mkfile(u.l(1, 'home/f'), b'H', mode=0o600)
        os.setxattr(u.l(1, 'home/f'), XN, b'1000:1000:0644')
        os.setxattr(u.l(1, 'home'), XN, b'1000:1000:0700:dir')
        u.mount(wrapper=NOCAPS)
        eq(owner_mode(u.m('bin/tool')), (0, 0, oct(stat.S_IFREG | 0o4755)),
           'stat of bin/tool')
        st = os.lstat(u.m('dev/console'))
        eq((st.st_uid, st.st_gid, oct(st.st_mode), os.major(st.st_rdev),
            os.minor(st.st_rdev)), (0, 5, oct(stat.S_IFCHR | 0o620), 5, 1),
           'stat of dev/console')
        eq([owner_mode(u.m('home')), owner_mode(u.m('home/f'))],
           [(1000, 1000, oct(stat.S_IFDIR | 0o700)),
            (1000, 1000, oct(stat.S_IFREG | 0o644))], 'home and home/f')
        os.chmod(u.m('home/f'), 0o640)
        eq(owner_mode(u.m('home/f')), (1000, 1000, oct(stat.S_IFREG | 0o640)),
           'home/f after chmod (copied up)')
        eq([ovx(u.u('home')), ovx(u.u('home/f'))],
           ['1000:1000:0700:dir', '1000:1000:0640:file'],
           'overrides copied up')
        u.umount()
        # a privileged daemon keeps real owners: no override is read
        u.mount()
        eq(owner_mode(u.m('bin/tool')), (0, 0, oct(stat.S_IFREG | 0o700)),
           'stat of bin/tool by a privileged daemon')


@case(**UM)
def xattr_permissions_keeps_everything_in_override():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'F', mode=0o644)
        u.mount(opts=['xattr_permissions=2'])
        mkfile(u.m('n'), b'n', mode=0o600)
        os.chown(u.m('n'), 10, 20)
        os.chmod(u.m('f'), 0o604)
        eq([owner_mode(u.m('n')), owner_mode(u.m('f'))],
           [(10, 20, oct(stat.S_IFREG | 0o600)),
            (0, 0, oct(stat.S_IFREG | 0o604))], 'stat of n and f')
        eq([ovx(u.u('n')), ovx(u.u('f'))],
           ['10:20:0600:file', '0:0:0604:file'], 'overrides of n and f')
        eq([owner_mode(u.u('n'))[:2], owner_mode(u.u('f'))],
           [(0, 0), (0, 0, oct(stat.S_IFREG | 0o644))],
           'real owners and mode of f untouched')
        check(XN not in os.listxattr(u.m('n')), 'override hidden')


if __name__ == '__main__':
    main()
