/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The exclusive lock of a writable mount on its upper layer and work
 * directory, held for the life of the mount (kernel overlayfs' "in use"
 * check).
 */
#ifndef UM_LOCK_H
#define UM_LOCK_H

#include <stddef.h>

#include "options.h"

/* The record of the holder, in the work directory: "PID\nMOUNTPOINT\n". */
#define UM_LOCK_RECORD "unionmount.pid"

struct um_lock {
	int work_fd;  /* O_RDONLY on the work directory, flock()ed, or -1 */
	int upper_fd; /* O_RDONLY on the upper layer, flock()ed, or -1 */
};

/* No lock held. */
void um_lock_init(struct um_lock *lk);

/*
 * Take the locks of a checked cfg (nothing for a read-only union) and
 * write the holder's record.  Call it in the process that serves the
 * mount: the locks go when its last copy of the fds is closed, which is
 * when it dies, however it dies.  Returns 0; -EBUSY when another mount
 * holds them, with one line naming it in err; another -errno with a
 * reason in err.
 */
int um_lock_take(struct um_lock *lk, const struct um_config *cfg, char *err,
		 size_t errlen);

/* Remove the record and let the locks go. */
void um_lock_release(struct um_lock *lk);

#endif
