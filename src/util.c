// SPDX-License-Identifier: GPL-2.0-or-later
#include <dirent.h>
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

static bool trace_on;

void um_trace_layers(bool on)
{
	trace_on = on;
}

static void trace(const char *op, const struct um_path *p, const char *arg,
		  long r)
{
	char layer[16];

	if (p->layer == UM_LAYER_WORK)
		snprintf(layer, sizeof(layer), "work");
	else if (p->layer == UM_LAYER_UNKNOWN)
		snprintf(layer, sizeof(layer), "?");
	else
		snprintf(layer, sizeof(layer), "%d", p->layer);
	if (r < 0)
		fprintf(stderr,
			"unionmount: layer %s: %s(%d, \"%s\"%s%s) = %s\n",
			layer, op, p->dirfd, p->name, arg ? ", " : "",
			arg ? arg : "", strerror((int)-r));
	else
		fprintf(stderr,
			"unionmount: layer %s: %s(%d, \"%s\"%s%s) = %ld\n",
			layer, op, p->dirfd, p->name, arg ? ", " : "",
			arg ? arg : "", r);
}

/* Cheap when off: one predictable branch per call. */
#define TRACE(op, p, arg, r)                                                   \
	do {                                                                   \
		if (__builtin_expect(trace_on, 0))                             \
			trace((op), (p), (arg), (long)(r));                    \
	} while (0)

/* -errno for a failed call's result, the result otherwise. */
static long result(long r)
{
	return r < 0 ? -errno : r;
}

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

/* "/proc/self/fd/N", N's "name", and a child below: on the stack. */
#define PROC_OBJ_MAX (UM_PROCPATH_MAX + 2 * (NAME_MAX + 1))

/*
 * The path of p through the directory fd's magic link, so the lookup of
 * the name is relative to the real directory we hold and cannot wander
 * out of the layer: the name is a single component (no '/').  An empty
 * name is the fd's own object: its magic link is followed, which
 * resolves to that object and never past it (a symlink's own xattrs), so
 * the calls that follow a final symlink are used for it, the l*() ones
 * for a name.  child (or NULL) is an entry inside that directory.
 */
static int proc_path(const struct um_path *p, const char *child,
		     char buf[PROC_OBJ_MAX])
{
	int n = snprintf(buf, PROC_OBJ_MAX, "/proc/self/fd/%d%s%s%s%s",
			 p->dirfd, *p->name ? "/" : "", p->name,
			 child ? "/" : "", child ? child : "");

	return n < 0 || n >= PROC_OBJ_MAX ? -ENAMETOOLONG : 0;
}

int um_path_stat(const struct um_path *p, struct stat *st)
{
	long r = result(fstatat(p->dirfd, p->name, st,
				AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));

	TRACE("stat", p, NULL, r);
	return (int)r;
}

int um_path_open(const struct um_path *p, int flags)
{
	char path[PROC_OBJ_MAX];
	long r;

	if (*p->name)
		r = result(openat(p->dirfd, p->name,
				  flags | O_NOFOLLOW | O_CLOEXEC));
	else if (flags & O_PATH)
		r = result(fcntl(p->dirfd, F_DUPFD_CLOEXEC, 3));
	else if ((r = proc_path(p, NULL, path)) == 0)
		r = result(open(path, flags | O_CLOEXEC));
	TRACE("open", p, NULL, r);
	return (int)r;
}

ssize_t um_path_getxattr(const struct um_path *p, const char *xname, void *buf,
			 size_t size)
{
	char path[PROC_OBJ_MAX];
	long r = proc_path(p, NULL, path);

	if (r == 0)
		r = result(*p->name ? lgetxattr(path, xname, buf, size)
				    : getxattr(path, xname, buf, size));
	TRACE("getxattr", p, xname, r);
	return r;
}

int um_path_setxattr(const struct um_path *p, const char *xname,
		     const void *val, size_t size, int flags)
{
	char path[PROC_OBJ_MAX];
	long r = proc_path(p, NULL, path);

	if (r == 0)
		r = result(*p->name ? lsetxattr(path, xname, val, size, flags)
				    : setxattr(path, xname, val, size, flags));
	TRACE("setxattr", p, xname, r);
	return (int)r;
}

int um_path_removexattr(const struct um_path *p, const char *xname)
{
	char path[PROC_OBJ_MAX];
	long r = proc_path(p, NULL, path);

	if (r == 0)
		r = result(*p->name ? lremovexattr(path, xname)
				    : removexattr(path, xname));
	TRACE("removexattr", p, xname, r);
	return (int)r;
}

ssize_t um_path_listxattr(const struct um_path *p, char *buf, size_t size)
{
	char path[PROC_OBJ_MAX];
	long r = proc_path(p, NULL, path);

	if (r == 0)
		r = result(*p->name ? llistxattr(path, buf, size)
				    : listxattr(path, buf, size));
	TRACE("listxattr", p, NULL, r);
	return r;
}

int um_path_chown(const struct um_path *p, uid_t uid, gid_t gid)
{
	long r = result(fchownat(p->dirfd, p->name, uid, gid,
				 AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));

	TRACE("chown", p, NULL, r);
	return (int)r;
}

int um_path_chmod(const struct um_path *p, mode_t mode)
{
	char path[PROC_OBJ_MAX];
	long r = 0;

	if (*p->name)
		r = result(
			fchmodat(p->dirfd, p->name, mode, AT_SYMLINK_NOFOLLOW));
	else if ((r = proc_path(p, NULL, path)) == 0)
		r = result(chmod(path, mode));
	TRACE("chmod", p, NULL, r);
	return (int)r;
}

int um_path_truncate(const struct um_path *p, off_t size)
{
	char path[PROC_OBJ_MAX];
	long r = proc_path(p, NULL, path);

	/* A name's final symlink would be followed: only the object itself. */
	if (r == 0)
		r = *p->name ? -EINVAL : result(truncate(path, size));
	TRACE("truncate", p, NULL, r);
	return (int)r;
}

int um_path_utimens(const struct um_path *p, const struct timespec ts[2])
{
	char path[PROC_OBJ_MAX];
	long r = 0;

	if (*p->name)
		r = result(
			utimensat(p->dirfd, p->name, ts, AT_SYMLINK_NOFOLLOW));
	else if ((r = proc_path(p, NULL, path)) == 0)
		r = result(utimensat(AT_FDCWD, path, ts, 0));
	TRACE("utimens", p, NULL, r);
	return (int)r;
}

int um_path_link(const struct um_path *p, int newdirfd, const char *newname)
{
	char path[PROC_OBJ_MAX];
	long r = 0;

	/* linkat(AT_EMPTY_PATH) would need CAP_DAC_READ_SEARCH. */
	if (*p->name)
		r = result(linkat(p->dirfd, p->name, newdirfd, newname, 0));
	else if ((r = proc_path(p, NULL, path)) == 0)
		r = result(linkat(AT_FDCWD, path, newdirfd, newname,
				  AT_SYMLINK_FOLLOW));
	TRACE("link", p, newname, r);
	return (int)r;
}

int um_path_stat_child(const struct um_path *p, const char *child,
		       struct stat *st)
{
	char path[PROC_OBJ_MAX];
	long r = proc_path(p, child, path);

	if (r == 0)
		r = result(lstat(path, st));
	TRACE("stat_child", p, child, r);
	return (int)r;
}

int um_path_create_child(const struct um_path *p, const char *child)
{
	char path[PROC_OBJ_MAX];
	long r = proc_path(p, child, path);

	if (r == 0)
		r = result(open(path,
				O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW,
				0644));
	if (r >= 0) {
		close((int)r);
		r = 0;
	}
	TRACE("create_child", p, child, r);
	return (int)r;
}

int um_reopen(int fd, int flags)
{
	int r = um_path_open(&UM_PATH(UM_LAYER_UNKNOWN, fd, ""), flags);

	/* Callers read errno, as after open(2). */
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

ssize_t um_getxattr_at(int dirfd, const char *name, const char *xname,
		       void *buf, size_t size)
{
	return um_path_getxattr(&UM_PATH(UM_LAYER_UNKNOWN, dirfd, name), xname,
				buf, size);
}

int um_setxattr_at(int dirfd, const char *name, const char *xname,
		   const void *val, size_t size, int flags)
{
	return um_path_setxattr(&UM_PATH(UM_LAYER_UNKNOWN, dirfd, name), xname,
				val, size, flags);
}

int um_removexattr_at(int dirfd, const char *name, const char *xname)
{
	return um_path_removexattr(&UM_PATH(UM_LAYER_UNKNOWN, dirfd, name),
				   xname);
}

static unsigned fault_mask;

static const char *const fault_names[UM_FAULT_COUNT] = {
	[UM_FAULT_OPAQUE] = "opaque",
	[UM_FAULT_OCI_REMOVE] = "oci_remove",
	[UM_FAULT_RENAME_WHITEOUT] = "rename_whiteout",
	[UM_FAULT_LATE_WHITEOUT] = "late_whiteout",
	[UM_FAULT_UNDO] = "undo",
	[UM_FAULT_NAME] = "name",
};

int um_fault_init(char *err, size_t errlen)
{
	const char *env = getenv("UM_TEST_FAULT");
	_cleanup_free_ char *copy = env ? strdup(env) : NULL;
	char *save = NULL;

	fault_mask = 0;
	if (!env)
		return 0;
	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (char *n = strtok_r(copy, ",", &save); n;
	     n = strtok_r(NULL, ",", &save)) {
		int f = 0;
		while (f < UM_FAULT_COUNT && strcmp(n, fault_names[f]))
			f++;
		if (f == UM_FAULT_COUNT) {
			snprintf(err, errlen,
				 "UM_TEST_FAULT: unknown step '%s'", n);
			return -1;
		}
		fault_mask |= 1u << f;
	}
	return 0;
}

bool um_fault(enum um_fault f)
{
	return __builtin_expect(fault_mask != 0, 0) && (fault_mask & (1u << f));
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

void um_tmpname(struct um_fs *fs, char buf[UM_TMPNAME_MAX])
{
	unsigned long n = atomic_fetch_add(&fs->tmpseq, 1);

	snprintf(buf, UM_TMPNAME_MAX, "#um-%d-%lu", (int)getpid(), n);
}
