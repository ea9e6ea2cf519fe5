/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Core structures of unionmount, shared by every module (the role of the
 * kernel's ovl_entry.h).
 *
 * Lock order: an open file's um_file.lock, then an inode->times_lock, then
 * an inode->lock, then fs->table_lock; at most one inode lock is held at a
 * time, and no lock is held across a fuse_reply_*().  Copy-up takes the
 * locks of an inode's ancestors one after the other, top-down, never
 * nested.
 */
#ifndef UNIONMOUNT_H
#define UNIONMOUNT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <xxhash.h>

/* Name and key tables hash with xxHash. */
#define HASH_FUNCTION(keyptr, keylen, hashv)                                   \
	((hashv) = (unsigned)XXH3_64bits((keyptr), (keylen)))
#include <uthash.h>

#include "markers.h"
#include "options.h"

/* One layer of the union.  Index 0 is the upper when there is one. */
struct um_layer {
	int idx;
	int fd;	    /* O_PATH|O_DIRECTORY on the layer root */
	char *path; /* canonical, for messages */
	dev_t dev;
	unsigned fsid; /* index among the distinct st_dev of layers */
	bool upper;
};

/* A merged directory's part in one lower layer. */
struct um_realdir {
	int layer;
	int fd;		 /* O_PATH|O_DIRECTORY */
	bool xwhiteouts; /* overlay.opaque="x": may hold xattr whiteouts */
	/*
	 * Its names, read on the first miss there: lower layers never
	 * change.  Set once (atomic compare-and-swap), freed with the inode.
	 */
	struct um_nameset *names;
};

/*
 * Identity of a real object: the table key of the inode it backs.  The
 * names of a hard-linked lower file are one inode, as in the kernel with
 * index=on (index.h); with index=off, or where the lower file system has
 * no file handles, they are distinct inodes (parent and name hash set)
 * that each copy up on their own.
 */
struct um_key {
	dev_t dev;
	ino_t ino;
	uint64_t parent;
	uint64_t name;
};

struct um_inode {
	/* protected by fs->table_lock */
	struct um_key key;
	uint64_t refs; /* kernel lookups + internal references */
	bool hashed;   /* in the table: lookups may find it */
	UT_hash_handle hh;

	mode_t type; /* S_IFMT bits, immutable */

	/*
	 * Regular files under the writeback cache: held across a page
	 * write-back and the restoring of the mtime it moved, and across a
	 * change of the times, so one never undoes the other (file.c).
	 */
	pthread_mutex_t times_lock;
	pthread_mutex_t lock; /* protects the fields below, except where
			       * a field says otherwise */
	uint64_t ino;	      /* st_ino shown to the kernel; changes only
			       * when a hard-linked lower file is copied up
			       * (a store under lock), never for a
			       * directory, whose number is read without
			       * it; atomic loads under fs->table_lock
			       * (um_inode_cached_ino) */
	int layer;	      /* topmost layer holding the object */
	/*
	 * Directories: O_PATH on the topmost real directory, never closed
	 * while the inode lives.  Non-directories hold no fd (a tree may
	 * have more files than we may open): they are reached through the
	 * parent's directory in their layer and their name, except when
	 * pinned (-1 otherwise): hard links, and objects whose name went
	 * away while the kernel still knows them.  Use um_inode_path().
	 */
	int fd;
	struct um_inode *parent; /* holds a reference; NULL for the root */
	char *name;		 /* one of its names in parent */
	bool unlinked;		 /* its lower object was whited out */
	/*
	 * A lower file with several names that copies up through the index,
	 * or its copy: all its names are this inode, and once in the upper
	 * fd stays pinned on the copy (a name of it may exist only below).
	 */
	bool indexed;
	bool metacopy;	/* in the upper without its data, which is
			 * the lower file of the same name (atomic
			 * reads outside the lock) */
	unsigned nopen; /* open files: keep it reachable on unlink */
	/*
	 * FUSE passthrough (file.c): the kernel lets an inode's open files
	 * either all pass through to one backing file or all use its page
	 * cache, so both kinds are counted; backing_id is the registered
	 * backing file while npassthrough > 0, else 0.
	 */
	unsigned npassthrough, ncached;
	int backing_id;
	bool no_caps; /* known to have no security.capability: the
		       * kernel asks before every write (atomic,
		       * without the lock) */
	/* directories only; lowers never change once the inode exists */
	struct um_realdir *lowers; /* lower parts, topmost first; when the
				    * directory is not in the upper, fd is
				    * lowers[0].fd */
	int nlowers;
	char *redirect;		    /* the upper's redirect xattr (read at
				     * lookup or written by a rename), or NULL:
				     * the next rename writes what the kernel
				     * would */
	uint64_t dir_version;	    /* bumped by every change of its entries;
				     * atomic */
	struct um_listing *listing; /* cached merged listing, or NULL */
};

/*
 * Snapshot of where an inode lives now (fd: directories only, which keep
 * it while the inode lives).  Here, not in inode.h, because lookup, which
 * inode.c builds on, needs it too.
 */
struct um_real {
	int layer;
	int fd;
};

static inline struct um_real um_inode_real(struct um_inode *inode)
{
	struct um_real r;

	pthread_mutex_lock(&inode->lock);
	r.layer = inode->layer;
	r.fd = inode->fd;
	pthread_mutex_unlock(&inode->lock);
	return r;
}

struct um_fs {
	struct um_config *cfg;
	struct um_layer *layers;
	int nlayers;
	struct um_layer *upper; /* NULL for a read-only union */
	int workfd;		/* O_PATH on the work directory, or -1 */
	int indexfd;		/* O_PATH on the hard-link index (index.h),
				 * or -1: index=off or no upper */
	unsigned fsid_bits;	/* high st_ino bits that carry the fsid */
	bool can_mknod;		/* char 0:0 whiteouts can be made in upper */
	bool can_chown;		/* we may give files to other owners */
	const char *override_xattr; /* owner/mode/type overrides (see
				     * override.h) are read from it, or NULL */
	bool override_always;	    /* xattr_permissions=: owner and mode go to
				     * the override, never to the real object */
	enum um_xattr_ns xattr_ns;  /* the namespace of the markers we write */
	enum um_whiteout_mode whiteout;
	double timeout;
	bool fsync; /* fsync copy-ups before they become visible */
	bool redirect_follow_read; /* redirects in layers are followed */
	bool redirect_create;	   /* directory renames write redirects (else
				    * those with lower parts fail EXDEV) */
	bool writeback;		   /* the kernel caches writes (it may read
				    * pages of a file opened write-only) */
	bool no_opendir;     /* the kernel may read directories unopened */
	bool passthrough;    /* open files may pass through to the real
			      * file (FUSE passthrough, root only) */
	atomic_ulong tmpseq; /* names of temporary files in workdir */

	pthread_mutex_t table_lock;
	struct um_inode *table; /* by key; protected by table_lock */
	struct um_inode *root;

	/*
	 * Tell the kernel an inode's attributes (and, with data, its cached
	 * contents or listing) changed behind its back.  Set by ops.c.
	 */
	void (*notify)(struct um_fs *fs, struct um_inode *inode, bool data);
	void *session; /* the FUSE session, for notify */
};

#endif
