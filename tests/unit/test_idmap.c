// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of owner mapping (src/idmap.c). */
#include <stdio.h>

#include "expect.h"
#include "idmap.h"

static void test_parse(void)
{
	struct um_idmap m;

	EXPECT_INT(um_idmap_parse(&m, "0:1000:1"), 0);
	EXPECT_INT(m.n, 1);
	EXPECT_INT(um_idmap_parse(&m, "0:1000:1:1:100000:65536"), 0);
	EXPECT_INT(m.n, 2);
	EXPECT_INT(m.e[1].container, 1);
	EXPECT_INT(m.e[1].host, 100000);
	EXPECT_INT(m.e[1].len, 65536);
	EXPECT_INT(um_idmap_parse(&m, ""), -1);
	EXPECT_INT(um_idmap_parse(&m, "0:1000"), -1);
	EXPECT_INT(um_idmap_parse(&m, "0:1000:0"), -1);
	EXPECT_INT(um_idmap_parse(&m, "0:1000:1:"), -1);
	EXPECT_INT(um_idmap_parse(&m, "0:1000:1,1:2:3"), -1);
	EXPECT_INT(um_idmap_parse(&m, "a:1:1"), -1);
	EXPECT_INT(um_idmap_parse(&m, "-1:1:1"), -1);
	EXPECT_INT(um_idmap_parse(&m, "4294967295:0:2"), -1);
	EXPECT_INT(um_idmap_parse(&m, "0:0:4294967296"), -1);
}

static void test_map(void)
{
	struct um_idmap m;
	uint32_t h;

	um_idmap_parse(&m, "0:1000:1:1:100000:65536");
	EXPECT_INT(um_idmap_to_container(&m, 1000), 0);
	EXPECT_INT(um_idmap_to_container(&m, 100000), 1);
	EXPECT_INT(um_idmap_to_container(&m, 165535), 65536);
	EXPECT_INT(um_idmap_to_container(&m, 165536), UM_OVERFLOW_ID);
	EXPECT_INT(um_idmap_to_container(&m, 0), UM_OVERFLOW_ID);
	EXPECT_INT(um_idmap_to_host(&m, 0, &h), 1);
	EXPECT_INT(h, 1000);
	EXPECT_INT(um_idmap_to_host(&m, 65536, &h), 1);
	EXPECT_INT(h, 165535);
	EXPECT_INT(um_idmap_to_host(&m, 65537, &h), 0);

	um_idmap_parse(&m, "0:0:1");
	m.n = 0; /* identity */
	EXPECT_INT(um_idmap_to_container(&m, 12345), 12345);
	EXPECT_INT(um_idmap_to_host(&m, 777, &h), 1);
	EXPECT_INT(h, 777);
}

int main(void)
{
	test_parse();
	test_map();
	return expect_report("idmap");
}
