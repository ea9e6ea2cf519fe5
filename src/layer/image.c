// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * image: an OCI image layout (image-spec v1.0) from layers, bottom first.
 *
 *   DIR/oci-layout            {"imageLayoutVersion":"1.0.0"}
 *   DIR/index.json            the manifest, tagged with --tag
 *   DIR/blobs/sha256/HEX      layers, config and manifest, named by digest
 *
 * A LAYER is either a layer tarball (plain, gzip or zstd: stored as given,
 * its DiffID is the digest of the uncompressed stream) or a layer
 * directory, exported through layer_export() with the directories given
 * before it as its lowers (so a renamed directory is expanded and a
 * metacopy file gets its data); the first directory has no lowers and
 * exports whole, which makes a base image from a plain root file system.
 *
 * The same inputs give a byte-identical layout: JSON members are written
 * in a fixed order (json-c keeps the order they were added in), times
 * come from --mtime or SOURCE_DATE_EPOCH (default the epoch) and never
 * from the clock, and the layers are deterministic themselves.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "layer/export.h"
#include "layer/cmd.h"
#include "util.h"

#define MT_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MT_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define MT_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_INDEX "application/vnd.oci.image.index.v1+json"
#define REF_NAME "org.opencontainers.image.ref.name"

#define IO_CHUNK (1 << 20)

/*
 * Functions return 0 or -errno.  Two values mean that the message is out
 * already: -EINVAL for bad input (exit 2) and -ECANCELED for a failure
 * (exit 1); any other error is reported by the caller.
 */

/* "sha256:" + 64 hex digits + NUL */
#define DIGEST_LEN 72

struct image_layer {
	const char *arg;	 /* as given on the command line */
	char digest[DIGEST_LEN]; /* of the blob as stored */
	char diffid[DIGEST_LEN]; /* of the uncompressed tar stream */
	int64_t size;
	const char *media_type;
	bool is_dir;
};

struct image {
	const char *dir;
	const char *tag;
	const char *config_file;
	enum layer_compress compress;
	int64_t created; /* seconds since the epoch, for config and history */
	bool have_mtime;
	bool json;
	int blobsfd; /* DIR/blobs/sha256 */
	int dirfd;   /* DIR */
	struct image_layer *layers;
	int nlayers;
	unsigned tmpseq;
};

static void digest_hex(EVP_MD_CTX *ctx, char out[DIGEST_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char *p = out + sprintf(out, "sha256:");

	EVP_DigestFinal_ex(ctx, md, &len);
	for (unsigned int i = 0; i < len && i < 32; i++)
		p += sprintf(p, "%02x", md[i]);
}

/* The blob's file name: its digest without "sha256:". */
static const char *digest_name(const char *digest)
{
	return digest + strlen("sha256:");
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * A temporary blob in blobs/sha256, renamed to its digest once complete:
 * a blob name always stands for whole content, even if the program is
 * killed midway.  The name starts with a dot so that no digest can
 * collide with it.
 */
static int tmp_open(struct image *im, char name[64])
{
	int fd;

	snprintf(name, 64, ".tmp-%ld-%u", (long)getpid(), im->tmpseq++);
	fd = openat(im->blobsfd, name,
		    O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	return fd < 0 ? -errno : fd;
}

static int tmp_commit(struct image *im, const char *name, const char *digest)
{
	if (renameat(im->blobsfd, name, im->blobsfd, digest_name(digest)) < 0) {
		int e = -errno;
		unlinkat(im->blobsfd, name, 0);
		return e;
	}
	return 0;
}

/* The bytes of a JSON document: compact, '/' not escaped. */
static const char *json_text(json_object *doc)
{
	return json_object_to_json_string_ext(
		doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* A JSON document as a blob; fills digest and size. */
static int blob_put_json(struct image *im, json_object *doc,
			 char digest[DIGEST_LEN], int64_t *size)
{
	const char *text = json_text(doc);
	_cleanup_close_ int fd = -1;
	EVP_MD_CTX *ctx;
	char tmp[64];
	size_t len;
	int r;

	if (!text)
		return -ENOMEM;
	len = strlen(text);
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -ENOMEM;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, text, len);
	digest_hex(ctx, digest);
	EVP_MD_CTX_free(ctx);
	*size = (int64_t)len;

	fd = tmp_open(im, tmp);
	if (fd < 0)
		return fd;
	r = write_all(fd, text, len);
	if (r < 0) {
		unlinkat(im->blobsfd, tmp, 0);
		return r;
	}
	return tmp_commit(im, tmp, digest);
}

/*
 * Whether the first 512 bytes of a stream are a tar header: its checksum
 * (the byte sum with the checksum field read as spaces) matches, or the
 * block is all zeros (an empty archive).  Enough to refuse a file that is
 * not a layer at all with a clear message; the tar itself is the
 * consumer's to parse.
 */
static bool looks_like_tar(const unsigned char *b, size_t len)
{
	unsigned long sum = 0, want = 0;
	bool zero = true;
	int i;

	if (len < 512)
		return false;
	for (i = 0; i < 512; i++) {
		if (b[i])
			zero = false;
		sum += (i >= 148 && i < 156) ? ' ' : b[i];
	}
	if (zero)
		return true;
	for (i = 148; i < 156 && b[i] == ' '; i++)
		;
	if (i == 156 || b[i] < '0' || b[i] > '7')
		return false;
	for (; i < 156 && b[i] >= '0' && b[i] <= '7'; i++)
		want = want * 8 + (unsigned long)(b[i] - '0');
	return sum == want;
}

/*
 * Keep the first size bytes of a stream in head (*nhead of them so far):
 * enough to tell a tar header from anything else.
 */
static void keep_head(unsigned char *head, size_t size, size_t *nhead,
		      const unsigned char *buf, size_t n)
{
	size_t k = size - *nhead;

	if (*nhead >= size)
		return;
	if (k > n)
		k = n;
	memcpy(head + *nhead, buf, k);
	*nhead += k;
}

/*
 * The DiffID of a compressed layer: libarchive's "raw" format hands out
 * the decompressed stream as one entry.
 */
static int diffid_of_compressed(int fd, const char *path,
				char diffid[DIGEST_LEN])
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	_cleanup_free_ unsigned char *buf = malloc(IO_CHUNK);
	unsigned char head[512];
	size_t nhead = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int r = 0;

	if (!a || !buf || !ctx) {
		r = -ENOMEM;
		goto out;
	}
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_raw(a);
	if (archive_read_open_fd(a, fd, IO_CHUNK) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK) {
		fprintf(stderr, "unionmount-layer image: %s: %s\n", path,
			archive_error_string(a));
		r = -EINVAL;
		goto out;
	}
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, IO_CHUNK);
		if (n < 0) {
			fprintf(stderr, "unionmount-layer image: %s: %s\n",
				path, archive_error_string(a));
			r = -EINVAL;
			goto out;
		}
		if (n == 0)
			break;
		keep_head(head, sizeof(head), &nhead, buf, (size_t)n);
		EVP_DigestUpdate(ctx, buf, (size_t)n);
	}
	if (!looks_like_tar(head, nhead)) {
		fprintf(stderr,
			"unionmount-layer image: %s: not a tar archive\n",
			path);
		r = -EINVAL;
		goto out;
	}
	digest_hex(ctx, diffid);
out:
	EVP_MD_CTX_free(ctx);
	if (a)
		archive_read_free(a);
	return r;
}

/*
 * A layer tarball: copied into the layout as it is (its compression is
 * the blob's media type), digested on the way; then the DiffID.
 */
static int layer_from_file(struct image *im, int fd, struct image_layer *l)
{
	static const unsigned char gz[] = {0x1f, 0x8b};
	static const unsigned char zst[] = {0x28, 0xb5, 0x2f, 0xfd};
	_cleanup_free_ unsigned char *buf = malloc(IO_CHUNK);
	_cleanup_close_ int out = -1;
	unsigned char head[512];
	size_t nhead = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char tmp[64];
	int r = 0;

	if (!buf || !ctx) {
		EVP_MD_CTX_free(ctx);
		return -ENOMEM;
	}
	out = tmp_open(im, tmp);
	if (out < 0) {
		EVP_MD_CTX_free(ctx);
		return out;
	}
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	l->size = 0;
	for (;;) {
		ssize_t n = read(fd, buf, IO_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		keep_head(head, sizeof(head), &nhead, buf, (size_t)n);
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		r = write_all(out, buf, (size_t)n);
		if (r < 0)
			goto fail;
		l->size += n;
	}
	digest_hex(ctx, l->digest);

	if (nhead >= sizeof(gz) && !memcmp(head, gz, sizeof(gz)))
		l->media_type = MT_LAYER_GZIP;
	else if (nhead >= sizeof(zst) && !memcmp(head, zst, sizeof(zst)))
		l->media_type = MT_LAYER_ZSTD;
	else
		l->media_type = MT_LAYER;

	if (!strcmp(l->media_type, MT_LAYER)) {
		if (!looks_like_tar(head, nhead)) {
			fprintf(stderr,
				"unionmount-layer image: %s: not a tar archive"
				" (nor gzip or zstd)\n",
				l->arg);
			r = -EINVAL;
			goto fail;
		}
		memcpy(l->diffid, l->digest, DIGEST_LEN);
	} else {
		/* read back what was stored: the input may be a pipe */
		if (lseek(out, 0, SEEK_SET) < 0) {
			r = -errno;
			goto fail;
		}
		r = diffid_of_compressed(out, l->arg, l->diffid);
		if (r < 0)
			goto fail;
	}
	EVP_MD_CTX_free(ctx);
	return tmp_commit(im, tmp, l->digest);
fail:
	EVP_MD_CTX_free(ctx);
	unlinkat(im->blobsfd, tmp, 0);
	return r;
}

/*
 * A layer directory, exported with the directories before it as lowers
 * (topmost first, as everywhere in unionmount).
 */
static int layer_from_dir(struct image *im, int idx, struct image_layer *l)
{
	struct layer_export_opts o = {0};
	struct layer_digests d = {0};
	_cleanup_free_ const char **lowers = NULL;
	_cleanup_close_ int out = -1;
	struct stat st;
	char tmp[64];
	int n = 0, r;

	lowers = calloc((size_t)idx + 1, sizeof(*lowers));
	if (!lowers)
		return -ENOMEM;
	for (int i = idx - 1; i >= 0; i--)
		if (im->layers[i].is_dir)
			lowers[n++] = im->layers[i].arg;
	out = tmp_open(im, tmp);
	if (out < 0)
		return out;

	o.upper = l->arg;
	o.lowers = lowers;
	o.nlowers = n;
	o.compress = im->compress;
	o.mtime = im->have_mtime ? im->created : -1;
	o.progress = true;
	r = layer_export(&o, out, &d);
	if (r < 0) {
		r = -ECANCELED; /* layer_export() said what failed */
		goto fail;
	}
	if (fstat(out, &st) < 0) {
		r = -errno;
		goto fail;
	}
	if ((uint64_t)st.st_size != d.size) {
		fprintf(stderr,
			"unionmount-layer image: %s: export wrote %" PRIu64
			" bytes, the file has %lld\n",
			l->arg, d.size, (long long)st.st_size);
		r = -ECANCELED;
		goto fail;
	}
	l->size = st.st_size;
	snprintf(l->diffid, DIGEST_LEN, "%s", d.diff_id);
	snprintf(l->digest, DIGEST_LEN, "%s", d.blob);
	l->media_type = im->compress == LAYER_COMPRESS_GZIP   ? MT_LAYER_GZIP
			: im->compress == LAYER_COMPRESS_ZSTD ? MT_LAYER_ZSTD
							      : MT_LAYER;
	return tmp_commit(im, tmp, l->digest);
fail:
	unlinkat(im->blobsfd, tmp, 0);
	return r;
}

/* GOARCH names, which OCI uses, for the machine we run on. */
static void machine_platform(const char **arch, const char **variant)
{
	static const struct {
		const char *uname, *arch, *variant;
	} map[] = {
		{"x86_64", "amd64", NULL},
		{"aarch64", "arm64", NULL},
		{"armv7l", "arm", "v7"},
		{"armv6l", "arm", "v6"},
		{"i686", "386", NULL},
		{"i386", "386", NULL},
		{"ppc64le", "ppc64le", NULL},
		{"s390x", "s390x", NULL},
		{"riscv64", "riscv64", NULL},
		{"mips64", "mips64", NULL},
		{"loongarch64", "loong64", NULL},
	};
	static struct utsname u;

	*variant = NULL;
	if (uname(&u) < 0) {
		*arch = "unknown";
		return;
	}
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (!strcmp(u.machine, map[i].uname)) {
			*arch = map[i].arch;
			*variant = map[i].variant;
			return;
		}
	}
	*arch = u.machine;
}

static void rfc3339(int64_t t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A layer's name in history: its last path component. */
static char *layer_label(const char *arg)
{
	char *copy = strdup(arg), *s;
	size_t n;

	if (!copy)
		return NULL;
	n = strlen(copy);
	while (n > 1 && copy[n - 1] == '/')
		copy[--n] = '\0';
	s = strrchr(copy, '/');
	if (s && s[1])
		memmove(copy, s + 1, strlen(s + 1) + 1);
	return copy;
}

static json_object *jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *jget_str(json_object *o, const char *key)
{
	json_object *v = jget(o, key);

	return json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

static void jset_str(json_object *o, const char *key, const char *val)
{
	json_object_object_add(o, key, json_object_new_string(val));
}

static int history_entries(json_object *hist)
{
	size_t n = json_object_array_length(hist);
	int layers = 0;

	for (size_t i = 0; i < n; i++) {
		json_object *e =
			jget(json_object_array_get_idx(hist, i), "empty_layer");
		if (!json_object_is_type(e, json_type_boolean) ||
		    !json_object_get_boolean(e))
			layers++;
	}
	return layers;
}

static json_object *default_config(void)
{
	json_object *cfg = json_object_new_object(), *c, *env, *cmd;

	c = json_object_new_object();
	env = json_object_new_array();
	json_object_array_add(
		env,
		json_object_new_string("PATH=/usr/local/sbin:/usr/local/bin:/"
				       "usr/sbin:/usr/bin:/sbin:/bin"));
	cmd = json_object_new_array();
	json_object_array_add(cmd, json_object_new_string("/bin/sh"));
	json_object_object_add(c, "Env", env);
	json_object_object_add(c, "Cmd", cmd);
	json_object_object_add(cfg, "config", c);
	return cfg;
}

/*
 * The image configuration: --config's document if given (an OCI image
 * config: its members are kept), else a default one (PATH and /bin/sh);
 * created, architecture and os are added where missing, rootfs always
 * describes our layers, and a history that does not have one entry per
 * layer is replaced by one that does.
 */
static json_object *image_config(struct image *im)
{
	const char *arch, *variant;
	char when[32];
	json_object *cfg, *rootfs, *ids, *hist;

	rfc3339(im->created, when);
	machine_platform(&arch, &variant);
	if (im->config_file) {
		cfg = json_object_from_file(im->config_file);
		if (!cfg) {
			fprintf(stderr, "unionmount-layer image: %s: %s\n",
				im->config_file, json_util_get_last_err());
			return NULL;
		}
		if (!json_object_is_type(cfg, json_type_object)) {
			fprintf(stderr,
				"unionmount-layer image: %s: not a JSON "
				"object\n",
				im->config_file);
			json_object_put(cfg);
			return NULL;
		}
	} else {
		cfg = default_config();
	}
	if (!jget(cfg, "created"))
		jset_str(cfg, "created", when);
	if (!jget(cfg, "architecture")) {
		jset_str(cfg, "architecture", arch);
		if (variant)
			jset_str(cfg, "variant", variant);
	}
	if (!jget(cfg, "os"))
		jset_str(cfg, "os", "linux");

	ids = json_object_new_array();
	for (int i = 0; i < im->nlayers; i++)
		json_object_array_add(
			ids, json_object_new_string(im->layers[i].diffid));
	rootfs = json_object_new_object();
	jset_str(rootfs, "type", "layers");
	json_object_object_add(rootfs, "diff_ids", ids);
	json_object_object_add(cfg, "rootfs", rootfs);

	hist = jget(cfg, "history");
	if (!json_object_is_type(hist, json_type_array) ||
	    history_entries(hist) != im->nlayers) {
		hist = json_object_new_array();
		for (int i = 0; i < im->nlayers; i++) {
			_cleanup_free_ char *label =
				layer_label(im->layers[i].arg);
			_cleanup_free_ char *by = NULL;
			json_object *h = json_object_new_object();

			if (asprintf(&by, "unionmount-layer image %s",
				     label ? label : "?") < 0)
				by = NULL;
			jset_str(h, "created", when);
			jset_str(h, "created_by",
				 by ? by : "unionmount-layer image");
			json_object_array_add(hist, h);
		}
		json_object_object_add(cfg, "history", hist);
	}
	return cfg;
}

static json_object *descriptor(const char *media_type, const char *digest,
			       int64_t size)
{
	json_object *d = json_object_new_object();

	jset_str(d, "mediaType", media_type);
	jset_str(d, "digest", digest);
	json_object_object_add(d, "size", json_object_new_int64(size));
	return d;
}

/*
 * index.json: an existing layout keeps its other manifests; one with the
 * same tag (or, untagged, the same digest) is replaced.
 */
static int write_index(struct image *im, const char *mdigest, int64_t msize,
		       json_object *platform)
{
	json_object *index = NULL, *mans, *m, *keep;
	char tmp[] = "index.json.tmp";
	const char *text;
	int fd, r;

	fd = openat(im->dirfd, "index.json", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		index = json_object_from_fd(fd);
		close(fd);
		if (!json_object_is_type(jget(index, "manifests"),
					 json_type_array)) {
			fprintf(stderr,
				"unionmount-layer image: %s/index.json: not an "
				"OCI index\n",
				im->dir);
			json_object_put(index);
			return -EINVAL;
		}
	} else if (errno != ENOENT) {
		return -errno;
	} else {
		index = json_object_new_object();
		json_object_object_add(index, "schemaVersion",
				       json_object_new_int(2));
		jset_str(index, "mediaType", MT_INDEX);
		json_object_object_add(index, "manifests",
				       json_object_new_array());
	}

	keep = json_object_new_array();
	mans = jget(index, "manifests");
	for (size_t i = 0; i < json_object_array_length(mans); i++) {
		const char *name, *dg;

		m = json_object_array_get_idx(mans, i);
		name = jget_str(jget(m, "annotations"), REF_NAME);
		dg = jget_str(m, "digest");
		if (im->tag ? (name && !strcmp(name, im->tag))
			    : (!name && dg && !strcmp(dg, mdigest)))
			continue;
		json_object_array_add(keep, json_object_get(m));
	}
	m = descriptor(MT_MANIFEST, mdigest, msize);
	json_object_object_add(m, "platform", json_object_get(platform));
	if (im->tag) {
		json_object *ann = json_object_new_object();
		jset_str(ann, REF_NAME, im->tag);
		json_object_object_add(m, "annotations", ann);
	}
	json_object_array_add(keep, m);
	json_object_object_add(index, "manifests", keep);

	text = json_text(index);
	fd = openat(im->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0644);
	if (fd < 0) {
		r = -errno;
		json_object_put(index);
		return r;
	}
	r = text ? write_all(fd, text, strlen(text)) : -ENOMEM;
	json_object_put(index);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && renameat(im->dirfd, tmp, im->dirfd, "index.json") < 0)
		r = -errno;
	if (r < 0)
		unlinkat(im->dirfd, tmp, 0);
	return r;
}

static int write_small(int dirfd, const char *name, const char *text)
{
	_cleanup_close_ int fd = openat(
		dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	return write_all(fd, text, strlen(text));
}

static int mkdirat_p(int dirfd, const char *name)
{
	if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * DIR: created if missing; an existing one must be empty or an OCI
 * layout already (then the new manifest joins its index).
 */
static int layout_open(struct image *im)
{
	_cleanup_close_ int blobs = -1;
	bool empty = true;
	DIR *d;
	struct dirent *de;
	int r;

	if (mkdir(im->dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	im->dirfd = open(im->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (im->dirfd < 0)
		return -errno;
	d = fdopendir(dup(im->dirfd));
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = false;
	closedir(d);
	if (!empty && faccessat(im->dirfd, "oci-layout", F_OK, 0) < 0) {
		fprintf(stderr,
			"unionmount-layer image: %s is neither empty nor an "
			"OCI layout\n",
			im->dir);
		return -EINVAL;
	}
	r = write_small(im->dirfd, "oci-layout",
			"{\"imageLayoutVersion\":\"1.0.0\"}");
	if (r < 0)
		return r;
	r = mkdirat_p(im->dirfd, "blobs");
	if (r < 0)
		return r;
	blobs = openat(im->dirfd, "blobs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (blobs < 0)
		return -errno;
	r = mkdirat_p(blobs, "sha256");
	if (r < 0)
		return r;
	im->blobsfd =
		openat(blobs, "sha256", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return im->blobsfd < 0 ? -errno : 0;
}

static int build(struct image *im)
{
	json_object *cfg, *manifest, *layers, *platform = NULL;
	char cdigest[DIGEST_LEN], mdigest[DIGEST_LEN];
	int64_t csize, msize;
	int r;

	/* bad arguments are refused before anything is written */
	for (int i = 0; i < im->nlayers; i++) {
		struct stat st;

		if (stat(im->layers[i].arg, &st) < 0) {
			fprintf(stderr, "unionmount-layer image: %s: %s\n",
				im->layers[i].arg, strerror(errno));
			return -EINVAL;
		}
		/* the export would read the blobs being written */
		if (S_ISDIR(st.st_mode) &&
		    layer_inside(im->dir, im->layers[i].arg)) {
			fprintf(stderr,
				"unionmount-layer image: %s is inside the "
				"layer "
				"%s\n",
				im->dir, im->layers[i].arg);
			return -EINVAL;
		}
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode) &&
		    !S_ISFIFO(st.st_mode)) {
			fprintf(stderr,
				"unionmount-layer image: %s: neither a layer "
				"directory nor a layer tarball\n",
				im->layers[i].arg);
			return -EINVAL;
		}
	}
	r = layout_open(im);
	if (r < 0)
		goto out;
	for (int i = 0; i < im->nlayers; i++) {
		struct image_layer *l = &im->layers[i];
		_cleanup_close_ int fd = -1;
		struct stat st;

		fd = open(l->arg, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0) {
			r = -errno;
			fprintf(stderr, "unionmount-layer image: %s: %s\n",
				l->arg, strerror(-r));
			return r;
		}
		if (S_ISDIR(st.st_mode)) {
			l->is_dir = true;
			r = layer_from_dir(im, i, l);
		} else {
			r = layer_from_file(im, fd, l);
		}
		if (r < 0) {
			if (r != -EINVAL && r != -ECANCELED)
				fprintf(stderr,
					"unionmount-layer image: %s: %s\n",
					l->arg, strerror(-r));
			return r;
		}
	}

	cfg = image_config(im);
	if (!cfg) {
		r = -EINVAL;
		goto out;
	}
	platform = json_object_new_object();
	json_object_object_add(platform, "architecture",
			       json_object_get(jget(cfg, "architecture")));
	json_object_object_add(platform, "os",
			       json_object_get(jget(cfg, "os")));
	if (jget(cfg, "variant"))
		json_object_object_add(platform, "variant",
				       json_object_get(jget(cfg, "variant")));
	r = blob_put_json(im, cfg, cdigest, &csize);
	json_object_put(cfg);
	if (r < 0)
		goto out;

	layers = json_object_new_array();
	for (int i = 0; i < im->nlayers; i++)
		json_object_array_add(layers,
				      descriptor(im->layers[i].media_type,
						 im->layers[i].digest,
						 im->layers[i].size));
	manifest = json_object_new_object();
	json_object_object_add(manifest, "schemaVersion",
			       json_object_new_int(2));
	jset_str(manifest, "mediaType", MT_MANIFEST);
	json_object_object_add(manifest, "config",
			       descriptor(MT_CONFIG, cdigest, csize));
	json_object_object_add(manifest, "layers", layers);
	r = blob_put_json(im, manifest, mdigest, &msize);
	json_object_put(manifest);
	if (r < 0)
		goto out;
	r = write_index(im, mdigest, msize, platform);
	if (r < 0)
		goto out;

	if (im->json) {
		json_object *o = json_object_new_object();
		json_object *ls = json_object_new_array();

		jset_str(o, "manifest", mdigest);
		jset_str(o, "config", cdigest);
		if (im->tag)
			jset_str(o, "tag", im->tag);
		for (int i = 0; i < im->nlayers; i++) {
			struct image_layer *l = &im->layers[i];
			json_object *e =
				descriptor(l->media_type, l->digest, l->size);
			jset_str(e, "diff_id", l->diffid);
			jset_str(e, "layer", l->arg);
			json_object_array_add(ls, e);
		}
		json_object_object_add(o, "layers", ls);
		printf("%s\n",
		       json_object_to_json_string_ext(
			       o, JSON_C_TO_STRING_PRETTY |
					  JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		printf("%s\n", mdigest);
	}
out:
	json_object_put(platform);
	if (r < 0 && r != -EINVAL && r != -ECANCELED)
		fprintf(stderr, "unionmount-layer image: %s: %s\n", im->dir,
			strerror(-r));
	return r;
}

/*
 * An OCI ref name (image-spec annotations: alphanumerics separated by
 * one of "-._:@/+" or "--"): anything else would make an index that
 * skopeo and podman refuse, so it is refused here first.
 */
static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static bool ref_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i < n; i++) {
		if (is_alnum(s[i]))
			continue;
		if (!strchr("-._:@/+", s[i]))
			return false;
		/* one separator between alphanumerics, or "--" */
		if (!is_alnum(s[i - 1]) &&
		    !(s[i] == '-' && s[i - 1] == '-' && is_alnum(s[i - 2])))
			return false;
	}
	return true;
}

static const char image_help[] =
	"Write an OCI image layout in DIR from layers, bottom layer first.\n"
	"A LAYER is a layer tarball (plain, gzip or zstd) or a layer\n"
	"directory, exported with the directories before it as its lowers.\n"
	"\n"
	"  -o DIR            the layout (created, or an existing one to add "
	"to)\n"
	"  --tag NAME        the org.opencontainers.image.ref.name of the "
	"image\n"
	"  --config FILE     an OCI image config to start from\n"
	"  --compress C      none (default), gzip or zstd, for directories\n"
	"  --mtime SECONDS   clamp times (default SOURCE_DATE_EPOCH); the\n"
	"                    config's created time (default the epoch)\n"
	"  --json            describe the result as JSON on stdout\n";

int cmd_image(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"output", required_argument, NULL, 'o'},
		{"tag", required_argument, NULL, 't'},
		{"config", required_argument, NULL, 'c'},
		{"compress", required_argument, NULL, 'z'},
		{"mtime", required_argument, NULL, 'm'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct image im = {.blobsfd = -1, .dirfd = -1};
	long long sde = layer_source_date_epoch();
	int c, r;

	if (sde == -2)
		layer_usage_error(
			"image",
			"SOURCE_DATE_EPOCH is not a number of seconds");
	if (sde >= 0) {
		im.created = sde;
		im.have_mtime = true;
	}
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+o:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			im.dir = optarg;
			break;
		case 't':
			if (!ref_name_ok(optarg))
				layer_usage_error(
					"image", "not a valid tag: %s", optarg);
			im.tag = optarg;
			break;
		case 'c':
			im.config_file = optarg;
			break;
		case 'z':
			if (layer_compress_parse(optarg, &im.compress) < 0)
				layer_usage_error("image",
						  "--compress takes none, gzip "
						  "or zstd: %s",
						  optarg);
			break;
		case 'm': {
			char *end;
			errno = 0;
			im.created = strtoll(optarg, &end, 10);
			if (errno || end == optarg || *end || im.created < 0)
				layer_usage_error("image",
						  "--mtime takes seconds since "
						  "the epoch: %s",
						  optarg);
			im.have_mtime = true;
			break;
		}
		case 'j':
			im.json = true;
			break;
		case 'h':
			layer_help("image", image_help);
			return 0;
		default:
			layer_usage_error("image", "bad option \"%s\"",
					  argv[optind - 1]);
		}
	}
	if (!im.dir)
		layer_usage_error("image", "-o DIR is required");
	if (optind >= argc)
		layer_usage_error("image", "no LAYER given");
	im.nlayers = argc - optind;
	im.layers = calloc((size_t)im.nlayers, sizeof(*im.layers));
	if (!im.layers) {
		return layer_error("image", "out of memory");
	}
	for (int i = 0; i < im.nlayers; i++)
		im.layers[i].arg = argv[optind + i];

	r = build(&im);
	if (im.blobsfd >= 0)
		close(im.blobsfd);
	if (im.dirfd >= 0)
		close(im.dirfd);
	free(im.layers);
	if (r == -EINVAL)
		return LAYER_EXIT_USAGE;
	return r < 0 ? LAYER_EXIT_FAIL : 0;
}
