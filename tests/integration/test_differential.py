#!/usr/bin/env python3
"""Differential test: unionmount against kernel overlayfs.

For each seed, three lower layers and an empty upper are generated
deterministically and written twice.  One copy is mounted with kernel
overlayfs (side A), the other with unionmount (side B).  The same random
sequence of operations is applied to both mounts; after every step the
results (value or errno) and the whole merged trees are compared.

Environment:
  UNIONMOUNT          binary (default: <repo>/build/unionmount)
  UM_TEST_FOREGROUND  1: run unionmount -f in the background and check its
                      exit status and sanitizer output at the end
  UM_DIFF_SEEDS       seeds, e.g. "5", "1-50", "1,4,7-9" (default 1-20)
  UM_DIFF_STEPS       steps per seed (default 150)
  UM_DIFF_BUDGET      seconds after which no new seed starts (default 180)
  UM_DIFF_SELF        1: kernel overlayfs on both sides (validates the test);
                      UM_TEST_IMPL=kernel does the same
  UM_DIFF_REMOUNT_EVERY  remount both sides every N steps (default 50, 0: never)
  UM_DIFF_GENERATIONS  layer generations per seed (default 3): after each
                      one the upper of each side is rotated down as its top
                      lower under a fresh upper (the life of a container
                      layer), so redirects and whiteouts written by each
                      side are read back as lower layers; the steps are
                      shared out among the generations
  UM_DIFF_INDEX       on/off: index= of both sides (default on with one
                      generation, off with rotation, which drops the index)
  UM_DIFF_CROSS_READ  0: skip the final check that kernel overlayfs reads
                      unionmount's upper layer as the same tree (default 1)
  UM_DIFF_LOWER_HARDLINKS  0: no hard links inside the lower layers
  UM_DIFF_VERBOSE     1: print every operation and its result
  UM_DIFF_KEEP        1: keep the temporary directory of a failed seed
Exit status: 0 all seeds passed, 1 a mismatch or error, 77 skipped.
"""

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import diffops  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STEP_TIMEOUT = 30
MOUNT_TIMEOUT = 10
PRIVATE_XATTRS = ("trusted.unionmount.", "user.unionmount.")
SANITIZER_MARKS = ("AddressSanitizer", "runtime error:", "LeakSanitizer")


class Mismatch(Exception):
    """The two sides disagree; the message says how."""


# ---------------------------------------------------------------- mounts


def _unescape_mountinfo(field):
    """Decode the octal escapes (\\040 ...) of a mountinfo path."""
    out, i = bytearray(), 0
    raw = field.encode()
    while i < len(raw):
        if raw[i:i + 1] == b"\\" and raw[i + 1:i + 4].isdigit():
            out.append(int(raw[i + 1:i + 4], 8))
            i += 4
        else:
            out.append(raw[i])
            i += 1
    return out.decode(errors="surrogateescape")


def mountpoints():
    """Mount points currently listed in /proc/self/mountinfo."""
    with open("/proc/self/mountinfo") as f:
        return {_unescape_mountinfo(line.split()[4]) for line in f}


def fuse_connection(mnt):
    """The FUSE connection number (device minor) of the mount at mnt."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if _unescape_mountinfo(fields[4]) == mnt:
                return fields[2].split(":")[1]
    return None


def wait_mounted(mnt, proc=None, timeout=MOUNT_TIMEOUT):
    """Wait until mnt is a mount point; fail early if proc died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if mnt in mountpoints():
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("unionmount exited with %d before mounting" % proc.returncode)
        time.sleep(0.05)
    raise RuntimeError("%s not mounted after %ds" % (mnt, timeout))


def _run(cmd):
    """Run a command; (exit status, combined output)."""
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return res.returncode, res.stdout.strip()


def _unmount_retrying(cmd):
    """Run an unmount command; while the mount is busy, try again for up
    to 30 s: another program may hold it for a while (stress-ng's io
    stressor opens every mount point to syncfs() it)."""
    for _ in range(300):
        rc, out = _run(cmd)
        if rc == 0 or "busy" not in out:
            break
        time.sleep(0.1)
    return rc, out


def force_unmount(mnt):
    """Last resort for a mount that refuses to go: lazy unmount."""
    if mnt in mountpoints():
        _run(["umount", "-l", mnt])


class KernelOverlay:
    """Kernel overlayfs on one layer set."""

    name = "overlayfs"

    def __init__(self, layers):
        self.layers = layers
        self.mnt = layers["mnt"]

    def mount(self):
        # index= as unionmount (issue 10 item 3, see config()).
        opts = "lowerdir=%s,upperdir=%s,workdir=%s,redirect_dir=on,index=%s,metacopy=off" % (
            ":".join(self.layers["lowers"]), self.layers["upper"], self.layers["work"],
            self.layers["index"])
        # With index=on the kernel refuses an upper dir still in use, and
        # a mount namespace made meanwhile (another test's) keeps a copy of
        # the old mount, and the upper in use, until it goes: try again.
        for _ in range(100):
            rc, out = _run(["mount", "-t", "overlay", "overlay", "-o", opts, self.mnt])
            if rc == 0 or ("busy" not in out and "already" not in out):
                break
            time.sleep(0.1)
        if rc != 0:
            raise RuntimeError("mount -t overlay failed: " + out)

    def abort(self):
        """Nothing to abort: the kernel side does not hang on a daemon."""

    def unmount(self):
        """Unmount; returns a list of problems (empty if fine)."""
        if self.mnt not in mountpoints():
            return []
        rc, out = _unmount_retrying(["umount", self.mnt])
        if rc != 0:
            force_unmount(self.mnt)
            return ["umount %s: %s" % (self.mnt, out)]
        return []


class UnionMount:
    """unionmount on one layer set, daemonized or (foreground=True) as a
    child process whose exit status and log are checked at unmount."""

    name = "unionmount"

    def __init__(self, layers, binary, foreground, log_path):
        self.layers = layers
        self.mnt = layers["mnt"]
        self.binary = binary
        self.foreground = foreground
        self.log_path = log_path
        self.proc = None

    def _command(self):
        opts = "lowerdir=%s,upperdir=%s,workdir=%s,index=%s" % (
            ":".join(self.layers["lowers"]), self.layers["upper"], self.layers["work"],
            self.layers["index"])
        cmd = [self.binary, "-o", opts, self.mnt]
        return cmd[:1] + ["-f"] + cmd[1:] if self.foreground else cmd

    def mount(self):
        if self.foreground:
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(self._command(), stdout=log, stderr=log)
            wait_mounted(self.mnt, self.proc)
            return
        # The daemon of the previous mount may still be exiting, holding
        # the lock on the upper and work directories: try again a while.
        for _ in range(100):
            rc, out = _run(self._command())
            if rc == 0 or "in use by" not in out and \
                    "already a unionmount mount" not in out:
                break
            time.sleep(0.1)
        if rc != 0:
            raise RuntimeError("unionmount exited %d: %s" % (rc, out))
        wait_mounted(self.mnt)

    def abort(self):
        """Break a hung FUSE connection: kill our foreground daemon, or use
        the fusectl abort file when fusectl is mounted."""
        if self.proc is not None:
            self.proc.kill()
        conn = fuse_connection(self.mnt)
        if conn is not None:
            try:
                with open("/sys/fs/fuse/connections/%s/abort" % conn, "w") as f:
                    f.write("1")
            except OSError:
                pass

    def _unmount_command(self):
        rc, out = _unmount_retrying(["fusermount3", "-u", self.mnt])
        if rc != 0:
            rc, out = _run(["umount", self.mnt])
        return rc, out

    def unmount(self):
        """Unmount and, in foreground mode, check how the daemon ended."""
        problems = []
        if self.mnt in mountpoints():
            rc, out = self._unmount_command()
            if rc != 0:
                problems.append("unmount %s: %s" % (self.mnt, out))
                force_unmount(self.mnt)
        if self.proc is not None:
            problems += self._reap()
        return problems

    def _reap(self):
        """Wait for the foreground daemon; check exit status and log."""
        problems = []
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            problems.append("unionmount did not exit after unmount (killed)")
        self.proc = None
        if rc != 0:
            problems.append("unionmount exit status %d" % rc)
        with open(self.log_path, errors="replace") as f:
            log = f.read()
        for mark in SANITIZER_MARKS:
            if mark in log:
                problems.append("unionmount log contains %r (see %s)" % (mark, self.log_path))
        return problems


# ---------------------------------------------------------------- one seed


def make_layer_set(base, plans, index):
    """Write the planned lowers plus empty upper/work/mnt under base;
    index: the index= both sides mount with."""
    os.makedirs(base)
    lowers = []
    for i, entries in enumerate(plans, 1):
        path = os.path.join(base, "l%d" % i)
        os.mkdir(path)
        diffops.write_layer(entries, path)
        lowers.append(path)
    layers = {"lowers": lowers, "index": index}
    for name in ("upper", "work", "mnt"):
        layers[name] = os.path.join(base, name)
        os.mkdir(layers[name])
    return layers


def guarded(fn, side):
    """fn(side.mnt) under a watchdog: a call still running after
    STEP_TIMEOUT seconds gets its FUSE connection aborted (a signal cannot
    interrupt a request the daemon never answers) and fails the seed."""
    fired = threading.Event()

    def fire():
        fired.set()
        side.abort()

    timer = threading.Timer(STEP_TIMEOUT, fire)
    timer.start()
    try:
        result = fn(side.mnt)
    finally:
        timer.cancel()
    if fired.is_set():
        raise Mismatch("%s hung for %ds (connection aborted)" % (side.name, STEP_TIMEOUT))
    return result


class SeedRun:
    """Runs the operation sequence of one seed on two mounted sides."""

    def __init__(self, seed, cfg, side_a, side_b):
        self.seed = seed
        self.steps = cfg["steps"]
        self.remount_every = cfg["remount_every"]
        self.a, self.b = side_a, side_b
        self.verbose = cfg["verbose"]
        # The kernel itself sometimes reports a d_ino other than st_ino
        # (e.g. for a new hard link to a copied-up file), so this is checked
        # as unionmount's own promise, not compared.
        self.check_dino = not cfg["self"]
        self.history = []
        self.soft_note = None

    def _compare_trees(self, step, before, after):
        """Raise Mismatch on a hard difference; remember the first soft one."""
        hard, soft = diffops.compare_snapshots(after[0], after[1])
        if self.check_dino and after[1].dino_differs:
            hard.append("B: readdir d_ino != st_ino for %s" % after[1].dino_differs)
        if before is not None:
            ca = diffops.ino_changed(before[0], after[0])
            cb = diffops.ino_changed(before[1], after[1])
            if ca != cb:
                hard.append("st_ino changed: A %s B %s" % (ca, cb))
        if hard:
            raise Mismatch("tree differs:\n    " + "\n    ".join(hard + soft))
        if soft and self.soft_note is None:
            self.soft_note = "step %d: %s" % (step, "; ".join(soft))

    def _check_rename_ino(self, op, before, after, results):
        """After a successful rename the destination keeps the source inode."""
        if op.kind != "rename" or results[0][0] != "ok":
            return
        src, dst = op.args
        kept = [before[i].ino.get(src) == after[i].ino.get(dst) for i in (0, 1)]
        if kept[0] != kept[1]:
            raise Mismatch("rename kept st_ino: A %s B %s" % tuple(kept))

    def _snapshots(self):
        """Snapshots of both sides."""
        return tuple(guarded(diffops.snapshot, side) for side in (self.a, self.b))

    def step(self, k, op, before):
        """Apply op on both sides, compare; returns the new snapshots."""
        self.history.append("%d: %s" % (k, op))
        times = self._mtimes(dirs_only=True)
        results = tuple(guarded(lambda mnt: diffops.apply_op(mnt, op), side)
                        for side in (self.a, self.b))
        self.history[-1] += " -> %s" % diffops.short(results[0])
        if self.verbose:
            print("  seed %d %s" % (self.seed, self.history[-1]), flush=True)
        if results[0] != results[1]:
            raise Mismatch("results differ: A %s B %s" % (
                diffops.short(results[0]), diffops.short(results[1])))
        after = self._snapshots()
        self._compare_trees(k, before, after)
        self._check_rename_ino(op, before, after, results)
        self._compare_dir_mtimes(times, self._mtimes(dirs_only=True))
        return after

    def remount(self, k, before):
        """Unmount and mount both sides again; the trees and every st_ino
        must survive."""
        self.history.append("%d: <remount both sides>" % k)
        times = self._mtimes()
        for side in (self.a, self.b):
            problems = side.unmount()
            if problems:
                raise Mismatch("; ".join(problems))
            side.mount()
        after = self._snapshots()
        self._compare_trees(k, before, after)
        self._check_times_kept(times, self._mtimes())
        return after

    # times (issue 10 item 4) ------------------------------------------

    def _mtimes(self, dirs_only=False):
        """mtimes of both sides (see diffops.mtimes)."""
        return tuple(guarded(lambda mnt: diffops.mtimes(mnt, dirs_only), side)
                     for side in (self.a, self.b))

    def _compare_dir_mtimes(self, before, after):
        """The directories whose mtime the step changed are the same on
        both sides (a copy-up changes none)."""
        ca, cb = (diffops.mtime_changes(before[i], after[i]) for i in (0, 1))
        if ca != cb:
            raise Mismatch("directory mtimes changed: A %s B %s" % (ca, cb))

    def _check_times_kept(self, before, after):
        """What stat showed before a remount is what was stored."""
        for i, side in enumerate((self.a, self.b)):
            moved = diffops.mtime_changes(before[i], after[i])
            if moved:
                raise Mismatch("%s: mtime changed by the remount: %s" % (
                    side.name, ["%s %d -> %d" % (p, before[i][p], after[i][p])
                                for p in moved[:8]]))

    # layer rotation (issue 10 item 1) ---------------------------------

    def rotate(self, generation):
        """Unmount both sides, make each upper the top lower under a fresh
        upper and work dir, mount again: the trees must not change."""
        before = self._snapshots()
        self.history.append("<generation %d: uppers rotated down>" % generation)
        for side in (self.a, self.b):
            problems = side.unmount()
            if problems:
                raise Mismatch(self._context(0, "; ".join(problems)))
            rotate_layers(side.layers, generation)
            side.mount()
        after = self._snapshots()
        try:
            # inode numbers may change with the layers (not compared)
            self._compare_trees(0, None, after)
            hard, _ = diffops.compare_snapshots(before[1], after[1],
                                                check_ino=False)
            if hard:
                raise Mismatch("unionmount's tree changed by the rotation:"
                               "\n    " + "\n    ".join(hard))
        except Mismatch as e:
            raise Mismatch("after rotation to generation %d: %s" % (
                generation, e))

    def run(self, rng):
        """Run all steps; raises Mismatch (with step context) on failure.
        Returns side A's final snapshot."""
        gen = diffops.OpGenerator(rng)
        k = 0
        try:
            snaps = self._snapshots()
            self._compare_trees(0, None, snaps)
            for k in range(1, self.steps + 1):
                op = gen.next(snaps[0])
                snaps = self.step(k, op, snaps)
                if self.remount_every and k % self.remount_every == 0:
                    snaps = self.remount(k, snaps)
        except (Mismatch, RuntimeError) as e:
            raise Mismatch(self._context(k, str(e)))
        return snaps[0]

    def cross_read(self, final_a):
        """Mount side B's layers (as left by unionmount) with kernel
        overlayfs: the kernel must see the same tree as side A, i.e. the
        whiteouts, opaque markers and redirects written are kernel-compatible.
        Inode numbers, unionmount's private xattrs and files with several
        names (see _without_hardlinks) are not compared."""
        problems = self.b.unmount()
        if problems:
            raise Mismatch("before cross-read: " + "; ".join(problems))
        kernel = KernelOverlay(self.b.layers)
        try:
            kernel.mount()
        except RuntimeError as e:
            raise Mismatch("cross-read: kernel refused unionmount's layers: %s" % e)
        try:
            snap = guarded(diffops.snapshot, kernel)
        finally:
            problems = kernel.unmount()
        final_a, snap = _without_hardlinks(final_a, snap)
        hard, _ = diffops.compare_snapshots(final_a, snap, check_ino=False,
                                            hidden_xattrs=PRIVATE_XATTRS)
        if hard or problems:
            raise Mismatch("cross-read (kernel overlayfs on unionmount's layers) "
                           "differs:\n    " + "\n    ".join(hard + problems))

    def _context(self, k, what):
        """A failure message: step, operation, what differs, recent ops."""
        op = self.history[-1].split(": ", 1)[1] if k else "initial tree"
        recent = "\n    ".join(self.history[-6:-1]) or "(none)"
        return "step %d: %s\n  %s\n  previous ops:\n    %s" % (k, op, what, recent)


def _without_hardlinks(a, b):
    """Snapshots a and b without the files that have several names on
    either side.  Names of a lower hard link share their copy through
    unionmount's index, which the kernel does not read: to a kernel mount
    of the upper, a name never linked up there is the lower file, and the
    copy counts the index entry among its links."""
    multi = {p for s in (a, b) for p, rec in s.hard.items()
             if rec.get("nlink", 1) > 1}

    def strip(s):
        return diffops.Snapshot(
            {p: r for p, r in s.hard.items() if p not in multi},
            {p: r for p, r in s.soft.items() if p not in multi},
            {p: i for p, i in s.ino.items() if p not in multi})
    return strip(a), strip(b)


def rotate_layers(layers, generation):
    """The upper becomes the topmost lower; a new empty upper and work
    directory beside it (upper<N>, work<N>)."""
    base = os.path.dirname(layers["upper"])
    layers["lowers"].insert(0, layers["upper"])
    for name in ("upper", "work"):
        layers[name] = os.path.join(base, "%s%d" % (name, generation))
        os.mkdir(layers[name])


def run_seed(seed, cfg):
    """Build, mount, exercise and tear down one seed. Returns a failure
    message or None; prints the outcome."""
    rng = random.Random(seed)
    plans = diffops.plan_layers(rng, hardlinks=cfg["lower_hardlinks"])
    base = tempfile.mkdtemp(prefix="um-diff-%d-" % seed)
    sides, failure, keep = [], None, False
    try:
        layers_a = make_layer_set(os.path.join(base, "A"), plans, cfg["index"])
        layers_b = make_layer_set(os.path.join(base, "B"), plans, cfg["index"])
        sides.append(KernelOverlay(layers_a))
        sides.append(KernelOverlay(layers_b) if cfg["self"] else
                     UnionMount(layers_b, cfg["binary"], cfg["foreground"],
                                os.path.join(base, "unionmount.log")))
        for side in sides:
            side.mount()
        run = SeedRun(seed, dict(cfg, steps=max(1, cfg["steps"] //
                                                cfg["generations"])),
                      sides[0], sides[1])
        final = run.run(rng)
        for generation in range(2, cfg["generations"] + 1):
            run.rotate(generation)
            final = run.run(rng)
        if cfg["cross_read"] and not cfg["self"]:
            run.cross_read(final)
        if run.soft_note:
            print("SOFT seed %d (dir nlink/size only) %s" % (seed, run.soft_note))
    except Mismatch as e:
        failure = str(e)
    except (OSError, RuntimeError) as e:
        failure = "setup/teardown error: %s" % e
    finally:
        problems = []
        for side in reversed(sides):
            problems += side.unmount()
        if problems and failure is None:
            failure = "; ".join(problems)
        elif problems:
            failure += "\n  also: " + "; ".join(problems)
        keep = failure is not None and cfg["keep"]
        _remove_tree(base, keep)
    if failure:
        print("FAIL seed %d %s" % (seed, failure), flush=True)
        if keep:
            print("  kept %s" % base)
    else:
        print("ok seed %d" % seed, flush=True)
    return failure


def _remove_tree(base, keep):
    """Remove the seed's temp dir, never while something is mounted in it."""
    if keep:
        return
    if any(m == base or m.startswith(base + "/") for m in mountpoints()):
        print("warning: %s still has mounts; not removing it" % base)
        return
    shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------- main


def parse_seeds(text):
    """"5", "1-50", "1,3,7-9" -> list of ints."""
    seeds = []
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = part.split("-", 1)
            seeds.extend(range(int(lo), int(hi) + 1))
        elif part:
            seeds.append(int(part))
    return seeds


def config():
    """Settings from the environment."""
    env = os.environ
    return {
        "binary": env.get("UNIONMOUNT", os.path.join(REPO, "build", "unionmount")),
        "foreground": env.get("UM_TEST_FOREGROUND") == "1",
        "seeds": parse_seeds(env.get("UM_DIFF_SEEDS", "1-20")),
        "steps": int(env.get("UM_DIFF_STEPS", "150")),
        "budget": float(env.get("UM_DIFF_BUDGET", "180")),
        "self": env.get("UM_DIFF_SELF") == "1" or env.get("UM_TEST_IMPL") == "kernel",
        "lower_hardlinks": env.get("UM_DIFF_LOWER_HARDLINKS", "1") == "1",
        "remount_every": int(env.get("UM_DIFF_REMOUNT_EVERY", "50")),
        "generations": max(1, int(env.get("UM_DIFF_GENERATIONS", "3"))),
        # Rotating an upper down without its work dir drops its hard-link
        # index (commit folds it into the layer; the test only moves the
        # directory): the names of a lower hard link then part, and the
        # kernel links up other names than we do.  So index=on (the
        # default of both) is compared in single-generation runs.
        "index": env.get("UM_DIFF_INDEX") or (
            "on" if int(env.get("UM_DIFF_GENERATIONS", "3")) <= 1 else "off"),
        "cross_read": env.get("UM_DIFF_CROSS_READ", "1") == "1",
        "verbose": env.get("UM_DIFF_VERBOSE") == "1",
        "keep": env.get("UM_DIFF_KEEP") == "1",
    }


def _on_sigterm(signum, frame):
    """Turn SIGTERM (e.g. a test-runner timeout) into an exception so the
    finally clauses unmount and clean up."""
    raise SystemExit("terminated by signal %d" % signum)


def main():
    signal.signal(signal.SIGTERM, _on_sigterm)
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse"):
        print("skip: needs root and /dev/fuse")
        return 77
    cfg = config()
    if not cfg["self"] and not os.access(cfg["binary"], os.X_OK):
        print("FAIL: unionmount binary not found: %s" % cfg["binary"])
        return 1
    os.umask(0o022)
    start = time.monotonic()
    failed, skipped = [], []
    for seed in cfg["seeds"]:
        if time.monotonic() - start > cfg["budget"]:
            skipped.append(seed)
            continue
        if run_seed(seed, cfg):
            failed.append(seed)
    if skipped:
        print("time budget (%gs) spent; seeds not run: %s" % (cfg["budget"], skipped))
    ran = len(cfg["seeds"]) - len(skipped)
    print("%d/%d seeds passed%s" % (ran - len(failed), ran,
                                    ", failed: %s" % failed if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
