// SPDX-License-Identifier: GPL-2.0-or-later
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util.h"

void um_procpath(char buf[UM_PROCPATH_MAX], int fd)
{
	snprintf(buf, UM_PROCPATH_MAX, "/proc/self/fd/%d", fd);
}

char *um_procpath_at(int dirfd, const char *name)
{
	char *p;

	if (asprintf(&p, "/proc/self/fd/%d/%s", dirfd, name) < 0)
		return NULL;
	return p;
}

int um_reopen(int fd, int flags)
{
	char path[UM_PROCPATH_MAX];

	um_procpath(path, fd);
	return open(path, flags | O_CLOEXEC);
}

/*
 * The path goes through the directory fd's magic link, so the lookup of
 * name is relative to the real directory we hold and cannot wander out of
 * the layer: name is a single component (no '/').  An empty name is the
 * fd's own object: its magic link is followed, which resolves to that
 * object and never past it (a symlink's own xattrs).
 */
static char *xattr_path(int dirfd, const char *name, bool *follow)
{
	*follow = !*name;
	if (!*name) {
		char *p = malloc(UM_PROCPATH_MAX);
		if (p)
			um_procpath(p, dirfd);
		return p;
	}
	return um_procpath_at(dirfd, name);
}

ssize_t um_getxattr_at(int dirfd, const char *name, const char *xname,
		       void *buf, size_t size)
{
	bool follow;
	_cleanup_free_ char *p = xattr_path(dirfd, name, &follow);
	ssize_t r;

	if (!p)
		return -ENOMEM;
	r = follow ? getxattr(p, xname, buf, size) :
		     lgetxattr(p, xname, buf, size);
	return r < 0 ? -errno : r;
}

int um_setxattr_at(int dirfd, const char *name, const char *xname,
		   const void *val, size_t size, int flags)
{
	bool follow;
	_cleanup_free_ char *p = xattr_path(dirfd, name, &follow);
	int r;

	if (!p)
		return -ENOMEM;
	r = follow ? setxattr(p, xname, val, size, flags) :
		     lsetxattr(p, xname, val, size, flags);
	return r < 0 ? -errno : 0;
}

int um_removexattr_at(int dirfd, const char *name, const char *xname)
{
	bool follow;
	_cleanup_free_ char *p = xattr_path(dirfd, name, &follow);
	int r;

	if (!p)
		return -ENOMEM;
	r = follow ? removexattr(p, xname) : lremovexattr(p, xname);
	return r < 0 ? -errno : 0;
}

static int rmtree_contents(int dfd)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int ret = 0;

	if (!d) {
		close(dfd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int r = um_rmtree_at(dirfd(d), de->d_name);
		if (r < 0 && !ret)
			ret = r;
	}
	closedir(d);
	return ret;
}

int um_rmtree_at(int dirfd, const char *name)
{
	int fd;
	int r;

	if (unlinkat(dirfd, name, 0) == 0)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return errno == ENOENT ? 0 : -errno;
	fd = openat(dirfd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = rmtree_contents(fd);
	if (r < 0)
		return r;
	return unlinkat(dirfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

void um_tmpname(struct um_fs *fs, char buf[64])
{
	unsigned long n = atomic_fetch_add(&fs->tmpseq, 1);

	snprintf(buf, 64, "#um-%d-%lu", (int)getpid(), n);
}
