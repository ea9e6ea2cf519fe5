// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unpacking an OCI layer tarball into an empty directory as a layer both
 * unionmount and kernel overlayfs mount: ".wh.NAME" becomes the chosen
 * whiteout, ".wh..wh..opq" an opaque directory.  The import command and
 * the fuzzer (tests/fuzz/fuzz_import.c) run this.
 *
 * The tarball is untrusted.  Every name is checked once (no absolute
 * names, no "..", no component over NAME_MAX) and resolved component by
 * component from the directory's fd with O_NOFOLLOW, so neither a name
 * nor a hard link can leave DIR, and a symlink from the tar is never
 * followed: a later entry through it is refused.  Where privilege is
 * missing (devices, other owners) the entry is made as the rootless
 * union stores it: an empty file or the real type, with
 * user.containers.override_stat saying what it is.  A name given twice:
 * the last entry wins, as with tar -x (a directory over a directory only
 * updates its metadata).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "layer/import.h"
#include "markers.h"
#include "override.h"
#include "util.h"

struct dir_meta {
	char *path;
	mode_t mode;
	struct timespec mtime;
};

struct imp {
	int rootfd;
	enum layer_whiteout wh;
	char *parent; /* the parent path of the last entry */
	int parentfd; /* its fd, -1 for none */
	struct dir_meta *dirs;
	size_t ndirs, capdirs;
	bool warned_xattr;
	char *buf;
	const char *entry; /* for messages */
};

#define COPY_CHUNK (1 << 20)

/* A hostile or malformed entry: exit 2. */
static int bad(struct imp *im, const char *why)
{
	fprintf(stderr, "unionmount-layer import: %s: %s\n",
		im->entry ? im->entry : "?", why);
	return -EINVAL;
}

static int fail(struct imp *im, const char *what, int err)
{
	fprintf(stderr, "unionmount-layer import: %s: %s: %s\n",
		im->entry ? im->entry : "?", what, strerror(-err));
	return err;
}

/*
 * A tar name made safe: "./" prefixes, "." and empty components and a
 * final "/" dropped; absolute names, ".." and over-long components
 * refused.  Returns a malloc'ed "a/b" ("" for the root) or NULL after a
 * message.
 */
static char *clean_name(struct imp *im, const char *name, int *err)
{
	size_t len = strlen(name);
	char *out = malloc(len + 1), *w = out;
	const char *p = name;

	*err = -EINVAL;
	if (!out) {
		*err = -ENOMEM;
		return NULL;
	}
	if (*name == '/') {
		bad(im, "absolute name");
		free(out);
		return NULL;
	}
	while (*p) {
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);

		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* "a//b", "./a": nothing */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			bad(im, "\"..\" in the name");
			free(out);
			return NULL;
		} else if (n > NAME_MAX) {
			bad(im, "a name component is longer than NAME_MAX");
			free(out);
			return NULL;
		} else {
			if (w != out)
				*w++ = '/';
			memcpy(w, p, n);
			w += n;
		}
		p = *end ? end + 1 : end;
	}
	*w = '\0';
	*err = 0;
	return out;
}

/*
 * The fd of directory `dir` ("a/b", "" for the root) inside DIR, every
 * component opened with O_NOFOLLOW: a symlink on the way is refused.
 * Missing directories are made (tarballs may leave parents out) if
 * create.  Returns an fd the caller closes, or -errno after a message.
 */
static int open_dir(struct imp *im, const char *dir, bool create)
{
	_cleanup_free_ char *copy = strdup(dir);
	char *save = NULL, *comp;
	int fd;

	if (!copy)
		return -ENOMEM;
	fd = dup(im->rootfd);
	if (fd < 0)
		return fail(im, "dup", -errno);
	for (comp = strtok_r(copy, "/", &save); comp;
	     comp = strtok_r(NULL, "/", &save)) {
		int next =
			openat(fd, comp,
			       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST) {
				int err = -errno;
				close(fd);
				return fail(im, comp, err);
			}
			next = openat(fd, comp,
				      O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					      O_CLOEXEC);
		}
		if (next < 0) {
			int err = -errno;
			close(fd);
			if (err == -ELOOP || err == -ENOTDIR) {
				bad(im, "a parent is a symlink or not a "
					"directory");
				return -EINVAL;
			}
			return fail(im, comp, err);
		}
		close(fd);
		fd = next;
	}
	return fd;
}

/* The parent of path, cached for runs of entries in one directory. */
static int parent_fd(struct imp *im, const char *path, const char **base)
{
	const char *slash = strrchr(path, '/');
	size_t plen = slash ? (size_t)(slash - path) : 0;
	char *parent;
	int fd;

	*base = slash ? slash + 1 : path;
	if (im->parent && strlen(im->parent) == plen &&
	    !strncmp(im->parent, path, plen))
		return im->parentfd;
	parent = strndup(path, plen);
	if (!parent)
		return -ENOMEM;
	fd = open_dir(im, parent, true);
	if (fd < 0) {
		free(parent);
		return fd;
	}
	if (im->parentfd >= 0)
		close(im->parentfd);
	free(im->parent);
	im->parent = parent;
	im->parentfd = fd;
	return fd;
}

/* Forget the cached parent: the tree under it changed. */
static void parent_forget(struct imp *im)
{
	if (im->parentfd >= 0)
		close(im->parentfd);
	im->parentfd = -1;
	free(im->parent);
	im->parent = NULL;
}

/* Remove what a new entry replaces.  A directory stays for a directory. */
static int clear_name(struct imp *im, int dfd, const char *base, bool is_dir,
		      bool *kept_dir)
{
	struct stat st;
	int r;

	*kept_dir = false;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : fail(im, "stat", -errno);
	if (S_ISDIR(st.st_mode)) {
		if (is_dir) {
			*kept_dir = true;
			return 0;
		}
		r = um_rmtree_at(dfd, base);
		parent_forget(im);
		return r < 0 ? fail(im, "remove", r) : 1;
	}
	if (unlinkat(dfd, base, 0) < 0)
		return fail(im, "remove", -errno);
	return 1;
}

static int set_override(struct imp *im, int dfd, const char *base,
			const struct um_override *ov)
{
	char val[UM_OVERRIDE_MAX];
	int r = um_setxattr_at(dfd, base, UM_OVERRIDE_CONTAINERS, val,
			       um_override_format(ov, val), 0);

	return r < 0 ? fail(im, UM_OVERRIDE_CONTAINERS, r) : 0;
}

/* Owner, mode, xattrs, times; an override where privilege is missing. */
static int set_meta(struct imp *im, struct archive_entry *e, int dfd,
		    const char *base, mode_t made_type)
{
	mode_t type = archive_entry_filetype(e);
	mode_t perm = archive_entry_perm(e);
	struct um_override ov = {
		.uid = (uid_t)archive_entry_uid(e),
		.gid = (gid_t)archive_entry_gid(e),
		.mode = perm,
		.rdev = archive_entry_rdev(e),
	};
	bool need_ov = made_type != type;
	const char *xn;
	const void *xv;
	size_t xs;

	if (fchownat(dfd, base, ov.uid, ov.gid, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != EPERM && errno != EINVAL)
			return fail(im, "chown", -errno);
		need_ov = true;
	}
	if (need_ov) {
		if (made_type != type)
			ov.mode |= type;
		int r = set_override(im, dfd, base, &ov);
		if (r < 0)
			return r;
	}
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &xn, &xv, &xs) == ARCHIVE_OK) {
		int r;

		/* Markers come from whiteout entries, never from a tar's
		 * xattrs: a tarball cannot plant a redirect or an override. */
		if (um_is_private_xattr(xn) || um_is_override_xattr(xn)) {
			if (!im->warned_xattr)
				fprintf(stderr,
					"unionmount-layer import: %s: xattr "
					"%s left out (overlay/unionmount "
					"private)\n",
					im->entry, xn);
			im->warned_xattr = true;
			continue;
		}
		r = um_setxattr_at(dfd, base, xn, xv, xs, 0);
		if (r < 0)
			return fail(im, xn, r);
	}
	/*
	 * The mode after owner and xattrs: each of those drops the set-id
	 * bits.  A directory gets its mode last of all: it may forbid
	 * making its entries.
	 */
	if (type != AE_IFLNK && type != AE_IFDIR &&
	    fchmodat(dfd, base, perm, 0) < 0)
		return fail(im, "chmod", -errno);
	if (type != AE_IFDIR) {
		struct timespec ts[2] = {
			{archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
			{archive_entry_mtime(e), archive_entry_mtime_nsec(e)},
		};
		if (utimensat(dfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
			return fail(im, "utimensat", -errno);
	}
	return 0;
}

static int write_data(struct imp *im, struct archive *a, int fd)
{
	const void *buf;
	size_t size;
	la_int64_t off, end = 0;
	int r;

	while ((r = archive_read_data_block(a, &buf, &size, &off)) ==
	       ARCHIVE_OK) {
		const char *p = buf;

		/* Holes of sparse entries are skipped, not written. */
		while (size) {
			ssize_t w = pwrite(fd, p, size, off);

			if (w < 0) {
				if (errno == EINTR)
					continue;
				return fail(im, "write", -errno);
			}
			p += w;
			off += w;
			size -= (size_t)w;
		}
		if (off > end)
			end = off;
	}
	if (r != ARCHIVE_EOF)
		return bad(im, archive_error_string(a));
	return 0;
}

static bool can_whiteout_chardev(struct imp *im, int dfd, const char *base)
{
	if (im->wh == LAYER_WH_OCI)
		return false;
	if (mknodat(dfd, base, S_IFCHR | 0, makedev(0, 0)) == 0)
		return true;
	if (im->wh == LAYER_WH_AUTO &&
	    (errno == EPERM || errno == EOPNOTSUPP)) {
		/* One answer for the whole layer. */
		im->wh = LAYER_WH_OCI;
		return false;
	}
	return false;
}

static int whiteout(struct imp *im, const char *path, int dfd, const char *base,
		    const char *target)
{
	struct stat st;
	int r;

	/*
	 * The image spec: a whiteout hides what the layers below hold, never
	 * an entry of its own layer, which hides the lower one anyway.
	 */
	if (fstatat(dfd, target, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return fail(im, "stat", -errno);
	if (can_whiteout_chardev(im, dfd, target))
		return 0;
	if (im->wh == LAYER_WH_CHARDEV)
		return fail(im, "mknod whiteout", -errno);
	r = openat(dfd, base,
		   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (r < 0)
		return errno == EEXIST ? 0 : fail(im, "create", -errno);
	close(r);
	return 0;
}

static int opaque(struct imp *im, int dfd, const char *base)
{
	int r;

	if (im->wh != LAYER_WH_OCI) {
		/* trusted. where we may, user. (userxattr mounts) where
		 * not: both the kernel and unionmount read them. */
		r = um_setxattr_at(
			dfd, "", um_marker_name(UM_MARK_OPAQUE, UM_NS_TRUSTED),
			"y", 1, 0);
		if (r == -EPERM)
			r = um_setxattr_at(
				dfd, "",
				um_marker_name(UM_MARK_OPAQUE, UM_NS_USER), "y",
				1, 0);
		if (r == 0 || im->wh == LAYER_WH_CHARDEV)
			return r < 0 ? fail(im, "opaque xattr", r) : 0;
	}
	r = openat(dfd, base, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		   0644);
	if (r < 0)
		return fail(im, "create", -errno);
	close(r);
	return 0;
}

static int add_dir_meta(struct imp *im, const char *path,
			struct archive_entry *e, bool again)
{
	struct dir_meta *m;

	/* A directory given twice: its last entry's mode and time count. */
	for (size_t i = 0; again && i < im->ndirs; i++) {
		if (strcmp(im->dirs[i].path, path))
			continue;
		im->dirs[i].mode = archive_entry_perm(e);
		im->dirs[i].mtime.tv_sec = archive_entry_mtime(e);
		im->dirs[i].mtime.tv_nsec = archive_entry_mtime_nsec(e);
		return 0;
	}

	if (im->ndirs == im->capdirs) {
		size_t nc = im->capdirs ? im->capdirs * 2 : 64;
		struct dir_meta *nv = realloc(im->dirs, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		im->dirs = nv;
		im->capdirs = nc;
	}
	m = &im->dirs[im->ndirs];
	m->path = strdup(path);
	if (!m->path)
		return -ENOMEM;
	m->mode = archive_entry_perm(e);
	m->mtime.tv_sec = archive_entry_mtime(e);
	m->mtime.tv_nsec = archive_entry_mtime_nsec(e);
	im->ndirs++;
	return 0;
}

static int one_entry(struct imp *im, struct archive *a, struct archive_entry *e)
{
	_cleanup_free_ char *path = NULL;
	const char *base, *target;
	mode_t type = archive_entry_filetype(e);
	const char *hl = archive_entry_hardlink(e);
	mode_t made = type;
	bool kept_dir = false;
	int dfd, r;

	im->entry = archive_entry_pathname(e);
	if (!im->entry)
		return bad(im, "entry without a name");
	path = clean_name(im, im->entry, &r);
	if (!path)
		return r;
	if (!*path) {
		/* The root: DIR itself keeps its own metadata. */
		return 0;
	}
	dfd = parent_fd(im, path, &base);
	if (dfd < 0)
		return dfd;
	if (um_is_oci_opaque(base))
		return opaque(im, dfd, base);
	target = um_oci_whiteout_target(base);
	if (target) {
		if (um_is_oci_reserved(target)) {
			/* ".wh..wh.plnk" and friends: aufs internals. */
			fprintf(stderr,
				"unionmount-layer import: %s: aufs marker "
				"left out\n",
				im->entry);
			return 0;
		}
		return whiteout(im, path, dfd, base, target);
	}
	if (um_is_oci_reserved(base))
		return bad(im, "a name starting with .wh. that is no whiteout");
	r = clear_name(im, dfd, base, type == AE_IFDIR && !hl, &kept_dir);
	if (r < 0)
		return r;
	if (r > 0) {
		dfd = parent_fd(im, path, &base);
		if (dfd < 0)
			return dfd;
	}
	if (hl) {
		_cleanup_free_ char *tpath = clean_name(im, hl, &r);
		const char *tbase;
		_cleanup_close_ int tfd = -1;
		struct stat st;

		if (!tpath)
			return r;
		if (!*tpath)
			return bad(im, "hard link to the root");
		{
			_cleanup_free_ char *tdir = strdup(tpath);
			char *slash;

			if (!tdir)
				return -ENOMEM;
			slash = strrchr(tdir, '/');
			tbase = slash ? tpath + (slash - tdir) + 1 : tpath;
			if (slash)
				*slash = '\0';
			else
				tdir[0] = '\0';
			tfd = open_dir(im, tdir, false);
		}
		if (tfd < 0)
			return tfd == -ENOENT ? bad(im, "hard link to a "
							"missing entry")
					      : tfd;
		if (fstatat(tfd, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return bad(im, "hard link to a missing entry");
		if (S_ISDIR(st.st_mode))
			return bad(im, "hard link to a directory");
		if (linkat(tfd, tbase, dfd, base, 0) < 0)
			return fail(im, "link", -errno);
		return 0;
	}
	switch (type) {
	case AE_IFDIR:
		if (!kept_dir && mkdirat(dfd, base, 0700) < 0)
			return fail(im, "mkdir", -errno);
		r = set_meta(im, e, dfd, base, made);
		if (r == 0)
			r = add_dir_meta(im, path, e, kept_dir);
		return r;
	case AE_IFREG: {
		_cleanup_close_ int fd = openat(dfd, base,
						O_WRONLY | O_CREAT | O_EXCL |
							O_NOFOLLOW | O_CLOEXEC,
						0600);

		if (fd < 0)
			return fail(im, "create", -errno);
		r = write_data(im, a, fd);
		if (r == 0 && ftruncate(fd, archive_entry_size(e)) < 0)
			r = fail(im, "truncate", -errno);
		if (r < 0)
			return r;
		break;
	}
	case AE_IFLNK:
		if (!archive_entry_symlink(e))
			return bad(im, "symlink without a target");
		if (symlinkat(archive_entry_symlink(e), dfd, base) < 0)
			return fail(im, "symlink", -errno);
		break;
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
		if (mknodat(dfd, base, type | 0600, archive_entry_rdev(e)) <
		    0) {
			int fd;

			if (errno != EPERM || type == AE_IFIFO)
				return fail(im, "mknod", -errno);
			/* Unprivileged: an empty file says what it is. */
			fd = openat(dfd, base,
				    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
					    O_CLOEXEC,
				    0600);
			if (fd < 0)
				return fail(im, "create", -errno);
			close(fd);
			made = AE_IFREG;
		}
		break;
	default:
		return bad(im, "unsupported entry type");
	}
	return set_meta(im, e, dfd, base, made);
}

/* Directory modes and times last: making their entries changed them. */
static int finish_dirs(struct imp *im)
{
	im->entry = NULL;
	for (size_t i = im->ndirs; i-- > 0;) {
		struct dir_meta *m = &im->dirs[i];
		struct timespec ts[2] = {m->mtime, m->mtime};
		int fd;

		im->entry = m->path;
		fd = open_dir(im, m->path, false);
		if (fd < 0) {
			/* Replaced by a later entry: that one counts. */
			if (fd == -EINVAL || fd == -ENOENT)
				continue;
			return fd;
		}
		if (fchmod(fd, m->mode) < 0 || futimens(fd, ts) < 0) {
			int err = -errno;
			close(fd);
			return fail(im, "chmod/utimensat", err);
		}
		close(fd);
	}
	return 0;
}

int layer_import(struct archive *a, int rootfd, enum layer_whiteout wh)
{
	struct imp im = {.rootfd = rootfd, .parentfd = -1, .wh = wh};
	struct archive_entry *e;
	int r = 0;

	for (;;) {
		int h = archive_read_next_header(a, &e);

		if (h == ARCHIVE_EOF)
			break;
		if (h != ARCHIVE_OK && h != ARCHIVE_WARN) {
			im.entry = "tarball";
			r = bad(&im, archive_error_string(a));
			break;
		}
		r = one_entry(&im, a, e);
		if (r < 0)
			break;
	}
	if (r == 0)
		r = finish_dirs(&im);
	parent_forget(&im);
	for (size_t i = 0; i < im.ndirs; i++)
		free(im.dirs[i].path);
	free(im.dirs);
	return r;
}
