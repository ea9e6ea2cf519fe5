/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Extended attributes of merged objects; our private ones stay hidden. */
#ifndef UM_XATTR_H
#define UM_XATTR_H

#include <sys/types.h>

#include "unionmount.h"

ssize_t um_xattr_get(struct um_fs *fs, struct um_inode *inode, const char *name,
		     void *buf, size_t size);
ssize_t um_xattr_list(struct um_fs *fs, struct um_inode *inode, char *buf,
		      size_t size);
int um_xattr_set(struct um_fs *fs, struct um_inode *inode, const char *name,
		 const void *val, size_t size, int flags);
int um_xattr_remove(struct um_fs *fs, struct um_inode *inode, const char *name);

#endif
