// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Attributes come from the topmost real object, with the inode number of
 * the merged view; changes copy up first.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attr.h"
#include "copyup.h"
#include "inode.h"
#include "util.h"

/* The owner shown: squashed, or mapped from the id stored below. */
static void show_owner(const struct um_config *cfg, struct stat *st)
{
	st->st_uid = cfg->squash_uid >= 0 ?
		(uid_t)cfg->squash_uid :
		um_idmap_to_container(&cfg->uidmap, st->st_uid);
	st->st_gid = cfg->squash_gid >= 0 ?
		(gid_t)cfg->squash_gid :
		um_idmap_to_container(&cfg->gidmap, st->st_gid);
}

int um_attr_get(struct um_fs *fs, struct um_inode *inode, struct stat *st)
{
	const char *name;
	bool unlinked;
	uint64_t ino;
	int layer, dfd, r;

	pthread_mutex_lock(&inode->lock);
	layer = inode->layer;
	unlinked = inode->unlinked;
	ino = inode->ino;
	r = um_inode_locate_locked(inode, &dfd, &name);
	if (r == 0 && fstatat(dfd, name, st,
			      AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	pthread_mutex_unlock(&inode->lock);
	if (r < 0)
		return r;
	st->st_ino = ino;
	show_owner(fs->cfg, st);
	/* Like the kernel: a merged directory's link count is unknown. */
	if (S_ISDIR(st->st_mode) &&
	    ((layer == 0 && inode->nlowers > 0) || inode->nlowers > 1))
		st->st_nlink = 1;
	/* A lower object hidden by a whiteout has no name left. */
	if (unlinked && layer != 0)
		st->st_nlink = 0;
	return 0;
}

/* utimensat on the object itself, also when it is a symlink. */
static int set_times(struct um_fs *fs, struct um_inode *inode, int fd,
		     const struct timespec ts[2])
{
	char path[UM_PROCPATH_MAX];
	struct um_inode *parent;
	char *name;
	int r;

	if (!S_ISLNK(inode->type)) {
		um_procpath(path, fd);
		return utimensat(AT_FDCWD, path, ts, 0) < 0 ? -errno : 0;
	}
	r = um_inode_name(fs, inode, &parent, &name);
	if (r < 0)
		return r;
	r = utimensat(um_inode_real(parent).fd, name, ts, AT_SYMLINK_NOFOLLOW);
	r = r < 0 ? -errno : 0;
	free(name);
	um_inode_unref(fs, parent, 1);
	return r;
}

int um_attr_set(struct um_fs *fs, struct um_inode *inode,
		const struct stat *attr, int valid, int fd)
{
	char path[UM_PROCPATH_MAX];
	_cleanup_close_ int fd_path = -1;
	int flags = 0;
	int r;

	if (!fs->upper)
		return -EROFS;
	if (valid == UM_SET_SIZE && attr->st_size == 0)
		flags = UM_COPYUP_NODATA;
	r = um_copyup(fs, inode, flags);
	if (r < 0)
		return r;
	fd_path = um_inode_path(fs, inode, NULL);
	if (fd_path < 0)
		return fd_path;
	um_procpath(path, fd_path);

	if (valid & (UM_SET_UID | UM_SET_GID)) {
		uint32_t uid = (uid_t)-1, gid = (gid_t)-1;
		/* Shown ids are stored as the host ids they map to. */
		if ((valid & UM_SET_UID) &&
		    !um_idmap_to_host(&fs->cfg->uidmap, attr->st_uid, &uid))
			return -EINVAL;
		if ((valid & UM_SET_GID) &&
		    !um_idmap_to_host(&fs->cfg->gidmap, attr->st_gid, &gid))
			return -EINVAL;
		if (fchownat(fd_path, "", uid, gid,
			     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	if (valid & UM_SET_MODE) {
		if (S_ISLNK(inode->type))
			return -EOPNOTSUPP;
		if (chmod(path, attr->st_mode & 07777) < 0)
			return -errno;
	}
	if (valid & UM_SET_SIZE) {
		if (!S_ISREG(inode->type))
			return S_ISDIR(inode->type) ? -EISDIR : -EINVAL;
		r = fd >= 0 ? ftruncate(fd, attr->st_size) :
			      truncate(path, attr->st_size);
		if (r < 0)
			return -errno;
	}
	if (valid & (UM_SET_ATIME | UM_SET_MTIME | UM_SET_ATIME_NOW |
		     UM_SET_MTIME_NOW)) {
		struct timespec ts[2] = {
			{ .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };
		if (valid & UM_SET_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (valid & UM_SET_ATIME)
			ts[0] = attr->st_atim;
		if (valid & UM_SET_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (valid & UM_SET_MTIME)
			ts[1] = attr->st_mtim;
		r = set_times(fs, inode, fd_path, ts);
		if (r < 0)
			return r;
	}
	return 0;
}
