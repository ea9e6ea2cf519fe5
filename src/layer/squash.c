// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * squash: a stack of layers flattened into one plain directory holding
 * exactly what the union shows (whiteouts, opaque directories and
 * redirects applied, metacopy files with their data, overrides kept),
 * hard links within the stack kept as hard links.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layer/cmd.h"
#include "layer/walk.h"
#include "markers.h"
#include "override.h"
#include "util.h"

#define COPY_CHUNK (1 << 20)

struct sq_link {
	struct {
		dev_t dev;
		ino_t ino;
	} key;
	char *rel; /* where the first name went, under OUT */
	UT_hash_handle hh;
};

struct sq {
	struct layer_stack s;
	int outroot;
	struct sq_link *links;
	char *buf;
};

static int fail(const char *rel, const char *what, int err)
{
	fprintf(stderr, "unionmount-layer squash: /%s: %s: %s\n", rel, what,
		strerror(-err));
	return err;
}

static int copy_fd(struct sq *q, int in, int out, const char *rel)
{
	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);

		if (n == 0)
			return 0;
		if (n > 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
		    errno != EOPNOTSUPP)
			return fail(rel, "copy", -errno);
		break;
	}
	/* Between file systems that refuse copy_file_range: by hand. */
	for (;;) {
		ssize_t n = read(in, q->buf, COPY_CHUNK), w = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(rel, "read", -errno);
		if (n == 0)
			return 0;
		while (w < n) {
			ssize_t k = write(out, q->buf + w, (size_t)(n - w));

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return fail(rel, "write", -errno);
			w += k;
		}
	}
}

/* Owner, mode, xattrs (overrides included), times. */
/*
 * Owner, xattrs (overrides included), mode, times, in that order: a chown
 * drops security.capability and the set-id bits, and setting the
 * capability drops the set-id bits again.
 */
static int set_meta(struct sq *q, const struct lw_obj *o, int outfd,
		    const char *name, const char *rel)
{
	const struct stat *st = &o->st;
	struct lw_xattrs xa;
	bool has_override = false;
	int r;

	r = lw_xattrs_get(o->dirfd, o->rname, true, &xa);
	if (r < 0)
		return fail(rel, "xattrs", r);
	for (size_t i = 0; i < xa.n; i++)
		if (um_is_override_xattr(xa.name[i]))
			has_override = true;
	if (fchownat(outfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) <
	    0) {
		struct um_override ov = {st->st_uid, st->st_gid,
					 st->st_mode & 07777, 0};
		char val[UM_OVERRIDE_MAX];

		if (errno != EPERM && errno != EINVAL) {
			r = fail(rel, "chown", -errno);
			goto out;
		}
		/* Rootless: the owner goes where the union reads it. */
		if (!has_override) {
			r = um_setxattr_at(outfd, name, UM_OVERRIDE_CONTAINERS,
					   val, um_override_format(&ov, val),
					   0);
			if (r < 0) {
				fail(rel, "override", r);
				goto out;
			}
		}
	}
	for (size_t i = 0; i < xa.n && r == 0; i++) {
		r = um_setxattr_at(outfd, name, xa.name[i], xa.value[i],
				   xa.size[i], 0);
		if (r < 0)
			fail(rel, xa.name[i], r);
	}
	if (r == 0 && !S_ISLNK(st->st_mode) &&
	    fchmodat(outfd, name, st->st_mode & 07777, 0) < 0)
		r = fail(rel, "chmod", -errno);
	if (r == 0) {
		struct timespec ts[2] = {st->st_atim, st->st_mtim};

		if (utimensat(outfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
			r = fail(rel, "utimensat", -errno);
	}
out:
	lw_xattrs_release(&xa);
	return r;
}

static int squash_dir(struct sq *q, struct lw_dir *d, int outfd,
		      const char *rel);

static int copy_obj(struct sq *q, struct lw_obj *o, int outfd, const char *name,
		    const char *rel)
{
	const struct stat *st = &o->st;
	int r;

	if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
		struct sq_link *l;
		struct sq_link key = {.key = {st->st_dev, st->st_ino}};

		HASH_FIND(hh, q->links, &key.key, sizeof(key.key), l);
		if (l) {
			if (linkat(q->outroot, l->rel, outfd, name, 0) < 0)
				return fail(rel, "link", -errno);
			return 0;
		}
		l = calloc(1, sizeof(*l));
		if (!l || !(l->rel = strdup(rel))) {
			free(l);
			return fail(rel, "link", -ENOMEM);
		}
		l->key = key.key;
		HASH_ADD(hh, q->links, key, sizeof(l->key), l);
	}
	switch (st->st_mode & S_IFMT) {
	case S_IFDIR: {
		_cleanup_close_ int fd = -1;

		if (mkdirat(outfd, name, 0700) < 0)
			return fail(rel, "mkdir", -errno);
		fd = openat(outfd, name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return fail(rel, "open", -errno);
		r = squash_dir(q, &o->dir, fd, rel);
		if (r < 0)
			return r;
		break;
	}
	case S_IFREG: {
		_cleanup_close_ int in = -1, out = -1;

		if (o->metacopy && o->datafd < 0)
			return fail(rel, "metacopy data", -ENOENT);
		in = o->datafd >= 0 ? dup(o->datafd)
				    : openat(o->dirfd, o->rname,
					     O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (in < 0)
			return fail(rel, "open", -errno);
		if (lseek(in, 0, SEEK_SET) < 0)
			return fail(rel, "seek", -errno);
		out = openat(outfd, name,
			     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				     O_CLOEXEC,
			     0600);
		if (out < 0)
			return fail(rel, "create", -errno);
		r = copy_fd(q, in, out, rel);
		if (r < 0)
			return r;
		break;
	}
	case S_IFLNK: {
		_cleanup_free_ char *t = malloc((size_t)st->st_size + 2);
		ssize_t n;

		if (!t)
			return fail(rel, "readlink", -ENOMEM);
		n = readlinkat(o->dirfd, o->rname, t, (size_t)st->st_size + 1);
		if (n < 0)
			return fail(rel, "readlink", -errno);
		t[n] = '\0';
		if (symlinkat(t, outfd, name) < 0)
			return fail(rel, "symlink", -errno);
		break;
	}
	default:
		if (mknodat(outfd, name, (st->st_mode & S_IFMT) | 0600,
			    st->st_rdev) < 0) {
			struct um_override ov = {st->st_uid, st->st_gid,
						 st->st_mode, st->st_rdev};
			char val[UM_OVERRIDE_MAX];
			int fd;

			if (errno != EPERM)
				return fail(rel, "mknod", -errno);
			/* Unprivileged: an empty file that says what it is. */
			fd = openat(outfd, name,
				    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
					    O_CLOEXEC,
				    0600);
			if (fd < 0)
				return fail(rel, "create", -errno);
			close(fd);
			r = um_setxattr_at(outfd, name, UM_OVERRIDE_CONTAINERS,
					   val, um_override_format(&ov, val),
					   0);
			if (r < 0)
				return fail(rel, "override", r);
		}
	}
	return set_meta(q, o, outfd, name, rel);
}

static int squash_dir(struct sq *q, struct lw_dir *d, int outfd,
		      const char *rel)
{
	char **names;
	size_t n;
	int r = lw_list(d, &names, &n);

	if (r < 0)
		return fail(rel, "readdir", r);
	for (size_t i = 0; i < n && r == 0; i++) {
		_cleanup_free_ char *child = lw_path_join(rel, names[i]);
		struct lw_obj o;

		if (!child) {
			r = fail(rel, "path", -ENOMEM);
			break;
		}
		lw_obj_init(&o);
		r = lw_lookup(&q->s, d, 0, names[i], &o);
		if (r < 0)
			r = fail(child, "lookup", r);
		else if (o.layer >= 0)
			r = copy_obj(q, &o, outfd, names[i], child);
		lw_obj_release(&o);
	}
	lw_free_names(names);
	return r;
}

static const char squash_help[] =
	"Flatten the layers L1 (top) to Ln into OUT (made if missing, else\n"
	"empty): one plain directory with exactly what the union of them\n"
	"shows.  Hard links are kept; owners that cannot be set go into\n"
	"user.containers.override_stat.\n";

int cmd_squash(int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
					     {0}};
	struct sq q = {.outroot = -1};
	struct sq_link *l, *tmp;
	struct lw_dir root;
	struct lw_obj ro;
	char **layers;
	int n, c, r;
	char **names;
	size_t nn;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			layer_help("squash", squash_help);
			return 0;
		}
		layer_usage_error("squash", "bad option \"%s\"",
				  argv[optind - 1]);
	}
	if (argc - optind != 2)
		layer_usage_error("squash", "expected LAYERS and OUT");
	layers = layer_lowers_arg("squash", argv[optind], &n);
	for (int i = 0; i < n; i++)
		if (layer_inside(argv[optind + 1], layers[i]))
			layer_usage_error("squash", "%s is inside the layer %s",
					  argv[optind + 1], layers[i]);
	if (mkdir(argv[optind + 1], 0755) < 0 && errno != EEXIST)
		return layer_error("squash", "%s: %s", argv[optind + 1],
				   strerror(errno));
	q.outroot = open(argv[optind + 1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (q.outroot < 0)
		layer_usage_error("squash", "%s: %s", argv[optind + 1],
				  strerror(errno));
	r = lw_readdir(q.outroot, &names, &nn);
	if (r < 0)
		return layer_error("squash", "%s: %s", argv[optind + 1],
				   strerror(-r));
	lw_free_names(names);
	if (nn)
		layer_usage_error("squash", "%s is not empty",
				  argv[optind + 1]);
	q.buf = malloc(COPY_CHUNK);
	r = q.buf ? layer_stack_open(&q.s, layers[0],
				     (const char *const *)layers + 1, n - 1)
		  : -ENOMEM;
	if (r == 0) {
		r = lw_root(&q.s, 0, &root);
		if (r == 0) {
			r = squash_dir(&q, &root, q.outroot, "");
			/* The root keeps the top layer's metadata. */
			lw_obj_init(&ro);
			if (r == 0)
				r = lw_resolve(&q.s, 0, "/", &ro);
			if (r == 0)
				r = set_meta(&q, &ro, q.outroot, ".", "");
			lw_obj_release(&ro);
			lw_dir_release(&root);
		}
		layer_stack_release(&q.s);
	}
	HASH_ITER(hh, q.links, l, tmp)
	{
		HASH_DEL(q.links, l);
		free(l->rel);
		free(l);
	}
	free(q.buf);
	close(q.outroot);
	layer_free_list(layers);
	return r < 0 ? LAYER_EXIT_FAIL : 0;
}
