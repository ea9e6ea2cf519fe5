/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Inode numbers shown in the merged view.  Layers on one file system share
 * its inode numbers, which are already unique there; layers on different file
 * systems are told apart by putting the file system's index (fsid) in the
 * high bits, like the kernel's xino.  When a real inode number uses those
 * bits we fall back to a hash with the top bit set.
 */
#ifndef UM_INO_H
#define UM_INO_H

#include <stdint.h>

struct stat;
struct um_fs;

/* Bits needed to hold fsids 0..nfs-1 (0 when there is one file system). */
unsigned um_ino_fsid_bits(unsigned nfs);

/* The st_ino shown for real inode number ino on file system fsid. */
uint64_t um_ino_map(unsigned fsid, unsigned fsid_bits, uint64_t ino);

/*
 * The st_ino shown for the object st found in layer (dirfd/name): a
 * copied-up object keeps the number of its origin, any other one gets
 * um_ino_map() of its own.
 */
uint64_t um_ino_of(struct um_fs *fs, int layer, int dirfd, const char *name,
		   const struct stat *st);

#endif
