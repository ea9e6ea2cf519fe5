/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Command line and -o option parsing.  Pure code: no file system access,
 * no FUSE, so it is unit tested and fuzzed on its own.
 */
#ifndef UM_OPTIONS_H
#define UM_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "idmap.h"

#define UM_MAX_LOWERS 500

enum um_whiteout_mode {
	UM_WHITEOUT_AUTO = 0, /* char 0:0 where mknod works, OCI otherwise */
	UM_WHITEOUT_CHARDEV,
	UM_WHITEOUT_OCI,
};

struct um_config {
	char **lowers; /* unescaped paths, topmost first */
	size_t nlowers;
	bool lowers_from_opts; /* lowerdir= was given */
	char *upper;	       /* NULL: read-only union */
	char *work;	       /* NULL: default, see um_config_default_work() */
	char *mountpoint;
	bool ro;
	bool allow_other;
	bool default_permissions; /* on unless "no_default_permissions" */
	bool foreground;	  /* -f */
	bool debug;		  /* -d, implies foreground */
	bool show_help;		  /* -h/--help */
	bool show_version;	  /* -V/--version */
	char *fsname;		  /* fsname= or NULL */
	enum um_whiteout_mode whiteout;
	double timeout; /* timeout= seconds for entry/attr cache, default 86400
			 */
	/*
	 * Options handed to libfuse unchanged (generic ones such as
	 * max_read=, auto_unmount, ...), comma separated, already escaped
	 * for fuse_opt_parse().  NULL if none.
	 */
	char *fuse_opts;
	/*
	 * max_threads= and max_idle_threads=: libfuse takes them through
	 * fuse_parse_cmdline() / fuse_loop_cfg_set_*(), not through
	 * fuse_session_new() (which rejects them), so they cannot go into
	 * fuse_opts.  0: not given, use the built-in default.
	 */
	bool writeback; /* writeback=1: kernel writeback cache */
	bool no_fsync;	/* fsync=0: copy-ups are not synced */
	bool metacopy;	/* metacopy=on: metadata changes copy no data */
	bool no_index;	/* index=off: names of a lower hard link copy up
			 * separately (index.h) */
	unsigned int max_threads;
	unsigned int max_idle_threads;
	/*
	 * max_read=, 0: not given.  It is also in fuse_opts, and libfuse
	 * refuses the session unless init() sets conn->max_read to the same
	 * value.
	 */
	unsigned int max_read;
	/* uidmapping=, gidmapping=: owners stored below vs. shown. */
	struct um_idmap uidmap, gidmap;
	/*
	 * xattr_permissions=: 0 off; owner and mode kept in an xattr instead
	 * of the real ones, 1: security.fuseoverlayfs.override_stat,
	 * 2: user.containers.override_stat (fuse-overlayfs' names).
	 */
	unsigned int xattr_permissions;
	bool static_nlink;	/* every directory shows st_nlink 1 */
	bool noacl;		/* no POSIX ACL support */
	/* squash_to_root / squash_to_uid= / squash_to_gid=; -1: not set. */
	long long squash_uid, squash_gid;
};

/* Zero the struct and set the defaults (default_permissions on, timeout 86400). */
void um_config_init(struct um_config *cfg);
/* Free everything the struct owns. */
void um_config_release(struct um_config *cfg);

/*
 * Split a colon separated layer list; "\:" and "\\" and "\," are escapes.
 * Returns 0 and a NULL terminated array in *out (count in *n), or -EINVAL
 * (empty list, empty element) or -E2BIG (more than UM_MAX_LOWERS).
 */
int um_layers_split(const char *list, char ***out, size_t *n);
void um_strv_free(char **v);

/*
 * Parse one -o argument ("a=b,c,d=\"x,y\"") into cfg.  Commas split options
 * unless escaped with '\' or inside double quotes; quotes are removed from
 * values.  Unknown options produce one warning line on stderr, mount(8) /
 * systemd ones (defaults, nofail, _netdev, x-*, comment=, auto, noauto,
 * user, users, rw, ...) are silently ignored.  Returns 0 or -1 with a
 * one-line message in err.
 */
int um_options_parse(struct um_config *cfg, const char *optstr, char *err,
		     size_t errlen);

/*
 * Parse argv (all three forms, see man page).  Returns 0 on success,
 * or -1 with a one-line message in err.  -h/-V set show_help/show_version
 * and return 0 without requiring layers.
 */
int um_cmdline_parse(struct um_config *cfg, int argc, char **argv, char *err,
		     size_t errlen);

void um_usage(const char *prog);

/*
 * Format a one-line error message into err (control characters become
 * '?', so a hostile path cannot break the line).  Always returns -1.
 */
__attribute__((format(printf, 3, 4))) int um_errorf(char *err, size_t errlen,
						    const char *fmt, ...);

#endif
