#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The command line: refused forms exit 2 with one line on stderr and mount
nothing; the accepted forms mount.  All cases are unionmount only."""

import errno
import os
import re
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import (REPO, Union, case, check, eq, eq_mode, esc, fails_with,
                    join, listing, main, mkdir, mkfile, mount_entry,
                    mounts_under, read, run_cli, run_logged, write)

UM = dict(unionmount_only=True, why='command line')


def _refused(u, args, words):
    """Run unionmount with args; it must exit 2, print one line naming the
    problem (any of words, case-insensitive) and mount nothing."""
    rc, out, err = run_cli(args)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    problems = []
    if rc != 2:
        problems.append('expected exit status 2 got %d' % rc)
    if len(lines) != 1:
        problems.append('expected one line on stderr got %d: %r' % (
            len(lines), err))
    elif not any(w in lines[0].lower() for w in words):
        problems.append('expected stderr to mention one of %s got %r' % (
            words, lines[0]))
    if mounts_under(u.root):
        problems.append('expected nothing mounted got %s' %
                        mounts_under(u.root))
    if problems:
        raise_fail('; '.join(problems) + ' (unionmount %s)' % ' '.join(args))


def raise_fail(msg):
    check(False, msg)


MISSING = ['does not exist', 'no such file', 'not exist', 'missing']
NOTDIR = ['not a directory']
INSIDE = ['inside', 'within', 'nested', 'overlap', 'beneath', 'below',
          'recurs']
TWICE = ['twice', 'same', 'more than once', 'duplicate', 'repeated']


@case(**UM)
def refuse_missing_lower():
    with Union(lowers=1) as u:
        _refused(u, [join(u.root, 'nonexistent'), u.u(), u.m()], MISSING)
        _refused(u, [u.l(1) + ':' + join(u.root, 'nonexistent'), u.u(),
                     u.m()], MISSING)


@case(**UM)
def refuse_missing_upper():
    with Union(lowers=1) as u:
        _refused(u, [u.l(1), join(u.root, 'nonexistent'), u.m()], MISSING)


@case(**UM)
def refuse_lower_is_file():
    with Union(lowers=1) as u:
        f = mkfile(join(u.root, 'plainfile'), b'x')
        _refused(u, [f, u.u(), u.m()], NOTDIR)
        _refused(u, ['-o', 'lowerdir=%s,upperdir=%s' % (u.l(1), f), u.m()],
                 NOTDIR)


@case(**UM)
def refuse_upper_inside_lower():
    with Union(lowers=1) as u:
        up = mkdir(u.l(1, 'up'))
        _refused(u, [u.l(1), up, u.m()], INSIDE)


@case(**UM)
def refuse_lower_inside_upper():
    with Union(lowers=1) as u:
        low = mkdir(u.u('low'))
        _refused(u, [low, u.u(), u.m()], INSIDE)


@case(**UM)
def refuse_workdir_inside_lower():
    with Union(lowers=1) as u:
        w = mkdir(u.l(1, 'w'))
        _refused(u, ['-o', 'lowerdir=%s,upperdir=%s,workdir=%s' % (
            u.l(1), u.u(), w), u.m()], INSIDE)


@case(**UM)
def refuse_mountpoint_inside_upper():
    with Union(lowers=1) as u:
        mp = mkdir(u.u('mnt'))
        _refused(u, [u.l(1), u.u(), mp], INSIDE)


@case(**UM)
def refuse_mountpoint_inside_lower():
    with Union(lowers=1) as u:
        mp = mkdir(u.l(1, 'mnt'))
        _refused(u, [u.l(1), u.u(), mp], INSIDE)
        # Mounting over a lower itself (LOWER LOWER) is allowed, as with
        # the kernel: the layer is opened before the mount covers it.


@case(**UM)
def refuse_same_dir_twice():
    with Union(lowers=2) as u:
        _refused(u, [u.l(1) + ':' + u.l(1), u.u(), u.m()], TWICE)
        _refused(u, [u.l(1) + ':' + u.l(2) + ':' + u.l(1) + '/.', u.u(),
                     u.m()], TWICE)
        _refused(u, [u.l(1), u.l(1), u.m()], TWICE + INSIDE)


@case(**UM)
def refuse_501_lowers():
    with Union(lowers=0) as u:
        dirs = [mkdir(join(u.root, 'l%03d' % i)) for i in range(501)]
        _refused(u, [':'.join(dirs), u.u(), u.m()], ['500', 'too many'])


@case(**UM)
def accept_500_lowers():
    with Union(lowers=0) as u:
        for i in range(500):
            u.lowers.append(mkdir(join(u.root, 'l%03d' % i)))
        mkfile(u.l(500, 'bottom'), b'500th')
        mkfile(u.l(250, 'middle'), b'250th')
        mkfile(u.l(1, 'middle'), b'1st')
        u.mount()
        eq(read(u.m('bottom')), b'500th', 'file from lower 500')
        eq(read(u.m('middle')), b'1st', 'file from lower 1')
        eq(listing(u.m()), ['bottom', 'middle'], 'root listing')


@case(**UM)
def refuse_empty_layer_list():
    with Union(lowers=1) as u:
        empty = ['empty', 'no lower', 'missing', 'lowerdir']
        _refused(u, ['', u.u(), u.m()], empty)
        _refused(u, ['-o', 'lowerdir=,upperdir=%s' % u.u(), u.m()], empty)
        _refused(u, [u.l(1) + '::' + u.l(1), u.u(), u.m()], empty + TWICE)


@case(**UM)
def refuse_workdir_on_other_fs():
    with Union(lowers=1) as u:
        tmpfs = mkdir(join(u.root, 'tmpfs'))
        rc, _o, err = run_logged(['mount', '-t', 'tmpfs', 'umtest', tmpfs])
        eq(rc, 0, 'mount -t tmpfs: ' + err.strip())
        try:
            w = mkdir(join(tmpfs, 'w'))
            rc, out, err = run_cli(['-o', 'lowerdir=%s,upperdir=%s,'
                                    'workdir=%s' % (u.l(1), u.u(), w),
                                    u.m()])
            eq(rc, 2, 'exit status')
            lines = [ln for ln in err.splitlines() if ln.strip()]
            eq(len(lines), 1, 'lines on stderr: %r' % err)
            check(any(w in lines[0].lower() for w in
                      ('file system', 'filesystem', 'same fs', 'device',
                       'same mount')),
                  'expected a message about file systems got %r' % lines[0])
            check(mount_entry(u.m()) is None, 'expected nothing mounted')
        finally:
            run_logged(['umount', tmpfs])


@case(**UM)
def help_exits_0():
    with Union(lowers=1) as u:
        for opt in ('-h', '--help'):
            rc, out, err = run_cli([opt])
            eq(rc, 0, 'exit status of ' + opt)
            check('usage' in (out + err).lower(),
                  'expected usage text from %s got %r' % (opt, out + err))
            check(mounts_under(u.root) == [], 'expected nothing mounted')


@case(**UM)
def version_exits_0():
    want = None
    try:
        m = re.search(r"project\([^)]*?\bversion\s*:\s*'([^']+)'",
                      read(join(REPO, 'meson.build')).decode(), re.S)
        want = m.group(1) if m else None
    except OSError:
        pass
    for opt in ('-V', '--version'):
        rc, out, err = run_cli([opt])
        eq(rc, 0, 'exit status of ' + opt)
        text = out + err
        check(re.search(r'\d+\.\d+', text) is not None,
              'expected a version from %s got %r' % (opt, text))
        if want:
            check(want in text, 'expected %s in %r' % (want, text))


@case(**UM)
def o_option_form():
    with Union(lowers=2) as u:
        mkfile(u.l(1, 'a'), b'A1')
        mkfile(u.l(2, 'a'), b'A2')
        mkfile(u.l(2, 'b'), b'B2')
        u.mount(argv=['-o', 'lowerdir=%s:%s,upperdir=%s,workdir=%s' % (
            esc(u.l(1)), esc(u.l(2)), esc(u.u()), esc(u.work)), u.m()])
        eq(listing(u.m()), ['a', 'b'], 'root listing')
        eq(read(u.m('a')), b'A1', 'content of a')
        write(u.m('c'), b'C')
        eq(read(u.u('c')), b'C', 'upper/c')
        check(not os.path.exists(join(u.root, '.upper.unionmount-work')),
              'expected no default workdir when workdir= is given')


@case(**UM)
def o_option_readonly_form():
    with Union(lowers=2, upper=False) as u:
        mkfile(u.l(2, 'b'), b'B2')
        u.mount(argv=['-o', 'lowerdir=%s:%s' % (u.l(1), u.l(2)), u.m()])
        eq(read(u.m('b')), b'B2', 'content of b')
        fails_with(errno.EROFS, 'create', os.open, u.m('n'),
                   os.O_CREAT | os.O_WRONLY, 0o644)


@case(**UM)
def default_workdir_beside_upper():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A')
        u.mount()
        w = join(u.root, '.upper.unionmount-work')
        st = os.lstat(w)
        eq_mode(st.st_mode, stat.S_IFDIR | 0o700, 'mode of the default '
                'workdir')
        write(u.m('a'), b'changed')
        eq(read(u.u('a')), b'changed', 'upper/a')


@case(**UM)
def upper_given_as_option_with_positional_lowers():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A')
        u.mount(argv=['-o', 'upperdir=%s,workdir=%s' % (u.u(), u.work),
                      u.l(1), u.m()])
        write(u.m('b'), b'B')
        eq(read(u.u('b')), b'B', 'upper/b')
        eq(listing(u.m()), ['a', 'b'], 'root listing')


@case(**UM)
def escaped_colon_and_comma_in_paths():
    with Union(lowers=0) as u:
        weird = mkdir(join(u.root, 'we:ird,name'))
        plain = mkdir(join(u.root, 'plain'))
        u.lowers = [weird, plain]
        mkfile(join(weird, 'w'), b'from weird')
        mkfile(join(plain, 'p'), b'from plain')
        u.mount()       # positional form, escaped by default_argv
        eq(listing(u.m()), ['p', 'w'], 'root listing (positional)')
        eq(read(u.m('w')), b'from weird', 'content of w (positional)')
        u.umount()
        u.mount(argv=['-o', 'lowerdir=%s:%s,upperdir=%s,workdir=%s' % (
            esc(weird), esc(plain), esc(u.u()), esc(u.work)), u.m()])
        eq(listing(u.m()), ['p', 'w'], 'root listing (-o form)')
        eq(read(u.m('w')), b'from weird', 'content of w (-o form)')


@case(**UM)
def unknown_option_refused():
    """A misspelt option must not mount something else than asked: with
    uppredir= the union would be read-only and changes go nowhere."""
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A')
        for opt in ('uppredir=' + u.u(), 'bogus_xyzzy_option', 'RO',
                    'kernel_cache'):
            name = opt.split('=')[0]
            _refused(u, ['-o', opt, u.l(1), u.m()], [name.lower()])
            _refused(u, [u.l(1), u.u(), u.m(), '-o', 'nofail,' + opt],
                     [name.lower()])
        check(not os.path.exists(join(u.root, '.upper.unionmount-work')),
              'expected no work directory made for a refused command line')
        eq(listing(u.u()), [], 'upper listing')


@case(**UM)
def compat_options_without_effect_said_once():
    """Options of fuse-overlayfs and the kernel that do nothing here are
    accepted, and one line on stderr names each of them once."""
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A')
        err = u.mount(opts=['threaded=1', 'context="system_u:object_r:'
                            'container_file_t:s0:c1,c2"', 'xino=off',
                            'threaded=0', 'nofail'])
        lines = [ln for ln in err.splitlines() if ln.strip()]
        eq(lines, ['unionmount: accepted for compatibility, without effect: '
                   'threaded,context,xino'], 'stderr lines')
        eq(read(u.m('a')), b'A', 'content of a')
        write(u.m('b'), b'B')
        eq(read(u.u('b')), b'B', 'upper/b')


@case(**UM)
def podman_options_accepted():
    """What containers-storage passes to its mount_program, as
    fuse-overlayfs takes it: all accepted, the union writable."""
    with Union(lowers=2) as u:
        mkfile(u.l(2, 'a'), b'A')
        opts = ('lowerdir=%s:%s,upperdir=%s,workdir=%s,nodev,metacopy=on,'
                'uidmapping=0:0:65536,gidmapping=0:0:65536,'
                'xattr_permissions=2,volatile,fsync=0' % (
                    esc(u.l(1)), esc(u.l(2)), esc(u.u()), esc(u.work)))
        err = u.mount(argv=['-o', opts, u.m()])
        eq(err.strip(), '', 'stderr')
        eq(read(u.m('a')), b'A', 'content of a')
        write(u.m('b'), b'B')
        eq(read(u.u('b')), b'B', 'upper/b')
        u.umount()
        err = u.mount(argv=['-o', opts.replace(',volatile', ',squash_to_uid=0,'
                                               'squash_to_gid=0'), u.m()])
        eq(err.strip(), '', 'stderr with squash_to_*')
        eq(read(u.m('b')), b'B', 'content of b after remount')


@case(**UM)
def mount_helper_options_silently_accepted():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A')
        err = u.mount(opts=['defaults', 'nofail', 'x-systemd.foo',
                            'x-systemd.requires=/x', '_netdev',
                            'comment=hello', 'auto', 'noauto', 'user',
                            'users'])
        eq(err.strip(), '', 'stderr')
        eq(read(u.m('a')), b'A', 'content of a')


@case(**UM)
def quoted_fsname_with_comma():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A')
        u.mount(opts=['fsname="my,union"', 'nofail'])
        ent = mount_entry(u.m())
        check(ent is not None, 'expected a mount')
        eq(ent[3], 'my,union', 'mount source in mountinfo')
        eq(read(u.m('a')), b'A', 'content of a')


@case(**UM)
def ro_option_gives_erofs():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A')
        u.mount(opts=['ro'])
        fails_with(errno.EROFS, 'write a', os.open, u.m('a'), os.O_WRONLY)
        fails_with(errno.EROFS, 'mkdir', os.mkdir, u.m('d'))
        eq(listing(u.u()), [], 'upper listing')


@case(**UM)
def unmount_with_umount():
    with Union(lowers=1) as u:
        mkfile(u.l(1, 'a'), b'A')
        u.mount()
        rc, _o, err = run_logged(['umount', u.m()])
        eq(rc, 0, 'umount exit status: ' + err.strip())
        check(mount_entry(u.m()) is None, 'expected the mount gone')
        u.umount()      # reaps the -f daemon in foreground mode


if __name__ == '__main__':
    main()
