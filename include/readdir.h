/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The merged directory listing. */
#ifndef UM_READDIR_H
#define UM_READDIR_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "unionmount.h"

struct um_dirent {
	char *name;
	uint64_t ino;
	unsigned char type;	/* DT_* */
	dev_t dev;		/* the real object it shows (0 for . and ..): */
	ino_t real_ino;		/* its inode, if known, is found by these */
};

/*
 * A merged listing, immutable once made and shared by reference: by the
 * directory's inode (its cache, valid while the directory's version is
 * unchanged) and by every open of it that reads it.
 */
struct um_listing {
	unsigned refs;		/* atomic */
	uint64_t version;	/* of the directory when it was made */
	struct um_dirent *ents;
	size_t n;
};

/*
 * An open directory: the listing it reads, taken at offset 0, or for a
 * frozen one, at open.
 */
struct um_dirh {
	pthread_mutex_t lock;	/* protects list */
	struct um_listing *list;
	bool frozen;		/* the kernel may cache what it reads */
};

/* A change to dir's entries: its cached listing is stale. */
void um_readdir_changed(struct um_inode *dir);
void um_listing_unref(struct um_listing *l);

struct um_dirh *um_dirh_new(void);
void um_dirh_free(struct um_dirh *h);
/*
 * Open dir into h.  A directory that cannot change while it stays what it
 * is (nothing of it in the upper, or no upper at all) is frozen: its
 * listing is taken now, every open of it shows the same one, and the
 * kernel may keep it (cache_readdir).  0 or -errno.
 */
int um_readdir_open(struct um_fs *fs, struct um_inode *dir,
		    struct um_dirh *h);
/* (Re)build h's listing of dir.  0 or -errno. */
int um_readdir_load(struct um_fs *fs, struct um_inode *dir,
		    struct um_dirh *h);
/* 1 if the merged view of dir holds nothing but . and .., 0 if not. */
int um_readdir_is_empty(struct um_fs *fs, struct um_inode *dir);

#endif
