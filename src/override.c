// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reading and writing owner/mode/type overrides on real objects, through
 * the *xattr_at helpers: a symlink is the object itself and an O_PATH fd
 * needs no reopening.
 */
#include <errno.h>
#include <sys/stat.h>

#include "override.h"
#include "util.h"

int um_override_get(const struct um_fs *fs, int dfd, const char *name,
		    struct um_override *ov)
{
	const char *xn = um_override_xattr(fs);
	char val[UM_OVERRIDE_MAX];
	ssize_t n;

	if (!xn)
		return 0;
	n = um_getxattr_at(dfd, name, xn, val, sizeof(val));
	if (n < 0)
		return n == -ENODATA || n == -ENOTSUP || n == -EPERM ||
				       n == -ERANGE
			       ? 0
			       : (int)n;
	return um_override_parse(val, (size_t)n, ov) ? 1 : 0;
}

int um_override_set(const struct um_fs *fs, int dfd, const char *name,
		    const struct um_override *ov)
{
	const char *xn = um_override_xattr(fs);
	char val[UM_OVERRIDE_MAX];

	if (!xn)
		return -EPERM;
	return um_setxattr_at(dfd, name, xn, val, um_override_format(ov, val),
			      0);
}

void um_override_apply(const struct um_override *ov, struct stat *st)
{
	mode_t type = ov->mode & S_IFMT;

	st->st_uid = ov->uid;
	st->st_gid = ov->gid;
	/*
	 * A type only where a regular file stands in for what could not be
	 * made (a device, fifo or socket): a directory or symlink must stay
	 * what the kernel walks through.
	 */
	if (S_ISREG(st->st_mode) && type && type != S_IFDIR &&
	    type != S_IFLNK) {
		st->st_mode = type | (ov->mode & 07777);
		st->st_rdev = S_ISCHR(type) || S_ISBLK(type) ? ov->rdev : 0;
		if (!S_ISREG(type))
			st->st_size = 0;
	} else {
		st->st_mode = (st->st_mode & S_IFMT) | (ov->mode & 07777);
	}
}
