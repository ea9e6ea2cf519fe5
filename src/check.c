// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Checks between the layers, before anything is mounted.
 *
 * Every path is resolved with realpath() first, so the checks compare
 * canonical paths: nesting is a component-aware prefix test on them
 * (/a/b is inside /a, /a/bc is not).  "The same directory" is decided by
 * (st_dev, st_ino), which also catches a directory reached twice through
 * a bind mount.
 *
 * Why the refusals: a layer inside the upper (or the upper inside a layer)
 * would show changes in two places of the union; a mountpoint inside a
 * layer or the workdir makes the union contain itself, and a lookup that
 * reaches it through the layer recurses into the daemon; the workdir must
 * be on the upper's file system because copy-up ends in a rename from it.
 *
 * Mounting over a lower layer itself (mountpoint == lower) is allowed, as
 * with kernel overlayfs: the layer is opened before the mount covers it,
 * and all later access goes through that fd.  The upper and the workdir
 * are still refused as mountpoints, like anything inside any layer.
 *
 * Nothing is created before every check has passed.  Then a missing
 * workdir, the default one or an explicit one, is made with mode 0700 (as
 * fuse-overlayfs does; kernel overlayfs wants it to exist), provided its
 * parent exists.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

struct dir_id {
	dev_t dev;
	ino_t ino;
};

static struct dir_id dir_id(const struct stat *st)
{
	return (struct dir_id){.dev = st->st_dev, .ino = st->st_ino};
}

static bool same_dir(struct dir_id a, struct dir_id b)
{
	return a.dev == b.dev && a.ino == b.ino;
}

/* Is canonical path a strictly below canonical path b? */
static bool is_below(const char *a, const char *b)
{
	size_t lb = strlen(b);

	if (!strcmp(b, "/"))
		return strcmp(a, "/") != 0;
	return !strncmp(a, b, lb) && a[lb] == '/';
}

/*
 * Replace *path by its canonical form, which must be a directory; *id gets
 * its identity.  what names the path in messages ("lower directory").
 */

/*
 * The error a FUSE mount point gives once its daemon is gone: ENOTCONN,
 * or ECONNABORTED where the connection asked the kernel to tell an abort
 * apart (FUSE_ABORT_ERROR, which newer libfuse negotiates).
 */
static bool dead_fuse_errno(int err)
{
	return err == ENOTCONN || err == ECONNABORTED;
}

static int resolve_dir(char **path, const char *what, struct dir_id *id,
		       char *err, size_t errlen)
{
	struct stat st;
	char *real;

	if (!*path || !**path)
		return um_errorf(err, errlen, "empty %s", what);
	real = realpath(*path, NULL);
	if (!real) {
		if (errno == ENOENT)
			return um_errorf(err, errlen, "%s %s does not exist",
					 what, *path);
		if (errno == ENOTDIR)
			return um_errorf(err, errlen,
					 "%s %s is not a directory", what,
					 *path);
		/* Left behind by a daemon that was killed. */
		if (dead_fuse_errno(errno))
			return um_errorf(err, errlen,
					 "%s %s is a dead FUSE mount; unmount "
					 "it first: fusermount3 -u %s",
					 what, *path, *path);
		return um_errorf(err, errlen, "%s %s: %s", what, *path,
				 strerror(errno));
	}
	if (stat(real, &st) < 0) {
		if (dead_fuse_errno(errno))
			um_errorf(err, errlen,
				  "%s %s is a dead FUSE mount; unmount it "
				  "first: fusermount3 -u %s",
				  what, *path, real);
		else
			um_errorf(err, errlen, "%s %s: %s", what, *path,
				  strerror(errno));
		free(real);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		um_errorf(err, errlen, "%s %s is not a directory", what, *path);
		free(real);
		return -1;
	}
	free(*path);
	*path = real;
	*id = dir_id(&st);
	return 0;
}

/* The default workdir of canonical upper: ".BASENAME.unionmount-work". */
static char *default_work(const char *upper)
{
	const char *slash = strrchr(upper, '/');
	char *work;

	if (asprintf(&work, "%.*s/.%s.unionmount-work", (int)(slash - upper),
		     upper, slash + 1) < 0)
		return NULL;
	return work;
}

/*
 * Resolve cfg->work (filled in with the default if NULL).  If it does not
 * exist but its parent does, it becomes the canonical parent plus its last
 * component, *create is set and *id names the parent, whose st_dev the new
 * directory will have.
 */
static int resolve_work(struct um_config *cfg, struct dir_id *id, bool *create,
			char *err, size_t errlen)
{
	char *given, *parent, *name, *real, *slash;
	struct stat st;
	size_t len;
	int ret = -1;

	*create = false;
	if (!cfg->work) {
		if (!strcmp(cfg->upper, "/"))
			return um_errorf(err, errlen,
					 "upper directory is /: give workdir=");
		cfg->work = default_work(cfg->upper);
		if (!cfg->work)
			return um_errorf(err, errlen, "out of memory");
	}
	if (!*cfg->work)
		return um_errorf(err, errlen, "empty workdir");
	real = realpath(cfg->work, NULL);
	if (real || errno != ENOENT) {
		free(real);
		return resolve_dir(&cfg->work, "workdir", id, err, errlen);
	}

	/* Missing: look at its parent. */
	given = strdup(cfg->work);
	if (!given)
		return um_errorf(err, errlen, "out of memory");
	len = strlen(given);
	while (len > 1 && given[len - 1] == '/')
		given[--len] = '\0';
	slash = strrchr(given, '/');
	if (!slash) {
		name = given;
		parent = ".";
	} else {
		*slash = '\0';
		name = slash + 1;
		parent = slash == given ? "/" : given;
	}
	if (!strcmp(name, ".") || !strcmp(name, "..")) {
		um_errorf(err, errlen, "workdir %s does not exist", cfg->work);
		goto out_free;
	}
	real = realpath(parent, NULL);
	if (!real) {
		um_errorf(err, errlen, "workdir %s does not exist", cfg->work);
		goto out_free;
	}
	if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
		um_errorf(err, errlen, "workdir %s does not exist", cfg->work);
		free(real);
		goto out_free;
	}
	free(cfg->work);
	if (asprintf(&cfg->work, "%s/%s", strcmp(real, "/") ? real : "", name) <
	    0) {
		cfg->work = NULL;
		um_errorf(err, errlen, "out of memory");
		free(real);
		goto out_free;
	}
	free(real);
	*id = dir_id(&st);
	*create = true;
	ret = 0;
out_free:
	free(given);
	return ret;
}

static int check_lowers(struct um_config *cfg, struct dir_id *lower_id,
			char *err, size_t errlen)
{
	for (size_t i = 0; i < cfg->nlowers; i++) {
		if (resolve_dir(&cfg->lowers[i], "lower directory",
				&lower_id[i], err, errlen) < 0)
			return -1;
		for (size_t j = 0; j < i; j++) {
			if (!same_dir(lower_id[i], lower_id[j]))
				continue;
			if (!strcmp(cfg->lowers[i], cfg->lowers[j]))
				return um_errorf(
					err, errlen,
					"lower directory %s is given twice",
					cfg->lowers[i]);
			return um_errorf(
				err, errlen,
				"lower directories %s and %s are the same "
				"directory",
				cfg->lowers[j], cfg->lowers[i]);
		}
	}
	return 0;
}

static int check_upper(struct um_config *cfg, const struct dir_id *lower_id,
		       struct dir_id upper_id, char *err, size_t errlen)
{
	for (size_t i = 0; i < cfg->nlowers; i++) {
		const char *l = cfg->lowers[i];

		if (same_dir(upper_id, lower_id[i])) {
			if (!strcmp(cfg->upper, l))
				return um_errorf(
					err, errlen,
					"%s is given twice, as upper and "
					"as lower directory",
					l);
			return um_errorf(
				err, errlen,
				"upper directory %s is the same directory "
				"as lower directory %s",
				cfg->upper, l);
		}
		if (is_below(cfg->upper, l))
			return um_errorf(err, errlen,
					 "upper directory %s is inside lower "
					 "directory %s",
					 cfg->upper, l);
		if (is_below(l, cfg->upper))
			return um_errorf(err, errlen,
					 "lower directory %s is inside upper "
					 "directory %s",
					 l, cfg->upper);
	}
	return 0;
}

/* work_id names the parent when create is set (see resolve_work()). */
static int check_work(struct um_config *cfg, const struct dir_id *lower_id,
		      struct dir_id upper_id, struct dir_id work_id,
		      bool create, bool dflt, char *err, size_t errlen)
{
	const char *w = cfg->work;

	if ((!create && same_dir(work_id, upper_id)) || !strcmp(w, cfg->upper))
		return um_errorf(err, errlen,
				 "workdir %s is the same directory as upper "
				 "directory %s",
				 w, cfg->upper);
	if (is_below(w, cfg->upper))
		return um_errorf(err, errlen,
				 "workdir %s is inside upper directory %s", w,
				 cfg->upper);
	if (is_below(cfg->upper, w))
		return um_errorf(err, errlen,
				 "upper directory %s is inside workdir %s",
				 cfg->upper, w);
	for (size_t i = 0; i < cfg->nlowers; i++) {
		const char *l = cfg->lowers[i];

		if (!create && same_dir(work_id, lower_id[i]))
			return um_errorf(
				err, errlen,
				"workdir %s is the same directory as lower "
				"directory %s",
				w, l);
		if (is_below(w, l))
			return um_errorf(
				err, errlen,
				"workdir %s is inside lower directory %s", w,
				l);
		if (is_below(l, w))
			return um_errorf(
				err, errlen,
				"lower directory %s is inside workdir %s", l,
				w);
	}
	if (work_id.dev != upper_id.dev) {
		if (dflt)
			return um_errorf(
				err, errlen,
				"default workdir %s is not on the same "
				"file system as upper directory %s: give "
				"one with -o workdir=",
				w, cfg->upper);
		return um_errorf(err, errlen,
				 "workdir %s is not on the same file system as "
				 "upper directory %s",
				 w, cfg->upper);
	}
	return 0;
}

static int check_mountpoint(struct um_config *cfg, struct dir_id mnt_id,
			    struct dir_id upper_id, struct dir_id work_id,
			    bool create, char *err, size_t errlen)
{
	const char *m = cfg->mountpoint;

	/* Equal to a lower is fine (see the top of the file). */
	for (size_t i = 0; i < cfg->nlowers; i++)
		if (is_below(m, cfg->lowers[i]))
			return um_errorf(
				err, errlen,
				"mountpoint %s is inside lower directory %s", m,
				cfg->lowers[i]);
	if (!cfg->upper)
		return 0;
	if (same_dir(mnt_id, upper_id))
		return um_errorf(err, errlen,
				 "mountpoint %s is the upper directory itself",
				 m);
	if (is_below(m, cfg->upper))
		return um_errorf(err, errlen,
				 "mountpoint %s is inside upper directory %s",
				 m, cfg->upper);
	if (!create && same_dir(mnt_id, work_id))
		return um_errorf(err, errlen,
				 "mountpoint %s is the workdir itself", m);
	if (is_below(m, cfg->work))
		return um_errorf(err, errlen,
				 "mountpoint %s is inside workdir %s", m,
				 cfg->work);
	return 0;
}

static int make_work(struct um_config *cfg, struct dir_id upper_id, char *err,
		     size_t errlen)
{
	struct stat st;

	/* EEXIST: made meanwhile by someone else; checked just below. */
	if (mkdir(cfg->work, 0700) < 0 && errno != EEXIST)
		return um_errorf(err, errlen, "cannot create workdir %s: %s",
				 cfg->work, strerror(errno));
	if (stat(cfg->work, &st) < 0)
		return um_errorf(err, errlen, "workdir %s: %s", cfg->work,
				 strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return um_errorf(err, errlen, "workdir %s is not a directory",
				 cfg->work);
	if (st.st_dev != upper_id.dev)
		return um_errorf(err, errlen,
				 "workdir %s is not on the same file system as "
				 "upper directory %s",
				 cfg->work, cfg->upper);
	return 0;
}

int um_config_check(struct um_config *cfg, char *err, size_t errlen)
{
	struct dir_id *lower_id;
	struct dir_id upper_id = {0}, work_id = {0}, mnt_id;
	bool create = false, dflt = false;
	int ret = -1;

	if (cfg->nlowers == 0)
		return um_errorf(err, errlen, "no lower directory given");
	if (cfg->nlowers > UM_MAX_LOWERS)
		return um_errorf(err, errlen,
				 "too many lower directories (%zu, at most %d)",
				 cfg->nlowers, UM_MAX_LOWERS);
	if (!cfg->mountpoint)
		return um_errorf(err, errlen, "no mountpoint given");
	/*
	 * Kernel overlayfs ignores workdir= without upperdir=; here it is
	 * an error, as it most likely means upperdir= was forgotten.
	 */
	if (cfg->work && !cfg->upper)
		return um_errorf(err, errlen,
				 "workdir= given without upperdir=");

	lower_id = calloc(cfg->nlowers, sizeof(*lower_id));
	if (!lower_id)
		return um_errorf(err, errlen, "out of memory");
	if (check_lowers(cfg, lower_id, err, errlen) < 0)
		goto out_free;
	if (cfg->upper) {
		if (resolve_dir(&cfg->upper, "upper directory", &upper_id, err,
				errlen) < 0 ||
		    check_upper(cfg, lower_id, upper_id, err, errlen) < 0)
			goto out_free;
		dflt = !cfg->work;
		if (resolve_work(cfg, &work_id, &create, err, errlen) < 0 ||
		    check_work(cfg, lower_id, upper_id, work_id, create, dflt,
			       err, errlen) < 0)
			goto out_free;
	}
	if (resolve_dir(&cfg->mountpoint, "mountpoint", &mnt_id, err, errlen) <
		    0 ||
	    check_mountpoint(cfg, mnt_id, upper_id, work_id, create, err,
			     errlen) < 0)
		goto out_free;
	if (create && make_work(cfg, upper_id, err, errlen) < 0)
		goto out_free;
	ret = 0;
out_free:
	free(lower_id);
	return ret;
}

/*
 * Does the FUSE configuration file allow allow_other for users?  Read as
 * fusermount3 reads it: a line "user_allow_other", with blanks around and
 * a '#' comment after it allowed.  A missing file allows nothing.
 */
static bool fuse_conf_allows_other(const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	bool yes = false;

	if (!f)
		return false;
	while (!yes && getline(&line, &cap, f) >= 0) {
		char *p = line, *end;

		end = strchrnul(p, '#');
		while (end > p && strchr(" \t\r\n", end[-1]))
			end--;
		*end = '\0';
		p += strspn(p, " \t");
		yes = !strcmp(p, "user_allow_other");
	}
	free(line);
	fclose(f);
	return yes;
}

/* Does the libfuse option list hold option name (no value)? */
static bool has_fuse_opt(const char *opts, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = opts; p && *p;) {
		const char *end = strchrnul(p, ',');

		if ((size_t)(end - p) == len && !strncmp(p, name, len))
			return true;
		p = *end ? end + 1 : end;
	}
	return false;
}

int um_config_access(struct um_config *cfg, uid_t euid, const char *fuse_conf,
		     char *err, size_t errlen)
{
	if (euid == 0) {
		/*
		 * Without default_permissions nobody checks modes, and
		 * every user would act with the daemon's rights: root's.
		 */
		if (!cfg->owner_only && cfg->default_permissions &&
		    !has_fuse_opt(cfg->fuse_opts, "allow_root"))
			cfg->allow_other = true;
		return 0;
	}
	if (cfg->allow_other && !fuse_conf_allows_other(fuse_conf))
		return um_errorf(err, errlen,
				 "allow_other refused: only root may use it "
				 "unless %s has user_allow_other",
				 fuse_conf);
	return 0;
}
