/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Namespace changes: create, mkdir, mknod, symlink, link, unlink, rmdir,
 * rename. */
#ifndef UM_DIR_H
#define UM_DIR_H

#include <sys/types.h>

#include "lookup.h"
#include "unionmount.h"

/* Who asks: the owner new objects get. */
struct um_cred {
	uid_t uid;
	gid_t gid;
};

struct um_new {
	mode_t mode;	       /* type and permission bits */
	dev_t rdev;	       /* mknod */
	const char *target;    /* symlink */
	struct um_inode *link; /* link: the existing inode */
	int open_flags;	       /* create: flags of the open */
	int fd;		       /* create: out, the open file */
};

/* Make a new object; on success *out is its inode with one reference. */
int um_dir_create(struct um_fs *fs, struct um_inode *dir, const char *name,
		  struct um_new *how, const struct um_cred *cred,
		  struct um_inode **out);
int um_dir_unlink(struct um_fs *fs, struct um_inode *dir, const char *name);
int um_dir_rmdir(struct um_fs *fs, struct um_inode *dir, const char *name);
int um_dir_rename(struct um_fs *fs, struct um_inode *olddir,
		  const char *oldname, struct um_inode *newdir,
		  const char *newname, unsigned int flags);

#endif
