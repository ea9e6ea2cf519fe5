// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Checks between the layers, before anything is mounted: every path must
 * be a directory, no layer may hold another (a union that contains its
 * own upper or its mountpoint would recurse), and the work directory must
 * be on the upper's file system so that copy-up can end in a rename.
 */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Replace *path by its canonical form; it must be an existing directory. */
static int canonical_dir(char **path, const char *what, char *err,
			 size_t errlen)
{
	struct stat st;
	char *real;

	if (stat(*path, &st) < 0)
		return fail(err, errlen, "%s %s: %s", what, *path,
			    errno == ENOENT ? "does not exist" : strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return fail(err, errlen, "%s %s is not a directory", what,
			    *path);
	real = realpath(*path, NULL);
	if (!real)
		return fail(err, errlen, "%s %s: %s", what, *path,
			    strerror(errno));
	free(*path);
	*path = real;
	return 0;
}

/* Is a inside b (or equal, if or_equal)?  Both canonical. */
static bool inside(const char *a, const char *b, bool or_equal)
{
	size_t lb = strlen(b);

	if (!strcmp(a, b))
		return or_equal;
	if (!strcmp(b, "/"))
		return true;
	return !strncmp(a, b, lb) && a[lb] == '/';
}

static int default_work(struct um_config *cfg, char *err, size_t errlen)
{
	char *copy = strdup(cfg->upper);
	char *copy2 = strdup(cfg->upper);
	int r = 0;

	if (!copy || !copy2) {
		r = fail(err, errlen, "out of memory");
	} else if (!strcmp(cfg->upper, "/")) {
		r = fail(err, errlen,
			 "upper directory is /: give workdir= explicitly");
	} else if (asprintf(&cfg->work, "%s/.%s.unionmount-work",
			    dirname(copy), basename(copy2)) < 0) {
		cfg->work = NULL;
		r = fail(err, errlen, "out of memory");
	}
	free(copy);
	free(copy2);
	return r;
}

int um_config_check(struct um_config *cfg, char *err, size_t errlen)
{
	struct stat ust, wst;

	if (cfg->nlowers == 0)
		return fail(err, errlen, "no lower directory given");
	if (cfg->nlowers > UM_MAX_LOWERS)
		return fail(err, errlen,
			    "too many lower directories (%zu, at most %d)",
			    cfg->nlowers, UM_MAX_LOWERS);
	for (size_t i = 0; i < cfg->nlowers; i++)
		if (canonical_dir(&cfg->lowers[i], "lower directory", err,
				  errlen) < 0)
			return -1;
	if (canonical_dir(&cfg->mountpoint, "mountpoint", err, errlen) < 0)
		return -1;

	for (size_t i = 0; i < cfg->nlowers; i++) {
		for (size_t j = 0; j < i; j++)
			if (!strcmp(cfg->lowers[i], cfg->lowers[j]))
				return fail(err, errlen,
					    "lower directory %s is given twice",
					    cfg->lowers[i]);
		/* Mounting over the top lower itself is fine: it is open. */
		if (inside(cfg->mountpoint, cfg->lowers[i], false))
			return fail(err, errlen,
				    "mountpoint %s is inside lower directory %s",
				    cfg->mountpoint, cfg->lowers[i]);
	}

	if (!cfg->upper) {
		if (cfg->work)
			return fail(err, errlen, "workdir= needs upperdir=");
		return 0;
	}
	if (canonical_dir(&cfg->upper, "upper directory", err, errlen) < 0)
		return -1;
	if (!cfg->work && default_work(cfg, err, errlen) < 0)
		return -1;
	/* Like fuse-overlayfs, make a missing work directory. */
	if (mkdir(cfg->work, 0700) < 0 && errno != EEXIST)
		return fail(err, errlen, "cannot create workdir %s: %s",
			    cfg->work, strerror(errno));
	if (canonical_dir(&cfg->work, "workdir", err, errlen) < 0)
		return -1;

	for (size_t i = 0; i < cfg->nlowers; i++) {
		const char *l = cfg->lowers[i];
		if (!strcmp(cfg->upper, l))
			return fail(err, errlen,
				    "%s is both the upper and a lower directory", l);
		if (inside(cfg->upper, l, false))
			return fail(err, errlen,
				    "upper directory %s is inside lower directory %s",
				    cfg->upper, l);
		if (inside(l, cfg->upper, false))
			return fail(err, errlen,
				    "lower directory %s is inside upper directory %s",
				    l, cfg->upper);
		if (inside(cfg->work, l, true))
			return fail(err, errlen,
				    "workdir %s is inside lower directory %s",
				    cfg->work, l);
		if (inside(l, cfg->work, true))
			return fail(err, errlen,
				    "lower directory %s is inside workdir %s", l,
				    cfg->work);
	}
	if (inside(cfg->work, cfg->upper, true) ||
	    inside(cfg->upper, cfg->work, true))
		return fail(err, errlen,
			    "upper directory %s and workdir %s must not contain each other",
			    cfg->upper, cfg->work);
	if (inside(cfg->mountpoint, cfg->upper, true))
		return fail(err, errlen,
			    "mountpoint %s is inside upper directory %s",
			    cfg->mountpoint, cfg->upper);
	if (inside(cfg->mountpoint, cfg->work, true))
		return fail(err, errlen, "mountpoint %s is inside workdir %s",
			    cfg->mountpoint, cfg->work);
	if (stat(cfg->upper, &ust) < 0 || stat(cfg->work, &wst) < 0)
		return fail(err, errlen, "cannot stat %s: %s", cfg->upper,
			    strerror(errno));
	if (ust.st_dev != wst.st_dev)
		return fail(err, errlen,
			    "workdir %s is not on the file system of upper directory %s",
			    cfg->work, cfg->upper);
	return 0;
}
