// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Copy-up.  Parents first, then the object: built under a temporary name in
 * the work directory (same file system as the upper) with mode 0600/0700
 * owned by us, filled with data, xattrs, owner, mode and times, and renamed
 * into the upper parent in one step.  The inode lock makes concurrent
 * triggers of the same copy-up wait for one another; the check "already in
 * the upper?" is repeated under it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "copyup.h"
#include "index.h"
#include "ino.h"
#include "inode.h"
#include "override.h"
#include "lookup.h"
#include "readdir.h"
#include "util.h"
#include "whiteout.h"

/*
 * Bytes copied per call; with flush, each chunk's writeback starts as the
 * next one is copied, so the final fdatasync has little left to wait for.
 */
#define COPY_CHUNK (32 << 20)
/* Bytes per read and write where copy_file_range() cannot be used. */
#define COPY_BUF (64 << 10)

/* Internal to build_copy(): the copy is an index entry, keeps the origin. */
#define COPY_INDEXED (1 << 16)

/* Copy the data extents of src to dst, keeping holes. */
static int copy_data(int src, int dst, off_t size, bool flush)
{
	_cleanup_free_ char *buf = NULL;
	off_t data = 0, hole;

	if (size == 0)
		return 0;
	if (ioctl(dst, FICLONE, src) == 0)
		return 0;
	while (data < size) {
		data = lseek(src, data, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				break; /* only a hole is left */
			if (errno != EINVAL)
				return -errno;
			data = 0; /* no SEEK_DATA: copy it all */
			hole = size;
		} else {
			hole = lseek(src, data, SEEK_HOLE);
			if (hole < 0)
				return -errno;
		}
		while (data < hole) {
			loff_t in = data, out = data;
			size_t want = hole - data < COPY_CHUNK
					      ? (size_t)(hole - data)
					      : COPY_CHUNK;
			ssize_t n =
				copy_file_range(src, &in, dst, &out, want, 0);
			if (n < 0 && (errno == EXDEV || errno == EINVAL ||
				      errno == EOPNOTSUPP || errno == ENOSYS)) {
				if (!buf && !(buf = malloc(COPY_BUF)))
					return -ENOMEM;
				if (want > COPY_BUF)
					want = COPY_BUF;
				n = pread(src, buf, want, data);
				if (n > 0)
					n = pwrite(dst, buf, n, data);
			}
			if (n < 0)
				return -errno;
			if (n == 0)
				break; /* the file shrank under us */
			if (flush)
				sync_file_range(dst, data, n,
						SYNC_FILE_RANGE_WRITE);
			data += n;
		}
	}
	return ftruncate(dst, size) < 0 ? -errno : 0;
}

/* Copy the xattrs of src to dst, both the objects themselves. */
static int copy_xattrs(const struct um_path *src, const struct um_path *dst)
{
	ssize_t len = um_path_listxattr(src, NULL, 0);
	_cleanup_free_ char *names = NULL;
	_cleanup_free_ char *val = NULL;
	size_t cap = 0;
	int r;

	if (len <= 0)
		return 0; /* none, or not supported there */
	names = malloc(len);
	if (!names)
		return -ENOMEM;
	len = um_path_listxattr(src, names, len);
	if (len < 0)
		return len == -ERANGE ? -EAGAIN : len;
	for (char *n = names; n < names + len; n += strlen(n) + 1) {
		ssize_t vlen;

		if (um_is_private_xattr(n) && !um_is_override_xattr(n))
			continue;
		vlen = um_path_getxattr(src, n, NULL, 0);
		if (vlen < 0)
			continue;
		if ((size_t)vlen + 1 > cap) {
			free(val);
			cap = vlen + 1;
			val = malloc(cap);
			if (!val)
				return -ENOMEM;
		}
		vlen = um_path_getxattr(src, n, val, cap);
		if (vlen < 0)
			continue;
		r = um_path_setxattr(dst, n, val, vlen, 0);
		/* security.* or trusted.* we may not set: skip it. */
		if (r < 0 && r != -EPERM && r != -ENOTSUP)
			return r;
	}
	return 0;
}

#define CAPS_XATTR "security.capability"

/* A file capability, kept across a change that clears it (caps_get/set). */
struct caps {
	char val[64]; /* a VFS_CAP_REVISION_3 value is 24 bytes */
	size_t len;   /* 0: none */
};

static int caps_get(const struct um_path *p, struct caps *c)
{
	ssize_t n = um_path_getxattr(p, CAPS_XATTR, c->val, sizeof(c->val));

	c->len = n < 0 ? 0 : (size_t)n;
	if (n < 0)
		return n == -ENODATA || n == -ENOTSUP ? 0 : (int)n;
	return 0;
}

static int caps_set(const struct um_path *p, const struct caps *c)
{
	return c->len ? um_path_setxattr(p, CAPS_XATTR, c->val, c->len, 0) : 0;
}

/*
 * A file capability again: a change of owner (copy_owner) removes it, as
 * on any local file system, but the copy must keep it (kernel overlayfs
 * does).
 */
static int copy_caps(const struct um_path *src, const struct um_path *dst)
{
	struct caps c;
	int r = caps_get(src, &c);

	return r < 0 ? r : caps_set(dst, &c);
}

/*
 * The copy tmp in the work dir gets the owner of the original st, or
 * where we may not give it away, an override that says who it is (unless
 * the original carried one, copied with its xattrs).
 */
static int copy_owner(struct um_fs *fs, const char *tmp, const struct stat *st)
{
	struct um_override ov = {
		.uid = st->st_uid,
		.gid = st->st_gid,
		.mode = st->st_mode,
		.rdev = st->st_rdev,
	};
	int r;

	if (fs->can_chown && fchownat(fs->workfd, tmp, st->st_uid, st->st_gid,
				      AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	r = fs->can_chown ? -errno : -EPERM;
	if (st->st_uid == geteuid() && st->st_gid == getegid())
		return 0;
	if (!um_override_refused(fs, r))
		return r == -EPERM ? 0 : r; /* it stays ours */
	if (um_override_get(fs, fs->workfd, tmp, &ov) > 0)
		return 0;
	r = um_override_set(fs, fs->workfd, tmp, &ov);
	/* user.* xattrs are not allowed on symlinks: it stays ours. */
	return r < 0 && S_ISLNK(st->st_mode) ? 0 : r;
}

/*
 * Does the copy keep the lower object's inode number (origin xattr)?  Not
 * a hard-linked lower file copied up without the index: its other names
 * stay below with that number, and two files must never share one (the
 * kernel without index=on does the same).  Through the index all its
 * names are the copy (COPY_INDEXED).
 */
static bool keeps_origin(const struct stat *st)
{
	return S_ISDIR(st->st_mode) || st->st_nlink == 1;
}

/* One copy-up under way, with inode->lock held. */
struct copyup {
	struct um_fs *fs;
	struct um_inode *inode;
	struct um_path src;	  /* the object copied: an O_PATH fd on it */
	struct stat st;		  /* its lstat */
	int flags;		  /* UM_COPYUP_* */
	char tmp[UM_TMPNAME_MAX]; /* the copy's name in the work directory */
	bool meta;		  /* made without its data (metacopy=on) */
};

/*
 * Build the copy of c->inode as c->tmp in the work directory.  Returns 0
 * or -errno; on error nothing is left behind.
 */
static int build_copy(struct copyup *c)
{
	struct um_fs *fs = c->fs;
	const struct stat *st = &c->st;
	const char *tmp = c->tmp;
	int flags = c->flags;
	struct um_path dst = UM_PATH(UM_LAYER_WORK, fs->workfd, tmp);
	_cleanup_free_ char *target = NULL;
	struct timespec times[2] = {st->st_atim, st->st_mtim};
	int r = 0;

	switch (st->st_mode & S_IFMT) {
	case S_IFREG: {
		_cleanup_close_ int in = -1;
		_cleanup_close_ int out =
			openat(fs->workfd, tmp,
			       O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
		if (out < 0)
			return -errno;
		/* metacopy=on: the size and a marker; the data stays below. */
		c->meta = (flags & UM_COPYUP_META) && fs->cfg->metacopy &&
			  keeps_origin(st) && st->st_size > UM_METACOPY_MIN &&
			  !(flags & UM_COPYUP_NODATA);
		if (c->meta)
			c->meta = fsetxattr(out,
					    um_marker_name(UM_MARK_METACOPY,
							   fs->xattr_ns),
					    "", 0, 0) == 0;
		if (c->meta) {
			if (ftruncate(out, st->st_size) < 0)
				r = -errno;
		} else if (!(flags & UM_COPYUP_NODATA)) {
			in = um_path_open(&c->src, O_RDONLY);
			if (in < 0)
				r = in;
			else
				r = copy_data(in, out, st->st_size, fs->fsync);
		}
		/* An fsync'ed copy is durable before it becomes visible. */
		if (!r && !c->meta && fs->fsync && fdatasync(out) < 0)
			r = -errno;
		break;
	}
	case S_IFDIR:
		if (mkdirat(fs->workfd, tmp, 0700) < 0)
			return -errno;
		break;
	case S_IFLNK: {
		size_t cap = st->st_size + 1;
		ssize_t n;
		target = malloc(cap);
		if (!target)
			return -ENOMEM;
		n = readlinkat(c->src.dirfd, "", target, cap);
		if (n < 0 || (size_t)n >= cap)
			return n < 0 ? -errno : -EIO;
		target[n] = '\0';
		if (symlinkat(target, fs->workfd, tmp) < 0)
			return -errno;
		break;
	}
	default:
		if (mknodat(fs->workfd, tmp, (st->st_mode & S_IFMT) | 0600,
			    st->st_rdev) < 0)
			return -errno;
		break;
	}

	if (!r)
		r = copy_xattrs(&c->src, &dst);
	if (!r)
		r = copy_owner(fs, tmp, st);
	if (!r && S_ISREG(st->st_mode))
		r = copy_caps(&c->src, &dst);
	if (!r && !S_ISLNK(st->st_mode) &&
	    fchmodat(fs->workfd, tmp, st->st_mode & 07777, 0) < 0)
		r = -errno;
	if (!r && (keeps_origin(st) || (flags & COPY_INDEXED))) {
		const char *xn = um_marker_name(UM_MARK_ORIGIN, fs->xattr_ns);
		/* user.* xattrs are not allowed on symlinks: best effort. */
		r = um_path_setxattr(&dst, xn, &c->inode->ino,
				     sizeof(c->inode->ino), 0);
		if (r == -ENOTSUP || r == -EPERM)
			r = 0;
	}
	if (!r && utimensat(fs->workfd, tmp, times, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	if (r < 0)
		um_rmtree_at(fs->workfd, tmp);
	return r;
}

/*
 * A lower object whose name was whited out while the kernel still holds it
 * (an open file, an fchmod through it): its copy must not bring the name
 * back.  It becomes a nameless upper file, pinned as an unlinked upper
 * file is, and goes with the inode.
 */
static int copyup_orphan(struct copyup *c)
{
	struct um_fs *fs = c->fs;
	struct um_inode *inode = c->inode;
	int fd, r;

	if (S_ISDIR(c->st.st_mode))
		return -ENOENT;
	/* Its data goes with it: no lower name is left to read it from. */
	c->flags &= ~UM_COPYUP_META;
	r = build_copy(c);
	if (r < 0)
		return r;
	fd = openat(fs->workfd, c->tmp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	r = fd < 0 ? -errno : 0;
	unlinkat(fs->workfd, c->tmp, 0);
	if (r < 0)
		return r;
	if (inode->fd >= 0)
		close(inode->fd);
	inode->fd = fd;
	__atomic_store_n(&inode->layer, 0, __ATOMIC_RELEASE);
	return 0;
}

/*
 * A copy-up is no change of the parent it lands in: put back the parent's
 * atime and mtime, as the kernel's ovl_set_timestamps() does, so copying
 * up the ancestors of a new entry leaves their times alone (the ctime
 * moves, as in the kernel).  Best effort like there: the copy is in place
 * and correct either way, only a time would show the copy-up.
 */
static void restore_times(int pfd, const struct stat *pst)
{
	const struct timespec ts[2] = {pst->st_atim, pst->st_mtim};

	(void)um_path_utimens(&UM_PATH(0, pfd, ""), ts);
}

/*
 * Give the indexed copy fd one more name, pfd/name, in the upper.  Only
 * the upper's link count changes, not the union's: that is written as a
 * plain number first, so a crash between the two steps leaves it right.
 * Like a copy-up, it is no change of the parent: its times stay.
 */
static int link_up(struct um_fs *fs, int fd, int pfd, const char *name)
{
	struct um_path copy = UM_PATH(0, fd, "");
	unsigned long n;
	struct stat st, pst;
	int r;

	if ((r = um_path_stat(&copy, &st)) < 0 ||
	    (r = um_path_stat(&UM_PATH(0, pfd, ""), &pst)) < 0)
		return r;
	n = um_index_nlink(fd, "", &st);
	r = um_index_set_nlink(fd, "", fs->xattr_ns, n, &st, true);
	if (r < 0)
		return r;
	if ((r = um_path_link(&copy, pfd, name)) < 0)
		return r;
	restore_times(pfd, &pst);
	if ((r = um_path_stat(&copy, &st)) < 0)
		return r;
	return um_index_set_nlink(fd, "", fs->xattr_ns, n, &st, false);
}

/*
 * The entry must be on disk before a name links to it: after a power
 * failure an upper name whose entry was lost would part from the others.
 */
static int sync_dir(int dirfd)
{
	_cleanup_close_ int fd = um_reopen(dirfd, O_RDONLY | O_DIRECTORY);

	if (fd < 0)
		return -errno;
	return fsync(fd) < 0 ? -errno : 0;
}

/*
 * Copy-up of a lower file with several names (index.h), like the
 * kernel's with index=on: the copy is built in the work directory, renamed
 * to its index entry, then its name is linked up.  A crash before the
 * rename leaves only a temporary (the work directory is emptied at mount)
 * and every name shows the lower file; after it, every name shows the
 * complete copy, linked up or not, so the names never part.  An entry
 * that is there already (an earlier mount, or another inode of the same
 * file racing with us) is the copy: it is only linked.
 */
static int copyup_indexed(struct copyup *c, int pfd)
{
	struct um_fs *fs = c->fs;
	struct um_inode *inode = c->inode;
	char iname[UM_INDEX_NAME_MAX];
	struct stat nst;
	int fd, r;

	r = um_index_name(c->src.dirfd, iname);
	if (r < 0)
		return r;
	if (fstatat(fs->indexfd, iname, &nst, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return -errno;
		c->flags &= ~UM_COPYUP_META;
		c->flags |= COPY_INDEXED;
		r = build_copy(c);
		if (r < 0)
			return r;
		/* Until a name changes, the union counts the lower's names. */
		r = um_index_set_nlink(fs->workfd, c->tmp, fs->xattr_ns,
				       c->st.st_nlink, &c->st, true);
		if (r == 0 && renameat2(fs->workfd, c->tmp, fs->indexfd, iname,
					RENAME_NOREPLACE) < 0)
			r = errno == EEXIST ? 0 : -errno;
		um_rmtree_at(fs->workfd,
			     c->tmp); /* gone unless it lost a race */
		if (r == 0 && fs->fsync)
			r = sync_dir(fs->indexfd);
		if (r < 0)
			return r;
	}
	fd = openat(fs->indexfd, iname, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = link_up(fs, fd, pfd, inode->name);
	if (r == 0 && fstat(fd, &nst) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	um_inode_set_upper(fs, inode, fd, &nst);
	__atomic_store_n(&inode->metacopy, false, __ATOMIC_RELEASE);
	return 0;
}

static int copyup_one(struct um_fs *fs, struct um_inode *inode,
		      struct um_inode *parent, int pfd, int flags)
{
	_cleanup_close_ int sfd = um_inode_path_locked(inode);
	struct copyup c = {.fs = fs, .inode = inode, .flags = flags};
	struct stat nst, pst;
	int fd, r;

	if (sfd < 0)
		return sfd;
	c.src = UM_PATH(inode->layer, sfd, "");
	r = um_path_stat(&c.src, &c.st);
	if (r < 0)
		return r;
	um_tmpname(fs, c.tmp);
	if (inode->unlinked)
		return copyup_orphan(&c);
	if (inode->indexed && fs->indexfd >= 0)
		return copyup_indexed(&c, pfd);
	r = build_copy(&c);
	if (r < 0)
		return r;
	if (fstat(pfd, &pst) < 0) {
		r = -errno;
		um_rmtree_at(fs->workfd, c.tmp);
		return r;
	}
	if (renameat2(fs->workfd, c.tmp, pfd, inode->name, RENAME_NOREPLACE) <
	    0) {
		r = -errno;
		um_rmtree_at(fs->workfd, c.tmp);
		return r;
	}
	restore_times(pfd, &pst);
	fd = openat(pfd, inode->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &nst) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	um_inode_set_upper(fs, inode, fd, &nst);
	__atomic_store_n(&inode->metacopy, c.meta, __ATOMIC_RELEASE);
	/* Without an origin the number is the copy's own (hard links). */
	if (!keeps_origin(&c.st)) {
		__atomic_store_n(
			&inode->ino,
			um_ino_map(fs->upper->fsid, fs->fsid_bits, nst.st_ino),
			__ATOMIC_RELAXED);
		/* The cached attributes and the parent's listing are stale. */
		um_readdir_changed(parent);
		if (fs->notify) {
			fs->notify(fs, inode, false);
			fs->notify(fs, parent, true);
		}
	}
	return 0;
}

/* Drop the metacopy markers (ours, the kernel's) of the upper file fd. */
static int drop_metacopy(int fd)
{
	for (int ns = 0; ns < UM_NS_COUNT; ns++) {
		int r = um_removexattr_at(fd, "",
					  um_marker_name(UM_MARK_METACOPY, ns));
		if (r < 0 && r != -ENODATA && r != -ENOTSUP && r != -EPERM)
			return r;
	}
	return 0;
}

/*
 * The data of a metacopy file, copied into it in place: until the marker
 * goes, the data is still read from below, so a crash midway loses
 * nothing.  Its times stay what they were.  With nodata the caller
 * empties the file anyway.  Called with inode->lock held.
 */
static int copyup_data(struct um_fs *fs, struct um_inode *inode, bool nodata)
{
	_cleanup_close_ int up = um_inode_path_locked(inode);
	_cleanup_close_ int data = -1, in = -1, out = -1;
	struct um_path obj = UM_PATH(0, up, "");
	struct caps caps;
	struct stat st;
	int r = 0;

	if (up < 0)
		return up;
	if (fstat(up, &st) < 0)
		return -errno;
	out = um_path_open(&obj, O_WRONLY);
	if (out == -EACCES && um_path_chmod(&obj, st.st_mode | S_IWUSR) == 0) {
		out = um_path_open(&obj, O_WRONLY);
		/* Back to its mode: the write needed only this open. */
		r = um_path_chmod(&obj, st.st_mode & 07777);
		if (r < 0)
			return r;
	}
	if (out < 0)
		return out;
	if (nodata) {
		if (ftruncate(out, 0) < 0)
			return -errno;
	} else {
		data = um_lookup_data(fs, inode->parent, inode->name);
		if (data < 0)
			return data;
		in = um_reopen(data, O_RDONLY);
		if (in < 0)
			return -errno;
		/*
		 * Writing the data clears the file capability, as any write
		 * does, but filling in a metacopy changes nothing: put it
		 * back, as the kernel's ovl_copy_up_meta_inode_data() does.
		 */
		r = caps_get(&obj, &caps);
		if (r < 0)
			return r;
		r = copy_data(in, out, st.st_size, fs->fsync);
		if (!r)
			r = caps_set(&obj, &caps);
		if (!r && fs->fsync && fdatasync(out) < 0)
			r = -errno;
		if (r < 0)
			return r;
		const struct timespec times[2] = {st.st_atim, st.st_mtim};
		if (futimens(out, times) < 0)
			return -errno;
	}
	r = drop_metacopy(up);
	if (r == 0)
		__atomic_store_n(&inode->metacopy, false, __ATOMIC_RELEASE);
	return r;
}

int um_copyup(struct um_fs *fs, struct um_inode *inode, int flags)
{
	struct um_inode *parent;
	struct um_real preal;
	int r;

	if (!fs->upper)
		return -EROFS;
	for (;;) {
		pthread_mutex_lock(&inode->lock);
		if (inode->layer == 0) {
			r = 0;
			if (inode->metacopy && !(flags & UM_COPYUP_META))
				r = copyup_data(fs, inode,
						flags & UM_COPYUP_NODATA);
			pthread_mutex_unlock(&inode->lock);
			return r;
		}
		parent = inode->parent;
		pthread_mutex_unlock(&inode->lock);

		/* Parents first; the root is always in the upper. */
		r = um_copyup(fs, parent, 0);
		if (r < 0)
			return r;
		preal = um_inode_real(parent);

		pthread_mutex_lock(&inode->lock);
		if (inode->layer == 0) {
			/* copied up meanwhile; its data too, if we need it? */
			r = inode->metacopy && !(flags & UM_COPYUP_META);
		} else if (inode->parent != parent) {
			r = 1; /* renamed meanwhile: again */
		} else {
			r = copyup_one(fs, inode, parent, preal.fd, flags);
		}
		pthread_mutex_unlock(&inode->lock);
		if (r <= 0)
			return r;
	}
}

int um_copyup_dir(struct um_fs *fs, struct um_inode *dir, int *fd)
{
	int r = um_copyup(fs, dir, 0);

	if (r < 0)
		return r;
	*fd = um_inode_real(dir).fd;
	return 0;
}

int um_copyup_name(struct um_fs *fs, struct um_inode *inode,
		   struct um_inode *dir, const char *name)
{
	struct stat st;
	bool indexed;
	int udfd, r;

	r = um_copyup(fs, inode, 0);
	pthread_mutex_lock(&inode->lock);
	indexed = inode->indexed;
	pthread_mutex_unlock(&inode->lock);
	if (r < 0 || !indexed)
		return r;
	r = um_copyup_dir(fs, dir, &udfd);
	if (r < 0)
		return r;
	pthread_mutex_lock(&inode->lock);
	if (fstatat(udfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		r = 0; /* the name copied up is this one */
	else if (errno != ENOENT)
		r = -errno;
	else if (inode->fd < 0)
		r = -ESTALE;
	else
		r = link_up(fs, inode->fd, udfd, name);
	pthread_mutex_unlock(&inode->lock);
	return r;
}

long um_copyup_nlink_start(struct um_fs *fs, struct um_inode *inode)
{
	unsigned long n;
	struct stat st;
	long r;

	pthread_mutex_lock(&inode->lock);
	if (inode->layer != 0 || inode->fd < 0 || !inode->indexed) {
		r = -EINVAL;
	} else if (fstat(inode->fd, &st) < 0) {
		r = -errno;
	} else {
		n = um_index_nlink(inode->fd, "", &st);
		r = um_index_set_nlink(inode->fd, "", fs->xattr_ns, n, &st,
				       false);
		if (r == 0)
			r = n;
	}
	pthread_mutex_unlock(&inode->lock);
	return r;
}

/* Is this the entry of the copy (st_ino in arg)? Then remove it. */
static int drop_entry(int indexfd, const char *name, const struct stat *st,
		      void *arg)
{
	const struct stat *copy = arg;

	if (st->st_dev != copy->st_dev || st->st_ino != copy->st_ino)
		return 0;
	return unlinkat(indexfd, name, 0) < 0 ? -errno : 1;
}

int um_copyup_index_drop(struct um_fs *fs, struct um_inode *inode)
{
	struct stat st;
	int r = 0;

	pthread_mutex_lock(&inode->lock);
	if (inode->fd < 0 || fstat(inode->fd, &st) < 0)
		r = -ESTALE;
	/* A name left in the upper, made behind our back: keep the copy. */
	else if (st.st_nlink == 1)
		r = um_index_foreach(fs->indexfd, drop_entry, &st);
	pthread_mutex_unlock(&inode->lock);
	return r < 0 ? r : 0;
}
