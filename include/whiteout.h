/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Whiteouts and opaque directories, in every format in use:
 *  - kernel overlay: char device 0:0; a zero-size file with
 *    overlay.whiteout in a directory marked overlay.opaque="x";
 *    overlay.opaque="y" on a directory (trusted. or user. namespace);
 *  - OCI image layers: ".wh.NAME" beside NAME, ".wh..wh..opq" inside.
 */
#ifndef UM_WHITEOUT_H
#define UM_WHITEOUT_H

#include <stdbool.h>
#include <sys/stat.h>

#include "markers.h"
#include "unionmount.h"
#include "util.h"

/* Reading (src/whiteout.c).  st is the object's lstat. */
bool um_is_whiteout(const struct stat *st, int dirfd, const char *name,
		    bool xwhiteouts);
/* Is there a ".wh.name" in dirfd? */
bool um_has_oci_whiteout(int dirfd, const char *name);

enum um_opaque {
	UM_NOT_OPAQUE = 0,
	UM_OPAQUE,     /* hides every lower layer below */
	UM_XWHITEOUTS, /* not opaque, may contain xattr whiteouts */
};
/* Opaque state of the directory p. */
enum um_opaque um_dir_opaque(const struct um_path *p);

/* Writing, in the upper only. */

/* Make name in upper dir udfd a whiteout, replacing a non-directory. */
int um_whiteout_create(struct um_fs *fs, int udfd, const char *name);
/* Only the OCI marker ".wh.name"; the caller removes name if needed. */
int um_whiteout_create_oci(struct um_fs *fs, int udfd, const char *name);
/* Remove ".wh.name"; returns 1 if there was one. */
int um_oci_whiteout_remove(int udfd, const char *name);
/* Mark the upper directory dirfd/name opaque. */
int um_set_opaque(struct um_fs *fs, int dirfd, const char *name);

#endif
