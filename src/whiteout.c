// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reading and writing whiteouts and opaque markers on real directories.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util.h"
#include "whiteout.h"

bool um_is_whiteout(const struct stat *st, int dirfd, const char *name,
		    bool xwhiteouts)
{
	if (S_ISCHR(st->st_mode))
		return um_is_chardev_whiteout(st);
	/*
	 * Like the kernel, look for xattr whiteouts only in directories that
	 * announce them: a getxattr per empty file everywhere costs too much.
	 */
	if (!xwhiteouts || !S_ISREG(st->st_mode) || st->st_size != 0)
		return false;
	return um_marker_has(dirfd, name, UM_MARK_WHITEOUT);
}

bool um_has_oci_whiteout(int dirfd, const char *name)
{
	_cleanup_free_ char *wh = NULL;
	struct stat st;

	if (UM_OCI_PREFIX_LEN + strlen(name) > NAME_MAX)
		return false;
	wh = um_oci_whiteout_name(name);
	return wh && fstatat(dirfd, wh, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Room for the xattr names of a directory that has a few (most have none). */
#define XATTR_LIST_PROBE 1024

enum um_opaque um_dir_opaque(const struct um_path *p)
{
	char v[2], names[XATTR_LIST_PROBE];
	struct stat st;
	ssize_t len;

	/* Most directories have no xattrs: one call tells. */
	len = um_path_listxattr(p, names, sizeof(names));
	for (int ns = 0; len != 0 && ns < UM_NS_COUNT; ns++) {
		const char *xn = um_marker_name(UM_MARK_OPAQUE, ns);
		ssize_t r;
		if (len > 0 && !memmem(names, len, xn, strlen(xn) + 1))
			continue;
		r = um_path_getxattr(p, xn, v, sizeof(v));
		if (r == 1 && v[0] == 'y')
			return UM_OPAQUE;
		if (r == 1 && v[0] == 'x')
			return UM_XWHITEOUTS;
	}
	/* The OCI marker lives inside the directory. */
	if (um_path_stat_child(p, UM_OCI_OPAQUE, &st) == 0)
		return UM_OPAQUE;
	return UM_NOT_OPAQUE;
}

int um_whiteout_create(struct um_fs *fs, int udfd, const char *name)
{
	char tmp[UM_TMPNAME_MAX];
	int r;

	if (fs->whiteout != UM_WHITEOUT_OCI && fs->can_mknod) {
		/* Made aside and renamed in: replacing a file is atomic. */
		um_tmpname(fs, tmp);
		if (mknodat(fs->workfd, tmp, S_IFCHR, UM_WHITEOUT_RDEV) < 0)
			return -errno;
		if (renameat(fs->workfd, tmp, udfd, name) < 0) {
			int err = -errno;
			unlinkat(fs->workfd, tmp, 0);
			return err;
		}
		return 0;
	}

	r = um_whiteout_create_oci(fs, udfd, name);
	if (r < 0)
		return r;
	if (unlinkat(udfd, name, 0) < 0 && errno != ENOENT) {
		int err = -errno;
		um_oci_whiteout_remove(udfd, name);
		return err;
	}
	return 0;
}

int um_whiteout_create_oci(struct um_fs *fs, int udfd, const char *name)
{
	_cleanup_free_ char *wh = um_oci_whiteout_name(name);
	int fd;

	if (!wh)
		return -ENOMEM;
	if (strlen(wh) > NAME_MAX)
		return -ENAMETOOLONG;
	fd = openat(udfd, wh, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW,
		    0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

int um_oci_whiteout_remove(int udfd, const char *name)
{
	_cleanup_free_ char *wh = um_oci_whiteout_name(name);

	if (!wh)
		return -ENOMEM;
	if (um_fault(UM_FAULT_OCI_REMOVE))
		return -EIO;
	if (unlinkat(udfd, wh, 0) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 1;
}

int um_set_opaque(struct um_fs *fs, int dirfd, const char *name)
{
	/* In the upper, or in the work directory on its file system. */
	struct um_path p = UM_PATH(0, dirfd, name);
	int r;

	if (um_fault(UM_FAULT_OPAQUE))
		return -EIO;
	r = um_path_setxattr(&p, um_marker_name(UM_MARK_OPAQUE, fs->xattr_ns),
			     "y", 1, 0);

	if (r == 0 && fs->whiteout != UM_WHITEOUT_OCI)
		return 0;
	/* OCI readers (and we) also understand the marker file. */
	return um_path_create_child(&p, UM_OCI_OPAQUE);
}
