// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Attributes come from the topmost real object, with the inode number of
 * the merged view; changes copy up first.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attr.h"
#include "caps.h"
#include "copyup.h"
#include "index.h"
#include "inode.h"
#include "lookup.h"
#include "override.h"
#include "util.h"

/* The owner shown: squashed, or mapped from the id stored below. */
static void show_owner(const struct um_config *cfg, struct stat *st)
{
	st->st_uid = cfg->squash_uid >= 0
			     ? (uid_t)cfg->squash_uid
			     : um_idmap_to_container(&cfg->uidmap, st->st_uid);
	st->st_gid = cfg->squash_gid >= 0
			     ? (gid_t)cfg->squash_gid
			     : um_idmap_to_container(&cfg->gidmap, st->st_gid);
}

int um_attr_get(struct um_fs *fs, struct um_inode *inode, struct stat *st)
{
	struct um_path p;
	bool unlinked;
	uint64_t ino;
	int layer, r;

	pthread_mutex_lock(&inode->lock);
	layer = inode->layer;
	unlinked = inode->unlinked;
	ino = inode->ino;
	r = um_inode_locate_locked(inode, &p);
	if (r == 0)
		r = um_path_stat(&p, st);
	if (r == 0 && inode->metacopy) {
		/* Its blocks are those of the data below, as in the kernel. */
		struct stat dst;
		int data = um_lookup_data(fs, inode->parent, inode->name);
		if (data >= 0 && fstat(data, &dst) == 0)
			st->st_blocks = dst.st_blocks;
		if (data >= 0)
			close(data);
	}
	/* A copy through the index: names only below count too. */
	if (r == 0 && inode->indexed && layer == 0)
		st->st_nlink = um_index_nlink(p.dirfd, p.name, st);
	if (r == 0 && um_override_xattr(fs)) {
		struct um_override ov;
		if (um_override_get(fs, p.dirfd, p.name, &ov) > 0)
			um_override_apply(&ov, st);
	}
	pthread_mutex_unlock(&inode->lock);
	if (r < 0)
		return r;
	st->st_ino = ino;
	show_owner(fs->cfg, st);
	/* Like the kernel: a merged directory's link count is unknown. */
	if (S_ISDIR(st->st_mode) &&
	    (fs->cfg->static_nlink || (layer == 0 && inode->nlowers > 0) ||
	     inode->nlowers > 1))
		st->st_nlink = 1;
	/* A lower object hidden by a whiteout has no name left. */
	if (unlinked && layer != 0)
		st->st_nlink = 0;
	return 0;
}

/*
 * Owner and mode: in the override where the object has one (or
 * xattr_permissions= says so), else on the real object, falling back to
 * an override when we may not give it away.
 */
static int set_owner_mode(struct um_fs *fs, struct um_inode *inode,
			  const struct um_path *obj, const struct stat *attr,
			  int valid)
{
	uint32_t uid = (uid_t)-1, gid = (gid_t)-1;
	struct um_override ov;
	struct stat real;
	int have = 0, r;

	/* Shown ids are stored as the host ids they map to. */
	if (((valid & UM_SET_UID) &&
	     !um_idmap_to_host(&fs->cfg->uidmap, attr->st_uid, &uid)) ||
	    ((valid & UM_SET_GID) &&
	     !um_idmap_to_host(&fs->cfg->gidmap, attr->st_gid, &gid)))
		return -EINVAL;
	r = um_path_stat(obj, &real);
	if (r < 0)
		return r;
	if (um_override_xattr(fs)) {
		have = um_override_get(fs, obj->dirfd, obj->name, &ov);
		if (have < 0)
			return have;
	}
	if (!have && !fs->override_always &&
	    (valid & (UM_SET_UID | UM_SET_GID))) {
		r = um_path_chown(obj, uid, gid);
		if (r < 0 && !um_override_refused(fs, r))
			return r;
		have = r < 0 ? -1 : 0; /* -1: refused, record it */
	}
	if (!have && !fs->override_always) {
		if (!(valid & UM_SET_MODE))
			return 0;
		if (S_ISLNK(inode->type))
			return -EOPNOTSUPP;
		return um_path_chmod(obj, attr->st_mode & 07777);
	}
	if (have <= 0)
		ov = (struct um_override){.uid = real.st_uid,
					  .gid = real.st_gid,
					  .mode = real.st_mode};
	else if (!(ov.mode & S_IFMT))
		ov.mode |= real.st_mode & S_IFMT; /* say it, now */
	if (valid & UM_SET_UID)
		ov.uid = uid;
	if (valid & UM_SET_GID)
		ov.gid = gid;
	if (valid & UM_SET_MODE)
		ov.mode = (ov.mode & S_IFMT) | (attr->st_mode & 07777);
	/*
	 * Standing in for a mode: the real one keeps the object usable by
	 * us, who may lack the privilege to get past it.
	 */
	if (!fs->override_always && (valid & UM_SET_MODE) &&
	    !S_ISLNK(real.st_mode)) {
		mode_t keep =
			S_ISDIR(real.st_mode) ? S_IRWXU : S_IRUSR | S_IWUSR;
		r = um_path_chmod(obj, (attr->st_mode & 0777) | keep);
		if (r < 0)
			return r;
	}
	return um_override_set(fs, obj->dirfd, obj->name, &ov);
}

/* What a change that only sets the times asks of the real object. */
enum time_change { TIMES_CHANGE, TIMES_SAME, TIMES_GONE };

/*
 * Under the writeback cache the kernel keeps a file's times itself and
 * writes them back, with the ctime flag, after its writes and after an
 * unlink, rename or link of the file.  One that leaves mtime as it is, or
 * reaches a file whose last name is gone, has nothing to store (the real
 * ctime follows real changes) and must not copy the file up, or bring a
 * deleted one back.
 */
static enum time_change time_writeback(struct um_inode *inode,
				       const struct stat *attr, int valid)
{
	struct um_path p;
	struct stat st;
	int r;

	if (!(valid & UM_SET_CTIME) || (valid & ~(UM_SET_MTIME | UM_SET_CTIME)))
		return TIMES_CHANGE;
	/*
	 * Not in the middle of a page write-back: it moves the stored mtime
	 * until it puts it back, and could make it look already stored.
	 */
	pthread_mutex_lock(&inode->times_lock);
	pthread_mutex_lock(&inode->lock);
	r = um_inode_locate_locked(inode, &p);
	if (r == 0)
		r = um_path_stat(&p, &st);
	pthread_mutex_unlock(&inode->lock);
	pthread_mutex_unlock(&inode->times_lock);
	if (r == -ENOENT || r == -ESTALE)
		return TIMES_GONE;
	if (r < 0)
		return TIMES_CHANGE;
	if (!(valid & UM_SET_MTIME) ||
	    (st.st_mtim.tv_sec == attr->st_mtim.tv_sec &&
	     st.st_mtim.tv_nsec == attr->st_mtim.tv_nsec))
		return TIMES_SAME;
	return TIMES_CHANGE;
}

static int set_attr(struct um_fs *fs, struct um_inode *inode,
		    const struct stat *attr, int valid, int fd)
{
	_cleanup_close_ int fd_path = -1;
	struct um_path obj;
	int flags = 0;
	int r, layer;

	if (valid == UM_SET_SIZE && attr->st_size == 0)
		flags = UM_COPYUP_NODATA;
	else if (!(valid & UM_SET_SIZE))
		flags = UM_COPYUP_META;
	r = um_copyup(fs, inode, flags);
	if (r < 0)
		return r;
	/* The object itself, held by fd: its name may change meanwhile. */
	fd_path = um_inode_path(fs, inode, &layer);
	if (fd_path < 0)
		return fd_path;
	obj = UM_PATH(layer, fd_path, "");

	if (valid & (UM_SET_UID | UM_SET_GID | UM_SET_MODE)) {
		r = set_owner_mode(fs, inode, &obj, attr, valid);
		if (r < 0)
			return r;
	}
	if (valid & UM_SET_SIZE) {
		if (!S_ISREG(inode->type))
			return S_ISDIR(inode->type) ? -EISDIR : -EINVAL;
		struct um_fsetid fsetid;

		if (valid & UM_SET_KILL_SUIDGID) {
			r = um_fsetid_drop(&fsetid);
			if (r < 0)
				return r;
		}
		r = fd >= 0 ? (ftruncate(fd, attr->st_size) < 0 ? -errno : 0)
			    : um_path_truncate(&obj, attr->st_size);
		if (valid & UM_SET_KILL_SUIDGID)
			um_fsetid_restore(&fsetid);
		if (r < 0)
			return r;
	}
	if (valid & (UM_SET_ATIME | UM_SET_MTIME | UM_SET_ATIME_NOW |
		     UM_SET_MTIME_NOW)) {
		struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT},
					 {.tv_nsec = UTIME_OMIT}};
		if (valid & UM_SET_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (valid & UM_SET_ATIME)
			ts[0] = attr->st_atim;
		if (valid & UM_SET_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (valid & UM_SET_MTIME)
			ts[1] = attr->st_mtim;
		/* Not between a page write-back and its mtime restore. */
		pthread_mutex_lock(&inode->times_lock);
		r = um_path_utimens(&obj, ts);
		pthread_mutex_unlock(&inode->times_lock);
		if (r < 0)
			return r;
	}
	return 0;
}

int um_attr_set(struct um_fs *fs, struct um_inode *inode,
		const struct stat *attr, int valid, int fd, struct stat *out)
{
	int r;

	if (!fs->upper)
		return -EROFS;
	switch (time_writeback(inode, attr, valid)) {
	case TIMES_GONE:
		/* Nothing can see it any more: what the kernel knows will do.
		 */
		memset(out, 0, sizeof(*out));
		out->st_ino = inode->ino;
		out->st_mode = inode->type;
		out->st_mtim = attr->st_mtim;
		return 0;
	case TIMES_CHANGE:
		r = set_attr(fs, inode, attr, valid, fd);
		if (r < 0)
			return r;
		break;
	case TIMES_SAME:
		break;
	}
	return um_attr_get(fs, inode, out);
}
