// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of the on-disk marker names (src/markers.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "expect.h"
#include "markers.h"

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

static void test_marker_names(void)
{
	EXPECT_STR(um_marker_name(UM_MARK_OPAQUE, UM_NS_TRUSTED),
		   "trusted.overlay.opaque");
	EXPECT_STR(um_marker_name(UM_MARK_REDIRECT, UM_NS_USER),
		   "user.overlay.redirect");
	EXPECT_STR(um_marker_name(UM_MARK_METACOPY, UM_NS_TRUSTED),
		   "trusted.overlay.metacopy");
	EXPECT_STR(um_marker_name(UM_MARK_WHITEOUT, UM_NS_USER),
		   "user.overlay.whiteout");
	EXPECT_STR(um_marker_name(UM_MARK_ORIGIN, UM_NS_USER),
		   "user.unionmount.origin");
	EXPECT_INT(um_ns_other(UM_NS_TRUSTED), UM_NS_USER);
	EXPECT_INT(um_ns_other(UM_NS_USER), UM_NS_TRUSTED);
	EXPECT_STR(um_ns_prefix(UM_NS_USER), "user.");
	/* Every marker we write is hidden from the merged view. */
	for (int m = 0; m < UM_MARK_COUNT; m++)
		for (int ns = 0; ns < UM_NS_COUNT; ns++)
			EXPECT(um_is_private_xattr(um_marker_name(m, ns)));
}

static void test_oci_names(void)
{
	char *wh = um_oci_whiteout_name("a b");

	EXPECT_STR(wh, ".wh.a b");
	EXPECT_STR(um_oci_whiteout_target(wh), "a b");
	free(wh);
	EXPECT(um_is_oci_reserved(".wh."));
	EXPECT(um_is_oci_reserved(".wh..wh..opq"));
	EXPECT(!um_is_oci_reserved(".w"));
	EXPECT(!um_is_oci_reserved("a.wh."));
}

static void test_chardev_whiteout(void)
{
	struct stat st = {.st_mode = S_IFCHR, .st_rdev = makedev(0, 0)};

	EXPECT(um_is_chardev_whiteout(&st));
	st.st_rdev = makedev(1, 3);
	EXPECT(!um_is_chardev_whiteout(&st));
	st.st_mode = S_IFREG;
	st.st_rdev = makedev(0, 0);
	EXPECT(!um_is_chardev_whiteout(&st));
}

static void test_override_names(void)
{
	EXPECT(um_is_override_xattr(UM_OVERRIDE_CONTAINERS));
	EXPECT(um_is_override_xattr(UM_OVERRIDE_FUSEOVERLAYFS));
	EXPECT(um_is_private_xattr(UM_OVERRIDE_FUSEOVERLAYFS));
	EXPECT(!um_is_override_xattr("user.containers.override_statx"));
}

int main(void)
{
	test_oci_target();
	test_oci_opaque();
	test_private_xattrs();
	test_marker_names();
	test_oci_names();
	test_chardev_whiteout();
	test_override_names();
	return expect_report("markers");
}
