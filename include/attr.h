/* SPDX-License-Identifier: GPL-2.0-or-later */
/* getattr and setattr. */
#ifndef UM_ATTR_H
#define UM_ATTR_H

#include <sys/stat.h>

#include "unionmount.h"

int um_attr_get(struct um_fs *fs, struct um_inode *inode, struct stat *st);

/* Which fields of um_attr_set()'s attr to apply. */
enum {
	UM_SET_MODE = 1 << 0,
	UM_SET_UID = 1 << 1,
	UM_SET_GID = 1 << 2,
	UM_SET_SIZE = 1 << 3,
	UM_SET_ATIME = 1 << 4,
	UM_SET_MTIME = 1 << 5,
	UM_SET_ATIME_NOW = 1 << 6,
	UM_SET_MTIME_NOW = 1 << 7,
	UM_SET_CTIME = 1 << 8,
	/* truncate as a writer without CAP_FSETID (KILLPRIV_V2) */
	UM_SET_KILL_SUIDGID = 1 << 9,
};

/*
 * Apply attr; fd is an open file of the inode or -1.  Fills out with the
 * attributes after the change.  0 or -errno.
 */
int um_attr_set(struct um_fs *fs, struct um_inode *inode,
		const struct stat *attr, int valid, int fd, struct stat *out);

#endif
