/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Running a real-file call of this thread without CAP_FSETID, so that the
 * layer's file system clears set-user-ID, set-group-ID and capabilities
 * as it would for an unprivileged writer (KILLPRIV_V2: the kernel leaves
 * that to us).  Capabilities are per thread: other workers keep theirs.
 */
#ifndef UM_CAPS_H
#define UM_CAPS_H

#include <stdbool.h>
#include <stdint.h>

struct um_fsetid {
	bool dropped;	       /* restore on um_fsetid_restore() */
	uint32_t effective[2]; /* the effective set before */
};

/* Drop CAP_FSETID from this thread's effective set.  0 or -errno. */
int um_fsetid_drop(struct um_fsetid *saved);
/* Give it back if um_fsetid_drop() took it. */
void um_fsetid_restore(struct um_fsetid *saved);

#endif
