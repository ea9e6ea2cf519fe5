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
	if (strlen(name) > 255)
		return -ENAMETOOLONG;
	if (um_is_oci_reserved(name))
		return -ENOENT;
	return 0;
}

struct walk {
	struct um_lookup *lk;
	int nfound;
	int cap;
	bool stop;
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
		.layer = layer, .fd = fd, .xwhiteouts = xwh };
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

/*
 * Look at name in one layer's directory dfd.  Fills w->lk for the first
 * object found, collects directories below it, sets w->stop when nothing
 * further down can show.
 */
static int probe(struct um_fs *fs, struct walk *w, int layer, int dfd,
		 struct um_realdir *rd, const char *name, bool xwh)
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
		if (r != -ENOENT && r != -ENOTDIR)
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
			lk->ino_dirfd = dfd;	/* um_inode_get() reads it */
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
	return 0;
}

/* Walk an absolute redirect ("/a/b") from the root of one lower layer. */
static int walk_redirect(struct um_fs *fs, struct walk *w, int layer,
			 const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	char *save = NULL, *comp, *next;
	bool stop_after = false;
	int dfd, nfd;
	int r;

	if (!copy)
		return -ENOMEM;
	dfd = fs->layers[layer].fd;
	comp = strtok_r(copy, "/", &save);
	if (!comp)
		return 0;
	dfd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	if (dfd < 0)
		return -errno;
	for (;;) {
		struct um_path p;
		struct stat st;

		next = strtok_r(NULL, "/", &save);
		if (!next)
			break;
		p = UM_PATH(layer, dfd, comp);
		if (strlen(comp) > 255 || !strcmp(comp, "..") ||
		    !strcmp(comp, ".") || um_path_stat(&p, &st) < 0) {
			close(dfd);
			return 0;	/* not in this layer: try the next */
		}
		/*
		 * Like a lookup of the path itself: a whiteout or a file on
		 * the way hides the layers below, an opaque directory ends
		 * the stack after this layer.
		 */
		if (!S_ISDIR(st.st_mode)) {
			w->stop = true;
			close(dfd);
			return 0;
		}
		if (um_dir_opaque(&p) == UM_OPAQUE)
			stop_after = true;
		nfd = um_path_open(&p, O_PATH | O_DIRECTORY);
		close(dfd);
		if (nfd < 0)
			return 0;
		dfd = nfd;
		comp = next;
	}
	r = probe(fs, w, layer, dfd, NULL, comp, false);
	close(dfd);
	if (stop_after)
		w->stop = true;
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

char *um_lookup_child_path(const char *parent, const char *name)
{
	char *p;

	if (!parent || !*parent)
		return strdup(name);
	if (asprintf(&p, "%s/%s", parent, name) < 0)
		return NULL;
	return p;
}

int um_lookup_name(struct um_fs *fs, struct um_inode *dir, const char *name,
		   struct um_lookup *lk)
{
	struct walk w = { .lk = lk };
	struct um_real real = um_inode_real(dir);
	char redirect[4096];
	ssize_t rlen = -1;
	int r;

	memset(lk, 0, sizeof(*lk));
	lk->fd = -1;
	lk->layer = -1;
	r = um_check_name(name);
	if (r < 0)
		return r;
	if (!S_ISDIR(dir->type))
		return -ENOTDIR;

	if (real.layer == 0) {
		r = probe(fs, &w, 0, real.fd, NULL, name, false);
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
		if (w.nfound && S_ISDIR(lk->st.st_mode) && !w.stop) {
			rlen = um_marker_get(real.fd, name, UM_MARK_REDIRECT,
					     fs->xattr_ns, redirect,
					     sizeof(redirect) - 1);
			if (rlen >= 0)
				redirect[rlen] = '\0';
		}
	}

	if (rlen > 0 && redirect[0] == '/') {
		for (int i = 0; i < fs->nlayers && !w.stop; i++) {
			if (fs->layers[i].upper)
				continue;
			r = walk_redirect(fs, &w, i, redirect);
			if (r < 0)
				goto fail;
		}
		lk->lowerpath = strdup(redirect + 1);
	} else {
		const char *lname = rlen > 0 ? redirect : name;
		if (rlen > 0 && (strchr(lname, '/') || strlen(lname) > 255))
			lname = name;
		for (int i = 0; i < dir->nlowers && !w.stop; i++) {
			r = probe(fs, &w, dir->lowers[i].layer,
				  dir->lowers[i].fd, &dir->lowers[i], lname,
				  dir->lowers[i].xwhiteouts);
			if (r < 0)
				goto fail;
		}
		if (w.nfound && S_ISDIR(lk->st.st_mode))
			lk->lowerpath = um_lookup_child_path(dir->lowerpath,
							     lname);
	}
	if (!w.nfound)
		return -ENOENT;
	if (S_ISDIR(lk->st.st_mode) && !lk->lowerpath) {
		r = -ENOMEM;
		goto fail;
	}
	if (lk->layer != 0 && !S_ISDIR(lk->st.st_mode) && lk->st.st_nlink > 1 &&
	    (r = lookup_index(fs, lk)) < 0)
		goto fail;
	return 0;
fail:
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
	free(lk->lowerpath);
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
			if (may_have_oci(rd) && um_has_oci_whiteout(rd->fd, name))
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
