/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The door to real objects: every call that names an object in a layer by
 * a /proc/self/fd path, and the xattr, open and stat calls on layers, go
 * through the wrappers here (the kernel's ovl_do_*()), which -d traces.
 * Also small helpers on real files: trees, temporary names.
 */
#ifndef UM_UTIL_H
#define UM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "unionmount.h"

/*
 * A real object: one name in a directory of one layer (the kernel's
 * ovl_path).  With an empty name it is dirfd's own object, an O_PATH fd
 * on it (a directory, a pinned file).  A path borrows its fd and name
 * from whoever made it: an inode's are valid while its lock is held.
 */
struct um_path {
	int layer; /* index in fs->layers, or UM_LAYER_* */
	int dirfd;
	const char *name; /* one component (no '/'), or "" */
};

/* Layer numbers of paths outside the layers. */
#define UM_LAYER_WORK (-1)    /* the work directory */
#define UM_LAYER_UNKNOWN (-2) /* a caller that did not say */

#define UM_PATH(l, fd, n)                                                      \
	((struct um_path){.layer = (l), .dirfd = (fd), .name = (n)})

/* Log every wrapped call on a layer to stderr (-d).  Set before threads. */
void um_trace_layers(bool on);

/* lstat of the object (never a symlink's target).  0 or -errno. */
int um_path_stat(const struct um_path *p, struct stat *st);
/*
 * Open the object with real open flags, never following a final symlink
 * (O_PATH: a new O_PATH fd, the same object).  fd or -errno.
 */
int um_path_open(const struct um_path *p, int flags);
/* xattrs of the object itself (a symlink's own).  -errno on failure. */
ssize_t um_path_getxattr(const struct um_path *p, const char *xname, void *buf,
			 size_t size);
int um_path_setxattr(const struct um_path *p, const char *xname,
		     const void *val, size_t size, int flags);
int um_path_removexattr(const struct um_path *p, const char *xname);
ssize_t um_path_listxattr(const struct um_path *p, char *buf, size_t size);
/* chown, chmod, truncate, utimens (a symlink's own) of the object. */
int um_path_chown(const struct um_path *p, uid_t uid, gid_t gid);
int um_path_chmod(const struct um_path *p, mode_t mode);
int um_path_truncate(const struct um_path *p, off_t size);
int um_path_utimens(const struct um_path *p, const struct timespec ts[2]);
/* A new name newdirfd/newname for the object (not a symlink's target). */
int um_path_link(const struct um_path *p, int newdirfd, const char *newname);
/*
 * The entry child inside the directory p: lstat it, or create it as an
 * empty regular file (mode 0644) if it is not there.  0 or -errno.
 */
int um_path_stat_child(const struct um_path *p, const char *child,
		       struct stat *st);
int um_path_create_child(const struct um_path *p, const char *child);

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
 * name is dirfd's own object.  Return -errno on failure.  The same as the
 * um_path_*xattr() calls for callers that know no layer (layer tools).
 */
ssize_t um_getxattr_at(int dirfd, const char *name, const char *xname,
		       void *buf, size_t size);
int um_setxattr_at(int dirfd, const char *name, const char *xname,
		   const void *val, size_t size, int flags);
int um_removexattr_at(int dirfd, const char *name, const char *xname);

/*
 * Fault injection for the tests of error paths that a real layer cannot be
 * made to take on demand.  UM_TEST_FAULT=NAME[,NAME...] in the daemon's
 * environment, read once at start, makes each named step fail.
 */
enum um_fault {
	UM_FAULT_OPAQUE,	  /* "opaque": marking a directory opaque */
	UM_FAULT_OCI_REMOVE,	  /* "oci_remove": removing a ".wh." marker */
	UM_FAULT_RENAME_WHITEOUT, /* "rename_whiteout": the upper has no
				   * RENAME_WHITEOUT */
	UM_FAULT_LATE_WHITEOUT,	  /* "late_whiteout": the whiteout moved in
				   * after a rename without RENAME_WHITEOUT */
	UM_FAULT_UNDO,		  /* "undo": undoing a rename */
	UM_FAULT_NAME,		  /* "name": the new names of renamed inodes */
	UM_FAULT_COUNT,
};
/* Read UM_TEST_FAULT; returns -1 with a message in err for a bad name. */
int um_fault_init(char *err, size_t errlen);
/* Should step f fail now? */
bool um_fault(enum um_fault f);

/* Remove name in dirfd and everything below it.  Returns 0 or -errno. */
int um_rmtree_at(int dirfd, const char *name);

/* Room for a temporary name: "#um-PID-SEQ". */
#define UM_TMPNAME_MAX 64
/* A fresh name for a temporary object in the work directory. */
void um_tmpname(struct um_fs *fs, char buf[UM_TMPNAME_MAX]);

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
