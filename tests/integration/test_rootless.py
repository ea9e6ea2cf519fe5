#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Rootless use: unionmount run by a user that is not root, inside a user
namespace (`unshare -Urm`, and one with a mapped range of ids as rootless
podman makes it) and in the initial namespace through the setuid
fusermount3.  All cases are unionmount only.

Each case builds the layers as root, then runs this script again as
`INNER` under the case's launcher (runuser, unshare): the inner run
mounts, reads, writes through the mount, unmounts, mounts again and checks
the changes persisted.  The outer run then checks what landed in the upper
layer as seen from the host: whiteout format, user.overlay.* markers (no
trusted.* ones: they need CAP_SYS_ADMIN), owners.

The cases run as the user umtestuser (created with useradd -m if missing,
never removed).  The whole script runs in a private mount namespace; if
/dev/fuse is not read-write for everybody (no udev to apply the usual
0666), a 0666 node of the same device is bind-mounted over it there, as a
stock Debian machine would have it; the real /dev/fuse is not touched."""

import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import (KERNEL, TMPBASE, UNIONMOUNT, Fail, Skip, Union,
                    _daemon_pids, case, check, enter_private_mount_namespace,
                    eq, eq_mode, fails_with, join, listing, main, mkdir,
                    mkfile, mount_entry, mounted, read, run_logged, snapshot,
                    write)

UM = dict(unionmount_only=True, why='rootless')
USER = 'umtestuser'
PYTHON = '/usr/bin/python3'     # readable by USER, unlike a pyenv in /root
OVERFLOW_ID = 65534             # stat of an id the user namespace lacks

_setup_dirs = []


# --- the inner run (as the unprivileged user) -----------------------------

def _wait_gone(mnt):
    deadline = time.monotonic() + 10
    while _daemon_pids(mnt) and time.monotonic() < deadline:
        time.sleep(0.05)
    eq(_daemon_pids(mnt), [], 'daemons still running 10s after unmount')


def _inner(spec):
    """Runs as the unprivileged user.  spec: dict from the outer run."""
    r = spec['root']
    l1, l2, up, wk, mnt = (join(r, n) for n in
                           ('lower1', 'lower2', 'upper', 'work', 'mnt'))
    src = l1 + ':' + l2
    argv = [UNIONMOUNT, '-o', ','.join(['workdir=' + wk] + spec['opts']),
            src, up, mnt]
    unmount = spec['unmount'] + [mnt]

    def do_mount():
        rc, out, err = run_logged(argv)
        eq((rc, err), (0, ''), 'exit status and stderr of %s' % argv)
        ent = mount_entry(mnt)
        check(ent is not None, '%s not mounted after exit 0' % mnt)
        eq((ent[1], ent[3]), ('fuse.unionmount', src),
           'mountinfo fstype and source')

    def do_umount():
        rc, out, err = run_logged(unmount)
        eq((rc, err), (0, ''), 'exit status and stderr of %s' % unmount)
        check(not mounted(mnt), '%s still mounted after %s' % (mnt, unmount))
        _wait_gone(mnt)

    own, other = spec['own_id'], spec['other_id']
    do_mount()
    try:
        # reading
        eq(listing(mnt), ['a', 'b', 'd', 'e', 'o'], 'root listing')
        eq([read(join(mnt, n)) for n in ('a', 'b', 'd/x', 'e/y', 'o')],
           [b'a1', b'b2', b'x2', b'y2', b'o2'], 'contents of a b d/x e/y o')
        eq([(s.st_uid, s.st_gid) for s in
            (os.stat(join(mnt, n)) for n in ('a', 'd', 'o'))],
           [(own, own), (own, own), (other, other)],
           'owners of a d o (o belongs to an id of nobody here)')
        eq(os.getuid(), own, 'uid of the inner run')
        # changes
        write(join(mnt, 'a'), b'+', 'ab')                   # copy-up
        os.chmod(join(mnt, 'a'), 0o600)
        os.unlink(join(mnt, 'b'))                           # whiteout
        os.unlink(join(mnt, 'd/x'))
        os.rmdir(join(mnt, 'd'))
        mkdir(join(mnt, 'd'))                               # opaque dir
        mkfile(join(mnt, 'd/new'), b'N')
        os.rename(join(mnt, 'e'), join(mnt, 'e2'))          # redirect
        mkfile(join(mnt, 'n'), b'n')
        # copy-up of another's file: it stays theirs (an override where
        # we may not chown).  The kernel refuses writes to files whose
        # owner the namespace lacks.
        if other != OVERFLOW_ID:
            write(join(mnt, 'o'), b'+', 'ab')
        if spec['chown_to'] is not None:
            os.chown(join(mnt, 'n'), spec['chown_to'], spec['chown_to'])
        else:
            # to an id the namespace lacks: EINVAL; a plain user without
            # CAP_CHOWN: EPERM (the kernel checks both before asking us)
            fails_with(spec['chown_errno'], 'chown n to %d' % (own + 1),
                       os.chown, join(mnt, 'n'), own + 1, own + 1)
        fails_with(errno.EPERM, 'mknod a character device',
                   os.mknod, join(mnt, 'null'), stat.S_IFCHR | 0o666,
                   os.makedev(1, 3))
        fails_with(errno.EINVAL, 'create .wh.z', os.open,
                   join(mnt, '.wh.z'), os.O_CREAT | os.O_WRONLY, 0o644)
        after = _merged_after(mnt, spec)
    finally:
        if mounted(mnt):
            do_umount()
    do_mount()
    try:
        eq(_merged_after(mnt, spec), after, 'merged view after remount')
    finally:
        do_umount()


def _merged_after(mnt, spec):
    """The merged view after the changes, checked and returned."""
    own = spec['own_id']
    want_n = spec['chown_to'] if spec['chown_to'] is not None else own
    eq(listing(mnt), ['a', 'd', 'e2', 'n', 'o'], 'root listing after changes')
    eq(listing(join(mnt, 'd')), ['new'], 'listing of opaque d')
    eq(listing(join(mnt, 'e2')), ['y'], 'listing of renamed e2')
    view = {n: read(join(mnt, n)).decode()
            for n in ('a', 'd/new', 'e2/y', 'n', 'o')}
    want_o = 'o2' if spec['other_id'] == OVERFLOW_ID else 'o2+'
    eq(view, {'a': 'a1+', 'd/new': 'N', 'e2/y': 'y2', 'n': 'n', 'o': want_o},
       'contents after changes')
    sa, sn = os.stat(join(mnt, 'a')), os.stat(join(mnt, 'n'))
    so = os.stat(join(mnt, 'o'))
    eq_mode(stat.S_IMODE(sa.st_mode), 0o600, 'mode of a')
    eq([(sa.st_uid, sa.st_gid), (sn.st_uid, sn.st_gid),
        (so.st_uid, so.st_gid)],
       [(own, own), (want_n, want_n), (spec['other_id'], spec['other_id'])],
       'owners of a, n and o (copied up)')
    for gone in ('b', 'e', 'd/x'):
        fails_with(errno.ENOENT, 'stat ' + gone, os.stat, join(mnt, gone))
    return view


def _inner_main():
    spec = json.loads(sys.argv[2])
    try:
        _inner(spec)
    except Exception as e:
        print('FAIL %s: %s' % (type(e).__name__, e))
        sys.exit(1)
    print('ok')
    sys.exit(0)


# --- the outer run (root) -------------------------------------------------

def _setup():
    """Private mount namespace, a usable /dev/fuse in it, the user."""
    if KERNEL or os.geteuid() != 0:
        return          # main() skips every case
    if run_logged(['id', '-u', USER])[0] != 0:
        rc, _o, err = run_logged(['useradd', '-m', USER])
        if rc != 0:
            print('FAIL setup: useradd -m %s: %s' % (USER, err.strip()))
            sys.exit(1)
    # useradd gives a new user a subordinate id range where login.defs
    # says so; make sure of it, the mapped-range case needs one.
    if _subid_start(USER) is None:
        rc, _o, err = run_logged(['usermod', '--add-subuids', '200000-265535',
                                  '--add-subgids', '200000-265535', USER])
        if rc != 0:
            print('FAIL setup: usermod --add-subuids: %s' % err.strip())
            sys.exit(1)
    enter_private_mount_namespace()
    st = os.stat('/dev/fuse')
    if st.st_mode & 0o006 != 0o006:
        os.makedirs(TMPBASE, exist_ok=True)
        d = tempfile.mkdtemp(prefix='umtest.devfuse.', dir=TMPBASE)
        _setup_dirs.append(d)
        node = join(d, 'fuse')
        os.mknod(node, stat.S_IFCHR | 0o666, st.st_rdev)
        os.chmod(node, 0o666)
        rc, _o, err = run_logged(['mount', '--bind', node, '/dev/fuse'])
        if rc != 0:
            print('FAIL setup: bind a 0666 /dev/fuse: %s' % err.strip())
            sys.exit(1)


def _ids(name):
    out = run_logged(['id', '-u', name])[1]
    return int(out)


def _subid_start(name):
    """First id of name's range in /etc/subuid (and subgid, which must
    start at the same id here), or None."""
    starts = []
    for f in ('/etc/subuid', '/etc/subgid'):
        try:
            with open(f) as fh:
                rows = [ln.strip().split(':') for ln in fh]
        except OSError:
            return None
        got = [int(r[1]) for r in rows if len(r) == 3 and r[0] == name and
               int(r[2]) >= 65536]
        if not got:
            return None
        starts.append(got[0])
    return starts[0] if starts[0] == starts[1] else None


def _layers(u, owner, other):
    """lower1: a; lower2: a b d/x e/y o.  Everything owned by owner except
    o, owned by other (an id the inner run may not map) and writable by
    all."""
    os.chmod(u.root, 0o755)
    mkfile(u.l(1, 'a'), b'a1')
    mkfile(u.l(2, 'a'), b'a2')
    mkfile(u.l(2, 'b'), b'b2')
    mkfile(u.l(2, 'd/x'), b'x2')
    mkfile(u.l(2, 'e/y'), b'y2')
    mkfile(u.l(2, 'o'), b'o2', mode=0o666, uid=other, gid=other)
    for top in (u.root + '/lower1', u.root + '/lower2', u.u(), u.work, u.m()):
        for dirpath, dirs, files in os.walk(top):
            for n in [dirpath] + [join(dirpath, f) for f in files + dirs]:
                if os.lstat(n).st_uid != other:
                    os.lchown(n, owner, owner)
    u.snap = {p: snapshot(p) for p in u.lowers}


def _run_inner(u, launcher, spec):
    spec = dict(spec, root=u.root)
    argv = launcher + [PYTHON, os.path.abspath(__file__), 'INNER',
                       json.dumps(spec)]
    env = dict(os.environ, UNIONMOUNT=os.path.realpath(UNIONMOUNT))
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                           timeout=90, env=env)
        out = p.stdout.decode(errors='replace').strip()
        rc = p.returncode
    except subprocess.TimeoutExpired:
        rc, out = -1, 'timed out after 90s'
    finally:
        # a daemon left behind (in a namespace we cannot see) is ours
        for pid in _daemon_pids(u.m()):
            try:
                os.kill(pid, 9)
            except OSError:
                pass
    if rc != 0 or out != 'ok':
        raise Fail('inner run (%s) exit %d: %s' % (' '.join(launcher), rc,
                                                   out))


def _xattrs(path):
    return {n: os.getxattr(path, n, follow_symlinks=False)
            for n in os.listxattr(path, follow_symlinks=False)
            if '.overlay.' in n}


def _is_chardev_whiteout(path):
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _probe_whiteout(launcher, owner):
    """'chardev' if the launched user may mknod a 0:0 whiteout (Linux >=
    5.8 lets anyone with write access), else 'oci': what whiteout=auto
    must pick."""
    d = tempfile.mkdtemp(prefix='umtest.probe.', dir=TMPBASE)
    try:
        os.chmod(d, 0o755)
        os.chown(d, owner, owner)
        rc, _o, _e = run_logged(launcher + [
            PYTHON, '-c', 'import os, stat; os.mknod(%r, stat.S_IFCHR, 0)'
            % join(d, 'wh')])
        return 'chardev' if rc == 0 else 'oci'
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _check_upper(u, fmt, owner, n_owner, o_host):
    """The upper layer seen from the host after the inner run.  o_host:
    (host owner, override xattr) of the copied-up o, or None: not copied."""
    o_copied = o_host is not None
    names = listing(u.u())
    o = ['o'] if o_copied else []
    if fmt == 'chardev':
        eq(names, ['a', 'b', 'd', 'e', 'e2', 'n'] + o, 'upper listing')
        check(_is_chardev_whiteout(u.u('b')) and
              _is_chardev_whiteout(u.u('e')),
              'expected upper/b and upper/e char 0:0 whiteouts')
        eq(listing(u.u('d')), ['new'], 'upper/d listing')
    else:
        eq(names, ['.wh.b', '.wh.e', 'a', 'd', 'e2', 'n'] + o,
           'upper listing')
        for w in ('.wh.b', '.wh.e'):
            st = os.lstat(u.u(w))
            check(stat.S_ISREG(st.st_mode) and st.st_size == 0,
                  'expected %s an empty regular file' % w)
        eq(listing(u.u('d')), ['.wh..wh..opq', 'new'], 'upper/d listing')
    eq(_xattrs(u.u('d')), {'user.overlay.opaque': b'y'}, 'overlay xattrs of d')
    eq(_xattrs(u.u('e2')), {'user.overlay.redirect': b'e'},
       'overlay xattrs of e2')
    eq(_xattrs(u.u('a')), {}, 'overlay xattrs of a')
    owners = {n: (os.lstat(u.u(n)).st_uid, os.lstat(u.u(n)).st_gid)
              for n in ('a', 'd', 'e2', 'n')}
    eq(owners, {'a': (owner, owner), 'd': (owner, owner),
                'e2': (owner, owner), 'n': (n_owner, n_owner)},
       'host owners in upper')
    if o_copied:
        try:
            ov = os.getxattr(u.u('o'), 'user.containers.override_stat').decode()
        except OSError:
            ov = None
        eq((os.lstat(u.u('o')).st_uid, ov), o_host,
           'host owner and override of the copied-up o')


def _rootless_case(launcher, owner, other, own_id, other_id, unmount,
                   chown_to=None, host_chown=None, opts=(), fmt=None):
    with Union(lowers=2) as u:
        _layers(u, owner, other)
        if fmt is None:
            fmt = _probe_whiteout(launcher, owner)
        _run_inner(u, launcher, {
            'own_id': own_id, 'other_id': other_id, 'unmount': unmount,
            'chown_to': chown_to, 'opts': list(opts),
            'chown_errno': errno.EPERM if own_id else errno.EINVAL})
        # o: copied up; where the user may not chown, its owner is kept
        # in the override
        o_host = None if other_id == OVERFLOW_ID else \
            (other, None) if chown_to is not None else \
            (owner, '%d:%d:0666:file' % (other, other))
        _check_upper(u, fmt, owner,
                     host_chown if host_chown is not None else owner, o_host)


@case(**UM)
def userns_map_root_as_root():
    """unshare -Urm by root: namespace root is host root, nothing else is
    mapped; o (host uid 1234) shows as the overflow id."""
    _rootless_case(['unshare', '-Urm'], 0, 1234, 0, OVERFLOW_ID,
                   ['umount'])


@case(**UM)
def userns_map_root_as_user():
    """unshare -Urm by umtestuser: its uid is root in the namespace."""
    uid = _ids(USER)
    _rootless_case(['runuser', '-u', USER, '--', 'unshare', '-Urm'], uid,
                   1234, 0, OVERFLOW_ID, ['umount'])


@case(**UM)
def userns_mapped_range():
    """The namespace rootless podman makes: 0 = the user, 1..65535 = the
    user's /etc/subuid range (newuidmap); chown inside it is real."""
    start = _subid_start(USER)
    if start is None or not os.access('/usr/bin/newuidmap', os.X_OK):
        raise Skip('needs newuidmap (package uidmap) and a 65536-id range '
                   'for %s in /etc/subuid and /etc/subgid' % USER)
    uid = _ids(USER)
    # o: host id start+4 = namespace id 5; n gets chowned to 7 = start+6
    _rootless_case(['runuser', '-u', USER, '--', 'unshare', '--map-auto',
                    '--map-root-user', '-m'], uid, start + 4, 0, 5,
                   ['fusermount3', '-u'], chown_to=7, host_chown=start + 6)


@case(**UM)
def fusermount_user():
    """A plain user, mounting through the setuid fusermount3."""
    uid = _ids(USER)
    _rootless_case(['runuser', '-u', USER, '--'], uid, 1234, uid, 1234,
                   ['fusermount3', '-u'])


@case(**UM)
def fusermount_user_oci_whiteouts():
    """whiteout=oci as a plain user: .wh.NAME files and .wh..wh..opq."""
    uid = _ids(USER)
    _rootless_case(['runuser', '-u', USER, '--'], uid, 1234, uid, 1234,
                   ['fusermount3', '-u'], opts=['whiteout=oci'], fmt='oci')


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == 'INNER':
        _inner_main()
    _setup()
    try:
        main()
    finally:
        if _setup_dirs:
            run_logged(['umount', '/dev/fuse'])
        for d in _setup_dirs:
            shutil.rmtree(d, ignore_errors=True)
