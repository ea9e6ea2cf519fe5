// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reading and writing owner/mode/type overrides on real objects.  The
 * path goes through /proc/self/fd so that a symlink is the object itself
 * and an O_PATH fd needs no reopening.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "override.h"
#include "util.h"

/* dfd/name ("": dfd itself) for the *xattr calls; *follow for "". */
static char *object_path(int dfd, const char *name, bool *follow)
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

int um_override_get(const struct um_fs *fs, int dfd, const char *name,
		    struct um_override *ov)
{
	const char *xn = um_override_xattr(fs);
	_cleanup_free_ char *p = NULL;
	char val[UM_OVERRIDE_MAX];
	bool follow;
	ssize_t n;

	if (!xn)
		return 0;
	p = object_path(dfd, name, &follow);
	if (!p)
		return -ENOMEM;
	n = follow ? getxattr(p, xn, val, sizeof(val)) :
		     lgetxattr(p, xn, val, sizeof(val));
	if (n < 0)
		return errno == ENODATA || errno == ENOTSUP ||
		       errno == EPERM || errno == ERANGE ? 0 : -errno;
	return um_override_parse(val, (size_t)n, ov) ? 1 : 0;
}

int um_override_set(const struct um_fs *fs, int dfd, const char *name,
		    const struct um_override *ov)
{
	const char *xn = um_override_xattr(fs);
	_cleanup_free_ char *p = NULL;
	char val[UM_OVERRIDE_MAX];
	size_t len;
	bool follow;
	int r;

	if (!xn)
		return -EPERM;
	p = object_path(dfd, name, &follow);
	if (!p)
		return -ENOMEM;
	len = um_override_format(ov, val);
	r = follow ? setxattr(p, xn, val, len, 0) :
		     lsetxattr(p, xn, val, len, 0);
	return r < 0 ? -errno : 0;
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
