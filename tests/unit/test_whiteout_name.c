// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of whiteout name handling (src/whiteout_name.c). */
#include <stdio.h>
#include <string.h>

#include "expect.h"
#include "whiteout.h"

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
	return expect_report("whiteout_name");
}
