// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests of the checks between layers (src/check.c), on directories
 * made under a fresh mkdtemp() directory that is removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "expect.h"
#include "check.h"

static char err[4096];
static char *root;	     /* canonical path of the temp directory */
static struct um_config cfg; /* of the last run */

/* Strings that live until the end of the test (freed in main). */
static char *strs[4096];
static size_t nstrs;

__attribute__((format(printf, 1, 2))) static const char *P(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0 || nstrs == sizeof(strs) / sizeof(*strs))
		exit(2);
	va_end(ap);
	strs[nstrs++] = s;
	return s;
}

/* root/name */
static const char *R(const char *name)
{
	return P("%s/%s", root, name);
}

/* mkdir -p root/name */
static const char *mk(const char *name)
{
	const char *p = R(name);
	char *q = strdup(p);

	for (char *s = q + strlen(root) + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		*s = '\0';
		if (mkdir(q, 0755) < 0 && errno != EEXIST) {
			perror(q);
			exit(2);
		}
		if (p[s - q] == '\0')
			break;
		*s = '/';
	}
	free(q);
	return p;
}

static bool is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *p)
{
	struct stat st;

	return lstat(p, &st) == 0;
}

/*
 * Check a configuration: lowers is a ':' list (no escapes needed for our
 * paths) or NULL, the others may be NULL.  The result stays in cfg.
 */
static int check(const char *lowers, const char *upper, const char *work,
		 const char *mnt)
{
	um_config_release(&cfg);
	um_config_init(&cfg);
	err[0] = '\0';
	if (lowers && um_layers_split(lowers, &cfg.lowers, &cfg.nlowers) < 0) {
		fprintf(stderr, "bad lower list %s\n", lowers);
		exit(2);
	}
	cfg.upper = upper ? strdup(upper) : NULL;
	cfg.work = work ? strdup(work) : NULL;
	cfg.mountpoint = mnt ? strdup(mnt) : NULL;
	return um_config_check(&cfg, err, sizeof(err));
}

static int rm_one(const char *path, const struct stat *st, int type,
		  struct FTW *ftw)
{
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static void rm_tree(const char *path)
{
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
		perror(path);
}

/* --- cases --------------------------------------------------------------- */

static void test_success(void)
{
	const char *l1 = mk("l1"), *l2 = mk("l2"), *u = mk("u"), *m = mk("m");
	const char *dw = R(".u.unionmount-work");
	struct stat st;

	/* Default workdir: made 0700 beside the upper. */
	EXPECT(!exists(dw));
	EXPECT_INT(check(P("%s:%s", l1, l2), u, NULL, m), 0);
	EXPECT_STR(cfg.work, dw);
	EXPECT(stat(dw, &st) == 0 && S_ISDIR(st.st_mode) &&
	       (st.st_mode & 07777) == 0700);
	EXPECT_INT(cfg.nlowers, 2);
	EXPECT_STR(cfg.lowers[0], l1);
	EXPECT_STR(cfg.lowers[1], l2);
	EXPECT_STR(cfg.upper, u);
	EXPECT_STR(cfg.mountpoint, m);
	/* It exists now: used as it is. */
	EXPECT_INT(check(P("%s:%s", l1, l2), u, NULL, m), 0);
	EXPECT_STR(cfg.work, dw);

	/* Paths come back canonical. */
	if (symlink(l2, R("link2")) < 0)
		perror("symlink");
	EXPECT_INT(check(P("%s/./:%s//../l2/", R("l1"), R("u")),
			 P("%s/../u/", l1), P("%s/.", mk("w-canon")),
			 P("%s//", m)),
		   0);
	EXPECT_STR(cfg.lowers[0], l1);
	EXPECT_STR(cfg.lowers[1], l2);
	EXPECT_STR(cfg.upper, u);
	EXPECT_STR(cfg.mountpoint, m);
	EXPECT_INT(check(R("link2"), u, NULL, m), 0);
	EXPECT_STR(cfg.lowers[0], l2);

	/* Read-only union: no workdir made. */
	EXPECT_INT(check(l1, NULL, NULL, m), 0);
	EXPECT(cfg.work == NULL);

	/* Relative paths become absolute. */
	if (chdir(root) == 0) {
		EXPECT_INT(check("l1:./l2", "u", "w-rel", "m"), 0);
		EXPECT_STR(cfg.lowers[0], l1);
		EXPECT_STR(cfg.lowers[1], l2);
		EXPECT_STR(cfg.upper, u);
		EXPECT_STR(cfg.work, R("w-rel"));
		EXPECT(is_dir(R("w-rel")));
		EXPECT_STR(cfg.mountpoint, m);
		if (chdir("/") < 0)
			perror("chdir");
	}
}

static void test_workdir(void)
{
	const char *l1 = mk("l1"), *u = mk("u"), *m = mk("m");
	const char *w = mk("w");
	struct stat st;

	EXPECT_INT(check(l1, u, w, m), 0);
	EXPECT_STR(cfg.work, w);

	/* A missing explicit workdir is made, if its parent exists. */
	EXPECT(!exists(R("w2")));
	EXPECT_INT(check(l1, u, P("%s/", R("w2")), m), 0);
	EXPECT_STR(cfg.work, R("w2"));
	EXPECT(stat(R("w2"), &st) == 0 && S_ISDIR(st.st_mode) &&
	       (st.st_mode & 07777) == 0700);
	EXPECT_INT(check(l1, u, R("nope/w"), m), -1);
	EXPECT_STR(err, P("workdir %s does not exist", R("nope/w")));
	EXPECT(!exists(R("nope")));

	/* A workdir that is a file. */
	if (close(creat(R("wfile"), 0644)) < 0)
		perror("creat");
	EXPECT_INT(check(l1, u, R("wfile"), m), -1);
	EXPECT_STR(err, P("workdir %s is not a directory", R("wfile")));

	/* workdir= without upperdir=. */
	EXPECT_INT(check(l1, NULL, w, m), -1);
	EXPECT_STR(err, "workdir= given without upperdir=");

	/* Nested with the upper, or the upper itself. */
	EXPECT_INT(check(l1, u, u, m), -1);
	EXPECT_STR(err, P("workdir %s is the same directory as upper "
			  "directory %s",
			  u, u));
	EXPECT_INT(check(l1, u, mk("u/w"), m), -1);
	EXPECT_STR(err,
		   P("workdir %s is inside upper directory %s", R("u/w"), u));
	EXPECT_INT(check(l1, mk("w/u"), w, m), -1);
	EXPECT_STR(err,
		   P("upper directory %s is inside workdir %s", R("w/u"), w));

	/* Inside a lower, the same as one, or holding one. */
	EXPECT_INT(check(l1, u, mk("l1/w"), m), -1);
	EXPECT_STR(err,
		   P("workdir %s is inside lower directory %s", R("l1/w"), l1));
	/* ... and not made there when missing. */
	EXPECT_INT(check(l1, u, R("l1/neww"), m), -1);
	EXPECT_STR(err, P("workdir %s is inside lower directory %s",
			  R("l1/neww"), l1));
	EXPECT(!exists(R("l1/neww")));
	EXPECT_INT(check(l1, u, l1, m), -1);
	EXPECT_STR(err, P("workdir %s is the same directory as lower "
			  "directory %s",
			  l1, l1));
	EXPECT_INT(check(mk("w/low"), u, w, m), -1);
	EXPECT_STR(err,
		   P("lower directory %s is inside workdir %s", R("w/low"), w));
}

static void test_other_fs(void)
{
	const char *l1 = mk("l1"), *u = mk("u"), *m = mk("m");
	struct stat a, b;
	char *other;

	/* /dev/shm is a tmpfs on most systems; /proc always differs. */
	other = strdup("/dev/shm/umcheck.XXXXXX");
	if (stat(root, &a) == 0 && stat("/dev/shm", &b) == 0 &&
	    a.st_dev != b.st_dev && mkdtemp(other)) {
		const char *w = P("%s/w", other);

		EXPECT_INT(check(l1, u, w, m), -1);
		EXPECT_STR(err, P("workdir %s is not on the same file system "
				  "as upper directory %s",
				  w, u));
		EXPECT(!exists(w)); /* checked before it is made */
		if (mkdir(w, 0700) == 0) {
			EXPECT_INT(check(l1, u, w, m), -1);
			EXPECT_STR(err, P("workdir %s is not on the same file "
					  "system as upper directory %s",
					  w, u));
		}
		rm_tree(other);
	} else {
		EXPECT_INT(check(l1, u, "/proc", m), -1);
		EXPECT_STR(err, P("workdir /proc is not on the same file "
				  "system as upper directory %s",
				  u));
	}
	free(other);
}

static void test_missing(void)
{
	const char *l1 = mk("l1"), *u = mk("u"), *m = mk("m");

	if (close(creat(R("file"), 0644)) < 0)
		perror("creat");

	EXPECT_INT(check(R("nope"), u, NULL, m), -1);
	EXPECT_STR(err, P("lower directory %s does not exist", R("nope")));
	EXPECT_INT(check(P("%s:%s", l1, R("nope")), u, NULL, m), -1);
	EXPECT_STR(err, P("lower directory %s does not exist", R("nope")));
	EXPECT_INT(check(R("file"), u, NULL, m), -1);
	EXPECT_STR(err, P("lower directory %s is not a directory", R("file")));
	EXPECT_INT(check(R("file/x"), u, NULL, m), -1);
	EXPECT_STR(err,
		   P("lower directory %s is not a directory", R("file/x")));
	/* A dangling symlink does not exist. */
	if (symlink(R("nowhere"), R("dangling")) < 0)
		perror("symlink");
	EXPECT_INT(check(R("dangling"), u, NULL, m), -1);
	EXPECT_STR(err, P("lower directory %s does not exist", R("dangling")));

	EXPECT_INT(check(l1, R("nope"), NULL, m), -1);
	EXPECT_STR(err, P("upper directory %s does not exist", R("nope")));
	EXPECT_INT(check(l1, R("file"), NULL, m), -1);
	EXPECT_STR(err, P("upper directory %s is not a directory", R("file")));
	EXPECT_INT(check(l1, u, NULL, R("nope")), -1);
	EXPECT_STR(err, P("mountpoint %s does not exist", R("nope")));
	EXPECT_INT(check(l1, u, NULL, R("file")), -1);
	EXPECT_STR(err, P("mountpoint %s is not a directory", R("file")));
	EXPECT_INT(check(l1, "", NULL, m), -1);
	EXPECT_STR(err, "empty upper directory");

	EXPECT_INT(check(NULL, u, NULL, m), -1);
	EXPECT_STR(err, "no lower directory given");
	EXPECT_INT(check(l1, u, NULL, NULL), -1);
	EXPECT_STR(err, "no mountpoint given");

	/* A control character in a path cannot break the line. */
	EXPECT_INT(check(R("bad\nname"), u, NULL, m), -1);
	EXPECT_STR(err, P("lower directory %s does not exist", R("bad?name")));
}

static void test_nesting(void)
{
	const char *l1 = mk("l1"), *l2 = mk("l2"), *u = mk("u"), *m = mk("m");

	EXPECT_INT(check(l1, mk("l1/up"), NULL, m), -1);
	EXPECT_STR(err, P("upper directory %s is inside lower directory %s",
			  R("l1/up"), l1));
	EXPECT(!exists(R("l1/.up.unionmount-work")));
	EXPECT_INT(
		check(P("%s:%s", l2, mk("l1/a/b")), mk("l1/a/b/c/up"), NULL, m),
		-1);
	EXPECT_STR(err, P("upper directory %s is inside lower directory %s",
			  R("l1/a/b/c/up"), R("l1/a/b")));
	EXPECT_INT(check(mk("u/low"), u, NULL, m), -1);
	EXPECT_STR(err, P("lower directory %s is inside upper directory %s",
			  R("u/low"), u));

	/* Component-aware: /x/ab is not inside /x/a. */
	EXPECT_INT(check(mk("a"), mk("ab"), NULL, mk("ab2")), 0);
	EXPECT_INT(check(mk("ab"), mk("a"), NULL, mk("l1x")), 0);
	/* Lowers may nest in each other. */
	EXPECT_INT(check(P("%s:%s", l1, mk("l1/sub")), u, NULL, m), 0);
}

static void test_twice(void)
{
	const char *l1 = mk("l1"), *l2 = mk("l2"), *u = mk("u"), *m = mk("m");

	EXPECT_INT(check(P("%s:%s", l1, l1), u, NULL, m), -1);
	EXPECT_STR(err, P("lower directory %s is given twice", l1));
	EXPECT_INT(check(P("%s:%s:%s/.", l1, l2, l1), u, NULL, m), -1);
	EXPECT_STR(err, P("lower directory %s is given twice", l1));
	if (symlink(l1, R("link1")) < 0)
		perror("symlink");
	EXPECT_INT(check(P("%s:%s", R("link1"), l1), u, NULL, m), -1);
	EXPECT_STR(err, P("lower directory %s is given twice", l1));

	EXPECT_INT(check(l1, l1, NULL, m), -1);
	EXPECT_STR(err,
		   P("%s is given twice, as upper and as lower directory", l1));
	EXPECT_INT(check(P("%s:%s", l2, l1), R("link1"), NULL, m), -1);
	EXPECT_STR(err,
		   P("%s is given twice, as upper and as lower directory", l1));
}

static void test_mountpoint(void)
{
	const char *l1 = mk("l1"), *l2 = mk("l2"), *u = mk("u");
	const char *w = mk("w");

	EXPECT_INT(check(l1, u, NULL, mk("u/mnt")), -1);
	EXPECT_STR(err, P("mountpoint %s is inside upper directory %s",
			  R("u/mnt"), u));
	EXPECT_INT(check(l1, u, NULL, u), -1);
	EXPECT_STR(err, P("mountpoint %s is the upper directory itself", u));
	EXPECT_INT(check(P("%s:%s", l1, l2), u, NULL, mk("l2/mnt")), -1);
	EXPECT_STR(err, P("mountpoint %s is inside lower directory %s",
			  R("l2/mnt"), l2));
	EXPECT_INT(check(l1, NULL, NULL, mk("l1/mnt")), -1);
	EXPECT_STR(err, P("mountpoint %s is inside lower directory %s",
			  R("l1/mnt"), l1));
	EXPECT_INT(check(l1, u, w, w), -1);
	EXPECT_STR(err, P("mountpoint %s is the workdir itself", w));
	EXPECT_INT(check(l1, u, w, mk("w/mnt")), -1);
	EXPECT_STR(err, P("mountpoint %s is inside workdir %s", R("w/mnt"), w));

	/* Mounting over a lower itself is allowed: it is opened first. */
	EXPECT_INT(check(P("%s:%s", l1, l2), u, NULL, l1), 0);
	EXPECT_INT(check(P("%s:%s", l1, l2), NULL, NULL, l2), 0);
	EXPECT_INT(check(l1, NULL, NULL, l1), 0);
	/* Everything is inside "/". */
	EXPECT_INT(check("/", NULL, NULL, l1), -1);
	EXPECT_STR(err, P("mountpoint %s is inside lower directory /", l1));
	/* So is a mountpoint that holds the layers. */
	EXPECT_INT(check(l1, u, NULL, root), 0);
}

static void test_limits(void)
{
	const char *u = mk("u"), *m = mk("m");
	char *list = NULL;
	size_t len = 0;
	FILE *f;

	mk("many");
	f = open_memstream(&list, &len);
	if (!f)
		exit(2);
	for (int i = 0; i < UM_MAX_LOWERS; i++)
		fprintf(f, "%s%s", i ? ":" : "", mk(P("many/%03d", i)));
	fclose(f);
	EXPECT_INT(check(list, u, NULL, m), 0);
	EXPECT_INT(cfg.nlowers, UM_MAX_LOWERS);
	free(list);

	/* 501 can only come from a caller that skips um_layers_split(). */
	um_config_release(&cfg);
	um_config_init(&cfg);
	cfg.nlowers = UM_MAX_LOWERS + 1;
	cfg.lowers = calloc(cfg.nlowers + 1, sizeof(char *));
	for (size_t i = 0; i < cfg.nlowers; i++)
		cfg.lowers[i] = strdup(R(P("many/%03zu", i % UM_MAX_LOWERS)));
	cfg.mountpoint = strdup(m);
	EXPECT_INT(um_config_check(&cfg, err, sizeof(err)), -1);
	EXPECT_STR(err, "too many lower directories (501, at most 500)");
}

/* Write a fuse.conf with text under root; its path. */
static const char *fuse_conf(const char *name, const char *text)
{
	const char *p = R(name);
	FILE *f = fopen(p, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) < 0)
		exit(2);
	return p;
}

/* Parse -o opts into a fresh cfg and decide access for euid. */
static int access_for(const char *opts, uid_t euid, const char *conf)
{
	um_config_release(&cfg);
	um_config_init(&cfg);
	err[0] = '\0';
	if (opts && um_options_parse(&cfg, opts, err, sizeof(err)) < 0) {
		fprintf(stderr, "bad options %s: %s\n", opts, err);
		exit(2);
	}
	return um_config_access(&cfg, euid, conf, err, sizeof(err));
}

static void test_access(void)
{
	const char *none = R("no-fuse.conf");
	const char *yes = fuse_conf("yes.conf", "# comment\n"
						"mount_max = 1000\n"
						"  user_allow_other   # why\n");
	const char *no = fuse_conf("no.conf", "#user_allow_other\n"
					      "user_allow_otherwise\n");

	/* Root serves every user, as kernel overlayfs does... */
	EXPECT_INT(access_for(NULL, 0, none), 0);
	EXPECT(cfg.allow_other);
	EXPECT_INT(access_for("allow_other", 0, none), 0);
	EXPECT(cfg.allow_other);
	/* ... unless told not to, or nothing would check permissions. */
	EXPECT_INT(access_for("owner_only", 0, yes), 0);
	EXPECT(!cfg.allow_other);
	EXPECT_INT(access_for("allow_root", 0, yes), 0);
	EXPECT(!cfg.allow_other);
	EXPECT_INT(access_for("no_default_permissions", 0, yes), 0);
	EXPECT(!cfg.allow_other);

	/* Other users: FUSE's rule. */
	EXPECT_INT(access_for(NULL, 1000, yes), 0);
	EXPECT(!cfg.allow_other);
	EXPECT_INT(access_for("allow_other", 1000, yes), 0);
	EXPECT(cfg.allow_other);
	EXPECT_INT(access_for("allow_other", 1000, no), -1);
	EXPECT_STR(err, P("allow_other refused: only root may use it unless "
			  "%s has user_allow_other",
			  no));
	EXPECT_INT(access_for("allow_other", 1000, none), -1);
	EXPECT_INT(access_for("owner_only", 1000, none), 0);
	EXPECT(!cfg.allow_other);
}

int main(void)
{
	char tmpl[] = "/tmp/umcheck.XXXXXX";

	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		return 2;
	}
	root = realpath(tmpl, NULL);
	if (!root) {
		perror("realpath");
		return 2;
	}
	um_config_init(&cfg);

	test_success();
	test_workdir();
	test_other_fs();
	test_missing();
	test_nesting();
	test_twice();
	test_mountpoint();
	test_limits();
	test_access();

	um_config_release(&cfg);
	rm_tree(root);
	free(root);
	for (size_t i = 0; i < nstrs; i++)
		free(strs[i]);
	return expect_report("check");
}
