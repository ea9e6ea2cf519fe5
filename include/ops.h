/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The fuse_lowlevel_ops table. */
#ifndef UM_OPS_H
#define UM_OPS_H

#include <fuse_lowlevel.h>

extern const struct fuse_lowlevel_ops um_ops;

#endif
