#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Hard links of a lower file across copy-up (issue 10 item 3): with the
index (index=on, the default) all names of a lower file stay one file,
before and after remount, as kernel overlayfs with index=on shows them
(UM_TEST_IMPL=kernel runs the same cases against it)."""

import json
import os
import random
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import (KERNEL, UNIONMOUNT, Union, case, check, eq, eq_mode, hardlink, join,
                    main, mkdir, mkfile, read, write)
from stress_helpers import (explicit_argv, file_sha, kill_daemon, reap, sha,
                            spawn, start_foreground, work_leftovers)

INDEX_DIR = 'unionmount-index'      # beside work/unionmount (index.h)
NAMES = ('a', 'd/b', 'e/f/c')       # d, e, e/f exist only below


def mount(u, index='on'):
    """Mount with the index on or off, the work directory being u.work
    (the kernel needs its own work dir for index=on)."""
    if KERNEL:
        return u.mount(kopts='redirect_dir=on,index=' + index)
    return u.mount(argv=explicit_argv(u, ['index=' + index]))


def three_names(u, data=b'lower data\n', mode=0o644):
    mkfile(u.l(1, 'a'), data, mode=mode)
    for n in NAMES[1:]:
        hardlink(u.l(1, 'a'), u.l(1, n))


def one_file(u, names, data, nlink, mode=0o644, ino=None, what=''):
    """Every name shows the same file: content, mode, st_ino, st_nlink,
    and the readdir d_ino of each name is its st_ino."""
    sts = {n: os.stat(u.m(n)) for n in names}
    inos = {st.st_ino for st in sts.values()}
    eq(len(inos), 1, 'one st_ino for %s %s' % (names, what))
    if ino is not None:
        eq(inos.pop(), ino, 'st_ino of %s kept %s' % (names, what))
    for n, st in sts.items():
        eq(read(u.m(n)), data, 'content of %s %s' % (n, what))
        eq(st.st_size, len(data), 'size of %s %s' % (n, what))
        eq_mode(st.st_mode, stat.S_IFREG | mode, 'mode of %s %s' % (n, what))
        eq(st.st_nlink, nlink, 'st_nlink of %s %s' % (n, what))
        d, base = os.path.split(u.m(n))
        dino = [e.inode() for e in os.scandir(d) if e.name == base]
        eq(dino, [st.st_ino], 'd_ino of %s %s' % (n, what))


@case
def names_share_before_copyup():
    with Union(lowers=1) as u:
        three_names(u)
        mount(u)
        ino = os.stat(u.l(1, 'a')).st_ino
        one_file(u, NAMES, b'lower data\n', 3, ino=ino)


@case
def write_append_truncate_chmod_through_one_name():
    with Union(lowers=1) as u:
        three_names(u)
        mount(u)
        ino = os.stat(u.m('a')).st_ino
        with open(u.m('a'), 'r+b') as f:
            f.write(b'LOWER')
        one_file(u, NAMES, b'LOWER data\n', 3, ino=ino, what='after write')
        with open(u.m('a'), 'ab') as f:
            f.write(b'appended\n')
        data = b'LOWER data\nappended\n'
        one_file(u, NAMES, data, 3, ino=ino, what='after append')
        os.truncate(u.m('a'), 5)
        one_file(u, NAMES, b'LOWER', 3, ino=ino, what='after truncate')
        os.chmod(u.m('a'), 0o600)
        one_file(u, NAMES, b'LOWER', 3, mode=0o600, ino=ino,
                 what='after chmod')
        os.utime(u.m('a'), ns=(1500000000 * 10**9, 1600000000 * 10**9))
        for n in NAMES:
            eq(os.stat(u.m(n)).st_mtime_ns, 1600000000 * 10**9,
               'mtime of %s after utime through a' % n)
        u.remount(argv=None if KERNEL else explicit_argv(u, ['index=on']),
                  kopts='redirect_dir=on,index=on')
        one_file(u, NAMES, b'LOWER', 3, mode=0o600, ino=ino,
                 what='after remount')
        # Through another name after the remount: the copy is found, not
        # made again.
        with open(u.m('e/f/c'), 'ab') as f:
            f.write(b'+c')
        os.chmod(u.m('d/b'), 0o640)
        one_file(u, NAMES, b'LOWER+c', 3, mode=0o640, ino=ino,
                 what='after changes through the other names')
        u.remount(argv=None if KERNEL else explicit_argv(u, ['index=on']),
                  kopts='redirect_dir=on,index=on')
        one_file(u, NAMES, b'LOWER+c', 3, mode=0o640, ino=ino,
                 what='after the second remount')
        eq(read(u.l(1, 'a')), b'lower data\n', 'the lower file')


@case
def change_through_a_name_in_a_lower_only_dir():
    """The first change comes through d/b: d is copied up first, and a
    (in the root) follows all the same."""
    with Union(lowers=1) as u:
        three_names(u)
        mount(u)
        write(u.m('d/b'), b'via b')
        one_file(u, NAMES, b'via b', 3)
        u.umount()
        mount(u)
        one_file(u, NAMES, b'via b', 3, what='after remount')


@case
def unlink_one_name():
    with Union(lowers=1) as u:
        three_names(u)
        mount(u)
        ino = os.stat(u.m('a')).st_ino
        write(u.m('d/b'), b'changed')
        os.unlink(u.m('a'))
        eq(os.path.exists(u.m('a')), False, 'a after unlink')
        one_file(u, NAMES[1:], b'changed', 2, ino=ino, what='after rm a')
        u.umount()
        mount(u)
        eq(os.path.exists(u.m('a')), False, 'a after remount')
        one_file(u, NAMES[1:], b'changed', 2, ino=ino, what='after remount')
        # A name not yet copied up goes the same way.
        os.unlink(u.m('e/f/c'))
        one_file(u, ['d/b'], b'changed', 1, ino=ino, what='after rm c')
        u.umount()
        mount(u)
        one_file(u, ['d/b'], b'changed', 1, ino=ino,
                 what='after rm c and remount')
        os.unlink(u.m('d/b'))
        for n in NAMES:
            eq(os.path.exists(u.m(n)), False, '%s after rm of all' % n)
        u.umount()
        mount(u)
        for n in NAMES:
            eq(os.path.exists(u.m(n)), False, '%s after remount' % n)


@case
def unlink_before_any_change():
    """Removing a name of an unchanged hard link: the others still count
    it out (the kernel copies up to keep that count)."""
    with Union(lowers=1) as u:
        three_names(u)
        mount(u)
        os.unlink(u.m('e/f/c'))
        one_file(u, NAMES[:2], b'lower data\n', 2)
        u.umount()
        mount(u)
        one_file(u, NAMES[:2], b'lower data\n', 2, what='after remount')


@case
def rename_names():
    with Union(lowers=1) as u:
        three_names(u)
        mount(u)
        ino = os.stat(u.m('a')).st_ino
        os.rename(u.m('d/b'), u.m('moved'))
        names = ['a', 'moved', 'e/f/c']
        eq(os.path.exists(u.m('d/b')), False, 'd/b after rename')
        one_file(u, names, b'lower data\n', 3, ino=ino, what='after mv')
        with open(u.m('moved'), 'ab') as f:
            f.write(b'more')
        one_file(u, names, b'lower data\nmore', 3, ino=ino,
                 what='after append through the new name')
        # Two names of one file: rename(2) does nothing (POSIX).
        os.rename(u.m('a'), u.m('e/f/c'))
        one_file(u, names, b'lower data\nmore', 3, ino=ino,
                 what='after rename onto another name of it')
        # Another file over a name: that name goes, the others count it.
        write(u.m('other'), b'other')
        os.rename(u.m('other'), u.m('e/f/c'))
        eq(read(u.m('e/f/c')), b'other', 'e/f/c replaced')
        one_file(u, ['a', 'moved'], b'lower data\nmore', 2, ino=ino,
                 what='after a rename over e/f/c')
        u.umount()
        mount(u)
        eq(read(u.m('e/f/c')), b'other', 'e/f/c after remount')
        eq(os.path.exists(u.m('d/b')), False, 'd/b after remount')
        one_file(u, ['a', 'moved'], b'lower data\nmore', 2, ino=ino,
                 what='after remount')


@case
def link_adds_a_name():
    with Union(lowers=1) as u:
        three_names(u)
        mount(u)
        ino = os.stat(u.m('a')).st_ino
        os.link(u.m('d/b'), u.m('new'))
        names = list(NAMES) + ['new']
        one_file(u, names, b'lower data\n', 4, ino=ino, what='after link')
        write(u.m('new'), b'through new')
        one_file(u, names, b'through new', 4, ino=ino,
                 what='after a write through the new name')
        u.umount()
        mount(u)
        one_file(u, names, b'through new', 4, ino=ino, what='after remount')
        os.unlink(u.m('a'))
        one_file(u, names[1:], b'through new', 3, ino=ino,
                 what='after rm a')


@case
def symlink_and_fifo_hard_links():
    """Hard links of a symlink and of a FIFO: a change of owner through
    one name shows through the other, across remount."""
    with Union(lowers=1) as u:
        os.symlink('target', u.l(1, 'ln'))
        mkdir(u.l(1, 'd'))
        os.link(u.l(1, 'ln'), u.l(1, 'd/ln2'), follow_symlinks=False)
        os.mkfifo(u.l(1, 'fifo'), 0o640)
        os.link(u.l(1, 'fifo'), u.l(1, 'd/fifo2'))
        mount(u)
        os.chown(u.m('ln'), 1234, 5678, follow_symlinks=False)
        os.chmod(u.m('d/fifo2'), 0o600)
        for _ in range(2):
            for a, b in (('ln', 'd/ln2'), ('fifo', 'd/fifo2')):
                sa, sb = os.lstat(u.m(a)), os.lstat(u.m(b))
                eq((sb.st_ino, sb.st_nlink, sb.st_mode, sb.st_uid),
                   (sa.st_ino, 2, sa.st_mode, sa.st_uid),
                   '%s against %s (st_ino, st_nlink, st_mode, st_uid)' %
                   (b, a))
            eq(os.lstat(u.m('d/ln2')).st_uid, 1234, 'owner of d/ln2')
            eq(os.readlink(u.m('d/ln2')), 'target', 'd/ln2')
            eq_mode(os.lstat(u.m('fifo')).st_mode, stat.S_IFIFO | 0o600,
                    'mode of fifo')
            u.umount()
            mount(u)


@case
def read_only_mount_sees_the_copy():
    """A read-only mount of the same upper and work dir still shows every
    name as the copy."""
    with Union(lowers=1) as u:
        three_names(u)
        mount(u)
        write(u.m('d/b'), b'changed')
        u.umount()
        if KERNEL:
            u.mount(kopts='ro,redirect_dir=on,index=on')
        else:
            u.mount(argv=explicit_argv(u, ['ro']))
        one_file(u, NAMES, b'changed', 3, what='read-only')


@case
def index_off_breaks_links():
    """index=off: today's behaviour, as the kernel's: the name changed is
    copied up alone and gets a number of its own."""
    with Union(lowers=1) as u:
        three_names(u)
        mount(u, index='off')
        ino = os.stat(u.m('a')).st_ino
        write(u.m('a'), b'only a')
        eq(read(u.m('a')), b'only a', 'a')
        eq(read(u.m('d/b')), b'lower data\n', 'd/b keeps the lower data')
        check(os.stat(u.m('a')).st_ino != ino, 'a has a number of its own')
        eq(os.stat(u.m('d/b')).st_ino, ino, 'd/b keeps the lower number')


@case(unionmount_only=True, why='our index directory')
def index_entries_on_disk():
    """One entry per copied-up lower inode, a hard link to the upper copy;
    gone with the last name."""
    with Union(lowers=1) as u:
        three_names(u)
        mkfile(u.l(1, 'single'), b'one name')
        mount(u)
        idx = join(u.work, INDEX_DIR)
        eq(os.listdir(idx), [], 'index before any change')
        write(u.m('single'), b'x')
        eq(os.listdir(idx), [], 'index after copy-up of a single name')
        os.chmod(u.m('d/b'), 0o600)
        ents = os.listdir(idx)
        eq(len(ents), 1, 'index entries after copy-up of d/b: %s' % ents)
        ent = os.stat(join(idx, ents[0]))
        up = os.stat(u.u('d/b'))
        eq((ent.st_ino, ent.st_nlink), (up.st_ino, 2),
           'the entry is upper/d/b (st_ino, st_nlink)')
        eq(os.path.exists(u.u('a')), False, 'upper/a (never changed)')
        u.umount()
        mount(u)
        eq(os.listdir(idx), ents, 'index after remount')
        for n in NAMES:
            os.unlink(u.m(n))
        eq(os.listdir(idx), [], 'index after all names went')
        eq(work_leftovers(u), [], 'work/unionmount')


_ROOTLESS_INNER = r"""
import json, os, subprocess, sys
um, l, up, wk, m = sys.argv[1:6]
argv = [um, '-o', 'lowerdir=%s,upperdir=%s,workdir=%s' % (l, up, wk), m]
def mount():
    subprocess.run(argv, check=True)
def umount():
    subprocess.run(['umount', m], check=True)
def view(names=('a', 'd/b')):
    return {n: [open(os.path.join(m, n), 'rb').read().decode(),
                os.stat(os.path.join(m, n)).st_ino,
                os.stat(os.path.join(m, n)).st_nlink] for n in names}
mount()
with open(os.path.join(m, 'd/b'), 'ab') as f:
    f.write(b'+')
out = [view()]
umount()
mount()
out.append(view())
os.unlink(os.path.join(m, 'a'))
out.append(view(['d/b'])['d/b'])
umount()
print(json.dumps(out))
"""


@case(unionmount_only=True, why='a user namespace')
def rootless_user_xattrs():
    """In a user namespace (unshare -Urm) the markers are user.* xattrs:
    the index works the same."""
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'low')
        hardlink(u.l(1, 'a'), u.l(1, 'd/b'))
        u.snap = None
        proc = subprocess.run(
            ['unshare', '-Urm', sys.executable, '-c', _ROOTLESS_INNER,
             os.path.realpath(UNIONMOUNT), u.l(1), u.u(), u.work, u.m()],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        out = proc.stdout.decode(errors='replace')
        eq(proc.returncode, 0, 'exit status of the inner run: ' + out)
        before, after, last = json.loads(out)
        ino = before['a'][1]
        want = {'a': ['low+', ino, 2], 'd/b': ['low+', ino, 2]}
        eq(before, want, 'names before remount')
        eq(after, want, 'names after remount')
        eq(last, ['low+', ino, 1], 'd/b after rm a')
        eq(sorted(n for n in os.listxattr(u.u('d/b'))
                  if '.unionmount.' in n),
           ['user.unionmount.nlink', 'user.unionmount.origin'],
           'markers of upper/d/b')


def _append(path, data):
    with open(path, 'ab') as f:
        f.write(data)


@case(unionmount_only=True, why='kills the FUSE daemon')
def crash_during_copyup_of_a_hard_link():
    """SIGKILL the daemon at random moments of the copy-up of a big
    hard-linked file (appending through one name), remount: every name
    shows one file, the old content or the new one, never a mix, never
    names that differ."""
    rng = random.Random(int(os.environ.get('UM_TEST_SEED') or 10))
    big = os.urandom(32 << 20)
    with Union(lowers=1) as u:
        for i in range(6):
            mkfile(u.l(1, 'big%d' % i), big)
            for n in ('d/x%d' % i, 'y%d' % i):
                hardlink(u.l(1, 'big%d' % i), u.l(1, n))
        start_foreground(u)
        t0 = time.monotonic()
        _append(u.m('big0'), b'X')
        t_copy = time.monotonic() - t0
        old, new = sha(big), sha(big + b'X')
        eq(file_sha(u.m('d/x0')), new, 'd/x0 after a copy-up through big0')
        for i in range(1, 6):
            names = ['big%d' % i, 'd/x%d' % i, 'y%d' % i]
            pid = spawn(_append, u.m(names[i % 3]), b'X')
            time.sleep(rng.uniform(0, 1.5 * t_copy))
            kill_daemon(u)
            reap(pid)
            start_foreground(u)
            eq(work_leftovers(u), [], 'work/unionmount after remount')
            shas = {n: file_sha(u.m(n)) for n in names}
            check(len(set(shas.values())) == 1 and
                  shas[names[0]] in (old, new),
                  'after a kill during copy-up, names of one file show %s '
                  '(old %s, new %s)' % (
                      {n: s[:12] for n, s in shas.items()}, old[:12],
                      new[:12]))
            eq(len({os.stat(u.m(n)).st_ino for n in names}), 1,
               'one st_ino for %s after the kill' % names)
            _append(u.m(names[(i + 1) % 3]), b'Y')
            want = shas[names[0]]
            data = (big + b'X' if want == new else big) + b'Y'
            for n in names:
                eq(file_sha(u.m(n)), sha(data),
                   '%s after an append through another name' % n)


if __name__ == '__main__':
    main()
