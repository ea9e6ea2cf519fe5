#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Union filesystem benchmark: unionmount against kernel overlayfs,
fuse-overlayfs, unionfs-fuse and a plain directory, on the same layers.

Run it through bench/run; see bench/README.md for what each workload measures.
Python 3 standard library only.
"""

import argparse
import datetime
import io
import json
import math
import os
import random
import shlex
import shutil
import signal
import socket
import stat
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)

# Bump when the generated data changes shape, so stale caches are not reused.
DATA_VERSION = 1
NLAYERS = 24
TREE_LAYERS = range(17, NLAYERS + 1)  # the distro tree lives in L17..L24
MIB = 1 << 20

SCALES = {
    'full': dict(tree_files=30000, tree_dirs=3000, big_entries=100000,
                 blob_mib=1024, deep_files=10000, deep_dirs=100,
                 tar_files=10000, c_files=1000, seqwrite_mib=1024,
                 fio_write_mib=256, reps=3),
    'quick': dict(tree_files=3000, tree_dirs=300, big_entries=10000,
                  blob_mib=128, deep_files=1000, deep_dirs=10,
                  tar_files=1000, c_files=100, seqwrite_mib=128,
                  fio_write_mib=32, reps=2),
}

SYSTEMS = ['plain', 'kernel', 'fuse-overlayfs', 'unionfs-fuse', 'unionmount',
           'unionmount-3.18']
SYSTEM_LABELS = {
    'plain': 'plain dir',
    'kernel': 'kernel overlayfs',
    'fuse-overlayfs': 'fuse-overlayfs',
    'unionfs-fuse': 'unionfs-fuse',
    'unionmount': 'unionmount',
    'unionmount-3.18': 'unionmount (libfuse 3.18)',
}
URING_PARAM = '/sys/module/fuse/parameters/enable_uring'
# Debian packages the benchmark needs, keyed by the command that must exist.
DEPS = {'fuse-overlayfs': 'fuse-overlayfs', 'unionfs': 'unionfs-fuse',
        'fio': 'fio', 'gnuplot': 'gnuplot-nox', 'make': 'make', 'gcc': 'gcc'}

WORDS = ('lib', 'share', 'doc', 'bin', 'python3', 'perl', 'locale', 'man',
         'icons', 'fonts', 'include', 'linux', 'gnu', 'x86_64', 'systemd',
         'dbus', 'udev', 'ssl', 'certs', 'apt', 'dpkg', 'info', 'zoneinfo',
         'terminfo', 'mime', 'pixmaps', 'applications', 'glib', 'gtk', 'qt5',
         'xml', 'sgml', 'vim', 'bash', 'zsh', 'cron', 'network', 'pam',
         'security', 'sudo', 'ldap', 'kernel', 'modules', 'firmware', 'boot',
         'grub', 'tmpfiles', 'sysctl', 'polkit', 'gconv', 'cups', 'sane',
         'alsa', 'pulse', 'X11', 'mesa', 'vulkan', 'dri', 'gstreamer', 'misc')
EXTS = ('', '.so', '.h', '.py', '.pyc', '.conf', '.txt', '.gz', '.mo', '.png',
        '.html', '.pl', '.1.gz', '.service', '.json')


class WorkloadError(Exception):
    pass


def log(msg=''):
    print(msg, flush=True)


def q(path):
    return shlex.quote(path)


# ---------------------------------------------------------------- data ----

class TreeGen:
    """Plans and writes the distro-like tree across TREE_LAYERS.

    Layers are processed bottom-up while a model of the merged view is kept,
    so that whiteouts only hide what exists and the expected counts are known.
    Dirs that got whited out are never used again: unionfs-fuse does not read
    overlayfs whiteouts, and keeping names dead keeps `find -type f` counts
    comparable across all systems.
    """

    def __init__(self, rnd, root, nfiles, ndirs):
        self.rnd = rnd
        self.root = root  # directory holding L01..L24
        self.nfiles = nfiles
        self.skeleton = ['tree', 'tree/usr', 'tree/usr/bin', 'tree/usr/lib',
                         'tree/usr/share', 'tree/usr/share/doc',
                         'tree/usr/include', 'tree/etc', 'tree/var',
                         'tree/var/lib', 'tree/opt']
        self.dirs = list(self.skeleton)
        self.intro = {d: NLAYERS for d in self.skeleton}
        names = set(self.dirs)
        while len(self.dirs) < ndirs:
            parent = rnd.choice(self.dirs)
            name = rnd.choice(WORDS)
            if rnd.random() < 0.5:
                name += '-%d' % rnd.randrange(1000)
            path = parent + '/' + name
            if path in names:
                continue
            names.add(path)
            self.dirs.append(path)
            pin = self.intro[parent]
            self.intro[path] = pin if rnd.random() < 0.75 else \
                rnd.randint(TREE_LAYERS[0], pin)
        self.merged = {}      # path -> 'f' or 'l'
        self.dead = set()     # whited-out paths (files and dirs)
        self.created = set()  # dirs that exist in the merged view
        self.pool = rnd.randbytes(MIB)

    def alive(self, d):
        while d:
            if d in self.dead:
                return False
            d = os.path.dirname(d)
        return True

    def ldir(self, layer):
        return os.path.join(self.root, 'L%02d' % layer)

    def write_file(self, layer, path):
        size = min(int(self.rnd.lognormvariate(7.0, 1.5)), 256 * 1024)
        off = self.rnd.randrange(MIB - size + 1)
        full = os.path.join(self.ldir(layer), path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, 'wb') as f:
            f.write(self.pool[off:off + size])

    def whiteout(self, layer, path):
        full = os.path.join(self.ldir(layer), path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        os.mknod(full, 0o600 | stat.S_IFCHR, os.makedev(0, 0))

    def subtree_counts(self):
        counts = {}
        for p in self.merged:
            d = os.path.dirname(p)
            while d:
                counts[d] = counts.get(d, 0) + 1
                d = os.path.dirname(d)
        return counts

    def run(self):
        rnd = self.rnd
        base_share = int(self.nfiles * 0.6)
        per_upper = (self.nfiles - base_share) // (len(TREE_LAYERS) - 1)
        protected = set()
        for d in self.skeleton:
            protected.add(d)
        for layer in reversed(TREE_LAYERS):
            top_of_stack = layer == NLAYERS
            if not top_of_stack:
                # Whiteouts first, so nothing this layer adds is hidden;
                # dirs before files, so a file whiteout does not create a
                # dir that is to become a whiteout.
                counts = self.subtree_counts()
                cand = [d for d in sorted(self.created)
                        if d not in protected and self.alive(d)]
                rnd.shuffle(cand)
                ndw = 0
                for d in cand:
                    if ndw >= 2:
                        break
                    n = counts.get(d, 0)
                    if n == 0 or n > self.nfiles // 100 or not self.alive(d):
                        continue
                    self.whiteout(layer, d)
                    self.dead.add(d)
                    for p in [p for p in self.merged
                              if p.startswith(d + '/')]:
                        del self.merged[p]
                    self.created = {c for c in self.created
                                    if self.alive(c)}
                    ndw += 1
                files = sorted(self.merged)
                for p in rnd.sample(files, len(files) // 100):
                    self.whiteout(layer, p)
                    del self.merged[p]
                    self.dead.add(p)
                # Overrides: same path, new content.
                files = sorted(p for p, t in self.merged.items() if t == 'f')
                for p in rnd.sample(files, len(files) * 3 // 100):
                    self.write_file(layer, p)
            # Dirs introduced by this layer.
            for d in self.dirs:
                if self.intro[d] == layer and self.alive(d):
                    os.makedirs(os.path.join(self.ldir(layer), d),
                                exist_ok=True)
                    self.created.add(d)
            avail = [d for d in self.dirs
                     if self.intro[d] >= layer and self.alive(d)]
            n = base_share if top_of_stack else per_upper
            made = 0
            while made < n:
                d = rnd.choice(avail)
                name = rnd.choice(WORDS) + '-%d' % rnd.randrange(100000) + \
                    rnd.choice(EXTS)
                p = d + '/' + name
                if p in self.merged or p in self.dead or p in self.intro:
                    continue
                if top_of_stack and rnd.random() < 0.02:
                    full = os.path.join(self.ldir(layer), p)
                    os.makedirs(os.path.dirname(full), exist_ok=True)
                    os.symlink('../' + name, full)
                    self.merged[p] = 'l'
                else:
                    self.write_file(layer, p)
                    self.merged[p] = 'f'
                    made += 1
        # The subtree to rm -rf: about a tenth of the files, depth >= 2.
        best, best_err = None, None
        counts = self.subtree_counts()
        for d in sorted(self.created):
            if d.count('/') < 2:
                continue
            err = abs(counts.get(d, 0) - len(self.merged) // 10)
            if best is None or err < best_err:
                best, best_err = d, err
        dirs = {d for d in self.created}
        return dict(
            tree_f=sum(1 for t in self.merged.values() if t == 'f'),
            tree_l=sum(1 for t in self.merged.values() if t == 'l'),
            tree_d=len(dirs),
            rm_subtree=best,
            rm_subtree_files=counts.get(best, 0))


def apply_layer(src, dst):
    """Copy one layer over a merged copy, honouring char 0:0 whiteouts."""
    for ent in os.scandir(src):
        s = ent.path
        d = os.path.join(dst, ent.name)
        st = ent.stat(follow_symlinks=False)
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            remove_any(d)
        elif stat.S_ISDIR(st.st_mode):
            if os.path.lexists(d) and not (os.path.isdir(d) and
                                           not os.path.islink(d)):
                remove_any(d)
            os.makedirs(d, exist_ok=True)
            apply_layer(s, d)
        else:
            remove_any(d)
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(s), d)
            elif st.st_size >= 64 * MIB:
                subprocess.run(['cp', '--reflink=auto', s, d], check=True)
            else:
                shutil.copyfile(s, d)


def remove_any(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def count_tree(top):
    f = l = d = 0
    for dirpath, dirnames, filenames in os.walk(top):
        d += 1
        for n in filenames:
            if os.path.islink(os.path.join(dirpath, n)):
                l += 1
            else:
                f += 1
        for n in dirnames:
            if os.path.islink(os.path.join(dirpath, n)):
                l += 1
    return f, l, d


def build_plain(data):
    plain = os.path.join(data, 'plain')
    remove_any(plain)
    remove_any(os.path.join(data, 'plain-backup'))
    os.makedirs(plain)
    for i in range(NLAYERS, 0, -1):
        apply_layer(os.path.join(data, 'layers', 'L%02d' % i), plain)
    marker = os.path.join(data, 'plain.dirty')
    if os.path.exists(marker):
        os.unlink(marker)


def gen_data(base, scale, regen):
    sc = SCALES[scale]
    data = os.path.join(base, 'v%d-%s' % (DATA_VERSION, scale))
    manifest_path = os.path.join(data, 'manifest.json')
    if not regen and os.path.exists(manifest_path):
        with open(manifest_path) as f:
            man = json.load(f)
        if os.path.exists(os.path.join(data, 'plain.dirty')):
            log('plain copy was left modified by an interrupted run; '
                'rebuilding it')
            build_plain(data)
        log('reusing data in %s' % data)
        return data, man

    log('generating %s data in %s (once; cached for reruns)' % (scale, data))
    t0 = time.monotonic()
    remove_any(data)
    os.makedirs(base, exist_ok=True)
    tmp = data + '.tmp'
    remove_any(tmp)
    layers = os.path.join(tmp, 'layers')
    for i in range(1, NLAYERS + 1):
        os.makedirs(os.path.join(layers, 'L%02d' % i))
    rnd = random.Random('unionmount-bench-%d-%s' % (DATA_VERSION, scale))
    man = dict(version=DATA_VERSION, scale=scale, nlayers=NLAYERS)

    man.update(TreeGen(rnd, layers, sc['tree_files'], sc['tree_dirs']).run())

    # deep/: merged dirs present in all 24 layers, files only at the bottom.
    deep_paths = []
    for i in range(1, NLAYERS + 1):
        for j in range(sc['deep_dirs']):
            os.makedirs(os.path.join(layers, 'L%02d' % i, 'deep', 'd%03d' % j))
    for k in range(sc['deep_files']):
        p = 'deep/d%03d/f%06d' % (k % sc['deep_dirs'], k)
        with open(os.path.join(layers, 'L%02d' % NLAYERS, p), 'wb') as f:
            f.write(b'%d\n' % k)
        deep_paths.append(p)
    rnd.shuffle(deep_paths)
    with open(os.path.join(tmp, 'deep-paths.txt'), 'w') as f:
        f.write(''.join(p + '\n' for p in deep_paths))
    man['deep_files'] = sc['deep_files']

    # big/: one directory, 90% of it in L08 and 10% in L14.
    for k in range(sc['big_entries']):
        layer = 14 if k % 10 == 9 else 8
        d = os.path.join(layers, 'L%02d' % layer, 'big')
        if k < 10:
            os.makedirs(d, exist_ok=True)
        open(os.path.join(d, 'e%07d' % k), 'wb').close()
    man['big_entries'] = sc['big_entries']

    # blob/big.bin in L12: incompressible-ish, not sparse.
    d = os.path.join(layers, 'L12', 'blob')
    os.makedirs(d)
    chunk = bytearray(rnd.randbytes(MIB))
    with open(os.path.join(d, 'big.bin'), 'wb') as f:
        for k in range(sc['blob_mib']):
            chunk[0:8] = k.to_bytes(8, 'little')
            f.write(chunk)
    man['blob_bytes'] = sc['blob_mib'] * MIB
    man['blob_first_byte'] = 0  # chunk 0 starts with k=0 little-endian

    # src/ in L04: tiny C files, a header and a Makefile.
    d = os.path.join(layers, 'L04', 'src')
    os.makedirs(d)
    with open(os.path.join(d, 'common.h'), 'w') as f:
        f.write('#ifndef COMMON_H\n#define COMMON_H\n'
                '#define MIX(a, b) (((a) * 31u) ^ (b))\n'
                'unsigned int checksum(const char *s);\n#endif\n')
    with open(os.path.join(d, 'Makefile'), 'w') as f:
        f.write('O ?= obj\nCC ?= gcc\n'
                'SRCS := $(wildcard *.c)\n'
                'OBJS := $(SRCS:%.c=$(O)/%.o)\n'
                'all: $(OBJS)\n'
                '$(O)/%.o: %.c common.h | $(O)\n'
                '\t$(CC) -O2 -c -o $@ $<\n'
                '$(O):\n\tmkdir -p $@\n'
                '.PHONY: all\n')
    for k in range(sc['c_files']):
        a, b = rnd.randrange(1 << 16), rnd.randrange(1 << 16)
        with open(os.path.join(d, 'unit%04d.c' % k), 'w') as f:
            f.write('#include "common.h"\n\n'
                    'unsigned int unit%04d_a(unsigned int x)\n{\n'
                    '\treturn MIX(x, %du) + %du;\n}\n\n'
                    'int unit%04d_b(const int *v, int n)\n{\n'
                    '\tint s = 0;\n\tfor (int i = 0; i < n; i++)\n'
                    '\t\ts += v[i] * %d;\n\treturn s;\n}\n'
                    % (k, a, b, k, a % 97))
    man['c_files'] = sc['c_files']

    # archive.tar (outside the layers): untar/dNN/fNNNNNN.
    pool = rnd.randbytes(4096)
    with tarfile.open(os.path.join(tmp, 'archive.tar'), 'w',
                      format=tarfile.GNU_FORMAT) as tar:
        ndirs = max(1, sc['tar_files'] // 100)
        for j in range(ndirs):
            ti = tarfile.TarInfo('untar/d%03d' % j)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 1700000000
            tar.addfile(ti)
        for k in range(sc['tar_files']):
            size = rnd.randrange(2048)
            ti = tarfile.TarInfo('untar/d%03d/f%06d' % (k % ndirs, k))
            ti.size, ti.mode, ti.mtime = size, 0o644, 1700000000
            off = rnd.randrange(4096 - size)
            tar.addfile(ti, io.BytesIO(pool[off:off + size]))
    man['tar_files'] = sc['tar_files']

    # The plain directory: layers copied bottom-up into one merged tree.
    build_plain(tmp)
    f, l, d = count_tree(os.path.join(tmp, 'plain', 'tree'))
    if (f, l, d) != (man['tree_f'], man['tree_l'], man['tree_d']):
        raise SystemExit('generator bug: merged copy has %d/%d/%d files/'
                         'links/dirs, model says %d/%d/%d'
                         % (f, l, d, man['tree_f'], man['tree_l'],
                            man['tree_d']))
    with open(os.path.join(tmp, 'manifest.json'), 'w') as f:
        json.dump(man, f, indent=1)
    os.rename(tmp, data)
    log('generated in %.1f s: tree %d files, %d links, %d dirs; rm subtree '
        '%s (%d files)' % (time.monotonic() - t0, man['tree_f'],
                           man['tree_l'], man['tree_d'], man['rm_subtree'],
                           man['rm_subtree_files']))
    return data, man


# --------------------------------------------------------- mount table ----

def mountinfo(path):
    """The last mountinfo line whose mount point is path, split, or None."""
    found = None
    with open('/proc/self/mountinfo') as f:
        for line in f:
            fields = line.split()
            mp = fields[4].encode().decode('unicode_escape')
            if mp == path:
                found = fields
    return found


def fuse_abort(path):
    fields = mountinfo(path)
    if not fields:
        return
    minor = fields[2].split(':')[1]
    ctl = '/sys/fs/fuse/connections'
    if not os.path.exists(os.path.join(ctl, minor)):
        subprocess.run(['timeout', '10', 'mount', '-t', 'fusectl', 'fusectl',
                        ctl], stderr=subprocess.DEVNULL)
    try:
        with open(os.path.join(ctl, minor, 'abort'), 'w') as f:
            f.write('1')
    except OSError:
        pass


# -------------------------------------------------------------- systems ----

def first_output_line(argv):
    """The first line argv prints (stdout, then stderr), or None."""
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = (r.stdout + r.stderr).strip().splitlines()
    return out[0] if out else None


class System:
    fuse = False

    def __init__(self, name, data, man, run_dir):
        self.name = name
        self.data = data
        self.man = man
        self.run_dir = run_dir
        self.lowers = [os.path.join(data, 'layers', 'L%02d' % i)
                       for i in range(1, NLAYERS + 1)]
        self.mnt = None
        self.proc = None
        self.logf = None

    def unavailable(self):
        """A reason this system cannot run, or None."""
        return None

    def version(self):
        return None

    # --fresh: mount again between workloads, keeping the upper and work
    # directories of the repetition (only the first mount makes them).
    reuse_dirs = False

    def fresh_dirs(self, rep):
        if self.reuse_dirs:
            return
        base = os.path.join(self.run_dir, '%s-r%d' % (self.name, rep))
        remove_any(base)
        self.upper = os.path.join(base, 'upper')
        self.work = os.path.join(base, 'work')
        self.mnt = os.path.join(self.run_dir, 'mnt', self.name)
        for d in (self.upper, self.work, self.mnt):
            os.makedirs(d, exist_ok=True)
        self.base = base

    def mount(self, rep):
        raise NotImplementedError

    def overlay_opts(self):
        """The overlay-style -o options for this repetition's layers."""
        return 'lowerdir=%s,upperdir=%s,workdir=%s' % (
            ':'.join(self.lowers), self.upper, self.work)

    def start_daemon(self, argv, rep):
        logpath = os.path.join(self.run_dir, '%s-r%d.log' % (self.name, rep))
        self.logf = open(logpath, 'w')
        self.logpath = logpath
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if mountinfo(self.mnt):
                return
            if self.proc.poll() is not None:
                raise WorkloadError('exited with status %d before mounting: '
                                    '%s' % (self.proc.returncode,
                                            self.log_tail()))
            time.sleep(0.02)
        raise WorkloadError('not mounted after 30 s')

    def log_tail(self):
        try:
            with open(self.logpath) as f:
                return ' '.join(f.read().split())[-300:]
        except (OSError, AttributeError):
            return ''

    def peak_rss_kib(self):
        if not self.proc or self.proc.poll() is not None:
            return None
        try:
            with open('/proc/%d/status' % self.proc.pid) as f:
                for line in f:
                    if line.startswith('VmHWM:'):
                        return int(line.split()[1])
        except OSError:
            pass
        return None

    def alive(self):
        """Whether the mount still answers (after a timed-out command)."""
        r = subprocess.run(['timeout', '-k', '2', '10', 'stat', '-f',
                            self.mnt], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        return r.returncode == 0

    def release(self):
        """Free processes stuck on a mount that stopped answering: abort the
        FUSE connection and kill the daemon we started."""
        if self.fuse and self.mnt:
            fuse_abort(self.mnt)
        if self.proc and self.proc.poll() is None:
            self.proc.kill()

    def unmount(self):
        if self.mnt and mountinfo(self.mnt):
            r = subprocess.run(['timeout', '-k', '5', '60', 'umount',
                                self.mnt], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            if r.returncode != 0:
                if self.fuse:
                    fuse_abort(self.mnt)
                subprocess.run(['timeout', '-k', '5', '60', 'umount', '-l',
                                self.mnt], stderr=subprocess.DEVNULL)
        if self.proc:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
            self.proc = None
        if self.logf:
            self.logf.close()
            self.logf = None

    def cleanup(self):
        remove_any(getattr(self, 'base', ''))


class Plain(System):
    """No union: one merged copy of the layers. Writes go into it, so what
    the workloads change is put back after each repetition."""

    def mount(self, rep):
        self.mnt = os.path.join(self.data, 'plain')
        self.backup = os.path.join(self.data, 'plain-backup')
        self.saved_rel = self.man['rm_subtree']
        open(os.path.join(self.data, 'plain.dirty'), 'w').close()

    def save_subtree(self, rel):
        remove_any(self.backup)
        subprocess.run(['cp', '-a', os.path.join(self.mnt, rel),
                        self.backup], check=True)

    def unmount(self):
        for n in ('out', 'untar', 'seqwrite.bin', 'fio-randwrite.dat'):
            remove_any(os.path.join(self.mnt, n))
        if os.path.exists(self.backup):
            target = os.path.join(self.mnt, self.saved_rel)
            remove_any(target)
            os.rename(self.backup, target)
        blob = os.path.join(self.mnt, 'blob', 'big.bin')
        with open(blob, 'r+b') as f:
            f.write(bytes([self.man['blob_first_byte']]))
            f.truncate(self.man['blob_bytes'])
        os.unlink(os.path.join(self.data, 'plain.dirty'))

    def cleanup(self):
        pass


class Kernel(System):
    def mount(self, rep):
        self.fresh_dirs(rep)
        opts = self.overlay_opts() + ',redirect_dir=on,index=off'
        r = subprocess.run(['timeout', '60', 'mount', '-t', 'overlay',
                            'overlay', '-o', opts, self.mnt],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise WorkloadError('mount -t overlay failed: ' +
                                r.stderr.strip())

    def version(self):
        return os.uname().release


class FuseOverlayfs(System):
    fuse = True

    def unavailable(self):
        if not shutil.which('fuse-overlayfs'):
            return 'fuse-overlayfs not installed'
        return None

    def version(self):
        return first_output_line(['fuse-overlayfs', '--version'])

    def mount(self, rep):
        self.fresh_dirs(rep)
        opts = self.overlay_opts()
        self.start_daemon(['fuse-overlayfs', '-f', '-o', opts, self.mnt], rep)


class UnionfsFuse(System):
    fuse = True

    def unavailable(self):
        if not shutil.which('unionfs'):
            return 'unionfs (unionfs-fuse) not installed'
        return None

    def version(self):
        return first_output_line(['unionfs', '--version'])

    def mount(self, rep):
        self.fresh_dirs(rep)
        branches = ':'.join([self.upper + '=RW'] +
                            [lo + '=RO' for lo in self.lowers])
        self.start_daemon(['unionfs', '-f', '-o', 'cow,hide_meta_files',
                           branches, self.mnt], rep)


class Unionmount(System):
    fuse = True

    def __init__(self, *args, binary):
        super().__init__(*args)
        self.binary = binary

    def unavailable(self):
        if not (os.path.isfile(self.binary) and
                os.access(self.binary, os.X_OK)):
            return 'binary not found: %s' % self.binary
        return None

    def version(self):
        return first_output_line([self.binary, '-V'])

    def mount(self, rep):
        self.fresh_dirs(rep)
        opts = self.overlay_opts()
        self.start_daemon([self.binary, '-f', '-o', opts, self.mnt], rep)

    def start_daemon(self, argv, rep):
        if self.logf:       # a new mount (--fresh): the same log
            self.logf.close()
        super().start_daemon(argv, rep)


# ------------------------------------------------------------ workloads ----

class Ctx:
    def __init__(self, system, man, data, sc, timeout):
        self.sys = system
        self.mnt = system.mnt
        self.man = man
        self.data = data
        self.sc = sc
        self.timeout = timeout

    def sh(self, cmd, timeout=None):
        """Run cmd under bash -o pipefail with a timeout; return (stdout,
        seconds). Raises WorkloadError on failure."""
        t = timeout or self.timeout
        # Output goes to files, not pipes: a process stuck in a FUSE request
        # would hold a pipe open and we would wait for EOF forever. The time
        # is taken inside bash so that starting timeout and bash is not in it.
        with tempfile.TemporaryFile() as out, \
                tempfile.TemporaryFile() as err, \
                tempfile.NamedTemporaryFile('r') as tf:
            script = ('t0=$EPOCHREALTIME\n{ %s\n}\nrc=$?\n'
                      't1=$EPOCHREALTIME\necho "$t0 $t1" > %s\nexit $rc\n'
                      % (cmd, q(tf.name)))
            t0 = time.monotonic()
            p = subprocess.Popen(['timeout', '-k', '5', str(t), 'bash', '-o',
                                  'pipefail', '-c', script],
                                 stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=err, env=dict(os.environ,
                                                      LC_NUMERIC='C'))
            # A blocking wait: wait(timeout=) polls with growing sleeps,
            # which would round the times up. The timer is a last resort.
            timer = threading.Timer(t + 30, p.kill)
            timer.start()
            rc = p.wait()
            timer.cancel()
            dt = time.monotonic() - t0
            stamps = tf.read().split()
            if len(stamps) == 2:
                dt = float(stamps[1]) - float(stamps[0])
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode(errors='replace')
            stderr = err.read().decode(errors='replace')
        if rc in (124, 137):
            raise WorkloadError('timeout after %d s' % t)
        if rc != 0:
            raise WorkloadError('exit %d: %s' % (
                rc, ' '.join(stderr.split())[-200:]))
        return stdout, dt

    def gone(self, rel):
        """Raise unless rel no longer exists in the mount."""
        out, _ = self.sh('test -e %s || test -L %s || echo gone'
                         % (q(self.path(rel)), q(self.path(rel))), 60)
        if out.strip() != 'gone':
            raise WorkloadError('%s still there after rm -rf' % rel)

    def path(self, rel):
        return os.path.join(self.mnt, rel)


def expect(what, got, want):
    if got != want:
        raise WorkloadError('mismatch: %s is %s, expected %s'
                            % (what, got, want))


def wl_stat_deep(c):
    out, _ = c.sh('%s %s _statpaths %s %s' % (
        q(sys.executable), q(os.path.abspath(__file__)),
        q(os.path.join(c.data, 'deep-paths.txt')), q(c.mnt)))
    ok, secs = out.split()
    expect('paths found', int(ok), c.man['deep_files'])
    return dict(seconds=float(secs), ops=int(ok))


def wl_walk_names(c):
    out, dt = c.sh('find %s -type f | wc -l' % q(c.path('tree')))
    expect('file count', int(out), c.man['tree_f'])
    return dict(seconds=dt, count=int(out))


def wl_walk_stat(c):
    out, dt = c.sh("find %s -printf '%%y %%s %%i\\n' | "
                   "awk '{ n[$1]++ } END { for (t in n) print n[t], t }'"
                   % q(c.path('tree')))
    counts = {}
    for line in out.split('\n'):
        if line.strip():
            n, t = line.split()
            counts[t] = int(n)
    got = (counts.get('f', 0), counts.get('l', 0), counts.get('d', 0))
    expect('files/links/dirs', got,
           (c.man['tree_f'], c.man['tree_l'], c.man['tree_d']))
    note = None
    if counts.get('c', 0):
        # Whiteouts showing through. unionfs-fuse does not know overlayfs
        # whiteouts, so for it this is expected and only noted.
        msg = '%d whiteout char devices visible' % counts['c']
        if c.sys.name != 'unionfs-fuse':
            raise WorkloadError('mismatch: ' + msg)
        note = msg
    return dict(seconds=dt, count=sum(counts.values()), note=note)


def wl_readdir_big(c):
    out, dt = c.sh('ls -f %s | wc -l' % q(c.path('big')))
    expect('entries', int(out) - 2, c.man['big_entries'])
    return dict(seconds=dt, count=int(out) - 2)


def wl_read_small(c):
    _, dt = c.sh('find %s -type f -exec cat {} + > /dev/null'
                 % q(c.path('tree')))
    return dict(seconds=dt)


def seq_read(c):
    f = c.path('blob/big.bin')
    out, dt = c.sh('dd if=%s of=/dev/null bs=1M 2>&1 | tail -n 1' % q(f))
    copied = int(out.split()[0]) if out.split() else -1
    expect('bytes read', copied, c.man['blob_bytes'])
    return dict(seconds=dt, bytes=c.man['blob_bytes'])


def wl_fio_randread(c):
    return run_fio(c, 'randread', c.path('blob/big.bin'),
                   c.man['blob_bytes'], ['--readonly'])


def wl_fio_randwrite(c):
    size = c.sc['fio_write_mib'] * MIB
    try:
        return run_fio(c, 'randwrite', c.path('fio-randwrite.dat'), size,
                       ['--end_fsync=1'])
    finally:
        c.sh('rm -f %s' % q(c.path('fio-randwrite.dat')))


def run_fio(c, rw, filename, size, extra):
    cap = max(10, min(120, c.timeout - 30))
    out, _ = c.sh(' '.join(['fio', '--name=' + rw, '--filename=' + q(filename),
                            '--rw=' + rw, '--bs=4k', '--size=%d' % size,
                            '--ioengine=psync', '--direct=0', '--invalidate=0',
                            '--randrepeat=1', '--runtime=%d' % cap,
                            '--output-format=json'] + extra))
    start = out.find('{')
    res = json.loads(out[start:])
    job = res['jobs'][0]
    side = job['read'] if rw == 'randread' else job['write']
    if job.get('error'):
        raise WorkloadError('fio error %s' % job['error'])
    iops = side['iops']
    if not iops:
        raise WorkloadError('fio did no I/O')
    ops = size // 4096
    # Time for every block once, extrapolated if the runtime cap cut it short.
    return dict(seconds=ops / iops, ops=ops, iops=iops,
                done_ops=side['total_ios'])


def wl_copyup(c):
    f = c.path('blob/big.bin')
    _, dt = c.sh('printf x | dd of=%s bs=1 seek=0 conv=notrunc status=none'
                 % q(f))
    out, _ = c.sh('head -c 1 %s; stat -c %%s %s' % (q(f), q(f)))
    expect('first byte', out[:1], 'x')
    expect('size after copy-up', int(out[1:]), c.man['blob_bytes'])
    return dict(seconds=dt)


def wl_seq_write(c):
    n = c.sc['seqwrite_mib']
    f = c.path('seqwrite.bin')
    try:
        _, dt = c.sh('dd if=/dev/zero of=%s bs=1M count=%d conv=fsync '
                     'status=none' % (q(f), n))
        out, _ = c.sh('stat -c %%s %s' % q(f))
        expect('size', int(out), n * MIB)
    finally:
        c.sh('rm -f %s' % q(f))
    return dict(seconds=dt, bytes=n * MIB)


def wl_untar(c):
    _, dt = c.sh('tar xf %s -C %s' % (q(os.path.join(c.data, 'archive.tar')),
                                      q(c.mnt)))
    out, _ = c.sh('find %s -type f | wc -l' % q(c.path('untar')))
    expect('files extracted', int(out), c.man['tar_files'])
    return dict(seconds=dt)


def wl_rm_untar(c):
    _, dt = c.sh('rm -rf %s' % q(c.path('untar')))
    c.gone('untar')
    return dict(seconds=dt)


def wl_rm_lower(c):
    rel = c.man['rm_subtree']
    if isinstance(c.sys, Plain):
        c.sys.save_subtree(rel)
    _, dt = c.sh('rm -rf %s' % q(c.path(rel)))
    c.gone(rel)
    return dict(seconds=dt)


def wl_build(c):
    out_dir = c.path('out')
    _, dt = c.sh('make -s -C %s -j2 O=%s' % (q(c.path('src')), q(out_dir)))
    out, _ = c.sh('ls %s | grep -c "\\.o$"' % q(out_dir))
    expect('objects', int(out), c.man['c_files'])
    return dict(seconds=dt)


# Order matters: the first ones see cold union caches; destructive ones last.
WORKLOADS = [
    ('stat_deep', 'stat 10k paths at the bottom of 24 layers', wl_stat_deep),
    ('walk_names', 'walk names (find -type f)', wl_walk_names),
    ('walk_stat', 'walk + stat every entry', wl_walk_stat),
    ('walk_names_2', 'walk names, 2nd time', wl_walk_names),
    ('walk_stat_2', 'walk + stat, 2nd time', wl_walk_stat),
    ('readdir_100k', 'readdir of the 100k dir (ls -f)', wl_readdir_big),
    ('read_small', 'read every small file', wl_read_small),
    ('seq_read_1', 'sequential read 1 GiB, 1st', seq_read),
    ('seq_read_2', 'sequential read 1 GiB, 2nd', seq_read),
    ('fio_randread', 'fio 4k random read (each block once)', wl_fio_randread),
    ('copyup_1byte', 'first 1-byte write to the 1 GiB lower file',
     wl_copyup),
    ('seq_write', 'sequential write 1 GiB + fsync', wl_seq_write),
    ('fio_randwrite', 'fio 4k random write + fsync', wl_fio_randwrite),
    ('untar', 'untar 10k files', wl_untar),
    ('rm_untar', 'rm -rf the untarred 10k files', wl_rm_untar),
    ('rm_lower', 'rm -rf a lower subtree (whiteouts)', wl_rm_lower),
    ('build', 'compile 1000 tiny C files (make -j2)', wl_build),
]
WL_DESC = {n: d for n, d, _ in WORKLOADS}


def scaled_desc(name, sc):
    d = WL_DESC[name]
    if sc is SCALES['full']:
        return d
    repl = [('10k paths', '%d paths' % sc['deep_files']),
            ('100k dir', '%dk dir' % (sc['big_entries'] // 1000)),
            ('1 GiB', '%d MiB' % sc['blob_mib']),
            ('10k files', '%dk files' % (sc['tar_files'] // 1000)),
            ('1000 tiny', '%d tiny' % sc['c_files'])]
    for a, b in repl:
        d = d.replace(a, b)
    return d


def statpaths_main(listfile, root):
    with open(listfile) as f:
        paths = [os.path.join(root, line.rstrip('\n')) for line in f
                 if line.strip()]
    ok = 0
    t0 = time.perf_counter()
    for p in paths:
        try:
            os.lstat(p)
            ok += 1
        except OSError:
            pass
    print(ok, time.perf_counter() - t0)


# --------------------------------------------------------------- driver ----

ACTIVE = []  # systems currently mounted, for cleanup on any exit


def drop_caches():
    os.sync()
    with open('/proc/sys/vm/drop_caches', 'w') as f:
        f.write('3')


def run_one(system, rep, man, data, sc, args, wl_names):
    """Mount once and run every workload; return {workload: result}."""
    res = {}
    if args.cold:
        drop_caches()
    system.reuse_dirs = False
    try:
        ACTIVE.append(system)
        system.mount(rep)
    except (WorkloadError, OSError, subprocess.SubprocessError) as e:
        system.unmount()
        ACTIVE.remove(system)
        system.cleanup()
        return {n: dict(error='mount: %s' % e) for n in wl_names}, None
    ctx = Ctx(system, man, data, sc, args.timeout)
    wedged = None
    first = True
    for name, _, fn in WORKLOADS:
        if name not in wl_names:
            continue
        if wedged:
            res[name] = dict(error='skipped: ' + wedged)
            continue
        # --fresh: every workload meets the union's caches empty (the
        # backing store stays in the page cache): a new mount of the
        # same directories.  The plain directory has no such caches.
        if args.fresh and not first and not isinstance(system, Plain):
            system.unmount()
            system.reuse_dirs = True
            try:
                system.mount(rep)
            except (WorkloadError, OSError, subprocess.SubprocessError) as e:
                res[name] = dict(error='mount: %s' % e)
                wedged = 'mount failed before %s' % name
                continue
        first = False
        try:
            res[name] = fn(ctx)
        except WorkloadError as e:
            res[name] = dict(error=str(e))
            if 'timeout' in str(e) and not system.alive():
                wedged = 'mount stopped answering after %s' % name
                system.release()
        except (OSError, ValueError, KeyError, IndexError) as e:
            res[name] = dict(error='%s: %s' % (type(e).__name__, e))
    rss = system.peak_rss_kib()
    died = system.proc is not None and system.proc.poll() is not None
    system.unmount()
    ACTIVE.remove(system)
    if died:
        for n in res:
            if 'error' not in res[n]:
                continue
            res[n]['error'] += ' (daemon died: %s)' % system.log_tail()
    system.cleanup()
    return res, rss


def fmt_time(s):
    if s is None:
        return '-'
    if s < 1:
        return '%.3g ms' % (s * 1000)
    return '%.3g s' % s


def fmt_ratio(r):
    if r is None:
        return '-'
    if r < 10:
        return '%.2f' % r
    return '%.1f' % r if r < 100 else '%.0f' % r


def summarize(runs, systems, wl_names, sc):
    """Medians and ratios. runs[sys][wl] is a list of per-rep results."""
    out = {}
    for s in systems:
        out[s] = {}
        for w in wl_names:
            rs = runs[s][w]
            errs = [r['error'] for r in rs if 'error' in r]
            cell = dict(runs=rs)
            if errs or not rs:
                cell['error'] = errs[0] if errs else 'not run'
            else:
                med = statistics.median(r['seconds'] for r in rs)
                cell['median_s'] = med
                if 'bytes' in rs[0]:
                    cell['throughput'] = rs[0]['bytes'] / MIB / med
                    cell['throughput_unit'] = 'MiB/s'
                elif 'iops' in rs[0]:
                    cell['throughput'] = rs[0]['ops'] / med
                    cell['throughput_unit'] = 'IOPS'
                notes = sorted({r['note'] for r in rs if r.get('note')})
                if notes:
                    cell['note'] = '; '.join(notes)
            out[s][w] = cell
    for s in systems:
        for w in wl_names:
            cell = out[s][w]
            for ref, key in (('kernel', 'ratio_kernel'),
                             ('plain', 'ratio_plain')):
                rc = out.get(ref, {}).get(w, {})
                if 'median_s' in cell and rc.get('median_s'):
                    cell[key] = cell['median_s'] / rc['median_s']
    return out


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    if not xs:
        return None
    p = 1.0
    for x in xs:
        p *= x
    return p ** (1.0 / len(xs))


def markdown(meta, summary, systems, wl_names, rss, sc):
    lines = []
    lines.append('Benchmark: %s scale, median of %d repetitions, %s cache; '
                 '%s, kernel %s, %s, %d CPUs.' % (
                     meta['scale'], meta['reps'],
                     'cold (drop_caches before each system)' if meta['cold']
                     else 'warm backing store', meta['host'], meta['kernel'],
                     meta['cpu'], meta['ncpu']))
    lines.append('')
    lines.append('Union caches: %s.  FUSE transport of the libfuse 3.18 '
                 'build: %s.' % (
                     'empty, a fresh mount before every workload'
                     if meta.get('fresh') else
                     'one mount per repetition, workloads in order',
                     'io_uring (enable_uring=Y) and passthrough'
                     if meta.get('io_uring') else
                     '/dev/fuse (enable_uring as found) and passthrough'))
    lines.append('')
    lines.append('Median time (throughput); lower time is better.')
    lines.append('')
    head = '| workload | ' + ' | '.join(SYSTEM_LABELS[s] for s in systems) \
        + ' |'
    sep = '|---|' + '---:|' * len(systems)
    lines += [head, sep]
    for w in wl_names:
        row = []
        for s in systems:
            c = summary[s][w]
            if 'error' in c:
                row.append('error')
                continue
            t = fmt_time(c['median_s'])
            if 'throughput' in c:
                t += ' (%.0f %s)' % (c['throughput'], c['throughput_unit'])
            if c.get('note'):
                t += ' *'
            row.append(t)
        lines.append('| %s | %s |' % (scaled_desc(w, sc), ' | '.join(row)))
    row = []
    for s in systems:
        v = rss.get(s)
        row.append('%.1f MiB' % (v / 1024) if v else '-')
    lines.append('| daemon peak RSS (VmHWM) | %s |' % ' | '.join(row))
    lines.append('')
    lines.append('Time ratio to kernel overlayfs / to the plain directory '
                 '(1.00 = same; higher is slower).')
    lines.append('')
    lines += [head, sep]
    gk = {s: [] for s in systems}
    gp = {s: [] for s in systems}
    for w in wl_names:
        row = []
        for s in systems:
            c = summary[s][w]
            if 'error' in c:
                row.append('error')
                continue
            rk, rp = c.get('ratio_kernel'), c.get('ratio_plain')
            gk[s].append(rk)
            gp[s].append(rp)
            row.append('%s / %s' % (fmt_ratio(rk), fmt_ratio(rp)))
        lines.append('| %s | %s |' % (scaled_desc(w, sc), ' | '.join(row)))
    lines.append('| **geometric mean** (workloads without error) | %s |' %
                 ' | '.join('%s / %s' % (fmt_ratio(geomean(gk[s])),
                                         fmt_ratio(geomean(gp[s])))
                            for s in systems))
    notes = []
    for s in systems:
        errs = {}
        for w in wl_names:
            if 'error' in summary[s][w]:
                errs.setdefault(summary[s][w]['error'], []).append(w)
        for e, ws in errs.items():
            where = 'all workloads' if len(ws) == len(wl_names) else \
                ', '.join(ws)
            notes.append('- %s, %s: error: %s' % (SYSTEM_LABELS[s], where, e))
        for w in wl_names:
            c = summary[s][w]
            if 'error' not in c and c.get('note'):
                notes.append('- \\* %s, %s: %s' % (SYSTEM_LABELS[s], w,
                                                   c['note']))
    if notes:
        lines.append('')
        lines += notes
    return '\n'.join(lines) + '\n'


def plot(summary, systems, wl_names, outdir):
    if not shutil.which('gnuplot'):
        log('gnuplot not installed; no plot')
        return None
    shown = [s for s in systems if s != 'kernel']
    dat = os.path.join(outdir, 'latest.dat')
    ratios = [1.0]
    with open(dat, 'w') as f:
        f.write('# workload ' + ' '.join(shown) + '\n')
        for w in wl_names:
            vals = []
            for s in shown:
                r = summary[s][w].get('ratio_kernel')
                vals.append('%.6g' % r if r else '?')
                if r:
                    ratios.append(r)
            f.write('%s %s\n' % (w, ' '.join(vals)))
    lo = 10 ** math.floor(math.log10(min(ratios) / 1.5))
    hi = 10 ** math.ceil(math.log10(max(ratios) * 1.5))
    png = os.path.join(outdir, 'latest.png')
    cols = ', '.join("'%s' using %d%s title '%s'" % (
        dat if i == 0 else '', i + 2, ':xtic(1)' if i == 0 else '',
        SYSTEM_LABELS[s]) for i, s in enumerate(shown))
    script = '\n'.join([
        "set terminal pngcairo noenhanced size 1600,700 font ',10'",
        "set output '%s'" % png,
        "set title 'Time relative to kernel overlayfs (log scale, lower is "
        "better; missing bar = error)'",
        'set style data histograms',
        'set style histogram clustered gap 1',
        'set style fill solid 0.85 border -1',
        'set logscale y',
        'set yrange [%g:%g]' % (lo, hi),
        'set xrange [-0.6:%g]' % (len(wl_names) - 0.4),
        "set ylabel 'time / kernel overlayfs time'",
        'set xtics rotate by -35 nomirror',
        'set grid ytics',
        "set datafile missing '?'",
        'set key top left',
        'set bmargin 8',
        'plot %s, 1 with lines lc rgb "black" lw 2 title "kernel overlayfs"'
        % cols,
    ]) + '\n'
    r = subprocess.run(['timeout', '60', 'gnuplot'], input=script, text=True,
                       capture_output=True)
    if r.returncode != 0:
        log('gnuplot failed: %s' % r.stderr.strip())
        return None
    return png


def install_deps(no_install):
    missing = sorted({pkg for cmd, pkg in DEPS.items()
                      if not shutil.which(cmd)})
    if not missing:
        return
    if os.geteuid() != 0 or no_install:
        log('missing packages (not installing): %s' % ' '.join(missing))
        return
    log('installing: %s' % ' '.join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    cmd = ['apt-get', 'install', '-y', '--no-install-recommends'] + missing
    if subprocess.run(cmd, env=env).returncode != 0:
        subprocess.run(['apt-get', 'update'], env=env)
        subprocess.run(cmd, env=env)


def machine_meta(args, scale, reps):
    cpu = ''
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('MemTotal:'):
                mem = int(line.split()[1]) // 1024
    return dict(host=socket.gethostname(), kernel=os.uname().release,
                cpu=cpu, ncpu=os.cpu_count(), mem_mib=mem, scale=scale,
                reps=reps, cold=args.cold, timeout_s=args.timeout,
                date=datetime.datetime.now().astimezone().isoformat(
                    timespec='seconds'))


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog='bench/run', description='Benchmark unionmount against kernel '
        'overlayfs, fuse-overlayfs, unionfs-fuse and a plain directory.')
    p.add_argument('--quick', action='store_true',
                   help='~10x smaller data and 2 repetitions (< 3 minutes)')
    p.add_argument('--data', default='/var/tmp/unionmount-bench',
                   help='where generated data is cached (default %(default)s)')
    p.add_argument('--unionmount', default=os.environ.get(
        'UNIONMOUNT', os.path.join(REPO_DIR, 'build', 'unionmount')),
        help='unionmount binary (default: $UNIONMOUNT or <repo>/build/'
        'unionmount)')
    p.add_argument('--unionmount-318', default=os.path.join(
        REPO_DIR, 'build-3.18', 'unionmount'),
        help='unionmount built with libfuse 3.18 (tests/run makes it; '
        'default %(default)s)')
    p.add_argument('--fresh', action='store_true',
                   help='a fresh mount before every workload: the union\'s '
                   'caches start empty, the backing store stays cached')
    p.add_argument('--io-uring', action='store_true',
                   help='set the fuse module\'s enable_uring to Y for the '
                   'run (restored after), so libfuse 3.18 uses io_uring')
    p.add_argument('--reps', type=int, help='repetitions (default 3; 2 with '
                   '--quick)')
    p.add_argument('--systems', help='comma-separated subset of: ' +
                   ','.join(SYSTEMS))
    p.add_argument('--workloads', help='comma-separated subset of: ' +
                   ','.join(n for n, _, _ in WORKLOADS))
    p.add_argument('--cold', action='store_true', help='drop the page cache '
                   'before each system\'s run (echo 3 > drop_caches)')
    p.add_argument('--timeout', type=int, default=300,
                   help='timeout per command in seconds (default %(default)s)')
    p.add_argument('--regen', action='store_true',
                   help='regenerate the data even if cached')
    p.add_argument('--results', default=os.path.join(BENCH_DIR, 'results'),
                   help='results directory (default bench/results)')
    p.add_argument('--no-install', action='store_true',
                   help='do not apt-get install missing packages')
    return p.parse_args(argv)


def main(argv):
    if len(argv) == 3 and argv[0] == '_statpaths':
        statpaths_main(argv[1], argv[2])
        return 0
    args = parse_args(argv)
    if os.geteuid() != 0:
        log('bench/run needs root (mount, mknod for whiteouts).')
        return 2
    scale = 'quick' if args.quick else 'full'
    sc = SCALES[scale]
    reps = args.reps or sc['reps']
    systems = SYSTEMS if not args.systems else \
        [s.strip() for s in args.systems.split(',')]
    wl_names = [n for n, _, _ in WORKLOADS] if not args.workloads else \
        [w.strip() for w in args.workloads.split(',')]
    for s in systems:
        if s not in SYSTEMS:
            log('unknown system %s' % s)
            return 2
    for w in wl_names:
        if w not in WL_DESC:
            log('unknown workload %s' % w)
            return 2
    # Ratios are computed against these two, so always run them.
    for ref in ('kernel', 'plain'):
        if ref not in systems:
            systems.insert(0, ref)
    systems = [s for s in SYSTEMS if s in systems]
    args.data = os.path.abspath(args.data)

    install_deps(args.no_install)
    data, man = gen_data(args.data, scale, args.regen)

    run_dir = os.path.join(args.data, 'run-%d' % os.getpid())
    os.makedirs(os.path.join(run_dir, 'mnt'))
    classes = {'plain': Plain, 'kernel': Kernel,
               'fuse-overlayfs': FuseOverlayfs, 'unionfs-fuse': UnionfsFuse}
    objs = {}
    for s in systems:
        if s == 'unionmount':
            objs[s] = Unionmount(s, data, man, run_dir,
                                 binary=os.path.abspath(args.unionmount))
        elif s == 'unionmount-3.18':
            objs[s] = Unionmount(s, data, man, run_dir,
                                 binary=os.path.abspath(args.unionmount_318))
        else:
            objs[s] = classes[s](s, data, man, run_dir)
    meta = machine_meta(args, scale, reps)
    meta['versions'] = {s: objs[s].version() for s in systems
                        if not objs[s].unavailable()}
    meta['unionmount_binary'] = os.path.abspath(args.unionmount)
    meta['data'] = data
    meta['manifest'] = man

    uring_old = None
    if args.io_uring:
        with open(URING_PARAM) as f:
            uring_old = f.read().strip()
        with open(URING_PARAM, 'w') as f:
            f.write('Y')
    meta['fresh'] = args.fresh
    meta['io_uring'] = args.io_uring
    runs = {s: {w: [] for w in wl_names} for s in systems}
    rss = {s: [] for s in systems}
    t_start = time.monotonic()
    try:
        for rep in range(reps):
            order = systems[rep % len(systems):] + systems[:rep % len(systems)]
            for s in order:
                sysobj = objs[s]
                why = sysobj.unavailable()
                if why:
                    res, peak = {w: dict(error=why) for w in wl_names}, None
                else:
                    res, peak = run_one(sysobj, rep, man, data, sc, args,
                                        wl_names)
                for w in wl_names:
                    runs[s][w].append(res[w])
                if peak:
                    rss[s].append(peak)
                cells = []
                for w in wl_names:
                    r = res[w]
                    cells.append('%s=%s' % (w, 'ERR' if 'error' in r else
                                            fmt_time(r['seconds'])))
                log('rep %d %-15s %s' % (rep + 1, s, ' '.join(cells)))
                errs = {r['error'] for r in res.values() if 'error' in r}
                for e in sorted(errs)[:3]:
                    log('    error: %s' % e)
    finally:
        if uring_old is not None:
            with open(URING_PARAM, 'w') as f:
                f.write(uring_old)
        for s in list(ACTIVE):
            s.unmount()
            s.cleanup()
        still = [s.mnt for s in objs.values()
                 if s.mnt and s.mnt.startswith(run_dir) and mountinfo(s.mnt)]
        if still:
            log('still mounted, not removing %s: %s' % (run_dir,
                                                        ' '.join(still)))
        else:
            remove_any(run_dir)

    summary = summarize(runs, systems, wl_names, sc)
    rss_med = {s: statistics.median(v) for s, v in rss.items() if v}
    meta['elapsed_s'] = round(time.monotonic() - t_start, 1)
    result = dict(meta=meta, systems=systems,
                  workloads=[dict(name=w, desc=scaled_desc(w, sc))
                             for w in wl_names],
                  results=summary,
                  peak_rss_kib={s: dict(median=rss_med.get(s), runs=rss[s])
                                for s in systems})
    os.makedirs(args.results, exist_ok=True)
    stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
    name = '%s-%s%s%s.json' % (socket.gethostname(), stamp,
                               '-quick' if args.quick else '',
                               '-fresh' if args.fresh else '')
    for fn in (name, 'latest.json'):
        with open(os.path.join(args.results, fn), 'w') as f:
            json.dump(result, f, indent=1)
            f.write('\n')
    md = markdown(meta, summary, systems, wl_names, rss_med, sc)
    with open(os.path.join(args.results, 'latest.md'), 'w') as f:
        f.write(md)
    png = plot(summary, systems, wl_names, args.results)
    log('')
    log(md)
    log('results: %s, latest.json, latest.md%s (in %s); %.0f s' % (
        name, ', latest.png' if png else '', args.results, meta['elapsed_s']))
    return 0


def on_signal(signum, frame):
    raise KeyboardInterrupt


if __name__ == '__main__':
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        log('interrupted')
        sys.exit(130)
