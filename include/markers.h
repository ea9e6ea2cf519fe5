/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Every on-disk marker unionmount reads or writes, in one place (the role
 * of the kernel's ovl_xattr table): the union file system and the layer
 * tools both read layers through this module, so they cannot disagree
 * about what a whiteout, an opaque directory or a redirect is.
 *
 * Kernel overlay markers live in two xattr namespaces: "trusted." (what
 * the kernel writes when mounted by root) and "user." (userxattr mounts,
 * rootless).  We read both and write the one probed at mount.  OCI image
 * layers mark deletions with names instead (".wh.NAME", ".wh..wh..opq").
 */
#ifndef UM_MARKERS_H
#define UM_MARKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

enum um_xattr_ns {
	UM_NS_TRUSTED,
	UM_NS_USER,
	UM_NS_COUNT,
};

enum um_marker {
	UM_MARK_OPAQUE,	    /* overlay.opaque: "y" hides the layers
			     * below, "x" holds xattr whiteouts */
	UM_MARK_REDIRECT,   /* overlay.redirect: where a renamed
			     * directory's lower parts are */
	UM_MARK_METACOPY,   /* overlay.metacopy: an upper file whose
			     * data is still the lower file's */
	UM_MARK_WHITEOUT,   /* overlay.whiteout: a zero-size file that
			     * is a whiteout (in an "x" directory) */
	UM_MARK_ORIGIN,	    /* unionmount.origin: the 8-byte st_ino a
			     * copied-up object keeps */
	UM_MARK_NLINK,	    /* unionmount.nlink: the merged link count
			     * of a hard link copied up through the
			     * index (index.h) */
	UM_MARK_OVL_ORIGIN, /* overlay.origin: the kernel's file handle
			     * of the lower object a copy-up came from */
	UM_MARK_COUNT,
};

/* "trusted.overlay.opaque" and the like: static strings. */
const char *um_marker_name(enum um_marker m, enum um_xattr_ns ns);

/* The other namespace: the one read second. */
static inline enum um_xattr_ns um_ns_other(enum um_xattr_ns ns)
{
	return ns == UM_NS_TRUSTED ? UM_NS_USER : UM_NS_TRUSTED;
}

/* "trusted." or "user." */
const char *um_ns_prefix(enum um_xattr_ns ns);

/*
 * Read marker m of dirfd/name (an empty name: dirfd's own object), in
 * namespace first, then in the other one.  Returns the value's length or
 * -errno (-ENODATA: in neither).
 */
ssize_t um_marker_get(int dirfd, const char *name, enum um_marker m,
		      enum um_xattr_ns first, void *buf, size_t size);

/* Is marker m set on dirfd/name in either namespace? */
bool um_marker_has(int dirfd, const char *name, enum um_marker m);

/* Owner/mode/type overrides (override.h): the two xattrs in use. */
#define UM_OVERRIDE_CONTAINERS "user.containers.override_stat"
#define UM_OVERRIDE_FUSEOVERLAYFS "security.fuseoverlayfs.override_stat"

/* OCI image layer markers. */
#define UM_OCI_PREFIX ".wh."
#define UM_OCI_PREFIX_LEN 4
#define UM_OCI_OPAQUE ".wh..wh..opq"

/* "NAME" if name is an OCI whiteout ".wh.NAME", else NULL. */
const char *um_oci_whiteout_target(const char *name);
/* Is name the OCI opaque marker ".wh..wh..opq"? */
bool um_is_oci_opaque(const char *name);
/* Does name start with ".wh." (a name no merged view may create)? */
bool um_is_oci_reserved(const char *name);
/* ".wh.NAME", malloc'ed, or NULL on ENOMEM. */
char *um_oci_whiteout_name(const char *name);

/* The device number of a kernel whiteout, a character device: makedev(0, 0). */
#define UM_WHITEOUT_RDEV ((dev_t)0)

/* Is st a kernel whiteout (character device 0:0)? */
bool um_is_chardev_whiteout(const struct stat *st);

/*
 * True for every xattr name the merged view must not show: our markers,
 * the kernel's, fuse-overlayfs' and the overrides.
 */
bool um_is_private_xattr(const char *xname);
/*
 * One of the owner/mode/type overrides: private, yet part of the object,
 * so a copy-up or an export keeps it.
 */
bool um_is_override_xattr(const char *xname);

#endif
