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

#define UM_STR_(x) #x
#define UM_STR(x) UM_STR_(x)

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
	cfg->io_uring = -1;
	cfg->passthrough = -1;
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
	free(cfg->source);
	free(cfg->noeffect);
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
	OPT_OWNER_ONLY,
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
	OPT_REDIRECT_DIR,
	OPT_TRANSPORT, /* io_uring, passthrough: 0, 1 or auto */
	OPT_FLAG,      /* static_nlink, noacl, volatile */
	OPT_FUSE,      /* handed to fuse_session_new() as it is */
	OPT_FUSE_NUM,  /* the same, the value an unsigned number */
	OPT_IGNORE,    /* mount(8)/fstab/systemd: not for us, silently */
	OPT_NOEFFECT,  /* fuse-overlayfs/kernel: accepted, said to do nothing */
};

enum opt_arg {
	ARG_NONE,   /* "name" only */
	ARG_NEEDED, /* "name=value" only */
	ARG_ANY,    /* either */
};

/* The groups of --help, in this order. */
enum opt_group {
	GRP_LAYERS,
	GRP_SPEED,
	GRP_OWNERS,
	GRP_MOUNT,
	GRP_COMPAT,
	GRP_COUNT,
};

static const char *const group_title[GRP_COUNT] = {
	[GRP_LAYERS] = "Layers",
	[GRP_SPEED] = "Caching and speed",
	[GRP_OWNERS] = "Ownership mapping, permissions and rootless use",
	[GRP_MOUNT] = "Mount flags and libfuse",
	[GRP_COMPAT] = "Compatibility (mount(8), systemd, fuse-overlayfs, "
		       "kernel overlayfs)",
};

/*
 * Every -o option there is: what it does, and how --help shows it.  An
 * entry with help NULL shares the --help line of the entry before it.
 * The unit test checks that every name here is in --help and in the man
 * page, so an option cannot be added without being documented.
 */
struct opt_desc {
	const char *name;
	enum opt_kind kind;
	enum opt_arg arg;
	enum opt_group group;
	const char *usage; /* the name as --help writes it; NULL: name */
	const char *help;
};

static const struct opt_desc opt_table[] = {
	{"lowerdir", OPT_LOWERDIR, ARG_NEEDED, GRP_LAYERS, "lowerdir=L1:L2...",
	 "lower layers, topmost first (at most " UM_STR(UM_MAX_LOWERS) ")"},
	{"upperdir", OPT_UPPERDIR, ARG_NEEDED, GRP_LAYERS, "upperdir=DIR",
	 "upper layer: every change goes there"},
	{"workdir", OPT_WORKDIR, ARG_NEEDED, GRP_LAYERS, "workdir=DIR",
	 "work directory, on the upper's file system"},
	{"ro", OPT_RO, ARG_NONE, GRP_LAYERS, NULL,
	 "read-only union: every change fails with EROFS"},
	{"whiteout", OPT_WHITEOUT, ARG_NEEDED, GRP_LAYERS,
	 "whiteout=auto|chardev|oci", "whiteout format to write (auto)"},
	{"metacopy", OPT_METACOPY, ARG_NEEDED, GRP_LAYERS, "metacopy=on|off",
	 "metadata changes of big lower files copy no data (off)"},
	{"redirect_dir", OPT_REDIRECT_DIR, ARG_NEEDED, GRP_LAYERS,
	 "redirect_dir=on|follow|nofollow|off",
	 "directory renames write redirects; all are followed (on)"},
	{"index", OPT_INDEX, ARG_NEEDED, GRP_LAYERS, "index=on|off",
	 "hard links of a lower file stay one file across copy-up (on)"},

	{"timeout", OPT_TIMEOUT, ARG_NEEDED, GRP_SPEED, "timeout=SECONDS",
	 "kernel cache time of names and attributes (86400)"},
	{"writeback", OPT_WRITEBACK, ARG_ANY, GRP_SPEED, "writeback=0|1",
	 "kernel writeback cache for writes (1)"},
	{"io_uring", OPT_TRANSPORT, ARG_ANY, GRP_SPEED, "io_uring=0|1|auto",
	 "FUSE over io_uring where the kernel offers it (auto)"},
	{"passthrough", OPT_TRANSPORT, ARG_ANY, GRP_SPEED,
	 "passthrough=0|1|auto",
	 "reads and writes straight to the layer's file (auto: as root)"},
	{"fsync", OPT_FSYNC, ARG_ANY, GRP_SPEED, "fsync=0|1",
	 "flush copy-ups to disk before they appear (1)"},
	{"volatile", OPT_FLAG, ARG_NONE, GRP_SPEED, NULL,
	 "the same as fsync=0"},
	{"max_threads", OPT_MAX_THREADS, ARG_NEEDED, GRP_SPEED, "max_threads=N",
	 "most threads serving requests (64)"},
	{"max_idle_threads", OPT_MAX_IDLE_THREADS, ARG_NEEDED, GRP_SPEED,
	 "max_idle_threads=N", "most idle threads kept"},
	{"max_read", OPT_FUSE_NUM, ARG_NEEDED, GRP_SPEED, "max_read=N",
	 "largest read request in bytes (libfuse)"},

	{"allow_other", OPT_ALLOW_OTHER, ARG_NONE, GRP_OWNERS, NULL,
	 "every user may enter (default when run as root)"},
	{"owner_only", OPT_OWNER_ONLY, ARG_NONE, GRP_OWNERS, NULL,
	 "only the user who mounted may enter"},
	/*
	 * What fuse_session_new() of libfuse 3.14 understands, apart from
	 * what main.c sets itself (fsname, subtype, default_permissions,
	 * allow_other, ro).  The mount flags are passed on rather than
	 * ignored: dropping an asked-for nosuid or nodev would be a
	 * security surprise.
	 */
	{"allow_root", OPT_FUSE, ARG_NONE, GRP_OWNERS, NULL,
	 "only the user who mounted and root may enter"},
	{"default_permissions", OPT_DEFAULT_PERMISSIONS, ARG_NONE, GRP_OWNERS,
	 NULL, "the kernel checks modes, owners and ACLs (default)"},
	{"no_default_permissions", OPT_NO_DEFAULT_PERMISSIONS, ARG_NONE,
	 GRP_OWNERS, NULL, "no permission checks by the kernel"},
	{"uidmapping", OPT_IDMAP, ARG_NEEDED, GRP_OWNERS,
	 "uidmapping=C:H:N[:...]",
	 "show stored uids H.. as C.. (fuse-overlayfs)"},
	{"gidmapping", OPT_IDMAP, ARG_NEEDED, GRP_OWNERS,
	 "gidmapping=C:H:N[:...]", "the same for group ids"},
	{"squash_to_root", OPT_SQUASH, ARG_NONE, GRP_OWNERS, NULL,
	 "show every object as owned by root"},
	{"squash_to_uid", OPT_SQUASH, ARG_NEEDED, GRP_OWNERS,
	 "squash_to_uid=ID", "show every object as owned by user ID"},
	{"squash_to_gid", OPT_SQUASH, ARG_NEEDED, GRP_OWNERS,
	 "squash_to_gid=ID", "show every object as owned by group ID"},
	{"xattr_permissions", OPT_XATTR_PERMS, ARG_NEEDED, GRP_OWNERS,
	 "xattr_permissions=0|1|2",
	 "keep owners and modes in fuse-overlayfs' xattr (0)"},

	{"fsname", OPT_FSNAME, ARG_NEEDED, GRP_MOUNT, "fsname=NAME",
	 "source shown in /proc/mounts (default: the first argument)"},
	{"debug", OPT_DEBUG, ARG_NONE, GRP_MOUNT, NULL,
	 "log every request, stay in the foreground (-d)"},
	{"auto_unmount", OPT_FUSE, ARG_NONE, GRP_MOUNT, NULL,
	 "unmount when the daemon dies"},
	{"dev", OPT_FUSE, ARG_NONE, GRP_MOUNT, NULL,
	 "mount flags, passed to the kernel"},
	{"nodev", OPT_FUSE, ARG_NONE, GRP_MOUNT, NULL, NULL},
	{"suid", OPT_FUSE, ARG_NONE, GRP_MOUNT, NULL, NULL},
	{"nosuid", OPT_FUSE, ARG_NONE, GRP_MOUNT, NULL, NULL},
	{"exec", OPT_FUSE, ARG_NONE, GRP_MOUNT, NULL, NULL},
	{"noexec", OPT_FUSE, ARG_NONE, GRP_MOUNT, NULL, NULL},
	{"atime", OPT_FUSE, ARG_NONE, GRP_MOUNT, NULL,
	 "more mount flags, passed to the kernel"},
	{"noatime", OPT_FUSE, ARG_NONE, GRP_MOUNT, NULL, NULL},
	{"sync", OPT_FUSE, ARG_NONE, GRP_MOUNT, NULL, NULL},
	{"async", OPT_FUSE, ARG_NONE, GRP_MOUNT, NULL, NULL},
	{"dirsync", OPT_FUSE, ARG_NONE, GRP_MOUNT, NULL, NULL},

	/* fuse-overlayfs options with an effect here. */
	{"static_nlink", OPT_FLAG, ARG_NONE, GRP_COMPAT, NULL,
	 "directories show st_nlink 1 (fuse-overlayfs)"},
	{"noacl", OPT_FLAG, ARG_NONE, GRP_COMPAT, NULL,
	 "no POSIX ACLs (fuse-overlayfs)"},

	/*
	 * mount(8), fstab and systemd options that reach a mount helper,
	 * and atime variants libfuse does not take.  "rw" is the default
	 * and is ignored, so "ro,rw" stays read-only.  clone_fd is
	 * always on (main.c).  subtype= is always "unionmount".  x-* is
	 * matched by its prefix in apply_option().
	 */
	{"rw", OPT_IGNORE, ARG_NONE, GRP_COMPAT, NULL,
	 "mount(8) and systemd options: ignored"},
	{"defaults", OPT_IGNORE, ARG_NONE, GRP_COMPAT, NULL, NULL},
	{"auto", OPT_IGNORE, ARG_NONE, GRP_COMPAT, NULL, NULL},
	{"noauto", OPT_IGNORE, ARG_NONE, GRP_COMPAT, NULL, NULL},
	{"nofail", OPT_IGNORE, ARG_NONE, GRP_COMPAT, NULL, NULL},
	{"_netdev", OPT_IGNORE, ARG_NONE, GRP_COMPAT, NULL, NULL},
	{"user", OPT_IGNORE, ARG_ANY, GRP_COMPAT, NULL,
	 "more mount(8) options: ignored"},
	{"users", OPT_IGNORE, ARG_NONE, GRP_COMPAT, NULL, NULL},
	{"nouser", OPT_IGNORE, ARG_NONE, GRP_COMPAT, NULL, NULL},
	{"owner", OPT_IGNORE, ARG_NONE, GRP_COMPAT, NULL, NULL},
	{"group", OPT_IGNORE, ARG_NONE, GRP_COMPAT, NULL, NULL},
	{"comment", OPT_IGNORE, ARG_ANY, GRP_COMPAT, "comment=", NULL},
	{"x-*", OPT_IGNORE, ARG_ANY, GRP_COMPAT, "x-*", NULL},
	{"loop", OPT_IGNORE, ARG_ANY, GRP_COMPAT, NULL, NULL},
	{"relatime", OPT_IGNORE, ARG_NONE, GRP_COMPAT, NULL,
	 "atime variants FUSE lacks: ignored"},
	{"norelatime", OPT_IGNORE, ARG_NONE, GRP_COMPAT, NULL, NULL},
	{"strictatime", OPT_IGNORE, ARG_NONE, GRP_COMPAT, NULL, NULL},
	{"nostrictatime", OPT_IGNORE, ARG_NONE, GRP_COMPAT, NULL, NULL},
	{"diratime", OPT_IGNORE, ARG_NONE, GRP_COMPAT, NULL,
	 "more atime variants: ignored"},
	{"nodiratime", OPT_IGNORE, ARG_NONE, GRP_COMPAT, NULL, NULL},
	{"lazytime", OPT_IGNORE, ARG_NONE, GRP_COMPAT, NULL, NULL},
	{"nolazytime", OPT_IGNORE, ARG_NONE, GRP_COMPAT, NULL, NULL},
	{"clone_fd", OPT_IGNORE, ARG_NONE, GRP_COMPAT, NULL,
	 "libfuse options that are always so here: ignored"},
	{"subtype", OPT_IGNORE, ARG_ANY, GRP_COMPAT, "subtype=", NULL},
	{"nonempty", OPT_IGNORE, ARG_NONE, GRP_COMPAT, NULL, NULL},

	/*
	 * fuse-overlayfs and kernel overlayfs options that container
	 * engines pass: accepted so their command lines work, without an
	 * effect, which main.c says once on stderr.
	 */
	{"threaded", OPT_NOEFFECT, ARG_ANY, GRP_COMPAT, "threaded=N",
	 "fuse-overlayfs tuning: no effect"},
	{"fast_ino", OPT_NOEFFECT, ARG_ANY, GRP_COMPAT, "fast_ino=N", NULL},
	{"noxattrs", OPT_NOEFFECT, ARG_ANY, GRP_COMPAT, "noxattrs=N", NULL},
	{"context", OPT_NOEFFECT, ARG_ANY, GRP_COMPAT,
	 "context=", "SELinux labels: no effect"},
	{"fscontext", OPT_NOEFFECT, ARG_ANY, GRP_COMPAT, "fscontext=", NULL},
	{"defcontext", OPT_NOEFFECT, ARG_ANY, GRP_COMPAT, "defcontext=", NULL},
	{"rootcontext", OPT_NOEFFECT, ARG_ANY, GRP_COMPAT,
	 "rootcontext=", NULL},
	{"xino", OPT_NOEFFECT, ARG_ANY, GRP_COMPAT,
	 "xino=", "kernel overlayfs options: no effect"},
	{"userxattr", OPT_NOEFFECT, ARG_ANY, GRP_COMPAT, NULL, NULL},
	{"nfs_export", OPT_NOEFFECT, ARG_ANY, GRP_COMPAT, "nfs_export=", NULL},
};

#define OPT_COUNT (sizeof(opt_table) / sizeof(opt_table[0]))

static const struct opt_desc *opt_find(const char *name)
{
	/* x-systemd.requires=..., x-gvfs-show, ...: for other programs. */
	if (!strncmp(name, "x-", 2))
		name = "x-*";
	for (size_t i = 0; i < OPT_COUNT; i++)
		if (!strcmp(opt_table[i].name, name))
			return &opt_table[i];
	return NULL;
}

const char *um_option_name(size_t i)
{
	return i < OPT_COUNT ? opt_table[i].name : NULL;
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

/* Add name to the comma separated *list unless it is there already. */
static int list_add_once(char **list, const char *name)
{
	size_t len = strlen(name);
	size_t old = *list ? strlen(*list) : 0;
	char *p;

	for (const char *q = *list; q && *q;) {
		const char *end = strchrnul(q, ',');

		if ((size_t)(end - q) == len && !strncmp(q, name, len))
			return 0;
		q = *end ? end + 1 : end;
	}
	p = realloc(*list, old + 1 + len + 1);
	if (!p)
		return -1;
	if (old)
		p[old++] = ',';
	memcpy(p + old, name, len + 1);
	*list = p;
	return 0;
}

/* Apply one option "name" or "name=value" (value NULL without '='). */
static int apply_option(struct um_config *cfg, const char *name,
			const char *value, char *err, size_t errlen)
{
	const struct opt_desc *d;
	unsigned int num;
	char *s;
	int rc;

	d = opt_find(name);
	if (!d)
		return um_errorf(err, errlen,
				 "unknown option '%s' (see --help)", name);
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
	case OPT_OWNER_ONLY:
		cfg->owner_only = true;
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
			cfg->no_fsync = true; /* volatile: no syncs at all */
		return 0;
	case OPT_XATTR_PERMS:
		if (!parse_uint(value, &num) || num > UM_XATTR_PERMS_CONTAINERS)
			return um_errorf(err, errlen,
					 "bad value for xattr_permissions=: "
					 "'%s' (0, 1 or 2)",
					 value);
		cfg->xattr_permissions = (enum um_xattr_perms)num;
		return 0;
	case OPT_IDMAP:
		if (um_idmap_parse(name[0] == 'u' ? &cfg->uidmap : &cfg->gidmap,
				   value) < 0)
			return um_errorf(
				err, errlen,
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
					 "bad value for %s=: '%s' (an id)",
					 name, value);
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
			return um_errorf(
				err, errlen,
				"bad value for metacopy=: '%s' (on or off)",
				value);
		cfg->metacopy = !strcmp(value, "on");
		return 0;
	case OPT_INDEX:
		/* the kernel's spelling; on is our default */
		if (strcmp(value, "on") && strcmp(value, "off"))
			return um_errorf(
				err, errlen,
				"bad value for index=: '%s' (on or off)",
				value);
		cfg->no_index = !strcmp(value, "off");
		return 0;
	case OPT_REDIRECT_DIR: {
		/* the kernel's values, in the order of enum um_redirect_mode */
		static const char *const modes[] = {"on", "follow", "nofollow",
						    "off"};

		for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
			if (!strcmp(value, modes[i])) {
				cfg->redirect_dir = (enum um_redirect_mode)i;
				return 0;
			}
		return um_errorf(err, errlen,
				 "bad value for redirect_dir=: '%s' (on, "
				 "follow, nofollow or off)",
				 value);
	}
	case OPT_TRANSPORT: {
		/* "name" alone asks for it; "auto" is the default */
		int on;

		if (!value || !strcmp(value, "1"))
			on = 1;
		else if (!strcmp(value, "0"))
			on = 0;
		else if (!strcmp(value, "auto"))
			on = -1;
		else
			return um_errorf(
				err, errlen,
				"bad value for %s=: '%s' (0, 1 or auto)", name,
				value);
		if (!strcmp(name, "io_uring"))
			cfg->io_uring = on;
		else
			cfg->passthrough = on;
		return 0;
	}
	case OPT_NOEFFECT:
		if (list_add_once(&cfg->noeffect, name) < 0)
			return um_errorf(err, errlen, "out of memory");
		return 0;
	case OPT_IGNORE:
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
	/*
	 * What /proc/mounts shows as the source: the first argument as it
	 * was given, which is the first field of an fstab line when
	 * mount.fuse3 runs us.  mount -a compares the two to tell that the
	 * line is mounted already.
	 */
	if (npos >= 2) {
		cfg->source = strdup(pos[0]);
		if (!cfg->source)
			return um_errorf(err, errlen, "out of memory");
	}

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
	if (cfg->owner_only &&
	    (cfg->allow_other || fuse_opts_has(cfg->fuse_opts, "allow_root"))) {
		um_errorf(err, errlen, "owner_only excludes %s",
			  cfg->allow_other ? "allow_other" : "allow_root");
		goto out_free;
	}
	ret = 0;
out_free:
	free(pos);
	free(opts);
	return ret;
}

/* One --help line: the names of d and of the entries that share its line. */
static void usage_line(FILE *out, const struct opt_desc *d,
		       const struct opt_desc *end)
{
	int col = fprintf(out, "  %s", d->usage ? d->usage : d->name);

	for (const struct opt_desc *e = d + 1; e < end && !e->help; e++)
		col += fprintf(out, ", %s", e->usage ? e->usage : e->name);
	fprintf(out, "%*s%s\n", col <= 26 ? 28 - col : 2, "", d->help);
}

void um_usage(FILE *out, const char *prog)
{
	const struct opt_desc *end = opt_table + OPT_COUNT;

	fprintf(out,
		"Usage: %s [OPTIONS] LOWER1[:LOWER2...] UPPER MOUNTPOINT\n"
		"       %s [OPTIONS] LOWERS MOUNTPOINT\n"
		"       %s [OPTIONS] -o "
		"lowerdir=LOWERS[,upperdir=UPPER[,workdir=WORK]] MOUNTPOINT\n"
		"\n"
		"Mount a union of directories through FUSE, with the semantics "
		"of kernel\n"
		"overlayfs.  LOWER1 is the topmost lower layer; without an "
		"upper layer the\n"
		"union is read-only.  The default workdir is "
		"\".BASENAME.unionmount-work\"\n"
		"beside UPPER.  Details: man unionmount.\n"
		"\n"
		"  -f                        stay in the foreground\n"
		"  -d                        log every FUSE request (implies "
		"-f)\n"
		"  -h, --help                print this help and exit\n"
		"  -V, --version             print the version and exit\n"
		"  -o OPT[,OPT...]           mount options:\n",
		prog, prog, prog);
	for (int g = 0; g < GRP_COUNT; g++) {
		fprintf(out, "\n%s:\n", group_title[g]);
		for (const struct opt_desc *d = opt_table; d < end; d++)
			if (d->group == (enum opt_group)g && d->help)
				usage_line(out, d, end);
	}
	fprintf(out,
		"\n"
		"In layer lists and -o values write '\\:' for ':', '\\,' for "
		"',' and '\\\\'\n"
		"for '\\'; a double-quoted -o value is not split at commas.  "
		"Any other\n"
		"option is refused.  Unmount with: fusermount3 -u "
		"MOUNTPOINT\n");
}
