#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""End to end: layers made with unionmount, read by real consumers.

An image's life as in a container build: a busybox base layer, three
"RUN"-like steps each mounted with unionmount, changed (create, overwrite,
delete, rm -rf and recreate a directory, rename a directory (also one
renamed in a step and changed in the next), hard links, chmod, chown,
xattrs, symlinks, a fifo, a device node) and committed with
`unionmount-layer commit`; the layers written into an OCI image layout by
`unionmount-layer image` (twice: byte-identical), pushed with skopeo to a
private docker-registry this test starts on 127.0.0.1, pulled back with
podman into a private storage, run, and compared exactly with what the
last unionmount mount showed: inside `podman run` (a busybox listing, the
same script run in a chroot of the union) and on the pulled image's root
file system (names, types, modes, owners, sizes, content, symlinks, hard
links, xattrs).  `umoci unpack` of the layout must agree too.

The other direction: an image built by podman (RUN steps), saved with
`podman save --format oci-archive`, imported layer by layer with
`unionmount-layer import` and mounted with unionmount, gives exactly what
`podman run` shows.

podman writes /var/lib/containers/cache and /run/containers whatever its
configuration says, so the test runs in a private mount namespace with
empty directories bound over those two.  The registry gets its own config
file, storage directory and free port, and is stopped by its PID.

Exit 0 (pass), 1 (fail) or 77 (skip: no root or no /dev/fuse).
Environment: UNIONMOUNT, UNIONMOUNT_LAYER (default build/...),
UM_TEST_KEEP=1 keeps the temporary directory.
"""

import difflib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'integration'))
import umtest  # noqa: E402
from umtest import Fail, eq, join, mkdir, mkfile  # noqa: E402

LAYERTOOL = (os.environ.get('UNIONMOUNT_LAYER') or os.environ.get('LAYER') or
             os.path.join(umtest.REPO, 'build', 'src', 'layer',
                          'unionmount-layer'))
PACKAGES = ['podman', 'runc', 'skopeo', 'umoci', 'docker-registry',
            'busybox-static']
MTIME = 1700000000  # --mtime of every export: byte-identical layers
T = None  # the temporary directory of the whole run


def run(argv, what, timeout=120, env=None, input=None):
    """Run argv; its stdout, or Fail with its stderr."""
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, env=env, input=input)
    if p.returncode != 0:
        raise Fail('%s: %s exited %d: %s' % (
            what, ' '.join(argv), p.returncode,
            p.stderr.decode(errors='replace').strip()[-2000:]))
    return p.stdout.decode(errors='replace')


def layer(*args, what=None, timeout=120):
    out = run([LAYERTOOL] + list(args), what or 'unionmount-layer ' +
              args[0], timeout=timeout)
    return out


def has_command(name):
    p = subprocess.run([LAYERTOOL, name, '--help'], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return p.returncode == 0


# --- trees ----------------------------------------------------------------

# What podman puts into every container (mounts and mount points), not
# the image's: left out of the listings.
PODMAN_OWN = ('proc', 'sys', 'dev', 'run', 'etc/hosts', 'etc/hostname',
              'etc/resolv.conf', 'etc/mtab')

SKIP = ('proc', 'sys', 'dev', 'run')

# One line per object, made by the image's own busybox, so the same script
# runs inside `podman run` and in a chroot of the union: path, mode,
# owner, and for regular files links, size and md5; symlink targets;
# device numbers; inode numbers of multiply-linked files, replaced by the
# first name of each inode afterwards.
LIST = '''cd / && find . -mindepth 1 -xdev \\( %s \\) -prune -o -print | sort |
while IFS= read -r f; do
	if [ -L "$f" ]; then
		echo "$f $(stat -c '%%A %%u:%%g' "$f") -> $(readlink "$f")"
	elif [ -f "$f" ]; then
		echo "$f $(stat -c '%%A %%u:%%g %%h %%s %%i' "$f") $(md5sum < "$f" | cut -c1-32)"
	elif [ -d "$f" ]; then
		echo "$f $(stat -c '%%A %%u:%%g' "$f")"
	else
		echo "$f $(stat -c '%%A %%u:%%g %%t:%%T' "$f")"
	fi
done''' % ' -o '.join('-path ./' + p for p in PODMAN_OWN)


def eq_text(got, want, what):
    """Fail with the differing lines (a unified diff) if got != want."""
    if got == want:
        return
    diff = list(difflib.unified_diff(want.splitlines(), got.splitlines(),
                                     'expected', 'got', lineterm='', n=1))
    raise Fail('%s differs:\n%s' % (what, '\n'.join(diff[:60])))


def norm_listing(text):
    """Replace the inode numbers of regular files by the first name of
    that inode (numbers differ between file systems, sharing must not)."""
    first = {}
    out = []
    for line in text.splitlines():
        parts = line.split(' ')
        if len(parts) == 7 and parts[1].startswith('-'):
            ino = parts[5]
            parts[5] = 'ino=' + first.setdefault(ino, parts[0])
        out.append(' '.join(parts))
    return '\n'.join(out)


def tree(root, skip=(), root_dir=True, nlink='stat'):
    """{relpath: metadata} of a tree, for exact comparison: type, mode,
    owner, size, sha256, symlink target, device, xattrs (without the
    overlay's own), links of regular files and which name each shares an
    inode with.  Directory link counts are left out: merged directories
    report 1 in unionmount, as in kernel overlayfs.  root_dir=False leaves
    out the root directory itself (containers-storage makes it 0555).
    nlink='names' counts the names of each inode in the tree instead of
    st_nlink: a union (and podman's overlay) shows the link count of the
    lower file even when an upper layer whited out one of its names,
    while a flat extraction (umoci) shows the names left."""
    snap = umtest.snapshot(root)
    first = {}
    out = {}
    for rel in sorted(snap):
        if any(rel == s or rel.startswith(s + '/') for s in skip):
            continue
        if not rel and not root_dir:
            continue
        i = snap[rel]
        t = {k: i[k] for k in ('type', 'mode', 'uid', 'gid')}
        t['xattrs'] = {k: v for k, v in i['xattrs'].items()
                       if not k.startswith(('trusted.overlay.',
                                            'user.overlay.',
                                            'trusted.unionmount.',
                                            'user.unionmount.',
                                            'security.selinux'))}
        if stat.S_ISREG(i['type']):
            t['size'] = i['size']
            t['sha256'] = i['sha256']
            t['nlink'] = i['nlink']
            t['same_as'] = first.setdefault(i['ino'], rel)
        elif stat.S_ISLNK(i['type']):
            t['target'] = i['target']
        elif stat.S_ISCHR(i['type']) or stat.S_ISBLK(i['type']):
            t['rdev'] = i['rdev']
        out[rel] = t
    if nlink == 'names':
        out = tree_nlink_names(out)
    return out


def tree_nlink_names(t):
    names = {}
    for v in t.values():
        if 'same_as' in v:
            names[v['same_as']] = names.get(v['same_as'], 0) + 1
    return {k: dict(v, nlink=names[v['same_as']]) if 'same_as' in v else v
            for k, v in t.items()}


def same_tree(got, want, what):
    if '' not in got or '' not in want:
        # one side left out the root directory: compare without it
        got = {k: v for k, v in got.items() if k}
        want = {k: v for k, v in want.items() if k}
    diff = umtest.snapshot_diff(want, got)
    if diff:
        raise Fail('%s differs (%d): %s' % (what, len(diff),
                                            '; '.join(diff[:12])))


# --- the layers -------------------------------------------------------------

def make_base(d):
    """A small root file system: busybox and a /data tree that the steps
    change in every way a layer can record."""
    mkdir(join(d, 'bin'))
    shutil.copy2('/bin/busybox', join(d, 'bin', 'busybox'))
    applets = run([join(d, 'bin', 'busybox'), '--list'], 'busybox --list')
    for a in applets.split():
        if a != 'busybox':
            os.symlink('busybox', join(d, 'bin', a))
    for sub in ('etc', 'tmp', 'root', 'proc', 'sys', 'dev', 'run'):
        mkdir(join(d, sub), 0o1777 if sub == 'tmp' else 0o755)
    mkfile(join(d, 'etc/passwd'), b'root:x:0:0:root:/root:/bin/sh\n')
    mkfile(join(d, 'etc/group'), b'root:x:0:\n')
    D = join(d, 'data')
    mkdir(D)
    mkfile(join(D, 'keep/f'), b'one\n')
    mkfile(join(D, 'keep/g'), b'gee\n')
    mkfile(join(D, 'over'), b'original\n')
    mkfile(join(D, 'gone/sub/g'), b'g\n')
    mkfile(join(D, 'gone/t'), b't\n', mode=0o600)
    mkfile(join(D, 'mv/a'), b'a\n')
    mkfile(join(D, 'mv/sub/b'), b'b\n', uid=7, gid=8)
    mkfile(join(D, 'mv/sub/deeper/d'), b'd\n')
    umtest.setx(join(D, 'mv/sub'), 'user.dir', b'on a renamed dir')
    mkfile(join(D, 'h'), b'linked\n')
    os.link(join(D, 'h'), join(D, 'h2'))
    mkfile(join(D, 'hl/x'), b'x\n')
    os.link(join(D, 'hl/x'), join(D, 'hl/y'))
    mkfile(join(D, 'owned'), b'mine\n', mode=0o640, uid=1000, gid=1000)
    mkfile(join(D, 'xa'), b'attrs\n')
    umtest.setx(join(D, 'xa'), 'user.k', b'v')
    umtest.setx(join(D, 'xa'), 'user.bin', bytes(range(1, 32)))
    os.symlink('keep/f', join(D, 'sl'))
    os.mkfifo(join(D, 'fifo'), 0o640)
    os.mknod(join(D, 'cdev'), stat.S_IFCHR | 0o620, os.makedev(1, 3))
    mkdir(join(D, 'empty'), 0o711)
    mkfile(join(D, 'r1/x'), b'x\n')
    mkfile(join(D, 'r1/sub/y'), b'y\n', mode=0o640)
    mkfile(join(D, 'r1/sub/z'), b'z\n')
    mkfile(join(D, 'big'), bytes((i * 7) & 0xff for i in range(1 << 20)))
    mkfile(join(D, 'setuid'), b'#!/bin/sh\n', mode=0o4755)


def step1(m):
    D = join(m, 'data')
    mkfile(join(D, 'new'), b'created in step 1\n')
    with open(join(D, 'over'), 'wb') as f:
        f.write(b'overwritten\n')
    os.unlink(join(D, 'keep/g'))
    shutil.rmtree(join(D, 'gone'))
    mkdir(join(D, 'gone'), 0o750)
    mkfile(join(D, 'gone/n'), b'again\n')
    os.link(join(D, 'new'), join(D, 'new2'))
    os.link(join(D, 'keep/f'), join(D, 'keep/f_link'))
    os.chmod(join(D, 'keep/f'), 0o600)
    os.chmod(join(D, 'h'), 0o4755)
    os.chown(join(D, 'xa'), 1001, 1002)
    umtest.setx(join(D, 'new'), 'user.new', b'1')
    os.removexattr(join(D, 'xa'), 'user.bin')
    # a directory renamed in one step and changed in the next: the
    # redirect sits in a lower layer then
    os.rename(join(D, 'r1'), join(D, 'r1moved'))


def step2(m):
    D = join(m, 'data')
    shutil.rmtree(join(D, 'mv/sub/deeper'))
    with open(join(D, 'mv/a'), 'ab') as f:
        f.write(b'appended\n')
    mkfile(join(D, 'mv/from2'), b'step 2\n')
    with open(join(D, 'r1moved/x'), 'ab') as f:
        f.write(b'x again\n')
    os.unlink(join(D, 'r1moved/sub/y'))
    mkfile(join(D, 'r1moved/sub/new'), b'new in a renamed dir\n')
    os.unlink(join(D, 'sl'))
    os.symlink('/bin/busybox', join(D, 'sl2'))
    with open(join(D, 'big'), 'r+b') as f:
        f.seek(300000)
        f.write(b'step two was here')
    os.unlink(join(D, 'fifo'))
    mkdir(join(D, 'deep/a/b/c'))
    mkfile(join(D, 'deep/a/b/c/leaf'), b'leaf\n', uid=5, gid=6)
    os.chmod(join(D, 'empty'), 0o700)


def step3(m):
    D = join(m, 'data')
    os.unlink(join(D, 'new2'))
    os.link(join(D, 'over'), join(D, 'over_l'))
    os.rename(join(D, 'over_l'), join(D, 'ol'))
    os.chmod(join(D, 'gone'), 0o700)
    os.unlink(join(D, 'h2'))
    os.unlink(join(D, 'hl/y'))
    mkfile(join(D, 'hl/y'), b'y now\n')
    shutil.rmtree(join(D, 'deep/a'))
    mkfile(join(D, 'deep/a'), b'a file where a dir was\n')
    # renamed directories: their lower content comes along (a redirect
    # in the upper, expanded by export)
    os.rename(join(D, 'mv'), join(D, 'moved'))
    mkfile(join(D, 'moved/c'), b'c\n')
    os.rename(join(D, 'keep'), join(D, 'kept'))
    umtest.setx(join(D, 'kept'), 'user.kept', b'yes')
    os.rename(join(D, 'moved/sub'), join(D, 'subout'))


def mount_union(lowers, upper=None, work=None):
    """A Union over the given layer directories (topmost first)."""
    u = umtest.Union(lowers=0, upper=False)
    opts = 'lowerdir=' + ':'.join(umtest.esc(p) for p in lowers)
    if upper:
        opts += ',upperdir=%s,workdir=%s' % (umtest.esc(upper),
                                             umtest.esc(work))
    u.mount(argv=['-o', opts, u.mnt])
    return u


def chroot_listing(root):
    return norm_listing(run(['chroot', root, '/bin/sh', '-c', LIST],
                            'listing in a chroot of the union'))


# --- podman, the registry ----------------------------------------------------

def podman_env():
    env = dict(os.environ)
    env['CONTAINERS_STORAGE_CONF'] = join(T, 'storage.conf')
    env['CONTAINERS_CONF'] = join(T, 'containers.conf')
    env['TMPDIR'] = join(T, 'tmp')
    return env


def podman(*args, what='podman', timeout=180):
    return run(['podman', '--tmpdir', join(T, 'libpodtmp'),
                '--network-config-dir', join(T, 'networks')] + list(args),
               what, timeout=timeout, env=podman_env())


PODMAN_RUN = ['run', '--runtime', 'runc', '--network', 'none',
              '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1000:1000']


def setup_podman():
    for d in ('tmp', 'libpodtmp', 'networks', 'shadow-lib', 'shadow-run'):
        mkdir(join(T, d))
    for d, s in (('/var/lib/containers', 'shadow-lib'),
                 ('/run/containers', 'shadow-run')):
        run(['mount', '--bind', join(T, s), d], 'shadow ' + d)
    with open(join(T, 'storage.conf'), 'w') as f:
        f.write('[storage]\ndriver = "overlay"\n'
                'graphroot = "%s/root"\nrunroot = "%s/run"\n' % (T, T))
    with open(join(T, 'containers.conf'), 'w') as f:
        f.write('[engine]\ncgroup_manager = "cgroupfs"\n'
                'events_logger = "file"\n'
                'events_logfile_path = "%s/events.log"\n'
                'tmp_dir = "%s/libpodtmp"\nruntime = "runc"\n'
                '[network]\nnetwork_config_dir = "%s/networks"\n' %
                (T, T, T))


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Registry:
    """docker-registry on 127.0.0.1 with its own config and storage."""

    def __init__(self):
        self.port = free_port()
        self.dir = mkdir(join(T, 'registry'))
        cfg = join(T, 'registry.yml')
        with open(cfg, 'w') as f:
            f.write('version: 0.1\nlog:\n  level: warn\n'
                    '  accesslog:\n    disabled: true\n'
                    'storage:\n  filesystem:\n    rootdirectory: %s\n'
                    'http:\n  addr: 127.0.0.1:%d\n' % (self.dir, self.port))
        self.log = open(join(T, 'registry.log'), 'wb')
        self.proc = subprocess.Popen(['docker-registry', 'serve', cfg],
                                     stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        # wait until it listens (or dies); not a timed assertion: the
        # deadline only bounds a registry that never comes up
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise Fail('docker-registry exited %d: %s' % (
                    self.proc.returncode, open(self.log.name).read()))
            try:
                socket.create_connection(('127.0.0.1', self.port),
                                         timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise Fail('docker-registry did not listen on %d' %
                               self.port)
                time.sleep(0.05)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.log.close()


# --- the cases ---------------------------------------------------------------

RESULTS = []


def ok(name):
    print('ok %s' % name)
    sys.stdout.flush()


LAYERS = []  # the committed layer directories, bottom first


def build_layers():
    """base + three steps; returns (layer dirs bottom first, the tree and
    the listing of the last step's mount)."""
    base = mkdir(join(T, 'layers/base'))
    make_base(base)
    layers = [base]
    commit = has_command('commit')
    for k, fn in ((1, step1), (2, step2), (3, step3)):
        upper = mkdir(join(T, 'steps/upper%d' % k))
        work = mkdir(join(T, 'steps/work%d' % k))
        u = mount_union(layers[::-1], upper, work)
        try:
            fn(u.mnt)
            if k == 3:
                want_tree = tree(u.mnt, skip=SKIP)
                want_list = chroot_listing(u.mnt)
            u.umount()
            u.check_lowers()
        finally:
            u.cleanup()
        if commit:
            new = join(T, 'layers/step%d' % k)
            # --workdir: the union's hard-link index is there
            layer('commit', '--lowers', ':'.join(layers[::-1]),
                  '--workdir', work, upper, new)
            eq(os.listdir(upper), [], 'upper %d empty after commit' % k)
        else:
            new = upper
        layers.append(new)
    LAYERS[:] = layers
    ok('steps_committed' if commit else 'steps_uppers (no commit command)')

    # the committed stack, mounted read-only, is still what the step saw:
    # by kernel overlayfs (the reference for the on-disk format) and by
    # unionmount (which must follow the redirects in lower layers)
    km = mkdir(join(T, 'kmnt'))
    run(['mount', '-t', 'overlay', 'overlay', '-o',
         'redirect_dir=follow,lowerdir=' + ':'.join(
             umtest.esc(p) for p in layers[::-1]), km], 'kernel overlay')
    try:
        same_tree(tree(km, skip=SKIP), want_tree,
                  'the committed stack under kernel overlayfs')
    finally:
        run(['umount', km], 'umount kernel overlay')
    ok('committed_stack_kernel_overlayfs')
    return layers, want_tree, want_list


def check_committed_union(layers, want_tree, want_list):
    u = mount_union(layers[::-1])
    try:
        same_tree(tree(u.mnt, skip=SKIP), want_tree,
                  'the committed stack under unionmount')
        eq_text(chroot_listing(u.mnt), want_list,
                'listing of the committed stack')
        u.umount()
    finally:
        u.cleanup()
    ok('committed_stack_unionmount')


def check_image_determinism(layers):
    """image twice: byte-identical layouts; from exported tarballs
    (gzip and zstd) the same DiffIDs."""
    a, b = join(T, 'oci'), join(T, 'oci-again')
    for d in (a, b):
        layer('image', '-o', d, '--tag', 'e2e', '--mtime', str(MTIME),
              *layers)
    ta, tb = umtest.snapshot(a), umtest.snapshot(b)
    la = {k: (v['type'], v.get('sha256')) for k, v in ta.items() if k}
    lb = {k: (v['type'], v.get('sha256')) for k, v in tb.items() if k}
    eq(la, lb, 'two image runs')
    ok('image_byte_identical')

    if not has_command('export'):
        return a
    tars = []
    for i, d in enumerate(layers):
        out = join(T, 'export%d.tar' % i)
        comp = ('gzip', 'zstd', 'none')[i % 3]
        args = ['export', '--mtime', str(MTIME), '--compress', comp]
        if i:
            args += ['--lowers', ':'.join(layers[:i][::-1])]
        layer(*args, d, '-o', out)
        tars.append(out)
    c = join(T, 'oci-tars')
    info = json.loads(layer('image', '-o', c, '--json', '--mtime',
                            str(MTIME), *tars))
    mine = json.loads(layer('image', '-o', join(T, 'oci-json'), '--json',
                            '--mtime', str(MTIME), *layers))
    eq([x['diff_id'] for x in info['layers']],
       [x['diff_id'] for x in mine['layers']], 'DiffIDs of tarballs')
    ok('image_from_tarballs_same_diffids')
    return a


def check_registry_podman(oci, want_tree, want_list):
    reg = Registry()
    try:
        ref = '127.0.0.1:%d/umtest/e2e:1' % reg.port
        run(['skopeo', 'copy', '--quiet', '--dest-tls-verify=false',
             'oci:%s:e2e' % oci, 'docker://' + ref], 'skopeo copy')
        ok('skopeo_push')
        podman('pull', '--quiet', '--tls-verify=false', ref,
               what='podman pull')
        ok('podman_pull')
    finally:
        reg.stop()
    # the layout itself, pulled through podman's oci: transport, is the
    # same image: podman's image ID is the config's digest
    cfg = json.loads(layer('image', '-o', join(T, 'oci-json2'), '--json',
                           '--mtime', str(MTIME), '--tag', 'e2e',
                           *LAYERS))['config']
    podman('pull', '--quiet', 'oci:%s:e2e' % oci, what='podman pull oci:')
    ids = podman('images', '--no-trunc', '--format', '{{.ID}}',
                 what='podman images').split()
    eq(sorted(set(i.split(':')[-1] for i in ids)), [cfg.split(':')[1]],
       'image IDs (config digest)')
    ok('podman_pull_oci_layout')
    got = norm_listing(podman(*PODMAN_RUN, '--rm', ref, '/bin/sh', '-c',
                              LIST, what='podman run'))
    eq_text(got, want_list, 'listing inside podman run')
    ok('podman_run_listing')
    mp = podman('image', 'mount', ref, what='podman image mount').strip()
    try:
        same_tree(tree(mp, skip=SKIP,
                       root_dir=False), want_tree, 'the pulled image')
    finally:
        podman('image', 'unmount', ref, what='podman image unmount')
    ok('podman_image_tree')


def check_umoci(oci, want_tree):
    bundle = join(T, 'bundle')
    run(['umoci', 'unpack', '--image', '%s:e2e' % oci, bundle],
        'umoci unpack')
    same_tree(tree(join(bundle, 'rootfs'), skip=SKIP, nlink='names'),
              tree_nlink_names(want_tree), 'umoci unpack')
    ok('umoci_unpack')


CONTAINERFILE = '''FROM localhost/e2ebase:1
RUN mkdir -p /w/keep /w/gone/sub /w/mv/s && echo one > /w/keep/f && \
    echo g > /w/gone/sub/g && echo orig > /w/over && echo h > /w/h && \
    echo m > /w/mv/s/m && ln /w/h /w/h2 && ln -s ../keep/f /w/mv/l && \
    chown 12:34 /w/keep/f && setfattr -n user.p -v podman /w/over 2>/dev/null; \
    mkfifo /w/fifo && chmod 640 /w/over
RUN rm -rf /w/gone && mkdir /w/gone && echo again > /w/gone/n && \
    echo new > /w/over && chmod 600 /w/keep/f && rm /w/h2 && \
    mv /w/mv /w/moved && rm /bin/vi
RUN ln /w/h /w/h3 && chmod 4755 /w/h && rm -r /w/keep && \
    mkdir -m 751 /w/keep && echo f2 > /w/keep/f2 && rm /w/fifo
'''


def check_podman_save_import(base):
    if not has_command('import'):
        raise Fail('unionmount-layer has no import command')
    tar = join(T, 'base.tar')
    run(['tar', '-C', base, '--xattrs', '-cf', tar, '.'], 'tar of base')
    podman('import', tar, 'localhost/e2ebase:1', what='podman import')
    ctx = mkdir(join(T, 'ctx'))
    mkfile(join(ctx, 'Containerfile'), CONTAINERFILE.encode())
    podman('build', '--isolation', 'chroot', '-t', 'localhost/e2esaved:1',
           ctx, what='podman build', timeout=300)
    want_list = norm_listing(podman(*PODMAN_RUN, '--rm',
                                    'localhost/e2esaved:1', '/bin/sh', '-c',
                                    LIST, what='podman run'))
    mp = podman('image', 'mount', 'localhost/e2esaved:1').strip()
    try:
        want_tree = tree(mp, skip=SKIP,
                         root_dir=False)
    finally:
        podman('image', 'unmount', 'localhost/e2esaved:1')
    archive = join(T, 'saved.tar')
    podman('save', '--format', 'oci-archive', '-o', archive,
           'localhost/e2esaved:1', what='podman save')
    sd = mkdir(join(T, 'saved'))
    run(['tar', '-C', sd, '-xf', archive], 'untar the oci-archive')
    with open(join(sd, 'index.json')) as f:
        mdigest = json.load(f)['manifests'][0]['digest']
    with open(join(sd, 'blobs/sha256', mdigest.split(':')[1])) as f:
        manifest = json.load(f)
    eq(len(manifest['layers']), 4, 'layers in the saved image')
    dirs = []
    for i, l in enumerate(manifest['layers']):
        d = join(T, 'imported/%d' % i)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        layer('import', join(sd, 'blobs/sha256', l['digest'].split(':')[1]),
              d)
        dirs.append(d)
    ok('import_saved_layers')
    u = mount_union(dirs[::-1])
    try:
        same_tree(tree(u.mnt, skip=SKIP), want_tree,
                  'imported layers mounted')
        eq_text(chroot_listing(u.mnt), want_list,
                'listing of the imported layers vs podman run')
        u.umount()
    finally:
        u.cleanup()
    ok('imported_layers_match_podman_run')


def main():
    global T
    umtest.preflight()
    if not os.access(LAYERTOOL, os.X_OK):
        print('FAIL setup: no unionmount-layer executable at %s' % LAYERTOOL)
        sys.exit(1)
    missing = [p for p in PACKAGES if subprocess.run(
        ['dpkg-query', '-W', '-f=${Status}', p], stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL).stdout.decode().find(
            'install ok installed') < 0]
    if missing:
        print('# installing: %s' % ' '.join(missing))
        p = subprocess.run(['apt-get', 'install', '-y'] + missing,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE,
                           env=dict(os.environ,
                                    DEBIAN_FRONTEND='noninteractive'))
        if p.returncode != 0:
            print('FAIL setup: apt-get install %s' % ' '.join(missing))
            sys.exit(1)
    os.umask(0o022)
    # directories podman writes outside its roots: made to exist so
    # that they can be shadowed, removed again at the end
    created = [d for d in ('/var/lib/containers', '/run/containers')
               if not os.path.exists(d)]
    for d in created:
        os.makedirs(d)
    T = os.path.realpath(tempfile.mkdtemp(prefix='umlayer.',
                                          dir=umtest.TMPBASE))
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        # the child does the work in a private mount namespace
        rc = 1
        try:
            umtest.enter_private_mount_namespace()
            setup_podman()
            rc = cases()
        except BaseException:
            print('FAIL setup: unexpected exception')
            traceback.print_exc(file=sys.stdout)
        finally:
            sys.stdout.flush()
            os._exit(rc)
    _, status = os.waitpid(pid, 0)
    failed = os.waitstatus_to_exitcode(status)
    for d in created:
        # only if still empty: another run may be using it now
        try:
            os.rmdir(d)
        except OSError:
            pass
    if os.environ.get('UM_TEST_KEEP') == '1':
        print('# kept %s' % T)
    else:
        subprocess.run(['rm', '-rf', '--one-file-system', T])
    sys.exit(1 if failed else 0)


def cases():
    failed = 0
    try:
        layers, want_tree, want_list = build_layers()
        oci = check_image_determinism(layers)
        for name, fn, args in (
                ('committed_stack_unionmount', check_committed_union,
                 (layers, want_tree, want_list)),
                ('registry', check_registry_podman,
                 (oci, want_tree, want_list)),
                ('umoci', check_umoci, (oci, want_tree)),
                ('podman_save', check_podman_save_import,
                 (layers[0],))):
            try:
                fn(*args)
            except Exception as e:
                print('FAIL %s: %s' % (name, e))
                if not isinstance(e, Fail):
                    traceback.print_exc(file=sys.stdout)
                failed += 1
    except Exception as e:
        print('FAIL layers: %s' % e)
        if not isinstance(e, Fail):
            traceback.print_exc(file=sys.stdout)
        failed += 1
    finally:
        try:
            podman('rm', '-a', '-f', '-t', '0')
            podman('rmi', '-a', '-f')
        except Fail as e:
            print('# cleanup: %s' % e)
        umtest._emergency_cleanup()
        for mp in sorted(umtest.mounts_under(T), key=len, reverse=True):
            subprocess.run(['umount', mp])
            if umtest.mounted(mp):
                subprocess.run(['umount', '-l', mp])
    return 1 if failed else 0


if __name__ == '__main__':
    main()
