// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Mount-time setup.  Every layer is opened once as an O_PATH directory fd
 * and every later access is relative to one of those fds.  Index 0 is
 * reserved for the upper layer even in a read-only union, so that
 * "layer == 0" always means "in the upper".
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs.h"
#include "index.h"
#include "ino.h"
#include "inode.h"
#include "util.h"
#include "whiteout.h"

#define WORK_SUBDIR "unionmount"

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int open_layer(struct um_fs *fs, int idx, const char *path, bool upper,
		      char *err, size_t errlen)
{
	struct um_layer *l = &fs->layers[idx];
	struct stat st;

	l->idx = idx;
	l->upper = upper;
	l->path = strdup(path);
	l->fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (l->fd < 0 || !l->path)
		return fail(err, errlen, "cannot open %s: %s", path,
			    strerror(errno));
	if (fstat(l->fd, &st) < 0)
		return fail(err, errlen, "cannot stat %s: %s", path,
			    strerror(errno));
	l->dev = st.st_dev;
	return 0;
}

/* Give each distinct file system among the layers a small index. */
static void assign_fsids(struct um_fs *fs)
{
	unsigned n = 0;

	for (int i = 0; i < fs->nlayers; i++) {
		struct um_layer *l = &fs->layers[i];
		if (l->fd < 0)
			continue;
		l->fsid = n;
		for (int j = 0; j < i; j++) {
			if (fs->layers[j].fd >= 0 &&
			    fs->layers[j].dev == l->dev) {
				l->fsid = fs->layers[j].fsid;
				break;
			}
		}
		if (l->fsid == n)
			n++;
	}
	fs->fsid_bits = um_ino_fsid_bits(n);
}

/*
 * The work directory's subdirectory holds only our temporary objects:
 * start it empty.  The hard-link index beside it lasts (index.h).
 */
static int open_work(struct um_fs *fs, const char *work, char *err,
		     size_t errlen)
{
	int wfd = open(work, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (wfd < 0)
		return fail(err, errlen, "cannot open workdir %s: %s", work,
			    strerror(errno));
	r = um_rmtree_at(wfd, WORK_SUBDIR);
	if (r < 0) {
		close(wfd);
		return fail(err, errlen, "cannot clean workdir %s: %s", work,
			    strerror(-r));
	}
	if (mkdirat(wfd, WORK_SUBDIR, 0700) < 0) {
		close(wfd);
		return fail(err, errlen, "cannot use workdir %s: %s", work,
			    strerror(errno));
	}
	if (!fs->cfg->no_index) {
		fs->indexfd = um_index_open(wfd, true);
		if (fs->indexfd < 0) {
			close(wfd);
			return fail(err, errlen,
				    "cannot make the index in %s: %s", work,
				    strerror(-fs->indexfd));
		}
	}
	fs->workfd = openat(wfd, WORK_SUBDIR, O_PATH | O_DIRECTORY | O_CLOEXEC);
	close(wfd);
	if (fs->workfd < 0)
		return fail(err, errlen, "cannot open workdir %s: %s", work,
			    strerror(errno));
	return 0;
}

/* What may we write into the upper? Try it in the work directory. */
static void probe_upper(struct um_fs *fs)
{
	char tmp[UM_TMPNAME_MAX];

	um_tmpname(fs, tmp);
	fs->can_mknod = mknodat(fs->workfd, tmp, S_IFCHR, 0) == 0;
	if (fs->can_mknod)
		unlinkat(fs->workfd, tmp, 0);

	/* Trusted markers if we may set them, as the kernel mounted by root. */
	fs->xattr_ns = UM_NS_USER;
	if (mkdirat(fs->workfd, tmp, 0700) == 0) {
		struct um_path p = UM_PATH(UM_LAYER_WORK, fs->workfd, tmp);
		if (um_path_setxattr(
			    &p, um_marker_name(UM_MARK_OPAQUE, UM_NS_TRUSTED),
			    "y", 1, 0) == 0)
			fs->xattr_ns = UM_NS_TRUSTED;
		unlinkat(fs->workfd, tmp, AT_REMOVEDIR);
	}
}

/* Is capability bit cap in our effective set? */
static bool have_cap(int cap)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
	unsigned long long eff;
	char line[256];

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			return eff & (1ULL << cap);
	return geteuid() == 0;
}

/* Do we run in the initial user namespace, where ids are the host's? */
static bool in_initial_userns(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/uid_map", "re");
	unsigned long inside, outside, count;

	return !f ||
	       (fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3 &&
		inside == 0 && outside == 0 && count == 4294967295UL);
}

/*
 * Who may own what.  Without the privilege to give objects away or make
 * devices (rootless), owners and devices asked for are kept in the
 * override xattr containers-storage uses, and read back from it.
 */
static void probe_privilege(struct um_fs *fs)
{
	bool chown_cap = have_cap(CAP_CHOWN);

	fs->can_chown = chown_cap;
	switch (fs->cfg->xattr_permissions) {
	case UM_XATTR_PERMS_FUSEOVERLAYFS:
		fs->override_xattr = UM_OVERRIDE_FUSEOVERLAYFS;
		fs->override_always = true;
		break;
	case UM_XATTR_PERMS_CONTAINERS:
		fs->override_xattr = UM_OVERRIDE_CONTAINERS;
		fs->override_always = true;
		break;
	case UM_XATTR_PERMS_OFF:
		if (!chown_cap || !have_cap(CAP_MKNOD) || !in_initial_userns())
			fs->override_xattr = UM_OVERRIDE_CONTAINERS;
		break;
	}
}

static int make_root(struct um_fs *fs, char *err, size_t errlen)
{
	struct um_inode *root = calloc(1, sizeof(*root));
	int top = fs->layers[0].fd >= 0 ? 0 : 1;
	int nlowers = fs->nlayers - 1;
	struct stat st;

	if (!root)
		return fail(err, errlen, "out of memory");
	pthread_mutex_init(&root->lock, NULL);
	pthread_mutex_init(&root->times_lock, NULL);
	root->layer = top;
	root->type = S_IFDIR;
	root->refs = 1;
	root->name = strdup("");
	root->lowers = calloc(nlowers, sizeof(*root->lowers));
	fs->root = root;
	if (!root->name || !root->lowers)
		return fail(err, errlen, "out of memory");
	for (int i = 1; i < fs->nlayers; i++) {
		int fd = fcntl(fs->layers[i].fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return fail(err, errlen, "dup: %s", strerror(errno));
		root->lowers[root->nlowers++] = (struct um_realdir){
			.layer = i,
			.fd = fd,
			.xwhiteouts = um_dir_opaque(&UM_PATH(i, fd, "")) ==
				      UM_XWHITEOUTS};
	}
	root->fd = top == 0 ? fcntl(fs->layers[0].fd, F_DUPFD_CLOEXEC, 0)
			    : root->lowers[0].fd;
	if (root->fd < 0 || fstat(root->fd, &st) < 0)
		return fail(err, errlen, "root: %s", strerror(errno));
	root->key = (struct um_key){.dev = st.st_dev, .ino = st.st_ino};
	root->ino = um_ino_map(fs->layers[top].fsid, fs->fsid_bits, st.st_ino);
	HASH_ADD(hh, fs->table, key, sizeof(struct um_key), root);
	return 0;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int um_fs_init(struct um_fs *fs, struct um_config *cfg, char *err,
	       size_t errlen)
{
	memset(fs, 0, sizeof(*fs));
	fs->cfg = cfg;
	fs->workfd = -1;
	fs->indexfd = -1;
	fs->timeout = cfg->timeout;
	fs->whiteout = cfg->whiteout;
	fs->fsync = !cfg->no_fsync;
	fs->redirect_follow_read = cfg->redirect_dir != UM_REDIRECT_NOFOLLOW;
	fs->redirect_create = cfg->redirect_dir == UM_REDIRECT_ON;
	fs->xattr_ns = UM_NS_USER;
	/* -d: every call on a layer is logged beside the FUSE requests. */
	um_trace_layers(cfg->debug);
	if (um_fault_init(err, errlen) < 0)
		return -1;
	pthread_mutex_init(&fs->table_lock, NULL);
	raise_fd_limit();
	/* Modes come from the kernel already masked. */
	umask(0);

	fs->nlayers = 1 + (int)cfg->nlowers;
	fs->layers = calloc(fs->nlayers, sizeof(*fs->layers));
	if (!fs->layers)
		return fail(err, errlen, "out of memory");
	fs->layers[0].fd = -1;
	if (cfg->upper) {
		if (open_layer(fs, 0, cfg->upper, true, err, errlen) < 0)
			return -1;
		/* With ro the upper is shown but never written. */
		if (!cfg->ro)
			fs->upper = &fs->layers[0];
	}
	for (size_t i = 0; i < cfg->nlowers; i++)
		if (open_layer(fs, 1 + i, cfg->lowers[i], false, err, errlen) <
		    0)
			return -1;
	assign_fsids(fs);
	probe_privilege(fs);

	if (fs->upper) {
		if (open_work(fs, cfg->work, err, errlen) < 0)
			return -1;
		probe_upper(fs);
		if (fs->whiteout == UM_WHITEOUT_CHARDEV && !fs->can_mknod)
			return fail(err, errlen,
				    "whiteout=chardev: cannot create device "
				    "nodes in %s",
				    cfg->work);
	} else if (cfg->upper && cfg->work && !cfg->no_index) {
		/* ro: the copies of hard links made before still show. */
		int wfd = open(cfg->work, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (wfd >= 0) {
			fs->indexfd = um_index_open(wfd, false);
			close(wfd);
		}
		if (fs->indexfd < 0)
			fs->indexfd = -1;
	}
	return make_root(fs, err, errlen);
}

void um_fs_release(struct um_fs *fs)
{
	um_inode_table_release(fs);
	for (int i = 0; fs->layers && i < fs->nlayers; i++) {
		if (fs->layers[i].fd >= 0)
			close(fs->layers[i].fd);
		free(fs->layers[i].path);
	}
	free(fs->layers);
	if (fs->workfd >= 0) {
		close(fs->workfd);
	}
	if (fs->indexfd >= 0)
		close(fs->indexfd);
	pthread_mutex_destroy(&fs->table_lock);
}
