/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Open files: the real fd behind a FUSE file handle. */
#ifndef UM_FILE_H
#define UM_FILE_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "unionmount.h"

struct um_file {
	struct um_inode *inode; /* kept alive by the kernel while open */
	int flags;		/* real open flags */
	pthread_mutex_t lock;	/* protects the fields below */
	int fd;
	int oldfd;	/* the lower fd replaced after copy-up */
	bool upper;	/* fd is on the upper object */
	int backing_id; /* reads and writes pass through to this
			 * backing file (immutable), or 0 */
};

/* Real open flags for flags the kernel passed. */
int um_file_flags(int flags);
/* The same, and read-write where the writeback cache may read. */
int um_file_real_flags(struct um_fs *fs, int flags);
/* Open inode, copying it up first when it will change.  0 or -errno. */
int um_file_open(struct um_fs *fs, struct um_inode *inode, int flags,
		 struct um_file **out);
/* Wrap an fd just created in the upper. */
struct um_file *um_file_wrap(struct um_inode *inode, int fd, int flags);
/*
 * The fd to use now.  A file opened read-only before a copy-up follows the
 * object to the upper, as in the kernel, so readers see later writes.
 */
int um_file_fd(struct um_fs *fs, struct um_file *f);
void um_file_release(struct um_file *f);

/*
 * Around a write-back of cached pages into fd (FUSE_WRITE_CACHE): the
 * kernel keeps the mtime of the file itself and stores it with a SETATTR
 * that need not come after the data (the flusher and sync(2) do not wait
 * for the pages), so the write must leave the stored mtime as it was.
 * begin: 0 with the times lock held and *mtime saved, or -errno (not
 * held); end: puts the mtime back and drops the lock, 0 or -errno.
 */
int um_file_cached_write_begin(struct um_file *f, int fd,
			       struct timespec *mtime);
int um_file_cached_write_end(struct um_file *f, int fd,
			     const struct timespec *mtime);

/*
 * Passthrough.  After opening, decide how the kernel does f's reads and
 * writes: straight on a backing file (returns its id, > 0) or through us
 * and its page cache (returns 0).  register_fd(ctx, fd) registers a
 * backing file with the kernel and returns its id, or 0 if refused.
 */
int um_file_io_open(struct um_fs *fs, struct um_file *f,
		    int (*register_fd)(void *ctx, int fd), void *ctx);
/*
 * An open with O_TRUNC by a writer without CAP_FSETID (KILLPRIV_V2):
 * clear set-ID bits and capabilities as the layer's file system does for
 * such a writer.  0 or -errno.
 */
int um_file_kill_priv(struct um_file *f);
/* Undo um_file_io_open() at release: the backing id to unregister, or 0. */
int um_file_io_release(struct um_file *f);

#endif
