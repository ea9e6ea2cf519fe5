"""Building blocks for the differential test (test_differential.py).

Three parts, all deterministic given a random.Random:

* layer plans: a description of three lower layers (files, dirs, symlinks,
  hard links, kernel whiteouts, opaque dirs) that can be written out any
  number of times, so both mounts start from byte-identical layers;
* snapshots: a comparable description of a merged tree, split into "hard"
  fields (must match) and "soft" fields (directory nlink and size, which are
  reported separately), plus the st_ino of every path;
* operations: random filesystem operations drawn over the current merged
  tree, applied to a mount root and returning ('ok', value) or
  ('err', errno name).
"""

import ctypes
import errno
import hashlib
import os
import posixpath
import stat
from dataclasses import dataclass, field

NAME_POOL = ("a", "b", "c", "d", "e", "dir", "sub", "f1", "f2", "x", "y",
             "link", "data.txt", "conf", "lib")
# No set-user-ID mode: kernel overlayfs clears it on any write, even by
# root, where a local file system (and unionmount) keeps it for root.
FILE_MODES = (0o644, 0o644, 0o600, 0o755, 0o640, 0o444)
DIR_MODES = (0o755, 0o755, 0o700, 0o555, 0o1777)
OWNERS = ((0, 0), (0, 0), (1000, 1000), (1, 2))
XATTR_NAMES = ("user.x", "user.y")
MAX_DEPTH = 3
MAX_LAYER_ENTRIES = 30
MIN_LAYER_ENTRIES = 10
OPAQUE_XATTR = "trusted.overlay.opaque"


# ---------------------------------------------------------------- layers


@dataclass
class Entry:
    """One object to create in a layer, relative to the layer root."""
    path: str
    kind: str                  # file, dir, symlink, whiteout, hardlink
    data: bytes = b""
    mode: int = 0
    owner: tuple = (0, 0)
    target: str = ""           # symlink target or hard link source path
    xattrs: dict = field(default_factory=dict)
    opaque: bool = False


def _random_data(rng):
    """File content: usually small, sometimes empty, rarely > 64 KiB."""
    roll = rng.random()
    if roll < 0.1:
        return b""
    if roll < 0.15:
        return rng.randbytes(rng.randint(65536, 140000))
    return rng.randbytes(rng.randint(1, 4000))


def _random_xattrs(rng):
    """Zero, one or two user.* xattrs."""
    names = [n for n in XATTR_NAMES if rng.random() < 0.2]
    return {n: rng.randbytes(rng.randint(0, 12)) for n in names}


def _relative_target(rng, link_path, candidates):
    """A symlink target that stays inside the tree: relative to the link's
    directory and pointing at a candidate path (which may not exist)."""
    if not candidates or rng.random() < 0.15:
        return rng.choice(NAME_POOL) + "-dangling"
    target = rng.choice(candidates)
    rel = posixpath.relpath(target or ".", posixpath.dirname(link_path) or ".")
    return rel


class LayerPlanner:
    """Plans the lower layers from the bottom up so that upper layers can
    deliberately reuse, shadow, white out or opaque names found below."""

    def __init__(self, rng, hardlinks=True):
        self.rng = rng
        self.hardlinks = hardlinks
        self.below = {}        # path -> kind, union of the layers planned so far
        self.view = {}         # path -> kind, merged view of those layers
        self.layer_opaque = set()   # opaque dirs of the layer being planned

    def _children_below(self, dirpath):
        """Names that exist directly under dirpath in some lower layer."""
        prefix = dirpath + "/" if dirpath else ""
        return sorted({p[len(prefix):] for p in self.below
                       if p.startswith(prefix) and "/" not in p[len(prefix):]
                       and p != dirpath})

    def _pick_name(self, dirpath, used):
        """A child name: half the time one that exists below (to create
        conflicts), otherwise from the shared pool."""
        below = [n for n in self._children_below(dirpath) if n not in used]
        if below and self.rng.random() < 0.5:
            return self.rng.choice(below)
        free = [n for n in NAME_POOL if n not in used]
        return self.rng.choice(free) if free else None

    def _merged(self, dirpath):
        """Whether dirpath of the layer being planned will be a merged
        directory. Whiteouts go only there: the kernel lists whiteouts in
        a directory that comes from a single layer (and then fails to
        stat them), which is not worth reproducing."""
        parts = dirpath.split("/") if dirpath else []
        for i in range(1, len(parts) + 1):
            if "/".join(parts[:i]) in self.layer_opaque:
                return False
        return not dirpath or self.view.get(dirpath) == "dir"

    def _apply_to_view(self, entries):
        """Lay the planned layer over the merged view, overlayfs-style."""
        for e in entries:
            keep_below = e.kind == "dir" and not e.opaque and self.view.get(e.path) == "dir"
            if not keep_below:
                prefix = e.path + "/"
                for p in [p for p in self.view if p == e.path or p.startswith(prefix)]:
                    del self.view[p]
            if e.kind != "whiteout":
                self.view[e.path] = "dir" if e.kind == "dir" else "file"

    def _plan_entry(self, path, markers):
        """Choose what to create at path; markers allows whiteouts and
        opaque directories."""
        rng = self.rng
        below_kind = self.below.get(path)
        if markers and self._merged(posixpath.dirname(path)):
            if rng.random() < (0.2 if below_kind else 0.03):
                return Entry(path, "whiteout")
        kind = rng.choices(("file", "dir", "symlink"), (5, 3, 1))[0]
        owner = rng.choice(OWNERS)
        if kind == "file":
            return Entry(path, "file", data=_random_data(rng),
                         mode=rng.choice(FILE_MODES), owner=owner,
                         xattrs=_random_xattrs(rng))
        if kind == "dir":
            opaque = markers and rng.random() < (0.5 if below_kind == "dir" else 0.15)
            if opaque:
                self.layer_opaque.add(path)
            return Entry(path, "dir", mode=rng.choice(DIR_MODES), owner=owner,
                         xattrs=_random_xattrs(rng), opaque=opaque)
        return Entry(path, "symlink", owner=owner,
                     target=_relative_target(rng, path, sorted(self.below)))

    def _plan_dir(self, dirpath, depth, markers, out, taken=()):
        """Fill one directory (pre-order, so parents precede children),
        skipping names already planned (taken)."""
        prefix = dirpath + "/" if dirpath else ""
        used = {p[len(prefix):] for p in taken
                if p.startswith(prefix) and "/" not in p[len(prefix):]}
        for _ in range(self.rng.randint(2, 5 if depth == 0 else 4)):
            if len(out) >= MAX_LAYER_ENTRIES:
                return
            name = self._pick_name(dirpath, used)
            if name is None:
                return
            used.add(name)
            path = posixpath.join(dirpath, name) if dirpath else name
            entry = self._plan_entry(path, markers)
            out.append(entry)
            if entry.kind == "dir" and depth + 1 < MAX_DEPTH:
                self._plan_dir(path, depth + 1, markers, out)

    def _add_hardlink(self, entries):
        """Maybe add a hard link to one of the layer's regular files."""
        files = [e.path for e in entries if e.kind == "file"]
        dirs = [""] + [e.path for e in entries if e.kind == "dir"]
        if not files or self.rng.random() < 0.6:
            return
        taken = {e.path for e in entries}
        parent = self.rng.choice(dirs)
        name = self.rng.choice(NAME_POOL) + ".hl"
        path = posixpath.join(parent, name) if parent else name
        if path not in taken:
            target = self.rng.choice(files)    # drawn anyway: same sequence
            if self.hardlinks:
                entries.append(Entry(path, "hardlink", target=target))

    def plan_layer(self, markers):
        """Plan one layer above everything planned so far: keep filling its
        directories until it has at least MIN_LAYER_ENTRIES entries."""
        entries = []
        self._plan_dir("", 0, markers, entries)
        for _ in range(20):
            if len(entries) >= MIN_LAYER_ENTRIES:
                break
            dirs = [("", 0)] + [(e.path, e.path.count("/") + 1) for e in entries
                                if e.kind == "dir" and e.path.count("/") + 1 < MAX_DEPTH]
            parent, depth = self.rng.choice(dirs)
            taken = {e.path for e in entries}
            self._plan_dir(parent, depth, markers, entries, taken)
        self._add_hardlink(entries)
        for e in entries:
            if e.kind != "whiteout":
                self.below[e.path] = "dir" if e.kind == "dir" else "file"
        self._apply_to_view(entries)
        self.layer_opaque = set()
        return entries


def plan_layers(rng, count=3, hardlinks=True):
    """Plans for `count` lower layers, topmost first (lowerdir order). Only
    the upper count-1 layers get whiteouts and opaque dirs."""
    planner = LayerPlanner(rng, hardlinks)
    bottom_up = [planner.plan_layer(markers=(i > 0)) for i in range(count)]
    return list(reversed(bottom_up))


def write_layer(entries, root):
    """Create the planned entries under the existing directory root."""
    for e in entries:
        path = os.path.join(root, e.path)
        if e.kind == "file":
            with open(path, "wb") as f:
                f.write(e.data)
        elif e.kind == "dir":
            os.mkdir(path)
        elif e.kind == "symlink":
            os.symlink(e.target, path)
        elif e.kind == "whiteout":
            os.mknod(path, stat.S_IFCHR | 0, os.makedev(0, 0))
            continue
        elif e.kind == "hardlink":
            os.link(os.path.join(root, e.target), path)
            continue
        os.chown(path, *e.owner, follow_symlinks=False)
        if e.kind != "symlink":
            os.chmod(path, e.mode)    # after chown, which clears set-id bits
        for name, value in e.xattrs.items():
            os.setxattr(path, name, value, follow_symlinks=False)
        if e.opaque:
            os.setxattr(path, OPAQUE_XATTR, b"y")


# ---------------------------------------------------------------- snapshots


@dataclass
class Snapshot:
    """What a merged tree looks like. hard/soft map path -> dict of fields;
    ino maps path -> st_ino; dino_differs lists the paths whose readdir
    d_ino is not their st_ino. The root is the path ''."""
    hard: dict
    soft: dict
    ino: dict
    dino_differs: list = field(default_factory=list)

    def kinds(self):
        """path -> 'dir', 'file', 'symlink' or 'other' (root excluded)."""
        out = {}
        for path, rec in self.hard.items():
            if path and "error" not in rec:
                out[path] = rec["type"]
        return out


def _err_name(exc):
    return errno.errorcode.get(exc.errno, str(exc.errno))


def _type_name(mode):
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other:%o" % stat.S_IFMT(mode)


def _file_digest(path):
    """sha256 prefix of a regular file's content, read without following
    links and without blocking."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        h = hashlib.sha256()
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return h.hexdigest()[:16]
            h.update(chunk)
    finally:
        os.close(fd)


def _xattrs(path):
    """All visible xattrs (names of any namespace, so leaked private ones
    show up) with their values."""
    out = {}
    for name in sorted(os.listxattr(path, follow_symlinks=False)):
        try:
            out[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError as e:
            out[name] = "err:" + _err_name(e)
    return out


def _describe(path):
    """Hard fields, soft fields and st_ino of one path."""
    st = os.lstat(path)
    kind = _type_name(st.st_mode)
    hard = {"type": kind, "perm": st.st_mode & 0o7777,
            "uid": st.st_uid, "gid": st.st_gid}
    soft = {}
    if kind == "dir":
        soft["dir_nlink"] = st.st_nlink
        soft["dir_size"] = st.st_size
    else:
        hard["nlink"] = st.st_nlink
        hard["size"] = st.st_size
    if kind == "file":
        hard["sha"] = _file_digest(path)
    elif kind == "symlink":
        hard["target"] = os.readlink(path)
    hard["xattrs"] = _xattrs(path)
    return hard, soft, st.st_ino


def _record(snap, root, rel, d_ino):
    """Describe root/rel into snap; an error becomes part of the record."""
    try:
        hard, soft, ino = _describe(os.path.join(root, rel))
    except OSError as e:
        snap.hard[rel] = {"error": _err_name(e)}
        return False
    snap.hard[rel], snap.soft[rel], snap.ino[rel] = hard, soft, ino
    if d_ino is not None and d_ino != ino:
        snap.dino_differs.append(rel)
    return hard["type"] == "dir"


def _walk(snap, root, rel):
    """Record every entry below root/rel, sorted, not following links."""
    try:
        with os.scandir(os.path.join(root, rel)) as it:
            entries = sorted((e.name, e.inode()) for e in it)
    except OSError as e:
        snap.hard[rel + "/<readdir>"] = {"error": _err_name(e)}
        return
    for name, d_ino in entries:
        child = posixpath.join(rel, name) if rel else name
        if _record(snap, root, child, d_ino):
            _walk(snap, root, child)


def snapshot(root):
    """Snapshot the whole tree under root."""
    snap = Snapshot({}, {}, {})
    if _record(snap, root, "", None):
        _walk(snap, root, "")
    return snap


def _field_diffs(a, b, limit, common_only=False):
    """Human-readable differences between two path -> fields maps; with
    common_only, paths missing on one side are not reported."""
    out = []
    paths = set(a) & set(b) if common_only else set(a) | set(b)
    for path in sorted(paths):
        ra, rb = a.get(path), b.get(path)
        if ra == rb:
            continue
        if ra is None or rb is None:
            out.append("%r: only on %s" % (path or "/", "A" if rb is None else "B"))
        else:
            keys = sorted(set(ra) | set(rb))
            parts = ["%s %s != %s" % (k, short(ra.get(k)), short(rb.get(k)))
                     for k in keys if ra.get(k) != rb.get(k)]
            out.append("%r: %s" % (path or "/", "; ".join(parts)))
        if len(out) >= limit:
            out.append("...")
            break
    return out


def short(value):
    """repr() cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def ino_classes(snap):
    """Groups (of two or more paths) that share an st_ino."""
    groups = {}
    for path, ino in snap.ino.items():
        groups.setdefault(ino, []).append(path)
    return sorted(tuple(sorted(g)) for g in groups.values() if len(g) > 1)


def ino_changed(before, after):
    """Paths present in both snapshots whose st_ino changed."""
    return sorted(p for p in before.ino
                  if p in after.ino and before.ino[p] != after.ino[p])


def _without_xattrs(records, prefixes):
    """Copy of path -> fields without the xattrs whose names start with
    prefixes."""
    out = {}
    for path, rec in records.items():
        rec = dict(rec)
        if "xattrs" in rec:
            rec["xattrs"] = {n: v for n, v in rec["xattrs"].items()
                             if not n.startswith(prefixes)}
        out[path] = rec
    return out


def _without_field(hard, field):
    """hard with one field dropped from every path."""
    return {p: {k: v for k, v in f.items() if k != field} for p, f in hard.items()}


def compare_snapshots(a, b, limit=8, check_ino=True, hidden_xattrs=()):
    """(hard differences, soft differences) between the two sides' trees.
    check_ino compares which paths share an st_ino; xattrs whose names
    start with one of hidden_xattrs are ignored."""
    ha, hb = a.hard, b.hard
    if hidden_xattrs:
        ha, hb = _without_xattrs(ha, hidden_xattrs), _without_xattrs(hb, hidden_xattrs)
    hard = _field_diffs(ha, hb, limit)
    ca, cb = ino_classes(a), ino_classes(b)
    if check_ino and ca != cb:
        hard.append("inode classes differ: A %s B %s" % (short(ca), short(cb)))
    soft = _field_diffs(a.soft, b.soft, limit, common_only=True)
    return hard, soft


# ---------------------------------------------------------------- operations


@dataclass
class Op:
    """One filesystem operation: kind names a function in OPS; args are
    passed after the mount root."""
    kind: str
    args: tuple

    def __str__(self):
        shown = ", ".join(short(a) if not isinstance(a, bytes)
                          else "<%d bytes>" % len(a) for a in self.args)
        return "%s(%s)" % (self.kind, shown)

    def paths(self):
        """The tree paths this operation names."""
        n = {"symlink": (1,), "link": (0, 1), "rename": (0, 1),
             "rename2": (0, 1)}.get(self.kind, (0,))
        return [self.args[i] for i in n]


def _j(root, rel):
    return os.path.join(root, rel) if rel else root


def _write_fd(path, flags, data, mode=0o644, offset=None):
    """Open (never blocking on a FIFO), write data, close."""
    fd = os.open(path, flags | os.O_NONBLOCK, mode)
    try:
        if offset is None:
            return os.write(fd, data)
        return os.pwrite(fd, data, offset)
    finally:
        os.close(fd)


def op_create(root, rel, data, mode, excl):
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if excl else os.O_TRUNC)
    return _write_fd(_j(root, rel), flags, data, mode)


def op_append(root, rel, data):
    return _write_fd(_j(root, rel), os.O_WRONLY | os.O_APPEND, data)


def op_overwrite(root, rel, data):
    return _write_fd(_j(root, rel), os.O_WRONLY | os.O_TRUNC, data)


def op_pwrite(root, rel, offset, data):
    return _write_fd(_j(root, rel), os.O_RDWR, data, offset=offset)


def op_truncate(root, rel, size):
    os.truncate(_j(root, rel), size)


def op_unlink(root, rel):
    os.unlink(_j(root, rel))


def op_mkdir(root, rel, mode):
    os.mkdir(_j(root, rel), mode)


def op_rmdir(root, rel):
    os.rmdir(_j(root, rel))


def op_mkfifo(root, rel):
    os.mkfifo(_j(root, rel), 0o640)


def op_rename(root, src, dst):
    os.rename(_j(root, src), _j(root, dst))


_libc = ctypes.CDLL(None, use_errno=True)
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
AT_FDCWD = -100


def op_rename2(root, src, dst, flags):
    """renameat2() with RENAME_NOREPLACE or RENAME_EXCHANGE."""
    ret = _libc.renameat2(AT_FDCWD, os.fsencode(_j(root, src)), AT_FDCWD,
                          os.fsencode(_j(root, dst)), ctypes.c_uint(flags))
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def op_symlink(root, target, rel):
    os.symlink(target, _j(root, rel))


def op_link(root, src, dst, follow):
    os.link(_j(root, src), _j(root, dst), follow_symlinks=follow)


def op_chmod(root, rel, mode):
    os.chmod(_j(root, rel), mode)


def op_chown(root, rel, uid, gid):
    os.chown(_j(root, rel), uid, gid, follow_symlinks=False)


def op_utime(root, rel, atime_ns, mtime_ns, follow):
    """Set explicit times; the value is the times read back."""
    path = _j(root, rel)
    os.utime(path, ns=(atime_ns, mtime_ns), follow_symlinks=follow)
    st = os.stat(path, follow_symlinks=follow)
    return st.st_atime_ns, st.st_mtime_ns


def op_setxattr(root, rel, name, value, flags):
    os.setxattr(_j(root, rel), name, value, flags)


def op_removexattr(root, rel, name):
    os.removexattr(_j(root, rel), name)


def op_read(root, rel):
    """Whole content through the (followed) path: length and digest."""
    fd = os.open(_j(root, rel), os.O_RDONLY | os.O_NONBLOCK)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    return len(data), hashlib.sha256(data).hexdigest()[:16]


def op_stat(root, rel):
    """stat() following symlinks: type, permissions, size, nlink."""
    st = os.stat(_j(root, rel))
    nlink = None if stat.S_ISDIR(st.st_mode) else st.st_nlink
    size = None if stat.S_ISDIR(st.st_mode) else st.st_size
    return _type_name(st.st_mode), st.st_mode & 0o7777, size, nlink


def op_listdir(root, rel):
    return sorted(os.listdir(_j(root, rel)))


OPS = {name[3:]: fn for name, fn in globals().items() if name.startswith("op_")}


def apply_op(root, op):
    """Run op under root: ('ok', value) or ('err', errno name)."""
    try:
        return ("ok", OPS[op.kind](root, *op.args))
    except OSError as e:
        return ("err", _err_name(e))


class OpGenerator:
    """Draws random operations over the paths of the current merged tree
    plus fresh names."""

    WEIGHTS = {
        "create": 8, "append": 6, "overwrite": 4, "pwrite": 4, "truncate": 4,
        "unlink": 6, "mkdir": 5, "rmdir": 4, "rename": 10, "rename2": 3,
        "symlink": 3, "link": 3, "chmod": 3, "chown": 2, "utime": 3,
        "setxattr": 3, "removexattr": 2, "read": 5, "stat": 2, "listdir": 4,
        "mkfifo": 1,
    }

    def __init__(self, rng):
        self.rng = rng
        self.kinds = {}

    def next(self, snap):
        """One operation over the tree described by snap."""
        self.kinds = snap.kinds()
        self.groups = ino_classes(snap)
        weights = dict(self.WEIGHTS, **self.HARDLINK_WEIGHTS)
        names = sorted(weights)
        kind = self.rng.choices(names, [weights[n] for n in names])[0]
        if kind in self.HARDLINK_WEIGHTS:
            return self._gen_hardlink(kind)
        return Op(kind, getattr(self, "_gen_" + kind)())

    # hard links (issue 10 item 3) -------------------------------------
    # A change through one name of a file with several (lower hard links,
    # or links made by the "link" op): the other names must follow, with
    # the kernel's index=on as the reference.

    HARDLINK_WEIGHTS = {
        "hl_write": 4, "hl_truncate": 1, "hl_chmod": 2, "hl_unlink": 2,
        "hl_rename": 2, "hl_link": 2,
    }

    def _hardlink_name(self):
        """A name of a regular file that has several names, else any file."""
        names = sorted(p for g in self.groups for p in g
                       if self.kinds.get(p) == "file")
        return self.rng.choice(names) if names else self._existing("file")

    def _gen_hardlink(self, kind):
        """The operation drawn as kind, through a name of a hard link."""
        name = self._hardlink_name()
        if kind == "hl_write":
            if self.rng.random() < 0.5:
                return Op("append", (name, self._data()))
            return Op("pwrite", (name, self.rng.randint(0, 5000), self._data()))
        if kind == "hl_truncate":
            return Op("truncate", (name, self.rng.choice((0, 3, 4096, 70000))))
        if kind == "hl_chmod":
            return Op("chmod", (name, self.rng.choice(FILE_MODES)))
        if kind == "hl_unlink":
            return Op("unlink", (name,))
        if kind == "hl_rename":
            return Op("rename", (name, self._rename_target(name)))
        return Op("link", (name, self._fresh(), True))

    # path choices -----------------------------------------------------

    def _existing(self, want=None):
        """An existing path, preferably of type want."""
        paths = sorted(self.kinds)
        if want:
            typed = [p for p in paths if self.kinds[p] == want]
            if typed and self.rng.random() < 0.85:
                paths = typed
        return self.rng.choice(paths) if paths else self._fresh()

    def _dir(self):
        """An existing directory or the root ''."""
        dirs = [""] + sorted(p for p, k in self.kinds.items() if k == "dir")
        return self.rng.choice(dirs)

    def _fresh(self, parent=None):
        """A name from the pool inside some directory (may exist)."""
        parent = self._dir() if parent is None else parent
        name = self.rng.choice(NAME_POOL + ("new", "new2", "tmp"))
        return posixpath.join(parent, name) if parent else name

    def _any(self, want=None, p_existing=0.7):
        if self.rng.random() < p_existing:
            return self._existing(want)
        return self._fresh()

    def _data(self):
        rng = self.rng
        if rng.random() < 0.05:
            return rng.randbytes(rng.randint(65536, 200000))
        return rng.randbytes(rng.randint(0, 5000))

    def _rename_target(self, src):
        """Same directory, another directory, or over an existing path."""
        roll = self.rng.random()
        if roll < 0.3:
            return self._fresh(posixpath.dirname(src))
        if roll < 0.55:
            return self._fresh()
        return self._existing()

    # generators, one per op kind (return the argument tuple) ----------

    def _gen_create(self):
        return (self._any("file", 0.3), self._data(),
                self.rng.choice(FILE_MODES), self.rng.random() < 0.6)

    def _gen_append(self):
        return (self._any("file", 0.9), self._data())

    def _gen_overwrite(self):
        return (self._any("file", 0.9), self._data())

    def _gen_pwrite(self):
        return (self._any("file", 0.9), self.rng.randint(0, 9000), self._data())

    def _gen_truncate(self):
        size = self.rng.choice((0, 1, 100, 4096, 5000, 70000, 300000))
        return (self._any("file", 0.9), size)

    def _gen_unlink(self):
        return (self._any(None, 0.9),)

    def _gen_mkdir(self):
        return (self._any("dir", 0.2), self.rng.choice(DIR_MODES))

    def _gen_rmdir(self):
        return (self._any("dir", 0.9),)

    def _gen_mkfifo(self):
        return (self._any(None, 0.2),)

    def _gen_rename(self):
        src = self._any(self.rng.choice(("file", "dir", None)), 0.9)
        return (src, self._rename_target(src))

    def _gen_rename2(self):
        src = self._any(None, 0.9)
        flag = self.rng.choice((RENAME_NOREPLACE, RENAME_EXCHANGE))
        return (src, self._rename_target(src), flag)

    def _gen_symlink(self):
        link = self._any(None, 0.2)
        target = _relative_target(self.rng, link, sorted(self.kinds) + [self._fresh()])
        return (target, link)

    def _gen_link(self):
        return (self._any("file", 0.9), self._any(None, 0.2), self.rng.random() < 0.7)

    def _gen_chmod(self):
        return (self._any(None, 0.9), self.rng.choice(FILE_MODES + DIR_MODES))

    def _gen_chown(self):
        return (self._any(None, 0.9),) + self.rng.choice(OWNERS)

    def _gen_utime(self):
        atime = self.rng.randint(10**17, 2 * 10**18)
        mtime = self.rng.randint(10**17, 2 * 10**18)
        return (self._any(None, 0.9), atime, mtime, self.rng.random() < 0.8)

    def _gen_setxattr(self):
        flags = self.rng.choice((0, 0, os.XATTR_CREATE, os.XATTR_REPLACE))
        return (self._any(None, 0.9), self.rng.choice(XATTR_NAMES),
                self.rng.randbytes(self.rng.randint(0, 20)), flags)

    def _gen_removexattr(self):
        return (self._any(None, 0.9), self.rng.choice(XATTR_NAMES))

    def _gen_read(self):
        return (self._any("file", 0.9),)

    def _gen_stat(self):
        return (self._any("symlink", 0.9),)

    def _gen_listdir(self):
        return (self._any("dir", 0.9) if self.rng.random() < 0.9 else "",)


# ---------------------------------------------------------------- times
# (issue 10 item 4) Wall-clock times differ between the two sides, so
# what is compared is which directories an operation changed, and that a
# remount changes no time on either side.


def mtimes(root, dirs_only=False):
    """path -> st_mtime_ns of every directory (and, unless dirs_only, every
    other entry) under root, without following links; '' is the root."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        rel = "" if rel == "." else rel
        try:
            out[rel] = os.lstat(dirpath).st_mtime_ns
        except OSError:
            continue
        if dirs_only:
            continue
        for name in files:
            path = os.path.join(dirpath, name)
            try:
                out[posixpath.join(rel, name) if rel else name] = \
                    os.lstat(path).st_mtime_ns
            except OSError:
                pass
    return out


def mtime_changes(before, after):
    """Paths present before and after whose mtime changed, sorted."""
    return sorted(p for p in before if p in after and before[p] != after[p])
