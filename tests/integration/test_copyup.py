#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Copy-up: the first change to a lower object copies it to the upper layer
with its data (holes too), mode, owner, times and xattrs."""

import os
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import (Union, case, check, eq, eq_mode, hardlink, listing, main,
                    mkdir, mkfile, read, run_logged, sparse, symlink, write)

GiB = 1 << 30
MiB = 1 << 20


@case
def write_copies_up():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'hello world', mode=0o640)
        u.mount()
        with open(u.m('f'), 'r+b') as f:
            f.write(b'J')
        eq(read(u.m('f')), b'Jello world', 'content of f')
        eq(read(u.l(1, 'f')), b'hello world', 'lower/f')
        eq(read(u.u('f')), b'Jello world', 'upper/f')
        eq_mode(os.stat(u.u('f')).st_mode, stat.S_IFREG | 0o640,
                'mode of upper/f')
        u.remount()
        eq(read(u.m('f')), b'Jello world', 'content of f after remount')


@case
def append_copies_up_owner_and_mode():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'base', mode=0o604, uid=1234, gid=5678)
        u.mount()
        with open(u.m('f'), 'ab') as f:
            f.write(b'+more')
        eq(read(u.m('f')), b'base+more', 'content of f')
        for what, st in (('upper/f', os.stat(u.u('f'))),
                         ('f', os.stat(u.m('f')))):
            eq(st.st_uid, 1234, 'st_uid of ' + what)
            eq(st.st_gid, 5678, 'st_gid of ' + what)
            eq_mode(st.st_mode, stat.S_IFREG | 0o604, 'st_mode of ' + what)
            eq(st.st_size, 9, 'st_size of ' + what)


@case
def chmod_copyup_keeps_times():
    atime = 1500000000 * 10**9 + 123456789
    mtime = 1600000000 * 10**9 + 987654321
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'some data', mode=0o644,
               atime_ns=atime, mtime_ns=mtime)
        u.mount()
        os.chmod(u.m('f'), 0o600)
        up = os.stat(u.u('f'))
        eq_mode(up.st_mode, stat.S_IFREG | 0o600, 'mode of upper/f')
        eq(up.st_mtime_ns, mtime, 'st_mtime_ns of upper/f')
        eq(up.st_atime_ns, atime, 'st_atime_ns of upper/f')
        st = os.stat(u.m('f'))
        eq(st.st_mtime_ns, mtime, 'st_mtime_ns of f')
        eq(read(u.u('f')), b'some data', 'upper/f')


@case
def copyup_keeps_xattrs():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'x')
        os.setxattr(u.l(1, 'f'), 'user.color', b'blue\0green')
        os.setxattr(u.l(1, 'f'), 'user.empty', b'')
        os.setxattr(u.l(1, 'f'), 'trusted.secret', b'\x01\x02\x03')
        mkdir(u.l(1, 'd'))
        os.setxattr(u.l(1, 'd'), 'user.dirattr', b'D')
        mkfile(u.l(1, 'd/g'), b'g')
        u.mount()
        os.chmod(u.m('f'), 0o600)
        write(u.m('d/g'), b'changed')     # copies up d too
        eq(os.getxattr(u.u('f'), 'user.color'), b'blue\0green',
           'user.color of upper/f')
        eq(os.getxattr(u.u('f'), 'user.empty'), b'', 'user.empty of upper/f')
        eq(os.getxattr(u.u('f'), 'trusted.secret'), b'\x01\x02\x03',
           'trusted.secret of upper/f')
        eq(os.getxattr(u.u('d'), 'user.dirattr'), b'D',
           'user.dirattr of upper/d')
        eq(os.getxattr(u.m('f'), 'user.color'), b'blue\0green',
           'user.color of f')
        eq(os.getxattr(u.m('f'), 'trusted.secret'), b'\x01\x02\x03',
           'trusted.secret of f')
        eq(sorted(os.listxattr(u.m('f'))),
           ['trusted.secret', 'user.color', 'user.empty'], 'listxattr f')


@case
def copyup_parents_keep_metadata():
    mtime = 1400000000 * 10**9 + 5
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'p/q/f'), b'deep')
        mkdir(u.l(1, 'p'), mode=0o751, uid=42, gid=43)
        mkdir(u.l(1, 'p/q'), mode=0o705, uid=44, gid=45)
        os.utime(u.l(1, 'p/q'), ns=(mtime, mtime))
        u.mount()
        write(u.m('p/q/f'), b'changed')
        for rel, mode, uid, gid in (('p', 0o751, 42, 43),
                                    ('p/q', 0o705, 44, 45)):
            st = os.stat(u.u(rel))
            eq_mode(st.st_mode, stat.S_IFDIR | mode, 'mode of upper/' + rel)
            eq((st.st_uid, st.st_gid), (uid, gid), 'owner of upper/' + rel)
        eq(read(u.u('p/q/f')), b'changed', 'upper/p/q/f')
        eq(listing(u.m('p/q')), ['f'], 'listing of p/q')


@case
def sparse_copyup_stays_sparse():
    chunks = {0: b'A' * 4096, 512 * MiB: b'B' * 4096, GiB - 4096: b'C' * 4096}
    with Union(lowers=1) as u:
        sparse(u.l(1, 's'), GiB, chunks)
        u.mount()
        fd = os.open(u.m('s'), os.O_WRONLY)
        os.pwrite(fd, b'Z', 8192)
        os.close(fd)
        up = os.stat(u.u('s'))
        eq(up.st_size, GiB, 'st_size of upper/s')
        check(up.st_blocks * 512 <= 16 * MiB,
              'expected upper/s to stay sparse (<= 16 MiB allocated) got '
              '%d bytes allocated' % (up.st_blocks * 512))
        eq(os.stat(u.m('s')).st_size, GiB, 'st_size of s')
        fd = os.open(u.m('s'), os.O_RDONLY)
        try:
            eq(os.pread(fd, 4096, 0), b'A' * 4096, 's at 0')
            eq(os.pread(fd, 4096, 4096), b'\0' * 4096, 's at 4096')
            eq(os.pread(fd, 3, 8191), b'\0Z\0', 's at 8191')
            eq(os.pread(fd, 4096, 512 * MiB), b'B' * 4096, 's at 512 MiB')
            eq(os.pread(fd, 4096, 300 * MiB), b'\0' * 4096, 's at 300 MiB')
            eq(os.pread(fd, 8192, GiB - 8192), b'\0' * 4096 + b'C' * 4096,
               's at 1 GiB - 8192')
            eq(os.pread(fd, 10, GiB), b'', 's at EOF')
        finally:
            os.close(fd)


@case
def symlink_copyup_by_lchown():
    with Union(lowers=1) as u:
        symlink('target/does/not/exist', u.l(1, 'ln'))
        u.mount()
        os.chown(u.m('ln'), 1234, 5678, follow_symlinks=False)
        for what, p in (('upper/ln', u.u('ln')), ('ln', u.m('ln'))):
            st = os.lstat(p)
            eq(stat.S_ISLNK(st.st_mode), True, what + ' is a symlink')
            eq((st.st_uid, st.st_gid), (1234, 5678), 'owner of ' + what)
            eq(os.readlink(p), 'target/does/not/exist', 'readlink ' + what)


@case
def hardlinked_lower_copyup_metadata():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'linked content', mode=0o644)
        hardlink(u.l(1, 'a'), u.l(1, 'b'))
        # With index=off, like the kernel, a copied-up hard link gets the
        # copy's own st_ino: its other names stay below with the old one,
        # and two different files must never share an st_ino.  (index=on,
        # the default, keeps them one file: test_hardlink.py.)
        u.mount(opts=['index=off'], kopts='redirect_dir=on,index=off')
        ino = os.stat(u.m('a')).st_ino
        os.chmod(u.m('a'), 0o600)
        eq_mode(os.stat(u.m('a')).st_mode, stat.S_IFREG | 0o600, 'mode of a')
        eq(os.stat(u.m('a')).st_ino != ino, True,
           'st_ino of a after copy-up differs from the lower one')
        eq(os.stat(u.m('b')).st_ino != os.stat(u.m('a')).st_ino, True,
           'a (copied up) and b (still below) have different st_ino')
        eq(read(u.m('a')), b'linked content', 'content of a')
        eq(read(u.m('b')), b'linked content', 'content of b')
        eq(read(u.u('a')), b'linked content', 'upper/a')


@case
def hardlinked_lower_copyup_write():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'linked', mode=0o644)
        hardlink(u.l(1, 'a'), u.l(1, 'b'))
        u.mount()
        with open(u.m('a'), 'ab') as f:
            f.write(b'+new')
        eq(read(u.m('a')), b'linked+new', 'content of a')
        eq(read(u.u('a')), b'linked+new', 'upper/a')
        # Kernel overlayfs without index=on breaks the link on copy-up (b
        # keeps the old data); with index=on b follows.  Either is exact.
        got = read(u.m('b'))
        check(got in (b'linked', b'linked+new'),
              "expected b'linked' or b'linked+new' got %r (content of b)" %
              got)


@case
def open_trunc_copies_up_empty():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'f'), b'to be truncated', mode=0o611)
        u.mount()
        fd = os.open(u.m('f'), os.O_WRONLY | os.O_TRUNC)
        os.close(fd)
        eq(read(u.m('f')), b'', 'content of f')
        eq(os.stat(u.u('f')).st_size, 0, 'size of upper/f')
        eq_mode(os.stat(u.u('f')).st_mode, stat.S_IFREG | 0o611,
                'mode of upper/f')


@case
def read_does_not_copy_up():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'd/f'), b'read only please')
        u.mount()
        eq(read(u.m('d/f')), b'read only please', 'content of d/f')
        os.stat(u.m('d/f'))
        os.listxattr(u.m('d/f'))
        eq(listing(u.u()), [], 'upper listing after reads')


@case
def large_file_copyup():
    data = os.urandom(3 * MiB + 17)
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'big'), data)
        u.mount()
        fd = os.open(u.m('big'), os.O_WRONLY)
        os.pwrite(fd, b'!', 2 * MiB)
        os.close(fd)
        want = data[:2 * MiB] + b'!' + data[2 * MiB + 1:]
        eq(read(u.m('big')), want, 'content of big')
        eq(read(u.u('big')), want, 'upper/big')


MC_ON = dict(opts=['metacopy=on'], kopts='redirect_dir=on,metacopy=on')
MC_XATTR = 'trusted.overlay.metacopy'


def _has_xattr(path, name):
    return name in os.listxattr(path, follow_symlinks=False)


@case
def metacopy_metadata_changes_leave_data_below():
    """metacopy=on: chmod, chown, utimes and setxattr of a lower file copy
    only its metadata; the data is read from below until the first write,
    which an fd opened before sees."""
    with Union(lowers=1) as u:
        big = os.urandom(4 * MiB)
        mkfile(u.l(1, 'big'), big, mode=0o644)
        mkfile(u.l(1, 'other'), big[:MiB], mode=0o644)
        sparse(u.l(1, 'holes'), 64 * MiB, {32 * MiB: b'middle'})
        mkfile(u.l(1, 'gone'), b'g' * 100000)
        u.mount(**MC_ON)
        os.chmod(u.m('big'), 0o600)
        os.chown(u.m('holes'), 5, 6)
        os.utime(u.m('other'), ns=(10**18, 10**18))
        os.setxattr(u.m('gone'), 'user.tag', b'v')
        for n in ('big', 'holes', 'other', 'gone'):
            st = os.stat(u.u(n))
            # no data, at most a block of xattrs
            eq((st.st_blocks <= 8, _has_xattr(u.u(n), MC_XATTR)),
               (True, True), 'no data and a metacopy marker in upper/' + n)
            eq((os.stat(u.m(n)).st_size, os.stat(u.m(n)).st_blocks),
               (os.stat(u.l(1, n)).st_size, os.stat(u.l(1, n)).st_blocks),
               'size and blocks of %s: the data below' % n)
        eq(read(u.m('big')), big, 'content of big')
        eq(read(u.m('holes'))[32 * MiB:32 * MiB + 6], b'middle',
           'content of holes')
        eq([stat.S_IMODE(os.stat(u.m('big')).st_mode),
            os.stat(u.m('holes')).st_uid, os.stat(u.m('other')).st_mtime_ns,
            os.getxattr(u.m('gone'), 'user.tag')],
           [0o600, 5, 10**18, b'v'], 'the metadata changes')
        # the first write copies the data; an earlier reader follows
        with open(u.m('big'), 'rb') as early:
            with open(u.m('big'), 'r+b') as w:
                w.seek(10)
                w.write(b'XY')
            early.seek(8)
            eq(early.read(6), big[8:10] + b'XY' + big[12:14],
               'read by an fd opened before the write')
        want = big[:10] + b'XY' + big[12:]
        eq(read(u.m('big')), want, 'content of big after the write')
        eq(_has_xattr(u.u('big'), MC_XATTR), False,
           'metacopy marker of upper/big after the write')
        eq(os.stat(u.m('other')).st_mtime_ns, 10**18,
           'mtime of other kept')
        # truncate and rename need the data too
        os.truncate(u.m('other'), 1000)
        eq(read(u.m('other')), big[:1000], 'other truncated to 1000')
        os.rename(u.m('gone'), u.m('renamed'))
        eq(read(u.m('renamed')), b'g' * 100000, 'content after rename')
        u.remount(**MC_ON)
        eq([read(u.m('big')), read(u.m('other')), read(u.m('renamed'))],
           [want, big[:1000], b'g' * 100000], 'contents after remount')
        eq(read(u.m('holes'))[32 * MiB:32 * MiB + 6], b'middle',
           'holes after remount')
        eq(os.stat(u.m('holes')).st_uid, 5, 'owner of holes after remount')


@case
def metacopy_off_copies_data():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'big'), os.urandom(MiB))
        u.mount(opts=['metacopy=off'], kopts='redirect_dir=on,metacopy=off')
        os.chmod(u.m('big'), 0o600)
        eq(_has_xattr(u.u('big'), MC_XATTR), False, 'metacopy marker')
        check(os.stat(u.u('big')).st_blocks >= MiB // 512,
              'upper/big holds its data')
        eq(read(u.u('big')), read(u.l(1, 'big')), 'content of upper/big')


@case(unionmount_only=True, why='kernel overlayfs reads what unionmount wrote')
def metacopy_files_read_by_the_kernel():
    with Union(lowers=1) as u:
        data = os.urandom(MiB)
        mkfile(u.l(1, 'f'), data, mode=0o644)
        u.mount(opts=['metacopy=on'])
        os.chmod(u.m('f'), 0o640)
        u.umount()
        rc, _o, err = run_logged(['mount', '-t', 'overlay', 'overlay', '-o',
                                  u.kernel_options('redirect_dir=on,'
                                                   'metacopy=on'), u.mnt])
        eq((rc, err.strip()), (0, ''), 'kernel overlay mount')
        try:
            eq((read(u.m('f')) == data,
                stat.S_IMODE(os.stat(u.m('f')).st_mode)), (True, 0o640),
               'content and mode of f through kernel overlayfs')
        finally:
            run_logged(['umount', u.mnt])


if __name__ == '__main__':
    main()
