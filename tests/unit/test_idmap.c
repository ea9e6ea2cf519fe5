// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of owner mapping (src/idmap.c). */
#include <stdio.h>

#include "idmap.h"

static int failures;

#define EXPECT_EQ(a, b)                                                       \
	do {                                                                  \
		long long a_ = (a), b_ = (b);                                 \
		if (a_ != b_) {                                               \
			fprintf(stderr, "%s:%d: %s: got %lld, want %lld\n",   \
				__FILE__, __LINE__, #a, a_, b_);              \
			failures++;                                           \
		}                                                             \
	} while (0)

static void test_parse(void)
{
	struct um_idmap m;

	EXPECT_EQ(um_idmap_parse(&m, "0:1000:1"), 0);
	EXPECT_EQ(m.n, 1);
	EXPECT_EQ(um_idmap_parse(&m, "0:1000:1:1:100000:65536"), 0);
	EXPECT_EQ(m.n, 2);
	EXPECT_EQ(m.e[1].container, 1);
	EXPECT_EQ(m.e[1].host, 100000);
	EXPECT_EQ(m.e[1].len, 65536);
	EXPECT_EQ(um_idmap_parse(&m, ""), -1);
	EXPECT_EQ(um_idmap_parse(&m, "0:1000"), -1);
	EXPECT_EQ(um_idmap_parse(&m, "0:1000:0"), -1);
	EXPECT_EQ(um_idmap_parse(&m, "0:1000:1:"), -1);
	EXPECT_EQ(um_idmap_parse(&m, "0:1000:1,1:2:3"), -1);
	EXPECT_EQ(um_idmap_parse(&m, "a:1:1"), -1);
	EXPECT_EQ(um_idmap_parse(&m, "-1:1:1"), -1);
	EXPECT_EQ(um_idmap_parse(&m, "4294967295:0:2"), -1);
	EXPECT_EQ(um_idmap_parse(&m, "0:0:4294967296"), -1);
}

static void test_map(void)
{
	struct um_idmap m;
	uint32_t h;

	um_idmap_parse(&m, "0:1000:1:1:100000:65536");
	EXPECT_EQ(um_idmap_to_container(&m, 1000), 0);
	EXPECT_EQ(um_idmap_to_container(&m, 100000), 1);
	EXPECT_EQ(um_idmap_to_container(&m, 165535), 65536);
	EXPECT_EQ(um_idmap_to_container(&m, 165536), UM_OVERFLOW_ID);
	EXPECT_EQ(um_idmap_to_container(&m, 0), UM_OVERFLOW_ID);
	EXPECT_EQ(um_idmap_to_host(&m, 0, &h), 1);
	EXPECT_EQ(h, 1000);
	EXPECT_EQ(um_idmap_to_host(&m, 65536, &h), 1);
	EXPECT_EQ(h, 165535);
	EXPECT_EQ(um_idmap_to_host(&m, 65537, &h), 0);

	um_idmap_parse(&m, "0:0:1");
	m.n = 0;	/* identity */
	EXPECT_EQ(um_idmap_to_container(&m, 12345), 12345);
	EXPECT_EQ(um_idmap_to_host(&m, 777, &h), 1);
	EXPECT_EQ(h, 777);
}

int main(void)
{
	test_parse();
	test_map();
	if (failures) {
		fprintf(stderr, "%d failure(s)\n", failures);
		return 1;
	}
	printf("idmap: all tests passed\n");
	return 0;
}
