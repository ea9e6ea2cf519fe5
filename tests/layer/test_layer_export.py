#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""export: the OCI layer tarball of an upper, entry by entry; byte-identical
output; digests; the round trip export -> import -> mount equals the
union it came from."""

import gzip
import hashlib
import os
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from layertest import (eq_view, export, impl, ok, run, sha,  # noqa: E402
                       tar_members, view)
from umtest import (Fail, Union, case, check, eq, hardlink, main,  # noqa
                    mkdir, mkfile, opaque, oci_opaque, oci_whiteout, read,
                    setx, symlink, whiteout, write, xwhiteout)

T = 1700000000


def entries(data):
    """{name: (type, mode, uid, gid, size, linkname, content, xattrs)}
    and the order of names."""
    out = {}
    order = []
    for (name, typ, mode, uid, gid, size, link, content, pax,
         mtime) in tar_members(data):
        x = {k[len('SCHILY.xattr.'):]: v for k, v in pax.items()
             if k.startswith('SCHILY.xattr.')}
        check(name not in out, 'entry %s twice' % name)
        out[name] = (typ, oct(mode), uid, gid, size, link, content, x)
        order.append(name)
    return out, order


@case
def tar_entry_by_entry():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'gone'), b'old')
        mkdir(u.l(1, 'd'))
        mkfile(u.l(1, 'd/keep'), b'k')
        mkfile(u.l(1, 'd/changed'), b'before')
        mkdir(u.l(1, 'replaced'))
        mkfile(u.l(1, 'replaced/child1'), b'1')
        mkfile(u.l(1, 'replaced/child2'), b'2')
        # the upper, as the union writes it
        whiteout(u.u('gone'))
        whiteout(u.u('nothing-below'))
        mkdir(u.u('d'), mode=0o750, uid=12, gid=34)
        mkfile(u.u('d/changed'), b'after', mode=0o600, uid=5, gid=6,
               mtime_ns=T * 10**9)
        setx(u.u('d/changed'), 'user.color', b'blue')
        setx(u.u('d/changed'), 'trusted.overlay.origin', b'\0\1')
        setx(u.u('d/changed'), 'trusted.unionmount.origin', b'12345678')
        mkfile(u.u('new'), b'n' * 100000, mode=0o4755)
        hardlink(u.u('new'), u.u('new-link'))
        symlink('../somewhere', u.u('link'))
        os.mknod(u.u('fifo'), 0o640 | stat.S_IFIFO)
        os.mknod(u.u('tty'), 0o620 | stat.S_IFCHR, os.makedev(4, 1))
        mkdir(u.u('replaced'))
        opaque(u.u('replaced'))
        mkfile(u.u('replaced/fresh'), b'f')
        data, dig = export(u.u(), [u.l(1)])
        got, order = entries(data)
        want = {
            '.wh.gone': (b'0', '0o644', 0, 0, 0, '', b'', {}),
            'd': (b'5', '0o750', 12, 34, 0, '', None, {}),
            'd/changed': (b'0', '0o600', 5, 6, 5, '', b'after',
                          {'user.color': 'blue'}),
            'fifo': (b'6', '0o640', 0, 0, 0, '', None, {}),
            'link': (b'2', '0o777', 0, 0, 0, '../somewhere', None, {}),
            'new': (b'0', '0o4755', 0, 0, 100000, '', b'n' * 100000, {}),
            'new-link': (b'1', '0o4755', 0, 0, 0, 'new', None, {}),
            'replaced': (b'5', '0o755', 0, 0, 0, '', None, {}),
            'replaced/.wh..wh..opq': (b'0', '0o644', 0, 0, 0, '', b'', {}),
            'replaced/fresh': (b'0', '0o644', 0, 0, 1, '', b'f', {}),
            'tty': (b'3', '0o620', 0, 0, 0, '', None, {}),
        }
        for k in sorted(set(got) | set(want)):
            eq(got.get(k), want.get(k), 'entry %s' % k)
        eq(order, sorted(want), 'order of entries')
        eq(dig['diff_id'], 'sha256:' + sha(data), 'printed DiffID')
        check('blob' not in dig, 'no blob digest when uncompressed')
        # the device number
        import tarfile
        import io
        with tarfile.open(fileobj=io.BytesIO(data)) as t:
            m = t.getmember('tty')
            eq((m.devmajor, m.devminor), (4, 1), 'tty device number')
            eq(t.getmember('d/changed').mtime, T, 'mtime kept')


@case
def whiteout_formats_and_no_lowers():
    """Every whiteout format the union reads; without --lowers every
    whiteout is written (nothing tells which hide something)."""
    with Union(lowers=1) as u:
        whiteout(u.u('char'))
        oci_whiteout(u.u('oci'))
        mkdir(u.u('x'))
        opaque(u.u('x'), value=b'x')
        xwhiteout(u.u('x/xw'))
        mkfile(u.u('x/plain-empty'), b'')
        mkdir(u.u('ocidir'))
        oci_opaque(u.u('ocidir'))
        mkdir(u.u('userop'))
        opaque(u.u('userop'), ns='user')
        data, _ = export(u.u())
        got, order = entries(data)
        eq(order, ['.wh.char', '.wh.oci', 'ocidir', 'ocidir/.wh..wh..opq',
                   'userop', 'userop/.wh..wh..opq', 'x', 'x/.wh.xw',
                   'x/plain-empty'], 'entries')


@case
def redirect_and_metacopy_need_lowers():
    with Union(lowers=1) as u:
        mkdir(u.l(1, 'old'))
        mkfile(u.l(1, 'old/a'), b'a')
        mkdir(u.l(1, 'old/sub'))
        mkfile(u.l(1, 'old/sub/b'), b'b')
        mkfile(u.l(1, 'big'), b'data' * 100000)
        u.mount(opts=['metacopy=on'])
        os.rename(u.m('old'), u.m('new'))
        write(u.m('new/added'), b'+')
        os.unlink(u.m('new/a'))
        os.chmod(u.m('big'), 0o600)
        u.umount()
        check(os.getxattr(u.u('big'), 'trusted.overlay.metacopy',
                          follow_symlinks=False) is not None, 'metacopy')
        rc, out, err = run(['export', '-o', u.root + '/x.tar', u.u()])
        eq(rc, 1, 'export of a redirect without --lowers')
        data, _ = export(u.u(), [u.l(1)])
        got, order = entries(data)
        eq(order, ['.wh.old', 'big', 'new', 'new/.wh..wh..opq', 'new/added',
                   'new/sub', 'new/sub/b'], 'entries')
        eq(got['big'][6], b'data' * 100000, 'metacopy data')
        eq(got['big'][1], '0o600', 'metacopy mode')


@case
def override_stat_owners_and_devices():
    with Union(lowers=1) as u:
        mkfile(u.u('f'), b'x', mode=0o600)
        setx(u.u('f'), 'user.containers.override_stat', b'1000:1001:0755')
        mkfile(u.u('dev'), b'', mode=0o600)
        setx(u.u('dev'), 'user.containers.override_stat',
             b'0:6:0660:block-8-1')
        mkdir(u.u('d'))
        setx(u.u('d'), 'security.fuseoverlayfs.override_stat',
             b'7:8:0700:dir')
        data, _ = export(u.u())
        got, _ = entries(data)
        eq(got['f'][:5], (b'0', '0o755', 1000, 1001, 1), 'f')
        eq(got['dev'][:5], (b'4', '0o660', 0, 6, 0), 'dev')
        eq(got['d'][:5], (b'5', '0o700', 7, 8, 0), 'd')
        for k, v in got.items():
            check(not v[7], '%s: no xattr exported: %r' % (k, v[7]))


@case
def deterministic_bytes_and_digests():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'a')
        for i in range(50):
            mkfile(u.u('f%02d' % (49 - i)), b'%d' % i * 100)
        mkdir(u.u('dir'))
        setx(u.u('dir'), 'user.z', b'1')
        setx(u.u('dir'), 'user.a', b'2')
        whiteout(u.u('a'))
        for comp in ('none', 'gzip', 'zstd'):
            one, d1 = export(u.u(), [u.l(1)], ['--compress', comp])
            # touching atime/ctime changes nothing
            os.utime(u.u('f00'), (T, os.stat(u.u('f00')).st_mtime))
            os.chmod(u.u('f01'), 0o644)
            two, d2 = export(u.u(), [u.l(1)], ['--compress', comp])
            check(one == two, '%s: two exports differ' % comp)
            eq(d1, d2, 'digests')
            if comp == 'none':
                raw = one
                eq(d1['diff_id'], 'sha256:' + sha(one), 'DiffID')
                continue
            eq(d1['blob'], 'sha256:' + sha(one), '%s blob digest' % comp)
            if comp == 'gzip':
                plain = gzip.decompress(one)
            else:
                plain = subprocess.run(['zstd', '-dc'], input=one,
                                       stdout=subprocess.PIPE,
                                       check=True).stdout
            eq(plain, raw, '%s decompresses to the plain tar' % comp)
            eq(d1['diff_id'], 'sha256:' + sha(plain), '%s DiffID' % comp)
        # xattrs sorted by name inside the entry
        got = tar_members(raw)
        pax = [m[8] for m in got if m[0] == 'dir'][0]
        eq([k for k in pax if k.startswith('SCHILY')],
           ['SCHILY.xattr.user.a', 'SCHILY.xattr.user.z'], 'xattr order')


@case
def mtime_clamp():
    with Union(lowers=1) as u:
        mkfile(u.u('old'), b'o', mtime_ns=1000 * 10**9)
        mkfile(u.u('new'), b'n', mtime_ns=T * 10**9)
        for extra, env in ((['--mtime', '5000'], None),
                           ([], {'SOURCE_DATE_EPOCH': '5000'})):
            data, _ = export(u.u(), [u.l(1)], extra, env=env)
            times = {m[0]: m[9] for m in tar_members(data)}
            eq(times, {'new': 5000, 'old': 1000}, 'clamped %r' % extra)
        a, _ = export(u.u(), [u.l(1)], ['--mtime', '5000'])
        os.utime(u.u('new'), (T + 7, T + 7))
        b, _ = export(u.u(), [u.l(1)], ['--mtime', '5000'])
        check(a == b, 'clamped exports of a touched layer are identical')


@case
def progress_only_on_a_terminal():
    from layertest import LAYER
    with Union(lowers=1) as u:
        for i in range(3000):
            mkfile(u.u('f%04d' % i), b'x')
        out = os.path.join(u.root, 'x.tar')
        rc, _o, err = run(['export', '-o', out, u.u()])
        eq(rc, 0, 'export')
        check('entries' not in err and err.startswith('') and
              '\r' not in err, 'no progress into a pipe: %r' % err)
        # script(1) gives the command a terminal
        p = subprocess.run(['script', '-qec', '%s export -o %s %s' % (
            LAYER, out, u.u()), '/dev/null'], stdout=subprocess.PIPE,
            check=True)
        text = p.stdout.decode()
        check('\rexport: 2048 entries' in text and
              '\rexport: 3000 entries' in text,
              'progress on a terminal: %r' % text[:300])
        p = subprocess.run(['script', '-qec', '%s export --no-progress '
                            '-o %s %s' % (LAYER, out, u.u()), '/dev/null'],
                           stdout=subprocess.PIPE, check=True)
        check('entries' not in p.stdout.decode(), '--no-progress')


def round_trip(kernel):
    with impl(kernel), Union(lowers=2) as u:
        mkdir(u.l(2, 'etc'))
        mkfile(u.l(2, 'etc/passwd'), b'root:x:0:0\n')
        mkfile(u.l(2, 'etc/hosts'), b'127.0.0.1\n')
        mkdir(u.l(2, 'var/lib/app'))
        mkfile(u.l(2, 'var/lib/app/db'), b'db' * 5000)
        mkfile(u.l(1, 'etc/motd'), b'hello\n')
        mkdir(u.l(1, 'srv/www'))
        mkfile(u.l(1, 'srv/www/index.html'), b'<html>')
        mkfile(u.l(1, 'srv/www/old.html'), b'old')
        mkfile(u.l(2, 'srv/www/img/logo.png'), b'png')
        mkfile(u.l(1, 'srv/www/img/icon.png'), b'ico')
        mkfile(u.l(1, 'bin/tool'), b'#!/bin/sh\n', mode=0o755)
        hardlink(u.l(1, 'bin/tool'), u.l(1, 'bin/tool2'))
        u.mount()
        write(u.m('etc/hosts'), b'10.0.0.1 box\n')
        os.unlink(u.m('etc/motd'))
        os.rename(u.m('srv/www'), u.m('srv/site'))
        os.rename(u.m('srv/site/img'), u.m('srv/site/images'))
        os.rename(u.m('srv/site/images/icon.png'), u.m('srv/icon.png'))
        os.unlink(u.m('srv/site/old.html'))
        write(u.m('srv/site/new.html'), b'new')
        import shutil
        shutil.rmtree(u.m('var/lib/app'))
        os.mkdir(u.m('var/lib/app'))
        write(u.m('var/lib/app/fresh'), b'fresh')
        os.chmod(u.m('etc/passwd'), 0o600)
        os.chown(u.m('bin/tool'), 1, 2)
        write(u.m('hl-a'), b'linked')
        os.link(u.m('hl-a'), u.m('hl-b'))
        os.symlink('/etc/hosts', u.m('hosts-link'))
        os.setxattr(u.m('etc/hosts'), 'user.tag', b'v')
        want = view(u.m())
        u.umount()
        data, _ = export(u.u(), [u.l(1), u.l(2)])
        tar = os.path.join(u.root, 'layer.tar')
        with open(tar, 'wb') as f:
            f.write(data)
        new = os.path.join(u.root, 'imported')
        ok(['import', tar, new])
        # the imported layer replaces the upper
        u2 = os.path.join(u.root, 'mnt2')
        os.mkdir(u2)
        subprocess.run(['mount', '-t', 'overlay', 'overlay', '-o',
                        'lowerdir=%s:%s:%s' % (new, u.l(1), u.l(2)), u2],
                       check=True)
        try:
            eq_view(view(u2), want, 'kernel mount of the imported layer')
        finally:
            subprocess.run(['umount', u2], check=True)
        u.upper_saved = u.upper
        u.lowers.insert(0, new)
        u.upper = None
        u.mnt = u2
        u.mount()
        eq_view(view(u2), want, 'unionmount of the imported layer')


@case
def round_trip_unionmount():
    round_trip(False)


@case
def round_trip_kernel():
    round_trip(True)


if __name__ == '__main__':
    main()
