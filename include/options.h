/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Command line and -o option parsing.  Pure code: no file system access,
 * no FUSE, so it is unit tested and fuzzed on its own.
 */
#ifndef UM_OPTIONS_H
#define UM_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "idmap.h"

#define UM_MAX_LOWERS 500

enum um_whiteout_mode {
	UM_WHITEOUT_AUTO = 0, /* char 0:0 where mknod works, OCI otherwise */
	UM_WHITEOUT_CHARDEV,
	UM_WHITEOUT_OCI,
};

/* redirect_dir=, the kernel's modes (Documentation/filesystems/overlayfs.rst)
 */
enum um_redirect_mode {
	UM_REDIRECT_ON = 0,   /* written on directory renames, followed */
	UM_REDIRECT_FOLLOW,   /* followed, never written: renames EXDEV */
	UM_REDIRECT_NOFOLLOW, /* neither: a redirected lookup is EPERM */
	UM_REDIRECT_OFF,      /* never written; followed, as the kernel's
			       * default redirect_always_follow=Y does */
};

/*
 * xattr_permissions=: owner and mode kept in an xattr instead of the real
 * ones, under fuse-overlayfs' names (the option's values 0, 1, 2).
 */
enum um_xattr_perms {
	UM_XATTR_PERMS_OFF,	      /* 0: on the real object */
	UM_XATTR_PERMS_FUSEOVERLAYFS, /* 1: security.fuseoverlayfs. */
	UM_XATTR_PERMS_CONTAINERS,    /* 2: user.containers. */
};

struct um_config {
	char **lowers; /* unescaped paths, topmost first */
	size_t nlowers;
	bool lowers_from_opts; /* lowerdir= was given */
	char *upper;	       /* NULL: read-only union */
	char *work;	       /* NULL: default, set by um_config_check() */
	char *mountpoint;
	bool ro;
	bool allow_other; /* asked for; main.c adds it when run as root */
	bool owner_only;  /* owner_only: never allow_other */
	bool default_permissions; /* on unless "no_default_permissions" */
	bool foreground;	  /* -f */
	bool debug;		  /* -d, implies foreground */
	bool show_help;		  /* -h/--help */
	bool show_version;	  /* -V/--version */
	char *fsname;		  /* fsname= or NULL */
	/*
	 * The first argument as given (LOWERS, or mount.fuse3's SOURCE),
	 * shown in /proc/mounts without fsname=; NULL in the one-argument
	 * form.
	 */
	char *source;
	/* Options accepted without effect, comma separated, once each. */
	char *noeffect;
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
	enum um_redirect_mode redirect_dir; /* redirect_dir=, default on */
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
	enum um_xattr_perms xattr_permissions;
	bool static_nlink; /* every directory shows st_nlink 1 */
	bool noacl;	   /* no POSIX ACL support */
	/* squash_to_root / squash_to_uid= / squash_to_gid=; -1: not set. */
	long long squash_uid, squash_gid;
	/*
	 * io_uring=, passthrough=: 1 asked for (a line on stderr if it cannot
	 * be had), 0 off, -1 auto (the default: on where available).
	 */
	int io_uring;
	int passthrough;
};

/* Zero the struct and set the defaults (default_permissions on, timeout 86400).
 */
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
 * values.  Unknown options are errors; mount(8) / systemd ones (defaults,
 * nofail, _netdev, x-*, comment=, auto, noauto, user, users, rw, ...) are
 * silently ignored; the fuse-overlayfs and kernel ones without an effect
 * are collected in cfg->noeffect.  Prints nothing.  Returns 0 or -1 with
 * a one-line message in err.
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

/* --help: every option of the table, grouped, one line each. */
void um_usage(FILE *out, const char *prog);

/* The name of option i of the parser's table ("x-*" for the x- prefix), NULL
 * past the end. */
const char *um_option_name(size_t i);

/*
 * Format a one-line error message into err (control characters become
 * '?', so a hostile path cannot break the line).  Always returns -1.
 */
__attribute__((format(printf, 3, 4))) int um_errorf(char *err, size_t errlen,
						    const char *fmt, ...);

#endif
