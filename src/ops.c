// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * FUSE low-level handlers: thin adapters.  Each takes the request apart,
 * makes one call into a core module (which returns 0 or -errno and never
 * sees a fuse_req_t), and replies exactly once.  Every reply that hands an
 * inode to the kernel carries one reference, which forget gives back.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "config.h"

#include "attr.h"
#include "caps.h"
#include "dir.h"
#include "file.h"
#include "inode.h"
#include "lookup.h"
#include "ops.h"
#include "readdir.h"
#include "util.h"
#include "xattr.h"

#define FS(req) ((struct um_fs *)fuse_req_userdata(req))
#define FILE_OF(fi) ((struct um_file *)(uintptr_t)(fi)->fh)

/* The real fd of an open file, following it into the upper. */
static int file_fd(fuse_req_t req, struct fuse_file_info *fi)
{
	return um_file_fd(FS(req), FILE_OF(fi));
}

/* The caller, as the owner new objects get in the layers. */
static struct um_cred req_cred(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	const struct um_config *cfg = FS(req)->cfg;
	uint32_t uid = ctx->uid, gid = ctx->gid;

	/* An id outside the map is stored as it is. */
	um_idmap_to_host(&cfg->uidmap, ctx->uid, &uid);
	um_idmap_to_host(&cfg->gidmap, ctx->gid, &gid);
	return (struct um_cred){.uid = uid, .gid = gid};
}

/* Fill e for inode, which carries one reference for the kernel. */
static int make_entry(struct um_fs *fs, struct um_inode *inode,
		      struct fuse_entry_param *e)
{
	int r;

	memset(e, 0, sizeof(*e));
	r = um_attr_get(fs, inode, &e->attr);
	if (r < 0)
		return r;
	e->ino = um_nodeid(fs, inode);
	e->attr_timeout = fs->timeout;
	e->entry_timeout = fs->timeout;
	return 0;
}

static void reply_entry(fuse_req_t req, struct um_inode *inode, int r)
{
	struct um_fs *fs = FS(req);
	struct fuse_entry_param e;

	if (r == 0) {
		r = make_entry(fs, inode, &e);
		if (r < 0)
			um_inode_unref(fs, inode, 1);
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else if (fuse_reply_entry(req, &e) != 0)
		um_inode_unref(fs, inode, 1);
}

/*
 * Called from copy-up inside a request on inode's child or inode itself:
 * an attribute-only invalidation (negative offset) takes no lock the
 * running request may hold; a directory's cached listing is only dropped
 * for its parent, which that request does not lock.
 */
static void notify(struct um_fs *fs, struct um_inode *inode, bool data)
{
	fuse_lowlevel_notify_inval_inode(fs->session, um_nodeid(fs, inode),
					 data ? 0 : -1, 0);
}

/*
 * Capability flags of FUSE_INIT.  libfuse 3.17 moved them to 64 bits
 * (capable_ext/want_ext) and refuses a mix of the old and new fields, so
 * all of init goes through these three.
 */
static bool cap_offered(struct fuse_conn_info *conn, uint64_t cap)
{
#ifdef UM_HAVE_WANT_EXT
	return conn->capable_ext & cap;
#else
	return conn->capable & cap;
#endif
}

/* Ask for cap if the kernel offers it; true if it is asked for. */
static bool cap_want(struct fuse_conn_info *conn, uint64_t cap)
{
#ifdef UM_HAVE_WANT_EXT
	return fuse_set_feature_flag(conn, cap);
#else
	if (!(conn->capable & cap))
		return false;
	conn->want |= cap;
	return true;
#endif
}

static void cap_drop(struct fuse_conn_info *conn, uint64_t cap)
{
#ifdef UM_HAVE_WANT_EXT
	fuse_unset_feature_flag(conn, cap);
#else
	conn->want &= ~cap;
#endif
}

/*
 * Passthrough: the kernel does the reads and writes of open files on the
 * real files (file.c says which).  Registering a backing file needs
 * CAP_SYS_ADMIN; auto (the default) asks for it only as root, passthrough=1
 * says in one line why it cannot be had.
 */
static void passthrough_init(struct um_fs *fs, struct fuse_conn_info *conn)
{
	int want = fs->cfg->passthrough;
	const char *why = NULL;

	if (want == 0)
		return;
#ifdef UM_HAVE_PASSTHROUGH
	if (want < 0 && geteuid() != 0)
		return;
	if (!cap_want(conn, FUSE_CAP_PASSTHROUGH)) {
		why = "the kernel does not offer it";
	} else {
		/*
		 * Backing files directly on a disk file system: a stacked
		 * one (overlayfs) below is refused per file, and the mount
		 * itself may then be stacked on.
		 */
		conn->max_backing_stack_depth = FUSE_BACKING_STACKED_UNDER;
		fs->passthrough = true;
	}
#else
	why = "it needs libfuse 3.17 (built with " UM_FUSE_BUILT_WITH ")";
#endif
	if (why && want > 0)
		fuse_log(FUSE_LOG_ERR, "unionmount: no passthrough: %s\n", why);
}

/*
 * The writeback cache cannot be had with the faster transports.  Over
 * io_uring each CPU's requests are served by one ring thread: the writes
 * the kernel sends while SEEK_DATA/SEEK_HOLE waits for its dirty pages
 * (um_op_lseek) would queue behind the waiting request itself.  And the
 * kernel turns passthrough off on a connection with the writeback cache.
 */
static bool transport_excludes_writeback(struct um_fs *fs,
					 struct fuse_conn_info *conn)
{
#ifdef UM_HAVE_IO_URING
	/* libfuse starts its rings when asked and the kernel offers them */
	if (fs->cfg->io_uring != 0 && cap_offered(conn, FUSE_CAP_OVER_IO_URING))
		return true;
#endif
	return fs->passthrough;
}

static void um_op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct um_fs *fs = userdata;

	fs->notify = notify;
	passthrough_init(fs, conn);
#ifdef UM_HAVE_KILLPRIV_V2
	/*
	 * We clear set-ID bits and capabilities on write, truncate and
	 * chown ourselves (write_kill_priv, UM_SET_KILL_SUIDGID, the layer's
	 * chown), so the kernel no longer asks for security.capability
	 * before every write.  It takes the daemon's CAP_FSETID to drop,
	 * and real modes: not with owner/mode overrides.
	 */
	if (geteuid() == 0 && !fs->override_xattr)
		cap_want(conn, FUSE_CAP_HANDLE_KILLPRIV_V2);
#endif
	cap_want(conn, FUSE_CAP_PARALLEL_DIROPS);
	if (fs->cfg->default_permissions && !fs->cfg->noacl)
		cap_want(conn, FUSE_CAP_POSIX_ACL);
	if (fs->cfg->max_read)
		conn->max_read = fs->cfg->max_read;
	/* Reads reply by splicing from the real file: no copy through us. */
	cap_want(conn, FUSE_CAP_SPLICE_WRITE);
	/*
	 * Writes gather in the kernel's page cache, as on a local file
	 * system.  SEEK_DATA/SEEK_HOLE then need the kernel to write its
	 * dirty pages back while the request waits (see um_op_lseek), which
	 * takes a second thread.
	 */
	if (fs->cfg->writeback && fs->cfg->max_threads != 1 &&
	    !transport_excludes_writeback(fs, conn) &&
	    cap_want(conn, FUSE_CAP_WRITEBACK_CACHE))
		fs->writeback = true;
	fs->no_opendir = cap_offered(conn, FUSE_CAP_NO_OPENDIR_SUPPORT);
	/*
	 * Writeback and readahead requests in flight at once.  Each one keeps
	 * a worker busy with its own receive buffer of up to 1 MiB touched:
	 * libfuse's 12 took 14 MiB more at the peak of a 1 GiB write, for no
	 * speed we could measure.
	 */
	conn->max_background = 4;
	/* Our locks would only be local ones: let the kernel do them. */
	cap_drop(conn, FUSE_CAP_POSIX_LOCKS);
	cap_drop(conn, FUSE_CAP_FLOCK_LOCKS);
}

static void um_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct um_fs *fs = FS(req);
	struct um_inode *inode = NULL;
	int r = um_lookup_inode(fs, um_inode_of(fs, parent), name, &inode);

	if (r == -ENOENT) {
		/* A negative entry: the kernel may cache the absence. */
		struct fuse_entry_param e = {.entry_timeout = fs->timeout};
		fuse_reply_entry(req, &e);
		return;
	}
	reply_entry(req, inode, r);
}

static void um_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct um_fs *fs = FS(req);

	um_inode_unref(fs, um_inode_of(fs, ino), nlookup);
	fuse_reply_none(req);
}

static void um_op_forget_multi(fuse_req_t req, size_t count,
			       struct fuse_forget_data *forgets)
{
	struct um_fs *fs = FS(req);

	for (size_t i = 0; i < count; i++)
		um_inode_unref(fs, um_inode_of(fs, forgets[i].ino),
			       forgets[i].nlookup);
	/* A big batch (drop_caches, memory pressure): give the memory back. */
	if (count >= 256)
		malloc_trim(0);
	fuse_reply_none(req);
}

static void um_op_getattr(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct um_fs *fs = FS(req);
	struct stat st;
	int r = um_attr_get(fs, um_inode_of(fs, ino), &st);

	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, fs->timeout);
}

/*
 * truncate(2) to the current size changes mtime and ctime (POSIX, and the
 * kernel's overlayfs), but under the writeback cache the kernel keeps the
 * times of a regular file itself and changes them only for a truncate
 * that changes the size: it would show the old ones until the inode is
 * evicted.  Invalidating the name drops the kernel's inode once unused
 * (FUSE evicts unused inodes at once), so the next lookup reads the times
 * stored.  Sent before the reply: the truncate still holds the inode.
 */
static void forget_cached_times(struct um_fs *fs, struct um_inode *inode)
{
	struct um_inode *parent;
	char *name;

	pthread_mutex_lock(&inode->lock);
	parent = inode->unlinked ? NULL : inode->parent;
	name = parent ? strdup(inode->name) : NULL;
	if (name)
		um_inode_ref(fs, parent);
	pthread_mutex_unlock(&inode->lock);
	if (!name)
		return;
	fuse_lowlevel_notify_inval_entry(fs->session, um_nodeid(fs, parent),
					 name, strlen(name));
	um_inode_unref(fs, parent, 1);
	free(name);
}

static void um_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			  int to_set, struct fuse_file_info *fi)
{
	static const struct {
		int fuse, um;
	} map[] = {
		{FUSE_SET_ATTR_MODE, UM_SET_MODE},
		{FUSE_SET_ATTR_UID, UM_SET_UID},
		{FUSE_SET_ATTR_GID, UM_SET_GID},
		{FUSE_SET_ATTR_SIZE, UM_SET_SIZE},
		{FUSE_SET_ATTR_ATIME, UM_SET_ATIME},
		{FUSE_SET_ATTR_MTIME, UM_SET_MTIME},
		{FUSE_SET_ATTR_ATIME_NOW, UM_SET_ATIME_NOW},
		{FUSE_SET_ATTR_MTIME_NOW, UM_SET_MTIME_NOW},
		{FUSE_SET_ATTR_CTIME, UM_SET_CTIME},
		/* FATTR_KILL_SUIDGID, sent only with KILLPRIV_V2 */
		{FUSE_SET_ATTR_KILL_SUID, UM_SET_KILL_SUIDGID},
	};
	struct um_fs *fs = FS(req);
	struct um_inode *inode = um_inode_of(fs, ino);
	struct stat st;
	int valid = 0, r;

	for (size_t i = 0; i < sizeof(map) / sizeof(*map); i++)
		if (to_set & map[i].fuse)
			valid |= map[i].um;
	r = um_attr_set(fs, inode, attr, valid, fi ? file_fd(req, fi) : -1,
			&st);
	if (r == 0 && valid == UM_SET_SIZE && fs->writeback &&
	    S_ISREG(inode->type))
		forget_cached_times(fs, inode);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, fs->timeout);
}

static void um_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct um_fs *fs = FS(req);
	int fd = um_inode_path(fs, um_inode_of(fs, ino), NULL);
	char *buf = malloc(PATH_MAX + 1);
	ssize_t n;

	if (fd < 0 || !buf) {
		fuse_reply_err(req, fd < 0 ? -fd : ENOMEM);
		if (fd >= 0)
			close(fd);
		free(buf);
		return;
	}
	n = readlinkat(fd, "", buf, PATH_MAX + 1);
	close(fd);
	if (n < 0 || n > PATH_MAX) {
		fuse_reply_err(req, n < 0 ? errno : ENAMETOOLONG);
	} else {
		buf[n] = '\0';
		fuse_reply_readlink(req, buf);
	}
	free(buf);
}

static void create_common(fuse_req_t req, fuse_ino_t parent, const char *name,
			  struct um_new *how)
{
	struct um_fs *fs = FS(req);
	struct um_cred cred = req_cred(req);
	struct um_inode *inode = NULL;
	int r = um_dir_create(fs, um_inode_of(fs, parent), name, how, &cred,
			      &inode);

	reply_entry(req, inode, r);
}

static void um_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode, dev_t rdev)
{
	struct um_new how = {.mode = mode, .rdev = rdev, .open_flags = -1};

	create_common(req, parent, name, &how);
}

static void um_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode)
{
	struct um_new how = {.mode = S_IFDIR | (mode & 07777),
			     .open_flags = -1};

	create_common(req, parent, name, &how);
}

static void um_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			  const char *name)
{
	struct um_new how = {
		.mode = S_IFLNK | 0777, .target = link, .open_flags = -1};

	create_common(req, parent, name, &how);
}

static void um_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		       const char *newname)
{
	struct um_fs *fs = FS(req);
	struct um_inode *src = um_inode_of(fs, ino);
	struct um_new how = {.mode = src->type, .link = src, .open_flags = -1};

	if (S_ISDIR(src->type)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	create_common(req, newparent, newname, &how);
}

#ifdef UM_HAVE_PASSTHROUGH
static int register_backing(void *ctx, int fd)
{
	fuse_req_t req = ctx;
	struct um_fs *fs = FS(req);
	int id = fuse_passthrough_open(req, fd);

	/* Not allowed at all (no CAP_SYS_ADMIN): stop trying. */
	if (id <= 0 && errno == EPERM)
		__atomic_store_n(&fs->passthrough, false, __ATOMIC_RELAXED);
	return id > 0 ? id : 0;
}
#endif

/*
 * How the kernel does the reads and writes of a file just opened: passed
 * through to the real file, or through us with its page cache kept (only
 * we change the layers: what the kernel cached stays true).
 */
static void set_io_mode(fuse_req_t req, struct um_file *f,
			struct fuse_file_info *fi)
{
#ifdef UM_HAVE_PASSTHROUGH
	fi->backing_id = um_file_io_open(FS(req), f, register_backing, req);
	if (fi->backing_id) {
		/* The kernel refuses any other open flag with passthrough. */
		fi->keep_cache = 0;
		return;
	}
#else
	um_file_io_open(FS(req), f, NULL, NULL);
#endif
	fi->keep_cache = 1;
}

/* Release f and, with its last user, its backing file. */
static void file_close(fuse_req_t req, struct um_file *f)
{
	int id = um_file_io_release(f);

#ifdef UM_HAVE_PASSTHROUGH
	if (id)
		fuse_passthrough_close(req, id);
#else
	(void)id;
#endif
	um_file_release(f);
}

static void um_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			 mode_t mode, struct fuse_file_info *fi)
{
	struct um_fs *fs = FS(req);
	struct um_cred cred = req_cred(req);
	struct um_new how = {.mode = S_IFREG | (mode & 07777),
			     .open_flags = fi->flags};
	struct um_inode *inode = NULL;
	struct um_file *f = NULL;
	struct fuse_entry_param e;
	int r;

	r = um_dir_create(fs, um_inode_of(fs, parent), name, &how, &cred,
			  &inode);
	if (r == 0) {
		f = um_file_wrap(inode, how.fd, fi->flags);
		r = f ? make_entry(fs, inode, &e) : -ENOMEM;
		if (r < 0)
			um_inode_unref(fs, inode, 1);
	}
	if (r < 0) {
		if (f)
			um_file_release(f);
		else if (how.fd >= 0)
			close(how.fd);
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uintptr_t)f;
	set_io_mode(req, f, fi);
	if (fuse_reply_create(req, &e, fi) != 0) {
		file_close(req, f);
		um_inode_unref(fs, inode, 1);
	}
}

static void um_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct um_fs *fs = FS(req);

	fuse_reply_err(req, -um_dir_unlink(fs, um_inode_of(fs, parent), name));
}

static void um_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct um_fs *fs = FS(req);

	fuse_reply_err(req, -um_dir_rmdir(fs, um_inode_of(fs, parent), name));
}

static void um_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			 fuse_ino_t newparent, const char *newname,
			 unsigned int flags)
{
	struct um_fs *fs = FS(req);

	fuse_reply_err(req, -um_dir_rename(fs, um_inode_of(fs, parent), name,
					   um_inode_of(fs, newparent), newname,
					   flags));
}

static void um_op_open(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct um_fs *fs = FS(req);
	struct um_file *f;
	int r = um_file_open(fs, um_inode_of(fs, ino), fi->flags, &f);

#ifdef UM_HAVE_KILLPRIV_V2
	if (r == 0 && fi->kill_suidgid && (fi->flags & O_TRUNC)) {
		r = um_file_kill_priv(f);
		if (r < 0)
			um_file_release(f);
	}
#endif
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uintptr_t)f;
	set_io_mode(req, f, fi);
	if (fuse_reply_open(req, fi) != 0)
		file_close(req, f);
}

static void um_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = file_fd(req, fi);
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, 0);
}

#ifdef UM_HAVE_KILLPRIV_V2
/*
 * A write by someone without CAP_FSETID, under KILLPRIV_V2: done without
 * ours, so the layer's file system clears set-ID bits and capabilities by
 * its own rules; the kernel is then told the attributes changed.
 */
static ssize_t write_kill_priv(fuse_req_t req, fuse_ino_t ino,
			       struct fuse_bufvec *out, struct fuse_bufvec *in)
{
	struct um_fs *fs = FS(req);
	struct um_fsetid fsetid;
	ssize_t n = um_fsetid_drop(&fsetid);

	if (n < 0)
		return n;
	n = fuse_buf_copy(out, in, 0);
	um_fsetid_restore(&fsetid);
	if (n > 0)
		fs->notify(fs, um_inode_of(fs, ino), false);
	return n;
}
#endif

static void um_op_write_buf(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_bufvec *in, off_t off,
			    struct fuse_file_info *fi)
{
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
	bool cached = fi->writepage && FS(req)->writeback;
	struct timespec mtime;
	ssize_t n;
	int r;

	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = file_fd(req, fi);
	out.buf[0].pos = off;
	if (cached) {
		r = um_file_cached_write_begin(FILE_OF(fi), out.buf[0].fd,
					       &mtime);
		if (r < 0) {
			fuse_reply_err(req, -r);
			return;
		}
	}
#ifdef UM_HAVE_KILLPRIV_V2
	if (fi->kill_suidgid)
		n = write_kill_priv(req, ino, &out, in);
	else
#endif
		n = fuse_buf_copy(&out, in, 0);
	if (cached) {
		r = um_file_cached_write_end(FILE_OF(fi), out.buf[0].fd,
					     &mtime);
		if (n >= 0 && r < 0)
			n = r;
	}
	if (n < 0)
		fuse_reply_err(req, -n);
	else
		fuse_reply_write(req, n);
}

static void um_op_release(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	file_close(req, FILE_OF(fi));
	fuse_reply_err(req, 0);
}

static void um_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	int fd = file_fd(req, fi);
	int r = datasync ? fdatasync(fd) : fsync(fd);

	fuse_reply_err(req, r < 0 ? errno : 0);
}

/*
 * Reading a directory needs no state per open (see struct um_listing), so
 * directories are not opened at all where the kernel allows: it then
 * sends neither opendir nor releasedir, and keeps every listing it reads
 * in its cache until the directory changes.
 */
static void um_op_opendir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct um_fs *fs = FS(req);

	if (fs->no_opendir) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fi->fh = 0;
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       bool plus)
{
	struct um_fs *fs = FS(req);
	struct um_inode *dir = um_inode_of(fs, ino);
	struct um_listing *l;
	char *buf;
	size_t used = 0;
	int r = um_readdir_get(fs, dir, &l);

	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	buf = malloc(size);
	if (!buf) {
		um_listing_unref(l);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t i = um_listing_seek(l, off); i < l->n; i++) {
		struct um_dirent *d = &l->ents[i];
		struct fuse_entry_param e = {0};
		struct um_inode *inode = NULL;
		size_t len;

		e.attr.st_ino = d->ino;
		e.attr.st_mode = DTTOIF(d->type);
		if (!plus) {
			len = fuse_add_direntry(req, buf + used, size - used,
						d->name, &e.attr, d->off);
		} else {
			bool dot =
				!strcmp(d->name, ".") || !strcmp(d->name, "..");
			/*
			 * An object the kernel knows already needs no walk
			 * through the layers: the listing says which it is.
			 */
			if (!dot && d->dev)
				inode = um_inode_find(fs, d->dev, d->real_ino);
			if (!dot && !inode &&
			    um_lookup_inode(fs, dir, d->name, &inode) < 0)
				inode = NULL;
			if (inode && make_entry(fs, inode, &e) < 0) {
				um_inode_unref(fs, inode, 1);
				inode = NULL;
				memset(&e, 0, sizeof(e));
				e.attr.st_ino = d->ino;
				e.attr.st_mode = DTTOIF(d->type);
			}
			len = fuse_add_direntry_plus(req, buf + used,
						     size - used, d->name, &e,
						     d->off);
		}
		if (len > size - used) {
			/* It did not fit: the kernel never saw it. */
			if (inode)
				um_inode_unref(fs, inode, 1);
			break;
		}
		used += len;
	}
	um_listing_unref(l);
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void um_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, false);
}

static void um_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			      off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, true);
}

static void um_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			   struct fuse_file_info *fi)
{
	struct um_fs *fs = FS(req);
	struct um_real real = um_inode_real(um_inode_of(fs, ino));
	int fd = um_reopen(real.fd, O_RDONLY | O_DIRECTORY);
	int r = 0;

	if (fd < 0 || (datasync ? fdatasync(fd) : fsync(fd)) < 0)
		r = errno;
	if (fd >= 0)
		close(fd);
	fuse_reply_err(req, r);
}

static void um_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct um_fs *fs = FS(req);
	int fd = fs->upper ? fs->upper->fd : fs->layers[1].fd;
	struct statvfs sv;

	if (fstatvfs(fd, &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

static void um_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			   const char *value, size_t size, int flags)
{
	struct um_fs *fs = FS(req);

	fuse_reply_err(req, -um_xattr_set(fs, um_inode_of(fs, ino), name, value,
					  size, flags));
}

static void reply_xattr_buf(fuse_req_t req, char *buf, size_t size, ssize_t r)
{
	if (r < 0)
		fuse_reply_err(req, -r);
	else if (size == 0)
		fuse_reply_xattr(req, r);
	else
		fuse_reply_buf(req, buf, r);
	free(buf);
}

static void um_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			   size_t size)
{
	struct um_fs *fs = FS(req);
	char *buf = size ? malloc(size) : NULL;
	ssize_t r = (size && !buf) ? -ENOMEM
				   : um_xattr_get(fs, um_inode_of(fs, ino),
						  name, buf, size);

	reply_xattr_buf(req, buf, size, r);
}

static void um_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct um_fs *fs = FS(req);
	char *buf = size ? malloc(size) : NULL;
	ssize_t r = (size && !buf) ? -ENOMEM
				   : um_xattr_list(fs, um_inode_of(fs, ino),
						   buf, size);

	reply_xattr_buf(req, buf, size, r);
}

static void um_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct um_fs *fs = FS(req);

	fuse_reply_err(req, -um_xattr_remove(fs, um_inode_of(fs, ino), name));
}

static void um_op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct um_fs *fs = FS(req);

	/* Permission bits are checked by the kernel (default_permissions). */
	fuse_reply_err(req, (mask & W_OK) && !fs->upper ? EROFS : 0);
}

static void um_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			    off_t offset, off_t length,
			    struct fuse_file_info *fi)
{
	int r = fallocate(file_fd(req, fi), mode, offset, length);

	fuse_reply_err(req, r < 0 ? errno : 0);
}

static void um_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
			struct fuse_file_info *fi)
{
	struct um_fs *fs = FS(req);
	off_t r;

	/*
	 * Under the writeback cache the kernel may hold dirty pages we have
	 * not seen: the real file would show holes where they are.  Dropping
	 * the cached pages from off on makes the kernel write them back first
	 * (another thread serves those writes).  Only a file in the upper can
	 * have any (a write copies up first): a lower one keeps its cache.
	 */
	if (fs->writeback && __atomic_load_n(&um_inode_of(fs, ino)->layer,
					     __ATOMIC_ACQUIRE) == 0)
		fuse_lowlevel_notify_inval_inode(fs->session, ino, off, 0);
	r = lseek(file_fd(req, fi), off, whence);

	if (r < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_lseek(req, r);
}

static void um_op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in,
				  off_t off_in, struct fuse_file_info *fi_in,
				  fuse_ino_t ino_out, off_t off_out,
				  struct fuse_file_info *fi_out, size_t len,
				  int flags)
{
	loff_t in = off_in, out = off_out;
	ssize_t n = copy_file_range(file_fd(req, fi_in), &in,
				    file_fd(req, fi_out), &out, len, flags);

	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, n);
}

static void um_op_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd,
			void *arg, struct fuse_file_info *fi, unsigned flags,
			const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	/* No ioctl is passed to the layers: unknown means ENOTTY. */
	fuse_reply_err(req, ENOTTY);
}

const struct fuse_lowlevel_ops um_ops = {
	.init = um_op_init,
	.lookup = um_op_lookup,
	.forget = um_op_forget,
	.forget_multi = um_op_forget_multi,
	.getattr = um_op_getattr,
	.setattr = um_op_setattr,
	.readlink = um_op_readlink,
	.mknod = um_op_mknod,
	.mkdir = um_op_mkdir,
	.symlink = um_op_symlink,
	.link = um_op_link,
	.unlink = um_op_unlink,
	.rmdir = um_op_rmdir,
	.rename = um_op_rename,
	.create = um_op_create,
	.open = um_op_open,
	.read = um_op_read,
	.write_buf = um_op_write_buf,
	/*
	 * No .flush: its ENOSYS tells the kernel to stop sending FLUSH, one
	 * round trip less per close.  The kernel still writes dirty pages
	 * back and reports their errors at close; the real files are local,
	 * so closing them would report nothing more.
	 */
	.release = um_op_release,
	.fsync = um_op_fsync,
	.opendir = um_op_opendir,
	.readdir = um_op_readdir,
	.readdirplus = um_op_readdirplus,
	.fsyncdir = um_op_fsyncdir,
	.statfs = um_op_statfs,
	.setxattr = um_op_setxattr,
	.getxattr = um_op_getxattr,
	.listxattr = um_op_listxattr,
	.removexattr = um_op_removexattr,
	.access = um_op_access,
	.fallocate = um_op_fallocate,
	.lseek = um_op_lseek,
	.copy_file_range = um_op_copy_file_range,
	.ioctl = um_op_ioctl,
};
