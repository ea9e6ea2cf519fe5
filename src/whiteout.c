// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reading and writing whiteouts and opaque markers on real directories.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util.h"
#include "whiteout.h"

static const char *const opaque_xattrs[] = {
	"trusted.overlay.opaque",
	"user.overlay.opaque",
};

static const char *const whiteout_xattrs[] = {
	"trusted.overlay.whiteout",
	"user.overlay.whiteout",
};

bool um_is_whiteout(const struct stat *st, int dirfd, const char *name,
		    bool xwhiteouts)
{
	char c;

	if (S_ISCHR(st->st_mode))
		return st->st_rdev == makedev(0, 0);
	/*
	 * Like the kernel, look for xattr whiteouts only in directories that
	 * announce them: a getxattr per empty file everywhere costs too much.
	 */
	if (!xwhiteouts || !S_ISREG(st->st_mode) || st->st_size != 0)
		return false;
	for (size_t i = 0; i < 2; i++)
		if (um_getxattr_at(dirfd, name, whiteout_xattrs[i], &c, 1) >= 0)
			return true;
	return false;
}

bool um_has_oci_whiteout(int dirfd, const char *name)
{
	struct stat st;
	size_t len = strlen(name);
	char *wh;
	bool ret;

	if (len + 4 > 255)
		return false;
	wh = malloc(len + 5);
	if (!wh)
		return false;
	memcpy(wh, UM_OCI_PREFIX, 4);
	memcpy(wh + 4, name, len + 1);
	ret = fstatat(dirfd, wh, &st, AT_SYMLINK_NOFOLLOW) == 0;
	free(wh);
	return ret;
}

enum um_opaque um_dir_opaque(int dirfd, const char *name)
{
	_cleanup_free_ char *p = um_procpath_at(dirfd, name);
	char v[2], names[1024];
	struct stat st;
	ssize_t len;

	if (!p)
		return UM_NOT_OPAQUE;
	/* Most directories have no xattrs: one call tells. */
	len = llistxattr(p, names, sizeof(names));
	for (size_t i = 0; len != 0 && i < 2; i++) {
		ssize_t r;
		if (len > 0 && !memmem(names, len, opaque_xattrs[i],
				       strlen(opaque_xattrs[i]) + 1))
			continue;
		r = lgetxattr(p, opaque_xattrs[i], v, sizeof(v));
		if (r == 1 && v[0] == 'y')
			return UM_OPAQUE;
		if (r == 1 && v[0] == 'x')
			return UM_XWHITEOUTS;
	}
	/* The OCI marker lives inside the directory. */
	{
		_cleanup_free_ char *q = NULL;
		if (asprintf(&q, "%s/" UM_OCI_OPAQUE, p) >= 0 &&
		    lstat(q, &st) == 0)
			return UM_OPAQUE;
	}
	return UM_NOT_OPAQUE;
}

static char *oci_name(const char *name)
{
	char *wh;

	if (asprintf(&wh, UM_OCI_PREFIX "%s", name) < 0)
		return NULL;
	return wh;
}

int um_whiteout_create(struct um_fs *fs, int udfd, const char *name)
{
	char tmp[64];
	int r;

	if (fs->whiteout != UM_WHITEOUT_OCI && fs->can_mknod) {
		/* Made aside and renamed in: replacing a file is atomic. */
		um_tmpname(fs, tmp);
		if (mknodat(fs->workfd, tmp, S_IFCHR, makedev(0, 0)) < 0)
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
	_cleanup_free_ char *wh = oci_name(name);
	int fd;

	if (!wh)
		return -ENOMEM;
	if (strlen(wh) > 255)
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
	_cleanup_free_ char *wh = oci_name(name);

	if (!wh)
		return -ENOMEM;
	if (unlinkat(udfd, wh, 0) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 1;
}

bool um_upper_whiteout(int udfd, const char *name)
{
	struct stat st;

	if (fstatat(udfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
	return um_has_oci_whiteout(udfd, name);
}

int um_whiteout_remove(struct um_fs *fs, int udfd, const char *name)
{
	struct stat st;

	if (fstatat(udfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(0, 0))
			return 0;
		if (unlinkat(udfd, name, 0) < 0)
			return -errno;
		return 1;
	}
	return um_oci_whiteout_remove(udfd, name);
}

int um_set_opaque(struct um_fs *fs, int dirfd, const char *name)
{
	char xname[64];
	int r;

	snprintf(xname, sizeof(xname), "%soverlay.opaque", fs->xattr_ns);
	r = um_setxattr_at(dirfd, name, xname, "y", 1, 0);
	if (r == 0 && fs->whiteout != UM_WHITEOUT_OCI)
		return 0;

	/* OCI readers (and we) also understand the marker file. */
	_cleanup_free_ char *p = um_procpath_at(dirfd, name);
	_cleanup_free_ char *q = NULL;
	int fd;

	if (!p || asprintf(&q, "%s/" UM_OCI_OPAQUE, p) < 0)
		return -ENOMEM;
	fd = open(q, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}
