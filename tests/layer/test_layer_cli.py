#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""unionmount-layer's command line: usage errors exit 2 with one line,
--help per command, --version."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from layertest import ok, refused, run  # noqa: E402
from umtest import Union, case, check, eq, main, mkdir  # noqa: E402

COMMANDS = ['diff', 'export', 'import', 'commit', 'squash']


@case
def version_and_help():
    out = ok(['--version'])
    check(out.startswith('unionmount-layer '), 'version line: %r' % out)
    out = ok(['--help'])
    for c in COMMANDS:
        check('  ' + c + ' ' in out, '%s in --help: %r' % (c, out))
    for c in COMMANDS:
        out = ok([c, '--help'])
        check(out.startswith('Usage: unionmount-layer ' + c),
              '%s --help: %r' % (c, out))


@case
def usage_errors():
    with Union(lowers=1) as u:
        missing = u.u('missing')
        f = u.u('file')
        open(f, 'w').close()
        cases = [
            ([], 'no command'),
            (['frobnicate'], 'unknown command'),
            (['diff'], 'diff without upper'),
            (['diff', '--bogus', u.u()], 'bad option'),
            (['diff', missing], 'missing upper'),
            (['diff', f], 'upper not a directory'),
            (['diff', '--lowers', missing, u.u()], 'missing lower'),
            (['diff', '--lowers', '', u.u()], 'empty lower list'),
            (['diff', '--lowers', u.l(1) + '::' + u.l(1), u.u()],
             'empty layer'),
            (['export', '--compress', 'lzma', u.u()], 'bad compression'),
            (['export', '--mtime', 'yesterday', u.u()], 'bad mtime'),
            (['export', u.u(), u.l(1)], 'two uppers'),
            (['import', f], 'import without DIR'),
            (['import', '--whiteout', 'aufs', f, u.u('x')], 'bad whiteout'),
            (['import', f, u.l(1)], 'import into a non-empty dir'),
            (['commit', u.u(), u.u('new')], 'commit without --lowers'),
            (['commit', '--lowers', u.l(1), u.u(), u.l(1)],
             'commit onto an existing dir'),
            (['squash', u.l(1)], 'squash without OUT'),
            (['squash', u.l(1) + ':' + missing, u.u('out')],
             'squash of a missing layer'),
            (['squash', u.l(1), u.l(1, 'out')], 'squash into a layer'),
            (['export', '-o', u.u('self.tar'), u.u()], 'export into UPPER'),
            (['export', '-o', u.l(1, 'x.tar'), '--lowers', u.l(1), u.u()],
             'export into a lower'),
            (['commit', '--lowers', u.l(1), u.u(), u.l(1, 'new')],
             'commit into a lower'),
        ]
        mkdir(u.l(1, 'x'))
        for args, what in cases:
            refused(args, what)
        line = refused(['export', u.u()], 'tarball to a terminal?',
                       env={'SOURCE_DATE_EPOCH': 'soon'})
        check('SOURCE_DATE_EPOCH' in line, 'names the variable: ' + line)
        # Nothing was made by the refused commands.
        eq(sorted(os.listdir(u.u())), ['file'], 'upper after refusals')
        eq(sorted(os.listdir(u.l(1))), ['x'], 'lower after refusals')


@case
def bad_tarball_exit_2():
    with Union(lowers=0) as u:
        bad = u.u('bad.tar')
        with open(bad, 'wb') as f:
            f.write(b'this is not a tar archive' * 40)
        refused(['import', bad, u.u('out')], 'garbage tarball')
        rc, out, err = run(['import', u.u('missing.tar'), u.u('out2')])
        eq(rc, 2, 'missing tarball exit')


if __name__ == '__main__':
    main()
