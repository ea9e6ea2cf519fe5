/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unpacking an OCI layer tarball into a layer directory: the one checked
 * reader of untrusted tarballs, run by the import command and the fuzzer.
 */
#ifndef UM_LAYER_IMPORT_H
#define UM_LAYER_IMPORT_H

struct archive;

enum layer_whiteout {
	LAYER_WH_AUTO,	  /* char 0:0 if mknod works, else OCI */
	LAYER_WH_CHARDEV, /* char 0:0 and overlay.opaque=y */
	LAYER_WH_OCI,	  /* .wh.NAME and .wh..wh..opq files kept */
};

/*
 * Read every entry of a (opened for reading) into the empty directory
 * rootfd.  Returns 0, -EINVAL for a refused (hostile or malformed) entry,
 * or -errno; one line on stderr says what failed.
 */
int layer_import(struct archive *a, int rootfd, enum layer_whiteout wh);

#endif
