// SPDX-License-Identifier: GPL-2.0-or-later
#include <string.h>

#include "whiteout.h"

const char *um_oci_whiteout_target(const char *name)
{
	if (strncmp(name, UM_OCI_PREFIX, 4) != 0 || name[4] == '\0')
		return NULL;
	if (um_is_oci_opaque(name))
		return NULL;
	return name + 4;
}

bool um_is_oci_opaque(const char *name)
{
	return strcmp(name, UM_OCI_OPAQUE) == 0;
}

static const char *const private_prefixes[] = {
	"trusted.overlay.",
	"user.overlay.",
	"trusted.unionmount.",
	"user.unionmount.",
	"security.unionmount.",
	"user.fuseoverlayfs.",
	"security.fuseoverlayfs.",
	"user.containers.override_stat",
};

bool um_is_private_xattr(const char *xname)
{
	for (size_t i = 0; i < sizeof(private_prefixes) / sizeof(*private_prefixes); i++)
		if (!strncmp(xname, private_prefixes[i], strlen(private_prefixes[i])))
			return true;
	return false;
}

bool um_is_override_xattr(const char *xname)
{
	return !strcmp(xname, "user.containers.override_stat") ||
	       !strcmp(xname, "security.fuseoverlayfs.override_stat");
}
