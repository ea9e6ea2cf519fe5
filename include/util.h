/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small helpers on real files: paths through /proc/self/fd, xattrs, trees. */
#ifndef UM_UTIL_H
#define UM_UTIL_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "unionmount.h"

/* Large enough for "/proc/self/fd/<int>". */
#define UM_PROCPATH_MAX 32

/* "/proc/self/fd/N": names the very object an O_PATH fd holds. */
void um_procpath(char buf[UM_PROCPATH_MAX], int fd);
/* "/proc/self/fd/N/name", malloc'ed, or NULL on ENOMEM. */
char *um_procpath_at(int dirfd, const char *name);

/* Open the object behind an O_PATH fd with real open flags. */
int um_reopen(int fd, int flags);

/*
 * xattr of the object dirfd/name, not following a final symlink; an empty
 * name is dirfd's own object.  Return -errno on failure.
 */
ssize_t um_getxattr_at(int dirfd, const char *name, const char *xname,
		       void *buf, size_t size);
int um_setxattr_at(int dirfd, const char *name, const char *xname,
		   const void *val, size_t size, int flags);
int um_removexattr_at(int dirfd, const char *name, const char *xname);

/* Remove name in dirfd and everything below it.  Returns 0 or -errno. */
int um_rmtree_at(int dirfd, const char *name);

/* A fresh name for a temporary object in the work directory. */
void um_tmpname(struct um_fs *fs, char buf[64]);

/* Auto-closing and auto-freeing locals. */
static inline void um_closep(int *fd)
{
	extern int close(int);
	if (*fd >= 0)
		close(*fd);
}
static inline void um_freep(void *p)
{
	extern void free(void *);
	free(*(void **)p);
}
static inline void um_fclosep(void *p)
{
	FILE **f = p;
	if (*f)
		fclose(*f);
}
#define _cleanup_close_ __attribute__((cleanup(um_closep)))
#define _cleanup_free_ __attribute__((cleanup(um_freep)))
#define _cleanup_fclose_ __attribute__((cleanup(um_fclosep)))

#endif
