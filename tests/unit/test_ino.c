// SPDX-License-Identifier: GPL-2.0-or-later
/* Unit tests of inode-number mapping (src/ino.c). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "expect.h"
#include "ino.h"

static void test_fsid_bits(void)
{
	EXPECT_INT(um_ino_fsid_bits(0), 0);
	EXPECT_INT(um_ino_fsid_bits(1), 0);
	EXPECT_INT(um_ino_fsid_bits(2), 1);
	EXPECT_INT(um_ino_fsid_bits(3), 2);
	EXPECT_INT(um_ino_fsid_bits(4), 2);
	EXPECT_INT(um_ino_fsid_bits(5), 3);
	EXPECT_INT(um_ino_fsid_bits(256), 8);
	EXPECT_INT(um_ino_fsid_bits(257), 9);
}

static void test_single_fs_is_identity(void)
{
	EXPECT_INT(um_ino_map(0, 0, 12345), 12345);
	EXPECT_INT(um_ino_map(0, 0, UINT64_MAX), UINT64_MAX);
}

static void test_fsid_in_high_bits(void)
{
	/* Two file systems: fsid in bit 62, bit 63 clear. */
	EXPECT_INT(um_ino_map(0, 1, 77), 77);
	EXPECT_INT(um_ino_map(1, 1, 77), (1ULL << 62) | 77);
	/* Three: fsid in bits 61-62. */
	EXPECT_INT(um_ino_map(2, 2, 5), (2ULL << 61) | 5);
	EXPECT_INT(um_ino_map(3, 2, 5), (3ULL << 61) | 5);
}

static void test_same_ino_other_fs_differs(void)
{
	for (unsigned bits = 1; bits < 9; bits++)
		for (unsigned a = 0; a < (1u << bits) && a < 8; a++)
			for (unsigned b = a + 1; b < (1u << bits) && b < 8; b++)
				EXPECT_INT(um_ino_map(a, bits, 42) !=
						   um_ino_map(b, bits, 42),
					   1);
}

static void test_overflow_hashes_with_top_bit(void)
{
	uint64_t big = 1ULL << 62; /* needs the bit the fsid wants */
	uint64_t x = um_ino_map(1, 1, big);
	uint64_t y = um_ino_map(0, 1, big);

	EXPECT_INT(x >> 63, 1);
	EXPECT_INT(y >> 63, 1);
	EXPECT_INT(x != y, 1);
	/* Stable: the same input gives the same number every time. */
	EXPECT_INT(um_ino_map(1, 1, big), x);
	/* Never equal to a mapped (non-hashed) number, whose top bit is 0. */
	EXPECT_INT(um_ino_map(1, 1, 3) >> 63, 0);
}

int main(void)
{
	test_fsid_bits();
	test_single_fs_is_identity();
	test_fsid_in_high_bits();
	test_same_ino_other_fs_differs();
	test_overflow_hashes_with_top_bit();
	return expect_report("ino");
}
