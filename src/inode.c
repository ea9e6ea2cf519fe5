// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The inode table.  An inode stands for one merged object and is keyed by
 * the (st_dev, st_ino) of its topmost real object, so hard links in a layer
 * show as one inode.  The kernel's lookup count and our own references
 * (a child holds its parent) share one counter; at zero the inode is freed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ino.h"
#include "inode.h"
#include "nameset.h"
#include "readdir.h"
#include "util.h"

#define HASH_FIND_KEY(head, key, out)                                          \
	HASH_FIND(hh, head, key, sizeof(struct um_key), out)

static void inode_free(struct um_inode *inode)
{
	bool fd_is_lower = false;

	for (int i = 0; i < inode->nlowers; i++) {
		if (inode->lowers[i].fd == inode->fd)
			fd_is_lower = true;
		close(inode->lowers[i].fd);
		um_nameset_free(inode->lowers[i].names);
	}
	if (inode->fd >= 0 && !fd_is_lower)
		close(inode->fd);
	free(inode->lowers);
	free(inode->redirect);
	um_listing_unref(inode->listing);
	free(inode->name);
	pthread_mutex_destroy(&inode->lock);
	pthread_mutex_destroy(&inode->times_lock);
	free(inode);
}

struct um_inode *um_inode_get(struct um_fs *fs, struct um_lookup *lk,
			      struct um_inode *parent, const char *name)
{
	struct um_key key = {.dev = lk->st.st_dev, .ino = lk->st.st_ino};
	struct um_inode *inode;

	if (lk->byname) {
		key.parent = (uintptr_t)parent;
		key.name = XXH3_64bits(name, strlen(name));
	}
	pthread_mutex_lock(&fs->table_lock);
	HASH_FIND_KEY(fs->table, &key, inode);
	if (!inode && lk->ino == 0) {
		/* A new inode needs its number: read it unlocked, look again.
		 */
		pthread_mutex_unlock(&fs->table_lock);
		lk->ino =
			um_ino_of(fs, lk->layer, lk->ino_dirfd, name, &lk->st);
		pthread_mutex_lock(&fs->table_lock);
		HASH_FIND_KEY(fs->table, &key, inode);
	}
	if (inode) {
		inode->refs++;
		pthread_mutex_unlock(&fs->table_lock);
		/* A new hard link: keep the object reachable by fd. */
		if (lk->fd >= 0 && !S_ISDIR(inode->type)) {
			pthread_mutex_lock(&inode->lock);
			if (inode->fd < 0) {
				inode->fd = lk->fd;
				lk->fd = -1;
			}
			if (lk->indexed)
				inode->indexed = true;
			pthread_mutex_unlock(&inode->lock);
		}
		um_lookup_release(lk);
		return inode;
	}
	inode = calloc(1, sizeof(*inode));
	if (inode)
		inode->name = strdup(name);
	if (!inode || !inode->name) {
		pthread_mutex_unlock(&fs->table_lock);
		free(inode);
		um_lookup_release(lk);
		return NULL;
	}
	inode->key = key;
	inode->refs = 1;
	inode->ino = lk->ino;
	inode->type = lk->st.st_mode & S_IFMT;
	pthread_mutex_init(&inode->lock, NULL);
	pthread_mutex_init(&inode->times_lock, NULL);
	inode->layer = lk->layer;
	inode->fd = lk->fd;
	inode->lowers = lk->lowers;
	inode->nlowers = lk->nlowers;
	inode->redirect = lk->redirect;
	inode->metacopy = lk->metacopy;
	inode->indexed = lk->indexed;
	inode->parent = parent;
	parent->refs++;
	HASH_ADD(hh, fs->table, key, sizeof(struct um_key), inode);
	inode->hashed = true;
	pthread_mutex_unlock(&fs->table_lock);

	memset(lk, 0, sizeof(*lk));
	lk->fd = -1;
	return inode;
}

int um_lookup_inode(struct um_fs *fs, struct um_inode *dir, const char *name,
		    struct um_inode **out)
{
	struct um_lookup lk;
	int r = um_lookup_name(fs, dir, name, &lk);

	if (r < 0)
		return r;
	*out = um_inode_get(fs, &lk, dir, name);
	return *out ? 0 : -ENOMEM;
}

void um_inode_ref(struct um_fs *fs, struct um_inode *inode)
{
	pthread_mutex_lock(&fs->table_lock);
	inode->refs++;
	pthread_mutex_unlock(&fs->table_lock);
}

void um_inode_unref(struct um_fs *fs, struct um_inode *inode, uint64_t n)
{
	while (inode) {
		struct um_inode *parent;

		pthread_mutex_lock(&fs->table_lock);
		if (inode->refs < n) {
			/* The kernel never forgets more than it was given. */
			n = inode->refs;
		}
		inode->refs -= n;
		if (inode->refs > 0 || inode == fs->root) {
			pthread_mutex_unlock(&fs->table_lock);
			return;
		}
		if (inode->hashed)
			HASH_DELETE(hh, fs->table, inode);
		pthread_mutex_unlock(&fs->table_lock);
		parent = inode->parent;
		inode_free(inode);
		inode = parent;
		n = 1;
	}
}

/* The parent's directory fd in the given layer, or -1. */
static int parent_fd(struct um_inode *parent, int layer)
{
	if (layer == 0)
		return parent->fd; /* an upper object's parent is upper */
	for (int i = 0; i < parent->nlowers; i++)
		if (parent->lowers[i].layer == layer)
			return parent->lowers[i].fd;
	return -1;
}

int um_inode_locate_locked(struct um_inode *inode, struct um_path *p)
{
	p->layer = inode->layer;
	if (inode->fd >= 0) {
		p->dirfd = inode->fd;
		p->name = "";
		return 0;
	}
	/*
	 * An upper object whose name went (unlinked, or replaced by a rename)
	 * and that nothing pinned: the name may be another object's now.
	 * The kernel still sends its cached times of such an inode.
	 */
	if (!inode->parent || (inode->unlinked && inode->layer == 0))
		return -ESTALE;
	p->dirfd = parent_fd(inode->parent, inode->layer);
	p->name = inode->name;
	return p->dirfd < 0 ? -ESTALE : 0;
}

int um_inode_path_locked(struct um_inode *inode)
{
	struct um_path p;
	int r = um_inode_locate_locked(inode, &p);

	return r < 0 ? r : um_path_open(&p, O_PATH);
}

int um_inode_path(struct um_fs *fs, struct um_inode *inode, int *layer)
{
	int fd;

	pthread_mutex_lock(&inode->lock);
	fd = um_inode_path_locked(inode);
	if (layer)
		*layer = inode->layer;
	pthread_mutex_unlock(&inode->lock);
	return fd;
}

void um_inode_pin(struct um_inode *inode)
{
	pthread_mutex_lock(&inode->lock);
	if (inode->fd < 0 && inode->nopen > 0) {
		int fd = um_inode_path_locked(inode);
		if (fd >= 0)
			inode->fd = fd;
	}
	pthread_mutex_unlock(&inode->lock);
}

void um_inode_move(struct um_fs *fs, struct um_inode *inode,
		   struct um_inode *parent, char *name)
{
	struct um_inode *old;
	char *oldname;

	um_inode_ref(fs, parent);
	pthread_mutex_lock(&inode->lock);
	old = inode->parent;
	oldname = inode->name;
	inode->parent = parent;
	inode->name = name;
	pthread_mutex_unlock(&inode->lock);
	free(oldname);
	if (old)
		um_inode_unref(fs, old, 1);
}

int um_inode_set_name(struct um_fs *fs, struct um_inode *inode,
		      struct um_inode *parent, const char *name)
{
	char *copy = strdup(name);

	if (!copy)
		return -ENOMEM;
	um_inode_move(fs, inode, parent, copy);
	return 0;
}

void um_inode_set_upper(struct um_fs *fs, struct um_inode *inode, int fd,
			const struct stat *st)
{
	struct um_inode *other;

	if (!S_ISDIR(inode->type) && !inode->indexed) {
		/* Users dup the pinned fd under the lock: closing is safe. */
		if (inode->fd >= 0)
			close(inode->fd);
		close(fd);
		fd = -1;
	} else if (!S_ISDIR(inode->type) && inode->fd >= 0) {
		close(inode->fd); /* the lower file's */
	}
	inode->fd = fd;
	/* Read without the lock by open files (um_file_fd). */
	__atomic_store_n(&inode->layer, 0, __ATOMIC_RELEASE);
	pthread_mutex_lock(&fs->table_lock);
	if (inode->hashed)
		HASH_DELETE(hh, fs->table, inode);
	inode->key = (struct um_key){.dev = st->st_dev, .ino = st->st_ino};
	/*
	 * Another inode of the same indexed copy (a name looked up between
	 * our lookup and the copy's entry appearing) stays the one found.
	 */
	HASH_FIND_KEY(fs->table, &inode->key, other);
	inode->hashed = !other;
	if (!other)
		HASH_ADD(hh, fs->table, key, sizeof(struct um_key), inode);
	pthread_mutex_unlock(&fs->table_lock);
}

uint64_t um_inode_cached_ino(struct um_fs *fs, dev_t dev, ino_t ino)
{
	struct um_key key = {.dev = dev, .ino = ino};
	struct um_inode *inode;
	uint64_t r = 0;

	pthread_mutex_lock(&fs->table_lock);
	HASH_FIND_KEY(fs->table, &key, inode);
	if (inode)
		r = __atomic_load_n(&inode->ino, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&fs->table_lock);
	return r;
}

void um_inode_table_release(struct um_fs *fs)
{
	struct um_inode *inode, *tmp;

	/* Unhashed inodes the kernel still held are gone with it. */
	HASH_ITER(hh, fs->table, inode, tmp)
	{
		HASH_DELETE(hh, fs->table, inode);
		if (inode != fs->root)
			inode_free(inode);
	}
	if (fs->root)
		inode_free(fs->root);
	fs->root = NULL;
}

void um_inode_mark_unlinked(struct um_inode *inode)
{
	pthread_mutex_lock(&inode->lock);
	inode->unlinked = true;
	pthread_mutex_unlock(&inode->lock);
}

void um_inode_unhash(struct um_fs *fs, struct um_inode *inode)
{
	pthread_mutex_lock(&fs->table_lock);
	if (inode->hashed && inode != fs->root) {
		HASH_DELETE(hh, fs->table, inode);
		inode->hashed = false;
	}
	pthread_mutex_unlock(&fs->table_lock);
}

void um_inode_rehash(struct um_fs *fs, struct um_inode *inode)
{
	struct um_inode *other;

	pthread_mutex_lock(&fs->table_lock);
	HASH_FIND_KEY(fs->table, &inode->key, other);
	if (!inode->hashed && !other) {
		HASH_ADD(hh, fs->table, key, sizeof(struct um_key), inode);
		inode->hashed = true;
	}
	pthread_mutex_unlock(&fs->table_lock);
}

struct um_inode *um_inode_find(struct um_fs *fs, dev_t dev, ino_t ino)
{
	struct um_key key = {.dev = dev, .ino = ino};
	struct um_inode *inode;

	pthread_mutex_lock(&fs->table_lock);
	HASH_FIND_KEY(fs->table, &key, inode);
	if (inode)
		inode->refs++;
	pthread_mutex_unlock(&fs->table_lock);
	return inode;
}
