#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile layers and names (robustness): symlinks pointing out of the
layers, odd and long names, names that would read back as whiteouts or
collide with private markers.
Every case asserts exact outcomes; the bounded ones say their budget
beside the constant."""

import errno
import os
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import (Union, case, check, eq, fails_with, join, listing, main,
                    mkfile, read, symlink, utimensat, write)
from stress_helpers import (daemon_pid, explicit_argv, info, marker_names,
                            mount_explicit, work_leftovers)


def _target_state(path):
    st = os.lstat(path)
    try:
        xa = {n: os.getxattr(path, n) for n in os.listxattr(path)}
    except OSError:
        xa = None
    data = read(path) if stat.S_ISREG(st.st_mode) else None
    return (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns,
            st.st_ctime_ns, st.st_ino, data, xa)


@case
def outside_symlinks_never_followed():
    with Union(lowers=1) as u:
        secret = mkfile(join(u.root, 'outside/secret'), b'secret\n',
                        mode=0o640)
        os.setxattr(secret, 'user.mark', b'outside')
        links = {
            'rel': '../outside/secret',
            'deep/rel2': '../../outside/secret',
            'abs': secret,
            'passwd': '../../etc/passwd',
            'shadow': '/etc/shadow',
            'dotdot': '../../../../../../../../../etc/passwd',
        }
        for rel, target in links.items():
            symlink(target, u.l(1, rel))
        watched = [secret, '/etc/passwd', '/etc/shadow',
                   join(u.root, 'outside')]
        before = {p: _target_state(p) for p in watched if
                  os.path.exists(p)}
        u.mount()
        for i, (rel, target) in enumerate(sorted(links.items())):
            p = u.m(rel)
            st = os.lstat(p)
            check(stat.S_ISLNK(st.st_mode), '%s is a symlink' % rel)
            eq(st.st_size, len(target.encode()), 'st_size of ' + rel)
            eq(os.readlink(p), target, 'readlink ' + rel)
            fails_with(errno.ELOOP, 'open O_NOFOLLOW ' + rel, os.open, p,
                       os.O_RDONLY | os.O_NOFOLLOW)
            os.listxattr(p, follow_symlinks=False)
            fails_with(errno.ENODATA, 'lgetxattr user.mark on ' + rel,
                       os.getxattr, p, 'user.mark', follow_symlinks=False)
            os.chown(p, 1234 + i, 5678, follow_symlinks=False)
            st = os.lstat(p)
            eq((st.st_uid, st.st_gid), (1234 + i, 5678), 'owner of ' + rel)
            os.setxattr(p, 'trusted.mark', b'link', follow_symlinks=False)
            eq(os.getxattr(p, 'trusted.mark', follow_symlinks=False),
               b'link', 'trusted.mark of ' + rel)
            utimensat(p, (1000, 0), (2000, 0), follow=False)
            eq(os.lstat(p).st_mtime_ns, 2000 * 10**9, 'mtime of ' + rel)
            eq(os.readlink(u.u(rel)), target, 'readlink upper/' + rel)
            os.rename(p, p + '.moved')
            eq(os.readlink(p + '.moved'), target, 'readlink after rename')
            check(stat.S_ISLNK(os.lstat(u.u(rel + '.moved')).st_mode),
                  'upper/%s.moved is a symlink' % rel)
            if i % 2:
                os.unlink(p + '.moved')
        after = {p: _target_state(p) for p in before}
        for p in before:
            eq(after[p], before[p], 'state of %s (outside the layers)' % p)
        eq(listing(join(u.root, 'outside')), ['secret'], 'outside listing')
        eq(read(secret), b'secret\n', 'outside/secret')


ODD_NAMES = ['new\nline', '\n', 'tab\there', 'back\\slash', ' lead space',
             'trail space ', '\u00fcml\u00e4ut', os.fsdecode(b'bad\xff\xfe'),
             'n' * 255, '\u00e9' * 127 + 'x', '-dash', '#hash', 'a:b,c=d']


@case
def odd_and_long_names():
    with Union(lowers=1) as u:
        for i, n in enumerate(ODD_NAMES):
            mkfile(u.l(1, 'low/' + n), b'lower %d' % i)
        u.mount()
        eq(sorted(os.listdir(u.m('low'))), sorted(ODD_NAMES), 'lower names')
        os.mkdir(u.m('new'))
        for i, n in enumerate(ODD_NAMES):
            eq(read(u.m('low/' + n)), b'lower %d' % i, 'read %r' % n)
            eq(os.stat(u.m('low/' + n)).st_size, len(b'lower %d' % i),
               'stat %r' % n)
            with open(u.m('low/' + n), 'ab') as f:
                f.write(b'+')
            write(u.m('new/' + n), b'new %d' % i)
            eq(os.stat(u.m('new/' + n)).st_size, len(b'new %d' % i),
               'stat new/%r' % n)
        eq(sorted(os.listdir(u.m('new'))), sorted(ODD_NAMES), 'new names')
        # rename every lower name to the next odd name in "mid", and back
        os.mkdir(u.m('mid'))
        nxt = {n: ODD_NAMES[(i + 1) % len(ODD_NAMES)]
               for i, n in enumerate(ODD_NAMES)}
        for n in ODD_NAMES:
            os.rename(u.m('low/' + n), u.m('mid/' + nxt[n]))
        eq(os.listdir(u.m('low')), [], 'low after renaming everything')
        eq(sorted(os.listdir(u.m('mid'))), sorted(ODD_NAMES), 'mid names')
        for n in ODD_NAMES:
            os.rename(u.m('mid/' + nxt[n]), u.m('low/' + n))
        for i, n in enumerate(ODD_NAMES):
            os.unlink(u.m('new/' + n))
        fails_with(errno.ENAMETOOLONG, 'create a 256-byte name', os.open,
                   u.m('new/' + 'n' * 256), os.O_CREAT | os.O_WRONLY, 0o644)
        eq(os.listdir(u.m('new')), [], 'new after unlinking')
        u.remount()
        eq(sorted(os.listdir(u.m('low'))), sorted(ODD_NAMES),
           'low after remount')
        for i, n in enumerate(ODD_NAMES):
            eq(read(u.m('low/' + n)), b'lower %d+' % i,
               'content of %r after remount' % n)
        eq(os.listdir(u.m('new')), [], 'new after remount')


@case(unionmount_only=True, why='whiteout=oci is a unionmount option')
def oci_whiteout_of_255_byte_name():
    """".wh." + a 255-byte name does not fit in NAME_MAX: removing such a
    lower file in whiteout=oci mode must either fail and keep the file or
    succeed for good, never half of each."""
    name = 'w' * 255
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'd/' + name), b'long')
        mkfile(u.l(1, 'd/other'), b'other')
        mount_explicit(u, ('whiteout=oci',))
        err = errno_of_unlink(u.m('d/' + name))
        info('unlink of a lower 255-byte name with whiteout=oci: %s' % (
            errno.errorcode.get(err, 'success') if err else 'success'))
        for _ in range(2):
            if err:
                eq(read(u.m('d/' + name)), b'long', 'the file kept')
                eq(listing(u.m('d')), sorted([name, 'other']), 'listing')
            else:
                eq(listing(u.m('d')), ['other'], 'listing of d')
            eq(marker_names(u.m()), [], 'marker names in the merged view')
            u.umount()
            mount_explicit(u, ('whiteout=oci',))


def errno_of_unlink(path):
    try:
        os.unlink(path)
    except OSError as e:
        return e.errno
    return None


@case(unionmount_only=True, why='the kernel allows .wh. names')
def wh_names_refused_nothing_lost():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A')
        mkfile(u.l(1, 'd/b'), b'B')
        mount_explicit(u)
        write(u.m('c'), b'C')
        for d in ('', 'd/'):
            p = u.m(d + '.wh.x')
            fails_with(errno.EINVAL, 'create ' + d + '.wh.x', os.open, p,
                       os.O_CREAT | os.O_WRONLY, 0o644)
            fails_with(errno.EINVAL, 'mkdir', os.mkdir, p)
            fails_with(errno.EINVAL, 'symlink', os.symlink, 'a', p)
            fails_with(errno.EINVAL, 'mkfifo', os.mkfifo, p)
            fails_with(errno.EINVAL, 'mknod', os.mknod, p,
                       stat.S_IFCHR | 0o600, os.makedev(0, 0))
            fails_with(errno.EINVAL, 'link', os.link, u.m('c'), p)
            fails_with(errno.EINVAL, 'create .wh..wh..opq', os.open,
                       u.m(d + '.wh..wh..opq'), os.O_CREAT | os.O_WRONLY,
                       0o644)
        fails_with(errno.EINVAL, 'rename a to .wh.a', os.rename, u.m('a'),
                   u.m('.wh.a'))
        fails_with(errno.EINVAL, 'rename c to d/.wh.c', os.rename, u.m('c'),
                   u.m('d/.wh.c'))
        fails_with(errno.EINVAL, 'rename d/b to .wh.b', os.rename,
                   u.m('d/b'), u.m('.wh.b'))
        eq(listing(u.m()), ['a', 'c', 'd'], 'root listing')
        eq(listing(u.m('d')), ['b'], 'listing of d')
        eq(read(u.m('a')), b'A', 'a')
        eq(read(u.m('c')), b'C', 'c')
        eq(read(u.m('d/b')), b'B', 'd/b')
        eq([n for n in os.listdir(u.u()) if n.startswith('.wh.')], [],
           '.wh. names in the upper')
        eq(work_leftovers(u), [], 'work dir')


@case(unionmount_only=True, why='checks private xattrs and temp names')
def names_colliding_with_private_markers():
    with Union(lowers=1) as u:
        names = ['#um-1-1', '#um-0-0', '#um-', 'unionmount',
                 '.upper.unionmount-work', 'work']
        for n in names:
            mkfile(u.l(1, n + '.f'), b'file ' + n.encode())
        mkfile(u.l(1, '#um-2-2/inside'), b'inside')
        for i, ns in enumerate(('trusted', 'user')):
            p = mkfile(u.l(1, 'x%d' % i), b'xattr %d' % i)
            os.setxattr(p, ns + '.unionmount.origin', b'\x01' * 8)
            os.setxattr(p, ns + '.unionmount.bogus', b'garbage')
        p = mkfile(u.l(1, 'x2'), b'xattr 2')
        os.setxattr(p, 'trusted.unionmount.origin', b'\x01' * 8)
        mount_explicit(u)
        pid = daemon_pid(u)
        # names the daemon itself would pick for its temporary objects
        mine = ['#um-%d-%d' % (pid, n) for n in range(64)]
        for n in mine:
            write(u.m(n), n.encode())
        want = sorted([n + '.f' for n in names] + ['#um-2-2', 'x0', 'x1',
                                                   'x2'] + mine)
        eq(listing(u.m()), want, 'root listing')
        for n in names:
            eq(read(u.m(n + '.f')), b'file ' + n.encode(), n)
            with open(u.m(n + '.f'), 'ab') as f:
                f.write(b'+')
        eq(read(u.m('#um-2-2/inside')), b'inside', '#um-2-2/inside')
        # operations that use temporary names
        os.mkdir(u.m('newdir'))
        os.rename(u.m('#um-2-2'), u.m('#um-2-3'))
        os.rename(u.m('#um-1-1.f'), u.m('#um-1-2.f'))
        os.unlink(u.m('#um-0-0.f'))
        for i in range(3):
            with open(u.m('x%d' % i), 'ab') as f:
                f.write(b'+')
            eq(read(u.m('x%d' % i)), b'xattr %d+' % i, 'x%d' % i)
            hidden = [n for n in os.listxattr(u.m('x%d' % i))
                      if '.unionmount.' in n]
            eq(hidden, [], 'private xattr names listed on x%d' % i)
        for n in mine:
            eq(read(u.m(n)), n.encode(), n)
        inos = {}
        for n in os.listdir(u.m()):
            inos.setdefault(os.lstat(u.m(n)).st_ino, []).append(n)
        eq([v for v in inos.values() if len(v) > 1], [],
           'names sharing an st_ino')
        want = sorted(set(want) - {'#um-2-2', '#um-1-1.f', '#um-0-0.f'} |
                      {'#um-2-3', '#um-1-2.f', 'newdir'})
        u.remount(argv=explicit_argv(u))
        eq(listing(u.m()), want, 'root listing after remount')
        eq(read(u.m('#um-2-3/inside')), b'inside', '#um-2-3/inside')
        eq(read(u.m('#um-1-2.f')), b'file #um-1-1+', '#um-1-2.f')
        for n in mine:
            eq(read(u.m(n)), n.encode(), n + ' after remount')


if __name__ == '__main__':
    main()
