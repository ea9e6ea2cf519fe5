// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of whiteout name handling (src/whiteout_name.c). */
#include <stdio.h>
#include <string.h>

#include "whiteout.h"

static int failures;

#define EXPECT(cond)                                                          \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: expected %s\n", __FILE__,     \
				__LINE__, #cond);                             \
			failures++;                                           \
		}                                                             \
	} while (0)

#define EXPECT_STR(got, want)                                                 \
	do {                                                                  \
		const char *g_ = (got), *w_ = (want);                         \
		if ((g_ == NULL) != (w_ == NULL) ||                           \
		    (g_ && strcmp(g_, w_))) {                                 \
			fprintf(stderr, "%s:%d: %s: got \"%s\", want \"%s\"\n", \
				__FILE__, __LINE__, #got, g_ ? g_ : "(null)", \
				w_ ? w_ : "(null)");                          \
			failures++;                                           \
		}                                                             \
	} while (0)

static void test_oci_target(void)
{
	EXPECT_STR(um_oci_whiteout_target(".wh.foo"), "foo");
	EXPECT_STR(um_oci_whiteout_target(".wh..hidden"), ".hidden");
	EXPECT_STR(um_oci_whiteout_target(".wh..wh.x"), ".wh.x");
	EXPECT_STR(um_oci_whiteout_target(".wh."), NULL);
	EXPECT_STR(um_oci_whiteout_target(".wh"), NULL);
	EXPECT_STR(um_oci_whiteout_target("foo"), NULL);
	EXPECT_STR(um_oci_whiteout_target("x.wh.foo"), NULL);
	EXPECT_STR(um_oci_whiteout_target(".WH.foo"), NULL);
	/* The opaque marker is not a whiteout of a file named ".wh..opq". */
	EXPECT_STR(um_oci_whiteout_target(".wh..wh..opq"), NULL);
}

static void test_oci_opaque(void)
{
	EXPECT(um_is_oci_opaque(".wh..wh..opq"));
	EXPECT(!um_is_oci_opaque(".wh..wh..opqx"));
	EXPECT(!um_is_oci_opaque(".wh..opq"));
	EXPECT(!um_is_oci_opaque(""));
}

static void test_private_xattrs(void)
{
	EXPECT(um_is_private_xattr("trusted.overlay.opaque"));
	EXPECT(um_is_private_xattr("trusted.overlay.redirect"));
	EXPECT(um_is_private_xattr("user.overlay.whiteout"));
	EXPECT(um_is_private_xattr("trusted.unionmount.origin"));
	EXPECT(um_is_private_xattr("user.unionmount.origin"));
	EXPECT(um_is_private_xattr("user.containers.override_stat"));
	EXPECT(um_is_private_xattr("user.fuseoverlayfs.foo"));
	EXPECT(!um_is_private_xattr("user.foo"));
	EXPECT(!um_is_private_xattr("user.overlay"));
	EXPECT(!um_is_private_xattr("trusted.overlayx"));
	EXPECT(!um_is_private_xattr("security.selinux"));
	EXPECT(!um_is_private_xattr("system.posix_acl_access"));
}

int main(void)
{
	test_oci_target();
	test_oci_opaque();
	test_private_xattrs();
	if (failures) {
		fprintf(stderr, "%d failure(s)\n", failures);
		return 1;
	}
	printf("whiteout_name: all tests passed\n");
	return 0;
}
