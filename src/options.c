// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Command line and -o option parsing.  No file system access here: the
 * checks between layers live in check.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

void um_config_init(struct um_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->default_permissions = true;
	cfg->timeout = 1.0;
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

static int strv_push(char ***v, size_t *n, char *s)
{
	char **p = realloc(*v, (*n + 2) * sizeof(char *));

	if (!p)
		return -ENOMEM;
	p[(*n)++] = s;
	p[*n] = NULL;
	*v = p;
	return 0;
}

/* Copy s[0..len) dropping the '\' of escapes. */
static char *unescape(const char *s, size_t len)
{
	char *out = malloc(len + 1);
	size_t j = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\' && i + 1 < len)
			i++;
		out[j++] = s[i];
	}
	out[j] = '\0';
	return out;
}

int um_layers_split(const char *list, char ***out, size_t *n)
{
	char **v = NULL;
	size_t count = 0;
	const char *start = list;
	const char *p = list;
	int r = 0;

	*out = NULL;
	*n = 0;
	if (!list || !*list)
		return -EINVAL;
	for (;; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			continue;
		}
		if (*p != ':' && *p != '\0')
			continue;
		if (p == start) {
			r = -EINVAL;	/* empty element */
			break;
		}
		if (count == UM_MAX_LOWERS) {
			r = -E2BIG;
			break;
		}
		char *s = unescape(start, p - start);
		if (!s || strv_push(&v, &count, s) < 0) {
			free(s);
			r = -ENOMEM;
			break;
		}
		if (*p == '\0')
			break;
		start = p + 1;
	}
	if (r < 0) {
		um_strv_free(v);
		return r;
	}
	*out = v;
	*n = count;
	return 0;
}

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

/* Options for mount(8), systemd or the kernel that mean nothing to us. */
static const char *const ignored[] = {
	"defaults", "nofail", "_netdev", "auto", "noauto", "user", "users",
	"nouser", "owner", "group", "dev", "nodev", "suid", "nosuid", "exec",
	"noexec", "async", "sync", "atime", "noatime", "relatime",
	"strictatime", "nodiratime", "lazytime", "loop", "rw", "subtype",
	"comment", "fstype",
	/*
	 * fuse-overlayfs and kernel overlay options that container engines
	 * pass; accepted so existing configurations mount.
	 */
	"uidmapping", "gidmapping", "squash_to_root", "squash_to_uid",
	"squash_to_gid", "xattr_permissions", "static_nlink", "noacl",
	"fsync", "volatile", "threaded", "writeback", "noxattrs", "context",
	"fscontext", "defcontext", "rootcontext", "index", "redirect_dir",
	"metacopy", "xino", "userxattr", "nfs_export", "plugins",
};

/* Options libfuse understands; handed to it unchanged. */
static const char *const fuse_generic[] = {
	"allow_root", "auto_unmount", "max_read", "max_idle_threads",
	"max_threads", "clone_fd", "blkdev", "blksize", "max_write",
};

static bool in_list(const char *const *list, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], key))
			return true;
	return false;
}

/* Append key[=val] to cfg->fuse_opts, escaping for fuse_opt_parse(). */
static int add_fuse_opt(struct um_config *cfg, const char *opt)
{
	size_t old = cfg->fuse_opts ? strlen(cfg->fuse_opts) : 0;
	char *p = realloc(cfg->fuse_opts, old + 2 * strlen(opt) + 2);
	char *q;

	if (!p)
		return -ENOMEM;
	q = p + old;
	if (old)
		*q++ = ',';
	for (; *opt; opt++) {
		if (*opt == ',' || *opt == '\\')
			*q++ = '\\';
		*q++ = *opt;
	}
	*q = '\0';
	cfg->fuse_opts = p;
	return 0;
}

static int set_str(char **dst, const char *val)
{
	char *s = strdup(val);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

/* Apply one option; key and val are unescaped and unquoted. */
static int apply_option(struct um_config *cfg, const char *key,
			const char *val, const char *raw, char *err,
			size_t errlen)
{
	if (!strcmp(key, "lowerdir")) {
		char **v;
		size_t n;
		int r = um_layers_split(val ? val : "", &v, &n);
		if (r == -E2BIG)
			return fail(err, errlen,
				    "too many lower directories (at most %d)",
				    UM_MAX_LOWERS);
		if (r < 0)
			return fail(err, errlen, "lowerdir: empty layer list or element");
		um_strv_free(cfg->lowers);
		cfg->lowers = v;
		cfg->nlowers = n;
		cfg->lowers_from_opts = true;
		return 0;
	}
	if (!strcmp(key, "upperdir") || !strcmp(key, "workdir") ||
	    !strcmp(key, "fsname")) {
		char **dst = key[0] == 'u' ? &cfg->upper :
			     key[0] == 'w' ? &cfg->work : &cfg->fsname;
		if (!val || !*val)
			return fail(err, errlen, "%s needs a value", key);
		return set_str(dst, val) < 0 ?
			fail(err, errlen, "out of memory") : 0;
	}
	if (!strcmp(key, "ro")) {
		cfg->ro = true;
		return 0;
	}
	if (!strcmp(key, "allow_other")) {
		cfg->allow_other = true;
		return 0;
	}
	if (!strcmp(key, "default_permissions")) {
		cfg->default_permissions = true;
		return 0;
	}
	if (!strcmp(key, "no_default_permissions")) {
		cfg->default_permissions = false;
		return 0;
	}
	if (!strcmp(key, "whiteout")) {
		if (val && !strcmp(val, "auto"))
			cfg->whiteout = UM_WHITEOUT_AUTO;
		else if (val && !strcmp(val, "chardev"))
			cfg->whiteout = UM_WHITEOUT_CHARDEV;
		else if (val && !strcmp(val, "oci"))
			cfg->whiteout = UM_WHITEOUT_OCI;
		else
			return fail(err, errlen,
				    "whiteout= must be auto, chardev or oci");
		return 0;
	}
	if (!strcmp(key, "timeout")) {
		char *end;
		double t = val ? strtod(val, &end) : -1;
		if (!val || !*val || *end || t < 0 || t != t)
			return fail(err, errlen,
				    "timeout= needs a number of seconds >= 0");
		cfg->timeout = t;
		return 0;
	}
	if (in_list(fuse_generic, sizeof(fuse_generic) / sizeof(*fuse_generic),
		    key))
		return add_fuse_opt(cfg, raw) < 0 ?
			fail(err, errlen, "out of memory") : 0;
	if (in_list(ignored, sizeof(ignored) / sizeof(*ignored), key) ||
	    !strncmp(key, "x-", 2))
		return 0;
	fprintf(stderr, "unionmount: warning: ignoring unknown option '%s'\n",
		key);
	return 0;
}

/*
 * Split at ',' outside quotes and escapes; unescape and unquote the value;
 * the raw text of each option is kept for libfuse.
 */
int um_options_parse(struct um_config *cfg, const char *optstr, char *err,
		     size_t errlen)
{
	size_t len = strlen(optstr);
	char *key = malloc(len + 1), *val = malloc(len + 1);
	char *raw = malloc(len + 1);
	const char *p = optstr;
	int r = 0;

	if (!key || !val || !raw) {
		r = fail(err, errlen, "out of memory");
		goto out;
	}
	while (*p && r == 0) {
		size_t k = 0, v = 0, w = 0;
		bool quoted = false, has_val = false;

		for (; *p; p++) {
			if (*p == '\\' && p[1]) {
				/* lowerdir keeps escapes for the ':' split. */
				if (has_val && !strcmp(key, "lowerdir") &&
				    p[1] != ',')
					val[v++] = *p;
				p++;
			} else if (*p == '"') {
				quoted = !quoted;
				continue;
			} else if (*p == ',' && !quoted) {
				p++;
				break;
			} else if (*p == '=' && !has_val && !quoted) {
				has_val = true;
				key[k] = '\0';
				raw[w++] = '=';
				continue;
			}
			if (has_val)
				val[v++] = *p;
			else
				key[k++] = *p;
			raw[w++] = *p;
		}
		if (quoted) {
			r = fail(err, errlen, "unbalanced quote in options");
			break;
		}
		if (!has_val)
			key[k] = '\0';
		val[v] = '\0';
		raw[w] = '\0';
		if (k == 0 && !has_val)
			continue;	/* ",," */
		r = apply_option(cfg, key, has_val ? val : NULL, raw, err,
				 errlen);
	}
out:
	free(key);
	free(val);
	free(raw);
	return r;
}

void um_usage(const char *prog)
{
	printf("usage: %s [OPTIONS] LOWER1[:LOWER2...] UPPER MOUNTPOINT\n"
	       "       %s [OPTIONS] LOWER1[:LOWER2...] MOUNTPOINT\n"
	       "       %s -o lowerdir=L1:L2,upperdir=U,workdir=W MOUNTPOINT\n"
	       "\n"
	       "Mount a union of read-only lower directories (LOWER1 on top)\n"
	       "under one writable upper directory, like kernel overlayfs.\n"
	       "\n"
	       "  -f                  stay in the foreground\n"
	       "  -d                  debug output (implies -f)\n"
	       "  -o OPT[,OPT...]     mount options:\n"
	       "       lowerdir=L1:L2  upperdir=DIR  workdir=DIR\n"
	       "       ro  allow_other  default_permissions (default)\n"
	       "       no_default_permissions  fsname=NAME\n"
	       "       whiteout=auto|chardev|oci  timeout=SECONDS\n"
	       "       and the generic libfuse options\n"
	       "  -h, --help          this help\n"
	       "  -V, --version       version\n"
	       "\n"
	       "Escape ':' and ',' in paths with '\\'.  See unionmount(1).\n",
	       prog, prog, prog);
}

int um_cmdline_parse(struct um_config *cfg, int argc, char **argv, char *err,
		     size_t errlen)
{
	const char *pos[3];
	int npos = 0;
	bool only_pos = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (only_pos || a[0] != '-' || !a[1]) {
			if (npos == 3)
				return fail(err, errlen,
					    "too many arguments ('%s')", a);
			pos[npos++] = a;
		} else if (!strcmp(a, "--")) {
			only_pos = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			cfg->show_help = true;
			return 0;
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			cfg->show_version = true;
			return 0;
		} else if (!strcmp(a, "-f")) {
			cfg->foreground = true;
		} else if (!strcmp(a, "-d") || !strcmp(a, "--debug")) {
			cfg->debug = true;
			cfg->foreground = true;
		} else if (!strcmp(a, "-s")) {
			/* single-threaded: accepted, we stay multithreaded */
		} else if (!strncmp(a, "-o", 2)) {
			const char *opts = a[2] ? a + 2 : argv[++i];
			if (!opts)
				return fail(err, errlen, "-o needs an argument");
			if (um_options_parse(cfg, opts, err, errlen) < 0)
				return -1;
		} else {
			return fail(err, errlen, "unknown option '%s'", a);
		}
	}

	if (npos == 0)
		return fail(err, errlen, "no mountpoint given");
	cfg->mountpoint = strdup(pos[npos - 1]);
	if (!cfg->mountpoint)
		return fail(err, errlen, "out of memory");
	if (npos == 3) {
		if (set_str(&cfg->upper, pos[1]) < 0)
			return fail(err, errlen, "out of memory");
	}
	/*
	 * mount.fuse3 passes the fstab source first: it is the lower list
	 * unless lowerdir= was given, in which case it is only a name.
	 */
	if (npos >= 2 && !cfg->lowers_from_opts) {
		int r = um_layers_split(pos[0], &cfg->lowers, &cfg->nlowers);
		if (r == -E2BIG)
			return fail(err, errlen,
				    "too many lower directories (at most %d)",
				    UM_MAX_LOWERS);
		if (r < 0)
			return fail(err, errlen,
				    "empty lower directory list or element in '%s'",
				    pos[0]);
	}
	if (cfg->nlowers == 0)
		return fail(err, errlen, "no lower directory given");
	return 0;
}
