// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The union read the way lookup.c reads it, for the layer tools: a name
 * resolves top-down; a whiteout stops the search, a non-directory hides
 * everything below it, directories merge until one is opaque, and a
 * redirect sends the search for the lower parts elsewhere (absolute: from
 * the root of the layers below; relative: another name in the same
 * parent, the kernel's two formats).  Every object is reached through
 * the fd of its parent directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layer/hlindex.h"
#include "layer/walk.h"
#include "markers.h"
#include "override.h"
#include "util.h"

/* A redirect holds a path of the union: at most PATH_MAX bytes. */
#define REDIRECT_MAX 4096

static int open_dir_at(int dirfd, const char *name)
{
	int fd = openat(dirfd, name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int layer_stack_open(struct layer_stack *s, const char *top,
		     const char *const *lowers, int nlowers)
{
	s->n = 0;
	s->indexfd = -1;
	s->root = calloc((size_t)nlowers + 1, sizeof(*s->root));
	s->path = calloc((size_t)nlowers + 1, sizeof(*s->path));
	if (!s->root || !s->path) {
		free(s->root);
		free(s->path);
		fprintf(stderr, "unionmount-layer: out of memory\n");
		return -ENOMEM;
	}
	for (int i = 0; i <= nlowers; i++) {
		const char *p = i == 0 ? top : lowers[i - 1];
		int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0) {
			int err = -errno;
			fprintf(stderr, "unionmount-layer: %s: %s\n", p,
				strerror(errno));
			layer_stack_release(s);
			return err;
		}
		s->root[i] = fd;
		s->path[i] = p;
		s->n++;
	}
	return 0;
}

void layer_stack_release(struct layer_stack *s)
{
	for (int i = 0; i < s->n; i++)
		close(s->root[i]);
	if (s->indexfd >= 0)
		close(s->indexfd);
	s->indexfd = -1;
	free(s->root);
	free(s->path);
	s->root = NULL;
	s->path = NULL;
	s->n = 0;
}

char **layer_split_list(const char *list, int *n)
{
	size_t len = strlen(list), cnt = 1;
	char **v, *buf, *w;
	int i = 0;

	for (size_t k = 0; k < len; k++) {
		if (list[k] == '\\' && list[k + 1])
			k++;
		else if (list[k] == ':')
			cnt++;
	}
	/* The pointers and the strings in one block: one free. */
	v = malloc((cnt + 1) * sizeof(*v) + len + 1);
	if (!v)
		return NULL;
	buf = (char *)(v + cnt + 1);
	w = buf;
	v[i++] = w;
	for (size_t k = 0; k < len; k++) {
		if (list[k] == '\\' && list[k + 1]) {
			*w++ = list[++k];
		} else if (list[k] == ':') {
			*w++ = '\0';
			v[i++] = w;
		} else {
			*w++ = list[k];
		}
	}
	*w = '\0';
	v[i] = NULL;
	*n = i;
	return v;
}

void layer_free_list(char **v)
{
	free(v);
}

void lw_dir_release(struct lw_dir *d)
{
	for (int i = 0; i < d->n; i++)
		close(d->part[i].fd);
	free(d->part);
	d->part = NULL;
	d->n = 0;
}

void lw_obj_init(struct lw_obj *o)
{
	memset(o, 0, sizeof(*o));
	o->layer = -1;
	o->wlayer = -1;
	o->dirfd = -1;
	o->datafd = -1;
}

void lw_obj_release(struct lw_obj *o)
{
	lw_dir_release(&o->dir);
	free(o->rname);
	free(o->redirect);
	if (o->datafd >= 0)
		close(o->datafd);
	if (o->own_dirfd && o->dirfd >= 0)
		close(o->dirfd);
	lw_obj_init(o);
}

/* Add the directory dirfd/name of layer to d; is it opaque? */
static int dir_add(struct lw_dir *d, int layer, int dirfd, const char *name,
		   bool *opaque)
{
	struct lw_part *np;
	struct stat st;
	char v[2];
	ssize_t r;
	int fd = open_dir_at(dirfd, name);

	if (fd < 0)
		return fd;
	np = realloc(d->part, sizeof(*np) * (size_t)(d->n + 1));
	if (!np) {
		close(fd);
		return -ENOMEM;
	}
	d->part = np;
	np = &d->part[d->n++];
	np->layer = layer;
	np->fd = fd;
	np->xwhiteouts = false;
	*opaque = false;
	r = um_marker_get(fd, "", UM_MARK_OPAQUE, UM_NS_TRUSTED, v, sizeof(v));
	if (r == 1 && v[0] == 'y')
		*opaque = true;
	else if (r == 1 && v[0] == 'x')
		np->xwhiteouts = true;
	else if (r < 0 && r != -ENODATA && r != -ENOTSUP && r != -ERANGE)
		return (int)r;
	if (!*opaque &&
	    fstatat(fd, UM_OCI_OPAQUE, &st, AT_SYMLINK_NOFOLLOW) == 0)
		*opaque = true;
	return 0;
}

int lw_root(const struct layer_stack *s, int from, struct lw_dir *d)
{
	d->n = 0;
	d->part = NULL;
	for (int i = from; i < s->n; i++) {
		bool opaque;
		int r = dir_add(d, i, s->root[i], ".", &opaque);

		if (r < 0) {
			lw_dir_release(d);
			return r;
		}
		/* An opaque root hides the layers below, as anywhere. */
		if (opaque)
			break;
	}
	return 0;
}

enum lw_kind lw_classify(const struct lw_part *p, const char *name,
			 const struct stat *st)
{
	if (um_is_oci_opaque(name))
		return LW_OCI_OPAQUE;
	if (um_oci_whiteout_target(name))
		return LW_OCI_WHITEOUT;
	if (um_is_chardev_whiteout(st))
		return LW_WHITEOUT;
	/* Like the kernel: xattr whiteouts only where the dir says so. */
	if (p->xwhiteouts && S_ISREG(st->st_mode) && st->st_size == 0 &&
	    um_marker_get(p->fd, name, UM_MARK_WHITEOUT, UM_NS_TRUSTED, NULL,
			  0) >= 0)
		return LW_WHITEOUT;
	return LW_OBJECT;
}

static bool has_oci_whiteout(int dirfd, const char *name)
{
	_cleanup_free_ char *wh = NULL;
	struct stat st;

	if (strlen(name) + UM_OCI_PREFIX_LEN > 255)
		return false;
	wh = um_oci_whiteout_name(name);
	return wh && fstatat(dirfd, wh, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* A marker's value as a NUL-terminated string, NULL if absent. */
static int marker_string(int dirfd, const char *name, enum um_marker m,
			 char **out)
{
	char *buf = malloc(REDIRECT_MAX + 1);
	ssize_t r;

	*out = NULL;
	if (!buf)
		return -ENOMEM;
	r = um_marker_get(dirfd, name, m, UM_NS_TRUSTED, buf, REDIRECT_MAX);
	if (r < 0) {
		free(buf);
		return r == -ENODATA || r == -ENOTSUP ? 0 : (int)r;
	}
	buf[r] = '\0';
	*out = buf;
	return 0;
}

/*
 * A redirect is a layer's xattr: untrusted.  Absolute ones are walked one
 * component at a time inside the layers, so "." and ".." (which would
 * step out of a layer root) are refused; a relative one is one name, as
 * the kernel writes it.
 */
static int check_redirect(const struct layer_stack *s, int layer, const char *r)
{
	const char *p = r;
	bool bad = !*r;

	if (*r != '/') {
		bad = bad || strchr(r, '/') || !strcmp(r, ".") ||
		      !strcmp(r, "..");
	} else {
		while (!bad && *p) {
			const char *end = strchrnul(++p, '/');
			size_t n = (size_t)(end - p);

			bad = (n == 1 && p[0] == '.') ||
			      (n == 2 && p[0] == '.' && p[1] == '.');
			p = end;
		}
	}
	if (!bad)
		return 0;
	fprintf(stderr, "unionmount-layer: layer %s: bad redirect \"%s\"\n",
		s->path[layer], r);
	return -EINVAL;
}

/* Append the parts of another directory (moved, not copied). */
static int dir_append(struct lw_dir *d, struct lw_dir *from)
{
	struct lw_part *np;

	if (!from->n)
		return 0;
	np = realloc(d->part, sizeof(*np) * (size_t)(d->n + from->n));
	if (!np)
		return -ENOMEM;
	d->part = np;
	memcpy(d->part + d->n, from->part, sizeof(*np) * (size_t)from->n);
	d->n += from->n;
	free(from->part);
	from->part = NULL;
	from->n = 0;
	return 0;
}

/*
 * The data of a metacopy file found in layer `layer` of d as `name`: the
 * first regular file below it, at its redirect if it has one.
 */
static int find_data(const struct layer_stack *s, const struct lw_dir *d,
		     int layer, int dirfd, const char *name, struct lw_obj *o)
{
	_cleanup_free_ char *redirect = NULL;
	struct lw_obj below;
	int r;

	r = marker_string(dirfd, name, UM_MARK_REDIRECT, &redirect);
	if (r == 0 && redirect)
		r = check_redirect(s, layer, redirect);
	if (r < 0)
		return r;
	lw_obj_init(&below);
	if (redirect && redirect[0] == '/')
		r = lw_resolve(s, layer + 1, redirect, &below);
	else
		r = lw_lookup(s, d, layer + 1, redirect ? redirect : name,
			      &below);
	if (r < 0)
		goto out;
	if (below.layer >= 0 && S_ISREG(below.st.st_mode)) {
		if (below.datafd >= 0) {
			o->datafd = below.datafd;
			below.datafd = -1;
		} else {
			o->datafd = openat(below.dirfd, below.rname,
					   O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (o->datafd < 0)
				r = -errno;
		}
	}
out:
	lw_obj_release(&below);
	return r;
}

/*
 * A lower file with several names: if its index entry exists, the union
 * shows the upper copy under this name (as lookup.c does).
 */
static int index_copy(const struct layer_stack *s, int dirfd, const char *name,
		      struct lw_obj *o)
{
	char entry[LAYER_INDEX_NAME_MAX];
	struct stat est;
	int r = layer_index_lookup(s->indexfd, dirfd, name, &o->st, entry,
				   &est);

	if (r <= 0)
		return r;
	free(o->rname);
	o->rname = strdup(entry);
	if (!o->rname)
		return -ENOMEM;
	o->dirfd = s->indexfd;
	o->st = est;
	o->layer = 0;
	o->indexed = true;
	return 0;
}

int lw_lookup(const struct layer_stack *s, const struct lw_dir *d, int from,
	      const char *name, struct lw_obj *o)
{
	_cleanup_free_ char *look_buf = NULL;
	const char *look = name;
	int r = 0;

	for (int i = 0; i < d->n; i++) {
		const struct lw_part *p = &d->part[i];
		bool opaque = false;
		struct stat st;

		if (p->layer < from)
			continue;
		if (fstatat(p->fd, look, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				return -errno;
			/* An OCI whiteout stands beside the name. */
			if (has_oci_whiteout(p->fd, look)) {
				if (o->layer < 0) {
					o->whiteout = true;
					o->wlayer = p->layer;
				}
				break;
			}
			continue;
		}
		if (lw_classify(p, look, &st) != LW_OBJECT) {
			if (o->layer < 0) {
				o->whiteout = true;
				o->wlayer = p->layer;
			}
			break;
		}
		if (o->layer < 0) {
			o->layer = p->layer;
			o->dirfd = p->fd;
			o->st = st;
			o->rname = strdup(look);
			if (!o->rname)
				return -ENOMEM;
			if (!S_ISDIR(st.st_mode) && p->layer > 0 &&
			    st.st_nlink > 1 && s->indexfd >= 0)
				return index_copy(s, p->fd, look, o);
			if (!S_ISDIR(st.st_mode)) {
				char c;

				if (!S_ISREG(st.st_mode) ||
				    um_marker_get(p->fd, look, UM_MARK_METACOPY,
						  UM_NS_TRUSTED, &c, 0) < 0)
					break;
				o->metacopy = true;
				return find_data(s, d, p->layer, p->fd, look,
						 o);
			}
		} else if (!S_ISDIR(st.st_mode)) {
			/* A non-directory below a directory is hidden. */
			break;
		}
		r = dir_add(&o->dir, p->layer, p->fd, look, &opaque);
		if (r < 0)
			return r;
		if (o->dir.n == 1)
			o->opaque = opaque;
		if (opaque)
			break;
		{
			_cleanup_free_ char *redirect = NULL;

			r = marker_string(p->fd, look, UM_MARK_REDIRECT,
					  &redirect);
			if (r < 0)
				return r;
			if (!redirect)
				continue;
			r = check_redirect(s, p->layer, redirect);
			if (r < 0)
				return r;
			if (o->dir.n == 1 && !o->redirect)
				o->redirect = strdup(redirect);
			if (redirect[0] == '/') {
				struct lw_obj rest;

				lw_obj_init(&rest);
				r = lw_resolve(s, p->layer + 1, redirect,
					       &rest);
				if (r == 0 && rest.layer >= 0 &&
				    S_ISDIR(rest.st.st_mode))
					r = dir_append(&o->dir, &rest.dir);
				lw_obj_release(&rest);
				return r;
			}
			/* Relative: another name in the same parent. */
			free(look_buf);
			look_buf = redirect;
			redirect = NULL;
			look = look_buf;
		}
	}
	return 0;
}

int lw_resolve(const struct layer_stack *s, int from, const char *path,
	       struct lw_obj *o)
{
	_cleanup_free_ char *copy = strdup(path);
	struct lw_dir cur;
	char *save = NULL, *comp;
	int r;

	if (!copy)
		return -ENOMEM;
	lw_obj_init(o);
	if (from >= s->n)
		return 0;
	r = lw_root(s, from, &cur);
	if (r < 0)
		return r;
	comp = strtok_r(copy, "/", &save);
	if (!comp) {
		/* The root itself. */
		o->layer = cur.part[0].layer;
		o->dir = cur;
		o->rname = strdup(".");
		o->dirfd = dup(cur.part[0].fd);
		o->own_dirfd = true;
		if (!o->rname || o->dirfd < 0)
			return -ENOMEM;
		return fstat(cur.part[0].fd, &o->st) < 0 ? -errno : 0;
	}
	while (comp) {
		char *next = strtok_r(NULL, "/", &save);

		lw_obj_release(o);
		r = lw_lookup(s, &cur, from, comp, o);
		if (r < 0 || o->layer < 0 || !next)
			break;
		if (!S_ISDIR(o->st.st_mode)) {
			lw_obj_release(o);
			break;
		}
		/* Descend: the child's parts become the directory looked in. */
		lw_dir_release(&cur);
		cur = o->dir;
		o->dir.n = 0;
		o->dir.part = NULL;
		lw_obj_release(o);
		comp = next;
	}
	/* o->dirfd is one of cur's, closed below: the object gets its own. */
	if (r == 0 && o->layer >= 0) {
		o->dirfd = dup(o->dirfd);
		o->own_dirfd = true;
		if (o->dirfd < 0)
			r = -errno;
	}
	lw_dir_release(&cur);
	return r;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void lw_free_names(char **names)
{
	if (!names)
		return;
	for (char **p = names; *p; p++)
		free(*p);
	free(names);
}

/* Append the entries of dirfd to *v (length *n, room *cap). */
static int read_names(int dirfd, char ***v, size_t *n, size_t *cap)
{
	int fd = dup(dirfd);
	struct dirent *de;
	DIR *dir;

	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	/* The fd is shared with the caller's: start from the beginning. */
	rewinddir(dir);
	errno = 0;
	while ((de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (*n + 2 > *cap) {
			size_t nc = *cap ? *cap * 2 : 32;
			char **nv = realloc(*v, nc * sizeof(*nv));

			if (!nv)
				goto oom;
			*v = nv;
			*cap = nc;
		}
		(*v)[*n] = strdup(de->d_name);
		if (!(*v)[*n])
			goto oom;
		(*n)++;
		(*v)[*n] = NULL;
		errno = 0;
	}
	if (errno) {
		int err = -errno;
		closedir(dir);
		return err;
	}
	closedir(dir);
	return 0;
oom:
	closedir(dir);
	return -ENOMEM;
}

int lw_readdir(int dirfd, char ***names, size_t *n)
{
	size_t cap = 0;
	int r;

	*names = NULL;
	*n = 0;
	r = read_names(dirfd, names, n, &cap);
	if (r == 0 && !*names) {
		*names = calloc(1, sizeof(**names));
		if (!*names)
			r = -ENOMEM;
	}
	if (r < 0) {
		lw_free_names(*names);
		*names = NULL;
		return r;
	}
	qsort(*names, *n, sizeof(**names), cmp_names);
	return 0;
}

int lw_list(const struct lw_dir *d, char ***names, size_t *n)
{
	size_t cap = 0, k = 0;
	char **v = NULL;
	int r = 0;

	*n = 0;
	for (int i = 0; i < d->n && r == 0; i++)
		r = read_names(d->part[i].fd, &v, n, &cap);
	if (r == 0 && !v) {
		v = calloc(1, sizeof(*v));
		if (!v)
			r = -ENOMEM;
	}
	if (r < 0) {
		lw_free_names(v);
		return r;
	}
	qsort(v, *n, sizeof(*v), cmp_names);
	/* Markers are not names of the union; duplicates merge. */
	for (size_t i = 0; i < *n; i++) {
		if (um_is_oci_reserved(v[i]) ||
		    (k > 0 && !strcmp(v[k - 1], v[i]))) {
			free(v[i]);
			continue;
		}
		v[k++] = v[i];
	}
	v[k] = NULL;
	*n = k;
	*names = v;
	return 0;
}

int lw_shown_stat(int dirfd, const char *name, const struct stat *raw,
		  struct stat *st, bool *overridden)
{
	static const char *const xnames[] = {UM_OVERRIDE_CONTAINERS,
					     UM_OVERRIDE_FUSEOVERLAYFS};
	char val[UM_OVERRIDE_MAX];
	struct um_override ov;

	*st = *raw;
	if (overridden)
		*overridden = false;
	for (size_t i = 0; i < sizeof(xnames) / sizeof(*xnames); i++) {
		ssize_t r = um_getxattr_at(dirfd, name, xnames[i], val,
					   sizeof(val));

		if (r == -ENODATA || r == -ENOTSUP || r == -ERANGE)
			continue;
		if (r < 0)
			return (int)r;
		if (!um_override_parse(val, (size_t)r, &ov))
			continue;
		um_override_apply(&ov, st);
		if (overridden)
			*overridden = true;
		break;
	}
	return 0;
}

void lw_xattrs_release(struct lw_xattrs *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free(x->name[i]);
		free(x->value[i]);
	}
	free(x->name);
	free(x->value);
	free(x->size);
	memset(x, 0, sizeof(*x));
}

int lw_xattrs_get(int dirfd, const char *name, bool keep_override,
		  struct lw_xattrs *x)
{
	_cleanup_free_ char *p = um_procpath_at(dirfd, name);
	_cleanup_free_ char *list = NULL;
	ssize_t len;
	size_t cnt = 0;

	memset(x, 0, sizeof(*x));
	if (!p)
		return -ENOMEM;
	len = llistxattr(p, NULL, 0);
	if (len < 0)
		return errno == ENOTSUP ? 0 : -errno;
	if (len == 0)
		return 0;
	/* Room for one more byte: the list may grow between the calls. */
	list = malloc((size_t)len + 1);
	if (!list)
		return -ENOMEM;
	len = llistxattr(p, list, (size_t)len);
	if (len < 0)
		return -errno;
	for (ssize_t i = 0; i < len; i += (ssize_t)strlen(list + i) + 1)
		cnt++;
	x->name = calloc(cnt + 1, sizeof(*x->name));
	x->value = calloc(cnt + 1, sizeof(*x->value));
	x->size = calloc(cnt + 1, sizeof(*x->size));
	if (!x->name || !x->value || !x->size) {
		lw_xattrs_release(x);
		return -ENOMEM;
	}
	for (ssize_t i = 0; i < len; i += (ssize_t)strlen(list + i) + 1) {
		const char *xn = list + i;
		ssize_t vl;

		if (um_is_private_xattr(xn) &&
		    !(keep_override && um_is_override_xattr(xn)))
			continue;
		vl = lgetxattr(p, xn, NULL, 0);
		if (vl < 0) {
			if (errno == ENODATA)
				continue;
			goto fail;
		}
		x->value[x->n] = malloc((size_t)vl + 1);
		x->name[x->n] = strdup(xn);
		if (!x->value[x->n] || !x->name[x->n]) {
			errno = ENOMEM;
			x->n++;
			goto fail;
		}
		vl = lgetxattr(p, xn, x->value[x->n], (size_t)vl);
		if (vl < 0) {
			x->n++;
			goto fail;
		}
		x->size[x->n] = (size_t)vl;
		x->n++;
	}
	/* Sorted by name, for byte-identical output: a selection sort
	 * keeps the three arrays in step and lists are short. */
	for (size_t i = 0; i < x->n; i++) {
		size_t m = i;

		for (size_t j = i + 1; j < x->n; j++)
			if (strcmp(x->name[j], x->name[m]) < 0)
				m = j;
		if (m != i) {
			char *tn = x->name[i], *tv = x->value[i];
			size_t ts = x->size[i];

			x->name[i] = x->name[m];
			x->value[i] = x->value[m];
			x->size[i] = x->size[m];
			x->name[m] = tn;
			x->value[m] = tv;
			x->size[m] = ts;
		}
	}
	return 0;
fail : {
	int err = -errno;
	lw_xattrs_release(x);
	return err;
}
}

char *lw_path_join(const char *parent, const char *name)
{
	char *s;

	if (!*parent)
		return strdup(name);
	if (asprintf(&s, "%s/%s", parent, name) < 0)
		return NULL;
	return s;
}

static int indexed_dir(const struct layer_stack *s, struct lw_dir *d,
		       const char *path,
		       int (*fn)(void *arg, const char *path, struct lw_obj *o),
		       void *arg)
{
	char **names;
	size_t n;
	int r = lw_list(d, &names, &n);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		_cleanup_free_ char *child = lw_path_join(path, names[i]);
		struct lw_obj o;

		if (!child) {
			r = -ENOMEM;
			break;
		}
		lw_obj_init(&o);
		r = lw_lookup(s, d, 0, names[i], &o);
		if (r == 0 && o.indexed)
			r = fn(arg, child, &o);
		else if (r == 0 && o.layer >= 0 && S_ISDIR(o.st.st_mode))
			r = indexed_dir(s, &o.dir, child, fn, arg);
		lw_obj_release(&o);
	}
	lw_free_names(names);
	return r;
}

int lw_foreach_indexed(const struct layer_stack *s,
		       int (*fn)(void *arg, const char *path, struct lw_obj *o),
		       void *arg)
{
	struct lw_dir root;
	int r;

	if (s->indexfd < 0)
		return 0;
	r = lw_root(s, 0, &root);
	if (r < 0)
		return r;
	r = indexed_dir(s, &root, "", fn, arg);
	lw_dir_release(&root);
	return r;
}
