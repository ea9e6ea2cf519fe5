/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Copy-up: bring a lower object into the upper layer before its first change.
 * The copy is built in the work directory and renamed into place, so a crash
 * never leaves a partial object visible.
 */
#ifndef UM_COPYUP_H
#define UM_COPYUP_H

#include "unionmount.h"

enum {
	UM_COPYUP_NODATA = 1 << 0,	/* the caller truncates to 0 anyway */
	UM_COPYUP_META = 1 << 1,	/* only metadata will change: with
					 * metacopy=on the data may stay below */
};

/* Make sure inode (and its ancestors) are in the upper.  0 or -errno. */
int um_copyup(struct um_fs *fs, struct um_inode *inode, int flags);

/* The upper directory fd of dir, copying it up first. */
int um_copyup_dir(struct um_fs *fs, struct um_inode *dir, int *fd);

#endif
