# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers for the unionmount-layer tests, on top of umtest.py.

Environment: LAYER (the unionmount-layer binary, default
build/src/layer/unionmount-layer), UNIONMOUNT as for umtest.
"""

import contextlib
import hashlib
import io
import os
import stat
import subprocess
import sys
import tarfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'integration'))
import umtest  # noqa: E402
from umtest import Fail, REPO, eq  # noqa: E402

LAYER = os.environ.get('LAYER') or os.path.join(
    REPO, 'build', 'src', 'layer', 'unionmount-layer')

PRIVATE = ('trusted.overlay.', 'user.overlay.', 'trusted.unionmount.',
           'user.unionmount.', 'security.unionmount.',
           'user.fuseoverlayfs.', 'security.fuseoverlayfs.',
           'user.containers.override_stat')


def run(args, stdin=None, env=None, wrapper=()):
    """(rc, stdout bytes, stderr str) of unionmount-layer args."""
    e = dict(os.environ)
    e.pop('SOURCE_DATE_EPOCH', None)
    if env:
        e.update(env)
    p = subprocess.run(list(wrapper) + [LAYER] + list(args), input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=e, timeout=120)
    err = p.stderr.decode(errors='replace')
    if umtest.sanitizer_report(err):
        raise Fail('sanitizer report from %s:\n%s' % (args, err))
    return p.returncode, p.stdout, err


def ok(args, **kw):
    """Run, require exit 0, return stdout as str."""
    rc, out, err = run(args, **kw)
    if rc != 0:
        raise Fail('unionmount-layer %s: exit %d: %s' % (
            ' '.join(args), rc, err.strip()))
    return out.decode()


def refused(args, what, **kw):
    """Run, require exit 2 with exactly one line on stderr; return it."""
    rc, out, err = run(args, **kw)
    lines = err.strip().split('\n')
    if rc != 2 or len(lines) != 1 or not lines[0]:
        raise Fail('%s: expected exit 2 with one line, got %d: %r' % (
            what, rc, err))
    return lines[0]


@contextlib.contextmanager
def impl(kernel):
    """Mount with kernel overlayfs (True) or unionmount inside."""
    old = umtest.KERNEL
    umtest.KERNEL = kernel
    try:
        yield
    finally:
        umtest.KERNEL = old


def sha(data):
    return hashlib.sha256(data).hexdigest()


def public_xattrs(path):
    out = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for n in names:
        if n.startswith(PRIVATE):
            continue
        out[n] = os.getxattr(path, n, follow_symlinks=False)
    return out


def view(root, mtime=True, xattrs=True):
    """{path: metadata} as a user of the tree sees it, plus the hard-link
    groups (sets of paths of one inode).  mtime in whole seconds (layer
    tarballs keep seconds), or left out."""
    out = {}
    inodes = {}
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            info = {'mode': oct(st.st_mode), 'uid': st.st_uid,
                    'gid': st.st_gid}
            if mtime and not stat.S_ISDIR(st.st_mode):
                info['mtime'] = int(st.st_mtime)
            if stat.S_ISLNK(st.st_mode):
                info['target'] = os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                with open(p, 'rb') as f:
                    info['sha256'] = sha(f.read())
                info['size'] = st.st_size
                if st.st_nlink > 1:
                    inodes.setdefault(st.st_ino, []).append(rel)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                info['rdev'] = (os.major(st.st_rdev), os.minor(st.st_rdev))
            if xattrs:
                info['xattrs'] = public_xattrs(p)
            out[rel] = info
    links = sorted(sorted(g) for g in inodes.values() if len(g) > 1)
    return out, links


def eq_view(got, want, what):
    gv, gl = got
    wv, wl = want
    problems = []
    for k in sorted(set(gv) | set(wv)):
        if k not in gv:
            problems.append('%s missing' % k)
        elif k not in wv:
            problems.append('%s extra' % k)
        elif gv[k] != wv[k]:
            problems.append('%s: got %r want %r' % (k, gv[k], wv[k]))
    if gl != wl:
        problems.append('hard links: got %r want %r' % (gl, wl))
    if problems:
        raise Fail('%s: %s' % (what, '; '.join(problems[:8])))


def tar_members(data):
    """[(name, type, mode, uid, gid, size, linkname, content, pax)]."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        for m in t.getmembers():
            content = t.extractfile(m).read() if m.isreg() else None
            pax = {k: v for k, v in m.pax_headers.items()}
            out.append((m.name, m.type, m.mode, m.uid, m.gid, m.size,
                        m.linkname, content, pax, m.mtime))
    return out


def export(upper, lowers=(), extra=(), env=None):
    """The tarball bytes and the printed digests {name: value}."""
    args = ['export', '-o', '-', '--no-progress']
    if lowers:
        args += ['--lowers', ':'.join(lowers)]
    rc, out, err = run(args + list(extra) + [upper], env=env)
    if rc != 0:
        raise Fail('export %s: exit %d: %s' % (upper, rc, err.strip()))
    digests = {}
    for line in err.strip().split('\n'):
        parts = line.split()
        if parts and parts[0] in ('diff_id', 'blob'):
            digests[parts[0]] = parts[1]
    return out, digests
