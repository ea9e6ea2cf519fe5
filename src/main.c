// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * unionmount: command line, mount, session loop.
 *
 * The first process exits 0 only once the mount is live: it forks at once
 * (daemon.c), and the child locks the layers (lock.c), mounts and reports.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "config.h"

#include "check.h"
#include "daemon.h"
#include "fs.h"
#include "lock.h"
#include "ops.h"
#include "options.h"

/* Append s to the option string *out, escaping ',' and '\' for libfuse. */
static int opt_append(char **out, const char *s)
{
	size_t old = *out ? strlen(*out) : 0;
	char *p = realloc(*out, old + 2 * strlen(s) + 2);
	char *q;

	if (!p)
		return -1;
	q = p + old;
	if (old)
		*q++ = ',';
	for (; *s; s++) {
		if (*s == ',' || *s == '\\')
			*q++ = '\\';
		*q++ = *s;
	}
	*q = '\0';
	*out = p;
	return 0;
}

/*
 * The source shown in /proc/mounts: fsname=, or the first argument as
 * given (what mount(8) compares with the fstab line), or the lower list.
 */
static char *make_fsname(const struct um_config *cfg)
{
	size_t len = 1;
	char *s;

	if (cfg->fsname)
		return strdup(cfg->fsname);
	if (cfg->source)
		len += strlen(cfg->source);
	else
		for (size_t i = 0; i < cfg->nlowers; i++)
			len += strlen(cfg->lowers[i]) + 1;
	/* All mount options must fit in one page for the kernel. */
	if (len > 1024)
		return strdup("unionmount");
	if (cfg->source)
		return strdup(cfg->source);
	s = calloc(1, len);
	if (!s)
		return NULL;
	for (size_t i = 0; i < cfg->nlowers; i++) {
		if (i)
			strcat(s, ":");
		strcat(s, cfg->lowers[i]);
	}
	return s;
}

static char *mount_options(const struct um_config *cfg)
{
	char *opts = NULL;
	char *fsname = make_fsname(cfg);
	char *tmp = NULL;
	int bad = 0;

	if (!fsname || asprintf(&tmp, "fsname=%s", fsname) < 0)
		bad = 1;
	free(fsname);
	bad |= opt_append(&opts, "subtype=unionmount");
	/* fsname goes in raw-escaped: the value, not the option, needs it. */
	if (!bad)
		bad |= opt_append(&opts, tmp);
	free(tmp);
	if (cfg->default_permissions)
		bad |= opt_append(&opts, "default_permissions");
	if (cfg->allow_other)
		bad |= opt_append(&opts, "allow_other");
	if (cfg->ro || !cfg->upper)
		bad |= opt_append(&opts, "ro");
	if (bad) {
		free(opts);
		return NULL;
	}
	return opts;
}

/*
 * FUSE over io_uring: libfuse 3.18 starts its rings when asked with "-o
 * io_uring" and the kernel offers it in FUSE_INIT, and otherwise reads
 * /dev/fuse as before.  The kernel offers it only when the fuse module's
 * enable_uring parameter is on: when the user asked for io_uring, say in
 * one line why it will not be used.  Returns the option to pass, or NULL.
 */
static const char um_build_features[] = ""
#ifdef UM_HAVE_IO_URING
					"io_uring "
#endif
#ifdef UM_HAVE_PASSTHROUGH
					"passthrough "
#endif
#ifdef UM_HAVE_KILLPRIV_V2
					"killpriv_v2 "
#endif
					"splice writeback";

static const char *io_uring_option(const struct um_config *cfg)
{
#ifndef UM_HAVE_IO_URING
	if (cfg->io_uring == 1)
		fprintf(stderr,
			"unionmount: io_uring needs libfuse 3.18 (built with "
			"%s): using /dev/fuse\n",
			UM_FUSE_BUILT_WITH);
	return NULL;
#else
	const char *param = "/sys/module/fuse/parameters/enable_uring";
	char on = 0;
	FILE *f;

	if (cfg->io_uring == 0)
		return NULL;
	if (cfg->io_uring == 1) {
		f = fopen(param, "r");
		if (!f || fscanf(f, " %c", &on) != 1 || on != 'Y')
			fprintf(stderr,
				"unionmount: io_uring is off in the kernel (%s "
				"is %s): using /dev/fuse\n",
				param, f ? "N" : "missing");
		if (f)
			fclose(f);
	}
	return "io_uring";
#endif
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *loop = NULL;
	struct fuse_session *se = NULL;
	struct um_daemon daemon = {.ready_fd = -1};
	struct um_lock lock;
	struct um_config cfg;
	struct um_fs fs;
	char err[1024];
	char *opts = NULL;
	const char *uring;
	int ret = 1;
	int rc;

	um_config_init(&cfg);
	um_lock_init(&lock);
	if (um_cmdline_parse(&cfg, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "unionmount: %s\n", err);
		um_config_release(&cfg);
		return 2;
	}
	if (cfg.show_help) {
		um_usage(stdout, argv[0]);
		um_config_release(&cfg);
		return 0;
	}
	if (cfg.show_version) {
		printf("unionmount %s (libfuse %s)\n", UM_VERSION,
		       fuse_pkgversion());
		/* What this build can use; the kernel decides at mount. */
		printf("built with libfuse %s: %s\n", UM_FUSE_BUILT_WITH,
		       um_build_features);
		um_config_release(&cfg);
		return 0;
	}
	/* Access first: the check may create the work directory. */
	if (um_config_access(&cfg, geteuid(), UM_FUSE_CONF, err, sizeof(err)) <
		    0 ||
	    um_config_check(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "unionmount: %s\n", err);
		um_config_release(&cfg);
		return 2;
	}
	if (cfg.noeffect)
		fprintf(stderr,
			"unionmount: accepted for compatibility, without "
			"effect: %s\n",
			cfg.noeffect);
	rc = cfg.foreground ? 0 : um_daemon_start(&daemon);
	if (rc < 0) {
		fprintf(stderr, "unionmount: cannot fork: %s\n", strerror(-rc));
		um_config_release(&cfg);
		return 1;
	}
	/* Before um_fs_init(), which clears the work directory. */
	rc = um_lock_take(&lock, &cfg, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "unionmount: %s\n", err);
		um_config_release(&cfg);
		return rc == -EBUSY ? 2 : 1;
	}
	if (um_fs_init(&fs, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "unionmount: %s\n", err);
		goto out_fs;
	}

	opts = mount_options(&cfg);
	uring = io_uring_option(&cfg);
	if (!opts || fuse_opt_add_arg(&args, argv[0]) ||
	    fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, opts) ||
	    (cfg.fuse_opts && (fuse_opt_add_arg(&args, "-o") ||
			       fuse_opt_add_arg(&args, cfg.fuse_opts))) ||
	    (cfg.debug && fuse_opt_add_arg(&args, "-d")) ||
	    (uring && (fuse_opt_add_arg(&args, "-o") ||
		       fuse_opt_add_arg(&args, uring)))) {
		fprintf(stderr, "unionmount: out of memory\n");
		goto out_args;
	}
	se = fuse_session_new(&args, &um_ops, sizeof(um_ops), &fs);
	if (!se) {
		fprintf(stderr, "unionmount: cannot start a FUSE session\n");
		goto out_args;
	}
	fs.session = se;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, cfg.mountpoint) != 0) {
		fprintf(stderr, "unionmount: cannot mount on %s\n",
			cfg.mountpoint);
		goto out_signals;
	}
	um_daemon_ready(&daemon, cfg.foreground);

	loop = fuse_loop_cfg_create();
	if (!loop)
		goto out_unmount;
	fuse_loop_cfg_set_clone_fd(loop, 1);
	fuse_loop_cfg_set_max_threads(loop,
				      cfg.max_threads ? cfg.max_threads : 64);
	if (cfg.max_idle_threads)
		fuse_loop_cfg_set_idle_threads(loop, cfg.max_idle_threads);
	ret = um_daemon_exit_status(fuse_session_loop_mt(se, loop));
	fuse_loop_cfg_destroy(loop);

out_unmount:
	fuse_session_unmount(se);
	/*
	 * Nothing touches the layers any more: let a mount that comes right
	 * after the unmount have them without waiting for our teardown.
	 */
	um_lock_release(&lock);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_args:
	fuse_opt_free_args(&args);
	free(opts);
out_fs:
	um_fs_release(&fs);
	um_lock_release(&lock);
	um_config_release(&cfg);
	return ret;
}
