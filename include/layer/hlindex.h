/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The layer tools' view of unionmount's hard-link index (include/index.h,
 * in the work directory): a lower file with several names, changed through
 * one of them, is shown by the union as its upper copy under every name.
 * The index entry names the copy; the tools find the other names by
 * looking each lower hard link up in it, so that export, diff and commit
 * see every name that changed.  Without index support built in, there is
 * no index and these report so.
 */
#ifndef UM_LAYER_HLINDEX_H
#define UM_LAYER_HLINDEX_H

#include <stdbool.h>
#include <sys/stat.h>

/* Room for an entry name and its NUL. */
#define LAYER_INDEX_NAME_MAX 256

/*
 * The index of the work directory workdir (NULL: unionmount's default
 * beside upper, ".UPPER.unionmount-work"): an fd, -1 if there is none
 * or it is empty (nothing to look for), or -errno.
 */
int layer_index_open(const char *workdir, const char *upper);

/*
 * Is the lower object dirfd/name (stat st, a non-directory with several
 * names) shown as an indexed copy?  1 with the entry's name and stat,
 * 0 if not, or -errno.
 */
int layer_index_lookup(int indexfd, int dirfd, const char *name,
		       const struct stat *st, char entry[LAYER_INDEX_NAME_MAX],
		       struct stat *est);

#endif
