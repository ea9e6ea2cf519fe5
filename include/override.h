/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Owner, mode and file type kept in an xattr in place of the real ones,
 * where the real ones cannot be set: a daemon without CAP_CHOWN or
 * CAP_MKNOD (rootless), or xattr_permissions=.  The format is the one
 * containers-storage and fuse-overlayfs use, "uid:gid:0mode[:type]" with
 * type one of file, dir, symlink, pipe, socket, block-MAJ-MIN,
 * char-MAJ-MIN; readers that know only the first three fields ignore the
 * fourth.
 */
#ifndef UM_OVERRIDE_H
#define UM_OVERRIDE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "unionmount.h"

struct um_override {
	uid_t uid;
	gid_t gid;
	mode_t mode; /* permission bits, and S_IFMT where the type was
		      * given (0 there otherwise) */
	dev_t rdev;  /* for a block or character device */
};

/* Longest value um_override_format() writes, with its NUL. */
#define UM_OVERRIDE_MAX 96

/* Parse an xattr value (not NUL-terminated).  false: not an override. */
bool um_override_parse(const char *val, size_t len, struct um_override *ov);
/* Format one; returns its length (no NUL counted). */
size_t um_override_format(const struct um_override *ov,
			  char buf[UM_OVERRIDE_MAX]);

/* The xattr overrides live in for this mount, or NULL: none read. */
static inline const char *um_override_xattr(const struct um_fs *fs)
{
	return fs->override_xattr;
}

/*
 * The override of dfd/name ("": dfd itself), 1 if it has one, 0 if not,
 * or -errno.
 */
int um_override_get(const struct um_fs *fs, int dfd, const char *name,
		    struct um_override *ov);
/* Write one on dfd/name ("": dfd itself).  0 or -errno. */
int um_override_set(const struct um_fs *fs, int dfd, const char *name,
		    const struct um_override *ov);

/* What stat shows: st with the override's owner, mode and type. */
void um_override_apply(const struct um_override *ov, struct stat *st);

/*
 * Was a change of owner or a mknod refused for want of privilege, so an
 * override should record it instead?
 */
static inline bool um_override_refused(const struct um_fs *fs, int err)
{
	return um_override_xattr(fs) && (err == -EPERM || err == -EINVAL);
}

#endif
