// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * export: an upper layer as an OCI image-spec layer tarball.
 *
 * Only the upper is walked.  Its whiteouts become ".wh.NAME", an opaque
 * directory one ".wh..wh..opq" (never one whiteout per hidden child), and
 * a renamed directory (redirect) its whole merged content under the new
 * name, opaque, since OCI has no redirects: the old name already carries
 * a whiteout.  Metacopy files are written with the lower data they point
 * at; owners, modes and device types come from the override xattr where
 * one is set.  Entries are sorted per directory (by their tar name),
 * atime, ctime and owner names are left out and times are clamped, so
 * the same layer always gives the same bytes.
 *
 * The tar goes through libarchive (PAX, as the OCI spec and containers'
 * appliers read it); a second libarchive handle in "raw" format
 * compresses the tar stream, so the uncompressed DiffID and the blob
 * digest are both taken in one pass.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layer/cmd.h"
#include "layer/export.h"
#include "layer/hlindex.h"
#include "layer/walk.h"
#include "markers.h"
#include "util.h"

#define COPY_CHUNK (1 << 20)

struct link_key {
	dev_t dev;
	ino_t ino;
};

struct link_seen {
	struct link_key key;
	char *path; /* the tar name written first */
	UT_hash_handle hh;
};

struct exp {
	const struct layer_export_opts *o;
	struct layer_stack s;
	bool lowers_known; /* --lowers given: a lookup below answers */
	struct archive *tar;
	struct archive *z; /* compressor, NULL for none */
	int outfd;
	EVP_MD_CTX *diff_md, *blob_md;
	uint64_t diff_size, blob_size;
	struct link_seen *links;
	struct archive_entry *e;
	char *buf;
	uint64_t entries;
	bool tty;
	int werr;    /* the first write error, -errno */
	bool failed; /* drop what closing the archives writes */
};

/* Whether the layers below may hold a name: known, or not given. */
enum below {
	BELOW_UNKNOWN, /* no --lowers: assume a whiteout hides something */
	BELOW_KNOWN,   /* lookups in the lower parts answer */
};

static int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static la_ssize_t blob_write(struct archive *a, void *cd, const void *buf,
			     size_t n)
{
	struct exp *x = cd;
	int r;

	if (x->failed)
		return (la_ssize_t)n;
	EVP_DigestUpdate(x->blob_md, buf, n);
	x->blob_size += n;
	r = write_all(x->outfd, buf, n);
	if (r < 0) {
		x->werr = r;
		archive_set_error(a, -r, "write: %s", strerror(-r));
		return -1;
	}
	return (la_ssize_t)n;
}

static la_ssize_t tar_write(struct archive *a, void *cd, const void *buf,
			    size_t n)
{
	struct exp *x = cd;

	if (x->failed)
		return (la_ssize_t)n;
	EVP_DigestUpdate(x->diff_md, buf, n);
	x->diff_size += n;
	if (!x->z)
		return blob_write(a, cd, buf, n);
	if (archive_write_data(x->z, buf, n) < 0) {
		archive_set_error(a, EIO, "compress: %s",
				  archive_error_string(x->z));
		return -1;
	}
	return (la_ssize_t)n;
}

static void progress(struct exp *x, bool last)
{
	if (!x->tty || (!last && x->entries % 1024))
		return;
	fprintf(stderr, "\rexport: %" PRIu64 " entries, %" PRIu64 " MiB%s",
		x->entries, x->diff_size >> 20, last ? "\n" : "");
}

static int tar_fail(struct exp *x, const char *path)
{
	const char *msg = archive_error_string(x->tar);
	int err = archive_errno(x->tar);

	fprintf(stderr, "unionmount-layer export: %s: %s\n", *path ? path : ".",
		msg ? msg : "archive error");
	if (x->werr)
		return x->werr;
	return err > 0 ? -err : -EIO;
}

static int sys_fail(const char *path, int err)
{
	fprintf(stderr, "unionmount-layer export: %s: %s\n", *path ? path : ".",
		strerror(-err));
	return err;
}

static long long clamp_time(const struct exp *x, long long t)
{
	if (x->o->mtime >= 0 && t > x->o->mtime)
		return x->o->mtime;
	return t;
}

/* A ".wh.NAME" or ".wh..wh..opq" entry: an empty regular file. */
static int put_marker(struct exp *x, const char *path, long long mtime)
{
	struct archive_entry *e = archive_entry_clear(x->e);

	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 0);
	archive_entry_set_mtime(e, clamp_time(x, mtime), 0);
	if (archive_write_header(x->tar, e) != ARCHIVE_OK)
		return tar_fail(x, path);
	x->entries++;
	progress(x, false);
	return 0;
}

static int copy_data(struct exp *x, int fd, const char *path, off_t size)
{
	off_t done = 0;

	while (done < size) {
		ssize_t n = read(fd, x->buf, COPY_CHUNK);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return sys_fail(path, -errno);
		}
		if (n == 0)
			break;
		if (n > size - done)
			n = size - done;
		if (archive_write_data(x->tar, x->buf, (size_t)n) < 0)
			return tar_fail(x, path);
		done += n;
	}
	/* The header promised size bytes: a file that shrank meanwhile is
	 * padded by libarchive; say so rather than write a quiet lie. */
	if (done < size)
		return sys_fail(path, -EIO);
	return 0;
}

/* One object of the union, o, as the entry `path`. */
static int put_object(struct exp *x, const char *path, struct lw_obj *o)
{
	struct archive_entry *e = archive_entry_clear(x->e);
	struct lw_xattrs xa;
	struct stat st;
	int r;

	r = lw_shown_stat(o->dirfd, o->rname, &o->st, &st, NULL);
	if (r < 0)
		return sys_fail(path, r);
	if (S_ISSOCK(st.st_mode)) {
		/* tar cannot hold a socket; a program makes it at run time. */
		fprintf(stderr,
			"unionmount-layer export: %s: socket left out\n", path);
		return 0;
	}
	if (o->metacopy && o->datafd < 0) {
		fprintf(stderr,
			"unionmount-layer export: %s: metacopy file whose "
			"data is in a lower layer: %s\n",
			path,
			x->lowers_known ? "not found in --lowers"
					: "give --lowers");
		return -ENOENT;
	}
	archive_entry_set_pathname(e, path);
	archive_entry_set_mode(e, st.st_mode);
	archive_entry_set_uid(e, st.st_uid);
	archive_entry_set_gid(e, st.st_gid);
	archive_entry_set_mtime(e, clamp_time(x, st.st_mtim.tv_sec), 0);
	if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
		archive_entry_set_rdev(e, st.st_rdev);
	if (S_ISLNK(st.st_mode)) {
		_cleanup_free_ char *target = malloc((size_t)st.st_size + 2);
		ssize_t n;

		if (!target)
			return sys_fail(path, -ENOMEM);
		n = readlinkat(o->dirfd, o->rname, target,
			       (size_t)st.st_size + 1);
		if (n < 0)
			return sys_fail(path, -errno);
		target[n] = '\0';
		archive_entry_set_symlink(e, target);
	}
	if (!S_ISDIR(st.st_mode) && o->st.st_nlink > 1) {
		struct link_key k = {o->st.st_dev, o->st.st_ino};
		struct link_seen *ls;

		HASH_FIND(hh, x->links, &k, sizeof(k), ls);
		if (ls) {
			archive_entry_set_hardlink(e, ls->path);
			archive_entry_set_size(e, 0);
			if (archive_write_header(x->tar, e) != ARCHIVE_OK)
				return tar_fail(x, path);
			x->entries++;
			return 0;
		}
		ls = calloc(1, sizeof(*ls));
		if (!ls || !(ls->path = strdup(path))) {
			free(ls);
			return sys_fail(path, -ENOMEM);
		}
		ls->key = k;
		HASH_ADD(hh, x->links, key, sizeof(k), ls);
	}
	r = lw_xattrs_get(o->dirfd, o->rname, false, &xa);
	if (r < 0)
		return sys_fail(path, r);
	/* libarchive writes them in the reverse order of adding. */
	for (size_t i = xa.n; i-- > 0;)
		archive_entry_xattr_add_entry(e, xa.name[i], xa.value[i],
					      xa.size[i]);
	lw_xattrs_release(&xa);
	if (S_ISREG(st.st_mode)) {
		_cleanup_close_ int fd = -1;
		struct stat dst;

		if (o->datafd >= 0) {
			fd = dup(o->datafd);
			if (fd < 0 || fstat(fd, &dst) < 0)
				return sys_fail(path, -errno);
			if (lseek(fd, 0, SEEK_SET) < 0)
				return sys_fail(path, -errno);
			st.st_size = dst.st_size;
		} else if (S_ISREG(o->st.st_mode)) {
			fd = openat(o->dirfd, o->rname,
				    O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				return sys_fail(path, -errno);
		}
		/* A device recorded in an override is an empty file. */
		archive_entry_set_size(e, fd >= 0 ? st.st_size : 0);
		if (archive_write_header(x->tar, e) != ARCHIVE_OK)
			return tar_fail(x, path);
		if (fd >= 0) {
			r = copy_data(x, fd, path, st.st_size);
			if (r < 0)
				return r;
		}
	} else {
		archive_entry_set_size(e, 0);
		if (archive_write_header(x->tar, e) != ARCHIVE_OK)
			return tar_fail(x, path);
	}
	x->entries++;
	progress(x, false);
	return 0;
}

/* Every visible object of the union directory d, below path. */
static int export_full(struct exp *x, const char *path, struct lw_dir *d)
{
	char **names;
	size_t n;
	int r = lw_list(d, &names, &n);

	if (r < 0)
		return sys_fail(path, r);
	for (size_t i = 0; i < n && r == 0; i++) {
		_cleanup_free_ char *child = lw_path_join(path, names[i]);
		struct lw_obj o;

		if (!child) {
			r = sys_fail(path, -ENOMEM);
			break;
		}
		lw_obj_init(&o);
		r = lw_lookup(&x->s, d, 0, names[i], &o);
		if (r < 0)
			r = sys_fail(child, r);
		else if (o.layer >= 0)
			r = put_object(x, child, &o);
		if (r == 0 && o.layer >= 0 && S_ISDIR(o.st.st_mode))
			r = export_full(x, child, &o.dir);
		lw_obj_release(&o);
	}
	lw_free_names(names);
	return r;
}

/* One entry of an upper directory, in the order of its tar name. */
struct item {
	char *tarname;	 /* malloc'ed when it differs from raw */
	const char *raw; /* the name in the upper */
	enum lw_kind kind;
	const char *target; /* the name a whiteout hides */
	long long mtime;
};

static int cmp_items(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->tarname,
		      ((const struct item *)b)->tarname);
}

static int export_delta(struct exp *x, const char *path, struct lw_dir *d,
			enum below below);

/* A directory of the upper: its entry, its markers, its content. */
static int export_dir(struct exp *x, const char *path, struct lw_dir *parent,
		      const char *name, struct lw_obj *o, enum below below)
{
	_cleanup_free_ char *opq = lw_path_join(path, UM_OCI_OPAQUE);
	bool below_there = true;
	int r;

	if (!opq)
		return sys_fail(path, -ENOMEM);
	if (below == BELOW_KNOWN) {
		struct lw_obj lo;

		lw_obj_init(&lo);
		r = lw_lookup(&x->s, parent, 1, name, &lo);
		below_there = lo.layer >= 0;
		lw_obj_release(&lo);
		if (r < 0)
			return sys_fail(path, r);
	}
	r = put_object(x, path, o);
	if (r < 0)
		return r;
	if (o->redirect) {
		/* OCI has no renames: the new name gets everything. */
		if (!x->lowers_known) {
			fprintf(stderr,
				"unionmount-layer export: %s: renamed "
				"directory (redirect %s): give --lowers\n",
				path, o->redirect);
			return -EINVAL;
		}
		r = put_marker(x, opq, o->st.st_mtim.tv_sec);
		if (r == 0)
			r = export_full(x, path, &o->dir);
		return r;
	}
	if (o->opaque) {
		if (below_there) {
			r = put_marker(x, opq, o->st.st_mtim.tv_sec);
			if (r < 0)
				return r;
		}
		return export_delta(x, path, &o->dir, BELOW_KNOWN);
	}
	return export_delta(x, path, &o->dir, below);
}

static int export_delta(struct exp *x, const char *path, struct lw_dir *d,
			enum below below)
{
	const struct lw_part *up = &d->part[0];
	struct item *items = NULL;
	size_t n, k = 0;
	char **names;
	int r = lw_readdir(up->fd, &names, &n);

	if (r < 0)
		return sys_fail(path, r);
	items = calloc(n + 1, sizeof(*items));
	if (!items) {
		lw_free_names(names);
		return sys_fail(path, -ENOMEM);
	}
	for (size_t i = 0; i < n; i++) {
		struct item *it = &items[k];
		struct stat st;

		if (fstatat(up->fd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = sys_fail(path, -errno);
			goto out;
		}
		it->raw = names[i];
		it->kind = lw_classify(up, names[i], &st);
		it->mtime = st.st_mtim.tv_sec;
		if (it->kind == LW_OCI_OPAQUE)
			continue; /* written with its directory */
		if (it->kind == LW_OCI_WHITEOUT) {
			it->target = um_oci_whiteout_target(names[i]);
			it->tarname = strdup(names[i]);
		} else if (it->kind == LW_WHITEOUT) {
			it->target = names[i];
			it->tarname = um_oci_whiteout_name(names[i]);
		} else {
			it->tarname = strdup(names[i]);
		}
		if (!it->tarname) {
			r = sys_fail(path, -ENOMEM);
			goto out;
		}
		k++;
	}
	qsort(items, k, sizeof(*items), cmp_items);
	for (size_t i = 0; i < k && r == 0; i++) {
		struct item *it = &items[i];
		_cleanup_free_ char *child = lw_path_join(path, it->tarname);
		struct lw_obj o;

		if (!child) {
			r = sys_fail(path, -ENOMEM);
			break;
		}
		lw_obj_init(&o);
		if (it->kind != LW_OBJECT) {
			/* A whiteout that hides nothing is left out. */
			bool hides = below == BELOW_UNKNOWN;

			if (!hides) {
				r = lw_lookup(&x->s, d, 1, it->target, &o);
				hides = o.layer >= 0;
				lw_obj_release(&o);
				if (r < 0) {
					r = sys_fail(child, r);
					break;
				}
			}
			if (hides)
				r = put_marker(x, child, it->mtime);
			continue;
		}
		r = lw_lookup(&x->s, d, 0, it->raw, &o);
		if (r < 0)
			r = sys_fail(child, r);
		else if (o.layer != 0)
			; /* gone meanwhile */
		else if (S_ISDIR(o.st.st_mode))
			r = export_dir(x, child, d, it->raw, &o, below);
		else
			r = put_object(x, child, &o);
		lw_obj_release(&o);
	}
out:
	for (size_t i = 0; i < n; i++)
		free(items[i].tarname);
	free(items);
	lw_free_names(names);
	return r;
}

static int put_indexed(void *arg, const char *path, struct lw_obj *o)
{
	return put_object(arg, path, o);
}

static void digest_hex(EVP_MD_CTX *md, char out[LAYER_DIGEST_LEN])
{
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	EVP_DigestFinal_ex(md, h, &len);
	strcpy(out, "sha256:");
	for (unsigned int i = 0; i < len; i++)
		sprintf(out + 7 + 2 * i, "%02x", h[i]);
}

static int open_compressor(struct exp *x)
{
	struct archive_entry *e;
	int r;

	if (x->o->compress == LAYER_COMPRESS_NONE)
		return 0;
	x->z = archive_write_new();
	if (!x->z)
		return -ENOMEM;
	r = archive_write_set_format_raw(x->z);
	if (r == ARCHIVE_OK)
		r = x->o->compress == LAYER_COMPRESS_GZIP
			    ? archive_write_add_filter_gzip(x->z)
			    : archive_write_add_filter_zstd(x->z);
	/* No time or name in the gzip header: the same bytes every time. */
	if (r == ARCHIVE_OK && x->o->compress == LAYER_COMPRESS_GZIP)
		r = archive_write_set_filter_option(x->z, "gzip", "timestamp",
						    NULL);
	if (r == ARCHIVE_OK)
		r = archive_write_set_bytes_per_block(x->z, 0);
	if (r == ARCHIVE_OK)
		r = archive_write_open(x->z, x, NULL, blob_write, NULL);
	if (r != ARCHIVE_OK) {
		fprintf(stderr, "unionmount-layer export: %s compression: %s\n",
			layer_compress_name(x->o->compress),
			archive_error_string(x->z));
		return -EIO;
	}
	e = archive_entry_new();
	if (!e)
		return -ENOMEM;
	archive_entry_set_pathname(e, "layer.tar");
	archive_entry_set_filetype(e, AE_IFREG);
	r = archive_write_header(x->z, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK) {
		fprintf(stderr, "unionmount-layer export: compression: %s\n",
			archive_error_string(x->z));
		return -EIO;
	}
	return 0;
}

static int open_tar(struct exp *x)
{
	x->tar = archive_write_new();
	if (!x->tar)
		return -ENOMEM;
	/*
	 * PAX only where ustar cannot say it (long names, xattrs, ids);
	 * xattrs as SCHILY.xattr records alone, the ones Go's archive/tar
	 * (containers/storage, docker) reads.
	 */
	if (archive_write_set_format_pax_restricted(x->tar) != ARCHIVE_OK ||
	    archive_write_set_format_option(x->tar, "pax", "xattrheader",
					    "SCHILY") != ARCHIVE_OK ||
	    archive_write_open(x->tar, x, NULL, tar_write, NULL) !=
		    ARCHIVE_OK) {
		fprintf(stderr, "unionmount-layer export: %s\n",
			archive_error_string(x->tar));
		return -EIO;
	}
	return 0;
}

static int close_archives(struct exp *x)
{
	int r = 0;

	if (x->tar && archive_write_close(x->tar) != ARCHIVE_OK)
		r = tar_fail(x, "");
	if (x->z && r == 0 && archive_write_close(x->z) != ARCHIVE_OK) {
		fprintf(stderr, "unionmount-layer export: compression: %s\n",
			archive_error_string(x->z));
		r = x->werr ? x->werr : -EIO;
	}
	return r;
}

int layer_export(const struct layer_export_opts *o, int outfd,
		 struct layer_digests *d)
{
	struct link_seen *ls, *tmp;
	struct exp x = {.o = o, .outfd = outfd};
	struct lw_dir root;
	int r;

	r = layer_stack_open(&x.s, o->upper, o->lowers, o->nlowers);
	if (r < 0)
		return r;
	x.lowers_known = o->nlowers > 0;
	/* The index tells which lower names a change reached: only then. */
	if (x.lowers_known) {
		x.s.indexfd = layer_index_open(o->workdir, o->upper);
		if (x.s.indexfd < -1) {
			r = sys_fail("hard-link index", x.s.indexfd);
			x.s.indexfd = -1;
			goto out;
		}
	}
	x.tty = o->progress && isatty(STDERR_FILENO);
	x.diff_md = EVP_MD_CTX_new();
	x.blob_md = EVP_MD_CTX_new();
	x.e = archive_entry_new();
	x.buf = malloc(COPY_CHUNK);
	if (!x.diff_md || !x.blob_md || !x.e || !x.buf) {
		r = sys_fail(o->upper, -ENOMEM);
		goto out;
	}
	EVP_DigestInit_ex(x.diff_md, EVP_sha256(), NULL);
	EVP_DigestInit_ex(x.blob_md, EVP_sha256(), NULL);
	r = open_compressor(&x);
	if (r == 0)
		r = open_tar(&x);
	if (r < 0)
		goto out;
	r = lw_root(&x.s, 0, &root);
	if (r < 0) {
		sys_fail(o->upper, r);
		goto out;
	}
	r = export_delta(&x, "", &root,
			 x.lowers_known ? BELOW_KNOWN : BELOW_UNKNOWN);
	lw_dir_release(&root);
	/*
	 * The other names of changed lower hard links, after the rest (a
	 * tar hard link needs its target first): each links to the copy's
	 * upper name, or the first carries the data.
	 */
	if (r == 0)
		r = lw_foreach_indexed(&x.s, put_indexed, &x);
	if (r == 0)
		r = close_archives(&x);
	progress(&x, true);
	if (r == 0) {
		digest_hex(x.diff_md, d->diff_id);
		digest_hex(x.blob_md, d->blob);
		d->size = x.blob_size;
		d->diff_size = x.diff_size;
	}
out:
	/*
	 * A failed export writes no trailer: the callbacks drop it (not
	 * archive_write_fail(), after which libarchive leaks its buffers).
	 * The tar first: closing it writes into the compressor.
	 */
	x.failed = r < 0;
	if (x.tar)
		archive_write_free(x.tar);
	if (x.z)
		archive_write_free(x.z);
	HASH_ITER(hh, x.links, ls, tmp)
	{
		HASH_DEL(x.links, ls);
		free(ls->path);
		free(ls);
	}
	archive_entry_free(x.e);
	free(x.buf);
	EVP_MD_CTX_free(x.diff_md);
	EVP_MD_CTX_free(x.blob_md);
	layer_stack_release(&x.s);
	return r;
}

static const char *const compress_names[] = {
	[LAYER_COMPRESS_NONE] = "none",
	[LAYER_COMPRESS_GZIP] = "gzip",
	[LAYER_COMPRESS_ZSTD] = "zstd",
};

int layer_compress_parse(const char *s, enum layer_compress *c)
{
	for (size_t i = 0; i < sizeof(compress_names) / sizeof(*compress_names);
	     i++)
		if (!strcmp(s, compress_names[i])) {
			*c = (enum layer_compress)i;
			return 0;
		}
	return -EINVAL;
}

const char *layer_compress_name(enum layer_compress c)
{
	return compress_names[c];
}

/* A non-negative decimal number of seconds, or -1. */
static long long parse_seconds(const char *s)
{
	long long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (LLONG_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

long long layer_source_date_epoch(void)
{
	const char *v = getenv("SOURCE_DATE_EPOCH");

	if (!v)
		return -1;
	return parse_seconds(v) < 0 ? -2 : parse_seconds(v);
}

static const char export_help[] =
	"Write the changes recorded in UPPER as an OCI image layer tarball:\n"
	"whiteouts as .wh.NAME, opaque directories as .wh..wh..opq, renamed\n"
	"directories with their whole content, metacopy files with their\n"
	"data, hard links as tar hard links, xattrs as PAX records.\n"
	"Prints the DiffID (sha256 of the tar) and, when compressed, the\n"
	"blob digest.\n\n"
	"  --lowers L1:L2:...  the layers below UPPER, topmost first\n"
	"  -o, --output FILE   where to write (default, or -, stdout)\n"
	"  --compress none|gzip|zstd  (default none)\n"
	"  --mtime SECONDS     clamp every time to at most this (default:\n"
	"                      $SOURCE_DATE_EPOCH if set)\n"
	"  --progress, --no-progress  counts on stderr (default: if a tty)\n"
	"  --workdir WORK      unionmount's work directory, whose hard-link\n"
	"                      index names the other changed names of lower\n"
	"                      hard links (default: .UPPER.unionmount-work\n"
	"                      beside UPPER, if it exists)\n";

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{"lowers", required_argument, NULL, 'L'},
		{"output", required_argument, NULL, 'o'},
		{"compress", required_argument, NULL, 'c'},
		{"mtime", required_argument, NULL, 't'},
		{"progress", no_argument, NULL, 'p'},
		{"no-progress", no_argument, NULL, 'P'},
		{"workdir", required_argument, NULL, 'w'},
		{"help", no_argument, NULL, 'h'},
		{0}};
	struct layer_export_opts o = {.mtime = -1, .progress = true};
	const char *out = "-";
	struct layer_digests d;
	char **lowers = NULL;
	bool created = false;
	int c, r, fd;

	o.mtime = layer_source_date_epoch();
	if (o.mtime == -2)
		layer_usage_error("export",
				  "SOURCE_DATE_EPOCH=\"%s\" is not a "
				  "number of seconds",
				  getenv("SOURCE_DATE_EPOCH"));
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'L':
			layer_free_list(lowers);
			lowers = layer_lowers_arg("export", optarg, &o.nlowers);
			break;
		case 'o':
			out = optarg;
			break;
		case 'c':
			if (layer_compress_parse(optarg, &o.compress) < 0)
				layer_usage_error("export",
						  "bad --compress \"%s\"",
						  optarg);
			break;
		case 't':
			o.mtime = parse_seconds(optarg);
			if (o.mtime < 0)
				layer_usage_error("export",
						  "bad --mtime \"%s\"", optarg);
			break;
		case 'p':
			o.progress = true;
			break;
		case 'P':
			o.progress = false;
			break;
		case 'w':
			layer_need_dir("export", "work directory", optarg);
			o.workdir = optarg;
			break;
		case 'h':
			layer_help("export", export_help);
			return 0;
		default:
			layer_usage_error("export", "bad option \"%s\"",
					  argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		layer_usage_error("export", "expected one UPPER directory");
	o.upper = argv[optind];
	layer_need_dir("export", "upper", o.upper);
	o.lowers = (const char *const *)lowers;
	if (strcmp(out, "-")) {
		bool inside = layer_inside(out, o.upper);

		for (int i = 0; i < o.nlowers; i++)
			inside = inside || layer_inside(out, lowers[i]);
		if (inside)
			layer_usage_error("export", "%s is inside a layer",
					  out);
	}
	if (!strcmp(out, "-")) {
		if (isatty(STDOUT_FILENO))
			layer_usage_error("export", "will not write a tarball "
						    "to a terminal (use -o)");
		fd = STDOUT_FILENO;
	} else {
		/*
		 * Only a file this run made is removed after a failure: -o
		 * may name a device or a file someone else owns.
		 */
		fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		created = fd >= 0;
		if (fd < 0 && errno == EEXIST)
			fd = open(out, O_WRONLY | O_TRUNC | O_CLOEXEC);
		if (fd < 0) {
			layer_free_list(lowers);
			return layer_error("export", "%s: %s", out,
					   strerror(errno));
		}
	}
	r = layer_export(&o, fd, &d);
	if (fd != STDOUT_FILENO && close(fd) < 0 && r == 0)
		r = -layer_error("export", "%s: %s", out, strerror(errno));
	layer_free_list(lowers);
	if (r < 0) {
		if (created)
			unlink(out);
		return LAYER_EXIT_FAIL;
	}
	/* The tarball may be on stdout: the digests go to stderr then. */
	FILE *info = fd == STDOUT_FILENO ? stderr : stdout;
	fprintf(info, "diff_id %s\n", d.diff_id);
	if (o.compress != LAYER_COMPRESS_NONE)
		fprintf(info, "blob %s %" PRIu64 "\n", d.blob, d.size);
	return 0;
}
