/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The inode table: one um_inode per real topmost object, with lookup counts. */
#ifndef UM_INODE_H
#define UM_INODE_H

#include <fuse_lowlevel.h>

#include "lookup.h"
#include "unionmount.h"
#include "util.h"

/*
 * Find or make the inode for a lookup result, with one new reference.
 * Takes ownership of lk's fds and arrays (lk is released either way).
 */
struct um_inode *um_inode_get(struct um_fs *fs, struct um_lookup *lk,
			      struct um_inode *parent, const char *name);
/* Look name up in dir and get its inode with one reference.  0 or -errno. */
int um_lookup_inode(struct um_fs *fs, struct um_inode *dir, const char *name,
		    struct um_inode **out);

void um_inode_ref(struct um_fs *fs, struct um_inode *inode);
/* Drop n references; frees the inode (and unrefs its parent) at zero. */
void um_inode_unref(struct um_fs *fs, struct um_inode *inode, uint64_t n);

static inline struct um_inode *um_inode_of(struct um_fs *fs, fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? fs->root
				   : (struct um_inode *)(uintptr_t)ino;
}
static inline fuse_ino_t um_nodeid(struct um_fs *fs, struct um_inode *inode)
{
	return inode == fs->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)inode;
}

/*
 * A new O_PATH fd on the inode's real object, which the caller closes;
 * *layer (if not NULL) says where it lives.  0-or-fd, or -errno.
 */
int um_inode_path(struct um_fs *fs, struct um_inode *inode, int *layer);
/*
 * Where the real object is, for calls made while inode->lock is held (the
 * path borrows the inode's fds and name).  0 or -errno.
 */
int um_inode_locate_locked(struct um_inode *inode, struct um_path *p);
/* The same as um_inode_path, with inode->lock held by the caller. */
int um_inode_path_locked(struct um_inode *inode);
/*
 * Keep the object reachable after its name goes away, if it is open: an
 * unused unlinked file must free its space at once.
 */
void um_inode_pin(struct um_inode *inode);

/* After a rename: move inode to (parent, name).  0 or -ENOMEM. */
int um_inode_set_name(struct um_fs *fs, struct um_inode *inode,
		      struct um_inode *parent, const char *name);
/*
 * The same with a name the caller allocated (and hands over) before the
 * rename, so that nothing can fail once the rename is done.
 */
void um_inode_move(struct um_fs *fs, struct um_inode *inode,
		   struct um_inode *parent, char *name);
/* After copy-up (called with inode->lock held): the new upper object. */
void um_inode_set_upper(struct um_fs *fs, struct um_inode *inode, int fd,
			const struct stat *st);

/*
 * The object lost its last name and nothing holds it open: its inode
 * number may be reused by a new object, which must not find this inode.
 */
void um_inode_unhash(struct um_fs *fs, struct um_inode *inode);

/* Undo um_inode_unhash() when the removal failed. */
void um_inode_rehash(struct um_fs *fs, struct um_inode *inode);

/* The name was removed: an open file now shows st_nlink 0. */
void um_inode_mark_unlinked(struct um_inode *inode);

/*
 * The inode of the real object (dev, ino), with one more reference, if the
 * table has it (not for names of a hard-linked lower file), else NULL.
 */
struct um_inode *um_inode_find(struct um_fs *fs, dev_t dev, ino_t ino);

/* Presented st_ino of an inode that is in the table with key, or 0. */
uint64_t um_inode_cached_ino(struct um_fs *fs, dev_t dev, ino_t ino);

/* Free every inode (at unmount). */
void um_inode_table_release(struct um_fs *fs);

#endif
