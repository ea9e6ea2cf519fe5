/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The mounted union: open layers, feature probes, the root inode. */
#ifndef UM_FS_H
#define UM_FS_H

#include <stddef.h>

#include "unionmount.h"

/*
 * Open the layers of a checked cfg and probe what the upper allows.
 * Returns 0, or -1 with a one-line reason in err.
 */
int um_fs_init(struct um_fs *fs, struct um_config *cfg, char *err,
	       size_t errlen);
void um_fs_release(struct um_fs *fs);

#endif
