// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Lookup: resolve a name top-down through the layers of a merged directory.
 * A non-directory or a whiteout ends the walk; directories merge until one
 * is opaque.  Every access is relative to a directory fd we hold, with
 * O_NOFOLLOW, so a symlink in a layer is never followed by the daemon.
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

#include "index.h"
#include "ino.h"
#include "lookup.h"
#include "markers.h"
#include "nameset.h"
#include "util.h"
#include "whiteout.h"

/*
 * Is the upper file dfd/name a metacopy?  Such a file holds no data, at
 * most a block of xattrs, so it has fewer blocks than its size says (ours
 * are all larger than UM_METACOPY_MIN): files holding their data cost no
 * call.  The kernel's marker counts too.
 */
static bool is_metacopy(int dfd, const char *name, const struct stat *st)
{
	if (!S_ISREG(st->st_mode) || st->st_blocks * 512 >= st->st_size)
		return false;
	return um_marker_has(dfd, name, UM_MARK_METACOPY);
}

int um_check_name(const char *name)
{
	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	if (um_is_oci_reserved(name))
		return -ENOENT;
	return 0;
}

/*
 * Lookup state, like the kernel's ovl_lookup_data.  name is what is looked
 * up in the layers below: the name itself, or what redirects made of it
 * (a single name in the parent's lower directories, or an absolute path
 * "/a/b" from the layer roots).
 */
struct walk {
	struct um_lookup *lk;
	int nfound;
	int cap;
	bool stop;	 /* nothing below can show */
	bool last;	 /* the last layer looked at: markers unread */
	bool redirected; /* a redirect was met on the way */
	char *name;	 /* malloc'ed */
};

static int add_lower(struct walk *w, int layer, int fd, bool xwh)
{
	struct um_lookup *lk = w->lk;

	if (lk->nlowers == w->cap) {
		int cap = w->cap ? 2 * w->cap : 2;
		void *p = realloc(lk->lowers, cap * sizeof(*lk->lowers));
		if (!p)
			return -ENOMEM;
		lk->lowers = p;
		w->cap = cap;
	}
	lk->lowers[lk->nlowers++] = (struct um_realdir){
		.layer = layer, .fd = fd, .xwhiteouts = xwh};
	return 0;
}

/* The names of a lower directory, read on first use; NULL if unreadable. */
static struct um_nameset *realdir_names(struct um_realdir *rd)
{
	struct um_nameset *set = __atomic_load_n(&rd->names, __ATOMIC_ACQUIRE);
	struct um_nameset *none = NULL;
	int fd;

	if (set)
		return set;
	fd = um_reopen(rd->fd, O_RDONLY | O_DIRECTORY);
	set = fd < 0 ? NULL : um_nameset_read(fd);
	if (!set)
		return NULL;
	/* Two threads may read it at once: the first to publish wins. */
	if (!__atomic_compare_exchange_n(&rd->names, &none, set, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		um_nameset_free(set);
		set = none;
	}
	return set;
}

/*
 * May a ".wh." marker be there?  Always for the upper (rd NULL), which
 * changes; for a lower directory, only if its names include one.
 */
static bool may_have_oci(struct um_realdir *rd)
{
	struct um_nameset *set = rd ? realdir_names(rd) : NULL;

	return !set || set->oci;
}

/* Can name (or its OCI whiteout) be in this lower directory? */
static bool realdir_maybe(struct um_realdir *rd, const char *name)
{
	struct um_nameset *set = realdir_names(rd);
	size_t len = strlen(name);
	char wh[UM_OCI_PREFIX_LEN + NAME_MAX + 1];

	if (!set || um_nameset_maybe(set, name, len))
		return true;
	if (!set->oci || UM_OCI_PREFIX_LEN + len > NAME_MAX)
		return false;
	memcpy(wh, UM_OCI_PREFIX, UM_OCI_PREFIX_LEN);
	memcpy(wh + UM_OCI_PREFIX_LEN, name, len);
	return um_nameset_maybe(set, wh, UM_OCI_PREFIX_LEN + len);
}

static bool is_dot(const char *s, size_t len)
{
	return (len == 1 && s[0] == '.') || (len == 2 && !strncmp(s, "..", 2));
}

int um_redirect_check(const char *val)
{
	const char *s, *next;

	if (!*val)
		return -EINVAL;
	if (val[0] != '/') {
		if (strchr(val, '/'))
			return -EINVAL;
		/* Never out of the layer: the kernel's lookup refuses too. */
		return is_dot(val, strlen(val)) ? -EACCES : 0;
	}
	/* "/a/b": no empty component, so neither "/" nor "a//b" nor "b/". */
	for (s = val; *s++ == '/'; s = next) {
		next = strchrnul(s, '/');
		if (s == next)
			return -EINVAL;
		if (is_dot(s, next - s))
			return -EACCES;
	}
	return 0;
}

/* Is marker m, in either namespace, among the xattr names listed? */
static bool has_marker(const char *names, size_t len, enum um_marker m)
{
	for (int ns = 0; ns < UM_NS_COUNT; ns++) {
		const char *xn = um_marker_name(m, ns);
		if (memmem(names, len, xn, strlen(xn) + 1))
			return true;
	}
	return false;
}

/*
 * The redirect of directory dfd/name, met where w->name's component at
 * prelen ends and post follows (the kernel's ovl_check_redirect): an
 * absolute one replaces the path up to here, a relative one the last
 * component.  An absolute redirect also undoes a stop an opaque ancestor
 * on the way set, since it names another place.
 */
static int check_redirect(struct um_fs *fs, struct walk *w, int layer, int dfd,
			  const char *name, size_t prelen, const char *post)
{
	_cleanup_free_ char *val = NULL;
	char names[1024];
	ssize_t len;
	char *p;
	int r;

	/*
	 * Most directories have no xattrs, and few a redirect: one listing
	 * tells, where asking for the marker in both namespaces takes two.
	 */
	len = um_path_listxattr(&UM_PATH(layer, dfd, name), names,
				sizeof(names));
	if (len == 0 || (len > 0 && !has_marker(names, len, UM_MARK_REDIRECT)))
		return 0;
	len = um_marker_get(dfd, name, UM_MARK_REDIRECT, fs->xattr_ns, NULL, 0);
	if (len == -ENODATA || len == -EOPNOTSUPP)
		return 0;
	if (len < 0)
		return len;
	val = malloc(len + 1);
	if (!val)
		return -ENOMEM;
	len = um_marker_get(dfd, name, UM_MARK_REDIRECT, fs->xattr_ns, val,
			    len);
	if (len < 0)
		return len == -ERANGE ? -EIO : len;
	val[len] = '\0';
	r = um_redirect_check(val);
	if (r < 0)
		return r;
	if (val[0] == '/') {
		w->stop = false;
		r = asprintf(&p, "%s%s", val, post);
	} else {
		r = asprintf(&p, "%.*s%s%s", (int)prelen, w->name, val, post);
	}
	if (r < 0)
		return -ENOMEM;
	free(w->name);
	w->name = p;
	w->redirected = true;
	return 0;
}

/*
 * Look at name in one layer's directory dfd.  Fills w->lk for the first
 * object found, collects directories below it, sets w->stop when nothing
 * further down can show.  prelen: where name starts in w->name.
 */
static int probe(struct um_fs *fs, struct walk *w, int layer, int dfd,
		 struct um_realdir *rd, const char *name, bool xwh,
		 size_t prelen)
{
	struct um_path p = UM_PATH(layer, dfd, name);
	struct um_lookup *lk = w->lk;
	struct stat st;
	enum um_opaque op;
	int fd, r;

	/* A lower directory that certainly lacks the name: no call at all. */
	if (rd && !realdir_maybe(rd, name))
		return 0;
	r = um_path_stat(&p, &st);
	if (r < 0) {
		if (r != -ENOENT && r != -ENOTDIR && r != -ENAMETOOLONG)
			return r;
		if (may_have_oci(rd) && um_has_oci_whiteout(dfd, name))
			w->stop = true;
		return 0;
	}
	if (um_is_whiteout(&st, dfd, name, xwh)) {
		w->stop = true;
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		/* A non-directory under a directory is hidden by it. */
		w->stop = true;
		if (w->nfound)
			return 0;
	} else if (w->nfound && !S_ISDIR(lk->st.st_mode)) {
		w->stop = true;
		return 0;
	}

	/* Non-directories are reached by name, hard links by fd. */
	fd = -1;
	if (S_ISDIR(st.st_mode) || st.st_nlink > 1) {
		fd = um_path_open(&p, O_PATH);
		if (fd < 0)
			return fd == -ENOENT ? 0 : fd;
	}
	op = S_ISDIR(st.st_mode) ? um_dir_opaque(&p) : UM_NOT_OPAQUE;
	if (!w->nfound) {
		lk->layer = layer;
		lk->st = st;
		if (fs->layers[layer].upper)
			lk->ino_dirfd = dfd; /* um_inode_get() reads it */
		else
			lk->ino = um_ino_of(fs, layer, dfd, name, &st);
	}
	w->nfound++;
	if (fs->layers[layer].upper) {
		lk->fd = fd;
	} else if (S_ISDIR(st.st_mode)) {
		r = add_lower(w, layer, fd, op == UM_XWHITEOUTS);
		if (r < 0) {
			close(fd);
			return r;
		}
		if (w->nfound == 1)
			lk->fd = fd;
	} else {
		lk->fd = fd;
	}
	if (op == UM_OPAQUE)
		w->stop = true;
	else if (S_ISDIR(st.st_mode) && !w->last)
		return check_redirect(fs, w, layer, dfd, name, prelen, "");
	return 0;
}

/*
 * Walk the absolute path w->name ("/a/b") from the root of one lower
 * layer (the kernel's ovl_lookup_layer).  The directories on the way act
 * as in a lookup of the path itself: a whiteout or a non-directory ends
 * the walk and hides the layers below, an opaque one ends the stack after
 * this layer, and a redirect of its own rewrites the path for the layers
 * below.
 */
static int walk_path(struct um_fs *fs, struct walk *w, struct um_realdir *root)
{
	_cleanup_free_ char *path = strdup(w->name);
	char *s, *next;
	bool xwh = root->xwhiteouts;
	int dfd, nfd, r;

	if (!path)
		return -ENOMEM;
	dfd = fcntl(root->fd, F_DUPFD_CLOEXEC, 0);
	if (dfd < 0)
		return -errno;
	for (s = path + 1;; s = next + 1) {
		/* Counted from the end: a redirect may change the start. */
		size_t prelen = strlen(w->name) - strlen(s);
		enum um_opaque op;
		struct um_path p;
		struct stat st;

		next = strchrnul(s, '/');
		if (!*next) {
			r = probe(fs, w, root->layer, dfd,
				  s == path + 1 ? root : NULL, s, xwh, prelen);
			break;
		}
		*next = '\0';
		p = UM_PATH(root->layer, dfd, s);
		r = um_path_stat(&p, &st);
		if (r < 0) {
			if (r == -ENOENT || r == -ENOTDIR ||
			    r == -ENAMETOOLONG) {
				r = 0;
				if (um_has_oci_whiteout(dfd, s))
					w->stop = true;
			}
			break;
		}
		if (!S_ISDIR(st.st_mode)) {
			/* A whiteout or a file: nothing of the path below. */
			w->stop = true;
			break;
		}
		op = um_dir_opaque(&p);
		xwh = op == UM_XWHITEOUTS;
		if (!w->last && op == UM_OPAQUE) {
			w->stop = true;
		} else if (!w->last) {
			/* What follows the component, in w->name itself. */
			r = check_redirect(fs, w, root->layer, dfd, s, prelen,
					   w->name + prelen + strlen(s));
			if (r < 0)
				break;
		}
		nfd = um_path_open(&p, O_PATH | O_DIRECTORY);
		if (nfd < 0) {
			r = nfd == -ENOENT || nfd == -ENOTDIR ? 0 : nfd;
			break;
		}
		close(dfd);
		dfd = nfd;
	}
	close(dfd);
	return r;
}

/*
 * A lower file with several names (lk, its fd open): with the index, all
 * its names are one inode, keyed by the lower object until it is copied
 * up, and the copy once its index entry exists (index.h).  Lower objects
 * that cannot be indexed keep one inode per name.
 */
static int lookup_index(struct um_fs *fs, struct um_lookup *lk)
{
	char iname[UM_INDEX_NAME_MAX];
	struct stat st;
	int fd;

	/*
	 * Without a writable upper no name is ever copied up alone.  A
	 * symlink takes no user.* xattr to keep its link count in (rootless):
	 * its names copy up one by one.
	 */
	if (fs->indexfd < 0 ||
	    (S_ISLNK(lk->st.st_mode) && fs->xattr_ns == UM_NS_USER) ||
	    um_index_name(lk->fd, iname) < 0) {
		lk->byname = fs->upper != NULL;
		return 0;
	}
	lk->indexed = true;
	fd = openat(fs->indexfd, iname, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -errno;
	}
	/* Not a copy of this object (made by hand?): leave it alone. */
	if ((st.st_mode & S_IFMT) != (lk->st.st_mode & S_IFMT)) {
		close(fd);
		lk->indexed = false;
		lk->byname = fs->upper != NULL;
		return 0;
	}
	close(lk->fd);
	lk->fd = fd;
	lk->st = st;
	lk->layer = 0;
	lk->metacopy = false;
	lk->ino = um_ino_of(fs, 0, fd, "", &st);
	return 0;
}

/*
 * Look below the upper, through the lower directories of the parent, as
 * the kernel's ovl_lookup: a relative name in each of them, an absolute
 * path from the roots of the layers below the one where it was met.
 */
static int walk_lowers(struct um_fs *fs, struct walk *w, struct um_inode *dir)
{
	struct um_inode *root = fs->root;
	struct um_realdir *stack = dir->lowers;
	int n = dir->nlowers;
	bool follow = fs->redirect_follow_read;

	if (w->name[0] == '/') {
		stack = root->lowers;
		n = root->nlowers;
	}
	for (int i = 0; !w->stop && i < n; i++) {
		struct um_realdir *rd = &stack[i];
		int before = w->nfound, r;

		/*
		 * Following a redirect is like a symlink into a lower layer
		 * without the permission checks on the way: where following
		 * is off the kernel refuses the lookup, and so do we.
		 */
		if (w->redirected && !follow)
			return -EPERM;
		/*
		 * With redirects followed, the bottom layer is the last one
		 * whatever the parent's stack, as a redirect may lead below.
		 */
		w->last = follow ? rd->layer == fs->nlayers - 1 : i == n - 1;
		if (w->name[0] == '/')
			r = walk_path(fs, w, rd);
		else
			r = probe(fs, w, rd->layer, rd->fd, rd, w->name,
				  rd->xwhiteouts, 0);
		if (r < 0)
			return r;
		if (w->nfound == before)
			continue;
		if (w->stop)
			break;
		if (w->name[0] == '/' && stack != root->lowers) {
			stack = root->lowers;
			n = root->nlowers;
			/* On below this layer: root lowers[k] is layer k+1. */
			i = rd->layer - 1;
		}
	}
	return 0;
}

int um_lookup_name(struct um_fs *fs, struct um_inode *dir, const char *name,
		   struct um_lookup *lk)
{
	struct walk w = {.lk = lk};
	struct um_real real = um_inode_real(dir);
	int r;

	memset(lk, 0, sizeof(*lk));
	lk->fd = -1;
	lk->layer = -1;
	r = um_check_name(name);
	if (r < 0)
		return r;
	if (!S_ISDIR(dir->type))
		return -ENOTDIR;
	w.name = strdup(name);
	if (!w.name)
		return -ENOMEM;

	if (real.layer == 0) {
		/* Without following, the upper is the last if alone. */
		w.last = !fs->redirect_follow_read && !dir->nlowers;
		r = probe(fs, &w, 0, real.fd, NULL, name, false, 0);
		if (r < 0)
			goto fail;
		/* A name of a copy made through the index. */
		if (w.nfound && fs->indexfd >= 0 && lk->st.st_nlink > 1 &&
		    !S_ISDIR(lk->st.st_mode))
			lk->indexed =
				um_marker_has(real.fd, name, UM_MARK_NLINK);
		if (w.nfound && is_metacopy(real.fd, name, &lk->st)) {
			r = um_lookup_data(fs, dir, name);
			if (r < 0)
				goto fail;
			close(r);
			lk->metacopy = true;
		}
		/* Kept to write the next rename's redirect as the kernel. */
		if (w.redirected) {
			lk->redirect = strdup(w.name);
			if (!lk->redirect) {
				r = -ENOMEM;
				goto fail;
			}
		}
	}
	if (!w.stop) {
		r = walk_lowers(fs, &w, dir);
		if (r < 0)
			goto fail;
	}
	if (!w.nfound) {
		free(w.name);
		return -ENOENT;
	}
	if (lk->layer != 0 && !S_ISDIR(lk->st.st_mode) && lk->st.st_nlink > 1 &&
	    (r = lookup_index(fs, lk)) < 0)
		goto fail;
	free(w.name);
	return 0;
fail:
	free(w.name);
	um_lookup_release(lk);
	return r;
}

void um_lookup_release(struct um_lookup *lk)
{
	bool fd_is_lower = false;

	for (int i = 0; i < lk->nlowers; i++) {
		if (lk->lowers[i].fd == lk->fd)
			fd_is_lower = true;
		close(lk->lowers[i].fd);
	}
	if (lk->fd >= 0 && !fd_is_lower)
		close(lk->fd);
	free(lk->lowers);
	free(lk->redirect);
	memset(lk, 0, sizeof(*lk));
	lk->fd = -1;
	lk->layer = -1;
}

bool um_lower_has(struct um_fs *fs, struct um_inode *dir, const char *name)
{
	struct stat st;

	for (int i = 0; i < dir->nlowers; i++) {
		int dfd = dir->lowers[i].fd;
		if (!realdir_maybe(&dir->lowers[i], name))
			continue;
		if (um_path_stat(&UM_PATH(dir->lowers[i].layer, dfd, name),
				 &st) < 0) {
			if (may_have_oci(&dir->lowers[i]) &&
			    um_has_oci_whiteout(dfd, name))
				return false;
			continue;
		}
		return !um_is_whiteout(&st, dfd, name,
				       dir->lowers[i].xwhiteouts);
	}
	return false;
}

int um_lookup_data(struct um_fs *fs, struct um_inode *dir, const char *name)
{
	struct stat st;

	(void)fs;
	for (int i = 0; i < dir->nlowers; i++) {
		struct um_realdir *rd = &dir->lowers[i];
		if (!realdir_maybe(rd, name))
			continue;
		struct um_path p = UM_PATH(rd->layer, rd->fd, name);
		if (um_path_stat(&p, &st) < 0) {
			if (may_have_oci(rd) &&
			    um_has_oci_whiteout(rd->fd, name))
				return -EIO;
			continue;
		}
		/* A whiteout, a directory, a device: no data to read. */
		if (!S_ISREG(st.st_mode))
			return -EIO;
		return um_path_open(&p, O_PATH);
	}
	return -EIO;
}
