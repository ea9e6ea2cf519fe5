// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * commit: `docker commit` for any union.  After unmount, the upper becomes
 * a read-only layer NEWLAYER and UPPER is left empty, so that
 * `unionmount NEWLAYER:L1:L2 UPPER M` continues where the container left
 * off.
 *
 * The upper is renamed, not copied: O(1), and every marker stays in the
 * kernel's format (char 0:0 whiteouts, overlay.opaque, redirects), so
 * kernel overlayfs and unionmount both mount the new layer.  Metacopy
 * files get their data first: a layer must not depend on metacopy=on,
 * nor keep a data redirect that a remount could resolve elsewhere.  The
 * work directory's leftovers (temporary copies, an index of the old
 * upper's inodes) are removed: they describe the upper that is gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layer/cmd.h"
#include "layer/hlindex.h"
#include "layer/walk.h"
#include "lock.h"
#include "markers.h"
#include "util.h"

static int fail(const char *rel, const char *what, int err)
{
	fprintf(stderr, "unionmount-layer commit: /%s: %s: %s\n", rel, what,
		strerror(-err));
	return err;
}

/* Write the lower data into the metacopy file and drop its markers. */
/* The whole of in to out (both at offset 0). */
static int copy_all(int in, int out)
{
	char *buf = NULL;
	int r = 0;

	for (;;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);

		if (n == 0)
			return 0;
		if (n > 0 || errno == EINTR)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
		    errno != EOPNOTSUPP)
			return -errno;
		break;
	}
	/* Between file systems that refuse copy_file_range: by hand. */
	buf = malloc(1 << 20);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(in, buf, 1 << 20), w = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : 0;
			break;
		}
		while (w < n && r == 0) {
			ssize_t k = write(out, buf + w, (size_t)(n - w));

			if (k < 0 && errno != EINTR)
				r = -errno;
			else if (k > 0)
				w += k;
		}
		if (r < 0)
			break;
	}
	free(buf);
	return r;
}

#define CAPABILITY_XATTR "security.capability"

/* Write the lower data into the metacopy file and drop its markers. */
static int fill_metacopy(struct lw_obj *o, const char *rel)
{
	struct timespec ts[2] = {o->st.st_atim, o->st.st_mtim};
	_cleanup_close_ int out = -1;
	char cap[64];
	ssize_t caplen;
	int r;

	if (o->datafd < 0)
		return fail(rel, "metacopy file without data in --lowers",
			    -ENOENT);
	/* A write drops the capability (and, but for root, set-id bits):
	 * kept here, put back after. */
	caplen = um_getxattr_at(o->dirfd, o->rname, CAPABILITY_XATTR, cap,
				sizeof(cap));
	if (caplen < 0 && caplen != -ENODATA && caplen != -ENOTSUP)
		return fail(rel, CAPABILITY_XATTR, (int)caplen);
	out = openat(o->dirfd, o->rname, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (out < 0)
		return fail(rel, "open", -errno);
	if (lseek(o->datafd, 0, SEEK_SET) < 0)
		return fail(rel, "seek", -errno);
	r = copy_all(o->datafd, out);
	if (r < 0)
		return fail(rel, "copy", r);
	if (caplen >= 0) {
		r = um_setxattr_at(o->dirfd, o->rname, CAPABILITY_XATTR, cap,
				   (size_t)caplen, 0);
		if (r < 0)
			return fail(rel, CAPABILITY_XATTR, r);
	}
	if (fchmod(out, o->st.st_mode & 07777) < 0)
		return fail(rel, "chmod", -errno);
	if (fsync(out) < 0)
		return fail(rel, "fsync", -errno);
	/* Data first, then the markers: a crash leaves a valid metacopy. */
	for (int ns = 0; ns < UM_NS_COUNT; ns++) {
		for (int m = 0; m < 2; m++) {
			const char *xn = um_marker_name(
				m ? UM_MARK_REDIRECT : UM_MARK_METACOPY, ns);

			r = um_removexattr_at(o->dirfd, o->rname, xn);
			if (r < 0 && r != -ENODATA)
				return fail(rel, xn, r);
		}
	}
	if (utimensat(o->dirfd, o->rname, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(rel, "utimensat", -errno);
	return 0;
}

static int fill_dir(const struct layer_stack *s, struct lw_dir *d,
		    const char *rel)
{
	char **names;
	size_t n;
	int r = lw_readdir(d->part[0].fd, &names, &n);

	if (r < 0)
		return fail(rel, "readdir", r);
	for (size_t i = 0; i < n && r == 0; i++) {
		_cleanup_free_ char *child = lw_path_join(rel, names[i]);
		struct lw_obj o;
		struct stat st;

		if (!child) {
			r = -ENOMEM;
			break;
		}
		if (fstatat(d->part[0].fd, names[i], &st, AT_SYMLINK_NOFOLLOW) <
		    0) {
			r = fail(child, "stat", -errno);
			break;
		}
		if (lw_classify(&d->part[0], names[i], &st) != LW_OBJECT ||
		    !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)))
			continue;
		lw_obj_init(&o);
		r = lw_lookup(s, d, 0, names[i], &o);
		if (r < 0)
			r = fail(child, "lookup", r);
		else if (o.layer == 0 && S_ISDIR(o.st.st_mode))
			r = fill_dir(s, &o.dir, child);
		else if (o.layer == 0 && o.metacopy)
			r = fill_metacopy(&o, child);
		lw_obj_release(&o);
	}
	lw_free_names(names);
	return r;
}

/* A directory made in the upper takes the union's metadata for it. */
static int copy_dir_meta(const struct layer_stack *s, const char *upath,
			 int dfd, const char *name)
{
	_cleanup_free_ char *abs = NULL;
	struct lw_xattrs xa;
	struct lw_obj src;
	int r;

	if (asprintf(&abs, "/%s", upath) < 0)
		return -ENOMEM;
	lw_obj_init(&src);
	r = lw_resolve(s, 1, abs, &src);
	if (r < 0 || src.layer < 0)
		goto out;
	r = lw_xattrs_get(src.dirfd, src.rname, true, &xa);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < xa.n && r == 0; i++)
		r = um_setxattr_at(dfd, name, xa.name[i], xa.value[i],
				   xa.size[i], 0);
	lw_xattrs_release(&xa);
	if (r == 0 && (fchownat(dfd, name, src.st.st_uid, src.st.st_gid,
				AT_SYMLINK_NOFOLLOW) < 0 ||
		       fchmodat(dfd, name, src.st.st_mode & 07777, 0) < 0))
		r = -errno;
	if (r == 0) {
		struct timespec ts[2] = {src.st.st_atim, src.st.st_mtim};

		if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
			r = -errno;
	}
out:
	lw_obj_release(&src);
	return r;
}

struct link_ctx {
	const struct layer_stack *s;
};

/*
 * Link an indexed copy into the upper under the name of the lower hard
 * link it stands for, making the upper directories on the way (the
 * copy-up of parents): the layer is then complete without the index.
 */
static int link_indexed(void *arg, const char *path, struct lw_obj *o)
{
	struct link_ctx *c = arg;
	_cleanup_free_ char *copy = strdup(path);
	_cleanup_free_ char *done = NULL;
	char *comp, *next, *save = NULL;
	int fd, r = 0;

	if (!copy)
		return -ENOMEM;
	fd = dup(c->s->root[0]);
	if (fd < 0)
		return fail(path, "dup", -errno);
	comp = strtok_r(copy, "/", &save);
	while (comp && (next = strtok_r(NULL, "/", &save))) {
		_cleanup_free_ char *prefix =
			done ? lw_path_join(done, comp) : strdup(comp);
		int nfd;

		if (!prefix) {
			r = -ENOMEM;
			break;
		}
		if (mkdirat(fd, comp, 0700) == 0) {
			r = copy_dir_meta(c->s, prefix, fd, comp);
			if (r < 0) {
				fail(prefix, "copy up directory", r);
				break;
			}
		} else if (errno != EEXIST) {
			r = fail(prefix, "mkdir", -errno);
			break;
		}
		nfd = openat(fd, comp,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0) {
			r = fail(prefix, "open", -errno);
			break;
		}
		close(fd);
		fd = nfd;
		free(done);
		done = prefix;
		prefix = NULL;
		comp = next;
	}
	if (r == 0 && linkat(o->dirfd, o->rname, fd, comp, 0) < 0)
		r = fail(path, "link the indexed copy", -errno);
	close(fd);
	return r;
}

/* The whole of a small /proc file, NUL-terminated; NULL if unreadable. */
static char *read_small(const char *path, size_t *len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 4096;
	char *buf;

	*len = 0;
	if (fd < 0 || !(buf = malloc(cap + 1)))
		return NULL;
	for (;;) {
		ssize_t n = read(fd, buf + *len, cap - *len);

		if (n <= 0)
			break;
		*len += (size_t)n;
		if (*len == cap) {
			char *nb = realloc(buf, cap * 2 + 1);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
	}
	buf[*len] = '\0';
	return buf;
}

/*
 * Is path the upper of a mount?  A unionmount daemon holds a flock() on
 * its upper for the life of the mount (lock.h): taking it here both tells
 * and keeps a mount from starting while the commit runs (*lockfd keeps
 * it).  Kernel mounts say so in mountinfo.
 */
static bool in_use(const char *path, int *lockfd)
{
	_cleanup_free_ char *info = NULL, *needle = NULL;
	size_t len;

	*lockfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*lockfd >= 0 && flock(*lockfd, LOCK_EX | LOCK_NB) < 0 &&
	    errno == EWOULDBLOCK)
		return true;
	if (asprintf(&needle, "upperdir=%s", path) < 0)
		return false;
	info = read_small("/proc/self/mountinfo", &len);
	for (char *p = info; p && (p = strstr(p, needle)); p++)
		if (strchr(",\n ", p[strlen(needle)]))
			return true;
	return false;
}

/*
 * What a work directory holds: unionmount's temporary and index
 * directories, the kernel's.  Nothing else is ever removed, so a wrong
 * --workdir cannot wipe a tree.
 */
static const char *const work_names[] = {"unionmount", "unionmount-index",
					 "work", "index"};

static bool is_work_name(const char *name)
{
	for (size_t i = 0; i < sizeof(work_names) / sizeof(*work_names); i++)
		if (!strcmp(name, work_names[i]))
			return true;
	return false;
}

/* 0 if dir is missing or holds only work_names, else the first other. */
static int check_work_dir(const char *dir, char **other)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char **names;
	size_t n;
	int r;

	*other = NULL;
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	r = lw_readdir(fd, &names, &n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && !*other; i++)
		if (!is_work_name(names[i]) && !(*other = strdup(names[i])))
			r = -ENOMEM;
	lw_free_names(names);
	return r;
}

/* Empty the work directory (its known parts) but keep it. */
static int clear_work_dir(const char *dir)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	for (size_t i = 0;
	     i < sizeof(work_names) / sizeof(*work_names) && r == 0; i++) {
		r = um_rmtree_at(fd, work_names[i]);
		if (r == -ENOENT)
			r = 0;
	}
	return r;
}

static const char commit_help[] =
	"Turn UPPER (not mounted) into the read-only layer NEWLAYER (which\n"
	"must not exist, on the same file system) and leave UPPER empty, so\n"
	"that `unionmount NEWLAYER:L1:L2 UPPER M` continues the union.\n"
	"Metacopy files get their data from the lowers; the work directory's\n"
	"leftovers are removed.\n\n"
	"  --lowers L1:L2:...  the layers below UPPER, topmost first\n"
	"  --workdir WORK      the work directory (default: kernel-style\n"
	"                      none, unionmount's .UPPER.unionmount-work)\n";

int cmd_commit(int argc, char **argv)
{
	static const struct option opts[] = {
		{"lowers", required_argument, NULL, 'L'},
		{"workdir", required_argument, NULL, 'w'},
		{"help", no_argument, NULL, 'h'},
		{0}};
	_cleanup_free_ char *upper = NULL, *work = NULL, *ucopy = NULL;
	const char *newlayer, *workarg = NULL;
	char **lowers = NULL;
	struct layer_stack s;
	struct lw_dir root;
	struct stat st;
	_cleanup_close_ int lockfd = -1;
	int nlowers = 0, c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'L':
			layer_free_list(lowers);
			lowers = layer_lowers_arg("commit", optarg, &nlowers);
			break;
		case 'w':
			workarg = optarg;
			break;
		case 'h':
			layer_help("commit", commit_help);
			return 0;
		default:
			layer_usage_error("commit", "bad option \"%s\"",
					  argv[optind - 1]);
		}
	}
	if (!lowers)
		layer_usage_error("commit", "--lowers is required");
	if (argc - optind != 2)
		layer_usage_error("commit", "expected UPPER and NEWLAYER");
	layer_need_dir("commit", "upper", argv[optind]);
	newlayer = argv[optind + 1];
	if (lstat(newlayer, &st) == 0)
		layer_usage_error("commit", "%s exists", newlayer);
	for (int i = 0; i <= nlowers; i++) {
		const char *l = i < nlowers ? lowers[i] : argv[optind];

		if (layer_inside(newlayer, l))
			layer_usage_error("commit", "%s is inside the layer %s",
					  newlayer, l);
	}
	upper = realpath(argv[optind], NULL);
	if (!upper)
		return layer_error("commit", "%s: %s", argv[optind],
				   strerror(errno));
	if (in_use(upper, &lockfd))
		layer_usage_error("commit",
				  "%s is mounted as an upper: "
				  "unmount first",
				  upper);
	if (workarg) {
		work = strdup(workarg);
	} else {
		ucopy = strdup(upper);
		if (ucopy) {
			_cleanup_free_ char *dcopy = strdup(upper);
			if (dcopy &&
			    asprintf(&work, "%s/.%s.unionmount-work",
				     dirname(dcopy), basename(ucopy)) < 0)
				work = NULL;
		}
	}
	if (!work)
		return layer_error("commit", "out of memory");
	if (stat(upper, &st) < 0)
		return layer_error("commit", "%s: %s", upper, strerror(errno));
	{
		_cleanup_free_ char *other = NULL;

		r = check_work_dir(work, &other);
		if (r < 0)
			return layer_error("commit", "%s: %s", work,
					   strerror(-r));
		if (other)
			layer_usage_error("commit",
					  "%s does not look like a work "
					  "directory (it holds \"%s\")",
					  work, other);
	}

	r = layer_stack_open(&s, upper, (const char *const *)lowers, nlowers);
	if (r < 0)
		return LAYER_EXIT_FAIL;
	s.indexfd = layer_index_open(work, upper);
	if (s.indexfd < -1) {
		r = fail("", "hard-link index", s.indexfd);
		s.indexfd = -1;
	} else {
		r = lw_root(&s, 0, &root);
	}
	if (r == 0) {
		r = fill_dir(&s, &root, "");
		lw_dir_release(&root);
	}
	if (r == 0) {
		struct link_ctx lc = {&s};

		r = lw_foreach_indexed(&s, link_indexed, &lc);
	}
	layer_stack_release(&s);
	layer_free_list(lowers);
	if (r < 0)
		return LAYER_EXIT_FAIL;

	if (rename(upper, newlayer) < 0) {
		if (errno == EXDEV)
			layer_usage_error("commit",
					  "%s is not on the file "
					  "system of %s",
					  newlayer, upper);
		return layer_error("commit", "rename %s to %s: %s", upper,
				   newlayer, strerror(errno));
	}
	if (mkdir(upper, st.st_mode & 07777) < 0 ||
	    chown(upper, st.st_uid, st.st_gid) < 0 ||
	    chmod(upper, st.st_mode & 07777) < 0)
		return layer_error("commit", "new empty %s: %s", upper,
				   strerror(errno));
	r = clear_work_dir(work);
	if (r < 0)
		return layer_error("commit", "clearing %s: %s", work,
				   strerror(-r));
	return 0;
}
