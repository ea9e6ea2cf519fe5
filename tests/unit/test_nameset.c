// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the name-hash set (src/nameset.c). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "expect.h"
#include "nameset.h"

static bool maybe(struct um_nameset *s, const char *name)
{
	return um_nameset_maybe(s, name, strlen(name));
}

static void test_add_and_grow(void)
{
	struct um_nameset *s = um_nameset_new();
	char name[32];

	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "file-%d", i);
		EXPECT(um_nameset_add(s, name, strlen(name)) == 0);
	}
	EXPECT(s->n == 5000);
	EXPECT(s->mask + 1 >= 2 * s->n);
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "file-%d", i);
		EXPECT(maybe(s, name));
	}
	/* Absent names: a 64-bit hash collision here would be a miracle. */
	EXPECT(!maybe(s, "file-5000"));
	EXPECT(!maybe(s, "file-"));
	EXPECT(!maybe(s, ""));
	EXPECT(!s->oci);
	um_nameset_free(s);
}

static void test_oci_flag(void)
{
	struct um_nameset *s = um_nameset_new();

	um_nameset_add(s, "a", 1);
	EXPECT(!s->oci);
	um_nameset_add(s, ".wh.", 4); /* not a whiteout of anything */
	EXPECT(!s->oci);
	um_nameset_add(s, ".wh.a", 5);
	EXPECT(s->oci);
	um_nameset_free(s);
}

static void test_read_directory(void)
{
	char dir[] = "/tmp/test_nameset.XXXXXX";
	char path[64];
	struct um_nameset *s;

	EXPECT(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/x", dir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	snprintf(path, sizeof(path), "%s/.wh.y", dir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	s = um_nameset_read(open(dir, O_RDONLY | O_DIRECTORY));
	EXPECT(s != NULL);
	if (s) {
		EXPECT(maybe(s, "x"));
		EXPECT(maybe(s, ".wh.y"));
		EXPECT(maybe(s, "."));
		EXPECT(!maybe(s, "y"));
		EXPECT(s->oci);
		EXPECT(s->n == 4);
	}
	um_nameset_free(s);
	unlink(path);
	snprintf(path, sizeof(path), "%s/x", dir);
	unlink(path);
	rmdir(dir);
	/* A bad fd gives no set, and no crash. */
	EXPECT(um_nameset_read(-1) == NULL);
}

int main(void)
{
	test_add_and_grow();
	test_oci_flag();
	test_read_directory();
	return expect_report("nameset");
}
