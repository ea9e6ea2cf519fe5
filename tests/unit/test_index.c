// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the hard-link index (src/index.c), on a scratch directory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "expect.h"
#include "index.h"

static char dir[] = "/var/tmp/um-test-index.XXXXXX";

static int opath(const char *name)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return open(p, O_PATH | O_NOFOLLOW | O_CLOEXEC);
}

static void test_names(void)
{
	char a[UM_INDEX_NAME_MAX], b[UM_INDEX_NAME_MAX], c[UM_INDEX_NAME_MAX];
	int fa = opath("a"), fb = opath("b"), fc = opath("c");

	EXPECT(fa >= 0 && fb >= 0 && fc >= 0);
	EXPECT_INT(um_index_name(fa, a), 0);
	EXPECT_INT(um_index_name(fb, b), 0);
	EXPECT_INT(um_index_name(fc, c), 0);
	/* Two names of one inode: one entry; another inode: another. */
	EXPECT_STR(a, b);
	EXPECT(strcmp(a, c) != 0);
	EXPECT(um_index_is_entry_name(a));
	EXPECT(um_index_is_entry_name(c));
	EXPECT(!um_index_is_entry_name("#um-1-2"));
	EXPECT(!um_index_is_entry_name("0123456789abcdef-00000001"));
	EXPECT(!um_index_is_entry_name("0123456789abcdef-00000001-0g"));
	EXPECT(!um_index_is_entry_name("0123456789ABCDEF-00000001-00"));
	EXPECT(um_index_is_entry_name("0123456789abcdef-00000001-00"));
	EXPECT(!um_index_is_entry_name("0123456789abcdef-00000001-000"));
	close(fa);
	close(fb);
	close(fc);
}

static int count_entry(int indexfd, const char *name, const struct stat *st,
		       void *arg)
{
	(void)indexfd;
	(void)name;
	EXPECT(S_ISREG(st->st_mode));
	++*(int *)arg;
	return 0;
}

static void test_find(void)
{
	char name[UM_INDEX_NAME_MAX], p[512];
	int wfd = open(dir, O_PATH | O_DIRECTORY);
	int fa = opath("a"), fc = opath("c");
	int ifd, efd, n = 0;
	struct stat st, ast;

	EXPECT_INT(um_index_open(wfd, false), -ENOENT);
	ifd = um_index_open(wfd, true);
	EXPECT(ifd >= 0);
	EXPECT_INT(um_index_find(ifd, fa, NULL), -ENOENT);
	/* An entry is a hard link to the copy: make one to "c". */
	EXPECT_INT(um_index_name(fa, name), 0);
	snprintf(p, sizeof(p), "%s/%s/%s", dir, UM_INDEX_DIR, name);
	EXPECT_INT(link("c", p), 0); /* main() made dir the cwd */
	efd = um_index_find(ifd, fa, &st);
	EXPECT(efd >= 0);
	EXPECT_INT(fstat(fc, &ast), 0);
	EXPECT_INT(st.st_ino, ast.st_ino);
	EXPECT_INT(um_index_find(ifd, fc, NULL), -ENOENT);
	/* Temporary names beside the entries are not entries. */
	snprintf(p, sizeof(p), "%s/%s/#um-1-1", dir, UM_INDEX_DIR);
	EXPECT(close(open(p, O_CREAT | O_WRONLY, 0600)) == 0);
	EXPECT_INT(um_index_foreach(ifd, count_entry, &n), 0);
	EXPECT_INT(n, 1);
	/* The reopened index (remount) finds it too. */
	close(ifd);
	ifd = um_index_open(wfd, false);
	EXPECT(ifd >= 0);
	close(efd);
	efd = um_index_find(ifd, fa, NULL);
	EXPECT(efd >= 0);
	close(efd);
	close(ifd);
	close(fa);
	close(fc);
	close(wfd);
}

static void test_nlink(void)
{
	struct stat st = {.st_nlink = 2};
	int fd = opath("c");
	struct stat cst;

	EXPECT_INT(um_index_nlink_parse("U+1", 3, &st), 3);
	EXPECT_INT(um_index_nlink_parse("U-1", 3, &st), 1);
	EXPECT_INT(um_index_nlink_parse("U+0", 3, &st), 2);
	EXPECT_INT(um_index_nlink_parse("=7", 2, &st), 7);
	/* Missing or bad: every name but the entry. */
	EXPECT_INT(um_index_nlink_parse(NULL, -ENODATA, &st), 1);
	EXPECT_INT(um_index_nlink_parse("U-2", 3, &st), 1);
	EXPECT_INT(um_index_nlink_parse("U+x", 3, &st), 1);
	EXPECT_INT(um_index_nlink_parse("L+1", 3, &st), 1);
	EXPECT_INT(um_index_nlink_parse("=0", 2, &st), 1);
	st.st_nlink = 0;
	EXPECT_INT(um_index_nlink_parse("U+1", 3, &st), 0);

	/* Written and read back, relative and absolute (user.: no root). */
	EXPECT(fd >= 0);
	EXPECT_INT(fstat(fd, &cst), 0); /* c and its entry: 2 */
	EXPECT_INT(cst.st_nlink, 2);
	EXPECT_INT(um_index_set_nlink(fd, "", UM_NS_USER, 5, &cst, false), 0);
	EXPECT_INT(um_index_nlink(fd, "", &cst), 5);
	EXPECT_INT(um_index_set_nlink(fd, "", UM_NS_USER, 4, &cst, true), 0);
	EXPECT_INT(um_index_nlink(fd, "", &cst), 4);
	close(fd);
}

int main(void)
{
	char p[128];

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	if (chdir(dir) < 0)
		return 1;
	EXPECT(close(open("a", O_CREAT | O_WRONLY, 0644)) == 0);
	EXPECT_INT(link("a", "b"), 0);
	EXPECT(close(open("c", O_CREAT | O_WRONLY, 0644)) == 0);
	test_names();
	test_find();
	test_nlink();
	snprintf(p, sizeof(p), "rm -rf '%s'", dir);
	if (system(p) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return expect_report("index");
}
