// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Opening files.  A read-only open uses the topmost object where it is; an
 * open that may change the file copies it up first.  Data calls (read,
 * write, fsync, ...) then work on the real fd and live in ops.c as one-line
 * adapters.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "caps.h"
#include "copyup.h"
#include "file.h"
#include "inode.h"
#include "lookup.h"
#include "util.h"

int um_file_real_flags(struct um_fs *fs, int flags)
{
	/* With the writeback cache the kernel reads to fill partial pages. */
	if (fs->writeback && (flags & O_ACCMODE) == O_WRONLY)
		flags = (flags & ~O_ACCMODE) | O_RDWR;
	return um_file_flags(flags);
}

int um_file_flags(int flags)
{
	/*
	 * The kernel sends writes with explicit offsets (O_APPEND would make
	 * pwrite ignore them) and its pages are not aligned for O_DIRECT.
	 */
	return flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_APPEND | O_DIRECT |
			 O_NOFOLLOW | O_TRUNC);
}

/* Is the data of inode in the upper: copied up, and not a metacopy? */
static bool data_in_upper(struct um_inode *inode)
{
	return __atomic_load_n(&inode->layer, __ATOMIC_ACQUIRE) == 0 &&
	       !__atomic_load_n(&inode->metacopy, __ATOMIC_ACQUIRE);
}

struct um_file *um_file_wrap(struct um_inode *inode, int fd, int flags)
{
	struct um_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->inode = inode;
	f->flags = um_file_flags(flags);
	pthread_mutex_init(&f->lock, NULL);
	f->fd = fd;
	f->oldfd = -1;
	f->upper = data_in_upper(inode);
	pthread_mutex_lock(&inode->lock);
	inode->nopen++;
	pthread_mutex_unlock(&inode->lock);
	return f;
}

/* Open the real object: by name in its directory, or through a pinned fd. */
static int open_real(struct um_inode *inode, int flags)
{
	struct um_path p;
	int r;

	pthread_mutex_lock(&inode->lock);
	r = um_inode_locate_locked(inode, &p);
	if (r == 0)
		r = um_path_open(&p, flags);
	pthread_mutex_unlock(&inode->lock);
	return r;
}

/* Open the data of a metacopy file: the lower file below it. */
static int open_data(struct um_fs *fs, struct um_inode *inode, int flags)
{
	int data, fd;

	pthread_mutex_lock(&inode->lock);
	data = um_lookup_data(fs, inode->parent, inode->name);
	pthread_mutex_unlock(&inode->lock);
	if (data < 0)
		return data;
	fd = um_reopen(data, flags & ~(O_WRONLY | O_RDWR));
	fd = fd < 0 ? -errno : fd;
	close(data);
	return fd;
}

int um_file_open(struct um_fs *fs, struct um_inode *inode, int flags,
		 struct um_file **out)
{
	bool write = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
	bool data_up;
	int fd, r;

	if (write) {
		if (!fs->upper)
			return -EROFS;
		r = um_copyup(fs, inode,
			      (flags & O_TRUNC) ? UM_COPYUP_NODATA : 0);
		if (r < 0)
			return r;
	}
	/* Known before opening: a copy-up meanwhile makes reads follow. */
	data_up = data_in_upper(inode);
	/* O_TRUNC is kept here: the kernel expects open to truncate. */
	if (!write && __atomic_load_n(&inode->metacopy, __ATOMIC_ACQUIRE))
		fd = open_data(fs, inode, um_file_real_flags(fs, flags));
	else
		fd = open_real(inode, um_file_real_flags(fs, flags) |
					      (flags & O_TRUNC));
	if (fd == -EACCES && fs->writeback)
		fd = open_real(inode, um_file_flags(flags) | (flags & O_TRUNC));
	if (fd < 0)
		return fd;
	*out = um_file_wrap(inode, fd, flags);
	if (!*out) {
		close(fd);
		return -ENOMEM;
	}
	(*out)->upper = data_up;
	return 0;
}

int um_file_fd(struct um_fs *fs, struct um_file *f)
{
	int fd;

	if (__atomic_load_n(&f->upper, __ATOMIC_ACQUIRE) ||
	    !data_in_upper(f->inode))
		return f->fd;

	pthread_mutex_lock(&f->lock);
	if (!f->upper) {
		fd = open_real(f->inode, f->flags);
		if (fd >= 0) {
			/* Other threads may still read the old fd: keep it. */
			f->oldfd = f->fd;
			f->fd = fd;
			__atomic_store_n(&f->upper, true, __ATOMIC_RELEASE);
		}
	}
	fd = f->fd;
	pthread_mutex_unlock(&f->lock);
	return fd;
}

/*
 * May the kernel do f's reads and writes on the real file directly, with
 * the daemon's credentials?  Only where nothing of ours stands between:
 * - the data is in the upper (not a metacopy), so no copy-up can move it;
 *   or the union cannot change at all (no upper, or ro), so a lower file
 *   stays where it is: with an upper, a later open for writing would copy
 *   it up while the kernel still holds the lower file as the inode's one
 *   backing file;
 * - no owner/mode override: the real mode is not the one shown;
 * - no set-user-ID, set-group-ID or security.capability: a
 *   passed-through write skips the kernel's clearing of them on the FUSE
 *   inode, and the daemon itself may keep them (CAP_FSETID).
 */
static bool may_pass_through(struct um_fs *fs, struct um_file *f)
{
	struct um_inode *inode = f->inode;
	struct stat st;
	ssize_t n;

	if (!fs->passthrough || inode->type != S_IFREG || fs->override_xattr)
		return false;
	if (!(data_in_upper(inode) && f->upper) && !(!fs->upper || fs->cfg->ro))
		return false;
	if (fstat(f->fd, &st) < 0 || (st.st_mode & (S_ISUID | S_ISGID)))
		return false;
	if (!__atomic_load_n(&inode->no_caps, __ATOMIC_RELAXED)) {
		n = fgetxattr(f->fd, "security.capability", NULL, 0);
		if (n >= 0 || (errno != ENODATA && errno != ENOTSUP))
			return false;
	}
	return true;
}

int um_file_io_open(struct um_fs *fs, struct um_file *f,
		    int (*register_fd)(void *ctx, int fd), void *ctx)
{
	struct um_inode *inode = f->inode;
	bool rw = fs->upper && !fs->cfg->ro;
	bool own = false;
	int fd = -1, id = 0;

	if (may_pass_through(fs, f)) {
		/*
		 * The backing file serves every open of the inode, read-only
		 * or not: it is read-write whenever the union can change.
		 * The kernel keeps its own reference.
		 */
		fd = f->fd;
		if (rw && (f->flags & O_ACCMODE) != O_RDWR) {
			fd = open_real(inode, O_RDWR);
			own = fd >= 0;
		}
	}
	pthread_mutex_lock(&inode->lock);
	if (fd >= 0 && inode->ncached == 0) {
		if (!inode->backing_id)
			inode->backing_id = register_fd(ctx, fd);
		id = inode->backing_id;
	}
	if (id > 0)
		inode->npassthrough++;
	else
		inode->ncached++;
	pthread_mutex_unlock(&inode->lock);
	if (own)
		close(fd);
	f->backing_id = id;
	return id;
}

int um_file_kill_priv(struct um_file *f)
{
	struct um_fsetid fsetid;
	int r = um_fsetid_drop(&fsetid);

	if (r < 0)
		return r;
	/* A truncate to the size it has still removes the privileges. */
	r = ftruncate(f->fd, 0) < 0 ? -errno : 0;
	um_fsetid_restore(&fsetid);
	return r;
}

int um_file_io_release(struct um_file *f)
{
	struct um_inode *inode = f->inode;
	int id = 0;

	pthread_mutex_lock(&inode->lock);
	if (!f->backing_id) {
		inode->ncached--;
	} else if (--inode->npassthrough == 0) {
		id = inode->backing_id;
		inode->backing_id = 0;
	}
	pthread_mutex_unlock(&inode->lock);
	return id;
}

void um_file_release(struct um_file *f)
{
	pthread_mutex_lock(&f->inode->lock);
	f->inode->nopen--;
	pthread_mutex_unlock(&f->inode->lock);
	close(f->fd);
	if (f->oldfd >= 0)
		close(f->oldfd);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

int um_file_cached_write_begin(struct um_file *f, int fd,
			       struct timespec *mtime)
{
	struct stat st;

	pthread_mutex_lock(&f->inode->times_lock);
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		pthread_mutex_unlock(&f->inode->times_lock);
		return r;
	}
	*mtime = st.st_mtim;
	return 0;
}

int um_file_cached_write_end(struct um_file *f, int fd,
			     const struct timespec *mtime)
{
	const struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, *mtime};
	int r = futimens(fd, ts) < 0 ? -errno : 0;

	pthread_mutex_unlock(&f->inode->times_lock);
	return r;
}
