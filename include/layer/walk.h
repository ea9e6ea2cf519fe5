/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The layer-walking core of unionmount-layer: a stack of layer
 * directories read the way the union reads them (top-down; whiteouts,
 * opaque directories and redirects applied), through fds held on every
 * directory and never through joined path strings.  What counts as a
 * whiteout, an opaque directory, a redirect or a metacopy file comes from
 * markers.h, the module the file system itself uses.
 */
#ifndef UM_LAYER_WALK_H
#define UM_LAYER_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "override.h"

/* Layer directories, 0 the top one (an upper or the topmost lower). */
struct layer_stack {
	int n;
	int *root;	   /* O_RDONLY|O_DIRECTORY */
	const char **path; /* as given, for messages */
	int indexfd;	   /* the work dir's hard-link index, -1: none
			    * (hlindex.h); set by the caller */
};

/* Open top and lowers (topmost first).  0 or -errno, with a message. */
int layer_stack_open(struct layer_stack *s, const char *top,
		     const char *const *lowers, int nlowers);
void layer_stack_release(struct layer_stack *s);
/* Split "L1:L2:..." (with \: and \\ escapes) into a NULL-ended array. */
char **layer_split_list(const char *list, int *n);
void layer_free_list(char **v);

/* One real directory of a union directory. */
struct lw_part {
	int layer;
	int fd;		 /* O_RDONLY|O_DIRECTORY, owned */
	bool xwhiteouts; /* overlay.opaque=x: xattr whiteouts inside */
};

/* A directory of the union: its real directories, topmost first. */
struct lw_dir {
	int n;
	struct lw_part *part;
};

/* What a name of a union directory is. */
struct lw_obj {
	int layer;     /* of the visible object; -1: none */
	bool whiteout; /* hidden by a whiteout (in layer wlayer) */
	int wlayer;
	int dirfd; /* the object's parent in its layer
		    * (borrowed from the lw_dir looked in,
		    * unless own_dirfd) */
	bool own_dirfd;
	char *rname;	/* its name there (a relative redirect may
			 * give the lower parts another one) */
	struct stat st; /* lstat of it, raw */
	/* directories */
	struct lw_dir dir; /* its parts, the object's own first */
	bool opaque;	   /* the object's own part hides the lowers */
	char *redirect;	   /* its redirect xattr, or NULL */
	/*
	 * Non-directories: a lower hard link the union shows as its indexed
	 * upper copy (layer 0; dirfd/rname are the index entry; the name is
	 * not in the upper itself).
	 */
	bool indexed;
	/* regular files */
	bool metacopy; /* data below: datafd */
	int datafd;    /* O_RDONLY on the data, -1: the object's */
};

void lw_dir_release(struct lw_dir *d);
void lw_obj_init(struct lw_obj *o);
void lw_obj_release(struct lw_obj *o);

/* The union's root directory over layers from..n-1.  0 or -errno. */
int lw_root(const struct layer_stack *s, int from, struct lw_dir *d);

/*
 * Look name up in the union directory d, in the parts of layers >= from
 * only.  Fills o (lw_obj_init'ed); o->layer < 0 if nothing is visible.
 * 0 or -errno.
 */
int lw_lookup(const struct layer_stack *s, const struct lw_dir *d, int from,
	      const char *name, struct lw_obj *o);

/* Resolve an absolute union path ("/a/b") in layers >= from. */
int lw_resolve(const struct layer_stack *s, int from, const char *path,
	       struct lw_obj *o);

/*
 * The names one real directory holds, sorted bytewise, without "." and
 * "..".  *names is a NULL-ended malloc'ed array.  0 or -errno.
 */
int lw_readdir(int dirfd, char ***names, size_t *n);
void lw_free_names(char **names);

/*
 * Every candidate name of a union directory (the sorted union of its
 * parts' names, markers left out): lw_lookup tells which are visible.
 */
int lw_list(const struct lw_dir *d, char ***names, size_t *n);

/* How an entry of one real directory reads (see the markers). */
enum lw_kind {
	LW_OBJECT,
	LW_WHITEOUT,	 /* char 0:0, or an xattr whiteout in an "x" dir */
	LW_OCI_WHITEOUT, /* ".wh.NAME": a whiteout of NAME */
	LW_OCI_OPAQUE,	 /* ".wh..wh..opq" */
};
enum lw_kind lw_classify(const struct lw_part *p, const char *name,
			 const struct stat *st);

/* The metadata the union shows: st with the override xattr applied. */
int lw_shown_stat(int dirfd, const char *name, const struct stat *raw,
		  struct stat *st, bool *overridden);

/*
 * The xattrs of dirfd/name a layer carries along: the names not private
 * to the overlay/unionmount (override xattrs too if keep_override),
 * sorted.  *names NULL-ended, values and sizes parallel.  0 or -errno.
 */
struct lw_xattrs {
	size_t n;
	char **name;
	char **value;
	size_t *size;
};
int lw_xattrs_get(int dirfd, const char *name, bool keep_override,
		  struct lw_xattrs *x);
void lw_xattrs_release(struct lw_xattrs *x);

/*
 * Call fn for every name of the union (in path order) that shows an
 * indexed upper copy while the upper has no such name (o->indexed):
 * the names a change through another name of a lower hard link changed
 * too.  Walks the whole union: only worth it when s->indexfd >= 0.
 * Stops at fn's first non-zero return and returns it; 0 or -errno.
 */
int lw_foreach_indexed(const struct layer_stack *s,
		       int (*fn)(void *arg, const char *path, struct lw_obj *o),
		       void *arg);

/* "a/b" + "c": malloc'ed "a/b/c" ("c" when parent is ""); for output. */
char *lw_path_join(const char *parent, const char *name);

#endif
