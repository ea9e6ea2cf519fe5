# SPDX-License-Identifier: GPL-2.0-or-later
"""Shared harness for the unionmount integration tests.

Each test_*.py file is a script: it registers cases with @case, then calls
main().  Every case prints one line, "ok NAME", "FAIL NAME: ..." or (only
for unionmount-only cases under kernel mode) "skip NAME: ...".  The script
exits 1 if a case failed, 77 if it had to skip everything, 0 otherwise.

Environment:
  UNIONMOUNT          the binary (default: build/unionmount under the repo)
  UM_TEST_IMPL        "unionmount" (default) or "kernel": mount the same
                      layers with kernel overlayfs, the reference semantics,
                      to check the tests themselves
  UM_TEST_FOREGROUND  "1": run the daemon with -f under Popen, log its
                      stderr and fail on sanitizer reports or a non-zero
                      exit status (set by tests/run for the sanitizer build)
  UM_TEST_TMPDIR      where the layers are built (default /var/tmp)
  UM_TEST_KEEP        "1": keep the temporary directories of failed cases
  UM_TEST_CASE_TIMEOUT  seconds before a hung case gets its daemon killed
                      and its mounts detached (default 120)

Layers must live on a file system with trusted/user xattrs, mknod and
sparse files (ext4, xfs, btrfs, tmpfs >= 6.6).
"""

import ctypes
import ctypes.util
import errno
import hashlib
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import traceback

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
UNIONMOUNT = os.environ.get('UNIONMOUNT') or os.path.join(
    REPO, 'build', 'unionmount')
IMPL = os.environ.get('UM_TEST_IMPL', 'unionmount')
KERNEL = IMPL == 'kernel'
FOREGROUND = os.environ.get('UM_TEST_FOREGROUND') == '1' and not KERNEL
TMPBASE = os.environ.get('UM_TEST_TMPDIR') or '/var/tmp'
KEEP = os.environ.get('UM_TEST_KEEP') == '1'
CASE_TIMEOUT = int(os.environ.get('UM_TEST_CASE_TIMEOUT') or 120)
MOUNT_TIMEOUT = 10

SANITIZER_MARKERS = ('ERROR: AddressSanitizer', 'runtime error:',
                     'LeakSanitizer')

libc = ctypes.CDLL(ctypes.util.find_library('c') or None, use_errno=True)


class Fail(Exception):
    pass


class Skip(Exception):
    pass


# --- assertions -----------------------------------------------------------

def _show(v):
    if isinstance(v, bytes) and len(v) > 80:
        return repr(v[:40]) + '...(%d bytes, sha256 %s)' % (
            len(v), hashlib.sha256(v).hexdigest()[:16])
    return repr(v)


def eq(got, want, what):
    """Fail unless got == want."""
    if got != want:
        raise Fail('expected %s got %s (%s)' % (_show(want), _show(got),
                                                 what))


def eq_map(got, want, what):
    """Like eq for dicts, naming only the keys that differ."""
    if got != want:
        diff = ['%s: expected %s got %s' % (k, _show(want.get(k, '<none>')),
                                            _show(got.get(k, '<none>')))
                for k in sorted(set(got) | set(want), key=str)
                if got.get(k, '<none>') != want.get(k, '<none>')]
        raise Fail('%s differ: %s' % (what, '; '.join(diff)))


def eq_mode(got, want, what):
    if got != want:
        raise Fail('expected %s got %s (%s)' % (oct(want), oct(got), what))


def check(cond, what):
    if not cond:
        raise Fail(what)


def ename(e):
    return errno.errorcode.get(e, str(e)) if e is not None else 'success'


def errno_of(fn, *args, **kw):
    """Run fn; return None if it succeeded, else the OSError errno."""
    try:
        r = fn(*args, **kw)
    except OSError as e:
        return e.errno
    if isinstance(r, int) and fn is os.open:
        os.close(r)
    return None


def fails_with(want, what, fn, *args, **kw):
    """Fail unless fn(*args) raises OSError with errno want (or one of)."""
    got = errno_of(fn, *args, **kw)
    wants = want if isinstance(want, (tuple, list, set)) else (want,)
    if got not in wants:
        raise Fail('expected %s got %s (%s)' % (
            '/'.join(ename(w) for w in wants), ename(got), what))


# --- small file helpers ---------------------------------------------------

def read(path):
    with open(path, 'rb') as f:
        return f.read()


def write(path, data, mode='wb'):
    with open(path, mode) as f:
        f.write(data)


def listing(path):
    return sorted(os.listdir(path))


def join(*parts):
    return os.path.join(*parts)


# --- layer builders (they act on layer paths, never on the mount) ---------

def _parent(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)


def mkfile(path, data=b'', mode=0o644, uid=None, gid=None, mtime_ns=None,
           atime_ns=None):
    _parent(path)
    with open(path, 'wb') as f:
        f.write(data)
    os.chmod(path, mode)
    if uid is not None or gid is not None:
        os.chown(path, -1 if uid is None else uid, -1 if gid is None else gid)
    if mtime_ns is not None or atime_ns is not None:
        st = os.stat(path)
        os.utime(path, ns=(
            st.st_atime_ns if atime_ns is None else atime_ns,
            st.st_mtime_ns if mtime_ns is None else mtime_ns))
    return path


def mkdir(path, mode=0o755, uid=None, gid=None):
    os.makedirs(path, exist_ok=True)
    os.chmod(path, mode)
    if uid is not None or gid is not None:
        os.chown(path, -1 if uid is None else uid, -1 if gid is None else gid)
    return path


def symlink(target, path):
    _parent(path)
    os.symlink(target, path)
    return path


def hardlink(src, dst):
    _parent(dst)
    os.link(src, dst)
    return dst


def whiteout(path):
    """Kernel-format whiteout: a character device 0:0."""
    _parent(path)
    os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))
    return path


def oci_whiteout(path):
    """OCI whiteout for path: an empty regular file .wh.NAME beside it."""
    d, name = os.path.split(path)
    return mkfile(join(d, '.wh.' + name))


def oci_opaque(dirpath):
    mkdir(dirpath)
    return mkfile(join(dirpath, '.wh..wh..opq'))


def opaque(dirpath, ns='trusted', value=b'y'):
    """Mark a directory opaque with {ns}.overlay.opaque."""
    mkdir(dirpath)
    os.setxattr(dirpath, ns + '.overlay.opaque', value)
    return dirpath


def xwhiteout(path, ns='trusted'):
    """Xattr whiteout: an empty file with {ns}.overlay.whiteout, inside a
    directory marked {ns}.overlay.opaque=x (which is what makes the kernel
    look for such files; "x" does not make the directory opaque)."""
    d = os.path.dirname(path)
    mkdir(d)
    os.setxattr(d, ns + '.overlay.opaque', b'x')
    mkfile(path)
    os.setxattr(path, ns + '.overlay.whiteout', b'')
    return path


def sparse(path, size, chunks, mode=0o644):
    """A sparse file of apparent size `size` with data only at the given
    {offset: bytes} chunks."""
    _parent(path)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, mode)
    try:
        for off, data in chunks.items():
            os.pwrite(fd, data, off)
        os.ftruncate(fd, size)
    finally:
        os.close(fd)
    os.chmod(path, mode)
    return path


def setx(path, name, value):
    os.setxattr(path, name, value, follow_symlinks=False)
    return path


def deep_dirs(base, names):
    """Create nested directories base/names[0]/names[1]/... using dir fds,
    so the total path may exceed PATH_MAX.  Returns an fd of the deepest
    directory (caller closes)."""
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    for n in names:
        try:
            os.mkdir(n, 0o755, dir_fd=fd)
        except FileExistsError:
            pass
        nfd = os.open(n, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    return fd


# --- syscalls Python lacks ------------------------------------------------

AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2
FALLOC_FL_KEEP_SIZE = 1
FALLOC_FL_PUNCH_HOLE = 2


def _oserror(what):
    e = ctypes.get_errno()
    raise OSError(e, '%s: %s' % (what, os.strerror(e)))


def renameat2(old, new, flags):
    libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                               ctypes.c_char_p, ctypes.c_uint]
    if libc.renameat2(AT_FDCWD, os.fsencode(old), AT_FDCWD, os.fsencode(new),
                      flags) != 0:
        _oserror('renameat2')


class _timespec(ctypes.Structure):
    _fields_ = [('tv_sec', ctypes.c_long), ('tv_nsec', ctypes.c_long)]


def utimensat(path, atime, mtime, follow=True):
    """atime/mtime: (sec, nsec) tuples or UTIME_OMIT / UTIME_NOW."""
    ts = (_timespec * 2)()
    for i, t in enumerate((atime, mtime)):
        if t in (UTIME_OMIT, UTIME_NOW):
            ts[i].tv_sec, ts[i].tv_nsec = 0, t
        else:
            ts[i].tv_sec, ts[i].tv_nsec = t
    flags = 0 if follow else 0x100  # AT_SYMLINK_NOFOLLOW
    if libc.utimensat(AT_FDCWD, os.fsencode(path), ts, flags) != 0:
        _oserror('utimensat')


def fallocate(fd, mode, offset, length):
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long,
                               ctypes.c_long]
    if libc.fallocate(fd, mode, offset, length) != 0:
        _oserror('fallocate')


# --- mount table ----------------------------------------------------------

def _unescape_mountinfo(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == '\\' and i + 3 < len(s) and s[i + 1:i + 4].isdigit():
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return ''.join(out)


def mounts():
    """List of (mountpoint, fstype, major:minor, source, super options)
    from /proc/self/mountinfo."""
    out = []
    with open('/proc/self/mountinfo') as f:
        for line in f:
            fields = line.split()
            sep = fields.index('-')
            out.append((_unescape_mountinfo(fields[4]), fields[sep + 1],
                        fields[2], _unescape_mountinfo(fields[sep + 2]),
                        fields[sep + 3] if len(fields) > sep + 3 else ''))
    return out


def mount_entry(path):
    """The topmost mount at path, or None."""
    found = [m for m in mounts() if m[0] == path]
    return found[-1] if found else None


def mounted(path):
    return any(m[0] == path for m in mounts())


def mounts_under(root):
    return [m[0] for m in mounts()
            if m[0] == root or m[0].startswith(root + '/')]


# --- escaping for layer lists ---------------------------------------------

def esc(path):
    """Escape a path for a colon separated layer list or an -o value."""
    return path.replace('\\', '\\\\').replace(':', '\\:').replace(',', '\\,')


# --- the union under test -------------------------------------------------

_live = []


def run_logged(argv, timeout=60):
    """Run argv with stdout/stderr in files (never pipes: a daemon that
    keeps a pipe open would make us wait for it).  Returns (rc, out, err)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.run(argv, stdout=out, stderr=err,
                           stdin=subprocess.DEVNULL, timeout=timeout)
        out.seek(0)
        err.seek(0)
        return (p.returncode, out.read().decode(errors='replace'),
                err.read().decode(errors='replace'))


CLONE_NEWNS = 0x00020000


def enter_private_mount_namespace():
    """Unshare the mount namespace and make every mount in it private, so
    what a test mounts or binds there is seen nowhere else.  Exits with a
    FAIL line if that is impossible."""
    if libc.unshare(CLONE_NEWNS) != 0:
        print('FAIL setup: unshare(CLONE_NEWNS): %s' %
              os.strerror(ctypes.get_errno()))
        sys.exit(1)
    rc, _o, err = run_logged(['mount', '--make-rprivate', '/'])
    if rc != 0:
        print('FAIL setup: mount --make-rprivate /: %s' % err.strip())
        sys.exit(1)


def sanitizer_report(text):
    return any(m in text for m in SANITIZER_MARKERS)


def run_cli(args, timeout=60):
    """Run unionmount with args (no mount bookkeeping).  Returns
    (rc, stdout, stderr); fails the case on a sanitizer report."""
    rc, out, err = run_logged([UNIONMOUNT] + list(args), timeout=timeout)
    if sanitizer_report(out + err):
        raise Fail('sanitizer report from %s:\n%s' % (args, err))
    return rc, out, err


class Union:
    """Temporary layers, a mount point and the mount of them.

    with Union(lowers=2) as u:
        mkfile(u.l(1, 'f'), b'x')        # build layers
        u.mount()                        # lowers are snapshotted here
        eq(read(u.m('f')), b'x', 'f')
    On exit: unmount, compare the lowers with the snapshot, remove all.
    """

    def __init__(self, lowers=1, upper=True):
        os.makedirs(TMPBASE, exist_ok=True)
        self.root = os.path.realpath(tempfile.mkdtemp(prefix='umtest.',
                                                      dir=TMPBASE))
        self.lowers = []
        for i in range(lowers):
            self.lowers.append(mkdir(join(self.root, 'lower%d' % (i + 1))))
        self.upper = mkdir(join(self.root, 'upper')) if upper else None
        self.work = mkdir(join(self.root, 'work')) if upper else None
        self.mnt = mkdir(join(self.root, 'mnt'))
        self.proc = None
        self.log = None
        self.nmounts = 0
        self.stderr = ''
        self.snap = None
        self.failed = False
        _live.append(self)

    # paths
    def l(self, i, rel=''):
        return join(self.lowers[i - 1], rel) if rel else self.lowers[i - 1]

    def u(self, rel=''):
        return join(self.upper, rel) if rel else self.upper

    def m(self, rel=''):
        return join(self.mnt, rel) if rel else self.mnt

    # mounting
    def default_argv(self, opts=()):
        args = []
        if opts:
            args += ['-o', ','.join(opts)]
        args.append(':'.join(esc(p) for p in self.lowers))
        if self.upper:
            args.append(self.upper)
        args.append(self.mnt)
        return args

    def kernel_options(self, kopts=None):
        o = 'lowerdir=' + ':'.join(esc(p) for p in self.lowers)
        if self.upper:
            o += ',upperdir=%s,workdir=%s' % (esc(self.upper), esc(self.work))
            o += ',' + (kopts if kopts is not None else 'redirect_dir=on')
        elif kopts:
            o += ',' + kopts
        return o

    def mount(self, opts=(), argv=None, kopts=None, wrapper=()):
        """Mount the union.  opts: -o options for unionmount; argv: the
        whole unionmount argument list instead of the default one; kopts:
        extra kernel overlayfs options replacing redirect_dir=on; wrapper:
        a command that execs unionmount (e.g. setpriv dropping caps)."""
        if self.snap is None:
            self.snap = {p: snapshot(p) for p in self.lowers}
        if KERNEL:
            rc, out, err = run_logged(['mount', '-t', 'overlay', 'overlay',
                                        '-o', self.kernel_options(kopts),
                                        self.mnt])
            if rc != 0:
                raise Fail('kernel overlay mount failed: %s' % err.strip())
            self.stderr = err
            return err
        args = list(argv) if argv is not None else self.default_argv(opts)
        if FOREGROUND:
            return self._mount_foreground(args, list(wrapper))
        rc, out, err = run_logged(list(wrapper) + [UNIONMOUNT] + args)
        self.stderr = err
        if sanitizer_report(err):
            raise Fail('sanitizer report while mounting:\n' + err)
        if rc != 0:
            raise Fail('expected exit 0 got %d from unionmount %s: %s' % (
                rc, ' '.join(args), err.strip()))
        if not mounted(self.mnt):
            raise Fail('unionmount exited 0 but %s is not mounted' % self.mnt)
        return err

    def _mount_foreground(self, args, wrapper=()):
        self.nmounts += 1
        self.log = join(self.root, 'daemon.%d.log' % self.nmounts)
        logf = open(self.log, 'wb')
        self.proc = subprocess.Popen(list(wrapper) + [UNIONMOUNT, '-f'] + args,
                                     stdout=logf,
                                     stderr=logf, stdin=subprocess.DEVNULL)
        logf.close()
        deadline = time.monotonic() + MOUNT_TIMEOUT
        while not mounted(self.mnt):
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                raise Fail('unionmount -f exited %d before mounting: %s' % (
                    rc, read(self.log).decode(errors='replace').strip()))
            if time.monotonic() > deadline:
                raise Fail('mount did not appear within %ds' % MOUNT_TIMEOUT)
            time.sleep(0.02)
        self.stderr = read(self.log).decode(errors='replace')
        return self.stderr

    def umount(self):
        """Unmount; fail if that is impossible or the daemon misbehaved."""
        problems = []
        daemons = [] if KERNEL or self.proc else _daemon_pids(self.mnt)
        if mounted(self.mnt):
            cmd = ['umount', self.mnt] if KERNEL else \
                ['fusermount3', '-u', self.mnt]
            err = ''
            for _ in range(50):
                rc, _o, err = run_logged(cmd)
                if rc == 0 or not mounted(self.mnt):
                    break
                time.sleep(0.1)
            else:
                problems.append('unmount failed (%s), lazily detached' %
                                err.strip())
                run_logged(['umount', '-l', self.mnt])
        deadline = time.monotonic() + 10
        while daemons and time.monotonic() < deadline:
            # a daemon must exit once unmounted (zombies do not count)
            daemons = [p for p in _daemon_pids(self.mnt) if p in daemons]
            if daemons:
                time.sleep(0.05)
        if daemons:
            problems.append('daemon %s still running 10s after unmount' %
                            daemons)
        if self.proc is not None:
            try:
                rc = self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
                problems.append('daemon still running 10s after unmount')
            self.proc = None
            text = read(self.log).decode(errors='replace')
            if rc != 0:
                problems.append('daemon exit status %d' % rc)
            if sanitizer_report(text):
                problems.append('sanitizer report:\n' + text)
        if problems:
            raise Fail('; '.join(problems))

    def remount(self, **kw):
        self.umount()
        self.mount(**kw)

    def check_lowers(self):
        if self.snap is None:
            return
        for p, before in self.snap.items():
            diff = snapshot_diff(before, snapshot(p))
            if diff:
                raise Fail('lower layer %s changed: %s' % (
                    os.path.basename(p), '; '.join(diff[:10])))

    def cleanup(self):
        """Unmount everything under root, kill our daemon, remove root.
        Never raises."""
        for mp in sorted(mounts_under(self.root), key=len, reverse=True):
            if KERNEL or not mp == self.mnt:
                run_logged(['umount', mp])
            else:
                run_logged(['fusermount3', '-u', mp])
            if mounted(mp):
                run_logged(['umount', '-l', mp])
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        if self in _live:
            _live.remove(self)
        if KEEP and self.failed:
            print('# kept %s' % self.root, file=sys.stderr)
            return
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, typ, val, tb):
        try:
            if typ is None:
                self.umount()
                self.check_lowers()
            else:
                self.failed = True
                try:
                    self.umount()
                except Fail:
                    pass
        except BaseException:
            self.failed = True
            raise
        finally:
            self.cleanup()
        return False


# --- lower layer snapshots ------------------------------------------------

def _hash_fd(fd, size):
    """sha256 over the data extents (offset, bytes) of a possibly sparse
    file, so a 1 GiB sparse file costs only its data."""
    h = hashlib.sha256()
    h.update(b'size %d\n' % size)
    off = 0
    while off < size:
        try:
            data = os.lseek(fd, off, os.SEEK_DATA)
        except OSError as e:
            if e.errno == errno.ENXIO:
                break
            raise
        hole = os.lseek(fd, data, os.SEEK_HOLE)
        h.update(b'@%d\n' % data)
        pos = data
        while pos < hole:
            chunk = os.pread(fd, min(1 << 20, hole - pos), pos)
            if not chunk:
                break
            h.update(chunk)
            pos += len(chunk)
        off = hole
    return h.hexdigest()


def _xattrs(proc_path):
    out = {}
    try:
        names = os.listxattr(proc_path, follow_symlinks=False)
    except OSError:
        return out
    for n in names:
        try:
            out[n] = os.getxattr(proc_path, n, follow_symlinks=False)
        except OSError as e:
            out[n] = 'errno %d' % e.errno
    return out


def snapshot(root):
    """{relpath: metadata tuple} for every object in the tree (fd based,
    so paths longer than PATH_MAX are fine).  atime is left out."""
    snap = {}

    def record(dirfd, name, rel):
        st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
        proc = '/proc/self/fd/%d/%s' % (dirfd, name)
        info = {
            'type': stat.S_IFMT(st.st_mode), 'mode': oct(st.st_mode),
            'uid': st.st_uid, 'gid': st.st_gid, 'mtime_ns': st.st_mtime_ns,
            'ctime_ns': st.st_ctime_ns, 'rdev': st.st_rdev,
            'nlink': st.st_nlink, 'ino': st.st_ino,
            'xattrs': _xattrs(proc),
        }
        if stat.S_ISLNK(st.st_mode):
            info['target'] = os.readlink(name, dir_fd=dirfd)
        elif stat.S_ISREG(st.st_mode):
            info['size'] = st.st_size
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NOATIME,
                         dir_fd=dirfd)
            try:
                info['sha256'] = _hash_fd(fd, st.st_size)
            finally:
                os.close(fd)
        snap[rel] = info
        if stat.S_ISDIR(st.st_mode):
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW |
                         os.O_NOATIME, dir_fd=dirfd)
            try:
                for ent in sorted(os.listdir(fd)):
                    record(fd, ent, rel + '/' + ent if rel else ent)
            finally:
                os.close(fd)

    parent = os.open(os.path.dirname(root), os.O_RDONLY | os.O_DIRECTORY)
    try:
        record(parent, os.path.basename(root), '')
    finally:
        os.close(parent)
    return snap


def snapshot_diff(a, b):
    out = []
    for rel in sorted(set(a) | set(b)):
        name = rel or '.'
        if rel not in b:
            out.append('%s removed' % name)
        elif rel not in a:
            out.append('%s added' % name)
        elif a[rel] != b[rel]:
            keys = [k for k in a[rel] if a[rel].get(k) != b[rel].get(k)]
            out.append('%s: %s' % (name, ', '.join(
                '%s %r -> %r' % (k, a[rel].get(k), b[rel].get(k))
                for k in keys)))
    return out


# --- cases and the runner -------------------------------------------------

_cases = []


def case(fn=None, *, unionmount_only=False, why=''):
    """Register a test case.  unionmount_only: skipped under kernel mode
    (the kernel does not implement it or behaves differently), why: said
    in the skip line."""
    def reg(f):
        _cases.append((f.__name__, f, unionmount_only, why))
        return f
    if fn is not None:
        return reg(fn)
    return reg


def _emergency_cleanup():
    for u in list(_live):
        u.cleanup()


def _on_signal(signum, frame):
    raise KeyboardInterrupt('signal %d' % signum)


_timed_out = []


def _watchdog(name):
    """Runs in a timer thread when a case takes too long: kill our own
    daemons and detach the mounts so the blocked case can return."""
    _timed_out.append(name)
    sys.stdout.write('# %s: timed out after %ds, aborting mounts\n' % (
        name, CASE_TIMEOUT))
    sys.stdout.flush()
    for u in list(_live):
        if u.proc is not None:
            u.proc.kill()
        for pid in _daemon_pids(u.mnt):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for mp in mounts_under(u.root):
            _abort_fuse_connection(mp)
            run_logged(['umount', '-l', mp])


def _abort_fuse_connection(mp):
    """Abort the FUSE connection of the mount at mp, if it is one: a daemon
    that deadlocked inside the kernel cannot exit, and every request to it
    would wait forever.  Found through mountinfo, never by a stat of mp."""
    entry = mount_entry(mp)
    if entry is None or not entry[1].startswith('fuse'):
        return
    conns = '/sys/fs/fuse/connections'
    try:
        if not os.listdir(conns):
            run_logged(['mount', '-t', 'fusectl', 'none', conns])
        with open(os.path.join(conns, entry[2].split(':')[1], 'abort'),
                  'w') as f:
            f.write('1')
    except OSError:
        pass


def _daemon_pids(mnt):
    """PIDs of unionmount daemons (started by us) serving mnt."""
    pids = []
    exe = os.path.realpath(UNIONMOUNT)
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            if os.path.realpath('/proc/%s/exe' % d) != exe:
                continue
            with open('/proc/%s/cmdline' % d, 'rb') as f:
                argv = f.read().split(b'\0')
        except OSError:
            continue
        if os.fsencode(mnt) in argv:
            pids.append(int(d))
    return pids


def preflight():
    """Exit 77 if the environment cannot run these tests at all."""
    if os.geteuid() != 0:
        print('skip: the integration tests need root')
        sys.exit(77)
    if KERNEL:
        return
    if not os.path.exists('/dev/fuse'):
        print('skip: /dev/fuse is missing')
        sys.exit(77)
    if not os.access(UNIONMOUNT, os.X_OK):
        print('FAIL setup: no unionmount executable at %s' % UNIONMOUNT)
        sys.exit(1)


def main():
    os.umask(0)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    preflight()
    only = set(sys.argv[1:])
    failed = skipped = ran = 0
    try:
        for name, fn, um_only, why in _cases:
            if only and name not in only:
                continue
            if um_only and KERNEL:
                print('skip %s: unionmount only%s' % (
                    name, ' (' + why + ')' if why else ''))
                skipped += 1
                continue
            timer = threading.Timer(CASE_TIMEOUT, _watchdog, (name,))
            timer.daemon = True
            timer.start()
            cwd = os.getcwd()
            try:
                fn()
                print('ok %s' % name)
                ran += 1
            except Skip as e:
                print('skip %s: %s' % (name, e))
                skipped += 1
            except Exception as e:
                late = ' (timed out after %ds, daemon killed)' % \
                    CASE_TIMEOUT if name in _timed_out else ''
                if isinstance(e, Fail):
                    print('FAIL %s: %s%s' % (name, e, late))
                else:
                    print('FAIL %s: unexpected %s: %s%s' % (
                        name, type(e).__name__, e, late))
                    traceback.print_exc(file=sys.stdout)
                failed += 1
            finally:
                timer.cancel()
                os.chdir(cwd)
                _emergency_cleanup()
            sys.stdout.flush()
    finally:
        _emergency_cleanup()
    if failed:
        sys.exit(1)
    if skipped and not ran:
        sys.exit(77)
    sys.exit(0)
