// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Command line and -o option parsing.
 *
 * Pure code: nothing here touches the file system, so it is unit tested and
 * fuzzed on its own.  Checks that need the layers (do they exist, do they
 * nest) are in check.c.
 *
 * Escapes.  An -o list is cut at every ',' that is neither escaped with '\'
 * nor inside double quotes.  Cutting removes the quotes and turns '\"' into
 * '"', but keeps every other escape, because what an escape means depends on
 * the option: in lowerdir= the value is a layer list where '\:' is a colon
 * and ':' a separator, in the other values '\:' '\,' '\\' just stand for
 * the character.  A backslash before any other character is an ordinary
 * character, so paths holding backslashes mostly work unescaped.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

int um_errorf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	/* The caller prints one line: a path must not break it. */
	for (char *p = err; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return -1;
}

void um_config_init(struct um_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->default_permissions = true;
	cfg->whiteout = UM_WHITEOUT_AUTO;
	cfg->timeout = 86400.0;
	cfg->writeback = 1;
	cfg->squash_uid = -1;
	cfg->squash_gid = -1;
}

void um_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

void um_config_release(struct um_config *cfg)
{
	um_strv_free(cfg->lowers);
	free(cfg->upper);
	free(cfg->work);
	free(cfg->mountpoint);
	free(cfg->fsname);
	free(cfg->fuse_opts);
	memset(cfg, 0, sizeof(*cfg));
}

static bool is_escapable(char c)
{
	return c == ':' || c == ',' || c == '\\';
}

/* Copy s[0..len) to a new string, turning '\:' '\,' '\\' into the char. */
static char *unescape_n(const char *s, size_t len)
{
	char *out = malloc(len + 1);
	char *q = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len && is_escapable(s[i + 1]))
			i++;
		*q++ = s[i];
	}
	*q = '\0';
	return out;
}

static char *unescape(const char *s)
{
	return unescape_n(s, strlen(s));
}

/* Where the layer that starts at s ends: at an unescaped ':' or the end. */
static const char *layer_end(const char *s)
{
	for (; *s && *s != ':'; s++)
		if (*s == '\\' && s[1])
			s++;
	return s;
}

/* Count the layers of list; *empty tells whether one of them is empty. */
static size_t layers_count(const char *list, bool *empty)
{
	const char *s = list;
	size_t n = 0;

	*empty = false;
	for (;;) {
		const char *end = layer_end(s);

		if (end == s)
			*empty = true;
		n++;
		if (!*end)
			return n;
		s = end + 1;
	}
}

/* On error *out and *n are left alone, so they may point into a config. */
int um_layers_split(const char *list, char ***out, size_t *n)
{
	const char *s = list;
	size_t count;
	bool empty;
	char **v;

	if (!list)
		return -EINVAL;
	count = layers_count(list, &empty);
	if (empty)
		return -EINVAL;
	if (count > UM_MAX_LOWERS)
		return -E2BIG;
	v = calloc(count + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		const char *end = layer_end(s);

		v[i] = unescape_n(s, (size_t)(end - s));
		if (!v[i]) {
			um_strv_free(v);
			return -ENOMEM;
		}
		s = end + 1;
	}
	*out = v;
	*n = count;
	return 0;
}

/* The message for a failed um_layers_split() of list. */
static int layers_error(int rc, const char *list, char *err, size_t errlen)
{
	bool empty;

	switch (rc) {
	case -E2BIG:
		return um_errorf(err, errlen,
				 "too many lower directories (%zu, at most %d)",
				 layers_count(list, &empty), UM_MAX_LOWERS);
	case -EINVAL:
		if (!list || !*list)
			return um_errorf(err, errlen,
					 "empty lower directory list");
		return um_errorf(err, errlen,
				 "empty element in lower directory list");
	default:
		return um_errorf(err, errlen, "out of memory");
	}
}

/*
 * Cut the next option off *pos (see the comment at the top).  Returns 0 and
 * a malloc'ed string in *out, -EINVAL for an unbalanced quote or -ENOMEM.
 */
static int next_option(const char **pos, char **out)
{
	const char *s = *pos;
	bool quoted = false;
	char *buf, *q;

	buf = malloc(strlen(s) + 1);
	if (!buf)
		return -ENOMEM;
	q = buf;
	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			if (s[1] != '"')
				*q++ = '\\';
			*q++ = *++s;
		} else if (*s == '"') {
			quoted = !quoted;
		} else if (*s == ',' && !quoted) {
			break;
		} else {
			*q++ = *s;
		}
	}
	*q = '\0';
	if (quoted) {
		free(buf);
		return -EINVAL;
	}
	*pos = *s ? s + 1 : s;
	*out = buf;
	return 0;
}

enum opt_kind {
	OPT_LOWERDIR,
	OPT_UPPERDIR,
	OPT_WORKDIR,
	OPT_RO,
	OPT_ALLOW_OTHER,
	OPT_DEFAULT_PERMISSIONS,
	OPT_NO_DEFAULT_PERMISSIONS,
	OPT_FSNAME,
	OPT_WHITEOUT,
	OPT_TIMEOUT,
	OPT_DEBUG,
	OPT_MAX_THREADS,
	OPT_MAX_IDLE_THREADS,
	OPT_WRITEBACK,
	OPT_FSYNC,
	OPT_IDMAP,
	OPT_SQUASH,
	OPT_XATTR_PERMS,
	OPT_METACOPY,
	OPT_INDEX,
	OPT_FLAG,	/* static_nlink, noacl, volatile */
	OPT_FUSE,     /* handed to fuse_session_new() as it is */
	OPT_FUSE_NUM, /* the same, the value an unsigned number */
	OPT_IGNORE,   /* mount(8)/fstab/systemd, or no meaning here */
	OPT_LATER,    /* fuse-overlayfs: accepted, not implemented yet */
};

enum opt_arg {
	ARG_NONE,   /* "name" only */
	ARG_NEEDED, /* "name=value" only */
	ARG_ANY,    /* either */
};

struct opt_desc {
	const char *name;
	enum opt_kind kind;
	enum opt_arg arg;
};

static const struct opt_desc opt_table[] = {
	{"lowerdir", OPT_LOWERDIR, ARG_NEEDED},
	{"upperdir", OPT_UPPERDIR, ARG_NEEDED},
	{"workdir", OPT_WORKDIR, ARG_NEEDED},
	{"ro", OPT_RO, ARG_NONE},
	{"allow_other", OPT_ALLOW_OTHER, ARG_NONE},
	{"default_permissions", OPT_DEFAULT_PERMISSIONS, ARG_NONE},
	{"no_default_permissions", OPT_NO_DEFAULT_PERMISSIONS, ARG_NONE},
	{"fsname", OPT_FSNAME, ARG_NEEDED},
	{"whiteout", OPT_WHITEOUT, ARG_NEEDED},
	{"timeout", OPT_TIMEOUT, ARG_NEEDED},
	{"debug", OPT_DEBUG, ARG_NONE},
	{"max_threads", OPT_MAX_THREADS, ARG_NEEDED},
	{"max_idle_threads", OPT_MAX_IDLE_THREADS, ARG_NEEDED},

	/*
	 * What fuse_session_new() of libfuse 3.14 understands, apart from
	 * what main.c sets itself (fsname, subtype, default_permissions,
	 * allow_other, ro).  The mount flags are passed on rather than
	 * ignored: dropping an asked-for nosuid or nodev would be a
	 * security surprise.
	 */
	{"allow_root", OPT_FUSE, ARG_NONE},
	{"auto_unmount", OPT_FUSE, ARG_NONE},
	{"max_read", OPT_FUSE_NUM, ARG_NEEDED},
	{"dev", OPT_FUSE, ARG_NONE},
	{"nodev", OPT_FUSE, ARG_NONE},
	{"suid", OPT_FUSE, ARG_NONE},
	{"nosuid", OPT_FUSE, ARG_NONE},
	{"exec", OPT_FUSE, ARG_NONE},
	{"noexec", OPT_FUSE, ARG_NONE},
	{"atime", OPT_FUSE, ARG_NONE},
	{"noatime", OPT_FUSE, ARG_NONE},
	{"sync", OPT_FUSE, ARG_NONE},
	{"async", OPT_FUSE, ARG_NONE},
	{"dirsync", OPT_FUSE, ARG_NONE},

	/*
	 * mount(8), fstab and systemd options that reach a mount helper,
	 * and atime variants libfuse does not take.  "rw" is the default
	 * and is ignored, so "ro,rw" stays read-only.  clone_fd is
	 * always on (main.c).  subtype= is always "unionmount".
	 */
	{"rw", OPT_IGNORE, ARG_NONE},
	{"defaults", OPT_IGNORE, ARG_NONE},
	{"nofail", OPT_IGNORE, ARG_NONE},
	{"_netdev", OPT_IGNORE, ARG_NONE},
	{"auto", OPT_IGNORE, ARG_NONE},
	{"noauto", OPT_IGNORE, ARG_NONE},
	{"user", OPT_IGNORE, ARG_ANY},
	{"users", OPT_IGNORE, ARG_NONE},
	{"nouser", OPT_IGNORE, ARG_NONE},
	{"owner", OPT_IGNORE, ARG_NONE},
	{"group", OPT_IGNORE, ARG_NONE},
	{"comment", OPT_IGNORE, ARG_ANY},
	{"relatime", OPT_IGNORE, ARG_NONE},
	{"norelatime", OPT_IGNORE, ARG_NONE},
	{"strictatime", OPT_IGNORE, ARG_NONE},
	{"nostrictatime", OPT_IGNORE, ARG_NONE},
	{"diratime", OPT_IGNORE, ARG_NONE},
	{"nodiratime", OPT_IGNORE, ARG_NONE},
	{"lazytime", OPT_IGNORE, ARG_NONE},
	{"nolazytime", OPT_IGNORE, ARG_NONE},
	{"loop", OPT_IGNORE, ARG_ANY},
	{"clone_fd", OPT_IGNORE, ARG_NONE},
	{"subtype", OPT_IGNORE, ARG_ANY},

	/*
	 * fuse-overlayfs options that container engines pass.  Accepted
	 * without a word so their command lines work; not implemented yet.
	 */
	{"uidmapping", OPT_IDMAP, ARG_NEEDED},
	{"gidmapping", OPT_IDMAP, ARG_NEEDED},
	{"squash_to_root", OPT_SQUASH, ARG_NONE},
	{"squash_to_uid", OPT_SQUASH, ARG_NEEDED},
	{"squash_to_gid", OPT_SQUASH, ARG_NEEDED},
	{"xattr_permissions", OPT_XATTR_PERMS, ARG_NEEDED},
	{"static_nlink", OPT_FLAG, ARG_NONE},
	{"noacl", OPT_FLAG, ARG_NONE},
	{"fsync", OPT_FSYNC, ARG_ANY},
	{"volatile", OPT_FLAG, ARG_NONE},
	{"threaded", OPT_LATER, ARG_ANY},
	{"writeback", OPT_WRITEBACK, ARG_ANY},
	{"noxattrs", OPT_LATER, ARG_ANY},
	{"context", OPT_LATER, ARG_ANY},
	{"fscontext", OPT_LATER, ARG_ANY},
	{"defcontext", OPT_LATER, ARG_ANY},
	{"rootcontext", OPT_LATER, ARG_ANY},
	{"index", OPT_INDEX, ARG_NEEDED},
	{"redirect_dir", OPT_LATER, ARG_ANY},
	{"metacopy", OPT_METACOPY, ARG_NEEDED},
	{"xino", OPT_LATER, ARG_ANY},
	{"userxattr", OPT_LATER, ARG_ANY},
	{"nfs_export", OPT_LATER, ARG_ANY},
};

static const struct opt_desc *opt_find(const char *name)
{
	for (size_t i = 0; i < sizeof(opt_table) / sizeof(opt_table[0]); i++)
		if (!strcmp(opt_table[i].name, name))
			return &opt_table[i];
	return NULL;
}

/* Append name[=value] to *opts, escaping ',' and '\' for fuse_opt_parse. */
static int fuse_opts_append(char **opts, const char *name, const char *value)
{
	size_t old = *opts ? strlen(*opts) : 0;
	size_t len = strlen(name) + (value ? 2 * strlen(value) + 1 : 0);
	char *p = realloc(*opts, old + 1 + len + 1);
	char *q;

	if (!p)
		return -1;
	q = p + old;
	if (old)
		*q++ = ',';
	q = stpcpy(q, name);
	if (value) {
		*q++ = '=';
		for (; *value; value++) {
			if (*value == ',' || *value == '\\')
				*q++ = '\\';
			*q++ = *value;
		}
	}
	*q = '\0';
	*opts = p;
	return 0;
}

/* Parse an unsigned decimal number that fits an unsigned int. */
static bool parse_uint(const char *s, unsigned int *out)
{
	unsigned long long v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned int)(*s - '0');
		if (v > UINT_MAX)
			return false;
	}
	*out = (unsigned int)v;
	return true;
}

/* A finite non-negative decimal number of seconds, no sign, no spaces. */
static bool parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	if (!((*s >= '0' && *s <= '9') || *s == '.'))
		return false;
	/* strtod() would take "0x1p3" as hex; seconds are decimal. */
	if (strpbrk(s, "xXpP"))
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < 0)
		return false;
	*out = v;
	return true;
}

/* Replace the string *field by a copy of value with its escapes removed. */
static int set_path(char **field, const char *name, const char *value,
		    char *err, size_t errlen)
{
	char *s;

	if (!*value)
		return um_errorf(err, errlen, "%s= is empty", name);
	s = unescape(value);
	if (!s)
		return um_errorf(err, errlen, "out of memory");
	free(*field);
	*field = s;
	return 0;
}

static void warn_unknown(const char *name)
{
	fputs("unionmount: warning: ignoring unknown option '", stderr);
	for (const char *p = name; *p; p++)
		fputc((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p,
		      stderr);
	fputs("'\n", stderr);
}

/* Apply one option "name" or "name=value" (value NULL without '='). */
static int apply_option(struct um_config *cfg, const char *name,
			const char *value, char *err, size_t errlen)
{
	const struct opt_desc *d;
	unsigned int num;
	char *s;
	int rc;

	/* x-systemd.requires=..., x-gvfs-show, ...: for other programs. */
	if (!strncmp(name, "x-", 2))
		return 0;
	d = opt_find(name);
	if (!d) {
		warn_unknown(name);
		return 0;
	}
	if (d->arg == ARG_NONE && value)
		return um_errorf(err, errlen, "option '%s' takes no value",
				 name);
	if (d->arg == ARG_NEEDED && !value)
		return um_errorf(err, errlen,
				 "option '%s' needs a value (%s=...)", name,
				 name);

	switch (d->kind) {
	case OPT_LOWERDIR: {
		char **v = NULL;
		size_t n = 0;

		rc = um_layers_split(value, &v, &n);
		if (rc < 0)
			return layers_error(rc, value, err, errlen);
		/* A later lowerdir= replaces an earlier one, as in mount(8). */
		um_strv_free(cfg->lowers);
		cfg->lowers = v;
		cfg->nlowers = n;
		cfg->lowers_from_opts = true;
		return 0;
	}
	case OPT_UPPERDIR:
		return set_path(&cfg->upper, name, value, err, errlen);
	case OPT_WORKDIR:
		return set_path(&cfg->work, name, value, err, errlen);
	case OPT_FSNAME:
		return set_path(&cfg->fsname, name, value, err, errlen);
	case OPT_RO:
		cfg->ro = true;
		return 0;
	case OPT_ALLOW_OTHER:
		cfg->allow_other = true;
		return 0;
	case OPT_DEFAULT_PERMISSIONS:
		cfg->default_permissions = true;
		return 0;
	case OPT_NO_DEFAULT_PERMISSIONS:
		cfg->default_permissions = false;
		return 0;
	case OPT_DEBUG:
		cfg->debug = true;
		cfg->foreground = true;
		return 0;
	case OPT_WHITEOUT:
		if (!strcmp(value, "auto"))
			cfg->whiteout = UM_WHITEOUT_AUTO;
		else if (!strcmp(value, "chardev"))
			cfg->whiteout = UM_WHITEOUT_CHARDEV;
		else if (!strcmp(value, "oci"))
			cfg->whiteout = UM_WHITEOUT_OCI;
		else
			return um_errorf(err, errlen,
					 "bad value for whiteout=: '%s' (auto, "
					 "chardev or oci)",
					 value);
		return 0;
	case OPT_TIMEOUT:
		if (!parse_seconds(value, &cfg->timeout))
			return um_errorf(
				err, errlen,
				"bad value for timeout=: '%s' (seconds, a "
				"number >= 0)",
				value);
		return 0;
	case OPT_MAX_THREADS:
	case OPT_MAX_IDLE_THREADS:
		if (!parse_uint(value, &num) || num == 0)
			return um_errorf(
				err, errlen,
				"bad value for %s=: '%s' (a number >= 1)", name,
				value);
		if (d->kind == OPT_MAX_THREADS)
			cfg->max_threads = num;
		else
			cfg->max_idle_threads = num;
		return 0;
	case OPT_FUSE_NUM:
		if (!parse_uint(value, &num))
			return um_errorf(err, errlen,
					 "bad value for %s=: '%s' (a number)",
					 name, value);
		if (!strcmp(name, "max_read"))
			cfg->max_read = num;
		/* fall through */
	case OPT_FUSE:
		s = value ? unescape(value) : NULL;
		if ((value && !s) ||
		    fuse_opts_append(&cfg->fuse_opts, name, s) < 0) {
			free(s);
			return um_errorf(err, errlen, "out of memory");
		}
		free(s);
		return 0;
	case OPT_FLAG:
		if (!strcmp(name, "static_nlink"))
			cfg->static_nlink = true;
		else if (!strcmp(name, "noacl"))
			cfg->noacl = true;
		else
			cfg->no_fsync = true;	/* volatile: no syncs at all */
		return 0;
	case OPT_XATTR_PERMS:
		if (!parse_uint(value, &num) || num > 2)
			return um_errorf(err, errlen,
					 "bad value for xattr_permissions=: '%s' (0, 1 or 2)",
					 value);
		cfg->xattr_permissions = num;
		return 0;
	case OPT_IDMAP:
		if (um_idmap_parse(name[0] == 'u' ? &cfg->uidmap : &cfg->gidmap,
				   value) < 0)
			return um_errorf(err, errlen,
					 "bad value for %s=: '%s' (C:H:N[:C:H:N...])",
					 name, value);
		return 0;
	case OPT_SQUASH:
		if (!value) {
			cfg->squash_uid = cfg->squash_gid = 0;
			return 0;
		}
		if (!parse_uint(value, &num))
			return um_errorf(err, errlen,
					 "bad value for %s=: '%s' (an id)", name,
					 value);
		if (!strcmp(name, "squash_to_uid"))
			cfg->squash_uid = num;
		else
			cfg->squash_gid = num;
		return 0;
	case OPT_WRITEBACK:
	case OPT_FSYNC:
		/* "name" alone means 1, as in fuse-overlayfs */
		if (value && (!parse_uint(value, &num) || num > 1))
			return um_errorf(err, errlen,
					 "bad value for %s=: '%s' (0 or 1)",
					 name, value);
		if (d->kind == OPT_WRITEBACK)
			cfg->writeback = value ? num : 1;
		else
			cfg->no_fsync = value ? !num : 0;
		return 0;
	case OPT_METACOPY:
		/* the kernel's spelling */
		if (strcmp(value, "on") && strcmp(value, "off"))
			return um_errorf(err, errlen,
					 "bad value for metacopy=: '%s' (on or off)",
					 value);
		cfg->metacopy = !strcmp(value, "on");
		return 0;
	case OPT_INDEX:
		/* the kernel's spelling; on is our default */
		if (strcmp(value, "on") && strcmp(value, "off"))
			return um_errorf(err, errlen,
					 "bad value for index=: '%s' (on or off)",
					 value);
		cfg->no_index = !strcmp(value, "off");
		return 0;
	case OPT_IGNORE:
	case OPT_LATER:
		return 0;
	}
	return 0;
}

int um_options_parse(struct um_config *cfg, const char *optstr, char *err,
		     size_t errlen)
{
	const char *pos = optstr;

	while (*pos) {
		char *opt, *eq;
		int rc;

		rc = next_option(&pos, &opt);
		if (rc == -EINVAL)
			return um_errorf(
				err, errlen,
				"unbalanced double quote in option list");
		if (rc < 0)
			return um_errorf(err, errlen, "out of memory");
		if (!*opt) { /* ",," or a trailing ',' */
			free(opt);
			continue;
		}
		eq = strchr(opt, '=');
		if (eq)
			*eq = '\0';
		rc = apply_option(cfg, opt, eq ? eq + 1 : NULL, err, errlen);
		free(opt);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static bool strv_equal(char **a, size_t na, char **b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]))
			return false;
	return true;
}

/* Does the libfuse option list hold the option name (no value)? */
static bool fuse_opts_has(const char *opts, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = opts; p && *p;) {
		const char *end = p;

		while (*end && *end != ',')
			end += (*end == '\\' && end[1]) ? 2 : 1;
		if ((size_t)(end - p) == len && !strncmp(p, name, len))
			return true;
		p = *end ? end + 1 : end;
	}
	return false;
}

/* The lower list given as an argument. */
static int positional_lowers(struct um_config *cfg, const char *list, char *err,
			     size_t errlen)
{
	char **v = NULL;
	size_t n = 0;
	int rc;

	rc = um_layers_split(list, &v, &n);
	if (rc < 0)
		return layers_error(rc, list, err, errlen);
	if (cfg->lowers_from_opts) {
		/*
		 * Both an argument and lowerdir=: fine if they agree, an
		 * error if not.  Silently preferring one would mount
		 * something the user did not mean with one of them.
		 */
		bool same = strv_equal(v, n, cfg->lowers, cfg->nlowers);

		um_strv_free(v);
		if (!same)
			return um_errorf(
				err, errlen,
				"lower directories given both as argument "
				"and with lowerdir=, and they differ");
		return 0;
	}
	cfg->lowers = v;
	cfg->nlowers = n;
	return 0;
}

/* The upper directory given as an argument: taken as it is. */
static int positional_upper(struct um_config *cfg, const char *path, char *err,
			    size_t errlen)
{
	if (!*path)
		return um_errorf(err, errlen, "empty upper directory");
	if (cfg->upper) {
		if (strcmp(cfg->upper, path))
			return um_errorf(
				err, errlen,
				"upper directory given both as argument "
				"(%s) and with upperdir= (%s)",
				path, cfg->upper);
		return 0;
	}
	cfg->upper = strdup(path);
	if (!cfg->upper)
		return um_errorf(err, errlen, "out of memory");
	return 0;
}

/*
 * Give the arguments their meaning:
 *   3: LOWERS UPPER MOUNTPOINT
 *   2: LOWERS MOUNTPOINT, or SOURCE MOUNTPOINT when lowerdir= was given;
 *      the latter is how mount.fuse3 runs an fstab line whose options
 *      hold lowerdir=, and SOURCE is then only a device name ("none",
 *      "unionmount") shown nowhere.
 *   1: MOUNTPOINT, the layers all from -o.
 */
static int positionals(struct um_config *cfg, char **pos, size_t npos,
		       char *err, size_t errlen)
{
	const char *mnt;

	if (npos > 3)
		return um_errorf(
			err, errlen,
			"too many arguments (%zu, at most 3: LOWERS UPPER "
			"MOUNTPOINT)",
			npos);
	if (npos == 0)
		return um_errorf(err, errlen,
				 cfg->lowers ? "no mountpoint given"
					     : "no lower directory and no "
					       "mountpoint given (see --help)");
	if (npos == 3) {
		if (positional_lowers(cfg, pos[0], err, errlen) < 0 ||
		    positional_upper(cfg, pos[1], err, errlen) < 0)
			return -1;
	} else if (npos == 2 && !cfg->lowers_from_opts) {
		if (positional_lowers(cfg, pos[0], err, errlen) < 0)
			return -1;
	}
	if (!cfg->lowers)
		return um_errorf(err, errlen, "no lower directory given");

	mnt = pos[npos - 1];
	if (!*mnt)
		return um_errorf(err, errlen, "empty mountpoint");
	cfg->mountpoint = strdup(mnt);
	if (!cfg->mountpoint)
		return um_errorf(err, errlen, "out of memory");
	return 0;
}

int um_cmdline_parse(struct um_config *cfg, int argc, char **argv, char *err,
		     size_t errlen)
{
	size_t nargs = argc > 0 ? (size_t)argc : 0;
	char **pos = calloc(nargs + 1, sizeof(*pos));
	char **opts = calloc(nargs + 1, sizeof(*opts));
	size_t npos = 0, nopts = 0;
	bool dashdash = false;
	bool bad = false;
	int ret = -1;

	if (!pos || !opts) {
		um_errorf(err, errlen, "out of memory");
		goto out_free;
	}

	/*
	 * Options may come before, between or after the arguments, as with
	 * getopt()'s permutation: mount.fuse3 runs "unionmount SOURCE
	 * MOUNTPOINT -o OPTIONS".  Only the first error is kept, and it
	 * counts only if there is no -h or -V anywhere.
	 */
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];

		if (dashdash || a[0] != '-' || a[1] == '\0') {
			pos[npos++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			dashdash = true;
		} else if (!strcmp(a, "--help")) {
			cfg->show_help = true;
		} else if (!strcmp(a, "--version")) {
			cfg->show_version = true;
		} else if (a[1] == '-') {
			if (!bad)
				um_errorf(err, errlen, "unknown option '%s'",
					  a);
			bad = true;
		} else {
			/* A cluster of short options: -fd, -oX, -fo X. */
			for (char *p = a + 1; *p; p++) {
				if (*p == 'o') {
					if (p[1]) {
						opts[nopts++] = p + 1;
					} else if (i + 1 < argc) {
						opts[nopts++] = argv[++i];
					} else {
						if (!bad)
							um_errorf(
								err, errlen,
								"option -o "
								"needs "
								"an argument");
						bad = true;
					}
					break;
				}
				switch (*p) {
				case 'f':
					cfg->foreground = true;
					break;
				case 'd':
					cfg->debug = true;
					cfg->foreground = true;
					break;
				case 'h':
					cfg->show_help = true;
					break;
				case 'V':
					cfg->show_version = true;
					break;
				default:
					if (!bad)
						um_errorf(
							err, errlen,
							"unknown option '-%c'",
							*p);
					bad = true;
					break;
				}
			}
		}
	}
	if (cfg->show_help || cfg->show_version) {
		ret = 0;
		goto out_free;
	}
	if (bad)
		goto out_free;

	for (size_t i = 0; i < nopts; i++)
		if (um_options_parse(cfg, opts[i], err, errlen) < 0)
			goto out_free;
	if (positionals(cfg, pos, npos, err, errlen) < 0)
		goto out_free;
	if (cfg->allow_other && fuse_opts_has(cfg->fuse_opts, "allow_root")) {
		um_errorf(err, errlen,
			  "allow_other and allow_root exclude each other");
		goto out_free;
	}
	ret = 0;
out_free:
	free(pos);
	free(opts);
	return ret;
}

void um_usage(const char *prog)
{
	printf("Usage: %s [OPTIONS] LOWER1[:LOWER2...] UPPER MOUNTPOINT\n"
	       "       %s [OPTIONS] LOWERS MOUNTPOINT\n"
	       "       %s [OPTIONS] -o "
	       "lowerdir=LOWERS[,upperdir=UPPER[,workdir=WORK]] MOUNTPOINT\n"
	       "\n"
	       "Mount a union of directories through FUSE, with the semantics "
	       "of\n"
	       "kernel overlayfs.  LOWER1 is the topmost lower layer; without "
	       "an upper\n"
	       "layer the union is read-only.  The default workdir is\n"
	       "\".BASENAME.unionmount-work\" beside UPPER.\n"
	       "\n"
	       "Options:\n"
	       "  -f                  stay in the foreground\n"
	       "  -d                  log every FUSE request (implies -f)\n"
	       "  -h, --help          print this help and exit\n"
	       "  -V, --version       print the version and exit\n"
	       "  -o OPT[,OPT...]     mount options:\n"
	       "    lowerdir=L1:L2...   lower layers, topmost first (at most "
	       "%d)\n"
	       "    upperdir=DIR        upper layer, where changes go\n"
	       "    workdir=DIR         work directory, on the upper's file "
	       "system\n"
	       "    ro                  read-only: changes fail with EROFS\n"
	       "    allow_other         let other users access the mount\n"
	       "    default_permissions kernel permission checks (default on;\n"
	       "                        no_default_permissions turns them "
	       "off)\n"
	       "    fsname=NAME         source shown in /proc/mounts\n"
	       "    whiteout=MODE       auto, chardev or oci: whiteout format "
	       "to write\n"
	       "    timeout=SECONDS     kernel cache time of names and "
	       "attributes (86400)\n"
	       "    max_threads=N, max_idle_threads=N  worker threads\n"
	       "    allow_root, auto_unmount, max_read=N, nosuid, nodev, "
	       "noexec, ...\n"
	       "                        passed on to libfuse\n"
	       "\n"
	       "In layer lists and -o values write '\\:' for ':', '\\,' for "
	       "',' and\n"
	       "'\\\\' for '\\'; a double-quoted -o value is not split at "
	       "commas.\n"
	       "mount(8) and systemd options (defaults, nofail, _netdev, x-*, "
	       "...) are\n"
	       "ignored.  Unmount with: fusermount3 -u MOUNTPOINT\n",
	       prog, prog, prog, UM_MAX_LOWERS);
}
