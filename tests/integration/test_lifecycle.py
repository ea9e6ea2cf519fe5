#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The life of a mount: a second mount of an upper or work directory in use
is refused while the first keeps working, a double start on the same mount
point is refused, a stop by signal or fusermount3 -u exits 0, and a union
mounted by root serves every user by the normal permission rules (the last
one also runs against kernel overlayfs, the reference)."""

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stress_helpers import file_sha
from umtest import (KERNEL, MOUNT_TIMEOUT, UNIONMOUNT, Fail, Union,
                    _daemon_pids, case, check, eq, join, listing, main,
                    mkdir, mkfile, mount_entry, mounted, mounts, read,
                    run_cli, run_logged, sanitizer_report, write)

UM = dict(unionmount_only=True, why='mount lifecycle')
NOBODY = 65534


def _count(path):
    return len([m for m in mounts() if m[0] == path])


def _refused(args, words, mnt):
    """unionmount args must exit 2 with one line on stderr holding every
    one of words, and mount nothing on mnt.  Returns the line."""
    before = _count(mnt)
    rc, _out, err = run_cli(args)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    eq(rc, 2, 'exit status of unionmount %s (stderr %r)' % (
        ' '.join(args), err))
    eq(len(lines), 1, 'lines on stderr: %r' % err)
    for w in words:
        check(w in lines[0], 'expected %r in %r' % (w, lines[0]))
    eq(_count(mnt), before, 'mounts on %s' % mnt)
    return lines[0]


def _sharing(u, mnt_name='mnt2', work=None):
    """A second Union over the same layers (and work dir unless given),
    with its own mount point."""
    v = Union(lowers=0)
    v.lowers = list(u.lowers)
    v.upper = u.upper
    v.work = work or u.work
    v.mnt = mkdir(join(v.root, mnt_name))
    return v


def _big_lower(path, mib):
    """A lower file of mib MiB of data (not sparse); its sha256."""
    block = hashlib.sha256(b'seed').digest() * (1 << 15)    # 1 MiB
    h = hashlib.sha256()
    with open(path, 'wb') as f:
        for i in range(mib):
            chunk = block[i:] + block[:i]
            f.write(chunk)
            h.update(chunk)
    return h


@case(**UM)
def second_mount_refused_while_first_copies_up():
    with Union(lowers=1) as u:
        h = _big_lower(u.l(1, 'big'), 96)
        mkfile(u.l(1, 'a'), b'A')
        u.mount(argv=['-o', 'lowerdir=%s,upperdir=%s,workdir=%s' % (
            u.l(1), u.u(), u.work), u.m()])
        pid = (_daemon_pids(u.m()) or [u.proc and u.proc.pid])[0]
        # what an interrupted copy-up of the first mount looks like
        plant = join(u.work, 'unionmount', 'in-progress')
        write(plant, b'copy-up of the first mount')
        v = _sharing(u)
        w2 = mkdir(join(v.root, 'work2'))
        errors = []

        def copy_up():
            try:
                with open(u.m('big'), 'ab') as f:
                    f.write(b'!')
            except OSError as e:
                errors.append(e)
        t = threading.Thread(target=copy_up)
        t.start()
        try:
            # the same upper and work dir, elsewhere
            line = _refused(['-o', 'lowerdir=%s,upperdir=%s,workdir=%s' % (
                u.l(1), u.u(), u.work), v.m()],
                ['in use', u.work, u.m(), 'pid %d' % pid], v.m())
            check('workdir' in line, 'expected workdir named: %r' % line)
            # the positional form with an explicit work dir
            _refused([u.l(1), u.u(), v.m(), '-o', 'workdir=' + u.work],
                     ['in use', u.m()], v.m())
            # the same upper with another work dir
            _refused(['-o', 'lowerdir=%s,upperdir=%s,workdir=%s' % (
                u.l(1), u.u(), w2), v.m()],
                ['upper directory %s is in use' % u.u(), 'pid %d' % pid],
                v.m())
        finally:
            t.join()
        eq(errors, [], 'errors of the copy-up in the first mount')
        h.update(b'!')
        eq(file_sha(u.m('big')), h.hexdigest(), 'content of big after copy-up')
        eq(file_sha(u.u('big')), h.hexdigest(), 'content of upper/big')
        eq(read(plant), b'copy-up of the first mount',
           'work dir file of the first mount after refused mounts')
        eq(os.listdir(w2), [], 'the other work dir')
        write(u.m('b'), b'B')
        eq(read(u.u('b')), b'B', 'first mount still writes')
        u.umount()
        # the lock is gone with the first mount: the second one mounts,
        # and clears what was left in the work dir
        with v:
            v.mount(argv=['-o', 'lowerdir=%s,upperdir=%s,workdir=%s' % (
                u.l(1), u.u(), u.work), v.m()])
            eq(listing(v.m()), ['a', 'b', 'big'], 'listing of the second')
            check(not os.path.exists(plant),
                  'expected the leftover cleared by the new holder')
            write(v.m('c'), b'C')
            eq(read(u.u('c')), b'C', 'upper/c through the second mount')


@case(**UM)
def lock_freed_by_sigkill():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A')
        u.mount()
        write(u.m('x'), b'X')
        pids = [u.proc.pid] if u.proc else _daemon_pids(u.m())
        eq(len(pids), 1, 'daemons of the first mount')
        os.kill(pids[0], signal.SIGKILL)
        if u.proc:
            u.proc.wait()
            u.proc = None
        else:
            deadline = time.monotonic() + 10
            while _daemon_pids(u.m()) and time.monotonic() < deadline:
                time.sleep(0.05)
        rc, _o, err = run_logged(['fusermount3', '-u', u.m()])
        eq(rc, 0, 'fusermount3 -u of the dead mount: ' + err)
        v = _sharing(u)
        with v:
            v.mount()
            eq(listing(v.m()), ['a', 'x'], 'listing of the second mount')
            eq(read(v.m('x')), b'X', 'x through the second mount')


@case(**UM)
def remount_right_after_unmount():
    """fusermount3 -u returns once the kernel let go of the mount; the
    daemon still needs a moment to exit and drop its lock.  A mount made
    at once after it (a restart, a remount) waits for that moment instead
    of being refused."""
    with Union(lowers=1) as u:
        for i in range(2000):
            mkfile(u.l(1, 'f%d' % i), b'%d' % i)
        args = u.default_argv()
        for i in range(8):
            rc, _o, err = run_cli(args)
            eq(rc, 0, 'mount %d right after an unmount: %s' % (i, err))
            eq(len(os.listdir(u.m())), 2000 + i, 'entries, mount %d' % i)
            for name in os.listdir(u.m()):
                os.lstat(u.m(name))
            write(u.m('new%d' % i), b'N')
            rc, _o, err = run_logged(['fusermount3', '-u', u.m()])
            eq(rc, 0, 'fusermount3 -u: ' + err)
        deadline = time.monotonic() + 10
        while _daemon_pids(u.m()) and time.monotonic() < deadline:
            time.sleep(0.05)


@case(**UM)
def double_start_on_the_same_mount_point_refused():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A')
        args = u.default_argv()
        u.mount()
        line = _refused(args, ['already', u.m(), u.u()], u.m())
        check('unionmount' in line, 'expected unionmount named: %r' % line)
        eq(_count(u.m()), 1, 'mounts on the mount point')
        eq(read(u.m('a')), b'A', 'the first mount still works')


@case(**UM)
def mounting_over_other_file_systems_allowed():
    """Only a union of the same upper is refused: over a tmpfs, and over
    another union (read-only, or with another upper), it mounts."""
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A')
        rc, _o, err = run_logged(['mount', '-t', 'tmpfs', 'tmpfs', u.m()])
        eq(rc, 0, 'mount tmpfs: ' + err)
        try:
            u.mount()
            _wait_fuse_mount(u.m(), 2)
            eq(listing(u.m()), ['a'], 'union over tmpfs')
            u.umount()
        finally:
            run_logged(['umount', u.m()])
        # a read-only union below, named through a symlink so that its
        # daemon is not taken for ours
        lower2 = mkdir(join(u.root, 'other'))
        mkfile(join(lower2, 'o'), b'O')
        link = join(u.root, 'mntlink')
        os.symlink(u.m(), link)
        rc, _o, err = run_cli([lower2, link])
        eq(rc, 0, 'read-only union on the mount point: ' + err)
        try:
            below = _count(u.m())
            u.mount()
            _wait_fuse_mount(u.m(), below + 1)
            eq(listing(u.m()), ['a'], 'union over another union')
            u.umount()
            eq(listing(u.m()), ['o'], 'the union below')
        finally:
            run_logged(['fusermount3', '-u', u.m()])
        deadline = time.monotonic() + 10
        while _daemon_pids(link) and time.monotonic() < deadline:
            time.sleep(0.05)
        eq(_daemon_pids(link), [], 'daemon of the union below')


def _wait_fuse_mount(mnt, n):
    """After Union.mount() on a mount point that was mounted already (it
    only waits for a mount there): wait for the n-th mount, a union.  (A
    tmpfs below that a busy machine did not let go at once may still be
    there: n counts from what was there before.)"""
    deadline = time.monotonic() + MOUNT_TIMEOUT
    while not (_count(mnt) == n and mount_entry(mnt)[1] == 'fuse.unionmount'):
        if time.monotonic() > deadline:
            raise Fail('the union did not appear on %s' % mnt)
        time.sleep(0.02)


def _wait_idle(mnt):
    """Wait until the kernel has no request of the mount's FUSE connection
    pending: the release that follows a close() is sent in the background,
    and a daemon stopped before it came would leave the open file's
    memory to the sanitizer's leak report."""
    conns = '/sys/fs/fuse/connections'
    if not os.listdir(conns):
        run_logged(['mount', '-t', 'fusectl', 'none', conns])
    waiting = join(conns, mount_entry(mnt)[2].split(':')[1], 'waiting')
    deadline = time.monotonic() + 10
    while read(waiting).strip() != b'0':
        if time.monotonic() > deadline:
            raise Fail('requests of %s still pending after 10s' % mnt)
        time.sleep(0.02)


def _fg_start(u, args):
    """unionmount -f args under Popen; waits for the mount."""
    log = join(u.root, 'fg.log')
    logf = open(log, 'wb')
    p = subprocess.Popen([UNIONMOUNT, '-f'] + args, stdout=logf,
                         stderr=logf, stdin=subprocess.DEVNULL)
    logf.close()
    deadline = time.monotonic() + MOUNT_TIMEOUT
    while not mounted(u.m()):
        if p.poll() is not None:
            raise Fail('unionmount -f exited %d before mounting: %s' % (
                p.returncode, read(log).decode(errors='replace')))
        if time.monotonic() > deadline:
            p.kill()
            p.wait()
            raise Fail('mount did not appear')
        time.sleep(0.02)
    return p, log


@case(**UM)
def foreground_stop_exits_0():
    """A systemd unit runs unionmount -f; systemctl stop sends SIGTERM.
    Every clean stop (SIGTERM, SIGINT, SIGHUP, fusermount3 -u) unmounts,
    keeps what was written and exits 0."""
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A')
        for how in ('SIGTERM', 'SIGINT', 'SIGHUP', 'fusermount3'):
            p, log = _fg_start(u, u.default_argv())
            try:
                write(u.m(how), how.encode())
                _wait_idle(u.m())
                if how == 'fusermount3':
                    rc, _o, err = run_logged(['fusermount3', '-u', u.m()])
                    eq(rc, 0, 'fusermount3 -u: ' + err)
                else:
                    p.send_signal(getattr(signal, how))
                rc = p.wait(timeout=30)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                run_logged(['fusermount3', '-u', u.m()])
            text = read(log).decode(errors='replace')
            check(not sanitizer_report(text), 'sanitizer report: ' + text)
            eq(rc, 0, 'exit status after %s (log %r)' % (how, text))
            check(not mounted(u.m()), 'still mounted after ' + how)
            eq(read(u.u(how)), how.encode(), 'upper/' + how)


_ACCESS = r'''
import errno, json, os, sys
m = sys.argv[1]
out = {}
def try_(name, fn):
    try:
        r = fn()
        out[name] = r if isinstance(r, (str, int)) else 0
    except OSError as e:
        out[name] = errno.errorcode[e.errno]
def rd(p):
    with open(os.path.join(m, p)) as f:
        return f.read()
def wr(p, mode='a'):
    with open(os.path.join(m, p), mode) as f:
        f.write('n')
try_('read pub', lambda: rd('pub'))
try_('read priv', lambda: rd('priv'))
try_('list closed', lambda: ','.join(sorted(os.listdir(os.path.join(m, 'closed')))))
try_('read closed/f', lambda: rd('closed/f'))
try_('append pub', lambda: wr('pub'))
try_('append mine', lambda: wr('open/mine'))
try_('create in closed', lambda: wr('closed/new', 'w'))
try_('create in open', lambda: wr('open/new', 'w'))
try_('owner of open/new', lambda: os.stat(os.path.join(m, 'open/new')).st_uid)
try_('unlink pub', lambda: os.unlink(os.path.join(m, 'pub')))
print(json.dumps(out, sort_keys=True))
'''


def _as_nobody(mnt):
    rc, out, err = run_logged(['setpriv', '--reuid=%d' % NOBODY,
                               '--regid=%d' % NOBODY, '--clear-groups',
                               sys.executable, '-c', _ACCESS, mnt])
    eq(rc, 0, 'access script as nobody: ' + err)
    return json.loads(out)


def _access_layers(u):
    mkfile(u.l(1, 'pub'), b'public', mode=0o644)
    mkfile(u.l(1, 'priv'), b'private', mode=0o600, uid=1234, gid=1234)
    mkdir(u.l(1, 'closed'), mode=0o700, uid=1234, gid=1234)
    mkfile(u.l(1, 'closed/f'), b'f', mode=0o644)
    mkdir(u.l(1, 'open'), mode=0o777)
    mkfile(u.l(1, 'open/mine'), b'm', mode=0o644, uid=NOBODY, gid=NOBODY)
    os.chmod(u.root, 0o755)     # let nobody reach the mount point


@case
def root_mount_serves_every_user():
    """Mounted by root without options, other users get in by the normal
    permission rules, as with kernel overlayfs."""
    with Union(lowers=1) as u:
        _access_layers(u)
        u.mount()
        got = _as_nobody(u.m())
        eq(got, {
            'read pub': 'public',
            'read priv': 'EACCES',
            'list closed': 'EACCES',
            'read closed/f': 'EACCES',
            'append pub': 'EACCES',
            'append mine': 0,
            'create in closed': 'EACCES',
            'create in open': 0,
            'owner of open/new': NOBODY,
            'unlink pub': 'EACCES',
        }, 'what nobody may do')
        eq(read(u.m('open/mine')), b'mn', 'open/mine after nobody appended')
        st = os.stat(u.u('open/new'))
        eq((st.st_uid, st.st_gid), (NOBODY, NOBODY), 'owner of upper/open/new')
        eq(read(u.m('priv')), b'private', 'root reads priv')


@case(**UM)
def owner_only_keeps_other_users_out():
    with Union(lowers=1) as u:
        _access_layers(u)
        u.mount(opts=['owner_only'])
        got = _as_nobody(u.m())
        eq(set(got.values()), {'EACCES'}, 'what nobody may do: %s' % got)
        eq(read(u.m('pub')), b'public', 'root reads pub')


@case(**UM)
def allow_other_refused_to_users_without_fuse_conf():
    """Unprivileged, allow_other needs user_allow_other in /etc/fuse.conf:
    without it, one line and exit 2, before anything is mounted."""
    allowed = False
    try:
        with open('/etc/fuse.conf') as f:
            allowed = any(ln.split('#')[0].strip() == 'user_allow_other'
                          for ln in f)
    except OSError:
        pass
    with Union(lowers=1) as u:
        os.chown(u.u(), NOBODY, NOBODY)
        os.chown(u.work, NOBODY, NOBODY)
        os.chown(u.m(), NOBODY, NOBODY)
        os.chmod(u.root, 0o755)
        rc, _out, err = run_logged(['setpriv', '--reuid=%d' % NOBODY,
                                    '--regid=%d' % NOBODY, '--clear-groups',
                                    UNIONMOUNT, '-o', 'allow_other', u.l(1),
                                    u.u(), u.m(), '-o', 'workdir=' + u.work])
        if allowed:
            eq(rc, 0, 'exit status with user_allow_other: ' + err)
            run_logged(['fusermount3', '-u', u.m()])
            return
        lines = [ln for ln in err.splitlines() if ln.strip()]
        eq((rc, len(lines)), (2, 1), 'exit status and lines: %r' % err)
        check('allow_other' in lines[0] and 'user_allow_other' in lines[0],
              'expected the refusal explained: %r' % lines[0])
        check(not mounted(u.m()), 'expected nothing mounted')
        eq(os.listdir(u.work), [], 'work dir of the refused mount')


if __name__ == '__main__':
    main()
