/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A set of name hashes: the names of one lower directory, read once.
 * Lower layers never change, so "not in the set" answers a lookup miss
 * with no system call; "maybe" (hash present) is confirmed by a stat.
 */
#ifndef UM_NAMESET_H
#define UM_NAMESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct um_nameset {
	uint64_t *slots; /* open addressing; 0 marks an empty slot */
	size_t mask;	 /* number of slots - 1 (a power of two) */
	size_t n;
	bool oci; /* some name starts with ".wh." */
};

uint64_t um_name_hash(const char *name, size_t len);
struct um_nameset *um_nameset_new(void);
int um_nameset_add(struct um_nameset *s, const char *name, size_t len);
/* false: certainly absent; true: present or a hash collision. */
bool um_nameset_maybe(const struct um_nameset *s, const char *name, size_t len);
void um_nameset_free(struct um_nameset *s);

/* Read directory fd (O_RDONLY, consumed) into a new set, or NULL. */
struct um_nameset *um_nameset_read(int fd);

#endif
