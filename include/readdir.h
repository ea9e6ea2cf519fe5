/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The merged directory listing. */
#ifndef UM_READDIR_H
#define UM_READDIR_H

#include <stddef.h>
#include <stdint.h>

#include "unionmount.h"

struct um_dirent {
	char *name;
	uint64_t off; /* its place: a function of the name alone */
	uint64_t ino;
	unsigned char type; /* DT_* */
	dev_t dev;	    /* the real object it shows (0 for . and ..): */
	ino_t real_ino;	    /* its inode, if known, is found by these */
};

/*
 * A merged listing, immutable once made and shared by reference: by the
 * directory's inode (its cache, valid while the directory's version is
 * unchanged) and by the readers of it.  Entries are in the order of their
 * offsets, which come from a hash of the name: an offset means the same
 * place in every listing of the directory, old or new, so a reader that
 * goes on from one in a newer listing (or the kernel's cache, which
 * splices what several readers got) sees every name that stayed exactly
 * once.  That is what lets readdir keep no state per open directory.
 */
struct um_listing {
	unsigned refs;	  /* atomic */
	uint64_t version; /* of the directory when it was made */
	struct um_dirent *ents;
	size_t n;
};

/* A change to dir's entries: its cached listing is stale. */
void um_readdir_changed(struct um_inode *dir);
void um_listing_unref(struct um_listing *l);

/* The current listing of dir, referenced for the caller.  0 or -errno. */
int um_readdir_get(struct um_fs *fs, struct um_inode *dir,
		   struct um_listing **out);
/* Index of the first entry after offset off (l->n if none). */
size_t um_listing_seek(const struct um_listing *l, uint64_t off);
/* 1 if the merged view of dir holds nothing but . and .., 0 if not. */
int um_readdir_is_empty(struct um_fs *fs, struct um_inode *dir);

#endif
