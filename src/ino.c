// SPDX-License-Identifier: GPL-2.0-or-later
#include <sys/stat.h>
#include <xxhash.h>

#include "ino.h"
#include "markers.h"
#include "unionmount.h"

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
	/* One bit above the fsid stays clear so hashed numbers never collide.
	 */
	if ((ino >> (63 - fsid_bits)) == 0)
		return ino | ((uint64_t)fsid << (63 - fsid_bits));
	key[0] = fsid;
	key[1] = ino;
	return XXH3_64bits(key, sizeof(key)) | (1ULL << 63);
}

uint64_t um_ino_of(struct um_fs *fs, int layer, int dirfd, const char *name,
		   const struct stat *st)
{
	struct um_layer *l = &fs->layers[layer];
	uint64_t ino;

	/* A copied-up object keeps the number it had below. */
	if (l->upper &&
	    um_marker_get(dirfd, name, UM_MARK_ORIGIN, UM_NS_TRUSTED, &ino,
			  sizeof(ino)) == sizeof(ino))
		return ino;
	return um_ino_map(l->fsid, fs->fsid_bits, st->st_ino);
}
