/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The hard-link index (the kernel's index=on): one entry per lower inode
 * with more than one name that has been copied up.  The entry is a hard
 * link to the upper copy, so every name of the lower file, copied up or
 * not, reaches the same upper inode through it, across remounts.
 *
 * The index is the directory UM_INDEX_DIR in the work directory (beside
 * the "unionmount" subdirectory of temporary objects, and unlike it never
 * emptied).  An entry's name is the identity of the lower object:
 *
 *     FSID-TYPE-HANDLE      (lower case hex)
 *
 * FSID is the 8-byte f_fsid of the lower file system (statfs(2); derived
 * from the file system's UUID on ext4 and btrfs, from its device on xfs),
 * TYPE and HANDLE the file handle of name_to_handle_at(2), which, unlike
 * st_dev and st_ino, does not change when the layer is mounted elsewhere
 * and carries the inode's generation, so a recreated file that reuses an
 * inode number never finds an old copy.  Lower objects without a file
 * handle (a file system without export support) or with one too long for
 * a name are not indexed: their names copy up separately.
 *
 * The entry (and so every upper name of the copy) carries
 * UM_MARK_NLINK: the link count the union shows, which differs from the
 * upper's once names were removed or added only below or only above.
 * "U+N"/"U-N": the upper inode's st_nlink plus N (what every change
 * keeps true: a link or unlink in the upper changes both counts);
 * "=N": N itself (written before a name is linked up, which changes only
 * the upper's count, so a crash between the two leaves it right).
 *
 * This module is pure (no FUSE, no union state): the layer tools use it
 * to find which lower hard links changed.
 */
#ifndef UM_INDEX_H
#define UM_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "markers.h"

#define UM_INDEX_DIR "unionmount-index"

/* Room for an entry name and its NUL. */
#define UM_INDEX_NAME_MAX 256

/*
 * The entry name of the lower object fd (any fd on it, O_PATH too).
 * 0, -EOPNOTSUPP (no file handles there), -ENAMETOOLONG, or -errno.
 */
int um_index_name(int fd, char name[UM_INDEX_NAME_MAX]);

/* Could name be an entry (and not a temporary or foreign file)? */
bool um_index_is_entry_name(const char *name);

/*
 * The index directory of work directory workfd (the directory given as
 * workdir=): an O_PATH|O_DIRECTORY fd, -ENOENT if there is none and
 * create is false, or -errno.  create makes it (0700).
 */
int um_index_open(int workfd, bool create);

/*
 * The index entry of the lower object lowerfd: an O_PATH fd on the upper
 * copy (and its stat in *st, if st is not NULL), -ENOENT if it has none,
 * -EOPNOTSUPP if it cannot be indexed, or -errno.
 */
int um_index_find(int indexfd, int lowerfd, struct stat *st);

/*
 * Call fn for each entry of the index, with its name and lstat; stops at
 * the first non-zero return of fn and returns it.  0 or -errno.
 */
int um_index_foreach(int indexfd,
		     int (*fn)(int indexfd, const char *name,
			       const struct stat *st, void *arg),
		     void *arg);

/*
 * The link count the union shows for the upper copy st (an entry or any
 * upper name of it), from its UM_MARK_NLINK value buf[len].  A missing
 * or bad value counts every upper name but the entry itself.
 */
unsigned long um_index_nlink_parse(const char *buf, ssize_t len,
				   const struct stat *st);

/* The same, reading the xattr of dirfd/name (empty name: dirfd itself). */
unsigned long um_index_nlink(int dirfd, const char *name,
			     const struct stat *st);

/*
 * Write UM_MARK_NLINK in namespace ns of dirfd/name: relative ("U%+d",
 * nlink minus st's st_nlink) or absolute ("=%lu").  0 or -errno.
 */
int um_index_set_nlink(int dirfd, const char *name, enum um_xattr_ns ns,
		       unsigned long nlink, const struct stat *st,
		       bool absolute);

#endif
