#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""import: OCI whiteouts converted; hostile tarballs (built here with
tarfile) cannot escape the directory, each refused with one line and
exit 2 or given a documented safe result."""

import base64
import io
import os
import stat
import sys
import tarfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from layertest import ok, refused, run, view  # noqa: E402
from umtest import Union, case, check, eq, main, mkdir, mkfile  # noqa: E402

NOCAPS = ['setpriv', '--bounding-set=-chown,-mknod,-sys_admin',
          '--inh-caps=-chown,-mknod,-sys_admin']
# a daemon without them stores owners and devices in overrides
MOUNT_NOCAPS = ['setpriv', '--bounding-set=-chown,-mknod',
                '--inh-caps=-chown,-mknod']
XN = 'user.containers.override_stat'


def tarball(path, members, fmt=tarfile.PAX_FORMAT):
    """members: (name, kind, extra) with kind file/dir/symlink/link/chr/
    fifo; extra: data, target, or a dict of TarInfo attributes."""
    with tarfile.open(path, 'w', format=fmt) as t:
        for name, kind, extra in members:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            data = None
            if kind == 'file':
                data = extra if isinstance(extra, bytes) else b''
                ti.size = len(data)
                ti.mode = 0o644
            elif kind == 'dir':
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
            elif kind == 'symlink':
                ti.type = tarfile.SYMTYPE
                ti.linkname = extra
            elif kind == 'link':
                ti.type = tarfile.LNKTYPE
                ti.linkname = extra
            elif kind == 'chr':
                ti.type = tarfile.CHRTYPE
                ti.devmajor, ti.devminor = extra
                ti.mode = 0o620
            elif kind == 'fifo':
                ti.type = tarfile.FIFOTYPE
            if isinstance(extra, dict):
                for k, v in extra.items():
                    setattr(ti, k, v)
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return path


def listing(root):
    out = []
    for dp, dirs, files in os.walk(root):
        for n in sorted(dirs + files):
            out.append(os.path.relpath(os.path.join(dp, n), root))
    return sorted(out)


def hostile(members, what, want_in_message=None):
    """Import must refuse with exit 2 and write nothing outside DIR."""
    with Union(lowers=0) as u:
        sentinel = os.path.join(u.root, 'outside')
        mkdir(sentinel)
        mkfile(os.path.join(sentinel, 'victim'), b'safe')
        tar = tarball(os.path.join(u.root, 't.tar'), members)
        dest = os.path.join(u.root, 'dest')
        line = refused(['import', tar, dest], what)
        if want_in_message:
            check(want_in_message in line, '%s: message %r' % (what, line))
        eq(listing(sentinel), ['victim'], '%s: outside dir' % what)
        with open(os.path.join(sentinel, 'victim'), 'rb') as f:
            eq(f.read(), b'safe', '%s: victim content' % what)
        eq(sorted(os.listdir(u.root)),
           sorted(['dest', 'outside', 't.tar', 'upper', 'work', 'mnt']),
           '%s: nothing made beside dest' % what)


@case
def absolute_name():
    hostile([('/outside/victim', 'file', b'pwned')], 'absolute name',
            'absolute')


@case
def dotdot_name():
    hostile([('a/../../outside/victim', 'file', b'pwned')], 'dotdot', '..')
    hostile([('../outside/x', 'dir', None)], 'dotdot dir', '..')


@case
def symlink_then_file_through_it():
    hostile([('esc', 'symlink', '../outside'),
             ('esc/victim', 'file', b'pwned')], 'through a symlink',
            'symlink')
    hostile([('esc', 'symlink', '/'),
             ('esc/tmp/x', 'file', b'pwned')], 'through an absolute symlink',
            'symlink')


@case
def hard_links_to_outside():
    hostile([('l', 'link', '../outside/victim')], 'link with ..', '..')
    hostile([('l', 'link', '/etc/passwd')], 'absolute link', 'absolute')
    hostile([('esc', 'symlink', '../outside'),
             ('l', 'link', 'esc/victim')], 'link through a symlink',
            'symlink')
    hostile([('l', 'link', 'not-there')], 'link to a missing entry',
            'missing')


@case
def name_over_name_max():
    hostile([('d/' + 'n' * 256, 'file', b'x')], 'long name', 'NAME_MAX')
    # 255 is fine, and long paths of short components too
    with Union(lowers=0) as u:
        deep = '/'.join(['c' * 200] * 30)
        tar = tarball(os.path.join(u.root, 't.tar'),
                      [('d/' + 'n' * 255, 'file', b'x'),
                       (deep + '/f', 'file', b'deep')])
        ok(['import', tar, u.u('dest')])
        check(os.path.exists(u.u('dest/d/' + 'n' * 255)), '255 bytes')


@case
def duplicates_last_wins():
    with Union(lowers=0) as u:
        tar = tarball(os.path.join(u.root, 't.tar'), [
            ('f', 'file', b'first'),
            ('f', 'file', b'second'),
            ('d', 'dir', {'mode': 0o700}),
            ('d/child', 'file', b'c'),
            ('d', 'dir', {'mode': 0o751}),
            ('x', 'dir', None),
            ('x/inner', 'file', b'i'),
            ('x', 'file', b'now a file'),
            ('s', 'symlink', '/etc/passwd'),
            ('s', 'file', b'not through the link'),
            # a whiteout hides only lower layers' entries, not its own
            ('kept', 'file', b'k'),
            ('.wh.kept', 'file', b''),
        ])
        dest = u.u('dest')
        ok(['import', tar, dest])
        eq(listing(dest), ['d', 'd/child', 'f', 'kept', 's', 'x'], 'names')
        with open(os.path.join(dest, 'kept'), 'rb') as f:
            eq(f.read(), b'k', 'an entry of the layer outlives its whiteout')
        with open(os.path.join(dest, 'f'), 'rb') as f:
            eq(f.read(), b'second', 'f')
        eq(oct(os.stat(os.path.join(dest, 'd')).st_mode & 0o7777), '0o751',
           'd mode from the last entry')
        check(stat.S_ISREG(os.lstat(os.path.join(dest, 'x')).st_mode), 'x')
        check(stat.S_ISREG(os.lstat(os.path.join(dest, 's')).st_mode), 's')
        with open('/etc/passwd', 'rb') as f:
            check(b'not through' not in f.read(), '/etc/passwd untouched')


@case
def whiteouts_converted():
    members = [('d', 'dir', None), ('d/.wh..wh..opq', 'file', b''),
               ('d/new', 'file', b'n'), ('.wh.gone', 'file', b''),
               ('e', 'dir', None), ('e/.wh.x', 'file', b'')]
    with Union(lowers=0) as u:
        tar = tarball(os.path.join(u.root, 't.tar'), members)
        for mode in ('chardev', 'auto'):
            dest = u.u('dest-' + mode)
            ok(['import', '--whiteout', mode, tar, dest])
            eq(listing(dest), ['d', 'd/new', 'e', 'e/x', 'gone'], mode)
            st = os.lstat(os.path.join(dest, 'gone'))
            check(stat.S_ISCHR(st.st_mode) and st.st_rdev == 0,
                  '%s: char 0:0' % mode)
            eq(os.getxattr(os.path.join(dest, 'd'), 'trusted.overlay.opaque'),
               b'y', '%s: opaque' % mode)
        dest = u.u('dest-oci')
        ok(['import', '--whiteout', 'oci', tar, dest])
        eq(listing(dest), ['.wh.gone', 'd', 'd/.wh..wh..opq', 'd/new', 'e',
                           'e/.wh.x'], 'oci')
        # unprivileged: whiteouts still work (char 0:0 needs no
        # CAP_MKNOD), opaque goes to user.overlay.opaque
        dest = u.u('dest-nocaps')
        ok(['import', tar, dest], wrapper=NOCAPS)
        st = os.lstat(os.path.join(dest, 'gone'))
        check(stat.S_ISCHR(st.st_mode) and st.st_rdev == 0, 'nocaps 0:0')
        eq(os.getxattr(os.path.join(dest, 'd'), 'user.overlay.opaque'),
           b'y', 'nocaps: user opaque')


@case
def devices_and_owners_unprivileged():
    with Union(lowers=0) as u:
        tar = tarball(os.path.join(u.root, 't.tar'), [
            ('dev/null', 'chr', (1, 3)),
            ('owned', 'file', {'uid': 1234, 'gid': 99, 'mode': 0o640}),
            ('fifo', 'fifo', None),
        ])
        dest = u.u('dest')
        ok(['import', tar, dest], wrapper=NOCAPS)
        p = os.path.join(dest, 'dev/null')
        check(stat.S_ISREG(os.lstat(p).st_mode), 'device is a plain file')
        eq(os.getxattr(p, XN), b'0:0:0620:char-1-3', 'device override')
        p = os.path.join(dest, 'owned')
        eq(os.getxattr(p, XN), b'1234:99:0640', 'owner override')
        check(stat.S_ISFIFO(os.lstat(os.path.join(dest, 'fifo')).st_mode),
              'fifo made')
        # privileged: real ones, no override
        dest = u.u('dest-root')
        ok(['import', tar, dest])
        st = os.lstat(os.path.join(dest, 'dev/null'))
        check(stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3),
              'real device')
        st = os.lstat(os.path.join(dest, 'owned'))
        eq((st.st_uid, st.st_gid), (1234, 99), 'real owner')
        check(XN not in os.listxattr(os.path.join(dest, 'owned')),
              'no override as root')
        # a rootless mount of the layer shows what the tar said
        u.lowers.append(u.u('dest'))
        u.upper = None
        u.mount(wrapper=MOUNT_NOCAPS)
        st = os.lstat(u.m('dev/null'))
        check(stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3),
              'union shows the device')
        st = os.lstat(u.m('owned'))
        eq((st.st_uid, st.st_gid, oct(st.st_mode & 0o7777)),
           (1234, 99, '0o640'), 'union shows the owner')


@case
def private_xattrs_from_tar_dropped():
    with Union(lowers=0) as u:
        tar = tarball(os.path.join(u.root, 't.tar'), [
            ('d', 'dir', {'pax_headers': {
                'SCHILY.xattr.trusted.overlay.redirect': '/etc',
                'SCHILY.xattr.user.ok': 'fine'}}),
        ])
        dest = u.u('dest')
        rc, out, err = run(['import', tar, dest])
        eq(rc, 0, 'exit')
        check('trusted.overlay.redirect' in err, 'warned: %r' % err)
        x = os.listxattr(os.path.join(dest, 'd'))
        eq(sorted(x), ['user.ok'], 'xattrs')


@case
def setuid_and_capability_kept():
    with Union(lowers=0) as u:
        cap = 'AQAAAgAgAAAAAAAAAAAAAAAAAAA='
        tar = tarball(os.path.join(u.root, 't.tar'), [
            ('ping', 'file', {'mode': 0o4755, 'uid': 0, 'gid': 0,
                              'pax_headers': {
                                  'SCHILY.xattr.security.capability':
                                  base64.b64decode(cap).decode('latin-1')}}),
        ])
        dest = u.u('dest')
        ok(['import', tar, dest])
        p = os.path.join(dest, 'ping')
        eq(oct(os.stat(p).st_mode), '0o104755', 'setuid kept')
        eq(os.getxattr(p, 'security.capability'), base64.b64decode(cap),
           'capability kept')


@case
def stdin_and_compressed():
    with Union(lowers=0) as u:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode='w:gz') as t:
            ti = tarfile.TarInfo('a/b')
            ti.size = 3
            t.addfile(ti, io.BytesIO(b'abc'))
        dest = u.u('dest')
        ok(['import', '-', dest], stdin=buf.getvalue())
        with open(os.path.join(dest, 'a/b'), 'rb') as f:
            eq(f.read(), b'abc', 'content')


if __name__ == '__main__':
    main()
