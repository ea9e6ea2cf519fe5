// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the override text (src/override_fmt.c). */
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "expect.h"
#include "override.h"

static bool parse(const char *s, struct um_override *ov)
{
	memset(ov, 0xa5, sizeof(*ov));
	return um_override_parse(s, strlen(s), ov);
}

static void test_parse_three_fields(void)
{
	struct um_override ov;

	EXPECT(parse("0:0:0755", &ov));
	EXPECT_INT(ov.uid, 0);
	EXPECT_INT(ov.gid, 0);
	EXPECT_INT(ov.mode, 0755);
	EXPECT(parse("1000:100:04711", &ov));
	EXPECT_INT(ov.uid, 1000);
	EXPECT_INT(ov.gid, 100);
	EXPECT_INT(ov.mode, 04711);
	/* Without the leading 0 the mode is still octal. */
	EXPECT(parse("5:6:644", &ov));
	EXPECT_INT(ov.mode, 0644);
	/* The type in the mode's high bits, as some writers keep it. */
	EXPECT(parse("0:0:020600", &ov));
	EXPECT_INT(ov.mode, S_IFCHR | 0600);
	/* A trailing NUL, as C writers leave it. */
	EXPECT(um_override_parse("7:8:0600", 9, &ov));
	EXPECT_INT(ov.uid, 7);
	EXPECT_INT(ov.mode, 0600);
}

static void test_parse_types(void)
{
	struct um_override ov;

	EXPECT(parse("0:0:0644:file", &ov));
	EXPECT_INT(ov.mode, S_IFREG | 0644);
	EXPECT(parse("0:0:0755:dir", &ov));
	EXPECT_INT(ov.mode, S_IFDIR | 0755);
	EXPECT(parse("0:0:0777:symlink", &ov));
	EXPECT_INT(ov.mode, S_IFLNK | 0777);
	EXPECT(parse("0:0:0600:pipe", &ov));
	EXPECT_INT(ov.mode, S_IFIFO | 0600);
	EXPECT(parse("0:0:0600:socket", &ov));
	EXPECT_INT(ov.mode, S_IFSOCK | 0600);
	EXPECT(parse("0:5:0666:char-1-3", &ov));
	EXPECT_INT(ov.gid, 5);
	EXPECT_INT(ov.mode, S_IFCHR | 0666);
	EXPECT_INT(major(ov.rdev), 1);
	EXPECT_INT(minor(ov.rdev), 3);
	EXPECT(parse("0:6:0660:block-259-65536", &ov));
	EXPECT_INT(ov.mode, S_IFBLK | 0660);
	EXPECT_INT(major(ov.rdev), 259);
	EXPECT_INT(minor(ov.rdev), 65536);
	/* A type we do not know keeps the real one, owner and mode apply. */
	EXPECT(parse("3:4:0640:door", &ov));
	EXPECT_INT(ov.uid, 3);
	EXPECT_INT(ov.mode, 0640);
	EXPECT(parse("3:4:0640:char-1", &ov));
	EXPECT_INT(ov.mode, 0640);
}

static void test_parse_rejects(void)
{
	struct um_override ov;

	EXPECT(!parse("", &ov));
	EXPECT(!parse("0:0", &ov));
	EXPECT(!parse("0:0:", &ov));
	EXPECT(!parse("a:0:0644", &ov));
	EXPECT(!parse("-1:0:0644", &ov));
	EXPECT(!parse("0:0:0648", &ov));
	EXPECT(!parse("0:0:0644x", &ov));
	EXPECT(!parse("4294967296:0:0644", &ov));
	EXPECT(!parse("0:0:0377777", &ov));
	EXPECT(!parse(" 0:0:0644", &ov));
}

static void test_format_round_trip(void)
{
	static const struct um_override cases[] = {
		{0, 0, S_IFREG | 0644, 0},
		{1000, 1000, S_IFDIR | 01777, 0},
		{4294967294U, 4294967294U, S_IFLNK | 0777, 0},
		{0, 0, S_IFIFO | 0600, 0},
		{0, 0, S_IFSOCK | 0755, 0},
		{0, 5, S_IFCHR | 0666, 0},
		{0, 6, S_IFBLK | 0660, 0},
		{9, 9, 04755, 0},
	};
	char buf[UM_OVERRIDE_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct um_override in = cases[i], out;
		size_t n;
		if (S_ISCHR(in.mode) || S_ISBLK(in.mode))
			in.rdev = makedev(4095, 1048575);
		n = um_override_format(&in, buf);
		EXPECT_INT(n, strlen(buf));
		EXPECT(um_override_parse(buf, n, &out));
		EXPECT_INT(out.uid, in.uid);
		EXPECT_INT(out.gid, in.gid);
		EXPECT_INT(out.mode, in.mode);
		if (S_ISCHR(in.mode) || S_ISBLK(in.mode))
			EXPECT_INT(out.rdev, in.rdev);
	}
	um_override_format(
		&(struct um_override){0, 5, S_IFCHR | 0666, makedev(1, 3)},
		buf);
	EXPECT_STR(buf, "0:5:0666:char-1-3");
	um_override_format(&(struct um_override){1, 2, S_IFREG | 0644, 0}, buf);
	EXPECT_STR(buf, "1:2:0644:file");
	um_override_format(&(struct um_override){1, 2, 0600, 0}, buf);
	EXPECT_STR(buf, "1:2:0600");
}

int main(void)
{
	test_parse_three_fields();
	test_parse_types();
	test_parse_rejects();
	test_format_round_trip();
	return expect_report("override");
}
