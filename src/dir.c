// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Namespace changes.  Everything happens in the upper: the parent is copied
 * up first, a name that exists below is hidden with a whiteout, and a
 * directory made where a whiteout was becomes opaque so the deleted lower
 * directory does not merge back into it.  Where a step must be atomic the
 * object is built in the work directory and renamed in.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attr.h"
#include "copyup.h"
#include "dir.h"
#include "file.h"
#include "ino.h"
#include "inode.h"
#include "lookup.h"
#include "markers.h"
#include "override.h"
#include "readdir.h"
#include "util.h"
#include "whiteout.h"

static int check_new_name(const char *name)
{
	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	/* Such a name would read back as a whiteout: refuse, never lose it. */
	if (um_is_oci_reserved(name))
		return -EINVAL;
	return 0;
}

static bool chardev_whiteout_at(int dfd, const char *name)
{
	struct stat st;

	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       um_is_chardev_whiteout(&st);
}

/*
 * The new object dfd/name belongs to uid:gid.  We made it, so it is ours
 * already unless someone else asked; where we may not give it away (or
 * xattr_permissions= says so) an override records the owner, and the
 * type of a device that a regular file stands in for.
 */
static int give_owner(struct um_fs *fs, int dfd, const char *name,
		      const struct um_new *how, uid_t uid, gid_t gid,
		      bool emulated)
{
	mode_t type = how->mode & S_IFMT;
	struct um_override ov = {
		.uid = uid,
		.gid = gid,
		.rdev = how->rdev,
		.mode = type == S_IFLNK ? S_IFLNK | 0777 : how->mode,
	};
	int r = 0;

	if (!emulated && !fs->override_always) {
		if (uid == geteuid() && gid == getegid())
			return 0;
		if (fs->can_chown &&
		    fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) == 0)
			return 0;
		r = fs->can_chown ? -errno : -EPERM;
		if (!um_override_refused(fs, r))
			return fs->can_chown ? r : 0;
	}
	/* user.* xattrs are not allowed on symlinks: it stays ours. */
	r = um_override_set(fs, dfd, name, &ov);
	return r < 0 && type == S_IFLNK ? 0 : r;
}

/* Make the object in dfd/name.  For a regular file, returns its open fd. */
static int make_object(struct um_fs *fs, int dfd, const char *name,
		       struct um_new *how, const struct um_cred *cred,
		       gid_t gid)
{
	mode_t type = how->mode & S_IFMT;
	bool emulated = false;
	int fd = 0, r;

	if (how->link) {
		struct um_path p;
		pthread_mutex_lock(&how->link->lock);
		r = um_inode_locate_locked(how->link, &p);
		if (r == 0)
			r = um_path_link(&p, dfd, name);
		pthread_mutex_unlock(&how->link->lock);
		return r;
	}
	switch (type) {
	case S_IFDIR:
		if (mkdirat(dfd, name, how->mode & 07777) < 0)
			return -errno;
		break;
	case S_IFLNK:
		if (symlinkat(how->target, dfd, name) < 0)
			return -errno;
		break;
	case S_IFREG:
		if (how->open_flags >= 0) {
			int flags = um_file_real_flags(fs, how->open_flags);
			fd = openat(dfd, name,
				    flags | O_CREAT | O_EXCL | O_NOFOLLOW |
					    O_CLOEXEC,
				    how->mode & 07777);
			if (fd < 0)
				return -errno;
			break;
		}
		/* fall through */
	default:
		if (mknodat(dfd, name, how->mode, how->rdev) == 0)
			break;
		/* A device we may not make: a file stands in for it. */
		if ((type != S_IFCHR && type != S_IFBLK) ||
		    !um_override_refused(fs, -errno))
			return -errno;
		fd = openat(dfd, name,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				    O_CLOEXEC,
			    0600);
		if (fd < 0)
			return -errno;
		close(fd);
		fd = 0;
		emulated = true;
		break;
	}
	r = give_owner(fs, dfd, name, how, cred->uid, gid, emulated);
	if (r < 0) {
		if (fd > 0)
			close(fd);
		unlinkat(dfd, name, type == S_IFDIR ? AT_REMOVEDIR : 0);
		return r;
	}
	/* chown drops set-id bits; a directory keeps its inherited S_ISGID. */
	if (type == S_IFDIR && (how->mode & S_ISGID) && fs->can_chown)
		fchmodat(dfd, name, how->mode & 07777, 0);
	return fd;
}

/*
 * The inode of an object just made in the upper: it has no lower parts
 * (a name absent below, or hidden by a whiteout that now makes it
 * opaque) and no origin, so no lookup through the layers is needed.
 */
static int new_inode(struct um_fs *fs, struct um_inode *dir, int udfd,
		     const char *name, struct um_inode **out)
{
	struct um_lookup lk = {.layer = 0, .fd = -1};

	if (fstatat(udfd, name, &lk.st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISDIR(lk.st.st_mode)) {
		lk.fd = openat(udfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (lk.fd < 0)
			return -errno;
	}
	lk.ino = um_ino_map(fs->upper->fsid, fs->fsid_bits, lk.st.st_ino);
	*out = um_inode_get(fs, &lk, dir, name);
	if (!*out)
		return -ENOMEM;
	/* New: no file capability, which the kernel asks about per write. */
	__atomic_store_n(&(*out)->no_caps, true, __ATOMIC_RELAXED);
	return 0;
}

static bool is_indexed(struct um_inode *inode)
{
	bool r;

	pthread_mutex_lock(&inode->lock);
	r = inode->indexed;
	pthread_mutex_unlock(&inode->lock);
	return r;
}

int um_dir_create(struct um_fs *fs, struct um_inode *dir, const char *name,
		  struct um_new *how, const struct um_cred *cred,
		  struct um_inode **out)
{
	bool isdir = S_ISDIR(how->mode) && !how->link;
	struct stat pst;
	gid_t gid = cred->gid;
	char tmp[UM_TMPNAME_MAX];
	int udfd, fd, r;

	how->fd = -1;
	r = check_new_name(name);
	if (r < 0)
		return r;
	/* A device 0:0 would read back as a whiteout, as in the kernel. */
	if (S_ISCHR(how->mode) && !how->link && how->rdev == UM_WHITEOUT_RDEV)
		return -EPERM;
	if (!fs->upper)
		return -EROFS;
	/*
	 * No lookup for EEXIST: the kernel asks only for names its own
	 * lookup found absent, and an upper object fails the create itself.
	 */
	/* A new name for a lower file: the link is made to its copy. */
	if (how->link && (r = um_copyup(fs, how->link, 0)) < 0)
		return r;
	if (how->link && is_indexed(how->link) &&
	    (r = um_copyup_nlink_start(fs, how->link)) < 0)
		return r;
	r = um_copyup_dir(fs, dir, &udfd);
	if (r < 0)
		return r;

	/* BSD group semantics in a set-group-ID directory, as the kernel. */
	if (fstat(udfd, &pst) == 0 && (pst.st_mode & S_ISGID)) {
		gid = pst.st_gid;
		if (isdir)
			how->mode |= S_ISGID;
	}

	if (chardev_whiteout_at(udfd, name)) {
		um_tmpname(fs, tmp);
		fd = make_object(fs, fs->workfd, tmp, how, cred, gid);
		if (fd < 0)
			return fd;
		if (isdir && (r = um_set_opaque(fs, fs->workfd, tmp)) < 0)
			goto out_tmp;
		if (isdir) {
			/* A directory cannot replace a file: swap, then drop.
			 */
			if (renameat2(fs->workfd, tmp, udfd, name,
				      RENAME_EXCHANGE) < 0) {
				r = -errno;
				goto out_tmp;
			}
			unlinkat(fs->workfd, tmp, 0);
		} else if (renameat(fs->workfd, tmp, udfd, name) < 0) {
			r = -errno;
			goto out_tmp;
		}
	} else {
		bool oci = um_has_oci_whiteout(udfd, name);
		fd = make_object(fs, udfd, name, how, cred, gid);
		if (fd < 0)
			return fd;
		/*
		 * The new object takes over from the marker: a directory
		 * hides what the marker hid (opaque), then the marker goes.
		 * If either fails, so does the create, and the object goes
		 * again, as in the kernel: the lower directory must not
		 * merge back unnoticed.
		 */
		r = oci && isdir ? um_set_opaque(fs, udfd, name) : 0;
		if (oci && r == 0)
			r = um_oci_whiteout_remove(udfd, name);
		if (r < 0) {
			if (fd > 0)
				close(fd);
			um_rmtree_at(udfd, name);
			return r;
		}
	}
	if (fd > 0)
		how->fd = fd;
	um_readdir_changed(dir);

	r = how->link ? um_lookup_inode(fs, dir, name, out)
		      : new_inode(fs, dir, udfd, name, out);
	if (r < 0 && how->fd >= 0) {
		close(how->fd);
		how->fd = -1;
	}
	return r;

out_tmp:
	if (fd > 0)
		close(fd);
	um_rmtree_at(fs->workfd, tmp);
	return r;
}

/*
 * Removing a name of an indexed hard link (um_inode.indexed) happens in
 * the upper, as in the kernel: the name is linked up to the copy first,
 * so the upper's link count drops with the union's.  Returns the union's
 * count before, 0 for other objects, or -errno.
 */
static long index_unlink_start(struct um_fs *fs, struct um_inode *inode,
			       struct um_inode *dir, const char *name)
{
	int r;

	if (!is_indexed(inode))
		return 0;
	r = um_copyup_name(fs, inode, dir, name);
	return r < 0 ? r : um_copyup_nlink_start(fs, inode);
}

/* Its last name went (the count was 1): so goes its index entry. */
static void index_unlink_end(struct um_fs *fs, struct um_inode *inode,
			     long nlink)
{
	if (nlink != 1)
		return;
	um_copyup_index_drop(fs, inode);
	um_inode_unhash(fs, inode);
}

/*
 * Is this the object's last name, with no pinned fd to keep it?  Then its
 * removal frees the real inode, whose number the file system may reuse.
 */
static bool last_name(struct um_inode *inode)
{
	struct um_path p;
	struct stat st;
	bool last = false;

	pthread_mutex_lock(&inode->lock);
	if (inode->fd < 0 && um_inode_locate_locked(inode, &p) == 0 &&
	    um_path_stat(&p, &st) == 0)
		last = st.st_nlink <= 1;
	pthread_mutex_unlock(&inode->lock);
	return last;
}

int um_dir_unlink(struct um_fs *fs, struct um_inode *dir, const char *name)
{
	struct um_inode *child;
	struct um_real real;
	long nlink;
	bool last;
	int udfd, r;

	r = um_lookup_inode(fs, dir, name, &child);
	if (r < 0)
		return r;
	if (S_ISDIR(child->type)) {
		r = -EISDIR;
		goto out;
	}
	r = um_copyup_dir(fs, dir, &udfd);
	if (r < 0)
		goto out;
	nlink = index_unlink_start(fs, child, dir, name);
	if (nlink < 0) {
		r = nlink;
		goto out;
	}
	/* It may still be open: keep it reachable once the name is gone. */
	um_inode_pin(child);
	real = um_inode_real(child);
	/*
	 * Out of the table before the name goes: the moment it is gone the
	 * file system may give its inode number to a new object, which a
	 * concurrent create must not take for this one.
	 */
	last = last_name(child);
	if (last)
		um_inode_unhash(fs, child);
	if (real.layer == 0 && !um_lower_has(fs, dir, name))
		r = unlinkat(udfd, name, 0) < 0 ? -errno : 0;
	else
		r = um_whiteout_create(fs, udfd, name);
	if (r == 0)
		um_readdir_changed(dir);
	if (r == 0 && real.layer != 0)
		um_inode_mark_unlinked(child);
	if (r == 0)
		index_unlink_end(fs, child, nlink);
	if (r < 0 && last)
		um_inode_rehash(fs, child);
out:
	um_inode_unref(fs, child, 1);
	return r;
}

/* Remove the upper directory udfd/name whose merged view is empty. */
static int remove_upper_dir(struct um_fs *fs, int udfd, const char *name,
			    bool whiteout)
{
	char tmp[UM_TMPNAME_MAX];
	int r;

	um_tmpname(fs, tmp);
	if (whiteout && fs->whiteout != UM_WHITEOUT_OCI && fs->can_mknod) {
		/* Swap a whiteout in for the directory in one step. */
		if (mknodat(fs->workfd, tmp, S_IFCHR, UM_WHITEOUT_RDEV) < 0)
			return -errno;
		if (renameat2(fs->workfd, tmp, udfd, name, RENAME_EXCHANGE) <
		    0) {
			r = -errno;
			unlinkat(fs->workfd, tmp, 0);
			return r;
		}
		return um_rmtree_at(fs->workfd, tmp);
	}
	if (whiteout) {
		/* The OCI marker first: until the move, the dir still wins. */
		r = um_whiteout_create_oci(fs, udfd, name);
		if (r < 0)
			return r;
	}
	if (renameat(udfd, name, fs->workfd, tmp) < 0)
		return -errno;
	return um_rmtree_at(fs->workfd, tmp);
}

int um_dir_rmdir(struct um_fs *fs, struct um_inode *dir, const char *name)
{
	struct um_inode *child;
	struct um_real real;
	int udfd, r;

	r = um_lookup_inode(fs, dir, name, &child);
	if (r < 0)
		return r;
	if (!S_ISDIR(child->type)) {
		r = -ENOTDIR;
		goto out;
	}
	if (!fs->upper) {
		r = -EROFS;
		goto out;
	}
	r = um_readdir_is_empty(fs, child);
	if (r <= 0) {
		r = r < 0 ? r : -ENOTEMPTY;
		goto out;
	}
	r = um_copyup_dir(fs, dir, &udfd);
	if (r < 0)
		goto out;
	real = um_inode_real(child);
	if (real.layer == 0)
		r = remove_upper_dir(fs, udfd, name,
				     um_lower_has(fs, dir, name));
	else
		r = um_whiteout_create(fs, udfd, name);
	if (r == 0) {
		um_readdir_changed(dir);
		um_inode_mark_unlinked(child);
	}
out:
	um_inode_unref(fs, child, 1);
	return r;
}

/* Empty the upper part of a directory whose merged view is empty. */
static int clear_markers(struct um_inode *d)
{
	struct um_real real = um_inode_real(d);
	int fd;
	DIR *dp;
	struct dirent *de;
	int r = 0;

	if (real.layer != 0)
		return 0;
	fd = um_reopen(real.fd, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -errno;
	dp = fdopendir(fd);
	if (!dp) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(dp))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = um_rmtree_at(dirfd(dp), de->d_name);
		if (r < 0)
			break;
	}
	closedir(dp);
	return r;
}

/*
 * The path of directory d below the layer roots, as the layer under the
 * upper sees it (the kernel's ovl_get_redirect()): each ancestor stands
 * for its redirect if it has one, else for its name, up to the root or to
 * an absolute redirect.  Longer than UM_REDIRECT_MAX: -EXDEV, the kernel's
 * limit, so mv(1) copies.
 */
static int redirect_path(struct um_fs *fs, struct um_inode *d, char **out)
{
	size_t pos = UM_REDIRECT_MAX;
	struct um_inode *cur = d, *parent;
	char *buf = malloc(UM_REDIRECT_MAX + 1);
	int r = 0;

	if (!buf)
		return -ENOMEM;
	buf[pos] = '\0';
	um_inode_ref(fs, cur);
	while (cur != fs->root) {
		const char *piece;
		size_t len;

		pthread_mutex_lock(&cur->lock);
		piece = cur->redirect ? cur->redirect : cur->name;
		len = strlen(piece);
		parent = cur->parent;
		if (!parent || len + (piece[0] != '/') > pos) {
			pthread_mutex_unlock(&cur->lock);
			r = -EXDEV;
			break;
		}
		pos -= len;
		memcpy(buf + pos, piece, len);
		/* Lock order: inode, then table. */
		um_inode_ref(fs, parent);
		pthread_mutex_unlock(&cur->lock);
		um_inode_unref(fs, cur, 1);
		cur = parent;
		if (buf[pos] == '/')
			break;
		buf[--pos] = '/';
	}
	um_inode_unref(fs, cur, 1);
	if (r == 0) {
		memmove(buf, buf + pos, UM_REDIRECT_MAX + 1 - pos);
		*out = buf;
	} else {
		free(buf);
	}
	return r;
}

/*
 * Record where the lower parts of directory d (now at udfd/name, about to
 * move) are, exactly as the kernel's ovl_set_redirect(), so either can
 * read the layers of the other: a redirect d has stays if it is absolute
 * or d stays in its parent; else a move within the parent stores d's
 * current name, any other move the absolute path.
 */
static int set_redirect(struct um_fs *fs, struct um_inode *d, bool samedir,
			int udfd, const char *name)
{
	char *val = NULL, *old;
	const char *xn = um_marker_name(UM_MARK_REDIRECT, fs->xattr_ns);
	bool keep;
	int r;

	pthread_mutex_lock(&d->lock);
	keep = d->redirect && (samedir || d->redirect[0] == '/');
	pthread_mutex_unlock(&d->lock);
	if (keep)
		return 0;
	if (samedir) {
		val = strdup(name);
		r = val ? 0 : -ENOMEM;
	} else {
		r = redirect_path(fs, d, &val);
	}
	if (r < 0)
		return r;
	r = um_setxattr_at(udfd, name, xn, val, strlen(val), 0);
	if (r < 0) {
		free(val);
		/* Not stored (too long, no xattrs): mv(1) copies instead. */
		return -EXDEV;
	}
	pthread_mutex_lock(&d->lock);
	old = d->redirect;
	d->redirect = val;
	pthread_mutex_unlock(&d->lock);
	free(old);
	return 0;
}

/*
 * The real rename of um_dir_rename() with the whiteout it leaves behind
 * and the OCI marker it replaces, as one step: it either happens whole
 * or, where a later part fails, is undone as far as the disk allows
 * (the kernel, too, fails the operation and tries to undo).
 */
struct rename_wh {
	struct um_fs *fs;
	int oudfd, nudfd;
	const char *oldname, *newname;
	struct um_inode *dst; /* the target replaced, if any */
	unsigned int rflags;  /* RENAME_EXCHANGE when asked */
	bool old;	      /* oldname must become a whiteout */
	bool new_chr;	      /* newname was a char device whiteout */
	bool new_oci;	      /* newname has an OCI marker to remove */
	int err;	      /* why it was undone */
};

/* rename_whiteout(): a later part failed (w->err), and then: */
#define RENAME_UNDONE 1 /* all was undone */
#define RENAME_STANDS 2 /* the rename could not be undone */

/*
 * Move the renamed object back.  0 if the disk is as before the rename
 * (a leftover whiteout at a name that was hidden anyway aside), -errno
 * if not.
 */
static int undo_rename(struct rename_wh *w, bool old_is_wh, const char *whtmp)
{
	struct um_fs *fs = w->fs;

	if (um_fault(UM_FAULT_UNDO))
		return -EIO;
	if (old_is_wh) {
		/* The whiteout goes where the object was: newname, hidden. */
		if (renameat2(w->nudfd, w->newname, w->oudfd, w->oldname,
			      RENAME_EXCHANGE) < 0)
			return -errno;
		if (!w->new_chr)
			unlinkat(w->nudfd, w->newname, 0);
		return 0;
	}
	if (w->dst || (w->new_chr && !whtmp))
		return -ENOTEMPTY; /* what it replaced is gone */
	if (renameat2(w->nudfd, w->newname, w->oudfd, w->oldname,
		      RENAME_NOREPLACE) < 0)
		return -errno;
	/* The whiteout it replaced comes back, made in advance. */
	if (w->new_chr && renameat2(fs->workfd, whtmp, w->nudfd, w->newname,
				    RENAME_NOREPLACE) < 0)
		return -errno;
	return 0;
}

/*
 * 0: done; -errno: the rename failed and nothing changed; RENAME_UNDONE
 * or RENAME_STANDS: a later part failed (w->err) and the rename was
 * undone, or could not be.
 */
static int rename_whiteout(struct rename_wh *w)
{
	struct um_fs *fs = w->fs;
	bool chr = w->old && fs->whiteout != UM_WHITEOUT_OCI && fs->can_mknod;
	bool oci_old = false, late = false, old_is_wh = false;
	unsigned int rflags = w->rflags;
	char whtmp[UM_TMPNAME_MAX];
	int r;

	/*
	 * An OCI marker hides the lower oldname only once the object is
	 * gone from the upper (it never hides a name of its own layer):
	 * made first, a failure leaves nothing to undo.
	 */
	if (w->old && !chr) {
		r = um_whiteout_create_oci(fs, w->oudfd, w->oldname);
		if (r < 0)
			return r;
		oci_old = true;
	}
	if (chr && !um_fault(UM_FAULT_RENAME_WHITEOUT)) {
		r = renameat2(w->oudfd, w->oldname, w->nudfd, w->newname,
			      rflags | RENAME_WHITEOUT);
		if (r == 0)
			old_is_wh = true;
		else if (errno != EINVAL)
			return -errno;
	}
	if (chr && !old_is_wh) {
		/*
		 * No RENAME_WHITEOUT in the upper: the whiteout is made now
		 * in the work directory and moved in after the rename.
		 */
		um_tmpname(fs, whtmp);
		if (mknodat(fs->workfd, whtmp, S_IFCHR, UM_WHITEOUT_RDEV) < 0)
			return -errno;
		late = true;
	}
	if (!old_is_wh &&
	    renameat2(w->oudfd, w->oldname, w->nudfd, w->newname, rflags) < 0) {
		r = -errno;
		if (late)
			unlinkat(fs->workfd, whtmp, 0);
		if (oci_old)
			um_oci_whiteout_remove(w->oudfd, w->oldname);
		return r;
	}

	r = 0;
	if (late) {
		r = um_fault(UM_FAULT_LATE_WHITEOUT) ? -EIO : 0;
		if (r == 0 && renameat2(fs->workfd, whtmp, w->oudfd, w->oldname,
					RENAME_NOREPLACE) < 0)
			r = -errno;
		if (r == 0) {
			late = false;
			old_is_wh = true;
		}
	}
	if (r == 0 && w->new_oci) {
		r = um_oci_whiteout_remove(w->nudfd, w->newname);
		r = r < 0 ? r : 0;
	}
	if (r == 0)
		return 0;

	w->err = r;
	if (undo_rename(w, old_is_wh, late ? whtmp : NULL) == 0) {
		if (late)
			unlinkat(fs->workfd, whtmp, 0);
		if (oci_old)
			um_oci_whiteout_remove(w->oudfd, w->oldname);
		return RENAME_UNDONE;
	}
	/*
	 * It stands.  A whiteout still missing may yet be made as an OCI
	 * marker; an OCI marker left beside newname hides nothing there.
	 */
	if (late) {
		unlinkat(fs->workfd, whtmp, 0);
		if (um_whiteout_create_oci(fs, w->oudfd, w->oldname) < 0)
			return RENAME_STANDS;
	}
	return 0;
}

int um_dir_rename(struct um_fs *fs, struct um_inode *olddir,
		  const char *oldname, struct um_inode *newdir,
		  const char *newname, unsigned int flags)
{
	struct um_inode *src = NULL, *dst = NULL;
	struct rename_wh wh = {.fs = fs};
	bool exchange = flags & RENAME_EXCHANGE;
	bool dst_last = false, new_wh_gone = false;
	char *src_name = NULL, *dst_name = NULL;
	long dst_nlink = 0;
	int oudfd, nudfd, r;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	r = check_new_name(newname);
	if (r < 0)
		return r;
	r = um_lookup_inode(fs, olddir, oldname, &src);
	if (r < 0)
		return r;
	r = um_lookup_inode(fs, newdir, newname, &dst);
	if (r < 0 && r != -ENOENT)
		goto out;
	r = 0;
	if (!fs->upper)
		r = -EROFS;
	else if (exchange && !dst)
		r = -ENOENT;
	else if ((flags & RENAME_NOREPLACE) && dst)
		r = -EEXIST;
	if (r < 0 || dst == src)
		goto out;
	if (dst && !exchange) {
		if (S_ISDIR(src->type) && !S_ISDIR(dst->type))
			r = -ENOTDIR;
		else if (!S_ISDIR(src->type) && S_ISDIR(dst->type))
			r = -EISDIR;
		if (r < 0)
			goto out;
	}
	/*
	 * Without redirects a directory cannot take its lower parts along:
	 * EXDEV, so mv(1) copies the tree (the kernel's ovl_can_move()).
	 */
	if (!fs->redirect_create &&
	    ((S_ISDIR(src->type) && src->nlowers) ||
	     (exchange && S_ISDIR(dst->type) && dst->nlowers))) {
		r = -EXDEV;
		goto out;
	}
	if (dst && !exchange && S_ISDIR(dst->type) &&
	    um_readdir_is_empty(fs, dst) <= 0) {
		r = -ENOTEMPTY;
		goto out;
	}

	if ((r = um_copyup_dir(fs, olddir, &oudfd)) < 0 ||
	    (r = um_copyup_dir(fs, newdir, &nudfd)) < 0 ||
	    (r = um_copyup_name(fs, src, olddir, oldname)) < 0 ||
	    (exchange && (r = um_copyup_name(fs, dst, newdir, newname)) < 0))
		goto out;
	if (dst && !exchange && !S_ISDIR(dst->type)) {
		dst_nlink = index_unlink_start(fs, dst, newdir, newname);
		if (dst_nlink < 0) {
			r = dst_nlink;
			goto out;
		}
	}

	/* A directory with lower parts takes them along: redirect. */
	if (S_ISDIR(src->type) && src->nlowers &&
	    (r = set_redirect(fs, src, olddir == newdir, oudfd, oldname)) < 0)
		goto out;
	if (exchange && S_ISDIR(dst->type) && dst->nlowers &&
	    (r = set_redirect(fs, dst, olddir == newdir, nudfd, newname)) < 0)
		goto out;
	/* An upper-only directory landing on lower content hides it. */
	if (S_ISDIR(src->type) && !src->nlowers &&
	    um_lower_has(fs, newdir, newname) &&
	    (r = um_set_opaque(fs, oudfd, oldname)) < 0)
		goto out;
	if (exchange && S_ISDIR(dst->type) && !dst->nlowers &&
	    um_lower_has(fs, olddir, oldname) &&
	    (r = um_set_opaque(fs, nudfd, newname)) < 0)
		goto out;

	/* Nothing may fail once the rename is done: the new names first. */
	src_name = um_fault(UM_FAULT_NAME) ? NULL : strdup(newname);
	dst_name = exchange ? strdup(oldname) : NULL;
	if (!src_name || (exchange && !dst_name)) {
		r = -ENOMEM;
		goto out;
	}

	wh.oudfd = oudfd;
	wh.oldname = oldname;
	wh.nudfd = nudfd;
	wh.newname = newname;
	wh.old = !exchange && um_lower_has(fs, olddir, oldname);
	wh.dst = dst;
	if (exchange) {
		wh.rflags = RENAME_EXCHANGE;
	} else if (dst) {
		if (S_ISDIR(dst->type) && (r = clear_markers(dst)) < 0)
			goto out;
		um_inode_pin(dst);
		/* Out of the table before its number can be reused. */
		if (!S_ISDIR(dst->type) && last_name(dst)) {
			dst_last = true;
			um_inode_unhash(fs, dst);
		}
	} else if (chardev_whiteout_at(nudfd, newname)) {
		wh.new_chr = true;
		/* A directory cannot replace it: it goes first. */
		if (S_ISDIR(src->type) && unlinkat(nudfd, newname, 0) < 0) {
			r = -errno;
			goto out;
		}
		new_wh_gone = S_ISDIR(src->type);
	} else {
		wh.new_oci = um_has_oci_whiteout(nudfd, newname);
	}

	r = rename_whiteout(&wh);
	if (r < 0 || r == RENAME_UNDONE) {
		r = r < 0 ? r : wh.err;
		if (dst_last)
			um_inode_rehash(fs, dst);
		/*
		 * Put back the whiteout the directory was to replace; if
		 * even that fails, the lower newname shows again: say so.
		 */
		if (new_wh_gone) {
			int e = um_whiteout_create(fs, nudfd, newname);
			if (e < 0)
				fprintf(stderr,
					"unionmount: rename: cannot restore "
					"the whiteout of %s: %s\n",
					newname, strerror(-e));
		}
		goto out;
	}
	r = r == RENAME_STANDS ? wh.err : 0;
	um_readdir_changed(olddir);
	um_readdir_changed(newdir);
	/* A moved directory's ".." is another one now. */
	if (S_ISDIR(src->type))
		um_readdir_changed(src);
	if (exchange && S_ISDIR(dst->type))
		um_readdir_changed(dst);
	/* Done (r 0), or done and not undone (r < 0): names follow the disk. */
	um_inode_move(fs, src, newdir, src_name);
	src_name = NULL;
	if (exchange) {
		um_inode_move(fs, dst, olddir, dst_name);
		dst_name = NULL;
	} else if (dst) {
		um_inode_mark_unlinked(dst);
		index_unlink_end(fs, dst, dst_nlink);
	}
out:
	free(src_name);
	free(dst_name);
	if (dst)
		um_inode_unref(fs, dst, 1);
	um_inode_unref(fs, src, 1);
	return r;
}
