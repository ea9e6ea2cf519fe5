# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers for the robustness tests (test_crash.py, test_concurrency.py,
test_stress.py, test_limits.py, test_hostile.py, test_permissions.py):
mounting with an explicit work directory, a daemon we can SIGKILL,
running a function as another uid, walking the merged view and reading
the daemon's RSS."""

import hashlib
import os
import pickle
import stat
import sys
import time

from umtest import (FOREGROUND, KERNEL, Fail, esc, join, mounted, read,
                    run_logged, sanitizer_report, snapshot, _daemon_pids)

KiB = 1 << 10
MiB = 1 << 20
SEED = int(os.environ.get('UM_TEST_SEED') or 4)
SLOW = 3 if FOREGROUND else 1       # the sanitizer build is slower

UA, GA = 4001, 4001                 # "user A"
UB, GB = 4002, 4002                 # "user B"


def info(msg):
    print('# ' + msg)
    sys.stdout.flush()

WORK_SUBDIR = 'unionmount'      # what unionmount keeps under workdir=
MARKER_PREFIXES = ('#um-', '.wh.')


def sha(data):
    return hashlib.sha256(data).hexdigest()


def file_sha(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def explicit_argv(u, opts=()):
    """-o lowerdir=,upperdir=,workdir= so the work directory is u.work."""
    o = ['lowerdir=' + ':'.join(esc(p) for p in u.lowers),
         'upperdir=' + esc(u.upper), 'workdir=' + esc(u.work)]
    return ['-o', ','.join(o + list(opts)), u.mnt]


def mount_explicit(u, opts=()):
    return u.mount(argv=explicit_argv(u, opts))


def start_foreground(u, opts=()):
    """Mount with unionmount -f under Popen whatever UM_TEST_FOREGROUND
    says, so that we hold the daemon's PID.  Returns the Popen."""
    if u.snap is None:
        u.snap = {p: snapshot(p) for p in u.lowers}
    u._mount_foreground(explicit_argv(u, opts))
    return u.proc


def kill_daemon(u):
    """SIGKILL the foreground daemon, then detach its dead mount.  Fails
    on a sanitizer report logged before the kill."""
    u.proc.kill()
    u.proc.wait()
    u.proc = None
    text = read(u.log).decode(errors='replace')
    if sanitizer_report(text):
        raise Fail('sanitizer report before the kill:\n' + text)
    for cmd in (['fusermount3', '-u', '-z', u.mnt], ['umount', '-l', u.mnt]):
        if not mounted(u.mnt):
            break
        run_logged(cmd)
    if mounted(u.mnt):
        raise Fail('cannot detach the dead mount at %s' % u.mnt)


def daemon_pid(u):
    if u.proc is not None:
        return u.proc.pid
    pids = _daemon_pids(u.mnt)
    if len(pids) != 1:
        raise Fail('expected one daemon for %s got %s' % (u.mnt, pids))
    return pids[0]


def vmrss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise Fail('no VmRSS for pid %d' % pid)


def work_leftovers(u):
    """Entries left in our private work subdirectory (the kernel's is
    work/work)."""
    sub = join(u.work, 'work' if KERNEL else WORK_SUBDIR)
    try:
        names = sorted(os.listdir(sub))
    except FileNotFoundError:
        return []
    if KERNEL:
        # the kernel keeps one whiteout (char 0:0) there for reuse
        names = [n for n in names
                 if os.lstat(join(sub, n)).st_rdev != 0 or
                 not stat.S_ISCHR(os.lstat(join(sub, n)).st_mode)]
    return names


def marker_names(top):
    """Paths under top whose name looks like a private marker or a
    temporary name."""
    bad = []
    for dirpath, dirs, files in os.walk(top):
        for n in dirs + files:
            if n.startswith(MARKER_PREFIXES):
                bad.append(join(dirpath, n))
    return bad


def fork_call(fn, *args, uid=None, gid=None):
    """Run fn(*args) in a forked child (as uid/gid if given, with no
    supplementary groups).  Returns fn's result; re-raises an OSError with
    the child's errno; other exceptions become Fail."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            if gid is not None:
                os.setgroups([])
                os.setgid(gid)
            if uid is not None:
                os.setuid(uid)
            out = ('ok', fn(*args))
        except OSError as e:
            out = ('oserror', (e.errno, str(e)))
        except BaseException as e:      # noqa: B902 - report everything
            out = ('exc', repr(e))
        try:
            os.write(w, pickle.dumps(out))
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    os.waitpid(pid, 0)
    if not chunks:
        raise Fail('child for %s died without a result' % fn.__name__)
    kind, val = pickle.loads(b''.join(chunks))
    if kind == 'ok':
        return val
    if kind == 'oserror':
        raise OSError(val[0], val[1])
    raise Fail('child %s raised %s' % (fn.__name__, val))


def errno_as(uid, gid, fn, *args):
    """None if fn(*args) succeeds as uid/gid, else its errno."""
    try:
        fork_call(fn, *args, uid=uid, gid=gid)
    except OSError as e:
        return e.errno
    return None


def spawn(fn, *args):
    """Fork a child running fn(*args); exit status 0 on success, 1 on an
    exception (the parent only needs it to finish or die)."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            fn(*args)
        except BaseException:           # noqa: B902
            code = 1
        os._exit(code)
    return pid


def reap(pid, timeout=20):
    """Wait for a spawned child; SIGKILL it if it hangs."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise Fail('child %d hung for %ds after the daemon died' % (
                pid, timeout))
        time.sleep(0.01)


def lstate(path):
    """('absent',) / ('file', sha256) / ('dir',) / ('link', target)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return ('absent',)
    if stat.S_ISDIR(st.st_mode):
        return ('dir',)
    if stat.S_ISLNK(st.st_mode):
        return ('link', os.readlink(path))
    if stat.S_ISREG(st.st_mode):
        return ('file', file_sha(path))
    return ('other', stat.S_IFMT(st.st_mode))
