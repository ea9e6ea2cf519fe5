#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Concurrency (robustness): parallel first writes make one copy-up,
directory churn against a model of the listing, readers during a
copy-up.
Every case asserts exact outcomes; the bounded ones say their budget
beside the constant."""

import os
import random
import stat
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from umtest import (Union, case, check, eq, eq_mode, join, listing, main,
                    mkfile, read, write)
from stress_helpers import (KiB, MiB, SEED, SLOW, file_sha, info, sha,
                            work_leftovers)


@case
def parallel_first_writes_one_copyup():
    nthreads = 16
    block = 64 * KiB
    with Union(lowers=1) as u:
        lower = {}
        for r in range(4):
            data = os.urandom(8 * MiB)
            mkfile(u.l(1, 'f%d' % r), data, mode=0o640)
            lower[r] = data
        u.mount()
        for r in range(4):
            path = u.m('f%d' % r)
            ino = os.stat(path).st_ino
            barrier = threading.Barrier(nthreads)
            errors = []

            def writer(i):
                try:
                    barrier.wait()
                    fd = os.open(path, os.O_WRONLY)
                    try:
                        os.pwrite(fd, bytes([i + 1]) * block,
                                  i * 2 * block + 1)
                    finally:
                        os.close(fd)
                except Exception as e:          # noqa: B902
                    errors.append(repr(e))
            ts = [threading.Thread(target=writer, args=(i,))
                  for i in range(nthreads)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            eq(errors, [], 'writer errors on f%d' % r)
            want = bytearray(lower[r])
            for i in range(nthreads):
                off = i * 2 * block + 1
                want[off:off + block] = bytes([i + 1]) * block
            eq(read(path), bytes(want), 'content of f%d' % r)
            eq(read(u.u('f%d' % r)), bytes(want), 'upper/f%d' % r)
            eq(os.stat(path).st_ino, ino, 'st_ino of f%d' % r)
            eq_mode(os.stat(u.u('f%d' % r)).st_mode, stat.S_IFREG | 0o640,
                    'mode of upper/f%d' % r)
        eq(work_leftovers(u), [], 'work dir after the copy-ups')
        eq(listing(u.u()), ['f0', 'f1', 'f2', 'f3'], 'upper listing')


CHURN_SECONDS = 4


@case
def dir_churn_with_readdir_model():
    _dir_churn(upper_first=True)


@case
def dir_churn_from_a_lower_only_dir():
    """Readers list d while it still lies only in the lower layer (the
    kernel may cache such a listing), and go on while writers change it:
    the first change copies d up, no reader may see a mix of the two."""
    _dir_churn(upper_first=False)


def _dir_churn(upper_first):
    nwriters, nreaders, per = 6, 2, 24
    with Union(lowers=1) as u:
        models = []
        ever = set()
        stable = set()
        for t in range(nwriters):
            m = {}
            for k in range(8):
                n = 'L%d_%d' % (t, k)
                m[n] = b'lower ' + n.encode()
                mkfile(u.l(1, 'd/' + n), m[n])
            models.append(m)
            ever.update(m)
        for k in range(20):
            n = 'S%d' % k
            mkfile(u.l(1, 'd/' + n), b'stable ' + n.encode())
            stable.add(n)
        u.mount()
        for k in range(10 if upper_first else 0):
            n = 'U%d' % k
            write(u.m('d/' + n), b'stable ' + n.encode())
            stable.add(n)
        ever |= stable
        d = u.m('d')
        errors = []
        stop = threading.Event()
        listings = [0]

        def writer(t):
            rng = random.Random(SEED * 100 + t)
            m = models[t]
            own = ['w%d_%d' % (t, k) for k in range(per)] + \
                ['L%d_%d' % (t, k) for k in range(8)]
            try:
                while not stop.is_set():
                    op = rng.choice(('create', 'create', 'unlink', 'rename',
                                     'overwrite', 'read'))
                    present = sorted(m)
                    absent = [n for n in own if n not in m]
                    if op == 'create' and absent:
                        n = rng.choice(absent)
                        data = b'%s %d' % (n.encode(), rng.getrandbits(32))
                        ever.add(n)
                        with open(join(d, n), 'xb') as f:
                            f.write(data)
                        m[n] = data
                    elif op == 'unlink' and present:
                        n = rng.choice(present)
                        os.unlink(join(d, n))
                        del m[n]
                    elif op == 'rename' and present:
                        src = rng.choice(present)
                        dst = rng.choice(own)
                        ever.add(dst)
                        os.rename(join(d, src), join(d, dst))
                        m[dst] = m.pop(src)
                    elif op == 'overwrite' and present:
                        n = rng.choice(present)
                        data = b'over %s %d' % (n.encode(),
                                                rng.getrandbits(32))
                        write(join(d, n), data)
                        m[n] = data
                    elif op == 'read' and present:
                        n = rng.choice(present)
                        got = read(join(d, n))
                        if got != m[n]:
                            errors.append('read %s: expected %r got %r' % (
                                n, m[n], got))
            except Exception as e:              # noqa: B902
                errors.append('writer %d: %r' % (t, e))

        def reader():
            try:
                while not stop.is_set():
                    names = os.listdir(d)
                    listings[0] += 1
                    seen = set(names)
                    if len(seen) != len(names):
                        dup = sorted(n for n in seen if names.count(n) > 1)
                        errors.append('readdir duplicates: %s' % dup)
                    unknown = seen - ever
                    if unknown:
                        errors.append('readdir invented %s' % sorted(unknown))
                    missing = stable - seen
                    if missing:
                        errors.append('readdir lost untouched %s' %
                                      sorted(missing))
                    if len(errors) > 20:
                        return
            except Exception as e:              # noqa: B902
                errors.append('reader: %r' % e)

        ts = [threading.Thread(target=reader) for _ in range(nreaders)]
        ts += [threading.Thread(target=writer, args=(t,))
               for t in range(nwriters)]
        for i, t in enumerate(ts):
            t.start()
            if i == nreaders - 1 and not upper_first:
                time.sleep(0.3)         # readers alone on the lower dir
        time.sleep(CHURN_SECONDS)
        stop.set()
        for t in ts:
            t.join()
        eq(errors[:10], [], 'errors during the churn')
        want = {n: b'stable ' + n.encode() for n in stable}
        for m in models:
            want.update(m)
        info('%d readdirs during the churn, %d names at the end' % (
            listings[0], len(want)))

        def tree():
            return {n: read(join(d, n)) for n in os.listdir(d)}
        eq(sorted(os.listdir(d)), sorted(want), 'final listing of d')
        eq(tree() == want, True, 'final contents of d match the model')
        eq(work_leftovers(u), [], 'work dir after the churn')
        u.remount()
        eq(sorted(os.listdir(d)), sorted(want), 'listing of d after remount')
        got = tree()
        eq_bad = [n for n in want if got.get(n) != want[n]]
        eq(eq_bad, [], 'files differing from the model after remount')


@case
def readers_during_copyup():
    size = 32 * MiB
    with Union(lowers=1) as u:
        datas = {}
        for r in range(3):
            datas[r] = os.urandom(size)
            mkfile(u.l(1, 'big%d' % r), datas[r])
        u.mount()
        for r in range(3):
            path = u.m('big%d' % r)
            old = datas[r]
            off = (r + 1) * 7 * MiB + 123
            new = old[:off] + b'Z' * 4096 + old[off + 4096:]
            good = {sha(old): 'old', sha(new): 'new'}
            stop = threading.Event()
            done_at = [None]
            errors = []
            counts = {'old': 0, 'new': 0}

            def reader():
                try:
                    while not stop.is_set():
                        started = time.monotonic()
                        got = sha(read(path))
                        if got not in good:
                            errors.append('whole read of big%d is neither '
                                          'old nor new' % r)
                            return
                        counts[good[got]] += 1
                        if (done_at[0] is not None and started > done_at[0]
                                and good[got] != 'new'):
                            errors.append('read opened after the write '
                                          'returned saw the old data')
                            return
                except Exception as e:          # noqa: B902
                    errors.append(repr(e))
            ts = [threading.Thread(target=reader) for _ in range(4)]
            for t in ts:
                t.start()
            time.sleep(0.3)
            fd = os.open(path, os.O_WRONLY)
            os.pwrite(fd, b'Z' * 4096, off)
            os.close(fd)
            done_at[0] = time.monotonic()
            time.sleep(0.5 * SLOW)
            stop.set()
            for t in ts:
                t.join()
            eq(errors, [], 'readers of big%d' % r)
            eq(file_sha(path), sha(new), 'content of big%d' % r)
            info('big%d: %d old and %d new whole reads' % (
                r, counts['old'], counts['new']))
            check(counts['new'] > 0, 'no reader saw the new content of big%d'
                  % r)


if __name__ == '__main__':
    main()
