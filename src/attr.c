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
#include "copyup.h"
#include "inode.h"
#include "util.h"

const char *um_override_xattr(const struct um_fs *fs)
{
	switch (fs->cfg->xattr_permissions) {
	case 1:
		return "security.fuseoverlayfs.override_stat";
	case 2:
		return "user.containers.override_stat";
	}
	return NULL;
}

/* The object dfd/name ("" : dfd itself) as a path for *xattr calls. */
static char *xattr_path(int dfd, const char *name, bool *follow)
{
	char *p;

	*follow = !*name;
	if (*name)
		return um_procpath_at(dfd, name);
	p = malloc(UM_PROCPATH_MAX);
	if (p)
		um_procpath(p, dfd);
	return p;
}

/* Apply "uid:gid:mode" kept by fuse-overlayfs or us, if there is one. */
static void apply_override(const struct um_fs *fs, int dfd, const char *name,
			   struct stat *st)
{
	const char *xn = um_override_xattr(fs);
	_cleanup_free_ char *p = NULL;
	unsigned long uid, gid, mode;
	char val[128];
	bool follow;
	ssize_t n;

	if (!xn || !(p = xattr_path(dfd, name, &follow)))
		return;
	n = follow ? getxattr(p, xn, val, sizeof(val) - 1) :
		     lgetxattr(p, xn, val, sizeof(val) - 1);
	if (n <= 0)
		return;
	val[n] = '\0';
	if (sscanf(val, "%lu:%lu:%lo", &uid, &gid, &mode) != 3)
		return;
	st->st_uid = uid;
	st->st_gid = gid;
	st->st_mode = (st->st_mode & S_IFMT) | (mode & 07777);
}

int um_override_set(const struct um_fs *fs, int dfd, const char *name,
		    uid_t uid, gid_t gid, mode_t mode)
{
	const char *xn = um_override_xattr(fs);
	_cleanup_free_ char *p = NULL;
	char val[64];
	bool follow;
	int r;

	if (!(p = xattr_path(dfd, name, &follow)))
		return -ENOMEM;
	snprintf(val, sizeof(val), "%u:%u:0%o", (unsigned)uid, (unsigned)gid,
		 (unsigned)(mode & 07777));
	r = follow ? setxattr(p, xn, val, strlen(val), 0) :
		     lsetxattr(p, xn, val, strlen(val), 0);
	return r < 0 ? -errno : 0;
}

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
	if (r == 0)
		apply_override(fs, dfd, name, st);
	pthread_mutex_unlock(&inode->lock);
	if (r < 0)
		return r;
	st->st_ino = ino;
	show_owner(fs->cfg, st);
	/* Like the kernel: a merged directory's link count is unknown. */
	if (S_ISDIR(st->st_mode) &&
	    (fs->cfg->static_nlink ||
	     (layer == 0 && inode->nlowers > 0) || inode->nlowers > 1))
		st->st_nlink = 1;
	/* A lower object hidden by a whiteout has no name left. */
	if (unlinked && layer != 0)
		st->st_nlink = 0;
	return 0;
}

/*
 * utimensat on the object itself, a symlink too: the fd's magic link is
 * resolved to the object and never past it.
 */
static int set_times(int fd, const struct timespec ts[2])
{
	char path[UM_PROCPATH_MAX];

	um_procpath(path, fd);
	return utimensat(AT_FDCWD, path, ts, 0) < 0 ? -errno : 0;
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

	if (um_override_xattr(fs) &&
	    (valid & (UM_SET_UID | UM_SET_GID | UM_SET_MODE))) {
		/* Kept in the xattr, not in the real owner and mode. */
		struct stat cur;
		uint32_t uid, gid;
		r = um_attr_get(fs, inode, &cur);
		if (r < 0)
			return r;
		uid = cur.st_uid;
		gid = cur.st_gid;
		if (!um_idmap_to_host(&fs->cfg->uidmap, cur.st_uid, &uid) ||
		    !um_idmap_to_host(&fs->cfg->gidmap, cur.st_gid, &gid) ||
		    ((valid & UM_SET_UID) &&
		     !um_idmap_to_host(&fs->cfg->uidmap, attr->st_uid, &uid)) ||
		    ((valid & UM_SET_GID) &&
		     !um_idmap_to_host(&fs->cfg->gidmap, attr->st_gid, &gid)))
			return -EINVAL;
		if (valid & UM_SET_MODE)
			cur.st_mode = attr->st_mode;
		r = um_override_set(fs, fd_path, "", uid, gid, cur.st_mode);
		if (r < 0)
			return r;
		valid &= ~(UM_SET_UID | UM_SET_GID | UM_SET_MODE);
	}
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
		r = set_times(fd_path, ts);
		if (r < 0)
			return r;
	}
	return 0;
}
