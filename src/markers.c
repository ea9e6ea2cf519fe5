// SPDX-License-Identifier: GPL-2.0-or-later
/* The on-disk markers: names, namespaces and the OCI naming rules. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "markers.h"
#include "util.h"

static const char *const marker_names[UM_MARK_COUNT][UM_NS_COUNT] = {
	[UM_MARK_OPAQUE] = {"trusted.overlay.opaque", "user.overlay.opaque"},
	[UM_MARK_REDIRECT] = {"trusted.overlay.redirect",
			      "user.overlay.redirect"},
	[UM_MARK_METACOPY] = {"trusted.overlay.metacopy",
			      "user.overlay.metacopy"},
	[UM_MARK_WHITEOUT] = {"trusted.overlay.whiteout",
			      "user.overlay.whiteout"},
	[UM_MARK_ORIGIN] = {"trusted.unionmount.origin",
			    "user.unionmount.origin"},
	[UM_MARK_NLINK] = {"trusted.unionmount.nlink", "user.unionmount.nlink"},
	[UM_MARK_OVL_ORIGIN] = {"trusted.overlay.origin",
				"user.overlay.origin"},
};

const char *um_marker_name(enum um_marker m, enum um_xattr_ns ns)
{
	return marker_names[m][ns];
}

const char *um_ns_prefix(enum um_xattr_ns ns)
{
	return ns == UM_NS_TRUSTED ? "trusted." : "user.";
}

ssize_t um_marker_get(int dirfd, const char *name, enum um_marker m,
		      enum um_xattr_ns first, void *buf, size_t size)
{
	ssize_t r =
		um_getxattr_at(dirfd, name, marker_names[m][first], buf, size);

	if (r != -ENODATA)
		return r;
	return um_getxattr_at(dirfd, name, marker_names[m][um_ns_other(first)],
			      buf, size);
}

bool um_marker_has(int dirfd, const char *name, enum um_marker m)
{
	return um_marker_get(dirfd, name, m, UM_NS_TRUSTED, NULL, 0) >= 0;
}

bool um_is_oci_reserved(const char *name)
{
	return !strncmp(name, UM_OCI_PREFIX, UM_OCI_PREFIX_LEN);
}

const char *um_oci_whiteout_target(const char *name)
{
	if (!um_is_oci_reserved(name) || name[UM_OCI_PREFIX_LEN] == '\0')
		return NULL;
	if (um_is_oci_opaque(name))
		return NULL;
	return name + UM_OCI_PREFIX_LEN;
}

bool um_is_oci_opaque(const char *name)
{
	return strcmp(name, UM_OCI_OPAQUE) == 0;
}

char *um_oci_whiteout_name(const char *name)
{
	size_t len = strlen(name);
	char *wh = malloc(UM_OCI_PREFIX_LEN + len + 1);

	if (!wh)
		return NULL;
	memcpy(wh, UM_OCI_PREFIX, UM_OCI_PREFIX_LEN);
	memcpy(wh + UM_OCI_PREFIX_LEN, name, len + 1);
	return wh;
}

bool um_is_chardev_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == UM_WHITEOUT_RDEV;
}

/* Prefixes of private xattrs; the last two are whole names. */
static const char *const private_prefixes[] = {
	"trusted.overlay.",	   "user.overlay.",
	"trusted.unionmount.",	   "user.unionmount.",
	"security.unionmount.",	   "user.fuseoverlayfs.",
	"security.fuseoverlayfs.", UM_OVERRIDE_CONTAINERS,
};

bool um_is_private_xattr(const char *xname)
{
	for (size_t i = 0;
	     i < sizeof(private_prefixes) / sizeof(*private_prefixes); i++)
		if (!strncmp(xname, private_prefixes[i],
			     strlen(private_prefixes[i])))
			return true;
	return false;
}

bool um_is_override_xattr(const char *xname)
{
	return !strcmp(xname, UM_OVERRIDE_CONTAINERS) ||
	       !strcmp(xname, UM_OVERRIDE_FUSEOVERLAYFS);
}
