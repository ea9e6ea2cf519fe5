// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Merged listing: the directory's layers are read top-down; the first
 * layer that shows a name wins, whiteouts hide the name below, opaque
 * layers end the stack (the inode's lowers already stop there).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "ino.h"
#include "inode.h"
#include "readdir.h"
#include "util.h"
#include "whiteout.h"

struct seen {
	UT_hash_handle hh;
	char name[];
};

struct merge {
	struct um_fs *fs;
	struct um_listing *h; /* NULL: only test for emptiness */
	struct seen *seen;
	size_t cap;
	bool found; /* a visible entry (emptiness test) */
};

static bool seen_has(struct merge *m, const char *name, size_t len)
{
	struct seen *s;

	HASH_FIND(hh, m->seen, name, len, s);
	return s != NULL;
}

static int seen_add(struct merge *m, const char *name, size_t len)
{
	struct seen *s = malloc(sizeof(*s) + len + 1);

	if (!s)
		return -ENOMEM;
	memcpy(s->name, name, len + 1);
	HASH_ADD(hh, m->seen, name[0], len, s);
	return 0;
}

static void seen_free(struct merge *m)
{
	struct seen *s, *tmp;

	HASH_ITER(hh, m->seen, s, tmp)
	{
		HASH_DEL(m->seen, s);
		free(s);
	}
}

/* dev and real_ino: the real object shown, 0 for "." and "..". */
static int add_entry(struct merge *m, const char *name, uint64_t ino,
		     unsigned char type, dev_t dev, ino_t real_ino)
{
	struct um_listing *h = m->h;

	if (h->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 64;
		void *p = realloc(h->ents, cap * sizeof(*h->ents));
		if (!p)
			return -ENOMEM;
		h->ents = p;
		m->cap = cap;
	}
	h->ents[h->n].name = strdup(name);
	if (!h->ents[h->n].name)
		return -ENOMEM;
	h->ents[h->n].ino = ino;
	h->ents[h->n].type = type;
	h->ents[h->n].dev = dev;
	h->ents[h->n].real_ino = real_ino;
	h->n++;
	return 0;
}

/* Whiteouts named ".wh.X" in a layer hide X only in the layers below. */
struct pending {
	char **names;
	size_t n, cap;
};

static int pending_add(struct pending *p, const char *name)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 16;
		void *q = realloc(p->names, cap * sizeof(char *));
		if (!q)
			return -ENOMEM;
		p->names = q;
		p->cap = cap;
	}
	p->names[p->n] = strdup(name);
	return p->names[p->n++] ? 0 : -ENOMEM;
}

/*
 * Add the names of one layer's directory that no layer above showed or
 * hid.  last: no layer below, so the names need not be remembered.
 */
static int read_layer(struct merge *m, int layer, int dirfd, bool xwh,
		      bool last)
{
	struct um_fs *fs = m->fs;
	struct pending pend = {0};
	struct dirent *de;
	DIR *dp;
	int fd, r = 0;

	fd = um_path_open(&UM_PATH(layer, dirfd, ""), O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd;
	dp = fdopendir(fd);
	if (!dp) {
		close(fd);
		return -errno;
	}
	while (r == 0 && (de = readdir(dp))) {
		const char *name = de->d_name;
		size_t len = strlen(name);
		const char *target;
		struct stat st;
		uint64_t ino;

		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (um_is_oci_reserved(name)) {
			target = um_oci_whiteout_target(name);
			if (target)
				r = pending_add(&pend, target);
			continue;
		}
		if (seen_has(m, name, len))
			continue;
		if (de->d_type == DT_CHR || de->d_type == DT_UNKNOWN ||
		    (xwh && de->d_type == DT_REG)) {
			if (um_path_stat(&UM_PATH(layer, dirfd, name), &st) < 0)
				continue; /* gone meanwhile */
			if (um_is_whiteout(&st, dirfd, name, xwh)) {
				r = last ? 0 : seen_add(m, name, len);
				continue;
			}
			if (de->d_type == DT_UNKNOWN)
				de->d_type = IFTODT(st.st_mode);
		}
		r = last ? 0 : seen_add(m, name, len);
		if (r < 0)
			break;
		if (!m->h) {
			m->found = true;
			break;
		}
		ino = um_inode_cached_ino(fs, fs->layers[layer].dev, de->d_ino);
		if (!ino) {
			st.st_ino = de->d_ino;
			ino = um_ino_of(fs, layer, dirfd, name, &st);
		}
		r = add_entry(m, name, ino, de->d_type, fs->layers[layer].dev,
			      de->d_ino);
	}
	closedir(dp);
	for (size_t i = 0; i < pend.n; i++) {
		size_t len = strlen(pend.names[i]);
		if (r == 0 && !last && !seen_has(m, pend.names[i], len))
			r = seen_add(m, pend.names[i], len);
		free(pend.names[i]);
	}
	free(pend.names);
	return r;
}

static int merge_dir(struct merge *m, struct um_inode *dir)
{
	struct um_real real = um_inode_real(dir);
	int r = 0;

	if (real.layer == 0)
		r = read_layer(m, 0, real.fd, false, dir->nlowers == 0);
	for (int i = 0; r == 0 && !m->found && i < dir->nlowers; i++)
		r = read_layer(m, dir->lowers[i].layer, dir->lowers[i].fd,
			       dir->lowers[i].xwhiteouts,
			       i == dir->nlowers - 1);
	seen_free(m);
	return r;
}

void um_listing_unref(struct um_listing *l)
{
	if (!l || __atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->ents[i].name);
	free(l->ents);
	free(l);
}

static struct um_listing *listing_ref(struct um_listing *l)
{
	__atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
	return l;
}

void um_readdir_changed(struct um_inode *dir)
{
	__atomic_add_fetch(&dir->dir_version, 1, __ATOMIC_RELEASE);
}

/* "." and ".." come first, at offsets 1 and 2; the names from 3 on. */
#define FIRST_NAME_OFF 3

static uint64_t name_off(const char *name)
{
	/* 63 bits: the kernel's file position is signed. */
	uint64_t off = XXH3_64bits(name, strlen(name)) >> 1;

	return off < FIRST_NAME_OFF ? off + FIRST_NAME_OFF : off;
}

static int by_off(const void *a, const void *b)
{
	const struct um_dirent *x = a, *y = b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return strcmp(x->name, y->name);
}

/*
 * Give every entry its offset and put them in that order.  Two names of
 * one hash (a million names hold such a pair with odds of about 2^-24)
 * take consecutive offsets: only those two may then be seen twice or
 * missed by a reader racing a change to one of them.
 */
static void place(struct um_listing *l)
{
	l->ents[0].off = 1;
	l->ents[1].off = 2;
	for (size_t i = 2; i < l->n; i++)
		l->ents[i].off = name_off(l->ents[i].name);
	qsort(l->ents + 2, l->n - 2, sizeof(*l->ents), by_off);
	for (size_t i = 3; i < l->n; i++)
		if (l->ents[i].off <= l->ents[i - 1].off)
			l->ents[i].off = l->ents[i - 1].off + 1;
}

size_t um_listing_seek(const struct um_listing *l, uint64_t off)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (l->ents[mid].off <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Read the layers into a new listing of dir. */
static int build(struct um_fs *fs, struct um_inode *dir, uint64_t version,
		 struct um_listing **out)
{
	struct um_listing *l = calloc(1, sizeof(*l));
	struct merge m = {.fs = fs, .h = l};
	uint64_t pino;
	int r;

	if (!l)
		return -ENOMEM;
	l->refs = 1;
	l->version = version;
	/* The parent stays alive while dir holds it; rename may swap it. */
	pthread_mutex_lock(&dir->lock);
	pino = dir->parent ? dir->parent->ino : dir->ino;
	pthread_mutex_unlock(&dir->lock);
	r = add_entry(&m, ".", dir->ino, DT_DIR, 0, 0);
	if (r == 0)
		r = add_entry(&m, "..", pino, DT_DIR, 0, 0);
	if (r == 0)
		r = merge_dir(&m, dir);
	if (r < 0) {
		um_listing_unref(l);
		return r;
	}
	place(l);
	*out = l;
	return 0;
}

int um_readdir_get(struct um_fs *fs, struct um_inode *dir,
		   struct um_listing **out)
{
	uint64_t version = __atomic_load_n(&dir->dir_version, __ATOMIC_ACQUIRE);
	struct um_listing *l = NULL, *old = NULL;
	int r;

	/* The directory's cached listing, if nothing changed since. */
	pthread_mutex_lock(&dir->lock);
	if (dir->listing && dir->listing->version == version)
		l = listing_ref(dir->listing);
	pthread_mutex_unlock(&dir->lock);

	if (!l) {
		r = build(fs, dir, version, &l);
		if (r < 0)
			return r;
		pthread_mutex_lock(&dir->lock);
		if (__atomic_load_n(&dir->dir_version, __ATOMIC_ACQUIRE) ==
		    version) {
			old = dir->listing;
			dir->listing = listing_ref(l);
		}
		pthread_mutex_unlock(&dir->lock);
		um_listing_unref(old);
	}
	*out = l;
	return 0;
}

int um_readdir_is_empty(struct um_fs *fs, struct um_inode *dir)
{
	struct merge m = {.fs = fs};
	int r = merge_dir(&m, dir);

	if (r < 0)
		return r;
	return !m.found;
}
