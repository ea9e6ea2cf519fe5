/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Top-down resolution of a name in a merged directory. */
#ifndef UM_LOOKUP_H
#define UM_LOOKUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "unionmount.h"

/* Lookup state: what a name resolves to, travels into um_inode_get(). */
struct um_lookup {
	int layer;		   /* topmost layer of the object */
	int fd;			   /* O_PATH on it, owned */
	struct stat st;		   /* its lstat */
	uint64_t ino;		   /* st_ino to show; 0: not read yet (an upper
				    * object's origin xattr costs calls: read
				    * only when no inode has it already) */
	int ino_dirfd;		   /* with ino 0: the upper directory */
	struct um_realdir *lowers; /* dirs: lower parts, fds owned */
	int nlowers;
	char *redirect; /* dirs: the upper's redirect xattr, or NULL */
	bool metacopy;	/* an upper file whose data is below */
	bool byname;	/* a lower hard link that is not indexed:
			 * each name is an inode of its own */
	bool indexed;	/* shares its inode with its other names
			 * through the index (see um_inode.indexed) */
};

/* Names that never reach the layers: too long, or our own markers. */
int um_check_name(const char *name);

/*
 * Resolve name in dir.  Returns 0 with *lk filled, -ENOENT, or -errno.
 */
int um_lookup_name(struct um_fs *fs, struct um_inode *dir, const char *name,
		   struct um_lookup *lk);
void um_lookup_release(struct um_lookup *lk);

/*
 * Is val a redirect the kernel accepts: a single name, or an absolute
 * path "/a/b" without empty components?  0 or -EINVAL.
 */
int um_redirect_check(const char *val);

/* The longest absolute redirect written, as the kernel's redirect_max. */
#define UM_REDIRECT_MAX 256

/* Does name exist (not whited out) in one of dir's lower parts? */
bool um_lower_has(struct um_fs *fs, struct um_inode *dir, const char *name);

/*
 * The data of the metacopy file name in dir: an O_PATH fd on the lower
 * file of that name, or -EIO where there is none (as the kernel).
 */
int um_lookup_data(struct um_fs *fs, struct um_inode *dir, const char *name);

/*
 * Smallest file metacopy=on leaves the data of below: copying less costs
 * little, and a file larger than any xattr block stays recognizable by
 * its size alone.
 */
#define UM_METACOPY_MIN (64 << 10)

#endif
