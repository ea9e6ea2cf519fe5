/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Writing a layer as an OCI image-spec layer tarball: the API the export
 * and image commands share.  Only the upper is read in full; the lowers
 * are read where the upper points into them (renamed directories, metacopy
 * files) and to tell a whiteout that hides something from one that does
 * not.  Output is deterministic: entries sorted by name, no atime/ctime,
 * no user or group names, xattrs sorted, times clamped to mtime.
 */
#ifndef UM_LAYER_EXPORT_H
#define UM_LAYER_EXPORT_H

#include <stdbool.h>
#include <stdint.h>

enum layer_compress {
	LAYER_COMPRESS_NONE,
	LAYER_COMPRESS_GZIP,
	LAYER_COMPRESS_ZSTD,
};

struct layer_export_opts {
	const char *upper;	   /* the layer directory to export */
	const char *const *lowers; /* the layers below it, topmost first */
	int nlowers;		   /* 0: upper is a whole root file system,
				    * or a layer with no hidden lowers */
	enum layer_compress compress;
	long long mtime;     /* times later than this are clamped to
			      * it; -1: keep every time */
	bool progress;	     /* counts on stderr (only if a tty) */
	const char *workdir; /* unionmount's work dir, for the hard-link
			      * index; NULL: the default beside upper */
};

/* "sha256:" and 64 hex digits, NUL-terminated. */
#define LAYER_DIGEST_LEN 72

struct layer_digests {
	char diff_id[LAYER_DIGEST_LEN]; /* of the uncompressed tar */
	char blob[LAYER_DIGEST_LEN];	/* of the bytes written to outfd (the
					 * same as diff_id when uncompressed) */
	uint64_t size;			/* bytes written to outfd */
	uint64_t diff_size;		/* bytes of the uncompressed tar */
};

/*
 * Write the layer o->upper (over o->lowers) to outfd as a tarball.
 * Returns 0, or -errno after one line on stderr saying what failed.
 * d is filled on success.  Nothing in any layer is changed.
 */
int layer_export(const struct layer_export_opts *o, int outfd,
		 struct layer_digests *d);

/* "none", "gzip", "zstd": 0, or -EINVAL for another word. */
int layer_compress_parse(const char *s, enum layer_compress *c);
/* "none", "gzip" or "zstd". */
const char *layer_compress_name(enum layer_compress c);

/*
 * SOURCE_DATE_EPOCH from the environment: its value, -1 if unset, or
 * -2 if set to something other than a decimal number of seconds.
 */
long long layer_source_date_epoch(void);

#endif
