/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Checks between the layers named on the command line, done before anything
 * is mounted.  Resolves every path to an absolute canonical one.
 */
#ifndef UM_CHECK_H
#define UM_CHECK_H

#include <stddef.h>
#include <sys/types.h>

#include "options.h"

/*
 * Validate cfg and canonicalise its paths (realpath) in place.  Fills in
 * cfg->work when it is NULL and an upper is given (default: the directory
 * ".<basename of upper>.unionmount-work" beside the upper, created 0700 if
 * missing; it must be on the upper's file system).  Returns 0, or -1 with a
 * one-line reason in err.  Refuses: a missing or non-directory layer, an
 * upper or workdir inside a lower (or a lower inside the upper), upper and
 * workdir nested in each other, the mountpoint inside a layer or the
 * workdir, the same directory twice, more than UM_MAX_LOWERS lowers, an
 * empty layer list, a workdir on another file system than the upper.
 */
int um_config_check(struct um_config *cfg, char *err, size_t errlen);

/* Where FUSE keeps user_allow_other. */
#define UM_FUSE_CONF "/etc/fuse.conf"

/*
 * Decide who may use the mount, for a daemon running with effective user
 * id euid.  As root, every user (cfg->allow_other set, as kernel overlayfs
 * serves everybody) unless owner_only or allow_root restrict it, or
 * no_default_permissions would let every user act as root.  As another
 * user, FUSE's rule: allow_other only where fuse_conf holds
 * user_allow_other.  Returns 0, or -1 with a one-line reason in err.
 */
int um_config_access(struct um_config *cfg, uid_t euid, const char *fuse_conf,
		     char *err, size_t errlen);

#endif
