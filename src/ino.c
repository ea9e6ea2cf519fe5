// SPDX-License-Identifier: GPL-2.0-or-later
#include <xxhash.h>

#include "ino.h"

unsigned um_ino_fsid_bits(unsigned nfs)
{
	unsigned bits = 0;

	while (nfs > 1 && (1u << bits) < nfs)
		bits++;
	return bits;
}

uint64_t um_ino_map(unsigned fsid, unsigned fsid_bits, uint64_t ino)
{
	uint64_t key[2];

	if (fsid_bits == 0)
		return ino;
	/* One bit above the fsid stays clear so hashed numbers never collide. */
	if ((ino >> (63 - fsid_bits)) == 0)
		return ino | ((uint64_t)fsid << (63 - fsid_bits));
	key[0] = fsid;
	key[1] = ino;
	return XXH3_64bits(key, sizeof(key)) | (1ULL << 63);
}
