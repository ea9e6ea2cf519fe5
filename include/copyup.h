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
	UM_COPYUP_NODATA = 1 << 0, /* the caller truncates to 0 anyway */
	UM_COPYUP_META = 1 << 1,   /* only metadata will change: with
				    * metacopy=on the data may stay below */
};

/* Make sure inode (and its ancestors) are in the upper.  0 or -errno. */
int um_copyup(struct um_fs *fs, struct um_inode *inode, int flags);

/* The upper directory fd of dir, copying it up first. */
int um_copyup_dir(struct um_fs *fs, struct um_inode *dir, int *fd);

/*
 * Make sure dir/name, one name of inode, is a name in the upper.  For an
 * indexed hard link (um_inode.indexed) another of its names may have
 * been copied up while this one is still only below: it is linked up to
 * the same copy.  For any other object the same as um_copyup().
 */
int um_copyup_name(struct um_fs *fs, struct um_inode *inode,
		   struct um_inode *dir, const char *name);

/*
 * Before a name of the indexed copy inode is added or removed in the
 * upper: its union link count is written relative to the upper's, which
 * the change moves in step.  Returns the union link count, or -errno.
 */
long um_copyup_nlink_start(struct um_fs *fs, struct um_inode *inode);

/* The last name of the indexed copy inode went: drop its index entry. */
int um_copyup_index_drop(struct um_fs *fs, struct um_inode *inode);

#endif
