// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of command line and -o parsing (src/options.c). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "expect.h"
#include "options.h"

/* The lowers of cfg joined with '|', for one comparison. */
static const char *joined(const struct um_config *cfg)
{
	static char buf[8192];
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < cfg->nlowers; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s",
					i ? "|" : "", cfg->lowers[i]);
	return buf;
}

/* --- stderr capture ---------------------------------------------------- */

static FILE *cap_file;
static int cap_saved = -1;
static char captured[8192];

static void capture_begin(void)
{
	fflush(stderr);
	cap_file = tmpfile();
	if (!cap_file) {
		perror("tmpfile");
		exit(1);
	}
	cap_saved = dup(2);
	dup2(fileno(cap_file), 2);
}

static const char *capture_end(void)
{
	size_t n;

	fflush(stderr);
	dup2(cap_saved, 2);
	close(cap_saved);
	rewind(cap_file);
	n = fread(captured, 1, sizeof(captured) - 1, cap_file);
	captured[n] = '\0';
	fclose(cap_file);
	return captured;
}

/* --- helpers ----------------------------------------------------------- */

static char err[1024];

/* Fresh cfg, parse one -o string; stderr is captured into `captured`. */
static int opts(struct um_config *cfg, const char *s)
{
	int rc;

	um_config_release(cfg);
	um_config_init(cfg);
	err[0] = '\0';
	capture_begin();
	rc = um_options_parse(cfg, s, err, sizeof(err));
	capture_end();
	return rc;
}

/* Fresh cfg, parse "unionmount" + the NULL terminated arguments. */
static int cmdline(struct um_config *cfg, ...)
{
	char *argv[1024];
	int argc = 0, rc;
	va_list ap;

	argv[argc++] = "unionmount";
	va_start(ap, cfg);
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	um_config_release(cfg);
	um_config_init(cfg);
	err[0] = '\0';
	capture_begin();
	rc = um_cmdline_parse(cfg, argc, argv, err, sizeof(err));
	capture_end();
	return rc;
}

/* "/d0:/d1:...": n directories, malloc'ed. */
static char *many_lowers(size_t n)
{
	char *s = malloc(n * 8 + 1);
	size_t len = 0;

	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(s + len, "%s/d%zu", i ? ":" : "", i);
	return s;
}

/* --- um_layers_split ----------------------------------------------------- */

static void test_layers_split(void)
{
	char **v = (char **)&v; /* must stay untouched on error */
	char **orig = v;
	size_t n = 77;
	char *list;

	EXPECT_INT(um_layers_split("", &v, &n), -EINVAL);
	EXPECT_INT(um_layers_split(NULL, &v, &n), -EINVAL);
	EXPECT_INT(um_layers_split(":", &v, &n), -EINVAL);
	EXPECT_INT(um_layers_split("/a:", &v, &n), -EINVAL);
	EXPECT_INT(um_layers_split(":/a", &v, &n), -EINVAL);
	EXPECT_INT(um_layers_split("/a::/b", &v, &n), -EINVAL);
	EXPECT(v == orig);
	EXPECT_INT(n, 77);

	EXPECT_INT(um_layers_split("/a", &v, &n), 0);
	EXPECT_INT(n, 1);
	EXPECT_STR(v[0], "/a");
	EXPECT(v[1] == NULL);
	um_strv_free(v);

	EXPECT_INT(um_layers_split("/a:b:/c/d", &v, &n), 0);
	EXPECT_INT(n, 3);
	EXPECT_STR(v[0], "/a");
	EXPECT_STR(v[1], "b");
	EXPECT_STR(v[2], "/c/d");
	EXPECT(v[3] == NULL);
	um_strv_free(v);

	/* Escapes: \: \, \\ are the character, others stay as they are. */
	EXPECT_INT(um_layers_split("/a\\:b:/c\\,d:/e\\\\:/f\\g:/h\\", &v, &n),
		   0);
	EXPECT_INT(n, 5);
	EXPECT_STR(v[0], "/a:b");
	EXPECT_STR(v[1], "/c,d");
	EXPECT_STR(v[2], "/e\\");
	EXPECT_STR(v[3], "/f\\g");
	EXPECT_STR(v[4], "/h\\");
	um_strv_free(v);

	/* An escaped colon alone is a name, not an empty element. */
	EXPECT_INT(um_layers_split("\\:", &v, &n), 0);
	EXPECT_INT(n, 1);
	EXPECT_STR(v[0], ":");
	um_strv_free(v);

	list = many_lowers(UM_MAX_LOWERS);
	EXPECT_INT(um_layers_split(list, &v, &n), 0);
	EXPECT_INT(n, UM_MAX_LOWERS);
	EXPECT_STR(v[UM_MAX_LOWERS - 1], "/d499");
	um_strv_free(v);
	free(list);

	v = orig;
	n = 77;
	list = many_lowers(UM_MAX_LOWERS + 1);
	EXPECT_INT(um_layers_split(list, &v, &n), -E2BIG);
	EXPECT(v == orig);
	EXPECT_INT(n, 77);
	free(list);

	um_strv_free(NULL);
}

/* --- um_options_parse ---------------------------------------------------- */

static void test_defaults(void)
{
	struct um_config cfg;

	um_config_init(&cfg);
	EXPECT(cfg.lowers == NULL);
	EXPECT_INT(cfg.nlowers, 0);
	EXPECT(!cfg.lowers_from_opts);
	EXPECT(cfg.upper == NULL);
	EXPECT(cfg.work == NULL);
	EXPECT(cfg.mountpoint == NULL);
	EXPECT(!cfg.ro);
	EXPECT(!cfg.allow_other);
	EXPECT(cfg.default_permissions);
	EXPECT(!cfg.foreground);
	EXPECT(!cfg.debug);
	EXPECT(cfg.fsname == NULL);
	EXPECT_INT(cfg.whiteout, UM_WHITEOUT_AUTO);
	EXPECT(cfg.timeout == 86400.0);
	EXPECT(cfg.fuse_opts == NULL);
	EXPECT_INT(cfg.max_threads, 0);
	EXPECT_INT(cfg.max_idle_threads, 0);
	EXPECT_INT(cfg.max_read, 0);
	um_config_release(&cfg);
	um_config_release(&cfg); /* twice is harmless */
}

static void test_layer_options(void)
{
	struct um_config cfg;

	um_config_init(&cfg);
	EXPECT_INT(opts(&cfg, "lowerdir=/l1:/l2,upperdir=/u,workdir=/w"), 0);
	EXPECT_STR(joined(&cfg), "/l1|/l2");
	EXPECT(cfg.lowers_from_opts);
	EXPECT_STR(cfg.upper, "/u");
	EXPECT_STR(cfg.work, "/w");
	EXPECT_STR(captured, "");

	/* Escaped separators in every path option. */
	EXPECT_INT(opts(&cfg, "lowerdir=/a\\:b:/c\\,d:/e\\\\,"
			      "upperdir=/u\\,1\\:2,workdir=/w\\\\x\\y"),
		   0);
	EXPECT_STR(joined(&cfg), "/a:b|/c,d|/e\\");
	EXPECT_STR(cfg.upper, "/u,1:2");
	EXPECT_STR(cfg.work, "/w\\x\\y");

	/* Quotes keep commas, and are removed; '\"' is a quote. */
	EXPECT_INT(opts(&cfg, "lowerdir=\"/x,y\":/z,upperdir=\"/u,v\""), 0);
	EXPECT_STR(joined(&cfg), "/x,y|/z");
	EXPECT_STR(cfg.upper, "/u,v");
	EXPECT_INT(opts(&cfg, "upperdir=/a\\\"b"), 0);
	EXPECT_STR(cfg.upper, "/a\"b");

	/* A later lowerdir= or upperdir= replaces the earlier one. */
	EXPECT_INT(opts(&cfg, "lowerdir=/a:/b,upperdir=/u1,lowerdir=/c,"
			      "upperdir=/u2"),
		   0);
	EXPECT_STR(joined(&cfg), "/c");
	EXPECT_STR(cfg.upper, "/u2");

	EXPECT_INT(opts(&cfg, "lowerdir="), -1);
	EXPECT_STR(err, "empty lower directory list");
	EXPECT_INT(opts(&cfg, "lowerdir=/a::/b"), -1);
	EXPECT_STR(err, "empty element in lower directory list");
	EXPECT_INT(opts(&cfg, "lowerdir=/a:"), -1);
	EXPECT_STR(err, "empty element in lower directory list");
	EXPECT_INT(opts(&cfg, "upperdir="), -1);
	EXPECT_STR(err, "upperdir= is empty");
	EXPECT_INT(opts(&cfg, "workdir="), -1);
	EXPECT_STR(err, "workdir= is empty");
	EXPECT_INT(opts(&cfg, "lowerdir"), -1);
	EXPECT_STR(err, "option 'lowerdir' needs a value (lowerdir=...)");
	EXPECT_INT(opts(&cfg, "upperdir"), -1);
	EXPECT_STR(err, "option 'upperdir' needs a value (upperdir=...)");
	um_config_release(&cfg);
}

static void test_lowerdir_limit(void)
{
	struct um_config cfg;
	char *list = many_lowers(UM_MAX_LOWERS + 1);
	char *opt;

	um_config_init(&cfg);
	if (asprintf(&opt, "lowerdir=%s", list) < 0)
		exit(1);
	EXPECT_INT(opts(&cfg, opt), -1);
	EXPECT_STR(err, "too many lower directories (501, at most 500)");
	free(opt);
	free(list);

	list = many_lowers(UM_MAX_LOWERS);
	if (asprintf(&opt, "lowerdir=%s", list) < 0)
		exit(1);
	EXPECT_INT(opts(&cfg, opt), 0);
	EXPECT_INT(cfg.nlowers, UM_MAX_LOWERS);
	free(opt);
	free(list);
	um_config_release(&cfg);
}

static void test_flags(void)
{
	struct um_config cfg;

	um_config_init(&cfg);
	EXPECT_INT(opts(&cfg, "ro,allow_other,no_default_permissions"), 0);
	EXPECT(cfg.ro);
	EXPECT(cfg.allow_other);
	EXPECT(!cfg.default_permissions);
	EXPECT(cfg.fuse_opts == NULL);

	EXPECT_INT(opts(&cfg, "no_default_permissions,default_permissions"), 0);
	EXPECT(cfg.default_permissions);

	/* rw is ignored: "ro,rw" stays read-only. */
	EXPECT_INT(opts(&cfg, "ro,rw"), 0);
	EXPECT(cfg.ro);
	EXPECT_INT(opts(&cfg, "rw"), 0);
	EXPECT(!cfg.ro);

	EXPECT_INT(opts(&cfg, "debug"), 0);
	EXPECT(cfg.debug);
	EXPECT(cfg.foreground);

	EXPECT_INT(opts(&cfg, "ro=1"), -1);
	EXPECT_STR(err, "option 'ro' takes no value");
	EXPECT_INT(opts(&cfg, "allow_other=yes"), -1);
	EXPECT_STR(err, "option 'allow_other' takes no value");

	/* Empty elements are nothing. */
	EXPECT_INT(opts(&cfg, ",,ro,,"), 0);
	EXPECT(cfg.ro);
	EXPECT_STR(captured, "");
	EXPECT_INT(opts(&cfg, ""), 0);
	EXPECT_INT(opts(&cfg, ","), 0);
	EXPECT_STR(captured, "");
	um_config_release(&cfg);
}

static void test_fsname(void)
{
	struct um_config cfg;

	um_config_init(&cfg);
	EXPECT_INT(opts(&cfg, "fsname=\"my,union\",nofail"), 0);
	EXPECT_STR(cfg.fsname, "my,union");
	EXPECT_STR(captured, "");
	EXPECT_INT(opts(&cfg, "fsname=my\\,union"), 0);
	EXPECT_STR(cfg.fsname, "my,union");
	EXPECT_INT(opts(&cfg, "fsname=\"a\"b\"c\""), 0);
	EXPECT_STR(cfg.fsname, "abc");
	EXPECT_INT(opts(&cfg, "fsname=\"a\\\"b\""), 0);
	EXPECT_STR(cfg.fsname, "a\"b");
	EXPECT_INT(opts(&cfg, "fsname=x,fsname=y"), 0);
	EXPECT_STR(cfg.fsname, "y");
	EXPECT_INT(opts(&cfg, "fsname="), -1);
	EXPECT_STR(err, "fsname= is empty");
	EXPECT_INT(opts(&cfg, "fsname=\"abc"), -1);
	EXPECT_STR(err, "unbalanced double quote in option list");
	EXPECT_INT(opts(&cfg, "ro,\"fsname=a,b"), -1);
	EXPECT_STR(err, "unbalanced double quote in option list");
	um_config_release(&cfg);
}

static void test_whiteout(void)
{
	struct um_config cfg;

	um_config_init(&cfg);
	EXPECT_INT(opts(&cfg, "whiteout=chardev"), 0);
	EXPECT_INT(cfg.whiteout, UM_WHITEOUT_CHARDEV);
	EXPECT_INT(opts(&cfg, "whiteout=oci"), 0);
	EXPECT_INT(cfg.whiteout, UM_WHITEOUT_OCI);
	EXPECT_INT(opts(&cfg, "whiteout=oci,whiteout=auto"), 0);
	EXPECT_INT(cfg.whiteout, UM_WHITEOUT_AUTO);
	EXPECT_INT(opts(&cfg, "whiteout=xattr"), -1);
	EXPECT_STR(err,
		   "bad value for whiteout=: 'xattr' (auto, chardev or oci)");
	EXPECT_INT(opts(&cfg, "whiteout="), -1);
	EXPECT_STR(err, "bad value for whiteout=: '' (auto, chardev or oci)");
	EXPECT_INT(opts(&cfg, "whiteout=OCI"), -1);
	EXPECT_INT(opts(&cfg, "whiteout"), -1);
	EXPECT_STR(err, "option 'whiteout' needs a value (whiteout=...)");
	um_config_release(&cfg);
}

static void test_metacopy(void)
{
	struct um_config cfg;

	um_config_init(&cfg);
	EXPECT(!cfg.metacopy);
	EXPECT_INT(opts(&cfg, "metacopy=on"), 0);
	EXPECT(cfg.metacopy);
	EXPECT_INT(opts(&cfg, "metacopy=on,metacopy=off"), 0);
	EXPECT(!cfg.metacopy);
	EXPECT_INT(opts(&cfg, "metacopy=1"), -1);
	EXPECT_STR(err, "bad value for metacopy=: '1' (on or off)");
	EXPECT_INT(opts(&cfg, "metacopy"), -1);
	EXPECT_STR(err, "option 'metacopy' needs a value (metacopy=...)");
	um_config_release(&cfg);
}

static void test_index(void)
{
	struct um_config cfg;

	um_config_init(&cfg);
	EXPECT(!cfg.no_index); /* on by default */
	EXPECT_INT(opts(&cfg, "index=off"), 0);
	EXPECT(cfg.no_index);
	EXPECT_INT(opts(&cfg, "index=off,index=on"), 0);
	EXPECT(!cfg.no_index);
	EXPECT_INT(opts(&cfg, "index=yes"), -1);
	EXPECT_STR(err, "bad value for index=: 'yes' (on or off)");
	EXPECT_INT(opts(&cfg, "index"), -1);
	EXPECT_STR(err, "option 'index' needs a value (index=...)");
	um_config_release(&cfg);
}

static void test_redirect_dir(void)
{
	struct um_config cfg;

	um_config_init(&cfg);
	EXPECT_INT(cfg.redirect_dir, UM_REDIRECT_ON);
	EXPECT_INT(opts(&cfg, "redirect_dir=off"), 0);
	EXPECT_INT(cfg.redirect_dir, UM_REDIRECT_OFF);
	EXPECT_INT(opts(&cfg, "redirect_dir=follow"), 0);
	EXPECT_INT(cfg.redirect_dir, UM_REDIRECT_FOLLOW);
	EXPECT_INT(opts(&cfg, "redirect_dir=nofollow"), 0);
	EXPECT_INT(cfg.redirect_dir, UM_REDIRECT_NOFOLLOW);
	EXPECT_INT(opts(&cfg, "redirect_dir=nofollow,redirect_dir=on"), 0);
	EXPECT_INT(cfg.redirect_dir, UM_REDIRECT_ON);
	EXPECT_INT(opts(&cfg, "redirect_dir=yes"), -1);
	EXPECT_STR(err, "bad value for redirect_dir=: 'yes' (on, follow, "
			"nofollow or off)");
	EXPECT_INT(opts(&cfg, "redirect_dir"), -1);
	EXPECT_STR(err,
		   "option 'redirect_dir' needs a value (redirect_dir=...)");
	um_config_release(&cfg);
}

static void test_transport(void)
{
	struct um_config cfg;

	um_config_init(&cfg);
	EXPECT_INT(cfg.io_uring, -1);
	EXPECT_INT(cfg.passthrough, -1);
	EXPECT_INT(opts(&cfg, "io_uring,passthrough=0"), 0);
	EXPECT_INT(cfg.io_uring, 1);
	EXPECT_INT(cfg.passthrough, 0);
	EXPECT_INT(opts(&cfg, "io_uring=0,passthrough=1"), 0);
	EXPECT_INT(cfg.io_uring, 0);
	EXPECT_INT(cfg.passthrough, 1);
	EXPECT_INT(opts(&cfg, "io_uring=auto,passthrough"), 0);
	EXPECT_INT(cfg.io_uring, -1);
	EXPECT_INT(cfg.passthrough, 1);
	EXPECT_INT(opts(&cfg, "io_uring=yes"), -1);
	EXPECT_STR(err, "bad value for io_uring=: 'yes' (0, 1 or auto)");
	EXPECT_INT(opts(&cfg, "passthrough=2"), -1);
	EXPECT_STR(err, "bad value for passthrough=: '2' (0, 1 or auto)");
	um_config_release(&cfg);
}

static void test_timeout(void)
{
	static const char *const bad[] = {
		"-1",  "abc",  "",   "1x", "inf",
		"nan", "0x10", " 1", "+1", "1e999",
	};
	struct um_config cfg;

	um_config_init(&cfg);
	EXPECT_INT(opts(&cfg, "timeout=2.5"), 0);
	EXPECT(cfg.timeout == 2.5);
	EXPECT_INT(opts(&cfg, "timeout=0"), 0);
	EXPECT(cfg.timeout == 0.0);
	EXPECT_INT(opts(&cfg, "timeout=.5"), 0);
	EXPECT(cfg.timeout == 0.5);
	EXPECT_INT(opts(&cfg, "timeout=86400"), 0);
	EXPECT(cfg.timeout == 86400.0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char opt[64], want[128];

		snprintf(opt, sizeof(opt), "timeout=%s", bad[i]);
		EXPECT_INT(opts(&cfg, opt), -1);
		snprintf(
			want, sizeof(want),
			"bad value for timeout=: '%s' (seconds, a number >= 0)",
			bad[i]);
		EXPECT_STR(err, want);
	}
	EXPECT(cfg.timeout == 86400.0); /* fresh cfg, unchanged */
	/* A comma cuts the value: "1,5" is timeout=1 and an option "5". */
	EXPECT_INT(opts(&cfg, "timeout=1,5"), -1);
	EXPECT_STR(err, "unknown option '5' (see --help)");
	um_config_release(&cfg);
}

static void test_fuse_options(void)
{
	struct um_config cfg;

	um_config_init(&cfg);
	EXPECT_INT(opts(&cfg, "auto_unmount,max_read=131072,allow_root"), 0);
	EXPECT_STR(cfg.fuse_opts, "auto_unmount,max_read=131072,allow_root");
	EXPECT_INT(cfg.max_read, 131072);
	EXPECT_STR(captured, "");

	EXPECT_INT(opts(&cfg, "nosuid,nodev,noexec,noatime,dirsync,sync,"
			      "async,suid,dev,exec,atime"),
		   0);
	EXPECT_STR(cfg.fuse_opts, "nosuid,nodev,noexec,noatime,dirsync,sync,"
				  "async,suid,dev,exec,atime");

	/* Spread over several -o strings, they accumulate. */
	EXPECT_INT(opts(&cfg, "auto_unmount"), 0);
	EXPECT_INT(um_options_parse(&cfg, "ro,max_read=4096", err, sizeof(err)),
		   0);
	EXPECT_STR(cfg.fuse_opts, "auto_unmount,max_read=4096");

	EXPECT_INT(opts(&cfg, "max_read=abc"), -1);
	EXPECT_STR(err, "bad value for max_read=: 'abc' (a number)");
	EXPECT_INT(opts(&cfg, "max_read=-1"), -1);
	EXPECT_INT(opts(&cfg, "max_read=99999999999"), -1);
	EXPECT_INT(opts(&cfg, "max_read"), -1);
	EXPECT_INT(opts(&cfg, "auto_unmount=1"), -1);
	EXPECT_STR(err, "option 'auto_unmount' takes no value");

	/* Thread options: ours, not for fuse_session_new(). */
	EXPECT_INT(opts(&cfg, "max_threads=8,max_idle_threads=2,clone_fd"), 0);
	EXPECT_INT(cfg.max_threads, 8);
	EXPECT_INT(cfg.max_idle_threads, 2);
	EXPECT(cfg.fuse_opts == NULL);
	EXPECT_INT(opts(&cfg, "max_threads=0"), -1);
	EXPECT_STR(err, "bad value for max_threads=: '0' (a number >= 1)");
	EXPECT_INT(opts(&cfg, "max_idle_threads=x"), -1);
	EXPECT_STR(err, "bad value for max_idle_threads=: 'x' (a number >= 1)");
	um_config_release(&cfg);
}

static void test_ignored(void)
{
	static const char *const silent[] = {
		/* mount(8), fstab, systemd */
		"defaults",
		"nofail",
		"_netdev",
		"auto",
		"noauto",
		"user",
		"user=bob",
		"users",
		"nouser",
		"owner",
		"group",
		"comment=hi",
		"comment=\"a,b\"",
		"x-systemd.requires=/x",
		"x-systemd.automount",
		"x-gvfs-show",
		"x-",
		"relatime",
		"strictatime",
		"nodiratime",
		"diratime",
		"lazytime",
		"loop",
		"rw",
		"subtype=foo",
		"clone_fd",
		"nonempty",
		/* fuse-overlayfs, with an effect */
		"uidmapping=0:1000:65536",
		"gidmapping=0:1000:65536:1:2:3",
		"squash_to_root",
		"squash_to_uid=1000",
		"squash_to_gid=1000",
		"xattr_permissions=2",
		"static_nlink",
		"noacl",
		"fsync=0",
		"volatile",
		"writeback=0",
		"metacopy=off",
		"index=off",
	};
	/* Accepted without effect: named in cfg.noeffect, for main.c. */
	static const char *const noeffect[][2] = {
		{"threaded=1", "threaded"},
		{"fast_ino=1", "fast_ino"},
		{"noxattrs", "noxattrs"},
		{"noxattrs=1", "noxattrs"},
		{"context=\"system_u:object_r:tmp_t:s0\"", "context"},
		{"fscontext=x", "fscontext"},
		{"defcontext=x", "defcontext"},
		{"rootcontext=x", "rootcontext"},
		{"xino=auto", "xino"},
		{"userxattr", "userxattr"},
		{"nfs_export=off", "nfs_export"},
	};
	struct um_config cfg, dflt;

	um_config_init(&cfg);
	um_config_init(&dflt);
	for (size_t i = 0; i < sizeof(silent) / sizeof(silent[0]); i++) {
		int rc = opts(&cfg, silent[i]);

		if (rc || captured[0] || cfg.fuse_opts || cfg.ro ||
		    cfg.lowers || cfg.upper || cfg.fsname ||
		    cfg.timeout != dflt.timeout)
			fprintf(stderr, "  (with option %s: err \"%s\")\n",
				silent[i], err);
		EXPECT_INT(rc, 0);
		EXPECT_STR(captured, "");
		EXPECT(cfg.fuse_opts == NULL);
		EXPECT(!cfg.ro);
		EXPECT(cfg.lowers == NULL);
		EXPECT(cfg.upper == NULL);
		EXPECT(cfg.fsname == NULL);
		EXPECT(cfg.noeffect == NULL);
	}
	for (size_t i = 0; i < sizeof(noeffect) / sizeof(noeffect[0]); i++) {
		EXPECT_INT(opts(&cfg, noeffect[i][0]), 0);
		EXPECT_STR(captured, "");
		EXPECT_STR(cfg.noeffect, noeffect[i][1]);
		EXPECT(cfg.fuse_opts == NULL);
	}
	/* Each named once, in the order first given. */
	EXPECT_INT(opts(&cfg, "xino=off,threaded=1,xino=on,ro"), 0);
	EXPECT_INT(um_options_parse(&cfg, "context=a,threaded=0", err,
				    sizeof(err)),
		   0);
	EXPECT_STR(cfg.noeffect, "xino,threaded,context");
	/* All at once, among real ones. */
	EXPECT_INT(opts(&cfg,
			"defaults,nofail,ro,x-systemd.requires=/x,_netdev,"
			"comment=hello,auto,noauto,user,users,"
			"squash_to_root,uidmapping=0:1:2"),
		   0);
	EXPECT(cfg.ro);
	EXPECT_STR(captured, "");
	um_config_release(&cfg);
}

static void test_unknown(void)
{
	struct um_config cfg;

	um_config_init(&cfg);
	EXPECT_INT(opts(&cfg, "bogus_xyzzy_option"), -1);
	EXPECT_STR(err, "unknown option 'bogus_xyzzy_option' (see --help)");
	EXPECT_STR(captured, "");
	/* A misspelt upperdir= is not a read-only union. */
	EXPECT_INT(opts(&cfg, "lowerdir=/l,uppredir=/u"), -1);
	EXPECT_STR(err, "unknown option 'uppredir' (see --help)");
	/* Named without its value. */
	EXPECT_INT(opts(&cfg, "ro,bogus=1,other=\"a,b\""), -1);
	EXPECT_STR(err, "unknown option 'bogus' (see --help)");
	/* Case matters, as in mount(8). */
	EXPECT_INT(opts(&cfg, "RO"), -1);
	EXPECT_STR(err, "unknown option 'RO' (see --help)");
	/* A control character cannot break the line. */
	EXPECT_INT(opts(&cfg, "a\nb"), -1);
	EXPECT_STR(err, "unknown option 'a?b' (see --help)");
	/* libfuse's high-level options are not ours: refused. */
	EXPECT_INT(opts(&cfg, "kernel_cache"), -1);
	EXPECT_INT(opts(&cfg, "max_write=4096"), -1);
	EXPECT_INT(opts(&cfg, "plugins=/x.so"), -1);
	/* "x-" starts an option for other programs; "x" alone does not. */
	EXPECT_INT(opts(&cfg, "x"), -1);
	EXPECT_INT(opts(&cfg, "x-*"), 0);
	um_config_release(&cfg);
}

static void test_cmdline_forms(void)
{
	struct um_config cfg;

	um_config_init(&cfg);
	/* LOWERS UPPER MOUNTPOINT */
	EXPECT_INT(cmdline(&cfg, "/l1:/l2", "/u", "/m", NULL), 0);
	EXPECT_STR(joined(&cfg), "/l1|/l2");
	EXPECT(!cfg.lowers_from_opts);
	EXPECT_STR(cfg.upper, "/u");
	EXPECT(cfg.work == NULL);
	EXPECT_STR(cfg.mountpoint, "/m");
	EXPECT(!cfg.foreground && !cfg.debug && !cfg.show_help);
	EXPECT_STR(cfg.source, "/l1:/l2");

	/* LOWERS MOUNTPOINT: read-only */
	EXPECT_INT(cmdline(&cfg, "/l1", "/m", NULL), 0);
	EXPECT_STR(joined(&cfg), "/l1");
	EXPECT(cfg.upper == NULL);
	EXPECT_STR(cfg.mountpoint, "/m");

	/* LOWERS MOUNTPOINT with upperdir= */
	EXPECT_INT(cmdline(&cfg, "-o", "upperdir=/u,workdir=/w", "/l1", "/m",
			   NULL),
		   0);
	EXPECT_STR(joined(&cfg), "/l1");
	EXPECT_STR(cfg.upper, "/u");
	EXPECT_STR(cfg.work, "/w");
	EXPECT_STR(cfg.mountpoint, "/m");

	/* MOUNTPOINT, all layers from -o */
	EXPECT_INT(cmdline(&cfg, "-o",
			   "lowerdir=/l1:/l2,upperdir=/u,workdir=/w", "/m",
			   NULL),
		   0);
	EXPECT_STR(joined(&cfg), "/l1|/l2");
	EXPECT_STR(cfg.upper, "/u");
	EXPECT_STR(cfg.work, "/w");
	EXPECT_STR(cfg.mountpoint, "/m");
	EXPECT(cfg.source == NULL); /* main.c shows the lowers */

	/* fstab through mount.fuse3: SOURCE MOUNTPOINT -o OPTIONS */
	EXPECT_INT(cmdline(&cfg, "/l1:/l2", "/m", "-o",
			   "rw,upperdir=/u,nofail,x-systemd.requires=/u", NULL),
		   0);
	EXPECT_STR(joined(&cfg), "/l1|/l2");
	EXPECT_STR(cfg.upper, "/u");
	EXPECT_STR(cfg.mountpoint, "/m");
	EXPECT_STR(captured, "");
	/* ... with lowerdir= in the options SOURCE is only a device name */
	EXPECT_INT(cmdline(&cfg, "none", "/m", "-o", "lowerdir=/l1,upperdir=/u",
			   NULL),
		   0);
	EXPECT_STR(joined(&cfg), "/l1");
	EXPECT_STR(cfg.upper, "/u");
	EXPECT_STR(cfg.mountpoint, "/m");
	/* ... which /proc/mounts shows, so that mount -a knows the line */
	EXPECT_STR(cfg.source, "none");

	/* Escapes in the positional lower list; UPPER, MOUNTPOINT raw. */
	EXPECT_INT(cmdline(&cfg, "/we\\:ird\\,name:/plain", "/u\\:x", "/m\\,y",
			   NULL),
		   0);
	EXPECT_STR(joined(&cfg), "/we:ird,name|/plain");
	EXPECT_STR(cfg.source, "/we\\:ird\\,name:/plain"); /* as given */
	EXPECT_STR(cfg.upper, "/u\\:x");
	EXPECT_STR(cfg.mountpoint, "/m\\,y");
	um_config_release(&cfg);
}

static void test_cmdline_option_places(void)
{
	struct um_config cfg;

	um_config_init(&cfg);
	EXPECT_INT(cmdline(&cfg, "-o", "ro", "/l", "/u", "/m", NULL), 0);
	EXPECT(cfg.ro);
	EXPECT_STR(cfg.mountpoint, "/m");
	EXPECT_INT(cmdline(&cfg, "/l", "-o", "ro", "/u", "/m", NULL), 0);
	EXPECT(cfg.ro);
	EXPECT_STR(cfg.upper, "/u");
	EXPECT_INT(cmdline(&cfg, "/l", "/u", "/m", "-oro", NULL), 0);
	EXPECT(cfg.ro);
	EXPECT_STR(cfg.mountpoint, "/m");
	/* Several -o, applied in order. */
	EXPECT_INT(cmdline(&cfg, "-o", "ro", "/l", "-o", "allow_other", "/m",
			   "-ofsname=a", "-o", "fsname=b", NULL),
		   0);
	EXPECT(cfg.ro && cfg.allow_other);
	EXPECT_STR(cfg.fsname, "b");
	EXPECT_STR(cfg.mountpoint, "/m");

	EXPECT_INT(cmdline(&cfg, "-f", "/l", "/m", NULL), 0);
	EXPECT(cfg.foreground && !cfg.debug);
	EXPECT_INT(cmdline(&cfg, "/l", "/m", "-d", NULL), 0);
	EXPECT(cfg.foreground && cfg.debug);
	/* Clusters: -fd, -fo X, -foX */
	EXPECT_INT(cmdline(&cfg, "-fd", "/l", "/m", NULL), 0);
	EXPECT(cfg.foreground && cfg.debug);
	EXPECT_INT(cmdline(&cfg, "-fo", "ro", "/l", "/m", NULL), 0);
	EXPECT(cfg.foreground && cfg.ro);
	EXPECT_INT(cmdline(&cfg, "-foro", "/l", "/m", NULL), 0);
	EXPECT(cfg.foreground && cfg.ro);
	/* -o takes the next argument whatever it looks like. */
	EXPECT_INT(cmdline(&cfg, "-o", "-f", "/l", "/m", NULL), -1);
	EXPECT(!cfg.foreground);
	EXPECT_STR(err, "unknown option '-f' (see --help)");

	/* "--" ends the options; "-" is an argument. */
	EXPECT_INT(cmdline(&cfg, "-f", "--", "-l", "-o", "-m", NULL), 0);
	EXPECT_STR(joined(&cfg), "-l");
	EXPECT_STR(cfg.upper, "-o");
	EXPECT_STR(cfg.mountpoint, "-m");
	EXPECT_INT(cmdline(&cfg, "/l", "-", NULL), 0);
	EXPECT_STR(cfg.mountpoint, "-");

	/* Unknown -o options stop the mount. */
	EXPECT_INT(cmdline(&cfg, "-o", "bogus_xyzzy_option", "/l", "/u", "/m",
			   NULL),
		   -1);
	EXPECT_STR(err, "unknown option 'bogus_xyzzy_option' (see --help)");
	EXPECT_STR(captured, "");
	um_config_release(&cfg);
}

static void test_cmdline_help_version(void)
{
	struct um_config cfg;

	um_config_init(&cfg);
	EXPECT_INT(cmdline(&cfg, "-h", NULL), 0);
	EXPECT(cfg.show_help);
	EXPECT_INT(cmdline(&cfg, "--help", NULL), 0);
	EXPECT(cfg.show_help);
	EXPECT_INT(cmdline(&cfg, "-V", NULL), 0);
	EXPECT(cfg.show_version && !cfg.show_help);
	EXPECT_INT(cmdline(&cfg, "--version", NULL), 0);
	EXPECT(cfg.show_version);
	/* Help wins over any error elsewhere on the line. */
	EXPECT_INT(cmdline(&cfg, "--bogus", "-h", "a", "b", "c", "d", NULL), 0);
	EXPECT(cfg.show_help);
	EXPECT_INT(cmdline(&cfg, "-o", "whiteout=bad", "-V", NULL), 0);
	EXPECT(cfg.show_version);
	EXPECT_INT(cmdline(&cfg, "/l", "/m", "-fh", NULL), 0);
	EXPECT(cfg.show_help);
	um_config_release(&cfg);
}

static void test_cmdline_errors(void)
{
	struct um_config cfg;
	char *list;

	um_config_init(&cfg);
	EXPECT_INT(cmdline(&cfg, NULL), -1);
	EXPECT_STR(err,
		   "no lower directory and no mountpoint given (see --help)");
	EXPECT_INT(cmdline(&cfg, "-o", "lowerdir=/l", NULL), -1);
	EXPECT_STR(err, "no mountpoint given");
	EXPECT_INT(cmdline(&cfg, "/m", NULL), -1);
	EXPECT_STR(err, "no lower directory given");
	EXPECT_INT(cmdline(&cfg, "-o", "upperdir=/u", "/m", NULL), -1);
	EXPECT_STR(err, "no lower directory given");
	EXPECT_INT(cmdline(&cfg, "/a", "/b", "/c", "/d", NULL), -1);
	EXPECT_STR(
		err,
		"too many arguments (4, at most 3: LOWERS UPPER MOUNTPOINT)");
	EXPECT_INT(cmdline(&cfg, "-x", "/l", "/m", NULL), -1);
	EXPECT_STR(err, "unknown option '-x'");
	EXPECT_INT(cmdline(&cfg, "-fz", "/l", "/m", NULL), -1);
	EXPECT_STR(err, "unknown option '-z'");
	EXPECT_INT(cmdline(&cfg, "/l", "/m", "--bogus", NULL), -1);
	EXPECT_STR(err, "unknown option '--bogus'");
	EXPECT_INT(cmdline(&cfg, "/l", "/m", "-o", NULL), -1);
	EXPECT_STR(err, "option -o needs an argument");
	EXPECT_INT(cmdline(&cfg, "-o", "whiteout=bad", "/l", "/m", NULL), -1);
	EXPECT_STR(err,
		   "bad value for whiteout=: 'bad' (auto, chardev or oci)");

	EXPECT_INT(cmdline(&cfg, "", "/u", "/m", NULL), -1);
	EXPECT_STR(err, "empty lower directory list");
	EXPECT_INT(cmdline(&cfg, "/l1::/l1", "/u", "/m", NULL), -1);
	EXPECT_STR(err, "empty element in lower directory list");
	EXPECT_INT(cmdline(&cfg, "/l", "", "/m", NULL), -1);
	EXPECT_STR(err, "empty upper directory");
	EXPECT_INT(cmdline(&cfg, "/l", "/u", "", NULL), -1);
	EXPECT_STR(err, "empty mountpoint");
	EXPECT_INT(cmdline(&cfg, "-o", "lowerdir=,upperdir=/u", "/m", NULL),
		   -1);
	EXPECT_STR(err, "empty lower directory list");

	/* Lowers and upper given twice: fine if equal, refused if not. */
	EXPECT_INT(cmdline(&cfg, "-o", "lowerdir=/a:/b,upperdir=/u", "/a:/b",
			   "/u", "/m", NULL),
		   0);
	EXPECT_STR(joined(&cfg), "/a|/b");
	EXPECT_INT(cmdline(&cfg, "-o", "lowerdir=/a:/b", "/a:/c", "/u", "/m",
			   NULL),
		   -1);
	EXPECT_STR(err, "lower directories given both as argument and with "
			"lowerdir=, and they differ");
	EXPECT_INT(cmdline(&cfg, "-o", "upperdir=/u1", "/l", "/u2", "/m", NULL),
		   -1);
	EXPECT_STR(err, "upper directory given both as argument (/u2) and "
			"with upperdir= (/u1)");

	EXPECT_INT(
		cmdline(&cfg, "-o", "allow_other,allow_root", "/l", "/m", NULL),
		-1);
	EXPECT_STR(err, "allow_other and allow_root exclude each other");
	EXPECT_INT(cmdline(&cfg, "-o", "auto_unmount,allow_root", "/l", "/m",
			   "-o", "allow_other", NULL),
		   -1);
	EXPECT_STR(err, "allow_other and allow_root exclude each other");
	EXPECT_INT(cmdline(&cfg, "-o", "allow_root", "/l", "/m", NULL), 0);
	EXPECT_STR(cfg.fuse_opts, "allow_root");
	EXPECT_INT(cmdline(&cfg, "-o", "owner_only", "/l", "/m", NULL), 0);
	EXPECT(cfg.owner_only && !cfg.allow_other);
	EXPECT_INT(
		cmdline(&cfg, "-o", "owner_only,allow_other", "/l", "/m", NULL),
		-1);
	EXPECT_STR(err, "owner_only excludes allow_other");
	EXPECT_INT(cmdline(&cfg, "-o", "allow_root", "/l", "/m", "-o",
			   "owner_only", NULL),
		   -1);
	EXPECT_STR(err, "owner_only excludes allow_root");

	/* 500 lowers are fine, 501 are not, in either place. */
	list = many_lowers(UM_MAX_LOWERS);
	EXPECT_INT(cmdline(&cfg, list, "/u", "/m", NULL), 0);
	EXPECT_INT(cfg.nlowers, UM_MAX_LOWERS);
	free(list);
	list = many_lowers(UM_MAX_LOWERS + 1);
	EXPECT_INT(cmdline(&cfg, list, "/u", "/m", NULL), -1);
	EXPECT_STR(err, "too many lower directories (501, at most 500)");
	free(list);
	um_config_release(&cfg);
}

/* --help as um_usage() writes it, malloc'ed. */
static char *usage_text(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		exit(1);
	um_usage(f, "unionmount");
	fclose(f);
	return buf;
}

static bool is_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* Does word occur in text, not as part of a longer word? */
static bool has_word(const char *text, const char *word)
{
	size_t len = strlen(word);

	for (const char *p = strstr(text, word); p; p = strstr(p + 1, word))
		if ((p == text || !is_word_char(p[-1])) &&
		    !is_word_char(p[len]))
			return true;
	return false;
}

/*
 * The man page as text: roff's font changes (\fB, \fI, \fR, \fP, \c)
 * dropped, "\-" and "\e" turned into '-' and '\'.
 */
static char *man_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *raw = NULL, *out, *q;
	size_t len = 0;

	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		exit(1);
	}
	if (getdelim(&raw, &len, '\0', f) < 0)
		exit(1);
	fclose(f);
	out = malloc(strlen(raw) + 1);
	if (!out)
		exit(1);
	q = out;
	for (const char *p = raw; *p; p++) {
		if (p[0] == '\\' && p[1] == 'f' && p[2]) {
			p += 2;
		} else if (p[0] == '\\' && (p[1] == '-' || p[1] == 'c')) {
			if (*++p == '-')
				*q++ = '-';
		} else if (p[0] == '\\' && p[1] == 'e') {
			*q++ = '\\';
			p++;
		} else {
			*q++ = *p;
		}
	}
	*q = '\0';
	free(raw);
	return out;
}

static void test_usage(const char *man)
{
	char *help = usage_text();
	char *page = man ? man_text(man) : NULL;
	size_t n = 0;

	EXPECT(strstr(help, "Usage: unionmount [OPTIONS] LOWER1") == help);
	EXPECT(strstr(help, "--version") != NULL);
	EXPECT(strstr(help, "\nLayers:\n") != NULL);
	EXPECT(strstr(help, "\nCaching and speed:\n") != NULL);
	EXPECT(strstr(help, "\nOwnership mapping, permissions and rootless "
			    "use:\n") != NULL);
	EXPECT(strstr(help, "\nCompatibility (") != NULL);
	/* Every option the parser takes, from its own table. */
	for (const char *name; (name = um_option_name(n)); n++) {
		const char *word = strcmp(name, "x-*") ? name : "x-";

		if (!has_word(help, name == word ? word : "x-*")) {
			fprintf(stderr, "  option %s is not in --help\n", name);
			failures++;
		}
		if (page && !has_word(page, word)) {
			fprintf(stderr, "  option %s is not in %s\n", name,
				man);
			failures++;
		}
	}
	EXPECT(n > 60);
	/* One line each: no line of --help is wider than 100 columns. */
	for (const char *p = help, *end; *p; p = end + 1) {
		end = strchrnul(p, '\n');
		if (end - p > 100) {
			fprintf(stderr, "  --help line too long: %.*s\n",
				(int)(end - p), p);
			failures++;
		}
		if (!*end)
			break;
	}
	free(help);
	free(page);
}

int main(int argc, char **argv)
{
	test_layers_split();
	test_defaults();
	test_layer_options();
	test_lowerdir_limit();
	test_flags();
	test_fsname();
	test_whiteout();
	test_metacopy();
	test_index();
	test_redirect_dir();
	test_transport();
	test_timeout();
	test_fuse_options();
	test_ignored();
	test_unknown();
	test_cmdline_forms();
	test_cmdline_option_places();
	test_cmdline_help_version();
	test_cmdline_errors();
	/* The man page to check, given by meson. */
	test_usage(argc > 1 ? argv[1] : NULL);
	return expect_report("options");
}
